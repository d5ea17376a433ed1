//! What every binary shares around its run: the `.env` file, logging, printing that survives a
//! closed pipe, and the flag groups more than one tool declares (dates, MongoDB).

mod args;
pub mod dotenv;

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use chrono::NaiveDate;
use clap::Args;
use serde::Serialize;

pub use args::{matches, parse};

/// What the start-up found (the `.env` file read, its problems), logged by `init_logging`.
static STARTUP: Mutex<Vec<(tracing::Level, String)>> = Mutex::new(Vec::new());

fn note_startup(level: tracing::Level, message: String) {
    if let Ok(mut notes) = STARTUP.lock() {
        notes.push((level, message));
    }
}

/// Logs to stderr, without times or targets, coloured only on a terminal and without `NO_COLOR`:
/// warnings and errors with `quiet`, else info, debug (`-v`) or trace (`-vv`); the AWS SDK's
/// own events only with `-v`. A closed or full
/// stderr loses the log lines, never the run. Then logs what the start-up found.
pub fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => tracing::Level::WARN,
        (false, 0) => tracing::Level::INFO,
        (false, 1) => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // The AWS SDK's own warnings (one dump per credential provider tried, per request) only
    // with -v: the tools say what failed in one line of their own.
    let sdk = match verbose {
        0 => tracing::level_filters::LevelFilter::OFF,
        _ => level.into(),
    };
    let targets = tracing_subscriber::filter::Targets::new()
        .with_default(level)
        .with_target("aws_", sdk);
    let _ = tracing_subscriber::fmt()
        .with_writer(|| LossyStderr)
        .with_ansi(colour())
        .with_target(false)
        .without_time()
        .with_max_level(level)
        .finish()
        .with(targets)
        .try_init();
    let notes = STARTUP.lock().map(|mut n| std::mem::take(&mut *n));
    for (level, message) in notes.unwrap_or_default() {
        match level {
            tracing::Level::WARN => tracing::warn!("{message}"),
            _ => tracing::debug!("{message}"),
        }
    }
}

/// Whether stderr gets colours: a terminal, and `NO_COLOR` unset or empty (no-color.org).
pub fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// stderr for the log: a write that fails (closed pipe, full disk) is dropped, not reported by
/// tracing-subscriber with an `eprintln!` that would panic.
struct LossyStderr;

impl Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
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

/// Parses a byte size: a number with an optional `K`, `M`, `G`, `T` suffix (powers of 1024,
/// like the AWS CLI's `8MB`), optionally followed by `B`, `iB` and `/s`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix("/s").unwrap_or(t).trim_end();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (examples: 8M, 64MiB, 1.5G, 500K)"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(format!("{s:?}: unknown unit (use K, M, G or T)")),
    };
    let v = n * mult as f64;
    if !v.is_finite() || v < 1.0 || v > u64::MAX as f64 {
        return Err(format!("{s:?} is not a positive size"));
    }
    Ok(v as u64)
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
