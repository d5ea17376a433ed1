//! Road works disturbing traffic (`chantiers`): the works read, and the ones active on a day.
//!
//! The dataset is undated reference-like data: every work has a start and an end date, and the
//! pipeline evaluates it for every processed day ([`ChantiersAcc::days`] is empty). Rules, where
//! the prototype (§2.6, bugs §7.7 §7.10) was wrong:
//! - a work is active on the processed Paris date D when `start ≤ D ≤ end` (inclusive: a work
//!   ending on D is active all of D), never the wall clock;
//! - a work's surface is its true area on the sphere (R = 6,371,000 m, latitude accounted for,
//!   holes subtracted, MultiPolygons summed), see [`crate::geo::polygon_area_m2`];
//! - the arrondissement is the postal-code field when present (normalised to `750xx`), else the
//!   point-in-polygon of its point against the arrondissements file, else unknown (`"Unknown"`
//!   in the maps, never a null key);
//! - the same `Identifiant` read several times (two exports) is one work: the kept version is the
//!   one with the latest end date, then the greatest other stored fields, whatever the file order.
//!
//! # Two exports of the city: `chantiers-perturbants` and "chantiers à Paris"
//! Works of the "chantiers à Paris" export ([`Origin::AParis`], keyed by `Référence Chantier`)
//! are merged with the `chantiers-perturbants` ones. They carry no traffic impact code: their
//! impact is empty (weight 0, `Non renseigné` in `repartition_impact`) and their own fields are
//! kept as given (`encombrement_espace_public`, `impact_stationnement`), with their declared
//! `Surface (m2)` beside the computed one (`surface_declaree_m2`, and `comparaison_surfaces`
//! over the active works that have both). A work is in both exports when its `Identifiant
//! Chantier CITE` or `Identifiant demande CITE` equals the `Identifiant CTV` of a
//! `chantiers-perturbants` work (both are ids of the city's works-coordination system): it is
//! then counted once, as the `chantiers-perturbants` work (which has the impact codes), and
//! reported as a duplicate. Works without such a shared id are not matched (no guess from
//! shapes or dates): two records of one real work with no shared id count twice.
//!
//! Only what the metrics need is stored per work. Surfaces are kept as integer hundredths of m²,
//! so the total is exact and the same whatever the file split.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::geo::{ArrondissementIndex, Pt};
use crate::metrics::{merge_keyed, DayDuplicates};

/// Key used in the maps for works whose arrondissement is unknown.
pub const UNKNOWN: &str = "Unknown";
/// An arrondissement with MORE than this many active works is a critical zone.
pub const CRITICAL_ZONE_MIN: u64 = 3;
/// Points are stored to 1e-7 degree (about 1 cm).
const POINT_SCALE: f64 = 1e7;

/// Weight of an impact code in `impact_by_arrondissement`.
pub fn impact_weight(impact: &str) -> u64 {
    match impact {
        "BARRAGE_TOTAL" => 100,
        "IMPASSE" => 80,
        "RESTREINTE" => 50,
        "SENS_UNIQUE" => 30,
        _ => 0,
    }
}

/// How a work's arrondissement is found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArrSource {
    /// The normalised postal code of the record.
    Code(String),
    /// No code: the work's point (`geo_point_2d` or the geometry's centre), `[lon, lat]` in 1e-7
    /// degrees, looked up in the arrondissements file when metrics are computed.
    Point([i32; 2]),
    /// Neither.
    Unknown,
}

impl ArrSource {
    pub fn point(p: Pt) -> ArrSource {
        ArrSource::Point([
            (p[0] * POINT_SCALE).round() as i32,
            (p[1] * POINT_SCALE).round() as i32,
        ])
    }

    fn resolve(&self, idx: &ArrondissementIndex) -> Option<String> {
        match self {
            ArrSource::Code(c) => Some(c.clone()),
            ArrSource::Point([lon, lat]) => idx
                .lookup([f64::from(*lon) / POINT_SCALE, f64::from(*lat) / POINT_SCALE])
                .map(str::to_string),
            ArrSource::Unknown => None,
        }
    }
}

