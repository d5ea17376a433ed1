//! How road-counter rows are kept, compactly: an arc's days in a [`DayMap`] (a window indexed
//! by day, a sorted map for far-off days), each day's rows in a [`DayAcc`] (8-byte packed slots
//! for rows on the hour), and the arc's static fields ([`ArcStatic`]) chosen whatever the order
//! rows come in. No figure is computed here: see the parent module for the formulas.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;

use super::{unescape_quotes, Slot, State, StaticRef, NONE};
use crate::metrics::note_dup;
use crate::time::{paris_midnight, Instant};

/// The static fields of the row that describes an arc (the latest one; ties broken by value).
/// The shape is kept as read (quotes still doubled when `shape_escaped`): unescaped when used.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ArcStatic {
    t: Instant,
    pub(super) libelle: String,
    pub(super) geo_point: String,
    pub(super) shape: String,
    shape_escaped: bool,
    pub(super) file: Arc<str>,
    pub(super) line: u64,
}

impl ArcStatic {
    pub(super) fn geo_shape(&self) -> Cow<'_, str> {
        if self.shape_escaped {
            unescape_quotes(&self.shape)
        } else {
            Cow::Borrowed(&self.shape)
        }
    }

    fn key(&self) -> (Instant, &str, &str, Cow<'_, str>) {
        (self.t, &self.libelle, &self.geo_point, self.geo_shape())
    }
}

/// A slot packed in 8 bytes (`dense` storage): bit 63 present, 62 conflict, 56..60 state,
/// 32..56 occupancy (24 bits, all ones = none), 0..32 flow (`i32` bits).
const PRESENT: u64 = 1 << 63;
const CONFLICT: u64 = 1 << 62;
const K_NONE_PACKED: u64 = 0xFF_FFFF;

fn packable(s: &Slot) -> bool {
    s.k == NONE || (0..K_NONE_PACKED as i32).contains(&s.k)
}

fn pack(s: &Slot) -> u64 {
    let k = if s.k == NONE {
        K_NONE_PACKED
    } else {
        s.k as u64
    };
    PRESENT
        | if s.conflict { CONFLICT } else { 0 }
        | (s.state as u64) << 56
        | k << 32
        | u64::from(s.q as u32)
}

fn unpack(v: u64, t: Instant) -> Slot {
    let k = (v >> 32) & K_NONE_PACKED;
    Slot {
        t,
        q: v as u32 as i32,
        k: if k == K_NONE_PACKED { NONE } else { k as i32 },
        state: State::ALL[((v >> 56) & 0xF) as usize % State::ALL.len()],
        conflict: v & CONFLICT != 0,
    }
}

/// Hours in a Paris day, at most (the autumn DST day).
const HOURS: usize = 25;

/// One arc-day's rows. Rows on the hour (all of the export's) sit in `dense`, indexed by hours
/// since the day's Paris midnight, 8 bytes each; others in `extra`. Memory is bounded by the
/// number of arc-days, whatever the input size.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DayAcc {
    /// The day's Paris midnight.
    midnight: Instant,
    dense: [u64; HOURS],
    /// Rows not on the hour: sorted by `t`, unique.
    extra: Vec<Slot>,
    pub(super) duplicates: u32,
    /// A few duplicated instants, for the quality report.
    pub(super) dup_samples: Vec<Instant>,
}

/// Order-free resolution of two rows of the same arc and instant: the kept row is the max by
/// rank, and the flag says whether any two rows of this instant differed.
fn resolve(cur: &mut Slot, s: Slot) {
    let conflict = cur.conflict || s.conflict || !cur.same_values(&s);
    if s.rank() > cur.rank() {
        *cur = s;
    }
    cur.conflict = conflict;
}

impl DayAcc {
    fn new(day: NaiveDate) -> DayAcc {
        DayAcc {
            midnight: paris_midnight(day),
            dense: [0; HOURS],
            extra: Vec::new(),
            duplicates: 0,
            dup_samples: Vec::new(),
        }
    }

    /// The `dense` index of a slot, if it has one.
    fn hour_index(&self, s: &Slot) -> Option<usize> {
        let off = s.t.checked_sub(self.midnight)?;
        let i = (off / 3600) as usize;
        (off % 3600 == 0 && i < HOURS && packable(s)).then_some(i)
    }

