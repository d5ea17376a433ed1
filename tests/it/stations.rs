//! `stations` (weather stations) on the real InfoClimat and Weather Underground files, the
//! Airbyte JSON Lines, dateless exports made from the workbooks, bad input, and the MongoDB /
//! S3 round trip against the test servers. Expected values come from the figures, from
//! hand calculations written here, and from `tests/independent/weather_stations.py` (standard
//! library only, no code shared with the Rust side).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::*;

const WS: &str = "weather-stations";

fn ic_json() -> PathBuf {
    real(&format!("{WS}/infoclimat_Data_Source1_011024-071024.json"))
}
fn ic_airbyte() -> PathBuf {
    real(&format!("{WS}/airbyte_infoclimat.jsonl"))
}
fn lm_xlsx() -> PathBuf {
    real(&format!("{WS}/wu_La_Madeleine_FR.xlsx"))
}
fn ich_xlsx() -> PathBuf {
    real(&format!("{WS}/wu_Ichtegem_BE.xlsx"))
}

fn stations_file() -> PathBuf {
    repo().join("sample/stations/stations.csv")
}

/// Runs `stations` with a clean environment (+ `env`), from a temporary folder.
fn stations(args: &[&str], env: &[(&str, &str)]) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    let mut c = Command::new(crate::support::bin("stations"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("STATIONS_FILE", stations_file())
        .current_dir(cwd.path())
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("stations runs");
    assert_ne!(
        o.status.code(),
        Some(101),
        "stations panicked:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.code().is_some(), "stations killed by a signal");
    o
}

fn p(x: &Path) -> &str {
    x.to_str().unwrap()
}

/// `stations run INPUTS --output OUT --json` -> (exit code, summary, stderr).
fn run(out: &Path, inputs: &[&Path], extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["run", "--output", p(out), "--json"];
    args.extend(inputs.iter().map(|x| p(x)));
    args.extend(extra);
    let o = stations(&args, &[]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("no JSON summary ({e}):\n{err}"));
    (o.status.code().unwrap(), v, err)
}

fn lines_of(out: &Path) -> Vec<Value> {
    String::from_utf8(read(out.join("stations/weather_data.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn report_of(out: &Path) -> Value {
    json(out.join("stations/quality_report_stations.json"))
}

fn find<'a>(docs: &'a [Value], station: &str, ts: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["station"]["station_id"] == station && d["timestamp"] == ts)
        .unwrap_or_else(|| panic!("no document {station} {ts}"))
}

/// Writes a dateless Airbyte JSON Lines export of a workbook (the sheet names dropped).
fn dateless(xlsx: &Path, out: &Path, extra: &[&str]) -> Value {
    let o = Command::new("python3")
        .arg(repo().join("tests/independent/weather_stations.py"))
        .arg("airbyte")
        .arg(xlsx)
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn real_files_give_the_expected_documents() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, s, err) = run(&out, &[&ic_json(), &lm_xlsx(), &ich_xlsx()], &[]);
    assert_eq!(code, 0, "{err}");
    // The figures: 4950 = 1143 InfoClimat + 3807 WU (1908 ILAMAD25 + 1899 IICHTE19).
    assert_eq!(s["run"]["documents"], 4950);
    assert_eq!(s["run"]["per_source"]["infoclimat"], 1143);
    assert_eq!(s["run"]["per_source"]["weather_underground"], 3807);
    assert_eq!(s["run"]["duplicates"], 0);
    let docs = lines_of(&out);
    assert_eq!(docs.len(), 4950);
    let count = |id: &str| {
        docs.iter()
            .filter(|d| d["station"]["station_id"] == id)
            .count()
    };
    assert_eq!((count("ILAMAD25"), count("IICHTE19")), (1908, 1899));
    let no_temp = docs
        .iter()
        .filter(|d| d["measurements"]["temperature_c"].is_null())
        .count();
    assert_eq!(no_temp, 0);
    let keys: std::collections::BTreeSet<(String, String)> = docs
        .iter()
        .map(|d| {
            (
                d["station"]["station_id"].as_str().unwrap().into(),
                d["timestamp"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 4950, "no duplicate (station_id, timestamp)");

    // The first La Madeleine reading, by hand. Sheet 011024, row 3: 00:04 (0.0027777… × 86400 =
    // 240 s) on 2024-10-01 in Paris (UTC+2) = 2024-09-30T22:04:00Z.
    let lm = find(&docs, "ILAMAD25", "2024-09-30T22:04:00Z");
    let m = &lm["measurements"];
    // 56.2 °F: (56.2 − 32) × 5/9 = 24.2 × 5/9 = 13.444… -> 13.44
    assert_eq!(m["temperature_c"], 13.44);
    // 51.3 °F: 19.3 × 5/9 = 10.7222… -> 10.72
    assert_eq!(m["dew_point_c"], 10.72);
    assert_eq!(m["humidity_pct"], 84.0);
    // 29.75 inHg × 33.86388640341 = 1007.4506… -> 1007.45 hPa
    assert_eq!(m["pressure_hpa"], 1007.45);
    // 4.4 mph × 1.609344 = 7.0811136 -> 7.08; gust 10.9 × 1.609344 = 17.5418496 -> 17.54
    assert_eq!(m["wind_speed_kmh"], 7.08);
    assert_eq!(m["wind_gust_kmh"], 17.54);
    // Wind empty in this row: null, not 0.
    assert!(m["wind_direction_deg"].is_null());
    // 0.19 in × 25.4 = 4.826 -> 4.83 mm (accumulated since midnight)
    assert_eq!(m["precip_mm"], 4.83);
    assert_eq!(m["precip_rate_mm_h"], 0.0);
    assert_eq!(
        lm["station"],
        serde_json::json!({"station_id": "ILAMAD25", "name": "La Madeleine", "latitude": 50.659,
                           "longitude": 3.07, "elevation": 23, "country": "FR"})
    );
    assert_eq!(lm["source"], "weather_underground");
    // Its second reading: 00:09, NNW = 15 × 22.5° = 337.5°; 4.02 = 2.5 mph × 1.609344 = 4.02336
    let lm2 = find(&docs, "ILAMAD25", "2024-09-30T22:09:00Z");
    assert_eq!(lm2["measurements"]["wind_direction_deg"], 337.5);
    assert_eq!(lm2["measurements"]["wind_speed_kmh"], 4.02);
    // The last Ichtegem reading: sheet 071024, 14:49 in Brussels (UTC+2) = 12:49Z.
    let last = docs
        .iter()
        .rfind(|d| d["station"]["station_id"] == "IICHTE19")
        .unwrap();
    assert_eq!(last["timestamp"], "2024-10-07T12:49:00Z");
    assert_eq!(last["station"]["country"], "BE");
    // InfoClimat 07015, first record: values kept as written, all 13 fields, "" and null -> null.
    let ic = find(&docs, "07015", "2024-10-05T00:00:00Z");
    assert_eq!(
        ic["measurements"],
        serde_json::json!({"temperature_c": 7.6, "dew_point_c": 5.9, "humidity_pct": 89.0,
            "pressure_hpa": 1020.7, "wind_speed_kmh": 3.6, "wind_gust_kmh": 7.2,
            "wind_direction_deg": 90.0, "precip_1h_mm": 0.0, "precip_3h_mm": 0.0,
            "visibility_m": 6000.0, "snow_depth_cm": null, "cloud_cover_octas": null,
            "weather_code": null})
    );
    // A static station has no visibility, snow, cloud cover nor weather code: absent, not null.
    let st = find(&docs, "00052", "2024-10-05T00:00:00Z");
    assert!(st["measurements"].get("visibility_m").is_none());
    assert_eq!(st["measurements"]["pressure_hpa"], 1019.1);

    // Every document against the independent Python reading of the same files.
    let py = python(
        "weather_stations.py",
        &[
            Path::new("expected"),
            &ic_json(),
            Path::new(&format!("{}=ILAMAD25=Europe/Paris", p(&lm_xlsx()))),
            Path::new(&format!("{}=IICHTE19=Europe/Brussels", p(&ich_xlsx()))),
        ],
    );
    let expected: BTreeMap<(String, String), (Value, Value)> = py["docs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                (d[1].as_str().unwrap().into(), d[2].as_str().unwrap().into()),
                (d[0].clone(), d[3].clone()),
            )
        })
        .collect();
    let got: BTreeMap<(String, String), (Value, Value)> = docs
        .iter()
        .map(|d| {
            (
                (
                    d["station"]["station_id"].as_str().unwrap().into(),
                    d["timestamp"].as_str().unwrap().into(),
                ),
                (d["source"].clone(), d["measurements"].clone()),
            )
        })
        .collect();
    assert_eq!(expected.len(), 4950);
    let differ: Vec<_> = expected
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .take(3)
        .collect();
    assert!(differ.is_empty(), "differ from Python: {differ:?}");

    // The quality report.
    let r = report_of(&out);
    assert_eq!(r["generated_at"], "2025-11-21T03:20:00Z");
    assert_eq!(r["totals"]["records_read"], 4950);
    assert_eq!(r["totals"]["error_rate_pct"], 0.0);
    assert_eq!(r["per_source"]["weather_underground"]["ILAMAD25"], 1908);
    assert_eq!(r["missing_critical"]["temperature_c"], 0);
    assert_eq!(r["duplicates"]["identical"], 0);
    let dates = r["dates"].as_array().unwrap();
    assert_eq!(dates.len(), 2);
    for d in dates {
        assert_eq!(d["method"], "sheet names (DDMMYY)");
        assert_eq!(d["first_date"], "2024-10-01");
        assert_eq!(d["last_date"], "2024-10-07");
        // Every row after the first is cross-checked against the reconstruction.
        assert_eq!(d["cross_check_mismatches"], 0);
        assert_eq!(d["day_changes"], 6);
    }
    assert!(err.contains("ILAMAD25"), "{err}");

    // Same inputs, same bytes; in another order, the same documents.
    let out2 = dir.path().join("out2");
    run(&out2, &[&ic_json(), &lm_xlsx(), &ich_xlsx()], &[]);
    assert!(all_files(&out) == all_files(&out2), "a second run differs");
    let out3 = dir.path().join("out3");
    run(&out3, &[&ich_xlsx(), &lm_xlsx(), &ic_json()], &[]);
    assert!(
        read(out.join("stations/weather_data.jsonl"))
            == read(out3.join("stations/weather_data.jsonl")),
        "the input order changes the documents"
    );
}

#[test]
fn airbyte_infoclimat_gives_the_same_documents_as_the_raw_json() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, both) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    assert_eq!(run(&a, &[&ic_json()], &[]).0, 0);
    let (code, s, err) = run(&b, &[&ic_airbyte()], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["run"]["documents"], 1143);
    assert_eq!(
        read(a.join("stations/weather_data.jsonl")),
        read(b.join("stations/weather_data.jsonl"))
    );
    // Both at once: every record twice, the same content: duplicates, not errors.
    let (code, s, _) = run(&both, &[&ic_json(), &ic_airbyte()], &[]);
    assert_eq!(code, 0);
    assert_eq!(s["run"]["documents"], 1143);
    assert_eq!(s["run"]["duplicates"], 1143);
    let r = report_of(&both);
    assert_eq!(r["duplicates"]["identical"], 1143);
    assert_eq!(r["duplicates"]["conflicting"], 0);
    assert!(r["duplicates"]["samples"][0]
        .as_str()
        .unwrap()
        .contains("(same content)"));
}

#[test]
fn dateless_json_lines_rebuild_the_workbook_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let (lm, ich) = (dir.path().join("lm.jsonl"), dir.path().join("ich.jsonl"));
    let g = dateless(&lm_xlsx(), &lm, &[]);
    // 7 sheets: 7 blank records + 1908 rows.
    assert_eq!(g["lines"], 1915);
    dateless(&ich_xlsx(), &ich, &[]);
    let from_xlsx = dir.path().join("x");
    let from_jsonl = dir.path().join("j");
    assert_eq!(run(&from_xlsx, &[&lm_xlsx(), &ich_xlsx()], &[]).0, 0);
    let (code, s, err) = run(&from_jsonl, &[&lm, &ich], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["run"]["documents"], 3807);
    assert_eq!(
        read(from_xlsx.join("stations/weather_data.jsonl")),
        read(from_jsonl.join("stations/weather_data.jsonl")),
        "the same documents, timestamps included"
    );
    let r = report_of(&from_jsonl);
    let d = &r["dates"][0];
    assert_eq!(d["station_id"], "ILAMAD25");
    assert_eq!(
        d["method"],
        "reconstructed from the times wrapping back past midnight"
    );
    assert_eq!(
        d["anchor"],
        "2024-10-01 (stations file start_date of ILAMAD25)"
    );
    assert_eq!(
        (&d["day_changes"], &d["blank_records"], &d["days"]),
        (&Value::from(6), &Value::from(7), &Value::from(7))
    );

    // The flag wins over the stations file: every La Madeleine instant one day later.
    let shifted = dir.path().join("s");
    let (code, _, _) = run(&shifted, &[&lm], &["--start-date", "ILAMAD25=2024-10-02"]);
    assert_eq!(code, 0);
    let a = lines_of(&from_jsonl);
    let b = lines_of(&shifted);
    assert_eq!(b.len(), 1908);
    let day = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    let lm_a: Vec<&Value> = a
        .iter()
        .filter(|d| d["station"]["station_id"] == "ILAMAD25")
        .collect();
    assert!(lm_a
        .iter()
        .zip(&b)
        .all(|(x, y)| day(y) - day(x) == 86_400 && x["measurements"] == y["measurements"]));
    assert_eq!(
        report_of(&shifted)["dates"][0]["anchor"],
        "2024-10-02 (flag --start-date ILAMAD25=2024-10-02)"
    );

    // A Date column is used and cross-checked: one wrong date (data row 300 from 0: sheet 021024,
    // its 13th row, 01:04) is reported and used; the reconstruction follows the dates given, so
    // the next row disagrees too (2 mismatches for one wrong value, 1 for a real gap).
    let dated = dir.path().join("dated.jsonl");
    dateless(
        &lm_xlsx(),
        &dated,
        &["--date-column", "--wrong-date", "300"],
    );
    let out = dir.path().join("d");
    let (code, _, _) = run(&out, &[&dated], &[]);
    assert_eq!(code, 1, "a date disagreement is not clean");
    let r = report_of(&out);
    let d = &r["dates"][0];
    assert_eq!(d["method"], "date column");
    assert_eq!(d["cross_checked"], 1907);
    assert_eq!(d["cross_check_mismatches"], 2);
    // Line 1 blank, 2..289 the 288 rows of sheet 1, 290 blank: data row 300 is line 303.
    let w = d["warnings"][0].as_str().unwrap();
    assert_eq!(
        w,
        format!(
            "{}:303: date column says 2024-10-03, the reconstruction 2024-10-02: 2024-10-03 is used",
            p(&dated)
        )
    );
    let w = d["warnings"][1].as_str().unwrap();
    assert!(
        w.starts_with(&format!("{}:304: date column says 2024-10-02", p(&dated))),
        "{w}"
    );
    let docs = lines_of(&out);
    // 01:04 local on the (wrong) 2024-10-03 = 2024-10-02T23:04:00Z, next to 2024-10-01T23:09Z.
    assert_eq!(docs[299 + 1]["timestamp"], "2024-10-01T23:09:00Z");
    assert!(docs
        .iter()
        .any(|d| d["timestamp"] == "2024-10-02T23:04:00Z"));
}

