//! Tests of the `weather` source (real files and fixtures).
//!
//! Expected values come from the raw files themselves (serde_json straight over the arrays, or
//! `tests/independent/weather_openmeteo.py`), or by hand (arithmetic in the comments).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::Value;

use cityflow::discover::InputFile;
use cityflow::geo::ArrondissementIndex;
use cityflow::metrics::weather::{metrics, WeatherAcc, WeatherMetrics};
use cityflow::quality::{QualityAcc, Reason};
use cityflow::sources::weather::{read_file, SOURCE};
use cityflow::sources::DaySelection;

use crate::support::{python, real, repo};

const OPEN_METEO: &str = "weather/openmeteo_archive_daily_paris_2016-2025_clombion.json";
const OWM: &str = "weather/owm_onecall_paris_florianlangard.derived.json";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/weather").join(name)
}

fn input(path: &Path, rel: &str) -> InputFile {
    InputFile::new(path, rel, SOURCE, None)
}

fn read_sel(path: &Path, rel: &str, sel: DaySelection) -> (WeatherAcc, QualityAcc) {
    let mut q = QualityAcc::default();
    let acc = read_file(&input(path, rel), &sel, &mut q);
    (acc, q)
}

fn read(path: &Path, rel: &str) -> (WeatherAcc, QualityAcc) {
    read_sel(path, rel, DaySelection::default())
}

/// Writes `body` to a temporary file named `name` and reads it.
fn read_bytes(name: &str, body: &[u8]) -> (WeatherAcc, QualityAcc) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, body).unwrap();
    read(&p, name)
}

#[derive(Debug, Default)]
struct Totals {
    rows_read: u64,
    rejected: u64,
    rejects: BTreeMap<Reason, u64>,
    warnings: BTreeMap<Reason, u64>,
    missing: BTreeMap<&'static str, u64>,
    categories: BTreeMap<String, u64>,
    samples: Vec<String>,
    files_failed: usize,
}

fn totals(q: &QualityAcc) -> Totals {
    let mut t = Totals::default();
    for ((src, _), c) in &q.cells {
        assert_eq!(*src, SOURCE);
        t.rows_read += c.rows_read;
        t.rejected += c.rows_rejected;
        for (k, v) in &c.rejects {
            *t.rejects.entry(*k).or_default() += v;
        }
        for (k, v) in &c.warnings {
            *t.warnings.entry(*k).or_default() += v;
        }
        for (k, v) in &c.missing {
            *t.missing.entry(*k).or_default() += v;
        }
        for (k, v) in &c.categories {
            *t.categories.entry(k.clone()).or_default() += v;
        }
        t.samples.extend(c.samples.iter().map(|s| s.render()));
        t.files_failed += c.files_failed.len();
    }
    t
}

fn m(acc: &WeatherAcc, day: &str) -> WeatherMetrics {
    metrics(acc, d(day), &ArrondissementIndex::default())
        .unwrap_or_else(|| panic!("no weather metrics for {day}"))
}

/// (mean, min, max, precip, wind, categories, impact) of a day's output.
type Row = (
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Vec<String>,
    f64,
);

fn row(w: &WeatherMetrics) -> Row {
    let x = &w.metrics;
    (
        x.temp_moyenne,
        x.temp_min,
        x.temp_max,
        x.precip_totale,
        x.vent_moyen,
        w.categories.iter().map(|c| c.to_string()).collect(),
        w.impact_mobilite,
    )
}

