//! IAM authorization end to end: requests signed by **botocore** (`SigV4Auth`, the signer of
//! boto3 and the AWS CLI) are verified by [`SigV4Verifier`].
//!
//! botocore runs in a Python interpreter: `$TOLLGATE_TEST_PYTHON`, or else
//! `target/pyenv/bin/python3` under the workspace root. Set that venv up with
//!
//! ```sh
//! python3 -m venv target/pyenv && target/pyenv/bin/pip install botocore
//! ```
//!
//! Without botocore these tests fail (they never skip). The helper script,
//! `tests/sigv4_sign.py`, signs at a fixed time so a test can sign "16 minutes ago"; every
//! test verifies at [`NOW`].

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Value};
use tollgate_auth::sigv4::DEFAULT_CLOCK_SKEW;
use tollgate_auth::{AccessKey, IamPrincipal, Policy, SigV4Error, SigV4Verifier, SignedRequest};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
const API: &str = "abc123";
const HOST: &str = "abc123.execute-api.us-east-1.amazonaws.com";
const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const BOB_KEY: &str = "AKIDBOB";
const BOB_SECRET: &str = "bobsecretbobsecretbobsecret";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";
const TEMP_KEY: &str = "ASIATEMP";
const TEMP_SECRET: &str = "tempsecret";
const TEMP_TOKEN: &str = "FwoGZXIvYXdzEXAMPLETOKEN//////////wEaDA==";
/// 2025-03-01T12:00:00Z, the gateway's clock in every test.
const NOW_EPOCH: u64 = 1_740_830_400;
const NOW: fn() -> SystemTime = || UNIX_EPOCH + Duration::from_secs(NOW_EPOCH);

// ---------------------------------------------------------------------------------------
// botocore

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TOLLGATE_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python3");
    assert!(
        venv.exists(),
        "these tests sign requests with botocore, and found no Python for it: set \
         TOLLGATE_TEST_PYTHON to a python3 that can `import botocore`, or create {} with \
         `python3 -m venv target/pyenv && target/pyenv/bin/pip install botocore` (run in the \
         workspace root)",
        venv.display()
    );
    venv
}

/// Fails loudly, once, when the interpreter cannot import botocore.
fn check_botocore() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let py = python();
        let out = Command::new(&py)
            .args(["-c", "import botocore; print(botocore.__version__)"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()));
        assert!(
            out.status.success(),
            "botocore is missing for {}: run `{} -m pip install botocore` (or `python3 -m venv \
             target/pyenv && target/pyenv/bin/pip install botocore` in the workspace root, or \
             point TOLLGATE_TEST_PYTHON at a python3 with botocore)\n{}",
            py.display(),
            py.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// A request as botocore signed it, ready to be "received".
#[derive(Debug, Clone)]
struct Signed {
    method: String,
    path: String,
    query: Option<String>,
    host: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Signed {
    /// The headers as the gateway receives them, `Host` included (botocore signs the host
    /// from the URL; the HTTP client sends it).
    fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            http::header::HOST,
            HeaderValue::from_str(&self.host).unwrap(),
        );
        for (name, value) in &self.headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("botocore sent no {name} header: {:?}", self.headers))
    }

    fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    fn verify(&self, verifier: &SigV4Verifier) -> Result<IamPrincipal, SigV4Error> {
        self.verify_at(verifier, NOW())
    }

    fn verify_at(
        &self,
        verifier: &SigV4Verifier,
        now: SystemTime,
    ) -> Result<IamPrincipal, SigV4Error> {
        let headers = self.header_map();
        let req = SignedRequest::new(
            &self.method,
            &self.path,
            self.query.as_deref(),
            &headers,
            &self.body,
        );
        verifier.verify(&req, now)
    }
}

