//! An operator's set-up and misuse (issue 17): `.env` scope and errors, empty variables, a closed
//! or full stdout/stderr, honest exit codes, symlinked inputs.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::*;

fn sample() -> std::path::PathBuf {
    repo().join("sample/cityflow-raw/raw")
}

/// `process` run in `cwd` with a clean environment plus `env`.
fn process_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_process"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .current_dir(cwd)
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert_ne!(o.status.code(), Some(101), "{}", text(&o.stderr));
    o
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn dotenv_is_read_from_the_working_directory_only() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("a/b");
    std::fs::create_dir_all(&cwd).unwrap();
    let parent_out = dir.path().join("from-parent");
    std::fs::write(
        dir.path().join("a/.env"),
        format!("OUTPUT_DIR={}\n", parent_out.display()),
    )
    .unwrap();
    let raw = sample();
    let o = process_in(&cwd, &["--raw", raw.to_str().unwrap(), "-q"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(!parent_out.exists(), "a parent folder's .env was read");
    assert!(cwd.join("output/quality/quality_report_run.json").exists());
    // --env-file names another file explicitly; a missing one is a usage error.
    let o = process_in(
        &cwd,
        &[
            "--raw",
            raw.to_str().unwrap(),
            "-q",
            "--env-file",
            "../.env",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(parent_out.join("quality/quality_report_run.json").exists());
    let o = process_in(&cwd, &["-q", "--env-file", "missing.env"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("missing.env"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_malformed_dotenv_line_is_reported_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let env = format!(
        "# set-up\nthis line is not an assignment\nDATA_DIR={}\nOUTPUT_DIR={}\n",
        sample().display(),
        out.display()
    );
    std::fs::write(dir.path().join(".env"), env).unwrap();
    let o = process_in(dir.path(), &["-v"], &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(".env line 2") && err.contains("this line is not an assignment"),
        "{err}"
    );
    assert!(
        err.contains("read .env (set DATA_DIR, OUTPUT_DIR)"),
        "{err}"
    );
    assert!(out.join("quality/quality_report_run.json").exists());
}

#[test]
fn empty_variables_are_unset_and_bad_values_name_their_variable() {
    let dir = tempfile::tempdir().unwrap();
    let raw = sample();
    let raw = raw.to_str().unwrap();
    let o = process_in(
        dir.path(),
        &["--raw", raw, "-q"],
        &[("OUTPUT_DIR", ""), ("CITYFLOW_JOBS", "")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(dir
        .path()
        .join("output/quality/quality_report_run.json")
        .exists());

    let o = process_in(
        dir.path(),
        &["--raw", raw, "-q"],
        &[("CITYFLOW_JOBS", "abc")],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("environment variable CITYFLOW_JOBS") && err.contains("'abc'"),
        "{err}"
    );
    // Given on the command line, the flag is blamed, not the variable.
    let o = process_in(
        dir.path(),
        &["--raw", raw, "-q", "-j", "x"],
        &[("CITYFLOW_JOBS", "abc")],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        !err.contains("CITYFLOW_JOBS") && err.contains("'x'"),
        "{err}"
    );
    // From the .env file, the line is named too.
    std::fs::write(dir.path().join(".env"), "A=1\nCITYFLOW_JOBS=many\n").unwrap();
    let o = process_in(dir.path(), &["--raw", raw, "-q"], &[]);
    let err = text(&o.stderr);
    assert!(err.contains("CITYFLOW_JOBS, set in .env line 2"), "{err}");
}

/// Runs `process` on the sample with its stdout and stderr given; returns (exit code, files).
fn run_with(out: &Path, stdout: Stdio, stderr: Stdio, json: bool) -> (Option<i32>, usize) {
    let mut c = process_command(&sample(), out, if json { &["--json"] } else { &[] }, &[]);
    let status = c.stdout(stdout).stderr(stderr).status().unwrap();
    (status.code(), all_files(out).len())
}

#[test]
fn a_closed_or_full_stderr_or_stdout_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("ref");
    let (code, files) = run_with(&reference, Stdio::null(), Stdio::null(), true);
    assert_eq!(code, Some(0));
    assert!(files > 20);
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let cases: Vec<(&str, Stdio, Stdio)> = vec![
        ("stderr full", Stdio::null(), full().into()),
        ("stdout and stderr full", full().into(), full().into()),
        ("stderr closed", Stdio::null(), closed_pipe().into()),
        ("stdout closed", closed_pipe().into(), Stdio::null()),
    ];
    for (i, (case, stdout, stderr)) in cases.into_iter().enumerate() {
        let out = dir.path().join(format!("out{i}"));
        let (code, _) = run_with(&out, stdout, stderr, true);
        assert_eq!(code, Some(0), "{case}: exit code");
        assert_eq!(all_files(&out), all_files(&reference), "{case}: outputs");
    }
}

/// The write end of a pipe whose read end is already closed (like `| head -1` after its line).
fn closed_pipe() -> std::process::ChildStdin {
    let mut reader = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let writer = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    writer
}
