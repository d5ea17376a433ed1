//! `traffic` raw files (public-transport disruptions, RATP / IDFM) -> [`TrafficAcc`].
//!
//! Accepted inputs (one file may hold several documents, or JSON Lines of them):
//! - **Navitia** responses (`/disruptions`, `/line_reports`, PRIM's Navitia): an object with a
//!   `disruptions` array, and `context {current_datetime, timezone}`. Each element is one
//!   disruption (Navitia impact): `id`, `disruption_id`, `status`, `severity {name, effect,
//!   priority}`, `application_periods [{begin, end}]` in basic format `YYYYMMDDTHHMMSS` (local
//!   time of `context.timezone`, Europe/Paris by default), `messages [{text}]`,
//!   `impacted_objects [{pt_object {embedded_type, line | line_section | route | stop_area ...}}]`,
//!   `updated_at`, `cause`, `category`.
//! - The **PRIM bulk** feed: a top-level array of disruptions (or an object with a
//!   `disruptions` array and `lastUpdatedDate`) with camelCase fields: `id`,
//!   `applicationPeriods`, `lastUpdate`, `severity` (a string such as `BLOQUANTE`, or an
//!   object), `cause`, `title`, `message`, `shortMessage`, and lines under `impactedSections
//!   [{lineId, ...}]`, `impactedObjects`, `lines` or `impactedLines`.
//!
//! Every disruption is one row. Its day is the Paris day of its **snapshot**: the document's
//! `context.current_datetime` (or PRIM `lastUpdatedDate`), else the file's `dt=` folder date,
//! else the latest `updated_at` / `lastUpdate` among the document's disruptions (for a bare
//! array: among the file's). The quality categories say which one was used.
//!
//! Rejected rows: not an object / no disruption fields (`not_a_record`), no `id`
//! (`missing_key`), an application period that cannot be read (`unparseable_date`,
//! `date_out_of_range`) or ends before it begins (`inconsistent`), no snapshot time at all.
//! Warnings (row used): a severity that gives no score (null, missing, not understood, or a
//! Navitia `severity.priority` without an effect: score 0, see the severity score rules of
//! [`crate::metrics::traffic`]), an unreadable `updated_at` (ignored) — both as
//! `unknown_state`.
//!
//! A numeric priority is a score only in PRIM records: a bare number as `severity`, or
//! `severity.priority` in a record of a `lastUpdatedDate` wrapper or with PRIM's camelCase
//! fields (`applicationPeriods`, `lastUpdate`, `impactedSections`...). Records of a Navitia
//! response (`context`) or with Navitia's snake_case fields, and records with neither, keep
//! their priority only as the raw `navitia_priority`. Missing values: `severity`, `updated_at`,
//! `application_periods` (the disruption is then listed but never active), `period_end` (the
//! period stays open).

use std::borrow::Cow;
use std::collections::BTreeSet;

use chrono::{Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde_json::{Map, Value};

use crate::discover::InputFile;
use crate::input::{json_kind, norm_header, read_json};
use crate::metrics::traffic::{Disruption, Mode, Period, TrafficAcc, OPEN_END};
use crate::quality::{QualityAcc, Reason};
use crate::sources::{json_field, json_text, DaySelection};
use crate::time::{format_paris, paris_day, parse_instant, Instant, TimeError};

pub const SOURCE: &str = "traffic";

/// Public transport disruptions, as a dataset of the pipeline.
pub struct Traffic;

impl super::dataset::Dataset for Traffic {
    const FILES: crate::discover::FileKind = crate::discover::FileKind {
        name: SOURCE,
        api: &["traffic", "disruptions"],
        batch: &["disruptions", "perturbations", "line_reports"],
    };
    super::dataset::accumulator_dataset!(traffic, TrafficAcc, TrafficMetrics);
    fn tables(
        acc: &Self::Ready,
        day: NaiveDate,
        _: &Self::Metrics,
        _: &crate::geo::ArrondissementIndex,
    ) -> Vec<crate::analytics::Table> {
        let list = crate::metrics::traffic::day_disruptions(acc, day);
        crate::analytics::traffic(day, &list)
    }
}

type Obj = Map<String, Value>;

/// Reads one file. Never fails: every problem is counted in `q`.
pub fn read_file(f: &InputFile, sel: &DaySelection, q: &mut QualityAcc) -> TrafficAcc {
    let mut acc = TrafficAcc::default();
    let items = match read_json(&f.path) {
        Ok(items) => items,
        Err(e) => {
            q.file_failed(SOURCE, &f.rel, e.line, e.reason, e.detail, 0);
            return acc;
        }
    };
    let mut ctx = Ctx {
        f,
        sel,
        q,
        acc: &mut acc,
    };
    let values: Vec<(u64, Value)> = items
        .into_iter()
        .filter_map(|item| item.into_record(ctx.q, SOURCE, &f.rel))
        .collect();
    // Bare disruption records (PRIM bulk array, JSON Lines of disruptions): one snapshot.
    let mut loose: Vec<Rec<'_>> = Vec::new();
    let mut prim_lines = PrimLines::default();
    for (line, value) in &values {
        let Value::Object(o) = value else {
            ctx.q.row(SOURCE, None, &f.rel).problem(
                *line,
                Reason::NotARecord,
                "expected a disruption or a response object".into(),
            );
            continue;
        };
        // PRIM `lines`: a response's member, or line records (the member saved alone).
        // (Navitia's own `lines` carry no `disruptionIds`: left alone.)
        if let Some(Value::Array(list)) = o.get("lines") {
            if list.iter().any(is_prim_line) {
                list.iter().for_each(|l| prim_lines.add(ctx.acc, l));
                if !o.contains_key("disruptions") {
                    continue;
                }
            }
        }
        if is_prim_line(value) {
            prim_lines.add(ctx.acc, value);
            continue;
        }
        if let Some(Value::Array(list)) = o.get("disruptions") {
            let recs: Vec<Rec<'_>> = list
                .iter()
                .enumerate()
                .map(|(i, v)| Rec {
                    line: *line,
                    label: format!("disruptions[{i}]"),
                    value: v,
                })
                .collect();
            ctx.snapshot(Some(o), &recs);
        } else if looks_like_disruption(o) {
            loose.push(Rec {
                line: *line,
                label: format!("record {}", loose.len() + 1),
                value,
            });
        } else {
            let keys: Vec<&str> = o.keys().map(String::as_str).take(8).collect();
            ctx.q.row(SOURCE, None, &f.rel).problem(
                *line,
                Reason::NotARecord,
                format!(
                    "an object with neither a `disruptions` array nor a disruption's fields \
                     (keys: {})",
                    keys.join(", ")
                ),
            );
        }
    }
    if !loose.is_empty() {
        ctx.snapshot(None, &loose);
    }
    prim_lines.note(q, &f.rel);
    acc
}

/// A PRIM bulk `lines` element: a line whose `impactedObjects` carry `disruptionIds`.
fn is_prim_line(v: &Value) -> bool {
    let Some(o) = v.as_object() else {
        return false;
    };
    let Some(Value::Array(objs)) = o.get("impactedObjects") else {
        return false;
    };
    !looks_like_disruption(o)
        && objs
            .iter()
            .any(|io| io.get("disruptionIds").is_some_and(Value::is_array))
}

/// PRIM `lines` read from one file: not rows (never counted as read or rejected), but noted
/// in the quality categories.
#[derive(Default)]
struct PrimLines {
    lines: u64,
    links: u64,
    unnamed: u64,
}

impl PrimLines {
    /// Links every disruption id of the line's impacted objects to the line's label (its
    /// `mode`, `shortName`, `name`; its `id` when it has no name).
    fn add(&mut self, acc: &mut TrafficAcc, v: &Value) {
        let Some(o) = v.as_object() else {
            self.unnamed += 1;
            return;
        };
        let label = match line_of(o) {
            LineRef::Named(l) => l,
            LineRef::IdOnly(id) => id,
            LineRef::NotALine => {
                self.unnamed += 1;
                return;
            }
        };
        self.lines += 1;
        let objs = o.get("impactedObjects").and_then(Value::as_array);
        let ids = objs
            .into_iter()
            .flatten()
            .filter_map(|io| io.get("disruptionIds").and_then(Value::as_array))
            .flatten();
        for id in ids {
            let id = json_text(Some(id));
            if !id.trim().is_empty() {
                acc.link_line(id.trim(), &label);
                self.links += 1;
            }
        }
    }

    fn note(&self, q: &mut QualityAcc, rel: &str) {
        if self.lines + self.unnamed == 0 {
            return;
        }
        let c = format!(
            "PRIM lines: {rel}: {} line(s), {} disruption link(s){}",
            self.lines,
            self.links,
            if self.unnamed > 0 {
                format!(", {} element(s) without id or name ignored", self.unnamed)
            } else {
                String::new()
            }
        );
        q.category(SOURCE, None, &c);
    }
}

/// An object that is itself a disruption (not a wrapper).
fn looks_like_disruption(o: &Obj) -> bool {
    [
        "application_periods",
        "applicationPeriods",
        "disruption_id",
        "impact_id",
        "severity",
        "lastUpdate",
        "updated_at",
        "impactedSections",
        "impacted_objects",
    ]
    .iter()
    .any(|k| o.contains_key(*k))
}

struct Rec<'a> {
    line: u64,
    /// `disruptions[3]` or `record 4`, for the samples.
    label: String,
    value: &'a Value,
}

