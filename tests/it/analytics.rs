//! Issue 19's outputs, as people use them: the Parquet analytics tables read by DuckDB (Python,
//! pinned in scripts/test.sh) and checked against the JSON outputs and an independent
//! recomputation; the tidy report CSV read by pandas and DuckDB without options; the HTML
//! pages opened in headless Chromium (console errors and failed requests fail the test;
//! screenshots under target/html-report-screenshots); hostile labels stay text.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{all_files, process, processed, read, real_tree, repo, tree};

/// The test venv's Python (duckdb, pandas): `CITYFLOW_VENV`, else `~/.cache/cityflow/venv`.
fn venv_python() -> PathBuf {
    python_of("CITYFLOW_VENV", "venv")
}

/// The Python of a venv that scripts/test.sh installs: `$<var>`, else `~/.cache/cityflow/<dir>`.
pub fn python_of(var: &str, dir: &str) -> PathBuf {
    let venv = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").unwrap_or_default();
        PathBuf::from(home).join(".cache/cityflow").join(dir)
    });
    let py = venv.join("bin/python");
    assert!(
        py.is_file(),
        "{} is missing: scripts/test.sh installs it (with duckdb)",
        py.display()
    );
    py
}

/// Runs a script of tests/independent with `python`; its JSON stdout (failure: the test fails).
fn run_script(python: &Path, script: &str, args: &[&Path]) -> Value {
    let o = Command::new(python)
        .arg(repo().join("tests/independent").join(script))
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        o.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn sample_raw() -> PathBuf {
    repo().join("sample/cityflow-raw/raw")
}

fn run_sample(args: &[&str]) -> (tempfile::TempDir, PathBuf) {
    processed(&sample_raw(), args, 0)
}

#[test]
fn sample_tables_in_duckdb_equal_the_json_and_an_independent_count() {
    let (_d, out) = run_sample(&[]);
    let csv = sample_raw().join("batch/comptages-routiers-permanents.csv");
    let r = run_script(&venv_python(), "analytics_duckdb.py", &[&out, &csv]);
    let rows = &r["rows"];
    // The generator's sample: 16 arcs x 3 days; 5 bike counters, 24 Vélib stations a day.
    assert_eq!(rows["road_arc_days"], 48, "{r}");
    assert_eq!(rows["independent_arc_days"], 48, "{r}");
    assert_eq!(rows["velib_stations"], 72, "{r}");
    assert_eq!(rows["bike_counter_days"], 15, "{r}");
    assert_eq!(rows["weather_days"], 3, "{r}");
    for t in [
        "road_arc_hours",
        "road_works",
        "transit_disruptions",
        "quality_sources",
    ] {
        assert!(rows[t].as_u64().unwrap_or(0) > 0, "{t}: {r}");
    }
}

#[test]
fn real_tables_in_duckdb_equal_the_json_and_an_independent_count() {
    let files: Vec<(&str, &str)> = vec![
        (
            "batch/comptages-routiers-permanents.csv",
            "comptages-routiers-permanents/crp_washington_louisgthier.csv",
        ),
        (
            "api/comptages/dt=2026-06-21/hour=00/traffic.json",
            "comptages-routiers-permanents/crp_api_records_mff09.json",
        ),
        (
            "batch/referentiel-comptages-routiers.csv",
            "referentiel-comptages-routiers/referentiel-comptages-routiers_nezarbr.csv",
        ),
        (
            "batch/arrondissements-paris.geojson",
            "geo/arrondissements-paris.geojson",
        ),
        (
            "batch/chantiers-perturbants-2023.csv",
            "chantiers-perturbants/chantiers-perturbants_ameya_2023.csv",
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
            "batch/meteo-owm.json",
            "weather/owm_onecall_paris_florianlangard.derived.json",
        ),
        (
            "api/velib/dt=2024-11-19/hour=08/station_information.json",
            "velib/gbfs_station_information_banacchini_pretty.json",
        ),
        (
            "api/velib/dt=2024-11-19/hour=08/station_status.json",
            "velib/gbfs_station_status_banacchini_pretty.json",
        ),
    ];
    let raw = real_tree(&files);
    let (_dir, out) = processed(raw.path(), &[], 1);
    let csv = raw.path().join("batch/comptages-routiers-permanents.csv");
    let r = run_script(&venv_python(), "analytics_duckdb.py", &[&out, &csv]);
    let rows = &r["rows"];
    for t in [
        "road_arc_days",
        "road_arc_hours",
        "independent_arc_days",
        "bike_counter_days",
        "road_works",
        "transit_disruptions",
        "weather_days",
        "velib_stations",
        "quality_sources",
    ] {
        assert!(rows[t].as_u64().unwrap_or(0) > 0, "{t}: {r}");
    }
    // The real map: the 20 arrondissements drawn from the real GeoJSON.
    let page = std::fs::read_to_string(out.join("reports/daily_report_2024-11-19.html")).unwrap();
    assert_eq!(page.matches("<path d=").count(), 20);
}

#[test]
fn tables_are_deterministic_not_rewritten_and_can_be_turned_off() {
    let (_d, out) = run_sample(&[]);
    let first = all_files(&out);
    let o = process(&sample_raw(), &out, &["--json"]);
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["outputs_created"], 0, "{s}");
    assert_eq!(s["outputs_replaced"], 0, "{s}");
    assert_eq!(all_files(&out), first);
    let parquet = first.keys().filter(|k| k.ends_with(".parquet")).count();
    assert_eq!(parquet, 24, "8 tables with rows x 3 days");
    let (_d2, off) = run_sample(&["--no-analytics"]);
    assert!(!off.join("analytics").exists());
    let without: Vec<_> = first
        .keys()
        .filter(|k| !k.starts_with("analytics/"))
        .collect();
    assert_eq!(all_files(&off).keys().collect::<Vec<_>>(), without);
}

