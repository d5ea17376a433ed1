//! InfoClimat open-data JSON: `stations[]` (id, name, latitude, longitude, elevation),
//! `metadata` (field -> "description,unit"), `hourly{<station id>: [records]}`.
//!
//! - Entries of `hourly` whose key starts with `_` (`_params`, the list of requested fields) are
//!   not stations and are skipped.
//! - Every value is a string; null and `""` are missing values (kept as null). Stations have
//!   different field sets (the synoptic station has visibility, snow, cloud cover, weather code;
//!   the static ones do not): a document lists exactly the fields of its record.
//! - `dh_utc` (`2024-10-05 00:00:00`) is UTC. Values are already metric (°C, hPa, %, km/h, mm,
//!   m, cm, octas): kept as written. The units of `metadata` are checked against these.
//! - A field this module does not know is kept under its own name (nothing is dropped) and named
//!   in the report's warnings.

use std::path::Path;

use chrono::NaiveDateTime;
use serde_json::{Map, Value as Json};

use super::catalog::Catalog;
use super::quality::Collector;
use super::units::Dec;
use super::{Document, Found, Source, Station, Value, FIELDS};

const SOURCE: &str = "infoclimat";

/// (InfoClimat field, document field, unit expected in `metadata`).
const MAP: [(&str, &str, &[&str]); 13] = [
    ("temperature", "temperature_c", &["degc"]),
    ("pression", "pressure_hpa", &["hpa"]),
    ("humidite", "humidity_pct", &["%"]),
    ("point_de_rosee", "dew_point_c", &["degc"]),
    ("visibilite", "visibility_m", &["m"]),
    ("vent_moyen", "wind_speed_kmh", &["km/h"]),
    ("vent_rafales", "wind_gust_kmh", &["km/h"]),
    ("vent_direction", "wind_direction_deg", &["deg"]),
    ("pluie_3h", "precip_3h_mm", &["mm"]),
    ("pluie_1h", "precip_1h_mm", &["mm"]),
    ("neige_au_sol", "snow_depth_cm", &["cm"]),
    (
        "nebulosite",
        "cloud_cover_octas",
        &["octats", "octas", "octa"],
    ),
    // The unit is a link to the code table.
    ("temps_omm", "weather_code", &[]),
];

/// Reads a raw InfoClimat JSON file.
pub fn read_file(
    path: &Path,
    shown: &str,
    catalog: &Catalog,
    q: &mut Collector,
    out: &mut Found,
) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let v: Json = serde_json::from_slice(&bytes).map_err(|e| {
        q.warn(format!("{shown}: not valid JSON ({e})"));
        format!("not valid JSON: {e}")
    })?;
    read_object(&v, shown, catalog, q, out)
}

/// Reads one InfoClimat object (a file's content, or an Airbyte record's `_airbyte_data`).
/// `at` names where it came from (`file` or `file:line`).
pub fn read_object(
    v: &Json,
    at: &str,
    catalog: &Catalog,
    q: &mut Collector,
    out: &mut Found,
) -> Result<(), String> {
    let Some(hourly) = v.get("hourly").and_then(Json::as_object) else {
        let msg = "not an InfoClimat object: no `hourly` object".to_string();
        q.warn(format!("{at}: {msg}"));
        return Err(msg);
    };
    if let Some(meta) = v.get("metadata").and_then(Json::as_object) {
        check_units(meta, at, q);
    }
    let stations = stations_of(v, at, catalog, q);
    for (key, records) in hourly {
        if key.starts_with('_') {
            continue;
        }
        let Some(records) = records.as_array() else {
            q.warn(format!(
                "{at}: hourly.{key} is not a list of records: skipped"
            ));
            continue;
        };
        let station = match stations.iter().find(|s| s.station_id == *key) {
            Some(s) => s.clone(),
            None => {
                q.warn(format!(
                    "{at}: station {key} is not in `stations`: its documents have no name nor \
                     coordinates"
                ));
                let mut s = catalog
                    .get(key)
                    .map(|e| e.station.clone())
                    .unwrap_or_default();
                s.station_id = key.clone();
                s
            }
        };
        for (i, rec) in records.iter().enumerate() {
            let loc = format!("{at}: hourly.{key}[{i}]");
            q.begin(SOURCE);
            if let Some(d) = record(rec, key, &station, &loc, q) {
                out.push(d, loc);
            }
            q.end(SOURCE);
        }
    }
    Ok(())
}