/// What the metrics need of one work. The field order is the rank of versions of the same work:
/// the latest end date wins, then the latest start, then the other fields (any total order works;
/// this one is independent of file order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Work {
    pub end: NaiveDate,
    pub start: NaiveDate,
    /// `Typologie` (empty when not given).
    pub typologie: String,
    /// Canonical impact code, the value as given when unknown, or empty.
    pub impact: String,
    pub niveau_perturbation: String,
    pub arrondissement: ArrSource,
    /// Area in hundredths of m² (None: no usable polygon geometry).
    pub area_cm2: Option<i64>,
    /// Which export it comes from, and what only that export has.
    pub extra: WorkExtra,
}

/// The export a work was read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// `chantiers-perturbants` (CSV or GeoJSON).
    #[default]
    Perturbants,
    /// "chantiers à Paris" (`Référence Chantier;...;Surface (m2);...`).
    AParis,
}

/// The fields of a work that only one of the two exports has.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkExtra {
    pub origin: Origin,
    /// `chantiers-perturbants`: `Identifiant CTV`; "chantiers à Paris": `Identifiant Chantier
    /// CITE` and `Identifiant demande CITE` (the non-empty ones).
    pub coordination_ids: Vec<String>,
    /// "chantiers à Paris": `Surface (m2)` as declared, in hundredths of m².
    pub declared_area_cm2: Option<i64>,
    /// "chantiers à Paris": `Encombrement espace public`, as given.
    pub encombrement: String,
    /// "chantiers à Paris": `Impact stationnement`, as given.
    pub stationnement: String,
}

impl Work {
    pub fn is_active(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end
    }
}

/// Area (m²) -> stored hundredths of m².
pub fn area_to_cm2(area_m2: f64) -> i64 {
    (area_m2 * 100.0).round() as i64
}

/// Every version read of one identifiant: distinct versions, sorted, with how many rows had each.
#[derive(Debug, Clone, Default, PartialEq)]
struct Versions(Vec<(Work, u32)>);

impl Versions {
    fn add(&mut self, w: Work, n: u32) {
        match self.0.binary_search_by(|(x, _)| x.cmp(&w)) {
            Ok(i) => self.0[i].1 += n,
            Err(i) => self.0.insert(i, (w, n)),
        }
    }

    fn kept(&self) -> Option<&Work> {
        self.0.last().map(|(w, _)| w)
    }

    fn rows(&self) -> u64 {
        self.0.iter().map(|(_, n)| u64::from(*n)).sum()
    }

    /// Repeats whose stored values differ from the kept version.
    fn conflicting(&self) -> u64 {
        let kept = self.0.last().map(|(_, n)| u64::from(*n)).unwrap_or(0);
        self.rows() - kept
    }
}

/// Mergeable accumulator of every `chantiers` file read: the valid works by identifiant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChantiersAcc {
    works: BTreeMap<String, Versions>,
}

impl ChantiersAcc {
    /// Adds one valid row (a work).
    pub fn add(&mut self, identifiant: &str, w: Work) {
        match self.works.get_mut(identifiant) {
            Some(v) => v.add(w, 1),
            None => {
                self.works
                    .insert(identifiant.to_string(), Versions(vec![(w, 1)]));
            }
        }
    }

    pub fn merge(&mut self, other: ChantiersAcc) {
        merge_keyed(&mut self.works, other.works, |cur, vs| {
            for (w, n) in vs.0 {
                cur.add(w, n);
            }
        });
    }

    /// Paris days this source has data for: none (the works are evaluated for every processed
    /// day of the other sources).
    pub fn days(&self) -> BTreeSet<NaiveDate> {
        BTreeSet::new()
    }

