//! Workload files: a month of traffic described without traffic, for `tollgate cost estimate`.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use crate::meter::{http_units_per_request, kb_to_gb, websocket_units_per_message};
use crate::{CacheSize, PricingError};

/// A month of traffic. Every quantity is optional; sections left out cost nothing.
/// Unknown keys and negative numbers are errors naming the field. See docs/pricing.md.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// AWS region whose prices apply (default `us-east-1`).
    #[serde(default)]
    pub region: Option<String>,
    /// Apply the legacy 12-month free tier (default `false`).
    #[serde(default)]
    pub free_tier: bool,
    /// Days in the month, for per-minute and per-day rates (default 30, as AWS's examples).
    #[serde(default)]
    pub days: Option<Decimal>,
    /// HTTP API traffic.
    #[serde(default)]
    pub http: Option<HttpWorkload>,
    /// REST API traffic.
    #[serde(default)]
    pub rest: Option<RestWorkload>,
    /// WebSocket API traffic.
    #[serde(default)]
    pub websocket: Option<WebsocketWorkload>,
    /// A REST stage cache.
    #[serde(default)]
    pub cache: Option<CacheWorkload>,
    /// Data transferred out, in GB per month, on top of what `response_kb` fields derive.
    #[serde(default)]
    pub data_out_gb: Option<Decimal>,
}

/// HTTP API traffic: give `requests` (per month) or `requests_per_minute`, not both.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpWorkload {
    /// Requests per month.
    #[serde(default)]
    pub requests: Option<Decimal>,
    /// Average requests per minute, all month long.
    #[serde(default)]
    pub requests_per_minute: Option<Decimal>,
    /// Average request payload in KB (1 MB = 1024 KB); each request is
    /// `ceil(request_kb / 512)` units, at least 1. Default: 1 unit per request.
    #[serde(default)]
    pub request_kb: Option<Decimal>,
    /// Average response size in KB, counted as data transferred out.
    #[serde(default)]
    pub response_kb: Option<Decimal>,
}

/// REST API traffic: give `requests` (per month) or `requests_per_minute`, not both.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestWorkload {
    /// Requests per month.
    #[serde(default)]
    pub requests: Option<Decimal>,
    /// Average requests per minute, all month long.
    #[serde(default)]
    pub requests_per_minute: Option<Decimal>,
    /// Average response size in KB, counted as data transferred out.
    #[serde(default)]
    pub response_kb: Option<Decimal>,
}

/// WebSocket API traffic. Messages: `messages` (per month), `messages_per_minute`, or
/// `messages_per_connection_per_minute` (× connected minutes) — one of them. Connection
/// minutes: `connection_minutes` (per month) or `connections` × `connected_hours_per_day`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebsocketWorkload {
    /// Messages per month, both directions.
    #[serde(default)]
    pub messages: Option<Decimal>,
    /// Messages per minute (both directions), all month long.
    #[serde(default)]
    pub messages_per_minute: Option<Decimal>,
    /// Messages per connection per connected minute (both directions).
    #[serde(default)]
    pub messages_per_connection_per_minute: Option<Decimal>,
    /// Average message size in KB (max 128); each message is `ceil(message_kb / 32)` units,
    /// at least 1. Default: 1 unit per message.
    #[serde(default)]
    pub message_kb: Option<Decimal>,
    /// Connection minutes per month.
    #[serde(default)]
    pub connection_minutes: Option<Decimal>,
    /// Average number of simultaneously open connections (with `connected_hours_per_day`).
    #[serde(default)]
    pub connections: Option<Decimal>,
    /// Hours per day each of `connections` stays open (default 24 when `connections` is set).
    #[serde(default)]
    pub connected_hours_per_day: Option<Decimal>,
}

/// A provisioned REST stage cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheWorkload {
    /// Cache size in GB: 0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118 or 237.
    pub size_gb: Decimal,
    /// Hours provisioned (default: the whole month, `days` × 24). Fractions count.
    #[serde(default)]
    pub hours: Option<Decimal>,
}

