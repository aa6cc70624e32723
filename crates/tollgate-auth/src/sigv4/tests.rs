//! Unit tests: header parsing, dates, wildcards, policy evaluation, ARNs, error answers, and
//! a sign-and-verify round trip with aws-sigv4 as the client (botocore is in tests/sigv4.rs).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::error::SigV4Error;
use super::parse::{
    format_iso_basic, missing_parts_message, parse_authorization, parse_credential,
    parse_request_date,
};
use super::policy::{evaluate, Decision};
use super::*;

/// 2015-08-30T12:36:00Z, the date of AWS's SigV4 examples.
const T0: u64 = 1_440_938_160;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

// ---------------------------------------------------------------------------------------
// Authorization header

#[test]
fn parses_a_sigv4_authorization_header() {
    let value = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc123";
    let h = parse_authorization(value).unwrap();
    assert_eq!(h.algorithm, "AWS4-HMAC-SHA256");
    assert_eq!(
        h.credential,
        Some("AKIDEXAMPLE/20150830/us-east-1/execute-api/aws4_request")
    );
    assert_eq!(h.signed_headers, Some("host;x-amz-date"));
    assert_eq!(h.signature, Some("abc123"));

    // Commas without spaces, and unknown parameters, are fine.
    let h = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=host,Signature=00,Extra=1",
    )
    .unwrap();
    assert_eq!(h.signature, Some("00"));
}

#[test]
fn a_part_without_equal_sign_is_aws_text() {
    let value = "AWS4-HMAC-SHA256 Credential= AKID/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00";
    assert_eq!(
        parse_authorization(value).unwrap_err(),
        SigV4Error::IncompleteSignature(format!(
            "'AKID/20150830/us-east-1/execute-api/aws4_request' not a valid key=value pair \
             (missing equal-sign) in Authorization header: '{value}'."
        ))
    );
}

#[test]
fn missing_parameters_are_listed_in_aws_order() {
    let value = "AWS4-HMAC-SHA256 Credential=AKID/x, Signature=";
    let h = parse_authorization(value).unwrap();
    assert_eq!(h.signature, None, "an empty value counts as missing");
    assert_eq!(
        missing_parts_message(&h, false, value),
        "Authorization header requires 'Signature' parameter. Authorization header requires \
         'SignedHeaders' parameter. Authorization header requires existence of either a \
         'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=AKID/x, \
         Signature="
    );
    // A JWT where SigV4 is expected: everything is missing (aws/chalice#828).
    let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.e30.sig";
    let h = parse_authorization(jwt).unwrap();
    assert_eq!(
        missing_parts_message(&h, true, jwt),
        format!(
            "Authorization header requires 'Credential' parameter. Authorization header \
             requires 'Signature' parameter. Authorization header requires 'SignedHeaders' \
             parameter. Authorization={jwt}"
        )
    );
}

#[test]
fn credential_needs_five_parts() {
    let c = parse_credential("AKID/20150830/us-east-1/execute-api/aws4_request/").unwrap();
    assert_eq!(c.access_key_id, "AKID");
    assert_eq!(c.date, "20150830");
    assert_eq!(c.region, "us-east-1");
    assert_eq!(c.service, "execute-api");
    assert_eq!(c.terminator, "aws4_request");
    assert_eq!(
        parse_credential("AKID/20150830/us-east-1/execute-api").unwrap_err(),
        SigV4Error::IncompleteSignature(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got 'AKID/20150830/us-east-1/execute-api'"
                .to_owned()
        )
    );
    assert!(parse_credential("a/b/c/d/e/f").is_err());
}

// ---------------------------------------------------------------------------------------
// Dates

#[test]
fn iso_basic_dates_round_trip() {
    assert_eq!(
        parse_request_date("20150830T123600Z", true).unwrap(),
        at(T0)
    );
    assert_eq!(format_iso_basic(at(T0)), "20150830T123600Z");
    assert_eq!(format_iso_basic(at(0)), "19700101T000000Z");
    // Leap day, end of year.
    let leap = parse_request_date("20240229T235959Z", true).unwrap();
    assert_eq!(format_iso_basic(leap), "20240229T235959Z");
    assert_eq!(
        format_iso_basic(leap + Duration::from_secs(1)),
        "20240301T000000Z"
    );
    let eoy = parse_request_date("20231231T235959Z", true).unwrap();
    assert_eq!(
        format_iso_basic(eoy + Duration::from_secs(1)),
        "20240101T000000Z"
    );
}

