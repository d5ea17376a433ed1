//! S3 requests, each through [`retry`] and named in its errors: the one PUT (SHA-256 checksum
//! or Content-MD5, the store's answer checked), in-memory bodies that go multipart above a
//! threshold ([`super::multipart`]), the one GET (whole, ranged, `If-Match`), HEAD, paginated
//! listing and delete.

use std::collections::HashMap;

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::{ByteStream, SdkBody};
use aws_sdk_s3::Client;

use super::checksum::{b64, hex, is_plain_md5, unquote, Digests};
use super::failure::{failed, Failed, Failure};
use super::retry::retry;

/// In-memory bodies above this go multipart, in parts of [`PART_SIZE`].
pub const MULTIPART_ABOVE: usize = 16 << 20;
pub const PART_SIZE: usize = 8 << 20;

/// An object to write: where, its content type and its user metadata (`x-amz-meta-*`).
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub bucket: String,
    pub key: String,
    pub content_type: String,
    pub metadata: Vec<(String, String)>,
}

impl Object {
    pub fn new(bucket: &str, key: &str, content_type: &str) -> Object {
        Object {
            bucket: bucket.to_string(),
            key: key.to_string(),
            content_type: content_type.to_string(),
            metadata: Vec::new(),
        }
    }

    pub fn with_metadata(mut self, name: &str, value: &str) -> Object {
        self.metadata.push((name.to_string(), value.to_string()));
        self
    }

    pub(crate) fn metadata_map(&self) -> Option<HashMap<String, String>> {
        (!self.metadata.is_empty()).then(|| self.metadata.iter().cloned().collect())
    }
}

/// A body sent as often as it takes: each attempt streams the same bytes (no copy).
pub struct Body(SdkBody);

impl Body {
    pub fn new(bytes: Vec<u8>) -> Body {
        Body(SdkBody::from(bytes))
    }

    pub fn stream(&self) -> ByteStream {
        ByteStream::new(self.0.try_clone().expect("an in-memory body clones"))
    }
}

/// What the store answered to a PUT.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Without its quotes.
    pub etag: String,
    /// How the answer proves the store holds these very bytes: `sha256` (its checksum),
    /// `md5` (a plain ETag); `None` when it gave neither (check otherwise, e.g. a HEAD).
    pub verified: Option<&'static str>,
    pub retries: u32,
}

/// The store reported a checksum other than ours.
pub fn mismatch(what: &str, store: &str, ours: &str) -> Failed {
    (
        Failure::Other,
        format!("{what}: the store reports checksum {store}, the content's is {ours}"),
    )
}

/// PUTs `body` (whose digests are `d`) in one request, carrying its SHA-256 checksum
/// (`checksums`) or its Content-MD5, and checks the store's answer against them.
pub async fn put(
    s3: &Client,
    o: &Object,
    body: Vec<u8>,
    d: &Digests,
    checksums: bool,
) -> Result<Stored, Failed> {
    let body = Body::new(body);
    let (sha, md5) = (b64(&d.sha256), b64(&d.md5));
    let (r, retries) = retry(s3, || {
        let req = s3
            .put_object()
            .bucket(&o.bucket)
            .key(&o.key)
            .content_type(&o.content_type)
            .set_metadata(o.metadata_map())
            .body(body.stream());
        let req = if checksums {
            req.checksum_sha256(&sha)
        } else {
            req.content_md5(&md5)
        };
        req.send()
    })
    .await;
    let out = r.map_err(|e| failed("PUT", &e))?;
    let etag = unquote(out.e_tag().unwrap_or_default());
    let verified = match out.checksum_sha256() {
        Some(c) if c == sha => Some("sha256"),
        Some(c) => return Err(mismatch("PUT", c, &sha)),
        None if etag == hex(&d.md5) => Some("md5"),
        None if is_plain_md5(&etag) => {
            return Err((
                Failure::Other,
                format!(
                    "PUT: the store's ETag {etag} is not the content's MD5 {}",
                    hex(&d.md5)
                ),
            ))
        }
        None => None,
    };
    Ok(Stored {
        etag,
        verified,
        retries,
    })
}

