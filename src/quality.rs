//! Data quality: reject counts by reason, deterministic samples, missing values, duplicates.
//!
//! A [`QualityAcc`] is mergeable like the metric accumulators: counts add up, and the samples kept
//! are the 20 smallest by (file, line), so the report is the same whatever the thread count.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

/// How many samples a report keeps per source and kind.
pub const MAX_SAMPLES: usize = 20;

/// Longest sample detail kept, in bytes (a 50 MB field must not end up in the report).
pub const MAX_DETAIL: usize = 300;

/// Cuts a detail to [`MAX_DETAIL`] bytes (on a character boundary), saying how long it was.
pub fn clip_detail(mut detail: String) -> String {
    if detail.len() <= MAX_DETAIL {
        return detail;
    }
    let total = detail.len();
    let mut cut = MAX_DETAIL;
    while !detail.is_char_boundary(cut) {
        cut -= 1;
    }
    detail.truncate(cut);
    detail.push_str(&format!("... ({total} bytes in all)"));
    detail
}

/// Why a row (or a whole file) was not used, or what was wrong with a row that was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    // Rejections: the row is not used.
    UnparseableDate,
    DateOutOfRange,
    BadNumber,
    ValueOutOfRange,
    WrongColumnCount,
    MissingKey,
    MissingColumn,
    BadJson,
    NotARecord,
    IngestedNonJson,
    InvalidUtf8,
    EmptyFile,
    ReadError,
    /// Values that contradict each other (e.g. tempmin > tempmax, end before start).
    Inconsistent,
    // Warnings: the row is used, one of its fields is not.
    BadGeometry,
    BadPoint,
    UnknownState,
    InvalidUtf8Text,
    /// A value was replaced by a consistent one (e.g. a mean outside [min, max]).
    Corrected,
    /// A column of a columnar file (Open-Meteo) is shorter than its `time` array.
    ShortArray,
}

impl Reason {
    pub fn is_reject(self) -> bool {
        !matches!(
            self,
            Reason::BadGeometry
                | Reason::BadPoint
                | Reason::UnknownState
                | Reason::InvalidUtf8Text
                | Reason::Corrected
                | Reason::ShortArray
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UnparseableDate => "unparseable_date",
            Reason::DateOutOfRange => "date_out_of_range",
            Reason::BadNumber => "bad_number",
            Reason::ValueOutOfRange => "value_out_of_range",
            Reason::WrongColumnCount => "wrong_column_count",
            Reason::MissingKey => "missing_key",
            Reason::MissingColumn => "missing_column",
            Reason::BadJson => "bad_json",
            Reason::NotARecord => "not_a_record",
            Reason::IngestedNonJson => "ingested_non_json",
            Reason::InvalidUtf8 => "invalid_utf8",
            Reason::EmptyFile => "empty_file",
            Reason::ReadError => "read_error",
            Reason::Inconsistent => "inconsistent",
            Reason::BadGeometry => "bad_geometry",
            Reason::BadPoint => "bad_point",
            Reason::UnknownState => "unknown_state",
            Reason::InvalidUtf8Text => "invalid_utf8_text",
            Reason::Corrected => "corrected",
            Reason::ShortArray => "short_array",
        }
    }
}

/// One sampled problem: `file:line: reason: detail`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sample {
    pub file: String,
    pub line: u64,
    pub reason: Reason,
    pub detail: String,
}

impl Sample {
    pub fn render(&self) -> String {
        format!(
            "{}:{}: {}: {}",
            self.file,
            self.line,
            self.reason.as_str(),
            self.detail
        )
    }
}

fn keep_smallest(v: &mut Vec<Sample>) {
    v.sort();
    v.dedup();
    v.truncate(MAX_SAMPLES);
}

