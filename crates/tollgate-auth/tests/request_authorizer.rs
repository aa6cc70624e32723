//! The Lambda (request) authorizer end to end, against a real Lambda Invoke API mock on
//! 127.0.0.1:0 that records every event it receives and answers as each test says.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tollgate_auth::request::{DEFAULT_RESULT_TTL, DEFAULT_TIMEOUT, MAX_RESULT_TTL};
use tollgate_auth::{
    AuthorizerRequest, FunctionFailure, IdentitySource, LambdaPrincipal, PayloadFormat,
    RequestAuthConfigError, RequestAuthError, RequestAuthorizer, RequestAuthorizerSettings,
};

// === the Lambda Invoke API mock ===

/// What the mock answers to one invocation.
#[derive(Clone)]
struct Reply {
    status: u16,
    function_error: Option<&'static str>,
    body: String,
    delay: Duration,
}

impl Reply {
    fn json(body: Value) -> Reply {
        Reply::raw(body.to_string())
    }

    fn raw(body: impl Into<String>) -> Reply {
        Reply {
            status: 200,
            function_error: None,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
}

type Handler = Arc<dyn Fn(&Value) -> Reply + Send + Sync>;

/// One recorded invocation.
#[derive(Clone, Debug)]
struct Invocation {
    path: String,
    invocation_type: Option<String>,
    content_type: Option<String>,
    event: Value,
}

struct Lambda {
    addr: SocketAddr,
    calls: Arc<Mutex<Vec<Invocation>>>,
}

impl Lambda {
    async fn start(handler: impl Fn(&Value) -> Reply + Send + Sync + 'static) -> Lambda {
        let handler: Handler = Arc::new(handler);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let calls: Arc<Mutex<Vec<Invocation>>> = Arc::default();
        let recorded = Arc::clone(&calls);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let handler = Arc::clone(&handler);
                let calls = Arc::clone(&recorded);
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let handler = Arc::clone(&handler);
                        let calls = Arc::clone(&calls);
                        async move {
                            let header = |name: &str| {
                                req.headers()
                                    .get(name)
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_owned)
                            };
                            let path = req.uri().path().to_owned();
                            let invocation_type = header("x-amz-invocation-type");
                            let content_type = header("content-type");
                            let ok_route = req.method() == Method::POST
                                && path.starts_with("/2015-03-31/functions/")
                                && path.ends_with("/invocations");
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            if !ok_route {
                                return Ok::<_, Infallible>(response(404, None, "{}"));
                            }
                            let event: Value = serde_json::from_slice(&body).unwrap();
                            let reply = handler(&event);
                            calls.lock().unwrap().push(Invocation {
                                path,
                                invocation_type,
                                content_type,
                                event,
                            });
                            if !reply.delay.is_zero() {
                                tokio::time::sleep(reply.delay).await;
                            }
                            Ok(response(reply.status, reply.function_error, &reply.body))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Lambda { addr, calls }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn invocations(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    fn calls(&self) -> Vec<Invocation> {
        self.calls.lock().unwrap().clone()
    }

    fn last_event(&self) -> Value {
        self.calls()
            .last()
            .expect("the function was invoked")
            .event
            .clone()
    }
}

fn response(status: u16, function_error: Option<&str>, body: &str) -> hyper::Response<Full<Bytes>> {
    let mut b = hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(kind) = function_error {
        b = b.header("X-Amz-Function-Error", kind);
    }
    b.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
}

// === requests ===

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
const API: &str = "abc123";

/// An owned request, so tests can build one and borrow it as an [`AuthorizerRequest`].
struct Req {
    method: Method,
    stage: &'static str,
    path: String,
    query: String,
    headers: HeaderMap,
    params: Vec<(&'static str, &'static str)>,
    stage_vars: BTreeMap<String, String>,
    route_key: String,
    resource: String,
}

impl Req {
    fn new(method: Method, path: &str) -> Req {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("token-1"));
        Req {
            route_key: format!("{method} {path}"),
            resource: path.to_owned(),
            method,
            stage: "prod",
            path: path.to_owned(),
            query: String::new(),
            headers,
            params: Vec::new(),
            stage_vars: BTreeMap::new(),
        }
    }

    fn get(path: &str) -> Req {
        Req::new(Method::GET, path)
    }

    fn token(mut self, token: &str) -> Req {
        self.headers
            .insert("authorization", HeaderValue::from_str(token).unwrap());
        self
    }

    fn raw_path(&self) -> String {
        format!("/{}{}", self.stage, self.path)
    }

    fn view<'a>(&'a self, raw_path: &'a str) -> AuthorizerRequest<'a> {
        AuthorizerRequest {
            method: &self.method,
            raw_path,
            path: &self.path,
            raw_query: &self.query,
            headers: &self.headers,
            path_params: &self.params,
            stage_variables: &self.stage_vars,
            route_key: &self.route_key,
            resource_path: &self.resource,
            region: REGION,
            account_id: ACCOUNT,
            api_id: API,
            stage: self.stage,
            domain_name: "abc123.execute-api.us-east-1.amazonaws.com",
            source_ip: "192.0.2.7",
            protocol: "HTTP/1.1",
            request_id: "req-1",
            request_time: time::OffsetDateTime::from_unix_timestamp(1_584_039_838).unwrap(),
            context_var: None,
        }
    }
}

async fn authorize(a: &RequestAuthorizer, r: &Req) -> Result<LambdaPrincipal, RequestAuthError> {
    let raw = r.raw_path();
    a.authorize(&r.view(&raw)).await
}

fn arn(method: &str, path: &str) -> String {
    format!(
        "arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/prod/{method}/{}",
        path.trim_start_matches('/')
    )
}

fn settings(lambda: &Lambda, format: PayloadFormat, simple: bool) -> RequestAuthorizerSettings {
    let mut s = RequestAuthorizerSettings::new(lambda.endpoint(), "authorizer");
    s.payload_format = format;
    s.simple_responses = simple;
    s
}

fn authorizer(s: RequestAuthorizerSettings) -> RequestAuthorizer {
    RequestAuthorizer::new(s).unwrap()
}

fn policy(effect: &str, action: Value, resource: Value) -> Value {
    json!({
        "principalId": "user-7",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": action, "Effect": effect, "Resource": resource}]
        },
        "context": {"tier": "gold", "limit": 5, "admin": false}
    })
}

fn assert_failed(result: Result<LambdaPrincipal, RequestAuthError>) -> FunctionFailure {
    let err = result.expect_err("the authorizer must fail");
    assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(err.body(), r#"{"message":"Internal Server Error"}"#);
    assert_eq!(err.error_message(), "Internal Server Error");
    match err {
        RequestAuthError::FunctionFailed { reason } => reason,
        other => panic!("expected FunctionFailed, got {other:?}"),
    }
}

fn assert_denied(result: Result<LambdaPrincipal, RequestAuthError>, explicit: bool) {
    let err = result.expect_err("the request must be denied");
    assert_eq!(err, RequestAuthError::Denied { explicit });
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert_eq!(err.body(), r#"{"message":"Forbidden"}"#);
    assert_eq!(err.error_message(), "Forbidden");
}

// === simple responses ===

#[tokio::test]
async fn simple_response_allows_and_passes_the_context() {
    let lambda = Lambda::start(|_| {
        Reply::json(json!({
            "isAuthorized": true,
            "context": {
                "stringKey": "value",
                "numberKey": 1,
                "booleanKey": true,
                "arrayKey": ["value1", "value2"],
                "mapKey": {"value1": "value2"}
            }
        }))
    })
    .await;
    let a = authorizer(settings(&lambda, PayloadFormat::V2, true));
    let p = authorize(&a, &Req::get("/pets/1")).await.unwrap();
    assert_eq!(lambda.invocations(), 1);
    assert_eq!(p.principal_id, None);
    assert_eq!(p.context_value("stringKey").as_deref(), Some("value"));
    assert_eq!(p.context_value("numberKey").as_deref(), Some("1"));
    assert_eq!(p.context_value("booleanKey").as_deref(), Some("true"));
    assert_eq!(
        p.context_value("arrayKey").as_deref(),
        Some(r#"["value1","value2"]"#)
    );
    assert_eq!(
        p.context_value("mapKey").as_deref(),
        Some(r#"{"value1":"value2"}"#)
    );
    assert_eq!(p.context_value("missing"), None);
    assert_eq!(
        p.request_context_authorizer_v2(),
        json!({"lambda": {
            "stringKey": "value",
            "numberKey": 1,
            "booleanKey": true,
            "arrayKey": ["value1", "value2"],
            "mapKey": {"value1": "value2"}
        }})
    );
    assert_eq!(
        p.request_context_authorizer_v1(),
        json!({
            "stringKey": "value",
            "numberKey": "1",
            "booleanKey": "true",
            "arrayKey": "[\"value1\",\"value2\"]",
            "mapKey": "{\"value1\":\"value2\"}"
        })
    );
}

#[tokio::test]
async fn simple_response_false_is_a_403() {
    let lambda =
        Lambda::start(|_| Reply::json(json!({"isAuthorized": false, "context": {"a": "b"}}))).await;
    let a = authorizer(settings(&lambda, PayloadFormat::V2, true));
    assert_denied(authorize(&a, &Req::get("/pets/1")).await, true);
    assert_eq!(lambda.invocations(), 1);
}

#[tokio::test]
async fn simple_mode_refuses_a_policy_and_policy_mode_refuses_a_simple_answer() {
    let lambda = Lambda::start(|event| {
        if event["headers"]["authorization"] == "simple" {
            Reply::json(json!({"isAuthorized": true}))
        } else {
            Reply::json(policy("Allow", json!("execute-api:Invoke"), json!("*")))
        }
    })
    .await;
    let simple = authorizer(settings(&lambda, PayloadFormat::V2, true));
    let iam = authorizer(settings(&lambda, PayloadFormat::V2, false));
    let reason = assert_failed(authorize(&simple, &Req::get("/a").token("policy")).await);
    assert!(
        matches!(reason, FunctionFailure::MalformedResponse(_)),
        "{reason:?}"
    );
    let reason = assert_failed(authorize(&iam, &Req::get("/a").token("simple")).await);
    assert!(
        matches!(reason, FunctionFailure::MalformedResponse(_)),
        "{reason:?}"
    );
    assert!(authorize(&simple, &Req::get("/a").token("simple"))
        .await
        .is_ok());
    assert!(authorize(&iam, &Req::get("/a").token("policy"))
        .await
        .is_ok());
}

// === IAM policies ===

#[tokio::test]
async fn v2_policy_allow_for_the_route_arn() {
    let lambda = Lambda::start(|event| {
        let route_arn = event["routeArn"].clone();
        Reply::json(policy("Allow", json!("execute-api:Invoke"), route_arn))
    })
    .await;
    let a = authorizer(settings(&lambda, PayloadFormat::V2, false));
    let p = authorize(&a, &Req::get("/pets/1")).await.unwrap();
    assert_eq!(p.principal_id.as_deref(), Some("user-7"));
    assert_eq!(p.context_value("principalId").as_deref(), Some("user-7"));
    assert_eq!(p.context_value("tier").as_deref(), Some("gold"));
    assert_eq!(p.context_value("limit").as_deref(), Some("5"));
    assert_eq!(p.context_value("admin").as_deref(), Some("false"));
    assert_eq!(
        p.request_context_authorizer_v2(),
        json!({"lambda": {"tier": "gold", "limit": 5, "admin": false}})
    );
    assert_eq!(lambda.last_event()["routeArn"], arn("GET", "/pets/1"));
}

#[tokio::test]
async fn v1_policy_allow_with_principal_and_usage_key() {
    let lambda = Lambda::start(|event| {
        let mut answer = policy(
            "Allow",
            json!("execute-api:Invoke"),
            event["methodArn"].clone(),
        );
        answer["usageIdentifierKey"] = json!("api-key-123");
        Reply::json(answer)
    })
    .await;
    let a = authorizer(settings(&lambda, PayloadFormat::V1, false));
    let p = authorize(&a, &Req::get("/pets/1")).await.unwrap();
    assert_eq!(p.principal_id.as_deref(), Some("user-7"));
    assert_eq!(p.usage_identifier_key.as_deref(), Some("api-key-123"));
    assert_eq!(
        p.context_value("usageIdentifierKey").as_deref(),
        Some("api-key-123")
    );
    assert_eq!(
        p.request_context_authorizer_v1(),
        json!({"tier": "gold", "limit": "5", "admin": "false", "principalId": "user-7"})
    );
}

#[tokio::test]
async fn explicit_deny_wins_over_allow() {
    for format in [PayloadFormat::V1, PayloadFormat::V2] {
        let lambda = Lambda::start(|_| {
            Reply::json(json!({
                "principalId": "u",
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"},
                    {"Action": "execute-api:Invoke", "Effect": "Deny",
                     "Resource": arn("GET", "/pets/1")}
                ]}
            }))
        })
        .await;
        let a = authorizer(settings(&lambda, format, false));
        assert_denied(authorize(&a, &Req::get("/pets/1")).await, true);
        // The same cached policy allows another route.
        assert!(
            authorize(&a, &Req::get("/pets/2")).await.is_ok(),
            "{format}"
        );
        assert_eq!(lambda.invocations(), 1, "{format}");
    }
}

#[tokio::test]
async fn deny_for_the_route_is_a_403() {
    let lambda = Lambda::start(|event| {
        Reply::json(policy(
            "Deny",
            json!("execute-api:Invoke"),
            event["methodArn"].clone(),
        ))
    })
    .await;
    let a = authorizer(settings(&lambda, PayloadFormat::V1, false));
    assert_denied(authorize(&a, &Req::get("/pets/1")).await, true);
}

#[tokio::test]
async fn allow_for_another_resource_is_an_implicit_deny() {
    for format in [PayloadFormat::V1, PayloadFormat::V2] {
        let lambda = Lambda::start(|_| {
            Reply::json(policy(
                "Allow",
                json!("execute-api:Invoke"),
                json!([arn("GET", "/orders/*"), arn("POST", "/pets/1")]),
            ))
        })
        .await;
        let a = authorizer(settings(&lambda, format, false));
        assert_denied(authorize(&a, &Req::get("/pets/1")).await, false);
    }
}

#[tokio::test]
async fn allow_for_another_action_is_an_implicit_deny() {
    let lambda = Lambda::start(|_| {
        Reply::json(policy(
            "Allow",
            json!([
                "execute-api:InvalidateCache",
                "execute-api:ManageConnections"
            ]),
            json!("*"),
        ))
    })
    .await;
    let a = authorizer(settings(&lambda, PayloadFormat::V2, false));
    assert_denied(authorize(&a, &Req::get("/pets/1")).await, false);
}

#[tokio::test]
async fn wildcard_resources_and_actions() {
    let cases: Vec<(Value, Value, bool)> = vec![
        (json!("*"), json!("*"), true),
        (json!("execute-api:*"), json!("arn:aws:execute-api:*"), true),
        (
            json!(["s3:GetObject", "execute-api:*"]),
            json!([arn("GET", "/pets/*")]),
            true,
        ),
        (
            json!("execute-api:Invoke"),
            json!(format!(
                "arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/*/GET/pets/?"
            )),
            true,
        ),
        (
            json!("execute-api:Invoke"),
            json!(format!(
                "arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/*/*/*"
            )),
            true,
        ),
        (
            json!("execute-api:invoke"),
            json!(format!(
                "arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/prod/GET/pets/1"
            )),
            true,
        ),
        (
            json!("execute-api:Invoke"),
            json!(format!(
                "arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/*/GET/pets/??"
            )),
            false,
        ),
        (
            json!("execute-api:Invoke"),
            json!(format!(
                "arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/dev/*"
            )),
            false,
        ),
        (
            json!("execute-api:Invoke"),
            json!(format!("arn:aws:execute-api:eu-west-1:{ACCOUNT}:{API}/*")),
            false,
        ),
        (json!("execute-api:Inv?ke"), json!("*"), true),
        (json!("s3:*"), json!("*"), false),
    ];
    for (action, resource, allowed) in cases {
        let answer = policy("Allow", action.clone(), resource.clone());
        let lambda = Lambda::start(move |_| Reply::json(answer.clone())).await;
        let a = authorizer(settings(&lambda, PayloadFormat::V1, false));
        let result = authorize(&a, &Req::get("/pets/1")).await;
        assert_eq!(
            result.is_ok(),
            allowed,
            "action {action} resource {resource}: {result:?}"
        );
        if !allowed {
            assert_denied(result, false);
        }
    }
}

#[tokio::test]
async fn cached_policy_is_evaluated_against_each_routes_arn() {
    let lambda = Lambda::start(|_| {
        Reply::json(policy(
            "Allow",
            json!("execute-api:Invoke"),
            json!(arn("GET", "/pets/*")),
        ))
    })
    .await;
    let a = authorizer(settings(&lambda, PayloadFormat::V2, false));
    assert!(authorize(&a, &Req::get("/pets/1")).await.is_ok());
    assert_denied(
        authorize(&a, &Req::new(Method::POST, "/pets/1")).await,
        false,
    );
    assert_denied(authorize(&a, &Req::get("/orders/1")).await, false);
    assert!(authorize(&a, &Req::get("/pets/2")).await.is_ok());
    assert_eq!(lambda.invocations(), 1, "one identity, one invocation");
}

// === event shapes ===

fn rich_request() -> Req {
    let mut r = Req::get("/pets/42");
    r.route_key = "GET /pets/{id}".into();
    r.resource = "/pets/{id}".into();
    r.query = "b=2&a=1&a=3&sp=x+y%21".into();
    r.params = vec![("id", "42")];
    r.stage_vars.insert("env".into(), "blue".into());
    r.headers.append("x-multi", HeaderValue::from_static("one"));
    r.headers.append("x-multi", HeaderValue::from_static("two"));
    r.headers
        .insert("user-agent", HeaderValue::from_static("curl/8"));
    r.headers
        .append("cookie", HeaderValue::from_static("c1=v1; c2=v2"));
    r.headers
        .append("cookie", HeaderValue::from_static("c3=v3"));
    r
}

#[tokio::test]
async fn v2_event_shape() {
    let lambda = Lambda::start(|_| Reply::json(json!({"isAuthorized": true}))).await;
    let mut s = settings(&lambda, PayloadFormat::V2, true);
    s.identity_sources = vec![
        IdentitySource::parse("$request.header.Authorization").unwrap(),
        IdentitySource::parse("$request.querystring.a").unwrap(),
        IdentitySource::parse("$stageVariables.env").unwrap(),
        IdentitySource::parse("$context.routeKey").unwrap(),
    ];
    let a = authorizer(s);
    let r = rich_request();
    authorize(&a, &r).await.unwrap();
    let calls = lambda.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.path, "/2015-03-31/functions/authorizer/invocations");
    assert_eq!(call.invocation_type.as_deref(), Some("RequestResponse"));
    assert_eq!(call.content_type.as_deref(), Some("application/json"));
    let e = &call.event;
    let expected = json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/42",
        "identitySource": ["token-1", "1,3", "blue", "GET /pets/{id}"],
        "routeKey": "GET /pets/{id}",
        "rawPath": "/prod/pets/42",
        "rawQueryString": "b=2&a=1&a=3&sp=x+y%21",
        "cookies": ["c1=v1", "c2=v2", "c3=v3"],
        "headers": {
            "authorization": "token-1",
            "x-multi": "one,two",
            "user-agent": "curl/8"
        },
        "queryStringParameters": {"a": "1,3", "b": "2", "sp": "x y!"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": "GET",
                "path": "/prod/pets/42",
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.7",
                "userAgent": "curl/8"
            },
            "requestId": "req-1",
            "routeKey": "GET /pets/{id}",
            "stage": "prod",
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1_584_039_838_000_i64
        },
        "pathParameters": {"id": "42"},
        "stageVariables": {"env": "blue"}
    });
    // Field by field first, so a failure names the field.
    let (Value::Object(got), Value::Object(want)) = (e, &expected) else {
        panic!("events are objects");
    };
    for (key, value) in want {
        assert_eq!(got.get(key), Some(value), "field {key}");
    }
    assert_eq!(e, &expected, "no field beyond AWS's");
    assert!(e.get("body").is_none(), "authorizer events carry no body");
}

