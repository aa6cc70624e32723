//! The authorizer's result cache, with one shared invocation per identity.
//!
//! Hand-rolled rather than a cache crate, because it is small and needs three things at
//! once under one lock: a TTL, a bound on its size, and a table of invocations in flight so
//! that concurrent misses for the same identity share one invocation. Every entry of one
//! authorizer lives for the same TTL, so insertion order is expiry order: a FIFO queue
//! beside the map finds expired entries and the oldest entry to evict in O(1) each, without
//! scanning. The lock is held only for map and queue operations, never across I/O.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::error::FunctionFailure;
use super::policy::AuthorizerResponse;

/// The identity source values, in configuration order.
pub(super) type Key = Arc<[String]>;

/// What a shared invocation ends with.
pub(super) type Outcome = Result<Arc<AuthorizerResponse>, FunctionFailure>;

/// Where an invocation's waiters learn its outcome (`None` until it ends).
pub(super) type OutcomeReceiver = watch::Receiver<Option<Outcome>>;
pub(super) type OutcomeSender = watch::Sender<Option<Outcome>>;

pub(super) enum Lookup {
    /// A fresh cached answer.
    Hit(Arc<AuthorizerResponse>),
    /// Another request is invoking the function for this identity: wait for it.
    Join(OutcomeReceiver),
    /// Nobody is: the caller must invoke, then call [`Cache::complete`] (or drop the
    /// sender, which fails the waiters).
    Lead(OutcomeSender, OutcomeReceiver),
}

pub(super) struct Cache {
    ttl: Duration,
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Entry>,
    /// `(expires, key)` in insertion order. A record whose entry was replaced or removed
    /// is skipped when it reaches the front.
    order: VecDeque<(Instant, Key)>,
    in_flight: HashMap<Key, OutcomeReceiver>,
}

struct Entry {
    response: Arc<AuthorizerResponse>,
    expires: Instant,
}

impl Cache {
    pub(super) fn new(ttl: Duration, capacity: usize) -> Self {
        Cache {
            ttl,
            capacity,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The lock guards plain maps that every operation leaves consistent, so a panic
        // elsewhere cannot corrupt them; recovering keeps one panic from failing every
        // later request.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn lookup(&self, key: &[String]) -> Lookup {
        let now = Instant::now();
        let mut state = self.state();
        if let Some(entry) = state.entries.get(key) {
            if entry.expires > now {
                return Lookup::Hit(Arc::clone(&entry.response));
            }
        }
        if let Some(rx) = state.in_flight.get(key) {
            return Lookup::Join(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        state.in_flight.insert(Key::from(key), rx.clone());
        Lookup::Lead(tx, rx)
    }

    /// Ends the invocation for `key`: stores a successful answer and wakes the waiters.
    /// Failures are not cached, so the next request tries again.
    pub(super) fn complete(&self, key: &Key, tx: OutcomeSender, outcome: Outcome) {
        {
            let mut state = self.state();
            state.in_flight.remove(key);
            if let Ok(response) = &outcome {
                let now = Instant::now();
                state.insert(
                    Arc::clone(key),
                    Arc::clone(response),
                    now,
                    now + self.ttl,
                    self.capacity,
                );
            }
        }
        tx.send_replace(Some(outcome));
    }

    /// Forgets an invocation that ended without an outcome.
    pub(super) fn abandon(&self, key: &Key) {
        self.state().in_flight.remove(key);
    }

    /// Fresh entries (expired ones still held are not counted).
    pub(super) fn len(&self) -> usize {
        let now = Instant::now();
        self.state()
            .entries
            .values()
            .filter(|e| e.expires > now)
            .count()
    }

    /// Drops every entry (in-flight invocations still complete and store their answer).
    pub(super) fn clear(&self) {
        let mut state = self.state();
        state.entries.clear();
        state.order.clear();
    }
}

impl State {
    fn insert(
        &mut self,
        key: Key,
        response: Arc<AuthorizerResponse>,
        now: Instant,
        expires: Instant,
        capacity: usize,
    ) {
        // Expired entries first, then the oldest ones while the cache is full.
        while let Some((at, _)) = self.order.front() {
            if *at > now && self.entries.len() < capacity {
                break;
            }
            if let Some((at, old)) = self.order.pop_front() {
                if self.entries.get(&old).is_some_and(|e| e.expires == at) {
                    self.entries.remove(&old);
                }
            }
        }
        self.order.push_back((expires, Arc::clone(&key)));
        self.entries.insert(key, Entry { response, expires });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::policy::Decision;
    use serde_json::Map;

    fn response(tag: &str) -> Arc<AuthorizerResponse> {
        Arc::new(AuthorizerResponse {
            decision: Decision::Simple(true),
            principal_id: Some(tag.to_owned()),
            context: Map::new(),
            usage_identifier_key: None,
        })
    }

    fn key(s: &str) -> Key {
        Key::from(vec![s.to_owned()])
    }

    fn fill(cache: &Cache, k: &str) {
        let Lookup::Lead(tx, _rx) = cache.lookup(&key(k)) else {
            panic!("{k} should miss");
        };
        cache.complete(&key(k), tx, Ok(response(k)));
    }

    #[test]
    fn evicts_the_oldest_when_full() {
        let cache = Cache::new(Duration::from_secs(60), 2);
        fill(&cache, "a");
        fill(&cache, "b");
        fill(&cache, "c");
        assert_eq!(cache.len(), 2);
        assert!(matches!(cache.lookup(&key("a")), Lookup::Lead(..)));
        assert!(matches!(cache.lookup(&key("b")), Lookup::Hit(_)));
        assert!(matches!(cache.lookup(&key("c")), Lookup::Hit(_)));
    }

    #[test]
    fn concurrent_misses_join_one_invocation_and_failures_are_not_cached() {
        let cache = Cache::new(Duration::from_secs(60), 10);
        let Lookup::Lead(tx, rx) = cache.lookup(&key("a")) else {
            panic!("first lookup leads");
        };
        let Lookup::Join(joined) = cache.lookup(&key("a")) else {
            panic!("second lookup joins");
        };
        cache.complete(&key("a"), tx, Err(FunctionFailure::Status(500)));
        assert_eq!(*rx.borrow(), Some(Err(FunctionFailure::Status(500))));
        assert_eq!(*joined.borrow(), Some(Err(FunctionFailure::Status(500))));
        assert!(matches!(cache.lookup(&key("a")), Lookup::Lead(..)));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn expired_entries_are_dropped_on_insert() {
        let cache = Cache::new(Duration::from_millis(1), 10);
        fill(&cache, "a");
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.len(), 0);
        fill(&cache, "b");
        let state = cache.state();
        assert_eq!(state.entries.len(), 1, "the expired entry is gone");
        assert_eq!(state.order.len(), 1);
    }
}
