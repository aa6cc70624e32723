//! The admin API over an imported AWS bill: `tollgate aws import` into the ledger a running
//! gateway meters into, then `/admin/timeseries`, `/admin/forecast` and `/admin/anomalies`
//! with `data=bill` (and `data=auto`, which picks the bill in a store without metered usage)
//! give the figures `tollgate cost bill`, `tollgate cost forecast --data bill` and `tollgate
//! cost anomalies --data bill` give for the same period, exactly; every answer says which data
//! it is; a bad `data` and `data=bill` on a metered-only endpoint are 400s.

mod support;

use support::{dec, fixture, ok_json};

use std::collections::BTreeMap;
use std::path::Path;

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;
use support::{client, Gateway};

/// What `cost forecast` and `cost anomalies` print money as: cents, half away from zero.
fn cents(d: Decimal) -> String {
    format!(
        "{:.2}",
        d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    )
}

/// `cost bill --format json` for `[from, to)` grouped by `by` (empty: no grouping).
fn bill(store: &str, from: &str, to: &str, by: &str) -> Value {
    let mut args = vec![
        "cost", "bill", "--store", store, "--format", "json", "--from", from, "--to", to,
    ];
    if !by.is_empty() {
        args.extend(["--by", by]);
    }
    ok_json(&args)
}

fn bill_total(bill: &Value) -> String {
    bill["total"]["USD"].as_str().unwrap_or("0").to_owned()
}

/// A bill's rows summed by one column.
fn bill_by(bill: &Value, column: &str) -> BTreeMap<String, Decimal> {
    let mut out = BTreeMap::new();
    for r in bill["rows"].as_array().expect("rows") {
        let k = r[column].as_str().expect("column").to_owned();
        *out.entry(k).or_insert(Decimal::ZERO) += dec(&r["unblended_cost"]);
    }
    out
}

