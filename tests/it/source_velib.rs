//! Tests of the `velib` source (real files and fixtures).
//!
//! The real GBFS pair and the real CSV export are checked against sums computed here straight
//! over the raw files (serde_json / the csv crate), not against the crate's own parsing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate};
use chrono_tz::Europe::Paris;
use cityflow::discover::InputFile;
use cityflow::geo::ArrondissementIndex;
use cityflow::metrics::velib::{metrics, VelibAcc, VelibMetrics};
use cityflow::quality::{QualityAcc, Reason, SourceQuality};
use cityflow::sources::velib::{read_file, SOURCE};
use cityflow::sources::DaySelection;
use serde_json::Value;

use crate::support;

fn input(path: &Path, rel: &str, partition_date: Option<NaiveDate>) -> InputFile {
    InputFile::new(path, rel, SOURCE, partition_date)
}

fn read(path: &Path, rel: &str, q: &mut QualityAcc) -> VelibAcc {
    read_file(&input(path, rel, None), &DaySelection::default(), q)
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn arrondissements() -> ArrondissementIndex {
    let v = support::json(support::real("geo/arrondissements-paris.geojson"));
    let (idx, problems) = ArrondissementIndex::from_geojson(&v);
    assert!(problems.is_empty(), "{problems:?}");
    idx
}

fn real_status() -> PathBuf {
    support::real("velib/gbfs_station_status_banacchini_pretty.json")
}

fn real_information() -> PathBuf {
    support::real("velib/gbfs_station_information_banacchini_pretty.json")
}

fn real_csv() -> PathBuf {
    support::real("velib/velib-disponibilite_mxvml_2026.csv")
}

fn fixture(name: &str) -> PathBuf {
    support::repo().join("tests/fixtures/velib").join(name)
}

fn cell(q: &QualityAcc, day: Option<NaiveDate>) -> SourceQuality {
    q.cells.get(&(SOURCE, day)).cloned().unwrap_or_default()
}

fn paris_day(epoch: i64) -> NaiveDate {
    DateTime::from_timestamp(epoch, 0)
        .unwrap()
        .with_timezone(&Paris)
        .date_naive()
}

/// The figures checked against the independent computations.
#[derive(Debug, Default, PartialEq)]
struct Totals {
    stations: u64,
    en_service: u64,
    hors_service: u64,
    obsoletes: u64,
    capacite: u64,
    velos: u64,
    mecaniques: u64,
    electriques: u64,
    bornettes: u64,
    vides: u64,
    pleines: u64,
}

impl Totals {
    fn of(m: &VelibMetrics) -> Totals {
        Totals {
            stations: m.nombre_stations,
            en_service: m.stations_en_service,
            hors_service: m.stations_hors_service,
            obsoletes: m.stations_obsoletes,
            capacite: m.capacite_totale,
            velos: m.velos_disponibles,
            mecaniques: m.velos_mecaniques,
            electriques: m.velos_electriques,
            bornettes: m.bornettes_libres,
            vides: m.stations_vides,
            pleines: m.stations_pleines,
        }
    }
}

/// The groups add up to the stations in service.
fn check_groups(m: &VelibMetrics) {
    let g = &m.par_arrondissement;
    assert_eq!(
        g.iter().map(|g| g.stations).sum::<u64>(),
        m.stations_en_service
    );
    assert_eq!(g.iter().map(|g| g.velos).sum::<u64>(), m.velos_disponibles);
    assert_eq!(g.iter().map(|g| g.capacite).sum::<u64>(), m.capacite_totale);
    let names: BTreeSet<&str> = g.iter().map(|g| g.arrondissement.as_str()).collect();
    assert_eq!(names.len(), g.len(), "groups are unique");
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not a count"))
}

/// Independent: the real GBFS pair summed with serde_json, ids as u64.
fn gbfs_expected() -> (NaiveDate, Totals, BTreeSet<String>, Vec<String>) {
    let status = support::json(real_status());
    let info = support::json(real_information());
    let t = u(&status["lastUpdatedOther"]);
    let caps: HashMap<u64, u64> = info["data"]["stations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (u(&s["station_id"]), u(&s["capacity"])))
        .collect();
    let mut e = Totals::default();
    let mut ids = BTreeSet::new();
    let mut empty: Vec<(u64, u64, u64)> = Vec::new();
    for s in status["data"]["stations"].as_array().unwrap() {
        let id = u(&s["station_id"]);
        ids.insert(id.to_string());
        e.stations += 1;
        if t - u(&s["last_reported"]) > 86_400 {
            e.obsoletes += 1;
            continue;
        }
        if u(&s["is_installed"]) != 1 || u(&s["is_renting"]) != 1 {
            e.hors_service += 1;
            continue;
        }
        e.en_service += 1;
        let bikes = u(&s["num_bikes_available"]);
        let docks = u(&s["num_docks_available"]);
        e.velos += bikes;
        e.bornettes += docks;
        e.capacite += caps[&id];
        for ty in s["num_bikes_available_types"].as_array().unwrap() {
            e.mecaniques += ty.get("mechanical").map_or(0, u);
            e.electriques += ty.get("ebike").map_or(0, u);
        }
        if bikes == 0 {
            e.vides += 1;
            empty.push((docks, caps[&id], id));
        }
        if docks == 0 {
            e.pleines += 1;
        }
    }
    // most free docks first, then largest capacity, then id
    empty.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let top = empty.iter().take(10).map(|x| x.2.to_string()).collect();
    (paris_day(t as i64), e, ids, top)
}

#[test]
fn real_gbfs_pair_matches_an_independent_sum() {
    let mut q = QualityAcc::default();
    let mut acc = read(&real_status(), "api/velib/station_status.json", &mut q);
    acc.merge(read(
        &real_information(),
        "api/velib/station_information.json",
        &mut q,
    ));
    assert!(!q.has_rejects(), "{q:?}");
    let (day, expected, ids, top) = gbfs_expected();
    // lastUpdatedOther 1732004538 = 2024-11-19T09:22:18+01:00
    assert_eq!(day, d("2024-11-19"));
    assert_eq!(acc.days(), BTreeSet::from([day]));
    let m = metrics(&acc, day, &arrondissements()).unwrap();
    assert_eq!(Totals::of(&m), expected);
    assert_eq!(m.stations_sans_capacite, 0);
    assert_eq!(expected.stations, 1485);
    assert!(
        expected.obsoletes > 0,
        "the real snapshot has stale stations"
    );
    let rate = expected.velos as f64 * 100.0 / expected.capacite as f64;
    assert!((m.taux_occupation.unwrap() - rate).abs() <= 0.005, "{rate}");
    // every id exactly as in the file, some of them above 2^31
    assert_eq!(acc.station_ids(day), ids);
    assert!(ids.iter().any(|i| i.parse::<u64>().unwrap() > 1 << 31));
    let got: Vec<&str> = m
        .top_stations_vides
        .iter()
        .map(|s| s.station_id.as_str())
        .collect();
    assert_eq!(got, top);
    assert!(m
        .top_stations_pleines
        .iter()
        .all(|s| s.bornettes_libres == Some(0)));
    check_groups(&m);
    assert_eq!(
        m.par_arrondissement.len(),
        21,
        "20 arrondissements + Hors Paris"
    );
    // quality: one row per station of each file, all used
    let c = cell(&q, Some(day));
    assert_eq!((c.rows_read, c.rows_rejected), (2 * 1485, 0));
    assert_eq!(c.categories["etat: en service"], expected.en_service);
    assert_eq!(
        c.categories["etat: obsolete (dernier rapport > 24 h)"],
        expected.obsoletes
    );
    assert!(c.categories["texte: double encodage UTF-8 réparé"] > 0);
    assert!(c.missing.is_empty(), "{:?}", c.missing);
    assert_eq!(acc.duplicates(Some(day)).count, 0);
    // names are repaired
    let json = serde_json::to_string(&m).unwrap();
    assert!(!json.contains('Ã'), "{json}");
}

#[test]
fn real_status_without_information_is_still_counted() {
    let mut q = QualityAcc::default();
    let acc = read(&real_status(), "api/velib/station_status.json", &mut q);
    assert!(!q.has_rejects());
    let (day, expected, _, _) = gbfs_expected();
    let m = metrics(&acc, day, &arrondissements()).unwrap();
    let got = Totals::of(&m);
    assert_eq!(
        got,
        Totals {
            capacite: 0,
            ..expected
        }
    );
    assert_eq!(m.stations_sans_capacite, 1485);
    assert_eq!(m.taux_occupation, None);
    // no place known: one group
    assert_eq!(m.par_arrondissement.len(), 1);
    assert_eq!(m.par_arrondissement[0].arrondissement, "Inconnu");
    assert!(m
        .top_stations_vides
        .iter()
        .all(|s| s.capacite.is_none() && s.nom.is_none()));
    // information alone is no availability day
    let mut q = QualityAcc::default();
    let info = read(
        &real_information(),
        "api/velib/station_information.json",
        &mut q,
    );
    assert!(info.days().is_empty());
    assert_eq!(cell(&q, Some(day)).rows_read, 1485);
}

#[test]
fn real_status_read_twice_counts_each_report_once() {
    let mut q = QualityAcc::default();
    let mut once = read(&real_status(), "a/station_status.json", &mut q);
    once.merge(read(
        &real_information(),
        "a/station_information.json",
        &mut q,
    ));
    let mut twice = once.clone();
    let mut q2 = QualityAcc::default();
    twice.merge(read(&real_status(), "b/station_status.json", &mut q2));
    let day = d("2024-11-19");
    let dup = twice.duplicates(Some(day));
    assert_eq!((dup.count, dup.conflicting), (1485, 0));
    assert_eq!(dup.samples.len(), 20);
    let idx = arrondissements();
    assert_eq!(metrics(&once, day, &idx), metrics(&twice, day, &idx));
    // rows_used = rows_read - rejected - duplicates = the first read's rows
    assert_eq!(cell(&q2, Some(day)).rows_read, 1485);
}

/// Writes the real status as two snapshot files of the same time, stations split odd/even.
fn split_status(dir: &Path) -> (PathBuf, PathBuf) {
    let mut doc = support::json(real_status());
    let stations = doc["data"]["stations"].as_array().unwrap().clone();
    let mut paths = Vec::new();
    for part in 0..2 {
        let mine: Vec<Value> = stations
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == part)
            .map(|(_, s)| s.clone())
            .collect();
        doc["data"]["stations"] = Value::Array(mine);
        let p = dir.join(format!("station_status_{part}.json"));
        std::fs::write(&p, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        paths.push(p);
    }
    (paths[0].clone(), paths[1].clone())
}

#[test]
fn merge_order_does_not_change_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = split_status(dir.path());
    let idx = arrondissements();
    let day = d("2024-11-19");
    let mut q = QualityAcc::default();
    let pa = read(&a, "a.json", &mut q);
    let pb = read(&b, "b.json", &mut q);
    let pi = read(&real_information(), "i.json", &mut q);
    let mut abi = pa.clone();
    abi.merge(pb.clone());
    abi.merge(pi.clone());
    let mut iba = pi;
    iba.merge(pb);
    iba.merge(pa);
    assert_eq!(abi, iba);
    let mut whole = read(&real_status(), "s.json", &mut q);
    whole.merge(read(&real_information(), "i.json", &mut q));
    let m = metrics(&whole, day, &idx).unwrap();
    assert_eq!(metrics(&abi, day, &idx).unwrap(), m);
    assert_eq!(metrics(&iba, day, &idx).unwrap(), m);
    assert_eq!(abi.duplicates(Some(day)).count, 0);

    // the CSV export split in two files by rows (each half is still a snapshot of that time)
    let bytes = support::read(real_csv());
    let lines = support::lines(&bytes);
    let mut halves = [lines[0].clone(), lines[0].clone()];
    for (i, l) in lines[1..].iter().enumerate() {
        halves[i % 2].extend_from_slice(l);
    }
    let mut q = QualityAcc::default();
    let parts: Vec<VelibAcc> = halves
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let p = dir.path().join(format!("velib-{i}.csv"));
            std::fs::write(&p, h).unwrap();
            read(&p, &format!("velib-{i}.csv"), &mut q)
        })
        .collect();
    let mut ab = parts[0].clone();
    ab.merge(parts[1].clone());
    let mut ba = parts[1].clone();
    ba.merge(parts[0].clone());
    assert_eq!(ab, ba);
    let whole = read(&real_csv(), "velib.csv", &mut QualityAcc::default());
    for day in whole.days() {
        assert_eq!(metrics(&ab, day, &idx), metrics(&whole, day, &idx), "{day}");
    }
    assert_eq!(ab.days(), whole.days());
}

