//! The real run and `--verify`, on the plan: optional `--init`, health check, the ledger marked
//! before anything is overwritten, units of work (batches of items, single objects) with
//! bounded concurrency, each confirmed unit recorded at once, then the summary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::ledger::{Entry, Ledger};
use super::plan::{Remote, Step};
use super::{
    build_item, dynamo, payloads, read_item_failed, ttl_of, Settings, Summary, TargetReport,
};
use crate::aws::client::{connect, Clients};
use crate::aws::failure::{Failed, Failure};
use crate::aws::health::{self, BucketHint};
use crate::aws::s3::{self, Object};
use crate::plan::Action;
use crate::signal::{Signal, Stopping};
use cityflow::error::Exit;

/// Where the bucket's name comes from and how to create it.
pub const BUCKET_HINT: BucketHint = BucketHint {
    name_from: "--bucket / S3_REPORTS_BUCKET",
    create: "create it with `upload --init --create-bucket`",
};

/// The same for the analytics tables' bucket.
pub const ANALYTICS_BUCKET_HINT: BucketHint = BucketHint {
    name_from: "--analytics-bucket / S3_ANALYTICS_BUCKET",
    create: "create it with `upload --type analytics --init --create-bucket`",
};

/// The buckets a run may write to, with where their names come from.
pub(super) fn buckets(s: &Settings) -> Vec<(&str, &'static BucketHint)> {
    let d = &s.destination;
    let mut v = vec![(d.bucket.as_str(), &BUCKET_HINT)];
    if s.selection.analytics && d.analytics_bucket != d.bucket {
        v.push((d.analytics_bucket.as_str(), &ANALYTICS_BUCKET_HINT));
    }
    v
}

/// What a unit of work did: its steps, the retried attempts (or why it failed), and which
/// items had their payload offloaded.
type Unit = (Vec<Step>, Result<u32, Failed>, Vec<bool>);

pub(super) fn finish_with(mut summary: Summary, exit: Exit, msg: String) -> (Summary, Exit) {
    summary.messages.push(msg);
    summary.exit_code = exit as u8;
    (summary, exit)
}

pub(super) fn report_of(
    st: &Step,
    action: Action,
    error: Option<String>,
    offloaded: bool,
) -> TargetReport {
    TargetReport {
        action,
        target: st.remote.as_ref().map(Remote::describe).unwrap_or_default(),
        file: st.rel.clone(),
        bytes: st.bytes,
        error,
        offloaded,
    }
}

/// A file the plan could not make a target of (its reason in `error`).
fn unplanned(st: &Step) -> TargetReport {
    TargetReport {
        action: Action::Error,
        target: String::new(),
        file: st.rel.clone(),
        bytes: 0,
        error: st.error.clone(),
        offloaded: false,
    }
}

/// Writes what the plan says (or verifies it, with `--verify`).
pub(super) async fn execute(
    s: &Settings,
    steps: Vec<Step>,
    ledger: Ledger,
    ledger_path: PathBuf,
    mut summary: Summary,
) -> (Summary, Exit) {
    crate::signal::install();
    let work = if s.verify {
        Vec::new()
    } else {
        planned_work(&steps, &mut summary)
    };
    let stop = Stop {
        work: &work,
        ledger: &ledger,
        ledger_path: &ledger_path,
    };
    let clients = match connect(&s.aws).await {
        Ok(c) => Arc::new(c),
        Err(f) => return stop.before_writing(summary, f),
    };
    let mut created_bucket = false;
    if s.init {
        let d = &s.destination;
        let tables = [
            (d.metrics_table.as_str(), "metric_type"),
            (d.reports_table.as_str(), "report_id"),
        ];
        let buckets = if s.create_bucket {
            buckets(s)
        } else {
            Vec::new()
        };
        match super::init::init(&clients, &s.aws, &tables, &buckets).await {
            Ok(lines) => summary.messages.extend(lines),
            Err(f) => return stop.before_writing(summary, f),
        }
        created_bucket = s.create_bucket;
    }
    if s.verify {
        if let Err(f) = check_destination(&clients, s, &steps, created_bucket).await {
            return finish_with(summary, f.0.exit(), f.1);
        }
        return verify(s, &clients, steps, summary).await;
    }
    if let Err(f) = check_destination(&clients, s, &work, created_bucket).await {
        return stop.before_writing(summary, f);
    }
    let ledger = match mark_pending(ledger, &work, &ledger_path) {
        Ok(l) => l,
        Err(m) => return finish_with(summary, Exit::Output, m),
    };
    let mut run = Run {
        unwritten: work
            .iter()
            .map(|st| (st.key.clone(), report_of(st, Action::Error, None, false)))
            .collect(),
        ledger,
        ledger_path,
        summary,
        fatal: None,
        signal: None,
    };
    let sem = Arc::new(Semaphore::new(s.concurrency));
    let tasks = spawn_units(s, &clients, work, &sem);
    run.collect(tasks, &sem, s).await;
    run.finish()
}

