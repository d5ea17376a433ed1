//! Tests of the `traffic` source (real files and fixtures).
//!
//! The real Navitia response is checked against `tests/independent/traffic_navitia.py` (Python,
//! written apart from the Rust code) and against direct serde_json walks over the raw file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::{json, Value};

use cityflow::discover::InputFile;
use cityflow::geo::ArrondissementIndex;
use cityflow::metrics::traffic::{metrics, Alert, TrafficAcc, TrafficMetrics};
use cityflow::quality::{QualityAcc, Reason, SourceQuality};
use cityflow::sources::traffic::{read_file, SOURCE};
use cityflow::sources::DaySelection;

use crate::support;

const NAVITIA: &str = "disruptions/prim_navitia_line_reports_yannsko_2024-04.json";

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn input(path: &Path, rel: &str, partition: Option<&str>) -> InputFile {
    InputFile::new(path, rel, SOURCE, partition.map(day))
}

fn fixture(name: &str) -> PathBuf {
    support::repo().join("tests/fixtures/traffic").join(name)
}

fn read(f: &InputFile) -> (TrafficAcc, QualityAcc) {
    let mut q = QualityAcc::default();
    let acc = read_file(f, &DaySelection::default(), &mut q);
    (acc, q)
}

fn cell<'a>(q: &'a QualityAcc, d: Option<&str>) -> &'a SourceQuality {
    q.cells
        .get(&(SOURCE, d.map(day)))
        .unwrap_or_else(|| panic!("no quality cell for {d:?}: {:?}", q.cells.keys()))
}

fn m(acc: &TrafficAcc, d: &str) -> TrafficMetrics {
    metrics(acc, day(d), &ArrondissementIndex::default()).expect("metrics for the day")
}

/// (id, score, hours, lines) of each alert.
fn alert_tuples(a: &[Alert]) -> Vec<(String, i64, f64, Vec<String>)> {
    a.iter()
        .map(|a| (a.id.clone(), a.priority, a.duration_hours, a.lignes.clone()))
        .collect()
}

/// (id, raw navitia_priority) of each alert.
fn alert_raw(a: &[Alert]) -> Vec<(String, Option<i64>)> {
    a.iter()
        .map(|a| (a.id.clone(), a.navitia_priority))
        .collect()
}

fn write_json(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
    p
}

