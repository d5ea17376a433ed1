//! Credentials and connection strings never appear in logs, errors, reports, ledgers or help:
//! canary secrets (AWS access key id, secret key, session token, a MongoDB URL with a password
//! and a session token in its options) are set in the environment and in a `.env` file, then
//! `process`, `upload` and `raw pull` / `raw push` run through their normal, failing
//! (unreachable, refused) and dry-run paths; stdout, stderr and every file they leave are
//! searched for the canaries.

use std::path::Path;
use std::process::{Command, Output};

use crate::proxy::{Proxy, Service};
use crate::support::*;
use crate::upload::{env, Dest};

const KEY_ID: &str = "AKIACANARYKEY0000042";
const SECRET: &str = "canarySecretAccessKey0000000000000000042";
const TOKEN: &str = "canarySessionToken0000000000000000000042";
const MONGO_PW: &str = "canaryMongoPassword0042";
const CANARIES: [&str; 4] = [KEY_ID, SECRET, TOKEN, MONGO_PW];
const DEAD: &str = "http://127.0.0.1:9";

fn mongo_url(host: &str) -> String {
    format!(
        "mongodb://canaryuser:{MONGO_PW}@{host}/?directConnection=true&authMechanismProperties=AWS_SESSION_TOKEN:{TOKEN}"
    )
}

fn leaks(bytes: &[u8]) -> Vec<&'static str> {
    CANARIES
        .into_iter()
        .filter(|c| bytes.windows(c.len()).any(|w| w == c.as_bytes()))
        .collect()
}

/// Runs `bin` in `cwd` (which holds a `.env` with the session token) with the canaries in the
/// environment, checks its exit code and that neither stdout nor stderr holds a canary.
struct Runner<'a> {
    cwd: &'a Path,
    runs: usize,
}

impl Runner<'_> {
    fn cmd(&self, bin: &str, args: &[&str]) -> Command {
        let mut c = Command::new(bin);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.cwd)
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", "us-east-1")
            .env("MONGODB_URL", mongo_url("127.0.0.1:9"))
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .current_dir(self.cwd)
            .args(args);
        c
    }

    fn check(&mut self, what: &str, mut c: Command, codes: &[i32]) -> Output {
        let o = c.output().unwrap();
        self.runs += 1;
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert!(
            o.status.code().is_some_and(|c| codes.contains(&c)),
            "{what}: exit {:?}\n{out}\n{err}",
            o.status.code()
        );
        for (name, b) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            let l = leaks(b);
            assert!(l.is_empty(), "{what}: {name} shows {l:?}:\n{out}\n{err}");
        }
        o
    }
}

