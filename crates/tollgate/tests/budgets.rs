//! Dollar budgets through the real binary: spend priced from the ledger crosses thresholds,
//! each alert is posted to the webhook once, and at the limit the key is blocked with
//! tollgate's own 429 — metered as non-billable `budget_exceeded`.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{client, Gateway};
use tollgate_store::{Ledger, OpenMode, SqliteLedger, SqliteOptions};
use tollgate_test_support::{spawn_lambda, LambdaReply};
use tollgate_types::usage::{Dimension, UsageQuery};

#[tokio::test(flavor = "multi_thread")]
async fn a_budget_alerts_at_its_thresholds_then_blocks_its_key() {
    // The webhook receiver: the Lambda mock records every JSON body posted to it.
    let hook = spawn_lambda(|_, _| LambdaReply::Ok(b"{}".to_vec())).await;
    let webhook = format!("{}/2015-03-31/functions/hook/invocations", hook.endpoint());
    // us-east-1 HTTP APIs cost $1.00 per million requests: $0.000001 each (plus a few
    // bytes out). A $0.000003 budget is reached by the third request.
    let config = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
metering: {{flush_interval_ms: 200}}
api_keys:
  - {{id: demo, value: demo-key-123}}
  - {{id: other, value: other-key-456}}
usage_plans:
  - {{name: p, keys: [demo, other], stages: [{{api: shop}}]}}
budgets:
  - name: demo-monthly
    key: demo
    limit_usd: "0.000003"
    alert_at_percent: [50, 100]
    webhook: "{webhook}"
    on_limit: block
  - {{name: shop-watch, api: shop, limit_usd: "1000"}}
apis:
  - name: shop
    routes:
      - {{key: "GET /keyed", integration: ok, api_key_required: true}}
    integrations:
      ok: {{type: mock, status: 200, body: "ok"}}
"#
    );
    let mut gw = Gateway::start_with(&config, &["--workers", "2"]);
    let c = client();
    let url = format!("{}/keyed", gw.url("main"));
    let send = |key: &'static str| {
        let c = c.clone();
        let url = url.clone();
        async move {
            let r = c.get(&url).header("x-api-key", key).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    for _ in 0..2 {
        assert_eq!(send("demo-key-123").await.0, 200);
    }
    let alerts = |hook: &tollgate_test_support::LambdaServer| -> Vec<Value> {
        hook.events().into_iter().map(|(_, v)| v).collect()
    };
    assert!(
        Gateway::eventually(Duration::from_secs(10), || alerts(&hook).len() == 1),
        "the 50 % alert: {:?}\n{}",
        alerts(&hook),
        gw.stderr()
    );
    let first = &alerts(&hook)[0];
    assert_eq!(first["budget"], "demo-monthly");
    assert_eq!(first["threshold_percent"], 50);
    assert_eq!(first["limit_usd"], "0.000003");
    assert_eq!(first["on_limit"], "block");
    assert!(
        first["spend_usd"].as_str().unwrap().starts_with("0.000002"),
        "{first}"
    );

    assert_eq!(send("demo-key-123").await.0, 200);
    let mut blocked = false;
    for _ in 0..100 {
        let (status, body) = send("demo-key-123").await;
        if status == 429 {
            assert_eq!(body, r#"{"message":"Budget Exceeded"}"#);
            blocked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(blocked, "the key is blocked once its budget is spent");
    assert!(Gateway::eventually(Duration::from_secs(5), || alerts(
        &hook
    )
    .len()
        == 2));
    assert_eq!(alerts(&hook)[1]["threshold_percent"], 100);
    // Another key, and the budget that only alerts, are not affected.
    assert_eq!(send("other-key-456").await.0, 200);

    let status: Value = c
        .get(format!("{}/admin/budgets", gw.admin_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let demo = status["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "demo-monthly")
        .unwrap_or_else(|| panic!("{status}"))
        .clone();
    assert_eq!(demo["reached"], true);
    let shop = status["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "shop-watch")
        .unwrap();
    assert_eq!(shop["reached"], false);

    gw.signal("TERM");
    assert!(gw.wait(Duration::from_secs(20)).is_some());
    assert_eq!(alerts(&hook).len(), 2, "each threshold is announced once");
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
            group_by: vec![Dimension::Reason, Dimension::Key],
        })
        .unwrap();
    let refused: u64 = rows
        .iter()
        .filter(|r| {
            r.meter.name() == "http_requests"
                && r.group == ["budget_exceeded", "demo"]
                && !r.billable
        })
        .map(|r| r.counts.events)
        .sum();
    assert!(refused >= 1, "{rows:#?}");
}
