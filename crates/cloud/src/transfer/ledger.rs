//! The transfer ledger: what the last pulls and pushes confirmed, and the transfers in progress.
//!
//! One JSON file per local folder (`<raw>/.cityflow-pull.json`, `<folder>/.cityflow-push.json`,
//! or `--ledger`), keyed by `<endpoint>|<bucket>|<key>` so several stores can share it. Saved
//! atomically (temporary file, fsync, rename) at most about once a second during a run, at once
//! when a multipart upload or ranged download starts, and at the end: a run killed at any point
//! loses at most the last second of confirmations, which the next run redoes (puts, part uploads
//! and ranged writes are idempotent).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::aws::multipart::PartDone;

/// A local copy confirmed by a pull.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pulled {
    /// The object's ETag when it was pulled: a different ETag means the object changed.
    pub etag: String,
    pub bytes: u64,
    /// SHA-256 of the local copy (hex), checked against the file on every pull.
    pub sha256: String,
    /// How the download was verified: `sha256` (the object's SHA-256 metadata), `md5` (its
    /// single-part ETag), or `size` (nothing stronger was available).
    pub verified: String,
}

/// A large download in progress, in chunks written at their offsets into the part file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Download {
    pub etag: String,
    pub bytes: u64,
    pub chunk_size: u64,
    /// Chunks confirmed written.
    pub done: BTreeSet<u64>,
    /// The part file's name beside the target (`.<name>.<pid>-<random>.cityflow-part`); absent
    /// in ledgers of older versions, whose part file was `.<name>.cityflow-part`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
}

/// An object confirmed by a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pushed {
    pub sha256: String,
    pub bytes: u64,
    /// The object's ETag after the push: a different ETag means someone replaced it.
    pub etag: String,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upload {
    pub upload_id: String,
    /// SHA-256 of the whole file being uploaded (also in the object's metadata).
    pub sha256: String,
    pub bytes: u64,
    pub part_size: u64,
    /// Whether the parts carry CRC32 checksums (`--s3-checksums on`): an upload is resumed
    /// only with the same setting.
    #[serde(default)]
    pub checksums: bool,
    /// Part number -> confirmed part.
    pub parts: BTreeMap<i32, PartDone>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransferLedger {
    pub version: u32,
    #[serde(default)]
    pub pulled: BTreeMap<String, Pulled>,
    #[serde(default)]
    pub downloads: BTreeMap<String, Download>,
    #[serde(default)]
    pub pushed: BTreeMap<String, Pushed>,
    #[serde(default)]
    pub uploads: BTreeMap<String, Upload>,
}

/// The ledger key of an object.
pub fn key(endpoint: &str, bucket: &str, key: &str) -> String {
    format!("{endpoint}|{bucket}|{key}")
}

impl TransferLedger {
    /// Loads the ledger (none yet: empty). A corrupt ledger is an error, never silently reset.
    pub fn load(p: &Path) -> Result<TransferLedger, String> {
        match std::fs::read(p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TransferLedger {
                version: 1,
                ..TransferLedger::default()
            }),
            Err(e) => Err(format!("cannot read the ledger {}: {e}", p.display())),
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                format!(
                    "the ledger {} is corrupt ({e}); move it away to re-check every object",
                    p.display()
                )
            }),
        }
    }
}

/// The ledger of a run, shared by its tasks, with throttled atomic saves.
pub struct Book {
    path: PathBuf,
    /// Dry runs never save.
    write: bool,
    state: Mutex<(TransferLedger, Instant, bool)>,
    /// Serialises the writers (two saves never race on the temporary file).
    saving: Mutex<()>,
}

const SAVE_EVERY: Duration = Duration::from_secs(1);

impl Book {
    pub fn new(path: PathBuf, ledger: TransferLedger, write: bool) -> Book {
        Book {
            path,
            write,
            state: Mutex::new((ledger, Instant::now(), false)),
            saving: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the ledger.
    pub fn with<T>(&self, f: impl FnOnce(&TransferLedger) -> T) -> T {
        f(&self.state.lock().expect("ledger lock").0)
    }

    /// Changes the ledger in memory (saved by the next `save`).
    pub fn update<T>(&self, f: impl FnOnce(&mut TransferLedger) -> T) -> T {
        let mut s = self.state.lock().expect("ledger lock");
        s.2 = true;
        f(&mut s.0)
    }

    /// Saves when something changed and `force` or a second has passed since the last save.
    pub fn save(&self, force: bool) -> Result<(), String> {
        if !self.write {
            return Ok(());
        }
        let _writer = self.saving.lock().expect("ledger writer lock");
        let body = {
            let mut s = self.state.lock().expect("ledger lock");
            if !s.2 || (!force && s.1.elapsed() < SAVE_EVERY) {
                return Ok(());
            }
            s.1 = Instant::now();
            s.2 = false;
            let mut b = serde_json::to_vec_pretty(&s.0).expect("ledger serialises");
            b.push(b'\n');
            b
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        cityflow::store::local::write_atomic(&self.path, &body)
            .map(|_| ())
            .map_err(|e| {
                // Not saved: try again next time.
                self.state.lock().expect("ledger lock").2 = true;
                format!("cannot save the ledger {}: {e}", self.path.display())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_round_trip_and_corrupt_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(".cityflow-push.json");
        let book = Book::new(p.clone(), TransferLedger::load(&p).unwrap(), true);
        book.update(|l| {
            l.pushed.insert(
                key("e", "b", "k"),
                Pushed {
                    sha256: "s".into(),
                    bytes: 1,
                    etag: "\"x\"".into(),
                },
            )
        });
        book.save(true).unwrap();
        let back = TransferLedger::load(&p).unwrap();
        assert_eq!(back.pushed.len(), 1);
        assert_eq!(back.version, 1);
        std::fs::write(&p, b"{").unwrap();
        assert!(TransferLedger::load(&p).unwrap_err().contains("corrupt"));
        // A dry run never writes.
        let q = d.path().join("dry.json");
        let dry = Book::new(q.clone(), TransferLedger::default(), false);
        dry.update(|l| l.version = 7);
        dry.save(true).unwrap();
        assert!(!q.exists());
    }
}
