//! Big CSV files, read as byte ranges parsed on all threads.
//!
//! The file is cut into regions (one per thread) on line breaks; one thread maps each region's
//! chunks in turn (chunks end on a line break), and the rayon pool parses them, a task per
//! region. Lines are numbered by (region, chunk, line within) while parsed and turned into
//! physical line numbers at the end ([`LineMap`]). Lines are split in place
//! ([`split_line_blocks`], by 64-byte bit masks; [`split_line`] is the same by searches, kept as
//! its reference: no allocation, quotes resolved without copying), and anything that is not plain
//! CSV goes back to the csv crate, line by line, so the results are those of the simple path
//! exactly.
//!
//! Splitting on line breaks is only right when no quoted field spans lines. The road-counter
//! export has none, but the reader does not assume it: a line with an odd number of quotes (the
//! sign of a quoted line break) makes [`read_chunks`] report [`Chunked::QuotedLineBreak`], and
//! the caller reads the file with the sequential reader instead.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Condvar, Mutex};

/// Bytes per chunk: large enough to amortise the hand-offs, small enough to keep memory flat.
pub const CHUNK: usize = 4 << 20;

/// One field of a split line: its bytes (without the surrounding quotes) and whether they still
/// hold doubled quotes (`""`) to unescape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Field<'a> {
    pub raw: &'a [u8],
    pub escaped: bool,
}

/// Splits one line (no line terminator) on `delim` when it is plain CSV: fields are either
/// unquoted without any quote, or quoted from their first to their last byte with inner quotes
/// doubled. Returns false (leaving `out` partly filled) for anything else, which the csv crate
/// must decide: a quote inside an unquoted field, text after a closing quote, an unclosed quote,
/// a carriage return inside the line (the csv crate ends records there).
pub fn split_line<'a>(line: &'a [u8], delim: u8, out: &mut Vec<Field<'a>>) -> bool {
    out.clear();
    let mut i = 0;
    loop {
        if line.get(i) == Some(&b'"') {
            // Quoted field: find the closing quote, skipping doubled ones.
            let start = i + 1;
            let mut j = start;
            let mut escaped = false;
            loop {
                match memchr::memchr(b'"', &line[j..]) {
                    None => return false,
                    Some(k) => {
                        let q = j + k;
                        if line.get(q + 1) == Some(&b'"') {
                            escaped = true;
                            j = q + 2;
                        } else {
                            let raw = &line[start..q];
                            if memchr::memchr(b'\r', raw).is_some() {
                                return false;
                            }
                            out.push(Field { raw, escaped });
                            match line.get(q + 1) {
                                None => return true,
                                Some(&c) if c == delim => i = q + 2,
                                Some(_) => return false,
                            }
                            break;
                        }
                    }
                }
            }
        } else {
            let rest = &line[i..];
            match memchr::memchr3(delim, b'"', b'\r', rest) {
                None => {
                    out.push(Field {
                        raw: rest,
                        escaped: false,
                    });
                    return true;
                }
                Some(k) if rest[k] == delim => {
                    out.push(Field {
                        raw: &rest[..k],
                        escaped: false,
                    });
                    i += k + 1;
                }
                Some(_) => return false,
            }
        }
        if i == line.len() {
            // A trailing delimiter: one more, empty, field.
            out.push(Field::default());
            return true;
        }
    }
}

/// [`split_line`] by 64-byte blocks: the same result (same fields, same `false`), found with
/// bit masks of the delimiter, quote and CR bytes of each block instead of one search per field
/// and per doubled quote.
///
/// The quote parity (a prefix XOR of the quote mask) says which bytes are inside quotes; the
/// delimiters outside quotes end the fields. The line is plain CSV when it holds no CR, ends
/// outside quotes, and each opening quote either starts a field or follows a closing quote (a
/// doubled quote), and each closing quote is followed by a delimiter, the end of the line or an
/// opening quote (the same doubled quote): exactly the lines [`split_line`] accepts.
pub fn split_line_blocks<'a>(line: &'a [u8], delim: u8, out: &mut Vec<Field<'a>>) -> bool {
    out.clear();
    let n = line.len();
    // Carried from the previous block: inside quotes (all ones or zero); whether its last byte
    // was a closing quote; whether it was a field boundary (a delimiter, a closing quote, or
    // the start of the line).
    let mut inside_carry = 0u64;
    let mut close_carry = 0u64;
    let mut bound_carry = 1u64;
    let mut start = 0usize;
    let mut w = 0usize;
    while w < n {
        let (d, q, r) = block_masks(&line[w..], delim);
        let valid = if n - w >= 64 {
            !0u64
        } else {
            (1u64 << (n - w)) - 1
        };
        let (d, q) = (d & valid, q & valid);
        if r & valid != 0 {
            return false;
        }
        let inside = prefix_xor(q) ^ inside_carry;
        let open = q & inside;
        let close = q & !inside;
        let sep = d & !inside;
        let bound_before = (sep << 1) | (close << 1) | bound_carry;
        if open & !bound_before != 0 {
            return false;
        }
        let after_close = (close << 1) | close_carry;
        if after_close & !(sep | open) & valid != 0 {
            return false;
        }
        inside_carry = 0u64.wrapping_sub(inside >> 63);
        close_carry = close >> 63;
        bound_carry = (sep | close) >> 63;
        let mut bits = sep;
        while bits != 0 {
            let p = w + bits.trailing_zeros() as usize;
            if !push_field(line, start, p, out) {
                return false;
            }
            start = p + 1;
            bits &= bits - 1;
        }
        w += 64;
    }
    inside_carry == 0 && push_field(line, start, n, out)
}

