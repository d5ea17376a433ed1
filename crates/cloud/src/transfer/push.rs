//! `raw push`: a local file or folder -> s3://BUCKET/<root>/<zone>/[<to>/].
//!
//! Plan: every local file is hashed (SHA-256, streamed; per part too for multipart files). An
//! object is unchanged when the ledger recorded this SHA-256 for it and the listed ETag is still
//! the one the push left, or, without a ledger entry, when the object's `sha256` metadata equals
//! the file's (one HEAD, only when the sizes match). Anything else moves.
//!
//! Execute: files below the threshold go in one PUT ([`crate::aws::s3::put`]: SHA-256 checksum,
//! or Content-MD5 with `--s3-checksums off`); larger ones multipart
//! ([`crate::aws::multipart`]: each part's CRC32 must equal the one of the hashing pass, so the
//! object is exactly the file whose SHA-256 goes into its metadata). After upload the object is
//! checked: the store's reported checksum (whole, or composite of the parts) or ETag, and a
//! HEAD for size and metadata. The upload id and each confirmed part are kept in the ledger: a
//! killed push resumes the upload (parts the store still lists, with the same digest) instead
//! of restarting. A push that ends with no failure writes the completion marker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::ledger::{Book, Pushed, TransferLedger, Upload};
use super::local::{self, FileHash, LocalFile, MARKER};
use super::{Common, Ctx, Item, PushSettings, Summary, BUCKET_HINT};
use crate::aws::checksum::{hex, unquote, Digests};
use crate::aws::client::{connect, runtime};
use crate::aws::failure::{Failed, Failure};
use crate::aws::health;
use crate::aws::multipart::{self, Layout, PartData, PartDone, Prior, Source};
use crate::aws::s3::{self, Listed, Object};
use crate::plan::Action;
use cityflow::error::Exit;

pub fn ledger_path(s: &PushSettings) -> PathBuf {
    if let Some(l) = &s.common.ledger {
        return l.clone();
    }
    let dir = if s.source.is_dir() {
        s.source.clone()
    } else {
        s.source
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    };
    dir.join(".cityflow-push.json")
}

#[derive(Debug, Clone)]
struct Step {
    file: LocalFile,
    key: String,
    action: Action,
    reason: Option<String>,
    error: Option<String>,
    hash: Option<FileHash>,
    /// Listed with the same size but unknown to the ledger: compare the metadata (HEAD).
    head: bool,
    /// Part size when multipart.
    part_size: Option<u64>,
}

/// Runs `raw push`. Returns the summary and the exit code.
pub fn run(s: &PushSettings) -> (Summary, Exit) {
    let started = Instant::now();
    let summary = Summary::new(
        "push",
        s.common.dry_run,
        s.source.display().to_string(),
        format!("s3://{}/{}", s.bucket, s.prefix),
    );
    let (files, walk_errors) = match local::walk(&s.source) {
        Ok(x) => x,
        Err(e) => return summary.fail(Exit::Usage, e, started),
    };
    let lp = ledger_path(s);
    let ledger = match TransferLedger::load(&lp) {
        Ok(l) => l,
        Err(e) => return summary.fail(Exit::Usage, e, started),
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return summary.fail(Exit::Usage, e, started),
    };
    let book = Book::new(lp, ledger, !s.common.dry_run);
    rt.block_on(push(s, files, walk_errors, book, summary, started))
}

async fn push(
    s: &PushSettings,
    files: Vec<LocalFile>,
    walk_errors: Vec<(String, String)>,
    book: Book,
    mut summary: Summary,
    started: Instant,
) -> (Summary, Exit) {
    crate::signal::install();
    let at = s.common.aws.s3_shown();
    let s3 = match connect(&s.common.aws).await {
        Ok(c) => c.s3,
        Err(f) => return remote_unknown(s, files, walk_errors, summary, f, started),
    };
    let create = s.create_bucket && !s.common.dry_run;
    if let Err(f) = health::bucket(&s3, &at, &s.bucket, create, &BUCKET_HINT).await {
        return remote_unknown(s, files, walk_errors, summary, f, started);
    }
    let remote: BTreeMap<String, Listed> = match s3::list(&s3, &s.bucket, &s.prefix).await {
        Ok(o) => o.into_iter().map(|o| (o.key.clone(), o)).collect(),
        Err((f, m)) => {
            let f = (f, super::listing(&at, m));
            return remote_unknown(s, files, walk_errors, summary, f, started);
        }
    };
    let ctx = Ctx::new(s3, &s.bucket, &s.common, book, 0);
    let mut steps = match plan(s, &ctx, files, remote).await {
        Ok(p) => p,
        Err(e) => return summary.fail(Exit::Usage, format!("hashing failed: {e}"), started),
    };
    resolve_heads(&ctx, &mut steps).await;
    list_plan(&ctx, &mut steps, walk_errors, &mut summary);
    if s.common.dry_run {
        return summary.finish(Exit::Clean, started);
    }
    let fatal = upload_all(&ctx, &steps, &mut summary).await;
    if let Some(sig) = ctx.interrupted.get() {
        return super::stopped_by(*sig, &ctx, summary, started);
    }
    if let Some((f, m)) = fatal {
        return summary.fail(f.exit(), m, started);
    }
    if s.marker && summary.failed == 0 {
        match write_marker(&ctx, s, &steps).await {
            Ok(m) => summary.marker = Some(m),
            Err((f, m)) => {
                summary.failed += 1;
                summary.messages.push(m);
                if f.stops_the_run() {
                    return summary.finish(f.exit(), started);
                }
            }
        }
    }
    summary.finish(Exit::Clean, started)
}

