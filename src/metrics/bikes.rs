//! Permanent bike counters of Paris (`bikes`, the `comptage-velo-donnees-compteurs` dataset, not
//! Vélib): per counter and per Paris day.
//!
//! Hourly records are kept per (counter, Paris day) as compact slots keyed by their instant, so a
//! record repeated across files (same counter and hour) is counted once, and memory grows with
//! counters × days × hours, never with the size of the files. Counts are integers: every sum is
//! exact and the output is the same whatever the thread count and however rows are split.
//!
//! Rules (the prototype's §2.2 fields, with its bugs §7.8, §7.9, §7.13, §7.18 fixed):
//! - `date` is the Paris day `YYYY-MM-DD` (the prototype wrote the first record's timestamp).
//! - `total_jour` = Σ hourly counts of the day; `moyenne_horaire` = `total_jour` / hours observed
//!   (hours with a count), not / 24; null when no hour has a count.
//! - `pic_horaire` = the Paris local hour (0-23) of the largest hourly count, earliest on ties;
//!   null when no hour has a count.
//! - Failing sensors, over the whole Paris day: ≥ 12 observed hours all zero
//!   (`"zero sur N heures"`), or ≥ 12 observed hours all with the same non-zero value
//!   (`"valeur constante V sur N heures"`). A counter quiet for fewer hours (a night, or a 1-2 hour
//!   API snapshot) is not failing. Failing counters are left out of `metrics`, `top_counters`,
//!   `anomalies` and `frequentation_index`.
//! - Anomalies, the prototype's documented (but never called) rule: `total_jour` changes by more
//!   than 300 % against the previous Paris day, when the accumulator holds that day for the counter
//!   with at least one observed hour: |today − yesterday| / yesterday > 3, computed on integers.
//!   A yesterday of 0 gives no anomaly (the ratio is undefined; a counter coming back from zero is
//!   not a traffic anomaly). Note that a decrease is at most −100 %, so only increases can fire.
//! - `frequentation_index` = min(100, total / 100000 × 100), total = Σ `total_jour` of the
//!   non-failing counters (the prototype counted the failing ones too).
//! - `arrondissement`: point-in-polygon of the counter's coordinates against the arrondissements
//!   file; null without coordinates or outside Paris.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use chrono_tz::Europe::Paris;
use serde::Serialize;

use crate::geo::{ArrondissementIndex, Pt};
use crate::metrics::{arc_order, merge_keyed, note_dup, DayDuplicates};
use crate::time::{format_paris, Instant};

/// No count (the record had a null or empty count).
pub const NONE: u32 = u32::MAX;
/// Observed hours from which a zero or flat day marks a failing sensor.
pub const FAILING_MIN_HOURS: u32 = 12;
/// An anomaly is a day-over-day change of more than this ratio (300 %).
pub const ANOMALY_RATIO: u64 = 3;
/// How many counters `top_counters` keeps.
pub const TOP_N: usize = 10;

/// One hourly record, compact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub t: Instant,
    /// Bikes counted in the hour, or [`NONE`].
    pub count: u32,
    /// Records for this counter and instant disagreed (set by deduplication).
    pub conflict: bool,
}

impl Slot {
    pub fn new(t: Instant, count: Option<u32>) -> Slot {
        Slot {
            t,
            count: count.unwrap_or(NONE),
            conflict: false,
        }
    }

    pub fn count(&self) -> Option<u32> {
        (self.count != NONE).then_some(self.count)
    }

