//! HTTP APIs end to end: the real binary on 127.0.0.1:0, driven by a real HTTP client, in front
//! of a real echo upstream and a Lambda Invoke API mock.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use support::{client, Gateway};
use tollgate_test_support::{spawn_echo_upstream, spawn_lambda, LambdaReply};

fn mock(name: &str) -> String {
    format!(
        "      {name}:\n        type: mock\n        status: 200\n        headers: {{content-type: text/plain, x-route: \"{name}\"}}\n        body: \"{name}\"\n"
    )
}

/// aws-facts.md §3.1: the AWS documentation's precedence table, plus ANY and $default.
#[tokio::test(flavor = "multi_thread")]
async fn route_precedence_matches_aws_table() {
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
apis:
  - name: precedence
    routes:
      - {{key: "GET /pets/dog/1", integration: exact}}
      - {{key: "GET /pets/dog/{{id}}", integration: param}}
      - {{key: "GET /pets/{{proxy+}}", integration: greedy}}
      - {{key: "ANY /{{proxy+}}", integration: any}}
      - {{key: "$default", integration: fallback}}
    integrations:
{}{}{}{}{}"#,
        mock("exact"),
        mock("param"),
        mock("greedy"),
        mock("any"),
        mock("fallback")
    );
    let gw = Gateway::start(&yaml);
    let c = client();
    let base = gw.url("main");
    for (method, path, want) in [
        ("GET", "/pets/dog/1", "exact"),
        ("GET", "/pets/dog/2", "param"),
        ("GET", "/pets/cat/1", "greedy"),
        ("POST", "/test/5", "any"),
        ("DELETE", "/pets/dog/1", "any"),
        ("GET", "/", "fallback"),
    ] {
        let r = c
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{method} {path}");
        assert_eq!(r.headers()["x-route"], want, "{method} {path}");
        assert!(r.headers().contains_key("apigw-requestid"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unmatched_route_is_aws_404() {
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
apis:
  - name: strict
    stages: [{{name: prod}}]
    routes:
      - {{key: "GET /pets", integration: pets}}
    integrations:
{}"#,
        mock("pets")
    );
    let gw = Gateway::start(&yaml);
    let c = client();
    let base = gw.url("main");
    // A named stage only: requests without the stage segment have no $default stage to go to.
    for path in ["/pets", "/prod/cats", "/prod"] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json");
        assert!(r.headers().contains_key("apigw-requestid"));
        assert_eq!(r.text().await.unwrap(), r#"{"message":"Not Found"}"#);
    }
    let r = c.post(format!("{base}/prod/pets")).send().await.unwrap();
    assert_eq!(r.status(), 404, "other method");
    let r = c.get(format!("{base}/prod/pets")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn stages_and_stage_variables_choose_the_backend() {
    let blue = spawn_echo_upstream().await;
    let green = spawn_echo_upstream().await;
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
apis:
  - name: staged
    stages:
      - {{name: $default, variables: {{backend: "{}"}}}}
      - {{name: beta, variables: {{backend: "{}"}}}}
    routes:
      - {{key: "GET /items/{{id}}", integration: items}}
      - {{key: "$default", integration: passthrough}}
    integrations:
      items:
        type: http_proxy
        uri: "http://${{stageVariables.backend}}/v1/items/{{id}}"
      passthrough:
        type: http_proxy
        uri: "http://${{stageVariables.backend}}"
"#,
        blue.addr(),
        green.addr()
    );
    let gw = Gateway::start(&yaml);
    let c = client();
    let base = gw.url("main");

    let r: Value = c
        .get(format!("{base}/items/a%20b?x=1&x=2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["path"], "/v1/items/a%20b");
    assert_eq!(r["query"], "x=1&x=2");
    assert_eq!((blue.requests(), green.requests()), (1, 0));

    let r: Value = c
        .get(format!("{base}/beta/items/7"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["path"], "/v1/items/7");
    assert_eq!((blue.requests(), green.requests()), (1, 1));

    // $default route: the request path (without the stage) is appended to the URI.
    let r: Value = c
        .post(format!("{base}/beta/any/where?q=z"))
        .body("payload")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["method"], "POST");
    assert_eq!(r["path"], "/any/where");
    assert_eq!(r["query"], "q=z");
    assert_eq!(r["body"], "payload");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_proxy_forwards_headers_like_a_proxy() {
    let up = spawn_echo_upstream().await;
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
apis:
  - name: fwd
    routes: [{{key: "$default", integration: up}}]
    integrations:
      up: {{type: http_proxy, uri: "{}"}}
"#,
        up.url()
    );
    let gw = Gateway::start(&yaml);
    let r: Value = client()
        .get(format!("{}/h", gw.url("main")))
        .header("x-forwarded-for", "203.0.113.9")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "secret")
        .header("x-end-to-end", "kept")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let h = &r["headers"];
    assert_eq!(h["x-forwarded-for"][0], "203.0.113.9, 127.0.0.1");
    assert_eq!(h["x-end-to-end"][0], "kept");
    assert!(
        h.get("x-hop").is_none(),
        "hop-by-hop header named in Connection leaked: {h}"
    );
    assert_eq!(h["host"][0], up.addr().to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn parameter_mapping_requests_and_responses() {
    let up = spawn_echo_upstream().await;
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
apis:
  - name: mapped
    stages: [{{name: $default, variables: {{team: blue}}}}]
    routes:
      - {{key: "POST /orders/{{id}}", integration: orders}}
      - {{key: "GET /gone/{{code}}", integration: gone}}
    integrations:
      orders:
        type: http_proxy
        uri: "{}/orders/{{id}}"
        request_parameters:
          append:header.x-request-id: $context.requestId
          overwrite:header.x-team: $stageVariables.team
          remove:header.x-secret: "''"
          overwrite:querystring.source: "order-${{request.path.id}}"
          append:querystring.customer: $request.body.customer.name
          remove:querystring.debug: "''"
        response_parameters:
          "200":
            append:header.x-route: $context.routeKey
            overwrite:header.x-echo-method: $response.body.method
      gone:
        type: http_proxy
        uri: "{}/x/status/{{code}}"
        request_parameters:
          overwrite:path: "/rewritten/status/${{request.path.code}}"
        response_parameters:
          "500": {{overwrite:statuscode: "418", overwrite:header.x-mapped: "yes"}}
"#,
        up.url(),
        up.url()
    );
    let gw = Gateway::start(&yaml);
    let c = client();
    let r = c
        .post(format!("{}/orders/42?debug=1&keep=me", gw.url("main")))
        .header("x-secret", "s3cr3t")
        .body(r#"{"customer":{"name":"ana"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let request_id = r.headers()["apigw-requestid"].to_str().unwrap().to_string();
    assert_eq!(r.headers()["x-route"], "POST /orders/{id}");
    assert_eq!(r.headers()["x-echo-method"], "POST");
    let v: Value = r.json().await.unwrap();
    let h = &v["headers"];
    assert_eq!(h["x-request-id"][0], request_id.as_str());
    assert_eq!(h["x-team"][0], "blue");
    assert!(h.get("x-secret").is_none());
    let query = v["query"].as_str().unwrap();
    let pairs: Vec<(String, String)> = form_pairs(query);
    assert!(pairs.contains(&("keep".into(), "me".into())), "{query}");
    assert!(
        pairs.contains(&("source".into(), "order-42".into())),
        "{query}"
    );
    assert!(
        pairs.contains(&("customer".into(), "ana".into())),
        "{query}"
    );
    assert!(!pairs.iter().any(|(k, _)| k == "debug"), "{query}");

    let r = c
        .get(format!("{}/gone/500", gw.url("main")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 418);
    assert_eq!(r.headers()["x-mapped"], "yes");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["path"], "/rewritten/status/500");
}

fn form_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace('+', " ")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_preflight_and_response_headers() {
    let up = spawn_echo_upstream().await;
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
apis:
  - name: cors
    cors:
      allow_origins: ["https://app.example.com"]
      allow_methods: [GET, POST]
      allow_headers: [content-type, x-api-key]
      expose_headers: [x-total]
      allow_credentials: true
      max_age_seconds: 600
    routes: [{{key: "GET /data", integration: up}}]
    integrations:
      up:
        type: http_proxy
        uri: "{}/data"
        response_parameters:
          "200": {{overwrite:header.x-total: "3"}}
"#,
        up.url()
    );
    let gw = Gateway::start(&yaml);
    let c = client();
    let base = gw.url("main");
    // No OPTIONS route exists: the gateway answers the preflight itself.
    let r = c
        .request(reqwest::Method::OPTIONS, format!("{base}/data"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(h["access-control-allow-methods"], "GET,POST");
    assert_eq!(h["access-control-allow-headers"], "content-type,x-api-key");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-max-age"], "600");
    assert_eq!(up.requests(), 0, "preflight must not reach the integration");

    // A disallowed origin gets no CORS headers.
    let r = c
        .request(reqwest::Method::OPTIONS, format!("{base}/data"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));

    let r = c
        .get(format!("{base}/data"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(r.headers()["access-control-expose-headers"], "x-total");
}

#[tokio::test(flavor = "multi_thread")]
async fn mock_integration_answers_fixed_response() {
    let yaml = r#"
listeners: [{name: main, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
apis:
  - name: m
    routes: [{key: "PUT /thing", integration: created}]
    integrations:
      created:
        type: mock
        status: 201
        headers: {content-type: application/json, x-mock: "1"}
        body: '{"created":true}'
"#;
    let gw = Gateway::start(yaml);
    let r = client()
        .put(format!("{}/thing", gw.url("main")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-mock"], "1");
    assert_eq!(r.text().await.unwrap(), r#"{"created":true}"#);
}

#[tokio::test(flavor = "multi_thread")]
async fn backend_failures_get_aws_statuses() {
    let up = spawn_echo_upstream().await;
    // A port nobody listens on: bind, read the port, close.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
apis:
  - name: failing
    routes:
      - {{key: "GET /dead", integration: dead}}
      - {{key: "GET /slow", integration: slow}}
      - {{key: "GET /fivehundred", integration: err}}
      - {{key: "GET /big/{{n}}", integration: big}}
    integrations:
      big: {{type: http_proxy, uri: "{0}/big/{{n}}"}}
      dead: {{type: http_proxy, uri: "http://{dead}/x"}}
      slow: {{type: http_proxy, uri: "{0}/slow/3000", timeout_ms: 300}}
      err: {{type: http_proxy, uri: "{0}/status/500"}}
"#,
        up.url()
    );
    let gw = Gateway::start(&yaml);
    let c = client();
    let base = gw.url("main");

    let r = c.get(format!("{base}/dead")).send().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message":"Internal Server Error"}"#
    );

    let started = std::time::Instant::now();
    let r = c.get(format!("{base}/slow")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message":"Service Unavailable"}"#
    );

    // Integration responses up to 10 MB are passed on; a larger one is an integration failure.
    let r = c.get(format!("{base}/big/10485760")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), 10 * 1024 * 1024);
    let r = c.get(format!("{base}/big/10485761")).send().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message":"Internal Server Error"}"#
    );

    // The backend's own 500 is passed through as is: the integration answered.
    let r = c.get(format!("{base}/fivehundred")).send().await.unwrap();
    assert_eq!(r.status(), 500);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["path"], "/status/500");
}

#[tokio::test(flavor = "multi_thread")]
async fn request_size_limits() {
    // A mock integration: the limits are the gateway's, whatever the backend would do.
    let yaml = r#"
listeners: [{name: main, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
apis:
  - name: limits
    routes: [{key: "$default", integration: ok}]
    integrations:
      ok: {type: mock, status: 200, body: "ok"}
"#;
    let gw = Gateway::start(yaml);
    let c = client();
    let base = gw.url("main");

    // Exactly 10 MB is accepted (aws-facts.md §2.2: payload 10 MB).
    let r = c
        .post(format!("{base}/upload"))
        .body(vec![b'a'; 10 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(format!("{base}/upload"))
        .body(vec![b'a'; 10 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message":"Request Entity Too Large"}"#
    );

    // Chunked body without Content-Length, over the limit.
    let mut s = TcpStream::connect(gw.listeners["main"]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let chunk = vec![b'b'; 1024 * 1024];
    let mut status_line = String::new();
    for _ in 0..11 {
        if write!(s, "{:x}\r\n", chunk.len()).is_err()
            || s.write_all(&chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut buf = [0u8; 512];
    if let Ok(n) = s.read(&mut buf) {
        status_line = String::from_utf8_lossy(&buf[..n]).to_string();
    }
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");

    // Request line plus header values over 10,240 bytes.
    let r = c
        .get(format!("{base}/h"))
        .header("x-big", "v".repeat(10_300))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);
    assert!(r.headers().contains_key("apigw-requestid"));
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message":"Request Header Fields Too Large"}"#
    );
    let r = c
        .get(format!("{base}/h"))
        .header("x-big", "v".repeat(9_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn lambda_proxy_payload_v2_and_v1() {
    let lambda = spawn_lambda(|name, event| match name {
        "explicit" => LambdaReply::Ok(
            serde_json::to_vec(&serde_json::json!({
                "statusCode": 201,
                "headers": {"x-fn": "explicit"},
                "cookies": ["a=1", "b=2"],
                "body": event["rawPath"],
            }))
            .unwrap(),
        ),
        "inferred" => LambdaReply::Ok(br#"{"hello":"world"}"#.to_vec()),
        "malformed" => LambdaReply::Ok(b"not json at all".to_vec()),
        "throws" => LambdaReply::FunctionError(br#"{"errorMessage":"boom"}"#.to_vec()),
        "v1" => LambdaReply::Ok(
            serde_json::to_vec(&serde_json::json!({
                "statusCode": 202,
                "headers": {"x-a": "single"},
                "multiValueHeaders": {"x-a": ["multi1", "multi2"]},
                "body": event["resource"],
                "isBase64Encoded": false,
            }))
            .unwrap(),
        ),
        _ => LambdaReply::NotFound,
    })
    .await;
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
apis:
  - name: fns
    stages: [{{name: prod, variables: {{fn: explicit}}}}]
    routes:
      - {{key: "POST /explicit/{{id}}", integration: explicit}}
      - {{key: "GET /inferred", integration: inferred}}
      - {{key: "GET /malformed", integration: malformed}}
      - {{key: "GET /throws", integration: throws}}
      - {{key: "GET /v1/{{proxy+}}", integration: v1}}
    integrations:
      explicit: {{type: lambda, endpoint: "{ep}", function: "${{stageVariables.fn}}"}}
      inferred: {{type: lambda, endpoint: "{ep}", function: inferred}}
      malformed: {{type: lambda, endpoint: "{ep}", function: malformed}}
      throws: {{type: lambda, endpoint: "{ep}", function: throws}}
      v1: {{type: lambda, endpoint: "{ep}", function: v1, payload_format_version: "1.0"}}
"#,
        ep = lambda.endpoint()
    );
    let gw = Gateway::start(&yaml);
    let c = client();
    let base = gw.url("main");

    let r = c
        .post(format!("{base}/prod/explicit/9?a=1&a=2"))
        .header("cookie", "c1=v1; c2=v2")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-fn"], "explicit");
    let cookies: Vec<_> = r.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(r.text().await.unwrap(), "/prod/explicit/9");
    let (name, ev) = lambda.events().pop().unwrap();
    assert_eq!(name, "explicit");
    assert_eq!(ev["version"], "2.0");
    assert_eq!(ev["routeKey"], "POST /explicit/{id}");
    assert_eq!(ev["rawPath"], "/prod/explicit/9");
    assert_eq!(ev["rawQueryString"], "a=1&a=2");
    assert_eq!(ev["queryStringParameters"]["a"], "1,2");
    assert_eq!(ev["pathParameters"]["id"], "9");
    assert_eq!(ev["stageVariables"]["fn"], "explicit");
    assert_eq!(ev["cookies"], serde_json::json!(["c1=v1", "c2=v2"]));
    assert_eq!(ev["body"], "hi");
    assert_eq!(ev["requestContext"]["stage"], "prod");
    assert_eq!(ev["requestContext"]["http"]["method"], "POST");
    assert_eq!(ev["requestContext"]["http"]["sourceIp"], "127.0.0.1");

    let r = c.get(format!("{base}/prod/inferred")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), r#"{"hello":"world"}"#);

    for path in ["malformed", "throws"] {
        let r = c.get(format!("{base}/prod/{path}")).send().await.unwrap();
        assert_eq!(r.status(), 500, "{path}");
        assert_eq!(
            r.text().await.unwrap(),
            r#"{"message":"Internal Server Error"}"#
        );
    }

    let r = c.get(format!("{base}/prod/v1/a/b")).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let vals: Vec<_> = r.headers().get_all("x-a").iter().collect();
    assert_eq!(vals, ["multi1", "multi2"]);
    assert_eq!(r.text().await.unwrap(), "/v1/{proxy+}");
    let (_, ev) = lambda.events().pop().unwrap();
    assert_eq!(ev["version"], "1.0");
    assert_eq!(ev["httpMethod"], "GET");
    assert_eq!(ev["pathParameters"]["proxy"], "a/b");
}

/// The README's quick start: `examples/quickstart.yaml` serves its demo as documented (ports
/// swapped for free ones so the test cannot collide with anything on the machine).
#[tokio::test(flavor = "multi_thread")]
async fn quickstart_example_serves_the_demo() {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (public, internal, admin) = (free(), free(), free());
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/quickstart.yaml"
    ))
    .unwrap()
    .replace("127.0.0.1:8080", &format!("127.0.0.1:{public}"))
    .replace("127.0.0.1:8081", &format!("127.0.0.1:{internal}"))
    .replace("127.0.0.1:9180", &format!("127.0.0.1:{admin}"));
    let gw = Gateway::start(&yaml);
    let c = client();
    let base = gw.url("public");

    let r = c.get(format!("{base}/hello")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"message":"hello from tollgate"}"#
    );
    for path in ["/pets/7", "/dev/pets/7"] {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["stock"], 3, "{path}");
    }
    let r = c.get(format!("{base}/store/apples")).send().await.unwrap();
    assert_eq!(r.status(), 404, "the internal API's $default route answers");
    assert_eq!(r.text().await.unwrap(), r#"{"message":"no such item"}"#);
    let r = c.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.text().await.unwrap(), r#"{"message":"Not Found"}"#);
    let r = c
        .get(format!("{}/metrics", gw.admin_url()))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("tollgate_requests_total"));
    // Every request left a JSON access-log line on stdout.
    assert!(Gateway::eventually(Duration::from_secs(5), || gw
        .stdout_lines()
        .iter()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok())
        .count()
        >= 7));
}

/// A backend that closes kept-alive connections after each answer: the gateway's pool must
/// notice and open new connections instead of failing requests.
#[tokio::test(flavor = "multi_thread")]
async fn pooled_connections_closed_by_the_backend_are_replaced() {
    let backend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = backend.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in backend.incoming().take(8) {
            let Ok(mut s) = stream else { break };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            // Keep-alive is not refused; the socket simply closes after the answer.
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
server: {{workers: 1}}
apis:
  - name: closing
    routes: [{{key: "$default", integration: up}}]
    integrations:
      up: {{type: http_proxy, uri: "http://{addr}"}}
"#
    );
    let gw = Gateway::start(&yaml);
    let c = client();
    // POSTs too: they are never re-sent, so the closed connection must be noticed before use.
    for i in 0..6 {
        let url = format!("{}/n/{i}", gw.url("main"));
        let req = if i % 2 == 0 {
            c.get(url)
        } else {
            c.post(url).body("x")
        };
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200, "request {i}");
        assert_eq!(r.text().await.unwrap(), "ok");
        // Long enough for the backend's FIN (sent 50 ms after its answer) to reach the
        // gateway's poller even when the machine is busy with other tests: the pool can only
        // skip a connection it has seen close (upstream.rs), and POSTs are never re-sent.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Several APIs on one listener: custom domains, `{apiId}.execute-api…` hosts, the default API.
#[tokio::test(flavor = "multi_thread")]
async fn apis_are_chosen_by_host() {
    let yaml = r#"
listeners: [{name: main, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
apis:
  - name: public
    routes: [{key: "$default", integration: m}]
    integrations: {m: {type: mock, body: "public"}}
  - name: partner
    hosts: [partner.example.com]
    routes: [{key: "$default", integration: m}]
    integrations: {m: {type: mock, body: "partner"}}
  - name: internal
    id: int0000001
    hosts: [internal.example.com]
    routes: [{key: "$default", integration: m}]
    integrations: {m: {type: mock, body: "internal"}}
"#;
    let gw = Gateway::start(yaml);
    let c = client();
    let url = format!("{}/x", gw.url("main"));
    for (host, want) in [
        (None, "public"),
        (Some("partner.example.com"), "partner"),
        (Some("PARTNER.example.com:443"), "partner"),
        (
            Some("int0000001.execute-api.us-east-1.amazonaws.com"),
            "internal",
        ),
        (Some("unknown.example.com"), "public"),
    ] {
        let mut req = c.get(&url);
        if let Some(h) = host {
            req = req.header("host", h);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.text().await.unwrap(), want, "{host:?}");
    }
}

/// Response framings a backend may use, answered by a raw-socket backend: chunked bodies with
/// trailers, bodies delimited by closing the connection, interim 1xx heads, HEAD answers.
#[tokio::test(flavor = "multi_thread")]
async fn backend_response_framings() {
    let backend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = backend.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in backend.incoming().take(20) {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let Ok(mut s) = stream else { break };
            std::thread::spawn(move || loop {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match s.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let path = text.split(' ').nth(1).unwrap_or("/").to_string();
                let (resp, close): (&[u8], bool) = match path.as_str() {
                    "/chunked" => (
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
                        false,
                    ),
                    "/close" => (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-eof", true),
                    "/interim" => (
                        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
                        false,
                    ),
                    "/head" => (b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", false),
                    _ => (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain", false),
                };
                if s.write_all(resp).is_err() || close {
                    return;
                }
            });
        }
    });
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
server: {{workers: 1}}
apis:
  - name: framings
    routes: [{{key: "$default", integration: up}}]
    integrations:
      up: {{type: http_proxy, uri: "http://{addr}"}}
"#
    );
    let gw = Gateway::start(&yaml);
    let c = client();
    let base = gw.url("main");
    // Twice each, so pooled connections are reused between framings.
    for _ in 0..2 {
        let r = c.get(format!("{base}/chunked")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-kind"], "chunked");
        assert_eq!(
            r.headers()["content-length"],
            "11",
            "re-framed after buffering"
        );
        assert_eq!(r.text().await.unwrap(), "hello world");

        let r = c.get(format!("{base}/close")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "until-eof");

        let r = c.get(format!("{base}/interim")).send().await.unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.text().await.unwrap(), "ok");

        let r = c.head(format!("{base}/head")).send().await.unwrap();
        assert_eq!(r.status(), 200);

        let r = c
            .post(format!("{base}/plain"))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "plain");
    }
    // Keep-alive works: one connection, plus one after each `Connection: close` answer.
    let n = accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(n <= 3, "{n} upstream connections for 10 requests");
}