/// The remote could not be reached (credentials, the bucket check, the listing): the run stops
/// with the failure's exit code. A dry run still lists the local files with their sizes (not
/// hashed: the remote state, so the plan, is unknown).
fn remote_unknown(
    s: &PushSettings,
    files: Vec<LocalFile>,
    walk_errors: Vec<(String, String)>,
    mut summary: Summary,
    (f, m): Failed,
    started: Instant,
) -> (Summary, Exit) {
    if !s.common.dry_run {
        return summary.fail(f.exit(), m, started);
    }
    for (path, err) in walk_errors {
        summary.items.push(Item::failed(String::new(), path, err));
    }
    for file in files {
        summary.items.push(Item {
            action: Action::New,
            key: format!("{}{}", s.prefix, file.rel),
            path: file.rel,
            bytes: file.bytes,
            reason: Some("remote state unknown".into()),
            sha256: None,
            verified: None,
            error: None,
        });
    }
    summary.count_plan();
    let n = summary.items.len();
    let msg = format!(
        "{m}; remote state unknown: the {n} local file(s) above are listed as if new, nothing \
         was compared"
    );
    summary.fail(f.exit(), msg, started)
}

/// Hashes every file (on the blocking pool, in parallel) and plans it against the listing and
/// the ledger.
async fn plan(
    s: &PushSettings,
    ctx: &Ctx,
    files: Vec<LocalFile>,
    remote: BTreeMap<String, Listed>,
) -> Result<Vec<Step>, tokio::task::JoinError> {
    let pushed = ctx.book.with(|l| l.pushed.clone());
    let (common, prefix, bucket) = (s.common.clone(), s.prefix.clone(), s.bucket.clone());
    tokio::task::spawn_blocking(move || {
        files
            .into_par_iter()
            .map(|f| {
                let key = format!("{prefix}{}", f.rel);
                let lk = super::ledger::key(&common.endpoint_id, &bucket, &key);
                let listed = remote.get(&key);
                plan_one(f, key, &common, listed, pushed.get(&lk))
            })
            .collect::<Vec<Step>>()
    })
    .await
}

fn plan_one(
    file: LocalFile,
    key: String,
    common: &Common,
    listed: Option<&Listed>,
    pushed: Option<&Pushed>,
) -> Step {
    let multipart = file.bytes >= common.multipart_above;
    let part_size = multipart.then(|| common.part_size_for(file.bytes));
    let mut st = Step {
        key,
        action: Action::New,
        reason: None,
        error: None,
        hash: None,
        head: false,
        part_size,
        file,
    };
    let h = match local::hash_file(&st.file.path, part_size, false) {
        Ok(h) => h,
        Err(e) => {
            st.action = Action::Error;
            st.error = Some(format!("cannot read {}: {e}", st.file.path.display()));
            return st;
        }
    };
    st.file.bytes = h.bytes;
    let sha = h.sha256_hex();
    st.hash = Some(h);
    let Some(r) = listed else {
        return st;
    };
    st.action = Action::Changed;
    match pushed {
        Some(p) if p.sha256 == sha && p.etag == r.etag && p.bytes == r.bytes => {
            st.action = Action::Unchanged;
        }
        Some(p) if p.etag != r.etag => {
            st.reason = Some("replaced remotely".into());
            st.head = r.bytes == st.file.bytes;
        }
        Some(_) => st.reason = Some("local file changed".into()),
        None if r.bytes == st.file.bytes => st.head = true,
        None => st.reason = Some("differs".into()),
    }
    st
}

