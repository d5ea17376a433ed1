//! `raw pull`: s3://BUCKET/PREFIX/ -> the local raw folder.
//!
//! Plan: an object moves when it is missing locally, when its ETag differs from the one recorded
//! at the last pull (changed remotely), or when the local file's SHA-256 differs from the one
//! recorded (changed or damaged locally). A local file the ledger does not know (an older mirror,
//! or a kill between the rename and the ledger save) is adopted when its content provably equals
//! the object (its MD5 equals a single-part ETag, or its SHA-256 the object's `sha256` metadata).
//!
//! Execute: each download goes to a new part file `.<name>.<pid>-<random>.cityflow-part` beside
//! its target (created with `O_EXCL | O_NOFOLLOW`: a link or file planted there is never written
//! through); objects from the multipart threshold on are fetched in ranged chunks (`If-Match`
//! the listed ETag) written at their offsets, the part file's name and the confirmed chunks kept
//! in the ledger so that a killed pull fetches only the missing ones (the part file is reopened
//! only when it is still a regular file of ours, never through a link). Part files of killed
//! runs that the ledger no longer names are removed at the end of the next pull of their
//! folder. A finished download is verified (SHA-256 metadata, else single-part ETag MD5,
//! else size), then made durable (one `syncfs` per batch) and renamed over its target: a reader
//! sees the old file or the new one, never a torn one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::ledger::{Book, Download, Pulled, TransferLedger};
use super::local::{self, MARKER};
use super::{Ctx, Item, PullSettings, Summary, BUCKET_HINT};
use crate::aws::checksum::{hex, is_plain_md5, unquote};
use crate::aws::client::{connect, runtime};
use crate::aws::failure::{Failed, Failure};
use crate::aws::health;
use crate::aws::s3::{self, Get, Listed};
use crate::plan::Action;
use cityflow::error::Exit;

pub fn ledger_path(s: &PullSettings) -> PathBuf {
    s.common
        .ledger
        .clone()
        .unwrap_or_else(|| s.raw.join(".cityflow-pull.json"))
}

/// One object of the plan.
#[derive(Debug, Clone)]
struct Step {
    obj: Listed,
    rel: String,
    path: PathBuf,
    action: Action,
    reason: Option<String>,
    error: Option<String>,
    /// The local file's SHA-256 when it was hashed (adoption needs a HEAD to compare).
    local_sha: Option<String>,
    /// A ledger entry for a local copy proven equal to the object.
    adopt: Option<Pulled>,
}

/// Runs `raw pull`. Returns the summary and the exit code.
pub fn run(s: &PullSettings) -> (Summary, Exit) {
    let started = Instant::now();
    let summary = Summary::new(
        "pull",
        s.common.dry_run,
        format!("s3://{}/{}", s.bucket, s.prefix),
        s.raw.display().to_string(),
    );
    let lp = ledger_path(s);
    let ledger = match TransferLedger::load(&lp) {
        Ok(l) => l,
        Err(e) => return summary.fail(Exit::Usage, e, started),
    };
    if !s.common.dry_run {
        if let Err(e) = std::fs::create_dir_all(&s.raw) {
            return summary.fail(
                Exit::Usage,
                format!("cannot create the raw folder {}: {e}", s.raw.display()),
                started,
            );
        }
    }
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return summary.fail(Exit::Usage, e, started),
    };
    let book = Book::new(lp, ledger, !s.common.dry_run);
    rt.block_on(pull(s, book, summary, started))
}

