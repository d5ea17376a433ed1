#!/usr/bin/env python3
"""Independent recomputation of per-arc, per-Paris-day road-counter figures.

Written separately from the Rust code, with Python's csv module and zoneinfo, to cross-check it:
    comptages_daily.py FILE.csv [FILE.csv ...]  ->  JSON on stdout
{"<arc>|<YYYY-MM-DD>": {"rows": n, "n_q": n, "sum_q": x, "max_q": x, "mean_q": x, "mean_k": x}}
Rows repeated across files (same arc and instant) are counted once (the first one).
"""
import csv
import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def main(paths):
    seen = set()
    acc = {}
    for path in paths:
        with open(path, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f, delimiter=";"):
                arc = row["Identifiant arc"].strip()
                instant = datetime.fromisoformat(row["Date et heure de comptage"].strip())
                key = (arc, instant.timestamp())
                if key in seen:
                    continue
                seen.add(key)
                day = instant.astimezone(PARIS).date().isoformat()
                a = acc.setdefault(f"{arc}|{day}", {"rows": 0, "q": [], "k": []})
                a["rows"] += 1
                if row["Débit horaire"].strip():
                    a["q"].append(float(row["Débit horaire"]))
                if row["Taux d'occupation"].strip():
                    a["k"].append(float(row["Taux d'occupation"]))
    out = {}
    for key, a in sorted(acc.items()):
        q, k = a["q"], a["k"]
        out[key] = {
            "rows": a["rows"],
            "n_q": len(q),
            "sum_q": sum(q),
            "max_q": max(q) if q else None,
            "mean_q": sum(q) / len(q) if q else None,
            "mean_k": sum(k) / len(k) if k else None,
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
