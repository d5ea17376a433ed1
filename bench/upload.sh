#!/usr/bin/env bash
# Upload benchmark (not a test): a year of outputs (365 days, every type, reports) pushed to the
# local servers of scripts/servers.sh; then an unchanged re-run; then the prototype's way (one
# item per request, sequential) as a baseline. Prints a table.
#   bench/upload.sh            (ARCS=200 by default: comptages items of ~150 KB)
set -euo pipefail
cd "$(dirname "$0")/.."
ARCS="${ARCS:-200}"
cargo build --release --quiet --workspace --bin process --bin upload --example generate
scripts/servers.sh start
work=$(mktemp -d)
trap 'scripts/servers.sh stop; rm -rf "$work"' EXIT
source target/servers/env
export AWS_ACCESS_KEY_ID=$CITYFLOW_TEST_S3_KEY AWS_SECRET_ACCESS_KEY=$CITYFLOW_TEST_S3_SECRET AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_DYNAMODB=$CITYFLOW_TEST_DYNAMODB_ENDPOINT AWS_ENDPOINT_URL_S3=$CITYFLOW_TEST_S3_ENDPOINT
"${CARGO_TARGET_DIR:-target}"/release/examples/generate --out "$work/raw" --arcs "$ARCS" --days 365 --first-day 2025-01-01 2>/dev/null
"${CARGO_TARGET_DIR:-target}"/release/process --raw "$work/raw" --output "$work/out" -q --no-progress || true
files=$(find "$work/out/metrics" "$work/out/reports" -type f | wc -l)
mb=$(du -sb "$work/out/metrics" "$work/out/reports" | awk '{s+=$1} END {printf "%.1f", s/1e6}')
echo "outputs: $files files, $mb MB (metrics + reports)"
run() { # label, table suffix, extra args
  local label=$1 suffix=$2; shift 2
  local start end
  start=$(date +%s.%N)
  DYNAMODB_METRICS_TABLE="bench-$suffix-m" DYNAMODB_REPORTS_TABLE="bench-$suffix-r" S3_REPORTS_BUCKET="bench-$suffix" \
    "${CARGO_TARGET_DIR:-target}"/release/upload --output "$work/out" --json "$@" > "$work/s.json" || true
  end=$(date +%s.%N)
  python3 - "$label" "$start" "$end" "$work/s.json" <<'PY'
import json, sys
label, a, b, path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = json.load(open(path)); t = b - a
print(f"| {label:<44} | {s['written']:>7} | {s['unchanged']:>9} | {s['failed']:>6} | {t:7.2f} | {s['written']/t:9.1f} | {s['bytes_written']/1e6/t:6.2f} |")
PY
}
echo "| run | written | unchanged | failed | wall s | items/s | MB/s |"
echo "|---|---|---|---|---|---|---|"
run "cityflow: batches of 25, 4 in flight" fast --init --create-bucket
run "cityflow: unchanged re-run" fast
run "baseline: one item per request, sequential" slow --init --create-bucket --batch-size 1 --concurrency 1
