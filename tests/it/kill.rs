//! Kill tests: `process` and `upload` on generated, realistic inputs, killed with SIGKILL at
//! random moments (seeded; the seed is printed, `CITYFLOW_KILL_SEED` replays it). After every
//! kill: no output file is torn (each file present is whole, valid JSON / CSV, byte-equal to an
//! uninterrupted run's), the ledger is whole and claims only what the servers hold, and no
//! remote target is torn or duplicated. At the end a re-run gives exactly an uninterrupted
//! run's outputs, and every remote item and object exists exactly once, equal to the files.
//!
//! CI runs `CITYFLOW_KILLS` (default 3) kills each on small inputs; `scripts/reliability.sh kill 20`
//! runs the long version (20 kills each, bigger inputs, offloaded items).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use cityflow::generate::Rng;
use cityflow::store::local::temp_owner;

use crate::remote::*;
use crate::support::*;
use crate::upload::{env, upload_cmd, Dest};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn kills() -> usize {
    env_or("CITYFLOW_KILLS", 3)
}

fn long() -> bool {
    std::env::var("CITYFLOW_KILL_SCALE").is_ok_and(|v| v == "long")
}

fn seed(what: &str) -> u64 {
    let s = env_or(
        "CITYFLOW_KILL_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            % 1_000_000_007,
    );
    eprintln!("{what}: kill seed {s} (replay with CITYFLOW_KILL_SEED={s})");
    s
}

/// Kill moments: uniform over the length of a run, a range that shrinks by a quarter each time
/// a run had already finished when killed (later runs have less to do).
struct Moments {
    rng: Rng,
    range: Duration,
}

impl Moments {
    /// Kills `child` at a random moment; (the moment, whether it had already finished).
    fn kill(&mut self, child: &mut std::process::Child) -> (Duration, bool) {
        let delay = self.range.mul_f64(self.rng.f64());
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if finished {
            self.range = self.range.mul_f64(0.75);
        }
        (delay, finished)
    }
}

/// Checks every file of `out` after a kill: our temporary files aside (counted), each file is a
/// whole file of one of the two reference runs, and parses. Returns the files equal to run 0's
/// only, to run 1's only, to both (the CSV reports carry no timestamp), and the temporary ones.
fn assert_no_torn_file(out: &Path, refs: [&BTreeMap<String, Vec<u8>>; 2]) -> ([usize; 3], usize) {
    let mut per_ref = [0; 3];
    let mut temps = 0;
    if !out.exists() {
        return (per_ref, temps);
    }
    for (rel, bytes) in all_files(out) {
        let name = rel.rsplit('/').next().unwrap();
        if temp_owner(name).is_some() {
            temps += 1;
            continue;
        }
        if name.ends_with(".json") {
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .unwrap_or_else(|e| panic!("{rel}: torn JSON ({e})"));
        } else if name.ends_with(".csv") {
            assert!(bytes.ends_with(b"\r\n"), "{rel}: cut CSV");
            let mut r = csv::ReaderBuilder::new()
                .delimiter(b';')
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes.as_slice());
            for rec in r.records() {
                rec.unwrap_or_else(|e| panic!("{rel}: malformed CSV ({e})"));
            }
        }
        let i = match refs.map(|r| r.get(&rel) == Some(&bytes)) {
            [true, false] => 0,
            [false, true] => 1,
            [true, true] => 2,
            [false, false] => panic!(
                "{rel}: {} bytes, equal to no uninterrupted run's file",
                bytes.len()
            ),
        };
        per_ref[i] += 1;
    }
    (per_ref, temps)
}