struct Ctx<'a> {
    f: &'a InputFile,
    sel: &'a DaySelection,
    q: &'a mut QualityAcc,
    acc: &'a mut TrafficAcc,
}

/// What parsing one disruption gave: the record, its warnings, its missing fields.
struct Parsed {
    d: Disruption,
    warnings: Vec<String>,
    missing: Vec<&'static str>,
    lines_from: &'static str,
}

impl Ctx<'_> {
    /// One snapshot: a response object's `disruptions` (`wrapper` given) or the file's bare
    /// records.
    fn snapshot(&mut self, wrapper: Option<&Obj>, recs: &[Rec<'_>]) {
        let mut notes: Vec<String> = Vec::new();
        let context = wrapper
            .and_then(|w| w.get("context"))
            .and_then(Value::as_object);
        let tz = snapshot_tz(context, &mut notes);
        let dialect = wrapper_dialect(wrapper);
        let parsed: Vec<Result<Parsed, (Reason, String)>> = recs
            .iter()
            .map(|r| match r.value {
                Value::Object(o) => parse_disruption(o, tz, record_dialect(o, dialect)),
                other => Err((
                    Reason::NotARecord,
                    format!("expected a disruption object, found {}", json_kind(other)),
                )),
            })
            .collect();
        let Some((day, label, source)) =
            self.snapshot_moment(wrapper, context, tz, &parsed, &mut notes)
        else {
            self.reject_undated(recs, &notes);
            return;
        };
        if !self.sel.contains(day) {
            self.q.outside(SOURCE, recs.len() as u64);
            return;
        }
        self.acc.add_snapshot(day, &label);
        let source_note = if notes.is_empty() {
            format!("snapshot time: {source}")
        } else {
            format!("snapshot time: {source} ({})", notes.join("; "))
        };
        for (r, p) in recs.iter().zip(parsed) {
            self.record(day, r, p, &source_note);
        }
    }

    /// The snapshot's moment: its day, label and what gave it (the response's time, else the
    /// `dt=` folder date, else the latest `updated_at` of its disruptions).
    fn snapshot_moment(
        &self,
        wrapper: Option<&Obj>,
        context: Option<&Obj>,
        tz: Tz,
        parsed: &[Result<Parsed, (Reason, String)>],
        notes: &mut Vec<String>,
    ) -> Option<(NaiveDate, String, &'static str)> {
        let wrapper_times = [
            (
                context.and_then(|c| c.get("current_datetime")),
                "context.current_datetime",
            ),
            (
                wrapper.and_then(|w| json_field(w, &["lastUpdatedDate", "last_updated_date"])),
                "lastUpdatedDate",
            ),
        ];
        for (v, name) in wrapper_times {
            let s = json_text(v);
            if s.trim().is_empty() {
                continue;
            }
            match parse_time(&s, tz) {
                Ok(t) => return Some((paris_day(t), format_paris(t), name)),
                Err(e) => notes.push(format!("{name} {s:?} unreadable: {e}")),
            }
        }
        if let Some(d) = self.f.partition_date {
            return Some((d, format!("{d} (dt=)"), "partition date"));
        }
        let t = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().and_then(|p| p.d.updated))
            .max()?;
        Some((paris_day(t), format_paris(t), "latest updated_at"))
    }

    /// Counts and rejects every record of a snapshot that has no time.
    fn reject_undated(&mut self, recs: &[Rec<'_>], notes: &[String]) {
        let rel = self.f.rel.as_str();
        for r in recs {
            self.q.row(SOURCE, None, rel);
            let mut detail = format!(
                "{}: no snapshot time (no context.current_datetime, no dt= folder, no \
                 readable updated_at / lastUpdate)",
                r.label
            );
            if !notes.is_empty() {
                detail.push_str(&format!("; {}", notes.join("; ")));
            }
            self.q
                .problem(SOURCE, None, rel, r.line, Reason::UnparseableDate, detail);
        }
    }

    /// One record of a snapshot of `day`: counted, then added or rejected.
    fn record(
        &mut self,
        day: NaiveDate,
        r: &Rec<'_>,
        p: Result<Parsed, (Reason, String)>,
        source_note: &str,
    ) {
        let rel = self.f.rel.as_str();
        let d = Some(day);
        self.q.row(SOURCE, d, rel);
        self.q.category(SOURCE, d, source_note);
        match p {
            Err((reason, detail)) => {
                let id = match r.value {
                    Value::Object(o) => json_text(json_field(o, &["id"])).into_owned(),
                    _ => String::new(),
                };
                let who = if id.is_empty() {
                    r.label.clone()
                } else {
                    format!("{} (id {id})", r.label)
                };
                self.q
                    .problem(SOURCE, d, rel, r.line, reason, format!("{who}: {detail}"));
            }
            Ok(p) => {
                let who = format!("{} (id {})", r.label, p.d.id);
                for w in p.warnings {
                    self.q.problem(
                        SOURCE,
                        d,
                        rel,
                        r.line,
                        Reason::UnknownState,
                        format!("{who}: {w}"),
                    );
                }
                for m in p.missing {
                    self.q.missing(SOURCE, d, m);
                }
                let status = if p.d.status.trim().is_empty() {
                    "(vide)"
                } else {
                    p.d.status.trim()
                };
                self.q.category(SOURCE, d, &format!("status: {status}"));
                self.q
                    .category(SOURCE, d, &format!("lines: {}", p.lines_from));
                self.acc.add(day, p.d);
            }
        }
    }
}

