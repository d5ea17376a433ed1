//! Discovery of the raw tree: every matching file, in sorted order.
//!
//! Layouts recognised under the raw root:
//! - `api/<source>/dt=YYYY-MM-DD/[hour=HH/]*.json|*.jsonl` (the documented layout);
//! - `api/<source>/YYYY-MM-DD/*.json` (the ingestion Lambda's layout, JSON Lines);
//! - `batch/**/<prefix>*.csv|.json|.geojson`; a `batch/` JSON file whose name matches no prefix
//!   is taken by its content when its first 16 KB hold what only one kind writes
//!   ([`JSON_SIGNS`]: the PRIM bulk `lines` and `disruptions` members, saved under any name).
//!
//! CSV exports are also told by their header ([`KNOWN_HEADERS`]): the "chantiers à Paris"
//! export is read by `chantiers` with its own columns, and a header missing a dataset's columns
//! is reported with the export it looks like ([`looks_like`]).
//!
//! Which `<source>` folder names and `<prefix>`es a kind of input takes is declared by its
//! reader, as a [`FileKind`] (`FILES` in `sources/<x>.rs`); [`discover`] is given the list.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use walkdir::WalkDir;

/// The raw files of one kind of input (a dataset or reference data), by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKind {
    /// The kind's name, also its source name in quality reports (`bikes`, `referentiel`...).
    pub name: &'static str,
    /// Folder names under `api/`, in lower case; a final `*` takes every name so starting.
    pub api: &'static [&'static str],
    /// File-name prefixes under `batch/`, in lower case.
    pub batch: &'static [&'static str],
}

impl FileKind {
    fn takes_api(&self, folder: &str) -> bool {
        self.api.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => folder.starts_with(prefix),
            None => folder == *p,
        })
    }

    fn takes_batch(&self, file_name: &str) -> bool {
        self.batch.iter().any(|p| file_name.starts_with(p))
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
    /// The [`FileKind::name`] of its kind.
    pub kind: &'static str,
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
        kind: &'static str,
        partition_date: Option<NaiveDate>,
    ) -> InputFile {
        InputFile {
            path: path.to_path_buf(),
            rel: rel.to_string(),
            kind,
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
    /// Paths not followed, with why, that lose nothing: link loops, second paths to a file
    /// already read.
    pub skipped: Vec<String>,
    /// Paths that could not be read, with why: broken links, unreadable folders.
    pub unreadable: Vec<String>,
}

impl RawTree {
    /// The files of the kind named `kind`.
    pub fn of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a InputFile> + 'a {
        self.files.iter().filter(move |f| f.kind == kind)
    }
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

/// JSON files of `batch/` whose name says nothing are taken by their content: a few bytes that
/// only one kind of input writes, found in the file's first 16 KB (kind, any of these).
const JSON_SIGNS: &[(&str, &[&str])] = &[(
    "traffic",
    &[
        "\"disruptionIds\"",
        "\"applicationPeriods\"",
        "\"application_periods\"",
    ],
)];

/// The kind (among `kinds`) a JSON file's first 16 KB tell, if any (see [`JSON_SIGNS`]).
fn sniff_json(path: &Path, kinds: &[FileKind]) -> Option<&'static str> {
    use std::io::Read;
    let mut head = Vec::with_capacity(16 * 1024);
    let f = std::fs::File::open(path).ok()?;
    f.take(16 * 1024).read_to_end(&mut head).ok()?;
    let found = |sign: &str| memchr::memmem::find(&head, sign.as_bytes()).is_some();
    JSON_SIGNS
        .iter()
        .find(|(kind, signs)| {
            kinds.iter().any(|k| k.name == *kind) && signs.iter().any(|s| found(s))
        })
        .map(|(kind, _)| *kind)
        .and_then(|kind| kinds.iter().find(|k| k.name == kind).map(|k| k.name))
}