#[test]
fn malformed_dates_are_aws_text() {
    for bad in [
        "2015-08-30T12:36:00Z",
        "20150830T123600",
        "20150230T123600Z",
        "20150830T246000Z",
        "2015083OT123600Z",
        "",
    ] {
        assert_eq!(
            parse_request_date(bad, true).unwrap_err(),
            SigV4Error::IncompleteSignature(format!(
                "Date must be in ISO-8601 'basic format'. Got '{bad}'. See \
                 http://en.wikipedia.org/wiki/ISO_8601"
            )),
            "{bad}"
        );
    }
    // X-Amz-Date must be ISO basic; only Date may be an HTTP date.
    assert!(parse_request_date("Sun, 30 Aug 2015 12:36:00 GMT", true).is_err());
}

#[test]
fn date_header_accepts_http_dates() {
    for ok in [
        "Sun, 30 Aug 2015 12:36:00 GMT",
        "Sun, 30 Aug 2015 12:36:00 -0000",
        "30 Aug 2015 12:36:00 +0000",
        "20150830T123600Z",
    ] {
        assert_eq!(parse_request_date(ok, false).unwrap(), at(T0), "{ok}");
    }
    for bad in [
        "Sun, 30 Aug 2015 12:36:00 +0200",
        "Sun, 30 Foo 2015 12:36:00 GMT",
        "Sun, 31 Sep 2015 12:36:00 GMT",
        "Sun, 30 Aug 2015 12:36 GMT",
    ] {
        assert!(parse_request_date(bad, false).is_err(), "{bad}");
    }
}

// ---------------------------------------------------------------------------------------
// Wildcards, policies, ARNs

#[test]
fn wildcards_match_like_iam() {
    assert!(wildcard_match("*", "", false));
    assert!(wildcard_match("*", "anything/at:all", false));
    assert!(wildcard_match("a*c", "abbbc", false));
    assert!(wildcard_match("a*c", "ac", false));
    assert!(!wildcard_match("a*c", "acb", false));
    assert!(wildcard_match("a?c", "abc", false));
    assert!(!wildcard_match("a?c", "ac", false));
    assert!(
        wildcard_match("a?c", "aéc", false),
        "? is one character, not one byte"
    );
    assert!(wildcard_match("*/GET/*", "abc/prod/GET/pets/1", false));
    assert!(!wildcard_match("*/GET/*", "abc/prod/POST/pets/1", false));
    assert!(wildcard_match("a*b*c", "aXbYbZc", false));
    assert!(!wildcard_match("abc", "ABC", false));
    assert!(wildcard_match(
        "execute-api:invoke",
        "execute-api:Invoke",
        true
    ));
    assert!(wildcard_match("Execute-API:*", "execute-api:Invoke", true));
    assert!(!wildcard_match(
        "execute-api:Invalidate*",
        "execute-api:Invoke",
        true
    ));
}

const ARN_GET: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/pets";

