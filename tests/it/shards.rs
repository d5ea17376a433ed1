//! Shards that add up: `process --from/--to` over adjacent ranges writes, file for file, the
//! bytes of one run over the whole range (the run quality report excepted: it describes one run).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Days, NaiveDate};

use crate::support::{all_files, process_env};

/// A generated tree of `days` days from 2025-09-29 with every dataset (bikes look back one day,
/// the reports seven).
fn multi_week_tree(days: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = cityflow::generate::GenOptions {
        first_day: NaiveDate::from_ymd_opt(2025, 9, 29).unwrap(),
        days,
        arcs: 12,
        ..Default::default()
    };
    cityflow::generate::write_tree(dir.path(), &o).unwrap();
    dir
}

/// The outputs of a folder, without the run quality reports.
fn day_outputs(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = all_files(out);
    files.retain(|rel, _| !rel.starts_with("quality/quality_report_run"));
    files
}

fn run(raw: &Path, out: &Path, args: &[&str]) -> serde_json::Value {
    run_env(raw, out, args, &[])
}

fn run_env(raw: &Path, out: &Path, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let o = process_env(raw, out, &[args, &["--json"]].concat(), env);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn shards_of_a_multi_week_tree_equal_the_single_run() {
    let raw = multi_week_tree(24);
    // Arc 1000 is renamed by a row after every run's days (an arc's description is its latest
    // row's, in the selected days or not) with an unreadable flow (rejected rows describe too).
    let csv = raw.path().join("batch/comptages-routiers-permanents.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str(
        "1000;Bd_Ney_renamed;2025-10-23T09:00:00+02:00;x;6.9;Fluide;2000;a;2001;b;Invalide;;;\
         48.85541412249644, 2.423872386406626;\n",
    );
    std::fs::write(&csv, text).unwrap();
    let (first, last) = ("2025-10-07", "2025-10-22");
    let dir = tempfile::tempdir().unwrap();
    let single = dir.path().join("single");
    let whole = run(raw.path(), &single, &["--from", first, "--to", last]);
    let want = day_outputs(&single);
    // The single run writes 16 days (Oct 7..22), each with a report comparing with the week
    // before; its first days' comparisons use the days before the range (read, not written).
    assert_eq!(whole["dates"].as_array().unwrap().len(), 16);
    let report = |day: &str| {
        let p = single.join(format!("reports/daily_report_{day}.json"));
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(p).unwrap()).unwrap()
    };
    let first_report = report(first).to_string();
    assert!(first_report.contains("\"2025-09-30\""), "{first_report}");
    assert!(!want.keys().any(|k| k.contains("2025-10-06")));
    let comptages = String::from_utf8(want["metrics/comptages_metrics_2025-10-07.json"].clone());
    assert!(comptages.unwrap().contains("Bd_Ney_renamed"));
    // The référentiel goes under the last road-counter day read: the renaming row's.
    assert!(want.contains_key("metrics/referentiel_metrics_2025-10-23.json"));

    // 1, 3 and 7 shards, each into one folder run after run; and into folders of their own
    // (as on separate machines), put together, reading the CSV export by parallel byte ranges.
    for count in [1, 3, 7] {
        let from = first.parse().unwrap();
        let plan = cityflow::shards::plan(from, last.parse().unwrap(), count).unwrap();
        let together = dir.path().join(format!("shards-{count}"));
        let mut apart = BTreeMap::new();
        for s in &plan {
            let (a, b) = (s.from.to_string(), s.to.to_string());
            run(raw.path(), &together, &["--from", &a, "--to", &b]);
            let own = dir.path().join(format!("apart-{count}-{}", s.index));
            let parallel = [("CITYFLOW_CSV_PARALLEL", "1")];
            run_env(raw.path(), &own, &["--from", &a, "--to", &b], &parallel);
            apart.extend(day_outputs(&own));
        }
        let got = day_outputs(&together);
        let odd: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
        let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
        assert!(
            odd.is_empty() && missing.is_empty(),
            "{count} shards: extra {odd:?}, missing {missing:?}"
        );
        for (rel, bytes) in &want {
            assert!(got[rel] == *bytes, "{count} shards: {rel} differs");
            let index = rel == "reports/index.html";
            assert!(
                index || apart[rel] == *bytes,
                "{count} apart: {rel} differs"
            );
        }
        assert_eq!(from + Days::new(0), plan[0].from);
    }
}

/// A memory budget too small for the range: the run goes window by window (a first pass counts
/// the arc-days) and writes the bytes of one window, run quality report included.
#[test]
fn windows_of_a_small_budget_equal_one_window() {
    let raw = multi_week_tree(24);
    let dir = tempfile::tempdir().unwrap();
    let range = ["--from", "2025-10-07", "--to", "2025-10-22"];
    let one = dir.path().join("one");
    let whole = run(raw.path(), &one, &range);
    assert_eq!(
        (whole["windows"].as_u64(), whole["passes"].as_u64()),
        (Some(1), Some(1))
    );
    let want = all_files(&one);
    // 12 arcs with rows every day: 12 arc-days a day; a window holds its days and the 7 days
    // before it (84 arc-days). State for 200 arc-days (300 bytes each): 9 days + 84 <= 200, so
    // Oct 7..15 then Oct 16..22 (7 days): 2 windows, 3 passes. State for 100 arc-days: one day
    // a window (96 <= 100), 16 windows.
    for (bytes, windows, parallel) in [("60000", 2, "0"), ("30000", 16, "1")] {
        let out = dir.path().join(format!("budget-{bytes}"));
        let mut env = vec![("CITYFLOW_STATE_BYTES", bytes)];
        if parallel == "1" {
            env.push(("CITYFLOW_CSV_PARALLEL", "1"));
        }
        let s = run_env(raw.path(), &out, &range, &env);
        assert_eq!(s["windows"].as_u64(), Some(windows), "{bytes}");
        assert_eq!(s["passes"].as_u64(), Some(windows + 1), "{bytes}");
        let got = all_files(&out);
        assert_eq!(got.len(), want.len(), "{bytes}");
        for (rel, bytes_) in &want {
            assert!(
                got.get(rel) == Some(bytes_),
                "budget {bytes}: {rel} differs"
            );
        }
        assert_eq!(s["sources"], whole["sources"]);
        assert_eq!(s["rows_outside_selection"], whole["rows_outside_selection"]);
    }
}
