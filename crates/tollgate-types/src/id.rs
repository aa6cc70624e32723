//! Request ids shaped like API Gateway's (`JkQ4ziAkIAMEV3A=`: 10 bytes, base64).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Generates unique request ids without locks: a per-process random-ish prefix and an atomic
/// counter, encoded as base64 of 10 bytes like `apigw-requestid` values.
#[derive(Debug)]
pub struct RequestIdGenerator {
    prefix: u16,
    counter: AtomicU64,
}

impl Default for RequestIdGenerator {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestIdGenerator {
    /// A generator seeded from the clock and process id, so two processes rarely collide.
    pub fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let seed = nanos ^ (u64::from(std::process::id()) << 32);
        Self {
            prefix: (seed >> 7) as u16 ^ (seed as u16),
            counter: AtomicU64::new(seed.rotate_left(17)),
        }
    }

    /// The next id, written into a fixed-size buffer (no heap allocation).
    pub fn next_id(&self) -> RequestId {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut raw = [0u8; 10];
        raw[..2].copy_from_slice(&self.prefix.to_be_bytes());
        raw[2..].copy_from_slice(&n.to_be_bytes());
        let mut out = [0u8; 16];
        // 10 bytes always encode to exactly 16 base64 characters, so this cannot fail.
        let written = STANDARD.encode_slice(raw, &mut out).unwrap_or(0);
        RequestId {
            buf: out,
            len: written as u8,
        }
    }
}

/// A request id: 16 ASCII characters stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId {
    buf: [u8; 16],
    len: u8,
}

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only base64 alphabet bytes are ever written.
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_shaped_like_aws() {
        let g = RequestIdGenerator::new();
        let a = g.next_id();
        let b = g.next_id();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 16);
        assert!(a.as_str().ends_with('='));
    }
}
