//! Multi-year road-counter exports (issue 20's benchmark): every arc on every Paris day of a date
//! range, in the row format of [`super::scale`], in one of two shapes:
//!
//! - `sparse`: one row per arc and day, at a fixed Paris hour (on the spring-forward day, when
//!   that hour does not exist, the next one) or at an hour drawn per (seed, arc, day);
//! - `hourly`: a row for every instant of the Paris day, as the real export: 24 rows per arc-day,
//!   **23 on the last Sunday of March and 25 on the last Sunday of October** (the hour 02:00
//!   is skipped in spring and written twice, `+02:00` then `+01:00`, in autumn).
//!
//! Every arc-day (sparse) or arc-hour (hourly) is present, so the counts are arithmetic: rows =
//! arcs x days (sparse) or arcs x Paris hours of the range (hourly); arc-days = arcs x days.
//! Values (empty flows, occupancies, states) follow the full-scale generator's rates.
//!
//! Files: one `batch/comptages-routiers-permanents.csv`, or one per calendar year
//! (`comptages-routiers-permanents-2016.csv`, ...) as the Paris archives. Rows are sorted (by
//! day, then hour, then arc) or shuffled within blocks of `shuffle_days` days that never straddle
//! a file; memory is one block's slots (8 bytes a row: 3,348 arcs x 366 days hourly, 235 MB).
//! Same seed and options, same bytes.

use std::io::Write;
use std::path::Path;

use chrono::{Datelike, NaiveDate, Timelike};

use super::scale::{push_row, reading, Counting, ScaleArc, HEADER};
use super::{hours, Rng};

/// Rows per arc and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanShape {
    /// One row per arc-day at this Paris hour (0-23), or at a seeded hour when `None`.
    Sparse { hour: Option<u32> },
    /// Every Paris hour of the day (23, 24 or 25 rows).
    Hourly,
}

/// A date range of the road-counter export.
#[derive(Debug, Clone)]
pub struct SpanOptions {
    /// Last Paris day written (inclusive); the first is `ScaleOptions::first_day`.
    pub last_day: NaiveDate,
    pub shape: SpanShape,
    /// One file per calendar year instead of one file.
    pub yearly: bool,
    /// Shuffle the rows within blocks of this many days (0: sorted).
    pub shuffle_days: u32,
}

/// `years` calendar years from `first`: the day before the same date `years` later.
pub fn last_day_of_years(first: NaiveDate, years: u32) -> Option<NaiveDate> {
    first
        .checked_add_months(chrono::Months::new(12 * years))?
        .pred_opt()
}

/// One written file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanFile {
    /// Name under `batch/`.
    pub name: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub rows: u64,
    pub bytes: u64,
}

/// The files of a span: names and date ranges (one file, or one per calendar year).
pub fn span_files(first: NaiveDate, o: &SpanOptions) -> Vec<SpanFile> {
    let file = |name: String, first, last| SpanFile {
        name,
        first,
        last,
        rows: 0,
        bytes: 0,
    };
    if !o.yearly {
        let name = "comptages-routiers-permanents.csv".to_string();
        return vec![file(name, first, o.last_day)];
    }
    (first.year()..=o.last_day.year())
        .filter_map(|y| {
            let a = NaiveDate::from_ymd_opt(y, 1, 1)?.max(first);
            let b = NaiveDate::from_ymd_opt(y, 12, 31)?.min(o.last_day);
            (a <= b).then(|| file(format!("comptages-routiers-permanents-{y}.csv"), a, b))
        })
        .collect()
}

/// One instant of the export: epoch seconds, Paris hour, the timestamp as written.
type Stamp = (i64, u32, String);

fn stamps_of(day: NaiveDate) -> Vec<Stamp> {
    hours(day, 1)
        .iter()
        .map(|t| {
            let ts = t.format("%Y-%m-%dT%H:%M:%S%:z").to_string();
            (t.timestamp(), t.hour(), ts)
        })
        .collect()
}

