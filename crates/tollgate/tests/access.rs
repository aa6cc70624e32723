//! API keys, usage plans and throttles through the real binary: AWS's answers, quotas visible
//! on the admin API and kept across a reload, rejected traffic metered as non-billable.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{client, Gateway};
use tollgate_store::{Ledger, OpenMode, SqliteLedger, SqliteOptions};
use tollgate_types::usage::{Dimension, UsageQuery};

const CONFIG: &str = r#"
listeners: [{name: main, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
metering: {flush_interval_ms: 200}
api_keys:
  - {id: demo, value: demo-key-123}
  - {id: old, value: old-key-456, enabled: false}
  - {id: stray, value: stray-key-789}
usage_plans:
  - name: basic
    quota: {limit: 5, period: DAY}
    keys: [demo, old]
    stages: [{api: shop}]
apis:
  - name: shop
    stages:
      - name: $default
        route_throttle: {"GET /limited": {rate: 50, burst: 10}}
    routes:
      - {key: "GET /limited", integration: ok}
      - {key: "GET /keyed", integration: ok, api_key_required: true}
      - {key: "GET /open", integration: ok}
    integrations:
      ok: {type: mock, status: 200, body: "ok"}
"#;

async fn status_and_body(c: &reqwest::Client, url: &str, key: Option<&str>) -> (u16, String) {
    let mut req = c.get(url);
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_route_throttle_admits_its_burst_then_its_rate() {
    let gw = Gateway::start_with(CONFIG, &["--workers", "1"]);
    let c = client();
    let url = format!("{}/limited", gw.url("main"));
    let start = Instant::now();
    let mut admitted = 0u32;
    let mut throttled = 0u32;
    for _ in 0..40 {
        let (status, body) = status_and_body(&c, &url, None).await;
        match status {
            200 => admitted += 1,
            429 => {
                assert_eq!(body, r#"{"message":"Too Many Requests"}"#);
                throttled += 1;
            }
            s => panic!("unexpected status {s}"),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    // Burst 10 at once, then 50/s: never more than that (plus one token of rounding).
    assert!(admitted >= 10, "{admitted}");
    assert!(
        f64::from(admitted) <= 10.0 + 50.0 * elapsed + 1.0,
        "{admitted} in {elapsed}s"
    );
    assert!(
        throttled > 0,
        "40 requests in {elapsed}s must overflow a burst of 10"
    );
    // Other routes have no throttle.
    for _ in 0..20 {
        let (s, _) = status_and_body(&c, &format!("{}/open", gw.url("main")), None).await;
        assert_eq!(s, 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_and_quotas_answer_as_aws_and_are_metered_as_non_billable() {
    let mut gw = Gateway::start_with(CONFIG, &["--workers", "2"]);
    let c = client();
    let url = format!("{}/keyed", gw.url("main"));
    let forbidden = r#"{"message":"Forbidden"}"#;
    // No key, an unknown key, a disabled key, a key in no plan for this stage: 403.
    for key in [
        None,
        Some("nope"),
        Some("old-key-456"),
        Some("stray-key-789"),
    ] {
        let (s, body) = status_and_body(&c, &url, key).await;
        assert_eq!((s, body.as_str()), (403, forbidden), "key {key:?}");
    }
    for _ in 0..3 {
        assert_eq!(status_and_body(&c, &url, Some("demo-key-123")).await.0, 200);
    }
    // A reload keeps the quota used so far.
    let reload = c
        .post(format!("{}/admin/reload", gw.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status(), 200);
    for _ in 0..2 {
        assert_eq!(status_and_body(&c, &url, Some("demo-key-123")).await.0, 200);
    }
    let (s, body) = status_and_body(&c, &url, Some("demo-key-123")).await;
    assert_eq!((s, body.as_str()), (429, r#"{"message":"Limit Exceeded"}"#));

    let quotas: Value = c
        .get(format!("{}/admin/quotas", gw.admin_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let demo = quotas["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["key"] == "demo")
        .unwrap_or_else(|| panic!("{quotas}"));
    assert_eq!(demo["plan"], "basic");
    assert_eq!(demo["limit"], 5);
    assert_eq!(demo["used"], 5);
    assert_eq!(demo["remaining"], 0);
    assert!(demo["period_start"]
        .as_str()
        .unwrap()
        .ends_with("T00:00:00Z"));

    gw.signal("TERM");
    assert!(gw.wait(Duration::from_secs(20)).is_some());
    let mut ledger = SqliteLedger::open(
        gw.dir.path().join("tollgate.db"),
        OpenMode::MustExist,
        SqliteOptions::default(),
    )
    .unwrap();
    let rows = ledger
        .query(&UsageQuery {
            from: 0,
            to: 4_102_444_800,
            group_by: vec![Dimension::Route, Dimension::Reason, Dimension::Key],
        })
        .unwrap();
    let events = |reason: &str, key: &str, billable: bool| -> u64 {
        rows.iter()
            .filter(|r| {
                r.meter.name() == "http_requests"
                    && r.group[0] == "GET /keyed"
                    && r.group[1] == reason
                    && r.group[2] == key
                    && r.billable == billable
            })
            .map(|r| r.counts.events)
            .sum()
    };
    assert_eq!(events("missing_key", "", false), 4, "{rows:#?}");
    assert_eq!(events("mock", "demo", true), 5);
    assert_eq!(events("quota_exceeded", "demo", false), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_account_throttle_covers_every_route() {
    let config = CONFIG
        .replace(
            "metering: {flush_interval_ms: 200}",
            "metering: {enabled: false}\nthrottle: {rate: 1, burst: 3}",
        )
        .replace("{rate: 50, burst: 10}", "{rate: 1, burst: 3}");
    let gw = Gateway::start_with(&config, &["--workers", "1"]);
    let c = client();
    let mut statuses = Vec::new();
    for path in ["/open", "/open", "/limited", "/open", "/limited"] {
        statuses.push(
            status_and_body(&c, &format!("{}{path}", gw.url("main")), None)
                .await
                .0,
        );
    }
    // Three tokens for the whole account; the rest is throttled whatever the route.
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert_eq!(&statuses[3..], &[429, 429]);
}