/// Quality counters of one source for one date (or for rows that have no usable date).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceQuality {
    pub files: BTreeSet<String>,
    /// Files that could not be used at all (unreadable, empty, missing columns...).
    pub files_failed: BTreeSet<String>,
    pub rows_read: u64,
    pub rows_rejected: u64,
    pub rejects: BTreeMap<Reason, u64>,
    pub warnings: BTreeMap<Reason, u64>,
    pub samples: Vec<Sample>,
    pub warning_samples: Vec<Sample>,
    /// Missing critical values (empty field) among used rows, by output field name.
    pub missing: BTreeMap<&'static str, u64>,
    /// Distribution of a categorical column worth watching (e.g. `Etat arc`).
    pub categories: BTreeMap<String, u64>,
    /// Every file with a problem (rejection, warning or failure), with its reasons: the samples
    /// show only the first [`MAX_SAMPLES`], this names them all.
    pub file_problems: BTreeMap<String, BTreeMap<Reason, u64>>,
}

impl SourceQuality {
    pub fn merge(&mut self, o: SourceQuality) {
        self.files.extend(o.files);
        self.files_failed.extend(o.files_failed);
        self.rows_read += o.rows_read;
        self.rows_rejected += o.rows_rejected;
        for (k, v) in o.rejects {
            *self.rejects.entry(k).or_default() += v;
        }
        for (k, v) in o.warnings {
            *self.warnings.entry(k).or_default() += v;
        }
        self.samples.extend(o.samples);
        keep_smallest(&mut self.samples);
        self.warning_samples.extend(o.warning_samples);
        keep_smallest(&mut self.warning_samples);
        for (k, v) in o.missing {
            *self.missing.entry(k).or_default() += v;
        }
        for (k, v) in o.categories {
            *self.categories.entry(k).or_default() += v;
        }
        for (f, reasons) in o.file_problems {
            let e = self.file_problems.entry(f).or_default();
            for (r, n) in reasons {
                *e.entry(r).or_default() += n;
            }
        }
    }

    fn note_problem(&mut self, file: &str, reason: Reason, n: u64) {
        let reasons = match self.file_problems.get_mut(file) {
            Some(r) => r,
            None => self.file_problems.entry(file.to_string()).or_default(),
        };
        *reasons.entry(reason).or_default() += n;
    }

    fn push_sample(list: &mut Vec<Sample>, s: Sample) {
        list.push(s);
        if list.len() >= 4 * MAX_SAMPLES {
            keep_smallest(list);
        }
    }
}

/// Key of a quality cell: the source name and the Paris day (None: no usable date).
pub type QualityKey = (&'static str, Option<NaiveDate>);

/// Quality counters of a whole run, per source and date. Mergeable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualityAcc {
    pub cells: BTreeMap<QualityKey, SourceQuality>,
    /// Rows read whose day is outside the run's selection, per source (counted nowhere else).
    pub outside: BTreeMap<&'static str, u64>,
    /// Sources with records of days outside the selection: counted in `outside`, or only
    /// joined to the selected days' (Vélib' station information).
    pub elsewhere: BTreeSet<&'static str>,
}

/// A row just counted by [`QualityAcc::row`].
pub struct ReadRow<'q> {
    q: &'q mut QualityAcc,
    source: &'static str,
    day: Option<NaiveDate>,
    file: &'q str,
}

impl ReadRow<'_> {
    /// What was wrong with the row (see [`QualityAcc::problem`]).
    pub fn problem(self, line: u64, reason: Reason, detail: String) {
        self.q
            .problem(self.source, self.day, self.file, line, reason, detail);
    }
}

impl QualityAcc {
    /// Rewrites the line numbers of the samples of `file` (an order-keeping map, so the samples
    /// kept stay the smallest).
    pub fn map_lines(&mut self, file: &str, line: impl Fn(u64) -> u64) {
        for c in self.cells.values_mut() {
            for s in c.samples.iter_mut().chain(c.warning_samples.iter_mut()) {
                if s.file == file {
                    s.line = line(s.line);
                }
            }
        }
    }

    pub fn cell(&mut self, source: &'static str, day: Option<NaiveDate>) -> &mut SourceQuality {
        self.cells.entry((source, day)).or_default()
    }

