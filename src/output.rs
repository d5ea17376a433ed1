//! The outputs of `process`, as every other part sees them: their kinds, their relative names
//! (built and parsed here only), their envelopes (what wraps a day's metrics, report and quality
//! report), and the content hash that ignores the volatile fields.
//!
//! `pipeline` builds names with [`OutputName::rel_path`]; `store::mongo`, `upload` and the
//! MongoDB export read them back with [`OutputName::parse`].

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::json;
use crate::quality::SourceQualityReport;
use crate::report;

/// Metric types `process` writes (`metrics/<type>_metrics_<date>.json`).
pub const METRIC_TYPES: [&str; 7] = [
    "bikes",
    "chantiers",
    "comptages",
    "referentiel",
    "traffic",
    "velib",
    "weather",
];

/// Fields that change at every run without the content changing (left out of content hashes).
pub const VOLATILE_FIELDS: [&str; 2] = ["timestamp", "generated_at"];

/// One output file of `process`, by what it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutputName {
    /// `metrics/<type>_metrics_<date>.json`
    Metrics {
        metric_type: String,
        date: NaiveDate,
    },
    /// `reports/daily_report_<date>.json`
    ReportJson(NaiveDate),
    /// `reports/daily_report_<date>.csv`
    ReportCsv(NaiveDate),
    /// `reports/daily_report_<date>.html` (files only)
    ReportHtml(NaiveDate),
    /// `analytics/<table>/date=<date>/part-0.parquet`: one Hive partition of an analytics
    /// table (files only; `table` is made of `a-z`, `0-9` and `_`)
    Analytics { table: String, date: NaiveDate },
    /// `quality/quality_report_<date>.json`
    Quality(NaiveDate),
    /// `quality/quality_report_run.json`, or `quality/quality_report_run_<from>_<to>.json` for a
    /// run over selected days (shards of a backfill each keep their own)
    QualityRun(Option<(NaiveDate, NaiveDate)>),
}

impl OutputName {
    /// The path relative to the output root.
    pub fn rel_path(&self) -> String {
        match self {
            OutputName::Metrics { metric_type, date } => {
                format!("metrics/{metric_type}_metrics_{date}.json")
            }
            OutputName::ReportJson(d) => format!("reports/{}.json", report_id(*d)),
            OutputName::ReportCsv(d) => format!("reports/{}.csv", report_id(*d)),
            OutputName::ReportHtml(d) => format!("reports/{}.html", report_id(*d)),
            OutputName::Analytics { table, date } => {
                format!("analytics/{table}/date={date}/part-0.parquet")
            }
            OutputName::Quality(d) => format!("quality/{}.json", quality_id(Some(*d))),
            OutputName::QualityRun(span) => format!("quality/{}.json", run_quality_id(*span)),
        }
    }

