//! What a run did: per-source totals, outputs, exit code (a table on stderr, JSON on stdout).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Exit;
use crate::quality::SourceQualityReport;
use crate::sources::DaySelection;
use crate::store::{StoreError, Written};

/// Per-source totals of a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceTotals {
    pub files: usize,
    pub files_failed: usize,
    pub rows_read: u64,
    pub rows_used: u64,
    pub rows_rejected: u64,
    pub duplicates: u64,
    pub error_rate: f64,
}

/// What a run did (printed as a table on stderr, or as JSON on stdout with `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub status: &'static str,
    pub exit_code: u8,
    pub raw: String,
    pub output: String,
    pub dates: Vec<String>,
    pub sources: BTreeMap<&'static str, SourceTotals>,
    /// Files of datasets this version does not process yet (listed, never silently dropped).
    pub files_not_processed: BTreeMap<&'static str, Vec<String>>,
    pub files_ignored: Vec<String>,
    /// Link loops and second paths to a file already read (nothing lost).
    pub paths_skipped: Vec<String>,
    /// Broken links, unreadable folders (input lost: the run is not clean).
    pub paths_unreadable: Vec<String>,
    pub rows_outside_selection: u64,
    pub rows_outside_selection_by_source: BTreeMap<&'static str, u64>,
    pub outputs_created: usize,
    pub outputs_replaced: usize,
    pub outputs_unchanged: usize,
    pub write_errors: Vec<String>,
    /// Files that failed, with their first problem (`file:line: reason: detail`).
    pub files_failed: Vec<String>,
    /// Where every problem is listed.
    pub quality_report: String,
    /// The memory budget (`--memory-limit`), bytes.
    pub memory_limit_bytes: u64,
    /// Windows of days the run was cut into to stay within it (1: all at once).
    pub windows: usize,
    /// Reads of the inputs: 1 when everything fits, else 1 (a census) + one per window.
    pub passes: usize,
    pub elapsed_ms: u128,
    #[serde(skip)]
    pub exit: Exit,
}

impl RunSummary {
    /// A short table for stderr.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<16} {:>6} {:>12} {:>12} {:>10} {:>10} {:>8}\n",
            "source", "files", "rows read", "rows used", "rejected", "duplicates", "errors"
        );
        for (name, t) in &self.sources {
            s += &format!(
                "{:<16} {:>6} {:>12} {:>12} {:>10} {:>10} {:>7.2}%\n",
                name,
                t.files,
                t.rows_read,
                t.rows_used,
                t.rows_rejected,
                t.duplicates,
                t.error_rate * 100.0
            );
        }
        s += &self.failures_text();
        for (name, files) in &self.files_not_processed {
            s += &format!(
                "{name:<16} {:>6}   not processed by this version\n",
                files.len()
            );
        }
        s += &format!(
            "{} day(s) {}; outputs: {} created, {} replaced, {} unchanged; {} write error(s); {} ms; {}\n",
            self.dates.len(),
            match (self.dates.first(), self.dates.last()) {
                (Some(a), Some(b)) => format!("{a} .. {b}"),
                _ => "(none)".into(),
            },
            self.outputs_created,
            self.outputs_replaced,
            self.outputs_unchanged,
            self.write_errors.len(),
            self.elapsed_ms,
            self.status
        );
        s
    }
}

impl RunSummary {
    /// The failed files (first five, then a count) and where the details are.
    fn failures_text(&self) -> String {
        let mut s = String::new();
        if !self.files_failed.is_empty() {
            s += &format!("files that failed: {}\n", self.files_failed.len());
            for f in self.files_failed.iter().take(5) {
                s += &format!("  {}\n", crate::shown::name(f));
            }
            if self.files_failed.len() > 5 {
                s += &format!("  ... and {} more\n", self.files_failed.len() - 5);
            }
        }
        let rejected = self.sources.values().any(|t| t.rows_rejected > 0);
        if rejected || !self.files_failed.is_empty() {
            s += &format!("details: {}\n", self.quality_report);
        }
        s
    }
}

/// Each failed file of `totals` with its first problem (a sample naming it, else its reasons).
pub fn failed_files(totals: &BTreeMap<&'static str, SourceQualityReport>) -> Vec<String> {
    let mut out = Vec::new();
    for r in totals.values() {
        for f in &r.files_failed {
            let sample = r.samples.iter().find(|s| s.starts_with(&format!("{f}:")));
            let reasons = || {
                let by = r.problems_by_file.get(f);
                let names: Vec<&str> = by
                    .map(|m| m.keys().map(|k| k.as_ref()).collect())
                    .unwrap_or_default();
                format!("{f}: {}", names.join(", "))
            };
            out.push(sample.cloned().unwrap_or_else(reasons));
        }
    }
    out
}

impl SourceTotals {
    pub fn new(r: &SourceQualityReport) -> SourceTotals {
        SourceTotals {
            files: r.files_read.len(),
            files_failed: r.files_failed.len(),
            rows_read: r.rows_read,
            rows_used: r.rows_used,
            rows_rejected: r.rows_rejected,
            duplicates: r.duplicates,
            error_rate: r.error_rate,
        }
    }
}

/// The exit of a run and its status line: write errors first, then nothing to process, then
/// rejected input.
pub fn exit_of(write_errors: bool, nothing: bool, clean: bool) -> (Exit, &'static str) {
    if write_errors {
        (Exit::Output, "finished with write errors")
    } else if nothing {
        (Exit::NoData, "nothing to process")
    } else if !clean {
        (Exit::Unclean, "finished with rejected input")
    } else {
        (Exit::Clean, "clean")
    }
}

/// The selected days, as the flags said them.
pub fn selection_text(sel: &DaySelection) -> String {
    match (sel.from, sel.to) {
        (Some(f), Some(t)) if f == t => format!("--date {f}"),
        (Some(f), Some(t)) => format!("--from {f} --to {t}"),
        (Some(f), None) => format!("--from {f}"),
        (None, Some(t)) => format!("--to {t}"),
        (None, None) => "every day".into(),
    }
}

/// An output that could not be written: where, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteFailure {
    pub path: String,
    pub why: String,
}

impl WriteFailure {
    pub fn new(e: &StoreError) -> WriteFailure {
        WriteFailure {
            path: e.path.display().to_string(),
            why: e.source.to_string(),
        }
    }

    pub fn message(&self) -> String {
        format!("cannot write {}: {}", self.path, self.why)
    }
}

/// Outputs that failed when made durable (written by the writer thread, synced, renamed): their
/// outcome becomes the failure (they were counted as written).
pub fn failed_at_flush(
    outcomes: &mut Vec<(String, Result<Written, WriteFailure>)>,
    errors: &[StoreError],
) {
    for e in errors {
        let failure = Err(WriteFailure::new(e));
        match outcomes.iter_mut().find(|(rel, _)| e.path.ends_with(rel)) {
            Some(o) => o.1 = failure,
            None => outcomes.push((e.path.display().to_string(), failure)),
        }
    }
}

/// One error line per reason (a full disk fails every file the same way), with how many
/// outputs and the first of them; the JSON summary lists them all.
pub fn log_write_failures(failures: &[&WriteFailure]) {
    let mut by_why: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for f in failures {
        by_why.entry(&f.why).or_default().push(&f.path);
    }
    for (why, paths) in by_why {
        match paths.as_slice() {
            [one] => tracing::error!("cannot write {one}: {why}"),
            [first, ..] => tracing::error!(
                "{} outputs not written: {why} (first: {first}; all in the --json summary's write_errors)",
                paths.len()
            ),
            [] => {}
        }
    }
}
