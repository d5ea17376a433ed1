//! Analytics tables: flat, typed, one row per entity and Paris day, for DuckDB, Polars, Spark
//! or Athena; written by `process` as Hive partitions
//! `analytics/<table>/date=YYYY-MM-DD/part-0.parquet` beside the JSON ([`rel_path`]).
//!
//! Every table and column is declared once in [`TABLES`] (name, type, unit, meaning); README's
//! "Analytics tables" section is that list. Units are in the column names (`_veh`, `_pct`,
//! `_m`, `_min`, `_c`, `_mm`, `_kmh`, `_deg`, `_h`); instants are UTC timestamps (`_utc`), the
//! Paris day is the DATE column `day` (and the partition `date=`); coordinates are two float
//! columns `lat_deg`, `lon_deg`. The numbers are the JSON outputs' own values (same `f64`s).
//!
//! Building rows is pure and always done (the HTML report and the report CSV read them);
//! writing Parquet needs the `analytics` feature (on by default, [`to_parquet`]).

mod rows;
#[cfg(feature = "analytics")]
mod write;

use chrono::NaiveDate;

pub use rows::{from_view, quality, road_counters, traffic, velib, DaySummary, ZoneTraffic};

/// A column's physical type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Str,
    Int,
    Float,
    Bool,
    /// A calendar day (Parquet DATE).
    Date,
    /// A UTC instant (Parquet TIMESTAMP, microseconds, adjusted to UTC).
    Ts,
}

impl Ty {
    /// The SQL type DuckDB shows for it.
    pub fn sql(self) -> &'static str {
        match self {
            Ty::Str => "VARCHAR",
            Ty::Int => "BIGINT",
            Ty::Float => "DOUBLE",
            Ty::Bool => "BOOLEAN",
            Ty::Date => "DATE",
            Ty::Ts => "TIMESTAMP WITH TIME ZONE",
        }
    }
}

/// One column: name (with its unit), type, unit and meaning.
#[derive(Debug, PartialEq)]
pub struct Column {
    pub name: &'static str,
    pub ty: Ty,
    pub unit: &'static str,
    pub doc: &'static str,
}

/// One table.
#[derive(Debug, PartialEq)]
pub struct TableDef {
    pub name: &'static str,
    pub doc: &'static str,
    pub columns: &'static [Column],
}

/// A value of a row (any column may be null).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(NaiveDate),
    /// Seconds since the Unix epoch, UTC.
    Ts(i64),
}

impl Cell {
    pub fn opt_f(v: Option<f64>) -> Cell {
        v.filter(|x| x.is_finite()).map_or(Cell::Null, Cell::Float)
    }
    pub fn opt_s(v: Option<&str>) -> Cell {
        v.map_or(Cell::Null, |s| Cell::Str(s.to_string()))
    }
    pub fn opt_i(v: Option<i64>) -> Cell {
        v.map_or(Cell::Null, Cell::Int)
    }
    pub fn opt_b(v: Option<bool>) -> Cell {
        v.map_or(Cell::Null, Cell::Bool)
    }
    pub fn s(v: &str) -> Cell {
        Cell::Str(v.to_string())
    }
}

/// Rows of one table for one day.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub def: &'static TableDef,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(def: &'static TableDef) -> Table {
        Table {
            def,
            rows: Vec::new(),
        }
    }

    /// The column index of `name` (a name of [`TABLES`]).
    pub fn col(&self, name: &str) -> Option<usize> {
        self.def.columns.iter().position(|c| c.name == name)
    }
}

/// `analytics/<table>/date=<day>/part-0.parquet` ([`crate::output::OutputName::Analytics`]).
pub fn rel_path(table: &str, day: NaiveDate) -> String {
    let name = crate::output::OutputName::Analytics {
        table: table.to_string(),
        date: day,
    };
    name.rel_path()
}

/// The Parquet bytes of `t`: one row group, Snappy, statistics, no creation time
/// (`created_by` fixed): the same rows give the same bytes.
#[cfg(feature = "analytics")]
pub fn to_parquet(t: &Table) -> Result<Vec<u8>, String> {
    write::to_parquet(t)
}

/// Whether this build writes Parquet (the `analytics` feature).
pub const PARQUET: bool = cfg!(feature = "analytics");

macro_rules! col {
    ($name:literal, $ty:ident, $unit:literal, $doc:literal) => {
        Column {
            name: $name,
            ty: Ty::$ty,
            unit: $unit,
            doc: $doc,
        }
    };
}

const DAY: Column = col!(
    "day",
    Date,
    "",
    "Paris local day (same as the partition `date`)"
);

