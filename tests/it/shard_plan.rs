//! `shards`: plans checked against ranges counted by hand, the three formats, surplus indexes.

use std::process::{Command, Output};

use serde_json::{json, Value};

fn shards(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_shards"))
        .env_clear()
        .args(args)
        .output()
        .expect("shards runs");
    assert_ne!(o.status.code(), Some(101), "panicked");
    o
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json_plan(from: &str, to: &str, count: &str) -> Value {
    let o = shards(&[
        "--from", from, "--to", to, "--count", count, "--format", "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_year_in_five_shards_by_hand() {
    // 2023 has 365 days = 5 x 73 (counted on a calendar): 01-01..03-14 (31+28+14),
    // 03-15..05-26 (17+30+26), 05-27..08-07 (5+30+31+7), 08-08..10-19 (24+30+19),
    // 10-20..12-31 (12+30+31); each reads from 8 days before its first day.
    let p = json_plan("2023-01-01", "2023-12-31", "5");
    let want = [
        ("2023-01-01", "2023-03-14", "2022-12-24"),
        ("2023-03-15", "2023-05-26", "2023-03-07"),
        ("2023-05-27", "2023-08-07", "2023-05-19"),
        ("2023-08-08", "2023-10-19", "2023-07-31"),
        ("2023-10-20", "2023-12-31", "2023-10-12"),
    ];
    let rows: Vec<Value> = want
        .iter()
        .enumerate()
        .map(|(i, (f, t, r))| {
            json!({"index": i, "count": 5, "from": f, "to": t, "read_from": r, "days": 73})
        })
        .collect();
    assert_eq!(p, Value::Array(rows));
}

#[test]
fn uneven_ranges_put_the_longer_shards_first() {
    // 2024-02-01..2024-03-10: 29 (leap February) + 10 = 39 days in 4 shards: 10, 10, 10, 9.
    let p = json_plan("2024-02-01", "2024-03-10", "4");
    let got: Vec<(String, String, u64)> = p
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap().to_string();
            (f("from"), f("to"), s["days"].as_u64().unwrap())
        })
        .collect();
    let want = [
        ("2024-02-01", "2024-02-10", 10),
        ("2024-02-11", "2024-02-20", 10),
        ("2024-02-21", "2024-03-01", 10),
        ("2024-03-02", "2024-03-10", 9),
    ];
    let want: Vec<(String, String, u64)> = want
        .iter()
        .map(|(a, b, n)| (a.to_string(), b.to_string(), *n))
        .collect();
    assert_eq!(got, want);
    assert_eq!(p[0]["read_from"], "2024-01-24");
    assert_eq!(p[3]["read_from"], "2024-02-23");
}

#[test]
fn the_env_format_sets_one_shards_variables_for_eval() {
    let exe = env!("CARGO_BIN_EXE_shards");
    let script = format!(
        "set -euo pipefail; eval \"$('{exe}' --from 2025-10-25 --to 2025-10-27 --count 2 \
         --index 1 --format env)\"; \
         echo \"$SHARD_INDEX $SHARD_COUNT $SHARD_FROM $SHARD_TO $SHARD_READ_FROM $SHARD_EMPTY\""
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // 3 days in 2 shards: 25..26 and 27..27; shard 1 reads from 27 - 8 = 19.
    assert_eq!(text(&o.stdout), "1 2 2025-10-27 2025-10-27 2025-10-19 0\n");
}

#[test]
fn an_index_past_the_plan_has_nothing_to_do_and_succeeds() {
    // 3 days, 10 shards asked: 3 planned; index 7 is a surplus array child.
    let args = [
        "--from",
        "2025-10-25",
        "--to",
        "2025-10-27",
        "--count",
        "10",
    ];
    let o = shards(&[&args[..], &["--index", "7", "--format", "env"]].concat());
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        text(&o.stdout),
        "SHARD_INDEX=7\nSHARD_COUNT=3\nSHARD_EMPTY=1\n"
    );
    assert!(
        text(&o.stderr).contains("nothing to do for shard 7"),
        "{}",
        text(&o.stderr)
    );
    let o = shards(&[&args[..], &["--index", "7", "--format", "json"]].concat());
    assert_eq!((o.status.code(), text(&o.stdout)), (Some(0), "[]\n".into()));
    let o = shards(&[&args[..], &["--index", "2"]].concat());
    let out = text(&o.stdout);
    assert!(
        out.contains("    2  2025-10-27  2025-10-27  2025-10-19     1"),
        "{out}"
    );
    assert!(
        !out.contains("2025-10-25  2025-10-25"),
        "only shard 2: {out}"
    );
}

#[test]
fn usage_errors_exit_2() {
    for line in [
        "--from 2025-10-27 --to 2025-10-25 --count 2",
        "--from 2025-10-25 --to 2025-10-27 --count 0",
        "--from 2025-10-25 --to 2025-10-27 --count 2 --format env",
        "--from 2025-13-01 --to 2025-10-27 --count 2",
        "--from 2025-10-25 --to 2025-10-27",
        "--from 2025-10-25 --to 2025-10-27 --count 2 --format yaml",
    ] {
        let args: Vec<&str> = line.split(' ').collect();
        let o = shards(&args);
        assert_eq!(o.status.code(), Some(2), "{line}: {}", text(&o.stderr));
        assert!(o.stdout.is_empty(), "{line}");
    }
}

#[test]
fn help_has_examples_and_exit_codes() {
    let o = shards(&["--help"]);
    let h = text(&o.stdout);
    for needle in [
        "Examples:",
        "--format env",
        "SHARD_EMPTY",
        "Exit codes:",
        "--index",
    ] {
        assert!(h.contains(needle), "help lacks {needle}");
    }
    let o = shards(&["--man"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains(".TH shards"));
}