/// Puts an in-memory body: one PUT, or multipart above [`MULTIPART_ABOVE`]. Returns the number
/// of retried attempts once the store confirmed it.
pub async fn put_bytes(
    s3: &Client,
    o: &Object,
    body: &[u8],
    checksums: bool,
) -> Result<u32, Failed> {
    if body.len() > MULTIPART_ABOVE {
        return super::multipart::put_in_memory(s3, o, body, PART_SIZE as u64, checksums).await;
    }
    let d = Digests::of(body);
    put(s3, o, body.to_vec(), &d, checksums)
        .await
        .map(|s| s.retries)
}

/// Which part of an object to GET, and on which condition.
#[derive(Debug, Clone, Default)]
pub struct Get<'a> {
    /// `(start, length)`: bytes `start..start + length`.
    pub range: Option<(u64, u64)>,
    /// Only this version (its ETag, without quotes): a changed object fails with
    /// `PreconditionFailed`.
    pub if_match: Option<&'a str>,
}

/// GETs an object (its body still to be read); `Ok(None)` when it does not exist.
pub async fn get_object(
    s3: &Client,
    bucket: &str,
    key: &str,
    g: &Get<'_>,
) -> Result<Option<GetObjectOutput>, Failed> {
    let range = g.range.map(|(s, n)| format!("bytes={}-{}", s, s + n - 1));
    let (r, _) = retry(s3, || {
        s3.get_object()
            .bucket(bucket)
            .key(key)
            .set_range(range.clone())
            .set_if_match(g.if_match.map(|e| format!("\"{e}\"")))
            .send()
    })
    .await;
    match r {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => {
            let what = match g.range {
                Some((s, n)) => format!("GET bytes {s}+{n}"),
                None => "GET".to_string(),
            };
            Err(failed(&what, &e))
        }
    }
}

/// Reads an object whole, with its content type; `Ok(None)` when it does not exist.
pub async fn get(
    s3: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(Vec<u8>, Option<String>)>, Failed> {
    let Some(out) = get_object(s3, bucket, key, &Get::default()).await? else {
        return Ok(None);
    };
    let ct = out.content_type().map(str::to_string);
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| (Failure::Other, format!("GET {key}: reading the body: {e}")))?
        .into_bytes()
        .to_vec();
    Ok(Some((bytes, ct)))
}

/// HEADs an object; `Ok(None)` when it does not exist.
pub async fn head(
    s3: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<HeadObjectOutput>, Failed> {
    let (r, _) = retry(s3, || s3.head_object().bucket(bucket).key(key).send()).await;
    match r {
        Ok(h) => Ok(Some(h)),
        Err(e) => match failed("HEAD", &e) {
            (Failure::Missing, _) => Ok(None),
            f => Err(f),
        },
    }
}

/// An object of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub key: String,
    pub bytes: u64,
    /// Without its quotes.
    pub etag: String,
}

/// Every object under `prefix`, in key order, page after page (1,000 keys a page).
pub async fn list(s3: &Client, bucket: &str, prefix: &str) -> Result<Vec<Listed>, Failed> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (r, _) = retry(s3, || {
            s3.list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.clone())
                .send()
        })
        .await;
        let page = r.map_err(|e| failed(&format!("listing s3://{bucket}/{prefix}"), &e))?;
        out.extend(page.contents().iter().filter_map(|o| {
            Some(Listed {
                key: o.key()?.to_string(),
                bytes: o.size().unwrap_or(0).max(0) as u64,
                etag: unquote(o.e_tag().unwrap_or_default()),
            })
        }));
        match page.next_continuation_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Deletes an object (deleting a missing one is not an error). Returns the retried attempts.
pub async fn delete(s3: &Client, bucket: &str, key: &str) -> Result<u32, Failed> {
    let (r, retries) = retry(s3, || s3.delete_object().bucket(bucket).key(key).send()).await;
    r.map(|_| retries)
        .map_err(|e| failed(&format!("DELETE {key}"), &e))
}
