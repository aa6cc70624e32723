//! Lambda proxy events and responses, checked field by field against AWS's documented shapes.
//!
//! Two references: the `aws_lambda_events` crate (events must deserialize into its
//! `ApiGatewayV2httpRequest` / `ApiGatewayProxyRequest`), and fixture events whose key sets and
//! value shapes ours must match. The fixtures in `tests/fixtures/` are copied unchanged from
//! - `aws_lambda_events` 1.2.1 `src/fixtures/example-apigw-v2-request-no-authorizer.json`
//!   (HTTP API payload 2.0),
//! - `aws_lambda_events` 1.2.1 `src/fixtures/example-apigw-request.json` (REST API payload 1.0),
//! - the AWS developer guide's HTTP API payload 1.0 example
//!   (`doc_source/http-api-develop-integrations-lambda.md`), since no crate fixture is one;
//!
//! see `tests/fixtures/README.md`.

use std::collections::{BTreeMap, BTreeSet};

use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyResponse, ApiGatewayV2httpRequest,
    ApiGatewayV2httpResponse,
};
use aws_lambda_events::encodings::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{json, Value};
use tollgate_proxy::lambda::{
    event_v1, event_v1_with_authorizer, event_v2, event_v2_with_authorizer, response_v1,
    response_v2, EventInput, LambdaHttpResponse, MalformedResponse,
};

const V2_FIXTURE: &str = include_str!("fixtures/example-apigw-v2-request-no-authorizer.json");
const V1_REST_FIXTURE: &str = include_str!("fixtures/example-apigw-request.json");
const V1_HTTP_API_FIXTURE: &str = include_str!("fixtures/aws-dg-http-api-payload-1.0.json");

/// 12/Mar/2020:19:03:58.390 UTC, the time in the guide's 2.0 example.
const EPOCH_MS: i64 = 1_584_039_838_390;

/// Owned request data; `input()` borrows it as an `EventInput`.
struct Req {
    domain_name: &'static str,
    stage: &'static str,
    route_key: &'static str,
    resource_path: &'static str,
    method: Method,
    raw_path: &'static str,
    raw_query: &'static str,
    headers: HeaderMap,
    path_params: Vec<(&'static str, &'static str)>,
    stage_variables: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Req {
    /// `GET /` on the `$default` stage and route: no query, cookies, parameters or body.
    fn minimal() -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            "host",
            HeaderValue::from_static("abc123.execute-api.us-east-1.amazonaws.com"),
        );
        headers.insert("user-agent", HeaderValue::from_static("curl/8.5.0"));
        headers.insert("accept", HeaderValue::from_static("*/*"));
        Req {
            domain_name: "abc123.execute-api.us-east-1.amazonaws.com",
            stage: "$default",
            route_key: "$default",
            resource_path: "$default",
            method: Method::GET,
            raw_path: "/",
            raw_query: "",
            headers,
            path_params: Vec::new(),
            stage_variables: BTreeMap::new(),
            body: Vec::new(),
        }
    }

    /// `POST /dev/pets/42` on stage `dev`, route `POST /pets/{id}`, with repeated headers, two
    /// `Cookie` headers, a repeated and an encoded query parameter, stage variables and a body.
    fn full() -> Self {
        let mut req = Req::minimal();
        req.stage = "dev";
        req.route_key = "POST /pets/{id}";
        req.resource_path = "/pets/{id}";
        req.method = Method::POST;
        req.raw_path = "/dev/pets/42";
        req.raw_query = "limit=10&tag=a&tag=b&q=a+b%21&empty";
        req.headers.append("x-dup", HeaderValue::from_static("1"));
        req.headers.append("x-dup", HeaderValue::from_static("2"));
        req.headers
            .append("cookie", HeaderValue::from_static("a=1; b=2"));
        req.headers
            .append("cookie", HeaderValue::from_static("c=3"));
        req.headers
            .insert("content-type", HeaderValue::from_static("application/json"));
        req.path_params = vec![("id", "42")];
        req.stage_variables
            .insert("backend".to_owned(), "v2".to_owned());
        req.body = br#"{"name":"Rex","emoji":"\u00e9"}"#.to_vec();
        req
    }

    fn input(&self) -> EventInput<'_> {
        EventInput {
            account_id: "123456789012",
            api_id: "abc123",
            domain_name: self.domain_name,
            stage: self.stage,
            route_key: self.route_key,
            resource_path: self.resource_path,
            method: &self.method,
            raw_path: self.raw_path,
            raw_query: self.raw_query,
            headers: &self.headers,
            path_params: &self.path_params,
            stage_variables: &self.stage_variables,
            body: &self.body,
            source_ip: "192.0.2.1",
            protocol: "HTTP/1.1",
            request_id: "JvxfkgT4oAMEJ-Q=",
            request_time: time::OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(EPOCH_MS) * 1_000_000,
            )
            .unwrap(),
        }
    }

    fn v2(&self) -> Value {
        serde_json::from_slice(&event_v2(&self.input())).unwrap()
    }

    fn v1(&self) -> Value {
        serde_json::from_slice(&event_v1(&self.input())).unwrap()
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The JSON type of a value, to compare shapes with a fixture.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every key the two objects share has the same JSON type in both.
fn assert_same_shapes(ours: &Value, fixture: &Value, at: &str) {
    for (key, value) in ours.as_object().unwrap() {
        if let Some(expected) = fixture.get(key) {
            assert_eq!(
                kind(value),
                kind(expected),
                "{at}.{key}: ours {value}, fixture {expected}"
            );
        }
    }
}

fn header_values<'h>(headers: &'h HeaderMap, name: &str) -> Vec<&'h str> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

