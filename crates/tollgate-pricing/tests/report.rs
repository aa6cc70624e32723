//! Cost reports from ledger rows built by hand: tiers on the month's billable total, blended
//! attribution that adds up exactly, unit conversions, and the JSON / CSV / FOCUS shapes.

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tollgate_pricing::{
    attribute, build_report, focus_dimensions, CacheSize, Catalog, FreeTier, Meter, Period,
    PricingError, Report, ReportInput, FOCUS_COLUMNS,
};
use tollgate_types::usage::{Dimension, UsageCounts, UsageMeter, UsageRow};

fn row(month: &str, meter: UsageMeter, billable: bool, group: &[&str], units: u64) -> UsageRow {
    UsageRow {
        month: month.into(),
        region: "us-east-1".into(),
        meter,
        billable,
        group: group.iter().map(|s| s.to_string()).collect(),
        counts: UsageCounts { units, events: 0 },
    }
}

/// The whole-month totals of `rows` (the ledger's answer with no group-by).
fn totals(rows: &[UsageRow]) -> Vec<UsageRow> {
    let mut out: Vec<UsageRow> = Vec::new();
    for r in rows {
        match out.iter_mut().find(|t| {
            t.month == r.month
                && t.region == r.region
                && t.meter == r.meter
                && t.billable == r.billable
        }) {
            Some(t) => t.counts.units += r.counts.units,
            None => out.push(UsageRow {
                group: Vec::new(),
                ..r.clone()
            }),
        }
    }
    out
}

fn report(
    period: Period,
    group_by: &[Dimension],
    rows: &[UsageRow],
    month_totals: &[UsageRow],
) -> Result<Report, PricingError> {
    build_report(&ReportInput {
        catalog: &Catalog::embedded(),
        free_tier: FreeTier::Off,
        period,
        group_by,
        rows,
        month_totals,
    })
}

fn january() -> Period {
    Period::month("2025-01").unwrap()
}

fn sum_rows(r: &Report) -> Decimal {
    r.rows().iter().map(|r| r.cost).sum()
}

#[test]
fn http_month_over_the_first_tier_splits_exactly_over_routes() {
    let by = [Dimension::Route];
    let rows = [
        row(
            "2025-01",
            UsageMeter::HttpRequests,
            true,
            &["GET /pets"],
            200_000_000,
        ),
        row(
            "2025-01",
            UsageMeter::HttpRequests,
            true,
            &["POST /pets"],
            100_000_001,
        ),
    ];
    let r = report(january(), &by, &rows, &totals(&rows)).unwrap();
    // 300 M × $1.00/M + 1 × $0.90/M.
    assert_eq!(r.total(), dec!(300.0000009));
    assert_eq!(r.rows().len(), 2);
    assert_eq!(sum_rows(&r), dec!(300.0000009));
    // Each route pays its units at the blended rate (to the attribution quantum).
    let rate = dec!(300.0000009) / dec!(300_000_001);
    let get = &r.rows()[0];
    assert_eq!(get.group, vec!["GET /pets"]);
    assert_eq!(get.meter, Meter::HttpRequests);
    assert_eq!(get.billable_units, dec!(200_000_000));
    assert!((get.cost - rate * dec!(200_000_000)).abs() <= dec!(0.0000000001));
    assert_eq!(r.display_total(), "300.00");
}

#[test]
fn non_billable_units_are_shown_and_cost_nothing() {
    let by = [Dimension::Api];
    let rows = [
        row(
            "2025-01",
            UsageMeter::RestRequests,
            true,
            &["a1"],
            1_000_000,
        ),
        row("2025-01", UsageMeter::RestRequests, false, &["a1"], 250_000),
        row("2025-01", UsageMeter::RestRequests, false, &["a2"], 7),
    ];
    let r = report(january(), &by, &rows, &totals(&rows)).unwrap();
    assert_eq!(r.rows().len(), 2);
    let a1 = &r.rows()[0];
    assert_eq!(a1.billable_units, dec!(1_000_000));
    assert_eq!(a1.non_billable_units, dec!(250_000));
    assert_eq!(a1.cost, dec!(3.5));
    let a2 = &r.rows()[1];
    assert_eq!(a2.billable_units, Decimal::ZERO);
    assert_eq!(a2.non_billable_units, dec!(7));
    assert_eq!(a2.cost, Decimal::ZERO);
    assert_eq!(r.total(), dec!(3.5));
}

