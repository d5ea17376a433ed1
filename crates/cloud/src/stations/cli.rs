//! `stations` flags and its four commands: `run` (transform, write, optionally import into
//! MongoDB and verify), `verify` (the post-import verification and the timed query), `backup`
//! and `restore` (S3). Each command returns a summary (printed as JSON with `--json`) and an
//! exit code.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use super::backup::{self, BackupOutcome, RestoreOutcome, S3Target};
use super::catalog::Catalog;
use super::mongo::{busiest, ImportStats, QueryTiming, Verification, WeatherCollection};
use super::quality;
use super::{discover, transform, Document, StartDates};
use crate::aws::options::AwsArgs;
use cityflow::cli::{eprint_text, parse_date};
use cityflow::error::Exit;
use cityflow::store::local::LocalStore;
use cityflow::store::{OutputDoc, Store};
use cityflow::time::Clock;

const EXAMPLES: &str = "\
Examples:
  stations run data/weather-stations/                every .json, .jsonl, .xlsx in it
  stations run data/ --backend mongo --json          import into MongoDB, verify, time a query
  stations run export.jsonl --start-date ILAMAD25=2024-10-01
  stations verify --query-station ILAMAD25 --query-date 2024-10-03
  stations backup --create-bucket
  stations restore --drop                            the latest backup, exactly

Environment: STATIONS_FILE, OUTPUT_DIR, MONGODB_URL, MONGODB_DATABASE, WEATHER_COLLECTION,
S3_BACKUP_BUCKET, S3_BACKUP_PREFIX, AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_S3, CITYFLOW_S3_CHECKSUMS, CITYFLOW_CONNECT_TIMEOUT, CITYFLOW_READ_TIMEOUT,
CITYFLOW_OPERATION_TIMEOUT, SOURCE_DATE_EPOCH (the clock of backup names).

Exit codes:
  0    clean
  1    some input refused or unreadable (see the quality report)
  2    usage or configuration error
  3    MongoDB or S3 unreachable within the timeouts, or S3 credentials missing or refused
  4    an output could not be written, or a verification failed";

/// `stations`: InfoClimat and Weather Underground stations -> one document per station and
/// instant (JSON Lines, quality report, MongoDB `weather_data`), backups to S3.
#[derive(Debug, Parser)]
#[command(name = "stations", version, after_help = EXAMPLES)]
pub struct StationsArgs {
    #[command(subcommand)]
    pub command: Command,
    /// Summary as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Only warnings and errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Transform the inputs into output/stations/weather_data.jsonl and the quality report;
    /// with --backend mongo, import them, verify and time a query.
    Run(RunArgs),
    /// Post-import verification of the collection and the timed query.
    Verify(VerifyArgs),
    /// Compressed, timestamped export of the collection to `s3://<bucket>/<prefix>/`.
    Backup(BackupArgs),
    /// Reload a backup (the latest by default) and verify it.
    Restore(RestoreArgs),
}