// === payload format 2.0 ===

#[test]
fn v2_minimal_event_has_exactly_the_fixture_keys() {
    let fixture: Value = serde_json::from_str(V2_FIXTURE).unwrap();
    let ours = Req::minimal().v2();

    assert_eq!(keys(&ours), keys(&fixture));
    // `authentication` only exists with mutual TLS.
    let mut context_keys = keys(&fixture["requestContext"]);
    context_keys.remove("authentication");
    assert_eq!(keys(&ours["requestContext"]), context_keys);
    assert_eq!(
        keys(&ours["requestContext"]["http"]),
        keys(&fixture["requestContext"]["http"])
    );

    assert_same_shapes(&ours, &fixture, "");
    assert_same_shapes(
        &ours["requestContext"],
        &fixture["requestContext"],
        "requestContext",
    );
    assert_same_shapes(
        &ours["requestContext"]["http"],
        &fixture["requestContext"]["http"],
        "requestContext.http",
    );
}

#[test]
fn v2_minimal_event_values() {
    let ours = Req::minimal().v2();
    assert_eq!(
        ours,
        json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/",
            "rawQueryString": "",
            "headers": {
                "accept": "*/*",
                "host": "abc123.execute-api.us-east-1.amazonaws.com",
                "user-agent": "curl/8.5.0"
            },
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abc123",
                "http": {
                    "method": "GET",
                    "path": "/",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "192.0.2.1",
                    "userAgent": "curl/8.5.0"
                },
                "requestId": "JvxfkgT4oAMEJ-Q=",
                "routeKey": "$default",
                "stage": "$default",
                "time": "12/Mar/2020:19:03:58 +0000",
                "timeEpoch": EPOCH_MS
            },
            "isBase64Encoded": false
        })
    );
}

#[test]
fn v2_full_event_adds_only_the_documented_optional_keys() {
    let fixture: Value = serde_json::from_str(V2_FIXTURE).unwrap();
    let ours = Req::full().v2();
    let mut expected = keys(&fixture);
    // The optional keys of the guide's 2.0 example (aws-facts §3.3).
    expected.extend(set(&[
        "cookies",
        "queryStringParameters",
        "pathParameters",
        "stageVariables",
        "body",
    ]));
    assert_eq!(keys(&ours), expected);
    assert_eq!(kind(&ours["cookies"]), "array");
    for key in ["queryStringParameters", "pathParameters", "stageVariables"] {
        assert_eq!(kind(&ours[key]), "object", "{key}");
    }
    assert_eq!(kind(&ours["body"]), "string");
}