/// Signs with botocore. `spec` holds `method`, `url` and optionally `headers`, `params`,
/// `body`; the key, region and service default to Alice's key for `execute-api` in
/// [`REGION`], and the time to [`NOW`] (override with `epoch`).
fn sign(spec: Value) -> Signed {
    check_botocore();
    let mut spec = spec;
    let obj = spec.as_object_mut().unwrap();
    for (k, v) in [
        ("access_key", json!(AKID)),
        ("secret_key", json!(SECRET)),
        ("region", json!(REGION)),
        ("service", json!("execute-api")),
        ("epoch", json!(NOW_EPOCH)),
    ] {
        obj.entry(k).or_insert(v);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sigv4_sign.py");
    let mut child = Command::new(python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the botocore signer");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "botocore signer failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("signer prints JSON");
    Signed {
        method: v["method"].as_str().unwrap().to_owned(),
        path: v["path"].as_str().unwrap().to_owned(),
        query: v["query"].as_str().map(str::to_owned),
        host: v["host"].as_str().unwrap().to_owned(),
        headers: v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_owned(),
                    h[1].as_str().unwrap().to_owned(),
                )
            })
            .collect(),
        body: v["body"]
            .as_str()
            .map(|b| b.as_bytes().to_vec())
            .unwrap_or_default(),
    }
}

fn url(path_and_query: &str) -> String {
    format!("https://{HOST}{path_and_query}")
}

// ---------------------------------------------------------------------------------------
// The gateway's configuration

fn verifier() -> SigV4Verifier {
    verifier_with(vec![
        Policy::allow(
            [ALICE],
            ["execute-api:Invoke"],
            ["arn:aws:execute-api:us-east-1:123456789012:abc123/*"],
        ),
        Policy::allow(
            [BOB_KEY],
            ["execute-api:*"],
            ["arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/*"],
        ),
        Policy::deny(
            ["*"],
            ["execute-api:Invoke"],
            ["arn:aws:execute-api:us-east-1:123456789012:abc123/*/DELETE/*"],
        ),
        Policy::allow([TEMP_KEY], ["*"], ["*"]),
    ])
}

fn verifier_with(policies: Vec<Policy>) -> SigV4Verifier {
    SigV4Verifier::new(
        vec![
            AccessKey::new(AKID, SECRET, ALICE),
            AccessKey::new(BOB_KEY, BOB_SECRET, BOB),
            AccessKey::new(
                TEMP_KEY,
                TEMP_SECRET,
                "arn:aws:sts::123456789012:assumed-role/r/s",
            )
            .with_session_token(TEMP_TOKEN),
        ],
        policies,
        REGION,
        ACCOUNT,
        DEFAULT_CLOCK_SKEW,
    )
    .unwrap()
}

fn alice() -> IamPrincipal {
    IamPrincipal {
        access_key_id: AKID.to_owned(),
        principal: ALICE.to_owned(),
    }
}

fn assert_invalid_signature(result: Result<IamPrincipal, SigV4Error>) {
    let err = result.expect_err("the signature must not verify");
    assert_eq!(err, SigV4Error::SignatureMismatch);
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert_eq!(err.error_type(), "InvalidSignatureException");
    assert_eq!(
        err.body(),
        r#"{"message":"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}"#
    );
}

// ---------------------------------------------------------------------------------------
// Requests botocore signs correctly verify

#[test]
fn get_with_query_string_verifies() {
    let v = verifier();
    let signed = sign(json!({
        "method": "GET",
        "url": url("/prod/pets?sort=desc&b=2&a=hello%20world&a=x%2Fy&empty=&tilde=~ok"),
    }));
    assert_eq!(
        signed.query.as_deref(),
        Some("sort=desc&b=2&a=hello%20world&a=x%2Fy&empty=&tilde=~ok"),
        "the query goes on the wire unsorted, as the client wrote it"
    );
    let principal = signed.verify(&v).expect("botocore's signature verifies");
    assert_eq!(principal, alice());
    v.authorize(&principal, &v.resource_arn(API, "prod", "GET", "/pets"))
        .expect("Alice may invoke the whole API");
}

