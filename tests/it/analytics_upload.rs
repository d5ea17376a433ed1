//! `upload --type analytics` against the local S3 server (SeaweedFS, path-style): the plan, the
//! push, the ledger (a second run writes nothing, a changed partition goes again alone),
//! `--verify`, then the tables read back from S3 by DuckDB with README's one-liner and checked
//! against the JSON outputs (tests/independent/analytics_s3.py).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use cityflow_cloud::aws::client::clients;
use serde_json::Value;

use crate::support::{read, repo};
use crate::upload::{delete_bucket, env, list_keys, processed_sample, rt, upload_cmd, Dest};

const PREFIX: &str = "lake/cityflow";

/// The analytics bucket of a test, deleted with everything in it at the end.
struct Bucket<'a>(&'a Dest, String);

impl Drop for Bucket<'_> {
    fn drop(&mut self) {
        let c = rt().block_on(clients(&self.0.options()));
        delete_bucket(&c, &self.1);
    }
}

/// `upload --json <args>` with the analytics bucket and prefix from the environment.
fn up(d: &Dest, out: &Path, bucket: &str, args: &[&str]) -> (Option<i32>, Value) {
    let o = upload_cmd(d, out, &[args, &["--json"]].concat())
        .env("S3_ANALYTICS_BUCKET", bucket)
        .env("S3_ANALYTICS_PREFIX", PREFIX)
        .output()
        .expect("upload runs");
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code(), v)
}

/// The relative names of the local partitions (`<table>/date=<day>/part-0.parquet`).
fn partitions(out: &Path) -> BTreeSet<String> {
    let root = out.join("analytics");
    let mut found = BTreeSet::new();
    for table in std::fs::read_dir(&root).unwrap() {
        for day in std::fs::read_dir(table.unwrap().path()).unwrap() {
            let p = day.unwrap().path().join("part-0.parquet");
            assert!(p.is_file(), "{}", p.display());
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            found.insert(rel);
        }
    }
    found
}

fn targets(v: &Value, action: &str) -> BTreeSet<String> {
    let all = v["targets"].as_array().unwrap().iter();
    all.filter(|t| t["action"] == action)
        .map(|t| t["target"].as_str().unwrap().to_string())
        .collect()
}

/// The test venv with DuckDB and its S3 extension (`CITYFLOW_VENV_S3`, else
/// `~/.cache/cityflow/venv-s3`).
fn s3_python() -> PathBuf {
    crate::analytics::python_of("CITYFLOW_VENV_S3", "venv-s3")
}