/// Walks `root` (sorted by name, symbolic links followed) and classifies every file as the first
/// of `kinds` that takes it. A file reached twice (through a link) is read once; link loops,
/// broken links and unreadable folders are listed in `skipped`, never silently dropped.
pub fn discover(root: &Path, kinds: &[FileKind]) -> std::io::Result<RawTree> {
    let mut tree = RawTree::default();
    let mut seen = std::collections::BTreeMap::new();
    for entry in WalkDir::new(root).follow_links(true).sort_by_file_name() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) if e.depth() == 0 => {
                return Err(std::io::Error::other(format!(
                    "walking {}: {e}",
                    root.display()
                )))
            }
            Err(e) if e.loop_ancestor().is_some() => {
                tree.skipped.push(walk_problem(root, &e));
                continue;
            }
            Err(e) => {
                tree.unreadable.push(walk_problem(root, &e));
                continue;
            }
        };
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
        let meta = entry.metadata().ok();
        if let Some(first) = meta.as_ref().and_then(|m| first_sight(&mut seen, m, &rel)) {
            tree.skipped.push(format!(
                "{rel}: the same file as {first} (read once, as {first})"
            ));
            continue;
        }
        match classify(Some(entry.path()), &parts, &name, kinds) {
            Some((kind, format, partition_date)) => tree.files.push(InputFile {
                path: entry.path().to_path_buf(),
                rel,
                kind,
                format,
                partition_date,
                size: meta.map(|m| m.len()).unwrap_or(0),
            }),
            None => tree.ignored.push(rel),
        }
    }
    Ok(tree)
}

/// The first path seen for this file (device and inode), if `rel` is not it.
fn first_sight(
    seen: &mut std::collections::BTreeMap<(u64, u64), String>,
    meta: &std::fs::Metadata,
    rel: &str,
) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let first = seen
        .entry((meta.dev(), meta.ino()))
        .or_insert_with(|| rel.to_string());
    (first != rel).then(|| first.clone())
}

/// A link loop, a broken link or an unreadable folder, as one line naming the path.
fn walk_problem(root: &Path, e: &walkdir::Error) -> String {
    let rel = |p: &Path| match p.strip_prefix(root).unwrap_or(p).display().to_string() {
        s if s.is_empty() => "the raw root".to_string(),
        s => s,
    };
    let at = e.path().map(rel).unwrap_or_else(|| "?".into());
    if let Some(ancestor) = e.loop_ancestor() {
        return format!(
            "{at}: a symbolic link loop back to {} (not followed)",
            rel(ancestor)
        );
    }
    let broken = e.path().is_some_and(|p| p.is_symlink() && !p.exists());
    match e.io_error() {
        Some(_) if broken => format!("{at}: a broken symbolic link (its target does not exist)"),
        Some(io) => format!("{at}: {io}"),
        None => format!("{at}: {e}"),
    }
}

/// The kind and partition date of the raw file at `rel` (relative to the raw root,
/// `/`-separated), as [`discover`] classifies it, by its path alone (for a listing of remote
/// objects): a `batch/` JSON file whose name matches no prefix, which [`discover`] may take by its
/// content, is None here, as is any path no layout takes.
pub fn classify_rel(rel: &str, kinds: &[FileKind]) -> Option<(&'static str, Option<NaiveDate>)> {
    let parts: Vec<String> = rel
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let name = parts.last()?.clone();
    classify(None, &parts, &name, kinds).map(|(kind, _, date)| (kind, date))
}

/// The kind, format and partition date of the file at `parts` (relative path components), or
/// None when no layout takes it; `path` (when given) lets a `batch/` JSON file be taken by its
/// content.
fn classify(
    path: Option<&Path>,
    parts: &[String],
    name: &str,
    kinds: &[FileKind],
) -> Option<(&'static str, Format, Option<NaiveDate>)> {
    match (parts.first().map(String::as_str), format_of(name)) {
        (Some("api"), Some(Format::Json)) if parts.len() >= 3 => {
            let folder = parts[1].to_ascii_lowercase();
            kinds.iter().find(|k| k.takes_api(&folder)).map(|k| {
                let pd = parts[2..parts.len() - 1]
                    .iter()
                    .find_map(|c| partition_date(c));
                (k.name, Format::Json, pd)
            })
        }
        (Some("batch"), Some(fmt)) => {
            let lower = name.to_ascii_lowercase();
            let kind = kinds.iter().find(|k| k.takes_batch(&lower));
            let kind = kind.map(|k| k.name).or_else(|| {
                (fmt == Format::Json)
                    .then(|| path.and_then(|p| sniff_json(p, kinds)))
                    .flatten()
            });
            kind.map(|k| (k, fmt, None))
        }
        _ => None,
    }
}

