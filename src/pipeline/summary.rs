//! What a run did: per-source totals, outputs, exit code (a table on stderr, JSON on stdout).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Exit;
use crate::quality::SourceQualityReport;
use crate::sources::DaySelection;

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