/// The field `line[s..e]` (a quoted one already checked), without its quotes.
#[inline]
fn push_field<'a>(line: &'a [u8], s: usize, e: usize, out: &mut Vec<Field<'a>>) -> bool {
    let f = &line[s..e];
    if f.first() == Some(&b'"') {
        // Checked by the masks: a closing quote ends it; a lone quote cannot get here.
        if f.len() < 2 {
            return false;
        }
        let raw = &f[1..f.len() - 1];
        out.push(Field {
            raw,
            escaped: memchr::memchr(b'"', raw).is_some(),
        });
    } else {
        out.push(Field {
            raw: f,
            escaped: false,
        });
    }
    true
}

/// `x` with each bit replaced by the XOR of it and all lower bits: 1 from an opening quote up
/// to (not including) its closing quote.
#[inline]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Masks of the delimiter, quote and CR bytes among the first 64 bytes of `b` (bit i for byte
/// i; nothing past the end of `b`).
#[inline]
fn block_masks(b: &[u8], delim: u8) -> (u64, u64, u64) {
    if let Some(block) = b.first_chunk::<64>() {
        return block_masks_64(block, delim);
    }
    let mut block = [0u8; 64];
    block[..b.len()].copy_from_slice(b);
    let (d, q, r) = block_masks_64(&block, delim);
    // Padding bytes equal to the delimiter (a NUL delimiter) are not the line's.
    let valid = (1u64 << b.len()) - 1;
    (d & valid, q & valid, r & valid)
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn block_masks_64(block: &[u8; 64], delim: u8) -> (u64, u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of every x86_64 target; each load reads 16 bytes of `block` (the
    // chunks are exactly 16 bytes) and has no alignment requirement.
    unsafe {
        let (vd, vq, vr) = (
            _mm_set1_epi8(delim as i8),
            _mm_set1_epi8(b'"' as i8),
            _mm_set1_epi8(b'\r' as i8),
        );
        let (mut d, mut q, mut r) = (0u64, 0u64, 0u64);
        for (i, part) in block.chunks_exact(16).enumerate() {
            let v = _mm_loadu_si128(part.as_ptr().cast::<__m128i>());
            let sh = 16 * i;
            d |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, vd)) as u16) << sh;
            q |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, vq)) as u16) << sh;
            r |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, vr)) as u16) << sh;
        }
        (d, q, r)
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn block_masks_64(block: &[u8; 64], delim: u8) -> (u64, u64, u64) {
    block_masks_scalar(block, delim)
}

/// The masks byte by byte (other targets, and the reference in tests).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn block_masks_scalar(block: &[u8; 64], delim: u8) -> (u64, u64, u64) {
    let (mut d, mut q, mut r) = (0u64, 0u64, 0u64);
    for (i, &c) in block.iter().enumerate() {
        d |= u64::from(c == delim) << i;
        q |= u64::from(c == b'"') << i;
        r |= u64::from(c == b'\r') << i;
    }
    (d, q, r)
}

