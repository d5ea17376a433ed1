//! Big CSV files, read as byte ranges parsed on all threads.
//!
//! One thread reads the file in chunks that end on a line break (counting the breaks, so every
//! chunk knows the physical line it starts on); the rayon pool parses the chunks. Lines are split
//! in place ([`split_line`]: no allocation, quotes resolved without copying), and anything that is
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

/// Reads `path` from byte `start` (a record boundary on physical line `first_line`) in chunks
/// ending on line breaks, and folds them on the rayon pool: `work(acc, chunk, first_line)`
/// returns false to stop everything (see [`Chunked::QuotedLineBreak`]). The per-thread
/// accumulators are combined with `merge`. Memory: a few chunks in flight, recycled.
pub fn read_chunks<T, I, W, M>(
    path: &Path,
    start: u64,
    first_line: u64,
    progress: &(dyn Fn(u64) + Sync),
    init: I,
    work: W,
    merge: M,
) -> std::io::Result<(Chunked, T)>
where
    T: Send,
    I: Fn() -> T + Sync + Send,
    W: Fn(&mut T, &[u8], u64) -> bool + Sync + Send,
    M: Fn(T, T) -> T + Sync + Send,
{
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(start))?;
    let threads = rayon::current_num_threads().max(1);
    let (tx, rx) = sync_channel::<(Vec<u8>, usize, u64)>(threads + 1);
    let (free_tx, free_rx) = channel::<Vec<u8>>();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let stop = &stop;
        let reader = s.spawn(move || -> std::io::Result<()> {
            let mut carry: Vec<u8> = Vec::new();
            let mut line = first_line;
            let mut eof = false;
            while !eof && !stop.load(Ordering::Relaxed) {
                let mut buf = free_rx.try_recv().unwrap_or_default();
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
                let lines = memchr::memchr_iter(b'\n', &buf[..cut]).count() as u64;
                progress(cut as u64);
                if cut > 0 && tx.send((buf, cut, line)).is_err() {
                    break;
                }
                line += lines;
            }
            drop(tx);
            Ok(())
        });
        let acc = rx
            .into_iter()
            .par_bridge()
            .fold(&init, |mut acc, (buf, len, line)| {
                if !stop.load(Ordering::Relaxed) && !work(&mut acc, &buf[..len], line) {
                    stop.store(true, Ordering::Relaxed);
                }
                let _ = free_tx.send(buf);
                acc
            })
            .reduce(&init, &merge);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("chunk reader thread panicked")));
        read?;
        let end = if stop.load(Ordering::Relaxed) {
            Chunked::QuotedLineBreak
        } else {
            Chunked::Done
        };
        Ok((end, acc))
    })
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
        let (end, mut got) = read_chunks(
            &p,
            8,
            2,
            &|_| {},
            Vec::new,
            |acc: &mut Vec<(u64, usize)>, chunk, first| {
                acc.extend(lines(chunk, first).map(|(n, l)| (n, l.len())));
                true
            },
            |mut a, b| {
                a.extend(b);
                a
            },
        )
        .unwrap();
        assert_eq!(end, Chunked::Done);
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
