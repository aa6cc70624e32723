//! Test keys, token minting and a switchable JWKS server on 127.0.0.1:0.
//!
//! Keys are generated once per test binary with aws-lc-rs (RSA-2048 generation in a debug
//! build takes well under a second, so no fixtures are needed). Tokens are signed by hand, not
//! with jsonwebtoken's encoder, so tests can build exactly the malformed and malicious tokens
//! an attacker would.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, RsaPublicKeyComponents,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The signing keys every test shares.
pub struct Keys {
    pub rsa: RsaKeyPair,
    pub rsa2: RsaKeyPair,
    pub p256: EcdsaKeyPair,
    pub p384: EcdsaKeyPair,
    pub ed: Ed25519KeyPair,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
        rsa2: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
        p256: EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        p384: EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).unwrap(),
        ed: Ed25519KeyPair::generate().unwrap(),
    })
}

/// How to sign a token.
#[derive(Clone, Copy)]
pub enum Signer<'a> {
    Rsa(&'a RsaKeyPair, &'static dyn signature::RsaEncoding),
    Ec(&'a EcdsaKeyPair),
    Ed(&'a Ed25519KeyPair),
    Hmac(&'a [u8]),
    /// Empty signature, for `alg: none`.
    Nothing,
}

impl Signer<'_> {
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            Signer::Rsa(key, enc) => {
                let mut sig = vec![0; key.public_modulus_len()];
                key.sign(*enc, &SystemRandom::new(), msg, &mut sig).unwrap();
                sig
            }
            Signer::Ec(key) => key
                .sign(&SystemRandom::new(), msg)
                .unwrap()
                .as_ref()
                .to_vec(),
            Signer::Ed(key) => key.sign(msg).as_ref().to_vec(),
            Signer::Hmac(secret) => {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
                aws_lc_rs::hmac::sign(&key, msg).as_ref().to_vec()
            }
            Signer::Nothing => Vec::new(),
        }
    }
}

/// The signer for one of the allowed algorithm names, with the shared keys.
pub fn signer_for(alg: &str) -> Signer<'static> {
    let k = keys();
    match alg {
        "RS256" => Signer::Rsa(&k.rsa, &signature::RSA_PKCS1_SHA256),
        "RS384" => Signer::Rsa(&k.rsa, &signature::RSA_PKCS1_SHA384),
        "RS512" => Signer::Rsa(&k.rsa, &signature::RSA_PKCS1_SHA512),
        "PS256" => Signer::Rsa(&k.rsa, &signature::RSA_PSS_SHA256),
        "PS384" => Signer::Rsa(&k.rsa, &signature::RSA_PSS_SHA384),
        "PS512" => Signer::Rsa(&k.rsa, &signature::RSA_PSS_SHA512),
        "ES256" => Signer::Ec(&k.p256),
        "ES384" => Signer::Ec(&k.p384),
        "EdDSA" => Signer::Ed(&k.ed),
        other => panic!("no signer for {other}"),
    }
}

/// The kid the shared JWKS gives the key behind `alg`.
pub fn kid_for(alg: &str) -> &'static str {
    match alg {
        "ES256" => "p256",
        "ES384" => "p384",
        "EdDSA" => "ed",
        _ => "rsa",
    }
}

/// A compact JWS from a header, claims and a signer.
pub fn token(header: &Value, claims: &Value, signer: Signer<'_>) -> String {
    let msg = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = signer.sign(msg.as_bytes());
    format!("{msg}.{}", b64(&sig))
}

/// A token signed with `alg`'s shared key and kid.
pub fn signed(alg: &str, claims: &Value) -> String {
    token(
        &json!({"alg": alg, "typ": "JWT", "kid": kid_for(alg)}),
        claims,
        signer_for(alg),
    )
}

pub fn rsa_jwk(key: &RsaKeyPair, kid: &str, alg: Option<&str>) -> Value {
    let c = RsaPublicKeyComponents::<Vec<u8>>::from(key.public_key());
    let mut jwk = json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(&c.n), "e": b64(&c.e)});
    if let Some(alg) = alg {
        jwk["alg"] = json!(alg);
    }
    jwk
}

pub fn ec_jwk(key: &EcdsaKeyPair, kid: &str, crv: &str) -> Value {
    let point = key.public_key().as_ref();
    let n = (point.len() - 1) / 2;
    json!({"kty": "EC", "kid": kid, "crv": crv, "x": b64(&point[1..1 + n]), "y": b64(&point[1 + n..])})
}

pub fn ed_jwk(key: &Ed25519KeyPair, kid: &str) -> Value {
    json!({"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(key.public_key().as_ref())})
}

/// The JWKS most tests serve: one key per family, plus an HMAC key that must never be used.
pub fn standard_jwks() -> Value {
    let k = keys();
    json!({"keys": [
        rsa_jwk(&k.rsa, "rsa", None),
        ec_jwk(&k.p256, "p256", "P-256"),
        ec_jwk(&k.p384, "p384", "P-384"),
        ed_jwk(&k.ed, "ed"),
        {"kty": "oct", "kid": "hmac", "k": b64(b"shared-secret")},
    ]})
}

/// What the JWKS server does with the next requests.
#[derive(Clone, Debug)]
pub enum Mode {
    Normal,
    /// Answer only after this long.
    Slow(Duration),
    /// Answer 500.
    Error,
    /// Answer 200 with a body that is not JSON.
    Garbage,
}

pub struct ServerState {
    pub jwks: Mutex<Value>,
    pub mode: Mutex<Mode>,
    pub jwks_hits: AtomicUsize,
    pub discovery_hits: AtomicUsize,
}

/// A JWKS + OpenID discovery server on 127.0.0.1:0.
pub struct JwksServer {
    pub addr: SocketAddr,
    pub state: Arc<ServerState>,
}

impl JwksServer {
    pub async fn start(jwks: Value) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ServerState {
            jwks: Mutex::new(jwks),
            mode: Mutex::new(Mode::Normal),
            jwks_hits: AtomicUsize::new(0),
            discovery_hits: AtomicUsize::new(0),
        });
        let served = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = Arc::clone(&served);
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(respond(&state, addr, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        JwksServer { addr, state }
    }

    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn jwks_uri(&self) -> String {
        format!("http://{}/keys/jwks.json", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    pub fn set_jwks(&self, jwks: Value) {
        *self.state.jwks.lock().unwrap() = jwks;
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }
}

async fn respond(
    state: &ServerState,
    addr: SocketAddr,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let body = match req.uri().path() {
        "/.well-known/openid-configuration" => {
            state.discovery_hits.fetch_add(1, Ordering::SeqCst);
            json!({"issuer": format!("http://{addr}"), "jwks_uri": format!("http://{addr}/keys/jwks.json")})
        }
        "/keys/jwks.json" => {
            state.jwks_hits.fetch_add(1, Ordering::SeqCst);
            state.jwks.lock().unwrap().clone()
        }
        _ => return status(404, "not found"),
    };
    let mode = state.mode.lock().unwrap().clone();
    match mode {
        Mode::Normal => {}
        Mode::Slow(d) => tokio::time::sleep(d).await,
        Mode::Error => return status(500, "boom"),
        Mode::Garbage => return status(200, "<html>this is not a key set"),
    }
    hyper::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn status(code: u16, body: &'static str) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(code)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}
