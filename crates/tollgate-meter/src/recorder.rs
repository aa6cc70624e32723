//! The request path's side of the meter.
//!
//! Each worker thread accumulates into its own shard (a thread-local hash map), so recording
//! takes no lock and touches no cache line another thread writes. Cells are keyed by plain
//! `Copy` values (the address of the route's shared dimensions, the client address, the status
//! class, the reason, the minute), so a request that lands in an existing cell allocates
//! nothing; a new cell is created once per (minute, route, client, …). Every
//! `flush_interval` (and when the worker stops) the thread hands its cells to the flusher
//! through a channel and starts again with an empty map that keeps its capacity.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use tollgate_types::usage::{Reason, Tags, UsageMeter};

/// The kind of API, which decides the request meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKind {
    Http,
    Rest,
    Websocket,
}

/// What a route contributes to every record it produces, shared by all requests on it. Built
/// once per configuration load; requests hold it by reference.
#[derive(Debug)]
pub struct RouteDims {
    pub region: Arc<str>,
    pub api: Arc<str>,
    pub stage: Arc<str>,
    pub route: Arc<str>,
    pub kind: ApiKind,
    pub tags: Arc<Tags>,
}

/// Whether each [`Reason`] is billable: fixed where AWS documents it (aws-facts.md §1.8), a
/// setting elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillingPolicy {
    billable: [bool; Reason::ALL.len()],
}

/// The settings of a [`BillingPolicy`] (mirrors `metering.billable` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownRules {
    pub unmatched_route: bool,
    pub cors_preflight: bool,
    pub malformed: bool,
    pub validation_failed: bool,
    pub cache_hit: bool,
    pub websocket_control: bool,
}

impl Default for UnknownRules {
    fn default() -> Self {
        Self {
            unmatched_route: true,
            cors_preflight: true,
            malformed: true,
            validation_failed: true,
            cache_hit: true,
            websocket_control: false,
        }
    }
}

impl BillingPolicy {
    pub fn new(rules: UnknownRules) -> Self {
        let mut billable = [false; Reason::ALL.len()];
        for r in Reason::ALL {
            billable[r as usize] = match r {
                Reason::Integration | Reason::Mock | Reason::Websocket => true,
                Reason::CacheProvisioned => true,
                Reason::AuthFailed
                | Reason::MissingKey
                | Reason::Throttled
                | Reason::QuotaExceeded
                | Reason::BudgetExceeded
                | Reason::NoApi => false,
                Reason::UnmatchedRoute => rules.unmatched_route,
                Reason::CorsPreflight => rules.cors_preflight,
                Reason::Malformed | Reason::ClientClosed => rules.malformed,
                Reason::ValidationFailed => rules.validation_failed,
                Reason::CacheHit => rules.cache_hit,
                Reason::WebsocketControl => rules.websocket_control,
            };
        }
        Self { billable }
    }

    pub fn is_billable(&self, reason: Reason) -> bool {
        self.billable[reason as usize]
    }
}

impl Default for BillingPolicy {
    fn default() -> Self {
        Self::new(UnknownRules::default())
    }
}

/// One finished request, as the meter sees it.
#[derive(Debug, Clone, Copy)]
pub struct RequestUsage<'a> {
    pub dims: &'a Arc<RouteDims>,
    /// When the request arrived, in seconds since the Unix epoch.
    pub at_secs: i64,
    pub client: IpAddr,
    /// The authorizer's principal (a JWT's `sub`), which names the client instead of its
    /// address when present.
    pub principal: Option<&'a str>,
    pub api_key: Option<&'a Arc<str>>,
    pub status: u16,
    pub reason: Reason,
    /// Request payload bytes (the body).
    pub request_bytes: u64,
    /// Bytes sent to the client: status line, headers and body.
    pub bytes_out: u64,
    /// Body bytes of a response of at least 1 KB sent without `Content-Encoding` (0
    /// otherwise): the informational `uncompressed_bytes` meter.
    pub uncompressed_body: u64,
}

