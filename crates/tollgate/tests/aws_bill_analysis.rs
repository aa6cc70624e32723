//! `tollgate cost forecast` and `tollgate cost anomalies` over an imported AWS bill, as a
//! FinOps user runs them after `tollgate aws import`: a generated legacy CUR with hourly (and,
//! aggregated, daily) lines for ten weeks, daily and weekly seasonality, and one incident whose
//! time and cause are known (account 222222222222's REST requests on API `shop`, ×8 for three
//! hours on 2026-10-07).

mod support;

use support::{dec, ok_json, rfc3339};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use rust_decimal::Decimal;

const HEADER: &str = "identity/LineItemId,identity/TimeInterval,bill/BillType,bill/PayerAccountId,bill/BillingPeriodStartDate,lineItem/UsageAccountId,lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/ProductCode,lineItem/UsageType,lineItem/Operation,lineItem/AvailabilityZone,lineItem/ResourceId,lineItem/UsageAmount,lineItem/CurrencyCode,lineItem/UnblendedRate,lineItem/UnblendedCost,lineItem/BlendedCost,lineItem/LineItemDescription,product/ProductName,product/region,pricing/term,resourceTags/user:team,costCategory/Unit";

/// 2026-08-03T00:00:00Z, a Monday: the first line.
const START: i64 = 1_785_715_200;
/// 2026-10-10T00:00:00Z: the end of the data.
const END: i64 = 1_791_590_400;
/// 2026-10-01T00:00:00Z.
const OCT: i64 = 1_790_812_800;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// The incident: 2026-10-07 10:00 to 13:00 UTC.
const SPIKE_FROM: i64 = OCT + 6 * DAY + 10 * HOUR;
const SPIKE_TO: i64 = SPIKE_FROM + 3 * HOUR;

fn tollgate(args: &[&str]) -> Output {
    Command::new(support::binary()).args(args).output().unwrap()
}

/// (api, account, usage type, requests per hour at the peak).
const SERIES: [(&str, &str, &str, u64); 3] = [
    ("shop", "111111111111", "USE1-ApiGatewayRequest", 400_000),
    ("shop", "222222222222", "USE1-ApiGatewayRequest", 300_000),
    (
        "chat",
        "111111111111",
        "USE1-ApiGatewayHttpRequest",
        900_000,
    ),
];

/// Requests of one series in the hour starting at `t`: a daily curve, quieter weekends.
fn requests(t: i64, peak: u64, spike: bool) -> u64 {
    let hour = (t.rem_euclid(DAY) / HOUR) as u64;
    let weekday = ((t - START).div_euclid(DAY)).rem_euclid(7); // 0 = Monday
    let daily = [
        30, 25, 22, 20, 22, 30, 45, 60, 75, 85, 95, 100, 100, 98, 95, 92, 90, 85, 75, 65, 55, 45,
        40, 35,
    ][hour as usize];
    let weekly = if weekday >= 5 { 60 } else { 100 };
    let n = peak * daily * weekly / 10_000;
    if spike {
        n * 8
    } else {
        n
    }
}

/// Dollars per request: REST $3.50, HTTP $1.00 per million (first tier).
fn rate(usage_type: &str) -> Decimal {
    if usage_type.ends_with("HttpRequest") {
        Decimal::new(1, 6)
    } else {
        Decimal::new(35, 7)
    }
}

