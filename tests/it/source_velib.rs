//! Tests of the `velib` source (real files and fixtures).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use cityflow::discover::{Dataset, Format, InputFile};
use cityflow::geo::ArrondissementIndex;
use cityflow::metrics::velib::{metrics, VelibAcc};
use cityflow::quality::QualityAcc;
use cityflow::sources::velib::read_file;
use cityflow::sources::DaySelection;

use crate::support;

fn input(path: &Path, rel: &str, partition_date: Option<NaiveDate>) -> InputFile {
    let format = if rel.ends_with(".csv") {
        Format::Csv
    } else {
        Format::Json
    };
    InputFile {
        path: path.to_path_buf(),
        rel: rel.to_string(),
        dataset: Dataset::Velib,
        format,
        partition_date,
        size: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
    }
}

fn read(path: &Path, rel: &str, q: &mut QualityAcc) -> VelibAcc {
    read_file(&input(path, rel, None), &DaySelection::default(), q)
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

#[test]
fn explore() {
    let mut q = QualityAcc::default();
    let mut acc = read(&real_status(), "status.json", &mut q);
    acc.merge(read(&real_information(), "information.json", &mut q));
    acc.merge(read(&real_csv(), "velib.csv", &mut q));
    let idx = arrondissements();
    for d in acc.days() {
        let m = metrics(&acc, d, &idx).unwrap();
        println!("{}", serde_json::to_string_pretty(&m).unwrap());
        println!("{:?}", acc.duplicates(Some(d)));
    }
    for (k, c) in &q.cells {
        println!("{k:?} {c:?}");
    }
}
