//! Reading raw files: CSV headers by name (with aliases) and JSON / JSON Lines record streams.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::quality::{QualityAcc, Reason};

/// A file-level failure: the file cannot be used at all.
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    pub line: u64,
    pub reason: Reason,
    pub detail: String,
}

impl FileError {
    pub fn new(line: u64, reason: Reason, detail: impl Into<String>) -> FileError {
        FileError {
            line,
            reason,
            detail: detail.into(),
        }
    }
}

/// `str::trim`, without its Unicode scan when both ends are visible ASCII (every row of the
/// big exports).
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Normalises a header name for matching: lower case, accents folded, BOM and punctuation
/// (`_ - ' .`) turned into single spaces. `Débit horaire` and `debit_horaire` match.
pub fn norm_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = true;
    for c in s
        .trim_start_matches('\u{feff}')
        .chars()
        .flat_map(char::to_lowercase)
    {
        let c = match c {
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'à' | 'â' | 'ä' => 'a',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'û' | 'ù' | 'ü' => 'u',
            'ç' => 'c',
            '_' | '-' | '\'' | '’' | '.' | ' ' | '\t' => ' ',
            c => c,
        };
        if c == ' ' {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// One wanted column: its canonical (display) name, accepted aliases, and whether the file is
/// unusable without it.
pub struct ColumnSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
}

impl ColumnSpec {
    /// A column without which a file is unusable.
    pub const fn required(name: &'static str, aliases: &'static [&'static str]) -> ColumnSpec {
        ColumnSpec {
            name,
            aliases,
            required: true,
        }
    }

    /// A column a file may lack.
    pub const fn optional(name: &'static str, aliases: &'static [&'static str]) -> ColumnSpec {
        ColumnSpec {
            name,
            aliases,
            required: false,
        }
    }

    /// The canonical name then the aliases, for looking a field up in a JSON record.
    pub fn names(&self) -> Vec<&'static str> {
        std::iter::once(self.name)
            .chain(self.aliases.iter().copied())
            .collect()
    }
}

/// The message of a file whose header lacks required columns: with a delimiter hint only when
/// the header is one field (no delimiter found), else the known export it looks like, if any.
pub fn missing_columns_detail(missing: &[&str], header: &[String]) -> String {
    let cols = missing
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let n = header.len();
    let hint = if n <= 1 {
        format!("header has {n} field(s): is the delimiter `;`?")
    } else {
        match crate::discover::looks_like(header) {
            Some((k, found)) => format!(
                "header has {n} fields; it looks like the `{}` export ({found} of its {} \
                 telling columns), read as `{}` from {}",
                k.name,
                k.columns.len(),
                k.source,
                k.files
            ),
            None => format!("header has {n} fields; it looks like no export this tool reads"),
        }
    };
    format!("missing column(s) {cols} ({hint})")
}

/// The message of a row whose field count differs from the header's.
pub fn wrong_width_detail(width: usize, found: usize) -> String {
    format!("expected {width} fields, found {found} (truncated or shifted row)")
}

/// Finds each wanted column's index in a header row.
/// Returns the indices, or the list of missing required columns.
pub fn resolve_columns(
    header: &[String],
    specs: &[ColumnSpec],
) -> Result<Vec<Option<usize>>, Vec<&'static str>> {
    let normed: Vec<String> = header.iter().map(|h| norm_header(h)).collect();
    let mut missing = Vec::new();
    let idx: Vec<Option<usize>> = specs
        .iter()
        .map(|spec| {
            let found = std::iter::once(spec.name)
                .chain(spec.aliases.iter().copied())
                .find_map(|a| {
                    let a = norm_header(a);
                    normed.iter().position(|h| *h == a)
                });
            if found.is_none() && spec.required {
                missing.push(spec.name);
            }
            found
        })
        .collect();
    if missing.is_empty() {
        Ok(idx)
    } else {
        Err(missing)
    }
}

/// Picks the delimiter of a header line: `;` (the Paris exports), else `,` or tab when the line
/// holds one of those and no `;`.
pub fn sniff_delimiter(first_line: &[u8]) -> u8 {
    let count = |d: u8| first_line.iter().filter(|&&b| b == d).count();
    if count(b';') > 0 {
        b';'
    } else if count(b'\t') > 0 {
        b'\t'
    } else if count(b',') > 0 {
        b','
    } else {
        b';'
    }
}

/// A `Read` over a file that keeps the bytes it handed out until a [`LineTracker`] has counted
/// their line breaks (a few MB at most: the CSV reader's look-ahead).
pub struct Tap {
    file: File,
    state: Arc<Mutex<TapState>>,
}

#[derive(Default)]
struct TapState {
    /// (offset of the first byte, bytes), in file order.
    chunks: VecDeque<(u64, Vec<u8>)>,
    end: u64,
}

impl Read for Tap {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        if n > 0 {
            let mut s = self.state.lock().expect("tap lock");
            let start = s.end;
            s.chunks.push_back((start, buf[..n].to_vec()));
            s.end += n as u64;
        }
        Ok(n)
    }
}