/// Whether a line ends inside a quoted field, i.e. the field goes on past the line break. The
/// csv crate's rules: a quote opens a field only at its start, a doubled quote inside is a quote,
/// text after the closing quote joins the field, a CR ends the record.
pub fn ends_in_quotes(line: &[u8], delim: u8) -> bool {
    #[derive(PartialEq)]
    enum S {
        Start,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut s = S::Start;
    for &b in line {
        s = match (s, b) {
            (S::Quoted, b'"') => S::QuoteInQuoted,
            (S::Quoted, _) => S::Quoted,
            (S::QuoteInQuoted, b'"') => S::Quoted,
            (_, b'\r') => S::Start,
            (_, c) if c == delim => S::Start,
            (S::Start, b'"') => S::Quoted,
            _ => S::Unquoted,
        };
    }
    s == S::Quoted
}

/// How a chunked read ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunked {
    /// Every chunk was handed to `work`, which accepted it.
    Done,
    /// `work` refused a chunk (a quoted line break): the caller must read the file sequentially.
    QuotedLineBreak,
}

/// A chunk of the file: mapped (no copy), or read into a buffer (where mapping fails).
enum Chunk {
    Mapped(memmap2::Mmap, usize),
    Read(Vec<u8>, usize),
}

impl Chunk {
    fn len(&self) -> usize {
        self.bytes().len()
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Mapped(m, len) => &m[..*len],
            Chunk::Read(b, len) => &b[..*len],
        }
    }
}

/// Reads `path` from byte `start` (a record boundary on physical line `first_line`) in chunks
/// ending on line breaks, and folds them on the rayon pool: `work(acc, chunk, key)` returns the
/// number of lines of the chunk, or `None` to stop everything (see
/// [`Chunked::QuotedLineBreak`]). The per-task accumulators are combined with `merge`. Memory:
/// a few chunks in flight.
///
/// With several threads the file is cut into as many regions (on line breaks), each read in
/// order and parsed by its own task (a task whose region is done helps the others): exports are
/// roughly in time order, so the threads then fill different days of the arcs instead of taking
/// turns at the same cache lines.
///
/// Nobody counts lines ahead of the parsers: `key` numbers the chunk's first line as
/// [`LineMap::key`] does (region and chunk within it, then line within the chunk; keys sort like
/// lines), and the returned [`LineMap`] turns keys into physical line numbers once every chunk is
/// counted.
///
/// Chunks are memory-mapped one by one (each unmapped once parsed), which spares copying the
/// file out of the page cache; where mapping fails (not a regular file, a file system without
/// it), they are read into recycled buffers. A mapped file cut shorter while its chunk is being
/// parsed makes the kernel stop the process (SIGBUS): the length is checked before each chunk is
/// mapped, and outputs are written atomically, so such a run leaves no torn file. `try_map`
/// false reads into buffers from the start (tests).
#[allow(clippy::too_many_arguments)]
pub fn read_chunks<T, I, W, M>(
    try_map: bool,
    path: &Path,
    start: u64,
    first_line: u64,
    progress: &(dyn Fn(u64) + Sync),
    init: I,
    work: W,
    merge: M,
) -> std::io::Result<(Chunked, T, LineMap)>
where
    T: Send,
    I: Fn() -> T + Sync + Send,
    W: Fn(&mut T, &[u8], u64) -> Option<u64> + Sync + Send,
    M: Fn(T, T) -> T + Sync + Send,
{
    let file = File::open(path)?;
    let threads = rayon::current_num_threads().max(1);
    let mut regions = split_regions(&file, start, threads)?;
    for r in regions.iter_mut() {
        r.map = try_map;
    }
    let n = regions.len();
    let hub = Hub {
        state: Mutex::new(HubState {
            queues: (0..n).map(|_| VecDeque::new()).collect(),
            region_done: vec![false; n],
            finished: false,
        }),
        wake: Condvar::new(),
        cap: threads + 1,
    };
    let (free_tx, free_rx) = channel::<Vec<u8>>();
    let stop = AtomicBool::new(false);
    // Per region task: its accumulator and the line counts of the chunks it parsed.
    type Done<T> = Option<(T, Vec<(u64, u64)>)>;
    let results: Mutex<Vec<Done<T>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        let (hub, stop) = (&hub, &stop);
        let reader = s.spawn(move || -> std::io::Result<()> {
            // However the reader ends (error, panic), the parsers stop waiting for it.
            let _finish = FinishOnDrop(hub);
            feed(&file, &mut regions, hub, stop, progress, &free_rx)
        });
        rayon::scope(|rs| {
            for r in 0..n {
                let (init, work, free_tx, results) = (&init, &work, free_tx.clone(), &results);
                rs.spawn(move |_| {
                    let mut acc = init();
                    let mut counts = Vec::new();
                    while let Some((chunk, key)) = hub.next(r) {
                        if !stop.load(Ordering::Relaxed) {
                            match work(&mut acc, chunk.bytes(), key) {
                                Some(lines) => counts.push((key >> LineMap::LINE_BITS, lines)),
                                None => stop.store(true, Ordering::Relaxed),
                            }
                        }
                        if let Chunk::Read(buf, _) = chunk {
                            let _ = free_tx.send(buf);
                        }
                    }
                    lock(results)[r] = Some((acc, counts));
                });
            }
        });
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("chunk reader thread panicked")));
        read?;
        let mut acc: Option<T> = None;
        let mut counts = Vec::new();
        for (a, c) in lock(&results).drain(..).flatten() {
            counts.extend(c);
            acc = Some(match acc {
                None => a,
                Some(acc) => merge(acc, a),
            });
        }
        let end = if stop.load(Ordering::Relaxed) {
            Chunked::QuotedLineBreak
        } else {
            Chunked::Done
        };
        Ok((
            end,
            acc.unwrap_or_else(&init),
            LineMap::new(first_line, counts),
        ))
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A part of the file read in order: from `pos` to `end` (`None`: to the end of the file, as
/// long as it is then).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Region {
    pos: u64,
    end: Option<u64>,
    /// The number of the region's next chunk, as used in [`LineMap::key`].
    next_no: u64,
    /// The chunk number after the region's last possible one.
    last_no: u64,
    /// Chunks are mapped (else read into buffers).
    map: bool,
}