    /// Between two records of the same counter and instant, the one kept: a count first, then
    /// the larger count. A total order, so the choice does not depend on the reading order.
    fn rank(&self) -> (bool, u32) {
        (self.count != NONE, self.count)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
struct DayAcc {
    /// Sorted by `t`, unique.
    slots: Vec<Slot>,
    duplicates: u32,
    /// The 3 earliest duplicated instants, for the quality report.
    dup_samples: Vec<Instant>,
}

impl DayAcc {
    fn insert(&mut self, s: Slot) {
        // Records mostly come in time order: check the end first.
        let pos = match self.slots.last() {
            Some(l) if l.t < s.t => Err(self.slots.len()),
            _ => self.slots.binary_search_by_key(&s.t, |x| x.t),
        };
        match pos {
            Ok(i) => {
                // Order-free: the kept record is the max by rank, and the flag says whether any
                // two records of this instant differed.
                let cur = &mut self.slots[i];
                self.duplicates += 1;
                let conflict = cur.conflict || s.conflict || cur.count != s.count;
                if s.rank() > cur.rank() {
                    *cur = s;
                }
                cur.conflict = conflict;
                note_dup(&mut self.dup_samples, s.t);
            }
            Err(i) => self.slots.insert(i, s),
        }
    }

    fn merge(&mut self, o: DayAcc) {
        self.duplicates += o.duplicates;
        for t in o.dup_samples {
            note_dup(&mut self.dup_samples, t);
        }
        if self.slots.is_empty() {
            self.slots = o.slots;
            return;
        }
        for s in o.slots {
            self.insert(s);
        }
    }
}

/// A value seen at an instant; the latest wins, ties broken by the value itself.
#[derive(Debug, Clone, PartialEq)]
struct Latest<T> {
    t: Instant,
    v: T,
}

fn pt_cmp(a: &Pt, b: &Pt) -> std::cmp::Ordering {
    a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1]))
}

#[derive(Debug, Clone, Default, PartialEq)]
struct CounterAcc {
    /// Latest non-empty `nom_compteur`.
    nom: Option<Latest<String>>,
    /// Latest coordinates (a record without coordinates does not erase them).
    point: Option<Latest<Pt>>,
    days: HashMap<NaiveDate, DayAcc>,
}

impl CounterAcc {
    fn offer_nom(&mut self, t: Instant, nom: &str) {
        let nom = nom.trim();
        if nom.is_empty() {
            return;
        }
        let replace = match &self.nom {
            None => true,
            Some(cur) => (t, nom) > (cur.t, cur.v.as_str()),
        };
        if replace {
            let cur = self.nom.get_or_insert_with(|| Latest {
                t,
                v: String::new(),
            });
            cur.t = t;
            cur.v.clear();
            cur.v.push_str(nom);
        }
    }

    fn offer_point(&mut self, t: Instant, p: Pt) {
        let replace = match &self.point {
            None => true,
            Some(cur) => t.cmp(&cur.t).then(pt_cmp(&p, &cur.v)).is_gt(),
        };
        if replace {
            self.point = Some(Latest { t, v: p });
        }
    }

    fn merge(&mut self, o: CounterAcc) {
        if let Some(n) = o.nom {
            self.offer_nom(n.t, &n.v);
        }
        if let Some(p) = o.point {
            self.offer_point(p.t, p.v);
        }
        merge_keyed(&mut self.days, o.days, DayAcc::merge);
    }
}

/// Mergeable accumulator of every `bikes` file read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BikesAcc {
    counters: HashMap<String, CounterAcc>,
}

impl BikesAcc {
    /// Adds one hourly record of counter `id`. `day` is the Paris day of `slot.t`.
    pub fn add(&mut self, id: &str, day: NaiveDate, slot: Slot, nom: &str, point: Option<Pt>) {
        let c = match self.counters.get_mut(id) {
            Some(c) => c,
            None => self.counters.entry(id.to_string()).or_default(),
        };
        c.offer_nom(slot.t, nom);
        if let Some(p) = point {
            c.offer_point(slot.t, p);
        }
        c.days.entry(day).or_default().insert(slot);
    }

    pub fn merge(&mut self, other: BikesAcc) {
        merge_keyed(&mut self.counters, other.counters, CounterAcc::merge);
    }

    /// Paris days this source has data for.
    pub fn days(&self) -> BTreeSet<NaiveDate> {
        self.counters
            .values()
            .flat_map(|c| c.days.keys().copied())
            .collect()
    }

