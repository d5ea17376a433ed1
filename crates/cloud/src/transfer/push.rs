//! `raw push`: a local file or folder -> s3://BUCKET/<root>/<zone>/[<to>/].
//!
//! Plan: every local file is hashed (SHA-256, streamed; per part too for multipart files). An
//! object is unchanged when the ledger recorded this SHA-256 for it and the listed ETag is still
//! the one the push left, or, without a ledger entry, when the object's `sha256` metadata equals
//! the file's (one HEAD, only when the sizes match). Anything else moves.
//!
//! Execute: files below the threshold go in one PUT; larger ones multipart. Every request
//! carries the checksum of its bytes, which the store checks: `x-amz-checksum-sha256` for single
//! PUTs, `x-amz-checksum-crc32` for parts (CRC32 is ~10x cheaper than SHA-256 and the parts are
//! not signed again: unsigned payload), Content-MD5 for both with `--s3-checksums off`. Each
//! part's CRC32 must equal the one of the hashing pass, so the object is exactly the file whose
//! SHA-256 goes into its metadata. After upload the object is checked: the store's reported
//! checksum (whole, or composite of the parts) or ETag, and a HEAD for size and metadata. The upload id and each confirmed part are kept in the
//! ledger: a killed push resumes the upload (parts the store still lists, with the same digest)
//! instead of restarting. A push that ends with no failure writes the completion marker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use rayon::prelude::*;
use serde::Serialize;

use super::ledger::{Book, PartDone, Pushed, TransferLedger, Upload};
use super::local::{self, b64, hex, FileHash, LocalFile, MARKER};
use super::{
    check_bucket, is_plain_md5, list, runtime, s3_error, unquote, Ctx, Item, PushSettings,
    RemoteObject, Summary,
};
use crate::upload::aws::{clients, Failure};
use crate::upload::exit_of;
use crate::upload::plan::Action;
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

