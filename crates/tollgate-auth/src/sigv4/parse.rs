//! Reading the SigV4 `Authorization` header and the request date, with AWS's error texts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::error::SigV4Error;

/// The one algorithm SigV4 verification supports (SigV4a's `AWS4-ECDSA-P256-SHA256` is not).
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The parameters of an `Authorization: AWS4-HMAC-SHA256 …` header, borrowed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthorizationHeader<'a> {
    /// The first word: `AWS4-HMAC-SHA256` for a SigV4 request, anything for others.
    pub(crate) algorithm: &'a str,
    /// `Credential=KEYID/DATE/REGION/SERVICE/aws4_request`.
    pub(crate) credential: Option<&'a str>,
    /// `SignedHeaders=a;b;c`.
    pub(crate) signed_headers: Option<&'a str>,
    /// `Signature=hex`.
    pub(crate) signature: Option<&'a str>,
}

/// Splits the header into its algorithm and `key=value` parameters.
///
/// Like AWS, parameters are separated by commas and/or spaces, so
/// `Credential= AKID/…` fails on `'AKID/…' not a valid key=value pair`, which is the answer
/// AWS gives to a key pasted with a stray space (aws/aws-sdk-go#289). An empty value counts
/// as missing, as AWS's "requires 'X' parameter" answers show.
pub(crate) fn parse_authorization(value: &str) -> Result<AuthorizationHeader<'_>, SigV4Error> {
    let trimmed = value.trim();
    let (algorithm, rest) = trimmed
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((trimmed, ""));
    let mut header = AuthorizationHeader {
        algorithm,
        credential: None,
        signed_headers: None,
        signature: None,
    };
    for part in rest
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|p| !p.is_empty())
    {
        let Some((key, val)) = part.split_once('=') else {
            return Err(SigV4Error::IncompleteSignature(format!(
                "'{part}' not a valid key=value pair (missing equal-sign) in Authorization \
                 header: '{value}'."
            )));
        };
        let val = Some(val).filter(|v| !v.is_empty());
        match key {
            "Credential" => header.credential = val,
            "SignedHeaders" => header.signed_headers = val,
            "Signature" => header.signature = val,
            _ => {}
        }
    }
    Ok(header)
}

/// AWS's answer when parameters or the date header are missing: one sentence per missing
/// piece, then the header as received.
pub(crate) fn missing_parts_message(
    header: &AuthorizationHeader<'_>,
    has_date: bool,
    value: &str,
) -> String {
    let mut msg = String::new();
    for (name, present) in [
        ("Credential", header.credential.is_some()),
        ("Signature", header.signature.is_some()),
        ("SignedHeaders", header.signed_headers.is_some()),
    ] {
        if !present {
            msg.push_str("Authorization header requires '");
            msg.push_str(name);
            msg.push_str("' parameter. ");
        }
    }
    if !has_date {
        msg.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' \
             header. ",
        );
    }
    msg.push_str("Authorization=");
    msg.push_str(value);
    msg
}

/// The parts of `Credential=KEYID/DATE/REGION/SERVICE/TERMINATOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CredentialScope<'a> {
    pub(crate) access_key_id: &'a str,
    pub(crate) date: &'a str,
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
    pub(crate) terminator: &'a str,
}

/// Splits the credential into its five parts; trailing slashes are ignored, as AWS does.
pub(crate) fn parse_credential(credential: &str) -> Result<CredentialScope<'_>, SigV4Error> {
    let parts: Vec<&str> = credential.trim_end_matches('/').split('/').collect();
    match parts[..] {
        [access_key_id, date, region, service, terminator] => Ok(CredentialScope {
            access_key_id,
            date,
            region,
            service,
            terminator,
        }),
        _ => Err(SigV4Error::IncompleteSignature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got '{credential}'"
        ))),
    }
}

/// Parses the request date: `X-Amz-Date` must be ISO 8601 basic format
/// (`20150830T123600Z`); a `Date` header may also be an RFC 7231 / RFC 2822 date with
/// `GMT`, `UTC`, `Z`, `+0000` or `-0000` (botocore writes `-0000`).
pub(crate) fn parse_request_date(value: &str, is_amz_date: bool) -> Result<SystemTime, SigV4Error> {
    parse_iso_basic(value)
        .or_else(|| (!is_amz_date).then(|| parse_http_date(value)).flatten())
        .ok_or_else(|| {
            SigV4Error::IncompleteSignature(format!(
                "Date must be in ISO-8601 'basic format'. Got '{value}'. See \
                 http://en.wikipedia.org/wiki/ISO_8601"
            ))
        })
}

/// `YYYYMMDD'T'HHMMSS'Z'`, exactly.
fn parse_iso_basic(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[4..6])?;
    let day = digits(&s[6..8])?;
    let hour = digits(&s[9..11])?;
    let minute = digits(&s[11..13])?;
    let second = digits(&s[13..15])?;
    to_system_time(year, month, day, hour, minute, second)
}

/// `[Sun, ]30 Aug 2015 12:36:00 GMT` (IMF-fixdate and RFC 2822 with a UTC zone).
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let s = match s.split_once(',') {
        Some((_weekday, rest)) => rest.trim_start(),
        None => s,
    };
    let mut fields = s.split_ascii_whitespace();
    let day = digits(fields.next()?)?;
    let month = match fields.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year = digits(fields.next()?)?;
    let mut clock = fields.next()?.split(':');
    let hour = digits(clock.next()?)?;
    let minute = digits(clock.next()?)?;
    let second = digits(clock.next()?)?;
    if clock.next().is_some() {
        return None;
    }
    match fields.next()? {
        "GMT" | "UTC" | "UT" | "Z" | "+0000" | "-0000" => {}
        _ => return None,
    }
    if fields.next().is_some() || year < 1000 {
        return None;
    }
    to_system_time(year, month, day, hour, minute, second)
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn to_system_time(
    year: u64,
    month: u64,
    day: u64,
    hour: u64,
    minute: u64,
    second: u64,
) -> Option<SystemTime> {
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    if year < 1970 || day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm), for years
/// from 1970 on.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats a time as ISO 8601 basic format, `20150830T123600Z` (sub-seconds dropped; times
/// before 1970 print as the epoch).
pub(crate) fn format_iso_basic(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