/// The MongoDB server (the flags every tool shares) and the collection.
#[derive(Debug, Args)]
#[group(id = "stations_mongo")]
pub struct MongoArgs {
    #[command(flatten)]
    pub server: cityflow::cli::MongoArgs,
    #[arg(long, env = "WEATHER_COLLECTION", default_value = "weather_data")]
    pub collection: String,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Station of the timed query (default: the one with the most documents).
    #[arg(long, value_name = "ID")]
    pub query_station: Option<String>,
    /// UTC day of the timed query (default: the station's fullest day).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub query_date: Option<NaiveDate>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Input files or folders (.json InfoClimat, .jsonl/.ndjson Airbyte or plain JSON Lines,
    /// .xlsx Weather Underground).
    #[arg(required = true, value_name = "PATH")]
    pub inputs: Vec<PathBuf>,
    /// The stations file (time zones, file names of Weather Underground stations...).
    #[arg(
        long,
        env = "STATIONS_FILE",
        default_value = "sample/stations/stations.csv"
    )]
    pub stations: PathBuf,
    #[arg(long, env = "OUTPUT_DIR", default_value = "output")]
    pub output: PathBuf,
    /// First day of a dateless export: `YYYY-MM-DD` (every station) or `STATION=YYYY-MM-DD`.
    #[arg(long, value_name = "[STATION=]DATE")]
    pub start_date: Vec<String>,
    /// `files`: the JSON Lines file and the report; `mongo`: also the collection.
    #[arg(long, default_value = "files", value_parser = ["files", "mongo"])]
    pub backend: String,
    #[command(flatten)]
    pub mongo: MongoArgs,
    #[command(flatten)]
    pub query: QueryArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub mongo: MongoArgs,
    #[command(flatten)]
    pub query: QueryArgs,
    /// The JSON Lines file the collection should hold as many documents as.
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct S3Args {
    #[arg(long, env = "S3_BACKUP_BUCKET", default_value = "cityflow-backups")]
    pub bucket: String,
    #[arg(long, env = "S3_BACKUP_PREFIX", default_value = "backups")]
    pub prefix: String,
    /// Create the bucket when it does not exist.
    #[arg(long)]
    pub create_bucket: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

impl S3Args {
    pub fn target(&self) -> S3Target {
        S3Target {
            aws: self.aws.options(None),
            bucket: self.bucket.clone(),
            prefix: self.prefix.trim_matches('/').to_string(),
            create_bucket: self.create_bucket,
        }
    }
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub mongo: MongoArgs,
    #[command(flatten)]
    pub s3: S3Args,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub mongo: MongoArgs,
    #[command(flatten)]
    pub s3: S3Args,
    /// The backup's key (default: the latest under the prefix).
    #[arg(long)]
    pub key: Option<String>,
    /// Drop the collection first, so that it holds exactly the backup.
    #[arg(long)]
    pub drop: bool,
}

/// What a command did; printed as JSON with `--json`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    pub command: &'static str,
    pub exit_code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timed_query: Option<QueryTiming>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreOutcome>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct RunFigures {
    pub inputs: usize,
    pub records_read: u64,
    pub documents: u64,
    pub per_source: BTreeMap<String, u64>,
    pub duplicates: u64,
    pub records_rejected: u64,
    pub values_unparseable: u64,
    pub error_rate_pct: f64,
    pub transform_ms: u128,
    pub transform_docs_per_s: f64,
    pub outputs: Vec<String>,
}

fn finish(mut s: Summary, exit: Exit) -> (Summary, Exit) {
    s.exit_code = exit as u8;
    (s, exit)
}

fn worst(a: Exit, b: Exit) -> Exit {
    if (b as u8) > (a as u8) {
        b
    } else {
        a
    }
}

const TIMEOUT: Duration = Duration::from_secs(3);
const QUERY_RUNS: usize = 5;

/// Connects within `timeout` (`stations run` / `verify`: [`TIMEOUT`]; `backup` / `restore`: their
/// `--connect-timeout`), saying where first.
fn connect(m: &MongoArgs, timeout: Duration) -> Result<WeatherCollection, String> {
    let shown = cityflow::shown::url(&m.server.url);
    tracing::info!("connecting to MongoDB at {shown} ...");
    WeatherCollection::connect(&m.server.url, &m.server.database, &m.collection, timeout)
}

/// The station with the most documents and its fullest UTC day.
fn busiest_in(docs: &[Document]) -> Option<(String, NaiveDate)> {
    let mut per: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
    for d in docs {
        *per.entry(&d.station.station_id)
            .or_default()
            .entry(d.timestamp_text().chars().take(10).collect())
            .or_default() += 1;
    }
    let (station, days) = per.iter().max_by(|a, b| {
        let n = |m: &BTreeMap<String, u64>| m.values().sum::<u64>();
        n(a.1).cmp(&n(b.1)).then(b.0.cmp(a.0))
    })?;
    busiest(days).map(|d| (station.to_string(), d))
}

fn timed(
    coll: &WeatherCollection,
    q: &QueryArgs,
    fallback: Option<(String, NaiveDate)>,
) -> Result<Option<QueryTiming>, String> {
    let pick = match (&q.query_station, q.query_date, fallback) {
        (Some(s), Some(d), _) => Some((s.clone(), d)),
        (Some(s), None, Some((fs, fd))) if *s == fs => Some((fs, fd)),
        (Some(s), None, _) => {
            // The station's fullest day, from the collection.
            return match coll.busiest_day()? {
                Some((bs, d)) if bs == *s => coll.timed_query(s, d, QUERY_RUNS).map(Some),
                _ => Err(format!("--query-station {s} needs --query-date")),
            };
        }
        (None, Some(d), Some((fs, _))) => Some((fs, d)),
        (None, _, f) => f,
    };
    match pick {
        Some((s, d)) => coll.timed_query(&s, d, QUERY_RUNS).map(Some),
        None => Ok(None),
    }
}

/// The `stations` command: the clock, the subcommand, its messages on stderr (as errors when
/// it did not end clean), its summary as JSON on stdout with `--json`.
pub fn command(args: &StationsArgs) -> Exit {
    let clock = match Clock::from_env() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return Exit::Usage;
        }
    };
    let (summary, exit) = match &args.command {
        Command::Run(a) => run(a, &clock, args.quiet),
        Command::Verify(a) => verify(a, args.quiet),
        Command::Backup(a) => backup(a, &clock, args.quiet),
        Command::Restore(a) => restore(a, args.quiet),
    };
    for m in &summary.messages {
        // Messages quote file names, sheet names and labels from the data.
        let m = cityflow::shown::name(m);
        if exit == Exit::Clean {
            tracing::info!("{m}");
        } else {
            tracing::error!("{m}");
        }
    }
    if args.json {
        cityflow::cli::print_json(&summary);
    }
    exit
}

