//! JSON outputs: serde_json's pretty format (2 spaces, UTF-8 as is), byte for byte, and the
//! pieces to write the largest documents by hand in that same format ([`Obj`]): a day's
//! road-counter metrics hold ~3,400 objects of 18 keys, and serde_json escapes every key byte by
//! byte.

use serde::Serialize;

/// Pretty JSON (2 spaces, UTF-8 as is) with a final newline.
pub fn to_json_bytes<T: Serialize>(v: &T) -> Vec<u8> {
    document(|out| write_at(out, 0, v))
}

/// A document written by `write`, with a final newline.
pub fn document(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    thread_local! {
        /// The largest document this thread wrote: the next buffer starts that big instead of
        /// growing by doubling (a day's road-counter metrics are ~3 MB: ~20 reallocations).
        static LARGEST: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    let mut b = Vec::with_capacity(LARGEST.get() / 64 * 65);
    write(&mut b);
    b.push(b'\n');
    LARGEST.set(LARGEST.get().max(b.len()));
    b
}

/// serde_json's `PrettyFormatter` with 2 spaces, byte for byte, writing each line break and
/// its indentation in one piece (the original writes the indentation 2 bytes at a time, and a
/// day's road-counter metrics have ~100 k indented lines).
#[derive(Default)]
pub struct Pretty {
    level: usize,
    has_value: bool,
}

impl Pretty {
    /// `,` (unless `first`), a line break, and the indentation of the current level.
    fn line<W: ?Sized + std::io::Write>(&self, w: &mut W, first: bool) -> std::io::Result<()> {
        const PAD: &[u8; 130] = b",\n                                                                                                                                ";
        let from = usize::from(first);
        match PAD.get(from..2 + 2 * self.level) {
            Some(p) => w.write_all(p),
            None => {
                w.write_all(&PAD[from..2])?;
                for _ in 0..self.level {
                    w.write_all(b"  ")?;
                }
                Ok(())
            }
        }
    }

    fn close<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.line(w, true)?;
        }
        w.write_all(c)
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(b"[")
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.line(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(b"{")
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.line(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// `,` (unless `first`), a line break and the indentation of `level`.
fn line(out: &mut Vec<u8>, level: usize, first: bool) {
    let _ = Pretty {
        level,
        has_value: false,
    }
    .line(out, first);
}

/// `v` in the pretty format as the value of a key (or an item) at depth `level`.
pub fn write_at<T: Serialize + ?Sized>(out: &mut Vec<u8>, level: usize, v: &T) {
    let mut ser = serde_json::Serializer::with_formatter(
        &mut *out,
        Pretty {
            level,
            has_value: false,
        },
    );
    v.serialize(&mut ser)
        .expect("output structures always serialise");
}

/// A string, escaped as serde_json escapes it (the common case, nothing to escape, copied).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        write_at(out, 0, s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// A value written as serde_json writes it (strings by [`write_str`]).
pub trait Scalar {
    fn write(&self, out: &mut Vec<u8>);
}

impl Scalar for str {
    fn write(&self, out: &mut Vec<u8>) {
        write_str(out, self)
    }
}

impl<T: Scalar + ?Sized> Scalar for &T {
    fn write(&self, out: &mut Vec<u8>) {
        (**self).write(out)
    }
}

impl Scalar for String {
    fn write(&self, out: &mut Vec<u8>) {
        write_str(out, self)
    }
}

impl Scalar for std::sync::Arc<str> {
    fn write(&self, out: &mut Vec<u8>) {
        write_str(out, self)
    }
}

impl<T: Scalar> Scalar for Option<T> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Some(v) => v.write(out),
            None => out.extend_from_slice(b"null"),
        }
    }
}

macro_rules! scalar_by_serde {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            fn write(&self, out: &mut Vec<u8>) {
                write_at(out, 0, self)
            }
        }
    )*};
}
scalar_by_serde!(f64, u32, bool);

/// Writes the struct `$s`'s fields, named in order, as an object at depth `$level` (what
/// `#[derive(Serialize)]` writes when the names are the struct's fields in declaration order).
macro_rules! write_fields {
    ($out:expr, $level:expr, $s:expr; $($f:ident),* $(,)?) => {{
        let mut o = $crate::json::Obj::begin($out, $level);
        $(
            o.key($out, stringify!($f));
            $crate::json::Scalar::write(&$s.$f, $out);
        )*
        o.end($out);
    }};
}
pub(crate) use write_fields;

/// An object written by hand at depth `level`: `{`, then [`Obj::key`] before each value, then
/// [`Obj::end`].
pub struct Obj {
    level: usize,
    first: bool,
}

impl Obj {
    pub fn begin(out: &mut Vec<u8>, level: usize) -> Obj {
        out.push(b'{');
        Obj { level, first: true }
    }

    /// The next key (plain ASCII, nothing to escape), ready for its value.
    pub fn key(&mut self, out: &mut Vec<u8>, key: &str) {
        debug_assert!(!key.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\'));
        line(out, self.level + 1, self.first);
        self.first = false;
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\": ");
    }

    /// The depth of the values (for [`write_at`] and nested objects).
    pub fn inner(&self) -> usize {
        self.level + 1
    }

    pub fn end(self, out: &mut Vec<u8>) {
        if !self.first {
            line(out, self.level, true);
        }
        out.push(b'}');
    }
}

/// An array written by hand at depth `level`, each item by `item(out, depth)`.
pub fn write_array<T>(
    out: &mut Vec<u8>,
    level: usize,
    items: &[T],
    mut item: impl FnMut(&mut Vec<u8>, usize, &T),
) {
    out.push(b'[');
    for (i, x) in items.iter().enumerate() {
        line(out, level + 1, i == 0);
        item(out, level + 1, x);
    }
    if !items.is_empty() {
        line(out, level, true);
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_writes_what_serde_json_writes() {
        let mut deep = serde_json::json!([1, {"k": []}]);
        for i in 0..80 {
            deep = if i % 2 == 0 {
                serde_json::json!({ "a": deep, "b": [], "c": {} })
            } else {
                serde_json::json!([deep, 1.5, null, "x\"y\n"])
            };
        }
        for v in [
            serde_json::json!(null),
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!([[], {}, [[]], [{}], {"a": {}}]),
            serde_json::json!({"metric_type": "comptages", "metrics": {"metrics": [
                {"date": "2025-01-21", "n": 20, "f": 0.1796, "b": false, "o": null},
                {"date": "é", "list": [1, 2, [3, {"z": "\u{1}"}]]}
            ]}}),
            deep,
        ] {
            let mut want = serde_json::to_vec_pretty(&v).unwrap();
            want.push(b'\n');
            assert_eq!(
                String::from_utf8(to_json_bytes(&v)).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
    }
}
