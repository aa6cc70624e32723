#!/usr/bin/env python3
"""Throttle accuracy and cost, against a running tollgate (see bench/throttle.sh).

Two measurements, both on 127.0.0.1:

1. accuracy: an open-loop client sends GET /limited at OVERLOAD x RATE requests/s for
   DURATION seconds (requests are scheduled on a fixed timetable, not sent as fast as answers
   come back), and counts 200s and 429s. The route is throttled at RATE/s with burst BURST, so
   the admitted rate should be RATE + BURST/DURATION. Prints the admitted rate and its error.

2. cost: the same closed-loop load (CONNS keep-alive connections, as fast as possible) on
   GET /open (no throttle) and GET /roomy (a throttle far above the load, so every request
   takes the bucket path and is admitted), interleaved ROUNDS times; prints the p50/p99 of each
   and their ratio.

Standard library only; prints one JSON object on stdout.
"""

import http.client
import json
import os
import statistics
import sys
import threading
import time

HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "18085"))
RATE = float(os.environ.get("RATE", "200"))
BURST = int(os.environ.get("BURST", "20"))
OVERLOAD = float(os.environ.get("OVERLOAD", "2"))
DURATION = float(os.environ.get("DURATION", "10"))
THREADS = int(os.environ.get("THREADS", "8"))
CONNS = int(os.environ.get("CONNS", "4"))
COST_SECONDS = float(os.environ.get("COST_SECONDS", "3"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def accuracy():
    send_rate = RATE * OVERLOAD
    start = time.monotonic() + 0.2
    counts = {"ok": 0, "throttled": 0, "other": 0, "late": 0}
    lock = threading.Lock()

    def worker(index):
        conn = http.client.HTTPConnection(HOST, PORT, timeout=5)
        interval = THREADS / send_rate
        n = 0
        local = {"ok": 0, "throttled": 0, "other": 0, "late": 0}
        while True:
            due = start + (n * THREADS + index) / send_rate
            if due >= start + DURATION:
                break
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -interval:
                local["late"] += 1
            conn.request("GET", "/limited")
            resp = conn.getresponse()
            resp.read()
            key = {200: "ok", 429: "throttled"}.get(resp.status, "other")
            local[key] += 1
            n += 1
        with lock:
            for k, v in local.items():
                counts[k] += v

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = RATE * DURATION + BURST
    return {
        "rate": RATE,
        "burst": BURST,
        "send_rate": send_rate,
        "duration_s": DURATION,
        "sent": counts["ok"] + counts["throttled"] + counts["other"],
        "admitted": counts["ok"],
        "throttled": counts["throttled"],
        "other_status": counts["other"],
        "sent_late": counts["late"],
        "expected_admitted": expected,
        "admitted_error": (counts["ok"] - expected) / expected,
    }


def closed_loop(path, seconds):
    latencies = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker():
        conn = http.client.HTTPConnection(HOST, PORT, timeout=5)
        mine = []
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            mine.append(time.perf_counter() - t0)
            if resp.status != 200:
                raise SystemExit(f"{path} answered {resp.status}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(CONNS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "p50_ms": q[49] * 1e3, "p99_ms": q[98] * 1e3}


def cost():
    rounds = []
    for r in range(ROUNDS):
        order = ["/open", "/roomy"] if r % 2 == 0 else ["/roomy", "/open"]
        result = {path: closed_loop(path, COST_SECONDS) for path in order}
        rounds.append(result)
    def med(path, field):
        return statistics.median(x[path][field] for x in rounds)
    return {
        "rounds": rounds,
        "p50_ms": {"open": med("/open", "p50_ms"), "throttled_route": med("/roomy", "p50_ms")},
        "p99_ms": {"open": med("/open", "p99_ms"), "throttled_route": med("/roomy", "p99_ms")},
        "p99_ratio_throttled_over_open": med("/roomy", "p99_ms") / med("/open", "p99_ms"),
        "requests": {"open": med("/open", "requests"), "throttled_route": med("/roomy", "requests")},
    }


if __name__ == "__main__":
    out = {"accuracy": accuracy()}
    time.sleep(1)
    out["cost"] = cost()
    json.dump(out, sys.stdout, indent=2)
    print()
