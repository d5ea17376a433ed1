//! Road works disturbing traffic (`chantiers-perturbants*.csv`, and GeoJSON exports with the
//! older snake_case names `identifiant`, `date_debut`, `cp_arrondissement`...) -> [`ChantiersAcc`].
//!
//! Every row is one work. The data is undated reference-like data: rows are counted under no day
//! (`q.row(SOURCE, None, ..)`) and the run's day selection does not filter them (a work is
//! evaluated for every processed day). A row is rejected when its `Identifiant` is empty
//! (`missing_key`), when its start or end date is empty, unparseable or the `1970-01-01`
//! placeholder (`unparseable_date`, `date_out_of_range`), or when it starts after it ends
//! (`inconsistent`). A missing or invalid geometry only loses the work's area (`bad_geometry`
//! warning); an invalid `geo_point_2d` only loses that point (`bad_point` warning); an impact
//! value outside the four codes gets weight 0 (`unknown_state` warning).
//!
//! Dates: `YYYY-MM-DD` is taken as is; a date-time is converted to its Europe/Paris date
//! (`2023-02-28T23:00:00+00:00` is 2023-03-01 in Paris); a naive date-time is Paris time.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate};
use chrono_tz::Europe::Paris;
use serde_json::{Map, Value};

use crate::discover::{Format, InputFile};
use crate::geo::{self, Geometry};
use crate::input::{open_csv, open_csv_columns, read_json, ColumnSpec};
use crate::metrics::chantiers::{area_to_cm2, ArrSource, ChantiersAcc, Origin, Work, WorkExtra};
use crate::quality::{QualityAcc, Reason};
use crate::sources::{json_field, json_point, json_text, key_problem, DaySelection};
use crate::time::{paris_day, parse_instant, TimeError};

pub const SOURCE: &str = "chantiers";

/// Road works, as a dataset of the pipeline.
pub struct Chantiers;

impl super::dataset::Dataset for Chantiers {
    const FILES: crate::discover::FileKind = crate::discover::FileKind {
        name: SOURCE,
        api: &[],
        batch: &["chantiers"],
    };
    const DATED: bool = false;
    super::dataset::accumulator_dataset!(chantiers, ChantiersAcc, ChantiersMetrics);

    /// Works have no days of their own: they are reported on the days of the others.
    fn needs_a_day(acc: &Self::Acc) -> bool {
        *acc != Self::Acc::default()
    }
}

const ID: usize = 0;
const TYPO: usize = 1;
const CP: usize = 2;
const START: usize = 3;
const END: usize = 4;
const IMPACT: usize = 5;
const NIVEAU: usize = 6;
const SHAPE: usize = 7;
const POINT: usize = 8;
/// `chantiers-perturbants`: `Identifiant CTV`; "chantiers à Paris": `Identifiant Chantier CITE`.
const COORD: usize = 9;
// "chantiers à Paris" only.
const COORD2: usize = 10;
const SURFACE: usize = 11;
const ENCOMBREMENT: usize = 12;
const STATIONNEMENT: usize = 13;

/// Column names (CSV export) and their aliases (older exports' and API technical names).
pub const COLUMNS: [ColumnSpec; 10] = [
    ColumnSpec::required(
        "Identifiant",
        &["identifiant", "id_chantier", "reference_chantier"],
    ),
    ColumnSpec::optional("Typologie", &["typologie"]),
    ColumnSpec::optional(
        "Code postal de l'arrondissement",
        &["cp_arrondissement", "code_postal", "arrondissement"],
    ),
    ColumnSpec::required("Date de début", &["date_debut"]),
    ColumnSpec::required("Date de fin", &["date_fin"]),
    ColumnSpec::optional("Impact sur la circulation", &["impact_circulation"]),
    ColumnSpec::optional("Niveau de perturbation", &["niveau_perturbation"]),
    ColumnSpec::optional("geo_shape", &["Geo Shape", "geom", "geometry"]),
    ColumnSpec::optional("geo_point_2d", &["Geo Point", "geo_point"]),
    ColumnSpec::optional("Identifiant CTV", &["identifiant_ctv", "id_ctv"]),
];

