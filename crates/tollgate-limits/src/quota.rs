//! Usage-plan quotas: at most `limit` requests per key per period, counted
//! across all of the plan's stages.
//!
//! The gateway checks throttles first and quotas second, so a throttled
//! request never uses quota; a request refused by its quota has already taken
//! its throttle tokens (best-effort, as AWS says of both).

use std::sync::atomic::{AtomicU64, Ordering};

use time::OffsetDateTime;

use crate::error::LimitsError;
use crate::period::{PeriodId, PeriodWindow, QuotaPeriod};
use crate::settings::PlanKeyIdx;

/// A usage plan's `quota {limit, offset, period}` for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSettings {
    /// Requests allowed per period. 0 refuses every request.
    pub limit: u32,
    /// DAY, WEEK or MONTH; boundaries in UTC (see [`crate::period`]).
    pub period: QuotaPeriod,
    /// Requests subtracted from `limit` in the initial period only (AWS API
    /// reference: "the number of requests subtracted from the given limit in
    /// the initial time period"), so a plan starting mid-month gets a smaller
    /// first month. 0 for none.
    pub offset: u32,
    /// When the plan took effect; its period is the initial period. Required
    /// when `offset > 0`.
    pub starts_at: Option<OffsetDateTime>,
}

/// Index of one quota counter in a [`QuotaStore`]; equal to the key's
/// [`PlanKeyIdx`] number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QuotaId(pub u32);

/// Outcome of [`QuotaStore::try_consume`].
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaDecision {
    /// Counted; `used` includes this request.
    Admitted {
        /// Requests counted in the period so far.
        used: u32,
    },
    /// The period's limit is reached; nothing was counted.
    Exceeded {
        /// Requests counted in the period so far.
        used: u32,
    },
}

/// Per-key period counters.
///
/// The in-process default is [`InProcessQuotaStore`]. A Redis store (several
/// gateway nodes) implements the same trait with one key per (plan, key,
/// period) and an atomic check-and-increment script. Like
/// [`crate::RateLimiter::check`], `try_consume` must not block on the
/// network: a remote store would reserve a block of requests from the server
/// in the background and admit locally from it, returning unused reservations
/// at the period's end.
pub trait QuotaStore: Send + Sync {
    /// Counts one request in `period` if fewer than `limit` have been counted,
    /// atomically: concurrent callers never admit more than `limit` in total.
    ///
    /// A counter that has already moved on to a later period (a request racing
    /// the boundary with a slightly older `now`) counts the request in that
    /// later period, so no request escapes counting.
    fn try_consume(&self, quota: QuotaId, period: PeriodId, limit: u32) -> QuotaDecision;

    /// Requests counted in `period`: 0 for a period with no count yet, and for
    /// periods older than the counter's (history is the ledger's job).
    fn used(&self, quota: QuotaId, period: PeriodId) -> u32;

    /// How many counters the store holds.
    fn len(&self) -> usize;

