"""Hostile Weather Underground workbooks for the hostile-input tests (standard library only).

    python3 hostile_xlsx.py KIND OUT.xlsx

KIND:
- far:   a header row and one value at XFD1048576 (a grid of 17,179,869,184 cells);
- rows:  a header row and one value 500,000 rows below (over the limit of rows);
- bomb:  a sheet of N million small cells (default 20: ~300 MB of XML, a few MB compressed),
         `bomb:N` for another count.
"""
import sys
import zipfile

CT = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
      '<Default Extension="xml" ContentType="application/xml"/>'
      '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
      '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
RELS = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
WB = ('<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
      'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
      '<sheet name="011024" sheetId="1" r:id="rId1"/></sheets></workbook>')
WB_RELS = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
           '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
HEAD = ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Time</t></is></c><c r="B1" t="inlineStr"><is><t>Temperature</t></is></c></row>')
TAIL = '</sheetData></worksheet>'


def main():
    kind, out = sys.argv[1], sys.argv[2]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, body in [("[Content_Types].xml", CT), ("_rels/.rels", RELS),
                           ("xl/workbook.xml", WB), ("xl/_rels/workbook.xml.rels", WB_RELS)]:
            z.writestr(name, body)
        if kind == "far":
            z.writestr("xl/worksheets/sheet1.xml",
                       HEAD + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>' + TAIL)
        elif kind == "rows":
            z.writestr("xl/worksheets/sheet1.xml",
                       HEAD + '<row r="500001"><c r="A500001"><v>0.5</v></c></row>' + TAIL)
        elif kind.startswith("bomb"):
            millions = int(kind.split(":")[1]) if ":" in kind else 20
            row = "<row>" + "<c><v>0.5</v></c>" * 10 + "</row>"
            with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
                f.write(HEAD.encode())
                block = (row * 10_000).encode()
                for _ in range(millions * 10):
                    f.write(block)
                f.write(TAIL.encode())
        else:
            sys.exit(f"unknown kind {kind}")


if __name__ == "__main__":
    main()
