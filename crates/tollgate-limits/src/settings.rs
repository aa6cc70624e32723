//! Plain settings the config compiler hands over, and the small integer indexes
//! the hot path uses instead of names.

use std::fmt;

/// Index of a route slot: one route (HTTP API) or method (REST API) *in one
/// stage*, numbered densely from 0 by the config compiler.
///
/// The hot path already knows this number once routing is done, so limits are
/// looked up by array index and never by hashing a route or stage name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteIdx(pub u32);

/// Index of one (usage plan, API key) pair, numbered densely from 0.
///
/// Throttles and quotas share this numbering: a plan's throttle and quota are
/// both per key, and the quota is counted across all of the plan's stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlanKeyIdx(pub u32);

impl fmt::Display for RouteIdx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "route slot {}", self.0)
    }
}

impl fmt::Display for PlanKeyIdx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "usage-plan key {}", self.0)
    }
}

/// Largest accepted steady-state rate, in requests per second.
///
/// governor measures time in whole nanoseconds, so one token per nanosecond is
/// the finest emission interval it can represent.
pub const MAX_RATE: f64 = 1e9;

/// Longest accepted time to refill a bucket from empty (`burst / rate`), in
/// seconds (100 years).
///
/// governor keeps the bucket's tolerance as `interval × (burst − 1)` in a u64 of
/// nanoseconds; bounding the refill time keeps that product and the later
/// additions far from overflow.
pub const MAX_REFILL_SECS: f64 = 100.0 * 365.25 * 86_400.0;

/// One token bucket as AWS describes it: `rate` tokens per second refill a
/// bucket of capacity `burst`; a request takes one token.
///
/// `rate` may be fractional (`0.5` = one request every two seconds), matching
/// AWS's `ThrottlingRateLimit`, which is a double.
///
/// A limit that can never admit anything, `burst == 0` or `rate == 0`, blocks
/// every request. AWS documents burst as the bucket capacity: a bucket of size
/// zero holds no token, and operators set `0/0` precisely to switch a method
/// off. A rate of 0 with a positive burst would admit one burst at start-up
/// and then nothing, forever; that depends on when the gateway last reloaded,
/// so it is treated the same as burst 0: nothing is admitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleSettings {
    /// Steady-state requests per second; finite, `0 ..= MAX_RATE`.
    pub rate: f64,
    /// Bucket capacity: how many requests may arrive at once after a quiet spell.
    pub burst: u32,
}

impl ThrottleSettings {
    /// Builds settings, rejecting values no bucket can implement.
    ///
    /// # Errors
    /// [`crate::LimitsError::InvalidRate`] or [`crate::LimitsError::RefillTooSlow`]
    /// (reported against [`Subject::Account`], as the settings are not placed yet).
    pub fn new(rate: f64, burst: u32) -> Result<Self, crate::LimitsError> {
        let s = ThrottleSettings { rate, burst };
        s.check(Subject::Account)?;
        Ok(s)
    }

    /// True when this limit admits nothing (see the type's docs).
    pub fn blocks_all(&self) -> bool {
        self.burst == 0 || self.rate == 0.0
    }

    /// The emission interval in nanoseconds, or why it can't be built.
    pub(crate) fn check(&self, subject: Subject) -> Result<Option<u64>, crate::LimitsError> {
        let rate = self.rate;
        // NaN and infinities are outside the range too.
        if !(0.0..=MAX_RATE).contains(&rate) {
            return Err(crate::LimitsError::InvalidRate { subject, rate });
        }
        if self.blocks_all() {
            return Ok(None);
        }
        if f64::from(self.burst) / rate > MAX_REFILL_SECS {
            return Err(crate::LimitsError::RefillTooSlow {
                subject,
                rate,
                burst: self.burst,
            });
        }
        // Rounded to the nearest nanosecond; at least 1 since rate <= 1e9.
        // The cast cannot truncate: burst >= 1, so 1e9 / rate <= MAX_REFILL_SECS * 1e9 < 2^62.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let interval = (1e9 / rate).round().max(1.0) as u64;
        Ok(Some(interval))
    }
}

/// The level of the precedence chain that rejected a request, so the gateway
/// can meter throttles by cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// The gateway-wide (AWS: per account and Region) bucket.
    Account,
    /// The stage's default route settings, applied to a route without its own.
    Stage,
    /// The route's (HTTP API) or method's (REST stage method settings) own limit.
    Route,
    /// The usage-plan limit of the API key: per-method if set, else the plan's.
    UsagePlan,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Account => "account",
            Level::Stage => "stage",
            Level::Route => "route",
            Level::UsagePlan => "usage-plan",
        })
    }
}

/// Where a setting sits in a [`ThrottleConfig`], for error messages; the config
/// compiler maps the indexes back to names and file positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// `ThrottleConfig::account`.
    Account,
    /// `ThrottleConfig::routes[i].route`.
    Route(RouteIdx),
    /// `ThrottleConfig::routes[i].stage_default`.
    StageDefault(RouteIdx),
    /// `ThrottleConfig::plan_keys[k].overall`.
    PlanKey(PlanKeyIdx),
    /// An entry of `ThrottleConfig::plan_keys[k].methods`.
    PlanKeyMethod(PlanKeyIdx, RouteIdx),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Account => f.write_str("account throttle"),
            Subject::Route(r) => write!(f, "route throttle of {r}"),
            Subject::StageDefault(r) => write!(f, "stage default throttle of {r}"),
            Subject::PlanKey(k) => write!(f, "throttle of {k}"),
            Subject::PlanKeyMethod(k, r) => write!(f, "method throttle of {k} at {r}"),
        }
    }
}

/// Route-level limits of one route slot.
///
/// AWS applies the route's own settings if it has any, else the stage's
/// default route settings; each route still gets its own bucket either way.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RouteThrottle {
    /// The route's own `RouteSettings` (REST: the method's stage settings).
    pub route: Option<ThrottleSettings>,
    /// The stage's `DefaultRouteSettings` (REST: the stage's `*/*` settings).
    pub stage_default: Option<ThrottleSettings>,
}

/// Usage-plan limits of one (plan, key) pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanKeyThrottle {
    /// The plan's `throttle`, one bucket per key shared by all the plan's stages.
    pub overall: Option<ThrottleSettings>,
    /// The plan's per-method `apiStages[].throttle` entries, each its own bucket
    /// per key; at most one entry per route slot.
    pub methods: Vec<(RouteIdx, ThrottleSettings)>,
}

/// Everything [`crate::Throttles`] is built from, once per configuration load.
/// Vectors are indexed by [`RouteIdx`] and [`PlanKeyIdx`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThrottleConfig {
    /// The gateway-wide limit (AWS: 10,000 rps, burst 5,000 per account and Region).
    pub account: Option<ThrottleSettings>,
    /// One entry per route slot.
    pub routes: Vec<RouteThrottle>,
    /// One entry per (usage plan, API key) pair.
    pub plan_keys: Vec<PlanKeyThrottle>,
}