    /// True when the store holds no counter.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Counters in this process: one `AtomicU64` per key holding the period id
/// (high 32 bits) and the count in that period (low 32 bits).
///
/// Packing both into one word lets a single compare-and-swap both roll the
/// period over and count, so the check-and-increment is atomic without a lock.
/// A u32 count suffices: AWS quota limits are 32-bit integers.
#[derive(Debug)]
pub struct InProcessQuotaStore {
    counters: Box<[AtomicU64]>,
}

fn pack(period: u32, count: u32) -> u64 {
    (u64::from(period) << 32) | u64::from(count)
}

fn unpack(word: u64) -> (u32, u32) {
    // Truncation is the point: high and low halves.
    #[allow(clippy::cast_possible_truncation)]
    ((word >> 32) as u32, word as u32)
}

impl InProcessQuotaStore {
    /// `n` counters, all at zero.
    pub fn new(n: usize) -> Self {
        InProcessQuotaStore {
            counters: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn raw(&self, quota: QuotaId) -> Option<u64> {
        self.counters
            .get(quota.0 as usize)
            .map(|c| c.load(Ordering::Relaxed))
    }

    fn set_raw(&self, quota: QuotaId, word: u64) {
        if let Some(c) = self.counters.get(quota.0 as usize) {
            c.store(word, Ordering::Relaxed);
        }
    }
}

impl QuotaStore for InProcessQuotaStore {
    #[inline]
    fn try_consume(&self, quota: QuotaId, period: PeriodId, limit: u32) -> QuotaDecision {
        let Some(cell) = self.counters.get(quota.0 as usize) else {
            // Unknown counter: fail open, like AWS's internal usage-plan errors.
            return QuotaDecision::Admitted { used: 0 };
        };
        // Relaxed suffices: the word guards no other memory, and read-modify-
        // write operations on one atomic are totally ordered anyway.
        let mut current = cell.load(Ordering::Relaxed);
        loop {
            let (p, count) = unpack(current);
            let (p, used) = if p < period.0 {
                (period.0, 0)
            } else {
                (p, count)
            };
            if used >= limit {
                return QuotaDecision::Exceeded { used };
            }
            match cell.compare_exchange_weak(
                current,
                pack(p, used + 1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return QuotaDecision::Admitted { used: used + 1 },
                Err(actual) => current = actual,
            }
        }
    }

    fn used(&self, quota: QuotaId, period: PeriodId) -> u32 {
        match self.raw(quota).map(unpack) {
            Some((p, count)) if p == period.0 => count,
            _ => 0,
        }
    }

    fn len(&self) -> usize {
        self.counters.len()
    }
}

/// A key's quota, ready for the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Compiled {
    limit: u32,
    period: QuotaPeriod,
    /// The initial period and its reduced limit, when `offset > 0`.
    initial: Option<(PeriodId, u32)>,
}

impl Compiled {
    #[inline]
    fn limit_in(&self, period: PeriodId) -> u32 {
        match self.initial {
            Some((p, l)) if p == period => l,
            _ => self.limit,
        }
    }
}

/// The request was refused: the key's quota for the current period is used up.
/// The gateway answers `429` (REST gateway response `QUOTA_EXCEEDED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("usage-plan quota exceeded for {key}")]
pub struct QuotaExceeded {
    /// The (plan, key) pair whose quota is used up.
    pub key: PlanKeyIdx,
}

/// A key's quota as the admin API shows it (AWS `GetUsage`: used and remaining).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaStatus {
    /// The limit in force for this period (after any initial-period offset).
    pub limit: u32,
    /// Requests counted in the period.
    pub used: u32,
    /// `limit - used`, never negative.
    pub remaining: u32,
    /// The period and its bounds.
    pub window: PeriodWindow,
}

/// All usage-plan quotas of one configuration, indexed by [`PlanKeyIdx`].
///
/// Unlike throttles, counts must survive a configuration reload (otherwise a
/// reload would hand every key a fresh quota): build the new set with
/// [`Quotas::carry_over`].
#[derive(Debug)]
pub struct Quotas<S = InProcessQuotaStore> {
    keys: Box<[Option<Compiled>]>,
    store: S,
}

fn compile(settings: &[Option<QuotaSettings>]) -> Result<Box<[Option<Compiled>]>, LimitsError> {
    u32::try_from(settings.len()).map_err(|_| LimitsError::TooMany {
        what: "usage-plan keys",
    })?;
    (0u32..)
        .zip(settings)
        .map(|(k, s)| {
            let Some(s) = s else { return Ok(None) };
            let initial = match (s.offset, s.starts_at) {
                (0, _) => None,
                (offset, None) => {
                    return Err(LimitsError::OffsetWithoutStart {
                        key: PlanKeyIdx(k),
                        offset,
                    })
                }
                (offset, Some(at)) => {
                    Some((s.period.period_id(at), s.limit.saturating_sub(offset)))
                }
            };
            Ok(Some(Compiled {
                limit: s.limit,
                period: s.period,
                initial,
            }))
        })
        .collect()
}

impl Quotas<InProcessQuotaStore> {
    /// Quotas with fresh in-process counters; `settings[k]` is the quota of
    /// [`PlanKeyIdx`] `k` (`None`: the plan has no quota).
    ///
    /// # Errors
    /// [`LimitsError::OffsetWithoutStart`], [`LimitsError::TooMany`].
    pub fn new(settings: &[Option<QuotaSettings>]) -> Result<Self, LimitsError> {
        Ok(Quotas {
            keys: compile(settings)?,
            store: InProcessQuotaStore::new(settings.len()),
        })
    }