    /// A row was read (whatever becomes of it); what was wrong with it, if anything, can follow
    /// with [`ReadRow::problem`].
    pub fn row<'q>(
        &'q mut self,
        source: &'static str,
        day: Option<NaiveDate>,
        file: &'q str,
    ) -> ReadRow<'q> {
        let c = self.cell(source, day);
        c.rows_read += 1;
        if !c.files.contains(file) {
            c.files.insert(file.to_string());
        }
        ReadRow {
            q: self,
            source,
            day,
            file,
        }
    }

    /// A problem with a row: a rejection (the row is counted as rejected) or a warning.
    pub fn problem(
        &mut self,
        source: &'static str,
        day: Option<NaiveDate>,
        file: &str,
        line: u64,
        reason: Reason,
        detail: String,
    ) {
        let c = self.cell(source, day);
        c.note_problem(file, reason, 1);
        let sample = Sample {
            file: file.to_string(),
            line,
            reason,
            detail: clip_detail(detail),
        };
        if reason.is_reject() {
            c.rows_rejected += 1;
            *c.rejects.entry(reason).or_default() += 1;
            SourceQuality::push_sample(&mut c.samples, sample);
        } else {
            *c.warnings.entry(reason).or_default() += 1;
            SourceQuality::push_sample(&mut c.warning_samples, sample);
        }
    }

    /// A whole file could not be used; `rows` data rows in it are counted as rejected.
    pub fn file_failed(
        &mut self,
        source: &'static str,
        file: &str,
        line: u64,
        reason: Reason,
        detail: String,
        rows: u64,
    ) {
        let c = self.cell(source, None);
        c.files.insert(file.to_string());
        c.files_failed.insert(file.to_string());
        c.rows_read += rows;
        c.rows_rejected += rows;
        *c.rejects.entry(reason).or_default() += rows.max(1);
        c.note_problem(file, reason, rows.max(1));
        SourceQuality::push_sample(
            &mut c.samples,
            Sample {
                file: file.to_string(),
                line,
                reason,
                detail: clip_detail(detail),
            },
        );
    }

    /// Makes sure a file that was read appears in the report, even with no row at all (it is
    /// then listed under the source's undated cell).
    /// Lists `file` (this acc holds its counters alone) in the undated cell of `source` when
    /// none of its rows has a day, in the selection or outside it.
    pub fn note_file(&mut self, source: &'static str, file: &str) {
        let listed = self
            .cells
            .iter()
            .any(|((s, _), c)| *s == source && c.files.contains(file));
        if !listed && !self.elsewhere.contains(source) {
            self.cell(source, None).files.insert(file.to_string());
        }
    }

    pub fn missing(&mut self, source: &'static str, day: Option<NaiveDate>, field: &'static str) {
        *self.cell(source, day).missing.entry(field).or_default() += 1;
    }

    pub fn category(&mut self, source: &'static str, day: Option<NaiveDate>, value: &str) {
        let c = self.cell(source, day);
        match c.categories.get_mut(value) {
            Some(n) => *n += 1,
            None => {
                c.categories.insert(value.to_string(), 1);
            }
        }
    }

    pub fn merge(&mut self, o: QualityAcc) {
        for (k, v) in o.cells {
            self.cells.entry(k).or_default().merge(v);
        }
        for (source, n) in o.outside {
            self.outside(source, n);
        }
        self.elsewhere.extend(o.elsewhere);
    }

    /// A record of `source` of a day outside the selection was read to be joined to the
    /// selected days' (not a row of its own: not counted).
    pub fn joined_from_elsewhere(&mut self, source: &'static str) {
        self.elsewhere.insert(source);
    }

    /// `n` rows of `source` whose day is not selected (`--date`, `--from`/`--to`).
    pub fn outside(&mut self, source: &'static str, n: u64) {
        if n > 0 {
            *self.outside.entry(source).or_default() += n;
            self.elsewhere.insert(source);
        }
    }

    /// Drops the cells of the days `keep` refuses (days read only for comparisons: the runs
    /// that write them report them); their rows count as outside the selection.
    pub fn keep_days(&mut self, keep: impl Fn(NaiveDate) -> bool) {
        let dropped: Vec<QualityKey> = self
            .cells
            .keys()
            .filter(|(_, d)| d.is_some_and(|d| !keep(d)))
            .copied()
            .collect();
        for k in dropped {
            if let Some(c) = self.cells.remove(&k) {
                self.outside(k.0, c.rows_read);
            }
        }
    }

    pub fn finish(mut self) -> QualityAcc {
        for c in self.cells.values_mut() {
            keep_smallest(&mut c.samples);
            keep_smallest(&mut c.warning_samples);
        }
        self
    }

    /// Any rejected row or failed file anywhere.
    pub fn has_rejects(&self) -> bool {
        self.cells
            .values()
            .any(|c| c.rows_rejected > 0 || !c.files_failed.is_empty())
    }
}

