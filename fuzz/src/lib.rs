//! The fuzzed entry points, shared by the `cargo fuzz` targets (`fuzz/fuzz_targets/*.rs`) and by
//! the CI replay test (`tests/it/fuzz_replay.rs` includes this file with `#[path]`, so it uses
//! nothing but `cityflow` and its dependencies).
//!
//! Each entry takes arbitrary bytes, feeds them to one parser exactly as `process` would (a file
//! read by the source's `read_file`, written under `/dev/shm`), then computes every metric, the
//! daily report and its CSV from what was read: any panic, hang or blow-up on the way is a bug.
//! Some entries start with a selector byte choosing the source (see each function).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Map, Value};

use cityflow::discover::InputFile;
use cityflow::geo::{self, ArrondissementIndex};
use cityflow::metrics::{
    bikes as bm, chantiers as chm, comptages as cm, referentiel as rm, traffic as tm, velib as vm,
    weather as wm, DayDuplicates,
};
use cityflow::quality::{QualityAcc, SourceQualityReport};
use cityflow::report;
use cityflow::sources::{
    arrondissements, bikes, chantiers, comptages, referentiel, traffic, velib, weather,
    DaySelection,
};
use cityflow::time::{format_paris, paris_day, parse_instant};

/// A fuzz entry point: any bytes, no panic.
pub type Entry = fn(&[u8]);

/// Every target: its name (the `fuzz_targets/<name>.rs` file) and its entry point.
pub const TARGETS: &[(&str, Entry)] = &[
    ("comptages_csv", comptages_csv),
    ("referentiel_csv", referentiel_csv),
    ("bikes_csv", bikes_csv),
    ("chantiers_csv", chantiers_csv),
    ("other_csv", other_csv),
    ("json_sources", json_sources),
    ("geojson", geojson),
    ("datetime", datetime),
    ("fields", fields),
    ("xlsx", xlsx),
];

/// The JSON readers `json_sources` chooses from (selector byte % 7), in this order.
pub const JSON_SOURCES: [&str; 7] = [
    comptages::SOURCE,
    referentiel::SOURCE,
    bikes::SOURCE,
    chantiers::SOURCE,
    traffic::SOURCE,
    weather::SOURCE,
    velib::SOURCE,
];

/// The CSV readers `other_csv` chooses from (selector byte % 2).
pub const OTHER_CSV: [&str; 2] = [weather::SOURCE, velib::SOURCE];

/// The partition date given to JSON inputs when the selector's bit 0x10 is set.
pub fn partition() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 4).expect("valid date")
}

/// A scratch file per process and thread, in RAM when `/dev/shm` exists.
fn scratch(ext: &str) -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let dir = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    let tid = format!("{:?}", std::thread::current().id());
    let tid: String = tid.chars().filter(char::is_ascii_digit).collect();
    dir.join(format!("cityflow-fuzz-{}-{tid}.{ext}", std::process::id()))
}

/// Writes `data` to a scratch file named like a raw file of `kind`, runs `f` on it.
fn with_file<T>(
    data: &[u8],
    kind: &'static str,
    ext: &str,
    partition_date: Option<NaiveDate>,
    f: impl FnOnce(&InputFile) -> T,
) -> T {
    let path = scratch(ext);
    std::fs::write(&path, data).expect("scratch file writable");
    let rel = format!("fuzz/{kind}.{ext}");
    let input = InputFile::new(&path, &rel, kind, partition_date);
    let out = f(&input);
    let _ = std::fs::remove_file(&path);
    out
}

/// The synthetic arrondissements, so that point lookups run.
fn arr() -> &'static ArrondissementIndex {
    static IDX: OnceLock<ArrondissementIndex> = OnceLock::new();
    IDX.get_or_init(|| {
        ArrondissementIndex::from_geojson(&cityflow::generate::synthetic_arrondissements()).0
    })
}

fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("metrics serialise")
}

/// Builds the quality reports, checking the counters add up.
fn check_quality(q: QualityAcc) {
    let q = q.finish();
    for c in q.cells.values() {
        assert!(
            c.rows_rejected <= c.rows_read,
            "more rows rejected than read"
        );
        let r = SourceQualityReport::build(c, 0, 0, Vec::new());
        assert_eq!(r.rows_used + r.rows_rejected, r.rows_read);
        let _ = cityflow::json::to_json_bytes(&r);
    }
}

/// The daily report (JSON and CSV) of one day's metrics, by type.
fn report_of(day: NaiveDate, metrics: Vec<(&str, Value)>) {
    let mut dm: Map<String, Value> = Map::new();
    for (t, v) in metrics {
        dm.insert(t.to_string(), v);
    }
    let date = day.to_string();
    let r = report::build(
        &date,
        "2025-11-21T03:20:00Z",
        &dm,
        Some(("2023-12-28", &dm)),
    );
    let _ = cityflow::json::to_json_bytes(&r);
    let _ = report::csv_bytes(&r, &[]);
}

