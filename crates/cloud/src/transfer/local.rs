//! The local side: which files a push sends (sorted walk, our own files left out), where a pulled
//! key lands (no escaping the folder), and streaming digests: SHA-256 of the whole file, CRC32
//! of each part.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::Sha256;

use crate::aws::checksum::hex;

/// Files of ours that live in the transferred folders and are never transferred themselves.
pub const OWN_PREFIX: &str = ".cityflow-";
/// Suffix of a download in progress (`.<name>.<pid>-<random>.cityflow-part` beside its target;
/// `.<name>.cityflow-part` in older versions).
pub const PART_SUFFIX: &str = ".cityflow-part";
/// The completion marker a finished push writes at its destination prefix.
pub const MARKER: &str = "_cityflow_push.json";

/// Is this file name one of ours (ledgers, downloads in progress)?
pub fn is_own(name: &str) -> bool {
    name.starts_with(OWN_PREFIX) || name.ends_with(PART_SUFFIX)
}

/// One local file to push.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalFile {
    pub path: PathBuf,
    /// `/`-separated path under the pushed folder (the file name for a single file).
    pub rel: String,
    pub bytes: u64,
}

/// The files of `source` (a file or a folder), sorted by relative path. Our own files, symlinks
/// and non-UTF-8 names (S3 keys are UTF-8) are left out; the latter are returned as errors.
/// The files found, and the (path, error) of those that cannot be pushed.
pub type Walked = (Vec<LocalFile>, Vec<(String, String)>);

pub fn walk(source: &Path) -> Result<Walked, String> {
    let meta =
        std::fs::metadata(source).map_err(|e| format!("cannot read {}: {e}", source.display()))?;
    if meta.is_file() {
        let name = source
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: the file name is not UTF-8", source.display()))?;
        return Ok((
            vec![LocalFile {
                path: source.to_path_buf(),
                rel: name.to_string(),
                bytes: meta.len(),
            }],
            Vec::new(),
        ));
    }
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for e in walkdir::WalkDir::new(source).sort_by_file_name() {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                let p = err
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                errors.push((p, err.to_string()));
                continue;
            }
        };
        if !e.file_type().is_file() {
            continue;
        }
        let rel_path = e.path().strip_prefix(source).unwrap_or(e.path());
        let Some(rel) = rel_path.to_str() else {
            errors.push((
                e.path().display().to_string(),
                "the path is not UTF-8 and cannot be an S3 key".into(),
            ));
            continue;
        };
        let rel = rel.replace(std::path::MAIN_SEPARATOR, "/");
        if rel.split('/').any(is_own) {
            continue;
        }
        match e.metadata() {
            Ok(m) => files.push(LocalFile {
                path: e.path().to_path_buf(),
                rel,
                bytes: m.len(),
            }),
            Err(err) => errors.push((rel, err.to_string())),
        }
    }
    // Key order (bytes), as S3 lists them.
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok((files, errors))
}

/// The local path of `key` under `root` once `prefix` is removed; an error for keys that would
/// leave the folder or collide with our own files.
pub fn local_path(root: &Path, prefix: &str, key: &str) -> Result<(String, PathBuf), String> {
    let rel = key
        .strip_prefix(prefix)
        .ok_or_else(|| format!("key {key:?} is outside the prefix {prefix:?}"))?;
    if rel.is_empty() || rel.starts_with('/') {
        return Err(format!("key {key:?} has no file name under the prefix"));
    }
    let mut p = root.to_path_buf();
    for part in rel.split('/') {
        match part {
            "" | "." | ".." => {
                return Err(format!(
                    "key {key:?} has an empty, `.` or `..` path component: not written"
                ))
            }
            p if p.contains('\0') => return Err(format!("key {key:?} contains a NUL byte")),
            p if is_own(p) => {
                return Err(format!(
                    "key {key:?} looks like a cityflow working file ({OWN_PREFIX}*, *{PART_SUFFIX}): not written"
                ))
            }
            _ => {}
        }
        p.push(part);
    }
    Ok((rel.to_string(), p))
}

