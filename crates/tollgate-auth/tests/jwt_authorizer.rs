//! The JWT authorizer end to end: real keys, real tokens, a real JWKS server on 127.0.0.1:0.
//!
//! One test binary, so the keys are generated once. Each security case from the issue is its
//! own test and checks the error, the status and the `www-authenticate` header.

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::KeyPair as _;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Value};
use support::*;
use tollgate_auth::{
    FetchError, FetchFuture, HttpFetcher, JwksFetcher, JwtAuthorizer, JwtError, JwtSettings,
};

const AUD: &str = "api-client";

fn settings(server: &JwksServer) -> JwtSettings {
    let mut s = JwtSettings::new(server.issuer(), [AUD, "second-audience"]);
    s.fetch_timeout = Duration::from_millis(500);
    s.min_refresh_interval = Duration::from_millis(300);
    s
}

fn authorizer(settings: JwtSettings) -> JwtAuthorizer {
    JwtAuthorizer::new(settings, Arc::new(HttpFetcher::new().unwrap())).unwrap()
}

async fn ready(server: &JwksServer) -> JwtAuthorizer {
    let a = authorizer(settings(server));
    a.prefetch().await.unwrap();
    a
}

fn claims(server: &JwksServer) -> Value {
    let now = now();
    json!({
        "iss": server.issuer(),
        "aud": AUD,
        "sub": "user-1",
        "exp": now + 300,
        "iat": now - 5,
        "nbf": now - 5,
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

/// Asserts a 401 `invalid_token` denial with the given error.
fn assert_denied(
    result: Result<std::sync::Arc<tollgate_auth::JwtPrincipal>, JwtError>,
    expected: JwtError,
) {
    let err = result.expect_err("token must be refused");
    assert_eq!(err, expected);
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(err.body(), r#"{"message":"Unauthorized"}"#);
    let header = err.www_authenticate();
    assert!(
        header.starts_with(r#"Bearer scope="" error="invalid_token" error_description=""#),
        "{header}"
    );
    assert!(header.contains(&expected.to_string()), "{header}");
}

#[tokio::test]
async fn every_allowed_algorithm_is_accepted() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    assert_eq!(a.cached_keys(), 4, "the HMAC key must not be cached");
    for alg in [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
    ] {
        let t = signed(alg, &claims(&server));
        let p = a
            .authorize(&bearer(&t), &[])
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(p.subject.as_deref(), Some("user-1"), "{alg}");
        assert_eq!(p.claim("iss"), Some(server.issuer().as_str()));
    }
    assert_eq!(server.jwks_hits(), 1);
    assert_eq!(
        server.discovery_hits(),
        1,
        "keys found through OpenID discovery"
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    for alg in ["none", "None", "NONE"] {
        let t = token(
            &json!({"alg": alg, "kid": "rsa"}),
            &claims(&server),
            Signer::Nothing,
        );
        assert!(t.ends_with('.'));
        assert_denied(
            a.authorize(&bearer(&t), &[]).await,
            JwtError::UnsupportedAlgorithm,
        );
    }
    // A valid RS256 header with the signature stripped is no better.
    let t = signed("RS256", &claims(&server));
    let stripped = format!("{}.", &t[..t.rfind('.').unwrap()]);
    assert_denied(
        a.authorize(&bearer(&stripped), &[]).await,
        JwtError::InvalidSignature,
    );
}

#[tokio::test]
async fn algorithm_confusion_is_refused() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    let k = keys();
    let c = claims(&server);

    // The RSA public key used as an HMAC secret, in every form an attacker might guess.
    let public_der = k.rsa.public_key().as_ref().to_vec();
    let jwk_text = rsa_jwk(&k.rsa, "rsa", None).to_string();
    for secret in [public_der.as_slice(), jwk_text.as_bytes(), b"shared-secret"] {
        for kid in ["rsa", "hmac"] {
            let t = token(
                &json!({"alg": "HS256", "kid": kid}),
                &c,
                Signer::Hmac(secret),
            );
            assert_denied(
                a.authorize(&bearer(&t), &[]).await,
                JwtError::UnsupportedAlgorithm,
            );
        }
    }

    // A token naming another family's key.
    let cases = [
        ("ES256", "rsa", signer_for("ES256")),
        ("RS256", "p256", signer_for("RS256")),
        ("ES384", "p256", signer_for("ES384")),
        ("ES256", "p384", signer_for("ES256")),
        ("EdDSA", "rsa", signer_for("EdDSA")),
        ("RS256", "ed", signer_for("RS256")),
    ];
    for (alg, kid, signer) in cases {
        let t = token(&json!({"alg": alg, "kid": kid}), &c, signer);
        assert_denied(
            a.authorize(&bearer(&t), &[]).await,
            JwtError::KeyAlgorithmMismatch,
        );
    }
}

#[tokio::test]
async fn a_key_that_names_its_alg_verifies_only_that_alg() {
    let k = keys();
    let server = JwksServer::start(json!({"keys": [rsa_jwk(&k.rsa, "rsa", Some("PS256"))]})).await;
    let a = ready(&server).await;
    let c = claims(&server);
    let ps = token(
        &json!({"alg": "PS256", "kid": "rsa"}),
        &c,
        signer_for("PS256"),
    );
    assert!(a.authorize(&bearer(&ps), &[]).await.is_ok());
    let rs = token(
        &json!({"alg": "RS256", "kid": "rsa"}),
        &c,
        signer_for("RS256"),
    );
    assert_denied(
        a.authorize(&bearer(&rs), &[]).await,
        JwtError::KeyAlgorithmMismatch,
    );
}

#[tokio::test]
async fn expired_token_is_refused() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    let t = signed("RS256", &with(claims(&server), json!({"exp": now() - 1})));
    assert_denied(a.authorize(&bearer(&t), &[]).await, JwtError::Expired);
    assert_eq!(
        JwtError::Expired.www_authenticate(),
        r#"Bearer scope="" error="invalid_token" error_description="the token has expired""#
    );
    let no_exp = {
        let mut c = claims(&server);
        c.as_object_mut().unwrap().remove("exp");
        signed("ES256", &c)
    };
    assert_denied(
        a.authorize(&bearer(&no_exp), &[]).await,
        JwtError::InvalidTimeClaim("exp"),
    );
}

#[tokio::test]
async fn not_yet_valid_token_is_refused() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    let t = signed("RS256", &with(claims(&server), json!({"nbf": now() + 60})));
    assert_denied(a.authorize(&bearer(&t), &[]).await, JwtError::NotYetValid);
    let t = signed("ES256", &with(claims(&server), json!({"iat": now() + 60})));
    assert_denied(
        a.authorize(&bearer(&t), &[]).await,
        JwtError::IssuedInFuture,
    );
}

#[tokio::test]
async fn leeway_admits_small_clock_skew_only() {
    let server = JwksServer::start(standard_jwks()).await;
    let mut s = settings(&server);
    s.leeway = Duration::from_secs(30);
    let a = authorizer(s);
    let skewed = signed(
        "RS256",
        &with(
            claims(&server),
            json!({"exp": now() - 10, "nbf": now() + 10, "iat": now() + 10}),
        ),
    );
    assert!(a.authorize(&bearer(&skewed), &[]).await.is_ok());
    let too_late = signed("RS256", &with(claims(&server), json!({"exp": now() - 60})));
    assert_denied(
        a.authorize(&bearer(&too_late), &[]).await,
        JwtError::Expired,
    );
    let too_early = signed("RS256", &with(claims(&server), json!({"nbf": now() + 60})));
    assert_denied(
        a.authorize(&bearer(&too_early), &[]).await,
        JwtError::NotYetValid,
    );
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    for iss in [
        json!("http://evil.example"),
        json!(format!("{}/", server.issuer())),
        json!(null),
    ] {
        let t = signed("RS256", &with(claims(&server), json!({"iss": iss})));
        assert_denied(a.authorize(&bearer(&t), &[]).await, JwtError::InvalidIssuer);
    }
}

#[tokio::test]
async fn wrong_audience_is_refused_with_aws_header() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    let t = signed(
        "RS256",
        &with(claims(&server), json!({"aud": "someone-else"})),
    );
    let err = a.authorize(&bearer(&t), &[]).await.unwrap_err();
    assert_eq!(err, JwtError::InvalidAudience);
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    // Verbatim from AWS's http-api-troubleshooting-jwt.md.
    assert_eq!(
        err.www_authenticate(),
        r#"Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience""#
    );
    // aud present and wrong: a matching client_id does not rescue it (AWS evaluates aud).
    let t = signed(
        "RS256",
        &with(
            claims(&server),
            json!({"aud": ["x", "y"], "client_id": AUD}),
        ),
    );
    assert_denied(
        a.authorize(&bearer(&t), &[]).await,
        JwtError::InvalidAudience,
    );
}

#[tokio::test]
async fn audience_matches_aud_array_or_client_id() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    let t = signed(
        "RS256",
        &with(claims(&server), json!({"aud": ["x", "second-audience"]})),
    );
    assert!(a.authorize(&bearer(&t), &[]).await.is_ok());
    // A Cognito access token: no aud, client_id instead.
    let mut c = claims(&server);
    c.as_object_mut().unwrap().remove("aud");
    c["client_id"] = json!(AUD);
    let p = a
        .authorize(&bearer(&signed("ES256", &c)), &[])
        .await
        .unwrap();
    assert_eq!(p.claim("client_id"), Some(AUD));
}

