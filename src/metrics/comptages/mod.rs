//! Road counters (`comptages`): per arc and per Paris day.
//!
//! Rows are kept per (arc, day) as compact slots keyed by their instant, so a row repeated across
//! files (same arc and timestamp) is counted once, and every figure is computed from the day's
//! rows only. Flows and occupancies are scaled integers (see [`crate::fixed`]): sums are exact, and
//! the output is identical whatever the thread count and however rows are split across files.
//!
//! Rules (the prototype's §2.5 fields, with its bugs fixed):
//! - `debit_journalier_total` = Σ hourly flows of the day; `debit_horaire_moyen` = their mean over
//!   the hours with a measured flow; `debit_max` and `heure_pic` (the Paris timestamp of the max,
//!   earliest on ties).
//! - `taux_occupation_moyen` = mean of the day's measured occupancies; `congestion_alerte` = ≥ 80.
//! - `etat_trafic_dominant` = most frequent state of the day (ties: the one seen first in time),
//!   `Inconnu` when no row has a state.
//! - Lost time, hour by hour: a vehicle crossing an arc of length L km at occupancy k drives at
//!   v(k) = 50 (k < 30), 40 (< 50), 30 (< 70) or 20 km/h, and loses 60·L/v − 60·L/50 minutes.
//!   `temps_perdu_total_minutes` = Σ_hours flow × loss; `temps_perdu_minutes` = that total per
//!   vehicle (flow-weighted). Both are null when the arc's length is unknown (no invented 500 m).
//! - Arrondissement: point-in-polygon of the arc's point against the arrondissements file.
//!
//! Where things are: this module holds the rules above (the per arc-day figures in
//! `day_metrics`, the day's lists and totals in `build_day`) and the types they produce.
//! How the rows are kept (compact slots, the day map, the arcs' static fields) is in
//! `storage`; how several threads write into one accumulator is in [`shared`].

pub mod shared;
mod storage;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::geo::{self, ArrondissementIndex, Pt};
use crate::json;
use crate::metrics::referentiel::RefArc;
use crate::metrics::{arc_order, merge_keyed, DayDuplicates};
use crate::quality::{Reason, Sample};
use crate::time::{format_paris, Instant};
use storage::{ArcAcc, ArcStatic, DayAcc, DayMap};

/// Flows are kept to 0.001 vehicle/hour.
pub const Q_DIGITS: u32 = 3;
/// Occupancies are kept to 0.00001 %.
pub const K_DIGITS: u32 = 5;
const Q_SCALE: f64 = 1_000.0;
const K_SCALE: f64 = 100_000.0;
/// No value.
pub const NONE: i32 = i32::MIN;
/// Occupancy threshold of a congestion alert (%).
pub const CONGESTION_THRESHOLD: f64 = 80.0;
const V_REF_KMH: f64 = 50.0;

/// `Etat trafic`, with the dataset's spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum State {
    Empty = 0,
    Fluide = 1,
    PreSature = 2,
    Sature = 3,
    Bloque = 4,
    Inconnu = 5,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Empty,
        State::Fluide,
        State::PreSature,
        State::Sature,
        State::Bloque,
        State::Inconnu,
    ];

    pub fn label(self) -> &'static str {
        match self {
            State::Empty => "Non renseigné",
            State::Fluide => "Fluide",
            State::PreSature => "Pré-saturé",
            State::Sature => "Saturé",
            State::Bloque => "Bloqué",
            State::Inconnu => "Inconnu",
        }
    }
}

/// One measurement row, compact: instant, flow and occupancy (scaled, or [`NONE`]), state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub t: Instant,
    pub q: i32,
    pub k: i32,
    pub state: State,
    /// Rows for this arc and instant disagreed (set by deduplication).
    pub conflict: bool,
}

impl Slot {
    /// A measurement row (not yet deduplicated).
    pub fn new(t: Instant, q: i32, k: i32, state: State) -> Slot {
        Slot {
            t,
            q,
            k,
            state,
            conflict: false,
        }
    }

    fn same_values(&self, o: &Slot) -> bool {
        (self.q, self.k, self.state) == (o.q, o.k, o.state)
    }

    /// Between two rows for the same arc and instant, the one kept: more measured fields first,
    /// then the larger values. Any total order works; this one keeps the most information.
    fn rank(&self) -> (bool, bool, i32, i32, State) {
        (self.q != NONE, self.k != NONE, self.q, self.k, self.state)
    }
}

/// `""` → `"` (the inside of a quoted CSV field).
fn unescape_quotes(s: &str) -> Cow<'_, str> {
    if s.contains("\"\"") {
        Cow::Owned(s.replace("\"\"", "\""))
    } else {
        Cow::Borrowed(s)
    }
}

/// A row's static fields, borrowed.
pub struct StaticRef<'a> {
    pub libelle: &'a str,
    pub geo_point: &'a str,
    pub geo_shape: ShapeRef<'a>,
}

#[derive(Clone, Copy)]
pub enum ShapeRef<'a> {
    Text(&'a str),
    /// The inside of a quoted CSV field whose quotes are still doubled (`{""type"": ...}`):
    /// unescaped only when used, not on every row.
    Escaped(&'a str),
    Json(&'a Value),
}

impl ShapeRef<'_> {
    /// The text as read, and whether its quotes are doubled.
    fn raw(&self) -> (Cow<'_, str>, bool) {
        match self {
            ShapeRef::Text(s) => (Cow::Borrowed(s), false),
            ShapeRef::Escaped(s) => (Cow::Borrowed(s), true),
            ShapeRef::Json(Value::Null) => (Cow::Borrowed(""), false),
            ShapeRef::Json(v) => (Cow::Owned(v.to_string()), false),
        }
    }

    fn unescaped(&self) -> Cow<'_, str> {
        match self.raw() {
            (s, true) => Cow::Owned(unescape_quotes(&s).into_owned()),
            (s, false) => s,
        }
    }
}

