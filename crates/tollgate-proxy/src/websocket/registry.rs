//! The open WebSocket connections of this process, by connection id: what `@connections`,
//! `/admin/connections` and the connection-time meter read.
//!
//! The map is sharded so that connects, disconnects and `@connections` lookups on different
//! workers rarely meet on a lock; messages never touch it (a connection's task holds its own
//! entry). DESIGN.md puts this registry behind a trait for a Redis-backed cluster later; the
//! in-process map is the only implementation so far.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use base64::engine::general_purpose::URL_SAFE as ID_ALPHABET;
use base64::Engine as _;
use bytes::Bytes;
use std::collections::VecDeque;
use tollgate_meter::RouteDims;

/// Bytes of randomness in a connection id: 11 bytes encode to 16 base64 characters ending in
/// `=`, the shape of AWS's ids (`TWegAcC4EowCHnA=`, aws-facts §4.2). The URL-safe alphabet
/// (`-` and `_` for `+` and `/`) keeps ids whole in `@connections` paths.
const ID_BYTES: usize = 11;
const SHARDS: usize = 16;

/// What a connection's task is asked to do from outside.
#[derive(Debug)]
pub enum Outbound {
    /// Send a message (an `@connections` post): text when it is UTF-8.
    Data(Bytes),
    /// Close the connection (`DELETE @connections/{id}`, or a limit).
    Close,
}

/// One open connection, shared by its task, the registry and the meter's accrual.
pub struct Conn {
    pub id: Arc<str>,
    pub api_id: Arc<str>,
    pub stage: Arc<str>,
    pub connected_at: SystemTime,
    /// Unix milliseconds of `connected_at`.
    pub connected_ms: u64,
    pub started: Instant,
    pub source_ip: IpAddr,
    pub user_agent: Option<Box<str>>,
    /// The API key validated on `$connect`.
    pub api_key: Option<Arc<str>>,
    /// The `$connect` authorizer's principal, which names the client in the meter.
    pub principal: Option<Box<str>>,
    /// Connection time and `$connect`-level usage are metered on these dimensions.
    pub dims: Arc<RouteDims>,
    /// The thread whose meter shard receives this connection's accrued time.
    pub thread: std::thread::ThreadId,
    /// Messages for the client from `@connections`, and close requests. A plain queue and a
    /// `Notify` rather than a channel: a channel allocates its first block up front, and an
    /// idle connection should cost as little as possible (bench/RESULTS.md).
    pub outbox: Mutex<VecDeque<Outbound>>,
    pub outbox_capacity: usize,
    pub wake: tokio::sync::Notify,
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    /// Message units (32 KB increments), both directions.
    pub units: AtomicU64,
    /// Milliseconds since `started` of the last message in either direction.
    pub last_active: AtomicU64,
    /// Connection milliseconds already handed to the meter.
    pub accrued_ms: AtomicU64,
    /// Idle milliseconds beyond each threshold already handed to the meter for the current
    /// idle stretch.
    pub idle: Mutex<IdleState>,
    pub closed: AtomicBool,
}

/// The idle stretch being metered ([`tollgate_types::usage::IDLE_THRESHOLDS_MINUTES`]).
#[derive(Debug, Default)]
pub struct IdleState {
    /// `last_active` of the stretch these counts belong to.
    pub since: u64,
    pub counted: [u64; 3],
}

/// Why an [`Outbound`] could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// `outbox_capacity` messages are waiting (`@connections` answers 429).
    Full,
    /// The connection has closed (410).
    Closed,
}

impl Conn {
    /// Queue something for the connection's task. A close is always queued.
    pub fn push(&self, o: Outbound) -> Result<(), PushError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(PushError::Closed);
        }
        {
            let Ok(mut q) = self.outbox.lock() else {
                return Err(PushError::Closed);
            };
            if matches!(o, Outbound::Data(_)) && q.len() >= self.outbox_capacity {
                return Err(PushError::Full);
            }
            q.push_back(o);
        }
        self.wake.notify_one();
        Ok(())
    }

    /// The next queued item.
    pub fn pop(&self) -> Option<Outbound> {
        self.outbox.lock().ok()?.pop_front()
    }

    /// Milliseconds since the connection opened.
    pub fn age_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Milliseconds since the last message.
    pub fn idle_ms(&self) -> u64 {
        self.age_ms()
            .saturating_sub(self.last_active.load(Ordering::Relaxed))
    }

    /// Note a message now.
    pub fn touch(&self) {
        self.last_active.store(self.age_ms(), Ordering::Relaxed);
    }

    /// The connection time not yet metered, up to `now_ms` (ms since `started`): exact
    /// however often it is called, from whichever thread.
    pub fn take_unaccrued(&self, now_ms: u64) -> u64 {
        let prev = self.accrued_ms.fetch_max(now_ms, Ordering::AcqRel);
        now_ms.saturating_sub(prev)
    }

    /// Idle milliseconds beyond each threshold not yet metered, for the stretch that started
    /// at `since` and lasts `idle_ms` so far.
    pub fn take_idle(&self, since: u64, idle_ms: u64) -> [u64; 3] {
        let mut out = [0; 3];
        let Ok(mut st) = self.idle.lock() else {
            return out;
        };
        if st.since != since {
            *st = IdleState {
                since,
                counted: [0; 3],
            };
        }
        for (i, minutes) in tollgate_types::usage::IDLE_THRESHOLDS_MINUTES
            .iter()
            .enumerate()
        {
            let over = idle_ms.saturating_sub(u64::from(*minutes) * 60_000);
            out[i] = over.saturating_sub(st.counted[i]);
            st.counted[i] = st.counted[i].max(over);
        }
        out
    }
}