#[test]
fn query_params_botocore_encodes_itself_verify() {
    // botocore signs `params` with spaces as %20 but sends them form-encoded (`+`), so the
    // verifier must read `+` as a space, which aws-sigv4's canonicalisation does.
    let signed = sign(json!({
        "method": "GET",
        "url": url("/prod/search"),
        "params": [["q", "red shoes+socks"], ["path", "a/b"], ["name", "café ☕"], ["star", "*"]],
    }));
    assert!(
        signed
            .query
            .as_deref()
            .unwrap()
            .contains("q=red+shoes%2Bsocks"),
        "{:?}",
        signed.query
    );
    signed.verify(&verifier()).expect("verifies");
}

#[test]
fn post_with_json_body_verifies() {
    let signed = sign(json!({
        "method": "POST",
        "url": url("/prod/orders"),
        "headers": [["Content-Type", "application/json"]],
        "body": r#"{"item":"book","qty":2,"note":"naïve"}"#,
    }));
    let headers = signed.header_map();
    assert!(
        signed
            .header("Authorization")
            .contains("content-type;host;x-amz-date"),
        "{}",
        signed.header("Authorization")
    );
    assert!(headers.contains_key("content-type"));
    signed.verify(&verifier()).expect("verifies");
}

#[test]
fn path_with_characters_that_need_encoding_verifies() {
    // Spaces, an encoded slash, UTF-8, `@`, `:`, sub-delims and `~` as a client sends them:
    // botocore URI-encodes the already-encoded path once more (every service but S3), and so
    // must the verifier.
    let path = "/prod/a%20b/x%2Fy/caf%C3%A9/%40connections/k:v/it's(1)*!/~me";
    let signed = sign(json!({ "method": "GET", "url": url(path) }));
    assert_eq!(signed.path, path);
    signed.verify(&verifier()).expect("verifies");
}

#[test]
fn path_with_dot_segments_and_double_slashes_verifies() {
    // Both botocore and aws-sigv4 normalise the path before signing.
    let signed = sign(json!({ "method": "GET", "url": url("/prod//a/./b/../c/") }));
    assert_eq!(signed.path, "/prod//a/./b/../c/");
    signed.verify(&verifier()).expect("verifies");
}

#[test]
fn mixed_case_headers_with_extra_spaces_verify() {
    let signed = sign(json!({
        "method": "PUT",
        "url": url("/prod/items/7"),
        "headers": [
            ["X-Custom-HEADER", "  several   inner    spaces  "],
            ["content-TYPE", "text/plain;  charset=utf-8"],
            ["X-Empty-Ish", " x "],
        ],
        "body": "hello",
    }));
    assert!(signed
        .header("Authorization")
        .contains("SignedHeaders=content-type;host;x-amz-date;x-custom-header;x-empty-ish"));
    signed.verify(&verifier()).expect("verifies");
}

#[test]
fn date_header_instead_of_x_amz_date_verifies() {
    // With a `Date` header botocore dates the request by it (RFC 2822, `-0000`) and signs no
    // `x-amz-date`.
    let signed = sign(json!({
        "method": "GET",
        "url": url("/prod/pets"),
        "headers": [["Date", "placeholder"]],
    }));
    assert!(
        signed.header("Date").ends_with("-0000"),
        "{}",
        signed.header("Date")
    );
    assert!(signed.headers.iter().all(|(n, _)| n != "X-Amz-Date"));
    signed.verify(&verifier()).expect("verifies");
}

#[test]
fn session_token_verifies_when_configured() {
    let signed = sign(json!({
        "method": "GET",
        "url": url("/prod/pets"),
        "access_key": TEMP_KEY,
        "secret_key": TEMP_SECRET,
        "token": TEMP_TOKEN,
    }));
    assert!(signed
        .header("Authorization")
        .contains("x-amz-security-token"));
    let principal = signed.verify(&verifier()).expect("verifies");
    assert_eq!(principal.access_key_id, TEMP_KEY);
}

#[test]
fn content_sha256_header_with_the_real_hash_verifies() {
    let body = "payload";
    let hash = "239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5";
    let signed = sign(json!({
        "method": "POST",
        "url": url("/prod/upload"),
        "headers": [["X-Amz-Content-SHA256", hash]],
        "body": body,
    }));
    signed.verify(&verifier()).expect("verifies");
}

// ---------------------------------------------------------------------------------------
// Security cases