/// The "chantiers à Paris" export (`Référence Chantier;Code postal arrondissement -
/// Commune;Date début du chantier;...;Surface (m2);...;geo_shape;geo_point_2d`), recognised by
/// its header ([`crate::discover::recognise_header`]); indices as in [`COLUMNS`], then its own.
pub const PARIS_COLUMNS: [ColumnSpec; 14] = [
    ColumnSpec::required("Référence Chantier", &[]),
    ColumnSpec::optional("Synthèse - Nature du chantier", &[]),
    ColumnSpec::optional("Code postal arrondissement - Commune", &[]),
    ColumnSpec::required("Date début du chantier", &[]),
    ColumnSpec::required("Date fin du chantier", &[]),
    // not in this export: its works have no traffic impact code nor level
    ColumnSpec::optional("Impact sur la circulation", &[]),
    ColumnSpec::optional("Niveau de perturbation", &[]),
    ColumnSpec::optional("geo_shape", &["Geo Shape"]),
    ColumnSpec::optional("geo_point_2d", &["Geo Point"]),
    ColumnSpec::optional("Identifiant Chantier CITE", &[]),
    ColumnSpec::optional("Identifiant demande CITE", &[]),
    ColumnSpec::optional("Surface (m2)", &[]),
    ColumnSpec::optional("Encombrement espace public", &[]),
    ColumnSpec::optional("Impact stationnement", &[]),
];

const PARIS_NAMES: [&str; 9] = [
    "Référence Chantier",
    "Synthèse - Nature du chantier",
    "Code postal arrondissement - Commune",
    "Date début du chantier",
    "Date fin du chantier",
    "Impact sur la circulation",
    "Niveau de perturbation",
    "geo_shape",
    "geo_point_2d",
];

/// Field names used in messages, CSV export and JSON (snake_case) forms.
const CSV_NAMES: [&str; 9] = [
    "Identifiant",
    "Typologie",
    "Code postal de l'arrondissement",
    "Date de début",
    "Date de fin",
    "Impact sur la circulation",
    "Niveau de perturbation",
    "geo_shape",
    "geo_point_2d",
];
const JSON_NAMES: [&str; 9] = [
    "identifiant",
    "typologie",
    "cp_arrondissement",
    "date_debut",
    "date_fin",
    "impact_circulation",
    "niveau_perturbation",
    "geometry",
    "geo_point_2d",
];

/// A geometry or point as found in the input.
enum GeoIn<'a> {
    Text(&'a str),
    Json(Option<&'a Value>),
}

/// One row, decoded, before validation.
struct Row<'a> {
    id: Cow<'a, str>,
    typologie: Cow<'a, str>,
    cp: Cow<'a, str>,
    start: Cow<'a, str>,
    end: Cow<'a, str>,
    impact: Cow<'a, str>,
    niveau: Cow<'a, str>,
    shape: GeoIn<'a>,
    point: GeoIn<'a>,
    names: &'static [&'static str; 9],
    /// Prefix of messages locating the record inside a JSON document (`record 3, `).
    at: String,
    extra: RowExtra<'a>,
}

/// What only one of the two exports has (see [`WorkExtra`]).
#[derive(Default)]
struct RowExtra<'a> {
    origin: Origin,
    coordination_ids: [Cow<'a, str>; 2],
    surface: Cow<'a, str>,
    encombrement: Cow<'a, str>,
    stationnement: Cow<'a, str>,
}

/// Reads one chantiers file (CSV or JSON). Never fails: problems are in `q`.
/// `sel` is not applied: works are undated and evaluated for every processed day.
pub fn read_file(f: &InputFile, sel: &DaySelection, q: &mut QualityAcc) -> ChantiersAcc {
    let _ = sel;
    match f.format {
        Format::Csv => read_csv(f, q),
        Format::Json => read_json_file(f, q),
    }
}