type Failed = (Failure, String);

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
    let s3 = clients(&s.common.aws).await.s3;
    if let Err((f, m)) = check_bucket(&s3, &s.bucket, s.create_bucket && !s.common.dry_run).await {
        return summary.fail(exit_of(f), m, started);
    }
    let remote: BTreeMap<String, RemoteObject> = match list(&s3, &s.bucket, &s.prefix).await {
        Ok(o) => o.into_iter().map(|o| (o.key.clone(), o)).collect(),
        Err((f, m)) => return summary.fail(exit_of(f), m, started),
    };
    let ctx = Ctx::new(s3, &s.bucket, &s.common, book, 0);
    let pushed = ctx.book.with(|l| l.pushed.clone());
    let (common, prefix, endpoint, bucket) = (
        s.common.clone(),
        s.prefix.clone(),
        s.common.endpoint_id.clone(),
        s.bucket.clone(),
    );
    // Hashing reads every file once: on the blocking pool, in parallel.
    let planned = tokio::task::spawn_blocking(move || {
        files
            .into_par_iter()
            .map(|f| {
                let key = format!("{prefix}{}", f.rel);
                let multipart = f.bytes >= common.multipart_above;
                let part_size = multipart.then(|| common.part_size_for(f.bytes));
                let mut st = Step {
                    key,
                    action: Action::New,
                    reason: None,
                    error: None,
                    hash: None,
                    head: false,
                    part_size,
                    file: f,
                };
                match local::hash_file(&st.file.path, part_size, false) {
                    Ok(h) => st.hash = Some(h),
                    Err(e) => {
                        st.action = Action::Error;
                        st.error = Some(format!("cannot read {}: {e}", st.file.path.display()));
                        return st;
                    }
                }
                let h = st.hash.as_ref().expect("hashed");
                st.file.bytes = h.bytes;
                let Some(r) = remote.get(&st.key) else {
                    return st;
                };
                st.action = Action::Changed;
                let lk = super::ledger::key(&endpoint, &bucket, &st.key);
                match pushed.get(&lk) {
                    Some(p)
                        if p.sha256 == h.sha256_hex() && p.etag == r.etag && p.bytes == r.bytes =>
                    {
                        st.action = Action::Unchanged;
                    }
                    Some(p) if p.etag != r.etag => {
                        st.reason = Some("replaced remotely".into());
                        st.head = r.bytes == h.bytes;
                    }
                    Some(_) => st.reason = Some("local file changed".into()),
                    None if r.bytes == h.bytes => st.head = true,
                    None => st.reason = Some("differs".into()),
                }
                st
            })
            .collect::<Vec<Step>>()
    })
    .await;
    let mut steps = match planned {
        Ok(p) => p,
        Err(e) => return summary.fail(Exit::Usage, format!("hashing failed: {e}"), started),
    };
    resolve_heads(&ctx, &mut steps).await;
    for (path, err) in walk_errors {
        summary.items.push(Item {
            action: Action::Error,
            key: String::new(),
            path,
            bytes: 0,
            reason: None,
            sha256: None,
            verified: None,
            error: Some(err),
        });
    }
    let uploads = ctx.book.with(|l| l.uploads.clone());
    for st in &mut steps {
        if matches!(st.action, Action::New | Action::Changed)
            && uploads.contains_key(&ctx.ledger_key(&st.key))
        {
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
    if s.common.dry_run {
        return summary.finish(Exit::Clean, started);
    }
    let by_key: BTreeMap<String, usize> = summary
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.key.clone(), i))
        .collect();
    let work: Vec<Step> = steps
        .iter()
        .filter(|st| matches!(st.action, Action::New | Action::Changed))
        .cloned()
        .collect();
    ctx.pb.set_length(work.iter().map(|w| w.file.bytes).sum());
    ctx.pb.set_message(format!("push {} objects", work.len()));
    let mut tasks = tokio::task::JoinSet::new();
    for st in work {
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let r = if st.part_size.is_some() {
                put_multipart(&ctx, &st).await
            } else {
                put_single(&ctx, &st).await
            };
            let r = r.map_err(|(f, m)| (f, format!("{}: {m}", st.file.rel)));
            (st, r)
        });
    }
    let mut fatal: Option<Failed> = None;
    while let Some(joined) = tasks.join_next().await {
        let Ok((st, result)) = joined else { continue };
        let i = by_key.get(&st.key).copied();
        match result {
            Ok(done) => {
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
                    summary.items[i].sha256 = Some(done.pushed.sha256.clone());
                    summary.items[i].verified = Some(done.verified.into());
                }
            }
            Err((f, msg)) => {
                summary.failed += 1;
                if let Some(i) = i {
                    summary.items[i].action = Action::Error;
                    summary.items[i].error = Some(msg.clone());
                }
                if matches!(f, Failure::Unreachable | Failure::Credentials) && fatal.is_none() {
                    fatal = Some((f, msg));
                    tasks.abort_all();
                }
            }
        }
        if let Err(e) = ctx.book.save(false) {
            summary.messages.push(e);
        }
    }
    ctx.pb.finish_and_clear();
    summary.bytes_transferred = ctx.moved.load(std::sync::atomic::Ordering::Relaxed);
    if let Err(e) = ctx.book.save(true) {
        summary.messages.push(e);
    }
    if let Some((f, m)) = fatal {
        return summary.fail(exit_of(f), m, started);
    }
    if s.marker && summary.failed == 0 {
        match write_marker(&ctx, s, &steps).await {
            Ok(m) => summary.marker = Some(m),
            Err((f, m)) => {
                summary.failed += 1;
                summary.messages.push(m);
                if matches!(f, Failure::Unreachable | Failure::Credentials) {
                    return summary.finish(exit_of(f), started);
                }
            }
        }
    }
    summary.finish(Exit::Clean, started)
}

