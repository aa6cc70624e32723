-- bench/report.lua — wrk script: after the run, print one machine-readable line that run.sh parses.
--
--   WRK_RESULT requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N p999_us=N max_us=N
--              mean_us=F non2xx=N err_connect=N err_read=N err_write=N err_timeout=N bytes=N
--
-- Latencies are wrk's own histogram percentiles (microseconds); `non2xx` is wrk's
-- "Non-2xx or 3xx responses" counter. The line is printed on one line (wrapped here for reading).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.2f non2xx=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d bytes=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean, e.status, e.connect, e.read, e.write, e.timeout, summary.bytes))
end