    /// Repeated works (the same `Identifiant` read more than once), counted once. Works are
    /// undated: everything is reported under `None`.
    pub fn duplicates(&self, day: Option<NaiveDate>) -> DayDuplicates {
        let mut d = DayDuplicates::default();
        if day.is_some() {
            return d;
        }
        for (id, vs) in &self.works {
            let rows = vs.rows();
            if rows < 2 {
                continue;
            }
            let conflicting = vs.conflicting();
            d.count += rows - 1;
            d.conflicting += conflicting;
            if d.samples.len() < crate::quality::MAX_SAMPLES {
                d.samples.push(format!(
                    "work {id}: {rows} rows{}",
                    if conflicting > 0 {
                        ", values differ (kept: the version ending latest)"
                    } else {
                        ", same values"
                    }
                ));
            }
        }
        for (id, (p, shared)) in self.same_works() {
            d.count += 1;
            if d.samples.len() < crate::quality::MAX_SAMPLES {
                d.samples.push(format!(
                    "work {id} (chantiers à Paris) is work {p} of chantiers-perturbants \
                     (coordination id {shared}): counted once, as {p}"
                ));
            }
        }
        d
    }

    /// The "chantiers à Paris" works that are `chantiers-perturbants` works too (shared
    /// coordination id): identifiant -> (the perturbants identifiant, the shared id).
    pub fn same_works(&self) -> BTreeMap<&str, (&str, &str)> {
        let mut ctv: BTreeMap<&str, &str> = BTreeMap::new();
        for (id, w) in self.works() {
            if w.extra.origin == Origin::Perturbants {
                for c in &w.extra.coordination_ids {
                    ctv.entry(c.as_str()).or_insert(id);
                }
            }
        }
        let mut out = BTreeMap::new();
        if ctv.is_empty() {
            return out;
        }
        for (id, w) in self.works() {
            if w.extra.origin != Origin::AParis {
                continue;
            }
            let shared = w.extra.coordination_ids.iter().find_map(|c| {
                ctv.get_key_value(c.as_str())
                    .filter(|(_, p)| **p != id)
                    .map(|(c, p)| (*p, *c))
            });
            if let Some(m) = shared {
                out.insert(id, m);
            }
        }
        out
    }

    /// Number of distinct works (a work of both exports counted once).
    pub fn len(&self) -> usize {
        self.works.len() - self.same_works().len()
    }

    pub fn is_empty(&self) -> bool {
        self.works.is_empty()
    }

    /// The kept version of a work.
    pub fn work(&self, identifiant: &str) -> Option<&Work> {
        self.works.get(identifiant).and_then(Versions::kept)
    }

    /// The kept version of every work, by identifiant.
    pub fn works(&self) -> impl Iterator<Item = (&str, &Work)> {
        self.works
            .iter()
            .filter_map(|(id, v)| v.kept().map(|w| (id.as_str(), w)))
    }
}

/// One active work in `chantiers_actifs`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActiveWork {
    pub identifiant: String,
    pub typologie: Option<String>,
    pub impact: Option<String>,
    pub arrondissement: Option<String>,
    pub date_debut: String,
    pub date_fin: String,
    pub niveau_perturbation: Option<String>,
    pub surface_m2: Option<f64>,
    /// "chantiers à Paris" works only (absent otherwise): the export's declared `Surface
    /// (m2)` (null when empty), `Encombrement espace public` and `Impact stationnement`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_export: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surface_declaree_m2: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encombrement_espace_public: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact_stationnement: Option<String>,
}

/// Declared against computed surfaces, over the active works that have both.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SurfaceComparison {
    pub chantiers: u64,
    pub surface_declaree_m2: f64,
    pub surface_calculee_m2: f64,
    /// max |computed − declared| / declared over those works (4 decimals; null when every
    /// declared surface is 0).
    pub ecart_relatif_max: Option<f64>,
}

/// One entry of `zones_critiques`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CriticalZone {
    pub arrondissement: String,
    pub nombre_chantiers: u64,
}

