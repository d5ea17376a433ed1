//! Weather stations (the forecasting pipeline): InfoClimat and Weather Underground stations,
//! raw or as Airbyte JSON Lines -> one document per station and instant -> a JSON Lines file
//! ("MongoDB-ready"), a quality report, and optionally the `weather_data` MongoDB collection
//! (upserts on the unique (station_id, timestamp) index, verification, timed query), with a
//! compressed backup to S3 and its restore.
//!
//! - [`catalog`]: the stations file (what the files do not say: time zones, file names...);
//! - [`infoclimat`]: InfoClimat open-data JSON; [`wunderground`]: workbooks and dateless rows
//!   (date reconstruction); [`airbyte`]: Airbyte S3-destination JSON Lines of either;
//! - [`units`]: exact conversions; [`quality`]: the quality report;
//! - [`mongo`]: import, verification, timed query; [`backup`]: export to S3 and restore;
//! - [`cli`]: flags and the four commands (`run`, `verify`, `backup`, `restore`).
//!
//! The document:
//! `{source, station{station_id, name, latitude, longitude, elevation, country},
//!   timestamp, measurements{...}}` with `timestamp` in UTC (`2024-09-30T22:04:00Z`) and every
//! measurement a number in metric units (or null when the source has the field without a value;
//! fields a source does not have are absent). The measurement names are [`FIELDS`].

pub mod airbyte;
pub mod backup;
pub mod catalog;
pub mod cli;
pub mod infoclimat;
pub mod mongo;
pub mod quality;
pub mod units;
pub mod workbook;
pub mod wunderground;

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Number, Value as Json};

use catalog::Catalog;
use quality::{Collector, Duplicates, InputReport};

/// Every measurement name, in the order documents list them.
pub const FIELDS: [&str; 17] = [
    "temperature_c",
    "dew_point_c",
    "humidity_pct",
    "pressure_hpa",
    "wind_speed_kmh",
    "wind_gust_kmh",
    "wind_direction_deg",
    "precip_rate_mm_h",
    // Weather Underground's "Precip. Accum.": rain since local midnight.
    "precip_mm",
    // InfoClimat's rain over the last hour and the last 3 hours.
    "precip_1h_mm",
    "precip_3h_mm",
    "uv_index",
    "solar_radiation_wm2",
    "visibility_m",
    "snow_depth_cm",
    "cloud_cover_octas",
    // WMO present-weather code (ww), an integer.
    "weather_code",
];

/// The values the quality report and the verification count when missing.
pub const CRITICAL: [&str; 3] = ["temperature_c", "humidity_pct", "pressure_hpa"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    InfoClimat,
    WeatherUnderground,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::InfoClimat => "infoclimat",
            Source::WeatherUnderground => "weather_underground",
        }
    }
}

/// A station as documents carry it. Numbers are kept as their source wrote them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Station {
    pub station_id: String,
    pub name: Option<String>,
    pub latitude: Option<Number>,
    pub longitude: Option<Number>,
    pub elevation: Option<Number>,
    pub country: Option<String>,
}

/// One measurement value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Null,
    Num(f64),
    /// Codes (the WMO weather code).
    Int(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub source: Source,
    pub station: Station,
    /// Seconds since the epoch (UTC).
    pub timestamp: i64,
    /// (name, value) in [`FIELDS`] order, then any unmapped source field.
    pub measurements: Vec<(String, Value)>,
}

/// The file name of an input (what the stations file's `file_match` is looked up in).
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// 1900-01-01T00:00:00Z ..= 2100-12-31T23:59:59Z: anything else is a broken date.
pub fn plausible(secs: i64) -> bool {
    (-2_208_988_800..=4_133_980_799).contains(&secs)
}

/// `2024-09-30T22:04:00Z`
pub fn utc_text(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("@{secs}"))
}

impl Document {
    pub fn timestamp_text(&self) -> String {
        utc_text(self.timestamp)
    }

    /// A measurement's value when present and not null.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.measurements
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| match v {
                Value::Num(x) => Some(*x),
                Value::Int(i) => Some(*i as f64),
                Value::Null => None,
            })
    }

    pub fn to_json(&self) -> Json {
        let opt_s = |s: &Option<String>| s.clone().map(Json::String).unwrap_or(Json::Null);
        let opt_n = |n: &Option<Number>| n.clone().map(Json::Number).unwrap_or(Json::Null);
        let mut station = Map::new();
        station.insert("station_id".into(), self.station.station_id.clone().into());
        station.insert("name".into(), opt_s(&self.station.name));
        station.insert("latitude".into(), opt_n(&self.station.latitude));
        station.insert("longitude".into(), opt_n(&self.station.longitude));
        station.insert("elevation".into(), opt_n(&self.station.elevation));
        station.insert("country".into(), opt_s(&self.station.country));
        let mut m = Map::new();
        for (k, v) in &self.measurements {
            let j = match v {
                Value::Null => Json::Null,
                Value::Num(x) => Number::from_f64(*x).map(Json::Number).unwrap_or(Json::Null),
                Value::Int(i) => Json::from(*i),
            };
            m.insert(k.clone(), j);
        }
        let mut d = Map::new();
        d.insert("source".into(), self.source.as_str().into());
        d.insert("station".into(), Json::Object(station));
        d.insert("timestamp".into(), self.timestamp_text().into());
        d.insert("measurements".into(), Json::Object(m));
        Json::Object(d)
    }

    /// The document as one JSON Lines line (without the newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(&self.to_json()).expect("documents serialise")
    }
}

