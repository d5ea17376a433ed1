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
            .filter(|(k, _)| !k.starts_with("quality/") && !k.starts_with("analytics/quality_"))
            .filter(|(k, _)| !k.ends_with(".html")) // the pages show the quality panel
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let (da, db) = (data(&a), data(&b));
    // Per day: comptages metrics, report JSON and CSV, the arc-day and arc-hour tables.
    assert_eq!(da.len(), 369 * 5);
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
        .filter(|(k, _)| !k.ends_with(".html"))
    // the page shows the quality panel
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

/// Outputs and exit code of a run with the CSV reader forced one way.
fn run_reader(raw: &std::path::Path, reader: &str, jobs: &str) -> (Option<i32>, Files, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process_env(raw, &out, &["-j", jobs], &[(reader, "1")]);
    let log = String::from_utf8_lossy(&o.stderr).to_string();
    (o.status.code(), all_files(&out), log)
}

type Files = BTreeMap<String, Vec<u8>>;

/// The parallel byte-range reader (used for big CSV files) gives the sequential reader's bytes:
/// on the real export, on a shuffled full-format generated export, and on every kind of
/// irregular line (quoted delimiters, a quote inside a field, a lone CR, wrong widths, non-UTF-8
/// bytes, blank lines, quoted numbers); and it gives way to the sequential reader when a quoted
/// field spans lines.
#[test]
fn parallel_csv_reader_gives_the_sequential_bytes() {
    let real_csv = read(real(
        "comptages-routiers-permanents/crp_washington_louisgthier.csv",
    ));
    let arr = read(real("geo/arrondissements-paris.geojson"));
    let real_tree = tree(&[
        ("batch/comptages-routiers-permanents.csv", real_csv.clone()),
        ("batch/arrondissements-paris.geojson", arr.clone()),
    ]);

    let generated = tempfile::tempdir().unwrap();
    let o = cityflow::generate::scale::ScaleOptions {
        arcs: 40,
        rows: Some(15_000),
        ..Default::default()
    };
    cityflow::generate::scale::write_scale_tree(generated.path(), &o).unwrap();

    // Irregular lines mixed into real rows.
    let ls = lines(&real_csv);
    let row = String::from_utf8(ls[1].clone()).unwrap();
    let row = row.trim_end();
    let mut odd = ls[0].clone();
    for (i, l) in ls[1..200].iter().enumerate() {
        odd.extend_from_slice(l);
        let variant = match i % 10 {
            0 => row.replacen("AV_Champs_Elysees", "\"AV;Champs\"\"Elysees\"", 1),
            1 => row.replacen("AV_Champs_Elysees", "AV_\"Champs", 1),
            2 => row.replacen(";Invalide;", ";Inva\rlide;", 1),
            3 => row.replacen(";Invalide", "", 1),
            4 => row.replacen("1034.0", "\"1034.0\"", 1),
            5 => String::new(),
            6 => row.replacen("2024-01-04T22", &format!("2024-01-{:02}T22", 5 + i / 10), 1),
            7 => row.replacen("Invalide", "Invalide;extra", 1),
            _ => row.to_string(),
        };
        odd.extend_from_slice(variant.as_bytes());
        odd.extend_from_slice(b"\r\n");
        if i == 44 {
            odd.extend_from_slice(b"4264;AV_\xe9Champs;2024-01-09T22:00:00+01:00;1.0;2.0;Fluide;2294;a;2293;b;Invalide;1996-10-10;2023-01-01;48.87, 2.30;\r\n");
        }
    }
    let odd_tree = tree(&[
        ("batch/comptages-routiers-permanents.csv", odd.clone()),
        ("batch/arrondissements-paris.geojson", arr.clone()),
    ]);
    // The same three times, each after ~13 MB of good rows (a few chunks): the bad rows, and so
    // the samples of the quality report, are in later chunks and in every region of the file
    // (`-j 3` reads ~26 MB as three regions), numbered by region and chunk while read.
    let mut big_odd = ls[0].clone();
    for part in 0..3 {
        while big_odd.len() < part * (13 << 20) {
            for l in &ls[1..] {
                big_odd.extend_from_slice(l);
            }
        }
        big_odd.extend_from_slice(&odd[ls[0].len()..]);
    }
    let big_odd_tree = tree(&[
        ("batch/comptages-routiers-permanents.csv", big_odd.clone()),
        ("batch/arrondissements-paris.geojson", arr.clone()),
    ]);
    // A quoted line break: the parallel path must give way.
    let mut multi = odd.clone();
    multi.extend_from_slice(
        row.replacen("AV_Champs_Elysees", "\"AV\nChamps\"", 1)
            .as_bytes(),
    );
    multi.extend_from_slice(b"\r\n");
    multi.extend_from_slice(&ls[5]);
    let multi_tree = tree(&[("batch/comptages-routiers-permanents.csv", multi.clone())]);
    // The same at the end of the big file: found in the last region while the others are read.
    let mut big_multi = big_odd;
    big_multi.extend_from_slice(&multi[ls[0].len()..]);
    let big_multi_tree = tree(&[("batch/comptages-routiers-permanents.csv", big_multi)]);

    for (name, raw) in [
        ("real", real_tree.path()),
        ("generated", generated.path()),
        ("irregular", odd_tree.path()),
        ("irregular, several chunks", big_odd_tree.path()),
        ("quoted line break", multi_tree.path()),
        ("quoted line break, last region", big_multi_tree.path()),
    ] {
        let (code, seq, log) = run_reader(raw, "CITYFLOW_CSV_SEQUENTIAL", "1");
        assert!(seq.len() >= 3, "{name}: {:?}", seq.keys());
        assert!(!log.contains("parallel byte ranges"), "{log}");
        for jobs in ["1", "2", "3"] {
            let (pcode, par, log) = run_reader(raw, "CITYFLOW_CSV_PARALLEL", jobs);
            let expected = if name.starts_with("quoted line break") {
                "a quoted field spans lines"
            } else {
                "read as parallel byte ranges"
            };
            assert!(log.contains(expected), "{name}: {log}");
            assert_eq!(code, pcode, "{name}: exit code");
            assert_eq!(
                seq.keys().collect::<Vec<_>>(),
                par.keys().collect::<Vec<_>>(),
                "{name}"
            );
            for (k, v) in &seq {
                assert!(par[k] == *v, "{name}: {k} differs (-j {jobs})");
            }
        }
        if name.starts_with("irregular") {
            let q = String::from_utf8_lossy(&seq["quality/quality_report_run.json"]).to_string();
            for needle in ["wrong_column_count", "invalid_utf8_text"] {
                assert!(q.contains(needle), "{name}: no {needle} in {q}");
            }
        }
    }
}
