//! Weather (`weather`): one entry per Paris day, chosen among every record of every file.
//!
//! Inputs (read by [`crate::sources::weather`]): Visual Crossing timeline days, OpenWeatherMap One
//! Call `daily[]` and `hourly[]`, Open-Meteo `daily` and `hourly` columns (JSON or CSV export).
//! Values are normalised to °C, mm and km/h and kept as integers scaled by 10⁴ ([`SCALE`]), so
//! sums are exact and the result never depends on how rows are split over files or threads.
//!
//! Rules (prototype §2.4, with its bugs §7.11 and §7.18 fixed):
//! - `metrics(acc, D)` is the entry **for day D** (the prototype took `days[0]` whatever the
//!   date). [`WeatherAcc::days`] is every Paris day with an entry in any file.
//! - **One entry per day**, by a fixed source priority ([`Kind`] order): Visual Crossing >
//!   OpenWeatherMap daily > Open-Meteo daily > OpenWeatherMap hours aggregated > Open-Meteo hours
//!   aggregated. Between entries of the same kind: the one from the newest file (partition date,
//!   then path: a later snapshot corrects an earlier one), then the one with more values, then
//!   by value. Every other record of the day is a duplicate ([`WeatherAcc::duplicates`]),
//!   conflicting when a number present in both differs (at the output's 0.01 precision).
//! - **Hours aggregated into a day** (only when the day has no daily record): the hours of one
//!   provider, each instant counted once; `temp_moyenne` = mean of the hourly temperatures,
//!   `temp_min`/`temp_max` = their min/max, `precip_totale` = Σ hourly precipitation (exact),
//!   `vent_moyen` = the max hourly wind (the daily figure every provider gives is a daily maximum:
//!   Visual Crossing `windspeed`, Open-Meteo `wind_speed_10m_max`), `conditions` = the most severe
//!   WMO code (Open-Meteo) or the most frequent OpenWeatherMap `main` (ties: the earliest).
//!   `source` says how many hours of the Paris day were present, e.g. `open-meteo hourly (23/24 h)`.
//! - Output values are rounded to 0.01; the categories are decided on those rounded values, so
//!   the output is self-consistent: `Pluvieux` precip ≥ 5 mm, `Venteux` wind ≥ 30 km/h, `Froid`
//!   temp < 10 °C, `Chaud` temp > 25 °C. A missing value decides nothing (no category from it).
//! - `impact_mobilite` = 50 − 20 (Pluvieux) − 10 (Venteux) − 10 (Froid) + 5 (Chaud), clamped to
//!   0..100. `Venteux` now counts (−10): the prototype computed it and then ignored it (§7.11).
//! - Cleaning happens when reading (see the source): tempmin > tempmax rejects the record, a mean
//!   outside [min, max] or missing becomes the midpoint (min+max)/2, a null is a missing value.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Europe::Paris;
use serde::Serialize;

use crate::geo::ArrondissementIndex;
use crate::metrics::{merge_keyed, DayDuplicates};
use crate::time::{format_paris, Instant};

/// Values are kept to 0.0001 (°C, mm, km/h).
pub const DIGITS: u32 = 4;
pub const SCALE: i64 = 10_000;

/// Thresholds (in hundredths, the output precision).
const PLUVIEUX_MM: i64 = 500;
const VENTEUX_KMH: i64 = 3_000;
const FROID_C: i64 = 1_000;
const CHAUD_C: i64 = 2_500;
/// Duplicate samples kept per day.
const DUP_SAMPLES: usize = 5;

/// Where an entry comes from, in priority order (first wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    VisualCrossing,
    OwmDaily,
    OpenMeteoDaily,
    OwmHourly,
    OpenMeteoHourly,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::VisualCrossing => "visual-crossing daily",
            Kind::OwmDaily => "openweathermap daily",
            Kind::OpenMeteoDaily => "open-meteo daily",
            Kind::OwmHourly => "openweathermap hourly",
            Kind::OpenMeteoHourly => "open-meteo hourly",
        }
    }

    pub fn is_hourly(self) -> bool {
        matches!(self, Kind::OwmHourly | Kind::OpenMeteoHourly)
    }
}

