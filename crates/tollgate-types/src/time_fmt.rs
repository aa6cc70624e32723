//! The timestamp formats API Gateway puts in events and access logs.

use time::macros::format_description;
use time::OffsetDateTime;

/// `$context.requestTime`: CLF format, `12/Mar/2020:19:03:58 +0000`.
pub fn clf(t: OffsetDateTime) -> String {
    let fmt = format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

/// Reads a CLF time (`22/Nov/2026:06:01:02 +0100`, as `$context.requestTime` writes it, with
/// any offset) back; `None` for anything else.
pub fn parse_clf(s: &str) -> Option<OffsetDateTime> {
    let fmt = format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] \
         [offset_hour sign:mandatory][offset_minute]"
    );
    OffsetDateTime::parse(s.trim(), &fmt).ok()
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC); the number itself if out of range.
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

/// Days since 1970-01-01 of a proleptic Gregorian date, January being month 1 (H. Hinnant's
/// `days_from_civil`; out-of-range months and days carry over, as the arithmetic does). Kept
/// by hand rather than through `time::Date` because it is total: readers call it per row on
/// values they have only range-checked loosely.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Milliseconds since the Unix epoch (`$context.requestTimeEpoch`, `timeEpoch`).
pub fn epoch_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_matches_aws_example() {
        // aws-facts.md §3.3: "time":"12/Mar/2020:19:03:58 +0000"
        let t = OffsetDateTime::from_unix_timestamp(1584039838).expect("valid");
        assert_eq!(clf(t), "12/Mar/2020:19:03:58 +0000");
        assert_eq!(epoch_millis(t), 1_584_039_838_000);
        assert_eq!(parse_clf(&clf(t)), Some(t));
        assert_eq!(rfc3339(1_584_039_838), "2020-03-12T19:03:58Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 9, 1) * 86_400, 1_788_220_800);
    }
}