    /// Repeated records of `day` (None: rows with no date of their own: there are none, an
    /// undated record is rejected), counted once.
    pub fn duplicates(&self, day: Option<NaiveDate>) -> DayDuplicates {
        let mut out = DayDuplicates::default();
        let Some(day) = day else { return out };
        let mut samples: Vec<(&str, Instant)> = Vec::new();
        for (id, c) in &self.counters {
            let Some(d) = c.days.get(&day) else { continue };
            if d.duplicates == 0 {
                continue;
            }
            out.count += u64::from(d.duplicates);
            out.conflicting += d.slots.iter().filter(|s| s.conflict).count() as u64;
            samples.extend(d.dup_samples.iter().map(|t| (id.as_str(), *t)));
        }
        samples.sort_by(|a, b| arc_order(a.0, b.0).then(a.1.cmp(&b.1)));
        out.samples = samples
            .into_iter()
            .take(crate::quality::MAX_SAMPLES)
            .map(|(id, t)| format!("counter {id} at {}", format_paris(t)))
            .collect();
        out
    }

    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }
}

/// `{lon, lat}`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Coordinates {
    pub lon: f64,
    pub lat: f64,
}

/// One counter's day (the prototype's keys, in its order, then `heures_observees` placed before
/// `arrondissement` as the brief lists it).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CounterDayMetrics {
    /// The Paris day `YYYY-MM-DD`.
    pub date: String,
    pub id_compteur: String,
    pub nom_compteur: String,
    pub total_jour: u64,
    /// `total_jour` / `heures_observees`; null when no hour has a count.
    pub moyenne_horaire: Option<f64>,
    /// Paris local hour (0-23) of the largest count, earliest on ties.
    pub pic_horaire: Option<u32>,
    pub heures_observees: u32,
    pub arrondissement: Option<String>,
    pub coordinates: Option<Coordinates>,
    pub anomalie_detectee: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FailingSensor {
    pub id_compteur: String,
    pub raison: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Anomaly {
    pub id_compteur: String,
    pub total_jour: u64,
    pub total_veille: u64,
    /// (today − yesterday) / yesterday × 100.
    pub variation_pct: f64,
}

/// `bikes_metrics_<date>.json`'s `metrics`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BikesMetrics {
    pub metrics: Vec<CounterDayMetrics>,
    pub failing_sensors: Vec<FailingSensor>,
    pub anomalies: Vec<Anomaly>,
    pub top_counters: Vec<CounterDayMetrics>,
    pub frequentation_index: f64,
    /// Σ `total_jour` of `metrics` (failing counters excluded).
    pub total_velos: u64,
    /// Counters in `metrics`.
    pub nombre_compteurs: u64,
    pub nombre_compteurs_defaillants: u64,
    /// Σ `heures_observees` of `metrics`.
    pub heures_observees: u64,
}

/// The figures of one counter's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DayStats {
    total: u64,
    hours: u32,
    /// (count, instant) of the largest count, earliest on ties.
    peak: Option<(u32, Instant)>,
}

fn day_stats(d: &DayAcc) -> DayStats {
    let mut st = DayStats {
        total: 0,
        hours: 0,
        peak: None,
    };
    // slots are sorted by time: a strictly larger count is needed to move the peak.
    for s in &d.slots {
        let Some(c) = s.count() else { continue };
        st.total += u64::from(c);
        st.hours += 1;
        if st.peak.is_none_or(|(m, _)| c > m) {
            st.peak = Some((c, s.t));
        }
    }
    st
}

/// Why a counter's day marks it failing, if it does.
fn failing_reason(d: &DayAcc, st: &DayStats) -> Option<String> {
    if st.hours < FAILING_MIN_HOURS {
        return None;
    }
    let mut counts = d.slots.iter().filter_map(Slot::count);
    let first = counts.next()?;
    if !counts.all(|c| c == first) {
        return None;
    }
    Some(if first == 0 {
        format!("zero sur {} heures", st.hours)
    } else {
        format!("valeur constante {first} sur {} heures", st.hours)
    })
}

/// Is `today` more than 300 % away from `yesterday`? Integer arithmetic, so exact.
/// `yesterday` = 0 is never an anomaly (the ratio is undefined).
fn is_anomaly(today: u64, yesterday: u64) -> bool {
    yesterday > 0 && today.abs_diff(yesterday) > ANOMALY_RATIO * yesterday
}

