//! Tests of the `chantiers` source (real files and fixtures).
//!
//! Real files are checked against independent counts done here with the `csv` crate over the raw
//! bytes (active works: `start ≤ D ≤ end` compared as ISO text), and areas against Python
//! geographiclib (tests/independent/geodesic_areas.py, geodesic on WGS84). Fixtures are hand-written, one
//! per quirk, with values computed by hand in comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::{json, Value};

use cityflow::discover::InputFile;
use cityflow::geo::ArrondissementIndex;
use cityflow::metrics::chantiers::{metrics, ChantiersAcc, ChantiersMetrics};
use cityflow::quality::{QualityAcc, Reason, SourceQuality};
use cityflow::sources::chantiers::{read_file, SOURCE};
use cityflow::sources::DaySelection;

use crate::support::{self, real};

const AMEYA: &str = "chantiers-perturbants/chantiers-perturbants_ameya_2023.csv";
const DORA: &str = "chantiers-perturbants/chantiers-perturbants_dorabijvoet_2024.csv";

fn fixture(name: &str) -> PathBuf {
    support::repo().join("tests/fixtures/chantiers").join(name)
}

fn input(path: &Path, rel: &str) -> InputFile {
    InputFile::new(path, rel, SOURCE, None)
}

fn read(path: &Path, rel: &str) -> (ChantiersAcc, QualityAcc) {
    let mut q = QualityAcc::default();
    let acc = read_file(&input(path, rel), &DaySelection::default(), &mut q);
    (acc, q)
}

fn read_real(rel: &str) -> (ChantiersAcc, QualityAcc) {
    read(&real(rel), rel)
}

/// The one quality cell of chantiers (rows are undated), samples sorted as in the reports.
fn cell(q: &QualityAcc) -> SourceQuality {
    assert_eq!(
        q.cells.keys().collect::<Vec<_>>(),
        vec![&(SOURCE, None)],
        "chantiers rows are undated"
    );
    q.clone().finish().cells[&(SOURCE, None)].clone()
}

fn samples(c: &SourceQuality) -> Vec<String> {
    c.samples.iter().map(|s| s.render()).collect()
}

fn warnings(c: &SourceQuality) -> Vec<String> {
    c.warning_samples.iter().map(|s| s.render()).collect()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn real_index() -> ArrondissementIndex {
    let v: Value = support::json(real("geo/arrondissements-paris.geojson"));
    let (idx, problems) = ArrondissementIndex::from_geojson(&v);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(idx.items.len(), 20);
    idx
}

/// A one-square index: 75004 = [2.34, 2.36] × [48.85, 48.86] (holds 2.3522, 48.8566 and
/// 2.355, 48.855), for fixtures that need a point lookup.
fn small_index() -> ArrondissementIndex {
    let fc = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"c_ar": 4},
         "geometry": {"type": "Polygon", "coordinates": [[[2.34, 48.85], [2.36, 48.85], [2.36, 48.86], [2.34, 48.86], [2.34, 48.85]]]}}
    ]});
    ArrondissementIndex::from_geojson(&fc).0
}

fn ids(m: &ChantiersMetrics) -> Vec<&str> {
    m.chantiers_actifs
        .iter()
        .map(|a| a.identifiant.as_str())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Independent reading of the raw CSV (csv crate, header by name, BOM stripped).

struct RawRow {
    fields: BTreeMap<String, String>,
}

impl RawRow {
    fn get(&self, k: &str) -> &str {
        self.fields.get(k).map(String::as_str).unwrap_or("")
    }
}

fn raw_rows(path: &Path) -> Vec<RawRow> {
    let bytes = support::read(path);
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut r = csv::ReaderBuilder::new().delimiter(b';').from_reader(body);
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), header.len());
            RawRow {
                fields: header
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(str::to_string))
                    .collect(),
            }
        })
        .collect()
}