/// `chantiers_metrics_<date>.json`'s `metrics`: the prototype's keys in its order, then ours.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChantiersMetrics {
    /// Works active on the date, sorted by identifiant.
    pub chantiers_actifs: Vec<ActiveWork>,
    /// Σ impact weight of the active works per arrondissement (`Unknown` when not known).
    pub impact_by_arrondissement: BTreeMap<String, u64>,
    /// Arrondissements with more than 3 active works, by count (desc) then code.
    pub zones_critiques: Vec<CriticalZone>,
    /// Σ of the active works' areas (m², each rounded to 0.01 m²).
    pub surface_totale_impactee_m2: f64,
    pub total_chantiers_actifs: u64,
    /// Active works per impact code (`Non renseigné` when empty).
    pub repartition_impact: BTreeMap<String, u64>,
    /// Active works per arrondissement (`Unknown` when not known).
    pub chantiers_par_arrondissement: BTreeMap<String, u64>,
    /// Active works without a usable polygon (not in the surface total).
    pub chantiers_sans_surface: u64,
    /// Distinct works read (active or not).
    pub total_chantiers_connus: u64,
    /// Only when "chantiers à Paris" works with a declared surface are active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparaison_surfaces: Option<SurfaceComparison>,
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The metrics of `day`: the works active on that Paris date. None only when no work was read.
pub fn metrics(
    acc: &ChantiersAcc,
    day: NaiveDate,
    arrondissements: &ArrondissementIndex,
) -> Option<ChantiersMetrics> {
    if acc.is_empty() {
        return None;
    }
    let mut actifs = Vec::new();
    let mut impact_by: BTreeMap<String, u64> = BTreeMap::new();
    let mut count_by: BTreeMap<String, u64> = BTreeMap::new();
    let mut repartition: BTreeMap<String, u64> = BTreeMap::new();
    let mut area_cm2: i64 = 0;
    let mut no_area = 0u64;
    let same = acc.same_works();
    let mut compared = Compared::default();
    // BTreeMap order: sorted by identifiant.
    for (id, w) in acc.works() {
        if !w.is_active(day) || same.contains_key(id) {
            continue;
        }
        compared.add(w);
        let arr = w.arrondissement.resolve(arrondissements);
        let key = arr.clone().unwrap_or_else(|| UNKNOWN.to_string());
        *impact_by.entry(key.clone()).or_default() += impact_weight(&w.impact);
        *count_by.entry(key).or_default() += 1;
        let imp = if w.impact.is_empty() {
            "Non renseigné"
        } else {
            w.impact.as_str()
        };
        *repartition.entry(imp.to_string()).or_default() += 1;
        match w.area_cm2 {
            Some(a) => area_cm2 += a,
            None => no_area += 1,
        }
        actifs.push(ActiveWork {
            identifiant: id.to_string(),
            typologie: non_empty(&w.typologie),
            impact: non_empty(&w.impact),
            arrondissement: arr,
            date_debut: w.start.to_string(),
            date_fin: w.end.to_string(),
            niveau_perturbation: non_empty(&w.niveau_perturbation),
            surface_m2: w.area_cm2.map(|a| a as f64 / 100.0),
            ..a_paris_fields(&w.extra)
        });
    }
    let mut zones: Vec<CriticalZone> = count_by
        .iter()
        .filter(|(_, n)| **n > CRITICAL_ZONE_MIN)
        .map(|(a, n)| CriticalZone {
            arrondissement: a.clone(),
            nombre_chantiers: *n,
        })
        .collect();
    zones.sort_by(|a, b| {
        b.nombre_chantiers
            .cmp(&a.nombre_chantiers)
            .then_with(|| a.arrondissement.cmp(&b.arrondissement))
    });
    Some(ChantiersMetrics {
        total_chantiers_actifs: actifs.len() as u64,
        chantiers_actifs: actifs,
        impact_by_arrondissement: impact_by,
        zones_critiques: zones,
        surface_totale_impactee_m2: area_cm2 as f64 / 100.0,
        repartition_impact: repartition,
        chantiers_par_arrondissement: count_by,
        chantiers_sans_surface: no_area,
        total_chantiers_connus: acc.len() as u64,
        comparaison_surfaces: compared.finish(),
    })
}