/// A run stopped before its first write (credentials, a check, `--init`): its targets.
struct Stop<'a> {
    work: &'a [Step],
    ledger: &'a Ledger,
    ledger_path: &'a std::path::Path,
}

impl Stop<'_> {
    /// Records every target about to be written as failed in the ledger (so `--retry-failed`
    /// finds them; what it recorded as written stays: nothing was overwritten), reports each as
    /// failed, and says why the run stopped.
    fn before_writing(&self, mut summary: Summary, (f, m): Failed) -> (Summary, Exit) {
        if self.work.is_empty() {
            return finish_with(summary, f.exit(), m);
        }
        let mut l = self.ledger.clone();
        l.failed.extend(self.work.iter().map(|st| st.key.clone()));
        let path = self.ledger_path.display();
        let recorded = match l.save(self.ledger_path) {
            Ok(()) => format!("recorded as failed in {path}"),
            Err(e) => format!("not recorded: cannot save the ledger {path}: {e}"),
        };
        for st in self.work {
            let why = "not written: the run stopped before its first write".to_string();
            summary
                .targets
                .push(report_of(st, Action::Error, Some(why), false));
        }
        summary.failed += self.work.len();
        let msg = format!(
            "{m}; stopped before writing: {} target(s) not written, {recorded}: re-run (or \
             --retry-failed) once this is fixed",
            self.work.len()
        );
        finish_with(summary, f.exit(), msg)
    }
}

/// The targets to write; the plan's errors go to the summary.
fn planned_work(steps: &[Step], summary: &mut Summary) -> Vec<Step> {
    for st in steps.iter().filter(|st| st.action == Action::Error) {
        summary.targets.push(unplanned(st));
        summary.failed += 1;
    }
    steps
        .iter()
        .filter(|st| st.action.moves())
        .cloned()
        .collect()
}

/// The tables and (for objects, or items that may be offloaded) the bucket exist and answer;
/// the default bucket is refused unless the caller owns it or `--init` created it.
async fn check_destination(
    c: &Clients,
    s: &Settings,
    work: &[Step],
    created_bucket: bool,
) -> Result<(), Failed> {
    let mut tables: Vec<&str> = Vec::new();
    let mut objects: Vec<&str> = Vec::new();
    for st in work {
        match st.remote.as_ref() {
            Some(Remote::Item { table, .. }) if !tables.contains(&table.as_str()) => {
                tables.push(table)
            }
            Some(Remote::Item { .. }) | None => {}
            Some(Remote::Object { bucket, .. }) => objects.push(bucket),
        }
    }
    if tables.is_empty() && objects.is_empty() {
        return Ok(());
    }
    // Offloaded payloads need the bucket too: check it whenever any item might be large.
    let offload = (work.iter()).any(|w| w.bytes as usize > dynamo::OFFLOAD_ABOVE / 2);
    let create = "create it with `upload --init`";
    health::tables(&c.dynamodb, &s.aws.dynamodb_shown(), &tables, create).await?;
    let at = s.aws.s3_shown();
    for (bucket, hint) in buckets(s) {
        if objects.contains(&bucket) || (offload && bucket == s.destination.bucket) {
            health::bucket(&c.s3, &at, bucket, false, hint).await?;
        }
    }
    let b = &s.destination.bucket;
    let uses_it = objects.contains(&b.as_str()) || offload;
    if uses_it && s.bucket_is_default && !created_bucket && !health::owned(&c.s3, &at, b).await? {
        return Err((
            Failure::Missing,
            format!(
                "S3 bucket {} is upload's default name and the caller does not own it at \
                 {at} (ListBuckets does not list it): bucket names are global, set \
                 S3_REPORTS_BUCKET (or --bucket) to your bucket, or create it with \
                 `upload --init --create-bucket`",
                cityflow::shown::name(b)
            ),
        ));
    }
    Ok(())
}

