#!/usr/bin/env bash
# bench/run.sh — tollgate vs nginx vs haproxy, one run, all on 127.0.0.1.
#
# For each worker count in $WORKERS it measures, one after the other and for the same duration,
# requests/s and p50/p99 latency with wrk against:
#   upstream  the tiny upstream directly        127.0.0.1:19001  (separate nginx, 1 worker)
#   nginx     nginx proxying to the upstream    127.0.0.1:18081  (worker_processes N)
#   haproxy   haproxy proxying to the upstream  127.0.0.1:18082  (nbthread N)
#   tollgate  tollgate proxying to the upstream 127.0.0.1:18080  (serve --workers N, bench/gateway.yaml)
#   tollgate-nometer  the same binary and config with metering off     127.0.0.1:18080
#             (bench/gateway.yaml with its `metering:` block replaced by `metering: {enabled: false}`,
#             generated into the temp dir; compare it with `tollgate` for the cost of metering)
#
# Environment (all optional):
#   DURATION=15s          wrk duration of each measured run
#   WARMUP=3s             wrk warm-up before each measured run (not recorded)
#   CONNECTIONS=64        wrk connections (-c)
#   THREADS=2             wrk threads (-t); the reference box has 2 cores
#   WORKERS="1 2"         proxy worker processes/threads, one round per value
#   TARGETS="upstream nginx haproxy tollgate tollgate-nometer"   which targets to measure, in this order
#   BENCH_PATH=/hello     request path (every target answers 200 "hello\n" for any path)
#   NGINX_LOG=buffered    nginx access log: buffered (64k buffer, 1s flush) | off
#   HAPROXY_LOG=devnull   haproxy access log: devnull | file | ring | off   (see bench/README.md)
#   UPSTREAM_WORKERS=1    worker processes of the upstream nginx
#   TOLLGATE_BIN=target/release/tollgate
#   SKIP_BUILD=0          1: never run cargo build, use the binary as it is
#   WAIT_IDLE=0           up to this many seconds to wait, before each measured run, until the CPU
#                         used by other processes drops below IDLE_PCT (shared build machines)
#   IDLE_PCT=20           "quiet" threshold, CPU % as in top (100 = one core)
#   KEEP_LOGS=0           1: keep the temp run dir, bench/out/tollgate-access.log and the ledger
#                         bench/out/tollgate.db* (of the last `tollgate` run; emptied before each start)
#
# stdout: the results (markdown). stderr: progress. A copy of the results goes to
# bench/out/results-<UTC timestamp>.md. Everything started here is stopped on exit.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-3s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-"1 2"}
TARGETS=${TARGETS:-"upstream nginx haproxy tollgate tollgate-nometer"}
BENCH_PATH=${BENCH_PATH:-/hello}
HAPROXY_LOG=${HAPROXY_LOG:-devnull}
NGINX_LOG=${NGINX_LOG:-buffered}
UPSTREAM_WORKERS=${UPSTREAM_WORKERS:-1}
TOLLGATE_BIN=${TOLLGATE_BIN:-$ROOT/target/release/tollgate}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_LOGS=${KEEP_LOGS:-0}
WAIT_IDLE=${WAIT_IDLE:-0}
IDLE_PCT=${IDLE_PCT:-20}

# Fixed by the contract (bench/gateway.yaml hard-codes the tollgate ones).
readonly UPSTREAM_PORT=19001 TOLLGATE_PORT=18080 NGINX_PORT=18081 HAPROXY_PORT=18082 TOLLGATE_ADMIN_PORT=19180
readonly HOST=127.0.0.1
readonly TOLLGATE_CONFIG=bench/gateway.yaml                # relative to $ROOT, tollgate runs from $ROOT
readonly TOLLGATE_ACCESS_LOG=$ROOT/bench/out/tollgate-access.log   # as set in bench/gateway.yaml
readonly TOLLGATE_LEDGER=$ROOT/bench/out/tollgate.db   # metering.store in bench/gateway.yaml (+ -wal, -shm, .spill)
readonly START_TIMEOUT=20   # seconds a server gets to answer its first request
readonly STOP_TIMEOUT=5     # seconds a server gets to exit after SIGTERM before SIGKILL

export PATH="$PATH:/usr/sbin:/sbin"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  printf '\n[bench] ERROR: %s\n\n' "$*" >&2
  FAILED=1
  exit 1
}

# ---------------------------------------------------------------- argument checks
to_seconds() { # 15s | 2m | 15 -> seconds
  local v=$1
  case $v in
    *s) v=${v%s} ;;
    *m) v=$((${v%m} * 60)) ;;
    *h) v=$((${v%h} * 3600)) ;;
  esac
  [[ $v =~ ^[0-9]+$ ]] || die "cannot parse duration '$1' (use e.g. 15s, 2m)"
  echo "$v"
}
DURATION_S=$(to_seconds "$DURATION")
WARMUP_S=$(to_seconds "$WARMUP")
[[ $CONNECTIONS =~ ^[0-9]+$ && $THREADS =~ ^[0-9]+$ ]] || die "CONNECTIONS and THREADS must be integers"
((THREADS <= CONNECTIONS)) || die "THREADS ($THREADS) must not exceed CONNECTIONS ($CONNECTIONS)"
for n in $WORKERS; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "WORKERS must be positive integers, got '$n'"; done
for t in $TARGETS; do
  case $t in
    upstream | nginx | haproxy | tollgate | tollgate-nometer) ;;
    *) die "unknown target '$t' (upstream nginx haproxy tollgate tollgate-nometer)" ;;
  esac
