//! Unit tests for the pieces that need no keys or network: identity source parsing, header
//! policy, claim checks and rendering, and the AWS answers.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

use super::*;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn headers(values: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in values {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn token_is_read_raw_or_after_bearer_in_any_case() {
    let auth = http::header::AUTHORIZATION;
    for (value, expected) in [
        ("a.b.c", "a.b.c"),
        ("Bearer a.b.c", "a.b.c"),
        ("bearer a.b.c", "a.b.c"),
        ("BEARER   a.b.c ", "a.b.c"),
        ("Bearer\ta.b.c", "a.b.c"),
    ] {
        let h = headers(&[("Authorization", value)]);
        assert_eq!(extract_token(&h, &auth), Ok(expected), "{value}");
    }
}

#[test]
fn missing_empty_duplicate_and_odd_tokens_are_refused() {
    let auth = http::header::AUTHORIZATION;
    assert_eq!(
        extract_token(&HeaderMap::new(), &auth),
        Err(JwtError::MissingToken)
    );
    for value in ["Bearer", "bearer ", "   "] {
        let h = headers(&[("authorization", value)]);
        assert_eq!(
            extract_token(&h, &auth),
            Err(JwtError::MissingToken),
            "{value:?}"
        );
    }
    let h = headers(&[("Authorization", "a.b.c"), ("AUTHORIZATION", "a.b.c")]);
    assert_eq!(extract_token(&h, &auth), Err(JwtError::AmbiguousToken));
    for value in ["Basic dXNlcjpwYXNz", "Bearer a.b.c d", "a.b.c,Bearer x.y.z"] {
        let h = headers(&[("authorization", value)]);
        assert_eq!(
            extract_token(&h, &auth),
            Err(JwtError::MalformedToken),
            "{value}"
        );
    }
}

#[test]
fn custom_identity_header_is_used() {
    let h = headers(&[("X-Auth-Token", "a.b.c"), ("authorization", "Bearer x.y.z")]);
    let name = HeaderName::from_static("x-auth-token");
    assert_eq!(extract_token(&h, &name), Ok("a.b.c"));
}

#[test]
fn header_policy_refuses_none_hmac_crit_and_missing_kid() {
    let tok = |h: Value| format!("{}.e30.sig", b64(&h));
    let alg = |a: &str| tok(json!({"alg": a, "kid": "k"}));
    for a in [
        "none", "None", "HS256", "HS384", "HS512", "ES512", "RS1", "",
    ] {
        assert_eq!(
            parse_header(&alg(a)).err(),
            Some(JwtError::UnsupportedAlgorithm),
            "{a}"
        );
    }
    for a in [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
    ] {
        let h = parse_header(&alg(a)).unwrap();
        assert_eq!(format!("{:?}", h.alg), a);
        assert_eq!(h.kid, "k");
    }
    assert_eq!(
        parse_header(&tok(json!({"alg": "RS256"}))).err(),
        Some(JwtError::MissingKeyId)
    );
    assert_eq!(
        parse_header(&tok(json!({"alg": "RS256", "kid": ""}))).err(),
        Some(JwtError::MissingKeyId)
    );
    assert_eq!(
        parse_header(&tok(
            json!({"alg": "RS256", "kid": "k", "crit": ["b64"], "b64": false})
        ))
        .err(),
        Some(JwtError::MalformedToken)
    );
    for bad in ["onlyone", "a.b", "a.b.c.d", "!!!.e30.sig", "e30.e30.sig"] {
        assert!(parse_header(bad).is_err(), "{bad}");
    }
}

const ISS: &str = "https://issuer.example";

fn check_now(claims: Value, now: f64, leeway: u64) -> Result<(), JwtError> {
    claims::check(
        &obj(claims),
        ISS,
        &["api".to_owned(), "other".to_owned()],
        now,
        Duration::from_secs(leeway),
    )
}

#[test]
fn issuer_and_audience_follow_aws() {
    let now = 1_000_000.0;
    let ok = |c: Value| check_now(c, now, 0);
    assert_eq!(
        ok(json!({"iss": ISS, "aud": "api", "exp": 1_000_100})),
        Ok(())
    );
    assert_eq!(
        ok(json!({"iss": ISS, "aud": ["x", "other"], "exp": 1_000_100})),
        Ok(())
    );
    assert_eq!(
        ok(json!({"iss": ISS, "client_id": "api", "exp": 1_000_100})),
        Ok(())
    );
    // aud present: client_id is not consulted (http-api-troubleshooting-jwt.md).
    assert_eq!(
        ok(json!({"iss": ISS, "aud": "x", "client_id": "api", "exp": 1_000_100})),
        Err(JwtError::InvalidAudience)
    );
    assert_eq!(
        ok(json!({"iss": ISS, "aud": 7, "client_id": "api", "exp": 1_000_100})),
        Err(JwtError::InvalidAudience)
    );
    assert_eq!(
        ok(json!({"iss": ISS, "exp": 1_000_100})),
        Err(JwtError::InvalidAudience)
    );
    assert_eq!(
        ok(json!({"iss": "https://issuer.example/", "aud": "api", "exp": 1_000_100})),
        Err(JwtError::InvalidIssuer)
    );
    assert_eq!(
        ok(json!({"aud": "api", "exp": 1_000_100})),
        Err(JwtError::InvalidIssuer)
    );
}

#[test]
fn time_claims_use_strict_comparisons_plus_leeway() {
    let now = 1_000_000.5;
    let base = |extra: Value| {
        let mut c = obj(json!({"iss": ISS, "aud": "api", "exp": 1_000_100}));
        c.extend(obj(extra));
        Value::Object(c)
    };
    assert_eq!(
        check_now(base(json!({"exp": 1_000_000})), now, 0),
        Err(JwtError::Expired)
    );
    assert_eq!(check_now(base(json!({"exp": 1_000_000})), now, 1), Ok(()));
    assert_eq!(
        check_now(base(json!({"exp": 999_990})), now, 5),
        Err(JwtError::Expired)
    );
    assert_eq!(
        check_now(base(json!({"nbf": 1_000_010})), now, 0),
        Err(JwtError::NotYetValid)
    );
    assert_eq!(check_now(base(json!({"nbf": 1_000_010})), now, 30), Ok(()));
    assert_eq!(check_now(base(json!({"nbf": 1_000_000})), now, 0), Ok(()));
    assert_eq!(
        check_now(base(json!({"iat": 1_000_010})), now, 0),
        Err(JwtError::IssuedInFuture)
    );
    assert_eq!(check_now(base(json!({"iat": 999_000})), now, 0), Ok(()));
    let mut no_exp = obj(base(json!({})));
    no_exp.remove("exp");
    assert_eq!(
        check_now(Value::Object(no_exp), now, 0),
        Err(JwtError::InvalidTimeClaim("exp"))
    );
    assert_eq!(
        check_now(base(json!({"exp": "1000100"})), now, 0),
        Err(JwtError::InvalidTimeClaim("exp"))
    );
    assert_eq!(
        check_now(base(json!({"nbf": null})), now, 0),
        Err(JwtError::InvalidTimeClaim("nbf"))
    );
}

#[test]
fn scopes_come_from_scope_or_scp() {
    let s = |v: Value| claims::token_scopes(&obj(v));
    assert_eq!(
        s(json!({"scope": "a  b c"})),
        Some(vec!["a".into(), "b".into(), "c".into()])
    );
    assert_eq!(
        s(json!({"scp": ["a", "b", 3]})),
        Some(vec!["a".into(), "b".into()])
    );
    assert_eq!(s(json!({"scp": "a b"})), Some(vec!["a".into(), "b".into()]));
    assert_eq!(
        s(json!({"scope": "x", "scp": ["y"]})),
        Some(vec!["x".into()])
    );
    assert_eq!(s(json!({"sub": "u"})), None);

    let route = vec!["read".to_owned(), "write".to_owned()];
    let held = vec!["openid".to_owned(), "write".to_owned()];
    assert_eq!(claims::check_scopes(Some(&held), &route), Ok(()));
    assert_eq!(claims::check_scopes(None, &[]), Ok(()));
    assert_eq!(
        claims::check_scopes(Some(&["openid".to_owned()]), &route),
        Err(JwtError::InsufficientScope {
            required: route.clone()
        })
    );
    assert!(claims::check_scopes(None, &route).is_err());
}

#[test]
fn claims_are_rendered_as_strings_like_aws() {
    let rendered = claims::render(obj(json!({
        "sub": "u-1",
        "exp": 1785675600,
        "ratio": 1.5,
        "email_verified": true,
        "cognito:groups": ["Admins", "Readers"],
        "nested": {"b": 2, "a": [1, "x"]},
        "nothing": null,
    })));
    assert_eq!(
        Value::Object(rendered),
        json!({
            "sub": "u-1",
            "exp": "1785675600",
            "ratio": "1.5",
            "email_verified": "true",
            "cognito:groups": "[Admins Readers]",
            "nested": "map[a:[1 x] b:2]",
            "nothing": "null",
        })
    );
}

#[test]
fn answers_match_aws() {
    let aud = JwtError::InvalidAudience;
    assert_eq!(aud.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(aud.body(), r#"{"message":"Unauthorized"}"#);
    // Verbatim from http-api-troubleshooting-jwt.md.
    assert_eq!(
        aud.www_authenticate(),
        r#"Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience""#
    );
    assert_eq!(
        JwtError::Expired.www_authenticate(),
        r#"Bearer scope="" error="invalid_token" error_description="the token has expired""#
    );
    assert_eq!(
        JwtError::MissingToken.www_authenticate(),
        r#"Bearer scope="""#
    );
    assert_eq!(JwtError::MissingToken.status(), StatusCode::UNAUTHORIZED);
    assert!(JwtError::AmbiguousToken
        .www_authenticate()
        .contains(r#"error="invalid_request""#));
    let scope = JwtError::InsufficientScope {
        required: vec!["read".into(), "bad\"\\scope\n".into()],
    };
    assert_eq!(scope.status(), StatusCode::FORBIDDEN);
    assert_eq!(scope.body(), r#"{"message":"Forbidden"}"#);
    assert_eq!(
        scope.www_authenticate(),
        r#"Bearer scope="read badscope" error="insufficient_scope" error_description="the token does not have the required scopes""#
    );
    for e in [
        JwtError::MissingToken,
        JwtError::AmbiguousToken,
        JwtError::MalformedToken,
        JwtError::UnsupportedAlgorithm,
        JwtError::MissingKeyId,
        JwtError::UnknownKeyId,
        JwtError::KeyAlgorithmMismatch,
        JwtError::InvalidSignature,
        JwtError::InvalidIssuer,
        JwtError::InvalidAudience,
        JwtError::InvalidTimeClaim("exp"),
        JwtError::Expired,
        JwtError::NotYetValid,
        JwtError::IssuedInFuture,
        JwtError::KeysUnavailable,
        scope,
    ] {
        assert!(
            HeaderValue::from_str(&e.www_authenticate()).is_ok(),
            "{e:?}"
        );
    }
}

#[test]
fn settings_are_validated() {
    let ok = JwtSettings::new("https://issuer.example", ["api"]);
    assert_eq!(ok.validate(), Ok(()));
    assert_eq!(ok.identity_header, http::header::AUTHORIZATION);
    assert_eq!(ok.fetch_timeout, Duration::from_millis(1500));
    let bad = |f: fn(&mut JwtSettings)| {
        let mut s = ok.clone();
        f(&mut s);
        s.validate().err()
    };
    assert!(matches!(
        bad(|s| s.issuer = "issuer.example".into()),
        Some(JwtConfigError::InvalidIssuer(_))
    ));
    assert!(matches!(
        bad(|s| s.issuer = "https://".into()),
        Some(JwtConfigError::InvalidIssuer(_))
    ));
    assert_eq!(
        bad(|s| s.audiences.clear()),
        Some(JwtConfigError::NoAudience)
    );
    assert!(matches!(
        bad(|s| s.jwks_uri = Some("file:///etc/keys".into())),
        Some(JwtConfigError::InvalidJwksUri(_))
    ));
    assert_eq!(
        bad(|s| s.min_refresh_interval = Duration::ZERO),
        Some(JwtConfigError::ZeroDuration("min_refresh_interval"))
    );
}

#[test]
fn jwks_parsing_skips_unusable_keys_and_refuses_garbage() {
    let now = Instant::now();
    assert!(KeySet::parse(b"not json", now).is_err());
    assert!(KeySet::parse(b"{\"nokeys\":[]}", now).is_err());
    assert!(KeySet::parse(b"[]", now).is_err());
    // RSA modulus of 2048 bits is not needed to parse: components are decoded lazily by
    // the verifier, so tiny values stand in here.
    let set = KeySet::parse(
        json!({"keys": [
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "rsa-pinned", "alg": "PS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "wrong-alg", "alg": "ES256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AQAB", "y": "AQAB"},
            {"kty": "weird", "kid": "weird"},
            {"kty": "RSA", "kid": "rsa", "n": "AgAB", "e": "AQAB"},
        ]})
        .to_string()
        .as_bytes(),
        now,
    )
    .unwrap();
    let mut kids: Vec<_> = set.keys.keys().cloned().collect();
    kids.sort();
    assert_eq!(kids, ["rsa", "rsa-pinned"]);
    assert!(set.keys["rsa"].algs.contains(Algorithm::RS256));
    assert!(set.keys["rsa"].algs.contains(Algorithm::PS512));
    assert!(!set.keys["rsa"].algs.contains(Algorithm::ES256));
    assert!(!set.keys["rsa"].algs.contains(Algorithm::HS256));
    assert!(set.keys["rsa-pinned"].algs.contains(Algorithm::PS256));
    assert!(!set.keys["rsa-pinned"].algs.contains(Algorithm::RS256));
}
