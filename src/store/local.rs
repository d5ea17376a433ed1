//! Local files under the output folder, written crash-safely.
//!
//! Each `put` writes a temporary file (`.<name>.<pid>.tmp`) beside its target. `flush`, at the end
//! of a run, makes them durable with one `syncfs` (one fsync per file elsewhere), renames each over
//! its target, then fsyncs each folder once. A crash leaves every target either old or new, never
//! torn; leftover temporary files are ignored and replaced by the next run. Batching the syncs
//! keeps a run that writes a thousand daily files from paying a thousand disk flushes.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{OutputDoc, Store, StoreError, Written};

pub struct LocalStore {
    pub root: PathBuf,
    /// (temporary file, target) written but not yet renamed.
    pending: Mutex<Vec<(PathBuf, PathBuf)>>,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore {
            root: root.into(),
            pending: Mutex::new(Vec::new()),
        }
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes `body` to a temporary file beside `path`; `None` when `path` already holds these bytes.
fn write_tmp(path: &Path, body: &[u8]) -> std::io::Result<Option<(PathBuf, Written)>> {
    let existed = match fs::read(path) {
        Ok(old) if old == body => return Ok(None),
        Ok(_) => true,
        Err(_) => false,
    };
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let tmp = tmp_path(path);
    let res = File::create(&tmp).and_then(|mut f| f.write_all(body));
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(Some((
        tmp,
        if existed {
            Written::Replaced
        } else {
            Written::Created
        },
    )))
}

/// Flushes the data of every file of the filesystem holding `dir` (Linux), else of each file.
fn sync_data(dir: &Path, files: &[(PathBuf, PathBuf)]) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let d = File::open(dir)?;
        // SAFETY: syncfs takes a valid open file descriptor, owned by `d` for the call.
        if unsafe { libc::syncfs(d.as_raw_fd()) } == 0 {
            return Ok(());
        }
    }
    for (tmp, _) in files {
        File::open(tmp)?.sync_all()?;
    }
    Ok(())
}

fn commit(root: &Path, files: &[(PathBuf, PathBuf)]) -> Result<(), StoreError> {
    if files.is_empty() {
        return Ok(());
    }
    sync_data(root, files).map_err(|source| StoreError {
        path: root.to_path_buf(),
        source,
    })?;
    let mut dirs = BTreeSet::new();
    for (tmp, target) in files {
        fs::rename(tmp, target).map_err(|source| StoreError {
            path: target.clone(),
            source,
        })?;
        if let Some(d) = target.parent() {
            dirs.insert(d.to_path_buf());
        }
    }
    for d in dirs {
        File::open(&d)
            .and_then(|f| f.sync_all())
            .map_err(|source| StoreError {
                path: d.clone(),
                source,
            })?;
    }
    Ok(())
}

/// Writes one file atomically and durably, on its own.
pub fn write_atomic(path: &Path, body: &[u8]) -> std::io::Result<Written> {
    match write_tmp(path, body)? {
        None => Ok(Written::Unchanged),
        Some((tmp, w)) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            commit(dir, &[(tmp, path.to_path_buf())]).map_err(|e| e.source)?;
            Ok(w)
        }
    }
}

impl Store for LocalStore {
    fn describe(&self) -> String {
        format!("files under {}", self.root.display())
    }

    fn put(&self, doc: &OutputDoc) -> Result<Written, StoreError> {
        let path = self.root.join(&doc.rel_path);
        match write_tmp(&path, &doc.body).map_err(|source| StoreError {
            path: path.clone(),
            source,
        })? {
            None => Ok(Written::Unchanged),
            Some((tmp, w)) => {
                self.pending.lock().expect("pending lock").push((tmp, path));
                Ok(w)
            }
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        let files = std::mem::take(&mut *self.pending.lock().expect("pending lock"));
        commit(&self.root, &files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_skips_identical() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/c.json");
        assert_eq!(write_atomic(&p, b"one").unwrap(), Written::Created);
        assert_eq!(write_atomic(&p, b"one").unwrap(), Written::Unchanged);
        assert_eq!(write_atomic(&p, b"two").unwrap(), Written::Replaced);
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn nothing_replaces_a_target_before_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        fs::create_dir_all(dir.path().join("m")).unwrap();
        fs::write(dir.path().join("m/x.json"), b"old").unwrap();
        let doc = |p: &str, b: &[u8]| OutputDoc {
            rel_path: p.into(),
            body: b.to_vec(),
        };
        assert_eq!(
            store.put(&doc("m/x.json", b"new")).unwrap(),
            Written::Replaced
        );
        assert_eq!(store.put(&doc("m/y.json", b"y")).unwrap(), Written::Created);
        // Interrupted here: the old file is whole, the new one absent.
        assert_eq!(fs::read(dir.path().join("m/x.json")).unwrap(), b"old");
        assert!(!dir.path().join("m/y.json").exists());
        store.flush().unwrap();
        assert_eq!(fs::read(dir.path().join("m/x.json")).unwrap(), b"new");
        assert_eq!(fs::read(dir.path().join("m/y.json")).unwrap(), b"y");
        assert_eq!(
            fs::read_dir(dir.path().join("m")).unwrap().count(),
            2,
            "no temporary file left"
        );
    }
}