/// Parses a start or end date into its Paris date.
fn parse_date(raw: &str, name: &str) -> Result<NaiveDate, (Reason, String)> {
    let s = raw.trim();
    if s.is_empty() {
        return Err((Reason::UnparseableDate, format!("field `{name}` is empty")));
    }
    let placeholder = || {
        (
            Reason::UnparseableDate,
            format!("field `{name}`: {s:?} is the 1970-01-01 placeholder of an unknown date"),
        )
    };
    if s.starts_with("1970-01-01") {
        return Err(placeholder());
    }
    let d = if s.len() == 10 {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    } else {
        None
    };
    // A date-time with an offset: its Paris date, whatever the year.
    let d = d.or_else(|| {
        let dt = DateTime::parse_from_rfc3339(s).ok().or_else(|| {
            [
                "%Y-%m-%d %H:%M:%S%:z",
                "%Y-%m-%dT%H:%M:%S%z",
                "%Y-%m-%d %H:%M:%S%z",
            ]
            .iter()
            .find_map(|f| DateTime::parse_from_str(s, f).ok())
        })?;
        Some(dt.with_timezone(&Paris).date_naive())
    });
    let d = match d {
        Some(d) => d,
        None => match parse_instant(s) {
            Ok(t) => paris_day(t),
            Err(e) => {
                let reason = match e {
                    TimeError::OutOfRange => Reason::DateOutOfRange,
                    _ => Reason::UnparseableDate,
                };
                return Err((reason, format!("field `{name}`: {s:?}: {e}")));
            }
        },
    };
    if d == NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date") {
        return Err(placeholder());
    }
    Ok(d)
}

/// Where the problems of one row go: each message starts with the row's place in its document.
struct RowProblems<'a> {
    q: &'a mut QualityAcc,
    file: &'a str,
    line: u64,
    at: &'a str,
}

impl RowProblems<'_> {
    fn problem(&mut self, reason: Reason, detail: String) {
        let detail = format!("{}{detail}", self.at);
        self.q
            .problem(SOURCE, None, self.file, self.line, reason, detail);
    }

    fn missing(&mut self, field: &'static str) {
        self.q.missing(SOURCE, None, field);
    }
}

/// Validates one row and adds it. The row has already been counted with `q.row`.
fn add_row(acc: &mut ChantiersAcc, q: &mut QualityAcc, file: &str, line: u64, row: Row<'_>) {
    let n = row.names;
    let out = &mut RowProblems {
        q,
        file,
        line,
        at: &row.at,
    };
    let id = row.id.trim();
    if id.is_empty() {
        out.problem(Reason::MissingKey, format!("field `{}` is empty", n[ID]));
        return;
    }
    if let Some(e) = key_problem(id) {
        out.problem(Reason::MissingKey, format!("field `{}` {id:?} {e}", n[ID]));
        return;
    }
    let Some((start, end)) = work_dates(out, &row, id) else {
        return;
    };
    // Geometry -> area (and the fallback point).
    let geometry: Result<Geometry, String> = match &row.shape {
        GeoIn::Text(s) if s.trim().is_empty() => Err(format!("field `{}` is empty", n[SHAPE])),
        GeoIn::Text(s) => geo::parse_geometry_str(s).map_err(|e| format!("`{}`: {e}", n[SHAPE])),
        GeoIn::Json(None) | GeoIn::Json(Some(Value::Null)) => {
            Err(format!("`{}` is null or missing", n[SHAPE]))
        }
        GeoIn::Json(Some(v)) => geo::parse_geometry(v).map_err(|e| format!("`{}`: {e}", n[SHAPE])),
    };
    let area = geometry
        .as_ref()
        .map_err(String::clone)
        .and_then(geo::polygon_area_m2);
    let area_cm2 = match area {
        Ok(a) => Some(area_to_cm2(a)),
        Err(e) => {
            out.problem(Reason::BadGeometry, format!("work {id}: {e}: no area"));
            None
        }
    };
    let arrondissement = work_arrondissement(out, &row, id, &geometry);
    let paris = row.extra.origin == Origin::AParis;
    let impact = if paris {
        String::new()
    } else {
        work_impact(out, &row, id)
    };
    let typologie = row.typologie.trim();
    if typologie.is_empty() {
        out.missing("typologie");
    }
    let niveau = row.niveau.trim();
    if niveau.is_empty() && !paris {
        out.missing("niveau_perturbation");
    }
    let extra = work_extra(out, &row.extra, id);
    let category = match (paris, impact.is_empty()) {
        (true, _) if extra.encombrement.is_empty() => "chantiers à Paris: (vide)".to_string(),
        (true, _) => format!("chantiers à Paris: {}", extra.encombrement),
        (false, true) => "(vide)".to_string(),
        (false, false) => impact.clone(),
    };
    out.q.category(SOURCE, None, &category);
    acc.add(
        id,
        Work {
            end,
            start,
            typologie: typologie.to_string(),
            impact,
            niveau_perturbation: niveau.to_string(),
            arrondissement,
            area_cm2,
            extra,
        },
    );
}