/// The record a value comes from: file (with its partition date) and position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    pub partition: Option<NaiveDate>,
    pub file: Arc<str>,
    pub line: u64,
    /// Array the record is in (`days`, `daily`, `hourly`), empty for a CSV line.
    pub array: &'static str,
    pub item: u32,
}

impl Origin {
    pub fn render(&self) -> String {
        if self.array.is_empty() {
            format!("{}:{}", self.file, self.line)
        } else {
            format!("{}:{} {}[{}]", self.file, self.line, self.array, self.item)
        }
    }

    /// Newer files first: (partition date, path), larger is newer.
    fn recency(&self) -> Reverse<(Option<NaiveDate>, &str)> {
        Reverse((self.partition, &*self.file))
    }
}

/// A mean as an exact fraction `sum / n` of scaled values (n ≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mean {
    pub sum: i64,
    pub n: i64,
}

impl Mean {
    pub fn of(x: i64) -> Mean {
        Mean { sum: x, n: 1 }
    }

    /// (a + b) / 2.
    pub fn midpoint(a: i64, b: i64) -> Mean {
        Mean { sum: a + b, n: 2 }
    }

    /// Rounded to the output precision (0.01), half away from zero.
    pub fn hundredths(self) -> i64 {
        div_round(i128::from(self.sum), i128::from(self.n) * 100)
    }

    /// Strictly below `x` / above `x` (exact comparison).
    pub fn below(self, x: i64) -> bool {
        i128::from(self.sum) < i128::from(x) * i128::from(self.n)
    }

    pub fn above(self, x: i64) -> bool {
        i128::from(self.sum) > i128::from(x) * i128::from(self.n)
    }
}

/// `num / den` rounded half away from zero (den > 0).
pub fn div_round(num: i128, den: i128) -> i64 {
    let q = num / den;
    let r = num % den;
    let q = if 2 * r.abs() >= den {
        q + num.signum()
    } else {
        q
    };
    q as i64
}

fn hundredths(x: i64) -> i64 {
    div_round(i128::from(x), 100)
}

fn out(h: i64) -> f64 {
    h as f64 / 100.0
}

/// One day's values, normalised (°C, mm, km/h, scaled by [`SCALE`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct DayValues {
    pub temp_mean: Option<Mean>,
    pub temp_min: Option<i64>,
    pub temp_max: Option<i64>,
    pub precip: Option<i64>,
    pub wind: Option<i64>,
    pub conditions: Option<String>,
}

impl DayValues {
    /// How many numeric values are present.
    pub fn present(&self) -> usize {
        usize::from(self.temp_mean.is_some())
            + [self.temp_min, self.temp_max, self.precip, self.wind]
                .iter()
                .filter(|v| v.is_some())
                .count()
    }

    /// The numbers as output (hundredths): mean, min, max, precip, wind.
    fn numbers(&self) -> [Option<i64>; 5] {
        [
            self.temp_mean.map(Mean::hundredths),
            self.temp_min.map(hundredths),
            self.temp_max.map(hundredths),
            self.precip.map(hundredths),
            self.wind.map(hundredths),
        ]
    }

    /// A number present in both differs (at the output precision).
    fn differs(&self, o: &DayValues) -> bool {
        differ(&self.numbers(), &o.numbers())
    }
}

fn differ<const N: usize>(a: &[Option<i64>; N], b: &[Option<i64>; N]) -> bool {
    a.iter()
        .zip(b)
        .any(|(x, y)| matches!((x, y), (Some(x), Some(y)) if x != y))
}

/// A daily record (Visual Crossing day, OWM `daily[]`, Open-Meteo `daily` row).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DailyEntry {
    pub kind: Kind,
    pub values: DayValues,
    pub origin: Origin,
}