#[test]
fn data_out_bytes_become_gb_and_are_tiered() {
    // REST-1's 15 M KB → 14.30511474609375 GB × $0.09.
    let rows = [row(
        "2025-01",
        UsageMeter::DataOutBytes,
        true,
        &[],
        15_360_000_000,
    )];
    let r = report(january(), &[], &rows, &totals(&rows)).unwrap();
    assert_eq!(r.rows()[0].meter, Meter::DataTransferOutGb);
    assert_eq!(r.rows()[0].billable_units, dec!(14.30511474609375));
    assert_eq!(r.total(), dec!(1.2874603271484375));

    // 11 TB in two groups: 10,240 GB × $0.09 + 1,024 GB × $0.085 = $1,008.64 in total.
    let gb = 1u64 << 30;
    let rows = [
        row(
            "2025-01",
            UsageMeter::DataOutBytes,
            true,
            &["a1"],
            10_240 * gb,
        ),
        row(
            "2025-01",
            UsageMeter::DataOutBytes,
            true,
            &["a2"],
            1_024 * gb,
        ),
    ];
    let r = report(january(), &[Dimension::Api], &rows, &totals(&rows)).unwrap();
    assert_eq!(r.total(), dec!(1008.64));
    assert_eq!(sum_rows(&r), dec!(1008.64));
    // Blended, not first-come: a2 pays 1/11 of the bill, not the 0.085 tier alone.
    assert_eq!(r.rows()[1].cost, dec!(91.6945454545));
}

#[test]
fn websocket_milliseconds_become_minutes() {
    let rows = [
        // 1,000,000 minutes.
        row(
            "2025-01",
            UsageMeter::WebsocketConnectionMs,
            true,
            &[],
            60_000_000_000,
        ),
        row(
            "2025-01",
            UsageMeter::WebsocketMessages,
            true,
            &[],
            2_000_000,
        ),
    ];
    let r = report(january(), &[], &rows, &totals(&rows)).unwrap();
    assert_eq!(r.rows()[0].meter, Meter::WebsocketMessages);
    assert_eq!(r.rows()[0].cost, dec!(2));
    assert_eq!(r.rows()[1].meter, Meter::WebsocketConnectionMinutes);
    assert_eq!(r.rows()[1].billable_units, dec!(1_000_000));
    assert_eq!(r.rows()[1].cost, dec!(0.25));
    assert_eq!(r.total(), dec!(2.25));
}

#[test]
fn cache_milliseconds_become_hours_at_the_size_rate() {
    let day_ms = 24 * 3_600_000;
    let rows = [
        row(
            "2025-01",
            UsageMeter::CacheMs { centi_gb: 160 },
            true,
            &["s1"],
            day_ms,
        ),
        row(
            "2025-01",
            UsageMeter::CacheMs { centi_gb: 50 },
            true,
            &["s1"],
            1_800_000,
        ),
    ];
    let r = report(january(), &[Dimension::Stage], &rows, &totals(&rows)).unwrap();
    // Sorted by meter then size: 0.5 GB before 1.6 GB.
    let small = &r.rows()[0];
    assert_eq!(small.cache_size, Some(CacheSize::Gb0_5));
    assert_eq!(small.billable_units, dec!(0.5));
    assert_eq!(small.cost, dec!(0.01));
    let big = &r.rows()[1];
    assert_eq!(big.meter, Meter::CacheHours);
    assert_eq!(big.cache_size, Some(CacheSize::Gb1_6));
    assert_eq!(big.billable_units, dec!(24));
    assert_eq!(big.cost, dec!(0.912));
    assert_eq!(big.display_cost(), "0.912");
    assert_eq!(big.label(), "cache_hours (1.6 GB)");
    assert_eq!(r.display_total(), "0.922");
    // An offered size is required.
    let bad = [row(
        "2025-01",
        UsageMeter::CacheMs { centi_gb: 100 },
        true,
        &[],
        1,
    )];
    assert!(matches!(
        report(january(), &[], &bad, &totals(&bad)),
        Err(PricingError::InvalidCacheSize(_))
    ));
}

