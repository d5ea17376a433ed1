//! Weather files -> [`WeatherAcc`]. Accepted inputs (JSON: one record per document, arrays spread):
//!
//! - **Visual Crossing** timeline (`{resolvedAddress, timezone, days: [{datetime, tempmax, tempmin,
//!   temp, precip, windspeed, conditions, hours}], currentConditions}`, `unitGroup=metric`: °C, mm,
//!   km/h; the response carries no unit, so metric is assumed). A bare day object (`datetime` +
//!   `tempmax`/`temp`) is read too. Each `days[]` element is one row; its `hours[]` and
//!   `currentConditions` (a snapshot, not a day) are not used.
//! - **OpenWeatherMap One Call** (`daily[]`, `hourly[]`; `current`, `minutely`, `alerts` not used).
//!   `dt` is a UTC epoch; the day is its Paris date. Daily: `temp {min, max, morn, day, eve,
//!   night}`: the mean is the mean of morn/day/eve/night when all four are given (else the
//!   midpoint rule below); `rain` + `snow` (mm; absent = 0, as OWM omits them on dry days);
//!   `wind_speed` in m/s (× 3.6); `weather[0].main` as `conditions`. Hourly: `temp`, `wind_speed`,
//!   `rain {1h}` + `snow {1h}`. Units: `units=metric` is assumed (°C, m/s); a temperature above
//!   150 can only be Kelvin (`units=standard`) and is converted.
//! - **Open-Meteo** JSON: columnar `daily {time[], temperature_2m_max[], temperature_2m_min[],
//!   temperature_2m_mean[], precipitation_sum[], wind_speed_10m_max[], weather_code[]}` and/or
//!   `hourly {time[], temperature_2m[], precipitation[], wind_speed_10m[], weather_code[]}`, units
//!   from `daily_units` / `hourly_units` (°C/°F, mm/inch, km/h, m/s, mph, kn). Each index of
//!   `time` is one row. Daily `time` is the day as labelled; hourly times are local times at the
//!   response's single `utc_offset_seconds` (Open-Meteo applies the offset valid at request time
//!   to the whole series, open-meteo/open-meteo#261), else in its `timezone`, else Paris;
//!   `timeformat=unixtime` is read too.
//! - **Open-Meteo CSV export**: metadata lines (`latitude,longitude,...` + values), a blank line,
//!   then one or more sections, each a header starting with `time` whose names carry units
//!   (`temperature_2m_max (°C)`) and its rows; a section is daily when a column is a daily
//!   aggregate (`_max`, `_min`, `_mean`, `_sum`), else hourly. BOM, CRLF, `;` and Latin-1 are
//!   accepted.
//!
//! Per row: a bad date or number, an unknown unit, a value out of range (temperature outside
//! -90..60 °C, negative precipitation or wind), `tempmin > tempmax` (Inconsistent) or a row
//! with no value at all is rejected with its reason; a null is a missing value (counted in
//! `missing_values`, its categories undecided). A missing daily mean becomes (min+max)/2
//! (missing `temp_moyenne` counted); a mean outside [min, max] becomes the midpoint (a
//! `corrected` warning with its sample). The kind of
//! each row read is counted in the quality `categories`.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde_json::{Map, Value};

use crate::discover::{Format, InputFile};
use crate::fixed::{parse_scaled, scaled_from_f64, NumError};
use crate::input::{norm_header, read_json, sniff_delimiter, JsonItem};
use crate::metrics::weather::{
    div_round, DailyEntry, DayValues, HourRow, Kind, Mean, Origin, WeatherAcc, DIGITS, SCALE,
};
use crate::quality::{QualityAcc, Reason};
use crate::sources::{json_text, DaySelection};
use crate::time::{paris_day, parse_instant, Instant, TimeError};

pub const SOURCE: &str = "weather";

/// Weather, as a dataset of the pipeline.
pub struct Weather;

impl super::dataset::Dataset for Weather {
    const FILES: crate::discover::FileKind = crate::discover::FileKind {
        name: SOURCE,
        api: &["weather", "meteo"],
        batch: &[
            "meteo",
            "weather",
            "open-meteo",
            "openmeteo",
            "owm",
            "openweathermap",
            "visualcrossing",
        ],
    };
    super::dataset::accumulator_dataset!(weather, WeatherAcc, WeatherMetrics);
}

/// Latest instant stored (2105-12-31T23:59:59Z), as in [`crate::time`].
const MAX_INSTANT: i64 = 4_291_747_199;

/// Reads one file. Never fails: every problem is counted in `q`.
pub fn read_file(f: &InputFile, sel: &DaySelection, q: &mut QualityAcc) -> WeatherAcc {
    let mut r = Reader {
        file: Arc::from(f.rel.as_str()),
        partition: f.partition_date,
        sel,
        q,
        acc: WeatherAcc::default(),
    };
    match f.format {
        Format::Json => r.json_file(f),
        Format::Csv => r.csv_file(f),
    }
    r.acc
}

// ---------------------------------------------------------------------------------------------
// Values and units

/// A value as found in the input.
#[derive(Clone, Copy)]
enum Cell<'a> {
    Json(Option<&'a Value>),
    Text(&'a str),
}

impl Cell<'_> {
    fn shown(&self) -> String {
        match self {
            Cell::Json(None) => "missing".into(),
            Cell::Json(Some(Value::String(s))) => format!("{s:?}"),
            Cell::Text(s) => format!("{s:?}"),
            Cell::Json(Some(v)) => v.to_string(),
        }
    }

    fn text(&self) -> Cow<'_, str> {
        match self {
            Cell::Json(v) => json_text(*v),
            Cell::Text(s) => Cow::Borrowed(s.trim()),
        }
    }
}

