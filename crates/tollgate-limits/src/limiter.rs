//! The token-bucket backend trait and its in-process implementation (governor).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::Quota;

use crate::error::LimitsError;
use crate::settings::{Subject, ThrottleSettings};

/// Index of one token bucket in a [`crate::ThrottlePlan`]; the plan lists every
/// bucket's settings in this order, and a backend is built from that list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketId(pub u32);

/// Outcome of taking one token.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A token was taken; the request may go on.
    Admit,
    /// The bucket is empty; nothing was taken.
    Reject,
}

/// A set of token buckets, addressed by [`BucketId`].
///
/// The in-process default is [`InProcessLimiter`]. A shared backend for several
/// gateway nodes (Redis, a GCRA script per bucket) implements the same trait,
/// and is built from the same [`crate::ThrottlePlan::buckets`] list.
///
/// `check` is synchronous and must not block: it runs on the request path for
/// every request. Time comes from the backend's own clock, not from the
/// caller, so that all nodes sharing a bucket agree on it (Redis would use its
/// server `TIME`). A network backend bridges to this API by deciding locally:
/// e.g. each node owns an in-process bucket with its share of the rate,
/// re-balanced by a background task from the shared counts; or it admits
/// against a locally cached token count that an async task settles with the
/// server, accepting a bounded overshoot (AWS calls its limits best-effort).
/// It must never await the network inside `check`.
pub trait RateLimiter: Send + Sync {
    /// Takes one token from `bucket` if it has one. An unknown bucket admits
    /// (fail open, as AWS does when a usage-plan check fails internally).
    fn check(&self, bucket: BucketId) -> Decision;

    /// How many buckets this backend holds, to catch pairing it with the
    /// wrong plan at load time.
    fn len(&self) -> usize;

    /// True when the backend holds no bucket.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

type Bucket<C> =
    governor::RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Token buckets in this process: one governor direct limiter per bucket.
///
/// governor implements GCRA, which is exactly a token bucket that refills
/// continuously at `rate` with capacity `burst`, and starts full. Its state is a
/// single `AtomicU64` (the theoretical arrival time) updated with one
/// compare-and-swap, so a decision takes no lock and allocates nothing, and
/// a rejection leaves the bucket untouched.
///
/// `C` is the clock: [`DefaultClock`] (quanta, monotonic) in production and
/// [`governor::clock::FakeRelativeClock`] in tests, whose clones share one time.
pub struct InProcessLimiter<C: Clock = DefaultClock> {
    buckets: Box<[Slot<C>]>,
}

/// A bucket, or the marker for settings that admit nothing (governor can't
/// express a zero burst).
enum Slot<C: Clock> {
    Open(Bucket<C>),
    Blocked,
}

impl InProcessLimiter<DefaultClock> {
    /// One bucket per entry of `settings`, on the monotonic real-time clock.
    ///
    /// # Errors
    /// As [`InProcessLimiter::with_clock`].
    pub fn new(settings: &[ThrottleSettings]) -> Result<Self, LimitsError> {
        Self::with_clock(settings, DefaultClock::default())
    }
}

impl<C: Clock + Clone> InProcessLimiter<C> {
    /// One bucket per entry of `settings`, each reading time from a clone of `clock`.
    ///
    /// A setting that admits nothing (burst 0 or rate 0) gets a bucket that
    /// always rejects; [`crate::ThrottlePlan`] never emits those, but a
    /// backend must handle any list it is given.
    ///
    /// # Errors
    /// [`LimitsError::InvalidRate`] or [`LimitsError::RefillTooSlow`] for
    /// settings no bucket can implement (reported as [`Subject::Account`]: the
    /// list carries no placement).
    pub fn with_clock(settings: &[ThrottleSettings], clock: C) -> Result<Self, LimitsError> {
        let buckets = settings
            .iter()
            .map(|s| {
                let interval = s.check(Subject::Account)?;
                let quota = interval
                    .zip(NonZeroU32::new(s.burst))
                    .and_then(|(interval, burst)| {
                        Quota::with_period(Duration::from_nanos(interval))
                            .map(|q| q.allow_burst(burst))
                    });
                Ok(match quota {
                    Some(q) => {
                        Slot::Open(governor::RateLimiter::direct_with_clock(q, clock.clone()))
                    }
                    None => Slot::Blocked,
                })
            })
            .collect::<Result<Vec<_>, LimitsError>>()?;
        Ok(InProcessLimiter {
            buckets: buckets.into_boxed_slice(),
        })
    }
}

impl<C> RateLimiter for InProcessLimiter<C>
where
    C: Clock + Send + Sync,
    C::Instant: Send + Sync,
{
    #[inline]
    fn check(&self, bucket: BucketId) -> Decision {
        match self.buckets.get(bucket.0 as usize) {
            Some(Slot::Open(b)) => match b.check() {
                Ok(()) => Decision::Admit,
                Err(_) => Decision::Reject,
            },
            Some(Slot::Blocked) => Decision::Reject,
            None => Decision::Admit,
        }
    }

    fn len(&self) -> usize {
        self.buckets.len()
    }
}

impl<C: Clock> std::fmt::Debug for InProcessLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessLimiter")
            .field("buckets", &self.buckets.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn limiter(rate: f64, burst: u32) -> (InProcessLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let l = InProcessLimiter::with_clock(&[ThrottleSettings { rate, burst }], clock.clone())
            .unwrap();
        (l, clock)
    }

    #[test]
    fn starts_full_then_refills_at_rate() {
        let (l, clock) = limiter(10.0, 5);
        for _ in 0..5 {
            assert_eq!(l.check(BucketId(0)), Decision::Admit);
        }
        assert_eq!(l.check(BucketId(0)), Decision::Reject);
        clock.advance(Duration::from_millis(99));
        assert_eq!(l.check(BucketId(0)), Decision::Reject);
        clock.advance(Duration::from_millis(1));
        assert_eq!(l.check(BucketId(0)), Decision::Admit);
        assert_eq!(l.check(BucketId(0)), Decision::Reject);
    }

    #[test]
    fn zero_burst_or_rate_blocks() {
        for (rate, burst) in [(10.0, 0), (0.0, 10), (0.0, 0)] {
            let (l, clock) = limiter(rate, burst);
            assert_eq!(l.check(BucketId(0)), Decision::Reject, "{rate}/{burst}");
            clock.advance(Duration::from_secs(3600));
            assert_eq!(l.check(BucketId(0)), Decision::Reject, "{rate}/{burst}");
        }
    }

    #[test]
    fn unknown_bucket_fails_open() {
        let (l, _) = limiter(1.0, 1);
        assert_eq!(l.check(BucketId(7)), Decision::Admit);
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn invalid_rates_are_errors() {
        for rate in [f64::NAN, -1.0, f64::INFINITY, 2e9] {
            let r = InProcessLimiter::new(&[ThrottleSettings { rate, burst: 1 }]);
            assert!(matches!(r, Err(LimitsError::InvalidRate { .. })), "{rate}");
        }
        let r = InProcessLimiter::new(&[ThrottleSettings {
            rate: 1e-9,
            burst: 10,
        }]);
        assert!(matches!(r, Err(LimitsError::RefillTooSlow { .. })));
    }
}
