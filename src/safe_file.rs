//! Files we create beside their target (temporary outputs, partial downloads, ledgers), never
//! through a link or a file planted in the folder.
//!
//! - New files are opened with `O_CREAT | O_EXCL | O_NOFOLLOW`: a symlink, a file or a FIFO
//!   already at the name is never opened, let alone written through. Names are unique
//!   (`.<target>.<pid>-<random><suffix>`), so a name planted in advance is simply skipped.
//! - A rewrite keeps the target's permission bits (a 0600 file stays 0600).
//! - Before a rename, the source must still be our regular file ([`check_own`]): a link swapped
//!   in its place is never moved over the target. `rename(2)` itself replaces a link at the
//!   target, never the file it points to.
//! - Existing files are read or reopened with `O_NOFOLLOW | O_NONBLOCK` and used only when they
//!   are regular files owned by us with a single link ([`open_own`]).

use std::fs::{File, Metadata, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many unique names are tried before giving up (each taken name means something was
/// planted or left there; with 64 random bits a collision of our own is out of reach).
const ATTEMPTS: usize = 16;

/// 64 unpredictable bits (the standard library's per-process random hash keys, a counter and
/// the clock).
fn random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.write_u128(now.as_nanos());
    h.finish()
}

/// A fresh unique name beside `target`: `.<target name>.<pid>-<16 hex digits><suffix>`.
pub fn unique_name(target: &Path, suffix: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(
        ".{name}.{}-{:016x}{suffix}",
        std::process::id(),
        random()
    ))
}

/// The writer's process id in a name made by [`unique_name`] with `suffix`, or in the older
/// form without the random part (`.<target>.<pid><suffix>`).
pub fn name_owner(name: &str, suffix: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(suffix)?;
    let (target, tail) = inner.rsplit_once('.')?;
    let pid = match tail.split_once('-') {
        Some((pid, rand)) if rand.len() == 16 && rand.bytes().all(|b| b.is_ascii_hexdigit()) => pid,
        Some(_) => return None,
        None => tail,
    };
    if target.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Creates a new file at exactly `path` for writing: fails when anything (file, link, FIFO,
/// folder) is already there. `mode`: its permission bits (else the usual 0666 less the umask).
pub fn create_new(path: &Path, mode: Option<u32>) -> std::io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .read(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    if let Some(m) = mode {
        f.set_permissions(std::fs::Permissions::from_mode(m))?;
    }
    Ok(f)
}

/// Creates a new uniquely named file beside `target` (see [`unique_name`]), with the permission
/// bits of `target` when it is a regular file. Returns its path and the open file.
pub fn create_beside(target: &Path, suffix: &str) -> std::io::Result<(PathBuf, File)> {
    let mode = kept_mode(target);
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let p = unique_name(target, suffix);
        match create_new(&p, mode) {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!(
            "no free temporary name beside {} after {ATTEMPTS} tries ({})",
            target.display(),
            last.map(|e| e.to_string()).unwrap_or_default()
        ),
    ))
}

/// The permission bits of `target` when it is a regular file (not followed if a link).
pub fn kept_mode(target: &Path) -> Option<u32> {
    std::fs::symlink_metadata(target)
        .ok()
        .filter(Metadata::is_file)
        .map(|m| m.permissions().mode() & 0o7777)
}

/// Opens an existing file without following a link or blocking on a FIFO.
fn open_nofollow(path: &Path, write: bool) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
}

/// Why `meta` is not one of our files: not regular, another owner, or more than one link.
fn not_own(meta: &Metadata) -> Option<&'static str> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.is_file() {
        Some("not a regular file")
    } else if meta.uid() != me {
        Some("owned by another user")
    } else if meta.nlink() != 1 {
        Some("has other hard links")
    } else {
        None
    }
}

fn refused(path: &Path, why: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{}: {why}: not used", path.display()),
    )
}

/// Reopens a file of ours (a partial download to resume): never through a link, and only a
/// regular file owned by this user with a single link.
pub fn open_own(path: &Path, write: bool) -> std::io::Result<File> {
    let f = open_nofollow(path, write).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => refused(path, "a symbolic link"),
        _ => e,
    })?;
    match not_own(&f.metadata()?) {
        Some(why) => Err(refused(path, why)),
        None => Ok(f),
    }
}