#[tokio::test]
async fn tampered_token_is_refused() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    for alg in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        let t = signed(alg, &claims(&server));
        let parts: Vec<&str> = t.split('.').collect();
        let forged = b64(with(claims(&server), json!({"sub": "admin"}))
            .to_string()
            .as_bytes());
        let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert_denied(
            a.authorize(&bearer(&tampered), &[]).await,
            JwtError::InvalidSignature,
        );
        // A flipped signature byte.
        let mut sig = parts[2].as_bytes().to_vec();
        sig[3] = if sig[3] == b'A' { b'B' } else { b'A' };
        let bad_sig = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            String::from_utf8(sig).unwrap()
        );
        assert_denied(
            a.authorize(&bearer(&bad_sig), &[]).await,
            JwtError::InvalidSignature,
        );
    }
    // Signed by another RSA key under the trusted kid.
    let t = token(
        &json!({"alg": "RS256", "kid": "rsa"}),
        &claims(&server),
        Signer::Rsa(&keys().rsa2, &aws_lc_rs::signature::RSA_PKCS1_SHA256),
    );
    assert_denied(
        a.authorize(&bearer(&t), &[]).await,
        JwtError::InvalidSignature,
    );
}

#[tokio::test]
async fn unknown_kid_is_refused_after_one_refresh() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    let t = token(
        &json!({"alg": "RS256", "kid": "not-there"}),
        &claims(&server),
        signer_for("RS256"),
    );
    assert_denied(a.authorize(&bearer(&t), &[]).await, JwtError::UnknownKeyId);
    assert_eq!(server.jwks_hits(), 2, "one refresh for the unknown kid");
    assert_eq!(
        server.discovery_hits(),
        1,
        "the discovered jwks_uri is reused"
    );
    // Within the rate-limit interval the next unknown kid is refused without a fetch.
    assert_denied(a.authorize(&bearer(&t), &[]).await, JwtError::UnknownKeyId);
    assert_eq!(server.jwks_hits(), 2);
}