/// The snapshot's time zone: the response's `context.timezone`, else Europe/Paris (with a note
/// when the name is unknown).
fn snapshot_tz(context: Option<&Obj>, notes: &mut Vec<String>) -> Tz {
    let name = context
        .and_then(|c| c.get("timezone"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty());
    match name.map(|n| (n, n.trim().parse::<Tz>())) {
        Some((_, Ok(z))) => z,
        Some((name, Err(_))) => {
            notes.push(format!("unknown timezone {name:?}, Europe/Paris used"));
            chrono_tz::Europe::Paris
        }
        None => chrono_tz::Europe::Paris,
    }
}

/// A Navitia / PRIM time: basic `YYYYMMDDTHHMMSS` (or `...THHMM`) in `tz`, or what
/// [`parse_instant`] accepts (ISO 8601 with or without offset). A local time skipped by a DST
/// change is read with the offset before the change (02:30 -> 03:30 summer time).
pub fn parse_time(s: &str, tz: Tz) -> Result<Instant, TimeError> {
    let s = s.trim();
    for fmt in ["%Y%m%dT%H%M%S", "%Y%m%dT%H%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return local(n, tz);
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return local(n, tz);
        }
    }
    parse_instant(s)
}

fn local(n: NaiveDateTime, tz: Tz) -> Result<Instant, TimeError> {
    let secs = match tz.from_local_datetime(&n) {
        LocalResult::Single(t) => t.timestamp(),
        LocalResult::Ambiguous(first, _) => first.timestamp(),
        LocalResult::None => match tz.from_local_datetime(&(n - Duration::hours(1))) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.timestamp() + 3600,
            LocalResult::None => return Err(TimeError::NonexistentLocal),
        },
    };
    if (0..=4_291_747_199).contains(&secs) {
        Ok(secs as Instant)
    } else {
        Err(TimeError::OutOfRange)
    }
}

fn time_reason(e: &TimeError) -> Reason {
    match e {
        TimeError::OutOfRange => Reason::DateOutOfRange,
        _ => Reason::UnparseableDate,
    }
}

fn text_of<'a>(o: &'a Obj, names: &[&str]) -> Cow<'a, str> {
    json_text(json_field(o, names))
}

/// Parses one disruption. Err: the row is rejected (reason, detail).
fn parse_disruption(o: &Obj, tz: Tz, dialect: Dialect) -> Result<Parsed, (Reason, String)> {
    let mut warnings = Vec::new();
    let mut missing = Vec::new();
    let id = text_of(o, &["id", "impact_id", "disruption_id", "disruptionId"])
        .trim()
        .to_string();
    if id.is_empty() {
        return Err((Reason::MissingKey, "field `id` is empty or missing".into()));
    }
    if let Some(e) = crate::sources::key_problem(&id) {
        return Err((Reason::MissingKey, format!("field `id` {id:?} {e}")));
    }
    let mut disruption_id = text_of(o, &["disruption_id", "disruptionId"])
        .trim()
        .to_string();
    if disruption_id.is_empty() {
        disruption_id = id.clone();
    }
    // Periods.
    let mut periods = Vec::new();
    match json_field(o, &["application_periods", "applicationPeriods", "periods"]) {
        None | Some(Value::Null) => missing.push("application_periods"),
        Some(Value::Array(a)) if a.is_empty() => missing.push("application_periods"),
        Some(Value::Array(a)) => {
            for (i, p) in a.iter().enumerate() {
                let Value::Object(po) = p else {
                    return Err((
                        Reason::UnparseableDate,
                        format!("field `application_periods[{i}]` is not a {{begin, end}} object"),
                    ));
                };
                let read = |name: &str| -> Result<Option<Instant>, (Reason, String)> {
                    let s = text_of(po, &[name]);
                    if s.trim().is_empty() {
                        return Ok(None);
                    }
                    parse_time(&s, tz).map(Some).map_err(|e| {
                        (
                            time_reason(&e),
                            format!("field `application_periods[{i}].{name}`: {s:?}: {e}"),
                        )
                    })
                };
                let Some(begin) = read("begin")? else {
                    return Err((
                        Reason::UnparseableDate,
                        format!("field `application_periods[{i}].begin` is empty or missing"),
                    ));
                };
                let end = match read("end")? {
                    Some(e) => e,
                    None => {
                        missing.push("period_end");
                        OPEN_END
                    }
                };
                if end < begin {
                    return Err((
                        Reason::Inconsistent,
                        format!(
                            "field `application_periods[{i}]`: end {} is before begin {}",
                            format_paris(end),
                            format_paris(begin)
                        ),
                    ));
                }
                periods.push(Period { begin, end });
            }
        }
        Some(other) => {
            return Err((
                Reason::UnparseableDate,
                format!(
                    "field `application_periods` is {}, not a list of periods",
                    json_kind(other)
                ),
            ))
        }
    }
    // Last update.
    let updated_raw = text_of(o, &["updated_at", "lastUpdate", "last_update", "updatedAt"]);
    let updated = if updated_raw.trim().is_empty() {
        missing.push("updated_at");
        None
    } else {
        match parse_time(&updated_raw, tz) {
            Ok(t) => Some(t),
            Err(e) => {
                warnings.push(format!(
                    "field `updated_at`: {updated_raw:?}: {e} (ignored)"
                ));
                None
            }
        }
    };
    // Severity.
    let sev = severity(o, dialect, &mut warnings, &mut missing);
    let lines_found = lines(o);
    Ok(Parsed {
        d: Disruption {
            updated,
            id,
            disruption_id,
            status: text_of(o, &["status"]).trim().to_string(),
            score: sev.score,
            severity_known: sev.known,
            navitia_priority: sev.navitia_priority,
            effect: sev.effect,
            periods,
            lines: lines_found.0.into_iter().collect(),
            cause: text_of(o, &["cause"]).trim().to_string(),
            category: text_of(o, &["category"]).trim().to_string(),
            lines_guessed: lines_guessed(lines_found.1),
        },
        warnings,
        missing,
        lines_from: lines_found.1,
    })
}

/// Lines found by the text scan or as bare ids (not named by structured objects), from the
/// origin [`lines`] gives.
fn lines_guessed(from: &str) -> bool {
    !matches!(
        from,
        "impacted objects" | "none (impacted objects are not lines)"
    )
}

/// Which feed a disruption comes from, as far as its numeric priority goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// Navitia: `severity.priority` runs backwards (0 = strongest) and is set per contributor.
    Navitia,
    /// PRIM bulk feed: a numeric severity reads "larger = more severe".
    Prim,
    /// Neither is recognisable: a numeric priority is not trusted.
    Unknown,
}

