//! Tier boundaries, running totals, free tier, catalog errors.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tollgate_pricing::{CacheSize, Catalog, FreeTier, Meter, PricingError};

fn use1() -> Catalog {
    Catalog::embedded()
}

#[test]
fn exactly_300_million_http_requests_all_first_tier() {
    let c = use1();
    let r = c.region("us-east-1").unwrap();
    let cost = r
        .month_cost(Meter::HttpRequests, None, dec!(300_000_000), FreeTier::Off)
        .unwrap();
    assert_eq!(cost, dec!(300));
}

#[test]
fn the_300_million_and_first_request_is_second_tier() {
    let c = use1();
    let r = c.region("us-east-1").unwrap();
    let cost = r
        .month_cost(Meter::HttpRequests, None, dec!(300_000_001), FreeTier::Off)
        .unwrap();
    assert_eq!(cost, dec!(300.0000009));
    // The same request priced alone, on the running total.
    let one = r
        .cost_of(
            Meter::HttpRequests,
            None,
            dec!(300_000_000),
            dec!(1),
            FreeTier::Off,
        )
        .unwrap();
    assert_eq!(one, dec!(0.0000009));
    let last_first_tier = r
        .cost_of(
            Meter::HttpRequests,
            None,
            dec!(299_999_999),
            dec!(1),
            FreeTier::Off,
        )
        .unwrap();
    assert_eq!(last_first_tier, dec!(0.000001));
}

#[test]
fn running_total_increments_add_up_to_the_month() {
    let c = use1();
    let r = c.region("us-east-1").unwrap();
    let chunks = [
        dec!(100_000_000),
        dec!(250_000_000),
        dec!(700_000_000),
        dec!(19_000_000_000),
        dec!(2_000_000_000),
    ];
    let mut so_far = Decimal::ZERO;
    let mut sum = Decimal::ZERO;
    for u in chunks {
        sum += r
            .cost_of(Meter::RestRequests, None, so_far, u, FreeTier::Off)
            .unwrap();
        so_far += u;
    }
    let whole = r
        .month_cost(Meter::RestRequests, None, so_far, FreeTier::Off)
        .unwrap();
    assert_eq!(sum, whole);
    // 333 M × 3.50 + 667 M × 2.80 + 19 B × 2.38 + 2.05 B × 1.51 (per million).
    assert_eq!(
        whole,
        dec!(1165.5) + dec!(1867.6) + dec!(45220) + dec!(3095.5)
    );
}

#[test]
fn data_out_tiers_in_gb() {
    let c = use1();
    let r = c.region("us-east-1").unwrap();
    let cost = r
        .month_cost(Meter::DataTransferOutGb, None, dec!(20_240), FreeTier::Off)
        .unwrap();
    assert_eq!(cost, dec!(10_240) * dec!(0.09) + dec!(10_000) * dec!(0.085));
}

#[test]
fn free_tier_is_subtracted_before_tiers() {
    let c = use1();
    let r = c.region("us-east-1").unwrap();
    let on = FreeTier::Legacy12Month;
    assert_eq!(
        r.month_cost(Meter::HttpRequests, None, dec!(1_000_000), on)
            .unwrap(),
        Decimal::ZERO
    );
    assert_eq!(
        r.month_cost(Meter::HttpRequests, None, dec!(301_000_000), on)
            .unwrap(),
        dec!(300)
    );
    assert_eq!(
        r.month_cost(Meter::HttpRequests, None, dec!(301_000_001), on)
            .unwrap(),
        dec!(300.0000009)
    );
    assert_eq!(
        r.month_cost(Meter::WebsocketConnectionMinutes, None, dec!(1_750_000), on)
            .unwrap(),
        dec!(0.25)
    );
    // Running total straddling the allowance: 500 k so far, 1 M more → 500 k billable.
    assert_eq!(
        r.cost_of(
            Meter::RestRequests,
            None,
            dec!(500_000),
            dec!(1_000_000),
            on
        )
        .unwrap(),
        dec!(1.75)
    );
    // Cache is not eligible.
    assert_eq!(
        r.month_cost(Meter::CacheHours, Some(CacheSize::Gb0_5), dec!(10), on)
            .unwrap(),
        dec!(0.2)
    );
    // Off by default.
    assert_eq!(FreeTier::default(), FreeTier::Off);
}

#[test]
fn unknown_region_lists_known_ones() {
    let c = use1();
    let err = c.region("mars-north-1").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("mars-north-1"), "{msg}");
    for known in [
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "ap-south-1",
        "eu-central-1",
        "ap-northeast-2",
    ] {
        assert!(msg.contains(known), "{msg}");
    }
}

#[test]
fn partial_regions_refuse_to_guess() {
    let c = use1();
    let seoul = c.region("ap-northeast-2").unwrap();
    assert_eq!(
        seoul
            .month_cost(Meter::HttpRequests, None, dec!(1_000_000), FreeTier::Off)
            .unwrap(),
        dec!(1.23)
    );
    let err = seoul
        .month_cost(Meter::HttpRequests, None, dec!(300_000_001), FreeTier::Off)
        .unwrap_err();
    assert!(
        matches!(err, PricingError::RateUnknownAbove { .. }),
        "{err}"
    );
    let err = seoul
        .month_cost(Meter::DataTransferOutGb, None, dec!(1), FreeTier::Off)
        .unwrap_err();
    assert!(matches!(err, PricingError::NoRate { .. }), "{err}");
    assert!(err.to_string().contains("data_transfer_out_gb"));
    let fra = c.region("eu-central-1").unwrap();
    assert_eq!(
        fra.month_cost(Meter::RestRequests, None, dec!(1_000_000), FreeTier::Off)
            .unwrap(),
        dec!(3.70)
    );
}

#[test]
fn every_embedded_table_cites_a_source() {
    let c = use1();
    for code in c.regions() {
        let r = c.region(code).unwrap();
        for (_, t) in r.meters() {
            assert!(t.source().starts_with("aws-facts §"), "{code}");
        }
        for (_, t) in r.cache_sizes() {
            assert!(t.source().starts_with("aws-facts §"), "{code}");
        }
    }
    assert_eq!(c.region("us-east-1").unwrap().cache_sizes().count(), 8);
}

#[test]
fn meter_names_are_stable() {
    let names: Vec<_> = Meter::ALL.iter().map(|m| m.as_str()).collect();
    assert_eq!(
        names,
        [
            "http_requests",
            "rest_requests",
            "websocket_messages",
            "websocket_connection_minutes",
            "cache_hours",
            "data_transfer_out_gb"
        ]
    );
    assert_eq!(
        serde_json::to_string(&Meter::WebsocketConnectionMinutes).unwrap(),
        "\"websocket_connection_minutes\""
    );
    assert_eq!("cache_hours".parse::<Meter>().unwrap(), Meter::CacheHours);
}

#[test]
fn cache_sizes_parse() {
    assert_eq!("1.6".parse::<CacheSize>().unwrap(), CacheSize::Gb1_6);
    assert_eq!("237".parse::<CacheSize>().unwrap(), CacheSize::Gb237);
    assert!("1.55".parse::<CacheSize>().is_err());
}