/// At most this many days get their metrics computed (a fuzzed file can spread over thousands).
const MAX_DAYS: usize = 8;

fn comptages_file(f: &InputFile) {
    let out = comptages::read_file(f, &DaySelection::default(), &|_| {});
    check_quality(out.quality);
    let refs = BTreeMap::new();
    let ctx = cm::Context {
        arrondissements: arr(),
        referentiel: &refs,
    };
    let p = cm::prepare(out.acc, &ctx);
    let days: Vec<NaiveDate> = p.days().take(MAX_DAYS).collect();
    for d in days {
        if let Some(m) = p.metrics(d) {
            let v = json(&m);
            let _ = cityflow::json::to_json_bytes(&m);
            report_of(d, vec![("comptages", v)]);
        }
    }
}

fn referentiel_file(f: &InputFile) {
    let mut q = QualityAcc::default();
    let rows = referentiel::read_file(f, &mut q);
    check_quality(q);
    let arcs = rm::merge_rows(rows);
    let m = rm::build(&arcs, &|id| id.len() % 2 == 0);
    let _ = cityflow::json::to_json_bytes(&m);
}

/// How one dated source reads a file and computes a day's metrics.
struct Dated<A, M> {
    name: &'static str,
    read: fn(&InputFile, &DaySelection, &mut QualityAcc) -> A,
    days: fn(&A) -> BTreeSet<NaiveDate>,
    duplicates: fn(&A, Option<NaiveDate>) -> DayDuplicates,
    metrics: fn(&A, NaiveDate, &ArrondissementIndex) -> Option<M>,
}

impl<A, M: Serialize> Dated<A, M> {
    fn run(&self, f: &InputFile) {
        let mut q = QualityAcc::default();
        let acc = (self.read)(f, &DaySelection::default(), &mut q);
        check_quality(q);
        let _ = (self.duplicates)(&acc, None);
        for d in (self.days)(&acc).into_iter().take(MAX_DAYS) {
            let _ = (self.duplicates)(&acc, Some(d));
            if let Some(m) = (self.metrics)(&acc, d, arr()) {
                report_of(d, vec![(self.name, json(&m))]);
            }
        }
    }
}

fn bikes_file(f: &InputFile) {
    Dated {
        name: "bikes",
        read: bikes::read_file,
        days: bm::BikesAcc::days,
        duplicates: bm::BikesAcc::duplicates,
        metrics: bm::metrics,
    }
    .run(f)
}

fn chantiers_file(f: &InputFile) {
    let mut q = QualityAcc::default();
    let acc = chantiers::read_file(f, &DaySelection::default(), &mut q);
    check_quality(q);
    let _ = acc.duplicates(None);
    let mut days: Vec<NaiveDate> = acc
        .works()
        .flat_map(|(_, w)| [w.start, w.end])
        .take(MAX_DAYS)
        .collect();
    days.push(partition());
    for d in days {
        if let Some(m) = chm::metrics(&acc, d, arr()) {
            report_of(d, vec![("chantiers", json(&m))]);
        }
    }
}

fn traffic_file(f: &InputFile) {
    Dated {
        name: "traffic",
        read: traffic::read_file,
        days: tm::TrafficAcc::days,
        duplicates: tm::TrafficAcc::duplicates,
        metrics: tm::metrics,
    }
    .run(f)
}

fn weather_file(f: &InputFile) {
    Dated {
        name: "weather",
        read: weather::read_file,
        days: wm::WeatherAcc::days,
        duplicates: wm::WeatherAcc::duplicates,
        metrics: wm::metrics,
    }
    .run(f)
}

fn velib_file(f: &InputFile) {
    Dated {
        name: "velib",
        read: velib::read_file,
        days: vm::VelibAcc::days,
        duplicates: vm::VelibAcc::duplicates,
        metrics: vm::metrics,
    }
    .run(f)
}

fn read_as(kind: &str, f: &InputFile) {
    match kind {
        comptages::SOURCE => comptages_file(f),
        referentiel::SOURCE => referentiel_file(f),
        bikes::SOURCE => bikes_file(f),
        chantiers::SOURCE => chantiers_file(f),
        traffic::SOURCE => traffic_file(f),
        weather::SOURCE => weather_file(f),
        velib::SOURCE => velib_file(f),
        _ => {
            // arrondissements::SOURCE
            let mut q = QualityAcc::default();
            let idx = arrondissements::load([f], &mut q);
            check_quality(q);
            let _ = idx.lookup(cityflow::generate::CENTER);
        }
    }
}

/// A road-counter CSV export.
pub fn comptages_csv(data: &[u8]) {
    with_file(data, comptages::SOURCE, "csv", None, comptages_file);
}

