//! Claim checks in AWS's order, and claims rendered the way AWS hands them to integrations.
//!
//! AWS checks (http-api-jwt-authorizer.md): `iss` equals the issuer; `aud` — or `client_id`
//! when there is no `aud` (http-api-troubleshooting-jwt.md) — names a configured audience;
//! `exp` is after now; `nbf` and `iat` are before now; `scope` or `scp` holds one of the
//! route's scopes. These run only after the signature has been verified.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Map, Value};

use super::error::JwtError;

/// Checks `iss`, audience and the time claims. `now` is seconds since the Unix epoch.
pub(crate) fn check(
    claims: &Map<String, Value>,
    issuer: &str,
    audiences: &[String],
    now: f64,
    leeway: Duration,
) -> Result<(), JwtError> {
    match claims.get("iss") {
        Some(Value::String(iss)) if iss == issuer => {}
        _ => return Err(JwtError::InvalidIssuer),
    }
    check_audience(claims, audiences)?;

    let leeway = leeway.as_secs_f64();
    // AWS: "exp – Must be after the current time". A token without `exp` never expires,
    // which AWS's list of checks does not allow for, so it is refused.
    let exp = time_claim(claims, "exp")?.ok_or(JwtError::InvalidTimeClaim("exp"))?;
    if exp + leeway <= now {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = time_claim(claims, "nbf")? {
        if nbf > now + leeway {
            return Err(JwtError::NotYetValid);
        }
    }
    if let Some(iat) = time_claim(claims, "iat")? {
        if iat > now + leeway {
            return Err(JwtError::IssuedInFuture);
        }
    }
    Ok(())
}

/// `aud` when present (a string or an array of strings), else `client_id`.
///
/// AWS: "API Gateway validates `client_id` only if `aud` is not present. When both `aud` and
/// `client_id` are present, API Gateway evaluates `aud`."
fn check_audience(claims: &Map<String, Value>, audiences: &[String]) -> Result<(), JwtError> {
    let ok = |s: &str| audiences.iter().any(|a| a == s);
    let matched = match claims.get("aud") {
        Some(Value::String(aud)) => ok(aud),
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str().is_some_and(ok)),
        // Any other `aud` (null, number, object) is still an `aud`: no fallback to client_id.
        Some(_) => false,
        None => matches!(claims.get("client_id"), Some(Value::String(id)) if ok(id)),
    };
    if matched {
        Ok(())
    } else {
        Err(JwtError::InvalidAudience)
    }
}

/// A NumericDate claim: `Ok(None)` when absent, an error when present but not a number.
fn time_claim(claims: &Map<String, Value>, name: &'static str) -> Result<Option<f64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or(JwtError::InvalidTimeClaim(name)),
        Some(_) => Err(JwtError::InvalidTimeClaim(name)),
    }
}

/// The token's scopes: `scope` (space separated, RFC 6749 §3.3) or else `scp` (an array, as
/// Okta and Azure AD send it, or a space-separated string). `None` when the token has neither,
/// which AWS passes on as `"scopes": null`.
pub(crate) fn token_scopes(claims: &Map<String, Value>) -> Option<Vec<String>> {
    let split = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    match claims.get("scope") {
        Some(Value::String(s)) => return Some(split(s)),
        Some(Value::Array(a)) => return Some(strings(a)),
        _ => {}
    }
    match claims.get("scp") {
        Some(Value::String(s)) => Some(split(s)),
        Some(Value::Array(a)) => Some(strings(a)),
        _ => None,
    }
}

fn strings(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// The route's scopes against the token's: one in common is enough (AWS: "the token must
/// include at least one of the route's scopes"). A route without scopes accepts any token.
pub(crate) fn check_scopes(
    token_scopes: Option<&[String]>,
    route_scopes: &[String],
) -> Result<(), JwtError> {
    if route_scopes.is_empty() {
        return Ok(());
    }
    let held = token_scopes.unwrap_or(&[]);
    if route_scopes.iter().any(|r| held.iter().any(|t| t == r)) {
        Ok(())
    } else {
        Err(JwtError::InsufficientScope {
            required: route_scopes.to_vec(),
        })
    }
}

/// The claims as AWS passes them to integrations: every value a string.
///
/// AWS documents only string claims. For the rest this follows what HTTP APIs were observed to
/// send (secondary source): numbers as their JSON text (`"exp": "1785675600"`), booleans as
/// `true`/`false`, and arrays the way Go prints a slice, `[Admins Readers]` — not JSON. Objects
/// follow Go's map printing, `map[k:v]` with sorted keys, and `null` is `null`; both of those
/// are our guess.
pub(crate) fn render(claims: Map<String, Value>) -> Map<String, Value> {
    claims
        .into_iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s,
                other => {
                    let mut out = String::new();
                    render_value(&other, &mut out);
                    out
                }
            };
            (k, Value::String(s))
        })
        .collect()
}

fn render_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                render_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push_str("map[");
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                render_value(item, out);
            }
            out.push(']');
        }
    }
}
