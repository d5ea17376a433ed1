//! Opening a workbook with memory bounded by its shape, not by trust in it.
//!
//! calamine decompresses the shared strings into memory when a workbook is opened, and builds
//! each sheet as a dense grid from its first to its last cell: a 110 KB workbook with one cell
//! at `XFD1048576` asks for 512 GB, and a few MB of compressed XML can decompress to GBs. So,
//! before anything is allocated from them:
//! - every part of the archive is decompressed once into nothing, counting bytes: a part or a
//!   whole over [`MAX_XML_BYTES`] refuses the file (whatever sizes the archive declares);
//! - a sheet's cells are streamed and counted ([`MAX_CELLS`] non-empty cells per workbook),
//!   and the grid they span is checked ([`MAX_GRID_CELLS`] per sheet, [`MAX_ROWS`] rows per
//!   workbook) before it is built.
//!
//! A refused workbook is one input failed with a message naming the limit; the other inputs
//! are read as usual. The grid built for an accepted sheet is exactly calamine's
//! `worksheet_range` (same cells, same bounds).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use calamine::{open_workbook, Cell, Data, DataRef, Range, Reader, Xlsx, XlsxError};

/// Decompressed bytes of all the parts of a workbook, at most (the real Weather Underground
/// exports: 1.1 MB for a week).
pub const MAX_XML_BYTES: u64 = 256 << 20;
/// Non-empty cells of a workbook, at most (a week of 5-minute rows: 26,000; a year: 1.4 M).
pub const MAX_CELLS: u64 = 4_000_000;
/// Cells of the grid a sheet spans (rows x columns from its first to its last cell), at most:
/// 128 MB of grid.
pub const MAX_GRID_CELLS: u64 = 4_000_000;
/// Rows of all the sheets' grids of a workbook, at most (each row read costs about 1 KB).
pub const MAX_ROWS: u64 = 400_000;

/// What a workbook has used of its limits so far.
#[derive(Debug, Default)]
pub struct Budget {
    cells: u64,
    rows: u64,
}

/// Decompresses every part of the archive into nothing; an error when one is unreadable or the
/// total goes over [`MAX_XML_BYTES`].
pub fn check_archive<R: Read + std::io::Seek>(reader: R) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| format!("not a readable .xlsx: {e}"))?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut f = zip
            .by_index(i)
            .map_err(|e| format!("not a readable .xlsx: part {i}: {e}"))?;
        let name = cityflow::shown::name(f.name()).into_owned();
        let left = MAX_XML_BYTES - total;
        if f.size() > left {
            return Err(too_big(&name, f.size()));
        }
        let n = std::io::copy(&mut (&mut f).take(left + 1), &mut std::io::sink())
            .map_err(|e| format!("not a readable .xlsx: part {name}: {e}"))?;
        if n > left {
            return Err(too_big(&name, total + n));
        }
        total += n;
    }
    Ok(())
}

fn too_big(part: &str, bytes: u64) -> String {
    format!(
        "refused: part {part} decompresses to more than {} MiB (at least {bytes} bytes; the \
         limit of a workbook is {MAX_XML_BYTES} bytes)",
        MAX_XML_BYTES >> 20
    )
}

/// Reads every sheet of the workbook `data` within the limits (the fuzz target's entry point);
/// the number of cells read, or why the workbook is refused.
pub fn read_bytes(data: &[u8]) -> Result<usize, String> {
    check_archive(std::io::Cursor::new(data))?;
    let mut wb =
        Xlsx::new(std::io::Cursor::new(data)).map_err(|e| format!("not a readable .xlsx: {e}"))?;
    let mut budget = Budget::default();
    let mut cells = 0;
    for name in wb.sheet_names().to_vec() {
        cells += sheet_range(&mut wb, &name, &mut budget)?
            .used_cells()
            .count();
    }
    Ok(cells)
}

/// Opens a workbook once its archive passed [`check_archive`].
pub fn open(path: &Path) -> Result<Xlsx<BufReader<File>>, String> {
    let f = File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    check_archive(BufReader::new(f))?;
    open_workbook(path).map_err(|e| format!("not a readable .xlsx: {e}"))
}