/// The Paris local hour (0-23) of an instant.
pub fn paris_hour(t: Instant) -> u32 {
    let utc = DateTime::<Utc>::from_timestamp(i64::from(t), 0).expect("u32 seconds are in range");
    utc.with_timezone(&Paris).hour()
}

/// The metrics of `day`, or None when the source has nothing for it.
pub fn metrics(
    acc: &BikesAcc,
    day: NaiveDate,
    arrondissements: &ArrondissementIndex,
) -> Option<BikesMetrics> {
    let mut ids: Vec<(&String, &CounterAcc, &DayAcc)> = acc
        .counters
        .iter()
        .filter_map(|(id, c)| c.days.get(&day).map(|d| (id, c, d)))
        .collect();
    if ids.is_empty() {
        return None;
    }
    ids.sort_by(|a, b| arc_order(a.0, b.0));
    let yesterday = day.pred_opt();
    let mut metrics = Vec::new();
    let mut failing = Vec::new();
    let mut anomalies = Vec::new();
    for (id, c, d) in ids {
        let st = day_stats(d);
        if let Some(raison) = failing_reason(d, &st) {
            failing.push(FailingSensor {
                id_compteur: id.clone(),
                raison,
            });
            continue;
        }
        let veille = yesterday
            .and_then(|y| c.days.get(&y))
            .map(day_stats)
            .filter(|s| s.hours > 0);
        let mut anomalie = false;
        if let Some(v) = veille {
            if is_anomaly(st.total, v.total) {
                anomalie = true;
                anomalies.push(Anomaly {
                    id_compteur: id.clone(),
                    total_jour: st.total,
                    total_veille: v.total,
                    variation_pct: (st.total as f64 - v.total as f64) * 100.0 / v.total as f64,
                });
            }
        }
        let point = c.point.as_ref().map(|p| p.v);
        metrics.push(CounterDayMetrics {
            date: day.to_string(),
            id_compteur: id.clone(),
            nom_compteur: c.nom.as_ref().map(|n| n.v.clone()).unwrap_or_default(),
            total_jour: st.total,
            moyenne_horaire: (st.hours > 0).then(|| st.total as f64 / f64::from(st.hours)),
            pic_horaire: st.peak.map(|(_, t)| paris_hour(t)),
            heures_observees: st.hours,
            arrondissement: point.and_then(|p| arrondissements.lookup(p).map(str::to_string)),
            coordinates: point.map(|p| Coordinates {
                lon: p[0],
                lat: p[1],
            }),
            anomalie_detectee: anomalie,
        });
    }
    let mut top = metrics.clone();
    top.sort_by(|a, b| {
        b.total_jour
            .cmp(&a.total_jour)
            .then(arc_order(&a.id_compteur, &b.id_compteur))
    });
    top.truncate(TOP_N);
    let total: u64 = metrics.iter().map(|m| m.total_jour).sum();
    let hours: u64 = metrics.iter().map(|m| u64::from(m.heures_observees)).sum();
    Some(BikesMetrics {
        nombre_compteurs: metrics.len() as u64,
        nombre_compteurs_defaillants: failing.len() as u64,
        metrics,
        failing_sensors: failing,
        anomalies,
        top_counters: top,
        // total / 100000 × 100 = total / 1000, written so that it is correctly rounded
        frequentation_index: (total as f64 / 1000.0).min(100.0),
        total_velos: total,
        heures_observees: hours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{paris_day, parse_instant};

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn t(s: &str) -> Instant {
        parse_instant(s).unwrap()
    }

    /// Adds hourly counts starting at a Paris instant, one per hour.
    fn hours(acc: &mut BikesAcc, id: &str, start: &str, counts: &[Option<u32>]) {
        for (i, c) in counts.iter().enumerate() {
            let ti = t(start) + 3600 * i as u32;
            acc.add(
                id,
                paris_day(ti),
                Slot::new(ti, *c),
                "Compteur",
                Some([2.3, 48.87]),
            );
        }
    }

    fn idx() -> ArrondissementIndex {
        ArrondissementIndex::default()
    }

    #[test]
    fn one_counter_by_hand() {
        let mut acc = BikesAcc::default();
        // 08:00 10, 09:00 30, 10:00 null, 11:00 30, 12:00 5 (Paris, winter)
        hours(
            &mut acc,
            "100-1",
            "2024-01-04T08:00:00+01:00",
            &[Some(10), Some(30), None, Some(30), Some(5)],
        );
        let m = metrics(&acc, day("2024-01-04"), &idx()).unwrap();
        let c = &m.metrics[0];
        assert_eq!(c.date, "2024-01-04");
        assert_eq!(c.total_jour, 75); // 10 + 30 + 30 + 5
        assert_eq!(c.heures_observees, 4); // the null hour is not observed
        assert_eq!(c.moyenne_horaire, Some(18.75)); // 75 / 4, not 75 / 24
        assert_eq!(c.pic_horaire, Some(9)); // 30 at 09:00 and 11:00: the earliest
        assert_eq!(
            c.coordinates,
            Some(Coordinates {
                lon: 2.3,
                lat: 48.87
            })
        );
        assert_eq!(c.arrondissement, None);
        assert!(!c.anomalie_detectee);
        assert_eq!(m.total_velos, 75);
        assert_eq!(m.frequentation_index, 0.075); // 75 / 100000 × 100
        assert_eq!(m.top_counters, m.metrics);
        assert!(metrics(&acc, day("2024-01-05"), &idx()).is_none());
    }

    #[test]
    fn peak_hour_is_paris_local_time() {
        let mut acc = BikesAcc::default();
        // 22:00 UTC in July is 00:00 the next day in Paris; 12:00 UTC is 14:00
        hours(&mut acc, "1", "2024-07-04T12:00:00+00:00", &[Some(50)]);
        hours(&mut acc, "1", "2024-07-04T22:00:00+00:00", &[Some(80)]);
        let m = metrics(&acc, day("2024-07-04"), &idx()).unwrap();
        assert_eq!(m.metrics[0].pic_horaire, Some(14));
        assert_eq!(m.metrics[0].total_jour, 50);
        let m = metrics(&acc, day("2024-07-05"), &idx()).unwrap();
        assert_eq!(m.metrics[0].pic_horaire, Some(0));
    }

    #[test]
    fn failing_sensors_need_twelve_hours() {
        let mut acc = BikesAcc::default();
        hours(
            &mut acc,
            "1-zero12",
            "2024-01-04T06:00:00+01:00",
            &[Some(0); 12],
        );
        hours(
            &mut acc,
            "2-zero11",
            "2024-01-04T06:00:00+01:00",
            &[Some(0); 11],
        );
        hours(
            &mut acc,
            "3-flat12",
            "2024-01-04T06:00:00+01:00",
            &[Some(7); 12],
        );
        // 12 hours of 7 and one of 8: not flat
        let mut v = vec![Some(7); 12];
        v.push(Some(8));
        hours(&mut acc, "4-notflat", "2024-01-04T06:00:00+01:00", &v);
        // 11 observed zero hours and one null: still only 11 observed
        let mut v = vec![Some(0); 11];
        v.push(None);
        hours(&mut acc, "5-zero11null", "2024-01-04T06:00:00+01:00", &v);
        let m = metrics(&acc, day("2024-01-04"), &idx()).unwrap();
        assert_eq!(
            m.failing_sensors,
            vec![
                FailingSensor {
                    id_compteur: "1-zero12".into(),
                    raison: "zero sur 12 heures".into()
                },
                FailingSensor {
                    id_compteur: "3-flat12".into(),
                    raison: "valeur constante 7 sur 12 heures".into()
                },
            ]
        );
        let ids: Vec<&str> = m.metrics.iter().map(|c| c.id_compteur.as_str()).collect();
        assert_eq!(ids, vec!["2-zero11", "4-notflat", "5-zero11null"]);
        // failing counters are out of the total: 0 + 92 + 0 (the flat 84 is excluded)
        assert_eq!(m.total_velos, 92);
        assert_eq!(m.nombre_compteurs_defaillants, 2);
        assert!(m.top_counters.iter().all(|c| c.id_compteur != "3-flat12"));
    }

    #[test]
    fn anomalies_above_300_percent_against_yesterday() {
        let mut acc = BikesAcc::default();
        // yesterday 100 for all three; today 401 (+301 %), 399 (+299 %), 400 (+300 %, not more)
        for (id, today) in [("a", 401), ("b", 399), ("c", 400)] {
            hours(&mut acc, id, "2024-01-03T08:00:00+01:00", &[Some(100)]);
            hours(&mut acc, id, "2024-01-04T08:00:00+01:00", &[Some(today)]);
        }
        // yesterday 0: no anomaly whatever today
        hours(&mut acc, "d", "2024-01-03T08:00:00+01:00", &[Some(0)]);
        hours(&mut acc, "d", "2024-01-04T08:00:00+01:00", &[Some(500)]);
        // no yesterday at all
        hours(&mut acc, "e", "2024-01-04T08:00:00+01:00", &[Some(500)]);
        // yesterday only null counts: not a known day
        hours(&mut acc, "f", "2024-01-03T08:00:00+01:00", &[None]);
        hours(&mut acc, "f", "2024-01-04T08:00:00+01:00", &[Some(500)]);
        let m = metrics(&acc, day("2024-01-04"), &idx()).unwrap();
        assert_eq!(
            m.anomalies,
            vec![Anomaly {
                id_compteur: "a".into(),
                total_jour: 401,
                total_veille: 100,
                variation_pct: 301.0,
            }]
        );
        let flags: Vec<(&str, bool)> = m
            .metrics
            .iter()
            .map(|c| (c.id_compteur.as_str(), c.anomalie_detectee))
            .collect();
        assert_eq!(
            flags,
            vec![
                ("a", true),
                ("b", false),
                ("c", false),
                ("d", false),
                ("e", false),
                ("f", false)
            ]
        );
        assert!(!is_anomaly(0, 0) && !is_anomaly(1, 0));
        // a drop is at most -100 %: never above 300 %
        assert!(!is_anomaly(0, 100));
    }

    #[test]
    fn dst_days_have_25_and_23_hours() {
        let mut acc = BikesAcc::default();
        // 2024-10-27 in Paris runs from 2024-10-26T22:00Z to 2024-10-27T23:00Z: 25 hours
        hours(&mut acc, "1", "2024-10-27T00:00:00+02:00", &[Some(1); 25]);
        // 2024-03-31 runs from 2024-03-30T23:00Z to 2024-03-31T22:00Z: 23 hours
        let counts: Vec<Option<u32>> = (1..=23).map(Some).collect();
        hours(&mut acc, "1", "2024-03-31T00:00:00+01:00", &counts);
        let oct = metrics(&acc, day("2024-10-27"), &idx()).unwrap();
        // 25 equal non-zero hours is a flat line: failing, reason says 25 hours
        assert_eq!(
            oct.failing_sensors[0].raison,
            "valeur constante 1 sur 25 heures"
        );
        let mar = metrics(&acc, day("2024-03-31"), &idx()).unwrap();
        assert_eq!(mar.metrics[0].heures_observees, 23);
        assert_eq!(mar.metrics[0].total_jour, 276); // 23 × 24 / 2
        assert_eq!(mar.metrics[0].pic_horaire, Some(23)); // 22:00Z is 23:00+02:00
        assert_eq!(acc.days().len(), 2, "nothing spilled to another day");
        let mut acc = BikesAcc::default();
        let counts: Vec<Option<u32>> = (0..25).map(Some).collect();
        hours(&mut acc, "1", "2024-10-27T00:00:00+02:00", &counts);
        let m = metrics(&acc, day("2024-10-27"), &idx()).unwrap();
        let c = &m.metrics[0];
        assert_eq!(c.heures_observees, 25);
        assert_eq!(c.total_jour, 300); // 0 + 1 + ... + 24 = 24 × 25 / 2
        assert_eq!(c.moyenne_horaire, Some(12.0)); // 300 / 25
        assert_eq!(c.pic_horaire, Some(23)); // the 25th hour starts at 23:00+01:00
        assert_eq!(
            acc.days().into_iter().collect::<Vec<_>>(),
            vec![day("2024-10-27")]
        );
    }

    #[test]
    fn duplicates_count_once_and_merge_is_order_free() {
        let d = day("2024-01-04");
        let t8 = t("2024-01-04T08:00:00+01:00");
        let t9 = t("2024-01-04T09:00:00+01:00");
        let mut x = BikesAcc::default();
        x.add("1", d, Slot::new(t8, Some(10)), "A", Some([2.3, 48.8]));
        x.add("1", d, Slot::new(t9, Some(5)), "A", None);
        let mut y = BikesAcc::default();
        y.add("1", d, Slot::new(t9, Some(5)), "A", None);
        y.add("1", d, Slot::new(t9, Some(7)), "A bis", Some([2.31, 48.8]));
        y.add("2", d, Slot::new(t9, None), "", None);
        let mut xy = x.clone();
        xy.merge(y.clone());
        let mut yx = y;
        yx.merge(x);
        assert_eq!(metrics(&xy, d, &idx()), metrics(&yx, d, &idx()));
        let m = metrics(&xy, d, &idx()).unwrap();
        // 10 + max(5, 5, 7)
        assert_eq!(m.metrics[0].total_jour, 17);
        assert_eq!(m.metrics[0].nom_compteur, "A bis"); // latest record (09:00), larger name
        assert_eq!(m.metrics[0].coordinates.unwrap().lon, 2.31);
        // a counter with only a null count: listed, nothing computed
        assert_eq!(m.metrics[1].heures_observees, 0);
        assert_eq!(m.metrics[1].moyenne_horaire, None);
        assert_eq!(m.metrics[1].pic_horaire, None);
        assert_eq!(m.metrics[1].coordinates, None);
        let dup = xy.duplicates(Some(d));
        assert_eq!(dup, yx.duplicates(Some(d)));
        assert_eq!(dup.count, 2);
        assert_eq!(dup.conflicting, 1, "one instant had differing counts");
        assert_eq!(dup.samples, vec!["counter 1 at 2024-01-04T09:00:00+01:00"]);
        assert_eq!(xy.duplicates(None), DayDuplicates::default());
    }

    #[test]
    fn top_counters_by_total_then_id() {
        let mut acc = BikesAcc::default();
        for i in 0..12u32 {
            // ids 0..11; totals 5 for even ids, 10 + i for odd ones
            let c = if i % 2 == 0 { 5 } else { 10 + i };
            hours(
                &mut acc,
                &i.to_string(),
                "2024-01-04T08:00:00+01:00",
                &[Some(c)],
            );
        }
        let m = metrics(&acc, day("2024-01-04"), &idx()).unwrap();
        let top: Vec<&str> = m
            .top_counters
            .iter()
            .map(|c| c.id_compteur.as_str())
            .collect();
        assert_eq!(top, vec!["11", "9", "7", "5", "3", "1", "0", "2", "4", "6"]);
        // 6 × 5 + (11 + 13 + 15 + 17 + 19 + 21) = 30 + 96 = 126
        assert_eq!(m.total_velos, 126);
        let ids: Vec<&str> = m.metrics.iter().map(|c| c.id_compteur.as_str()).collect();
        assert_eq!(ids[..3], ["0", "1", "2"]);
    }

    #[test]
    fn frequentation_index_caps_at_100() {
        let mut acc = BikesAcc::default();
        hours(
            &mut acc,
            "1",
            "2024-01-04T08:00:00+01:00",
            &[Some(60_000), Some(50_000)],
        );
        let m = metrics(&acc, day("2024-01-04"), &idx()).unwrap();
        assert_eq!(m.frequentation_index, 100.0);
        let mut acc = BikesAcc::default();
        hours(&mut acc, "1", "2024-01-04T08:00:00+01:00", &[Some(4_699)]);
        let m = metrics(&acc, day("2024-01-04"), &idx()).unwrap();
        assert_eq!(m.frequentation_index, 4.699); // the prototype's sample value
    }
}
