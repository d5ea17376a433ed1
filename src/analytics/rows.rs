//! Rows of the analytics tables, from each dataset's day (typed where the JSON lacks the rows:
//! road counters' hourly series, transit disruptions, Vélib stations; from the metrics' JSON
//! values otherwise), and the small per-day summaries the HTML and CSV reports read.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate};
use serde_json::Value;

use super::*;
use crate::metrics::comptages::{ArcHour, ComptagesMetrics};
use crate::metrics::traffic::DayDisruption;
use crate::metrics::velib::DayStation;
use crate::quality::SourceQualityReport;

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn f_of(v: &Value, k: &str) -> Cell {
    Cell::opt_f(v.get(k).and_then(Value::as_f64))
}

fn i_of(v: &Value, k: &str) -> Cell {
    Cell::opt_i(v.get(k).and_then(Value::as_i64))
}

fn date_of(v: &Value, k: &str) -> Cell {
    str_of(v, k)
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .map_or(Cell::Null, Cell::Date)
}

/// `"lat, lon"` (the `geo_point_2d` text) -> (lat, lon).
fn lat_lon(s: &str) -> (Cell, Cell) {
    let mut it = s.split(',').map(|x| x.trim().parse::<f64>().ok());
    match (it.next().flatten(), it.next().flatten()) {
        (Some(lat), Some(lon)) => (Cell::Float(lat), Cell::Float(lon)),
        _ => (Cell::Null, Cell::Null),
    }
}

/// An RFC 3339 instant -> UTC seconds.
fn instant(s: &str) -> Cell {
    DateTime::parse_from_rfc3339(s).map_or(Cell::Null, |t| Cell::Ts(t.timestamp()))
}

/// The tables read from a dataset's metrics JSON value (bikes, road works, weather).
pub fn from_view(source: &str, day: NaiveDate, view: &Value) -> Vec<Table> {
    let d = Cell::Date(day);
    match source {
        "bikes" => {
            let mut t = Table::new(&BIKE_COUNTER_DAYS);
            for c in view
                .get("metrics")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let coords = c.get("coordinates").unwrap_or(&Value::Null);
                t.rows.push(vec![
                    d.clone(),
                    Cell::opt_s(str_of(c, "id_compteur")),
                    Cell::opt_s(str_of(c, "nom_compteur")),
                    i_of(c, "total_jour"),
                    f_of(c, "moyenne_horaire"),
                    i_of(c, "pic_horaire"),
                    i_of(c, "heures_observees"),
                    Cell::opt_s(str_of(c, "arrondissement")),
                    f_of(coords, "lat"),
                    f_of(coords, "lon"),
                    Cell::opt_b(c.get("anomalie_detectee").and_then(Value::as_bool)),
                ]);
            }
            vec![t]
        }
        "chantiers" => {
            let mut t = Table::new(&ROAD_WORKS);
            let works = view.get("chantiers_actifs").and_then(Value::as_array);
            for w in works.into_iter().flatten() {
                t.rows.push(vec![
                    d.clone(),
                    Cell::opt_s(str_of(w, "identifiant")),
                    Cell::opt_s(str_of(w, "typologie")),
                    Cell::opt_s(str_of(w, "impact")),
                    Cell::opt_s(str_of(w, "arrondissement")),
                    date_of(w, "date_debut"),
                    date_of(w, "date_fin"),
                    Cell::opt_s(str_of(w, "niveau_perturbation")),
                    f_of(w, "surface_m2"),
                ]);
            }
            vec![t]
        }
        "weather" => {
            let Some(m) = view.get("metrics").filter(|m| m.is_object()) else {
                return Vec::new();
            };
            let cats = view.get("categories").and_then(Value::as_array);
            let cats: Vec<&str> = cats
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut t = Table::new(&WEATHER_DAYS);
            t.rows.push(vec![
                d,
                f_of(m, "temp_moyenne"),
                f_of(m, "temp_min"),
                f_of(m, "temp_max"),
                f_of(m, "precip_totale"),
                f_of(m, "vent_moyen"),
                Cell::opt_s(str_of(m, "conditions")),
                f_of(view, "impact_mobilite"),
                Cell::Str(cats.join(", ")),
                Cell::opt_s(str_of(m, "source")),
            ]);
            vec![t]
        }
        _ => Vec::new(),
    }
}

