//! Road counters (`comptages-routiers-permanents*.csv`, and the Opendatasoft API JSON with the
//! technical names `iu_ac`, `t_1h`, `q`, `k`...): rows -> [`ComptagesAcc`].
//!
//! Rows are used by their measurements whatever their `Etat arc` (real exports mark nearly every
//! row `Invalide` while carrying valid counts); the `Etat arc` distribution goes to the quality
//! report. A big CSV is read in batches parsed on all threads; memory stays bounded by the batch
//! queue plus the per arc-day accumulators.

use std::borrow::Cow;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

use chrono::NaiveDate;
use rayon::prelude::*;
use serde_json::Value;

use rustc_hash::FxHashMap;

use crate::bigcsv::{self, Field};
use crate::discover::{Format, InputFile};
use crate::fixed::{parse_scaled, scaled_from_f64, NumError};
use crate::input::{open_csv_columns, read_json, trim, ColumnSpec};
use crate::metrics::comptages::shared::{SharedAcc, SharedWriter};
use crate::metrics::comptages::{
    ComptagesAcc, ShapeRef, Slot, State, StaticRef, K_DIGITS, NONE, Q_DIGITS,
};
use crate::quality::{QualityAcc, Reason, SourceQuality};
use crate::sources::{json_field, json_point, json_text, key_problem, DaySelection};
use crate::time::{paris_day, parse_instant, Instant, TimeError};

pub const SOURCE: &str = "comptages";

/// Road counters, as a dataset of the pipeline: the exports are read by [`read_file`] (big ones in
/// parallel byte ranges), then the rows are grouped by day once, with each arc's static facts
/// resolved against the arrondissements and the référentiel ([`Prepared`]); a day's metrics
/// (~3 MB) are written by hand.
///
/// [`Prepared`]: crate::metrics::comptages::Prepared
pub struct Comptages;

impl super::dataset::Dataset for Comptages {
    const FILES: crate::discover::FileKind = crate::discover::FileKind {
        name: SOURCE,
        api: &["comptages*", "road_counters"],
        batch: &["comptages"],
    };
    const PROGRESS: bool = true;
    type Acc = ComptagesAcc;
    type Ready = crate::metrics::comptages::Prepared;
    type Metrics = crate::metrics::comptages::ComptagesMetrics;

    fn read_file(
        f: &InputFile,
        sel: &DaySelection,
        q: &mut QualityAcc,
        progress: super::dataset::Progress,
    ) -> Self::Acc {
        let out = read_file(f, sel, progress);
        q.merge(out.quality);
        q.outside(SOURCE, out.rows_outside);
        out.acc
    }
    fn merge(acc: &mut Self::Acc, other: Self::Acc) {
        acc.merge(other);
    }
    /// Marks the référentiel's arcs that have rows, and groups the rows by day; over the
    /// memory budget, leaves the census of the arc-days instead (and no rows).
    fn finish(mut acc: Self::Acc, shared: &mut super::dataset::Shared) -> Self::Ready {
        if crate::budget::spent() {
            shared.census = Some(acc.census());
            acc.drop_rows();
        }
        shared.road_last_day = acc.last_day();
        shared.active_arcs = acc.arc_ids().map(str::to_string).collect();
        for (id, a) in shared.referentiel.iter_mut() {
            a.actif = shared.active_arcs.contains(id);
        }
        let ctx = crate::metrics::comptages::Context {
            arrondissements: &shared.arrondissements,
            referentiel: &shared.referentiel,
        };
        let prepared = crate::metrics::comptages::prepare(acc, &ctx);
        for w in &prepared.warnings {
            let detail = w.detail.clone();
            shared
                .quality
                .problem(SOURCE, None, &w.file, w.line, w.reason, detail);
        }
        prepared
    }
    fn days(p: &Self::Ready) -> std::collections::BTreeSet<NaiveDate> {
        p.days().collect()
    }
    fn day_metrics(
        p: &Self::Ready,
        day: NaiveDate,
        _: &crate::geo::ArrondissementIndex,
    ) -> Option<Self::Metrics> {
        p.metrics(day)
    }
    /// Written by hand (tested byte for byte against serde); the report reads a trimmed copy
    /// (keeps the metrics of many days cheap to hold).
    fn write_metrics(m: Self::Metrics, out: &mut Vec<u8>, level: usize) -> Value {
        m.write_json(out, level);
        serde_json::json!({
            "global_metrics": m.global_metrics,
            "top_10_troncons": m.top_10_troncons,
            "top_10_zones_congestionnees": m.top_10_zones_congestionnees,
            "alertes_congestion": m.alertes_congestion.iter().take(20).collect::<Vec<_>>(),
        })
    }
    fn tables(
        p: &Self::Ready,
        day: NaiveDate,
        m: &Self::Metrics,
        _: &crate::geo::ArrondissementIndex,
    ) -> Vec<crate::analytics::Table> {
        crate::analytics::road_counters(day, m, &p.hours(day))
    }
    fn duplicates(p: &Self::Ready, day: Option<NaiveDate>) -> crate::metrics::DayDuplicates {
        day.and_then(|d| p.duplicates.get(&d))
            .cloned()
            .unwrap_or_default()
    }
}