/// Cuts `[start, end of file)` into at most `threads` regions on line breaks, each worth a few
/// chunks at least (a region per thread when the file is large enough).
fn split_regions(file: &File, start: u64, threads: usize) -> std::io::Result<Vec<Region>> {
    let len = file.metadata()?.len();
    let bytes = len.saturating_sub(start);
    let wanted = (threads as u64).min(bytes / (2 * CHUNK as u64)).max(1);
    let mut starts = vec![start];
    let mut last = start;
    for i in 1..wanted {
        let at = start + bytes / wanted * i;
        match next_line_start(file, at.max(last), len)? {
            Some(b) if b < len && b > last => {
                starts.push(b);
                last = b;
            }
            _ => break,
        }
    }
    // Chunk numbers: the region in the high bits, so that they sort like the file.
    let region_bits = u64::BITS - (starts.len() as u64 - 1).leading_zeros();
    let per_region = 1u64 << (CHUNK_BITS - region_bits);
    Ok(starts
        .iter()
        .enumerate()
        .map(|(i, &pos)| Region {
            pos,
            end: starts.get(i + 1).copied(),
            next_no: i as u64 * per_region,
            last_no: (i as u64 + 1) * per_region,
            map: true,
        })
        .collect())
}

/// The offset just after the first line break at or after `at`, if any.
fn next_line_start(file: &File, at: u64, len: u64) -> std::io::Result<Option<u64>> {
    let mut buf = vec![0u8; 64 << 10];
    let mut pos = at;
    let mut f = file;
    while pos < len {
        f.seek(SeekFrom::Start(pos))?;
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(Some(pos + i as u64 + 1));
        }
        pos += n as u64;
    }
    Ok(None)
}

/// Chunks ready to parse, per region.
struct Hub {
    state: Mutex<HubState>,
    wake: Condvar,
    /// Chunks queued at most, in all.
    cap: usize,
}

struct HubState {
    queues: Vec<VecDeque<(Chunk, u64)>>,
    /// Every chunk of the region was queued.
    region_done: Vec<bool>,
    /// The reader is done (or failed): nothing more will be queued.
    finished: bool,
}

impl Hub {
    /// The next chunk for the task of region `r`: its own region's, else another's once its
    /// region is all queued, or when the queues are full (the reader then waits for room; it
    /// feeds the emptiest region first, so this is a safety net). A task never waits while the
    /// chunks it could take depend on another task running: one free thread reads everything
    /// (the others may be kept by another file). `None` once everything was handed out.
    fn next(&self, r: usize) -> Option<(Chunk, u64)> {
        let mut st = lock(&self.state);
        loop {
            if let Some(c) = st.queues[r].pop_front() {
                self.wake.notify_all();
                return Some(c);
            }
            let full = st.queues.iter().map(VecDeque::len).sum::<usize>() >= self.cap;
            if st.region_done[r] || st.finished || full {
                let other = (0..st.queues.len())
                    .filter(|o| !st.queues[*o].is_empty())
                    .max_by_key(|o| st.queues[*o].len());
                if let Some(o) = other {
                    let c = st.queues[o].pop_front();
                    self.wake.notify_all();
                    return c;
                }
                if st.finished {
                    return None;
                }
            }
            st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

struct FinishOnDrop<'a>(&'a Hub);

impl Drop for FinishOnDrop<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).finished = true;
        self.0.wake.notify_all();
    }
}