/// The mergeable accumulator of road-counter rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComptagesAcc {
    arcs: HashMap<String, ArcAcc>,
    /// The last Paris day of any row read, in the selected days or not.
    last_day: Option<NaiveDate>,
}

impl ComptagesAcc {
    /// Offers a row's static fields for its arc's description (every row with a time and an
    /// id does, in the selected days or not: descriptions come from the whole input).
    pub fn describe(
        &mut self,
        arc: &str,
        t: Instant,
        st: &StaticRef<'_>,
        file: &Arc<str>,
        line: u64,
    ) {
        self.arc(arc).offer_static(t, st, file, line);
    }

    fn arc(&mut self, arc: &str) -> &mut ArcAcc {
        if !self.arcs.contains_key(arc) {
            self.arcs.insert(arc.to_string(), ArcAcc::default());
        }
        self.arcs.get_mut(arc).expect("just inserted")
    }

    /// A row of `day` was read (in the selected days or not).
    pub fn note_day(&mut self, day: Option<NaiveDate>) {
        self.last_day = self.last_day.max(day);
    }

    /// The last Paris day of any row read, in the selected days or not.
    pub fn last_day(&self) -> Option<NaiveDate> {
        self.last_day
    }

    /// Adds one row (and offers its static fields). `day` is the Paris day of `slot.t`.
    pub fn add(
        &mut self,
        arc: &str,
        day: NaiveDate,
        slot: Slot,
        st: &StaticRef<'_>,
        file: &Arc<str>,
        line: u64,
    ) {
        let a = self.arc(arc);
        a.offer_static(slot.t, st, file, line);
        crate::budget::charge(a.insert_day(day, std::iter::once(slot)));
        self.note_day(Some(day));
    }

    pub fn merge(&mut self, o: ComptagesAcc) {
        merge_keyed(&mut self.arcs, o.arcs, ArcAcc::merge);
        self.note_day(o.last_day);
    }

    pub fn days(&self) -> BTreeSet<NaiveDate> {
        self.arcs.values().flat_map(|a| a.days.keys()).collect()
    }

    /// Arc-days per day, kept or only counted (the memory budget's census).
    pub fn census(&self) -> BTreeMap<NaiveDate, u64> {
        let mut per_day = BTreeMap::new();
        for a in self.arcs.values() {
            for d in a.census_days() {
                *per_day.entry(d).or_default() += 1;
            }
        }
        per_day
    }

    /// Drops the rows kept, keeping the arcs' descriptions (a pass over the memory budget is a
    /// census: its windows read the rows again).
    pub fn drop_rows(&mut self) {
        for a in self.arcs.values_mut() {
            a.days = Default::default();
            a.census = Default::default();
        }
    }

    pub fn arc_ids(&self) -> impl Iterator<Item = &str> {
        self.arcs.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.arcs.is_empty()
    }
}

/// Per-arc output of one day (the prototype's keys, in its order, then ours).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArcDayMetrics {
    /// Text shared by every arc of the day, or by every day of the arc (no copy per arc-day).
    pub date: Arc<str>,
    pub identifiant_arc: Arc<str>,
    pub libelle: Arc<str>,
    pub debit_horaire_moyen: Option<f64>,
    pub debit_journalier_total: f64,
    pub debit_max: Option<f64>,
    pub taux_occupation_moyen: Option<f64>,
    pub etat_trafic_dominant: &'static str,
    pub heure_pic: Option<String>,
    pub temps_perdu_minutes: Option<f64>,
    pub temps_perdu_total_minutes: Option<f64>,
    pub congestion_alerte: bool,
    pub arrondissement: Option<Arc<str>>,
    pub geo_point_2d: Option<Arc<str>>,
    pub zone_fallback: Arc<str>,
    pub longueur_metres: Option<f64>,
    pub nombre_releves: u32,
    pub heures_avec_debit: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ZoneTopArc {
    pub libelle: String,
    pub debit_journalier_total: f64,
    pub etat_trafic: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ZoneAffluence {
    pub zone: String,
    pub nombre_troncons: u64,
    pub total_vehicules: f64,
    pub temps_perdu_total_minutes: f64,
    pub nombre_troncons_satures: u64,
    pub taux_saturation: f64,
    pub moyenne_vehicules_par_troncon: f64,
    pub top_troncons: Vec<ZoneTopArc>,
}

/// Both key sets of the prototype (report's and dashboard's), all computed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GlobalMetrics {
    pub date: String,
    pub total_vehicules_jour: f64,
    pub moyenne_debit_par_troncon: f64,
    pub nombre_troncons_satures: u64,
    /// Share (%) of the day's rows that carry a measured flow.
    pub taux_disponibilite_capteurs: f64,
    pub temps_perdu_total_paris: f64,
    /// Arcs with at least one measured flow that day.
    pub nombre_troncons_actifs: u64,
    pub debit_journalier_total: f64,
    pub taux_occupation_moyen: Option<f64>,
    pub temps_perdu_total_heures: f64,
    /// Rows per `Etat trafic` value.
    pub repartition_etat_trafic: BTreeMap<&'static str, u64>,
    pub nombre_troncons: u64,
    pub nombre_releves: u64,
}