/// The fields of a work only one export has; an unreadable declared surface is a warning.
fn work_extra(out: &mut RowProblems<'_>, x: &RowExtra<'_>, id: &str) -> WorkExtra {
    let mut ids: Vec<String> = x
        .coordination_ids
        .iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    ids.dedup();
    let raw = x.surface.trim();
    let declared = if raw.is_empty() {
        if x.origin == Origin::AParis {
            out.missing("surface_declaree_m2");
        }
        None
    } else {
        match raw
            .replace(',', ".")
            .replace([' ', '\u{a0}'], "")
            .parse::<f64>()
        {
            Ok(v) if v.is_finite() && v >= 0.0 => Some(area_to_cm2(v)),
            _ => {
                let detail =
                    format!("work {id}: field `Surface (m2)`: unreadable value {raw:?}, ignored");
                out.problem(Reason::UnknownState, detail);
                None
            }
        }
    };
    WorkExtra {
        origin: x.origin,
        coordination_ids: ids,
        declared_area_cm2: declared,
        encombrement: x.encombrement.trim().to_string(),
        stationnement: x.stationnement.trim().to_string(),
    }
}

/// A work's start and end dates (start ≤ end). None: the row is rejected.
fn work_dates(
    out: &mut RowProblems<'_>,
    row: &Row<'_>,
    id: &str,
) -> Option<(NaiveDate, NaiveDate)> {
    let n = row.names;
    let mut dates = [NaiveDate::MIN; 2];
    for (slot, (raw, i)) in dates.iter_mut().zip([(&row.start, START), (&row.end, END)]) {
        match parse_date(raw, n[i]) {
            Ok(d) => *slot = d,
            Err((reason, detail)) => {
                out.problem(reason, format!("work {id}: {detail}"));
                return None;
            }
        }
    }
    let [start, end] = dates;
    if start > end {
        let detail = format!(
            "work {id}: `{}` {start} is after `{}` {end}",
            n[START], n[END]
        );
        out.problem(Reason::Inconsistent, detail);
        return None;
    }
    Some((start, end))
}

/// A work's arrondissement: the postal code, else the point, else the geometry's centre.
fn work_arrondissement(
    out: &mut RowProblems<'_>,
    row: &Row<'_>,
    id: &str,
    geometry: &Result<Geometry, String>,
) -> ArrSource {
    if let Some(c) = normalize_postal_code(&row.cp) {
        return ArrSource::Code(c);
    }
    out.missing("code_postal_arrondissement");
    let point = match &row.point {
        GeoIn::Text(s) if s.trim().is_empty() => Ok(None),
        GeoIn::Text(s) => geo::parse_lat_lon(s).map(Some),
        GeoIn::Json(v) => json_point(*v),
    };
    let point = match point {
        Ok(p) => p,
        Err(e) => {
            let detail = format!("work {id}: field `{}`: {e}", row.names[POINT]);
            out.problem(Reason::BadPoint, detail);
            None
        }
    };
    match point.or_else(|| geometry.as_ref().ok().and_then(geo::center)) {
        Some(p) => ArrSource::point(p),
        None => ArrSource::Unknown,
    }
}

/// A work's impact code: canonical when known, else as given (weight 0, with a warning).
fn work_impact(out: &mut RowProblems<'_>, row: &Row<'_>, id: &str) -> String {
    let impact_raw = row.impact.trim();
    if impact_raw.is_empty() {
        out.missing("impact_circulation");
        return String::new();
    }
    match canonical_impact(impact_raw) {
        Some(c) => c.to_string(),
        None => {
            let detail = format!(
                "work {id}: field `{}`: unknown value {impact_raw:?}, weight 0",
                row.names[IMPACT]
            );
            out.problem(Reason::UnknownState, detail);
            impact_raw.to_string()
        }
    }
}

