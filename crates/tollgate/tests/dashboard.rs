//! The dashboard at the admin listener's `/`, over a simulated month:
//!
//! - `/admin/timeseries` and `/admin/dimensions`, the JSON it draws from, agree with
//!   `/admin/cost`; the page and its assets load without the admin token, the API does not.
//! - A real browser (Debian's Chromium driven by Playwright, `dashboard_check.py`) sees the
//!   charts drawn with data, sees them change when a filter changes, works with `?token=`
//!   against a listener with an admin token, shows an imported AWS bill's figures when "AWS
//!   bill" is selected, and saves the screenshots the README shows (docs/img/dashboard-*.png).
//!
//! The browser test needs `/usr/bin/chromium` (or `$TOLLGATE_CHROMIUM`) and a Python with
//! `playwright` (`$TOLLGATE_TEST_PYTHON`, else target/pyenv); `./scripts/test.sh` installs
//! both and sets `TOLLGATE_REQUIRE_BROWSER=1`, so CI fails rather than skips without them.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::Value;
use support::{binary, client, Gateway};

/// A simulated ledger: 62 days ending today (so the last 30 days have a whole previous period
/// to compare with), a retry storm 8 days ago and idle WebSocket connections from 16 days ago.
fn simulate(dir: &std::path::Path) -> String {
    let db = dir.join("ledger.db");
    let store = format!("sqlite://{}", db.display());
    let out = Command::new(binary())
        .args(["simulate", "--store", &store, "--days", "62", "--seed", "7"])
        .args(["--scenario", "retry-storm:day=55"])
        .args(["--scenario", "idle-websockets:day=47"])
        .output()
        .expect("run tollgate simulate");
    assert!(
        out.status.success(),
        "simulate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    store
}

fn config(store: &str, admin_extra: &str) -> String {
    format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"{admin_extra}}}
metering: {{store: "{store}"}}
apis:
  - name: shop
    routes: [{{key: "GET /x", integration: m}}]
    integrations: {{m: {{type: mock}}}}
"#
    )
}

