//! The fuzz targets' short version for CI: every seed listed in `fuzz/seeds.txt` and every input
//! that once crashed a target (`fuzz/regressions/<target>/*`, committed) goes through the same
//! entry points as `cargo fuzz` (`fuzz/src/lib.rs`, included here), with no fuzzer. A panic
//! anywhere fails the test; `scripts/fuzz.sh` is the long version.

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

use std::collections::BTreeMap;

use crate::support::*;

/// (target, name, bytes) of every seed of `fuzz/seeds.txt`.
fn seeds() -> Vec<(String, String, Vec<u8>)> {
    let manifest = String::from_utf8(read(repo().join("fuzz/seeds.txt"))).unwrap();
    let mut out = Vec::new();
    for l in manifest.lines() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = l.split_whitespace().collect();
        let [target, selector, source] = parts[..] else {
            panic!("fuzz/seeds.txt: bad line {l:?}");
        };
        let prefix: Vec<u8> = match selector {
            "-" => Vec::new(),
            hex => vec![u8::from_str_radix(hex, 16).unwrap()],
        };
        let with = |body: &[u8]| [prefix.as_slice(), body].concat();
        if let Some(p) = source.strip_prefix("lines:") {
            let text = String::from_utf8(read(repo().join(p))).unwrap();
            for (i, line) in text.lines().enumerate() {
                out.push((
                    target.into(),
                    format!("{p}:{}", i + 1),
                    with(line.as_bytes()),
                ));
            }
        } else if let Some(p) = source.strip_prefix("real:") {
            out.push((target.into(), source.into(), with(&read(real(p)))));
        } else {
            out.push((
                target.into(),
                source.into(),
                with(&read(repo().join(source))),
            ));
        }
    }
    out
}

/// (target, name, bytes) of every committed crash input.
fn regressions() -> Vec<(String, String, Vec<u8>)> {
    let dir = repo().join("fuzz/regressions");
    if !dir.is_dir() {
        return Vec::new();
    }
    all_files(&dir)
        .into_iter()
        .map(|(rel, body)| {
            let target = rel.split('/').next().unwrap().to_string();
            (target, format!("fuzz/regressions/{rel}"), body)
        })
        .collect()
}

#[test]
fn every_seed_and_past_crash_runs_through_the_fuzz_entry_points() {
    let targets: BTreeMap<&str, harness::Entry> = harness::TARGETS.iter().copied().collect();
    let seeds = seeds();
    let regressions = regressions();
    let mut per_target: BTreeMap<&str, usize> = targets.keys().map(|t| (*t, 0)).collect();
    for (target, name, body) in seeds.iter().chain(&regressions) {
        let f = targets
            .get(target.as_str())
            .unwrap_or_else(|| panic!("{name}: unknown fuzz target {target}"));
        // A panic names the input that caused it.
        let r = std::panic::catch_unwind(|| f(body));
        assert!(r.is_ok(), "{target} panicked on {name}");
        *per_target.get_mut(target.as_str()).unwrap() += 1;
    }
    for (t, n) in &per_target {
        assert!(*n > 0, "fuzz target {t} has no seed");
    }
    eprintln!(
        "fuzz replay: {} seeds, {} past crash inputs: {per_target:?}",
        seeds.len(),
        regressions.len()
    );
}
