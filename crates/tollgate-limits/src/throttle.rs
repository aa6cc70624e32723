//! The AWS precedence chain of throttles, compiled to array lookups.
//!
//! # Which buckets a request passes, in which order
//!
//! AWS (REST) applies, in order: the usage-plan limit of the caller's API key
//! (the plan's per-method limit if it sets one for this method, else the
//! plan's overall limit), then the stage's per-method limit (HTTP API: the
//! route's `RouteSettings`, else the stage's `DefaultRouteSettings`), then the
//! account-level limit. A request is admitted only if every applicable bucket
//! admits it.
//!
//! # Token consumption when a level rejects
//!
//! Buckets are checked from the most specific to the least: usage plan, then
//! route/stage, then account; the first rejection stops the chain. So:
//!
//! * buckets *after* the rejecting one are never touched: a key that exceeds
//!   its own limit, or a hot route over its limit, spends nothing from the
//!   shared account bucket and can't starve other clients or routes;
//! * buckets *before* the rejecting one have already given a token: when the
//!   account bucket is empty, the rejected request has still cost its key and
//!   route one token each.
//!
//! Refunding those tokens is not possible with governor's lock-free GCRA (it
//! has no "give back"), and a check-all-then-take-all scheme would need a lock
//! across buckets. AWS documents throttling limits as best-effort targets, so
//! the small over-charge of specific buckets during account-level overload is
//! accepted. AWS itself is reported to count usage-plan 429s against the
//! account quota (the opposite order); tollgate deliberately protects the
//! shared bucket instead, because here the account bucket guards the gateway's
//! own capacity.

use crate::error::{LimitField, LimitsError};
use crate::limiter::{BucketId, Decision, InProcessLimiter, RateLimiter};
use crate::settings::{Level, PlanKeyIdx, RouteIdx, Subject, ThrottleConfig, ThrottleSettings};
use governor::clock::Clock;

/// A request was throttled; `level` says which bucket refused it.
///
/// The gateway answers `429 Too Many Requests` (REST gateway response
/// `THROTTLED`) and meters the rejection under `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("throttled at the {level} level")]
pub struct Rejected {
    /// The first level in the chain whose bucket was empty.
    pub level: Level,
}

/// What one level contributes for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// No limit at this level.
    Unlimited,
    /// A limit that admits nothing (burst 0 or rate 0).
    Deny,
    /// A token bucket in the backend.
    Bucket(BucketId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct KeySlots {
    overall: Slot,
    /// Sorted by route; usually empty, at most a few dozen entries (AWS allows
    /// 20 method throttles per stage in a plan), so a binary search is cheap.
    methods: Box<[(RouteIdx, Slot)]>,
}

impl KeySlots {
    #[inline]
    fn slot_for(&self, route: RouteIdx) -> Slot {
        match self.methods.binary_search_by_key(&route, |&(r, _)| r) {
            Ok(i) => self.methods.get(i).map_or(self.overall, |&(_, s)| s),
            Err(_) => self.overall,
        }
    }
}

/// The compiled shape of a [`ThrottleConfig`]: which bucket serves which level
/// for every route slot and key, and the settings of every bucket.
///
/// Built once per configuration load; it holds no mutable state, so a
/// backend ([`RateLimiter`]) can be built from [`ThrottlePlan::buckets`].
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottlePlan {
    buckets: Vec<ThrottleSettings>,
    account: Slot,
    routes: Box<[(Slot, Level)]>,
    keys: Box<[KeySlots]>,
}

impl ThrottlePlan {
    /// Compiles `config`: one bucket for the account, one per route slot with a
    /// route or stage-default limit, one per key with an overall limit, and one
    /// per (key, route) with a per-method limit.
    ///
    /// Limits above the account's are accepted here (see [`validate`]).
    ///
    /// # Errors
    /// Invalid rates, too-slow refills, per-method limits for unknown or
    /// duplicate route slots, and index overflow; see [`LimitsError`].
    pub fn compile(config: &ThrottleConfig) -> Result<Self, LimitsError> {
        let mut buckets = Vec::new();
        let account = add(&mut buckets, config.account, Subject::Account)?;

        let n_routes = config.routes.len();
        u32::try_from(n_routes).map_err(|_| LimitsError::TooMany {
            what: "route slots",
        })?;
        u32::try_from(config.plan_keys.len()).map_err(|_| LimitsError::TooMany {
            what: "usage-plan keys",
        })?;

        let mut routes = Vec::with_capacity(n_routes);
        for (i, r) in (0u32..).zip(&config.routes) {
            let idx = RouteIdx(i);
            let entry = match (r.route, r.stage_default) {
                (Some(s), _) => (
                    add(&mut buckets, Some(s), Subject::Route(idx))?,
                    Level::Route,
                ),
                (None, Some(s)) => (
                    add(&mut buckets, Some(s), Subject::StageDefault(idx))?,
                    Level::Stage,
                ),
                (None, None) => (Slot::Unlimited, Level::Route),
            };
            routes.push(entry);
        }

        let mut keys = Vec::with_capacity(config.plan_keys.len());
        for (k, pk) in (0u32..).zip(&config.plan_keys) {
            let key = PlanKeyIdx(k);
            let overall = add(&mut buckets, pk.overall, Subject::PlanKey(key))?;
            let mut methods = Vec::with_capacity(pk.methods.len());
            for &(route, s) in &pk.methods {
                let subject = Subject::PlanKeyMethod(key, route);
                if route.0 as usize >= n_routes {
                    return Err(LimitsError::RouteOutOfRange {
                        subject,
                        route,
                        routes: n_routes,
                    });
                }
                methods.push((route, add(&mut buckets, Some(s), subject)?));
            }
            methods.sort_unstable_by_key(|&(r, _)| r);
            if let Some(w) = methods.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(LimitsError::DuplicateMethod { key, route: w[0].0 });
            }
            keys.push(KeySlots {
                overall,
                methods: methods.into_boxed_slice(),
            });
        }

        Ok(ThrottlePlan {
            buckets,
            account,
            routes: routes.into_boxed_slice(),
            keys: keys.into_boxed_slice(),
        })
    }

    /// Settings of every bucket, indexed by [`BucketId`]; build the backend from this.
    pub fn buckets(&self) -> &[ThrottleSettings] {
        &self.buckets
    }

    /// Number of route slots.
    pub fn routes(&self) -> usize {
        self.routes.len()
    }

    /// Number of (plan, key) pairs.
    pub fn plan_keys(&self) -> usize {
        self.keys.len()
    }
}

