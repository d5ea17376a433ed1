//! Tests of the `bikes` source (real files and fixtures).
//!
//! The real API page is checked against figures computed here straight from its JSON (serde_json
//! and chrono-tz, not the crate's code); the fixtures' expected values are worked out by hand in
//! the comments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Timelike};
use chrono_tz::Europe::Paris;
use serde_json::Value;

use cityflow::discover::InputFile;
use cityflow::geo::ArrondissementIndex;
use cityflow::metrics::bikes::{metrics, BikesAcc, BikesMetrics, CounterDayMetrics};
use cityflow::quality::{QualityAcc, Reason, SourceQuality};
use cityflow::sources::bikes::{read_file, SOURCE};
use cityflow::sources::DaySelection;

use crate::support::*;

/// Σ counts, hours with a count, and (largest count, its instant, its Paris hour).
type Expected = (u64, u32, Option<(u64, i64, u32)>);

const REAL_API: &str = "comptage-velo/api_v2.1_records_page_fixture_ambiya12.json";
const ARRONDISSEMENTS: &str = "geo/arrondissements-paris.geojson";

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/bikes").join(name)
}

fn input(path: &Path, rel: &str) -> InputFile {
    InputFile::new(path, rel, SOURCE, None)
}

fn read_sel(path: &Path, rel: &str, sel: DaySelection) -> (BikesAcc, QualityAcc) {
    let mut q = QualityAcc::default();
    let acc = read_file(&input(path, rel), &sel, &mut q);
    (acc, q)
}

fn read(path: &Path, rel: &str) -> (BikesAcc, QualityAcc) {
    read_sel(path, rel, DaySelection::default())
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn cell<'a>(q: &'a QualityAcc, d: Option<&str>) -> &'a SourceQuality {
    q.cells
        .get(&(SOURCE, d.map(day)))
        .unwrap_or_else(|| panic!("no quality cell for {d:?}: {:?}", q.cells.keys()))
}

fn total_rejects(q: &QualityAcc) -> u64 {
    q.cells.values().map(|c| c.rows_rejected).sum()
}

fn no_index() -> ArrondissementIndex {
    ArrondissementIndex::default()
}

fn real_index() -> ArrondissementIndex {
    let v: Value = serde_json::from_slice(&crate::support::read(real(ARRONDISSEMENTS))).unwrap();
    let (idx, problems) = ArrondissementIndex::from_geojson(&v);
    assert!(problems.is_empty(), "{problems:?}");
    idx
}

fn m(acc: &BikesAcc, d: &str) -> BikesMetrics {
    metrics(acc, day(d), &no_index()).unwrap_or_else(|| panic!("no metrics for {d}"))
}

fn counter<'a>(bm: &'a BikesMetrics, id: &str) -> &'a CounterDayMetrics {
    bm.metrics
        .iter()
        .find(|c| c.id_compteur == id)
        .unwrap_or_else(|| panic!("{id} not in metrics"))
}

// ----------------------------------------------------------------------------------------------
// Real data

