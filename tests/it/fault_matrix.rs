//! The fault matrix of the cloud tools (`upload`, `raw pull`, `raw push`, `stations` backup to S3
//! and its MongoDB client): each tool against an endpoint that is silent (accepts, never
//! answers), slow (answers after the read timeout), cut mid-body, refused, and against the real
//! servers with wrong and with no credentials; then SIGTERM mid-run and closed stdout + stderr.
//! Each case asserts the exit code, that stderr names the endpoint, and the time bound (short
//! timeouts through the flags: the whole matrix runs in parallel, in a few seconds); the
//! interrupted and failed runs are re-run against the real servers, which must converge with
//! nothing lost or duplicated. `FIGURES` lines give RELIABILITY.md its numbers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::proxy::{Fault, Faults, Proxy, Service};
use crate::remote::*;
use crate::upload::{env, Dest};

/// Connect 1 s, read 1 s, operation 3 s: a dead endpoint fails in about 2 s.
const TIMEOUTS: [&str; 6] = [
    "--connect-timeout",
    "1",
    "--read-timeout",
    "1",
    "--operation-timeout",
    "3",
];
/// The bound every endpoint case must fail within (MongoDB: its 3 s server selection).
const BOUND: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// Accepts connections, never answers.
    Silent,
    /// Reads the request, answers after 3 s (past the 1 s read timeout).
    Slow,
    /// Answers a header and part of the body, then closes.
    CutMidBody,
    /// Nothing listens.
    Refused,
}

const ENDPOINTS: [Endpoint; 4] = [
    Endpoint::Silent,
    Endpoint::Slow,
    Endpoint::CutMidBody,
    Endpoint::Refused,
];

/// A local server behaving as `kind`; returns its `127.0.0.1:port` (the threads live as long as
/// the test binary).
fn fake(kind: Endpoint) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    if kind == Endpoint::Refused {
        return addr;
    }
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || serve(kind, c));
        }
    });
    addr
}