    /// Quotas for a reloaded configuration that keep the counts of `previous`.
    ///
    /// `previous_index[k]` is the old index of new key `k` (`None` for a new
    /// key). A count is carried only when the key had a quota of the same
    /// period kind before: period ids of different kinds aren't comparable,
    /// and a changed period starts afresh. Requests counted on `previous`
    /// while this runs may be lost (a few, during a reload only).
    ///
    /// # Errors
    /// As [`Quotas::new`].
    pub fn carry_over(
        settings: &[Option<QuotaSettings>],
        previous: &Quotas<InProcessQuotaStore>,
        previous_index: &[Option<PlanKeyIdx>],
    ) -> Result<Self, LimitsError> {
        let next = Self::new(settings)?;
        for ((k, new), old) in (0u32..).zip(next.keys.iter()).zip(previous_index) {
            let (Some(new), Some(old)) = (new, old) else {
                continue;
            };
            let same_kind = previous
                .keys
                .get(old.0 as usize)
                .and_then(|c| c.as_ref())
                .is_some_and(|c| c.period == new.period);
            if same_kind {
                if let Some(word) = previous.store.raw(QuotaId(old.0)) {
                    next.store.set_raw(QuotaId(k), word);
                }
            }
        }
        Ok(next)
    }
}

impl<S: QuotaStore> Quotas<S> {
    /// Quotas over a given store (e.g. a shared one).
    ///
    /// # Errors
    /// As [`Quotas::new`], and [`LimitsError::StoreMismatch`] if the store has
    /// fewer counters than there are keys.
    pub fn from_parts(settings: &[Option<QuotaSettings>], store: S) -> Result<Self, LimitsError> {
        if store.len() < settings.len() {
            return Err(LimitsError::StoreMismatch {
                expected: settings.len(),
                actual: store.len(),
            });
        }
        Ok(Quotas {
            keys: compile(settings)?,
            store,
        })
    }

    /// The counter store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Counts one request for `key` at `now`, or refuses it if the key's
    /// quota for the period is used up. Keys without a quota, and unknown
    /// keys, are always admitted.
    ///
    /// # Errors
    /// [`QuotaExceeded`] when the period's limit is reached.
    #[inline]
    pub fn try_consume(&self, key: PlanKeyIdx, now: OffsetDateTime) -> Result<(), QuotaExceeded> {
        let Some(Some(q)) = self.keys.get(key.0 as usize) else {
            return Ok(());
        };
        let period = q.period.period_id(now);
        match self
            .store
            .try_consume(QuotaId(key.0), period, q.limit_in(period))
        {
            QuotaDecision::Admitted { .. } => Ok(()),
            QuotaDecision::Exceeded { .. } => Err(QuotaExceeded { key }),
        }
    }

