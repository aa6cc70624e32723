//! Throttle behaviour through the public API: bucket arithmetic on a fake
//! clock, the precedence chain, the token rule on rejection, accuracy under
//! overload and concurrency on the real clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tollgate_limits::clock::FakeRelativeClock;
use tollgate_limits::{
    validate, Level, LimitField, LimitsError, PlanKeyIdx, PlanKeyThrottle, Rejected, RouteIdx,
    RouteThrottle, Subject, ThrottleConfig, ThrottleSettings, Throttles,
};

fn ts(rate: f64, burst: u32) -> ThrottleSettings {
    ThrottleSettings { rate, burst }
}

fn route_only(s: ThrottleSettings) -> ThrottleConfig {
    ThrottleConfig {
        account: None,
        routes: vec![RouteThrottle {
            route: Some(s),
            stage_default: None,
        }],
        plan_keys: vec![],
    }
}

fn rejected(level: Level) -> Result<(), Rejected> {
    Err(Rejected { level })
}

const R0: RouteIdx = RouteIdx(0);

#[test]
fn burst_then_rate() {
    let clock = FakeRelativeClock::default();
    let t = Throttles::with_clock(&route_only(ts(10.0, 5)), clock.clone()).unwrap();
    for i in 0..5 {
        assert_eq!(t.check_route(R0), Ok(()), "request {i}");
    }
    assert_eq!(t.check_route(R0), rejected(Level::Route));
    clock.advance(Duration::from_millis(100));
    assert_eq!(t.check_route(R0), Ok(()));
    assert_eq!(t.check_route(R0), rejected(Level::Route));
}

#[test]
fn fractional_rate() {
    let clock = FakeRelativeClock::default();
    let t = Throttles::with_clock(&route_only(ts(0.5, 1)), clock.clone()).unwrap();
    assert_eq!(t.check_route(R0), Ok(()));
    assert_eq!(t.check_route(R0), rejected(Level::Route));
    clock.advance(Duration::from_millis(1_999));
    assert_eq!(t.check_route(R0), rejected(Level::Route));
    clock.advance(Duration::from_millis(1));
    assert_eq!(t.check_route(R0), Ok(()));
    // Over a long quiet spell the bucket refills only to its burst of 1.
    clock.advance(Duration::from_secs(60));
    assert_eq!(t.check_route(R0), Ok(()));
    assert_eq!(t.check_route(R0), rejected(Level::Route));
}

#[test]
fn burst_zero_blocks_everything() {
    let clock = FakeRelativeClock::default();
    let t = Throttles::with_clock(&route_only(ts(100.0, 0)), clock.clone()).unwrap();
    assert_eq!(t.check_route(R0), rejected(Level::Route));
    clock.advance(Duration::from_secs(10));
    assert_eq!(t.check_route(R0), rejected(Level::Route));
}

/// A gateway with a generous account limit, two routes (route 0 with its own
/// limit, route 1 on the stage default) and one usage-plan key with an
/// overall limit and a per-method limit on route 1.
fn chain(account: ThrottleSettings) -> ThrottleConfig {
    ThrottleConfig {
        account: Some(account),
        routes: vec![
            RouteThrottle {
                route: Some(ts(1.0, 2)),
                stage_default: Some(ts(1.0, 50)),
            },
            RouteThrottle {
                route: None,
                stage_default: Some(ts(1.0, 3)),
            },
            RouteThrottle::default(),
        ],
        plan_keys: vec![PlanKeyThrottle {
            overall: Some(ts(1.0, 4)),
            methods: vec![(RouteIdx(2), ts(1.0, 1))],
        }],
    }
}

#[test]
fn route_limit_lower_than_account_rejects_as_route() {
    let t = Throttles::with_clock(&chain(ts(1_000.0, 100)), FakeRelativeClock::default()).unwrap();
    assert_eq!(t.check_route(R0), Ok(()));
    assert_eq!(t.check_route(R0), Ok(()));
    assert_eq!(t.check_route(R0), rejected(Level::Route));
}