/// Objects listed with the file's size but unknown to the ledger: their `sha256` metadata says
/// whether they already hold the file.
async fn resolve_heads(ctx: &Arc<Ctx>, steps: &mut [Step]) {
    let keys = steps.iter().enumerate().filter(|(_, st)| st.head);
    let keys = keys.map(|(i, st)| (i, st.key.clone())).collect();
    for (i, h) in super::heads(ctx, keys).await {
        let head = h.map(|h| {
            let sha = h.metadata().and_then(|m| m.get("sha256").cloned());
            (sha, unquote(h.e_tag().unwrap_or_default()))
        });
        let st = &mut steps[i];
        let local = st.hash.as_ref().map(FileHash::sha256_hex);
        match head {
            Some((Some(sha), etag)) if Some(&sha) == local.as_ref() => {
                // Already there with the same content: record it, move nothing.
                st.action = Action::Unchanged;
                st.reason = None;
                let lk = ctx.ledger_key(&st.key);
                let p = Pushed {
                    sha256: sha,
                    bytes: st.file.bytes,
                    etag,
                };
                ctx.book.update(|l| {
                    // A kill between completing an upload and recording it leaves its entry.
                    l.uploads.remove(&lk);
                    l.pushed.insert(lk, p)
                });
            }
            Some((Some(_), _)) => st.reason = Some("differs".into()),
            _ => {
                if st.reason.is_none() {
                    st.reason = Some("no SHA-256 to compare".into());
                }
            }
        }
    }
}

/// The plan's lines, in the summary.
fn list_plan(
    ctx: &Ctx,
    steps: &mut [Step],
    walk_errors: Vec<(String, String)>,
    summary: &mut Summary,
) {
    for (path, err) in walk_errors {
        summary.items.push(Item::failed(String::new(), path, err));
    }
    let uploads = ctx.book.with(|l| l.uploads.clone());
    for st in steps {
        if st.action.moves() && uploads.contains_key(&ctx.ledger_key(&st.key)) {
            st.reason = Some("interrupted upload: resume".into());
        }
        summary.items.push(Item {
            action: st.action,
            key: st.key.clone(),
            path: st.file.rel.clone(),
            bytes: st.file.bytes,
            reason: st.reason.clone(),
            sha256: st.hash.as_ref().map(FileHash::sha256_hex),
            verified: None,
            error: st.error.clone(),
        });
    }
    summary.count_plan();
}

/// Uploads the new and changed files, records each in the ledger as it is confirmed. Returns
/// what stopped the run, if anything did.
async fn upload_all(ctx: &Arc<Ctx>, steps: &[Step], summary: &mut Summary) -> Option<Failed> {
    let work: Vec<Step> = steps
        .iter()
        .filter(|st| st.action.moves())
        .cloned()
        .collect();
    ctx.pb.set_length(work.iter().map(|w| w.file.bytes).sum());
    ctx.pb.set_message(format!("push {} objects", work.len()));
    let send = |ctx: Arc<Ctx>, st: Step| async move {
        let r = if st.part_size.is_some() {
            put_multipart(&ctx, &st).await
        } else {
            put_single(&ctx, &st).await
        };
        let r = r.map_err(|(f, m)| (f, format!("{}: {m}", st.file.rel)));
        (st.key.clone(), r.map(|done| (st, done)))
    };
    let fatal = super::each(ctx, work, send, summary, |summary, i, done| {
        if let Some((st, done)) = done {
            record(ctx, summary, i, &st, done);
        }
        if let Err(e) = ctx.book.save(false) {
            summary.messages.push(e);
        }
    })
    .await;
    ctx.pb.finish_and_clear();
    summary.bytes_transferred = ctx.moved.load(std::sync::atomic::Ordering::Relaxed);
    if let Err(e) = ctx.book.save(true) {
        summary.messages.push(e);
    }
    fatal
}

/// A confirmed upload goes into the ledger and the summary.
fn record(ctx: &Ctx, summary: &mut Summary, i: Option<usize>, st: &Step, done: Done) {
    let lk = ctx.ledger_key(&st.key);
    ctx.book.update(|l| {
        l.uploads.remove(&lk);
        l.pushed.insert(lk, done.pushed.clone());
    });
    summary.transferred += 1;
    if done.resumed > 0 {
        summary.resumed += 1;
        summary.bytes_resumed += done.resumed;
    }
    if let Some(i) = i {
        summary.items[i].sha256 = Some(done.pushed.sha256);
        summary.items[i].verified = Some(done.verified.into());
    }
}