#[tokio::test]
async fn v2_event_leaves_out_empty_optional_fields() {
    let lambda = Lambda::start(|_| Reply::json(json!({"isAuthorized": true}))).await;
    let mut s = settings(&lambda, PayloadFormat::V2, true);
    s.identity_sources = Vec::new();
    s.result_ttl = Duration::ZERO;
    let a = authorizer(s);
    let mut r = Req::get("/");
    r.headers.clear();
    authorize(&a, &r).await.unwrap();
    let e = lambda.last_event();
    for absent in [
        "identitySource",
        "cookies",
        "queryStringParameters",
        "pathParameters",
        "stageVariables",
    ] {
        assert!(e.get(absent).is_none(), "{absent} must be left out: {e}");
    }
    assert_eq!(e["headers"], json!({}));
    assert_eq!(e["rawQueryString"], "");
    assert_eq!(
        e["routeArn"],
        "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/"
    );
    assert_eq!(e["requestContext"]["http"]["userAgent"], "");
}

#[tokio::test]
async fn v1_event_shape() {
    let lambda = Lambda::start(|event| {
        Reply::json(policy(
            "Allow",
            json!("execute-api:Invoke"),
            event["methodArn"].clone(),
        ))
    })
    .await;
    let mut s = settings(&lambda, PayloadFormat::V1, false);
    s.identity_sources = vec![
        IdentitySource::parse("$request.header.Authorization").unwrap(),
        IdentitySource::parse("$request.querystring.b").unwrap(),
    ];
    let a = authorizer(s);
    let r = rich_request();
    authorize(&a, &r).await.unwrap();
    let e = lambda.last_event();
    let expected = json!({
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/pets/42",
        "identitySource": "token-1,2",
        "authorizationToken": "token-1,2",
        "resource": "/pets/{id}",
        "path": "/prod/pets/42",
        "httpMethod": "GET",
        "headers": {
            "authorization": "token-1",
            "x-multi": "two",
            "user-agent": "curl/8",
            "cookie": "c3=v3"
        },
        "multiValueHeaders": {
            "authorization": ["token-1"],
            "x-multi": ["one", "two"],
            "user-agent": ["curl/8"],
            "cookie": ["c1=v1; c2=v2", "c3=v3"]
        },
        "queryStringParameters": {"a": "3", "b": "2", "sp": "x y!"},
        "multiValueQueryStringParameters": {"a": ["1", "3"], "b": ["2"], "sp": ["x y!"]},
        "pathParameters": {"id": "42"},
        "stageVariables": {"env": "blue"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "extendedRequestId": "req-1",
            "http": {
                "method": "GET",
                "path": "/prod/pets/42",
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.7",
                "userAgent": "curl/8"
            },
            "httpMethod": "GET",
            "identity": {"sourceIp": "192.0.2.7", "userAgent": "curl/8"},
            "path": "/prod/pets/42",
            "protocol": "HTTP/1.1",
            "requestId": "req-1",
            "requestTime": "12/Mar/2020:19:03:58 +0000",
            "requestTimeEpoch": 1_584_039_838_000_i64,
            "resourceId": null,
            "resourcePath": "/pets/{id}",
            "routeKey": "GET /pets/{id}",
            "stage": "prod",
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1_584_039_838_000_i64
        }
    });
    let (Value::Object(got), Value::Object(want)) = (&e, &expected) else {
        panic!("events are objects");
    };
    for (key, value) in want {
        assert_eq!(got.get(key), Some(value), "field {key}");
    }
    assert_eq!(e, expected, "no field beyond AWS's");
}

