#!/usr/bin/env python3
"""Independent geodesic areas (WGS84, Python geographiclib's Polygon, C. Karney) of the road-works
polygons of a CSV export (`;`, columns `Identifiant` or `Référence Chantier`, and `geo_shape`).

    geodesic_areas.py FILE.csv -> JSON {identifiant: m² or null (no polygon)}

Polygon: |outer| - sum |holes|; MultiPolygon: parts summed. A ring's closing vertex is dropped.
"""
import csv
import json
import sys

from geographiclib.geodesic import Geodesic


def ring_area(ring):
    pts = [tuple(p[:2]) for p in ring]
    if len(pts) >= 2 and pts[0] == pts[-1]:
        pts = pts[:-1]
    if len(pts) < 3:
        return 0.0
    poly = Geodesic.WGS84.Polygon()
    for lon, lat in pts:
        poly.AddPoint(lat, lon)
    _, _, area = poly.Compute(False, True)  # signed: never the rest of the Earth
    return abs(area)


def polygon_area(rings):
    return ring_area(rings[0]) - sum(ring_area(h) for h in rings[1:])


def area(shape):
    g = json.loads(shape)
    if g.get("type") == "Feature":
        g = g["geometry"]
    if g["type"] == "Polygon":
        return polygon_area(g["coordinates"])
    if g["type"] == "MultiPolygon":
        return sum(polygon_area(p) for p in g["coordinates"])
    return None


def main(path):
    out = {}
    with open(path, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f, delimiter=";"):
            ident = (row.get("Identifiant") or row.get("Référence Chantier") or "").strip()
            shape = (row.get("geo_shape") or "").strip()
            try:
                out[ident] = area(shape) if shape else None
            except (ValueError, KeyError, TypeError, IndexError):
                out[ident] = None
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