/// The registry of open connections.
pub struct Registry {
    shards: Vec<RwLock<HashMap<Arc<str>, Arc<Conn>>>>,
    /// Open connections per API id (for `max_connections`).
    per_api: Mutex<HashMap<Arc<str>, u32>>,
    key: std::collections::hash_map::RandomState,
    counter: AtomicU64,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            per_api: Mutex::new(HashMap::new()),
            key: std::collections::hash_map::RandomState::new(),
            counter: AtomicU64::new(0),
        }
    }

    /// A new connection id: a counter (unique) through SipHash keyed with the process's
    /// random `RandomState` keys (unpredictable), so that nobody can guess another client's
    /// id for `@connections`.
    pub fn new_id(&self) -> Arc<str> {
        use std::hash::{BuildHasher, Hasher};
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let round = |salt: u64| {
            let mut h = self.key.build_hasher();
            h.write_u64(n);
            h.write_u64(salt);
            h.finish().to_le_bytes()
        };
        let mut raw = [0u8; ID_BYTES];
        raw[..8].copy_from_slice(&round(0));
        raw[8..].copy_from_slice(&round(1)[..ID_BYTES - 8]);
        Arc::from(ID_ALPHABET.encode(raw).as_str())
    }

    /// True when `id` has the shape of a connection id (`@connections` answers 400 otherwise).
    pub fn is_valid_id(id: &str) -> bool {
        id.len() == 16
            && ID_ALPHABET
                .decode(id.as_bytes())
                .is_ok_and(|raw| raw.len() == ID_BYTES)
    }

    fn shard(&self, id: &str) -> &RwLock<HashMap<Arc<str>, Arc<Conn>>> {
        let h = id.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        &self.shards[h % SHARDS]
    }

    /// Reserve a slot on `api` for a new connection, unless `max` are open.
    pub fn reserve(&self, api: &Arc<str>, max: Option<u32>) -> bool {
        let Ok(mut per_api) = self.per_api.lock() else {
            return false;
        };
        let n = per_api.entry(Arc::clone(api)).or_insert(0);
        if max.is_some_and(|m| *n >= m) {
            return false;
        }
        *n += 1;
        true
    }

    /// Give back a slot taken by [`Registry::reserve`].
    pub fn release(&self, api: &str) {
        if let Ok(mut per_api) = self.per_api.lock() {
            if let Some(n) = per_api.get_mut(api) {
                *n = n.saturating_sub(1);
            }
        }
    }

    pub fn insert(&self, conn: Arc<Conn>) {
        if let Ok(mut shard) = self.shard(&conn.id).write() {
            shard.insert(Arc::clone(&conn.id), conn);
        }
    }

    /// Remove a connection (its slot is released too).
    pub fn remove(&self, id: &str) -> Option<Arc<Conn>> {
        let removed = self.shard(id).write().ok()?.remove(id);
        if let Some(c) = &removed {
            c.closed.store(true, Ordering::Release);
            self.release(&c.api_id);
        }
        removed
    }

    pub fn get(&self, id: &str) -> Option<Arc<Conn>> {
        self.shard(id).read().ok()?.get(id).cloned()
    }

    /// Every open connection (for `/admin/connections` and the meter's accrual).
    pub fn all(&self) -> Vec<Arc<Conn>> {
        let mut out = Vec::new();
        for shard in &self.shards {
            if let Ok(s) = shard.read() {
                out.extend(s.values().cloned());
            }
        }
        out
    }

    /// Number of open connections.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().map_or(0, |s| s.len()))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_aws_ids_and_differ() {
        let r = Registry::new();
        let a = r.new_id();
        let b = r.new_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.ends_with('='));
        assert!(Registry::is_valid_id(&a));
        assert!(!Registry::is_valid_id("abc"));
        assert!(!Registry::is_valid_id("TWegAcC4EowCHnA")); // 15 characters
        assert!(Registry::is_valid_id("TWegAcC4EowCHnA="));
        assert!(!Registry::is_valid_id("TWegAcC4/owCHnA="));
        for _ in 0..1000 {
            let id = r.new_id();
            assert!(!id.contains('/') && !id.contains('+'), "{id}");
        }
    }

    #[test]
    fn slots_are_capped_and_released() {
        let r = Registry::new();
        let api: Arc<str> = Arc::from("a1");
        assert!(r.reserve(&api, Some(2)));
        assert!(r.reserve(&api, Some(2)));
        assert!(!r.reserve(&api, Some(2)));
        r.release("a1");
        assert!(r.reserve(&api, Some(2)));
    }
}
