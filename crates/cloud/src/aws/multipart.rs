//! The one multipart upload: resumable, every part checked.
//!
//! The content is known ahead as a [`Layout`] (size, part size, each part's CRC32 from a first
//! pass). Each part is read from its [`Source`], must have the planned CRC32 (the object is
//! exactly the content that was hashed), and carries that CRC32 (`x-amz-checksum-crc32`, ~10x
//! cheaper than SHA-256, and the part is not signed again: unsigned payload) or its Content-MD5
//! (`--s3-checksums off`). The store's answers are checked: each part's CRC32, then the
//! composite CRC32 of the object (or its multipart ETag in Content-MD5 mode).
//!
//! The source may keep a journal ([`Source::prior`], [`Source::started`],
//! [`Source::confirmed`]...): an interrupted upload is then resumed with the parts the store
//! still lists with the same digest, instead of being restarted. Without a journal (an
//! in-memory body), a failed upload is aborted.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::checksum::{b64, composite_crc32, crc32_b64, hex, md5_of_hex, multipart_etag, unquote};
use super::failure::{failed, interrupted, Failed, Failure, INTERRUPTED};
use super::retry::retry;
use super::s3::{mismatch, Body, Object};

/// A confirmed part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartDone {
    pub etag: String,
    /// CRC32 of the part (the S3 checksum header's base64).
    pub crc32: String,
    /// MD5 of the part (hex), for the multipart ETag check (Content-MD5 mode).
    pub md5: String,
}

/// The parts of a content: its size, the part size and each part's CRC32.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub bytes: u64,
    pub part_size: u64,
    pub crcs: Vec<u32>,
}

impl Layout {
    pub fn of(body: &[u8], part_size: u64) -> Layout {
        Layout {
            bytes: body.len() as u64,
            part_size,
            crcs: body
                .chunks(part_size as usize)
                .map(crc32fast::hash)
                .collect(),
        }
    }

    pub fn count(&self) -> u64 {
        self.crcs.len() as u64
    }

    /// Size of part `i` (0-based).
    pub fn size_of(&self, i: u64) -> u64 {
        (self.bytes - i * self.part_size).min(self.part_size)
    }

    /// The CRC32 header value planned for part number `n` (1-based).
    fn crc_of(&self, n: i32) -> Option<String> {
        let i = usize::try_from(n).ok()?.checked_sub(1)?;
        self.crcs.get(i).map(|&c| crc32_b64(c))
    }
}

/// A part read for upload: its bytes and digests.
pub struct PartData {
    pub bytes: Vec<u8>,
    pub crc: u32,
    /// In Content-MD5 mode.
    pub md5: Option<[u8; 16]>,
}

impl PartData {
    pub fn of(bytes: Vec<u8>, with_md5: bool) -> PartData {
        PartData {
            crc: crc32fast::hash(&bytes),
            md5: with_md5.then(|| super::checksum::md5(&bytes)),
            bytes,
        }
    }
}

/// An upload recorded by an earlier run.
#[derive(Debug, Clone, PartialEq)]
pub enum Prior {
    /// For this very content: resume it.
    Resume {
        upload_id: String,
        parts: BTreeMap<i32, PartDone>,
    },
    /// For another content (or other settings): abort it, start afresh.
    Stale { upload_id: String },
}

/// Where the parts come from, and the journal of an upload (all optional but `read`).
pub trait Source: Send + Sync + 'static {
    /// Reads part `i` (`len` bytes at `offset`) with its digests (MD5 when `with_md5`).
    fn read(
        &self,
        i: u64,
        offset: u64,
        len: u64,
        with_md5: bool,
    ) -> impl Future<Output = Result<PartData, Failed>> + Send;
    /// Waits before `n` bytes go (a bandwidth limit).
    fn pace(&self, _n: u64) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// `n` bytes were sent.
    fn sent(&self, _n: u64) {}
    /// The upload an interrupted run left.
    fn prior(&self) -> Option<Prior> {
        None
    }
    /// A new upload was created: record it before any part goes.
    fn started(&self, _upload_id: &str) -> Result<(), String> {
        Ok(())
    }
    /// The prior upload is resumed with these parts (`bytes` of them).
    fn resumed(&self, _kept: &BTreeMap<i32, PartDone>, _bytes: u64) {}
    /// Part `n` is confirmed by the store.
    fn confirmed(&self, _n: i32, _part: &PartDone) -> Result<(), String> {
        Ok(())
    }
    /// The upload failed: `true` keeps it (and its confirmed parts) for a later run, `false`
    /// aborts it.
    fn interrupted(&self) -> bool {
        false
    }
    /// The store no longer knows the upload.
    fn gone(&self) {}
}