/// The fields of an active work that only "chantiers à Paris" works have (the others: none,
/// so their output is unchanged).
fn a_paris_fields(x: &WorkExtra) -> ActiveWork {
    let mut a = ActiveWork {
        identifiant: String::new(),
        typologie: None,
        impact: None,
        arrondissement: None,
        date_debut: String::new(),
        date_fin: String::new(),
        niveau_perturbation: None,
        surface_m2: None,
        source_export: None,
        surface_declaree_m2: None,
        encombrement_espace_public: None,
        impact_stationnement: None,
    };
    if x.origin == Origin::AParis {
        a.source_export = Some("chantiers-a-paris");
        a.surface_declaree_m2 = Some(x.declared_area_cm2.map(|c| c as f64 / 100.0));
        a.encombrement_espace_public = Some(x.encombrement.clone());
        a.impact_stationnement = Some(x.stationnement.clone());
    }
    a
}

/// Declared and computed surfaces of the active works that have both (hundredths of m²).
#[derive(Default)]
struct Compared {
    n: u64,
    declared: i64,
    computed: i64,
    max_gap: Option<f64>,
}

impl Compared {
    fn add(&mut self, w: &Work) {
        let (Some(d), Some(c)) = (w.extra.declared_area_cm2, w.area_cm2) else {
            return;
        };
        self.n += 1;
        self.declared += d;
        self.computed += c;
        if d > 0 {
            let gap = (c - d).abs() as f64 / d as f64;
            self.max_gap = Some(self.max_gap.map_or(gap, |m| m.max(gap)));
        }
    }

