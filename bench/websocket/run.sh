#!/usr/bin/env bash
# bench/websocket/run.sh — tollgate's WebSocket targets (issue 4), one run, all on 127.0.0.1.
#
#   1. idle:  RSS of the tollgate process (VmRSS) before, while holding IDLE_CONNECTIONS idle
#             WebSocket connections, and after closing them: KB per connection (target ≤ 10).
#   2. flood: messages/s through the `echo` route of examples/websocket.yaml (mock integration
#             with a route response, metering on) at each size in SIZES, for each tollgate
#             worker count in WORKERS; then the ledger is checked against what the client did.
#
# tollgate runs from a temp dir with a copy of examples/websocket.yaml whose ledger
# (metering.store) points into that dir; nothing else in the example is changed (access log
# off, connections_per_second 500 — the client paces its connection attempts below that).
#
# Environment (all optional):
#   PARTS="idle flood"        what to measure
#   IDLE_CONNECTIONS=20000    idle connections (capped by `ulimit -n` minus 64; see the output)
#   HOLD_SECONDS=10           how long they are held after the last one opened
#   CONNECT_RATE=450          client connection attempts per second (the API allows 500/s)
#   IDLE_WORKERS=2            tollgate --workers during the idle part
#   WORKERS="1 2"             tollgate --workers, one flood round each
#   SIZES="1024 32768 102400" message sizes in bytes (the whole JSON message)
#   DURATION=10               measured seconds per flood run (after WARMUP seconds)
#   WARMUP=2
#   FLOOD_CONNECTIONS=16      connections per flood run
#   PIPELINE=8                messages in flight per connection
#   CLIENT_THREADS=1          wsload's tokio worker threads
#   TOLLGATE_BIN=target/release/tollgate   SKIP_BUILD=0 (1: do not run cargo build)
#   KEEP=0                    1: keep the temp dir (config, server log, ledger)
#
# stdout: the results (markdown); stderr: progress. A copy goes to
# bench/websocket/out/results-<UTC timestamp>.md. Everything started here is stopped on exit.
set -euo pipefail

WS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$WS_DIR/../.." && pwd)

PARTS=${PARTS:-"idle flood"}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-20000}
HOLD_SECONDS=${HOLD_SECONDS:-10}
CONNECT_RATE=${CONNECT_RATE:-450}
IDLE_WORKERS=${IDLE_WORKERS:-2}
WORKERS=${WORKERS:-"1 2"}
SIZES=${SIZES:-"1024 32768 102400"}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
FLOOD_CONNECTIONS=${FLOOD_CONNECTIONS:-16}
PIPELINE=${PIPELINE:-8}
CLIENT_THREADS=${CLIENT_THREADS:-1}
TOLLGATE_BIN=${TOLLGATE_BIN:-$ROOT/target/release/tollgate}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP=${KEEP:-0}

readonly WS_URL=ws://127.0.0.1:18081/prod ADMIN=http://127.0.0.1:19181
readonly WSLOAD_TARGET=$WS_DIR/target
readonly WSLOAD=$WSLOAD_TARGET/release/wsload

log() { printf '[ws-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  printf '\n[ws-bench] ERROR: %s\n\n' "$*" >&2
  exit 1
}

