//! Vélib' availability: GBFS `station_status.json` / `station_information.json` snapshots and the
//! opendata CSV export `velib-disponibilite-en-temps-reel.csv` -> [`VelibAcc`].
//!
//! **GBFS** (`{lastUpdatedOther, ttl, data: {stations: [...]}}`, read as one record): each station
//! of `data.stations` is one row. A station with availability fields (`num_bikes_available`,
//! `last_reported`, `is_installed`...) is a status report; one with only descriptive fields
//! (`name`, `lat`, `lon`, `capacity`) is a `station_information` record, kept for the join done in
//! [`crate::metrics::velib`]. Ids stay text (`station_id` exceeds 2^31). Every station of a status
//! snapshot belongs to the snapshot's Paris day: the day of `lastUpdatedOther` (or `last_updated`),
//! else the file's `dt=` partition date, else the day of the newest `last_reported`. A station
//! whose `last_reported` is more than 24 h older than the snapshot (`lastUpdatedOther`, else the
//! newest `last_reported`) is stale; a status without `last_reported` is taken as reported at the
//! snapshot time (and counted as a missing value). Information records belong to the day of their
//! `lastUpdatedOther`, else the partition date, else to no day (then they serve every day).
//! `num_bikes_available_types` is Vélib's array of single-key
//! objects (`[{"mechanical": 3}, {"ebike": 1}]`); an object is accepted too.
//!
//! **CSV export** (`;`, BOM, CRLF, 14 or 15 columns): the file is **one snapshot** whose rows carry
//! their own update times (`Actualisation de la donnée`); it has no time of its own, so its time
//! is its newest row's. A row within 24 h of that belongs to the Paris day of its own update time.
//! A row more than 24 h older is a station that stopped reporting: it is **stale**, and counted on
//! the snapshot's day (as `stations_obsoletes`, its bikes not counted), not on the day of its last
//! update, which would otherwise show up as a day of a handful of stations. Flat JSON records with
//! the dataset's technical names (`stationcode`, `numbikesavailable`, `duedate`...) are read the
//! same way.
//!
//! Day selection: status rows of a day outside the run's selection are skipped silently; the
//! information records of such a day are still kept for the join (a station list fetched on
//! another day is still the best description of the stations), but counted in no quality report.
//!
//! Quality: one row per station record (status or information); a bad count, a bad date or a
//! missing id rejects the row; an unknown flag or bike type and a bad point are warnings; empty
//! values are counted as missing (`velos_disponibles`, `bornettes_libres`, `velos_mecaniques`,
//! `velos_electriques`, `station_installee`, `station_en_location`, `last_reported`, and for rows
//! that describe their own station `capacite` / `coordonnees`); the station state (`etat: en
//! service`, `etat: hors service`, `etat: obsolete ...`), rows whose total bikes differ from
//! mechanical + electric, and repaired names go to the categories. Names double-encoded in UTF-8
//! (the real `station_information.json` has `Stade CharlÃƒÂ©ty`) are repaired. CSV samples give
//! the physical line (the csv crate does not count line breaks inside quoted fields); a GBFS
//! station's samples give its document's line and its `station_id`.

use std::borrow::Cow;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::discover::{Format, InputFile};
use crate::fixed::{parse_scaled, scaled_from_f64};
use crate::input::{
    missing_columns_detail, norm_header, open_csv, read_json, resolve_columns, ColumnSpec,
};
use crate::metrics::velib::{
    Report, Static, StationId, StationKey, Status, VelibAcc, POINT_DIGITS, STALE_AFTER_S,
};
use crate::quality::{QualityAcc, Reason};
use crate::sources::{json_field, json_point, DaySelection};
use crate::time::{paris_day, parse_instant, Instant, TimeError};

pub const SOURCE: &str = "velib";

/// Vélib stations, as a dataset of the pipeline.
pub struct Velib;

impl super::dataset::Dataset for Velib {
    const FILES: crate::discover::FileKind = crate::discover::FileKind {
        name: SOURCE,
        api: &["velib"],
        batch: &["velib", "station_information", "station_status"],
    };
    super::dataset::accumulator_dataset!(velib, VelibAcc, VelibMetrics);
    fn tables(
        acc: &Self::Ready,
        day: NaiveDate,
        _: &Self::Metrics,
        arr: &crate::geo::ArrondissementIndex,
    ) -> Vec<crate::analytics::Table> {
        let list = crate::metrics::velib::day_station_list(acc, day, arr);
        crate::analytics::velib(day, &list)
    }
}

const CODE: usize = 0;
const NAME: usize = 1;
const INSTALLED: usize = 2;
const CAPACITY: usize = 3;
const DOCKS: usize = 4;
const BIKES: usize = 5;
const MECH: usize = 6;
const EBIKE: usize = 7;
const RENTING: usize = 8;
const RETURNING: usize = 9;
const TIME: usize = 10;
const POINT: usize = 11;
const COMMUNE: usize = 12;
const INSEE: usize = 13;
// JSON only
const STATION_ID: usize = 14;
const TYPES: usize = 15;
const LAT: usize = 16;
const LON: usize = 17;

/// The CSV export's columns, with the JSON names as aliases (GBFS, then Opendatasoft).
pub const COLUMNS: [ColumnSpec; 14] = [
    ColumnSpec::required("Identifiant station", &["stationCode", "stationcode"]),
    ColumnSpec::optional("Nom station", &["name"]),
    ColumnSpec::optional("Station en fonctionnement", &["is_installed"]),
    ColumnSpec::optional("Capacité de la station", &["capacity"]),
    ColumnSpec::optional(
        "Nombre bornettes libres",
        &[
            "num_docks_available",
            "numDocksAvailable",
            "numdocksavailable",
        ],
    ),
    ColumnSpec::required(
        "Nombre total vélos disponibles",
        &[
            "num_bikes_available",
            "numBikesAvailable",
            "numbikesavailable",
        ],
    ),
    ColumnSpec::optional("Vélos mécaniques disponibles", &["mechanical"]),
    ColumnSpec::optional("Vélos électriques disponibles", &["ebike"]),
    ColumnSpec::optional("Borne de paiement disponible", &["is_renting"]),
    ColumnSpec::optional("Retour vélib possible", &["is_returning"]),
    ColumnSpec::required("Actualisation de la donnée", &["last_reported", "duedate"]),
    ColumnSpec::optional("Coordonnées géographiques", &["coordonnees_geo"]),
    ColumnSpec::optional("Nom communes équipées", &["nom_arrondissement_communes"]),
    ColumnSpec::optional("Code INSEE communes équipées", &["code_insee_commune"]),
];

