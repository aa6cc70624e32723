//! `tollgate aws access-logs` meters a log as the gateway meters the traffic: run a known mix
//! of requests through the real gateway with an AWS-format JSON access log, stop it (SIGTERM
//! flushes the meter), import its log into a second store, and compare the two cost reports.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rust_decimal::Decimal;
use support::{binary, client, Gateway};
use tollgate_test_support::spawn_echo_upstream;

/// AWS's JSON example format (aws-facts §5.1) plus requestTimeEpoch, stage, apiId and
/// dataProcessed.
const FORMAT: &str = r#"{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", "requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod","routeKey":"$context.routeKey", "status":"$context.status","protocol":"$context.protocol", "responseLength":"$context.responseLength", "requestTimeEpoch":"$context.requestTimeEpoch", "stage":"$context.stage", "apiId":"$context.apiId", "dataProcessed":"$context.dataProcessed" }"#;

fn config(upstream: &str) -> String {
    format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
metering: {{flush_interval_ms: 200}}
access_log:
  destination: "{{dir}}/access.log"
  format: '{FORMAT}'
apis:
  - name: shop
    id: shop1
    stages:
      - name: $default
        route_throttle: {{"GET /limited": {{rate: 1, burst: 2}}}}
    routes:
      - {{key: "GET /mock", integration: mock}}
      - {{key: "POST /echo", integration: echo}}
      - {{key: "GET /fail", integration: fail}}
      - {{key: "GET /limited", integration: mock}}
    integrations:
      mock: {{type: mock, status: 200, body: "hello"}}
      echo: {{type: http_proxy, uri: "{upstream}/echo"}}
      fail: {{type: http_proxy, uri: "{upstream}/status/500"}}
"#
    )
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(binary()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Report rows by (api, route, status, meter): (billable units, non-billable units, cost).
type Rows = BTreeMap<(String, String, String, String), (Decimal, Decimal, Decimal)>;

fn report(db: &Path) -> (Rows, Decimal) {
    let store = format!("sqlite://{}", db.display());
    let (ok, out, err) = run(&[
        "cost",
        "report",
        "--store",
        &store,
        "--by",
        "api,route,status",
        "--format",
        "json",
        "--from",
        "2020-01",
        "--to",
        "2100-01",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let dec = |v: &serde_json::Value| -> Decimal { v.as_str().unwrap().parse().unwrap() };
    let mut rows = Rows::new();
    for r in v["rows"].as_array().unwrap() {
        let key = (
            r["api"].as_str().unwrap().to_owned(),
            r["route"].as_str().unwrap().to_owned(),
            r["status"].as_str().unwrap().to_owned(),
            r["meter"].as_str().unwrap().to_owned(),
        );
        let prev = rows.insert(
            key.clone(),
            (
                dec(&r["billable_units"]),
                dec(&r["non_billable_units"]),
                dec(&r["cost"]),
            ),
        );
        assert!(prev.is_none(), "one row per group: {key:?}");
    }
    (rows, dec(&v["total"]))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_imported_access_log_meters_what_the_gateway_metered() {
    let upstream = spawn_echo_upstream().await;
    let mut gw = Gateway::start_with(&config(&upstream.url()), &["--workers", "2"]);
    let c = client();
    let base = gw.url("main");
    let mut throttled = 0;
    for _ in 0..5 {
        assert_eq!(
            c.get(format!("{base}/mock")).send().await.unwrap().status(),
            200
        );
    }
    // Bodies of 0 B, 1 KB, exactly 512 KB (one unit) and 600 KB (two units).
    for size in [0usize, 1024, 512 * 1024, 600 * 1024] {
        let r = c
            .post(format!("{base}/echo"))
            .body(vec![b'a'; size])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    for _ in 0..2 {
        assert_eq!(
            c.get(format!("{base}/fail")).send().await.unwrap().status(),
            500
        );
    }
    for _ in 0..6 {
        match c
            .get(format!("{base}/limited"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
        {
            200 => {}
            429 => throttled += 1,
            s => panic!("unexpected status {s}"),
        }
    }
    assert!(throttled > 0, "the throttle refused some requests");
    for _ in 0..3 {
        assert_eq!(
            c.get(format!("{base}/nowhere"))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    }

    gw.signal("TERM");
    assert!(
        gw.wait(Duration::from_secs(30)).is_some(),
        "{}",
        gw.stderr()
    );
    let dir = gw.dir.path();
    let log = dir.join("access.log");
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(lines.lines().count(), 5 + 4 + 2 + 6 + 3, "{lines}");

    let imported = dir.join("imported.db");
    let store = format!("sqlite://{}", imported.display());
    let log_arg = log.display().to_string();
    let import = |format: &str| {
        run(&[
            "aws",
            "access-logs",
            "--store",
            &store,
            "--api-type",
            "http",
            "--format-string",
            FORMAT,
            "--format",
            format,
            &log_arg,
        ])
    };
    let (ok, out, err) = import("json");
    assert!(ok, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["files"][0]["status"], "imported", "{out}");
    assert_eq!(v["files"][0]["metered"], 20, "{out}");
    assert_eq!(v["files"][0]["malformed_count"], 0, "{out}");

    let (gateway_rows, gateway_total) = report(&dir.join("tollgate.db"));
    let (imported_rows, imported_total) = report(&imported);

    // Request units, billable flags and their cost: identical, row for row.
    let requests = |rows: &Rows| -> Rows {
        rows.iter()
            .filter(|(k, _)| k.3 == "http_requests")
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    assert_eq!(requests(&imported_rows), requests(&gateway_rows));
    let g = requests(&gateway_rows);
    let row = |route: &str, status: &str| {
        g[&(
            "shop1".into(),
            route.into(),
            status.into(),
            "http_requests".into(),
        )]
    };
    // 0 B, 1 KB, 512 KB: one unit each; 600 KB: two.
    assert_eq!(row("POST /echo", "2xx").0, Decimal::from(5));
    assert_eq!(row("GET /mock", "2xx").0, Decimal::from(5));
    assert_eq!(row("GET /fail", "5xx").0, Decimal::from(2));
    // Throttled: metered, never billable.
    assert_eq!(
        row("GET /limited", "4xx"),
        (Decimal::ZERO, Decimal::from(throttled), Decimal::ZERO)
    );
    // Unmatched routes are billable by default (metering.billable.unmatched_route).
    assert_eq!(row("", "4xx").0, Decimal::from(3));

    // Bytes out: the log has only the response bodies (`responseLength`), not the status
    // line and headers the gateway also meters, so the import is a lower bound, on the same
    // rows with the same billable flags.
    let data_out = |rows: &Rows| -> BTreeMap<_, _> {
        rows.iter()
            .filter(|(k, _)| k.3 != "http_requests")
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let (gd, id) = (data_out(&gateway_rows), data_out(&imported_rows));
    assert_eq!(gd.keys().collect::<Vec<_>>(), id.keys().collect::<Vec<_>>());
    for (k, g) in &gd {
        let i = id[k];
        assert!(
            i.0 <= g.0 && i.1 <= g.1,
            "{k:?}: imported {i:?} > gateway {g:?}"
        );
        assert_eq!(i.0.is_zero(), g.0.is_zero(), "{k:?}: same billable flag");
        assert_eq!(i.1.is_zero(), g.1.is_zero(), "{k:?}: same billable flag");
    }
    let request_cost = |rows: &Rows| -> Decimal {
        rows.iter()
            .filter(|(k, _)| k.3 == "http_requests")
            .map(|(_, v)| v.2)
            .sum()
    };
    assert_eq!(request_cost(&imported_rows), request_cost(&gateway_rows));
    assert!(imported_total <= gateway_total);
    assert!(imported_total >= request_cost(&gateway_rows));

    // Importing the same log again writes nothing.
    let (ok, out, err) = import("table");
    assert!(ok, "{out}{err}");
    assert!(out.contains("already imported"), "{out}");
    assert_eq!(report(&imported).0, imported_rows);
}

#[test]
fn bad_lines_are_reported_with_file_and_line_and_strict_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("api.log");
    std::fs::write(
        &log,
        concat!(
            r#"{"requestId":"a","requestTimeEpoch":"1795323662000","routeKey":"GET /x","status":"200","apiId":"x1"}"#,
            "\n",
            r#"{"requestId":"b","requestTimeEpoch":"soon","routeKey":"GET /x","status":"200","apiId":"x1"}"#,
            "\n",
            r#"2026-11-22T05:01:03.000Z {"requestId":"c","requestTime":"22/Nov/2026:05:01:03 +0000","routeKey":"GET /x","status":"200","apiId":"x1"}"#,
            "\n",
        ),
    )
    .unwrap();
    let db = dir.path().join("l.db");
    let store = format!("sqlite://{}", db.display());
    let log_arg = log.display().to_string();
    let (ok, out, err) = run(&[
        "aws",
        "access-logs",
        "--store",
        &store,
        "--api-type",
        "rest",
        "--stage",
        "prod",
        "--strict",
        &log_arg,
    ]);
    assert!(!ok);
    assert!(
        err.contains(&format!("{log_arg}: line 2: requestTimeEpoch")) && err.contains("strict"),
        "{out}{err}"
    );
    let (rows, _) = report(&db);
    assert!(rows.is_empty(), "strict: nothing written: {rows:?}");

    let (ok, out, err) = run(&[
        "aws",
        "access-logs",
        "--store",
        &store,
        "--api-type",
        "rest",
        "--stage",
        "prod",
        &log_arg,
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("3 lines, 2 metered, 1 malformed"), "{out}");
    assert!(
        out.contains(&format!("{log_arg}: line 2: requestTimeEpoch")),
        "{out}"
    );
    let (rows, _) = report(&db);
    assert_eq!(
        rows[&(
            "x1".into(),
            "GET /x".into(),
            "2xx".into(),
            "rest_requests".into()
        )]
            .0,
        Decimal::from(2)
    );

    // Not an access log at all.
    let csv = dir.path().join("bill.csv");
    std::fs::write(
        &csv,
        "identity/LineItemId,lineItem/UsageType\nabc,USE1-ApiGatewayRequest\n",
    )
    .unwrap();
    let (ok, _, err) = run(&[
        "aws",
        "access-logs",
        "--store",
        &store,
        "--api-type",
        "http",
        &csv.display().to_string(),
    ]);
    assert!(!ok);
    assert!(err.contains("not a JSON access log"), "{err}");
}
