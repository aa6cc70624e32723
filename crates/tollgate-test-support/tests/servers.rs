//! The helpers answer real HTTP requests the way their docs say.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tollgate_test_support::{spawn_echo_upstream, spawn_lambda, LambdaReply};

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn send(
    method: Method,
    url: String,
    headers: &[(&str, &str)],
    body: &'static [u8],
) -> (StatusCode, http::HeaderMap, Bytes) {
    let mut req = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let response = client()
        .request(req.body(Full::new(Bytes::from_static(body))).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body)
}

#[tokio::test]
async fn lambda_mock_records_events_and_replies() {
    let lambda = spawn_lambda(|name, event| match name {
        "fails" => LambdaReply::FunctionError(br#"{"errorMessage":"boom"}"#.to_vec()),
        "slow" => LambdaReply::Delay(Duration::from_millis(150), b"\"late\"".to_vec()),
        "missing" => LambdaReply::NotFound,
        _ => LambdaReply::Ok(serde_json::to_vec(&json!({"got": event["n"]})).unwrap()),
    })
    .await;
    let base = lambda.endpoint();
    assert_eq!(base, format!("http://{}", lambda.addr()));

    let (status, headers, body) = send(
        Method::POST,
        format!("{base}/2015-03-31/functions/echo/invocations"),
        &[],
        br#"{"n":1}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("x-amz-function-error").is_none());
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"got": 1})
    );

    let (status, headers, body) = send(
        Method::POST,
        format!("{base}/2015-03-31/functions/fails/invocations"),
        &[],
        b"{}",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-amz-function-error"], "Unhandled");
    assert_eq!(&body[..], br#"{"errorMessage":"boom"}"#);

    let started = Instant::now();
    let (status, _, body) = send(
        Method::POST,
        format!("{base}/2015-03-31/functions/slow/invocations"),
        &[],
        b"{}",
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"\"late\"");

    let (status, headers, body) = send(
        Method::POST,
        format!("{base}/2015-03-31/functions/missing/invocations"),
        &[],
        b"{}",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-amzn-errortype"], "ResourceNotFoundException");
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["Type"], "User");
    assert_eq!(error["__type"], "ResourceNotFoundException");

    // Other paths: 404 ResourceNotFoundException, nothing recorded.
    let (status, headers, _) = send(Method::GET, format!("{base}/nope"), &[], b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-amzn-errortype"], "ResourceNotFoundException");

    // Not JSON: 400, nothing recorded.
    let (status, headers, _) = send(
        Method::POST,
        format!("{base}/2015-03-31/functions/echo/invocations"),
        &[],
        b"not json",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        headers["x-amzn-errortype"],
        "InvalidRequestContentException"
    );

    // ARN names arrive percent-encoded and are recorded decoded.
    send(
        Method::POST,
        format!("{base}/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123%3Afunction%3Af/invocations"),
        &[],
        br#"{"n":2}"#,
    )
    .await;

    let events = lambda.events();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "echo",
            "fails",
            "slow",
            "missing",
            "arn:aws:lambda:us-east-1:123:function:f"
        ]
    );
    assert_eq!(events[0].1, json!({"n": 1}));
    assert_eq!(events[4].1, json!({"n": 2}));
    assert_eq!(lambda.invocations(), 5);
}

#[tokio::test]
async fn lambda_mock_stops_when_dropped() {
    let lambda = spawn_lambda(|_, _| LambdaReply::Ok(b"{}".to_vec())).await;
    let addr = lambda.addr();
    drop(lambda);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn echo_upstream_echoes_requests() {
    let upstream = spawn_echo_upstream().await;
    let (status, headers, body) = send(
        Method::PUT,
        format!("{}/a/b?x=1&x=2", upstream.url()),
        &[("x-multi", "one"), ("x-multi", "two")],
        b"payload",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    let echo: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["path"], "/a/b");
    assert_eq!(echo["query"], "x=1&x=2");
    assert_eq!(echo["headers"]["x-multi"], json!(["one", "two"]));
    assert_eq!(echo["body"], "payload");

    let (_, _, body) = send(Method::GET, format!("{}/plain", upstream.url()), &[], b"").await;
    let echo: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(echo["query"], Value::Null);
    assert_eq!(echo["body"], "");
    assert_eq!(upstream.requests(), 2);
}

#[tokio::test]
async fn echo_upstream_control_paths() {
    let upstream = spawn_echo_upstream().await;
    let (status, _, body) = send(
        Method::GET,
        format!("{}/status/503", upstream.url()),
        &[],
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["path"],
        "/status/503"
    );

    let (status, _, body) = send(
        Method::GET,
        format!("{}/dev/status/204", upstream.url()),
        &[],
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty());

    let started = Instant::now();
    let (status, _, _) = send(
        Method::GET,
        format!("{}/slow/120", upstream.url()),
        &[],
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(120));

    let (status, headers, body) = send(
        Method::GET,
        format!("{}/big/100000", upstream.url()),
        &[],
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(body.len(), 100_000);
    assert!(body.iter().all(|b| *b == b'x'));
    assert_eq!(upstream.requests(), 4);
}
