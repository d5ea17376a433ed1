//! Airbyte S3-destination JSON Lines: `{"_airbyte_raw_id", "_airbyte_extracted_at",
//! "_airbyte_meta", "_airbyte_generation_id", "_airbyte_data": {...}}` one record a line (the
//! older `_airbyte_ab_id` / `_airbyte_emitted_at` envelope too, and plain JSON Lines without an
//! envelope).
//!
//! - A record whose data has `hourly` is a whole InfoClimat object (Airbyte's JSON source gives
//!   one line for the whole file): read as [`super::infoclimat`] reads the raw file.
//! - Any other object is one Weather Underground row (Airbyte's file source gives one line per
//!   sheet row, every sheet concatenated, **without the sheet name**, the blank row 2 of each
//!   sheet as an all-null record). Its station comes from the record's `_ab_source_file_url`,
//!   else from the JSON Lines file's own name, through the stations file's `file_match`. Rows
//!   are grouped by station, in order, and dated by [`super::wunderground::resolve`].
//! - Changes Airbyte reports in `_airbyte_meta.changes` (values nullified or truncated) are
//!   listed in the report's warnings.

use std::path::Path;

use serde_json::Value as Json;

use super::catalog::{Catalog, Entry};
use super::quality::Collector;
use super::wunderground::{self, Cell, Col, RawRow};
use super::{infoclimat, Found, StartDates};

/// Records that are neither InfoClimat nor Weather Underground.
const UNKNOWN: &str = "unrecognised";

fn reject_line(q: &mut Collector, loc: &str, reason: &str, detail: &str) {
    q.begin(UNKNOWN);
    q.reject(UNKNOWN, loc, reason, detail);
    q.end(UNKNOWN);
}

/// The Weather Underground row of one record, or why it is not one.
fn wu_row(data: &serde_json::Map<String, Json>, loc: String, q: &mut Collector) -> Option<RawRow> {
    let mut row = RawRow {
        loc,
        ..Default::default()
    };
    for (k, v) in data {
        if k.starts_with('_') {
            continue;
        }
        let Some(col) = Col::of(k) else {
            q.warn(format!(
                "JSON Lines field {k:?} is not a Weather Underground column: ignored"
            ));
            continue;
        };
        let cell = match v {
            Json::Null => None,
            Json::String(s) if s.trim().is_empty() => None,
            Json::String(s) => Some(Cell::Text(s.clone())),
            // A number in Time or Date is an Excel serial; elsewhere its exact text is read.
            Json::Number(n) if matches!(col, Col::Time | Col::Date) => n.as_f64().map(Cell::Num),
            other => Some(Cell::Text(other.to_string())),
        };
        row.cells.insert(col, cell);
    }
    (!row.cells.is_empty()).then_some(row)
}

pub fn read_file(
    path: &Path,
    shown: &str,
    catalog: &Catalog,
    starts: &StartDates,
    q: &mut Collector,
    out: &mut Found,
) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let file_name = super::file_name(path);
    // Weather Underground rows per station, in the order first seen.
    let mut streams: Vec<(&Entry, Vec<RawRow>)> = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let loc = format!("{shown}:{}", i + 1);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let v: Json = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => {
                reject_line(q, &loc, "not JSON", &e.to_string());
                continue;
            }
        };
        let data = match v.get("_airbyte_data") {
            Some(d) => {
                if let Some(ch) = v
                    .pointer("/_airbyte_meta/changes")
                    .and_then(Json::as_array)
                    .filter(|c| !c.is_empty())
                {
                    q.warn(format!(
                        "{loc}: Airbyte reports changes to this record: {}",
                        Json::Array(ch.clone())
                    ));
                }
                d
            }
            None => &v,
        };
        let Some(obj) = data.as_object() else {
            reject_line(q, &loc, "not a record", "expected a JSON object");
            continue;
        };
        if obj.contains_key("hourly") {
            // Errors are reported inside (the object is still skipped whole).
            let _ = infoclimat::read_object(data, &loc, catalog, q, out);
            continue;
        }
        let source_file = obj
            .get("_ab_source_file_url")
            .and_then(Json::as_str)
            .map(str::to_string);
        let Some(row) = wu_row(obj, loc.clone(), q) else {
            reject_line(
                q,
                &loc,
                "unrecognised record",
                "neither an InfoClimat object (hourly) nor a Weather Underground row",
            );
            continue;
        };
        let entry = source_file
            .as_deref()
            .and_then(|f| catalog.for_file(f))
            .or_else(|| catalog.for_file(&file_name));
        let Some(entry) = entry else {
            let name = source_file.as_deref().unwrap_or(&file_name);
            let why = wunderground::no_station(name);
            wunderground::reject_rows(q, &[row], "unknown station", &why);
            continue;
        };
        match streams
            .iter_mut()
            .find(|(e, _)| e.station.station_id == entry.station.station_id)
        {
            Some((_, rows)) => rows.push(row),
            None => streams.push((entry, vec![row])),
        }
    }
    for (entry, rows) in streams {
        wunderground::resolve(shown, entry, starts.anchor(entry), rows, q, out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::parse(
            "station_id,name,timezone,file_match,start_date\n\
             ILAMAD25,La Madeleine,Europe/Paris,la_madeleine,2024-10-01\n",
            "t",
        )
        .unwrap()
    }

    #[test]
    fn envelopes_blank_rows_and_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("export.jsonl");
        let rec = |data: &str| {
            format!(
                r#"{{"_airbyte_raw_id":"x","_airbyte_extracted_at":1,"_airbyte_meta":{{"changes":[]}},"_airbyte_data":{data}}}"#
            )
        };
        let lines = [
            rec(r#"{"Time":null,"Temperature":null,"_ab_source_file_url":"La_Madeleine_FR.xlsx"}"#),
            rec(r#"{"Time":"00:04:00","Temperature":"56.2 °F","_ab_source_file_url":"La_Madeleine_FR.xlsx"}"#),
            "not json".to_string(),
            rec(r#"{"Time":"00:09:00","Temperature":"56.3 °F","_ab_source_file_url":"Other.xlsx"}"#),
            r#"{"Time":"00:14:00","Temperature":"56.4 °F","_ab_source_file_url":"La_Madeleine_FR.xlsx"}"#.to_string(),
            rec(r#"{"foo":1}"#),
        ];
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        let mut q = Collector::default();
        let mut found = Found::default();
        read_file(
            &p,
            "e.jsonl",
            &catalog(),
            &StartDates::default(),
            &mut q,
            &mut found,
        )
        .unwrap();
        let (out, locs) = (found.docs, found.locs);
        let ts: Vec<String> = out.iter().map(|d| d.timestamp_text()).collect();
        assert_eq!(ts, vec!["2024-09-30T22:04:00Z", "2024-09-30T22:14:00Z"]);
        assert_eq!(locs, vec!["e.jsonl:2", "e.jsonl:5"]);
        assert_eq!(q.sources[UNKNOWN].records_rejected, 2);
        assert_eq!(q.sources[wunderground::SOURCE].records_rejected, 1);
        assert!(q.rejected_samples[0].starts_with("e.jsonl:3: not JSON"));
        assert!(q.rejected_samples[1].contains("e.jsonl:4: unknown station"));
        assert!(q.rejected_samples[2].starts_with("e.jsonl:6: unrecognised record"));
        assert_eq!(q.dates[0].blank_records, 1);
        assert_eq!(
            q.dates[0].anchor.as_deref(),
            Some("2024-10-01 (stations file start_date of ILAMAD25)")
        );
    }
}
