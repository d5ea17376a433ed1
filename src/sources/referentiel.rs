//! Sensor arcs reference (`referentiel*.csv|.json|.geojson`): current CSV header, older exports'
//! technical header (`IU_AC;DATE_DEBUT;DATE_FIN;LIBELLE;IU_ND_AVAL;IU_ND_AMONT;...`), and GeoJSON
//! or Opendatasoft JSON records.

use serde_json::Value;

use crate::discover::{Format, InputFile};
use crate::geo;
use crate::input::{open_csv_columns, read_json, ColumnSpec};
use crate::metrics::referentiel::RefRow;

use crate::quality::{QualityAcc, Reason};
use crate::sources::{json_field, json_point, json_text, key_problem};

pub const SOURCE: &str = "referentiel";

/// The référentiel's files (reference data: read before the datasets, see
/// [`Shared`](super::dataset::Shared)).
pub const FILES: crate::discover::FileKind = crate::discover::FileKind {
    name: SOURCE,
    api: &["referentiel"],
    batch: &["referentiel"],
};

const ARC: usize = 0;
const LIBELLE: usize = 1;
const AMONT: usize = 2;
const AVAL: usize = 3;
const POINT: usize = 4;
const SHAPE: usize = 5;

pub const COLUMNS: [ColumnSpec; 6] = [
    ColumnSpec::required("Identifiant arc", &["iu_ac"]),
    ColumnSpec::optional("Libelle", &["libelle"]),
    ColumnSpec::optional("Identifiant noeud amont", &["iu_nd_amont"]),
    ColumnSpec::optional("Identifiant noeud aval", &["iu_nd_aval"]),
    ColumnSpec::optional("geo_point_2d", &["Geo Point", "geo_point"]),
    ColumnSpec::optional("geo_shape", &["Geo Shape", "geom"]),
];

struct Fields<'a> {
    arc: &'a str,
    libelle: &'a str,
    amont: &'a str,
    aval: &'a str,
    point: Result<Option<geo::Pt>, String>,
    point_text: String,
    shape: Option<Result<geo::Geometry, String>>,
    shape_text: String,
}

fn add(rows: &mut Vec<RefRow>, q: &mut QualityAcc, file: &str, line: u64, f: Fields<'_>) {
    q.row(SOURCE, None, file);
    let arc = f.arc.trim();
    if arc.is_empty() {
        q.problem(
            SOURCE,
            None,
            file,
            line,
            Reason::MissingKey,
            "field `Identifiant arc` is empty".into(),
        );
        return;
    }
    if let Some(e) = key_problem(arc) {
        let detail = format!("field `Identifiant arc` {arc:?} {e}");
        q.problem(SOURCE, None, file, line, Reason::MissingKey, detail);
        return;
    }
    if f.libelle.trim().is_empty() {
        q.missing(SOURCE, None, "libelle");
    }
    let geo_point = match f.point {
        Ok(p) => p.map(|p| (p, f.point_text)),
        Err(e) => {
            q.problem(
                SOURCE,
                None,
                file,
                line,
                Reason::BadPoint,
                format!("arc {arc}: field `geo_point_2d`: {e}"),
            );
            None
        }
    };
    let geometry = match f.shape {
        None => {
            q.missing(SOURCE, None, "geo_shape");
            None
        }
        Some(Ok(g)) => Some((g, f.shape_text)),
        Some(Err(e)) => {
            q.problem(
                SOURCE,
                None,
                file,
                line,
                Reason::BadGeometry,
                format!("arc {arc}: field `geo_shape`: {e}"),
            );
            None
        }
    };
    rows.push(RefRow {
        arc: arc.to_string(),
        libelle: f.libelle.trim().to_string(),
        noeud_amont: f.amont.trim().to_string(),
        noeud_aval: f.aval.trim().to_string(),
        geo_point,
        geometry,
        file: file.to_string(),
    });
}

/// Reads every référentiel file (in path order) and merges them: one version per arc (see
/// [`crate::metrics::referentiel`]); arcs found in several files are noted in `q`'s categories
/// and returned as duplicates.
pub fn load<'a>(
    files: impl Iterator<Item = &'a InputFile>,
    q: &mut QualityAcc,
) -> crate::metrics::referentiel::RefMerge {
    let mut rows = Vec::new();
    for f in files {
        rows.extend(read_file(f, q));
    }
    let merged = crate::metrics::referentiel::merge_exports(rows);
    for (c, n) in &merged.categories {
        *q.cell(SOURCE, None)
            .categories
            .entry(c.clone())
            .or_default() += n;
    }
    merged
}

