"""Drive the dashboard in Debian's Chromium with Playwright (run by tests/dashboard.rs).

    dashboard_check.py --url http://127.0.0.1:PORT/ --chromium /usr/bin/chromium --out docs/img

Checks that the charts render with data, that changing the "stacked by" control and the API
filter changes what is drawn, that no panel shows an error (recommendations and live
connections may say "not available" while those endpoints answer 404) and that the page logs
no error; saves two screenshots into --out. With --token-url, also that a listener with a token
serves the page, which asks for the token and works with `?token=`. With --bill-month, also
that selecting "AWS bill" shows the imported bill's figures for that month. Prints one JSON line
of what it saw; exits 1 with the reason on the first failed check.
"""

import argparse
import json
import sys
import time

from playwright.sync_api import sync_playwright

# Endpoints that may answer 404 on a gateway built without them; the page says so.
OPTIONAL = ("/admin/recommendations", "/admin/connections")
READY_TIMEOUT_MS = 180_000


class CheckFailed(Exception):
    pass


def check(cond, message):
    if not cond:
        raise CheckFailed(message)


def wait_ready(page, after_generation):
    page.wait_for_function(
        "g => window.tollgate && window.tollgate.generation() > g"
        " && document.body.dataset.state === 'ready'",
        arg=after_generation,
        timeout=READY_TIMEOUT_MS,
    )


def generation(page):
    return page.evaluate("window.tollgate ? window.tollgate.generation() : 0")


# What a Chart.js chart holds, and whether its canvas has anything drawn on it.
CHART_STATE = """id => {
  const canvas = document.getElementById(id);
  const chart = window.Chart && window.Chart.getChart(canvas);
  if (!chart) return null;
  const ctx = canvas.getContext('2d');
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < img.length; i += 4) if (img[i] !== 0) painted++;
  let sum = 0, points = 0;
  for (const d of chart.data.datasets) for (const v of d.data) {
    if (typeof v === 'number' && Number.isFinite(v)) { sum += v; points++; }
  }
  return {
    labels: chart.data.labels.length,
    series: chart.data.datasets.map(d => d.label),
    points, sum, painted, width: canvas.width, height: canvas.height,
  };
}"""


def chart_state(page, canvas_id):
    s = page.evaluate(CHART_STATE, canvas_id)
    check(s is not None, f"no chart on #{canvas_id}")
    return s


def panel_status(page, panel_id):
    return page.evaluate(
        "id => { const p = document.getElementById(id);"
        " const e = p.querySelector('.error');"
        " return [p.dataset.status, e && !e.hidden ? e.textContent : ''] }",
        panel_id,
    )