/// Before anything is overwritten, the targets about to be written lose their "confirmed"
/// entry and count as failed until confirmed: a run killed mid-write leaves a ledger that never
/// claims a content the remote may no longer hold (the next run re-sends them).
fn mark_pending(
    mut ledger: Ledger,
    work: &[Step],
    path: &std::path::Path,
) -> Result<Ledger, String> {
    for st in work {
        ledger.written.remove(&st.key);
        ledger.failed.insert(st.key.clone());
    }
    if !work.is_empty() {
        ledger.save(path).map_err(|e| {
            format!(
                "cannot save the ledger {}: {e}; nothing written",
                path.display()
            )
        })?;
    }
    Ok(ledger)
}

/// Units of work: batches of at most `--batch-size` items per table, and single objects.
fn spawn_units(
    s: &Settings,
    clients: &Arc<Clients>,
    work: Vec<Step>,
    sem: &Arc<Semaphore>,
) -> JoinSet<Unit> {
    let mut tasks = JoinSet::new();
    let mut by_table: BTreeMap<String, Vec<Step>> = BTreeMap::new();
    for st in work {
        match st.remote.clone().expect("planned") {
            Remote::Item { table, .. } => by_table.entry(table).or_default().push(st),
            Remote::Object {
                bucket,
                key,
                content_type,
            } => {
                let (c, sem, checksums) = (clients.clone(), sem.clone(), s.aws.s3_checksums);
                tasks.spawn(async move {
                    // Closed by a signal: the unit never starts.
                    let Ok(_permit) = sem.acquire_owned().await else {
                        return (vec![st], Err(not_started()), Vec::new());
                    };
                    let body = &st.local.as_ref().expect("planned").body;
                    let o = Object::new(&bucket, &key, content_type);
                    let r = s3::put_bytes(&c.s3, &o, body, checksums).await;
                    (vec![st], r, Vec::new())
                });
            }
        }
    }
    for (table, items) in by_table {
        for chunk in items.chunks(s.batch_size) {
            let batch = Batch {
                c: clients.clone(),
                table: table.clone(),
                bucket: s.destination.bucket.clone(),
                prefix: s.payloads_prefix.clone(),
                ttl_days: s.destination.ttl_days,
                checksums: s.aws.s3_checksums,
            };
            let (chunk, sem) = (chunk.to_vec(), sem.clone());
            tasks.spawn(async move {
                let Ok(_permit) = sem.acquire_owned().await else {
                    return (chunk, Err(not_started()), Vec::new());
                };
                batch.write(chunk).await
            });
        }
    }
    tasks
}

fn not_started() -> Failed {
    (
        Failure::Other,
        "not written: the run was interrupted before this target".into(),
    )
}

/// One `BatchWriteItem` and the payloads its items offload.
struct Batch {
    c: Arc<Clients>,
    table: String,
    bucket: String,
    prefix: String,
    ttl_days: u32,
    checksums: bool,
}

impl Batch {
    async fn write(self, chunk: Vec<Step>) -> Unit {
        let mut items = Vec::new();
        let mut offloaded = Vec::new();
        let mut retries = 0u32;
        let mut offloaded_keys = Vec::new();
        for st in &chunk {
            let l = st.local.as_ref().expect("planned");
            let built = build_item(
                l.json.as_ref().expect("items are JSON"),
                st.remote.as_ref().expect("planned"),
                ttl_of(l.date, self.ttl_days),
                &self.bucket,
                &self.prefix,
            );
            if let Some((key, payload)) = &built.offload {
                // The payload first: a pointer never points at nothing.
                let o = Object::new(&self.bucket, key, "application/json; charset=utf-8");
                match s3::put_bytes(&self.c.s3, &o, payload, self.checksums).await {
                    Ok(r) => {
                        retries += r;
                        offloaded_keys.push(key.clone());
                    }
                    Err(e) => return (chunk, Err(e), Vec::new()),
                }
            }
            offloaded.push(built.offload.is_some());
            items.push(built.item);
        }
        let r = dynamo::batch_put(&self.c.dynamodb, &self.table, items).await;
        let mut r = r.map(|r| r + retries);
        // The pointers now name the new payloads: remove the older ones.
        for key in offloaded_keys {
            if let Ok(n) = &mut r {
                match payloads::remove_others(&self.c.s3, &self.bucket, &key).await {
                    Ok(k) => *n += k,
                    Err((f, m)) => {
                        r = Err((f, format!("older payloads of {key} not removed: {m}")))
                    }
                }
            }
        }
        (chunk, r, offloaded)
    }
}

