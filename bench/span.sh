#!/usr/bin/env bash
# Any span in bounded memory (issue 20; not part of the tests): `process` on multi-year sparse
# road-counter trees (one row per arc and day, the real référentiel's arcs, one file a year,
# rows shuffled within weeks), at its default memory budget, at 512 MB, and as one window
# (`--memory-limit 1T`), against DuckDB's GROUP BY with the same threads.
#
#   bench/span.sh                  3-year (2022-2024) and 10-year (2015-2024) trees, THREADS=2
#   SPANS="3" bench/span.sh        only the 3-year tree
#   SHARDS=4 bench/span.sh         also: the 3-year tree (SHARD_SPAN) as 4 `process --from/--to` shards
#                                  (planned by the `shards` binary) into one folder
#   LIMITS="512M 1G" bench/span.sh other budgets (besides the default and the 1T reference)
#
# Trees are generated once into $BENCH_DIR (default target/bench-span; 1.2 GB for 3 years, 4 GB
# for 10) by `cargo run --release --example scale -- --years N ...`. Every run gets the same
# clock (SOURCE_DATE_EPOCH), so outputs compare byte for byte: each run's output folder must hold
# the one-window run's files with the same bytes (SHA-256 of every file, the run quality reports
# `quality/quality_report_run*` aside); the script exits 1 when one differs. Outputs are large
# (3.5 GB a 3-year run, ~12 GB a 10-year one): only one is on disk at a time, the reference's
# manifest stays in $BENCH_DIR/ref-<N>y.sha256.
# Prints a Markdown table; the cross-checks (arc-days, rows, total flow of `process` and DuckDB)
# go to stderr. Until `--memory-limit` exists, its runs read "n/a" and the reference is the
# unflagged run.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
BENCH_DIR="${BENCH_DIR:-$PWD/target/bench-span}"
SPANS="${SPANS:-3 10}"
THREADS="${THREADS:-2}"
LIMITS="${LIMITS:-512M}"
SHARDS="${SHARDS:-0}"
SHARD_SPAN="${SHARD_SPAN:-3}"
LAST_YEAR="${LAST_YEAR:-2024}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1767225600}" # 2026-01-01T00:00:00Z

cargo build --release --quiet --bin process --bin shards --example scale
bench_duckdb "$BENCH_DIR"
PROCESS="$TARGET/release/process"
BUDGET=no
"$PROCESS" --help | grep -q -- '--memory-limit' && BUDGET=yes
FAILED=0

# windows / passes / memory_limit_bytes of a `process --json` summary, "n/a" when absent.
summary() {
  python3 - "$1" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    d = {}
def f(k):
    v = d.get(k)
    return "n/a" if v is None else str(v)
lim = d.get("memory_limit_bytes")
print(f("windows"), f("passes"), "n/a" if lim is None else f"{lim / 2**20:.0f}MB")
PY
}

# manifest OUT: "sha256  path" of every file under OUT but the run quality reports, sorted.
manifest() {
  (cd "$1" && find . -type f ! -name 'quality_report_run*' -print0 | sort -z | xargs -0 -r sha256sum)
}

# same OUT: "same" when OUT holds the files of the reference run with the same bytes (run
# quality reports aside), else "DIFFERS" (and the script will exit 1). OUT is deleted: only the
# reference's manifest is kept (outputs are 3.5 GB a 3-year run).
same() {
  if manifest "$1" | diff "$REF_MANIFEST" - > "$BENCH_DIR/diff.txt" 2>&1; then
    echo same
  else
    echo "bench: $1 differs from the one-window run (< reference, > this run):" >&2
    head -20 "$BENCH_DIR/diff.txt" >&2
    echo DIFFERS
  fi
  rm -rf "$1"
}

# row tree-label run wall rss json same
row() {
  local w p l
  read -r w p l < <(summary "$5")
  echo "| $1 | $ROWS | $ARC_DAYS | $CSV_MB | $2 (budget $l) | $3 | $4 | $w | $p | $6 |"
}

# run_process NAME OUT extra-flags...: one timed `process` run into OUT (emptied first unless
# KEEP=1: the shards share one folder); prints "wall rss rc".
run_process() {
  local name=$1 out=$2
  shift 2
  [ "${KEEP:-0}" = 1 ] || rm -rf "$out"
  bench_time "$BENCH_DIR/$name" "$PROCESS" --raw "$TREE" --output "$out" -q --no-progress --json -j "$T" "$@"
}

# shard_check LABEL: the tree's days as $SHARDS shards, one after the other, into one folder.
shard_check() {
  local out="$BENCH_DIR/out-shards" total=0 peak=0 s m rc
  rm -rf "$out"
  while read -r i from to _; do
    read -r s m rc < <(KEEP=1 run_process "shard$i" "$out" --from "$from" --to "$to")
    [ "$rc" -le 1 ] || { echo "bench: shard $i ($from..$to) exited $rc" >&2; FAILED=1; }
    total=$(awk -v a="$total" -v b="$s" 'BEGIN {print a + b}')
    [ "$m" -gt "$peak" ] && peak=$m
  done < <("$TARGET/release/shards" --from "$FIRST" --to "$LAST" --count "$SHARDS" --format json |
    python3 -c 'import json, sys; [print(s["index"], s["from"], s["to"]) for s in json.load(sys.stdin)]')
  local verdict
  verdict=$(same "$out")
  [ "$verdict" = same ] || FAILED=1
  echo "| $1 | $ROWS | $ARC_DAYS | $CSV_MB | $SHARDS shards --from/--to, in turn (sum; max RSS) | $total | $peak | | | $verdict |"
}