/// Where older versions wrote the download of `target` (still resumed when their ledger names
/// it, through [`cityflow::safe_file::open_own`]).
pub fn part_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}{PART_SUFFIX}"))
}

/// A file's digests, computed in one streaming pass.
#[derive(Debug, Clone, PartialEq)]
pub struct FileHash {
    pub bytes: u64,
    pub sha256: [u8; 32],
    /// MD5 of the whole file, when asked for.
    pub md5: Option<[u8; 16]>,
    /// CRC32 of each part, when a part size was given: the upload pass checks that it reads the
    /// same bytes as this pass, whose SHA-256 goes into the object's metadata.
    pub parts: Vec<u32>,
}

impl FileHash {
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
}

const BUF: usize = 1 << 20;

/// Hashes a file in 1 MiB reads (memory stays bounded whatever its size).
pub fn hash_file(path: &Path, part_size: Option<u64>, with_md5: bool) -> std::io::Result<FileHash> {
    let mut f = File::open(path)?;
    hash_reader(&mut f, part_size, with_md5)
}

pub fn hash_reader(
    r: &mut impl Read,
    part_size: Option<u64>,
    with_md5: bool,
) -> std::io::Result<FileHash> {
    use md5::Digest as _;
    let mut whole = Sha256::new();
    let mut m = with_md5.then(md5::Md5::new);
    let mut part = crc32fast::Hasher::new();
    let mut in_part = 0u64;
    let mut parts = Vec::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        whole.update(chunk);
        if let Some(m) = m.as_mut() {
            m.update(chunk);
        }
        total += n as u64;
        if let Some(ps) = part_size {
            let mut rest = chunk;
            while !rest.is_empty() {
                let take = ((ps - in_part) as usize).min(rest.len());
                part.update(&rest[..take]);
                in_part += take as u64;
                rest = &rest[take..];
                if in_part == ps {
                    parts.push(std::mem::take(&mut part).finalize());
                    in_part = 0;
                }
            }
        }
    }
    if part_size.is_some() && (in_part > 0 || parts.is_empty()) {
        parts.push(part.finalize());
    }
    Ok(FileHash {
        bytes: total,
        sha256: whole.finalize().into(),
        md5: m.map(|m| m.finalize().into()),
        parts,
    })
}

/// Hashes a file being written in chunks, in order, as far as `frontier` says it is complete
/// (bytes from the start); returns once `bytes` are hashed, or an error when the sender goes
/// away first. Hashing follows the download instead of re-reading the whole file after it.
pub fn hash_following(
    f: &File,
    bytes: u64,
    frontier: &std::sync::mpsc::Receiver<u64>,
    with_md5: bool,
) -> std::io::Result<FileHash> {
    use md5::Digest as _;
    use std::os::unix::fs::FileExt;
    let mut whole = Sha256::new();
    let mut m = with_md5.then(md5::Md5::new);
    let (mut pos, mut end) = (0u64, 0u64);
    let mut buf = vec![0u8; BUF];
    while pos < bytes {
        while end <= pos {
            end = frontier.recv().map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::Interrupted, "the download stopped")
            })?;
        }
        while let Ok(e) = frontier.try_recv() {
            end = end.max(e);
        }
        let n = ((end.min(bytes) - pos) as usize).min(BUF);
        f.read_exact_at(&mut buf[..n], pos)?;
        whole.update(&buf[..n]);
        if let Some(m) = m.as_mut() {
            m.update(&buf[..n]);
        }
        pos += n as u64;
    }
    Ok(FileHash {
        bytes,
        sha256: whole.finalize().into(),
        md5: m.map(|m| m.finalize().into()),
        parts: Vec::new(),
    })
}