#[test]
fn stage_default_rejects_as_stage() {
    let t = Throttles::with_clock(&chain(ts(1_000.0, 100)), FakeRelativeClock::default()).unwrap();
    for _ in 0..3 {
        assert_eq!(t.check_route(RouteIdx(1)), Ok(()));
    }
    assert_eq!(t.check_route(RouteIdx(1)), rejected(Level::Stage));
    // Each route has its own bucket even on the same stage default.
    assert_eq!(t.check_route(RouteIdx(0)), Ok(()));
}

#[test]
fn key_limits_reject_as_usage_plan() {
    let t = Throttles::with_clock(&chain(ts(1_000.0, 100)), FakeRelativeClock::default()).unwrap();
    let key = Some(PlanKeyIdx(0));
    // Per-method limit on route 2: burst 1.
    assert_eq!(t.check(RouteIdx(2), key), Ok(()));
    assert_eq!(t.check(RouteIdx(2), key), rejected(Level::UsagePlan));
    // Route 2 without the key (method not requiring a key) is unlimited but for the account.
    assert_eq!(t.check(RouteIdx(2), None), Ok(()));
    // The overall key limit (burst 4) is shared by routes 0 and 1.
    assert_eq!(t.check(RouteIdx(1), key), Ok(()));
    assert_eq!(t.check(RouteIdx(1), key), Ok(()));
    assert_eq!(t.check(R0, key), Ok(()));
    assert_eq!(t.check(R0, key), Ok(()));
    assert_eq!(t.check(RouteIdx(1), key), rejected(Level::UsagePlan));
}

#[test]
fn account_limit_rejects_as_account() {
    let t = Throttles::with_clock(&chain(ts(1.0, 2)), FakeRelativeClock::default()).unwrap();
    assert_eq!(t.check(RouteIdx(2), None), Ok(()));
    assert_eq!(t.check(RouteIdx(1), None), Ok(()));
    assert_eq!(t.check(RouteIdx(2), None), rejected(Level::Account));
}

/// The rule: buckets are checked usage plan → route/stage → account and the
/// chain stops at the first rejection. Buckets after the rejecting one keep
/// their tokens; buckets before it have spent one.
#[test]
fn rejection_consumes_only_the_buckets_checked_before_it() {
    // Key rejection leaves route and account untouched.
    let cfg = ThrottleConfig {
        account: Some(ts(0.001, 2)),
        routes: vec![RouteThrottle {
            route: Some(ts(0.001, 2)),
            stage_default: None,
        }],
        plan_keys: vec![PlanKeyThrottle {
            overall: Some(ts(0.001, 1)),
            methods: vec![],
        }],
    };
    let t = Throttles::with_clock(&cfg, FakeRelativeClock::default()).unwrap();
    let key = Some(PlanKeyIdx(0));
    assert_eq!(t.check(R0, key), Ok(())); // key 0 left, route 1, account 1
    for _ in 0..10 {
        assert_eq!(t.check(R0, key), rejected(Level::UsagePlan));
    }
    // Route and account still have one token each: the rejections took none.
    assert_eq!(t.check(R0, None), Ok(()));
    assert_eq!(t.check(R0, None), rejected(Level::Route));

    // Account rejection has already spent the route's token.
    let cfg = ThrottleConfig {
        account: Some(ts(0.001, 1)),
        routes: vec![
            RouteThrottle {
                route: Some(ts(0.001, 2)),
                stage_default: None,
            },
            RouteThrottle::default(),
        ],
        plan_keys: vec![],
    };
    let t = Throttles::with_clock(&cfg, FakeRelativeClock::default()).unwrap();
    assert_eq!(t.check_route(RouteIdx(1)), Ok(())); // account now empty
    assert_eq!(t.check_route(R0), rejected(Level::Account)); // route 2 -> 1
    assert_eq!(t.check_route(R0), rejected(Level::Account)); // route 1 -> 0
    assert_eq!(t.check_route(R0), rejected(Level::Route));
}