#[test]
fn real_csv_matches_an_independent_csv_computation() {
    let path = real_csv();
    let mut q = QualityAcc::default();
    let acc = read(&path, "batch/velib-disponibilite-en-temps-reel.csv", &mut q);
    assert!(!q.has_rejects(), "{q:?}");
    // Independent: the csv crate over the raw file.
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(&path)
        .unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        header[0].trim_start_matches('\u{feff}'),
        "Identifiant station"
    );
    assert_eq!(header.len(), 15);
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1509);
    let time = |r: &csv::StringRecord| DateTime::parse_from_rfc3339(&r[10]).unwrap().timestamp();
    let newest = rows.iter().map(time).max().unwrap();
    let mut expected: BTreeMap<NaiveDate, Totals> = BTreeMap::new();
    let n = |r: &csv::StringRecord, i: usize| r[i].parse::<u64>().unwrap();
    for r in &rows {
        let t = time(r);
        let stale = newest - t > 86_400;
        // a stale row counts on the export's day, a fresh one on its own
        let day = paris_day(if stale { newest } else { t });
        let e = expected.entry(day).or_default();
        e.stations += 1;
        if stale {
            e.obsoletes += 1;
        } else if &r[2] == "OUI" && &r[8] == "OUI" {
            e.en_service += 1;
            e.capacite += n(r, 3);
            e.bornettes += n(r, 4);
            e.velos += n(r, 5);
            e.mecaniques += n(r, 6);
            e.electriques += n(r, 7);
            e.vides += u64::from(n(r, 5) == 0);
            e.pleines += u64::from(n(r, 4) == 0);
        } else {
            e.hors_service += 1;
        }
    }
    assert_eq!(acc.days(), expected.keys().copied().collect());
    let idx = arrondissements();
    let mut read_rows = 0;
    for (day, e) in &expected {
        let m = metrics(&acc, *day, &idx).unwrap();
        assert_eq!(&Totals::of(&m), e, "{day}");
        check_groups(&m);
        read_rows += cell(&q, Some(*day)).rows_read;
    }
    assert_eq!(read_rows, 1509);
    let m = metrics(&acc, d("2026-04-06"), &idx).unwrap();
    // the export of 2026-04-06: rows updated from 2021 on are stale stations of that day
    assert_eq!(m.nombre_stations, 1509);
    assert!(m.stations_obsoletes > 0);
    // the stations of other communes are grouped by commune, Paris's by arrondissement
    let groups: BTreeMap<&str, u64> = m
        .par_arrondissement
        .iter()
        .map(|g| (g.arrondissement.as_str(), g.stations))
        .collect();
    assert!(groups.contains_key("Boulogne-Billancourt"));
    assert!(groups.contains_key("75015"));
    assert!(!groups.contains_key("Hors Paris"));
}

