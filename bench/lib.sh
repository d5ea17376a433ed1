# Shared by bench/scale.sh and bench/span.sh (sourced from the repository root, not run):
# paths, DuckDB in a venv with its GROUP BY script, GNU time, the sums of `process` outputs.
# shellcheck shell=bash
REAL="${CITYFLOW_REAL_DATA:-$PWD/../shared/data/real}"
DUCKDB_SPEC="${DUCKDB_SPEC:-duckdb==2.0.0}"
VENV="${CITYFLOW_CACHE:-$HOME/.cache/cityflow}/duckdb-venv"
TARGET="${CARGO_TARGET_DIR:-target}"
command -v /usr/bin/time >/dev/null || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 2; }

# REF_ARGS: `--referentiel FILE` for the generator when the real référentiel is there.
REF_ARGS=()
REF="$REAL/referentiel-comptages-routiers/referentiel-comptages-routiers_nezarbr.csv"
[ -f "$REF" ] && REF_ARGS=(--referentiel "$REF")

# bench_duckdb DIR: DuckDB (PyPI, $DUCKDB_SPEC) in $VENV, DIR/duck.py, $DUCKDB_VERSION.
# `duck.py CSV THREADS OUT` (CSV may be a glob) prints: groups rows flow seconds.
bench_duckdb() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  # A no-op (no network) when the installed version already satisfies the spec.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "$DUCKDB_SPEC"
  DUCKDB_VERSION=$("$VENV/bin/python" -c 'import duckdb; print(duckdb.__version__)')
  mkdir -p "$1"
  cat > "$1/duck.py" <<'PY'
# The equivalent GROUP BY: per arc and Paris day, sum / mean / max of the flow, mean occupancy,
# row count; the result written out (as `process` writes its outputs).
import sys, time, duckdb
csv, threads, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.time()
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute(f"""
COPY (
  SELECT "Identifiant arc" AS arc,
         CAST(timezone('Europe/Paris', "Date et heure de comptage") AS DATE) AS day,
         SUM("Débit horaire") AS flow_sum, AVG("Débit horaire") AS flow_mean,
         MAX("Débit horaire") AS flow_max, AVG("Taux d'occupation") AS occupancy_mean,
         COUNT(*) AS n
  FROM read_csv('{csv}', delim=';', header=true, quote='"', escape='"',
                columns={{'Identifiant arc': 'VARCHAR', 'Libelle': 'VARCHAR',
                  'Date et heure de comptage': 'TIMESTAMPTZ', 'Débit horaire': 'DOUBLE',
                  'Taux d''occupation': 'DOUBLE', 'Etat trafic': 'VARCHAR',
                  'Identifiant noeud amont': 'VARCHAR', 'Libelle noeud amont': 'VARCHAR',
                  'Identifiant noeud aval': 'VARCHAR', 'Libelle noeud aval': 'VARCHAR',
                  'Etat arc': 'VARCHAR', 'Date debut dispo data': 'VARCHAR',
                  'Date fin dispo data': 'VARCHAR', 'geo_point_2d': 'VARCHAR',
                  'geo_shape': 'VARCHAR'}})
  GROUP BY ALL
) TO '{out}' (HEADER, DELIMITER ';')""")
groups, rows, flow = con.execute(
    f"SELECT count(*), sum(n), sum(flow_sum) FROM read_csv('{out}', delim=';', header=true)"
).fetchone()
print(f"{groups} {rows} {flow:.3f} {time.time() - t0:.3f}")
PY
}

# bench_ours OUT: sums of the per-day outputs of `process`: arc-days, rows, total flow.
bench_ours() {
  python3 - "$1" <<'PY'
import json, pathlib, sys
groups = rows = 0; flow = 0.0
for p in sorted(pathlib.Path(sys.argv[1], "metrics").glob("comptages_metrics_*.json")):
    g = json.load(open(p))["metrics"]["global_metrics"]
    groups += g["nombre_troncons"]; rows += g["nombre_releves"]; flow += g["debit_journalier_total"]
print(groups, rows, f"{flow:.3f}")
PY
}

# bench_time PREFIX command...: runs it under /usr/bin/time -v (stdout, stderr, time report in
# PREFIX.stdout / .stderr / .time); prints "wall-seconds peak-RSS-MB exit-code".
bench_time() {
  local p=$1 rc=0 s kb
  shift
  /usr/bin/time -v -o "$p.time" "$@" > "$p.stdout" 2> "$p.stderr" || rc=$?
  s=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); t=0; for(i=1;i<=n;i++) t=t*60+a[i]; print t}' "$p.time")
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$p.time")
  echo "${s:-0} $(( ${kb:-0} / 1024 )) $rc"
}
