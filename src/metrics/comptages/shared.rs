//! One big file read by several threads at once into one accumulator: a lock per arc, rows
//! queued per thread and applied in batches grouped by arc (see [`SharedWriter`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;

use super::storage::{merge_static, offer_static, ArcAcc, ArcStatic};
use super::{ComptagesAcc, Slot, State, StaticRef, NONE};

/// The accumulator of one big file read by several threads at once: one lock per arc, so the
/// threads share a single copy of the arc-days (no per-thread copies to merge, memory bounded by
/// the arc-days) and rarely wait on each other (thousands of arcs, a few threads).
#[derive(Default)]
pub struct SharedAcc {
    arcs: Mutex<HashMap<String, ArcHandle>>,
}

/// One arc of a [`SharedAcc`]; each [`SharedWriter`] keeps its own.
#[derive(Clone, Default)]
pub struct ArcHandle(Arc<Mutex<ArcAcc>>);

impl SharedAcc {
    pub fn handle(&self, arc: &str) -> ArcHandle {
        let mut m = self.arcs.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(arc.to_string()).or_default().clone()
    }

    /// The rows, once every thread is done (handles dropped).
    /// The accumulated arcs; `line` turns the line numbers the rows came with into those to
    /// keep (see [`crate::bigcsv::LineMap`]).
    pub fn into_acc(self, line: impl Fn(u64) -> u64) -> ComptagesAcc {
        let m = self.arcs.into_inner().unwrap_or_else(|e| e.into_inner());
        let arcs = m
            .into_iter()
            .map(|(id, h)| {
                let mut a = match Arc::try_unwrap(h.0) {
                    Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
                    Err(shared) => shared.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                };
                if let Some(i) = a.info.as_mut() {
                    i.line = line(i.line);
                }
                (id, a)
            })
            .collect();
        ComptagesAcc {
            arcs,
            last_day: None,
        }
    }
}

/// One thread's writer into a [`SharedAcc`]. Rows are queued (arc, day, slot: a few words) and
/// applied in batches grouped by arc, one lock per arc and batch rather than per row, so that the
/// memory accesses of successive rows overlap instead of waiting on each lock. The static fields
/// are kept per thread and merged into the shared arcs at [`SharedWriter::finish`].
pub struct SharedWriter<'a> {
    shared: &'a SharedAcc,
    arcs: Vec<LocalArc>,
    pending: Vec<Pending>,
    /// Scratch space of [`SharedWriter::flush`].
    sorted: Vec<Pending>,
    starts: Vec<u32>,
}

struct LocalArc {
    handle: ArcHandle,
    info: Option<ArcStatic>,
}

#[derive(Clone, Copy)]
struct Pending {
    arc: u32,
    day: NaiveDate,
    slot: Slot,
}

/// Rows queued before a flush: large enough that each arc has dozens of rows per batch (a few
/// per arc-day), small enough to keep memory flat (two buffers of 128 k rows per thread, ~6 MB).
const BATCH_ROWS: usize = 128 * 1024;

impl<'a> SharedWriter<'a> {
    pub fn new(shared: &'a SharedAcc) -> SharedWriter<'a> {
        SharedWriter {
            shared,
            arcs: Vec::new(),
            pending: Vec::with_capacity(BATCH_ROWS),
            sorted: Vec::new(),
            starts: Vec::new(),
        }
    }

    /// A number for the arc `id`, to pass to [`SharedWriter::add`] (callers cache it).
    pub fn arc(&mut self, id: &str) -> u32 {
        self.arcs.push(LocalArc {
            handle: self.shared.handle(id),
            info: None,
        });
        (self.arcs.len() - 1) as u32
    }

    /// Adds one row of arc `arc` (see [`ComptagesAcc::add`]).
    /// Offers a row's static fields for `arc`'s description (see [`ComptagesAcc::describe`]).
    pub fn describe(
        &mut self,
        arc: u32,
        t: crate::time::Instant,
        st: &StaticRef<'_>,
        file: &Arc<str>,
        line: u64,
    ) {
        offer_static(&mut self.arcs[arc as usize].info, t, st, file, line);
    }

    pub fn add(
        &mut self,
        arc: u32,
        day: NaiveDate,
        slot: Slot,
        st: &StaticRef<'_>,
        file: &Arc<str>,
        line: u64,
    ) {
        self.describe(arc, slot.t, st, file, line);
        self.pending.push(Pending { arc, day, slot });
        if self.pending.len() >= BATCH_ROWS {
            self.flush();
        }
    }

    /// Applies the queued rows: a counting sort by arc, then each arc's rows under one lock.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let n = self.arcs.len();
        self.starts.clear();
        self.starts.resize(n + 1, 0);
        for p in &self.pending {
            self.starts[p.arc as usize + 1] += 1;
        }
        for i in 0..n {
            self.starts[i + 1] += self.starts[i];
        }
        let mut next = self.starts.clone();
        self.sorted.clear();
        self.sorted.resize(
            self.pending.len(),
            Pending {
                arc: 0,
                day: NaiveDate::MIN,
                slot: Slot::new(0, NONE, NONE, State::Empty),
            },
        );
        for p in &self.pending {
            let at = &mut next[p.arc as usize];
            self.sorted[*at as usize] = *p;
            *at += 1;
        }
        self.pending.clear();
        let mut created = 0;
        for (i, la) in self.arcs.iter().enumerate() {
            let rows = &mut self.sorted[self.starts[i] as usize..self.starts[i + 1] as usize];
            rows.sort_unstable_by_key(|p| p.day);
            let rows = &*rows;
            if rows.is_empty() {
                continue;
            }
            let mut a = la.handle.0.lock().unwrap_or_else(|e| e.into_inner());
            let mut run = rows;
            while let Some(first) = run.first() {
                // Rows of the same day in a row: one lookup of the day for them.
                let n = run.iter().take_while(|p| p.day == first.day).count();
                created += a.insert_day(first.day, run[..n].iter().map(|p| p.slot));
                run = &run[n..];
            }
        }
        crate::budget::charge(created);
    }

