//! `upload`: pushes selected dates and types of the local outputs to DynamoDB (metrics and
//! reports tables) and S3 (report files), idempotently, with an exact dry-run.
//!
//! selection ([`select`]) -> plan ([`plan`], pure, shared by `--dry-run` and the real run) ->
//! execute (batched DynamoDB writes and S3 puts, bounded concurrency, ledger saved after each
//! confirmed unit) -> summary. `--verify` reads everything back and compares, writing nothing.

pub mod dynamo;
mod execute;
pub mod init;
pub mod ledger;
mod origin;
pub mod payloads;
pub mod plan;
pub mod select;

pub use execute::{ANALYTICS_BUCKET_HINT, BUCKET_HINT};

use cityflow::shown::name;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant as WallClock;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Days, NaiveDate};
use clap::Parser;
use serde::Serialize;
use serde_json::Value;

use crate::aws::client::{runtime, Clients};
use crate::aws::options::{AwsArgs, AwsOptions};
use crate::aws::{failure, retry, s3};
use crate::plan::{human, Action, ReportArgs};
use cityflow::cli::{parse_date, MongoArgs};
use cityflow::error::Exit;
use cityflow::output::sha256_hex;
use ledger::Ledger;
use plan::{Destination, PlanOptions, Remote, Step};
use select::Selection;

/// The reports bucket of the users' documented set-up (its `.env`).
pub const DEFAULT_BUCKET: &str = "cityflow-reports-paris";

const EXAMPLES: &str = "\
Examples:
  upload --dry-run                                   what would be pushed, no network
  upload --date 2025-11-04 --type comptages,reports  one day, two targets
  upload --from 2025-11-01 --to 2025-11-30 --json
  upload --init --create-bucket                      create tables (TTL on) and bucket, then push
  upload --verify                                    compare remote with local, write nothing
  upload --type analytics                            the Parquet tables, to S3_ANALYTICS_BUCKET
  upload --endpoint-url http://127.0.0.1:8333 --s3-checksums off   an S3-compatible store

Environment: OUTPUT_DIR, AWS_REGION, AWS_PROFILE (credential chain), AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3, DYNAMODB_METRICS_TABLE, DYNAMODB_REPORTS_TABLE,
S3_REPORTS_BUCKET, S3_REPORTS_PREFIX, S3_PAYLOADS_PREFIX, S3_ANALYTICS_BUCKET, S3_ANALYTICS_PREFIX,
TTL_DAYS, CITYFLOW_S3_CHECKSUMS, CITYFLOW_CONNECT_TIMEOUT, CITYFLOW_READ_TIMEOUT,
CITYFLOW_OPERATION_TIMEOUT.

Items over 400 KB keep their keys, timestamp and ttl in DynamoDB; their payload goes to
s3://<bucket>/<payloads prefix>/<table>/<key>/<date>/<sha256>.json with {payload_s3_uri, sha256,
bytes}.

Exit codes:
  0    every target confirmed (or nothing to do)
  1    some targets failed or differ (listed; `--retry-failed`)
  2    usage or configuration error (bad date, unknown type, conflicting flags, missing table: run `--init`, a default bucket the caller does not own)
  3    credentials missing or refused, or endpoint unreachable within the timeouts (the targets are recorded as failed)
  130  interrupted by SIGINT (Ctrl-C): requests in flight finished or aborted, ledger saved; re-run to finish
  143  stopped by SIGTERM: as 130";