/// `comptages_metrics_<date>.json`'s `metrics`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ComptagesMetrics {
    pub metrics: Vec<ArcDayMetrics>,
    pub top_10_troncons: Vec<ArcDayMetrics>,
    pub top_10_zones_congestionnees: Vec<ArcDayMetrics>,
    pub top_zones_affluence: Vec<ZoneAffluence>,
    pub alertes_congestion: Vec<ArcDayMetrics>,
    pub global_metrics: GlobalMetrics,
}

impl ArcDayMetrics {
    /// Writes what `serde_json` writes in the pretty format (see [`crate::json`]) at depth
    /// `level`; the keys without escaping them each time (tested byte for byte against serde).
    pub fn write_json(&self, out: &mut Vec<u8>, level: usize) {
        json::write_fields!(out, level, self; date, identifiant_arc, libelle,
            debit_horaire_moyen, debit_journalier_total, debit_max, taux_occupation_moyen,
            etat_trafic_dominant, heure_pic, temps_perdu_minutes, temps_perdu_total_minutes,
            congestion_alerte, arrondissement, geo_point_2d, zone_fallback, longueur_metres,
            nombre_releves, heures_avec_debit);
    }
}

impl ComptagesMetrics {
    /// Writes what `serde_json` writes in the pretty format at depth `level` (the arcs by
    /// [`ArcDayMetrics::write_json`]).
    pub fn write_json(&self, out: &mut Vec<u8>, level: usize) {
        let arcs = |out: &mut Vec<u8>, level: usize, v: &[ArcDayMetrics]| {
            json::write_array(out, level, v, |out, level, m| m.write_json(out, level));
        };
        let mut o = json::Obj::begin(out, level);
        o.key(out, "metrics");
        arcs(out, o.inner(), &self.metrics);
        o.key(out, "top_10_troncons");
        arcs(out, o.inner(), &self.top_10_troncons);
        o.key(out, "top_10_zones_congestionnees");
        arcs(out, o.inner(), &self.top_10_zones_congestionnees);
        o.key(out, "top_zones_affluence");
        json::write_at(out, o.inner(), &self.top_zones_affluence);
        o.key(out, "alertes_congestion");
        arcs(out, o.inner(), &self.alertes_congestion);
        o.key(out, "global_metrics");
        json::write_at(out, o.inner(), &self.global_metrics);
        o.end(out);
    }
}

/// The accumulated rows, grouped by day, with every arc's static facts resolved once.
/// Days are turned into metrics one at a time ([`Prepared::metrics`]), so memory holds the rows
/// and one day's output, not every day's output.
pub struct Prepared {
    /// In output order, each with its days.
    arcs: Vec<(Arc<str>, ArcFacts, DayMap)>,
    days: BTreeSet<NaiveDate>,
    pub duplicates: BTreeMap<NaiveDate, DayDuplicates>,
    /// Problems with arcs' static fields (geometry, point): not dated.
    pub warnings: Vec<Sample>,
}

impl Prepared {
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.days.iter().copied()
    }

    /// The metrics of one day (None if the day has no rows).
    pub fn metrics(&self, day: NaiveDate) -> Option<ComptagesMetrics> {
        if !self.days.contains(&day) {
            return None;
        }
        let date: Arc<str> = day.to_string().into();
        let stats = self.arcs.iter().filter_map(|(id, facts, days)| {
            days.get(day).map(|d| day_metrics(id, &date, facts, d))
        });
        Some(build_day(day, stats.collect()))
    }
}

/// One row of an arc's cleaned hourly series (deduplicated slots, in time order).
#[derive(Debug, Clone, PartialEq)]
pub struct ArcHour<'a> {
    pub arc_id: &'a str,
    pub t: Instant,
    /// Vehicles per hour (None: not measured).
    pub q: Option<f64>,
    /// Occupancy % (None: not measured).
    pub k: Option<f64>,
    /// None: no state given.
    pub state: Option<&'static str>,
}

impl Prepared {
    /// The hourly rows of `day`, arc by arc in output order.
    pub fn hours(&self, day: NaiveDate) -> Vec<ArcHour<'_>> {
        let mut out = Vec::new();
        for (id, _, days) in &self.arcs {
            let Some(d) = days.get(day) else { continue };
            out.extend(d.slots().map(|s| ArcHour {
                arc_id: id,
                t: s.t,
                q: (s.q != NONE).then(|| f64::from(s.q) / Q_SCALE),
                k: (s.k != NONE).then(|| f64::from(s.k) / K_SCALE),
                state: (s.state != State::Empty).then(|| s.state.label()),
            }));
        }
        out
    }
}

/// Everything finalisation produces, all days at once (tests and small inputs).
#[derive(Debug, Default)]
pub struct ComptagesResult {
    pub days: BTreeMap<NaiveDate, ComptagesMetrics>,
    pub duplicates: BTreeMap<NaiveDate, DayDuplicates>,
    pub warnings: Vec<Sample>,
}

/// What finalisation needs besides the rows.
pub struct Context<'a> {
    pub arrondissements: &'a ArrondissementIndex,
    pub referentiel: &'a BTreeMap<String, RefArc>,
}

/// Static facts of an arc, resolved once.
struct ArcFacts {
    libelle: Arc<str>,
    length_m: Option<f64>,
    geo_point: Option<Arc<str>>,
    arrondissement: Option<Arc<str>>,
    zone: Arc<str>,
}