/// Exact physical line numbers of CSV records, from their byte offsets. The csv crate's own
/// line numbers are one short for a record that follows a CRLF (it counts the LF with the next
/// record), which would put every sample of a CRLF export on the wrong line.
pub struct LineTracker {
    state: Arc<Mutex<TapState>>,
    cursor: u64,
    line: u64,
}

impl LineTracker {
    /// The line on which the record starting at `byte` begins. Offsets must not decrease.
    pub fn line_at(&mut self, byte: u64) -> u64 {
        let mut s = self.state.lock().expect("tap lock");
        // Line breaks between the last position and this one.
        for (start, data) in s.chunks.iter() {
            let end = start + data.len() as u64;
            if end <= self.cursor || *start >= byte {
                continue;
            }
            let from = (self.cursor.max(*start) - start) as usize;
            let to = (byte.min(end) - start) as usize;
            self.line += memchr::memchr_iter(b'\n', &data[from..to]).count() as u64;
        }
        self.cursor = self.cursor.max(byte);
        // A record position may point at the LF of the previous CRLF (or at blank lines):
        // the record itself starts after them.
        'skip: for (start, data) in s.chunks.iter() {
            let end = start + data.len() as u64;
            if end <= self.cursor {
                continue;
            }
            for &b in &data[(self.cursor - start) as usize..] {
                match b {
                    b'\n' => self.line += 1,
                    b'\r' => {}
                    _ => break 'skip,
                }
                self.cursor += 1;
            }
        }
        let cursor = self.cursor;
        while s
            .chunks
            .front()
            .is_some_and(|(start, d)| start + d.len() as u64 <= cursor)
        {
            s.chunks.pop_front();
        }
        self.line
    }

    /// The line of a csv record or error position (0 when unknown).
    pub fn line_of(&mut self, pos: Option<&csv::Position>) -> u64 {
        pos.map(|p| self.line_at(p.byte())).unwrap_or(0)
    }
}

/// An opened CSV file: the reader positioned after the header, the header fields, and the
/// tracker giving each record's physical line.
pub struct CsvInput {
    pub reader: csv::Reader<Tap>,
    pub header: Vec<String>,
    pub lines: LineTracker,
    /// Nothing but line breaks follows the header (see [`HEADER_ONLY`]).
    pub header_only: bool,
}

impl CsvInput {
    /// Reads the records one by one into `each(q, record, line)`. A read error ends the file: it
    /// is counted as an undated row of `source` in `file`, rejected as `read_error`.
    pub fn for_each_record(
        &mut self,
        q: &mut QualityAcc,
        (source, file): (&'static str, &str),
        mut each: impl FnMut(&mut QualityAcc, &csv::ByteRecord, u64),
    ) {
        let mut rec = csv::ByteRecord::new();
        loop {
            match self.reader.read_byte_record(&mut rec) {
                Ok(true) => {
                    let line = self.lines.line_of(rec.position());
                    each(q, &rec, line)
                }
                Ok(false) => break,
                Err(e) => {
                    let line = self.lines.line_of(e.position());
                    q.row(source, None, file)
                        .problem(line, Reason::ReadError, e.to_string());
                    break;
                }
            }
        }
    }
}

/// The message of a CSV file with a header and no data row (an `empty_file` failure: an export
/// that lost its rows).
pub const HEADER_ONLY: &str = "header only, no data rows";

/// Whether the file holds nothing but line breaks from `offset` on (looks at 64 KB at most: a
/// longer tail is taken as data).
fn only_line_breaks_after(path: &Path, offset: u64) -> std::io::Result<bool> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut tail = Vec::new();
    f.take(64 * 1024 + 1).read_to_end(&mut tail)?;
    Ok(tail.len() <= 64 * 1024 && tail.iter().all(|b| matches!(b, b'\r' | b'\n')))
}