#[test]
fn temporary_files_left_in_partitions_are_removed_by_the_next_run() {
    let (_d, out) = run_sample(&[]);
    let part = out.join("analytics/road_arc_days/date=2025-10-26");
    // As a run killed while writing leaves them (`safe_file::unique_name`, a writer now gone:
    // the pid is above the kernel's limit), and a file that is not ours.
    let tmp = part.join(".part-0.parquet.4194999-0123456789abcdef.tmp");
    std::fs::write(&tmp, b"PAR1").unwrap();
    std::fs::write(part.join("notes.txt"), b"kept").unwrap();
    let o = process(&sample_raw(), &out, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!tmp.exists(), "left behind");
    assert!(part.join("notes.txt").exists());
    assert!(part.join("part-0.parquet").exists());
}

#[test]
fn report_csv_reads_with_pandas_and_duckdb_without_options() {
    let (_d, out) = run_sample(&[]);
    let csv = out.join("reports/daily_report_2025-10-26.csv");
    assert!(read(&csv).starts_with(b"\xEF\xBB\xBFsection;rank;key;value;detail\r\n"));
    let code = r#"
import sys, json, duckdb, pandas
p = sys.argv[1]
df = pandas.read_csv(p, sep=";")
d = duckdb.sql(f"select * from read_csv('{p}')")
rows = d.fetchall()
zones = df[df.section == "top_zones"]
print(json.dumps({"pandas_columns": list(df.columns), "pandas_rows": len(df),
  "duckdb_columns": d.columns, "duckdb_rows": len(rows),
  "total": df[(df.section == "summary") & (df.key == "total_vehicules_paris")].value.tolist(),
  "lost": df[(df.section == "summary") & (df.key == "temps_perdu_total_minutes")].value.tolist(),
  "zones": zones.key.tolist(), "zone_ranks": zones["rank"].tolist()}))
"#;
    let o = Command::new(venv_python())
        .args(["-c", code])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let cols = serde_json::json!(["section", "rank", "key", "value", "detail"]);
    assert_eq!(r["pandas_columns"], cols);
    assert_eq!(r["duckdb_columns"], cols);
    assert_eq!(r["pandas_rows"], r["duckdb_rows"]);
    // Rounded as displayed (2 decimals, integers without): the JSON report's exact values.
    let summary = &crate::support::json(out.join("reports/daily_report_2025-10-26.json"))["report"]
        ["summary"];
    let total = summary["total_vehicules_paris"].as_f64().unwrap();
    let lost = summary["temps_perdu_total_minutes"].as_f64().unwrap();
    assert_eq!(total.fract(), 0.0);
    assert_eq!(r["total"], serde_json::json!([format!("{total}")]));
    assert_eq!(r["lost"], serde_json::json!([format!("{lost:.2}")]));
    // Zones are arrondissements, each once.
    let zones: Vec<&str> = r["zones"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut unique = zones.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), zones.len(), "{zones:?}");
    assert_eq!(zones[0], "Arrondissement 75007");
}

/// The sample with hostile labels in the raw files: an arc label, a road-work id and a
/// disruption's line.
fn hostile_sample() -> tempfile::TempDir {
    let mut files = Vec::new();
    for (rel, body) in all_files(&sample_raw()) {
        if !rel.ends_with(".csv") {
            files.push((rel, body));
            continue;
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        let text = text
            .replace("Bd_Ney_1", "<script>alert(1)</script>")
            // Inside the field (a field starting with `"` would be a quoted CSV field).
            .replace("Chapelle_1", "Chapelle\"><img src=x onerror=alert(2)>")
            .replace("CP003001", "CP<script>alert(3)</script>");
        files.push((rel, text.into_bytes()));
    }
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(r, b)| (r.as_str(), b.clone())).collect();
    tree(&refs)
}

#[test]
fn html_pages_escape_hostile_labels() {
    let raw = hostile_sample();
    let (_dir, out) = processed(raw.path(), &[], 1);
    let page = std::fs::read_to_string(out.join("reports/daily_report_2025-10-26.html")).unwrap();
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            || page.contains("&quot;&gt;&lt;img"),
        "labels missing"
    );
    assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    assert!(!page.contains("<script"), "unescaped script");
    assert!(!page.contains("<img"), "unescaped img");
}

#[test]
fn html_pages_open_in_chromium_without_errors() {
    let (_d, out) = run_sample(&[]);
    let raw = hostile_sample();
    let hdir = tempfile::tempdir().unwrap();
    let hout = hdir.path().join("out");
    process(raw.path(), &hout, &[]);
    let shots = repo().join("target/html-report-screenshots");
    let pages = [
        out.join("reports/index.html"),
        out.join("reports/daily_report_2025-10-26.html"),
        hout.join("reports/daily_report_2025-10-26.html"),
    ];
    let mut args: Vec<&Path> = vec![&shots];
    args.extend(pages.iter().map(PathBuf::as_path));
    let r = run_script(Path::new("python3"), "html_chromium.py", &args);
    assert_eq!(r["problems"], serde_json::json!([]), "{r}");
    let shots_taken = r["pages"].as_array().unwrap();
    assert_eq!(shots_taken.len(), 6, "{r}");
    for s in shots_taken {
        let png = read(s["png"].as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "{s}");
        assert!(s["title"].as_str().unwrap().starts_with("Cityflow"), "{s}");
    }
}
