//! Sensor arcs reference (`referentiel`): undated; one entry per arc id.
//!
//! An arc split over several rows (several segments) is merged: lengths summed over its distinct
//! segments, the first non-empty label and nodes kept. The prototype kept the last row only.

use std::collections::{BTreeMap, BTreeSet};

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::geo::{self, Geometry, Pt};
use crate::metrics::arc_order;

/// One row of the référentiel, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct RefRow {
    pub arc: String,
    pub libelle: String,
    pub noeud_amont: String,
    pub noeud_aval: String,
    pub geo_point: Option<(Pt, String)>,
    pub geometry: Option<(Geometry, String)>,
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

/// Merges rows (in input order) into arcs.
pub fn merge_rows(rows: Vec<RefRow>) -> BTreeMap<String, RefArc> {
    let mut out: BTreeMap<String, RefArc> = BTreeMap::new();
    let mut seen_shapes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows {
        let a = out.entry(r.arc.clone()).or_insert_with(|| RefArc {
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
        if let Some((g, text)) = &r.geometry {
            let shapes = seen_shapes.entry(r.arc.clone()).or_default();
            if shapes.insert(text.clone()) {
                a.nombre_segments += 1;
                if let Some(l) = geo::length_m(g) {
                    a.longueur_metres = Some(a.longueur_metres.unwrap_or(0.0) + l);
                }
                if a.center.is_none() {
                    a.center = geo::center(g);
                }
            }
        }
    }
    out
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
        // 0.03 degree of latitude = 3 * 1111.9492664455873 m
        assert!((a.longueur_metres.unwrap() - 3_335.847_799_336_762).abs() < 1e-6);
        let out = build(&arcs, &|id| id == "10");
        let ids: Vec<&str> = out.mapping.0.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(ids, vec!["7", "10"], "natural order");
        assert_eq!(out.statistiques.nombre_troncons, 2);
        assert_eq!(out.statistiques.nombre_troncons_actifs, 1);
        assert_eq!(out.statistiques.nombre_troncons_multi_segments, 1);
    }
}
