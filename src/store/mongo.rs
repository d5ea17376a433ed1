//! MongoDB backend (a developer's laptop): the same output documents as the files backend, in
//! collections `metrics` (key metric_type + date), `reports` (report_id + date, with the CSV in a
//! `csv` field) and `quality` (report_id + date), with unique indexes on the keys and on `date`.
//!
//! - Documents keep native BSON types (doubles, integers, strings, arrays, sub-documents).
//! - Upserts keep `created_at` (`$setOnInsert`) and set `updated_at`; a re-run replaces, never
//!   duplicates; a document whose content (without `timestamp`) is unchanged is not rewritten.
//! - Documents over MongoDB's 16 MB limit are split, losslessly: the largest arrays of the body
//!   move to `<collection>_items` (one document per element, tagged with the content hash), the
//!   main document keeps `{"_cityflow_items": count}` in their place. Items are written first, the
//!   main document next, stale items last, so a crash never leaves a document pointing at nothing.
//!   [`MongoStore::read`] reassembles the whole object.
//! - `flush` verifies the import: every document written is read back, rebuilt into the exact
//!   bytes of the file it came from, and compared by content hash; a table is printed; a mismatch
//!   is an error.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::sync::{Client, Collection, Database};
use mongodb::IndexModel;
use serde_json::Value;

use super::{OutputDoc, Store, StoreError, Written};
use crate::output::{volatile_free_hash, OutputName};

/// Above this BSON size a document is split (MongoDB refuses 16 MiB).
pub const SPLIT_ABOVE: usize = 15 << 20;
const ITEMS_MARKER: &str = "_cityflow_items";
const KEY_ORDER: &str = "_cityflow_keys";

/// Where one output document goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub collection: &'static str,
    /// (key field, value) pairs: the unique key.
    pub key: Vec<(&'static str, String)>,
    /// The envelope field holding the body (`metrics`, `report`), or the CSV case.
    pub body_field: &'static str,
    pub csv: bool,
}

/// Maps an output path (`metrics/comptages_metrics_2025-11-04.json`...) to its collection and key
/// (`date` is `run` for the run's quality report).
pub fn target_of(rel: &str) -> Option<Target> {
    let name = OutputName::parse(rel)?;
    let collection = match name {
        OutputName::Metrics { .. } => "metrics",
        OutputName::ReportJson(_) | OutputName::ReportCsv(_) => "reports",
        OutputName::Quality(_) | OutputName::QualityRun(_) => "quality",
        // Written to files whatever the backend.
        OutputName::ReportHtml(_) | OutputName::Analytics { .. } => return None,
    };
    let date = name
        .date()
        .map_or_else(|| "run".to_string(), |d| d.to_string());
    Some(Target {
        collection,
        key: vec![name.id(), ("date", date)],
        body_field: name.body_field(),
        csv: matches!(name, OutputName::ReportCsv(_)),
    })
}

/// The URL with its userinfo and the values of options that can carry secrets masked, for
/// logs and errors: [`crate::shown::url`].
pub fn redact(url: &str) -> String {
    crate::shown::url(url)
}

/// Connects to `database` and pings it, failing within `timeout` when the server is unreachable.
/// Errors name the URL with its password masked.
pub fn connect_database(url: &str, database: &str, timeout: Duration) -> Result<Database, String> {
    let shown = redact(url);
    // The driver's error texts can quote the URL or its password.
    let fail = |e: mongodb::error::Error| {
        format!("{shown}: {}", crate::shown::text(&e.to_string(), &[url]))
    };
    let mut opts = ClientOptions::parse(url).run().map_err(fail)?;
    opts.server_selection_timeout = Some(timeout);
    opts.connect_timeout = Some(timeout);
    opts.app_name = Some("cityflow".into());
    let client = Client::with_options(opts).map_err(fail)?;
    let db = client.database(database);
    db.run_command(doc! {"ping": 1}).run().map_err(fail)?;
    Ok(db)
}

pub struct MongoStore {
    db: Database,
    shown: String,
    now: mongodb::bson::DateTime,
    /// (target, content hash) of every document written, for the verification in `flush`.
    written: Mutex<Vec<(Target, String)>>,
}

fn err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError {
        path: what.into(),
        // A driver's text may quote a URL.
        source: std::io::Error::other(crate::shown::text(&e.to_string(), &[])),
    }
}

fn filter_of(t: &Target) -> Document {
    let mut f = Document::new();
    for (k, v) in &t.key {
        f.insert(*k, v.clone());
    }
    f
}

