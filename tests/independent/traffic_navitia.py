#!/usr/bin/env python3
"""Independent recomputation of the traffic (disruptions) figures of one Navitia response.

Written separately from the Rust code, with Python's json, datetime and zoneinfo, to cross-check it:
    traffic_navitia.py FILE.json  ->  JSON on stdout
{"snapshot_day": "YYYY-MM-DD", "ids": n, "unique_ids": n, "day": {
    "active": n, "total": n, "by_severity": {...}, "lines": {"Bus 1": n, ...},
    "durations_s": {"<id>": seconds on the day}, "critical_s": n, "day_s": n,
    "alerts": [[id, score, seconds, [lines], raw severity.priority or null], ...],
    "unknown_severity": n, "by_effect": {"NO_SERVICE": n, ...}}}
Rules re-derived from the brief: the snapshot day is the Paris day of context.current_datetime;
a disruption counts for the day when a period overlaps it; durations are the union of the
periods clipped to the day; lines are the impacted objects of embedded_type "line", named
"<Mode> <code>" for Bus (the only mode in the real file; others are named generically).
Severity score (larger = more severe) from the GTFS-RT effect in severity.effect: NO_SERVICE 60,
REDUCED_SERVICE / SIGNIFICANT_DELAYS 30, DETOUR / MODIFIED_SERVICE / STOP_MOVED 15, any other
effect 0. Navitia's severity.priority (0 = strongest) is never a score: no effect -> 0, unknown.
Buckets: CRITIQUE >= 50, ELEVEE >= 30, MOYENNE >= 15, FAIBLE; alert when score >= 50 or more
than 2 h on the day, unless score < 30 and no line; critical time = union of score >= 50 periods.
"""
import json
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

EFFECT_SCORE = {
    "NO_SERVICE": 60,
    "REDUCED_SERVICE": 30,
    "SIGNIFICANT_DELAYS": 30,
    "DETOUR": 15,
    "MODIFIED_SERVICE": 15,
    "STOP_MOVED": 15,
}


def score_of(severity):
    """(score, known) of a Navitia severity object (or None)."""
    effect = (severity or {}).get("effect")
    if effect:
        return EFFECT_SCORE.get(effect, 0), True
    return 0, False


def basic(s):
    """Navitia basic format, naive Paris local time -> aware datetime."""
    return datetime.strptime(s, "%Y%m%dT%H%M%S").replace(tzinfo=PARIS)


def label(line):
    mode = (line.get("commercial_mode") or {}).get("name", "")
    code = line.get("code") or line.get("name")
    low = mode.lower()
    if "bus" in low:
        return "Bus " + code
    if "rer" in low:
        return "RER " + code.upper()
    if "tram" in low:
        return "Tram " + code
    return mode + " " + code


def union_seconds(intervals):
    total = 0
    cur = None
    for b, e in sorted(intervals):
        if cur and b <= cur[1]:
            cur[1] = max(cur[1], e)
        else:
            if cur:
                total += cur[1] - cur[0]
            cur = [b, e]
    if cur:
        total += cur[1] - cur[0]
    return total


def main(path):
    doc = json.load(open(path, encoding="utf-8"))
    snap = basic(doc["context"]["current_datetime"])
    day = snap.date()
    start = datetime(day.year, day.month, day.day, tzinfo=PARIS).timestamp()
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=PARIS).timestamp()
    dis = doc["disruptions"]
    out = {
        "snapshot_day": day.isoformat(),
        "ids": len(dis),
        "unique_ids": len({d["id"] for d in dis}),
    }
    sev = {"CRITIQUE": 0, "ELEVEE": 0, "MOYENNE": 0, "FAIBLE": 0}
    lines = {}
    durations = {}
    critical = []
    alerts = []
    active = 0
    unknown = 0
    by_effect = {}
    for d in dis:
        periods = [
            (basic(p["begin"]).timestamp(), basic(p["end"]).timestamp())
            for p in d["application_periods"]
        ]
        clipped = [(max(b, start), min(e, end)) for b, e in periods if b < end and e > start]
        if not clipped:
            continue
        active += 1
        raw = (d.get("severity") or {}).get("priority")
        prio, known = score_of(d.get("severity"))
        if not known:
            unknown += 1
        eff = (d.get("severity") or {}).get("effect") or "?"
        by_effect[eff] = by_effect.get(eff, 0) + 1
        if prio >= 50:
            sev["CRITIQUE"] += 1
        elif prio >= 30:
            sev["ELEVEE"] += 1
        elif prio >= 15:
            sev["MOYENNE"] += 1
        else:
            sev["FAIBLE"] += 1
        mine = set()
        for io in d.get("impacted_objects", []):
            pt = io.get("pt_object", {})
            if pt.get("embedded_type") == "line":
                mine.add(label(pt["line"]))
        for l in mine:
            lines[l] = lines.get(l, 0) + 1
        secs = int(union_seconds(clipped))
        durations[d["id"]] = secs
        if prio >= 50:
            critical.extend(clipped)
        if (prio >= 50 or secs > 7200) and not (prio < 30 and not mine):
            alerts.append([d["id"], prio, secs, sorted(mine), raw])
    alerts.sort(key=lambda a: (-a[1], -a[2], a[0]))
    out["day"] = {
        "active": active,
        "total": len({d["id"] for d in dis}),
        "by_severity": sev,
        "lines": lines,
        "durations_s": durations,
        "critical_s": int(union_seconds(critical)),
        "day_s": int(end - start),
        "alerts": alerts,
        "unknown_severity": unknown,
        "by_effect": by_effect,
    }
    json.dump(out, sys.stdout, ensure_ascii=False, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
