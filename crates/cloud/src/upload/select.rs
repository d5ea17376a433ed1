//! Which local files to push: selection by dates and types, validation, targets.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use cityflow::output::{sha256_hex, volatile_free_hash, OutputName, METRIC_TYPES};
use serde_json::Value;

/// What the user selected.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// Explicit dates (empty: all, within `from..=to`).
    pub dates: BTreeSet<NaiveDate>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Metric types to push (empty: none).
    pub metric_types: BTreeSet<String>,
    pub reports: bool,
    /// The analytics tables' partitions (`--type analytics`; not part of `all`).
    pub analytics: bool,
}

/// What `--type` selects: metric types, the reports, the analytics tables.
pub type Types = (BTreeSet<String>, bool, bool);

impl Selection {
    /// Parses `--type`: a comma list of `metrics`, `reports`, `analytics`, `all` and metric type
    /// names. `all` is the metrics and the reports, as before the analytics tables existed
    /// (they go to a bucket of their own: `all,analytics` for everything).
    pub fn parse_types(spec: &str) -> Result<Types, String> {
        let mut types = BTreeSet::new();
        let mut reports = false;
        let mut analytics = false;
        for t in spec.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match t {
                "all" => {
                    types.extend(METRIC_TYPES.iter().map(|s| s.to_string()));
                    reports = true;
                }
                "metrics" => types.extend(METRIC_TYPES.iter().map(|s| s.to_string())),
                "reports" => reports = true,
                "analytics" => analytics = true,
                t if METRIC_TYPES.contains(&t) => {
                    types.insert(t.to_string());
                }
                other => {
                    return Err(format!(
                        "unknown type {other:?} (expected metrics, reports, analytics, all or one \
                         of {})",
                        METRIC_TYPES.join(", ")
                    ))
                }
            }
        }
        if types.is_empty() && !reports && !analytics {
            return Err("--type selects nothing".into());
        }
        Ok((types, reports, analytics))
    }

    pub fn wants_date(&self, d: NaiveDate) -> bool {
        (self.dates.is_empty() || self.dates.contains(&d))
            && self.from.is_none_or(|f| d >= f)
            && self.to.is_none_or(|t| d <= t)
    }
}

/// What a local file becomes remotely.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// An item of the metrics table, key (metric_type, date).
    Metric { metric_type: String },
    /// An item of the reports table, key (report_id, date).
    Report,
    /// An object in the reports bucket, byte-identical to the file.
    ReportFile { content_type: &'static str },
    /// A partition of an analytics table, byte-identical to the file, in the analytics bucket.
    Analytics { table: String },
}

/// The content type of Parquet files.
pub const PARQUET_TYPE: &str = "application/vnd.apache.parquet";

/// One selected local file, read and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Local {
    pub path: PathBuf,
    /// Path relative to the output folder, for messages.
    pub rel: String,
    pub date: NaiveDate,
    pub kind: Kind,
    pub body: Vec<u8>,
    /// Parsed JSON (items only).
    pub json: Option<Value>,
    /// SHA-256 of the content without its volatile fields (`timestamp`, `generated_at`).
    pub content_hash: String,
}

/// A selected file that cannot be pushed, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub rel: String,
    pub reason: String,
}

fn check_envelope(v: &Value, want: &[(&str, &str)], body_key: &str) -> Result<(), String> {
    let o = v.as_object().ok_or("not a JSON object")?;
    for (k, expected) in want {
        match o.get(*k).and_then(Value::as_str) {
            Some(s) if s == *expected => {}
            Some(s) => {
                return Err(format!(
                    "field `{k}` is {s:?}, the file name says {expected:?}"
                ))
            }
            None => return Err(format!("field `{k}` is missing or not a string")),
        }
    }
    match o.get(body_key) {
        Some(Value::Object(_)) => Ok(()),
        _ => Err(format!("field `{body_key}` is missing or not an object")),
    }
}

