//! `raw pull` / `raw push`: resumable, verified transfers between the raw zone in S3 and local
//! folders.
//!
//! Both commands: list the remote prefix (paginated) and the local side -> plan each object
//! (`+` new, `*` changed, `=` unchanged, `!` error), decided by content (SHA-256, or the ETag
//! recorded at the last transfer), never by dates -> `--dry-run` stops there -> execute with
//! bounded concurrency, optional bandwidth limit, progress bar -> summary.
//!
//! - [`pull`]: downloads to `.<name>.cityflow-part` beside the target, verifies (the object's
//!   SHA-256 metadata, else its single-part ETag, else its size), then renames; large objects go
//!   in ranged chunks written at their offsets, and an interrupted download resumes with the
//!   chunks it lacks.
//! - [`push`]: each object carries its SHA-256 (metadata `sha256`, plus the S3 checksum of each
//!   request) and is checked after upload; multipart above a threshold, the upload id and
//!   confirmed parts kept in the [`ledger`] so a killed push resumes; a completion marker
//!   (`_cityflow_push.json`, the manifest) closes a whole push.

pub mod ledger;
pub mod local;
pub mod pull;
pub mod push;
pub mod rate;

use cityflow::shown::{self, name};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::aws::failure::Failed;
use crate::aws::health::BucketHint;
use crate::aws::options::{AwsArgs, AwsOptions};
use crate::plan::{human, Action, ReportArgs};
use crate::signal::{Signal, Stopping};
use cityflow::error::Exit;
use cityflow::shards::Shard;
use ledger::Book;
use rate::{parse_size, Limiter};

const EXAMPLES: &str = "\
Examples:
  raw pull                                     s3://bucket-cityflow-paris-s3-raw/cityflow-raw/raw/ -> DATA_DIR
  raw pull --dry-run                           what would be downloaded, with sizes
  raw pull --raw /mnt/raw --bwlimit 20M        into /mnt/raw, at most 20 MiB/s
  raw pull --from 2025-10-19 --to 2025-10-27   only what a shard reading these days needs (`shards`)
  raw push dumps/comptages-2025.csv            one file into the raw zone
  raw push exports/ --zone extracted --to 2025-11 --part-size 64M --concurrency 16
  raw push exports/ --dry-run --json

Environment: DATA_DIR, S3_RAW_BUCKET, S3_RAW_PREFIX, S3_ZONES_ROOT, AWS_REGION, AWS_PROFILE
(credential chain), AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, CITYFLOW_S3_CHECKSUMS,
CITYFLOW_CONNECT_TIMEOUT, CITYFLOW_READ_TIMEOUT, CITYFLOW_OPERATION_TIMEOUT.

Ledgers: <raw>/.cityflow-pull.json and <pushed folder>/.cityflow-push.json (or --ledger).

Exit codes:
  0    every object transferred or unchanged
  1    some objects failed (listed)
  2    usage or configuration error (bad or conflicting flags, missing folder or bucket, corrupt ledger)
  3    credentials missing or refused, or endpoint unreachable within the timeouts (`push --dry-run` still lists the local files)
  130  interrupted by SIGINT (Ctrl-C): requests in flight finished or aborted, ledger saved; re-run to finish
  143  stopped by SIGTERM: as 130";

/// `raw`: copy the raw zone between S3 and local folders, resumable and verified.
#[derive(Debug, Parser)]
#[command(name = "raw", version, about, after_help = EXAMPLES)]
pub struct RawArgs {
    #[command(subcommand)]
    pub command: RawCommand,
}

#[derive(Debug, Subcommand)]
pub enum RawCommand {
    /// Download new or changed objects of s3://BUCKET/PREFIX/ into the local raw folder.
    Pull(PullArgs),
    /// Upload a local file or folder into a zone (raw, extracted, processed) of the bucket.
    Push(PushArgs),
}

