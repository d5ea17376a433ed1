//! Local files under the output folder, written crash-safely.
//!
//! Each `put` writes a temporary file (`.<name>.<pid>-<random>.tmp`, created new with
//! `O_EXCL | O_NOFOLLOW` and the target's permission bits: [`crate::safe_file`]) beside its target. `flush`, at the end
//! of a run, makes them durable with one `syncfs` (one fsync per file elsewhere), renames each over
//! its target, then fsyncs each folder once. A crash leaves every target either old or new, never
//! torn. Temporary files left by a killed run are never taken as outputs (their names start with
//! a dot) and the next run's `flush` removes them: only names of exactly our pattern whose writer
//! process is gone ([`remove_stale_temps`]). Batching the syncs keeps a run that writes a
//! thousand daily files from paying a thousand disk flushes.
//!
//! Relative output paths are checked ([`check_rel_path`]) before anything is written: no
//! absolute path, `..`, `.`, empty component or NUL byte can come from the data. A link or a
//! file planted at a temporary name is never written through (the name is skipped), a link at
//! a target is replaced by the new file, never followed, and a temporary file is renamed only
//! while it is still our regular file.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{OutputDoc, Store, StoreError, Written};

pub struct LocalStore {
    pub root: PathBuf,
    /// (temporary file, target) written (or queued) but not yet renamed.
    pending: Mutex<Vec<(PathBuf, PathBuf)>>,
    /// The thread writing large bodies while the callers go on computing.
    writer: Mutex<Option<Writer>>,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore {
            root: root.into(),
            pending: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
        }
    }

    /// Queues `body` for the writer thread (started on first use), to be written to `file`, the
    /// new temporary file `tmp`.
    fn queue(&self, tmp: PathBuf, file: File, body: Vec<u8>) {
        let mut w = self.writer.lock().expect("writer lock");
        let w = w.get_or_insert_with(Writer::start);
        if let Err(std::sync::mpsc::SendError((tmp, file, body))) = w.tx.send((tmp, file, body)) {
            // The thread is gone (it cannot panic short of a bug): write here instead.
            if let Err(e) = write_new(&file, &body) {
                let _ = fs::remove_file(&tmp);
                w.failed_here.push((tmp, e));
            }
        }
    }

    /// Waits for the writer thread; the files it could not write, with why.
    fn drain(&self) -> Vec<(PathBuf, std::io::Error)> {
        let Some(w) = self.writer.lock().expect("writer lock").take() else {
            return Vec::new();
        };
        let mut failed = w.failed_here;
        drop(w.tx);
        match w.handle.join() {
            Ok(f) => failed.extend(f),
            Err(_) => failed.push((
                self.root.clone(),
                std::io::Error::other("output writer thread panicked"),
            )),
        }
        failed
    }
}

/// Bodies at least this large are written by the writer thread (the small ones cost less to
/// write than to hand over).
const QUEUED_MIN: usize = 256 * 1024;

/// A thread writing temporary files from a short queue (a few bodies in memory at most). Large
/// bodies go to the disk directly ([`direct`]), which blocks the writing thread until the disk
/// has them: better this thread than a computing one.
struct Writer {
    tx: std::sync::mpsc::SyncSender<(PathBuf, File, Vec<u8>)>,
    handle: std::thread::JoinHandle<Vec<(PathBuf, std::io::Error)>>,
    failed_here: Vec<(PathBuf, std::io::Error)>,
}

impl Writer {
    fn start() -> Writer {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(PathBuf, File, Vec<u8>)>(2);
        let handle = std::thread::spawn(move || {
            let mut failed = Vec::new();
            for (tmp, file, body) in rx {
                if let Err(e) = write_new(&file, &body) {
                    let _ = fs::remove_file(&tmp);
                    failed.push((tmp, e));
                }
            }
            failed
        });
        Writer {
            tx,
            handle,
            failed_here: Vec::new(),
        }
    }
}