impl DailyEntry {
    fn rank(&self) -> impl Ord + '_ {
        (
            self.kind,
            self.origin.recency(),
            Reverse(self.values.present()),
            &self.values,
            self.origin.line,
            self.origin.item,
        )
    }
}

/// An hourly record (OWM `hourly[]`, Open-Meteo `hourly` row), normalised like [`DayValues`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HourRow {
    pub kind: Kind,
    pub t: Instant,
    pub temp: Option<i64>,
    pub precip: Option<i64>,
    pub wind: Option<i64>,
    /// Open-Meteo WMO weather code.
    pub wmo: Option<u16>,
    /// OpenWeatherMap `weather[0].main`.
    pub label: Option<String>,
    pub origin: Origin,
}

impl HourRow {
    fn numbers(&self) -> [Option<i64>; 3] {
        [
            self.temp.map(hundredths),
            self.precip.map(hundredths),
            self.wind.map(hundredths),
        ]
    }

    fn present(&self) -> usize {
        [self.temp, self.precip, self.wind]
            .iter()
            .filter(|v| v.is_some())
            .count()
    }

    fn rank(&self) -> impl Ord + '_ {
        (
            self.origin.recency(),
            Reverse(self.present()),
            (self.temp, self.precip, self.wind, self.wmo, &self.label),
            self.origin.line,
            self.origin.item,
        )
    }
}

/// Every record of one Paris day, sorted (so equal accumulators compare equal).
#[derive(Debug, Clone, Default, PartialEq)]
struct DayCands {
    daily: Vec<DailyEntry>,
    hours: Vec<HourRow>,
}

fn insert_sorted<T: Ord>(v: &mut Vec<T>, x: T) {
    let i = v.binary_search(&x).unwrap_or_else(|i| i);
    v.insert(i, x);
}

/// The hours of one kind on one day: each instant's kept row and its repeats.
struct HourGroup<'a> {
    kept: &'a HourRow,
    repeats: Vec<&'a HourRow>,
}

/// The entry kept for a day.
enum Kept<'a> {
    Daily(&'a DailyEntry),
    Hourly {
        kind: Kind,
        values: DayValues,
        hours: usize,
    },
}

impl Kept<'_> {
    fn values(&self) -> &DayValues {
        match self {
            Kept::Daily(e) => &e.values,
            Kept::Hourly { values, .. } => values,
        }
    }

    fn describe(&self) -> String {
        match self {
            Kept::Daily(e) => format!("{} ({})", e.kind.label(), e.origin.render()),
            Kept::Hourly { kind, hours, .. } => format!("{} ({hours} h)", kind.label()),
        }
    }
}

impl DayCands {
    /// Hours grouped by kind then instant (the vector is sorted by kind, then instant).
    fn hour_groups(&self) -> BTreeMap<Kind, Vec<HourGroup<'_>>> {
        let mut out: BTreeMap<Kind, Vec<HourGroup<'_>>> = BTreeMap::new();
        for chunk in self.hours.chunk_by(|a, b| (a.kind, a.t) == (b.kind, b.t)) {
            let kept = chunk
                .iter()
                .min_by(|a, b| a.rank().cmp(&b.rank()))
                .expect("chunks are not empty");
            let repeats = chunk.iter().filter(|r| !std::ptr::eq(*r, kept)).collect();
            out.entry(kept.kind)
                .or_default()
                .push(HourGroup { kept, repeats });
        }
        out
    }

    fn kept<'a>(&'a self, groups: &BTreeMap<Kind, Vec<HourGroup<'a>>>) -> Option<Kept<'a>> {
        if let Some(e) = self.daily.iter().min_by(|a, b| a.rank().cmp(&b.rank())) {
            return Some(Kept::Daily(e));
        }
        let (kind, g) = groups.iter().next()?;
        Some(Kept::Hourly {
            kind: *kind,
            values: aggregate(g),
            hours: g.len(),
        })
    }
}