/// Registers one level's setting, returning its slot.
fn add(
    buckets: &mut Vec<ThrottleSettings>,
    settings: Option<ThrottleSettings>,
    subject: Subject,
) -> Result<Slot, LimitsError> {
    let Some(s) = settings else {
        return Ok(Slot::Unlimited);
    };
    if s.check(subject)?.is_none() {
        return Ok(Slot::Deny);
    }
    let id = u32::try_from(buckets.len()).map_err(|_| LimitsError::TooMany { what: "buckets" })?;
    buckets.push(s);
    Ok(Slot::Bucket(BucketId(id)))
}

/// All throttles of one configuration: the compiled plan plus the buckets.
///
/// `L` is the bucket backend; the default keeps them in this process.
/// Decisions take `&self` and are lock-free with the in-process backend, so
/// one `Throttles` is shared by every worker thread (e.g. in an `Arc` swapped
/// on reload). A reload builds new, full buckets: each reload can grant at
/// most one extra burst per bucket.
#[derive(Debug)]
pub struct Throttles<L = InProcessLimiter> {
    plan: ThrottlePlan,
    limiter: L,
}

impl Throttles<InProcessLimiter> {
    /// Compiles `config` with in-process buckets on the real monotonic clock.
    ///
    /// # Errors
    /// As [`ThrottlePlan::compile`].
    pub fn new(config: &ThrottleConfig) -> Result<Self, LimitsError> {
        let plan = ThrottlePlan::compile(config)?;
        let limiter = InProcessLimiter::new(plan.buckets())?;
        Ok(Throttles { plan, limiter })
    }
}

impl<C: Clock + Clone> Throttles<InProcessLimiter<C>> {
    /// Compiles `config` with in-process buckets reading `clock`; tests pass a
    /// [`governor::clock::FakeRelativeClock`] and advance it.
    ///
    /// # Errors
    /// As [`ThrottlePlan::compile`].
    pub fn with_clock(config: &ThrottleConfig, clock: C) -> Result<Self, LimitsError> {
        let plan = ThrottlePlan::compile(config)?;
        let limiter = InProcessLimiter::with_clock(plan.buckets(), clock)?;
        Ok(Throttles { plan, limiter })
    }
}