/// Refuses a relative output path that could leave the output folder or is not a plain file
/// path: absolute, empty, with an empty, `.` or `..` component, a backslash or a NUL byte.
pub fn check_rel_path(rel: &str) -> Result<(), String> {
    if rel.is_empty() || rel.starts_with('/') || Path::new(rel).is_absolute() {
        return Err(format!("output path {rel:?} is empty or absolute"));
    }
    if rel.contains('\0') || rel.contains('\\') {
        return Err(format!(
            "output path {rel:?} contains a NUL byte or a backslash"
        ));
    }
    if rel
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!(
            "output path {rel:?} has an empty, `.` or `..` component"
        ));
    }
    Ok(())
}

/// Suffix of our temporary files.
pub const TMP_SUFFIX: &str = ".tmp";

/// The writer's process id when `name` is one of our temporary files
/// (`.<name>.<pid>-<random>.tmp`, or `.<name>.<pid>.tmp` from older versions).
pub fn temp_owner(name: &str) -> Option<u32> {
    crate::safe_file::name_owner(name, TMP_SUFFIX)
}

/// Is this process id running (or not ours to know)?
pub fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        let Ok(p) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: kill with signal 0 only checks that the process exists; it sends nothing.
        if unsafe { libc::kill(p, 0) } == 0 {
            return true;
        }
        // EPERM: it exists, under another user.
        std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// Removes, in `dir` (not below), the temporary files of ours whose writer is no longer running
/// (a killed run). Anything else is left alone. Returns how many were removed.
pub fn remove_stale_temps(dir: &Path) -> std::io::Result<usize> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for e in rd {
        let e = e?;
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        if !e.file_type()?.is_file() || alive(pid) {
            continue;
        }
        match fs::remove_file(e.path()) {
            Ok(()) => removed += 1,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    Ok(removed)
}

/// The deepest output folder below the root: `analytics/<table>/date=<day>/`.
const OUTPUT_DEPTH: usize = 3;

/// [`remove_stale_temps`] in `root` and every folder below it down to [`OUTPUT_DEPTH`] (the
/// output layout; links are not followed).
fn clean_output(root: &Path) -> Result<usize, StoreError> {
    let mut n = 0;
    let walk = walkdir::WalkDir::new(root).max_depth(OUTPUT_DEPTH);
    // Walking errors are skipped: a folder that cannot be listed fails in its own
    // `remove_stale_temps` (which counts a missing root as none removed).
    for e in walk
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_dir())
    {
        n += remove_stale_temps(e.path()).map_err(|source| StoreError {
            path: e.path().to_path_buf(),
            source,
        })?;
    }
    Ok(n)
}

