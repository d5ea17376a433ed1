//! Weather Underground: workbooks (one sheet per day named `DDMMYY`) and dateless rows (the same
//! rows concatenated by Airbyte), into documents.
//!
//! Columns (by name, any case and punctuation): Time, Temperature, Dew Point, Humidity, Wind
//! (compass direction), Speed, Gust, Pressure, Precip. Rate., Precip. Accum., UV, Solar, and an
//! optional Date. Values are strings with a unit after a (no-break) space: `56.2 °F`, `8.2 mph`,
//! `29.75 in` (inHg), `0.00 in`, `0 w/m²`, `84 %`; they are converted exactly ([`super::units`]).
//! Times are Excel fractions of a day (or `00:04:00`, `12:04 AM`) in the station's local time,
//! converted to UTC with the station's time zone from the stations file.
//!
//! ## Dates
//! Rows of one station are read in order. Each row's date is, in this order of preference:
//! its Date column, the date of a date-time in its Time column, its sheet name (`DDMMYY`), else
//! the **reconstruction**: the previous row's date, plus one day whenever the time goes back
//! past midnight (a time earlier than the previous one, or the same time after a blank record).
//! The reconstruction starts on the first given date, or, for a dateless export, on the anchor:
//! `--start-date`, else the stations file's `start_date`. Whenever a row has a given date and the
//! reconstruction has one too, they are compared (cross-check); disagreements are counted and the
//! given date is used. Blank (all-null) records are the sheet separators of a dateless export;
//! a blank record followed by a later time is reported (a whole missing day cannot be seen).
//! The report says, per file and station, which method gave the dates.

use std::collections::BTreeMap;
use std::path::Path;

use calamine::{Data, Reader};
use chrono::{Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

use super::catalog::{Catalog, Entry};
use super::quality::{Collector, DateReport};
use super::units::{direction_degrees, read_with_unit, Dec, Quantity};
use super::{Document, Found, Source, StartDates, Value, FIELDS};

pub const SOURCE: &str = "weather_underground";

/// The columns of a Weather Underground table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Col {
    Time,
    Date,
    Temperature,
    DewPoint,
    Humidity,
    Wind,
    Speed,
    Gust,
    Pressure,
    PrecipRate,
    PrecipAccum,
    Uv,
    Solar,
}

const COLS: [(Col, &str); 13] = [
    (Col::Time, "time"),
    (Col::Date, "date"),
    (Col::Temperature, "temperature"),
    (Col::DewPoint, "dewpoint"),
    (Col::Humidity, "humidity"),
    (Col::Wind, "wind"),
    (Col::Speed, "speed"),
    (Col::Gust, "gust"),
    (Col::Pressure, "pressure"),
    (Col::PrecipRate, "preciprate"),
    (Col::PrecipAccum, "precipaccum"),
    (Col::Uv, "uv"),
    (Col::Solar, "solar"),
];

impl Col {
    /// `Precip. Rate.` -> PrecipRate (letters and digits only, any case).
    pub fn of(header: &str) -> Option<Col> {
        let n: String = header
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        COLS.iter().find(|(_, k)| *k == n).map(|(c, _)| *c)
    }

    pub fn header(self) -> &'static str {
        match self {
            Col::Time => "Time",
            Col::Date => "Date",
            Col::Temperature => "Temperature",
            Col::DewPoint => "Dew Point",
            Col::Humidity => "Humidity",
            Col::Wind => "Wind",
            Col::Speed => "Speed",
            Col::Gust => "Gust",
            Col::Pressure => "Pressure",
            Col::PrecipRate => "Precip. Rate.",
            Col::PrecipAccum => "Precip. Accum.",
            Col::Uv => "UV",
            Col::Solar => "Solar",
        }
    }

    /// The document field and how to read it (`None`: the wind direction).
    fn target(self) -> Option<(&'static str, Option<Quantity>)> {
        Some(match self {
            Col::Time | Col::Date => return None,
            Col::Temperature => ("temperature_c", Some(Quantity::Temperature)),
            Col::DewPoint => ("dew_point_c", Some(Quantity::Temperature)),
            Col::Humidity => ("humidity_pct", Some(Quantity::Percent)),
            Col::Wind => ("wind_direction_deg", None),
            Col::Speed => ("wind_speed_kmh", Some(Quantity::Speed)),
            Col::Gust => ("wind_gust_kmh", Some(Quantity::Speed)),
            Col::Pressure => ("pressure_hpa", Some(Quantity::Pressure)),
            Col::PrecipRate => ("precip_rate_mm_h", Some(Quantity::Rain)),
            Col::PrecipAccum => ("precip_mm", Some(Quantity::Rain)),
            Col::Uv => ("uv_index", Some(Quantity::Plain)),
            Col::Solar => ("solar_radiation_wm2", Some(Quantity::Irradiance)),
        })
    }
}

