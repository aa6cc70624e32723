//! The algorithm policy and the parsed key set.
//!
//! Keys are parsed into [`DecodingKey`]s once per JWKS fetch, not per request, and each key
//! records exactly which algorithms it may verify. That record, not the token, decides: a
//! token can never pick how its own key is interpreted (the classic RS256→HS256 confusion).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::time::Instant;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// The algorithms a token may use, in a fixed order (the index is a bit in [`AlgSet`]).
///
/// RSA (PKCS#1 v1.5 and PSS), ECDSA on P-256/P-384 and Ed25519. `none` cannot be expressed by
/// [`Algorithm`] at all, and HMAC is left out on purpose: a JWKS is public, so a symmetric key
/// from it would let anyone mint tokens.
pub(crate) const ALLOWED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The allowed algorithm a token header's `alg` text names, if any.
///
/// The header is matched as text before anything else so that `none`, `HS256` and unknown
/// names are refused without being parsed into a key type.
pub(crate) fn allowed_from_header(alg: &str) -> Option<Algorithm> {
    Some(match alg {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Index of an allowed algorithm in [`ALLOWED`]; `None` for HMAC.
pub(crate) fn alg_index(alg: Algorithm) -> Option<usize> {
    ALLOWED.iter().position(|a| *a == alg)
}

/// A set of allowed algorithms, one bit per [`ALLOWED`] index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AlgSet(u16);

impl AlgSet {
    fn with(mut self, alg: Algorithm) -> Self {
        if let Some(i) = alg_index(alg) {
            self.0 |= 1 << i;
        }
        self
    }

    /// RS256…PS512: the first six entries of [`ALLOWED`].
    fn rsa_all() -> Self {
        ALLOWED[..6]
            .iter()
            .fold(AlgSet::default(), |s, a| s.with(*a))
    }

    pub(crate) fn contains(self, alg: Algorithm) -> bool {
        alg_index(alg).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One usable signing key.
pub(crate) struct KeyEntry {
    pub(crate) key: DecodingKey,
    pub(crate) algs: AlgSet,
}

/// The keys of one JWKS fetch, by `kid`.
pub(crate) struct KeySet {
    pub(crate) keys: HashMap<String, KeyEntry>,
    /// When this set was fetched; `None` for the empty set the authorizer starts with.
    pub(crate) fetched_at: Option<Instant>,
}

impl KeySet {
    pub(crate) fn empty() -> Self {
        KeySet {
            keys: HashMap::new(),
            fetched_at: None,
        }
    }

    /// Parses a JWKS body.
    ///
    /// Keys are parsed one by one and unusable ones are skipped (with a debug log): real JWKS
    /// often mix signing keys with encryption keys or algorithms we do not accept, and one odd
    /// entry must not take the issuer's other keys down with it. A body that is not a JSON
    /// object with a `keys` array is an error, so a garbage answer never replaces good keys.
    pub(crate) fn parse(body: &[u8], fetched_at: Instant) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawSet =
            serde_json::from_slice(body).map_err(|e| format!("not a JWK set: {e}"))?;
        let mut keys = HashMap::with_capacity(raw.keys.len());
        for value in raw.keys {
            let jwk: Jwk = match serde_json::from_value(value) {
                Ok(jwk) => jwk,
                Err(e) => {
                    tracing::debug!(error = %e, "skipping a JWK that does not parse");
                    continue;
                }
            };
            let Some(kid) = jwk.common.key_id.clone().filter(|k| !k.is_empty()) else {
                tracing::debug!("skipping a JWK without `kid`: AWS matches keys by kid");
                continue;
            };
            match usable_key(&jwk) {
                Ok(entry) => match keys.entry(kid) {
                    Entry::Occupied(e) => {
                        tracing::debug!(kid = %e.key(), "duplicate kid in JWKS; keeping the first key");
                    }
                    Entry::Vacant(e) => {
                        e.insert(entry);
                    }
                },
                Err(reason) => tracing::debug!(%kid, reason, "skipping JWK"),
            }
        }
        Ok(KeySet {
            keys,
            fetched_at: Some(fetched_at),
        })
    }
}

/// Turns a JWK into a key entry, or says why it is not usable for verifying tokens.
fn usable_key(jwk: &Jwk) -> Result<KeyEntry, &'static str> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Err("encryption key (`use: enc`)");
    }
    // What the key material itself can verify.
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => AlgSet::rsa_all(),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => AlgSet::default().with(Algorithm::ES256),
            EllipticCurve::P384 => AlgSet::default().with(Algorithm::ES384),
            _ => return Err("unsupported EC curve"),
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => AlgSet::default().with(Algorithm::EdDSA),
            _ => return Err("unsupported OKP curve"),
        },
        AlgorithmParameters::OctetKey(_) => return Err("symmetric key (`kty: oct`)"),
    };
    // A key that names its algorithm is held to exactly that one (RFC 7517 §4.4).
    let algs = match jwk.common.key_algorithm {
        None => by_type,
        Some(ka) => {
            let Some(alg) = key_algorithm(ka) else {
                return Err("key `alg` is not an allowed signing algorithm");
            };
            let only = AlgSet::default().with(alg);
            if !by_type.contains(alg) {
                return Err("key `alg` does not fit its key type or curve");
            }
            only
        }
    };
    if algs.is_empty() {
        return Err("no allowed algorithm");
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "key material does not parse")?;
    Ok(KeyEntry { key, algs })
}

fn key_algorithm(ka: KeyAlgorithm) -> Option<Algorithm> {
    Some(match ka {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}