#[test]
fn real_navitia_response_matches_the_independent_computation() {
    let path = support::real(NAVITIA);
    let f = input(&path, "api/traffic/2024-04-30/line_reports.json", None);
    let (acc, q) = read(&f);
    let py = support::python("traffic_navitia.py", &[&path]);
    let py_day = &py["day"];
    let d = py["snapshot_day"].as_str().unwrap();
    assert_eq!(d, "2024-04-30");
    assert_eq!(acc.days(), BTreeSet::from([day(d)]));

    // Quality: every disruption read, none rejected, no warning.
    assert!(!q.has_rejects(), "{:?}", q.cells);
    let c = cell(&q, Some(d));
    assert_eq!(c.rows_read, 19);
    assert_eq!(c.rows_read, py["ids"].as_u64().unwrap());
    assert_eq!(c.rows_rejected, 0);
    assert!(c.warnings.is_empty(), "{:?}", c.warning_samples);
    assert_eq!(c.categories["snapshot time: context.current_datetime"], 19);
    assert_eq!(acc.duplicates(Some(day(d))).count, 0);

    let got = m(&acc, d);
    assert_eq!(got.snapshot_times, vec!["2024-04-30T05:23:03+02:00"]);
    assert_eq!(
        got.total_disruptions_count,
        py_day["total"].as_u64().unwrap()
    );
    assert_eq!(
        got.active_disruptions_count,
        py_day["active"].as_u64().unwrap()
    );
    let sev = serde_json::to_value(&got.disruptions_by_severity).unwrap();
    assert_eq!(sev, py_day["by_severity"]);
    // The real file: 3 "bloquante" NO_SERVICE (Navitia priority 0) -> score 60, 16 "perturbée"
    // SIGNIFICANT_DELAYS (priority 30) -> score 30, all on the day.
    assert_eq!(
        sev,
        json!({"CRITIQUE": 3, "ELEVEE": 16, "MOYENNE": 0, "FAIBLE": 0})
    );
    let py_effects: BTreeMap<String, u64> =
        serde_json::from_value(py_day["by_effect"].clone()).unwrap();
    assert_eq!(got.disruptions_by_effect, py_effects);
    assert_eq!(
        got.disruptions_by_effect,
        BTreeMap::from([
            ("NO_SERVICE".to_string(), 3),
            ("SIGNIFICANT_DELAYS".to_string(), 16)
        ])
    );
    assert_eq!(
        got.disruptions_severity_unknown,
        py_day["unknown_severity"].as_u64().unwrap()
    );
    // Straight from the raw file: the ids whose severity.effect is NO_SERVICE.
    let raw = support::json(&path);
    let no_service: BTreeSet<String> = raw["disruptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["severity"]["effect"] == "NO_SERVICE")
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(no_service.len(), 3);

    // Lines: every line found, with its count, is the independent one.
    let py_lines: BTreeMap<String, u64> = py_day["lines"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    let mut mine: BTreeMap<String, u64> = BTreeMap::new();
    for dis in acc.disruptions(day(d)) {
        for l in &dis.lines {
            *mine.entry(l.clone()).or_default() += 1;
        }
    }
    assert_eq!(mine, py_lines);
    assert!(mine.contains_key("Bus 272") && mine.contains_key("Bus S2"));
    assert_eq!(got.top_lignes_impactees.len(), 10.min(py_lines.len()));
    let mut prev = u64::MAX;
    for l in &got.top_lignes_impactees {
        assert_eq!(l.count, py_lines[&l.ligne], "{}", l.ligne);
        assert!(l.count <= prev);
        prev = l.count;
    }
    // Everything strictly above the 10th count is in the top.
    let tenth = got.top_lignes_impactees.last().unwrap().count;
    let top: BTreeSet<&str> = got
        .top_lignes_impactees
        .iter()
        .map(|l| l.ligne.as_str())
        .collect();
    for (l, c) in &py_lines {
        if *c > tenth {
            assert!(top.contains(l.as_str()), "{l} ({c}) missing from the top");
        }
    }
    // Cross-check with a direct serde_json walk: the disruptions of line code "12" (Bus).
    let n12 = raw["disruptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| {
            x["impacted_objects"].as_array().unwrap().iter().any(|o| {
                o["pt_object"]["embedded_type"] == "line" && o["pt_object"]["line"]["code"] == "12"
            })
        })
        .count() as u64;
    assert_eq!(mine["Bus 12"], n12);

    // Alerts and durations.
    let py_raw: Vec<(String, Option<i64>)> = py_day["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a[0].as_str().unwrap().to_string(), a[4].as_i64()))
        .collect();
    assert_eq!(alert_raw(&got.alerts), py_raw);
    let py_alerts: Vec<(String, i64, f64, Vec<String>)> = py_day["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let secs = a[2].as_f64().unwrap();
            let lines: BTreeSet<String> = a[3]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            (
                a[0].as_str().unwrap().to_string(),
                a[1].as_i64().unwrap(),
                (secs / 3600.0 * 100.0).round() / 100.0,
                lines.into_iter().collect(),
            )
        })
        .collect();
    let mut mine_alerts = alert_tuples(&got.alerts);
    for a in &mut mine_alerts {
        a.3.sort(); // the Python list is in plain text order
    }
    assert_eq!(mine_alerts, py_alerts);
    assert!(got.alerts.iter().all(|a| a.duration_hours <= 24.0));
    // The NO_SERVICE ones are alerts by their score (60), with their raw Navitia priority 0.
    let top3: BTreeSet<String> = got.alerts[..3].iter().map(|a| a.id.clone()).collect();
    assert_eq!(top3, no_service);
    assert!(got.alerts[..3]
        .iter()
        .all(|a| a.priority == 60 && a.navitia_priority == Some(0)));
    assert!(got.alerts[3..]
        .iter()
        .all(|a| a.priority == 30 && a.navitia_priority == Some(30)));
    assert_eq!(got.alerts.len(), 19);
    let critical = py_day["critical_s"].as_f64().unwrap();
    let day_s = py_day["day_s"].as_f64().unwrap();
    let rel = ((day_s - critical) / day_s * 100.0 * 100.0).round() / 100.0;
    assert_eq!(got.reliability_index, rel);
    assert_eq!(got.critical_hours, critical / 3600.0);
    // Two NO_SERVICE works on Bus 272 run from 2024-04-17 to 2024-06-01: critical all day.
    assert!(got.reliability_index < 100.0);
    assert_eq!(got.reliability_index, 0.0);
}

#[test]
fn output_keys_are_in_the_prototype_order() {
    let path = support::real(NAVITIA);
    let (acc, _) = read(&input(&path, "x.json", None));
    let v = serde_json::to_value(m(&acc, "2024-04-30")).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys[..6],
        [
            "reliability_index",
            "active_disruptions_count",
            "total_disruptions_count",
            "top_lignes_impactees",
            "alerts",
            "disruptions_by_severity"
        ]
    );
    let sev: Vec<&str> = v["disruptions_by_severity"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(sev, ["CRITIQUE", "ELEVEE", "MOYENNE", "FAIBLE"]);
    let alert: Vec<&str> = v["alerts"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        alert,
        [
            "id",
            "priority",
            "duration_hours",
            "lignes",
            "navitia_priority"
        ]
    );
    let top: Vec<&str> = v["top_lignes_impactees"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, ["ligne", "count"]);
}

#[test]
fn same_disruptions_in_two_snapshots_are_counted_once() {
    let path = support::real(NAVITIA);
    let (one, _) = read(&input(&path, "api/traffic/dt=2024-04-30/a.json", None));
    let (mut a, mut qa) = read(&input(&path, "api/traffic/dt=2024-04-30/a.json", None));
    let (b, qb) = read(&input(&path, "api/traffic/dt=2024-04-30/b.json", None));
    a.merge(b);
    qa.merge(qb);
    let d = day("2024-04-30");
    let dup = a.duplicates(Some(d));
    assert_eq!(dup.count, 19);
    assert_eq!(dup.conflicting, 0);
    assert_eq!(dup.samples.len(), 19);
    assert!(
        dup.samples[0].ends_with("listed 2 times"),
        "{}",
        dup.samples[0]
    );
    // rows_used = rows_read - rejected - duplicates = 38 - 0 - 19
    assert_eq!(cell(&qa, Some("2024-04-30")).rows_read, 38);
    assert_eq!(m(&a, "2024-04-30"), m(&one, "2024-04-30"));
}

/// Splits the real response into two documents, in two files.
fn split_real(dir: &Path) -> (PathBuf, PathBuf, Value) {
    let raw = support::json(support::real(NAVITIA));
    let list = raw["disruptions"].as_array().unwrap().clone();
    let doc = |part: &[Value]| json!({"disruptions": part, "context": raw["context"].clone()});
    let a = write_json(dir, "a.json", &doc(&list[..7]));
    let b = write_json(dir, "b.json", &doc(&list[7..]));
    (a, b, raw)
}

#[test]
fn merge_order_does_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb, raw) = split_real(dir.path());
    let whole = read(&input(&support::real(NAVITIA), "w.json", None)).0;
    let (a, _) = read(&input(&pa, "a.json", None));
    let (b, _) = read(&input(&pb, "b.json", None));
    let mut ab = a.clone();
    ab.merge(b.clone());
    let mut ba = b.clone();
    ba.merge(a.clone());
    assert_eq!(ab, ba);
    assert_eq!(m(&ab, "2024-04-30"), m(&whole, "2024-04-30"));

    // Later versions of two disruptions (other snapshot of the same day) win either way:
    // - disruptions[3] (SIGNIFICANT_DELAYS, Navitia priority 30, no line, all day) becomes
    //   NO_SERVICE: score 60, a 4th CRITIQUE, its raw priority 30 kept;
    // - disruptions[4] only gets Navitia priority 60: not a score, still ELEVEE at 30.
    let mut upgraded = raw["disruptions"][3].clone();
    assert_eq!(upgraded["severity"]["effect"], "SIGNIFICANT_DELAYS");
    upgraded["updated_at"] = json!("20240430T090000");
    upgraded["severity"]["effect"] = json!("NO_SERVICE");
    let mut reprioritised = raw["disruptions"][4].clone();
    assert_eq!(reprioritised["severity"]["effect"], "SIGNIFICANT_DELAYS");
    reprioritised["updated_at"] = json!("20240430T090000");
    reprioritised["severity"]["priority"] = json!(60);
    let up_id = upgraded["id"].as_str().unwrap().to_string();
    let re_id = reprioritised["id"].as_str().unwrap().to_string();
    let pc = write_json(
        dir.path(),
        "c.json",
        &json!({"disruptions": [upgraded, reprioritised], "context": {"current_datetime": "20240430T091000"}}),
    );
    let (c, _) = read(&input(&pc, "c.json", None));
    let mut x = ab.clone();
    x.merge(c.clone());
    let mut y = c;
    y.merge(ba);
    assert_eq!(x, y);
    let mx = m(&x, "2024-04-30");
    assert_eq!(mx, m(&y, "2024-04-30"));
    assert_eq!(mx.total_disruptions_count, 19);
    assert_eq!(
        serde_json::to_value(&mx.disruptions_by_severity).unwrap(),
        json!({"CRITIQUE": 4, "ELEVEE": 15, "MOYENNE": 0, "FAIBLE": 0})
    );
    let find = |id: &str| mx.alerts.iter().find(|a| a.id == id).unwrap();
    let up = find(&up_id);
    assert_eq!(
        (up.priority, up.navitia_priority, up.duration_hours),
        (60, Some(30), 24.0)
    );
    let re = find(&re_id);
    assert_eq!((re.priority, re.navitia_priority), (30, Some(60)));
    assert_eq!(
        mx.snapshot_times,
        vec!["2024-04-30T05:23:03+02:00", "2024-04-30T09:10:00+02:00"]
    );
    let dup = x.duplicates(Some(day("2024-04-30")));
    assert_eq!((dup.count, dup.conflicting), (2, 2));
    // Critical from 2024-04-17 06:00 to 2024-06-01: the whole day -> reliability 0.
    assert_eq!(mx.reliability_index, 0.0);
}

