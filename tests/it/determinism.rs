//! Same inputs, same bytes: whatever the thread count, however rows are split across files, and
//! on a re-run.

use std::collections::BTreeMap;

use crate::support::*;

fn outputs(raw: &std::path::Path, args: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(raw, &out, args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    all_files(&out)
}

#[test]
fn one_thread_and_many_give_identical_bytes() {
    let raw = repo().join("sample/cityflow-raw/raw");
    let one = outputs(&raw, &["-j", "1"]);
    assert!(one.len() >= 10);
    for j in ["2", "4"] {
        let many = outputs(&raw, &["-j", j]);
        assert_eq!(
            one.keys().collect::<Vec<_>>(),
            many.keys().collect::<Vec<_>>()
        );
        for (k, v) in &one {
            assert!(many[k] == *v, "{k} differs between -j 1 and -j {j}");
        }
    }
}

#[test]
fn rows_split_over_three_files_give_identical_metrics_and_reports() {
    let csv = read(real(
        "comptages-routiers-permanents/crp_washington_louisgthier.csv",
    ));
    let ls = lines(&csv);
    let header = ls[0]
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap()
        .to_vec();
    // Rows dealt round-robin, in reverse order, into three files (the first without BOM,
    // the others with it): every file holds part of every arc-day.
    let mut parts = [
        header.clone(),
        [b"\xEF\xBB\xBF".as_slice(), &header].concat(),
        [b"\xEF\xBB\xBF".as_slice(), &header].concat(),
    ];
    for (i, l) in ls[1..].iter().rev().enumerate() {
        parts[i % 3].extend_from_slice(l);
    }
    let whole = tree(&[("batch/comptages-routiers-permanents.csv", csv.clone())]);
    let split = tree(&[
        ("batch/comptages-a.csv", parts[0].clone()),
        ("batch/comptages-b.csv", parts[1].clone()),
        ("batch/sub/comptages-c.csv", parts[2].clone()),
    ]);
    let a = outputs(whole.path(), &["-j", "2"]);
    let b = outputs(split.path(), &["-j", "1"]);
    let data = |m: &BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        m.iter()
            .filter(|(k, _)| !k.starts_with("quality/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let (da, db) = (data(&a), data(&b));
    assert_eq!(da.len(), 369 * 3);
    assert_eq!(da.keys().collect::<Vec<_>>(), db.keys().collect::<Vec<_>>());
    for (k, v) in &da {
        assert!(db[k] == *v, "{k} differs between one file and three");
    }
}

#[test]
fn repeated_rows_across_files_are_counted_once() {
    let csv = read(real(
        "comptages-routiers-permanents/crp_washington_louisgthier.csv",
    ));
    let once = tree(&[("batch/comptages-1.csv", csv.clone())]);
    let twice = tree(&[
        ("batch/comptages-1.csv", csv.clone()),
        ("batch/comptages-2.csv", csv),
    ]);
    let a = outputs(once.path(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(twice.path(), &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "duplicates are reported, not rejected"
    );
    let b = all_files(&out);
    for (k, v) in a
        .iter()
        .filter(|(k, _)| k.starts_with("metrics/") || k.starts_with("reports/"))
    {
        assert!(b[k] == *v, "{k} changed when the file was read twice");
    }
    let run = json(out.join("quality/quality_report_run.json"));
    assert_eq!(run["totals"]["comptages"]["rows_read"], 2 * 8412);
    assert_eq!(run["totals"]["comptages"]["rows_used"], 8412);
    assert_eq!(run["totals"]["comptages"]["duplicates"], 8412);
    assert_eq!(run["totals"]["comptages"]["duplicates_conflicting"], 0);
    let q = json(out.join("quality/quality_report_2024-01-04.json"));
    assert_eq!(q["sources"]["comptages"]["duplicates"], 24);
    assert_eq!(
        q["sources"]["comptages"]["duplicate_samples"][0],
        "arc 4264 at 2024-01-04T00:00:00+01:00"
    );
}

#[test]
fn a_rerun_converges_without_rewriting() {
    let raw = repo().join("sample/cityflow-raw/raw");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let first = process(&raw, &out, &["--json"]);
    let before = all_files(&out);
    // A torn temporary file from a killed run is ignored and does not disturb the re-run.
    std::fs::write(
        out.join("metrics/.comptages_metrics_2025-10-25.json.999.tmp"),
        b"{\"trunc",
    )
    .unwrap();
    let second = process(&raw, &out, &["--json"]);
    let s1: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let s2: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(s1["outputs_created"], s2["outputs_unchanged"]);
    assert_eq!(s2["outputs_created"], 0);
    assert_eq!(s2["outputs_replaced"], 0);
    let mut after = all_files(&out);
    after.remove("metrics/.comptages_metrics_2025-10-25.json.999.tmp");
    assert_eq!(before, after);
}
