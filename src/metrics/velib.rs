//! Vélib' bike-share availability (`velib`): per Paris day, the network's state as last reported.
//!
//! Inputs (see [`crate::sources::velib`]): GBFS `station_status.json` and
//! `station_information.json` snapshots (separate files, joined here), and the opendata CSV export
//! `velib-disponibilite-en-temps-reel.csv` whose rows carry both sides.
//!
//! The accumulator keeps every distinct (station, report time) of each day, so that a report read
//! twice (two overlapping snapshot files) is counted once whatever the merge order, and the
//! `station_information` records per station and snapshot time.
//!
//! Rules (per Paris day):
//! - per station, the **latest report of the day** is used (largest report time; two copies of
//!   the same report: the one of the latest snapshot, then the larger values);
//! - a report more than 24 h older than its snapshot is **stale** (`stations_obsoletes`): the
//!   station is counted, never its bikes;
//! - a station is **in service** when installed and renting (a missing flag counts as yes, and is
//!   reported as a missing value by the source); every sum (`capacite_totale`, bikes, docks) and
//!   `stations_vides` / `stations_pleines` / the tops / `par_arrondissement` are over the stations
//!   in service; `stations_hors_service` are the others that are not stale;
//! - `taux_occupation` = Σ bikes / Σ capacity × 100 over the stations in service whose capacity
//!   and bike count are both known (2 decimals), null when there is none;
//! - a GBFS status is joined to its `station_information` by `station_id`: the information of the
//!   latest snapshot on or before the day, else the earliest after it, else an undated one. A
//!   station without information is still counted; its capacity, name and place are unknown
//!   (`stations_sans_capacite`);
//! - a GBFS station and a CSV station with the same `stationCode` on the same day are the same
//!   station: the later report is used (the GBFS one on a tie);
//! - `par_arrondissement`: Paris stations by point-in-polygon (`750xx`); a CSV station of another
//!   commune by its commune name (else its INSEE code); a Paris station outside every polygon
//!   `Paris`; other located stations `Hors Paris`; stations without a place (or no arrondissements
//!   file and no commune) `Inconnu`;
//! - tops (10 each): `top_stations_vides` = stations with 0 bikes, most free docks first, then
//!   largest capacity, then id; `top_stations_pleines` = stations with 0 free docks, most bikes
//!   first, then largest capacity, then id.
//!
//! Sums are integers; the only float, `taux_occupation`, is computed from integer sums, so results
//! are identical whatever the file split or thread count.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::geo::{ArrondissementIndex, Pt};
use crate::metrics::{arc_order, DayDuplicates};
use crate::quality::MAX_SAMPLES;
use crate::time::{format_paris, Instant};

/// A report more than this many seconds older than its snapshot is stale.
pub const STALE_AFTER_S: u32 = 24 * 3600;
/// Coordinates are kept in 1e-9 degrees (exact, totally ordered).
pub const POINT_DIGITS: u32 = 9;
const POINT_SCALE: f64 = 1e9;
/// Length of each top list.
pub const TOP_N: usize = 10;

/// A station id (digits of any length, or text), ordered naturally: numbers by value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StationId(pub String);

impl Ord for StationId {
    fn cmp(&self, o: &Self) -> Ordering {
        arc_order(&self.0, &o.0)
    }
}

impl PartialOrd for StationId {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Which id space a station is named in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StationKey {
    /// GBFS `station_id` (may exceed 2^31: kept as text).
    Gbfs(StationId),
    /// Vélib' station code (`stationCode`, the CSV's `Identifiant station`).
    Code(StationId),
}

impl StationKey {
    pub fn id(&self) -> &str {
        match self {
            StationKey::Gbfs(s) | StationKey::Code(s) => &s.0,
        }
    }
}

/// Availability of one station at one report.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Status {
    pub installed: Option<bool>,
    pub renting: Option<bool>,
    pub returning: Option<bool>,
    pub bikes: Option<u32>,
    pub mechanical: Option<u32>,
    pub ebike: Option<u32>,
    pub docks: Option<u32>,
}

impl Status {
    /// Installed and renting (a flag not given counts as yes).
    pub fn in_service(&self) -> bool {
        self.installed.unwrap_or(true) && self.renting.unwrap_or(true)
    }
}