/// The slots (arc, stamp) of the days `[from, from + days)`, in sorted order.
fn block_slots(
    arcs: usize,
    seed: u64,
    from: NaiveDate,
    days: u32,
    shape: SpanShape,
) -> (Vec<Stamp>, Vec<(u32, u32)>) {
    let (mut stamps, mut slots) = (Vec::new(), Vec::new());
    for day in from.iter_days().take(days as usize) {
        let base = stamps.len() as u32;
        let day_stamps = stamps_of(day);
        let n = day_stamps.len() as u32;
        match shape {
            SpanShape::Hourly => {
                for h in 0..n {
                    slots.extend((0..arcs as u32).map(|a| (a, base + h)));
                }
            }
            SpanShape::Sparse { hour: Some(hour) } => {
                let h = day_stamps.iter().position(|s| s.1 >= hour).unwrap_or(0) as u32;
                slots.extend((0..arcs as u32).map(|a| (a, base + h)));
            }
            SpanShape::Sparse { hour: None } => {
                let key = seed ^ 0x0005_9A45 ^ (day.num_days_from_ce() as u64);
                slots.extend((0..arcs as u32).map(|a| {
                    let h = Rng::new(key ^ (u64::from(a) << 40)).below(u64::from(n));
                    (a, base + h as u32)
                }));
            }
        }
        stamps.extend(day_stamps);
    }
    (stamps, slots)
}

/// Writes one file's days `[f.first, f.last]` to `w`; returns (rows, bytes).
fn write_span_file<W: Write>(
    w: W,
    arcs: &[ScaleArc],
    seed: u64,
    f: &SpanFile,
    o: &SpanOptions,
    rng: &mut Rng,
) -> std::io::Result<(u64, u64)> {
    let mut w = Counting {
        w: std::io::BufWriter::with_capacity(1 << 20, w),
        n: 0,
    };
    w.write_all(b"\xEF\xBB\xBF")?;
    w.write_all(HEADER.as_bytes())?;
    let block = o.shuffle_days.max(1);
    let mut rows = 0u64;
    let mut line = Vec::with_capacity(1024);
    let mut from = f.first;
    while from <= f.last {
        let days = ((f.last - from).num_days() + 1).min(i64::from(block)) as u32;
        let (stamps, mut slots) = block_slots(arcs.len(), seed, from, days, o.shape);
        if o.shuffle_days > 0 {
            for i in (1..slots.len()).rev() {
                slots.swap(i, rng.below(i as u64 + 1) as usize);
            }
        }
        for (a, s) in slots {
            let (t, hour, ts) = &stamps[s as usize];
            let arc = &arcs[a as usize];
            let r = reading(seed, a as usize, arc, *t, *hour, 1.0);
            push_row(&mut line, arc, ts, &r)?;
            w.write_all(&line)?;
            rows += 1;
        }
        from = from + chrono::Days::new(u64::from(days));
    }
    w.flush()?;
    Ok((rows, w.n))
}

