#!/usr/bin/env python3
"""Reads the analytics tables of a `process` output with DuckDB (as a user would: one glob per
table, Hive partitions) and checks their row counts and sums against the JSON outputs of the
same run and, for road counters, against an independent recomputation from the raw CSV files.

    analytics_duckdb.py OUTPUT_DIR [COMPTAGES.csv ...]  ->  JSON summary on stdout, exit 1 on
                                                           the first mismatch (printed)
Runs in the test venv (duckdb pinned in scripts/test.sh).
"""
import glob
import json
import math
import os
import sys

import duckdb

sys.path.insert(0, os.path.dirname(__file__))
import comptages_daily  # noqa: E402  (the independent road-counter recomputation)

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)


# Where the tables are read: `<out>/analytics` (None), or a URL such as `s3://bucket/prefix`
# (analytics_s3.py sets it, on a connection that can reach it).
TABLES = None


def tables_root(out):
    return TABLES or f"{out}/analytics"


def table(con, out, name):
    pattern = f"{tables_root(out)}/{name}/*/*.parquet"
    if not con.sql(f"select count(*) from glob('{pattern}')").fetchall()[0][0]:
        return None
    return con.sql(f"select * from read_parquet('{pattern}')")


def rows_by_date(rel, key="date"):
    cols = rel.columns
    out = {}
    for r in rel.fetchall():
        d = dict(zip(cols, r))
        out.setdefault(str(d[key]), []).append(d)
    return out


def metrics(out, kind):
    res = {}
    for p in sorted(glob.glob(f"{out}/metrics/{kind}_metrics_*.json")):
        with open(p, encoding="utf-8") as f:
            env = json.load(f)
        res[env["date"]] = env["metrics"]
    return res


def road(con, out, counts):
    days = rows_by_date(table(con, out, "road_arc_days"))
    for d, m in metrics(out, "comptages").items():
        rows = days.get(d, [])
        g = m["global_metrics"]
        check(len(rows) == len(m["metrics"]), f"road_arc_days {d}: {len(rows)} rows")
        check(all(str(r["day"]) == d for r in rows), f"road_arc_days {d}: day != partition")
        check(close(sum(r["flow_total_veh"] for r in rows), g["total_vehicules_jour"]),
              f"road_arc_days {d}: flow sum")
        lost = [r["lost_time_total_min"] for r in rows if r["lost_time_total_min"] is not None]
        check(close(sum(lost), g["temps_perdu_total_paris"]), f"road_arc_days {d}: lost time")
        check(sum(r["congestion_alert"] for r in rows) == len(m["alertes_congestion"]),
              f"road_arc_days {d}: alerts")
        by_arc = {a["identifiant_arc"]: a for a in m["metrics"]}
        for r in rows:
            a = by_arc.get(r["arc_id"])
            check(a is not None and close(r["flow_mean_veh_h"], a["debit_horaire_moyen"])
                  and r["readings"] == a["nombre_releves"], f"road_arc_days {d} arc {r['arc_id']}")
        counts["road_arc_days"] = counts.get("road_arc_days", 0) + len(rows)
    hours = rows_by_date(table(con, out, "road_arc_hours"))
    for d, m in metrics(out, "comptages").items():
        per_arc = {}
        for r in hours.get(d, []):
            a = per_arc.setdefault(r["arc_id"], {"rows": 0, "n_q": 0, "sum_q": 0.0})
            a["rows"] += 1
            if r["flow_veh_h"] is not None:
                a["n_q"] += 1
                a["sum_q"] += r["flow_veh_h"]
        for a in m["metrics"]:
            h = per_arc.get(a["identifiant_arc"], {"rows": 0, "n_q": 0, "sum_q": 0.0})
            check(h["rows"] == a["nombre_releves"] and h["n_q"] == a["heures_avec_debit"]
                  and close(h["sum_q"], a["debit_journalier_total"]),
                  f"road_arc_hours {d} arc {a['identifiant_arc']}: {h} vs JSON")
        counts["road_arc_hours"] = counts.get("road_arc_hours", 0) + len(hours.get(d, []))
    return hours


def independent(hours, csvs, counts):
    """The hourly table against Python's own reading of the raw CSV files."""
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        comptages_daily.main(csvs)
    expected = json.loads(buf.getvalue())
    got = {}
    for d, rows in hours.items():
        for r in rows:
            a = got.setdefault(f"{r['arc_id']}|{d}", {"rows": 0, "n_q": 0, "sum_q": 0.0})
            a["rows"] += 1
            if r["flow_veh_h"] is not None:
                a["n_q"] += 1
                a["sum_q"] += r["flow_veh_h"]
    for key, e in expected.items():
        g = got.get(key)
        check(g is not None and g["rows"] == e["rows"] and g["n_q"] == e["n_q"]
              and close(g["sum_q"], e["sum_q"]), f"independent {key}: {g} vs {e}")
    counts["independent_arc_days"] = len(expected)