/// A référentiel CSV (current or technical header).
pub fn referentiel_csv(data: &[u8]) {
    with_file(data, referentiel::SOURCE, "csv", None, referentiel_file);
}

/// The bike counters CSV export.
pub fn bikes_csv(data: &[u8]) {
    with_file(data, bikes::SOURCE, "csv", None, bikes_file);
}

/// The road works CSV export.
pub fn chantiers_csv(data: &[u8]) {
    with_file(data, chantiers::SOURCE, "csv", None, chantiers_file);
}

/// Selector byte (% 2: weather, Vélib), then a CSV (Open-Meteo export, Vélib export).
pub fn other_csv(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let d = OTHER_CSV[usize::from(sel) % OTHER_CSV.len()];
    with_file(body, d, "csv", None, |f| read_as(d, f));
}

/// Selector byte (% 7: see [`JSON_SOURCES`]; bit 0x10: a `dt=` partition date), then a JSON,
/// JSON Lines or GeoJSON file of that source.
pub fn json_sources(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let d = JSON_SOURCES[usize::from(sel & 0x0f) % JSON_SOURCES.len()];
    let pd = (sel & 0x10 != 0).then(partition);
    with_file(body, d, "json", pd, |f| read_as(d, f));
}

/// A GeoJSON text: a geometry (or a `geo_shape` cell), a Feature, or an arrondissements
/// FeatureCollection (also read as a file by the arrondissements loader).
pub fn geojson(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(g) = geo::parse_geometry_str(s) {
            let _ = geo::length_m(&g);
            let _ = geo::polygon_area_m2(&g);
            if let Some(c) = geo::center(&g) {
                let _ = arr().lookup(c);
            }
        }
    }
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        let (idx, _problems) = ArrondissementIndex::from_geojson(&v);
        let _ = idx.lookup(cityflow::generate::CENTER);
        if let Ok(g) = geo::parse_geometry(&v) {
            if let Some(c) = geo::center(&g) {
                let _ = idx.lookup(c);
            }
        }
        let _ = cityflow::sources::json_point(Some(&v));
    }
    with_file(data, arrondissements::SOURCE, "geojson", None, |f| {
        read_as(arrondissements::SOURCE, f)
    });
}

/// A timestamp as found in any source: the common parser, the Navitia/PRIM parser in several
/// time zones; a parsed instant must format and parse back to itself.
pub fn datetime(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = parse_instant(s) {
        let _ = paris_day(t);
        let shown = format_paris(t);
        assert_eq!(parse_instant(&shown), Ok(t), "{s:?} -> {shown}");
    }
    for tz in [
        chrono_tz::Europe::Paris,
        chrono_tz::UTC,
        chrono_tz::America::St_Johns,
        chrono_tz::Pacific::Kiritimati,
    ] {
        if let Ok(t) = traffic::parse_time(s, tz) {
            let _ = paris_day(t);
            let _ = format_paris(t);
        }
    }
}

/// A single text field: numbers (every scale), points, postal codes, states, impacts, line
/// names, severities, header names, double-encoded names.
/// A weather-station workbook (`stations` reads Weather Underground `.xlsx` exports): the archive
/// checks (decompressed sizes), then every sheet within the cell and row limits. Refusals are
/// fine; a panic or an allocation the limits should have prevented is not.
pub fn xlsx(data: &[u8]) {
    let _ = cityflow_cloud::stations::workbook::read_bytes(data);
}

pub fn fields(data: &[u8]) {
    let _ = cityflow::input::sniff_delimiter(data);
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for digits in 0..=6 {
        let _ = cityflow::fixed::parse_scaled(s, digits);
    }
    if let Ok(x) = s.trim().parse::<f64>() {
        for digits in 0..=6 {
            let _ = cityflow::fixed::scaled_from_f64(x, digits);
        }
        let _ = chm::area_to_cm2(x);
        let _ = cm::speed_kmh(x);
        let _ = cm::loss_minutes_per_vehicle(x, x);
    }
    let _ = geo::parse_lat_lon(s);
    let _ = cityflow::input::norm_header(s);
    let _ = chantiers::normalize_postal_code(s);
    let _ = chantiers::canonical_impact(s);
    let _ = chm::impact_weight(s);
    let _ = comptages::parse_state(s);
    let _ = traffic::effect_score(s);
    let _ = traffic::prim_severity_score(s);
    let _ = traffic::lines_in_text(s);
    let (a, b) = s.split_at(
        s.char_indices()
            .nth(s.chars().count() / 2)
            .map_or(0, |(i, _)| i),
    );
    let _ = traffic::line_label(Some(a), b, s);
    let _ = traffic::line_label(None, a, b);
    let _ = tm::line_order(a, b);
    let _ = cityflow::metrics::arc_order(a, b);
    let _ = velib::repair_double_utf8(s);
}