    /// An analytics partition's name: `<table>/date=<date>/part-0.parquet` with a table name
    /// of `a-z`, `0-9`, `_` and the date written `YYYY-MM-DD`.
    fn parse_analytics(rest: &str) -> Option<OutputName> {
        let mut parts = rest.split('/');
        let (table, part, file) = (parts.next()?, parts.next()?, parts.next()?);
        let table_ok = !table.is_empty()
            && (table.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if parts.next().is_some() || file != "part-0.parquet" || !table_ok {
            return None;
        }
        let day = part.strip_prefix("date=")?;
        let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
        (date.to_string() == day).then(|| OutputName::Analytics {
            table: table.to_string(),
            date,
        })
    }

    /// Reads a relative path written by [`OutputName::rel_path`]; anything else is `None`.
    pub fn parse(rel: &str) -> Option<OutputName> {
        if let Some(rest) = rel.strip_prefix("analytics/") {
            return Self::parse_analytics(rest);
        }
        let (dir, name) = rel.split_once('/')?;
        let (stem, ext) = name.rsplit_once('.')?;
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        match (dir, ext) {
            ("metrics", "json") => {
                let (t, d) = stem.rsplit_once("_metrics_")?;
                let metric_type = t.to_string();
                let ok = !metric_type.is_empty() && !metric_type.contains('/');
                ok.then_some(OutputName::Metrics {
                    metric_type,
                    date: date(d)?,
                })
            }
            ("reports", "json") => Some(OutputName::ReportJson(date(
                stem.strip_prefix("daily_report_")?,
            )?)),
            ("reports", "csv") => Some(OutputName::ReportCsv(date(
                stem.strip_prefix("daily_report_")?,
            )?)),
            ("reports", "html") => Some(OutputName::ReportHtml(date(
                stem.strip_prefix("daily_report_")?,
            )?)),
            ("quality", "json") if stem == "quality_report_run" => {
                Some(OutputName::QualityRun(None))
            }
            ("quality", "json") if stem.starts_with("quality_report_run_") => {
                let (a, b) = stem.strip_prefix("quality_report_run_")?.split_once('_')?;
                Some(OutputName::QualityRun(Some((date(a)?, date(b)?))))
            }
            ("quality", "json") => Some(OutputName::Quality(date(
                stem.strip_prefix("quality_report_")?,
            )?)),
            _ => None,
        }
    }

    /// The envelope field that holds the body (`metrics`, `report`, `sources`); the CSV and
    /// HTML reports have no envelope and go with their JSON twin's key; an analytics partition
    /// holds `rows`.
    pub fn body_field(&self) -> &'static str {
        match self {
            OutputName::Metrics { .. } => "metrics",
            OutputName::ReportJson(_) | OutputName::ReportCsv(_) | OutputName::ReportHtml(_) => {
                "report"
            }
            OutputName::Quality(_) | OutputName::QualityRun(_) => "sources",
            OutputName::Analytics { .. } => "rows",
        }
    }

    /// Outputs written to files whatever the backend (MongoDB holds no copy of them).
    pub fn files_only(&self) -> bool {
        matches!(
            self,
            OutputName::ReportHtml(_) | OutputName::Analytics { .. }
        )
    }

    /// The envelope's id field and value, for reports: `report_id` = `daily_report_<date>`,
    /// `quality_report_<date>` or `quality_report_run`; metrics are keyed by `metric_type`.
    pub fn id(&self) -> (&'static str, String) {
        match self {
            OutputName::Metrics { metric_type, .. } => ("metric_type", metric_type.clone()),
            OutputName::ReportJson(d) | OutputName::ReportCsv(d) | OutputName::ReportHtml(d) => {
                ("report_id", report_id(*d))
            }
            OutputName::Analytics { table, .. } => ("table", table.clone()),
            OutputName::Quality(d) => ("report_id", quality_id(Some(*d))),
            OutputName::QualityRun(span) => ("report_id", run_quality_id(*span)),
        }
    }

    /// The data date (none for the run's quality report).
    pub fn date(&self) -> Option<NaiveDate> {
        match self {
            OutputName::Metrics { date, .. } => Some(*date),
            OutputName::ReportJson(d)
            | OutputName::ReportCsv(d)
            | OutputName::ReportHtml(d)
            | OutputName::Quality(d) => Some(*d),
            OutputName::Analytics { date, .. } => Some(*date),
            OutputName::QualityRun(_) => None,
        }
    }
}

/// `daily_report_<date>`: the report's id (envelope `report_id`, DynamoDB key, file stem).
pub fn report_id(date: NaiveDate) -> String {
    format!("daily_report_{date}")
}

/// `quality_report_<date>`, or `quality_report_run` for the whole run.
pub fn quality_id(date: Option<NaiveDate>) -> String {
    match date {
        Some(d) => format!("quality_report_{d}"),
        None => "quality_report_run".to_string(),
    }
}