/// Writes `body` to a new temporary file beside `path` (or has `queue` write it); `None` when
/// `path` already holds these bytes. Anything but a regular file at `path` (a link, a FIFO) is
/// neither read nor followed: it counts as a different content, replaced at the rename.
fn write_tmp(
    path: &Path,
    body: Cow<'_, [u8]>,
    queue: Option<&dyn Fn(PathBuf, File, Vec<u8>)>,
) -> std::io::Result<Option<(PathBuf, Written)>> {
    let existed = match crate::safe_file::read_regular(path) {
        Ok(Some(old)) if old == *body => return Ok(None),
        Ok(_) => fs::symlink_metadata(path).is_ok(),
        Err(_) => true,
    };
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let (tmp, file) = crate::safe_file::create_beside(path, TMP_SUFFIX)?;
    match queue {
        Some(q) if body.len() >= QUEUED_MIN => q(tmp.clone(), file, body.into_owned()),
        _ => {
            if let Err(e) = write_new(&file, &body) {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        }
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

/// Writes `body` to `f`, a new empty file. A large body goes to the disk without passing through the
/// page cache ([`direct`], Linux), which costs little CPU where copying into fresh page-cache
/// memory costs much (measured: 800 MB written buffered 0.9-1.3 s of kernel CPU, direct 0.07 s).
/// Durability is unchanged: the data still reaches the disk's cache only, and the flush at the
/// end of the run (`syncfs` or fsync) makes it stable, as for buffered files.
fn write_new(f: &File, body: &[u8]) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    if body.len() >= direct::MIN_LEN && direct::write(f, body)? {
        return Ok(());
    }
    let mut w = f;
    w.write_all(body)?;
    start_writeback(f);
    Ok(())
}

/// Writing with `O_DIRECT`: the whole 4 KiB blocks of the body from an aligned buffer, the
/// remaining tail (under 4 KiB) through the page cache.
#[cfg(target_os = "linux")]
mod direct {
    use std::cell::RefCell;
    use std::fs::File;
    use std::io::{Seek, Write};
    use std::os::fd::AsRawFd;

    /// Bodies shorter than this are written through the page cache.
    pub const MIN_LEN: usize = 256 * 1024;
    /// Alignment of buffer, length and offset; every Linux block device accepts it.
    const ALIGN: usize = 4096;
    /// Bytes copied to the aligned buffer and written per call (bounds the buffer).
    const PIECE: usize = 8 << 20;

    #[repr(C, align(4096))]
    #[derive(Clone, Copy)]
    struct Block([u8; ALIGN]);

    thread_local! {
        static BUF: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
    }

    /// Writes `body` to `f`, a new empty file; `Ok(false)` (nothing written) when the file
    /// system refuses `O_DIRECT` (tmpfs, some FUSE), so the caller writes it the usual way.
    pub fn write(f: &File, body: &[u8]) -> std::io::Result<bool> {
        match set_direct(f, true) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(false),
            Err(e) => return Err(e),
        }
        let whole = body.len() / ALIGN * ALIGN;
        let direct = BUF.with(|buf| -> std::io::Result<bool> {
            let mut buf = buf.borrow_mut();
            for piece in body[..whole].chunks(PIECE) {
                let blocks = piece.len() / ALIGN;
                if buf.len() < blocks {
                    buf.resize(blocks, Block([0; ALIGN]));
                }
                // SAFETY: `Block` is `repr(C)` around `[u8; ALIGN]` (no padding), and the vector
                // holds at least `blocks` initialised blocks, i.e. `piece.len()` bytes.
                let bytes = unsafe {
                    std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), piece.len())
                };
                bytes.copy_from_slice(piece);
                match (&*f).write_all(bytes) {
                    Ok(()) => {}
                    // A device wanting a larger alignment: start again through the page cache.
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(false),
                    Err(e) => return Err(e),
                }
            }
            Ok(true)
        })?;
        set_direct(f, false)?;
        let rest = if direct {
            &body[whole..]
        } else {
            f.set_len(0)?;
            (&*f).rewind()?;
            body
        };
        (&*f).write_all(rest)?;
        super::start_writeback(f);
        Ok(true)
    }

    /// Turns `O_DIRECT` on or off on an open file (EINVAL: the file system does not support it).
    fn set_direct(f: &File, on: bool) -> std::io::Result<()> {
        // SAFETY: fcntl on a valid descriptor owned by `f`, with integer arguments only.
        let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
        if flags < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let flags = if on {
            flags | libc::O_DIRECT
        } else {
            flags & !libc::O_DIRECT
        };
        // SAFETY: as above.
        if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFL, flags) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn large_bodies_of_any_length_read_back_whole() {
            let dir = tempfile::tempdir().unwrap();
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            for len in [
                MIN_LEN,
                MIN_LEN + 1,
                2 * PIECE + ALIGN - 1,
                PIECE + 3 * ALIGN,
            ] {
                let body: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed as u8
                    })
                    .collect();
                let p = dir.path().join(format!("f{len}"));
                let f = crate::safe_file::create_new(&p, None).unwrap();
                // `false` only where the file system refuses O_DIRECT (then nothing was written).
                if write(&f, &body).unwrap() {
                    assert_eq!(std::fs::read(&p).unwrap(), body, "{len} bytes");
                } else {
                    assert!(!p.exists() || std::fs::read(&p).unwrap().is_empty());
                }
                let q = dir.path().join(format!("g{len}"));
                assert_eq!(
                    super::super::write_atomic(&q, &body).unwrap(),
                    super::super::Written::Created
                );
                assert_eq!(std::fs::read(&q).unwrap(), body, "{len} bytes, atomic");
            }
        }
    }
}