/// A line written: start, account, cost, API.
type Line = (i64, String, Decimal, &'static str);

/// Writes the bill (hourly lines, or per day with `daily`) and returns its lines.
fn write_bill(path: &Path, daily: bool) -> Vec<Line> {
    let mut csv = String::from(HEADER);
    csv.push('\n');
    let mut lines = Vec::new();
    let step = if daily { DAY } else { HOUR };
    let mut id = 0;
    let mut t = START;
    while t < END {
        for (api, account, usage_type, peak) in SERIES {
            let mut usage = 0;
            let mut h = t;
            while h < t + step {
                let spike = api == "shop"
                    && account == "222222222222"
                    && (SPIKE_FROM..SPIKE_TO).contains(&h);
                usage += requests(h, peak, spike);
                h += HOUR;
            }
            let cost = rate(usage_type) * Decimal::from(usage);
            id += 1;
            let (from, to) = (rfc3339(t), rfc3339(t + step));
            let period = rfc3339(t - t.rem_euclid(DAY));
            let op = if usage_type.ends_with("HttpRequest") {
                "ApiGatewayHttpApi"
            } else {
                "ApiGatewayRequest"
            };
            let kind = if api == "shop" { "restapis" } else { "apis" };
            let team = if api == "shop" { "payments" } else { "" };
            let unit = if account == "222222222222" {
                "wholesale"
            } else {
                "retail"
            };
            let _ = writeln!(
                csv,
                "line{id},{from}/{to},Anniversary,999999999999,{period},{account},Usage,{from},\
                 {to},AmazonApiGateway,{usage_type},{op},,arn:aws:apigateway:us-east-1::/{kind}/\
                 {api},{usage},USD,{rate},{cost},{cost},API Gateway,Amazon API Gateway,us-east-1,\
                 OnDemand,{team},{unit}",
                rate = rate(usage_type)
            );
            lines.push((t, account.to_owned(), cost, api));
        }
        t += step;
    }
    std::fs::write(path, csv).unwrap();
    lines
}

fn import(dir: &Path, daily: bool) -> (String, Vec<Line>) {
    let bill = dir.join(if daily { "daily.csv" } else { "hourly.csv" });
    let lines = write_bill(&bill, daily);
    let store = format!("sqlite://{}", dir.join("finops.db").display());
    let got = ok_json(&[
        "aws",
        "import",
        "--store",
        &store,
        "--format",
        "json",
        bill.to_str().unwrap(),
    ]);
    assert_eq!(got["files"][0]["status"], "imported", "{got}");
    assert_eq!(got["imported_lines"].as_u64(), Some(lines.len() as u64));
    (store, lines)
}

fn sum(lines: &[Line], from: i64, to: i64, account: Option<&str>) -> Decimal {
    lines
        .iter()
        .filter(|(t, a, _, _)| (from..to).contains(t) && account.is_none_or(|x| x == a))
        .map(|l| l.2)
        .sum()
}

#[test]
fn the_month_end_forecast_reads_the_bills_own_costs() {
    let dir = tempfile::tempdir().unwrap();
    let (store, lines) = import(dir.path(), false);
    let at = rfc3339(END);
    let f = ok_json(&[
        "cost", "forecast", "--store", &store, "--at", &at, "--by", "account", "--format", "json",
    ]);
    assert_eq!(f["data"], "bill", "auto: the store holds no metered usage");
    assert_eq!(f["month"], "2026-10");
    // Month to date: exactly the bill's lines of October 1 to 9, to the cent.
    let to_date = sum(&lines, OCT, END, None);
    assert_eq!(dec(&f["actual_to_date"]), to_date.round_dp(2), "{f}");
    let rows: BTreeMap<String, Decimal> = f["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["account"].as_str().unwrap().to_owned(),
                dec(&r["actual_to_date"]),
            )
        })
        .collect();
    for account in ["111111111111", "222222222222"] {
        assert_eq!(
            rows[account],
            sum(&lines, OCT, END, Some(account)).round_dp(2),
            "{account}"
        );
    }
    // The remaining 22 days follow the weekly pattern: between 22 quiet days and 22 busy
    // ones, and the interval holds the point.
    let (forecast, lower, upper) = (dec(&f["forecast"]), dec(&f["lower"]), dec(&f["upper"]));
    assert!(lower <= forecast && forecast <= upper, "{f}");
    let week = sum(&lines, OCT - 7 * DAY - DAY, OCT - DAY, None); // a week without the spike
    let expected_rest = week * Decimal::from(22) / Decimal::from(7);
    let err = ((forecast - to_date - expected_rest) / expected_rest).abs();
    assert!(
        err < Decimal::new(5, 2),
        "forecast {forecast}: rest {} vs {expected_rest}",
        forecast - to_date
    );

    // The table says what it read; the bill's dimensions are its rows.
    let out = tollgate(&[
        "cost",
        "forecast",
        "--store",
        &store,
        "--at",
        &at,
        "--by",
        "usage_type,tag:team",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Forecast for 2026-10, imported AWS bill"),
        "{text}"
    );
    assert!(
        text.contains("USE1-ApiGatewayHttpRequest") && text.contains("(untagged)"),
        "{text}"
    );

    // --data metered reads the (empty) metered usage; a gateway dimension is refused over
    // the bill, a bill dimension over metered data.
    let m = ok_json(&[
        "cost", "forecast", "--store", &store, "--at", &at, "--data", "metered", "--format", "json",
    ]);
    assert_eq!(m["data"], "metered");
    assert_eq!(m["actual_to_date"], "0.00");
    let out = tollgate(&[
        "cost", "forecast", "--store", &store, "--at", &at, "--by", "route",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown dimension `route`"));
    let out = tollgate(&[
        "cost", "forecast", "--store", &store, "--at", &at, "--by", "account", "--data", "metered",
    ]);
    assert!(!out.status.success());
}

#[test]
fn the_incident_is_found_with_its_account_in_an_hourly_and_a_daily_bill() {
    for daily in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (store, lines) = import(dir.path(), daily);
        let a = ok_json(&[
            "cost",
            "anomalies",
            "--store",
            &store,
            "--from",
            &rfc3339(OCT),
            "--to",
            &rfc3339(END),
            "--format",
            "json",
        ]);
        assert_eq!(a["data"], "bill");
        let found = a["anomalies"].as_array().unwrap();
        assert_eq!(found.len(), 1, "daily {daily}: {a}");
        let x = &found[0];
        let (from, to, granularity) = if daily {
            (OCT + 6 * DAY, OCT + 7 * DAY, "day")
        } else {
            (SPIKE_FROM, SPIKE_TO, "hour")
        };
        assert_eq!(x["granularity"], granularity, "{x}");
        assert_eq!(x["start"], rfc3339(from), "{x}");
        assert_eq!(x["end"], rfc3339(to), "{x}");
        assert_eq!(x["dimensions"]["api"], "shop", "{x}");
        // Actual: the shop API's lines in the window, to the cent.
        let shop: Decimal = lines
            .iter()
            .filter(|l| (from..to).contains(&l.0) && l.3 == "shop")
            .map(|l| l.2)
            .sum();
        assert_eq!(dec(&x["actual"]), shop.round_dp(2), "{x}");
        let cause = &x["cause"][0];
        assert_eq!(cause["dimension"], "account", "{x}");
        assert_eq!(cause["value"], "222222222222", "{x}");
        assert!(cause["share"].as_f64().unwrap() > 0.9, "{x}");
        // The account's cost category says the same, in the organisation's words.
        assert!(
            x["cause"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["dimension"] == "cost_category:Unit" && c["value"] == "wholesale"),
            "{x}"
        );
    }
}

#[test]
fn the_rest_api_on_the_bill_gets_the_http_api_advice() {
    let dir = tempfile::tempdir().unwrap();
    let (store, lines) = import(dir.path(), false);
    let r = ok_json(&[
        "cost",
        "recommend",
        "--store",
        &store,
        "--to",
        &rfc3339(END),
        "--format",
        "json",
    ]);
    assert_eq!(r["data"], "bill");
    let list = r["recommendations"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{r}");
    let x = &list[0];
    assert_eq!(x["kind"], "rest-to-http");
    assert_eq!(x["target"], "shop", "the HTTP API `chat` gets none");
    assert!(
        x["evidence"]
            .as_str()
            .unwrap()
            .contains("the bill shows no stage cache"),
        "{x}"
    );
    // The run rate of the last 7 days, a 30-day month, at REST prices less HTTP ones: between
    // the second tiers' difference ($3.19 - $1.00) and the first ones' ($3.50 - $0.90) per
    // million.
    let week: Decimal = lines
        .iter()
        .filter(|l| (END - 7 * DAY..END).contains(&l.0) && l.3 == "shop")
        .map(|l| l.2 / rate("USE1-ApiGatewayRequest"))
        .sum();
    let monthly = week * Decimal::from(30) / Decimal::from(7);
    let saving = dec(&x["monthly_saving"]);
    let per_million = saving / monthly * Decimal::from(1_000_000);
    assert!(
        per_million >= Decimal::new(219, 2) && per_million <= Decimal::new(260, 2),
        "{saving} for {monthly} requests: {per_million} per million"
    );
}

#[test]
fn movers_compare_two_weeks_of_the_bill_by_account() {
    let dir = tempfile::tempdir().unwrap();
    let (store, lines) = import(dir.path(), false);
    let (from, to) = (END - 7 * DAY, END);
    let m = ok_json(&[
        "cost",
        "movers",
        "--store",
        &store,
        "--from",
        &rfc3339(from),
        "--to",
        &rfc3339(to),
        "--by",
        "account",
        "--format",
        "json",
    ]);
    assert_eq!(m["data"], "bill");
    assert_eq!(m["by"], serde_json::json!(["account"]));
    assert_eq!(dec(&m["current_total"]), sum(&lines, from, to, None));
    assert_eq!(
        dec(&m["previous_total"]),
        sum(&lines, from - 7 * DAY, from, None)
    );
    // The incident's account moved most (its week holds the spike).
    let first = &m["movers"][0];
    assert_eq!(first["account"], "222222222222", "{m}");
    let a = Some("222222222222");
    assert_eq!(dec(&first["current"]), sum(&lines, from, to, a));
    assert_eq!(
        dec(&first["previous"]),
        sum(&lines, from - 7 * DAY, from, a)
    );
}