/// `upload`: push local metrics and reports to DynamoDB and S3.
#[derive(Debug, Parser)]
#[command(name = "upload", version, about, after_help = EXAMPLES)]
pub struct UploadArgs {
    /// A date to push (repeatable).
    #[arg(long = "date", value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub dates: Vec<NaiveDate>,
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub from: Option<NaiveDate>,
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub to: Option<NaiveDate>,
    /// Comma list of `metrics`, `reports`, `analytics`, `all` and metric types (comptages,
    /// bikes, ...). `all` is the metrics and the reports; `all,analytics` adds the tables.
    #[arg(long = "type", value_name = "TYPES", default_value = "all")]
    pub types: String,
    /// Output folder written by `process` (with --source mongo: where the ledger is kept).
    #[arg(long, env = "OUTPUT_DIR", value_name = "DIR", default_value = "output")]
    pub output: PathBuf,
    /// Read the outputs from the files (default) or from the MongoDB a laptop run filled.
    #[arg(long, value_name = "files|mongo", default_value = "files", value_parser = ["files", "mongo"])]
    pub source: String,
    #[command(flatten)]
    pub mongo: MongoArgs,
    /// Print the plan (+ new, * changed, = unchanged, ! error) and write nothing anywhere (no
    /// credentials, no network).
    #[arg(long, conflicts_with_all = ["verify", "init"])]
    pub dry_run: bool,
    /// Read every selected target back and compare it with the local file; write nothing.
    #[arg(long, conflicts_with_all = ["init", "force", "retry_failed"])]
    pub verify: bool,
    /// Push even targets the ledger says are unchanged.
    #[arg(long, conflicts_with = "retry_failed")]
    pub force: bool,
    /// Only the targets that failed in the last run.
    #[arg(long)]
    pub retry_failed: bool,
    /// Create missing tables (on-demand, TTL on `ttl`) before pushing.
    #[arg(long)]
    pub init: bool,
    /// With --init: create the bucket too.
    #[arg(long, requires = "init")]
    pub create_bucket: bool,
    /// Item TTL: data date + this many days.
    #[arg(long, env = "TTL_DAYS", default_value_t = 365)]
    pub ttl_days: u32,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// DynamoDB endpoint (before --endpoint-url for DynamoDB).
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL_DYNAMODB",
        value_name = "URL",
        help_heading = "AWS"
    )]
    pub dynamodb_endpoint_url: Option<String>,
    #[arg(
        long,
        env = "DYNAMODB_METRICS_TABLE",
        default_value = "cityflow-metrics"
    )]
    pub metrics_table: String,
    #[arg(
        long,
        env = "DYNAMODB_REPORTS_TABLE",
        default_value = "cityflow-reports"
    )]
    pub reports_table: String,
    /// The reports bucket. Its default is refused unless the caller owns it (ListBuckets) or
    /// `--init --create-bucket` made it: bucket names are global.
    #[arg(
        long,
        env = "S3_REPORTS_BUCKET",
        default_value = DEFAULT_BUCKET
    )]
    pub bucket: String,
    #[arg(long, env = "S3_REPORTS_PREFIX", default_value = "reports")]
    pub reports_prefix: String,
    #[arg(long, env = "S3_PAYLOADS_PREFIX", default_value = "payloads")]
    pub payloads_prefix: String,
    /// Bucket of the analytics tables (`--type analytics`).
    #[arg(
        long,
        env = "S3_ANALYTICS_BUCKET",
        default_value = "cityflow-analytics"
    )]
    pub analytics_bucket: String,
    /// Key prefix of the analytics tables: `<prefix>/<table>/date=YYYY-MM-DD/part-0.parquet`.
    #[arg(long, env = "S3_ANALYTICS_PREFIX", default_value = "analytics")]
    pub analytics_prefix: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Items per BatchWriteItem (1-25; 1 with --concurrency 1 is the prototype's one-by-one way).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u8).range(1..=25))]
    pub batch_size: u8,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub output: PathBuf,
    /// `Some((url, database))`: read the outputs from MongoDB.
    pub mongo_source: Option<(String, String)>,
    pub selection: Selection,
    pub destination: Destination,
    pub aws: AwsOptions,
    pub payloads_prefix: String,
    pub plan: PlanOptions,
    pub dry_run: bool,
    pub verify: bool,
    pub init: bool,
    pub create_bucket: bool,
    /// The bucket is the default name (no flag, no variable): refused unless the caller owns
    /// it.
    pub bucket_is_default: bool,
    pub concurrency: usize,
    pub batch_size: usize,
    pub progress: bool,
}

