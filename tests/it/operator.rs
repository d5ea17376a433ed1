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

#[test]
fn nothing_to_process_has_its_own_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let raw = tree(&[("batch/notes.txt", b"not data".to_vec())]);
    let o = process(raw.path(), &dir.path().join("a"), &["--json"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(
        err.contains("no input file recognised under") && err.contains("1 file(s)"),
        "{err}"
    );
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["status"], "nothing to process");

    // The sample has rows on 2025-10-25..27 only.
    let o = process(
        &sample(),
        &dir.path().join("b"),
        &["--date", "2020-01-01", "--json"],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(
        err.contains("no row falls in the selected days (--date 2020-01-01)"),
        "{err}"
    );
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let by_source = &s["rows_outside_selection_by_source"];
    // Every dated dataset of the sample is counted, not only the road counters: the numbers
    // are the sample's data rows (independent count below).
    for (source, rows) in sample_rows() {
        assert_eq!(by_source[source], rows, "{source}");
    }
    let total: u64 = sample_rows().iter().map(|(_, n)| n).sum();
    assert_eq!(s["rows_outside_selection"], total);
    // A run over selected days names its quality report after them.
    let q = json(
        dir.path()
            .join("b/quality/quality_report_run_2020-01-01_2020-01-01.json"),
    );
    assert_eq!(q["rows_outside_selection_by_source"], *by_source);
}

/// Data rows of the sample per dated source, counted from the files: CSV lines but the header,
/// JSON records in the API snapshots (traffic `disruptions`, the stations of velib status files
/// (information files are joined, not counted), weather `days`, bikes `results`).
fn sample_rows() -> Vec<(&'static str, u64)> {
    let v = python("sample_rows.py", &[&sample()]);
    ["bikes", "comptages", "traffic", "velib", "weather"]
        .into_iter()
        .map(|s| (s, v[s].as_u64().unwrap()))
        .collect()
}

#[test]
fn symlinked_inputs_are_followed_once_and_loops_and_broken_links_reported() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    copy_tree(&sample(), &raw);
    // The road counters' export lives elsewhere; the raw tree links to it, twice.
    let batch = raw.join("batch");
    let export = "comptages-routiers-permanents.csv";
    std::fs::rename(batch.join(export), elsewhere.join(export)).unwrap();
    std::os::unix::fs::symlink(elsewhere.join(export), batch.join(export)).unwrap();
    std::os::unix::fs::symlink(elsewhere.join(export), batch.join("comptages-again.csv")).unwrap();
    let reference = process(&sample(), &dir.path().join("ref"), &[]);
    assert_eq!(reference.status.code(), Some(0));
    let o = process(&raw, &dir.path().join("out"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let (a, b) = (
        all_files(&dir.path().join("ref")),
        all_files(&dir.path().join("out")),
    );
    let data = |m: &std::collections::BTreeMap<String, Vec<u8>>| {
        m.iter()
            .filter(|(k, _)| k.starts_with("metrics/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        data(&a),
        data(&b),
        "a linked export gives the metrics of the file itself, once"
    );
    let q = json(dir.path().join("out/quality/quality_report_run.json"));
    let skipped = q["paths_skipped"].to_string();
    assert!(
        skipped.contains(
            "batch/comptages-routiers-permanents.csv: the same file as batch/comptages-again.csv"
        ),
        "{skipped}"
    );

    // A loop and a broken link: reported, the rest read, the run not clean (input is missing).
    std::os::unix::fs::symlink(&raw, raw.join("api/loop")).unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("gone.csv"),
        batch.join("comptages-gone.csv"),
    )
    .unwrap();
    let o = process(&raw, &dir.path().join("out2"), &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("api/loop: a symbolic link loop back to the raw root"),
        "{err}"
    );
    assert!(
        err.contains("batch/comptages-gone.csv: a broken symbolic link"),
        "{err}"
    );
    let b2 = all_files(&dir.path().join("out2"));
    assert_eq!(data(&a), data(&b2));
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A small tmpfs, unmounted when dropped (the test runs as root, as CI does).
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(kib: u64) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "mounting a tmpfs (needs root): {}",
            text(&o.stderr)
        );
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_fails_with_exit_4_one_line_per_reason_no_torn_file_and_a_rerun_converges() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("ref");
    assert_eq!(process(&sample(), &reference, &[]).status.code(), Some(0));
    let want = all_files(&reference);
    let fs = Tmpfs::mount(2048);
    let ballast = fs.0.path().join("ballast");
    // About 300 KiB left: the probe passes, roughly half the outputs fit (they take ~650 KiB).
    std::fs::write(&ballast, vec![0u8; 1750 * 1024]).unwrap();
    let out = fs.0.path().join("out");
    let o = process(&sample(), &out, &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    let no_space: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("No space left"))
        .collect();
    assert_eq!(
        no_space.len(),
        1,
        "one line for the reason, not one per file: {err}"
    );
    assert!(
        no_space[0].contains("outputs not written") && no_space[0].contains(out.to_str().unwrap()),
        "{err}"
    );
    let got = all_files(&out);
    assert!(
        got.len() < want.len(),
        "the disk was not full enough to test anything"
    );
    for (name, bytes) in &got {
        assert_eq!(
            Some(bytes),
            want.get(name),
            "{name}: torn, partial or temporary file"
        );
    }
    // Space again: the same command converges to the whole output.
    std::fs::remove_file(&ballast).unwrap();
    let o = process(&sample(), &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(all_files(&out), want);
}

#[test]
fn an_unwritable_output_fails_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let raw = sample();
    let args = ["--raw", raw.to_str().unwrap(), "--output", "file/out"];
    let o = process_in(dir.path(), &args, &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert_eq!(err.matches("cannot write").count(), 1, "{err}");
    assert!(
        err.contains("nothing was read") && !err.contains("rows read"),
        "{err}"
    );
}

/// `(code, meaning)` rows of the first exit-code table after `heading` in the README.
fn readme_exit_codes(heading: &str) -> Vec<(u8, String)> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let after = &readme[readme.find(heading).expect("README section")..];
    let table = &after[after
        .find("| exit code | meaning |")
        .expect("exit-code table")..];
    table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (cells[0].parse().unwrap(), cells[1].to_string())
        })
        .collect()
}

