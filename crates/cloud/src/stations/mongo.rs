//! The `weather_data` collection: idempotent import keyed on (station_id, timestamp), the
//! post-import verification, the timed query, and the export the backup uses.
//!
//! - A unique index `station_id_timestamp_unique` on `{station.station_id: 1, timestamp: 1}`.
//! - Documents are stored exactly as the JSON Lines file holds them (plus `_id`): the timestamp
//!   is the fixed-width UTC text `YYYY-MM-DDTHH:MM:SSZ`, which sorts and ranges like the instant.
//! - Import, per chunk of one station's documents: the stored ones are read; new keys are
//!   inserted, changed ones replaced (upsert), identical ones left alone. A re-run writes nothing.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::IndexOptions;
use mongodb::sync::{Collection, Database};
use mongodb::IndexModel;
use serde::Serialize;
use serde_json::Value as Json;

use super::CRITICAL;
use cityflow::store::mongo::{connect_database, redact};

pub const INDEX: &str = "station_id_timestamp_unique";
const CHUNK: usize = 1000;

pub struct WeatherCollection {
    pub db: Database,
    pub coll: Collection<Document>,
    pub name: String,
    /// `mongodb <db>.<collection> at <url without password>`.
    pub shown: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ImportStats {
    pub documents: u64,
    pub created: u64,
    pub replaced: u64,
    pub unchanged: u64,
    pub elapsed_ms: u128,
    pub docs_per_s: f64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Verification {
    pub collection: String,
    pub documents: u64,
    /// Documents the caller expected (the file's), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<u64>,
    pub per_source: BTreeMap<String, u64>,
    pub per_station: BTreeMap<String, u64>,
    /// Documents beyond the first of each (station_id, timestamp).
    pub duplicates: u64,
    /// Documents without each critical value (absent or null).
    pub without: BTreeMap<String, u64>,
    pub unique_index: bool,
    pub ok: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct QueryTiming {
    pub station_id: String,
    /// The UTC day queried.
    pub date: String,
    pub filter: String,
    pub documents: u64,
    pub runs: usize,
    pub first_ms: f64,
    pub median_ms: f64,
    pub index: &'static str,
    /// The server's winning plan (`FETCH > IXSCAN station_id_timestamp_unique`).
    pub plan: String,
    /// The plan scans the unique index.
    pub index_used: bool,
}

fn e(what: &str, x: impl std::fmt::Display) -> String {
    // A driver's text may quote a URL.
    format!("{what}: {}", cityflow::shown::text(&x.to_string(), &[]))
}

/// The BSON of a document line (numbers: integers as Int32/Int64, others Double).
pub fn to_bson(v: &Json) -> Result<Document, String> {
    match Bson::try_from(v.clone()) {
        Ok(Bson::Document(d)) => Ok(d),
        Ok(_) => Err("not a JSON object".into()),
        Err(x) => Err(x.to_string()),
    }
}

/// A stored document back into its JSON Lines text (without `_id`).
pub fn to_line(mut d: Document) -> String {
    d.remove("_id");
    serde_json::to_string(&Bson::Document(d).into_relaxed_extjson()).expect("JSON")
}

fn key_of(v: &Json) -> Option<(&str, &str)> {
    Some((
        v.pointer("/station/station_id")?.as_str()?,
        v.get("timestamp")?.as_str()?,
    ))
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl WeatherCollection {
    /// Connects (within `timeout`) and makes sure the unique index exists.
    pub fn connect(
        url: &str,
        database: &str,
        collection: &str,
        timeout: Duration,
    ) -> Result<WeatherCollection, String> {
        let db = connect_database(url, database, timeout)?;
        let coll = db.collection::<Document>(collection);
        let shown = format!("mongodb {database}.{collection} at {}", redact(url));
        let w = WeatherCollection {
            db,
            coll,
            name: collection.to_string(),
            shown,
        };
        w.ensure_index()?;
        Ok(w)
    }

    fn ensure_index(&self) -> Result<(), String> {
        self.coll
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"station.station_id": 1, "timestamp": 1})
                    .options(
                        IndexOptions::builder()
                            .unique(true)
                            .name(INDEX.to_string())
                            .build(),
                    )
                    .build(),
            )
            .run()
            .map(|_| ())
            .map_err(|x| e(&format!("{}: unique index", self.shown), x))
    }

    /// Upserts documents keyed on (station_id, timestamp); identical ones are not rewritten.
    pub fn import(&self, docs: &[Json]) -> Result<ImportStats, String> {
        let t0 = Instant::now();
        let mut st = ImportStats {
            documents: docs.len() as u64,
            ..Default::default()
        };
        let mut start = 0;
        while start < docs.len() {
            let (station, _) = key_of(&docs[start])
                .ok_or_else(|| "a document without station_id or timestamp".to_string())?;
            let mut end = start;
            while end < docs.len()
                && end - start < CHUNK
                && key_of(&docs[end]).map(|k| k.0) == Some(station)
            {
                end += 1;
            }
            if end == start {
                return Err("a document without station_id or timestamp".into());
            }
            self.import_chunk(station, &docs[start..end], &mut st)?;
            start = end;
        }
        st.elapsed_ms = t0.elapsed().as_millis();
        let secs = t0.elapsed().as_secs_f64();
        st.docs_per_s = if secs > 0.0 {
            (docs.len() as f64 / secs).round()
        } else {
            0.0
        };
        Ok(st)
    }

    fn import_chunk(
        &self,
        station: &str,
        docs: &[Json],
        st: &mut ImportStats,
    ) -> Result<(), String> {
        let ts: Vec<&str> = docs.iter().filter_map(|d| key_of(d).map(|k| k.1)).collect();
        // One index range over the chunk (an `$in` of a thousand keys is far slower on some
        // servers); stored documents in the range but not in the chunk are just not used.
        let (lo, hi) = (ts.iter().min(), ts.iter().max());
        let cur = self
            .coll
            .find(doc! {"station.station_id": station, "timestamp": {"$gte": lo, "$lte": hi}})
            .projection(doc! {"_id": 0})
            .run()
            .map_err(|x| e(&self.shown, x))?;
        let mut stored: HashMap<String, Vec<u8>> = HashMap::new();
        for d in cur {
            let d = d.map_err(|x| e(&self.shown, x))?;
            let t = d.get_str("timestamp").unwrap_or("").to_string();
            stored.insert(t, mongodb::bson::to_vec(&d).unwrap_or_default());
        }
        let mut inserts = Vec::new();
        let mut replaces = Vec::new();
        for (v, t) in docs.iter().zip(&ts) {
            let b = to_bson(v).map_err(|x| e(&format!("document {station} {t}"), x))?;
            match stored.get(*t) {
                None => inserts.push(b),
                Some(bytes) if *bytes == mongodb::bson::to_vec(&b).unwrap_or_default() => {
                    st.unchanged += 1
                }
                Some(_) => replaces.push(doc! {
                    "q": {"station.station_id": station, "timestamp": *t},
                    "u": b,
                    "upsert": true,
                }),
            }
        }
        if !inserts.is_empty() {
            let n = inserts.len() as u64;
            self.coll
                .insert_many(inserts)
                .ordered(false)
                .run()
                .map_err(|x| e(&format!("{}: insert", self.shown), x))?;
            st.created += n;
        }
        if !replaces.is_empty() {
            let n = replaces.len() as u64;
            let r = self
                .db
                .run_command(doc! {"update": &self.name, "updates": replaces, "ordered": false})
                .run()
                .map_err(|x| e(&format!("{}: update", self.shown), x))?;
            if let Ok(errs) = r.get_array("writeErrors") {
                if !errs.is_empty() {
                    return Err(format!(
                        "{}: update: {} write errors: {}",
                        self.shown,
                        errs.len(),
                        errs[0]
                    ));
                }
            }
            st.replaced += n;
        }
        Ok(())
    }

    fn count(&self, filter: Document) -> Result<u64, String> {
        self.coll
            .count_documents(filter)
            .run()
            .map_err(|x| e(&self.shown, x))
    }

    fn aggregate(&self, pipeline: Vec<Document>) -> Result<Vec<Document>, String> {
        let cur = self
            .coll
            .aggregate(pipeline)
            .run()
            .map_err(|x| e(&self.shown, x))?;
        cur.map(|d| d.map_err(|x| e(&self.shown, x))).collect()
    }

    /// Counts and checks the collection: documents (per source, per station), duplicated keys,
    /// documents without temperature / humidity / pressure, the unique index.
    pub fn verify(&self, expected: Option<u64>) -> Result<Verification, String> {
        let mut v = Verification {
            collection: self.shown.clone(),
            documents: self.count(doc! {})?,
            expected,
            ..Default::default()
        };
        // Per (source, station): documents, and documents without each critical value.
        let mut group = doc! {
            "_id": {"source": "$source", "station": "$station.station_id"},
            "n": {"$sum": 1},
        };
        for f in CRITICAL {
            let path = format!("$measurements.{f}");
            group.insert(
                f,
                doc! {"$sum": {"$cond": [{"$eq": [{"$ifNull": [path, Bson::Null]}, Bson::Null]}, 1, 0]}},
            );
            v.without.insert(f.to_string(), 0);
        }
        for g in self.aggregate(vec![doc! {"$group": group}])? {
            let id = g.get_document("_id").cloned().unwrap_or_default();
            let n = count_of(&g, "n");
            *v.per_source
                .entry(id.get_str("source").unwrap_or("?").to_string())
                .or_default() += n;
            *v.per_station
                .entry(id.get_str("station").unwrap_or("?").to_string())
                .or_default() += n;
            for f in CRITICAL {
                *v.without.entry(f.to_string()).or_default() += count_of(&g, f);
            }
        }
        for g in self.aggregate(vec![
            doc! {"$group": {
                "_id": {"s": "$station.station_id", "t": "$timestamp"},
                "n": {"$sum": 1},
            }},
            doc! {"$match": {"n": {"$gt": 1}}},
        ])? {
            v.duplicates += count_of(&g, "n") - 1;
        }
        let names = self
            .coll
            .list_indexes()
            .run()
            .map_err(|x| e(&self.shown, x))?;
        for ix in names {
            let ix = ix.map_err(|x| e(&self.shown, x))?;
            let keys: Vec<&String> = ix.keys.keys().collect();
            let unique = ix.options.as_ref().and_then(|o| o.unique).unwrap_or(false);
            if unique && keys == ["station.station_id", "timestamp"] {
                v.unique_index = true;
            }
        }
        v.ok = v.duplicates == 0 && v.unique_index && expected.is_none_or(|x| x == v.documents);
        Ok(v)
    }

    /// Documents of one station on one UTC day, timed over `runs` runs (the first, and the
    /// median); the server's plan says whether it went through the unique index.
    pub fn timed_query(
        &self,
        station: &str,
        day: NaiveDate,
        runs: usize,
    ) -> Result<QueryTiming, String> {
        let from = format!("{day}T00:00:00Z");
        let to = format!("{}T00:00:00Z", day.succ_opt().unwrap_or(day));
        let filter = doc! {"station.station_id": station, "timestamp": {"$gte": &from, "$lt": &to}};
        let mut times = Vec::new();
        let mut n = 0u64;
        for _ in 0..runs.max(1) {
            let t0 = Instant::now();
            let cur = self
                .coll
                .find(filter.clone())
                .run()
                .map_err(|x| e(&self.shown, x))?;
            n = 0;
            for d in cur {
                d.map_err(|x| e(&self.shown, x))?;
                n += 1;
            }
            times.push(ms(t0.elapsed()));
        }
        let first = times[0];
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let plan = match self
            .db
            .run_command(doc! {
                "explain": {"find": &self.name, "filter": filter.clone()},
                "verbosity": "queryPlanner",
            })
            .run()
        {
            Ok(r) => plan_of(&r),
            Err(x) => format!("explain unavailable: {x}"),
        };
        Ok(QueryTiming {
            station_id: station.to_string(),
            date: day.to_string(),
            filter: format!(
                "{{station.station_id: {station:?}, timestamp: {{$gte: {from:?}, $lt: {to:?}}}}}"
            ),
            documents: n,
            runs: times.len(),
            first_ms: first,
            median_ms: sorted[sorted.len() / 2],
            index: INDEX,
            index_used: plan.contains(&format!("IXSCAN {INDEX}")),
            plan,
        })
    }

    /// The station with the most documents and its fullest UTC day (ties: smallest id, date).
    pub fn busiest_day(&self) -> Result<Option<(String, NaiveDate)>, String> {
        let v = self.verify(None)?;
        let Some((station, _)) = v
            .per_station
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        else {
            return Ok(None);
        };
        let cur = self
            .coll
            .find(doc! {"station.station_id": station})
            .projection(doc! {"_id": 0, "timestamp": 1})
            .run()
            .map_err(|x| e(&self.shown, x))?;
        let mut days: BTreeMap<String, u64> = BTreeMap::new();
        for d in cur {
            let d = d.map_err(|x| e(&self.shown, x))?;
            let t = d.get_str("timestamp").unwrap_or("");
            *days
                .entry(t.get(..10).unwrap_or(t).to_string())
                .or_default() += 1;
        }
        Ok(busiest(&days).map(|d| (station.clone(), d)))
    }

    /// Every document as its JSON Lines text, sorted by station then timestamp.
    pub fn export_lines(&self) -> Result<Vec<String>, String> {
        let cur = self
            .coll
            .find(doc! {})
            .sort(doc! {"station.station_id": 1, "timestamp": 1})
            .projection(doc! {"_id": 0})
            .run()
            .map_err(|x| e(&self.shown, x))?;
        cur.map(|d| d.map(to_line).map_err(|x| e(&self.shown, x)))
            .collect()
    }

    /// Drops the collection (and its documents), then creates the unique index again.
    pub fn drop_collection(&self) -> Result<(), String> {
        self.coll.drop().run().map_err(|x| e(&self.shown, x))?;
        self.ensure_index()
    }
}

/// The fullest day of a day -> count map (ties: the earliest).
pub fn busiest(days: &BTreeMap<String, u64>) -> Option<NaiveDate> {
    days.iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .and_then(|(d, _)| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

fn count_of(g: &Document, field: &str) -> u64 {
    match g.get(field) {
        Some(Bson::Int32(i)) => *i as u64,
        Some(Bson::Int64(i)) => *i as u64,
        Some(Bson::Double(x)) => *x as u64,
        _ => 0,
    }
}

/// `FETCH > IXSCAN station_id_timestamp_unique` from an explain answer.
fn plan_of(r: &Document) -> String {
    let mut stages = Vec::new();
    let mut cur = r
        .get_document("queryPlanner")
        .and_then(|q| q.get_document("winningPlan"))
        .ok();
    while let Some(s) = cur {
        let name = s.get_str("stage").unwrap_or("?");
        match s.get_str("indexName") {
            Ok(ix) => stages.push(format!("{name} {ix}")),
            Err(_) => stages.push(name.to_string()),
        }
        cur = s.get_document("inputStage").ok();
    }
    if stages.is_empty() {
        "unknown".into()
    } else {
        stages.join(" > ")
    }
}

impl Verification {
    /// The verification as a table (stderr).
    pub fn table(&self) -> String {
        let mut s = format!("post-import verification ({}):\n", self.collection);
        let row = |s: &mut String, k: &str, v: String| s.push_str(&format!("  {k:<34} {v:>8}\n"));
        row(
            &mut s,
            "documents in the collection",
            self.documents.to_string(),
        );
        if let Some(x) = self.expected {
            row(&mut s, "documents expected", x.to_string());
        }
        for (k, n) in &self.per_source {
            row(&mut s, &format!("  source {k}"), n.to_string());
        }
        for (k, n) in &self.per_station {
            row(&mut s, &format!("  station {k}"), n.to_string());
        }
        row(
            &mut s,
            "duplicates (station_id, timestamp)",
            self.duplicates.to_string(),
        );
        for (k, n) in &self.without {
            row(&mut s, &format!("documents without {k}"), n.to_string());
        }
        row(
            &mut s,
            "unique index",
            if self.unique_index { "yes" } else { "NO" }.into(),
        );
        row(
            &mut s,
            "result",
            if self.ok { "OK" } else { "FAILED" }.into(),
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_and_busiest_days() {
        let r = doc! {"queryPlanner": {"winningPlan": {"stage": "FETCH", "inputStage": {
        "stage": "IXSCAN", "indexName": INDEX}}}};
        assert_eq!(plan_of(&r), "FETCH > IXSCAN station_id_timestamp_unique");
        assert_eq!(plan_of(&doc! {}), "unknown");
        let days: BTreeMap<String, u64> = [("2024-10-01", 3), ("2024-10-02", 5), ("2024-10-03", 5)]
            .iter()
            .map(|(d, n)| (d.to_string(), *n))
            .collect();
        assert_eq!(busiest(&days), NaiveDate::from_ymd_opt(2024, 10, 2));
    }

    #[test]
    fn lines_round_trip_through_bson() {
        let line = r#"{"source":"weather_underground","station":{"station_id":"ILAMAD25","name":"La Madeleine","latitude":50.659,"longitude":3.07,"elevation":23,"country":"FR"},"timestamp":"2024-09-30T22:04:00Z","measurements":{"temperature_c":13.44,"humidity_pct":84.0,"wind_direction_deg":null,"weather_code":3}}"#;
        let v: Json = serde_json::from_str(line).unwrap();
        let mut d = to_bson(&v).unwrap();
        assert_eq!(
            d.get_document("measurements").unwrap().get("humidity_pct"),
            Some(&Bson::Double(84.0))
        );
        d.insert("_id", 1);
        assert_eq!(to_line(d), line);
    }
}