/// Reads one référentiel file; rows in file order.
pub fn read_file(f: &InputFile, q: &mut QualityAcc) -> Vec<RefRow> {
    match f.format {
        Format::Csv => read_csv(f, q),
        Format::Json => read_json_file(f, q),
    }
}

fn read_csv(f: &InputFile, q: &mut QualityAcc) -> Vec<RefRow> {
    let mut rows = Vec::new();
    let Some((mut input, cols)) = open_csv_columns(f, SOURCE, &COLUMNS, q) else {
        return rows;
    };
    let width = input.header.len();
    let mut rec = csv::StringRecord::new();
    loop {
        match input.reader.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = input.lines.line_of(e.position());
                q.row(SOURCE, None, &f.rel);
                let reason = if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    Reason::InvalidUtf8
                } else {
                    Reason::ReadError
                };
                q.problem(SOURCE, None, &f.rel, line, reason, e.to_string());
                if reason == Reason::InvalidUtf8 {
                    continue;
                }
                break;
            }
        }
        let line = input.lines.line_of(rec.position());
        if rec.len() != width {
            q.row(SOURCE, None, &f.rel);
            let detail = crate::input::wrong_width_detail(width, rec.len());
            q.problem(SOURCE, None, &f.rel, line, Reason::WrongColumnCount, detail);
            continue;
        }
        let get = |i: usize| cols[i].and_then(|c| rec.get(c)).unwrap_or("");
        let point_text = get(POINT).trim().to_string();
        let shape_text = get(SHAPE).trim().to_string();
        let fields = Fields {
            arc: get(ARC),
            libelle: get(LIBELLE),
            amont: get(AMONT),
            aval: get(AVAL),
            point: if point_text.is_empty() {
                Ok(None)
            } else {
                geo::parse_lat_lon(&point_text).map(Some)
            },
            shape: (!shape_text.is_empty()).then(|| geo::parse_geometry_str(&shape_text)),
            point_text,
            shape_text,
        };
        add(&mut rows, q, &f.rel, line, fields);
    }
    rows
}

fn read_json_file(f: &InputFile, q: &mut QualityAcc) -> Vec<RefRow> {
    let mut rows = Vec::new();
    let items = match read_json(&f.path) {
        Ok(i) => i,
        Err(e) => {
            q.file_failed(SOURCE, &f.rel, e.line, e.reason, e.detail, 0);
            return rows;
        }
    };
    let keys: Vec<Vec<&'static str>> = COLUMNS.iter().map(ColumnSpec::names).collect();
    for item in items {
        let Some((line, value)) = item.into_record(q, SOURCE, &f.rel) else {
            continue;
        };
        // A GeoJSON Feature carries its fields in `properties` and its shape in `geometry`.
        let (props, feature_geometry) = match value.get("type").and_then(Value::as_str) {
            Some("Feature") => (
                value.get("properties").cloned().unwrap_or(Value::Null),
                value.get("geometry").cloned(),
            ),
            _ => (value.clone(), None),
        };
        let Value::Object(o) = &props else {
            q.row(SOURCE, None, &f.rel).problem(
                line,
                Reason::NotARecord,
                "feature without properties".into(),
            );
            continue;
        };
        let get = |i: usize| json_field(o, &keys[i]);
        let shape_v = feature_geometry
            .filter(|g| !g.is_null())
            .or_else(|| get(SHAPE).filter(|v| !v.is_null()).cloned());
        let point = json_point(get(POINT));
        let point_text = match &point {
            Ok(Some(p)) => format!("{}, {}", p[1], p[0]),
            _ => String::new(),
        };
        let fields = Fields {
            arc: &json_text(get(ARC)),
            libelle: &json_text(get(LIBELLE)),
            amont: &json_text(get(AMONT)),
            aval: &json_text(get(AVAL)),
            point,
            point_text,
            shape: shape_v.as_ref().map(geo::parse_geometry),
            shape_text: shape_v.map(|v| v.to_string()).unwrap_or_default(),
        };
        add(&mut rows, q, &f.rel, line, fields);
    }
    rows
}