async fn resolve_heads(ctx: &Arc<Ctx>, steps: &mut [Step]) {
    let mut heads = tokio::task::JoinSet::new();
    for (i, st) in steps.iter().enumerate() {
        if !st.head {
            continue;
        }
        let (ctx, key) = (ctx.clone(), st.key.clone());
        heads.spawn(async move {
            let _permit = ctx.sem.clone().acquire_owned().await.expect("open");
            let r = ctx
                .s3
                .head_object()
                .bucket(&ctx.bucket)
                .key(&key)
                .send()
                .await;
            (
                i,
                r.ok().map(|h| {
                    (
                        h.metadata().and_then(|m| m.get("sha256").cloned()),
                        unquote(h.e_tag().unwrap_or_default()),
                    )
                }),
            )
        });
    }
    while let Some(Ok((i, head))) = heads.join_next().await {
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

struct Done {
    pushed: Pushed,
    verified: &'static str,
    resumed: u64,
}

fn sha_mismatch(what: &str, store: &str, ours: &str) -> Failed {
    (
        Failure::Other,
        format!("{what}: the store reports checksum {store}, the file's is {ours}"),
    )
}

async fn put_single(ctx: &Arc<Ctx>, st: &Step) -> Result<Done, Failed> {
    let _permit = ctx.sem.clone().acquire_owned().await.expect("open");
    let path = st.file.path.clone();
    let body = tokio::task::spawn_blocking(move || std::fs::read(&path))
        .await
        .map_err(|e| (Failure::Other, format!("reading: {e}")))?
        .map_err(|e| {
            (
                Failure::Other,
                format!("cannot read {}: {e}", st.file.path.display()),
            )
        })?;
    let sha = local::sha256(&body);
    let md5 = local::md5(&body);
    let planned = st.hash.as_ref().map(|h| h.sha256);
    if planned != Some(sha) {
        return Err((
            Failure::Other,
            "the file changed while being pushed; run the push again".into(),
        ));
    }
    let bytes = body.len() as u64;
    ctx.pace(bytes).await;
    let mut req = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key(&st.key)
        .content_type(local::content_type(&st.file.rel))
        .metadata("sha256", hex(&sha))
        .body(ByteStream::from(body));
    req = if ctx.checksums {
        req.checksum_sha256(b64(&sha))
    } else {
        req.content_md5(b64(&md5))
    };
    let out = req.send().await.map_err(|e| s3_error("PUT", &e))?;
    ctx.moved(bytes);
    let etag = unquote(out.e_tag().unwrap_or_default());
    // The store's own account of what it stored.
    let verified = match out.checksum_sha256() {
        Some(c) if c == b64(&sha) => "sha256",
        Some(c) => return Err(sha_mismatch("PUT", c, &b64(&sha))),
        None if etag == hex(&md5) => "md5",
        None if is_plain_md5(&etag) => {
            return Err((
                Failure::Other,
                format!(
                    "PUT: the store's ETag {etag} is not the file's MD5 {}",
                    hex(&md5)
                ),
            ))
        }
        None => check_head(ctx, &st.key, bytes, &hex(&sha)).await?,
    };
    Ok(Done {
        pushed: Pushed {
            sha256: hex(&sha),
            bytes,
            etag,
        },
        verified,
        resumed: 0,
    })
}

/// HEAD after upload: the stored size and SHA-256 metadata are the file's.
async fn check_head(ctx: &Ctx, key: &str, bytes: u64, sha: &str) -> Result<&'static str, Failed> {
    let h = ctx
        .s3
        .head_object()
        .bucket(&ctx.bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| s3_error("HEAD after upload", &e))?;
    let size = h.content_length().unwrap_or(-1);
    let meta = h.metadata().and_then(|m| m.get("sha256")).cloned();
    if size != bytes as i64 || meta.as_deref() != Some(sha) {
        return Err((
            Failure::Other,
            format!(
                "after upload the object has {size} bytes and sha256 {meta:?}; the file has {bytes} bytes and {sha}"
            ),
        ));
    }
    Ok("size+sha256 metadata")
}

async fn put_multipart(ctx: &Arc<Ctx>, st: &Step) -> Result<Done, Failed> {
    let hash = st.hash.clone().expect("hashed");
    let part_size = st.part_size.expect("multipart");
    let (bytes, sha) = (hash.bytes, hash.sha256_hex());
    let lk = ctx.ledger_key(&st.key);
    let n = hash.parts.len() as u64;
    let size_of = move |i: u64| (bytes - i * part_size).min(part_size);
    // Resume the recorded upload when it is for this very content and the store still has it.
    let prior = ctx.book.with(|l| l.uploads.get(&lk).cloned());
    let mut kept: BTreeMap<i32, PartDone> = BTreeMap::new();
    let mut upload_id = None;
    if let Some(u) = prior {
        if u.sha256 == sha
            && u.bytes == bytes
            && u.part_size == part_size
            && u.checksums == ctx.checksums
        {
            match list_parts(ctx, &st.key, &u.upload_id).await {
                Ok(Some(stored)) => {
                    for (num, p) in u.parts {
                        let ok = stored.get(&num) == Some(&p.etag)
                            && hash
                                .parts
                                .get(num as usize - 1)
                                .map(|&c| local::crc32_b64(c))
                                == Some(p.crc32.clone());
                        if ok {
                            kept.insert(num, p);
                        }
                    }
                    upload_id = Some(u.upload_id);
                }
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        } else {
            let _ = ctx
                .s3
                .abort_multipart_upload()
                .bucket(&ctx.bucket)
                .key(&st.key)
                .upload_id(&u.upload_id)
                .send()
                .await;
        }
    }
    let upload_id = match upload_id {
        Some(id) => {
            ctx.book.update(|l| {
                if let Some(u) = l.uploads.get_mut(&lk) {
                    u.parts = kept.clone();
                }
            });
            id
        }
        None => {
            let mut create = ctx
                .s3
                .create_multipart_upload()
                .bucket(&ctx.bucket)
                .key(&st.key)
                .content_type(local::content_type(&st.file.rel))
                .metadata("sha256", &sha);
            if ctx.checksums {
                create = create.checksum_algorithm(ChecksumAlgorithm::Crc32);
            }
            let up = create
                .send()
                .await
                .map_err(|e| s3_error("CreateMultipartUpload", &e))?;
            let id = up
                .upload_id()
                .ok_or((Failure::Other, "the store gave no upload id".to_string()))?
                .to_string();
            kept.clear();
            ctx.book.update(|l| {
                l.uploads.insert(
                    lk.clone(),
                    Upload {
                        upload_id: id.clone(),
                        sha256: sha.clone(),
                        bytes,
                        part_size,
                        checksums: ctx.checksums,
                        parts: BTreeMap::new(),
                    },
                )
            });
            // Recorded before any part goes: a kill from here on resumes this upload.
            ctx.book.save(true).map_err(|e| (Failure::Other, e))?;
            id
        }
    };
    let resumed: u64 = kept.keys().map(|&k| size_of(k as u64 - 1)).sum();
    ctx.pb.inc(resumed);
    let mut parts = tokio::task::JoinSet::new();
    for i in (0..n).filter(|i| !kept.contains_key(&(*i as i32 + 1))) {
        let (ctx, st, id) = (ctx.clone(), st.clone(), upload_id.clone());
        let want = hash.parts[i as usize];
        parts.spawn(async move {
            put_part(&ctx, &st, &id, i, i * part_size, size_of(i), want)
                .await
                .map(|p| (i as i32 + 1, p))
        });
    }
    while let Some(joined) = parts.join_next().await {
        let (num, p) = match joined {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                // The upload and its confirmed parts stay recorded: the next run resumes.
                parts.abort_all();
                let _ = ctx.book.save(true);
                return Err(e);
            }
            Err(e) => return Err((Failure::Other, format!("part task: {e}"))),
        };
        kept.insert(num, p.clone());
        ctx.book.update(|l| {
            if let Some(u) = l.uploads.get_mut(&lk) {
                u.parts.insert(num, p);
            }
        });
        ctx.part_confirmed().map_err(|e| (Failure::Other, e))?;
    }
    let completed: Vec<CompletedPart> = kept
        .iter()
        .map(|(num, p)| {
            let mut b = CompletedPart::builder()
                .part_number(*num)
                .e_tag(format!("\"{}\"", p.etag));
            if ctx.checksums {
                b = b.checksum_crc32(local::crc32_b64(hash.parts[*num as usize - 1]));
            }
            b.build()
        })
        .collect();
    let out = ctx
        .s3
        .complete_multipart_upload()
        .bucket(&ctx.bucket)
        .key(&st.key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await;
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            let err = s3_error("CompleteMultipartUpload", &e);
            if err.1.contains("NoSuchUpload") {
                ctx.book.update(|l| l.uploads.remove(&lk));
            }
            return Err(err);
        }
    };
    let etag = unquote(out.e_tag().unwrap_or_default());
    let composite = local::composite_crc32(&hash.parts);
    let mut verified = match out.checksum_crc32() {
        Some(c) if c == composite => "crc32",
        Some(c) => return Err(sha_mismatch("CompleteMultipartUpload", c, &composite)),
        None => "",
    };
    if verified.is_empty() && !ctx.checksums {
        let md5s: Option<Vec<[u8; 16]>> = kept
            .values()
            .map(|p| {
                let mut d = [0u8; 16];
                (p.md5.len() == 32)
                    .then(|| {
                        for (k, b) in d.iter_mut().enumerate() {
                            *b = u8::from_str_radix(&p.md5[2 * k..2 * k + 2], 16).ok()?;
                        }
                        Some(d)
                    })
                    .flatten()
            })
            .collect();
        if md5s.is_some_and(|m| local::multipart_etag(&m) == etag) {
            verified = "md5";
        }
    }
    // Always: the stored size and SHA-256 metadata.
    let head = check_head(ctx, &st.key, bytes, &sha).await?;
    if verified.is_empty() {
        verified = head;
    }
    Ok(Done {
        pushed: Pushed {
            sha256: sha,
            bytes,
            etag,
        },
        verified,
        resumed,
    })
}