/// Documents as read, each with where it was read (`file:line`...).
#[derive(Debug, Default)]
pub struct Found {
    pub docs: Vec<Document>,
    pub locs: Vec<String>,
}

impl Found {
    pub fn push(&mut self, d: Document, loc: String) {
        self.docs.push(d);
        self.locs.push(loc);
    }
}

/// Sorts documents by (station_id, timestamp) and keeps the first read of each key; the others
/// are counted as identical or conflicting duplicates.
pub fn dedupe(docs: Vec<Document>, locs: Vec<String>) -> (Vec<Document>, Duplicates) {
    let mut v: Vec<(Document, String)> = docs.into_iter().zip(locs).collect();
    // Stable: among equal keys, the first read stays first.
    v.sort_by(|a, b| {
        (a.0.station.station_id.as_str(), a.0.timestamp)
            .cmp(&(b.0.station.station_id.as_str(), b.0.timestamp))
    });
    let mut out: Vec<Document> = Vec::with_capacity(v.len());
    let mut dups = Duplicates::default();
    for (d, loc) in v {
        if let Some(last) = out.last() {
            if last.station.station_id == d.station.station_id && last.timestamp == d.timestamp {
                let same = last == &d;
                if same {
                    dups.identical += 1;
                } else {
                    dups.conflicting += 1;
                }
                if dups.samples.len() < quality::SAMPLES {
                    dups.samples.push(format!(
                        "{loc}: {} {} already read{}",
                        d.station.station_id,
                        d.timestamp_text(),
                        if same {
                            " (same content)"
                        } else {
                            " with other values: the first one is kept"
                        }
                    ));
                }
                continue;
            }
        }
        out.push(d);
    }
    (out, dups)
}

/// Start dates given with `--start-date [STATION=]YYYY-MM-DD`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartDates {
    pub all: Option<NaiveDate>,
    pub per_station: Vec<(String, NaiveDate)>,
}

impl StartDates {
    pub fn parse(items: &[String]) -> Result<StartDates, String> {
        let mut s = StartDates::default();
        for it in items {
            let (station, date) = match it.split_once('=') {
                Some((a, b)) => (Some(a.trim().to_string()), b.trim()),
                None => (None, it.trim()),
            };
            let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
                format!("--start-date {it:?}: expected YYYY-MM-DD or STATION=YYYY-MM-DD")
            })?;
            match station {
                Some(st) if !st.is_empty() => s.per_station.push((st, d)),
                Some(_) => return Err(format!("--start-date {it:?}: empty station id")),
                None => s.all = Some(d),
            }
        }
        Ok(s)
    }

    /// The anchor of a station's dateless export and where it came from.
    pub fn anchor(&self, entry: &catalog::Entry) -> Option<(NaiveDate, String)> {
        let id = &entry.station.station_id;
        if let Some((_, d)) = self.per_station.iter().rev().find(|(s, _)| s == id) {
            return Some((*d, format!("flag --start-date {id}={d}")));
        }
        if let Some(d) = self.all {
            return Some((d, format!("flag --start-date {d}")));
        }
        entry
            .start_date
            .map(|d| (d, format!("stations file start_date of {id}")))
    }
}

/// What kind of input a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    InfoClimatJson,
    JsonLines,
    Workbook,
}

impl InputKind {
    pub fn of(path: &Path) -> Option<InputKind> {
        let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(InputKind::InfoClimatJson),
            "jsonl" | "ndjson" => Some(InputKind::JsonLines),
            "xlsx" => Some(InputKind::Workbook),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::InfoClimatJson => "infoclimat_json",
            InputKind::JsonLines => "json_lines",
            InputKind::Workbook => "wunderground_xlsx",
        }
    }
}

