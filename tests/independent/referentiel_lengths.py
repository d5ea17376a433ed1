#!/usr/bin/env python3
"""Independent recomputation of référentiel arc lengths: geodesic distances on WGS84 (Python
geographiclib, C. Karney) summed over each arc's distinct LineString segments, segments told
apart by their coordinates (not their text), over one or several exports (CSV with the current
or the technical header, or GeoJSON); an arc in several files takes its first file's segments.

    referentiel_lengths.py FILE... -> JSON {arc: metres}"""
import csv
import json
import sys

from geographiclib.geodesic import Geodesic


def seg_length(coords):
    g = Geodesic.WGS84
    return sum(
        g.Inverse(coords[i][1], coords[i][0], coords[i + 1][1], coords[i + 1][0])["s12"]
        for i in range(len(coords) - 1)
    )


def rows(path):
    if path.endswith(".csv"):
        with open(path, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f, delimiter=";"):
                arc = (row.get("Identifiant arc") or row.get("IU_AC") or "").strip()
                shape = (row.get("geo_shape") or "").strip()
                yield arc, json.loads(shape) if shape else None
    else:
        with open(path, encoding="utf-8-sig") as f:
            doc = json.load(f)
        for feat in doc["features"]:
            props = feat["properties"]
            arc = str(props.get("iu_ac") or props.get("Identifiant arc") or "").strip()
            yield arc, feat.get("geometry")


def key(geom):
    """Coordinates rounded to 1e-6 degree: the same segment whatever its text."""
    coords = geom["coordinates"]
    if geom["type"] == "LineString":
        coords = [coords]
    return tuple(tuple((round(x, 6), round(y, 6)) for x, y, *_ in part) for part in coords)


def main(paths):
    first_file = {}
    shapes = {}
    for path in paths:
        for arc, geom in rows(path):
            if not arc:
                continue
            owner = first_file.setdefault(arc, path)
            if owner != path or geom is None:
                continue
            shapes.setdefault(arc, {}).setdefault(key(geom), geom)
            first_file[arc] = path
    out = {}
    for arc in first_file:
        total = 0.0
        for geom in shapes.get(arc, {}).values():
            parts = [geom["coordinates"]] if geom["type"] == "LineString" else geom["coordinates"]
            total += sum(seg_length(p) for p in parts)
        out[arc] = total
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
