//! Sensor arcs reference (`referentiel`): undated; one entry per arc id.
//!
//! An arc split over several rows (several segments) is merged: lengths summed over its distinct
//! segments, the first non-empty label and nodes kept. The prototype kept the last row only.
//!
//! Segments are told apart by their **parsed geometry**, never by their text: two segments are
//! the same when they have the same parts with the same number of vertices, each vertex within
//! [`SAME_POINT_DEG`] degree (about 11 cm) of the other's, a part possibly reversed. So the
//! same arc written by two exports (old technical CSV, current CSV, GeoJSON: other key order,
//! spacing or number formatting) is recognised.
//!
//! **Several exports** (files) of the référentiel: each file gives a version of each arc (its
//! distinct segments in that file). An arc found in several files is counted once: its length
//! is the kept version's, exactly as with that file alone. The rows of the other files are
//! duplicates ([`RefMerge::duplicates`], with the files in the samples). When the versions'
//! geometries really differ (not the same segments), the arc is a conflict: the version kept is
//! the one found in the most files, then (a tie) the one of the last file in path order (exports
//! are named by date, so the newest); the sample says which file was kept and why.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::geo::{self, Geometry, Pt};
use crate::metrics::{arc_order, DayDuplicates};

/// Two vertices closer than this (degrees, on each axis) are the same point.
pub const SAME_POINT_DEG: f64 = 1e-6;

/// One row of the référentiel, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct RefRow {
    pub arc: String,
    pub libelle: String,
    pub noeud_amont: String,
    pub noeud_aval: String,
    pub geo_point: Option<(Pt, String)>,
    pub geometry: Option<(Geometry, String)>,
    /// The file it was read from (relative path).
    pub file: String,
}

/// An arc of the référentiel, merged over its rows; used to enrich comptages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefArc {
    pub libelle: String,
    pub longueur_metres: Option<f64>,
    pub noeud_amont: String,
    pub noeud_aval: String,
    pub geo_point_2d: Option<String>,
    pub center: Option<Pt>,
    pub nombre_segments: u32,
    pub actif: bool,
}

/// The parts of a geometry as lists of vertices (lines and rings alike).
fn parts(g: &Geometry) -> Vec<&[Pt]> {
    match g {
        Geometry::Point(p) => vec![std::slice::from_ref(p)],
        Geometry::LineString(l) => vec![l.as_slice()],
        Geometry::MultiLineString(ls) | Geometry::Polygon(ls) => {
            ls.iter().map(Vec::as_slice).collect()
        }
        Geometry::MultiPolygon(ps) => ps.iter().flatten().map(Vec::as_slice).collect(),
    }
}

fn same_part(a: &[Pt], b: &[Pt]) -> bool {
    let close = |p: &Pt, q: &Pt| {
        (p[0] - q[0]).abs() <= SAME_POINT_DEG && (p[1] - q[1]).abs() <= SAME_POINT_DEG
    };
    a.len() == b.len()
        && (a.iter().zip(b).all(|(p, q)| close(p, q))
            || a.iter().zip(b.iter().rev()).all(|(p, q)| close(p, q)))
}

/// The same segment: same parts (in order), each the same within [`SAME_POINT_DEG`], whatever
/// the geometry type's spelling (a one-part MultiLineString is its LineString).
pub fn same_geometry(a: &Geometry, b: &Geometry) -> bool {
    let (pa, pb) = (parts(a), parts(b));
    pa.len() == pb.len() && pa.iter().zip(&pb).all(|(x, y)| same_part(x, y))
}

/// An arc as one file gives it.
#[derive(Debug, Clone)]
struct FileVersion {
    file: String,
    rows: u64,
    /// Distinct segments, in file order.
    segments: Vec<Geometry>,
}

impl FileVersion {
    fn length(&self) -> Option<f64> {
        let mut total: Option<f64> = None;
        for l in self.segments.iter().filter_map(geo::length_m) {
            total = Some(total.unwrap_or(0.0) + l);
        }
        total
    }

    /// The same segments (any order).
    fn same_as(&self, o: &FileVersion) -> bool {
        self.segments.len() == o.segments.len()
            && self
                .segments
                .iter()
                .all(|s| o.segments.iter().any(|t| same_geometry(s, t)))
    }

    fn describe(&self) -> String {
        let n = self.segments.len();
        let len = self
            .length()
            .map_or("no length".to_string(), |l| format!("{l:.2} m"));
        format!(
            "{} ({n} segment{}, {len})",
            self.file,
            if n == 1 { "" } else { "s" }
        )
    }
}

