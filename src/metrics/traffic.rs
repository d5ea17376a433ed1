//! Public-transport disruptions (`traffic`, RATP / IDFM): per Paris day.
//!
//! # What a day is made of
//! Every input file is a **snapshot**: the list of disruptions the network published at one
//! moment (Navitia `context.current_datetime`, else the file's `dt=` folder date, else the latest
//! `updated_at` / `lastUpdate` of its disruptions). A snapshot belongs to the Paris day of that
//! moment, and [`TrafficAcc::days`] are the days of the snapshots read.
//!
//! For a day D, the disruptions considered are those listed by D's snapshots, each once: the same
//! disruption `id` in several snapshots of D (or twice in one) is a duplicate, and the version
//! kept is the one with the latest `updated_at` (ties broken by the whole record, so the choice
//! does not depend on the reading order). Only D's snapshots are used, never another day's, so
//! `--date D` gives the same figures as a run over every day.
//!
//! # Rules (the prototype's §2.3 keys, with its bugs §7.4, §7.12 and §7.18 fixed)
//! - A disruption **counts for D** when one of its application periods overlaps the Paris day D
//!   (`begin < end of D` and `end > start of D`), whatever its `status` (which only describes
//!   the snapshot's moment). `active_disruptions_count` counts them; `total_disruptions_count`
//!   counts every disruption listed by D's snapshots.
//! - **Duration on D** = the union of the disruption's periods clipped to D, in hours (2
//!   decimals): overlapping periods are not counted twice and a one-year period gives at most
//!   the day's length (24 h, 23 h or 25 h on DST days). A period without an end lasts to the end
//!   of the day.
//! - **Severity score** (larger = more severe, on the prototype's 0..60 scale), used for the
//!   buckets, the alerts and `reliability_index`. It is NOT Navitia's `severity.priority`, which
//!   runs backwards ("0 is the strongest priority") and is set per contributor: in the real IDFM
//!   response the `bloquante` / `NO_SERVICE` impacts have priority 0 and the `perturbée` ones 30.
//!   The score is, in this order:
//!   1. from the GTFS-RT style **effect** when there is one (Navitia `severity.effect`, PRIM
//!      `severity.effect` or top-level `effect`), see
//!      [`effect_score`](crate::sources::traffic::effect_score): `NO_SERVICE` 60;
//!      `REDUCED_SERVICE`, `SIGNIFICANT_DELAYS` 30; `DETOUR`, `MODIFIED_SERVICE`, `STOP_MOVED`
//!      15; `ADDITIONAL_SERVICE`, `OTHER_EFFECT`, `UNKNOWN_EFFECT` and the other GTFS-RT effects
//!      (`NO_EFFECT`, `ACCESSIBILITY_ISSUE`) 0. A value that is not a GTFS-RT effect at all is
//!      not an effect: the next rules apply (and it is named in the warning if none does);
//!   2. else the PRIM string severity, see
//!      [`prim_severity_score`](crate::sources::traffic::prim_severity_score): `BLOQUANTE` 60,
//!      `PERTURBEE` 30, `INFORMATION` 0;
//!   3. else a numeric priority, only where the source is known to use "larger = more severe":
//!      the PRIM bulk feed (a bare number as `severity`, or `severity.priority` in a PRIM record:
//!      camelCase fields or a `lastUpdatedDate` wrapper). A Navitia `severity.priority` alone is
//!      not a score;
//!   4. else 0, with a quality warning (`unknown_state`), and the disruption is counted in
//!      `disruptions_severity_unknown` (null or missing severity: the prototype crashed).
//!
//!   The raw `severity.priority` (or a bare numeric severity) stays visible: each alert carries
//!   it as `navitia_priority` (null when there is none).
//! - **Severity buckets** over the disruptions counted for D: `CRITIQUE` score ≥ 50,
//!   `ELEVEE` ≥ 30, `MOYENNE` ≥ 15, `FAIBLE` below.
//! - **Impacted lines**: from the structured impacted objects, named by
//!   [`line_label`](crate::sources::traffic::line_label); the text scan
//!   [`lines_in_text`](crate::sources::traffic::lines_in_text) is only a fallback for
//!   disruptions that have no structured impacted object at all (or whose objects name lines by
//!   bare ids). The **PRIM `lines` join** comes first: the PRIM bulk response lists, besides
//!   its `disruptions`, the `lines` with their `impactedObjects[].disruptionIds`; every line
//!   that names a disruption's `id` (or `disruption_id`) is one of its lines, labelled from the
//!   line's `mode`, `shortName` and `name`. With such lines, a disruption's own text-scanned
//!   or id-only lines are dropped (its structured, named lines are kept); the text stays the
//!   fallback only for disruptions no line names. The join is over the whole run: the `lines`
//!   may come in the same response or in another file (any order). `top_lignes_impactees` = number of
//!   disruptions counted for D per line (a line once per disruption), top 10 by count, then by
//!   line in [`line_order`].
//! - **Alerts** `{id, priority, duration_hours, lignes, navitia_priority}` (`priority` = the
//!   score): disruptions counted for D with score ≥ 50 or a duration on D over 2 h, except those
//!   with score < 30 and no line; sorted by score desc, duration desc, id.
//! - `reliability_index`: see [`reliability_index`].
//!
//! # Known limits
//! - `reliability_index` is network-wide and does not look at what is impacted: one score-60
//!   disruption in force during the whole day gives 0, however many lines run normally, even
//!   when its `NO_SERVICE` concerns a few stops of one line. In the real IDFM response two
//!   `NO_SERVICE` works on Bus 272 (stops not served, 2024-04-17 to 2024-06-01) make 2024-04-30
//!   an index of 0; the bus strike of that morning alone (04:40-13:30) would give 63.19.
//! - A PRIM record's `cause` (`TRAVAUX`, `PERTURBATION`) says why, not what: it is not read as
//!   an effect.
//! - Bus lines are labelled by their code only: `Bus 1` of two networks is one label.
//! - The prototype's "digits of `category` when it contains METRO" rule is dropped: real
//!   categories are `Incidents`, `Actualité`..., never line numbers.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Europe::Paris;
use serde::Serialize;