fn serve(kind: Endpoint, mut c: TcpStream) {
    if kind == Endpoint::Silent {
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    // The request head (the body, if any, is left unread).
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && c.read(&mut b).is_ok_and(|n| n == 1) {
        head.push(b[0]);
    }
    if kind == Endpoint::Slow {
        std::thread::sleep(Duration::from_secs(3));
        let _ = c.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    let _ = c.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: \
          100000\r\n\r\n{\"Table\":{\"TableName\":",
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Upload,
    RawPull,
    RawPush,
    /// `stations backup`: MongoDB real, S3 the endpoint under test.
    StationsS3,
    /// `stations verify`: MongoDB the endpoint under test.
    StationsMongo,
}

const TOOLS: [Tool; 5] = [
    Tool::Upload,
    Tool::RawPull,
    Tool::RawPush,
    Tool::StationsS3,
    Tool::StationsMongo,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Creds {
    Good,
    Wrong,
    None,
}

/// What every case shares: the destination, the outputs to upload, a folder to push.
struct World {
    dir: tempfile::TempDir,
    out: PathBuf,
    push: PathBuf,
    d: Dest,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("output");
        generated_output(dir.path(), &out, 4, 3, 11);
        let push = dir.path().join("push");
        std::fs::create_dir_all(&push).unwrap();
        for i in 0..3u8 {
            std::fs::write(push.join(format!("f{i}.csv")), vec![b'a' + i; 6 << 20]).unwrap();
        }
        let d = Dest::new("matrix");
        init(&d);
        World { dir, out, push, d }
    }

    /// `tool` against `endpoint` (`host:port`; `None`: the real servers) with `creds`.
    fn command(&self, tool: Tool, endpoint: Option<&str>, creds: Creds) -> Command {
        self.command_out(tool, endpoint, creds, &self.out)
    }

    /// [`World::command`], `upload` reading (and keeping its ledger in) `out`.
    fn command_out(&self, tool: Tool, endpoint: Option<&str>, creds: Creds, out: &Path) -> Command {
        let tool_bin = match tool {
            Tool::Upload => "upload",
            Tool::RawPull | Tool::RawPush => "raw",
            Tool::StationsS3 | Tool::StationsMongo => "stations",
        };
        let mut c = Command::new(crate::support::bin(tool_bin));
        let home = self.dir.path().join("home");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("AWS_REGION", "us-east-1")
            .env("SOURCE_DATE_EPOCH", crate::support::EPOCH)
            .current_dir(self.dir.path());
        match creds {
            Creds::Good => c
                .env("AWS_ACCESS_KEY_ID", env("CITYFLOW_TEST_S3_KEY"))
                .env("AWS_SECRET_ACCESS_KEY", env("CITYFLOW_TEST_S3_SECRET")),
            Creds::Wrong => c
                .env("AWS_ACCESS_KEY_ID", "wrong-key")
                .env("AWS_SECRET_ACCESS_KEY", "wrong-secret"),
            Creds::None => &mut c,
        };
        let url = |real: &str| endpoint.map_or_else(|| env(real), |e| format!("http://{e}"));
        let (s3, dynamodb) = (
            url("CITYFLOW_TEST_S3_ENDPOINT"),
            url("CITYFLOW_TEST_DYNAMODB_ENDPOINT"),
        );
        let mongo = match (tool, endpoint) {
            (Tool::StationsMongo, Some(e)) => format!("mongodb://{e}/?directConnection=true"),
            _ => env("CITYFLOW_TEST_MONGODB_URL"),
        };
        c.env("AWS_ENDPOINT_URL_S3", &s3)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &dynamodb)
            .env("MONGODB_URL", mongo)
            .env("MONGODB_DATABASE", "it_fault_matrix")
            .env("DYNAMODB_METRICS_TABLE", self.d.metrics())
            .env("DYNAMODB_REPORTS_TABLE", self.d.reports())
            .env("S3_REPORTS_BUCKET", self.d.bucket())
            .env("S3_RAW_BUCKET", self.d.bucket())
            .env("S3_BACKUP_BUCKET", self.d.bucket());
        let pulled = self.dir.path().join("pulled");
        match tool {
            Tool::Upload => c.arg("--output").arg(out),
            Tool::RawPull => c.args(["pull", "--raw"]).arg(pulled),
            Tool::RawPush => c.arg("push").arg(&self.push),
            Tool::StationsS3 => c.arg("backup"),
            Tool::StationsMongo => c.arg("verify"),
        };
        c
    }
}

/// Runs a command; its output and how long it took. A panic (101) or death by a signal fails.
fn timed(mut c: Command) -> (Output, Duration) {
    let t0 = Instant::now();
    let o = c.output().unwrap();
    let took = t0.elapsed();
    assert!(
        o.status.code().is_some_and(|c| c != 101),
        "{:?}: {}",
        o.status,
        stderr(&o)
    );
    (o, took)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One row of the matrix: the tool, what it faces, what must happen.
struct Case {
    tool: Tool,
    endpoint: Option<Endpoint>,
    creds: Creds,
    exit: i32,
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for tool in TOOLS {
        for e in ENDPOINTS {
            v.push(Case {
                tool,
                endpoint: Some(e),
                creds: Creds::Good,
                exit: 3,
            });
        }
        if tool != Tool::StationsMongo {
            for creds in [Creds::Wrong, Creds::None] {
                v.push(Case {
                    tool,
                    endpoint: None,
                    creds,
                    exit: 3,
                });
            }
        }
    }
    v
}

#[test]
fn every_tool_fails_fast_with_exit_3_naming_the_endpoint_then_converges() {
    let w = World::new();
    type Row = (String, Output, Duration, Vec<String>, PathBuf);
    let results: Vec<Row> = std::thread::scope(|s| {
        let handles: Vec<_> = cases()
            .into_iter()
            .map(|case| {
                let w = &w;
                s.spawn(move || {
                    let addr = case.endpoint.map(fake);
                    let shown = match (&addr, case.tool) {
                        (Some(a), Tool::StationsMongo) => vec![a.clone()],
                        (Some(a), _) => vec![format!("http://{a}")],
                        (None, _) => vec![
                            env("CITYFLOW_TEST_S3_ENDPOINT"),
                            env("CITYFLOW_TEST_DYNAMODB_ENDPOINT"),
                        ],
                    };
                    // Each upload keeps its own ledger (they run at the same time).
                    let out = w.dir.path().join(format!("out-{}", rand_id()));
                    copy_tree(&w.out, &out);
                    let mut c = w.command_out(case.tool, addr.as_deref(), case.creds, &out);
                    if case.tool != Tool::StationsMongo {
                        c.args(TIMEOUTS);
                    }
                    let (o, took) = timed(c);
                    let name = format!("{:?} {:?} {:?}", case.tool, case.endpoint, case.creds);
                    assert_eq!(o.status.code(), Some(case.exit), "{name}: {}", stderr(&o));
                    (name, o, took, shown, out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (name, o, took, shown, out) in &results {
        let err = stderr(o);
        eprintln!(
            "FIGURES matrix {name}: exit {:?} in {:.2} s",
            o.status.code(),
            took.as_secs_f64()
        );
        assert!(*took < BOUND, "{name}: {took:?}\n{err}");
        let named = shown.iter().any(|u| err.contains(u.as_str()));
        assert!(named, "{name}: {shown:?} not named\n{err}");
        assert!(!err.contains("wrong-secret"), "{name}: {err}");
        // One clear line, not the SDK's provider dumps.
        assert!(!err.contains("provider failed"), "{name}: {err}");
        // A failed upload recorded its targets as failed (for --retry-failed), nothing as
        // written.
        if name.starts_with("Upload") {
            let (written, failed) = ledger(out);
            assert!(
                written.is_empty() && !failed.is_empty(),
                "{name}: {failed:?}"
            );
        }
    }
    // Against the real servers, the same tools converge.
    let (o, _) = timed(w.command(Tool::Upload, None, Creds::Good));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_upload_complete(&w);
    let (o, _) = timed(w.command(Tool::RawPush, None, Creds::Good));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (o, _) = timed(w.command(Tool::RawPull, None, Creds::Good));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Every target stored once, equal to the local file, and the ledger agrees.
fn assert_upload_complete(w: &World) {
    let id = dest_id(
        &env("CITYFLOW_TEST_DYNAMODB_ENDPOINT"),
        &env("CITYFLOW_TEST_S3_ENDPOINT"),
    );
    let t = targets(&w.out, &destination(&w.d, &id));
    let r = remote(&w.d, std::slice::from_ref(&t)).unwrap();
    assert_eq!(r.state.len(), t.len(), "every target is stored");
    assert_eq!(r.orphans, 0);
    let confirmed = assert_ledger_consistent(&w.out, std::slice::from_ref(&t), &r.state);
    assert_eq!(confirmed, t.len());
}

#[test]
fn a_dry_run_push_lists_local_files_when_the_remote_is_down() {
    let w = World::new();
    let addr = fake(Endpoint::Refused);
    let mut c = w.command(Tool::RawPush, Some(&addr), Creds::Good);
    c.args(["--dry-run", "--json"]).args(TIMEOUTS);
    let (o, took) = timed(c);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["objects"], 3, "{v:#}");
    assert_eq!(v["bytes_total"], 3 * (6u64 << 20));
    assert_eq!(v["items"][0]["reason"], "remote state unknown");
    assert!(
        stderr(&o).contains("remote state unknown"),
        "{}",
        stderr(&o)
    );
    assert!(took < BOUND);
    // And upload's dry-run needs no credentials and no network at all.
    let mut c = w.command(Tool::Upload, Some(&addr), Creds::None);
    c.arg("--dry-run");
    let (o, _) = timed(c);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Waits until `cond` holds (polling), at most `limit`.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// SIGTERM to `child`; its exit code and how long it took to stop.
fn terminate(child: &mut Child) -> (Option<i32>, Duration) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let t0 = Instant::now();
    let status = child.wait().unwrap();
    (status.code(), t0.elapsed())
}

#[test]
fn sigterm_mid_run_saves_the_ledger_exits_143_and_a_rerun_converges() {
    let w = World::new();
    // upload, slowed by 300 ms per DynamoDB request (batches of one, one at a time).
    let slow = Faults {
        share: 1.0,
        kinds: vec![Fault::Latency],
        latency_ms: (300, 300),
        ..Faults::none()
    };
    let proxy = Proxy::start(
        &env("CITYFLOW_TEST_DYNAMODB_ENDPOINT"),
        Service::DynamoDb,
        slow,
    );
    let mut c = w.command(Tool::Upload, None, Creds::Good);
    c.env("AWS_ENDPOINT_URL_DYNAMODB", proxy.url())
        .args([
            "--batch-size",
            "1",
            "--concurrency",
            "1",
            "--type",
            "metrics",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let started = wait_for(Duration::from_secs(20), || ledger(&w.out).0.len() >= 3);
    assert!(started, "no target confirmed");
    let (code, took) = terminate(&mut child);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    eprintln!(
        "FIGURES sigterm upload: exit {code:?}, stopped in {:.2} s",
        took.as_secs_f64()
    );
    assert_eq!(code, Some(143), "{err}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    assert!(took < Duration::from_secs(7), "{took:?}");
    let (written, failed) = ledger(&w.out);
    assert!(
        !written.is_empty() && !failed.is_empty(),
        "{written:?} {failed:?}"
    );
    // The re-run through the same (now fast) proxy converges.
    proxy.set_faults(Faults::none());
    let mut c = w.command(Tool::Upload, None, Creds::Good);
    c.env("AWS_ENDPOINT_URL_DYNAMODB", proxy.url())
        .args(["--type", "metrics", "--json"]);
    let (o, _) = timed(c);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["written"].as_u64(), Some(failed.len() as u64), "{v:#}");
    let (written2, failed2) = ledger(&w.out);
    assert!(failed2.is_empty());
    assert_eq!(written2.len(), written.len() + failed.len());

    // raw push at 4 MiB/s (three 6 MiB files, multipart in 5 MiB parts), then raw pull.
    let push_pull = |tool: Tool| {
        let mut c = w.command(tool, None, Creds::Good);
        c.args([
            "--bwlimit",
            "4M",
            "--part-size",
            "5M",
            "--multipart-threshold",
            "5M",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(2000));
        let (code, took) = terminate(&mut child);
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        eprintln!(
            "FIGURES sigterm {tool:?}: exit {code:?}, stopped in {:.2} s",
            took.as_secs_f64()
        );
        assert_eq!(code, Some(143), "{tool:?}: {err}");
        assert!(err.contains("interrupted by SIGTERM"), "{err}");
        assert!(took < Duration::from_secs(7), "{took:?}");
        let (o, _) = timed(w.command(tool, None, Creds::Good));
        assert_eq!(o.status.code(), Some(0), "{tool:?} re-run: {}", stderr(&o));
    };
    push_pull(Tool::RawPush);
    push_pull(Tool::RawPull);
    // Nothing lost or duplicated: the pulled folder is the pushed one, byte for byte.
    let pushed = crate::support::all_files(&w.push);
    let pulled = crate::support::all_files(&w.dir.path().join("pulled"));
    let data = |m: std::collections::BTreeMap<String, Vec<u8>>| {
        m.into_iter()
            .filter(|(k, _)| !k.starts_with(".cityflow"))
            .collect::<Vec<_>>()
    };
    assert_eq!(data(pushed), data(pulled));
}

#[test]
fn closed_stdout_and_stderr_do_not_change_the_run() {
    let w = World::new();
    for tool in [Tool::Upload, Tool::RawPush] {
        let mut c = w.command(tool, None, Creds::Good);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{tool:?}");
        if tool == Tool::Upload {
            // Checked before the push adds objects to the same bucket.
            assert_upload_complete(&w);
        }
    }
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, bytes) in crate::support::all_files(from) {
        let p = to.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// The `| code | meaning |` rows of the first exit-code table after `heading` in README.md.
fn readme_exit_codes(heading: &str) -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(crate::support::repo().join("README.md")).unwrap();
    let section = &readme[readme.find(heading).unwrap_or_else(|| panic!("{heading}"))..];
    let table = &section[section.find("| exit code | meaning |").expect("a table")..];
    table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            (cells[0].to_string(), cells[1].to_string())
        })
        .collect()
}

/// The `Exit codes:` block of `--help`: `  <code> <meaning>` rows (wrapped lines joined).
fn help_exit_codes(tool: &str) -> Vec<(String, String)> {
    let o = Command::new(crate::support::bin(tool))
        .arg("--help")
        .env("COLUMNS", "1000")
        .output()
        .unwrap();
    let help = String::from_utf8(o.stdout).unwrap();
    let block = &help[help.find("Exit codes:\n").expect("exit codes in --help") + 12..];
    let mut rows: Vec<(String, String)> = Vec::new();
    for l in block.lines().take_while(|l| l.starts_with("  ")) {
        let t = l.trim();
        match t.split_once(char::is_whitespace) {
            Some((code, rest)) if code.parse::<u8>().is_ok() => {
                rows.push((code.to_string(), rest.trim().to_string()))
            }
            _ => {
                let last = rows.last_mut().expect("a row first");
                last.1 = format!("{} {t}", last.1);
            }
        }
    }
    rows
}

#[test]
fn readme_exit_code_tables_equal_each_tools_help() {
    for (tool, heading) in [
        ("upload", "## `upload`"),
        ("raw", "## `raw pull` / `raw push`"),
        ("stations", "## Weather stations"),
        ("shards", "## Backfills"),
    ] {
        let (readme, help) = (readme_exit_codes(heading), help_exit_codes(tool));
        let least = if tool == "shards" { 3 } else { 5 };
        assert!(readme.len() >= least, "{tool}: {readme:?}");
        assert_eq!(readme, help, "{tool}: README.md vs --help");
    }
}
