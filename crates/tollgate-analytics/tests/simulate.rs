//! The simulator against a real SQLite ledger: determinism, idempotent reruns, seasonality,
//! and each scenario changing the ledger where (and only where) its ground truth says.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use tollgate_analytics::simulate::{Outcome, SimConfig, SimError, Simulation, TruthEntry};
use tollgate_meter::Ledger;
use tollgate_pricing::Catalog;
use tollgate_store::{open, parse_store_url, OpenMode};
use tollgate_types::usage::{Dimension, UsageQuery};

/// 2025-01-06T00:00:00Z, a Monday.
const MONDAY: i64 = 1_736_121_600;
const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

fn sim(seed: u64, days: u32, scenarios: &[&str]) -> Simulation {
    let config = SimConfig {
        seed,
        start: MONDAY,
        days,
        region: "us-east-1".into(),
        scenarios: scenarios.iter().map(|s| s.parse().unwrap()).collect(),
    };
    Simulation::new(config, &Catalog::embedded()).unwrap()
}

struct Store {
    _dir: tempfile::TempDir,
    ledger: Box<dyn Ledger>,
}

fn store() -> Store {
    let dir = tempfile::tempdir().unwrap();
    let url = parse_store_url(&format!("sqlite://{}/t.db", dir.path().display())).unwrap();
    let ledger = open(&url, OpenMode::CreateIfMissing).unwrap();
    Store { _dir: dir, ledger }
}

fn run(sim: &Simulation) -> (Store, Outcome) {
    let mut s = store();
    let outcome = sim.run(s.ledger.as_mut()).unwrap();
    (s, outcome)
}

/// (group values, ledger meter, billable) → units, months and regions merged.
type Cells = BTreeMap<(Vec<String>, String, bool), u64>;

const ALL_DIMS: [Dimension; 7] = [
    Dimension::Api,
    Dimension::Stage,
    Dimension::Route,
    Dimension::Key,
    Dimension::Client,
    Dimension::Status,
    Dimension::Reason,
];

fn query(ledger: &mut dyn Ledger, from: i64, to: i64, by: &[Dimension]) -> Cells {
    let rows = ledger
        .query(&UsageQuery {
            from,
            to,
            group_by: by.to_vec(),
        })
        .unwrap();
    let mut cells = Cells::new();
    for r in rows {
        *cells
            .entry((r.group, r.meter.name().into_owned(), r.billable))
            .or_default() += r.counts.units;
    }
    cells
}

fn total(cells: &Cells, meter: &str) -> u64 {
    cells
        .iter()
        .filter(|((_, m, _), _)| m == meter)
        .map(|(_, u)| u)
        .sum()
}

#[test]
fn same_seed_same_records_different_seed_different_records() {
    let a = sim(7, 2, &["retry-storm:day=1"]);
    let b = sim(7, 2, &["retry-storm:day=1"]);
    let c = sim(8, 2, &["retry-storm:day=1"]);
    for d in 0..2 {
        assert_eq!(a.day(d).batch, b.day(d).batch);
        assert_ne!(a.day(d).batch.records, c.day(d).batch.records);
    }
    // Through the ledger too.
    let (mut sa, oa) = run(&a);
    let (mut sb, ob) = run(&b);
    let (mut sc, _) = run(&c);
    assert_eq!(oa.records_written, ob.records_written);
    assert_eq!(oa.truth, ob.truth);
    let (from, to) = a.period();
    let qa = query(sa.ledger.as_mut(), from, to, &ALL_DIMS);
    assert_eq!(qa, query(sb.ledger.as_mut(), from, to, &ALL_DIMS));
    assert_ne!(qa, query(sc.ledger.as_mut(), from, to, &ALL_DIMS));
    // A scenario never changes the baseline's random draws: the same seed without it gives
    // the same usage outside the scenario's window.
    let plain = sim(7, 2, &[]);
    assert_eq!(plain.day(1).batch.records, a.day(1).batch.records);
}

#[test]
fn rerunning_the_same_simulation_adds_nothing() {
    let s = sim(3, 2, &["stray-stage"]);
    let (mut st, first) = run(&s);
    assert_eq!(first.batches_applied, 2);
    assert!(first.records_written > 1_000);
    let (from, to) = s.period();
    let before = query(st.ledger.as_mut(), from, to, &ALL_DIMS);
    let again = s.run(st.ledger.as_mut()).unwrap();
    assert_eq!(again.batches_applied, 0);
    assert_eq!(again.batches_skipped, 2);
    assert_eq!(again.records_written, 0);
    assert_eq!(again.truth, first.truth);
    assert_eq!(query(st.ledger.as_mut(), from, to, &ALL_DIMS), before);
    // A different configuration is a different simulation (new batch ids).
    assert_ne!(sim(3, 2, &[]).batch_id(0), s.batch_id(0));
    assert_ne!(sim(4, 2, &["stray-stage"]).batch_id(0), s.batch_id(0));
}