    fn finish(self) -> Option<SurfaceComparison> {
        (self.n > 0).then(|| SurfaceComparison {
            chantiers: self.n,
            surface_declaree_m2: self.declared as f64 / 100.0,
            surface_calculee_m2: self.computed as f64 / 100.0,
            ecart_relatif_max: self.max_gap.map(|g| (g * 10_000.0).round() / 10_000.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn work(start: &str, end: &str, impact: &str, arr: ArrSource) -> Work {
        Work {
            end: day(end),
            start: day(start),
            typologie: "1".into(),
            impact: impact.into(),
            niveau_perturbation: "2".into(),
            arrondissement: arr,
            area_cm2: Some(100),
            extra: WorkExtra::default(),
        }
    }

    fn code(c: &str) -> ArrSource {
        ArrSource::Code(c.into())
    }

    #[test]
    fn impact_weights() {
        assert_eq!(impact_weight("BARRAGE_TOTAL"), 100);
        assert_eq!(impact_weight("IMPASSE"), 80);
        assert_eq!(impact_weight("RESTREINTE"), 50);
        assert_eq!(impact_weight("SENS_UNIQUE"), 30);
        assert_eq!(impact_weight(""), 0);
        assert_eq!(impact_weight("Déviation"), 0);
    }

    #[test]
    fn active_set_weights_and_critical_zones_by_hand() {
        let mut acc = ChantiersAcc::default();
        let unknown = ArrSource::Unknown;
        let works = [
            // 75010: 4 active works -> critical; weights 100 + 80 + 50 + 0 = 230
            (
                "A1",
                "2024-01-01",
                "2024-03-01",
                "BARRAGE_TOTAL",
                code("75010"),
            ),
            ("A2", "2024-03-01", "2024-03-01", "IMPASSE", code("75010")),
            (
                "A3",
                "2024-02-01",
                "2024-12-01",
                "RESTREINTE",
                code("75010"),
            ),
            ("A4", "2023-02-01", "2025-12-01", "", code("75010")),
            // 75011: 3 active works -> not critical (more than 3 needed); 30 · 3 = 90
            (
                "B1",
                "2024-01-01",
                "2024-06-01",
                "SENS_UNIQUE",
                code("75011"),
            ),
            (
                "B2",
                "2024-01-01",
                "2024-06-01",
                "SENS_UNIQUE",
                code("75011"),
            ),
            (
                "B3",
                "2024-01-01",
                "2024-06-01",
                "SENS_UNIQUE",
                code("75011"),
            ),
            // unknown: 4 active works -> critical "Unknown"; 50 · 4 = 200
            (
                "C1",
                "2024-01-01",
                "2024-06-01",
                "RESTREINTE",
                unknown.clone(),
            ),
            (
                "C2",
                "2024-01-01",
                "2024-06-01",
                "RESTREINTE",
                unknown.clone(),
            ),
            (
                "C3",
                "2024-01-01",
                "2024-06-01",
                "RESTREINTE",
                unknown.clone(),
            ),
            ("C4", "2024-01-01", "2024-06-01", "RESTREINTE", unknown),
            // 75012: 4 works, none active on 2024-03-01 (ended the day before, starts the day
            // after)
            ("D1", "2024-01-01", "2024-02-29", "IMPASSE", code("75012")),
            ("D2", "2024-03-02", "2024-04-01", "IMPASSE", code("75012")),
            ("D3", "2024-03-02", "2024-04-01", "IMPASSE", code("75012")),
            ("D4", "2024-03-02", "2024-04-01", "IMPASSE", code("75012")),
        ];
        for (id, start, end, impact, arr) in works {
            acc.add(id, work(start, end, impact, arr));
        }
        let idx = ArrondissementIndex::default();
        let m = metrics(&acc, day("2024-03-01"), &idx).unwrap();
        assert_eq!(m.total_chantiers_actifs, 11);
        let ids: Vec<&str> = m
            .chantiers_actifs
            .iter()
            .map(|a| a.identifiant.as_str())
            .collect();
        assert_eq!(
            ids,
            ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "C1", "C2", "C3", "C4"]
        );
        assert_eq!(
            m.impact_by_arrondissement,
            BTreeMap::from([
                ("75010".to_string(), 230),
                ("75011".to_string(), 90),
                ("Unknown".to_string(), 200),
            ])
        );
        assert_eq!(
            m.zones_critiques,
            vec![
                CriticalZone {
                    arrondissement: "75010".into(),
                    nombre_chantiers: 4
                },
                CriticalZone {
                    arrondissement: "Unknown".into(),
                    nombre_chantiers: 4
                },
            ]
        );
        // 11 works of 1.00 m² each
        assert_eq!(m.surface_totale_impactee_m2, 11.0);
        assert_eq!(m.repartition_impact["Non renseigné"], 1);
        assert_eq!(m.repartition_impact["SENS_UNIQUE"], 3);
        assert_eq!(m.chantiers_actifs[3].impact, None);
        assert_eq!(m.chantiers_actifs[7].arrondissement, None);
        assert_eq!(m.total_chantiers_connus, 15);
        // A2 starts and ends on 2024-03-01: active all that day, not the next
        let next = metrics(&acc, day("2024-03-02"), &idx).unwrap();
        assert!(next.chantiers_actifs.iter().all(|a| a.identifiant != "A2"));
        // A3 A4 + B1-3 + C1-4 + D2-4 = 2 + 3 + 4 + 3 (A1 ended on 2024-03-01)
        assert_eq!(next.total_chantiers_actifs, 12);
    }

    #[test]
    fn key_order_of_the_output() {
        let mut acc = ChantiersAcc::default();
        acc.add(
            "X",
            work("2024-01-01", "2024-01-31", "IMPASSE", code("75001")),
        );
        let m = metrics(&acc, day("2024-01-15"), &ArrondissementIndex::default()).unwrap();
        let v = serde_json::to_value(&m).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            &keys[..5],
            [
                "chantiers_actifs",
                "impact_by_arrondissement",
                "zones_critiques",
                "surface_totale_impactee_m2",
                "total_chantiers_actifs"
            ]
        );
        assert_eq!(
            v["chantiers_actifs"][0],
            json!({"identifiant": "X", "typologie": "1", "impact": "IMPASSE",
                   "arrondissement": "75001", "date_debut": "2024-01-01", "date_fin": "2024-01-31",
                   "niveau_perturbation": "2", "surface_m2": 1.0})
        );
    }

    #[test]
    fn nothing_read_gives_none_nothing_active_gives_zeros() {
        let idx = ArrondissementIndex::default();
        assert_eq!(
            metrics(&ChantiersAcc::default(), day("2024-01-01"), &idx),
            None
        );
        let mut acc = ChantiersAcc::default();
        acc.add(
            "X",
            work("2024-01-01", "2024-01-31", "IMPASSE", code("75001")),
        );
        let m = metrics(&acc, day("2025-01-01"), &idx).unwrap();
        assert_eq!(m.total_chantiers_actifs, 0);
        assert!(m.impact_by_arrondissement.is_empty());
        assert_eq!(m.surface_totale_impactee_m2, 0.0);
    }

    #[test]
    fn point_lookup_when_no_postal_code() {
        let fc = json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"c_ar": 4},
             "geometry": {"type": "Polygon", "coordinates": [[[2.0, 48.0], [3.0, 48.0], [3.0, 49.0], [2.0, 49.0], [2.0, 48.0]]]}}
        ]});
        let (idx, _) = ArrondissementIndex::from_geojson(&fc);
        let mut acc = ChantiersAcc::default();
        acc.add(
            "P",
            work(
                "2024-01-01",
                "2024-01-31",
                "IMPASSE",
                ArrSource::point([2.5, 48.5]),
            ),
        );
        acc.add(
            "Q",
            work(
                "2024-01-01",
                "2024-01-31",
                "IMPASSE",
                ArrSource::point([4.5, 48.5]),
            ),
        );
        let m = metrics(&acc, day("2024-01-02"), &idx).unwrap();
        assert_eq!(
            m.chantiers_actifs[0].arrondissement.as_deref(),
            Some("75004")
        );
        assert_eq!(m.chantiers_actifs[1].arrondissement, None);
        assert_eq!(m.impact_by_arrondissement["Unknown"], 80);
    }

    #[test]
    fn duplicates_keep_the_latest_end_whatever_the_order() {
        let old = work("2023-01-01", "2023-12-29", "RESTREINTE", code("75013"));
        let new = work("2023-01-01", "2024-12-20", "RESTREINTE", code("75013"));
        let same = work("2023-01-01", "2024-01-01", "IMPASSE", code("75001"));
        let mut a = ChantiersAcc::default();
        a.add("CP1", old.clone());
        a.add("CP2", same.clone());
        let mut b = ChantiersAcc::default();
        b.add("CP1", new.clone());
        b.add("CP2", same.clone());
        b.add("CP3", same.clone());
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b.clone();
        ba.merge(a.clone());
        assert_eq!(ab, ba);
        assert_eq!(ab.work("CP1"), Some(&new));
        let d = ab.duplicates(None);
        assert_eq!(d.count, 2);
        assert_eq!(d.conflicting, 1);
        assert_eq!(
            d.samples,
            [
                "work CP1: 2 rows, values differ (kept: the version ending latest)",
                "work CP2: 2 rows, same values"
            ]
        );
        assert_eq!(
            ab.duplicates(Some(day("2024-01-01"))),
            DayDuplicates::default()
        );
        assert!(ab.days().is_empty());
        // a third identical-to-old row: 2 repeats of CP1, both differing from the kept one
        let mut c = ChantiersAcc::default();
        c.add("CP1", old);
        ab.merge(c);
        let d = ab.duplicates(None);
        assert_eq!((d.count, d.conflicting), (3, 2));
    }
}