async fn pull(
    s: &PullSettings,
    book: Book,
    mut summary: Summary,
    started: Instant,
) -> (Summary, Exit) {
    crate::signal::install();
    let at = s.common.aws.s3_shown();
    let s3 = match connect(&s.common.aws).await {
        Ok(c) => c.s3,
        Err((f, m)) => return summary.fail(f.exit(), m, started),
    };
    if let Err((f, m)) = health::bucket(&s3, &at, &s.bucket, false, &BUCKET_HINT).await {
        return summary.fail(f.exit(), m, started);
    }
    let objects = match s3::list(&s3, &s.bucket, &s.prefix).await {
        Ok(o) => o,
        Err((f, m)) => return summary.fail(f.exit(), super::listing(&at, m), started),
    };
    let objects = match &s.days {
        None => objects,
        Some(days) => {
            let (kept, left_out) = super::needed(objects, &s.prefix, days);
            let day = |d: chrono::NaiveDate| {
                if d == chrono::NaiveDate::MIN || d == chrono::NaiveDate::MAX {
                    "*".to_string()
                } else {
                    d.to_string()
                }
            };
            summary.date_filter = Some(super::DateFilter {
                from: day(days.read_from),
                to: day(days.to),
                left_out,
            });
            kept
        }
    };
    let ctx = Ctx::new(s3, &s.bucket, &s.common, book, 0);
    let mut steps = match plan(s, &ctx, objects).await {
        Ok(p) => p,
        Err(e) => return summary.fail(Exit::Usage, format!("planning failed: {e}"), started),
    };
    // Local files the ledger does not know, with multipart ETags: compare with the metadata.
    resolve_adoptions(&ctx, &mut steps).await;
    for st in &steps {
        if let Some(p) = &st.adopt {
            ctx.book
                .update(|l| l.pulled.insert(ctx.ledger_key(&st.obj.key), p.clone()));
        }
        summary.items.push(Item {
            action: st.action,
            key: st.obj.key.clone(),
            path: st.rel.clone(),
            bytes: st.obj.bytes,
            reason: st.reason.clone(),
            sha256: None,
            verified: None,
            error: st.error.clone(),
        });
    }
    summary.count_plan();
    if s.common.dry_run {
        return summary.finish(Exit::Clean, started);
    }
    let dirs: BTreeSet<PathBuf> = steps
        .iter()
        .filter(|st| st.action.moves())
        .filter_map(|st| st.path.parent().map(Path::to_path_buf))
        .collect();
    let fatal = download_all(&ctx, &s.raw, steps, &mut summary).await;
    remove_stale_parts(&ctx, &dirs, &mut summary);
    if let Some(sig) = ctx.interrupted.get() {
        return super::stopped_by(*sig, &ctx, summary, started);
    }
    match fatal {
        Some((f, m)) => summary.fail(f.exit(), m, started),
        None => summary.finish(Exit::Clean, started),
    }
}

/// Plans every object against the local folder and the ledger (local checks read and hash
/// files: on the blocking pool, in parallel).
async fn plan(
    s: &PullSettings,
    ctx: &Ctx,
    objects: Vec<Listed>,
) -> Result<Vec<Step>, tokio::task::JoinError> {
    let endpoint = s.common.endpoint_id.clone();
    let pulled = ctx.book.with(|l| l.pulled.clone());
    let (raw, prefix, bucket) = (s.raw.clone(), s.prefix.clone(), s.bucket.clone());
    let mut steps = tokio::task::spawn_blocking(move || {
        objects
            .into_par_iter()
            .filter_map(|o| plan_one(o, &raw, &prefix, &endpoint, &bucket, &pulled))
            .collect::<Vec<Step>>()
    })
    .await?;
    steps.sort_by(|a, b| a.obj.key.cmp(&b.obj.key));
    Ok(steps)
}

/// Downloads the new and changed objects; finished ones are renamed into place and recorded
/// in batches. Returns what stopped the run, if anything did.
async fn download_all(
    ctx: &Arc<Ctx>,
    raw: &Path,
    steps: Vec<Step>,
    summary: &mut Summary,
) -> Option<Failed> {
    let work: Vec<Step> = steps.into_iter().filter(|st| st.action.moves()).collect();
    ctx.pb.set_length(work.iter().map(|w| w.obj.bytes).sum());
    ctx.pb.set_message(format!("pull {} objects", work.len()));
    let fetch = |ctx: Arc<Ctx>, st: Step| async move {
        let r = download(&ctx, &st).await;
        (st.obj.key.clone(), r.map(|f| (st, f)))
    };
    let mut pending: Vec<(Step, Fetched, Option<usize>)> = Vec::new();
    let mut last_commit = Instant::now();
    let fatal = super::each(ctx, work, fetch, summary, |summary, i, fetched| {
        if let Some((st, f)) = fetched {
            if f.resumed > 0 {
                summary.resumed += 1;
                summary.bytes_resumed += f.resumed;
            }
            pending.push((st, f, i));
        }
        if pending.len() >= 1000 || last_commit.elapsed().as_millis() >= 500 {
            commit(ctx, raw, &mut pending, summary);
            last_commit = Instant::now();
        }
    })
    .await;
    commit(ctx, raw, &mut pending, summary);
    ctx.pb.finish_and_clear();
    summary.bytes_transferred = ctx.moved.load(std::sync::atomic::Ordering::Relaxed);
    if let Err(e) = ctx.book.save(true) {
        summary.messages.push(e);
    }
    fatal
}

