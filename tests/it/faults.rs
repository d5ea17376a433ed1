//! `upload` through the fault-injecting proxy ([`crate::proxy`]) in front of the real local
//! DynamoDB and S3 servers: 30 % of requests fail (500, 503 SlowDown, throttling, connection
//! resets before and after the server saw the request, latency), `UnprocessedItems` answers,
//! and a server that goes down. The remote side is always checked directly on the servers.
//!
//! Scale and seed: `CITYFLOW_FAULT_DAYS` (default 12), `CITYFLOW_FAULT_SEED` (default fixed);
//! `scripts/reliability.sh faults` runs the long version.

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

use crate::proxy::{Fault, Faults, Proxy, Service};
use crate::remote::*;
use crate::upload::{env, upload_cmd, Dest};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn seed() -> u64 {
    env_or("CITYFLOW_FAULT_SEED", 20_261_121)
}

struct Setup {
    _dir: tempfile::TempDir,
    out: PathBuf,
    d: Dest,
    dynamodb: Proxy,
    s3: Proxy,
}

impl Setup {
    fn new(test: &str, days: u32, dynamodb: Faults, s3: Faults) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("output");
        generated_output(dir.path(), &out, 8, days, 7);
        let d = Dest::new(test);
        init(&d);
        Setup {
            _dir: dir,
            out,
            dynamodb: Proxy::start(
                &env("CITYFLOW_TEST_DYNAMODB_ENDPOINT"),
                Service::DynamoDb,
                dynamodb,
            ),
            s3: Proxy::start(&env("CITYFLOW_TEST_S3_ENDPOINT"), Service::S3, s3),
            d,
        }
    }

    /// `upload --json` through the proxies.
    fn upload(&self, args: &[&str]) -> (Output, Value) {
        let started = std::time::Instant::now();
        let o = upload_cmd(&self.d, &self.out, &[args, &["--json"]].concat())
            .env("AWS_ENDPOINT_URL_DYNAMODB", self.dynamodb.url())
            .env("AWS_ENDPOINT_URL_S3", self.s3.url())
            .output()
            .unwrap();
        assert_ne!(o.status.code(), Some(101), "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("no JSON summary ({e}): {}", stderr(&o)));
        eprintln!(
            "upload {args:?}: exit {:?} in {:.1} s, written {}, failed {}, retries {}",
            o.status.code(),
            started.elapsed().as_secs_f64(),
            v["written"],
            v["failed"],
            v["retries"]
        );
        (o, v)
    }

    fn targets(&self) -> std::collections::BTreeMap<String, cityflow_cloud::upload::plan::Step> {
        let id = dest_id(&self.dynamodb.url(), &self.s3.url());
        targets(&self.out, &destination(&self.d, &id))
    }

    /// Every target exactly once remotely, equal to the local file; the ledger agrees.
    fn assert_complete(&self) {
        let t = self.targets();
        let r = remote(&self.d, std::slice::from_ref(&t)).unwrap();
        let state = r.state;
        assert_eq!(state.len(), t.len(), "every target is stored");
        assert_eq!(r.orphans, 0);
        assert_eq!(
            assert_ledger_consistent(&self.out, std::slice::from_ref(&t), &state),
            t.len()
        );
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn report(what: &str, p: &Proxy) -> u64 {
    let s = p.stats();
    eprintln!(
        "{what}: {} requests, {} forwarded, faults {:?}, unprocessed answers {} ({} items), cut by going down {}",
        s.requests, s.forwarded, s.faults, s.unprocessed_calls, s.unprocessed_items, s.cut_by_down
    );
    s.injected()
}

pub fn faulty(share: f64, seed: u64) -> Faults {
    Faults {
        seed,
        share,
        kinds: Fault::ALL.to_vec(),
        latency_ms: (20, 150),
        ..Faults::none()
    }
}

#[test]
fn upload_completes_through_30_percent_faults() {
    let seed = seed();
    let days = env_or("CITYFLOW_FAULT_DAYS", 12);
    eprintln!("fault seed {seed}, {days} days");
    let s = Setup::new(
        "faults30",
        days,
        faulty(0.3, seed),
        faulty(0.3, seed.wrapping_add(1)),
    );
    let n = s.targets().len();
    let (o, v) = s.upload(&["--batch-size", "5"]);
    assert_eq!(o.status.code(), Some(0), "{v:#}\n{}", stderr(&o));
    assert_eq!(v["written"].as_u64(), Some(n as u64));
    s.assert_complete();
    // Unchanged: nothing written again (through the faults); --verify agrees (no faults: it
    // reads one target at a time, and the SDK's backoff would make it slow).
    let (o, v) = s.upload(&[]);
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    assert_eq!(v["written"], 0);
    let injected = report("dynamodb proxy", &s.dynamodb) + report("s3 proxy", &s.s3);
    let requests = s.dynamodb.stats().requests + s.s3.stats().requests;
    s.dynamodb.set_faults(Faults::none());
    s.s3.set_faults(Faults::none());
    let (o, v) = s.upload(&["--verify"]);
    assert_eq!(o.status.code(), Some(0), "{v:#}\n{}", stderr(&o));
    assert_eq!(v["differ"], 0);
    eprintln!("FIGURES faults30: {n} targets, {requests} requests, {injected} faults injected");
    // About 30 % of the requests (binomial: far inside 20..40 % for a few hundred requests).
    let share = injected as f64 / requests as f64;
    assert!((0.2..0.4).contains(&share), "{injected}/{requests}");
    for k in Fault::ALL {
        let name = format!("{k:?}");
        let seen = [&s.dynamodb, &s.s3]
            .iter()
            .map(|p| p.stats().faults.get(&name).copied().unwrap_or(0))
            .sum::<u64>();
        assert!(seen > 0, "no {k:?} injected");
    }
}

#[test]
fn unprocessed_items_are_sent_again() {
    let seed = seed();
    let s = Setup::new(
        "unprocessed",
        6,
        Faults {
            seed,
            unprocessed_share: 0.6,
            ..Faults::none()
        },
        Faults::none(),
    );
    let n = s.targets().len();
    // Batches of 5: about ten BatchWriteItem calls, so that some get UnprocessedItems whatever
    // the seed.
    let (o, v) = s.upload(&["--batch-size", "5"]);
    assert_eq!(o.status.code(), Some(0), "{v:#}\n{}", stderr(&o));
    let st = s.dynamodb.stats();
    report("dynamodb proxy", &s.dynamodb);
    assert!(st.unprocessed_items > 0, "{st:?}");
    // No other fault: each UnprocessedItems answer costs exactly one more BatchWriteItem.
    assert_eq!(v["retries"].as_u64(), Some(st.unprocessed_calls), "{st:?}");
    assert_eq!(v["written"].as_u64(), Some(n as u64));
    s.assert_complete();
}

#[test]
fn a_server_down_stops_with_exit_3_and_a_consistent_ledger() {
    let s = Setup::new("down", 10, Faults::none(), Faults::none());
    let t = s.targets();
    // Down from the start: the health check says so, nothing is written.
    s.dynamodb.set_down(true);
    let started = std::time::Instant::now();
    let (o, v) = s.upload(&[]);
    assert_eq!(o.status.code(), Some(3), "{v:#}\n{}", stderr(&o));
    assert!(
        stderr(&o).contains("DynamoDB endpoint unreachable"),
        "{}",
        stderr(&o)
    );
    assert!(started.elapsed().as_secs() < 15);
    assert_eq!(v["written"], 0);
    assert!(ledger(&s.out).0.is_empty());
    assert!(remote(&s.d, std::slice::from_ref(&t))
        .unwrap()
        .state
        .is_empty());

    // Down in the middle of the run: exit 3, the message says what to do, and the ledger holds
    // exactly the confirmed targets; the rest are recorded as failed.
    s.dynamodb.set_down(false);
    s.dynamodb.set_faults(Faults {
        down_after: Some(6),
        ..Faults::none()
    });
    let (o, v) = s.upload(&["--batch-size", "5", "--concurrency", "2"]);
    assert_eq!(o.status.code(), Some(3), "{v:#}\n{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("stopped, endpoint unreachable") && err.contains("re-run"),
        "{err}"
    );
    assert!(s.dynamodb.is_down());
    let state = remote(&s.d, std::slice::from_ref(&t)).unwrap().state;
    let confirmed = assert_ledger_consistent(&s.out, std::slice::from_ref(&t), &state);
    let (written, failed) = ledger(&s.out);
    eprintln!(
        "down mid-run: {} targets, {confirmed} confirmed, {} failed, {} stored remotely",
        t.len(),
        failed.len(),
        state.len()
    );
    assert!(confirmed > 0 && confirmed < t.len(), "{confirmed}");
    assert_eq!(
        written.len() + failed.len(),
        t.len(),
        "every target accounted for"
    );
    assert_eq!(v["written"].as_u64(), Some(confirmed as u64));
    assert_eq!(v["failed"].as_u64(), Some(failed.len() as u64));
    // Back up: the re-run completes, every target exactly once.
    s.dynamodb.set_faults(Faults::none());
    s.dynamodb.set_down(false);
    let (o, v) = s.upload(&[]);
    assert_eq!(o.status.code(), Some(0), "{v:#}\n{}", stderr(&o));
    assert_eq!(v["written"].as_u64(), Some(failed.len() as u64));
    s.assert_complete();
}