fn dup_totals(acc: &WeatherAcc) -> (u64, u64) {
    acc.days().into_iter().fold((0, 0), |(c, k), day| {
        let dd = acc.duplicates(Some(day));
        (c + dd.count, k + dd.conflicting)
    })
}

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[test]
fn real_open_meteo_archive_matches_an_independent_computation() {
    let path = real(OPEN_METEO);
    let (acc, q) = read(&path, "batch/open-meteo/paris.json");
    let t = totals(&q);
    assert_eq!(t.rows_read, 3653);
    assert_eq!(t.rejected, 0, "{:?}", t.samples);
    assert_eq!(t.files_failed, 0);
    // no wind in this file: every day lacks it, and no day is Venteux
    assert_eq!(t.missing.get("vent_moyen"), Some(&3653));
    assert_eq!(t.missing.get("temp_moyenne"), None);
    assert_eq!(
        t.categories,
        BTreeMap::from([("open-meteo daily".to_string(), 3653)])
    );
    let days = acc.days();
    assert_eq!(days.len(), 3653);
    assert_eq!(days.first(), Some(&d("2016-01-01")));
    assert_eq!(days.last(), Some(&d("2025-12-31")));
    assert_eq!(dup_totals(&acc), (0, 0));

    let expected = python("weather_openmeteo.py", &[&path]);
    assert_eq!(expected["rejected"], 0);
    let exp_days = expected["days"].as_object().unwrap();
    assert_eq!(exp_days.len(), 3653);
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for (date, e) in exp_days {
        let got = m(&acc, date);
        assert_eq!(got.metrics.date, *date);
        assert_eq!(got.metrics.source, "open-meteo daily");
        let e = e.as_array().unwrap();
        let want: Row = (
            e[0].as_f64(),
            e[1].as_f64(),
            e[2].as_f64(),
            e[3].as_f64(),
            e[4].as_f64(),
            e[5].as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect(),
            e[6].as_f64().unwrap(),
        );
        assert_eq!(row(&got), want, "{date}");
        for c in &got.categories {
            *counts.entry(c.to_string()).or_default() += 1;
        }
    }
    // category counts, straight from the Python script
    for cat in ["Pluvieux", "Froid", "Chaud", "Venteux"] {
        assert_eq!(
            counts.get(cat).copied().unwrap_or(0),
            expected["counts"][cat].as_u64().unwrap(),
            "{cat}"
        );
    }
    // and a few days by hand from the file: 2025-11-03 mean 11.1, min 7.3, max 15.6, 0.0 mm
    let x = m(&acc, "2025-11-03");
    assert_eq!(
        row(&x),
        (
            Some(11.1),
            Some(7.3),
            Some(15.6),
            Some(0.0),
            None,
            vec![],
            50.0
        )
    );
    // 2019-07-25 (heat wave): mean 32.2 -> Chaud, 50 + 5
    assert_eq!(m(&acc, "2019-07-25").categories, vec!["Chaud"]);
    assert_eq!(m(&acc, "2019-07-25").impact_mobilite, 55.0);
    // 2016-01-03: 11.4 mm -> Pluvieux, mean 6.9 -> Froid: 50 - 20 - 10
    assert_eq!(m(&acc, "2016-01-03").categories, vec!["Pluvieux", "Froid"]);
    assert_eq!(m(&acc, "2016-01-03").impact_mobilite, 20.0);
}

