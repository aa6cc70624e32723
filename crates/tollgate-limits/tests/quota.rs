//! Quota behaviour through the public API, with injected time.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use time::macros::datetime;
use time::OffsetDateTime;
use tollgate_limits::{PlanKeyIdx, QuotaExceeded, QuotaPeriod, QuotaSettings, Quotas};

const K: PlanKeyIdx = PlanKeyIdx(0);

fn quotas(limit: u32, period: QuotaPeriod) -> Quotas {
    Quotas::new(&[Some(QuotaSettings {
        limit,
        period,
        offset: 0,
        starts_at: None,
    })])
    .unwrap()
}

fn use_up(q: &Quotas, n: u32, now: OffsetDateTime) {
    for i in 0..n {
        assert_eq!(q.try_consume(K, now), Ok(()), "request {i} at {now}");
    }
}

#[test]
fn daily_limit_then_reset_at_utc_midnight() {
    let q = quotas(100, QuotaPeriod::Day);
    let evening = datetime!(2024-07-04 23:59:59.999 UTC);
    use_up(&q, 100, evening);
    assert_eq!(q.try_consume(K, evening), Err(QuotaExceeded { key: K }));
    let s = q.remaining(K, evening).unwrap();
    assert_eq!((s.limit, s.used, s.remaining), (100, 100, 0));
    assert_eq!(s.window.start, datetime!(2024-07-04 0:00 UTC));
    assert_eq!(s.window.end, datetime!(2024-07-05 0:00 UTC));

    // Past local midnight in Berlin (+02:00) is still 4 July in UTC.
    let berlin_1am = datetime!(2024-07-05 1:00 +2);
    assert_eq!(q.try_consume(K, berlin_1am), Err(QuotaExceeded { key: K }));

    let midnight = datetime!(2024-07-05 0:00 UTC);
    assert_eq!(q.remaining(K, midnight).unwrap().remaining, 100);
    use_up(&q, 100, midnight);
    assert_eq!(q.try_consume(K, midnight), Err(QuotaExceeded { key: K }));
}

#[test]
fn weekly_limit_resets_on_sunday_utc() {
    let q = quotas(3, QuotaPeriod::Week);
    // Saturday 2024-03-09, the last day of the week that began Sunday 03-03.
    let saturday = datetime!(2024-03-09 23:59 UTC);
    use_up(&q, 3, datetime!(2024-03-03 0:00 UTC));
    assert!(q.try_consume(K, saturday).is_err());
    let s = q.remaining(K, saturday).unwrap();
    assert_eq!(s.window.start, datetime!(2024-03-03 0:00 UTC));
    assert_eq!(s.window.end, datetime!(2024-03-10 0:00 UTC));
    let sunday = datetime!(2024-03-10 0:00 UTC);
    use_up(&q, 3, sunday);
    assert!(q
        .try_consume(K, datetime!(2024-03-16 23:59:59 UTC))
        .is_err());
}

#[test]
fn monthly_limit_resets_on_the_first() {
    let q = quotas(2, QuotaPeriod::Month);
    let jan31 = datetime!(2023-01-31 23:59:59 UTC);
    use_up(&q, 2, jan31);
    assert!(q.try_consume(K, jan31).is_err());
    let feb1 = datetime!(2023-02-01 0:00 UTC);
    use_up(&q, 2, feb1);
    // 2023 is not a leap year: 28 Feb is the last day of February.
    let feb28 = datetime!(2023-02-28 23:59:59 UTC);
    assert!(q.try_consume(K, feb28).is_err());
    assert_eq!(
        q.remaining(K, feb28).unwrap().window.end,
        datetime!(2023-03-01 0:00 UTC)
    );
    use_up(&q, 2, datetime!(2023-03-01 0:00 UTC));
}

#[test]
fn leap_february_is_one_period_until_march() {
    let q = quotas(2, QuotaPeriod::Month);
    use_up(&q, 2, datetime!(2024-02-01 0:00 UTC));
    let feb29 = datetime!(2024-02-29 23:59:59 UTC);
    assert!(q.try_consume(K, feb29).is_err());
    let s = q.remaining(K, feb29).unwrap();
    assert_eq!(s.window.start, datetime!(2024-02-01 0:00 UTC));
    assert_eq!(s.window.end, datetime!(2024-03-01 0:00 UTC));
    use_up(&q, 2, datetime!(2024-03-01 0:00 UTC));
}

#[test]
fn quota_is_per_key() {
    let settings = Some(QuotaSettings {
        limit: 1,
        period: QuotaPeriod::Day,
        offset: 0,
        starts_at: None,
    });
    let q = Quotas::new(&[settings, settings]).unwrap();
    let now = datetime!(2024-07-04 12:00 UTC);
    assert_eq!(q.try_consume(PlanKeyIdx(0), now), Ok(()));
    assert!(q.try_consume(PlanKeyIdx(0), now).is_err());
    assert_eq!(q.try_consume(PlanKeyIdx(1), now), Ok(()));
}

#[test]
fn concurrent_consumption_admits_exactly_the_limit() {
    let limit = 10_000;
    let q = Arc::new(quotas(limit, QuotaPeriod::Day));
    let admitted = Arc::new(AtomicU32::new(0));
    let now = datetime!(2024-07-04 12:00 UTC);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let q = Arc::clone(&q);
            let admitted = Arc::clone(&admitted);
            std::thread::spawn(move || {
                for _ in 0..2 * limit / 8 {
                    if q.try_consume(K, now).is_ok() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(admitted.load(Ordering::Relaxed), limit);
    assert_eq!(q.remaining(K, now).unwrap().remaining, 0);
}

#[test]
fn concurrent_consumption_across_a_day_boundary() {
    // Threads straddle midnight; each day's count stays within the limit and
    // the later day is never credited with the earlier day's use.
    let limit = 1_000;
    let q = Arc::new(quotas(limit, QuotaPeriod::Day));
    let before = datetime!(2024-07-04 23:59:59 UTC);
    let after = datetime!(2024-07-05 0:00 UTC);
    let admitted_after = Arc::new(AtomicU32::new(0));
    use_up(&q, limit, before);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let q = Arc::clone(&q);
            let admitted_after = Arc::clone(&admitted_after);
            std::thread::spawn(move || {
                for _ in 0..limit / 4 {
                    if q.try_consume(K, after).is_ok() {
                        admitted_after.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(admitted_after.load(Ordering::Relaxed), limit);
    assert!(q.try_consume(K, before).is_err());
}