/// The reader: queues the regions' chunks in order, each time for the region with the fewest
/// queued, keeping at most `hub.cap` queued in all.
fn feed(
    file: &File,
    regions: &mut [Region],
    hub: &Hub,
    stop: &AtomicBool,
    progress: &(dyn Fn(u64) + Sync),
    free: &std::sync::mpsc::Receiver<Vec<u8>>,
) -> std::io::Result<()> {
    loop {
        let r = {
            let mut st = lock(&hub.state);
            loop {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let queued: usize = st.queues.iter().map(VecDeque::len).sum();
                let open = (0..regions.len()).filter(|r| !st.region_done[*r]);
                match open.min_by_key(|r| st.queues[*r].len()) {
                    None => return Ok(()),
                    Some(r) if queued < hub.cap => break r,
                    Some(_) => st = hub.wake.wait(st).unwrap_or_else(|e| e.into_inner()),
                }
            }
        };
        let chunk = next_chunk(file, &mut regions[r], free)?;
        let mut st = lock(&hub.state);
        match chunk {
            Some((chunk, key)) => {
                progress(chunk.len() as u64);
                st.queues[r].push_back((chunk, key));
            }
            None => st.region_done[r] = true,
        }
        hub.wake.notify_all();
    }
}

/// The region's next chunk (mapped, or read where mapping fails) with the key of its first line;
/// `None` at the region's end.
fn next_chunk(
    file: &File,
    reg: &mut Region,
    free: &std::sync::mpsc::Receiver<Vec<u8>>,
) -> std::io::Result<Option<(Chunk, u64)>> {
    // The length now, so that a file cut shorter since the last chunk is not read past its end.
    let len = file.metadata()?.len();
    let end = reg.end.map_or(len, |e| e.min(len));
    if reg.pos >= end {
        return Ok(None);
    }
    if reg.next_no >= reg.last_no {
        return Err(std::io::Error::other(
            "too many chunks to number their lines (over 16 million)",
        ));
    }
    let key = LineMap::key(reg.next_no, 0).expect("chunk numbers stay under 2^24");
    let mut want = CHUNK as u64;
    let mut buf = None;
    loop {
        let stop_at = end.min(reg.pos + want);
        let size = (stop_at - reg.pos) as usize;
        let chunk = if reg.map {
            // SAFETY: the mapping is read-only and private to this function until queued; its
            // bytes are only read. A file modified while mapped can show the new bytes (parsed as
            // they are, like a read racing a write) or, cut shorter, raise SIGBUS (see
            // `read_chunks`).
            match unsafe {
                memmap2::MmapOptions::new()
                    .offset(reg.pos)
                    .len(size)
                    .populate()
                    .map(file)
            } {
                Ok(m) => Chunk::Mapped(m, size),
                Err(_) => {
                    reg.map = false;
                    continue;
                }
            }
        } else {
            let mut b: Vec<u8> = buf
                .take()
                .unwrap_or_else(|| free.try_recv().unwrap_or_default());
            b.resize(size, 0);
            let mut f = file;
            f.seek(SeekFrom::Start(reg.pos))?;
            let mut got = 0;
            while got < size {
                match f.read(&mut b[got..])? {
                    0 => break,
                    n => got += n,
                }
            }
            Chunk::Read(b, got)
        };
        let bytes = chunk.bytes();
        let at_end = reg.pos + bytes.len() as u64 >= end || bytes.len() < size;
        let cut = if at_end {
            bytes.len()
        } else {
            match memchr::memrchr(b'\n', bytes) {
                Some(i) => i + 1,
                None => {
                    // One line longer than the chunk: take more.
                    want *= 2;
                    if let Chunk::Read(b, _) = chunk {
                        buf = Some(b);
                    }
                    continue;
                }
            }
        };
        if cut == 0 {
            return Ok(None);
        }
        reg.pos += cut as u64;
        reg.next_no += 1;
        let chunk = match chunk {
            Chunk::Mapped(m, _) => Chunk::Mapped(m, cut),
            Chunk::Read(b, _) => Chunk::Read(b, cut),
        };
        return Ok(Some((chunk, key)));
    }
}

/// From line keys (chunk number, line within the chunk) to physical line numbers.
#[derive(Debug)]
pub struct LineMap {
    first_line: u64,
    /// Chunk numbers (sorted) and the number of lines before each chunk.
    before: Vec<(u64, u64)>,
}

/// Bits of a key for the chunk number (region, then chunk within it).
const CHUNK_BITS: u32 = 64 - LineMap::LINE_BITS;

