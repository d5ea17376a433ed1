//! Permanent bike counters (`bikes`): the Opendatasoft API JSON (`{total_count, results: [...]}`,
//! its JSON Lines ingestion form, or an export array) with `id_compteur`, `nom_compteur`,
//! `sum_counts`, `date`, `coordinates {lon, lat}`, and the CSV export
//! `comptage-velo-donnees-compteurs.csv` (`;`, 16 columns, `Coordonnées géographiques` as
//! `"lat, lon"`) -> [`BikesAcc`].
//!
//! The CSV export is 1.35 GB: it is streamed record by record, columns found by name; memory holds
//! only the per (counter, day) hourly slots. A null or empty count is a missing value (the row is
//! used, the hour is not observed); a negative count is rejected (`value_out_of_range`), as is a
//! non-integer count (`bad_number`). Null or missing coordinates never crash anything: the counter
//! simply has no coordinates (counted as missing `coordinates`).

use std::borrow::Cow;

use chrono::NaiveDate;
use serde_json::Value;

use crate::discover::{Format, InputFile};
use crate::fixed::{parse_scaled, NumError};
use crate::geo::{parse_lat_lon, Pt};
use crate::input::{open_csv_columns, read_json, ColumnSpec};
use crate::metrics::bikes::{BikesAcc, Slot, NONE};
use crate::quality::{QualityAcc, Reason};
use crate::sources::{json_field, json_point, json_text, key_problem, DaySelection};
use crate::time::{paris_day, parse_instant, TimeError};

pub const SOURCE: &str = "bikes";

/// Bike counters, as a dataset of the pipeline.
pub struct Bikes;

impl super::dataset::Dataset for Bikes {
    const FILES: crate::discover::FileKind = crate::discover::FileKind {
        name: SOURCE,
        api: &["bikes", "bike", "velo", "comptage-velo"],
        batch: &["comptage-velo", "comptage_velo"],
    };
    super::dataset::accumulator_dataset!(bikes, BikesAcc, BikesMetrics);

    /// Anomalies compare a day with the day before: one more day is read than selected (only
    /// selected days are written).
    fn selection(sel: &DaySelection) -> DaySelection {
        DaySelection {
            from: sel.from.and_then(|f| f.pred_opt()),
            to: sel.to,
        }
    }
}

const ID: usize = 0;
const NOM: usize = 1;
const COUNT: usize = 2;
const DATE: usize = 3;
const POINT: usize = 4;

/// Column names (CSV export) and their aliases (API field names). The other columns of the
/// export (site, photos, installation date, `mois_annee_comptage`...) are not needed.
pub const COLUMNS: [ColumnSpec; 5] = [
    ColumnSpec::required("Identifiant du compteur", &["id_compteur"]),
    ColumnSpec::optional("Nom du compteur", &["nom_compteur"]),
    ColumnSpec::required("Comptage horaire", &["sum_counts"]),
    ColumnSpec::required("Date et heure de comptage", &["date"]),
    ColumnSpec::optional("Coordonnées géographiques", &["coordinates"]),
];

/// A count as found in the input.
enum CountIn<'a> {
    Text(&'a str),
    Json(Option<&'a Value>),
}

/// One record, decoded, before validation.
struct Row<'a> {
    id: Cow<'a, str>,
    date: Cow<'a, str>,
    count: CountIn<'a>,
    nom: Cow<'a, str>,
    point: Result<Option<Pt>, String>,
    /// A text field that was not UTF-8 (decoded with replacement characters).
    bad_text: Option<&'static str>,
}

/// Why a count was refused.
enum CountError {
    NotANumber(String),
    NotWhole(String),
    Negative(String),
    TooLarge(String),
}

/// Parses an hourly count: a whole number (`25`, `25.0`, `"25"`); Ok(None) for null or empty.
fn parse_count(v: &CountIn<'_>) -> Result<Option<u32>, CountError> {
    let text: Cow<'_, str> = match v {
        CountIn::Text(s) => Cow::Borrowed(s),
        CountIn::Json(None) | CountIn::Json(Some(Value::Null)) => return Ok(None),
        CountIn::Json(Some(Value::Number(n))) => {
            if let Some(u) = n.as_u64() {
                return u32::try_from(u)
                    .ok()
                    .filter(|&c| c != NONE)
                    .map(Some)
                    .ok_or_else(|| CountError::TooLarge(n.to_string()));
            }
            if let Some(i) = n.as_i64() {
                return Err(CountError::Negative(i.to_string()));
            }
            Cow::Owned(n.to_string())
        }
        CountIn::Json(Some(Value::String(s))) => Cow::Borrowed(s.as_str()),
        CountIn::Json(Some(other)) => return Err(CountError::NotANumber(other.to_string())),
    };
    let shown = || format!("{:?}", text.as_ref());
    // thousandths, to tell `25.0` (accepted) from `25.5` (not a count)
    let milli = match parse_scaled(&text, 3) {
        Ok(None) => return Ok(None),
        Ok(Some(x)) => x,
        Err(NumError::Invalid) => return Err(CountError::NotANumber(shown())),
        Err(NumError::OutOfRange) => return Err(CountError::TooLarge(shown())),
    };
    if milli < 0 {
        return Err(CountError::Negative(shown()));
    }
    if milli % 1000 != 0 {
        return Err(CountError::NotWhole(shown()));
    }
    u32::try_from(milli / 1000)
        .ok()
        .filter(|&c| c != NONE)
        .map(Some)
        .ok_or_else(|| CountError::TooLarge(shown()))
}