impl Settings {
    pub fn resolve(a: &UploadArgs) -> Result<Settings, String> {
        let (metric_types, reports, analytics) = Selection::parse_types(&a.types)?;
        if let (Some(f), Some(t)) = (a.from, a.to) {
            if f > t {
                return Err(format!("--from {f} is after --to {t}"));
            }
        }
        let mongo_source =
            (a.source == "mongo").then(|| (a.mongo.url.clone(), a.mongo.database.clone()));
        if mongo_source.is_some() {
            std::fs::create_dir_all(&a.output)
                .map_err(|e| format!("cannot create {}: {e}", a.output.display()))?;
        }
        if !a.output.is_dir() {
            return Err(format!(
                "output folder {} does not exist (set --output or OUTPUT_DIR)",
                a.output.display()
            ));
        }
        if a.concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        let mut aws = a.aws.options(a.dynamodb_endpoint_url.clone());
        aws.uses_dynamodb = true;
        Ok(Settings {
            output: a.output.clone(),
            mongo_source,
            selection: Selection {
                dates: a.dates.iter().copied().collect(),
                from: a.from,
                to: a.to,
                metric_types,
                reports,
                analytics,
            },
            destination: Destination {
                id: aws.endpoint_id(),
                metrics_table: a.metrics_table.clone(),
                reports_table: a.reports_table.clone(),
                bucket: a.bucket.clone(),
                reports_prefix: a.reports_prefix.clone(),
                ttl_days: a.ttl_days,
                analytics_bucket: a.analytics_bucket.clone(),
                analytics_prefix: a.analytics_prefix.clone(),
            },
            aws,
            payloads_prefix: a.payloads_prefix.trim_matches('/').to_string(),
            plan: PlanOptions {
                force: a.force,
                retry_failed: a.retry_failed,
            },
            dry_run: a.dry_run,
            verify: a.verify,
            init: a.init,
            create_bucket: a.create_bucket,
            bucket_is_default: origin::is_default("bucket"),
            concurrency: a.concurrency,
            batch_size: usize::from(a.batch_size),
            progress: a.report.progress(),
        })
    }
}

/// One target's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub action: Action,
    pub target: String,
    pub file: String,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub offloaded: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub mode: &'static str,
    pub exit_code: u8,
    pub planned_new: usize,
    pub planned_changed: usize,
    pub unchanged: usize,
    pub written: usize,
    pub failed: usize,
    /// `--verify`: targets whose remote copy is missing or differs.
    pub differ: usize,
    pub bytes_written: u64,
    pub retries: u32,
    pub elapsed_ms: u128,
    pub items_per_s: f64,
    pub targets: Vec<TargetReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
}

/// The expiry of an item: the data date plus the retention, at 00:00 UTC (stable across runs).
pub fn ttl_of(date: NaiveDate, days: u32) -> i64 {
    let d = date
        .checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(date);
    d.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp()
}

/// The DynamoDB item of a local envelope, or its pointer item plus the payload to offload.
pub struct BuiltItem {
    pub item: HashMap<String, AttributeValue>,
    /// (S3 key, compact JSON payload) when offloaded.
    pub offload: Option<(String, Vec<u8>)>,
}

pub fn build_item(
    local: &Value,
    remote: &Remote,
    ttl: i64,
    bucket: &str,
    payloads_prefix: &str,
) -> BuiltItem {
    let (table, pk_name, pk, date) = match remote {
        Remote::Item {
            table,
            pk_name,
            pk,
            date,
        } => (table, *pk_name, pk, date),
        Remote::Object { .. } => unreachable!("objects are not items"),
    };
    let body_key = if pk_name == "metric_type" {
        "metrics"
    } else {
        "report"
    };
    let mut item: HashMap<String, AttributeValue> = HashMap::new();
    item.insert(pk_name.to_string(), AttributeValue::S(pk.clone()));
    item.insert("date".into(), AttributeValue::S(date.clone()));
    if let Some(ts) = local.get("timestamp").and_then(Value::as_str) {
        item.insert("timestamp".into(), AttributeValue::S(ts.to_string()));
    }
    item.insert("ttl".into(), AttributeValue::N(ttl.to_string()));
    let body = local.get(body_key).cloned().unwrap_or(Value::Null);
    let mut full = item.clone();
    full.insert(body_key.into(), dynamo::to_attr(&body));
    if dynamo::item_size(&full) <= dynamo::OFFLOAD_ABOVE {
        return BuiltItem {
            item: full,
            offload: None,
        };
    }
    let payload = serde_json::to_vec(&body).expect("JSON serialises");
    let prefix = if payloads_prefix.is_empty() {
        String::new()
    } else {
        format!("{payloads_prefix}/")
    };
    // Named by its hash: the pointer in place keeps naming a whole payload while a new one is
    // written; the older ones are removed once the new pointer is confirmed.
    let sha = sha256_hex(&payload);
    let key = format!("{prefix}{table}/{pk}/{date}/{sha}.json");
    item.insert(
        "payload_s3_uri".into(),
        AttributeValue::S(format!("s3://{bucket}/{key}")),
    );
    item.insert("payload_key".into(), AttributeValue::S(body_key.into()));
    item.insert("sha256".into(), AttributeValue::S(sha));
    item.insert("bytes".into(), AttributeValue::N(payload.len().to_string()));
    BuiltItem {
        item,
        offload: Some((key, payload)),
    }
}