const ARC: usize = 0;
const LIBELLE: usize = 1;
const T: usize = 2;
const Q: usize = 3;
const K: usize = 4;
const ETAT: usize = 5;
const ETAT_ARC: usize = 6;
const POINT: usize = 7;
const SHAPE: usize = 8;

/// Column names (CSV export) and their aliases (API technical names).
pub const COLUMNS: [ColumnSpec; 9] = [
    ColumnSpec::required("Identifiant arc", &["iu_ac"]),
    ColumnSpec::optional("Libelle", &["libelle"]),
    ColumnSpec::required("Date et heure de comptage", &["t_1h"]),
    ColumnSpec::required("Débit horaire", &["q"]),
    ColumnSpec::required("Taux d'occupation", &["k"]),
    ColumnSpec::optional("Etat trafic", &["etat_trafic"]),
    ColumnSpec::optional("Etat arc", &["etat_barre"]),
    ColumnSpec::optional("geo_point_2d", &["Geo Point", "geo_point"]),
    ColumnSpec::optional("geo_shape", &["Geo Shape", "geom"]),
];

/// What reading one file produced. Mergeable.
#[derive(Debug, Default)]
pub struct FileOutput {
    pub acc: ComptagesAcc,
    pub quality: QualityAcc,
    /// Rows whose day is outside the run's selection (not counted anywhere else).
    pub rows_outside: u64,
}

impl FileOutput {
    pub fn merge(mut self, o: FileOutput) -> FileOutput {
        self.acc.merge(o.acc);
        self.quality.merge(o.quality);
        self.rows_outside += o.rows_outside;
        self
    }
}

/// A number field as found in the input.
enum NumIn<'a> {
    Text(&'a str),
    Json(Option<&'a Value>),
}

/// One row, decoded, before validation.
struct Row<'a> {
    arc: Cow<'a, str>,
    t: Cow<'a, str>,
    q: NumIn<'a>,
    k: NumIn<'a>,
    etat_trafic: Cow<'a, str>,
    etat_arc: Cow<'a, str>,
    libelle: Cow<'a, str>,
    geo_point: Cow<'a, str>,
    geo_shape: ShapeRef<'a>,
    /// A text field that was not UTF-8 (decoded with replacement characters).
    bad_text: Option<&'static str>,
}

fn scaled(v: &NumIn<'_>, digits: u32) -> Result<Option<i64>, (NumError, String)> {
    match v {
        NumIn::Text(s) => parse_scaled(s, digits).map_err(|e| (e, format!("{s:?}"))),
        NumIn::Json(None) | NumIn::Json(Some(Value::Null)) => Ok(None),
        NumIn::Json(Some(Value::Number(n))) => match n.as_f64() {
            Some(x) => scaled_from_f64(x, digits)
                .map(Some)
                .map_err(|e| (e, n.to_string())),
            None => Err((NumError::Invalid, n.to_string())),
        },
        NumIn::Json(Some(Value::String(s))) => {
            parse_scaled(s, digits).map_err(|e| (e, format!("{s:?}")))
        }
        NumIn::Json(Some(other)) => Err((NumError::Invalid, other.to_string())),
    }
}

