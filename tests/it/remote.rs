//! Checks of the remote side shared by the kill and fault tests: what a local output folder
//! should become remotely (the planner's targets, with their ledger keys and hashes), what the
//! servers hold for each target (read directly, never through a proxy), and whether the ledger
//! claims only what the servers really hold.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cityflow::output::METRIC_TYPES;
use cityflow_cloud::aws::client::{clients, Clients};
use cityflow_cloud::aws::s3;
use cityflow_cloud::upload::plan::{self, plan, Destination, PlanOptions, Step};
use cityflow_cloud::upload::select::{select, Selection};
use cityflow_cloud::upload::{dynamo, read_item};
use serde_json::Value;

use crate::upload::{rt, Dest};

/// The ledger id of a destination reached through these endpoints (as `upload` builds it).
pub fn dest_id(dynamodb_url: &str, s3_url: &str) -> String {
    format!("{dynamodb_url}+{s3_url}")
}

pub fn destination(d: &Dest, id: &str) -> Destination {
    Destination {
        id: id.to_string(),
        metrics_table: d.metrics(),
        reports_table: d.reports(),
        bucket: d.bucket(),
        reports_prefix: "reports".into(),
        ttl_days: 365,
        analytics_bucket: d.bucket(),
        analytics_prefix: "analytics".into(),
    }
}

/// Every target of `out` (all types, all dates), planned against an empty ledger, by ledger key.
pub fn targets(out: &Path, dest: &Destination) -> BTreeMap<String, Step> {
    let sel = Selection {
        metric_types: METRIC_TYPES.iter().map(|s| s.to_string()).collect(),
        reports: true,
        ..Selection::default()
    };
    let (locals, invalid) = select(out, &sel).unwrap();
    assert!(invalid.is_empty(), "{invalid:?}");
    let steps = plan(
        locals,
        invalid,
        dest,
        &Default::default(),
        PlanOptions::default(),
    );
    steps.into_iter().map(|s| (s.key.clone(), s)).collect()
}

fn strip_volatile(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.shift_remove("ttl");
        o.shift_remove("timestamp");
    }
    v
}

/// What the servers hold for `st`'s target: None when absent, else the bytes (objects) or the
/// envelope without `ttl` / `timestamp` (items, offloaded payloads fetched and checked).
pub enum Held {
    Object(Vec<u8>),
    Item(Value),
}

pub fn held(c: &Clients, st: &Step) -> Result<Option<Held>, String> {
    match st.remote.as_ref().unwrap() {
        plan::Remote::Object { bucket, key, .. } => Ok(rt()
            .block_on(s3::get(&c.s3, bucket, key))
            .map_err(|e| e.1)?
            .map(|(b, _)| Held::Object(b))),
        plan::Remote::Item {
            table,
            pk_name,
            pk,
            date,
        } => Ok(rt()
            .block_on(read_item(c, table, pk_name, pk, date))?
            .map(|v| Held::Item(strip_volatile(v)))),
    }
}

/// Is what is held exactly the local file of `st`?
pub fn equals(h: &Held, st: &Step) -> bool {
    let local = st.local.as_ref().unwrap();
    match h {
        Held::Object(b) => *b == local.body,
        Held::Item(v) => {
            let l: Value = serde_json::from_slice(&local.body).unwrap();
            dynamo::same_json(v, &strip_volatile(l))
        }
    }
}

/// Every item of a table (paginated scan): ("<pk>|<date>", its payload key when offloaded).
pub fn scan(c: &Clients, table: &str) -> Vec<(String, Option<String>)> {
    let s = |i: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
             k: &str| {
        i.get(k)
            .and_then(|a| a.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    rt().block_on(async {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let o = c
                .dynamodb
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for i in o.items() {
                let pk = if i.contains_key("metric_type") {
                    s(i, "metric_type")
                } else {
                    s(i, "report_id")
                };
                let payload = i.contains_key("payload_s3_uri").then(|| {
                    let uri = s(i, "payload_s3_uri");
                    let bucket_and_key = uri.trim_start_matches("s3://");
                    bucket_and_key
                        .split_once('/')
                        .map(|(_, k)| k.to_string())
                        .unwrap_or_default()
                });
                out.push((format!("{pk}|{}", s(i, "date")), payload));
            }
            match o.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return out,
            }
        }
    })
}

/// Every object key of a bucket (paginated).
pub fn all_keys(c: &Clients, bucket: &str) -> Vec<String> {
    rt().block_on(async {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let o = match c
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .set_continuation_token(token)
                .send()
                .await
            {
                Ok(o) => o,
                Err(_) => return out,
            };
            out.extend(
                o.contents()
                    .iter()
                    .filter_map(|x| x.key().map(str::to_string)),
            );
            match o.next_continuation_token {
                Some(t) => token = Some(t),
                None => return out,
            }
        }
    })
}

