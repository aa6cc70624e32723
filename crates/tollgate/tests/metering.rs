//! The meter through the real binary: what concurrent clients send is what the ledger holds,
//! across SIGTERM under load, SIGKILL, and a ledger that cannot be written for a while.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{binary, client, Gateway};
use tollgate_store::{Ledger, OpenMode, SqliteLedger, SqliteOptions};
use tollgate_test_support::spawn_echo_upstream;
use tollgate_types::usage::{Dimension, UsageMeter, UsageQuery};

fn config(upstream: &str, metering: &str) -> String {
    format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
metering:
{metering}
apis:
  - name: shop
    id: shop1
    tags: {{team: payments}}
    routes:
      - {{key: "GET /ok", integration: ok}}
      - {{key: "GET /fail", integration: fail}}
      - {{key: "GET /gone", integration: gone}}
      - {{key: "POST /upload", integration: accepted}}
    integrations:
      ok: {{type: http_proxy, uri: "{upstream}/status/200"}}
      fail: {{type: http_proxy, uri: "{upstream}/status/500"}}
      gone: {{type: http_proxy, uri: "{upstream}/status/404"}}
      accepted: {{type: mock, status: 201, body: "stored"}}
"#
    )
}

/// Totals per (route, status class, reason, meter, billable): (units, events).
type Totals = BTreeMap<(String, String, String, String, bool), (u64, u64)>;

fn ledger_totals(gw: &Gateway) -> Totals {
    let path = gw.dir.path().join("tollgate.db");
    let mut ledger =
        SqliteLedger::open(&path, OpenMode::MustExist, SqliteOptions::default()).unwrap();
    let rows = ledger
        .query(&UsageQuery {
            from: 0,
            to: 4_102_444_800,
            group_by: vec![Dimension::Route, Dimension::Status, Dimension::Reason],
        })
        .unwrap();
    let mut out = Totals::new();
    for r in rows {
        let e = out
            .entry((
                r.group[0].clone(),
                r.group[1].clone(),
                r.group[2].clone(),
                r.meter.name().into_owned(),
                r.billable,
            ))
            .or_default();
        e.0 += r.counts.units;
        e.1 += r.counts.events;
    }
    out
}

fn events(t: &Totals, route: &str, meter: UsageMeter) -> u64 {
    t.iter()
        .filter(|((r, _, _, m, _), _)| r == route && *m == meter.name())
        .map(|(_, (_, e))| e)
        .sum()
}