/// JSON-only fields (GBFS).
const JSON_ONLY: [&[&str]; 4] = [
    &["station_id"],
    &["num_bikes_available_types"],
    &["lat", "latitude"],
    &["lon", "longitude"],
];

/// Fields whose presence makes a JSON station record a status report.
const STATUS_FIELDS: [usize; 9] = [
    BIKES, DOCKS, INSTALLED, RENTING, RETURNING, TIME, TYPES, MECH, EBIKE,
];

/// Snapshot-level keys of a GBFS document.
const SNAPSHOT_TIME: [&str; 3] = ["lastUpdatedOther", "last_updated", "lastUpdated"];

/// One field of a row as found in the input.
#[derive(Clone, Copy)]
enum Val<'a> {
    Text(&'a str),
    Json(Option<&'a Value>),
}

impl<'a> Val<'a> {
    /// The key exists (even with a null or empty value).
    fn exists(&self) -> bool {
        match self {
            Val::Text(_) => true,
            Val::Json(v) => v.is_some(),
        }
    }

    fn text(&self) -> Cow<'a, str> {
        match *self {
            Val::Text(s) => Cow::Borrowed(s.trim()),
            Val::Json(Some(Value::String(s))) => Cow::Borrowed(s.trim()),
            Val::Json(Some(Value::Number(n))) => Cow::Owned(n.to_string()),
            Val::Json(Some(Value::Bool(b))) => Cow::Owned(b.to_string()),
            Val::Json(_) => Cow::Borrowed(""),
        }
    }

    fn shown(&self) -> String {
        match self {
            Val::Text(s) => format!("{s:?}"),
            Val::Json(Some(Value::String(s))) => format!("{s:?}"),
            Val::Json(Some(v)) => v.to_string(),
            Val::Json(None) => "missing".into(),
        }
    }
}

type Bad = (Reason, String);

/// A non-negative whole count; `Ok(None)` when empty or null.
fn count(v: Val<'_>) -> Result<Option<u32>, Bad> {
    let too_big =
        |x: &dyn std::fmt::Display| (Reason::ValueOutOfRange, format!("{x} is too large"));
    let negative =
        |x: &dyn std::fmt::Display| (Reason::ValueOutOfRange, format!("{x} is negative"));
    let from_text = |s: &str| -> Result<Option<u32>, Bad> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        if let Ok(n) = s.parse::<u64>() {
            return u32::try_from(n).map(Some).map_err(|_| too_big(&s));
        }
        match parse_scaled(s, 3) {
            Ok(Some(x)) if x < 0 => Err(negative(&s)),
            Ok(Some(x)) if x % 1000 == 0 => {
                u32::try_from(x / 1000).map(Some).map_err(|_| too_big(&s))
            }
            Ok(Some(_)) => Err((Reason::BadNumber, format!("{s:?} is not a whole number"))),
            Ok(None) => Ok(None),
            Err(_) => Err((Reason::BadNumber, format!("{s:?} is not a number"))),
        }
    };
    match v {
        Val::Text(s) => from_text(s),
        Val::Json(None) | Val::Json(Some(Value::Null)) => Ok(None),
        Val::Json(Some(Value::String(s))) => from_text(s),
        Val::Json(Some(Value::Number(n))) => {
            if let Some(u) = n.as_u64() {
                return u32::try_from(u).map(Some).map_err(|_| too_big(n));
            }
            if n.as_i64().is_some_and(|i| i < 0) {
                return Err(negative(n));
            }
            match n.as_f64().map(|x| scaled_from_f64(x, 3)) {
                Some(Ok(x)) if x < 0 => Err(negative(n)),
                Some(Ok(x)) if x % 1000 == 0 => {
                    u32::try_from(x / 1000).map(Some).map_err(|_| too_big(n))
                }
                Some(Ok(_)) => Err((Reason::BadNumber, format!("{n} is not a whole number"))),
                _ => Err((Reason::BadNumber, format!("{n} is not a number"))),
            }
        }
        Val::Json(Some(other)) => Err((Reason::BadNumber, format!("{other} is not a number"))),
    }
}

/// A yes/no flag: `OUI`/`NON`, `1`/`0`, `true`/`false`. `Ok(None)` when empty or null.
fn flag(v: Val<'_>) -> Result<Option<bool>, String> {
    match v {
        Val::Json(None) | Val::Json(Some(Value::Null)) => Ok(None),
        Val::Json(Some(Value::Bool(b))) => Ok(Some(*b)),
        _ => {
            let t = v.text().to_lowercase();
            match t.as_str() {
                "" => Ok(None),
                "oui" | "1" | "true" | "yes" | "vrai" | "o" => Ok(Some(true)),
                "non" | "0" | "false" | "no" | "faux" | "n" => Ok(Some(false)),
                _ => Err(v.shown()),
            }
        }
    }
}

const MAX_EPOCH: u64 = 4_291_747_199;