def check_token(browser, url, token):
    """Against an admin listener with a token: the page loads, says the API needs the token,
    and with `?token=` draws and takes the token off the address bar."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector("#auth-note:not([hidden])", timeout=60_000)
        note = page.inner_text("#auth-note")
        check("token" in note, f"no token note: {note!r}")
        page.goto(url + "?token=" + token + "&period=7d", wait_until="domcontentloaded")
        page.wait_for_function(
            # A function, not an expression: the page's CSP forbids eval.
            "() => document.getElementById('p-over-time').dataset.status === 'ok'",
            timeout=READY_TIMEOUT_MS,
        )
        check("token" not in page.url, f"the token stayed in the address: {page.url}")
        check(chart_state(page, "chart-over-time")["sum"] > 0, "no data with the token")
        return "ok"
    finally:
        page.close()


def check_bill(page, args):
    """A month the store holds an imported AWS bill for: "Auto" shows the meter (the store has
    metered usage too); selecting "AWS bill" shows the bill's total for the month (the figure
    `tollgate cost bill` gives, passed in --bill-total), says it is the bill, and the views that
    read the meter only say so instead of drawing empty tables."""
    first, last = args.bill_month + "-01", args.bill_last_day
    page.goto(f"{args.url}?period=custom&from={first}&to={last}", wait_until="domcontentloaded")
    wait_ready(page, 0)
    data = page.evaluate("() => document.body.dataset.data")
    check(data == "metered", f"auto over a metered month shows {data!r}")
    metered_total = page.evaluate("() => document.getElementById('p-over-time').dataset.total")

    g = generation(page)
    page.select_option("#f-data", "bill")
    wait_ready(page, g)
    check("data=bill" in page.url, f"the data is not in the address: {page.url}")
    data = page.evaluate("() => document.body.dataset.data")
    check(data == "bill", f"with AWS bill selected the figures are {data!r}")
    note = page.inner_text("#data-note")
    check("AWS bill" in note and "unblended" in note, f"data note: {note!r}")
    badge = page.inner_text('#p-over-time .src')
    check(badge == "AWS bill", f"cost over time badge: {badge!r}")
    for pid in ("p-kpis", "p-over-time", "p-month", "p-anomalies"):
        status, message = panel_status(page, pid)
        check(status == "ok", f"with the bill, #{pid} is {status}: {message}")
    total = page.evaluate("() => document.getElementById('p-over-time').dataset.total")
    check(total == args.bill_total,
          f"cost over time total {total} != cost bill's {args.bill_total} (metered: {metered_total})")
    over = chart_state(page, "chart-over-time")
    check(abs(over["sum"] - float(args.bill_total)) < 0.01, f"bill chart sums to {over['sum']}")
    check(over["painted"] > 5_000, f"bill chart looks blank: {over}")
    want = page.evaluate(
        "t => new Intl.NumberFormat('en-US', {style: 'currency', currency: 'USD'}).format(Number(t))",
        args.bill_total,
    )
    shown = page.inner_text("#k-period")
    check(shown == want, f"selected period shows {shown!r}, the bill's total is {want}")
    stacks = page.evaluate("() => [...document.querySelectorAll('#c-by option')].map(o => o.value)")
    check("account" in stacks and "route" not in stacks, f"stack options over the bill: {stacks}")
    for pid in ("p-movers", "p-websockets"):
        status, message = panel_status(page, pid)
        check(status == "metered-only" and "Gateway meter only" in message,
              f"with the bill, #{pid} is {status}: {message!r}")
    # Recommendations read the bill too (the REST-to-HTTP advice).
    status, message = panel_status(page, "p-recommendations")
    check(status == "ok", f"with the bill, #p-recommendations is {status}: {message!r}")

    # Stacked by account: the same total.
    g = generation(page)
    page.select_option("#c-by", "account")
    wait_ready(page, g)
    by_account = page.evaluate("() => document.getElementById('p-over-time').dataset.total")
    check(by_account == args.bill_total, f"by account the bill totals {by_account}")
    page.locator("#p-over-time").scroll_into_view_if_needed()
    page.screenshot(path=f"{args.out}/dashboard-bill.png", full_page=True)
    return {"total": total, "shown": shown, "metered_total": metered_total}


def run(args):
    seen = {}
    errors = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=args.chromium,
            headless=True,
            # Root in a container has no user namespace for Chromium's sandbox.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})

            def on_console(msg):
                if msg.type != "error":
                    return
                where = (msg.location or {}).get("url", "")
                if "Failed to load resource" in msg.text and any(p in where for p in OPTIONAL):
                    return
                errors.append(f"console: {msg.text} ({where})")

            page.on("console", on_console)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

            started = time.monotonic()
            page.goto(args.url + "?period=30d", wait_until="domcontentloaded")
            wait_ready(page, 0)
            seen["first_load_s"] = round(time.monotonic() - started, 2)

            # Every panel answered; only the optional endpoints may be missing.
            for pid in ("p-kpis", "p-over-time", "p-month", "p-movers", "p-anomalies"):
                status, message = panel_status(page, pid)
                check(status == "ok", f"#{pid} is {status}: {message}")
            for pid in ("p-recommendations", "p-websockets"):
                status, message = panel_status(page, pid)
                check(status in ("ok", "unavailable", "partial"), f"#{pid} is {status}: {message}")
                seen[pid] = status

            over = chart_state(page, "chart-over-time")
            seen["over_time_by_api"] = over
            check(over["labels"] >= 28, f"cost over time has {over['labels']} buckets: {over}")
            check(len(over["series"]) >= 3, f"cost over time by API: {over['series']}")
            check(over["sum"] > 0, f"cost over time is all zero: {over}")
            # A blank canvas is all transparent; bars and axes paint thousands of pixels.
            check(over["painted"] > 5_000, f"cost over time looks blank: {over}")
            month = chart_state(page, "chart-month")
            seen["month"] = month
            check(month["points"] > 0 and month["sum"] > 0, f"month chart has no data: {month}")
            check(month["painted"] > 2_000, f"month chart looks blank: {month}")

            forecast = page.inner_text("#k-forecast")
            check(forecast.startswith("$"), f"forecast KPI: {forecast!r}")
            seen["forecast"] = forecast
            seen["interval"] = page.inner_text("#k-interval")
            movers = page.locator("#p-movers tbody tr").count()
            check(movers >= 1, "no top movers")
            anomalies = page.inner_text("#p-anomalies tbody")
            check("POST /orders" in anomalies, f"the retry storm is not listed: {anomalies[:400]}")
            ratio = page.inner_text("#w-ratio")
            check(ratio not in ("", "…", "—"), f"connection minutes per message: {ratio!r}")
            seen["ws_ratio"] = ratio

            page.screenshot(path=f"{args.out}/dashboard-overview.png", full_page=True)

            # Switch the stack to routes: other series, same total.
            g = generation(page)
            page.select_option("#c-by", "route")
            wait_ready(page, g)
            by_route = chart_state(page, "chart-over-time")
            seen["over_time_by_route"] = by_route
            check(by_route["series"] != over["series"], f"by=route drew the same series: {by_route}")
            check(any(s.startswith("shop ") for s in by_route["series"]), f"routes: {by_route['series']}")
            check(abs(by_route["sum"] - over["sum"]) < 0.01 * max(over["sum"], 1),
                  f"by=route total {by_route['sum']} != by=api total {over['sum']}")
            check(page.url.find("by=route") >= 0, f"the view is not in the address: {page.url}")

            # Filter on one API: only its routes, a smaller total, and the other panels follow.
            g = generation(page)
            page.select_option("#f-api", "shop")
            wait_ready(page, g)
            shop = chart_state(page, "chart-over-time")
            seen["over_time_shop_routes"] = shop
            check(shop["series"] and all(s.startswith("shop ") for s in shop["series"]),
                  f"api=shop drew other APIs: {shop['series']}")
            check(0 < shop["sum"] < by_route["sum"], f"api=shop total {shop['sum']} vs {by_route['sum']}")
            check(shop["painted"] > 5_000, f"api=shop chart looks blank: {shop}")
            for pid in ("p-kpis", "p-over-time", "p-month", "p-movers", "p-anomalies"):
                status, message = panel_status(page, pid)
                check(status == "ok", f"after api=shop, #{pid} is {status}: {message}")

            page.locator("#p-over-time").scroll_into_view_if_needed()
            page.screenshot(path=f"{args.out}/dashboard-routes.png", full_page=True)

            if args.bill_month:
                seen["bill"] = check_bill(page, args)

            check(not errors, "the page logged errors: " + "; ".join(errors))

            if args.token_url:
                seen["token"] = check_token(browser, args.token_url, args.token)
        finally:
            browser.close()
    return seen


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--out", required=True, help="directory for the screenshots")
    ap.add_argument("--token-url", help="the dashboard of an admin listener with a token")
    ap.add_argument("--token", default="", help="that listener's token")
    ap.add_argument("--bill-month", help="YYYY-MM of an imported AWS bill in the store")
    ap.add_argument("--bill-last-day", help="that month's last day, YYYY-MM-DD")
    ap.add_argument("--bill-total", help="`tollgate cost bill`'s total for that month")
    args = ap.parse_args()
    try:
        seen = run(args)
    except CheckFailed as e:
        print(f"dashboard check failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
