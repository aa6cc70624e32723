#!/usr/bin/env bash
# Run bench/run.sh several times with the targets in a rotated order, then report the median
# of each figure per target and the ratios of the medians. On a small shared machine a single
# run's spread is larger than the differences being measured (see RESULTS.md); medians of
# interleaved runs are what to compare.
#
#   bench/repeat.sh                 # REPEAT=5 runs, DURATION=10s each, WORKERS="1 2"
#   REPEAT=7 DURATION=8s WORKERS=1 bench/repeat.sh
#   TARGETS="tollgate tollgate-nometer" bench/repeat.sh   # only the cost of metering
#
# TARGETS (default "nginx haproxy tollgate tollgate-nometer") is rotated by one position per run.
# tollgate and tollgate-nometer move as one block, always adjacent, and which of the two goes
# first alternates from run to run, so the metering comparison sees the same machine state.
# Every other environment variable is passed on to run.sh (WARMUP, CONNECTIONS, THREADS, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

REPEAT=${REPEAT:-5}
TARGETS=${TARGETS:-"nginx haproxy tollgate tollgate-nometer"}
export DURATION=${DURATION:-10s}
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || { echo "REPEAT must be a positive integer" >&2; exit 2; }
read -r -a targets <<<"$TARGETS"
((${#targets[@]})) || { echo "TARGETS is empty" >&2; exit 2; }

# Rotation units: every target alone, except tollgate + tollgate-nometer, one unit when both run.
pair=0
[[ " $TARGETS " == *" tollgate "* && " $TARGETS " == *" tollgate-nometer "* ]] && pair=1
units=()
for t in "${targets[@]}"; do
  if ((pair)) && [[ $t == tollgate || $t == tollgate-nometer ]]; then
    [[ " ${units[*]-} " == *" PAIR "* ]] || units+=(PAIR)
  else
    units+=("$t")
  fi
done

rows=$(mktemp)
errlog=$(mktemp)
trap 'rm -f "$rows" "$errlog"' EXIT

for i in $(seq 1 "$REPEAT"); do
  k=$(((i - 1) % ${#units[@]}))
  order=''
  for u in "${units[@]:k}" "${units[@]:0:k}"; do
    if [[ $u == PAIR ]]; then
      ((i % 2)) && u="tollgate tollgate-nometer" || u="tollgate-nometer tollgate"
    fi
    order+="${order:+ }$u"
  done
  echo "[repeat] run $i/$REPEAT, order: $order" >&2
  # Build once (first run); later runs reuse the binary.
  if [[ $i -gt 1 ]]; then export SKIP_BUILD=1; fi
  TARGETS="$order" bench/run.sh 2>"$errlog" |
    grep -E '^\| [0-9]+ \| (upstream \(direct\)|nginx|haproxy|tollgate|tollgate-nometer) \|' |
    sed "s/^/$i /" >>"$rows" || {
    echo "[repeat] run $i failed; the end of its output:" >&2
    tail -n 20 "$errlog" >&2
    exit 1
  }
  grep -E 'WARNING|ERROR' "$errlog" | sed "s/^/[repeat] run $i: /" >&2 || true
done

python3 - "$rows" "$REPEAT" <<'PY'
import statistics, sys
from collections import defaultdict

rows, repeat = sys.argv[1], int(sys.argv[2])
data = defaultdict(lambda: defaultdict(list))   # (workers, target) -> figure -> [values]
per_run = defaultdict(dict)                     # (run, workers) -> target -> {figure: value}
for line in open(rows):
    run, rest = line.split(' ', 1)
    cells = [c.strip() for c in rest.strip().strip('|').split('|')]
    workers, target = cells[0], cells[1]
    fig = {'rps': float(cells[2]), 'p99': float(cells[4])}
    try:
        fig['core'] = float(cells[9])
    except ValueError:
        pass
    for k, v in fig.items():
        data[(workers, target)][k].append(v)
    per_run[(run, workers)][target] = fig

med = lambda xs: statistics.median(xs) if xs else float('nan')
workers_all = sorted({w for w, _ in data}, key=int)
print(f"Medians of {repeat} interleaved runs (min–max in brackets)\n")
print("| workers | target | req/s | p99 ms | req/s per core |")
print("|--:|---|--:|--:|--:|")
for (w, t), d in sorted(data.items(), key=lambda kv: (int(kv[0][0]), kv[0][1])):
    print(f"| {w} | {t} | {med(d['rps']):.0f} [{min(d['rps']):.0f}–{max(d['rps']):.0f}] "
          f"| {med(d['p99']):.3f} [{min(d['p99']):.3f}–{max(d['p99']):.3f}] "
          f"| {med(d['core']):.0f} |")

r = lambda a, b, k: f"{med(a[k]) / med(b[k]):.2f}" if a and b and a[k] and b[k] else "n/a"
if any((w, 'tollgate') in data and ((w, 'nginx') in data or (w, 'haproxy') in data) for w in workers_all):
    print("\n| workers | req/s tollgate/nginx | req/s tollgate/haproxy | p99 tollgate/nginx | p99 tollgate/haproxy |")
    print("|--:|--:|--:|--:|--:|")
    for w in workers_all:
        tg, ng, hp = data.get((w, 'tollgate')), data.get((w, 'nginx')), data.get((w, 'haproxy'))
        if not tg:
            continue
        print(f"| {w} | {r(tg, ng, 'rps')} | {r(tg, hp, 'rps')} | {r(tg, ng, 'p99')} | {r(tg, hp, 'p99')} |")

# Metering overhead: tollgate (metering on) / tollgate-nometer (off). The paired ratio of each run
# (the two ran back to back) is less sensitive to drift between runs than the ratio of medians.
if any((w, 'tollgate') in data and (w, 'tollgate-nometer') in data for w in workers_all):
    print("\nMetering overhead, tollgate (on) / tollgate-nometer (off). Target: metering costs at most 3 % of")
    print("req/s, i.e. req/s ratio ≥ 0.97. \"paired\" = median [min–max] of each run's ratio (the two ran back")
    print("to back); \"of medians\" = ratio of the medians above.\n")
    print("| workers | req/s on/off paired | req/s on/off of medians | p99 on/off paired | p99 on/off of medians | req/s cost of metering (paired) |")
    print("|--:|--:|--:|--:|--:|--:|")
    for w in workers_all:
        on, off = data.get((w, 'tollgate')), data.get((w, 'tollgate-nometer'))
        if not on or not off:
            continue
        pr = {k: [d['tollgate'][k] / d['tollgate-nometer'][k]
                  for (run, ww), d in per_run.items()
                  if ww == w and 'tollgate' in d and 'tollgate-nometer' in d and d['tollgate-nometer'][k]]
              for k in ('rps', 'p99')}
        paired = lambda xs: f"{med(xs):.3f} [{min(xs):.3f}–{max(xs):.3f}]" if xs else "n/a"
        cost = f"{(1 - med(pr['rps'])) * 100:.1f} %" if pr['rps'] else "n/a"
        print(f"| {w} | {paired(pr['rps'])} | {r(on, off, 'rps')} | {paired(pr['p99'])} | {r(on, off, 'p99')} | {cost} |")
PY