impl LineMap {
    /// Bits of a key for the line within its chunk (a chunk holds fewer than 2^40 lines: it
    /// would need a terabyte of line breaks); the chunk number takes the other 24.
    const LINE_BITS: u32 = 40;

    /// The key of line `line` (from 0) of chunk `chunk`; `None` past 2^24 chunks.
    pub fn key(chunk: u64, line: u64) -> Option<u64> {
        (chunk < 1 << CHUNK_BITS && line < 1 << Self::LINE_BITS)
            .then_some((chunk << Self::LINE_BITS) | line)
    }

    fn new(first_line: u64, mut counts: Vec<(u64, u64)>) -> LineMap {
        counts.sort_unstable();
        let mut before = Vec::with_capacity(counts.len());
        let mut sum = 0;
        for (chunk, n) in counts {
            before.push((chunk, sum));
            sum += n;
        }
        LineMap { first_line, before }
    }

    /// The physical line of a key given to `work` (plus lines counted from it).
    pub fn line(&self, key: u64) -> u64 {
        let chunk = key >> Self::LINE_BITS;
        let within = key & ((1 << Self::LINE_BITS) - 1);
        let before = match self.before.binary_search_by_key(&chunk, |(c, _)| *c) {
            Ok(i) => self.before[i].1,
            Err(_) => 0,
        };
        self.first_line + before + within
    }
}

