//! Discovery of the raw tree: every matching file, in sorted order.
//!
//! Layouts recognised under the raw root:
//! - `api/<source>/dt=YYYY-MM-DD/[hour=HH/]*.json|*.jsonl` (the documented layout);
//! - `api/<source>/YYYY-MM-DD/*.json` (the ingestion Lambda's layout, JSON Lines);
//! - `batch/**/<prefix>*.csv|.json|.geojson` with prefixes `comptages`, `chantiers`,
//!   `referentiel`, `arrondissements`, and for the other datasets `comptage-velo` (bikes),
//!   `velib` / `station_information` / `station_status`, `meteo` / `weather` / `open-meteo`,
//!   `disruptions` / `perturbations` / `line_reports` (traffic).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use walkdir::WalkDir;

/// The datasets a raw file can belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dataset {
    Comptages,
    Referentiel,
    Arrondissements,
    Chantiers,
    Bikes,
    Traffic,
    Weather,
    Velib,
}

impl Dataset {
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Comptages => "comptages",
            Dataset::Referentiel => "referentiel",
            Dataset::Arrondissements => "arrondissements",
            Dataset::Chantiers => "chantiers",
            Dataset::Bikes => "bikes",
            Dataset::Traffic => "traffic",
            Dataset::Weather => "weather",
            Dataset::Velib => "velib",
        }
    }

    /// Datasets this version turns into metrics (all of them now; kept for new datasets).
    pub fn is_processed(self) -> bool {
        true
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    /// `.json`, `.jsonl`, `.geojson`: a document, JSON Lines, or several documents.
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    /// Path relative to the raw root, `/`-separated: the name used in reports.
    pub rel: String,
    pub dataset: Dataset,
    pub format: Format,
    /// The `dt=` or date folder of API files.
    pub partition_date: Option<NaiveDate>,
    pub size: u64,
}