fn plan_one(
    obj: Listed,
    raw: &Path,
    prefix: &str,
    endpoint: &str,
    bucket: &str,
    pulled: &BTreeMap<String, Pulled>,
) -> Option<Step> {
    // Folder placeholders and push completion markers are not files of the tree.
    if obj.key.ends_with('/') || obj.key.rsplit('/').next() == Some(MARKER) {
        return None;
    }
    let mut st = Step {
        rel: String::new(),
        path: PathBuf::new(),
        action: Action::New,
        reason: None,
        error: None,
        local_sha: None,
        adopt: None,
        obj,
    };
    match local::local_path(raw, prefix, &st.obj.key) {
        Ok((rel, path)) => {
            st.rel = rel;
            st.path = path;
        }
        Err(e) => {
            st.action = Action::Error;
            st.error = Some(e);
            return Some(st);
        }
    }
    let entry = pulled.get(&super::ledger::key(endpoint, bucket, &st.obj.key));
    let meta = match std::fs::metadata(&st.path) {
        Ok(m) => m,
        Err(_) => {
            st.reason = entry.map(|_| "missing locally".to_string());
            return Some(st);
        }
    };
    if meta.is_dir() {
        st.action = Action::Error;
        st.error = Some(format!("{}: a folder is in the way", st.path.display()));
        return Some(st);
    }
    st.action = Action::Changed;
    let changed = |mut st: Step, why: &str| {
        st.reason = Some(why.to_string());
        Some(st)
    };
    if let Some(e) = entry {
        if e.etag != st.obj.etag || e.bytes != st.obj.bytes {
            return changed(st, "changed remotely");
        }
        if meta.len() != e.bytes {
            return changed(st, "local copy differs");
        }
        return match local::hash_file(&st.path, None, false) {
            Ok(h) if h.sha256_hex() == e.sha256 => {
                st.action = Action::Unchanged;
                Some(st)
            }
            Ok(_) => changed(st, "local copy differs"),
            Err(err) => changed(st, &format!("local copy unreadable: {err}")),
        };
    }
    if meta.len() != st.obj.bytes {
        return changed(st, "local copy differs");
    }
    let plain = is_plain_md5(&st.obj.etag);
    match local::hash_file(&st.path, None, plain) {
        Ok(h) if plain && h.md5.map(|m| hex(&m)) == Some(st.obj.etag.clone()) => {
            st.action = Action::Unchanged;
            st.adopt = Some(Pulled {
                etag: st.obj.etag.clone(),
                bytes: st.obj.bytes,
                sha256: h.sha256_hex(),
                verified: "md5".into(),
            });
            Some(st)
        }
        Ok(h) if plain => {
            let _ = h;
            changed(st, "local copy differs")
        }
        Ok(h) => {
            // Decided after a HEAD (the object's SHA-256 metadata).
            st.local_sha = Some(h.sha256_hex());
            changed(st, "not in the ledger")
        }
        Err(err) => changed(st, &format!("local copy unreadable: {err}")),
    }
}

async fn resolve_adoptions(ctx: &Arc<Ctx>, steps: &mut [Step]) {
    let keys = steps
        .iter()
        .enumerate()
        .filter(|(_, st)| st.local_sha.is_some());
    let keys = keys.map(|(i, st)| (i, st.obj.key.clone())).collect();
    for (i, head) in super::heads(ctx, keys).await {
        let sha = head.and_then(|h| h.metadata()?.get("sha256").cloned());
        let st = &mut steps[i];
        if sha.is_some() && sha == st.local_sha {
            st.action = Action::Unchanged;
            st.reason = None;
            st.adopt = Some(Pulled {
                etag: st.obj.etag.clone(),
                bytes: st.obj.bytes,
                sha256: st.local_sha.clone().unwrap_or_default(),
                verified: "sha256".into(),
            });
        } else {
            st.reason = Some(if sha.is_some() {
                "local copy differs".into()
            } else {
                "local copy not verifiable".into()
            });
        }
    }
}