#[test]
fn volumes_follow_daily_and_weekly_seasonality_at_a_plausible_scale() {
    let s = sim(11, 7, &[]);
    let (mut st, _) = run(&s);
    let l = st.ledger.as_mut();
    let requests = |l: &mut dyn Ledger, from: i64, to: i64| {
        total(&query(l, from, to, &[]), "http_requests") as f64
    };
    // Wednesday vs Saturday (days 2 and 5 from Monday).
    let wed = requests(l, MONDAY + 2 * DAY, MONDAY + 3 * DAY);
    let sat = requests(l, MONDAY + 5 * DAY, MONDAY + 6 * DAY);
    let ratio = sat / wed;
    assert!((0.5..0.7).contains(&ratio), "weekend/weekday = {ratio}");
    // 15:00 (peak) vs 03:00 (night) UTC on Thursday.
    let thu = MONDAY + 3 * DAY;
    let peak = requests(l, thu + 15 * HOUR, thu + 16 * HOUR);
    let night = requests(l, thu + 3 * HOUR, thu + 4 * HOUR);
    let ratio = night / peak;
    assert!((0.18..0.33).contains(&ratio), "night/peak = {ratio}");
    // Millions of requests a weekday.
    assert!(
        (2.0e6..5.0e6).contains(&wed),
        "shop requests on a Wednesday: {wed}"
    );
    let day = query(l, thu, thu + DAY, &[]);
    for meter in [
        "rest_requests",
        "websocket_messages",
        "websocket_connection_ms",
        "data_out_bytes",
    ] {
        assert!(total(&day, meter) > 100_000, "{meter}");
    }
}

/// A scenario's ledger against the same seed without it: (window cells with, without),
/// (outside cells with, without), and its ground truth.
struct Compared {
    window: (Cells, Cells),
    outside: (Cells, Cells),
    truth: TruthEntry,
    json: serde_json::Value,
}

fn compare(days: u32, scenario: &str) -> Compared {
    let with = sim(5, days, &[scenario]);
    let without = sim(5, days, &[]);
    let (mut a, outcome) = run(&with);
    let (mut b, _) = run(&without);
    assert_eq!(outcome.truth.scenarios.len(), 1);
    let truth = outcome.truth.scenarios[0].clone();
    let (from, to) = with.period();
    let (ws, we) = (truth.start, truth.end);
    assert!(from <= ws && ws < we && we <= to);
    let outside = |l: &mut dyn Ledger| {
        let mut c = Cells::new();
        for (f, t) in [(from, ws), (we, to)] {
            if f < t {
                for (k, v) in query(l, f, t, &ALL_DIMS) {
                    *c.entry(k).or_default() += v;
                }
            }
        }
        c
    };
    let outside = (outside(a.ledger.as_mut()), outside(b.ledger.as_mut()));
    let window = (
        query(a.ledger.as_mut(), ws, we, &ALL_DIMS),
        query(b.ledger.as_mut(), ws, we, &ALL_DIMS),
    );
    let json: serde_json::Value = serde_json::from_str(&outcome.truth.to_json()).unwrap();
    Compared {
        window,
        outside,
        truth,
        json,
    }
}

/// Units added per (group, meter, billable) in the window; panics on any decrease.
fn added(c: &Compared) -> Cells {
    let (with, without) = &c.window;
    let mut out = Cells::new();
    for k in with.keys().chain(without.keys()).collect::<BTreeSet<_>>() {
        let w = with.get(k).copied().unwrap_or(0);
        let wo = without.get(k).copied().unwrap_or(0);
        assert!(w >= wo, "{k:?} decreased: {wo} → {w}");
        if w > wo {
            out.insert(k.clone(), w - wo);
        }
    }
    out
}

/// Checks shared by every scenario: nothing changes outside the window; inside, every
/// changed cell matches the truth's dimensions (status excepted: a scenario's extra traffic
/// has a status mix) and meters; the truth lists it with a positive cost.
fn check_common(c: &Compared, name: &str) -> Cells {
    assert_eq!(
        c.outside.0, c.outside.1,
        "{name} changed usage outside its window"
    );
    let added = added(c);
    assert!(!added.is_empty(), "{name} changed nothing");
    let names: Vec<String> = ALL_DIMS.iter().map(Dimension::name).collect();
    for (group, meter, _) in added.keys() {
        assert!(c.truth.meters.contains(meter), "{name}: {meter} changed");
        for (dim, want) in &c.truth.dimensions {
            if dim == "status" {
                continue;
            }
            let i = names.iter().position(|n| n == dim).unwrap();
            assert_eq!(&group[i], want, "{name}: {group:?} outside its dimensions");
        }
        if !c.truth.clients.is_empty() {
            assert!(c.truth.clients.contains(&group[4]), "{name}: {group:?}");
        }
    }
    assert_eq!(c.truth.name, name);
    assert!(c.truth.extra_cost > Decimal::ZERO, "{name}: {:?}", c.truth);
    let entry = &c.json["scenarios"][0];
    assert_eq!(entry["name"], name);
    let cost: Decimal = entry["extra_cost"].as_str().unwrap().parse().unwrap();
    assert!(cost > Decimal::ZERO);
    assert!(entry["start"].as_str().unwrap().ends_with('Z'));
    assert!(entry["dimensions"]["api"].is_string());
    added
}