#[tokio::test]
async fn v1_event_empty_values() {
    let lambda =
        Lambda::start(|_| Reply::json(policy("Allow", json!("execute-api:Invoke"), json!("*"))))
            .await;
    let a = authorizer(settings(&lambda, PayloadFormat::V1, false));
    let mut r = Req::get("/");
    r.route_key = "$default".into();
    r.resource = "$default".into();
    r.stage = "$default";
    let raw = "/".to_owned();
    a.authorize(&r.view(&raw)).await.unwrap();
    let e = lambda.last_event();
    assert_eq!(e["queryStringParameters"], Value::Null);
    assert_eq!(e["multiValueQueryStringParameters"], Value::Null);
    assert_eq!(e["pathParameters"], json!({}));
    assert_eq!(e["stageVariables"], Value::Null);
    assert_eq!(
        e["resource"], "/",
        "the $default route uses the request path"
    );
    assert_eq!(e["requestContext"]["identity"]["userAgent"], Value::Null);
    assert_eq!(
        e["methodArn"],
        "arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/"
    );
}

#[tokio::test]
async fn function_name_is_percent_encoded() {
    let lambda = Lambda::start(|_| Reply::json(json!({"isAuthorized": true}))).await;
    let mut s = settings(&lambda, PayloadFormat::V2, true);
    s.function = "arn:aws:lambda:us-east-1:123456789012:function:auth".into();
    authorize(&authorizer(s), &Req::get("/a")).await.unwrap();
    assert_eq!(
        lambda.calls()[0].path,
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus%2Deast%2D1%3A123456789012%3Afunction%3Aauth/invocations"
    );
}