#[test]
fn prim_bulk_array_fixture() {
    let path = fixture("prim_bulk_array.json");
    let f = input(
        &path,
        "api/traffic/dt=2024-04-30/prim.json",
        Some("2024-04-30"),
    );
    let (acc, q) = read(&f);
    let c = cell(&q, Some("2024-04-30"));
    assert_eq!(c.rows_read, 7);
    assert_eq!(c.rows_rejected, 1);
    assert_eq!(c.rejects[&Reason::MissingKey], 1);
    assert_eq!(c.warnings[&Reason::UnknownState], 1); // prim-5: null severity
    assert_eq!(c.missing["application_periods"], 1); // prim-4
    assert_eq!(c.missing["updated_at"], 2); // prim-5, prim-6
    assert_eq!(c.missing["severity"], 1); // prim-5
    assert_eq!(c.missing["period_end"], 1); // prim-3
    assert_eq!(c.categories["snapshot time: partition date"], 7);
    assert!(
        c.samples[0].detail.starts_with("record 7:"),
        "{}",
        c.samples[0].detail
    );

    let got = m(&acc, "2024-04-30");
    assert_eq!(got.snapshot_times, vec!["2024-04-30 (dt=)"]);
    assert_eq!(got.total_disruptions_count, 6); // prim-1..6
    assert_eq!(got.active_disruptions_count, 5); // prim-4 has no period

    // Scores of the 5 counted: prim-1 BLOQUANTE 60, prim-3 PRIM numeric {priority 55} 55,
    // prim-2 PERTURBEE 30, prim-6 effect DETOUR 15 (wins over its INFORMATION), prim-5 null 0.
    let sev = serde_json::to_value(&got.disruptions_by_severity).unwrap();
    assert_eq!(
        sev,
        json!({"CRITIQUE": 2, "ELEVEE": 1, "MOYENNE": 1, "FAIBLE": 1})
    );
    // prim-1: 08-10 ∪ 09-12 = 4 h; prim-3: open from 18:30 = 5.5 h; prim-2: one year -> 24 h;
    // prim-5: 14-17 = 3 h (priority 0 but a line); prim-6: 1 h, no line -> no alert.
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        alert_tuples(&got.alerts),
        vec![
            ("prim-1".into(), 60, 4.0, s(&["Métro 1"])),
            ("prim-3".into(), 55, 5.5, s(&["Tram T3a"])),
            ("prim-2".into(), 30, 24.0, s(&["RER B"])),
            ("prim-5".into(), 0, 3.0, s(&["Bus 72"])),
        ]
    );
    // Only prim-3 has a numeric priority: the raw value is the score here (PRIM numeric).
    assert_eq!(
        alert_raw(&got.alerts),
        vec![
            ("prim-1".to_string(), None),
            ("prim-3".to_string(), Some(55)),
            ("prim-2".to_string(), None),
            ("prim-5".to_string(), None),
        ]
    );
    // critical: 08:00-12:00 and 18:30-24:00 = 9.5 h -> (24 - 9.5) / 24 = 60.416.. %
    assert_eq!(got.critical_hours, 9.5);
    assert_eq!(got.reliability_index, 60.42);
    let top: Vec<(&str, u64)> = got
        .top_lignes_impactees
        .iter()
        .map(|l| (l.ligne.as_str(), l.count))
        .collect();
    assert_eq!(
        top,
        vec![("Métro 1", 1), ("RER B", 1), ("Tram T3a", 1), ("Bus 72", 1)]
    );
    assert_eq!(got.disruptions_without_line, 1);
    assert_eq!(got.disruptions_severity_unknown, 1);
    assert_eq!(got.disruptions_by_effect["BLOQUANTE"], 1);
    assert_eq!(got.disruptions_by_effect["DETOUR"], 1);
    assert_eq!(got.disruptions_by_effect["UNKNOWN"], 1);

    // Without a dt= folder the snapshot is the latest lastUpdate (prim-1, 2024-04-30 04:45:54).
    let (acc2, q2) = read(&input(&path, "batch/disruptions-prim.json", None));
    let got2 = m(&acc2, "2024-04-30");
    assert_eq!(got2.snapshot_times, vec!["2024-04-30T04:45:54+02:00"]);
    assert_eq!(
        cell(&q2, Some("2024-04-30")).categories["snapshot time: latest updated_at"],
        7
    );
    let mut g = got2.clone();
    g.snapshot_times = got.snapshot_times.clone();
    assert_eq!(g, got);

    // Outside the selected days: skipped silently.
    let mut q3 = QualityAcc::default();
    let sel = DaySelection {
        from: Some(day("2024-05-01")),
        to: None,
    };
    let acc3 = read_file(&f, &sel, &mut q3);
    assert!(acc3.days().is_empty());
    assert!(q3.cells.is_empty());
}