#[test]
fn wrong_secret_is_an_invalid_signature() {
    let signed = sign(json!({
        "method": "GET",
        "url": url("/prod/pets"),
        "secret_key": "not-alices-secret",
    }));
    assert_invalid_signature(signed.verify(&verifier()));
}

#[test]
fn unknown_key_id_is_unrecognized() {
    let signed = sign(json!({
        "method": "GET",
        "url": url("/prod/pets"),
        "access_key": "AKIDUNKNOWN",
    }));
    let err = signed.verify(&verifier()).unwrap_err();
    assert_eq!(err, SigV4Error::UnrecognizedClient);
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert_eq!(err.error_type(), "UnrecognizedClientException");
    assert_eq!(
        err.body(),
        r#"{"message":"The security token included in the request is invalid."}"#
    );
}

#[test]
fn request_signed_16_minutes_ago_is_expired() {
    let signed = sign(json!({
        "method": "GET",
        "url": url("/prod/pets"),
        "epoch": NOW_EPOCH - 16 * 60,
    }));
    let err = signed.verify(&verifier()).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::SignatureExpired(
            "Signature expired: 20250301T114400Z is now earlier than 20250301T114500Z \
             (20250301T120000Z - 15 min.)"
                .to_owned()
        )
    );
    assert_eq!(err.error_type(), "InvalidSignatureException");
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        err.body(),
        r#"{"message":"Signature expired: 20250301T114400Z is now earlier than 20250301T114500Z (20250301T120000Z - 15 min.)"}"#
    );
}

#[test]
fn replay_outside_the_window_is_refused_although_it_verified_before() {
    // The same signed request, replayed 16 minutes after it was signed.
    let signed = sign(json!({ "method": "GET", "url": url("/prod/pets") }));
    let v = verifier();
    signed.verify(&v).expect("fresh, it verifies");
    let later = NOW() + Duration::from_secs(16 * 60);
    assert!(matches!(
        signed.verify_at(&v, later),
        Err(SigV4Error::SignatureExpired(_))
    ));
}

#[test]
fn request_signed_14_minutes_ago_verifies() {
    let signed = sign(json!({
        "method": "GET",
        "url": url("/prod/pets"),
        "epoch": NOW_EPOCH - 14 * 60,
    }));
    signed
        .verify(&verifier())
        .expect("inside the 15-minute window");
}

#[test]
fn request_signed_16_minutes_ahead_is_not_yet_current() {
    let signed = sign(json!({
        "method": "GET",
        "url": url("/prod/pets"),
        "epoch": NOW_EPOCH + 16 * 60,
    }));
    let err = signed.verify(&verifier()).unwrap_err();
    assert_eq!(
        err.message(),
        "Signature not yet current: 20250301T121600Z is still later than 20250301T121500Z \
         (20250301T120000Z + 15 min.)"
    );
    assert_eq!(err.error_type(), "InvalidSignatureException");
}

#[test]
fn body_changed_after_signing_is_an_invalid_signature() {
    let mut signed = sign(json!({
        "method": "POST",
        "url": url("/prod/transfers"),
        "headers": [["Content-Type", "application/json"]],
        "body": r#"{"amount":10}"#,
    }));
    signed.verify(&verifier()).expect("untouched, it verifies");
    signed.body = br#"{"amount":10000}"#.to_vec();
    assert_invalid_signature(signed.verify(&verifier()));
}

#[test]
fn body_changed_with_a_matching_content_sha256_is_still_invalid() {
    // The client's own hash header cannot vouch for a body: the verifier hashes the body.
    let mut signed = sign(json!({
        "method": "POST",
        "url": url("/prod/transfers"),
        "headers": [["X-Amz-Content-SHA256", "239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5"]],
        "body": "payload",
    }));
    signed.body = b"tampered".to_vec();
    assert_invalid_signature(signed.verify(&verifier()));
}

#[test]
fn unsigned_payload_is_refused() {
    let signed = sign(json!({
        "method": "POST",
        "url": url("/prod/upload"),
        "headers": [["X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"]],
        "body": "anything",
    }));
    assert_invalid_signature(signed.verify(&verifier()));
}

