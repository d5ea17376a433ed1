//! Command-line flags and environment -> resolved settings, once, before any work.
//! Precedence: defaults < `.env` < environment < flags.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::Parser;

use crate::error::Error;
use crate::sources::DaySelection;

/// The folder that marks a developer's laptop (a local mirror of the raw bucket).
pub const LAPTOP_BUCKET_DIR: &str = "bucket-cityflow-paris-s3-raw";
/// Raw root inside the laptop mirror.
pub const LAPTOP_RAW: &str = "bucket-cityflow-paris-s3-raw/cityflow-raw/raw";
/// Raw root on the EC2 box.
pub const DEFAULT_RAW: &str = "data/cityflow-raw/raw";

const EXAMPLES: &str = "\
Examples:
  process --raw data/cityflow-raw/raw                 every day found in the data
  process --date 2024-01-04                           one Paris day
  process --from 2024-01-01 --to 2024-01-31 --json    a range, JSON summary on stdout
  DATA_DIR=/mnt/raw OUTPUT_DIR=/mnt/out process -j 2

Environment (a .env file in the working directory is read first; real variables win; flags win):
  DATA_DIR            raw root (default: bucket-cityflow-paris-s3-raw/cityflow-raw/raw when it
                      exists, else data/cityflow-raw/raw)
  OUTPUT_DIR          output root (default: output)
  ARRONDISSEMENTS_FILE  arrondissements GeoJSON outside the raw tree
  CITYFLOW_JOBS       worker threads
  SOURCE_DATE_EPOCH   fixes the clock used for `timestamp` / `generated_at` (reproducible bytes)

Outputs (under OUTPUT_DIR):
  metrics/<type>_metrics_<date>.json   {metric_type, date, timestamp, metrics}
  reports/daily_report_<date>.json|csv {report_id, date, timestamp, report} + the CSV
  quality/quality_report_<date>.json   per source: rows read/used/rejected, reasons, samples
  quality/quality_report_run.json      the whole run, including rows with no usable date

Exit codes:
  0 clean   1 finished with rejected input or a failed file   2 usage or configuration error
  4 some output could not be written";

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date of the form YYYY-MM-DD"))
}

/// `process`: raw tree -> per-day metrics, daily reports and quality reports.
#[derive(Debug, Parser)]
#[command(name = "process", version, about, long_about = None, after_help = EXAMPLES)]
pub struct ProcessArgs {
    /// Raw root holding `api/` and `batch/`.
    #[arg(long, env = "DATA_DIR", value_name = "DIR")]
    pub raw: Option<PathBuf>,
    /// Output root.
    #[arg(long, env = "OUTPUT_DIR", value_name = "DIR", default_value = "output")]
    pub output: PathBuf,
    /// Process only this Paris day.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date, conflicts_with_all = ["from", "to"])]
    pub date: Option<NaiveDate>,
    /// First Paris day to process (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub from: Option<NaiveDate>,
    /// Last Paris day to process (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub to: Option<NaiveDate>,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', env = "CITYFLOW_JOBS", value_name = "N")]
    pub jobs: Option<usize>,
    /// Arrondissements GeoJSON to use instead of `batch/arrondissements*.geojson`.
    #[arg(long, env = "ARRONDISSEMENTS_FILE", value_name = "FILE")]
    pub arrondissements: Option<PathBuf>,
    /// No progress bar (it is shown only when stderr is a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    /// Print a JSON summary of the run on stdout.
    #[arg(long)]
    pub json: bool,
    /// More log output (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Everything a run needs, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub raw: PathBuf,
    /// Why this raw root (flag, env, laptop mirror, default).
    pub raw_origin: &'static str,
    pub output: PathBuf,
    pub days: DaySelection,
    pub jobs: usize,
    pub arrondissements: Option<PathBuf>,
    pub progress: bool,
    pub json: bool,
}

/// Loads `.env` from the working directory once (existing variables are not overridden).
pub fn load_dotenv() {
    let _ = dotenvy::dotenv();
}

impl Settings {
    pub fn resolve(a: &ProcessArgs, cwd: &Path) -> Result<Settings, Error> {
        let (raw, raw_origin) = match &a.raw {
            Some(r) => (r.clone(), "--raw / DATA_DIR"),
            None if cwd.join(LAPTOP_RAW).is_dir() => (
                cwd.join(LAPTOP_RAW),
                "laptop mirror (bucket-cityflow-paris-s3-raw)",
            ),
            None => (cwd.join(DEFAULT_RAW), "default"),
        };
        if !raw.is_dir() {
            return Err(Error::Config(format!(
                "raw folder {} does not exist or is not a folder (set --raw or DATA_DIR)",
                raw.display()
            )));
        }
        let days = match (a.date, a.from, a.to) {
            (Some(d), _, _) => DaySelection {
                from: Some(d),
                to: Some(d),
            },
            (None, from, to) => {
                if let (Some(f), Some(t)) = (from, to) {
                    if f > t {
                        return Err(Error::Config(format!("--from {f} is after --to {t}")));
                    }
                }
                DaySelection { from, to }
            }
        };
        let jobs = match a.jobs {
            Some(0) => return Err(Error::Config("--jobs must be at least 1".into())),
            Some(n) => n,
            None => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        };
        if let Some(p) = &a.arrondissements {
            if !p.is_file() {
                return Err(Error::Config(format!(
                    "arrondissements file {} does not exist",
                    p.display()
                )));
            }
        }
        Ok(Settings {
            raw,
            raw_origin,
            output: a.output.clone(),
            days,
            jobs,
            arrondissements: a.arrondissements.clone(),
            progress: !a.no_progress,
            json: a.json,
        })
    }
}
