#!/usr/bin/env python3
"""Independent reading of the weather-station files (standard library only: the workbooks are
read as the zip of XML they are, no spreadsheet library, no code shared with the Rust side).

weather_stations.py expected IC.json XLSX=STATION=TZ ...
    -> JSON {"docs": [[source, station_id, timestamp_utc, {field: value}], ...]}
    InfoClimat: every record of hourly (not _params), values as numbers (null for null or ""),
    temps_omm as an integer. Weather Underground: sheet DDMMYY + Excel time, local -> UTC with
    zoneinfo; F->C, mph->km/h, inHg->hPa, in->mm with Decimal, to 0.01 half away from zero.
weather_stations.py airbyte XLSX OUT.jsonl [--date-column] [--wrong-date N]
    -> writes the workbook as Airbyte S3-destination JSON Lines, one line per sheet row, every
    sheet concatenated WITHOUT the sheet name, the blank row 2 of each sheet as an all-null
    record, times as HH:MM:SS; with --date-column each data row also gets a Date (the N-th data
    row, from 0, one day late with --wrong-date N).
"""
import datetime
import json
import re
import sys
import uuid
import zipfile
import xml.etree.ElementTree as ET
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

M = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def sheets(path):
    """[(sheet name, [(row number, {column letter: str | float})])] in workbook order."""
    z = zipfile.ZipFile(path)
    sst = []
    if "xl/sharedStrings.xml" in z.namelist():
        for si in ET.fromstring(z.read("xl/sharedStrings.xml")).iter(M + "si"):
            sst.append("".join(t.text or "" for t in si.iter(M + "t")))
    rels = {r.get("Id"): r.get("Target") for r in ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
    out = []
    for s in ET.fromstring(z.read("xl/workbook.xml")).iter(M + "sheet"):
        target = rels[s.get(R + "id")].lstrip("/")
        if not target.startswith("xl/"):
            target = "xl/" + target
        rows = []
        for row in ET.fromstring(z.read(target)).iter(M + "row"):
            cells = {}
            for c in row.iter(M + "c"):
                col = re.match("[A-Z]+", c.get("r")).group(0)
                v = c.find(M + "v")
                if v is None:
                    continue
                cells[col] = sst[int(v.text)] if c.get("t") == "s" else float(v.text)
            rows.append((int(row.get("r")), cells))
        out.append((s.get("name"), rows))
    return out


def q2(d):
    return float(d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def number(s):
    return s.replace("\u00a0", " ").split(" ")[0]


COMPASS = {"North": 0, "NNE": 22.5, "NE": 45, "ENE": 67.5, "East": 90, "ESE": 112.5, "SE": 135,
           "SSE": 157.5, "South": 180, "SSW": 202.5, "SW": 225, "WSW": 247.5, "West": 270,
           "WNW": 292.5, "NW": 315, "NNW": 337.5}

# header -> (document field, conversion of the cell)
WU = {
    "Temperature": ("temperature_c", lambda s: q2((Decimal(number(s)) - 32) * 5 / 9)),
    "Dew Point": ("dew_point_c", lambda s: q2((Decimal(number(s)) - 32) * 5 / 9)),
    "Humidity": ("humidity_pct", lambda s: float(Decimal(number(s)))),
    "Wind": ("wind_direction_deg", lambda s: float(COMPASS[s])),
    "Speed": ("wind_speed_kmh", lambda s: q2(Decimal(number(s)) * Decimal("1.609344"))),
    "Gust": ("wind_gust_kmh", lambda s: q2(Decimal(number(s)) * Decimal("1.609344"))),
    "Pressure": ("pressure_hpa", lambda s: q2(Decimal(number(s)) * Decimal("33.86388640341"))),
    "Precip. Rate.": ("precip_rate_mm_h", lambda s: q2(Decimal(number(s)) * Decimal("25.4"))),
    "Precip. Accum.": ("precip_mm", lambda s: q2(Decimal(number(s)) * Decimal("25.4"))),
    "UV": ("uv_index", lambda v: float(v)),
    "Solar": ("solar_radiation_wm2", lambda s: float(Decimal(number(s)))),
}

IC = {"temperature": "temperature_c", "pression": "pressure_hpa", "humidite": "humidity_pct",
      "point_de_rosee": "dew_point_c", "visibilite": "visibility_m", "vent_moyen": "wind_speed_kmh",
      "vent_rafales": "wind_gust_kmh", "vent_direction": "wind_direction_deg",
      "pluie_3h": "precip_3h_mm", "pluie_1h": "precip_1h_mm", "neige_au_sol": "snow_depth_cm",
      "nebulosite": "cloud_cover_octas", "temps_omm": "weather_code"}


def hms(fraction):
    secs = round(fraction * 86400)
    return datetime.time(secs // 3600, secs // 60 % 60, secs % 60)


def utc(local_date, t, tz):
    dt = datetime.datetime.combine(local_date, t, tzinfo=ZoneInfo(tz))
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected(ic_path, workbooks):
    docs = []
    ic = json.load(open(ic_path, encoding="utf-8"))
    for station, records in ic["hourly"].items():
        if station.startswith("_"):
            continue
        for r in records:
            m = {}
            for k, v in r.items():
                if k in ("id_station", "dh_utc"):
                    continue
                if v is None or v == "":
                    val = None
                elif k == "temps_omm":
                    val = int(v)
                else:
                    val = float(Decimal(v))
                m[IC[k]] = val
            ts = r["dh_utc"].replace(" ", "T") + "Z"
            docs.append(["infoclimat", station, ts, m])
    for spec in workbooks:
        path, station, tz = spec.split("=")
        for name, rows in sheets(path):
            day = datetime.datetime.strptime(name, "%d%m%y").date()
            header = rows[0][1]
            for _, cells in rows[1:]:
                m = {}
                for col, h in header.items():
                    if h == "Time":
                        continue
                    field, conv = WU[h]
                    m[field] = conv(cells[col]) if col in cells else None
                docs.append(["weather_underground", station, utc(day, hms(cells["A"]), tz), m])
    json.dump({"docs": docs}, sys.stdout)


def airbyte(path, out, date_column=False, wrong=None):
    source = re.sub(r"^wu_", "", path.rsplit("/", 1)[-1])
    lines, data_rows = [], 0
    for name, rows in sheets(path):
        day = datetime.datetime.strptime(name, "%d%m%y").date()
        header = rows[0][1]
        # The blank row 2 is not in the sheet's XML: Airbyte gives it as an all-null record.
        records = [None] + [cells for _, cells in rows[1:]]
        for cells in records:
            data = {}
            for col, h in header.items():
                v = None if cells is None else cells.get(col)
                if h == "Time" and v is not None:
                    v = hms(v).strftime("%H:%M:%S")
                data[h] = v
            if date_column:
                d = None
                if cells is not None:
                    d = day + datetime.timedelta(days=1 if data_rows == wrong else 0)
                    d = d.isoformat()
                data["Date"] = d
            if cells is not None:
                data_rows += 1
            data["_ab_source_file_url"] = source
            data["_ab_source_file_last_modified"] = "2024-10-07T15:00:00.000000Z"
            n = len(lines)
            lines.append(json.dumps({
                "_airbyte_raw_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{source}#{n}")),
                "_airbyte_extracted_at": 1728313200000 + n,
                "_airbyte_meta": {"sync_id": 1, "changes": []},
                "_airbyte_generation_id": 1,
                "_airbyte_data": data,
            }, ensure_ascii=False))
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    json.dump({"lines": len(lines), "data_rows": data_rows}, sys.stdout)


if __name__ == "__main__":
    if sys.argv[1] == "expected":
        expected(sys.argv[2], sys.argv[3:])
    else:
        args = sys.argv[2:]
        wrong = int(args[args.index("--wrong-date") + 1]) if "--wrong-date" in args else None
        airbyte(args[0], args[1], "--date-column" in args, wrong)