fn resolve_arc(
    id: &str,
    info: Option<&ArcStatic>,
    ctx: &Context<'_>,
    warn: &mut Vec<Sample>,
) -> ArcFacts {
    let r = ctx.referentiel.get(id);
    let mut libelle = info
        .map(|i| i.libelle.trim().to_string())
        .unwrap_or_default();
    if libelle.is_empty() {
        libelle = r.map(|r| r.libelle.clone()).unwrap_or_default();
    }
    let mut warn_at = |reason: Reason, detail: String| {
        if let Some(i) = info {
            warn.push(Sample {
                file: i.file.to_string(),
                line: i.line,
                reason,
                detail,
            });
        }
    };
    let mut geometry = None;
    if let Some(i) = info.filter(|i| !i.shape.trim().is_empty()) {
        match geo::parse_geometry_str(&i.geo_shape()) {
            Ok(g) => geometry = Some(g),
            Err(e) => warn_at(
                Reason::BadGeometry,
                format!("arc {id}: field `geo_shape`: {e}"),
            ),
        }
    }
    let length_m = geometry
        .as_ref()
        .and_then(geo::length_m)
        .or(r.and_then(|r| r.longueur_metres));
    let mut point: Option<(Pt, String)> = None;
    if let Some(i) = info.filter(|i| !i.geo_point.trim().is_empty()) {
        match geo::parse_lat_lon(&i.geo_point) {
            Ok(p) => point = Some((p, i.geo_point.trim().to_string())),
            Err(e) => warn_at(
                Reason::BadPoint,
                format!("arc {id}: field `geo_point_2d`: {e}"),
            ),
        }
    }
    let fmt = |p: Pt| format!("{}, {}", p[1], p[0]);
    if point.is_none() {
        point = geometry.as_ref().and_then(geo::center).map(|p| (p, fmt(p)));
    }
    if point.is_none() {
        point = r.and_then(|r| r.center).map(|p| (p, fmt(p)));
    }
    let arrondissement = point
        .as_ref()
        .and_then(|(p, _)| ctx.arrondissements.lookup(*p))
        .map(str::to_string);
    let zone = match (&arrondissement, &point) {
        (Some(a), _) => format!("Arrondissement {a}"),
        (None, Some(_)) if !ctx.arrondissements.is_empty() => "Hors Paris".to_string(),
        _ => "Unknown".to_string(),
    };
    ArcFacts {
        libelle: libelle.into(),
        length_m,
        geo_point: point.map(|(_, s)| s.into()),
        arrondissement: arrondissement.map(Arc::from),
        zone: zone.into(),
    }
}

/// The prototype's speeds (km/h), by step of occupancy ([`speed_step`]).
const SPEEDS_KMH: [f64; 4] = [50.0, 40.0, 30.0, 20.0];

/// The step of an occupancy (%): under 30, 50, 70, then the rest.
fn speed_step(occupancy: f64) -> usize {
    if occupancy < 30.0 {
        0
    } else if occupancy < 50.0 {
        1
    } else if occupancy < 70.0 {
        2
    } else {
        3
    }
}

/// Speed (km/h) at an occupancy (%), the prototype's step function.
pub fn speed_kmh(occupancy: f64) -> f64 {
    SPEEDS_KMH[speed_step(occupancy)]
}

/// Minutes lost per vehicle on `length_km` at each speed step (computed once per arc-day
/// rather than per row: the same operations, so the same bits).
fn loss_table(length_km: f64) -> [f64; 4] {
    SPEEDS_KMH.map(|v| (60.0 * length_km / v - 60.0 * length_km / V_REF_KMH).max(0.0))
}

/// Minutes lost per vehicle on `length_km` at `occupancy` %.
pub fn loss_minutes_per_vehicle(length_km: f64, occupancy: f64) -> f64 {
    loss_table(length_km)[speed_step(occupancy)]
}

struct DayStats {
    m: ArcDayMetrics,
    sum_q: i64,
    n_q: u64,
    n_rows: u64,
    states: [u64; 6],
}

fn day_metrics(id: &Arc<str>, date: &Arc<str>, facts: &ArcFacts, d: &DayAcc) -> DayStats {
    let mut sum_q: i64 = 0;
    let mut n_q: u32 = 0;
    let mut max: Option<(i32, Instant)> = None;
    let mut sum_k: i64 = 0;
    let mut n_k: u32 = 0;
    let mut states = [0u64; 6];
    let mut first_seen = [Instant::MAX; 6];
    let mut lost = 0.0f64;
    let mut lost_q = 0i64;
    let length_km = facts.length_m.map(|m| m / 1000.0);
    let losses = length_km.map(loss_table);
    let mut n_rows = 0u32;
    for s in d.slots() {
        n_rows += 1;
        let si = s.state as usize;
        states[si] += 1;
        first_seen[si] = first_seen[si].min(s.t);
        if s.q != NONE {
            sum_q += i64::from(s.q);
            n_q += 1;
            if max.is_none_or(|(mq, _)| s.q > mq) {
                max = Some((s.q, s.t));
            }
        }
        if s.k != NONE {
            sum_k += i64::from(s.k);
            n_k += 1;
        }
        if let (Some(l), true, true) = (&losses, s.q != NONE, s.k != NONE) {
            let q = f64::from(s.q) / Q_SCALE;
            lost += q * l[speed_step(f64::from(s.k) / K_SCALE)];
            lost_q += i64::from(s.q);
        }
    }
    // Dominant state among rows that have one; ties go to the state seen first in time.
    let dominant = State::ALL[1..]
        .iter()
        .filter(|s| states[**s as usize] > 0)
        .max_by(|a, b| {
            states[**a as usize]
                .cmp(&states[**b as usize])
                .then(first_seen[**b as usize].cmp(&first_seen[**a as usize]))
        })
        .copied()
        .unwrap_or(State::Inconnu);
    let occ = (n_k > 0).then(|| sum_k as f64 / K_SCALE / f64::from(n_k));
    let (tp_total, tp_per_vehicle) = match length_km {
        None => (None, None),
        Some(_) => {
            let per = if lost_q > 0 {
                lost / (lost_q as f64 / Q_SCALE)
            } else {
                0.0
            };
            (Some(lost), Some(per))
        }
    };
    let m = ArcDayMetrics {
        date: date.clone(),
        identifiant_arc: id.clone(),
        libelle: facts.libelle.clone(),
        debit_horaire_moyen: (n_q > 0).then(|| sum_q as f64 / Q_SCALE / f64::from(n_q)),
        debit_journalier_total: sum_q as f64 / Q_SCALE,
        debit_max: max.map(|(q, _)| f64::from(q) / Q_SCALE),
        taux_occupation_moyen: occ,
        etat_trafic_dominant: dominant.label(),
        heure_pic: max.map(|(_, t)| format_paris(t)),
        temps_perdu_minutes: tp_per_vehicle,
        temps_perdu_total_minutes: tp_total,
        congestion_alerte: occ.is_some_and(|o| o >= CONGESTION_THRESHOLD),
        arrondissement: facts.arrondissement.clone(),
        geo_point_2d: facts.geo_point.clone(),
        zone_fallback: facts.zone.clone(),
        longueur_metres: facts.length_m,
        nombre_releves: n_rows,
        heures_avec_debit: n_q,
    };
    DayStats {
        m,
        sum_q,
        n_q: u64::from(n_q),
        n_rows: u64::from(n_rows),
        states,
    }
}