#[test]
fn csv_with_14_columns_bom_crlf_and_bad_rows() {
    let mut q = QualityAcc::default();
    let rel = "batch/velib-disponibilite-14-colonnes.csv";
    let acc = read(&fixture("velib-disponibilite-14-colonnes.csv"), rel, &mut q);
    let idx = arrondissements();
    assert_eq!(
        acc.days(),
        BTreeSet::from([d("2026-04-05"), d("2026-04-06")])
    );
    let m = metrics(&acc, d("2026-04-06"), &idx).unwrap();
    // 16107, 32304, 40001 (out of service), 9020 (full), 21010 (stale), 1001 (no capacity)
    assert_eq!(
        Totals::of(&m),
        Totals {
            stations: 6,
            en_service: 4,
            hors_service: 1,
            obsoletes: 1,
            // 35 + 28 + 21 (1001 has none)
            capacite: 84,
            // 7 + 17 + 21 + 3
            velos: 48,
            // 6 + 11 + 12 + 3
            mecaniques: 32,
            // 1 + 6 + 9 + 0
            electriques: 16,
            // 27 + 11 + 0 + 5
            bornettes: 43,
            vides: 0,
            pleines: 1,
        }
    );
    // (7 + 17 + 21) / 84 = 53.571 %
    assert_eq!(m.taux_occupation, Some(53.57));
    assert_eq!(m.stations_sans_capacite, 1);
    assert_eq!(m.top_stations_pleines[0].station_id, "9020");
    let groups: Vec<(&str, u64)> = m
        .par_arrondissement
        .iter()
        .map(|g| (g.arrondissement.as_str(), g.stations))
        .collect();
    // 9020 in the 9th, 16107 in the 16th, 1001 (Paris, no point), 32304 in Romainville
    assert_eq!(
        groups,
        vec![("75009", 1), ("75016", 1), ("Paris", 1), ("Romainville", 1)]
    );
    // 14111, updated at 23:50 the day before: its own day
    let m5 = metrics(&acc, d("2026-04-05"), &idx).unwrap();
    assert_eq!((m5.nombre_stations, m5.stations_vides), (1, 1));
    assert_eq!(
        m5.top_stations_vides[0].nom.as_deref(),
        Some("Cassini - Denfert-Rochereau")
    );

    let c6 = cell(&q, Some(d("2026-04-06")));
    // six stations + the row with a bad number (line 10: the quoted name of line 8 spans 2 lines)
    assert_eq!((c6.rows_read, c6.rows_rejected), (7, 1));
    assert_eq!(c6.rejects[&Reason::BadNumber], 1);
    assert_eq!(
        c6.samples[0].render(),
        format!("{rel}:10: bad_number: field `Nombre bornettes libres`: \"abc\" is not a number")
    );
    assert_eq!(c6.missing["capacite"], 1);
    assert_eq!(c6.missing["coordonnees"], 1);
    assert_eq!(c6.categories["etat: hors service"], 1);
    let undated = cell(&q, None);
    assert_eq!((undated.rows_read, undated.rows_rejected), (2, 2));
    let samples: Vec<String> = undated.samples.iter().map(|s| s.render()).collect();
    assert_eq!(
        samples,
        vec![
            format!(
                "{rel}:11: unparseable_date: field `Actualisation de la donnée`: \"hier\": not an ISO-8601 date or date-time"
            ),
            format!("{rel}:12: wrong_column_count: expected 14 fields, found 6 (truncated or shifted row)"),
        ]
    );
    // rows read = used + rejected: 1 on the 5th, 6 + 1 on the 6th, 2 undated
    let total: u64 = q.cells.values().map(|c| c.rows_read).sum();
    assert_eq!(total, 10);
    // a day selection skips the other day's rows silently
    let mut q = QualityAcc::default();
    let sel = DaySelection {
        from: Some(d("2026-04-05")),
        to: Some(d("2026-04-05")),
    };
    let acc = read_file(
        &input(&fixture("velib-disponibilite-14-colonnes.csv"), rel, None),
        &sel,
        &mut q,
    );
    assert_eq!(acc.days(), BTreeSet::from([d("2026-04-05")]));
    assert_eq!(cell(&q, Some(d("2026-04-06"))).rows_read, 0);
}