/// A cell: a number (Excel number, JSON number) or text.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Num(f64),
    Text(String),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Num(x) => format!("{x}"),
            Cell::Text(s) => s.clone(),
        }
    }
}

/// One row before its date is known.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawRow {
    /// `file: sheet 011024 row 3` or `file:12`.
    pub loc: String,
    /// The columns the row's source has, with their cell (`None`: empty).
    pub cells: BTreeMap<Col, Option<Cell>>,
    /// The date of its sheet name, when it has one.
    pub sheet_date: Option<NaiveDate>,
}

impl RawRow {
    /// Every value column empty: a blank row / sheet separator.
    pub fn is_blank(&self) -> bool {
        self.cells.values().all(Option::is_none)
    }

    fn cell(&self, c: Col) -> Option<&Cell> {
        self.cells.get(&c).and_then(Option::as_ref)
    }
}

/// Days between 1899-12-30 and an Excel serial date (1900 system).
fn excel_date(days: f64) -> Option<NaiveDate> {
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?;
    base.checked_add_days(Days::new(days.floor() as u64))
}

/// Time of day (seconds) and, when the cell holds a date-time, its date.
pub fn time_of(c: &Cell) -> Result<(u32, Option<NaiveDate>), String> {
    match c {
        Cell::Num(f) if f.is_finite() && *f >= 0.0 => {
            let total = (f * 86_400.0).round() as u64;
            let (days, secs) = (total / 86_400, (total % 86_400) as u32);
            if *f < 1.0 {
                if days > 0 {
                    return Err(format!("Excel time {f:e} is 24:00"));
                }
                Ok((secs, None))
            } else {
                let d = excel_date(days as f64).ok_or_else(|| format!("Excel date {f:e}"))?;
                Ok((secs, Some(d)))
            }
        }
        Cell::Num(f) => Err(format!("{f:e} is not an Excel time")),
        Cell::Text(s) => {
            let s = s.trim();
            for f in ["%H:%M:%S", "%H:%M", "%I:%M %p", "%I:%M:%S %p"] {
                if let Ok(t) = NaiveTime::parse_from_str(s, f) {
                    return Ok((secs_of(t), None));
                }
            }
            for f in [
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M",
            ] {
                if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                    return Ok((secs_of(t.time()), Some(t.date())));
                }
            }
            Err(format!("{s:?} is not a time"))
        }
    }
}

fn secs_of(t: NaiveTime) -> u32 {
    use chrono::Timelike;
    t.num_seconds_from_midnight()
}

/// A Date column cell: `YYYY-MM-DD` or an Excel serial date.
pub fn date_of(c: &Cell) -> Result<NaiveDate, String> {
    match c {
        Cell::Num(f) if *f >= 1.0 => excel_date(*f).ok_or_else(|| format!("Excel date {f:e}")),
        Cell::Text(s) => {
            let s = s.trim();
            NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d")
                .map_err(|_| format!("{s:?} is not a YYYY-MM-DD date"))
        }
        Cell::Num(f) => Err(format!("{f:e} is not an Excel date")),
    }
}

/// `DDMMYY` -> date.
pub fn sheet_date(name: &str) -> Option<NaiveDate> {
    let n = name.trim();
    if n.len() != 6 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::parse_from_str(n, "%d%m%y").ok()
}

fn cell_of(d: &Data) -> Option<Cell> {
    match d {
        Data::Empty => None,
        Data::String(s) if s.trim().is_empty() => None,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => {
            Some(Cell::Text(s.clone()))
        }
        Data::Float(f) => Some(Cell::Num(*f)),
        Data::Int(i) => Some(Cell::Num(*i as f64)),
        Data::DateTime(t) => Some(Cell::Num(t.as_f64())),
        Data::Bool(b) => Some(Cell::Text(b.to_string())),
        Data::Error(e) => Some(Cell::Text(format!("#{e:?}"))),
    }
}