/// The OWM real file: 8 `daily[]` (2022-01-08..15) and 48 `hourly[]` (Paris 2022-01-08 16:00 to
/// 2022-01-10 15:00), plus one alert (not a row).
#[test]
fn real_owm_onecall() {
    let path = real(OWM);
    let raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let daily = raw["daily"].as_array().unwrap();
    let hourly = raw["hourly"].as_array().unwrap();
    assert_eq!((daily.len(), hourly.len()), (8, 48));

    let (acc, q) = read(&path, "api/weather/dt=2022-01-08/owm.json");
    let t = totals(&q);
    assert_eq!(t.rows_read, 56);
    assert_eq!(t.rejected, 0, "{:?}", t.samples);
    assert_eq!(t.categories["openweathermap daily"], 8);
    assert_eq!(t.categories["openweathermap hourly"], 48);
    let days: Vec<String> = acc.days().iter().map(|d| d.to_string()).collect();
    assert_eq!(days.first().map(String::as_str), Some("2022-01-08"));
    assert_eq!(days.last().map(String::as_str), Some("2022-01-15"));
    assert_eq!(days.len(), 8);
    // every hour falls on a day that has a daily record: the 48 hours are not used
    assert_eq!(dup_totals(&acc).0, 48);

    // 2022-01-08 by hand: temp {min 4.3, max 9.12, morn 4.3, day 7.77, eve 8.44, night 5.96}
    // mean = (4.3 + 7.77 + 8.44 + 5.96) / 4 = 26.47 / 4 = 6.6175 -> 6.62; rain 8.46 mm;
    // wind 10.08 m/s × 3.6 = 36.288 km/h -> 36.29; Pluvieux + Venteux + Froid: 50-20-10-10 = 10
    let x = m(&acc, "2022-01-08");
    assert_eq!(
        row(&x),
        (
            Some(6.62),
            Some(4.3),
            Some(9.12),
            Some(8.46),
            Some(36.29),
            vec!["Pluvieux".into(), "Venteux".into(), "Froid".into()],
            10.0
        )
    );
    assert_eq!(x.metrics.conditions.as_deref(), Some("Rain"));
    assert_eq!(x.metrics.source, "openweathermap daily");

    // every day, straight from the JSON
    for e in daily {
        let dt = e["dt"].as_i64().unwrap();
        let day = chrono::DateTime::from_timestamp(dt, 0)
            .unwrap()
            .with_timezone(&chrono_tz::Europe::Paris)
            .date_naive()
            .to_string();
        let tp = &e["temp"];
        let f = |k: &str| tp[k].as_f64().unwrap();
        let mean = r2((f("morn") + f("day") + f("eve") + f("night")) / 4.0);
        let precip = e["rain"].as_f64().unwrap_or(0.0) + e["snow"].as_f64().unwrap_or(0.0);
        let wind = r2(e["wind_speed"].as_f64().unwrap() * 3.6);
        let got = m(&acc, &day);
        assert_eq!(got.metrics.temp_moyenne, Some(mean), "{day}");
        assert_eq!(got.metrics.temp_min, Some(f("min")), "{day}");
        assert_eq!(got.metrics.temp_max, Some(f("max")), "{day}");
        assert_eq!(got.metrics.precip_totale, Some(r2(precip)), "{day}");
        assert_eq!(got.metrics.vent_moyen, Some(wind), "{day}");
        assert_eq!(
            got.metrics.conditions.as_deref(),
            e["weather"][0]["main"].as_str()
        );
        let pluvieux = precip >= 5.0;
        let venteux = wind >= 30.0;
        assert_eq!(got.categories.contains(&"Pluvieux"), pluvieux, "{day}");
        assert_eq!(got.categories.contains(&"Venteux"), venteux, "{day}");
        assert_eq!(got.categories.contains(&"Froid"), mean < 10.0, "{day}");
    }
}

/// The OWM hours alone (the file's `hourly[]` in a temporary file) are aggregated into days.
#[test]
fn real_owm_hours_aggregated_into_paris_days() {
    let path = real(OWM);
    let raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let hours_only = serde_json::json!({"timezone": raw["timezone"], "hourly": raw["hourly"]});
    let (acc, q) = read_bytes("owm_hourly.json", hours_only.to_string().as_bytes());
    let t = totals(&q);
    assert_eq!((t.rows_read, t.rejected), (48, 0));
    let days: Vec<String> = acc.days().iter().map(|d| d.to_string()).collect();
    assert_eq!(days, ["2022-01-08", "2022-01-09", "2022-01-10"]);
    // 2022-01-09 in Paris (+01:00) = [2022-01-08T23:00Z, 2022-01-09T23:00Z)
    let (lo, hi) = (1_641_682_800, 1_641_769_200);
    let hours: Vec<&Value> = raw["hourly"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| (lo..hi).contains(&h["dt"].as_i64().unwrap()))
        .collect();
    assert_eq!(hours.len(), 24);
    let temps: Vec<f64> = hours.iter().map(|h| h["temp"].as_f64().unwrap()).collect();
    let rain: f64 = hours
        .iter()
        .map(|h| h["rain"]["1h"].as_f64().unwrap_or(0.0))
        .sum();
    let wind = hours
        .iter()
        .map(|h| h["wind_speed"].as_f64().unwrap())
        .fold(f64::MIN, f64::max);
    let x = m(&acc, "2022-01-09");
    assert_eq!(x.metrics.source, "openweathermap hourly (24/24 h)");
    let mean = temps.iter().sum::<f64>() / 24.0;
    assert!((x.metrics.temp_moyenne.unwrap() - mean).abs() <= 0.005 + 1e-9);
    assert_eq!(
        x.metrics.temp_min,
        Some(temps.iter().copied().fold(f64::MAX, f64::min))
    );
    assert_eq!(
        x.metrics.temp_max,
        Some(temps.iter().copied().fold(f64::MIN, f64::max))
    );
    assert_eq!(x.metrics.precip_totale, Some(r2(rain)));
    assert_eq!(x.metrics.vent_moyen, Some(r2(wind * 3.6)));
    // the partial first day: 16:00..23:00 Paris
    assert_eq!(
        m(&acc, "2022-01-08").metrics.source,
        "openweathermap hourly (8/24 h)"
    );
}