/// Where a candidate's bytes are.
pub enum Content {
    File(PathBuf),
    /// Already in memory (exported from MongoDB).
    Bytes(PathBuf, Vec<u8>),
}

impl Content {
    fn path(&self) -> &Path {
        match self {
            Content::File(p) | Content::Bytes(p, _) => p,
        }
    }
}

/// Lists and validates the selected files under `output` (sorted). Files that are selected but
/// unusable come back as [`Invalid`], never skipped silently.
pub fn select(output: &Path, sel: &Selection) -> std::io::Result<(Vec<Local>, Vec<Invalid>)> {
    let mut found: Vec<(PathBuf, String)> = Vec::new();
    for sub in ["metrics", "reports"] {
        let dir = output.join(sub);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !e.file_type()?.is_file() {
                continue;
            }
            found.push((e.path(), format!("{sub}/{name}")));
        }
    }
    let mut found: Candidates = (found.into_iter())
        .map(|(p, rel)| (Content::File(p), rel))
        .collect();
    found.extend(analytics_entries(output, sel)?);
    Ok(select_entries(found, sel))
}

/// The analytics partitions under `output` as candidates, when selected. They are files
/// whatever the backend (a MongoDB run writes them under its `--output` too).
pub fn analytics_entries(output: &Path, sel: &Selection) -> std::io::Result<Candidates> {
    if !sel.analytics {
        return Ok(Vec::new());
    }
    let files = analytics_files(output)?.into_iter();
    Ok(files.map(|(p, rel)| (Content::File(p), rel)).collect())
}

/// The HTML report pages under `output` as candidates, when the reports are selected: with
/// `--source mongo`, the files a MongoDB run wrote beside its documents.
pub fn html_entries(output: &Path, sel: &Selection) -> std::io::Result<Candidates> {
    let dir = output.join("reports");
    if !sel.reports || !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for e in std::fs::read_dir(&dir)? {
        let e = e?;
        let rel = format!("reports/{}", e.file_name().to_string_lossy());
        let page = matches!(OutputName::parse(&rel), Some(OutputName::ReportHtml(_)));
        if page && e.file_type()?.is_file() {
            found.push((Content::File(e.path()), rel));
        }
    }
    Ok(found)
}

/// The partitions of the analytics tables under `output`
/// (`analytics/<table>/date=<day>/part-0.parquet`, regular files; links and our temporary
/// files are not outputs), with their relative names.
fn analytics_files(output: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let root = output.join("analytics");
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for e in walkdir::WalkDir::new(&root).min_depth(3).max_depth(3) {
        let e = e?;
        let Ok(rel) = e.path().strip_prefix(output) else {
            continue;
        };
        let rel = rel.to_string_lossy().into_owned();
        if e.file_type().is_file() && OutputName::parse(&rel).is_some() {
            found.push((e.path().to_path_buf(), rel));
        }
    }
    Ok(found)
}