fn desc(a: f64, b: f64) -> std::cmp::Ordering {
    b.total_cmp(&a)
}

/// The first `n` items by `order`, then by their position (items come in arc order, one per
/// arc: the position is the arc-id order without parsing ids), cloned; only those are copied.
fn first_n<'a>(
    items: impl Iterator<Item = &'a ArcDayMetrics>,
    n: usize,
    order: impl Fn(&ArcDayMetrics, &ArcDayMetrics) -> std::cmp::Ordering,
) -> Vec<ArcDayMetrics> {
    let mut v: Vec<(usize, &ArcDayMetrics)> = items.enumerate().collect();
    let cmp = |a: &(usize, &ArcDayMetrics), b: &(usize, &ArcDayMetrics)| {
        order(a.1, b.1).then(a.0.cmp(&b.0))
    };
    if v.len() > n {
        v.select_nth_unstable_by(n, cmp);
        v.truncate(n);
    }
    v.sort_unstable_by(cmp);
    v.into_iter().map(|(_, m)| m.clone()).collect()
}

/// The day's totals over every arc (exact integer sums).
struct DayTotals {
    total: f64,
    n_rows: u64,
    n_q_rows: u64,
    states: [u64; 6],
}

impl DayTotals {
    fn of(arcs: &[DayStats]) -> DayTotals {
        let total_q: i128 = arcs.iter().map(|a| i128::from(a.sum_q)).sum();
        let mut states = [0u64; 6];
        for a in arcs {
            for (i, n) in a.states.iter().enumerate() {
                states[i] += n;
            }
        }
        DayTotals {
            total: total_q as f64 / Q_SCALE,
            n_rows: arcs.iter().map(|a| a.n_rows).sum(),
            n_q_rows: arcs.iter().map(|a| a.n_q).sum(),
            states,
        }
    }
}

/// Lost minutes of an arc-day, 0 when unknown.
fn lost_of(m: &ArcDayMetrics) -> f64 {
    m.temps_perdu_total_minutes.unwrap_or(0.0)
}

/// Builds one day's metrics from its arcs (sorted by arc id).
fn build_day(day: NaiveDate, arcs: Vec<DayStats>) -> ComptagesMetrics {
    let totals = DayTotals::of(&arcs);
    // In arc order (ids unique): ties below are broken by position, which is that order.
    let metrics: Vec<ArcDayMetrics> = arcs.into_iter().map(|a| a.m).collect();
    debug_assert!(metrics.windows(2).all(|w| arc_order(
        &w[0].identifiant_arc,
        &w[1].identifiant_arc
    )
    .is_lt()));
    let top = first_n(metrics.iter(), 10, |a, b| {
        desc(a.debit_journalier_total, b.debit_journalier_total)
    });
    let congested = first_n(
        metrics
            .iter()
            .filter(|m| m.temps_perdu_total_minutes.is_some()),
        10,
        |a, b| desc(lost_of(a), lost_of(b)),
    );
    let alerts = first_n(
        metrics
            .iter()
            .filter(|m| m.congestion_alerte && m.debit_journalier_total > 0.0),
        usize::MAX,
        |a, b| desc(lost_of(a), lost_of(b)),
    );
    let affluence = zone_affluence(&metrics);
    let global = global_metrics(day, &totals, &metrics, alerts.len() as u64);
    ComptagesMetrics {
        metrics,
        top_10_troncons: top,
        top_10_zones_congestionnees: congested,
        top_zones_affluence: affluence,
        alertes_congestion: alerts,
        global_metrics: global,
    }
}