echo "| tree | rows | arc-days | CSV MB | run | wall s | peak RSS MB | windows | passes | = one window |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for years in $SPANS; do
  FIRST="$((LAST_YEAR - years + 1))-01-01"
  LAST="$LAST_YEAR-12-31"
  TREE="$BENCH_DIR/tree-${years}y"
  if [ ! -f "$TREE/.done" ]; then
    rm -rf "$TREE"
    "$TARGET/release/examples/scale" --out "$TREE" --first-day "$FIRST" --years "$years" \
      --shape sparse --hour 8 --yearly --shuffle-days 7 "${REF_ARGS[@]}" 2> "$BENCH_DIR/gen-${years}y.txt"
    cat "$BENCH_DIR/gen-${years}y.txt" >&2
    mv "$BENCH_DIR/gen-${years}y.txt" "$TREE/.done"
  fi
  # "wrote R road-counter rows (... 3348 arcs, 1096 days)": sparse, so rows = arc-days.
  ROWS=$(awk '{print $2}' "$TREE/.done")
  ARC_DAYS=$(sed -E 's/.* ([0-9]+) arcs, ([0-9]+) days.*/\1 \2/' "$TREE/.done" | awk '{print $1 * $2}')
  CSV_MB=$(cat "$TREE"/batch/comptages*.csv | wc -c | awk '{printf "%.0f", $1/1e6}')
  label="${years} years ($FIRST..$LAST)"
  for T in $THREADS; do
    REF_OUT="$BENCH_DIR/out-ref"
    REF_MANIFEST="$BENCH_DIR/ref-${years}y.sha256"
    if [ "$BUDGET" = yes ]; then
      read -r s m rc < <(run_process ref "$REF_OUT" --memory-limit 1T)
      row "$label" "-j$T process --memory-limit 1T (one window)" "$s" "$m" "$BENCH_DIR/ref.stdout" "reference"
    else
      read -r s m rc < <(run_process ref "$REF_OUT")
      row "$label" "-j$T process, no --memory-limit on this build (one window)" "$s" "$m" "$BENCH_DIR/ref.stdout" "reference"
    fi
    [ "$rc" -le 1 ] || { echo "bench: the reference run exited $rc (see $BENCH_DIR/ref.stderr)" >&2; exit 1; }
    echo "check ${years}y -j$T: process (arc-days rows flow) = $(bench_ours "$REF_OUT"); generated rows = $ROWS, arc-days = $ARC_DAYS" >&2
    manifest "$REF_OUT" > "$REF_MANIFEST"
    rm -rf "$REF_OUT"
    if [ "$BUDGET" = yes ]; then
      read -r s m rc < <(run_process default "$BENCH_DIR/out-run")
      v=$(same "$BENCH_DIR/out-run"); [ "$v" = same ] || FAILED=1
      row "$label" "-j$T process (default budget)" "$s" "$m" "$BENCH_DIR/default.stdout" "$v"
      for lim in $LIMITS; do
        read -r s m rc < <(run_process "lim$lim" "$BENCH_DIR/out-run" --memory-limit "$lim")
        v=$(same "$BENCH_DIR/out-run"); [ "$v" = same ] || FAILED=1
        row "$label" "-j$T process --memory-limit $lim" "$s" "$m" "$BENCH_DIR/lim$lim.stdout" "$v"
      done
    else
      for lim in default $LIMITS; do
        echo "| $label | $ROWS | $ARC_DAYS | $CSV_MB | -j$T process --memory-limit $lim | n/a | n/a | n/a | n/a | n/a (flag not on this build) |"
      done
    fi
    read -r s m rc < <(bench_time "$BENCH_DIR/duck" "$VENV/bin/python" "$BENCH_DIR/duck.py" \
      "$TREE/batch/comptages-routiers-permanents*.csv" "$T" "$BENCH_DIR/duck-out.csv")
    [ "$rc" -eq 0 ] || { echo "bench: DuckDB exited $rc (see $BENCH_DIR/duck.stderr)" >&2; exit 1; }
    read -r dg dr df _ < "$BENCH_DIR/duck.stdout"
    echo "check ${years}y -j$T: DuckDB (groups rows flow) = $dg $dr $df" >&2
    [ "$dg" = "$ARC_DAYS" ] && [ "$dr" = "$ROWS" ] \
      || { echo "bench: DuckDB counts $dg arc-days / $dr rows, the generator wrote $ARC_DAYS / $ROWS" >&2; FAILED=1; }
    echo "| $label | $ROWS | $ARC_DAYS | $CSV_MB | -j$T DuckDB $DUCKDB_VERSION GROUP BY | $s | $m | | | |"
    rm -f "$BENCH_DIR/duck-out.csv"
    if [ "$SHARDS" -gt 0 ] && [ "$years" = "$SHARD_SPAN" ]; then
      shard_check "$label"
    fi
  done
done
[ "$FAILED" = 0 ] || { echo "bench: FAILED: an output differs from the one-window run, or a count is off (above)" >&2; exit 1; }
