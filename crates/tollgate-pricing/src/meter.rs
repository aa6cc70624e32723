//! Meters, cache sizes, unit increments and money display.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use crate::PricingError;

/// A billable quantity. The snake_case names are stable: they appear in JSON, CSV and the
/// ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Meter {
    /// HTTP API requests, one unit per started 512 KB of request payload (minimum 1).
    HttpRequests,
    /// REST API requests, one unit per request.
    RestRequests,
    /// WebSocket messages, both directions, one unit per started 32 KB (minimum 1).
    WebsocketMessages,
    /// WebSocket connection minutes.
    WebsocketConnectionMinutes,
    /// REST stage cache hours, priced per cache size ([`CacheSize`]); fractional hours count.
    CacheHours,
    /// Data transferred out to the Internet, in GB (1 GB = 1024³ bytes = 1024² KB).
    DataTransferOutGb,
}

impl Meter {
    /// Every meter, in the order lines are shown.
    pub const ALL: [Meter; 6] = [
        Meter::HttpRequests,
        Meter::RestRequests,
        Meter::WebsocketMessages,
        Meter::WebsocketConnectionMinutes,
        Meter::CacheHours,
        Meter::DataTransferOutGb,
    ];

    /// The stable snake_case name, e.g. `http_requests`.
    pub fn as_str(self) -> &'static str {
        match self {
            Meter::HttpRequests => "http_requests",
            Meter::RestRequests => "rest_requests",
            Meter::WebsocketMessages => "websocket_messages",
            Meter::WebsocketConnectionMinutes => "websocket_connection_minutes",
            Meter::CacheHours => "cache_hours",
            Meter::DataTransferOutGb => "data_transfer_out_gb",
        }
    }

    /// Decimals shown for this meter's costs: 3 for `cache_hours` (AWS quotes cache at
    /// $0.038/h and $0.912/day), 2 (cents) otherwise. See [`display_cost`].
    pub fn display_decimals(self) -> u32 {
        match self {
            Meter::CacheHours => 3,
            _ => 2,
        }
    }

    /// The legacy 12-month free-tier allowance per calendar month (aws-facts §1.6, PRC):
    /// 1 M HTTP API calls, 1 M REST API calls, 1 M WebSocket messages and 750,000
    /// connection minutes. Cache is not eligible; no data-transfer allowance is applied
    /// (AWS's aggregate DTO allowance is unconfirmed and spans all services).
    pub fn free_tier_allowance(self) -> Decimal {
        match self {
            Meter::HttpRequests | Meter::RestRequests | Meter::WebsocketMessages => {
                dec!(1_000_000)
            }
            Meter::WebsocketConnectionMinutes => dec!(750_000),
            Meter::CacheHours | Meter::DataTransferOutGb => Decimal::ZERO,
        }
    }
}

impl fmt::Display for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Meter {
    type Err = PricingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Meter::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| PricingError::InvalidField {
                field: "meter".into(),
                message: format!(
                    "unknown meter `{s}`; known: {}",
                    Meter::ALL.map(Meter::as_str).join(", ")
                ),
            })
    }
}

/// A REST stage cache size (`cacheClusterSize`), in GB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CacheSize {
    /// 0.5 GB
    Gb0_5,
    /// 1.6 GB
    Gb1_6,
    /// 6.1 GB
    Gb6_1,
    /// 13.5 GB
    Gb13_5,
    /// 28.4 GB
    Gb28_4,
    /// 58.2 GB
    Gb58_2,
    /// 118 GB
    Gb118,
    /// 237 GB
    Gb237,
}

impl CacheSize {
    /// Every size, smallest first.
    pub const ALL: [CacheSize; 8] = [
        CacheSize::Gb0_5,
        CacheSize::Gb1_6,
        CacheSize::Gb6_1,
        CacheSize::Gb13_5,
        CacheSize::Gb28_4,
        CacheSize::Gb58_2,
        CacheSize::Gb118,
        CacheSize::Gb237,
    ];

    /// The size as AWS writes it (`"0.5"`, `"1.6"`, …, `"237"`).
    pub fn as_str(self) -> &'static str {
        match self {
            CacheSize::Gb0_5 => "0.5",
            CacheSize::Gb1_6 => "1.6",
            CacheSize::Gb6_1 => "6.1",
            CacheSize::Gb13_5 => "13.5",
            CacheSize::Gb28_4 => "28.4",
            CacheSize::Gb58_2 => "58.2",
            CacheSize::Gb118 => "118",
            CacheSize::Gb237 => "237",
        }
    }

    /// The size in GB.
    pub fn gb(self) -> Decimal {
        // The strings above are valid decimals by construction.
        Decimal::from_str(self.as_str()).unwrap_or_default()
    }

    /// The cache size for a number of GB; only the eight sizes AWS offers are accepted.
    pub fn from_gb(gb: Decimal) -> Result<Self, PricingError> {
        CacheSize::ALL
            .into_iter()
            .find(|s| s.gb() == gb)
            .ok_or_else(|| PricingError::InvalidCacheSize(gb.normalize().to_string()))
    }
}

impl fmt::Display for CacheSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CacheSize {
    type Err = PricingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let gb = Decimal::from_str(s.trim().trim_end_matches("GB").trim_end_matches("Gb"))
            .map_err(|_| PricingError::InvalidCacheSize(s.to_string()))?;
        CacheSize::from_gb(gb)
    }
}

/// HTTP API units for one request of `request_kb` kilobytes: one per started 512 KB,
/// minimum 1 (aws-facts §1.2: "a request with 513 KB of data is metered as two requests").
pub fn http_units_per_request(request_kb: Decimal) -> Decimal {
    increments(request_kb, dec!(512))
}

/// WebSocket units for one message of `message_kb` kilobytes: one per started 32 KB,
/// minimum 1 (aws-facts §1.2: "a 33 KB message is metered as two messages").
pub fn websocket_units_per_message(message_kb: Decimal) -> Decimal {
    increments(message_kb, dec!(32))
}

fn increments(size: Decimal, step: Decimal) -> Decimal {
    if size <= Decimal::ZERO {
        return Decimal::ONE;
    }
    (size / step).ceil().max(Decimal::ONE)
}

/// Kilobytes to GB the way AWS's examples convert (binary: ÷ 1024², aws-facts §1.4).
pub fn kb_to_gb(kb: Decimal) -> Decimal {
    kb / dec!(1_048_576)
}

/// Rounds money for display: half away from zero to `dp` decimals, always showing `dp`
/// decimals (`418.8` → `"418.80"`). Values keep full precision everywhere else.
pub fn display_money(amount: Decimal, dp: u32) -> String {
    let mut r = amount.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(dp);
    r.to_string()
}

/// Rounds a cost for display to at most `max_dp` decimals (half away from zero), dropping
/// trailing zeros but always keeping cents: `0.912` → `"0.912"`, `14.6` → `"14.60"`,
/// `1.2875` with `max_dp = 2` → `"1.29"`.
pub fn display_cost(amount: Decimal, max_dp: u32) -> String {
    let mut r = amount
        .round_dp_with_strategy(max_dp, RoundingStrategy::MidpointAwayFromZero)
        .normalize();
    if r.scale() < 2 {
        r.rescale(2);
    }
    r.to_string()
}

/// A decimal as its shortest exact string (`"432000000"`, `"14.30511474609375"`).
pub fn display_exact(value: Decimal) -> String {
    value.normalize().to_string()
}