/// The run as units complete.
struct Run {
    /// Units not yet confirmed (reported as not written when a stop cancels them).
    unwritten: BTreeMap<String, TargetReport>,
    ledger: Ledger,
    ledger_path: PathBuf,
    summary: Summary,
    /// What stopped the run (unreachable endpoint, refused credentials).
    fatal: Option<Failed>,
    /// The signal that stopped the run.
    signal: Option<Signal>,
}

impl Run {
    /// Records the units as they complete. On SIGINT / SIGTERM: no unit starts any more, the
    /// ones in flight get [`GRACE`] to finish, then are aborted (a second signal aborts them at
    /// once); every outcome is in the saved ledger.
    async fn collect(&mut self, mut tasks: JoinSet<Unit>, sem: &Semaphore, s: &Settings) {
        // Crash-test hook: abort the process (like a kill -9) right after the Nth ledger save.
        let crash_after: Option<usize> = std::env::var("CITYFLOW_TEST_CRASH_AFTER_SAVES")
            .ok()
            .and_then(|v| v.parse().ok());
        let pb = progress_bar(s.progress, tasks.len() as u64);
        let mut saves = 0usize;
        let mut stopping = Stopping::listen();
        while let Some(joined) = stopping
            .join_next(&mut tasks, sem, |sig| {
                self.signal.get_or_insert(sig);
            })
            .await
        {
            pb.inc(1);
            let Ok((chunk, result, offloaded)) = joined else {
                continue;
            };
            if self.record(&chunk, result, &offloaded) {
                tasks.abort_all();
            }
            // Confirmed units are recorded at once: a kill after this line loses nothing.
            if let Err(e) = self.ledger.save(&self.ledger_path) {
                let p = self.ledger_path.display();
                self.summary
                    .messages
                    .push(format!("cannot save the ledger {p}: {e}"));
            }
            saves += 1;
            if crash_after == Some(saves) {
                std::process::abort();
            }
        }
        pb.finish_and_clear();
    }

    /// Records a unit's outcome in the ledger and the summary. Returns true when it stops the
    /// run.
    fn record(&mut self, chunk: &[Step], result: Result<u32, Failed>, offloaded: &[bool]) -> bool {
        let (l, summary) = (&mut self.ledger, &mut self.summary);
        for st in chunk {
            self.unwritten.remove(&st.key);
        }
        match result {
            Ok(retries) => {
                summary.retries += retries;
                for (i, st) in chunk.iter().enumerate() {
                    let entry = Entry {
                        hash: st.hash.clone(),
                        bytes: st.bytes,
                    };
                    l.written.insert(st.key.clone(), entry);
                    l.failed.remove(&st.key);
                    summary.written += 1;
                    summary.bytes_written += st.bytes;
                    let off = offloaded.get(i).copied().unwrap_or(false);
                    summary.targets.push(report_of(st, st.action, None, off));
                }
                false
            }
            Err((f, msg)) => {
                for st in chunk {
                    l.failed.insert(st.key.clone());
                    summary.failed += 1;
                    let report = report_of(st, Action::Error, Some(msg.clone()), false);
                    summary.targets.push(report);
                }
                let stop = f.stops_the_run() && self.fatal.is_none();
                if stop {
                    self.fatal = Some((f, msg));
                }
                stop
            }
        }
    }