#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct PullArgs {
    /// Local raw folder (default as `process`: bucket-cityflow-paris-s3-raw/cityflow-raw/raw if
    /// it exists, else data/cityflow-raw/raw).
    #[arg(long, env = "DATA_DIR", value_name = "DIR")]
    pub raw: Option<PathBuf>,
    #[arg(
        long,
        env = "S3_RAW_BUCKET",
        default_value = "bucket-cityflow-paris-s3-raw"
    )]
    pub bucket: String,
    /// Key prefix copied (a trailing `/` is implied).
    #[arg(long, env = "S3_RAW_PREFIX", default_value = "cityflow-raw/raw/")]
    pub prefix: String,
    /// Only the objects a run reading the days from this one needs: dated partitions
    /// (`dt=YYYY-MM-DD`, `YYYY-MM-DD`) of earlier days are left out; undated files, every
    /// road-counter file, every Vélib' station_information and unrecognised keys are pulled.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = cityflow::cli::parse_date)]
    pub from: Option<NaiveDate>,
    /// As --from: dated partitions of later days are left out.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = cityflow::cli::parse_date)]
    pub to: Option<NaiveDate>,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Zone {
    Raw,
    Extracted,
    Processed,
}

impl Zone {
    pub fn name(self) -> &'static str {
        match self {
            Zone::Raw => "raw",
            Zone::Extracted => "extracted",
            Zone::Processed => "processed",
        }
    }
}

#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct PushArgs {
    /// The file or folder to push (a folder's contents go under the zone, keeping sub-folders).
    #[arg(value_name = "PATH")]
    pub source: PathBuf,
    #[arg(long, value_enum, default_value = "raw")]
    pub zone: Zone,
    /// A sub-path under the zone (e.g. `comptages/2025`).
    #[arg(long, value_name = "SUBPATH")]
    pub to: Option<String>,
    #[arg(
        long,
        env = "S3_RAW_BUCKET",
        default_value = "bucket-cityflow-paris-s3-raw"
    )]
    pub bucket: String,
    /// The folder of the zones in the bucket: keys are <root>/<zone>/[<to>/]<path>.
    #[arg(long, env = "S3_ZONES_ROOT", default_value = "cityflow-raw")]
    pub root: String,
    /// Create the bucket when it does not exist.
    #[arg(long, conflicts_with = "dry_run")]
    pub create_bucket: bool,
    /// Do not write the completion marker (_cityflow_push.json) at the end.
    #[arg(long)]
    pub no_marker: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