#[test]
fn part_of_a_month_pays_the_whole_months_blended_rate() {
    // The month has 400 M billable requests: $300 + 100 M × $0.90/M = $390, $0.975/M.
    let period = Period::parse("2025-01-10", "2025-01-20").unwrap();
    let rows = [row(
        "2025-01",
        UsageMeter::HttpRequests,
        true,
        &[],
        150_000_000,
    )];
    let month = [row(
        "2025-01",
        UsageMeter::HttpRequests,
        true,
        &[],
        400_000_000,
    )];
    let r = report(period, &[], &rows, &month).unwrap();
    assert_eq!(r.total(), dec!(146.25));
    // Not the first tier alone, as pricing the period by itself would give.
    assert_ne!(r.total(), dec!(150));
    let c = &r.charges()[0];
    assert_eq!(c.unit_price, dec!(0.000000975));
}

#[test]
fn free_tier_applies_to_the_months_total() {
    let rows = [
        row("2025-01", UsageMeter::HttpRequests, true, &["a"], 1_500_000),
        row("2025-01", UsageMeter::HttpRequests, true, &["b"], 500_000),
    ];
    let r = build_report(&ReportInput {
        catalog: &Catalog::embedded(),
        free_tier: FreeTier::Legacy12Month,
        period: january(),
        group_by: &[Dimension::Api],
        rows: &rows,
        month_totals: &totals(&rows),
    })
    .unwrap();
    // 2 M − 1 M free = 1 M × $1/M, blended over both APIs.
    assert_eq!(r.total(), dec!(1));
    assert_eq!(r.rows()[0].cost, dec!(0.75));
    assert_eq!(r.rows()[1].cost, dec!(0.25));
}

#[test]
fn months_are_tiered_separately() {
    let period = Period::parse("2025-01", "2025-03").unwrap();
    let rows = [
        row(
            "2025-01",
            UsageMeter::HttpRequests,
            true,
            &["a"],
            300_000_000,
        ),
        row(
            "2025-02",
            UsageMeter::HttpRequests,
            true,
            &["a"],
            100_000_000,
        ),
    ];
    let r = report(period, &[Dimension::Api], &rows, &totals(&rows)).unwrap();
    // Both months stay in the first tier: 400 M × $1/M.
    assert_eq!(r.rows().len(), 1);
    assert_eq!(r.rows()[0].billable_units, dec!(400_000_000));
    assert_eq!(r.total(), dec!(400));
    assert_eq!(r.charges().len(), 2);
}

#[test]
fn unknown_region_is_an_error_naming_it() {
    let mut r = row("2025-01", UsageMeter::HttpRequests, false, &[], 1);
    r.region = "mars-north-1".into();
    let rows = [r];
    let err = report(january(), &[], &rows, &totals(&rows)).unwrap_err();
    assert!(
        matches!(&err, PricingError::UnknownRegion { region, .. } if region == "mars-north-1"),
        "{err:?}"
    );
    assert!(err.to_string().contains("mars-north-1"));
}

#[test]
fn inconsistent_inputs_are_errors() {
    let rows = [row("2025-01", UsageMeter::HttpRequests, true, &[], 10)];
    // Month totals missing.
    assert!(matches!(
        report(january(), &[], &rows, &[]),
        Err(PricingError::UsageMismatch { .. })
    ));
    // A row outside the period's months.
    assert!(matches!(
        report(
            Period::month("2025-02").unwrap(),
            &[],
            &rows,
            &totals(&rows)
        ),
        Err(PricingError::InvalidField { .. })
    ));
    // A group of the wrong length.
    assert!(matches!(
        report(january(), &[Dimension::Api], &rows, &totals(&rows)),
        Err(PricingError::InvalidField { .. })
    ));
    // The same dimension twice.
    assert!(report(january(), &[Dimension::Api, Dimension::Api], &[], &[]).is_err());
}

