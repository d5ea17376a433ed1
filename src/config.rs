//! Command-line flags and environment -> resolved settings, once, before any work.
//! Precedence: defaults < `.env` < environment < flags.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::Parser;

use crate::cli::{parse_date, MongoArgs};
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
  process --from 2015-01-01 --to 2024-12-31 --memory-limit 2G
                                                      ten years, window by window in 2 GB
  DATA_DIR=/mnt/raw OUTPUT_DIR=/mnt/out process -j 2

Environment (./.env, or --env-file FILE, is read first, never a parent folder's; real variables
win; flags win; an empty variable counts as unset):
  DATA_DIR            raw root (default: bucket-cityflow-paris-s3-raw/cityflow-raw/raw when it
                      exists, else data/cityflow-raw/raw)
  OUTPUT_DIR          output root (default: output)
  ARRONDISSEMENTS_FILE  arrondissements GeoJSON outside the raw tree
  CITYFLOW_JOBS       worker threads
  CITYFLOW_MEMORY_LIMIT  memory budget (--memory-limit)
  SOURCE_DATE_EPOCH   fixes the clock used for `timestamp` / `generated_at` (reproducible bytes)
  DATABASE_TYPE       auto | files | mongo (--backend)
  MONGODB_URL         default mongodb://localhost:27017/      MONGODB_DATABASE  default cityflow

Outputs (under OUTPUT_DIR):
  metrics/<type>_metrics_<date>.json   {metric_type, date, timestamp, metrics}
  reports/daily_report_<date>.json|csv {report_id, date, timestamp, report} + the CSV
  reports/daily_report_<date>.html     self-contained page (and reports/index.html)
  analytics/<table>/date=<date>/part-0.parquet  typed tables (--no-analytics: none)
  quality/quality_report_<date>.json   per source: rows read/used/rejected, reasons, samples
  quality/quality_report_run.json      the whole run, including rows with no usable date

Exit codes:
  0  clean: every row read was used (duplicates aside), every output written
  1  finished, but some input was rejected or a file failed (see the quality reports)
  2  usage or configuration error (bad flag, bad date, missing raw folder)
  3  MongoDB selected but unreachable (results written to files instead)
  4  some output could not be written (or failed the MongoDB import check)
  5  nothing to process: no input file recognised, or no row of a dated dataset in the selected days";

/// Where `process` stores its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// MongoDB on a developer's laptop (a `bucket-cityflow-paris-s3-raw` folder), files elsewhere.
    Auto,
    Files,
    Mongo,
}

fn parse_backend(s: &str) -> Result<BackendChoice, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "auto" | "" => Ok(BackendChoice::Auto),
        "files" | "file" | "local" | "local_files" => Ok(BackendChoice::Files),
        "mongo" | "mongodb" => Ok(BackendChoice::Mongo),
        "dynamodb" => {
            Err("process stores into files or MongoDB; DynamoDB is written by `upload`".into())
        }
        other => Err(format!("unknown backend {other:?} (auto, files or mongo)")),
    }
}

/// The resolved backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Files,
    Mongo { url: String, database: String },
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
    /// Memory budget (e.g. 512M, 2G): past it, the days are read window by window, as many
    /// windows as it takes, with the same outputs. Default: half the memory of the machine or
    /// of the container (cgroup limit), at least 512M.
    #[arg(long, env = "CITYFLOW_MEMORY_LIMIT", value_name = "SIZE", value_parser = crate::cli::parse_size)]
    pub memory_limit: Option<u64>,
    /// Do not write the Parquet analytics tables (`analytics/<table>/date=<day>/part-0.parquet`).
    #[arg(long)]
    pub no_analytics: bool,
    /// More log output (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// Where results go: auto (MongoDB when a `bucket-cityflow-paris-s3-raw` folder is in the
    /// working directory or above the raw root, else files), files, or mongo.
    #[arg(long, env = "DATABASE_TYPE", value_name = "auto|files|mongo", value_parser = parse_backend, default_value = "auto")]
    pub backend: BackendChoice,
    #[command(flatten)]
    pub mongo: MongoArgs,
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
    /// The memory budget, bytes.
    pub memory_limit: u64,
    /// Write the Parquet analytics tables (`--no-analytics` turns them off).
    pub analytics: bool,
    pub backend: Backend,
    /// Why this backend (printed at start).
    pub backend_reason: String,
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
        let memory_limit = a.memory_limit.unwrap_or_else(crate::budget::default_limit);
        if memory_limit < crate::budget::MIN_LIMIT {
            return Err(Error::Config(format!(
                "--memory-limit / CITYFLOW_MEMORY_LIMIT: {} MB is below the {} MB a run needs",
                memory_limit >> 20,
                crate::budget::MIN_LIMIT >> 20
            )));
        }
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
        let mongo = || Backend::Mongo {
            url: a.mongo.url.clone(),
            database: a.mongo.database.clone(),
        };
        let laptop_here = cwd.join(LAPTOP_BUCKET_DIR).is_dir();
        let laptop_above = std::fs::canonicalize(&raw)
            .map(|p| {
                p.ancestors()
                    .any(|x| x.file_name().is_some_and(|n| n == LAPTOP_BUCKET_DIR))
            })
            .unwrap_or(false);
        let (backend, backend_reason) = match a.backend {
            BackendChoice::Files => (
                Backend::Files,
                "files (--backend / DATABASE_TYPE)".to_string(),
            ),
            BackendChoice::Mongo => (mongo(), "MongoDB (--backend / DATABASE_TYPE)".to_string()),
            BackendChoice::Auto if laptop_here => (
                mongo(),
                format!(
                    "MongoDB: folder {LAPTOP_BUCKET_DIR} found in the working directory (a laptop)"
                ),
            ),
            BackendChoice::Auto if laptop_above => (
                mongo(),
                format!("MongoDB: the raw root is inside a {LAPTOP_BUCKET_DIR} folder (a laptop)"),
            ),
            BackendChoice::Auto => (
                Backend::Files,
                format!("files: no {LAPTOP_BUCKET_DIR} folder here (EC2 box)"),
            ),
        };
        Ok(Settings {
            backend,
            backend_reason,
            raw,
            raw_origin,
            output: a.output.clone(),
            days,
            jobs,
            arrondissements: a.arrondissements.clone(),
            progress: !a.no_progress,
            json: a.json,
            memory_limit,
            analytics: !a.no_analytics,
        })
    }
}