#[derive(Debug, Args)]
pub struct TransferArgs {
    /// Requests in flight at once (objects and parts).
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Part size of multipart uploads and ranged downloads (min 5M; raised for files over
    /// 10,000 parts).
    #[arg(long, default_value = "8M", value_parser = parse_size)]
    pub part_size: u64,
    /// Files from this size go multipart (upload) or in ranged chunks (download).
    #[arg(long, default_value = "8M", value_parser = parse_size)]
    pub multipart_threshold: u64,
    /// Bandwidth limit in bytes per second (e.g. 20M, 500K).
    #[arg(long, value_name = "RATE", value_parser = parse_size)]
    pub bwlimit: Option<u64>,
    /// Print the plan (+ new, * changed, = unchanged, ! error) with sizes; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The ledger file (default: in the local folder).
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// S3's limits on multipart uploads.
pub const MIN_PART: u64 = 5 << 20;
pub const MAX_PART: u64 = 5 << 30;
pub const MAX_PARTS: u64 = 10_000;

/// Resolved options common to both commands.
#[derive(Debug, Clone)]
pub struct Common {
    pub aws: AwsOptions,
    /// Identifies the endpoint in ledger keys (`aws:<region>` or the endpoint URL).
    pub endpoint_id: String,
    pub concurrency: usize,
    pub part_size: u64,
    pub multipart_above: u64,
    pub bwlimit: Option<u64>,
    pub dry_run: bool,
    pub progress: bool,
    pub ledger: Option<PathBuf>,
}

impl Common {
    fn resolve(a: &AwsArgs, t: &TransferArgs) -> Result<Common, String> {
        if t.concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        if !(MIN_PART..=MAX_PART).contains(&t.part_size) {
            return Err(format!(
                "--part-size {} is outside S3's limits (5 MiB to 5 GiB)",
                t.part_size
            ));
        }
        let aws = a.options(None);
        Ok(Common {
            endpoint_id: aws.s3_endpoint_id(),
            aws,
            concurrency: t.concurrency,
            part_size: t.part_size,
            multipart_above: t.multipart_threshold.max(1),
            bwlimit: t.bwlimit,
            dry_run: t.dry_run,
            progress: t.report.progress(),
            ledger: t.ledger.clone(),
        })
    }

    /// The part size for a file of `bytes`: the configured one, raised (to whole MiB) so that
    /// no file needs more than 10,000 parts.
    pub fn part_size_for(&self, bytes: u64) -> u64 {
        effective_part_size(bytes, self.part_size)
    }
}

pub fn effective_part_size(bytes: u64, part_size: u64) -> u64 {
    if bytes.div_ceil(part_size) <= MAX_PARTS {
        return part_size;
    }
    bytes.div_ceil(MAX_PARTS).div_ceil(1 << 20) * (1 << 20)
}

fn trimmed_prefix(p: &str) -> String {
    let p = p.trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}

#[derive(Debug, Clone)]
pub struct PullSettings {
    pub raw: PathBuf,
    pub bucket: String,
    /// Ends with `/` (or is empty: the whole bucket).
    pub prefix: String,
    /// `--from`/`--to`: the days read by the run the pull is for (`read_from`..`to`).
    pub days: Option<Shard>,
    pub common: Common,
}

/// The objects of a listing a run reading `days` needs ([`cityflow::shards::needs`] on the
/// core's classification of each key relative to `prefix`; unrecognised keys are kept), and
/// how many were left out.
pub fn needed(
    objects: Vec<crate::aws::s3::Listed>,
    prefix: &str,
    days: &Shard,
) -> (Vec<crate::aws::s3::Listed>, usize) {
    let kinds = cityflow::pipeline::file_kinds();
    let before = objects.len();
    let kept: Vec<_> = objects
        .into_iter()
        .filter(|o| {
            let rel = o.key.strip_prefix(prefix).unwrap_or(&o.key);
            match cityflow::discover::classify_rel(rel, &kinds) {
                Some((kind, partition)) => cityflow::shards::needs(kind, rel, partition, days),
                None => true,
            }
        })
        .collect();
    let left_out = before - kept.len();
    (kept, left_out)
}

impl PullSettings {
    pub fn resolve(a: &PullArgs, cwd: &std::path::Path) -> Result<PullSettings, String> {
        let raw = match &a.raw {
            Some(r) => r.clone(),
            None if cwd.join(cityflow::config::LAPTOP_RAW).is_dir() => {
                cwd.join(cityflow::config::LAPTOP_RAW)
            }
            None => cwd.join(cityflow::config::DEFAULT_RAW),
        };
        if raw.exists() && !raw.is_dir() {
            return Err(format!(
                "{} is not a folder (--raw / DATA_DIR)",
                raw.display()
            ));
        }
        if a.bucket.trim().is_empty() {
            return Err("the bucket name is empty (--bucket / S3_RAW_BUCKET)".into());
        }
        let days = match (a.from, a.to) {
            (None, None) => None,
            (from, to) => {
                let (from, to) = (from.unwrap_or(NaiveDate::MIN), to.unwrap_or(NaiveDate::MAX));
                if from > to {
                    return Err(format!("--from {from} is after --to {to}"));
                }
                Some(Shard {
                    index: 0,
                    count: 1,
                    from,
                    to,
                    read_from: from,
                })
            }
        };
        Ok(PullSettings {
            raw,
            bucket: a.bucket.trim().to_string(),
            prefix: trimmed_prefix(&a.prefix),
            days,
            common: Common::resolve(&a.aws, &a.transfer)?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct PushSettings {
    pub source: PathBuf,
    pub bucket: String,
    /// `<root>/<zone>/[<to>/]`.
    pub prefix: String,
    pub marker: bool,
    pub create_bucket: bool,
    pub common: Common,
}

impl PushSettings {
    pub fn resolve(a: &PushArgs) -> Result<PushSettings, String> {
        if !a.source.exists() {
            return Err(format!("{} does not exist", a.source.display()));
        }
        if a.bucket.trim().is_empty() {
            return Err("the bucket name is empty (--bucket / S3_RAW_BUCKET)".into());
        }
        let to = a.to.as_deref().map(trimmed_prefix).unwrap_or_default();
        if to.split('/').any(|c| c == "." || c == "..") {
            return Err(format!("--to {:?}: no `.` or `..` components", a.to));
        }
        Ok(PushSettings {
            source: a.source.clone(),
            bucket: a.bucket.trim().to_string(),
            prefix: format!("{}{}/{to}", trimmed_prefix(&a.root), a.zone.name()),
            marker: !a.no_marker,
            create_bucket: a.create_bucket,
            common: Common::resolve(&a.aws, &a.transfer)?,
        })
    }
}

/// One object's outcome (or plan line).
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub action: Action,
    pub key: String,
    /// Path under the local folder.
    pub path: String,
    pub bytes: u64,
    /// Why it moves (`missing locally`, `changed remotely`, `local copy differs`, `resumed`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// How the transferred object was verified (`sha256`, `md5`, `size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Item {
    /// A local file that could not be considered.
    pub fn failed(key: String, path: String, error: String) -> Item {
        Item {
            action: Action::Error,
            key,
            path,
            bytes: 0,
            reason: None,
            sha256: None,
            verified: None,
            error: Some(error),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// `pull` or `push`.
    pub mode: &'static str,
    pub dry_run: bool,
    pub exit_code: u8,
    pub source: String,
    pub destination: String,
    pub objects: usize,
    pub new: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// Objects transferred and verified.
    pub transferred: usize,
    pub failed: usize,
    /// Bytes of every object considered.
    pub bytes_total: u64,
    /// Bytes of the new and changed objects.
    pub bytes_planned: u64,
    /// Bytes actually sent or received by this run.
    pub bytes_transferred: u64,
    /// Bytes not transferred again thanks to a resumed upload or download.
    pub bytes_resumed: u64,
    /// Transfers resumed from an earlier interrupted run.
    pub resumed: usize,
    /// `pull --from/--to`: the days and how many listed objects their filter left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_filter: Option<DateFilter>,
    pub elapsed_ms: u128,
    pub mb_per_s: f64,
    pub objects_per_s: f64,
    /// The completion marker's key and what happened to it (push).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    pub items: Vec<Item>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
}

impl Summary {
    fn new(mode: &'static str, dry_run: bool, source: String, destination: String) -> Summary {
        Summary {
            mode,
            dry_run,
            exit_code: 0,
            source,
            destination,
            objects: 0,
            new: 0,
            changed: 0,
            unchanged: 0,
            transferred: 0,
            failed: 0,
            bytes_total: 0,
            bytes_planned: 0,
            bytes_transferred: 0,
            bytes_resumed: 0,
            resumed: 0,
            date_filter: None,
            elapsed_ms: 0,
            mb_per_s: 0.0,
            objects_per_s: 0.0,
            marker: None,
            items: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// Counts the plan.
    fn count_plan(&mut self) {
        self.objects = self.items.len();
        let n = |a: Action| self.items.iter().filter(|i| i.action == a).count();
        self.new = n(Action::New);
        self.changed = n(Action::Changed);
        self.unchanged = n(Action::Unchanged);
        self.failed = n(Action::Error);
        self.bytes_total = self.items.iter().map(|i| i.bytes).sum();
        self.bytes_planned = self
            .items
            .iter()
            .filter(|i| matches!(i.action, Action::New | Action::Changed))
            .map(|i| i.bytes)
            .sum();
    }

    fn finish(mut self, exit: Exit, started: std::time::Instant) -> (Summary, Exit) {
        self.items.sort_by(|a, b| a.key.cmp(&b.key));
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        self.elapsed_ms = started.elapsed().as_millis();
        self.mb_per_s = self.bytes_transferred as f64 / 1e6 / secs;
        self.objects_per_s = self.transferred as f64 / secs;
        let exit = if exit == Exit::Clean && self.failed > 0 {
            Exit::Unclean
        } else {
            exit
        };
        self.exit_code = exit as u8;
        (self, exit)
    }

    fn fail(mut self, exit: Exit, msg: String, started: std::time::Instant) -> (Summary, Exit) {
        self.messages.push(msg);
        self.finish(exit, started)
    }
}

/// What `pull --from/--to` left out.
#[derive(Debug, Clone, Serialize)]
pub struct DateFilter {
    pub from: String,
    pub to: String,
    /// Listed objects not planned: dated partitions outside the days.
    pub left_out: usize,
}

/// State shared by the tasks of a run.
pub struct Ctx {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub endpoint_id: String,
    pub checksums: bool,
    pub sem: Arc<tokio::sync::Semaphore>,
    pub limiter: Option<Limiter>,
    pub pb: indicatif::ProgressBar,
    pub book: Book,
    pub common: Common,
    /// Bytes sent or received so far.
    pub moved: AtomicU64,
    /// Parts (uploads) and chunks (downloads) confirmed so far, for the crash-test hook.
    pub parts_done: AtomicU64,
    crash_after_parts: Option<u64>,
    /// The signal that stopped the run (SIGINT, SIGTERM).
    pub interrupted: std::sync::OnceLock<Signal>,
}

impl Ctx {
    fn new(
        s3: aws_sdk_s3::Client,
        bucket: &str,
        common: &Common,
        book: Book,
        total: u64,
    ) -> Arc<Ctx> {
        let pb = if common.progress {
            let pb = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            ) {
                pb.set_style(style.progress_chars("=> "));
            }
            pb
        } else {
            indicatif::ProgressBar::hidden()
        };
        Arc::new(Ctx {
            s3,
            bucket: bucket.to_string(),
            endpoint_id: common.endpoint_id.clone(),
            checksums: common.aws.s3_checksums,
            sem: Arc::new(tokio::sync::Semaphore::new(common.concurrency)),
            limiter: common.bwlimit.map(Limiter::new),
            pb,
            book,
            common: common.clone(),
            moved: AtomicU64::new(0),
            parts_done: AtomicU64::new(0),
            // Crash-test hook: abort the process (like a kill -9) right after the Nth confirmed
            // part or chunk has been recorded in the saved ledger.
            crash_after_parts: std::env::var("CITYFLOW_TEST_CRASH_AFTER_PARTS")
                .ok()
                .and_then(|v| v.parse().ok()),
            interrupted: std::sync::OnceLock::new(),
        })
    }

    pub fn ledger_key(&self, key: &str) -> String {
        ledger::key(&self.endpoint_id, &self.bucket, key)
    }

    /// Counts bytes on the wire (summary and progress bar).
    pub fn moved(&self, n: u64) {
        self.moved.fetch_add(n, Ordering::Relaxed);
        self.pb.inc(n);
    }

    /// A place under the semaphore; closed by a signal: the work never starts.
    pub async fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Failed> {
        self.sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| crate::aws::failure::interrupted())
    }

    /// Waits for the bandwidth budget of `n` bytes.
    pub async fn pace(&self, n: u64) {
        rate::pace(self.limiter.as_ref(), n).await;
    }

    /// A part or chunk was recorded in the ledger: save (throttled), or save and abort when the
    /// crash-test hook says so.
    pub fn part_confirmed(&self) -> Result<(), String> {
        let n = self.parts_done.fetch_add(1, Ordering::SeqCst) + 1;
        if self.crash_after_parts == Some(n) {
            let _ = self.book.save(true);
            std::process::abort();
        }
        self.book.save(false)
    }
}

/// Runs `task` on each piece of work (each task takes its place under the semaphore itself)
/// and hands every outcome to `done` as it completes: `Some` with what a task returned, `None`
/// after its failure was put on its plan line (`i`, found by the key each task returns). The
/// first failure that stops the run (unreachable, credentials) cancels the others and is
/// returned.
pub async fn each<W, T, Fut>(
    ctx: &Arc<Ctx>,
    work: Vec<W>,
    task: impl Fn(Arc<Ctx>, W) -> Fut,
    summary: &mut Summary,
    mut done: impl FnMut(&mut Summary, Option<usize>, Option<T>),
) -> Option<Failed>
where
    T: Send + 'static,
    Fut: std::future::Future<Output = (String, Result<T, Failed>)> + Send + 'static,
{
    let by_key: std::collections::BTreeMap<String, usize> = summary
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.key.clone(), i))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for w in work {
        tasks.spawn(task(ctx.clone(), w));
    }
    let mut fatal: Option<Failed> = None;
    let mut stopping = Stopping::listen();
    while let Some(joined) = stopping
        .join_next(&mut tasks, &ctx.sem, |sig| {
            let _ = ctx.interrupted.set(sig);
        })
        .await
    {
        let Ok((key, result)) = joined else { continue };
        let i = by_key.get(&key).copied();
        match result {
            Ok(t) => done(summary, i, Some(t)),
            Err((f, msg)) => {
                summary.failed += 1;
                if let Some(i) = i {
                    summary.items[i].action = Action::Error;
                    summary.items[i].error = Some(msg.clone());
                }
                if f.stops_the_run() && fatal.is_none() {
                    fatal = Some((f, msg));
                    tasks.abort_all();
                }
                done(summary, i, None);
            }
        }
    }
    fatal
}

/// HEADs the objects `(index, key)`, as many at once as the semaphore allows. Returns each
/// index with the object's metadata (`None`: missing or not readable).
pub async fn heads(
    ctx: &Arc<Ctx>,
    keys: Vec<(usize, String)>,
) -> Vec<(
    usize,
    Option<aws_sdk_s3::operation::head_object::HeadObjectOutput>,
)> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, key) in keys {
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let Ok(_permit) = ctx.sem.clone().acquire_owned().await else {
                return (i, None);
            };
            let head = crate::aws::s3::head(&ctx.s3, &ctx.bucket, &key).await;
            (i, head.ok().flatten())
        });
    }
    let mut out = Vec::new();
    while let Some(Ok(h)) = tasks.join_next().await {
        out.push(h);
    }
    out
}

/// A listing that failed (its message names the bucket and prefix), with the endpoint.
fn listing(at: &str, m: String) -> String {
    format!("{m} (S3 endpoint {at})")
}

/// A run stopped by a signal: what was confirmed is in the (saved) ledger, the rest moves at
/// the next run; exit 130 or 143.
fn stopped_by(
    sig: Signal,
    ctx: &Ctx,
    summary: Summary,
    started: std::time::Instant,
) -> (Summary, Exit) {
    let saved = match ctx.book.save(true) {
        Ok(()) => "the ledger is saved".to_string(),
        Err(e) => e,
    };
    let msg = format!(
        "interrupted by {}: {} object(s) transferred, {} not; {saved}: re-run to finish",
        sig.name(),
        summary.transferred,
        summary.failed
    );
    summary.fail(sig.exit(), msg, started)
}

/// Where the bucket's name comes from and how to create it.
pub const BUCKET_HINT: BucketHint = BucketHint {
    name_from: "--bucket / S3_RAW_BUCKET",
    create: "create it with `raw push --create-bucket`",
};

impl RawArgs {
    /// The flags both commands share (output, ledger, concurrency...).
    pub fn transfer(&self) -> &TransferArgs {
        match &self.command {
            RawCommand::Pull(p) => &p.transfer,
            RawCommand::Push(p) => &p.transfer,
        }
    }
}

/// The `raw` command: settings from the flags, the pull or push, its summary on stdout (JSON
/// with `--json`, else lines; with `--quiet` only when something failed), what went wrong on
/// stderr.
pub fn command(args: &RawArgs) -> Exit {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let resolved = match &args.command {
        RawCommand::Pull(p) => PullSettings::resolve(p, &cwd).map(|s| {
            let (b, p) = (name(&s.bucket), name(&s.prefix));
            tracing::info!("pull s3://{b}/{p} -> {}", shown::path(&s.raw));
            pull::run(&s)
        }),
        RawCommand::Push(p) => PushSettings::resolve(p).map(|s| {
            let from = shown::path(&s.source);
            let (b, p) = (name(&s.bucket), name(&s.prefix));
            tracing::info!("push {from} -> s3://{b}/{p}");
            push::run(&s)
        }),
    };
    let (summary, exit) = match resolved {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("{e}");
            return Exit::Usage;
        }
    };
    args.transfer().report.print(&summary, exit, print_human);
    if exit != Exit::Clean {
        for m in &summary.messages {
            tracing::error!("{}", name(m));
        }
        for i in summary.items.iter().filter(|i| i.error.is_some()) {
            let what = if i.key.is_empty() { &i.path } else { &i.key };
            let e = i.error.as_deref().unwrap_or_default();
            tracing::error!("{}: {}", name(what), name(e));
        }
    }
    exit
}