/// Checks, just before renaming it, that `path` is still our regular file (not a link or
/// another file swapped in).
pub fn check_own(path: &Path) -> std::io::Result<()> {
    match not_own(&std::fs::symlink_metadata(path)?) {
        Some(why) => Err(refused(path, why)),
        None => Ok(()),
    }
}

/// [`check_own`], then renames `tmp` over `target` (a link at `target` is replaced, never
/// followed).
pub fn rename_own(tmp: &Path, target: &Path) -> std::io::Result<()> {
    check_own(tmp)?;
    std::fs::rename(tmp, target)
}

/// The bytes of `path` when it is a regular file; `None` when nothing is there, or when a link,
/// a FIFO, a folder or another non-regular thing is (never followed, never blocked on).
pub fn read_regular(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut f = match open_nofollow(path, false) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut out)?;
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::symlink;

    #[test]
    fn names_are_unique_and_parse_back() {
        let t = Path::new("/d/x.json");
        let a = unique_name(t, ".tmp");
        let b = unique_name(t, ".tmp");
        assert_ne!(a, b);
        let n = a.file_name().unwrap().to_str().unwrap();
        assert!(n.starts_with(".x.json.") && n.ends_with(".tmp"), "{n}");
        assert_eq!(name_owner(n, ".tmp"), Some(std::process::id()));
        assert_eq!(name_owner(".x.json.12.tmp", ".tmp"), Some(12));
        assert_eq!(
            name_owner(".x.json.12-0123456789abcdef.tmp", ".tmp"),
            Some(12)
        );
        for bad in [
            ".x.json.12-0123.tmp",
            ".x.json.-0123456789abcdef.tmp",
            "x.json.12.tmp",
            "..12.tmp",
            ".x.json.1a.tmp",
        ] {
            assert_eq!(name_owner(bad, ".tmp"), None, "{bad}");
        }
    }

    #[test]
    fn new_files_never_go_through_a_planted_link_or_file() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        std::fs::write(&outside, b"keep").unwrap();
        let link = d.path().join("link");
        symlink(&outside, &link).unwrap();
        assert!(create_new(&link, None).is_err());
        let planted = d.path().join("planted");
        std::fs::write(&planted, b"mine").unwrap();
        assert_eq!(
            create_new(&planted, None).unwrap_err().kind(),
            std::io::ErrorKind::AlreadyExists
        );
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
        assert_eq!(std::fs::read(&planted).unwrap(), b"mine");
        // Reading: a link is not followed, a FIFO is not blocked on.
        assert_eq!(read_regular(&link).unwrap(), None);
        let fifo = d.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(read_regular(&fifo).unwrap(), None);
        assert!(open_own(&fifo, true).is_err());
        assert!(open_own(&link, true).is_err());
        assert_eq!(read_regular(&planted).unwrap().unwrap(), b"mine");
        // A hard link to a file of ours is not ours to reopen.
        let hard = d.path().join("hard");
        std::fs::hard_link(&planted, &hard).unwrap();
        assert!(open_own(&hard, true).is_err());
        assert!(check_own(&hard).is_err());
    }

    #[test]
    fn files_beside_keep_the_target_mode_and_renames_check_the_source() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("t.json");
        std::fs::write(&target, b"old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (tmp, mut f) = create_beside(&target, ".tmp").unwrap();
        f.write_all(b"new").unwrap();
        drop(f);
        rename_own(&tmp, &target).unwrap();
        let m = std::fs::metadata(&target).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        // A link swapped in at the temporary name is never renamed over the target.
        let outside = d.path().join("outside");
        std::fs::write(&outside, b"keep").unwrap();
        let (tmp, _) = create_beside(&target, ".tmp").unwrap();
        std::fs::remove_file(&tmp).unwrap();
        symlink(&outside, &tmp).unwrap();
        assert!(rename_own(&tmp, &target).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert!(std::fs::symlink_metadata(&target).unwrap().is_file());
    }
}