fn read_csv(f: &InputFile, q: &mut QualityAcc) -> ChantiersAcc {
    let file = f.rel.as_str();
    let mut acc = ChantiersAcc::default();
    // The header tells the export: "chantiers à Paris" or chantiers-perturbants (the default).
    let paris = open_csv(&f.path).is_ok_and(|i| {
        crate::discover::recognise_header(&i.header).map(|k| k.name)
            == Some(crate::discover::CHANTIERS_A_PARIS)
    });
    let specs: &[ColumnSpec] = if paris { &PARIS_COLUMNS } else { &COLUMNS };
    let Some((mut input, cols)) = open_csv_columns(f, SOURCE, specs, q) else {
        return acc;
    };
    let layout = Layout {
        width: input.header.len(),
        cols,
        paris,
    };
    input.for_each_record(q, (SOURCE, file), |q, rec, line| {
        csv_record(&mut acc, q, (file, line), rec, &layout)
    });
    acc
}

/// Where a CSV file's fields are.
struct Layout {
    width: usize,
    cols: Vec<Option<usize>>,
    /// A "chantiers à Paris" export ([`PARIS_COLUMNS`]), else [`COLUMNS`].
    paris: bool,
}

fn csv_record(
    acc: &mut ChantiersAcc,
    q: &mut QualityAcc,
    (file, line): (&str, u64),
    rec: &csv::ByteRecord,
    layout: &Layout,
) {
    let (cols, width) = (&layout.cols, layout.width);
    let names = if layout.paris {
        &PARIS_NAMES
    } else {
        &CSV_NAMES
    };
    q.row(SOURCE, None, file);
    if rec.len() != width {
        let detail = crate::input::wrong_width_detail(width, rec.len());
        q.problem(SOURCE, None, file, line, Reason::WrongColumnCount, detail);
        return;
    }
    let raw = |i: usize| {
        cols.get(i)
            .copied()
            .flatten()
            .and_then(|c| rec.get(c))
            .unwrap_or(b"")
    };
    // Key fields must be UTF-8; the others are decoded leniently with a warning.
    for i in [ID, START, END] {
        if std::str::from_utf8(raw(i)).is_err() {
            let detail = format!("field `{}` is not valid UTF-8", names[i]);
            q.problem(SOURCE, None, file, line, Reason::InvalidUtf8, detail);
            return;
        }
    }
    let mut bad_text = None;
    let mut text = |i: usize| -> Cow<'_, str> {
        let b = raw(i);
        match std::str::from_utf8(b) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => {
                bad_text.get_or_insert(names.get(i).copied().unwrap_or("?"));
                String::from_utf8_lossy(b)
            }
        }
    };
    let (id, start, end) = (text(ID), text(START), text(END));
    let (typologie, cp, impact, niveau) = (text(TYPO), text(CP), text(IMPACT), text(NIVEAU));
    let (shape, point) = (text(SHAPE), text(POINT));
    let extra = RowExtra {
        origin: if layout.paris {
            Origin::AParis
        } else {
            Origin::Perturbants
        },
        coordination_ids: [text(COORD), text(COORD2)],
        surface: text(SURFACE),
        encombrement: text(ENCOMBREMENT),
        stationnement: text(STATIONNEMENT),
    };
    if let Some(name) = bad_text {
        let detail =
            format!("field `{name}` is not valid UTF-8 (kept with replacement characters)");
        q.problem(SOURCE, None, file, line, Reason::InvalidUtf8Text, detail);
    }
    let row = Row {
        id,
        typologie,
        cp,
        start,
        end,
        impact,
        niveau,
        shape: GeoIn::Text(&shape),
        point: GeoIn::Text(&point),
        names,
        at: String::new(),
        extra,
    };
    add_row(acc, q, file, line, row);
}