/// Where validated rows and their quality events go: a file's own [`FileOutput`], or a thread's
/// share of a big file read in parallel ([`ChunkSink`]).
trait Sink {
    fn row(&mut self, day: Option<NaiveDate>);
    fn problem(&mut self, day: Option<NaiveDate>, line: u64, reason: Reason, detail: String);
    fn category(&mut self, day: NaiveDate, value: &str);
    fn missing(&mut self, day: NaiveDate, field: &'static str);
    /// A row outside the run's days.
    fn outside(&mut self);
    /// A row of `day` was read, in the run's days or not.
    fn dated(&mut self, day: NaiveDate);
    /// A row's static fields, offered for its arc's description (every row with a time and an
    /// id, in the run's days or not).
    fn describe(&mut self, arc: &str, t: Instant, st: &StaticRef<'_>, line: u64);
    /// A valid row of the run's days (its static fields offered too).
    fn add(&mut self, arc: &str, day: NaiveDate, slot: Slot, st: &StaticRef<'_>, line: u64);
}

/// The simple path's sink.
struct FileSink<'a> {
    out: &'a mut FileOutput,
    file: &'a Arc<str>,
}

impl Sink for FileSink<'_> {
    fn row(&mut self, day: Option<NaiveDate>) {
        self.out.quality.row(SOURCE, day, self.file);
    }
    fn problem(&mut self, day: Option<NaiveDate>, line: u64, reason: Reason, detail: String) {
        self.out
            .quality
            .problem(SOURCE, day, self.file, line, reason, detail);
    }
    fn category(&mut self, day: NaiveDate, value: &str) {
        self.out.quality.category(SOURCE, Some(day), value);
    }
    fn missing(&mut self, day: NaiveDate, field: &'static str) {
        self.out.quality.missing(SOURCE, Some(day), field);
    }
    fn outside(&mut self) {
        self.out.rows_outside += 1;
    }
    fn dated(&mut self, day: NaiveDate) {
        self.out.acc.note_day(Some(day));
    }
    fn describe(&mut self, arc: &str, t: Instant, st: &StaticRef<'_>, line: u64) {
        self.out.acc.describe(arc, t, st, self.file, line);
    }
    fn add(&mut self, arc: &str, day: NaiveDate, slot: Slot, st: &StaticRef<'_>, line: u64) {
        self.out.acc.add(arc, day, slot, st, self.file, line);
    }
}

/// Validates one row and adds it. Returns nothing: every outcome is counted in `out`.
fn add_row(out: &mut impl Sink, line: u64, row: Row<'_>, sel: &DaySelection) {
    let t = match parse_instant(&row.t) {
        Ok(t) => t,
        Err(e) => {
            reject_time(out, line, &row.t, e);
            return;
        }
    };
    let day: NaiveDate = paris_day(t);
    out.dated(day);
    let st = StaticRef {
        libelle: &row.libelle,
        geo_point: &row.geo_point,
        geo_shape: row.geo_shape,
    };
    if !sel.contains(day) {
        out.outside();
        let arc = trim(&row.arc);
        if !arc.is_empty() && key_problem(arc).is_none() {
            out.describe(arc, t, &st, line);
        }
        return;
    }
    let d = Some(day);
    out.row(d);
    if let Some(name) = row.bad_text {
        let detail =
            format!("field `{name}` is not valid UTF-8 (kept with replacement characters)");
        out.problem(d, line, Reason::InvalidUtf8Text, detail);
    }
    let etat_arc = trim(&row.etat_arc);
    out.category(
        day,
        if etat_arc.is_empty() {
            "(vide)"
        } else {
            etat_arc
        },
    );
    let arc = trim(&row.arc);
    if arc.is_empty() {
        out.problem(
            d,
            line,
            Reason::MissingKey,
            "field `Identifiant arc` is empty".into(),
        );
        return;
    }
    if let Some(e) = key_problem(arc) {
        let detail = format!("field `Identifiant arc` {arc:?} {e}");
        out.problem(d, line, Reason::MissingKey, detail);
        return;
    }
    let Some(nums) = measures(out, d, line, &row) else {
        out.describe(arc, t, &st, line);
        return;
    };
    let state = match parse_state(&row.etat_trafic) {
        Some(s) => s,
        None => {
            let detail = format!(
                "field `Etat trafic`: unknown state {:?}, counted as not given",
                row.etat_trafic
            );
            out.problem(d, line, Reason::UnknownState, detail);
            State::Empty
        }
    };
    if nums[0] == NONE {
        out.missing(day, "debit_horaire");
    }
    if nums[1] == NONE {
        out.missing(day, "taux_occupation");
    }
    if state == State::Empty {
        out.missing(day, "etat_trafic");
    }
    let slot = Slot::new(t, nums[0], nums[1], state);
    out.add(arc, day, slot, &st, line);
}

/// A row whose time cannot be read: counted (undated) and rejected.
fn reject_time(out: &mut impl Sink, line: u64, raw: &str, e: TimeError) {
    let reason = match e {
        TimeError::OutOfRange => Reason::DateOutOfRange,
        _ => Reason::UnparseableDate,
    };
    out.row(None);
    let shown = if raw.is_empty() {
        "empty".to_string()
    } else {
        format!("{raw:?}")
    };
    out.problem(
        None,
        line,
        reason,
        format!("field `Date et heure de comptage`: {shown}: {e}"),
    );
}

/// The row's flow and occupancy, scaled ([`NONE`] when not given). None: one is unreadable or
/// out of range (the row is rejected).
fn measures(
    out: &mut impl Sink,
    d: Option<NaiveDate>,
    line: u64,
    row: &Row<'_>,
) -> Option<[i32; 2]> {
    let mut nums = [NONE; 2];
    for (i, (v, digits, name, max)) in [
        (&row.q, Q_DIGITS, "Débit horaire", None),
        (&row.k, K_DIGITS, "Taux d'occupation", Some(100)),
    ]
    .into_iter()
    .enumerate()
    {
        match scaled(v, digits) {
            Ok(None) => {}
            Ok(Some(x)) => {
                let unit = 10i64.pow(digits);
                let too_big = max.is_some_and(|m| x > m * unit) || x > i64::from(i32::MAX);
                if x < 0 || too_big {
                    let r = if max.is_some() { "0..100" } else { ">= 0" };
                    let detail =
                        format!("field `{name}`: {} is outside {r}", x as f64 / unit as f64);
                    out.problem(d, line, Reason::ValueOutOfRange, detail);
                    return None;
                }
                nums[i] = x as i32;
            }
            Err((e, shown)) => {
                let (reason, what) = match e {
                    NumError::Invalid => (Reason::BadNumber, "not a number"),
                    NumError::OutOfRange => (Reason::ValueOutOfRange, "out of range"),
                };
                out.problem(
                    d,
                    line,
                    reason,
                    format!("field `{name}`: {shown} is {what}"),
                );
                return None;
            }
        }
    }
    Some(nums)
}

/// Reads one comptages file (CSV or JSON). Never fails: problems are in the quality counters.
pub fn read_file(f: &InputFile, sel: &DaySelection, progress: &(dyn Fn(u64) + Sync)) -> FileOutput {
    match f.format {
        Format::Csv => read_csv(f, sel, progress),
        Format::Json => {
            let out = read_json_file(f, sel);
            progress(f.size);
            out
        }
    }
}

const BATCH: usize = 4096;

/// Files below this size are read sequentially (the parallel path's set-up is not worth it).
const PARALLEL_MIN_BYTES: u64 = 8 << 20;

fn read_csv(f: &InputFile, sel: &DaySelection, progress: &(dyn Fn(u64) + Sync)) -> FileOutput {
    let parallel = f.size >= PARALLEL_MIN_BYTES || std::env::var_os(FORCE_PARALLEL).is_some();
    if parallel && std::env::var_os(FORCE_SEQUENTIAL).is_none() {
        if let Some(out) = read_csv_parallel(f, sel, progress) {
            return out;
        }
    }
    read_csv_sequential(f, sel, progress)
}

/// Test and benchmark switches: read every CSV with the parallel path (even small ones), or
/// with the sequential one (the reference the parallel path must equal byte for byte).
pub const FORCE_PARALLEL: &str = "CITYFLOW_CSV_PARALLEL";
pub const FORCE_SEQUENTIAL: &str = "CITYFLOW_CSV_SEQUENTIAL";

/// The sequential reader: the csv crate on one thread, rows parsed in batches on all threads.
fn read_csv_sequential(
    f: &InputFile,
    sel: &DaySelection,
    progress: &(dyn Fn(u64) + Sync),
) -> FileOutput {
    let file: Arc<str> = Arc::from(f.rel.as_str());
    let mut out = FileOutput::default();
    let Some((input, cols)) = open_csv_columns(f, SOURCE, &COLUMNS, &mut out.quality) else {
        progress(f.size);
        return out;
    };
    let width = input.header.len();
    let mut reader = input.reader;
    let mut lines = input.lines;
    // Batches of (record, physical line).
    let (tx, rx) = sync_channel::<Vec<(csv::ByteRecord, u64)>>(4);
    std::thread::scope(|s| {
        let file_r = file.clone();
        let reader_thread = s.spawn(move || -> (QualityAcc, u64) {
            let mut q = QualityAcc::default();
            let mut last_pos = 0u64;
            loop {
                let mut batch = Vec::with_capacity(BATCH);
                let mut done = false;
                while batch.len() < BATCH {
                    let mut rec = csv::ByteRecord::new();
                    match reader.read_byte_record(&mut rec) {
                        Ok(true) => {
                            let line = lines.line_of(rec.position());
                            batch.push((rec, line));
                        }
                        Ok(false) => {
                            done = true;
                            break;
                        }
                        Err(e) => {
                            let line = lines.line_of(e.position());
                            q.row(SOURCE, None, &file_r).problem(
                                line,
                                Reason::ReadError,
                                e.to_string(),
                            );
                            done = true;
                            break;
                        }
                    }
                }
                let pos = reader.position().byte();
                progress(pos.saturating_sub(last_pos));
                last_pos = pos;
                if !batch.is_empty() && tx.send(batch).is_err() {
                    break;
                }
                if done {
                    break;
                }
            }
            drop(tx);
            (q, last_pos)
        });
        let parsed = rx
            .into_iter()
            .par_bridge()
            .fold(FileOutput::default, |mut o, batch| {
                let mut sink = FileSink {
                    out: &mut o,
                    file: &file,
                };
                for (rec, line) in &batch {
                    csv_record(&mut sink, *line, rec, None, &cols, width, sel);
                }
                o
            })
            .reduce(FileOutput::default, FileOutput::merge);
        let (q, _) = reader_thread.join().expect("CSV reader thread panicked");
        out = parsed;
        out.quality.merge(q);
    });
    out
}

/// A CSV record's fields: the csv crate's, or a line split in place by [`bigcsv::split_line_blocks`].
trait Record {
    fn width(&self) -> usize;
    fn raw(&self, i: usize) -> &[u8];
    /// The field still holds doubled quotes.
    fn escaped(&self, i: usize) -> bool;
}

impl Record for csv::ByteRecord {
    fn width(&self) -> usize {
        self.len()
    }
    fn raw(&self, i: usize) -> &[u8] {
        self.get(i).unwrap_or(b"")
    }
    fn escaped(&self, _: usize) -> bool {
        false
    }
}

impl Record for [Field<'_>] {
    fn width(&self) -> usize {
        self.len()
    }
    fn raw(&self, i: usize) -> &[u8] {
        self.get(i).map(|f| f.raw).unwrap_or(b"")
    }
    fn escaped(&self, i: usize) -> bool {
        self.get(i).is_some_and(|f| f.escaped)
    }
}

/// `b` as text: when it lies inside `base` (text already checked, e.g. a whole chunk), that part
/// of it (no second check); otherwise checked here.
fn as_text<'a>(b: &'a [u8], base: Option<&'a str>) -> Option<&'a str> {
    if let Some(s) = base {
        let start = (b.as_ptr() as usize).wrapping_sub(s.as_ptr() as usize);
        if start <= s.len() && b.len() <= s.len() - start {
            if let Some(t) = s.get(start..start + b.len()) {
                return Some(t);
            }
        }
    }
    simdutf8::basic::from_utf8(b).ok()
}

/// One record: `base`, when given, is valid text holding every field of `rec`.
fn csv_record<'r, R: Record + ?Sized>(
    out: &mut impl Sink,
    line: u64,
    rec: &'r R,
    base: Option<&'r str>,
    cols: &[Option<usize>],
    width: usize,
    sel: &DaySelection,
) {
    if rec.width() != width {
        out.row(None);
        let detail = crate::input::wrong_width_detail(width, rec.width());
        out.problem(None, line, Reason::WrongColumnCount, detail);
        return;
    }
    let raw = |i: usize| cols[i].map(|c| rec.raw(c)).unwrap_or(b"");
    // Key fields must be UTF-8; text fields are decoded leniently with a warning.
    let mut strict = [""; 5];
    for (slot, (i, name)) in strict.iter_mut().zip([
        (ARC, "Identifiant arc"),
        (T, "Date et heure de comptage"),
        (Q, "Débit horaire"),
        (K, "Taux d'occupation"),
        (ETAT, "Etat trafic"),
    ]) {
        match as_text(raw(i), base) {
            Some(s) => *slot = s,
            None => {
                out.row(None);
                let detail = format!("field `{name}` is not valid UTF-8");
                out.problem(None, line, Reason::InvalidUtf8, detail);
                return;
            }
        }
    }
    let mut bad_text = None;
    let mut lossy = |i: usize, name: &'static str| -> Cow<'_, str> {
        let b = raw(i);
        match as_text(b, base) {
            Some(s) => Cow::Borrowed(s),
            None => {
                bad_text.get_or_insert(name);
                String::from_utf8_lossy(b)
            }
        }
    };
    let libelle = lossy(LIBELLE, "Libelle");
    let etat_arc = lossy(ETAT_ARC, "Etat arc");
    let geo_point = lossy(POINT, "geo_point_2d");
    let geo_shape = lossy(SHAPE, "geo_shape");
    if let Some(name) = bad_text {
        let detail =
            format!("field `{name}` is not valid UTF-8 (kept with replacement characters)");
        out.problem(None, line, Reason::InvalidUtf8Text, detail);
    }
    let shape_escaped = cols[SHAPE].is_some_and(|c| rec.escaped(c));
    let row = Row {
        arc: Cow::Borrowed(strict[0]),
        t: Cow::Borrowed(strict[1]),
        q: NumIn::Text(strict[2]),
        k: NumIn::Text(strict[3]),
        etat_trafic: Cow::Borrowed(strict[4]),
        etat_arc,
        libelle,
        geo_point,
        geo_shape: if shape_escaped {
            ShapeRef::Escaped(&geo_shape)
        } else {
            ShapeRef::Text(&geo_shape)
        },
        bad_text,
    };
    add_row(out, line, row, sel);
}

