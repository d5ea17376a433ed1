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

use crate::discover::{Format, InputFile};
use crate::fixed::{parse_scaled, scaled_from_f64, NumError};
use crate::input::{open_csv_columns, read_json, ColumnSpec, JsonItem};
use crate::metrics::comptages::{
    ComptagesAcc, ShapeRef, Slot, State, StaticRef, K_DIGITS, NONE, Q_DIGITS,
};
use crate::quality::{QualityAcc, Reason};
use crate::sources::{json_field, json_point, json_text, key_problem, DaySelection};
use crate::time::{paris_day, parse_instant, TimeError};

pub const SOURCE: &str = "comptages";

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
    ColumnSpec {
        name: "Identifiant arc",
        aliases: &["iu_ac"],
        required: true,
    },
    ColumnSpec {
        name: "Libelle",
        aliases: &["libelle"],
        required: false,
    },
    ColumnSpec {
        name: "Date et heure de comptage",
        aliases: &["t_1h"],
        required: true,
    },
    ColumnSpec {
        name: "Débit horaire",
        aliases: &["q"],
        required: true,
    },
    ColumnSpec {
        name: "Taux d'occupation",
        aliases: &["k"],
        required: true,
    },
    ColumnSpec {
        name: "Etat trafic",
        aliases: &["etat_trafic"],
        required: false,
    },
    ColumnSpec {
        name: "Etat arc",
        aliases: &["etat_barre"],
        required: false,
    },
    ColumnSpec {
        name: "geo_point_2d",
        aliases: &["Geo Point", "geo_point"],
        required: false,
    },
    ColumnSpec {
        name: "geo_shape",
        aliases: &["Geo Shape", "geom"],
        required: false,
    },
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

/// Validates one row and adds it. Returns nothing: every outcome is counted in `out`.
fn add_row(out: &mut FileOutput, file: &Arc<str>, line: u64, row: Row<'_>, sel: &DaySelection) {
    let q = &mut out.quality;
    let t = match parse_instant(&row.t) {
        Ok(t) => t,
        Err(e) => {
            let reason = match e {
                TimeError::OutOfRange => Reason::DateOutOfRange,
                _ => Reason::UnparseableDate,
            };
            q.row(SOURCE, None, file);
            let shown = if row.t.is_empty() {
                "empty".to_string()
            } else {
                format!("{:?}", row.t)
            };
            q.problem(
                SOURCE,
                None,
                file,
                line,
                reason,
                format!("field `Date et heure de comptage`: {shown}: {e}"),
            );
            return;
        }
    };
    let day: NaiveDate = paris_day(t);
    if !sel.contains(day) {
        out.rows_outside += 1;
        return;
    }
    let d = Some(day);
    q.row(SOURCE, d, file);
    if let Some(name) = row.bad_text {
        let detail =
            format!("field `{name}` is not valid UTF-8 (kept with replacement characters)");
        q.problem(SOURCE, d, file, line, Reason::InvalidUtf8Text, detail);
    }
    let etat_arc = row.etat_arc.trim();
    q.category(
        SOURCE,
        d,
        if etat_arc.is_empty() {
            "(vide)"
        } else {
            etat_arc
        },
    );
    let arc = row.arc.trim();
    if arc.is_empty() {
        q.problem(
            SOURCE,
            d,
            file,
            line,
            Reason::MissingKey,
            "field `Identifiant arc` is empty".into(),
        );
        return;
    }
    if let Some(e) = key_problem(arc) {
        let detail = format!("field `Identifiant arc` {arc:?} {e}");
        q.problem(SOURCE, d, file, line, Reason::MissingKey, detail);
        return;
    }
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
                    q.problem(SOURCE, d, file, line, Reason::ValueOutOfRange, detail);
                    return;
                }
                nums[i] = x as i32;
            }
            Err((e, shown)) => {
                let (reason, what) = match e {
                    NumError::Invalid => (Reason::BadNumber, "not a number"),
                    NumError::OutOfRange => (Reason::ValueOutOfRange, "out of range"),
                };
                q.problem(
                    SOURCE,
                    d,
                    file,
                    line,
                    reason,
                    format!("field `{name}`: {shown} is {what}"),
                );
                return;
            }
        }
    }
    let state = match State::parse(&row.etat_trafic) {
        Some(s) => s,
        None => {
            let detail = format!(
                "field `Etat trafic`: unknown state {:?}, counted as not given",
                row.etat_trafic
            );
            q.problem(SOURCE, d, file, line, Reason::UnknownState, detail);
            State::Empty
        }
    };
    if nums[0] == NONE {
        q.missing(SOURCE, d, "debit_horaire");
    }
    if nums[1] == NONE {
        q.missing(SOURCE, d, "taux_occupation");
    }
    if state == State::Empty {
        q.missing(SOURCE, d, "etat_trafic");
    }
    let slot = Slot::new(t, nums[0], nums[1], state);
    let st = StaticRef {
        libelle: &row.libelle,
        geo_point: &row.geo_point,
        geo_shape: row.geo_shape,
    };
    out.acc.add(arc, day, slot, &st, file, line);
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