fn read_json_file(f: &InputFile, q: &mut QualityAcc) -> ChantiersAcc {
    let file = f.rel.as_str();
    let mut acc = ChantiersAcc::default();
    let items = match read_json(&f.path) {
        Ok(items) => items,
        Err(e) => {
            q.file_failed(SOURCE, file, e.line, e.reason, e.detail, 0);
            return acc;
        }
    };
    let keys: Vec<Vec<&'static str>> = COLUMNS.iter().map(ColumnSpec::names).collect();
    for (i, item) in items.into_iter().enumerate() {
        let Some((line, value)) = item.into_record(q, SOURCE, file) else {
            continue;
        };
        q.row(SOURCE, None, file);
        let Value::Object(o) = &value else {
            // read_json only yields objects as records; kept for safety.
            let detail = format!("record {i}: not an object");
            q.problem(SOURCE, None, file, line, Reason::NotARecord, detail);
            continue;
        };
        // A GeoJSON Feature: fields in `properties`, shape in `geometry`. Otherwise a flat
        // record (Opendatasoft API) with a `geo_shape` field.
        let empty = Map::new();
        let (props, shape) = match o.get("properties") {
            Some(Value::Object(p)) => (p, o.get("geometry")),
            Some(Value::Null) => (&empty, o.get("geometry")),
            _ => (o, json_field(o, &keys[SHAPE])),
        };
        let get = |k: usize| json_field(props, &keys[k]);
        let row = Row {
            id: json_text(get(ID)),
            typologie: json_text(get(TYPO)),
            cp: json_text(get(CP)),
            start: json_text(get(START)),
            end: json_text(get(END)),
            impact: json_text(get(IMPACT)),
            niveau: json_text(get(NIVEAU)),
            shape: GeoIn::Json(shape),
            point: GeoIn::Json(get(POINT)),
            names: &JSON_NAMES,
            at: format!("record {i}: "),
            extra: RowExtra {
                coordination_ids: [json_text(get(COORD)), Cow::Borrowed("")],
                ..RowExtra::default()
            },
        };
        add_row(&mut acc, q, file, line, row);
    }
    acc
}

/// The canonical code of an `Impact sur la circulation` value (`Barrage total`, `barrage_total`
/// and `BARRAGE_TOTAL` are the same), or None when it is not one of the four known codes.
pub fn canonical_impact(s: &str) -> Option<&'static str> {
    Some(match crate::input::norm_header(s).as_str() {
        "barrage total" => "BARRAGE_TOTAL",
        "impasse" => "IMPASSE",
        "restreinte" => "RESTREINTE",
        "sens unique" => "SENS_UNIQUE",
        _ => return None,
    })
}