#[test]
fn gbfs_fixture_quirks_and_duplicates_across_two_snapshots() {
    let idx = arrondissements();
    let day = d("2024-11-19");
    let mut q = QualityAcc::default();
    let a = read(
        &fixture("station_status_a.json"),
        "api/velib/a.json",
        &mut q,
    );
    let info = read(
        &fixture("station_information.json"),
        "api/velib/i.json",
        &mut q,
    );
    let mut acc = a.clone();
    acc.merge(info.clone());
    let m = metrics(&acc, day, &idx).unwrap();
    // 213688169, 19335882998, 36255 (stale), 999 (no info), 1001; 3 rows rejected
    assert_eq!(
        Totals::of(&m),
        Totals {
            stations: 5,
            en_service: 4,
            hors_service: 0,
            obsoletes: 1,
            // 35 + 20 + 10 (999 has no information)
            capacite: 65,
            // 1 + 5 + 0 + 4
            velos: 10,
            // 1 + 1 + (999: missing) + 4
            mecaniques: 6,
            // 0 + 4 + 0
            electriques: 4,
            // 34 + 15 + 3 + 0
            bornettes: 52,
            vides: 1,
            pleines: 1,
        }
    );
    // (1 + 5 + 4) / 65 = 15.385 %
    assert_eq!(m.taux_occupation, Some(15.38));
    // 999 only (36255, stale, has its information)
    assert_eq!(m.stations_sans_capacite, 1);
    let groups: Vec<(&str, u64, u64, u64)> = m
        .par_arrondissement
        .iter()
        .map(|g| (g.arrondissement.as_str(), g.stations, g.velos, g.capacite))
        .collect();
    assert_eq!(
        groups,
        vec![
            ("75016", 1, 1, 35),
            ("Hors Paris", 1, 5, 20),
            // 999 (no information), 1001 (bad point)
            ("Inconnu", 2, 4, 10),
        ]
    );
    assert_eq!(
        m.top_stations_pleines[0].nom.as_deref(),
        Some("Jourdan - Stade Charléty")
    );
    assert_eq!(m.top_stations_vides[0].station_id, "999");
    let c = cell(&q, Some(day));
    // 8 status rows + 4 information rows; 1000 (bad number), 42, and the station without id
    assert_eq!((c.rows_read, c.rows_rejected), (12, 3));
    assert_eq!(c.rejects[&Reason::BadNumber], 1);
    assert_eq!(c.rejects[&Reason::NotARecord], 1);
    assert_eq!(c.rejects[&Reason::MissingKey], 1);
    assert_eq!(c.warnings[&Reason::UnknownState], 1);
    assert_eq!(c.warnings[&Reason::BadPoint], 1);
    assert_eq!(c.missing["last_reported"], 1);
    assert_eq!(c.missing["velos_mecaniques"], 1);
    assert_eq!(c.missing["station_en_location"], 1);
    let samples: Vec<String> = c.samples.iter().map(|s| s.render()).collect();
    assert!(samples.contains(
        &"api/velib/a.json:1: bad_number: station 1000: field `num_bikes_available`: \"abc\" is not a number"
            .to_string()
    ));

    // a second snapshot an hour later: 213688169 repeated as is, 19335882998 repeated with other
    // values (same last_reported), 36255 reported again (no longer stale)
    let b = read(
        &fixture("station_status_b.json"),
        "api/velib/b.json",
        &mut q,
    );
    let mut ab = acc.clone();
    ab.merge(b.clone());
    let mut ba = b;
    ba.merge(info);
    ba.merge(a);
    assert_eq!(ab, ba);
    let dup = ab.duplicates(Some(day));
    assert_eq!((dup.count, dup.conflicting), (2, 1));
    assert_eq!(
        dup.samples,
        vec![
            "station 213688169 at 2024-11-19T08:35:04+01:00",
            "station 19335882998 at 2024-11-19T09:00:00+01:00",
        ]
    );
    let m = metrics(&ab, day, &idx).unwrap();
    assert_eq!(
        Totals::of(&m),
        Totals {
            stations: 5,
            en_service: 5,
            hors_service: 0,
            obsoletes: 0,
            // 35 + 20 + 21 + 10
            capacite: 86,
            // 1 + 6 (the later snapshot's copy) + 3 + 0 + 4
            velos: 14,
            // 1 + 2 + 1 + 0 + 4
            mecaniques: 8,
            // 0 + 4 + 2 + 0 + 0
            electriques: 6,
            // 34 + 14 + 18 + 3 + 0
            bornettes: 69,
            vides: 1,
            pleines: 1,
        }
    );
    // 14 / 86 = 16.279 %
    assert_eq!(m.taux_occupation, Some(16.28));
    assert_eq!(
        m.derniere_actualisation.as_deref(),
        Some("2024-11-19T10:03:20+01:00")
    );
}