fn read_csv(f: &InputFile, sel: &DaySelection, progress: &(dyn Fn(u64) + Sync)) -> FileOutput {
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
                            q.row(SOURCE, None, &file_r);
                            q.problem(
                                SOURCE,
                                None,
                                &file_r,
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
                for (rec, line) in &batch {
                    csv_record(&mut o, &file, *line, rec, &cols, width, sel);
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

fn csv_record(
    out: &mut FileOutput,
    file: &Arc<str>,
    line: u64,
    rec: &csv::ByteRecord,
    cols: &[Option<usize>],
    width: usize,
    sel: &DaySelection,
) {
    if rec.len() != width {
        out.quality.row(SOURCE, None, file);
        let detail = crate::input::wrong_width_detail(width, rec.len());
        out.quality
            .problem(SOURCE, None, file, line, Reason::WrongColumnCount, detail);
        return;
    }
    let raw = |i: usize| cols[i].and_then(|c| rec.get(c)).unwrap_or(b"");
    // Key fields must be UTF-8; text fields are decoded leniently with a warning.
    let mut strict = [""; 5];
    for (slot, (i, name)) in strict.iter_mut().zip([
        (ARC, "Identifiant arc"),
        (T, "Date et heure de comptage"),
        (Q, "Débit horaire"),
        (K, "Taux d'occupation"),
        (ETAT, "Etat trafic"),
    ]) {
        match std::str::from_utf8(raw(i)) {
            Ok(s) => *slot = s,
            Err(_) => {
                out.quality.row(SOURCE, None, file);
                let detail = format!("field `{name}` is not valid UTF-8");
                out.quality
                    .problem(SOURCE, None, file, line, Reason::InvalidUtf8, detail);
                return;
            }
        }
    }
    let mut bad_text = None;
    let mut lossy = |i: usize, name: &'static str| -> Cow<'_, str> {
        let b = raw(i);
        match std::str::from_utf8(b) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => {
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
        out.quality
            .problem(SOURCE, None, file, line, Reason::InvalidUtf8Text, detail);
    }
    let row = Row {
        arc: Cow::Borrowed(strict[0]),
        t: Cow::Borrowed(strict[1]),
        q: NumIn::Text(strict[2]),
        k: NumIn::Text(strict[3]),
        etat_trafic: Cow::Borrowed(strict[4]),
        etat_arc,
        libelle,
        geo_point,
        geo_shape: ShapeRef::Text(&geo_shape),
        bad_text,
    };
    add_row(out, file, line, row, sel);
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
        let (line, value) = match item {
            JsonItem::Record { line, value } => (line, value),
            JsonItem::Bad {
                line,
                reason,
                detail,
            } => {
                out.quality.row(SOURCE, None, &file);
                out.quality
                    .problem(SOURCE, None, &file, line, reason, detail);
                continue;
            }
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
        add_row(&mut out, &file, line, row, sel);
    }
    out
}