use crate::geo::ArrondissementIndex;
use crate::metrics::DayDuplicates;
use crate::quality::MAX_SAMPLES;
use crate::time::Instant;

/// Severity score from which a disruption is an alert by itself and counts against reliability.
pub const ALERT_SCORE: i64 = 50;
/// Alerts with a severity score below this need at least one impacted line.
pub const LINE_REQUIRED_BELOW: i64 = 30;
/// An alert by duration: more than this many seconds on the day (2 h).
pub const ALERT_DURATION_S: u64 = 2 * 3600;
/// `end` of a period that has none: open until further notice.
pub const OPEN_END: Instant = Instant::MAX;
/// How many lines `top_lignes_impactees` keeps.
pub const TOP_LINES: usize = 10;

/// One application period, `[begin, end)` as instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    pub begin: Instant,
    /// [`OPEN_END`] when the period has no end.
    pub end: Instant,
}

/// One disruption (Navitia impact or PRIM bulk record), normalised.
///
/// Field order matters: the derived order is the deduplication order (the latest `updated`
/// wins, then the rest of the record breaks ties deterministically).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Disruption {
    /// `updated_at` / `lastUpdate`.
    pub updated: Option<Instant>,
    pub id: String,
    pub disruption_id: String,
    pub status: String,
    /// Severity score (larger = more severe): see the module rules; 0 when unknown.
    pub score: i64,
    /// False when no rule gave a score (null, missing or not understood severity, or a Navitia
    /// priority alone).
    pub severity_known: bool,
    /// The raw `severity.priority` (or a bare numeric `severity`), as given; not the score.
    pub navitia_priority: Option<i64>,
    /// Navitia `severity.effect` (`NO_SERVICE`, `SIGNIFICANT_DELAYS`...), else the PRIM
    /// severity or the Navitia severity name (upper case): the `disruptions_by_effect` key.
    pub effect: String,
    /// Sorted, unique.
    pub periods: Vec<Period>,
    /// Normalised line labels, sorted by [`line_order`], unique.
    pub lines: Vec<String>,
    pub cause: String,
    pub category: String,
    /// Its `lines` come from the text scan or bare ids, not from named structured objects.
    pub lines_guessed: bool,
}

impl Disruption {
    /// Sorts and deduplicates periods and lines (the canonical form compared across snapshots).
    pub fn normalise(&mut self) {
        self.periods.sort();
        self.periods.dedup();
        self.lines.sort_by(|a, b| line_order(a, b));
        self.lines.dedup();
    }
}

/// A disruption kept for a day, with how many times it was seen again.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    d: Disruption,
    /// Later sightings of the same id (duplicates).
    repeats: u64,
    /// Two sightings of this id differed.
    conflict: bool,
}