/// An instant: epoch seconds (number or digits) or an ISO-8601 text. `Ok(None)` when empty.
fn instant(v: Val<'_>) -> Result<Option<Instant>, Bad> {
    let epoch = |secs: u64| -> Result<Option<Instant>, Bad> {
        if secs <= MAX_EPOCH {
            Ok(Some(secs as Instant))
        } else {
            Err((
                Reason::DateOutOfRange,
                format!("{secs}: {}", TimeError::OutOfRange),
            ))
        }
    };
    match v {
        Val::Json(None) | Val::Json(Some(Value::Null)) => Ok(None),
        Val::Json(Some(Value::Number(n))) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => epoch(u),
            (None, Some(x)) if x.is_finite() && x >= 0.0 => epoch(x.trunc() as u64),
            _ => Err((
                Reason::DateOutOfRange,
                format!("{n}: {}", TimeError::OutOfRange),
            )),
        },
        Val::Json(Some(v @ (Value::Bool(_) | Value::Array(_) | Value::Object(_)))) => Err((
            Reason::UnparseableDate,
            format!("{v}: {}", TimeError::Unparseable),
        )),
        _ => {
            let s = v.text();
            if s.is_empty() {
                return Ok(None);
            }
            if s.bytes().all(|b| b.is_ascii_digit()) {
                return match s.parse::<u64>() {
                    Ok(u) => epoch(u),
                    Err(_) => Err((Reason::DateOutOfRange, format!("{s}: out of range"))),
                };
            }
            match parse_instant(&s) {
                Ok(t) => Ok(Some(t)),
                Err(e) => {
                    let r = if e == TimeError::OutOfRange {
                        Reason::DateOutOfRange
                    } else {
                        Reason::UnparseableDate
                    };
                    Err((r, format!("{}: {e}", v.shown())))
                }
            }
        }
    }
}

/// A station id: digits of any length (exact), or text. Empty when missing.
fn station_id(v: Val<'_>) -> Result<String, String> {
    match v {
        Val::Json(Some(Value::Number(n))) => {
            if let Some(u) = n.as_u64() {
                Ok(u.to_string())
            } else if let Some(i) = n.as_i64() {
                Ok(i.to_string())
            } else {
                match n.as_f64() {
                    Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok((x as i64).to_string()),
                    _ => Err(format!("{n} is not an id")),
                }
            }
        }
        Val::Json(Some(v @ (Value::Array(_) | Value::Object(_) | Value::Bool(_)))) => {
            Err(format!("{v} is not an id"))
        }
        _ => {
            let id = v.text();
            match crate::sources::key_problem(&id) {
                Some(e) => Err(format!("{id:?} {e}")),
                None => Ok(id.into_owned()),
            }
        }
    }
}

/// cp1252 byte of a character, for undoing double UTF-8 encoding.
fn cp1252_byte(c: char) -> Option<u8> {
    let u = c as u32;
    if u < 0x80 || (0x80..=0xFF).contains(&u) {
        return Some(u as u8);
    }
    const HIGH: [(u32, u8); 27] = [
        (0x20AC, 0x80),
        (0x201A, 0x82),
        (0x0192, 0x83),
        (0x201E, 0x84),
        (0x2026, 0x85),
        (0x2020, 0x86),
        (0x2021, 0x87),
        (0x02C6, 0x88),
        (0x2030, 0x89),
        (0x0160, 0x8A),
        (0x2039, 0x8B),
        (0x0152, 0x8C),
        (0x017D, 0x8E),
        (0x2018, 0x91),
        (0x2019, 0x92),
        (0x201C, 0x93),
        (0x201D, 0x94),
        (0x2022, 0x95),
        (0x2013, 0x96),
        (0x2014, 0x97),
        (0x02DC, 0x98),
        (0x2122, 0x99),
        (0x0161, 0x9A),
        (0x203A, 0x9B),
        (0x0153, 0x9C),
        (0x017E, 0x9E),
        (0x0178, 0x9F),
    ];
    HIGH.iter().find(|(c, _)| *c == u).map(|(_, b)| *b)
}

/// Undoes UTF-8 text decoded as cp1252 / Latin-1 and encoded again, once or several times
/// (`Stade CharlÃƒÂ©ty` -> `Stade Charléty`). None when the text does not look double-encoded.
pub fn repair_double_utf8(s: &str) -> Option<String> {
    if s.is_ascii() {
        return None;
    }
    let mut cur = s.to_string();
    for _ in 0..4 {
        let bytes: Option<Vec<u8>> = cur.chars().map(cp1252_byte).collect();
        let Some(bytes) = bytes else { break };
        match String::from_utf8(bytes) {
            Ok(u) if u != cur => cur = u,
            _ => break,
        }
    }
    (cur != s).then_some(cur)
}

/// The snapshot a row belongs to.
#[derive(Debug, Clone, Copy)]
struct Snap {
    /// Reference time for staleness.
    t: Option<Instant>,
    /// Day of the snapshot (every status row of a GBFS document; stale CSV rows).
    day: Option<NaiveDate>,
    /// Fresh rows go on the day of their own report time (CSV) rather than the snapshot's.
    own_day: bool,
    /// Day and time of the information records.
    info_day: Option<NaiveDate>,
    info_t: Option<Instant>,
}

impl Snap {
    /// The snapshot of rows that carry their own report time (a CSV export, loose GBFS records):
    /// `newest` is the latest of them; information records are of the file's partition day.
    fn own_days(newest: Option<Instant>, partition: Option<NaiveDate>) -> Snap {
        Snap {
            t: newest,
            day: newest.map(paris_day),
            own_day: true,
            info_day: partition,
            info_t: None,
        }
    }
}

struct Reader<'a> {
    file: &'a str,
    sel: &'a DaySelection,
    q: &'a mut QualityAcc,
    acc: VelibAcc,
    json: bool,
    /// A warning about the current row, emitted once the row is counted on its day.
    pending: Option<String>,
}

fn field_name(i: usize, json: bool) -> &'static str {
    if i >= COLUMNS.len() {
        return JSON_ONLY[i - COLUMNS.len()][0];
    }
    if json {
        COLUMNS[i]
            .aliases
            .first()
            .copied()
            .unwrap_or(COLUMNS[i].name)
    } else {
        COLUMNS[i].name
    }
}