/// The run's quality report: `quality_report_run`, or `quality_report_run_<from>_<to>` for a
/// run over selected days.
pub fn run_quality_id(span: Option<(NaiveDate, NaiveDate)>) -> String {
    match span {
        Some((a, b)) => format!("quality_report_run_{a}_{b}"),
        None => quality_id(None),
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the first `"<key>": "<string>"` member stands in JSON text (byte level, no parse).
fn string_member(b: &[u8], key: &str) -> Option<(usize, usize)> {
    let pat = format!("\"{key}\"");
    let start = memchr::memmem::find(b, pat.as_bytes())?;
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(start + pat.len());
    if b.get(i) != Some(&b':') {
        return None;
    }
    i = skip_ws(i + 1);
    if b.get(i) != Some(&b'"') {
        return None;
    }
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some((start, i + 1)),
            _ => i += 1,
        }
    }
    None
}

/// SHA-256 of an output without its volatile fields ([`VOLATILE_FIELDS`]): the same content
/// written at another time hashes the same. Used by the stores and the upload ledger.
pub fn volatile_free_hash(body: &[u8]) -> String {
    let mut cuts: Vec<(usize, usize)> = VOLATILE_FIELDS
        .iter()
        .filter_map(|k| string_member(body, k))
        .collect();
    cuts.sort();
    let mut h = Sha256::new();
    let mut at = 0;
    for (a, b) in cuts {
        if a >= at {
            h.update(&body[at..a]);
            at = b;
        }
    }
    h.update(&body[at..]);
    hex(&h.finalize())
}

/// A metrics file: `{metric_type, date, timestamp, metrics}`.
#[derive(Serialize)]
pub struct MetricsEnvelope<'a, T: Serialize> {
    pub metric_type: &'a str,
    pub date: String,
    pub timestamp: &'a str,
    pub metrics: T,
}

/// A [`MetricsEnvelope`] written by hand around `metrics`, which writes its value at the depth
/// it is given (the road counters' metrics, ~3 MB a day, are written by hand too; tested byte
/// for byte against serde).
pub fn metrics_body(
    metric_type: &str,
    day: NaiveDate,
    timestamp: &str,
    metrics: impl FnOnce(&mut Vec<u8>, usize),
) -> Vec<u8> {
    json::document(|out| {
        let mut o = json::Obj::begin(out, 0);
        o.key(out, "metric_type");
        json::write_str(out, metric_type);
        o.key(out, "date");
        json::write_str(out, &day.to_string());
        o.key(out, "timestamp");
        json::write_str(out, timestamp);
        o.key(out, "metrics");
        metrics(out, o.inner());
        o.end(out);
    })
}

/// `reports/daily_report_<day>.json`.
#[derive(Serialize)]
pub struct ReportEnvelope<'a> {
    pub report_id: String,
    pub date: String,
    pub timestamp: &'a str,
    pub report: report::DailyReport,
}

impl<'a> ReportEnvelope<'a> {
    pub fn new(day: NaiveDate, timestamp: &'a str, report: report::DailyReport) -> Self {
        ReportEnvelope {
            report_id: report_id(day),
            date: day.to_string(),
            timestamp,
            report,
        }
    }
}

/// `quality/quality_report_<day>.json`.
#[derive(Serialize)]
pub struct QualityReport<'a> {
    pub report_id: String,
    pub date: String,
    pub timestamp: &'a str,
    /// No rejected row for this date, and no undated reject or failed file in the run.
    pub clean: bool,
    pub sources: BTreeMap<&'static str, SourceQualityReport>,
    /// Rows with no usable date, failed files, undated reference data: the same in every report.
    pub undated: &'a BTreeMap<&'static str, SourceQualityReport>,
}

impl<'a> QualityReport<'a> {
    pub fn new(
        day: NaiveDate,
        timestamp: &'a str,
        clean: bool,
        sources: BTreeMap<&'static str, SourceQualityReport>,
        undated: &'a BTreeMap<&'static str, SourceQualityReport>,
    ) -> Self {
        QualityReport {
            report_id: quality_id(Some(day)),
            date: day.to_string(),
            timestamp,
            clean,
            sources,
            undated,
        }
    }
}