    fn finish(self) -> (Summary, Exit) {
        let Run {
            unwritten,
            ledger_path,
            mut summary,
            fatal,
            signal,
            ..
        } = self;
        // Units cancelled by a stop: never confirmed, already recorded as failed in the ledger.
        let stopped = unwritten.len();
        for (_, mut t) in unwritten {
            t.error = Some("not written: the run stopped before this target".into());
            summary.failed += 1;
            summary.targets.push(t);
        }
        summary
            .targets
            .sort_by(|a, b| a.file.cmp(&b.file).then(a.target.cmp(&b.target)));
        match (signal, fatal) {
            (Some(sig), _) => {
                let msg = format!(
                    "interrupted by {}: {} target(s) written, {} not written, recorded as \
                     failed in {}: re-run to finish",
                    sig.name(),
                    summary.written,
                    summary.failed,
                    ledger_path.display()
                );
                finish_with(summary, sig.exit(), msg)
            }
            (None, Some((f, m))) => {
                let what = match f {
                    Failure::Credentials => "credentials refused",
                    _ => "endpoint unreachable",
                };
                let msg = format!(
                    "stopped, {what}: {m}; {} target(s) not written ({stopped} never attempted), \
                     recorded as failed in {}: re-run (or --retry-failed) once the endpoint is \
                     back",
                    summary.failed,
                    ledger_path.display()
                );
                finish_with(summary, f.exit(), msg)
            }
            (None, None) if summary.failed > 0 => {
                summary.exit_code = Exit::Unclean as u8;
                (summary, Exit::Unclean)
            }
            (None, None) => (summary, Exit::Clean),
        }
    }
}

fn progress_bar(shown: bool, units: u64) -> indicatif::ProgressBar {
    if !shown {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(units);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} uploading [{bar:30}] {pos}/{len} units {per_sec} eta {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

/// Compares every selected target with what is stored remotely. Writes nothing.
async fn verify(
    s: &Settings,
    c: &Clients,
    steps: Vec<Step>,
    mut summary: Summary,
) -> (Summary, Exit) {
    let mut differ = 0;
    let mut fatal: Option<Failed> = None;
    for st in steps {
        if fatal.is_some() {
            summary.failed += 1;
            let why = Some("not verified: the run stopped before this target".into());
            summary
                .targets
                .push(report_of(&st, Action::Error, why, false));
            continue;
        }
        let (Some(remote), Some(local)) = (st.remote.as_ref(), st.local.as_ref()) else {
            summary.failed += 1;
            summary.targets.push(unplanned(&st));
            continue;
        };
        let (action, error) = match compare(s, c, remote, local).await {
            Ok(None) => (Action::Unchanged, None),
            Ok(Some(why)) => {
                differ += 1;
                (Action::Changed, Some(why))
            }
            Err((f, e)) => {
                summary.failed += 1;
                if f.stops_the_run() {
                    fatal = Some((f, e.clone()));
                }
                (Action::Error, Some(e))
            }
        };
        summary.targets.push(report_of(&st, action, error, false));
    }
    summary.unchanged = summary
        .targets
        .iter()
        .filter(|t| t.action == Action::Unchanged)
        .count();
    summary.planned_new = 0;
    summary.planned_changed = 0;
    summary.differ = differ;
    if let Some((f, m)) = fatal {
        let m = format!("verify stopped: {m}");
        return finish_with(summary, f.exit(), m);
    }
    let exit = if summary.failed > 0 || differ > 0 {
        Exit::Unclean
    } else {
        Exit::Clean
    };
    (summary, exit)
}

/// How the remote copy of a target differs from the local one (`None`: the same).
async fn compare(
    s: &Settings,
    c: &Clients,
    remote: &Remote,
    local: &super::select::Local,
) -> Result<Option<String>, Failed> {
    match remote {
        Remote::Object {
            bucket,
            key,
            content_type,
        } => Ok(match s3::get(&c.s3, bucket, key).await? {
            None => Some("missing".into()),
            Some((bytes, _)) if bytes != local.body => Some(format!(
                "differs ({} bytes remote, {} local)",
                bytes.len(),
                local.body.len()
            )),
            Some((_, ct)) if ct.as_deref() != Some(*content_type) => {
                Some(format!("content type {ct:?}"))
            }
            Some(_) => None,
        }),
        Remote::Item {
            table,
            pk_name,
            pk,
            date,
        } => {
            let Some(mut remote_v) = read_item_failed(c, table, pk_name, pk, date).await? else {
                return Ok(Some("missing".into()));
            };
            let mut local_v = local.json.clone().unwrap_or(Value::Null);
            let ttl = remote_v.get("ttl").and_then(Value::as_i64);
            for v in [&mut remote_v, &mut local_v] {
                if let Some(o) = v.as_object_mut() {
                    o.shift_remove("ttl");
                    o.shift_remove("timestamp");
                }
            }
            Ok(if !dynamo::same_json(&remote_v, &local_v) {
                Some("differs".into())
            } else if ttl != Some(ttl_of(local.date, s.destination.ttl_days)) {
                Some(format!("ttl {ttl:?} differs"))
            } else {
                None
            })
        }
    }
}