#[tokio::test]
async fn key_rotation_is_picked_up_with_one_refresh() {
    let k = keys();
    let server = JwksServer::start(json!({"keys": [rsa_jwk(&k.rsa, "old", None)]})).await;
    let a = ready(&server).await;
    // The issuer publishes a new key and starts signing with it.
    server.set_jwks(json!({"keys": [rsa_jwk(&k.rsa, "old", None), rsa_jwk(&k.rsa2, "new", None)]}));
    tokio::time::sleep(Duration::from_millis(350)).await;
    let t = token(
        &json!({"alg": "RS256", "kid": "new"}),
        &claims(&server),
        Signer::Rsa(&k.rsa2, &aws_lc_rs::signature::RSA_PKCS1_SHA256),
    );
    let before = server.jwks_hits();
    assert!(a.authorize(&bearer(&t), &[]).await.is_ok());
    assert_eq!(server.jwks_hits(), before + 1);
    // Now cached: no more fetches.
    for _ in 0..5 {
        assert!(a.authorize(&bearer(&t), &[]).await.is_ok());
    }
    assert_eq!(server.jwks_hits(), before + 1);
    assert_eq!(a.cached_keys(), 2);
}

#[tokio::test]
async fn unknown_kid_refreshes_are_rate_limited() {
    let server = JwksServer::start(standard_jwks()).await;
    let mut s = settings(&server);
    s.min_refresh_interval = Duration::from_millis(1000);
    let a = authorizer(s);
    a.prefetch().await.unwrap();
    assert_eq!(server.jwks_hits(), 1);
    let c = claims(&server);
    let burst = |n: usize, salt: &str| {
        let tokens: Vec<String> = (0..n)
            .map(|i| {
                // The signature is never checked for an unknown kid; HMAC keeps minting cheap.
                token(
                    &json!({"alg": "RS256", "kid": format!("random-{salt}-{i}")}),
                    &c,
                    Signer::Hmac(b"filler"),
                )
            })
            .collect();
        let a = a.clone();
        async move {
            let mut tasks = Vec::new();
            for t in tokens {
                let a = a.clone();
                tasks.push(tokio::spawn(
                    async move { a.authorize(&bearer(&t), &[]).await },
                ));
            }
            for task in tasks {
                assert_eq!(task.await.unwrap().unwrap_err(), JwtError::UnknownKeyId);
            }
        }
    };
    // Right after the prefetch: inside the interval, no fetch at all.
    burst(50, "a").await;
    assert_eq!(server.jwks_hits(), 1);
    // Past the interval: 50 concurrent unknown kids share exactly one refresh.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    burst(50, "b").await;
    assert_eq!(server.jwks_hits(), 2);
    burst(50, "c").await;
    assert_eq!(server.jwks_hits(), 2);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    burst(50, "d").await;
    assert_eq!(server.jwks_hits(), 3);
}

