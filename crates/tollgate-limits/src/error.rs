//! Typed errors for building limits from settings.

use crate::settings::{PlanKeyIdx, RouteIdx, Subject};

/// Which half of a [`crate::ThrottleSettings`] a conflict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitField {
    /// `rate`, requests per second.
    Rate,
    /// `burst`, bucket capacity.
    Burst,
}

impl std::fmt::Display for LimitField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LimitField::Rate => "rate",
            LimitField::Burst => "burst",
        })
    }
}

/// Why settings can't be turned into limits, or conflict with each other.
///
/// Each variant names where the setting sits ([`Subject`] or indexes) so the
/// config compiler can point at the right line of the user's file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitsError {
    /// The rate is NaN, infinite, negative or above [`crate::MAX_RATE`].
    #[error(
        "{subject}: rate {rate} must be a finite number of requests per second between 0 and 1e9"
    )]
    InvalidRate {
        /// Where the setting is.
        subject: Subject,
        /// The rejected value.
        rate: f64,
    },
    /// `burst / rate` exceeds [`crate::MAX_REFILL_SECS`]: a bucket that takes
    /// over a century to refill is a mistake, and governor can't hold it.
    #[error("{subject}: rate {rate}/s with burst {burst} takes more than 100 years to refill")]
    RefillTooSlow {
        /// Where the setting is.
        subject: Subject,
        /// The configured rate.
        rate: f64,
        /// The configured burst.
        burst: u32,
    },
    /// A stage, route or usage-plan limit is above the account limit, which
    /// AWS refuses ("can't exceed account-level limits"). Only reported by
    /// [`crate::validate`]; building [`crate::Throttles`] accepts it, since the
    /// stricter account bucket bounds the traffic anyway.
    #[error("{subject}: {field} {value} exceeds the account-level {field} {account}")]
    ExceedsAccount {
        /// Where the setting is.
        subject: Subject,
        /// Rate or burst.
        field: LimitField,
        /// The configured value.
        value: f64,
        /// The account-level value it exceeds.
        account: f64,
    },
    /// A per-method usage-plan limit names a route slot that doesn't exist.
    #[error("{subject}: {route} is out of range ({routes} route slots)")]
    RouteOutOfRange {
        /// Where the setting is.
        subject: Subject,
        /// The offending route slot.
        route: RouteIdx,
        /// How many route slots the configuration has.
        routes: usize,
    },
    /// Two per-method usage-plan limits for the same key and route slot.
    #[error("{key}: more than one method throttle for {route}")]
    DuplicateMethod {
        /// The (plan, key) pair.
        key: PlanKeyIdx,
        /// The route slot listed twice.
        route: RouteIdx,
    },
    /// More buckets, routes or keys than a u32 index can address.
    #[error("too many {what} (more than u32::MAX)")]
    TooMany {
        /// What overflowed: "buckets", "route slots", "usage-plan keys".
        what: &'static str,
    },
    /// A rate limiter backend was built for a different number of buckets
    /// than the plan it is paired with.
    #[error("rate limiter has {actual} buckets but the throttle plan needs {expected}")]
    LimiterMismatch {
        /// Buckets in the plan.
        expected: usize,
        /// Buckets in the limiter.
        actual: usize,
    },
    /// A quota store holds fewer counters than there are usage-plan keys.
    #[error("quota store has {actual} counters but there are {expected} usage-plan keys")]
    StoreMismatch {
        /// Keys in the settings.
        expected: usize,
        /// Counters in the store.
        actual: usize,
    },
    /// A quota `offset` without the instant the plan started: the offset
    /// applies to the initial period only, which can't be placed without it.
    #[error("{key}: quota offset {offset} needs `starts_at` to know the initial period")]
    OffsetWithoutStart {
        /// The (plan, key) pair.
        key: PlanKeyIdx,
        /// The configured offset.
        offset: u32,
    },
}
