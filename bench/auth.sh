#!/usr/bin/env bash
# bench/auth.sh — what a JWT authorizer costs: requests/s and p99 of GET /private (EdDSA JWT,
# keys cached) against GET /open (no authorizer), same tollgate, same run, interleaved.
# Both routes answer from a mock integration, so the authorizer's share is as large as it can
# be (a proxied request costs more, making the ratio better). Tokens come from
# examples/mint-token.sh; the JWKS is served by a second API in the same configuration.
#
#   bench/auth.sh                         # ROUNDS=5 DURATION=8s WORKERS=1
#
# OPEN_WITH_TOKEN=1 sends the same Authorization header to GET /open too (which ignores it),
# so both sides parse the same request and the difference is the authorizer alone.
#
# Environment: ROUNDS, DURATION, WARMUP (2s), CONNECTIONS (64), THREADS (2), WORKERS,
# TOLLGATE_BIN (target/release/tollgate), SKIP_BUILD=1. Needs wrk, curl, openssl.
# Prints a markdown table on stdout. Everything it starts is stopped on exit.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-1}
PORT=18086
IDP_PORT=18087
TOLLGATE_BIN=${TOLLGATE_BIN:-$ROOT/target/release/tollgate}
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  (cd "$ROOT" && cargo build --release -p tollgate) >&2
fi
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-auth-bench.XXXXXX")
pid=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
# The demo key's public half, as in examples/auth.yaml.
X=$(grep -o '"x":"[^"]*"' "$ROOT/examples/auth.yaml" | head -1 | cut -d'"' -f4)
cat >"$RUN_DIR/gateway.yaml" <<YAML
listeners:
  - {name: main, address: "127.0.0.1:$PORT"}
  - {name: idp, address: "127.0.0.1:$IDP_PORT"}
admin: {address: "127.0.0.1:0"}
metering: {store: "sqlite://$RUN_DIR/tollgate.db"}
apis:
  - name: bench
    listener: main
    authorizers:
      idp:
        type: jwt
        issuer: "http://127.0.0.1:$IDP_PORT"
        audience: [tollgate-demo]
        jwks_uri: "http://127.0.0.1:$IDP_PORT/jwks"
    routes:
      - {key: "GET /open", integration: ok}
      - {key: "GET /private", integration: ok, authorizer: idp, authorization_scopes: [read]}
    integrations:
      ok: {type: mock, status: 200, body: "hello\n"}
  - name: idp
    listener: idp
    routes: [{key: "GET /jwks", integration: jwks}]
    integrations:
      jwks:
        type: mock
        status: 200
        body: '{"keys":[{"kty":"OKP","crv":"Ed25519","use":"sig","kid":"demo-1","x":"$X"}]}'
YAML
"$TOLLGATE_BIN" serve --config "$RUN_DIR/gateway.yaml" --workers "$WORKERS" 2>"$RUN_DIR/tollgate.err" >/dev/null &
pid=$!
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/open" && break
  sleep 0.1
done
TOKEN=$(ISSUER="http://127.0.0.1:$IDP_PORT" "$ROOT/examples/mint-token.sh" bench read 86400)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/private")
[[ $code == 200 ]] || { echo "GET /private with the token answered $code" >&2; cat "$RUN_DIR/tollgate.err" >&2; exit 1; }

# wrk's summary: requests/s and the 99th percentile in ms.
measure() {
  local path=$1 out
  local -a auth=()
  if [[ $path == /private || ${OPEN_WITH_TOKEN:-0} == 1 ]]; then
    auth=(-H "Authorization: Bearer $TOKEN")
  fi
  wrk -t "$THREADS" -c "$CONNECTIONS" -d "$WARMUP" "${auth[@]}" "http://127.0.0.1:$PORT$path" >/dev/null
  out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency "${auth[@]}" "http://127.0.0.1:$PORT$path")
  if grep -q "Non-2xx" <<<"$out"; then echo "non-2xx answers on $path" >&2; echo "$out" >&2; exit 1; fi
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v*=1000}; print v}' <<<"$out")
  echo "$rps $p99"
}

echo "tollgate $(cd "$ROOT" && git rev-parse --short HEAD), --workers $WORKERS, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, OPEN_WITH_TOKEN=${OPEN_WITH_TOKEN:-0}" >&2
echo "| round | open req/s | private (JWT) req/s | ratio | open p99 ms | private p99 ms |"
echo "|--:|--:|--:|--:|--:|--:|"
ratios=()
for r in $(seq "$ROUNDS"); do
  if ((r % 2)); then
    read -r o_rps o_p99 < <(measure /open); read -r p_rps p_p99 < <(measure /private)
  else
    read -r p_rps p_p99 < <(measure /private); read -r o_rps o_p99 < <(measure /open)
  fi
  ratio=$(awk -v a="$p_rps" -v b="$o_rps" 'BEGIN {printf "%.3f", a / b}')
  ratios+=("$ratio")
  echo "| $r | $o_rps | $p_rps | $ratio | $o_p99 | $p_p99 |"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
echo
echo "Median req/s ratio, JWT-authorized / unauthenticated: **$median** (target ≥ 0.90)."
