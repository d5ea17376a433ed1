//! OUTPUT MODEL of `process`, in one place: the relative names of the output files and their
//! envelopes (what wraps a day's metrics, report and quality report). To move into a shared
//! `src/output.rs`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::json;
use crate::quality::SourceQualityReport;
use crate::report;

/// `metrics/<type>_metrics_<day>.json`.
pub fn metrics_name(metric_type: &str, day: NaiveDate) -> String {
    format!("metrics/{metric_type}_metrics_{day}.json")
}

/// `reports/daily_report_<day>.json`.
pub fn report_json_name(day: NaiveDate) -> String {
    format!("reports/daily_report_{day}.json")
}

/// `reports/daily_report_<day>.csv`.
pub fn report_csv_name(day: NaiveDate) -> String {
    format!("reports/daily_report_{day}.csv")
}

/// `quality/quality_report_<day>.json`.
pub fn quality_name(day: NaiveDate) -> String {
    format!("quality/quality_report_{day}.json")
}

/// The run's quality report (one per run, not dated).
pub const RUN_QUALITY_NAME: &str = "quality/quality_report_run.json";

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
            report_id: format!("daily_report_{day}"),
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
            report_id: format!("quality_report_{day}"),
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
    pub report_id: &'static str,
    pub timestamp: &'a str,
    pub clean: bool,
    pub dates: &'a [String],
    pub totals: &'a BTreeMap<&'static str, SourceQualityReport>,
    pub undated: &'a BTreeMap<&'static str, SourceQualityReport>,
    pub files_not_processed: &'a BTreeMap<&'static str, Vec<String>>,
    pub files_ignored: &'a [String],
    pub rows_outside_selection: u64,
}
