//! Bad input: every broken file is named in the quality report with its line and reason, the
//! other files are processed, the exit code is 1, and nothing panics.

use serde_json::Value;

use crate::support::*;

const HEADER: &str = "Identifiant arc;Libelle;Date et heure de comptage;Débit horaire;Taux d'occupation;Etat trafic;Identifiant noeud amont;Libelle noeud amont;Identifiant noeud aval;Libelle noeud aval;Etat arc;Date debut dispo data;Date fin dispo data;geo_point_2d;geo_shape";

fn row(arc: &str, ts: &str, q: &str, k: &str) -> String {
    format!("{arc};Rue;{ts};{q};{k};Fluide;1;A;2;B;Invalide;1996-10-10;2023-01-01;48.85, 2.35;\n")
}

fn samples(v: &Value) -> Vec<String> {
    v["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn broken_files_are_named_and_the_rest_is_processed() {
    let good = format!(
        "{HEADER}\n{}{}",
        row("1", "2024-01-04T08:00:00+01:00", "100", "10"),
        row("1", "2024-01-04T09:00:00+01:00", "200", "20")
    );
    let truncated = {
        let full = format!(
            "{HEADER}\n{}{}",
            row("2", "2024-01-04T08:00:00+01:00", "7", "1"),
            row("2", "2024-01-04T09:00:00+01:00", "9", "1")
        );
        full[..full.len() - 60].to_string()
    };
    let wrong_delim = format!(
        "{}\n1|Rue|2024-01-04T08:00:00+01:00|5|5\n",
        HEADER.replace(';', "|")
    );
    let missing_col = format!(
        "{}\n3;Rue;2024-01-04T08:00:00+01:00;5;Fluide;1;A;2;B;Invalide;1996-10-10;2023-01-01;48.85, 2.35;\n",
        HEADER.replace("Taux d'occupation;", "")
    );
    let mut latin1 = format!("{HEADER}\n").into_bytes();
    latin1
        .extend_from_slice(b"4;Rue;2024-01-04T08:00:00+01:0\xe9;5;5;Fluide;1;A;2;B;Invalide;;;;\n");
    latin1.extend_from_slice(
        b"4;Caf\xe9_Rue;2024-01-04T09:00:00+01:00;5;5;Fluide;1;A;2;B;Invalide;;;;\n",
    );
    let bad_values = format!(
        "{HEADER}\n{}{}{}{}",
        row("5", "2024-01-04T08:00:00+01:00", "abc", "5"),
        row("5", "2024-01-04T09:00:00+01:00", "5", "150"),
        row("5", "04/01/2024 10:00", "5", "5"),
        row("", "2024-01-04T11:00:00+01:00", "5", "5"),
    );
    let raw = tree(&[
        ("batch/comptages-1-good.csv", good.into_bytes()),
        ("batch/comptages-2-truncated.csv", truncated.into_bytes()),
        (
            "batch/comptages-3-wrong-delimiter.csv",
            wrong_delim.into_bytes(),
        ),
        (
            "batch/comptages-4-missing-column.csv",
            missing_col.into_bytes(),
        ),
        ("batch/comptages-5-latin1.csv", latin1),
        ("batch/comptages-6-empty.csv", Vec::new()),
        ("batch/comptages-7-bad-values.csv", bad_values.into_bytes()),
        (
            "api/comptages/dt=2024-01-04/broken.json",
            b"[{\"iu_ac\": \"9\", \"t_1h\": ".to_vec(),
        ),
        (
            "api/comptages/2024-01-04/stream-data-1.json",
            b"{\"_raw\": \"<html>502 Bad Gateway</html>\"}\n".to_vec(),
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(raw.path(), &out, &["--json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // The good rows were processed.
    let m = json(out.join("metrics/comptages_metrics_2024-01-04.json"));
    let arcs: Vec<&str> = m["metrics"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["identifiant_arc"].as_str().unwrap())
        .collect();
    // Every row of arc 5 is invalid: it has no metrics.
    assert_eq!(arcs, vec!["1", "2", "4"]);
    assert_eq!(m["metrics"]["metrics"][0]["debit_journalier_total"], 300.0);
    assert_eq!(
        m["metrics"]["metrics"][1]["debit_journalier_total"], 7.0,
        "the truncated file's first row is kept"
    );

    let run = json(out.join("quality/quality_report_run.json"));
    assert_eq!(run["clean"], false);
    let undated = &run["undated"]["comptages"];
    let failed: Vec<&str> = undated["files_failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        vec![
            "api/comptages/dt=2024-01-04/broken.json",
            "batch/comptages-3-wrong-delimiter.csv",
            "batch/comptages-4-missing-column.csv",
            "batch/comptages-6-empty.csv",
        ]
    );
    let s = samples(undated);
    let has = |prefix: &str| s.iter().any(|x| x.starts_with(prefix));
    assert!(
        has("api/comptages/2024-01-04/stream-data-1.json:1: ingested_non_json"),
        "{s:#?}"
    );
    assert!(
        has("api/comptages/dt=2024-01-04/broken.json:1: bad_json"),
        "{s:#?}"
    );
    assert!(
        has("batch/comptages-2-truncated.csv:3: wrong_column_count"),
        "{s:#?}"
    );
    assert!(has("batch/comptages-3-wrong-delimiter.csv:1: missing_column: missing column(s) `Identifiant arc`"), "{s:#?}");
    assert!(has("batch/comptages-4-missing-column.csv:1: missing_column: missing column(s) `Taux d'occupation`"), "{s:#?}");
    assert!(
        has("batch/comptages-5-latin1.csv:2: invalid_utf8: field `Date et heure de comptage`"),
        "{s:#?}"
    );
    assert!(has("batch/comptages-6-empty.csv:1: empty_file"), "{s:#?}");
    assert!(has("batch/comptages-7-bad-values.csv:4: unparseable_date: field `Date et heure de comptage`: \"04/01/2024 10:00\""), "{s:#?}");
    // A wrong-delimiter file's data rows are counted as rejected, not lost.
    assert_eq!(undated["rejects_by_reason"]["missing_column"], 2);

    // Dated rejects land in their day's report, with file, line and field.
    let q = json(out.join("quality/quality_report_2024-01-04.json"));
    assert_eq!(q["clean"], false);
    let c = &q["sources"]["comptages"];
    assert_eq!(c["rejects_by_reason"]["bad_number"], 1);
    assert_eq!(c["rejects_by_reason"]["value_out_of_range"], 1);
    assert_eq!(c["rejects_by_reason"]["missing_key"], 1);
    let s = samples(c);
    assert!(s.contains(&"batch/comptages-7-bad-values.csv:2: bad_number: field `Débit horaire`: \"abc\" is not a number".to_string()), "{s:#?}");
    assert!(s.contains(&"batch/comptages-7-bad-values.csv:3: value_out_of_range: field `Taux d'occupation`: 150 is outside 0..100".to_string()), "{s:#?}");
    assert_eq!(c["warnings_by_reason"]["invalid_utf8_text"], 1);
    assert!(
        c["rows_read"].as_u64().unwrap()
            == c["rows_used"].as_u64().unwrap() + c["rows_rejected"].as_u64().unwrap()
    );

    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["exit_code"], 1);
    assert!(
        summary["sources"]["comptages"]["rows_rejected"]
            .as_u64()
            .unwrap()
            >= 8
    );
}

#[test]
fn a_tree_of_only_bad_files_still_reports() {
    let raw = tree(&[
        ("batch/comptages.csv", b"\xEF\xBB\xBF".to_vec()),
        ("batch/referentiel.csv", b"x;y\n1;2\n".to_vec()),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(raw.path(), &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    let run = json(out.join("quality/quality_report_run.json"));
    assert_eq!(run["dates"], serde_json::json!([]));
    assert_eq!(
        run["undated"]["comptages"]["files_failed"][0],
        "batch/comptages.csv"
    );
    assert_eq!(
        run["undated"]["referentiel"]["files_failed"][0],
        "batch/referentiel.csv"
    );
}