/// The input files: files as given, folders walked (sorted) for `.json`, `.jsonl`, `.ndjson`,
/// `.xlsx`. A given file of another kind, or a missing path, is a usage error.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<(PathBuf, InputKind)>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            for e in walkdir::WalkDir::new(p).sort_by_file_name() {
                let e = e.map_err(|e| format!("{}: {e}", p.display()))?;
                let name = e.file_name().to_string_lossy();
                if e.file_type().is_file() && !name.starts_with('.') {
                    if let Some(k) = InputKind::of(e.path()) {
                        out.push((e.path().to_path_buf(), k));
                    }
                }
            }
        } else if p.is_file() {
            let k = InputKind::of(p).ok_or_else(|| {
                format!(
                    "{}: not a .json, .jsonl, .ndjson or .xlsx file",
                    p.display()
                )
            })?;
            out.push((p.clone(), k));
        } else {
            return Err(format!("input {} does not exist", p.display()));
        }
    }
    if out.is_empty() {
        return Err("no input file (.json, .jsonl, .ndjson, .xlsx) found".into());
    }
    Ok(out)
}

/// Reads every input into documents (deduplicated, sorted by station and time) and the quality
/// notes. Never fails: an unreadable file is reported and the others are still read.
pub fn transform(
    inputs: &[(PathBuf, InputKind)],
    catalog: &Catalog,
    starts: &StartDates,
) -> (Vec<Document>, Duplicates, Collector) {
    let mut q = Collector::default();
    let mut found = Found::default();
    for (path, kind) in inputs {
        let shown = path.display().to_string();
        let before = found.docs.len();
        let read_before: u64 = q.sources.values().map(|s| s.records_read).sum();
        let res = match kind {
            InputKind::InfoClimatJson => {
                infoclimat::read_file(path, &shown, catalog, &mut q, &mut found)
            }
            InputKind::JsonLines => {
                airbyte::read_file(path, &shown, catalog, starts, &mut q, &mut found)
            }
            InputKind::Workbook => {
                wunderground::read_workbook(path, &shown, catalog, starts, &mut q, &mut found)
            }
        };
        let read_after: u64 = q.sources.values().map(|s| s.records_read).sum();
        if res.is_err() {
            q.failed_inputs += 1;
        }
        q.inputs.push(InputReport {
            file: shown,
            kind: kind.as_str().to_string(),
            records_read: read_after - read_before,
            documents: (found.docs.len() - before) as u64,
            error: res.err(),
        });
    }
    let (docs, dups) = dedupe(found.docs, found.locs);
    (docs, dups, q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, t: i64, temp: f64) -> Document {
        Document {
            source: Source::InfoClimat,
            station: Station {
                station_id: id.into(),
                ..Default::default()
            },
            timestamp: t,
            measurements: vec![("temperature_c".into(), Value::Num(temp))],
        }
    }

    #[test]
    fn dedupe_keeps_the_first_and_counts() {
        let docs = vec![
            doc("B", 10, 1.0),
            doc("A", 20, 2.0),
            doc("B", 10, 1.0),
            doc("B", 10, 5.0),
            doc("A", 10, 3.0),
        ];
        let locs = (1..=5).map(|i| format!("f:{i}")).collect();
        let (out, d) = dedupe(docs, locs);
        let keys: Vec<(String, i64, f64)> = out
            .iter()
            .map(|d| {
                (
                    d.station.station_id.clone(),
                    d.timestamp,
                    d.value("temperature_c").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                ("A".into(), 10, 3.0),
                ("A".into(), 20, 2.0),
                ("B".into(), 10, 1.0)
            ]
        );
        assert_eq!((d.identical, d.conflicting), (1, 1));
        assert!(d.samples[0].starts_with("f:3: B 1970-01-01T00:00:10Z already read (same"));
        assert!(d.samples[1].contains("f:4: B") && d.samples[1].contains("first one is kept"));
    }

    #[test]
    fn document_json_shape() {
        let mut d = doc("07015", 1_728_086_400, 7.6);
        d.station.latitude = Some(serde_json::from_str("50.575").unwrap());
        d.measurements.push(("weather_code".into(), Value::Int(3)));
        d.measurements.push(("pluie_1h".into(), Value::Null));
        assert_eq!(
            d.to_line(),
            r#"{"source":"infoclimat","station":{"station_id":"07015","name":null,"latitude":50.575,"longitude":null,"elevation":null,"country":null},"timestamp":"2024-10-05T00:00:00Z","measurements":{"temperature_c":7.6,"weather_code":3,"pluie_1h":null}}"#
        );
    }

    #[test]
    fn start_dates() {
        let s = StartDates::parse(&["2024-10-01".into(), "X=2024-10-03".into()]).unwrap();
        assert_eq!(s.all, NaiveDate::from_ymd_opt(2024, 10, 1));
        assert_eq!(s.per_station[0].0, "X");
        assert!(StartDates::parse(&["01/10/2024".into()]).is_err());
        assert!(StartDates::parse(&["=2024-10-01".into()]).is_err());
    }
}