/// A thread's share of a big file read in parallel: rows go to the shared accumulator (through a
/// local cache of arc handles), per-day counters stay local until the end (no shared map touched
/// per row), problems go to a local [`QualityAcc`].
struct ChunkSink<'a> {
    writer: SharedWriter<'a>,
    file: Arc<str>,
    /// The writer's numbers of the arcs: ids of up to 15 bytes packed in a `u128` (compared
    /// without following a pointer), longer ones apart.
    arcs: FxHashMap<u128, u32>,
    long_arcs: FxHashMap<Box<str>, u32>,
    days: FxHashMap<NaiveDate, SourceQuality>,
    quality: QualityAcc,
    outside: u64,
    last_day: Option<NaiveDate>,
}

impl ChunkSink<'_> {
    /// The writer's number of `arc`.
    fn arc_number(&mut self, arc: &str) -> u32 {
        let w = &mut self.writer;
        match inline_key(arc) {
            Some(k) => *self.arcs.entry(k).or_insert_with(|| w.arc(arc)),
            None => match self.long_arcs.get(arc) {
                Some(a) => *a,
                None => *self
                    .long_arcs
                    .entry(arc.into())
                    .or_insert_with(|| w.arc(arc)),
            },
        }
    }

    fn day(&mut self, day: NaiveDate) -> &mut SourceQuality {
        self.days.entry(day).or_insert_with(|| SourceQuality {
            files: [self.file.to_string()].into(),
            ..SourceQuality::default()
        })
    }

    fn merge(mut self, o: Self) -> Self {
        self.quality.merge(o.quality);
        for (d, c) in o.days {
            self.day(d).merge(c);
        }
        self.outside += o.outside;
        self.last_day = self.last_day.max(o.last_day);
        o.writer.finish();
        self
    }
}

