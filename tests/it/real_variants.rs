//! Issue 18: real-world variants of the exports. Several exports of one référentiel, the PRIM
//! bulk response and its split members, geodesic areas, and the "chantiers à Paris" export.
//!
//! Lengths and areas are checked against Python geographiclib (tests/independent/*.py, run with
//! the pinned packages of tests/independent/requirements.txt), never against this code's own
//! output; the PRIM and "chantiers à Paris" fixtures are hand-made, with their figures computed
//! by hand in comments.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::support::{json, process, python_pkgs, read, real, repo, tree};

const REFERENTIEL: &str =
    "referentiel-comptages-routiers/referentiel-comptages-routiers_nezarbr.csv";
const ARRONDISSEMENTS: &str = "geo/arrondissements-paris.geojson";
const AMEYA: &str = "chantiers-perturbants/chantiers-perturbants_ameya_2023.csv";
const DORA: &str = "chantiers-perturbants/chantiers-perturbants_dorabijvoet_2024.csv";

fn fixture(dir: &str, name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(dir).join(name)
}

/// Runs `process` on a tree of (path, bytes); returns (exit code, output folder, its tempdir).
fn run(files: &[(&str, Vec<u8>)], args: &[&str]) -> (i32, PathBuf, tempfile::TempDir) {
    let raw = tree(files);
    let out = raw.path().join("out");
    let o = process(&raw.path().join("raw"), &out, args);
    (o.status.code().unwrap_or(-1), out, raw)
}

fn raw(files: &[(&str, &Path)]) -> Vec<(String, Vec<u8>)> {
    files
        .iter()
        .map(|(rel, p)| (format!("raw/{rel}"), read(p)))
        .collect()
}

fn as_refs(v: &[(String, Vec<u8>)]) -> Vec<(&str, Vec<u8>)> {
    v.iter().map(|(r, b)| (r.as_str(), b.clone())).collect()
}

/// The référentiel output of a run (undated input: written under the clock's date).
fn referentiel(out: &Path) -> Value {
    json(out.join("metrics/referentiel_metrics_2025-11-21.json"))["metrics"].clone()
}

fn lengths(m: &Value) -> Vec<(String, f64)> {
    m["mapping"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["longueur_metres"].as_f64().unwrap()))
        .collect()
}

fn same_lengths(a: &[(String, f64)], b: &[(String, f64)]) {
    assert_eq!(a.len(), b.len());
    for ((ka, la), (kb, lb)) in a.iter().zip(b) {
        assert_eq!(ka, kb);
        assert!((la - lb).abs() <= 1e-6, "arc {ka}: {la} vs {lb}");
    }
}

fn undated_referentiel(out: &Path) -> Value {
    json(out.join("quality/quality_report_run.json"))["undated"]["referentiel"].clone()
}