/// Opens a CSV file, sniffs its delimiter and reads its header (BOM stripped).
/// Why a header is refused, with the encoding its bytes look like and how to convert the file.
fn not_utf8(head: &[u8]) -> String {
    let utf16 = head.starts_with(&[0xFF, 0xFE])
        || head.starts_with(&[0xFE, 0xFF])
        || head.iter().take(512).filter(|&&b| b == 0).count() > 16;
    let (looks, from) = if utf16 {
        ("UTF-16", "UTF-16")
    } else {
        ("Latin-1 / Windows-1252 (é as one byte)", "WINDOWS-1252")
    };
    format!(
        "header is not UTF-8: the file looks like {looks}; convert it with \
         `iconv -f {from} -t UTF-8 FILE > FILE.utf8.csv`"
    )
}

pub fn open_csv(path: &Path) -> Result<CsvInput, FileError> {
    let io = |e: std::io::Error| FileError::new(0, Reason::ReadError, e.to_string());
    let mut f = File::open(path).map_err(io)?;
    let mut head = vec![0u8; 64 * 1024];
    let mut n = 0;
    while n < head.len() {
        let k = f.read(&mut head[n..]).map_err(io)?;
        if k == 0 {
            break;
        }
        n += k;
    }
    head.truncate(n);
    if head
        .iter()
        .all(|b| b.is_ascii_whitespace() || *b == 0xEF || *b == 0xBB || *b == 0xBF)
    {
        return Err(FileError::new(
            1,
            Reason::EmptyFile,
            "file is empty (no header)",
        ));
    }
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let delim = sniff_delimiter(first_line);
    let f = File::open(path).map_err(io)?;
    let state = Arc::new(Mutex::new(TapState::default()));
    let tap = Tap {
        file: f,
        state: state.clone(),
    };
    let lines = LineTracker {
        state,
        cursor: 0,
        line: 1,
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(tap);
    let mut rec = csv::ByteRecord::new();
    match reader.read_byte_record(&mut rec) {
        Ok(true) => {}
        Ok(false) => {
            return Err(FileError::new(
                1,
                Reason::EmptyFile,
                "file is empty (no header)",
            ))
        }
        Err(e) => return Err(FileError::new(1, Reason::ReadError, e.to_string())),
    }
    let header = rec
        .iter()
        .map(|f| std::str::from_utf8(f).map(str::to_string))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| FileError::new(1, Reason::InvalidUtf8, not_utf8(&head)))?;
    let header_only = only_line_breaks_after(path, reader.position().byte()).map_err(io)?;
    Ok(CsvInput {
        reader,
        header,
        lines,
        header_only,
    })
}

/// Opens a CSV file and finds its columns. When the file cannot be used (unreadable, empty,
/// required columns missing, header only), records it as failed in `q` (with its data rows
/// counted as rejected) and returns None.
pub fn open_csv_columns(
    f: &crate::discover::InputFile,
    source: &'static str,
    specs: &[ColumnSpec],
    q: &mut crate::quality::QualityAcc,
) -> Option<(CsvInput, Vec<Option<usize>>)> {
    let mut input = match open_csv(&f.path) {
        Ok(i) => i,
        Err(e) => {
            q.file_failed(source, &f.rel, e.line, e.reason, e.detail, 0);
            return None;
        }
    };
    match resolve_columns(&input.header, specs) {
        Ok(_) if input.header_only => {
            q.file_failed(source, &f.rel, 1, Reason::EmptyFile, HEADER_ONLY.into(), 0);
            None
        }
        Ok(cols) => Some((input, cols)),
        Err(missing) => {
            let rows = count_remaining(&mut input.reader);
            let detail = missing_columns_detail(&missing, &input.header);
            q.file_failed(source, &f.rel, 1, Reason::MissingColumn, detail, rows);
            None
        }
    }
}

/// Counts the data records left in a CSV reader (to report how many rows a failed file held).
pub fn count_remaining(reader: &mut csv::Reader<Tap>) -> u64 {
    let mut rec = csv::ByteRecord::new();
    let mut n = 0;
    while let Ok(true) = reader.read_byte_record(&mut rec) {
        n += 1;
    }
    n
}

