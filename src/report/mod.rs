//! Daily report: metrics of one date -> report JSON (the prototype's §3.2 keys), a tidy CSV
//! ([`csv`]) and a self-contained HTML page ([`html`]). Pure: it reads metric objects as JSON
//! values, so it works the same from this run's results, from files or from a database. A
//! missing type gives an empty section.

pub mod csv;
pub mod html;
pub mod map;

pub use self::csv::csv_bytes;

use serde::Serialize;
use serde_json::{json, Map, Value};

/// The metric types the report reads.
pub const REPORT_TYPES: [&str; 6] = [
    "comptages",
    "bikes",
    "traffic",
    "weather",
    "chantiers",
    "velib",
];

/// The Vélib' metrics the report keeps (`velib_disponibilite`), in order.
pub const VELIB_KEYS: [&str; 9] = [
    "nombre_stations",
    "stations_en_service",
    "velos_disponibles",
    "velos_mecaniques",
    "velos_electriques",
    "bornettes_libres",
    "taux_occupation",
    "stations_vides",
    "stations_pleines",
];

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub total_vehicules_paris: Value,
    pub temps_perdu_total_minutes: Value,
    pub nombre_troncons_satures: Value,
    pub taux_disponibilite_capteurs: Value,
    pub total_velos_paris: Value,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DailyReport {
    pub date: String,
    pub generated_at: String,
    pub summary: Summary,
    pub top_10_troncons_frequentes: Vec<Value>,
    pub top_10_zones_congestionnees: Vec<Value>,
    pub capteurs_defaillants: Vec<Value>,
    pub alertes_congestion: Vec<Value>,
    pub chantiers_actifs: Vec<Value>,
    pub evolution_vs_semaine_precedente: Value,
    pub meteo_impact: Value,
    /// Transit disruptions of the day (`{}` without traffic data).
    pub perturbations_transport: Value,
    /// Vélib' availability of the day (`{}` without Vélib data).
    pub velib_disponibilite: Value,
    /// Metric types present for this date (the others gave empty sections).
    pub types_disponibles: Vec<String>,
}

/// The metrics available for one date: type -> the envelope's `metrics` object.
pub type DayMetrics = Map<String, Value>;

fn list(v: Option<&Value>, key: &str, cap: usize) -> Vec<Value> {
    v.and_then(|m| m.get(key))
        .and_then(Value::as_array)
        .map(|a| a.iter().take(cap).cloned().collect())
        .unwrap_or_default()
}

fn num(v: Option<&Value>, path: &[&str]) -> Value {
    let mut cur = match v {
        Some(v) => v,
        None => return Value::Null,
    };
    for p in path {
        match cur.get(p) {
            Some(x) => cur = x,
            None => return Value::Null,
        }
    }
    if cur.is_number() {
        cur.clone()
    } else {
        Value::Null
    }
}

fn variation(now: &Value, before: &Value) -> Value {
    match (now.as_f64(), before.as_f64()) {
        (Some(a), Some(b)) => {
            let pct = if b != 0.0 {
                json!((a - b) * 100.0 / b)
            } else {
                Value::Null
            };
            json!({"actuel": a, "reference": b, "variation_pct": pct})
        }
        _ => Value::Null,
    }
}

/// Builds the report of `date`. `week_before` holds the metrics of date − 7 days when known.
pub fn build(
    date: &str,
    generated_at: &str,
    m: &DayMetrics,
    week_before: Option<(&str, &DayMetrics)>,
) -> DailyReport {
    let comptages = m.get("comptages");
    let bikes = m.get("bikes");
    let total_velos = bikes
        .and_then(|b| b.get("metrics"))
        .and_then(Value::as_array)
        .map(|a| {
            json!(a
                .iter()
                .filter_map(|x| x.get("total_jour").and_then(Value::as_f64))
                .sum::<f64>())
        })
        .unwrap_or(Value::Null);
    let summary = Summary {
        total_vehicules_paris: num(comptages, &["global_metrics", "total_vehicules_jour"]),
        temps_perdu_total_minutes: num(comptages, &["global_metrics", "temps_perdu_total_paris"]),
        nombre_troncons_satures: num(comptages, &["global_metrics", "nombre_troncons_satures"]),
        taux_disponibilite_capteurs: num(
            comptages,
            &["global_metrics", "taux_disponibilite_capteurs"],
        ),
        total_velos_paris: total_velos,
    };
    let capteurs = list(bikes, "failing_sensors", usize::MAX)
        .into_iter()
        .map(|s| match s {
            Value::Object(mut o) => {
                o.entry("type").or_insert(json!("bike"));
                Value::Object(o)
            }
            other => json!({"id_compteur": other, "type": "bike"}),
        })
        .collect();
    let evolution = match week_before.and_then(|(d, wb)| wb.get("comptages").map(|c| (d, c))) {
        Some((d, prev)) if comptages.is_some() => json!({
            "date_reference": d,
            "total_vehicules_paris": variation(&summary.total_vehicules_paris, &num(Some(prev), &["global_metrics", "total_vehicules_jour"])),
            "temps_perdu_total_minutes": variation(&summary.temps_perdu_total_minutes, &num(Some(prev), &["global_metrics", "temps_perdu_total_paris"])),
        }),
        _ => json!({"note": "Nécessite données historiques pour comparaison"}),
    };
    DailyReport {
        date: date.to_string(),
        generated_at: generated_at.to_string(),
        summary,
        top_10_troncons_frequentes: list(comptages, "top_10_troncons", 10),
        top_10_zones_congestionnees: list(comptages, "top_10_zones_congestionnees", 10),
        capteurs_defaillants: capteurs,
        alertes_congestion: list(comptages, "alertes_congestion", 20),
        chantiers_actifs: list(m.get("chantiers"), "chantiers_actifs", usize::MAX),
        evolution_vs_semaine_precedente: evolution,
        meteo_impact: m
            .get("weather")
            .and_then(|w| w.get("metrics"))
            .filter(|v| v.is_object())
            .cloned()
            .unwrap_or_else(|| json!({})),
        perturbations_transport: pick(
            m.get("traffic"),
            &[
                "reliability_index",
                "active_disruptions_count",
                "total_disruptions_count",
                "disruptions_by_severity",
                "top_lignes_impactees",
            ],
        ),
        velib_disponibilite: pick(m.get("velib"), &VELIB_KEYS),
        types_disponibles: REPORT_TYPES
            .iter()
            .filter(|t| m.contains_key(**t))
            .map(|t| t.to_string())
            .collect(),
    }
}

