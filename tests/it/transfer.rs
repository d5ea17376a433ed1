//! `raw push` / `raw pull` against the real local S3 server (SeaweedFS, `scripts/servers.sh`).
//! Each test uses its own bucket.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use cityflow_cloud::aws::client::clients;
use cityflow_cloud::aws::options::AwsOptions;
use serde_json::Value;

use crate::support::*;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through scripts/test.sh, which starts the servers")
    })
}

/// A test's bucket, deleted with everything in it when the test ends (pass or fail): the shared
/// SeaweedFS gives every bucket holding data a volume of its own, out of a fixed number.
struct TestBucket(String);

impl std::ops::Deref for TestBucket {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TestBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Drop for TestBucket {
    fn drop(&mut self) {
        let c = rt().block_on(clients(&options()));
        crate::upload::delete_bucket(&c, &self.0);
    }
}

/// A unique bucket per test and run (the server may hold earlier runs' buckets).
fn bucket(test: &str) -> TestBucket {
    TestBucket(bucket_name(test))
}

fn bucket_name(test: &str) -> String {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000_000;
    let b = format!(
        "it-raw-{}-{}-{nonce}",
        test.replace('_', "-"),
        std::process::id()
    );
    b.chars().take(60).collect()
}

fn options() -> AwsOptions {
    AwsOptions {
        region: "us-east-1".into(),
        endpoint: None,
        dynamodb_endpoint: None,
        s3_endpoint: Some(env("CITYFLOW_TEST_S3_ENDPOINT")),
        path_style: true,
        s3_checksums: true,
        static_credentials: Some((env("CITYFLOW_TEST_S3_KEY"), env("CITYFLOW_TEST_S3_SECRET"))),
        ..AwsOptions::default()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `raw <args>` with only the test server's credentials and endpoint in the environment.
fn raw_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(crate::support::bin("raw"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", env("CITYFLOW_TEST_S3_KEY"))
        .env("AWS_SECRET_ACCESS_KEY", env("CITYFLOW_TEST_S3_SECRET"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_S3", env("CITYFLOW_TEST_S3_ENDPOINT"))
        .args(args);
    c
}

/// Small parts so that a ~12 MiB file is multipart.
const PARTS: [&str; 4] = ["--part-size", "5M", "--multipart-threshold", "5M"];

fn run(c: &mut Command) -> (Output, Value) {
    let o = c.arg("--json").output().expect("raw runs");
    assert_ne!(
        o.status.code(),
        Some(101),
        "raw panicked: {}",
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

fn push(dir: &Path, bucket: &str, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["push", dir.to_str().unwrap(), "--bucket", bucket];
    args.extend_from_slice(&PARTS);
    args.extend_from_slice(extra);
    run(&mut raw_cmd(&args))
}

fn pull(dir: &Path, bucket: &str, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["pull", "--raw", dir.to_str().unwrap(), "--bucket", bucket];
    args.extend_from_slice(&PARTS);
    args.extend_from_slice(extra);
    run(&mut raw_cmd(&args))
}

/// `raw pull` into `dir` as a person sees it (stdout, no --json).
fn pull_text(dir: &Path, bucket: &str, extra: &[&str]) -> String {
    let mut args = vec!["pull", "--raw", dir.to_str().unwrap(), "--bucket", bucket];
    args.extend_from_slice(extra);
    let o = raw_cmd(&args).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(o: &Output, s: &Value) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{s:#}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Deterministic pseudo-random bytes (incompressible, no two parts alike).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Files of a folder without our own working files (ledgers, part files).
fn tree_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    all_files(root)
        .into_iter()
        .filter(|(k, _)| {
            !k.split('/')
                .any(|c| c.starts_with(".cityflow-") || c.ends_with(".cityflow-part"))
        })
        .collect()
}

fn sample_tree() -> tempfile::TempDir {
    tree(&[
        (
            "api/bikes/dt=2025-11-04/hour=02/bikes_data.json",
            b"{\"n\": 1}\n".to_vec(),
        ),
        (
            "api/traffic/dt=2025-11-04/hour=02/traffic_data.json",
            b"[]\n".to_vec(),
        ),
        (
            "batch/comptages-routiers-permanents.csv",
            noise(12 * 1024 * 1024 + 12_345, 1),
        ),
        (
            "batch/chantiers à Paris/été 2025/référentiel ü 中文.csv",
            b"a;b\r\n1;2\r\n".to_vec(),
        ),
        ("batch/vide.csv", Vec::new()),
        ("batch/a b/c+d=e.json", b"{}".to_vec()),
    ])
}

fn head(bucket: &str, key: &str) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
    let c = rt().block_on(clients(&options()));
    rt().block_on(c.s3.head_object().bucket(bucket).key(key).send())
        .unwrap_or_else(|e| panic!("HEAD {key}: {e:?}"))
}

fn keys(bucket: &str) -> Vec<String> {
    let c = rt().block_on(clients(&options()));
    rt().block_on(async {
        let mut out = Vec::new();
        let mut pages =
            c.s3.list_objects_v2()
                .bucket(bucket)
                .into_paginator()
                .send();
        while let Some(p) = pages.next().await {
            let Ok(p) = p else { break };
            out.extend(
                p.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        out
    })
}

fn items<'a>(s: &'a Value, action: &str) -> Vec<&'a Value> {
    s["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["action"] == action)
        .collect()
}

#[test]
fn round_trip_is_byte_identical_and_a_second_run_moves_nothing() {
    let b = bucket("round_trip");
    let src = sample_tree();
    let local = tree_files(src.path());
    let (o, s) = push(src.path(), &b, &["--create-bucket"]);
    ok(&o, &s);
    assert_eq!(s["transferred"], 6);
    assert_eq!(s["bytes_transferred"], s["bytes_total"]);
    for i in items(&s, "new") {
        assert!(i["verified"].is_string(), "{i}");
    }
    // The multipart file carries its whole SHA-256 as metadata.
    let big = &local["batch/comptages-routiers-permanents.csv"];
    let h = head(
        &b,
        "cityflow-raw/raw/batch/comptages-routiers-permanents.csv",
    );
    assert_eq!(
        h.metadata().unwrap()["sha256"],
        cityflow::output::sha256_hex(big)
    );
    assert!(
        h.e_tag().unwrap().ends_with("-3\""),
        "3 parts of 5 MiB: {:?}",
        h.e_tag()
    );
    // The completion marker lists every file.
    let c = rt().block_on(clients(&options()));
    let (marker, _) = rt()
        .block_on(cityflow_cloud::aws::s3::get(
            &c.s3,
            &b,
            "cityflow-raw/raw/_cityflow_push.json",
        ))
        .unwrap()
        .expect("the completion marker");
    let marker: Value = serde_json::from_slice(&marker).unwrap();
    assert_eq!(marker["objects"], 6);
    assert_eq!(marker["files"].as_array().unwrap().len(), 6);

    let (o, s) = push(src.path(), &b, &[]);
    ok(&o, &s);
    assert_eq!(s["transferred"], 0, "a second push moves nothing");
    assert_eq!(s["unchanged"], 6);
    assert_eq!(s["bytes_transferred"], 0);
    assert!(s["marker"].as_str().unwrap().ends_with("(unchanged)"));

    let dst = tempfile::tempdir().unwrap();
    let raw = dst
        .path()
        .join("bucket-cityflow-paris-s3-raw/cityflow-raw/raw");
    let (o, s) = pull(&raw, &b, &[]);
    ok(&o, &s);
    assert_eq!(s["transferred"], 6, "the marker is not part of the tree");
    assert_eq!(tree_files(&raw), local, "byte-identical round trip");
    assert_eq!(
        items(&s, "new")
            .iter()
            .find(|i| i["path"] == "batch/comptages-routiers-permanents.csv")
            .unwrap()["verified"],
        "sha256"
    );
    let (o, s) = pull(&raw, &b, &[]);
    ok(&o, &s);
    assert_eq!(s["transferred"], 0, "a second pull moves nothing");
    assert_eq!(s["unchanged"], 6);
    assert_eq!(s["bytes_transferred"], 0);
}

#[test]
fn listings_over_1000_keys_are_paginated() {
    let b = bucket("paginate");
    let files: Vec<(String, Vec<u8>)> = (0..1105)
        .map(|i| {
            (
                format!("api/weather/{:02}/{i:05}.json", i % 7),
                format!("{{\"i\":{i}}}").into_bytes(),
            )
        })
        .collect();
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    let src = tree(&refs);
    let (o, s) = push(src.path(), &b, &["--create-bucket", "--concurrency", "16"]);
    ok(&o, &s);
    assert_eq!(s["transferred"], 1105);
    let (o, s) = push(src.path(), &b, &[]);
    ok(&o, &s);
    assert_eq!(s["unchanged"], 1105, "every key seen through the pages");
    let dst = tempfile::tempdir().unwrap();
    let (o, s) = pull(dst.path(), &b, &[]);
    ok(&o, &s);
    assert_eq!(s["transferred"], 1105);
    assert_eq!(tree_files(dst.path()), tree_files(src.path()));
}

#[test]
fn a_killed_push_resumes_its_multipart_upload_and_ends_verified() {
    let b = bucket("push_kill");
    let body = noise(40 * 1024 * 1024 + 777, 2);
    let src = tree(&[("batch/dump.csv", body.clone())]);
    let size = body.len() as u64;
    // A crash (abort, like kill -9) right after the 2nd confirmed part.
    let mut args = vec![
        "push",
        src.path().to_str().unwrap(),
        "--bucket",
        &b,
        "--create-bucket",
    ];
    args.extend_from_slice(&PARTS);
    let o = raw_cmd(&args)
        .env("CITYFLOW_TEST_CRASH_AFTER_PARTS", "2")
        .output()
        .unwrap();
    assert!(!o.status.success(), "the process aborted");
    let ledger = json(src.path().join(".cityflow-push.json"));
    let uploads = ledger["uploads"].as_object().unwrap();
    assert_eq!(uploads.len(), 1, "the upload id is recorded");
    let up = uploads.values().next().unwrap();
    assert_eq!(up["parts"].as_object().unwrap().len(), 2, "{up:#}");
    assert!(keys(&b).is_empty(), "nothing complete yet");
    // The bytes of the parts the crash confirmed (5 MiB each but the 777-byte tail, part 9,
    // which may finish first): the resumed push must not send them again.
    let part = 5u64 << 20;
    let crash_bytes: u64 = (up["parts"].as_object().unwrap().keys())
        .map(|n| n.parse::<u64>().unwrap())
        .map(|n| part.min(size - (n - 1) * part))
        .sum();
    // And a real kill -9 while parts are in flight (slowed down by the bandwidth limit).
    args.extend_from_slice(&["--bwlimit", "10M", "--concurrency", "2"]);
    let mut child = raw_cmd(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1800));
    let _ = child.kill();
    let _ = child.wait();
    let (o, s) = push(src.path(), &b, &[]);
    ok(&o, &s);
    assert_eq!(s["transferred"], 1);
    assert_eq!(s["resumed"], 1, "{s:#}");
    let sent = s["bytes_transferred"].as_u64().unwrap();
    let resumed = s["bytes_resumed"].as_u64().unwrap();
    assert!(
        resumed >= crash_bytes,
        "at least the two parts of the crash ({crash_bytes} bytes): {s:#}"
    );
    assert!(
        sent < size,
        "fewer bytes sent the second time: {sent} of {size}"
    );
    assert_eq!(sent + resumed, size);
    let item = &items(&s, "new")[0];
    assert_eq!(
        item["verified"], "crc32",
        "the composite checksum of the parts"
    );
    assert_eq!(item["reason"], "interrupted upload: resume");
    let ledger = json(src.path().join(".cityflow-push.json"));
    assert!(ledger["uploads"].as_object().unwrap().is_empty());
    let dst = tempfile::tempdir().unwrap();
    let (o, s) = pull(dst.path(), &b, &[]);
    ok(&o, &s);
    assert!(
        read(dst.path().join("batch/dump.csv")) == body,
        "the resumed object is the file"
    );
}

#[test]
fn a_killed_pull_resumes_with_range_requests() {
    let b = bucket("pull_kill");
    let body = noise(25 * 1024 * 1024, 3);
    let src = tree(&[("batch/big.csv", body.clone())]);
    let (o, s) = push(src.path(), &b, &["--create-bucket"]);
    ok(&o, &s);
    let dst = tempfile::tempdir().unwrap();
    let mut args = vec![
        "pull",
        "--raw",
        dst.path().to_str().unwrap(),
        "--bucket",
        &b,
    ];
    args.extend_from_slice(&PARTS);
    let o = raw_cmd(&args)
        .args(["--concurrency", "1"])
        .env("CITYFLOW_TEST_CRASH_AFTER_PARTS", "2")
        .output()
        .unwrap();
    assert!(!o.status.success(), "the process aborted");
    assert!(
        !dst.path().join("batch/big.csv").exists(),
        "no partial target"
    );
    let parts = part_files(&dst.path().join("batch"));
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert!(parts[0].starts_with(".big.csv.") && parts[0].ends_with(".cityflow-part"));
    // Its name is in the ledger, which is how the next run finds it again.
    let ledger = String::from_utf8(read(dst.path().join(".cityflow-pull.json"))).unwrap();
    assert!(ledger.contains(&parts[0]), "{ledger}");
    let (o, s) = pull(dst.path(), &b, &[]);
    ok(&o, &s);
    assert_eq!(s["resumed"], 1);
    assert_eq!(s["bytes_resumed"], 10 << 20);
    assert_eq!(s["bytes_transferred"], body.len() as u64 - (10 << 20));
    assert!(read(dst.path().join("batch/big.csv")) == body);
    assert!(part_files(&dst.path().join("batch")).is_empty());
    assert_eq!(items(&s, "new")[0]["verified"], "sha256");
}

/// Names of the part files in `dir`.
fn part_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cityflow-part"))
        .collect()
}

#[test]
fn a_pull_never_writes_through_planted_links_and_escapes_keys() {
    use std::os::unix::fs::symlink;
    let b = bucket("pull_links");
    // A key with a CSI (the 8-bit escape, U+009B), a DEL, a newline and a tab (ESC and BEL
    // cannot travel in the S3 listing's XML: the unit tests of `shown::name` cover them).
    let evil = "a\u{9b}31mred\x7fb\nc\td.json";
    let big = noise(11 * 1024 * 1024, 5);
    let src = tree(&[
        ("x.json", b"{}\n".to_vec()),
        ("y.json", b"[]\n".to_vec()),
        (evil, b"1\n".to_vec()),
        ("big.csv", big.clone()),
    ]);
    let (o, s) = push(src.path(), &b, &["--create-bucket"]);
    ok(&o, &s);
    let dst = tempfile::tempdir().unwrap();
    let raw = dst.path().join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    let outside = dst.path().join("outside.txt");
    std::fs::write(&outside, b"keep").unwrap();
    // Links at the part-file names older versions used, and a link at a target.
    for name in [".x.json.cityflow-part", ".big.csv.cityflow-part"] {
        symlink(&outside, raw.join(name)).unwrap();
    }
    symlink(&outside, raw.join("y.json")).unwrap();
    let o = raw_cmd(&["pull", "--raw", raw.to_str().unwrap(), "--bucket", &b])
        .args(PARTS)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(read(&outside), b"keep", "nothing written through a link");
    assert_eq!(read(raw.join("x.json")), b"{}\n");
    assert!(std::fs::symlink_metadata(raw.join("y.json"))
        .unwrap()
        .is_file());
    assert_eq!(read(raw.join("y.json")), b"[]\n");
    assert!(read(raw.join("big.csv")) == big);
    assert_eq!(read(raw.join(evil)), b"1\n");
    // The key is shown escaped on one line: no control character or line break from the data.
    assert!(!out.contains('\u{9b}') && !out.contains('\x7f'), "{out:?}");
    assert!(!out.contains('\t') && !err.contains('\u{9b}'), "{out:?}");
    assert!(out.contains("a\\u{9b}31mred\\x7fb\\nc\\td.json"), "{out}");
    // The legacy part names the ledger does not name are removed; no part file is left.
    assert!(part_files(&raw).is_empty(), "{:?}", part_files(&raw));
    assert_eq!(read(&outside), b"keep");
}

/// Changes one byte in place, keeping the size and the modification time.
fn corrupt(p: &Path) {
    let mtime = std::fs::metadata(p).unwrap().modified().unwrap();
    let mut b = read(p);
    b[0] ^= 0xff;
    std::fs::write(p, &b).unwrap();
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_modified(mtime).unwrap();
}

#[test]
fn corrupted_local_files_are_detected_by_content() {
    let b = bucket("corrupt");
    let src = sample_tree();
    let (o, s) = push(src.path(), &b, &["--create-bucket"]);
    ok(&o, &s);
    // Same size, same modification time, different bytes: changed.
    let p = src.path().join("batch/comptages-routiers-permanents.csv");
    corrupt(&p);
    let (o, s) = push(src.path(), &b, &["--dry-run"]);
    ok(&o, &s);
    assert_eq!(s["changed"], 1, "{s:#}");
    assert_eq!(
        items(&s, "changed")[0]["path"],
        "batch/comptages-routiers-permanents.csv"
    );
    assert_eq!(items(&s, "changed")[0]["reason"], "local file changed");
    let (o, s) = push(src.path(), &b, &[]);
    ok(&o, &s);
    assert_eq!(s["transferred"], 1);
    let h = head(
        &b,
        "cityflow-raw/raw/batch/comptages-routiers-permanents.csv",
    );
    assert_eq!(
        h.metadata().unwrap()["sha256"],
        cityflow::output::sha256_hex(&read(&p))
    );
    // The same on the pull side: a damaged local copy is fetched again.
    let dst = tempfile::tempdir().unwrap();
    let (o, _) = pull(dst.path(), &b, &[]);
    assert_eq!(o.status.code(), Some(0));
    let copy = dst
        .path()
        .join("batch/chantiers à Paris/été 2025/référentiel ü 中文.csv");
    corrupt(&copy);
    let (o, s) = pull(dst.path(), &b, &[]);
    ok(&o, &s);
    assert_eq!(s["transferred"], 1);
    assert_eq!(items(&s, "changed")[0]["reason"], "local copy differs");
    assert_eq!(tree_files(dst.path()), tree_files(src.path()));
}

#[test]
fn a_changed_remote_object_replaces_the_local_copy_atomically() {
    let b = bucket("remote_change");
    let src = sample_tree();
    let (o, s) = push(src.path(), &b, &["--create-bucket"]);
    ok(&o, &s);
    let dst = tempfile::tempdir().unwrap();
    let (o, _) = pull(dst.path(), &b, &[]);
    assert_eq!(o.status.code(), Some(0));
    let target = dst.path().join("batch/comptages-routiers-permanents.csv");
    let small = dst
        .path()
        .join("api/traffic/dt=2025-11-04/hour=02/traffic_data.json");
    // Someone pushes new versions (same sizes) from elsewhere.
    let new_big = noise(12 * 1024 * 1024 + 12_345, 9);
    let src2 = tree(&[
        ("batch/comptages-routiers-permanents.csv", new_big.clone()),
        (
            "api/traffic/dt=2025-11-04/hour=02/traffic_data.json",
            b"{}\n".to_vec(),
        ),
    ]);
    let (o, s) = push(src2.path(), &b, &["--no-marker"]);
    ok(&o, &s);
    // A reader that opened the old copy keeps reading it whole; the path then gives the new one.
    let reader = std::fs::File::open(&target).unwrap();
    let (o, s) = pull(dst.path(), &b, &["--dry-run"]);
    ok(&o, &s);
    assert_eq!(s["changed"], 2);
    assert!(items(&s, "changed")
        .iter()
        .all(|i| i["reason"] == "changed remotely"));
    let (o, s) = pull(dst.path(), &b, &[]);
    ok(&o, &s);
    assert_eq!(s["transferred"], 2);
    assert!(read(&target) == new_big);
    assert_eq!(read(&small), b"{}\n");
    let mut old = Vec::new();
    std::io::Read::read_to_end(&mut &reader, &mut old).unwrap();
    assert!(
        old == read(src.path().join("batch/comptages-routiers-permanents.csv")),
        "renamed over, never rewritten in place"
    );
    let leftovers: Vec<String> = all_files(dst.path())
        .into_keys()
        .filter(|k| k.ends_with(".cityflow-part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn dry_runs_write_nothing() {
    let b = bucket("dry_run");
    let src = sample_tree();
    // --create-bucket with --dry-run is a usage error (issue 17); a dry run against a missing
    // bucket exits 2, its local files listed.
    let (o, s) = push(src.path(), &b, &["--dry-run"]);
    assert_eq!(o.status.code(), Some(2), "{s:#}");
    assert_eq!(s["objects"], 6, "{s:#}");
    let (o, _) = push(&src.path().join("api"), &b, &["--create-bucket"]);
    assert_eq!(o.status.code(), Some(0));
    let before = keys(&b);
    let (o, s) = push(src.path(), &b, &["--dry-run"]);
    ok(&o, &s);
    assert_eq!(s["new"], 6, "the api files went under other keys: {s:#}");
    assert_eq!(s["bytes_planned"], s["bytes_total"]);
    assert_eq!(s["transferred"], 0);
    assert_eq!(keys(&b), before, "nothing written remotely");
    assert!(
        !src.path().join(".cityflow-push.json").exists(),
        "no ledger"
    );
    let dst = tempfile::tempdir().unwrap();
    let raw = dst.path().join("raw");
    let (o, s) = pull(&raw, &b, &["--prefix", "cityflow-raw/raw/"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(s["transferred"], 2);
    let state = all_files(dst.path());
    let (o, s) = pull(&dst.path().join("elsewhere"), &b, &["--dry-run"]);
    ok(&o, &s);
    assert_eq!(s["new"], 2);
    assert!(
        !dst.path().join("elsewhere").exists(),
        "the folder is not even created"
    );
    let text = pull_text(&raw, &b, &["--dry-run"]);
    assert!(text.contains("= cityflow-raw/raw/bikes/"), "{text}");
    assert!(text.contains("(dry run)"), "{text}");
    assert_eq!(all_files(dst.path()), state, "nothing written locally");
}

#[test]
fn configuration_and_endpoint_errors_have_their_exit_codes() {
    let b = bucket("errors");
    let src = sample_tree();
    let dst = tempfile::tempdir().unwrap();
    let d = dst.path().to_str().unwrap();
    // Missing bucket: 2, named.
    let o = raw_cmd(&["pull", "--raw", d, "--bucket", &b])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&*b));
    // Usage errors: 2.
    for args in [
        vec!["push", "/nonexistent/cityflow"],
        vec!["push", src.path().to_str().unwrap(), "--part-size", "1M"],
        vec!["push", src.path().to_str().unwrap(), "--zone", "gold"],
        vec!["pull", "--raw", d, "--concurrency", "0"],
    ] {
        let o = raw_cmd(&args).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Credentials refused: 3.
    let o = raw_cmd(&[
        "push",
        src.path().to_str().unwrap(),
        "--bucket",
        &b,
        "--create-bucket",
    ])
    .env("AWS_SECRET_ACCESS_KEY", "wrong")
    .output()
    .unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Nothing listening: 3, "unreachable".
    let o = raw_cmd(&["pull", "--raw", d, "--bucket", &b])
        .env("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unreachable"));
    // A corrupt ledger is a configuration error, never silently reset.
    std::fs::write(dst.path().join(".cityflow-pull.json"), b"{").unwrap();
    let o = raw_cmd(&["pull", "--raw", d, "--bucket", &b])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("corrupt"));
}

#[test]
fn content_md5_mode_and_the_bandwidth_limit() {
    let b = bucket("md5_bwlimit");
    let src = tree(&[
        ("a.bin", noise(1 << 20, 4)),
        ("b.bin", noise(1 << 20, 5)),
        ("c.bin", noise(1 << 20, 6)),
        ("big.bin", noise(11 << 20, 7)),
    ]);
    // Stores that reject the SDK's checksums: Content-MD5 on every request, checked through the
    // ETags (single-part MD5, multipart MD5 of the part MD5s).
    let t0 = std::time::Instant::now();
    let (o, s) = push(
        src.path(),
        &b,
        &[
            "--create-bucket",
            "--s3-checksums",
            "off",
            "--bwlimit",
            "4M",
        ],
    );
    ok(&o, &s);
    // 14 MiB at 4 MiB/s: the last slot starts after at least (14 - 5) / 4 = 2.25 s.
    assert!(
        t0.elapsed() >= std::time::Duration::from_millis(2250),
        "{:?}",
        t0.elapsed()
    );
    for i in items(&s, "new") {
        assert_eq!(i["verified"], "md5", "{i}");
    }
    let dst = tempfile::tempdir().unwrap();
    let (o, s) = pull(dst.path(), &b, &["--s3-checksums", "off"]);
    ok(&o, &s);
    assert!(items(&s, "new").iter().all(|i| i["verified"] == "sha256"));
    assert_eq!(tree_files(dst.path()), tree_files(src.path()));
}

/// A tree with dated partitions of bikes, comptages and Vélib' (both kinds), batch files and
/// keys no layout takes: (path, in the pull of 2025-10-19..2025-10-27).
const DATED: &[(&str, bool)] = &[
    ("api/bikes/dt=2025-10-18/hour=02/bikes_data.json", false),
    ("api/bikes/dt=2025-10-19/hour=02/bikes_data.json", true),
    ("api/bikes/dt=2025-10-27/hour=23/bikes_data.json", true),
    ("api/bikes/dt=2025-10-28/hour=00/bikes_data.json", false),
    // Every road-counter file (descriptions and the référentiel come from the whole tree).
    (
        "api/comptages/dt=2025-10-01/hour=08/comptages-snapshot.json",
        true,
    ),
    (
        "api/comptages/dt=2025-11-30/hour=08/comptages-snapshot.json",
        true,
    ),
    // Every station_information; station_status of the days read only (both layouts).
    ("api/velib/dt=2025-10-10/station_information.json", true),
    ("api/velib/dt=2025-10-10/station_status.json", false),
    ("api/velib/2025-10-20/station_status.json", true),
    ("api/velib/2025-10-29/station_information.json", true),
    ("api/velib/2025-10-29/station_status.json", false),
    ("api/weather/weather_data.json", true),
    ("batch/comptages-routiers-permanents.csv", true),
    ("batch/comptage-velo-donnees-compteurs.csv", true),
    ("batch/notes.txt", true),
    ("api/parking/dt=2025-10-01/parking.json", true),
];

#[test]
fn a_pull_with_dates_takes_only_what_a_shard_reads() {
    let b = bucket("dated");
    let files: Vec<(&str, Vec<u8>)> = DATED
        .iter()
        .map(|(p, _)| (*p, format!("{{\"file\": \"{p}\"}}\n").into_bytes()))
        .collect();
    let src = tree(&files);
    let (o, s) = push(src.path(), &b, &["--create-bucket"]);
    ok(&o, &s);
    let days = ["--from", "2025-10-19", "--to", "2025-10-27"];
    let mut wanted: Vec<&str> = DATED.iter().filter(|(_, w)| *w).map(|(p, _)| *p).collect();
    wanted.sort();
    let dst = tempfile::tempdir().unwrap();
    let raw = dst.path().join("raw");

    let (o, s) = pull(&raw, &b, &[&days[..], &["--dry-run"]].concat());
    ok(&o, &s);
    let planned: Vec<&str> = s["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(planned, wanted, "the filtered plan, in key order");
    // 16 files + the push marker listed; 4 dated partitions left out (bikes of 10-18 and 10-28,
    // station_status of 10-10 and 10-29).
    assert_eq!(s["date_filter"]["left_out"], 4, "{s:#}");
    assert_eq!(s["date_filter"]["from"], "2025-10-19");
    assert!(!raw.exists(), "a dry run writes nothing");
    let text = pull_text(&raw, &b, &[&days[..], &["--dry-run"]].concat());
    assert!(
        text.contains("date filter 2025-10-19..2025-10-27: 4 object(s) left out"),
        "{text}"
    );

    let (o, s) = pull(&raw, &b, &days);
    ok(&o, &s);
    assert_eq!(s["transferred"], wanted.len());
    let got = tree_files(&raw);
    assert_eq!(got.keys().map(String::as_str).collect::<Vec<_>>(), wanted);
    // The ledger keeps working: the whole tree now brings exactly the 4 left out ...
    let (o, s) = pull(&raw, &b, &[]);
    ok(&o, &s);
    assert_eq!(
        (s["transferred"].as_u64(), s["unchanged"].as_u64()),
        (Some(4), Some(12))
    );
    assert_eq!(tree_files(&raw), tree_files(src.path()));
    // ... and a dated pull after it moves nothing and deletes nothing outside its days.
    let (o, s) = pull(&raw, &b, &days);
    ok(&o, &s);
    assert_eq!(
        (s["transferred"].as_u64(), s["unchanged"].as_u64()),
        (Some(0), Some(12))
    );
    assert_eq!(tree_files(&raw), tree_files(src.path()));
    // Bad ranges are usage errors.
    let r = raw.to_str().unwrap();
    let args = [
        "pull",
        "--raw",
        r,
        "--bucket",
        &b,
        "--from",
        "2025-10-28",
        "--to",
        "2025-10-27",
    ];
    let o = raw_cmd(&args).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--from 2025-10-28 is after --to"));
}