#[test]
fn json_field_names_and_string_values() {
    let by = [
        Dimension::Api,
        Dimension::Route,
        Dimension::Tag("team".into()),
    ];
    let rows = [
        row(
            "2025-01",
            UsageMeter::HttpRequests,
            true,
            &["a1", "GET /pets", "pay"],
            123,
        ),
        row(
            "2025-01",
            UsageMeter::HttpRequests,
            false,
            &["a1", "GET /pets", "pay"],
            4,
        ),
        row(
            "2025-01",
            UsageMeter::CacheMs { centi_gb: 50 },
            true,
            &["a1", "", "pay"],
            3_600_000,
        ),
    ];
    let r = report(january(), &by, &rows, &totals(&rows)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    let top: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec!["currency", "period", "group_by", "rows", "total"];
    expected.sort_unstable();
    let mut got = top.clone();
    got.sort_unstable();
    assert_eq!(got, expected);
    assert_eq!(v["currency"], "USD");
    assert_eq!(v["period"]["from"], "2025-01-01T00:00:00Z");
    assert_eq!(v["period"]["to"], "2025-02-01T00:00:00Z");
    assert_eq!(
        v["group_by"],
        serde_json::json!(["api", "route", "tag:team"])
    );
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let http = rows.iter().find(|r| r["meter"] == "http_requests").unwrap();
    let mut keys: Vec<&str> = http
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "api",
            "billable_units",
            "cost",
            "meter",
            "non_billable_cost",
            "non_billable_units",
            "route",
            "tag:team"
        ]
    );
    assert_eq!(http["api"], "a1");
    assert_eq!(http["route"], "GET /pets");
    assert_eq!(http["tag:team"], "pay");
    assert_eq!(http["billable_units"], "123");
    assert_eq!(http["non_billable_units"], "4");
    assert_eq!(http["cost"], "0.000123");
    // The 4 rejected requests would have cost $1.00 per million on top of the month's 123.
    assert_eq!(http["non_billable_cost"], "0.000004");
    let cache = rows.iter().find(|r| r["meter"] == "cache_hours").unwrap();
    assert_eq!(cache["cache_size_gb"], "0.5");
    assert_eq!(cache["cost"], "0.02");
    for r in rows {
        for (k, val) in r.as_object().unwrap() {
            assert!(val.is_string(), "{k} is not a string: {val}");
        }
    }
    assert!(v["total"].is_string());
    assert_eq!(v["total"], "0.020123");
}

#[test]
fn csv_and_table_shapes() {
    let by = [Dimension::Api, Dimension::Route];
    let rows = [
        row(
            "2025-01",
            UsageMeter::HttpRequests,
            true,
            &["a1", "GET /a,b"],
            2_000_000,
        ),
        row(
            "2025-01",
            UsageMeter::HttpRequests,
            false,
            &["a1", "GET /a,b"],
            3,
        ),
        row(
            "2025-01",
            UsageMeter::HttpRequests,
            true,
            &["a2", ""],
            1_000_000,
        ),
    ];
    let r = report(january(), &by, &rows, &totals(&rows)).unwrap();
    let csv = r.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "api,route,meter,cache_size_gb,billable_units,non_billable_units,cost,non_billable_cost"
    );
    assert_eq!(
        lines[1],
        "a1,\"GET /a,b\",http_requests,,2000000,3,2,0.000003"
    );
    assert_eq!(lines[2], "a2,,http_requests,,1000000,0,1,0");
    assert_eq!(lines.len(), 3, "no total line");

    let table = r.to_table();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("api    route     meter"), "{table}");
    assert!(
        lines[0].ends_with("cost (USD)  not billed (USD)"),
        "{table}"
    );
    assert!(
        lines[2].contains("GET /a,b") && lines[2].contains(" 2.00 ") && lines[2].ends_with("0.00"),
        "{table}"
    );
    assert!(lines[3].contains("(none)"), "{table}");
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("total") && last.trim_end().ends_with("3.00"),
        "{table}"
    );
    // Every line as wide as the rule.
    let width = lines[1].len();
    assert!(lines.iter().all(|l| l.chars().count() <= width));
}

