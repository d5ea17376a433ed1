//! The `.env` file: read from the working directory only (or `--env-file` / `CITYFLOW_ENV_FILE`),
//! never from a parent folder; a malformed entry is reported with its line number and the other
//! entries are still read; variables already set in the environment win.

use std::path::{Path, PathBuf};

/// What reading the `.env` file did, told once logging is set up.
#[derive(Debug, Default)]
pub struct DotEnv {
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// Variables set from the file, with their line number (the ones the environment did not
    /// already set).
    pub set: Vec<(String, usize)>,
    /// Problems, each naming the file and line.
    pub warnings: Vec<String>,
    /// Why the file could not be read (not for a missing `./.env`, which is normal).
    pub unreadable: Option<String>,
}

impl DotEnv {
    /// The line of the file that set `name`, if the file set it.
    pub fn line_of(&self, name: &str) -> Option<usize> {
        self.set.iter().find(|(n, _)| n == name).map(|&(_, l)| l)
    }
}

/// The file read and the variables it set, for [`set_by_file`].
static SET: std::sync::OnceLock<(PathBuf, Vec<(String, usize)>)> = std::sync::OnceLock::new();

/// Remembers what [`load`] set (once per process), for [`set_by_file`].
pub fn remember(d: &DotEnv) {
    if let Some(p) = &d.path {
        let _ = SET.set((p.clone(), d.set.clone()));
    }
}

/// `"<file> line <n>"` when the `.env` file read at start-up set the variable `name`.
pub fn set_by_file(name: &str) -> Option<String> {
    let (path, set) = SET.get()?;
    let line = set.iter().find(|(n, _)| n == name)?.1;
    Some(format!("{} line {line}", path.display()))
}

/// Reads `explicit` (which must exist) or `./.env` (which may not) into the environment.
/// Call it before any thread starts: it sets environment variables.
pub fn load(explicit: Option<&Path>) -> DotEnv {
    let path = explicit.map_or_else(|| PathBuf::from(".env"), Path::to_path_buf);
    let mut report = DotEnv::default();
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if explicit.is_none() && e.kind() == std::io::ErrorKind::NotFound => return report,
        Err(e) => {
            report
                .warnings
                .push(format!("env file {}: {e}; not read", path.display()));
            report.unreadable = Some(e.to_string());
            return report;
        }
    };
    for entry in entries(&text) {
        match entry.parsed {
            Ok(None) => {}
            Ok(Some((name, value))) => {
                if std::env::var_os(&name).is_none() {
                    std::env::set_var(&name, value);
                    report.set.push((name, entry.line));
                }
            }
            Err(why) => report.warnings.push(format!(
                "{} line {}: {why}; this entry is ignored, the others are read",
                path.display(),
                entry.line
            )),
        }
    }
    report.path = Some(path);
    report
}

/// An entry's name and value, `None` for a comment or blank line, or why it does not parse.
type Pair = Result<Option<(String, String)>, String>;

/// One logical entry of the file: its first line number and what it parsed to.
struct Entry {
    line: usize,
    parsed: Pair,
}

/// Splits the file into entries (a quoted value may span lines) and parses each with dotenvy,
/// so that one bad entry does not hide the ones after it.
fn entries(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut first = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if pending.is_empty() {
            first = i + 1;
        }
        pending.push_str(line);
        match parse_entry(&pending) {
            Parsed::Unterminated => continue,
            Parsed::Done(parsed) => out.push(Entry {
                line: first,
                parsed,
            }),
        }
        pending.clear();
    }
    if !pending.is_empty() {
        let why = "a quote opened here is never closed (the rest of the file is this value)";
        out.push(Entry {
            line: first,
            parsed: Err(why.into()),
        });
    }
    out
}

enum Parsed {
    Unterminated,
    Done(Pair),
}

fn parse_entry(text: &str) -> Parsed {
    let mut items = dotenvy::from_read_iter(text.as_bytes());
    match items.next() {
        None => Parsed::Done(Ok(None)),
        Some(Ok(pair)) => Parsed::Done(Ok(Some(pair))),
        Some(Err(dotenvy::Error::LineParse(line, at))) if at >= line.len() && !line.is_empty() => {
            if quote_open(&line) {
                Parsed::Unterminated
            } else {
                Parsed::Done(Err(format!(
                    "cannot parse {:?} (expected NAME=value)",
                    line.trim_end()
                )))
            }
        }
        Some(Err(dotenvy::Error::LineParse(line, _))) => Parsed::Done(Err(format!(
            "cannot parse {:?} (expected NAME=value)",
            line.trim_end()
        ))),
        Some(Err(e)) => Parsed::Done(Err(e.to_string())),
    }
}

/// Whether `text` ends inside a quoted value (an odd number of unescaped quotes of one kind).
fn quote_open(text: &str) -> bool {
    let Some((_, value)) = text.split_once('=') else {
        return false;
    };
    let value = value.trim_start();
    let Some(q @ ('"' | '\'')) = value.chars().next() else {
        return false;
    };
    let mut escaped = false;
    for c in value[1..].chars() {
        match c {
            '\\' if q == '"' && !escaped => escaped = true,
            c if c == q && !escaped => return false,
            _ => escaped = false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Vec<(usize, Pair)> {
        entries(text)
            .into_iter()
            .map(|e| (e.line, e.parsed))
            .collect()
    }

    fn pair(n: &str, v: &str) -> Pair {
        Ok(Some((n.into(), v.into())))
    }

    #[test]
    fn a_bad_line_is_reported_with_its_number_and_the_rest_is_read() {
        let got = parsed("A=1\nthis is not an entry\n# comment\nB=\"two\nlines\"\nC=3\n");
        assert_eq!(got[0], (1, pair("A", "1")));
        assert_eq!(got[1].0, 2);
        assert!(got[1]
            .1
            .as_ref()
            .unwrap_err()
            .contains("this is not an entry"));
        assert_eq!(got[2], (3, Ok(None)));
        assert_eq!(got[3], (4, pair("B", "two\nlines")));
        assert_eq!(got[4], (6, pair("C", "3")));
    }

    #[test]
    fn an_unclosed_quote_is_reported_at_its_line() {
        let got = parsed("A=1\nB=\"open\nC=3\n");
        assert_eq!(got[0], (1, pair("A", "1")));
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, 2);
        assert!(got[1].1.as_ref().unwrap_err().contains("never closed"));
    }

    #[test]
    fn quotes_are_tracked() {
        assert!(quote_open("A=\"x"));
        assert!(!quote_open("A=\"x\""));
        assert!(quote_open("A=\"x\\\""));
        assert!(!quote_open("A='x'"));
        assert!(!quote_open("A=x\""));
    }
}