/// Writes the span's road-counter files under `batch`; returns them with their rows and bytes.
pub fn write_span(
    batch: &Path,
    arcs: &[ScaleArc],
    seed: u64,
    first: NaiveDate,
    o: &SpanOptions,
) -> std::io::Result<Vec<SpanFile>> {
    if o.last_day < first {
        return Err(std::io::Error::other(format!(
            "span: last day {} is before the first day {first}",
            o.last_day
        )));
    }
    if let SpanShape::Sparse { hour: Some(h) } = o.shape {
        if h > 23 {
            return Err(std::io::Error::other(format!("span: hour {h} is not 0-23")));
        }
    }
    let mut rng = Rng::new(seed ^ 0x5EED);
    let mut files = span_files(first, o);
    for f in &mut files {
        let out = std::fs::File::create(batch.join(&f.name))?;
        (f.rows, f.bytes) = write_span_file(out, arcs, seed, f, o, &mut rng)?;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::scale::synthetic_arcs;
    use std::collections::{BTreeMap, HashSet};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn span(years: u32, shape: SpanShape, yearly: bool, shuffle_days: u32) -> SpanOptions {
        SpanOptions {
            last_day: last_day_of_years(d("2022-01-01"), years).unwrap(),
            shape,
            yearly,
            shuffle_days,
        }
    }

    /// (file -> rows, arc-day -> rows) read back from the written CSVs, checking BOM and header.
    fn read_back(dir: &Path, files: &[SpanFile]) -> (Vec<u64>, BTreeMap<(String, String), u32>) {
        let mut per_file = Vec::new();
        let mut arc_days = BTreeMap::new();
        for f in files {
            let bytes = std::fs::read(dir.join(&f.name)).unwrap();
            assert_eq!(bytes.len() as u64, f.bytes, "{}", f.name);
            let text = std::str::from_utf8(&bytes).unwrap();
            let body = text.strip_prefix('\u{feff}').unwrap();
            let mut lines = body.split_terminator("\r\n");
            assert_eq!(format!("{}\r\n", lines.next().unwrap()), HEADER);
            let mut n = 0;
            for l in lines {
                let mut c = l.split(';');
                let arc = c.next().unwrap().to_string();
                let ts = c.nth(1).unwrap();
                // The Paris day is the date of the local timestamp.
                *arc_days.entry((arc, ts[..10].to_string())).or_insert(0) += 1;
                n += 1;
            }
            per_file.push(n);
        }
        (per_file, arc_days)
    }

    #[test]
    fn three_years_is_1096_days_and_3669408_arc_days_for_the_real_arc_count() {
        // 2022 + 2023 + 2024 (leap) = 365 + 365 + 366.
        let o = span(3, SpanShape::Sparse { hour: Some(8) }, false, 0);
        assert_eq!(o.last_day, d("2024-12-31"));
        assert_eq!((o.last_day - d("2022-01-01")).num_days() + 1, 1_096);
        let ten = span(10, SpanShape::Sparse { hour: Some(8) }, true, 0);
        assert_eq!(ten.last_day, d("2031-12-31"));
        let names: Vec<String> = span_files(d("2022-01-01"), &ten)
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names.len(), 10);
        assert_eq!(names[0], "comptages-routiers-permanents-2022.csv");
        assert_eq!(names[9], "comptages-routiers-permanents-2031.csv");
        // The real référentiel's 3,348 arcs: one slot (a row: the other tests check that each
        // slot is written once) per arc and Paris day.
        let (stamps, slots) = block_slots(3_348, 7, d("2022-01-01"), 1_096, o.shape);
        assert_eq!(slots.len(), 3_669_408);
        // The Paris day of each stamp, from its text.
        let day_of: Vec<usize> = stamps
            .iter()
            .map(|s| (d(&s.2[..10]) - d("2022-01-01")).num_days() as usize)
            .collect();
        let mut seen = vec![false; 3_348 * 1_096];
        for (a, s) in slots {
            let i = day_of[s as usize] * 3_348 + a as usize;
            assert!(!seen[i], "arc {a} twice on day {}", day_of[s as usize]);
            seen[i] = true;
        }
        assert!(seen.iter().all(|&b| b));
    }

    #[test]
    fn sparse_yearly_files_shuffled_cover_each_arc_day_once() {
        let dir = tempfile::tempdir().unwrap();
        let arcs = synthetic_arcs(4, 3);
        let o = span(3, SpanShape::Sparse { hour: None }, true, 30);
        let files = write_span(dir.path(), &arcs, 3, d("2022-01-01"), &o).unwrap();
        let (rows, arc_days) = read_back(dir.path(), &files);
        assert_eq!(rows, vec![4 * 365, 4 * 365, 4 * 366]);
        assert_eq!(arc_days.len(), 4 * 1_096);
        assert!(arc_days.values().all(|&n| n == 1));
        let days: HashSet<&String> = arc_days.keys().map(|k| &k.1).collect();
        assert_eq!(days.len(), 1_096);
        assert!(days.contains(&"2022-01-01".to_string()));
        assert!(days.contains(&"2024-02-29".to_string()));
        assert!(days.contains(&"2024-12-31".to_string()));
        // Each year's rows sit in that year's file.
        for (f, y) in files.iter().zip(2022..) {
            let body = std::fs::read_to_string(dir.path().join(&f.name)).unwrap();
            let other = body
                .lines()
                .skip(1)
                .filter(|l| !l.split(';').nth(2).unwrap().starts_with(&y.to_string()))
                .count();
            assert_eq!(other, 0, "{}", f.name);
        }
    }

    #[test]
    fn hourly_writes_every_paris_hour_23_and_25_on_dst_sundays() {
        let dir = tempfile::tempdir().unwrap();
        let arcs = synthetic_arcs(2, 5);
        let o = span(3, SpanShape::Hourly, false, 7);
        let files = write_span(dir.path(), &arcs, 5, d("2022-01-01"), &o).unwrap();
        // Three springs (-1 hour) and three autumns (+1 hour): 24 a day on average.
        assert_eq!(files[0].rows, 2 * 1_096 * 24);
        let (_, arc_days) = read_back(dir.path(), &files);
        assert_eq!(arc_days.len(), 2 * 1_096);
        let short = ["2022-03-27", "2023-03-26", "2024-03-31"];
        let long = ["2022-10-30", "2023-10-29", "2024-10-27"];
        for ((_, day), n) in &arc_days {
            let want = if short.contains(&day.as_str()) {
                23
            } else if long.contains(&day.as_str()) {
                25
            } else {
                24
            };
            assert_eq!(*n, want, "{day}");
        }
    }

    #[test]
    fn deterministic_shuffled_is_a_permutation_and_fixed_hour_skips_the_missing_hour() {
        let arcs = synthetic_arcs(3, 9);
        let o = SpanOptions {
            last_day: d("2024-04-02"),
            shape: SpanShape::Sparse { hour: Some(2) },
            yearly: false,
            shuffle_days: 0,
        };
        let write = |o: &SpanOptions, seed| {
            let dir = tempfile::tempdir().unwrap();
            let f = write_span(dir.path(), &arcs, seed, d("2024-03-29"), o).unwrap();
            std::fs::read_to_string(dir.path().join(&f[0].name)).unwrap()
        };
        let sorted = write(&o, 9);
        let stamps: Vec<&str> = sorted
            .lines()
            .skip(1)
            .map(|l| l.split(';').nth(2).unwrap())
            .collect();
        // 2024-03-31 has no 02:00 in Paris: the row is at 03:00 (+02:00).
        assert!(stamps.contains(&"2024-03-31T03:00:00+02:00"));
        assert!(stamps.contains(&"2024-03-30T02:00:00+01:00"));
        assert!(stamps.contains(&"2024-04-01T02:00:00+02:00"));
        assert_eq!(stamps.len(), 3 * 5);
        let shuffled_o = SpanOptions {
            shuffle_days: 3,
            ..o.clone()
        };
        let (a, b) = (write(&shuffled_o, 9), write(&shuffled_o, 9));
        assert_eq!(a, b);
        assert_ne!(a, sorted);
        let mut x: Vec<&str> = a.lines().collect();
        let mut y: Vec<&str> = sorted.lines().collect();
        x.sort_unstable();
        y.sort_unstable();
        assert_eq!(x, y);
        assert_ne!(write(&shuffled_o, 10), a);
        let bad = SpanOptions {
            last_day: d("2024-03-01"),
            ..o
        };
        let dir = tempfile::tempdir().unwrap();
        assert!(write_span(dir.path(), &arcs, 9, d("2024-03-29"), &bad).is_err());
    }
}
