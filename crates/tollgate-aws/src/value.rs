//! Parsing cell values: timestamps, exact decimals, tag maps.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;

/// Parses the timestamps AWS exports write, to Unix seconds (fractions dropped):
/// `2026-09-01T00:00:00Z`, `2026-09-01T00:00:00.000Z`, `2026-09-01 00:00:00[.fff]`,
/// `…+00:00`, and a bare date `2026-09-01` (midnight UTC). Offsets other than UTC are applied.
pub fn parse_timestamp(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a timestamp (expected e.g. 2026-09-01T00:00:00Z)");
    let b = s.trim().as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = b.get(r).ok_or_else(bad)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(part.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err(bad());
    }
    let mut secs = 0i64;
    let mut rest = &b[10..];
    if !rest.is_empty() {
        if rest[0] != b'T' && rest[0] != b' '
            || rest.len() < 9
            || rest[3] != b':'
            || rest[6] != b':'
        {
            return Err(bad());
        }
        let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if hh > 23 || mm > 59 || ss > 60 {
            return Err(bad());
        }
        secs = hh * 3600 + mm * 60 + ss;
        rest = &rest[9..];
        if let Some(frac) = rest.strip_prefix(b".") {
            let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return Err(bad());
            }
            rest = &frac[n..];
        }
        match rest {
            b"" | b"Z" | b"z" => {}
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
            | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
                let digits = [*h1, *h2, *m1, *m2];
                if !digits.iter().all(u8::is_ascii_digit) {
                    return Err(bad());
                }
                let v = |a: u8, b: u8| i64::from(a - b'0') * 10 + i64::from(b - b'0');
                let off = v(digits[0], digits[1]) * 3600 + v(digits[2], digits[3]) * 60;
                secs -= if *sign == b'+' { off } else { -off };
            }
            _ => return Err(bad()),
        }
    }
    Ok(days_from_civil(y, m, d) * 86_400 + secs)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (January is month 1).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    tollgate_types::time_fmt::days_from_civil(y, m, d)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub use tollgate_types::time_fmt::rfc3339 as format_timestamp;

/// Parses an exact decimal as AWS writes it (`0.0000035`, `-1.5`, `1.2E-7`).
pub fn parse_decimal(s: &str) -> Result<Decimal, String> {
    let t = s.trim();
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .map_err(|_| format!("`{s}` is not a number"))
}

/// A Parquet double as the decimal it was written from: its shortest round-trip form.
pub fn decimal_from_f64(v: f64, buf: &mut String) -> Result<Decimal, String> {
    use std::fmt::Write;
    if !v.is_finite() {
        return Err(format!("`{v}` is not a finite number"));
    }
    buf.clear();
    let _ = write!(buf, "{v}");
    Decimal::from_str(buf).map_err(|_| format!("`{v}` is out of range"))
}

/// The tag key tollgate uses: AWS's `user:` (CUR, FOCUS) or `user_` (CUR 2.0 and Athena)
/// prefix for user-defined cost-allocation tags is dropped; AWS-generated tags (`aws:…`)
/// keep theirs.
pub fn tag_key(raw: &str) -> &str {
    raw.strip_prefix("user:")
        .or_else(|| raw.strip_prefix("user_"))
        .unwrap_or(raw)
}

/// Adds the tags of a JSON object (`{"user_team":"payments"}`, as CUR 2.0 and FOCUS CSV write
/// their map columns) to `out`. Empty text or `null` means no tags; empty values are dropped.
pub fn parse_tag_json(s: &str, out: &mut BTreeMap<String, String>) -> Result<(), String> {
    let t = s.trim();
    if t.is_empty() || t == "null" || t == "{}" {
        return Ok(());
    }
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(t)
        .map_err(|e| format!("tags are not a JSON object of strings ({e})"))?;
    for (k, v) in map {
        let v = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => continue,
            other => other.to_string(),
        };
        if !v.is_empty() {
            out.insert(tag_key(&k).to_string(), v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let t = 1_788_220_800; // 2026-09-01T00:00:00Z
        assert_eq!(parse_timestamp("2026-09-01T00:00:00Z"), Ok(t));
        assert_eq!(parse_timestamp("2026-09-01T00:00:00.000Z"), Ok(t));
        assert_eq!(parse_timestamp("2026-09-01 00:00:00"), Ok(t));
        assert_eq!(parse_timestamp("2026-09-01 00:00:00.123"), Ok(t));
        assert_eq!(parse_timestamp("2026-09-01T02:00:00+02:00"), Ok(t));
        assert_eq!(parse_timestamp("2026-09-01"), Ok(t));
        assert_eq!(format_timestamp(t), "2026-09-01T00:00:00Z");
        assert_eq!(format_timestamp(t + 3_661), "2026-09-01T01:01:01Z");
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-02-30",
            "yesterday",
            "2026-09-01T25:00:00Z",
            "2026-09-01T00:00:00Q",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimals() {
        assert_eq!(
            parse_decimal("0.0000035").map(|d| d.to_string()),
            Ok("0.0000035".into())
        );
        assert_eq!(
            parse_decimal("1.2E-7").map(|d| d.normalize().to_string()),
            Ok("0.00000012".into())
        );
        assert!(parse_decimal("abc").is_err());
        let mut buf = String::new();
        assert_eq!(
            decimal_from_f64(0.1, &mut buf).map(|d| d.to_string()),
            Ok("0.1".into())
        );
        assert_eq!(
            decimal_from_f64(1e-7, &mut buf).map(|d| d.to_string()),
            Ok("0.0000001".into())
        );
        assert!(decimal_from_f64(f64::NAN, &mut buf).is_err());
    }

    #[test]
    fn tags() {
        let mut m = BTreeMap::new();
        parse_tag_json(
            r#"{"user_team":"payments","user:env":"prod","aws:createdBy":"x","user_x":""}"#,
            &mut m,
        )
        .unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m["team"], "payments");
        assert_eq!(m["env"], "prod");
        assert!(parse_tag_json("[1]", &mut m).is_err());
    }
}