/// `stations run`.
pub fn run(a: &RunArgs, clock: &Clock, quiet: bool) -> (Summary, Exit) {
    let mut s = Summary {
        command: "run",
        ..Default::default()
    };
    let catalog = match Catalog::load(&a.stations) {
        Ok(c) => c,
        Err(e) => {
            s.messages.push(e);
            return finish(s, Exit::Usage);
        }
    };
    let (starts, inputs) =
        match StartDates::parse(&a.start_date).and_then(|st| Ok((st, discover(&a.inputs)?))) {
            Ok(x) => x,
            Err(e) => {
                s.messages.push(e);
                return finish(s, Exit::Usage);
            }
        };
    let t0 = Instant::now();
    let (docs, dups, collector) = transform(&inputs, &catalog, &starts);
    let mut lines = String::new();
    for d in &docs {
        lines.push_str(&d.to_line());
        lines.push('\n');
    }
    let transform_time = t0.elapsed();
    let mut exit = if collector.is_clean() && dups.conflicting == 0 {
        Exit::Clean
    } else {
        Exit::Unclean
    };
    let report = quality::build(collector, &docs, dups, clock.timestamp());
    if !quiet {
        eprint_text(&report.table());
    }
    let store = LocalStore::new(&a.output);
    let outputs = [
        ("stations/weather_data.jsonl", lines.into_bytes()),
        (
            "stations/quality_report_stations.json",
            cityflow::json::to_json_bytes(&report),
        ),
    ];
    let mut written = Vec::new();
    for (rel, body) in outputs {
        let doc = OutputDoc {
            rel_path: rel.to_string(),
            body,
        };
        match store.put(&doc) {
            Ok(_) => written.push(a.output.join(rel).display().to_string()),
            Err(e) => {
                s.messages.push(e.to_string());
                exit = Exit::Output;
            }
        }
    }
    if let Err(errors) = store.flush() {
        s.messages.extend(errors.iter().map(|e| e.to_string()));
        exit = Exit::Output;
    }
    let secs = transform_time.as_secs_f64();
    let t = &report.totals;
    s.run = Some(RunFigures {
        inputs: inputs.len(),
        records_read: t.records_read,
        documents: t.documents,
        per_source: report
            .per_source
            .iter()
            .map(|(k, m)| (k.clone(), m.values().sum()))
            .collect(),
        duplicates: t.duplicates,
        records_rejected: t.records_rejected,
        values_unparseable: t.values_unparseable,
        error_rate_pct: t.error_rate_pct,
        transform_ms: transform_time.as_millis(),
        transform_docs_per_s: if secs > 0.0 {
            (docs.len() as f64 / secs).round()
        } else {
            0.0
        },
        outputs: written,
    });
    if exit == Exit::Unclean {
        s.messages.push(format!(
            "some input was refused or could not be read: see {}",
            a.output
                .join("stations/quality_report_stations.json")
                .display()
        ));
    }
    if a.backend == "mongo" {
        exit = worst(exit, import_and_verify(a, &docs, &mut s, quiet));
    }
    finish(s, exit)
}

fn import_and_verify(a: &RunArgs, docs: &[Document], s: &mut Summary, quiet: bool) -> Exit {
    let coll = match connect(&a.mongo, TIMEOUT) {
        Ok(c) => c,
        Err(e) => {
            s.messages.push(format!(
                "MongoDB unreachable ({e}): the documents are in the JSON Lines file only"
            ));
            return Exit::Backend;
        }
    };
    let json: Vec<serde_json::Value> = docs.iter().map(Document::to_json).collect();
    let stats = match coll.import(&json) {
        Ok(x) => x,
        Err(e) => {
            s.messages.push(e);
            return Exit::Backend;
        }
    };
    if !quiet {
        eprint_text(&format!(
            "import into {}: {} created, {} replaced, {} unchanged ({} ms, {} docs/s)\n",
            coll.shown,
            stats.created,
            stats.replaced,
            stats.unchanged,
            stats.elapsed_ms,
            stats.docs_per_s
        ));
    }
    s.import = Some(stats);
    verify_and_time(
        &coll,
        Some(docs.len() as u64),
        &a.query,
        busiest_in(docs),
        s,
        quiet,
    )
}