// === identity sources ===

#[tokio::test]
async fn missing_identity_source_is_a_401_without_invoking() {
    let lambda = Lambda::start(|_| Reply::json(json!({"isAuthorized": true}))).await;
    let mut s = settings(&lambda, PayloadFormat::V2, true);
    s.identity_sources = vec![
        IdentitySource::parse("$request.header.Authorization").unwrap(),
        IdentitySource::parse("$request.querystring.key").unwrap(),
        IdentitySource::parse("$stageVariables.env").unwrap(),
        IdentitySource::parse("$context.custom").unwrap(),
    ];
    let a = authorizer(s);
    let assert_401 = |result: Result<LambdaPrincipal, RequestAuthError>, source: &str| {
        let err = result.expect_err("must be refused");
        assert_eq!(
            err,
            RequestAuthError::MissingIdentity {
                identity_source: source.to_owned()
            }
        );
        assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(err.body(), r#"{"message":"Unauthorized"}"#);
        assert_eq!(err.error_message(), "Unauthorized");
        assert!(err.authorizer_error().contains(source));
    };

    let mut r = Req::get("/a");
    r.headers.clear();
    assert_401(authorize(&a, &r).await, "$request.header.authorization");
    r.headers
        .insert("authorization", HeaderValue::from_static(""));
    assert_401(authorize(&a, &r).await, "$request.header.authorization");
    r.headers
        .insert("authorization", HeaderValue::from_static("t"));
    assert_401(authorize(&a, &r).await, "$request.querystring.key");
    r.query = "key=&Key=x".into();
    assert_401(authorize(&a, &r).await, "$request.querystring.key");
    r.query = "key=k".into();
    assert_401(authorize(&a, &r).await, "$stageVariables.env");
    r.stage_vars.insert("env".into(), "blue".into());
    assert_401(authorize(&a, &r).await, "$context.custom");
    assert_eq!(lambda.invocations(), 0, "the function must not be invoked");

    let lookup = |var: &str| (var == "custom").then(|| "c".to_owned());
    let raw = r.raw_path();
    let mut view = r.view(&raw);
    view.context_var = Some(&lookup);
    a.authorize(&view).await.unwrap();
    assert_eq!(lambda.invocations(), 1);
    assert_eq!(
        lambda.last_event()["identitySource"],
        json!(["t", "k", "blue", "c"])
    );
}

#[test]
fn identity_source_parsing() {
    assert_eq!(
        IdentitySource::parse("$request.header.X-Api-Token").unwrap(),
        IdentitySource::Header(http::HeaderName::from_static("x-api-token"))
    );
    assert_eq!(
        "$request.querystring.Token"
            .parse::<IdentitySource>()
            .unwrap(),
        IdentitySource::Query("Token".into())
    );
    assert_eq!(
        IdentitySource::parse("$context.identity.sourceIp").unwrap(),
        IdentitySource::Context("identity.sourceIp".into())
    );
    assert_eq!(
        IdentitySource::parse("$stageVariables.key").unwrap(),
        IdentitySource::StageVariable("key".into())
    );
    assert_eq!(
        IdentitySource::Query("Token".into()).to_string(),
        "$request.querystring.Token"
    );
    for bad in [
        "",
        "Authorization",
        "$request.header.",
        "$request.header.bad header",
        "$request.headers.x",
        "route.request.header.Auth",
        "$request.body.token",
        "$request.path.id",
        "$stagevariables.x",
        "$context.",
    ] {
        let err = IdentitySource::parse(bad).expect_err(bad);
        assert!(
            matches!(err, RequestAuthConfigError::InvalidIdentitySource { ref expression, .. } if expression == bad),
            "{bad}: {err:?}"
        );
        assert!(err.to_string().contains("invalid identity source"), "{err}");
    }
}

// === function failures ===

#[tokio::test]
async fn function_error_header_is_a_500() {
    let lambda = Lambda::start(|_| Reply {
        function_error: Some("Unhandled"),
        ..Reply::json(json!({"errorMessage": "boom", "errorType": "Error"}))
    })
    .await;
    let a = authorizer(settings(&lambda, PayloadFormat::V2, true));
    let reason = assert_failed(authorize(&a, &Req::get("/a")).await);
    assert_eq!(reason, FunctionFailure::FunctionError("Unhandled".into()));
    let err = RequestAuthError::from(reason);
    assert!(
        err.authorizer_error().contains("Unhandled"),
        "{}",
        err.authorizer_error()
    );
    assert_eq!(err.response_type(), "AUTHORIZER_FAILURE");
}

#[tokio::test]
async fn invoke_api_error_status_is_a_500() {
    let lambda = Lambda::start(|_| Reply {
        status: 404,
        ..Reply::raw(r#"{"Type":"User","message":"Function not found"}"#)
    })
    .await;
    let a = authorizer(settings(&lambda, PayloadFormat::V2, true));
    let reason = assert_failed(authorize(&a, &Req::get("/a")).await);
    assert_eq!(reason, FunctionFailure::Status(404));
}

#[tokio::test]
async fn slow_function_times_out_with_a_500() {
    let lambda = Lambda::start(|_| Reply {
        delay: Duration::from_secs(3),
        ..Reply::json(json!({"isAuthorized": true}))
    })
    .await;
    let mut s = settings(&lambda, PayloadFormat::V2, true);
    s.timeout = Duration::from_millis(300);
    let a = authorizer(s);
    let started = Instant::now();
    let reason = assert_failed(authorize(&a, &Req::get("/a")).await);
    let took = started.elapsed();
    assert_eq!(reason, FunctionFailure::Timeout(Duration::from_millis(300)));
    assert!(took >= Duration::from_millis(290), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(a.cached_results(), 0, "a failure is not cached");
}

#[tokio::test]
async fn malformed_answers_are_500s() {
    let bodies = [
        "not json at all",
        "",
        "null",
        r#""Allow""#,
        r#"{"isAuthorized":"yes"}"#,
        r#"{"isAuthorized":true,"context":"x"}"#,
    ];
    for body in bodies {
        let lambda = Lambda::start(move |_| Reply::raw(body)).await;
        let a = authorizer(settings(&lambda, PayloadFormat::V2, true));
        let reason = assert_failed(authorize(&a, &Req::get("/a")).await);
        assert!(
            matches!(reason, FunctionFailure::MalformedResponse(_)),
            "{body}: {reason:?}"
        );
    }
    let policies = [
        json!({"principalId": "u"}),
        json!({"policyDocument": {"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}}),
        json!({"policyDocument": {"Statement": [{"Effect": "Allow", "Action": "*"}]}}),
        json!({"policyDocument": {"Version": "2012-10-17"}}),
        // 1.0 context values may not be objects or arrays.
        json!({"policyDocument": {"Statement": []}, "context": {"list": [1]}}),
    ];
    for answer in policies {
        let body = answer.clone();
        let lambda = Lambda::start(move |_| Reply::json(body.clone())).await;
        let a = authorizer(settings(&lambda, PayloadFormat::V1, false));
        let reason = assert_failed(authorize(&a, &Req::get("/a")).await);
        assert!(
            matches!(reason, FunctionFailure::MalformedResponse(_)),
            "{answer}: {reason:?}"
        );
    }
}

#[tokio::test]
async fn unreachable_endpoint_is_a_500() {
    // Bind then drop: nothing listens on the port any more.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut s = RequestAuthorizerSettings::new(format!("http://{addr}"), "f");
    s.timeout = Duration::from_secs(2);
    let a = authorizer(s);
    let reason = assert_failed(authorize(&a, &Req::get("/a")).await);
    assert!(
        matches!(reason, FunctionFailure::Unreachable(_)),
        "{reason:?}"
    );
    assert_eq!(
        RequestAuthError::from(reason).response_type(),
        "AUTHORIZER_CONFIGURATION_ERROR"
    );
}

#[tokio::test]
async fn oversized_answer_is_a_500() {
    let big = format!(
        r#"{{"isAuthorized":true,"context":{{"pad":"{}"}}}}"#,
        "x".repeat(tollgate_auth::request::MAX_RESPONSE_BYTES)
    );
    let lambda = Lambda::start(move |_| Reply::raw(big.clone())).await;
    let a = authorizer(settings(&lambda, PayloadFormat::V2, true));
    let reason = assert_failed(authorize(&a, &Req::get("/a")).await);
    assert!(
        matches!(reason, FunctionFailure::ResponseTooLarge(_)),
        "{reason:?}"
    );
}

// === caching ===

#[tokio::test]
async fn same_identity_is_served_from_the_cache() {
    let lambda = Lambda::start(|event| {
        let token = event["headers"]["authorization"].as_str().unwrap_or("");
        Reply::json(json!({"isAuthorized": true, "context": {"token": token}}))
    })
    .await;
    let a = authorizer(settings(&lambda, PayloadFormat::V2, true));
    let first = authorize(&a, &Req::get("/a").token("alice")).await.unwrap();
    let clone = a.clone();
    let second = authorize(&clone, &Req::get("/b").token("alice"))
        .await
        .unwrap();
    assert_eq!(lambda.invocations(), 1, "clones share the cache");
    assert_eq!(first, second);
    assert_eq!(a.cached_results(), 1);

    let bob = authorize(&a, &Req::get("/a").token("bob")).await.unwrap();
    assert_eq!(lambda.invocations(), 2, "another identity invokes again");
    assert_eq!(bob.context_value("token").as_deref(), Some("bob"));
    assert_eq!(a.cached_results(), 2);

    a.clear_cache();
    authorize(&a, &Req::get("/a").token("alice")).await.unwrap();
    assert_eq!(lambda.invocations(), 3);
}

#[tokio::test]
async fn a_cached_denial_stays_denied() {
    let lambda = Lambda::start(|_| Reply::json(json!({"isAuthorized": false}))).await;
    let a = authorizer(settings(&lambda, PayloadFormat::V2, true));
    assert_denied(authorize(&a, &Req::get("/a")).await, true);
    assert_denied(authorize(&a, &Req::get("/a")).await, true);
    assert_eq!(lambda.invocations(), 1);
}

#[tokio::test]
async fn cache_hit_does_no_io() {
    let lambda = Lambda::start(|_| Reply::json(json!({"isAuthorized": true}))).await;
    let a = authorizer(settings(&lambda, PayloadFormat::V2, true));
    authorize(&a, &Req::get("/a")).await.unwrap();
    // A hit is ready on its first poll.
    let r = Req::get("/a");
    let raw = r.raw_path();
    let view = r.view(&raw);
    let mut fut = std::pin::pin!(a.authorize(&view));
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(result) => assert!(result.is_ok()),
        std::task::Poll::Pending => panic!("a cache hit must not wait"),
    }
    assert_eq!(lambda.invocations(), 1);
}

#[tokio::test]
async fn ttl_zero_invokes_every_time() {
    let lambda = Lambda::start(|_| Reply::json(json!({"isAuthorized": true}))).await;
    let mut s = settings(&lambda, PayloadFormat::V2, true);
    s.result_ttl = Duration::ZERO;
    let a = authorizer(s);
    for _ in 0..3 {
        authorize(&a, &Req::get("/a")).await.unwrap();
    }
    assert_eq!(lambda.invocations(), 3);
    assert_eq!(a.cached_results(), 0);
}

#[tokio::test]
async fn entries_expire_after_the_ttl() {
    let lambda = Lambda::start(|_| Reply::json(json!({"isAuthorized": true}))).await;
    let mut s = settings(&lambda, PayloadFormat::V2, true);
    s.result_ttl = Duration::from_millis(400);
    let a = authorizer(s);
    authorize(&a, &Req::get("/a")).await.unwrap();
    authorize(&a, &Req::get("/a")).await.unwrap();
    assert_eq!(lambda.invocations(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(a.cached_results(), 0);
    authorize(&a, &Req::get("/a")).await.unwrap();
    assert_eq!(
        lambda.invocations(),
        2,
        "an expired answer is fetched again"
    );
    authorize(&a, &Req::get("/a")).await.unwrap();
    assert_eq!(lambda.invocations(), 2);
}

#[tokio::test]
async fn failures_are_not_cached() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let lambda = Lambda::start(move |_| {
        if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply::raw("garbage")
        } else {
            Reply::json(json!({"isAuthorized": true}))
        }
    })
    .await;
    let a = authorizer(settings(&lambda, PayloadFormat::V2, true));
    assert_failed(authorize(&a, &Req::get("/a")).await);
    authorize(&a, &Req::get("/a")).await.unwrap();
    authorize(&a, &Req::get("/a")).await.unwrap();
    assert_eq!(lambda.invocations(), 2);
}

#[tokio::test]
async fn concurrent_misses_share_one_invocation() {
    let lambda = Lambda::start(|_| Reply {
        delay: Duration::from_millis(300),
        ..Reply::json(json!({"isAuthorized": true, "context": {"n": 1}}))
    })
    .await;
    let a = authorizer(settings(&lambda, PayloadFormat::V2, true));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let a = a.clone();
        let token = if i % 2 == 0 { "even" } else { "odd" };
        tasks.push(tokio::spawn(async move {
            authorize(&a, &Req::get("/a").token(token)).await
        }));
    }
    for t in tasks {
        let p = t.await.unwrap().unwrap();
        assert_eq!(p.context_value("n").as_deref(), Some("1"));
    }
    assert_eq!(lambda.invocations(), 2, "one invocation per identity");
}

#[tokio::test]
async fn context_route_key_makes_the_cache_per_route() {
    let lambda = Lambda::start(|_| Reply::json(json!({"isAuthorized": true}))).await;
    let mut s = settings(&lambda, PayloadFormat::V2, true);
    s.identity_sources = vec![
        IdentitySource::parse("$request.header.Authorization").unwrap(),
        IdentitySource::parse("$context.routeKey").unwrap(),
    ];
    let a = authorizer(s);
    authorize(&a, &Req::get("/a")).await.unwrap();
    authorize(&a, &Req::get("/a")).await.unwrap();
    authorize(&a, &Req::get("/b")).await.unwrap();
    assert_eq!(lambda.invocations(), 2);
}

// === configuration ===

#[test]
fn settings_defaults_and_validation() {
    let s = RequestAuthorizerSettings::new("http://127.0.0.1:1", "f");
    assert_eq!(s.payload_format, PayloadFormat::V2);
    assert!(!s.simple_responses);
    assert_eq!(s.result_ttl, DEFAULT_RESULT_TTL);
    assert_eq!(DEFAULT_RESULT_TTL, Duration::from_secs(300));
    assert_eq!(s.timeout, DEFAULT_TIMEOUT);
    assert_eq!(DEFAULT_TIMEOUT, Duration::from_secs(10));
    assert_eq!(
        s.identity_sources,
        vec![IdentitySource::parse("$request.header.Authorization").unwrap()]
    );
    assert!(RequestAuthorizer::new(s.clone()).is_ok());
    assert_eq!("1.0".parse::<PayloadFormat>().unwrap(), PayloadFormat::V1);
    assert!("3.0".parse::<PayloadFormat>().is_err());

    let check = |edit: &dyn Fn(&mut RequestAuthorizerSettings), want: RequestAuthConfigError| {
        let mut bad = s.clone();
        edit(&mut bad);
        assert_eq!(RequestAuthorizer::new(bad).unwrap_err(), want);
    };
    check(
        &|b| b.result_ttl = MAX_RESULT_TTL + Duration::from_secs(1),
        RequestAuthConfigError::TtlTooLong(Duration::from_secs(3601)),
    );
    check(
        &|b| b.identity_sources.clear(),
        RequestAuthConfigError::CacheWithoutIdentitySource,
    );
    check(
        &|b| {
            b.payload_format = PayloadFormat::V1;
            b.simple_responses = true;
        },
        RequestAuthConfigError::SimpleResponsesNeedV2,
    );
    check(
        &|b| b.timeout = Duration::from_secs(11),
        RequestAuthConfigError::InvalidTimeout(Duration::from_secs(11)),
    );
    check(
        &|b| b.timeout = Duration::ZERO,
        RequestAuthConfigError::InvalidTimeout(Duration::ZERO),
    );
    check(
        &|b| b.function.clear(),
        RequestAuthConfigError::EmptyFunction,
    );
    check(
        &|b| b.cache_capacity = 0,
        RequestAuthConfigError::ZeroCacheCapacity,
    );
    for endpoint in ["ftp://h", "not a url", "127.0.0.1:9000", ""] {
        check(
            &|b| b.endpoint = endpoint.into(),
            RequestAuthConfigError::InvalidEndpoint(endpoint.into()),
        );
    }
    // No identity source is fine without caching; the maximum TTL is accepted.
    let mut ok = s.clone();
    ok.identity_sources.clear();
    ok.result_ttl = Duration::ZERO;
    assert!(RequestAuthorizer::new(ok).is_ok());
    let mut ok = s;
    ok.result_ttl = MAX_RESULT_TTL;
    assert!(RequestAuthorizer::new(ok).is_ok());
}

#[test]
fn authorize_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let a =
        RequestAuthorizer::new(RequestAuthorizerSettings::new("http://127.0.0.1:1", "f")).unwrap();
    let r = Req::get("/a");
    let raw = r.raw_path();
    let view = r.view(&raw);
    let fut = a.authorize(&view);
    assert_send(&fut);
}