#[test]
fn v2_full_event_values() {
    let ours = Req::full().v2();
    assert_eq!(ours["version"], "2.0");
    assert_eq!(ours["routeKey"], "POST /pets/{id}");
    // Named stage: the stage segment stays in rawPath and http.path (aws-facts §3.1).
    assert_eq!(ours["rawPath"], "/dev/pets/42");
    assert_eq!(ours["requestContext"]["http"]["path"], "/dev/pets/42");
    assert_eq!(
        ours["rawQueryString"],
        "limit=10&tag=a&tag=b&q=a+b%21&empty"
    );
    assert_eq!(ours["cookies"], json!(["a=1", "b=2", "c=3"]));
    assert_eq!(
        ours["headers"],
        json!({
            "accept": "*/*",
            "content-type": "application/json",
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "user-agent": "curl/8.5.0",
            "x-dup": "1,2"
        })
    );
    assert_eq!(
        ours["queryStringParameters"],
        json!({"limit": "10", "tag": "a,b", "q": "a b!", "empty": ""})
    );
    assert_eq!(ours["pathParameters"], json!({"id": "42"}));
    assert_eq!(ours["stageVariables"], json!({"backend": "v2"}));
    assert_eq!(ours["body"], r#"{"name":"Rex","emoji":"\u00e9"}"#);
    assert_eq!(ours["isBase64Encoded"], false);
    let ctx = &ours["requestContext"];
    assert_eq!(ctx["routeKey"], "POST /pets/{id}");
    assert_eq!(ctx["stage"], "dev");
    assert_eq!(ctx["http"]["method"], "POST");
    assert!(ctx.get("authorizer").is_none());
}

#[test]
fn v2_event_deserializes_into_aws_lambda_events() {
    let req = Req::full();
    let event: ApiGatewayV2httpRequest = serde_json::from_slice(&event_v2(&req.input())).unwrap();

    assert_eq!(event.version.as_deref(), Some("2.0"));
    assert_eq!(event.route_key.as_deref(), Some("POST /pets/{id}"));
    assert_eq!(event.raw_path.as_deref(), Some("/dev/pets/42"));
    assert_eq!(
        event.raw_query_string.as_deref(),
        Some("limit=10&tag=a&tag=b&q=a+b%21&empty")
    );
    assert_eq!(
        event.cookies,
        Some(vec!["a=1".to_owned(), "b=2".to_owned(), "c=3".to_owned()])
    );
    assert_eq!(event.headers.len(), 5);
    assert_eq!(header_values(&event.headers, "x-dup"), ["1,2"]);
    assert_eq!(header_values(&event.headers, "user-agent"), ["curl/8.5.0"]);
    assert!(event.headers.get("cookie").is_none());
    // The crate splits 2.0's comma-joined values back into lists.
    assert_eq!(
        event.query_string_parameters.all("tag"),
        Some(vec!["a", "b"])
    );
    assert_eq!(event.query_string_parameters.first("limit"), Some("10"));
    assert_eq!(event.query_string_parameters.first("q"), Some("a b!"));
    assert_eq!(event.query_string_parameters.first("empty"), Some(""));
    assert_eq!(event.path_parameters.len(), 1);
    assert_eq!(event.path_parameters["id"], "42");
    assert_eq!(event.stage_variables.len(), 1);
    assert_eq!(event.stage_variables["backend"], "v2");
    assert_eq!(
        event.body.as_deref(),
        Some(r#"{"name":"Rex","emoji":"\u00e9"}"#)
    );
    assert!(!event.is_base64_encoded);

    let ctx = &event.request_context;
    assert_eq!(ctx.route_key.as_deref(), Some("POST /pets/{id}"));
    assert_eq!(ctx.account_id.as_deref(), Some("123456789012"));
    assert_eq!(ctx.stage.as_deref(), Some("dev"));
    assert_eq!(ctx.request_id.as_deref(), Some("JvxfkgT4oAMEJ-Q="));
    assert!(ctx.authorizer.is_none());
    assert_eq!(ctx.apiid.as_deref(), Some("abc123"));
    assert_eq!(
        ctx.domain_name.as_deref(),
        Some("abc123.execute-api.us-east-1.amazonaws.com")
    );
    assert_eq!(ctx.domain_prefix.as_deref(), Some("abc123"));
    assert_eq!(ctx.time.as_deref(), Some("12/Mar/2020:19:03:58 +0000"));
    assert_eq!(ctx.time_epoch, EPOCH_MS);
    assert_eq!(ctx.http.method, Method::POST);
    assert_eq!(ctx.http.path.as_deref(), Some("/dev/pets/42"));
    assert_eq!(ctx.http.protocol.as_deref(), Some("HTTP/1.1"));
    assert_eq!(ctx.http.source_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(ctx.http.user_agent.as_deref(), Some("curl/8.5.0"));
    assert!(ctx.authentication.is_none());
}

#[test]
fn v2_optional_keys_are_omitted_when_empty() {
    let ours = Req::minimal().v2();
    for key in [
        "cookies",
        "queryStringParameters",
        "pathParameters",
        "stageVariables",
        "body",
    ] {
        assert!(ours.get(key).is_none(), "{key} should be absent: {ours}");
    }
    // A query string of only separators has no parameters either.
    let mut req = Req::minimal();
    req.raw_query = "&&";
    let ours = req.v2();
    assert_eq!(ours["rawQueryString"], "&&");
    assert!(ours.get("queryStringParameters").is_none());
}

#[test]
fn v2_binary_body_is_base64() {
    let mut req = Req::minimal();
    req.method = Method::PUT;
    req.body = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff];
    let ours = req.v2();
    assert_eq!(ours["body"], "iVBORw0KGgoA/w==");
    assert_eq!(ours["isBase64Encoded"], true);
    let event: ApiGatewayV2httpRequest = serde_json::from_slice(&event_v2(&req.input())).unwrap();
    assert!(event.is_base64_encoded);
    assert_eq!(event.body.as_deref(), Some("iVBORw0KGgoA/w=="));
}

#[test]
fn v2_greedy_path_parameter() {
    let mut req = Req::minimal();
    req.route_key = "ANY /{proxy+}";
    req.resource_path = "/{proxy+}";
    req.raw_path = "/hello/world";
    req.path_params = vec![("proxy", "hello/world")];
    let ours = req.v2();
    assert_eq!(ours["pathParameters"], json!({"proxy": "hello/world"}));
    assert_eq!(ours["routeKey"], "ANY /{proxy+}");
    assert_eq!(ours["requestContext"]["routeKey"], "ANY /{proxy+}");
    assert_eq!(ours["rawPath"], "/hello/world");
}

#[test]
fn v2_without_user_agent_and_with_port_in_host() {
    let mut req = Req::minimal();
    req.headers.remove("user-agent");
    req.domain_name = "localhost:8080";
    let ours = req.v2();
    assert_eq!(ours["requestContext"]["http"]["userAgent"], "");
    assert_eq!(ours["requestContext"]["domainName"], "localhost:8080");
    assert_eq!(ours["requestContext"]["domainPrefix"], "localhost");
}

#[test]
fn v2_authorizer_is_passed_through() {
    let req = Req::minimal();
    let authorizer = json!({"jwt": {"claims": {"sub": "u1"}, "scopes": ["read"]}});
    let bytes = event_v2_with_authorizer(&req.input(), Some(&authorizer));
    let ours: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(ours["requestContext"]["authorizer"], authorizer);
    let event: ApiGatewayV2httpRequest = serde_json::from_slice(&bytes).unwrap();
    let jwt = event.request_context.authorizer.unwrap().jwt.unwrap();
    assert_eq!(jwt.claims["sub"], "u1");
    assert_eq!(jwt.scopes, Some(vec!["read".to_owned()]));
}

#[test]
fn v2_escapes_text_and_keeps_non_utf8_headers() {
    let mut req = Req::minimal();
    req.headers
        .insert("x-quote", HeaderValue::from_static("say \"hi\" \\ bye"));
    req.headers
        .insert("x-latin1", HeaderValue::from_bytes(b"caf\xe9").unwrap());
    req.body = "line1\nline2 \u{2603}".as_bytes().to_vec();
    let ours = req.v2();
    assert_eq!(ours["headers"]["x-quote"], "say \"hi\" \\ bye");
    assert_eq!(ours["headers"]["x-latin1"], "caf\u{fffd}");
    assert_eq!(ours["body"], "line1\nline2 \u{2603}");
    assert_eq!(ours["isBase64Encoded"], false);
}

// === payload format 1.0 ===

#[test]
fn v1_event_matches_the_http_api_fixture_keys_and_shapes() {
    let fixture: Value = serde_json::from_str(V1_HTTP_API_FIXTURE).unwrap();
    let ours = Req::full().v1();

    assert_eq!(keys(&ours), keys(&fixture));
    assert_eq!(
        keys(&ours["requestContext"]),
        keys(&fixture["requestContext"])
    );
    let mut identity_keys = keys(&fixture["requestContext"]["identity"]);
    // `clientCert` only exists with mutual TLS.
    identity_keys.remove("clientCert");
    assert_eq!(keys(&ours["requestContext"]["identity"]), identity_keys);
    assert_eq!(
        ours["requestContext"]["authorizer"],
        fixture["requestContext"]["authorizer"]
    );

    // The fixture has no path parameters or stage variables; the full request has both.
    let mut ours_shapes = ours.clone();
    ours_shapes["pathParameters"] = Value::Null;
    ours_shapes["stageVariables"] = Value::Null;
    assert_same_shapes(&ours_shapes, &fixture, "");
    assert_same_shapes(
        &ours["requestContext"],
        &fixture["requestContext"],
        "requestContext",
    );
    assert_same_shapes(
        &ours["requestContext"]["identity"],
        &fixture["requestContext"]["identity"],
        "requestContext.identity",
    );
    // The minimal request has no parameters: null, like the fixture's.
    let minimal = Req::minimal().v1();
    for key in ["pathParameters", "stageVariables"] {
        assert_eq!(fixture[key], Value::Null, "{key}");
        assert_eq!(minimal[key], Value::Null, "{key}");
    }
}

#[test]
fn v1_event_covers_the_rest_fixture_keys() {
    let fixture: Value = serde_json::from_str(V1_REST_FIXTURE).unwrap();
    let ours = Req::full().v1();

    // Keys an HTTP API 1.0 event has beyond a REST event (the guide's 1.0 example).
    let http_api_only = set(&["version", "isBase64Encoded"]);
    let context_http_api_only = set(&["extendedRequestId"]);
    let identity_http_api_only = set(&["principalOrgId"]);
    // Keys only API-key-protected REST methods have (aws-facts §3.4).
    let rest_only_identity = set(&["apiKey", "apiKeyId"]);

    assert_eq!(
        keys(&ours),
        &keys(&fixture) | &http_api_only,
        "top-level keys"
    );
    assert_eq!(
        keys(&ours["requestContext"]),
        &keys(&fixture["requestContext"]) | &context_http_api_only,
        "requestContext keys"
    );
    assert_eq!(
        keys(&ours["requestContext"]["identity"]),
        &(&keys(&fixture["requestContext"]["identity"]) - &rest_only_identity)
            | &identity_http_api_only,
        "identity keys"
    );
    assert_same_shapes(&ours, &fixture, "");
}

#[test]
fn v1_event_values() {
    let ours = Req::full().v1();
    assert_eq!(
        ours,
        json!({
            "version": "1.0",
            "resource": "/pets/{id}",
            "path": "/dev/pets/42",
            "httpMethod": "POST",
            "headers": {
                "accept": "*/*",
                "content-type": "application/json",
                "cookie": "c=3",
                "host": "abc123.execute-api.us-east-1.amazonaws.com",
                "user-agent": "curl/8.5.0",
                "x-dup": "2"
            },
            "multiValueHeaders": {
                "accept": ["*/*"],
                "content-type": ["application/json"],
                "cookie": ["a=1; b=2", "c=3"],
                "host": ["abc123.execute-api.us-east-1.amazonaws.com"],
                "user-agent": ["curl/8.5.0"],
                "x-dup": ["1", "2"]
            },
            "queryStringParameters": {"empty": "", "limit": "10", "q": "a b!", "tag": "b"},
            "multiValueQueryStringParameters": {
                "empty": [""],
                "limit": ["10"],
                "q": ["a b!"],
                "tag": ["a", "b"]
            },
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "authorizer": {"claims": null, "scopes": null},
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abc123",
                "extendedRequestId": "JvxfkgT4oAMEJ-Q=",
                "httpMethod": "POST",
                "identity": {
                    "accessKey": null,
                    "accountId": null,
                    "caller": null,
                    "cognitoAuthenticationProvider": null,
                    "cognitoAuthenticationType": null,
                    "cognitoIdentityId": null,
                    "cognitoIdentityPoolId": null,
                    "principalOrgId": null,
                    "sourceIp": "192.0.2.1",
                    "user": null,
                    "userAgent": "curl/8.5.0",
                    "userArn": null
                },
                "path": "/dev/pets/42",
                "protocol": "HTTP/1.1",
                "requestId": "JvxfkgT4oAMEJ-Q=",
                "requestTime": "12/Mar/2020:19:03:58 +0000",
                "requestTimeEpoch": EPOCH_MS,
                "resourceId": null,
                "resourcePath": "/pets/{id}",
                "stage": "dev"
            },
            "pathParameters": {"id": "42"},
            "stageVariables": {"backend": "v2"},
            "body": r#"{"name":"Rex","emoji":"\u00e9"}"#,
            "isBase64Encoded": false
        })
    );
}

#[test]
fn v1_event_deserializes_into_aws_lambda_events() {
    let req = Req::full();
    let event: ApiGatewayProxyRequest = serde_json::from_slice(&event_v1(&req.input())).unwrap();

    assert_eq!(event.resource.as_deref(), Some("/pets/{id}"));
    assert_eq!(event.path.as_deref(), Some("/dev/pets/42"));
    assert_eq!(event.http_method, Method::POST);
    assert_eq!(header_values(&event.headers, "x-dup"), ["2"]);
    assert_eq!(header_values(&event.headers, "cookie"), ["c=3"]);
    assert_eq!(
        header_values(&event.multi_value_headers, "x-dup"),
        ["1", "2"]
    );
    assert_eq!(
        header_values(&event.multi_value_headers, "cookie"),
        ["a=1; b=2", "c=3"]
    );
    assert_eq!(event.multi_value_headers.keys_len(), 6);
    assert_eq!(event.headers.keys_len(), 6);
    assert_eq!(event.query_string_parameters.first("tag"), Some("b"));
    assert_eq!(event.query_string_parameters.first("q"), Some("a b!"));
    assert_eq!(
        event.multi_value_query_string_parameters.all("tag"),
        Some(vec!["a", "b"])
    );
    assert_eq!(event.path_parameters.len(), 1);
    assert_eq!(event.path_parameters["id"], "42");
    assert_eq!(event.stage_variables["backend"], "v2");
    assert_eq!(
        event.body.as_deref(),
        Some(r#"{"name":"Rex","emoji":"\u00e9"}"#)
    );
    assert!(!event.is_base64_encoded);

    let ctx = &event.request_context;
    assert_eq!(ctx.account_id.as_deref(), Some("123456789012"));
    assert_eq!(ctx.resource_id, None);
    assert_eq!(ctx.stage.as_deref(), Some("dev"));
    assert_eq!(
        ctx.domain_name.as_deref(),
        Some("abc123.execute-api.us-east-1.amazonaws.com")
    );
    assert_eq!(ctx.domain_prefix.as_deref(), Some("abc123"));
    assert_eq!(ctx.request_id.as_deref(), Some("JvxfkgT4oAMEJ-Q="));
    assert_eq!(ctx.protocol.as_deref(), Some("HTTP/1.1"));
    assert_eq!(ctx.identity.source_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(ctx.identity.user_agent.as_deref(), Some("curl/8.5.0"));
    assert_eq!(ctx.identity.account_id, None);
    assert_eq!(ctx.identity.caller, None);
    assert_eq!(ctx.identity.api_key, None);
    assert_eq!(ctx.resource_path.as_deref(), Some("/pets/{id}"));
    assert_eq!(ctx.path.as_deref(), Some("/dev/pets/42"));
    assert_eq!(ctx.http_method, Method::POST);
    assert_eq!(
        ctx.request_time.as_deref(),
        Some("12/Mar/2020:19:03:58 +0000")
    );
    assert_eq!(ctx.request_time_epoch, EPOCH_MS);
    assert_eq!(ctx.apiid.as_deref(), Some("abc123"));
}

#[test]
fn v1_empty_parts_are_null() {
    let ours = Req::minimal().v1();
    for key in [
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "body",
    ] {
        assert_eq!(ours[key], Value::Null, "{key}");
    }
    assert_eq!(ours["isBase64Encoded"], false);
    // `$default` route: resource and resourcePath carry the request path (the guide's example).
    assert_eq!(ours["resource"], "/");
    assert_eq!(ours["requestContext"]["resourcePath"], "/");
    let event: ApiGatewayProxyRequest =
        serde_json::from_slice(&event_v1(&Req::minimal().input())).unwrap();
    assert!(event.query_string_parameters.is_empty());
    assert!(event.path_parameters.is_empty());
    assert_eq!(event.body, None);
}

#[test]
fn v1_greedy_path_and_binary_body() {
    let mut req = Req::minimal();
    req.stage = "prod";
    req.route_key = "ANY /{proxy+}";
    req.resource_path = "/{proxy+}";
    req.method = Method::POST;
    req.raw_path = "/prod/hello/world";
    req.path_params = vec![("proxy", "hello/world")];
    req.body = vec![0x00, 0x01, 0xfe, 0xff];
    let ours = req.v1();
    assert_eq!(ours["resource"], "/{proxy+}");
    assert_eq!(ours["requestContext"]["resourcePath"], "/{proxy+}");
    assert_eq!(ours["path"], "/prod/hello/world");
    assert_eq!(ours["requestContext"]["path"], "/prod/hello/world");
    assert_eq!(ours["requestContext"]["stage"], "prod");
    assert_eq!(ours["pathParameters"], json!({"proxy": "hello/world"}));
    assert_eq!(ours["body"], "AAH+/w==");
    assert_eq!(ours["isBase64Encoded"], true);
}

#[test]
fn v1_without_user_agent_and_with_authorizer() {
    let mut req = Req::minimal();
    req.headers.remove("user-agent");
    let authorizer = json!({"principalId": "user-1", "tenant": "t1"});
    let bytes = event_v1_with_authorizer(&req.input(), Some(&authorizer));
    let ours: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(ours["requestContext"]["identity"]["userAgent"], Value::Null);
    assert_eq!(ours["requestContext"]["authorizer"], authorizer);
    let event: ApiGatewayProxyRequest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(event.request_context.authorizer.fields["tenant"], "t1");
}

// === responses ===

fn headers_of(response: &LambdaHttpResponse) -> Vec<(&str, &str)> {
    response
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
        .collect()
}

#[test]
fn v2_explicit_response_with_cookies_and_base64() {
    let output = br#"{
        "statusCode": 201,
        "headers": {"Content-Type": "image/png", "X-Count": 3, "X-Flag": true},
        "cookies": ["session=abc; Path=/; HttpOnly", "theme=dark"],
        "body": "iVBORw0KGgoA/w==",
        "isBase64Encoded": true
    }"#;
    let response = response_v2(output).unwrap();
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(
        headers_of(&response),
        [
            ("content-type", "image/png"),
            ("x-count", "3"),
            ("x-flag", "true"),
            ("set-cookie", "session=abc; Path=/; HttpOnly"),
            ("set-cookie", "theme=dark"),
        ]
    );
    assert_eq!(
        &response.body[..],
        &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]
    );
}

#[test]
fn v2_explicit_response_minimal_and_unpadded_base64() {
    let response = response_v2(br#"{"statusCode": 204}"#).unwrap();
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(response.headers.is_empty());
    assert!(response.body.is_empty());

    let response =
        response_v2(br#"{"statusCode":200,"body":"aGk","isBase64Encoded":true}"#).unwrap();
    assert_eq!(&response.body[..], b"hi");

    let response =
        response_v2(br#"{"statusCode":404,"headers":null,"cookies":null,"body":null}"#).unwrap();
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert!(response.body.is_empty());
}

#[test]
fn v2_explicit_response_from_aws_lambda_events() {
    let mut expected = ApiGatewayV2httpResponse::default();
    expected.status_code = 418;
    expected
        .headers
        .insert("x-tea", HeaderValue::from_static("earl grey"));
    expected.cookies = vec!["a=1".to_owned()];
    expected.body = Some(Body::Text("short and stout".to_owned()));
    let output = serde_json::to_vec(&expected).unwrap();
    let response = response_v2(&output).unwrap();
    assert_eq!(response.status.as_u16(), 418);
    assert_eq!(
        headers_of(&response),
        [("x-tea", "earl grey"), ("set-cookie", "a=1")]
    );
    assert_eq!(response.body, Bytes::from_static(b"short and stout"));
}

#[test]
fn v2_inferred_string() {
    // The guide's table: "Hello from Lambda!" → 200, content-type application/json, body
    // Hello from Lambda!
    let response = response_v2(br#""Hello from Lambda!""#).unwrap();
    assert_eq!(
        response,
        LambdaHttpResponse {
            status: StatusCode::OK,
            headers: vec![(
                HeaderName::from_static("content-type"),
                HeaderValue::from_static("application/json")
            )],
            body: Bytes::from_static(b"Hello from Lambda!"),
        }
    );
}

#[test]
fn v2_inferred_object_and_other_json() {
    // The guide's table: { "message": "Hello from Lambda!" } → the same text as the body.
    let output = br#"{ "message": "Hello from Lambda!" }"#;
    let response = response_v2(output).unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        headers_of(&response),
        [("content-type", "application/json")]
    );
    assert_eq!(&response.body[..], &output[..]);

    for output in [&b"[1,2]"[..], b"42", b"null", b"true"] {
        let response = response_v2(output).unwrap();
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(&response.body[..], output);
    }
}

fn malformed_v2(output: &[u8]) -> MalformedResponse {
    match response_v2(output) {
        Ok(r) => panic!("{} parsed as {r:?}", String::from_utf8_lossy(output)),
        Err(e) => e,
    }
}

fn malformed_v1(output: &[u8]) -> MalformedResponse {
    match response_v1(output) {
        Ok(r) => panic!("{} parsed as {r:?}", String::from_utf8_lossy(output)),
        Err(e) => e,
    }
}

#[test]
fn v2_malformed_responses() {
    assert!(matches!(
        malformed_v2(b"Hello"),
        MalformedResponse::NotJson(_)
    ));
    assert!(matches!(malformed_v2(b""), MalformedResponse::NotJson(_)));
    assert!(matches!(
        malformed_v2(b"{\"statusCode\":"),
        MalformedResponse::NotJson(_)
    ));
    assert!(matches!(
        malformed_v2(br#"{"statusCode":"200"}"#),
        MalformedResponse::InvalidStatusCode(s) if s == "\"200\""
    ));
    assert!(matches!(
        malformed_v2(br#"{"statusCode":200.5}"#),
        MalformedResponse::InvalidStatusCode(_)
    ));
    assert!(matches!(
        malformed_v2(br#"{"statusCode":null}"#),
        MalformedResponse::InvalidStatusCode(_)
    ));
    assert!(matches!(
        malformed_v2(br#"{"statusCode":700}"#),
        MalformedResponse::InvalidStatusCode(_)
    ));
    assert!(matches!(
        malformed_v2(br#"{"statusCode":200,"body":"not base64!","isBase64Encoded":true}"#),
        MalformedResponse::InvalidBase64(_)
    ));
    assert!(matches!(
        malformed_v2(br#"{"statusCode":200,"headers":{"bad header":"x"}}"#),
        MalformedResponse::InvalidHeaderName(n) if n == "bad header"
    ));
    assert!(matches!(
        malformed_v2(br#"{"statusCode":200,"headers":{"x-a":"line\nbreak"}}"#),
        MalformedResponse::InvalidHeaderValue(n) if n == "x-a"
    ));
    assert!(matches!(
        malformed_v2(br#"{"statusCode":200,"headers":{"x-a":{"nested":1}}}"#),
        MalformedResponse::InvalidHeaderValue(_)
    ));
    assert!(matches!(
        malformed_v2(br#"{"statusCode":200,"headers":["x"]}"#),
        MalformedResponse::InvalidField {
            field: "headers",
            ..
        }
    ));
    assert!(matches!(
        malformed_v2(br#"{"statusCode":200,"cookies":[1]}"#),
        MalformedResponse::InvalidField {
            field: "cookies",
            ..
        }
    ));
    assert!(matches!(
        malformed_v2(br#"{"statusCode":200,"cookies":["a=1\r\nx: y"]}"#),
        MalformedResponse::InvalidHeaderValue(n) if n == "set-cookie"
    ));
    assert!(matches!(
        malformed_v2(br#"{"statusCode":200,"body":{"a":1}}"#),
        MalformedResponse::InvalidField { field: "body", .. }
    ));
    assert!(matches!(
        malformed_v2(br#"{"statusCode":200,"isBase64Encoded":"yes"}"#),
        MalformedResponse::InvalidField {
            field: "isBase64Encoded",
            ..
        }
    ));
    // Every error says why.
    assert_eq!(
        malformed_v2(br#"{"statusCode":"200"}"#).to_string(),
        "statusCode \"200\" is not an integer HTTP status between 200 and 599"
    );
}

#[test]
fn v1_multi_value_headers_win() {
    let output = br#"{
        "statusCode": 200,
        "headers": {"X-A": "single", "X-B": "b", "Content-Type": "text/plain"},
        "multiValueHeaders": {"x-a": ["m1", "m2"], "Set-Cookie": ["a=1", "b=2"]},
        "body": "ok",
        "isBase64Encoded": false
    }"#;
    let response = response_v1(output).unwrap();
    assert_eq!(response.status, StatusCode::OK);
    let mut headers = headers_of(&response);
    headers.sort();
    assert_eq!(
        headers,
        [
            ("content-type", "text/plain"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("x-a", "m1"),
            ("x-a", "m2"),
            ("x-b", "b"),
        ]
    );
    assert_eq!(response.body, Bytes::from_static(b"ok"));
}

#[test]
fn v1_response_base64_and_from_aws_lambda_events() {
    let response =
        response_v1(br#"{"statusCode":200,"body":"AAH+/w==","isBase64Encoded":true}"#).unwrap();
    assert_eq!(&response.body[..], &[0x00, 0x01, 0xfe, 0xff]);

    let mut expected = ApiGatewayProxyResponse::default();
    expected.status_code = 302;
    expected
        .headers
        .insert("location", HeaderValue::from_static("/next"));
    expected
        .multi_value_headers
        .append("x-m", HeaderValue::from_static("1"));
    expected
        .multi_value_headers
        .append("x-m", HeaderValue::from_static("2"));
    let output = serde_json::to_vec(&expected).unwrap();
    let response = response_v1(&output).unwrap();
    assert_eq!(response.status, StatusCode::FOUND);
    let mut headers = headers_of(&response);
    headers.sort();
    assert_eq!(headers, [("location", "/next"), ("x-m", "1"), ("x-m", "2")]);
    assert!(response.body.is_empty());
}

#[test]
fn v1_malformed_responses() {
    assert!(matches!(
        malformed_v1(b"oops"),
        MalformedResponse::NotJson(_)
    ));
    // 1.0 has no inferred format.
    assert!(matches!(
        malformed_v1(br#""Hello""#),
        MalformedResponse::NotAnObject
    ));
    assert!(matches!(
        malformed_v1(b"[1]"),
        MalformedResponse::NotAnObject
    ));
    assert!(matches!(
        malformed_v1(br#"{"body":"x"}"#),
        MalformedResponse::MissingStatusCode
    ));
    assert!(matches!(
        malformed_v1(br#"{"statusCode":"200"}"#),
        MalformedResponse::InvalidStatusCode(_)
    ));
    assert!(matches!(
        malformed_v1(br#"{"statusCode":200,"body":"%%%","isBase64Encoded":true}"#),
        MalformedResponse::InvalidBase64(_)
    ));
    assert!(matches!(
        malformed_v1(br#"{"statusCode":200,"multiValueHeaders":{"x":"not-a-list"}}"#),
        MalformedResponse::InvalidField {
            field: "multiValueHeaders",
            ..
        }
    ));
    assert!(matches!(
        malformed_v1(br#"{"statusCode":200,"multiValueHeaders":{"x(y)":["v"]}}"#),
        MalformedResponse::InvalidHeaderName(_)
    ));
    assert!(matches!(
        malformed_v1(br#"{"statusCode":200,"headers":{"x":"a\u0000b"}}"#),
        MalformedResponse::InvalidHeaderValue(_)
    ));
    assert!(matches!(
        malformed_v1(br#"{"statusCode":200,"body":["x"]}"#),
        MalformedResponse::InvalidField { field: "body", .. }
    ));
}
