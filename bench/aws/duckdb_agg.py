#!/usr/bin/env python3
"""DuckDB side of bench/aws/run.sh, and the check that both tools found the same totals.

  duckdb_agg.py query --threads N FILE > duckdb.json
      Runs, in DuckDB, the aggregation `tollgate aws import --dry-run` does on a CUR 2.0 file:
      the API Gateway lines (line_item_product_code = 'AmazonApiGateway') grouped by usage
      account, region and meter, with their count, summed usage amount and summed unblended
      cost. Region and meter are derived the way tollgate derives them (crates/tollgate-aws/src/
      usage_type.rs): the product_region_code column when filled, else the usage type's billing
      prefix (USE1 -> us-east-1, ...); the meter from the usage type. DuckDB groups the file's
      rows by the raw columns (account, region column, usage type, line item type, currency)
      and maps the few hundred groups in an outer query; both steps are inside the timed query.
      Prints JSON: {"query_seconds", "rows": [{account, region, meter, currency, lines, usage,
      unblended_cost}]}.

  duckdb_agg.py store --threads N DB FILE > duckdb-store.json
      The counterpart of `tollgate aws import --store`: creates the DuckDB database DB on disk
      (it must not exist), imports the file's API Gateway rows into a table with
      `CREATE TABLE bill_lines AS SELECT <the columns tollgate keeps> FROM <file> WHERE
      line_item_product_code = 'AmazonApiGateway'`, checkpoints, then runs the aggregation
      above on that table. Prints the same JSON plus "import_seconds" (CREATE TABLE and
      CHECKPOINT) and "lines" (rows in the table).

  duckdb_agg.py compare TOLLGATE.json DUCKDB.json
      Compares tollgate's dry-run JSON with the above per (account, region, meter, currency):
      lines must be equal, usage and unblended cost within 1e-6. Prints one line; exit status 1
      on a mismatch.

Only the benchmark uses this (DuckDB from PyPI in target/bench-venv).
"""

import json
import sys
import time

# tollgate-aws usage_type.rs REGION_PREFIXES
REGION_PREFIXES = [
    ("USE1", "us-east-1"), ("USE2", "us-east-2"), ("USW1", "us-west-1"), ("USW2", "us-west-2"),
    ("UGW1", "us-gov-west-1"), ("UGE1", "us-gov-east-1"), ("CAN1", "ca-central-1"),
    ("CAN2", "ca-west-1"), ("EU", "eu-west-1"), ("EUW1", "eu-west-1"), ("EUW2", "eu-west-2"),
    ("EUW3", "eu-west-3"), ("EUC1", "eu-central-1"), ("EUC2", "eu-central-2"),
    ("EUN1", "eu-north-1"), ("EUS1", "eu-south-1"), ("EUS2", "eu-south-2"),
    ("APN1", "ap-northeast-1"), ("APN2", "ap-northeast-2"), ("APN3", "ap-northeast-3"),
    ("APS1", "ap-southeast-1"), ("APS2", "ap-southeast-2"), ("APS3", "ap-south-1"),
    ("APS4", "ap-southeast-3"), ("APS5", "ap-south-2"), ("APS6", "ap-southeast-4"),
    ("APE1", "ap-east-1"), ("SAE1", "sa-east-1"), ("MES1", "me-south-1"),
    ("MEC1", "me-central-1"), ("AFS1", "af-south-1"), ("ILC1", "il-central-1"),
]

# The columns the aggregation needs (CSV: their types, so the account id stays text).
CSV_TYPES = {
    "line_item_usage_account_id": "VARCHAR",
    "bill_payer_account_id": "VARCHAR",
    "product_region_code": "VARCHAR",
    "line_item_usage_type": "VARCHAR",
    "line_item_line_item_type": "VARCHAR",
    "line_item_currency_code": "VARCHAR",
    "line_item_product_code": "VARCHAR",
    "line_item_usage_amount": "DOUBLE",
    "line_item_unblended_cost": "DOUBLE",
}


def source(path):
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PAR1":
        return f"read_parquet('{path}')"
    types = ", ".join(f"'{k}': '{v}'" for k, v in CSV_TYPES.items())
    comp = ", compression = 'gzip'" if magic[:2] == b"\x1f\x8b" else ""
    return f"read_csv('{path}', header = true{comp}, types = {{{types}}})"