fn verify_and_time(
    coll: &WeatherCollection,
    expected: Option<u64>,
    q: &QueryArgs,
    fallback: Option<(String, NaiveDate)>,
    s: &mut Summary,
    quiet: bool,
) -> Exit {
    let v = match coll.verify(expected) {
        Ok(v) => v,
        Err(e) => {
            s.messages.push(e);
            return Exit::Backend;
        }
    };
    // The verification table is the point of the command: shown even with --quiet.
    eprint_text(&v.table());
    let mut exit = Exit::Clean;
    if !v.ok {
        s.messages
            .push("post-import verification failed (see the table)".into());
        exit = Exit::Output;
    }
    s.verification = Some(v);
    match timed(coll, q, fallback) {
        Ok(Some(t)) => {
            if !quiet {
                eprint_text(&format!(
                    "timed query {}: {} documents, first {} ms, median {} ms of {} runs ({})\n",
                    t.filter, t.documents, t.first_ms, t.median_ms, t.runs, t.plan
                ));
            }
            s.timed_query = Some(t);
        }
        Ok(None) => {}
        Err(e) => {
            s.messages.push(e);
            exit = worst(exit, Exit::Usage);
        }
    }
    exit
}

/// Runs `f` on the collection, or reports MongoDB unreachable (exit 3).
fn with_collection(
    command: &'static str,
    m: &MongoArgs,
    timeout: Duration,
    f: impl FnOnce(&WeatherCollection, &mut Summary) -> Exit,
) -> (Summary, Exit) {
    let mut s = Summary {
        command,
        ..Default::default()
    };
    let exit = match connect(m, timeout) {
        Ok(coll) => f(&coll, &mut s),
        Err(e) => {
            s.messages.push(format!("MongoDB unreachable: {e}"));
            Exit::Backend
        }
    };
    finish(s, exit)
}

/// `stations verify`.
pub fn verify(a: &VerifyArgs, quiet: bool) -> (Summary, Exit) {
    with_collection("verify", &a.mongo, TIMEOUT, |coll, s| {
        let expected = match &a.expect {
            Some(p) => match std::fs::read(p) {
                Ok(b) => Some(b.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count() as u64),
                Err(e) => {
                    s.messages.push(format!("{}: {e}", p.display()));
                    return Exit::Usage;
                }
            },
            None => None,
        };
        match coll.busiest_day() {
            Ok(fallback) => verify_and_time(coll, expected, &a.query, fallback, s, quiet),
            Err(e) => {
                s.messages.push(e);
                Exit::Backend
            }
        }
    })
}

/// `stations backup`.
pub fn backup(a: &BackupArgs, clock: &Clock, quiet: bool) -> (Summary, Exit) {
    with_collection(
        "backup",
        &a.mongo,
        a.s3.aws.connect_timeout,
        |coll, s| match backup::backup(coll, &a.s3.target(), clock) {
            Ok(b) => {
                if !quiet {
                    eprint_text(&format!(
                        "backup: {} documents, {} bytes -> {} bytes gzip, s3://{}/{} ({} ms)\n",
                        b.documents,
                        b.uncompressed_bytes,
                        b.compressed_bytes,
                        b.bucket,
                        b.key,
                        b.elapsed_ms
                    ));
                }
                s.backup = Some(b);
                Exit::Clean
            }
            Err((exit, m)) => {
                s.messages.push(m);
                exit
            }
        },
    )
}

/// `stations restore`.
pub fn restore(a: &RestoreArgs, quiet: bool) -> (Summary, Exit) {
    with_collection(
        "restore",
        &a.mongo,
        a.s3.aws.connect_timeout,
        |coll, s| match backup::restore(coll, &a.s3.target(), a.key.as_deref(), a.drop) {
            Ok(r) => {
                eprint_text(&r.verification.table());
                if !quiet {
                    eprint_text(&format!(
                        "restore of s3://{}/{}: {} documents ({} created, {} replaced, {} \
                         unchanged), collection identical to the backup: {}\n",
                        r.bucket,
                        r.key,
                        r.documents_in_backup,
                        r.import.created,
                        r.import.replaced,
                        r.import.unchanged,
                        r.identical
                    ));
                }
                let ok = r.identical && r.verification.ok;
                if !ok {
                    s.messages.push(format!(
                        "the collection ({} documents) is not exactly the backup ({} documents){}",
                        r.verification.documents,
                        r.documents_in_backup,
                        if a.drop {
                            ""
                        } else {
                            ": restore with --drop for an exact copy"
                        }
                    ));
                }
                s.restore = Some(r);
                if ok {
                    Exit::Clean
                } else {
                    Exit::Output
                }
            }
            Err((exit, m)) => {
                s.messages.push(m);
                exit
            }
        },
    )
}