/// Fields only Navitia writes (snake_case) and only the PRIM bulk feed writes (camelCase).
const NAVITIA_KEYS: [&str; 5] = [
    "application_periods",
    "updated_at",
    "impacted_objects",
    "disruption_id",
    "impact_id",
];
const PRIM_KEYS: [&str; 7] = [
    "applicationPeriods",
    "lastUpdate",
    "impactedSections",
    "impactedObjects",
    "impactedLines",
    "shortMessage",
    "disruptionId",
];

/// The dialect of a response wrapper: Navitia's `context`, PRIM's `lastUpdatedDate`.
fn wrapper_dialect(w: Option<&Obj>) -> Dialect {
    match w {
        Some(w) if w.contains_key("context") => Dialect::Navitia,
        Some(w) if w.contains_key("lastUpdatedDate") => Dialect::Prim,
        _ => Dialect::Unknown,
    }
}

/// The dialect of one disruption: its wrapper's, else its own field names (both kinds or
/// none: unknown).
fn record_dialect(o: &Obj, wrapper: Dialect) -> Dialect {
    if wrapper != Dialect::Unknown {
        return wrapper;
    }
    let navitia = NAVITIA_KEYS.iter().any(|k| o.contains_key(*k));
    let prim = PRIM_KEYS.iter().any(|k| o.contains_key(*k));
    match (navitia, prim) {
        (true, false) => Dialect::Navitia,
        (false, true) => Dialect::Prim,
        _ => Dialect::Unknown,
    }
}

/// What a disruption's severity gives (see the module rules of `metrics::traffic`).
struct Severity {
    score: i64,
    known: bool,
    navitia_priority: Option<i64>,
    /// The `disruptions_by_effect` key.
    effect: String,
}

/// An integer, or an integer written as text.
fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(t) => t.trim().parse().ok(),
        _ => None,
    }
}

/// The severity score of a disruption: its GTFS-RT effect, else its PRIM string severity, else
/// a PRIM numeric priority, else 0 with one warning saying why.
fn severity(
    o: &Obj,
    dialect: Dialect,
    warnings: &mut Vec<String>,
    missing: &mut Vec<&'static str>,
) -> Severity {
    let sev = json_field(o, &["severity"]);
    let sev_obj = sev.and_then(Value::as_object);
    // Why no score was found, for the warning.
    let mut notes: Vec<String> = Vec::new();
    match sev {
        None | Some(Value::Null) => {
            notes.push("field `severity` is null or missing".into());
            missing.push("severity");
        }
        Some(Value::String(t)) if t.trim().is_empty() => {
            notes.push("field `severity` is empty".into());
            missing.push("severity");
        }
        _ => {}
    }
    // The raw priority, kept as is.
    let raw_priority = match sev {
        Some(Value::Object(s)) => match s.get("priority") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let p = as_int(v);
                if p.is_none() {
                    notes.push(format!("field `severity.priority`: {v} is not an integer"));
                }
                p
            }
        },
        Some(Value::Number(n)) => {
            let p = n.as_i64();
            if p.is_none() {
                notes.push(format!("field `severity`: {n} is not an integer"));
            }
            p
        }
        _ => None,
    };
    // 1. The GTFS-RT effect: `severity.effect`, else a top-level `effect`.
    let effect_raw = {
        let e = sev_obj.map(|s| text_of(s, &["effect"])).unwrap_or_default();
        if e.trim().is_empty() {
            text_of(o, &["effect"])
        } else {
            e
        }
    };
    let effect_raw = effect_raw.trim();
    let label = if !effect_raw.is_empty() {
        effect_raw.to_string()
    } else {
        match sev {
            Some(Value::Object(s)) => text_of(s, &["name"]).trim().to_uppercase(),
            Some(Value::String(t)) => t.trim().to_uppercase(),
            _ => String::new(),
        }
    };
    let found = |score: i64| Severity {
        score,
        known: true,
        navitia_priority: raw_priority,
        effect: label.clone(),
    };
    if !effect_raw.is_empty() {
        match effect_score(effect_raw) {
            Some(score) => return found(score),
            None => notes.push(format!("effect {effect_raw:?} is not a GTFS-RT effect")),
        }
    }
    // 2. A PRIM string severity (a number written as text is a PRIM numeric severity).
    if let Some(Value::String(t)) = sev {
        if !t.trim().is_empty() {
            match prim_severity_score(t) {
                Some(score) => return found(score),
                None => notes.push(format!("field `severity`: unknown value {t:?}")),
            }
        }
    }
    // 3. A numeric priority where larger is more severe: the PRIM feed.
    match (sev, raw_priority) {
        // A bare number as the severity is PRIM's form (Navitia's severity is an object).
        (Some(Value::Number(_)), Some(p)) => return found(p),
        (Some(Value::Object(_)), Some(p)) if dialect == Dialect::Prim => return found(p),
        (Some(Value::Object(_)), Some(p)) => notes.push(format!(
            "no GTFS-RT `severity.effect`, and the Navitia `severity.priority` {p} is not a \
             severity scale (0 = strongest, set per contributor)"
        )),
        (Some(Value::Object(_)), None) if notes.is_empty() => {
            notes.push("field `severity` has neither an effect nor a priority".into())
        }
        _ => {}
    }
    if notes.is_empty() {
        notes.push(format!(
            "field `severity` is {}, not an object or a string",
            sev.map(json_kind).unwrap_or("missing")
        ));
    }
    warnings.push(format!("{}: severity score 0", notes.join("; ")));
    Severity {
        score: 0,
        known: false,
        navitia_priority: raw_priority,
        effect: label,
    }
}

/// A line reference found in a structured object.
enum LineRef {
    Named(String),
    /// Only an id (`line:IDFM:C01371`): the name must come from elsewhere.
    IdOnly(String),
    NotALine,
}

fn obj<'a>(o: &'a Obj, key: &str) -> Option<&'a Obj> {
    o.get(key).and_then(Value::as_object)
}

/// A line object's mode: Navitia `commercial_mode.name`, `physical_modes[].id`, or a PRIM
/// `mode` / `transportMode` string.
fn mode_of(o: &Obj) -> Option<String> {
    if let Some(cm) = o.get("commercial_mode") {
        match cm {
            Value::Object(c) => {
                let n = text_of(c, &["name", "id"]);
                if !n.trim().is_empty() {
                    return Some(n.into_owned());
                }
            }
            Value::String(s) if !s.trim().is_empty() => return Some(s.clone()),
            _ => {}
        }
    }
    if let Some(Value::Array(pm)) = o.get("physical_modes") {
        for m in pm.iter().filter_map(Value::as_object) {
            let n = text_of(m, &["id", "name"]);
            if !n.trim().is_empty() {
                return Some(n.into_owned());
            }
        }
    }
    let m = text_of(
        o,
        &[
            "mode",
            "transportMode",
            "transport_mode",
            "physical_mode",
            "networkMode",
        ],
    );
    (!m.trim().is_empty()).then(|| m.into_owned())
}