    pub(super) fn insert(&mut self, s: Slot) {
        if let Some(i) = self.hour_index(&s) {
            let v = self.dense[i];
            if v & PRESENT == 0 {
                self.dense[i] = pack(&s);
                return;
            }
            let mut cur = unpack(v, s.t);
            resolve(&mut cur, s);
            self.dense[i] = pack(&cur);
        } else {
            match self.extra.binary_search_by_key(&s.t, |x| x.t) {
                Ok(i) => resolve(&mut self.extra[i], s),
                Err(i) => {
                    self.extra.insert(i, s);
                    return;
                }
            }
        }
        self.duplicates += 1;
        note_dup(&mut self.dup_samples, s.t);
    }

    fn merge(&mut self, o: DayAcc) {
        self.duplicates += o.duplicates;
        for t in o.dup_samples.iter() {
            note_dup(&mut self.dup_samples, *t);
        }
        for s in o.slots() {
            self.insert(s);
        }
    }

    /// The rows, in time order.
    pub(super) fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        let dense = self
            .dense
            .iter()
            .enumerate()
            .filter(|(_, v)| **v & PRESENT != 0)
            .map(|(i, v)| unpack(*v, self.midnight + 3600 * i as Instant));
        if self.extra.is_empty() {
            // Every row on the hour (the export's case): no merge.
            return Slots::Dense(dense);
        }
        let mut dense = dense.peekable();
        let mut extra = self.extra.iter().copied().peekable();
        Slots::Merged(std::iter::from_fn(move || {
            match (dense.peek(), extra.peek()) {
                (Some(a), Some(b)) if b.t < a.t => extra.next(),
                (Some(_), _) => dense.next(),
                (None, _) => extra.next(),
            }
        }))
    }
}

/// [`DayAcc::slots`]: the dense slots alone, or merged with the others.
enum Slots<D, M> {
    Dense(D),
    Merged(M),
}

impl<D: Iterator<Item = Slot>, M: Iterator<Item = Slot>> Iterator for Slots<D, M> {
    type Item = Slot;
    fn next(&mut self) -> Option<Slot> {
        match self {
            Slots::Dense(d) => d.next(),
            Slots::Merged(m) => m.next(),
        }
    }
}

/// Days an arc's window spans at most (older or newer days go to a sorted map).
const WINDOW_DAYS: i64 = 1024;

fn day_number(d: NaiveDate) -> i64 {
    i64::from(chrono::Datelike::num_days_from_ce(&d))
}

/// An arc's days: a window indexed by day (one lookup, no search: this is the hot path of a big
/// unsorted export), and a sorted map for days far outside it (hostile dates cannot make the
/// window grow without bound).
#[derive(Debug, Clone, Default)]
pub(super) struct DayMap {
    /// Day number of `window[0]`.
    base: i64,
    window: Vec<Option<Box<DayAcc>>>,
    others: BTreeMap<NaiveDate, Box<DayAcc>>,
}

impl DayMap {
    /// The window index of `day`, growing the window if it stays within [`WINDOW_DAYS`].
    fn index(&mut self, day: NaiveDate) -> Option<usize> {
        let n = day_number(day);
        if self.window.is_empty() {
            self.base = n;
            self.window.push(None);
        }
        let len = self.window.len() as i64;
        if n < self.base {
            let grow = self.base - n;
            if len + grow > WINDOW_DAYS {
                return None;
            }
            self.window.splice(0..0, (0..grow).map(|_| None));
            self.base = n;
        } else if n >= self.base + len {
            let new_len = n - self.base + 1;
            if new_len > WINDOW_DAYS {
                return None;
            }
            self.window.resize_with(new_len as usize, || None);
        }
        Some((n - self.base) as usize)
    }

    pub(super) fn entry(&mut self, day: NaiveDate) -> &mut DayAcc {
        match self.index(day) {
            Some(i) => self.window[i].get_or_insert_with(|| Box::new(DayAcc::new(day))),
            None => self
                .others
                .entry(day)
                .or_insert_with(|| Box::new(DayAcc::new(day))),
        }
    }

