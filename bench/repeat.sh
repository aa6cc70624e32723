#!/usr/bin/env bash
# Run bench/run.sh several times with the proxies in a rotated order, then report the median
# of each figure per target and the ratios of the medians. On a small shared machine a single
# run's spread is larger than the differences being measured (see RESULTS.md); medians of
# interleaved runs are what to compare.
#
#   bench/repeat.sh                 # REPEAT=5 runs, DURATION=10s each, WORKERS="1 2"
#   REPEAT=7 DURATION=8s WORKERS=1 bench/repeat.sh
#
# Every other environment variable is passed on to run.sh (WARMUP, CONNECTIONS, THREADS, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

REPEAT=${REPEAT:-5}
export DURATION=${DURATION:-10s}
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || { echo "REPEAT must be a positive integer" >&2; exit 2; }

orders=("nginx haproxy tollgate" "haproxy tollgate nginx" "tollgate nginx haproxy")
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT

for i in $(seq 1 "$REPEAT"); do
  order=${orders[$(( (i - 1) % 3 ))]}
  echo "[repeat] run $i/$REPEAT, order: $order" >&2
  # Build once (first run); later runs reuse the binary.
  if [[ $i -gt 1 ]]; then export SKIP_BUILD=1; fi
  TARGETS="$order" bench/run.sh 2>/dev/null | grep -E '^\| [0-9]+ \| (nginx|haproxy|tollgate) \|' >>"$rows" || {
    echo "[repeat] run $i failed" >&2
    exit 1
  }
done

python3 - "$rows" "$REPEAT" <<'EOF'
import statistics, sys
from collections import defaultdict

rows, repeat = sys.argv[1], int(sys.argv[2])
data = defaultdict(lambda: defaultdict(list))
for line in open(rows):
    cells = [c.strip() for c in line.strip().strip('|').split('|')]
    workers, target = cells[0], cells[1]
    data[(workers, target)]['rps'].append(float(cells[2]))
    data[(workers, target)]['p99'].append(float(cells[4]))
    try:
        data[(workers, target)]['core'].append(float(cells[9]))
    except ValueError:
        pass

med = lambda xs: statistics.median(xs) if xs else float('nan')
print(f"Medians of {repeat} interleaved runs (min–max in brackets)\n")
print("| workers | target | req/s | p99 ms | req/s per core |")
print("|--:|---|--:|--:|--:|")
for (w, t), d in sorted(data.items()):
    print(f"| {w} | {t} | {med(d['rps']):.0f} [{min(d['rps']):.0f}–{max(d['rps']):.0f}] "
          f"| {med(d['p99']):.3f} [{min(d['p99']):.3f}–{max(d['p99']):.3f}] "
          f"| {med(d['core']):.0f} |")
print("\n| workers | req/s tollgate/nginx | req/s tollgate/haproxy | p99 tollgate/nginx | p99 tollgate/haproxy |")
print("|--:|--:|--:|--:|--:|")
for w in sorted({w for w, _ in data}):
    tg, ng, hp = data.get((w, 'tollgate')), data.get((w, 'nginx')), data.get((w, 'haproxy'))
    if not tg:
        continue
    r = lambda a, b, k: f"{med(a[k]) / med(b[k]):.2f}" if a and b else "n/a"
    print(f"| {w} | {r(tg, ng, 'rps')} | {r(tg, hp, 'rps')} | {r(tg, ng, 'p99')} | {r(tg, hp, 'p99')} |")
EOF
