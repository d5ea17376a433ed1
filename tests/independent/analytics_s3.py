#!/usr/bin/env python3
"""Reads the analytics tables pushed by `upload --type analytics` back from S3 with DuckDB, the
way README.md says (its S3 one-liner, run as written but for the names of this test's endpoint,
bucket and prefix), and checks them against the JSON outputs of the local run:

- the one-liner's result (per date: arcs, vehicles) equals the comptages metrics JSON;
- every table read from S3 passes analytics_duckdb.py's checks (row counts and sums against the
  JSON outputs), and holds as many rows as the local folder.

    analytics_s3.py README.md OUTPUT_DIR  ->  JSON summary on stdout, exit 1 on a mismatch
Environment: CITYFLOW_S3_ENDPOINT (http://host:port), CITYFLOW_S3_BUCKET, CITYFLOW_S3_PREFIX,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.

DuckDB reads S3 through its httpfs extension, which `INSTALL httpfs` downloads from DuckDB's own
site; offline it comes from PyPI's duckdb-ext-httpfs wheel (pinned with its duckdb in
scripts/test.sh), whose folder is given to DuckDB as its extension directory.
"""
import glob
import json
import math
import os
import re
import sys

import duckdb

sys.path.insert(0, os.path.dirname(__file__))
import analytics_duckdb  # noqa: E402


def readme_command(readme):
    """The SQL of README's `duckdb -c "INSTALL httpfs; ..."` one-liner."""
    text = open(readme, encoding="utf-8").read()
    m = re.search(r'duckdb -c "(INSTALL httpfs;.*?)"\s*\n', text, re.S)
    if not m:
        sys.exit("README.md has no `duckdb -c \"INSTALL httpfs; ...\"` one-liner")
    return m.group(1)


def connect():
    con = duckdb.connect()
    import importlib.util
    spec = importlib.util.find_spec("duckdb_ext")
    if spec and spec.submodule_search_locations:
        ext = os.path.join(list(spec.submodule_search_locations)[0], "extensions")
        con.sql(f"SET extension_directory = '{ext}'")
    return con


def main(readme, out):
    endpoint = os.environ["CITYFLOW_S3_ENDPOINT"].split("://", 1)[-1].rstrip("/")
    bucket, prefix = os.environ["CITYFLOW_S3_BUCKET"], os.environ["CITYFLOW_S3_PREFIX"].strip("/")
    sql = readme_command(readme)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        sql = sql.replace(f"${var}", os.environ[var])
    sql = sql.replace("'127.0.0.1:3900'", f"'{endpoint}'")
    sql = sql.replace("s3://cityflow-analytics/analytics/", f"s3://{bucket}/{prefix}/")
    con = connect()
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    for s in statements[:-1]:
        con.sql(s)
    rel = con.sql(statements[-1])
    got = {str(r[0]): (r[1], r[2]) for r in rel.fetchall()}
    want = {}
    for p in sorted(glob.glob(f"{out}/metrics/comptages_metrics_*.json")):
        with open(p, encoding="utf-8") as f:
            env = json.load(f)
        g = env["metrics"]["global_metrics"]
        want[env["date"]] = (len(env["metrics"]["metrics"]), g["total_vehicules_jour"])
    failures = []
    if set(got) != set(want):
        failures.append(f"one-liner dates {sorted(got)} vs JSON {sorted(want)}")
    for d, (arcs, vehicles) in want.items():
        g = got.get(d, (None, None))
        if g[0] != arcs or g[1] is None or not math.isclose(g[1], vehicles, rel_tol=1e-9):
            failures.append(f"one-liner {d}: {g} vs JSON {(arcs, vehicles)}")
    # Every table, from S3, against the JSON (the same checks as for the local folder).
    analytics_duckdb.TABLES = f"s3://{bucket}/{prefix}"
    per_table = {}
    local_con = duckdb.connect()
    for t in sorted(os.listdir(f"{out}/analytics")):
        local = local_con.sql(
            f"select count(*) from read_parquet('{out}/analytics/{t}/*/*.parquet')").fetchall()[0][0]
        remote = con.sql(
            f"select count(*) from read_parquet('s3://{bucket}/{prefix}/{t}/*/*.parquet')").fetchall()[0][0]
        per_table[t] = remote
        if local != remote:
            failures.append(f"{t}: {remote} rows in S3, {local} local")
    import contextlib
    import io
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            analytics_duckdb.main(out, [], con)
    except SystemExit:
        pass
    checked = json.loads(buf.getvalue())
    failures.extend(checked["failures"])
    json.dump({"duckdb": duckdb.__version__, "one_liner": got, "rows": per_table,
               "checked": checked["rows"], "failures": failures[:20]}, sys.stdout, default=str)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
