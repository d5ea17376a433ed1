#!/usr/bin/env bash
# The long versions of the reliability tests (RELIABILITY.md). CI runs their short versions as
# part of `cargo test --test it` (3 kills each on small inputs, one fault seed on 12 days).
#
#   scripts/reliability.sh kill [N]              process and upload killed (SIGKILL) at N random
#                                                moments each (default 20), bigger inputs: 400
#                                                arcs x 30 days for process, 1,000 arcs x 20 days
#                                                for upload (items offloaded to S3); a fresh seed,
#                                                printed (CITYFLOW_KILL_SEED=S replays it)
#   scripts/reliability.sh faults [DAYS] [SEED...]   upload through the fault-injecting proxy
#                                                (30 % faults, UnprocessedItems, server down) for
#                                                each seed (default 1..5) on DAYS days (default 60)
#
# Needs the test servers: `scripts/servers.sh start` (this script then reads target/servers/env),
# or the CITYFLOW_TEST_* variables of servers already running.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CITYFLOW_TEST_S3_ENDPOINT:-}" ]; then
  if [ -f target/servers/env ]; then
    # shellcheck disable=SC1091
    source target/servers/env
  else
    echo "reliability.sh: no test servers (run scripts/servers.sh start)" >&2
    exit 2
  fi
fi
export CITYFLOW_REAL_DATA="${CITYFLOW_REAL_DATA:-$PWD/../shared/data/real}"
lines='^(process|upload|dynamodb proxy|s3 proxy|down mid-run|fault seed|FIGURES|test |thread|test result)|panicked|assert'
what="${1:-}"
shift || true
case "$what" in
  kill)
    export CITYFLOW_KILLS="${1:-20}" CITYFLOW_KILL_SCALE=long
    cargo test --release --test it kill:: -- --nocapture --test-threads 1 2>&1 | grep -E "$lines"
    ;;
  faults)
    export CITYFLOW_FAULT_DAYS="${1:-60}"
    shift || true
    seeds=("$@")
    [ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3 4 5)
    for s in "${seeds[@]}"; do
      echo "== seed $s, $CITYFLOW_FAULT_DAYS days"
      CITYFLOW_FAULT_SEED="$s" cargo test --release --test it faults:: -- --nocapture --test-threads 1 2>&1 |
        grep -E "$lines"
    done
    ;;
  *)
    sed -n '2,16p' "$0" >&2
    exit 2
    ;;
esac
