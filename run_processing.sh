#!/usr/bin/env bash
# EC2 wrapper, like the prototype's: runs `process` (optionally for one date), tees a timestamped
# log under logs/, and exits with process's status.
#   ./run_processing.sh              every day found in the raw tree
#   ./run_processing.sh 2025-11-04   one day
# Needs no AWS credentials and no network.
set -uo pipefail
cd "$(dirname "$0")"

date_arg=()
if [ $# -ge 1 ]; then
  if ! [[ "$1" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]]; then
    echo "usage: $0 [YYYY-MM-DD]" >&2
    exit 2
  fi
  date_arg=(--date "$1")
fi

mkdir -p logs
log="logs/processing_$(date +%Y%m%d_%H%M%S).log"
bin="${CARGO_TARGET_DIR:-target}/release/process"
if [ ! -x "$bin" ] || [ -n "$(find src Cargo.toml -newer "$bin" -print -quit 2>/dev/null)" ]; then
  cargo build --release --quiet --bin process 2>&1 | tee -a "$log" || exit 2
fi
"$bin" --no-progress "${date_arg[@]}" 2>&1 | tee -p -a "$log"
status=${PIPESTATUS[0]}
echo "process exited with status $status (log: $log)" | tee -a "$log"
exit "$status"
