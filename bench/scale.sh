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
# ~/.cache/cityflow (bench/lib.sh, shared with bench/span.sh). Prints a Markdown table (wall s,
# MB/s, peak RSS from /usr/bin/time -v) and cross-checks the two results (arc-days, rows, flow).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
BENCH_DIR="${BENCH_DIR:-$PWD/target/bench-scale}"
SIZES="${SIZES:-620M 6200M}"
THREADS="${THREADS:-1 2}"
RUNS="${RUNS:-2}"

cargo build --release --quiet --bin process --example scale
bench_duckdb "$BENCH_DIR"

# best-of-$RUNS wall seconds and the peak RSS (MB) of that run: timed label command...
timed() {
  local best="" rss="" s mb
  for _ in $(seq 1 "$RUNS"); do
    rm -rf "$BENCH_DIR/out"
    read -r s mb _ < <(bench_time "$BENCH_DIR/run" "$@")
    if [ -z "$best" ] || awk "BEGIN {exit !($s < $best)}"; then best=$s; rss=$mb; fi
  done
  echo "$best $rss"
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
    check_ours=$(bench_ours "$BENCH_DIR/out")
    read -r ds drss < <(timed "$VENV/bin/python" "$BENCH_DIR/duck.py" "$csv" "$t" "$BENCH_DIR/duck-out.csv")
    check_duck=$(cut -d' ' -f1-3 "$BENCH_DIR/run.stdout")
    awk -v l="$mb MB" -v t="$t" -v s="$ps" -v m="$prss" -v b="$bytes" -v r="$(awk "BEGIN {printf \"%.2f\", $ps/$ds}")" \
      'BEGIN {printf "| %s | %s | cityflow process | %.2f | %.0f | %d | %s |\n", l, t, s, b/1e6/s, m, r}'
    awk -v l="$mb MB" -v t="$t" -v s="$ds" -v m="$drss" -v b="$bytes" -v v="$DUCKDB_VERSION" \
      'BEGIN {printf "| %s | %s | DuckDB %s | %.2f | %.0f | %d | |\n", l, t, v, s, b/1e6/s, m}'
    echo "check $mb MB -j$t: process (arc-days rows flow) = $check_ours; DuckDB = $check_duck" >&2
  done
done