#[test]
fn explicit_deny_wins_and_allow_is_needed() {
    let allow_all = Policy::allow(["*"], ["execute-api:Invoke"], ["*"]);
    let deny_get = Policy::deny(["AKID1"], ["execute-api:*"], ["*/GET/*"]);
    let allow_named = Policy::allow(
        ["arn:aws:iam::123456789012:user/bob"],
        ["*"],
        ["arn:aws:execute-api:us-east-1:123456789012:api1/*"],
    );

    let policies = [allow_all.clone(), deny_get.clone()];
    assert_eq!(
        evaluate(&policies, "AKID1", "alice", INVOKE_ACTION, ARN_GET),
        Decision::ExplicitDeny
    );
    // Order does not matter.
    let reversed = [deny_get.clone(), allow_all.clone()];
    assert_eq!(
        evaluate(&reversed, "AKID1", "alice", INVOKE_ACTION, ARN_GET),
        Decision::ExplicitDeny
    );
    // The deny names another key.
    assert_eq!(
        evaluate(&policies, "AKID2", "alice", INVOKE_ACTION, ARN_GET),
        Decision::Allow
    );
    // No allow at all.
    assert_eq!(
        evaluate(&[deny_get], "AKID2", "alice", INVOKE_ACTION, ARN_GET),
        Decision::ImplicitDeny
    );
    assert_eq!(
        evaluate(&[], "AKID2", "alice", INVOKE_ACTION, ARN_GET),
        Decision::ImplicitDeny
    );
    // Principals match by name as well as by key id; resources must match.
    let named = [allow_named];
    assert_eq!(
        evaluate(
            &named,
            "AKIDB",
            "arn:aws:iam::123456789012:user/bob",
            INVOKE_ACTION,
            ARN_GET
        ),
        Decision::Allow
    );
    assert_eq!(
        evaluate(
            &named,
            "AKIDB",
            "arn:aws:iam::123456789012:user/eve",
            INVOKE_ACTION,
            ARN_GET
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        evaluate(
            &named,
            "AKIDB",
            "arn:aws:iam::123456789012:user/bob",
            INVOKE_ACTION,
            "arn:aws:execute-api:us-east-1:123456789012:api2/prod/GET/pets"
        ),
        Decision::ImplicitDeny
    );
    // Actions must match too.
    let other_action = [Policy::allow(
        ["*"],
        ["execute-api:ManageConnections"],
        ["*"],
    )];
    assert_eq!(
        evaluate(&other_action, "AKID1", "alice", INVOKE_ACTION, ARN_GET),
        Decision::ImplicitDeny
    );
}

#[test]
fn execute_api_arns() {
    assert_eq!(
        execute_api_arn("us-east-1", "123456789012", "abc", "prod", "get", "/pets/1"),
        "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets/1"
    );
    assert_eq!(
        execute_api_arn("us-west-2", "123456782543", "vd2gh6uqw3", "api", "GET", "/"),
        "arn:aws:execute-api:us-west-2:123456782543:vd2gh6uqw3/api/GET/"
    );
    assert_eq!(
        execute_api_arn("eu-west-1", "1", "a", "$default", "POST", "items"),
        "arn:aws:execute-api:eu-west-1:1:a/$default/POST/items"
    );
}

// ---------------------------------------------------------------------------------------
// Error answers

#[test]
fn every_error_is_a_403_with_its_aws_type() {
    let cases = [
        (
            SigV4Error::MissingAuthenticationToken,
            "MissingAuthenticationTokenException",
        ),
        (
            SigV4Error::IncompleteSignature("x".into()),
            "IncompleteSignatureException",
        ),
        (
            SigV4Error::InvalidCredentialScope("x".into()),
            "InvalidSignatureException",
        ),
        (SigV4Error::HostNotSigned, "InvalidSignatureException"),
        (
            SigV4Error::SignatureExpired("x".into()),
            "InvalidSignatureException",
        ),
        (
            SigV4Error::SignatureNotYetCurrent("x".into()),
            "InvalidSignatureException",
        ),
        (SigV4Error::SignatureMismatch, "InvalidSignatureException"),
        (
            SigV4Error::UnrecognizedClient,
            "UnrecognizedClientException",
        ),
        (
            SigV4Error::InvalidSecurityToken,
            "UnrecognizedClientException",
        ),
        (
            SigV4Error::AccessDenied {
                action: "execute-api:Invoke",
                principal: "p".into(),
                resource: "r".into(),
                explicit_deny: false,
            },
            "AccessDeniedException",
        ),
    ];
    for (err, ty) in cases {
        assert_eq!(err.status(), StatusCode::FORBIDDEN, "{err:?}");
        assert_eq!(err.error_type(), ty, "{err:?}");
        let body: serde_json::Value = serde_json::from_str(&err.body()).unwrap();
        let key = if ty == "AccessDeniedException" {
            "Message"
        } else {
            "message"
        };
        assert_eq!(body[key], err.message(), "{err:?}");
    }
}

#[test]
fn bodies_escape_what_they_echo() {
    let err = SigV4Error::IncompleteSignature(r#"Authorization=a"b\c"#.into());
    assert_eq!(err.body(), r#"{"message":"Authorization=a\"b\\c"}"#);
}

#[test]
fn access_denied_masks_the_account() {
    let err = SigV4Error::AccessDenied {
        action: "execute-api:Invoke",
        principal: "anonymous".into(),
        resource: "arn:aws:execute-api:us-west-2:123456782543:vd2gh6uqw3/api/GET/".into(),
        explicit_deny: false,
    };
    assert_eq!(
        err.body(),
        r#"{"Message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-west-2:********2543:vd2gh6uqw3/api/GET/"}"#
    );
    // Something that is not an ARN is printed as it is.
    let err = SigV4Error::AccessDenied {
        action: "execute-api:Invoke",
        principal: "p".into(),
        resource: "not-an-arn".into(),
        explicit_deny: true,
    };
    assert_eq!(
        err.message(),
        "User: p is not authorized to perform: execute-api:Invoke on resource: not-an-arn \
         with an explicit deny"
    );
}

// ---------------------------------------------------------------------------------------
// Configuration

#[test]
fn configuration_is_validated() {
    let key = || AccessKey::new("AKID", "secret", "alice");
    let build = |keys: Vec<AccessKey>, policies: Vec<Policy>, region: &str, account: &str| {
        SigV4Verifier::new(keys, policies, region, account, DEFAULT_CLOCK_SKEW)
    };
    assert!(build(vec![key()], vec![], "us-east-1", "123456789012").is_ok());
    assert_eq!(
        build(vec![key(), key()], vec![], "us-east-1", "1").unwrap_err(),
        SigV4ConfigError::DuplicateAccessKey("AKID".into())
    );
    assert_eq!(
        build(
            vec![AccessKey::new("AK/ID", "s", "p")],
            vec![],
            "us-east-1",
            "1"
        )
        .unwrap_err(),
        SigV4ConfigError::InvalidAccessKey("AK/ID".into())
    );
    assert_eq!(
        build(
            vec![AccessKey::new("AKID", "", "p")],
            vec![],
            "us-east-1",
            "1"
        )
        .unwrap_err(),
        SigV4ConfigError::InvalidAccessKey("AKID".into())
    );
    assert_eq!(
        build(vec![], vec![], "", "1").unwrap_err(),
        SigV4ConfigError::InvalidRegion(String::new())
    );
    assert_eq!(
        build(vec![], vec![], "us-east-1", "12:3").unwrap_err(),
        SigV4ConfigError::InvalidAccountId("12:3".into())
    );
    assert_eq!(
        build(
            vec![],
            vec![Policy::allow(Vec::<String>::new(), ["*"], ["*"])],
            "us-east-1",
            "1"
        )
        .unwrap_err(),
        SigV4ConfigError::EmptyPolicy(0)
    );
    assert_eq!(
        SigV4Verifier::new(vec![], vec![], "us-east-1", "1", Duration::ZERO).unwrap_err(),
        SigV4ConfigError::ZeroClockSkew
    );
}

#[test]
fn debug_output_hides_secrets() {
    let key = AccessKey::new("AKID", "super-secret", "alice").with_session_token("tok-secret");
    let dbg = format!("{key:?}");
    assert!(
        !dbg.contains("super-secret") && !dbg.contains("tok-secret"),
        "{dbg}"
    );
    let v = SigV4Verifier::new(vec![key], vec![], "us-east-1", "1", DEFAULT_CLOCK_SKEW).unwrap();
    let dbg = format!("{v:?}");
    assert!(
        dbg.contains("AKID") && !dbg.contains("super-secret"),
        "{dbg}"
    );
}

#[test]
fn constant_time_eq_compares_bytes() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"abcd"));
    assert!(constant_time_eq(b"", b""));
}