/// `(code, meaning)` lines of the "Exit codes:" block of a `--help` text.
fn help_exit_codes(help: &str) -> Vec<(u8, String)> {
    let block = &help[help.find("Exit codes:").expect("exit codes in --help")..];
    block
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let (code, meaning) = l.trim().split_once(' ').unwrap();
            (code.parse().unwrap(), meaning.trim().to_string())
        })
        .collect()
}

#[test]
fn process_help_and_readme_give_the_same_exit_codes() {
    let o = Command::new(env!("CARGO_BIN_EXE_process"))
        .arg("--help")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let help = help_exit_codes(&text(&o.stdout));
    assert_eq!(help, readme_exit_codes("## Usage"));
    assert_eq!(
        help.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4, 5]
    );
}

#[test]
fn the_summary_names_the_failed_files_and_gives_an_encoding_hint() {
    let latin1: Vec<u8> =
        b"Identifiant arc;Libell\xe9;Date et heure de comptage\r\n1;A;2025-10-25\r\n".to_vec();
    let raw = tree(&[
        ("batch/comptages-latin1.csv", latin1),
        ("batch/comptages-empty.csv", Vec::new()),
        (
            "api/traffic/dt=2025-10-25/t.json",
            b"{\"disruptions\": [{\"id\": ".to_vec(),
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(raw.path(), &out, &["--json"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("files that failed: 3"), "{err}");
    for f in [
        "batch/comptages-latin1.csv:1: invalid_utf8",
        "batch/comptages-empty.csv:1: empty_file",
        "api/traffic/dt=2025-10-25/t.json",
    ] {
        assert!(err.contains(f), "{f} not named: {err}");
    }
    assert!(
        err.contains("looks like Latin-1") && err.contains("iconv -f WINDOWS-1252 -t UTF-8"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "details: {}",
            out.join("quality/quality_report_run.json").display()
        )),
        "{err}"
    );
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["files_failed"].as_array().unwrap().len(), 3);
}

#[test]
fn man_pages_and_completions_come_from_the_flags() {
    for b in ["process", "upload", "raw", "stations"] {
        let path = if b == "process" {
            env!("CARGO_BIN_EXE_process").into()
        } else {
            bin(b)
        };
        let run = |args: &[&str]| Command::new(&path).args(args).output().unwrap();
        let man = run(&["--man"]);
        assert_eq!(man.status.code(), Some(0), "{b}");
        let man = text(&man.stdout);
        assert!(
            man.contains(&format!(".TH {b} 1")) && man.contains("\\-\\-env\\-file"),
            "{b}: {man}"
        );
        let bash = run(&["--completions", "bash"]);
        let script = text(&bash.stdout);
        assert!(
            script.contains(&format!("_{b}()")) && script.contains("--env-file"),
            "{b}"
        );
        // The script is valid bash.
        let check = Command::new("bash")
            .args(["-n", "-c", &script])
            .output()
            .unwrap();
        assert!(check.status.success(), "{b}: {}", text(&check.stderr));
        assert_eq!(
            run(&["--completions", "cmd.exe"]).status.code(),
            Some(2),
            "{b}"
        );
    }
}
