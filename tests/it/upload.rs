//! `upload` against the real local servers started by `scripts/servers.sh` (SeaweedFS S3,
//! dynoxide DynamoDB). Each test uses its own tables and bucket.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cityflow_cloud::aws::client::{clients, Clients};
use cityflow_cloud::aws::options::AwsOptions;
use cityflow_cloud::upload::{dynamo, read_item};
use serde_json::Value;

use crate::support::*;

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through scripts/test.sh, which starts the servers")
    })
}

pub struct Dest {
    pub name: String,
}

impl Dest {
    pub fn new(test: &str) -> Dest {
        // Unique per run: the servers may hold earlier runs' tables and buckets.
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            % 1_000_000_000;
        Dest {
            name: format!(
                "it-{}-{}-{nonce}",
                test.replace('_', "-"),
                std::process::id()
            ),
        }
    }
    pub fn metrics(&self) -> String {
        format!("{}-metrics", self.name)
    }
    pub fn reports(&self) -> String {
        format!("{}-reports", self.name)
    }
    pub fn bucket(&self) -> String {
        self.name.chars().take(60).collect()
    }
    pub fn options(&self) -> AwsOptions {
        AwsOptions {
            region: "us-east-1".into(),
            endpoint: None,
            dynamodb_endpoint: Some(env("CITYFLOW_TEST_DYNAMODB_ENDPOINT")),
            s3_endpoint: Some(env("CITYFLOW_TEST_S3_ENDPOINT")),
            path_style: true,
            s3_checksums: true,
            static_credentials: Some((env("CITYFLOW_TEST_S3_KEY"), env("CITYFLOW_TEST_S3_SECRET"))),
            ..AwsOptions::default()
        }
    }
}