pub const ROAD_ARC_DAYS: TableDef = TableDef {
    name: "road_arc_days",
    doc: "road counters: one row per arc and day (`comptages` metrics)",
    columns: &[
        DAY,
        col!("arc_id", Str, "", "identifiant_arc"),
        col!("label", Str, "", "libelle"),
        col!(
            "flow_mean_veh_h",
            Float,
            "vehicles/hour",
            "debit_horaire_moyen"
        ),
        col!(
            "flow_total_veh",
            Float,
            "vehicles",
            "debit_journalier_total"
        ),
        col!("flow_max_veh_h", Float, "vehicles/hour", "debit_max"),
        col!("occupancy_mean_pct", Float, "%", "taux_occupation_moyen"),
        col!("state_dominant", Str, "", "etat_trafic_dominant"),
        col!(
            "peak_hour_utc",
            Ts,
            "UTC",
            "heure_pic (start of the peak hour)"
        ),
        col!(
            "lost_time_per_veh_min",
            Float,
            "minutes",
            "temps_perdu_minutes"
        ),
        col!(
            "lost_time_total_min",
            Float,
            "minutes",
            "temps_perdu_total_minutes"
        ),
        col!("congestion_alert", Bool, "", "congestion_alerte"),
        col!(
            "arrondissement",
            Str,
            "",
            "postal code 750xx, null outside Paris"
        ),
        col!("zone", Str, "", "zone_fallback"),
        col!("lat_deg", Float, "degrees WGS84", "geo_point_2d latitude"),
        col!("lon_deg", Float, "degrees WGS84", "geo_point_2d longitude"),
        col!("length_m", Float, "metres", "longueur_metres"),
        col!("readings", Int, "rows", "nombre_releves"),
        col!("hours_with_flow", Int, "hours", "heures_avec_debit"),
    ],
};

pub const ROAD_ARC_HOURS: TableDef = TableDef {
    name: "road_arc_hours",
    doc: "road counters: the cleaned hourly series (deduplicated rows), one row per arc and hour",
    columns: &[
        DAY,
        col!("arc_id", Str, "", "identifiant_arc"),
        col!("hour_utc", Ts, "UTC", "start of the counting hour"),
        col!(
            "flow_veh_h",
            Float,
            "vehicles/hour",
            "débit horaire, null when not measured"
        ),
        col!(
            "occupancy_pct",
            Float,
            "%",
            "taux d'occupation, null when not measured"
        ),
        col!("state", Str, "", "etat trafic"),
    ],
};

pub const BIKE_COUNTER_DAYS: TableDef = TableDef {
    name: "bike_counter_days",
    doc: "bike counters: one row per counter and day (`bikes` metrics list)",
    columns: &[
        DAY,
        col!("counter_id", Str, "", "id_compteur"),
        col!("name", Str, "", "nom_compteur"),
        col!("total_bikes", Int, "bikes", "total_jour"),
        col!("mean_bikes_h", Float, "bikes/hour", "moyenne_horaire"),
        col!("peak_hour_local", Int, "hour 0-23, Paris", "pic_horaire"),
        col!("hours_observed", Int, "hours", "heures_observees"),
        col!("arrondissement", Str, "", "arrondissement"),
        col!("lat_deg", Float, "degrees WGS84", "coordinates.lat"),
        col!("lon_deg", Float, "degrees WGS84", "coordinates.lon"),
        col!("anomaly", Bool, "", "anomalie_detectee"),
    ],
};

pub const TRANSIT_DISRUPTIONS: TableDef = TableDef {
    name: "transit_disruptions",
    doc: "transit disruptions counted for the day (a period overlaps it), one row each",
    columns: &[
        DAY,
        col!("disruption_id", Str, "", "id"),
        col!("severity", Str, "", "CRITIQUE / ELEVEE / MOYENNE / FAIBLE"),
        col!("score", Int, "points", "severity score (alerts' priority)"),
        col!("effect", Str, "", "GTFS-RT effect"),
        col!("lines", Str, "", "impacted lines, `, `-separated"),
        col!("line_count", Int, "lines", "number of impacted lines"),
        col!("duration_h", Float, "hours", "hours of the day covered"),
        col!("alert", Bool, "", "listed in the day's alerts"),
    ],
};

pub const ROAD_WORKS: TableDef = TableDef {
    name: "road_works",
    doc: "road works active on the day (`chantiers_actifs`), one row each",
    columns: &[
        DAY,
        col!("work_id", Str, "", "identifiant"),
        col!("typology", Str, "", "typologie"),
        col!("impact", Str, "", "impact"),
        col!("arrondissement", Str, "", "arrondissement"),
        col!("start_day", Date, "", "date_debut"),
        col!("end_day", Date, "", "date_fin"),
        col!("disruption_level", Str, "", "niveau_perturbation"),
        col!("surface_m2", Float, "m²", "surface_m2"),
    ],
};