#[test]
fn focus_rows_carry_the_charge() {
    let by = focus_dimensions(&["team"]);
    assert_eq!(
        by.iter().map(Dimension::name).collect::<Vec<_>>(),
        ["api", "stage", "route", "key", "status", "reason", "tag:team"]
    );
    let g = ["a1", "prod", "GET /pets", "k1", "2xx", "integration", "pay"];
    let rej = ["a1", "prod", "GET /pets", "", "4xx", "throttled", "pay"];
    // Mid-January to mid-February.
    let period = Period::parse("2025-01-15", "2025-02-10T12:00:00Z").unwrap();
    let rows = [
        row("2025-01", UsageMeter::HttpRequests, true, &g, 1_000_000),
        row("2025-01", UsageMeter::HttpRequests, false, &rej, 10),
        row("2025-02", UsageMeter::HttpRequests, true, &g, 500_000),
    ];
    let month = [
        row("2025-01", UsageMeter::HttpRequests, true, &[], 2_000_000),
        row("2025-02", UsageMeter::HttpRequests, true, &[], 500_000),
    ];
    let r = report(period, &by, &rows, &month).unwrap();
    let focus = r.to_focus();
    let mut rdr = csv::Reader::from_reader(focus.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    for col in [
        "BilledCost",
        "BillingAccountId",
        "BillingCurrency",
        "BillingPeriodStart",
        "BillingPeriodEnd",
        "ChargeCategory",
        "ChargeClass",
        "ChargeDescription",
        "ChargeFrequency",
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "ConsumedQuantity",
        "ConsumedUnit",
        "ContractedCost",
        "EffectiveCost",
        "InvoiceIssuerName",
        "ListCost",
        "ListUnitPrice",
        "PricingCategory",
        "PricingQuantity",
        "PricingUnit",
        "ProviderName",
        "PublisherName",
        "RegionId",
        "RegionName",
        "ResourceId",
        "ResourceName",
        "ServiceCategory",
        "ServiceName",
        "SkuId",
        "SkuPriceId",
        "SubAccountId",
        "Tags",
        "x_Stage",
        "x_Route",
        "x_ApiKey",
        "x_Client",
        "x_StatusClass",
        "x_Billable",
        "x_Reason",
    ] {
        assert!(header.iter().any(|h| h == col), "missing {col}");
    }
    assert_eq!(header, FOCUS_COLUMNS);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let recs: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs.len(), r.charges().len());
    let mut billed = Decimal::ZERO;
    for (rec, charge) in recs.iter().zip(r.charges()) {
        assert_eq!(rec.len(), FOCUS_COLUMNS.len());
        let cost: Decimal = rec[col("BilledCost")].parse().unwrap();
        assert_eq!(cost, charge.cost);
        assert_eq!(rec[col("EffectiveCost")], rec[col("BilledCost")]);
        billed += cost;
        assert_eq!(&rec[col("ServiceName")], "Amazon API Gateway");
        assert_eq!(&rec[col("ChargeCategory")], "Usage");
        assert_eq!(&rec[col("ChargeFrequency")], "Usage-Based");
        assert_eq!(&rec[col("RegionName")], "US East (N. Virginia)");
        assert_eq!(&rec[col("ResourceId")], "a1");
        assert_eq!(&rec[col("x_Stage")], "prod");
        let tags: serde_json::Value = serde_json::from_str(&rec[col("Tags")]).unwrap();
        assert_eq!(tags, serde_json::json!({"team": "pay"}));
    }
    assert_eq!(billed, r.total());

    // January, rejected: consumed, not priced, free.
    let rej = &recs[0];
    assert_eq!(&rej[col("x_Billable")], "false");
    assert_eq!(&rej[col("x_Reason")], "throttled");
    assert_eq!(&rej[col("BilledCost")], "0");
    assert_eq!(&rej[col("ConsumedQuantity")], "10");
    assert_eq!(&rej[col("PricingQuantity")], "0");
    // January, billable: half the month's 2 M at $1/M.
    let jan = &recs[1];
    assert_eq!(&jan[col("x_Billable")], "true");
    assert_eq!(&jan[col("BilledCost")], "1");
    assert_eq!(&jan[col("ListUnitPrice")], "0.000001");
    assert_eq!(&jan[col("PricingUnit")], "Requests");
    assert_eq!(&jan[col("ChargePeriodStart")], "2025-01-15T00:00:00Z");
    assert_eq!(&jan[col("ChargePeriodEnd")], "2025-02-01T00:00:00Z");
    assert_eq!(&jan[col("BillingPeriodStart")], "2025-01-01T00:00:00Z");
    assert_eq!(&jan[col("BillingPeriodEnd")], "2025-02-01T00:00:00Z");
    assert_eq!(&jan[col("x_StatusClass")], "2xx");
    assert_eq!(&jan[col("x_ApiKey")], "k1");
    assert_eq!(&jan[col("x_Route")], "GET /pets");
    // February: the period ends on the 10th at noon.
    let feb = &recs[2];
    assert_eq!(&feb[col("ChargePeriodStart")], "2025-02-01T00:00:00Z");
    assert_eq!(&feb[col("ChargePeriodEnd")], "2025-02-10T12:00:00Z");
    assert_eq!(&feb[col("BillingPeriodEnd")], "2025-03-01T00:00:00Z");
    assert_eq!(&feb[col("BilledCost")], "0.5");
}