/// A completed multipart upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Completed {
    /// Without its quotes.
    pub etag: String,
    /// `crc32` (the composite checksum) or `md5` (the multipart ETag); `None`: the store gave
    /// neither.
    pub verified: Option<&'static str>,
    /// Bytes of the parts kept from an earlier run.
    pub resumed: u64,
    pub retries: u32,
}

/// Uploads `o` in parts (at most as many in flight as `sem` allows).
pub async fn upload<S: Source>(
    s3: &Client,
    o: Arc<Object>,
    layout: Arc<Layout>,
    src: Arc<S>,
    sem: Arc<Semaphore>,
    checksums: bool,
) -> Result<Completed, Failed> {
    let (id, mut kept) = open(s3, &o, &layout, &*src, checksums).await?;
    let resumed: u64 = kept.keys().map(|&n| layout.size_of(n as u64 - 1)).sum();
    let parts = Arc::new(Parts {
        s3: s3.clone(),
        o: o.clone(),
        layout: layout.clone(),
        id: id.clone(),
        checksums,
    });
    let retries = match parts.send(&src, &sem, &mut kept).await {
        Ok(r) => r,
        Err(e) => {
            if !src.interrupted() {
                abort(s3, &o, &id).await;
            }
            return Err(e);
        }
    };
    let (etag, verified, r) = parts.complete(&*src, &kept).await?;
    Ok(Completed {
        etag,
        verified,
        resumed,
        retries: retries + r,
    })
}

/// Puts an in-memory body in parts of `part_size`, one at a time; aborted on failure.
/// Returns the retried attempts.
pub async fn put_in_memory(
    s3: &Client,
    o: &Object,
    body: &[u8],
    part_size: u64,
    checksums: bool,
) -> Result<u32, Failed> {
    let layout = Arc::new(Layout::of(body, part_size));
    let src = Arc::new(InMemory(body.to_vec()));
    let one = Arc::new(Semaphore::new(1));
    upload(s3, Arc::new(o.clone()), layout, src, one, checksums)
        .await
        .map(|c| c.retries)
}

struct InMemory(Vec<u8>);

impl Source for InMemory {
    async fn read(
        &self,
        _i: u64,
        offset: u64,
        len: u64,
        with_md5: bool,
    ) -> Result<PartData, Failed> {
        let part = &self.0[offset as usize..(offset + len) as usize];
        Ok(PartData::of(part.to_vec(), with_md5))
    }
}

/// Resumes the prior upload when the store still has it, else creates one. Returns its id and
/// the parts kept.
async fn open<S: Source>(
    s3: &Client,
    o: &Object,
    layout: &Layout,
    src: &S,
    checksums: bool,
) -> Result<(String, BTreeMap<i32, PartDone>), Failed> {
    match src.prior() {
        Some(Prior::Resume { upload_id, parts }) => {
            if let Some(stored) = list_parts(s3, o, &upload_id).await? {
                let kept: BTreeMap<i32, PartDone> = parts
                    .into_iter()
                    .filter(|(n, p)| {
                        stored.get(n) == Some(&p.etag) && layout.crc_of(*n) == Some(p.crc32.clone())
                    })
                    .collect();
                let bytes = kept.keys().map(|&n| layout.size_of(n as u64 - 1)).sum();
                src.resumed(&kept, bytes);
                return Ok((upload_id, kept));
            }
        }
        Some(Prior::Stale { upload_id }) => abort(s3, o, &upload_id).await,
        None => {}
    }
    let (r, _) = retry(s3, || {
        let create = s3
            .create_multipart_upload()
            .bucket(&o.bucket)
            .key(&o.key)
            .content_type(&o.content_type)
            .set_metadata(o.metadata_map());
        let create = if checksums {
            create.checksum_algorithm(ChecksumAlgorithm::Crc32)
        } else {
            create
        };
        create.send()
    })
    .await;
    let up = r.map_err(|e| failed("CreateMultipartUpload", &e))?;
    let id = up
        .upload_id()
        .ok_or((Failure::Other, "the store gave no upload id".to_string()))?
        .to_string();
    src.started(&id).map_err(|e| (Failure::Other, e))?;
    Ok((id, BTreeMap::new()))
}