/// The 10 busiest zones of the day, each with its 5 busiest arcs.
fn zone_affluence(metrics: &[ArcDayMetrics]) -> Vec<ZoneAffluence> {
    let mut zones: BTreeMap<&str, Vec<&ArcDayMetrics>> = BTreeMap::new();
    for m in metrics {
        zones.entry(&*m.zone_fallback).or_default().push(m);
    }
    let mut affluence: Vec<ZoneAffluence> = zones
        .into_iter()
        .map(|(zone, ms)| {
            let n = ms.len() as u64;
            let veh: f64 = ms.iter().map(|m| m.debit_journalier_total).sum();
            let lost: f64 = ms.iter().map(|m| lost_of(m)).sum();
            let sat = ms.iter().filter(|m| m.congestion_alerte).count() as u64;
            // A stable sort: ties stay in arc order.
            let mut tops = ms.clone();
            tops.sort_by(|a, b| desc(a.debit_journalier_total, b.debit_journalier_total));
            ZoneAffluence {
                zone: zone.to_string(),
                nombre_troncons: n,
                total_vehicules: veh,
                temps_perdu_total_minutes: lost,
                nombre_troncons_satures: sat,
                taux_saturation: sat as f64 * 100.0 / n as f64,
                moyenne_vehicules_par_troncon: veh / n as f64,
                top_troncons: tops
                    .iter()
                    .take(5)
                    .map(|m| ZoneTopArc {
                        libelle: m.libelle.to_string(),
                        debit_journalier_total: m.debit_journalier_total,
                        etat_trafic: m.etat_trafic_dominant,
                    })
                    .collect(),
            }
        })
        .collect();
    affluence.sort_by(|a, b| {
        desc(a.total_vehicules, b.total_vehicules)
            .then(desc(
                a.temps_perdu_total_minutes,
                b.temps_perdu_total_minutes,
            ))
            .then(desc(a.taux_saturation, b.taux_saturation))
            .then(a.zone.cmp(&b.zone))
    });
    affluence.truncate(10);
    affluence
}

/// The day's city-wide figures (`alerts`: the number of congestion alerts).
fn global_metrics(
    day: NaiveDate,
    t: &DayTotals,
    metrics: &[ArcDayMetrics],
    alerts: u64,
) -> GlobalMetrics {
    let total = t.total;
    let active = metrics.iter().filter(|m| m.heures_avec_debit > 0).count() as u64;
    let lost_total: f64 = metrics.iter().map(lost_of).sum();
    let occs: Vec<f64> = metrics
        .iter()
        .filter_map(|m| m.taux_occupation_moyen)
        .collect();
    GlobalMetrics {
        date: day.to_string(),
        total_vehicules_jour: total,
        moyenne_debit_par_troncon: if active > 0 {
            total / active as f64
        } else {
            0.0
        },
        nombre_troncons_satures: alerts,
        taux_disponibilite_capteurs: if t.n_rows > 0 {
            t.n_q_rows as f64 * 100.0 / t.n_rows as f64
        } else {
            0.0
        },
        temps_perdu_total_paris: lost_total,
        nombre_troncons_actifs: active,
        debit_journalier_total: total,
        taux_occupation_moyen: (!occs.is_empty())
            .then(|| occs.iter().sum::<f64>() / occs.len() as f64),
        temps_perdu_total_heures: lost_total / 60.0,
        repartition_etat_trafic: State::ALL
            .iter()
            .filter(|s| t.states[**s as usize] > 0)
            .map(|s| (s.label(), t.states[*s as usize]))
            .collect(),
        nombre_troncons: metrics.len() as u64,
        nombre_releves: t.n_rows,
    }
}

/// Groups the accumulated rows by day and resolves each arc once.
pub fn prepare(acc: ComptagesAcc, ctx: &Context<'_>) -> Prepared {
    let mut ids: Vec<(String, ArcAcc)> = acc.arcs.into_iter().collect();
    ids.sort_by(|a, b| arc_order(&a.0, &b.0));
    // Per arc (in parallel: a million arc-days at full size): static facts, and the days with
    // duplicates.
    struct Resolved {
        id: Arc<str>,
        facts: ArcFacts,
        days: DayMap,
        warnings: Vec<Sample>,
        /// Day, duplicates, conflicting instants, samples.
        dups: Vec<(NaiveDate, u64, u64, Vec<Instant>)>,
    }
    let resolved: Vec<Resolved> = ids
        .into_par_iter()
        .map(|(id, arc)| {
            let mut warnings = Vec::new();
            let facts = resolve_arc(&id, arc.info.as_ref(), ctx, &mut warnings);
            let dups = arc
                .days
                .sorted()
                .into_iter()
                .filter(|(_, d)| d.duplicates > 0)
                .map(|(day, d)| {
                    let conflicting = d.slots().filter(|s| s.conflict).count() as u64;
                    let samples = d.dup_samples.clone();
                    (day, u64::from(d.duplicates), conflicting, samples)
                })
                .collect();
            Resolved {
                id: id.into(),
                facts,
                days: arc.days,
                warnings,
                dups,
            }
        })
        .collect();
    let days: BTreeSet<NaiveDate> = resolved
        .par_iter()
        .map(|r| r.days.keys().collect::<BTreeSet<_>>())
        .reduce(BTreeSet::new, |mut a, mut b| {
            if a.len() < b.len() {
                std::mem::swap(&mut a, &mut b);
            }
            a.extend(b);
            a
        });
    let mut p = Prepared {
        arcs: Vec::with_capacity(resolved.len()),
        days,
        duplicates: BTreeMap::new(),
        warnings: Vec::new(),
    };
    let mut dup_samples: BTreeMap<NaiveDate, Vec<(usize, Instant)>> = BTreeMap::new();
    for (i, r) in resolved.into_iter().enumerate() {
        p.warnings.extend(r.warnings);
        for (day, count, conflicting, samples) in r.dups {
            let e = p.duplicates.entry(day).or_default();
            e.count += count;
            e.conflicting += conflicting;
            dup_samples
                .entry(day)
                .or_default()
                .extend(samples.into_iter().map(|t| (i, t)));
        }
        p.arcs.push((r.id, r.facts, r.days));
    }
    for (day, mut samples) in dup_samples {
        samples.sort();
        let e = p.duplicates.entry(day).or_default();
        e.samples = samples
            .into_iter()
            .take(crate::quality::MAX_SAMPLES)
            .map(|(i, t)| format!("arc {} at {}", p.arcs[i].0, format_paris(t)))
            .collect();
    }
    p
}

