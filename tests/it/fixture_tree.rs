//! The hand-made fixture tree (`tests/fixtures/tree`): values computed by hand, and insta
//! snapshots of every output file (the clock is fixed, so nothing needs redacting).

use serde_json::Value;

use crate::support::*;

fn run_fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("output");
    let o = process(&repo().join("tests/fixtures/tree"), &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    (dir, out)
}

fn arc<'a>(m: &'a Value, id: &str) -> &'a Value {
    m["metrics"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["identifiant_arc"] == id)
        .unwrap()
}

#[test]
fn hand_computed_values() {
    let (_d, out) = run_fixture();
    let m = json(out.join("metrics/comptages_metrics_2024-03-30.json"));
    assert_eq!(m["metric_type"], "comptages");
    assert_eq!(m["date"], "2024-03-30");
    assert_eq!(m["timestamp"], "2025-11-21T03:20:00Z");

    // Arc 101: 10h (also in the API snapshot: counted once), 11h, 12h (no flow).
    let a = arc(&m, "101");
    assert_eq!(a["nombre_releves"], 3);
    assert_eq!(a["debit_journalier_total"], 400.0);
    assert_eq!(a["debit_horaire_moyen"], 200.0);
    assert_eq!(a["debit_max"], 300.0);
    assert_eq!(a["heure_pic"], "2024-03-30T11:00:00+01:00");
    assert!(close(
        a["taux_occupation_moyen"].as_f64().unwrap(),
        (20.0 + 85.5 + 90.0) / 3.0
    ));
    // Fluide, Saturé, Bloqué once each: the first in time wins.
    assert_eq!(a["etat_trafic_dominant"], "Fluide");
    assert_eq!(a["congestion_alerte"], false);
    assert_eq!(a["arrondissement"], "75004");
    // 0.001 degree of latitude at 48.8505° on WGS84: M·Δφ with the meridian radius of
    // curvature M = a(1−e²)/(1−e² sin²φ)^1.5 = 6,371,683 m -> 111.20684 m (Python geographiclib:
    // Inverse(48.85, 2.35, 48.851, 2.35) = 111.2068405045915 m; the former 6,371 km sphere gave
    // 111.195 m). Lost: only 11h has flow and occupancy above 30 %:
    // 300 vehicles at 85.5 % (20 km/h) lose 60*L/20 - 60*L/50 = 1.8*L minutes each.
    let l_km = a["longueur_metres"].as_f64().unwrap() / 1000.0;
    assert!((l_km - 0.111_206_840_5).abs() < 1e-9, "{l_km}");
    assert!(close(
        a["temps_perdu_total_minutes"].as_f64().unwrap(),
        300.0 * 1.8 * l_km
    ));
    assert!(close(
        a["temps_perdu_minutes"].as_f64().unwrap(),
        300.0 * 1.8 * l_km / 400.0
    ));

    // Arc 102: no geometry in the counts: its length comes from the référentiel's two segments
    // (0.002 + 0.001 degree of latitude at 2.36°E from 48.86°: 333.62116 m, M·Δφ at 48.8615°;
    // Python geographiclib 333.6211612946681 m), its point "48.86,2.36" (no space) is in the 3rd.
    let b = arc(&m, "102");
    assert!((b["longueur_metres"].as_f64().unwrap() - 333.621_161_294_668).abs() < 1e-6);
    assert_eq!(b["arrondissement"], "75003");
    assert_eq!(b["congestion_alerte"], true);
    // Arc 103: label and point from the old technical-header référentiel, outside the polygons.
    let c = arc(&m, "103");
    assert_eq!(c["libelle"], "Rue_C");
    assert_eq!(c["zone_fallback"], "Hors Paris");
    assert_eq!(c["arrondissement"], Value::Null);
    // Arc 104: API only, no flow, no geometry: no invented length, no lost time.
    let d = arc(&m, "104");
    assert_eq!(d["debit_journalier_total"], 0.0);
    assert_eq!(d["debit_horaire_moyen"], Value::Null);
    assert_eq!(d["temps_perdu_total_minutes"], Value::Null);
    assert_eq!(d["zone_fallback"], "Unknown");

    let g = &m["metrics"]["global_metrics"];
    assert_eq!(g["total_vehicules_jour"], 910.0);
    assert_eq!(g["debit_journalier_total"], 910.0);
    assert_eq!(g["nombre_troncons_actifs"], 3);
    assert!(close(
        g["moyenne_debit_par_troncon"].as_f64().unwrap(),
        910.0 / 3.0
    ));
    assert!(close(
        g["taux_disponibilite_capteurs"].as_f64().unwrap(),
        400.0 / 6.0
    ));
    assert_eq!(g["nombre_troncons_satures"], 1);
    assert_eq!(g["repartition_etat_trafic"]["Bloqué"], 2);
    let alerts = m["metrics"]["alertes_congestion"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["identifiant_arc"], "102");

    // 2024-03-30T23:30:00+00:00 is 00:30 on the 31st in Paris (the DST night).
    let m31 = json(out.join("metrics/comptages_metrics_2024-03-31.json"));
    assert_eq!(arc(&m31, "101")["debit_journalier_total"], 90.0);

    let q = json(out.join("quality/quality_report_2024-03-30.json"));
    let c = &q["sources"]["comptages"];
    // CSV: 101 at 10h, 11h, 12h, 102, 103; API: 101 at 10h again, 104.
    assert_eq!(c["rows_read"], 7);
    assert_eq!(c["rows_used"], 6);
    assert_eq!(c["duplicates"], 1);
    assert_eq!(c["missing_values"]["debit_horaire"], 2);
    assert_eq!(c["categories"]["Barré"], 1);
    assert_eq!(q["clean"], true);

    let r = json(out.join("reports/daily_report_2024-03-30.json"));
    assert_eq!(r["report_id"], "daily_report_2024-03-30");
    assert_eq!(r["report"]["summary"]["total_vehicules_paris"], 910.0);
    assert_eq!(
        r["report"]["top_10_troncons_frequentes"][0]["identifiant_arc"],
        "102"
    );

    // The référentiel is written once, under the last processed date.
    let refm = json(out.join("metrics/referentiel_metrics_2024-03-31.json"));
    assert_eq!(refm["metrics"]["statistiques"]["nombre_troncons"], 3);
    assert_eq!(refm["metrics"]["mapping"]["102"]["nombre_segments"], 2);
    assert!(!out
        .join("metrics/referentiel_metrics_2024-03-30.json")
        .exists());
}

#[test]
fn snapshots_of_every_output_file() {
    let (_d, out) = run_fixture();
    // The Parquet tables and HTML pages are checked by `analytics` and `html_report`.
    let files: std::collections::BTreeMap<String, Vec<u8>> = all_files(&out)
        .into_iter()
        .filter(|(rel, _)| !rel.starts_with("analytics/") && !rel.ends_with(".html"))
        .collect();
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        vec![
            "metrics/comptages_metrics_2024-03-30.json",
            "metrics/comptages_metrics_2024-03-31.json",
            "metrics/referentiel_metrics_2024-03-31.json",
            "quality/quality_report_2024-03-30.json",
            "quality/quality_report_2024-03-31.json",
            "quality/quality_report_run.json",
            "reports/daily_report_2024-03-30.csv",
            "reports/daily_report_2024-03-30.json",
            "reports/daily_report_2024-03-31.csv",
            "reports/daily_report_2024-03-31.json",
        ]
    );
    for (rel, body) in files {
        let text = String::from_utf8(body).unwrap();
        insta::assert_snapshot!(rel.replace(['/', '.'], "_"), text);
    }
}