/// What describes a station (GBFS `station_information`, or the CSV's own columns).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Static {
    pub code: Option<String>,
    pub name: Option<String>,
    pub capacity: Option<u32>,
    /// `[lon, lat]` in 1e-9 degrees.
    pub point: Option<[i64; 2]>,
    pub commune: Option<String>,
    pub insee: Option<String>,
}

impl Static {
    /// Field by field, `self`'s value else `other`'s.
    fn or(&self, other: Option<&Static>) -> Static {
        let Some(o) = other else {
            return self.clone();
        };
        Static {
            code: self.code.clone().or_else(|| o.code.clone()),
            name: self.name.clone().or_else(|| o.name.clone()),
            capacity: self.capacity.or(o.capacity),
            point: self.point.or(o.point),
            commune: self.commune.clone().or_else(|| o.commune.clone()),
            insee: self.insee.clone().or_else(|| o.insee.clone()),
        }
    }

    pub fn pt(&self) -> Option<Pt> {
        self.point
            .map(|[lon, lat]| [lon as f64 / POINT_SCALE, lat as f64 / POINT_SCALE])
    }
}

/// One station report as read. Field order = rank among copies of the same (station, time).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Report {
    /// The snapshot it was read from (GBFS `lastUpdatedOther`, or the CSV's newest row).
    pub snapshot: Instant,
    /// More than 24 h older than its snapshot.
    pub stale: bool,
    pub status: Status,
    /// Static fields carried by the report itself (CSV rows); GBFS status: `code` at most.
    pub fixed: Static,
}

impl Report {
    fn same_values(&self, o: &Report) -> bool {
        self.status == o.status && self.fixed == o.fixed
    }
}

/// Every copy of one key: the one kept (max), how many copies, whether any two differed.
#[derive(Debug, Clone, PartialEq)]
struct Copies<T> {
    kept: T,
    n: u32,
    conflict: bool,
}

impl<T: Ord> Copies<T> {
    fn one(v: T) -> Self {
        Copies {
            kept: v,
            n: 1,
            conflict: false,
        }
    }

    /// Order-free: counts add up, the kept value is the max, the flag is an OR.
    fn absorb(&mut self, o: Copies<T>, same: impl Fn(&T, &T) -> bool) {
        self.n = self.n.saturating_add(o.n);
        self.conflict = self.conflict || o.conflict || !same(&self.kept, &o.kept);
        if o.kept > self.kept {
            self.kept = o.kept;
        }
    }
}

/// When a `station_information` record was valid: (its Paris day, its snapshot time).
type InfoWhen = (Option<NaiveDate>, Option<Instant>);

/// Mergeable accumulator of every `velib` file read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VelibAcc {
    /// Per day, every distinct (station, report time).
    reports: BTreeMap<NaiveDate, BTreeMap<(StationKey, Instant), Copies<Report>>>,
    /// Per station, its information records by snapshot.
    info: BTreeMap<StationKey, BTreeMap<InfoWhen, Copies<Static>>>,
}

fn insert<K: Ord, T: Ord>(
    m: &mut BTreeMap<K, Copies<T>>,
    k: K,
    c: Copies<T>,
    same: impl Fn(&T, &T) -> bool,
) {
    match m.get_mut(&k) {
        Some(cur) => cur.absorb(c, same),
        None => {
            m.insert(k, c);
        }
    }
}

impl VelibAcc {
    /// A station report of `day`, reported at `t`.
    pub fn add_report(&mut self, day: NaiveDate, key: StationKey, t: Instant, r: Report) {
        insert(
            self.reports.entry(day).or_default(),
            (key, t),
            Copies::one(r),
            Report::same_values,
        );
    }

    /// A `station_information` record of the snapshot (`day`, `t`) (either may be unknown).
    pub fn add_info(
        &mut self,
        key: StationKey,
        day: Option<NaiveDate>,
        t: Option<Instant>,
        s: Static,
    ) {
        insert(
            self.info.entry(key).or_default(),
            (day, t),
            Copies::one(s),
            Static::eq,
        );
    }

    pub fn merge(&mut self, other: VelibAcc) {
        for (day, m) in other.reports {
            let mine = self.reports.entry(day).or_default();
            if mine.is_empty() {
                *mine = m;
                continue;
            }
            for (k, c) in m {
                insert(mine, k, c, Report::same_values);
            }
        }
        for (key, m) in other.info {
            let mine = self.info.entry(key).or_default();
            for (k, c) in m {
                insert(mine, k, c, Static::eq);
            }
        }
    }