/// The parts the store holds for an upload (number -> ETag); `None` when the upload is gone.
async fn list_parts(
    ctx: &Ctx,
    key: &str,
    upload_id: &str,
) -> Result<Option<BTreeMap<i32, String>>, Failed> {
    let mut pages = ctx
        .s3
        .list_parts()
        .bucket(&ctx.bucket)
        .key(key)
        .upload_id(upload_id)
        .into_paginator()
        .send();
    let mut out = BTreeMap::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => {
                for part in p.parts() {
                    if let (Some(n), Some(e)) = (part.part_number(), part.e_tag()) {
                        out.insert(n, unquote(e));
                    }
                }
            }
            Err(e) => {
                let err = s3_error("ListParts", &e);
                let gone = err.1.contains("NoSuchUpload")
                    || e.raw_response().map(|r| r.status().as_u16()) == Some(404);
                return if gone { Ok(None) } else { Err(err) };
            }
        }
    }
    Ok(Some(out))
}

async fn put_part(
    ctx: &Arc<Ctx>,
    st: &Step,
    upload_id: &str,
    i: u64,
    offset: u64,
    len: u64,
    want: u32,
) -> Result<PartDone, Failed> {
    let _permit = ctx.sem.clone().acquire_owned().await.expect("open");
    let path = st.file.path.clone();
    let checksums = ctx.checksums;
    let (body, crc, md5) = tokio::task::spawn_blocking(move || {
        local::read_at(&path, offset, len as usize).map(|b| {
            let crc = crc32fast::hash(&b);
            let md5 = (!checksums).then(|| local::md5(&b));
            (b, crc, md5)
        })
    })
    .await
    .map_err(|e| (Failure::Other, format!("reading: {e}")))?
    .map_err(|e| {
        (
            Failure::Other,
            format!("cannot read part {} at {offset}: {e}", i + 1),
        )
    })?;
    if crc != want {
        return Err((
            Failure::Other,
            format!(
                "part {} changed since the file was hashed; run the push again",
                i + 1
            ),
        ));
    }
    ctx.pace(len).await;
    let mut req = ctx
        .s3
        .upload_part()
        .bucket(&ctx.bucket)
        .key(&st.key)
        .upload_id(upload_id)
        .part_number(i as i32 + 1)
        .body(ByteStream::from(body));
    req = match md5 {
        None => req.checksum_crc32(local::crc32_b64(crc)),
        Some(m) => req.content_md5(b64(&m)),
    };
    // The checksum header protects the body: no second SHA-256 pass to sign it.
    let out = req
        .customize()
        .disable_payload_signing()
        .send()
        .await
        .map_err(|e| s3_error(&format!("UploadPart {}", i + 1), &e))?;
    ctx.moved(len);
    if let Some(c) = out.checksum_crc32() {
        if c != local::crc32_b64(crc) {
            let want = local::crc32_b64(crc);
            return Err(sha_mismatch(&format!("part {}", i + 1), c, &want));
        }
    }
    Ok(PartDone {
        etag: unquote(out.e_tag().unwrap_or_default()),
        crc32: local::crc32_b64(crc),
        md5: md5.map(|m| hex(&m)).unwrap_or_default(),
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
    if let Ok(h) = ctx
        .s3
        .head_object()
        .bucket(&ctx.bucket)
        .key(&key)
        .send()
        .await
    {
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
    let mut req = ctx
        .s3
        .put_object()
        .bucket(&ctx.bucket)
        .key(&key)
        .content_type("application/json")
        .metadata("manifest-sha256", &manifest_sha)
        .metadata("sha256", cityflow::output::sha256_hex(&body));
    req = if ctx.checksums {
        req.checksum_sha256(b64(&local::sha256(&body)))
    } else {
        req.content_md5(b64(&local::md5(&body)))
    };
    req.body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| s3_error(&format!("completion marker {key}"), &e))?;
    Ok(format!("s3://{}/{key} (written)", ctx.bucket))
}