/// One item of a JSON input: a record with the line it starts on, or a problem.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonItem {
    Record {
        line: u64,
        value: Value,
    },
    Bad {
        line: u64,
        reason: Reason,
        detail: String,
    },
}

impl JsonItem {
    /// The record and its line; a bad item is counted as an undated row of `source` in `file`,
    /// with its problem, and gives None.
    pub fn into_record(
        self,
        q: &mut QualityAcc,
        source: &'static str,
        file: &str,
    ) -> Option<(u64, Value)> {
        match self {
            JsonItem::Record { line, value } => Some((line, value)),
            JsonItem::Bad {
                line,
                reason,
                detail,
            } => {
                q.row(source, None, file).problem(line, reason, detail);
                None
            }
        }
    }
}

/// Largest JSON file read (they are API snapshots; the big exports are CSV).
pub const MAX_JSON_BYTES: u64 = 1 << 30;

/// Largest memory a JSON file may take once parsed, by [`json_memory_estimate`]: a file
/// estimated above is refused (named, with its estimate) before it is parsed, so that no input
/// can exhaust memory (a 10 MB array of zeros parses into 1.5 GB).
pub const MAX_JSON_MEMORY: u64 = 1 << 30;

/// Bytes one JSON value costs once parsed and spread into records, at most: the `Value` in its
/// array or object (80 bytes, twice while the vector grows), the record it becomes with its
/// line (96, twice), and an object key or a message. Measured: 5 M zeros (10 MB) peak at
/// 1.5 GB, i.e. about 300 bytes per value.
const BYTES_PER_VALUE: u64 = 320;

/// An upper estimate of the memory `bytes` take once parsed: the text (its strings are copied)
/// plus [`BYTES_PER_VALUE`] per value. Values are counted in one pass without parsing: each
/// `,` `[` `{` `:` outside strings starts at most one more value (or key).
pub fn json_memory_estimate(bytes: &[u8]) -> u64 {
    let mut values = 1u64;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b',' | b'[' | b'{' | b':' => values += 1,
                _ => {}
            }
        }
    }
    2 * bytes.len() as u64 + values * BYTES_PER_VALUE
}

/// Reads a JSON input: one document, several documents, or JSON Lines (as written by the
/// ingestion Lambda). Arrays are spread one record per element; Opendatasoft responses
/// (`results`, `records[].fields`) and GeoJSON `features` are spread too; `{"_raw": ...}` (a
/// non-JSON body captured by the ingestion) is reported, never used.
pub fn read_json(path: &Path) -> Result<Vec<JsonItem>, FileError> {
    let meta =
        std::fs::metadata(path).map_err(|e| FileError::new(0, Reason::ReadError, e.to_string()))?;
    if meta.len() > MAX_JSON_BYTES {
        return Err(FileError::new(
            0,
            Reason::ReadError,
            format!(
                "JSON file of {} bytes is over the {} byte limit",
                meta.len(),
                MAX_JSON_BYTES
            ),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| FileError::new(0, Reason::ReadError, e.to_string()))?;
    check_json_memory(&bytes)?;
    parse_json_bytes(&bytes)
}

/// Refuses a JSON text whose [`json_memory_estimate`] is over [`MAX_JSON_MEMORY`].
pub fn check_json_memory(bytes: &[u8]) -> Result<(), FileError> {
    let estimate = json_memory_estimate(bytes);
    if estimate > MAX_JSON_MEMORY {
        return Err(FileError::new(
            0,
            Reason::ReadError,
            format!(
                "refused: {} bytes of JSON would take about {} MiB once parsed, over the limit \
                 of {} MiB per file",
                bytes.len(),
                estimate >> 20,
                MAX_JSON_MEMORY >> 20
            ),
        ));
    }
    Ok(())
}

/// See [`read_json`].
pub fn parse_json_bytes(bytes: &[u8]) -> Result<Vec<JsonItem>, FileError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(FileError::new(1, Reason::EmptyFile, "file is empty"));
    }
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    let mut line = 1u64;
    let mut counted_to = 0usize;
    let mut all_single_line = true;
    loop {
        let start = stream.byte_offset();
        // the value starts at the first non-whitespace byte
        let vstart = start
            + body[start..]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        line += body[counted_to..vstart]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        counted_to = vstart;
        match stream.next() {
            None => break,
            Some(Ok(v)) => {
                let end = stream.byte_offset();
                if body[vstart..end].contains(&b'\n') {
                    all_single_line = false;
                }
                spread(v, line, &mut out);
            }
            Some(Err(e)) => {
                let first_line_is_value = {
                    let first = body.split(|&b| b == b'\n').next().unwrap_or(&[]);
                    serde_json::from_slice::<Value>(first).is_ok()
                };
                if all_single_line && (first_line_is_value || !out.is_empty()) {
                    // JSON Lines: parse the rest line by line, rejecting only the bad lines.
                    let rest = &body[vstart..];
                    for (i, l) in rest.split(|&b| b == b'\n').enumerate() {
                        let ln = line + i as u64;
                        let trimmed = l.trim_ascii();
                        if trimmed.is_empty() {
                            continue;
                        }
                        match serde_json::from_slice::<Value>(trimmed) {
                            Ok(v) => spread(v, ln, &mut out),
                            Err(e) => out.push(JsonItem::Bad {
                                line: ln,
                                reason: Reason::BadJson,
                                detail: format!("invalid JSON line: {e}"),
                            }),
                        }
                    }
                } else {
                    let err_line = e.line() as u64;
                    if out.is_empty() {
                        return Err(FileError::new(
                            err_line.max(1),
                            Reason::BadJson,
                            format!("invalid JSON: {e}"),
                        ));
                    }
                    out.push(JsonItem::Bad {
                        line: e.line() as u64,
                        reason: Reason::BadJson,
                        detail: format!("invalid JSON after the first records: {e}"),
                    });
                }
                break;
            }
        }
    }
    Ok(out)
}