/// The stations of the file, completed by the stations file (country; anything the file lacks).
fn stations_of(v: &Json, at: &str, catalog: &Catalog, q: &mut Collector) -> Vec<Station> {
    let mut out = Vec::new();
    for s in v
        .get("stations")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let Some(id) = s.get("id").and_then(Json::as_str) else {
            q.warn(format!("{at}: a `stations` entry without an id: skipped"));
            continue;
        };
        let num = |k: &str| s.get(k).and_then(|x| x.as_number().cloned());
        let mut st = Station {
            station_id: id.to_string(),
            name: s.get("name").and_then(Json::as_str).map(str::to_string),
            latitude: num("latitude"),
            longitude: num("longitude"),
            elevation: num("elevation"),
            country: None,
        };
        if let Some(e) = catalog.get(id) {
            let c = &e.station;
            let pairs = [
                ("latitude", &mut st.latitude, &c.latitude),
                ("longitude", &mut st.longitude, &c.longitude),
                ("elevation", &mut st.elevation, &c.elevation),
            ];
            for (what, mine, theirs) in pairs {
                match (mine.as_ref(), theirs) {
                    (None, Some(t)) => *mine = Some(t.clone()),
                    (Some(m), Some(t)) if m.as_f64() != t.as_f64() => q.warn(format!(
                        "{at}: station {id}: {what} {m} in the file, {t} in the stations file: \
                         the file's value is used"
                    )),
                    _ => {}
                }
            }
            if st.name.is_none() {
                st.name = c.name.clone();
            }
            st.country = c.country.clone();
        } else {
            q.warn(format!(
                "station {id} is not in the stations file: its documents have no country"
            ));
        }
        out.push(st);
    }
    out
}

fn check_units(meta: &Map<String, Json>, at: &str, q: &mut Collector) {
    for (field, _, units) in MAP {
        if units.is_empty() {
            continue;
        }
        let Some(text) = meta.get(field).and_then(Json::as_str) else {
            continue;
        };
        let unit = text.rsplit(',').next().unwrap_or("").trim().to_lowercase();
        if !units.contains(&unit.as_str()) {
            q.warn(format!(
                "{at}: metadata gives {field} in {unit:?}, expected {}: values kept as written",
                units[0]
            ));
        }
    }
}

/// `dh_utc`: `YYYY-MM-DD HH:MM:SS` (or with `T`, optional `Z`), UTC.
fn parse_utc(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc().timestamp())
}

/// A value as text: strings as they are, numbers as JSON writes them; `None` for null / "".
fn text_of(v: &Json) -> Result<Option<String>, ()> {
    match v {
        Json::Null => Ok(None),
        Json::String(s) if s.trim().is_empty() => Ok(None),
        Json::String(s) => Ok(Some(s.clone())),
        Json::Number(n) => Ok(Some(n.to_string())),
        _ => Err(()),
    }
}