/// Units per meter derived from a [`Workload`], before prices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Quantities {
    /// HTTP API units (requests × 512 KB increments), if an `http` section is present.
    pub http_requests: Option<Decimal>,
    /// REST API requests, if a `rest` section is present.
    pub rest_requests: Option<Decimal>,
    /// WebSocket message units (32 KB increments).
    pub websocket_messages: Option<Decimal>,
    /// WebSocket connection minutes.
    pub websocket_connection_minutes: Option<Decimal>,
    /// Cache size and hours.
    pub cache: Option<(CacheSize, Decimal)>,
    /// Data out in GB.
    pub data_transfer_out_gb: Option<Decimal>,
}

const DEFAULT_REGION: &str = "us-east-1";

fn check(field: &str, v: Option<Decimal>) -> Result<Option<Decimal>, PricingError> {
    match v {
        Some(d) if d.is_sign_negative() && !d.is_zero() => Err(PricingError::Negative {
            field: field.into(),
            value: d.normalize().to_string(),
        }),
        other => Ok(other),
    }
}

fn mul(field: &str, a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_mul(b)
        .ok_or_else(|| PricingError::Overflow(format!("`{field}`")))
}

/// Exactly one of the named alternatives may be given.
fn one_of(alternatives: &[(&str, Option<Decimal>)]) -> Result<(), PricingError> {
    let given: Vec<_> = alternatives
        .iter()
        .filter_map(|(f, v)| v.map(|v| (*f, v)))
        .collect();
    if given.len() > 1 {
        return Err(PricingError::InvalidField {
            field: given[1].0.into(),
            message: format!(
                "give only one of {}",
                alternatives
                    .iter()
                    .map(|(f, _)| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Ok(())
}

impl Workload {
    /// Parses a YAML workload file. Unknown keys and wrong types are errors with the file
    /// position; quantities are then checked with [`Workload::quantities`].
    pub fn from_yaml_str(yaml: &str) -> Result<Self, PricingError> {
        let w: Workload =
            serde_saphyr::from_str(yaml).map_err(|e| PricingError::Workload(e.to_string()))?;
        w.quantities()?;
        Ok(w)
    }

    /// The region (default `us-east-1`).
    pub fn region(&self) -> &str {
        self.region.as_deref().unwrap_or(DEFAULT_REGION)
    }

    /// Days in the month (default 30).
    pub fn days(&self) -> Decimal {
        self.days.unwrap_or(dec!(30))
    }

    /// Validates the workload and derives the units of every meter.
    pub fn quantities(&self) -> Result<Quantities, PricingError> {
        let days = check("days", self.days)?.unwrap_or(dec!(30));
        let minutes = mul("days", days, dec!(1440))?;
        let mut q = Quantities::default();
        let mut response_kb_total = Decimal::ZERO;

        if let Some(h) = &self.http {
            let requests = check("http.requests", h.requests)?;
            let per_min = check("http.requests_per_minute", h.requests_per_minute)?;
            let size = check("http.request_kb", h.request_kb)?;
            let resp = check("http.response_kb", h.response_kb)?;
            one_of(&[
                ("http.requests", requests),
                ("http.requests_per_minute", per_min),
            ])?;
            let count = match (requests, per_min) {
                (Some(r), _) => r,
                (None, Some(p)) => mul("http.requests_per_minute", p, minutes)?,
                (None, None) => Decimal::ZERO,
            };
            let per_request = size.map_or(Decimal::ONE, http_units_per_request);
            q.http_requests = Some(mul("http.request_kb", count, per_request)?);
            if let Some(kb) = resp {
                response_kb_total += mul("http.response_kb", count, kb)?;
            }
        }

        if let Some(r) = &self.rest {
            let requests = check("rest.requests", r.requests)?;
            let per_min = check("rest.requests_per_minute", r.requests_per_minute)?;
            let resp = check("rest.response_kb", r.response_kb)?;
            one_of(&[
                ("rest.requests", requests),
                ("rest.requests_per_minute", per_min),
            ])?;
            let count = match (requests, per_min) {
                (Some(r), _) => r,
                (None, Some(p)) => mul("rest.requests_per_minute", p, minutes)?,
                (None, None) => Decimal::ZERO,
            };
            q.rest_requests = Some(count);
            if let Some(kb) = resp {
                response_kb_total += mul("rest.response_kb", count, kb)?;
            }
        }

        if let Some(w) = &self.websocket {
            let messages = check("websocket.messages", w.messages)?;
            let per_min = check("websocket.messages_per_minute", w.messages_per_minute)?;
            let per_conn = check(
                "websocket.messages_per_connection_per_minute",
                w.messages_per_connection_per_minute,
            )?;
            let size = check("websocket.message_kb", w.message_kb)?;
            let conn_minutes = check("websocket.connection_minutes", w.connection_minutes)?;
            let connections = check("websocket.connections", w.connections)?;
            let hours = check(
                "websocket.connected_hours_per_day",
                w.connected_hours_per_day,
            )?;
            if let Some(kb) = size {
                if kb > dec!(128) {
                    return Err(PricingError::InvalidField {
                        field: "websocket.message_kb".into(),
                        message: format!("WebSocket messages are at most 128 KB (got {kb})"),
                    });
                }
            }
            if let Some(h) = hours {
                if h > dec!(24) {
                    return Err(PricingError::InvalidField {
                        field: "websocket.connected_hours_per_day".into(),
                        message: format!("a day has 24 hours (got {h})"),
                    });
                }
                if connections.is_none() {
                    return Err(PricingError::InvalidField {
                        field: "websocket.connected_hours_per_day".into(),
                        message: "needs `websocket.connections`".into(),
                    });
                }
            }
            one_of(&[
                ("websocket.connection_minutes", conn_minutes),
                ("websocket.connections", connections),
            ])?;
            let connected = match (conn_minutes, connections) {
                (Some(m), _) => m,
                (None, Some(c)) => {
                    let per_day = mul(
                        "websocket.connected_hours_per_day",
                        hours.unwrap_or(dec!(24)),
                        dec!(60),
                    )?;
                    mul("websocket.connections", mul("days", c, per_day)?, days)?
                }
                (None, None) => Decimal::ZERO,
            };
            one_of(&[
                ("websocket.messages", messages),
                ("websocket.messages_per_minute", per_min),
                ("websocket.messages_per_connection_per_minute", per_conn),
            ])?;
            let count = match (messages, per_min, per_conn) {
                (Some(m), _, _) => m,
                (None, Some(p), _) => mul("websocket.messages_per_minute", p, minutes)?,
                (None, None, Some(p)) => {
                    if connected.is_zero() {
                        return Err(PricingError::InvalidField {
                            field: "websocket.messages_per_connection_per_minute".into(),
                            message:
                                "needs `websocket.connection_minutes` or `websocket.connections`"
                                    .into(),
                        });
                    }
                    mul("websocket.messages_per_connection_per_minute", p, connected)?
                }
                (None, None, None) => Decimal::ZERO,
            };
            let per_message = size.map_or(Decimal::ONE, websocket_units_per_message);
            q.websocket_messages = Some(mul("websocket.message_kb", count, per_message)?);
            q.websocket_connection_minutes = Some(connected);
        }

        if let Some(c) = &self.cache {
            check("cache.size_gb", Some(c.size_gb))?;
            let size = CacheSize::from_gb(c.size_gb).map_err(|e| PricingError::InvalidField {
                field: "cache.size_gb".into(),
                message: e.to_string(),
            })?;
            let hours = match check("cache.hours", c.hours)? {
                Some(h) => h,
                None => mul("days", days, dec!(24))?,
            };
            q.cache = Some((size, hours));
        }

        let explicit = check("data_out_gb", self.data_out_gb)?;
        if explicit.is_some() || !response_kb_total.is_zero() {
            q.data_transfer_out_gb =
                Some(explicit.unwrap_or_default() + kb_to_gb(response_kb_total));
        }
        Ok(q)
    }
}