    /// Applies every queued row and hands the static fields over (then the handles are dropped).
    pub fn finish(mut self) {
        self.flush();
        for la in self.arcs.drain(..) {
            if let Some(info) = la.info {
                let mut a = la.handle.0.lock().unwrap_or_else(|e| e.into_inner());
                merge_static(&mut a.info, info);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::tests::{slot, SHAPE};
    use super::super::ShapeRef;
    use super::*;

    #[test]
    fn shared_writers_give_the_simple_path_whatever_the_split_and_order() {
        // Rows of 3 arcs over 2 days, with repeats, equal static fields on several lines, and
        // an escaped shape; one row per line of one file.
        let file: Arc<str> = Arc::from("f.csv");
        let escaped =
            r#"{""type"": ""LineString"", ""coordinates"": [[2.3, 48.8], [2.31, 48.81]]}"#;
        let mut rows = Vec::new();
        for (n, h) in (0..60).enumerate() {
            let arc = ["1", "2", "777"][n % 3];
            let ts = format!("2025-01-0{}T{:02}:00:00+01:00", 1 + (h / 24) % 2, h % 24);
            let q = Some((n * 7 % 50) as f64);
            let shape = if n % 2 == 0 {
                ShapeRef::Escaped(escaped)
            } else {
                ShapeRef::Text(SHAPE)
            };
            let lib = if n % 5 == 0 { "Rue_B" } else { "Rue_A" };
            rows.push((arc, ts, q, shape, lib, n as u64 + 2));
        }
        // Repeats later in the file, at each arc's latest instant (45, 46, 47: the rows whose
        // static fields are kept): the same fields (the earliest line must win), the same shape
        // written unescaped (equal fields, another form: the earliest line's form), another
        // shape (the larger wins). And a repeat elsewhere.
        let plain: &'static str = Box::leak(escaped.replace("\"\"", "\"").into_boxed_str());
        for (k, shape) in [
            (45usize, None),
            (46, None),
            (47, None),
            (46, Some(ShapeRef::Text(plain))),
            (45, Some(ShapeRef::Text(SHAPE))),
            (10, Some(ShapeRef::Text(SHAPE))),
        ] {
            let (arc, ts, q, same, lib, _) = rows[k].clone();
            let line = 100 + rows.len() as u64;
            rows.push((arc, ts, q, shape.unwrap_or(same), lib, line));
        }
        type R<'a> = (&'a str, String, Option<f64>, ShapeRef<'a>, &'a str, u64);
        // A row as the readers pass it: (day, slot, static fields).
        let parts = |r: &R<'static>| {
            let s = slot(&r.1, r.2, Some(10.0), State::Fluide);
            let sr = StaticRef {
                libelle: r.4,
                geo_point: "48.8, 2.3",
                geo_shape: r.3,
            };
            (crate::time::paris_day(s.t), s, sr)
        };
        let mut simple = ComptagesAcc::default();
        for r in &rows {
            let (d, s, sr) = parts(r);
            simple.add(r.0, d, s, &sr, &file, r.5);
        }
        for split in [1usize, 2, 3, 7] {
            for reverse in [false, true] {
                let shared = SharedAcc::default();
                let mut writers: Vec<SharedWriter<'_>> =
                    (0..split).map(|_| SharedWriter::new(&shared)).collect();
                let mut ids: Vec<BTreeMap<&str, u32>> = vec![BTreeMap::new(); split];
                let order: Vec<usize> = if reverse {
                    (0..rows.len()).rev().collect()
                } else {
                    (0..rows.len()).collect()
                };
                for (j, i) in order.into_iter().enumerate() {
                    let r = &rows[i];
                    let w = j % split;
                    let a = *ids[w].entry(r.0).or_insert_with(|| writers[w].arc(r.0));
                    let (d, s, sr) = parts(r);
                    writers[w].add(a, d, s, &sr, &file, r.5);
                }
                for w in writers {
                    w.finish();
                }
                // The day of the last row is the reader's to note (the simple path's `add` does).
                let mut got = shared.into_acc(|l| l);
                got.note_day(simple.last_day());
                assert_eq!(got, simple, "split {split}, reverse {reverse}");
            }
        }
    }
}