/// Normalises a postal code: `75010`, ` 75010 `, `75010.0`, `10` -> `75010`; the postal code
/// `75116` and the INSEE codes `75101..=75120` -> `750xx`; a code followed by its commune
/// ("chantiers à Paris": `75012 - Paris 12e`) -> the code. Any other non-empty value (a code
/// outside Paris) is kept as given (trimmed). Empty -> None.
pub fn normalize_postal_code(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    // "75012 - Paris 12e Arrondissement" (a code followed by the commune): the code.
    let t = match t.char_indices().nth(5) {
        Some((i, c)) if !c.is_ascii_digit() && t[..i].bytes().all(|b| b.is_ascii_digit()) => {
            t[..i].trim()
        }
        _ => t,
    };
    let digits = t.strip_suffix(".0").unwrap_or(t).replace(' ', "");
    if let Ok(n) = digits.parse::<u32>() {
        if digits.len() <= 2 && (1..=20).contains(&n) {
            return Some(format!("750{n:02}"));
        }
        if digits.len() == 5 {
            if (75001..=75020).contains(&n) {
                return Some(digits);
            }
            if (75101..=75120).contains(&n) {
                return Some(format!("750{:02}", n - 75100));
            }
        }
    }
    Some(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postal_codes_are_normalised() {
        assert_eq!(normalize_postal_code("75010").as_deref(), Some("75010"));
        assert_eq!(normalize_postal_code(" 75010 ").as_deref(), Some("75010"));
        assert_eq!(normalize_postal_code("75010.0").as_deref(), Some("75010"));
        assert_eq!(
            normalize_postal_code("75012 - Paris 12e Arrondissement").as_deref(),
            Some("75012")
        );
        assert_eq!(
            normalize_postal_code("75112 - Paris").as_deref(),
            Some("75012")
        );
        assert_eq!(
            normalize_postal_code("92100 - Boulogne").as_deref(),
            Some("92100")
        );
        assert_eq!(normalize_postal_code("75116").as_deref(), Some("75016"));
        assert_eq!(normalize_postal_code("75104").as_deref(), Some("75004"));
        assert_eq!(normalize_postal_code("4").as_deref(), Some("75004"));
        assert_eq!(normalize_postal_code("93400").as_deref(), Some("93400"));
        assert_eq!(
            normalize_postal_code("Saint-Ouen").as_deref(),
            Some("Saint-Ouen")
        );
        assert_eq!(normalize_postal_code("  "), None);
    }

    #[test]
    fn impacts_are_canonical() {
        assert_eq!(canonical_impact("Barrage total"), Some("BARRAGE_TOTAL"));
        assert_eq!(canonical_impact("sens_unique"), Some("SENS_UNIQUE"));
        assert_eq!(canonical_impact("RESTREINTE"), Some("RESTREINTE"));
        assert_eq!(canonical_impact("Déviation"), None);
    }
    use crate::input::resolve_columns;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn dates_become_paris_dates() {
        assert_eq!(parse_date("2023-03-01", "x"), Ok(d("2023-03-01")));
        assert_eq!(parse_date(" 2023-03-01 ", "x"), Ok(d("2023-03-01")));
        // 00:00 UTC is 01:00 in Paris (winter): same date
        assert_eq!(
            parse_date("2023-03-01T00:00:00+00:00", "x"),
            Ok(d("2023-03-01"))
        );
        assert_eq!(
            parse_date("2023-03-01T00:00:00+01:00", "x"),
            Ok(d("2023-03-01"))
        );
        // 23:00 UTC on Feb 28 is midnight on March 1 in Paris
        assert_eq!(
            parse_date("2023-02-28T23:00:00+00:00", "x"),
            Ok(d("2023-03-01"))
        );
        // 22:30 UTC in summer is 00:30 the next day in Paris
        assert_eq!(parse_date("2023-06-30T22:30:00Z", "x"), Ok(d("2023-07-01")));
        // naive date-time: Paris time
        assert_eq!(parse_date("2023-06-30 23:30:00", "x"), Ok(d("2023-06-30")));
    }

    #[test]
    fn bad_dates_are_rejected_with_a_reason() {
        let r = |s: &str| parse_date(s, "date_fin").unwrap_err();
        assert_eq!(
            r(""),
            (Reason::UnparseableDate, "field `date_fin` is empty".into())
        );
        assert_eq!(r("   ").0, Reason::UnparseableDate);
        assert_eq!(r("31/12/2023").0, Reason::UnparseableDate);
        assert_eq!(r("2023-02-30").0, Reason::UnparseableDate);
        for p in [
            "1970-01-01",
            "1970-01-01T00:00:00+00:00",
            "1970-01-01T00:00:00+01:00",
            "1969-12-31T23:00:00+00:00",
        ] {
            let (reason, detail) = r(p);
            assert_eq!(reason, Reason::UnparseableDate, "{p}");
            assert!(detail.contains("1970-01-01 placeholder"), "{detail}");
        }
        // a naive date-time far away is outside what instants store
        assert_eq!(r("2200-01-01T00:00:00").0, Reason::DateOutOfRange);
        // dates and offset date-times are calendar dates: no range limit needed
        assert_eq!(parse_date("2200-01-01", "x"), Ok(d("2200-01-01")));
        assert_eq!(
            parse_date("2200-01-01T00:00:00+00:00", "x"),
            Ok(d("2200-01-01"))
        );
    }

    #[test]
    fn columns_match_both_namings() {
        let csv_header: Vec<String> = "Identifiant;Identifiant CTV;Code postal de l'arrondissement;Numéro de STV;Typologie;Maitre d'ouvrage;Objet;Description;Voie(s);Précisions de localisation;Date de début;Date de fin;Impact sur la circulation;Détail de l'impact sur la circulation;Niveau de perturbation;Statut;URL LettreInfoChantier;geo_shape;geo_point_2d"
            .split(';')
            .map(str::to_string)
            .collect();
        let cols = resolve_columns(&csv_header, &COLUMNS).unwrap();
        assert_eq!(
            cols,
            [
                Some(0),
                Some(4),
                Some(2),
                Some(10),
                Some(11),
                Some(12),
                Some(14),
                Some(17),
                Some(18),
                Some(1)
            ]
        );
        let snake: Vec<String> = [
            "identifiant",
            "cp_arrondissement",
            "date_debut",
            "date_fin",
            "impact_circulation",
        ]
        .map(str::to_string)
        .to_vec();
        let cols = resolve_columns(&snake, &COLUMNS).unwrap();
        assert_eq!(cols[CP], Some(1));
        assert_eq!(cols[TYPO], None);
    }
}