impl Entry {
    fn absorb(&mut self, o: Entry) {
        self.repeats += o.repeats + 1;
        self.conflict = self.conflict || o.conflict || self.d != o.d;
        if o.d > self.d {
            self.d = o.d;
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
struct DayAcc {
    /// Labels of the snapshots of the day (Paris time, or the partition date).
    snapshots: BTreeSet<String>,
    disruptions: BTreeMap<String, Entry>,
}

impl DayAcc {
    fn insert(&mut self, id: String, e: Entry) {
        match self.disruptions.get_mut(&id) {
            Some(cur) => cur.absorb(e),
            None => {
                self.disruptions.insert(id, e);
            }
        }
    }
}

/// Mergeable accumulator of every `traffic` file read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrafficAcc {
    days: BTreeMap<NaiveDate, DayAcc>,
    /// The PRIM `lines` join: disruption id -> labels of the lines naming it.
    line_links: BTreeMap<String, BTreeSet<String>>,
}

impl TrafficAcc {
    /// Records a snapshot of `day` (even an empty one: "no disruption" is data).
    pub fn add_snapshot(&mut self, day: NaiveDate, label: &str) {
        let d = self.days.entry(day).or_default();
        if !d.snapshots.contains(label) {
            d.snapshots.insert(label.to_string());
        }
    }

    /// Adds one disruption listed by a snapshot of `day`.
    pub fn add(&mut self, day: NaiveDate, mut d: Disruption) {
        d.normalise();
        let id = d.id.clone();
        self.days.entry(day).or_default().insert(
            id,
            Entry {
                d,
                repeats: 0,
                conflict: false,
            },
        );
    }

    /// A PRIM line (label) names disruption `id` in its `impactedObjects[].disruptionIds`.
    pub fn link_line(&mut self, id: &str, line: &str) {
        match self.line_links.get_mut(id) {
            Some(ls) => {
                if !ls.contains(line) {
                    ls.insert(line.to_string());
                }
            }
            None => {
                self.line_links
                    .insert(id.to_string(), BTreeSet::from([line.to_string()]));
            }
        }
    }

    /// The lines of `d`: through the PRIM `lines` join when a line names it (see the module
    /// docs), else its own. True when the join gave some.
    pub fn lines_of<'a>(&self, d: &'a Disruption) -> (Cow<'a, [String]>, bool) {
        let joined: BTreeSet<&String> = [&d.id, &d.disruption_id]
            .into_iter()
            .filter_map(|k| self.line_links.get(k))
            .flatten()
            .collect();
        if joined.is_empty() {
            return (Cow::Borrowed(&d.lines), false);
        }
        let mut lines: Vec<String> = joined.into_iter().cloned().collect();
        if !d.lines_guessed {
            lines.extend(d.lines.iter().cloned());
        }
        lines.sort_by(|a, b| line_order(a, b));
        lines.dedup();
        (Cow::Owned(lines), true)
    }

    pub fn merge(&mut self, other: TrafficAcc) {
        for (id, ls) in other.line_links {
            self.line_links.entry(id).or_default().extend(ls);
        }
        if self.days.is_empty() {
            self.days = other.days;
            return;
        }
        for (day, o) in other.days {
            let d = self.days.entry(day).or_default();
            d.snapshots.extend(o.snapshots);
            for (id, e) in o.disruptions {
                d.insert(id, e);
            }
        }
    }

    /// Paris days this source has data for (the days of the snapshots read).
    pub fn days(&self) -> BTreeSet<NaiveDate> {
        self.days.keys().copied().collect()
    }

    /// Repeated disruptions of `day` (None: rows with no date of their own, always none here:
    /// undated rows are rejected), counted once.
    pub fn duplicates(&self, day: Option<NaiveDate>) -> DayDuplicates {
        let Some(d) = day.and_then(|day| self.days.get(&day)) else {
            return DayDuplicates::default();
        };
        let mut out = DayDuplicates::default();
        for (id, e) in &d.disruptions {
            if e.repeats == 0 {
                continue;
            }
            out.count += e.repeats;
            if e.conflict {
                out.conflicting += 1;
            }
            if out.samples.len() < MAX_SAMPLES {
                out.samples
                    .push(format!("disruption {id} listed {} times", e.repeats + 1));
            }
        }
        out
    }

    /// The disruptions kept for `day` (deduplicated), in id order.
    pub fn disruptions(&self, day: NaiveDate) -> impl Iterator<Item = &Disruption> {
        self.days
            .get(&day)
            .into_iter()
            .flat_map(|d| d.disruptions.values().map(|e| &e.d))
    }
}

/// `{ligne, count}` of `top_lignes_impactees`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LineCount {
    pub ligne: String,
    pub count: u64,
}