    fn merge_day(&mut self, day: NaiveDate, d: Box<DayAcc>) {
        let slot = match self.index(day) {
            Some(i) => &mut self.window[i],
            None => {
                match self.others.get_mut(&day) {
                    Some(cur) => cur.merge(*d),
                    None => {
                        self.others.insert(day, d);
                    }
                }
                return;
            }
        };
        match slot {
            Some(cur) => cur.merge(*d),
            None => *slot = Some(d),
        }
    }

    pub(super) fn get_mut(&mut self, day: NaiveDate) -> Option<&mut DayAcc> {
        let i = day_number(day) - self.base;
        match usize::try_from(i).ok().and_then(|i| self.window.get_mut(i)) {
            Some(d) => d.as_deref_mut(),
            None => self.others.get_mut(&day).map(|d| &mut **d),
        }
    }

    pub(super) fn get(&self, day: NaiveDate) -> Option<&DayAcc> {
        let i = day_number(day) - self.base;
        match usize::try_from(i).ok().and_then(|i| self.window.get(i)) {
            Some(d) => d.as_deref(),
            None => self.others.get(&day).map(|d| &**d),
        }
    }

    fn window_days(&self) -> impl Iterator<Item = (NaiveDate, &DayAcc)> {
        self.window.iter().enumerate().filter_map(|(i, d)| {
            let day = NaiveDate::from_num_days_from_ce_opt((self.base + i as i64) as i32)?;
            d.as_deref().map(|d| (day, d))
        })
    }

    /// The days, sorted.
    pub(super) fn sorted(&self) -> Vec<(NaiveDate, &DayAcc)> {
        let mut v: Vec<(NaiveDate, &DayAcc)> = self.window_days().collect();
        v.extend(self.others.iter().map(|(d, a)| (*d, &**a)));
        v.sort_by_key(|(d, _)| *d);
        v
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.window_days()
            .map(|(d, _)| d)
            .chain(self.others.keys().copied())
    }
}

impl PartialEq for DayMap {
    fn eq(&self, o: &DayMap) -> bool {
        self.sorted() == o.sorted()
    }
}

impl IntoIterator for DayMap {
    type Item = (NaiveDate, Box<DayAcc>);
    type IntoIter = std::vec::IntoIter<(NaiveDate, Box<DayAcc>)>;
    fn into_iter(self) -> Self::IntoIter {
        let base = self.base;
        let mut v: Vec<(NaiveDate, Box<DayAcc>)> = self
            .window
            .into_iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let day = NaiveDate::from_num_days_from_ce_opt((base + i as i64) as i32)?;
                d.map(|d| (day, d))
            })
            .collect();
        v.extend(self.others);
        v.sort_by_key(|(d, _)| *d);
        v.into_iter()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ArcAcc {
    pub(super) info: Option<ArcStatic>,
    pub(super) days: DayMap,
    /// Days with rows that were not kept (the memory budget was spent): a census.
    pub(super) census: DayBits,
}

/// A set of days, a bit each (the census of a run over its memory budget).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct DayBits {
    /// Day number of bit 0 of `words[0]`.
    base: i64,
    words: Vec<u64>,
    /// Days too far from the others for the bits (hostile dates).
    others: std::collections::BTreeSet<NaiveDate>,
}

/// Days a [`DayBits`] spans at most in bits (a century: 4.6 KB).
const BITS_SPAN_DAYS: i64 = 36_600;

impl DayBits {
    pub(super) fn insert(&mut self, day: NaiveDate) {
        let n = day_number(day);
        if self.words.is_empty() {
            self.base = n - n.rem_euclid(64);
        }
        let end = self.base + 64 * self.words.len() as i64;
        let lo = self.base.min(n - n.rem_euclid(64));
        let hi = end.max(n - n.rem_euclid(64) + 64);
        if hi - lo > BITS_SPAN_DAYS {
            self.others.insert(day);
            return;
        }
        if lo < self.base {
            let grow = ((self.base - lo) / 64) as usize;
            self.words.splice(0..0, std::iter::repeat_n(0, grow));
            self.base = lo;
        }
        if hi > self.base + 64 * self.words.len() as i64 {
            self.words.resize(((hi - self.base) / 64) as usize, 0);
        }
        let i = (n - self.base) as usize;
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub(super) fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        let bits = self.words.iter().enumerate().flat_map(move |(w, &bits)| {
            (0..64)
                .filter(move |b| bits & (1 << b) != 0)
                .filter_map(move |b| {
                    let n = self.base + (w * 64 + b) as i64;
                    NaiveDate::from_num_days_from_ce_opt(i32::try_from(n).ok()?)
                })
        });
        bits.chain(self.others.iter().copied())
    }

