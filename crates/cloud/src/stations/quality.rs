//! The stations quality report: what was read, what was refused and why (with samples naming
//! the file and the record), missing critical values, duplicates, how every date was obtained,
//! and the error rate.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Document, CRITICAL};

/// At most this many samples per list.
pub const SAMPLES: usize = 20;
/// At most this many distinct warnings listed.
pub const WARNINGS: usize = 100;

/// Counts of one source (`infoclimat`, `weather_underground`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SourceCounts {
    pub records_read: u64,
    /// Records refused whole (no usable time, no station...).
    pub records_rejected: u64,
    /// Values that could not be read (the record is kept, the value is null).
    pub values_unparseable: u64,
    /// Records refused or with at least one unparseable value.
    pub records_with_problems: u64,
}

/// How the dates of one input stream (one station of one file) were obtained.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DateReport {
    pub input: String,
    pub station_id: String,
    /// `sheet names (DDMMYY)`, `date column`, `reconstructed`...
    pub method: String,
    /// The anchor of a reconstruction and where it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    pub first_date: Option<String>,
    pub last_date: Option<String>,
    pub days: usize,
    /// Times going back past midnight (each one a new day).
    pub day_changes: u64,
    /// Blank (all-null) records: sheet separators in a dateless export.
    pub blank_records: u64,
    /// Blank records followed by a later time (a sheet that starts later than the previous
    /// one ended, or a blank row inside a sheet): the day is kept.
    pub blank_without_day_change: u64,
    /// Rows whose given date (sheet name, date column) was compared with the reconstruction.
    pub cross_checked: u64,
    pub cross_check_mismatches: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What one input file gave.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct InputReport {
    pub file: String,
    pub kind: String,
    pub records_read: u64,
    pub documents: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything noted while reading; turned into the report once documents are deduplicated.
#[derive(Debug, Default)]
pub struct Collector {
    pub sources: BTreeMap<&'static str, SourceCounts>,
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub rejected_samples: Vec<String>,
    pub unparseable_by_field: BTreeMap<String, u64>,
    pub unparseable_samples: Vec<String>,
    pub warnings: Vec<String>,
    pub warnings_not_listed: u64,
    pub dates: Vec<DateReport>,
    pub inputs: Vec<InputReport>,
    /// Inputs that could not be read at all.
    pub failed_inputs: u64,
    current_problem: bool,
}

impl Collector {
    /// Starts a record of `source`: counted as read.
    pub fn begin(&mut self, source: &'static str) {
        self.sources.entry(source).or_default().records_read += 1;
        self.current_problem = false;
    }

    /// Ends the record begun last.
    pub fn end(&mut self, source: &'static str) {
        if self.current_problem {
            self.sources
                .entry(source)
                .or_default()
                .records_with_problems += 1;
        }
        self.current_problem = false;
    }

    /// The record is refused whole. `loc` names the file and the record.
    pub fn reject(&mut self, source: &'static str, loc: &str, reason: &str, detail: &str) {
        self.sources.entry(source).or_default().records_rejected += 1;
        *self
            .rejected_by_reason
            .entry(reason.to_string())
            .or_default() += 1;
        if self.rejected_samples.len() < SAMPLES {
            self.rejected_samples
                .push(format!("{loc}: {reason}: {detail}"));
        }
        self.current_problem = true;
    }

    /// One value could not be read; the record is kept with that value null.
    pub fn unparseable(
        &mut self,
        source: &'static str,
        loc: &str,
        field: &str,
        value: &str,
        why: &str,
    ) {
        self.sources.entry(source).or_default().values_unparseable += 1;
        *self
            .unparseable_by_field
            .entry(field.to_string())
            .or_default() += 1;
        if self.unparseable_samples.len() < SAMPLES {
            self.unparseable_samples
                .push(format!("{loc}: {field}: {value:?}: {why}"));
        }
        self.current_problem = true;
    }

    /// A distinct warning (at most [`WARNINGS`] are listed; the others are counted).
    pub fn warn(&mut self, msg: String) {
        if self.warnings.contains(&msg) {
            return;
        }
        if self.warnings.len() < WARNINGS {
            self.warnings.push(msg);
        } else {
            self.warnings_not_listed += 1;
        }
    }

    /// Nothing refused, no unparseable value, no unreadable input, no date disagreement.
    pub fn is_clean(&self) -> bool {
        self.failed_inputs == 0
            && self
                .sources
                .values()
                .all(|s| s.records_rejected == 0 && s.values_unparseable == 0)
            && self.dates.iter().all(|d| d.cross_check_mismatches == 0)
    }
}

/// One station's figures in the report.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StationFigures {
    pub source: String,
    pub name: Option<String>,
    pub documents: u64,
    pub first: Option<String>,
    pub last: Option<String>,
    /// Documents without each critical value (absent or null).
    pub missing: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Duplicates {
    /// Records whose (station_id, timestamp) was already seen, with the same content.
    pub identical: u64,
    /// Same key, different content: the first one read is kept.
    pub conflicting: u64,
    pub samples: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Totals {
    pub records_read: u64,
    pub documents: u64,
    pub records_rejected: u64,
    pub values_unparseable: u64,
    pub duplicates: u64,
    pub records_with_problems: u64,
    /// 100 × records with problems (refused, unparseable value, conflicting duplicate) / read.
    pub error_rate_pct: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QualityReport {
    pub report_id: &'static str,
    pub generated_at: String,
    pub totals: Totals,
    /// Documents per source and station.
    pub per_source: BTreeMap<String, BTreeMap<String, u64>>,
    pub sources: BTreeMap<&'static str, SourceCounts>,
    pub per_station: BTreeMap<String, StationFigures>,
    /// Documents without temperature, humidity, pressure (absent or null), all stations.
    pub missing_critical: BTreeMap<String, u64>,
    pub duplicates: Duplicates,
    pub rejected: Rejected,
    pub unparseable: Unparseable,
    pub dates: Vec<DateReport>,
    pub inputs: Vec<InputReport>,
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub warnings_not_listed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Rejected {
    pub count: u64,
    pub by_reason: BTreeMap<String, u64>,
    pub samples: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Unparseable {
    pub count: u64,
    pub by_field: BTreeMap<String, u64>,
    pub samples: Vec<String>,
}

/// Rounds a percentage to 0.01 (half away from zero) from exact integers.
fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    let num = u128::from(part) * 10_000;
    let den = u128::from(whole);
    let hundredths = (2 * num + den) / (2 * den);
    hundredths as f64 / 100.0
}

/// The report over the final (deduplicated, sorted) documents.
pub fn build(
    c: Collector,
    docs: &[Document],
    dups: Duplicates,
    generated_at: String,
) -> QualityReport {
    let mut per_source: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut per_station: BTreeMap<String, StationFigures> = BTreeMap::new();
    let mut missing_critical: BTreeMap<String, u64> =
        CRITICAL.iter().map(|f| (f.to_string(), 0)).collect();
    for d in docs {
        let id = &d.station.station_id;
        *per_source
            .entry(d.source.as_str().to_string())
            .or_default()
            .entry(id.clone())
            .or_default() += 1;
        let s = per_station
            .entry(id.clone())
            .or_insert_with(|| StationFigures {
                source: d.source.as_str().to_string(),
                name: d.station.name.clone(),
                missing: CRITICAL.iter().map(|f| (f.to_string(), 0)).collect(),
                ..Default::default()
            });
        s.documents += 1;
        let ts = d.timestamp_text();
        if s.first.is_none() {
            s.first = Some(ts.clone());
        }
        s.last = Some(ts);
        for f in CRITICAL {
            if d.value(f).is_none() {
                *s.missing.entry(f.to_string()).or_default() += 1;
                *missing_critical.entry(f.to_string()).or_default() += 1;
            }
        }
    }
    let read: u64 = c.sources.values().map(|s| s.records_read).sum();
    let rejected: u64 = c.sources.values().map(|s| s.records_rejected).sum();
    let unparseable: u64 = c.sources.values().map(|s| s.values_unparseable).sum();
    let problems: u64 = c
        .sources
        .values()
        .map(|s| s.records_with_problems)
        .sum::<u64>()
        + dups.conflicting;
    QualityReport {
        report_id: "quality_report_stations",
        generated_at,
        totals: Totals {
            records_read: read,
            documents: docs.len() as u64,
            records_rejected: rejected,
            values_unparseable: unparseable,
            duplicates: dups.identical + dups.conflicting,
            records_with_problems: problems,
            error_rate_pct: pct(problems, read),
        },
        per_source,
        sources: c.sources,
        per_station,
        missing_critical,
        duplicates: dups,
        rejected: Rejected {
            count: rejected,
            by_reason: c.rejected_by_reason,
            samples: c.rejected_samples,
        },
        unparseable: Unparseable {
            count: unparseable,
            by_field: c.unparseable_by_field,
            samples: c.unparseable_samples,
        },
        dates: c.dates,
        inputs: c.inputs,
        warnings: c.warnings,
        warnings_not_listed: c.warnings_not_listed,
    }
}

impl QualityReport {
    /// A short table for the terminal (stderr).
    pub fn table(&self) -> String {
        let t = &self.totals;
        let mut s = format!(
            "stations: {} records read, {} documents, {} rejected, {} unparseable values, \
             {} duplicates, error rate {}%\n",
            t.records_read,
            t.documents,
            t.records_rejected,
            t.values_unparseable,
            t.duplicates,
            t.error_rate_pct
        );
        s.push_str(&format!(
            "  {:<22} {:<12} {:>9} {:>8} {:>8} {:>8}\n",
            "source", "station", "documents", "no temp", "no hum", "no pres"
        ));
        for (id, f) in &self.per_station {
            let m = |k: &str| f.missing.get(k).copied().unwrap_or(0);
            s.push_str(&format!(
                "  {:<22} {:<12} {:>9} {:>8} {:>8} {:>8}\n",
                f.source,
                cityflow::shown::name(id),
                f.documents,
                m("temperature_c"),
                m("humidity_pct"),
                m("pressure_hpa")
            ));
        }
        for d in &self.dates {
            s.push_str(&format!(
                "  dates of {} in {}: {}{} ({} .. {}, {} day changes, {} cross-checked, {} mismatches)\n",
                cityflow::shown::name(&d.station_id),
                cityflow::shown::name(&d.input),
                d.method,
                d.anchor
                    .as_ref()
                    .map(|a| format!(", anchored on {a}"))
                    .unwrap_or_default(),
                d.first_date.as_deref().unwrap_or("-"),
                d.last_date.as_deref().unwrap_or("-"),
                d.day_changes,
                d.cross_checked,
                d.cross_check_mismatches
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentages_round_half_up() {
        assert_eq!(super::pct(0, 0), 0.0);
        assert_eq!(super::pct(1, 3), 33.33);
        assert_eq!(super::pct(2, 3), 66.67);
        // 1/8 = 12.5 % exactly; 1/800 = 0.125 % -> 0.13
        assert_eq!(super::pct(1, 8), 12.5);
        assert_eq!(super::pct(1, 800), 0.13);
    }
}