/// A CSV export this tool knows, told by a few of its header's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownHeader {
    /// The export's name on opendata.paris.fr.
    pub name: &'static str,
    /// The source (dataset) that reads it.
    pub source: &'static str,
    /// Where `process` takes it (file names).
    pub files: &'static str,
    /// Columns that, together, tell this export from the others.
    pub columns: &'static [&'static str],
}

/// The "chantiers à Paris" export's name in [`KNOWN_HEADERS`].
pub const CHANTIERS_A_PARIS: &str = "chantiers-a-paris";

/// The CSV exports recognised by their header.
pub const KNOWN_HEADERS: &[KnownHeader] = &[
    KnownHeader {
        name: "chantiers-perturbants",
        source: "chantiers",
        files: "batch/chantiers*.csv",
        columns: &[
            "Identifiant",
            "Date de début",
            "Date de fin",
            "Impact sur la circulation",
            "Niveau de perturbation",
        ],
    },
    KnownHeader {
        name: CHANTIERS_A_PARIS,
        source: "chantiers",
        files: "batch/chantiers*.csv",
        columns: &[
            "Référence Chantier",
            "Date début du chantier",
            "Date fin du chantier",
            "Surface (m2)",
            "Encombrement espace public",
        ],
    },
    KnownHeader {
        name: "comptages-routiers-permanents",
        source: "comptages",
        files: "batch/comptages*.csv",
        columns: &[
            "Identifiant arc",
            "Date et heure de comptage",
            "Débit horaire",
            "Taux d'occupation",
        ],
    },
    KnownHeader {
        name: "referentiel-comptages-routiers",
        source: "referentiel",
        files: "batch/referentiel*.csv",
        columns: &[
            "Identifiant arc",
            "Libelle",
            "Identifiant noeud amont",
            "Identifiant noeud aval",
        ],
    },
    KnownHeader {
        name: "comptage-velo-donnees-compteurs",
        source: "bikes",
        files: "batch/comptage-velo*.csv",
        columns: &[
            "Identifiant du compteur",
            "Nom du compteur",
            "Comptage horaire",
            "Date et heure de comptage",
        ],
    },
    KnownHeader {
        name: "velib-disponibilite-en-temps-reel",
        source: "velib",
        files: "batch/velib*.csv",
        columns: &[
            "Identifiant station",
            "Nom station",
            "Capacité de la station",
            "Nombre total vélos disponibles",
        ],
    },
];

/// How many of `k`'s columns `header` has (names compared as [`crate::input::norm_header`]).
fn matched(k: &KnownHeader, normed: &[String]) -> usize {
    k.columns
        .iter()
        .filter(|c| normed.contains(&crate::input::norm_header(c)))
        .count()
}

/// The known export whose every telling column is in `header`, if any.
pub fn recognise_header(header: &[String]) -> Option<&'static KnownHeader> {
    looks_like(header)
        .filter(|(k, n)| *n == k.columns.len())
        .map(|(k, _)| k)
}