    /// Paris days this source has data for (days with station reports; information alone is not
    /// availability).
    pub fn days(&self) -> BTreeSet<NaiveDate> {
        self.reports.keys().copied().collect()
    }

    /// Repeated rows of `day` (None: information records with no date), counted once. A repeat
    /// is the same (station, report time) for a status, the same (station, snapshot) for an
    /// information record; `conflicting` counts the keys whose copies differed.
    pub fn duplicates(&self, day: Option<NaiveDate>) -> DayDuplicates {
        let mut d = DayDuplicates::default();
        let mut samples: Vec<String> = Vec::new();
        if let Some(day) = day {
            for ((key, t), c) in self.reports.get(&day).into_iter().flatten() {
                if c.n > 1 {
                    d.count += u64::from(c.n - 1);
                    d.conflicting += u64::from(c.conflict);
                    if samples.len() < MAX_SAMPLES {
                        samples.push(format!(
                            "station {} at {}",
                            key_label(key),
                            format_paris(*t)
                        ));
                    }
                }
            }
        }
        for (key, m) in &self.info {
            for ((iday, t), c) in m {
                if *iday == day && c.n > 1 {
                    d.count += u64::from(c.n - 1);
                    d.conflicting += u64::from(c.conflict);
                    if samples.len() < 2 * MAX_SAMPLES {
                        let at = t.map(format_paris).unwrap_or_else(|| "no date".into());
                        samples.push(format!("station_information {} at {at}", key_label(key)));
                    }
                }
            }
        }
        samples.truncate(MAX_SAMPLES);
        d.samples = samples;
        d
    }

    /// The ids of the stations reported on `day` (as read: GBFS ids exact, whatever their size).
    pub fn station_ids(&self, day: NaiveDate) -> BTreeSet<String> {
        self.reports
            .get(&day)
            .into_iter()
            .flat_map(|m| m.keys().map(|(k, _)| k.id().to_string()))
            .collect()
    }

    /// The `station_information` record used for `key` on `day` (see the module rules).
    fn info_for(&self, key: &StationKey, day: NaiveDate) -> Option<&Static> {
        let m = self.info.get(key)?;
        let upto = (Some(day), Some(Instant::MAX));
        if let Some((_, c)) = m.range((Some(NaiveDate::MIN), None)..=upto).next_back() {
            return Some(&c.kept);
        }
        if let Some(next) = day.succ_opt() {
            if let Some((_, c)) = m.range((Some(next), None)..).next() {
                return Some(&c.kept);
            }
        }
        m.range(..(Some(NaiveDate::MIN), None))
            .next_back()
            .map(|(_, c)| &c.kept)
    }
}

fn key_label(k: &StationKey) -> String {
    match k {
        StationKey::Gbfs(id) => id.0.clone(),
        StationKey::Code(id) => format!("code {}", id.0),
    }
}

/// One top station.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopStation {
    pub station_id: String,
    pub code_station: Option<String>,
    pub nom: Option<String>,
    pub capacite: Option<u32>,
    pub velos: Option<u32>,
    pub bornettes_libres: Option<u32>,
}

/// One `par_arrondissement` entry (stations in service).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArrondissementVelib {
    pub arrondissement: String,
    pub stations: u64,
    pub velos: u64,
    pub capacite: u64,
    pub taux_occupation: Option<f64>,
}

/// `velib_metrics_<date>.json`'s `metrics`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VelibMetrics {
    pub date: String,
    pub nombre_stations: u64,
    pub stations_en_service: u64,
    pub stations_hors_service: u64,
    pub stations_obsoletes: u64,
    pub capacite_totale: u64,
    pub velos_disponibles: u64,
    pub velos_mecaniques: u64,
    pub velos_electriques: u64,
    pub bornettes_libres: u64,
    pub taux_occupation: Option<f64>,
    pub stations_vides: u64,
    pub stations_pleines: u64,
    pub par_arrondissement: Vec<ArrondissementVelib>,
    pub top_stations_vides: Vec<TopStation>,
    pub top_stations_pleines: Vec<TopStation>,
    /// Stations of the day whose capacity is unknown (e.g. a GBFS status without information).
    pub stations_sans_capacite: u64,
    /// The newest report time used (Paris time, RFC 3339).
    pub derniere_actualisation: Option<String>,
}