/// A day from its hours (one kind, one row per instant, sorted by instant).
fn aggregate(g: &[HourGroup<'_>]) -> DayValues {
    let rows = g.iter().map(|h| h.kept);
    let temps: Vec<i64> = rows.clone().filter_map(|r| r.temp).collect();
    let precips: Vec<i64> = rows.clone().filter_map(|r| r.precip).collect();
    let conditions = match rows.clone().filter_map(|r| r.wmo).max() {
        Some(code) => Some(wmo_text(code)),
        None => {
            // the most frequent label; ties: the one seen first in time
            let mut counts: Vec<(&str, usize)> = Vec::new();
            for l in rows.clone().filter_map(|r| r.label.as_deref()) {
                match counts.iter_mut().find(|(x, _)| *x == l) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((l, 1)),
                }
            }
            let best = counts.iter().map(|(_, n)| *n).max();
            counts
                .iter()
                .find(|(_, n)| Some(*n) == best)
                .map(|(l, _)| l.to_string())
        }
    };
    DayValues {
        temp_mean: (!temps.is_empty()).then(|| Mean {
            sum: temps.iter().sum(),
            n: temps.len() as i64,
        }),
        temp_min: temps.iter().min().copied(),
        temp_max: temps.iter().max().copied(),
        precip: (!precips.is_empty()).then(|| precips.iter().sum()),
        wind: rows.filter_map(|r| r.wind).max(),
        conditions,
    }
}

/// Open-Meteo's WMO weather interpretation codes.
pub fn wmo_text(code: u16) -> String {
    let s = match code {
        0 => "Clear sky",
        1 => "Mainly clear",
        2 => "Partly cloudy",
        3 => "Overcast",
        45 => "Fog",
        48 => "Depositing rime fog",
        51 => "Light drizzle",
        53 => "Moderate drizzle",
        55 => "Dense drizzle",
        56 => "Light freezing drizzle",
        57 => "Dense freezing drizzle",
        61 => "Slight rain",
        63 => "Moderate rain",
        65 => "Heavy rain",
        66 => "Light freezing rain",
        67 => "Heavy freezing rain",
        71 => "Slight snow fall",
        73 => "Moderate snow fall",
        75 => "Heavy snow fall",
        77 => "Snow grains",
        80 => "Slight rain showers",
        81 => "Moderate rain showers",
        82 => "Violent rain showers",
        85 => "Slight snow showers",
        86 => "Heavy snow showers",
        95 => "Thunderstorm",
        96 => "Thunderstorm with slight hail",
        99 => "Thunderstorm with heavy hail",
        _ => return format!("WMO code {code}"),
    };
    s.to_string()
}

/// How many hours the Paris day has (23, 24 or 25).
pub fn paris_day_hours(d: NaiveDate) -> i64 {
    let start = |d: NaiveDate| {
        Paris
            .from_local_datetime(&d.and_time(NaiveTime::MIN))
            .earliest()
            .map(|t| t.timestamp())
    };
    match (start(d), d.succ_opt().and_then(start)) {
        (Some(a), Some(b)) => (b - a) / 3600,
        _ => 24,
    }
}

/// The mergeable accumulator of every `weather` record read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeatherAcc {
    days: BTreeMap<NaiveDate, DayCands>,
}

impl WeatherAcc {
    /// Adds a daily record for the Paris day `day`.
    pub fn add_daily(&mut self, day: NaiveDate, e: DailyEntry) {
        insert_sorted(&mut self.days.entry(day).or_default().daily, e);
    }

    /// Adds an hourly record; `day` is the Paris day of `h.t`.
    pub fn add_hour(&mut self, day: NaiveDate, h: HourRow) {
        insert_sorted(&mut self.days.entry(day).or_default().hours, h);
    }

    pub fn merge(&mut self, other: WeatherAcc) {
        merge_keyed(&mut self.days, other.days, |cur, c| {
            for e in c.daily {
                insert_sorted(&mut cur.daily, e);
            }
            for h in c.hours {
                insert_sorted(&mut cur.hours, h);
            }
        });
    }