#[tokio::test]
async fn concurrent_requests_on_a_cold_cache_share_one_fetch() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = authorizer(settings(&server));
    let t = signed("ES256", &claims(&server));
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let (a, t) = (a.clone(), t.clone());
        tasks.push(tokio::spawn(
            async move { a.authorize(&bearer(&t), &[]).await },
        ));
    }
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    assert_eq!(server.discovery_hits(), 1);
    assert_eq!(server.jwks_hits(), 1);
}

#[tokio::test]
async fn cached_keys_need_no_io_and_are_ready_on_first_poll() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    let hits = server.jwks_hits();
    for alg in ["RS256", "PS512", "ES384", "EdDSA"] {
        let h = bearer(&signed(alg, &claims(&server)));
        for _ in 0..25 {
            let mut fut = pin!(a.authorize(&h, &[]));
            let mut cx = Context::from_waker(Waker::noop());
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => panic!("{alg}: {e}"),
                Poll::Pending => panic!("{alg}: the cached path must not wait"),
            }
        }
    }
    assert_eq!(server.jwks_hits(), hits);
}

#[tokio::test]
async fn configured_jwks_uri_skips_discovery() {
    let server = JwksServer::start(standard_jwks()).await;
    let mut s = settings(&server);
    s.jwks_uri = Some(server.jwks_uri());
    let a = authorizer(s);
    let t = signed("RS256", &claims(&server));
    assert!(a.authorize(&bearer(&t), &[]).await.is_ok());
    assert_eq!(server.discovery_hits(), 0);
    assert_eq!(server.jwks_hits(), 1);
}

#[tokio::test]
async fn slow_jwks_is_denied_within_the_timeout_and_the_gateway_recovers() {
    let server = JwksServer::start(standard_jwks()).await;
    server.set_mode(Mode::Slow(Duration::from_secs(3)));
    let a = authorizer(settings(&server));
    let t = signed("RS256", &claims(&server));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (a, t) = (a.clone(), t.clone());
        tasks.push(tokio::spawn(
            async move { a.authorize(&bearer(&t), &[]).await },
        ));
    }
    for task in tasks {
        assert_denied(task.await.unwrap(), JwtError::KeysUnavailable);
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(450), "{waited:?}");
    assert!(
        waited < Duration::from_millis(1200),
        "waited {waited:?} for a 500 ms timeout"
    );
    // The endpoint recovers; after the failed refresh ends and the interval passes, the next
    // request fetches again and is let through.
    server.set_mode(Mode::Normal);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(a.authorize(&bearer(&t), &[]).await.is_ok());
}

/// A fetcher that never answers: the authorizer's own timeout must still end the wait.
struct Hanging;

impl JwksFetcher for Hanging {
    fn fetch<'a>(&'a self, _url: &'a str) -> FetchFuture<'a> {
        Box::pin(std::future::pending::<Result<bytes::Bytes, FetchError>>())
    }
}

