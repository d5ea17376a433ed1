//! Input shapes not covered elsewhere: référentiel GeoJSON, the ingestion Lambda's JSON Lines
//! layout (`api/<source>/YYYY-MM-DD/*.json`), Opendatasoft `results` pages, `.jsonl` files.

use serde_json::json;

use crate::support::*;

fn rec(arc: &str, t: &str, q: f64) -> serde_json::Value {
    json!({"iu_ac": arc, "libelle": "Rue", "t_1h": t, "q": q, "k": 10.0, "etat_trafic": "Fluide", "etat_barre": "Invalide"})
}

#[test]
fn ingestion_json_lines_and_result_pages_are_all_read() {
    // The Lambda writes one line per object, an array spread one element per line.
    let lambda = format!(
        "{}\n{}\n",
        rec("1", "2025-11-04T08:00:00+01:00", 10.0),
        rec("1", "2025-11-04T09:00:00+01:00", 20.0)
    );
    let page = json!({"total_count": 2, "results": [rec("2", "2025-11-04T08:00:00+01:00", 5.0), rec("1", "2025-11-04T09:00:00+01:00", 20.0)]});
    let jsonl = format!("{}\n", json!([rec("3", "2025-11-04T23:30:00+01:00", 1.0)]));
    let raw = tree(&[
        (
            "api/comptages/2025-11-04/stream-data-1730700000-ab12.json",
            lambda.into_bytes(),
        ),
        (
            "api/comptages/dt=2025-11-04/hour=09/page.json",
            serde_json::to_vec_pretty(&page).unwrap(),
        ),
        (
            "api/comptages/dt=2025-11-04/hour=23/late.jsonl",
            jsonl.into_bytes(),
        ),
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
    let m = json(out.join("metrics/comptages_metrics_2025-11-04.json"));
    let g = &m["metrics"]["global_metrics"];
    // 10 + 20 (arc 1; its 09:00 row repeated in the page counts once) + 5 + 1
    assert_eq!(g["total_vehicules_jour"], 36.0);
    assert_eq!(g["nombre_troncons"], 3);
    let q = json(out.join("quality/quality_report_2025-11-04.json"));
    assert_eq!(
        q["sources"]["comptages"]["files_read"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(q["sources"]["comptages"]["duplicates"], 1);
}

#[test]
fn referentiel_geojson_is_read() {
    let fc = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"iu_ac": "77", "libelle": "Quai_Test", "iu_nd_amont": "1", "iu_nd_aval": "2"},
         "geometry": {"type": "LineString", "coordinates": [[2.30, 48.80], [2.30, 48.81]]}},
        {"type": "Feature", "properties": {"iu_ac": "77", "libelle": "Quai_Test"},
         "geometry": {"type": "LineString", "coordinates": [[2.30, 48.81], [2.30, 48.82]]}},
        {"type": "Feature", "properties": {"iu_ac": "78", "libelle": "Sans_Geo"}, "geometry": null},
        {"type": "Feature", "properties": {"libelle": "Sans_Id"}, "geometry": null}
    ]});
    let raw = tree(&[(
        "batch/referentiel-troncons.geojson",
        serde_json::to_vec(&fc).unwrap(),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(raw.path(), &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the feature without id is a rejected row"
    );
    let m = json(out.join("metrics/referentiel_metrics_2025-11-21.json"));
    let a = &m["metrics"]["mapping"]["77"];
    assert_eq!(a["nombre_segments"], 2);
    // 0.02 degree of latitude from 48.80° on WGS84: M·Δφ at 48.81° = 2,224.1211 m (Python
    // geographiclib: 2,224.1211045911873 m; the former 6,371 km sphere gave 2,223.8985 m)
    assert!((a["longueur_metres"].as_f64().unwrap() - 2_224.121_104_591_187).abs() < 1e-6);
    assert_eq!(m["metrics"]["mapping"]["78"]["longueur_metres"], 0.0);
    let run = json(out.join("quality/quality_report_run.json"));
    assert_eq!(
        run["undated"]["referentiel"]["rejects_by_reason"]["missing_key"],
        1
    );
    assert_eq!(
        run["undated"]["referentiel"]["missing_values"]["geo_shape"],
        1
    );
}