/// A request that repeats, within this many seconds, one from the same client to the same
/// route that was answered 5xx or 429 is counted as a retry (`retries`, informational).
pub const RETRY_WINDOW_SECS: i64 = 60;
/// Recent failures remembered per worker thread for retry detection; past it the memory is
/// cleared (a few retries may then go uncounted, never a request).
const MAX_RECENT_FAILURES: usize = 4096;

/// HTTP API request units: one per started 512 KB of payload, and an empty body is one
/// (aws-facts.md §1.2: "a request with 513 KB of data is metered as two requests").
pub fn http_request_units(request_bytes: u64) -> u64 {
    request_bytes.div_ceil(512 * 1024).max(1)
}

/// WebSocket message units: one per started 32 KB, minimum 1 (aws-facts.md §1.2).
pub fn websocket_message_units(message_bytes: u64) -> u64 {
    message_bytes.div_ceil(32 * 1024).max(1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CellKey {
    minute: i64,
    dims: usize,
    client: IpAddr,
    /// A 64-bit hash of the principal (0: none): keying by the hash keeps the key `Copy`
    /// and the lookup allocation-free; a collision between two principals in one minute and
    /// route (odds 2⁻⁶⁴) would merge their counts under the first name.
    principal: u64,
    api_key: usize,
    status_class: u8,
    reason: Reason,
    meter: MeterSlot,
}

/// Which meter a cell counts: a request cell (request units plus bytes out), or any other
/// meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MeterSlot {
    Requests,
    Meter(UsageMeter),
}

/// Units on one meter other than requests (WebSocket messages and connection time, the
/// informational meters), as [`Meter::record_units`] takes them.
#[derive(Debug, Clone, Copy)]
pub struct UnitsUsage<'a> {
    pub dims: &'a Arc<RouteDims>,
    /// When, in seconds since the Unix epoch.
    pub at_secs: i64,
    pub client: IpAddr,
    /// The authorizer's principal, which names the client instead of its address.
    pub principal: Option<&'a str>,
    pub api_key: Option<&'a Arc<str>>,
    pub reason: Reason,
    pub meter: UsageMeter,
    pub units: u64,
    pub events: u64,
}

/// A shard's cell, handed to the flusher: owned handles to the dimensions plus the counts.
#[derive(Debug, Clone)]
pub struct Cell {
    pub minute: i64,
    pub dims: Arc<RouteDims>,
    pub client: IpAddr,
    pub principal: Option<Box<str>>,
    pub api_key: Option<Arc<str>>,
    pub status_class: u8,
    pub reason: Reason,
    pub billable: bool,
    pub meter: UsageMeter,
    pub units: u64,
    pub events: u64,
    /// For request cells: the bytes sent back by the same requests (the `data_out_bytes`
    /// meter, with the same events).
    pub data_out: Option<u64>,
}

type Shard = HashMap<CellKey, Cell, foldhash::fast::RandomState>;

/// (route dimensions, client, principal hash) of a recent 5xx/429 → when.
type RecentFailures = HashMap<(usize, IpAddr, u64), i64, foldhash::fast::RandomState>;

thread_local! {
    /// This thread's recent failures, for retry detection. Empty in the common case, where the
    /// check costs one branch.
    static RECENT_FAILURES: RefCell<RecentFailures> = RefCell::new(HashMap::default());

    /// This thread's shards, one per live meter (tests run several gateways in one process).
    static SHARDS: RefCell<Vec<(u64, Shard)>> = const { RefCell::new(Vec::new()) };
}

static NEXT_METER_ID: AtomicU64 = AtomicU64::new(1);

/// Fixed seeds, so a principal hashes the same on every worker thread.
static PRINCIPAL_HASH: foldhash::quality::FixedState =
    foldhash::quality::FixedState::with_seed(0x7011_6a7e);

/// The cell key's principal: 0 for none, else a hash with its low bit set.
fn principal_hash(p: Option<&str>) -> u64 {
    p.map_or(0, |p| {
        use std::hash::BuildHasher as _;
        PRINCIPAL_HASH.hash_one(p) | 1
    })
}

/// A message to the flusher.
pub(crate) enum ToFlusher {
    Cells(Vec<Cell>),
    /// Write everything received so far, then answer.
    Sync(Sender<()>),
    Stop,
}