/// Reads a workbook into rows (sheets in workbook order).
/// Memory stays bounded by the workbook's shape ([`super::workbook`]): a workbook over the
/// limits is refused with a message naming the limit.
pub fn workbook_rows(path: &Path, shown: &str, q: &mut Collector) -> Result<Vec<RawRow>, String> {
    let mut wb = super::workbook::open(path)?;
    let names: Vec<String> = wb.sheet_names().to_vec();
    let mut rows = Vec::new();
    let mut budget = super::workbook::Budget::default();
    for name in names {
        let range = super::workbook::sheet_range(&mut wb, &name, &mut budget)?;
        let date = sheet_date(&name);
        if date.is_none() {
            q.warn(format!(
                "{shown}: sheet {name:?} is not named DDMMYY: its rows are dated by reconstruction"
            ));
        }
        let first_row = range.start().map(|(r, _)| r).unwrap_or(0);
        let first_col = range.start().map(|(_, c)| c).unwrap_or(0);
        let mut header: Option<Vec<Option<Col>>> = None;
        for (i, row) in range.rows().enumerate() {
            let excel_row = first_row as usize + i + 1;
            let Some(h) = &header else {
                if row.iter().all(|d| cell_of(d).is_none()) {
                    continue;
                }
                let cols: Vec<Option<Col>> = row
                    .iter()
                    .map(|d| match d {
                        Data::String(s) => Col::of(s),
                        _ => None,
                    })
                    .collect();
                for (j, (d, c)) in row.iter().zip(&cols).enumerate() {
                    if c.is_none() && cell_of(d).is_some() {
                        q.warn(format!(
                            "{shown}: sheet {name}: column {} ({}) is not a Weather \
                             Underground column: ignored",
                            first_col as usize + j + 1,
                            cell_of(d).map(|c| c.text()).unwrap_or_default()
                        ));
                    }
                }
                if !cols.contains(&Some(Col::Time)) {
                    return Err(format!("sheet {name}: no Time column in its header row"));
                }
                header = Some(cols);
                continue;
            };
            let mut r = RawRow {
                loc: format!("{shown}: sheet {name} row {excel_row}"),
                sheet_date: date,
                ..Default::default()
            };
            for (c, d) in h.iter().zip(row.iter()) {
                if let Some(c) = c {
                    r.cells.insert(*c, cell_of(d));
                }
            }
            for c in h.iter().flatten() {
                r.cells.entry(*c).or_insert(None);
            }
            rows.push(r);
        }
    }
    Ok(rows)
}

/// Reads a workbook: the station from the file name, dates from the sheet names.
pub fn read_workbook(
    path: &Path,
    shown: &str,
    catalog: &Catalog,
    starts: &StartDates,
    q: &mut Collector,
    out: &mut Found,
) -> Result<(), String> {
    let rows = workbook_rows(path, shown, q)?;
    let name = super::file_name(path);
    match catalog.for_file(&name) {
        Some(entry) => {
            resolve(shown, entry, starts.anchor(entry), rows, q, out);
            Ok(())
        }
        None => {
            let msg = no_station(&name);
            reject_rows(q, &rows, "unknown station", &msg);
            Err(msg)
        }
    }
}

/// Refuses every non-blank row (blank rows are not records).
pub fn reject_rows(q: &mut Collector, rows: &[RawRow], reason: &str, detail: &str) {
    for r in rows.iter().filter(|r| !r.is_blank()) {
        q.begin(SOURCE);
        q.reject(SOURCE, &r.loc, reason, detail);
        q.end(SOURCE);
    }
}

pub fn no_station(name: &str) -> String {
    format!(
        "no station of the stations file has a file_match contained in {name:?}: add one \
         (Weather Underground files do not name their station)"
    )
}

/// How one row's date was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum How {
    DateColumn,
    DateTime,
    SheetName,
    Reconstructed,
}

impl How {
    fn label(self) -> &'static str {
        match self {
            How::DateColumn => "date column",
            How::DateTime => "date-times in the Time column",
            How::SheetName => "sheet names (DDMMYY)",
            How::Reconstructed => "reconstructed from the times wrapping back past midnight",
        }
    }
}