/// Validates one record and adds it. Every outcome is counted in `q`.
fn add_row(
    acc: &mut BikesAcc,
    q: &mut QualityAcc,
    file: &str,
    line: u64,
    row: Row<'_>,
    sel: &DaySelection,
) {
    let t = match parse_instant(&row.date) {
        Ok(t) => t,
        Err(e) => {
            let reason = match e {
                TimeError::OutOfRange => Reason::DateOutOfRange,
                _ => Reason::UnparseableDate,
            };
            q.row(SOURCE, None, file);
            let shown = if row.date.trim().is_empty() {
                "empty".to_string()
            } else {
                format!("{:?}", row.date)
            };
            let detail = format!("field `date` (Date et heure de comptage): {shown}: {e}");
            q.problem(SOURCE, None, file, line, reason, detail);
            return;
        }
    };
    let day: NaiveDate = paris_day(t);
    if !sel.contains(day) {
        q.outside(SOURCE, 1);
        return;
    }
    let d = Some(day);
    q.row(SOURCE, d, file);
    if let Some(name) = row.bad_text {
        let detail =
            format!("field `{name}` is not valid UTF-8 (kept with replacement characters)");
        q.problem(SOURCE, d, file, line, Reason::InvalidUtf8Text, detail);
    }
    let id = row.id.trim();
    if id.is_empty() {
        let detail = "field `id_compteur` (Identifiant du compteur) is empty or missing".into();
        q.problem(SOURCE, d, file, line, Reason::MissingKey, detail);
        return;
    }
    if let Some(e) = key_problem(id) {
        let detail = format!("field `id_compteur` (Identifiant du compteur) {id:?} {e}");
        q.problem(SOURCE, d, file, line, Reason::MissingKey, detail);
        return;
    }
    let count = match parse_count(&row.count) {
        Ok(c) => c,
        Err(e) => {
            let (reason, detail) = match e {
                CountError::NotANumber(s) => (Reason::BadNumber, format!("{s} is not a number")),
                CountError::NotWhole(s) => (Reason::BadNumber, format!("{s} is not a whole count")),
                CountError::Negative(s) => (Reason::ValueOutOfRange, format!("{s} is negative")),
                CountError::TooLarge(s) => (Reason::ValueOutOfRange, format!("{s} is too large")),
            };
            let detail = format!("field `sum_counts` (Comptage horaire): {detail}");
            q.problem(SOURCE, d, file, line, reason, detail);
            return;
        }
    };
    if count.is_none() {
        q.missing(SOURCE, d, "sum_counts");
    }
    let point = match row.point {
        Ok(p) => p,
        Err(e) => {
            let detail = format!("field `coordinates` (Coordonnées géographiques): {e}");
            q.problem(SOURCE, d, file, line, Reason::BadPoint, detail);
            None
        }
    };
    if point.is_none() {
        q.missing(SOURCE, d, "coordinates");
    }
    acc.add(id, day, Slot::new(t, count), &row.nom, point);
}

/// Reads one file. Never fails: every problem is counted in `q`.
pub fn read_file(f: &InputFile, sel: &DaySelection, q: &mut QualityAcc) -> BikesAcc {
    match f.format {
        Format::Csv => read_csv(f, sel, q),
        Format::Json => read_json_file(f, sel, q),
    }
}

fn read_csv(f: &InputFile, sel: &DaySelection, q: &mut QualityAcc) -> BikesAcc {
    let file = f.rel.as_str();
    let mut acc = BikesAcc::default();
    let Some((mut input, cols)) = open_csv_columns(f, SOURCE, &COLUMNS, q) else {
        return acc;
    };
    let width = input.header.len();
    input.for_each_record(q, (SOURCE, file), |q, rec, line| {
        csv_record(&mut acc, q, file, (rec, line), &cols, width, sel)
    });
    acc
}

