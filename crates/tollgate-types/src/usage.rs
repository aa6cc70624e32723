//! Usage records: what the meter counts and the ledger keeps (DESIGN.md §4).
//!
//! A record is one (bucket, dimensions, meter) cell with integer quantities in the meter's base
//! unit. Base units are integers so that adding records is exact and order-free; reports
//! convert them to billing units (`websocket_connection_ms` → minutes, `data_out_bytes` → GB,
//! `cache_ms` → hours) only when pricing.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The API's tags, in key order (so equal tag sets compare and hash equal).
pub type Tags = BTreeMap<String, String>;

/// What a ledger row counts, in integer base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UsageMeter {
    /// HTTP API request units: one per started 512 KB of request payload, minimum 1.
    HttpRequests,
    /// REST API requests: one per request.
    RestRequests,
    /// WebSocket messages, both directions: one per started 32 KB, minimum 1.
    WebsocketMessages,
    /// WebSocket connection time in milliseconds (priced per minute).
    WebsocketConnectionMs,
    /// Stage cache provisioned time in milliseconds (priced per hour), for one cache size given
    /// in hundredths of a GB (0.5 GB = 50, 237 GB = 23700).
    CacheMs { centi_gb: u32 },
    /// Bytes sent to clients (status line, headers and body, after compression).
    DataOutBytes,
    // --- Informational meters: never priced, kept for cost advice (docs/metering.md). ---
    /// Requests that repeat, within the retry window, a request from the same client to the
    /// same route that was answered 5xx or 429.
    Retries,
    /// Response body bytes sent without `Content-Encoding` in responses of at least 1 KB.
    UncompressedBytes,
    /// WebSocket messages (not units), either direction, whose size is at most `le_kb` KB
    /// and above the next smaller bucket bound ([`MESSAGE_SIZE_BUCKETS_KB`]).
    MessageSize { le_kb: u16 },
    /// WebSocket idle time beyond `minutes`, in milliseconds: for every stretch of g
    /// milliseconds without a message, `max(0, g - minutes)`; what an idle timeout of
    /// `minutes` would have cut.
    WebsocketIdleMs { minutes: u16 },
}

/// Upper bounds (KB) of the WebSocket message-size buckets: 32 and 40 bracket the messages
/// "just over" a 32 KB unit.
pub const MESSAGE_SIZE_BUCKETS_KB: [u16; 7] = [1, 4, 16, 32, 40, 64, 128];

/// The idle-timeout thresholds (minutes) metered by [`UsageMeter::WebsocketIdleMs`].
pub const IDLE_THRESHOLDS_MINUTES: [u16; 3] = [1, 5, 10];

impl UsageMeter {
    /// True for the meters AWS bills; false for the informational ones.
    pub fn is_priced(&self) -> bool {
        !matches!(
            self,
            UsageMeter::Retries
                | UsageMeter::UncompressedBytes
                | UsageMeter::MessageSize { .. }
                | UsageMeter::WebsocketIdleMs { .. }
        )
    }

    /// The message-size bucket of a message of `bytes` bytes.
    pub fn message_size(bytes: u64) -> UsageMeter {
        let kb = bytes.div_ceil(1024);
        let le_kb = MESSAGE_SIZE_BUCKETS_KB
            .iter()
            .copied()
            .find(|b| u64::from(*b) >= kb)
            .unwrap_or(MESSAGE_SIZE_BUCKETS_KB[MESSAGE_SIZE_BUCKETS_KB.len() - 1]);
        UsageMeter::MessageSize { le_kb }
    }

    /// The stable name used in the ledger (`cache_ms:<GB>` for the cache meter, e.g.
    /// `cache_ms:0.5`).
    pub fn name(&self) -> std::borrow::Cow<'static, str> {
        use std::borrow::Cow;
        match self {
            UsageMeter::HttpRequests => Cow::Borrowed("http_requests"),
            UsageMeter::RestRequests => Cow::Borrowed("rest_requests"),
            UsageMeter::WebsocketMessages => Cow::Borrowed("websocket_messages"),
            UsageMeter::WebsocketConnectionMs => Cow::Borrowed("websocket_connection_ms"),
            UsageMeter::DataOutBytes => Cow::Borrowed("data_out_bytes"),
            UsageMeter::Retries => Cow::Borrowed("retries"),
            UsageMeter::UncompressedBytes => Cow::Borrowed("uncompressed_bytes"),
            UsageMeter::MessageSize { le_kb } => Cow::Owned(format!("message_size_le_kb:{le_kb}")),
            UsageMeter::WebsocketIdleMs { minutes } => {
                Cow::Owned(format!("websocket_idle_ms_over:{minutes}"))
            }
            UsageMeter::CacheMs { centi_gb } => {
                let whole = centi_gb / 100;
                let frac = centi_gb % 100;
                Cow::Owned(match frac {
                    0 => format!("cache_ms:{whole}"),
                    f if f % 10 == 0 => format!("cache_ms:{whole}.{}", f / 10),
                    f => format!("cache_ms:{whole}.{f:02}"),
                })
            }
        }
    }
}