/// Reads an item back whole: the envelope as JSON (with `ttl`), its offloaded payload fetched
/// from S3, checked against its SHA-256 and put back under `metrics` / `report`.
pub async fn read_item(
    c: &Clients,
    table: &str,
    pk_name: &str,
    pk: &str,
    date: &str,
) -> Result<Option<Value>, String> {
    read_item_failed(c, table, pk_name, pk, date)
        .await
        .map_err(|e| e.1)
}

/// [`read_item`], its failure classified (unreachable, credentials...).
pub(crate) async fn read_item_failed(
    c: &Clients,
    table: &str,
    pk_name: &str,
    pk: &str,
    date: &str,
) -> Result<Option<Value>, failure::Failed> {
    let other = |m: String| (failure::Failure::Other, m);
    let (out, _) = retry::retry(&c.dynamodb, || {
        c.dynamodb
            .get_item()
            .table_name(table)
            .key(pk_name, AttributeValue::S(pk.to_string()))
            .key("date", AttributeValue::S(date.to_string()))
            .consistent_read(true)
            .send()
    })
    .await;
    let out = out.map_err(|e| (failure::classify(&e), failure::describe(&e)))?;
    let Some(item) = out.item else {
        return Ok(None);
    };
    let mut v = dynamo::item_to_json(&item);
    let pointer = v
        .get("payload_s3_uri")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(uri) = pointer {
        let (bucket, key) = uri
            .strip_prefix("s3://")
            .and_then(|r| r.split_once('/'))
            .ok_or(other(format!("bad payload URI {uri}")))?;
        let (bytes, _) = s3::get(&c.s3, bucket, key)
            .await?
            .ok_or(other(format!("payload {uri} is missing")))?;
        let want = v.get("sha256").and_then(Value::as_str).unwrap_or("");
        if sha256_hex(&bytes) != want {
            return Err(other(format!("payload {uri} does not match its sha256")));
        }
        let payload: Value =
            serde_json::from_slice(&bytes).map_err(|e| other(format!("payload {uri}: {e}")))?;
        let body_key = v
            .get("payload_key")
            .and_then(Value::as_str)
            .unwrap_or("metrics")
            .to_string();
        if let Some(o) = v.as_object_mut() {
            for k in ["payload_s3_uri", "payload_key", "sha256", "bytes"] {
                o.shift_remove(k);
            }
            o.insert(body_key, payload);
        }
    }
    Ok(Some(v))
}

fn counts(steps: &[Step]) -> (usize, usize, usize, usize) {
    let n = |a: Action| steps.iter().filter(|s| s.action == a).count();
    (
        n(Action::New),
        n(Action::Changed),
        n(Action::Unchanged),
        n(Action::Error),
    )
}