#[test]
fn visual_crossing_fixture() {
    let (acc, q) = read(
        &fixture("visualcrossing_paris_2025-11-03.json"),
        "api/weather/dt=2025-11-04/hour=02/weather_data.json",
    );
    let t = totals(&q);
    // 4 days read (hours[] and currentConditions are not rows); 2025-11-06 rejected
    assert_eq!(t.rows_read, 4);
    assert_eq!(t.rejected, 1);
    assert_eq!(t.rejects.get(&Reason::Inconsistent), Some(&1));
    assert!(
        t.samples[0].contains("days[3]: `tempmin` 14 > `tempmax` 12.5"),
        "{:?}",
        t.samples
    );
    let c = &q.cells[&(SOURCE, Some(d("2025-11-06")))];
    assert_eq!((c.rows_read, c.rows_rejected), (1, 1));
    assert_eq!(
        t.missing,
        BTreeMap::from([("precip_totale", 1), ("vent_moyen", 1)])
    );
    assert_eq!(t.warnings.get(&Reason::Corrected), Some(&1));
    let days: Vec<String> = acc.days().iter().map(|d| d.to_string()).collect();
    assert_eq!(days, ["2025-11-03", "2025-11-04", "2025-11-05"]);
    // the prototype's real output (§2.8), same keys in the same order, plus `source`
    let x = m(&acc, "2025-11-03");
    assert_eq!(
        serde_json::to_string(&x).unwrap(),
        r#"{"metrics":{"date":"2025-11-03","temp_moyenne":11.6,"temp_min":7.3,"temp_max":15.6,"precip_totale":0.0,"vent_moyen":15.5,"conditions":"Partially cloudy","impact_mobilite":50.0,"source":"visual-crossing daily"},"impact_mobilite":50.0,"categories":[]}"#
    );
    // 2025-11-04: temp 16.0 outside [9.8, 13.2] -> (9.8 + 13.2) / 2 = 11.5; 7.4 mm Pluvieux;
    // 31.7 km/h Venteux (now counted): 50 - 20 - 10 = 20
    let x = m(&acc, "2025-11-04");
    assert_eq!(
        row(&x),
        (
            Some(11.5),
            Some(9.8),
            Some(13.2),
            Some(7.4),
            Some(31.7),
            vec!["Pluvieux".into(), "Venteux".into()],
            20.0
        )
    );
    // 2025-11-05: nulls are missing values, they decide nothing; 8.9 °C Froid: 50 - 10
    let x = m(&acc, "2025-11-05");
    assert_eq!(
        row(&x),
        (
            Some(8.9),
            Some(6.1),
            Some(12.0),
            None,
            None,
            vec!["Froid".into()],
            40.0
        )
    );
    assert_eq!(x.metrics.conditions, None);
    // the run's selection: rows outside are skipped, not counted
    let sel = DaySelection {
        from: Some(d("2025-11-04")),
        to: Some(d("2025-11-04")),
    };
    let (acc, q) = read_sel(
        &fixture("visualcrossing_paris_2025-11-03.json"),
        "vc.json",
        sel,
    );
    assert_eq!(totals(&q).rows_read, 1);
    assert_eq!(acc.days().len(), 1);
}