/// Road counters: the arc-days of `m` and the hourly series.
pub fn road_counters(day: NaiveDate, m: &ComptagesMetrics, hours: &[ArcHour]) -> Vec<Table> {
    let d = Cell::Date(day);
    let mut days = Table::new(&ROAD_ARC_DAYS);
    for a in &m.metrics {
        let (lat, lon) = a
            .geo_point_2d
            .as_deref()
            .map_or((Cell::Null, Cell::Null), lat_lon);
        days.rows.push(vec![
            d.clone(),
            Cell::s(&a.identifiant_arc),
            Cell::s(&a.libelle),
            Cell::opt_f(a.debit_horaire_moyen),
            Cell::Float(a.debit_journalier_total),
            Cell::opt_f(a.debit_max),
            Cell::opt_f(a.taux_occupation_moyen),
            Cell::s(a.etat_trafic_dominant),
            a.heure_pic.as_deref().map_or(Cell::Null, instant),
            Cell::opt_f(a.temps_perdu_minutes),
            Cell::opt_f(a.temps_perdu_total_minutes),
            Cell::Bool(a.congestion_alerte),
            Cell::opt_s(a.arrondissement.as_deref()),
            Cell::s(&a.zone_fallback),
            lat,
            lon,
            Cell::opt_f(a.longueur_metres),
            Cell::Int(i64::from(a.nombre_releves)),
            Cell::Int(i64::from(a.heures_avec_debit)),
        ]);
    }
    let mut hourly = Table::new(&ROAD_ARC_HOURS);
    for h in hours {
        hourly.rows.push(vec![
            d.clone(),
            Cell::s(h.arc_id),
            Cell::Ts(i64::from(h.t)),
            Cell::opt_f(h.q),
            Cell::opt_f(h.k),
            Cell::opt_s(h.state),
        ]);
    }
    vec![days, hourly]
}

/// Transit disruptions counted for the day.
pub fn traffic(day: NaiveDate, list: &[DayDisruption]) -> Vec<Table> {
    let mut t = Table::new(&TRANSIT_DISRUPTIONS);
    for x in list {
        t.rows.push(vec![
            Cell::Date(day),
            Cell::s(x.id),
            Cell::s(x.severity),
            Cell::Int(x.score),
            Cell::s(x.effect),
            Cell::Str(x.lines.join(", ")),
            Cell::Int(x.lines.len() as i64),
            Cell::Float(x.duration_hours),
            Cell::Bool(x.alert),
        ]);
    }
    vec![t]
}

/// Vélib' stations of the day.
pub fn velib(day: NaiveDate, list: &[DayStation]) -> Vec<Table> {
    let mut t = Table::new(&VELIB_STATIONS);
    let u = |v: Option<u32>| Cell::opt_i(v.map(i64::from));
    for s in list {
        let (lat, lon) = s.point.map_or((Cell::Null, Cell::Null), |[lon, lat]| {
            (Cell::Float(lat), Cell::Float(lon))
        });
        t.rows.push(vec![
            Cell::Date(day),
            Cell::s(&s.station_id),
            Cell::opt_s(s.code.as_deref()),
            Cell::opt_s(s.name.as_deref()),
            u(s.capacity),
            u(s.status.bikes),
            u(s.status.mechanical),
            u(s.status.ebike),
            u(s.status.docks),
            Cell::Bool(s.in_service),
            Cell::Bool(s.stale),
            Cell::Ts(i64::from(s.reported)),
            lat,
            lon,
            Cell::s(&s.area),
        ]);
    }
    vec![t]
}

/// The day's quality report as two tables: per source, and per source, file and reason.
pub fn quality(
    day: NaiveDate,
    sources: &BTreeMap<&'static str, SourceQualityReport>,
) -> Vec<Table> {
    let d = Cell::Date(day);
    let mut per_source = Table::new(&QUALITY_SOURCES);
    let mut problems = Table::new(&QUALITY_PROBLEMS);
    let n = |x: usize| Cell::Int(x as i64);
    let u = |x: u64| Cell::Int(i64::try_from(x).unwrap_or(i64::MAX));
    for (s, r) in sources {
        per_source.rows.push(vec![
            d.clone(),
            Cell::s(s),
            n(r.files_read.len()),
            n(r.files_failed.len()),
            u(r.rows_read),
            u(r.rows_used),
            u(r.rows_rejected),
            u(r.duplicates),
            Cell::Float(r.error_rate),
        ]);
        for (file, reasons) in &r.problems_by_file {
            for (reason, count) in reasons {
                let kind = if r.rejects_by_reason.contains_key(reason) {
                    "reject"
                } else {
                    "warning"
                };
                problems.rows.push(vec![
                    d.clone(),
                    Cell::s(s),
                    Cell::s(file),
                    Cell::s(reason),
                    Cell::s(kind),
                    u(*count),
                ]);
            }
        }
    }
    vec![per_source, problems]
}

