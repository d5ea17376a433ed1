//! Parquet bytes of a [`Table`] through the `parquet` crate's low-level writer (no Arrow).

use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use super::{Cell, Table, Ty};

/// Fixed `created_by`: the file says which tool wrote it, never when.
const CREATED_BY: &str = "cityflow process (parquet-rs)";

fn schema(t: &Table) -> String {
    let mut s = format!("message {} {{\n", t.def.name);
    for c in t.def.columns {
        let (ty, logical) = match c.ty {
            Ty::Str => ("BYTE_ARRAY", " (STRING)"),
            Ty::Int => ("INT64", ""),
            Ty::Float => ("DOUBLE", ""),
            Ty::Bool => ("BOOLEAN", ""),
            Ty::Date => ("INT32", " (DATE)"),
            Ty::Ts => ("INT64", " (TIMESTAMP(MICROS,true))"),
        };
        s.push_str(&format!("  OPTIONAL {ty} {}{logical};\n", c.name));
    }
    s.push('}');
    s
}

/// Days since 1970-01-01.
fn epoch_days(d: chrono::NaiveDate) -> i32 {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((d - epoch).num_days()).unwrap_or(i32::MAX)
}

/// The values of column `i` that are not null, and the definition levels (1 set, 0 null).
fn column<T>(t: &Table, i: usize, f: impl Fn(&Cell) -> Option<T>) -> (Vec<T>, Vec<i16>) {
    let mut vals = Vec::with_capacity(t.rows.len());
    let mut defs = Vec::with_capacity(t.rows.len());
    for r in &t.rows {
        match r.get(i).and_then(&f) {
            Some(v) => {
                vals.push(v);
                defs.push(1);
            }
            None => defs.push(0),
        }
    }
    (vals, defs)
}

pub fn to_parquet(t: &Table) -> Result<Vec<u8>, String> {
    let err = |e: parquet::errors::ParquetError| format!("table {}: {e}", t.def.name);
    let schema = Arc::new(parse_message_type(&schema(t)).map_err(err)?);
    let props = WriterProperties::builder()
        .set_created_by(CREATED_BY.to_string())
        .set_compression(Compression::SNAPPY)
        .build();
    let mut w = SerializedFileWriter::new(Vec::new(), schema, Arc::new(props)).map_err(err)?;
    let mut rg = w.next_row_group().map_err(err)?;
    let mut i = 0;
    while let Some(mut col) = rg.next_column().map_err(err)? {
        let ty = t
            .def
            .columns
            .get(i)
            .map(|c| c.ty)
            .ok_or("schema mismatch")?;
        let written = match ty {
            Ty::Str => {
                let (v, d) = column(t, i, |c| match c {
                    Cell::Str(s) => Some(ByteArray::from(s.as_bytes().to_vec())),
                    _ => None,
                });
                col.typed::<ByteArrayType>().write_batch(&v, Some(&d), None)
            }
            Ty::Int | Ty::Ts => {
                let (v, d) = column(t, i, |c| match c {
                    Cell::Int(x) => Some(*x),
                    Cell::Ts(s) => Some(s.saturating_mul(1_000_000)),
                    _ => None,
                });
                col.typed::<Int64Type>().write_batch(&v, Some(&d), None)
            }
            Ty::Float => {
                let (v, d) = column(t, i, |c| match c {
                    Cell::Float(x) => Some(*x),
                    _ => None,
                });
                col.typed::<DoubleType>().write_batch(&v, Some(&d), None)
            }
            Ty::Bool => {
                let (v, d) = column(t, i, |c| match c {
                    Cell::Bool(x) => Some(*x),
                    _ => None,
                });
                col.typed::<BoolType>().write_batch(&v, Some(&d), None)
            }
            Ty::Date => {
                let (v, d) = column(t, i, |c| match c {
                    Cell::Date(x) => Some(epoch_days(*x)),
                    _ => None,
                });
                col.typed::<Int32Type>().write_batch(&v, Some(&d), None)
            }
        };
        written.map_err(err)?;
        col.close().map_err(err)?;
        i += 1;
    }
    rg.close().map_err(err)?;
    w.into_inner().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::super::{Cell, NaiveDate, Table, ROAD_ARC_HOURS};
    use super::{epoch_days, to_parquet, CREATED_BY};

    fn sample() -> Table {
        let d = NaiveDate::from_ymd_opt(2025, 10, 26).unwrap();
        let mut t = Table::new(&ROAD_ARC_HOURS);
        t.rows.push(vec![
            Cell::Date(d),
            Cell::s("1000"),
            Cell::Ts(1_761_433_200),
            Cell::Float(490.5),
            Cell::Null,
            Cell::s("Fluide"),
        ]);
        t.rows.push(vec![
            Cell::Date(d),
            Cell::s("<b>"),
            Cell::Null,
            Cell::Null,
            Cell::Float(1.0),
            Cell::Null,
        ]);
        t
    }

    #[test]
    fn same_rows_same_bytes_and_a_parquet_file() {
        let a = to_parquet(&sample()).unwrap();
        let b = to_parquet(&sample()).unwrap();
        assert_eq!(a, b);
        assert_eq!(&a[..4], b"PAR1");
        assert_eq!(&a[a.len() - 4..], b"PAR1");
        let needle = CREATED_BY.as_bytes();
        assert!(a.windows(needle.len()).any(|w| w == needle));
    }

    #[test]
    fn days_since_epoch() {
        assert_eq!(epoch_days(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()), 1);
        assert_eq!(
            epoch_days(NaiveDate::from_ymd_opt(2025, 10, 26).unwrap()),
            20387
        );
    }
}