#[test]
fn process_killed_at_random_moments_leaves_no_torn_file() {
    let (arcs, days) = if long() { (400, 30) } else { (150, 14) };
    let n = kills();
    let rng = Rng::new(seed("process"));
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    cityflow::generate::write_tree(
        &raw,
        &cityflow::generate::GenOptions {
            arcs,
            days,
            ..Default::default()
        },
    )
    .unwrap();
    // Two uninterrupted runs, two clocks: every output differs by its timestamp, so a file
    // mixing two runs, or cut, equals neither.
    let clocks = ["1763695200", "1763781600"];
    let mut refs = Vec::new();
    let mut took = Duration::ZERO;
    let mut code = None;
    for (i, epoch) in clocks.iter().enumerate() {
        let out = dir.path().join(format!("ref-{i}"));
        let t = Instant::now();
        let o = process_env(&raw, &out, &[], &[("SOURCE_DATE_EPOCH", epoch)]);
        took = took.max(t.elapsed());
        code = o.status.code();
        refs.push(all_files(&out));
    }
    assert_eq!(
        refs[0].keys().collect::<Vec<_>>(),
        refs[1].keys().collect::<Vec<_>>()
    );
    for (k, v) in &refs[0] {
        assert!(
            !k.ends_with(".json") || refs[1][k] != *v,
            "{k}: the two references differ"
        );
    }
    eprintln!(
        "process: {arcs} arcs x {days} days, {} output files, uninterrupted run {} ms",
        refs[0].len(),
        took.as_millis()
    );
    // The killed runs start from run 1's outputs: each has every file to replace.
    let out = dir.path().join("out");
    for (rel, body) in &refs[1] {
        let p = out.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let (mut finished, mut torn_checks, mut temps_seen) = (0, 0, 0);
    let mut last = [0, refs[1].len(), 0];
    let mut moments = Moments { rng, range: took };
    for k in 0..n {
        // The clock most files are not of: every run has files to replace.
        let which = usize::from(last[0] > last[1]);
        let mut child = process_command(&raw, &out, &[], &[("SOURCE_DATE_EPOCH", clocks[which])])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (delay, done) = moments.kill(&mut child);
        finished += usize::from(done);
        let (per_ref, temps) = assert_no_torn_file(&out, [&refs[0], &refs[1]]);
        last = per_ref;
        torn_checks += per_ref.iter().sum::<usize>();
        temps_seen += temps;
        eprintln!(
            "process kill {}: run with clock {which} killed at {} ms{}: {} files of run 0, {} of run 1, {} the same in both, {temps} temporary",
            k + 1,
            delay.as_millis(),
            if done { " (had finished)" } else { "" },
            per_ref[0],
            per_ref[1],
            per_ref[2]
        );
    }
    // Re-run to completion: exactly the uninterrupted run's files, no temporary file left.
    let o = process_env(&raw, &out, &[], &[("SOURCE_DATE_EPOCH", clocks[0])]);
    assert_eq!(o.status.code(), code);
    let got = all_files(&out);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        refs[0].keys().collect::<Vec<_>>(),
        "the same files, and no temporary file left"
    );
    assert!(got == refs[0], "byte-identical to the uninterrupted run");
    eprintln!(
        "FIGURES process kills: {n} kills ({finished} after the run had finished), {torn_checks} files checked whole, {temps_seen} temporary files seen after kills (summed over kills), none left at the end"
    );
}

