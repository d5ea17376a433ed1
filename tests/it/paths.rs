//! No input can make a file be written outside its folder: hostile S3 keys on `raw pull` (`..`,
//! absolute, `.`, our own working-file names), hostile dates and values in the raw data of
//! `process`, hostile keys of MongoDB documents on `upload --source mongo`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use cityflow_cloud::aws::client::clients;
use cityflow_cloud::aws::options::AwsOptions;
use serde_json::Value;

use crate::proxy::{Faults, Proxy, Service};
use crate::support::*;
use crate::upload::{env, rt};

/// The names `process` writes, and nothing else.
fn is_output_name(rel: &str) -> bool {
    let date = |s: &str| s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok();
    if let Some(n) = rel.strip_prefix("metrics/") {
        return n
            .strip_suffix(".json")
            .and_then(|s| s.rsplit_once("_metrics_"))
            .is_some_and(|(t, d)| cityflow::output::METRIC_TYPES.contains(&t) && date(d));
    }
    if rel == "reports/index.html" {
        return true;
    }
    if let Some(n) = rel.strip_prefix("analytics/") {
        let parts: Vec<&str> = n.split('/').collect();
        return matches!(parts.as_slice(), [table, d, "part-0.parquet"]
            if table.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && d.strip_prefix("date=").is_some_and(date));
    }
    if let Some(n) = rel.strip_prefix("reports/daily_report_") {
        return [".json", ".csv", ".html"]
            .iter()
            .any(|e| n.strip_suffix(e).is_some_and(date));
    }
    if let Some(n) = rel.strip_prefix("quality/quality_report_") {
        return n
            .strip_suffix(".json")
            .is_some_and(|s| s == "run" || date(s));
    }
    false
}

/// Runs a command whose stdout is a JSON summary.
fn json_run(c: &mut Command) -> (std::process::Output, Value) {
    let o = c.output().unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}): {}",
            String::from_utf8_lossy(&o.stderr)
        );
    });
    (o, v)
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn hostile_dates_and_values_in_raw_data_write_nothing_outside_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    for (rel, body) in all_files(&repo().join("sample/cityflow-raw/raw")) {
        let p = raw.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    // Road counters with dates that are paths, absolute, NUL, out of range or implausible.
    let csv = raw.join("batch/comptages-routiers-permanents.csv");
    let mut body = read(&csv);
    for date in [
        "../../../escape",
        "2025-10-26T08:00:00+01:00/../../escape",
        "/tmp/escape",
        "2025-10-26T08:00:00\0+01:00",
        "..\\..\\escape",
        "+275760-09-13T00:00:00Z",
        "9999-12-31T23:30:00+01:00",
    ] {
        body.extend_from_slice(
            format!("1000;Bd_Ney_1;{date};245.0;5.6;Fluide;2000;a;2001;b;Invalide;;;;\n")
                .as_bytes(),
        );
    }
    std::fs::write(&csv, body).unwrap();
    // Weather and disruption snapshots whose dates are paths.
    let w = raw.join("api/weather/dt=2025-10-26/hour=02/weather_data.json");
    let text = String::from_utf8(read(&w)).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    if let Some(days) = v.pointer_mut("/days").and_then(Value::as_array_mut) {
        days[0]["datetime"] = Value::from("../../escape");
    }
    std::fs::write(&w, serde_json::to_vec(&v).unwrap()).unwrap();
    let dir_named = raw.join("api/traffic/dt=..%2F..%2Fescape/hour=08");
    std::fs::create_dir_all(&dir_named).unwrap();
    std::fs::write(
        dir_named.join("traffic_data.json"),
        br#"{"disruptions": [], "context": {"current_datetime": "../../escape"}}"#,
    )
    .unwrap();

    let out = dir.path().join("out");
    let o = process(&raw, &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "rejected rows make the run unclean"
    );
    let files = all_files(&out);
    for rel in files.keys() {
        assert!(is_output_name(rel), "unexpected output {rel:?}");
    }
    assert_eq!(names_in(dir.path()), vec!["out", "raw"], "nothing beside");
    assert!(!Path::new("/tmp/escape").exists());
    let q = json(out.join("quality/quality_report_run.json"));
    let rejected = q["totals"]["comptages"]["rows_rejected"].as_u64().unwrap();
    assert_eq!(
        rejected, 7,
        "every hostile comptages row is rejected, and counted"
    );
    eprintln!(
        "FIGURES paths/process: 9 hostile values, {} output files all named as process names them, {rejected} comptages rows rejected",
        files.len()
    );
}

