//! WebSocket APIs through the real binary and a real WebSocket client (tokio-tungstenite):
//! `$connect` accepted and refused, route selection, route responses, integrations and their
//! events, the idle and duration limits, the 1009 closes, the access log, and both meters.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::Gateway;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tollgate_store::{Ledger, OpenMode, SqliteLedger, SqliteOptions};
use tollgate_test_support::{spawn_echo_upstream, spawn_lambda, LambdaReply};
use tollgate_types::usage::{Dimension, UsageQuery};

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(gw: &Gateway, path: &str) -> String {
    format!("ws://{}{path}", gw.listeners["ws"])
}

async fn connect(gw: &Gateway, path: &str) -> Client {
    let (ws, resp) = tokio_tungstenite::connect_async(ws_url(gw, path))
        .await
        .expect("websocket connect");
    assert_eq!(resp.status(), 101);
    ws
}

/// The next data message as text (pings and pongs skipped), within 5 s.
async fn recv_text(ws: &mut Client) -> String {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .expect("the connection is open")
            .expect("a valid frame");
        match m {
            Message::Text(t) => return t.as_str().to_owned(),
            Message::Binary(b) => return String::from_utf8_lossy(&b).into_owned(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

/// Wait for the server's close frame; its code.
async fn close_code(ws: &mut Client, within: Duration) -> Option<CloseCode> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => panic!("no close within {within:?}"),
            Ok(None) => return None,
            Ok(Some(Ok(Message::Close(f)))) => return f.map(|f| f.code),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed))) => return None,
            Ok(Some(Err(e))) => panic!("read error before the close: {e}"),
        }
    }
}

const BASE: &str = r#"
account_id: "123456789012"
region: us-east-1
listeners:
  - name: ws
    address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
metering:
  flush_interval_ms: 200
"#;