/// A finished, verified download waiting to be renamed into place.
struct Fetched {
    part: PathBuf,
    pulled: Pulled,
    /// Bytes of a resumed download that were not fetched again.
    resumed: u64,
}

/// Makes the finished downloads durable, renames them over their targets, records them.
fn commit(
    ctx: &Ctx,
    raw: &Path,
    pending: &mut Vec<(Step, Fetched, Option<usize>)>,
    summary: &mut Summary,
) {
    if pending.is_empty() {
        return;
    }
    sync_fs(raw, pending.iter().map(|(_, f, _)| f.part.as_path()));
    for (st, f, i) in pending.drain(..) {
        match cityflow::safe_file::rename_own(&f.part, &st.path) {
            Ok(()) => {
                let lk = ctx.ledger_key(&st.obj.key);
                ctx.book.update(|l| {
                    l.downloads.remove(&lk);
                    l.pulled.insert(lk, f.pulled.clone());
                });
                summary.transferred += 1;
                if let Some(i) = i {
                    summary.items[i].sha256 = Some(f.pulled.sha256.clone());
                    summary.items[i].verified = Some(f.pulled.verified.clone());
                }
            }
            Err(e) => {
                let _ = std::fs::remove_file(&f.part);
                summary.failed += 1;
                if let Some(i) = i {
                    summary.items[i].action = Action::Error;
                    summary.items[i].error =
                        Some(format!("cannot rename into {}: {e}", st.path.display()));
                }
            }
        }
    }
    // The ledger save syncs the filesystem again, which makes the renames durable.
    if let Err(e) = ctx.book.save(true) {
        summary.messages.push(e);
    }
}

/// Flushes file data before renames: one `syncfs` for the filesystem (Linux), else per file.
fn sync_fs<'a>(root: &Path, files: impl Iterator<Item = &'a Path>) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        if let Ok(d) = File::open(root) {
            // SAFETY: syncfs takes a valid open file descriptor, owned by `d` for the call.
            if unsafe { libc::syncfs(d.as_raw_fd()) } == 0 {
                return;
            }
        }
    }
    for f in files {
        if let Ok(f) = File::open(f) {
            let _ = f.sync_all();
        }
    }
}

async fn download(ctx: &Arc<Ctx>, st: &Step) -> Result<Fetched, Failed> {
    let key = &st.obj.key;
    if let Some(dir) = st.path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            (
                Failure::Other,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
    }
    let res = if st.obj.bytes >= ctx.common.multipart_above {
        download_chunked(ctx, st).await
    } else {
        download_whole(ctx, st).await
    };
    res.map_err(|(f, m)| (f, format!("{key}: {m}")))
}

/// A new part file beside `target` (see [`cityflow::safe_file::create_beside`]).
fn new_part(target: &Path) -> Result<(PathBuf, File), Failed> {
    cityflow::safe_file::create_beside(target, local::PART_SUFFIX).map_err(|e| {
        (
            Failure::Other,
            format!("cannot create a part file beside {}: {e}", target.display()),
        )
    })
}

/// Removes, in the folders of this pull's downloads, the part files of ours that no download
/// of the ledger names and whose writer is gone (killed runs; older versions' fixed names).
fn remove_stale_parts(ctx: &Ctx, dirs: &BTreeSet<PathBuf>, summary: &mut Summary) {
    if ctx.common.dry_run {
        return;
    }
    let named: BTreeSet<String> = ctx.book.with(|l| {
        l.downloads
            .values()
            .filter_map(|d| d.part.clone())
            .collect()
    });
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(local::PART_SUFFIX) || named.contains(&name) {
                continue;
            }
            let gone = match cityflow::safe_file::name_owner(&name, local::PART_SUFFIX) {
                Some(pid) => !cityflow::store::local::alive(pid),
                // `.<name>.cityflow-part`: an older version's, resumed only through the ledger.
                None => true,
            };
            if gone && e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()) {
                if let Err(err) = std::fs::remove_file(e.path()) {
                    summary.messages.push(format!(
                        "cannot remove the stale part file {}: {err}",
                        e.path().display()
                    ));
                }
            }
        }
    }
}