#[test]
fn two_exports_of_one_referentiel_give_the_lengths_of_one() {
    let courant = fixture("referentiel", "referentiel-courant.csv");
    let ancien = fixture("referentiel", "referentiel-ancien.csv");
    let geojson = fixture("referentiel", "referentiel.geojson");
    // Independent: Python geographiclib over the current export alone.
    let expected = python_pkgs("referentiel_lengths.py", &[&courant]);
    let expected: Vec<(String, f64)> = {
        let mut v: Vec<(String, f64)> = expected
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
            .collect();
        v.sort_by_key(|(k, _)| k.parse::<u64>().unwrap());
        v
    };
    let (code, out, _t) = run(&as_refs(&raw(&[("batch/referentiel.csv", &courant)])), &[]);
    assert_eq!(code, 0);
    let one = referentiel(&out);
    same_lengths(&lengths(&one), &expected);
    assert_eq!(one["statistiques"]["nombre_troncons_multi_segments"], 1);
    // Each pair, and the three: old technical header + GeoJSON, current + old, all.
    for (files, rows_other) in [
        (
            vec![
                ("batch/referentiel-a.csv", &ancien),
                ("batch/referentiel-b.geojson", &geojson),
            ],
            5u64,
        ),
        (
            vec![
                ("batch/referentiel-a.csv", &courant),
                ("batch/referentiel-b.csv", &ancien),
            ],
            5,
        ),
        (
            vec![
                ("batch/referentiel-a.csv", &courant),
                ("batch/referentiel-b.csv", &ancien),
                ("batch/referentiel-c.geojson", &geojson),
            ],
            10,
        ),
    ] {
        let files: Vec<(&str, &Path)> = files.iter().map(|(r, p)| (*r, p.as_path())).collect();
        let (code, out, _t) = run(&as_refs(&raw(&files)), &[]);
        assert_eq!(code, 0, "{files:?}");
        let m = referentiel(&out);
        same_lengths(&lengths(&m), &expected);
        assert_eq!(m["statistiques"], one["statistiques"], "{files:?}");
        // 4 arcs (5 rows) per export: every row of the other exports is a duplicate.
        let q = undated_referentiel(&out);
        assert_eq!(q["duplicates"], rows_other, "{files:?}");
        assert_eq!(q["duplicates_conflicting"], 0);
        assert_eq!(q["rows_used"], 5);
        let names: Vec<&str> = files.iter().map(|f| f.0).collect();
        assert_eq!(
            q["duplicate_samples"][0],
            format!("arc 100: same arc in {} (counted once)", names.join(", "))
        );
        assert_eq!(
            q["categories"][format!("arcs in several exports: {}", names.join(" + "))],
            4
        );
    }
}

#[test]
fn an_arc_redrawn_between_exports_is_a_conflict_and_one_version_is_kept() {
    let courant = fixture("referentiel", "referentiel-courant.csv");
    let redessine = fixture("referentiel", "referentiel-redessine.csv");
    let files = [
        ("batch/referentiel-2023.csv", courant.as_path()),
        ("batch/referentiel-2024.csv", redessine.as_path()),
    ];
    let (code, out, _t) = run(&as_refs(&raw(&files)), &[]);
    assert_eq!(code, 0);
    let m = referentiel(&out);
    // Arc 102 is redrawn in the 2024 export: one version each, the last export by path is kept.
    let new = python_pkgs("referentiel_lengths.py", &[&redessine]);
    let old = python_pkgs("referentiel_lengths.py", &[&courant]);
    let got = m["mapping"]["102"]["longueur_metres"].as_f64().unwrap();
    assert!((got - new["102"].as_f64().unwrap()).abs() < 1e-6, "{got}");
    assert!((got - old["102"].as_f64().unwrap()).abs() > 1.0);
    let q = undated_referentiel(&out);
    assert_eq!(q["duplicates"], 5);
    assert_eq!(q["duplicates_conflicting"], 1);
    let s = q["duplicate_samples"][0].as_str().unwrap();
    assert!(
        s.starts_with(
            "arc 102: geometry differs between exports: kept batch/referentiel-2024.csv (1 segment, "
        ),
        "{s}"
    );
    assert!(
        s.contains("the last export by path is taken as the newest"),
        "{s}"
    );
    assert!(
        s.contains("not batch/referentiel-2023.csv (1 segment, "),
        "{s}"
    );
    assert_eq!(
        q["categories"]
            ["arcs whose geometry differs between exports: kept batch/referentiel-2024.csv"],
        1
    );
}