/// A station of the day, resolved: its latest report joined to its information.
struct Station<'a> {
    key: &'a StationKey,
    t: Instant,
    report: &'a Report,
    fixed: Static,
}

/// Bikes × 100 / capacity, rounded half up to 2 decimals.
fn rate(bikes: u64, capacity: u64) -> Option<f64> {
    if capacity == 0 {
        return None;
    }
    // round(bikes * 10_000 / capacity) / 100, in integers
    let (b, c) = (u128::from(bikes), u128::from(capacity));
    let hundredths = (2 * b * 10_000 + c) / (2 * c);
    Some(hundredths as f64 / 100.0)
}

/// Sums over stations in service: (stations, bikes, capacity, bikes with capacity known).
#[derive(Default)]
struct Group {
    stations: u64,
    bikes: u64,
    capacity: u64,
    rated_bikes: u64,
    rated_capacity: u64,
}

impl Group {
    fn add(&mut self, s: &Station<'_>) {
        self.stations += 1;
        let b = s.report.status.bikes;
        self.bikes += u64::from(b.unwrap_or(0));
        if let Some(c) = s.fixed.capacity {
            self.capacity += u64::from(c);
            if let Some(b) = b {
                self.rated_bikes += u64::from(b);
                self.rated_capacity += u64::from(c);
            }
        }
    }

    fn rate(&self) -> Option<f64> {
        rate(self.rated_bikes, self.rated_capacity)
    }
}

fn is_paris(f: &Static) -> bool {
    let by_name = f
        .commune
        .as_deref()
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("paris"));
    let by_insee = f
        .insee
        .as_deref()
        .map(str::trim)
        .is_some_and(|c| c == "75056" || (c.starts_with("751") && c.len() == 5));
    by_name || by_insee
}

/// The `par_arrondissement` group of a station, with its sort rank.
fn group_of(f: &Static, idx: &ArrondissementIndex) -> (u8, String) {
    let commune = f
        .commune
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .or(f.insee.as_deref().map(str::trim).filter(|c| !c.is_empty()));
    let known_commune = commune.is_some();
    if known_commune && !is_paris(f) {
        return (2, commune.unwrap_or_default().to_string());
    }
    if let Some(p) = f.pt() {
        if let Some(code) = idx.lookup(p) {
            return (0, code.to_string());
        }
    }
    if known_commune {
        return (1, "Paris".to_string());
    }
    if f.point.is_some() && !idx.is_empty() {
        return (3, "Hors Paris".to_string());
    }
    (4, "Inconnu".to_string())
}

fn top(s: &Station<'_>) -> TopStation {
    TopStation {
        station_id: s.key.id().to_string(),
        code_station: s.fixed.code.clone(),
        nom: s.fixed.name.clone(),
        capacite: s.fixed.capacity,
        velos: s.report.status.bikes,
        bornettes_libres: s.report.status.docks,
    }
}

fn by_id(a: &Station<'_>, b: &Station<'_>) -> Ordering {
    arc_order(a.key.id(), b.key.id()).then_with(|| a.key.cmp(b.key))
}

/// The stations of `day`: each one's latest report joined to its information; a GBFS station
/// and a CSV station with the same code are one station (the later report).
fn day_stations<'a>(
    acc: &'a VelibAcc,
    day: NaiveDate,
    reports: &'a BTreeMap<(StationKey, Instant), Copies<Report>>,
) -> Vec<Station<'a>> {
    // Latest report per station: the map is sorted by (station, time), so the last one wins.
    let mut latest: Vec<Station<'a>> = Vec::new();
    for ((key, t), c) in reports {
        let st = Station {
            key,
            t: *t,
            report: &c.kept,
            fixed: Static::default(),
        };
        match latest.last_mut() {
            Some(last) if last.key == key => *last = st,
            _ => latest.push(st),
        }
    }
    for s in &mut latest {
        let info = acc.info_for(s.key, day);
        s.fixed = s.report.fixed.or(info);
    }
    // A GBFS station and a CSV station with the same code are one station: the later report.
    let by_code: BTreeMap<&str, usize> = latest
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s.key {
            StationKey::Code(c) => Some((c.0.as_str(), i)),
            StationKey::Gbfs(_) => None,
        })
        .collect();
    let mut dropped = vec![false; latest.len()];
    for (i, s) in latest.iter().enumerate() {
        if let (StationKey::Gbfs(_), Some(code)) = (s.key, s.fixed.code.as_deref()) {
            if let Some(&j) = by_code.get(code.trim()) {
                if dropped[j] || dropped[i] {
                    continue;
                }
                if latest[j].t > s.t {
                    dropped[i] = true;
                } else {
                    dropped[j] = true;
                }
            }
        }
    }
    latest
        .into_iter()
        .zip(dropped)
        .filter_map(|(s, d)| (!d).then_some(s))
        .collect()
}