/// The JSON form of one source's quality for one date.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceQualityReport {
    pub files_read: Vec<String>,
    pub files_failed: Vec<String>,
    pub rows_read: u64,
    pub rows_used: u64,
    pub rows_rejected: u64,
    pub duplicates: u64,
    pub duplicates_conflicting: u64,
    pub error_rate: f64,
    pub rejects_by_reason: BTreeMap<&'static str, u64>,
    pub samples: Vec<String>,
    pub warnings_by_reason: BTreeMap<&'static str, u64>,
    pub warning_samples: Vec<String>,
    pub missing_values: BTreeMap<&'static str, u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub categories: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicate_samples: Vec<String>,
    /// Every file with a problem: file -> reason -> rows (1 for a failed file without rows).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub problems_by_file: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

impl SourceQualityReport {
    /// `duplicates`: rows read that repeat an (arc, timestamp) already counted.
    pub fn build(
        q: &SourceQuality,
        duplicates: u64,
        duplicates_conflicting: u64,
        duplicate_samples: Vec<String>,
    ) -> SourceQualityReport {
        let rows_used = q.rows_read.saturating_sub(q.rows_rejected + duplicates);
        let error_rate = if q.rows_read == 0 {
            if q.files_failed.is_empty() {
                0.0
            } else {
                1.0
            }
        } else {
            q.rows_rejected as f64 / q.rows_read as f64
        };
        SourceQualityReport {
            files_read: q.files.iter().cloned().collect(),
            files_failed: q.files_failed.iter().cloned().collect(),
            rows_read: q.rows_read,
            rows_used,
            rows_rejected: q.rows_rejected,
            duplicates,
            duplicates_conflicting,
            error_rate,
            rejects_by_reason: q.rejects.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
            samples: q.samples.iter().map(Sample::render).collect(),
            warnings_by_reason: q.warnings.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
            warning_samples: q.warning_samples.iter().map(Sample::render).collect(),
            missing_values: q.missing.clone(),
            categories: q.categories.clone(),
            duplicate_samples,
            problems_by_file: q
                .file_problems
                .iter()
                .map(|(f, r)| (f.clone(), r.iter().map(|(k, v)| (k.as_str(), *v)).collect()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_the_smallest_samples_whatever_the_order() {
        let mut a = QualityAcc::default();
        let mut b = QualityAcc::default();
        for line in (0..50).rev() {
            let acc = if line % 2 == 0 { &mut a } else { &mut b };
            acc.row("comptages", None, "f.csv");
            acc.problem(
                "comptages",
                None,
                "f.csv",
                line,
                Reason::BadNumber,
                "x".into(),
            );
        }
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b;
        ba.merge(a);
        let (ab, ba) = (ab.finish(), ba.finish());
        assert_eq!(ab, ba);
        let c = &ab.cells[&("comptages", None)];
        assert_eq!(c.rows_read, 50);
        assert_eq!(c.rows_rejected, 50);
        assert_eq!(c.samples.len(), MAX_SAMPLES);
        assert_eq!(c.samples[0].line, 0);
        assert_eq!(c.samples[19].line, 19);
        assert_eq!(c.samples[3].render(), "f.csv:3: bad_number: x");
    }

    #[test]
    fn warnings_do_not_reject() {
        let mut q = QualityAcc::default();
        q.row("comptages", None, "f.csv");
        q.problem(
            "comptages",
            None,
            "f.csv",
            2,
            Reason::BadGeometry,
            "y".into(),
        );
        assert!(!q.has_rejects());
        let r = SourceQualityReport::build(&q.cells[&("comptages", None)], 0, 0, vec![]);
        assert_eq!(r.rows_used, 1);
        assert_eq!(r.error_rate, 0.0);
        assert_eq!(r.warnings_by_reason["bad_geometry"], 1);
    }
}