#[test]
fn null_severity_does_not_crash() {
    let path = fixture("navitia_null_severity.json");
    let (acc, q) = read(&input(&path, "n.json", None));
    let c = cell(&q, Some("2024-04-30"));
    assert_eq!((c.rows_read, c.rows_rejected), (3, 0));
    // n1 `severity: null`, n3 no severity: score 0 with a warning. n2's priority is null but
    // its effect SIGNIFICANT_DELAYS gives 30: no warning.
    assert_eq!(c.warnings[&Reason::UnknownState], 2);
    assert_eq!(c.missing["severity"], 2);
    let got = m(&acc, "2024-04-30");
    assert_eq!(got.active_disruptions_count, 3);
    assert_eq!(got.disruptions_by_severity.FAIBLE, 2);
    assert_eq!(got.disruptions_by_severity.ELEVEE, 1);
    assert_eq!(got.disruptions_severity_unknown, 2);
    assert_eq!(got.reliability_index, 100.0);
    // n2 (6 h) has no impacted object: its line comes from the text; n1 (1 h) is too short;
    // n3 has neither a line nor a score >= 30.
    assert_eq!(
        alert_tuples(&got.alerts),
        vec![("n2".into(), 30, 6.0, vec!["RER A".to_string()])]
    );
    assert_eq!(alert_raw(&got.alerts), vec![("n2".to_string(), None)]);
}