/// What the servers hold.
pub struct Remote {
    /// For each target present, the index of the version it equals.
    pub state: BTreeMap<String, usize>,
    /// Items whose payload is in S3.
    pub offloaded: usize,
    /// Payload objects no item points at.
    pub orphans: usize,
}

/// The remote state against several versions of the same targets. A target equal to no
/// version (torn, mixed, foreign) or an item or object that is no target at all (a duplicate
/// under another key) is an error.
pub fn remote(d: &Dest, versions: &[BTreeMap<String, Step>]) -> Result<Remote, String> {
    let c = rt().block_on(clients(&d.options()));
    let mut state = BTreeMap::new();
    let mut items = BTreeSet::new();
    let mut objects = BTreeSet::new();
    for (key, st) in &versions[0] {
        let Some(h) = held(&c, st)? else { continue };
        let v = versions
            .iter()
            .position(|ver| equals(&h, &ver[key]))
            .ok_or_else(|| format!("{key}: the remote copy equals no version of the file"))?;
        state.insert(key.clone(), v);
        match st.remote.as_ref().unwrap() {
            plan::Remote::Item { pk, date, .. } => items.insert(format!("{pk}|{date}")),
            plan::Remote::Object { key, .. } => objects.insert(key.clone()),
        };
    }
    let mut scanned = scan(&c, &d.metrics());
    scanned.extend(scan(&c, &d.reports()));
    let mut stored: Vec<String> = scanned.iter().map(|(k, _)| k.clone()).collect();
    stored.sort();
    let want: Vec<String> = items.into_iter().collect();
    if stored != want {
        return Err(format!(
            "items stored {} != targets present {} (duplicates or strays)",
            stored.len(),
            want.len()
        ));
    }
    let keys = all_keys(&c, &d.bucket());
    let listed: BTreeSet<String> = keys
        .iter()
        .filter(|k| !k.starts_with("payloads/"))
        .cloned()
        .collect();
    if listed != objects {
        return Err(format!(
            "objects listed {:?} != targets present {:?}",
            listed.difference(&objects).collect::<Vec<_>>(),
            objects.difference(&listed).collect::<Vec<_>>()
        ));
    }
    // Payloads: each pointer names one that exists (read_item checked it and its hash); any
    // other is an orphan of an interrupted write, removed by the next write of that item.
    let pointed: BTreeSet<String> = scanned.into_iter().filter_map(|(_, p)| p).collect();
    let orphans = keys
        .iter()
        .filter(|k| k.starts_with("payloads/") && !pointed.contains(*k))
        .count();
    Ok(Remote {
        state,
        offloaded: pointed.len(),
        orphans,
    })
}

/// The ledger of `out`: key -> hash of what it says was confirmed written, and the failed set.
pub fn ledger(out: &Path) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let p = out.join(".upload-ledger.json");
    let Ok(b) = std::fs::read(&p) else {
        return Default::default();
    };
    let v: Value = serde_json::from_slice(&b)
        .unwrap_or_else(|e| panic!("the ledger is torn or corrupt ({e}): {}", p.display()));
    let written = v["written"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, e)| (k.clone(), e["hash"].as_str().unwrap().to_string()))
        .collect();
    let failed = v["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    (written, failed)
}

/// The ledger claims nothing the servers do not hold: each entry's hash is a version's hash for
/// that target, and the remote copy is that version. Returns the number of entries checked.
pub fn assert_ledger_consistent(
    out: &Path,
    versions: &[BTreeMap<String, Step>],
    state: &BTreeMap<String, usize>,
) -> usize {
    let (written, _) = ledger(out);
    for (key, hash) in &written {
        let v = versions
            .iter()
            .position(|ver| ver.get(key).is_some_and(|st| &st.hash == hash))
            .unwrap_or_else(|| panic!("{key}: the ledger's hash is no version's"));
        assert_eq!(
            state.get(key),
            Some(&v),
            "{key}: the ledger says version {v} was written, the remote holds {:?}",
            state.get(key)
        );
    }
    written.len()
}

/// A generated raw tree (every dataset, `arcs` road counters over `days` days from 2025-10-25,
/// generator seed `seed`) under `<dir>/raw-<seed>`, processed into `out` (fixed clock).
pub fn generated_output(dir: &Path, out: &Path, arcs: usize, days: u32, seed: u64) {
    let raw = dir.join(format!("raw-{seed}"));
    if !raw.exists() {
        let o = cityflow::generate::GenOptions {
            seed,
            arcs,
            days,
            ..Default::default()
        };
        cityflow::generate::write_tree(&raw, &o).unwrap();
    }
    let o = crate::support::process(&raw, out, &[]);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Creates the destination's tables and bucket directly on the servers.
pub fn init(d: &Dest) {
    let c = rt().block_on(clients(&d.options()));
    rt().block_on(cityflow_cloud::upload::init::init(
        &c,
        &d.options(),
        &[(&d.metrics(), "metric_type"), (&d.reports(), "report_id")],
        &[(&d.bucket(), &cityflow_cloud::upload::BUCKET_HINT)],
    ))
    .unwrap();
}
