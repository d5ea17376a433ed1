//! The command line: selection of dates, configuration errors, no AWS needed, JSON summary.

use std::process::Command;

use serde_json::Value;

use crate::support::*;

fn sample() -> std::path::PathBuf {
    repo().join("sample/cityflow-raw/raw")
}

#[test]
fn date_and_range_select_days() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(&sample(), &out, &["--date", "2025-10-26", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["dates"], serde_json::json!(["2025-10-26"]));
    assert!(s["rows_outside_selection"].as_u64().unwrap() > 0);
    assert!(out
        .join("metrics/comptages_metrics_2025-10-26.json")
        .exists());
    assert!(!out
        .join("metrics/comptages_metrics_2025-10-25.json")
        .exists());
    // The DST day has 25 hourly rows per arc.
    let m = json(out.join("metrics/comptages_metrics_2025-10-26.json"));
    assert!(m["metrics"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["nombre_releves"] == 25));

    let out2 = dir.path().join("out2");
    let o = process(
        &sample(),
        &out2,
        &["--from", "2025-10-26", "--to", "2025-10-27", "--json"],
    );
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["dates"], serde_json::json!(["2025-10-26", "2025-10-27"]));
}

#[test]
fn configuration_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for args in [
        vec!["--date", "2025-13-01"],
        vec!["--date", "yesterday"],
        vec!["--from", "2025-10-27", "--to", "2025-10-26"],
        vec!["--date", "2025-10-26", "--from", "2025-10-26"],
        vec!["-j", "0"],
        vec!["--no-such-flag"],
    ] {
        let o = process(&sample(), &out, &args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = process(&dir.path().join("missing"), &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
    assert!(!out.exists(), "nothing written on a configuration error");
}

#[test]
fn needs_no_aws_and_no_network() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process_env(
        &sample(),
        &out,
        &[],
        &[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_REGION", "nowhere-1"),
            ("AWS_PROFILE", "does-not-exist"),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.join("reports/daily_report_2025-10-25.csv").exists());
}

#[test]
fn env_vars_and_dotenv_configure_paths() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("from-dotenv");
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "DATA_DIR={}\nOUTPUT_DIR={}\n",
            sample().display(),
            out.display()
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_process"))
        .env_clear()
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .current_dir(dir.path())
        .arg("-q")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.join("quality/quality_report_run.json").exists());
    assert!(
        o.stderr.is_empty(),
        "-q prints nothing on a clean run: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn unknown_files_are_listed_not_dropped() {
    let raw = tree(&[
        (
            "api/bikes/dt=2025-11-04/hour=02/bikes.json",
            b"{\"results\": []}".to_vec(),
        ),
        ("api/parking/dt=2025-11-04/parking.json", b"[]".to_vec()),
        ("batch/notes.txt", b"hello".to_vec()),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(raw.path(), &out, &["--json"]);
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        s["files_not_processed"],
        serde_json::json!({}),
        "every known dataset is processed"
    );
    assert_eq!(
        s["files_ignored"],
        serde_json::json!(["api/parking/dt=2025-11-04/parking.json", "batch/notes.txt"])
    );
    let run = json(out.join("quality/quality_report_run.json"));
    assert_eq!(run["files_ignored"], s["files_ignored"]);
    assert_eq!(
        run["totals"]["bikes"]["files_read"],
        serde_json::json!(["api/bikes/dt=2025-11-04/hour=02/bikes.json"])
    );
}

#[test]
fn help_lists_examples_env_and_exit_codes() {
    let o = Command::new(env!("CARGO_BIN_EXE_process"))
        .arg("--help")
        .output()
        .unwrap();
    let h = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "--raw",
        "DATA_DIR",
        "OUTPUT_DIR",
        "Exit codes",
        "--date",
        "--jobs",
        "Examples",
    ] {
        assert!(h.contains(needle), "help lacks {needle}");
    }
}