#[test]
fn tables_pushed_to_s3_read_back_with_duckdb() {
    let (_dir, out) = processed_sample();
    let d = Dest::new("analytics_s3");
    let bucket = Bucket(&d, format!("{}-an", d.bucket()));
    let b = bucket.1.as_str();
    let local = partitions(&out);
    assert_eq!(local.len(), 24, "8 tables with rows x 3 days");
    let remote: BTreeSet<String> = local.iter().map(|r| format!("{PREFIX}/{r}")).collect();
    let uris: BTreeSet<String> = remote.iter().map(|k| format!("s3://{b}/{k}")).collect();

    // `all` is the metrics and the reports, as before: no table.
    let (code, v) = up(&d, &out, b, &["--dry-run"]);
    assert_eq!(code, Some(0), "{v}");
    assert!(!v.to_string().contains(".parquet"), "{v}");

    let (code, v) = up(&d, &out, b, &["--type", "analytics", "--dry-run"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(targets(&v, "new"), uris, "{v}");

    let push = ["--type", "analytics", "--init", "--create-bucket"];
    let (code, v) = up(&d, &out, b, &push);
    assert_eq!(
        (code, &v["written"], &v["failed"]),
        (Some(0), &24.into(), &0.into()),
        "{v}"
    );
    let listed: BTreeSet<String> = list_keys(&rt().block_on(clients(&d.options())), b)
        .into_iter()
        .collect();
    assert_eq!(listed, remote);
    let ledger = String::from_utf8(read(out.join(".upload-ledger.json"))).unwrap();
    assert_eq!(ledger.matches(&format!("|s3/{b}/{PREFIX}/")).count(), 24);

    let (code, v) = up(&d, &out, b, &["--type", "analytics"]);
    assert_eq!(
        (code, &v["written"], &v["unchanged"]),
        (Some(0), &0.into(), &24.into()),
        "{v}"
    );

    // A changed partition (another valid Parquet file in its place) is planned and pushed
    // alone; put back, it goes again.
    let part = out.join("analytics/road_arc_days/date=2025-10-26/part-0.parquet");
    let original = read(&part);
    std::fs::write(
        &part,
        read(out.join("analytics/weather_days/date=2025-10-26/part-0.parquet")),
    )
    .unwrap();
    let changed = format!("s3://{b}/{PREFIX}/road_arc_days/date=2025-10-26/part-0.parquet");
    let (_, v) = up(&d, &out, b, &["--type", "analytics", "--dry-run"]);
    assert_eq!(
        targets(&v, "changed"),
        BTreeSet::from([changed.clone()]),
        "{v}"
    );
    assert_eq!(v["unchanged"], 23, "{v}");
    let (code, v) = up(&d, &out, b, &["--type", "analytics"]);
    assert_eq!((code, &v["written"]), (Some(0), &1.into()), "{v}");
    std::fs::write(&part, &original).unwrap();
    let (code, v) = up(&d, &out, b, &["--type", "analytics"]);
    assert_eq!(targets(&v, "changed"), BTreeSet::from([changed]), "{v}");
    assert_eq!((code, &v["written"]), (Some(0), &1.into()), "{v}");

    // Bytes and content type (application/vnd.apache.parquet) as local.
    let (code, v) = up(&d, &out, b, &["--type", "analytics", "--verify"]);
    assert_eq!(
        (code, &v["differ"], &v["unchanged"]),
        (Some(0), &0.into(), &24.into()),
        "{v}"
    );

    let o = Command::new(s3_python())
        .arg(repo().join("tests/independent/analytics_s3.py"))
        .arg(repo().join("README.md"))
        .arg(&out)
        .env("CITYFLOW_S3_ENDPOINT", env("CITYFLOW_TEST_S3_ENDPOINT"))
        .env("CITYFLOW_S3_BUCKET", b)
        .env("CITYFLOW_S3_PREFIX", PREFIX)
        .env("AWS_ACCESS_KEY_ID", env("CITYFLOW_TEST_S3_KEY"))
        .env("AWS_SECRET_ACCESS_KEY", env("CITYFLOW_TEST_S3_SECRET"))
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "analytics_s3.py: {stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_str(&stdout).unwrap();
    // The generator's sample: 16 arcs a day over 3 days; 24 Vélib stations a day.
    assert_eq!(r["one_liner"].as_object().unwrap().len(), 3, "{r}");
    assert!(
        r["one_liner"]
            .as_object()
            .unwrap()
            .values()
            .all(|x| x[0] == 16),
        "{r}"
    );
    assert_eq!(r["rows"]["road_arc_days"], 48, "{r}");
    assert_eq!(r["checked"]["road_arc_days"], 48, "{r}");
    assert_eq!(r["checked"]["velib_stations"], 72, "{r}");
    assert_eq!(r["rows"].as_object().unwrap().len(), 8, "{r}");
}

#[test]
fn a_truncated_partition_is_an_error_in_the_plan() {
    let (_dir, out) = processed_sample();
    let d = Dest::new("analytics_truncated");
    let part = out.join("analytics/weather_days/date=2025-10-26/part-0.parquet");
    let bytes = read(&part);
    std::fs::write(&part, &bytes[..bytes.len() - 1]).unwrap();
    // Not outputs: a temporary file, a table name with capitals, a misnamed file.
    let odd = out.join("analytics/weather_days/date=2025-10-26");
    std::fs::write(odd.join(".part-0.parquet.1-0123456789abcdef.tmp"), &bytes).unwrap();
    std::fs::write(odd.join("part-1.parquet"), &bytes).unwrap();
    let caps = out.join("analytics/Weather/date=2025-10-26");
    std::fs::create_dir_all(&caps).unwrap();
    std::fs::write(caps.join("part-0.parquet"), &bytes).unwrap();
    let (code, v) = up(&d, &out, "unused", &["--type", "analytics", "--dry-run"]);
    assert_eq!(code, Some(1), "{v}");
    let errors: Vec<&Value> = (v["targets"].as_array().unwrap().iter())
        .filter(|t| t["action"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{v}");
    assert_eq!(
        errors[0]["file"],
        "analytics/weather_days/date=2025-10-26/part-0.parquet"
    );
    assert!(errors[0]["error"].as_str().unwrap().contains("PAR1"), "{v}");
    assert_eq!(targets(&v, "new").len(), 23, "{v}");
}