/// Paris CSV export: metadata, blank line, `time,... (unit)` header; no `temperature_2m_mean`
/// (optional column missing -> midpoint), an extra `sunshine_duration` column, an empty value.
fn check_paris_csv(acc: &WeatherAcc, q: &QualityAcc) {
    let t = totals(q);
    assert_eq!((t.rows_read, t.rejected), (4, 0), "{:?}", t.samples);
    assert_eq!(t.missing.get("temp_moyenne"), Some(&4));
    assert_eq!(t.missing.get("precip_totale"), Some(&1));
    // (15.1 + 7.0) / 2 = 11.05
    assert_eq!(
        row(&m(acc, "2025-11-03")),
        (
            Some(11.05),
            Some(7.0),
            Some(15.1),
            Some(0.0),
            Some(14.8),
            vec![],
            50.0
        )
    );
    // (13.0 + 9.9) / 2 = 11.45; 8.2 mm, 33.5 km/h: 50 - 20 - 10 = 20
    assert_eq!(
        row(&m(acc, "2025-11-04")),
        (
            Some(11.45),
            Some(9.9),
            Some(13.0),
            Some(8.2),
            Some(33.5),
            vec!["Pluvieux".into(), "Venteux".into()],
            20.0
        )
    );
    // (11.4 + 5.2) / 2 = 8.3 Froid, precipitation empty: 40
    assert_eq!(
        row(&m(acc, "2025-11-05")),
        (
            Some(8.3),
            Some(5.2),
            Some(11.4),
            None,
            Some(18.0),
            vec!["Froid".into()],
            40.0
        )
    );
    // (9.0 + 2.2) / 2 = 5.6 Froid
    assert_eq!(m(acc, "2025-11-06").metrics.temp_moyenne, Some(5.6));
    assert_eq!(m(acc, "2025-11-06").metrics.source, "open-meteo daily");
}

#[test]
fn open_meteo_csv_fixture_and_its_variants() {
    let body = std::fs::read(fixture("openmeteo_daily_paris.csv")).unwrap();
    let (acc, q) = read(&fixture("openmeteo_daily_paris.csv"), "open-meteo.csv");
    check_paris_csv(&acc, &q);
    // BOM + CRLF
    let mut v = b"\xEF\xBB\xBF".to_vec();
    v.extend(
        String::from_utf8(body.clone())
            .unwrap()
            .replace('\n', "\r\n")
            .bytes(),
    );
    let (acc2, q2) = read_bytes("open-meteo.csv", &v);
    check_paris_csv(&acc2, &q2);
    // re-saved by a French spreadsheet: `;` and decimal commas
    let text = String::from_utf8(body.clone()).unwrap();
    let fr: String = text
        .lines()
        .map(|l| {
            let cells: Vec<String> = l.split(',').map(|c| c.replace('.', ",")).collect();
            cells.join(";") + "\n"
        })
        .collect();
    let (acc3, q3) = read_bytes("open-meteo.csv", fr.as_bytes());
    check_paris_csv(&acc3, &q3);
    // Latin-1 (the `°` of the units as one byte)
    let latin1: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
    let (acc4, q4) = read_bytes("open-meteo.csv", &latin1);
    check_paris_csv(&acc4, &q4);
    // no blank line after the metadata
    let tight = text.replacen("GMT+1\n\n", "GMT+1\n", 1);
    assert_ne!(tight, text);
    let (acc5, q5) = read_bytes("open-meteo.csv", tight.as_bytes());
    check_paris_csv(&acc5, &q5);
    // the multi-location layout: a leading `location_id` column
    let multi: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| match (i, l.is_empty()) {
            (_, true) => "\n".to_string(),
            (0, _) | (3, _) => format!("location_id,{l}\n"),
            _ => format!("0,{l}\n"),
        })
        .collect();
    let (acc6, q6) = read_bytes("open-meteo.csv", multi.as_bytes());
    check_paris_csv(&acc6, &q6);
    // a short row is rejected alone
    let short = text.replace("2025-11-06,9.0,2.2,0.3,10.4,30000.00", "2025-11-06,9.0");
    let (_, q7) = read_bytes("open-meteo.csv", short.as_bytes());
    let t = totals(&q7);
    assert_eq!(t.rejects.get(&Reason::WrongColumnCount), Some(&1));
    assert!(t.samples[0].starts_with("open-meteo.csv:8: wrong_column_count"));
}