fn csv_record(
    acc: &mut BikesAcc,
    q: &mut QualityAcc,
    file: &str,
    (rec, line): (&csv::ByteRecord, u64),
    cols: &[Option<usize>],
    width: usize,
    sel: &DaySelection,
) {
    if rec.len() != width {
        q.row(SOURCE, None, file);
        let detail = crate::input::wrong_width_detail(width, rec.len());
        q.problem(SOURCE, None, file, line, Reason::WrongColumnCount, detail);
        return;
    }
    let raw = |i: usize| cols[i].and_then(|c| rec.get(c)).unwrap_or(b"");
    // Key fields must be UTF-8; the name and the point are decoded leniently with a warning.
    let mut strict = [""; 3];
    for (slot, (i, name)) in strict.iter_mut().zip([
        (ID, "Identifiant du compteur"),
        (DATE, "Date et heure de comptage"),
        (COUNT, "Comptage horaire"),
    ]) {
        match std::str::from_utf8(raw(i)) {
            Ok(s) => *slot = s,
            Err(_) => {
                q.row(SOURCE, None, file);
                let detail = format!("field `{name}` is not valid UTF-8");
                q.problem(SOURCE, None, file, line, Reason::InvalidUtf8, detail);
                return;
            }
        }
    }
    let mut bad_text = None;
    let mut lossy = |i: usize, name: &'static str| -> Cow<'_, str> {
        let b = raw(i);
        match std::str::from_utf8(b) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => {
                bad_text.get_or_insert(name);
                String::from_utf8_lossy(b)
            }
        }
    };
    let nom = lossy(NOM, "Nom du compteur");
    let point_text = lossy(POINT, "Coordonnées géographiques");
    let point = if point_text.trim().is_empty() {
        Ok(None)
    } else {
        parse_lat_lon(&point_text).map(Some)
    };
    let row = Row {
        id: Cow::Borrowed(strict[0]),
        date: Cow::Borrowed(strict[1]),
        count: CountIn::Text(strict[2]),
        nom,
        point,
        bad_text,
    };
    add_row(acc, q, file, line, row, sel);
}

fn read_json_file(f: &InputFile, sel: &DaySelection, q: &mut QualityAcc) -> BikesAcc {
    let file = f.rel.as_str();
    let mut acc = BikesAcc::default();
    let items = match read_json(&f.path) {
        Ok(items) => items,
        Err(e) => {
            q.file_failed(SOURCE, file, e.line, e.reason, e.detail, 0);
            return acc;
        }
    };
    let keys: Vec<Vec<&'static str>> = COLUMNS.iter().map(ColumnSpec::names).collect();
    for item in items {
        let Some((line, value)) = item.into_record(q, SOURCE, file) else {
            continue;
        };
        let Value::Object(o) = &value else {
            // read_json only returns objects as records; be safe anyway
            q.row(SOURCE, None, file);
            let detail = "expected an object".to_string();
            q.problem(SOURCE, None, file, line, Reason::NotARecord, detail);
            continue;
        };
        let get = |i: usize| json_field(o, &keys[i]);
        let row = Row {
            id: json_text(get(ID)),
            date: json_text(get(DATE)),
            count: CountIn::Json(get(COUNT)),
            nom: json_text(get(NOM)),
            point: json_point(get(POINT)),
            bad_text: None,
        };
        add_row(&mut acc, q, file, line, row, sel);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(v: &str) -> Result<Option<u32>, &'static str> {
        parse_count(&CountIn::Text(v)).map_err(|e| match e {
            CountError::NotANumber(_) => "nan",
            CountError::NotWhole(_) => "frac",
            CountError::Negative(_) => "neg",
            CountError::TooLarge(_) => "big",
        })
    }

    fn jcount(v: Value) -> Result<Option<u32>, &'static str> {
        parse_count(&CountIn::Json(Some(&v))).map_err(|e| match e {
            CountError::NotANumber(_) => "nan",
            CountError::NotWhole(_) => "frac",
            CountError::Negative(_) => "neg",
            CountError::TooLarge(_) => "big",
        })
    }

    #[test]
    fn counts_are_whole_non_negative_numbers() {
        assert_eq!(count("25"), Ok(Some(25)));
        assert_eq!(count(" 25.0 "), Ok(Some(25)));
        assert_eq!(count(""), Ok(None));
        assert_eq!(count("-1"), Err("neg"));
        assert_eq!(count("2.5"), Err("frac"));
        assert_eq!(count("abc"), Err("nan"));
        assert_eq!(count("99999999999"), Err("big"));
        assert_eq!(jcount(serde_json::json!(69)), Ok(Some(69)));
        assert_eq!(jcount(serde_json::json!(69.0)), Ok(Some(69)));
        assert_eq!(jcount(serde_json::json!(-3)), Err("neg"));
        assert_eq!(jcount(serde_json::json!(-3.5)), Err("neg"));
        assert_eq!(jcount(serde_json::json!("12")), Ok(Some(12)));
        assert_eq!(jcount(serde_json::json!(null)), Ok(None));
        assert_eq!(jcount(serde_json::json!(true)), Err("nan"));
        assert_eq!(parse_count(&CountIn::Json(None)).ok(), Some(None));
    }
}
