//! Backup of the `weather_data` collection to S3, and its restore.
//!
//! The backup is the collection's documents as JSON Lines (sorted by station then timestamp,
//! without `_id`: the same text as the run's `weather_data.jsonl`), gzip-compressed (no file name,
//! time 0: the same documents give the same bytes), uploaded to
//! `s3://<bucket>/<prefix>/weather_data_<YYYYMMDDTHHMMSSZ>.jsonl.gz` (the time of the injected
//! clock), with a manifest beside it (`….manifest.json`: documents, per station, sizes and the
//! SHA-256 of both forms). The restore downloads a backup (the latest by default), checks it
//! against its manifest (SHA-256, gzip CRC, document counts), loads it with the import's upserts
//! and verifies: the collection, exported again, must be exactly the backup.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::mongo::{ImportStats, Verification, WeatherCollection};
use crate::aws::client::{connect, runtime, Clients};
use crate::aws::failure::{Failed, Failure};
use crate::aws::health::{self, BucketHint};
use crate::aws::options::AwsOptions;
use crate::aws::s3::{self, Object};
use cityflow::error::Exit;
use cityflow::output::sha256_hex;
use cityflow::time::Clock;

/// Where backups go.
#[derive(Debug, Clone)]
pub struct S3Target {
    pub aws: AwsOptions,
    pub bucket: String,
    /// Without slashes at the ends (`backups`).
    pub prefix: String,
    pub create_bucket: bool,
}

impl S3Target {
    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub backup_key: String,
    pub source: String,
    pub created_at: String,
    pub format: String,
    pub documents: u64,
    pub per_station: BTreeMap<String, u64>,
    pub uncompressed_bytes: u64,
    pub uncompressed_sha256: String,
    pub compressed_bytes: u64,
    pub compressed_sha256: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BackupOutcome {
    pub bucket: String,
    pub key: String,
    pub manifest_key: String,
    pub documents: u64,
    pub uncompressed_bytes: u64,
    pub compressed_bytes: u64,
    pub elapsed_ms: u128,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RestoreOutcome {
    pub bucket: String,
    pub key: String,
    pub documents_in_backup: u64,
    pub import: ImportStats,
    /// The collection exported again equals the backup, byte for byte.
    pub identical: bool,
    pub verification: Verification,
    pub elapsed_ms: u128,
}

/// gzip, deterministic (no name, mtime 0).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

/// gunzip, checking the CRC and length of the gzip trailer.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| format!("not a valid gzip stream: {e}"))?;
    Ok(out)
}

fn per_station(lines: &[String]) -> Result<BTreeMap<String, u64>, String> {
    let mut m = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        let v: Json = serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1))?;
        let id = v
            .pointer("/station/station_id")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("line {}: no station.station_id", i + 1))?;
        *m.entry(id.to_string()).or_default() += 1;
    }
    Ok(m)
}

fn joined(lines: &[String]) -> Vec<u8> {
    let mut body = Vec::new();
    for l in lines {
        body.extend_from_slice(l.as_bytes());
        body.push(b'\n');
    }
    body
}

/// An S3 failure as the exit code of `stations`: what fails otherwise is an output not written.
fn fail((f, msg): Failed) -> (Exit, String) {
    let exit = match f {
        Failure::Other => Exit::Output,
        f => f.exit(),
    };
    (exit, msg)
}

const BUCKET_HINT: BucketHint = BucketHint {
    name_from: "--bucket / S3_BACKUP_BUCKET",
    create: "create it with `stations backup --create-bucket`",
};

/// The bucket exists (or is created, with `--create-bucket`) and the credentials are accepted.
async fn ready(c: &Clients, t: &S3Target) -> Result<(), (Exit, String)> {
    let at = t.aws.s3_shown();
    health::bucket(&c.s3, &at, &t.bucket, t.create_bucket, &BUCKET_HINT)
        .await
        .map(|_| ())
        .map_err(fail)
}

async fn put(
    c: &aws_sdk_s3::Client,
    t: &S3Target,
    key: &str,
    body: &[u8],
    content_type: &str,
) -> Result<u32, (Exit, String)> {
    let o = Object::new(&t.bucket, key, content_type);
    s3::put_bytes(c, &o, body, t.aws.s3_checksums)
        .await
        .map_err(|(f, m)| fail((f, format!("s3://{}/{key}: {m}", t.bucket))))
}