fn spread(v: Value, line: u64, out: &mut Vec<JsonItem>) {
    match v {
        Value::Array(items) => {
            for item in items {
                spread_one(item, line, out);
            }
        }
        Value::Object(mut o) => {
            for key in ["results", "records", "features"] {
                if let Some(Value::Array(_)) = o.get(key) {
                    if let Some(Value::Array(items)) = o.remove(key) {
                        for item in items {
                            spread_one(item, line, out);
                        }
                    }
                    return;
                }
            }
            spread_one(Value::Object(o), line, out)
        }
        other => spread_one(other, line, out),
    }
}

fn spread_one(v: Value, line: u64, out: &mut Vec<JsonItem>) {
    match v {
        Value::Object(mut o) => {
            if let Some(raw) = o.get("_raw") {
                let shown: String = raw.as_str().unwrap_or("").chars().take(60).collect();
                out.push(JsonItem::Bad {
                    line,
                    reason: Reason::IngestedNonJson,
                    detail: format!("the API answered a non-JSON body: {shown:?}"),
                });
                return;
            }
            // Opendatasoft v1/v2.0: {"record": {"fields": {...}}} or {"fields": {...}}
            if let Some(Value::Object(_)) = o.get("fields") {
                if let Some(f) = o.remove("fields") {
                    return out.push(JsonItem::Record { line, value: f });
                }
            }
            if let Some(Value::Object(rec)) = o.get("record") {
                if let Some(Value::Object(f)) = rec.get("fields") {
                    return out.push(JsonItem::Record {
                        line,
                        value: Value::Object(f.clone()),
                    });
                }
            }
            out.push(JsonItem::Record {
                line,
                value: Value::Object(o),
            })
        }
        other => out.push(JsonItem::Bad {
            line,
            reason: Reason::NotARecord,
            detail: format!("expected an object, found {}", json_kind(&other)),
        }),
    }
}