/// Reads a line object (Navitia `line`, PRIM line / section entry).
fn line_of(l: &Obj) -> LineRef {
    let code = text_of(
        l,
        &[
            "code",
            "shortName",
            "short_name",
            "lineCode",
            "line_code",
            "publicCode",
        ],
    );
    let name = text_of(l, &["name", "lineName", "line_name", "longName"]);
    let mode = mode_of(l);
    if let Some(label) = line_label(mode.as_deref(), &code, &name) {
        return LineRef::Named(label);
    }
    let id = text_of(l, &["id", "lineId", "line_id", "lineRef", "uri"]);
    if id.trim().is_empty() {
        LineRef::NotALine
    } else {
        LineRef::IdOnly(id.trim().to_string())
    }
}

/// The line an impacted object stands for, if any.
fn line_ref(v: &Value) -> LineRef {
    let o = match v {
        Value::Object(o) => o,
        Value::String(s) if s.trim().starts_with("line:") => {
            return LineRef::IdOnly(s.trim().to_string())
        }
        Value::String(s) => {
            return match line_label(None, s, "") {
                Some(l) => LineRef::Named(l),
                None => LineRef::NotALine,
            }
        }
        _ => return LineRef::NotALine,
    };
    if let Some(pt) = obj(o, "pt_object") {
        return line_ref_typed(pt);
    }
    line_ref_typed(o)
}

fn line_ref_typed(o: &Obj) -> LineRef {
    let kind = text_of(o, &["embedded_type", "type"]).to_lowercase();
    match kind.as_str() {
        "line" => match obj(o, "line") {
            Some(l) => line_of(l),
            None => line_of(o),
        },
        "line_section" | "rail_section" | "route" => {
            let inner = obj(o, &kind).and_then(|x| obj(x, "line"));
            match inner {
                Some(l) => line_of(l),
                None => LineRef::NotALine,
            }
        }
        "" => match obj(o, "line") {
            Some(l) => line_of(l),
            None => line_of(o),
        },
        // stop_area, stop_point, network, trip, ...: not a line
        _ => LineRef::NotALine,
    }
}

/// The disruption's lines, and where they came from (for the quality categories).
///
/// Structured objects first (`impacted_objects`, `impactedSections`, `impactedObjects`,
/// `lines`, `impactedLines`). Lines named only by an id are named from the text if it names
/// lines, else kept as their id. The text is read only when there is no structured object at
/// all: a disruption whose objects are stops (a lift out of order) has no line.
fn lines(o: &Obj) -> (BTreeSet<String>, &'static str) {
    let mut structured = false;
    let mut named = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for key in [
        "impacted_objects",
        "impactedObjects",
        "impactedSections",
        "impacted_sections",
        "lines",
        "impactedLines",
    ] {
        if let Some(Value::Array(a)) = o.get(key) {
            for v in a {
                structured = true;
                match line_ref(v) {
                    LineRef::Named(l) => {
                        named.insert(l);
                    }
                    LineRef::IdOnly(id) => {
                        ids.insert(id);
                    }
                    LineRef::NotALine => {}
                }
            }
        }
    }
    if structured && ids.is_empty() {
        let from = if named.is_empty() {
            "none (impacted objects are not lines)"
        } else {
            "impacted objects"
        };
        return (named, from);
    }
    let mut text = String::new();
    if let Some(Value::Array(ms)) = o.get("messages") {
        for m in ms {
            match m {
                Value::Object(mo) => text.push_str(&text_of(mo, &["text"])),
                Value::String(s) => text.push_str(s),
                _ => {}
            }
            text.push('\n');
        }
    }
    for k in ["title", "shortMessage", "short_message", "message"] {
        text.push_str(&text_of(o, &[k]));
        text.push('\n');
    }
    let found = lines_in_text(&text);
    if !structured {
        let from = if found.is_empty() { "none" } else { "text" };
        return (found, from);
    }
    // Structured objects naming some lines only by id.
    if found.is_empty() {
        named.extend(ids);
        (named, "impacted objects (ids)")
    } else {
        named.extend(found);
        (named, "impacted objects (ids named from the text)")
    }
}

// ---------------------------------------------------------------------------------------------
// Severity scores

/// Score of a GTFS-RT style effect (Navitia `severity.effect`, PRIM `effect`): `NO_SERVICE`
/// 60; `REDUCED_SERVICE`, `SIGNIFICANT_DELAYS` 30; `DETOUR`, `MODIFIED_SERVICE`, `STOP_MOVED`
/// 15; `ADDITIONAL_SERVICE`, `OTHER_EFFECT`, `UNKNOWN_EFFECT`, `NO_EFFECT`,
/// `ACCESSIBILITY_ISSUE` 0. Case, spaces and hyphens are ignored (`no service`, `No-Service`).
/// None when the value is not a GTFS-RT effect.
pub fn effect_score(effect: &str) -> Option<i64> {
    let e: String = effect
        .trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    match e.as_str() {
        "NO_SERVICE" => Some(60),
        "REDUCED_SERVICE" | "SIGNIFICANT_DELAYS" => Some(30),
        "DETOUR" | "MODIFIED_SERVICE" | "STOP_MOVED" => Some(15),
        "ADDITIONAL_SERVICE"
        | "OTHER_EFFECT"
        | "UNKNOWN_EFFECT"
        | "NO_EFFECT"
        | "ACCESSIBILITY_ISSUE" => Some(0),
        _ => None,
    }
}

/// Score of a PRIM string severity (larger is more severe): `BLOQUANTE` (service interrupted)
/// 60 → CRITIQUE, `PERTURBEE` (disturbed) 30 → ELEVEE, `INFORMATION` 0 → FAIBLE; a number
/// written as text is a PRIM numeric severity, taken as is. Accents and case are ignored. None
/// for anything else.
pub fn prim_severity_score(s: &str) -> Option<i64> {
    let n = norm_header(s);
    match n.as_str() {
        "bloquante" | "bloquant" | "blocking" | "no service" => Some(60),
        "perturbee" | "perturbe" | "perturbation" | "disrupted" => Some(30),
        "information" | "info" | "informative" => Some(0),
        _ => n.parse::<i64>().ok(),
    }
}

// ---------------------------------------------------------------------------------------------
// Line names

/// Recognises a Navitia commercial / physical mode (name or id) or a PRIM `mode`.
pub fn detect_mode(s: &str) -> Option<Mode> {
    let n = norm_header(s).replace(' ', "");
    let n = n.rsplit(':').next().unwrap_or(&n); // `physical_mode:Metro`
    if n.contains("metro") || n == "subway" {
        Some(Mode::Metro)
    } else if n.starts_with("rer") || n.contains("rapidtransit") {
        Some(Mode::Rer)
    } else if n.contains("tram") {
        Some(Mode::Tram)
    } else if n.contains("transilien") || n.contains("localtrain") || n == "train" {
        Some(Mode::Transilien)
    } else if n.contains("bus") || n.contains("noctilien") || n == "coach" {
        Some(Mode::Bus)
    } else {
        None
    }
}

/// Metro line codes: `1`..`14`, `3bis`, `7bis` (also written `3B`, `3 bis`).
fn metro_code(code: &str) -> Option<String> {
    let c = norm_header(code).replace(' ', "");
    let (num, bis) = match c.strip_suffix("bis") {
        Some(n) => (n, true),
        None => match c.strip_suffix('b') {
            Some(n) => (n, true),
            None => (c.as_str(), false),
        },
    };
    let n: u32 = num.parse().ok()?;
    if num.starts_with('0') {
        return None;
    }
    match (n, bis) {
        (1..=14, false) => Some(n.to_string()),
        (3 | 7, true) => Some(format!("{n}bis")),
        _ => None,
    }
}