proptest! {
    /// Random splits of a month's units over random groups (billable or not, over several
    /// meters) add up exactly to each meter's month cost.
    #[test]
    fn groups_add_up_to_the_month_cost(
        parts in proptest::collection::vec(
            (0usize..8, 0usize..4, any::<bool>(), 0u64..400_000_000u64),
            1..30,
        ),
        free in any::<bool>(),
    ) {
        let meters = [
            UsageMeter::HttpRequests,
            UsageMeter::RestRequests,
            UsageMeter::DataOutBytes,
            UsageMeter::WebsocketConnectionMs,
        ];
        let names: Vec<String> = (0..8).map(|i| format!("route-{i}")).collect();
        let rows: Vec<UsageRow> = parts
            .iter()
            .map(|&(g, m, billable, units)| {
                row("2025-01", meters[m], billable, &[names[g].as_str()], units)
            })
            .collect();
        let month = totals(&rows);
        let free_tier = FreeTier::from(free);
        let catalog = Catalog::embedded();
        let r = build_report(&ReportInput {
            catalog: &catalog,
            free_tier,
            period: january(),
            group_by: &[Dimension::Route],
            rows: &rows,
            month_totals: &month,
        })
        .unwrap();
        let region = catalog.region("us-east-1").unwrap();
        let mut expected_total = Decimal::ZERO;
        for m in meters {
            let base: u128 = month
                .iter()
                .filter(|t| t.meter == m && t.billable)
                .map(|t| u128::from(t.counts.units))
                .sum();
            let (meter, size) = tollgate_pricing::pricing_meter(m).unwrap();
            let units = tollgate_pricing::to_pricing_units(m, base).unwrap();
            let cost = if base == 0 {
                Decimal::ZERO
            } else {
                region.month_cost(meter, size, units, free_tier).unwrap()
            };
            let got: Decimal = r.rows().iter().filter(|x| x.meter == meter).map(|x| x.cost).sum();
            prop_assert_eq!(got, cost, "meter {}", meter);
            expected_total += cost;
        }
        // Across meters, costs with ~28 decimals (bytes ÷ 1024³, ms ÷ 60,000) add up within
        // rust_decimal's 28-29 significant digits; the total is the sum of the rows as shown.
        prop_assert!((r.total() - expected_total).abs() <= dec!(0.00000000000000000001));
        prop_assert_eq!(r.rows().iter().map(|x| x.cost).sum::<Decimal>(), r.total());
        for x in r.rows() {
            prop_assert!(!x.cost.is_sign_negative() || x.cost.is_zero());
            if x.billable_units.is_zero() {
                prop_assert!(x.cost.is_zero());
            }
        }
    }

    /// Over part of a month, each group pays its share of the month at the blended rate.
    #[test]
    fn partial_month_costs_follow_the_blended_rate(
        parts in proptest::collection::vec(0u64..300_000_000u64, 1..10),
        outside in 0u64..600_000_000u64,
    ) {
        let rows: Vec<UsageRow> = parts
            .iter()
            .enumerate()
            .map(|(i, &u)| row("2025-01", UsageMeter::HttpRequests, true, &[&i.to_string()], u))
            .collect();
        let mut month = totals(&rows);
        month[0].counts.units += outside;
        let r = report(
            Period::parse("2025-01-05", "2025-01-06").unwrap(),
            &[Dimension::Api],
            &rows,
            &month,
        )
        .unwrap();
        let month_units = Decimal::from(month[0].counts.units);
        let month_cost = Catalog::embedded()
            .region("us-east-1")
            .unwrap()
            .month_cost(Meter::HttpRequests, None, month_units, FreeTier::Off)
            .unwrap();
        // Same split as attributing the whole month and dropping the part outside.
        let mut weights: Vec<Decimal> = parts.iter().copied().map(Decimal::from).collect();
        if outside > 0 {
            weights.push(Decimal::from(outside));
        }
        let shares = attribute(month_cost, &weights).unwrap();
        let inside: Decimal = shares[..parts.len()].iter().copied().sum();
        prop_assert_eq!(r.total(), inside);
    }
}