#[test]
fn open_meteo_csv_hourly_and_daily_sections_in_imperial_units() {
    let (acc, q) = read(
        &fixture("openmeteo_hourly_daily_imperial.csv"),
        "open-meteo-imperial.csv",
    );
    let t = totals(&q);
    assert_eq!((t.rows_read, t.rejected), (5, 0), "{:?}", t.samples);
    assert_eq!(t.categories["open-meteo hourly"], 4);
    assert_eq!(t.categories["open-meteo daily (timezone GMT, UTC+0)"], 1);
    // hours in GMT: 00:00Z..02:00Z are 01:00..03:00 in Paris on 2025-11-07;
    // 50 °F = 10 °C, 41 °F = 5 °C, 59 °F = 15 °C -> mean 10.0 (not Froid), min 5, max 15;
    // 0 + 0.1 + 0.2 inch = 0.3 × 25.4 = 7.62 mm; max wind 18.75 mph × 1.609344 = 30.1752 km/h
    // -> Pluvieux + Venteux: 50 - 20 - 10 = 20
    let x = m(&acc, "2025-11-07");
    assert_eq!(
        row(&x),
        (
            Some(10.0),
            Some(5.0),
            Some(15.0),
            Some(7.62),
            Some(30.18),
            vec!["Pluvieux".into(), "Venteux".into()],
            20.0
        )
    );
    assert_eq!(x.metrics.source, "open-meteo hourly (3/24 h)");
    // daily 2025-11-08: 59.18 °F = 15.1, 44.6 °F = 7.0, 51.8 °F = 11.0; 0.5 inch = 12.7 mm;
    // 20 mph = 32.18688 -> 32.19 km/h; WMO 63. It wins over the 23:00Z hour (00:00 Paris).
    let x = m(&acc, "2025-11-08");
    assert_eq!(
        row(&x),
        (
            Some(11.0),
            Some(7.0),
            Some(15.1),
            Some(12.7),
            Some(32.19),
            vec!["Pluvieux".into(), "Venteux".into()],
            20.0
        )
    );
    assert_eq!(x.metrics.conditions.as_deref(), Some("Moderate rain"));
    assert_eq!(x.metrics.source, "open-meteo daily");
    let dd = acc.duplicates(Some(d("2025-11-08")));
    // the hour (46.4 °F = 8.0 °C) differs from the day
    assert_eq!((dd.count, dd.conflicting), (1, 1));
    assert!(dd.samples[0].contains("1 open-meteo hourly row(s) not used"));
}

#[test]
fn open_meteo_hourly_json_with_wind_in_m_per_s_and_nulls() {
    let (acc, q) = read(&fixture("openmeteo_hourly_ms.json"), "om-hourly.json");
    let t = totals(&q);
    // 5 hours; the 04:00 one has no value at all
    assert_eq!((t.rows_read, t.rejected), (5, 1));
    assert_eq!(t.rejects.get(&Reason::MissingKey), Some(&1));
    assert_eq!(
        t.missing,
        BTreeMap::from([
            ("precip_horaire", 1),
            ("temp_horaire", 1),
            ("vent_horaire", 1)
        ])
    );
    // temps 8.5, 7.5, 6.0 -> 22.0 / 3 = 7.333 -> 7.33; precip 0.2 + 0.3 + 4.6 = 5.1;
    // wind max 9.0 m/s × 3.6 = 32.4 km/h (8.4 m/s = 30.24); WMO max 63
    // Pluvieux + Venteux + Froid: 50 - 20 - 10 - 10 = 10
    let x = m(&acc, "2025-11-09");
    assert_eq!(
        row(&x),
        (
            Some(7.33),
            Some(6.0),
            Some(8.5),
            Some(5.1),
            Some(32.4),
            vec!["Pluvieux".into(), "Venteux".into(), "Froid".into()],
            10.0
        )
    );
    assert_eq!(x.metrics.conditions.as_deref(), Some("Moderate rain"));
    assert_eq!(x.metrics.source, "open-meteo hourly (4/24 h)");
}

/// Open-Meteo labels every hour with the offset valid when it was fetched (+02:00 here), also
/// after the autumn DST change: 2024-10-27T00:00..2024-10-28T00:00 (+02:00) are the 25 hours of
/// Paris's 2024-10-27 (the last one is 23:00 CET).
#[test]
fn open_meteo_hours_on_the_25_hour_day() {
    let times: Vec<String> = (0..=24)
        .map(|h| {
            let (day, h) = if h == 24 { (28, 0) } else { (27, h) };
            format!("2024-10-{day}T{h:02}:00")
        })
        .collect();
    // temperatures 0.0, 1.0, ..., 24.0 -> mean 12.0; 0.1 mm each -> 2.5 mm (exact)
    let temps: Vec<f64> = (0..=24).map(f64::from).collect();
    let body = serde_json::json!({
        "utc_offset_seconds": 7200,
        "timezone": "Europe/Paris",
        "hourly": {"time": times, "temperature_2m": temps, "precipitation": vec![0.1; 25]},
    });
    let (acc, q) = read_bytes("om.json", body.to_string().as_bytes());
    assert_eq!(totals(&q).rows_read, 25);
    assert_eq!(acc.days().len(), 1);
    let x = m(&acc, "2024-10-27");
    assert_eq!(x.metrics.source, "open-meteo hourly (25/25 h)");
    assert_eq!(x.metrics.temp_moyenne, Some(12.0));
    assert_eq!(x.metrics.precip_totale, Some(2.5));
}