/// The référentiel merged over all its rows and files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefMerge {
    pub arcs: BTreeMap<String, RefArc>,
    /// Rows of an arc in another file than the one kept (undated), conflicts, samples.
    pub duplicates: DayDuplicates,
    /// Quality categories: arcs per set of files that list them, and per conflict resolution.
    pub categories: BTreeMap<String, u64>,
}

/// Merges rows (in input order) into arcs (single-file callers).
pub fn merge_rows(rows: Vec<RefRow>) -> BTreeMap<String, RefArc> {
    merge_exports(rows).arcs
}

/// Merges rows (in input order: files in path order) into arcs, one version per arc when
/// several files give it (see the module docs).
pub fn merge_exports(rows: Vec<RefRow>) -> RefMerge {
    let mut out = RefMerge::default();
    let mut versions: BTreeMap<String, Vec<FileVersion>> = BTreeMap::new();
    for r in rows {
        let a = out.arcs.entry(r.arc.clone()).or_insert_with(|| RefArc {
            libelle: String::new(),
            longueur_metres: None,
            noeud_amont: String::new(),
            noeud_aval: String::new(),
            geo_point_2d: None,
            center: None,
            nombre_segments: 0,
            actif: false,
        });
        let fill = |dst: &mut String, v: &str| {
            if dst.is_empty() && !v.trim().is_empty() {
                *dst = v.trim().to_string();
            }
        };
        fill(&mut a.libelle, &r.libelle);
        fill(&mut a.noeud_amont, &r.noeud_amont);
        fill(&mut a.noeud_aval, &r.noeud_aval);
        if a.geo_point_2d.is_none() {
            if let Some((p, s)) = &r.geo_point {
                a.geo_point_2d = Some(s.clone());
                a.center = Some(*p);
            }
        }
        let vs = versions.entry(r.arc.clone()).or_default();
        let v = match vs.iter().position(|v| v.file == r.file) {
            Some(i) => &mut vs[i],
            None => {
                vs.push(FileVersion {
                    file: r.file.clone(),
                    rows: 0,
                    segments: Vec::new(),
                });
                vs.last_mut().expect("just pushed")
            }
        };
        v.rows += 1;
        if let Some((g, _)) = r.geometry {
            if !v.segments.iter().any(|s| same_geometry(s, &g)) {
                v.segments.push(g);
            }
        }
    }
    for (id, vs) in versions {
        let Some(a) = out.arcs.get_mut(&id) else {
            continue;
        };
        let kept = resolve(&id, vs, &mut out.duplicates, &mut out.categories);
        if let Some(k) = kept {
            a.nombre_segments = k.segments.len() as u32;
            a.longueur_metres = k.length();
            if a.center.is_none() {
                a.center = k.segments.first().and_then(geo::center);
            }
        }
    }
    // Conflicts first in the samples, then arcs in id order.
    let samples = &mut out.duplicates.samples;
    samples.sort_by_key(|s| !s.contains("geometry differs"));
    samples.truncate(crate::quality::MAX_SAMPLES);
    out
}

/// Picks the version of one arc among its files' (see the module docs), counting the others as
/// duplicates. None when no file gives it a geometry.
fn resolve(
    id: &str,
    mut vs: Vec<FileVersion>,
    dup: &mut DayDuplicates,
    categories: &mut BTreeMap<String, u64>,
) -> Option<FileVersion> {
    vs.sort_by(|a, b| a.file.cmp(&b.file));
    if vs.len() > 1 {
        let files: Vec<&str> = vs.iter().map(|v| v.file.as_str()).collect();
        *categories
            .entry(format!("arcs in several exports: {}", files.join(" + ")))
            .or_default() += 1;
    }
    // Classes of identical versions among the files that give a geometry, in file order.
    let mut classes: Vec<Vec<usize>> = Vec::new();
    for (i, v) in vs
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.segments.is_empty())
    {
        match classes.iter_mut().find(|c| vs[c[0]].same_as(v)) {
            Some(c) => c.push(i),
            None => classes.push(vec![i]),
        }
    }
    // Most files, then the one holding the last file in path order.
    let best = classes
        .iter()
        .max_by_key(|c| (c.len(), c.last().copied()))
        .cloned();
    let kept_idx = best.as_ref().map_or(0, |c| c[0]);
    if vs.len() > 1 {
        dup.count += vs
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != kept_idx)
            .map(|(_, v)| v.rows)
            .sum::<u64>();
        let sample = if classes.len() > 1 {
            dup.conflicting += 1;
            let best = best.as_ref().expect("classes are not empty");
            let why = if classes.iter().filter(|c| c.len() == best.len()).count() > 1 {
                "as many exports give each version: the last export by path is taken as the newest"
                    .to_string()
            } else {
                format!("found in {} of the {} exports", best.len(), vs.len())
            };
            let kept = &vs[kept_idx];
            let others: Vec<String> = classes
                .iter()
                .filter(|c| c[0] != kept_idx)
                .map(|c| vs[c[0]].describe())
                .collect();
            *categories
                .entry(format!(
                    "arcs whose geometry differs between exports: kept {}",
                    kept.file
                ))
                .or_default() += 1;
            format!(
                "arc {id}: geometry differs between exports: kept {} ({why}), not {}",
                kept.describe(),
                others.join(", ")
            )
        } else {
            let files: Vec<&str> = vs.iter().map(|v| v.file.as_str()).collect();
            format!("arc {id}: same arc in {} (counted once)", files.join(", "))
        };
        dup.samples.push(sample);
    }
    best.map(|_| vs.swap_remove(kept_idx))
}