/// The known export `header` looks most like (at least half of its telling columns), with the
/// number of them found.
pub fn looks_like(header: &[String]) -> Option<(&'static KnownHeader, usize)> {
    let normed: Vec<String> = header
        .iter()
        .map(|h| crate::input::norm_header(h))
        .collect();
    KNOWN_HEADERS
        .iter()
        .map(|k| (k, matched(k, &normed)))
        .filter(|(k, n)| 2 * n >= k.columns.len())
        .max_by_key(|(k, n)| (1000 * n / k.columns.len(), *n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(line: &str) -> Vec<String> {
        line.split(';').map(str::to_string).collect()
    }

    #[test]
    fn headers_of_the_known_exports_are_recognised() {
        let paris = header(
            "\u{feff}Référence Chantier;Code postal arrondissement - Commune;Date début du \
             chantier;Date fin du chantier;Responsable du chantier;Maîtrise d'ouvrage \
             principale;Surface (m2);Synthèse - Nature du chantier;Encombrement espace \
             public;Impact stationnement;Identifiant demande CITE;Identifiant Chantier \
             CITE;geo_shape;geo_point_2d",
        );
        assert_eq!(recognise_header(&paris).unwrap().name, CHANTIERS_A_PARIS);
        let perturbants = header(
            "Identifiant;Identifiant CTV;Code postal de l'arrondissement;Numéro de STV;\
             Typologie;Maitre d'ouvrage;Objet;Description;Voie(s);Précisions de localisation;\
             Date de début;Date de fin;Impact sur la circulation;Détail de l'impact sur la \
             circulation;Niveau de perturbation;Statut;URL LettreInfoChantier;geo_shape;\
             geo_point_2d",
        );
        assert_eq!(
            recognise_header(&perturbants).unwrap().name,
            "chantiers-perturbants"
        );
        let velib = header(
            "Identifiant station;Nom station;Station en fonctionnement;Capacité de la \
             station;Nombre bornettes libres;Nombre total vélos disponibles",
        );
        assert_eq!(recognise_header(&velib).unwrap().source, "velib");
        // half of the columns: looks like, not recognised
        let half = header("Identifiant arc;Libelle;x;y");
        assert_eq!(recognise_header(&half), None);
        assert_eq!(
            looks_like(&half).map(|(k, n)| (k.name, n)),
            Some(("referentiel-comptages-routiers", 2))
        );
        assert_eq!(looks_like(&header("a;b;c")), None);
    }

    #[test]
    fn a_kind_takes_its_api_folders_and_batch_prefixes() {
        let k = FileKind {
            name: "k",
            api: &["exact", "pre*"],
            batch: &["k-", "kk_"],
        };
        for (folder, takes) in [
            ("exact", true),
            ("exactly", false),
            ("pre", true),
            ("prefix", true),
            ("pr", false),
        ] {
            assert_eq!(k.takes_api(folder), takes, "{folder}");
        }
        for (name, takes) in [
            ("k-1.csv", true),
            ("kk_.json", true),
            ("k.csv", false),
            ("xk-.csv", false),
        ] {
            assert_eq!(k.takes_batch(name), takes, "{name}");
        }
        let dir = tempfile::tempdir().unwrap();
        for p in [
            "api/PREFIX/2025-11-04/a.json",
            "api/exact/b.json",
            "api/c.json",
            "batch/K-1.CSV",
            "batch/x/kk_2.geojson",
            "api/exact/dt=2025-11-04/c.txt",
        ] {
            let f = dir.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(&f, "x").unwrap();
        }
        let t = discover(dir.path(), &[k]).unwrap();
        let got: Vec<(&str, Option<NaiveDate>)> = t
            .files
            .iter()
            .map(|f| (f.rel.as_str(), f.partition_date))
            .collect();
        let day = NaiveDate::from_ymd_opt(2025, 11, 4);
        assert_eq!(
            got,
            vec![
                ("api/PREFIX/2025-11-04/a.json", day),
                ("api/exact/b.json", None),
                ("batch/K-1.CSV", None),
                ("batch/x/kk_2.geojson", None)
            ]
        );
        // Outside the api layout (api/<source>/.../<file>); not JSON.
        assert_eq!(
            t.ignored,
            vec!["api/c.json", "api/exact/dt=2025-11-04/c.txt"]
        );
    }

    #[test]
    fn a_relative_path_is_classified_as_the_walk_would() {
        let kinds = crate::pipeline::file_kinds();
        let day = |s: &str| s.parse::<NaiveDate>().ok();
        for (rel, want) in [
            (
                "api/bikes/dt=2025-10-26/hour=02/b.json",
                Some(("bikes", day("2025-10-26"))),
            ),
            (
                "api/velib/2025-10-26/station_status.json",
                Some(("velib", day("2025-10-26"))),
            ),
            (
                "api/comptages/dt=2025-10-25/hour=08/c.json",
                Some(("comptages", day("2025-10-25"))),
            ),
            ("api/weather/w.json", Some(("weather", None))),
            (
                "batch/comptages-routiers-permanents.csv",
                Some(("comptages", None)),
            ),
            (
                "batch/referentiel-comptages-routiers.csv",
                Some(("referentiel", None)),
            ),
            // Taken by content by a walk; by its path alone, nothing.
            ("batch/export-2025.json", None),
            ("api/parking/dt=2025-11-04/p.json", None),
            ("batch/notes.txt", None),
            ("", None),
        ] {
            assert_eq!(classify_rel(rel, &kinds), want, "{rel}");
        }
        // The same answer as the walk, file for file, on the sample tree.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample/cityflow-raw/raw");
        let tree = discover(&root, &kinds).unwrap();
        assert!(tree.files.len() > 10);
        for f in &tree.files {
            assert_eq!(
                classify_rel(&f.rel, &kinds),
                Some((f.kind, f.partition_date)),
                "{}",
                f.rel
            );
        }
    }
}
