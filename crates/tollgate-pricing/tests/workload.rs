//! Workload files: parsing, errors naming the field, and the estimate output shapes.

use rust_decimal_macros::dec;
use tollgate_pricing::{estimate, Catalog, Meter, PricingError, Workload};

#[test]
fn full_workload_parses_and_prices() {
    let yaml = r#"
region: us-east-1
free_tier: false
days: 30
http:
  requests: 1000000
  request_kb: 513
  response_kb: 10
rest:
  requests_per_minute: 10
websocket:
  messages_per_connection_per_minute: 2
  message_kb: 33
  connections: 100
  connected_hours_per_day: 8
cache:
  size_gb: 0.5
data_out_gb: 1.5
"#;
    let w = Workload::from_yaml_str(yaml).unwrap();
    let q = w.quantities().unwrap();
    assert_eq!(q.http_requests, Some(dec!(2_000_000)));
    assert_eq!(q.rest_requests, Some(dec!(432_000)));
    // 100 × 8 h × 60 × 30 = 1,440,000 minutes; × 2 msg/min × 2 units (33 KB).
    assert_eq!(q.websocket_connection_minutes, Some(dec!(1_440_000)));
    assert_eq!(q.websocket_messages, Some(dec!(5_760_000)));
    assert_eq!(q.cache.map(|c| c.1), Some(dec!(720)));
    let e = estimate(&Catalog::embedded(), &w).unwrap();
    let meters: Vec<_> = e.lines.iter().map(|l| l.meter).collect();
    assert_eq!(meters, Meter::ALL.to_vec());
}

#[test]
fn json_shape_uses_decimal_strings() {
    let w = Workload::from_yaml_str("http:\n  requests_per_minute: 10000\n").unwrap();
    let e = estimate(&Catalog::embedded(), &w).unwrap();
    let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
    assert_eq!(v["currency"], "USD");
    assert_eq!(v["total"], "418.80");
    assert_eq!(v["lines"][0]["meter"], "http_requests");
    assert_eq!(v["lines"][0]["units"], "432000000");
    assert_eq!(v["lines"][0]["cost"], "418.80");
    assert_eq!(v["lines"][0]["exact_cost"], "418.8");
    assert!(v["lines"][0].get("cache_size_gb").is_none());
}

#[test]
fn table_and_csv() {
    let w = Workload::from_yaml_str("rest:\n  requests: 5000000\n  response_kb: 3\n").unwrap();
    let e = estimate(&Catalog::embedded(), &w).unwrap();
    let t = e.to_table();
    let lines: Vec<_> = t.lines().collect();
    assert!(lines[0].starts_with("meter"));
    assert!(lines.last().unwrap().starts_with("total (us-east-1)"));
    assert!(lines.last().unwrap().ends_with("18.79"));
    // Aligned: every row has the same width.
    let width = lines[0].len();
    assert!(lines.iter().all(|l| l.len() == width), "{t}");
    let csv = e.to_csv();
    assert_eq!(
        csv,
        "meter,cache_size_gb,units,cost,exact_cost\n\
         rest_requests,,5000000,17.50,17.5\n\
         data_transfer_out_gb,,14.30511474609375,1.29,1.287460327148437500\n\
         total,,,18.79,18.787460327148437500\n"
            .replace("1.287460327148437500", "1.2874603271484375")
            .replace("18.787460327148437500", "18.7874603271484375")
    );
}

#[test]
fn unknown_key_is_an_error_naming_it() {
    let err = Workload::from_yaml_str("http:\n  requets: 5\n").unwrap_err();
    assert!(matches!(err, PricingError::Workload(_)));
    assert!(err.to_string().contains("requets"), "{err}");
    let err = Workload::from_yaml_str("regoin: us-east-1\n").unwrap_err();
    assert!(err.to_string().contains("regoin"), "{err}");
}

#[test]
fn negative_numbers_are_errors_naming_the_field() {
    for (yaml, field) in [
        ("http:\n  requests: -1\n", "http.requests"),
        (
            "websocket:\n  messages_per_minute: -0.5\n",
            "websocket.messages_per_minute",
        ),
        ("rest:\n  response_kb: -3\n", "rest.response_kb"),
        ("data_out_gb: -2\n", "data_out_gb"),
        ("days: -30\n", "days"),
        ("cache:\n  size_gb: 0.5\n  hours: -1\n", "cache.hours"),
    ] {
        let err = Workload::from_yaml_str(yaml).unwrap_err();
        assert!(
            matches!(&err, PricingError::Negative { field: f, .. } if f == field),
            "{yaml}: {err}"
        );
        assert!(err.to_string().contains(field));
    }
}

#[test]
fn conflicting_and_invalid_fields() {
    let err =
        Workload::from_yaml_str("http:\n  requests: 1\n  requests_per_minute: 1\n").unwrap_err();
    assert!(
        err.to_string().contains("http.requests_per_minute"),
        "{err}"
    );
    let err = Workload::from_yaml_str("cache:\n  size_gb: 1.55\n").unwrap_err();
    assert!(err.to_string().contains("cache.size_gb"), "{err}");
    let err = Workload::from_yaml_str("websocket:\n  message_kb: 129\n").unwrap_err();
    assert!(err.to_string().contains("websocket.message_kb"), "{err}");
    let err = Workload::from_yaml_str("http:\n  requests: lots\n").unwrap_err();
    assert!(matches!(err, PricingError::Workload(_)), "{err}");
}

#[test]
fn unknown_region_in_workload() {
    let w = Workload::from_yaml_str("region: xx-nowhere-9\nrest:\n  requests: 1\n").unwrap();
    let err = estimate(&Catalog::embedded(), &w).unwrap_err();
    assert!(err.to_string().contains("us-east-1"), "{err}");
}

#[test]
fn free_tier_in_workload() {
    let w = Workload::from_yaml_str(
        "free_tier: true\nwebsocket:\n  messages: 1000000\n  connection_minutes: 750000\n",
    )
    .unwrap();
    let e = estimate(&Catalog::embedded(), &w).unwrap();
    assert_eq!(e.total, dec!(0));
    assert!(e.free_tier);
}

#[test]
fn unpriced_meter_is_never_silently_free() {
    let w = Workload::from_yaml_str("region: ap-south-1\nhttp:\n  requests: 0\n").unwrap();
    assert!(matches!(
        estimate(&Catalog::embedded(), &w),
        Err(PricingError::NoRate { .. })
    ));
}
