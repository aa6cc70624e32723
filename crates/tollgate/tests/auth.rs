//! The JWT authorizer through the real binary, with tokens signed by a test issuer whose JWKS
//! is served over HTTP; path tricks that must not reach a protected route; denied requests
//! metered as non-billable.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use support::{client, Gateway};
use tollgate_store::{Ledger, OpenMode, SqliteLedger, SqliteOptions};
use tollgate_test_support::{
    spawn_echo_upstream, spawn_jwt_issuer, spawn_lambda, JwtIssuer, LambdaReply,
};
use tollgate_types::usage::{Dimension, UsageQuery};

fn config(issuer: &str, upstream: &str, lambda: &str) -> String {
    format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
metering: {{flush_interval_ms: 200}}
apis:
  - name: shop
    authorizers:
      users: {{type: jwt, issuer: "{issuer}", audience: [app]}}
    routes:
      - {{key: "GET /private", integration: echo, authorizer: users, authorization_scopes: [read]}}
      - {{key: "GET /fn", integration: fn, authorizer: users}}
      - {{key: "GET /public/{{proxy+}}", integration: echo}}
    integrations:
      echo:
        type: http_proxy
        uri: "{upstream}/echo"
        request_parameters:
          "append:header.x-user": "$context.authorizer.claims.sub"
      fn: {{type: lambda, endpoint: "{lambda}", function: f}}
"#
    )
}

async fn get(gw: &Gateway, path: &str, token: Option<&str>) -> (u16, Option<String>, String) {
    let mut req = client().get(format!("{}{path}", gw.url("main")));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, www, resp.text().await.unwrap())
}

struct Setup {
    gw: Gateway,
    issuer: JwtIssuer,
    lambda: tollgate_test_support::LambdaServer,
    _upstream: tollgate_test_support::Upstream,
}