fn date(t: i64) -> String {
    support::utc_date(t)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// A legacy CUR of the last 45 days up to today, one daily REST line per day for account
/// 444444444444 (its own payer, so the fixtures' months are not replaced), with more on the
/// fourth day before today: the fixtures end in October, and a forecast is of this month.
fn recent_bill(dir: &Path) -> String {
    let today = now() - now().rem_euclid(86_400);
    let mut csv = String::from(
        "identity/LineItemId,bill/PayerAccountId,lineItem/UsageAccountId,\
         lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,\
         lineItem/ProductCode,lineItem/UsageType,lineItem/ResourceId,lineItem/UsageAmount,\
         lineItem/CurrencyCode,lineItem/UnblendedCost,product/region\n",
    );
    for back in 0..45i64 {
        let day = today - back * 86_400;
        let requests = 2_000_000 + 37_000 * (back % 7) + if back == 4 { 9_000_000 } else { 0 };
        let cost = Decimal::from(requests) * Decimal::new(35, 7);
        csv.push_str(&format!(
            "recent-{back},444444444444,444444444444,Usage,{}T00:00:00Z,{}T00:00:00Z,\
             AmazonApiGateway,USE1-ApiGatewayRequest,\
             arn:aws:apigateway:us-east-1::/restapis/recent0001/stages/prod,{requests},USD,\
             {cost},us-east-1\n",
            date(day),
            date(day + 86_400),
        ));
    }
    let path = dir.join("recent-cur.csv");
    std::fs::write(&path, csv).expect("write the recent bill");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn forecast_anomalies_and_timeseries_over_an_imported_bill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let imported = ok_json(&[
        "aws",
        "import",
        "--store",
        &store,
        "--format",
        "json",
        &fixture("cur2-2026-09.parquet"),
        &fixture("cur2-2026-10.csv.gz"),
    ]);
    assert_eq!(imported["files"][1]["status"], "imported", "{imported}");
    let recent = recent_bill(dir.path());
    ok_json(&[
        "aws", "import", "--store", &store, "--format", "json", &recent,
    ]);

    // The gateway meters into the same store: it holds a bill and no metered usage.
    let gw = Gateway::start(&format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
metering: {{store: "{store}"}}
apis:
  - name: shop
    routes: [{{key: "GET /x", integration: m}}]
    integrations: {{m: {{type: mock}}}}
"#
    ));
    let c = client();
    let get = |path: String| {
        let req = c.get(format!("{}{path}", gw.admin_url()));
        async move {
            let r = req.send().await.expect("admin answers");
            let status = r.status().as_u16();
            let body = r.text().await.expect("body");
            let json: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{path}: {status} {body}: {e}"));
            (status, json)
        }
    };

    // --- timeseries: each bucket the bill lines starting in it ----------------------------
    let (status, ts) = get(
        "/admin/timeseries?data=bill&from=2026-09-01&to=2026-11-01&interval=day&by=account\
         &limit=100"
            .into(),
    )
    .await;
    assert_eq!(status, 200, "{ts}");
    assert_eq!(ts["data"], "bill");
    assert_eq!(ts["currency"], "USD");
    assert_eq!(ts["by"], "account");
    assert_eq!(ts["buckets"].as_array().map(Vec::len), Some(61), "{ts}");
    let whole = bill(&store, "2026-09-01", "2026-11-01", "account");
    assert_eq!(ts["total"].as_str(), Some(bill_total(&whole).as_str()));
    let summed: Decimal = ts["totals"]
        .as_array()
        .expect("totals")
        .iter()
        .map(dec)
        .sum();
    assert_eq!(summed, dec(&ts["total"]));
    let cli = ok_json(&[
        "cost",
        "timeseries",
        "--store",
        &store,
        "--data",
        "bill",
        "--from",
        "2026-09-01",
        "--to",
        "2026-11-01",
        "--interval",
        "day",
        "--by",
        "account",
        "--limit",
        "100",
        "--format",
        "json",
    ]);
    assert_eq!(
        ts, cli,
        "the admin API and `cost timeseries --data bill` agree"
    );
    let want = bill_by(&whole, "account");
    let got: BTreeMap<String, Decimal> = ts["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|s| {
            (
                s["account"].as_str().expect("account").to_owned(),
                dec(&s["total"]),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert!(want.len() >= 3, "{want:?}");
    // Day by day, as `cost bill` sums the same day.
    for (i, day) in [(0, "2026-09-01"), (29, "2026-09-30"), (44, "2026-10-15")] {
        assert_eq!(ts["buckets"][i], format!("{day}T00:00:00Z"));
        let next = ts["buckets"][i + 1].as_str().expect("bucket")[..10].to_owned();
        let b = bill(&store, day, &next, "");
        assert_eq!(
            ts["totals"][i].as_str(),
            Some(bill_total(&b).as_str()),
            "{day}"
        );
    }

    // Hourly over one day, by usage type; filtered by API and by tag.
    let (status, hourly) =
        get("/admin/timeseries?data=bill&from=2026-10-15&to=2026-10-16&by=usage_type".into()).await;
    assert_eq!(status, 200, "{hourly}");
    assert_eq!(hourly["interval"], "hour");
    assert_eq!(hourly["buckets"].as_array().map(Vec::len), Some(24));
    let day = bill(&store, "2026-10-15", "2026-10-16", "usage_type");
    assert_eq!(hourly["total"].as_str(), Some(bill_total(&day).as_str()));
    let by_api = bill(&store, "2026-09-01", "2026-11-01", "api");
    let apis = bill_by(&by_api, "api");
    let (api, api_cost) = apis
        .iter()
        .find(|(a, _)| a.as_str() != "(none)")
        .expect("an API on the bill");
    let (status, one) = get(format!(
        "/admin/timeseries?data=bill&from=2026-09-01&to=2026-11-01&by=region&api={api}"
    ))
    .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["filters"]["api"], api.as_str());
    assert_eq!(dec(&one["total"]), *api_cost, "{one}");
    let by_team = bill(&store, "2026-09-01", "2026-11-01", "tag:team");
    let (team, team_cost) = bill_by(&by_team, "tag:team")
        .into_iter()
        .find(|(t, _)| t != "(untagged)")
        .expect("a tagged line");
    let (status, tagged) = get(format!(
        "/admin/timeseries?data=bill&from=2026-09-01&to=2026-11-01&by=tag:team&tag=team:{team}"
    ))
    .await;
    assert_eq!(status, 200, "{tagged}");
    assert_eq!(dec(&tagged["total"]), team_cost, "{tagged}");
    assert_eq!(tagged["series"][0]["tag:team"], team.as_str());

    // auto: no metered usage in the period, so the bill; metered: nothing.
    let (status, auto) =
        get("/admin/timeseries?from=2026-10-01&to=2026-11-01&data=auto".into()).await;
    assert_eq!(status, 200, "{auto}");
    assert_eq!(auto["data"], "bill");
    let (status, plain) = get("/admin/timeseries?from=2026-10-01&to=2026-11-01".into()).await;
    assert_eq!(status, 200, "{plain}");
    assert_eq!(plain["data"], "bill", "auto is the default");
    assert_eq!(plain["total"], auto["total"]);
    let (status, metered) =
        get("/admin/timeseries?data=metered&from=2026-10-01&to=2026-11-01".into()).await;
    assert_eq!(status, 200, "{metered}");
    assert_eq!(metered["data"], "metered");
    assert_eq!(metered["total"], "0");
    // The metered dimensions are not a bill's, nor the bill's the meter's.
    let (status, e) = get("/admin/timeseries?data=bill&by=route".into()).await;
    assert_eq!(status, 400, "{e}");
    assert!(
        e["message"]
            .as_str()
            .expect("message")
            .contains("usage_type"),
        "{e}"
    );
    let (status, e) = get("/admin/timeseries?data=metered&by=account".into()).await;
    assert_eq!(status, 400, "{e}");

    // --- forecast: this month, from the recent lines -------------------------------------
    let (status, f) = get("/admin/forecast?data=bill".into()).await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["data"], "bill");
    let cli = ok_json(&[
        "cost", "forecast", "--store", &store, "--data", "bill", "--format", "json",
    ]);
    assert_eq!(f, cli, "the admin API and the command agree");
    let t = now();
    let month_start = format!("{}-01", &date(t)[..7]);
    let to_date = bill(&store, &month_start, &date(t + 86_400), "");
    assert_eq!(
        f["actual_to_date"].as_str(),
        Some(cents(dec(&Value::String(bill_total(&to_date)))).as_str()),
        "{f}"
    );
    assert!(dec(&f["actual_to_date"]) > Decimal::ZERO, "{f}");
    assert!(dec(&f["forecast"]) >= dec(&f["actual_to_date"]), "{f}");
    let (status, by_account) = get("/admin/forecast?data=bill&by=account,stage".into()).await;
    assert_eq!(status, 200, "{by_account}");
    let cli = ok_json(&[
        "cost",
        "forecast",
        "--store",
        &store,
        "--data",
        "bill",
        "--by",
        "account,stage",
        "--format",
        "json",
    ]);
    assert_eq!(by_account, cli);
    let row = by_account["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["account"] == "444444444444")
        .unwrap_or_else(|| panic!("the recent account: {by_account}"));
    assert_eq!(row["stage"], "prod");
    let (status, auto) = get("/admin/forecast".into()).await;
    assert_eq!(status, 200, "{auto}");
    assert_eq!(auto["data"], "bill");
    let (status, e) = get("/admin/forecast?data=bill&by=route".into()).await;
    assert_eq!(status, 400, "{e}");
    let (status, e) = get("/admin/forecast?data=bill&by=month".into()).await;
    assert_eq!(status, 400, "{e}");
    let (status, m) = get("/admin/forecast?data=metered".into()).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["data"], "metered");

    // --- anomalies: a daily bill gets the daily pass --------------------------------------
    let (status, a) = get("/admin/anomalies?data=bill&from=2026-10-01&to=2026-11-01".into()).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["data"], "bill");
    let cli = ok_json(&[
        "cost",
        "anomalies",
        "--store",
        &store,
        "--data",
        "bill",
        "--from",
        "2026-10-01",
        "--to",
        "2026-11-01",
        "--format",
        "json",
    ]);
    assert_eq!(a, cli, "the admin API and the command agree");
    let list = a["anomalies"].as_array().expect("anomalies");
    assert!(!list.is_empty(), "{a}");
    // Each one's actual cost is what the bill holds for its scope and window.
    for an in list {
        let (start, end) = (
            an["start"].as_str().expect("start"),
            an["end"].as_str().expect("end"),
        );
        let dims = an["dimensions"].as_object().expect("dimensions");
        let window = bill(&store, start, end, "api,stage");
        let actual: Decimal = window["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| dims.get("api").is_none_or(|v| *v == r["api"]))
            .filter(|r| dims.get("stage").is_none_or(|v| *v == r["stage"]))
            .map(|r| dec(&r["unblended_cost"]))
            .sum();
        assert_eq!(an["actual"].as_str(), Some(cents(actual).as_str()), "{an}");
    }
    // The recent spike, through auto (no metered usage in the period or its baseline).
    let today = t - t.rem_euclid(86_400);
    let (status, recent) = get(format!(
        "/admin/anomalies?from={}&to={}&min_impact=1",
        date(today - 7 * 86_400),
        date(today)
    ))
    .await;
    assert_eq!(status, 200, "{recent}");
    assert_eq!(recent["data"], "bill");
    let spike = date(today - 4 * 86_400);
    assert!(
        recent["anomalies"]
            .as_array()
            .expect("anomalies")
            .iter()
            .any(|an| an["start"].as_str().is_some_and(|s| s.starts_with(&spike))),
        "the spike on {spike}: {recent}"
    );

    // --- movers and recommendations: the commands' answers ----------------------------------
    let (status, movers) =
        get("/admin/movers?data=bill&from=2026-10-01&to=2026-11-01&by=account".into()).await;
    assert_eq!(status, 200, "{movers}");
    assert_eq!(movers["data"], "bill");
    let cli = ok_json(&[
        "cost",
        "movers",
        "--store",
        &store,
        "--data",
        "bill",
        "--from",
        "2026-10-01",
        "--to",
        "2026-11-01",
        "--by",
        "account",
        "--format",
        "json",
    ]);
    assert_eq!(movers, cli, "the admin API and the command agree");
    assert_eq!(
        movers["current_total"]
            .as_str()
            .map(|s| s.parse::<Decimal>().expect("decimal")),
        Some(
            bill_by(
                &bill(&store, "2026-10-01", "2026-11-01", "account"),
                "account"
            )
            .values()
            .sum()
        ),
        "{movers}"
    );
    let to = date(today);
    let (status, advice) = get(format!("/admin/recommendations?data=bill&to={to}")).await;
    assert_eq!(status, 200, "{advice}");
    assert_eq!(advice["data"], "bill");
    let cli = ok_json(&[
        "cost",
        "recommend",
        "--store",
        &store,
        "--data",
        "bill",
        "--to",
        &to,
        "--format",
        "json",
    ]);
    assert_eq!(advice, cli, "the admin API and the command agree");

    // --- refusals ----------------------------------------------------------------------------
    for path in [
        "/admin/forecast",
        "/admin/anomalies",
        "/admin/timeseries",
        "/admin/cost",
    ] {
        let (status, e) = get(format!("{path}?data=csv")).await;
        assert_eq!(status, 400, "{path}: {e}");
        let m = e["message"].as_str().expect("message");
        assert!(
            m.contains("`csv`") && m.contains("auto, metered or bill"),
            "{path}: {m}"
        );
    }
    let (status, e) = get("/admin/timeseries?data=bill&data=metered".into()).await;
    assert_eq!(status, 400, "{e}");
    for path in [
        "/admin/usage",
        "/admin/cost",
        "/admin/connections",
        "/admin/dimensions",
    ] {
        let (status, e) = get(format!("{path}?data=bill")).await;
        assert_eq!(status, 400, "{path}: {e}");
        let m = e["message"].as_str().expect("message");
        assert!(
            m.contains(path)
                && m.contains(
                    "/admin/forecast, /admin/anomalies, /admin/timeseries, /admin/movers and \
                     /admin/recommendations"
                ),
            "{path}: {m}"
        );
        // Metered data is what they read: saying so is fine.
        let (status, ok) = get(format!("{path}?data=metered")).await;
        assert_eq!(status, 200, "{path}: {ok}");
    }
}
