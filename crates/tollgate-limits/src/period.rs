//! Quota periods: which calendar period an instant falls in, in UTC.
//!
//! Boundaries, and where they come from:
//!
//! * `DAY` runs from 00:00 UTC to the next 00:00 UTC ("one day UTC, so 1000
//!   requests from 12am until 11:59pm UTC", a Stack Overflow answer on usage
//!   plans; AWS's own usage exports are per UTC day).
//! * `MONTH` runs from the 1st, 00:00 UTC, to the next month's 1st: "Monthly
//!   quotas only reset on the 1st of every month" (AWS re:Post answer).
//! * `WEEK` runs from Sunday 00:00 UTC to the next Sunday. AWS documents no
//!   weekday; older AWS SDK docs described `offset` as "the day that a time
//!   period starts … with a time period of WEEK, an offset of 0 starts on
//!   Sunday, and an offset of 1 starts on Monday", so offset 0 (the default)
//!   means Sunday. UNCONFIRMED against live AWS; [`WEEK_STARTS_ON`] is the one
//!   place to change it.
//!
//! The current API reference redefines `offset` as "the number of requests
//! subtracted from the given limit in the initial time period"; that is the
//! meaning [`crate::QuotaSettings::offset`] implements.
//!
//! Arithmetic is on Unix seconds with the proleptic Gregorian calendar (leap
//! seconds don't exist in Unix time), so computing a period costs a few
//! integer operations and cannot panic.

use time::{OffsetDateTime, PrimitiveDateTime};

const SECS_PER_DAY: i64 = 86_400;

/// Days from 1970-01-01 (a Thursday) back to the Sunday that starts its week.
const WEEK_SHIFT: i64 = 4;

/// The weekday on which a `WEEK` quota period starts (see the module docs).
pub const WEEK_STARTS_ON: time::Weekday = time::Weekday::Sunday;

/// AWS's `QuotaPeriodType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaPeriod {
    /// A UTC calendar day.
    Day,
    /// A week starting [`WEEK_STARTS_ON`] at 00:00 UTC.
    Week,
    /// A UTC calendar month.
    Month,
}

/// Sequence number of a period of one [`QuotaPeriod`] kind since the Unix
/// epoch (day, week or month number). Only comparable within one kind.
///
/// Instants before 1970 all map to 0; a gateway never sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeriodId(pub u32);

/// A quota period: its id and its `[start, end)` bounds, for the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodWindow {
    /// The period's sequence number.
    pub id: PeriodId,
    /// First instant of the period (inclusive).
    pub start: OffsetDateTime,
    /// First instant of the next period (exclusive).
    pub end: OffsetDateTime,
}

impl QuotaPeriod {
    /// The period containing `now`; cheap enough for every request.
    #[inline]
    pub fn period_id(self, now: OffsetDateTime) -> PeriodId {
        clamp_id(self.raw_id(now.unix_timestamp()))
    }

    /// The period containing `now`, with its bounds.
    pub fn window(self, now: OffsetDateTime) -> PeriodWindow {
        let raw = self.raw_id(now.unix_timestamp());
        PeriodWindow {
            id: clamp_id(raw),
            start: datetime(self.start_secs(raw)),
            end: datetime(self.start_secs(raw.saturating_add(1))),
        }
    }

    /// Period number of the Unix time `secs`, before clamping to u32.
    fn raw_id(self, secs: i64) -> i64 {
        let days = secs.div_euclid(SECS_PER_DAY);
        match self {
            QuotaPeriod::Day => days,
            QuotaPeriod::Week => (days + WEEK_SHIFT).div_euclid(7),
            QuotaPeriod::Month => {
                let (y, m, _) = civil_from_days(days);
                (y - 1970) * 12 + (i64::from(m) - 1)
            }
        }
    }

    /// Unix time at which period number `id` starts.
    fn start_secs(self, id: i64) -> i64 {
        let days = match self {
            QuotaPeriod::Day => id,
            QuotaPeriod::Week => id.saturating_mul(7) - WEEK_SHIFT,
            QuotaPeriod::Month => {
                let y = 1970 + id.div_euclid(12);
                // rem_euclid(12) is in 0..12, so the cast is lossless.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let m = id.rem_euclid(12) as u32 + 1;
                days_from_civil(y, m, 1)
            }
        };
        days.saturating_mul(SECS_PER_DAY)
    }
}

fn clamp_id(raw: i64) -> PeriodId {
    PeriodId(u32::try_from(raw.max(0)).unwrap_or(u32::MAX))
}