/// `A1`-style name of a 0-based cell position.
fn a1(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut c = col + 1;
    while c > 0 {
        letters.push(b'A' + ((c - 1) % 26) as u8);
        c = (c - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8_lossy(&letters), row + 1)
}

/// The cells of sheet `name` as calamine's `worksheet_range` gives them, within the limits.
pub fn sheet_range<R: Read + std::io::Seek>(
    wb: &mut Xlsx<R>,
    name: &str,
    budget: &mut Budget,
) -> Result<Range<Data>, String> {
    let shown = cityflow::shown::name(name);
    let mut reader = match wb.worksheet_cells_reader(name) {
        Ok(r) => r,
        Err(XlsxError::NotAWorksheet(_)) => return Ok(Range::default()),
        Err(e) => return Err(format!("sheet {shown}: {e}")),
    };
    let mut cells: Vec<Cell<Data>> = Vec::new();
    let (mut lo, mut hi) = ((u32::MAX, u32::MAX), (0u32, 0u32));
    loop {
        let cell = match reader.next_cell() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => return Err(format!("sheet {shown}: {e}")),
        };
        if matches!(cell.get_value(), DataRef::Empty) {
            continue;
        }
        budget.cells += 1;
        if budget.cells > MAX_CELLS {
            return Err(format!(
                "refused: more than {MAX_CELLS} non-empty cells (limit of a workbook), \
                 reached in sheet {shown}"
            ));
        }
        let (r, c) = cell.get_position();
        (lo, hi) = ((lo.0.min(r), lo.1.min(c)), (hi.0.max(r), hi.1.max(c)));
        cells.push(Cell::new((r, c), Data::from(cell.get_value().clone())));
    }
    if cells.is_empty() {
        return Ok(Range::from_sparse(cells));
    }
    let rows = u64::from(hi.0 - lo.0) + 1;
    let grid = rows * (u64::from(hi.1 - lo.1) + 1);
    if grid > MAX_GRID_CELLS {
        return Err(format!(
            "refused: sheet {shown} spans {}:{} ({grid} cells), over the limit of \
             {MAX_GRID_CELLS} cells per sheet",
            a1(lo.0, lo.1),
            a1(hi.0, hi.1)
        ));
    }
    budget.rows += rows;
    if budget.rows > MAX_ROWS {
        return Err(format!(
            "refused: more than {MAX_ROWS} rows (limit of a workbook), reached in sheet {shown}"
        ));
    }
    Ok(Range::from_sparse(cells))
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::Reader;
    use std::io::Write;

    /// A minimal workbook whose one sheet holds `sheet_xml`'s `<sheetData>` content.
    pub fn workbook(sheet_data: &str) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let parts = [
            ("[Content_Types].xml", r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_string()),
            ("_rels/.rels", r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string()),
            ("xl/workbook.xml", r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="011024" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string()),
            ("xl/_rels/workbook.xml.rels", r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_string()),
            ("xl/worksheets/sheet1.xml", format!(r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{sheet_data}</sheetData></worksheet>"#)),
        ];
        for (name, body) in parts {
            zip.start_file(name, opts).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn read(bytes: &[u8]) -> Result<Vec<Range<Data>>, String> {
        check_archive(std::io::Cursor::new(bytes))?;
        let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let mut budget = Budget::default();
        let names = wb.sheet_names().to_vec();
        names
            .iter()
            .map(|n| sheet_range(&mut wb, n, &mut budget))
            .collect()
    }

    #[test]
    fn ranges_are_calamines_and_far_cells_are_refused() {
        let ok = workbook(
            r#"<row r="2"><c r="B2" t="inlineStr"><is><t>Time</t></is></c><c r="C2"><v>1.5</v></c></row><row r="4"><c r="D4"><v>2</v></c></row>"#,
        );
        let got = read(&ok).unwrap();
        let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(ok)).unwrap();
        let want = wb.worksheet_range("011024").unwrap();
        assert_eq!(got[0], want);
        assert_eq!((want.start(), want.end()), (Some((1, 1)), Some((3, 3))));
        let far = workbook(
            r#"<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>"#,
        );
        let err = read(&far).unwrap_err();
        assert!(
            err.contains("spans A1:XFD1048576 (17179869184 cells)"),
            "{err}"
        );
        assert_eq!(a1(0, 26), "AA1");
        assert_eq!(a1(9, 16383), "XFD10");
    }

    #[test]
    fn decompressed_sizes_are_counted() {
        // 300 MiB of blanks inside one element: a few hundred KB compressed.
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file("xl/sharedStrings.xml", opts).unwrap();
        let blank = vec![b' '; 1 << 20];
        for _ in 0..300 {
            zip.write_all(&blank).unwrap();
        }
        let bytes = zip.finish().unwrap().into_inner();
        assert!(bytes.len() < 2 << 20, "{}", bytes.len());
        let err = check_archive(std::io::Cursor::new(bytes)).unwrap_err();
        assert!(
            err.contains("xl/sharedStrings.xml decompresses to more than 256 MiB"),
            "{err}"
        );
    }
}