#[test]
fn dst_days_have_23_and_25_hours() {
    let path = fixture("navitia_dst.jsonl");
    let (acc, q) = read(&input(&path, "api/traffic/2024-10-27/stream.jsonl", None));
    assert!(!q.has_rejects());
    assert_eq!(
        acc.days(),
        BTreeSet::from([day("2024-03-31"), day("2024-10-27")])
    );
    let spring = m(&acc, "2024-03-31");
    assert_eq!(spring.day_hours, 23);
    assert_eq!(spring.alerts[0].duration_hours, 23.0);
    assert_eq!(spring.reliability_index, 0.0);
    let autumn = m(&acc, "2024-10-27");
    assert_eq!(autumn.day_hours, 25);
    // "night": 01:00 summer time -> 04:00 winter time = 4 real hours (the repeated hour counts).
    // "autumn" is NO_SERVICE (score 60) whatever its Navitia priority 50.
    assert_eq!(
        alert_tuples(&autumn.alerts),
        vec![
            ("autumn".into(), 60, 25.0, vec!["Tram T3a".to_string()]),
            ("night".into(), 30, 4.0, vec!["Métro 7bis".to_string()]),
        ]
    );
    assert_eq!(
        alert_raw(&autumn.alerts),
        vec![
            ("autumn".to_string(), Some(50)),
            ("night".to_string(), Some(30))
        ]
    );
    assert_eq!(autumn.critical_hours, 25.0);
    assert_eq!(autumn.reliability_index, 0.0);
}