/// The selection over candidates named like the output files (`metrics/<type>_metrics_<date>.json`,
/// `reports/daily_report_<date>.json|csv|html`, `analytics/<table>/date=<date>/part-0.parquet`),
/// whatever they come from.
pub fn select_entries(
    mut found: Vec<(Content, String)>,
    sel: &Selection,
) -> (Vec<Local>, Vec<Invalid>) {
    use rayon::prelude::*;
    found.sort_by(|a, b| a.1.cmp(&b.1));
    let mut wanted: Vec<(Content, String, NaiveDate, Kind)> = Vec::new();
    for (path, rel) in found {
        let Some((date, kind)) = OutputName::parse(&rel).and_then(|n| kind_of(n, sel)) else {
            continue;
        };
        if sel.wants_date(date) {
            wanted.push((path, rel, date, kind));
        }
    }
    // Read and hash in parallel; JSON is parsed later, only for targets that will be written.
    let read: Vec<Result<Vec<Local>, Invalid>> = wanted
        .into_par_iter()
        .map(|(content, rel, date, kind)| {
            let path = content.path().to_path_buf();
            let body = match content {
                Content::File(p) => std::fs::read(&p).map_err(|e| Invalid {
                    rel: rel.clone(),
                    reason: format!("cannot read: {e}"),
                })?,
                Content::Bytes(_, b) => b,
            };
            if body.is_empty() {
                return Err(Invalid {
                    rel,
                    reason: "empty file".into(),
                });
            }
            let mut out = Vec::new();
            if matches!(kind, Kind::Report) {
                // The report JSON is also pushed byte-identical to the bucket (hash of the bytes).
                out.push(Local {
                    path: path.clone(),
                    rel: rel.clone(),
                    date,
                    kind: Kind::ReportFile {
                        content_type: "application/json; charset=utf-8",
                    },
                    body: body.clone(),
                    json: None,
                    content_hash: sha256_hex(&body),
                });
            }
            let content_hash = match kind {
                Kind::ReportFile { .. } | Kind::Analytics { .. } => sha256_hex(&body),
                _ => volatile_free_hash(&body),
            };
            out.push(Local {
                path,
                rel,
                date,
                kind,
                body,
                json: None,
                content_hash,
            });
            Ok(out)
        })
        .collect();
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for r in read {
        match r {
            Ok(v) => ok.extend(v),
            Err(i) => bad.push(i),
        }
    }
    (ok, bad)
}

/// What a selected output becomes, with its data date (`None`: not selected).
fn kind_of(name: OutputName, sel: &Selection) -> Option<(NaiveDate, Kind)> {
    let date = name.date()?;
    let kind = match name {
        OutputName::Metrics { metric_type, .. } if sel.metric_types.contains(&metric_type) => {
            Kind::Metric { metric_type }
        }
        OutputName::ReportJson(_) if sel.reports => Kind::Report,
        OutputName::ReportCsv(_) if sel.reports => Kind::ReportFile {
            content_type: "text/csv; charset=utf-8",
        },
        OutputName::ReportHtml(_) if sel.reports => Kind::ReportFile {
            content_type: "text/html; charset=utf-8",
        },
        OutputName::Analytics { table, .. } if sel.analytics => Kind::Analytics { table },
        _ => return None,
    };
    Some((date, kind))
}

/// Candidate outputs: where the bytes are, and the output file's relative name.
pub type Candidates = Vec<(Content, String)>;

/// The candidates of a MongoDB database written by `process --backend mongo`: each metrics and
/// report document rebuilt into the exact bytes of the file the files backend writes.
/// Documents whose keys are not what `process` writes (a `report_id` other than
/// `daily_report_<date>`, a date not written `YYYY-MM-DD`) come back as [`Invalid`]: their keys
/// never become names or remote keys.
pub fn mongo_entries(
    store: &cityflow::store::mongo::MongoStore,
    sel: &Selection,
) -> Result<(Candidates, Vec<Invalid>), String> {
    use cityflow::store::mongo::target_of;
    let mut out = Vec::new();
    let mut invalid = Vec::new();
    for (coll, id_field) in [("metrics", "metric_type"), ("reports", "report_id")] {
        for key in store.keys(coll).map_err(|e| e.to_string())? {
            let (Ok(id), Ok(date)) = (key.get_str(id_field), key.get_str("date")) else {
                continue;
            };
            let d = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .ok()
                .filter(|d| d.to_string() == date);
            let expected = coll == "metrics" || id == format!("daily_report_{date}");
            let Some(d) = d.filter(|_| expected) else {
                invalid.push(Invalid {
                    rel: format!("mongodb:{coll} {id_field}={id:?} date={date:?}"),
                    reason: format!("not a key `process` writes: {id_field} and date disagree or the date is not YYYY-MM-DD"),
                });
                continue;
            };
            if !sel.wants_date(d)
                || (coll == "metrics" && !sel.metric_types.contains(id))
                || (coll == "reports" && !sel.reports)
            {
                continue;
            }
            let rel = if coll == "metrics" {
                format!("metrics/{id}_metrics_{date}.json")
            } else {
                format!("reports/{id}.json")
            };
            let t = target_of(&rel).ok_or_else(|| format!("unexpected key {id} {date}"))?;
            let pseudo = PathBuf::from(format!("mongodb:{coll}/{id}/{date}"));
            if let Some(v) = store.read(&t).map_err(|e| e.to_string())? {
                out.push((
                    Content::Bytes(pseudo.clone(), cityflow::json::to_json_bytes(&v)),
                    rel.clone(),
                ));
            }
            if coll == "reports" {
                if let Some(csv) = store.read_csv(&t).map_err(|e| e.to_string())? {
                    out.push((
                        Content::Bytes(pseudo, csv.into_bytes()),
                        format!("reports/{id}.csv"),
                    ));
                }
            }
        }
    }
    Ok((out, invalid))
}