/// Exports the collection, compresses it and uploads it with its manifest.
pub fn backup(
    coll: &WeatherCollection,
    t: &S3Target,
    clock: &Clock,
) -> Result<BackupOutcome, (Exit, String)> {
    let t0 = Instant::now();
    let lines = coll.export_lines().map_err(|e| (Exit::Backend, e))?;
    let body = joined(&lines);
    let gz = gzip(&body);
    let stamp = clock.now.format("%Y%m%dT%H%M%SZ");
    let key = t.key(&format!("weather_data_{stamp}.jsonl.gz"));
    let manifest_key = t.key(&format!("weather_data_{stamp}.manifest.json"));
    let manifest = Manifest {
        backup_key: key.clone(),
        source: coll.shown.clone(),
        created_at: clock.timestamp(),
        format: "gzip JSON Lines, one document a line without _id, sorted by station_id then \
                 timestamp"
            .into(),
        documents: lines.len() as u64,
        per_station: per_station(&lines).map_err(|e| (Exit::Output, e))?,
        uncompressed_bytes: body.len() as u64,
        uncompressed_sha256: sha256_hex(&body),
        compressed_bytes: gz.len() as u64,
        compressed_sha256: sha256_hex(&gz),
    };
    let mbytes = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    let rt = runtime().map_err(|e| (Exit::Usage, e))?;
    rt.block_on(async {
        let clients = connect(&t.aws).await.map_err(fail)?;
        ready(&clients, t).await?;
        put(&clients.s3, t, &key, &gz, "application/gzip").await?;
        // The manifest last: a listed manifest always has its backup.
        put(&clients.s3, t, &manifest_key, &mbytes, "application/json").await
    })?;
    Ok(BackupOutcome {
        bucket: t.bucket.clone(),
        key,
        manifest_key,
        documents: manifest.documents,
        uncompressed_bytes: manifest.uncompressed_bytes,
        compressed_bytes: manifest.compressed_bytes,
        elapsed_ms: t0.elapsed().as_millis(),
    })
}

/// The newest backup key under the prefix (keys sort by their UTC stamp).
async fn latest(c: &aws_sdk_s3::Client, t: &S3Target) -> Result<String, (Exit, String)> {
    let prefix = t.key("weather_data_");
    let listed = s3::list(c, &t.bucket, &prefix).await.map_err(fail)?;
    let best = listed
        .into_iter()
        .map(|o| o.key)
        .filter(|k| k.ends_with(".jsonl.gz"))
        .max();
    best.ok_or_else(|| {
        (
            Exit::Usage,
            format!("no backup under s3://{}/{prefix}*", t.bucket),
        )
    })
}

/// Downloads a backup (the latest when `key` is None), checks it, loads it and verifies.
pub fn restore(
    coll: &WeatherCollection,
    t: &S3Target,
    key: Option<&str>,
    drop_first: bool,
) -> Result<RestoreOutcome, (Exit, String)> {
    let t0 = Instant::now();
    let rt = runtime().map_err(|e| (Exit::Usage, e))?;
    let (key, gz, manifest) = rt.block_on(async {
        let clients = connect(&t.aws).await.map_err(fail)?;
        ready(&clients, t).await?;
        let c = clients.s3;
        let key = match key {
            Some(k) => k.to_string(),
            None => latest(&c, t).await?,
        };
        let mkey = key.replace(".jsonl.gz", ".manifest.json");
        let get = |k: String| {
            let c = c.clone();
            async move {
                match s3::get(&c, &t.bucket, &k).await {
                    Ok(Some((b, _))) => Ok(b),
                    Ok(None) => Err((Exit::Usage, format!("s3://{}/{k} does not exist", t.bucket))),
                    Err((_, e)) => Err((Exit::Backend, format!("s3://{}/{k}: {e}", t.bucket))),
                }
            }
        };
        let gz = get(key.clone()).await?;
        let m = get(mkey.clone()).await?;
        let manifest: Manifest = serde_json::from_slice(&m).map_err(|e| {
            (
                Exit::Output,
                format!("s3://{}/{mkey}: not a manifest: {e}", t.bucket),
            )
        })?;
        Ok::<_, (Exit, String)>((key, gz, manifest))
    })?;
    let bad = |m: String| (Exit::Output, format!("backup {key}: {m}"));
    if sha256_hex(&gz) != manifest.compressed_sha256 {
        return Err(bad("SHA-256 differs from its manifest's".into()));
    }
    let body = gunzip(&gz).map_err(bad)?;
    if sha256_hex(&body) != manifest.uncompressed_sha256 {
        return Err(bad(
            "uncompressed SHA-256 differs from its manifest's".into()
        ));
    }
    let text = String::from_utf8(body).map_err(|_| bad("not UTF-8".into()))?;
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.len() as u64 != manifest.documents
        || per_station(&lines).map_err(bad)? != manifest.per_station
    {
        return Err(bad(format!(
            "{} documents, the manifest says {}",
            lines.len(),
            manifest.documents
        )));
    }
    let docs: Vec<Json> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("checked above"))
        .collect();
    if drop_first {
        coll.drop_collection().map_err(|e| (Exit::Backend, e))?;
    }
    let import = coll.import(&docs).map_err(|e| (Exit::Backend, e))?;
    let again = coll.export_lines().map_err(|e| (Exit::Backend, e))?;
    let identical = again == lines;
    let verification = coll
        .verify(Some(manifest.documents))
        .map_err(|e| (Exit::Backend, e))?;
    Ok(RestoreOutcome {
        bucket: t.bucket.clone(),
        key,
        documents_in_backup: manifest.documents,
        import,
        identical,
        verification,
        elapsed_ms: t0.elapsed().as_millis(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_deterministic_and_checked() {
        let a = gzip(b"{\"a\":1}\n");
        assert_eq!(a, gzip(b"{\"a\":1}\n"));
        // gzip magic, deflate, no flags, mtime 0
        assert_eq!(&a[..8], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
        assert_eq!(gunzip(&a).unwrap(), b"{\"a\":1}\n");
        let mut bad = a.clone();
        let n = bad.len();
        bad[n - 5] ^= 1; // the CRC32 of the trailer
        assert!(gunzip(&bad).is_err());
    }
}