/// One entry of `alerts`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Alert {
    pub id: String,
    /// The severity score (not Navitia's priority: see `navitia_priority`).
    pub priority: i64,
    /// Hours of the day covered by the disruption's periods (union, clipped to the day).
    pub duration_hours: f64,
    pub lignes: Vec<String>,
    /// The raw `severity.priority` of the source (Navitia: 0 = strongest), or null.
    pub navitia_priority: Option<i64>,
}

/// `disruptions_by_severity`, in the prototype's key order.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[allow(non_snake_case)]
pub struct SeverityCounts {
    pub CRITIQUE: u64,
    pub ELEVEE: u64,
    pub MOYENNE: u64,
    pub FAIBLE: u64,
}

impl SeverityCounts {
    fn add(&mut self, score: i64) {
        match score {
            p if p >= 50 => self.CRITIQUE += 1,
            p if p >= 30 => self.ELEVEE += 1,
            p if p >= 15 => self.MOYENNE += 1,
            _ => self.FAIBLE += 1,
        }
    }
}

/// `traffic_metrics_<date>.json`'s `metrics`: the prototype's keys in its order, then ours.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrafficMetrics {
    /// See [`reliability_index`].
    pub reliability_index: f64,
    /// Disruptions with a period overlapping the day.
    pub active_disruptions_count: u64,
    /// Disruptions listed by the day's snapshots (each once).
    pub total_disruptions_count: u64,
    pub top_lignes_impactees: Vec<LineCount>,
    pub alerts: Vec<Alert>,
    pub disruptions_by_severity: SeverityCounts,
    /// The day's snapshots: Paris times, or `YYYY-MM-DD (dt=)` when only the folder dates it.
    pub snapshot_times: Vec<String>,
    /// Length of the Paris day in hours (23, 24 or 25).
    pub day_hours: u32,
    /// Hours of the day with at least one disruption of severity score ≥ 50 (2 decimals).
    pub critical_hours: f64,
    /// Disruptions counted for the day, per Navitia `severity.effect` (PRIM: its severity).
    pub disruptions_by_effect: BTreeMap<String, u64>,
    /// Disruptions counted for the day with no impacted line found.
    pub disruptions_without_line: u64,
    /// Disruptions counted for the day with no severity score (null, missing or unknown
    /// severity, or a Navitia priority alone): score 0.
    pub disruptions_severity_unknown: u64,
    /// Only when PRIM `lines` were read: disruptions counted for the day whose lines come from
    /// the `lines[].impactedObjects[].disruptionIds` join.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disruptions_lines_from_prim_lines: Option<u64>,
}

/// `[start, end)` of the Paris day `day`, as instants (23, 24 or 25 hours long).
pub fn day_bounds(day: NaiveDate) -> (Instant, Instant) {
    let midnight = |d: NaiveDate| -> Instant {
        // Paris changes time at 02:00/03:00 since 1976, so local midnight exists; should a
        // (historic) day start in a gap, it starts when the gap ends.
        let naive = d.and_time(NaiveTime::MIN);
        let t = Paris
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                Paris
                    .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.timestamp())
            .unwrap_or_else(|| naive.and_utc().timestamp());
        t.clamp(0, i64::from(Instant::MAX)) as Instant
    };
    let next = day.succ_opt().unwrap_or(day);
    (midnight(day), midnight(next))
}

/// Seconds of `[start, end)` covered by the union of `periods` (any order, overlaps allowed).
pub fn covered_seconds(
    periods: impl IntoIterator<Item = Period>,
    start: Instant,
    end: Instant,
) -> u64 {
    let mut clipped: Vec<(Instant, Instant)> = periods
        .into_iter()
        .map(|p| (p.begin.max(start), p.end.min(end)))
        .filter(|(b, e)| b < e)
        .collect();
    clipped.sort_unstable();
    let mut total = 0u64;
    let mut cur: Option<(Instant, Instant)> = None;
    for (b, e) in clipped {
        match &mut cur {
            Some((_, ce)) if b <= *ce => *ce = (*ce).max(e),
            _ => {
                if let Some((cb, ce)) = cur {
                    total += u64::from(ce - cb);
                }
                cur = Some((b, e));
            }
        }
    }
    if let Some((cb, ce)) = cur {
        total += u64::from(ce - cb);
    }
    total
}