/// Unix seconds to a date-time, saturating at the `time` crate's range.
fn datetime(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or_else(|_| {
        if secs < 0 {
            PrimitiveDateTime::MIN.assume_utc()
        } else {
            PrimitiveDateTime::MAX.assume_utc()
        }
    })
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31); Howard
/// Hinnant's `civil_from_days`, valid for the whole i64 day range we can reach.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    // m and d are small positive numbers, see the ranges above.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (y, m as u32, d as u32)
}

/// (year, month 1..=12, day) to days since 1970-01-01; Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // [0, 11]
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;
    use time::Duration;

    #[test]
    fn day_boundaries() {
        let w = QuotaPeriod::Day.window(datetime!(2024-03-10 23:59:59.999 UTC));
        assert_eq!(w.start, datetime!(2024-03-10 0:00 UTC));
        assert_eq!(w.end, datetime!(2024-03-11 0:00 UTC));
        let next = QuotaPeriod::Day.period_id(datetime!(2024-03-11 0:00 UTC));
        assert_eq!(next.0, w.id.0 + 1);
    }

    #[test]
    fn day_uses_utc_not_the_callers_offset() {
        // 01:30 at +02:00 is 23:30 UTC the previous day.
        let w = QuotaPeriod::Day.window(datetime!(2024-03-11 1:30 +2));
        assert_eq!(w.start, datetime!(2024-03-10 0:00 UTC));
    }

    #[test]
    fn week_starts_sunday_utc() {
        // 2024-03-10 is a Sunday.
        let w = QuotaPeriod::Week.window(datetime!(2024-03-13 12:00 UTC));
        assert_eq!(w.start, datetime!(2024-03-10 0:00 UTC));
        assert_eq!(w.end, datetime!(2024-03-17 0:00 UTC));
        assert_eq!(w.start.weekday(), WEEK_STARTS_ON);
        let sat = QuotaPeriod::Week.period_id(datetime!(2024-03-09 23:59:59 UTC));
        assert_eq!(sat.0 + 1, w.id.0);
        // The epoch (a Thursday) belongs to the week that began 1969-12-28.
        let w0 = QuotaPeriod::Week.window(datetime!(1970-01-01 0:00 UTC));
        assert_eq!(w0.id, PeriodId(0));
        assert_eq!(w0.start, datetime!(1969-12-28 0:00 UTC));
    }

    #[test]
    fn month_boundaries_incl_leap_february() {
        let jan = QuotaPeriod::Month.window(datetime!(2024-01-31 23:59:59 UTC));
        assert_eq!(jan.start, datetime!(2024-01-01 0:00 UTC));
        assert_eq!(jan.end, datetime!(2024-02-01 0:00 UTC));
        let feb = QuotaPeriod::Month.window(datetime!(2024-02-29 12:00 UTC));
        assert_eq!(feb.id.0, jan.id.0 + 1);
        assert_eq!(feb.end, datetime!(2024-03-01 0:00 UTC));
        let dec = QuotaPeriod::Month.window(datetime!(2023-12-15 0:00 UTC));
        assert_eq!(dec.end, datetime!(2024-01-01 0:00 UTC));
        assert_eq!(dec.id.0 + 1, jan.id.0);
        assert_eq!(
            QuotaPeriod::Month.period_id(datetime!(1970-01-01 0:00 UTC)),
            PeriodId(0)
        );
    }

    #[test]
    fn before_epoch_clamps_to_zero() {
        assert_eq!(
            QuotaPeriod::Day.period_id(datetime!(1960-05-01 0:00 UTC)),
            PeriodId(0)
        );
    }

    proptest! {
        #[test]
        fn civil_matches_time_crate(days in -800_000i64..2_900_000) {
            let date = time::Date::from_julian_day(
                i32::try_from(days + 2_440_588).unwrap()
            ).unwrap();
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(y, i64::from(date.year()));
            prop_assert_eq!(m, u32::from(u8::from(date.month())));
            prop_assert_eq!(d, u32::from(date.day()));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn window_contains_now(secs in 0i64..253_402_300_000, kind in 0u8..3) {
            let period = [QuotaPeriod::Day, QuotaPeriod::Week, QuotaPeriod::Month][kind as usize];
            let now = OffsetDateTime::from_unix_timestamp(secs).unwrap();
            let w = period.window(now);
            prop_assert!(w.start <= now && now < w.end);
            prop_assert_eq!(period.period_id(w.start), w.id);
            if w.end < PrimitiveDateTime::MAX.assume_utc() {
                prop_assert_eq!(period.period_id(w.end).0, w.id.0 + 1);
                prop_assert_eq!(period.period_id(w.end - Duration::nanoseconds(1)), w.id);
            }
        }
    }
}