    fn merge(&mut self, o: DayBits) {
        for d in o.days() {
            self.insert(d);
        }
    }
}

/// Offers a row's static fields (label, point, shape): the latest row's are kept, ties broken by
/// value, then by the earliest line of the same file, so the result does not depend on the order
/// rows come in (threads, chunks).
pub(super) fn offer_static(
    info: &mut Option<ArcStatic>,
    t: Instant,
    s: &StaticRef<'_>,
    file: &Arc<str>,
    line: u64,
) {
    let replace = match info.as_ref() {
        None => true,
        Some(cur) if t != cur.t => t > cur.t,
        Some(cur) => {
            let key = (t, s.libelle, s.geo_point, s.geo_shape.unescaped());
            match key.cmp(&cur.key()) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Equal => Arc::ptr_eq(&cur.file, file) && line < cur.line,
                std::cmp::Ordering::Less => false,
            }
        }
    };
    if !replace {
        return;
    }
    let (shape, escaped) = s.geo_shape.raw();
    let info = info.get_or_insert_with(|| ArcStatic {
        t,
        libelle: String::new(),
        geo_point: String::new(),
        shape: String::new(),
        shape_escaped: escaped,
        file: file.clone(),
        line,
    });
    info.t = t;
    info.line = line;
    if !Arc::ptr_eq(&info.file, file) {
        info.file = file.clone();
    }
    // A newer row of an arc mostly repeats its fields: copied only when they differ.
    if info.libelle != s.libelle {
        info.libelle.clear();
        info.libelle.push_str(s.libelle);
    }
    if info.geo_point != s.geo_point {
        info.geo_point.clear();
        info.geo_point.push_str(s.geo_point);
    }
    if info.shape != shape || info.shape_escaped != escaped {
        info.shape.clear();
        info.shape.push_str(&shape);
        info.shape_escaped = escaped;
    }
}

/// [`offer_static`] for fields already kept (merging accumulators).
pub(super) fn merge_static(info: &mut Option<ArcStatic>, o: ArcStatic) {
    let replace = match info.as_ref() {
        None => true,
        Some(cur) => match o.key().cmp(&cur.key()) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => cur.file == o.file && o.line < cur.line,
            std::cmp::Ordering::Less => false,
        },
    };
    if replace {
        *info = Some(o);
    }
}

impl ArcAcc {
    pub(super) fn offer_static(
        &mut self,
        t: Instant,
        s: &StaticRef<'_>,
        file: &Arc<str>,
        line: u64,
    ) {
        offer_static(&mut self.info, t, s, file, line);
    }

    /// Adds the rows of one day (sorted or not); returns the arc-days created (0 or 1). Once
    /// the memory budget is spent, a day not held yet is only noted in the census.
    pub(super) fn insert_day(&mut self, day: NaiveDate, slots: impl Iterator<Item = Slot>) -> u64 {
        if let Some(d) = self.days.get_mut(day) {
            slots.for_each(|s| d.insert(s));
            return 0;
        }
        if crate::budget::spent() {
            self.census.insert(day);
            return 0;
        }
        let d = self.days.entry(day);
        slots.for_each(|s| d.insert(s));
        1
    }

    /// The days with rows, kept or only counted.
    pub(super) fn census_days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.days.keys().chain(self.census.days())
    }

    pub(super) fn merge(&mut self, o: ArcAcc) {
        if let Some(i) = o.info {
            merge_static(&mut self.info, i);
        }
        self.census.merge(o.census);
        for (d, acc) in o.days {
            self.days.merge_day(d, acc);
        }
    }
}
