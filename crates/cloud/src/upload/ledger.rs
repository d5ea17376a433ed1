//! The upload ledger: per destination and target, the hash of what was confirmed written.
//! Saved atomically after each confirmed batch, so a run killed at any point resumes without loss
//! or duplicates (a target is either recorded as written, or written again: puts are idempotent).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub hash: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    pub version: u32,
    /// `<destination>|<target>` -> what was confirmed written.
    pub written: BTreeMap<String, Entry>,
    /// Targets that failed in the last run (for `--retry-failed`).
    pub failed: BTreeSet<String>,
}

pub fn path(output: &Path) -> PathBuf {
    output.join(".upload-ledger.json")
}

impl Ledger {
    /// Loads the ledger (none yet: empty). A corrupt ledger is an error, never silently reset.
    pub fn load(p: &Path) -> Result<Ledger, String> {
        match std::fs::read(p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledger {
                version: 1,
                ..Ledger::default()
            }),
            Err(e) => Err(format!(
                "cannot read the upload ledger {}: {e}",
                p.display()
            )),
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                format!(
                    "the upload ledger {} is corrupt ({e}); move it away to re-check every target",
                    p.display()
                )
            }),
        }
    }

    pub fn save(&self, p: &Path) -> std::io::Result<()> {
        let mut b = serde_json::to_vec_pretty(self).expect("ledger serialises");
        b.push(b'\n');
        cityflow::store::local::write_atomic(p, &b).map(|_| ())
    }
}