#[test]
fn bad_records_are_rejected_one_by_one() {
    let (acc, q) = read(&fixture("visualcrossing_bad.jsonl"), "bad.jsonl");
    let t = totals(&q);
    // 5 days + 3 bad lines read; only 2025-11-11 is used
    assert_eq!(t.rows_read, 8);
    assert_eq!(t.rejected, 7, "{:?}", t.samples);
    assert_eq!(
        t.rejects,
        BTreeMap::from([
            (Reason::UnparseableDate, 1),
            (Reason::BadNumber, 1),
            (Reason::ValueOutOfRange, 1),
            (Reason::MissingKey, 2),
            (Reason::IngestedNonJson, 1),
            (Reason::BadJson, 1),
        ])
    );
    let all = t.samples.join("\n");
    assert!(
        all.contains("field `precip`: \"abc\" is not a number"),
        "{all}"
    );
    assert!(
        all.contains("field `tempmax`: 99 °C is outside -90..60"),
        "{all}"
    );
    assert!(
        all.contains("Parameter start_date is out of allowed range"),
        "{all}"
    );
    assert!(all.contains("field `datetime`: \"03/11/2025\""), "{all}");
    assert_eq!(acc.days().len(), 1);
    // temp null: (6 + 14) / 2 = 10.0, not Froid (10.0 is not < 10)
    let x = m(&acc, "2025-11-11");
    assert_eq!(x.metrics.temp_moyenne, Some(10.0));
    assert_eq!(x.categories, Vec::<&str>::new());
    assert_eq!(t.missing.get("temp_moyenne"), Some(&1));
}

#[test]
fn other_json_shapes_and_unusable_files() {
    // a bare array of Visual Crossing days, and an OWM daily item in Kelvin (units=standard):
    // 285.15 K = 12 °C, 280.15 K = 7 °C; morn/day/eve/night 281.15, 284.15, 283.15, 282.15
    // -> 8, 11, 10, 9 °C -> mean 9.5 -> Froid; wind 2 m/s = 7.2 km/h; no rain key: 0 mm
    let body = br#"[{"datetime":"2025-11-03","tempmax":15.6,"tempmin":7.3,"temp":11.6,"precip":0.0,"windspeed":15.5},
{"dt":1762340400,"temp":{"min":280.15,"max":285.15,"morn":281.15,"day":284.15,"eve":283.15,"night":282.15},"wind_speed":2.0,"weather":[{"main":"Clouds"}]}]"#;
    let (acc, q) = read_bytes("shapes.json", body);
    let t = totals(&q);
    assert_eq!((t.rows_read, t.rejected), (2, 0), "{:?}", t.samples);
    assert_eq!(m(&acc, "2025-11-03").metrics.temp_moyenne, Some(11.6));
    // 1762340400 = 2025-11-05T11:00Z = 12:00 in Paris
    assert_eq!(
        row(&m(&acc, "2025-11-05")),
        (
            Some(9.5),
            Some(7.0),
            Some(12.0),
            Some(0.0),
            Some(7.2),
            vec!["Froid".into()],
            40.0
        )
    );
    // an empty file and a CSV without a `time` header fail as files, with their rows counted
    let (_, q) = read_bytes("empty.json", b"  \n");
    assert_eq!(totals(&q).files_failed, 1);
    let (_, q) = read_bytes("other.csv", b"date;temp\n2025-11-03;11.6\n");
    let t = totals(&q);
    assert_eq!((t.files_failed, t.rows_read, t.rejected), (1, 2, 2));
    assert_eq!(t.rejects.get(&Reason::MissingColumn), Some(&2));
    // an unknown unit rejects the rows of its table, with the reason
    let body = br#"{"daily_units":{"precipitation_sum":"cm"},"daily":{"time":["2025-11-03"],"temperature_2m_max":[15.0],"precipitation_sum":[1.0]}}"#;
    let (acc, q) = read_bytes("om.json", body);
    let t = totals(&q);
    assert_eq!((t.rows_read, t.rejected), (1, 1));
    assert!(t.samples[0].contains("unit \"cm\" is not one of mm, inch"));
    assert!(acc.is_empty());
}