fn s3_options() -> AwsOptions {
    AwsOptions {
        region: "us-east-1".into(),
        s3_endpoint: Some(env("CITYFLOW_TEST_S3_ENDPOINT")),
        path_style: true,
        s3_checksums: true,
        static_credentials: Some((env("CITYFLOW_TEST_S3_KEY"), env("CITYFLOW_TEST_S3_SECRET"))),
        ..AwsOptions::default()
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[test]
fn raw_pull_refuses_keys_that_would_leave_the_raw_folder() {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000_000;
    let bucket = format!("it-paths-{}-{nonce}", std::process::id());
    let s3 = rt().block_on(clients(&s3_options()));
    rt().block_on(async {
        s3.s3.create_bucket().bucket(&bucket).send().await.unwrap();
        for k in ["a.csv", "sub/b.json"] {
            s3.s3
                .put_object()
                .bucket(&bucket)
                .key(format!("cityflow-raw/raw/{k}"))
                .body(k.as_bytes().to_vec().into())
                .send()
                .await
                .unwrap();
        }
    });
    // The store cannot hold such keys, a hostile or broken one can list them: the proxy adds
    // them to every listing.
    let hostile = [
        "cityflow-raw/raw/../escape-1.json",
        "cityflow-raw/raw/sub/../../escape-2.json",
        "cityflow-raw/raw/sub/../../../escape-3.json",
        "cityflow-raw/raw//tmp/escape-4.json",
        "cityflow-raw/raw/./escape-5.json",
        "cityflow-raw/raw/..",
        "cityflow-raw/raw/sub/.cityflow-pull.json",
        "cityflow-raw/raw/sub/.x.csv.cityflow-part",
    ];
    let proxy = Proxy::start(
        &env("CITYFLOW_TEST_S3_ENDPOINT"),
        Service::S3,
        Faults::none(),
    );
    let extra: String = hostile
        .iter()
        .map(|k| {
            format!(
                "<Contents><Key>{}</Key><LastModified>2025-11-21T00:00:00.000Z</LastModified><ETag>\"d41d8cd98f00b204e9800998ecf8427e\"</ETag><Size>7</Size><StorageClass>STANDARD</StorageClass></Contents>",
                xml_escape(k)
            )
        })
        .collect();
    proxy.set_hook(Arc::new(move |target: &str, body: &[u8]| {
        if !target.contains("list-type=2") {
            return None;
        }
        assert!(!target.contains("encoding-type=url"), "keys are sent raw");
        let text = String::from_utf8_lossy(body);
        let at = text.rfind("</ListBucketResult>")?;
        Some(format!("{}{extra}{}", &text[..at], &text[at..]).into_bytes())
    }));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("r");
    let raw = root.join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    let mut c = Command::new(crate::support::bin("raw"));
    c.env_clear()
        .env("AWS_ACCESS_KEY_ID", env("CITYFLOW_TEST_S3_KEY"))
        .env("AWS_SECRET_ACCESS_KEY", env("CITYFLOW_TEST_S3_SECRET"))
        .env("AWS_REGION", "us-east-1")
        .args(["pull", "--raw", raw.to_str().unwrap(), "--bucket", &bucket])
        .args(["--s3-endpoint-url", &proxy.url(), "--json"]);
    let (o, v) = json_run(&mut c);
    assert_eq!(o.status.code(), Some(1), "{v:#}");
    let items = v["items"].as_array().unwrap();
    for k in hostile {
        let it = items
            .iter()
            .find(|i| i["key"] == k)
            .unwrap_or_else(|| panic!("{k} not listed: {v:#}"));
        assert_eq!(it["action"], "error", "{it}");
        assert!(it["error"].as_str().unwrap().contains(k), "{it}");
    }
    assert_eq!(v["transferred"], 2, "{v:#}");
    assert_eq!(read(raw.join("a.csv")), b"a.csv");
    assert_eq!(read(raw.join("sub/b.json")), b"sub/b.json");
    // Nothing anywhere else: the folders above the raw one hold only what was there.
    assert_eq!(names_in(dir.path()), vec!["r"]);
    assert_eq!(names_in(&root), vec!["raw"]);
    let mut got: Vec<String> = all_files(&raw)
        .into_keys()
        .filter(|k| !k.ends_with(".cityflow-pull.json"))
        .collect();
    got.sort();
    assert_eq!(got, vec!["a.csv", "sub/b.json"]);
    assert!(!Path::new("/tmp/escape-4.json").exists());
    crate::upload::delete_bucket(&s3, &bucket);
    eprintln!(
        "FIGURES paths/raw pull: {} hostile keys refused, 2 objects pulled, nothing outside",
        hostile.len()
    );
}

#[test]
fn upload_from_mongo_refuses_documents_with_hostile_keys() {
    let url = std::env::var("CITYFLOW_TEST_MONGODB_URL").expect("CITYFLOW_TEST_MONGODB_URL");
    let db = format!(
        "it_paths_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            % 1_000_000_000
    );
    let dir = tempfile::tempdir().unwrap();
    let o = process_env(
        &repo().join("sample/cityflow-raw/raw"),
        &dir.path().join("x"),
        &["--backend", "mongo"],
        &[("MONGODB_URL", &url), ("MONGODB_DATABASE", &db)],
    );
    assert_eq!(o.status.code(), Some(0));
    use mongodb::bson::doc;
    let client = mongodb::sync::Client::with_uri_str(&url).unwrap();
    let database = client.database(&db);
    let reports = database.collection::<mongodb::bson::Document>("reports");
    let metrics = database.collection::<mongodb::bson::Document>("metrics");
    for (id, date) in [
        ("../../daily_report_2025-10-26", "2025-10-26"),
        ("daily_report_2025-10-26/../../escape", "2025-10-26"),
        ("daily_report_2025-10-25", "2025-10-26"),
    ] {
        reports
            .insert_one(doc! {"report_id": id, "date": date, "report": {"x": 1}})
            .run()
            .unwrap();
    }
    for date in ["2025-10-26/../../escape", "2025-1-26"] {
        metrics
            .insert_one(doc! {"metric_type": "comptages", "date": date, "metrics": {"x": 1}})
            .run()
            .unwrap();
    }
    let ledger = dir.path().join("ledger");
    let mut c = Command::new(crate::support::bin("upload"));
    c.env_clear()
        .args(["--output", ledger.to_str().unwrap(), "--source", "mongo"])
        .args(["--mongodb-url", &url, "--mongodb-database", &db])
        .args(["--dry-run", "--json"]);
    let (o, v) = json_run(&mut c);
    assert_eq!(o.status.code(), Some(1), "{v:#}");
    let targets = v["targets"].as_array().unwrap();
    let errors: Vec<&Value> = targets.iter().filter(|t| t["action"] == "error").collect();
    assert_eq!(errors.len(), 5, "{errors:#?}");
    for t in targets.iter().filter(|t| t["action"] != "error") {
        let s = t.to_string();
        assert!(!s.contains("..") && !s.contains("escape"), "{s}");
    }
    assert!(targets.len() > 20);
    assert_eq!(
        names_in(&ledger),
        Vec::<String>::new(),
        "a dry-run writes nothing"
    );
}
