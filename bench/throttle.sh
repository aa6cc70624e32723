#!/usr/bin/env bash
# bench/throttle.sh — throttle accuracy under a steady overload, and what a throttle decision
# costs, against tollgate on 127.0.0.1:18085 (mock integrations, metering off, one worker).
#
#   bench/throttle.sh                     # RATE=200 BURST=20 OVERLOAD=2 DURATION=10
#   RATE=500 DURATION=20 bench/throttle.sh
#
# Environment: RATE, BURST, OVERLOAD, DURATION, THREADS (open-loop senders), CONNS and
# COST_SECONDS and ROUNDS (closed-loop latency comparison), WORKERS (tollgate --workers, 1),
# TOLLGATE_BIN (target/release/tollgate; built if missing), SKIP_BUILD=1.
# Prints bench/throttle.py's JSON on stdout. Everything it starts is stopped on exit.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
RATE=${RATE:-200}
BURST=${BURST:-20}
WORKERS=${WORKERS:-1}
PORT=18085
TOLLGATE_BIN=${TOLLGATE_BIN:-$ROOT/target/release/tollgate}
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  (cd "$ROOT" && cargo build --release -p tollgate) >&2
fi
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-throttle.XXXXXX")
pid=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
cat >"$RUN_DIR/gateway.yaml" <<YAML
listeners: [{name: main, address: "127.0.0.1:$PORT"}]
admin: {address: "127.0.0.1:0"}
metering: {enabled: false}
apis:
  - name: throttle-bench
    stages:
      - name: \$default
        route_throttle:
          "GET /limited": {rate: $RATE, burst: $BURST}
          "GET /roomy": {rate: 1000000, burst: 1000000}
    routes:
      - {key: "GET /limited", integration: ok}
      - {key: "GET /roomy", integration: ok}
      - {key: "GET /open", integration: ok}
    integrations:
      ok: {type: mock, status: 200, body: "ok"}
YAML
"$TOLLGATE_BIN" serve --config "$RUN_DIR/gateway.yaml" --workers "$WORKERS" 2>"$RUN_DIR/tollgate.err" &
pid=$!
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/open" && break
  sleep 0.1
done
echo "tollgate $(cd "$ROOT" && git rev-parse --short HEAD) --workers $WORKERS; rate $RATE burst $BURST" >&2
PORT=$PORT RATE=$RATE BURST=$BURST python3 "$BENCH_DIR/throttle.py"
