//! Local files under the output folder, written atomically: a temporary file in the same folder,
//! fsync, rename over the target, fsync of the folder. A crash leaves the old file or the new one,
//! never a torn one; stray `.*.tmp` files from a killed run are ignored and replaced.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{OutputDoc, Store, StoreError, Written};

pub struct LocalStore {
    pub root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }
}

/// Writes `body` to `path` atomically. Skips the write when the file already holds these bytes.
pub fn write_atomic(path: &Path, body: &[u8]) -> std::io::Result<Written> {
    let existed = match fs::read(path) {
        Ok(old) if old == body => return Ok(Written::Unchanged),
        Ok(_) => true,
        Err(_) => false,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // Make the rename durable.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| {
        if existed {
            Written::Replaced
        } else {
            Written::Created
        }
    })
}

impl Store for LocalStore {
    fn describe(&self) -> String {
        format!("files under {}", self.root.display())
    }

    fn put(&self, doc: &OutputDoc) -> Result<Written, StoreError> {
        let path = self.root.join(&doc.rel_path);
        write_atomic(&path, &doc.body).map_err(|source| StoreError { path, source })
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
}