async fn setup() -> Setup {
    let issuer = spawn_jwt_issuer().await;
    let upstream = spawn_echo_upstream().await;
    let lambda = spawn_lambda(|_, _| {
        LambdaReply::Ok(
            json!({"statusCode": 200, "body": "fn"})
                .to_string()
                .into_bytes(),
        )
    })
    .await;
    let gw = Gateway::start_with(
        &config(&issuer.issuer(), &upstream.url(), &lambda.endpoint()),
        &["--workers", "2"],
    );
    Setup {
        gw,
        issuer,
        lambda,
        _upstream: upstream,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_tokens_pass_with_their_claims_and_bad_ones_get_aws_answers() {
    // Bind every field: a server dropped here would stop serving.
    let Setup {
        mut gw,
        issuer,
        lambda,
        _upstream,
    } = setup().await;
    let good = issuer.token(&issuer.claims("app", "alice", "read write"));

    let (s, _, body) = get(&gw, "/private", Some(&good)).await;
    assert_eq!(s, 200, "{body}");
    let echoed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        echoed["headers"]["x-user"],
        json!(["alice"]),
        "claims reach the integration"
    );

    // Payload 2.0: requestContext.authorizer.jwt.
    let (s, _, _) = get(&gw, "/fn", Some(&good)).await;
    assert_eq!(s, 200);
    let events = lambda.events();
    let (_, event) = events.last().unwrap();
    assert_eq!(
        event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"],
        "alice"
    );
    assert_eq!(
        event["requestContext"]["authorizer"]["jwt"]["scopes"],
        json!(["read", "write"])
    );

    let unauthorized = r#"{"message":"Unauthorized"}"#;
    let mut expired = issuer.claims("app", "alice", "read");
    expired["exp"] = json!(tollgate_test_support_now() - 60);
    let none_alg = {
        let parts: Vec<&str> = good.split('.').collect();
        let header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
        format!("{header}.{}.", parts[1])
    };
    for (name, token) in [
        ("missing", None),
        ("expired", Some(issuer.token(&expired))),
        (
            "wrong audience",
            Some(issuer.token(&issuer.claims("other", "alice", "read"))),
        ),
        (
            "forged",
            Some(issuer.forged(&issuer.claims("app", "alice", "read"))),
        ),
        ("alg none", Some(none_alg)),
        ("garbage", Some("not.a.token".to_owned())),
    ] {
        let (s, www, body) = get(&gw, "/private", token.as_deref()).await;
        assert_eq!((s, body.as_str()), (401, unauthorized), "{name}");
        assert!(www.unwrap_or_default().starts_with("Bearer"), "{name}");
    }
    // Authenticated, but without the route's scope: 403.
    let (s, _, body) = get(
        &gw,
        "/private",
        Some(&issuer.token(&issuer.claims("app", "bob", "write"))),
    )
    .await;
    assert_eq!((s, body.as_str()), (403, r#"{"message":"Forbidden"}"#));

    // The keys were fetched once, off the request path, and cached.
    assert_eq!(issuer.jwks_hits(), 1);

    gw.signal("TERM");
    assert!(gw.wait(Duration::from_secs(20)).is_some());
    let mut ledger = SqliteLedger::open(
        gw.dir.path().join("tollgate.db"),
        OpenMode::MustExist,
        SqliteOptions::default(),
    )
    .unwrap();
    let rows = ledger
        .query(&UsageQuery {
            from: 0,
            to: 4_102_444_800,
            group_by: vec![Dimension::Route, Dimension::Reason],
        })
        .unwrap();
    let denied: u64 = rows
        .iter()
        .filter(|r| {
            r.meter.name() == "http_requests"
                && r.group == ["GET /private", "auth_failed"]
                && !r.billable
        })
        .map(|r| r.counts.events)
        .sum();
    assert_eq!(
        denied, 7,
        "every denial is metered, none billable: {rows:#?}"
    );
    // An authorized request's client is the token's subject, not its address.
    let by_client = ledger
        .query(&UsageQuery {
            from: 0,
            to: 4_102_444_800,
            group_by: vec![Dimension::Route, Dimension::Reason, Dimension::Client],
        })
        .unwrap();
    let served: Vec<&str> = by_client
        .iter()
        .filter(|r| r.meter.name() == "http_requests" && r.group[1] == "integration")
        .map(|r| r.group[2].as_str())
        .collect();
    assert_eq!(served, ["alice", "alice"], "{by_client:#?}");
    assert!(by_client
        .iter()
        .filter(|r| r.group[1] == "auth_failed")
        .all(|r| r.group[2] == "127.0.0.1"));
}

/// Send a raw request line (clients normalise `..` before sending; attackers do not).
fn raw_status(gw: &Gateway, target: &str) -> u16 {
    let mut s = TcpStream::connect(gw.listeners["main"]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn path_tricks_never_reach_a_protected_route_unauthorized() {
    let setup = setup().await;
    let gw = &setup.gw;
    assert_eq!(
        raw_status(gw, "/public/anything"),
        200,
        "the open route works"
    );
    for trick in [
        "/public/../private",
        "/public/./../private",
        "/public/%2e%2e/private",
        "/public/%2E%2E/private",
        "/public/..%2fprivate",
        "/public/..%2Fprivate",
        "/public/..%5cprivate",
        "/public/..\\private",
    ] {
        assert_eq!(raw_status(gw, trick), 400, "{trick}");
    }
    // Doubled slashes are collapsed: the protected route, with its authorizer.
    assert_eq!(raw_status(gw, "//private"), 401);
    assert_eq!(raw_status(gw, "/public//x"), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_authorization_headers_and_header_casing() {
    let setup = setup().await;
    let (gw, issuer) = (&setup.gw, &setup.issuer);
    let good = issuer.token(&issuer.claims("app", "alice", "read"));
    let url = format!("{}/private", gw.url("main"));
    let c = client();
    let s = c
        .get(&url)
        .header("AUTHORIZATION", format!("bearer {good}"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        s, 200,
        "header names and the Bearer scheme are case-insensitive"
    );
    let s = c
        .get(&url)
        .header("authorization", format!("Bearer {good}"))
        .header("authorization", "Bearer other")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s, 401, "two Authorization headers are ambiguous: denied");
}

fn tollgate_test_support_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `examples/auth.yaml` as its header comment documents it, on free ports, with tokens from
/// `examples/mint-token.sh` (openssl).
#[tokio::test(flavor = "multi_thread")]
async fn auth_example_serves_the_demo() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (main, idp, admin) = (free(), free(), free());
    let yaml = std::fs::read_to_string(format!("{root}/examples/auth.yaml"))
        .unwrap()
        .replace("127.0.0.1:18082", &format!("127.0.0.1:{main}"))
        .replace("127.0.0.1:18083", &format!("127.0.0.1:{idp}"))
        .replace("127.0.0.1:19182", &format!("127.0.0.1:{admin}"));
    let gw = Gateway::start(&yaml);
    let mint = |sub: &str, scope: &str| {
        let out = std::process::Command::new(format!("{root}/examples/mint-token.sh"))
            .args([sub, scope])
            .env("ISSUER", format!("http://127.0.0.1:{idp}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let c = client();
    let base = gw.url("main");

    let r = c
        .get(format!("{base}/private"))
        .header("authorization", format!("Bearer {}", mint("alice", "read")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-user"], "alice");
    assert_eq!(r.text().await.unwrap(), "a private hello\n");
    let r = c
        .get(format!("{base}/private"))
        .header("authorization", format!("Bearer {}", mint("bob", "write")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no read scope");
    assert_eq!(
        c.get(format!("{base}/private"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    assert_eq!(
        c.get(format!("{base}/keyed"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let r = c
        .get(format!("{base}/keyed"))
        .header("x-api-key", "demo-key-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let quotas: Value = c
        .get(format!("{}/admin/quotas", gw.admin_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(quotas["quotas"][0]["limit"], 100);
    assert_eq!(quotas["quotas"][0]["remaining"], 99);

    let mut codes = Vec::new();
    for _ in 0..30 {
        codes.push(
            c.get(format!("{base}/limited"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert!(codes[..10].iter().all(|&s| s == 200), "{codes:?}");
    assert!(codes.contains(&429), "{codes:?}");
}

/// The Python that has botocore: `$TOLLGATE_TEST_PYTHON` (set by scripts/test.sh), else the
/// venv the test command creates. Never skips: a missing botocore fails with the fix.
fn python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("TOLLGATE_TEST_PYTHON") {
        return p.into();
    }
    let venv =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python3");
    assert!(
        venv.exists(),
        "IAM tests sign with botocore: run ./scripts/test.sh, or `python3 -m venv \
         target/pyenv && target/pyenv/bin/pip install botocore` in the workspace root"
    );
    venv
}

fn iam_call(spec: Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/iam_client.py");
    let mut child = std::process::Command::new(python())
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "botocore client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_routes_accept_botocore_signatures_and_refuse_bad_ones() {
    let upstream = spawn_echo_upstream().await;
    let config = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
metering: {{enabled: false}}
iam:
  access_keys:
    - {{access_key_id: AKIDTOLLGATETEST01, secret_access_key: test-secret-1, principal: "arn:aws:iam::123456789012:user/ci"}}
    - {{access_key_id: AKIDTOLLGATETEST02, secret_access_key: test-secret-2, principal: "arn:aws:iam::123456789012:user/intern"}}
  policies:
    - {{effect: Allow, principals: ["*"], resources: ["arn:aws:execute-api:us-east-1:123456789012:*/*/*/orders*"]}}
    - {{effect: Deny, principals: ["arn:aws:iam::123456789012:user/intern"], resources: ["arn:aws:execute-api:*:*:*/*/POST/*"]}}
apis:
  - name: shop
    stages: [{{name: prod}}]
    routes:
      - {{key: "ANY /orders", integration: echo, authorization: aws_iam}}
    integrations:
      echo:
        type: http_proxy
        uri: "{}/echo"
        request_parameters:
          "append:header.x-caller": "$context.identity.userArn"
"#,
        upstream.url()
    );
    let gw = Gateway::start(&config);
    let url = format!("{}/prod/orders", gw.url("main"));
    let call = |key: &str, secret: &str, method: &str, extra: Value| {
        let mut spec = json!({"url": url, "method": method, "access_key": key,
                              "secret_key": secret, "region": "us-east-1"});
        if let (Value::Object(s), Value::Object(e)) = (&mut spec, extra) {
            s.extend(e);
        }
        iam_call(spec)
    };
    let ok = call(
        "AKIDTOLLGATETEST01",
        "test-secret-1",
        "POST",
        json!({"body": "{\"n\":1}"}),
    );
    assert_eq!(ok["status"], 200, "{ok}");
    let echoed: Value = serde_json::from_str(ok["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        echoed["headers"]["x-caller"],
        json!(["arn:aws:iam::123456789012:user/ci"])
    );
    assert_eq!(echoed["body"], "{\"n\":1}");

    let refused = |r: &Value, error_type: &str| {
        assert_eq!(r["status"], 403, "{r}");
        assert_eq!(r["error_type"], error_type, "{r}");
    };
    refused(
        &call("AKIDTOLLGATETEST01", "wrong-secret", "GET", json!({})),
        "InvalidSignatureException",
    );
    refused(
        &call("AKIDUNKNOWNKEY0001", "test-secret-1", "GET", json!({})),
        "UnrecognizedClientException",
    );
    refused(
        &call(
            "AKIDTOLLGATETEST01",
            "test-secret-1",
            "GET",
            json!({"skew_seconds": -16 * 60}),
        ),
        "InvalidSignatureException",
    );
    let in_window = call(
        "AKIDTOLLGATETEST01",
        "test-secret-1",
        "GET",
        json!({"skew_seconds": -14 * 60}),
    );
    assert_eq!(in_window["status"], 200, "{in_window}");
    refused(
        &call(
            "AKIDTOLLGATETEST01",
            "test-secret-1",
            "POST",
            json!({"body": "{\"n\":1}", "tamper_body": "{\"n\":9}"}),
        ),
        "InvalidSignatureException",
    );
    // The intern may read but not write: an explicit Deny.
    let get = call("AKIDTOLLGATETEST02", "test-secret-2", "GET", json!({}));
    assert_eq!(get["status"], 200, "{get}");
    refused(
        &call(
            "AKIDTOLLGATETEST02",
            "test-secret-2",
            "POST",
            json!({"body": "x"}),
        ),
        "AccessDeniedException",
    );
    // No signature at all.
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.headers()["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_authorizer_admits_denies_and_passes_its_context() {
    let upstream = spawn_echo_upstream().await;
    let lambda = spawn_lambda(|_, event: Value| {
        let token = event["headers"]["x-token"].as_str().unwrap_or("");
        let reply = match token {
            "letmein" => json!({"isAuthorized": true, "context": {"tenant": "acme", "tier": 2}}),
            "broken" => return LambdaReply::FunctionError(b"boom".to_vec()),
            _ => json!({"isAuthorized": false}),
        };
        LambdaReply::Ok(reply.to_string().into_bytes())
    })
    .await;
    let config = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
metering: {{enabled: false}}
apis:
  - name: shop
    authorizers:
      gate:
        type: request
        endpoint: "{}"
        function: gatekeeper
        enable_simple_responses: true
        identity_source: ["$request.header.x-token"]
        result_ttl_seconds: 0
    routes:
      - {{key: "GET /orders", integration: echo, authorizer: gate}}
    integrations:
      echo:
        type: http_proxy
        uri: "{}/echo"
        request_parameters:
          "append:header.x-tenant": "$context.authorizer.tenant"
"#,
        lambda.endpoint(),
        upstream.url()
    );
    let gw = Gateway::start(&config);
    let url = format!("{}/orders", gw.url("main"));
    let c = client();
    let with = |token: Option<&'static str>| {
        let mut r = c.get(&url);
        if let Some(t) = token {
            r = r.header("x-token", t);
        }
        r.send()
    };
    let r = with(Some("letmein")).await.unwrap();
    assert_eq!(r.status(), 200);
    let echoed: Value = r.json().await.unwrap();
    assert_eq!(echoed["headers"]["x-tenant"], json!(["acme"]));
    let (_, event) = lambda.events().last().cloned().unwrap();
    assert_eq!(event["type"], "REQUEST");
    assert_eq!(event["identitySource"], json!(["letmein"]));
    assert!(
        event["routeArn"]
            .as_str()
            .unwrap()
            .ends_with("/$default/GET/orders"),
        "{event}"
    );

    let calls = lambda.events().len();
    let r = with(None).await.unwrap();
    assert_eq!(
        r.status(),
        401,
        "no identity: refused without asking the function"
    );
    assert_eq!(lambda.events().len(), calls);
    assert_eq!(with(Some("nope")).await.unwrap().status(), 403);
    let r = with(Some("broken")).await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message":"Internal Server Error"}"#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_key_can_come_from_the_request_authorizer() {
    let lambda = spawn_lambda(|_, event: Value| {
        let token = event["headers"]["x-token"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let mut answer = json!({
            "principalId": token,
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}]},
        });
        if token == "alice" {
            answer["usageIdentifierKey"] = json!("demo-key-123");
        }
        LambdaReply::Ok(answer.to_string().into_bytes())
    })
    .await;
    let config = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
metering: {{enabled: false}}
api_keys: [{{id: demo, value: demo-key-123}}]
usage_plans: [{{name: p, keys: [demo], quota: {{limit: 2, period: DAY}}, stages: [{{api: shop}}]}}]
apis:
  - name: shop
    api_key_source: authorizer
    authorizers:
      gate: {{type: request, endpoint: "{}", function: f, identity_source: ["$request.header.x-token"]}}
    routes:
      - {{key: "GET /metered", integration: ok, authorizer: gate, api_key_required: true}}
    integrations:
      ok: {{type: mock, status: 200, body: "ok"}}
"#,
        lambda.endpoint()
    );
    let gw = Gateway::start(&config);
    let url = format!("{}/metered", gw.url("main"));
    let c = client();
    let status = |token: &'static str| {
        let req = c.get(&url).header("x-token", token);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // x-api-key is not consulted when the key comes from the authorizer.
    let r = c
        .get(&url)
        .header("x-token", "bob")
        .header("x-api-key", "demo-key-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(status("alice").await, 200);
    assert_eq!(status("alice").await, 200);
    assert_eq!(status("alice").await, 429, "the key's quota applies");
}

/// A JWKS endpoint that is down: the gateway starts, denies tokens it cannot check with
/// AWS's 401, and keeps serving every other route.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_jwks_endpoint_denies_and_the_gateway_stays_up() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let upstream = spawn_echo_upstream().await;
    let gw = Gateway::start(&config(&issuer, &upstream.url(), "http://127.0.0.1:9"));
    // A well-formed, signed token naming the dead issuer: only the keys are missing.
    let signer = spawn_jwt_issuer().await;
    let mut claims = signer.claims("app", "alice", "read");
    claims["iss"] = json!(issuer);
    let token = signer.token(&claims);
    let c = client();
    let start = std::time::Instant::now();
    let r = c
        .get(format!("{}/private", gw.url("main")))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.text().await.unwrap(), r#"{"message":"Unauthorized"}"#);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "denied within the fetch timeout"
    );
    let r = c
        .get(format!("{}/public/anything", gw.url("main")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "other routes keep working");
}
