//! The arithmetic of each kind on hand-made ledgers: one week of usage (so a month is 30/7
//! of it) at us-east-1 prices.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tollgate_meter::Ledger;
use tollgate_pricing::Catalog;
use tollgate_types::usage::{
    Reason, Tags, UsageBatch, UsageCounts, UsageKey, UsageMeter, UsageRecord,
};

use super::*;

/// 2025-03-01T00:00:00Z and a week later.
const FROM: i64 = 1_740_787_200;
const TO: i64 = FROM + 7 * 86_400;

struct Rec<'a> {
    api: &'a str,
    stage: &'a str,
    route: &'a str,
    key: &'a str,
    status: u8,
    reason: Reason,
    meter: UsageMeter,
    units: u64,
}

fn rec(api: &str, meter: UsageMeter, units: u64) -> Rec<'_> {
    Rec {
        api,
        stage: "prod",
        route: "GET /x",
        key: "",
        status: 2,
        reason: Reason::Integration,
        meter,
        units,
    }
}

fn ledger(records: &[Rec<'_>]) -> (tempfile::TempDir, Box<dyn Ledger>) {
    let dir = tempfile::tempdir().unwrap();
    let url = tollgate_store::parse_store_url(&format!("sqlite://{}/t.db", dir.path().display()))
        .unwrap();
    let mut l = tollgate_store::open(&url, tollgate_store::OpenMode::CreateIfMissing).unwrap();
    let records = records
        .iter()
        .map(|r| UsageRecord {
            key: UsageKey {
                bucket: FROM + 3_600,
                region: "us-east-1".into(),
                api: r.api.into(),
                stage: r.stage.into(),
                route: r.route.into(),
                api_key: r.key.into(),
                client: "10.0.0.1".into(),
                status_class: r.status,
                billable: !matches!(r.reason, Reason::AuthFailed | Reason::Throttled),
                reason: r.reason,
                meter: r.meter,
                tags: Tags::new(),
            },
            counts: UsageCounts {
                units: r.units,
                events: match r.meter {
                    UsageMeter::DataOutBytes
                    | UsageMeter::UncompressedBytes
                    | UsageMeter::WebsocketConnectionMs
                    | UsageMeter::WebsocketIdleMs { .. }
                    | UsageMeter::CacheMs { .. } => 0,
                    _ => r.units,
                },
            },
        })
        .collect();
    l.append(&UsageBatch {
        id: "t".into(),
        records,
    })
    .unwrap();
    (dir, l)
}

fn run(records: &[Rec<'_>]) -> Vec<Recommendation> {
    let catalog = Catalog::embedded();
    let (_dir, mut l) = ledger(records);
    let options = RecommendOptions {
        min_saving: Decimal::ZERO,
        ..RecommendOptions::new(&catalog, FROM, TO)
    };
    recommend(l.as_mut(), &options).unwrap().recommendations
}

fn only(list: &[Recommendation], kind: Kind) -> &Recommendation {
    let of: Vec<&Recommendation> = list.iter().filter(|r| r.kind == kind).collect();
    assert_eq!(of.len(), 1, "{list:#?}");
    of[0]
}

#[test]
fn rest_to_http_prices_the_same_requests_both_ways() {
    // 7 M a week = 30 M a month: $105 at $3.50 per million, $30 at $1.00.
    let list = run(&[
        rec("old", UsageMeter::RestRequests, 7_000_000),
        Rec {
            key: "k1",
            ..rec("keyed", UsageMeter::RestRequests, 7_000_000)
        },
    ]);
    let r = only(&list, Kind::RestToHttp);
    assert_eq!(r.target, "old");
    assert_eq!(r.monthly_saving, dec!(75));
    assert!(r.evidence.contains("30,000,000") && r.evidence.contains("$105.00"));
    assert!(r.evidence.contains("$30.00"), "{}", r.evidence);
}

#[test]
fn idle_timeout_quotes_each_threshold_and_heads_with_ten_minutes() {
    let minutes = |m: u64| m * 60_000;
    let list = run(&[
        rec("ws", UsageMeter::WebsocketConnectionMs, minutes(14_000_000)),
        rec(
            "ws",
            UsageMeter::WebsocketIdleMs { minutes: 10 },
            minutes(7_000_000),
        ),
        rec(
            "ws",
            UsageMeter::WebsocketIdleMs { minutes: 5 },
            minutes(8_400_000),
        ),
        rec(
            "ws",
            UsageMeter::WebsocketIdleMs { minutes: 1 },
            minutes(11_200_000),
        ),
    ]);
    let r = only(&list, Kind::WebsocketIdleTimeout);
    assert_eq!(r.target, "ws/prod");
    // 30 M minutes a month at $0.25 per million.
    assert_eq!(r.monthly_saving, dec!(7.5));
    assert!(r
        .evidence
        .contains("idle beyond 5 min: 36,000,000 minutes ($9.00)"));
    assert!(r
        .evidence
        .contains("idle beyond 1 min: 48,000,000 minutes ($12.00)"));
    assert!(r.action.contains("10 minutes"), "{}", r.action);
}

#[test]
fn messages_just_over_32_kb_save_one_unit_each() {
    let list = run(&[
        rec("ws", UsageMeter::MessageSize { le_kb: 40 }, 7_000_000),
        rec("ws", UsageMeter::MessageSize { le_kb: 4 }, 7_000_000),
        rec("ws", UsageMeter::WebsocketMessages, 21_000_000),
    ]);
    let r = only(&list, Kind::WebsocketMessageSize);
    // 30 M units a month at $1.00 per million.
    assert_eq!(r.monthly_saving, dec!(30));
    assert!(r.evidence.contains("50%"), "{}", r.evidence);
    assert!(list.iter().all(|r| r.kind != Kind::WebsocketBatching));
}

#[test]
fn batching_needs_small_and_frequent_messages() {
    let frequent = [
        rec("ws", UsageMeter::MessageSize { le_kb: 1 }, 70_000_000),
        rec("ws", UsageMeter::MessageSize { le_kb: 4 }, 7_000_000),
        rec("ws", UsageMeter::WebsocketConnectionMs, 1_000_000 * 60_000),
    ];
    let list = run(&frequent);
    let r = only(&list, Kind::WebsocketBatching);
    // 300 M small messages a month, 9 in 10 saved: 270 M at $1.00 per million.
    assert_eq!(r.monthly_saving, dec!(270));
    assert!(
        r.evidence.contains("91%") && r.evidence.contains("77.0"),
        "{}",
        r.evidence
    );
    // The same messages over 100 times the connection time: under one a minute, no advice.
    let slow = [
        rec("ws", UsageMeter::MessageSize { le_kb: 1 }, 70_000_000),
        rec(
            "ws",
            UsageMeter::WebsocketConnectionMs,
            100_000_000 * 60_000,
        ),
    ];
    assert!(run(&slow).iter().all(|r| r.kind != Kind::WebsocketBatching));
}

#[test]
fn compression_saves_the_assumed_share_of_data_out() {
    let gib = 1u64 << 30;
    let list = run(&[
        Rec {
            route: "GET /big",
            ..rec("a", UsageMeter::UncompressedBytes, 7 * gib)
        },
        Rec {
            route: "GET /big",
            ..rec("a", UsageMeter::DataOutBytes, 14 * gib)
        },
    ]);
    let r = only(&list, Kind::Compression);
    assert_eq!(r.target, "a/prod GET /big");
    // 30 GB a month, 3/4 saved at 4:1: 22.5 GB at $0.09.
    assert_eq!(r.monthly_saving, dec!(2.025));
    assert!(r.evidence.contains("30.00 GB") && r.evidence.contains("50%"));
}

#[test]
fn a_cache_whose_hits_save_less_than_it_costs_is_advice() {
    let hours = |h: u64| h * 3_600_000;
    let list = run(&[
        rec("r", UsageMeter::CacheMs { centi_gb: 50 }, hours(7 * 24)),
        Rec {
            reason: Reason::CacheHit,
            ..rec("r", UsageMeter::RestRequests, 7_000_000)
        },
    ]);
    let r = only(&list, Kind::StageCache);
    // 720 hours at $0.02 = $14.40; 30 M hits × $0.40 per million = $12.00.
    assert_eq!(r.monthly_saving, dec!(2.4));
    assert!(r.evidence.contains("$14.40") && r.evidence.contains("$12.00"));
    // The cache is a REST-only feature: no rest-to-http for this API.
    assert!(list.iter().all(|r| r.kind != Kind::RestToHttp), "{list:#?}");
}

#[test]
fn retries_cost_their_cell_averages() {
    // 1,000 retries in a cell of 10,000 requests that sent 10 MB back: 1,000 requests and
    // 1 MB, over the 7-day period → ×30/7.
    let list = run(&[
        Rec {
            status: 5,
            ..rec("h", UsageMeter::HttpRequests, 10_000)
        },
        Rec {
            status: 5,
            ..rec("h", UsageMeter::DataOutBytes, 10 << 20)
        },
        Rec {
            status: 5,
            ..rec("h", UsageMeter::Retries, 1_000)
        },
    ]);
    let r = only(&list, Kind::ClientRetries);
    let requests = dec!(1000) * dec!(30) / dec!(7) * dec!(0.000001);
    let gb = dec!(1) / dec!(1024) * dec!(30) / dec!(7) * dec!(0.09);
    assert!(
        (r.monthly_saving - (requests + gb)).abs() < dec!(0.0000001),
        "{r:?}"
    );
}

#[test]
fn options_are_checked() {
    let catalog = Catalog::embedded();
    let (_dir, mut l) = ledger(&[]);
    let mut o = RecommendOptions::new(&catalog, FROM, TO);
    o.compression_ratio = Decimal::ONE;
    assert!(matches!(
        recommend(l.as_mut(), &o),
        Err(RecommendError::BadParameter(_))
    ));
    let o = RecommendOptions::new(&catalog, TO, FROM);
    assert!(recommend(l.as_mut(), &o).is_err());
    let o = RecommendOptions::new(&catalog, FROM, TO);
    assert!(recommend(l.as_mut(), &o)
        .unwrap()
        .recommendations
        .is_empty());
}

#[test]
fn json_is_the_contract() {
    let r = Recommendations {
        recommendations: vec![Recommendation {
            kind: Kind::StrayTraffic,
            target: target_name("shop", Some("test"), None),
            dimensions: [("api".to_owned(), "shop".to_owned())].into(),
            monthly_saving: dec!(418.8),
            evidence: "e".into(),
            action: "a".into(),
        }],
        data: "metered",
    };
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["data"], "metered");
    let first = &v["recommendations"][0];
    assert_eq!(first["kind"], "stray-traffic");
    assert_eq!(first["target"], "shop/test");
    assert_eq!(first["monthly_saving"], "418.80");
    assert_eq!(target_name("a", Some("s"), Some("GET /")), "a/s GET /");
    assert_eq!(target_name("a", Some("s"), Some("")), "a/s");
    assert!(r.to_table().contains("418.80  total"));
}
