//! The MongoDB backend against the real Mongo-wire server of `scripts/servers.sh` (SecantusDB).

use std::path::Path;
use std::process::{Command, Output};

use cityflow::output::OutputName;
use cityflow::report::html::INDEX;
use cityflow::store::mongo::{target_of, MongoStore};
use cityflow::store::{OutputDoc, Store};
use serde_json::Value;

use crate::support::*;

fn mongo_url() -> String {
    std::env::var("CITYFLOW_TEST_MONGODB_URL")
        .expect("CITYFLOW_TEST_MONGODB_URL is not set: run the tests through scripts/test.sh")
}

fn unique_db(test: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000_000;
    format!("it_{test}_{}_{n}", std::process::id())
}

fn store(db: &str) -> MongoStore {
    MongoStore::connect(
        &mongo_url(),
        db,
        std::time::Duration::from_secs(5),
        chrono::Utc::now(),
    )
    .unwrap()
}

/// `process` run from `cwd` with a clean environment plus `env`.
fn process_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_process"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .current_dir(cwd)
        .arg("--no-progress")
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert_ne!(
        o.status.code(),
        Some(101),
        "panic: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, body) in all_files(from) {
        let p = to.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
}

#[test]
fn backend_detection_flags_env_and_fallback() {
    let db = unique_db("detect");
    let url = mongo_url();
    // A laptop: the bucket mirror in the working directory, no --raw.
    let laptop = tempfile::tempdir().unwrap();
    copy_tree(
        &repo().join("sample/cityflow-raw/raw"),
        &laptop
            .path()
            .join("bucket-cityflow-paris-s3-raw/cityflow-raw/raw"),
    );
    let env = [
        ("MONGODB_URL", url.as_str()),
        ("MONGODB_DATABASE", db.as_str()),
    ];
    let o = process_in(laptop.path(), &[], &env);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "backend: MongoDB: folder bucket-cityflow-paris-s3-raw found in the working directory"
        ),
        "{err}"
    );
    // Only the analytics tables and the HTML pages go to files (issue 19).
    let written = all_files(&laptop.path().join("output"));
    assert!(!written.is_empty());
    for rel in written.keys() {
        let files_only = OutputName::parse(rel).is_some_and(|n| n.files_only());
        assert!(rel == INDEX || files_only, "{rel} written to files");
    }
    let s = store(&db);
    assert!(s
        .read(&target_of("metrics/comptages_metrics_2025-10-26.json").unwrap())
        .unwrap()
        .is_some());
    // The raw root inside a mirror, run from elsewhere: still MongoDB.
    let elsewhere = tempfile::tempdir().unwrap();
    let raw = laptop
        .path()
        .join("bucket-cityflow-paris-s3-raw/cityflow-raw/raw");
    let o = process_in(elsewhere.path(), &["--raw", raw.to_str().unwrap()], &env);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("the raw root is inside a bucket-cityflow-paris-s3-raw folder"));
    // An EC2 box: files.
    let ec2 = tempfile::tempdir().unwrap();
    copy_tree(
        &repo().join("sample/cityflow-raw/raw"),
        &ec2.path().join("data/cityflow-raw/raw"),
    );
    let o = process_in(ec2.path(), &[], &env);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("backend: files: no bucket-cityflow-paris-s3-raw folder"));
    assert!(ec2
        .path()
        .join("output/metrics/comptages_metrics_2025-10-26.json")
        .exists());
    // DATABASE_TYPE overrides the detection, and the flag overrides DATABASE_TYPE.
    let o = process_in(
        laptop.path(),
        &[],
        &[env[0], env[1], ("DATABASE_TYPE", "files")],
    );
    assert!(
        laptop.path().join("output/metrics").exists(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = process_in(
        ec2.path(),
        &["--backend", "mongo"],
        &[env[0], env[1], ("DATABASE_TYPE", "files")],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("backend: MongoDB (--backend"));
    let o = process_in(ec2.path(), &[], &[("DATABASE_TYPE", "dynamodb")]);
    assert_eq!(o.status.code(), Some(2));
    // Unreachable: results go to files, the URL is named without its password, exit 3.
    let gone = tempfile::tempdir().unwrap();
    copy_tree(
        &repo().join("sample/cityflow-raw/raw"),
        &gone
            .path()
            .join("bucket-cityflow-paris-s3-raw/cityflow-raw/raw"),
    );
    let o = process_in(
        gone.path(),
        &[],
        &[(
            "MONGODB_URL",
            "mongodb://cityflow:s3cr3t@127.0.0.1:9/?serverSelectionTimeoutMS=500",
        )],
    );
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("MongoDB unreachable") && err.contains("mongodb://***@127.0.0.1:9"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t"), "no password in logs");
    assert!(
        gone.path()
            .join("output/reports/daily_report_2025-10-25.csv")
            .exists(),
        "the run is not lost"
    );
}

#[test]
fn files_and_mongo_hold_the_same_bytes_and_reruns_keep_created_at() {
    let db = unique_db("same");
    let dir = tempfile::tempdir().unwrap();
    let files_out = dir.path().join("files");
    let raw = repo().join("sample/cityflow-raw/raw");
    assert_eq!(
        process(&raw, &files_out, &["--backend", "files"])
            .status
            .code(),
        Some(0)
    );
    let err = mongo_run(&raw, &dir.path().join("unused"), &db);
    assert!(err.contains("MongoDB import check"), "{err}");
    let s = store(&db);
    let files = all_files(&files_out);
    for (rel, body) in &files {
        // The tables and pages are files whatever the backend (next test).
        if rel == INDEX || OutputName::parse(rel).is_some_and(|n| n.files_only()) {
            continue;
        }
        let t = target_of(rel).unwrap_or_else(|| panic!("{rel}: not an output name"));
        if t.csv {
            assert_eq!(
                s.read_csv(&t).unwrap().unwrap().as_bytes(),
                &body[..],
                "{rel}"
            );
        } else {
            let v = s
                .read(&t)
                .unwrap()
                .unwrap_or_else(|| panic!("{rel} missing"));
            assert!(
                cityflow::json::to_json_bytes(&v) == *body,
                "{rel}: MongoDB does not give back the file's bytes"
            );
        }
    }
    // Re-run with new content (one API snapshot less) and a later clock: replaced, not duplicated,
    // created_at kept, updated_at moved.
    let raw2 = tempfile::tempdir().unwrap();
    copy_tree(&raw, raw2.path());
    std::fs::remove_file(
        raw2.path()
            .join("api/comptages/dt=2025-10-25/hour=08/comptages-snapshot.json"),
    )
    .unwrap();
    std::fs::remove_file(raw2.path().join("batch/comptages-routiers-permanents.csv")).unwrap();
    let client = mongodb::sync::Client::with_uri_str(mongo_url()).unwrap();
    let coll = client
        .database(&db)
        .collection::<mongodb::bson::Document>("metrics");
    let key = mongodb::bson::doc! {"metric_type": "comptages", "date": "2025-10-25"};
    let before = coll.find_one(key.clone()).run().unwrap().unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_process"));
    c.env_clear()
        .env("SOURCE_DATE_EPOCH", "1763781600")
        .args([
            "--raw",
            raw2.path().to_str().unwrap(),
            "--backend",
            "mongo",
            "-q",
            "--no-progress",
        ])
        .env("MONGODB_URL", mongo_url())
        .env("MONGODB_DATABASE", &db);
    let o = c.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let docs: Vec<_> = coll.find(key.clone()).run().unwrap().collect();
    assert_eq!(docs.len(), 1, "one document per key");
    let after = docs[0].as_ref().unwrap();
    assert_eq!(before.get("created_at"), after.get("created_at"));
    assert_ne!(before.get("updated_at"), after.get("updated_at"));
    assert_ne!(
        before.get_str("content_sha256").unwrap(),
        after.get_str("content_sha256").unwrap()
    );
}

#[test]
fn mongo_runs_write_the_tables_and_pages_to_files() {
    let db = unique_db("files_only");
    let dir = tempfile::tempdir().unwrap();
    let raw = repo().join("sample/cityflow-raw/raw");
    let files_out = dir.path().join("files");
    let o = process(&raw, &files_out, &["--backend", "files"]);
    assert_eq!(o.status.code(), Some(0));
    let mongo_out = dir.path().join("mongo");
    let err = mongo_run(&raw, &mongo_out, &db);
    assert!(err.contains("MongoDB import check"), "{err}");
    // Files-only outputs of the files run: 24 partitions, 3 pages and the index.
    let files = all_files(&files_out);
    let files_only: Vec<&String> = (files.keys())
        .filter(|rel| *rel == INDEX || OutputName::parse(rel).is_some_and(|n| n.files_only()))
        .collect();
    assert_eq!(
        files_only
            .iter()
            .filter(|r| r.ends_with(".parquet"))
            .count(),
        24
    );
    assert_eq!(
        files_only.iter().filter(|r| r.ends_with(".html")).count(),
        4
    );
    // The MongoDB run wrote exactly those under its --output, the same bytes; the documents
    // went to MongoDB (no metrics, report or quality file).
    let written = all_files(&mongo_out);
    assert_eq!(written.keys().collect::<Vec<_>>(), files_only);
    for rel in files_only {
        assert!(
            written[rel] == files[rel],
            "{rel} differs from the files run"
        );
    }
    let s = store(&db);
    let t = target_of("metrics/comptages_metrics_2025-10-26.json").unwrap();
    assert!(s.read(&t).unwrap().is_some(), "the metrics are in MongoDB");
    // A second run rewrites none of them.
    let before: Vec<_> = (walk_mtimes(&mongo_out)).collect();
    mongo_run(&raw, &mongo_out, &db);
    assert_eq!(walk_mtimes(&mongo_out).collect::<Vec<_>>(), before);
}

/// `process --backend mongo` into database `db` (files-only outputs under `out`): exit 0; its
/// stderr.
fn mongo_run(raw: &Path, out: &Path, db: &str) -> String {
    let url = mongo_url();
    let env = [("MONGODB_URL", url.as_str()), ("MONGODB_DATABASE", db)];
    let o = process_env(raw, out, &["--backend", "mongo"], &env);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// (relative path, modification time) of every file under `root`.
fn walk_mtimes(root: &Path) -> impl Iterator<Item = (String, std::time::SystemTime)> + '_ {
    all_files(root).into_keys().map(move |rel| {
        let m = std::fs::metadata(root.join(&rel))
            .unwrap()
            .modified()
            .unwrap();
        (rel, m)
    })
}

#[test]
fn a_metric_over_16_mb_round_trips_whole() {
    let db = unique_db("big");
    let s = store(&db);
    // 22,000 arc-like rows of ~900 bytes: about 20 MB, over MongoDB's 16 MB document limit.
    let rows: Vec<Value> = (0..22_000)
        .map(|i| serde_json::json!({"identifiant_arc": i.to_string(), "libelle": format!("Rue numéro {i} {}", "x".repeat(850)), "debit_journalier_total": i as f64 * 1.5, "taux": 0.1 + i as f64 / 3.0}))
        .collect();
    let env = serde_json::json!({"metric_type": "comptages", "date": "2025-01-01", "timestamp": "t", "metrics": {"metrics": rows, "global_metrics": {"n": 22000}}});
    let body = cityflow::json::to_json_bytes(&env);
    assert!(body.len() > 16 << 20);
    let doc = OutputDoc {
        rel_path: "metrics/comptages_metrics_2025-01-01.json".into(),
        body: body.clone(),
    };
    assert_eq!(s.put(&doc).unwrap(), cityflow::store::Written::Created);
    s.flush()
        .expect("the import verification reads it back whole");
    let back = s.read(&target_of(&doc.rel_path).unwrap()).unwrap().unwrap();
    assert!(
        cityflow::json::to_json_bytes(&back) == body,
        "round trip is byte-exact"
    );
    // Written again with the same content: nothing to do.
    assert_eq!(s.put(&doc).unwrap(), cityflow::store::Written::Unchanged);
}

#[test]
fn upload_from_mongo_plans_the_same_targets_as_from_files() {
    let db = unique_db("upsrc");
    let dir = tempfile::tempdir().unwrap();
    let files_out = dir.path().join("files");
    let raw = repo().join("sample/cityflow-raw/raw");
    process(&raw, &files_out, &["--backend", "files"]);
    let o = process_env(
        &raw,
        &dir.path().join("x"),
        &["--backend", "mongo"],
        &[("MONGODB_URL", &mongo_url()), ("MONGODB_DATABASE", &db)],
    );
    assert_eq!(o.status.code(), Some(0));
    let plan = |args: &[&str]| -> Vec<String> {
        let o = Command::new(crate::support::bin("upload"))
            .env_clear()
            .args(args)
            .args(["--dry-run", "--json"])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let mut t: Vec<String> = v["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                format!(
                    "{} {} {} {}",
                    t["action"], t["target"], t["file"], t["bytes"]
                )
            })
            .collect();
        t.sort();
        t
    };
    let all = ["--type", "all,analytics"];
    let from_files = plan(&[&["--output", files_out.to_str().unwrap()], &all[..]].concat());
    // The documents from MongoDB, the tables and pages from the files the run wrote beside.
    let beside = dir.path().join("x");
    let from_mongo = plan(&[
        "--type",
        "all,analytics",
        "--output",
        beside.to_str().unwrap(),
        "--source",
        "mongo",
        "--mongodb-url",
        &mongo_url(),
        "--mongodb-database",
        &db,
    ]);
    assert!(from_files.len() > 20);
    assert_eq!(
        from_files.iter().filter(|t| t.contains(".parquet")).count(),
        24
    );
    assert_eq!(from_files.iter().filter(|t| t.contains(".html")).count(), 3);
    assert_eq!(from_files, from_mongo);
}