/// Parses and checks an item's file (envelope fields agree with its name): fills `l.json`.
pub fn validate(l: &mut Local) -> Result<(), String> {
    if matches!(l.kind, Kind::Analytics { .. }) {
        // A whole Parquet file starts and ends with its magic (a truncated copy does not).
        let whole = l.body.len() >= 12 && l.body.starts_with(b"PAR1") && l.body.ends_with(b"PAR1");
        return match whole {
            true => Ok(()),
            false => Err("not a whole Parquet file (no PAR1 magic at both ends)".into()),
        };
    }
    if matches!(l.kind, Kind::ReportFile { .. }) || l.json.is_some() {
        return Ok(());
    }
    let v: Value = serde_json::from_slice(&l.body).map_err(|e| format!("invalid JSON: {e}"))?;
    let d = l.date.to_string();
    match &l.kind {
        Kind::Metric { metric_type } => {
            check_envelope(&v, &[("metric_type", metric_type), ("date", &d)], "metrics")?
        }
        _ => check_envelope(
            &v,
            &[("report_id", &format!("daily_report_{d}")), ("date", &d)],
            "report",
        )?,
    }
    l.json = Some(v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_and_refuse_unknown() {
        let (t, r, a) = Selection::parse_types("comptages,reports").unwrap();
        assert_eq!(t.into_iter().collect::<Vec<_>>(), vec!["comptages"]);
        assert!(r && !a);
        let (t, r, a) = Selection::parse_types("all").unwrap();
        assert_eq!(t.len(), METRIC_TYPES.len());
        assert!(r && !a, "all is what it was: metrics and reports");
        let (t, r, a) = Selection::parse_types("analytics").unwrap();
        assert!(t.is_empty() && !r && a);
        let (t, r, a) = Selection::parse_types("all,analytics").unwrap();
        assert!(t.len() == METRIC_TYPES.len() && r && a);
        assert!(Selection::parse_types("comptage")
            .unwrap_err()
            .contains("unknown type"));
        assert!(Selection::parse_types(",").is_err());
    }

    #[test]
    fn byte_hash_ignores_volatile_members_only() {
        let a =
            br#"{"metric_type": "x", "timestamp": "2025-11-21T03:20:00Z", "metrics": {"a": 1}}"#;
        let b = br#"{"metric_type": "x", "timestamp":"2026-01-01T00:00:00Z", "metrics": {"a": 1}}"#;
        let c =
            br#"{"metric_type": "x", "timestamp": "2025-11-21T03:20:00Z", "metrics": {"a": 2}}"#;
        assert_eq!(
            volatile_free_hash(a),
            volatile_free_hash(b),
            "timestamps and spacing around them"
        );
        assert_ne!(volatile_free_hash(a), volatile_free_hash(c));
        let r1 = br#"{"timestamp": "t1", "report": {"date": "d", "generated_at": "g\"1", "x": 1}}"#;
        let r2 = br#"{"timestamp": "t2", "report": {"date": "d", "generated_at": "g2", "x": 1}}"#;
        assert_eq!(volatile_free_hash(r1), volatile_free_hash(r2));
    }
}