def others(con, out, counts):
    bikes = rows_by_date(table(con, out, "bike_counter_days") or con.sql("select null as date where false"))
    for d, m in metrics(out, "bikes").items():
        rows = bikes.get(d, [])
        check(len(rows) == len(m["metrics"]), f"bike_counter_days {d}: count")
        check(sum(r["total_bikes"] for r in rows) == sum(c["total_jour"] for c in m["metrics"]),
              f"bike_counter_days {d}: total")
        counts["bike_counter_days"] = counts.get("bike_counter_days", 0) + len(rows)
    works = rows_by_date(table(con, out, "road_works") or con.sql("select null as date where false"))
    for d, m in metrics(out, "chantiers").items():
        rows = works.get(d, [])
        check(len(rows) == m["total_chantiers_actifs"], f"road_works {d}: count")
        surf = sum(r["surface_m2"] or 0 for r in rows)
        check(close(surf, m["surface_totale_impactee_m2"]), f"road_works {d}: surface")
        counts["road_works"] = counts.get("road_works", 0) + len(rows)
    dis = rows_by_date(table(con, out, "transit_disruptions") or con.sql("select null as date where false"))
    for d, m in metrics(out, "traffic").items():
        rows = dis.get(d, [])
        check(len(rows) == m["active_disruptions_count"], f"transit_disruptions {d}: count")
        for sev, n in m["disruptions_by_severity"].items():
            check(sum(r["severity"] == sev for r in rows) == n, f"transit_disruptions {d}: {sev}")
        check(sum(r["alert"] for r in rows) == len(m["alerts"]), f"transit_disruptions {d}: alerts")
        counts["transit_disruptions"] = counts.get("transit_disruptions", 0) + len(rows)
    weather = rows_by_date(table(con, out, "weather_days") or con.sql("select null as date where false"))
    for d, m in metrics(out, "weather").items():
        rows = weather.get(d, [])
        w = m["metrics"]
        check(len(rows) == 1 and close(rows[0]["temp_mean_c"], w["temp_moyenne"])
              and close(rows[0]["precip_mm"], w["precip_totale"])
              and close(rows[0]["mobility_impact_pts"], m["impact_mobilite"]), f"weather_days {d}")
        counts["weather_days"] = counts.get("weather_days", 0) + len(rows)
    velib = rows_by_date(table(con, out, "velib_stations") or con.sql("select null as date where false"))
    for d, m in metrics(out, "velib").items():
        rows = velib.get(d, [])
        live = [r for r in rows if r["in_service"] and not r["stale"]]
        check(len(rows) == m["nombre_stations"], f"velib_stations {d}: count")
        check(len(live) == m["stations_en_service"], f"velib_stations {d}: in service")
        check(sum(r["bikes_mechanical"] or 0 for r in live) == m["velos_mecaniques"],
              f"velib_stations {d}: mechanical bikes")
        check(sum(r["docks_free"] or 0 for r in live) == m["bornettes_libres"],
              f"velib_stations {d}: free docks")
        counts["velib_stations"] = counts.get("velib_stations", 0) + len(rows)


def quality(con, out, counts):
    src = rows_by_date(table(con, out, "quality_sources"))
    prob = table(con, out, "quality_problems")
    prob = rows_by_date(prob) if prob is not None else {}
    for p in sorted(glob.glob(f"{out}/quality/quality_report_*.json")):
        with open(p, encoding="utf-8") as f:
            q = json.load(f)
        if "date" not in q:
            continue
        d = q["date"]
        rows = {r["source"]: r for r in src.get(d, [])}
        check(set(rows) == set(q["sources"]), f"quality_sources {d}: sources")
        for s, r in q["sources"].items():
            t = rows.get(s, {})
            check(all(t.get(k) == r[k] for k in ("rows_read", "rows_used", "rows_rejected", "duplicates")),
                  f"quality_sources {d} {s}")
            want = sum(n for reasons in r.get("problems_by_file", {}).values() for n in reasons.values())
            got = sum(x["rows"] for x in prob.get(d, []) if x["source"] == s)
            check(want == got, f"quality_problems {d} {s}: {got} vs {want}")
        counts["quality_sources"] = counts.get("quality_sources", 0) + len(rows)
    counts["quality_problems"] = sum(len(v) for v in prob.values())


def main(out, csvs, con=None):
    con = con or duckdb.connect()
    counts = {}
    hours = road(con, out, counts)
    if csvs:
        independent(hours, csvs, counts)
    others(con, out, counts)
    quality(con, out, counts)
    union = con.sql(f"select count(*) from read_parquet('{tables_root(out)}/*/*/*.parquet', union_by_name=true)")
    counts["all_tables_one_glob"] = union.fetchall()[0][0]
    json.dump({"duckdb": duckdb.__version__, "rows": counts, "failures": FAILURES[:20]}, sys.stdout)
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