fn total_events(t: &Totals, meter: UsageMeter) -> u64 {
    t.iter()
        .filter(|((_, _, _, m, _), _)| *m == meter.name())
        .map(|(_, (_, e))| e)
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_clients_are_metered_exactly() {
    let upstream = spawn_echo_upstream().await;
    let mut gw = Gateway::start_with(
        &config(&upstream.url(), "  flush_interval_ms: 200"),
        &["--workers", "2"],
    );
    let base = gw.url("main");
    let upload = vec![b'x'; 600 * 1024];
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let base = base.clone();
        let upload = upload.clone();
        tasks.push(tokio::spawn(async move {
            let c = client();
            let mut statuses = Vec::new();
            for i in 0..40u64 {
                let resp = match (t + i) % 5 {
                    0 => c.get(format!("{base}/ok")).send().await,
                    1 => c.get(format!("{base}/fail")).send().await,
                    2 => c.get(format!("{base}/gone")).send().await,
                    3 => c.get(format!("{base}/nowhere")).send().await,
                    _ => {
                        c.post(format!("{base}/upload"))
                            .body(upload.clone())
                            .send()
                            .await
                    }
                };
                statuses.push(resp.unwrap().status().as_u16());
            }
            statuses
        }));
    }
    let mut sent: BTreeMap<u16, u64> = BTreeMap::new();
    for t in tasks {
        for s in t.await.unwrap() {
            *sent.entry(s).or_default() += 1;
        }
    }
    assert_eq!(sent.values().sum::<u64>(), 320);
    assert_eq!(sent[&200], 64);
    assert_eq!(sent[&500], 64);
    assert_eq!(sent[&404], 128, "upstream 404s and unmatched routes");
    assert_eq!(sent[&201], 64);

    gw.signal("TERM");
    assert!(
        gw.wait(Duration::from_secs(20)).is_some(),
        "{}",
        gw.stderr()
    );
    let t = ledger_totals(&gw);
    let http = UsageMeter::HttpRequests;
    assert_eq!(events(&t, "GET /ok", http), 64, "{t:#?}");
    assert_eq!(events(&t, "GET /fail", http), 64);
    assert_eq!(events(&t, "GET /gone", http), 64);
    assert_eq!(events(&t, "POST /upload", http), 64);
    assert_eq!(events(&t, "", http), 64, "unmatched routes");
    assert_eq!(total_events(&t, http), 320);
    assert_eq!(total_events(&t, UsageMeter::DataOutBytes), 320);

    // Status classes and reasons as AWS would bill them: a backend's 500 is billable.
    let fail = &t[&(
        "GET /fail".to_string(),
        "5xx".to_string(),
        "integration".to_string(),
        "http_requests".to_string(),
        true,
    )];
    assert_eq!(*fail, (64, 64));
    let unmatched = &t[&(
        "".to_string(),
        "4xx".to_string(),
        "unmatched_route".to_string(),
        "http_requests".to_string(),
        true,
    )];
    assert_eq!(unmatched.1, 64);
    // 600 KB uploads are two 512 KB units each.
    let upload = &t[&(
        "POST /upload".to_string(),
        "2xx".to_string(),
        "mock".to_string(),
        "http_requests".to_string(),
        true,
    )];
    assert_eq!(*upload, (128, 64));
    // Bytes out: at least the bodies ("stored" = 6 bytes for each upload).
    let out = &t[&(
        "POST /upload".to_string(),
        "2xx".to_string(),
        "mock".to_string(),
        "data_out_bytes".to_string(),
        true,
    )];
    assert!(out.0 > 64 * 6 + 64 * 40, "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_loses_nothing() {
    let upstream = spawn_echo_upstream().await;
    let mut gw = Gateway::start_with(
        &config(&upstream.url(), "  flush_interval_ms: 1000"),
        &["--workers", "2"],
    );
    let base = gw.url("main");
    let answered = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let base = base.clone();
        let answered = Arc::clone(&answered);
        let stop = Arc::clone(&stop);
        tasks.push(tokio::spawn(async move {
            let c = client();
            // Bounded: at most 5000 requests per client, and the gateway stops long before.
            for _ in 0..5000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match c.get(format!("{base}/ok")).send().await {
                    Ok(r) if r.status() == 200 => {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    // The gateway is gone: this client is done.
                    Err(_) => break,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    gw.signal("TERM");
    assert!(
        gw.wait(Duration::from_secs(30)).is_some(),
        "{}",
        gw.stderr()
    );
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let answered = answered.load(Ordering::SeqCst);
    assert!(answered > 50, "the load was real: {answered}");
    let t = ledger_totals(&gw);
    assert_eq!(
        events(&t, "GET /ok", UsageMeter::HttpRequests),
        answered,
        "every answered request is in the ledger, once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_loses_at_most_the_last_flush_interval() {
    let upstream = spawn_echo_upstream().await;
    let gw = Gateway::start_with(
        &config(&upstream.url(), "  flush_interval_ms: 500"),
        &["--workers", "2"],
    );
    let c = client();
    for _ in 0..30 {
        let r = c
            .get(format!("{}/ok", gw.url("main")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Longer than a flush interval plus a write: everything must be on disk now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    gw.signal("KILL");
    let mut gw = gw;
    assert!(gw.wait(Duration::from_secs(10)).is_some());
    let t = ledger_totals(&gw);
    assert_eq!(events(&t, "GET /ok", UsageMeter::HttpRequests), 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_ledger_loses_nothing_once_it_is_back() {
    let upstream = spawn_echo_upstream().await;
    // A one-record buffer: the outage spills to the file right away.
    let mut gw = Gateway::start_with(
        &config(
            &upstream.url(),
            "  flush_interval_ms: 200\n  buffer_records: 1",
        ),
        &["--workers", "2"],
    );
    let c = client();
    let send = |n: usize| {
        let c = c.clone();
        let url = format!("{}/ok", gw.url("main"));
        async move {
            for _ in 0..n {
                assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
            }
        }
    };
    send(20).await;
    assert!(Gateway::eventually(Duration::from_secs(5), || {
        events(&ledger_totals(&gw), "GET /ok", UsageMeter::HttpRequests) == 20
    }));

    // Another process takes the write lock and holds it: the gateway cannot write.
    let db = gw.dir.path().join("tollgate.db");
    let spill = gw.dir.path().join("tollgate.db.spill");
    let locker = rusqlite::Connection::open(&db).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    send(30).await;
    assert!(
        Gateway::eventually(Duration::from_secs(5), || spill.exists()),
        "usage spilled while the ledger was locked: {}",
        gw.stderr()
    );
    // The outage shows on /metrics.
    let metrics = c
        .get(format!("{}/metrics", gw.admin_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in {metrics}"))
    };
    assert!(value("tollgate_meter_spilled_records_total") > 0.0);
    assert!(value("tollgate_meter_ledger_errors_total") > 0.0);
    assert_eq!(value("tollgate_meter_spill_pending"), 1.0);
    // The gateway kept answering; the ledger still shows the first 20 only.
    locker.execute_batch("COMMIT").unwrap();
    drop(locker);
    send(10).await;
    assert!(
        Gateway::eventually(Duration::from_secs(10), || {
            events(&ledger_totals(&gw), "GET /ok", UsageMeter::HttpRequests) == 60
        }),
        "{:#?}\n{}",
        ledger_totals(&gw),
        gw.stderr()
    );
    assert!(
        Gateway::eventually(Duration::from_secs(5), || !spill.exists()),
        "the spill file is removed once replayed"
    );
    gw.signal("TERM");
    assert!(gw.wait(Duration::from_secs(20)).is_some());
    assert_eq!(
        events(&ledger_totals(&gw), "GET /ok", UsageMeter::HttpRequests),
        60,
        "nothing counted twice"
    );
}

#[test]
fn serve_refuses_a_ledger_from_a_newer_tollgate_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tollgate.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("CREATE TABLE future(x); PRAGMA user_version = 999;")
            .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let cfg = dir.path().join("gateway.yaml");
    std::fs::write(&cfg, config("http://127.0.0.1:9", "  enabled: true")).unwrap();
    let out = Command::new(binary())
        .current_dir(dir.path())
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("schema version 999"), "{stderr}");
    assert!(stderr.contains("upgrade tollgate"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file is untouched");
}

#[tokio::test(flavor = "multi_thread")]
async fn metering_off_writes_no_ledger() {
    let upstream = spawn_echo_upstream().await;
    let mut gw = Gateway::start(&config(&upstream.url(), "  enabled: false"));
    let r = client()
        .get(format!("{}/ok", gw.url("main")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    gw.signal("TERM");
    assert!(gw.wait(Duration::from_secs(20)).is_some());
    assert!(!gw.dir.path().join("tollgate.db").exists());
}

fn report(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let store = format!("sqlite://{}", dir.join("tollgate.db").display());
    let out = Command::new(binary())
        .args(["cost", "report", "--store", &store])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_and_the_admin_api_show_what_was_metered() {
    let upstream = spawn_echo_upstream().await;
    let mut gw = Gateway::start_with(
        &config(&upstream.url(), "  flush_interval_ms: 200"),
        &["--workers", "2"],
    );
    let c = client();
    let base = gw.url("main");
    for _ in 0..12 {
        assert_eq!(
            c.get(format!("{base}/ok")).send().await.unwrap().status(),
            200
        );
    }
    for _ in 0..3 {
        assert_eq!(
            c.get(format!("{base}/fail")).send().await.unwrap().status(),
            500
        );
    }
    assert_eq!(
        c.get(format!("{base}/nowhere"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // The admin API, current to the flush interval.
    let admin = gw.admin_url();
    assert!(Gateway::eventually(Duration::from_secs(5), || {
        let body = std::process::Command::new("curl")
            .args(["-s", &format!("{admin}/admin/usage?by=route")])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body.stdout).unwrap_or_default();
        v["rows"].as_array().is_some_and(|rows| {
            rows.iter().any(|r| {
                r["route"] == "GET /ok"
                    && r["meter"] == "http_requests"
                    && r["billable_units"] == "12"
                    && r["billable_events"] == "12"
            })
        })
    }));
    let cost: serde_json::Value = c
        .get(format!("{admin}/admin/cost?by=api,route"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ok = cost["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == "GET /ok" && r["meter"] == "http_requests")
        .unwrap();
    assert_eq!(ok["api"], "shop1");
    // us-east-1 HTTP APIs: $1.00 per million (aws-facts.md §1.1).
    assert_eq!(ok["cost"], "0.000012");
    assert_eq!(cost["currency"], "USD");
    assert!(cost["total"].is_string());
    let bad = c
        .get(format!("{admin}/admin/cost?by=colour"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("colour"),
        "{body}"
    );

    gw.signal("TERM");
    assert!(gw.wait(Duration::from_secs(20)).is_some());
    let dir = gw.dir.path();

    let (code, out, err) = report(dir, &["--by", "route,status", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["group_by"], serde_json::json!(["route", "status"]));
    let rows = v["rows"].as_array().unwrap();
    let find = |route: &str, status: &str, meter: &str| {
        rows.iter()
            .find(|r| r["route"] == route && r["status"] == status && r["meter"] == meter)
            .unwrap_or_else(|| panic!("no row {route} {status} {meter} in {out}"))
            .clone()
    };
    assert_eq!(
        find("GET /ok", "2xx", "http_requests")["billable_units"],
        "12"
    );
    assert_eq!(
        find("GET /fail", "5xx", "http_requests")["billable_units"],
        "3"
    );
    assert_eq!(
        find("GET /fail", "5xx", "http_requests")["cost"],
        "0.000003"
    );
    assert_eq!(find("", "4xx", "http_requests")["billable_units"], "1");
    let data = find("GET /ok", "2xx", "data_transfer_out_gb");
    assert!(data["billable_units"]
        .as_str()
        .unwrap()
        .starts_with("0.000"));

    let (code, out, _) = report(dir, &["--by", "tag:team", "--format", "csv"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("tag:team,meter,"), "{out}");
    assert!(out.contains("payments,http_requests,"), "{out}");

    let (code, out, _) = report(dir, &["--by", "api"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("shop1") && out.to_lowercase().contains("total"),
        "{out}"
    );

    let (code, out, err) = report(dir, &["--format", "focus"]);
    assert_eq!(code, 0, "{err}");
    let header = out.lines().next().unwrap();
    for col in ["BilledCost", "ChargePeriodStart", "ServiceName", "x_Route"] {
        assert!(header.split(',').any(|c| c == col), "{header}");
    }
    assert!(out.contains("Amazon API Gateway"));

    let (code, _, err) = report(dir, &["--by", "colour"]);
    assert_eq!(code, 1);
    assert!(err.contains("colour"), "{err}");
    let (code, _, err) = report(dir, &["--from", "2026-13"]);
    assert_eq!(code, 1);
    assert!(err.contains("2026-13"), "{err}");
    let missing = dir.join("nothing-here");
    let (code, _, err) = report(&missing, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("no ledger"), "{err}");
    assert!(!missing.exists(), "a report never creates a ledger");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_offer_file_is_refused_naming_the_problem() {
    let upstream = spawn_echo_upstream().await;
    let mut gw = Gateway::start(&config(&upstream.url(), "  flush_interval_ms: 200"));
    let r = client()
        .get(format!("{}/ok", gw.url("main")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    gw.signal("TERM");
    assert!(gw.wait(Duration::from_secs(20)).is_some());
    let dir = gw.dir.path();
    let db = dir.join("tollgate.db");
    let before = std::fs::read(&db).unwrap();
    let bad = dir.join("offer.json");
    std::fs::write(&bad, r#"{"offerCode": "AmazonApiGateway", "products": 7}"#).unwrap();
    let (code, out, err) = report(dir, &["--offer-file", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("offer.json"), "{err}");
    assert!(out.is_empty());
    let missing = dir.join("nope.csv");
    let (code, _, err) = report(dir, &["--offer-file", missing.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("nope.csv"), "{err}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "a report never writes the ledger"
    );
}

/// The informational meters cost advice needs: a request repeating one that failed (5xx) from
/// the same client to the same route is a retry; bodies of 1 KB or more sent without
/// `Content-Encoding` count as uncompressed bytes. Neither is priced.
#[tokio::test(flavor = "multi_thread")]
async fn retries_and_uncompressed_bytes_are_metered() {
    let upstream = spawn_echo_upstream().await;
    let mut gw = Gateway::start_with(
        &config(&upstream.url(), "  flush_interval_ms: 200"),
        &["--workers", "1"],
    );
    let c = client();
    let base = gw.url("main");
    // Three failures in a row: the second and third are retries of the first.
    for _ in 0..3 {
        let r = c.get(format!("{base}/fail")).send().await.unwrap();
        assert_eq!(r.status(), 500);
    }
    // Requests to another route are not retries of those.
    for _ in 0..2 {
        let r = c.get(format!("{base}/ok")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    // `/ok` and `/fail` answer JSON bodies under 1 KB: no uncompressed bytes.
    gw.signal("TERM");
    assert!(gw
        .wait(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
    let t = ledger_totals(&gw);
    assert_eq!(events(&t, "GET /fail", UsageMeter::Retries), 2, "{t:?}");
    assert_eq!(events(&t, "GET /ok", UsageMeter::Retries), 0, "{t:?}");
    assert_eq!(total_events(&t, UsageMeter::UncompressedBytes), 0, "{t:?}");
    // Retries are informational: the report prices only the requests.
    let out = std::process::Command::new(support::binary())
        .current_dir(gw.dir.path())
        .args(["cost", "report", "--by", "route", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!report.to_string().contains("retries"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn large_uncompressed_bodies_are_metered() {
    let upstream = spawn_echo_upstream().await;
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
metering: {{flush_interval_ms: 200}}
apis:
  - name: files
    routes:
      - {{key: "GET /big", integration: big}}
    integrations:
      big: {{type: http_proxy, uri: "{}/big/5000"}}
"#,
        upstream.url()
    );
    let mut gw = Gateway::start(&yaml);
    let r = client()
        .get(format!("{}/big", gw.url("main")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), 5000);
    gw.signal("TERM");
    assert!(gw
        .wait(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
    let t = ledger_totals(&gw);
    let units: u64 = t
        .iter()
        .filter(|((_, _, _, m, _), _)| m == "uncompressed_bytes")
        .map(|(_, (u, _))| u)
        .sum();
    assert_eq!(units, 5000, "{t:?}");
}