#[test]
fn canary_secrets_never_appear_in_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The session token comes from a .env file in the working directory.
    std::fs::write(root.join(".env"), format!("AWS_SESSION_TOKEN={TOKEN}\n")).unwrap();
    let mut r = Runner { cwd: root, runs: 0 };
    let bins = ["process", "upload", "raw"].map(crate::support::bin);
    let [process, upload, raw] = bins.each_ref().map(|p| p.to_str().unwrap());
    let sample = repo().join("sample/cityflow-raw/raw");
    let sample = sample.to_str().unwrap();

    for (bin, args) in [
        (process, vec!["--help"]),
        (upload, vec!["--help"]),
        (raw, vec!["pull", "--help"]),
        (raw, vec!["push", "--help"]),
    ] {
        r.check(&format!("{bin} {args:?}"), r.cmd(bin, &args), &[0]);
    }
    // process: MongoDB selected but unreachable (the URL is in the warning, masked), most
    // verbose; a malformed URL (the driver's parse error is shown, never the URL's secrets);
    // a normal run to files.
    let malformed = mongo_url("127.0.0.1:notaport");
    for (what, backend, extra, url, code) in [
        ("process, MongoDB unreachable", "mongo", "-vv", None, 3),
        (
            "process, malformed MongoDB URL",
            "mongo",
            "-v",
            Some(&malformed),
            3,
        ),
        ("process to files", "files", "--json", None, 0),
    ] {
        let args = [
            "--raw",
            sample,
            "--output",
            "out",
            "--backend",
            backend,
            extra,
        ];
        let mut c = r.cmd(process, &args);
        if let Some(u) = url {
            c.env("MONGODB_URL", u);
        }
        r.check(what, c, &[code]);
    }

    // upload: dry-run, dead endpoint, refused credentials, MongoDB source unreachable.
    r.check(
        "upload --dry-run",
        r.cmd(upload, &["--output", "out", "--dry-run", "--json"]),
        &[0],
    );
    r.check(
        "upload to a dead endpoint",
        r.cmd(upload, &["--output", "out", "--endpoint-url", DEAD]),
        &[3],
    );
    let d = Dest::new("secrets");
    let dest_env = |c: &mut Command, dynamodb: &str, s3: &str| {
        c.env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb)
            .env("AWS_ENDPOINT_URL_S3", s3)
            .env("DYNAMODB_METRICS_TABLE", d.metrics())
            .env("DYNAMODB_REPORTS_TABLE", d.reports())
            .env("S3_REPORTS_BUCKET", d.bucket());
    };
    // DynamoDB (dynoxide) takes any credentials, S3 (SeaweedFS) refuses the canaries.
    for (what, args) in [
        (
            "upload --init with refused S3 credentials",
            vec!["--output", "out", "--init", "--create-bucket", "--json"],
        ),
        (
            "upload of reports with refused S3 credentials",
            vec!["--output", "out", "--type", "reports"],
        ),
    ] {
        let mut c = r.cmd(upload, &args);
        dest_env(
            &mut c,
            &env("CITYFLOW_TEST_DYNAMODB_ENDPOINT"),
            &env("CITYFLOW_TEST_S3_ENDPOINT"),
        );
        r.check(what, c, &[3]);
    }
    // A successful upload with retries (30 % faults): the ledger and the summary are written.
    let proxy = Proxy::start(
        &env("CITYFLOW_TEST_DYNAMODB_ENDPOINT"),
        Service::DynamoDb,
        crate::faults::faulty(0.3, crate::faults::seed()),
    );
    let mut c = r.cmd(
        upload,
        &["--output", "out", "--type", "metrics", "--batch-size", "3"],
    );
    dest_env(&mut c, &proxy.url(), DEAD);
    r.check("upload of metrics through faults", c, &[0]);
    assert!(root.join("out/.upload-ledger.json").is_file());
    assert!(proxy.stats().injected() > 0);
    r.check(
        "upload --source mongo, unreachable",
        r.cmd(
            upload,
            &["--output", "ledger", "--source", "mongo", "--json"],
        ),
        &[3],
    );

    // raw pull / push: dead endpoint, refused credentials, dry-run.
    std::fs::create_dir_all(root.join("raw")).unwrap();
    let s3 = env("CITYFLOW_TEST_S3_ENDPOINT");
    let pull = ["pull", "--raw", "raw", "--bucket", "b", "--s3-endpoint-url"];
    let push = ["push", "out", "--bucket", "b", "--s3-endpoint-url"];
    for (what, args) in [
        ("raw pull, dead", [&pull[..], &[DEAD]].concat()),
        ("raw pull, refused", [&pull[..], &[&s3]].concat()),
        (
            "raw pull --dry-run, refused",
            [&pull[..], &[&s3, "--dry-run", "--json"]].concat(),
        ),
        ("raw push, dead", [&push[..], &[DEAD]].concat()),
        ("raw push, refused", [&push[..], &[&s3, "--json"]].concat()),
    ] {
        r.check(what, r.cmd(raw, &args), &[3]);
    }

    // Every file left behind: outputs, quality reports, ledgers.
    let mut files = 0;
    for (rel, bytes) in all_files(root) {
        if rel == ".env" {
            continue;
        }
        files += 1;
        let l = leaks(&bytes);
        assert!(l.is_empty(), "{rel} holds {l:?}");
    }
    assert!(root.join("out/quality/quality_report_run.json").is_file());
    assert!(files >= 30, "{files}");
    eprintln!(
        "FIGURES secrets: {} canaries, {} runs (stdout + stderr searched), {files} files searched, 0 leaks",
        CANARIES.len(),
        r.runs
    );
}