struct Done {
    pushed: Pushed,
    verified: &'static str,
    resumed: u64,
}

fn object_of(ctx: &Ctx, st: &Step, sha: &str) -> Object {
    Object::new(&ctx.bucket, &st.key, local::content_type(&st.file.rel))
        .with_metadata("sha256", sha)
}

async fn put_single(ctx: &Arc<Ctx>, st: &Step) -> Result<Done, Failed> {
    let _permit = ctx.permit().await?;
    let path = st.file.path.clone();
    let body = tokio::task::spawn_blocking(move || std::fs::read(&path))
        .await
        .map_err(|e| (Failure::Other, format!("reading: {e}")))?
        .map_err(|e| {
            let p = st.file.path.display();
            (Failure::Other, format!("cannot read {p}: {e}"))
        })?;
    let d = Digests::of(&body);
    if st.hash.as_ref().map(|h| h.sha256) != Some(d.sha256) {
        return Err((
            Failure::Other,
            "the file changed while being pushed; run the push again".into(),
        ));
    }
    let bytes = body.len() as u64;
    let sha = hex(&d.sha256);
    ctx.pace(bytes).await;
    let stored = s3::put(&ctx.s3, &object_of(ctx, st, &sha), body, &d, ctx.checksums).await?;
    ctx.moved(bytes);
    // The store's own account of what it stored, else a HEAD.
    let verified = match stored.verified {
        Some(v) => v,
        None => check_head(ctx, &st.key, bytes, &sha).await?,
    };
    Ok(Done {
        pushed: Pushed {
            sha256: sha,
            bytes,
            etag: stored.etag,
        },
        verified,
        resumed: 0,
    })
}

/// HEAD after upload: the stored size and SHA-256 metadata are the file's.
async fn check_head(ctx: &Ctx, key: &str, bytes: u64, sha: &str) -> Result<&'static str, Failed> {
    let h = s3::head(&ctx.s3, &ctx.bucket, key)
        .await
        .map_err(|(f, m)| (f, format!("after upload: {m}")))?;
    let size = h.as_ref().and_then(|h| h.content_length()).unwrap_or(-1);
    let meta = h
        .as_ref()
        .and_then(|h| h.metadata()?.get("sha256").cloned());
    if size != bytes as i64 || meta.as_deref() != Some(sha) {
        return Err((
            Failure::Other,
            format!(
                "after upload the object has {size} bytes and sha256 {meta:?}; the file has \
                 {bytes} bytes and {sha}"
            ),
        ));
    }
    Ok("size+sha256 metadata")
}

/// A file's parts, read at their offsets, with its upload recorded in the ledger.
struct FileParts {
    ctx: Arc<Ctx>,
    path: PathBuf,
    /// The ledger key of the object.
    lk: String,
    /// The upload as recorded when it starts.
    record: Upload,
}

impl Source for FileParts {
    async fn read(
        &self,
        i: u64,
        offset: u64,
        len: u64,
        with_md5: bool,
    ) -> Result<PartData, Failed> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            local::read_at(&path, offset, len as usize).map(|b| PartData::of(b, with_md5))
        })
        .await
        .map_err(|e| (Failure::Other, format!("reading: {e}")))?
        .map_err(|e| {
            let msg = format!("cannot read part {} at {offset}: {e}", i + 1);
            (Failure::Other, msg)
        })
    }

    async fn pace(&self, n: u64) {
        self.ctx.pace(n).await
    }

    fn sent(&self, n: u64) {
        self.ctx.moved(n)
    }

    /// The recorded upload: resumed when it is for this very content and these settings.
    fn prior(&self) -> Option<Prior> {
        let u = self.ctx.book.with(|l| l.uploads.get(&self.lk).cloned())?;
        let r = &self.record;
        Some(
            if u.sha256 == r.sha256
                && u.bytes == r.bytes
                && u.part_size == r.part_size
                && u.checksums == r.checksums
            {
                Prior::Resume {
                    upload_id: u.upload_id,
                    parts: u.parts,
                }
            } else {
                Prior::Stale {
                    upload_id: u.upload_id,
                }
            },
        )
    }

    fn started(&self, upload_id: &str) -> Result<(), String> {
        let u = Upload {
            upload_id: upload_id.to_string(),
            ..self.record.clone()
        };
        self.ctx
            .book
            .update(|l| l.uploads.insert(self.lk.clone(), u));
        // Recorded before any part goes: a kill from here on resumes this upload.
        self.ctx.book.save(true)
    }

    fn resumed(&self, kept: &BTreeMap<i32, PartDone>, bytes: u64) {
        self.ctx.book.update(|l| {
            if let Some(u) = l.uploads.get_mut(&self.lk) {
                u.parts = kept.clone();
            }
        });
        self.ctx.pb.inc(bytes);
    }

    fn confirmed(&self, n: i32, part: &PartDone) -> Result<(), String> {
        self.ctx.book.update(|l| {
            if let Some(u) = l.uploads.get_mut(&self.lk) {
                u.parts.insert(n, part.clone());
            }
        });
        self.ctx.part_confirmed()
    }

    /// The upload and its confirmed parts stay recorded: the next run resumes.
    fn interrupted(&self) -> bool {
        let _ = self.ctx.book.save(true);
        true
    }

    fn gone(&self) {
        self.ctx.book.update(|l| l.uploads.remove(&self.lk));
    }
}