    /// Paris days this source has data for.
    pub fn days(&self) -> BTreeSet<NaiveDate> {
        self.days.keys().copied().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// Records of `day` not kept: other daily records, repeated hours, and the hours of every
    /// provider whose aggregate is not the kept entry (None: records have no date of their own,
    /// so there are none).
    pub fn duplicates(&self, day: Option<NaiveDate>) -> DayDuplicates {
        let mut dd = DayDuplicates::default();
        let Some(c) = day.and_then(|d| self.days.get(&d)) else {
            return dd;
        };
        let day = day.expect("checked");
        let groups = c.hour_groups();
        let Some(kept) = c.kept(&groups) else {
            return dd;
        };
        let kv = kept.values();
        let sample = |dd: &mut DayDuplicates, s: String| {
            if dd.samples.len() < DUP_SAMPLES {
                dd.samples.push(s);
            }
        };
        for e in &c.daily {
            if matches!(kept, Kept::Daily(k) if std::ptr::eq(k, e)) {
                continue;
            }
            dd.count += 1;
            let differs = e.values.differs(kv);
            dd.conflicting += u64::from(differs);
            let s = format!(
                "{day}: {} ({}) not used, {} kept{}",
                e.kind.label(),
                e.origin.render(),
                kept.describe(),
                if differs { "; values differ" } else { "" }
            );
            sample(&mut dd, s);
        }
        for (kind, g) in &groups {
            for h in g {
                for r in &h.repeats {
                    dd.count += 1;
                    let differs = differ(&r.numbers(), &h.kept.numbers());
                    dd.conflicting += u64::from(differs);
                    let s = format!(
                        "{} at {} repeated ({}){}",
                        kind.label(),
                        format_paris(r.t),
                        r.origin.render(),
                        if differs { "; values differ" } else { "" }
                    );
                    sample(&mut dd, s);
                }
            }
            if matches!(kept, Kept::Hourly { kind: k, .. } if k == *kind) {
                continue;
            }
            let n = g.len() as u64;
            dd.count += n;
            let differs = aggregate(g).differs(kv);
            if differs {
                dd.conflicting += n;
            }
            let s = format!(
                "{day}: {n} {} row(s) not used, {} kept{}",
                kind.label(),
                kept.describe(),
                if differs { "; values differ" } else { "" }
            );
            sample(&mut dd, s);
        }
        dd
    }
}

/// `metrics` of `weather_metrics_<date>.json` (the prototype's keys, then `source`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WeatherDay {
    pub date: String,
    pub temp_moyenne: Option<f64>,
    pub temp_min: Option<f64>,
    pub temp_max: Option<f64>,
    pub precip_totale: Option<f64>,
    pub vent_moyen: Option<f64>,
    pub conditions: Option<String>,
    pub impact_mobilite: f64,
    /// Which record was kept, e.g. `visual-crossing daily`, `open-meteo hourly (24/24 h)`.
    pub source: String,
}

/// `weather_metrics_<date>.json`'s `metrics`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WeatherMetrics {
    pub metrics: WeatherDay,
    pub impact_mobilite: f64,
    pub categories: Vec<&'static str>,
}

/// Categories (in the prototype's order) and the mobility impact of a day's output values
/// (hundredths). A missing value decides nothing.
pub fn categorise(
    temp: Option<i64>,
    precip: Option<i64>,
    wind: Option<i64>,
) -> (Vec<&'static str>, f64) {
    let mut cats = Vec::new();
    let mut impact: i64 = 50;
    if precip.is_some_and(|p| p >= PLUVIEUX_MM) {
        cats.push("Pluvieux");
        impact -= 20;
    }
    if wind.is_some_and(|w| w >= VENTEUX_KMH) {
        cats.push("Venteux");
        impact -= 10;
    }
    if temp.is_some_and(|t| t < FROID_C) {
        cats.push("Froid");
        impact -= 10;
    }
    if temp.is_some_and(|t| t > CHAUD_C) {
        cats.push("Chaud");
        impact += 5;
    }
    (cats, impact.clamp(0, 100) as f64)
}