impl Reader<'_> {
    fn reject(&mut self, day: Option<NaiveDate>, line: u64, who: &str, bad: Bad, field: usize) {
        let detail = format!("{who}field `{}`: {}", field_name(field, self.json), bad.1);
        self.q.problem(SOURCE, day, self.file, line, bad.0, detail);
    }

    fn problem(&mut self, day: Option<NaiveDate>, line: u64, who: &str, r: Reason, d: String) {
        let detail = format!("{who}{d}");
        self.q.problem(SOURCE, day, self.file, line, r, detail);
    }

    /// Counts the current row on `day`, with its pending warning.
    fn count_row(&mut self, day: Option<NaiveDate>, line: u64) {
        self.q.row(SOURCE, day, self.file);
        if let Some(d) = self.pending.take() {
            self.q
                .problem(SOURCE, day, self.file, line, Reason::InvalidUtf8Text, d);
        }
    }

    /// A name or commune, repaired when double-encoded (counted in the categories).
    fn text(&mut self, day: Option<NaiveDate>, v: Val<'_>) -> Option<String> {
        let t = v.text();
        if t.is_empty() {
            return None;
        }
        match repair_double_utf8(&t) {
            Some(fixed) => {
                self.q
                    .category(SOURCE, day, "texte: double encodage UTF-8 réparé");
                Some(fixed)
            }
            None => Some(t.into_owned()),
        }
    }

    /// The station key: GBFS `station_id`, else the station code.
    fn key<'v>(&self, get: &dyn Fn(usize) -> Val<'v>) -> Result<StationKey, String> {
        let gbfs = station_id(get(STATION_ID))?;
        if !gbfs.is_empty() {
            return Ok(StationKey::Gbfs(StationId(gbfs)));
        }
        let code = station_id(get(CODE))?;
        if !code.is_empty() {
            return Ok(StationKey::Code(StationId(code)));
        }
        Err(format!(
            "no station id (`{}` is empty)",
            if self.json {
                "station_id"
            } else {
                COLUMNS[CODE].name
            }
        ))
    }

    /// The point: `lat`/`lon` fields, else `Coordonnées géographiques` (`"lat, lon"` or
    /// `{lon, lat}`). Err: a warning.
    fn point<'v>(get: &dyn Fn(usize) -> Val<'v>) -> Result<Option<[i64; 2]>, String> {
        let pt = match (get(LAT), get(LON)) {
            (Val::Json(Some(la)), Val::Json(Some(lo))) if !la.is_null() || !lo.is_null() => {
                let num = |v: &Value| -> Option<f64> {
                    match v {
                        Value::Number(n) => n.as_f64(),
                        Value::String(s) => s.trim().parse().ok(),
                        _ => None,
                    }
                };
                match (num(la), num(lo)) {
                    (Some(lat), Some(lon)) if lat.is_finite() && lon.is_finite() => {
                        crate::geo::check_lon_lat(lon, lat)?;
                        Some([lon, lat])
                    }
                    _ => return Err(format!("point lat {la}, lon {lo} is not numeric")),
                }
            }
            _ => match get(POINT) {
                Val::Text(s) if s.trim().is_empty() => None,
                Val::Text(s) => Some(crate::geo::parse_lat_lon(s)?),
                Val::Json(v) => json_point(v)?,
            },
        };
        let Some([lon, lat]) = pt else {
            return Ok(None);
        };
        let scale = |x: f64| {
            scaled_from_f64(x, POINT_DIGITS).map_err(|_| format!("point {lat}, {lon} is invalid"))
        };
        Ok(Some([scale(lon)?, scale(lat)?]))
    }

    /// One station record (a CSV row, or one element of a GBFS `data.stations`).
    fn station<'v>(
        &mut self,
        line: u64,
        get: &dyn Fn(usize) -> Val<'v>,
        snap: &Snap,
        status_row: bool,
    ) {
        let who = if self.json {
            let id = station_id(get(STATION_ID))
                .ok()
                .filter(|s| !s.is_empty())
                .or_else(|| station_id(get(CODE)).ok().filter(|s| !s.is_empty()));
            match id {
                Some(id) => format!("station {id}: "),
                None => String::new(),
            }
        } else {
            String::new()
        };
        let is_status = status_row || STATUS_FIELDS.iter().any(|&i| get(i).exists());
        if is_status {
            self.status(line, get, snap, &who);
        } else if snap.info_day.is_some_and(|d| !self.sel.contains(d)) {
            // Information of a day that is not processed is still joined to the processed days'
            // status (a station list fetched once a week), but counted in no quality report
            // (its file is not listed as undated either).
            let mut scratch = QualityAcc::default();
            std::mem::swap(self.q, &mut scratch);
            self.information(line, get, snap, &who);
            std::mem::swap(self.q, &mut scratch);
            self.q.joined_from_elsewhere(SOURCE);
        } else {
            self.information(line, get, snap, &who);
        }
    }

    fn status<'v>(&mut self, line: u64, get: &dyn Fn(usize) -> Val<'v>, snap: &Snap, who: &str) {
        let Some((t, day, stale, no_time)) = self.status_time(line, get, snap, who) else {
            return;
        };
        if !self.sel.contains(day) {
            self.q.outside(SOURCE, 1);
            return;
        }
        let d = Some(day);
        self.count_row(d, line);
        let Some(key) = self.key_or_reject(d, line, get, who) else {
            return;
        };
        if no_time {
            self.q.missing(SOURCE, d, "last_reported");
        }
        let Some((status, capacity)) = self.status_fields(d, line, get, who) else {
            return;
        };
        let point = self.point_or_warn(d, line, get, who);
        let fixed = self.fixed(d, get, capacity, point);
        self.note_status(d, &key, &status, &fixed, stale);
        let report = Report {
            snapshot: snap.t.unwrap_or(t),
            stale,
            status,
            fixed,
        };
        self.acc.add_report(day, key, t, report);
    }

    /// A status row's report time, day, staleness and whether the time was missing (the
    /// snapshot's is used). None: the row is outside the selection, or counted and rejected.
    fn status_time<'v>(
        &mut self,
        line: u64,
        get: &dyn Fn(usize) -> Val<'v>,
        snap: &Snap,
        who: &str,
    ) -> Option<(Instant, NaiveDate, bool, bool)> {
        let t = match instant(get(TIME)) {
            Ok(t) => t,
            Err(bad) => {
                self.reject_time(line, snap, who, bad);
                return None;
            }
        };
        let no_time = t.is_none();
        let (t, day, stale) = match (t, snap.t) {
            (Some(t), reference) => {
                let stale = reference.is_some_and(|r| r > t.saturating_add(STALE_AFTER_S));
                let day = match snap.day {
                    Some(d) if stale || !snap.own_day => d,
                    _ => paris_day(t),
                };
                (t, day, stale)
            }
            // No report time of its own: the snapshot's (GBFS), counted as missing.
            (None, Some(reference)) if !snap.own_day => {
                let day = snap.day.unwrap_or_else(|| paris_day(reference));
                (reference, day, false)
            }
            (None, _) => {
                let detail = if snap.own_day {
                    "empty"
                } else {
                    "empty, and the snapshot has no time"
                };
                let bad = (Reason::UnparseableDate, detail.to_string());
                self.reject_time(line, snap, who, bad);
                return None;
            }
        };
        Some((t, day, stale, no_time))
    }

    /// Counts and rejects a status row whose time is unusable, on the snapshot's day when the
    /// rows take it (unless that day is not processed).
    fn reject_time(&mut self, line: u64, snap: &Snap, who: &str, bad: Bad) {
        let day = if snap.own_day { None } else { snap.day };
        if day.is_some_and(|d| !self.sel.contains(d)) {
            self.q.outside(SOURCE, 1);
            return;
        }
        self.count_row(day, line);
        self.reject(day, line, who, bad, TIME);
    }

    /// The station key, or a rejection.
    fn key_or_reject<'v>(
        &mut self,
        d: Option<NaiveDate>,
        line: u64,
        get: &dyn Fn(usize) -> Val<'v>,
        who: &str,
    ) -> Option<StationKey> {
        match self.key(get) {
            Ok(k) => Some(k),
            Err(e) => {
                self.problem(d, line, who, Reason::MissingKey, e);
                None
            }
        }
    }

    /// The point, or None with a warning when it is unreadable.
    fn point_or_warn<'v>(
        &mut self,
        d: Option<NaiveDate>,
        line: u64,
        get: &dyn Fn(usize) -> Val<'v>,
        who: &str,
    ) -> Option<[i64; 2]> {
        match Self::point(get) {
            Ok(p) => p,
            Err(e) => {
                self.problem(d, line, who, Reason::BadPoint, e);
                None
            }
        }
    }

    /// What describes the station, from the row's own fields.
    fn fixed<'v>(
        &mut self,
        d: Option<NaiveDate>,
        get: &dyn Fn(usize) -> Val<'v>,
        capacity: Option<u32>,
        point: Option<[i64; 2]>,
    ) -> Static {
        Static {
            code: station_id(get(CODE)).ok().filter(|c| !c.is_empty()),
            name: self.text(d, get(NAME)),
            capacity,
            point,
            commune: self.text(d, get(COMMUNE)),
            insee: Some(get(INSEE).text().into_owned()).filter(|s| !s.is_empty()),
        }
    }

    /// A status row's availability (counts, bike types, flags) and the station capacity.
    /// None: a count is unreadable (the row is rejected).
    fn status_fields<'v>(
        &mut self,
        d: Option<NaiveDate>,
        line: u64,
        get: &dyn Fn(usize) -> Val<'v>,
        who: &str,
    ) -> Option<(Status, Option<u32>)> {
        let mut nums = [None; 5];
        for (slot, i) in nums.iter_mut().zip([BIKES, DOCKS, MECH, EBIKE, CAPACITY]) {
            match count(get(i)) {
                Ok(v) => *slot = v,
                Err(bad) => {
                    self.reject(d, line, who, bad, i);
                    return None;
                }
            }
        }
        let [bikes, docks, mut mechanical, mut ebike, capacity] = nums;
        if !get(MECH).exists() && !get(EBIKE).exists() {
            match bike_types(get(TYPES)) {
                Ok((m, e, unknown)) => {
                    (mechanical, ebike) = (m, e);
                    for u in unknown {
                        let detail = format!(
                            "field `num_bikes_available_types`: unknown bike type {u:?}, not counted"
                        );
                        self.problem(d, line, who, Reason::UnknownState, detail);
                    }
                }
                Err(bad) => {
                    self.reject(d, line, who, bad, TYPES);
                    return None;
                }
            }
        }
        let mut flags = [None; 3];
        for (slot, i) in flags.iter_mut().zip([INSTALLED, RENTING, RETURNING]) {
            match flag(get(i)) {
                Ok(v) => *slot = v,
                Err(shown) => {
                    let detail = format!(
                        "field `{}`: unknown value {shown}, counted as not given",
                        field_name(i, self.json)
                    );
                    self.problem(d, line, who, Reason::UnknownState, detail);
                }
            }
        }
        let status = Status {
            installed: flags[0],
            renting: flags[1],
            returning: flags[2],
            bikes,
            mechanical,
            ebike,
            docks,
        };
        Some((status, capacity))
    }

    /// The quality counters of a status row: missing fields, inconsistent counts, state.
    fn note_status(
        &mut self,
        d: Option<NaiveDate>,
        key: &StationKey,
        status: &Status,
        fixed: &Static,
        stale: bool,
    ) {
        for (missing, name) in [
            (status.bikes.is_none(), "velos_disponibles"),
            (status.docks.is_none(), "bornettes_libres"),
            (status.mechanical.is_none(), "velos_mecaniques"),
            (status.ebike.is_none(), "velos_electriques"),
            (status.installed.is_none(), "station_installee"),
            (status.renting.is_none(), "station_en_location"),
        ] {
            if missing {
                self.q.missing(SOURCE, d, name);
            }
        }
        // CSV rows describe their station themselves; GBFS status rows get it from the join.
        if matches!(key, StationKey::Code(_)) {
            if fixed.capacity.is_none() {
                self.q.missing(SOURCE, d, "capacite");
            }
            if fixed.point.is_none() {
                self.q.missing(SOURCE, d, "coordonnees");
            }
        }
        if let (Some(b), Some(m), Some(e)) = (status.bikes, status.mechanical, status.ebike) {
            if u64::from(b) != u64::from(m) + u64::from(e) {
                self.q.category(
                    SOURCE,
                    d,
                    "incohérent: vélos disponibles != mécaniques + électriques",
                );
            }
        }
        let state = if stale {
            "etat: obsolete (dernier rapport > 24 h)"
        } else if status.in_service() {
            "etat: en service"
        } else {
            "etat: hors service"
        };
        self.q.category(SOURCE, d, state);
    }

    /// A station information record (GBFS `station_information`).
    fn information<'v>(
        &mut self,
        line: u64,
        get: &dyn Fn(usize) -> Val<'v>,
        snap: &Snap,
        who: &str,
    ) {
        let d = snap.info_day;
        self.count_row(d, line);
        let Some(key) = self.key_or_reject(d, line, get, who) else {
            return;
        };
        let capacity = match count(get(CAPACITY)) {
            Ok(c) => c,
            Err(bad) => {
                self.reject(d, line, who, bad, CAPACITY);
                return;
            }
        };
        let point = self.point_or_warn(d, line, get, who);
        if capacity.is_none() {
            self.q.missing(SOURCE, d, "capacite");
        }
        if point.is_none() {
            self.q.missing(SOURCE, d, "coordonnees");
        }
        let info = self.fixed(d, get, capacity, point);
        self.acc.add_info(key, d, snap.info_t, info);
    }
}