#[test]
fn query_param_added_after_signing_is_an_invalid_signature() {
    let mut signed = sign(json!({ "method": "GET", "url": url("/prod/pets?limit=10") }));
    signed.verify(&verifier()).expect("untouched, it verifies");
    signed.query = Some("limit=10&admin=true".to_owned());
    assert_invalid_signature(signed.verify(&verifier()));
}

#[test]
fn path_or_method_changed_after_signing_is_an_invalid_signature() {
    let signed = sign(json!({ "method": "GET", "url": url("/prod/pets/1") }));
    let mut other_path = signed.clone();
    other_path.path = "/prod/pets/2".to_owned();
    assert_invalid_signature(other_path.verify(&verifier()));
    let mut other_method = signed;
    other_method.method = "DELETE".to_owned();
    assert_invalid_signature(other_method.verify(&verifier()));
}

#[test]
fn signed_header_changed_after_signing_is_an_invalid_signature() {
    let mut signed = sign(json!({
        "method": "GET",
        "url": url("/prod/pets"),
        "headers": [["X-Tenant", "acme"]],
    }));
    signed.set_header("X-Tenant", "evil");
    assert_invalid_signature(signed.verify(&verifier()));
}

#[test]
fn unsigned_header_added_after_signing_still_verifies() {
    let mut signed = sign(json!({ "method": "GET", "url": url("/prod/pets") }));
    signed.set_header("X-Forwarded-For", "10.0.0.1");
    signed.set_header("User-Agent", "changed-by-a-proxy");
    signed
        .verify(&verifier())
        .expect("only signed headers count");
}

#[test]
fn host_not_signed_is_refused() {
    let mut signed = sign(json!({ "method": "GET", "url": url("/prod/pets") }));
    let auth = signed
        .header("Authorization")
        .replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date");
    signed.set_header("Authorization", &auth);
    let err = signed.verify(&verifier()).unwrap_err();
    assert_eq!(err, SigV4Error::HostNotSigned);
    assert_eq!(err.error_type(), "InvalidSignatureException");
    assert_eq!(
        err.body(),
        r#"{"message":"'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."}"#
    );
}

#[test]
fn host_changed_after_signing_is_an_invalid_signature() {
    let mut signed = sign(json!({ "method": "GET", "url": url("/prod/pets") }));
    signed.host = "evil.example.com".to_owned();
    assert_invalid_signature(signed.verify(&verifier()));
}

#[test]
fn wrong_region_and_service_are_refused_with_aws_texts() {
    let signed = sign(json!({
        "method": "GET",
        "url": url("/prod/pets"),
        "region": "eu-west-1",
        "service": "lambda",
    }));
    let err = signed.verify(&verifier()).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::InvalidCredentialScope(
            "Credential should be scoped to a valid region, not 'eu-west-1'. Credential should \
             be scoped to correct service: 'execute-api'. "
                .to_owned()
        )
    );
    assert_eq!(err.error_type(), "InvalidSignatureException");
}

#[test]
fn session_token_mismatches_are_refused() {
    // A token that is not the configured one.
    let wrong = sign(json!({
        "method": "GET",
        "url": url("/prod/pets"),
        "access_key": TEMP_KEY,
        "secret_key": TEMP_SECRET,
        "token": "someone-elses-token",
    }));
    let err = wrong.verify(&verifier()).unwrap_err();
    assert_eq!(err, SigV4Error::InvalidSecurityToken);
    assert_eq!(err.error_type(), "UnrecognizedClientException");

    // The temporary key used without its token.
    let missing = sign(json!({
        "method": "GET",
        "url": url("/prod/pets"),
        "access_key": TEMP_KEY,
        "secret_key": TEMP_SECRET,
    }));
    assert_eq!(
        missing.verify(&verifier()).unwrap_err(),
        SigV4Error::InvalidSecurityToken
    );

    // A token sent with a long-term key.
    let extra = sign(json!({
        "method": "GET",
        "url": url("/prod/pets"),
        "token": "a-token",
    }));
    assert_eq!(
        extra.verify(&verifier()).unwrap_err(),
        SigV4Error::InvalidSecurityToken
    );
}