impl fmt::Display for UsageMeter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A string that names no [`UsageMeter`] or [`Reason`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName(pub String);

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown name `{}`", self.0)
    }
}

impl std::error::Error for UnknownName {}

impl FromStr for UsageMeter {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "http_requests" => UsageMeter::HttpRequests,
            "rest_requests" => UsageMeter::RestRequests,
            "websocket_messages" => UsageMeter::WebsocketMessages,
            "websocket_connection_ms" => UsageMeter::WebsocketConnectionMs,
            "data_out_bytes" => UsageMeter::DataOutBytes,
            "retries" => UsageMeter::Retries,
            "uncompressed_bytes" => UsageMeter::UncompressedBytes,
            other if other.starts_with("message_size_le_kb:") => {
                let kb = &other["message_size_le_kb:".len()..];
                match kb.parse::<u16>() {
                    Ok(le_kb) if MESSAGE_SIZE_BUCKETS_KB.contains(&le_kb) => {
                        UsageMeter::MessageSize { le_kb }
                    }
                    _ => return Err(UnknownName(s.to_owned())),
                }
            }
            other if other.starts_with("websocket_idle_ms_over:") => {
                let m = &other["websocket_idle_ms_over:".len()..];
                match m.parse::<u16>() {
                    Ok(minutes) if IDLE_THRESHOLDS_MINUTES.contains(&minutes) => {
                        UsageMeter::WebsocketIdleMs { minutes }
                    }
                    _ => return Err(UnknownName(s.to_owned())),
                }
            }
            other => {
                let gb = other
                    .strip_prefix("cache_ms:")
                    .ok_or_else(|| UnknownName(s.to_owned()))?;
                let (whole, frac) = gb.split_once('.').unwrap_or((gb, ""));
                let whole: u32 = whole.parse().map_err(|_| UnknownName(s.to_owned()))?;
                let frac: u32 = match frac.len() {
                    0 => 0,
                    1 => frac.parse::<u32>().map_err(|_| UnknownName(s.to_owned()))? * 10,
                    2 => frac.parse().map_err(|_| UnknownName(s.to_owned()))?,
                    _ => return Err(UnknownName(s.to_owned())),
                };
                let centi_gb = whole
                    .checked_mul(100)
                    .and_then(|w| w.checked_add(frac))
                    .ok_or_else(|| UnknownName(s.to_owned()))?;
                UsageMeter::CacheMs { centi_gb }
            }
        })
    }
}

/// Why a unit was metered the way it was. Every record keeps its reason, so a report can show
/// what rejected traffic would have cost. Whether a reason is billable is decided by the
/// meter's billing policy (fixed for the reasons AWS documents, a setting for the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Reason {
    /// The request reached its integration (HTTP, Lambda-style), whatever the backend answered.
    /// Always billable (aws-facts.md §1.8).
    Integration = 0,
    /// A mock integration answered. Always billable (it is an API call received).
    Mock,
    /// No route matched (HTTP API 404). AWS's rule is unknown: a setting.
    UnmatchedRoute,
    /// An automatic CORS preflight answer. AWS's rule is unknown: a setting.
    CorsPreflight,
    /// The request was malformed or over a limit (413, 431, 408, 400). Unknown: a setting.
    Malformed,
    /// The request failed request validation. Unknown: a setting.
    ValidationFailed,
    /// Served from the stage cache. Unknown: a setting.
    CacheHit,
    /// The client went away before the answer was sent. Billable when the integration had
    /// been called; otherwise follows the setting for malformed requests.
    ClientClosed,
    /// Rejected by an authorizer or authentication. Never billable (aws-facts.md §1.8).
    AuthFailed,
    /// API key missing or invalid. Never billable.
    MissingKey,
    /// Throttled (account, stage, route or usage plan rate). Never billable.
    Throttled,
    /// Over a usage plan quota. Never billable.
    QuotaExceeded,
    /// Refused because a dollar budget was spent (`on_limit: block` or `throttle`). Never
    /// billable: AWS would have billed it, but tollgate stopped it before the backend.
    BudgetExceeded,
    /// The request named no API served here (unknown host). Never billable: AWS would not
    /// have received it.
    NoApi,
    /// WebSocket messages and connection time of an open connection.
    Websocket,
    /// WebSocket `$connect`/`$disconnect` events and control frames. Unknown: a setting.
    WebsocketControl,
    /// Stage cache provisioned time.
    CacheProvisioned,
}