/// Aborts an upload (best effort: an upload left behind only costs storage until the
/// bucket's lifecycle rule removes it).
async fn abort(s3: &Client, o: &Object, upload_id: &str) {
    let _ = retry(s3, || {
        s3.abort_multipart_upload()
            .bucket(&o.bucket)
            .key(&o.key)
            .upload_id(upload_id)
            .send()
    })
    .await;
}

/// The parts the store holds for an upload (number -> ETag); `None` when the upload is gone.
async fn list_parts(
    s3: &Client,
    o: &Object,
    upload_id: &str,
) -> Result<Option<BTreeMap<i32, String>>, Failed> {
    let mut out = BTreeMap::new();
    let mut marker: Option<String> = None;
    loop {
        let (r, _) = retry(s3, || {
            s3.list_parts()
                .bucket(&o.bucket)
                .key(&o.key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.clone())
                .send()
        })
        .await;
        let page = match r {
            Ok(p) => p,
            Err(e) => {
                let err = failed("ListParts", &e);
                let gone = err.1.contains("NoSuchUpload") || err.0 == Failure::Missing;
                return if gone { Ok(None) } else { Err(err) };
            }
        };
        for part in page.parts() {
            if let (Some(n), Some(e)) = (part.part_number(), part.e_tag()) {
                out.insert(n, unquote(e));
            }
        }
        match page.next_part_number_marker {
            Some(m) if page.is_truncated == Some(true) => marker = Some(m),
            _ => return Ok(Some(out)),
        }
    }
}

/// One upload's parts on their way.
struct Parts {
    s3: Client,
    o: Arc<Object>,
    layout: Arc<Layout>,
    id: String,
    checksums: bool,
}

impl Parts {
    /// Sends the parts not kept, recording each as it is confirmed. Returns the retries.
    async fn send<S: Source>(
        self: &Arc<Self>,
        src: &Arc<S>,
        sem: &Arc<Semaphore>,
        kept: &mut BTreeMap<i32, PartDone>,
    ) -> Result<u32, Failed> {
        let mut tasks = tokio::task::JoinSet::new();
        for i in (0..self.layout.count()).filter(|i| !kept.contains_key(&(*i as i32 + 1))) {
            let (this, src, sem) = (self.clone(), src.clone(), sem.clone());
            tasks.spawn(async move {
                // Closed by a signal: the part never starts.
                let Ok(_permit) = sem.acquire_owned().await else {
                    return Err(interrupted());
                };
                this.put_part(&*src, i).await
            });
        }
        let mut retries = 0;
        let mut stopped: Option<Failed> = None;
        while let Some(joined) = tasks.join_next().await {
            let (n, part, r) = match joined {
                Ok(Ok(x)) => x,
                // A signal: the parts in flight still finish and are recorded.
                Ok(Err(e)) if e.1 == INTERRUPTED => {
                    stopped = Some(e);
                    continue;
                }
                Ok(Err(e)) => {
                    tasks.abort_all();
                    return Err(e);
                }
                Err(e) => return Err((Failure::Other, format!("part task: {e}"))),
            };
            retries += r;
            src.confirmed(n, &part).map_err(|e| (Failure::Other, e))?;
            kept.insert(n, part);
        }
        stopped.map_or(Ok(retries), Err)
    }