/// Valid works of raw rows, by id: the version with the latest (end, start). Invalid = empty
/// date or start after end (ISO dates compare as text).
fn raw_works(rows: &[RawRow]) -> BTreeMap<String, &RawRow> {
    let mut out: BTreeMap<String, &RawRow> = BTreeMap::new();
    for r in rows {
        let (s, e) = (r.get("Date de début"), r.get("Date de fin"));
        if s.is_empty() || e.is_empty() || s > e {
            continue;
        }
        let key = |x: &RawRow| {
            (
                x.get("Date de fin").to_string(),
                x.get("Date de début").to_string(),
            )
        };
        match out.get(r.get("Identifiant")) {
            Some(cur) if key(cur) >= key(r) => {}
            _ => {
                out.insert(r.get("Identifiant").to_string(), r);
            }
        }
    }
    out
}

fn raw_active<'a>(works: &BTreeMap<String, &'a RawRow>, d: &str) -> Vec<&'a RawRow> {
    works
        .values()
        .filter(|r| r.get("Date de début") <= d && d <= r.get("Date de fin"))
        .copied()
        .collect()
}

/// Every date worth checking: each start and end, and the days around them.
fn dates_to_check(rows: &[RawRow]) -> BTreeSet<NaiveDate> {
    let mut out = BTreeSet::new();
    for r in rows {
        for k in ["Date de début", "Date de fin"] {
            if let Ok(d) = NaiveDate::parse_from_str(r.get(k), "%Y-%m-%d") {
                out.extend([d.pred_opt().unwrap(), d, d.succ_opt().unwrap()]);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Real files

#[test]
fn real_2023_export_rows_and_the_exact_rejects() {
    let (acc, q) = read_real(AMEYA);
    let c = &cell(&q);
    assert_eq!(c.rows_read, 192);
    assert_eq!(c.rows_rejected, 1);
    // CP002436 has no dates at all (nor anything but its shape and Statut): rejected, not active.
    assert_eq!(
        samples(c),
        [format!(
            "{AMEYA}:228: unparseable_date: work CP002436: field `Date de début` is empty"
        )]
    );
    assert!(c.warnings.is_empty(), "{:?}", warnings(c));
    assert_eq!(acc.len(), 191);
    assert_eq!(acc.duplicates(None).count, 0);
    // SOURCES.md: empty values: Code postal 2, Typologie 3, Impact 5, Niveau 4 (one of each is the
    // rejected CP002436).
    assert_eq!(c.missing["code_postal_arrondissement"], 1);
    assert_eq!(c.missing["typologie"], 2);
    assert_eq!(c.missing["impact_circulation"], 4);
    assert_eq!(c.missing["niveau_perturbation"], 3);
    // impact distribution of the used rows (RESTREINTE 142, SENS_UNIQUE 23, BARRAGE_TOTAL 19,
    // IMPASSE 3, empty 5 in the file, minus CP002436's empty one)
    assert_eq!(
        c.categories,
        BTreeMap::from([
            ("(vide)".to_string(), 4),
            ("BARRAGE_TOTAL".to_string(), 19),
            ("IMPASSE".to_string(), 3),
            ("RESTREINTE".to_string(), 142),
            ("SENS_UNIQUE".to_string(), 23),
        ])
    );
}

#[test]
fn real_2024_export_rows_and_the_exact_rejects() {
    let (acc, q) = read_real(DORA);
    let c = &cell(&q);
    assert_eq!(c.rows_read, 75);
    assert_eq!(c.rows_rejected, 3);
    assert_eq!(
        c.rejects,
        BTreeMap::from([(Reason::UnparseableDate, 1), (Reason::Inconsistent, 2)])
    );
    assert_eq!(
        samples(c),
        [
            format!("{DORA}:17: unparseable_date: work CP002436: field `Date de début` is empty"),
            format!(
                "{DORA}:26: inconsistent: work CP002710: `Date de début` 2024-11-04 is after `Date de fin` 2024-10-26"
            ),
            format!(
                "{DORA}:34: inconsistent: work CP002708: `Date de début` 2024-12-02 is after `Date de fin` 2024-10-30"
            ),
        ]
    );
    assert!(c.warnings.is_empty(), "{:?}", warnings(c));
    assert_eq!(acc.len(), 72);
}

#[test]
fn real_active_counts_equal_an_independent_count_on_every_boundary_date() {
    for rel in [AMEYA, DORA] {
        let (acc, _) = read_real(rel);
        let rows = raw_rows(&real(rel));
        let works = raw_works(&rows);
        let idx = ArrondissementIndex::default();
        let dates = dates_to_check(&rows);
        assert!(dates.len() > 100, "{rel}: {}", dates.len());
        let mut nonzero = 0;
        for d in dates {
            let m = metrics(&acc, d, &idx).unwrap();
            let expect = raw_active(&works, &d.to_string());
            let expect_ids: Vec<&str> = expect.iter().map(|r| r.get("Identifiant")).collect();
            assert_eq!(ids(&m), expect_ids, "{rel} on {d}");
            assert_eq!(m.total_chantiers_actifs, expect.len() as u64);
            if !expect.is_empty() {
                nonzero += 1;
            }
        }
        assert!(nonzero > 50, "{rel}: {nonzero}");
    }
}

#[test]
fn real_work_ending_on_the_day_is_active_all_day() {
    // CP002337 (Avenue des Champs Élysées): 2022-06-13 .. 2023-12-01, and no postal code.
    let (acc, _) = read_real(AMEYA);
    let idx = real_index();
    let on = metrics(&acc, day("2023-12-01"), &idx).unwrap();
    let w = on
        .chantiers_actifs
        .iter()
        .find(|a| a.identifiant == "CP002337")
        .expect("active on its end date");
    // no postal code: the point (48.8693, 2.3082) is in the 8th arrondissement
    assert_eq!(w.arrondissement.as_deref(), Some("75008"));
    let after = metrics(&acc, day("2023-12-02"), &idx).unwrap();
    assert!(!ids(&after).contains(&"CP002337"));
    let before = metrics(&acc, day("2022-06-12"), &idx).unwrap();
    assert!(!ids(&before).contains(&"CP002337"));
    assert!(ids(&metrics(&acc, day("2022-06-13"), &idx).unwrap()).contains(&"CP002337"));
}

#[test]
fn real_impact_map_zones_and_surface_against_independent_values() {
    let idx = real_index();
    for (rel, d) in [(AMEYA, "2023-06-15"), (DORA, "2024-12-10")] {
        let (acc, _) = read_real(rel);
        let rows = raw_rows(&real(rel));
        let works = raw_works(&rows);
        let active = raw_active(&works, d);
        let m = metrics(&acc, day(d), &idx).unwrap();
        assert!(active.len() > 20, "{rel} {d}: {}", active.len());
        // Independent areas: Python geographiclib (geodesic, WGS84).
        let geodesic = support::python_pkgs("geodesic_areas.py", &[&real(rel)]);
        // Arrondissement: the postal code; the two works without one are known by hand:
        // CP002337 (Champs Élysées) -> 75008, CP002709 (128 rue de Longchamp) -> 75016.
        let arr = |r: &RawRow| -> String {
            match (
                r.get("Code postal de l'arrondissement"),
                r.get("Identifiant"),
            ) {
                ("", "CP002337") => "75008".into(),
                ("", "CP002709") => "75016".into(),
                ("", other) => panic!("unexpected work without postal code {other}"),
                (cp, _) => cp.to_string(),
            }
        };
        let weight = |r: &RawRow| -> u64 {
            match r.get("Impact sur la circulation") {
                "BARRAGE_TOTAL" => 100,
                "IMPASSE" => 80,
                "RESTREINTE" => 50,
                "SENS_UNIQUE" => 30,
                _ => 0,
            }
        };
        let mut impact: BTreeMap<String, u64> = BTreeMap::new();
        let mut count: BTreeMap<String, u64> = BTreeMap::new();
        let mut surface = 0.0;
        for r in &active {
            *impact.entry(arr(r)).or_default() += weight(r);
            *count.entry(arr(r)).or_default() += 1;
            surface += geodesic[r.get("Identifiant")].as_f64().unwrap();
        }
        assert_eq!(m.impact_by_arrondissement, impact, "{rel} {d}");
        let mut zones: Vec<(String, u64)> = count.into_iter().filter(|(_, n)| *n > 3).collect();
        zones.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let got: Vec<(String, u64)> = m
            .zones_critiques
            .iter()
            .map(|z| (z.arrondissement.clone(), z.nombre_chantiers))
            .collect();
        assert_eq!(got, zones, "{rel} {d}");
        assert!(!zones.is_empty());
        // the same to 1e-6 (beyond the 0.01 m² rounding of each work)
        let rel_err = (m.surface_totale_impactee_m2 - surface).abs() / surface;
        assert!(
            rel_err < 1e-6,
            "{rel} {d}: {} vs {surface}",
            m.surface_totale_impactee_m2
        );
        // every active real work has a polygon
        assert_eq!(m.chantiers_sans_surface, 0);
        let each: f64 = m
            .chantiers_actifs
            .iter()
            .map(|a| a.surface_m2.unwrap())
            .sum();
        assert!((each - m.surface_totale_impactee_m2).abs() < 1e-6);
    }
}

#[test]
fn real_two_exports_merge_into_one_work_per_identifiant_whatever_the_order() {
    let (a, qa) = read_real(AMEYA);
    let (b, qb) = read_real(DORA);
    let mut ab = a.clone();
    ab.merge(b.clone());
    let mut ba = b;
    ba.merge(a);
    assert_eq!(ab, ba);
    // independent: ids valid in both files
    let rows_a = raw_rows(&real(AMEYA));
    let rows_b = raw_rows(&real(DORA));
    let (wa, wb) = (raw_works(&rows_a), raw_works(&rows_b));
    let both: Vec<&String> = wa.keys().filter(|k| wb.contains_key(*k)).collect();
    assert_eq!(both.len(), 15, "{both:?}");
    let dup = ab.duplicates(None);
    assert_eq!(dup.count, 15);
    // rows whose dates, codes or labels differ between the two exports are conflicting; the
    // others may differ in geometry digits (areas rounded to 0.01 m²) or not at all.
    let fields = [
        "Date de début",
        "Date de fin",
        "Code postal de l'arrondissement",
        "Typologie",
        "Impact sur la circulation",
        "Niveau de perturbation",
    ];
    let differ = both
        .iter()
        .filter(|k| fields.iter().any(|f| wa[**k].get(f) != wb[**k].get(f)))
        .count() as u64;
    assert!(differ > 0);
    assert!(
        dup.conflicting >= differ && dup.conflicting <= 15,
        "{dup:?}"
    );
    assert_eq!(dup.samples.len(), 15);
    // rows used = read - rejected - duplicates = (192 + 75) - (1 + 3) - 15 = 248 distinct works
    let mut q = qa;
    q.merge(qb);
    let c = &cell(&q);
    assert_eq!(c.rows_read - c.rows_rejected - dup.count, 248);
    assert_eq!(ab.len(), 248);
    // the kept version is the latest end date: CP000139 ends 2023-12-29 in 2023, 2024-12-20 in 2024
    assert_eq!(ab.work("CP000139").unwrap().end, day("2024-12-20"));
    // active sets of the merged exports = independent dedup by latest (end, start)
    let mut all = rows_a;
    all.extend(rows_b);
    let works = raw_works(&all);
    let idx = ArrondissementIndex::default();
    for d in dates_to_check(&all) {
        let m = metrics(&ab, d, &idx).unwrap();
        let expect: Vec<&str> = raw_active(&works, &d.to_string())
            .iter()
            .map(|r| r.get("Identifiant"))
            .collect();
        assert_eq!(ids(&m), expect, "{d}");
        assert_eq!(m, metrics(&ba, d, &idx).unwrap());
    }
}

#[test]
fn real_file_split_in_two_gives_the_same_works() {
    // Rows of the 2023 export dealt alternately into two files (written back with the csv crate,
    // multi-line fields kept); reading both and merging either way = reading the whole file.
    let path = real(AMEYA);
    let bytes = support::read(&path);
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap();
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .from_reader(body);
    let recs: Vec<csv::ByteRecord> = r.byte_records().map(Result::unwrap).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut parts = Vec::new();
    for k in 0..2 {
        let p = dir.path().join(format!("part{k}.csv"));
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .terminator(csv::Terminator::CRLF)
            .from_path(&p)
            .unwrap();
        w.write_byte_record(&recs[0]).unwrap();
        for (i, rec) in recs[1..].iter().enumerate() {
            if i % 2 == k {
                w.write_byte_record(rec).unwrap();
            }
        }
        w.flush().unwrap();
        parts.push(p);
    }
    let (whole, _) = read_real(AMEYA);
    let (x, qx) = read(&parts[0], "part0.csv");
    let (y, qy) = read(&parts[1], "part1.csv");
    assert_eq!(cell(&qx).rows_read + cell(&qy).rows_read, 192);
    assert_eq!(cell(&qx).rows_rejected + cell(&qy).rows_rejected, 1);
    let mut xy = x.clone();
    xy.merge(y.clone());
    let mut yx = y;
    yx.merge(x);
    assert_eq!(xy, whole);
    assert_eq!(yx, whole);
    let idx = real_index();
    for d in ["2023-01-01", "2023-06-15", "2023-08-21"] {
        assert_eq!(
            metrics(&xy, day(d), &idx),
            metrics(&whole, day(d), &idx),
            "{d}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

#[test]
fn csv_fixture_bom_mixed_line_ends_and_multiline_fields() {
    // BOM, header ended by CRLF, records ended alternately by CRLF and LF, quoted fields holding
    // `\n`, `\r\n`, `;` and `""`, no newline at the end of the file.
    let rel = "batch/chantiers-quirks.csv";
    let (acc, q) = read(&fixture("chantiers-quirks.csv"), rel);
    let c = &cell(&q);
    assert_eq!(c.rows_read, 9);
    assert_eq!(
        samples(c),
        [
            format!("{rel}:7: unparseable_date: work Q4: field `Date de début` is empty"),
            format!(
                "{rel}:8: inconsistent: work Q5: `Date de début` 2024-11-04 is after `Date de fin` 2024-10-26"
            ),
            format!("{rel}:13: missing_key: field `Identifiant` is empty"),
        ]
    );
    assert_eq!(
        warnings(c),
        [
            format!("{rel}:9: bad_geometry: work Q6: field `geo_shape` is empty: no area"),
            format!(
                "{rel}:9: unknown_state: work Q6: field `Impact sur la circulation`: unknown value \"Déviation\", weight 0"
            ),
            format!(
                "{rel}:10: bad_geometry: work Q7: `geo_shape`: geometry is not JSON: key must be a string at line 1 column 2: no area"
            ),
        ]
    );
    assert_eq!(c.missing["typologie"], 1);
    assert_eq!(c.missing["code_postal_arrondissement"], 1);
    assert_eq!(acc.len(), 6);

    let m = metrics(&acc, day("2024-03-01"), &small_index()).unwrap();
    assert_eq!(ids(&m), ["Q1", "Q2", "Q3", "Q6", "Q7", "Q9"]);
    // Q1 RESTREINTE 75010; Q2 BARRAGE_TOTAL 75116 -> 75016; Q3 IMPASSE, no code, point
    // (2.3522, 48.8566) -> 75004; Q6 unknown impact 75010; Q7 SENS_UNIQUE 75010; Q9 RESTREINTE 75010
    // 75010: 50 + 0 + 30 + 50 = 130 over 4 works (> 3: critical)
    assert_eq!(
        serde_json::to_value(&m.impact_by_arrondissement).unwrap(),
        json!({"75004": 80, "75010": 130, "75016": 100})
    );
    assert_eq!(
        serde_json::to_value(&m.zones_critiques).unwrap(),
        json!([{"arrondissement": "75010", "nombre_chantiers": 4}])
    );
    // geodesic areas on WGS84 (Python geographiclib 2.0, Polygon().Compute(False, True); see
    // the unit tests of geo.rs for the hand check N·cos φ·Δλ·M·Δφ):
    //   Q1 square [2.35,2.36]×[48.85,48.86]                        816,080.51
    //   Q2 the square minus the hole [2.353,2.357]×[48.853,48.857] 685,507.63
    //   Q3 MultiPolygon: Q2's shape + [2.30,2.31]×[48.80,48.81]   1,502,393.41
    //   Q9 Feature-wrapped square [2.36,2.37]×[48.86,48.87]        815,919.38
    //   Q6, Q7: no area
    //   total = 816,080.51 + 685,507.63 + 1,502,393.41 + 815,919.38 = 3,819,900.93
    //   (the former 6,371 km sphere gave 3,807,973.71: -0.31 %)
    let areas: Vec<Option<f64>> = m.chantiers_actifs.iter().map(|a| a.surface_m2).collect();
    assert_eq!(
        areas,
        [
            Some(816_080.51),
            Some(685_507.63),
            Some(1_502_393.41),
            None,
            None,
            Some(815_919.38)
        ]
    );
    assert_eq!(m.surface_totale_impactee_m2, 3_819_900.93);
    assert_eq!(m.chantiers_sans_surface, 2);
    let v = serde_json::to_value(&m).unwrap();
    assert_eq!(
        v["chantiers_actifs"][1],
        json!({"identifiant": "Q2", "typologie": "2", "impact": "BARRAGE_TOTAL",
               "arrondissement": "75016", "date_debut": "2024-03-01", "date_fin": "2024-03-01",
               "niveau_perturbation": "1", "surface_m2": 685_507.63})
    );
    assert_eq!(v["chantiers_actifs"][3]["impact"], "Déviation");
    assert_eq!(v["chantiers_actifs"][3]["typologie"], Value::Null);
    assert_eq!(
        v["repartition_impact"],
        json!({"BARRAGE_TOTAL": 1, "Déviation": 1, "IMPASSE": 1, "RESTREINTE": 2, "SENS_UNIQUE": 1})
    );
    // Without an arrondissements file Q3 is "Unknown" (never a null key).
    let m = metrics(&acc, day("2024-03-01"), &ArrondissementIndex::default()).unwrap();
    assert_eq!(m.impact_by_arrondissement["Unknown"], 80);
    assert_eq!(m.chantiers_actifs[2].arrondissement, None);
    // The next day Q2 and Q7 (ending 2024-03-01) are over.
    let m = metrics(&acc, day("2024-03-02"), &small_index()).unwrap();
    assert_eq!(ids(&m), ["Q1", "Q3", "Q6", "Q9"]);
    assert!(m.zones_critiques.is_empty(), "75010 has 3 works: not > 3");
}

#[test]
fn csv_fixture_reordered_columns_extra_column_missing_optional_ones() {
    // No BOM, LF; columns in another order, an unknown `Commentaire interne`, and no Typologie,
    // Niveau de perturbation or geo_point_2d.
    let (acc, q) = read(&fixture("chantiers-colonnes.csv"), "chantiers-colonnes.csv");
    let c = &cell(&q);
    assert_eq!((c.rows_read, c.rows_rejected), (2, 0));
    assert!(c.warnings.is_empty());
    assert_eq!(c.missing["typologie"], 2);
    assert_eq!(c.missing["niveau_perturbation"], 2);
    assert_eq!(c.missing["impact_circulation"], 1);
    let m = metrics(&acc, day("2024-05-31"), &small_index()).unwrap();
    let v = serde_json::to_value(&m.chantiers_actifs).unwrap();
    assert_eq!(
        v,
        json!([
            {"identifiant": "R1", "typologie": null, "impact": "SENS_UNIQUE", "arrondissement": "75002",
             "date_debut": "2024-05-01", "date_fin": "2024-05-31", "niveau_perturbation": null,
             "surface_m2": 816_080.51},
            // no postal code, no point: the polygon's centre (mean exterior vertex,
            // (2.354, 48.854)) is in the small index's 75004
            {"identifiant": "R2", "typologie": null, "impact": null, "arrondissement": "75004",
             "date_debut": "2024-05-01", "date_fin": "2024-05-31", "niveau_perturbation": null,
             "surface_m2": 816_080.51}
        ])
    );
    assert_eq!(
        serde_json::to_value(&m.impact_by_arrondissement).unwrap(),
        json!({"75002": 30, "75004": 0})
    );
    assert_eq!(m.repartition_impact["Non renseigné"], 1);
}

#[test]
fn csv_fixture_without_a_required_column_fails_as_a_whole() {
    let rel = "chantiers-sans-date-fin.csv";
    let (acc, q) = read(&fixture(rel), rel);
    let c = &cell(&q);
    assert!(acc.is_empty());
    assert_eq!(c.files_failed.iter().collect::<Vec<_>>(), [rel]);
    assert_eq!((c.rows_read, c.rows_rejected), (2, 2));
    assert_eq!(
        samples(c),
        [format!(
            "{rel}:1: missing_column: missing column(s) `Date de fin` (header has 3 fields; it looks like the `chantiers-perturbants` export (3 of its 5 telling columns), read as `chantiers` from batch/chantiers*.csv)"
        )]
    );
    assert_eq!(metrics(&acc, day("2024-01-01"), &small_index()), None);
}

#[test]
fn geojson_fixture_snake_case_offsets_placeholders_null_geometry() {
    let rel = "batch/chantiers-ancien.geojson";
    let (acc, q) = read(&fixture("chantiers-ancien.geojson"), rel);
    let c = &cell(&q);
    // 9 features + a bare number in `features`
    assert_eq!(c.rows_read, 10);
    assert_eq!(
        c.rejects,
        BTreeMap::from([
            (Reason::UnparseableDate, 2),
            (Reason::MissingKey, 1),
            (Reason::NotARecord, 1),
            (Reason::Inconsistent, 1),
        ])
    );
    let details: Vec<&str> = c.samples.iter().map(|s| s.detail.as_str()).collect();
    assert_eq!(
        details,
        [
            "record 2: work CP102: field `date_fin`: \"1970-01-01T00:00:00+00:00\" is the 1970-01-01 placeholder of an unknown date",
            "record 3: work CP103: field `date_debut`: \"1970-01-01\" is the 1970-01-01 placeholder of an unknown date",
            "record 6: field `identifiant` is empty",
            "expected an object, found a number",
            "record 5: work CP105: `date_debut` 2024-06-01 is after `date_fin` 2024-05-01",
        ]
    );
    let wdetails: Vec<&str> = c
        .warning_samples
        .iter()
        .map(|s| s.detail.as_str())
        .collect();
    assert_eq!(
        wdetails,
        [
            "record 1: work CP101: `geometry` is null or missing: no area",
            "record 8: work CP106: geometry is a LineString, not a polygon: no area",
        ]
    );
    // CP100 twice with the same values: one work, one duplicate, not conflicting
    let dup = acc.duplicates(None);
    assert_eq!((dup.count, dup.conflicting), (1, 0));
    assert_eq!(dup.samples, ["work CP100: 2 rows, same values"]);
    assert_eq!(c.rows_read - c.rows_rejected - dup.count, 4);
    assert_eq!(acc.len(), 4);

    let idx = small_index();
    // CP100: 2024-03-01T00:00:00+00:00 = 01:00 in Paris on 03-01 .. 2024-03-31T00:00:00+01:00
    // CP101: 2024-02-29T23:00:00+00:00 = 03-01 00:00 in Paris .. 2024-03-01T22:30:00+00:00 =
    //        03-01 23:30 in Paris: active on 2024-03-01 only
    // CP104: all 2024, no code, point {lon 2.3522, lat 48.8566} -> 75004
    // CP106: 2024-03-01 only
    let m = metrics(&acc, day("2024-02-29"), &idx).unwrap();
    assert_eq!(ids(&m), ["CP104"]);
    let m = metrics(&acc, day("2024-03-01"), &idx).unwrap();
    assert_eq!(ids(&m), ["CP100", "CP101", "CP104", "CP106"]);
    assert_eq!(
        serde_json::to_value(&m.impact_by_arrondissement).unwrap(),
        // CP100 RESTREINTE 50 + CP106 IMPASSE 80; CP101 BARRAGE_TOTAL in 75116 -> 75016;
        // CP104 `Sens unique` -> SENS_UNIQUE 30
        json!({"75004": 30, "75010": 130, "75016": 100})
    );
    // 816,080.51 (CP100) + 1,502,393.41 (CP104) (geodesic, as above); CP101 and CP106 have no
    // area
    assert_eq!(m.surface_totale_impactee_m2, 2_318_473.92);
    assert_eq!(m.chantiers_sans_surface, 2);
    let v = serde_json::to_value(&m.chantiers_actifs).unwrap();
    assert_eq!(
        v[1],
        json!({"identifiant": "CP101", "typologie": "1", "impact": "BARRAGE_TOTAL",
               "arrondissement": "75016", "date_debut": "2024-03-01", "date_fin": "2024-03-01",
               "niveau_perturbation": "1", "surface_m2": null})
    );
    assert_eq!(v[2]["typologie"], Value::Null);
    assert_eq!(v[2]["niveau_perturbation"], Value::Null);
    let m = metrics(&acc, day("2024-03-02"), &idx).unwrap();
    assert_eq!(ids(&m), ["CP100", "CP104"]);
    assert_eq!(
        ids(&metrics(&acc, day("2024-03-31"), &idx).unwrap()),
        ["CP100", "CP104"]
    );
    assert_eq!(
        ids(&metrics(&acc, day("2024-04-01"), &idx).unwrap()),
        ["CP104"]
    );
}

#[test]
fn a_csv_and_a_geojson_export_of_the_same_work_merge_whatever_the_order() {
    // CP100 again in a CSV export, ending later (2024-04-15) and with another impact: the later
    // end wins whatever the order, and the repeat is conflicting.
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("chantiers-b.csv");
    std::fs::write(
        &csv_path,
        "Identifiant;Code postal de l'arrondissement;Date de début;Date de fin;Impact sur la circulation;Typologie\r\n\
         CP100;75010;2024-03-01;2024-04-15;IMPASSE;2\r\n\
         CP200;75011;2024-03-01;2024-04-15;IMPASSE;2\n",
    )
    .unwrap();
    let (g, _) = read(&fixture("chantiers-ancien.geojson"), "a.geojson");
    let (c, _) = read(&csv_path, "b.csv");
    let mut gc = g.clone();
    gc.merge(c.clone());
    let mut cg = c;
    cg.merge(g);
    assert_eq!(gc, cg);
    let kept = gc.work("CP100").unwrap();
    assert_eq!(kept.end, day("2024-04-15"));
    assert_eq!(kept.impact, "IMPASSE");
    let dup = gc.duplicates(None);
    // CP100: 3 rows (2 identical in the GeoJSON + 1 in the CSV); the kept is the CSV's
    assert_eq!((dup.count, dup.conflicting), (2, 2));
    let idx = small_index();
    for d in ["2024-03-01", "2024-04-01", "2024-04-15", "2024-04-16"] {
        assert_eq!(
            metrics(&gc, day(d), &idx),
            metrics(&cg, day(d), &idx),
            "{d}"
        );
    }
    let m = metrics(&gc, day("2024-04-15"), &idx).unwrap();
    assert_eq!(ids(&m), ["CP100", "CP104", "CP200"]);
    assert_eq!(m.impact_by_arrondissement["75010"], 80);
}