/// The request path's handle on the meter. Cheap to clone; all clones feed one flusher.
#[derive(Clone)]
pub struct Meter {
    id: u64,
    policy: BillingPolicy,
    tx: Sender<ToFlusher>,
    stats: Arc<crate::MeterStats>,
}

impl Meter {
    pub(crate) fn new(
        policy: BillingPolicy,
        tx: Sender<ToFlusher>,
        stats: Arc<crate::MeterStats>,
    ) -> Self {
        Self {
            id: NEXT_METER_ID.fetch_add(1, Ordering::Relaxed),
            policy,
            tx,
            stats,
        }
    }

    pub fn policy(&self) -> &BillingPolicy {
        &self.policy
    }

    pub fn stats(&self) -> &crate::MeterStats {
        &self.stats
    }

    /// Record one finished request: its request units and the bytes sent back, in one cell
    /// (one hash lookup per request).
    pub fn record_request(&self, u: RequestUsage<'_>) {
        let (meter, units, data_out) = match u.dims.kind {
            ApiKind::Http => (
                UsageMeter::HttpRequests,
                http_request_units(u.request_bytes),
                true,
            ),
            ApiKind::Rest => (UsageMeter::RestRequests, 1, true),
            // Upgrade requests of WebSocket APIs are metered as connections and messages
            // elsewhere; here only their bytes out count.
            ApiKind::Websocket => (UsageMeter::DataOutBytes, u.bytes_out, false),
        };
        let status_class = u8::try_from(u.status / 100).unwrap_or(0).min(5);
        let principal = principal_hash(u.principal);
        let request = UnitsUsage {
            dims: u.dims,
            at_secs: u.at_secs,
            client: u.client,
            principal: u.principal,
            api_key: u.api_key,
            reason: u.reason,
            meter,
            units,
            events: 1,
        };
        // Bytes out follow the request's billable flag: AWS's rule for the data transfer of
        // rejected requests is unknown, and it is consistent with the request.
        self.add(
            &request,
            principal,
            status_class,
            MeterSlot::Requests,
            data_out.then_some(u.bytes_out),
        );

        // Informational meters for cost advice (docs/metering.md).
        let failed = u.status >= 500 || u.status == 429;
        let retry = RECENT_FAILURES
            .try_with(|f| {
                let mut f = f.borrow_mut();
                if f.is_empty() && !failed {
                    return false;
                }
                let k = (Arc::as_ptr(u.dims) as usize, u.client, principal);
                let was = f
                    .get(&k)
                    .is_some_and(|t| u.at_secs - t <= RETRY_WINDOW_SECS);
                if failed {
                    if f.len() >= MAX_RECENT_FAILURES {
                        f.clear();
                    }
                    f.insert(k, u.at_secs);
                } else if was {
                    f.remove(&k);
                }
                was
            })
            .unwrap_or(false);
        if retry {
            self.record_units(UnitsUsage {
                meter: UsageMeter::Retries,
                units: 1,
                ..request
            });
        }
        if u.uncompressed_body > 0 {
            self.record_units(UnitsUsage {
                meter: UsageMeter::UncompressedBytes,
                units: u.uncompressed_body,
                ..request
            });
        }
    }

    /// Record units on a meter other than requests: WebSocket messages (32 KB units) and
    /// connection milliseconds, and the informational meters.
    pub fn record_units(&self, u: UnitsUsage<'_>) {
        let principal = principal_hash(u.principal);
        self.add(&u, principal, 0, MeterSlot::Meter(u.meter), None);
    }