/// Reads `len` bytes at `offset` (one part), in full.
pub fn read_at(path: &Path, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let f = File::open(path)?;
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// Number of parts of `bytes` in parts of `part_size` (at least one).
pub fn part_count(bytes: u64, part_size: u64) -> u64 {
    bytes.div_ceil(part_size).max(1)
}

/// A content type from the file name (raw dumps: JSON, CSV, archives).
pub fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => "application/json",
        "jsonl" | "ndjson" => "application/x-ndjson",
        "geojson" => "application/geo+json",
        "csv" => "text/csv",
        "txt" | "md" => "text/plain",
        "gz" => "application/gzip",
        "zip" => "application/zip",
        "zst" => "application/zstd",
        "tar" => "application/x-tar",
        "parquet" => "application/vnd.apache.parquet",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::checksum::{md5, sha256};

    #[test]
    fn hashes_whole_and_parts() {
        // SHA-256("abc")
        let h = hash_reader(&mut &b"abc"[..], None, true).unwrap();
        assert_eq!(
            h.sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&h.md5.unwrap()), "900150983cd24fb0d6963f7d28e17f72");
        assert!(h.parts.is_empty());
        let data: Vec<u8> = (0..(3 * BUF + 17)).map(|i| (i % 251) as u8).collect();
        let ps = (BUF + 300) as u64;
        let h = hash_reader(&mut &data[..], Some(ps), false).unwrap();
        let want: Vec<u32> = data.chunks(ps as usize).map(crc32fast::hash).collect();
        assert_eq!(h.parts, want);
        assert_eq!(h.parts.len() as u64, part_count(data.len() as u64, ps));
        assert_eq!(h.sha256, sha256(&data));
        // An empty file is one (empty) part.
        let h = hash_reader(&mut &b""[..], Some(ps), false).unwrap();
        assert_eq!(h.parts, vec![0]);
    }

    #[test]
    fn hashing_follows_a_file_written_out_of_order() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let data: Vec<u8> = (0..(2 * BUF + 5)).map(|i| (i % 13) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        for f in [0, 10, 10, BUF as u64 + 3, data.len() as u64] {
            tx.send(f).unwrap();
        }
        let f = File::open(&p).unwrap();
        let h = hash_following(&f, data.len() as u64, &rx, true).unwrap();
        assert_eq!(h.sha256, sha256(&data));
        assert_eq!(h.md5, Some(md5(&data)));
        // The writer stopping early is an error, not a wrong hash.
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send(10).unwrap();
        drop(tx);
        assert!(hash_following(&f, data.len() as u64, &rx, false).is_err());
    }

    #[test]
    fn keys_stay_inside_the_folder() {
        let root = Path::new("/r");
        let (rel, p) =
            local_path(root, "cityflow-raw/raw/", "cityflow-raw/raw/api/été/x.json").unwrap();
        assert_eq!(rel, "api/été/x.json");
        assert_eq!(p, Path::new("/r/api/été/x.json"));
        for bad in [
            "cityflow-raw/raw/../etc/passwd",
            "cityflow-raw/raw/a//b",
            "cityflow-raw/raw/",
            "cityflow-raw/raw/./a",
            "cityflow-raw/raw/.cityflow-pull.json",
            "cityflow-raw/raw/a/.b.cityflow-part",
            "other/x",
        ] {
            assert!(local_path(root, "cityflow-raw/raw/", bad).is_err(), "{bad}");
        }
        assert_eq!(
            part_path(Path::new("/r/a/b.csv")),
            Path::new("/r/a/.b.csv.cityflow-part")
        );
    }

    #[test]
    fn walk_is_sorted_and_skips_our_files() {
        let d = tempfile::tempdir().unwrap();
        for (p, b) in [
            ("b/z.csv", "1"),
            ("a.json", "22"),
            (".cityflow-push.json", "{}"),
            ("b/.x.csv.cityflow-part", ""),
            ("b/é/ü.txt", "333"),
        ] {
            let p = d.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b).unwrap();
        }
        let (files, errors) = walk(d.path()).unwrap();
        assert!(errors.is_empty());
        let rels: Vec<(&str, u64)> = files.iter().map(|f| (f.rel.as_str(), f.bytes)).collect();
        assert_eq!(rels, vec![("a.json", 2), ("b/z.csv", 1), ("b/é/ü.txt", 3)]);
        let (one, _) = walk(&d.path().join("b/z.csv")).unwrap();
        assert_eq!(one[0].rel, "z.csv");
        assert!(walk(&d.path().join("missing")).is_err());
    }
}