    /// Reads, checks and sends part `i`. Returns its number, the confirmed part and retries.
    async fn put_part<S: Source>(&self, src: &S, i: u64) -> Result<(i32, PartDone, u32), Failed> {
        let n = i as i32 + 1;
        let len = self.layout.size_of(i);
        let data = src
            .read(i, i * self.layout.part_size, len, !self.checksums)
            .await?;
        if Some(data.crc) != self.layout.crcs.get(i as usize).copied() {
            return Err((
                Failure::Other,
                format!("part {n} changed since the file was hashed; run the push again"),
            ));
        }
        src.pace(len).await;
        let crc = crc32_b64(data.crc);
        let md5 = data.md5.map(|m| b64(&m));
        let body = Body::new(data.bytes);
        let (r, retries) = retry(&self.s3, || {
            let req = self
                .s3
                .upload_part()
                .bucket(&self.o.bucket)
                .key(&self.o.key)
                .upload_id(&self.id)
                .part_number(n)
                .body(body.stream());
            let req = match &md5 {
                None => req.checksum_crc32(&crc),
                Some(m) => req.content_md5(m),
            };
            // The checksum header protects the body: no second SHA-256 pass to sign it.
            req.customize().disable_payload_signing().send()
        })
        .await;
        let out = r.map_err(|e| failed(&format!("UploadPart {n}"), &e))?;
        src.sent(len);
        if let Some(c) = out.checksum_crc32().filter(|c| *c != crc) {
            return Err(mismatch(&format!("part {n}"), c, &crc));
        }
        let part = PartDone {
            etag: unquote(out.e_tag().unwrap_or_default()),
            crc32: crc,
            md5: data.md5.map(|m| hex(&m)).unwrap_or_default(),
        };
        Ok((n, part, retries))
    }

    /// Completes the upload and checks the store's account of the whole object. Returns its
    /// ETag, how it was verified and the retries.
    async fn complete<S: Source>(
        &self,
        src: &S,
        kept: &BTreeMap<i32, PartDone>,
    ) -> Result<(String, Option<&'static str>, u32), Failed> {
        let parts: Vec<CompletedPart> = kept
            .iter()
            .map(|(n, p)| {
                let b = CompletedPart::builder()
                    .part_number(*n)
                    .e_tag(format!("\"{}\"", p.etag));
                match self.checksums {
                    true => b.set_checksum_crc32(self.layout.crc_of(*n)),
                    false => b,
                }
                .build()
            })
            .collect();
        let done = CompletedMultipartUpload::builder()
            .set_parts(Some(parts))
            .build();
        let (r, retries) = retry(&self.s3, || {
            self.s3
                .complete_multipart_upload()
                .bucket(&self.o.bucket)
                .key(&self.o.key)
                .upload_id(&self.id)
                .multipart_upload(done.clone())
                .send()
        })
        .await;
        let out = r.map_err(|e| {
            let err = failed("CompleteMultipartUpload", &e);
            if err.1.contains("NoSuchUpload") {
                src.gone();
            }
            err
        })?;
        let etag = unquote(out.e_tag().unwrap_or_default());
        let composite = composite_crc32(&self.layout.crcs);
        let verified = match out.checksum_crc32() {
            Some(c) if c == composite => Some("crc32"),
            Some(c) => return Err(mismatch("CompleteMultipartUpload", c, &composite)),
            None if !self.checksums && etag_of(kept).as_deref() == Some(etag.as_str()) => {
                Some("md5")
            }
            None => None,
        };
        Ok((etag, verified, retries))
    }
}

/// The multipart ETag of the parts (Content-MD5 mode: every part's MD5 is known).
fn etag_of(kept: &BTreeMap<i32, PartDone>) -> Option<String> {
    let md5s: Option<Vec<[u8; 16]>> = kept.values().map(|p| md5_of_hex(&p.md5)).collect();
    md5s.map(|m| multipart_etag(&m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_cut_parts_and_plan_their_checksums() {
        let body: Vec<u8> = (0..25u32).map(|i| i as u8).collect();
        let l = Layout::of(&body, 10);
        assert_eq!(l.count(), 3);
        assert_eq!((l.size_of(0), l.size_of(2)), (10, 5));
        assert_eq!(l.crc_of(3), Some(crc32_b64(crc32fast::hash(&body[20..]))));
        assert_eq!((l.crc_of(0), l.crc_of(4)), (None, None));
        let d = PartData::of(body[..10].to_vec(), true);
        assert_eq!(d.crc, l.crcs[0]);
        assert_eq!(d.md5, Some(super::super::checksum::md5(&body[..10])));
    }
}