/// (mechanical, ebike, unknown type names).
type BikeTypes = (Option<u32>, Option<u32>, Vec<String>);

/// Vélib's `num_bikes_available_types`: `[{"mechanical": n}, {"ebike": m}]` (or one object).
/// Returns (mechanical, ebike, unknown type names).
fn bike_types(v: Val<'_>) -> Result<BikeTypes, Bad> {
    let mut out = (None, None, Vec::new());
    let objects: Vec<&Map<String, Value>> = match v {
        Val::Json(None) | Val::Json(Some(Value::Null)) | Val::Text(_) => return Ok(out),
        Val::Json(Some(Value::Object(o))) => vec![o],
        Val::Json(Some(Value::Array(a))) => {
            let mut objs = Vec::with_capacity(a.len());
            for item in a {
                match item {
                    Value::Object(o) => objs.push(o),
                    other => {
                        return Err((
                            Reason::BadNumber,
                            format!("element {other} is not a {{type: count}} object"),
                        ))
                    }
                }
            }
            objs
        }
        Val::Json(Some(other)) => {
            return Err((
                Reason::BadNumber,
                format!("{other} is not a list of {{type: count}}"),
            ))
        }
    };
    for o in objects {
        for (k, v) in o {
            let n = count(Val::Json(Some(v))).map_err(|(r, d)| (r, format!("`{k}`: {d}")))?;
            let slot = match k.to_ascii_lowercase().as_str() {
                "mechanical" | "mecanique" => &mut out.0,
                "ebike" | "electric" | "electrique" => &mut out.1,
                _ => {
                    out.2.push(k.clone());
                    continue;
                }
            };
            if let Some(n) = n {
                *slot = Some(slot.unwrap_or(0).saturating_add(n));
            }
        }
    }
    Ok(out)
}