impl MongoStore {
    /// Connects (failing within `timeout` when the server is unreachable) and ensures indexes.
    pub fn connect(
        url: &str,
        database: &str,
        timeout: Duration,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<MongoStore, String> {
        let shown = redact(url);
        let db = connect_database(url, database, timeout)?;
        let unique = |keys: Document| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().unique(true).build())
                .build()
        };
        let plain = |keys: Document| IndexModel::builder().keys(keys).build();
        let indexes: [(&str, Vec<IndexModel>); 5] = [
            (
                "metrics",
                vec![
                    unique(doc! {"metric_type": 1, "date": 1}),
                    plain(doc! {"date": 1}),
                ],
            ),
            (
                "reports",
                vec![
                    unique(doc! {"report_id": 1, "date": 1}),
                    plain(doc! {"date": 1}),
                ],
            ),
            (
                "quality",
                vec![
                    unique(doc! {"report_id": 1, "date": 1}),
                    plain(doc! {"date": 1}),
                ],
            ),
            (
                "metrics_items",
                vec![plain(
                    doc! {"metric_type": 1, "date": 1, "version": 1, "field": 1, "index": 1},
                )],
            ),
            (
                "reports_items",
                vec![plain(
                    doc! {"report_id": 1, "date": 1, "version": 1, "field": 1, "index": 1},
                )],
            ),
        ];
        for (c, models) in indexes {
            db.collection::<Document>(c)
                .create_indexes(models)
                .run()
                .map_err(|e| {
                    let e = crate::shown::text(&e.to_string(), &[url]);
                    format!("{shown}: indexes on {c}: {e}")
                })?;
        }
        Ok(MongoStore {
            db,
            shown: format!("mongodb {database} at {shown}"),
            now: mongodb::bson::DateTime::from_millis(now.timestamp_millis()),
            written: Mutex::new(Vec::new()),
        })
    }

    fn coll(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    /// Reads a document back whole, as the envelope JSON of its file (split arrays reassembled,
    /// bookkeeping fields removed). `None` when absent.
    pub fn read(&self, t: &Target) -> Result<Option<Value>, StoreError> {
        let Some(mut d) = self
            .coll(t.collection)
            .find_one(filter_of(t))
            .run()
            .map_err(|e| err(t.collection, e))?
        else {
            return Ok(None);
        };
        for k in ["_id", "created_at", "updated_at", "content_sha256", "csv"] {
            d.remove(k);
        }
        let version = d.get_str("version").map(str::to_string).ok();
        d.remove("version");
        if let (Some(v), Some(Bson::Document(body))) = (version, d.get_mut(t.body_field)) {
            let split: Vec<String> = body
                .iter()
                .filter(|(_, x)| matches!(x, Bson::Document(m) if m.contains_key(ITEMS_MARKER)))
                .map(|(k, _)| k.clone())
                .collect();
            for field in split {
                let mut f = filter_of(t);
                f.insert("version", v.clone());
                f.insert("field", field.clone());
                let cur = self
                    .coll(&format!("{}_items", t.collection))
                    .find(f)
                    .sort(doc! {"index": 1})
                    .run()
                    .map_err(|e| err(t.collection, e))?;
                let mut items = Vec::new();
                for r in cur {
                    let mut r = r.map_err(|e| err(t.collection, e))?;
                    items.push(r.remove("item").unwrap_or(Bson::Null));
                }
                body.insert(field, Bson::Array(items));
            }
        }
        // The envelope's keys, in its own order (and nothing the key filter added).
        let order: Vec<String> = match d.get_array(KEY_ORDER) {
            Ok(a) => a
                .iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect(),
            Err(_) => d.keys().cloned().collect(),
        };
        let mut out = Document::new();
        for k in order {
            if let Some(v) = d.remove(&k) {
                out.insert(k, v);
            }
        }
        Ok(Some(Bson::Document(out).into_relaxed_extjson()))
    }

    /// The CSV stored with a report, if any.
    pub fn read_csv(&self, t: &Target) -> Result<Option<String>, StoreError> {
        let d = self
            .coll(t.collection)
            .find_one(filter_of(t))
            .run()
            .map_err(|e| err(t.collection, e))?;
        Ok(d.and_then(|d| d.get_str("csv").ok().map(str::to_string)))
    }

    /// Every stored document key of a collection (for exports), sorted by date then key.
    pub fn keys(&self, collection: &str) -> Result<Vec<Document>, StoreError> {
        let cur = self
            .coll(collection)
            .find(doc! {})
            .run()
            .map_err(|e| err(collection, e))?;
        let mut keys = Vec::new();
        for d in cur {
            let d = d.map_err(|e| err(collection, e))?;
            let mut k = Document::new();
            for f in ["metric_type", "report_id", "date"] {
                if let Some(v) = d.get(f) {
                    k.insert(f, v.clone());
                }
            }
            keys.push(k);
        }
        let text = |d: &Document, f: &str| d.get_str(f).unwrap_or("").to_string();
        keys.sort_by_key(|d| {
            (
                text(d, "date"),
                text(d, "metric_type"),
                text(d, "report_id"),
            )
        });
        Ok(keys)
    }

    fn put_json(&self, t: &Target, body: &[u8]) -> Result<Written, StoreError> {
        let hash = volatile_free_hash(body);
        let c = self.coll(t.collection);
        let existing = c
            .find_one(filter_of(t))
            .projection(doc! {"content_sha256": 1})
            .run()
            .map_err(|e| err(t.collection, e))?;
        if existing
            .as_ref()
            .and_then(|d| d.get_str("content_sha256").ok())
            == Some(hash.as_str())
        {
            return Ok(Written::Unchanged);
        }
        let v: Value = serde_json::from_slice(body).map_err(|e| err(t.collection, e))?;
        let Ok(Bson::Document(mut d)) = Bson::try_from(v) else {
            return Err(err(t.collection, "not a JSON object"));
        };
        // `$set` applies fields in lexicographic order (as MongoDB ≥ 5.0 does): keep the
        // envelope's own order to rebuild the file exactly.
        let order: Vec<Bson> = d.keys().map(|k| Bson::String(k.clone())).collect();
        d.insert(KEY_ORDER, order);
        d.insert("content_sha256", hash.clone());
        d.insert("version", hash.clone());
        let size = mongodb::bson::to_vec(&d)
            .map(|b| b.len())
            .unwrap_or(usize::MAX);
        let items_coll = format!("{}_items", t.collection);
        if size > SPLIT_ABOVE {
            self.split(t, &mut d, &hash, &items_coll)?;
        }
        d.insert("updated_at", self.now);
        c.update_one(
            filter_of(t),
            doc! {"$set": d, "$setOnInsert": {"created_at": self.now}},
        )
        .upsert(true)
        .run()
        .map_err(|e| err(t.collection, e))?;
        // Items of earlier versions are stale once the main document points at the new one.
        let mut stale = filter_of(t);
        stale.insert("version", doc! {"$ne": hash.clone()});
        self.coll(&items_coll)
            .delete_many(stale)
            .run()
            .map_err(|e| err(&items_coll, e))?;
        self.written.lock().expect("lock").push((t.clone(), hash));
        Ok(if existing.is_some() {
            Written::Replaced
        } else {
            Written::Created
        })
    }

    /// Moves the largest arrays of the body to the items collection until the document fits.
    fn split(
        &self,
        t: &Target,
        d: &mut Document,
        version: &str,
        items_coll: &str,
    ) -> Result<(), StoreError> {
        let items = self.coll(items_coll);
        // Re-running with the same content: drop a half-written earlier attempt first.
        let mut same = filter_of(t);
        same.insert("version", version);
        items
            .delete_many(same)
            .run()
            .map_err(|e| err(items_coll, e))?;
        let too_big = |d: &Document| {
            mongodb::bson::to_vec(d)
                .map(|b| b.len())
                .unwrap_or(usize::MAX)
                > SPLIT_ABOVE
        };
        while too_big(d) {
            let Some(Bson::Document(body)) = d.get_mut(t.body_field) else {
                return Err(err(
                    t.collection,
                    "document over 16 MB without a splittable body",
                ));
            };
            let largest = body
                .iter()
                .filter_map(|(k, v)| match v {
                    Bson::Array(a) => Some((
                        mongodb::bson::to_vec(&doc! {"a": a.clone()})
                            .map(|b| b.len())
                            .unwrap_or(0),
                        k.clone(),
                    )),
                    _ => None,
                })
                .max();
            let Some((_, field)) = largest else {
                return Err(err(
                    t.collection,
                    "document still over 16 MB after moving every array out",
                ));
            };
            let Some(slot) = body.get_mut(&field) else {
                unreachable!("found above")
            };
            // Replaced in place: the body keeps its key order.
            let Bson::Array(a) = std::mem::replace(slot, Bson::Null) else {
                unreachable!("an array")
            };
            *slot = Bson::Document(doc! {ITEMS_MARKER: a.len() as i64});
            let rows: Vec<Document> = a
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let mut row = filter_of(t);
                    row.insert("version", version);
                    row.insert("field", field.clone());
                    row.insert("index", i as i64);
                    row.insert("item", item);
                    row
                })
                .collect();
            for chunk in rows.chunks(1000) {
                items
                    .insert_many(chunk.to_vec())
                    .run()
                    .map_err(|e| err(items_coll, e))?;
            }
        }
        Ok(())
    }

    fn put_csv(&self, t: &Target, body: &[u8]) -> Result<Written, StoreError> {
        let text = String::from_utf8_lossy(body).into_owned();
        let c = self.coll(t.collection);
        let existing = c
            .find_one(filter_of(t))
            .projection(doc! {"csv": 1})
            .run()
            .map_err(|e| err(t.collection, e))?;
        if existing.as_ref().and_then(|d| d.get_str("csv").ok()) == Some(text.as_str()) {
            return Ok(Written::Unchanged);
        }
        let mut set = filter_of(t);
        set.insert("csv", text);
        set.insert("updated_at", self.now);
        c.update_one(
            filter_of(t),
            doc! {"$set": set, "$setOnInsert": {"created_at": self.now}},
        )
        .upsert(true)
        .run()
        .map_err(|e| err(t.collection, e))?;
        let had_csv = existing.as_ref().is_some_and(|d| d.contains_key("csv"));
        Ok(if had_csv {
            Written::Replaced
        } else {
            Written::Created
        })
    }
}

