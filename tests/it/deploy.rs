//! `deploy/`: the shard script end to end against the real local servers (S3, DynamoDB), run on
//! the host as a container would run it, and the offline validation of the manifests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cityflow_cloud::aws::client::clients;
use serde_json::Value;

use crate::support::*;
use crate::upload::{count_items, delete_bucket, env, rt, Dest};

/// The raw bucket of a test, deleted at the end.
struct RawBucket(String, Dest);

impl Drop for RawBucket {
    fn drop(&mut self) {
        let c = rt().block_on(clients(&self.1.options()));
        delete_bucket(&c, &self.0);
    }
}

/// A command with only the test servers' endpoints, credentials and names in its environment,
/// the workspace's binaries first on PATH.
fn cmd(program: &Path, d: &Dest, raw_bucket: &str) -> Command {
    let bins = bin("raw").parent().unwrap().to_path_buf();
    let path = std::env::join_paths(std::iter::once(bins).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let mut c = Command::new(program);
    c.env_clear()
        .env("PATH", path)
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", env("CITYFLOW_TEST_S3_KEY"))
        .env("AWS_SECRET_ACCESS_KEY", env("CITYFLOW_TEST_S3_SECRET"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_S3", env("CITYFLOW_TEST_S3_ENDPOINT"))
        .env(
            "AWS_ENDPOINT_URL_DYNAMODB",
            env("CITYFLOW_TEST_DYNAMODB_ENDPOINT"),
        )
        .env("DYNAMODB_METRICS_TABLE", d.metrics())
        .env("DYNAMODB_REPORTS_TABLE", d.reports())
        .env("S3_REPORTS_BUCKET", d.bucket())
        .env("S3_RAW_BUCKET", raw_bucket)
        .env("SOURCE_DATE_EPOCH", EPOCH);
    c
}

fn script(name: &str) -> PathBuf {
    repo().join("deploy").join(name)
}

/// `deploy/shard.sh` for shard `index` with `data` as its /data, the range of the sample.
fn shard(d: &Dest, raw_bucket: &str, data: &Path, index: &str, count: &str) -> Output {
    ranged(d, raw_bucket, ("2025-10-25", "2025-10-27"), count)
        .env("CITYFLOW_DATA", data)
        .env("SHARD_INDEX", index)
        .output()
        .unwrap()
}

/// `deploy/shard.sh` with a range and a shard count (no index, no data folder yet).
fn ranged(d: &Dest, raw_bucket: &str, (from, to): (&str, &str), count: &str) -> Command {
    let mut c = cmd(&script("shard.sh"), d, raw_bucket);
    c.env("RANGE_FROM", from)
        .env("RANGE_TO", to)
        .env("SHARD_COUNT", count);
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The dates of the targets a step's summary lists.
fn target_dates(s: &Value) -> BTreeSet<String> {
    s["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let target = t["target"].as_str().unwrap();
            let date = target
                .split([' ', '_', '.'])
                .find(|w| w.len() == 10 && w.as_bytes()[4] == b'-')
                .unwrap_or_else(|| panic!("no date in {target}"));
            date.to_string()
        })
        .collect()
}

/// The local files an upload of `out` takes: metrics and daily reports (JSON, CSV, HTML).
fn local_targets(out: &Path, days: &BTreeSet<String>) -> usize {
    // Files of the shard's days only: the référentiel goes under the last road-counter day of
    // the whole tree (10-27), which only the shard holding that day uploads.
    let n = |dir: &str| {
        std::fs::read_dir(out.join(dir))
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                days.iter().any(|d| name.contains(&format!("_{d}")))
            })
            .count()
    };
    // Each daily_report JSON is an item and an object.
    let report_jsons = std::fs::read_dir(out.join("reports"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("daily_report_")
                && name.ends_with(".json")
                && days.iter().any(|d| name.contains(d.as_str()))
        })
        .count();
    n("metrics") + n("reports") + report_jsons
}

/// Keys and ETags of every object of `bucket`.
fn objects(d: &Dest, bucket: &str) -> Vec<(String, String)> {
    let c = rt().block_on(clients(&d.options()));
    rt().block_on(async {
        let o = c.s3.list_objects_v2().bucket(bucket).send().await.unwrap();
        o.contents()
            .iter()
            .map(|x| {
                let at = x.last_modified().map(|t| t.secs()).unwrap_or_default();
                (
                    x.key().unwrap_or_default().to_string(),
                    format!("{} {at}", x.e_tag().unwrap_or_default()),
                )
            })
            .collect()
    })
}

/// `raw push` of the repo's sample tree into a new bucket (the push ledger kept outside the repo).
fn push_sample(d: &Dest, bucket: &str) {
    let ledger = tempfile::tempdir().unwrap();
    let sample = repo().join("sample/cityflow-raw/raw");
    let push = cmd(&bin("raw"), d, bucket)
        .args([
            "push",
            sample.to_str().unwrap(),
            "--create-bucket",
            "--quiet",
        ])
        .arg("--ledger")
        .arg(ledger.path().join("push.json"))
        .output()
        .unwrap();
    assert_eq!(push.status.code(), Some(0), "{}", text(&push.stderr));
}

#[test]
fn two_shards_upload_their_days_and_a_retry_on_a_fresh_machine_writes_nothing() {
    let d = Dest::new("deploy");
    let raw = RawBucket(format!("{}-raw", d.bucket()), Dest::new("deploy-raw"));
    push_sample(&d, &raw.0);
    let empty = tempfile::tempdir().unwrap();
    let init = cmd(&bin("upload"), &d, &raw.0)
        .args(["--init", "--create-bucket", "--output"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert_eq!(init.status.code(), Some(0), "{}", text(&init.stderr));

    let data = tempfile::tempdir().unwrap();
    // 3 days in 2 shards: 25..26 (reads from 10-17) and 27 (reads from 10-19).
    let want = [
        ("0", &["2025-10-25", "2025-10-26"][..], 4),
        ("1", &["2025-10-27"][..], 0),
    ];
    let mut written = 0;
    for (k, days, left_out) in want {
        let dir = data.path().join(format!("shard-{k}"));
        let o = shard(&d, &raw.0, &dir, k, "2");
        assert_eq!(o.status.code(), Some(0), "shard {k}: {}", text(&o.stderr));
        let s = |step: &str| json(dir.join(format!("summaries/{step}.json")));
        // The pull left out the sample's partitions of the days it does not read: for shard 0,
        // 10-27's bikes, traffic, weather and station_status (counted in the sample tree).
        assert_eq!(s("pull")["date_filter"]["left_out"], left_out, "shard {k}");
        let up = s("upload");
        assert_eq!(up["exit_code"], 0);
        let days: BTreeSet<String> = days.iter().map(|d| d.to_string()).collect();
        assert_eq!(target_dates(&up), days, "shard {k} uploads its days only");
        let n = up["written"].as_u64().unwrap() as usize;
        assert_eq!(n, local_targets(&dir.join("output"), &days), "shard {k}");
        written += n;
    }
    let c = rt().block_on(clients(&d.options()));
    let items = count_items(&c, &d.metrics()) + count_items(&c, &d.reports());
    let before = objects(&d, &d.bucket());
    let reports = before.len();
    assert_eq!(items + reports, written, "every target stored once");

    // Shard 1 again on a fresh machine (no output, no ledger): verified, nothing written.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let dir = data.path().join("shard-1-retry");
    let o = shard(&d, &raw.0, &dir, "1", "2");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("nothing to write"));
    let v = json(dir.join("summaries/verify.json"));
    assert_eq!(
        (v["differ"].as_u64(), v["failed"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        v["unchanged"].as_u64().unwrap() as usize,
        local_targets(&dir.join("output"), &["2025-10-27".to_string()].into())
    );
    assert!(!dir.join("summaries/upload.json").exists(), "no upload run");
    assert_eq!(objects(&d, &d.bucket()), before, "no object rewritten");
    let after = count_items(&c, &d.metrics()) + count_items(&c, &d.reports());
    assert_eq!(after, items);
}

#[test]
fn surplus_and_empty_shards_and_bad_settings() {
    let d = Dest::new("deploy-edge");
    let raw = RawBucket(format!("{}-raw", d.bucket()), Dest::new("deploy-edge-raw"));
    let data = tempfile::tempdir().unwrap();
    // 3 days, 10 shards asked: index 7 has nothing to do, before any network.
    let o = shard(&d, &raw.0, data.path(), "7", "10");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("nothing to do for shard 7"));
    assert!(!data.path().join("summaries").exists());
    // No index at all, or no range: configuration errors.
    let range = ("2025-10-25", "2025-10-27");
    let o = ranged(&d, &raw.0, range, "2").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let o = cmd(&script("shard.sh"), &d, &raw.0)
        .env("JOB_COMPLETION_INDEX", "0")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("RANGE_FROM is not set"));
    // An unreachable raw bucket (not created): raw pull's exit code fails the shard.
    let o = ranged(&d, &raw.0, range, "2")
        .env("CITYFLOW_DATA", data.path())
        .env("AWS_BATCH_JOB_ARRAY_INDEX", "0")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("raw pull failed (exit 2)"));
    // A range without data: process's exit 5 fails the shard, unless empty shards are accepted.
    push_sample(&d, &raw.0);
    for (allow, code) in [("0", 5), ("1", 0)] {
        let o = ranged(&d, &raw.0, ("2020-01-01", "2020-01-02"), "1")
            .env("CITYFLOW_DATA", data.path().join(allow))
            .env("SHARD_INDEX", "0")
            .env("ALLOW_EMPTY_SHARD", allow)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(code), "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains("nothing to process"));
    }
}

/// `deploy/validate.sh` on a copy of `deploy/` edited by `edit` (file, text replaced, new text).
fn validate_copy(edits: &[(&str, &str, &str)]) -> Output {
    let copy = tempfile::tempdir().unwrap();
    for (rel, bytes) in all_files(&repo().join("deploy")) {
        let p = copy.path().join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut text = String::from_utf8(bytes).unwrap();
        for (file, from, to) in edits.iter().filter(|(f, _, _)| *f == rel) {
            assert!(text.contains(from), "{file} lacks {from:?}");
            text = text.replace(from, to);
        }
        std::fs::write(p, text).unwrap();
    }
    Command::new(script("validate.sh"))
        .arg(copy.path())
        .output()
        .unwrap()
}

#[test]
fn the_deployment_files_validate_and_broken_copies_do_not() {
    let o = validate_copy(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    for (file, from, to, named) in [
        (
            "kubernetes/backfill-job.yaml",
            "backoffLimitPerIndex: 2",
            "backoffLimitPerIndx: 2",
            "kubernetes/backfill-job.yaml (Kubernetes 1.29.0)",
        ),
        (
            "kubernetes/backfill-job.yaml",
            "completions: 40",
            "completions: 41",
            "completions 41 != SHARD_COUNT 40",
        ),
        (
            "aws-batch/job-definition.json",
            "\"attempts\": 3",
            "\"attempts\": \"3\"",
            "not a valid RegisterJobDefinition input",
        ),
        (
            "aws-batch/submit-backfill.json",
            "\"size\": 40",
            "\"size\": 40, \"sise\": 1",
            "not a valid SubmitJob input",
        ),
        (
            "Dockerfile",
            "USER 10001",
            "USER 10001\nRUN cd /data",
            "Dockerfile (hadolint)",
        ),
        ("shard.sh", "esac\n", "", "shard.sh (bash -n)"),
    ] {
        let o = validate_copy(&[(file, from, to)]);
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        assert_eq!(o.status.code(), Some(1), "{file}: {out}{err}");
        assert!(err.contains(named), "{file}: {named:?} not in {err}");
    }
}