#[test]
fn bad_input_is_reported_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let fx = repo().join("tests/fixtures/stations");
    let out = dir.path().join("out");
    let (code, s, _) = run(
        &out,
        &[
            &fx.join("infoclimat_quirks.json"),
            &fx.join("wu_quirks.jsonl"),
        ],
        &[],
    );
    assert_eq!(code, 1);
    let docs = lines_of(&out);
    let keys: Vec<String> = docs
        .iter()
        .map(|d| format!("{} {}", d["station"]["station_id"], d["timestamp"]))
        .collect();
    assert_eq!(
        keys,
        vec![
            "\"07015\" \"2024-10-05T00:00:00Z\"",
            "\"07015\" \"2024-10-05T01:00:00Z\"",
            "\"99999\" \"2024-10-05T00:00:00Z\"",
            // 11:58 PM on the anchor 2024-10-01 in Paris (UTC+2)
            "\"ILAMAD25\" \"2024-10-01T21:58:00Z\"",
            // 12:03 AM after a blank record and a time going back: 2024-10-02 00:03 local
            "\"ILAMAD25\" \"2024-10-01T22:03:00Z\"",
            "\"ILAMAD25\" \"2024-10-01T22:08:00Z\"",
        ]
    );
    let m = |i: usize| &docs[i]["measurements"];
    // "1O.5" (a letter O) is not a number: null, counted; the unknown field is kept.
    assert!(m(1)["temperature_c"].is_null());
    assert_eq!(m(1)["cloud_cover_octas"], 8.0);
    assert_eq!(m(1)["weather_code"], 61);
    assert_eq!(m(1)["humidex"], 7.0);
    // A station neither in the file's stations nor in the stations file: kept, unnamed.
    assert!(docs[2]["station"]["name"].is_null());
    // 50 °F = 10 °C; 29.92 inHg × 33.86388640341 = 1013.2074… -> 1013.21
    assert_eq!(m(3)["temperature_c"], 10.0);
    assert_eq!(m(3)["pressure_hpa"], 1013.21);
    // "1013.2 hPa" kept as written; "abc °F" and "Calm" unreadable -> null.
    assert_eq!(m(4)["pressure_hpa"], 1013.2);
    assert!(m(4)["temperature_c"].is_null() && m(4)["wind_direction_deg"].is_null());
    // "85" without its % is fine; "29.92" without a unit is not; West = 270°.
    assert_eq!(m(5)["humidity_pct"], 85.0);
    assert!(m(5)["pressure_hpa"].is_null());
    assert_eq!(m(5)["wind_direction_deg"], 270.0);

    let r = report_of(&out);
    let t = &r["totals"];
    // read: 5 InfoClimat + 5 WU + 1 unreadable line; problems: IC 3 (1 value, 2 records), WU 4
    // (2 rows with bad values, 2 refused), the line 1: 8 / 11 = 72.727… % -> 72.73
    assert_eq!(t["records_read"], 11);
    assert_eq!(t["documents"], 6);
    assert_eq!(t["records_rejected"], 5);
    assert_eq!(t["values_unparseable"], 5);
    assert_eq!(t["records_with_problems"], 8);
    assert_eq!(t["error_rate_pct"], 72.73);
    assert_eq!(s["run"]["error_rate_pct"], 72.73);
    assert_eq!(r["missing_critical"]["temperature_c"], 3);
    assert_eq!(r["missing_critical"]["humidity_pct"], 1);
    let ic = p(&fx.join("infoclimat_quirks.json")).to_string();
    let wu = p(&fx.join("wu_quirks.jsonl")).to_string();
    let samples: Vec<&str> = r["rejected"]["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    for want in [
        format!("{ic}: hourly.07015[2]: bad dh_utc: \"05/10/2024 02:00\""),
        format!("{ic}: hourly.07015[3]: station mismatch"),
        format!("{wu}:6: not JSON"),
        format!("{wu}:7: unknown station"),
        format!("{wu}:8: bad time: \"half past\" is not a time"),
    ] {
        assert!(
            samples.iter().any(|x| x.starts_with(&want)),
            "{want} in {samples:?}"
        );
    }
    let un: Vec<&str> = r["unparseable"]["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(un.contains(
        &format!("{ic}: hourly.07015[1]: temperature: \"1O.5\": not a decimal number").as_str()
    ));
    assert!(un.contains(&format!("{wu}:4: Wind: \"Calm\": not a compass direction").as_str()));
    assert!(
        un.contains(&format!("{wu}:5: Temperature: \"10.5 K\": unexpected unit \"K\"").as_str())
    );
    assert!(un.contains(&format!("{wu}:5: Pressure: \"29.92\": number without its unit").as_str()));
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains("station 99999 is not in `stations`"),
        "{warnings}"
    );
    assert!(warnings.contains("\\\"humidex\\\""), "{warnings}");

    // Garbage never panics: each file is reported, the run goes on.
    let junk = tree(&[
        ("junk/a.xlsx", b"PK\x03\x04 not really a zip".to_vec()),
        ("junk/b.json", b"{\"hourly\": [".to_vec()),
        ("junk/c.jsonl", vec![0xff, 0xfe, b'\n', b'{', b'}']),
        ("junk/d.json", b"[1, 2, 3]".to_vec()),
        ("junk/notes.txt", b"ignored".to_vec()),
    ]);
    let out = dir.path().join("junk");
    let (code, s, _) = run(&out, &[&junk.path().join("junk")], &[]);
    assert_eq!(code, 1);
    assert_eq!(s["run"]["inputs"], 4);
    assert_eq!(s["run"]["documents"], 0);
    let r = report_of(&out);
    let inputs = r["inputs"].as_array().unwrap();
    assert!(inputs[0]["error"]
        .as_str()
        .unwrap()
        .contains("not a readable .xlsx"));
    assert!(inputs[1]["error"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    assert!(inputs[3]["error"]
        .as_str()
        .unwrap()
        .contains("no `hourly` object"));
    assert_eq!(r["rejected"]["by_reason"]["not JSON"], 1);
}

#[test]
fn usage_errors_and_an_unreachable_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let code = |o: Output| o.status.code().unwrap();
    assert_eq!(code(stations(&["run", "/nonexistent/input.json"], &[])), 2);
    assert_eq!(
        code(stations(
            &["run", p(&ic_json()), "--stations", "/nonexistent.csv"],
            &[]
        )),
        2
    );
    assert_eq!(
        code(stations(
            &["run", p(&ic_json()), "--start-date", "01/10/2024"],
            &[]
        )),
        2
    );
    assert_eq!(code(stations(&["run", p(&stations_file())], &[])), 2);
    assert_eq!(code(stations(&["frobnicate"], &[])), 2);
    // Nothing listens on port 9: exit 3, the files are written all the same, no password shown.
    let o = stations(
        &[
            "run",
            p(&ic_json()),
            "--output",
            p(&out),
            "--backend",
            "mongo",
        ],
        &[(
            "MONGODB_URL",
            "mongodb://user:s3cret@127.0.0.1:9/?connectTimeoutMS=500&serverSelectionTimeoutMS=500",
        )],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("MongoDB unreachable"), "{err}");
    assert!(err.contains("***@127.0.0.1:9"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    assert_eq!(lines_of(&out).len(), 1143);
}

// ---------------------------------------------------------------- MongoDB and S3 (test servers)

fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through scripts/test.sh, which starts the servers")
    })
}

