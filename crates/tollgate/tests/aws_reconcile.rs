//! `tollgate aws reconcile` on a bill and access logs whose difference is known.

mod support;

use std::process::Command;

use serde_json::Value;

fn tollgate(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(support::binary())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

const HEADER: &str = "identity/LineItemId,identity/TimeInterval,bill/BillType,bill/PayerAccountId,bill/BillingPeriodStartDate,lineItem/UsageAccountId,lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/ProductCode,lineItem/UsageType,lineItem/Operation,lineItem/AvailabilityZone,lineItem/ResourceId,lineItem/UsageAmount,lineItem/CurrencyCode,lineItem/UnblendedRate,lineItem/UnblendedCost,lineItem/BlendedCost,lineItem/LineItemDescription,product/ProductName,product/region,pricing/term";

/// One legacy CUR line on 2026-08-07.
fn cur_line(
    id: &str,
    kind: &str,
    product: &str,
    usage_type: &str,
    api: &str,
    usage: &str,
    cost: &str,
) -> String {
    format!(
        "{id},2026-08-07T00:00:00Z/2026-08-08T00:00:00Z,Anniversary,999999999999,2026-08-01T00:00:00Z,\
         111111111111,{kind},2026-08-07T00:00:00Z,2026-08-08T00:00:00Z,{product},{usage_type},\
         ApiGatewayHttpApi,,arn:aws:apigateway:us-east-1::/apis/{api},{usage},USD,0.000001,{cost},{cost},\
         test line,Amazon API Gateway,us-east-1,OnDemand"
    )
}

/// One access-log line (AWS's JSON example format plus the fields tollgate needs).
fn log_line(i: usize, api: &str) -> String {
    serde_json::json!({
        "requestId": format!("r{i}"),
        "ip": "203.0.113.5",
        "requestTimeEpoch": (1_786_104_000_000u64 + i as u64 * 1000).to_string(),
        "httpMethod": "GET",
        "routeKey": "GET /orders",
        "status": "200",
        "protocol": "HTTP/1.1",
        "responseLength": "2",
        "integrationStatus": "200",
        "apiId": api,
        "stage": "$default",
    })
    .to_string()
}

#[test]
fn the_bill_against_the_meter_names_each_difference() {
    let dir = tempfile::tempdir().unwrap();
    // The bill: API a bills 20 requests (and a credit), API b 5 requests; an EC2 line is not
    // API Gateway's.
    let bill = [
        HEADER.to_owned(),
        cur_line(
            "l1",
            "Usage",
            "AmazonApiGateway",
            "USE1-ApiGatewayHttpRequest",
            "aaaa111111",
            "20",
            "0.00002",
        ),
        cur_line(
            "l2",
            "Usage",
            "AmazonApiGateway",
            "USE1-ApiGatewayHttpRequest",
            "bbbb222222",
            "5",
            "0.000005",
        ),
        cur_line(
            "l3",
            "Credit",
            "AmazonApiGateway",
            "USE1-ApiGatewayHttpRequest",
            "aaaa111111",
            "0",
            "-0.00001",
        ),
        cur_line(
            "l4",
            "Usage",
            "AmazonEC2",
            "USE1-BoxUsage:t3.micro",
            "x",
            "24",
            "0.2496",
        ),
    ]
    .join("\n")
        + "\n";
    std::fs::write(dir.path().join("bill.csv"), bill).unwrap();
    // The access logs: 18 of API a's requests (2 were not logged), one of API c (not billed).
    let mut log: Vec<String> = (0..18).map(|i| log_line(i, "aaaa111111")).collect();
    log.push(log_line(100, "cccc333333"));
    std::fs::write(dir.path().join("access.log"), log.join("\n") + "\n").unwrap();

    let store = "sqlite://s.db";
    let out = tollgate(dir.path(), &["aws", "import", "--store", store, "bill.csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tollgate(
        dir.path(),
        &[
            "aws",
            "access-logs",
            "--store",
            store,
            "--api-type",
            "http",
            "access.log",
        ],
    );
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let out = tollgate(
        dir.path(),
        &[
            "aws",
            "reconcile",
            "--store",
            store,
            "--from",
            "2026-08",
            "--to",
            "2026-09",
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let line = |api: &str| {
        r["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["api"] == api && l["meter"] == "http_requests")
            .unwrap_or_else(|| panic!("no line for {api}: {r}"))
            .clone()
    };
    let reasons = |l: &Value| -> String {
        l["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let a = line("aaaa111111");
    assert_eq!(
        (
            a["billed_usage"].as_str(),
            a["metered"].as_str(),
            a["difference"].as_str()
        ),
        (Some("20"), Some("18"), Some("2"))
    );
    assert!(reasons(&a).contains("2 billed but not metered"), "{a}");
    assert!(reasons(&a).contains("Credit of -0.00001"), "{a}");
    let b = line("bbbb222222");
    assert_eq!(
        (b["billed_usage"].as_str(), b["metered"].as_str()),
        (Some("5"), Some("0"))
    );
    assert!(reasons(&b).contains("nothing metered for this API"), "{b}");
    let c = line("cccc333333");
    assert_eq!(
        (
            c["billed_usage"].as_str(),
            c["metered"].as_str(),
            c["difference"].as_str()
        ),
        (Some("0"), Some("1"), Some("-1"))
    );
    assert!(reasons(&c).contains("metered but not on the bill"), "{c}");
    assert_eq!(r["adjustments"]["aaaa111111"]["Credit"], "-0.00001");
    // EC2 is not API Gateway's: not reconciled.
    assert!(!r.to_string().contains("BoxUsage"));

    // The table says the same for people.
    let out = tollgate(
        dir.path(),
        &[
            "aws",
            "reconcile",
            "--store",
            store,
            "--from",
            "2026-08",
            "--to",
            "2026-09",
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("aaaa111111 http_requests: 2 billed but not metered"),
        "{text}"
    );
}