/// What the object says its content is.
struct Expect {
    sha256: Option<String>,
    md5: Option<String>,
}

impl Expect {
    fn of(meta: Option<&std::collections::HashMap<String, String>>, etag: &str) -> Expect {
        let sha256 = meta
            .and_then(|m| m.get("sha256"))
            .map(|s| s.to_ascii_lowercase());
        Expect {
            md5: (sha256.is_none() && is_plain_md5(etag)).then(|| etag.to_ascii_lowercase()),
            sha256,
        }
    }

    /// Compares the downloaded digests; returns how it was verified.
    fn check(&self, sha: &str, md5: Option<&str>) -> Result<&'static str, String> {
        if let Some(want) = &self.sha256 {
            return if want == sha {
                Ok("sha256")
            } else {
                Err(format!(
                    "downloaded bytes have SHA-256 {sha}, the object's metadata says {want}"
                ))
            };
        }
        if let (Some(want), Some(got)) = (&self.md5, md5) {
            return if want == got {
                Ok("md5")
            } else {
                Err(format!(
                    "downloaded bytes have MD5 {got}, the object's ETag says {want}"
                ))
            };
        }
        Ok("size")
    }
}

async fn download_whole(ctx: &Arc<Ctx>, st: &Step) -> Result<Fetched, Failed> {
    let _permit = ctx.permit().await?;
    let get = Get {
        range: None,
        if_match: Some(&st.obj.etag),
    };
    let out = fetch(ctx, &st.obj.key, &get).await?;
    let expect = Expect::of(out.metadata(), &st.obj.etag);
    let mut body = out.body;
    let (part, file) = new_part(&st.path)?;
    let part = part.as_path();
    let io = |e: std::io::Error| {
        let _ = std::fs::remove_file(part);
        (Failure::Other, format!("writing {}: {e}", part.display()))
    };
    let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut sha = Sha256::new();
    let mut md5 = expect
        .md5
        .as_ref()
        .map(|_| <md5::Md5 as md5::Digest>::new());
    let mut got = 0u64;
    loop {
        let chunk = match body.try_next().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                let _ = std::fs::remove_file(part);
                return Err((Failure::Other, format!("reading the body: {e}")));
            }
        };
        ctx.pace(chunk.len() as u64).await;
        file.write_all(&chunk).map_err(io)?;
        sha.update(&chunk);
        if let Some(m) = md5.as_mut() {
            md5::Digest::update(m, &chunk);
        }
        got += chunk.len() as u64;
        ctx.moved(chunk.len() as u64);
    }
    file.flush().map_err(io)?;
    drop(file);
    let verified = verify(
        part,
        st.obj.bytes,
        got,
        &expect,
        &hex(&sha.finalize()),
        md5.map(|m| hex(&md5::Digest::finalize(m))).as_deref(),
    )?;
    Ok(Fetched {
        part: part.to_path_buf(),
        pulled: Pulled {
            etag: st.obj.etag.clone(),
            bytes: st.obj.bytes,
            sha256: verified.0,
            verified: verified.1.into(),
        },
        resumed: 0,
    })
}

fn verify(
    part: &Path,
    want_bytes: u64,
    got: u64,
    expect: &Expect,
    sha: &str,
    md5: Option<&str>,
) -> Result<(String, &'static str), Failed> {
    let how = if got != want_bytes {
        Err(format!("received {got} bytes, the object has {want_bytes}"))
    } else {
        expect.check(sha, md5)
    };
    match how {
        Ok(h) => Ok((sha.to_string(), h)),
        Err(e) => {
            let _ = std::fs::remove_file(part);
            Err((Failure::Other, e))
        }
    }
}

/// GETs (part of) an object of the listing: a failed `If-Match` means it changed since.
async fn fetch(
    ctx: &Ctx,
    key: &str,
    get: &Get<'_>,
) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, Failed> {
    match s3::get_object(&ctx.s3, &ctx.bucket, key, get).await {
        Ok(Some(out)) => Ok(out),
        Ok(None) => Err((
            Failure::Other,
            "the object is gone since it was listed".into(),
        )),
        Err((_, m)) if m.contains("PreconditionFailed") || m.contains("412") => Err(changed()),
        Err(e) => Err(e),
    }
}

fn changed() -> Failed {
    (
        Failure::Other,
        "the object changed during the pull; run it again".into(),
    )
}

