//! What the tools print for each thing they move: the plan's action (`+` new, `*` changed,
//! `=` unchanged, `!` error) and human-readable sizes. Shared by `upload` and `raw`.

use clap::Args;
use serde::Serialize;

use cityflow::error::Exit;

/// One line of a plan (rclone `check --combined` style).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    New,
    Changed,
    Unchanged,
    Error,
}

impl Action {
    pub fn symbol(self) -> char {
        match self {
            Action::New => '+',
            Action::Changed => '*',
            Action::Unchanged => '=',
            Action::Error => '!',
        }
    }

    /// New and changed targets are the ones a run writes.
    pub fn moves(self) -> bool {
        matches!(self, Action::New | Action::Changed)
    }
}

/// How a tool reports: the flags `upload` and `raw` share.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// JSON summary (or plan, with --dry-run) on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar (it is shown only when stderr is a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    #[arg(short, long)]
    pub quiet: bool,
}

impl ReportArgs {
    /// A progress bar: only on a terminal, and not with `--quiet` or `--no-progress`.
    pub fn progress(&self) -> bool {
        use std::io::IsTerminal;
        !self.no_progress && !self.quiet && std::io::stderr().is_terminal()
    }

    /// The summary on stdout: JSON with `--json`, else as `lines` prints it (with `--quiet`,
    /// only when the run did not end clean).
    pub fn print<S: Serialize>(&self, summary: &S, exit: Exit, lines: impl FnOnce(&S)) {
        if self.json {
            cityflow::cli::print_json(summary);
        } else if !self.quiet || exit != Exit::Clean {
            lines(summary);
        }
    }
}

/// `12.3 KB`
pub fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// Prints text on stdout. A closed or full stdout (`| head`) is not worth a panic: the run's
/// outputs and exit code do not depend on it.
pub fn print_text(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        tracing::warn!("could not write to stdout: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_and_sizes() {
        let s: String = [
            Action::New,
            Action::Changed,
            Action::Unchanged,
            Action::Error,
        ]
        .map(Action::symbol)
        .iter()
        .collect();
        assert_eq!(s, "+*=!");
        assert_eq!(human(512), "512 B");
        assert_eq!(human(12_595), "12.3 KB");
        assert_eq!(human(5 << 20), "5.0 MB");
    }
}