impl<L: RateLimiter> Throttles<L> {
    /// Pairs a plan with a backend built from its [`ThrottlePlan::buckets`].
    ///
    /// # Errors
    /// [`LimitsError::LimiterMismatch`] if the bucket counts differ.
    pub fn from_parts(plan: ThrottlePlan, limiter: L) -> Result<Self, LimitsError> {
        if plan.buckets.len() != limiter.len() {
            return Err(LimitsError::LimiterMismatch {
                expected: plan.buckets.len(),
                actual: limiter.len(),
            });
        }
        Ok(Throttles { plan, limiter })
    }

    /// The compiled plan.
    pub fn plan(&self) -> &ThrottlePlan {
        &self.plan
    }

    /// The bucket backend.
    pub fn limiter(&self) -> &L {
        &self.limiter
    }

    /// Runs the precedence chain for a request on `route`, sent with usage-plan
    /// key `key` (`None` when the method doesn't require an API key: AWS
    /// applies no plan limits then, even if a key is sent).
    ///
    /// Checks the usage-plan bucket, then the route/stage bucket, then the
    /// account bucket, stopping at the first rejection; see the module docs
    /// for what that means for tokens. An index out of range contributes no
    /// limit (fail open, as AWS does for internal usage-plan errors).
    ///
    /// # Errors
    /// [`Rejected`] naming the level whose bucket was empty.
    #[inline]
    pub fn check(&self, route: RouteIdx, key: Option<PlanKeyIdx>) -> Result<(), Rejected> {
        if let Some(ks) = key.and_then(|k| self.plan.keys.get(k.0 as usize)) {
            self.take(ks.slot_for(route), Level::UsagePlan)?;
        }
        if let Some(&(slot, level)) = self.plan.routes.get(route.0 as usize) {
            self.take(slot, level)?;
        }
        self.take(self.plan.account, Level::Account)
    }

    /// [`Throttles::check`] without a usage-plan key (HTTP APIs have none).
    ///
    /// # Errors
    /// [`Rejected`] naming the level whose bucket was empty.
    #[inline]
    pub fn check_route(&self, route: RouteIdx) -> Result<(), Rejected> {
        self.check(route, None)
    }

    #[inline]
    fn take(&self, slot: Slot, level: Level) -> Result<(), Rejected> {
        match slot {
            Slot::Unlimited => Ok(()),
            Slot::Deny => Err(Rejected { level }),
            Slot::Bucket(id) => match self.limiter.check(id) {
                Decision::Admit => Ok(()),
                Decision::Reject => Err(Rejected { level }),
            },
        }
    }
}

/// Every problem in `config`, for the config compiler to report at once:
/// settings no bucket can implement (as [`ThrottlePlan::compile`] would
/// refuse), bad per-method route slots, and limits that exceed the account's
/// rate or burst ([`LimitsError::ExceedsAccount`]; AWS refuses those: "stage
/// and method limits can't exceed account-level limits", and per-client
/// limits can't exceed per-account ones). An empty result means valid.
pub fn validate(config: &ThrottleConfig) -> Vec<LimitsError> {
    let mut problems = Vec::new();
    let account = match &config.account {
        Some(a) => {
            check_one(&mut problems, a, Subject::Account, None);
            a.check(Subject::Account).ok().map(|_| a)
        }
        None => None,
    };
    for (i, r) in (0u32..).zip(&config.routes) {
        if let Some(s) = &r.route {
            check_one(&mut problems, s, Subject::Route(RouteIdx(i)), account);
        }
        if let Some(s) = &r.stage_default {
            check_one(
                &mut problems,
                s,
                Subject::StageDefault(RouteIdx(i)),
                account,
            );
        }
    }
    let n_routes = config.routes.len();
    for (k, pk) in (0u32..).zip(&config.plan_keys) {
        let key = PlanKeyIdx(k);
        if let Some(s) = &pk.overall {
            check_one(&mut problems, s, Subject::PlanKey(key), account);
        }
        for (j, (route, s)) in pk.methods.iter().enumerate() {
            let subject = Subject::PlanKeyMethod(key, *route);
            if route.0 as usize >= n_routes {
                problems.push(LimitsError::RouteOutOfRange {
                    subject,
                    route: *route,
                    routes: n_routes,
                });
            }
            if pk.methods[..j].iter().any(|(r, _)| r == route) {
                problems.push(LimitsError::DuplicateMethod { key, route: *route });
            }
            check_one(&mut problems, s, subject, account);
        }
    }
    problems
}

