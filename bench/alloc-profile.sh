#!/usr/bin/env bash
# Heap allocations per proxied request, counted by valgrind's DHAT.
#
#   bench/alloc-profile.sh            # REQUESTS=2000 by default
#
# tollgate is built with the system allocator (`--no-default-features`: DHAT sees malloc, not
# mimalloc) into target/sysalloc, started from bench/gateway.yaml (proxy, access log and
# metrics on) under DHAT, sent REQUESTS keep-alive requests by one curl process, and stopped
# with SIGTERM. Two runs, with 100 and with 100 + REQUESTS requests, cancel out start-up and
# shutdown: allocations per request = (blocks₂ − blocks₁) / REQUESTS.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-2000}
BASE=100
OUT=bench/out
mkdir -p "$OUT"

command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
command -v nginx >/dev/null || bench/install.sh

TARGET_DIR=${SYSALLOC_TARGET_DIR:-target/sysalloc}
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release -p tollgate --no-default-features >&2
BIN=$TARGET_DIR/release/tollgate

tmp=$(mktemp -d /tmp/tollgate-alloc.XXXXXX)
cleanup() {
  [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/nginx.conf" <<EOF
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:19001; location / { return 200 "hello\n"; } }
}
EOF
nginx -p "$tmp" -c "$tmp/nginx.conf"

blocks_for() {
  local n=$1 log="$tmp/dhat-$1.log"
  valgrind --tool=dhat --dhat-out-file="$OUT/dhat-$n.json" --log-file="$log" \
    "$BIN" serve --config bench/gateway.yaml --workers 1 2>"$tmp/tollgate-$n.err" &
  local pid=$!
  for _ in $(seq 1 300); do
    curl -s -o /dev/null http://127.0.0.1:18080/ready && break
    sleep 0.1
  done
  curl -s -o /dev/null "http://127.0.0.1:18080/r?[1-$n]"
  kill -TERM "$pid"
  wait "$pid" || true
  # "Total:     1,234 bytes in 56 blocks"
  grep -E 'Total:' "$log" | head -1 | sed -E 's/.* in ([0-9,]+) blocks.*/\1/' | tr -d ,
}

b1=$(blocks_for "$BASE")
b2=$(blocks_for "$((BASE + REQUESTS))")
per=$(awk -v a="$b1" -v b="$b2" -v n="$REQUESTS" 'BEGIN { printf "%.1f", (b - a) / n }')
echo "DHAT blocks: $b1 with $BASE requests, $b2 with $((BASE + REQUESTS)) requests"
echo "allocations per proxied request: $per"
