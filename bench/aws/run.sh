#!/usr/bin/env bash
# AWS billing import benchmark (issue 7, Targets): read and aggregate a ROWS-row CUR 2.0 file
# (Parquet and CSV.gz) with tollgate and with DuckDB, same file, same run, interleaved.
#
#   a. tollgate: `tollgate aws import --dry-run --format json FILE` (reads the file, groups the
#      API Gateway lines by format, account, region, meter: lines, usage, unblended cost).
#   b. duckdb:   the same aggregation in DuckDB (PyPI, in a venv under target/bench-venv, used by
#      this benchmark only): bench/aws/duckdb_agg.py, `SET threads = THREADS`. Measured as a
#      whole process (Python start, `import duckdb`, query) and, from inside, the query alone.
#   c. store:    `tollgate aws import --store sqlite://…/fresh.db FILE` into a fresh SQLite
#      ledger each time (the ledger is removed before each run).
#   d. duckdb-store: the same import into DuckDB, for comparison with c: bench/aws/duckdb_agg.py
#      store creates a fresh DuckDB database file, `CREATE TABLE bill_lines AS SELECT <the
#      columns tollgate keeps> … WHERE line_item_product_code = 'AmazonApiGateway'`,
#      `CHECKPOINT`, then runs b's aggregation on the table. Whole process, and from inside the
#      import alone (CREATE TABLE + CHECKPOINT). Its groups are checked against a's too.
#   e. optional, STORE_BASELINE=BINARY: c with another tollgate build (e.g. before a change),
#      in the same rounds.
#
# Each is run REPEAT times per file, interleaved (tollgate, duckdb, store, duckdb-store,
# [baseline], tollgate, …; c–e in the first STORE_REPEAT rounds), under
# `/usr/bin/time -v` (wall time, user + system CPU, "Maximum resident set size"); medians are
# reported. After the first round the two tools' groups are compared (lines equal; usage and
# unblended cost within 1e-6 per account, region, meter) — the run fails if they differ.
#
# Environment (all optional):
#   ROWS=5000000              rows of the generated CUR 2.0 file
#   REPEAT=3                  measurements per tool and file
#   THREADS=$(nproc)          DuckDB threads
#   FORMATS="parquet csv.gz"  which files
#   DATA_DIR=/tmp/tollgate-aws-bench-$ROWS   where the generated files live (reused when present:
#                             the generator is deterministic, the directory is keyed by ROWS;
#                             files this script generated are removed on exit unless KEEP=1)
#   STEP_TIMEOUT=900          seconds any single step may take (build, generate, measure)
#   STORE_REPEAT=$REPEAT      --store (and DuckDB import) measurements per file (first rounds)
#   STORE_TIMEOUT=120         seconds a --store import may take; a longer one is stopped and
#                             reported as such
#   STORE_BASELINE=           another tollgate binary whose --store is measured alongside
#   SKIP_BUILD=0              1: do not run cargo build
#   KEEP=0                    1: keep the generated files and the temp dir (outputs, ledgers)
#
# stdout: the results (markdown); stderr: progress. A copy goes to
# bench/aws/out/results-<UTC timestamp>.md.
set -euo pipefail

AWS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$AWS_DIR/../.." && pwd)

ROWS=${ROWS:-5000000}
REPEAT=${REPEAT:-3}
THREADS=${THREADS:-$(nproc)}
FORMATS=${FORMATS:-"parquet csv.gz"}
DATA_DIR=${DATA_DIR:-/tmp/tollgate-aws-bench-$ROWS}
STEP_TIMEOUT=${STEP_TIMEOUT:-900}
STORE_REPEAT=${STORE_REPEAT:-$REPEAT}
STORE_BASELINE=${STORE_BASELINE:-}
STORE_TIMEOUT=${STORE_TIMEOUT:-120}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP=${KEEP:-0}

TOLLGATE=$ROOT/target/release/tollgate
GEN=$ROOT/target/release/examples/gen_fixtures
VENV=$ROOT/target/bench-venv
PY=$VENV/bin/python

log() { printf '[aws-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  printf '\n[aws-bench] ERROR: %s\n\n' "$*" >&2
  exit 1
}

