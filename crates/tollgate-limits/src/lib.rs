//! Throttles and quotas with AWS API Gateway semantics.
//!
//! * **Throttles** are token buckets ([`ThrottleSettings`]: `rate` per second,
//!   capacity `burst`, full at start). [`Throttles`] compiles a
//!   [`ThrottleConfig`] once per configuration load into array lookups by
//!   [`RouteIdx`] and [`PlanKeyIdx`], and runs AWS's precedence chain (usage
//!   plan → route/stage → account) per request, naming the rejecting
//!   [`Level`]. The module [`throttle`] documents which tokens a rejected
//!   request consumes.
//! * **Quotas** ([`Quotas`]) count requests per usage-plan key per UTC DAY,
//!   WEEK or MONTH ([`QuotaPeriod`]; boundaries and their sources in
//!   [`period`]), with an atomic check-and-increment.
//!
//! Both keep their mutable state behind a trait, [`RateLimiter`] and
//! [`QuotaStore`], whose in-process implementations ([`InProcessLimiter`],
//! built on governor's lock-free GCRA, and [`InProcessQuotaStore`]) are the
//! defaults; a shared backend for several gateway nodes plugs in through
//! [`Throttles::from_parts`] and [`Quotas::from_parts`]. The hot-path calls
//! ([`Throttles::check`], [`Quotas::try_consume`]) are synchronous, take no
//! lock and allocate nothing.
//!
//! Time is injectable: throttles read a governor [`clock::Clock`] (tests use
//! [`clock::FakeRelativeClock`]); quotas take `now` as an argument.

pub mod error;
pub mod limiter;
pub mod period;
pub mod quota;
pub mod settings;
pub mod throttle;

pub use error::{LimitField, LimitsError};
pub use limiter::{BucketId, Decision, InProcessLimiter, RateLimiter};
pub use period::{PeriodId, PeriodWindow, QuotaPeriod, WEEK_STARTS_ON};
pub use quota::{
    InProcessQuotaStore, QuotaDecision, QuotaExceeded, QuotaId, QuotaSettings, QuotaStatus,
    QuotaStore, Quotas,
};
pub use settings::{
    Level, PlanKeyIdx, PlanKeyThrottle, RouteIdx, RouteThrottle, Subject, ThrottleConfig,
    ThrottleSettings, MAX_RATE, MAX_REFILL_SECS,
};
pub use throttle::{validate, Rejected, ThrottlePlan, Throttles};

/// Clocks for throttles, re-exported from governor so callers need not depend
/// on it: [`clock::DefaultClock`] in production, [`clock::FakeRelativeClock`]
/// to drive time in tests.
pub mod clock {
    pub use governor::clock::{Clock, DefaultClock, FakeRelativeClock, Reference};
}