/// A number scaled by 10⁴, None when null / missing / empty.
fn number(c: Cell<'_>) -> Result<Option<i64>, NumError> {
    match c {
        Cell::Json(None) | Cell::Json(Some(Value::Null)) => Ok(None),
        Cell::Json(Some(Value::Number(n))) => match n.as_f64() {
            Some(x) => scaled_from_f64(x, DIGITS).map(Some),
            None => Err(NumError::Invalid),
        },
        Cell::Json(Some(Value::String(s))) => parse_scaled(s, DIGITS),
        Cell::Text(s) => parse_scaled(s, DIGITS),
        Cell::Json(Some(_)) => Err(NumError::Invalid),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dim {
    Temp,
    Precip,
    Wind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Celsius,
    Fahrenheit,
    Kelvin,
    Mm,
    Inch,
    Kmh,
    Ms,
    Mph,
    Knots,
}

impl Dim {
    fn metric(self) -> Unit {
        match self {
            Dim::Temp => Unit::Celsius,
            Dim::Precip => Unit::Mm,
            Dim::Wind => Unit::Kmh,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Dim::Temp => "°C",
            Dim::Precip => "mm",
            Dim::Wind => "km/h",
        }
    }

    /// Accepted range after conversion (scaled).
    fn range(self) -> (i64, i64) {
        match self {
            Dim::Temp => (-90 * SCALE, 60 * SCALE),
            Dim::Precip => (0, 2_000 * SCALE),
            Dim::Wind => (0, 500 * SCALE),
        }
    }

    fn units(self) -> &'static str {
        match self {
            Dim::Temp => "°C, °F, K",
            Dim::Precip => "mm, inch",
            Dim::Wind => "km/h, m/s, mph, kn",
        }
    }
}

/// A unit name of a `*_units` field or a CSV header, for one dimension.
fn parse_unit(s: &str, dim: Dim) -> Option<Unit> {
    let n = s.trim().to_ascii_lowercase().replace(['°', 'º', ' '], "");
    let u = match n.as_str() {
        "c" | "celsius" | "degc" => Unit::Celsius,
        "f" | "fahrenheit" | "degf" => Unit::Fahrenheit,
        "k" | "kelvin" => Unit::Kelvin,
        "mm" | "millimetre" | "millimeter" => Unit::Mm,
        "inch" | "in" | "inches" => Unit::Inch,
        "km/h" | "kmh" | "kph" => Unit::Kmh,
        "m/s" | "ms" => Unit::Ms,
        "mph" => Unit::Mph,
        "kn" | "kt" | "knots" | "kts" => Unit::Knots,
        _ => return None,
    };
    let ok = match dim {
        Dim::Temp => matches!(u, Unit::Celsius | Unit::Fahrenheit | Unit::Kelvin),
        Dim::Precip => matches!(u, Unit::Mm | Unit::Inch),
        Dim::Wind => matches!(u, Unit::Kmh | Unit::Ms | Unit::Mph | Unit::Knots),
    };
    ok.then_some(u)
}

/// Converts a scaled value to °C / mm / km/h (exact integer arithmetic, rounded to 10⁻⁴).
fn to_metric(x: i64, u: Unit) -> i64 {
    let x = i128::from(x);
    let (num, den) = match u {
        Unit::Celsius | Unit::Mm | Unit::Kmh => return x as i64,
        Unit::Kelvin => return (x - 2_731_500) as i64,
        Unit::Fahrenheit => ((x - 32 * i128::from(SCALE)) * 5, 9),
        Unit::Inch => (x * 254, 10),
        Unit::Ms => (x * 36, 10),
        Unit::Mph => (x * 1_609_344, 1_000_000),
        Unit::Knots => (x * 1_852, 1_000),
    };
    div_round(num, den)
}

fn show(x: i64) -> String {
    let v = x as f64 / SCALE as f64;
    format!("{v}")
}

// ---------------------------------------------------------------------------------------------
// Dates

fn check_date(d: NaiveDate) -> Result<NaiveDate, (Reason, String)> {
    let lo = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
    let hi = NaiveDate::from_ymd_opt(2105, 12, 31).expect("valid");
    if d < lo || d > hi {
        Err((
            Reason::DateOutOfRange,
            format!("{d} is outside 1970-01-01..2105-12-31"),
        ))
    } else {
        Ok(d)
    }
}

fn epoch(x: i64) -> Result<Instant, (Reason, String)> {
    if (0..=MAX_INSTANT).contains(&x) {
        Ok(x as Instant)
    } else {
        Err((
            Reason::DateOutOfRange,
            format!("epoch {x} is outside 1970..2105"),
        ))
    }
}

/// An integer epoch from a JSON number or text.
fn epoch_of(c: Cell<'_>) -> Option<i64> {
    match c {
        Cell::Json(Some(Value::Number(n))) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|x| x.fract() == 0.0 && x.abs() < 1e15)
                .map(|x| x as i64)
        }),
        Cell::Json(Some(Value::String(s))) => digits(s),
        Cell::Text(s) => digits(s),
        _ => None,
    }
}

fn digits(s: &str) -> Option<i64> {
    let s = s.trim();
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn time_error(e: &TimeError) -> Reason {
    match e {
        TimeError::OutOfRange => Reason::DateOutOfRange,
        _ => Reason::UnparseableDate,
    }
}

/// A daily date: `YYYY-MM-DD` (as labelled), a date-time (its date as written), or an epoch
/// (Open-Meteo `unixtime`: the day's start in UTC, `offset` seconds added back).
fn day_of(c: Cell<'_>, offset: i64) -> Result<NaiveDate, (Reason, String)> {
    if let Some(x) = epoch_of(c) {
        let d = DateTime::from_timestamp(x + offset, 0)
            .ok_or((Reason::DateOutOfRange, format!("epoch {x} is out of range")))?;
        return check_date(d.date_naive());
    }
    let s = c.text();
    let s = s.trim();
    if s.is_empty() {
        return Err((Reason::UnparseableDate, "empty".into()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return check_date(d);
    }
    if s.len() > 10 && s.is_char_boundary(10) {
        if let Ok(d) = NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d") {
            if parse_instant(s).is_ok() {
                return check_date(d);
            }
        }
    }
    Err((
        Reason::UnparseableDate,
        format!("{}: not a YYYY-MM-DD date", c.shown()),
    ))
}

/// How local times of an hourly series map to instants.
#[derive(Debug, Clone, Copy)]
enum Clock {
    Fixed(i64),
    Zone(Tz),
}

impl Clock {
    /// From Open-Meteo's `utc_offset_seconds` (preferred) or `timezone`; Paris by default.
    fn of(offset: Option<i64>, timezone: &str) -> Clock {
        if let Some(o) = offset {
            return Clock::Fixed(o);
        }
        match timezone.trim().parse::<Tz>() {
            Ok(tz) => Clock::Zone(tz),
            Err(_) => Clock::Zone(chrono_tz::Europe::Paris),
        }
    }

    fn offset(&self) -> i64 {
        match self {
            Clock::Fixed(o) => *o,
            Clock::Zone(_) => 0,
        }
    }
}

/// An hourly time: an epoch (UTC), a local `YYYY-MM-DDTHH:MM[:SS]` in `clock`, or a timestamp
/// with its own offset.
fn instant_of(c: Cell<'_>, clock: Clock) -> Result<Instant, (Reason, String)> {
    if let Some(x) = epoch_of(c) {
        return epoch(x);
    }
    let s = c.text();
    let s = s.trim();
    if s.is_empty() {
        return Err((Reason::UnparseableDate, "empty".into()));
    }
    let naive = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok());
    match naive {
        Some(n) => {
            let secs = match clock {
                Clock::Fixed(o) => n.and_utc().timestamp() - o,
                Clock::Zone(tz) => match tz.from_local_datetime(&n).earliest() {
                    Some(t) => t.timestamp(),
                    None => {
                        return Err((
                            Reason::UnparseableDate,
                            format!("{}: local time skipped by a DST change", c.shown()),
                        ))
                    }
                },
            };
            epoch(secs)
        }
        None => parse_instant(s).map_err(|e| (time_error(&e), format!("{}: {e}", c.shown()))),
    }
}

// ---------------------------------------------------------------------------------------------
// The reader

struct Reader<'a> {
    file: Arc<str>,
    partition: Option<NaiveDate>,
    sel: &'a DaySelection,
    q: &'a mut QualityAcc,
    acc: WeatherAcc,
}