/// `mapping` entry, the prototype's keys plus ours.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MappingEntry {
    pub libelle: String,
    pub longueur_metres: f64,
    pub noeud_amont: String,
    pub noeud_aval: String,
    pub geo_point_2d: Option<String>,
    pub center: Option<Pt>,
    /// The arc has road-counter rows in this run's input.
    pub actif: bool,
    pub nombre_segments: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Statistiques {
    pub nombre_troncons: u64,
    pub longueur_totale_metres: f64,
    pub longueur_moyenne_metres: f64,
    pub nombre_troncons_actifs: u64,
    pub nombre_troncons_multi_segments: u64,
}

/// Arcs in natural id order (a JSON object whose keys keep that order).
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping(pub Vec<(String, MappingEntry)>);

impl Serialize for Mapping {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// `referentiel_metrics_<date>.json`'s `metrics`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReferentielMetrics {
    pub mapping: Mapping,
    pub statistiques: Statistiques,
}

/// Builds the output; `active` tells which arcs have counts in this run.
pub fn build(arcs: &BTreeMap<String, RefArc>, active: &dyn Fn(&str) -> bool) -> ReferentielMetrics {
    let mut entries: Vec<(String, MappingEntry)> = arcs
        .iter()
        .map(|(id, a)| {
            (
                id.clone(),
                MappingEntry {
                    libelle: a.libelle.clone(),
                    longueur_metres: a.longueur_metres.unwrap_or(0.0),
                    noeud_amont: a.noeud_amont.clone(),
                    noeud_aval: a.noeud_aval.clone(),
                    geo_point_2d: a.geo_point_2d.clone(),
                    center: a.center,
                    actif: active(id),
                    nombre_segments: a.nombre_segments,
                },
            )
        })
        .collect();
    entries.sort_by(|a, b| arc_order(&a.0, &b.0));
    let lengths: Vec<f64> = entries
        .iter()
        .map(|e| e.1.longueur_metres)
        .filter(|l| *l > 0.0)
        .collect();
    let total: f64 = lengths.iter().sum();
    let statistiques = Statistiques {
        nombre_troncons: entries.len() as u64,
        longueur_totale_metres: total,
        longueur_moyenne_metres: if lengths.is_empty() {
            0.0
        } else {
            total / lengths.len() as f64
        },
        nombre_troncons_actifs: entries.iter().filter(|e| e.1.actif).count() as u64,
        nombre_troncons_multi_segments: entries.iter().filter(|e| e.1.nombre_segments > 1).count()
            as u64,
    };
    ReferentielMetrics {
        mapping: Mapping(entries),
        statistiques,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(arc: &str, lib: &str, shape: &str) -> RefRow {
        let g = geo::parse_geometry_str(shape).unwrap();
        RefRow {
            arc: arc.into(),
            libelle: lib.into(),
            noeud_amont: "1".into(),
            noeud_aval: "2".into(),
            geo_point: None,
            geometry: Some((g, shape.into())),
            file: "a.csv".into(),
        }
    }

    #[test]
    fn split_arcs_sum_their_segments() {
        let s1 = r#"{"type":"LineString","coordinates":[[2.0,48.0],[2.0,48.01]]}"#;
        let s2 = r#"{"type":"LineString","coordinates":[[2.0,48.01],[2.0,48.03]]}"#;
        let arcs = merge_rows(vec![
            row("7", "", s1),
            row("7", "Rue", s2),
            row("7", "Autre", s2),
            row("10", "X", s1),
        ]);
        let a = &arcs["7"];
        assert_eq!(a.libelle, "Rue");
        assert_eq!(a.nombre_segments, 2, "the repeated segment counts once");
        // geodesic on WGS84, Python geographiclib 2.0: Inverse(48, 2, 48.01, 2)['s12'] +
        // Inverse(48.01, 2, 48.03, 2)['s12'] = 3,335.7184311025267 m (the 6,371 km sphere
        // gave 3 · 1,111.9493 = 3,335.8478 m)
        assert!((a.longueur_metres.unwrap() - 3_335.718_431_102_526_7).abs() < 1e-6);
        let out = build(&arcs, &|id| id == "10");
        let ids: Vec<&str> = out.mapping.0.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(ids, vec!["7", "10"], "natural order");
        assert_eq!(out.statistiques.nombre_troncons, 2);
        assert_eq!(out.statistiques.nombre_troncons_actifs, 1);
        assert_eq!(out.statistiques.nombre_troncons_multi_segments, 1);
    }

    fn in_file(mut r: RefRow, file: &str) -> RefRow {
        r.file = file.into();
        r
    }

    #[test]
    fn exports_of_one_referentiel_count_once() {
        let s1 = r#"{"type":"LineString","coordinates":[[2.0,48.0],[2.0,48.01]]}"#;
        let s2 = r#"{"type":"LineString","coordinates":[[2.0,48.01],[2.0,48.03]]}"#;
        // the same shapes, written otherwise: keys swapped, spaces, 1e-7 noise, a one-part
        // MultiLineString, a reversed line
        let t1 = r#"{"coordinates": [[2.0000001, 48.0], [2.0, 48.0100001]], "type": "LineString"}"#;
        let t2 = r#"{"type": "MultiLineString", "coordinates": [[[2.0, 48.03], [2.0, 48.01]]]}"#;
        let one = merge_exports(vec![
            row("7", "Rue", s1),
            row("7", "", s2),
            row("8", "X", s1),
        ]);
        let both = merge_exports(vec![
            row("7", "Rue", s1),
            row("7", "", s2),
            row("8", "X", s1),
            in_file(row("7", "Rue", t2), "b.geojson"),
            in_file(row("7", "Rue", t1), "b.geojson"),
            in_file(row("8", "X", t1), "b.geojson"),
        ]);
        assert_eq!(one.arcs, both.arcs, "lengths and segments of one export");
        assert_eq!(both.arcs["7"].nombre_segments, 2);
        assert_eq!(both.duplicates.count, 3, "the 3 rows of the second export");
        assert_eq!(both.duplicates.conflicting, 0);
        assert_eq!(
            both.duplicates.samples,
            vec![
                "arc 7: same arc in a.csv, b.geojson (counted once)",
                "arc 8: same arc in a.csv, b.geojson (counted once)"
            ]
        );
        assert_eq!(
            both.categories["arcs in several exports: a.csv + b.geojson"],
            2
        );
        assert_eq!(one.duplicates, DayDuplicates::default());
    }

    #[test]
    fn a_geometry_that_differs_is_a_conflict_kept_by_majority_then_last_file() {
        let s1 = r#"{"type":"LineString","coordinates":[[2.0,48.0],[2.0,48.01]]}"#;
        let moved = r#"{"type":"LineString","coordinates":[[2.0,48.0],[2.0,48.02]]}"#;
        // two files: a tie, the last file by path wins
        let m = merge_exports(vec![
            row("7", "", s1),
            in_file(row("7", "", moved), "b.csv"),
        ]);
        // 0.02° of meridian from 48°: Python geographiclib Inverse(48, 2, 48.02, 2)['s12']
        // = 2,223.8103422906884 m
        let l = m.arcs["7"].longueur_metres.unwrap();
        assert!((l - 2_223.810_342_290_688_4).abs() < 1e-6, "{l}");
        assert_eq!(m.duplicates.count, 1);
        assert_eq!(m.duplicates.conflicting, 1);
        assert!(
            m.duplicates.samples[0].starts_with(
                "arc 7: geometry differs between exports: kept b.csv (1 segment, 2223.81 m) \
                 (as many exports give each version"
            ),
            "{:?}",
            m.duplicates.samples
        );
        // three files: the version of two of them wins, whatever the order
        let m = merge_exports(vec![
            in_file(row("7", "", moved), "c.csv"),
            row("7", "", s1),
            in_file(row("7", "", s1), "b.csv"),
        ]);
        let l = m.arcs["7"].longueur_metres.unwrap();
        // Inverse(48, 2, 48.01, 2)['s12'] = 1,111.904198567107 m (Python geographiclib)
        assert!((l - 1_111.904_198_567_107).abs() < 1e-6, "{l}");
        assert_eq!(m.duplicates.count, 2);
        assert!(m.duplicates.samples[0].contains("kept a.csv (1 segment"));
        assert!(m.duplicates.samples[0].contains("found in 2 of the 3 exports"));
        assert!(m.duplicates.samples[0].contains("not c.csv (1 segment, 2223.81 m)"));
    }
}