/// Runs `upload` to completion; it must exit 0.
fn upload_ok(d: &Dest, work: &Path, args: &[&str]) {
    let o = upload_cmd(d, work, args).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "upload {args:?}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Makes `work` hold the files of `version` (the ledger stays).
fn switch_to(work: &Path, version: &Path) {
    for sub in ["metrics", "reports"] {
        let _ = std::fs::remove_dir_all(work.join(sub));
        std::fs::create_dir_all(work.join(sub)).unwrap();
        for e in std::fs::read_dir(version.join(sub)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), work.join(sub).join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn upload_killed_at_random_moments_resumes_without_loss_or_duplicates() {
    // Long: 1,000 arcs make every comptages day and the référentiel items over 350 KB
    // (offloaded to S3).
    let (arcs, days) = if long() { (1000, 20) } else { (8, 16) };
    let n = kills();
    let rng = Rng::new(seed("upload"));
    let dir = tempfile::tempdir().unwrap();
    // Two versions of the same targets (generator seeds 7 and 8): each run pushes one of them,
    // so a run overwrites what an earlier one wrote.
    let versions = [dir.path().join("v0"), dir.path().join("v1")];
    for (i, v) in versions.iter().enumerate() {
        generated_output(dir.path(), v, arcs, days, 7 + i as u64);
    }
    let d = Dest::new("kill_upload");
    init(&d);
    let id = dest_id(
        &env("CITYFLOW_TEST_DYNAMODB_ENDPOINT"),
        &env("CITYFLOW_TEST_S3_ENDPOINT"),
    );
    let dest = destination(&d, &id);
    let t = [targets(&versions[0], &dest), targets(&versions[1], &dest)];
    assert_eq!(
        t[0].keys().collect::<Vec<_>>(),
        t[1].keys().collect::<Vec<_>>()
    );
    let work = dir.path().join("work");
    // An uninterrupted run of version 1 first: its time sets the range of the kill moments.
    switch_to(&work, &versions[1]);
    let started = Instant::now();
    upload_ok(&d, &work, &[]);
    let took = started.elapsed();
    let r = remote(&d, &t).unwrap();
    // Targets whose content is the same in both versions count as version 0.
    let same = t[0]
        .iter()
        .filter(|(k, st)| t[1][*k].hash == st.hash)
        .count();
    eprintln!(
        "upload: {} targets ({same} the same in both versions, {} offloaded items), uninterrupted run {} ms",
        t[0].len(),
        r.offloaded,
        took.as_millis()
    );
    let (mut finished, mut checked, mut max_orphans) = (0, 0, 0);
    let mut moments = Moments { rng, range: took };
    for k in 0..n {
        // Versions alternate, so that every run has targets to overwrite.
        let which = k % 2;
        switch_to(&work, &versions[which]);
        let mut child = upload_cmd(&d, &work, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (delay, done) = moments.kill(&mut child);
        finished += usize::from(done);
        // No torn or duplicated target, and the ledger claims only what is there.
        let r = remote(&d, &t).unwrap_or_else(|e| panic!("after kill {}: {e}", k + 1));
        let entries = assert_ledger_consistent(&work, &t, &r.state);
        checked += r.state.len();
        max_orphans = max_orphans.max(r.orphans);
        let of = |v: usize| r.state.values().filter(|&&x| x == v).count();
        eprintln!(
            "upload kill {}: run of version {which} killed at {} ms{}: remote {} of version 0, {} of version 1, {} orphan payloads; ledger {entries} entries",
            k + 1,
            delay.as_millis(),
            if done { " (had finished)" } else { "" },
            of(0),
            of(1),
            r.orphans
        );
    }
    // Re-run to completion with version 0: every target exactly once, equal to the files.
    switch_to(&work, &versions[0]);
    upload_ok(&d, &work, &[]);
    let r = remote(&d, &t).unwrap();
    assert_eq!(r.state.len(), t[0].len(), "every target stored");
    assert!(
        r.state.values().all(|&v| v == 0),
        "every target is version 0"
    );
    assert_eq!(r.orphans, 0, "no payload left behind");
    assert_eq!(assert_ledger_consistent(&work, &t, &r.state), t[0].len());
    upload_ok(&d, &work, &["--verify"]);
    let temps = all_files(&work)
        .keys()
        .filter(|k| temp_owner(k.rsplit('/').next().unwrap()).is_some())
        .count();
    assert_eq!(temps, 0, "no ledger temporary file left");
    eprintln!(
        "FIGURES upload kills: {n} kills ({finished} after the run had finished), {checked} remote targets checked after kills, at most {max_orphans} orphan payloads after a kill, 0 at the end"
    );
}