fn money(v: &Value) -> Decimal {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("a decimal string: {v}"));
    Decimal::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn timeseries_adds_up_to_the_cost_report_and_the_page_needs_no_token() {
    let sim = tempfile::tempdir().expect("temp dir");
    let store = simulate(sim.path());
    let gw = Gateway::start(&config(&store, ""));
    let c = client();
    let get = |path: String| {
        let req = c.get(format!("{}{path}", gw.admin_url()));
        async move {
            let r = req.send().await.expect("admin answers");
            (r.status().as_u16(), r.json::<Value>().await.expect("JSON"))
        }
    };
    // A fixed window inside the simulation: the last 10 whole days.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let today = now - now % 86_400;
    let day = support::utc_date;
    let (from, to) = (day(today - 10 * 86_400), day(today));

    let (status, cost) = get(format!("/admin/cost?from={from}&to={to}")).await;
    assert_eq!(status, 200, "{cost}");
    let (status, ts) = get(format!(
        "/admin/timeseries?from={from}&to={to}&by=api&interval=day"
    ))
    .await;
    assert_eq!(status, 200, "{ts}");
    assert_eq!(ts["interval"], "day");
    assert_eq!(ts["buckets"].as_array().map(Vec::len), Some(10), "{ts}");
    let names: Vec<&str> = ts["series"]
        .as_array()
        .expect("series")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for api in ["chat", "legacy", "shop"] {
        assert!(names.contains(&api), "{api} in {names:?}");
    }
    // Bucket costs are priced like the report, so they add up to its total (each bucket is
    // rounded at attribution's 10th decimal).
    let total = money(&ts["total"]);
    let summed: Decimal = ts["totals"]
        .as_array()
        .expect("totals")
        .iter()
        .map(money)
        .sum();
    assert_eq!(total, summed);
    let diff = (total - money(&cost["total"])).abs();
    assert!(
        diff < Decimal::new(1, 6),
        "timeseries {total} vs cost report {}",
        cost["total"]
    );

    // Routes of one API, hourly.
    let (status, shop) = get(format!(
        "/admin/timeseries?from={to}T00:00:00Z&to={to}T00:00:00Z&by=route&api=shop"
    ))
    .await;
    assert_eq!(status, 400, "an empty period is refused: {shop}");
    let (status, shop) = get(format!(
        "/admin/timeseries?from={}&to={to}&by=route&api=shop&interval=hour",
        day(today - 86_400)
    ))
    .await;
    assert_eq!(status, 200, "{shop}");
    assert_eq!(shop["buckets"].as_array().map(Vec::len), Some(24));
    let series = shop["series"].as_array().expect("series");
    assert!(series.len() >= 4, "{shop}");
    for s in series {
        assert_eq!(s["api"], "shop", "{s}");
        assert!(s["route"].is_string(), "{s}");
    }

    for bad in ["by=colour", "interval=week", "colour=red", "tag=team"] {
        let (status, e) = get(format!("/admin/timeseries?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {e}");
        assert!(e["message"].is_string(), "{e}");
    }

    let (status, dims) = get(format!("/admin/dimensions?from={from}&to={to}")).await;
    assert_eq!(status, 200, "{dims}");
    assert_eq!(dims["apis"], serde_json::json!(["chat", "legacy", "shop"]));
    assert!(
        dims["tags"]["team"]
            .as_array()
            .is_some_and(|v| !v.is_empty()),
        "{dims}"
    );

    // With a token, the page still loads (it holds no data); the API needs the token.
    let locked = Gateway::start(&config(&store, ", token: s3cret-admin"));
    let page = c
        .get(format!("{}/", locked.admin_url()))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let js = c
        .get(format!("{}/assets/app.js", locked.admin_url()))
        .send()
        .await
        .expect("app.js");
    assert_eq!(js.status().as_u16(), 200);
    assert!(js.headers().contains_key("etag"));
    let api = format!(
        "{}/admin/timeseries?from={from}&to={to}",
        locked.admin_url()
    );
    assert_eq!(
        c.get(&api).send().await.expect("api").status().as_u16(),
        401
    );
    let ok = c
        .get(&api)
        .bearer_auth("s3cret-admin")
        .send()
        .await
        .expect("api");
    assert_eq!(ok.status().as_u16(), 200);
}

/// Imports fixtures/aws/cur2-2026-10.csv.gz into `store` and returns `tollgate cost bill`'s
/// total for `[from, to)`, as its JSON writes it.
fn import_bill(store: &str, from: &str, to: &str) -> String {
    let file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/aws/cur2-2026-10.csv.gz");
    let out = Command::new(binary())
        .args(["aws", "import", "--store", store])
        .arg(&file)
        .output()
        .expect("run tollgate aws import");
    assert!(
        out.status.success(),
        "aws import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(binary())
        .args(["cost", "bill", "--store", store, "--format", "json"])
        .args(["--from", from, "--to", to])
        .output()
        .expect("run tollgate cost bill");
    assert!(
        out.status.success(),
        "cost bill failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bill: Value = serde_json::from_slice(&out.stdout).expect("cost bill JSON");
    bill["total"]["USD"]
        .as_str()
        .unwrap_or_else(|| panic!("a USD total: {bill}"))
        .to_owned()
}

/// Chromium, or why not.
fn chromium() -> Result<PathBuf, String> {
    let path: PathBuf = std::env::var_os("TOLLGATE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "no Chromium at {} (apt-get install chromium)",
            path.display()
        ))
    }
}

/// A Python with Playwright: `$TOLLGATE_TEST_PYTHON` (set by scripts/test.sh), else the venv
/// the test command creates; or why not.
fn python() -> Result<PathBuf, String> {
    let path: PathBuf = std::env::var_os("TOLLGATE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python3")
        });
    let has_playwright = Command::new(&path)
        .args(["-c", "import playwright.sync_api"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if has_playwright {
        Ok(path)
    } else {
        Err(format!(
            "no Python with playwright at {} (target/pyenv/bin/pip install playwright)",
            path.display()
        ))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_renders_in_chromium_and_filters_redraw() {
    let (browser, python) = match (chromium(), python()) {
        (Ok(b), Ok(p)) => (b, p),
        (b, p) => {
            let why: Vec<String> = [b.err(), p.err()].into_iter().flatten().collect();
            let why = why.join("; ");
            if std::env::var_os("TOLLGATE_REQUIRE_BROWSER").is_some() {
                panic!(
                    "TOLLGATE_REQUIRE_BROWSER is set but the browser test cannot run: {why}. \
                     ./scripts/test.sh installs both."
                );
            }
            eprintln!(
                "SKIPPED dashboard browser test: {why}. Run ./scripts/test.sh (it installs \
                 Chromium and Playwright and sets TOLLGATE_REQUIRE_BROWSER=1)."
            );
            return;
        }
    };

    let sim = tempfile::tempdir().expect("temp dir");
    let store = simulate(sim.path());
    // An AWS bill for October 2026 in the same store (fixtures/aws): the page's "AWS bill"
    // must show what `tollgate cost bill` says for the month.
    let (bill_month, bill_last_day) = ("2026-10", "2026-10-31");
    let bill_total = import_bill(&store, "2026-10-01", "2026-11-01");
    let gw = Gateway::start(&config(&store, ""));
    let locked = Gateway::start(&config(&store, ", token: s3cret-admin"));
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/img");
    std::fs::create_dir_all(&out).expect("create docs/img");

    // Output to files, not pipes: a chatty script can never block on a full pipe.
    let log_out = sim.path().join("check.out");
    let log_err = sim.path().join("check.err");
    let started = Instant::now();
    let mut child = Command::new(&python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/dashboard_check.py"
        ))
        .arg("--url")
        .arg(format!("{}/", gw.admin_url()))
        .arg("--chromium")
        .arg(&browser)
        .arg("--out")
        .arg(&out)
        .arg("--token-url")
        .arg(format!("{}/", locked.admin_url()))
        .args(["--token", "s3cret-admin"])
        .args(["--bill-month", bill_month, "--bill-last-day", bill_last_day])
        .args(["--bill-total", &bill_total])
        .stdout(std::fs::File::create(&log_out).expect("create check.out"))
        .stderr(std::fs::File::create(&log_err).expect("create check.err"))
        .spawn()
        .expect("start the Playwright script");
    // Bounded: the script's own waits end in 3 minutes; never hang the suite.
    let deadline = started + Duration::from_secs(300);
    let status = loop {
        match child.try_wait().expect("wait for the Playwright script") {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the browser check ran over 5 minutes");
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let stdout = std::fs::read_to_string(&log_out).unwrap_or_default();
    let stderr = std::fs::read_to_string(&log_err).unwrap_or_default();
    assert!(
        status.success(),
        "dashboard check failed ({status}):\n{stderr}\n{stdout}\ngateway:\n{}",
        gw.stderr()
    );
    eprintln!(
        "dashboard check passed in {:.1} s: {stdout}",
        started.elapsed().as_secs_f64()
    );
    for name in [
        "dashboard-overview.png",
        "dashboard-routes.png",
        "dashboard-bill.png",
    ] {
        let len = std::fs::metadata(out.join(name)).map_or(0, |m| m.len());
        assert!(len > 10_000, "{name} is {len} bytes");
    }
}