TMP=$(mktemp -d /tmp/tollgate-ws-bench.XXXXXX)
SERVER_PID=
CLIENT_PID=
cleanup() {
  local rc=$?
  [[ -n $CLIENT_PID ]] && kill -TERM "$CLIENT_PID" 2>/dev/null || true
  stop_server || true
  if [[ $KEEP == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------------ build
if [[ $SKIP_BUILD != 1 ]]; then
  log "cargo build --release -p tollgate"
  (cd "$ROOT" && cargo build --release -p tollgate) >&2
  log "building wsload"
  (cd "$WS_DIR/wsload" && CARGO_TARGET_DIR=$WSLOAD_TARGET cargo build --release) >&2
fi
[[ -x $TOLLGATE_BIN ]] || die "no tollgate binary at $TOLLGATE_BIN"
[[ -x $WSLOAD ]] || die "no wsload at $WSLOAD (run without SKIP_BUILD=1)"

# ------------------------------------------------------------------------------ fd limit
if ! ulimit -n 50000 2>/dev/null; then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
NOFILE=$(ulimit -n)
FD_NOTE="ulimit -n = $NOFILE"
if ((NOFILE < 50000)); then
  FD_NOTE="ulimit -n could not be raised to 50000 (hard limit $(ulimit -Hn)); it is $NOFILE"
  log "$FD_NOTE"
fi
HELD=$IDLE_CONNECTIONS
if ((HELD > NOFILE - 64)); then
  HELD=$((NOFILE - 64))
  log "holding $HELD idle connections, not $IDLE_CONNECTIONS: each side needs one descriptor per connection plus its own"
fi

for port in 18081 19181; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is in use"; fi
done

# ------------------------------------------------------------------------------ server
sed -e "s#sqlite://tollgate-websocket.db#sqlite://$TMP/ledger.db#" \
  "$ROOT/examples/websocket.yaml" >"$TMP/websocket.yaml"
grep -q "sqlite://$TMP/ledger.db" "$TMP/websocket.yaml" || die "could not point the ledger into $TMP"

start_server() { # workers ledger-name
  local workers=$1 ledger=$2
  sed -i -e "s#sqlite://$TMP/[a-z0-9-]*\.db#sqlite://$TMP/$ledger.db#" "$TMP/websocket.yaml"
  (cd "$TMP" && exec "$TOLLGATE_BIN" serve --config "$TMP/websocket.yaml" --workers "$workers") \
    >>"$TMP/server.log" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 1 100); do
    if curl -sf -o /dev/null "$ADMIN/admin/health"; then
      log "tollgate --workers $workers up (pid $SERVER_PID, ledger $TMP/$ledger.db)"
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || die "tollgate exited: $(tail -5 "$TMP/server.log")"
    sleep 0.2
  done
  die "tollgate did not answer on $ADMIN within 20 s"
}

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    log "tollgate did not stop within 10 s: SIGKILL"
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }
metric() { # name -> value of the chat/prod series
  curl -sf "$ADMIN/metrics" | awk -v m="$1" '$1 ~ "^"m"\\{" && /stage="prod"/ {print $2; exit}'
}
field() { # key RESULT-line
  sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"
}

OUT=()
emit() { OUT+=("$*"); }

# ------------------------------------------------------------------------------ machine
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
emit "- Machine: $(nproc) CPUs ($CPU_MODEL), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
emit "- tollgate: $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- crates || echo ' + uncommitted changes in crates/'), \`cargo build --release -p tollgate\`; $(rustc --version)"
emit "- Load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $FD_NOTE"
emit ""

# ------------------------------------------------------------------------------ idle
if [[ " $PARTS " == *" idle "* ]]; then
  start_server "$IDLE_WORKERS" ledger-idle
  # Warm the server up (runtime, route slots, meter shards) so the baseline includes them.
  "$WSLOAD" flood --url "$WS_URL" --connections 8 --seconds 1 --warmup 0 --size 1024 \
    --pipeline 4 >/dev/null 2>&1 || true
  sleep 2
  rss0=$(rss_kb)
  log "idle: RSS before $rss0 KB; opening $HELD connections at $CONNECT_RATE/s"
  "$WSLOAD" idle --url "$WS_URL" --connections "$HELD" --rate "$CONNECT_RATE" \
    --hold-seconds "$HOLD_SECONDS" --connect-timeout $((HELD / CONNECT_RATE + 60)) \
    >"$TMP/idle.out" 2>"$TMP/idle.err" &
  CLIENT_PID=$!
  deadline=$((SECONDS + HELD / CONNECT_RATE + 90))
  until grep -q '^OPENED' "$TMP/idle.out"; do
    ((SECONDS < deadline)) || die "wsload idle did not finish opening: $(tail -3 "$TMP/idle.err")"
    kill -0 "$CLIENT_PID" 2>/dev/null || die "wsload idle exited: $(tail -3 "$TMP/idle.err")"
    sleep 1
  done
  sleep 3
  rss1=$(rss_kb)
  open_gauge=$(metric tollgate_websocket_connections)
  threads=$(ls "/proc/$SERVER_PID/task" | wc -l)
  log "idle: $(head -1 "$TMP/idle.out"); RSS $rss1 KB; gateway gauge $open_gauge"
  wait "$CLIENT_PID" || log "wsload idle exited with $?"
  CLIENT_PID=
  idle_result=$(grep '^RESULT' "$TMP/idle.out" || true)
  for i in $(seq 1 60); do
    [[ $(metric tollgate_websocket_connections) == 0 ]] && break
    sleep 1
  done
  sleep 3
  rss2=$(rss_kb)
  opened=$(field opened "$idle_result")
  per=$(awk -v a="$rss0" -v b="$rss1" -v n="$opened" 'BEGIN { printf "%.2f", (b - a) / n }')
  emit "#### Idle connections (tollgate \`--workers $IDLE_WORKERS\`, $HELD requested, held ${HOLD_SECONDS} s)"
  emit ""
  emit "| connections opened | failed | gateway gauge while held | RSS before KB | RSS held KB | RSS after close KB | KB per connection (held − before) / opened | echo check after hold |"
  emit "|--:|--:|--:|--:|--:|--:|--:|--:|"
  emit "| $opened | $(field failed "$idle_result") | $open_gauge | $rss0 | $rss1 | $rss2 | **$per** | $(field alive "$idle_result")/$(field checked "$idle_result") answered |"
  emit ""
  emit "RSS is the tollgate process's VmRSS (/proc/PID/status, $threads threads): the kernel's per-socket memory (socket buffers, TCP state) is not in it. Open errors: $(field errors "$idle_result"); closes: $(field closed_clean "$idle_result") clean, $(field closed_unclean "$idle_result") not."
  emit ""
  stop_server
fi

# ------------------------------------------------------------------------------ flood
units() { # size -> 32 KB units of one message
  echo $((($1 + 32767) / 32768))
}
if [[ " $PARTS " == *" flood "* ]]; then
  emit "#### Throughput: \`echo\` route (mock integration + route response), metering on"
  emit ""
  emit "wsload flood, $FLOOD_CONNECTIONS connections × $PIPELINE messages in flight, $WARMUP s warm-up + $DURATION s measured per row, client $CLIENT_THREADS tokio worker thread(s). Cores = CPU time / wall time over the measured window (from /proc/PID/stat and /proc/stat; 1.00 = one core, the machine has $(nproc))."
  emit ""
  emit "| workers | size B | frames/msg | replies/s | sent/s | p50 ms | p99 ms | max ms | wrong / unanswered / errors | cores tollgate / wsload / other |"
  emit "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  LEDGER_ROWS=()
  for w in $WORKERS; do
    start_server "$w" "ledger-w$w"
    exp_msgs=0
    exp_units=0
    for size in $SIZES; do
      log "flood: --workers $w, $size B"
      set +e
      timeout $((DURATION + WARMUP + 120)) "$WSLOAD" flood --url "$WS_URL" \
        --connections "$FLOOD_CONNECTIONS" --pipeline "$PIPELINE" --size "$size" \
        --seconds "$DURATION" --warmup "$WARMUP" --threads "$CLIENT_THREADS" \
        --server-pid "$SERVER_PID" >"$TMP/flood-$w-$size.out" 2>"$TMP/flood-$w-$size.err"
      rc=$?
      set -e
      r=$(grep '^RESULT' "$TMP/flood-$w-$size.out" || true)
      [[ -n $r ]] || die "wsload flood failed (rc $rc): $(tail -3 "$TMP/flood-$w-$size.err")"
      log "$r"
      st=$(field sent_total "$r")
      rt=$(field recv_total "$r")
      exp_msgs=$((exp_msgs + st + rt))
      exp_units=$((exp_units + (st + rt) * $(units "$size")))
      emit "| $w | $size | $(field frames "$r") | $(field recv_per_s "$r") | $(field sent_per_s "$r") | $(field p50_ms "$r") | $(field p99_ms "$r") | $(field max_ms "$r") | $(field wrong "$r") / $(field unanswered "$r") / $(field conn_errors "$r") | $(field server_cores "$r") / $(field client_cores "$r") / $(field other_cores "$r") |"
    done
    gauge_msgs=$(metric tollgate_websocket_messages_total)
    stop_server
    report=$("$TOLLGATE_BIN" cost report --store "sqlite://$TMP/ledger-w$w.db" --by route --format json)
    ledger_units=$(python3 -c '
import json, sys
r = json.load(sys.stdin)
print(sum(float(x["billable_units"]) + float(x["non_billable_units"]) for x in r["rows"]
          if x["meter"] == "websocket_messages" and x.get("route") == "echo"))' <<<"$report")
    LEDGER_ROWS+=("| $w | $exp_msgs | $gauge_msgs | $exp_units | ${ledger_units%.0} |")
  done
  emit ""
  emit "Ledger check (after SIGTERM, which flushes the meter): \`tollgate cost report --store sqlite://… --by route --format json\`, \`websocket_messages\` units of route \`echo\`; expected = Σ (sent + received) × ⌈size / 32 KB⌉ over the rows of that worker count (both directions are metered)."
  emit ""
  emit "| workers | messages sent + received (client) | tollgate_websocket_messages_total | expected 32 KB units | ledger units (route echo) |"
  emit "|--:|--:|--:|--:|--:|"
  for row in "${LEDGER_ROWS[@]}"; do emit "$row"; done
  emit ""
fi

mkdir -p "$WS_DIR/out"
RESULTS=$WS_DIR/out/results-$(date -u +%Y%m%dT%H%M%SZ).md
printf '%s\n' "${OUT[@]}" | tee "$RESULTS"
log "results in $RESULTS"