#[test]
fn bad_inputs_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    // Empty file: the file failed.
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, b"").unwrap();
    let (acc, q) = read(&input(&empty, "empty.json", Some("2024-04-30")));
    assert!(acc.days().is_empty());
    assert!(cell(&q, None).files_failed.contains("empty.json"));

    // JSON Lines: a Navitia error body, an ingested non-JSON body, a broken line, a good doc.
    let p = dir.path().join("mixed.jsonl");
    std::fs::write(
        &p,
        concat!(
            "{\"error\": {\"id\": \"no_solution\", \"message\": \"no token\"}}\n",
            "{\"_raw\": \"<html>502 Bad Gateway</html>\"}\n",
            "{\"disruptions\": [{\"id\": \"ok\", \"severity\": {\"effect\": \"REDUCED_SERVICE\", \"priority\": 0}, ",
            "\"application_periods\": [{\"begin\": \"20240430T080000\", \"end\": \"20240430T120000\"}]}], ",
            "\"context\": {\"current_datetime\": \"20240430T070000\"}}\n",
            "{not json\n"
        ),
    )
    .unwrap();
    let (acc, q) = read(&input(&p, "mixed.jsonl", None));
    let undated = cell(&q, None);
    assert_eq!(undated.rows_read, 3);
    assert_eq!(undated.rejects[&Reason::NotARecord], 1);
    assert_eq!(undated.rejects[&Reason::IngestedNonJson], 1);
    assert_eq!(undated.rejects[&Reason::BadJson], 1);
    let got = m(&acc, "2024-04-30");
    assert_eq!(got.active_disruptions_count, 1);
    assert_eq!(
        alert_tuples(&got.alerts),
        vec![("ok".into(), 30, 4.0, vec![])]
    );
    assert!(cell(&q, Some("2024-04-30")).warnings.is_empty());

    // A Navitia priority alone is not a score: 0, a warning, the raw value in the alert.
    let p = write_json(
        dir.path(),
        "prio.json",
        &json!({"context": {"current_datetime": "20240430T070000"}, "disruptions": [
            {"id": "p60", "severity": {"name": "bloquante", "priority": 60},
             "application_periods": [{"begin": "20240430T080000", "end": "20240430T120000"}],
             "messages": [{"text": "Ligne 4 : trafic interrompu"}]}
        ]}),
    );
    let (acc, q) = read(&input(&p, "prio.json", None));
    let c = cell(&q, Some("2024-04-30"));
    assert_eq!(c.warnings[&Reason::UnknownState], 1);
    let got = m(&acc, "2024-04-30");
    assert_eq!(got.disruptions_by_severity.FAIBLE, 1);
    assert_eq!(got.disruptions_severity_unknown, 1);
    assert_eq!(got.reliability_index, 100.0);
    // 4 h with a line: an alert by its duration, at score 0.
    assert_eq!(
        alert_tuples(&got.alerts),
        vec![("p60".into(), 0, 4.0, vec!["Métro 4".to_string()])]
    );
    assert_eq!(alert_raw(&got.alerts), vec![("p60".to_string(), Some(60))]);

    // No snapshot time at all (no context, no dt= folder, no updated_at): rejected, counted.
    let p = write_json(
        dir.path(),
        "bare.json",
        &json!([{"id": "a", "severity": "BLOQUANTE"}, {"id": "b", "severity": "PERTURBEE"}]),
    );
    let (acc, q) = read(&input(&p, "bare.json", None));
    assert!(acc.days().is_empty());
    assert_eq!(cell(&q, None).rejects[&Reason::UnparseableDate], 2);

    // A bad period rejects its disruption only; an empty response is still a day (100 %).
    let p = write_json(
        dir.path(),
        "periods.json",
        &json!({"context": {"current_datetime": "20240430T070000"}, "disruptions": [
            {"id": "bad", "severity": {"effect": "NO_SERVICE"}, "application_periods": [{"begin": "30/04/2024", "end": "20240430T120000"}]},
            {"id": "rev", "severity": {"effect": "NO_SERVICE"}, "application_periods": [{"begin": "20240430T120000", "end": "20240430T080000"}]},
            {"id": "good", "severity": {"effect": "DETOUR"}, "application_periods": [{"begin": "20240430T080000", "end": "20240430T090000"}]}
        ]}),
    );
    let (acc, q) = read(&input(&p, "periods.json", None));
    let c = cell(&q, Some("2024-04-30"));
    assert_eq!(c.rows_read, 3);
    assert_eq!(c.rejects[&Reason::UnparseableDate], 1);
    assert_eq!(c.rejects[&Reason::Inconsistent], 1);
    assert_eq!(m(&acc, "2024-04-30").total_disruptions_count, 1);
    let p = write_json(
        dir.path(),
        "none.json",
        &json!({"context": {"current_datetime": "20240501T070000"}, "disruptions": []}),
    );
    let (acc, _) = read(&input(&p, "none.json", None));
    let got = m(&acc, "2024-05-01");
    assert_eq!(
        (got.total_disruptions_count, got.reliability_index),
        (0, 100.0)
    );
}