/// The real export and a GeoJSON written from it (other key order, spacing, number spelling,
/// properties in snake_case): the lengths of the CSV alone, 3,739 duplicate rows.
#[test]
fn real_referentiel_csv_plus_its_geojson_counts_every_arc_once() {
    let csv_path = real(REFERENTIEL);
    let bytes = read(&csv_path);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(bytes.as_slice());
    let mut features = Vec::new();
    for r in rdr.records() {
        let r = r.unwrap();
        let shape: Value = serde_json::from_str(&r[9]).unwrap();
        let (lat, lon) = r[8].split_once(',').unwrap();
        features.push(json!({
            "properties": {"iu_ac": r[0].to_string(), "libelle": r[3].to_string(),
                           "geo_point_2d": {"lat": lat.trim().parse::<f64>().unwrap(),
                                            "lon": lon.trim().parse::<f64>().unwrap()}},
            "geometry": {"coordinates": shape["coordinates"].clone(), "type": shape["type"].clone()},
            "type": "Feature"
        }));
    }
    let fc = json!({"type": "FeatureCollection", "features": features});
    let geojson = serde_json::to_vec_pretty(&fc).unwrap();
    let (code, out_one, _t1) = run(&[("raw/batch/referentiel.csv", bytes.clone())], &[]);
    assert_eq!(code, 0);
    let (code, out_two, _t2) = run(
        &[
            ("raw/batch/referentiel.csv", bytes),
            ("raw/batch/referentiel.geojson", geojson),
        ],
        &[],
    );
    assert_eq!(code, 0);
    let (one, two) = (referentiel(&out_one), referentiel(&out_two));
    same_lengths(&lengths(&one), &lengths(&two));
    assert_eq!(two["statistiques"]["nombre_troncons"], 3348);
    assert_eq!(two["statistiques"]["nombre_troncons_multi_segments"], 338);
    let total = two["statistiques"]["longueur_totale_metres"]
        .as_f64()
        .unwrap();
    let expected = python_pkgs("referentiel_lengths.py", &[&csv_path]);
    let py_total: f64 = expected
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((total - py_total).abs() < 1e-3, "{total} vs {py_total}");
    let q = undated_referentiel(&out_two);
    assert_eq!(q["rows_read"], 2 * 3739);
    assert_eq!(q["duplicates"], 3739);
    assert_eq!(q["rows_used"], 3739);
    assert_eq!(q["duplicates_conflicting"], 0);
}

/// Areas of every work of both real exports = Python geographiclib's geodesic area (WGS84), to
/// 1e-6 relative (and the 0.01 m² of the stored hundredths).
#[test]
fn real_chantiers_areas_equal_the_independent_geodesic_areas() {
    use cityflow::discover::InputFile;
    use cityflow::metrics::chantiers::metrics;
    use cityflow::quality::QualityAcc;
    use cityflow::sources::chantiers::{read_file, SOURCE};
    let mut checked = 0;
    for rel in [AMEYA, DORA] {
        let path = real(rel);
        let expected = python_pkgs("geodesic_areas.py", &[&path]);
        let mut q = QualityAcc::default();
        let acc = read_file(
            &InputFile::new(&path, rel, SOURCE, None),
            &Default::default(),
            &mut q,
        );
        for (id, w) in acc.works() {
            let want = expected[id].as_f64();
            let got = w.area_cm2.map(|c| c as f64 / 100.0);
            match (got, want) {
                (Some(g), Some(e)) => {
                    assert!(
                        (g - e).abs() <= (1e-6 * e).max(0.005),
                        "{rel} {id}: {g} vs {e}"
                    );
                    checked += 1;
                }
                (None, None) => {}
                other => panic!("{rel} {id}: {other:?}"),
            }
        }
        // the day's total is the sum of the kept works' rounded areas
        let day = chrono::NaiveDate::from_ymd_opt(2023, 3, 1).unwrap();
        let m = metrics(&acc, day, &Default::default()).unwrap();
        let sum: f64 = m.chantiers_actifs.iter().filter_map(|a| a.surface_m2).sum();
        assert!((m.surface_totale_impactee_m2 - sum).abs() < 1e-6);
    }
    assert!(checked > 200, "{checked}");
}

fn traffic(out: &Path) -> Value {
    json(out.join("metrics/traffic_metrics_2024-04-30.json"))["metrics"].clone()
}