    /// Add `u` to its cell of this thread's shard, creating the cell on first use; request
    /// cells also carry the bytes sent back (`data_out`).
    fn add(
        &self,
        u: &UnitsUsage<'_>,
        principal: u64,
        status_class: u8,
        slot: MeterSlot,
        data_out: Option<u64>,
    ) {
        let minute = u.at_secs.div_euclid(60) * 60;
        let key = CellKey {
            minute,
            dims: Arc::as_ptr(u.dims) as usize,
            client: u.client,
            principal,
            api_key: u
                .api_key
                .map_or(0, |k| Arc::as_ptr(k) as *const u8 as usize),
            status_class,
            reason: u.reason,
            meter: slot,
        };
        let billable = self.policy.is_billable(u.reason);
        self.with_shard(|shard| {
            let cell = shard.entry(key).or_insert_with(|| Cell {
                minute,
                dims: Arc::clone(u.dims),
                client: u.client,
                principal: u.principal.map(Box::from),
                api_key: u.api_key.cloned(),
                status_class,
                reason: u.reason,
                billable,
                meter: u.meter,
                units: 0,
                events: 0,
                data_out: data_out.map(|_| 0),
            });
            cell.units = cell.units.saturating_add(u.units);
            cell.events = cell.events.saturating_add(u.events);
            if let (Some(d), Some(bytes)) = (&mut cell.data_out, data_out) {
                *d = d.saturating_add(bytes);
            }
        });
    }

    fn with_shard(&self, f: impl FnOnce(&mut Shard)) {
        // `try_with` fails only while the thread is being torn down; usage recorded then is
        // lost, which cannot happen on a worker (they flush before they exit).
        let _ = SHARDS.try_with(|shards| {
            let mut shards = shards.borrow_mut();
            let idx = match shards.iter().position(|(id, _)| *id == self.id) {
                Some(i) => i,
                None => {
                    shards.push((self.id, Shard::default()));
                    shards.len() - 1
                }
            };
            f(&mut shards[idx].1);
        });
    }

    /// Hand this thread's cells to the flusher. Workers call it every flush interval and
    /// when they stop.
    pub fn flush_thread(&self) {
        let cells: Vec<Cell> = SHARDS
            .try_with(|shards| {
                let mut shards = shards.borrow_mut();
                match shards.iter_mut().find(|(id, _)| *id == self.id) {
                    Some((_, shard)) => shard.drain().map(|(_, c)| c).collect(),
                    None => Vec::new(),
                }
            })
            .unwrap_or_default();
        if !cells.is_empty() {
            self.stats
                .in_flight
                .fetch_add(cells.len() as u64, Ordering::Relaxed);
            // The flusher only goes away at shutdown, after every worker has flushed.
            if self.tx.send(ToFlusher::Cells(cells)).is_err() {
                tracing::error!("meter flusher has stopped; usage of this thread is lost");
            }
        }
    }

    /// Ask the flusher to write everything it has received, and wait for it (admin queries
    /// and tests; never on the request path).
    pub fn sync(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(ToFlusher::Sync(tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_units_follow_512_kb_increments() {
        assert_eq!(http_request_units(0), 1);
        assert_eq!(http_request_units(1), 1);
        assert_eq!(http_request_units(512 * 1024), 1);
        assert_eq!(http_request_units(512 * 1024 + 1), 2);
        // aws-facts.md §1.9 HTTP-2: a 4.5 MB upload is 9 requests.
        assert_eq!(http_request_units(4608 * 1024), 9);
        assert_eq!(websocket_message_units(0), 1);
        assert_eq!(websocket_message_units(32 * 1024), 1);
        assert_eq!(websocket_message_units(33 * 1024), 2);
    }

    #[test]
    fn documented_reasons_are_fixed_and_unknown_ones_follow_settings() {
        let all_off = BillingPolicy::new(UnknownRules {
            unmatched_route: false,
            cors_preflight: false,
            malformed: false,
            validation_failed: false,
            cache_hit: false,
            websocket_control: false,
        });
        let defaults = BillingPolicy::default();
        for p in [all_off, defaults] {
            assert!(p.is_billable(Reason::Integration));
            assert!(p.is_billable(Reason::Mock));
            assert!(!p.is_billable(Reason::AuthFailed));
            assert!(!p.is_billable(Reason::Throttled));
            assert!(!p.is_billable(Reason::QuotaExceeded));
            assert!(!p.is_billable(Reason::MissingKey));
            assert!(!p.is_billable(Reason::NoApi));
        }
        assert!(defaults.is_billable(Reason::UnmatchedRoute));
        assert!(!all_off.is_billable(Reason::UnmatchedRoute));
        assert!(!all_off.is_billable(Reason::CorsPreflight));
        assert!(!defaults.is_billable(Reason::WebsocketControl));
    }
}
