#!/usr/bin/env python3
"""Independent recomputation of référentiel arc lengths: haversine (R = 6,371 km) summed over
each arc's distinct LineString segments.   referentiel_lengths.py FILE.csv -> JSON {arc: metres}"""
import csv
import json
import math
import sys


def hav(a, b):
    lat1, lat2 = math.radians(a[1]), math.radians(b[1])
    dlat, dlon = lat2 - lat1, math.radians(b[0] - a[0])
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * 6371000.0 * math.asin(min(1.0, math.sqrt(h)))


def main(path):
    shapes = {}
    with open(path, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f, delimiter=";"):
            shapes.setdefault(row["Identifiant arc"].strip(), set()).add(row["geo_shape"].strip())
    out = {}
    for arc, segs in shapes.items():
        total = 0.0
        for s in segs:
            coords = json.loads(s)["coordinates"]
            total += sum(hav(coords[i], coords[i + 1]) for i in range(len(coords) - 1))
        out[arc] = total
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