#[test]
fn prim_response_and_its_split_members_give_the_same_metrics() {
    let resp = fixture("traffic", "prim_bulk_response.json");
    let dis = fixture("traffic", "prim_bulk_disruptions_member.json");
    let lines = fixture("traffic", "prim_bulk_lines_member.json");
    let (code, out, _t) = run(
        &as_refs(&raw(&[("api/traffic/dt=2024-04-30/bulk.json", &resp)])),
        &[],
    );
    assert_eq!(code, 0);
    let whole = traffic(&out);
    // By hand (periods in Paris time on 2024-04-30): 0001 BLOQUANTE 08:00-10:00 (Métro 1),
    // 0002 PERTURBEE all year (RER B, its text names no line), 0003 PERTURBEE 14:00-17:00 (Bus 72
    // and 73, by a line object and a stop area), 0004 INFORMATION 06:00-07:00 (Tram T3a, by a
    // stop area), 0005 BLOQUANTE 18:30-20:00 (Métro 14: its text says "ligne 4", the join wins).
    // Critical (score 60) hours: 2 + 1.5 = 3.5 -> reliability (24 - 3.5) / 24 = 85.42 %.
    assert_eq!(whole["active_disruptions_count"], 5);
    assert_eq!(whole["disruptions_without_line"], 0);
    assert_eq!(whole["disruptions_lines_from_prim_lines"], 5);
    assert_eq!(whole["reliability_index"], 85.42);
    assert_eq!(
        whole["top_lignes_impactees"],
        json!([
            {"ligne": "Métro 1", "count": 1}, {"ligne": "Métro 14", "count": 1},
            {"ligne": "RER B", "count": 1}, {"ligne": "Tram T3a", "count": 1},
            {"ligne": "Bus 72", "count": 1}, {"ligne": "Bus 73", "count": 1}
        ])
    );
    let alerts: Vec<(String, Value)> = whole["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["id"].as_str().unwrap().to_string(), a["lignes"].clone()))
        .collect();
    assert_eq!(
        alerts,
        vec![
            ("8a1f0c2e-0001".to_string(), json!(["Métro 1"])),
            ("8a1f0c2e-0005".to_string(), json!(["Métro 14"])),
            ("8a1f0c2e-0002".to_string(), json!(["RER B"])),
            ("8a1f0c2e-0003".to_string(), json!(["Bus 72", "Bus 73"])),
        ]
    );
    // The two members as files, any names, either order, in the snapshot folder or in batch/.
    for layout in [
        [
            ("api/traffic/dt=2024-04-30/a-disruptions.json", &dis),
            ("api/traffic/dt=2024-04-30/b-lines.json", &lines),
        ],
        [
            ("api/traffic/dt=2024-04-30/a-lines.json", &lines),
            ("api/traffic/dt=2024-04-30/z.json", &dis),
        ],
        [
            ("batch/export-1.json", &lines),
            ("batch/export-2.json", &dis),
        ],
    ] {
        let files: Vec<(&str, &Path)> = layout.iter().map(|(r, p)| (*r, p.as_path())).collect();
        let (code, out, _t) = run(&as_refs(&raw(&files)), &[]);
        assert_eq!(code, 0, "{files:?}");
        let mut got = traffic(&out);
        if files[0].0.starts_with("api/") {
            // The bare `disruptions` array lost the response's `lastUpdatedDate`: its snapshot
            // is dated by its `dt=` folder (the same day). In batch/ it is the latest
            // `lastUpdate`, which this fixture makes equal to `lastUpdatedDate`.
            assert_eq!(got["snapshot_times"], json!(["2024-04-30 (dt=)"]));
            got["snapshot_times"] = whole["snapshot_times"].clone();
        }
        assert_eq!(got, whole, "{files:?}");
        // The lines file is read, never rows: nothing rejected.
        let totals = &json(out.join("quality/quality_report_run.json"))["totals"]["traffic"];
        assert_eq!(totals["rows_read"], 5, "{files:?}");
        assert_eq!(totals["rows_rejected"], 0);
        assert_eq!(totals["files_read"].as_array().unwrap().len(), 2);
    }
    // Without the lines, the text fallback finds lines for 2 of 5 only (Métro 1 and "ligne 4").
    let (code, out, _t) = run(
        &as_refs(&raw(&[("api/traffic/dt=2024-04-30/z.json", &dis)])),
        &[],
    );
    assert_eq!(code, 0);
    let alone = traffic(&out);
    assert_eq!(alone["disruptions_without_line"], 3);
    assert!(alone.get("disruptions_lines_from_prim_lines").is_none());
}

#[test]
fn chantiers_a_paris_export_is_a_second_road_works_source() {
    let paris = fixture("chantiers", "chantiers-a-paris.csv");
    let pert = fixture("chantiers", "chantiers-perturbants-ctv.csv");
    let arr = real(ARRONDISSEMENTS);
    let files = [
        ("batch/chantiers-a-paris.csv", paris.as_path()),
        ("batch/chantiers-perturbants.csv", pert.as_path()),
        ("batch/arrondissements.geojson", arr.as_path()),
    ];
    let (code, out, _t) = run(&as_refs(&raw(&files)), &["--date", "2024-05-15"]);
    assert_eq!(code, 1, "CH-2024-0005 has an impossible date");
    let m = json(out.join("metrics/chantiers_metrics_2024-05-15.json"))["metrics"].clone();
    // Active on 2024-05-15: CH-0001 (05-01..05-31), CH-0002 (05-10..05-20), CH-0006 (05-15 only),
    // CP002368, CP009999; not CH-0003 (June), not CH-0004 (the same work as CP002368: its
    // `Identifiant Chantier CITE` 654245 is CP002368's `Identifiant CTV`), not CH-0005 (rejected).
    let ids: Vec<&str> = m["chantiers_actifs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["identifiant"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "CH-2024-0001",
            "CH-2024-0002",
            "CH-2024-0006",
            "CP002368",
            "CP009999"
        ]
    );
    assert_eq!(m["total_chantiers_actifs"], 5);
    // CH-0001..0004, 0006 + CP002368, CP009999, less the one work in both = 6
    assert_eq!(m["total_chantiers_connus"], 6);
    // Surfaces by hand, for a box of Δλ × Δφ degrees around latitude φ: N cos φ Δλ · M Δφ (radians)
    // with N = a / √(1 − e² sin² φ), M = a (1 − e²) / (1 − e² sin² φ)^1.5 (a = 6,378,137 m,
    // e² = 0.00669437999014); this is the geodesic area to about 1e-8 at this size.
    //   CH-0001 [2.380, 2.381] × [48.840, 48.841]: φ = 48.8405 -> 8,163.14 m²
    //   CH-0002 [2.355, 2.357] × [48.855, 48.856]: φ = 48.8555 -> 16,321.45 m²
    //   CH-0006 two boxes of 0.0005° at φ = 48.86025 and 48.86125 -> 2,039.97 + 2,039.97
    //           = 4,079.94 m²
    //   CP002368 [2.360, 2.361] × [48.870, 48.871] -> 8,158.31 m²
    //   CP009999 [2.340, 2.342] × [48.868, 48.869] -> 16,317.26 m²
    let hand = |lam: f64, phi0: f64, phi1: f64| -> f64 {
        let (a, e2) = (6_378_137.0_f64, 0.006_694_379_990_14_f64);
        let phi = ((phi0 + phi1) / 2.0).to_radians();
        let w = 1.0 - e2 * phi.sin().powi(2);
        let n = a / w.sqrt();
        let mm = a * (1.0 - e2) / w.powf(1.5);
        n * phi.cos() * lam.to_radians() * mm * (phi1 - phi0).to_radians()
    };
    let want = [
        hand(0.001, 48.840, 48.841),
        hand(0.002, 48.855, 48.856),
        hand(0.0005, 48.860, 48.8605) + hand(0.0005, 48.861, 48.8615),
        hand(0.001, 48.870, 48.871),
        hand(0.002, 48.868, 48.869),
    ];
    let independent = python_pkgs("geodesic_areas.py", &[&paris]);
    let independent2 = python_pkgs("geodesic_areas.py", &[&pert]);
    for (a, w) in m["chantiers_actifs"].as_array().unwrap().iter().zip(want) {
        let id = a["identifiant"].as_str().unwrap();
        let got = a["surface_m2"].as_f64().unwrap();
        assert!(
            (got - w).abs() < 0.01 + 1e-7 * w,
            "{id}: {got} vs by hand {w}"
        );
        let py = independent
            .get(id)
            .or_else(|| independent2.get(id))
            .and_then(Value::as_f64)
            .unwrap();
        assert!((got - py).abs() <= 0.005 + 1e-6 * py, "{id}: {got} vs {py}");
    }
    let total = m["surface_totale_impactee_m2"].as_f64().unwrap();
    assert!((total - want.iter().sum::<f64>()).abs() < 0.05, "{total}");
    // Arrondissements: postal code (75012), the point (CH-0002 at 2.356, 48.8555 is in the 4th:
    // shapely on the real file says so too), the INSEE code 75120 -> 75020.
    let arr: Vec<&Value> = m["chantiers_actifs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["arrondissement"])
        .collect();
    assert_eq!(
        arr,
        [
            &json!("75012"),
            &json!("75004"),
            &json!("75020"),
            &json!("75010"),
            &json!("75002")
        ]
    );
    // Its own fields kept; the declared surface beside the computed one.
    let a1 = &m["chantiers_actifs"][0];
    assert_eq!(a1["source_export"], "chantiers-a-paris");
    assert_eq!(a1["surface_declaree_m2"], 8100.0);
    assert_eq!(a1["encombrement_espace_public"], "Emprise sur chaussée");
    assert_eq!(a1["impact_stationnement"], "Suppression de places");
    assert_eq!(a1["impact"], Value::Null);
    assert_eq!(m["chantiers_actifs"][2]["surface_declaree_m2"], Value::Null);
    assert!(m["chantiers_actifs"][3].get("source_export").is_none());
    // only CH-0001 has both surfaces: |8,163.14 − 8,100| / 8,100 = 0.0078
    let c = &m["comparaison_surfaces"];
    assert_eq!(c["chantiers"], 1);
    assert_eq!(c["surface_declaree_m2"], 8100.0);
    assert_eq!(c["ecart_relatif_max"], 0.0078);
    assert_eq!(
        m["impact_by_arrondissement"],
        json!({"75002": 100, "75004": 0, "75010": 50, "75012": 0, "75020": 0})
    );
    assert_eq!(
        m["repartition_impact"],
        json!({"BARRAGE_TOTAL": 1, "Non renseigné": 3, "RESTREINTE": 1})
    );
    let q = &json(out.join("quality/quality_report_run_2024-05-15_2024-05-15.json"))["undated"]
        ["chantiers"];
    assert_eq!(q["rows_read"], 8);
    assert_eq!(q["rows_rejected"], 1);
    assert_eq!(q["duplicates"], 1);
    assert_eq!(
        q["duplicate_samples"][0],
        "work CH-2024-0004 (chantiers à Paris) is work CP002368 of chantiers-perturbants \
         (coordination id 654245): counted once, as CP002368"
    );
    assert_eq!(
        q["warnings_by_reason"]["unknown_state"], 1,
        "Surface (m2) \"abc\""
    );
    let samples = q["samples"].as_array().unwrap();
    assert!(samples[0]
        .as_str()
        .unwrap()
        .starts_with("batch/chantiers-a-paris.csv:6: unparseable_date: work CH-2024-0005: field `Date début du chantier`"));
}

#[test]
fn an_unknown_header_is_named_after_the_export_it_looks_like() {
    let velib = real("velib/velib-disponibilite_mxvml_2026.csv");
    let (code, out, _t) = run(
        &as_refs(&raw(&[("batch/chantiers-stations.csv", &velib)])),
        &[],
    );
    assert_eq!(code, 1);
    let q = &json(out.join("quality/quality_report_run.json"))["undated"]["chantiers"];
    assert_eq!(
        q["samples"][0],
        "batch/chantiers-stations.csv:1: missing_column: missing column(s) `Identifiant`, \
         `Date de début`, `Date de fin` (header has 15 fields; it looks like the \
         `velib-disponibilite-en-temps-reel` export (4 of its 4 telling columns), read as \
         `velib` from batch/velib*.csv)"
    );
}