/// The lines of a chunk with their physical line numbers, terminators (`\n`, `\r\n`) removed.
pub fn lines(chunk: &[u8], first_line: u64) -> impl Iterator<Item = (u64, &[u8])> {
    let mut rest = chunk;
    let mut no = first_line;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let this = no;
        no += 1;
        Some((this, line))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_crate(line: &[u8]) -> Vec<Vec<u8>> {
        let mut r = csv::ReaderBuilder::new()
            .delimiter(b';')
            .has_headers(false)
            .flexible(true)
            .from_reader(line);
        let mut rec = csv::ByteRecord::new();
        assert!(r.read_byte_record(&mut rec).unwrap());
        rec.iter().map(<[u8]>::to_vec).collect()
    }

    fn unescape(f: &Field<'_>) -> Vec<u8> {
        if f.escaped {
            String::from_utf8_lossy(f.raw)
                .replace("\"\"", "\"")
                .into_bytes()
        } else {
            f.raw.to_vec()
        }
    }

    #[test]
    fn plain_lines_split_like_the_csv_crate() {
        let cases: [&[u8]; 10] = [
            b"4264;AV_Champs;2024-01-04T22:00:00+01:00;1034.0;;Fluide",
            b"a;b;",
            b";",
            b"   ",
            b"x",
            b"\"quoted;with;delims\";b",
            b"a;\"{\"\"coordinates\"\": [[2.3, 48.8]], \"\"type\"\": \"\"LineString\"\"}\"",
            b"\"\";\"\"\"\"",
            b"a;\"\"",
            b"\"\xff\xfe\";b",
        ];
        let mut out = Vec::new();
        for c in cases {
            assert!(
                split_line(c, b';', &mut out),
                "{:?}",
                String::from_utf8_lossy(c)
            );
            let mine: Vec<Vec<u8>> = out.iter().map(unescape).collect();
            assert_eq!(mine, csv_crate(c), "{:?}", String::from_utf8_lossy(c));
            same_split(c, b';');
        }
    }

    /// Both splitters on one line: same verdict, and when accepted, same fields.
    fn same_split(line: &[u8], delim: u8) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let ok = split_line(line, delim, &mut a);
        assert_eq!(
            split_line_blocks(line, delim, &mut b),
            ok,
            "{:?}",
            String::from_utf8_lossy(line)
        );
        if ok {
            assert_eq!(a, b, "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn block_splitter_agrees_on_every_short_line() {
        // Every line of up to 9 bytes over {a, ;, ", CR}: 349,525 lines.
        let alphabet = [b'a', b';', b'"', b'\r'];
        let mut line = Vec::new();
        for len in 0..=9u32 {
            for code in 0..4usize.pow(len) {
                line.clear();
                let mut c = code;
                for _ in 0..len {
                    line.push(alphabet[c % 4]);
                    c /= 4;
                }
                same_split(&line, b';');
            }
        }
    }

    #[test]
    fn block_splitter_agrees_on_long_lines_across_blocks() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut accepted = 0;
        for _ in 0..200_000 {
            let len = (next() % 300) as usize;
            // Mostly plain text: quotes and delimiters rare enough for many lines to be valid,
            // built from whole fields most of the time.
            let mut line = Vec::with_capacity(len + 8);
            while line.len() < len {
                match next() % 16 {
                    0 => line.push(b';'),
                    1 => line.push(b'"'),
                    2 if next() % 8 == 0 => line.push(b'\r'),
                    3..=5 => {
                        line.push(b'"');
                        for _ in 0..next() % 90 {
                            line.push(match next() % 12 {
                                0 => b';',
                                1 => b'"',
                                _ => b'x',
                            });
                            if line.last() == Some(&b'"') {
                                line.push(b'"');
                            }
                        }
                        line.push(b'"');
                        line.push(b';');
                    }
                    _ => line.extend_from_slice(b"abc;"),
                }
            }
            let mut out = Vec::new();
            accepted += usize::from(split_line(&line, b';', &mut out));
            same_split(&line, b';');
            same_split(&line, b',');
        }
        assert!(
            accepted > 20_000,
            "too few valid lines to compare: {accepted}"
        );
    }

    #[test]
    fn block_splitter_agrees_at_every_position_of_a_real_line() {
        let base: &[u8] = b"6331;Av_Parmentier;2025-01-02T06:00:00+01:00;704.0;8.93704;Fluide;3283;Parmentier-Sedaine;3280;Chemin_Vert-Parmentier;Invalide;1996-10-10;2023-01-01;48.8597512804, 2.37912555184;\"{\"\"type\"\": \"\"LineString\"\", \"\"coordinates\"\": [[2.379554529209865, 48.85917505554075], [2.378696574463937, 48.86032750516793]]}\"";
        same_split(base, b';');
        let snippets: [&[u8]; 9] = [
            b"\"", b"a\"b", b"\"a\"b", b";\"x\"", b"\"\"", b"\"\"\"", b"\r", b";", b"\";\"",
        ];
        for p in 0..=base.len() {
            for snip in snippets {
                let mut line = base[..p].to_vec();
                line.extend_from_slice(snip);
                line.extend_from_slice(&base[p..]);
                same_split(&line, b';');
                // And the snippet as the end of the line.
                let mut cut = base[..p].to_vec();
                cut.extend_from_slice(snip);
                same_split(&cut, b';');
            }
        }
    }

    #[test]
    fn block_masks_match_the_byte_loop() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            let mut block = [0u8; 64];
            for b in block.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = [b';', b'"', b'\r', b',', b'a', 0, 0xff][(seed % 7) as usize];
            }
            for delim in [b';', b',', b'\t', 0] {
                assert_eq!(
                    block_masks_64(&block, delim),
                    block_masks_scalar(&block, delim)
                );
            }
        }
    }

    #[test]
    fn irregular_lines_go_back_to_the_csv_crate() {
        let mut out = Vec::new();
        for c in [
            &b"ab\"c;d"[..],
            b"\"abc\"def;g",
            b"\"unclosed;x",
            b"a;b\rc;d",
            b"\"a\rb\";c",
        ] {
            assert!(
                !split_line(c, b';', &mut out),
                "{:?}",
                String::from_utf8_lossy(c)
            );
        }
        for (line, open) in [
            (&b"a;\"b\"\"c\";d"[..], false),
            (b"a;\"b", true),
            (b"a;\"b;c\"\"", true),
            (b"AV_\"Champs;x", false),
            (b"\"ab\"c\";d", false),
            (b"a;\"\"", false),
            (b"a;\"\"\"", true),
        ] {
            assert_eq!(
                ends_in_quotes(line, b';'),
                open,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn chunks_cover_every_line_once_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        let mut body = b"header\r\n".to_vec();
        // ~40 MB: up to 4 regions. A line longer than a chunk across the middle (where a region
        // would start), and a last line without terminator.
        let n = 3_000_000u64;
        let mut long_at = None;
        for i in 0..n {
            body.extend_from_slice(format!("{i};{}\r\n", "x".repeat((i % 7) as usize)).as_bytes());
            if i == n * 45 / 100 {
                long_at = Some(i + 1);
                body.extend_from_slice(&vec![b'y'; CHUNK * 2 + 5]);
                body.push(b'\n');
            }
        }
        body.extend_from_slice(b"last");
        std::fs::write(&p, &body).unwrap();
        let long_at = long_at.unwrap();
        for threads in [1, 2, 3, 4] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let file = File::open(&p).unwrap();
            let regions = split_regions(&file, 8, threads).unwrap();
            assert_eq!(regions.len(), threads, "{regions:?}");
            for mapped in [true, false] {
                let (end, got, map) = pool
                    .install(|| {
                        read_chunks(
                            mapped,
                            &p,
                            8,
                            2,
                            &|_| {},
                            Vec::new,
                            |acc: &mut Vec<(u64, u64, usize)>, chunk, first| {
                                let before = acc.len();
                                acc.extend(
                                    lines(chunk, first).map(|(k, l)| (k, l.len() as u64, l.len())),
                                );
                                let mut count = 0;
                                for (i, (k, ..)) in acc[before..].iter_mut().enumerate() {
                                    assert_eq!(*k, first + i as u64);
                                    count += 1;
                                }
                                Some(count)
                            },
                            |mut a, b| {
                                a.extend(b);
                                a
                            },
                        )
                    })
                    .unwrap();
                assert_eq!(end, Chunked::Done);
                // Keys sort like lines.
                let mut by_key = got.clone();
                by_key.sort();
                let lines_by_key: Vec<u64> = by_key.iter().map(|(k, ..)| map.line(*k)).collect();
                assert!(lines_by_key.windows(2).all(|w| w[0] + 1 == w[1]));
                let got: Vec<(u64, usize)> = by_key
                    .into_iter()
                    .map(|(k, _, len)| (map.line(k), len))
                    .collect();
                assert_eq!(got.len() as u64, n + 2, "{threads} threads");
                for (i, (line, len)) in got.iter().enumerate() {
                    let i = i as u64;
                    assert_eq!(*line, i + 2);
                    let expected = match i.cmp(&long_at) {
                        std::cmp::Ordering::Less => format!("{i};").len() + (i % 7) as usize,
                        std::cmp::Ordering::Equal => CHUNK * 2 + 5,
                        std::cmp::Ordering::Greater if i == n + 1 => 4,
                        std::cmp::Ordering::Greater => {
                            format!("{};", i - 1).len() + ((i - 1) % 7) as usize
                        }
                    };
                    assert_eq!(*len, expected, "line {line}, {threads} threads");
                }
            }
        }
    }

    /// One task alone reads every region when the other threads are kept busy (another file,
    /// say): nothing waits for a task that does not run.
    #[test]
    fn one_free_thread_reads_every_region() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        let line = [vec![b'q'; 99], vec![b'\n']].concat();
        std::fs::write(&p, line.repeat(400_000)).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        assert_eq!(
            split_regions(&File::open(&p).unwrap(), 0, 2).unwrap().len(),
            2
        );
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (busy_tx, busy_rx) = std::sync::mpsc::channel::<()>();
        // One of the two threads is kept until the read is done.
        pool.spawn(move || {
            busy_tx.send(()).unwrap();
            let _ = release_rx.recv();
        });
        busy_rx.recv().unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let path = p.clone();
        pool.spawn(move || {
            let r = read_chunks(
                true,
                &path,
                0,
                1,
                &|_| {},
                || 0u64,
                |n: &mut u64, chunk, _| {
                    let lines = memchr::memchr_iter(b'\n', chunk).count() as u64;
                    *n += lines;
                    Some(lines)
                },
                |a, b| a + b,
            );
            let _ = done_tx.send(r.map(|(end, n, _)| (end, n)).ok());
        });
        let got = done_rx.recv_timeout(std::time::Duration::from_secs(120));
        release_tx.send(()).unwrap();
        assert_eq!(got, Ok(Some((Chunked::Done, 400_000))));
    }

    #[test]
    fn regions_start_on_lines_and_never_inside_a_long_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        // One line of the whole file: a single region.
        std::fs::write(&p, vec![b'z'; 5 * CHUNK]).unwrap();
        let f = File::open(&p).unwrap();
        assert_eq!(split_regions(&f, 0, 4).unwrap().len(), 1);
        // Small files: one region; lines of 100 bytes: every region starts after a break.
        std::fs::write(&p, b"a\nb\n").unwrap();
        let f = File::open(&p).unwrap();
        assert_eq!(split_regions(&f, 0, 4).unwrap().len(), 1);
        let line = [vec![b'q'; 99], vec![b'\n']].concat();
        std::fs::write(&p, line.repeat(300_000)).unwrap();
        let f = File::open(&p).unwrap();
        let r = split_regions(&f, 0, 3).unwrap();
        assert_eq!(r.len(), 3);
        for (i, reg) in r.iter().enumerate() {
            assert_eq!(reg.pos % 100, 0, "{r:?}");
            assert_eq!(reg.end, r.get(i + 1).map(|n| n.pos));
            assert!(reg.next_no < reg.last_no && reg.last_no <= 1 << CHUNK_BITS);
        }
    }
}
