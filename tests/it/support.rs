use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The fixed clock of every test run (2025-11-21T03:20:00Z).
pub const EPOCH: &str = "1763695200";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/data/real`, or `CITYFLOW_REAL_DATA`. Missing is a failure, not a skip.
pub fn real_data() -> PathBuf {
    let p = std::env::var_os("CITYFLOW_REAL_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data/real"));
    assert!(
        p.is_dir(),
        "real data folder {} is missing (set CITYFLOW_REAL_DATA)",
        p.display()
    );
    p
}

pub fn real(rel: &str) -> PathBuf {
    let p = real_data().join(rel);
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

/// A binary of the workspace: `process` is this package's; `upload`, `raw` and `stations` belong
/// to `cityflow-cloud` and sit beside it in the same target folder (`cargo test --workspace`
/// builds them, `crates/cloud/tests/bins.rs` being an integration test of theirs).
pub fn bin(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_process")).with_file_name(name);
    assert!(
        p.is_file(),
        "{} is missing: run the tests with `cargo test --workspace` (scripts/test.sh does)",
        p.display()
    );
    p
}

/// Builds a raw tree in a temporary folder from (relative path, bytes).
pub fn tree(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, body) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    dir
}

/// A raw tree of real files: (path in the tree, path under the real data folder).
pub fn real_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let files: Vec<(&str, Vec<u8>)> = (files.iter())
        .map(|(to, from)| (*to, read(real(from))))
        .collect();
    tree(&files)
}

/// `process` of `raw` with `args` into a fresh folder (`<tmp>/out`); its exit code must be at
/// most `max_code` (0 clean, 1 with rejected input).
pub fn processed(raw: &Path, args: &[&str], max_code: i32) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(raw, &out, args);
    assert!(
        o.status.code().is_some_and(|c| (0..=max_code).contains(&c)),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    (dir, out)
}

pub fn read(p: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

/// Runs `process` with a clean environment (no AWS or cityflow variables leak in).
pub fn process(raw: &Path, out: &Path, args: &[&str]) -> Output {
    process_env(raw, out, args, &[])
}

pub fn process_env(raw: &Path, out: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let o = process_command(raw, out, args, env)
        .output()
        .expect("process runs");
    assert_ne!(
        o.status.code(),
        Some(101),
        "process panicked:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.code().is_some(), "process killed by a signal");
    o
}

/// The `process` command of [`process_env`], to spawn.
pub fn process_command(raw: &Path, out: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_process"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .current_dir(out.parent().unwrap_or(out))
        .arg("--raw")
        .arg(raw)
        .arg("--output")
        .arg(out)
        .arg("--no-progress")
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Every file under `root`, relative path -> bytes, sorted.
pub fn all_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, read(e.path()));
        }
    }
    out
}

pub fn json(p: impl AsRef<Path>) -> Value {
    serde_json::from_slice(&read(p)).unwrap()
}

/// Runs one of the independent Python scripts and parses its JSON output.
pub fn python(script: &str, args: &[&Path]) -> Value {
    let o = Command::new("python3")
        .arg(repo().join("tests/independent").join(script))
        .args(args)
        .output()
        .expect("python3 is installed (scripts/test.sh checks it)");
    assert!(
        o.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// A CSV file's lines (header kept first), for building split or broken variants.
pub fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// The Python of the independent checks that need packages (tests/independent/requirements.txt,
/// installed by scripts/test.sh into the test venv): `$CITYFLOW_CACHE/venv` or
/// `~/.cache/cityflow/venv`.
pub fn venv_python() -> PathBuf {
    let cache = std::env::var_os("CITYFLOW_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/cityflow")
        });
    cache.join("venv/bin/python3")
}

/// Runs an independent Python script that needs the pinned packages, and parses its JSON.
pub fn python_pkgs(script: &str, args: &[&Path]) -> Value {
    let py = venv_python();
    let o = Command::new(&py)
        .arg(repo().join("tests/independent").join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run scripts/test.sh, which installs it)",
                py.display()
            )
        });
    assert!(
        o.status.success(),
        "{script} failed (pip install -r tests/independent/requirements.txt into {}): {}",
        py.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}