/// One arrondissement (or zone) of a day's road counters.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneTraffic {
    /// `zone_fallback`: `Arrondissement 750xx`, `Hors Paris` or `Unknown`.
    pub zone: String,
    /// The postal code, when in Paris.
    pub arrondissement: Option<String>,
    pub arcs: u64,
    pub vehicles: f64,
    pub lost_min: f64,
}

/// What the HTML and CSV reports read of a day's tables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DaySummary {
    /// City-wide flow per hour: (hour start, UTC seconds; Σ vehicles/hour; arcs measured).
    pub hourly: Vec<(i64, f64, u64)>,
    /// Per zone, by lost time (desc), then vehicles (desc), then name.
    pub zones: Vec<ZoneTraffic>,
}

impl DaySummary {
    pub fn from_tables(tables: &[Table]) -> DaySummary {
        let mut s = DaySummary::default();
        for t in tables {
            if t.def.name == ROAD_ARC_HOURS.name {
                let mut by_hour: BTreeMap<i64, (f64, u64)> = BTreeMap::new();
                for r in &t.rows {
                    if let (Cell::Ts(h), Cell::Float(q)) = (&r[2], &r[3]) {
                        let e = by_hour.entry(*h).or_default();
                        e.0 += q;
                        e.1 += 1;
                    }
                }
                s.hourly = by_hour.into_iter().map(|(h, (q, n))| (h, q, n)).collect();
            } else if t.def.name == ROAD_ARC_DAYS.name {
                s.zones = zones(t);
            }
        }
        s
    }
}

fn zones(t: &Table) -> Vec<ZoneTraffic> {
    let mut by: BTreeMap<String, ZoneTraffic> = BTreeMap::new();
    let f = |c: &Cell| if let Cell::Float(x) = c { *x } else { 0.0 };
    for r in &t.rows {
        let Cell::Str(zone) = &r[13] else { continue };
        let e = by.entry(zone.clone()).or_insert_with(|| ZoneTraffic {
            zone: zone.clone(),
            arrondissement: match &r[12] {
                Cell::Str(a) => Some(a.clone()),
                _ => None,
            },
            arcs: 0,
            vehicles: 0.0,
            lost_min: 0.0,
        });
        e.arcs += 1;
        e.vehicles += f(&r[4]);
        e.lost_min += f(&r[10]);
    }
    let mut v: Vec<ZoneTraffic> = by.into_values().collect();
    v.sort_by(|a, b| {
        b.lost_min
            .total_cmp(&a.lost_min)
            .then(b.vehicles.total_cmp(&a.vehicles))
            .then_with(|| a.zone.cmp(&b.zone))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bikes_works_and_weather_from_their_json() {
        let day = NaiveDate::from_ymd_opt(2025, 10, 26).unwrap();
        let bikes = json!({"metrics": [{"id_compteur": "1", "nom_compteur": "<x>", "total_jour": 315,
            "moyenne_horaire": 12.6, "pic_horaire": 18, "heures_observees": 25, "arrondissement": null,
            "coordinates": {"lon": 2.3, "lat": 48.8}, "anomalie_detectee": false}]});
        let t = &from_view("bikes", day, &bikes)[0];
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0][3], Cell::Int(315));
        assert_eq!(t.rows[0][7], Cell::Null);
        assert_eq!(
            (t.rows[0][8].clone(), t.rows[0][9].clone()),
            (Cell::Float(48.8), Cell::Float(2.3))
        );
        let w = json!({"chantiers_actifs": [{"identifiant": "CP1", "date_debut": "2025-10-24", "date_fin": "x", "surface_m2": 1.5}]});
        let t = &from_view("chantiers", day, &w)[0];
        assert_eq!(
            t.rows[0][5],
            Cell::Date(NaiveDate::from_ymd_opt(2025, 10, 24).unwrap())
        );
        assert_eq!(t.rows[0][6], Cell::Null);
        let m = json!({"metrics": {"temp_moyenne": 11.2, "conditions": "Rain"}, "impact_mobilite": 20.0, "categories": ["Pluvieux", "Froid"]});
        let t = &from_view("weather", day, &m)[0];
        assert_eq!(t.rows[0][1], Cell::Float(11.2));
        assert_eq!(t.rows[0][8], Cell::s("Pluvieux, Froid"));
        assert!(from_view("velib", day, &m).is_empty());
    }

    #[test]
    fn points_and_instants() {
        assert_eq!(
            lat_lon("48.85, 2.42"),
            (Cell::Float(48.85), Cell::Float(2.42))
        );
        assert_eq!(lat_lon("x"), (Cell::Null, Cell::Null));
        // 09:00 Paris on the DST day (UTC+1) is 08:00 UTC.
        assert_eq!(
            instant("2025-10-26T09:00:00+01:00"),
            Cell::Ts(1_761_465_600)
        );
    }
}