def sql(path, table=None):
    prefixes = ", ".join(f"('{p}', '{r}')" for p, r in REGION_PREFIXES)
    return f"""
WITH g AS (
  SELECT line_item_usage_account_id AS account,
         product_region_code        AS region_code,
         line_item_usage_type       AS usage_type,
         line_item_line_item_type   AS item_type,
         line_item_currency_code    AS currency,
         count(*)                       AS lines,
         sum(line_item_usage_amount)    AS usage,
         sum(line_item_unblended_cost)  AS cost
  FROM {table if table else source(path) + " WHERE line_item_product_code = 'AmazonApiGateway'"}
  GROUP BY ALL
),
prefixes(prefix, region) AS (VALUES {prefixes})
SELECT g.account,
       coalesce(nullif(g.region_code, ''), p.region, '(none)') AS region,
       CASE
         WHEN g.usage_type LIKE '%ApiGatewayHttpRequest%' THEN 'http_requests'
         WHEN g.usage_type LIKE '%ApiGatewayRequest%' THEN 'rest_requests'
         WHEN g.usage_type LIKE '%ApiGatewayMessage%' THEN 'websocket_messages'
         WHEN g.usage_type LIKE '%ApiGatewayMinute%' THEN 'websocket_connection_minutes'
         WHEN g.usage_type LIKE '%ApiGatewayCacheUsage%' THEN
           'cache_hours:' || regexp_extract(g.usage_type, 'ApiGatewayCacheUsage:([0-9.]+)G[Bb]', 1)
         WHEN g.usage_type LIKE '%DataTransfer-Out-Bytes%' THEN 'data_transfer_out_gb'
         ELSE '(none)'
       END AS meter,
       g.currency,
       sum(g.lines) AS lines, sum(g.usage) AS usage, sum(g.cost) AS cost
FROM g LEFT JOIN prefixes p
  ON strpos(g.usage_type, '-') > 0 AND split_part(g.usage_type, '-', 1) = p.prefix
GROUP BY ALL
ORDER BY ALL
"""


def query(threads, path):
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {int(threads)}")
    t0 = time.perf_counter()
    res = con.execute(sql(path)).fetchall()
    elapsed = time.perf_counter() - t0
    rows = [
        {"account": a, "region": r, "meter": m, "currency": c, "lines": int(n),
         "usage": float(u or 0), "unblended_cost": float(k or 0)}
        for a, r, m, c, n, u, k in res
    ]
    json.dump({"query_seconds": elapsed, "duckdb": duckdb.__version__, "threads": threads,
               "rows": rows}, sys.stdout)
    print()


# What `tollgate aws import --store` keeps of a CUR 2.0 line (crates/tollgate-store bill_lines):
# line item id, account, payer, region, usage type, operation, resource id, line item type,
# usage start and end, usage amount, unblended cost, currency, tags, cost categories. DuckDB
# keeps them in the file's types (doubles for amounts, timestamps, maps or JSON text for tags).
STORE_COLUMNS = [
    "identity_line_item_id", "line_item_usage_account_id", "bill_payer_account_id",
    "product_region_code", "line_item_usage_type", "line_item_operation",
    "line_item_resource_id", "line_item_line_item_type", "line_item_usage_start_date",
    "line_item_usage_end_date", "line_item_usage_amount", "line_item_unblended_cost",
    "line_item_currency_code", "resource_tags", "cost_category",
]


def store(threads, db, path):
    import os
    import duckdb

    if os.path.exists(db):
        sys.exit(f"{db} exists")
    con = duckdb.connect(db)
    con.execute(f"SET threads = {int(threads)}")
    t0 = time.perf_counter()
    cols = ", ".join(STORE_COLUMNS)
    con.execute(f"CREATE TABLE bill_lines AS SELECT {cols} FROM {source(path)} "
                "WHERE line_item_product_code = 'AmazonApiGateway'")
    con.execute("CHECKPOINT")
    t1 = time.perf_counter()
    res = con.execute(sql(path, table="bill_lines")).fetchall()
    t2 = time.perf_counter()
    lines = con.execute("SELECT count(*) FROM bill_lines").fetchone()[0]
    con.close()
    rows = [
        {"account": a, "region": r, "meter": m, "currency": c, "lines": int(n),
         "usage": float(u or 0), "unblended_cost": float(k or 0)}
        for a, r, m, c, n, u, k in res
    ]
    json.dump({"import_seconds": t1 - t0, "query_seconds": t2 - t1, "lines": lines,
               "duckdb": duckdb.__version__, "threads": threads, "rows": rows}, sys.stdout)
    print()


def compare(tollgate_path, duck_path, tol=1e-6):
    with open(tollgate_path) as f:
        tg = json.load(f)
    with open(duck_path) as f:
        dk = json.load(f)
    a = {(r["account"], r["region"], r["meter"], r["currency"]):
         (r["lines"], float(r["usage"]), float(r["unblended_cost"])) for r in tg["rows"]}
    b = {(r["account"], r["region"], r["meter"], r["currency"]):
         (r["lines"], r["usage"], r["unblended_cost"]) for r in dk["rows"]}
    problems = []
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            problems.append(f"group {k} only in {'tollgate' if k in a else 'duckdb'}")
            continue
        (la, ua, ca), (lb, ub, cb) = a[k], b[k]
        if la != lb:
            problems.append(f"{k}: lines {la} vs {lb}")
        if abs(ua - ub) > tol:
            problems.append(f"{k}: usage {ua} vs {ub}")
        if abs(ca - cb) > tol:
            problems.append(f"{k}: cost {ca!r} vs {cb!r} (diff {ca - cb:.3g})")
    lines = sum(v[0] for v in a.values())
    cost = sum(v[2] for v in a.values())
    max_diff = max((abs(a[k][2] - b[k][2]) for k in a if k in b), default=0.0)
    if problems:
        print(f"MISMATCH groups={len(a)}/{len(b)} " + "; ".join(problems[:5]))
        return 1
    print(f"OK groups={len(a)} lines={lines} cost={cost:.6f} max_cost_diff={max_diff:.3g}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "query" and sys.argv[2] == "--threads":
        query(sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 6 and sys.argv[1] == "store" and sys.argv[2] == "--threads":
        store(sys.argv[3], sys.argv[4], sys.argv[5])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