/// What a JSON value is, for messages: `null`, `a boolean`, `a number`, `a string`, `an array`,
/// `an object`.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_is_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{a0}a",
            "a\u{2003}",
            "é",
            " é ",
            "a b",
            "\ta\n",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    fn lines(items: &[JsonItem]) -> Vec<(u64, bool)> {
        items
            .iter()
            .map(|i| match i {
                JsonItem::Record { line, .. } => (*line, true),
                JsonItem::Bad { line, .. } => (*line, false),
            })
            .collect()
    }

    #[test]
    fn headers_match_with_accents_and_technical_names() {
        assert_eq!(norm_header("\u{feff}Débit horaire"), "debit horaire");
        assert_eq!(norm_header("Taux d'occupation"), "taux d occupation");
        assert_eq!(norm_header("IU_AC"), "iu ac");
        let specs = [
            ColumnSpec::required("Identifiant arc", &["iu_ac"]),
            ColumnSpec::optional("Libelle", &[]),
            ColumnSpec::required("geo_shape", &[]),
        ];
        let h: Vec<String> = ["IU_AC", "x", "geo_shape"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            resolve_columns(&h, &specs),
            Ok(vec![Some(0), None, Some(2)])
        );
        let h: Vec<String> = vec!["a,b,c".into()];
        assert_eq!(
            resolve_columns(&h, &specs),
            Err(vec!["Identifiant arc", "geo_shape"])
        );
    }

    #[test]
    fn json_lines_document_and_arrays() {
        let jl = b"{\"a\":1}\n[{\"a\":2},{\"a\":3}]\n\n{\"_raw\":\"<html>\"}\n";
        let items = parse_json_bytes(jl).unwrap();
        assert_eq!(
            lines(&items),
            vec![(1, true), (2, true), (2, true), (4, false)]
        );
        let doc = b"{\n  \"total_count\": 2,\n  \"results\": [\n {\"a\": 1},\n {\"a\": 2}\n ]\n}\n";
        let items = parse_json_bytes(doc).unwrap();
        assert_eq!(lines(&items), vec![(1, true), (1, true)]);
    }

    #[test]
    fn bad_json_lines_are_rejected_one_by_one() {
        let jl = b"{\"a\":1}\n{\"a\":\n{\"a\":3}\n";
        let items = parse_json_bytes(jl).unwrap();
        assert_eq!(lines(&items), vec![(1, true), (2, false), (3, true)]);
        // a truncated pretty document is one file-level error
        let err = parse_json_bytes(b"[\n {\"a\": 1},\n {\"a\"").unwrap_err();
        assert_eq!(err.reason, Reason::BadJson);
        assert_eq!(
            parse_json_bytes(b"  \n").unwrap_err().reason,
            Reason::EmptyFile
        );
        let items = parse_json_bytes(b"[1, {\"a\": 1}]").unwrap();
        assert_eq!(lines(&items), vec![(1, false), (1, true)]);
    }

    #[test]
    fn json_memory_is_estimated_from_the_shape() {
        // An array and its 2 values; commas, colons and brackets inside strings do not count.
        assert_eq!(json_memory_estimate(b"[0,0]"), 10 + 3 * BYTES_PER_VALUE);
        assert_eq!(
            json_memory_estimate(br#"{"a,[{:":"\\"}"#),
            2 * 14 + 3 * BYTES_PER_VALUE
        );
        // 10 MB of zeros: refused; the same size of ordinary records: read.
        let zeros = [b"[".as_slice(), &b"0,".repeat(5_000_000), b"0]"].concat();
        let e = check_json_memory(&zeros).unwrap_err();
        assert!(
            e.detail
                .starts_with("refused: 10000003 bytes of JSON would take about 1544 MiB"),
            "{}",
            e.detail
        );
        let rec = br#"{"iu_ac":"4264","t_1h":"2024-01-04T00:00:00+01:00","q":"123.0","k":"4.5","etat_trafic":"Fluide"},"#;
        let records = [b"[".as_slice(), &rec.repeat(10_000_000 / rec.len()), b"{}]"].concat();
        assert!(check_json_memory(&records).is_ok());
    }

    #[test]
    fn physical_lines_with_crlf_lf_and_multiline_fields() {
        let dir = tempfile::tempdir().unwrap();
        // header, A, B spanning two lines (CRLF inside quotes), blank line, C with LF, D
        let body = b"h1;h2\r\na;1\r\n\"b\r\nb\";2\r\n\r\nc;3\nd;4\r\n";
        let p = dir.path().join("x.csv");
        std::fs::write(&p, body).unwrap();
        let mut input = open_csv(&p).unwrap();
        let mut rec = csv::ByteRecord::new();
        let mut got = Vec::new();
        while input.reader.read_byte_record(&mut rec).unwrap() {
            let line = input.lines.line_of(rec.position());
            got.push((String::from_utf8_lossy(&rec[0]).into_owned(), line));
        }
        let want: Vec<(String, u64)> = [("a", 2), ("b\r\nb", 3), ("c", 6), ("d", 7)]
            .iter()
            .map(|(s, l)| (s.to_string(), *l))
            .collect();
        assert_eq!(got, want);
    }
}