fn unique(test: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000_000;
    format!("it-{test}-{}-{n}", std::process::id())
}

fn server_env(db: &str, bucket: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MONGODB_URL", env_var("CITYFLOW_TEST_MONGODB_URL")),
        ("MONGODB_DATABASE", db.to_string()),
        ("AWS_ACCESS_KEY_ID", env_var("CITYFLOW_TEST_S3_KEY")),
        ("AWS_SECRET_ACCESS_KEY", env_var("CITYFLOW_TEST_S3_SECRET")),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL_S3", env_var("CITYFLOW_TEST_S3_ENDPOINT")),
        ("S3_BACKUP_BUCKET", bucket.to_string()),
    ]
}

fn with_env(args: &[&str], env: &[(&'static str, String)]) -> (i32, Value, String) {
    let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut a = args.to_vec();
    a.push("--json");
    let o = stations(&a, &e);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|x| panic!("no JSON summary ({x}):\n{err}"));
    (o.status.code().unwrap(), v, err)
}

fn s3_client() -> aws_sdk_s3::Client {
    let o = cityflow_cloud::aws::options::AwsOptions {
        region: "us-east-1".into(),
        s3_endpoint: Some(env_var("CITYFLOW_TEST_S3_ENDPOINT")),
        path_style: true,
        s3_checksums: true,
        static_credentials: Some((
            env_var("CITYFLOW_TEST_S3_KEY"),
            env_var("CITYFLOW_TEST_S3_SECRET"),
        )),
        ..Default::default()
    };
    rt().block_on(cityflow_cloud::aws::client::clients(&o)).s3
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn mongo_import_reimport_and_verify() {
    let db = unique("stations").replace('-', "_");
    let bucket: String = unique("stations").chars().take(60).collect();
    let env = server_env(&db, &bucket);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let inputs = [ic_json(), lm_xlsx(), ich_xlsx()];
    let mut args = vec!["run", "--output", p(&out), "--backend", "mongo"];
    args.extend(inputs.iter().map(|x| p(x)));

    // Import.
    let (code, s, err) = with_env(&args, &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["import"]["created"], 4950);
    let v = &s["verification"];
    assert_eq!(v["documents"], 4950);
    assert_eq!(v["per_source"]["infoclimat"], 1143);
    assert_eq!(v["per_station"]["ILAMAD25"], 1908);
    assert_eq!(v["per_station"]["IICHTE19"], 1899);
    assert_eq!(v["duplicates"], 0);
    assert_eq!(v["without"]["temperature_c"], 0);
    assert_eq!(v["unique_index"], true);
    assert!(err.contains("post-import verification"), "{err}");
    assert!(err.contains("documents without temperature_c"), "{err}");
    // The timed query: the busiest station (ILAMAD25, 1908 > 1899) on its fullest UTC day (the
    // earliest of the full ones), its documents counted here from the file's lines: UTC
    // 2024-10-01 is 02:00 local on 10-01 to 01:59 on 10-02, 24 h of 5-minute readings = 288.
    let file = String::from_utf8(read(out.join("stations/weather_data.jsonl"))).unwrap();
    let t = &s["timed_query"];
    let day = t["date"].as_str().unwrap();
    let expected = file
        .lines()
        .filter(|l| {
            l.contains("\"station_id\":\"ILAMAD25\"")
                && l.contains(&format!("\"timestamp\":\"{day}T"))
        })
        .count();
    assert_eq!(t["station_id"], "ILAMAD25");
    assert_eq!(t["documents"], expected as u64);
    assert_eq!(expected, 288);
    assert_eq!(t["index_used"], true, "{t}");
    assert!(t["median_ms"].as_f64().unwrap() > 0.0);

    // Re-import: nothing written, the same counts.
    let (code, s, _) = with_env(&args, &env);
    assert_eq!(code, 0);
    assert_eq!(
        (
            &s["import"]["created"],
            &s["import"]["replaced"],
            &s["import"]["unchanged"]
        ),
        (&Value::from(0), &Value::from(0), &Value::from(4950))
    );
    assert_eq!(s["verification"]["documents"], 4950);

    // `verify` on its own, against the file.
    let (code, s, _) = with_env(
        &[
            "verify",
            "--expect",
            &format!("{}", out.join("stations/weather_data.jsonl").display()),
        ],
        &env,
    );
    assert_eq!(code, 0);
    assert_eq!(s["verification"]["expected"], 4950);
    assert_eq!(s["verification"]["ok"], true);
    drop_db(&db);
}

fn drop_db(db: &str) {
    cityflow::store::mongo::connect_database(
        &env_var("CITYFLOW_TEST_MONGODB_URL"),
        db,
        std::time::Duration::from_secs(5),
    )
    .unwrap()
    .drop()
    .run()
    .unwrap();
}

/// The round trip on the InfoClimat file (1143 documents: the server inserts slowly).
#[test]
fn backup_and_restore_round_trip() {
    let db = unique("stbackup").replace('-', "_");
    let bucket: String = unique("stbackup").chars().take(60).collect();
    let env = server_env(&db, &bucket);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, _, err) = with_env(
        &[
            "run",
            "--output",
            p(&out),
            "--backend",
            "mongo",
            p(&ic_json()),
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let file = String::from_utf8(read(out.join("stations/weather_data.jsonl"))).unwrap();

    // Backup: the gzip object is exactly the file.
    let (code, s, err) = with_env(&["backup", "--create-bucket"], &env);
    assert_eq!(code, 0, "{err}");
    let key = s["backup"]["key"].as_str().unwrap().to_string();
    assert_eq!(key, "backups/weather_data_20251121T032000Z.jsonl.gz");
    let c = s3_client();
    let obj = rt()
        .block_on(cityflow_cloud::aws::s3::get(&c, &bucket, &key))
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(s["backup"]["compressed_bytes"], obj.len() as u64);
    assert_eq!(
        cityflow_cloud::stations::backup::gunzip(&obj).unwrap(),
        file.as_bytes()
    );
    let manifest: Value = serde_json::from_slice(
        &rt()
            .block_on(cityflow_cloud::aws::s3::get(
                &c,
                &bucket,
                "backups/weather_data_20251121T032000Z.manifest.json",
            ))
            .unwrap()
            .unwrap()
            .0,
    )
    .unwrap();
    assert_eq!(manifest["documents"], 1143);
    assert_eq!(manifest["per_station"]["STATIC0010"], 361);

    // The collection damaged: one value edited, one station's 60 documents deleted, a stray
    // document added. Restoring (the latest backup) without --drop puts back what the backup
    // has (60 created, 1 replaced, 1143 − 61 = 1082 unchanged) but the stray document stays:
    // not an exact copy, exit 4.
    let coll = cityflow_cloud::stations::mongo::WeatherCollection::connect(
        &env_var("CITYFLOW_TEST_MONGODB_URL"),
        &db,
        "weather_data",
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    use mongodb::bson::doc;
    coll.coll
        .update_one(
            doc! {"station.station_id": "00052", "timestamp": "2024-10-05T00:00:00Z"},
            doc! {"$set": {"measurements.temperature_c": 99.9}},
        )
        .run()
        .unwrap();
    let gone = coll
        .coll
        .delete_many(doc! {"station.station_id": "07015"})
        .run()
        .unwrap();
    assert_eq!(gone.deleted_count, 60);
    coll.coll
        .insert_one(doc! {"source": "x", "station": {"station_id": "ZZZ"}, "timestamp": "t"})
        .run()
        .unwrap();
    let (code, s, _) = with_env(&["restore"], &env);
    assert_eq!(code, 4);
    let r = &s["restore"];
    assert_eq!(r["key"], key.as_str());
    assert_eq!(r["documents_in_backup"], 1143);
    assert_eq!(
        (
            &r["import"]["created"],
            &r["import"]["replaced"],
            &r["import"]["unchanged"]
        ),
        (&Value::from(60), &Value::from(1), &Value::from(1082))
    );
    assert_eq!(r["identical"], false);
    assert_eq!(r["verification"]["documents"], 1144);
    assert!(s["messages"][0].as_str().unwrap().contains("--drop"), "{s}");

    // With --drop: exactly the backup again, the unique index recreated, verified.
    let (code, s, err) = with_env(&["restore", "--drop"], &env);
    assert_eq!(code, 0, "{err}");
    let r = &s["restore"];
    assert_eq!(r["import"]["created"], 1143);
    assert_eq!(r["identical"], true);
    assert_eq!(r["verification"]["documents"], 1143);
    assert_eq!(r["verification"]["per_station"]["07015"], 60);
    assert_eq!(r["verification"]["duplicates"], 0);
    assert_eq!(r["verification"]["unique_index"], true);
    assert!(err.contains("post-import verification"), "{err}");
    assert_eq!(coll.export_lines().unwrap().join("\n") + "\n", file);

    // A damaged backup is refused before anything is loaded.
    let mut bad = obj.clone();
    let n = bad.len() / 2;
    bad[n] ^= 0x55;
    rt().block_on(cityflow_cloud::aws::s3::put_bytes(
        &c,
        &cityflow_cloud::aws::s3::Object::new(&bucket, &key, "application/gzip"),
        &bad,
        true,
    ))
    .unwrap();
    let (code, s, _) = with_env(&["restore", "--key", &key], &env);
    assert_eq!(code, 4);
    assert!(
        s["messages"][0]
            .as_str()
            .unwrap()
            .contains("SHA-256 differs"),
        "{s}"
    );

    coll.db.drop().run().unwrap();
    rt().block_on(async {
        for k in [key.clone(), key.replace(".jsonl.gz", ".manifest.json")] {
            c.delete_object()
                .bucket(&bucket)
                .key(k)
                .send()
                .await
                .unwrap();
        }
        c.delete_bucket().bucket(&bucket).send().await.unwrap();
    });
}