/// One station of a day: the analytics table's row (the day's latest report, as `metrics`
/// reads it).
#[derive(Debug, Clone, PartialEq)]
pub struct DayStation {
    pub station_id: String,
    pub code: Option<String>,
    pub name: Option<String>,
    pub capacity: Option<u32>,
    pub status: Status,
    pub in_service: bool,
    pub stale: bool,
    pub reported: Instant,
    /// `[lon, lat]`.
    pub point: Option<Pt>,
    /// The `par_arrondissement` group: 750xx, a commune, `Paris`, `Hors Paris` or `Inconnu`.
    pub area: String,
}

/// Every station of `day`, by id.
pub fn day_station_list(
    acc: &VelibAcc,
    day: NaiveDate,
    arrondissements: &ArrondissementIndex,
) -> Vec<DayStation> {
    let Some(reports) = acc.reports.get(&day) else {
        return Vec::new();
    };
    let mut stations = day_stations(acc, day, reports);
    stations.sort_by(by_id);
    stations
        .iter()
        .map(|s| DayStation {
            station_id: s.key.id().to_string(),
            code: s.fixed.code.clone(),
            name: s.fixed.name.clone(),
            capacity: s.fixed.capacity,
            status: s.report.status.clone(),
            in_service: s.report.status.in_service(),
            stale: s.report.stale,
            reported: s.t,
            point: s.fixed.pt(),
            area: group_of(&s.fixed, arrondissements).1,
        })
        .collect()
}

