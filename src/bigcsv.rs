//! Big CSV files, read as byte ranges parsed on all threads.
//!
//! One thread reads the file in chunks that end on a line break (counting the breaks, so every
//! chunk knows the physical line it starts on); the rayon pool parses the chunks. Lines are split
//! in place ([`split_line_blocks`], by 64-byte bit masks; [`split_line`] is the same by searches,
//! kept as its reference: no allocation, quotes resolved without copying), and anything that is
//! not plain CSV goes back to the csv crate, line by line, so the results are those of the simple
//! path exactly.
//!
//! Splitting on line breaks is only right when no quoted field spans lines. The road-counter
//! export has none, but the reader does not assume it: a line with an odd number of quotes (the
//! sign of a quoted line break) makes [`read_chunks`] report [`Chunked::QuotedLineBreak`], and
//! the caller reads the file with the sequential reader instead.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel};

use rayon::prelude::*;

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
/// [`Chunked::QuotedLineBreak`]). The per-thread accumulators are combined with `merge`. Memory:
/// a few chunks in flight.
///
/// Nobody counts lines ahead of the parsers: `key` numbers the chunk's first line as
/// [`LineMap::key`] does (chunk number, line within the chunk; keys sort like lines), and the
/// returned [`LineMap`] turns keys into physical line numbers once every chunk is counted.
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
    let (tx, rx) = sync_channel::<(Chunk, u64)>(threads + 1);
    let (free_tx, free_rx) = channel::<Vec<u8>>();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let stop = &stop;
        let reader = s.spawn(move || -> std::io::Result<()> {
            let mut no = 0u64;
            let mut send = |chunk: Chunk| {
                let key = LineMap::key(no, 0);
                no += 1;
                match key {
                    Some(key) => Ok(tx.send((chunk, key)).is_ok()),
                    None => Err(std::io::Error::other(
                        "too many chunks to number their lines (over 16 million)",
                    )),
                }
            };
            let mapped = if try_map {
                map_chunks(&file, start, stop, progress, &mut send)?
            } else {
                Some(start)
            };
            match mapped {
                None => Ok(()),
                Some(pos) => {
                    read_chunks_into_buffers(file, pos, stop, progress, &free_rx, &mut send)
                }
            }
        });
        let with_counts = || (init(), Vec::new());
        let (acc, counts) = rx
            .into_iter()
            .par_bridge()
            .fold(with_counts, |(mut acc, mut counts), (chunk, key)| {
                if !stop.load(Ordering::Relaxed) {
                    match work(&mut acc, chunk.bytes(), key) {
                        Some(n) => counts.push((key >> LineMap::LINE_BITS, n)),
                        None => stop.store(true, Ordering::Relaxed),
                    }
                }
                if let Chunk::Read(buf, _) = chunk {
                    let _ = free_tx.send(buf);
                }
                (acc, counts)
            })
            .reduce(with_counts, |(a, mut ca), (b, cb)| {
                ca.extend(cb);
                (merge(a, b), ca)
            });
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("chunk reader thread panicked")));
        read?;
        let end = if stop.load(Ordering::Relaxed) {
            Chunked::QuotedLineBreak
        } else {
            Chunked::Done
        };
        Ok((end, acc, LineMap::new(first_line, counts)))
    })
}

/// From line keys (chunk number, line within the chunk) to physical line numbers.
#[derive(Debug)]
pub struct LineMap {
    first_line: u64,
    /// The number of lines before each chunk.
    before: Vec<u64>,
}

impl LineMap {
    /// Bits of a key for the line within its chunk (a chunk holds fewer than 2^40 lines: it
    /// would need a terabyte of line breaks); the chunk number takes the other 24.
    const LINE_BITS: u32 = 40;

    /// The key of line `line` (from 0) of chunk `chunk`; `None` past 2^24 chunks.
    pub fn key(chunk: u64, line: u64) -> Option<u64> {
        (chunk < 1 << (64 - Self::LINE_BITS) && line < 1 << Self::LINE_BITS)
            .then_some((chunk << Self::LINE_BITS) | line)
    }

    fn new(first_line: u64, mut counts: Vec<(u64, u64)>) -> LineMap {
        counts.sort_unstable();
        let mut before = Vec::with_capacity(counts.len());
        let mut sum = 0;
        for (_, n) in counts {
            before.push(sum);
            sum += n;
        }
        LineMap { first_line, before }
    }

    /// The physical line of a key given to `work` (plus lines counted from it).
    pub fn line(&self, key: u64) -> u64 {
        let chunk = (key >> Self::LINE_BITS) as usize;
        let within = key & ((1 << Self::LINE_BITS) - 1);
        self.first_line + self.before.get(chunk).copied().unwrap_or(0) + within
    }
}