/// Tram codes: `T1`, `T3a`, `T3b`, `T13` (the `T` added when missing, the letter lower case).
fn tram_code(code: &str) -> Option<String> {
    let c = code.trim();
    let c = c.strip_prefix(['T', 't']).unwrap_or(c);
    let digits: String = c.chars().take_while(char::is_ascii_digit).collect();
    let rest = &c[digits.len()..];
    if digits.is_empty() || digits.len() > 2 || rest.len() > 1 {
        return None;
    }
    if !rest.is_empty() && !rest.eq_ignore_ascii_case("a") && !rest.eq_ignore_ascii_case("b") {
        return None;
    }
    Some(format!("T{digits}{}", rest.to_ascii_lowercase()))
}

/// Strips a leading mode word repeated in a code (`Métro 4`, `RER B`, `Ligne 8`, `Bus 72`).
fn strip_mode_words(code: &str) -> &str {
    let mut c = code.trim();
    loop {
        let lower = c.to_lowercase();
        let mut stripped = false;
        for w in [
            "métro",
            "metro",
            "ligne",
            "rer",
            "tramway",
            "tram",
            "transilien",
            "train",
            "bus",
        ] {
            if lower.starts_with(w) {
                let rest = &c[c
                    .char_indices()
                    .nth(w.chars().count())
                    .map(|(i, _)| i)
                    .unwrap_or(c.len())..];
                // only a whole word (`Tram T3a` but not `T3a`; `Bus 72` but not `Busy`)
                if rest.starts_with([' ', '\u{a0}', ':', '-']) {
                    c = rest.trim_start_matches([' ', '\u{a0}', ':', '-']);
                    stripped = true;
                    break;
                }
            }
        }
        if !stripped {
            return c;
        }
    }
}

/// The label of a line from its structured fields: `mode` (Navitia commercial mode name,
/// physical mode id or PRIM mode), `code` (short code, e.g. `3B`, `B`, `T3a`, `72`) and `name`
/// (used when the code is empty).
///
/// Scheme: `Métro 1`..`Métro 14`, `Métro 3bis`, `Métro 7bis`; `RER A`..`RER E`; `Tram T1`,
/// `Tram T3a`...; `Transilien H`..`Transilien V`; `Bus <code>` (RATP and other networks alike,
/// Noctilien included); other modes `<mode> <code>` (or the code alone when the mode name
/// already contains it); unknown mode `Ligne <code>`. None when there is neither code nor name.
pub fn line_label(mode: Option<&str>, code: &str, name: &str) -> Option<String> {
    let raw = if code.trim().is_empty() { name } else { code };
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let detected = mode.and_then(detect_mode).or_else(|| mode_from_label(raw));
    let code = strip_mode_words(raw);
    let code = if code.is_empty() { raw } else { code };
    let label = match detected {
        Some(Mode::Metro) => match metro_code(code) {
            Some(c) => format!("Métro {c}"),
            None => format!("Métro {code}"),
        },
        Some(Mode::Rer) => format!("RER {}", code.to_uppercase()),
        Some(Mode::Tram) => match tram_code(code) {
            Some(c) => format!("Tram {c}"),
            None => format!("Tram {code}"),
        },
        Some(Mode::Transilien) => format!("Transilien {}", code.to_uppercase()),
        Some(Mode::Bus) => format!("Bus {code}"),
        None => match mode.map(str::trim).filter(|m| !m.is_empty()) {
            Some(m) if !m.contains(':') => {
                if m.to_lowercase().contains(&code.to_lowercase()) {
                    code.to_string()
                } else {
                    format!("{m} {code}")
                }
            }
            _ => format!("Ligne {code}"),
        },
    };
    Some(label)
}

/// The mode a label starts with (`Métro 4`, `RER B`, `Bus 72`, `T3a`), if any.
fn mode_from_label(s: &str) -> Option<Mode> {
    let first = s.split_whitespace().next()?;
    let m = detect_mode(first);
    if m.is_some() && s.split_whitespace().count() > 1 {
        return m;
    }
    if s.split_whitespace().count() == 1 && s.starts_with('T') && tram_code(s).is_some() {
        return Some(Mode::Tram);
    }
    None
}

/// Words of a text: runs of letters and digits (HTML tags and entities become separators).
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && *w != "nbsp")
        .collect()
}