impl Sink for ChunkSink<'_> {
    fn row(&mut self, day: Option<NaiveDate>) {
        match day {
            Some(d) => self.day(d).rows_read += 1,
            None => {
                self.quality.row(SOURCE, None, &self.file);
            }
        }
    }
    fn problem(&mut self, day: Option<NaiveDate>, line: u64, reason: Reason, detail: String) {
        self.quality
            .problem(SOURCE, day, &self.file, line, reason, detail);
    }
    fn category(&mut self, day: NaiveDate, value: &str) {
        let c = &mut self.day(day).categories;
        match c.get_mut(value) {
            Some(n) => *n += 1,
            None => {
                c.insert(value.to_string(), 1);
            }
        }
    }
    fn missing(&mut self, day: NaiveDate, field: &'static str) {
        *self.day(day).missing.entry(field).or_default() += 1;
    }
    fn outside(&mut self) {
        self.outside += 1;
    }
    fn dated(&mut self, day: NaiveDate) {
        self.last_day = self.last_day.max(Some(day));
    }
    fn describe(&mut self, arc: &str, t: Instant, st: &StaticRef<'_>, line: u64) {
        let a = self.arc_number(arc);
        self.writer.describe(a, t, st, &self.file, line);
    }
    fn add(&mut self, arc: &str, day: NaiveDate, slot: Slot, st: &StaticRef<'_>, line: u64) {
        let a = self.arc_number(arc);
        self.writer.add(a, day, slot, st, &self.file, line);
    }
}