/// Reads one file. Never fails: every problem is counted in `q`.
pub fn read_file(f: &InputFile, sel: &DaySelection, q: &mut QualityAcc) -> VelibAcc {
    let mut r = Reader {
        file: &f.rel,
        sel,
        q,
        acc: VelibAcc::default(),
        json: f.format == Format::Json,
        pending: None,
    };
    match f.format {
        Format::Csv => read_csv(f, &mut r),
        Format::Json => read_json_file(f, &mut r),
    }
    r.acc
}

fn read_csv(f: &InputFile, r: &mut Reader<'_>) {
    let mut input = match open_csv(&f.path) {
        Ok(i) => i,
        Err(e) => {
            r.q.file_failed(SOURCE, r.file, e.line, e.reason, e.detail, 0);
            return;
        }
    };
    let mut records = Vec::new();
    let mut read_error = None;
    loop {
        let mut rec = csv::ByteRecord::new();
        match input.reader.read_byte_record(&mut rec) {
            Ok(true) => {
                let line = input.lines.line_of(rec.position());
                records.push((rec, line));
            }
            Ok(false) => break,
            Err(e) => {
                let line = input.lines.line_of(e.position());
                read_error = Some((line, e.to_string()));
                break;
            }
        }
    }
    let cols = match resolve_columns(&input.header, &COLUMNS) {
        Ok(c) => c,
        Err(missing) => {
            let detail = missing_columns_detail(&missing, &input.header);
            let rows = records.len() as u64;
            r.q.file_failed(SOURCE, r.file, 1, Reason::MissingColumn, detail, rows);
            return;
        }
    };
    if input.header_only {
        let detail = crate::input::HEADER_ONLY.to_string();
        r.q.file_failed(SOURCE, r.file, 1, Reason::EmptyFile, detail, 0);
        return;
    }
    let width = input.header.len();
    fn raw<'r>(cols: &[Option<usize>], rec: &'r csv::ByteRecord, i: usize) -> Option<&'r [u8]> {
        cols.get(i).copied().flatten().and_then(|c| rec.get(c))
    }
    // The snapshot: the newest update time of the file.
    let newest = records
        .iter()
        .filter(|(rec, _)| rec.len() == width)
        .filter_map(|(rec, _)| std::str::from_utf8(raw(&cols, rec, TIME)?).ok())
        .filter_map(|s| instant(Val::Text(s)).ok().flatten())
        .max();
    let snap = Snap::own_days(newest, f.partition_date);
    for (rec, line) in &records {
        let (rec, line) = (rec, *line);
        if rec.len() != width {
            r.q.row(SOURCE, None, r.file);
            let detail = crate::input::wrong_width_detail(width, rec.len());
            r.q.problem(SOURCE, None, r.file, line, Reason::WrongColumnCount, detail);
            continue;
        }
        let mut fields: Vec<Cow<'_, str>> = Vec::with_capacity(COLUMNS.len());
        let mut bad_text = None;
        let mut bad_key = None;
        for (i, col) in COLUMNS.iter().enumerate() {
            let b = raw(&cols, rec, i).unwrap_or(b"");
            match std::str::from_utf8(b) {
                Ok(s) => fields.push(Cow::Borrowed(s)),
                Err(_) if matches!(i, NAME | COMMUNE) => {
                    bad_text.get_or_insert(col.name);
                    fields.push(String::from_utf8_lossy(b));
                }
                Err(_) => {
                    bad_key.get_or_insert(col.name);
                    fields.push(Cow::Borrowed(""));
                }
            }
        }
        if let Some(name) = bad_key {
            r.q.row(SOURCE, None, r.file);
            let detail = format!("field `{name}` is not valid UTF-8");
            r.q.problem(SOURCE, None, r.file, line, Reason::InvalidUtf8, detail);
            continue;
        }
        let get = |i: usize| -> Val<'_> {
            match fields.get(i) {
                Some(s) if cols[i].is_some() => Val::Text(s),
                // a column the file does not have; JSON-only fields
                _ => Val::Json(None),
            }
        };
        r.pending = bad_text.map(|name| {
            format!("field `{name}` is not valid UTF-8 (kept with replacement characters)")
        });
        r.station(line, &get, &snap, true);
        r.pending = None;
    }
    if let Some((line, e)) = read_error {
        r.q.row(SOURCE, None, r.file)
            .problem(line, Reason::ReadError, e);
    }
}