/// A period overlaps `[start, end)`. A zero-length period inside the day overlaps it.
pub fn overlaps(p: &Period, start: Instant, end: Instant) -> bool {
    p.begin < end && p.end > start
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn hours(seconds: u64) -> f64 {
    round2(seconds as f64 / 3600.0)
}

/// `reliability_index` of a day: the share (%, 2 decimals) of the day's hours (24, or 23 / 25
/// on DST days) during which **no** disruption of severity score ≥ [`ALERT_SCORE`] (the alert
/// threshold) was in one of its application periods. 100 = no critical disruption at any
/// moment of the day; 0 = a critical disruption at every moment. (The prototype returned 0 as
/// soon as any disruption was active.)
pub fn reliability_index(critical_seconds: u64, day_seconds: u64) -> f64 {
    if day_seconds == 0 {
        return 100.0;
    }
    let free = day_seconds.saturating_sub(critical_seconds);
    round2(100.0 * free as f64 / day_seconds as f64)
}

/// The metrics of `day`, or None when no snapshot of that day was read.
pub fn metrics(
    acc: &TrafficAcc,
    day: NaiveDate,
    arrondissements: &ArrondissementIndex,
) -> Option<TrafficMetrics> {
    let _ = arrondissements; // disruptions are per line, not geolocated here
    let dacc = acc.days.get(&day)?;
    let (start, end) = day_bounds(day);
    let day_seconds = u64::from(end - start);
    let mut active = 0u64;
    let mut by_severity = SeverityCounts::default();
    let mut by_effect: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_line: BTreeMap<String, u64> = BTreeMap::new();
    let mut joined = 0u64;
    let mut alerts: Vec<(Alert, u64)> = Vec::new();
    let mut critical: Vec<Period> = Vec::new();
    let mut without_line = 0u64;
    let mut severity_unknown = 0u64;
    for e in dacc.disruptions.values() {
        let d = &e.d;
        if !d.periods.iter().any(|p| overlaps(p, start, end)) {
            continue;
        }
        active += 1;
        by_severity.add(d.score);
        let effect = if d.effect.trim().is_empty() {
            "UNKNOWN"
        } else {
            d.effect.trim()
        };
        *by_effect.entry(effect.to_string()).or_default() += 1;
        let (lines, from_join) = acc.lines_of(d);
        joined += u64::from(from_join);
        if lines.is_empty() {
            without_line += 1;
        }
        if !d.severity_known {
            severity_unknown += 1;
        }
        for l in lines.iter() {
            *per_line.entry(l.clone()).or_default() += 1;
        }
        let secs = covered_seconds(d.periods.iter().copied(), start, end);
        if d.score >= ALERT_SCORE {
            critical.extend(d.periods.iter().copied());
        }
        let is_alert = d.score >= ALERT_SCORE || secs > ALERT_DURATION_S;
        let excluded = d.score < LINE_REQUIRED_BELOW && lines.is_empty();
        if is_alert && !excluded {
            alerts.push((
                Alert {
                    id: d.id.clone(),
                    priority: d.score,
                    duration_hours: hours(secs),
                    lignes: lines.into_owned(),
                    navitia_priority: d.navitia_priority,
                },
                secs,
            ));
        }
    }
    alerts.sort_by(|(a, sa), (b, sb)| {
        b.priority
            .cmp(&a.priority)
            .then(sb.cmp(sa))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut top: Vec<(String, u64)> = per_line.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| line_order(&a.0, &b.0)));
    let critical_seconds = covered_seconds(critical, start, end);
    Some(TrafficMetrics {
        reliability_index: reliability_index(critical_seconds, day_seconds),
        active_disruptions_count: active,
        total_disruptions_count: dacc.disruptions.len() as u64,
        top_lignes_impactees: top
            .into_iter()
            .take(TOP_LINES)
            .map(|(ligne, count)| LineCount { ligne, count })
            .collect(),
        alerts: alerts.into_iter().map(|(a, _)| a).collect(),
        disruptions_by_severity: by_severity,
        snapshot_times: dacc.snapshots.iter().cloned().collect(),
        day_hours: (day_seconds / 3600) as u32,
        critical_hours: hours(critical_seconds),
        disruptions_by_effect: by_effect,
        disruptions_without_line: without_line,
        disruptions_severity_unknown: severity_unknown,
        disruptions_lines_from_prim_lines: (!acc.line_links.is_empty()).then_some(joined),
    })
}

/// One disruption counted for a day (a period overlaps it): the analytics table's row.
#[derive(Debug, Clone, PartialEq)]
pub struct DayDisruption<'a> {
    pub id: &'a str,
    pub score: i64,
    /// `CRITIQUE`, `ELEVEE`, `MOYENNE` or `FAIBLE` (the `disruptions_by_severity` bucket).
    pub severity: &'static str,
    pub effect: &'a str,
    pub lines: &'a [String],
    /// Hours of the day covered by its periods.
    pub duration_hours: f64,
    /// Listed in the day's `alerts`.
    pub alert: bool,
}