fn record(
    rec: &Json,
    key: &str,
    station: &Station,
    loc: &str,
    q: &mut Collector,
) -> Option<Document> {
    let Some(obj) = rec.as_object() else {
        q.reject(SOURCE, loc, "not a record", "expected a JSON object");
        return None;
    };
    if let Some(id) = obj.get("id_station").and_then(Json::as_str) {
        if id != key {
            q.reject(
                SOURCE,
                loc,
                "station mismatch",
                &format!("id_station {id:?} in the list of station {key}"),
            );
            return None;
        }
    }
    let dh = obj.get("dh_utc").unwrap_or(&Json::Null);
    let Some(timestamp) = dh.as_str().and_then(parse_utc) else {
        q.reject(SOURCE, loc, "bad dh_utc", &dh.to_string());
        return None;
    };
    if !super::plausible(timestamp) {
        q.reject(
            SOURCE,
            loc,
            "date out of range",
            &format!("{dh} is not in 1900..2100"),
        );
        return None;
    }
    let mut mapped: Vec<(usize, String, Value)> = Vec::new();
    let mut extra: Vec<(String, Value)> = Vec::new();
    for (k, v) in obj {
        if k == "id_station" || k == "dh_utc" {
            continue;
        }
        let target = MAP.iter().find(|(f, _, _)| f == k).map(|(_, t, _)| *t);
        let name = target.unwrap_or(k.as_str());
        let value = match text_of(v) {
            Ok(None) => Value::Null,
            Ok(Some(t)) => match Dec::parse(&t) {
                Ok(d) if name == "weather_code" => match d.to_integer() {
                    Some(i) => Value::Int(i),
                    None => {
                        q.unparseable(SOURCE, loc, k, &t, "not an integer code");
                        Value::Null
                    }
                },
                Ok(d) => Value::Num(d.to_f64()),
                Err(e) => {
                    q.unparseable(SOURCE, loc, k, &t, &e.to_string());
                    Value::Null
                }
            },
            Err(()) => {
                q.unparseable(SOURCE, loc, k, &v.to_string(), "not a string or number");
                Value::Null
            }
        };
        match FIELDS
            .iter()
            .position(|f| *f == name)
            .filter(|_| target.is_some())
        {
            Some(i) => mapped.push((i, name.to_string(), value)),
            None => {
                q.warn(format!(
                    "InfoClimat field {k:?} has no document name: kept as measurements.{k}"
                ));
                extra.push((k.clone(), value));
            }
        }
    }
    mapped.sort_by_key(|(i, _, _)| *i);
    let mut measurements: Vec<(String, Value)> =
        mapped.into_iter().map(|(_, k, v)| (k, v)).collect();
    measurements.extend(extra);
    Some(Document {
        source: Source::InfoClimat,
        station: station.clone(),
        timestamp,
        measurements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_records_with_nulls_and_skips_params() {
        let v = json!({
            "stations": [{"id": "07015", "name": "Lille-Lesquin", "latitude": 50.575,
                          "longitude": 3.092, "elevation": 47}],
            "metadata": {"temperature": "temperature,degC", "pression": "mean sea level pressure,hPa"},
            "hourly": {
                "07015": [
                    {"id_station": "07015", "dh_utc": "2024-10-05 00:00:00", "temperature": "7.6",
                     "pression": "1020.7", "nebulosite": "", "temps_omm": null, "humidex": "3"},
                    {"id_station": "07015", "dh_utc": "2024-10-05 01:00", "temperature": "n/a",
                     "temps_omm": "10"},
                    {"id_station": "07015", "dh_utc": "yesterday"},
                    {"id_station": "00052", "dh_utc": "2024-10-05 02:00:00"}
                ],
                "_params": ["temperature"]
            }
        });
        let mut q = Collector::default();
        let mut found = Found::default();
        read_object(&v, "f.json", &Catalog::default(), &mut q, &mut found).unwrap();
        let out = found.docs;
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0].to_line(),
            r#"{"source":"infoclimat","station":{"station_id":"07015","name":"Lille-Lesquin","latitude":50.575,"longitude":3.092,"elevation":47,"country":null},"timestamp":"2024-10-05T00:00:00Z","measurements":{"temperature_c":7.6,"pressure_hpa":1020.7,"cloud_cover_octas":null,"weather_code":null,"humidex":3.0}}"#
        );
        assert_eq!(out[1].timestamp_text(), "2024-10-05T01:00:00Z");
        assert_eq!(out[1].value("temperature_c"), None);
        assert_eq!(out[1].value("weather_code"), Some(10.0));
        let s = &q.sources["infoclimat"];
        assert_eq!(
            (
                s.records_read,
                s.records_rejected,
                s.values_unparseable,
                s.records_with_problems
            ),
            (4, 2, 1, 3)
        );
        assert_eq!(
            q.unparseable_samples,
            vec!["f.json: hourly.07015[1]: temperature: \"n/a\": not a decimal number"]
        );
        assert_eq!(
            q.rejected_samples[0],
            "f.json: hourly.07015[2]: bad dh_utc: \"yesterday\""
        );
        assert!(q.rejected_samples[1].contains("id_station \"00052\""));
        assert!(q.warnings.iter().any(|w| w.contains("\"humidex\"")));
    }

    #[test]
    fn not_an_infoclimat_object() {
        let mut q = Collector::default();
        let e = read_object(
            &json!({"stations": []}),
            "x.json",
            &Catalog::default(),
            &mut q,
            &mut Found::default(),
        )
        .unwrap_err();
        assert!(e.contains("no `hourly` object"));
    }

    #[test]
    fn metadata_units_are_checked() {
        let mut q = Collector::default();
        let meta = json!({"temperature": "temperature,degF", "pression": "p,hPa"});
        check_units(meta.as_object().unwrap(), "m.json", &mut q);
        assert_eq!(q.warnings.len(), 1);
        assert!(q.warnings[0].contains("temperature in \"degf\""));
    }
}