/// Sends mapped chunks from `pos` to the end of the file. `Some((pos, line))` when mapping
/// fails before anything past `pos` was sent: the caller reads the rest into buffers.
fn map_chunks(
    file: &File,
    mut pos: u64,
    stop: &AtomicBool,
    progress: &(dyn Fn(u64) + Sync),
    send: &mut dyn FnMut(Chunk) -> std::io::Result<bool>,
) -> std::io::Result<Option<u64>> {
    let mut want = CHUNK as u64;
    while !stop.load(Ordering::Relaxed) {
        // The length now, so that a file cut shorter since the last chunk is not mapped past
        // its end.
        let len = file.metadata()?.len();
        if pos >= len {
            break;
        }
        let end = len.min(pos + want);
        // SAFETY: the mapping is read-only and private to this function until sent; its bytes
        // are only read. A file modified while mapped can show the new bytes (parsed as they
        // are, like a read racing a write) or, cut shorter, raise SIGBUS (see `read_chunks`).
        let map = match unsafe {
            memmap2::MmapOptions::new()
                .offset(pos)
                .len((end - pos) as usize)
                .populate()
                .map(file)
        } {
            Ok(m) => m,
            Err(_) => return Ok(Some(pos)),
        };
        let cut = if end == len {
            map.len()
        } else {
            match memchr::memrchr(b'\n', &map) {
                Some(i) => i + 1,
                None => {
                    // One line longer than the chunk: map more.
                    want *= 2;
                    continue;
                }
            }
        };
        want = CHUNK as u64;
        progress(cut as u64);
        if !send(Chunk::Mapped(map, cut))? {
            break;
        }
        pos += cut as u64;
    }
    Ok(None)
}

/// Sends chunks read into (recycled) buffers, from `pos` to the end of the file.
fn read_chunks_into_buffers(
    mut file: File,
    pos: u64,
    stop: &AtomicBool,
    progress: &(dyn Fn(u64) + Sync),
    free: &std::sync::mpsc::Receiver<Vec<u8>>,
    send: &mut dyn FnMut(Chunk) -> std::io::Result<bool>,
) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(pos))?;
    let mut carry: Vec<u8> = Vec::new();
    let mut eof = false;
    while !eof && !stop.load(Ordering::Relaxed) {
        let mut buf = free.try_recv().unwrap_or_default();
        let want = CHUNK.max(carry.len() * 2);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        buf[..carry.len()].copy_from_slice(&carry);
        let mut len = carry.len();
        while len < buf.len() {
            let n = file.read(&mut buf[len..])?;
            if n == 0 {
                eof = true;
                break;
            }
            len += n;
        }
        // Cut after the last line break; the rest starts the next chunk.
        let cut = if eof {
            len
        } else {
            match memchr::memrchr(b'\n', &buf[..len]) {
                Some(i) => i + 1,
                None => {
                    // One line longer than the buffer: grow and read on.
                    carry.clear();
                    carry.extend_from_slice(&buf[..len]);
                    continue;
                }
            }
        };
        carry.clear();
        carry.extend_from_slice(&buf[cut..len]);
        progress(cut as u64);
        if cut > 0 && !send(Chunk::Read(buf, cut))? {
            break;
        }
    }
    Ok(())
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
        // Lines longer than a chunk, and a last line without terminator.
        for i in 0..20_000u64 {
            body.extend_from_slice(format!("{i};{}\r\n", "x".repeat((i % 7) as usize)).as_bytes());
        }
        body.extend_from_slice(&vec![b'y'; CHUNK * 2 + 5]);
        body.extend_from_slice(b"\nlast");
        std::fs::write(&p, &body).unwrap();
        for mapped in [true, false] {
            let (end, got, map) = read_chunks(
                mapped,
                &p,
                8,
                2,
                &|_| {},
                Vec::new,
                |acc: &mut Vec<(u64, usize)>, chunk, first| {
                    let before = acc.len();
                    acc.extend(lines(chunk, first).map(|(n, l)| (n, l.len())));
                    Some((acc.len() - before) as u64)
                },
                |mut a, b| {
                    a.extend(b);
                    a
                },
            )
            .unwrap();
            assert_eq!(end, Chunked::Done);
            let mut got: Vec<(u64, usize)> =
                got.into_iter().map(|(k, len)| (map.line(k), len)).collect();
            got.sort();
            assert_eq!(got.len(), 20_002);
            for (i, (n, len)) in got.iter().take(20_000).enumerate() {
                assert_eq!(*n, i as u64 + 2);
                assert_eq!(*len, format!("{i};").len() + i % 7);
            }
            assert_eq!(got[20_000], (20_002, CHUNK * 2 + 5));
            assert_eq!(got[20_001], (20_003, 4));
        }
    }
}