impl Reason {
    pub const ALL: [Reason; 17] = [
        Reason::Integration,
        Reason::Mock,
        Reason::UnmatchedRoute,
        Reason::CorsPreflight,
        Reason::Malformed,
        Reason::ValidationFailed,
        Reason::CacheHit,
        Reason::ClientClosed,
        Reason::AuthFailed,
        Reason::MissingKey,
        Reason::Throttled,
        Reason::QuotaExceeded,
        Reason::BudgetExceeded,
        Reason::NoApi,
        Reason::Websocket,
        Reason::WebsocketControl,
        Reason::CacheProvisioned,
    ];

    /// The stable snake_case name kept in the ledger and shown in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Integration => "integration",
            Reason::Mock => "mock",
            Reason::UnmatchedRoute => "unmatched_route",
            Reason::CorsPreflight => "cors_preflight",
            Reason::Malformed => "malformed",
            Reason::ValidationFailed => "validation_failed",
            Reason::CacheHit => "cache_hit",
            Reason::ClientClosed => "client_closed",
            Reason::AuthFailed => "auth_failed",
            Reason::MissingKey => "missing_key",
            Reason::Throttled => "throttled",
            Reason::QuotaExceeded => "quota_exceeded",
            Reason::BudgetExceeded => "budget_exceeded",
            Reason::NoApi => "no_api",
            Reason::Websocket => "websocket",
            Reason::WebsocketControl => "websocket_control",
            Reason::CacheProvisioned => "cache_provisioned",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Reason {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// The dimensions of one ledger cell.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UsageKey {
    /// Start of the bucket, in seconds since the Unix epoch (a whole minute, or a whole hour
    /// once rolled up).
    pub bucket: i64,
    /// The AWS region whose prices apply (`metering.region`).
    pub region: String,
    /// The API id (empty for requests that reached no API).
    pub api: String,
    /// The stage name (`$default` for the default stage; empty when none was resolved).
    pub stage: String,
    /// The route key (`GET /pets/{id}`, `$default`; empty when no route matched).
    pub route: String,
    /// The API key id (empty when none).
    pub api_key: String,
    /// The client: source IP or authorizer principal (empty when none).
    pub client: String,
    /// The response status class: 1 to 5 for 1xx to 5xx, 0 when not applicable.
    pub status_class: u8,
    pub billable: bool,
    pub reason: Reason,
    pub meter: UsageMeter,
    /// The API's tags when the usage happened.
    pub tags: Tags,
}

/// Quantities of one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UsageCounts {
    /// In the meter's base unit.
    pub units: u64,
    /// Events that produced them (requests, messages, connections).
    pub events: u64,
}

impl UsageCounts {
    pub fn add(&mut self, other: UsageCounts) {
        self.units = self.units.saturating_add(other.units);
        self.events = self.events.saturating_add(other.events);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    pub key: UsageKey,
    pub counts: UsageCounts,
}

/// Records written together. `id` is unique per batch (writer id and sequence number) so a
/// ledger can apply a batch exactly once, even when it is replayed after a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageBatch {
    pub id: String,
    pub records: Vec<UsageRecord>,
}

/// A dimension a usage query groups by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dimension {
    Api,
    Stage,
    Route,
    Key,
    Client,
    /// The status class, shown as `2xx`, `4xx`… (`-` for 0).
    Status,
    Reason,
    Region,
    /// The value of one tag (empty when the API had no such tag).
    Tag(String),
}

impl Dimension {
    /// The name used on the command line and as a column or JSON field (`tag:team`).
    pub fn name(&self) -> String {
        match self {
            Dimension::Api => "api".into(),
            Dimension::Stage => "stage".into(),
            Dimension::Route => "route".into(),
            Dimension::Key => "key".into(),
            Dimension::Client => "client".into(),
            Dimension::Status => "status".into(),
            Dimension::Reason => "reason".into(),
            Dimension::Region => "region".into(),
            Dimension::Tag(t) => format!("tag:{t}"),
        }
    }