/// Added units of a meter in cells whose status (group index 5) is `status`.
fn by_status(added: &Cells, meter: &str, status: &str) -> u64 {
    added
        .iter()
        .filter(|((g, m, _), _)| m == meter && g[5] == status)
        .map(|(_, u)| u)
        .sum()
}

#[test]
fn retry_storm_adds_5xx_on_its_route_from_the_same_clients() {
    let c = compare(4, "retry-storm:day=2,hour=10,hours=5,factor=6");
    let added = check_common(&c, "retry-storm");
    assert_eq!(c.truth.end - c.truth.start, 5 * HOUR);
    let e5 = by_status(&added, "http_requests", "5xx");
    let e2 = by_status(&added, "http_requests", "2xx");
    assert!(e5 > 2 * e2, "5xx {e5}, 2xx {e2}");
    // ×6 the route's volume: the extra is about 5× what the route had.
    let base = total(
        &c.window
            .1
            .clone()
            .into_iter()
            .filter(|((g, _, _), _)| g[2] == "POST /orders")
            .collect(),
        "http_requests",
    );
    let ratio = (e5 + e2) as f64 / base as f64;
    assert!((4.0..6.0).contains(&ratio), "{ratio}");
    // Same clients as the baseline: no new client appears.
    let clients: BTreeSet<&String> = c.window.1.keys().map(|(g, _, _)| &g[4]).collect();
    assert!(added.keys().all(|(g, _, _)| clients.contains(&g[4])));
    assert_eq!(c.truth.saving_basis.as_str(), "incident");
    assert_eq!(c.truth.monthly_saving, c.truth.extra_cost);
}

#[test]
fn bot_traffic_floods_a_public_route_from_new_clients_with_4xx() {
    let c = compare(4, "bot-traffic:day=2,days=2,bots=5");
    let added = check_common(&c, "bot-traffic");
    assert_eq!(c.truth.clients.len(), 5);
    let e4 = by_status(&added, "http_requests", "4xx");
    let e2 = by_status(&added, "http_requests", "2xx");
    assert!(e4 > 3 * e2, "4xx {e4}, 2xx {e2}");
    // The bots are new: none appears without the scenario.
    assert!(c
        .window
        .1
        .keys()
        .all(|(g, _, _)| !c.truth.clients.contains(&g[4])));
    // Some of it was throttled (metered, not billable).
    assert!(added
        .keys()
        .any(|(g, _, billable)| !billable && g[6] == "throttled"));
    assert!(c.truth.monthly_saving > Decimal::ZERO);
}

#[test]
fn idle_websockets_climb_connection_time_with_flat_messages() {
    let c = compare(5, "idle-websockets:day=2,days=3,connections=4000");
    let added = check_common(&c, "idle-websockets");
    assert!(total(&added, "websocket_messages") == 0);
    let conn = total(&added, "websocket_connection_ms");
    assert!(conn > 0);
    // It climbs: the window's last day adds more than its first.
    let day = |from: i64| {
        let with = sim(5, 5, &["idle-websockets:day=2,days=3,connections=4000"]);
        let without = sim(5, 5, &[]);
        let d = ((from - MONDAY) / DAY) as u32;
        let sum = |s: &Simulation| -> u64 {
            s.day(d)
                .batch
                .records
                .iter()
                .filter(|r| r.key.meter.name() == "websocket_connection_ms")
                .map(|r| r.counts.units)
                .sum()
        };
        sum(&with) - sum(&without)
    };
    let first = day(c.truth.start);
    let last = day(c.truth.end - DAY);
    assert!(last > 2 * first, "first {first}, last {last}");
    // Run rate of the last day: on average 4000 × 0.84 (the climb from 2/3 to 3/3 of the
    // target) ≈ 3360 idle connections ≈ 145 M minutes a month ≈ $36 at $0.25 per million.
    let saving = c.truth.monthly_saving;
    assert!(
        saving > Decimal::from(33) && saving < Decimal::from(40),
        "{saving}"
    );
}