/// The metrics of `day`, or None when the source has nothing for it.
pub fn metrics(
    acc: &WeatherAcc,
    day: NaiveDate,
    arrondissements: &ArrondissementIndex,
) -> Option<WeatherMetrics> {
    let _ = arrondissements;
    let c = acc.days.get(&day)?;
    let groups = c.hour_groups();
    let kept = c.kept(&groups)?;
    let source = match &kept {
        Kept::Daily(e) => e.kind.label().to_string(),
        Kept::Hourly { kind, hours, .. } => {
            format!("{} ({hours}/{} h)", kind.label(), paris_day_hours(day))
        }
    };
    let v = kept.values();
    let [mean, min, max, precip, wind] = v.numbers();
    let (categories, impact) = categorise(mean, precip, wind);
    Some(WeatherMetrics {
        metrics: WeatherDay {
            date: day.to_string(),
            temp_moyenne: mean.map(out),
            temp_min: min.map(out),
            temp_max: max.map(out),
            precip_totale: precip.map(out),
            vent_moyen: wind.map(out),
            conditions: v.conditions.clone(),
            impact_mobilite: impact,
            source,
        },
        impact_mobilite: impact,
        categories,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn origin(file: &str, item: u32) -> Origin {
        Origin {
            partition: None,
            file: Arc::from(file),
            line: 1,
            array: "daily",
            item,
        }
    }

    /// Scaled value of a decimal given in hundredths (1560 -> 15.6 °C).
    fn s(h: i64) -> i64 {
        h * 100
    }

    fn entry(kind: Kind, file: &str, mean: i64, min: i64, max: i64, p: i64) -> DailyEntry {
        DailyEntry {
            kind,
            values: DayValues {
                temp_mean: Some(Mean::of(s(mean))),
                temp_min: Some(s(min)),
                temp_max: Some(s(max)),
                precip: Some(s(p)),
                wind: None,
                conditions: None,
            },
            origin: origin(file, 0),
        }
    }

    fn hour(kind: Kind, t: Instant, temp: i64, p: i64, w: i64, file: &str) -> HourRow {
        HourRow {
            kind,
            t,
            temp: Some(s(temp)),
            precip: Some(s(p)),
            wind: Some(s(w)),
            wmo: None,
            label: None,
            origin: origin(file, t),
        }
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(-5, 2), -3);
        assert_eq!(div_round(4, 3), 1);
        assert_eq!(div_round(-4, 3), -1);
        // (7.3 + 15.6) / 2 = 11.45 exactly
        assert_eq!(Mean::midpoint(73_000, 156_000).hundredths(), 1145);
        // 29.412 km/h -> 29.41 ; 0.005 -> 0.01
        assert_eq!(hundredths(294_120), 2941);
        assert_eq!(hundredths(50), 1);
        assert_eq!(hundredths(-50), -1);
    }

    #[test]
    fn categories_and_impact() {
        // nothing: 50
        assert_eq!(categorise(Some(1160), Some(0), Some(1550)), (vec![], 50.0));
        // Pluvieux (5.00 mm) + Venteux (30.00) + Froid (9.99): 50 - 20 - 10 - 10 = 10
        assert_eq!(
            categorise(Some(999), Some(500), Some(3000)),
            (vec!["Pluvieux", "Venteux", "Froid"], 10.0)
        );
        // thresholds: 4.99 mm, 29.99 km/h, 10.00 °C decide nothing; 25.00 is not Chaud
        assert_eq!(
            categorise(Some(1000), Some(499), Some(2999)),
            (vec![], 50.0)
        );
        assert_eq!(categorise(Some(2500), None, None), (vec![], 50.0));
        // Chaud: 50 + 5 = 55
        assert_eq!(categorise(Some(2501), None, None), (vec!["Chaud"], 55.0));
        // missing values decide nothing
        assert_eq!(categorise(None, None, None), (vec![], 50.0));
    }

    #[test]
    fn the_entry_of_the_day_not_the_first() {
        let mut acc = WeatherAcc::default();
        acc.add_daily(
            d("2025-11-03"),
            entry(Kind::VisualCrossing, "a", 1160, 730, 1560, 0),
        );
        acc.add_daily(
            d("2025-11-04"),
            entry(Kind::VisualCrossing, "a", 800, 500, 1200, 620),
        );
        let idx = ArrondissementIndex::default();
        let m = metrics(&acc, d("2025-11-04"), &idx).unwrap();
        assert_eq!(m.metrics.date, "2025-11-04");
        assert_eq!(m.metrics.temp_moyenne, Some(8.0));
        assert_eq!(m.metrics.precip_totale, Some(6.2));
        // 6.2 mm: Pluvieux; 8.0 °C: Froid -> 50 - 20 - 10 = 20
        assert_eq!(m.categories, vec!["Pluvieux", "Froid"]);
        assert_eq!(m.impact_mobilite, 20.0);
        assert_eq!(m.metrics.impact_mobilite, 20.0);
        assert!(metrics(&acc, d("2025-11-05"), &idx).is_none());
        assert_eq!(
            acc.days().into_iter().collect::<Vec<_>>(),
            vec![d("2025-11-03"), d("2025-11-04")]
        );
    }

    #[test]
    fn priority_between_sources_and_duplicates() {
        let day = d("2025-11-03");
        let mut acc = WeatherAcc::default();
        acc.add_daily(day, entry(Kind::OpenMeteoDaily, "om", 1110, 700, 1500, 0));
        acc.add_daily(day, entry(Kind::VisualCrossing, "vc", 1160, 730, 1560, 0));
        // the same Visual Crossing day again, identical: a duplicate, not conflicting
        acc.add_daily(day, entry(Kind::VisualCrossing, "vc2", 1160, 730, 1560, 0));
        let idx = ArrondissementIndex::default();
        let m = metrics(&acc, day, &idx).unwrap();
        assert_eq!(m.metrics.source, "visual-crossing daily");
        assert_eq!(m.metrics.temp_moyenne, Some(11.6));
        let dup = acc.duplicates(Some(day));
        // 3 records, 1 kept: the Open-Meteo one differs (11.1 vs 11.6), the VC repeat does not
        assert_eq!((dup.count, dup.conflicting), (2, 1));
        assert_eq!(dup.samples.len(), 2);
        // the newer file wins among the same kind
        assert!(dup
            .samples
            .iter()
            .any(|s| s.contains("vc:1") && s.contains("not used")));
        assert_eq!(acc.duplicates(None), DayDuplicates::default());
    }

    #[test]
    fn hours_are_aggregated_only_without_a_daily_record() {
        // 2024-01-10 00:00 Paris = 2024-01-09T23:00Z = 1704841200
        let t0: Instant = 1_704_841_200;
        let day = d("2024-01-10");
        let mut acc = WeatherAcc::default();
        // temps 2.0, 4.0, 9.0 -> mean 5.0, min 2.0, max 9.0; precip 0.1 + 0.2 + 4.75 = 5.05;
        // wind max 31.0
        acc.add_hour(day, hour(Kind::OpenMeteoHourly, t0, 200, 10, 1000, "a"));
        acc.add_hour(
            day,
            hour(Kind::OpenMeteoHourly, t0 + 3600, 400, 20, 3100, "a"),
        );
        acc.add_hour(
            day,
            hour(Kind::OpenMeteoHourly, t0 + 7200, 900, 475, 500, "b"),
        );
        // the second hour repeated with another value: a conflicting duplicate (newest file kept)
        acc.add_hour(
            day,
            hour(Kind::OpenMeteoHourly, t0 + 3600, 450, 20, 3100, "0"),
        );
        let idx = ArrondissementIndex::default();
        let m = metrics(&acc, day, &idx).unwrap();
        assert_eq!(m.metrics.temp_moyenne, Some(5.0));
        assert_eq!(m.metrics.temp_min, Some(2.0));
        assert_eq!(m.metrics.temp_max, Some(9.0));
        assert_eq!(m.metrics.precip_totale, Some(5.05));
        assert_eq!(m.metrics.vent_moyen, Some(31.0));
        assert_eq!(m.metrics.source, "open-meteo hourly (3/24 h)");
        // Pluvieux, Venteux, Froid: 50 - 20 - 10 - 10 = 10
        assert_eq!(m.categories, vec!["Pluvieux", "Venteux", "Froid"]);
        assert_eq!(m.impact_mobilite, 10.0);
        let dup = acc.duplicates(Some(day));
        assert_eq!((dup.count, dup.conflicting), (1, 1));
        // a daily record arrives: it wins; the 3 distinct hours become duplicates too, and their
        // aggregate (mean 5.0) differs from it (6.0)
        acc.add_daily(day, entry(Kind::OpenMeteoDaily, "c", 600, 200, 900, 505));
        let m = metrics(&acc, day, &idx).unwrap();
        assert_eq!(m.metrics.source, "open-meteo daily");
        let dup = acc.duplicates(Some(day));
        assert_eq!((dup.count, dup.conflicting), (4, 4));
    }

    #[test]
    fn conditions_of_hours() {
        let day = d("2024-01-10");
        let t0: Instant = 1_704_841_200;
        let mut acc = WeatherAcc::default();
        for (i, (code, label)) in [(Some(3), None), (Some(61), None), (Some(2), None)]
            .into_iter()
            .enumerate()
        {
            let mut h = hour(Kind::OpenMeteoHourly, t0 + 3600 * i as u32, 0, 0, 0, "a");
            h.wmo = code;
            h.label = label;
            acc.add_hour(day, h);
        }
        for (i, label) in ["Clouds", "Rain", "Rain", "Clouds"].into_iter().enumerate() {
            let mut h = hour(Kind::OwmHourly, t0 + 3600 * i as u32, 0, 0, 0, "b");
            h.label = Some(label.into());
            acc.add_hour(day, h);
        }
        let idx = ArrondissementIndex::default();
        // OWM hours come first; tie 2-2: the label seen first (Clouds)
        let m = metrics(&acc, day, &idx).unwrap();
        assert_eq!(m.metrics.conditions.as_deref(), Some("Clouds"));
        assert_eq!(m.metrics.source, "openweathermap hourly (4/24 h)");
        let groups = acc.days[&day].hour_groups();
        // Open-Meteo: the most severe code (61)
        assert_eq!(
            aggregate(&groups[&Kind::OpenMeteoHourly])
                .conditions
                .as_deref(),
            Some("Slight rain")
        );
    }

    #[test]
    fn dst_days_have_23_or_25_hours() {
        assert_eq!(paris_day_hours(d("2024-03-31")), 23);
        assert_eq!(paris_day_hours(d("2024-10-27")), 25);
        assert_eq!(paris_day_hours(d("2024-10-28")), 24);
    }

    #[test]
    fn merge_is_order_free() {
        let day = d("2025-11-03");
        let a = {
            let mut a = WeatherAcc::default();
            a.add_daily(day, entry(Kind::OpenMeteoDaily, "om", 1110, 700, 1500, 0));
            a.add_hour(day, hour(Kind::OwmHourly, 1_762_124_400, 900, 0, 0, "x"));
            a
        };
        let b = {
            let mut b = WeatherAcc::default();
            b.add_daily(day, entry(Kind::OpenMeteoDaily, "om2", 1110, 700, 1500, 10));
            b.add_hour(day, hour(Kind::OwmHourly, 1_762_124_400, 900, 0, 0, "y"));
            b
        };
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b;
        ba.merge(a);
        assert_eq!(ab, ba);
        let idx = ArrondissementIndex::default();
        assert_eq!(metrics(&ab, day, &idx), metrics(&ba, day, &idx));
        assert_eq!(ab.duplicates(Some(day)), ba.duplicates(Some(day)));
    }
}