#[tokio::test(flavor = "multi_thread")]
async fn echo_example_answers_and_default_route_catches_the_rest() {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/websocket.yaml"
    ))
    .unwrap()
    .replace("127.0.0.1:18081", "127.0.0.1:0")
    .replace("127.0.0.1:19181", "127.0.0.1:0");
    let gw = Gateway::start(&yaml);
    let mut ws = connect(&gw, "/prod").await;
    let msg = r#"{"action":"echo","text":"hello"}"#;
    ws.send(Message::text(msg)).await.unwrap();
    assert_eq!(recv_text(&mut ws).await, msg);
    // Not JSON → `$default`.
    ws.send(Message::text("hello")).await.unwrap();
    let v: Value = serde_json::from_str(&recv_text(&mut ws).await).unwrap();
    assert!(v["message"].as_str().unwrap().starts_with("Unknown action"));
    // JSON with another action → `$default`.
    ws.send(Message::text(r#"{"action":"nope"}"#))
        .await
        .unwrap();
    assert!(recv_text(&mut ws).await.contains("Unknown action"));
    // Ping is answered with a pong carrying the same payload.
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    let pong = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Pong(p) => break p,
            _ => continue,
        }
    };
    assert_eq!(&pong[..], b"are you there");
    // A wrong stage is not a WebSocket endpoint.
    let err = tokio_tungstenite::connect_async(ws_url(&gw, "/dev"))
        .await
        .unwrap_err();
    match err {
        WsError::Http(resp) => assert_eq!(resp.status(), 404),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
    // A plain GET on the stage URL is told to upgrade.
    let resp = support::client()
        .get(format!("{}/prod", gw.url("ws")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 426);
    assert_eq!(resp.headers()["upgrade"], "websocket");
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_is_accepted_or_refused_by_its_integration() {
    // The `$connect` function admits clients whose query string carries `token=ok`.
    let lambda = spawn_lambda(|_, event: Value| {
        let rk = event["requestContext"]["routeKey"].as_str().unwrap_or("");
        let token = event["queryStringParameters"]["token"].as_str().unwrap_or("");
        match rk {
            "$connect" if token == "ok" => LambdaReply::Ok(json!({"statusCode": 200}).to_string().into()),
            "$connect" => LambdaReply::Ok(
                json!({"statusCode": 403, "body": "{\"message\":\"Forbidden\"}"}).to_string().into(),
            ),
            "$disconnect" => LambdaReply::Ok(b"null".to_vec()),
            _ => LambdaReply::Ok(
                json!({"statusCode": 200, "body": format!("ack {}", event["requestContext"]["messageId"].as_str().unwrap_or(""))})
                    .to_string()
                    .into(),
            ),
        }
    })
    .await;
    let yaml = format!(
        r#"{BASE}
apis:
  - name: chat
    id: chat1
    protocol: websocket
    stages: [{{name: prod}}]
    routes:
      - {{key: $connect, integration: fn}}
      - {{key: $disconnect, integration: fn}}
      - {{key: $default, integration: fn, route_response: true}}
    integrations:
      fn: {{type: lambda, endpoint: "{}", function: chat-handler}}
"#,
        lambda.endpoint()
    );
    let gw = Gateway::start(&yaml);

    // Refused: the upgrade gets the function's status and body, no connection.
    match tokio_tungstenite::connect_async(ws_url(&gw, "/prod?token=bad")).await {
        Err(WsError::Http(resp)) => {
            assert_eq!(resp.status(), 403);
            assert_eq!(
                resp.body().as_deref(),
                Some(&br#"{"message":"Forbidden"}"#[..])
            );
        }
        other => panic!("expected 403, got {other:?}"),
    }

    let mut ws = connect(&gw, "/prod?token=ok").await;
    ws.send(Message::text("hi")).await.unwrap();
    assert!(recv_text(&mut ws).await.starts_with("ack "));
    ws.close(None).await.unwrap();
    // `$disconnect` arrives after the close, best effort.
    assert!(Gateway::eventually(Duration::from_secs(5), || {
        lambda
            .events()
            .iter()
            .any(|(_, e)| e["requestContext"]["eventType"] == "DISCONNECT")
    }));

    let events = lambda.events();
    let kinds: Vec<&str> = events
        .iter()
        .map(|(_, e)| e["requestContext"]["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["CONNECT", "CONNECT", "MESSAGE", "DISCONNECT"]);
    let (_, connect) = &events[1];
    let (_, message) = &events[2];
    let (_, disconnect) = &events[3];
    // AWS's CONNECT event (aws-facts §4.2): headers, query, the connection's identity.
    assert_eq!(connect["requestContext"]["routeKey"], "$connect");
    assert_eq!(connect["requestContext"]["stage"], "prod");
    assert_eq!(connect["requestContext"]["apiId"], "chat1");
    assert_eq!(connect["requestContext"]["messageDirection"], "IN");
    assert_eq!(connect["headers"]["sec-websocket-version"], "13");
    assert_eq!(connect["queryStringParameters"]["token"], "ok");
    let id = connect["requestContext"]["connectionId"].as_str().unwrap();
    assert_eq!(id.len(), 16);
    // MESSAGE: the same connection, a message id, the body.
    assert_eq!(message["requestContext"]["connectionId"], id);
    assert_eq!(message["requestContext"]["routeKey"], "$default");
    assert_eq!(message["body"], "hi");
    assert!(message["requestContext"]["messageId"].as_str().is_some());
    assert_eq!(
        message["requestContext"]["connectedAt"],
        connect["requestContext"]["connectedAt"]
    );
    // DISCONNECT: the client's close code (1000 from `close(None)`: tungstenite sends 1000).
    assert_eq!(disconnect["requestContext"]["connectionId"], id);
    assert_eq!(disconnect["requestContext"]["routeKey"], "$disconnect");
    assert!(disconnect["requestContext"]["disconnectStatusCode"].is_u64());
}

#[tokio::test(flavor = "multi_thread")]
async fn route_selection_expressions_and_route_responses() {
    let upstream = spawn_echo_upstream().await;
    let yaml = format!(
        r#"{BASE}
apis:
  - name: svc
    id: svc
    protocol: websocket
    listener: ws
    route_selection_expression: ${{request.body.service}}/${{request.body.action}}
    stages: [{{name: v1}}]
    routes:
      - {{key: chat/join, integration: joined, route_response: true}}
      - {{key: chat/silent, integration: joined}}
      - {{key: chat/http, integration: backend, route_response: true}}
      - {{key: whoami, integration: whoami, route_response: true}}
    integrations:
      joined: {{type: mock, body: 'joined ${{request.body.room}}'}}
      whoami: {{type: mock, body: '$context.connectionId'}}
      backend: {{type: http_proxy, uri: "{}/ws"}}
"#,
        upstream.url()
    );
    let gw = Gateway::start(&yaml);
    let mut ws = connect(&gw, "/v1").await;
    // `${request.body.service}/${request.body.action}` → `chat/join`.
    ws.send(Message::text(
        r#"{"service":"chat","action":"join","room":"42"}"#,
    ))
    .await
    .unwrap();
    assert_eq!(recv_text(&mut ws).await, "joined 42");
    // A route without a route response sends nothing back; the next answer is the next
    // message's.
    ws.send(Message::text(r#"{"service":"chat","action":"silent"}"#))
        .await
        .unwrap();
    // The HTTP integration receives the message and the event in headers.
    ws.send(Message::text(r#"{"service":"chat","action":"http"}"#))
        .await
        .unwrap();
    let echoed: Value = serde_json::from_str(&recv_text(&mut ws).await).unwrap();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path"], "/ws");
    assert_eq!(echoed["body"], r#"{"service":"chat","action":"http"}"#);
    assert_eq!(echoed["headers"]["x-tollgate-route-key"][0], "chat/http");
    assert_eq!(echoed["headers"]["x-tollgate-event-type"][0], "MESSAGE");
    let conn_id = echoed["headers"]["x-tollgate-connection-id"][0]
        .as_str()
        .unwrap()
        .to_owned();
    // No match and no `$default`: AWS's error frame.
    ws.send(Message::text(r#"{"service":"chat","action":"leave"}"#))
        .await
        .unwrap();
    let err: Value = serde_json::from_str(&recv_text(&mut ws).await).unwrap();
    assert_eq!(err["message"], "Forbidden");
    assert_eq!(err["connectionId"], conn_id.as_str());
    assert!(err["requestId"].is_string());
    // Not JSON, no `$default`: the same error.
    ws.send(Message::text("plain text")).await.unwrap();
    let err: Value = serde_json::from_str(&recv_text(&mut ws).await).unwrap();
    assert_eq!(err["message"], "Forbidden");
    ws.close(None).await.unwrap();

    // A static expression picks one route for every message; `$context` in a mock body.
    let yaml = format!(
        r#"{BASE}
apis:
  - name: one
    protocol: websocket
    route_selection_expression: whoami
    stages: [{{name: prod}}]
    routes:
      - {{key: whoami, integration: whoami, route_response: true}}
    integrations:
      whoami: {{type: mock, body: '$context.connectionId'}}
"#
    );
    let gw2 = Gateway::start(&yaml);
    let mut ws = connect(&gw2, "/prod").await;
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let id = recv_text(&mut ws).await;
    assert_eq!(id.len(), 16, "{id}");
    assert!(id.ends_with('='));
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_timeout_and_maximum_duration_close_with_1001() {
    let yaml = format!(
        r#"{BASE}
apis:
  - name: idle
    protocol: websocket
    listener: ws
    hosts: [idle.example.com]
    websocket: {{idle_timeout_seconds: 1, max_duration_seconds: 30}}
    stages: [{{name: prod}}]
    routes:
      - {{key: $default, integration: ok, route_response: true}}
    integrations:
      ok: {{type: mock, body: ok}}
  - name: short
    protocol: websocket
    listener: ws
    websocket: {{idle_timeout_seconds: 30, max_duration_seconds: 2}}
    stages: [{{name: prod}}]
    routes:
      - {{key: $default, integration: ok, route_response: true}}
    integrations:
      ok: {{type: mock, body: ok}}
"#
    );
    let gw = Gateway::start(&yaml);
    // Idle: closed about 1 s after the last message.
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        ws_url(&gw, "/prod"),
    )
    .unwrap();
    req.headers_mut()
        .insert("host", "idle.example.com".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text("x")).await.unwrap();
    assert_eq!(recv_text(&mut ws).await, "ok");
    let t = Instant::now();
    assert_eq!(
        close_code(&mut ws, Duration::from_secs(5)).await,
        Some(CloseCode::Away)
    );
    let idle = t.elapsed();
    assert!(
        idle >= Duration::from_millis(800) && idle < Duration::from_secs(3),
        "{idle:?}"
    );

    // Duration: closed at 2 s although the client keeps talking.
    let mut ws = connect(&gw, "/prod").await;
    let t = Instant::now();
    let code = loop {
        ws.send(Message::text("x")).await.ok();
        match tokio::time::timeout(Duration::from_millis(300), ws.next()).await {
            Ok(Some(Ok(Message::Close(f)))) => break f.map(|f| f.code),
            Ok(Some(Ok(_))) | Err(_) => {}
            Ok(None) | Ok(Some(Err(_))) => break None,
        }
        assert!(t.elapsed() < Duration::from_secs(6), "not closed");
    };
    assert_eq!(code, Some(CloseCode::Away));
    let lived = t.elapsed();
    assert!(
        lived >= Duration::from_millis(1800) && lived < Duration::from_secs(4),
        "{lived:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn frames_over_32kb_and_messages_over_128kb_close_with_1009() {
    let yaml = format!(
        r#"{BASE}
apis:
  - name: big
    protocol: websocket
    stages: [{{name: prod}}]
    routes:
      - {{key: $default, integration: size, route_response: true}}
    integrations:
      size: {{type: mock, body: got it}}
"#
    );
    let gw = Gateway::start(&yaml);
    // 32 KB in one frame is allowed.
    let mut ws = connect(&gw, "/prod").await;
    ws.send(Message::binary(vec![b'a'; 32 * 1024]))
        .await
        .unwrap();
    assert_eq!(recv_text(&mut ws).await, "got it");
    // One byte more in a single frame closes with 1009.
    ws.send(Message::binary(vec![b'a'; 32 * 1024 + 1]))
        .await
        .unwrap();
    assert_eq!(
        close_code(&mut ws, Duration::from_secs(5)).await,
        Some(CloseCode::Size)
    );

    // 128 KB in four frames of 32 KB is allowed; 128 KB + 1 in five frames closes with 1009.
    for (total, ok) in [(128 * 1024, true), (128 * 1024 + 1, false)] {
        let mut ws = connect(&gw, "/prod").await;
        let data = vec![b'b'; total];
        let chunks: Vec<&[u8]> = data.chunks(32 * 1024).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let opcode = if i == 0 {
                OpCode::Data(Data::Binary)
            } else {
                OpCode::Data(Data::Continue)
            };
            let frame = Frame::message(chunk.to_vec(), opcode, i + 1 == chunks.len());
            ws.send(Message::Frame(frame)).await.unwrap();
        }
        if ok {
            assert_eq!(recv_text(&mut ws).await, "got it");
        } else {
            assert_eq!(
                close_code(&mut ws, Duration::from_secs(5)).await,
                Some(CloseCode::Size)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_caps_answer_429() {
    let yaml = format!(
        r#"{BASE}
apis:
  - name: capped
    protocol: websocket
    websocket: {{max_connections: 2, connections_per_second: 1000}}
    stages: [{{name: prod}}]
    routes:
      - {{key: $default, integration: ok, route_response: true}}
    integrations:
      ok: {{type: mock, body: ok}}
"#
    );
    let gw = Gateway::start(&yaml);
    let a = connect(&gw, "/prod").await;
    let mut b = connect(&gw, "/prod").await;
    match tokio_tungstenite::connect_async(ws_url(&gw, "/prod")).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 429),
        other => panic!("expected 429, got {other:?}"),
    }
    drop(a);
    // The slot comes back once the server has seen the first connection go.
    b.send(Message::text("x")).await.unwrap();
    assert_eq!(recv_text(&mut b).await, "ok");
    let mut opened = false;
    for _ in 0..50 {
        if tokio_tungstenite::connect_async(ws_url(&gw, "/prod"))
            .await
            .is_ok()
        {
            opened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(opened, "a slot is released when a connection closes");

    // New connections per second.
    let yaml = format!(
        r#"{BASE}
apis:
  - name: slow
    protocol: websocket
    websocket: {{connections_per_second: 2}}
    stages: [{{name: prod}}]
    routes:
      - {{key: $default, integration: ok}}
    integrations:
      ok: {{type: mock}}
"#
    );
    let gw = Gateway::start(&yaml);
    let mut refused = 0;
    let mut kept = Vec::new();
    for _ in 0..6 {
        match tokio_tungstenite::connect_async(ws_url(&gw, "/prod")).await {
            Ok((ws, _)) => kept.push(ws),
            Err(WsError::Http(resp)) if resp.status() == 429 => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused >= 3, "{refused} of 6 refused at 2/s");
}

/// Totals per (route, reason, meter, billable): (units, events).
fn ledger(gw: &Gateway) -> BTreeMap<(String, String, String, bool), (u64, u64)> {
    let path = gw.dir.path().join("tollgate.db");
    let mut ledger =
        SqliteLedger::open(&path, OpenMode::MustExist, SqliteOptions::default()).unwrap();
    let rows = ledger
        .query(&UsageQuery {
            from: 0,
            to: 4_102_444_800,
            group_by: vec![Dimension::Route, Dimension::Reason],
        })
        .unwrap();
    let mut out = BTreeMap::new();
    for r in rows {
        let e: &mut (u64, u64) = out
            .entry((
                r.group[0].clone(),
                r.group[1].clone(),
                r.meter.name().into_owned(),
                r.billable,
            ))
            .or_default();
        e.0 += r.counts.units;
        e.1 += r.counts.events;
    }
    out
}

fn units(
    t: &BTreeMap<(String, String, String, bool), (u64, u64)>,
    route: Option<&str>,
    meter: &str,
    billable: bool,
) -> u64 {
    t.iter()
        .filter(|((r, _, m, b), _)| route.is_none_or(|x| x == r) && m == meter && *b == billable)
        .map(|(_, (u, _))| u)
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_and_connection_minutes_are_metered_exactly_and_live() {
    let log = "{dir}/access.log";
    let yaml = format!(
        r#"{BASE}
access_log:
  destination: {log}
  format: '{{"requestId":"$context.requestId","eventType":"$context.eventType","connectionId":"$context.connectionId","routeKey":"$context.routeKey","messageId":"$context.messageId","status":"$context.status"}}'
apis:
  - name: meter
    id: meterws
    protocol: websocket
    stages: [{{name: prod}}]
    routes:
      - {{key: $connect, integration: ok}}
      - {{key: $disconnect, integration: ok}}
      - {{key: echo, integration: echo, route_response: true}}
      - {{key: $default, integration: ok}}
    integrations:
      ok: {{type: mock}}
      echo: {{type: mock, body: $request.body}}
"#
    );
    let gw = Gateway::start(&yaml);
    // Three clients; each sends 10 echo messages of 40 KB (2 units each way: fragmented
    // into 32 KB frames by hand) and 5 small messages to `$default` (no answer).
    let clients = 3;
    let mut handles = Vec::new();
    let held = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..clients {
        let url = ws_url(&gw, "/prod");
        let held = Arc::clone(&held);
        handles.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            let connected = Instant::now();
            for _ in 0..10 {
                let body = format!(r#"{{"action":"echo","pad":"{}"}}"#, "p".repeat(40 * 1024));
                let bytes = body.into_bytes();
                let chunks: Vec<&[u8]> = bytes.chunks(32 * 1024).collect();
                for (i, c) in chunks.iter().enumerate() {
                    let op = if i == 0 {
                        OpCode::Data(Data::Text)
                    } else {
                        OpCode::Data(Data::Continue)
                    };
                    ws.send(Message::Frame(Frame::message(
                        c.to_vec(),
                        op,
                        i + 1 == chunks.len(),
                    )))
                    .await
                    .unwrap();
                }
            }
            for _ in 0..5 {
                ws.send(Message::text("small")).await.unwrap();
            }
            let mut echoed = 0;
            while echoed < 10 {
                match ws.next().await.unwrap().unwrap() {
                    Message::Text(t) => {
                        assert!(t.len() > 40 * 1024);
                        echoed += 1;
                    }
                    Message::Binary(_) => echoed += 1,
                    _ => {}
                }
            }
            held.lock().unwrap().push((ws, connected));
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    // Live view: three connections, with their messages (the small ones, which get no
    // answer, may still be on their way).
    let mut conns = Value::Null;
    for _ in 0..100 {
        conns = support::client()
            .get(format!("{}/admin/connections", gw.admin_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if conns["connections"]
            .as_array()
            .is_some_and(|a| a.iter().all(|c| c["messages_in"] == 15))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(conns["count"], clients);
    for c in conns["connections"].as_array().unwrap() {
        assert_eq!(c["messages_in"], 15);
        assert_eq!(c["messages_out"], 10);
        assert_eq!(c["api"], "meterws");
        assert!(c["cost"].as_str().unwrap().parse::<f64>().unwrap() > 0.0);
    }

    // Minutes accrue while the connections are open: after ~1.5 s the ledger already holds
    // at least 3 × 1 s of connection time.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(Gateway::eventually(Duration::from_secs(5), || {
        let t = ledger(&gw);
        units(&t, None, "websocket_connection_ms", true) >= 3 * 1000
    }));

    // Close them all; then the ledger has every message, in both directions.
    let mut conns = std::mem::take(&mut *held.lock().unwrap());
    let mut client_ms = 0u64;
    for (ws, connected) in &mut conns {
        ws.close(None).await.unwrap();
        let _ = close_code(ws, Duration::from_secs(5)).await;
        client_ms += connected.elapsed().as_millis() as u64;
    }
    let mut t = BTreeMap::new();
    assert!(Gateway::eventually(Duration::from_secs(5), || {
        t = ledger(&gw);
        units(&t, None, "websocket_connection_ms", true) > 0
            && t.iter().any(|((r, _, m, _), (_, e))| {
                r == "$disconnect" && m == "websocket_messages" && *e == 3
            })
    }));
    // echo: 10 × 2 units in, 10 × 2 units out, per client.
    assert_eq!(
        units(&t, Some("echo"), "websocket_messages", true),
        clients * 40
    );
    // `$default`: 5 small messages in, per client.
    assert_eq!(
        units(&t, Some("$default"), "websocket_messages", true),
        clients * 5
    );
    // Data transfer out: each echo's payload plus its 4-byte frame header (126 B to 64 KB),
    // on the echo route; more than the payloads alone.
    let out_bytes = units(&t, Some("echo"), "data_out_bytes", true);
    let payload = (r#"{"action":"echo","pad":""}"#.len() + 40 * 1024) as u64;
    assert_eq!(out_bytes, clients * 10 * (payload + 4));
    // `$connect`/`$disconnect` events: metered, not billable by default.
    assert_eq!(
        units(&t, Some("$connect"), "websocket_messages", false),
        clients
    );
    assert_eq!(
        units(&t, Some("$disconnect"), "websocket_messages", false),
        clients
    );
    // Message sizes: 40 KB of padding plus the JSON around it is over 40 KB: the 64 KB
    // bucket, for each echo message in and out.
    let size_64: u64 = units(&t, Some("echo"), "message_size_le_kb:64", true);
    assert_eq!(size_64, clients * 20);
    // Connection time: what the clients saw (from the 101 to the end of the closing
    // handshake, one close after the other), within one flush interval (200 ms) each.
    let ms = units(&t, None, "websocket_connection_ms", true);
    assert!(
        ms.abs_diff(client_ms) <= clients * 200,
        "{ms} ms metered, the clients were connected {client_ms} ms"
    );

    // The access log has one line per event, with the WebSocket `$context`.
    let lines = std::fs::read_to_string(gw.dir.path().join("access.log")).unwrap();
    let events: Vec<Value> = lines
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let count = |ty: &str| events.iter().filter(|e| e["eventType"] == ty).count();
    assert_eq!(count("CONNECT"), clients as usize);
    assert_eq!(count("MESSAGE"), clients as usize * 15);
    assert!(Gateway::eventually(Duration::from_secs(3), || {
        let lines = std::fs::read_to_string(gw.dir.path().join("access.log")).unwrap();
        lines.matches("\"DISCONNECT\"").count() == clients as usize
    }));
    let msg = events.iter().find(|e| e["eventType"] == "MESSAGE").unwrap();
    assert_eq!(msg["routeKey"], "echo");
    assert_eq!(msg["connectionId"].as_str().unwrap().len(), 16);
    assert_ne!(msg["messageId"], "-");

    // `cost report` shows messages beside connection minutes, with their ratio.
    let out = std::process::Command::new(support::binary())
        .current_dir(gw.dir.path())
        .args(["cost", "report", "--by", "api", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ws = report["websocket"]
        .as_array()
        .expect("a websocket section")
        .iter()
        .find(|w| w["api"] == "meterws")
        .expect("the WebSocket API's line");
    assert_eq!(ws["messages"], (clients * 45).to_string());
    assert!(ws["connection_minutes"].as_str().is_some());
    assert!(ws["minutes_per_message"].as_str().is_some());
}

/// The Python with boto3 and websockets: `$TOLLGATE_TEST_PYTHON` (set by scripts/test.sh),
/// else the venv the test command creates. Never skips.
fn python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("TOLLGATE_TEST_PYTHON") {
        return p.into();
    }
    let venv =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python3");
    assert!(
        venv.exists(),
        "@connections tests use boto3: run ./scripts/test.sh, or `python3 -m venv target/pyenv \
         && target/pyenv/bin/pip install boto3 websockets` in the workspace root"
    );
    venv
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_api_from_boto3() {
    let yaml = format!(
        r#"{BASE}
iam:
  access_keys:
    - access_key_id: AKIDWSTEST0000000
      secret_access_key: ws-test-secret
      principal: backend
  policies:
    - effect: Allow
      principals: [backend]
      actions: ["execute-api:ManageConnections"]
      resources: ["arn:aws:execute-api:us-east-1:123456789012:mgmt/prod/*"]
apis:
  - name: mgmt
    id: mgmt
    protocol: websocket
    stages: [{{name: prod}}]
    routes:
      - {{key: whoami, integration: whoami, route_response: true}}
    integrations:
      whoami: {{type: mock, body: '$context.connectionId'}}
"#
    );
    let gw = Gateway::start(&yaml);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ws_manage.py");
    let out = tokio::process::Command::new(python())
        .arg(script)
        .arg(ws_url(&gw, "/prod"))
        .arg(format!("{}/prod", gw.url("ws")))
        .arg("AKIDWSTEST0000000")
        .arg("ws-test-secret")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "ws_manage.py failed:\n{}\n{}\ngateway:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        gw.stderr()
    );
    // The two posts that reached the client are metered as outgoing messages of the
    // `@connections` slot: 1 unit + 4 units (128 KB).
    let mut t = BTreeMap::new();
    assert!(
        Gateway::eventually(Duration::from_secs(5), || {
            t = ledger(&gw);
            units(&t, Some("@connections"), "websocket_messages", true) == 5
        }),
        "{t:?}"
    );

    // A key without a ManageConnections policy is refused.
    let denied = yaml.replace("execute-api:ManageConnections", "execute-api:Invoke");
    let gw2 = Gateway::start(&denied);
    let probe = r#"
import sys, boto3, botocore.exceptions
c = boto3.client("apigatewaymanagementapi", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="AKIDWSTEST0000000", aws_secret_access_key="ws-test-secret")
try:
    c.get_connection(ConnectionId="AAAAAAAAAAAAAAA=")
except botocore.exceptions.ClientError as e:
    print(e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
"#;
    let out = tokio::process::Command::new(python())
        .arg("-c")
        .arg(probe)
        .arg(format!("{}/prod", gw2.url("ws")))
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "403 AccessDeniedException",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_authorizer_and_api_key_name_who_the_connection_is_metered_to() {
    // A REQUEST authorizer (payload 1.0, IAM policy answer) as AWS runs it on `$connect`.
    let authorizer = spawn_lambda(|_, event: Value| {
        let token = event["headers"]["x-token"].as_str().unwrap_or("");
        let arn = event["methodArn"].as_str().unwrap_or("").to_owned();
        let effect = if token == "letmein" { "Allow" } else { "Deny" };
        LambdaReply::Ok(
            json!({
                "principalId": "user-7",
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect, "Resource": arn}
                ]},
                "context": {"tenant": "acme"}
            })
            .to_string()
            .into(),
        )
    })
    .await;
    let yaml = format!(
        r#"{BASE}
api_keys:
  - {{id: mobile, value: mobile-key-0001}}
usage_plans:
  - name: apps
    keys: [mobile]
    stages: [{{api: rt, stage: prod}}]
apis:
  - name: rt
    id: rt
    protocol: websocket
    authorizers:
      gate:
        type: request
        endpoint: "{}"
        function: gate
        payload_format_version: "1.0"
        identity_source: ["$request.header.x-token"]
        result_ttl_seconds: 0
    stages: [{{name: prod}}]
    routes:
      - {{key: $connect, integration: ok, authorizer: gate, api_key_required: true}}
      - {{key: $default, integration: ok, route_response: true}}
    integrations:
      ok: {{type: mock, body: ok}}
"#,
        authorizer.endpoint()
    );
    let gw = Gateway::start(&yaml);
    let attempt = |token: &'static str, key: &'static str| {
        let mut req =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url(
                &gw, "/prod",
            ))
            .unwrap();
        if !token.is_empty() {
            req.headers_mut().insert("x-token", token.parse().unwrap());
        }
        if !key.is_empty() {
            req.headers_mut().insert("x-api-key", key.parse().unwrap());
        }
        tokio_tungstenite::connect_async(req)
    };
    let status = |r: Result<_, WsError>| match r {
        Ok(_) => 101,
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("{e}"),
    };
    // Denied by the authorizer (no identity source → 401; a Deny policy → 403); then a
    // missing or unknown key → 403. None of them opens a connection.
    assert_eq!(status(attempt("", "mobile-key-0001").await), 401);
    assert_eq!(status(attempt("nope", "mobile-key-0001").await), 403);
    assert_eq!(status(attempt("letmein", "").await), 403);
    assert_eq!(status(attempt("letmein", "wrong").await), 403);
    let (mut ws, _) = attempt("letmein", "mobile-key-0001").await.unwrap();
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(recv_text(&mut ws).await, "ok");
    // The authorizer saw AWS's `$connect` methodArn.
    let events = authorizer.events();
    let (_, last) = events.last().unwrap();
    assert_eq!(
        last["methodArn"],
        "arn:aws:execute-api:us-east-1:123456789012:rt/prod/$connect"
    );
    assert_eq!(last["type"], "REQUEST");

    let conns: Value = support::client()
        .get(format!("{}/admin/connections", gw.admin_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(conns["count"], 1);
    assert_eq!(conns["connections"][0]["api_key"], "mobile");
    ws.close(None).await.unwrap();
    let _ = close_code(&mut ws, Duration::from_secs(5)).await;

    // Connection time and messages are metered to the key and to the authorizer's principal.
    let path = gw.dir.path().join("tollgate.db");
    let mut rows = Vec::new();
    assert!(Gateway::eventually(Duration::from_secs(5), || {
        let mut ledger =
            SqliteLedger::open(&path, OpenMode::MustExist, SqliteOptions::default()).unwrap();
        rows = ledger
            .query(&UsageQuery {
                from: 0,
                to: 4_102_444_800,
                group_by: vec![Dimension::Key, Dimension::Client, Dimension::Reason],
            })
            .unwrap();
        // Each worker flushes its own share of the meter: wait for the connection's close
        // and for the refusals, which another worker may have served.
        let refused = |reason: &str| {
            rows.iter()
                .any(|r| !r.billable && r.group[2] == reason && r.meter.name() == "data_out_bytes")
        };
        rows.iter()
            .any(|r| r.meter.name() == "websocket_connection_ms" && r.counts.events == 1)
            && refused("auth_failed")
            && refused("missing_key")
    }));
    for r in rows.iter().filter(|r| {
        matches!(
            r.meter.name().as_ref(),
            "websocket_connection_ms" | "websocket_messages"
        ) && r.billable
    }) {
        assert_eq!(r.group[0], "mobile", "{r:?}");
        assert_eq!(r.group[1], "user-7", "{r:?}");
    }
    // The four refusals are metered as non-billable with their reasons.
    let refused: Vec<String> = rows
        .iter()
        .filter(|r| !r.billable && r.meter.name() == "data_out_bytes")
        .map(|r| r.group[2].clone())
        .collect();
    assert!(refused.contains(&"auth_failed".to_string()), "{refused:?}");
    assert!(refused.contains(&"missing_key".to_string()), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_closes_connections_with_1001_runs_disconnect_and_keeps_their_minutes() {
    let lambda = spawn_lambda(|_, _| LambdaReply::Ok(b"null".to_vec())).await;
    let yaml = format!(
        r#"{BASE}
apis:
  - name: bye
    protocol: websocket
    stages: [{{name: prod}}]
    routes:
      - {{key: $disconnect, integration: fn}}
      - {{key: $default, integration: ok, route_response: true}}
    integrations:
      ok: {{type: mock, body: ok}}
      fn: {{type: lambda, endpoint: "{}", function: goodbye}}
"#,
        lambda.endpoint()
    );
    let mut gw = Gateway::start(&yaml);
    let mut a = connect(&gw, "/prod").await;
    let mut b = connect(&gw, "/prod").await;
    for ws in [&mut a, &mut b] {
        ws.send(Message::text("x")).await.unwrap();
        assert_eq!(recv_text(ws).await, "ok");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.signal("TERM");
    for ws in [&mut a, &mut b] {
        assert_eq!(
            close_code(ws, Duration::from_secs(5)).await,
            Some(CloseCode::Away)
        );
    }
    let status = gw.wait(Duration::from_secs(10)).expect("tollgate exits");
    assert!(status.success(), "{}", gw.stderr());
    let disconnects: Vec<u64> = lambda
        .events()
        .iter()
        .filter(|(_, e)| e["requestContext"]["eventType"] == "DISCONNECT")
        .map(|(_, e)| {
            e["requestContext"]["disconnectStatusCode"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(disconnects, [1001, 1001]);
    let t = ledger(&gw);
    let closed: u64 = t
        .iter()
        .filter(|((_, _, m, _), _)| m == "websocket_connection_ms")
        .map(|(_, (_, e))| e)
        .sum();
    assert_eq!(closed, 2, "{t:?}");
    assert!(units(&t, None, "websocket_connection_ms", true) >= 2 * 300);
}