#[test]
fn payload_growth_adds_bytes_but_no_requests_on_its_route() {
    let c = compare(5, "payload-growth:day=2,route=GET /products,factor=3");
    let added = check_common(&c, "payload-growth");
    assert_eq!(total(&added, "http_requests"), 0);
    assert!(total(&added, "data_out_bytes") > 0);
    // Bytes per request of the route in the window's last hours: close to ×3.
    let last = c.truth.end - 6 * HOUR;
    let with = sim(5, 5, &["payload-growth:day=2,route=GET /products,factor=3"]);
    let (mut st, _) = run(&with);
    let q = query(
        st.ledger.as_mut(),
        last,
        c.truth.end,
        &[Dimension::Route, Dimension::Status],
    );
    let of = |meter: &str| -> f64 {
        q.iter()
            .filter(|((g, m, _), _)| m == meter && g[0] == "GET /products" && g[1] == "2xx")
            .map(|(_, u)| *u as f64)
            .sum()
    };
    let per_request = of("data_out_bytes") / of("http_requests");
    assert!(
        (2.8 * 8192.0..3.0 * 8192.0).contains(&per_request),
        "{per_request}"
    );
}

#[test]
fn new_client_ramps_up_a_new_key() {
    let c = compare(6, "new-client:day=2,ramp_days=3");
    let added = check_common(&c, "new-client");
    assert!(c.window.1.keys().all(|(g, _, _)| g[3] != "key-newco"));
    assert!(added.keys().all(|(g, _, _)| g[3] == "key-newco"));
    let with = sim(5, 6, &["new-client:day=2,ramp_days=3"]);
    let (mut st, _) = run(&with);
    let requests_on = |l: &mut dyn Ledger, day: i64| {
        let from = MONDAY + day * DAY;
        total(
            &query(l, from, from + DAY, &[Dimension::Key]),
            "http_requests",
        )
    };
    let key_requests = |l: &mut dyn Ledger, day: i64| {
        let from = MONDAY + day * DAY;
        query(l, from, from + DAY, &[Dimension::Key])
            .into_iter()
            .filter(|((g, m, _), _)| g[0] == "key-newco" && m == "http_requests")
            .map(|(_, u)| u)
            .sum::<u64>()
    };
    let first = key_requests(st.ledger.as_mut(), 1);
    let later = key_requests(st.ledger.as_mut(), 4);
    assert!(later > 3 * first, "first {first}, later {later}");
    assert!(requests_on(st.ledger.as_mut(), 4) > later);
    assert_eq!(c.truth.monthly_saving, Decimal::ZERO);
}

#[test]
fn stray_stage_receives_steady_traffic_day_and_night() {
    let c = compare(3, "stray-stage:day=2,days=1,rate=10000");
    let added = check_common(&c, "stray-stage");
    assert!(c.window.1.keys().all(|(g, _, _)| g[1] != "test"));
    let requests = total(&added, "http_requests") as f64;
    assert!((220_000.0..260_000.0).contains(&requests), "{requests}");
    // Saving: the whole stage's cost as a monthly run rate (≈ 7.2 M requests ≈ $7.2 + data).
    let saving = c.truth.monthly_saving;
    assert!(
        saving > Decimal::from(7) && saving < Decimal::from(12),
        "{saving}"
    );
}

#[test]
fn bad_scenarios_are_refused_by_name() {
    let err = "retry-strom".parse::<tollgate_analytics::simulate::ScenarioSpec>();
    assert!(
        matches!(&err, Err(SimError::UnknownScenario { name, .. }) if name == "retry-strom"),
        "{err:?}"
    );
    assert!(err.unwrap_err().to_string().contains("retry-storm"));
    let resolve = |spec: &str| {
        let config = SimConfig {
            seed: 1,
            start: MONDAY,
            days: 10,
            region: "us-east-1".into(),
            scenarios: vec![spec.parse().unwrap()],
        };
        Simulation::new(config, &Catalog::embedded())
            .unwrap_err()
            .to_string()
    };
    for (spec, needle) in [
        ("retry-storm:dya=3", "unknown parameter `dya`"),
        ("retry-storm:day=11", "day=11"),
        ("bot-traffic:rate=lots", "rate=lots"),
        ("payload-growth:route=GET /nope", "route=GET /nope"),
        ("stray-stage:stage=$default", "stage=$default"),
    ] {
        let msg = resolve(spec);
        assert!(msg.contains(needle), "{spec}: {msg}");
        assert!(msg.contains(spec.split(':').next().unwrap()), "{msg}");
    }
    assert!("retry-storm:day"
        .parse::<tollgate_analytics::simulate::ScenarioSpec>()
        .is_err());
    // A default day past a short period moves to its middle.
    let s = sim(1, 4, &["retry-storm"]);
    assert_eq!(s.scenarios()[0].parameters["day"], "3");
}