/// The given keys of a metrics object, in that order (`{}` when the type is missing).
fn pick(v: Option<&Value>, keys: &[&str]) -> Value {
    let mut out = Map::new();
    if let Some(Value::Object(o)) = v {
        for k in keys {
            if let Some(x) = o.get(*k) {
                out.insert((*k).to_string(), x.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_types_give_empty_sections_not_a_crash() {
        let r = build("2025-11-04", "2025-11-05T00:00:00Z", &Map::new(), None);
        assert_eq!(r.summary.total_vehicules_paris, Value::Null);
        assert!(r.top_10_troncons_frequentes.is_empty());
        assert_eq!(r.meteo_impact, json!({}));
    }

    #[test]
    fn every_column_is_kept() {
        let mut m = Map::new();
        m.insert(
            "chantiers".into(),
            json!({"chantiers_actifs": [{"identifiant": "CP1", "typologie": "2", "impact": "RESTREINTE", "arrondissement": "75010"}]}),
        );
        m.insert(
            "comptages".into(),
            json!({"alertes_congestion": [{"libelle": "Rue; du Bac", "taux_occupation_moyen": 92.5}], "global_metrics": {"total_vehicules_jour": 10.0}}),
        );
        m.insert("bikes".into(), json!({"metrics": [{"total_jour": 3.0}, {"total_jour": 4.0}], "failing_sensors": ["100-1"]}));
        let r = build("2025-11-04", "x", &m, None);
        assert_eq!(r.summary.total_velos_paris, json!(7.0));
        assert_eq!(r.types_disponibles, vec!["comptages", "bikes", "chantiers"]);
    }

    #[test]
    fn evolution_against_the_same_day_a_week_before() {
        let day = |total: f64, lost: f64| {
            let mut m = Map::new();
            m.insert(
                "comptages".into(),
                json!({"global_metrics": {"total_vehicules_jour": total, "temps_perdu_total_paris": lost}}),
            );
            m
        };
        let now = day(1100.0, 50.0);
        let before = day(1000.0, 0.0);
        let r = build("2025-11-11", "x", &now, Some(("2025-11-04", &before)));
        let e = &r.evolution_vs_semaine_precedente;
        assert_eq!(e["date_reference"], "2025-11-04");
        assert_eq!(e["total_vehicules_paris"]["variation_pct"], 10.0);
        assert_eq!(
            e["temps_perdu_total_minutes"]["variation_pct"],
            Value::Null,
            "no division by zero"
        );
        let r = build("2025-11-11", "x", &now, None);
        assert!(r.evolution_vs_semaine_precedente.get("note").is_some());
    }

    #[test]
    fn new_sections_from_weather_traffic_and_velib() {
        let mut m = Map::new();
        m.insert(
            "weather".into(),
            json!({"metrics": {"date": "2025-11-04", "temp_moyenne": 11.6, "conditions": "Rain"}}),
        );
        m.insert(
            "traffic".into(),
            json!({"reliability_index": 87.5, "active_disruptions_count": 3, "alerts": []}),
        );
        m.insert("velib".into(), json!({"date": "2025-11-04", "velos_disponibles": 12000, "taux_occupation": 41.5, "par_arrondissement": []}));
        m.insert(
            "bikes".into(),
            json!({"failing_sensors": [{"id_compteur": "9", "raison": "zero sur 14 heures"}]}),
        );
        let r = build("2025-11-04", "x", &m, None);
        assert_eq!(
            r.perturbations_transport,
            json!({"reliability_index": 87.5, "active_disruptions_count": 3})
        );
        assert_eq!(
            r.velib_disponibilite,
            json!({"velos_disponibles": 12000, "taux_occupation": 41.5})
        );
    }
}