async fn put_multipart(ctx: &Arc<Ctx>, st: &Step) -> Result<Done, Failed> {
    let hash = st.hash.clone().expect("hashed");
    let part_size = st.part_size.expect("multipart");
    let (bytes, sha) = (hash.bytes, hash.sha256_hex());
    let src = Arc::new(FileParts {
        ctx: ctx.clone(),
        path: st.file.path.clone(),
        lk: ctx.ledger_key(&st.key),
        record: Upload {
            upload_id: String::new(),
            sha256: sha.clone(),
            bytes,
            part_size,
            checksums: ctx.checksums,
            parts: BTreeMap::new(),
        },
    });
    let layout = Layout {
        bytes,
        part_size,
        crcs: hash.parts,
    };
    let o = Arc::new(object_of(ctx, st, &sha));
    let done = multipart::upload(
        &ctx.s3,
        o,
        Arc::new(layout),
        src,
        ctx.sem.clone(),
        ctx.checksums,
    )
    .await?;
    // Always: the stored size and SHA-256 metadata.
    let head = check_head(ctx, &st.key, bytes, &sha).await?;
    Ok(Done {
        pushed: Pushed {
            sha256: sha,
            bytes,
            etag: done.etag,
        },
        verified: done.verified.unwrap_or(head),
        resumed: done.resumed,
    })
}

#[derive(Serialize)]
struct ManifestEntry<'a> {
    path: &'a str,
    bytes: u64,
    sha256: String,
}

/// Writes `<prefix>_cityflow_push.json`: every pushed file with its size and SHA-256, and when.
/// Skipped when the marker already describes exactly these files.
async fn write_marker(ctx: &Ctx, s: &PushSettings, steps: &[Step]) -> Result<String, Failed> {
    let files: Vec<ManifestEntry> = steps
        .iter()
        .filter_map(|st| {
            Some(ManifestEntry {
                path: &st.file.rel,
                bytes: st.file.bytes,
                sha256: st.hash.as_ref()?.sha256_hex(),
            })
        })
        .collect();
    let manifest_sha =
        cityflow::output::sha256_hex(&serde_json::to_vec(&files).expect("manifest serialises"));
    let key = format!("{}{MARKER}", s.prefix);
    if let Ok(Some(h)) = s3::head(&ctx.s3, &ctx.bucket, &key).await {
        if h.metadata().and_then(|m| m.get("manifest-sha256")) == Some(&manifest_sha) {
            return Ok(format!("s3://{}/{key} (unchanged)", ctx.bucket));
        }
    }
    let now = cityflow::time::Clock::from_env()
        .map(|c| c.timestamp())
        .unwrap_or_default();
    let body = serde_json::to_vec_pretty(&serde_json::json!({
        "tool": "cityflow raw push",
        "prefix": s.prefix,
        "completed_at": now,
        "objects": files.len(),
        "bytes": files.iter().map(|f| f.bytes).sum::<u64>(),
        "manifest_sha256": manifest_sha,
        "files": files,
    }))
    .expect("marker serialises");
    let d = Digests::of(&body);
    let o = Object::new(&ctx.bucket, &key, "application/json")
        .with_metadata("manifest-sha256", &manifest_sha)
        .with_metadata("sha256", &hex(&d.sha256));
    s3::put(&ctx.s3, &o, body, &d, ctx.checksums)
        .await
        .map_err(|(f, m)| (f, format!("completion marker {key}: {m}")))?;
    Ok(format!("s3://{}/{key} (written)", ctx.bucket))
}