/// `quality/quality_report_run.json`.
#[derive(Serialize)]
pub struct RunQualityReport<'a> {
    pub report_id: String,
    pub timestamp: &'a str,
    pub clean: bool,
    pub dates: &'a [String],
    pub totals: &'a BTreeMap<&'static str, SourceQualityReport>,
    pub undated: &'a BTreeMap<&'static str, SourceQualityReport>,
    pub files_not_processed: &'a BTreeMap<&'static str, Vec<String>>,
    pub files_ignored: &'a [String],
    pub paths_skipped: &'a [String],
    pub paths_unreadable: &'a [String],
    pub rows_outside_selection: u64,
    pub rows_outside_selection_by_source: &'a BTreeMap<&'static str, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn names_round_trip() {
        let all = [
            OutputName::Metrics {
                metric_type: "comptages".into(),
                date: d("2025-10-26"),
            },
            OutputName::ReportJson(d("2025-10-26")),
            OutputName::ReportCsv(d("2025-10-26")),
            OutputName::ReportHtml(d("2025-10-26")),
            OutputName::Analytics {
                table: "road_arc_days".into(),
                date: d("2025-10-26"),
            },
            OutputName::Quality(d("2025-10-26")),
            OutputName::QualityRun(None),
            OutputName::QualityRun(Some((d("2025-10-20"), d("2025-10-26")))),
        ];
        let rels: Vec<String> = all.iter().map(OutputName::rel_path).collect();
        assert_eq!(
            rels,
            [
                "metrics/comptages_metrics_2025-10-26.json",
                "reports/daily_report_2025-10-26.json",
                "reports/daily_report_2025-10-26.csv",
                "reports/daily_report_2025-10-26.html",
                "analytics/road_arc_days/date=2025-10-26/part-0.parquet",
                "quality/quality_report_2025-10-26.json",
                "quality/quality_report_run.json",
                "quality/quality_report_run_2025-10-20_2025-10-26.json",
            ]
        );
        for (n, rel) in all.iter().zip(&rels) {
            assert_eq!(OutputName::parse(rel).as_ref(), Some(n));
        }
    }

    #[test]
    fn foreign_names_are_not_outputs() {
        for rel in [
            "metrics/comptages_metrics_2025-13-01.json",
            "metrics/_metrics_2025-10-26.json",
            "metrics/comptages_2025-10-26.json",
            "metrics/comptages_metrics_2025-10-26.csv",
            "reports/daily_report_2025-10-26.txt",
            "reports/weekly_report_2025-10-26.json",
            "quality/quality_report_x.json",
            "other/comptages_metrics_2025-10-26.json",
            "comptages_metrics_2025-10-26.json",
            "reports/index.html",
            "analytics/road_arc_days/date=2025-1-26/part-0.parquet",
            "analytics/road_arc_days/date=2025-10-26/part-1.parquet",
            "analytics/road_arc_days/2025-10-26/part-0.parquet",
            "analytics/Road/date=2025-10-26/part-0.parquet",
            "analytics/../date=2025-10-26/part-0.parquet",
            "analytics//date=2025-10-26/part-0.parquet",
            "analytics/t/date=2025-10-26/part-0.parquet/x",
            "analytics/t/date=2025-10-26/.part-0.parquet.12-0123456789abcdef.tmp",
        ] {
            assert_eq!(OutputName::parse(rel), None, "{rel}");
        }
    }

    #[test]
    fn volatile_fields_do_not_change_the_hash() {
        let a = br#"{"metric_type": "x", "timestamp": "2025-01-01T00:00:00Z", "m": {"generated_at": "a\"b"}}"#;
        let b = br#"{"metric_type": "x", "timestamp": "2026-12-03T10:00:00Z", "m": {"generated_at": "zz"}}"#;
        let c = br#"{"metric_type": "y", "timestamp": "2025-01-01T00:00:00Z", "m": {"generated_at": "a\"b"}}"#;
        assert_eq!(volatile_free_hash(a), volatile_free_hash(b));
        assert_ne!(volatile_free_hash(a), volatile_free_hash(c));
        // Without volatile fields it is the plain SHA-256 (checked with `sha256sum`).
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(volatile_free_hash(b"abc"), sha256_hex(b"abc"));
    }
}