#[test]
fn real_api_page_equals_a_computation_from_its_json() {
    let path = real(REAL_API);
    let (acc, q) = read(&path, "api/bikes/dt=2026-01-01/hour=02/page.json");
    assert_eq!(total_rejects(&q), 0, "{q:#?}");

    // Independent figures, straight from the JSON: per counter and Paris day, Σ sum_counts,
    // number of records with a count, and the Paris hour of the largest count (earliest).
    let raw: Value = serde_json::from_slice(&crate::support::read(&path)).unwrap();
    let records = raw["results"].as_array().unwrap();
    assert_eq!(records.len(), raw["total_count"].as_u64().unwrap() as usize);
    let mut expected: BTreeMap<(String, NaiveDate), Expected> = BTreeMap::new();
    for r in records {
        let id = r["id_compteur"].as_str().unwrap().to_string();
        let local = DateTime::parse_from_rfc3339(r["date"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Paris);
        let e = expected.entry((id, local.date_naive())).or_default();
        if let Some(n) = r["sum_counts"].as_u64() {
            e.0 += n;
            e.1 += 1;
            let better = match e.2 {
                None => true,
                Some((best, ts, _)) => n > best || (n == best && local.timestamp() < ts),
            };
            if better {
                e.2 = Some((n, local.timestamp(), local.hour()));
            }
        }
    }
    assert_eq!(expected.len(), 1, "one counter, one Paris day in this page");

    let idx = real_index();
    for ((id, d), (total, hours, peak)) in &expected {
        assert_eq!(*d, day("2025-12-31"));
        assert_eq!(acc.days().into_iter().collect::<Vec<_>>(), vec![*d]);
        let bm = metrics(&acc, *d, &idx).unwrap();
        assert!(
            bm.failing_sensors.is_empty(),
            "2 hours cannot mark it failing"
        );
        let c = counter(&bm, id);
        assert_eq!(c.date, d.to_string());
        assert_eq!(c.total_jour, *total);
        assert_eq!(c.heures_observees, *hours);
        assert_eq!(c.moyenne_horaire, Some(*total as f64 / f64::from(*hours)));
        assert_eq!(c.pic_horaire, peak.map(|p| p.2));
        assert_eq!(c.nom_compteur, records[0]["nom_compteur"].as_str().unwrap());
        let co = c.coordinates.unwrap();
        assert_eq!(co.lon, records[0]["coordinates"]["lon"].as_f64().unwrap());
        assert_eq!(co.lat, records[0]["coordinates"]["lat"].as_f64().unwrap());
        // 44 avenue des Champs-Élysées is in the 8th arrondissement
        assert_eq!(c.arrondissement.as_deref(), Some("75008"));
        assert_eq!(bm.total_velos, *total);
        assert_eq!(bm.top_counters, bm.metrics);
        assert_eq!(bm.frequentation_index, *total as f64 / 1000.0);
    }
    // the page's figures, for the record: 69 at 13:00 Paris and 0 at 22:00
    let c = &m(&acc, "2025-12-31").metrics[0];
    assert_eq!(
        (c.total_jour, c.pic_horaire, c.heures_observees),
        (69, Some(13), 2)
    );
    let rows = cell(&q, Some("2025-12-31"));
    assert_eq!(rows.rows_read, 2);
    assert!(rows.missing.is_empty(), "{:?}", rows.missing);
    assert_eq!(acc.duplicates(Some(day("2025-12-31"))).count, 0);
}

#[test]
fn real_api_page_read_twice_counts_once() {
    let path = real(REAL_API);
    let (a, _) = read(&path, "api/bikes/dt=2026-01-01/hour=02/a.json");
    let (b, _) = read(&path, "api/bikes/dt=2026-01-01/hour=03/b.json");
    let mut ab = a.clone();
    ab.merge(b);
    let d = day("2025-12-31");
    assert_eq!(metrics(&ab, d, &no_index()), metrics(&a, d, &no_index()));
    let dup = ab.duplicates(Some(d));
    assert_eq!((dup.count, dup.conflicting), (2, 0));
}

// ----------------------------------------------------------------------------------------------
// CSV export

#[test]
fn csv_with_bom_crlf_quoted_semicolon_multiline_and_null_count() {
    let (acc, q) = read(
        &fixture("comptage-velo-donnees-compteurs.csv"),
        "batch/comptage-velo-donnees-compteurs.csv",
    );
    assert_eq!(total_rejects(&q), 0, "{q:#?}");
    assert_eq!(
        acc.days().into_iter().collect::<Vec<_>>(),
        vec![day("2024-01-04"), day("2024-01-05")]
    );
    let bm = m(&acc, "2024-01-04");
    // counter A: 3 (2024-01-03T23:00Z = 00:00 Paris) + 45 (08:00) + 120 (09:00) + null (10:00)
    // + 7 (23:00) = 175 over 4 observed hours: mean 43.75, peak at 9
    let a = counter(&bm, "100003096-353242251");
    assert_eq!(a.date, "2024-01-04");
    assert_eq!(a.nom_compteur, "97 avenue Denfert-Rochereau SO-NE");
    assert_eq!(a.total_jour, 175);
    assert_eq!(a.heures_observees, 4);
    assert_eq!(a.moyenne_horaire, Some(43.75));
    assert_eq!(a.pic_horaire, Some(9));
    let co = a.coordinates.unwrap();
    assert_eq!(
        (co.lon, co.lat),
        (2.33274, 48.83421),
        "\"lat, lon\" read in order"
    );
    // counter B, the quoted name holding `;`: 12 + 30 = 42, mean 21, peak at 9
    let b = counter(&bm, "100047542-103047542");
    assert_eq!(b.nom_compteur, "Quai d'Orsay; E-O");
    assert_eq!(
        (
            b.total_jour,
            b.heures_observees,
            b.moyenne_horaire,
            b.pic_horaire
        ),
        (42, 2, Some(21.0), Some(9))
    );
    let ids: Vec<&str> = bm.metrics.iter().map(|c| c.id_compteur.as_str()).collect();
    assert_eq!(ids, vec!["100003096-353242251", "100047542-103047542"]);
    assert_eq!(bm.total_velos, 217); // 175 + 42
    assert_eq!(bm.frequentation_index, 0.217); // 217 / 100000 × 100
    assert!(bm.failing_sensors.is_empty() && bm.anomalies.is_empty());
    // the next day: 2 at 00:00
    assert_eq!(
        counter(&m(&acc, "2024-01-05"), "100003096-353242251").total_jour,
        2
    );

    let c = cell(&q, Some("2024-01-04"));
    assert_eq!(c.rows_read, 7);
    assert_eq!(c.missing.get("sum_counts"), Some(&1));
    assert_eq!(c.missing.get("coordinates"), None);
    assert_eq!(cell(&q, Some("2024-01-05")).rows_read, 1);
    assert!(!q.cells.contains_key(&(SOURCE, None)));

    // with the real arrondissements
    let bm = metrics(&acc, day("2024-01-04"), &real_index()).unwrap();
    assert_eq!(bm.metrics[0].arrondissement.as_deref(), Some("75014")); // Denfert-Rochereau
    assert_eq!(bm.metrics[1].arrondissement.as_deref(), Some("75007")); // quai d'Orsay
}

#[test]
fn csv_with_an_extra_column_in_the_middle() {
    let (acc, q) = read(
        &fixture("comptage-velo-extra-column.csv"),
        "batch/comptage-velo-extra-column.csv",
    );
    assert_eq!(total_rejects(&q), 0, "{q:#?}");
    // 200 (2024-06-30T22:00Z = 00:00 Paris) + 310 (08:00) + 310 (18:00) + 95 (21:00Z = 23:00)
    // = 915 over 4 hours: mean 228.75; 310 at 8 and 18, the earliest is 8
    let bm = m(&acc, "2024-07-01");
    let c = counter(&bm, "100036718-104036718");
    assert_eq!(c.nom_compteur, "Totem 73 boulevard de Sébastopol S-N");
    assert_eq!(
        (
            c.total_jour,
            c.heures_observees,
            c.moyenne_horaire,
            c.pic_horaire
        ),
        (915, 4, Some(228.75), Some(8))
    );
    assert_eq!(c.coordinates.unwrap().lat, 48.86462);
    assert_eq!(acc.days().len(), 1);
}

#[test]
fn csv_without_the_optional_columns() {
    let (acc, q) = read(
        &fixture("comptage-velo-missing-columns.csv"),
        "batch/comptage-velo-missing-columns.csv",
    );
    assert_eq!(total_rejects(&q), 0, "{q:#?}");
    let bm = metrics(&acc, day("2024-01-04"), &real_index()).unwrap();
    let c = &bm.metrics[0];
    // 14 (08:00) + 6 (09:00) = 20, mean 10, peak at 8; no coordinates, no arrondissement
    assert_eq!(
        (
            c.total_jour,
            c.heures_observees,
            c.moyenne_horaire,
            c.pic_horaire
        ),
        (20, 2, Some(10.0), Some(8))
    );
    assert_eq!(c.coordinates, None);
    assert_eq!(c.arrondissement, None);
    assert_eq!(
        cell(&q, Some("2024-01-04")).missing.get("coordinates"),
        Some(&2)
    );
}

#[test]
fn csv_bad_rows_are_rejected_one_by_one() {
    let (acc, q) = read(
        &fixture("comptage-velo-bad-rows.csv"),
        "batch/comptage-velo-bad-rows.csv",
    );
    // dated rows: line 2 ok, 3 negative, 5 "2.5", 6 "abc", 7 no id, 9 bad point (used)
    let c = cell(&q, Some("2024-01-04"));
    assert_eq!(c.rows_read, 6);
    assert_eq!(c.rows_rejected, 4);
    assert_eq!(c.rejects.get(&Reason::ValueOutOfRange), Some(&1));
    assert_eq!(c.rejects.get(&Reason::BadNumber), Some(&2));
    assert_eq!(c.rejects.get(&Reason::MissingKey), Some(&1));
    assert_eq!(c.warnings.get(&Reason::BadPoint), Some(&1));
    assert_eq!(c.missing.get("coordinates"), Some(&1));
    let lines: Vec<(u64, Reason)> = c.samples.iter().map(|s| (s.line, s.reason)).collect();
    assert_eq!(
        lines,
        vec![
            (3, Reason::ValueOutOfRange),
            (5, Reason::BadNumber),
            (6, Reason::BadNumber),
            (7, Reason::MissingKey)
        ]
    );
    assert!(
        c.samples[0].detail.contains("sum_counts"),
        "{:?}",
        c.samples[0]
    );
    // undated rows: line 4 "04/01/2024 10:00", 8 short, 10 empty date
    let u = cell(&q, None);
    assert_eq!((u.rows_read, u.rows_rejected), (3, 3));
    assert_eq!(u.rejects.get(&Reason::UnparseableDate), Some(&2));
    assert_eq!(u.rejects.get(&Reason::WrongColumnCount), Some(&1));
    // used: 5 at 08:00 and 8 at 14:00; the bad point did not erase line 2's coordinates
    let bm = m(&acc, "2024-01-04");
    let c = &bm.metrics[0];
    assert_eq!(
        (c.total_jour, c.heures_observees, c.pic_horaire),
        (13, 2, Some(14))
    );
    assert_eq!(c.coordinates.unwrap().lon, 2.33274);
}

#[test]
fn csv_without_a_required_column_fails_as_a_file() {
    let body = "Identifiant du compteur;Nom du compteur;Date et heure de comptage\n\
                1-2;A;2024-01-04T08:00:00+01:00\n1-2;A;2024-01-04T09:00:00+01:00\n";
    let dir = tree(&[("batch/comptage-velo-x.csv", body.as_bytes().to_vec())]);
    let (acc, q) = read(
        &dir.path().join("batch/comptage-velo-x.csv"),
        "batch/comptage-velo-x.csv",
    );
    assert!(acc.is_empty());
    let u = cell(&q, None);
    assert_eq!((u.rows_read, u.rows_rejected), (2, 2));
    assert!(u.files_failed.contains("batch/comptage-velo-x.csv"));
    assert!(
        u.samples[0].detail.contains("Comptage horaire"),
        "{:?}",
        u.samples
    );
}

#[test]
fn csv_split_in_two_files_merges_the_same_both_ways() {
    let whole = crate::support::read(fixture("comptage-velo-donnees-compteurs.csv"));
    let ls = lines(&whole);
    // header + records 1..3 | header + the rest (the multi-line record stays whole in part 2)
    let (head, rest) = ls.split_at(4);
    let part1: Vec<u8> = head.concat();
    let mut part2 = ls[0].clone();
    part2.extend(rest.concat());
    let dir = tree(&[
        ("batch/comptage-velo-1.csv", part1),
        ("batch/comptage-velo-2.csv", part2),
    ]);
    let (a, _) = read(
        &dir.path().join("batch/comptage-velo-1.csv"),
        "batch/comptage-velo-1.csv",
    );
    let (b, _) = read(
        &dir.path().join("batch/comptage-velo-2.csv"),
        "batch/comptage-velo-2.csv",
    );
    let (w, _) = read(
        &fixture("comptage-velo-donnees-compteurs.csv"),
        "batch/comptage-velo-donnees-compteurs.csv",
    );
    let mut ab = a.clone();
    ab.merge(b.clone());
    let mut ba = b;
    ba.merge(a);
    for d in ["2024-01-04", "2024-01-05"] {
        let whole = m(&w, d);
        assert_eq!(m(&ab, d), whole, "{d}");
        assert_eq!(m(&ba, d), whole, "{d}");
    }
    assert_eq!(m(&ab, "2024-01-04").total_velos, 217);
}

#[test]
fn day_selection_skips_rows_silently() {
    let sel = DaySelection {
        from: Some(day("2024-01-05")),
        to: Some(day("2024-01-05")),
    };
    let (acc, q) = read_sel(
        &fixture("comptage-velo-donnees-compteurs.csv"),
        "batch/comptage-velo-donnees-compteurs.csv",
        sel,
    );
    assert_eq!(
        acc.days().into_iter().collect::<Vec<_>>(),
        vec![day("2024-01-05")]
    );
    assert_eq!(q.cells.len(), 1, "{:?}", q.cells.keys());
    assert_eq!(cell(&q, Some("2024-01-05")).rows_read, 1);
}

// ----------------------------------------------------------------------------------------------
// API JSON and JSON Lines

#[test]
fn json_record_repeated_in_two_files_counts_once() {
    let (p1, q1) = read(
        &fixture("api-page-1.json"),
        "api/bikes/dt=2025-11-04/hour=02/p1.json",
    );
    let (p2, q2) = read(
        &fixture("api-page-2.json"),
        "api/bikes/dt=2025-11-04/hour=03/p2.json",
    );
    assert_eq!(total_rejects(&q1) + total_rejects(&q2), 0);
    let c1 = cell(&q1, Some("2025-11-01"));
    assert_eq!(c1.rows_read, 4);
    assert_eq!(c1.missing.get("sum_counts"), Some(&1));
    assert_eq!(c1.missing.get("coordinates"), Some(&2)); // null coordinates: no crash
    let mut ab = p1.clone();
    ab.merge(p2.clone());
    let mut ba = p2;
    ba.merge(p1);
    let d = day("2025-11-01");
    assert_eq!(m(&ab, "2025-11-01"), m(&ba, "2025-11-01"));
    assert_eq!(m(&ab, "2025-11-02"), m(&ba, "2025-11-02"));
    let bm = m(&ab, "2025-11-01");
    // D: 40 (16:00Z = 17:00 Paris) + 25 (22:00Z = 23:00, in both pages, counted once) = 65
    let dc = counter(&bm, "100007049-101007049");
    assert_eq!(
        (
            dc.total_jour,
            dc.heures_observees,
            dc.moyenne_horaire,
            dc.pic_horaire
        ),
        (65, 2, Some(32.5), Some(17))
    );
    // E: 18 in page 1 and 21 in page 2 for 17:00: conflicting, the larger kept; the null count
    // at 18:00 is not an observed hour
    let ec = counter(&bm, "100007049-102007049");
    assert_eq!(
        (ec.total_jour, ec.heures_observees, ec.pic_horaire),
        (21, 1, Some(17))
    );
    assert_eq!(ec.coordinates, None);
    assert_eq!(ec.arrondissement, None);
    let dup = ab.duplicates(Some(d));
    assert_eq!(dup, ba.duplicates(Some(d)));
    assert_eq!((dup.count, dup.conflicting), (2, 1));
    assert_eq!(
        dup.samples,
        vec![
            "counter 100007049-101007049 at 2025-11-01T23:00:00+01:00",
            "counter 100007049-102007049 at 2025-11-01T17:00:00+01:00"
        ]
    );
    // 2025-11-01T23:00Z is 00:00 on Nov 2 in Paris
    assert_eq!(
        counter(&m(&ab, "2025-11-02"), "100007049-101007049").pic_horaire,
        Some(0)
    );
}

#[test]
fn json_lines_ingestion_form() {
    let (acc, q) = read(
        &fixture("ingestion.jsonl"),
        "api/bikes/2025-11-02/stream-data-1762063200-abc.json",
    );
    // dated: lines 1, 2 (no coordinates key), 4 (null id), 5 (lat 148: bad point), 7
    let c = cell(&q, Some("2025-11-02"));
    assert_eq!((c.rows_read, c.rows_rejected), (5, 1));
    assert_eq!(c.rejects.get(&Reason::MissingKey), Some(&1));
    assert_eq!(c.samples[0].line, 4);
    assert_eq!(c.warnings.get(&Reason::BadPoint), Some(&1));
    assert_eq!(c.missing.get("coordinates"), Some(&2));
    // undated: line 3 `{"_raw"}` and line 6 truncated
    let u = cell(&q, None);
    assert_eq!((u.rows_read, u.rows_rejected), (2, 2));
    assert_eq!(u.rejects.get(&Reason::IngestedNonJson), Some(&1));
    assert_eq!(u.rejects.get(&Reason::BadJson), Some(&1));
    let bm = m(&acc, "2025-11-02");
    // D: 10 (08:00 Paris) + 12 (09:00) + 7 (11:00) = 29, peak at 9; E: 4 at 10:00
    let dc = counter(&bm, "100007049-101007049");
    assert_eq!(
        (dc.total_jour, dc.heures_observees, dc.pic_horaire),
        (29, 3, Some(9))
    );
    assert!(dc.coordinates.is_some(), "line 1's coordinates are kept");
    assert_eq!(counter(&bm, "100007049-102007049").total_jour, 4);

    // with page 2 (33 at 00:00 on Nov 2), in any order: D = 29 + 33 = 62, peak at 0
    let (p2, _) = read(
        &fixture("api-page-2.json"),
        "api/bikes/dt=2025-11-04/hour=03/p2.json",
    );
    let (p1, _) = read(
        &fixture("api-page-1.json"),
        "api/bikes/dt=2025-11-04/hour=02/p1.json",
    );
    let parts = [acc, p1, p2];
    let mut results = Vec::new();
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1]] {
        let mut all = BikesAcc::default();
        for i in order {
            all.merge(parts[i].clone());
        }
        results.push((m(&all, "2025-11-01"), m(&all, "2025-11-02")));
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    let d2 = &results[0].1;
    let dc = counter(d2, "100007049-101007049");
    assert_eq!((dc.total_jour, dc.pic_horaire), (62, Some(0)));
    // yesterday 65, today 62: no anomaly
    assert!(d2.anomalies.is_empty());
}