/// The JSON names of every field (canonical name then aliases), exact and normalised.
struct Names {
    exact: Vec<Vec<&'static str>>,
    normed: Vec<Vec<String>>,
}

impl Names {
    fn new() -> Names {
        let exact: Vec<Vec<&'static str>> = COLUMNS
            .iter()
            .map(ColumnSpec::names)
            .chain(JSON_ONLY.iter().map(|n| n.to_vec()))
            .collect();
        let normed = exact
            .iter()
            .map(|ns| ns.iter().map(|n| norm_header(n)).collect())
            .collect();
        Names { exact, normed }
    }
}

/// A JSON station record with its keys normalised once (what [`json_field`] does per lookup).
struct JsonRec<'a> {
    o: &'a Map<String, Value>,
    normed: Vec<(String, &'a Value)>,
    names: &'a Names,
}

impl<'a> JsonRec<'a> {
    fn new(o: &'a Map<String, Value>, names: &'a Names) -> JsonRec<'a> {
        let normed = o.iter().map(|(k, v)| (norm_header(k), v)).collect();
        JsonRec { o, normed, names }
    }

    /// Field `i` by its exact names first, then normalised (`numBikesAvailable`, `Capacité`...).
    fn get(&self, i: usize) -> Val<'a> {
        let exact = self.names.exact[i].iter().find_map(|n| self.o.get(*n));
        Val::Json(exact.or_else(|| {
            let wanted = &self.names.normed[i];
            self.normed
                .iter()
                .find(|(k, _)| wanted.contains(k))
                .map(|(_, v)| *v)
        }))
    }
}

fn read_json_file(f: &InputFile, r: &mut Reader<'_>) {
    let items = match read_json(&f.path) {
        Ok(items) => items,
        Err(e) => {
            r.q.file_failed(SOURCE, r.file, e.line, e.reason, e.detail, 0);
            return;
        }
    };
    let names = Names::new();
    // Station records that are not inside a GBFS document: one snapshot together.
    let mut loose: Vec<(u64, Map<String, Value>)> = Vec::new();
    for item in items {
        let Some((line, value)) = item.into_record(r.q, SOURCE, r.file) else {
            continue;
        };
        let Value::Object(mut o) = value else {
            continue;
        };
        let stations = match o.get_mut("data").and_then(|d| d.get_mut("stations")) {
            Some(s) => Some(s.take()),
            None => o.get_mut("stations").map(Value::take),
        };
        match stations {
            Some(Value::Array(stations)) => gbfs_document(f, r, line, &o, stations, &names),
            Some(other) => {
                r.q.row(SOURCE, None, r.file);
                let detail = format!("`data.stations` is not an array: {}", short(&other));
                r.q.problem(SOURCE, None, r.file, line, Reason::NotARecord, detail);
            }
            None => {
                let looks_like_station = ["station_id", "stationcode", "stationCode"]
                    .iter()
                    .any(|k| o.contains_key(*k))
                    || json_field(&o, &names.exact[CODE]).is_some();
                if looks_like_station {
                    loose.push((line, o));
                } else {
                    r.q.row(SOURCE, None, r.file);
                    let keys: Vec<&str> = o.keys().map(String::as_str).take(8).collect();
                    let detail = format!(
                        "neither a GBFS document (`data.stations`) nor a station record (keys: {})",
                        keys.join(", ")
                    );
                    r.q.problem(SOURCE, None, r.file, line, Reason::NotARecord, detail);
                }
            }
        }
    }
    if !loose.is_empty() {
        let newest = loose
            .iter()
            .filter_map(|(_, o)| {
                instant(Val::Json(json_field(o, &names.exact[TIME])))
                    .ok()
                    .flatten()
            })
            .max();
        let snap = Snap::own_days(newest, f.partition_date);
        for (line, o) in &loose {
            let rec = JsonRec::new(o, &names);
            r.station(*line, &|i| rec.get(i), &snap, false);
        }
    }
}

fn gbfs_document(
    f: &InputFile,
    r: &mut Reader<'_>,
    line: u64,
    doc: &Map<String, Value>,
    stations: Vec<Value>,
    names: &Names,
) {
    let updated = match json_field(doc, &SNAPSHOT_TIME) {
        None => None,
        Some(v) => match instant(Val::Json(Some(v))) {
            Ok(t) => t,
            Err((reason, detail)) => {
                let detail = format!("field `lastUpdatedOther`: {detail}: the snapshot has no day");
                let rows = stations.len() as u64;
                r.q.file_failed(SOURCE, r.file, line, reason, detail, rows);
                return;
            }
        },
    };
    let newest = stations
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|o| {
            instant(Val::Json(json_field(o, &names.exact[TIME])))
                .ok()
                .flatten()
        })
        .max();
    let snap = Snap {
        t: updated.or(newest),
        day: updated
            .map(paris_day)
            .or(f.partition_date)
            .or(newest.map(paris_day)),
        own_day: false,
        info_day: updated.map(paris_day).or(f.partition_date),
        info_t: updated,
    };
    for (i, s) in stations.iter().enumerate() {
        match s {
            Value::Object(o) => {
                let rec = JsonRec::new(o, names);
                r.station(line, &|i| rec.get(i), &snap, false);
            }
            other => {
                let day = snap.day.filter(|d| r.sel.contains(*d));
                if snap.day.is_some() && day.is_none() {
                    r.q.outside(SOURCE, 1);
                    continue;
                }
                r.q.row(SOURCE, day, r.file);
                let detail = format!("`data.stations[{i}]` is not an object: {}", short(other));
                r.q.problem(SOURCE, day, r.file, line, Reason::NotARecord, detail);
            }
        }
    }
}

