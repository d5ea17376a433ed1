#!/usr/bin/env bash
# Benchmarks of `process` (not part of the tests): prints a table of figures.
#   bench/run.sh            real road-counter file + a generated 3,350-arc x 10-day tree
#   DAYS=30 bench/run.sh    a bigger generated tree
# Each figure is the best of 3 runs, outputs written to a fresh folder each time.
set -euo pipefail
cd "$(dirname "$0")/.."
REAL="${CITYFLOW_REAL_DATA:-$PWD/../shared/data/real}"
DAYS="${DAYS:-10}"
ARCS="${ARCS:-3350}"
command -v /usr/bin/time >/dev/null || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 2; }
cargo build --release --quiet --bin process --example generate

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/real/batch"
cp "$REAL/comptages-routiers-permanents/crp_washington_louisgthier.csv" "$work/real/batch/comptages-routiers-permanents.csv"
cp "$REAL/geo/arrondissements-paris.geojson" "$work/real/batch/"
"${CARGO_TARGET_DIR:-target}"/release/examples/generate --out "$work/gen" --arcs "$ARCS" --days "$DAYS" --no-api --comptages-only 2>/dev/null

measure() { # label raw jobs
  local label=$1 raw=$2 jobs=$3 best="" rss="" rows bytes
  bytes=$(find "$raw" -name 'comptages*' -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
  for _ in 1 2 3; do
    rm -rf "$work/out"
    /usr/bin/time -f '%e %M' -o "$work/time" "${CARGO_TARGET_DIR:-target}"/release/process --raw "$raw" --output "$work/out" \
      -q --no-progress --json -j "$jobs" > "$work/summary.json" || true
    read -r secs kb < "$work/time"
    if [ -z "$best" ] || awk "BEGIN {exit !($secs < $best)}"; then best=$secs; rss=$kb; fi
  done
  rows=$(python3 -c "import json; print(json.load(open('$work/summary.json'))['sources']['comptages']['rows_read'])")
  awk -v l="$label" -v j="$jobs" -v r="$rows" -v b="$bytes" -v s="$best" -v m="$rss" 'BEGIN {
    if (s < 0.01) s = 0.01;
    printf "| %-34s | %2d | %10d | %8.1f | %6.2f | %10.0f | %7.1f | %7.1f |\n", l, j, r, b/1e6, s, r/s, b/1e6/s, m/1024 }'
}

echo "| input | -j | rows | MB | wall s | rows/s | MB/s | peak RSS MB |"
echo "|---|---|---|---|---|---|---|---|"
for j in 1 2; do measure "real file (crp_washington, 1 arc)" "$work/real" "$j"; done
for j in 1 2; do measure "generated ${ARCS} arcs x ${DAYS} days" "$work/gen" "$j"; done
