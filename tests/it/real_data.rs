//! The real public files of `../shared/data/real`: parsed with no unexpected reject, and the
//! figures equal to an independent recomputation (tests/independent/*.py, Python's csv module).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::*;

const COMPTAGES_CSV: &str = "comptages-routiers-permanents/crp_washington_louisgthier.csv";
const COMPTAGES_API: &str = "comptages-routiers-permanents/crp_api_records_mff09.json";
const REFERENTIEL: &str =
    "referentiel-comptages-routiers/referentiel-comptages-routiers_nezarbr.csv";
const ARRONDISSEMENTS: &str = "geo/arrondissements-paris.geojson";

#[test]
fn real_comptages_csv_equals_independent_computation() {
    let csv = real(COMPTAGES_CSV);
    let raw = tree(&[
        ("batch/comptages-routiers-permanents.csv", read(&csv)),
        (
            "batch/arrondissements-paris.geojson",
            read(real(ARRONDISSEMENTS)),
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(raw.path(), &out, &["--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let expected = python("comptages_daily.py", &[&csv]);
    let expected = expected.as_object().unwrap();
    assert_eq!(expected.len(), 369, "arc-days in the real file");
    let mut days_checked = BTreeMap::new();
    for (key, e) in expected {
        let (arc, day) = key.split_once('|').unwrap();
        let m = days_checked
            .entry(day.to_string())
            .or_insert_with(|| json(out.join(format!("metrics/comptages_metrics_{day}.json"))));
        let a = m["metrics"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["identifiant_arc"] == arc)
            .unwrap();
        assert_eq!(a["nombre_releves"], e["rows"], "{key}");
        assert_eq!(a["heures_avec_debit"], e["n_q"], "{key}");
        assert!(
            close(
                a["debit_journalier_total"].as_f64().unwrap(),
                e["sum_q"].as_f64().unwrap()
            ),
            "{key}"
        );
        assert_eq!(a["debit_max"].as_f64(), e["max_q"].as_f64(), "{key}");
        for (ours, theirs) in [
            ("debit_horaire_moyen", "mean_q"),
            ("taux_occupation_moyen", "mean_k"),
        ] {
            match (a[ours].as_f64(), e[theirs].as_f64()) {
                (Some(x), Some(y)) => assert!(close(x, y), "{key} {ours}: {x} vs {y}"),
                (x, y) => assert_eq!(x, y, "{key} {ours}"),
            }
        }
        // Arc 4264 is the Champs-Élysées, in the 8th arrondissement.
        assert_eq!(a["arrondissement"], "75008");
        let g = &m["metrics"]["global_metrics"];
        assert!(close(
            g["total_vehicules_jour"].as_f64().unwrap(),
            e["sum_q"].as_f64().unwrap()
        ));
    }
    assert_eq!(days_checked.len(), 369);

    let run = json(out.join("quality/quality_report_run.json"));
    let c = &run["totals"]["comptages"];
    assert_eq!(c["rows_read"], 8412);
    assert_eq!(c["rows_used"], 8412);
    assert_eq!(c["rows_rejected"], 0);
    assert_eq!(c["duplicates"], 0);
    // Nearly every real row is marked Invalide, yet carries counts: all used.
    assert_eq!(c["categories"]["Invalide"], 8221);
    assert_eq!(c["categories"]["Barré"], 191);
    assert_eq!(c["missing_values"]["debit_horaire"], 319);
    assert_eq!(c["missing_values"]["taux_occupation"], 379);

    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["dates"].as_array().unwrap().len(), 369);
}

#[test]
fn real_api_json_parses_and_sums() {
    let body = read(real(COMPTAGES_API));
    let records: Vec<Value> = serde_json::from_slice(&body).unwrap();
    let raw = tree(&[("api/comptages/dt=2026-06-21/hour=00/traffic.json", body)]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(raw.path(), &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = json(out.join("metrics/comptages_metrics_2026-06-21.json"));
    let g = &m["metrics"]["global_metrics"];
    // Independent: straight over the JSON records.
    let sum_q: f64 = records.iter().filter_map(|r| r["q"].as_f64()).sum();
    let with_q = records.iter().filter(|r| r["q"].is_number()).count();
    let arcs: std::collections::BTreeSet<&str> = records
        .iter()
        .map(|r| r["iu_ac"].as_str().unwrap())
        .collect();
    assert!(close(g["total_vehicules_jour"].as_f64().unwrap(), sum_q));
    assert_eq!(g["nombre_troncons"], arcs.len());
    assert_eq!(g["nombre_releves"], records.len());
    assert!(close(
        g["taux_disponibilite_capteurs"].as_f64().unwrap(),
        with_q as f64 * 100.0 / records.len() as f64
    ));
    let q = json(out.join("quality/quality_report_2026-06-21.json"));
    assert_eq!(q["sources"]["comptages"]["rows_rejected"], 0);
    assert_eq!(
        q["sources"]["comptages"]["warnings_by_reason"],
        serde_json::json!({})
    );
}

#[test]
fn real_referentiel_merges_split_arcs() {
    let csv = real(REFERENTIEL);
    let raw = tree(&[("batch/referentiel-comptages-routiers.csv", read(&csv))]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(raw.path(), &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // No dated input: written under the clock's Paris date.
    let m = json(out.join("metrics/referentiel_metrics_2025-11-21.json"));
    let stats = &m["metrics"]["statistiques"];
    assert_eq!(stats["nombre_troncons"], 3348);
    assert_eq!(stats["nombre_troncons_multi_segments"], 338);
    let expected = crate::support::python_pkgs("referentiel_lengths.py", &[&csv]);
    let mapping = m["metrics"]["mapping"].as_object().unwrap();
    assert_eq!(mapping.len(), expected.as_object().unwrap().len());
    let mut total = 0.0;
    for (arc, len) in expected.as_object().unwrap() {
        let ours = mapping[arc]["longueur_metres"].as_f64().unwrap();
        assert!(
            (ours - len.as_f64().unwrap()).abs() < 1e-6,
            "arc {arc}: {ours} vs {len}"
        );
        total += len.as_f64().unwrap();
    }
    assert!((stats["longueur_totale_metres"].as_f64().unwrap() - total).abs() < 1e-3);
    // Natural order of ids.
    let ids: Vec<u64> = mapping.keys().map(|k| k.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let run = json(out.join("quality/quality_report_run.json"));
    assert_eq!(run["totals"]["referentiel"]["rows_read"], 3739);
    assert_eq!(run["totals"]["referentiel"]["rows_rejected"], 0);
}

#[test]
fn real_referentiel_enriches_counts_without_geometry() {
    // Arc 5419 (PI_Champerret) with no label, point or shape in the counts: the référentiel gives
    // them, and the real arrondissements put Porte de Champerret in the 17th.
    let counts = "Identifiant arc;Libelle;Date et heure de comptage;Débit horaire;Taux d'occupation;Etat trafic;Identifiant noeud amont;Libelle noeud amont;Identifiant noeud aval;Libelle noeud aval;Etat arc;Date debut dispo data;Date fin dispo data;geo_point_2d;geo_shape\n\
                  5419;;2024-05-02T08:00:00+02:00;1000.0;60.0;Saturé;;;;;Invalide;;;;\n";
    let raw = tree(&[
        ("batch/comptages.csv", counts.as_bytes().to_vec()),
        ("batch/referentiel.csv", read(real(REFERENTIEL))),
        ("batch/arrondissements.geojson", read(real(ARRONDISSEMENTS))),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(raw.path(), &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = json(out.join("metrics/comptages_metrics_2024-05-02.json"));
    let a = &m["metrics"]["metrics"][0];
    assert_eq!(a["libelle"], "PI_Champerret");
    assert_eq!(a["arrondissement"], "75017");
    let r = json(out.join("metrics/referentiel_metrics_2024-05-02.json"));
    let len = r["metrics"]["mapping"]["5419"]["longueur_metres"]
        .as_f64()
        .unwrap();
    assert_eq!(a["longueur_metres"].as_f64().unwrap(), len);
    // 1000 vehicles at 60 % (30 km/h): 60*L/30 - 60*L/50 = 0.8*L minutes each.
    assert!(close(
        a["temps_perdu_total_minutes"].as_f64().unwrap(),
        1000.0 * 0.8 * len / 1000.0
    ));
    assert_eq!(r["metrics"]["mapping"]["5419"]["actif"], true);
    assert_eq!(r["metrics"]["mapping"]["5497"]["actif"], false);
}

#[test]
fn real_arrondissements_place_landmarks() {
    let mut q = cityflow::quality::QualityAcc::default();
    let idx = cityflow::sources::arrondissements::load_path(&real(ARRONDISSEMENTS), &mut q);
    assert_eq!(idx.items.len(), 20);
    assert!(!q.has_rejects());
    for (name, p, code) in [
        ("Notre-Dame", [2.3499, 48.8530], "75004"),
        ("Tour Eiffel", [2.2945, 48.8584], "75007"),
        ("Sacré-Cœur", [2.3431, 48.8867], "75018"),
        ("Gare de Lyon", [2.3733, 48.8443], "75012"),
        ("Louvre", [2.3376, 48.8606], "75001"),
    ] {
        assert_eq!(idx.lookup(p), Some(code), "{name}");
    }
    assert_eq!(
        idx.lookup([2.2, 48.95]),
        None,
        "Saint-Denis is outside Paris"
    );
}

/// Every real file in one raw tree: each type is produced for every day it has data for, and the
/// report of such a day carries that type's section. (Exit 1: the real road-works exports hold
/// three rows with missing or inverted dates, rejected and reported.)
#[test]
fn every_real_file_together() {
    let files: Vec<(&str, &str)> = vec![
        ("batch/comptages-routiers-permanents.csv", COMPTAGES_CSV),
        (
            "api/comptages/dt=2026-06-21/hour=00/traffic.json",
            COMPTAGES_API,
        ),
        ("batch/referentiel-comptages-routiers.csv", REFERENTIEL),
        ("batch/arrondissements-paris.geojson", ARRONDISSEMENTS),
        (
            "batch/chantiers-perturbants-2023.csv",
            "chantiers-perturbants/chantiers-perturbants_ameya_2023.csv",
        ),
        (
            "batch/chantiers-perturbants-2024.csv",
            "chantiers-perturbants/chantiers-perturbants_dorabijvoet_2024.csv",
        ),
        (
            "api/bikes/dt=2025-12-31/hour=21/bikes.json",
            "comptage-velo/api_v2.1_records_page_fixture_ambiya12.json",
        ),
        (
            "api/traffic/dt=2024-04-30/hour=05/line_reports.json",
            "disruptions/prim_navitia_line_reports_yannsko_2024-04.json",
        ),
        (
            "batch/meteo-open-meteo-paris.json",
            "weather/openmeteo_archive_daily_paris_2016-2025_clombion.json",
        ),
        (
            "api/velib/dt=2024-11-19/hour=08/station_information.json",
            "velib/gbfs_station_information_banacchini_pretty.json",
        ),
        (
            "api/velib/dt=2024-11-19/hour=08/station_status.json",
            "velib/gbfs_station_status_banacchini_pretty.json",
        ),
        (
            "batch/velib-disponibilite-en-temps-reel.csv",
            "velib/velib-disponibilite_mxvml_2026.csv",
        ),
    ];
    let raw = real_tree(&files);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(raw.path(), &out, &["--json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["files_not_processed"], serde_json::json!({}));
    assert_eq!(s["files_ignored"], serde_json::json!([]));
    // Only the road works' 4 undated rows are rejected (1 in the 2023 export, 3 in the 2024 one).
    let total_rejected: u64 = s["sources"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v["rows_rejected"].as_u64().unwrap())
        .sum();
    assert_eq!(total_rejected, 4, "{:#}", s["sources"]);
    assert_eq!(s["sources"]["chantiers"]["rows_rejected"], 4);

    let dates: std::collections::BTreeSet<String> = s["dates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    // Open-Meteo: 2016-01-01 .. 2025-12-31; plus the counters' days of 2026.
    assert!(
        dates.contains("2016-01-01")
            && dates.contains("2025-12-31")
            && dates.contains("2026-06-21")
    );
    for (ty, day, section) in [
        ("comptages", "2024-01-04", "top_10_troncons_frequentes"),
        ("bikes", "2025-12-31", "capteurs_defaillants"),
        ("traffic", "2024-04-30", "perturbations_transport"),
        ("weather", "2019-07-25", "meteo_impact"),
        ("velib", "2024-11-19", "velib_disponibilite"),
        ("velib", "2026-04-06", "velib_disponibilite"),
        ("chantiers", "2023-06-15", "chantiers_actifs"),
    ] {
        assert!(
            out.join(format!("metrics/{ty}_metrics_{day}.json"))
                .exists(),
            "{ty} {day}"
        );
        let r = json(out.join(format!("reports/daily_report_{day}.json")));
        let types: Vec<&str> = r["report"]["types_disponibles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert!(types.contains(&ty), "{day}: {types:?}");
        if ty != "bikes" {
            let sec = &r["report"][section];
            assert!(
                sec.as_array().is_some_and(|a| !a.is_empty())
                    || sec.as_object().is_some_and(|o| !o.is_empty()),
                "{day} {section}"
            );
        }
    }
    // Road works are evaluated on every processed day; the weather archive covers 3,653 days.
    let n = |prefix: &str| {
        std::fs::read_dir(out.join("metrics"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(prefix)
            })
            .count()
    };
    assert_eq!(n("weather_metrics_"), 3653);
    assert_eq!(n("chantiers_metrics_"), dates.len());
    // 2019-07-25, the Paris heat record: Chaud.
    let w = json(out.join("metrics/weather_metrics_2019-07-25.json"));
    assert!(
        w["metrics"]["categories"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "Chaud"),
        "{w:#}"
    );
}
