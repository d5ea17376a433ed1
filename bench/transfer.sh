#!/usr/bin/env bash
# Transfer benchmark (not a test): `raw push` / `raw pull` of one 2 GB file and of 10,000 small
# files against the local S3 server, beside the AWS CLI (`aws s3 cp` / `aws s3 sync`) with its
# defaults (8 MB multipart threshold and chunks, 10 requests in flight: the same as ours).
# Prints MB/s, objects/s and the ratio (AWS CLI time / ours: above 1 is faster); best of
# REPEAT=2 runs, each into a fresh destination.
#   bench/transfer.sh                      starts the servers of scripts/servers.sh and stops them
#   CITYFLOW_SERVERS_ENV=path/to/env bench/transfer.sh   uses servers already running
#   BIG_MB=2048 SMALL_FILES=10000 bench/transfer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIG_MB="${BIG_MB:-2048}"
SMALL_FILES="${SMALL_FILES:-10000}"
CACHE="${CITYFLOW_CACHE:-$HOME/.cache/cityflow}"
AWSVENV="$CACHE/awscli"
if [ ! -x "$AWSVENV/bin/aws" ]; then
  echo "bench: installing the AWS CLI into $AWSVENV" >&2
  python3 -m venv "$AWSVENV"
  "$AWSVENV/bin/pip" install --quiet --disable-pip-version-check awscli==1.46.2
