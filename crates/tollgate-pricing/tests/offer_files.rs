//! Price List offer files (aws-facts.md §7), tested with synthetic fixtures written from that
//! description (tests/fixtures/offer-small.{json,csv}).

use rust_decimal_macros::dec;
use tollgate_pricing::{estimate, CacheSize, Catalog, FreeTier, Meter, PricingError, Workload};

const JSON: &str = include_str!("fixtures/offer-small.json");
const CSV: &str = include_str!("fixtures/offer-small.csv");

#[test]
fn json_offer_file_loads_tiers() {
    let c = Catalog::from_offer_json(JSON).unwrap();
    assert_eq!(
        c.regions().collect::<Vec<_>>(),
        ["ap-northeast-2", "us-east-1"]
    );
    let r = c.region("us-east-1").unwrap();
    let http = r.table(Meter::HttpRequests, None).unwrap();
    assert_eq!(http.tiers().len(), 2);
    assert!(http.source().contains("SKU FC2TWT2UEPTBKVBX"));
    assert!(http.source().contains("20250701000000"));
    assert_eq!(r.table(Meter::RestRequests, None).unwrap().tiers().len(), 4);
    // Same answers as the embedded us-east-1 table: HTTP-1 and the tier boundary.
    let w = Workload::from_yaml_str("http:\n  requests_per_minute: 10000\n").unwrap();
    assert_eq!(estimate(&c, &w).unwrap().total, dec!(418.8));
    assert_eq!(
        r.month_cost(Meter::HttpRequests, None, dec!(300_000_001), FreeTier::Off)
            .unwrap(),
        dec!(300.0000009)
    );
    assert_eq!(
        r.month_cost(
            Meter::CacheHours,
            Some(CacheSize::Gb0_5),
            dec!(730),
            FreeTier::Off
        )
        .unwrap(),
        dec!(14.6)
    );
    // Seoul: first tier only, so above 300 M is an error, not a guess.
    let seoul = c.region("ap-northeast-2").unwrap();
    assert!(seoul
        .month_cost(Meter::HttpRequests, None, dec!(300_000_001), FreeTier::Off)
        .is_err());
}

#[test]
fn csv_offer_file_loads() {
    let c = Catalog::from_offer_csv(CSV.as_bytes()).unwrap();
    let r = c.region("us-east-1").unwrap();
    assert_eq!(
        r.month_cost(
            Meter::WebsocketMessages,
            None,
            dec!(1_500_000_000),
            FreeTier::Off
        )
        .unwrap(),
        dec!(1400)
    );
    assert_eq!(
        r.month_cost(
            Meter::CacheHours,
            Some(CacheSize::Gb1_6),
            dec!(24),
            FreeTier::Off
        )
        .unwrap(),
        dec!(0.912)
    );
    assert_eq!(
        r.month_cost(
            Meter::WebsocketConnectionMinutes,
            None,
            dec!(21_600_000),
            FreeTier::Off
        )
        .unwrap(),
        dec!(5.4)
    );
    assert!(r.table(Meter::HttpRequests, None).is_err());
}

fn offer_err(json: &str) -> String {
    match Catalog::from_offer_json(json) {
        Err(e @ PricingError::OfferFile { .. }) => e.to_string(),
        other => panic!("expected an offer-file error, got {other:?}"),
    }
}

#[test]
fn malformed_json_offer_files() {
    let msg = offer_err("{ not json");
    assert!(msg.contains("line 1"), "{msg}");
    let msg = offer_err(r#"{"terms": {"OnDemand": {}}}"#);
    assert!(msg.contains("products"), "{msg}");
    // A gap between tiers.
    let gap = JSON.replace(
        r#""beginRange": "333000000", "endRange": "1000000000""#,
        r#""beginRange": "334000000", "endRange": "1000000000""#,
    );
    let msg = offer_err(&gap);
    assert!(msg.contains("not contiguous"), "{msg}");
    assert!(msg.contains("KKDZ3TFSXUSMCZ3A"), "{msg}");
    // A price that is not a number.
    let bad = JSON.replace(r#""USD": "0.0200000000""#, r#""USD": "two cents""#);
    let msg = offer_err(&bad);
    assert!(
        msg.contains("CACHE05USE1") && msg.contains("two cents"),
        "{msg}"
    );
    // A product without its OnDemand term.
    let orphan = JSON.replace(
        r#""SEOULHTTP": {
        "SEOULHTTP.JRTCKXETXF""#,
        r#""SEOULHTTPX": {
        "SEOULHTTP.JRTCKXETXF""#,
    );
    let msg = offer_err(&orphan);
    assert!(msg.contains("terms.OnDemand.SEOULHTTP"), "{msg}");
}

#[test]
fn malformed_csv_offer_files() {
    let err = Catalog::from_offer_csv("\"FormatVersion\",\"v1.0\"\n".as_bytes()).unwrap_err();
    assert!(err.to_string().contains("SKU"), "{err}");
    let no_col = CSV.replace("\"Region Code\"", "\"Regio\"");
    let err = Catalog::from_offer_csv(no_col.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("regioncode"), "{err}");
    let bad = CSV.replace("\"0.0000002500\"", "\"-1\"");
    let err = Catalog::from_offer_csv(bad.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("row 9"), "{err}");
    let eur = CSV.replace("\"0.0380000000\",\"USD\"", "\"0.0380000000\",\"EUR\"");
    let err = Catalog::from_offer_csv(eur.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("EUR"), "{err}");
}