/// The state of a chunked download: the part file, the chunks done, the object's digests.
struct Chunked {
    lk: String,
    chunk: u64,
    bytes: u64,
    etag: String,
    key: String,
    expect: Expect,
}

impl Chunked {
    fn size_of(&self, i: u64) -> u64 {
        (self.bytes - i * self.chunk).min(self.chunk)
    }
}

fn io_error(part: &Path) -> impl Fn(std::io::Error) -> Failed + '_ {
    move |e| (Failure::Other, format!("writing {}: {e}", part.display()))
}

async fn download_chunked(ctx: &Arc<Ctx>, st: &Step) -> Result<Fetched, Failed> {
    let c = Arc::new(head_for_chunks(ctx, st).await?);
    let (part, file, done) = resume_or_start(ctx, &c, &st.path)?;
    let part = part.as_path();
    let resumed: u64 = done.iter().map(|&i| c.size_of(i)).sum();
    ctx.pb.inc(resumed);
    let reader = file.try_clone().map_err(io_error(part))?;
    let file = Arc::new(file);
    // The SHA-256 follows the chunks as they complete in order (the part file is read back from
    // the page cache), so that verifying costs no extra pass at the end.
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let (want_md5, bytes) = (c.expect.md5.is_some(), c.bytes);
    let hasher =
        tokio::task::spawn_blocking(move || local::hash_following(&reader, bytes, &rx, want_md5));
    fetch_chunks(ctx, &c, &file, done, tx).await?;
    let h = hasher
        .await
        .map_err(|e| (Failure::Other, format!("hashing: {e}")))?
        .map_err(|e| (Failure::Other, format!("reading {}: {e}", part.display())))?;
    // Durable before it is renamed into place (its writeback started chunk by chunk).
    tokio::task::spawn_blocking(move || file.sync_data())
        .await
        .map_err(|e| (Failure::Other, format!("syncing: {e}")))?
        .map_err(io_error(part))?;
    let md5 = h.md5.map(|m| hex(&m));
    let verified = verify(
        part,
        bytes,
        h.bytes,
        &c.expect,
        &h.sha256_hex(),
        md5.as_deref(),
    );
    if verified.is_err() {
        // Whatever was written is wrong: start over next time.
        ctx.book.update(|l| l.downloads.remove(&c.lk));
    }
    let verified = verified?;
    Ok(Fetched {
        part: part.to_path_buf(),
        pulled: Pulled {
            etag: st.obj.etag.clone(),
            bytes,
            sha256: verified.0,
            verified: verified.1.into(),
        },
        resumed,
    })
}

/// The object must still be the listed version; its metadata says what to verify.
async fn head_for_chunks(ctx: &Ctx, st: &Step) -> Result<Chunked, Failed> {
    let key = &st.obj.key;
    let head = {
        let _permit = ctx.permit().await?;
        s3::head(&ctx.s3, &ctx.bucket, key).await?
    };
    let Some(head) = head.filter(|h| unquote(h.e_tag().unwrap_or_default()) == st.obj.etag) else {
        return Err(changed());
    };
    Ok(Chunked {
        lk: ctx.ledger_key(key),
        chunk: ctx.common.part_size_for(st.obj.bytes),
        bytes: st.obj.bytes,
        etag: st.obj.etag.clone(),
        key: key.clone(),
        expect: Expect::of(head.metadata(), &st.obj.etag),
    })
}