#[tokio::test]
async fn a_fetcher_that_never_answers_is_cut_off() {
    let mut s = JwtSettings::new("https://issuer.example", [AUD]);
    s.fetch_timeout = Duration::from_millis(200);
    let a = JwtAuthorizer::new(s, Arc::new(Hanging)).unwrap();
    let t = token(
        &json!({"alg": "RS256", "kid": "rsa"}),
        &json!({"iss": "https://issuer.example", "aud": AUD, "exp": now() + 60}),
        signer_for("RS256"),
    );
    let started = Instant::now();
    assert_denied(
        a.authorize(&bearer(&t), &[]).await,
        JwtError::KeysUnavailable,
    );
    assert!(started.elapsed() < Duration::from_millis(800));
    assert_eq!(a.prefetch().await, Err(JwtError::KeysUnavailable));
}

#[tokio::test]
async fn jwks_down_is_denied() {
    let server = JwksServer::start(standard_jwks()).await;
    server.set_mode(Mode::Error);
    let a = authorizer(settings(&server));
    let t = signed("RS256", &claims(&server));
    assert_denied(
        a.authorize(&bearer(&t), &[]).await,
        JwtError::KeysUnavailable,
    );
    assert_eq!(a.prefetch().await, Err(JwtError::KeysUnavailable));

    // Nothing listening at all.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut s = JwtSettings::new(format!("http://{closed}"), [AUD]);
    s.fetch_timeout = Duration::from_millis(500);
    let a = authorizer(s);
    let t = token(
        &json!({"alg": "RS256", "kid": "rsa"}),
        &json!({"iss": format!("http://{closed}"), "aud": AUD, "exp": now() + 60}),
        signer_for("RS256"),
    );
    assert_denied(
        a.authorize(&bearer(&t), &[]).await,
        JwtError::KeysUnavailable,
    );
}

#[tokio::test]
async fn jwks_garbage_is_denied_and_never_replaces_good_keys() {
    let server = JwksServer::start(standard_jwks()).await;
    server.set_mode(Mode::Garbage);
    let a = authorizer(settings(&server));
    let t = signed("RS256", &claims(&server));
    assert_denied(
        a.authorize(&bearer(&t), &[]).await,
        JwtError::KeysUnavailable,
    );

    // Good keys first, then garbage: the good keys stay.
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    server.set_mode(Mode::Garbage);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let unknown = token(
        &json!({"alg": "RS256", "kid": "rotated"}),
        &claims(&server),
        signer_for("RS256"),
    );
    assert_denied(
        a.authorize(&bearer(&unknown), &[]).await,
        JwtError::KeysUnavailable,
    );
    assert_eq!(a.cached_keys(), 4);
    let known = signed("RS256", &claims(&server));
    assert!(a.authorize(&bearer(&known), &[]).await.is_ok());

    // A JSON answer that is not a key set, and one whose keys are all unusable.
    for bad in [json!({"hello": "world"}), json!([1, 2, 3])] {
        let server = JwksServer::start(bad).await;
        let a = authorizer(settings(&server));
        let t = signed("RS256", &claims(&server));
        assert_denied(
            a.authorize(&bearer(&t), &[]).await,
            JwtError::KeysUnavailable,
        );
    }
    let server = JwksServer::start(json!({"keys": [{"kty": "RSA", "kid": "rsa", "n": 5}]})).await;
    let a = authorizer(settings(&server));
    let t = signed("RS256", &claims(&server));
    assert_denied(a.authorize(&bearer(&t), &[]).await, JwtError::UnknownKeyId);
}

#[tokio::test]
async fn header_name_casing_and_bearer_casing_do_not_matter() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    let t = signed("RS256", &claims(&server));
    for name in [
        "authorization",
        "Authorization",
        "AUTHORIZATION",
        "aUtHoRiZaTiOn",
    ] {
        for value in [
            format!("Bearer {t}"),
            format!("bearer {t}"),
            format!("BEARER {t}"),
            t.clone(),
        ] {
            let mut h = HeaderMap::new();
            h.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(&value).unwrap(),
            );
            assert!(a.authorize(&h, &[]).await.is_ok(), "{name}: {value:.20}");
        }
    }
}