impl InputFile {
    /// An input outside a discovered tree (tests, `--arrondissements`): the format from the
    /// extension (`.csv` or JSON), the size from the file system.
    pub fn new(
        path: &Path,
        rel: &str,
        dataset: Dataset,
        partition_date: Option<NaiveDate>,
    ) -> InputFile {
        InputFile {
            path: path.to_path_buf(),
            rel: rel.to_string(),
            dataset,
            format: format_of(rel).unwrap_or(Format::Json),
            partition_date,
            size: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RawTree {
    pub files: Vec<InputFile>,
    /// Files under the root that match no layout (relative paths).
    pub ignored: Vec<String>,
}

impl RawTree {
    pub fn of(&self, d: Dataset) -> impl Iterator<Item = &InputFile> {
        self.files.iter().filter(move |f| f.dataset == d)
    }
}

fn api_dataset(source: &str) -> Option<Dataset> {
    let s = source.to_ascii_lowercase();
    Some(match s.as_str() {
        "bikes" | "bike" | "velo" | "comptage-velo" => Dataset::Bikes,
        "traffic" | "disruptions" => Dataset::Traffic,
        "weather" | "meteo" => Dataset::Weather,
        "velib" => Dataset::Velib,
        "referentiel" => Dataset::Referentiel,
        _ if s.starts_with("comptages") || s == "road_counters" => Dataset::Comptages,
        _ => return None,
    })
}

fn batch_dataset(file_name: &str) -> Option<Dataset> {
    let n = file_name.to_ascii_lowercase();
    [
        ("comptages", Dataset::Comptages),
        ("comptage-velo", Dataset::Bikes),
        ("comptage_velo", Dataset::Bikes),
        ("chantiers", Dataset::Chantiers),
        ("referentiel", Dataset::Referentiel),
        ("arrondissements", Dataset::Arrondissements),
        ("velib", Dataset::Velib),
        ("station_information", Dataset::Velib),
        ("station_status", Dataset::Velib),
        ("meteo", Dataset::Weather),
        ("weather", Dataset::Weather),
        ("open-meteo", Dataset::Weather),
        ("openmeteo", Dataset::Weather),
        ("owm", Dataset::Weather),
        ("openweathermap", Dataset::Weather),
        ("visualcrossing", Dataset::Weather),
        ("disruptions", Dataset::Traffic),
        ("perturbations", Dataset::Traffic),
        ("line_reports", Dataset::Traffic),
    ]
    .into_iter()
    .find(|(p, _)| n.starts_with(p))
    .map(|(_, d)| d)
}

fn format_of(file_name: &str) -> Option<Format> {
    let n = file_name.to_ascii_lowercase();
    if n.ends_with(".csv") {
        Some(Format::Csv)
    } else if n.ends_with(".json") || n.ends_with(".jsonl") || n.ends_with(".geojson") {
        Some(Format::Json)
    } else {
        None
    }
}

fn partition_date(component: &str) -> Option<NaiveDate> {
    let s = component.strip_prefix("dt=").unwrap_or(component);
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Walks `root` (sorted by name, links not followed) and classifies every file.
pub fn discover(root: &Path) -> std::io::Result<RawTree> {
    let mut tree = RawTree::default();
    for entry in WalkDir::new(root).sort_by_file_name() {
        let entry =
            entry.map_err(|e| std::io::Error::other(format!("walking {}: {e}", root.display())))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel_path = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let parts: Vec<String> = rel_path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let rel = parts.join("/");
        let name = parts.last().cloned().unwrap_or_default();
        if name.starts_with('.') || name.ends_with(".tmp") || name.ends_with('~') {
            continue;
        }
        let classified = match (parts.first().map(String::as_str), format_of(&name)) {
            (Some("api"), Some(Format::Json)) if parts.len() >= 3 => {
                api_dataset(&parts[1]).map(|d| {
                    let pd = parts[2..parts.len() - 1]
                        .iter()
                        .find_map(|c| partition_date(c));
                    (d, Format::Json, pd)
                })
            }
            (Some("batch"), Some(fmt)) => batch_dataset(&name).map(|d| (d, fmt, None)),
            _ => None,
        };
        match classified {
            Some((dataset, format, partition_date)) => tree.files.push(InputFile {
                path: entry.path().to_path_buf(),
                rel,
                dataset,
                format,
                partition_date,
                size: entry.metadata().map(|m| m.len()).unwrap_or(0),
            }),
            None => tree.ignored.push(rel),
        }
    }
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_layouts_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for p in [
            "api/bikes/dt=2025-11-04/hour=02/b.json",
            "api/bikes/dt=2025-11-04/hour=02/a.jsonl",
            "api/traffic/2025-11-04/stream-data-1-x.json",
            "api/comptages/dt=2025-11-03/snap.json",
            "batch/comptages-routiers-permanents.csv",
            "batch/comptages-routiers-permanents-2.csv",
            "batch/2025-11-01/referentiel-geographique.csv",
            "batch/arrondissements.geojson",
            "batch/notes.txt",
            "batch/comptage-velo-donnees-compteurs.csv",
            "batch/velo-notes.csv",
            "batch/.hidden.csv",
            "README.md",
        ] {
            let f = root.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(&f, "x").unwrap();
        }
        let t = discover(root).unwrap();
        let got: Vec<(&str, &str, Option<String>)> = t
            .files
            .iter()
            .map(|f| {
                (
                    f.rel.as_str(),
                    f.dataset.name(),
                    f.partition_date.map(|d| d.to_string()),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "api/bikes/dt=2025-11-04/hour=02/a.jsonl",
                    "bikes",
                    Some("2025-11-04".into())
                ),
                (
                    "api/bikes/dt=2025-11-04/hour=02/b.json",
                    "bikes",
                    Some("2025-11-04".into())
                ),
                (
                    "api/comptages/dt=2025-11-03/snap.json",
                    "comptages",
                    Some("2025-11-03".into())
                ),
                (
                    "api/traffic/2025-11-04/stream-data-1-x.json",
                    "traffic",
                    Some("2025-11-04".into())
                ),
                (
                    "batch/2025-11-01/referentiel-geographique.csv",
                    "referentiel",
                    None
                ),
                ("batch/arrondissements.geojson", "arrondissements", None),
                ("batch/comptage-velo-donnees-compteurs.csv", "bikes", None),
                (
                    "batch/comptages-routiers-permanents-2.csv",
                    "comptages",
                    None
                ),
                ("batch/comptages-routiers-permanents.csv", "comptages", None),
            ]
        );
        assert_eq!(
            t.ignored,
            vec!["README.md", "batch/notes.txt", "batch/velo-notes.csv"]
        );
    }
}