#[test]
fn files_that_cannot_be_used_are_reported() {
    let dir = support::tree(&[
        (
            "velib-no-time.csv",
            b"Identifiant station;Nombre total v\xc3\xa9los disponibles\r\n1;2\r\n".to_vec(),
        ),
        ("velib.json", br#"{"hello": "world"}"#.to_vec()),
        (
            "station_status.json",
            br#"{"lastUpdatedOther": "soon", "data": {"stations": [{}, {}]}}"#.to_vec(),
        ),
        ("velib-empty.csv", Vec::new()),
    ]);
    let mut q = QualityAcc::default();
    for (name, _) in [
        ("velib-no-time.csv", 0),
        ("velib.json", 0),
        ("station_status.json", 0),
        ("velib-empty.csv", 0),
    ] {
        let acc = read(&dir.path().join(name), name, &mut q);
        assert!(acc.days().is_empty(), "{name}");
    }
    let c = cell(&q, None);
    assert_eq!(c.files_failed.len(), 3, "{c:?}");
    assert_eq!(c.rejects[&Reason::MissingColumn], 1);
    assert_eq!(c.rejects[&Reason::NotARecord], 1);
    assert_eq!(c.rejects[&Reason::UnparseableDate], 2);
    assert_eq!(c.rejects[&Reason::EmptyFile], 1);
    // 1 CSV row, 1 JSON record, 2 stations
    assert_eq!(c.rows_read, 4);
}

#[test]
fn information_of_a_day_not_processed_is_still_joined() {
    // the station list fetched a week before the status snapshot
    let mut info = support::json(fixture("station_information.json"));
    info["lastUpdatedOther"] = Value::from(1_731_400_000u64); // 2024-11-12
    let dir = support::tree(&[(
        "station_information.json",
        serde_json::to_vec(&info).unwrap(),
    )]);
    let day = d("2024-11-19");
    let sel = DaySelection {
        from: Some(day),
        to: Some(day),
    };
    let mut q = QualityAcc::default();
    let path = dir.path().join("station_information.json");
    let mut acc = read_file(&input(&path, "i.json", None), &sel, &mut q);
    let status = fixture("station_status_a.json");
    acc.merge(read_file(&input(&status, "a.json", None), &sel, &mut q));
    let m = metrics(&acc, day, &arrondissements()).unwrap();
    assert_eq!(m.capacite_totale, 65);
    // its rows are outside the selection: counted nowhere
    assert!(
        q.cells.keys().all(|k| k.1 == Some(day)),
        "{:?}",
        q.cells.keys()
    );
    assert_eq!(cell(&q, Some(day)).rows_read, 8);
}

#[test]
fn opendatasoft_records_are_read_like_the_csv() {
    // the dataset's API records (technical names), as JSON Lines and as a v2.1 response
    let r1 = r#"{"stationcode": "16107", "name": "Benjamin Godard - Victor Hugo", "is_installed": "OUI", "capacity": 35, "numdocksavailable": 27, "numbikesavailable": 7, "mechanical": 6, "ebike": 1, "is_renting": "OUI", "is_returning": "OUI", "duedate": "2026-04-06T12:49:36+02:00", "coordonnees_geo": {"lon": 2.275725, "lat": 48.865983}, "nom_arrondissement_communes": "Paris", "code_insee_commune": "75056"}"#;
    let r2 = r#"{"stationcode": "32304", "name": "Charcot - Benfleet", "is_installed": "OUI", "capacity": 28, "numdocksavailable": 11, "numbikesavailable": 17, "mechanical": 11, "ebike": 6, "is_renting": "OUI", "is_returning": "OUI", "duedate": "2026-04-06T12:46:48+02:00", "coordonnees_geo": {"lon": 2.440523876268, "lat": 48.878370277021}, "nom_arrondissement_communes": "Romainville", "code_insee_commune": "93063"}"#;
    let jsonl = format!("{r1}\n{r2}\n");
    let v21 = format!(r#"{{"total_count": 2, "results": [{r1}, {r2}]}}"#);
    let dir = support::tree(&[
        ("velib.jsonl", jsonl.into_bytes()),
        ("velib-v21.json", v21.into_bytes()),
    ]);
    let idx = arrondissements();
    let day = d("2026-04-06");
    let mut expected = None;
    for name in ["velib.jsonl", "velib-v21.json"] {
        let mut q = QualityAcc::default();
        let acc = read(&dir.path().join(name), name, &mut q);
        assert!(!q.has_rejects(), "{q:?}");
        let m = metrics(&acc, day, &idx).unwrap();
        // 7 + 17 bikes over 35 + 28 docks
        assert_eq!(
            (m.nombre_stations, m.velos_disponibles, m.capacite_totale),
            (2, 24, 63)
        );
        let groups: Vec<&str> = m
            .par_arrondissement
            .iter()
            .map(|g| g.arrondissement.as_str())
            .collect();
        assert_eq!(groups, vec!["75016", "Romainville"]);
        assert_eq!(
            acc.station_ids(day),
            BTreeSet::from(["16107".into(), "32304".into()])
        );
        match &expected {
            None => expected = Some(m),
            Some(e) => assert_eq!(e, &m),
        }
    }
    // the same station from the CSV export and the GBFS feed on one day is counted once
    let mut q = QualityAcc::default();
    let mut acc = read(&dir.path().join("velib.jsonl"), "velib.jsonl", &mut q);
    let gbfs = r#"{"lastUpdatedOther": 1775472600, "data": {"stations": [{"station_id": 213688169, "num_bikes_available": 9, "num_bikes_available_types": [{"mechanical": 9}, {"ebike": 0}], "num_docks_available": 26, "is_installed": 1, "is_renting": 1, "is_returning": 1, "last_reported": 1775472500, "stationCode": "16107"}]}}"#;
    let dir2 = support::tree(&[("station_status.json", gbfs.as_bytes().to_vec())]);
    acc.merge(read(
        &dir2.path().join("station_status.json"),
        "s.json",
        &mut q,
    ));
    let m = metrics(&acc, day, &idx).unwrap();
    // 1775472500 = 2026-04-06T12:48:20+02:00 is older than the record of 12:49:36: 7 + 17
    assert_eq!((m.nombre_stations, m.velos_disponibles), (2, 24));
}

#[test]
fn odd_inputs_are_counted_never_fatal() {
    let header = "Identifiant station;Nom station;Nombre total vélos disponibles;Actualisation de la donnée\r\n";
    let mut csv = header.as_bytes().to_vec();
    // a Latin-1 name (kept with a warning), a Latin-1 id (rejected)
    csv.extend_from_slice(b"1;Caf\xe9;3;2026-04-06T12:00:00+02:00\r\n");
    csv.extend_from_slice(b"\xe9;X;3;2026-04-06T12:00:00+02:00\r\n");
    csv.extend_from_slice(b";Sans id;3;2026-04-06T12:00:00+02:00\r\n");
    csv.extend_from_slice(b"4;Vide;;\r\n");
    let gbfs = br#"{"data": null}
{"data": {"stations": null}}
{"last_updated": 1732004538, "data": {"stations": [
  {"station_id": null, "num_bikes_available": 1},
  {"station_id": {"x": 1}, "num_bikes_available": 1},
  {"station_id": 7, "num_bikes_available": 1, "num_bikes_available_types": [[1]]},
  {"station_id": 8, "num_bikes_available": 1, "last_reported": 1e20},
  {"station_id": 9, "num_bikes_available": -1},
  {"station_id": 10, "num_bikes_available": 2, "is_installed": "??", "lat": 95, "lon": 2},
  {"station_id": 11, "lat": 48.8, "lon": 2.3, "capacity": 2.5}
]}}
{"_raw": "<html>502</html>"}
"#;
    let dir = support::tree(&[
        ("velib-odd.csv", csv),
        ("station_status_odd.json", gbfs.to_vec()),
    ]);
    let mut q = QualityAcc::default();
    let acc = read(&dir.path().join("velib-odd.csv"), "velib-odd.csv", &mut q);
    let day = d("2026-04-06");
    let c = cell(&q, Some(day));
    // rows 1 and ";Sans id" are on the day; the Latin-1 id and the empty date are undated
    assert_eq!((c.rows_read, c.rows_rejected), (2, 1));
    assert_eq!(c.warnings[&Reason::InvalidUtf8Text], 1);
    assert_eq!(c.rejects[&Reason::MissingKey], 1);
    let u = cell(&q, None);
    assert_eq!(u.rejects[&Reason::InvalidUtf8], 1);
    assert_eq!(u.rejects[&Reason::UnparseableDate], 1);
    assert_eq!(
        metrics(&acc, day, &arrondissements())
            .unwrap()
            .nombre_stations,
        1
    );

    let mut q = QualityAcc::default();
    let acc = read(
        &dir.path().join("station_status_odd.json"),
        "s.json",
        &mut q,
    );
    let day = d("2024-11-19");
    let c = cell(&q, Some(day));
    // 7 stations: 2 without a usable id, 7's types, 8's date, 9's count and 11's capacity
    // rejected; 10 used with two warnings (unknown flag, latitude 95)
    assert_eq!((c.rows_read, c.rows_rejected), (7, 6), "{c:?}");
    assert_eq!(c.warnings[&Reason::UnknownState], 1);
    assert_eq!(c.warnings[&Reason::BadPoint], 1);
    assert_eq!(c.rejects[&Reason::MissingKey], 2);
    assert_eq!(c.rejects[&Reason::DateOutOfRange], 1);
    assert_eq!(c.rejects[&Reason::ValueOutOfRange], 1);
    assert_eq!(c.rejects[&Reason::BadNumber], 2);
    let u = cell(&q, None);
    // `data: null`, `stations: null`, the `_raw` body
    assert_eq!((u.rows_read, u.rows_rejected), (3, 3));
    assert_eq!(u.rejects[&Reason::IngestedNonJson], 1);
    let m = metrics(&acc, day, &arrondissements()).unwrap();
    assert_eq!((m.nombre_stations, m.velos_disponibles), (1, 2));
}