TMP=$(mktemp -d /tmp/tollgate-aws-bench-run.XXXXXX)
cleanup() {
  local rc=$?
  # A running step: `/usr/bin/time` (if measuring) → `timeout` → the command. `timeout` runs in
  # its own process group, so signal it directly; it forwards the signal to the command.
  if [[ -n ${STEP_PID:-} ]]; then
    local p
    for p in $(pgrep -P "$STEP_PID" 2>/dev/null) "$STEP_PID"; do kill -TERM "$p" 2>/dev/null || true; done
    wait "$STEP_PID" 2>/dev/null || true
  fi
  if [[ $KEEP == 1 ]]; then
    log "kept $TMP and $DATA_DIR"
  else
    rm -rf "$TMP"
    [[ -d $DATA_DIR && -f $DATA_DIR/.bench-generated ]] && rm -rf "$DATA_DIR"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

STEP_PID=
step() { # timeout-bounded command (STEP_TIMEOUT, or T=seconds for this call); killed on exit.
  # TIME_OUT=FILE: measured by /usr/bin/time -v (outside timeout, so timeout's kill reaches the
  # command; wait4's peak RSS covers the command, timeout's descendant).
  local pre=()
  [[ -n ${TIME_OUT:-} ]] && pre=(/usr/bin/time -v -o "$TIME_OUT")
  "${pre[@]}" timeout --kill-after=10 "${T:-$STEP_TIMEOUT}" "$@" &
  STEP_PID=$!
  local rc=0
  wait "$STEP_PID" || rc=$?
  STEP_PID=
  return $rc
}

# ------------------------------------------------------------------------------ tools
if [[ ! -x /usr/bin/time ]]; then
  log "installing GNU time (apt)"
  step apt-get install -y -qq time >&2 || die "/usr/bin/time missing and apt-get install time failed"
fi
if [[ $SKIP_BUILD != 1 ]]; then
  log "cargo build --release -p tollgate"
  (cd "$ROOT" && step cargo build --release -p tollgate) >&2
  log "cargo build --release -p tollgate-aws --example gen_fixtures"
  (cd "$ROOT" && step cargo build --release -p tollgate-aws --example gen_fixtures) >&2
fi
[[ -x $TOLLGATE ]] || die "no tollgate binary at $TOLLGATE"
if [[ ! -x $PY ]] || ! "$PY" -c 'import duckdb' 2>/dev/null; then
  log "installing DuckDB from PyPI into $VENV (benchmark only)"
  step python3 -m venv "$VENV" >&2
  step "$VENV/bin/pip" install -q duckdb >&2
fi
DUCKDB_VERSION=$("$PY" -c 'import duckdb; print(duckdb.__version__)')

# ------------------------------------------------------------------------------ data
if [[ -s $DATA_DIR/cur2-big.parquet && -s $DATA_DIR/cur2-big.csv.gz && -f $DATA_DIR/.rows-$ROWS ]]; then
  log "reusing $DATA_DIR ($ROWS rows)"
else
  [[ -x $GEN ]] || die "no generator at $GEN (run without SKIP_BUILD=1)"
  log "generating $ROWS CUR 2.0 rows (Parquet and CSV.gz) into $DATA_DIR"
  mkdir -p "$DATA_DIR"
  touch "$DATA_DIR/.bench-generated"
  step "$GEN" --big "$ROWS" "$DATA_DIR" >&2
  touch "$DATA_DIR/.rows-$ROWS"
fi

# ------------------------------------------------------------------------------ measuring
# measure NAME OUT -- command...: runs it under /usr/bin/time -v, stdout to OUT;
# appends "NAME wall_s cpu_s maxrss_kb" to $TMP/samples.
measure() {
  local name=$1 out=$2
  shift 3
  local tv=$TMP/time.txt rc=0
  TIME_OUT=$tv step "$@" >"$out" 2>"$TMP/stderr.txt" || rc=$?
  if ((rc == 124 || rc == 137)) && [[ ${ALLOW_TIMEOUT:-0} == 1 ]]; then
    log "$name: stopped after ${T:-$STEP_TIMEOUT} s (timeout)"
    echo "$name timeout" >>"$TMP/timeouts"
    return 0
  fi
  ((rc == 0)) || die "$name failed (exit $rc): $(tail -5 "$TMP/stderr.txt")"
  awk -v n="$name" -F': ' '
    /Elapsed \(wall clock\)/ { k = split($2, p, ":"); w = 0; for (i = 1; i <= k; i++) w = w * 60 + p[i] }
    /User time \(seconds\)/ { u = $2 } /System time \(seconds\)/ { s = $2 }
    /Maximum resident set size/ { m = $2 }
    END { printf "%s %.2f %.2f %d\n", n, w, u + s, m }' "$tv" >>"$TMP/samples"
  tail -1 "$TMP/samples" | sed 's/^/  /' >&2
}
median() { # name column(2 wall, 3 cpu, 4 rss) -> median
  awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$TMP/samples" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
all_of() { # name column -> "a, b, c"
  awk -v n="$1" -v c="$2" '$1 == n { printf "%s%s", sep, $c; sep = ", " }' "$TMP/samples"
}
duck_query_median() { # fmt [prefix key] -> median of the in-process query (or import) seconds
  "$PY" - "$TMP" "$1" "${2:-duckdb}" "${3:-query_seconds}" <<'EOF'
import json, statistics, sys, glob
v = [json.load(open(f))[sys.argv[4]] for f in glob.glob(f"{sys.argv[1]}/{sys.argv[3]}-{sys.argv[2]}-*.json")]
print(f"{statistics.median(v):.2f}" if v else "-")
EOF
}

: >"$TMP/samples"
: >"$TMP/timeouts"
CHECKS=()
SIZES=()
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for fmt in $FORMATS; do
  file=$DATA_DIR/cur2-big.$fmt
  [[ -s $file ]] || die "no $file"
  for rep in $(seq 1 "$REPEAT"); do
    log "$fmt, round $rep/$REPEAT"
    measure "tollgate-$fmt" "$TMP/tollgate-$fmt-$rep.json" -- \
      "$TOLLGATE" aws import --dry-run --format json "$file"
    measure "duckdb-$fmt" "$TMP/duckdb-$fmt-$rep.json" -- \
      "$PY" "$AWS_DIR/duckdb_agg.py" query --threads "$THREADS" "$file"
    if ((rep <= STORE_REPEAT)); then
      rm -f "$TMP/ledger.db"*
      T=$STORE_TIMEOUT ALLOW_TIMEOUT=1 measure "store-$fmt" "$TMP/store-$fmt-$rep.txt" -- \
        "$TOLLGATE" aws import --store "sqlite://$TMP/ledger.db" "$file"
      rm -f "$TMP/ledger.db"*
      rm -f "$TMP/duck.db"*
      T=$STORE_TIMEOUT measure "duckstore-$fmt" "$TMP/duckstore-$fmt-$rep.json" -- \
        "$PY" "$AWS_DIR/duckdb_agg.py" store --threads "$THREADS" "$TMP/duck.db" "$file"
      rm -f "$TMP/duck.db"*
      if [[ -n $STORE_BASELINE ]]; then
        T=$STORE_TIMEOUT ALLOW_TIMEOUT=1 measure "baseline-$fmt" "$TMP/baseline-$fmt-$rep.txt" -- \
          "$STORE_BASELINE" aws import --store "sqlite://$TMP/ledger.db" "$file"
        rm -f "$TMP/ledger.db"*
      fi
    fi
    if ((rep == 1)); then
      check=$("$PY" "$AWS_DIR/duckdb_agg.py" compare "$TMP/tollgate-$fmt-1.json" "$TMP/duckdb-$fmt-1.json") ||
        die "tollgate and DuckDB disagree on $fmt: $check"
      log "totals agree ($fmt): $check"
      CHECKS+=("| $fmt | $check |")
      if ((STORE_REPEAT >= 1)); then
        check=$("$PY" "$AWS_DIR/duckdb_agg.py" compare "$TMP/tollgate-$fmt-1.json" "$TMP/duckstore-$fmt-1.json") ||
          die "tollgate and DuckDB's imported table disagree on $fmt: $check"
        log "totals agree ($fmt, DuckDB table): $check"
        CHECKS+=("| $fmt (DuckDB table) | $check |")
      fi
      file_rows=$("$PY" -c 'import json,sys; f=json.load(open(sys.argv[1]))["files"][0]; print(f["rows"], f["lines"], sum(f["skipped_by_service"].values()), f["malformed_count"])' "$TMP/tollgate-$fmt-1.json")
      read -r n_rows n_lines n_skipped n_bad <<<"$file_rows"
      [[ $n_rows == "$ROWS" ]] || die "tollgate read $n_rows rows of $fmt, expected $ROWS"
      SIZES+=("| $fmt | $(du -m "$file" | cut -f1) MB | $n_rows | $n_lines | $n_skipped | $n_bad |")
    fi
  done
done

# ------------------------------------------------------------------------------ report
OUT=()
emit() { OUT+=("$*"); }
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
emit "- Machine: nproc=$(nproc) ($CPU_MODEL), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
emit "- tollgate: $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- crates || echo ' + uncommitted changes in crates/'), \`cargo build --release -p tollgate\`; $(rustc --version)"
emit "- DuckDB $DUCKDB_VERSION (PyPI, Python $("$PY" -c 'import platform; print(platform.python_version())')), \`SET threads = $THREADS\`"
emit "- Load average at start: $LOAD_START, at end: $(cut -d' ' -f1-3 /proc/loadavg); $REPEAT interleaved runs per tool and file, medians"
emit ""
emit "| file | size | rows | API Gateway lines | other-service rows | malformed |"
emit "|---|--:|--:|--:|--:|--:|"
for r in "${SIZES[@]}"; do emit "$r"; done
emit ""
emit "| file | tool | wall s (median) | wall s (all runs) | CPU s (user+sys) | peak RSS MB | rows/s |"
emit "|---|---|--:|--:|--:|--:|--:|"
for fmt in $FORMATS; do
  for t in tollgate duckdb store duckstore baseline; do
    n="$t-$fmt"
    w=$(median "$n" 2)
    label=$t
    [[ $t == tollgate ]] && label='tollgate `--dry-run`'
    [[ $t == duckdb ]] && label="DuckDB (process; query alone: $(duck_query_median "$fmt") s)"
    [[ $t == store ]] && label='tollgate `--store` (fresh SQLite)'
    [[ $t == duckstore ]] && label="DuckDB import to a table on disk + aggregate (process; import alone: $(duck_query_median "$fmt" duckstore import_seconds) s)"
    [[ $t == baseline ]] && label='baseline `--store` (STORE_BASELINE)'
    [[ $(median "$n" 2) == - ]] && ! grep -q "^$n timeout" "$TMP/timeouts" && continue
    if grep -q "^$n timeout" "$TMP/timeouts"; then
      emit "| $fmt | $label | > $STORE_TIMEOUT (stopped) | | | | |"
      continue
    fi
    emit "| $fmt | $label | $w | $(all_of "$n" 2) | $(median "$n" 3) | $(awk -v k="$(median "$n" 4)" 'BEGIN { printf "%.0f", k / 1024 }') | $(awk -v r="$ROWS" -v w="$w" 'BEGIN { printf "%.2f M", r / w / 1e6 }') |"
  done
done
emit ""
emit "| file | wall tollgate / DuckDB process | wall tollgate / DuckDB query alone | peak RSS tollgate / DuckDB |"
emit "|---|--:|--:|--:|"
for fmt in $FORMATS; do
  tw=$(median "tollgate-$fmt" 2)
  dw=$(median "duckdb-$fmt" 2)
  dq=$(duck_query_median "$fmt")
  tr=$(median "tollgate-$fmt" 4)
  dr=$(median "duckdb-$fmt" 4)
  emit "| $fmt | $(awk -v a="$tw" -v b="$dw" 'BEGIN { printf "%.2f", a / b }') | $(awk -v a="$tw" -v b="$dq" 'BEGIN { printf "%.2f", a / b }') | $(awk -v a="$tr" -v b="$dr" 'BEGIN { printf "%.2f", a / b }') |"
done
emit ""
emit "| file | wall tollgate \`--store\` / DuckDB import process | tollgate \`--store\` / DuckDB import alone | peak RSS tollgate / DuckDB | CPU tollgate / DuckDB |"
emit "|---|--:|--:|--:|--:|"
for fmt in $FORMATS; do
  tw=$(median "store-$fmt" 2)
  dw=$(median "duckstore-$fmt" 2)
  [[ $tw == - || $dw == - ]] && continue
  di=$(duck_query_median "$fmt" duckstore import_seconds)
  tr=$(median "store-$fmt" 4)
  dr=$(median "duckstore-$fmt" 4)
  tc=$(median "store-$fmt" 3)
  dc=$(median "duckstore-$fmt" 3)
  emit "| $fmt | $(awk -v a="$tw" -v b="$dw" 'BEGIN { printf "%.2f", a / b }') | $(awk -v a="$tw" -v b="$di" 'BEGIN { printf "%.2f", a / b }') | $(awk -v a="$tr" -v b="$dr" 'BEGIN { printf "%.2f", a / b }') | $(awk -v a="$tc" -v b="$dc" 'BEGIN { printf "%.2f", a / b }') |"
done
emit ""
emit "Totals check (first round; per account × region × meter: lines equal, usage and unblended cost within 1e-6):"
emit ""
emit "| file | result |"
emit "|---|---|"
for c in "${CHECKS[@]}"; do emit "$c"; done

mkdir -p "$AWS_DIR/out"
RESULTS=$AWS_DIR/out/results-$(date -u +%Y%m%dT%H%M%SZ).md
printf '%s\n' "${OUT[@]}" | tee "$RESULTS"
log "results in $RESULTS"