/// Starts writing a file's data to disk without waiting (Linux; a hint, errors ignored), so that
/// the flush at the end of a run finds most of it already written.
fn start_writeback(f: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: sync_file_range takes a valid open file descriptor, owned by `f` for the call.
        unsafe {
            libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = f;
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
        crate::safe_file::rename_own(tmp, target).map_err(|source| StoreError {
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
    match write_tmp(path, Cow::Borrowed(body), None)? {
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

    fn writes_files(&self) -> bool {
        true
    }

    fn put(&self, doc: &OutputDoc) -> Result<Written, StoreError> {
        self.put_body(&doc.rel_path, Cow::Borrowed(&doc.body))
    }

    fn put_owned(&self, doc: OutputDoc) -> Result<Written, StoreError> {
        self.put_body(&doc.rel_path, Cow::Owned(doc.body))
    }

    fn flush(&self) -> Result<(), Vec<StoreError>> {
        self.flush_all()
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        let err = |source| StoreError {
            path: self.root.clone(),
            source,
        };
        fs::create_dir_all(&self.root).map_err(err)?;
        let probe = self.root.join(".cityflow-probe");
        let (tmp, mut f) = crate::safe_file::create_beside(&probe, TMP_SUFFIX).map_err(err)?;
        let written = f.write_all(&[0; 4096]).and_then(|_| f.sync_all());
        let _ = fs::remove_file(&tmp);
        written.map_err(err)
    }
}

impl LocalStore {
    fn put_body(&self, rel_path: &str, body: Cow<'_, [u8]>) -> Result<Written, StoreError> {
        let path = self.root.join(rel_path);
        check_rel_path(rel_path).map_err(|e| StoreError {
            path: path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        })?;
        let queue = |tmp: PathBuf, file: File, body: Vec<u8>| self.queue(tmp, file, body);
        match write_tmp(&path, body, Some(&queue)).map_err(|source| StoreError {
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

    fn flush_all(&self) -> Result<(), Vec<StoreError>> {
        let failed = self.drain();
        let files = std::mem::take(&mut *self.pending.lock().expect("pending lock"));
        // A file the writer thread could not write is not renamed (as when `put` fails); the
        // others are, and the first failure is the answer.
        let failed_tmps: BTreeSet<&Path> = failed.iter().map(|(t, _)| t.as_path()).collect();
        let (lost, files): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|(tmp, _)| failed_tmps.contains(tmp.as_path()));
        commit(&self.root, &files).map_err(|e| vec![e])?;
        if !failed.is_empty() {
            let target = |tmp: PathBuf| {
                (lost.iter().find(|(t, _)| *t == tmp)).map_or(tmp, |(_, target)| target.clone())
            };
            let errors = failed.into_iter().map(|(tmp, source)| StoreError {
                path: target(tmp),
                source,
            });
            return Err(errors.collect());
        }
        let removed = clean_output(&self.root).map_err(|e| vec![e])?;
        if removed > 0 {
            tracing::info!(
                "removed {removed} temporary file(s) left by an interrupted run under {}",
                self.root.display()
            );
        }
        Ok(())
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
    fn planted_links_are_never_written_through_and_modes_are_kept() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.txt");
        fs::write(&outside, b"keep").unwrap();
        let m = dir.path().join("out/m");
        fs::create_dir_all(&m).unwrap();
        // A link at the temporary name older versions used, and a file at it.
        let pid = std::process::id();
        symlink(&outside, m.join(format!(".x.json.{pid}.tmp"))).unwrap();
        fs::write(m.join(format!(".w.json.{pid}.tmp")), b"planted").unwrap();
        // A link at a target: replaced by the new file, never followed.
        symlink(&outside, m.join("y.json")).unwrap();
        assert_eq!(
            write_atomic(&m.join("x.json"), b"x").unwrap(),
            Written::Created
        );
        assert_eq!(
            write_atomic(&m.join("w.json"), b"w").unwrap(),
            Written::Created
        );
        assert_eq!(
            write_atomic(&m.join("y.json"), b"y").unwrap(),
            Written::Replaced
        );
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
        assert_eq!(fs::read(m.join("x.json")).unwrap(), b"x");
        assert!(fs::symlink_metadata(m.join("y.json")).unwrap().is_file());
        assert_eq!(fs::read(m.join("y.json")).unwrap(), b"y");
        assert_eq!(
            fs::read(m.join(format!(".w.json.{pid}.tmp"))).unwrap(),
            b"planted"
        );
        // A rewrite keeps the file's mode.
        let z = m.join("z.json");
        fs::write(&z, b"old").unwrap();
        fs::set_permissions(&z, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(write_atomic(&z, b"new").unwrap(), Written::Replaced);
        assert_eq!(
            fs::metadata(&z).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Through the store (its writer thread too).
        let store = LocalStore::new(dir.path().join("out"));
        fs::set_permissions(&z, fs::Permissions::from_mode(0o640)).unwrap();
        let big = vec![b'z'; QUEUED_MIN + 1];
        store
            .put(&OutputDoc {
                rel_path: "m/z.json".into(),
                body: big.clone(),
            })
            .unwrap();
        store.flush().unwrap();
        assert_eq!(fs::read(&z).unwrap(), big);
        assert_eq!(
            fs::metadata(&z).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn output_paths_stay_inside_the_folder() {
        for ok in [
            "metrics/comptages_metrics_2025-10-26.json",
            "quality/quality_report_run.json",
            "metrics/x_metrics_+10000-01-01.json",
        ] {
            assert_eq!(check_rel_path(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x.json",
            "metrics/../../x.json",
            "metrics/./x.json",
            "metrics//x.json",
            "metrics/",
            "metrics/a\0b.json",
            "metrics\\..\\x.json",
        ] {
            assert!(check_rel_path(bad).is_err(), "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        let store = LocalStore::new(&root);
        for bad in ["../escape.json", "/tmp/escape.json", "a/../../escape.json"] {
            let doc = OutputDoc {
                rel_path: bad.into(),
                body: b"x".to_vec(),
            };
            assert!(store.put(&doc).is_err(), "{bad}");
        }
        store.flush().unwrap();
        assert!(!dir.path().join("escape.json").exists());
        assert!(!root.exists(), "nothing written");
    }

    #[test]
    fn stale_temporary_files_of_dead_writers_are_removed() {
        assert_eq!(temp_owner(".x.json.123.tmp"), Some(123));
        assert_eq!(temp_owner(".upload-ledger.json.9.tmp"), Some(9));
        for not_ours in [
            "x.json.123.tmp",
            ".x.json.tmp",
            "..123.tmp",
            ".x.json.12a.tmp",
            ".x.json.123.tmp.bak",
        ] {
            assert_eq!(temp_owner(not_ours), None, "{not_ours}");
        }
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("metrics");
        fs::create_dir_all(&m).unwrap();
        // A pid that cannot be running (above the kernel's pid_max limit of 2^22).
        let dead = 4_194_999u32;
        let mine = std::process::id();
        for name in [
            format!(".a.json.{dead}.tmp"),
            format!(".b.json.{mine}.tmp"),
            "x.json".to_string(),
            format!("a.json.{dead}.tmp"),
            ".keep".to_string(),
        ] {
            fs::write(m.join(name), b"1").unwrap();
        }
        fs::write(
            dir.path().join(format!(".upload-ledger.json.{dead}.tmp")),
            b"{",
        )
        .unwrap();
        fs::create_dir_all(m.join(format!(".d.{dead}.tmp"))).unwrap();
        assert_eq!(clean_output(dir.path()).unwrap(), 2);
        let mut left: Vec<String> = fs::read_dir(&m)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![
                ".b.json.{mine}.tmp".replace("{mine}", &mine.to_string()),
                ".d.{dead}.tmp".replace("{dead}", &dead.to_string()),
                ".keep".to_string(),
                "a.json.{dead}.tmp".replace("{dead}", &dead.to_string()),
                "x.json".to_string(),
            ]
        );
        assert!(!dir
            .path()
            .join(format!(".upload-ledger.json.{dead}.tmp"))
            .exists());
    }

    #[test]
    fn stale_temporary_files_in_nested_output_folders_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let dead = 4_194_999u32;
        // Named as `safe_file::unique_name` names them, at every depth of the output layout.
        let temp = |name: &str| format!(".{name}.{dead}-0123456789abcdef.tmp");
        let part = dir.path().join("analytics/road_arc_days/date=2025-10-26");
        let deeper = part.join("x");
        fs::create_dir_all(&deeper).unwrap();
        for (folder, name) in [
            (dir.path().to_path_buf(), temp("upload-ledger.json")),
            (dir.path().join("analytics"), temp("a")),
            (dir.path().join("analytics/road_arc_days"), temp("b")),
            (part.clone(), temp("part-0.parquet")),
            (part.clone(), "part-0.parquet".to_string()),
            // Below the output layout: not ours to look at.
            (deeper.clone(), temp("c")),
        ] {
            fs::write(folder.join(name), b"1").unwrap();
        }
        // A link to a folder outside is not followed.
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join(temp("d")), b"1").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("analytics/link")).unwrap();
        assert_eq!(clean_output(dir.path()).unwrap(), 4);
        let names = |d: &Path| {
            let mut v: Vec<String> = fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(&part), ["part-0.parquet", "x"]);
        assert_eq!(names(&deeper), [temp("c")]);
        assert_eq!(names(outside.path()), [temp("d")]);
        assert_eq!(
            names(&dir.path().join("analytics")),
            ["link", "road_arc_days"]
        );
    }

    #[test]
    fn large_bodies_written_by_the_writer_thread_land_or_fail_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let big = |c: u8, n: usize| vec![c; QUEUED_MIN + n];
        let doc = |p: &str, b: Vec<u8>| OutputDoc {
            rel_path: p.into(),
            body: b,
        };
        for i in 0..5 {
            let d = doc(&format!("m/{i}.json"), big(b'a' + i as u8, i * 4097));
            assert_eq!(store.put(&d).unwrap(), Written::Created);
        }
        // This temporary file is handed to the writer thread read-only: its write fails there.
        let bad = dir.path().join("m/bad.json");
        let (tmp, _) = crate::safe_file::create_beside(&bad, TMP_SUFFIX).unwrap();
        store.queue(tmp.clone(), File::open(&tmp).unwrap(), big(b'x', 1));
        store.pending.lock().unwrap().push((tmp, bad.clone()));
        let err = store.flush().unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].path, bad);
        assert!(!bad.exists());
        for i in 0..5 {
            let got = fs::read(dir.path().join(format!("m/{i}.json"))).unwrap();
            assert_eq!(got, big(b'a' + i as u8, i * 4097), "{i}");
        }
        // The store goes on: a later put and flush work.
        store.put(&doc("m/bad.json", big(b'y', 0))).unwrap();
        store.flush().unwrap();
        assert_eq!(
            fs::read(dir.path().join("m/bad.json")).unwrap(),
            big(b'y', 0)
        );
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
