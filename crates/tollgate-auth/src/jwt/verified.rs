//! Tokens already verified, per worker thread, so a client that sends the same token again
//! costs a hash lookup and the claim checks, not a signature verification (an EdDSA or ECDSA
//! verification costs tens of microseconds: more than the rest of a request).
//!
//! Safe because an entry is keyed by the whole token (compared byte for byte, not just by its
//! hash) and by the key set it was verified with: a JWKS refresh (rotation, revocation) makes
//! every entry of the old set a miss. Time claims and scopes are checked again on every hit.
//! Thread-local, so lookups take no lock; each thread holds at most `2 × CAPACITY` entries per
//! authorizer (two generations: a full current one becomes the previous one, whose entries
//! are promoted on use, an approximate LRU without bookkeeping per hit).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasher as _;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::keys::KeySet;

const CAPACITY: usize = 1024;

/// A verified token's claims (as the token has them, for the checks of each request).
pub(super) struct Verified {
    pub(super) claims: Map<String, Value>,
    pub(super) principal: Arc<super::JwtPrincipal>,
}

struct Entry {
    token: Box<str>,
    /// The key set the token was verified with (held, so its address cannot be reused by a
    /// later set while this entry exists).
    key_set: Arc<KeySet>,
    verified: Arc<Verified>,
}

#[derive(Default)]
struct Generations {
    current: HashMap<u64, Entry>,
    previous: HashMap<u64, Entry>,
}

thread_local! {
    /// Per authorizer (by the address of its shared state): its two generations.
    static CACHE: RefCell<HashMap<usize, Generations>> = RefCell::new(HashMap::new());
    static HASHER: foldhash::fast::RandomState = foldhash::fast::RandomState::default();
}

fn hash(token: &str) -> u64 {
    HASHER.with(|h| h.hash_one(token))
}

/// The verification of `token` with key set `key_set` by authorizer `owner`, if this thread
/// has one.
pub(super) fn get(owner: usize, key_set: &Arc<KeySet>, token: &str) -> Option<Arc<Verified>> {
    let h = hash(token);
    CACHE
        .try_with(|c| {
            let mut c = c.borrow_mut();
            let g = c.get_mut(&owner)?;
            let fits = |e: &Entry| Arc::ptr_eq(&e.key_set, key_set) && &*e.token == token;
            if let Some(e) = g.current.get(&h).filter(|e| fits(e)) {
                return Some(Arc::clone(&e.verified));
            }
            let e = g.previous.remove(&h).filter(fits)?;
            let found = Arc::clone(&e.verified);
            insert_into(g, h, e);
            Some(found)
        })
        .ok()
        .flatten()
}

/// Remember a verification.
pub(super) fn put(owner: usize, key_set: &Arc<KeySet>, token: &str, verified: Arc<Verified>) {
    let h = hash(token);
    let _ = CACHE.try_with(|c| {
        let mut c = c.borrow_mut();
        let g = c.entry(owner).or_default();
        insert_into(
            g,
            h,
            Entry {
                token: token.into(),
                key_set: Arc::clone(key_set),
                verified,
            },
        );
    });
}

fn insert_into(g: &mut Generations, h: u64, e: Entry) {
    if g.current.len() >= CAPACITY && !g.current.contains_key(&h) {
        g.previous = std::mem::take(&mut g.current);
    }
    g.current.insert(h, e);
}