#[tokio::test]
async fn duplicate_or_missing_authorization_headers_are_refused() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    let good = signed("RS256", &claims(&server));
    let mut h = HeaderMap::new();
    h.append(
        HeaderName::from_static("authorization"),
        HeaderValue::from_str(&format!("Bearer {good}")).unwrap(),
    );
    h.append(
        HeaderName::from_bytes(b"AUTHORIZATION").unwrap(),
        HeaderValue::from_str(&format!("Bearer {good}")).unwrap(),
    );
    let err = a.authorize(&h, &[]).await.unwrap_err();
    assert_eq!(err, JwtError::AmbiguousToken);
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    assert!(err
        .www_authenticate()
        .contains(r#"error="invalid_request""#));

    let err = a.authorize(&HeaderMap::new(), &[]).await.unwrap_err();
    assert_eq!(err, JwtError::MissingToken);
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(err.body(), r#"{"message":"Unauthorized"}"#);
    assert_eq!(err.www_authenticate(), r#"Bearer scope="""#);

    // The token in another header does not count.
    let mut h = HeaderMap::new();
    h.insert("x-token", HeaderValue::from_str(&good).unwrap());
    assert_eq!(
        a.authorize(&h, &[]).await.unwrap_err(),
        JwtError::MissingToken
    );
}

#[tokio::test]
async fn custom_identity_source_header() {
    let server = JwksServer::start(standard_jwks()).await;
    let mut s = settings(&server);
    s.identity_header = HeaderName::from_static("x-id-token");
    let a = authorizer(s);
    let t = signed("EdDSA", &claims(&server));
    let mut h = HeaderMap::new();
    h.insert("X-Id-Token", HeaderValue::from_str(&t).unwrap());
    assert!(a.authorize(&h, &[]).await.is_ok());
    assert_eq!(
        a.authorize(&bearer(&t), &[]).await.unwrap_err(),
        JwtError::MissingToken
    );
}

#[tokio::test]
async fn route_scopes_are_matched_against_scope_and_scp() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    let route = vec!["orders/read".to_owned(), "orders/admin".to_owned()];

    let t = signed(
        "RS256",
        &with(claims(&server), json!({"scope": "openid orders/read"})),
    );
    let p = a.authorize(&bearer(&t), &route).await.unwrap();
    assert_eq!(
        p.scopes,
        Some(vec!["openid".to_owned(), "orders/read".to_owned()])
    );
    assert_eq!(p.claim("scope"), Some("openid orders/read"));

    let t = signed(
        "ES256",
        &with(claims(&server), json!({"scp": ["orders/admin"]})),
    );
    let p = a.authorize(&bearer(&t), &route).await.unwrap();
    assert_eq!(p.scopes, Some(vec!["orders/admin".to_owned()]));
    assert_eq!(p.claim("scp"), Some("[orders/admin]"));

    for extra in [
        json!({"scope": "openid profile"}),
        json!({"scp": []}),
        json!({}),
    ] {
        let t = signed("RS256", &with(claims(&server), extra));
        let err = a.authorize(&bearer(&t), &route).await.unwrap_err();
        assert_eq!(
            err,
            JwtError::InsufficientScope {
                required: route.clone()
            }
        );
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
        assert_eq!(err.body(), r#"{"message":"Forbidden"}"#);
        assert_eq!(
            err.www_authenticate(),
            r#"Bearer scope="orders/read orders/admin" error="insufficient_scope" error_description="the token does not have the required scopes""#
        );
    }
    // No route scopes: a token without scopes passes, and AWS's `scopes` is null.
    let t = signed("RS256", &claims(&server));
    assert_eq!(a.authorize(&bearer(&t), &[]).await.unwrap().scopes, None);
}

#[tokio::test]
async fn claims_reach_the_integration_as_aws_renders_them() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    let exp = now() + 300;
    let t = signed(
        "RS256",
        &with(
            claims(&server),
            json!({
                "exp": exp,
                "email_verified": true,
                "cognito:groups": ["Admins", "Readers"],
                "scope": "orders/read",
            }),
        ),
    );
    let p = a.authorize(&bearer(&t), &[]).await.unwrap();
    assert_eq!(p.claim("exp"), Some(exp.to_string().as_str()));
    assert_eq!(p.claim("email_verified"), Some("true"));
    assert_eq!(p.claim("cognito:groups"), Some("[Admins Readers]"));
    let ctx = p.request_context_authorizer();
    assert_eq!(ctx["jwt"]["claims"]["sub"], json!("user-1"));
    assert_eq!(ctx["jwt"]["claims"]["aud"], json!(AUD));
    assert_eq!(ctx["jwt"]["scopes"], json!(["orders/read"]));
    assert!(ctx["jwt"]["claims"]
        .as_object()
        .unwrap()
        .values()
        .all(Value::is_string));
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    let good = signed("RS256", &claims(&server));
    let parts: Vec<&str> = good.split('.').collect();
    let not_json = b64(b"not json");
    let array = b64(b"[1,2]");
    for bad in [
        "abc".to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{good}.extra"),
        format!("{}.{}.{}", parts[0], not_json, parts[2]),
        format!("{}.{}.{}", parts[0], array, parts[2]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
    ] {
        let err = a.authorize(&bearer(&bad), &[]).await.unwrap_err();
        assert!(
            matches!(err, JwtError::MalformedToken | JwtError::InvalidSignature),
            "{bad}: {err:?}"
        );
        assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    }
    let no_kid = token(
        &json!({"alg": "RS256"}),
        &claims(&server),
        signer_for("RS256"),
    );
    assert_denied(
        a.authorize(&bearer(&no_kid), &[]).await,
        JwtError::MissingKeyId,
    );
}

#[test]
fn without_a_runtime_the_authorizer_denies_instead_of_panicking() {
    let a = JwtAuthorizer::new(
        JwtSettings::new("https://issuer.example", [AUD]),
        Arc::new(Hanging),
    )
    .unwrap();
    let t = signed(
        "RS256",
        &json!({"iss": "https://issuer.example", "aud": AUD, "exp": now() + 60}),
    );
    let h = bearer(&t);
    let mut fut = pin!(a.authorize(&h, &[]));
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(Err(e)) => assert_eq!(e, JwtError::KeysUnavailable),
        other => panic!("expected an immediate denial, got {other:?}"),
    }
}

#[tokio::test]
async fn http_fetcher_speaks_http_and_https_only() {
    let f = HttpFetcher::new().unwrap();
    assert!(matches!(
        f.fetch("ftp://127.0.0.1/keys").await,
        Err(FetchError::UnsupportedScheme(_))
    ));
    assert!(matches!(
        f.fetch("not a url").await,
        Err(FetchError::InvalidUrl(_))
    ));
    // https is attempted (TLS over rustls), so a closed port is a request error, not an
    // unsupported scheme.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    assert!(matches!(
        f.fetch(&format!("https://{closed}/jwks.json")).await,
        Err(FetchError::Request(_))
    ));
    // Oversized bodies are cut off.
    let server = JwksServer::start(standard_jwks()).await;
    let small = HttpFetcher::new().unwrap().with_max_body_bytes(64);
    assert!(matches!(
        small.fetch(&server.jwks_uri()).await,
        Err(FetchError::TooLarge(64))
    ));
    assert!(matches!(
        f.fetch(&format!("{}/missing", server.issuer())).await,
        Err(FetchError::Status(404))
    ));
    assert!(f.fetch(&server.jwks_uri()).await.is_ok());
}

