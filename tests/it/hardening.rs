//! Issue 21: outputs never written through planted links (modes kept), hostile workbooks and
//! JSON refused by their shape while the other inputs are still read. The raw-pull side (part
//! files, escaped keys) is in `transfer.rs`; the hostile JSON is also in the corpus
//! (`hostile.rs`).

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

#[test]
fn process_replaces_planted_links_and_keeps_modes() {
    let raw = repo().join("sample/cityflow-raw/raw");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = process(&raw, &out, &[]);
    assert!(o.status.code() == Some(0) || o.status.code() == Some(1));
    let outside = dir.path().join("outside.txt");
    std::fs::write(&outside, b"keep").unwrap();
    let metrics: Vec<String> = all_files(&out)
        .into_keys()
        .filter(|k| k.starts_with("metrics/"))
        .collect();
    assert!(metrics.len() >= 2);
    // One output becomes a link to a file outside, another a 0600 file.
    let (linked, private) = (out.join(&metrics[0]), out.join(&metrics[1]));
    std::fs::remove_file(&linked).unwrap();
    symlink(&outside, &linked).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Another clock: every file is rewritten.
    let o = process_env(&raw, &out, &[], &[("SOURCE_DATE_EPOCH", "1763781600")]);
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(read(&outside), b"keep", "nothing written through the link");
    assert!(std::fs::symlink_metadata(&linked).unwrap().is_file());
    let v: Value = json(&linked);
    assert!(v["metric_type"].is_string());
    let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a rewrite keeps the file's mode");
    assert!(json(&private)["timestamp"].is_string());
    let temps = all_files(&out)
        .into_keys()
        .filter(|k| k.ends_with(".tmp"))
        .count();
    assert_eq!(temps, 0);
}

fn hostile_xlsx(kind: &str, out: &Path) {
    let o = Command::new("python3")
        .arg(repo().join("tests/independent/hostile_xlsx.py"))
        .arg(kind)
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The workbooks read by `stations run` (through its library: the debug build of the binary
/// stops on a clap assertion about its `MongoArgs` group, a problem of its flags, not of this).
fn transform(files: &[&Path]) -> (Vec<String>, Vec<(String, Option<String>)>) {
    use cityflow_cloud::stations::{self, catalog::Catalog, InputKind, StartDates};
    let catalog = Catalog::load(&repo().join("sample/stations/stations.csv")).unwrap();
    let inputs: Vec<_> = files
        .iter()
        .map(|p| (p.to_path_buf(), InputKind::Workbook))
        .collect();
    let (docs, _, q) = stations::transform(&inputs, &catalog, &StartDates::default());
    let docs = docs.iter().map(|d| format!("{d:?}")).collect();
    let by_file = q.inputs.into_iter().map(|i| (i.file, i.error)).collect();
    (docs, by_file)
}

#[test]
fn hostile_workbooks_are_refused_and_the_others_read() {
    let dir = tempfile::tempdir().unwrap();
    let good = real("weather-stations/wu_La_Madeleine_FR.xlsx");
    let mut inputs = Vec::new();
    for kind in ["far", "rows", "bomb"] {
        let p = dir.path().join(format!("hostile-{kind}.xlsx"));
        hostile_xlsx(kind, &p);
        inputs.push(p);
    }
    let (alone, _) = transform(&[&good]);
    assert!(alone.len() > 1000, "{}", alone.len());
    let mut all: Vec<&Path> = inputs.iter().map(|p| p.as_path()).collect();
    all.push(&good);
    let (docs, by_file) = transform(&all);
    // The valid workbook gives the same documents as when read alone.
    assert!(docs == alone);
    let want = [
        ("hostile-far", "spans A1:XFD1048576 (17179869184 cells)"),
        ("hostile-rows", "more than 400000 rows"),
        ("hostile-bomb", "decompresses to more than 256 MiB"),
    ];
    for (name, msg) in want {
        let (_, e) = by_file.iter().find(|(f, _)| f.contains(name)).unwrap();
        let e = e.as_deref().unwrap_or_default();
        assert!(e.contains(msg), "{name}: {e}");
    }
    let (_, e) = by_file
        .iter()
        .find(|(f, _)| f.contains("Madeleine"))
        .unwrap();
    assert_eq!(e, &None);
}

#[test]
fn a_json_array_of_zeros_is_refused_and_the_rest_written() {
    let sample = repo().join("sample/cityflow-raw/raw");
    let dir = tempfile::tempdir().unwrap();
    let out_good = dir.path().join("out-good");
    process(&sample, &out_good, &[]);
    let raw = dir.path().join("raw");
    for (rel, body) in all_files(&sample) {
        let p = raw.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let rel = "api/comptages/dt=2025-10-25/zeros.json";
    let zeros = [b"[".as_slice(), &b"0,".repeat(5_000_000), b"0]"].concat();
    std::fs::create_dir_all(raw.join("api/comptages/dt=2025-10-25")).unwrap();
    std::fs::write(raw.join(rel), zeros).unwrap();
    let out = dir.path().join("out");
    let o = process(&raw, &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let run = json(out.join("quality/quality_report_run.json"));
    let named = run["totals"]["comptages"]["problems_by_file"][rel].to_string();
    assert!(named.contains("read_error"), "{named}");
    assert!(run
        .to_string()
        .contains("would take about 1544 MiB once parsed"));
    assert!(
        crate::hostile::results(&out) == crate::hostile::results(&out_good),
        "other outputs unchanged"
    );
}