/// The metrics of `day`, or None when the source has no report for it.
pub fn metrics(
    acc: &VelibAcc,
    day: NaiveDate,
    arrondissements: &ArrondissementIndex,
) -> Option<VelibMetrics> {
    let reports = acc.reports.get(&day)?;
    if reports.is_empty() {
        return None;
    }
    let stations = day_stations(acc, day, reports);

    let mut m = VelibMetrics {
        date: day.format("%Y-%m-%d").to_string(),
        nombre_stations: stations.len() as u64,
        stations_en_service: 0,
        stations_hors_service: 0,
        stations_obsoletes: 0,
        capacite_totale: 0,
        velos_disponibles: 0,
        velos_mecaniques: 0,
        velos_electriques: 0,
        bornettes_libres: 0,
        taux_occupation: None,
        stations_vides: 0,
        stations_pleines: 0,
        par_arrondissement: Vec::new(),
        top_stations_vides: Vec::new(),
        top_stations_pleines: Vec::new(),
        stations_sans_capacite: 0,
        derniere_actualisation: stations.iter().map(|s| s.t).max().map(format_paris),
    };
    let mut all = Group::default();
    let mut groups: BTreeMap<(u8, String), Group> = BTreeMap::new();
    let mut empty: Vec<&Station<'_>> = Vec::new();
    let mut full: Vec<&Station<'_>> = Vec::new();
    for s in &stations {
        if s.fixed.capacity.is_none() {
            m.stations_sans_capacite += 1;
        }
        let st = &s.report.status;
        if s.report.stale {
            m.stations_obsoletes += 1;
            continue;
        }
        if !st.in_service() {
            m.stations_hors_service += 1;
            continue;
        }
        m.stations_en_service += 1;
        all.add(s);
        groups
            .entry(group_of(&s.fixed, arrondissements))
            .or_default()
            .add(s);
        m.velos_mecaniques += u64::from(st.mechanical.unwrap_or(0));
        m.velos_electriques += u64::from(st.ebike.unwrap_or(0));
        m.bornettes_libres += u64::from(st.docks.unwrap_or(0));
        if st.bikes == Some(0) {
            m.stations_vides += 1;
            empty.push(s);
        }
        if st.docks == Some(0) {
            m.stations_pleines += 1;
            full.push(s);
        }
    }
    m.capacite_totale = all.capacity;
    m.velos_disponibles = all.bikes;
    m.taux_occupation = all.rate();
    m.par_arrondissement = groups
        .into_iter()
        .map(|((_, name), g)| ArrondissementVelib {
            arrondissement: name,
            stations: g.stations,
            velos: g.bikes,
            capacite: g.capacity,
            taux_occupation: g.rate(),
        })
        .collect();
    empty.sort_by(|a, b| {
        let k = |s: &Station<'_>| (Reverse(s.report.status.docks), Reverse(s.fixed.capacity));
        k(a).cmp(&k(b)).then_with(|| by_id(a, b))
    });
    full.sort_by(|a, b| {
        let k = |s: &Station<'_>| (Reverse(s.report.status.bikes), Reverse(s.fixed.capacity));
        k(a).cmp(&k(b)).then_with(|| by_id(a, b))
    });
    m.top_stations_vides = empty.iter().take(TOP_N).map(|s| top(s)).collect();
    m.top_stations_pleines = full.iter().take(TOP_N).map(|s| top(s)).collect();
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// 2024-11-19T08:00:00Z = 09:00 in Paris.
    const T: Instant = 1_732_003_200;

    fn gbfs(id: &str) -> StationKey {
        StationKey::Gbfs(StationId(id.into()))
    }

    fn code(id: &str) -> StationKey {
        StationKey::Code(StationId(id.into()))
    }

    fn status(bikes: u32, mech: u32, ebike: u32, docks: u32) -> Status {
        Status {
            installed: Some(true),
            renting: Some(true),
            returning: Some(true),
            bikes: Some(bikes),
            mechanical: Some(mech),
            ebike: Some(ebike),
            docks: Some(docks),
        }
    }

    fn report(st: Status) -> Report {
        Report {
            snapshot: T,
            stale: false,
            status: st,
            fixed: Static::default(),
        }
    }

    fn info(cap: u32, lon: f64, lat: f64) -> Static {
        Static {
            code: None,
            name: Some("n".into()),
            capacity: Some(cap),
            point: Some([(lon * 1e9) as i64, (lat * 1e9) as i64]),
            commune: None,
            insee: None,
        }
    }

    /// One square "arrondissement" 75001: lon 2..3, lat 48..49.
    fn square() -> ArrondissementIndex {
        let v = json!({"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"c_ar": 1, "l_ar": "1er"},
            "geometry": {"type": "Polygon", "coordinates":
                [[[2.0, 48.0], [3.0, 48.0], [3.0, 49.0], [2.0, 49.0], [2.0, 48.0]]]}}]});
        let (idx, problems) = ArrondissementIndex::from_geojson(&v);
        assert!(problems.is_empty());
        idx
    }

    /// Six stations on one day, one of each kind.
    fn sample() -> VelibAcc {
        let day = d("2024-11-19");
        let mut acc = VelibAcc::default();
        // A: in service, 3 bikes (2 + 1), 7 docks, capacity 10, inside 75001.
        acc.add_report(day, gbfs("1"), T - 100, report(status(3, 2, 1, 7)));
        acc.add_info(gbfs("1"), Some(day), Some(T), info(10, 2.5, 48.5));
        // B: id above 2^32; an early report, then the latest one: empty (0 bikes, 20 docks).
        acc.add_report(
            day,
            gbfs("4294967296"),
            T - 3000,
            report(status(9, 9, 0, 11)),
        );
        acc.add_report(day, gbfs("4294967296"), T - 50, report(status(0, 0, 0, 20)));
        acc.add_info(gbfs("4294967296"), Some(day), Some(T), info(20, 2.2, 47.5));
        // C: installed but not renting: out of service, its 4 bikes not counted.
        let mut c = status(4, 4, 0, 0);
        c.renting = Some(false);
        acc.add_report(day, gbfs("3"), T - 10, report(c));
        acc.add_info(gbfs("3"), Some(day), Some(T), info(8, 2.5, 48.5));
        // D: stale.
        let mut r = report(status(6, 6, 0, 1));
        r.stale = true;
        acc.add_report(day, gbfs("5"), T - 200_000, r);
        // E: a CSV station of Montreuil, full (5 bikes, 0 docks, capacity 5).
        let mut e = report(status(5, 1, 4, 0));
        e.fixed = Static {
            code: Some("900".into()),
            name: Some("E".into()),
            capacity: Some(5),
            point: Some([2_440_000_000, 48_860_000_000]),
            commune: Some("Montreuil".into()),
            insee: Some("93048".into()),
        };
        acc.add_report(day, code("900"), T - 20, e);
        // F: no information: 2 bikes, 3 docks, capacity unknown.
        acc.add_report(day, gbfs("6"), T - 30, report(status(2, 0, 2, 3)));
        acc
    }

    #[test]
    fn one_day_by_hand() {
        let acc = sample();
        let m = metrics(&acc, d("2024-11-19"), &square()).unwrap();
        assert_eq!(m.date, "2024-11-19");
        // A, B, C, D, E, F
        assert_eq!(m.nombre_stations, 6);
        // A, B, E, F in service; C out of service; D stale
        assert_eq!(
            (
                m.stations_en_service,
                m.stations_hors_service,
                m.stations_obsoletes
            ),
            (4, 1, 1)
        );
        // capacity known for A, B, E: 10 + 20 + 5 (C is out of service, F unknown)
        assert_eq!(m.capacite_totale, 35);
        // bikes A 3 + B 0 + E 5 + F 2 = 10; mechanical 2 + 0 + 1 + 0; ebike 1 + 0 + 4 + 2
        assert_eq!(m.velos_disponibles, 10);
        assert_eq!(m.velos_mecaniques, 3);
        assert_eq!(m.velos_electriques, 7);
        // docks 7 + 20 + 0 + 3
        assert_eq!(m.bornettes_libres, 30);
        // rate over stations with a capacity: (3 + 0 + 5) / 35 = 22.857 %
        assert_eq!(m.taux_occupation, Some(22.86));
        assert_eq!((m.stations_vides, m.stations_pleines), (1, 1));
        // D and F have no information (C has its own, out of service or not)
        assert_eq!(m.stations_sans_capacite, 2);
        assert_eq!(
            m.derniere_actualisation.as_deref(),
            Some("2024-11-19T08:59:50+01:00")
        );
        let groups: Vec<(&str, u64, u64, u64, Option<f64>)> = m
            .par_arrondissement
            .iter()
            .map(|g| {
                (
                    g.arrondissement.as_str(),
                    g.stations,
                    g.velos,
                    g.capacite,
                    g.taux_occupation,
                )
            })
            .collect();
        assert_eq!(
            groups,
            vec![
                // A: 3 / 10
                ("75001", 1, 3, 10, Some(30.0)),
                // E: 5 / 5
                ("Montreuil", 1, 5, 5, Some(100.0)),
                // B: located outside every polygon: 0 / 20
                ("Hors Paris", 1, 0, 20, Some(0.0)),
                // F: no place, no capacity
                ("Inconnu", 1, 2, 0, None),
            ]
        );
        assert_eq!(m.top_stations_vides.len(), 1);
        let b = &m.top_stations_vides[0];
        assert_eq!(b.station_id, "4294967296");
        assert_eq!(
            (b.capacite, b.velos, b.bornettes_libres),
            (Some(20), Some(0), Some(20))
        );
        assert_eq!(m.top_stations_pleines[0].station_id, "900");
        assert_eq!(
            m.top_stations_pleines[0].code_station.as_deref(),
            Some("900")
        );
        // without an arrondissements file, A and B are "Inconnu"; E keeps its commune
        let m = metrics(&acc, d("2024-11-19"), &ArrondissementIndex::default()).unwrap();
        let names: Vec<&str> = m
            .par_arrondissement
            .iter()
            .map(|g| g.arrondissement.as_str())
            .collect();
        assert_eq!(names, vec!["Montreuil", "Inconnu"]);
        assert!(metrics(&acc, d("2024-11-20"), &square()).is_none());
        assert_eq!(acc.days(), BTreeSet::from([d("2024-11-19")]));
        assert!(acc.station_ids(d("2024-11-19")).contains("4294967296"));
    }

    #[test]
    fn rates_round_half_up_to_hundredths() {
        assert_eq!(rate(1, 3), Some(33.33));
        assert_eq!(rate(2, 3), Some(66.67));
        assert_eq!(rate(1, 8), Some(12.5));
        // 1 / 800 = 0.125 % -> 0.13
        assert_eq!(rate(1, 800), Some(0.13));
        assert_eq!(rate(5, 0), None);
    }

    #[test]
    fn duplicates_count_once_and_merge_is_order_free() {
        let day = d("2024-11-19");
        let mut a = VelibAcc::default();
        let mut b = VelibAcc::default();
        let mut c = VelibAcc::default();
        a.add_report(day, gbfs("1"), T, report(status(1, 1, 0, 9)));
        b.add_report(day, gbfs("1"), T, report(status(1, 1, 0, 9)));
        // the same report time with other values: a conflicting repeat
        c.add_report(day, gbfs("1"), T, report(status(2, 2, 0, 8)));
        c.add_report(day, gbfs("2"), T, report(status(0, 0, 0, 5)));
        a.add_info(gbfs("1"), Some(day), Some(T), info(10, 2.5, 48.5));
        c.add_info(gbfs("1"), Some(day), Some(T), info(10, 2.5, 48.5));
        let orders = [
            [a.clone(), b.clone(), c.clone()],
            [c.clone(), b.clone(), a.clone()],
            [b.clone(), c.clone(), a.clone()],
        ];
        let mut results = Vec::new();
        for [x, y, z] in orders {
            let mut m = x;
            m.merge(y);
            m.merge(z);
            results.push(m);
        }
        assert_eq!(results[0], results[1]);
        assert_eq!(results[0], results[2]);
        let dup = results[0].duplicates(Some(day));
        // station 1 read 3 times (2 repeats), its information twice (1 repeat)
        assert_eq!(dup.count, 3);
        // the status copies differ; the information copies agree
        assert_eq!(dup.conflicting, 1);
        assert_eq!(
            dup.samples,
            vec![
                "station 1 at 2024-11-19T09:00:00+01:00",
                "station_information 1 at 2024-11-19T09:00:00+01:00"
            ]
        );
        // kept: the max copy (2 bikes)
        let m = metrics(&results[0], day, &square()).unwrap();
        assert_eq!(m.velos_disponibles, 2);
        assert_eq!(results[0].duplicates(None).count, 0);
    }

    #[test]
    fn the_same_station_in_gbfs_and_csv_is_counted_once() {
        let day = d("2024-11-19");
        let mut acc = VelibAcc::default();
        let mut g = report(status(1, 1, 0, 9));
        g.fixed.code = Some("900".into());
        acc.add_report(day, gbfs("77"), T - 10, g);
        let mut e = report(status(3, 3, 0, 7));
        e.fixed.capacity = Some(10);
        acc.add_report(day, code("900"), T - 5, e);
        let m = metrics(&acc, day, &square()).unwrap();
        // the CSV report is the later one
        assert_eq!((m.nombre_stations, m.velos_disponibles), (1, 3));
        // the GBFS code may come from the information instead
        let mut acc = VelibAcc::default();
        acc.add_report(day, gbfs("77"), T, report(status(1, 1, 0, 9)));
        let mut i = info(10, 2.5, 48.5);
        i.code = Some("900".into());
        acc.add_info(gbfs("77"), None, None, i);
        acc.add_report(day, code("900"), T - 5, report(status(3, 3, 0, 7)));
        let m = metrics(&acc, day, &square()).unwrap();
        assert_eq!((m.nombre_stations, m.velos_disponibles), (1, 1));
        assert_eq!(m.capacite_totale, 10);
    }

    #[test]
    fn information_of_the_closest_snapshot() {
        let day = d("2024-11-19");
        let mut acc = VelibAcc::default();
        acc.add_report(day, gbfs("1"), T, report(status(1, 1, 0, 9)));
        acc.add_info(gbfs("1"), None, None, info(11, 2.5, 48.5));
        let cap = |acc: &VelibAcc| metrics(acc, day, &square()).unwrap().capacite_totale;
        // only undated information
        assert_eq!(cap(&acc), 11);
        // a later one wins over the undated one
        acc.add_info(
            gbfs("1"),
            Some(d("2024-11-25")),
            Some(T + 6 * 86_400),
            info(12, 2.5, 48.5),
        );
        assert_eq!(cap(&acc), 12);
        // an earlier one wins over the later one
        acc.add_info(
            gbfs("1"),
            Some(d("2024-11-01")),
            Some(T - 18 * 86_400),
            info(13, 2.5, 48.5),
        );
        assert_eq!(cap(&acc), 13);
        // the day's latest wins
        acc.add_info(gbfs("1"), Some(day), Some(T - 60), info(14, 2.5, 48.5));
        acc.add_info(gbfs("1"), Some(day), Some(T), info(15, 2.5, 48.5));
        assert_eq!(cap(&acc), 15);
    }
}