/// Validates one setting and compares it with the account's.
fn check_one(
    problems: &mut Vec<LimitsError>,
    s: &ThrottleSettings,
    subject: Subject,
    account: Option<&ThrottleSettings>,
) {
    if let Err(e) = s.check(subject) {
        problems.push(e);
        return;
    }
    let Some(a) = account else { return };
    if s.rate > a.rate {
        problems.push(LimitsError::ExceedsAccount {
            subject,
            field: LimitField::Rate,
            value: s.rate,
            account: a.rate,
        });
    }
    if s.burst > a.burst {
        problems.push(LimitsError::ExceedsAccount {
            subject,
            field: LimitField::Burst,
            value: f64::from(s.burst),
            account: f64::from(a.burst),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{PlanKeyThrottle, RouteThrottle};
    use governor::clock::FakeRelativeClock;

    fn ts(rate: f64, burst: u32) -> ThrottleSettings {
        ThrottleSettings { rate, burst }
    }

    #[test]
    fn compile_assigns_buckets_only_where_limited() {
        let cfg = ThrottleConfig {
            account: Some(ts(100.0, 10)),
            routes: vec![
                RouteThrottle::default(),
                RouteThrottle {
                    route: None,
                    stage_default: Some(ts(5.0, 5)),
                },
                RouteThrottle {
                    route: Some(ts(0.0, 0)),
                    stage_default: Some(ts(5.0, 5)),
                },
            ],
            plan_keys: vec![PlanKeyThrottle {
                overall: Some(ts(1.0, 1)),
                methods: vec![(RouteIdx(1), ts(2.0, 2))],
            }],
        };
        let plan = ThrottlePlan::compile(&cfg).unwrap();
        // account, route 1 (stage default), key overall, key method; route 2 is Deny.
        assert_eq!(plan.buckets().len(), 4);
        assert_eq!(plan.routes[0], (Slot::Unlimited, Level::Route));
        assert_eq!(plan.routes[1], (Slot::Bucket(BucketId(1)), Level::Stage));
        assert_eq!(plan.routes[2], (Slot::Deny, Level::Route));
        assert_eq!(
            plan.keys[0].slot_for(RouteIdx(1)),
            Slot::Bucket(BucketId(3))
        );
        assert_eq!(
            plan.keys[0].slot_for(RouteIdx(0)),
            Slot::Bucket(BucketId(2))
        );
    }

    #[test]
    fn compile_rejects_bad_method_routes() {
        let mut cfg = ThrottleConfig {
            account: None,
            routes: vec![RouteThrottle::default()],
            plan_keys: vec![PlanKeyThrottle {
                overall: None,
                methods: vec![(RouteIdx(3), ts(1.0, 1))],
            }],
        };
        assert!(matches!(
            ThrottlePlan::compile(&cfg),
            Err(LimitsError::RouteOutOfRange { .. })
        ));
        cfg.plan_keys[0].methods = vec![(RouteIdx(0), ts(1.0, 1)), (RouteIdx(0), ts(2.0, 1))];
        assert_eq!(
            ThrottlePlan::compile(&cfg),
            Err(LimitsError::DuplicateMethod {
                key: PlanKeyIdx(0),
                route: RouteIdx(0)
            })
        );
    }

    #[test]
    fn from_parts_checks_bucket_count() {
        let cfg = ThrottleConfig {
            account: Some(ts(1.0, 1)),
            ..ThrottleConfig::default()
        };
        let plan = ThrottlePlan::compile(&cfg).unwrap();
        let limiter = InProcessLimiter::with_clock(&[], FakeRelativeClock::default()).unwrap();
        assert_eq!(
            Throttles::from_parts(plan, limiter).unwrap_err(),
            LimitsError::LimiterMismatch {
                expected: 1,
                actual: 0
            }
        );
    }

    #[test]
    fn deny_slot_rejects_with_its_level() {
        let cfg = ThrottleConfig {
            account: None,
            routes: vec![RouteThrottle {
                route: None,
                stage_default: Some(ts(10.0, 0)),
            }],
            plan_keys: vec![],
        };
        let t = Throttles::with_clock(&cfg, FakeRelativeClock::default()).unwrap();
        assert_eq!(
            t.check_route(RouteIdx(0)),
            Err(Rejected {
                level: Level::Stage
            })
        );
    }

    #[test]
    fn out_of_range_indexes_fail_open() {
        let cfg = ThrottleConfig::default();
        let t = Throttles::with_clock(&cfg, FakeRelativeClock::default()).unwrap();
        assert_eq!(t.check(RouteIdx(9), Some(PlanKeyIdx(9))), Ok(()));
    }
}
