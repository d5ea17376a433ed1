#!/usr/bin/env bash
# Scale benchmark (issue 6; not part of the tests): `process` against DuckDB on the same
# generated road-counter export, same machine, same thread count, in one run.
#
#   bench/scale.sh                 full size (6.2 GB, the real export's) and 1/10 (620 MB)
#   SIZES="620M" bench/scale.sh    other sizes
#   RUNS=3 bench/scale.sh          best of 3 (default 2)
#
# Trees are generated once into $BENCH_DIR (default target/bench-scale; ~7 GB) by
# `cargo run --release --example scale`, with the arcs of the real référentiel file when
# ../shared/data/real is there. DuckDB (PyPI, version $DUCKDB_SPEC) goes into a venv under
# ~/.cache/cityflow. Prints a Markdown table (wall s, MB/s, peak RSS from /usr/bin/time -v) and
# cross-checks the two results (arc-days, rows, total flow).
set -euo pipefail
cd "$(dirname "$0")/.."
REAL="${CITYFLOW_REAL_DATA:-$PWD/../shared/data/real}"
BENCH_DIR="${BENCH_DIR:-$PWD/target/bench-scale}"
SIZES="${SIZES:-620M 6200M}"
THREADS="${THREADS:-1 2}"
RUNS="${RUNS:-2}"
DUCKDB_SPEC="${DUCKDB_SPEC:-duckdb==2.0.0}"
VENV="${CITYFLOW_CACHE:-$HOME/.cache/cityflow}/duckdb-venv"
TARGET="${CARGO_TARGET_DIR:-target}"
command -v /usr/bin/time >/dev/null || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 2; }

cargo build --release --quiet --bin process --example scale
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# A no-op (no network) when the installed version already satisfies the spec.
"$VENV/bin/pip" install --quiet --disable-pip-version-check "$DUCKDB_SPEC"
DUCKDB_VERSION=$("$VENV/bin/python" -c 'import duckdb; print(duckdb.__version__)')
REF_ARGS=()
REF="$REAL/referentiel-comptages-routiers/referentiel-comptages-routiers_nezarbr.csv"
[ -f "$REF" ] && REF_ARGS=(--referentiel "$REF")

mkdir -p "$BENCH_DIR"
cat > "$BENCH_DIR/duck.py" <<'PY'
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

# Sum of the per-day outputs of `process`: arc-days, rows, total flow.
ours() {
  python3 - "$1" <<'PY'
import json, pathlib, sys
groups = rows = 0; flow = 0.0
for p in sorted(pathlib.Path(sys.argv[1], "metrics").glob("comptages_metrics_*.json")):
    g = json.load(open(p))["metrics"]["global_metrics"]
    groups += g["nombre_troncons"]; rows += g["nombre_releves"]; flow += g["debit_journalier_total"]
print(groups, rows, f"{flow:.3f}")
PY
}

# best-of-$RUNS wall seconds and the peak RSS (MB) of that run: timed label command...
timed() {
  local best="" rss="" s kb
  for _ in $(seq 1 "$RUNS"); do
    rm -rf "$BENCH_DIR/out"
    /usr/bin/time -v -o "$BENCH_DIR/time.txt" "$@" > "$BENCH_DIR/stdout.txt" 2> "$BENCH_DIR/stderr.txt" || true
    s=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); t=0; for(i=1;i<=n;i++) t=t*60+a[i]; print t}' "$BENCH_DIR/time.txt")
    kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$BENCH_DIR/time.txt")
    if [ -z "$best" ] || awk "BEGIN {exit !($s < $best)}"; then best=$s; rss=$kb; fi
  done
  echo "$best $((rss / 1024))"
}

echo "| size | threads | tool | wall s | MB/s | peak RSS MB | process / DuckDB |"
echo "|---|---|---|---|---|---|---|"
for size in $SIZES; do
  tree="$BENCH_DIR/tree-$size"
  if [ ! -f "$tree/.done" ]; then
    rm -rf "$tree"
    "$TARGET/release/examples/scale" --out "$tree" --bytes "$size" "${REF_ARGS[@]}" >&2
    touch "$tree/.done"
  fi
  csv="$tree/batch/comptages-routiers-permanents.csv"
  bytes=$(stat -c %s "$csv")
  mb=$(awk -v b="$bytes" 'BEGIN {printf "%.0f", b/1e6}')
  cat "$csv" > /dev/null # page cache warm for both tools
  for t in $THREADS; do
    read -r ps prss < <(timed "$TARGET/release/process" --raw "$tree" --output "$BENCH_DIR/out" -q --no-progress --json -j "$t")
    check_ours=$(ours "$BENCH_DIR/out")
    read -r ds drss < <(timed "$VENV/bin/python" "$BENCH_DIR/duck.py" "$csv" "$t" "$BENCH_DIR/duck-out.csv")
    check_duck=$(cut -d' ' -f1-3 "$BENCH_DIR/stdout.txt")
    awk -v l="$mb MB" -v t="$t" -v s="$ps" -v m="$prss" -v b="$bytes" -v r="$(awk "BEGIN {printf \"%.2f\", $ps/$ds}")" \
      'BEGIN {printf "| %s | %s | cityflow process | %.2f | %.0f | %d | %s |\n", l, t, s, b/1e6/s, m, r}'
    awk -v l="$mb MB" -v t="$t" -v s="$ds" -v m="$drss" -v b="$bytes" -v v="$DUCKDB_VERSION" \
      'BEGIN {printf "| %s | %s | DuckDB %s | %.2f | %.0f | %d | |\n", l, t, v, s, b/1e6/s, m}'
    echo "check $mb MB -j$t: process (arc-days rows flow) = $check_ours; DuckDB = $check_duck" >&2
  done
done