/// Every disruption counted for `day` (those of `active_disruptions_count`), by id.
pub fn day_disruptions(acc: &TrafficAcc, day: NaiveDate) -> Vec<DayDisruption<'_>> {
    let Some(dacc) = acc.days.get(&day) else {
        return Vec::new();
    };
    let (start, end) = day_bounds(day);
    let mut out = Vec::new();
    for e in dacc.disruptions.values() {
        let d = &e.d;
        if !d.periods.iter().any(|p| overlaps(p, start, end)) {
            continue;
        }
        let secs = covered_seconds(d.periods.iter().copied(), start, end);
        let is_alert = d.score >= ALERT_SCORE || secs > ALERT_DURATION_S;
        let excluded = d.score < LINE_REQUIRED_BELOW && d.lines.is_empty();
        let effect = if d.effect.trim().is_empty() {
            "UNKNOWN"
        } else {
            d.effect.trim()
        };
        out.push(DayDisruption {
            id: &d.id,
            score: d.score,
            severity: match d.score {
                p if p >= 50 => "CRITIQUE",
                p if p >= 30 => "ELEVEE",
                p if p >= 15 => "MOYENNE",
                _ => "FAIBLE",
            },
            effect,
            lines: &d.lines,
            duration_hours: hours(secs),
            alert: is_alert && !excluded,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Line names

/// Transport mode of a line, as far as the labels go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Metro,
    Rer,
    Tram,
    Transilien,
    Bus,
}

impl Mode {
    fn prefix(self) -> &'static str {
        match self {
            Mode::Metro => "Métro",
            Mode::Rer => "RER",
            Mode::Tram => "Tram",
            Mode::Transilien => "Transilien",
            Mode::Bus => "Bus",
        }
    }
}

fn mode_rank(label: &str) -> usize {
    [
        Mode::Metro,
        Mode::Rer,
        Mode::Tram,
        Mode::Transilien,
        Mode::Bus,
    ]
    .iter()
    .position(|m| {
        label
            .strip_prefix(m.prefix())
            .is_some_and(|r| r.starts_with(' '))
    })
    .unwrap_or(5)
}

/// Natural order of line labels: by mode (Métro, RER, Tram, Transilien, Bus, others), then by
/// the number in the code (`Métro 2` < `Métro 3` < `Métro 3bis` < `Métro 10`), then as text.
pub fn line_order(a: &str, b: &str) -> Ordering {
    fn key(l: &str) -> (usize, bool, u64, &str) {
        let code = l.split_once(' ').map(|(_, c)| c).unwrap_or(l);
        let code = code.strip_prefix('T').unwrap_or(code);
        let digits: String = code.chars().take_while(char::is_ascii_digit).collect();
        let num = digits.parse::<u64>().ok();
        (mode_rank(l), num.is_none(), num.unwrap_or(0), l)
    }
    key(a).cmp(&key(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_instant;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn t(s: &str) -> Instant {
        parse_instant(s).unwrap()
    }

    fn p(b: &str, e: &str) -> Period {
        Period {
            begin: t(b),
            end: t(e),
        }
    }

    /// A disruption of severity score `score` (its raw Navitia priority is left at None).
    fn dis(id: &str, score: i64, periods: &[(&str, &str)], lines: &[&str]) -> Disruption {
        Disruption {
            id: id.into(),
            disruption_id: id.into(),
            status: "active".into(),
            score,
            severity_known: true,
            effect: "SIGNIFICANT_DELAYS".into(),
            periods: periods.iter().map(|(b, e)| p(b, e)).collect(),
            lines: lines.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    /// An accumulator holding one snapshot of `day` that lists `ds`.
    fn day_acc<const N: usize>(day: NaiveDate, snapshot: &str, ds: [Disruption; N]) -> TrafficAcc {
        let mut acc = TrafficAcc::default();
        acc.add_snapshot(day, snapshot);
        for x in ds {
            acc.add(day, x);
        }
        acc
    }

    #[test]
    fn day_lengths_follow_dst() {
        for (day, h) in [("2024-04-30", 24), ("2024-03-31", 23), ("2024-10-27", 25)] {
            let (s, e) = day_bounds(d(day));
            assert_eq!(e - s, h * 3600, "{day}");
        }
        let (s, _) = day_bounds(d("2024-04-30"));
        assert_eq!(s, t("2024-04-30T00:00:00+02:00"));
    }

    #[test]
    fn union_of_overlapping_periods_by_hand() {
        let (s, e) = day_bounds(d("2024-04-30"));
        // 08:00-10:00 and 09:00-12:00 overlap: union 08:00-12:00 = 4 h (not 2 + 3 = 5 h);
        // 11:30-11:45 lies inside; 20:00-(next day 03:00) clipped to 20:00-24:00 = 4 h;
        // 2023-01-01..2025-01-01 (a 2-year period) covers everything: 24 h alone.
        let ps = vec![
            p("2024-04-30T08:00:00", "2024-04-30T10:00:00"),
            p("2024-04-30T09:00:00", "2024-04-30T12:00:00"),
            p("2024-04-30T11:30:00", "2024-04-30T11:45:00"),
            p("2024-04-30T20:00:00", "2024-05-01T03:00:00"),
        ];
        assert_eq!(covered_seconds(ps.clone(), s, e), 8 * 3600);
        let long = vec![p("2023-01-01T00:00:00", "2025-01-01T00:00:00")];
        assert_eq!(covered_seconds(long, s, e), 24 * 3600);
        // touching periods merge: 01:00-02:00 + 02:00-03:00 = 2 h
        let touch = vec![
            p("2024-04-30T02:00:00", "2024-04-30T03:00:00"),
            p("2024-04-30T01:00:00", "2024-04-30T02:00:00"),
        ];
        assert_eq!(covered_seconds(touch, s, e), 2 * 3600);
        // open end: from 22:30 to the end of the day = 1.5 h
        let open = vec![Period {
            begin: t("2024-04-30T22:30:00"),
            end: OPEN_END,
        }];
        assert_eq!(covered_seconds(open, s, e), 5400);
    }

    #[test]
    fn metrics_by_hand() {
        let day = d("2024-04-30");
        let acc = day_acc(
            day,
            "2024-04-30T05:23:03+02:00",
            [
                // a: score 60, 08:00-10:00 and 09:00-12:00 -> 4 h, alert (score), critical
                dis(
                    "a",
                    60,
                    &[
                        ("2024-04-30T08:00:00", "2024-04-30T10:00:00"),
                        ("2024-04-30T09:00:00", "2024-04-30T12:00:00"),
                    ],
                    &["Métro 4"],
                ),
                // b: score 30, one year -> 24 h on the day, alert (duration), lines RER B +
                // Métro 4
                dis(
                    "b",
                    30,
                    &[("2024-01-01T00:00:00", "2025-01-01T00:00:00")],
                    &["RER B", "Métro 4"],
                ),
                // c: score 0, 3 h, no line -> not an alert (score < 30 and no line)
                dis(
                    "c",
                    0,
                    &[("2024-04-30T13:00:00", "2024-04-30T16:00:00")],
                    &[],
                ),
                // e: score 55, 11:00-13:00 -> critical, overlaps a's 08:00-12:00
                dis(
                    "e",
                    55,
                    &[("2024-04-30T11:00:00", "2024-04-30T13:00:00")],
                    &["Bus 72"],
                ),
                // f: future, not on the day: in total only
                dis(
                    "f",
                    60,
                    &[("2024-05-02T08:00:00", "2024-05-02T09:00:00")],
                    &["Métro 1"],
                ),
            ],
        );
        let m = metrics(&acc, day, &ArrondissementIndex::default()).unwrap();
        assert_eq!(m.active_disruptions_count, 4);
        assert_eq!(m.total_disruptions_count, 5);
        // critical hours: union(08-12, 11-13) = 08:00-13:00 = 5 h; reliability = 19/24 = 79.17 %
        assert_eq!(m.critical_hours, 5.0);
        assert_eq!(m.reliability_index, 79.17);
        assert_eq!(
            m.disruptions_by_severity,
            SeverityCounts {
                CRITIQUE: 2,
                ELEVEE: 1,
                MOYENNE: 0,
                FAIBLE: 1
            }
        );
        let ids: Vec<(&str, i64, f64)> = m
            .alerts
            .iter()
            .map(|a| (a.id.as_str(), a.priority, a.duration_hours))
            .collect();
        assert_eq!(ids, vec![("a", 60, 4.0), ("e", 55, 2.0), ("b", 30, 24.0)]);
        assert_eq!(m.alerts[2].lignes, vec!["Métro 4", "RER B"]);
        let top: Vec<(&str, u64)> = m
            .top_lignes_impactees
            .iter()
            .map(|l| (l.ligne.as_str(), l.count))
            .collect();
        assert_eq!(top, vec![("Métro 4", 2), ("RER B", 1), ("Bus 72", 1)]);
        assert_eq!(m.disruptions_without_line, 1);
        assert_eq!(m.day_hours, 24);
        assert_eq!(m.snapshot_times, vec!["2024-04-30T05:23:03+02:00"]);
        assert!(metrics(&acc, d("2024-05-01"), &ArrondissementIndex::default()).is_none());
    }

    #[test]
    fn reliability_on_a_dst_day() {
        // 2024-03-31 lasts 23 h. A score-60 disruption 00:00-01:00 and 04:00-06:00 local
        // covers 3 h: reliability = 20/23 = 86.956... -> 86.96.
        let day = d("2024-03-31");
        let acc = day_acc(
            day,
            "x",
            [dis(
                "a",
                60,
                &[
                    ("2024-03-31T00:00:00", "2024-03-31T01:00:00"),
                    ("2024-03-31T04:00:00", "2024-03-31T06:00:00"),
                ],
                &[],
            )],
        );
        let m = metrics(&acc, day, &ArrondissementIndex::default()).unwrap();
        assert_eq!(m.day_hours, 23);
        assert_eq!(m.critical_hours, 3.0);
        assert_eq!(m.reliability_index, 86.96);
        // A whole-day disruption on the 25-hour day: 25 h, reliability 0.
        let day = d("2024-10-27");
        let acc = day_acc(
            day,
            "x",
            [dis(
                "b",
                50,
                &[("2024-10-01T00:00:00", "2024-11-01T00:00:00")],
                &[],
            )],
        );
        let m = metrics(&acc, day, &ArrondissementIndex::default()).unwrap();
        assert_eq!(m.day_hours, 25);
        assert_eq!(m.alerts[0].duration_hours, 25.0);
        assert_eq!(m.reliability_index, 0.0);
    }

    #[test]
    fn duplicates_keep_the_latest_whatever_the_order() {
        let day = d("2024-04-30");
        let mut old = dis(
            "a",
            30,
            &[("2024-04-30T08:00:00", "2024-04-30T09:00:00")],
            &[],
        );
        old.updated = Some(t("2024-04-29T10:00:00"));
        let mut new = old.clone();
        new.updated = Some(t("2024-04-30T04:00:00"));
        new.score = 60;
        let mut a = TrafficAcc::default();
        a.add(day, old.clone());
        a.add(day, old.clone()); // identical repeat
        let mut b = TrafficAcc::default();
        b.add(day, new.clone());
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b;
        ba.merge(a);
        assert_eq!(ab, ba);
        let kept: Vec<_> = ab.disruptions(day).collect();
        assert_eq!(kept, vec![&new]);
        let dup = ab.duplicates(Some(day));
        assert_eq!(dup.count, 2);
        assert_eq!(dup.conflicting, 1);
        assert_eq!(dup.samples, vec!["disruption a listed 3 times"]);
        assert_eq!(ab.duplicates(None), DayDuplicates::default());
    }

    #[test]
    fn natural_line_order() {
        let mut v = vec![
            "Bus 12",
            "Bus 2",
            "Métro 10",
            "RER A",
            "Métro 3bis",
            "Métro 3",
            "Tram T3a",
            "Bus A",
        ];
        v.sort_by(|a, b| line_order(a, b));
        assert_eq!(
            v,
            vec![
                "Métro 3",
                "Métro 3bis",
                "Métro 10",
                "RER A",
                "Tram T3a",
                "Bus 2",
                "Bus 12",
                "Bus A"
            ]
        );
    }

    #[test]
    fn alerts_show_the_score_and_the_raw_navitia_priority() {
        // A NO_SERVICE impact with Navitia priority 0 (0 = strongest): score 60, 1 h -> an
        // alert by its score, CRITIQUE, 1 h critical -> reliability 23/24 = 95.83 %.
        let day = d("2024-04-30");
        let mut acc = TrafficAcc::default();
        acc.add_snapshot(day, "x");
        let mut a = dis(
            "a",
            60,
            &[("2024-04-30T08:00:00", "2024-04-30T09:00:00")],
            &["Bus 272"],
        );
        a.navitia_priority = Some(0);
        acc.add(day, a);
        let m = metrics(&acc, day, &ArrondissementIndex::default()).unwrap();
        assert_eq!(m.disruptions_by_severity.CRITIQUE, 1);
        assert_eq!(
            m.alerts,
            vec![Alert {
                id: "a".into(),
                priority: 60,
                duration_hours: 1.0,
                lignes: vec!["Bus 272".into()],
                navitia_priority: Some(0),
            }]
        );
        assert_eq!(m.reliability_index, 95.83);
    }
}