    /// The key's limit, use and remainder in the period containing `now`,
    /// with the period's bounds; `None` if the key has no quota.
    pub fn remaining(&self, key: PlanKeyIdx, now: OffsetDateTime) -> Option<QuotaStatus> {
        let q = self.keys.get(key.0 as usize)?.as_ref()?;
        let window = q.period.window(now);
        let limit = q.limit_in(window.id);
        let used = self.store.used(QuotaId(key.0), window.id);
        Some(QuotaStatus {
            limit,
            used,
            remaining: limit.saturating_sub(used),
            window,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn pack_roundtrip() {
        assert_eq!(unpack(pack(u32::MAX, 7)), (u32::MAX, 7));
        assert_eq!(unpack(pack(3, u32::MAX)), (3, u32::MAX));
    }

    #[test]
    fn store_rolls_over_and_never_goes_back() {
        let s = InProcessQuotaStore::new(1);
        let q = QuotaId(0);
        assert_eq!(
            s.try_consume(q, PeriodId(5), 2),
            QuotaDecision::Admitted { used: 1 }
        );
        assert_eq!(
            s.try_consume(q, PeriodId(5), 2),
            QuotaDecision::Admitted { used: 2 }
        );
        assert_eq!(
            s.try_consume(q, PeriodId(5), 2),
            QuotaDecision::Exceeded { used: 2 }
        );
        assert_eq!(
            s.try_consume(q, PeriodId(6), 2),
            QuotaDecision::Admitted { used: 1 }
        );
        // A straggler from period 5 counts in period 6.
        assert_eq!(
            s.try_consume(q, PeriodId(5), 2),
            QuotaDecision::Admitted { used: 2 }
        );
        assert_eq!(s.used(q, PeriodId(6)), 2);
        assert_eq!(s.used(q, PeriodId(5)), 0);
        assert_eq!(s.used(q, PeriodId(7)), 0);
    }

    #[test]
    fn offset_reduces_only_the_initial_period() {
        let quotas = Quotas::new(&[Some(QuotaSettings {
            limit: 10,
            period: QuotaPeriod::Month,
            offset: 7,
            starts_at: Some(datetime!(2024-05-20 9:00 UTC)),
        })])
        .unwrap();
        let k = PlanKeyIdx(0);
        let may = datetime!(2024-05-25 0:00 UTC);
        for _ in 0..3 {
            quotas.try_consume(k, may).unwrap();
        }
        assert_eq!(quotas.try_consume(k, may), Err(QuotaExceeded { key: k }));
        let june = datetime!(2024-06-01 0:00 UTC);
        assert_eq!(quotas.remaining(k, june).unwrap().remaining, 10);
    }

    #[test]
    fn offset_without_start_is_an_error() {
        let r = Quotas::new(&[Some(QuotaSettings {
            limit: 10,
            period: QuotaPeriod::Day,
            offset: 1,
            starts_at: None,
        })]);
        assert_eq!(
            r.unwrap_err(),
            LimitsError::OffsetWithoutStart {
                key: PlanKeyIdx(0),
                offset: 1
            }
        );
    }

    #[test]
    fn carry_over_keeps_counts_of_same_period_kind() {
        let day = |limit| {
            Some(QuotaSettings {
                limit,
                period: QuotaPeriod::Day,
                offset: 0,
                starts_at: None,
            })
        };
        let now = datetime!(2024-05-25 12:00 UTC);
        let old = Quotas::new(&[day(5), day(5)]).unwrap();
        for _ in 0..3 {
            old.try_consume(PlanKeyIdx(0), now).unwrap();
            old.try_consume(PlanKeyIdx(1), now).unwrap();
        }
        let week = Some(QuotaSettings {
            limit: 5,
            period: QuotaPeriod::Week,
            offset: 0,
            starts_at: None,
        });
        // Keys swap places; old key 0 becomes weekly.
        let new = Quotas::carry_over(
            &[day(4), week, day(5)],
            &old,
            &[Some(PlanKeyIdx(1)), Some(PlanKeyIdx(0)), None],
        )
        .unwrap();
        assert_eq!(new.remaining(PlanKeyIdx(0), now).unwrap().remaining, 1);
        assert_eq!(new.remaining(PlanKeyIdx(1), now).unwrap().used, 0);
        assert_eq!(new.remaining(PlanKeyIdx(2), now).unwrap().used, 0);
    }

    #[test]
    fn keys_without_quota_or_unknown_are_admitted() {
        let quotas = Quotas::new(&[None]).unwrap();
        let now = datetime!(2024-05-25 12:00 UTC);
        assert_eq!(quotas.try_consume(PlanKeyIdx(0), now), Ok(()));
        assert_eq!(quotas.try_consume(PlanKeyIdx(5), now), Ok(()));
        assert_eq!(quotas.remaining(PlanKeyIdx(0), now), None);
    }

    #[test]
    fn from_parts_checks_store_size() {
        let r = Quotas::from_parts(&[None, None], InProcessQuotaStore::new(1));
        assert_eq!(
            r.unwrap_err(),
            LimitsError::StoreMismatch {
                expected: 2,
                actual: 1
            }
        );
    }
}
