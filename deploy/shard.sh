#!/usr/bin/env bash
# One shard of a backfill: raw pull (the objects its days read) -> process (its days) -> upload.
#
# The shard index: SHARD_INDEX, else Kubernetes' JOB_COMPLETION_INDEX (Indexed Job), else AWS
# Batch's AWS_BATCH_JOB_ARRAY_INDEX (array job). The range: RANGE_FROM, RANGE_TO (YYYY-MM-DD),
# SHARD_COUNT. `shards` plans the range; an index past the plan (a range with fewer days than
# SHARD_COUNT) has nothing to do and succeeds.
#
# Environment (defaults):
#   CITYFLOW_DATA (/data)  DATA_DIR ($CITYFLOW_DATA/raw)  OUTPUT_DIR ($CITYFLOW_DATA/output)
#   UPLOAD_TYPES (all)     ALLOW_EMPTY_SHARD (0: a shard with nothing to process fails, exit 5)
#   SOURCE_DATE_EPOCH      one value for the whole backfill: a retried shard then writes the same
#                          bytes, which `upload --verify` finds already stored (see below)
#   The binaries read the rest themselves: AWS_REGION, AWS_ENDPOINT_URL[_S3|_DYNAMODB],
#   credentials, S3_RAW_BUCKET, S3_RAW_PREFIX, S3_REPORTS_BUCKET, DYNAMODB_METRICS_TABLE,
#   DYNAMODB_REPORTS_TABLE, CITYFLOW_MEMORY_LIMIT, CITYFLOW_*_TIMEOUT ...
#
# Retries write nothing new: upload's ledger sits in OUTPUT_DIR, which a fresh pod or container
# does not have, and upload's writes are unconditional puts (no remote hash check). So the shard
# first runs `upload --verify` (reads every target back and compares: items without their
# timestamp, objects byte for byte) and uploads only when something is missing or differs.
#
# Exit codes: 0 done (or nothing to do); process's 1 (rejected rows) does not fail the shard;
# any other failure exits with the failing step's code (2 configuration, 3 unreachable, 4 not
# written, 5 nothing to process, 1 from raw pull or upload: some objects or targets failed),
# which the Job's podFailurePolicy and the Batch retryStrategy read.
set -euo pipefail

log() { printf 'shard: %s\n' "$*" >&2; }

index="${SHARD_INDEX:-${JOB_COMPLETION_INDEX:-${AWS_BATCH_JOB_ARRAY_INDEX:-}}}"
if [[ -z $index ]]; then
    log "no shard index: set SHARD_INDEX, or run as a Kubernetes Indexed Job or an AWS Batch array job"
    exit 2
fi
for v in RANGE_FROM RANGE_TO SHARD_COUNT; do
    if [[ -z ${!v:-} ]]; then
        log "$v is not set (RANGE_FROM and RANGE_TO: YYYY-MM-DD; SHARD_COUNT: a number)"
        exit 2
    fi
done
data="${CITYFLOW_DATA:-/data}"
raw="${DATA_DIR:-$data/raw}"
out="${OUTPUT_DIR:-$data/output}"
types="${UPLOAD_TYPES:-all}"
summaries="$data/summaries"
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
    log "warning: SOURCE_DATE_EPOCH is not set: a retry on a fresh machine stamps new times and uploads again"
fi

plan="$(shards --from "$RANGE_FROM" --to "$RANGE_TO" --count "$SHARD_COUNT" --index "$index" --format env)"
eval "$plan"
if [[ $SHARD_EMPTY == 1 ]]; then
    log "shard $index of $SHARD_COUNT: nothing to do"
    exit 0
fi
log "shard $SHARD_INDEX of $SHARD_COUNT: days $SHARD_FROM..$SHARD_TO, reading from $SHARD_READ_FROM"
mkdir -p "$raw" "$out" "$summaries"

# Runs a step with its JSON summary kept in $summaries/<name>.json (and on stdout); returns its
# exit code.
step() {
    local name=$1 rc=0
    shift
    "$@" --json >"$summaries/$name.json" || rc=$?
    cat "$summaries/$name.json"
    return "$rc"
}

rc=0
step pull raw pull --raw "$raw" --from "$SHARD_READ_FROM" --to "$SHARD_TO" --no-progress || rc=$?
if ((rc != 0)); then
    log "raw pull failed (exit $rc)"
    exit "$rc"
fi

step process process --raw "$raw" --output "$out" --from "$SHARD_FROM" --to "$SHARD_TO" --no-progress || rc=$?
case $rc in
    0) ;;
    1) log "process: some input rejected (see $out/quality): the shard goes on"; rc=0 ;;
    5)
        if [[ ${ALLOW_EMPTY_SHARD:-0} == 1 ]]; then
            log "process: nothing to process in $SHARD_FROM..$SHARD_TO (ALLOW_EMPTY_SHARD=1): done"
            exit 0
        fi
        log "process: nothing to process in $SHARD_FROM..$SHARD_TO (wrong bucket, prefix or range?); set ALLOW_EMPTY_SHARD=1 to accept empty shards"
        exit 5
        ;;
    *) log "process failed (exit $rc)"; exit "$rc" ;;
esac

select=(--from "$SHARD_FROM" --to "$SHARD_TO" --type "$types" --output "$out" --no-progress)
step verify upload --verify "${select[@]}" || rc=$?
case $rc in
    0)
        log "upload: every target of $SHARD_FROM..$SHARD_TO is already stored: nothing to write"
        exit 0
        ;;
    1) rc=0 ;;
    *) log "upload --verify failed (exit $rc)"; exit "$rc" ;;
esac
step upload upload "${select[@]}" || rc=$?
if ((rc != 0)); then
    log "upload failed (exit $rc)"
    exit "$rc"
fi
log "shard $SHARD_INDEX of $SHARD_COUNT: done"
