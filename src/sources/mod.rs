//! One module per raw dataset: find the columns, parse rows, normalise, count rejects.

pub mod arrondissements;
pub mod bikes;
pub mod chantiers;
pub mod comptages;
pub mod dataset;
pub mod referentiel;
pub mod traffic;
pub mod velib;
pub mod weather;

use std::borrow::Cow;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::input::norm_header;

/// The days a run processes: all (both `None`) or an inclusive range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DaySelection {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl DaySelection {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t)
    }
}

/// Looks a field up in a JSON record by its name or aliases, exactly then normalised.
pub fn json_field<'a>(o: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    for n in names {
        if let Some(v) = o.get(*n) {
            return Some(v);
        }
    }
    let wanted: Vec<String> = names.iter().map(|n| norm_header(n)).collect();
    o.iter()
        .find(|(k, _)| wanted.contains(&norm_header(k)))
        .map(|(_, v)| v)
}

/// Why a non-empty id cannot be used: control characters (NUL, line breaks: binary garbage) or
/// a byte-order mark (two files glued together). Such an id would make up a new arc or station.
pub fn key_problem(id: &str) -> Option<&'static str> {
    if id.is_ascii() {
        // The usual case, without a search for a 3-byte character: only C0 controls and DEL.
        return id
            .bytes()
            .any(|b| b.is_ascii_control())
            .then_some("holds control characters");
    }
    if id.contains('\u{feff}') {
        Some("holds a byte-order mark (two files glued together?)")
    } else if id.chars().any(char::is_control) {
        Some("holds control characters")
    } else {
        None
    }
}

/// A JSON scalar as text (`"5381"` and `5381` are the same id); null and missing are empty.
pub fn json_text(v: Option<&Value>) -> Cow<'_, str> {
    match v {
        Some(Value::String(s)) => Cow::Borrowed(s.as_str()),
        Some(Value::Number(n)) => Cow::Owned(n.to_string()),
        Some(Value::Bool(b)) => Cow::Owned(b.to_string()),
        _ => Cow::Borrowed(""),
    }
}

/// A point from JSON: `{lon, lat}`, `[lat, lon]` (Opendatasoft v1) or the text `"lat, lon"`.
pub fn json_point(v: Option<&Value>) -> Result<Option<crate::geo::Pt>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => crate::geo::parse_lat_lon(s).map(Some),
        Some(o @ Value::Object(_)) => crate::geo::parse_lon_lat_obj(o).map(Some),
        Some(Value::Array(a)) if a.len() == 2 => {
            let lat = a[0].as_f64().ok_or("point latitude is not a number")?;
            let lon = a[1].as_f64().ok_or("point longitude is not a number")?;
            crate::geo::check_lon_lat(lon, lat)?;
            Ok(Some([lon, lat]))
        }
        Some(_) => Err("point is neither {lon, lat}, [lat, lon] nor \"lat, lon\"".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::key_problem;

    #[test]
    fn key_problems_on_both_paths() {
        for ok in ["5381", "X_12-b", "Rue de l'Été", "a b"] {
            assert_eq!(key_problem(ok), None, "{ok:?}");
        }
        let control = Some("holds control characters");
        for bad in ["53\t81", "\u{7f}1", "1\n", "é\u{1}", "é\u{85}"] {
            assert_eq!(key_problem(bad), control, "{bad:?}");
        }
        assert!(key_problem("\u{feff}5381")
            .unwrap()
            .contains("byte-order mark"));
    }
}