/// Prints the plan (dry-run) or the transfers, then totals, on stdout.
pub fn print_human(s: &Summary) {
    use std::fmt::Write;
    let mut out = String::new();
    for i in &s.items {
        if i.action == Action::Unchanged && !s.dry_run {
            continue;
        }
        let sym = i.action.symbol();
        // Keys come from the store's listing: control characters escaped.
        let key = name(&i.key);
        match (&i.error, &i.reason) {
            (Some(e), _) => _ = writeln!(out, "{sym} {key:<60} {}", name(e)),
            (None, r) => {
                _ = writeln!(
                    out,
                    "{sym} {key:<60} {:>9}{}",
                    human(i.bytes),
                    r.as_deref()
                        .map(|r| format!("  ({})", name(r)))
                        .unwrap_or_default()
                )
            }
        }
    }
    let verb = if s.mode == "pull" {
        "downloaded"
    } else {
        "uploaded"
    };
    _ = writeln!(out, "{}{}: {} objects ({}), {} new, {} changed, {} unchanged; {} {} ({} on the wire, {} resumed), {} failed, {:.1} s, {:.1} MB/s, {:.0} objects/s",
        s.mode,
        if s.dry_run { " (dry run)" } else { "" },
        s.objects,
        human(s.bytes_total),
        s.new,
        s.changed,
        s.unchanged,
        s.transferred,
        verb,
        human(s.bytes_transferred),
        human(s.bytes_resumed),
        s.failed,
        s.elapsed_ms as f64 / 1000.0,
        s.mb_per_s,
        s.objects_per_s
    );
    if let Some(m) = &s.marker {
        _ = writeln!(out, "marker: {}", name(m));
    }
    if let Some(f) = &s.date_filter {
        _ = writeln!(
            out,
            "date filter {}..{}: {} object(s) left out (dated partitions outside these days)",
            f.from, f.to, f.left_out
        );
    }
    // A run that did not end clean says why on stderr (once): not here again.
    for m in s.messages.iter().filter(|_| s.exit_code == 0) {
        _ = writeln!(out, "{}", name(m));
    }
    crate::plan::print_text(&out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_respect_the_part_count_limit() {
        assert_eq!(effective_part_size(12 << 20, 5 << 20), 5 << 20);
        assert_eq!(effective_part_size(80_000 << 20, 8 << 20), 8 << 20);
        // 100 GB in 8 MiB parts would be 11,921 parts: raised to 10 MiB.
        let p = effective_part_size(100_000_000_000, 8 << 20);
        assert_eq!(p, 10 << 20);
        assert!(100_000_000_000u64.div_ceil(p) <= MAX_PARTS);
    }

    #[test]
    fn prefixes() {
        assert_eq!(trimmed_prefix("cityflow-raw/raw"), "cityflow-raw/raw/");
        assert_eq!(trimmed_prefix("/cityflow-raw/raw/"), "cityflow-raw/raw/");
        assert_eq!(trimmed_prefix(""), "");
    }

    #[test]
    fn push_keys() {
        let d = tempfile::tempdir().unwrap();
        let a = RawArgs::try_parse_from([
            "raw",
            "push",
            d.path().to_str().unwrap(),
            "--zone",
            "extracted",
            "--to",
            "/2025/11/",
            "--root",
            "cityflow-raw",
        ])
        .unwrap();
        let RawCommand::Push(p) = a.command else {
            panic!()
        };
        let s = PushSettings::resolve(&p).unwrap();
        assert_eq!(s.prefix, "cityflow-raw/extracted/2025/11/");
        let a = RawArgs::try_parse_from(["raw", "push", d.path().to_str().unwrap(), "--root", ""])
            .unwrap();
        let RawCommand::Push(p) = a.command else {
            panic!()
        };
        assert_eq!(PushSettings::resolve(&p).unwrap().prefix, "raw/");
        assert!(RawArgs::try_parse_from(["raw", "push", "x", "--zone", "gold"]).is_err());
        let a = RawArgs::try_parse_from(["raw", "pull", "--part-size", "1M"]).unwrap();
        let RawCommand::Pull(p) = a.command else {
            panic!()
        };
        assert!(PullSettings::resolve(&p, d.path())
            .unwrap_err()
            .contains("--part-size"));
    }
}