/// An id of at most 15 bytes as one number: its bytes, and its length in the top byte.
fn inline_key(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    (b.len() < 16).then(|| {
        let mut buf = [0u8; 16];
        buf[..b.len()].copy_from_slice(b);
        buf[15] = b.len() as u8;
        u128::from_le_bytes(buf)
    })
}

/// Where the data rows of a CSV start: (byte offset, physical line, delimiter), if its header is
/// a plain line (no quotes): then every later line break outside quotes starts a record.
fn data_start(path: &std::path::Path) -> Option<(u64, u64, u8)> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64 * 1024);
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .ok()?;
    let nl = memchr::memchr(b'\n', &head)?;
    let header = &head[..nl];
    // The same delimiter as the sequential reader's (sniffed on the same first line).
    let delim = crate::input::sniff_delimiter(header);
    (memchr::memchr(b'"', header).is_none()).then_some((nl as u64 + 1, 2, delim))
}

/// The parallel path for a big CSV: byte ranges parsed on all threads (see [`crate::bigcsv`]).
/// None when the file needs the sequential reader (a quoted header or a quoted line break);
/// otherwise exactly what [`read_csv_sequential`] gives.
fn read_csv_parallel(
    f: &InputFile,
    sel: &DaySelection,
    progress: &(dyn Fn(u64) + Sync),
) -> Option<FileOutput> {
    let (start, first_line, delim) = data_start(&f.path)?;
    let file: Arc<str> = Arc::from(f.rel.as_str());
    let mut quality = QualityAcc::default();
    // The header, the columns and a failed file are handled as by the sequential reader.
    let (input, cols) = open_csv_columns(f, SOURCE, &COLUMNS, &mut quality)?;
    let width = input.header.len();
    drop(input);
    let shared = SharedAcc::default();
    let init = || ChunkSink {
        writer: SharedWriter::new(&shared),
        file: file.clone(),
        arcs: FxHashMap::default(),
        long_arcs: FxHashMap::default(),
        days: FxHashMap::default(),
        quality: QualityAcc::default(),
        outside: 0,
        last_day: None,
    };
    let work = |sink: &mut ChunkSink<'_>, chunk: &[u8], first: u64| -> Option<u64> {
        let mut f: Vec<Field<'_>> = Vec::with_capacity(width + 1);
        // One UTF-8 check for the whole chunk (lines end on ASCII bytes, so each of its lines and
        // fields is text too); a chunk with bad bytes is checked field by field.
        let text = simdutf8::basic::from_utf8(chunk).ok();
        let mut n = 0;
        for (line, bytes) in bigcsv::lines(chunk, first) {
            n += 1;
            if bytes.is_empty() {
                continue;
            }
            if bigcsv::split_line_blocks(bytes, delim, &mut f)
                && !(0..f.len()).any(|i| f[i].escaped && Some(i) != cols[SHAPE])
            {
                csv_record(sink, line, f.as_slice(), text, &cols, width, sel);
            } else if bigcsv::ends_in_quotes(bytes, delim) {
                return None;
            } else {
                csv_line(sink, line, bytes, delim, &cols, width, sel);
            }
        }
        Some(n)
    };
    let (end, mut sink, lines) = bigcsv::read_chunks(
        true,
        &f.path,
        start,
        first_line,
        progress,
        init,
        work,
        ChunkSink::merge,
    )
    .ok()?;
    if end == bigcsv::Chunked::QuotedLineBreak {
        tracing::info!(
            "{}: a quoted field spans lines; reading it sequentially",
            f.rel
        );
        return None;
    }
    tracing::info!("{}: read as parallel byte ranges", f.rel);
    let mut out = FileOutput {
        acc: ComptagesAcc::default(),
        quality,
        rows_outside: sink.outside,
    };
    // Rows were numbered by chunk (nobody counted lines ahead of the parsers): physical lines.
    sink.quality.map_lines(&f.rel, |k| lines.line(k));
    out.quality.merge(sink.quality);
    for (d, c) in sink.days {
        out.quality.cell(SOURCE, Some(d)).merge(c);
    }
    let last_day = sink.last_day;
    sink.writer.finish();
    out.acc = shared.into_acc(|k| lines.line(k));
    out.acc.note_day(last_day);
    Some(out)
}