/// One row being read: where it is, for samples and the kept record.
#[derive(Clone)]
struct Pos {
    line: u64,
    array: &'static str,
    item: u32,
}

impl Pos {
    fn prefix(&self) -> String {
        if self.array.is_empty() {
            String::new()
        } else {
            format!("{}[{}]: ", self.array, self.item)
        }
    }
}

/// A numeric field of a row: its name in the input, dimension, unit and cell.
struct Field<'a> {
    name: &'a str,
    dim: Dim,
    unit: Unit,
    cell: Cell<'a>,
}

fn field<'a>(name: &'a str, dim: Dim, unit: Unit, cell: Cell<'a>) -> Field<'a> {
    Field {
        name,
        dim,
        unit,
        cell,
    }
}

/// A daily row, parsed, before the cleaning rules.
struct RawDay {
    mean: Option<Mean>,
    min: Option<i64>,
    max: Option<i64>,
    precip: Option<i64>,
    wind: Option<i64>,
    conditions: Option<String>,
    /// Input names of min and max, for the Inconsistent detail.
    min_name: String,
    max_name: String,
}

impl Reader<'_> {
    fn origin(&self, p: &Pos) -> Origin {
        Origin {
            partition: self.partition,
            file: self.file.clone(),
            line: p.line,
            array: p.array,
            item: p.item,
        }
    }

    /// A row whose date could not be read.
    fn undated(&mut self, p: &Pos, reason: Reason, detail: String) {
        self.q.row(SOURCE, None, &self.file);
        let detail = format!("{}{detail}", p.prefix());
        self.q
            .problem(SOURCE, None, &self.file, p.line, reason, detail);
    }

    fn reject(&mut self, d: NaiveDate, p: &Pos, reason: Reason, detail: String) {
        let detail = format!("{}{detail}", p.prefix());
        self.q
            .problem(SOURCE, Some(d), &self.file, p.line, reason, detail);
    }

    /// Starts a dated row: false (and nothing counted) when the day is not selected.
    fn start(&mut self, d: NaiveDate, kind: Kind, note: &str) -> bool {
        if !self.sel.contains(d) {
            self.q.outside(SOURCE, 1);
            return false;
        }
        self.q.row(SOURCE, Some(d), &self.file);
        if note.is_empty() {
            self.q.category(SOURCE, Some(d), kind.label());
        } else {
            self.q
                .category(SOURCE, Some(d), &format!("{} ({note})", kind.label()));
        }
        true
    }

    /// Parses and converts one field; a problem rejects the row (Err).
    fn value(&mut self, d: NaiveDate, p: &Pos, f: &Field<'_>) -> Result<Option<i64>, ()> {
        let x = match number(f.cell) {
            Ok(None) => return Ok(None),
            Ok(Some(x)) => x,
            Err(e) => {
                let (reason, what) = match e {
                    NumError::Invalid => (Reason::BadNumber, "not a number"),
                    NumError::OutOfRange => (Reason::ValueOutOfRange, "out of range"),
                };
                let detail = format!("field `{}`: {} is {what}", f.name, f.cell.shown());
                self.reject(d, p, reason, detail);
                return Err(());
            }
        };
        let v = to_metric(x, f.unit);
        let (lo, hi) = f.dim.range();
        if v < lo || v > hi {
            let detail = format!(
                "field `{}`: {} {} is outside {}..{}",
                f.name,
                show(v),
                f.dim.symbol(),
                show(lo),
                show(hi)
            );
            self.reject(d, p, Reason::ValueOutOfRange, detail);
            return Err(());
        }
        Ok(Some(v))
    }

    /// Applies the cleaning rules to a daily row and adds it.
    fn finish_day(&mut self, d: NaiveDate, p: &Pos, kind: Kind, r: RawDay) {
        if let (Some(lo), Some(hi)) = (r.min, r.max) {
            if lo > hi {
                let detail = format!(
                    "`{}` {} > `{}` {}: the day is not used",
                    r.min_name,
                    show(lo),
                    r.max_name,
                    show(hi)
                );
                self.reject(d, p, Reason::Inconsistent, detail);
                return;
            }
        }
        let present = [r.min, r.max, r.precip, r.wind]
            .iter()
            .filter(|v| v.is_some())
            .count()
            + usize::from(r.mean.is_some());
        if present == 0 {
            let detail = "no value: temperatures, precipitation and wind are all null".into();
            self.reject(d, p, Reason::MissingKey, detail);
            return;
        }
        let day = Some(d);
        let mut mean = r.mean;
        match (mean, r.min, r.max) {
            (None, Some(lo), Some(hi)) => {
                self.q.missing(SOURCE, day, "temp_moyenne");
                mean = Some(Mean::midpoint(lo, hi));
            }
            (None, _, _) => self.q.missing(SOURCE, day, "temp_moyenne"),
            (Some(m), Some(lo), Some(hi)) if m.below(lo) || m.above(hi) => {
                let detail = format!(
                    "{}`temp` outside [`tempmin`, `tempmax`]: replaced by their midpoint",
                    p.prefix()
                );
                self.q
                    .problem(SOURCE, day, &self.file, p.line, Reason::Corrected, detail);
                mean = Some(Mean::midpoint(lo, hi));
            }
            _ => {}
        }
        for (v, name) in [
            (r.min, "temp_min"),
            (r.max, "temp_max"),
            (r.precip, "precip_totale"),
            (r.wind, "vent_moyen"),
        ] {
            if v.is_none() {
                self.q.missing(SOURCE, day, name);
            }
        }
        let e = DailyEntry {
            kind,
            values: DayValues {
                temp_mean: mean,
                temp_min: r.min,
                temp_max: r.max,
                precip: r.precip,
                wind: r.wind,
                conditions: r.conditions,
            },
            origin: self.origin(p),
        };
        self.acc.add_daily(d, e);
    }

    /// Adds an hourly row (already dated and counted).
    #[allow(clippy::too_many_arguments)]
    fn finish_hour(
        &mut self,
        d: NaiveDate,
        p: &Pos,
        kind: Kind,
        t: Instant,
        vals: [Option<i64>; 3],
        wmo: Option<u16>,
        label: Option<String>,
    ) {
        if vals.iter().all(Option::is_none) {
            let detail = "no value: temperature, precipitation and wind are all null".into();
            self.reject(d, p, Reason::MissingKey, detail);
            return;
        }
        for (v, name) in vals
            .iter()
            .zip(["temp_horaire", "precip_horaire", "vent_horaire"])
        {
            if v.is_none() {
                self.q.missing(SOURCE, Some(d), name);
            }
        }
        let [temp, precip, wind] = vals;
        let h = HourRow {
            kind,
            t,
            temp,
            precip,
            wind,
            wmo,
            label,
            origin: self.origin(p),
        };
        self.acc.add_hour(d, h);
    }

    // -----------------------------------------------------------------------------------------
    // JSON

    fn json_file(&mut self, f: &InputFile) {
        let items = match read_json(&f.path) {
            Ok(items) => items,
            Err(e) => {
                self.q
                    .file_failed(SOURCE, &self.file, e.line, e.reason, e.detail, 0);
                return;
            }
        };
        for item in items {
            match item {
                JsonItem::Record { line, value } => self.json_record(line, &value),
                JsonItem::Bad {
                    line,
                    reason,
                    detail,
                } => {
                    let p = Pos {
                        line,
                        array: "",
                        item: 0,
                    };
                    self.undated(&p, reason, detail);
                }
            }
        }
    }

    fn json_record(&mut self, line: u64, v: &Value) {
        let rec = Pos {
            line,
            array: "",
            item: 0,
        };
        let Value::Object(o) = v else {
            self.undated(&rec, Reason::NotARecord, "expected an object".into());
            return;
        };
        let is_obj = |k: &str| matches!(o.get(k), Some(Value::Object(_)));
        let is_arr = |k: &str| matches!(o.get(k), Some(Value::Array(_)));
        if let Some(days) = o.get("days") {
            self.visual_crossing(line, o, days);
        } else if is_obj("daily") || is_obj("hourly") {
            for block in ["daily", "hourly"] {
                if is_obj(block) {
                    self.open_meteo_json(line, o, block);
                }
            }
        } else if is_arr("daily") || is_arr("hourly") {
            for (block, kind) in [("daily", Kind::OwmDaily), ("hourly", Kind::OwmHourly)] {
                if let Some(Value::Array(a)) = o.get(block) {
                    for (i, x) in a.iter().enumerate() {
                        let p = Pos {
                            line,
                            array: block,
                            item: i as u32,
                        };
                        self.owm_item(&p, kind, x);
                    }
                }
            }
        } else if o.contains_key("datetime")
            && (o.contains_key("tempmax") || o.contains_key("temp"))
        {
            self.vc_day(&rec, o, "");
        } else if o.contains_key("dt") && o.contains_key("temp") {
            let kind = if is_obj("temp") {
                Kind::OwmDaily
            } else {
                Kind::OwmHourly
            };
            self.owm_item(&rec, kind, v);
        } else {
            let mut detail = "no `days` (Visual Crossing), `daily`/`hourly` (Open-Meteo, \
                              OpenWeatherMap) nor a day record"
                .to_string();
            if let Some(r) = o.get("reason").or_else(|| o.get("message")) {
                detail.push_str(&format!("; the API said: {}", json_text(Some(r))));
            }
            self.undated(&rec, Reason::MissingKey, detail);
        }
    }

    fn visual_crossing(&mut self, line: u64, o: &Map<String, Value>, days: &Value) {
        let tz = json_text(o.get("timezone"));
        let note = if tz.is_empty() || tz == "Europe/Paris" {
            String::new()
        } else {
            format!("timezone {tz}")
        };
        let Value::Array(days) = days else {
            let p = Pos {
                line,
                array: "",
                item: 0,
            };
            self.undated(&p, Reason::MissingKey, "`days` is not an array".into());
            return;
        };
        for (i, day) in days.iter().enumerate() {
            let p = Pos {
                line,
                array: "days",
                item: i as u32,
            };
            match day {
                Value::Object(d) => self.vc_day(&p, d, &note),
                other => {
                    let detail = format!("expected a day object, found {other}");
                    self.undated(&p, Reason::NotARecord, detail);
                }
            }
        }
    }

    fn vc_day(&mut self, p: &Pos, o: &Map<String, Value>, note: &str) {
        let date = match (o.get("datetime"), o.get("datetimeEpoch")) {
            (Some(v), _) if !v.is_null() => day_of(Cell::Json(Some(v)), 0),
            (_, Some(e)) => epoch_of(Cell::Json(Some(e)))
                .ok_or((Reason::UnparseableDate, format!("{e}: not an epoch")))
                .and_then(epoch)
                .map(paris_day),
            _ => Err((Reason::UnparseableDate, "missing".into())),
        };
        let d = match date {
            Ok(d) => d,
            Err((reason, e)) => return self.undated(p, reason, format!("field `datetime`: {e}")),
        };
        if !self.start(d, Kind::VisualCrossing, note) {
            return;
        }
        let get = |k: &'static str| Cell::Json(o.get(k));
        let mut vals = [None; 5];
        for (slot, (name, dim)) in vals.iter_mut().zip([
            ("temp", Dim::Temp),
            ("tempmin", Dim::Temp),
            ("tempmax", Dim::Temp),
            ("precip", Dim::Precip),
            ("windspeed", Dim::Wind),
        ]) {
            let f = field(name, dim, dim.metric(), get(name));
            let Ok(v) = self.value(d, p, &f) else { return };
            *slot = v;
        }
        let conditions = text_value(o.get("conditions"));
        let [mean, min, max, precip, wind] = vals;
        let r = RawDay {
            mean: mean.map(Mean::of),
            min,
            max,
            precip,
            wind,
            conditions,
            min_name: "tempmin".into(),
            max_name: "tempmax".into(),
        };
        self.finish_day(d, p, Kind::VisualCrossing, r);
    }

    fn owm_item(&mut self, p: &Pos, kind: Kind, v: &Value) {
        let Value::Object(o) = v else {
            let detail = format!("expected an object, found {v}");
            return self.undated(p, Reason::NotARecord, detail);
        };
        let dt = Cell::Json(o.get("dt"));
        let t = match epoch_of(dt) {
            Some(x) => epoch(x),
            None => Err((
                Reason::UnparseableDate,
                format!("{}: not an epoch", dt.shown()),
            )),
        };
        let t = match t {
            Ok(t) => t,
            Err((reason, e)) => return self.undated(p, reason, format!("field `dt`: {e}")),
        };
        let d = paris_day(t);
        if !self.start(d, kind, "") {
            return;
        }
        let temp = o.get("temp");
        // temperatures: an object (daily) or a number (hourly)
        let temp_cells: Vec<(&str, Cell<'_>)> = match temp {
            Some(Value::Object(t)) => ["min", "max", "morn", "day", "eve", "night"]
                .into_iter()
                .map(|k| (k, Cell::Json(t.get(k))))
                .collect(),
            other => vec![("temp", Cell::Json(other))],
        };
        let kelvin = temp_cells
            .iter()
            .any(|(_, c)| matches!(number(*c), Ok(Some(x)) if x > 150 * SCALE));
        let tu = if kelvin { Unit::Kelvin } else { Unit::Celsius };
        let mut temps: Vec<Option<i64>> = Vec::new();
        for (k, c) in &temp_cells {
            let name = if *k == "temp" {
                "temp".to_string()
            } else {
                format!("temp.{k}")
            };
            let Ok(x) = self.value(d, p, &field(&name, Dim::Temp, tu, *c)) else {
                return;
            };
            temps.push(x);
        }
        // precipitation: rain + snow, each a number or {"1h": x}; absent means none
        let mut precip = Some(0i64);
        for k in ["rain", "snow"] {
            let (name, cell) = match o.get(k) {
                None => continue,
                Some(Value::Object(m)) => (format!("{k}.1h"), Cell::Json(m.get("1h"))),
                Some(other) => (k.to_string(), Cell::Json(Some(other))),
            };
            let Ok(x) = self.value(d, p, &field(&name, Dim::Precip, Unit::Mm, cell)) else {
                return;
            };
            precip = match (precip, x) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
        }
        let wind_cell = Cell::Json(o.get("wind_speed"));
        let Ok(wind) = self.value(d, p, &field("wind_speed", Dim::Wind, Unit::Ms, wind_cell))
        else {
            return;
        };
        let label = match o.get("weather") {
            Some(Value::Array(w)) => w.first().and_then(|w| {
                text_value(w.get("main")).or_else(|| text_value(w.get("description")))
            }),
            _ => None,
        };
        if kind == Kind::OwmHourly {
            let vals = [temps[0], precip, wind];
            return self.finish_hour(d, p, kind, t, vals, None, label);
        }
        let (min, max) = if temps.len() == 6 {
            (temps[0], temps[1])
        } else {
            (None, None)
        };
        let mean = if temps.len() == 6 {
            match (temps[2], temps[3], temps[4], temps[5]) {
                (Some(a), Some(b), Some(c), Some(e)) => Some(Mean {
                    sum: a + b + c + e,
                    n: 4,
                }),
                _ => None,
            }
        } else {
            temps[0].map(Mean::of)
        };
        let r = RawDay {
            mean,
            min,
            max,
            precip,
            wind,
            conditions: label,
            min_name: "temp.min".into(),
            max_name: "temp.max".into(),
        };
        self.finish_day(d, p, kind, r);
    }

    fn open_meteo_json(&mut self, line: u64, o: &Map<String, Value>, block: &'static str) {
        let kind = if block == "daily" {
            Kind::OpenMeteoDaily
        } else {
            Kind::OpenMeteoHourly
        };
        let Some(Value::Object(cols)) = o.get(block) else {
            return;
        };
        let units = match o.get(&format!("{block}_units")) {
            Some(Value::Object(u)) => Some(u),
            _ => None,
        };
        let offset = epoch_of(Cell::Json(o.get("utc_offset_seconds")));
        let clock = Clock::of(offset, &json_text(o.get("timezone")));
        let note = timezone_note(kind, offset, &json_text(o.get("timezone")));
        let names: Vec<&str> = cols.keys().map(String::as_str).collect();
        let mut table = Table::new(kind, &names, clock, note);
        let mut arrays: Vec<Option<&Vec<Value>>> = vec![None; ROLES];
        for (role, slot) in arrays.iter_mut().enumerate() {
            let Some(name) = table.cols[role].as_ref().map(|c| c.name.clone()) else {
                continue;
            };
            match cols.get(&name) {
                Some(Value::Array(a)) => *slot = Some(a),
                _ => table.set_error(format!("`{block}.{name}` is not an array")),
            }
            if let Some(u) = units.and_then(|u| u.get(&name)) {
                table.set_unit(role, &json_text(Some(u)), &format!("{block}_units.{name}"));
            }
        }
        let Some(Value::Array(times)) = cols.get("time") else {
            let p = Pos {
                line,
                array: block,
                item: 0,
            };
            let detail = format!("`{block}` has no `time` array: its values cannot be dated");
            return self.undated(&p, Reason::MissingKey, detail);
        };
        for (i, t) in times.iter().enumerate() {
            let p = Pos {
                line,
                array: block,
                item: i as u32,
            };
            let cells: Vec<Cell<'_>> = arrays
                .iter()
                .map(|a| Cell::Json(a.and_then(|a| a.get(i))))
                .collect();
            self.table_row(&table, &p, Cell::Json(Some(t)), &cells);
        }
        // an array shorter than `time`: its last rows have no value (missing), said once
        for (role, a) in arrays.iter().enumerate() {
            let (Some(a), Some(c)) = (a, table.cols[role].as_ref()) else {
                continue;
            };
            if a.len() < times.len() {
                let detail = format!(
                    "`{block}.{}` has {} values for {} times: the last {} are missing",
                    c.name,
                    a.len(),
                    times.len(),
                    times.len() - a.len()
                );
                self.q
                    .problem(SOURCE, None, &self.file, line, Reason::ShortArray, detail);
            }
        }
        // values past the end of `time` cannot be dated
        let longest = arrays.iter().flatten().map(|a| a.len()).max().unwrap_or(0);
        for i in times.len()..longest {
            let p = Pos {
                line,
                array: block,
                item: i as u32,
            };
            let detail = format!("no `time` for this index ({} times)", times.len());
            self.undated(&p, Reason::MissingKey, detail);
        }
    }

    /// One row of an Open-Meteo table (JSON columns or a CSV section).
    fn table_row(&mut self, t: &Table, p: &Pos, time: Cell<'_>, cells: &[Cell<'_>]) {
        let (d, instant) = if t.kind == Kind::OpenMeteoDaily {
            match day_of(time, t.clock.offset()) {
                Ok(d) => (d, None),
                Err((reason, e)) => return self.undated(p, reason, format!("field `time`: {e}")),
            }
        } else {
            match instant_of(time, t.clock) {
                Ok(i) => (paris_day(i), Some(i)),
                Err((reason, e)) => return self.undated(p, reason, format!("field `time`: {e}")),
            }
        };
        if !self.start(d, t.kind, &t.note) {
            return;
        }
        if let Some(e) = &t.error {
            return self.reject(d, p, Reason::BadNumber, e.clone());
        }
        let mut vals = [None; ROLES];
        for role in [R_TMEAN, R_TMIN, R_TMAX, R_PRECIP, R_WIND, R_WIND_ALT] {
            let Some(col) = &t.cols[role] else { continue };
            let f = field(&col.name, ROLE_DIM[role], col.unit, cells[role]);
            let Ok(v) = self.value(d, p, &f) else { return };
            vals[role] = v;
        }
        let wmo = match &t.cols[R_CODE] {
            None => None,
            Some(col) => match number(cells[R_CODE]) {
                Ok(None) => None,
                Ok(Some(x)) if x >= 0 && x % SCALE == 0 && x / SCALE <= 99 => {
                    Some((x / SCALE) as u16)
                }
                _ => {
                    let detail = format!(
                        "field `{}`: {} is not a WMO weather code (0..99)",
                        col.name,
                        cells[R_CODE].shown()
                    );
                    return self.reject(d, p, Reason::BadNumber, detail);
                }
            },
        };
        let wind = vals[R_WIND].or(vals[R_WIND_ALT]);
        match instant {
            Some(i) => {
                let v = [vals[R_TMEAN], vals[R_PRECIP], wind];
                self.finish_hour(d, p, t.kind, i, v, wmo, None);
            }
            None => {
                let r = RawDay {
                    mean: vals[R_TMEAN].map(Mean::of),
                    min: vals[R_TMIN],
                    max: vals[R_TMAX],
                    precip: vals[R_PRECIP],
                    wind,
                    conditions: wmo.map(crate::metrics::weather::wmo_text),
                    min_name: col_name(t, R_TMIN),
                    max_name: col_name(t, R_TMAX),
                };
                self.finish_day(d, p, t.kind, r);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // CSV (Open-Meteo export)

    fn csv_file(&mut self, f: &InputFile) {
        let bytes = match std::fs::read(&f.path) {
            Ok(b) => b,
            Err(e) => {
                return self.q.file_failed(
                    SOURCE,
                    &self.file,
                    0,
                    Reason::ReadError,
                    e.to_string(),
                    0,
                )
            }
        };
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        // UTF-8, else Latin-1 (a re-saved export): every byte is a character
        let text: Cow<'_, str> = match std::str::from_utf8(body) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(body.iter().map(|&b| char::from(b)).collect()),
        };
        if text.trim().is_empty() {
            return self.q.file_failed(
                SOURCE,
                &self.file,
                1,
                Reason::EmptyFile,
                "file is empty".into(),
                0,
            );
        }
        let lines: Vec<&str> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        let split_line = |l: &str| split_fields(l, sniff_delimiter(l.as_bytes()));
        if !lines.iter().any(|l| is_header(&split_line(l))) {
            let rows = lines.iter().filter(|l| !l.trim().is_empty()).count() as u64;
            let detail = "no header line starting with `time` (an Open-Meteo CSV export is \
                          expected: metadata, a blank line, then `time,...`)"
                .to_string();
            return self
                .q
                .file_failed(SOURCE, &self.file, 1, Reason::MissingColumn, detail, rows);
        }
        let (i, offset, timezone) = csv_metadata(&lines);
        let clock = Clock::of(offset, &timezone);
        let mut table: Option<(Table, usize, u8, usize)> = None; // table, width, delimiter, time col
        let mut data_lines = 0u64;
        for (k, l) in lines.iter().enumerate().skip(i) {
            let line = k as u64 + 1;
            let p = Pos {
                line,
                array: "",
                item: 0,
            };
            if l.trim().is_empty() {
                table = None;
                continue;
            }
            let delim = table
                .as_ref()
                .map_or_else(|| sniff_delimiter(l.as_bytes()), |t| t.2);
            let fields = split_fields(l, delim);
            if is_header(&fields) {
                let (t, time_col) = csv_table(&fields, offset, &timezone, clock);
                table = Some((t, fields.len(), delim, time_col));
                continue;
            }
            data_lines += 1;
            let Some((t, width, _, time_col)) = &table else {
                let detail =
                    "line is neither metadata nor under a `time` header (blank line missing?)"
                        .to_string();
                self.undated(&p, Reason::NotARecord, detail);
                continue;
            };
            if fields.len() != *width {
                let detail = crate::input::wrong_width_detail(*width, fields.len());
                self.undated(&p, Reason::WrongColumnCount, detail);
                continue;
            }
            let cells: Vec<Cell<'_>> = (0..ROLES)
                .map(|role| match t.index[role] {
                    Some(k) => Cell::Text(fields[k].as_str()),
                    None => Cell::Text(""),
                })
                .collect();
            self.table_row(t, &p, Cell::Text(fields[*time_col].as_str()), &cells);
        }
        if data_lines == 0 {
            let detail = crate::input::HEADER_ONLY.to_string();
            self.q
                .file_failed(SOURCE, &self.file, 1, Reason::EmptyFile, detail, 0);
        }
    }
}

/// A section header: `time,...` (or `location_id,time,...` for several locations).
fn is_header(fields: &[String]) -> bool {
    let first = fields.first().map(|s| norm_header(s));
    match first.as_deref() {
        Some("time") => true,
        Some("location id") => fields.get(1).is_some_and(|s| norm_header(s) == "time"),
        _ => false,
    }
}

/// The metadata block of an Open-Meteo CSV (`latitude,...,utc_offset_seconds,timezone,...` and
/// its value line(s), up to the first blank line): the index of the first line after it, the
/// offset and the timezone (of the first location).
fn csv_metadata(lines: &[&str]) -> (usize, Option<i64>, String) {
    let mut i = 0;
    while i < lines.len() && lines[i].trim().is_empty() {
        i += 1;
    }
    let Some(first) = lines.get(i) else {
        return (i, None, String::new());
    };
    let delim = sniff_delimiter(first.as_bytes());
    let h = split_fields(first, delim);
    let hn: Vec<String> = h.iter().map(|s| norm_header(s)).collect();
    if !hn.iter().any(|s| s == "latitude") || is_header(&h) {
        return (i, None, String::new());
    }
    let v = lines
        .get(i + 1)
        .map(|l| split_fields(l, delim))
        .unwrap_or_default();
    let get = |name: &str| {
        hn.iter()
            .position(|s| s == name)
            .and_then(|k| v.get(k))
            .map(|s| s.trim().to_string())
    };
    let offset = get("utc offset seconds").and_then(|s| s.parse::<i64>().ok());
    let timezone = get("timezone").unwrap_or_default();
    i += 1;
    while i < lines.len()
        && !lines[i].trim().is_empty()
        && !is_header(&split_fields(
            lines[i],
            sniff_delimiter(lines[i].as_bytes()),
        ))
    {
        i += 1;
    }
    (i, offset, timezone)
}

/// A CSV section header -> its table (daily when a column is a daily aggregate) and the index
/// of its `time` column.
fn csv_table(
    fields: &[String],
    offset: Option<i64>,
    timezone: &str,
    clock: Clock,
) -> (Table, usize) {
    let time_col = usize::from(norm_header(&fields[0]) == "location id");
    let parsed: Vec<(String, Option<String>)> = fields.iter().map(|h| split_unit(h)).collect();
    let names: Vec<&str> = parsed.iter().map(|(n, _)| n.as_str()).collect();
    let daily = names.iter().any(|n| {
        let n = norm_header(n);
        ["max", "min", "mean", "sum"]
            .iter()
            .any(|s| n.ends_with(&format!(" {s}")))
    });
    let kind = if daily {
        Kind::OpenMeteoDaily
    } else {
        Kind::OpenMeteoHourly
    };
    let note = timezone_note(kind, offset, timezone);
    let mut t = Table::new(kind, &names, clock, note);
    for role in 0..ROLES {
        let Some(k) = t.index[role] else { continue };
        if let (name, Some(u)) = &parsed[k] {
            let what = format!("header `{name} ({u})`");
            t.set_unit(role, u, &what);
        }
    }
    (t, time_col)
}

fn text_value(v: Option<&Value>) -> Option<String> {
    let s = json_text(v);
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// A category note when an Open-Meteo table is not in Paris time (its days are then not
/// exactly Paris days).
fn timezone_note(kind: Kind, offset: Option<i64>, tz: &str) -> String {
    let paris = tz.is_empty() || tz == "Europe/Paris";
    if paris || kind.is_hourly() {
        // hourly instants are exact whatever the zone
        String::new()
    } else {
        match offset {
            Some(o) => format!("timezone {tz}, UTC{:+}", o as f64 / 3600.0),
            None => format!("timezone {tz}"),
        }
    }
}

/// `temperature_2m_max (°C)` -> (`temperature_2m_max`, Some(`°C`)).
fn split_unit(h: &str) -> (String, Option<String>) {
    let h = h.trim().trim_start_matches('\u{feff}');
    if let (Some(open), true) = (h.rfind(" ("), h.ends_with(')')) {
        let unit = &h[open + 2..h.len() - 1];
        return (h[..open].trim().to_string(), Some(unit.to_string()));
    }
    (h.to_string(), None)
}

/// Splits one CSV line (double quotes with `""` escapes).
fn split_fields(l: &str, delim: u8) -> Vec<String> {
    let delim = char::from(delim);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = l.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == delim && !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

// ---------------------------------------------------------------------------------------------
// Open-Meteo variables

const R_TMEAN: usize = 0;
const R_TMIN: usize = 1;
const R_TMAX: usize = 2;
const R_PRECIP: usize = 3;
const R_WIND: usize = 4;
const R_WIND_ALT: usize = 5;
const R_CODE: usize = 6;
const ROLES: usize = 7;
const ROLE_DIM: [Dim; ROLES] = [
    Dim::Temp,
    Dim::Temp,
    Dim::Temp,
    Dim::Precip,
    Dim::Wind,
    Dim::Wind,
    Dim::Temp, // unused: the code is not a measurement
];

fn role_names(kind: Kind, role: usize) -> &'static [&'static str] {
    if kind == Kind::OpenMeteoDaily {
        match role {
            R_TMEAN => &["temperature_2m_mean"],
            R_TMIN => &["temperature_2m_min"],
            R_TMAX => &["temperature_2m_max"],
            R_PRECIP => &["precipitation_sum"],
            R_WIND => &["wind_speed_10m_max", "windspeed_10m_max"],
            R_WIND_ALT => &["wind_speed_10m_mean", "windspeed_10m_mean"],
            R_CODE => &["weather_code", "weathercode"],
            _ => &[],
        }
    } else {
        match role {
            R_TMEAN => &["temperature_2m"],
            R_PRECIP => &["precipitation"],
            R_WIND => &["wind_speed_10m", "windspeed_10m"],
            R_CODE => &["weather_code", "weathercode"],
            _ => &[],
        }
    }
}

struct Col {
    name: String,
    unit: Unit,
}

/// The columns of an Open-Meteo table by role, their units, and a table-wide problem (every
/// row is then rejected with it).
struct Table {
    kind: Kind,
    cols: Vec<Option<Col>>,
    /// Index of each role's column among the names given to [`Table::new`].
    index: Vec<Option<usize>>,
    clock: Clock,
    note: String,
    error: Option<String>,
}

impl Table {
    fn new(kind: Kind, names: &[&str], clock: Clock, note: String) -> Table {
        let normed: Vec<String> = names.iter().map(|n| norm_header(n)).collect();
        let mut cols = Vec::with_capacity(ROLES);
        let mut index = Vec::with_capacity(ROLES);
        for (role, dim) in ROLE_DIM.iter().enumerate() {
            let at = role_names(kind, role).iter().find_map(|want| {
                let w = norm_header(want);
                normed.iter().position(|n| *n == w)
            });
            index.push(at);
            cols.push(at.map(|k| Col {
                name: names[k].to_string(),
                unit: dim.metric(),
            }));
        }
        Table {
            kind,
            cols,
            index,
            clock,
            note,
            error: None,
        }
    }

    fn set_error(&mut self, e: String) {
        self.error.get_or_insert(e);
    }

    fn set_unit(&mut self, role: usize, unit: &str, what: &str) {
        if role == R_CODE || unit.trim().is_empty() {
            return;
        }
        let dim = ROLE_DIM[role];
        match parse_unit(unit, dim) {
            Some(u) => {
                if let Some(c) = self.cols[role].as_mut() {
                    c.unit = u;
                }
            }
            None => self.set_error(format!(
                "{what}: unit {unit:?} is not one of {}",
                dim.units()
            )),
        }
    }
}

fn col_name(t: &Table, role: usize) -> String {
    t.cols[role]
        .as_ref()
        .map(|c| c.name.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert_exactly() {
        // 10 m/s = 36 km/h; 8.17 m/s = 29.412 km/h
        assert_eq!(to_metric(100_000, Unit::Ms), 360_000);
        assert_eq!(to_metric(81_700, Unit::Ms), 294_120);
        // 50 °F = 10 °C; 32 °F = 0 °C; 0 °F = -17.7778 °C
        assert_eq!(to_metric(500_000, Unit::Fahrenheit), 100_000);
        assert_eq!(to_metric(320_000, Unit::Fahrenheit), 0);
        assert_eq!(to_metric(0, Unit::Fahrenheit), -177_778);
        // 1 inch = 25.4 mm; 10 mph = 16.09344 km/h -> 16.0934; 10 kn = 18.52 km/h
        assert_eq!(to_metric(10_000, Unit::Inch), 254_000);
        assert_eq!(to_metric(100_000, Unit::Mph), 160_934);
        assert_eq!(to_metric(100_000, Unit::Knots), 185_200);
        // 281.45 K = 8.3 °C
        assert_eq!(to_metric(2_814_500, Unit::Kelvin), 83_000);
    }

    #[test]
    fn unit_names() {
        assert_eq!(parse_unit("°C", Dim::Temp), Some(Unit::Celsius));
        assert_eq!(parse_unit("°F", Dim::Temp), Some(Unit::Fahrenheit));
        assert_eq!(parse_unit("inch", Dim::Precip), Some(Unit::Inch));
        assert_eq!(parse_unit("m/s", Dim::Wind), Some(Unit::Ms));
        assert_eq!(parse_unit("km/h", Dim::Wind), Some(Unit::Kmh));
        assert_eq!(parse_unit("mph", Dim::Wind), Some(Unit::Mph));
        assert_eq!(parse_unit("kn", Dim::Wind), Some(Unit::Knots));
        assert_eq!(parse_unit("cm", Dim::Precip), None);
        assert_eq!(parse_unit("mm", Dim::Wind), None);
    }

    #[test]
    fn csv_headers_and_fields() {
        assert_eq!(
            split_unit("temperature_2m_max (°C)"),
            ("temperature_2m_max".into(), Some("°C".into()))
        );
        assert_eq!(split_unit("time"), ("time".into(), None));
        assert_eq!(
            split_fields("a,\"b,c\",\"d\"\"e\",", b','),
            vec!["a", "b,c", "d\"e", ""]
        );
    }

    #[test]
    fn times() {
        // Open-Meteo labels with a fixed +02:00 offset (the one valid when it was fetched)
        let t = instant_of(Cell::Text("2024-01-10T00:00"), Clock::Fixed(7200)).unwrap();
        assert_eq!(t, 1_704_837_600); // 2024-01-09T22:00Z = 23:00 Paris (winter)
        assert_eq!(paris_day(t).to_string(), "2024-01-09");
        let t = instant_of(
            Cell::Text("2024-01-10T00:00"),
            Clock::Zone(chrono_tz::Europe::Paris),
        )
        .unwrap();
        assert_eq!(t, 1_704_841_200);
        let v = serde_json::json!(1_704_841_200);
        assert_eq!(
            instant_of(Cell::Json(Some(&v)), Clock::Fixed(0)).unwrap(),
            1_704_841_200
        );
        assert_eq!(
            day_of(Cell::Text("2025-11-03"), 0).unwrap().to_string(),
            "2025-11-03"
        );
        // unixtime daily: 2025-11-02T22:00Z + 7200 s -> 2025-11-03
        let v = serde_json::json!(1_762_120_800);
        assert_eq!(
            day_of(Cell::Json(Some(&v)), 7200).unwrap().to_string(),
            "2025-11-03"
        );
        assert!(day_of(Cell::Text("03/11/2025"), 0).is_err());
        assert_eq!(
            day_of(Cell::Text("1969-12-31"), 0).unwrap_err().0,
            Reason::DateOutOfRange
        );
    }
}