#[test]
fn priority_between_sources() {
    // Visual Crossing and the Open-Meteo CSV both cover 2025-11-03..06
    let (mut acc, _) = read(&fixture("visualcrossing_paris_2025-11-03.json"), "vc.json");
    let (om, _) = read(&fixture("openmeteo_daily_paris.csv"), "om.csv");
    acc.merge(om);
    for day in ["2025-11-03", "2025-11-04", "2025-11-05"] {
        assert_eq!(
            m(&acc, day).metrics.source,
            "visual-crossing daily",
            "{day}"
        );
        let dd = acc.duplicates(Some(d(day)));
        // the Open-Meteo row is a repeat, and its numbers differ (e.g. 11.05 vs 11.6)
        assert_eq!((dd.count, dd.conflicting), (1, 1), "{day}");
    }
    assert_eq!(m(&acc, "2025-11-03").metrics.temp_moyenne, Some(11.6));
    // 2025-11-06 was rejected in the Visual Crossing file (tempmin > tempmax): Open-Meteo's
    assert_eq!(m(&acc, "2025-11-06").metrics.source, "open-meteo daily");
    assert_eq!(acc.duplicates(Some(d("2025-11-06"))).count, 0);
}

#[test]
fn merge_order_and_file_split_do_not_matter() {
    let files = [
        (fixture("visualcrossing_paris_2025-11-03.json"), "vc.json"),
        (fixture("openmeteo_daily_paris.csv"), "om.csv"),
        (fixture("openmeteo_hourly_daily_imperial.csv"), "imp.csv"),
        (fixture("openmeteo_hourly_ms.json"), "ms.json"),
        (real(OWM), "owm.json"),
    ];
    let accs: Vec<WeatherAcc> = files.iter().map(|(p, r)| read(p, r).0).collect();
    let mut fwd = WeatherAcc::default();
    for a in accs.iter().cloned() {
        fwd.merge(a);
    }
    let mut rev = WeatherAcc::default();
    for a in accs.iter().rev().cloned() {
        rev.merge(a);
    }
    assert_eq!(fwd, rev);
    let idx = ArrondissementIndex::default();
    for day in fwd.days() {
        assert_eq!(metrics(&fwd, day, &idx), metrics(&rev, day, &idx));
        assert_eq!(fwd.duplicates(Some(day)), rev.duplicates(Some(day)));
    }

    // the hourly JSON split in two files (hours 0-1 and 2-4): same metrics, exact sums
    let raw: Value =
        serde_json::from_slice(&std::fs::read(fixture("openmeteo_hourly_ms.json")).unwrap())
            .unwrap();
    let part = |r: std::ops::Range<usize>| {
        let mut v = raw.clone();
        for (_, col) in v["hourly"].as_object_mut().unwrap() {
            let a = col.as_array().unwrap()[r.clone()].to_vec();
            *col = Value::Array(a);
        }
        v.to_string()
    };
    let (mut a, _) = read_bytes("a.json", part(0..2).as_bytes());
    let (b, _) = read_bytes("b.json", part(2..5).as_bytes());
    a.merge(b);
    let (whole, _) = read(&fixture("openmeteo_hourly_ms.json"), "ms.json");
    assert_eq!(m(&a, "2025-11-09"), m(&whole, "2025-11-09"));

    // the same file read twice (two snapshots): every row is a duplicate, none conflicting
    let (mut twice, _) = read(&fixture("openmeteo_daily_paris.csv"), "a/om.csv");
    twice.merge(read(&fixture("openmeteo_daily_paris.csv"), "b/om.csv").0);
    assert_eq!(dup_totals(&twice), (4, 0));
}