/// A JSON value shown in a message, cut to 60 characters.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn j(v: &Value) -> Val<'_> {
        Val::Json(Some(v))
    }

    #[test]
    fn counts_are_whole_and_non_negative() {
        assert_eq!(count(Val::Text(" 12 ")), Ok(Some(12)));
        assert_eq!(count(Val::Text("")), Ok(None));
        assert_eq!(count(Val::Text("3.0")), Ok(Some(3)));
        assert_eq!(count(j(&json!(7))), Ok(Some(7)));
        assert_eq!(count(j(&json!(7.0))), Ok(Some(7)));
        assert_eq!(count(j(&json!("7"))), Ok(Some(7)));
        assert_eq!(count(j(&Value::Null)), Ok(None));
        assert_eq!(count(Val::Json(None)), Ok(None));
        assert_eq!(count(Val::Text("abc")).unwrap_err().0, Reason::BadNumber);
        assert_eq!(count(Val::Text("2.5")).unwrap_err().0, Reason::BadNumber);
        assert_eq!(count(j(&json!(-1))).unwrap_err().0, Reason::ValueOutOfRange);
        assert_eq!(
            count(Val::Text("-1")).unwrap_err().0,
            Reason::ValueOutOfRange
        );
        assert_eq!(
            count(j(&json!(5_000_000_000u64))).unwrap_err().0,
            Reason::ValueOutOfRange
        );
        assert_eq!(count(j(&json!([1]))).unwrap_err().0, Reason::BadNumber);
    }

    #[test]
    fn flags_in_french_and_gbfs() {
        assert_eq!(flag(Val::Text("OUI")), Ok(Some(true)));
        assert_eq!(flag(Val::Text("NON")), Ok(Some(false)));
        assert_eq!(flag(j(&json!(1))), Ok(Some(true)));
        assert_eq!(flag(j(&json!(0))), Ok(Some(false)));
        assert_eq!(flag(j(&json!(true))), Ok(Some(true)));
        assert_eq!(flag(j(&json!("false"))), Ok(Some(false)));
        assert_eq!(flag(Val::Text("")), Ok(None));
        assert_eq!(flag(j(&Value::Null)), Ok(None));
        assert_eq!(flag(Val::Text("peut-être")), Err("\"peut-être\"".into()));
        assert_eq!(flag(j(&json!(2))), Err("2".into()));
    }

    #[test]
    fn instants_from_epochs_and_iso_texts() {
        // 1732004538 = 2024-11-19T08:22:18Z
        assert_eq!(instant(j(&json!(1_732_004_538))), Ok(Some(1_732_004_538)));
        assert_eq!(instant(j(&json!("1732004538"))), Ok(Some(1_732_004_538)));
        assert_eq!(
            instant(Val::Text("2024-11-19T09:22:18+01:00")),
            Ok(Some(1_732_004_538))
        );
        assert_eq!(instant(Val::Text(" ")), Ok(None));
        assert_eq!(
            instant(Val::Text("19/11/2024")).unwrap_err().0,
            Reason::UnparseableDate
        );
        assert_eq!(
            instant(j(&json!(-5))).unwrap_err().0,
            Reason::DateOutOfRange
        );
        assert_eq!(
            instant(j(&json!(99_999_999_999u64))).unwrap_err().0,
            Reason::DateOutOfRange
        );
    }

    #[test]
    fn station_ids_stay_exact() {
        // 19335882998 > 2^31 (real Vélib id); 2^63 + 1 does not fit an i64
        assert_eq!(
            station_id(j(&json!(19_335_882_998u64))).unwrap(),
            "19335882998"
        );
        assert_eq!(
            station_id(j(&json!(9_223_372_036_854_775_809u64))).unwrap(),
            "9223372036854775809"
        );
        assert_eq!(station_id(j(&json!(" 16107 "))).unwrap(), "16107");
        assert_eq!(station_id(j(&json!(16107.0))).unwrap(), "16107");
        assert_eq!(station_id(Val::Json(None)).unwrap(), "");
        assert!(station_id(j(&json!({"a": 1}))).is_err());
        // binary garbage and glued files do not make up stations
        assert!(station_id(j(&json!("16\u{0}107"))).is_err());
        assert!(station_id(Val::Text("\u{feff}16107")).is_err());
    }

    #[test]
    fn double_encoded_names_are_repaired() {
        // "é" = C3 A9, read as cp1252 "Ã©" = C3 83 C2 A9, read again "ÃƒÂ©"
        assert_eq!(
            repair_double_utf8("Jourdan - Stade CharlÃƒÂ©ty").as_deref(),
            Some("Jourdan - Stade Charléty")
        );
        assert_eq!(repair_double_utf8("HÃ´pital").as_deref(), Some("Hôpital"));
        assert_eq!(repair_double_utf8("Hôpital Mondor"), None);
        assert_eq!(repair_double_utf8("Créteil – Œuvre"), None);
        assert_eq!(repair_double_utf8("Basilique"), None);
    }

    #[test]
    fn bike_types_as_velib_writes_them() {
        let v = json!([{"mechanical": 3}, {"ebike": 1}]);
        assert_eq!(bike_types(j(&v)), Ok((Some(3), Some(1), vec![])));
        let v = json!({"mechanical": 0, "ebike": 2, "cargo": 1});
        assert_eq!(
            bike_types(j(&v)),
            Ok((Some(0), Some(2), vec!["cargo".to_string()]))
        );
        assert_eq!(bike_types(Val::Json(None)), Ok((None, None, vec![])));
        let v = json!([{"mechanical": null}, {"ebike": 4}]);
        assert_eq!(bike_types(j(&v)), Ok((None, Some(4), vec![])));
        assert_eq!(
            bike_types(j(&json!([3, 1]))).unwrap_err().0,
            Reason::BadNumber
        );
        assert_eq!(
            bike_types(j(&json!([{"ebike": "x"}]))).unwrap_err().0,
            Reason::BadNumber
        );
    }
}