    /// Parse a comma-separated `--by` list (`api,route,tag:team`).
    pub fn parse_list(list: &str) -> Result<Vec<Dimension>, UnknownName> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect()
    }
}

impl FromStr for Dimension {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "api" => Dimension::Api,
            "stage" => Dimension::Stage,
            "route" => Dimension::Route,
            "key" => Dimension::Key,
            "client" => Dimension::Client,
            "status" => Dimension::Status,
            "reason" => Dimension::Reason,
            "region" => Dimension::Region,
            other => match other.strip_prefix("tag:") {
                Some(t) if !t.is_empty() => Dimension::Tag(t.to_owned()),
                _ => return Err(UnknownName(s.to_owned())),
            },
        })
    }
}

/// Format a status class for reports: `2xx`, or `-` for 0.
pub fn status_class_label(class: u8) -> String {
    if class == 0 {
        "-".into()
    } else {
        format!("{class}xx")
    }
}

/// A usage query: the period `[from, to)` in Unix seconds, and the dimensions to group by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    pub from: i64,
    pub to: i64,
    pub group_by: Vec<Dimension>,
}

/// One aggregated row of a usage query. Rows are always split by calendar month (UTC), region,
/// meter and billable flag besides the requested dimensions, because that is what pricing
/// needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// The calendar month, `YYYY-MM` (UTC).
    pub month: String,
    pub region: String,
    pub meter: UsageMeter,
    pub billable: bool,
    /// Values of the query's `group_by` dimensions, in the same order (status as `2xx`/`-`).
    pub group: Vec<String>,
    pub counts: UsageCounts,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_names_round_trip() {
        for m in [
            UsageMeter::HttpRequests,
            UsageMeter::RestRequests,
            UsageMeter::WebsocketMessages,
            UsageMeter::WebsocketConnectionMs,
            UsageMeter::DataOutBytes,
            UsageMeter::CacheMs { centi_gb: 50 },
            UsageMeter::CacheMs { centi_gb: 160 },
            UsageMeter::CacheMs { centi_gb: 1350 },
            UsageMeter::CacheMs { centi_gb: 23700 },
            UsageMeter::CacheMs { centi_gb: 105 },
            UsageMeter::Retries,
            UsageMeter::UncompressedBytes,
            UsageMeter::MessageSize { le_kb: 40 },
            UsageMeter::WebsocketIdleMs { minutes: 5 },
        ] {
            assert_eq!(m.name().parse::<UsageMeter>(), Ok(m), "{m}");
        }
        assert_eq!(UsageMeter::CacheMs { centi_gb: 50 }.name(), "cache_ms:0.5");
        assert_eq!(
            UsageMeter::CacheMs { centi_gb: 23700 }.name(),
            "cache_ms:237"
        );
        assert!("cache_ms:x".parse::<UsageMeter>().is_err());
        assert!("bytes".parse::<UsageMeter>().is_err());
        assert!("message_size_le_kb:3".parse::<UsageMeter>().is_err());
        assert!("websocket_idle_ms_over:2".parse::<UsageMeter>().is_err());
    }

    #[test]
    fn message_sizes_fall_in_their_bucket() {
        let le = |b: u64| match UsageMeter::message_size(b) {
            UsageMeter::MessageSize { le_kb } => le_kb,
            other => panic!("{other}"),
        };
        assert_eq!(le(0), 1);
        assert_eq!(le(1024), 1);
        assert_eq!(le(1025), 4);
        assert_eq!(le(32 * 1024), 32);
        assert_eq!(le(32 * 1024 + 1), 40);
        assert_eq!(le(128 * 1024), 128);
        assert_eq!(le(10 << 20), 128);
        assert!(!UsageMeter::Retries.is_priced());
        assert!(UsageMeter::DataOutBytes.is_priced());
    }

    #[test]
    fn reasons_round_trip() {
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(r));
        }
    }

    #[test]
    fn dimensions_parse() {
        assert_eq!(
            Dimension::parse_list("api, route,tag:team,status"),
            Ok(vec![
                Dimension::Api,
                Dimension::Route,
                Dimension::Tag("team".into()),
                Dimension::Status
            ])
        );
        assert!(Dimension::parse_list("api,colour").is_err());
        assert!(Dimension::parse_list("tag:").is_err());
        assert_eq!(status_class_label(4), "4xx");
        assert_eq!(status_class_label(0), "-");
    }
}