/// Dates, UTC instants and documents for the rows of one station of one input, in order.
pub fn resolve(
    input: &str,
    entry: &Entry,
    anchor: Option<(NaiveDate, String)>,
    rows: Vec<RawRow>,
    q: &mut Collector,
    out: &mut Found,
) {
    let id = entry.station.station_id.clone();
    let mut rep = DateReport {
        input: input.to_string(),
        station_id: id.clone(),
        ..Default::default()
    };
    let Some(tz) = entry.timezone else {
        let why = format!("station {id} has no timezone in the stations file");
        reject_rows(q, &rows, "no time zone", &why);
        rep.method = "none: no time zone".into();
        q.dates.push(rep);
        return;
    };
    let mut dates = Dates {
        id,
        tz,
        anchor,
        rep,
        day: None,
        prev_secs: None,
        blank_since: false,
        prev_instant: None,
        how_count: BTreeMap::new(),
        days: Default::default(),
        anchor_used: false,
    };
    for r in rows {
        dates.row(r, entry, q, out);
    }
    q.dates.push(dates.finish());
}

/// A refused row: (reason, detail).
type Refused = (&'static str, String);

/// The dates of one station's rows, row after row (see the module's documentation).
struct Dates {
    id: String,
    tz: chrono_tz::Tz,
    anchor: Option<(NaiveDate, String)>,
    rep: DateReport,
    /// The previous row's date and time of day.
    day: Option<NaiveDate>,
    prev_secs: Option<u32>,
    /// A blank record came since the previous row.
    blank_since: bool,
    prev_instant: Option<i64>,
    how_count: BTreeMap<How, u64>,
    days: std::collections::BTreeSet<NaiveDate>,
    anchor_used: bool,
}

impl Dates {
    fn row(&mut self, r: RawRow, entry: &Entry, q: &mut Collector, out: &mut Found) {
        if r.is_blank() {
            self.rep.blank_records += 1;
            if self.prev_secs.is_some() {
                self.blank_since = true;
            }
            return;
        }
        q.begin(SOURCE);
        match self.place(&r, q) {
            Ok(instant) => {
                let measurements = measurements_of(&r, q);
                let d = Document {
                    source: Source::WeatherUnderground,
                    station: entry.station.clone(),
                    timestamp: instant,
                    measurements,
                };
                out.push(d, r.loc);
            }
            Err((reason, detail)) => q.reject(SOURCE, &r.loc, reason, &detail),
        }
        q.end(SOURCE);
    }

    /// The row's UTC instant.
    fn place(&mut self, r: &RawRow, q: &mut Collector) -> Result<i64, Refused> {
        let time_cell = r
            .cell(Col::Time)
            .ok_or(("no time", "empty Time".to_string()))?;
        let (secs, time_date) = time_of(time_cell).map_err(|e| ("bad time", e))?;
        let given = given_date(r, time_date, q);
        let (date, how) = self.date(r, secs, given)?;
        self.day = Some(date);
        self.prev_secs = Some(secs);
        self.blank_since = false;
        let instant = self.instant(date, secs)?;
        self.prev_instant = Some(instant);
        *self.how_count.entry(how).or_default() += 1;
        self.days.insert(date);
        Ok(instant)
    }

    /// The row's date: the given one (cross-checked with the reconstruction), else the
    /// reconstruction.
    fn date(
        &mut self,
        r: &RawRow,
        secs: u32,
        given: Option<(NaiveDate, How)>,
    ) -> Result<(NaiveDate, How), Refused> {
        let wrapped = match (self.prev_secs, self.day) {
            (Some(p), Some(dd)) => {
                // The autumn hour seen twice goes back less than an hour without a new day.
                let repeat = !self.blank_since
                    && secs < p
                    && p - secs < 3600
                    && ambiguous(&self.tz, dd, secs)
                    && ambiguous(&self.tz, dd, p);
                (secs < p && !repeat) || (secs == p && self.blank_since)
            }
            _ => false,
        };
        let recon = match (self.prev_secs, self.day) {
            (Some(_), Some(d)) if wrapped => d.checked_add_days(Days::new(1)),
            (Some(_), Some(d)) => Some(d),
            // The first row: the anchor, unless the row carries its date.
            (None, _) if given.is_none() => {
                self.anchor_used = self.anchor.is_some();
                self.anchor.as_ref().map(|(d, _)| *d)
            }
            _ => None,
        };
        if wrapped {
            self.rep.day_changes += 1;
        }
        if self.blank_since && !wrapped {
            self.rep.blank_without_day_change += 1;
            self.warn(format!(
                "{}: a blank record comes before, but the time does not go back: same day \
                 assumed",
                r.loc
            ));
        }
        match (given, recon) {
            (Some((g, how)), r_date) => {
                if let Some(rd) = r_date {
                    self.rep.cross_checked += 1;
                    if rd != g {
                        self.rep.cross_check_mismatches += 1;
                        let what = how.label();
                        self.warn(format!(
                            "{}: {what} says {g}, the reconstruction {rd}: {g} is used",
                            r.loc
                        ));
                    }
                }
                Ok((g, how))
            }
            (None, Some(rd)) => Ok((rd, How::Reconstructed)),
            (None, None) => {
                let id = &self.id;
                Err((
                    "no date",
                    format!(
                        "a dateless record and no start date for station {id}: give \
                         --start-date {id}=YYYY-MM-DD or a start_date in the stations file"
                    ),
                ))
            }
        }
    }

    fn warn(&mut self, w: String) {
        if self.rep.warnings.len() < super::quality::SAMPLES {
            self.rep.warnings.push(w);
        }
    }

    /// The UTC instant of a local date and time (in 1900..2100).
    fn instant(&self, date: NaiveDate, secs: u32) -> Result<i64, Refused> {
        let (tz, naive) = (&self.tz, local(date, secs));
        let instant = match tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => t.timestamp(),
            // The autumn hour seen twice: the first pass, unless the rows are already past it.
            LocalResult::Ambiguous(a, b) => {
                if self.prev_instant.is_some_and(|p| p >= a.timestamp()) {
                    b.timestamp()
                } else {
                    a.timestamp()
                }
            }
            LocalResult::None => {
                let why = format!("{naive} does not exist in {tz} (skipped by the DST change)");
                return Err(("nonexistent local time", why));
            }
        };
        if !super::plausible(instant) {
            let why = format!("{naive} is not in 1900..2100");
            return Err(("date out of range", why));
        }
        Ok(instant)
    }

    /// The report: which method gave the dates, the anchor, the days covered.
    fn finish(self) -> DateReport {
        let mut rep = self.rep;
        rep.method = match self.how_count.len() {
            0 => "none".into(),
            1 => self.how_count.keys().next().unwrap().label().into(),
            _ => format!(
                "mixed: {}",
                self.how_count
                    .iter()
                    .map(|(h, n)| format!("{} ({n} rows)", h.label()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        if self.anchor_used {
            rep.anchor = self.anchor.map(|(d, from)| format!("{d} ({from})"));
        }
        rep.first_date = self.days.first().map(|d| d.to_string());
        rep.last_date = self.days.last().map(|d| d.to_string());
        rep.days = self.days.len();
        rep
    }
}

/// The date a row carries: its Date column, a date-time in its Time column, its sheet's name.
fn given_date(
    r: &RawRow,
    time_date: Option<NaiveDate>,
    q: &mut Collector,
) -> Option<(NaiveDate, How)> {
    let column_date = match r.cell(Col::Date).map(|c| (c, date_of(c))) {
        Some((_, Ok(d))) => Some(d),
        Some((c, Err(e))) => {
            q.unparseable(SOURCE, &r.loc, "Date", &c.text(), &e);
            None
        }
        None => None,
    };
    column_date
        .map(|d| (d, How::DateColumn))
        .or(time_date.map(|d| (d, How::DateTime)))
        .or(r.sheet_date.map(|d| (d, How::SheetName)))
}

fn local(day: NaiveDate, secs: u32) -> NaiveDateTime {
    day.and_time(NaiveTime::MIN) + chrono::Duration::seconds(i64::from(secs))
}

fn ambiguous(tz: &chrono_tz::Tz, day: NaiveDate, secs: u32) -> bool {
    matches!(
        tz.from_local_datetime(&local(day, secs)),
        LocalResult::Ambiguous(..)
    )
}

fn measurements_of(r: &RawRow, q: &mut Collector) -> Vec<(String, Value)> {
    let mut m: Vec<(usize, &'static str, Value)> = Vec::new();
    for (col, cell) in &r.cells {
        let Some((field, quantity)) = col.target() else {
            continue;
        };
        let v = match cell {
            None => Value::Null,
            Some(c) => {
                let t = c.text();
                let res: Result<Dec, _> = match quantity {
                    Some(qty) => read_with_unit(&t, qty),
                    None => direction_degrees(&t),
                };
                match res {
                    Ok(d) => Value::Num(d.to_f64()),
                    Err(e) => {
                        q.unparseable(SOURCE, &r.loc, col.header(), &t, &e.to_string());
                        Value::Null
                    }
                }
            }
        };
        let pos = FIELDS
            .iter()
            .position(|f| *f == field)
            .unwrap_or(usize::MAX);
        m.push((pos, field, v));
    }
    m.sort_by_key(|(p, _, _)| *p);
    m.into_iter().map(|(_, k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;

    fn entry() -> Entry {
        Entry {
            station: super::super::Station {
                station_id: "ILAMAD25".into(),
                ..Default::default()
            },
            timezone: Some(Paris),
            file_match: Some("madeleine".into()),
            start_date: None,
        }
    }

    fn row(loc: &str, time: Option<&str>, temp: Option<&str>) -> RawRow {
        let mut r = RawRow {
            loc: loc.into(),
            ..Default::default()
        };
        r.cells
            .insert(Col::Time, time.map(|t| Cell::Text(t.into())));
        r.cells
            .insert(Col::Temperature, temp.map(|t| Cell::Text(t.into())));
        r
    }

    /// Resolves rows of [`entry`] with an anchor: (documents, notes).
    fn resolved(
        e: &Entry,
        anchor: Option<(&str, &str)>,
        rows: Vec<RawRow>,
    ) -> (Vec<Document>, Collector) {
        let mut q = Collector::default();
        let mut found = Found::default();
        let anchor = anchor.map(|(a, from)| (d(a), from.to_string()));
        resolve("in", e, anchor, rows, &mut q, &mut found);
        (found.docs, q)
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn headers_times_and_sheet_names() {
        assert_eq!(Col::of("Precip. Rate."), Some(Col::PrecipRate));
        assert_eq!(Col::of("Precip__Accum_"), Some(Col::PrecipAccum));
        assert_eq!(Col::of("Dew Point"), Some(Col::DewPoint));
        assert_eq!(Col::of("Visibility"), None);
        // 0.00277… day × 86400 = 240 s = 00:04
        assert_eq!(
            time_of(&Cell::Num(2.777_777_777_777_778e-3)),
            Ok((240, None))
        );
        assert_eq!(time_of(&Cell::Text("12:04 AM".into())), Ok((240, None)));
        assert_eq!(
            time_of(&Cell::Text("2:59 PM".into())),
            Ok((14 * 3600 + 59 * 60, None))
        );
        assert_eq!(time_of(&Cell::Text("00:04:00".into())), Ok((240, None)));
        // 45566 days after 1899-12-30 = 2024-10-01; .5 = noon
        assert_eq!(
            time_of(&Cell::Num(45566.5)),
            Ok((43_200, Some(d("2024-10-01"))))
        );
        assert!(time_of(&Cell::Text("noon".into())).is_err());
        assert_eq!(sheet_date("011024"), Some(d("2024-10-01")));
        assert_eq!(sheet_date("311324"), None);
        assert_eq!(sheet_date("Sheet1"), None);
        assert_eq!(
            date_of(&Cell::Text("2024-10-02".into())),
            Ok(d("2024-10-02"))
        );
    }

    #[test]
    fn reconstructs_dates_from_wraps_and_converts_to_utc() {
        let rows = vec![
            row("f:1", None, None), // blank: sheet separator
            row("f:2", Some("23:55:00"), Some("56.2\u{a0}°F")),
            row("f:3", None, None),
            row("f:4", Some("00:04:00"), Some("50 °F")),
            row("f:5", Some("13:00:00"), Some("oops °F")),
            row("f:6", Some("00:10:00"), Some("50 °F")), // wraps without a blank
            row("f:7", None, None),
            row("f:8", Some("00:20:00"), Some("50 °F")), // a blank, but no wrap: same day
        ];
        let (out, q) = resolved(&entry(), Some(("2024-09-30", "flag")), rows);
        let ts: Vec<String> = out.iter().map(|d| d.timestamp_text()).collect();
        // Paris is UTC+2 in October: 2024-09-30 23:55 -> 21:55Z; 2024-10-01 00:04 -> 2024-09-30 22:04Z
        assert_eq!(
            ts,
            vec![
                "2024-09-30T21:55:00Z",
                "2024-09-30T22:04:00Z",
                "2024-10-01T11:00:00Z",
                "2024-10-01T22:10:00Z",
                "2024-10-01T22:20:00Z"
            ]
        );
        // (56.2 − 32) × 5/9 = 13.444… -> 13.44; (50 − 32) × 5/9 = 10
        assert_eq!(out[0].value("temperature_c"), Some(13.44));
        assert_eq!(out[1].value("temperature_c"), Some(10.0));
        assert_eq!(out[2].value("temperature_c"), None);
        let rep = &q.dates[0];
        assert_eq!(rep.method, How::Reconstructed.label());
        assert_eq!(rep.anchor.as_deref(), Some("2024-09-30 (flag)"));
        assert_eq!((rep.day_changes, rep.blank_records, rep.days), (2, 3, 3));
        assert_eq!(rep.blank_without_day_change, 1);
        assert!(rep.warnings[0].starts_with("f:8: a blank record comes before"));
        assert_eq!(rep.last_date.as_deref(), Some("2024-10-02"));
        assert_eq!(q.sources[SOURCE].values_unparseable, 1);
    }

    #[test]
    fn given_dates_win_and_are_cross_checked() {
        let mut a = row("s1 r3", Some("23:00"), Some("50 °F"));
        a.sheet_date = Some(d("2024-10-01"));
        let mut b = row("s2 r3", Some("01:00"), Some("50 °F"));
        // The reconstruction says 10-02; the sheet name says 10-03 (a missing day).
        b.sheet_date = Some(d("2024-10-03"));
        // The anchor is not used: the first row carries its date.
        let (out, q) = resolved(&entry(), Some(("2020-01-01", "x")), vec![a, b]);
        assert_eq!(out[1].timestamp_text(), "2024-10-02T23:00:00Z");
        let rep = &q.dates[0];
        assert_eq!(rep.method, "sheet names (DDMMYY)");
        assert_eq!(rep.anchor, None);
        assert_eq!((rep.cross_checked, rep.cross_check_mismatches), (1, 1));
        assert!(!q.is_clean());
    }

    #[test]
    fn no_date_no_zone_and_dst() {
        let (out, q) = resolved(&entry(), None, vec![row("n:1", Some("10:00"), None)]);
        assert!(out.is_empty());
        assert!(q.rejected_samples[0].contains("--start-date ILAMAD25=YYYY-MM-DD"));
        // 2024-10-27 02:30 happens twice in Paris: 00:30Z then 01:30Z; 2024-03-31 02:30 never.
        let rows = vec![
            row("t:1", Some("02:30"), None),
            row("t:2", Some("02:45"), None),
            row("t:3", Some("02:30"), None),
        ];
        let (out, q) = resolved(&entry(), Some(("2024-10-27", "f")), rows);
        // The third row goes back 15 minutes inside the repeated hour: the second pass, same day.
        let ts: Vec<String> = out.iter().map(|d| d.timestamp_text()).collect();
        assert_eq!(
            ts,
            vec![
                "2024-10-27T00:30:00Z",
                "2024-10-27T00:45:00Z",
                "2024-10-27T01:30:00Z"
            ]
        );
        assert_eq!(q.dates[0].day_changes, 0);
        let (out, q) = resolved(
            &entry(),
            Some(("2024-03-31", "f")),
            vec![row("g:1", Some("02:30"), None)],
        );
        assert!(out.is_empty());
        assert!(q.rejected_samples[0].contains("nonexistent local time"));
        let mut e = entry();
        e.timezone = None;
        let (_, q) = resolved(&e, None, vec![row("z:1", Some("1:00"), None)]);
        assert!(q.rejected_samples[0].contains("no timezone"));
    }
}
