//! The stations file: what the data files do not say about their stations.
//!
//! A CSV with a header, one station a row:
//! `station_id,name,latitude,longitude,elevation,country,timezone,file_match,start_date`.
//! - `timezone` (IANA, e.g. `Europe/Paris`): Weather Underground times are station-local.
//! - `file_match`: a Weather Underground file (workbook, JSON Lines, or the `_ab_source_file_url`
//!   of an Airbyte record) belongs to the station whose `file_match` its name contains
//!   (case-insensitive). Empty for InfoClimat stations, whose files name them.
//! - `start_date` (`YYYY-MM-DD`): the first day of a dateless export of the station (the anchor of
//!   the date reconstruction); `--start-date` overrides it.
//!
//! Numbers are kept as written (`50.659` stays `50.659`).

use std::path::Path;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde_json::Number;

use super::Station;

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub station: Station,
    pub timezone: Option<Tz>,
    pub file_match: Option<String>,
    pub start_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub entries: Vec<Entry>,
}

const COLUMNS: [&str; 9] = [
    "station_id",
    "name",
    "latitude",
    "longitude",
    "elevation",
    "country",
    "timezone",
    "file_match",
    "start_date",
];

fn number(s: &str, what: &str, at: &str) -> Result<Option<Number>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let ok = super::units::Dec::parse(s).is_ok();
    match serde_json::from_str::<Number>(s) {
        Ok(n) if ok => Ok(Some(n)),
        _ => Err(format!("{at}: {what} {s:?} is not a decimal number")),
    }
}

impl Catalog {
    pub fn load(path: &Path) -> Result<Catalog, String> {
        let shown = path.display();
        let bytes = std::fs::read(path).map_err(|e| format!("stations file {shown}: {e}"))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("stations file {shown}: not UTF-8 text"))?;
        Catalog::parse(text.trim_start_matches('\u{feff}'), &shown.to_string())
    }

    pub fn parse(text: &str, shown: &str) -> Result<Catalog, String> {
        let mut r = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header: Vec<String> = r
            .headers()
            .map_err(|e| format!("stations file {shown}: {e}"))?
            .iter()
            .map(str::to_lowercase)
            .collect();
        let idx: Vec<Option<usize>> = COLUMNS
            .iter()
            .map(|c| header.iter().position(|h| h == c))
            .collect();
        if idx[0].is_none() {
            return Err(format!(
                "stations file {shown}: no station_id column (columns: {})",
                COLUMNS.join(",")
            ));
        }
        let mut entries: Vec<Entry> = Vec::new();
        for (i, rec) in r.records().enumerate() {
            let line = i + 2;
            let at = format!("stations file {shown}:{line}");
            let rec = rec.map_err(|e| format!("{at}: {e}"))?;
            let get = |k: usize| {
                idx[k]
                    .and_then(|j| rec.get(j))
                    .unwrap_or("")
                    .trim()
                    .to_string()
            };
            let opt = |k: usize| Some(get(k)).filter(|s| !s.is_empty());
            let id = get(0);
            if id.is_empty() {
                return Err(format!("{at}: empty station_id"));
            }
            if entries.iter().any(|e| e.station.station_id == id) {
                return Err(format!("{at}: station {id} listed twice"));
            }
            let timezone = match opt(6) {
                Some(t) => Some(
                    t.parse::<Tz>()
                        .map_err(|_| format!("{at}: unknown time zone {t:?}"))?,
                ),
                None => None,
            };
            let start_date = match opt(8) {
                Some(d) => Some(
                    NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                        .map_err(|_| format!("{at}: start_date {d:?} is not YYYY-MM-DD"))?,
                ),
                None => None,
            };
            entries.push(Entry {
                station: Station {
                    station_id: id,
                    name: opt(1),
                    latitude: number(&get(2), "latitude", &at)?,
                    longitude: number(&get(3), "longitude", &at)?,
                    elevation: number(&get(4), "elevation", &at)?,
                    country: opt(5),
                },
                timezone,
                file_match: opt(7).map(|m| m.to_lowercase()),
                start_date,
            });
        }
        Ok(Catalog { entries })
    }

    pub fn get(&self, station_id: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.station.station_id == station_id)
    }

    /// The station a Weather Underground file belongs to, by its name.
    pub fn for_file(&self, name: &str) -> Option<&Entry> {
        let base = name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(name)
            .to_lowercase();
        self.entries.iter().find(|e| {
            e.file_match
                .as_ref()
                .is_some_and(|m| !m.is_empty() && base.contains(m.as_str()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches_files() {
        let c = Catalog::parse(
            "station_id,name,latitude,longitude,elevation,country,timezone,file_match,start_date\n\
             ILAMAD25,La Madeleine,50.659,3.07,23,FR,Europe/Paris,la_madeleine,2024-10-01\n\
             07015,Lille-Lesquin,50.575,3.092,47,FR,Europe/Paris,,\n",
            "t.csv",
        )
        .unwrap();
        let e = c.for_file("data/wu_La_Madeleine_FR.xlsx").unwrap();
        assert_eq!(e.station.station_id, "ILAMAD25");
        assert_eq!(e.station.latitude.as_ref().unwrap().to_string(), "50.659");
        assert_eq!(e.station.elevation.as_ref().unwrap().to_string(), "23");
        assert_eq!(e.timezone, Some(chrono_tz::Europe::Paris));
        assert_eq!(e.start_date, NaiveDate::from_ymd_opt(2024, 10, 1));
        assert!(c.for_file("Ichtegem_BE.xlsx").is_none());
        assert_eq!(c.get("07015").unwrap().file_match, None);
    }

    #[test]
    fn errors_name_the_line() {
        let e = Catalog::parse("station_id,timezone\nA,Mars/Olympus\n", "s.csv").unwrap_err();
        assert_eq!(
            e,
            "stations file s.csv:2: unknown time zone \"Mars/Olympus\""
        );
        let e = Catalog::parse("station_id,latitude\nA,north\n", "s.csv").unwrap_err();
        assert!(e.contains("s.csv:2: latitude \"north\""), "{e}");
        let e = Catalog::parse("id\nA\n", "s.csv").unwrap_err();
        assert!(e.contains("no station_id column"), "{e}");
        let e = Catalog::parse("station_id\nA\nA\n", "s.csv").unwrap_err();
        assert!(e.contains("s.csv:3: station A listed twice"), "{e}");
    }
}