pub const WEATHER_DAYS: TableDef = TableDef {
    name: "weather_days",
    doc: "weather: one row per day (`weather` metrics)",
    columns: &[
        DAY,
        col!("temp_mean_c", Float, "°C", "temp_moyenne"),
        col!("temp_min_c", Float, "°C", "temp_min"),
        col!("temp_max_c", Float, "°C", "temp_max"),
        col!("precip_mm", Float, "mm", "precip_totale"),
        col!("wind_mean_kmh", Float, "km/h", "vent_moyen"),
        col!("conditions", Str, "", "conditions"),
        col!("mobility_impact_pts", Float, "points", "impact_mobilite"),
        col!("categories", Str, "", "categories, `, `-separated"),
        col!("source", Str, "", "source"),
    ],
};

pub const VELIB_STATIONS: TableDef = TableDef {
    name: "velib_stations",
    doc: "Vélib' stations: the day's latest report of each station, one row each",
    columns: &[
        DAY,
        col!("station_id", Str, "", "GBFS station_id (or code)"),
        col!("code", Str, "", "stationCode"),
        col!("name", Str, "", "name"),
        col!("capacity_docks", Int, "docks", "capacity"),
        col!("bikes", Int, "bikes", "bikes available"),
        col!("bikes_mechanical", Int, "bikes", "mechanical bikes"),
        col!("bikes_electric", Int, "bikes", "electric bikes"),
        col!("docks_free", Int, "docks", "free docks"),
        col!("in_service", Bool, "", "installed, renting and returning"),
        col!(
            "stale",
            Bool,
            "",
            "report over 24 h older than its snapshot"
        ),
        col!("reported_utc", Ts, "UTC", "time of the report"),
        col!("lat_deg", Float, "degrees WGS84", "latitude"),
        col!("lon_deg", Float, "degrees WGS84", "longitude"),
        col!(
            "area",
            Str,
            "",
            "arrondissement 750xx or commune (as par_arrondissement)"
        ),
    ],
};

pub const QUALITY_SOURCES: TableDef = TableDef {
    name: "quality_sources",
    doc: "data quality: one row per source and day (the day's quality report)",
    columns: &[
        DAY,
        col!("source", Str, "", "source"),
        col!("files_read", Int, "files", "files_read"),
        col!("files_failed", Int, "files", "files_failed"),
        col!("rows_read", Int, "rows", "rows_read"),
        col!("rows_used", Int, "rows", "rows_used"),
        col!("rows_rejected", Int, "rows", "rows_rejected"),
        col!("duplicates", Int, "rows", "duplicates"),
        col!("error_rate", Float, "ratio 0-1", "error_rate"),
    ],
};

pub const QUALITY_PROBLEMS: TableDef = TableDef {
    name: "quality_problems",
    doc: "data quality: rows with a problem per source, file and reason (problems_by_file)",
    columns: &[
        DAY,
        col!("source", Str, "", "source"),
        col!("file", Str, "", "file, relative to the raw root"),
        col!("reason", Str, "", "reason"),
        col!("kind", Str, "", "reject or warning"),
        col!("rows", Int, "rows", "rows with this reason in this file"),
    ],
};

/// Every table, in output order.
pub const TABLES: [&TableDef; 9] = [
    &ROAD_ARC_DAYS,
    &ROAD_ARC_HOURS,
    &BIKE_COUNTER_DAYS,
    &TRANSIT_DISRUPTIONS,
    &ROAD_WORKS,
    &WEATHER_DAYS,
    &VELIB_STATIONS,
    &QUALITY_SOURCES,
    &QUALITY_PROBLEMS,
];

/// The schema as a Markdown table (README's "Analytics tables" holds this text; a test checks).
pub fn schema_markdown() -> String {
    let mut s = String::from("| table | column | type | unit | meaning |\n|---|---|---|---|---|\n");
    for t in TABLES {
        for c in t.columns {
            s.push_str(&format!(
                "| `{}` | `{}` | {} | {} | {} |\n",
                t.name,
                c.name,
                c.ty.sql(),
                c.unit,
                c.doc
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_start_with_the_day() {
        for t in TABLES {
            assert_eq!(t.columns[0].name, "day", "{}", t.name);
            let mut names: Vec<_> = t.columns.iter().map(|c| c.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), t.columns.len(), "{}", t.name);
        }
    }

    #[test]
    fn readme_documents_the_schema() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        assert!(
            readme.contains(&schema_markdown()),
            "README's analytics schema differs from analytics::TABLES: paste\n{}",
            schema_markdown()
        );
    }
}