/// One line that is not plain CSV, read by the csv crate (as the sequential reader would).
fn csv_line(
    sink: &mut impl Sink,
    line: u64,
    bytes: &[u8],
    delim: u8,
    cols: &[Option<usize>],
    width: usize,
    sel: &DaySelection,
) {
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rec = csv::ByteRecord::new();
    while let Ok(true) = r.read_byte_record(&mut rec) {
        csv_record(sink, line, &rec, None, cols, width, sel);
    }
}

fn read_json_file(f: &InputFile, sel: &DaySelection) -> FileOutput {
    let file: Arc<str> = Arc::from(f.rel.as_str());
    let mut out = FileOutput::default();
    let items = match read_json(&f.path) {
        Ok(items) => items,
        Err(e) => {
            out.quality
                .file_failed(SOURCE, &file, e.line, e.reason, e.detail, 0);
            return out;
        }
    };
    let keys: Vec<Vec<&'static str>> = COLUMNS.iter().map(ColumnSpec::names).collect();
    for item in items {
        let Some((line, value)) = item.into_record(&mut out.quality, SOURCE, &file) else {
            continue;
        };
        let Value::Object(o) = &value else { continue };
        let get = |i: usize| json_field(o, &keys[i]);
        let point = match json_point(get(POINT)) {
            Ok(Some(p)) => Cow::Owned(format!("{}, {}", p[1], p[0])),
            Ok(None) => Cow::Borrowed(""),
            Err(e) => {
                let detail = format!("field `geo_point_2d`: {e}");
                out.quality
                    .problem(SOURCE, None, &file, line, Reason::BadPoint, detail);
                Cow::Borrowed("")
            }
        };
        let null = Value::Null;
        let row = Row {
            arc: json_text(get(ARC)),
            t: json_text(get(T)),
            q: NumIn::Json(get(Q)),
            k: NumIn::Json(get(K)),
            etat_trafic: json_text(get(ETAT)),
            etat_arc: json_text(get(ETAT_ARC)),
            libelle: json_text(get(LIBELLE)),
            geo_point: point,
            geo_shape: ShapeRef::Json(get(SHAPE).unwrap_or(&null)),
            bad_text: None,
        };
        let mut sink = FileSink {
            out: &mut out,
            file: &file,
        };
        add_row(&mut sink, line, row, sel);
    }
    out
}

/// `Etat trafic`: the dataset's spellings and their upper-case / unaccented variants.
pub fn parse_state(s: &str) -> Option<State> {
    let s = trim(s);
    Some(match s {
        "" => State::Empty,
        "Fluide" => State::Fluide,
        "Pré-saturé" => State::PreSature,
        "Saturé" => State::Sature,
        "Bloqué" => State::Bloque,
        "Inconnu" => State::Inconnu,
        _ => {
            let n = crate::input::norm_header(s);
            match n.as_str() {
                "fluide" | "flu" => State::Fluide,
                "pre sature" | "presature" => State::PreSature,
                "sature" => State::Sature,
                "bloque" => State::Bloque,
                "inconnu" | "unknown" => State::Inconnu,
                _ => return None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_keep_dataset_spellings() {
        assert_eq!(parse_state("PRE-SATURE"), Some(State::PreSature));
        assert_eq!(parse_state("Pré-saturé"), Some(State::PreSature));
        assert_eq!(parse_state("BLOQUÉ"), Some(State::Bloque));
        assert_eq!(parse_state(" "), Some(State::Empty));
        assert_eq!(parse_state("Embouteillé"), None);
        assert_eq!(State::Bloque.label(), "Bloqué");
    }
}
