//! S3 objects: byte-identical uploads with an integrity check (the SDK's SHA-256 checksum, or
//! Content-MD5 when checksums are switched off), multipart above a threshold, reads for verify.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use base64::Engine;

use super::aws::{classify, describe, retry, Failure};

/// Bodies above this go multipart, in parts of this size.
pub const MULTIPART_ABOVE: usize = 16 << 20;
pub const PART_SIZE: usize = 8 << 20;

fn md5_b64(body: &[u8]) -> String {
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body))
}

/// Puts `body` at `bucket/key`, retrying what is worth retrying. Returns the number of retried
/// attempts once the store confirmed it.
pub async fn put(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: &[u8],
    content_type: &str,
    checksums: bool,
) -> Result<u32, (Failure, String)> {
    if body.len() > MULTIPART_ABOVE {
        return put_multipart(c, bucket, key, body, content_type, checksums).await;
    }
    let (r, retries) = retry(|| {
        let req = c
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body.to_vec()));
        let req = if checksums {
            req.checksum_algorithm(ChecksumAlgorithm::Sha256)
        } else {
            req.content_md5(md5_b64(body))
        };
        req.send()
    })
    .await;
    r.map(|_| retries).map_err(|e| (classify(&e), describe(&e)))
}

async fn put_multipart(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: &[u8],
    content_type: &str,
    checksums: bool,
) -> Result<u32, (Failure, String)> {
    let (up, mut retries) = retry(|| {
        let create = c
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type);
        let create = if checksums {
            create.checksum_algorithm(ChecksumAlgorithm::Sha256)
        } else {
            create
        };
        create.send()
    })
    .await;
    let up = up.map_err(|e| (classify(&e), describe(&e)))?;
    let id = up
        .upload_id()
        .ok_or((Failure::Other, "no upload id".to_string()))?
        .to_string();
    let abort = || async {
        let _ = retry(|| {
            c.abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&id)
                .send()
        })
        .await;
    };
    let mut parts = Vec::new();
    for (i, chunk) in body.chunks(PART_SIZE).enumerate() {
        let n = i as i32 + 1;
        let (r, rt) = retry(|| {
            let req = c
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(&id)
                .part_number(n)
                .body(ByteStream::from(chunk.to_vec()));
            let req = if checksums {
                req.checksum_algorithm(ChecksumAlgorithm::Sha256)
            } else {
                req.content_md5(md5_b64(chunk))
            };
            req.send()
        })
        .await;
        retries += rt;
        match r {
            Ok(out) => parts.push(
                CompletedPart::builder()
                    .part_number(n)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .set_checksum_sha256(out.checksum_sha256().map(str::to_string))
                    .build(),
            ),
            Err(e) => {
                abort().await;
                return Err((classify(&e), describe(&e)));
            }
        }
    }
    let done = CompletedMultipartUpload::builder()
        .set_parts(Some(parts))
        .build();
    let (r, rt) = retry(|| {
        c.complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .multipart_upload(done.clone())
            .send()
    })
    .await;
    r.map(|_| retries + rt)
        .map_err(|e| (classify(&e), describe(&e)))
}

/// Deletes the other payloads of an offloaded item once its pointer names `keep`
/// (`<folder>/<sha256>.json`): the other `<folder>/*` objects (older contents, or payloads of a
/// killed run) and `<folder>.json` (the layout before payloads were named by their hash).
/// Returns the number of retried attempts.
pub async fn remove_other_payloads(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    keep: &str,
) -> Result<u32, (Failure, String)> {
    let Some((folder, _)) = keep.rsplit_once('/') else {
        return Ok(0);
    };
    let mut retries = 0;
    let mut doomed = vec![format!("{folder}.json")];
    let mut token: Option<String> = None;
    loop {
        let (r, rt) = retry(|| {
            c.list_objects_v2()
                .bucket(bucket)
                .prefix(format!("{folder}/"))
                .set_continuation_token(token.clone())
                .send()
        })
        .await;
        retries += rt;
        let out = r.map_err(|e| (classify(&e), describe(&e)))?;
        doomed.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key())
                .filter(|k| *k != keep)
                .map(str::to_string),
        );
        match out.next_continuation_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    for k in doomed {
        let (r, rt) = retry(|| c.delete_object().bucket(bucket).key(&k).send()).await;
        retries += rt;
        r.map_err(|e| (classify(&e), describe(&e)))?;
    }
    Ok(retries)
}

/// Reads an object whole; `Ok(None)` when it does not exist.
pub async fn get(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(Vec<u8>, Option<String>)>, String> {
    let (r, _) = retry(|| c.get_object().bucket(bucket).key(key).send()).await;
    match r {
        Ok(out) => {
            let ct = out.content_type().map(str::to_string);
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .into_bytes()
                .to_vec();
            Ok(Some((bytes, ct)))
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => Err(describe(&e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_md5_is_base64_of_the_digest() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(super::md5_b64(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }
}