/// Turns the accumulated rows into per-day metrics, all days at once.
pub fn finalize(acc: ComptagesAcc, ctx: &Context<'_>) -> ComptagesResult {
    let p = prepare(acc, ctx);
    let days = p
        .days()
        .filter_map(|d| p.metrics(d).map(|m| (d, m)))
        .collect();
    ComptagesResult {
        days,
        duplicates: p.duplicates,
        warnings: p.warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_instant;

    pub(super) fn slot(ts: &str, q: Option<f64>, k: Option<f64>, state: State) -> Slot {
        Slot::new(
            parse_instant(ts).unwrap(),
            q.map(|x| (x * Q_SCALE).round() as i32).unwrap_or(NONE),
            k.map(|x| (x * K_SCALE).round() as i32).unwrap_or(NONE),
            state,
        )
    }

    fn st<'a>(lib: &'a str, shape: &'a str) -> StaticRef<'a> {
        StaticRef {
            libelle: lib,
            geo_point: "48.87, 2.30",
            geo_shape: ShapeRef::Text(shape),
        }
    }

    pub(super) const SHAPE: &str =
        r#"{"coordinates": [[2.30, 48.87], [2.30, 48.88]], "type": "LineString"}"#;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn empty_ctx() -> (ArrondissementIndex, BTreeMap<String, RefArc>) {
        (ArrondissementIndex::default(), BTreeMap::new())
    }

    fn finalize_without_context(acc: ComptagesAcc) -> ComptagesResult {
        let (idx, refs) = empty_ctx();
        finalize(
            acc,
            &Context {
                arrondissements: &idx,
                referentiel: &refs,
            },
        )
    }

    /// The hand-written JSON of a day is serde's, byte for byte: strings to escape (quotes,
    /// backslashes, control characters, non-ASCII), missing values, floats that are not finite,
    /// empty lists, at several depths.
    #[test]
    fn hand_written_json_is_serdes() {
        let f: Arc<str> = Arc::from("f.csv");
        let mut acc = ComptagesAcc::default();
        let d = day("2024-01-04");
        let labels = ["Rue \"Nord\"", "a\\b\u{1}\t\n\u{7f}é€😀", "", "plain"];
        for (i, lib) in labels.iter().enumerate() {
            let id = format!("{i}\"x");
            for h in 0..3 {
                let q = (h != 1).then_some(100.0 * (h + i) as f64 + 0.1);
                let k = (i != 2).then_some(95.0);
                let t = format!("2024-01-04T{:02}:00:00+01:00", 8 + h);
                let shape = if i == 3 { "" } else { SHAPE };
                acc.add(
                    &id,
                    d,
                    slot(&t, q, k, State::Sature),
                    &st(lib, shape),
                    &f,
                    2,
                );
            }
        }
        let res = finalize_without_context(acc);
        let mut m = res.days[&d].clone();
        assert!(!m.alertes_congestion.is_empty() && !m.top_zones_affluence.is_empty());
        let mut odd = m.metrics[0].clone();
        odd.debit_horaire_moyen = Some(f64::NAN);
        odd.temps_perdu_minutes = Some(f64::INFINITY);
        odd.longueur_metres = Some(-0.0);
        odd.debit_max = Some(1e300);
        odd.taux_occupation_moyen = Some(1e-7);
        odd.heure_pic = None;
        odd.arrondissement = Some(Arc::from("75\"001"));
        m.metrics.push(odd);
        let mut empty = m.clone();
        empty.metrics.clear();
        empty.top_10_troncons.clear();
        empty.top_zones_affluence.clear();
        for v in [&m, &empty] {
            for level in [0, 1, 3] {
                let mut want = Vec::new();
                crate::json::write_at(&mut want, level, v);
                let mut got = Vec::new();
                v.write_json(&mut got, level);
                assert_eq!(
                    String::from_utf8(got).unwrap(),
                    String::from_utf8(want).unwrap()
                );
            }
        }
    }

    #[test]
    fn speeds_and_losses_by_hand() {
        // 1 km at 35 % occupancy: 60/40 - 60/50 = 1.5 - 1.2 = 0.3 min
        assert!((loss_minutes_per_vehicle(1.0, 35.0) - 0.3).abs() < 1e-12);
        assert_eq!(loss_minutes_per_vehicle(1.0, 10.0), 0.0);
        // 0.5 km at 75 %: 60*0.5/20 - 60*0.5/50 = 1.5 - 0.6 = 0.9
        assert!((loss_minutes_per_vehicle(0.5, 75.0) - 0.9).abs() < 1e-12);
        assert_eq!(speed_kmh(29.999), 50.0);
        assert_eq!(speed_kmh(30.0), 40.0);
        assert_eq!(speed_kmh(70.0), 20.0);
    }

    #[test]
    fn one_arc_one_day_by_hand() {
        let f: Arc<str> = Arc::from("f.csv");
        let mut acc = ComptagesAcc::default();
        let d = day("2024-01-04");
        let rows = [
            slot(
                "2024-01-04T08:00:00+01:00",
                Some(100.0),
                Some(20.0),
                State::Fluide,
            ),
            slot(
                "2024-01-04T09:00:00+01:00",
                Some(300.0),
                Some(40.0),
                State::PreSature,
            ),
            slot(
                "2024-01-04T10:00:00+01:00",
                Some(300.0),
                Some(90.0),
                State::PreSature,
            ),
            slot("2024-01-04T11:00:00+01:00", None, Some(10.0), State::Fluide),
            slot("2024-01-04T12:00:00+01:00", Some(200.0), None, State::Empty),
        ];
        for (i, s) in rows.iter().enumerate() {
            acc.add("42", d, *s, &st("Rue", SHAPE), &f, i as u64 + 2);
        }
        let res = finalize_without_context(acc);
        let m = &res.days[&d].metrics[0];
        assert_eq!(m.debit_journalier_total, 900.0);
        assert_eq!(m.debit_horaire_moyen, Some(225.0));
        assert_eq!(m.debit_max, Some(300.0));
        // the max is reached at 09:00 and 10:00: the earliest wins
        assert_eq!(m.heure_pic.as_deref(), Some("2024-01-04T09:00:00+01:00"));
        assert_eq!(m.taux_occupation_moyen, Some(40.0)); // (20+40+90+10)/4
                                                         // Fluide 2 and Pré-saturé 2: Fluide was seen first (08:00)
        assert_eq!(m.etat_trafic_dominant, "Fluide");
        assert!(!m.congestion_alerte);
        // length: 0.01 degree of meridian from 48.87° on WGS84 = 1,112.0731547859843 m (Python
        // geographiclib; by hand M·Δφ at 48.875°, M = a(1−e²)/(1−e² sin²φ)^1.5: 1,112.07315 m)
        let l = m.longueur_metres.unwrap();
        assert!((l - 1_112.073_154_785_984).abs() < 1e-6, "{l}");
        // lost: 100 veh at 20 % -> 0; 300 at 40 % -> 300*0.3*L; 300 at 90 % -> 300*1.8*L
        let lkm = l / 1000.0;
        let expect = 300.0 * 0.3 * lkm + 300.0 * 1.8 * lkm;
        assert!((m.temps_perdu_total_minutes.unwrap() - expect).abs() < 1e-9);
        assert!((m.temps_perdu_minutes.unwrap() - expect / 700.0).abs() < 1e-12);
        assert_eq!(m.nombre_releves, 5);
        assert_eq!(m.heures_avec_debit, 4);
        let g = &res.days[&d].global_metrics;
        assert_eq!(g.taux_disponibilite_capteurs, 80.0);
        assert_eq!(g.repartition_etat_trafic["Fluide"], 2);
        assert_eq!(g.repartition_etat_trafic["Non renseigné"], 1);
        assert_eq!(g.nombre_troncons_actifs, 1);
        assert_eq!(&*m.zone_fallback, "Unknown");
    }

    #[test]
    fn duplicates_count_once_and_merge_is_order_free() {
        let f: Arc<str> = Arc::from("f.csv");
        let d = day("2024-01-04");
        let a = slot(
            "2024-01-04T08:00:00+01:00",
            Some(100.0),
            Some(20.0),
            State::Fluide,
        );
        let b = slot(
            "2024-01-04T09:00:00+01:00",
            Some(50.0),
            Some(20.0),
            State::Fluide,
        );
        let b2 = slot(
            "2024-01-04T09:00:00+01:00",
            Some(70.0),
            Some(20.0),
            State::Fluide,
        );
        let mut x = ComptagesAcc::default();
        x.add("1", d, a, &st("A", SHAPE), &f, 2);
        x.add("1", d, b, &st("A", SHAPE), &f, 3);
        let mut y = ComptagesAcc::default();
        y.add("1", d, b, &st("A", SHAPE), &f, 2);
        y.add("1", d, b2, &st("A", SHAPE), &f, 3);
        let mut xy = x.clone();
        xy.merge(y.clone());
        let mut yx = y;
        yx.merge(x);
        let (idx, refs) = empty_ctx();
        let ctx = Context {
            arrondissements: &idx,
            referentiel: &refs,
        };
        let r1 = finalize(xy, &ctx);
        let r2 = finalize(yx, &ctx);
        assert_eq!(r1.days, r2.days);
        assert_eq!(r1.days[&d].metrics[0].debit_journalier_total, 170.0);
        assert_eq!(r1.duplicates[&d].count, 2);
        assert_eq!(
            r1.duplicates[&d].conflicting, 1,
            "one instant had differing rows"
        );
        assert_eq!(r1.duplicates, r2.duplicates);
    }

    #[test]
    fn days_are_paris_days() {
        let f: Arc<str> = Arc::from("f.csv");
        let mut acc = ComptagesAcc::default();
        for ts in [
            "2024-10-26T23:00:00+02:00",
            "2024-10-27T00:00:00+02:00",
            "2024-10-27T23:00:00+01:00",
        ] {
            let s = slot(ts, Some(1.0), None, State::Fluide);
            acc.add("1", crate::time::paris_day(s.t), s, &st("A", ""), &f, 2);
        }
        assert_eq!(
            acc.days().into_iter().collect::<Vec<_>>(),
            vec![day("2024-10-26"), day("2024-10-27")]
        );
        let (idx, refs) = empty_ctx();
        let r = finalize(
            acc,
            &Context {
                arrondissements: &idx,
                referentiel: &refs,
            },
        );
        let m = &r.days[&day("2024-10-27")].metrics[0];
        assert_eq!(m.debit_journalier_total, 2.0);
        // no geometry, no referentiel: no length, no lost time
        assert_eq!(m.temps_perdu_total_minutes, None);
    }
}