#[test]
fn missing_authorization_is_missing_authentication_token() {
    let mut signed = sign(json!({ "method": "GET", "url": url("/prod/pets") }));
    signed.headers.retain(|(n, _)| n != "Authorization");
    let err = signed.verify(&verifier()).unwrap_err();
    assert_eq!(err, SigV4Error::MissingAuthenticationToken);
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert_eq!(err.error_type(), "MissingAuthenticationTokenException");
    assert_eq!(err.body(), r#"{"message":"Missing Authentication Token"}"#);
}

#[test]
fn malformed_authorization_is_incomplete_signature() {
    let mut signed = sign(json!({ "method": "GET", "url": url("/prod/pets") }));
    signed.set_header("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig");
    let err = signed.verify(&verifier()).unwrap_err();
    assert_eq!(err.error_type(), "IncompleteSignatureException");
    assert_eq!(
        err.message(),
        "'eyJhbGciOiJIUzI1NiJ9.e30.sig' not a valid key=value pair (missing equal-sign) in \
         Authorization header: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig'."
    );

    let auth = signed.header("Authorization").to_owned();
    signed.set_header(
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250301/us-east-1/execute-api/aws4_request",
    );
    let err = signed.verify(&verifier()).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::IncompleteSignature(
            "Authorization header requires 'Signature' parameter. Authorization header requires \
             'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 \
             Credential=AKIDEXAMPLE/20250301/us-east-1/execute-api/aws4_request"
                .to_owned()
        )
    );
    assert_ne!(auth, signed.header("Authorization"));
}

// ---------------------------------------------------------------------------------------
// Authorization (policies)

#[test]
fn explicit_deny_wins_over_allow() {
    let v = verifier();
    let signed = sign(json!({ "method": "DELETE", "url": url("/prod/pets/1") }));
    let principal = signed.verify(&v).expect("the signature is fine");
    let arn = v.resource_arn(API, "prod", "DELETE", "/pets/1");
    assert_eq!(
        arn,
        "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/DELETE/pets/1"
    );
    let err = v.authorize(&principal, &arn).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::AccessDenied {
            action: "execute-api:Invoke",
            principal: ALICE.to_owned(),
            resource: arn.clone(),
            explicit_deny: true,
        }
    );
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert_eq!(err.error_type(), "AccessDeniedException");
    assert_eq!(
        err.body(),
        r#"{"Message":"User: arn:aws:iam::123456789012:user/alice is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:********9012:abc123/prod/DELETE/pets/1 with an explicit deny"}"#
    );
    assert_eq!(
        v.verify_and_authorize(
            &SignedRequest::new(
                &signed.method,
                &signed.path,
                None,
                &signed.header_map(),
                &signed.body
            ),
            NOW(),
            &arn
        ),
        Err(err)
    );
}

#[test]
fn no_matching_allow_is_an_implicit_deny() {
    let v = verifier();
    let signed = sign(json!({
        "method": "POST",
        "url": url("/prod/pets"),
        "access_key": BOB_KEY,
        "secret_key": BOB_SECRET,
    }));
    let bob = signed.verify(&v).expect("Bob's signature is fine");
    v.authorize(&bob, &v.resource_arn(API, "prod", "GET", "/pets"))
        .expect("Bob may GET in prod");
    let arn = v.resource_arn(API, "prod", "POST", "/pets");
    let err = v.authorize(&bob, &arn).unwrap_err();
    assert_eq!(
        err.message(),
        "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: \
         execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:********9012:abc123/prod/POST/pets"
    );
    assert!(matches!(
        err,
        SigV4Error::AccessDenied {
            action: "execute-api:Invoke",
            explicit_deny: false,
            ..
        }
    ));
    // And nothing at all is allowed without policies.
    let locked = verifier_with(Vec::new());
    assert!(locked
        .authorize(&alice(), &locked.resource_arn(API, "prod", "GET", "/"))
        .is_err());
}