fi
AWS="$AWSVENV/bin/aws"
cargo build --release --quiet -p cityflow-cloud --bin raw
work=$(mktemp -d "${TMPDIR:-/tmp}/cityflow-bench.XXXXXX")
B="bench-raw-$(date +%s)"
cleanup() { # the benchmark's buckets go too (several GB on the server's disk)
  for b in "$B" "$B-cli"; do "$AWS" "${EP[@]}" s3 rb --force "s3://$b" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
if [ -n "${CITYFLOW_SERVERS_ENV:-}" ]; then
  trap cleanup EXIT
  source "$CITYFLOW_SERVERS_ENV"
else
  scripts/servers.sh start
  trap 'cleanup; scripts/servers.sh stop' EXIT
  source target/servers/env
fi
EP=(--endpoint-url "$CITYFLOW_TEST_S3_ENDPOINT")
curl -sf "$CITYFLOW_TEST_S3_ENDPOINT/healthz" >/dev/null
export AWS_ACCESS_KEY_ID=$CITYFLOW_TEST_S3_KEY AWS_SECRET_ACCESS_KEY=$CITYFLOW_TEST_S3_SECRET
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL_S3=$CITYFLOW_TEST_S3_ENDPOINT
RAW=target/release/raw

echo "bench: generating ${BIG_MB} MB and ${SMALL_FILES} small files in $work" >&2
mkdir -p "$work/big" "$work/small"
head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom > "$work/big/dump.bin"
python3 - "$work/small" "$SMALL_FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
for i in range(n):
    d = os.path.join(root, "api", f"source{i % 10}", f"dt=2025-11-{i % 28 + 1:02d}", f"hour={i % 24:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"stream-data-{i:06d}.json"), "wb") as f:
        f.write(rnd.randbytes(rnd.randint(1024, 8192)))
PY
big_bytes=$(stat -c %s "$work/big/dump.bin")
small_bytes=$(find "$work/small" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
"$AWS" "${EP[@]}" s3 mb "s3://$B" >/dev/null
"$AWS" "${EP[@]}" s3 mb "s3://$B-cli" >/dev/null
sync

REPEAT="${REPEAT:-2}"
declare -A T
timed() { # name, command... ; wall seconds into T[name] (the best run kept), peak RSS (KB) into T[name.rss]
  local name=$1; shift
  local a b t
  a=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$work/rss" "$@" > "$work/$name.out" 2> "$work/$name.err" || {
    echo "bench: $name failed:" >&2; tail -5 "$work/$name.err" >&2; exit 1; }
  b=$(date +%s.%N)
  t=$(python3 -c "print($b - $a)")
  if [ -z "${T[$name]:-}" ] || python3 -c "import sys; sys.exit(0 if $t < ${T[$name]} else 1)"; then
    T[$name]=$t
  fi
  T[$name.rss]=$(tail -1 "$work/rss")
}
drop() { rm -rf "$work/down"; mkdir -p "$work/down"; sync; }

# Each transfer $REPEAT times into a fresh destination (the server and the other users of the
# machine make single runs noisy); the best time is kept.
for r in $(seq 1 "$REPEAT"); do
  # One big file.
  timed push_big   $RAW push "$work/big/dump.bin" --bucket "$B" --root "" --to "big$r" --no-progress --json
  timed cli_up_big "$AWS" "${EP[@]}" s3 cp --only-show-errors "$work/big/dump.bin" "s3://$B-cli/big$r/dump.bin"
  drop
  timed pull_big   $RAW pull --raw "$work/down/ours" --bucket "$B" --prefix "raw/big$r" --no-progress --json
  timed cli_dn_big "$AWS" "${EP[@]}" s3 cp --only-show-errors "s3://$B-cli/big$r/dump.bin" "$work/down/cli/dump.bin"
  cmp "$work/big/dump.bin" "$work/down/ours/dump.bin"
  cmp "$work/big/dump.bin" "$work/down/cli/dump.bin"
  # Unchanged re-runs (ours hashes the file; the CLI compares sizes and dates).
  timed push_big_again $RAW push "$work/big/dump.bin" --bucket "$B" --root "" --to "big$r" --no-progress --json
  timed pull_big_again $RAW pull --raw "$work/down/ours" --bucket "$B" --prefix "raw/big$r" --no-progress --json
  timed cli_sync_big_again "$AWS" "${EP[@]}" s3 sync --only-show-errors "$work/big" "s3://$B-cli/big$r"
  drop
  # Many small files.
  timed push_small   $RAW push "$work/small" --bucket "$B" --root "" --to "small$r" --no-progress --json
  timed cli_up_small "$AWS" "${EP[@]}" s3 sync --only-show-errors "$work/small" "s3://$B-cli/small$r"
  timed pull_small   $RAW pull --raw "$work/down/ours" --bucket "$B" --prefix "raw/small$r" --no-progress --json
  timed cli_dn_small "$AWS" "${EP[@]}" s3 sync --only-show-errors "s3://$B-cli/small$r" "$work/down/cli"
  diff -r -x '.cityflow-*' "$work/small" "$work/down/ours" >/dev/null
  diff -r "$work/small" "$work/down/cli" >/dev/null
  timed push_small_again $RAW push "$work/small" --bucket "$B" --root "" --to "small$r" --no-progress --json
  timed pull_small_again $RAW pull --raw "$work/down/ours" --bucket "$B" --prefix "raw/small$r" --no-progress --json
  timed cli_up_small_again "$AWS" "${EP[@]}" s3 sync --only-show-errors "$work/small" "s3://$B-cli/small$r"
  timed cli_dn_small_again "$AWS" "${EP[@]}" s3 sync --only-show-errors "s3://$B-cli/small$r" "$work/down/cli"
  drop
done

for k in push_big pull_big push_small pull_small push_big_again pull_big_again push_small_again pull_small_again; do
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['exit_code']==0 and s['failed']==0, s['messages']; print(sys.argv[2], s['transferred'], s['bytes_transferred'], file=sys.stderr)" "$work/$k.out" "$k"
done

python3 - "$big_bytes" "$small_bytes" "$SMALL_FILES" \
  "${T[push_big]}" "${T[cli_up_big]}" "${T[pull_big]}" "${T[cli_dn_big]}" \
  "${T[push_small]}" "${T[cli_up_small]}" "${T[pull_small]}" "${T[cli_dn_small]}" \
  "${T[push_big_again]}" "${T[cli_sync_big_again]}" "${T[pull_big_again]}" \
  "${T[push_small_again]}" "${T[cli_up_small_again]}" "${T[pull_small_again]}" "${T[cli_dn_small_again]}" \
  "${T[push_big.rss]}" "${T[pull_big.rss]}" "${T[push_small.rss]}" "${T[pull_small.rss]}" "${T[cli_up_big.rss]}" "${T[cli_dn_big.rss]}" <<'PY'
import sys
a = sys.argv[1:]
big, small, n = int(a[0]), int(a[1]), int(a[2])
t = [float(x) for x in a[3:18]]
rss = [int(x) / 1024 for x in a[18:]]
print("| transfer | data | cityflow s | AWS CLI s | cityflow MB/s | AWS CLI MB/s | cityflow objects/s | AWS CLI objects/s | ratio |")
print("|---|---|---|---|---|---|---|---|---|")
def row(label, data, objs, ours, cli):
    print(f"| {label} | {data} | {ours:.2f} | {cli:.2f} | {data_b[data]/1e6/ours:.1f} | {data_b[data]/1e6/cli:.1f} | {objs/ours:.1f} | {objs/cli:.1f} | {cli/ours:.2f} |")
data_b = {f"1 x {big/1e9:.2f} GB": big, f"{n} files, {small/1e6:.1f} MB": small}
B, S = list(data_b)
row("push (upload), one big file", B, 1, t[0], t[1])
row("pull (download), one big file", B, 1, t[2], t[3])
row("push (upload), small files", S, n, t[4], t[5])
row("pull (download), small files", S, n, t[6], t[7])
print()
print("| unchanged re-run | cityflow s | AWS CLI s |")
print("|---|---|---|")
print(f"| push, big file (cityflow re-hashes it; the CLI `sync` compares size and date) | {t[8]:.2f} | {t[9]:.2f} |")
print(f"| pull, big file | {t[10]:.2f} | - |")
print(f"| push, small files | {t[11]:.2f} | {t[12]:.2f} |")
print(f"| pull, small files | {t[13]:.2f} | {t[14]:.2f} |")
print()
print(f"peak RSS MB: cityflow push big {rss[0]:.0f}, pull big {rss[1]:.0f}, push small {rss[2]:.0f}, pull small {rss[3]:.0f}; AWS CLI up big {rss[4]:.0f}, down big {rss[5]:.0f}")
PY