done
case $HAPROXY_LOG in devnull | file | ring | off) ;; *) die "HAPROXY_LOG must be devnull, file, ring or off" ;; esac
case $NGINX_LOG in buffered | off) ;; *) die "NGINX_LOG must be buffered or off" ;; esac
[[ $BENCH_PATH == /* ]] || die "BENCH_PATH must start with /"
[[ $WAIT_IDLE =~ ^[0-9]+$ && $IDLE_PCT =~ ^[0-9]+$ ]] || die "WAIT_IDLE and IDLE_PCT must be integers"

wants() { [[ " $TARGETS " == *" $1 "* ]]; }
wants_tollgate_binary() { wants tollgate || wants tollgate-nometer; }

# ---------------------------------------------------------------- process bookkeeping
FAILED=0
PIDS=()          # process-group leaders we started (setsid), stopped in reverse order
declare -A PNAME # pid -> name
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench.XXXXXX")

# start_bg NAME CMD... — run CMD in its own session/process group, output to $RUN_DIR/NAME.out.
# Sets STARTED_PID.
start_bg() {
  local name=$1
  shift
  setsid "$@" >"$RUN_DIR/$name.out" 2>&1 </dev/null &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  PNAME[$STARTED_PID]=$name
}

# stop_pid PID — SIGTERM its process group, wait up to STOP_TIMEOUT s, then SIGKILL it.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 -- "-$pid" 2>/dev/null; then
    log "${PNAME[$pid]:-pid $pid} did not stop within ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  if [[ -n ${WRK_PID:-} ]]; then
    kill -TERM "$WRK_PID" 2>/dev/null || true # timeout passes it on to wrk
    wait "$WRK_PID" 2>/dev/null || true
  fi
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if ((rc != 0 || FAILED)); then
    log "failed; configs and server logs kept in $RUN_DIR"
  elif [[ $KEEP_LOGS == 1 ]]; then
    log "run dir kept: $RUN_DIR"
  else
    rm -rf "$RUN_DIR"
    rm -f "$TOLLGATE_ACCESS_LOG" "$TOLLGATE_LEDGER"*
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- tools, build
need_install=0
for cmd in wrk nginx haproxy curl; do command -v "$cmd" >/dev/null 2>&1 || need_install=1; done
if ((need_install)); then
  log "some tools are missing, running bench/install.sh"
  "$BENCH_DIR/install.sh" >&2
fi

if wants_tollgate_binary && [[ $SKIP_BUILD != 1 ]]; then
  stale=0
  if [[ ! -x $TOLLGATE_BIN ]]; then
    stale=1
  elif [[ -n $(find "$ROOT/crates" "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" -newer "$TOLLGATE_BIN" \
    \( -name '*.rs' -o -name 'Cargo.toml' -o -name 'Cargo.lock' -o -name '*.json' -o -name '*.yaml' \) \
    -print -quit 2>/dev/null) ]]; then
    stale=1
  fi
  if ((stale)); then
    log "building tollgate: cargo build --release -p tollgate (binary missing or older than sources)"
    (cd "$ROOT" && cargo build --release -p tollgate) >&2 ||
      die "cargo build --release -p tollgate failed; run with TARGETS=\"upstream nginx haproxy\" to bench the others"
  fi
fi
if wants_tollgate_binary; then
  [[ -x $TOLLGATE_BIN ]] || die "tollgate binary not found at $TOLLGATE_BIN"
fi

# ---------------------------------------------------------------- pre-flight: ports must be free
port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
for p in $UPSTREAM_PORT $TOLLGATE_PORT $NGINX_PORT $HAPROXY_PORT $TOLLGATE_ADMIN_PORT; do
  port_busy "$p" && die "port $HOST:$p is already in use; stop whatever listens there (ss -ltnp)"
done

# ---------------------------------------------------------------- configs
NGINX_TEMP_PATHS() { # $1 = dir; nginx wants writable temp dirs even if unused
  local d=$1
  mkdir -p "$d/tmp"
  cat <<EOF
    client_body_temp_path $d/tmp/body;
    proxy_temp_path       $d/tmp/proxy;
    fastcgi_temp_path     $d/tmp/fastcgi;
    uwsgi_temp_path       $d/tmp/uwsgi;
    scgi_temp_path        $d/tmp/scgi;
EOF
}

write_upstream_conf() {
  local d=$RUN_DIR/upstream
  mkdir -p "$d"
  cat >"$d/nginx.conf" <<EOF
# The tiny upstream: a separate nginx instance, not shared with any contestant.
daemon off;
worker_processes $UPSTREAM_WORKERS;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
$(NGINX_TEMP_PATHS "$d")
    access_log off;
    server_tokens off;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    default_type text/plain;
    server {
        listen $HOST:$UPSTREAM_PORT backlog=4096;
        location / { return 200 "hello\n"; }
    }
}
EOF
}

write_nginx_conf() { # $1 = workers
  local n=$1 d=$RUN_DIR/nginx-$1 access_log
  mkdir -p "$d"
  if [[ $NGINX_LOG == off ]]; then
    access_log="access_log off;"
  else
    access_log="access_log $d/access.log bench buffer=64k flush=1s;"
  fi
  cat >"$d/nginx.conf" <<EOF
# nginx as a reverse proxy: $n worker(s), keep-alive pool to the upstream, buffered access log.
daemon off;
worker_processes $n;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
$(NGINX_TEMP_PATHS "$d")
    server_tokens off;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    # Same fields as tollgate's bench access log (requestId, route, status, length, upstream time).
    log_format bench escape=json '{"requestId":"\$request_id","routeKey":"/","status":"\$status",'
                                 '"responseLength":"\$body_bytes_sent","integrationLatency":"\$upstream_response_time"}';
    $access_log
    upstream bench_upstream {
        server $HOST:$UPSTREAM_PORT;
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 75s;
    }
    server {
        listen $HOST:$NGINX_PORT reuseport backlog=4096;
        location / {
            proxy_pass http://bench_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
}

write_haproxy_conf() { # $1 = workers
  local n=$1 d=$RUN_DIR/haproxy-$1 logline
  mkdir -p "$d"
  case $HAPROXY_LOG in
    devnull | file) logline="    log stdout format raw local0" ;;
    ring) logline="    log ring@benchlog format raw local0" ;;
    off) logline="" ;;
  esac
  {
    cat <<EOF
# haproxy as a reverse proxy: $n thread(s), connection reuse to the upstream, access log: $HAPROXY_LOG.
global
    nbthread $n
    maxconn 4096
$logline
EOF
    if [[ $HAPROXY_LOG == ring ]]; then
      cat <<'EOF'

ring benchlog
    format raw
    maxlen 1024
    size 4194304
EOF
    fi
    cat <<EOF

defaults
    mode http
    log global
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 75s
    # Same fields as tollgate's bench access log (requestId, route, status, length, upstream time).
    unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid
    log-format '{"requestId":"%ID","routeKey":"/","status":"%ST","responseLength":"%B","integrationLatency":"%Tr"}'

frontend bench
    bind $HOST:$HAPROXY_PORT
    default_backend upstream

backend upstream
    server up $HOST:$UPSTREAM_PORT
EOF
  } >"$d/haproxy.cfg"
}

# The tollgate-nometer config: bench/gateway.yaml with its top-level `metering:` block (the key
# and every indented or blank line under it) replaced by `enabled: false`; every other line is
# copied verbatim, so the two configs cannot drift apart. Appended if gateway.yaml has no block.
TOLLGATE_NOMETER_CONFIG=$RUN_DIR/gateway-nometer.yaml
write_nometer_conf() {
  local src=$ROOT/$TOLLGATE_CONFIG blocks
  blocks=$(grep -c '^metering:' "$src" || true)
  ((blocks <= 1)) || die "$TOLLGATE_CONFIG has $blocks top-level 'metering:' keys; expected at most one"
  {
    echo "# Generated by bench/run.sh for the tollgate-nometer target: $TOLLGATE_CONFIG with metering off."
    awk '
      function off() { print "metering:"; print "  enabled: false   # tollgate-nometer: the only difference from gateway.yaml" }
      skip && /^[ \t]*$/ { blank = blank $0 "\n"; next }       # blank line: inside or after the block?
      skip && /^[ \t]/ { blank = ""; next }                     # indented: still the metering block
      skip { skip = 0; printf "%s", blank; blank = "" }          # next top-level line: block ended
      /^metering:/ { skip = 1; done = 1; off(); next }
      { print }
      END { if (!done) { print ""; off() } }
    ' "$src"
  } >"$TOLLGATE_NOMETER_CONFIG"
  if [[ $(grep -c '^metering:' "$TOLLGATE_NOMETER_CONFIG") != 1 ]] ||
    ! grep -q '^  enabled: false' "$TOLLGATE_NOMETER_CONFIG"; then
    die "could not generate $TOLLGATE_NOMETER_CONFIG from $TOLLGATE_CONFIG"
  fi
}

# ledger_sig — names, sizes and mtimes of the ledger files (bench/out/tollgate.db*, and the default
# ./tollgate.db* of the repository root): tollgate-nometer must leave them as they were.
ledger_sig() { stat -c '%n %s %Y' "$TOLLGATE_LEDGER"* "$ROOT"/tollgate.db* 2>/dev/null || true; }

# ledger_requests — requests metered into bench/out/tollgate.db (events of the http_requests
# meter), or "?" when the ledger cannot be read (no python3/sqlite3, no file, no table).
ledger_requests() {
  local q="select coalesce(sum(events), 0) from usage_minute where meter = 'http_requests'" v=''
  [[ -f $TOLLGATE_LEDGER ]] || { echo '?'; return 0; }
  if command -v python3 >/dev/null 2>&1; then
    v=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' \
      "$TOLLGATE_LEDGER" "$q" 2>/dev/null) || v=''
  elif command -v sqlite3 >/dev/null 2>&1; then
    v=$(sqlite3 "$TOLLGATE_LEDGER" "$q" 2>/dev/null) || v=''
  fi
  [[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo '?'
}

# ---------------------------------------------------------------- server control
# wait_ready NAME PID PORT — until GET BENCH_PATH answers, or fail with the server's output.
wait_ready() {
  local name=$1 pid=$2 port=$3 i
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited during start-up; its output:"
      tail -n 30 "$RUN_DIR/$name.out" >&2 || true
      die "$name did not start"
    fi
    curl -s -o /dev/null --max-time 1 "http://$HOST:$port$BENCH_PATH" && return 0
    sleep 0.1
  done
  tail -n 30 "$RUN_DIR/$name.out" >&2 || true
  die "$name did not answer on $HOST:$port within ${START_TIMEOUT}s"
}

# check_200 NAME URL — the target must answer 200 with the upstream's body, or we stop here.
check_200() {
  local name=$1 url=$2 code body
  code=$(curl -sS -o "$RUN_DIR/check.body" -w '%{http_code}' --max-time 5 "$url") ||
    die "$name: curl $url failed"
  body=$(cat "$RUN_DIR/check.body")
  [[ $code == 200 ]] || die "$name: GET $url answered $code, not 200 (body: ${body:0:200})"
  [[ $body == hello ]] || die "$name: GET $url answered 200 but not the upstream's body (got: ${body:0:200})"
  # A second, different path: every path must reach the upstream.
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "${url%/*}/some/other/path?q=1") ||
    die "$name: curl ${url%/*}/some/other/path failed"
  [[ $code == 200 ]] || die "$name: GET /some/other/path?q=1 answered $code, not 200"
}

UPSTREAM_PID=
start_upstream() {
  write_upstream_conf
  start_bg upstream nginx -p "$RUN_DIR/upstream/" -e "$RUN_DIR/upstream/error.log" -c "$RUN_DIR/upstream/nginx.conf"
  UPSTREAM_PID=$STARTED_PID
  wait_ready upstream "$UPSTREAM_PID" "$UPSTREAM_PORT"
}

# start_target TARGET N — start the contestant with N workers; sets TARGET_PID, TARGET_PORT, TARGET_LOG.
start_target() {
  local t=$1 n=$2 d
  TARGET_PID='' TARGET_LOG=''
  case $t in
    upstream)
      TARGET_PORT=$UPSTREAM_PORT
      return 0
      ;;
    nginx)
      write_nginx_conf "$n"
      d=$RUN_DIR/nginx-$n
      nginx -t -q -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" 2>&1 | sed 's/^/  nginx -t: /' >&2 || true
      start_bg "nginx-$n" nginx -p "$d/" -e "$d/error.log" -c "$d/nginx.conf"
      TARGET_PORT=$NGINX_PORT
      [[ $NGINX_LOG == off ]] || TARGET_LOG=$d/access.log
      ;;
    haproxy)
      write_haproxy_conf "$n"
      d=$RUN_DIR/haproxy-$n
      haproxy -c -q -f "$d/haproxy.cfg" >&2 || die "haproxy rejected $d/haproxy.cfg"
      if [[ $HAPROXY_LOG == file ]]; then
        # stdout is the access log (haproxy's "log stdout"); stderr keeps the server's messages.
        setsid haproxy -db -f "$d/haproxy.cfg" >"$d/access.log" 2>"$RUN_DIR/haproxy-$n.out" </dev/null &
        STARTED_PID=$!
        PIDS+=("$STARTED_PID")
        PNAME[$STARTED_PID]=haproxy-$n
        TARGET_LOG=$d/access.log
      elif [[ $HAPROXY_LOG == devnull ]]; then
        setsid haproxy -db -f "$d/haproxy.cfg" >/dev/null 2>"$RUN_DIR/haproxy-$n.out" </dev/null &
        STARTED_PID=$!
        PIDS+=("$STARTED_PID")
        PNAME[$STARTED_PID]=haproxy-$n
      else
        start_bg "haproxy-$n" haproxy -db -f "$d/haproxy.cfg"
      fi
      TARGET_PORT=$HAPROXY_PORT
      ;;
    tollgate | tollgate-nometer)
      local config=$TOLLGATE_CONFIG
      mkdir -p "$(dirname "$TOLLGATE_ACCESS_LOG")"
      rm -f "$TOLLGATE_ACCESS_LOG"
      if [[ $t == tollgate ]]; then
        rm -f "$TOLLGATE_LEDGER"* # every metered run starts with an empty ledger
      else
        config=$TOLLGATE_NOMETER_CONFIG
        LEDGER_SIG=$(ledger_sig)
      fi
      # shellcheck disable=SC2086,SC2016 # TOLLGATE_ARGS is a word list; $1/$@ expand in the child
      start_bg "$t-$n" bash -c 'cd "$1" && shift && exec "$@"' _ "$ROOT" \
        "$TOLLGATE_BIN" serve --config "$config" --workers "$n" ${TOLLGATE_ARGS:-}
      TARGET_PORT=$TOLLGATE_PORT TARGET_LOG=$TOLLGATE_ACCESS_LOG
      ;;
  esac
  TARGET_PID=$STARTED_PID
  wait_ready "${PNAME[$TARGET_PID]}" "$TARGET_PID" "$TARGET_PORT"
  # tollgate prints "tollgate: metering into URL" before it serves, exactly when metering is on.
  if [[ $t == tollgate ]]; then
    grep -q '^tollgate: metering into ' "$RUN_DIR/$t-$n.out" ||
      die "$t: metering is not on (no 'metering into' line in $RUN_DIR/$t-$n.out); check bench/gateway.yaml"
  elif [[ $t == tollgate-nometer ]]; then
    ! grep -q '^tollgate: metering into ' "$RUN_DIR/$t-$n.out" ||
      die "$t: metering is on ($(grep -m1 '^tollgate: metering into ' "$RUN_DIR/$t-$n.out")); check $TOLLGATE_NOMETER_CONFIG"
  fi
}

# ---------------------------------------------------------------- wrk
declare -A R # "target,n,field" -> value

# run_wrk OUTFILE SECONDS URL [--latency] — bounded by `timeout`; sets WRK_LINE to the WRK_RESULT
# line. wrk runs as a background job that we `wait` for, so SIGTERM/SIGINT reach our trap at once.
WRK_PID=
WRK_LINE=
run_wrk() {
  local out=$1 secs=$2 url=$3 rc=0
  shift 3
  timeout -k 5 "$((secs + 30))" wrk -t "$THREADS" -c "$CONNECTIONS" -d "${secs}s" --timeout 2s \
    -s "$BENCH_DIR/report.lua" "$@" "$url" >"$out" 2>&1 </dev/null &
  WRK_PID=$!
  wait "$WRK_PID" || rc=$?
  WRK_PID=
  if ((rc != 0)); then
    cat "$out" >&2
    die "wrk against $url failed or timed out (exit $rc)"
  fi
  WRK_LINE=$(grep -m1 '^WRK_RESULT ' "$out") || die "no WRK_RESULT line in wrk output ($out)"
}

# CPU accounting, in clock ticks (USER_HZ), "CPU %" as in top: 100 = one core.
NCPU=$(nproc)

# cpu_totals — "busy total" ticks of the whole machine so far (steal counts as busy: lost to us).
cpu_totals() {
  local u n s i w q sq st
  read -r _ u n s i w q sq st _ </proc/stat
  echo "$((u + n + s + q + sq + st)) $((u + n + s + i + w + q + sq + st))"
}

# group_ticks PGID... — utime+stime so far of every live process in these process groups.
group_ticks() {
  local pg p line sum=0
  local -a f
  for pg in "$@"; do
    [[ -n $pg ]] || continue
    for p in $(pgrep -g "$pg" 2>/dev/null); do
      { read -r line <"/proc/$p/stat"; } 2>/dev/null || continue
      read -r -a f <<<"${line##*) }" # fields after "pid (comm) ": state ppid pgrp ... utime stime
      sum=$((sum + f[11] + f[12]))
    done
  done
  echo "$sum"
}

# children_ticks — CPU ticks of this shell's reaped children (wrk, through timeout).
children_ticks() {
  local line
  local -a f
  read -r line <"/proc/$$/stat"
  read -r -a f <<<"${line##*) }"
  echo $((f[13] + f[14]))
}

# cpu_busy_pct — CPU % (100 = one core) used over the next second by anything. Called when only
# idle servers of ours run, so it measures what *other* processes (builds, ...) take.
cpu_busy_pct() {
  local b1 t1 b2 t2
  read -r b1 t1 <<<"$(cpu_totals)"
  sleep 1
  read -r b2 t2 <<<"$(cpu_totals)"
  echo $((t2 > t1 ? 100 * NCPU * (b2 - b1) / (t2 - t1) : 0))
}

count_lines() { [[ -n ${1:-} && -f $1 ]] && wc -l <"$1" || echo 0; }

bench_target() { # TARGET N
  local t=$1 n=$2 url line kv k v warm_requests log_before log_after
  url="http://$HOST:"
  start_target "$t" "$n"
  url+="$TARGET_PORT$BENCH_PATH"
  check_200 "$t" "$url"

  log "$t (workers=$n): warm-up ${WARMUP_S}s"
  run_wrk "$RUN_DIR/wrk-warmup-$t-$n.txt" "$WARMUP_S" "$url"
  warm_requests=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$WRK_LINE")
  R[$t,$n,warm_requests]=$warm_requests
  # Sampling other processes' CPU use takes 1 s, which also lets buffered access logs (flush=1s)
  # catch up before we count their lines.
  local bg waited=0
  bg=$(cpu_busy_pct)
  while ((bg > IDLE_PCT && waited < WAIT_IDLE)); do
    ((waited % 30 == 0)) && log "other processes use ${bg}% CPU, waiting for a quiet machine (${waited}/${WAIT_IDLE}s)"
    sleep 4
    waited=$((waited + 5))
    bg=$(cpu_busy_pct)
  done
  ((bg > IDLE_PCT)) && log "WARNING: other processes use ${bg}% CPU before the run; $t figures may be disturbed"
  if ((waited > 0)); then # pools and caches went idle while we waited: warm up again
    run_wrk "$RUN_DIR/wrk-warmup2-$t-$n.txt" "$WARMUP_S" "$url"
    R[$t,$n,warm_requests]=$((R[$t,$n,warm_requests] + $(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$WRK_LINE")))
    sleep 1.2
  fi
  sleep 0.3
  log_before=$(count_lines "$TARGET_LOG")

  log "$t (workers=$n): measuring ${DURATION_S}s, wrk -t$THREADS -c$CONNECTIONS"
  local b1 t1 b2 t2 w1 w2 u1 u2 p1 p2 dt
  read -r b1 t1 <<<"$(cpu_totals)"
  w1=$(children_ticks) u1=$(group_ticks "$UPSTREAM_PID") p1=$(group_ticks "$TARGET_PID")
  run_wrk "$RUN_DIR/wrk-$t-$n.txt" "$DURATION_S" "$url" --latency
  line=$WRK_LINE
  w2=$(children_ticks) u2=$(group_ticks "$UPSTREAM_PID") p2=$(group_ticks "$TARGET_PID")
  read -r b2 t2 <<<"$(cpu_totals)"
  # CPU % (100 = one core) during the measured run: the proxy, the upstream, wrk, everything else.
  dt=$(((t2 - t1) > 0 ? (t2 - t1) : 1))
  R[$t,$n,cpu_target]=$((100 * NCPU * (p2 - p1) / dt))
  R[$t,$n,cpu_upstream]=$((100 * NCPU * (u2 - u1) / dt))
  R[$t,$n,cpu_wrk]=$((100 * NCPU * (w2 - w1) / dt))
  R[$t,$n,cpu_other]=$((100 * NCPU * ((b2 - b1) - (p2 - p1) - (u2 - u1) - (w2 - w1)) / dt))
  ((R[$t,$n,cpu_other] >= 0)) || R[$t,$n,cpu_other]=0
  ((R[$t,$n,cpu_other] <= IDLE_PCT)) ||
    log "WARNING: other processes used ${R[$t,$n,cpu_other]}% CPU during the $t run; its figures are disturbed"
  for kv in ${line#WRK_RESULT }; do
    k=${kv%%=*} v=${kv#*=}
    R[$t,$n,$k]=$v
  done
  ((R[$t,$n,requests] > 0)) || die "$t (workers=$n): wrk completed no requests"
  mkdir -p "$OUT_DIR/raw-$TS"
  cp "$RUN_DIR/wrk-$t-$n.txt" "$OUT_DIR/raw-$TS/$t-$n.txt"

  if [[ $t == tollgate || $t == tollgate-nometer ]]; then
    # Metrics must be on; and tollgate drops access-log records rather than block when its log
    # writer falls behind: count those, a dropped record is work the others did and tollgate skipped.
    local code
    code=$(curl -s -o "$RUN_DIR/metrics-$t-$n.txt" -w '%{http_code}' --max-time 5 "http://$HOST:$TOLLGATE_ADMIN_PORT/metrics" || echo 000)
    if [[ $code == 200 ]]; then
      R[$t,$n,dropped]=$(awk '/^tollgate_access_log_dropped_total/ { s += $NF } END { printf "%.0f", s }' "$RUN_DIR/metrics-$t-$n.txt")
      ((R[$t,$n,dropped] == 0)) || log "WARNING: $t dropped ${R[$t,$n,dropped]} access-log records"
    else
      log "WARNING: $t metrics endpoint http://$HOST:$TOLLGATE_ADMIN_PORT/metrics answered $code"
      R[$t,$n,dropped]="? (no /metrics)"
    fi
  fi
  if [[ -n $TARGET_PID ]]; then
    stop_pid "$TARGET_PID" # also flushes buffered access logs and the meter's last counters
  fi
  if [[ $t == tollgate ]]; then
    # Every request wrk completed (warm-up and measured run) must be in the ledger; the curl
    # checks and requests in flight when wrk stopped add a few more.
    local sent=$((R[$t,$n,warm_requests] + R[$t,$n,requests]))
    R[$t,$n,metered]=$(ledger_requests)
    if [[ ${R[$t,$n,metered]} == '?' ]]; then
      log "WARNING: could not read the ledger $TOLLGATE_LEDGER (needs python3 or sqlite3)"
    elif ((R[$t,$n,metered] < sent)); then
      log "WARNING: the ledger holds ${R[$t,$n,metered]} requests, fewer than the $sent wrk completed"
    fi
    R[$t,$n,metered]+=" of $sent"
  elif [[ $t == tollgate-nometer ]]; then
    [[ $(ledger_sig) == "$LEDGER_SIG" ]] ||
      die "$t wrote a ledger although metering is off: $(ledger_sig | tr '\n' ' ')"
  fi
  if [[ -n $TARGET_LOG ]]; then
    log_after=$(count_lines "$TARGET_LOG")
    R[$t,$n,logged]=$((log_after - log_before))
    [[ -z ${R[$t,$n,dropped]:-} ]] || R[$t,$n,logged]+=" (dropped: ${R[$t,$n,dropped]})"
  fi
  log "$t (workers=$n): ${R[$t,$n,rps]} req/s, p50 ${R[$t,$n,p50_us]} us, p99 ${R[$t,$n,p99_us]} us (warm-up: $warm_requests requests)"
}

# ---------------------------------------------------------------- machine info
ms() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
per_core() { awk -v r="$1" -v c="$2" 'BEGIN { if (c + 0 <= 0) print "n/a"; else printf "%.0f", r * 100 / c }'; }
int() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }

machine_info() {
  local model mem os
  model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
  # shellcheck disable=SC1091
  os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")
  echo "- CPU: ${model:-unknown}, nproc=$(nproc) ($(lscpu 2>/dev/null | awk -F': +' '/^Hypervisor vendor/ { print "VM, " $2 }'))"
  echo "- Memory: $mem; OS: $os; kernel $(uname -r)"
  echo "- nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //')"
  echo "- haproxy: $(haproxy -v 2>&1 | head -n1 | awk '{ print $3 }')"
  echo "- wrk: $(wrk -v 2>&1 | head -n1 | awk '{ print $2 }')"
  echo "- rustc: $(rustc --version 2>/dev/null || echo 'not found')"
  if wants_tollgate_binary; then
    local rev dirty=
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no commit')
    [[ -z $(git -C "$ROOT" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null) ]] ||
      dirty=" + uncommitted changes"
    echo "- tollgate: $TOLLGATE_BIN (git $rev$dirty, built $(date -u -r "$TOLLGATE_BIN" +%Y-%m-%dT%H:%MZ))"
  fi
  echo "- Load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---------------------------------------------------------------- main
OUT_DIR=$BENCH_DIR/out
mkdir -p "$OUT_DIR"
TS=$(date -u +%Y%m%dT%H%M%SZ)
OUT_FILE=$OUT_DIR/results-$TS.md

MACHINE=$(machine_info)
if wants tollgate-nometer; then
  [[ -f $ROOT/$TOLLGATE_CONFIG ]] || die "$TOLLGATE_CONFIG not found"
  write_nometer_conf
fi
log "run dir $RUN_DIR; targets: $TARGETS; workers: $WORKERS; wrk -t$THREADS -c$CONNECTIONS -d$DURATION_S s (+${WARMUP_S}s warm-up)"
start_upstream
for n in $WORKERS; do
  for t in $TARGETS; do
    bench_target "$t" "$n"
  done
done
stop_pid "$UPSTREAM_PID"

# ---------------------------------------------------------------- report
report() {
  local n t e
  echo "## Run $(date -u -d "${TS:0:8} ${TS:9:2}:${TS:11:2}:${TS:13:2}" '+%Y-%m-%d %H:%M:%S UTC' 2>/dev/null || echo "$TS")"
  echo
  echo "$MACHINE"
  echo "- Load: wrk -t$THREADS -c$CONNECTIONS -d${DURATION_S}s --timeout 2s, ${WARMUP_S}s warm-up per target, GET $BENCH_PATH, all on $HOST"
  echo "- Upstream: nginx, $UPSTREAM_WORKERS worker, return 200 \"hello\\n\" (keep-alive); nginx log: $NGINX_LOG; haproxy log: $HAPROXY_LOG"
  echo "- Targets measured: $TARGETS"
  if wants_tollgate_binary; then
    echo "- tollgate metering: \`tollgate\` on ($TOLLGATE_CONFIG, ledger bench/out/tollgate.db, emptied before each start);" \
      "\`tollgate-nometer\` off (the same config with \`metering: {enabled: false}\`)"
  fi
  echo
  echo "| workers | target | req/s | p50 ms | p99 ms | p99.9 ms | max ms | non-2xx / socket errors | CPU % proxy / upstream / wrk / other | req/s per core | access-log lines |"
  echo "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  for n in $WORKERS; do
    for t in $TARGETS; do
      e=$((R[$t,$n,err_connect] + R[$t,$n,err_read] + R[$t,$n,err_write] + R[$t,$n,err_timeout]))
      if [[ $t == upstream ]]; then
        R[$t,$n,per_core]=$(per_core "${R[$t,$n,rps]}" "${R[$t,$n,cpu_upstream]}")
      else
        R[$t,$n,per_core]=$(per_core "${R[$t,$n,rps]}" "${R[$t,$n,cpu_target]}")
      fi
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$n" "$([[ $t == upstream ]] && echo "upstream (direct)" || echo "$t")" "$(int "${R[$t,$n,rps]}")" \
        "$(ms "${R[$t,$n,p50_us]}")" "$(ms "${R[$t,$n,p99_us]}")" \
        "$(ms "${R[$t,$n,p999_us]}")" "$(ms "${R[$t,$n,max_us]}")" "${R[$t,$n,non2xx]} / $e" \
        "$([[ $t == upstream ]] && echo "-" || echo "${R[$t,$n,cpu_target]}") / ${R[$t,$n,cpu_upstream]} / ${R[$t,$n,cpu_wrk]} / ${R[$t,$n,cpu_other]}" \
        "${R[$t,$n,per_core]}" "${R[$t,$n,logged]:-n/a}"
    done
  done
  echo
  if wants tollgate && { wants nginx || wants haproxy; }; then
    echo "Ratios (tollgate / other; req/s: higher is better for tollgate, p99: lower is better):"
    echo
    echo "| workers | req/s tollgate/nginx | req/s tollgate/haproxy | p99 tollgate/nginx | p99 tollgate/haproxy | req/s per core tollgate/nginx | req/s per core tollgate/haproxy |"
    echo "|--:|--:|--:|--:|--:|--:|--:|"
    for n in $WORKERS; do
      printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$n" \
        "$(wants nginx && ratio "${R[tollgate,$n,rps]}" "${R[nginx,$n,rps]}" || echo n/a)" \
        "$(wants haproxy && ratio "${R[tollgate,$n,rps]}" "${R[haproxy,$n,rps]}" || echo n/a)" \
        "$(wants nginx && ratio "${R[tollgate,$n,p99_us]}" "${R[nginx,$n,p99_us]}" || echo n/a)" \
        "$(wants haproxy && ratio "${R[tollgate,$n,p99_us]}" "${R[haproxy,$n,p99_us]}" || echo n/a)" \
        "$(wants nginx && ratio "${R[tollgate,$n,per_core]}" "${R[nginx,$n,per_core]}" || echo n/a)" \
        "$(wants haproxy && ratio "${R[tollgate,$n,per_core]}" "${R[haproxy,$n,per_core]}" || echo n/a)"
    done
    echo
  elif ! wants tollgate; then
    echo "tollgate was not measured in this run (TARGETS=\"$TARGETS\"), so there are no tollgate ratios."
    echo
  else
    echo "Neither nginx nor haproxy was measured in this run, so there are no tollgate/nginx or tollgate/haproxy ratios."
    echo
  fi
  if wants tollgate && wants tollgate-nometer; then
    echo "Metering overhead (tollgate = metering on / tollgate-nometer = off; target: req/s ratio ≥ 0.97,"
    echo "i.e. metering costs at most 3 % of requests/s; p99 ratio: above 1 = metering adds latency):"
    echo
    echo "| workers | req/s tollgate/tollgate-nometer | p99 tollgate/tollgate-nometer | req/s per core tollgate/tollgate-nometer | req/s cost of metering |"
    echo "|--:|--:|--:|--:|--:|"
    local rr
    for n in $WORKERS; do
      rr=$(ratio "${R[tollgate,$n,rps]}" "${R[tollgate-nometer,$n,rps]}")
      printf '| %s | %s | %s | %s | %s |\n' "$n" "$rr" \
        "$(ratio "${R[tollgate,$n,p99_us]}" "${R[tollgate-nometer,$n,p99_us]}")" \
        "$(ratio "${R[tollgate,$n,per_core]}" "${R[tollgate-nometer,$n,per_core]}")" \
        "$(awk -v r="$rr" 'BEGIN { if (r == "n/a") print "n/a"; else printf "%.1f %%", (1 - r) * 100 }')"
    done
    echo
    echo "One run's difference of a few % is within the noise of a 2-core machine: compare the medians of"
    echo "bench/repeat.sh (it keeps the two adjacent in every round)."
    echo
  fi
  if wants tollgate; then
    local checks=''
    for n in $WORKERS; do checks+="${checks:+; }workers=$n: ${R[tollgate,$n,metered]:-?}"; done
    echo "Ledger check, tollgate (requests metered into bench/out/tollgate.db of those wrk completed, warm-up"
    echo "included; a few more are normal: curl checks, requests in flight when wrk stopped): $checks."
    echo
  fi
  local disturbed=()
  for n in $WORKERS; do
    for t in $TARGETS; do
      ((R[$t,$n,cpu_other] > IDLE_PCT)) && disturbed+=("$t/$n:${R[$t,$n,cpu_other]}%")
    done
  done
  if ((${#disturbed[@]})); then
    echo "**Warning:** other processes used the CPU during these measurements (target/workers:CPU%):"
    echo "${disturbed[*]}. Treat their figures as noisy; re-run on a quiet machine or with WAIT_IDLE=600."
    echo
  fi
  echo "\`workers\` is the round: worker processes/threads of the proxies (the upstream always has $UPSTREAM_WORKERS)."
  echo "\`access-log lines\` counts lines the target logged during the measured run (up to $CONNECTIONS more than wrk's"
  echo "count: requests in flight when wrk stopped); for tollgate and tollgate-nometer, \`dropped\` is their"
  echo "tollgate_access_log_dropped_total counter (records skipped rather than written)."
  echo "\`CPU %\` (as in top, 100 = one core, $NCPU cores = $((100 * NCPU))): what the proxy, the upstream, wrk and every"
  echo "other process used during the measured run (other above $IDLE_PCT%: the figures are disturbed)."
  echo "\`req/s per core\` = req/s ÷ (the proxy's CPU % / 100), for the upstream row its own CPU: the"
  echo "proxy's efficiency, which matters here because wrk and the upstream take part of the 2 cores."
  echo "Raw wrk output: bench/out/raw-$TS/<target>-<workers>.txt."
  echo
}

report | tee -a "$OUT_FILE"
log "results appended to $OUT_FILE"