/// A token verified once is remembered (no second signature check), but every later use is
/// checked again for time and scopes, and a new key set forgets it.
#[tokio::test]
async fn a_remembered_token_is_still_checked_for_time_scopes_and_keys() {
    let server = JwksServer::start(standard_jwks()).await;
    let a = ready(&server).await;
    let short = with(claims(&server), json!({"exp": now() + 2, "scope": "read"}));
    let t = signed("ES256", &short);
    let first = a.authorize(&bearer(&t), &[]).await.unwrap();
    let again = a.authorize(&bearer(&t), &[]).await.unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&first, &again),
        "the second use is served from the verified-token cache"
    );
    // Scopes are per route: the cached token still lacks `write`.
    let err = a
        .authorize(&bearer(&t), &["write".to_string()])
        .await
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    // Once it expires, the cached verification does not keep it alive.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_denied(a.authorize(&bearer(&t), &[]).await, JwtError::Expired);

    // A key set without the token's key: a fresh token verified before the refresh is
    // refused after it, although this thread remembers it.
    let t2 = signed("ES256", &claims(&server));
    a.authorize(&bearer(&t2), &[]).await.unwrap();
    let mut jwks = standard_jwks();
    if let Some(keys) = jwks["keys"].as_array_mut() {
        keys.retain(|k| k["crv"] != "P-256");
    }
    server.set_jwks(jwks);
    a.prefetch().await.unwrap();
    assert!(a.authorize(&bearer(&t2), &[]).await.is_err());
}