impl Store for MongoStore {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn put(&self, doc: &OutputDoc) -> Result<Written, StoreError> {
        let Some(t) = target_of(&doc.rel_path) else {
            return Err(err(&doc.rel_path, "no MongoDB collection for this output"));
        };
        if t.csv {
            self.put_csv(&t, &doc.body)
        } else {
            self.put_json(&t, &doc.body)
        }
    }

    /// Verification after import: each document written is read back and rebuilt into the exact
    /// bytes of its file; its content hash must match. Prints a table on stderr.
    fn flush(&self) -> Result<(), Vec<StoreError>> {
        self.verify_import().map_err(|e| vec![e])
    }
}

impl MongoStore {
    fn verify_import(&self) -> Result<(), StoreError> {
        let written = std::mem::take(&mut *self.written.lock().expect("lock"));
        let mut table: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        let mut bad = Vec::new();
        for (t, hash) in &written {
            let e = table.entry(t.collection).or_default();
            e.0 += 1;
            match self.read(t)? {
                Some(v) if volatile_free_hash(&crate::json::to_json_bytes(&v)) == *hash => e.1 += 1,
                Some(_) => bad.push(format!(
                    "{} {:?}: content differs after import",
                    t.collection, t.key
                )),
                None => bad.push(format!(
                    "{} {:?}: missing after import",
                    t.collection, t.key
                )),
            }
        }
        if !written.is_empty() {
            let mut text = format!("MongoDB import check ({}):\n", self.shown);
            text += &format!(
                "  {:<10} {:>8} {:>10}\n",
                "collection", "written", "verified"
            );
            for (c, (w, ok)) in &table {
                text += &format!("  {c:<10} {w:>8} {ok:>10}\n");
            }
            crate::cli::eprint_text(&text);
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(err("verification", bad.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_redaction() {
        let t = target_of("metrics/comptages_metrics_2025-11-04.json").unwrap();
        assert_eq!(t.collection, "metrics");
        assert_eq!(
            t.key,
            vec![
                ("metric_type", "comptages".to_string()),
                ("date", "2025-11-04".to_string())
            ]
        );
        let r = target_of("reports/daily_report_2025-11-04.csv").unwrap();
        assert!(r.csv);
        assert_eq!(r.key[0].1, "daily_report_2025-11-04");
        assert_eq!(
            target_of("quality/quality_report_run.json").unwrap().key[1].1,
            "run"
        );
        assert!(target_of("other/x.json").is_none());
        assert_eq!(
            redact("mongodb://user:secret@db.local:27017/x"),
            "mongodb://***@db.local:27017/x"
        );
        assert_eq!(
            redact("mongodb://127.0.0.1:27017/"),
            "mongodb://127.0.0.1:27017/"
        );
        assert_eq!(
            redact("mongodb://u:p@ss@h:1/db?appName=a@b&authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok&tlsCertificateKeyFilePassword=pw&directConnection=true"),
            "mongodb://***@h:1/db?appName=a@b&authMechanism=MONGODB-AWS&authMechanismProperties=***&tlsCertificateKeyFilePassword=***&directConnection=true"
        );
    }
}