/// The part file the ledger names for this download, reopened when the ledger and the file
/// agree on the same object version and the file is still a regular file of ours (never
/// through a link), with the chunks already written; else a fresh part file, recorded in the
/// ledger before any chunk is fetched.
fn resume_or_start(
    ctx: &Ctx,
    c: &Chunked,
    target: &Path,
) -> Result<(PathBuf, File, BTreeSet<u64>), Failed> {
    let prior = ctx.book.with(|l| l.downloads.get(&c.lk).cloned());
    let prior = prior.filter(|d| d.etag == c.etag && d.bytes == c.bytes && d.chunk_size == c.chunk);
    if let Some(d) = prior {
        let part = match &d.part {
            Some(name) if !name.contains('/') => target.with_file_name(name),
            Some(_) => PathBuf::new(),
            None => local::part_path(target),
        };
        match cityflow::safe_file::open_own(&part, true) {
            Ok(f) if f.metadata().is_ok_and(|m| m.len() == c.bytes) => {
                return Ok((part, f, d.done))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("not resumed, downloading again: {e}"),
        }
    }
    let (part, f) = new_part(target)?;
    f.set_len(c.bytes).map_err(io_error(&part))?;
    let d = Download {
        etag: c.etag.clone(),
        bytes: c.bytes,
        chunk_size: c.chunk,
        done: Default::default(),
        part: part.file_name().map(|n| n.to_string_lossy().into_owned()),
    };
    ctx.book.update(|l| l.downloads.insert(c.lk.clone(), d));
    ctx.book.save(true).map_err(|e| (Failure::Other, e))?;
    Ok((part, f, BTreeSet::new()))
}

/// Fetches the chunks not done, records each in the ledger as it is written, and tells the
/// hasher how far the file is complete from its start.
async fn fetch_chunks(
    ctx: &Arc<Ctx>,
    c: &Arc<Chunked>,
    file: &Arc<File>,
    mut done: BTreeSet<u64>,
    tx: std::sync::mpsc::Sender<u64>,
) -> Result<(), Failed> {
    let mut next = 0u64;
    let mut advance = |done: &BTreeSet<u64>| {
        while done.contains(&next) {
            next += 1;
        }
        let _ = tx.send((next * c.chunk).min(c.bytes));
    };
    advance(&done);
    let mut chunks = tokio::task::JoinSet::new();
    for i in (0..local::part_count(c.bytes, c.chunk)).filter(|i| !done.contains(i)) {
        let (ctx, file, c) = (ctx.clone(), file.clone(), c.clone());
        chunks.spawn(async move {
            let (start, len) = (i * c.chunk, c.size_of(i));
            get_range(&ctx, &file, &c.key, &c.etag, start, len)
                .await
                .map(|()| i)
        });
    }
    while let Some(joined) = chunks.join_next().await {
        let i = match joined {
            Ok(Ok(i)) => i,
            Ok(Err(e)) => {
                // The confirmed chunks stay recorded: the next run fetches only the others.
                chunks.abort_all();
                let _ = ctx.book.save(true);
                return Err(e);
            }
            Err(e) => return Err((Failure::Other, format!("chunk task: {e}"))),
        };
        ctx.book.update(|l| {
            if let Some(d) = l.downloads.get_mut(&c.lk) {
                d.done.insert(i);
            }
        });
        done.insert(i);
        advance(&done);
        ctx.part_confirmed().map_err(|e| (Failure::Other, e))?;
    }
    Ok(())
}

/// Fetches bytes `start..start+len` of the object and writes them at their offset.
async fn get_range(
    ctx: &Arc<Ctx>,
    file: &File,
    key: &str,
    etag: &str,
    start: u64,
    len: u64,
) -> Result<(), Failed> {
    use std::os::unix::fs::FileExt;
    let _permit = ctx.permit().await?;
    let get = Get {
        range: Some((start, len)),
        if_match: Some(etag),
    };
    let out = fetch(ctx, key, &get).await?;
    let mut body = out.body;
    let mut off = start;
    // Pieces are gathered into 1 MiB writes.
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let flush = |buf: &mut Vec<u8>, off: &mut u64| -> Result<(), Failed> {
        file.write_all_at(buf, *off)
            .map_err(|e| (Failure::Other, format!("writing the part file: {e}")))?;
        *off += buf.len() as u64;
        buf.clear();
        Ok(())
    };
    loop {
        let piece = match body.try_next().await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => return Err((Failure::Other, format!("reading bytes at {off}: {e}"))),
        };
        ctx.pace(piece.len() as u64).await;
        ctx.moved(piece.len() as u64);
        buf.extend_from_slice(&piece);
        if buf.len() >= 1 << 20 {
            flush(&mut buf, &mut off)?;
        }
    }
    flush(&mut buf, &mut off)?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // Start writing this chunk to disk now (no wait), so the final sync has little left.
        // SAFETY: a valid open file descriptor, owned by `file` for the call.
        unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                start as i64,
                len as i64,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
    if off - start != len {
        return Err((
            Failure::Other,
            format!("range at {start}: received {} of {len} bytes", off - start),
        ));
    }
    Ok(())
}