/// Runs `upload`. Returns the summary and the exit code.
pub fn run(s: &Settings) -> (Summary, Exit) {
    let started = WallClock::now();
    let ledger_path = ledger::path(&s.output);
    let mut summary = Summary {
        mode: if s.dry_run {
            "dry-run"
        } else if s.verify {
            "verify"
        } else {
            "upload"
        },
        exit_code: 0,
        planned_new: 0,
        planned_changed: 0,
        unchanged: 0,
        written: 0,
        failed: 0,
        differ: 0,
        bytes_written: 0,
        retries: 0,
        elapsed_ms: 0,
        items_per_s: 0.0,
        targets: Vec::new(),
        messages: Vec::new(),
    };
    let fail = execute::finish_with;
    let ledger = match Ledger::load(&ledger_path) {
        Ok(l) => l,
        Err(e) => return fail(summary, Exit::Usage, e),
    };
    let selected = match &s.mongo_source {
        None => select::select(&s.output, &s.selection)
            .map_err(|e| (Exit::Usage, format!("reading {}: {e}", s.output.display()))),
        Some((url, db)) => {
            // Server selection and connection within --connect-timeout.
            tracing::info!("reading from MongoDB at {} ...", cityflow::shown::url(url));
            cityflow::store::mongo::MongoStore::connect(
                url,
                db,
                s.aws.timeouts.connect,
                chrono::Utc::now(),
            )
        }
        .map_err(|e| (Exit::Backend, format!("MongoDB unreachable: {e}")))
        .and_then(|m| select::mongo_entries(&m, &s.selection).map_err(|e| (Exit::Backend, e)))
        .and_then(|(mut entries, odd)| {
            // The tables and pages a MongoDB run writes to files, under --output.
            let (o, sel) = (&s.output, &s.selection);
            let files = select::analytics_entries(o, sel).and_then(|mut f| {
                f.extend(select::html_entries(o, sel)?);
                Ok(f)
            });
            let files =
                files.map_err(|e| (Exit::Usage, format!("reading {}: {e}", o.display())))?;
            entries.extend(files);
            Ok((entries, odd))
        })
        .map(|(entries, mut odd)| {
            let (locals, invalid) = select::select_entries(entries, &s.selection);
            odd.extend(invalid);
            (locals, odd)
        }),
    };
    let (locals, invalid) = match selected {
        Ok(x) => x,
        Err((exit, e)) => return fail(summary, exit, e),
    };
    let plan_opts = if s.verify {
        PlanOptions {
            force: true,
            retry_failed: false,
        }
    } else {
        s.plan
    };
    let steps = plan::plan(locals, invalid, &s.destination, &ledger, plan_opts);
    let (new, changed, unchanged, errors) = counts(&steps);
    summary.planned_new = new;
    summary.planned_changed = changed;
    summary.unchanged = unchanged;
    if s.dry_run && !s.verify {
        for st in &steps {
            let t = execute::report_of(st, st.action, st.error.clone(), false);
            summary.targets.push(t);
        }
        summary.failed = errors;
        let exit = if errors > 0 {
            Exit::Unclean
        } else {
            Exit::Clean
        };
        summary.exit_code = exit as u8;
        summary.elapsed_ms = started.elapsed().as_millis();
        return (summary, exit);
    }
    if !s.verify {
        // Ledger copies left by a killed run (`.upload-ledger.json.<pid>.tmp`).
        let _ = cityflow::store::local::remove_stale_temps(&s.output);
    }
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return fail(summary, Exit::Usage, e),
    };
    let (summary, exit) = rt.block_on(execute::execute(s, steps, ledger, ledger_path, summary));
    let mut summary = summary;
    summary.elapsed_ms = started.elapsed().as_millis();
    let secs = started.elapsed().as_secs_f64().max(1e-3);
    summary.items_per_s = summary.written as f64 / secs;
    summary.exit_code = exit as u8;
    (summary, exit)
}

/// The `upload` command: settings from the flags, the run, its summary on stdout (JSON with
/// `--json`, else lines; with `--quiet` only when something failed), what went wrong on stderr.
pub fn command(args: &UploadArgs) -> Exit {
    let settings = match Settings::resolve(args) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return Exit::Usage;
        }
    };
    for line in origin::destinations(&settings) {
        tracing::info!("{line}");
    }
    let (summary, exit) = run(&settings);
    args.report.print(&summary, exit, print_human);
    if exit != Exit::Clean {
        for m in &summary.messages {
            tracing::error!("{}", name(m));
        }
    }
    exit
}

/// Prints the plan lines (dry-run) or the per-target results, then totals, on stdout.
pub fn print_human(summary: &Summary) {
    use std::fmt::Write;
    let mut out = String::new();
    for t in &summary.targets {
        let sym = t.action.symbol();
        // Names from a listing or from documents: control characters escaped.
        let (target, file) = (name(&t.target), name(&t.file));
        match &t.error {
            Some(e) => _ = writeln!(out, "{sym} {target:<60} {file}: {}", name(e)),
            None => {
                _ = writeln!(
                    out,
                    "{sym} {target:<60} {:>9}  {file}{}",
                    human(t.bytes),
                    if t.offloaded {
                        "  (payload offloaded to S3)"
                    } else {
                        ""
                    }
                )
            }
        }
    }
    if summary.mode == "verify" {
        _ = writeln!(
            out,
            "verify: {} same, {} differ or missing, {} failed, {} ms",
            summary.unchanged, summary.differ, summary.failed, summary.elapsed_ms
        );
        for m in summary.messages.iter().filter(|_| summary.exit_code == 0) {
            _ = writeln!(out, "{}", name(m));
        }
        return crate::plan::print_text(&out);
    }
    // A run that did not end clean says why on stderr (once): not here again.
    let messages: &[String] = if summary.exit_code == 0 {
        &summary.messages
    } else {
        &[]
    };
    _ = writeln!(
        out,
        "{}: {} new, {} changed, {} unchanged, {} written ({}), {} failed, {} retries, {} ms",
        summary.mode,
        summary.planned_new,
        summary.planned_changed,
        summary.unchanged,
        summary.written,
        human(summary.bytes_written),
        summary.failed,
        summary.retries,
        summary.elapsed_ms
    );
    for m in messages {
        _ = writeln!(out, "{}", name(m));
    }
    crate::plan::print_text(&out);
}