// ---------------------------------------------------------------------------------------
// Round trip with aws-sigv4 as the client

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const HOST: &str = "abc.execute-api.us-east-1.amazonaws.com";

fn verifier(skew: Duration) -> SigV4Verifier {
    SigV4Verifier::new(
        vec![AccessKey::new(AKID, SECRET, "alice")],
        vec![Policy::allow(["*"], [INVOKE_ACTION], ["*"])],
        "us-east-1",
        "123456789012",
        skew,
    )
    .unwrap()
}

/// Signs like an AWS SDK for Rust client would, and returns the headers to send.
fn client_sign(method: &str, path_and_query: &str, body: &[u8], time: SystemTime) -> HeaderMap {
    let identity = Credentials::new(AKID, SECRET, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("execute-api")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let uri = format!("https://{HOST}{path_and_query}");
    let signable = SignableRequest::new(
        method,
        uri,
        [("content-type", "application/json")].into_iter(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut headers = HeaderMap::new();
    headers.insert(http::header::HOST, HeaderValue::from_static(HOST));
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in instructions.headers() {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

#[test]
fn aws_sdk_signatures_verify_up_to_the_edge_of_the_window() {
    let v = verifier(DEFAULT_CLOCK_SKEW);
    let headers = client_sign("POST", "/prod/items?x=1", b"{}", at(T0));
    let req = SignedRequest::new("POST", "/prod/items", Some("x=1"), &headers, b"{}");
    let principal = v.verify(&req, at(T0)).unwrap();
    assert_eq!(principal.access_key_id, AKID);
    assert_eq!(principal.principal, "alice");
    // Exactly 15 minutes either way still verifies; one second more does not.
    assert!(v.verify(&req, at(T0 + 900)).is_ok());
    assert!(v.verify(&req, at(T0 - 900)).is_ok());
    assert_eq!(
        v.verify(&req, at(T0 + 901)).unwrap_err(),
        SigV4Error::SignatureExpired(
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z \
             (20150830T125101Z - 15 min.)"
                .into()
        )
    );
    assert_eq!(
        v.verify(&req, at(T0 - 901)).unwrap_err(),
        SigV4Error::SignatureNotYetCurrent(
            "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z \
             (20150830T122059Z + 15 min.)"
                .into()
        )
    );
    // A stricter window (API Gateway's observed 5 minutes) prints its own length.
    let strict = verifier(Duration::from_secs(300));
    assert!(matches!(
        strict.verify(&req, at(T0 + 301)),
        Err(SigV4Error::SignatureExpired(m)) if m.ends_with("- 5 min.)")
    ));
}

#[test]
fn http2_authority_stands_in_for_a_missing_host_header() {
    let v = verifier(DEFAULT_CLOCK_SKEW);
    let mut headers = client_sign("GET", "/prod/items", b"", at(T0));
    headers.remove(http::header::HOST);
    let req = SignedRequest::new("GET", "/prod/items", None, &headers, b"");
    assert_eq!(
        v.verify(&req, at(T0)).unwrap_err(),
        SigV4Error::IncompleteSignature(
            "'host' is named as a SignedHeader, but it does not exist in the HTTP request.".into()
        )
    );
    assert!(v.verify(&req.with_authority(HOST), at(T0)).is_ok());
    assert!(v
        .verify(&req.with_authority("other.example"), at(T0))
        .is_err());
}

#[test]
fn scope_date_must_be_the_request_date() {
    let v = verifier(DEFAULT_CLOCK_SKEW);
    let mut headers = client_sign("GET", "/prod/items", b"", at(T0));
    let auth = headers[http::header::AUTHORIZATION]
        .to_str()
        .unwrap()
        .replace("/20150830/", "/20150829/");
    headers.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&auth).unwrap(),
    );
    let req = SignedRequest::new("GET", "/prod/items", None, &headers, b"");
    assert_eq!(
        v.verify(&req, at(T0)).unwrap_err(),
        SigV4Error::InvalidCredentialScope(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '20150829' != '20150830', from '20150830T123600Z'."
                .into()
        )
    );
}

#[test]
fn unsupported_algorithm_is_incomplete_signature() {
    let v = verifier(DEFAULT_CLOCK_SKEW);
    let mut headers = client_sign("GET", "/prod/items", b"", at(T0));
    let auth = headers[http::header::AUTHORIZATION]
        .to_str()
        .unwrap()
        .replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256");
    headers.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&auth).unwrap(),
    );
    let req = SignedRequest::new("GET", "/prod/items", None, &headers, b"");
    assert_eq!(
        v.verify(&req, at(T0)).unwrap_err(),
        SigV4Error::IncompleteSignature(
            "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'.".into()
        )
    );
}

#[test]
fn signature_is_compared_exactly() {
    let v = verifier(DEFAULT_CLOCK_SKEW);
    let mut headers = client_sign("GET", "/prod/items", b"", at(T0));
    let auth = headers[http::header::AUTHORIZATION]
        .to_str()
        .unwrap()
        .to_owned();
    let (head, sig) = auth.rsplit_once("Signature=").unwrap();
    for forged in [
        sig.to_ascii_uppercase(),
        sig[..63].to_owned(),
        format!("{sig}0"),
        "0".repeat(64),
    ] {
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("{head}Signature={forged}")).unwrap(),
        );
        let req = SignedRequest::new("GET", "/prod/items", None, &headers, b"");
        assert_eq!(
            v.verify(&req, at(T0)).unwrap_err(),
            SigV4Error::SignatureMismatch,
            "{forged}"
        );
    }
}
