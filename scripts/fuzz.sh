#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ one after the other, each for SECONDS (default 60), and
# prints per target: executions, executions/s, coverage (edges and features), corpus size, peak
# memory and the crash/timeout/OOM inputs found (in fuzz/artifacts/<target>/).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 600, scripts/fuzz.sh 30 datetime
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain the nightly flags cargo-fuzz
# passes are enabled with RUSTC_BOOTSTRAP=1. Targets are built optimised with debug assertions
# and overflow checks (`-a`); the sanitizer is FUZZ_SANITIZER (default `none`: the code is safe
# Rust, and panics, overflows, timeouts (> 10 s) and OOMs (> 2 GB) are what we look for;
# `address` needs a nightly toolchain). Seeds come from fuzz/seeds.txt (fixtures,
# sample tree, real files when ../shared/data/real is there) plus fuzz/regressions/<target>/
# (past crashes, committed). The evolving corpus is fuzz/corpus/<target> (not committed).
# A crash input must be copied to fuzz/regressions/<target>/ once fixed: tests/it/fuzz_replay.rs
# replays them all in CI. Exit status: 1 when a target found anything.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
secs=${1:-60}
shift || true
sanitizer=${FUZZ_SANITIZER:-none}
real=${CITYFLOW_REAL_DATA:-$root/../shared/data/real}
max_len=${FUZZ_MAX_LEN:-65536}
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null || {
    echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
}
cd fuzz
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi
cargo fuzz build -a -s "$sanitizer" >&2

# Seed corpus of one target from fuzz/seeds.txt (big CSV files cut to their first 200 lines, so
# that a seed is a complete file under max_len).
seed() {
    local target=$1 dir=$2 n=0 t sel src
    rm -rf "$dir" && mkdir -p "$dir"
    while read -r t sel src; do
        [ "$t" = "$target" ] || continue
        local files=() prefix=""
        [ "$sel" = "-" ] || prefix=$sel
        case $src in
        lines:*)
            local i=0
            while IFS= read -r line; do
                i=$((i + 1))
                { [ -z "$prefix" ] || printf "\\x$prefix"; printf '%s' "$line"; } >"$dir/line-$n-$i"
            done <"$root/${src#lines:}"
            ;;
        *)
            local f
            case $src in real:*) f=$real/${src#real:} ;; *) f=$root/$src ;; esac
            [ -f "$f" ] || { echo "  (seed $src absent, skipped)" >&2; continue; }
            { [ -z "$prefix" ] || printf "\\x$prefix"; head -n 200 "$f" | head -c "$max_len" || true; } \
                >"$dir/$n-$(basename "$f")"
            ;;
        esac
        n=$((n + 1))
    done < <(grep -v '^#' "$root/fuzz/seeds.txt" | grep -v '^[[:space:]]*$')
    if [ -d "$root/fuzz/regressions/$target" ]; then
        cp "$root/fuzz/regressions/$target"/* "$dir/" 2>/dev/null || true
    fi
}

status=0
summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    seed "$t" "seeds-$t"
    before=$(ls "artifacts/$t" | wc -l)
    log=$(mktemp)
    echo "== $t: ${secs}s" >&2
    set +e
    cargo fuzz run -a -s "$sanitizer" "$t" "corpus/$t" "seeds-$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')
    corp=$(ls "corpus/$t" | wc -l)
    found=$(($(ls "artifacts/$t" | wc -l) - before))
    line=$(printf '%-16s %6ss %10s execs %7s/s  cov %5s  ft %6s  corpus %5s  rss %5s MB  new crashes %s' \
        "$t" "$secs" "${execs:-0}" "${rate:-0}" "$cov" "$ft" "$corp" "${rss:-0}" "$found")
    summary+=("$line")
    echo "$line" >&2
    if [ "$found" -gt 0 ] || [ $rc -ne 0 ]; then
        status=1
        echo "   libFuzzer exit $rc; log: $log; inputs: fuzz/artifacts/$t/" >&2
        grep -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -5 >&2 || true
    else
        rm -f "$log"
    fi
done
echo
printf '%s\n' "${summary[@]}"
exit $status