#[test]
fn steady_double_overload_admits_rate_plus_burst() {
    let rate = 100.0;
    let burst = 20;
    let clock = FakeRelativeClock::default();
    let t = Throttles::with_clock(&route_only(ts(rate, burst)), clock.clone()).unwrap();
    // One request every 1/(2·rate) s = 5 ms for 10 simulated seconds.
    let step = Duration::from_millis(5);
    let mut admitted = 0u32;
    for _ in 0..2_000 {
        if t.check_route(R0).is_ok() {
            admitted += 1;
        }
        clock.advance(step);
    }
    let expected = rate * 10.0 + f64::from(burst);
    let error = (f64::from(admitted) - expected).abs() / expected;
    assert!(
        error <= 0.05,
        "admitted {admitted}, expected about {expected} (error {error:.3})"
    );
}

#[test]
fn concurrent_threads_never_beat_burst_plus_rate() {
    let rate = 2_000.0;
    let burst = 100u32;
    let started = Instant::now();
    let t = Arc::new(Throttles::new(&route_only(ts(rate, burst))).unwrap());
    let admitted = Arc::new(AtomicU64::new(0));
    let attempts = Arc::new(AtomicU64::new(0));
    let run_for = Duration::from_millis(300);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let t = Arc::clone(&t);
            let admitted = Arc::clone(&admitted);
            let attempts = Arc::clone(&attempts);
            std::thread::spawn(move || {
                let begin = Instant::now();
                while begin.elapsed() < run_for {
                    attempts.fetch_add(1, Ordering::Relaxed);
                    if t.check_route(R0).is_ok() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let admitted = admitted.load(Ordering::Relaxed) as f64;
    let bound = f64::from(burst) + rate * elapsed;
    assert!(
        attempts.load(Ordering::Relaxed) as f64 > admitted * 2.0,
        "the bucket was not under pressure"
    );
    assert!(
        admitted <= bound + 2.0,
        "admitted {admitted} > burst + rate × {elapsed:.3}s = {bound}"
    );
    // And the limiter did not starve the threads either.
    assert!(admitted >= f64::from(burst), "admitted only {admitted}");
}

#[test]
fn invalid_settings_are_typed_errors() {
    for rate in [f64::NAN, -0.5, f64::INFINITY] {
        let err = Throttles::new(&route_only(ts(rate, 5))).unwrap_err();
        assert!(
            matches!(
                err,
                LimitsError::InvalidRate {
                    subject: Subject::Route(RouteIdx(0)),
                    ..
                }
            ),
            "{err}"
        );
    }
    assert!(ThrottleSettings::new(f64::NAN, 1).is_err());
    assert_eq!(ThrottleSettings::new(0.5, 1), Ok(ts(0.5, 1)));
}

#[test]
fn validate_reports_limits_above_the_account() {
    let mut cfg = chain(ts(1.0, 3));
    cfg.routes[0].route = Some(ts(5.0, 2));
    cfg.plan_keys[0].overall = Some(ts(f64::NAN, 1));
    let problems = validate(&cfg);
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert_eq!(
        problems[..2],
        [
            LimitsError::ExceedsAccount {
                subject: Subject::Route(R0),
                field: LimitField::Rate,
                value: 5.0,
                account: 1.0,
            },
            LimitsError::ExceedsAccount {
                subject: Subject::StageDefault(R0),
                field: LimitField::Burst,
                value: 50.0,
                account: 3.0,
            },
        ]
    );
    // A NaN rate is never equal to itself, so match the third by shape.
    assert!(matches!(
        problems[2],
        LimitsError::InvalidRate {
            subject: Subject::PlanKey(PlanKeyIdx(0)),
            ..
        }
    ));
    assert_eq!(
        problems[0].to_string(),
        "route throttle of route slot 0: rate 5 exceeds the account-level rate 1"
    );
    assert!(validate(&chain(ts(1_000.0, 100))).is_empty());
}