/// Fallback: lines named in a free text, case-insensitively: `ligne 4`, `ligne 3bis` /
/// `ligne 3 bis` (metro lines 1..14, 3bis, 7bis only, as the prototype), `métro 4` /
/// `métro ligne 4`, `RER B`, `tram T3a` / `tramway 2` / a bare `T3a` (capital T), `bus 72`,
/// `Transilien J` / `train J`. `ligne A` / `ligne J` are not read: the letters are shared by
/// RER, Transilien and local bus lines.
pub fn lines_in_text(text: &str) -> BTreeSet<String> {
    let text = text.replace("&nbsp;", " ");
    let w = words(&text);
    let lower: Vec<String> = w.iter().map(|s| norm_header(s)).collect();
    let mut out = BTreeSet::new();
    let next = |i: usize| lower.get(i).map(String::as_str).unwrap_or("");
    for i in 0..w.len() {
        let cur = lower[i].as_str();
        match cur {
            "ligne" | "lignes" | "metro" | "metros" => {
                let mut j = i + 1;
                if cur.starts_with("metro") && matches!(next(j), "ligne" | "line") {
                    j += 1;
                }
                let mut code = next(j).to_string();
                if next(j + 1) == "bis" {
                    code.push_str("bis");
                }
                if let Some(c) = metro_code(&code) {
                    out.insert(format!("Métro {c}"));
                }
            }
            "rer" => {
                let c = next(i + 1);
                if c.len() == 1 && ("a"..="e").contains(&c) {
                    out.insert(format!("RER {}", c.to_uppercase()));
                }
            }
            "tram" | "tramway" => {
                if let Some(c) = w.get(i + 1).and_then(|c| tram_code(c)) {
                    out.insert(format!("Tram {c}"));
                }
            }
            "bus" => {
                if let Some(c) = w.get(i + 1) {
                    if c.chars().any(|ch| ch.is_ascii_digit()) && c.len() <= 5 {
                        out.insert(format!("Bus {}", c.to_uppercase()));
                    }
                }
            }
            "transilien" | "train" => {
                let c = next(i + 1);
                if c.len() == 1 && "hjklnpruv".contains(c) {
                    out.insert(format!("Transilien {}", c.to_uppercase()));
                }
            }
            _ => {
                let orig = w[i];
                let after_tram = i > 0 && matches!(lower[i - 1].as_str(), "tram" | "tramway");
                if !after_tram && orig.starts_with('T') && orig.len() <= 4 {
                    if let Some(c) = tram_code(orig) {
                        let n: u32 = c[1..].trim_end_matches(['a', 'b']).parse().unwrap_or(0);
                        if (1..=14).contains(&n) {
                            out.insert(format!("Tram {c}"));
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;
    use serde_json::json;

    fn parse(v: Value) -> Result<Parsed, (Reason, String)> {
        let o = v.as_object().unwrap();
        parse_disruption(o, Paris, record_dialect(o, Dialect::Unknown))
    }

    /// A record of a Navitia response (`context` wrapper).
    fn parse_navitia(v: Value) -> Parsed {
        parse_disruption(v.as_object().unwrap(), Paris, Dialect::Navitia)
            .ok()
            .unwrap()
    }

    #[test]
    fn navitia_basic_times_are_paris_local() {
        // 2024-04-30 05:23:03 in Paris (summer, +02:00) = 03:23:03 UTC.
        assert_eq!(
            parse_time("20240430T052303", Paris).unwrap(),
            parse_instant("2024-04-30T03:23:03Z").unwrap()
        );
        assert_eq!(
            parse_time("20240131T2300", Paris).unwrap(),
            parse_instant("2024-01-31T22:00:00Z").unwrap()
        );
        // 02:30 on 2024-03-31 does not exist: read as 01:30 UTC (= 03:30 summer time).
        assert_eq!(
            parse_time("20240331T023000", Paris).unwrap(),
            parse_instant("2024-03-31T01:30:00Z").unwrap()
        );
        assert!(parse_time("2024043", Paris).is_err());
    }

    #[test]
    fn navitia_lines_come_from_impacted_objects() {
        let p = parse(json!({
            "id": "x", "severity": {"effect": "NO_SERVICE", "priority": 0},
            "application_periods": [{"begin": "20240430T080000", "end": "20240430T090000"}],
            "messages": [{"text": "Ligne 4 interrompue"}],
            "impacted_objects": [
                {"pt_object": {"embedded_type": "line", "line": {"code": "3B", "name": "Gallieni - Porte des Lilas", "commercial_mode": {"name": "Métro"}}}},
                {"pt_object": {"embedded_type": "line_section", "line_section": {"line": {"code": "B", "commercial_mode": {"name": "RER"}}}}},
                {"pt_object": {"embedded_type": "stop_area", "stop_area": {"name": "Nation"}}}
            ]
        }))
        .ok()
        .unwrap();
        // The text's "Ligne 4" is not used: there are structured objects.
        assert_eq!(p.d.lines, vec!["Métro 3bis", "RER B"]);
        assert_eq!(p.lines_from, "impacted objects");
        // NO_SERVICE -> score 60; Navitia's priority 0 (= strongest) kept as raw.
        assert_eq!(p.d.score, 60);
        assert_eq!(p.d.navitia_priority, Some(0));
        assert!(p.d.severity_known);
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn stop_only_objects_give_no_line_and_text_is_the_fallback() {
        let p = parse(json!({
            "id": "lift", "severity": {"priority": 30},
            "messages": [{"text": "Ligne 4 : panne d'ascenseur"}],
            "impacted_objects": [{"pt_object": {"embedded_type": "stop_area", "stop_area": {}}}]
        }))
        .ok()
        .unwrap();
        assert!(p.d.lines.is_empty());
        let p = parse(json!({
            "id": "t", "severity": {"priority": 30},
            "messages": [{"text": "Trafic perturbé ligne 7bis et RER c"}]
        }))
        .ok()
        .unwrap();
        assert_eq!(p.d.lines, vec!["Métro 7bis", "RER C"]);
        assert_eq!(p.lines_from, "text");
    }

    #[test]
    fn prim_record() {
        let p = parse(json!({
            "id": "p1", "severity": "BLOQUANTE", "lastUpdate": "20240430T044554",
            "applicationPeriods": [{"begin": "20240430T080000", "end": "20240430T180000"}],
            "title": "Métro 1 : Travaux", "impactedSections": [{"lineId": "line:IDFM:C01371"}]
        }))
        .ok()
        .unwrap();
        assert_eq!(p.d.score, 60);
        assert_eq!(p.d.navitia_priority, None);
        assert_eq!(p.d.effect, "BLOQUANTE");
        assert_eq!(p.d.lines, vec!["Métro 1"]);
        assert_eq!(
            p.d.updated,
            Some(parse_instant("2024-04-30T04:45:54+02:00").unwrap())
        );
        // id only and no line in the text: the id is kept
        let p = parse(json!({
            "id": "p2", "severity": "PERTURBEE", "title": "Travaux",
            "impactedSections": [{"lineId": "line:IDFM:C01742"}]
        }))
        .ok()
        .unwrap();
        assert_eq!(p.d.lines, vec!["line:IDFM:C01742"]);
        assert_eq!(p.missing, vec!["application_periods", "updated_at"]);
    }

    #[test]
    fn null_severity_is_score_zero_with_a_warning() {
        let p = parse(json!({"id": "n", "severity": null})).ok().unwrap();
        assert_eq!((p.d.score, p.d.severity_known), (0, false));
        assert_eq!(p.warnings.len(), 1);
        assert!(p.missing.contains(&"severity"));
        let p = parse(json!({"id": "n", "severity": {"name": "x", "priority": null}}))
            .ok()
            .unwrap();
        assert_eq!((p.d.score, p.d.severity_known), (0, false));
        assert_eq!(p.d.effect, "X");
        let p = parse(json!({"id": "n", "severity": "WHATEVER"}))
            .ok()
            .unwrap();
        assert_eq!((p.d.score, p.d.severity_known), (0, false));
        assert_eq!(p.warnings.len(), 1);
        // a null priority does not matter when the effect gives the score
        let p =
            parse(json!({"id": "n", "severity": {"effect": "REDUCED_SERVICE", "priority": null}}))
                .ok()
                .unwrap();
        assert_eq!((p.d.score, p.d.severity_known), (30, true));
        assert_eq!(p.d.navitia_priority, None);
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn the_effect_comes_first_whatever_the_priority() {
        // Navitia, real IDFM values: bloquante NO_SERVICE priority 0, perturbée
        // SIGNIFICANT_DELAYS priority 30.
        let p = parse_navitia(
            json!({"id": "a", "severity": {"name": "bloquante", "effect": "NO_SERVICE", "priority": 0}}),
        );
        assert_eq!((p.d.score, p.d.navitia_priority), (60, Some(0)));
        let p = parse_navitia(
            json!({"id": "b", "severity": {"name": "perturbée", "effect": "SIGNIFICANT_DELAYS", "priority": 30}}),
        );
        assert_eq!((p.d.score, p.d.navitia_priority), (30, Some(30)));
        for (effect, score) in [("DETOUR", 15), ("STOP_MOVED", 15), ("OTHER_EFFECT", 0)] {
            let p =
                parse_navitia(json!({"id": "c", "severity": {"effect": effect, "priority": 99}}));
            assert_eq!((p.d.score, p.d.severity_known), (score, true), "{effect}");
        }
        // PRIM: a top-level effect wins over the string severity.
        let p = parse(json!({"id": "p", "severity": "INFORMATION", "effect": "NO_SERVICE", "lastUpdate": "20240430T044554"})).ok().unwrap();
        assert_eq!((p.d.score, p.d.effect.as_str()), (60, "NO_SERVICE"));
        // An effect that is not a GTFS-RT effect: the PRIM string severity applies.
        let p = parse(json!({"id": "p", "severity": "PERTURBEE", "effect": "ralenti"}))
            .ok()
            .unwrap();
        assert_eq!((p.d.score, p.d.severity_known), (30, true));
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn a_navitia_priority_alone_is_not_a_score() {
        // In a Navitia response: 0 with a warning, the raw value kept.
        let p = parse_navitia(json!({"id": "a", "severity": {"name": "bloquante", "priority": 0}}));
        assert_eq!((p.d.score, p.d.severity_known), (0, false));
        assert_eq!(p.d.navitia_priority, Some(0));
        assert_eq!(p.warnings.len(), 1);
        assert!(
            p.warnings[0].contains("not a severity scale"),
            "{}",
            p.warnings[0]
        );
        let p = parse_navitia(json!({"id": "a", "severity": {"priority": 60}}));
        assert_eq!((p.d.score, p.d.navitia_priority), (0, Some(60)));
        // Navitia field names, no wrapper: the same.
        let p = parse(
            json!({"id": "a", "updated_at": "20240430T044554", "severity": {"priority": 60}}),
        )
        .ok()
        .unwrap();
        assert_eq!((p.d.score, p.d.severity_known), (0, false));
        // Neither dialect recognisable: not trusted either.
        let p = parse(json!({"id": "a", "severity": {"priority": 60}}))
            .ok()
            .unwrap();
        assert_eq!((p.d.score, p.d.severity_known), (0, false));
        // A PRIM record (camelCase fields): larger = more severe, taken as is.
        let p = parse(
            json!({"id": "a", "lastUpdate": "20240430T044554", "severity": {"priority": 55}}),
        )
        .ok()
        .unwrap();
        assert_eq!(
            (p.d.score, p.d.severity_known, p.d.navitia_priority),
            (55, true, Some(55))
        );
        // A PRIM wrapper (`lastUpdatedDate`) makes its records PRIM.
        let o = json!({"id": "a", "severity": {"priority": 55}});
        let p = parse_disruption(
            o.as_object().unwrap(),
            Paris,
            record_dialect(o.as_object().unwrap(), Dialect::Prim),
        )
        .ok()
        .unwrap();
        assert_eq!(p.d.score, 55);
        // A bare number as the severity is PRIM's form.
        let p = parse(json!({"id": "a", "severity": 20})).ok().unwrap();
        assert_eq!((p.d.score, p.d.navitia_priority), (20, Some(20)));
        // Dialects.
        let wrapper = json!({"context": {}});
        assert_eq!(wrapper_dialect(wrapper.as_object()), Dialect::Navitia);
        let wrapper = json!({"lastUpdatedDate": "x"});
        assert_eq!(wrapper_dialect(wrapper.as_object()), Dialect::Prim);
        let both = json!({"updated_at": "x", "lastUpdate": "y"});
        assert_eq!(
            record_dialect(both.as_object().unwrap(), Dialect::Unknown),
            Dialect::Unknown
        );
    }

    #[test]
    fn rejects() {
        let e = parse(json!({"severity": null})).err().unwrap();
        assert_eq!(e.0, Reason::MissingKey);
        let e = parse(json!({"id": "a", "application_periods": [{"begin": "nope", "end": "20240101T000000"}]}))
            .err()
            .unwrap();
        assert_eq!(e.0, Reason::UnparseableDate);
        assert!(e.1.contains("application_periods[0].begin"), "{}", e.1);
        let e = parse(json!({"id": "a", "application_periods": [{"begin": "20240102T000000", "end": "20240101T000000"}]}))
            .err()
            .unwrap();
        assert_eq!(e.0, Reason::Inconsistent);
        // a period without end stays open (counted as missing)
        let p = parse(json!({"id": "a", "severity": "PERTURBEE", "applicationPeriods": [{"begin": "20240102T000000"}]}))
            .ok()
            .unwrap();
        assert_eq!(p.d.periods[0].end, OPEN_END);
        assert!(p.missing.contains(&"period_end"));
    }

    #[test]
    fn line_labels() {
        let cases = [
            (Some("Métro"), "3B", "", "Métro 3bis"),
            (Some("Métro"), "7bis", "", "Métro 7bis"),
            (Some("Metro"), "14", "", "Métro 14"),
            (Some("RER"), "b", "", "RER B"),
            (Some("physical_mode:RapidTransit"), "A", "", "RER A"),
            (Some("Tramway"), "T3a", "", "Tram T3a"),
            (Some("Tramway"), "3B", "", "Tram T3b"),
            (Some("Transilien"), "J", "", "Transilien J"),
            (Some("Bus"), "72", "", "Bus 72"),
            (Some("Bus"), "", "Bus 272", "Bus 272"),
            (Some("Noctilien"), "N01", "", "Bus N01"),
            (Some("Orlyval, CDG VAL"), "CDG VAL", "", "CDG VAL"),
            (None, "", "Métro 4", "Métro 4"),
            (None, "T2", "", "Tram T2"),
            (None, "C01371", "", "Ligne C01371"),
        ];
        for (mode, code, name, want) in cases {
            assert_eq!(
                line_label(mode, code, name).as_deref(),
                Some(want),
                "{mode:?} {code} {name}"
            );
        }
        assert_eq!(line_label(Some("Bus"), " ", ""), None);
    }

    #[test]
    fn lines_from_text() {
        let got = lines_in_text(
            "Trafic interrompu LIGNE 3bis et ligne 7 bis, Métro ligne 4, <p>ligne&nbsp;13</p> \
             RER b, tram T3a, T1 et Bus 72 ; ligne 272 ; ligne 15 ; Transilien J ; ligne A",
        );
        let want: BTreeSet<String> = [
            "Métro 3bis",
            "Métro 7bis",
            "Métro 4",
            "Métro 13",
            "RER B",
            "Tram T3a",
            "Tram T1",
            "Bus 72",
            "Transilien J",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(got, want);
        assert!(lines_in_text("Panne d'un ascenseur Voie A, direction PARIS").is_empty());
    }

    #[test]
    fn prim_severities() {
        assert_eq!(prim_severity_score("BLOQUANTE"), Some(60));
        assert_eq!(prim_severity_score("Perturbée"), Some(30));
        assert_eq!(prim_severity_score("INFORMATION"), Some(0));
        assert_eq!(prim_severity_score("20"), Some(20));
        assert_eq!(prim_severity_score("???"), None);
    }

    #[test]
    fn effect_scores() {
        let cases = [
            ("NO_SERVICE", Some(60)),
            ("no service", Some(60)),
            ("Reduced-Service", Some(30)),
            ("SIGNIFICANT_DELAYS", Some(30)),
            ("DETOUR", Some(15)),
            ("MODIFIED_SERVICE", Some(15)),
            ("STOP_MOVED", Some(15)),
            ("ADDITIONAL_SERVICE", Some(0)),
            ("OTHER_EFFECT", Some(0)),
            ("UNKNOWN_EFFECT", Some(0)),
            ("NO_EFFECT", Some(0)),
            ("ACCESSIBILITY_ISSUE", Some(0)),
            ("bloquante", None),
            ("", None),
        ];
        for (e, want) in cases {
            assert_eq!(effect_score(e), want, "{e:?}");
        }
    }
}
