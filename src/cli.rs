//! What every binary shares around its run: the `.env` file, logging, printing that survives a
//! closed pipe, and the flag groups more than one tool declares (dates, MongoDB).

use std::io::{IsTerminal, Write};

use chrono::NaiveDate;
use clap::Args;
use serde::Serialize;

/// Loads `.env` from the working directory once (existing variables are not overridden).
pub fn load_dotenv() {
    let _ = dotenvy::dotenv();
}

/// Logs to stderr, without times or targets, coloured only on a terminal: warnings and errors
/// with `quiet`, else info, debug (`-v`) or trace (`-vv`).
pub fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => tracing::Level::WARN,
        (false, 0) => tracing::Level::INFO,
        (false, 1) => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .with_max_level(level)
        .init();
}

/// Prints `value` as pretty JSON on stdout. A closed or full stdout is reported on stderr and
/// returns false, never a panic: the run's outputs and exit code do not depend on it.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> bool {
    let mut text = match serde_json::to_string_pretty(value) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("JSON summary not printed: {e}");
            return false;
        }
    };
    text.push('\n');
    write_or_warn(&mut std::io::stdout().lock(), text.as_bytes(), "stdout")
}

/// Writes `text` to stderr (the end-of-run tables); a closed stderr is not an error.
pub fn eprint_text(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

fn write_or_warn(w: &mut impl Write, bytes: &[u8], what: &str) -> bool {
    match w.write_all(bytes).and_then(|_| w.flush()) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("could not write the JSON summary to {what}: {e}");
            false
        }
    }
}

/// A `YYYY-MM-DD` flag value.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date of the form YYYY-MM-DD"))
}

/// Where MongoDB is (`process`, `upload --source mongo`, `stations`).
#[derive(Debug, Clone, Args)]
pub struct MongoArgs {
    #[arg(
        long = "mongodb-url",
        env = "MONGODB_URL",
        value_name = "URL",
        default_value = "mongodb://localhost:27017/",
        // `--help` would print the variable's value, password included.
        hide_env_values = true
    )]
    pub url: String,
    #[arg(
        long = "mongodb-database",
        env = "MONGODB_DATABASE",
        value_name = "NAME",
        default_value = "cityflow"
    )]
    pub database: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_checked() {
        assert_eq!(
            parse_date(" 2025-10-26 "),
            Ok(NaiveDate::from_ymd_opt(2025, 10, 26).unwrap())
        );
        assert!(parse_date("2025-02-30").unwrap_err().contains("YYYY-MM-DD"));
        assert!(parse_date("26/10/2025").is_err());
    }

    /// A writer that fails like a closed pipe.
    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_reported_not_a_panic() {
        assert!(!write_or_warn(&mut Closed, b"{}\n", "stdout"));
        let mut v = Vec::new();
        assert!(write_or_warn(&mut v, b"{}\n", "stdout"));
        assert_eq!(v, b"{}\n");
    }
}
