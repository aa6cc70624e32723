//! A JWT issuer for tests: an Ed25519 key made at start, its JWKS and OpenID discovery document
//! served on 127.0.0.1:0, and tokens signed with it (or with a stranger's key, for negative
//! tests).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};

use crate::server::{serve, Running};

/// A running issuer. `issuer()` is its base URL; the JWKS is at `{issuer}/jwks.json`.
pub struct JwtIssuer {
    running: Running,
    key: Arc<Ed25519KeyPair>,
    stranger: Ed25519KeyPair,
    jwks_hits: Arc<AtomicUsize>,
}

/// The key id of the issuer's key.
pub const KID: &str = "test-key-1";

impl JwtIssuer {
    /// The `iss` value and discovery base: `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> String {
        format!("http://{}", self.running.addr)
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_hits(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }

    /// A token with `claims` signed by the issuer's key (EdDSA, kid [`KID`]).
    pub fn token(&self, claims: &Value) -> String {
        sign(&self.key, KID, claims)
    }

    /// The same token shape signed by a key the issuer never published, under the issuer's
    /// kid (a forgery).
    pub fn forged(&self, claims: &Value) -> String {
        sign(&self.stranger, KID, claims)
    }

    /// Standard claims for `aud`, valid for an hour from now.
    pub fn claims(&self, aud: &str, sub: &str, scope: &str) -> Value {
        let now = now();
        json!({"iss": self.issuer(), "aud": aud, "sub": sub, "scope": scope,
               "iat": now, "nbf": now, "exp": now + 3600})
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn sign(key: &Ed25519KeyPair, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

/// Starts an issuer on 127.0.0.1:0 serving `/.well-known/openid-configuration` and
/// `/jwks.json`.
///
/// # Panics
/// If a key cannot be generated or 127.0.0.1:0 cannot be bound.
pub async fn spawn_jwt_issuer() -> JwtIssuer {
    let key = Arc::new(Ed25519KeyPair::generate().expect("generate an Ed25519 key"));
    let stranger = Ed25519KeyPair::generate().expect("generate an Ed25519 key");
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "kid": KID,
                     "x": URL_SAFE_NO_PAD.encode(key.public_key().as_ref())});
    let jwks = Bytes::from(json!({ "keys": [jwk] }).to_string());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    // The discovery document names the JWKS by the address the request was sent to.
    let running = serve(Arc::new(move |req| {
        let jwks = jwks.clone();
        let counter = Arc::clone(&counter);
        Box::pin(async move {
            let host = req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1")
                .to_owned();
            let (status, body) = match req.uri().path() {
                "/.well-known/openid-configuration" => (
                    StatusCode::OK,
                    Bytes::from(
                        json!({"issuer": format!("http://{host}"),
                               "jwks_uri": format!("http://{host}/jwks.json")})
                        .to_string(),
                    ),
                ),
                "/jwks.json" => {
                    counter.fetch_add(1, Ordering::SeqCst);
                    (StatusCode::OK, jwks)
                }
                _ => (StatusCode::NOT_FOUND, Bytes::new()),
            };
            let mut resp = Response::new(Full::new(body));
            *resp.status_mut() = status;
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            resp
        })
    }))
    .await;
    JwtIssuer {
        running,
        key,
        stranger,
        jwks_hits: hits,
    }
}