/// Deletes a bucket and everything in it; errors are ignored (cleanup). The shared S3 server
/// (SeaweedFS) gives each bucket holding data a volume of its own, out of a fixed number: tests
/// that leave their buckets behind end up making every later write fail.
pub fn delete_bucket(c: &Clients, bucket: &str) {
    rt().block_on(async {
        let mut token = None;
        loop {
            let Ok(o) =
                c.s3.list_objects_v2()
                    .bucket(bucket)
                    .set_continuation_token(token)
                    .send()
                    .await
            else {
                return;
            };
            for k in o.contents().iter().filter_map(|x| x.key()) {
                let _ = c.s3.delete_object().bucket(bucket).key(k).send().await;
            }
            match o.next_continuation_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        let _ = c.s3.delete_bucket().bucket(bucket).send().await;
    });
}

impl Drop for Dest {
    fn drop(&mut self) {
        let c = rt().block_on(clients(&self.options()));
        delete_bucket(&c, &self.bucket());
        rt().block_on(async {
            for t in [self.metrics(), self.reports()] {
                let _ = c.dynamodb.delete_table().table_name(t).send().await;
            }
        });
    }
}

pub fn upload_cmd(d: &Dest, output: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(crate::support::bin("upload"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", env("CITYFLOW_TEST_S3_KEY"))
        .env("AWS_SECRET_ACCESS_KEY", env("CITYFLOW_TEST_S3_SECRET"))
        .env("AWS_REGION", "us-east-1")
        .env(
            "AWS_ENDPOINT_URL_DYNAMODB",
            env("CITYFLOW_TEST_DYNAMODB_ENDPOINT"),
        )
        .env("AWS_ENDPOINT_URL_S3", env("CITYFLOW_TEST_S3_ENDPOINT"))
        .env("DYNAMODB_METRICS_TABLE", d.metrics())
        .env("DYNAMODB_REPORTS_TABLE", d.reports())
        .env("S3_REPORTS_BUCKET", d.bucket())
        .arg("--output")
        .arg(output)
        .args(args);
    c
}

pub fn upload(d: &Dest, output: &Path, args: &[&str]) -> (Output, Value) {
    let o = upload_cmd(d, output, &[args, &["--json"]].concat())
        .output()
        .expect("upload runs");
    assert_ne!(
        o.status.code(),
        Some(101),
        "upload panicked: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o, v)
}

/// The sample processed into a fresh output folder.
pub fn processed_sample() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("output");
    let o = process(&repo().join("sample/cityflow-raw/raw"), &out, &[]);
    assert_eq!(o.status.code(), Some(0));
    (dir, out)
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn scan_keys(c: &Clients, table: &str) -> Vec<String> {
    rt().block_on(async {
        let o = c.dynamodb.scan().table_name(table).send().await.unwrap();
        o.items()
            .iter()
            .map(|i| {
                format!(
                    "{:?} {:?}",
                    i.get("metric_type").or(i.get("report_id")),
                    i.get("date")
                )
            })
            .collect()
    })
}

pub fn count_items(c: &Clients, table: &str) -> usize {
    rt().block_on(async {
        c.dynamodb
            .scan()
            .table_name(table)
            .send()
            .await
            .map(|o| o.items().len())
            .unwrap_or(0)
    })
}

pub fn list_keys(c: &Clients, bucket: &str) -> Vec<String> {
    rt().block_on(async {
        match c.s3.list_objects_v2().bucket(bucket).send().await {
            Ok(o) => o
                .contents()
                .iter()
                .filter_map(|x| x.key().map(str::to_string))
                .collect(),
            Err(_) => Vec::new(),
        }
    })
}

/// Every metric and report file of `out` is stored exactly once and reads back equal.
pub fn assert_remote_equals_local(d: &Dest, out: &Path) {
    let c = rt().block_on(clients(&d.options()));
    let mut n_items = 0;
    for f in std::fs::read_dir(out.join("metrics")).unwrap() {
        let p = f.unwrap().path();
        let local = json(&p);
        let (t, date) = (
            local["metric_type"].as_str().unwrap(),
            local["date"].as_str().unwrap(),
        );
        let remote = rt()
            .block_on(read_item(&c, &d.metrics(), "metric_type", t, date))
            .unwrap()
            .unwrap_or_else(|| panic!("{t} {date} missing"));
        assert!(
            dynamo::same_json(&remote["metrics"], &local["metrics"]),
            "{t} {date} differs"
        );
        assert_eq!(remote["timestamp"], local["timestamp"]);
        n_items += 1;
    }
    for f in std::fs::read_dir(out.join("reports")).unwrap() {
        let p = f.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name == "index.html" {
            continue; // undated: not a daily target
        }
        let body = read(&p);
        let remote = rt()
            .block_on(cityflow_cloud::aws::s3::get(
                &c.s3,
                &d.bucket(),
                &format!("reports/{name}"),
            ))
            .unwrap()
            .unwrap();
        assert!(remote.0 == body, "{name}: the object is not byte-identical");
        let want = if name.ends_with(".csv") {
            "text/csv; charset=utf-8"
        } else if name.ends_with(".html") {
            "text/html; charset=utf-8"
        } else {
            "application/json; charset=utf-8"
        };
        assert_eq!(remote.1.as_deref(), Some(want));
        if name.ends_with(".json") {
            let local = json(&p);
            let date = local["date"].as_str().unwrap();
            let id = format!("daily_report_{date}");
            let remote = rt()
                .block_on(read_item(&c, &d.reports(), "report_id", &id, date))
                .unwrap()
                .unwrap();
            assert!(
                dynamo::same_json(&remote["report"], &local["report"]),
                "{name} item differs"
            );
            n_items += 1;
        }
    }
    assert_eq!(
        count_items(&c, &d.metrics()) + count_items(&c, &d.reports()),
        n_items,
        "every item exactly once"
    );
}

#[test]
fn full_upload_then_rerun_writes_nothing_and_reads_back_exact() {
    let d = Dest::new("full");
    let (_dir, out) = processed_sample();
    let (o, s) = upload(&d, &out, &["--init", "--create-bucket"]);
    assert_eq!(o.status.code(), Some(0), "{s:#}");
    // Every metrics file is an item; each report JSON is an item and an object; each CSV and
    // HTML page an object (the undated index.html is not a daily target).
    let n_metrics = std::fs::read_dir(out.join("metrics")).unwrap().count();
    let n_reports = std::fs::read_dir(out.join("reports")).unwrap().count() / 3;
    let files = n_metrics + 4 * n_reports;
    assert_eq!(
        s["written"].as_u64().unwrap() as usize,
        files,
        "metrics + report items + report objects"
    );
    assert_remote_equals_local(&d, &out);
    // Numbers are stored as their exact decimal text.
    let c = rt().block_on(clients(&d.options()));
    let raw = rt()
        .block_on(
            c.dynamodb
                .get_item()
                .table_name(d.metrics())
                .key(
                    "metric_type",
                    aws_sdk_dynamodb::types::AttributeValue::S("comptages".into()),
                )
                .key(
                    "date",
                    aws_sdk_dynamodb::types::AttributeValue::S("2025-10-26".into()),
                )
                .send(),
        )
        .unwrap();
    let item = raw.item.unwrap();
    let local = json(out.join("metrics/comptages_metrics_2025-10-26.json"));
    let lost = local["metrics"]["global_metrics"]["temps_perdu_total_paris"]
        .as_f64()
        .unwrap();
    let stored = match &item["metrics"] {
        aws_sdk_dynamodb::types::AttributeValue::M(m) => match &m["global_metrics"] {
            aws_sdk_dynamodb::types::AttributeValue::M(g) => {
                g["temps_perdu_total_paris"].as_n().unwrap().clone()
            }
            _ => panic!(),
        },
        _ => panic!(),
    };
    assert_eq!(stored.parse::<f64>().unwrap(), lost);
    // ttl = data date + 365 days at 00:00 UTC: 2026-10-26 = 1792972800
    assert_eq!(item["ttl"].as_n().unwrap(), "1792972800");

    let (o, s) = upload(&d, &out, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(s["written"], 0, "a second run writes nothing");
    assert_eq!(s["unchanged"].as_u64().unwrap() as usize, files);
    let (o, s) = upload(&d, &out, &["--verify"]);
    assert_eq!(o.status.code(), Some(0), "{s:#}");
    assert_eq!(s["differ"], 0);
}

#[test]
fn dry_run_is_the_plan_and_changes_nothing() {
    let d = Dest::new("dry_run");
    let (_dir, out) = processed_sample();
    let (o, _) = upload(
        &d,
        &out,
        &[
            "--init",
            "--create-bucket",
            "--date",
            "2025-10-25",
            "--type",
            "bikes",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let c = rt().block_on(clients(&d.options()));
    let state = || {
        (
            count_items(&c, &d.metrics()),
            count_items(&c, &d.reports()),
            list_keys(&c, &d.bucket()),
        )
    };
    let before = state();
    let ledger_before = read(out.join(".upload-ledger.json"));
    // With no credentials, endpoint or network at all, a dry-run still plans (for AWS itself).
    let o = Command::new(crate::support::bin("upload"))
        .env_clear()
        .arg("--output")
        .arg(&out)
        .args(["--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        plan["unchanged"], 0,
        "nothing was ever pushed to AWS itself"
    );
    // For the test's destination: the pushed day is unchanged, the rest new.
    let (o, plan) = upload(&d, &out, &["--dry-run"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(plan["unchanged"], 1);
    assert_eq!(state(), before, "the dry-runs wrote nothing remotely");
    assert_eq!(
        ledger_before,
        read(out.join(".upload-ledger.json")),
        "nor locally"
    );
    let planned: Vec<String> = plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["action"] == "new")
        .map(|t| format!("{} {}", t["target"], t["file"]))
        .collect();
    assert_eq!(
        planned.len(),
        plan["planned_new"].as_u64().unwrap() as usize
    );
    let (o, s) = upload(&d, &out, &[]);
    assert_eq!(o.status.code(), Some(0));
    let mut written: Vec<String> = s["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{} {}", t["target"], t["file"]))
        .collect();
    let mut planned = planned;
    planned.sort();
    written.sort();
    assert_eq!(planned, written, "the real run did exactly the plan");
}

#[test]
fn selection_writes_exactly_the_selected_targets() {
    let d = Dest::new("selection");
    let (_dir, out) = processed_sample();
    let (o, s) = upload(
        &d,
        &out,
        &[
            "--init",
            "--create-bucket",
            "--date",
            "2025-10-26",
            "--type",
            "comptages,reports",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{s:#}");
    let c = rt().block_on(clients(&d.options()));
    assert_eq!(
        count_items(&c, &d.metrics()),
        1,
        "{} {:?}",
        d.metrics(),
        scan_keys(&c, &d.metrics())
    );
    assert_eq!(count_items(&c, &d.reports()), 1);
    let mut keys = list_keys(&c, &d.bucket());
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "reports/daily_report_2025-10-26.csv",
            "reports/daily_report_2025-10-26.html",
            "reports/daily_report_2025-10-26.json"
        ]
    );
    let (_, s) = upload(
        &d,
        &out,
        &[
            "--from",
            "2025-10-26",
            "--to",
            "2025-10-27",
            "--type",
            "weather",
        ],
    );
    assert_eq!(s["written"], 2);
    assert_eq!(count_items(&c, &d.metrics()), 3);
    let o = upload_cmd(&d, &out, &["--type", "comptage"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "unknown type");
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown type"));
    let o = upload_cmd(&d, &out, &["--date", "2025-02-30"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "invalid date");
}

#[test]
fn big_items_are_offloaded_and_read_back_whole() {
    let d = Dest::new("offload");
    let raw = tree(&[(
        "batch/referentiel.csv",
        read(real(
            "referentiel-comptages-routiers/referentiel-comptages-routiers_nezarbr.csv",
        )),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("output");
    process(raw.path(), &out, &[]);
    let (o, s) = upload(
        &d,
        &out,
        &["--init", "--create-bucket", "--type", "referentiel"],
    );
    assert_eq!(o.status.code(), Some(0), "{s:#}");
    assert_eq!(s["targets"][0]["offloaded"], true);
    let local = json(out.join("metrics/referentiel_metrics_2025-11-21.json"));
    assert!(read(out.join("metrics/referentiel_metrics_2025-11-21.json")).len() > 400 * 1024);
    let c = rt().block_on(clients(&d.options()));
    let remote = rt()
        .block_on(read_item(
            &c,
            &d.metrics(),
            "metric_type",
            "referentiel",
            "2025-11-21",
        ))
        .unwrap()
        .unwrap();
    assert!(dynamo::same_json(&remote["metrics"], &local["metrics"]));
    assert_eq!(
        remote["metrics"]["mapping"].as_object().unwrap().len(),
        3348
    );
}

#[test]
fn edited_and_invalid_files_and_failures_are_reported() {
    let d = Dest::new("edits");
    let (_dir, out) = processed_sample();
    let (o, _) = upload(
        &d,
        &out,
        &["--init", "--create-bucket", "--type", "weather"],
    );
    assert_eq!(o.status.code(), Some(0));
    // Edit a file after upload: planned as changed, and verify sees the difference.
    let p = out.join("metrics/weather_metrics_2025-10-25.json");
    let mut v = json(&p);
    v["metrics"]["impact_mobilite"] = serde_json::json!(1.0);
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let (o, s) = upload(&d, &out, &["--type", "weather", "--verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(s["differ"], 1);
    let (_, s) = upload(&d, &out, &["--type", "weather", "--dry-run"]);
    assert_eq!(s["planned_changed"], 1);
    // A corrupt local file is an error naming it; the others still go.
    std::fs::write(
        out.join("metrics/weather_metrics_2025-10-26.json"),
        b"{\"metric_type\": \"weather\"",
    )
    .unwrap();
    let (o, s) = upload(&d, &out, &["--type", "weather"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(s["written"], 1);
    let bad: Vec<&Value> = s["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["action"] == "error")
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["file"], "metrics/weather_metrics_2025-10-26.json");
    assert!(bad[0]["error"].as_str().unwrap().contains("invalid JSON"));
    // Wrong credentials for S3: exit 3, a clear message.
    let o = upload_cmd(&d, &out, &["--type", "reports", "--force"])
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A stopped server (nothing listens there): exit 3.
    let o = upload_cmd(&d, &out, &["--type", "bikes"])
        .env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unreachable"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_killed_upload_resumes_without_loss_or_duplicates() {
    let d = Dest::new("kill");
    let csv = read(real(
        "comptages-routiers-permanents/crp_washington_louisgthier.csv",
    ));
    let raw = tree(&[("batch/comptages.csv", csv)]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("output");
    process(raw.path(), &out, &[]);
    let (o, _) = upload(
        &d,
        &out,
        &["--init", "--create-bucket", "--date", "2023-11-01"],
    );
    assert_eq!(o.status.code(), Some(0));
    // A crash (abort, like kill -9) right after the 3rd confirmed unit: the ledger holds
    // exactly what was confirmed, nothing more.
    let o = upload_cmd(&d, &out, &["--concurrency", "2"])
        .env("CITYFLOW_TEST_CRASH_AFTER_SAVES", "3")
        .output()
        .unwrap();
    assert!(!o.status.success(), "the process aborted");
    let recorded = json(out.join(".upload-ledger.json"))["written"]
        .as_object()
        .unwrap()
        .len();
    // 369 days x (metrics item, report item, report JSON, CSV and HTML objects)
    let total = 369 * 5;
    assert!(
        recorded > 4 && recorded < total,
        "partial ledger: {recorded} entries"
    );
    // And a real kill -9 at an arbitrary moment.
    let mut child = upload_cmd(&d, &out, &["--concurrency", "2"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    let (o, s) = upload(&d, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{s:#}");
    let recorded = json(out.join(".upload-ledger.json"))["written"]
        .as_object()
        .unwrap()
        .len();
    assert_eq!(recorded, total);
    let (o, s) = upload(&d, &out, &["--verify"]);
    assert_eq!(o.status.code(), Some(0), "{s:#}");
    assert_remote_equals_local(&d, &out);
}
