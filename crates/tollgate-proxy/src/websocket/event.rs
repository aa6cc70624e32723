//! What a WebSocket route's integration receives (docs/websocket.md):
//!
//! - Lambda-style proxy: AWS's WebSocket events, CONNECT / MESSAGE / DISCONNECT, field for
//!   field as aws-facts.md §4.2 and the aws-lambda-events fixtures show them.
//! - HTTP: the message itself as the body of a `POST`, with the event in `x-tollgate-*`
//!   headers ([`http_headers`]).

use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Map, Value};

/// The connection-level facts every event carries.
pub struct EventBase<'a> {
    pub api_id: &'a str,
    pub stage: &'a str,
    pub domain_name: &'a str,
    pub connection_id: &'a str,
    /// Unix milliseconds.
    pub connected_at: u64,
    pub request_id: &'a str,
    pub request_time: SystemTime,
    pub source_ip: &'a str,
    pub user_agent: Option<&'a str>,
    pub api_key: Option<&'a str>,
    /// `requestContext.authorizer` (the `$connect` authorizer's answer).
    pub authorizer: Option<Value>,
}

/// What happened.
pub enum EventKind<'a> {
    Connect {
        headers: &'a HeaderMap,
        raw_query: &'a str,
    },
    Message {
        route_key: &'a str,
        message_id: &'a str,
        body: &'a [u8],
        /// A binary frame: the body is base64-encoded (`isBase64Encoded: true`).
        binary: bool,
    },
    Disconnect {
        headers: &'a HeaderMap,
        status_code: u16,
        reason: &'a str,
    },
}

impl EventKind<'_> {
    pub fn event_type(&self) -> &'static str {
        match self {
            EventKind::Connect { .. } => "CONNECT",
            EventKind::Message { .. } => "MESSAGE",
            EventKind::Disconnect { .. } => "DISCONNECT",
        }
    }

    pub fn route_key(&self) -> &str {
        match self {
            EventKind::Connect { .. } => "$connect",
            EventKind::Message { route_key, .. } => route_key,
            EventKind::Disconnect { .. } => "$disconnect",
        }
    }
}

/// The Lambda proxy event, serialized.
pub fn lambda_event(base: &EventBase<'_>, kind: &EventKind<'_>) -> Vec<u8> {
    let epoch_ms = base
        .request_time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut identity = Map::new();
    if let Some(k) = base.api_key {
        identity.insert("apiKey".into(), Value::from(k));
    }
    identity.insert("sourceIp".into(), Value::from(base.source_ip));
    if let Some(ua) = base.user_agent {
        identity.insert("userAgent".into(), Value::from(ua));
    }
    let mut rc = Map::new();
    rc.insert("routeKey".into(), Value::from(kind.route_key()));
    if let EventKind::Message { message_id, .. } = kind {
        rc.insert("messageId".into(), Value::from(*message_id));
    }
    if let EventKind::Disconnect {
        status_code,
        reason,
        ..
    } = kind
    {
        rc.insert("disconnectStatusCode".into(), Value::from(*status_code));
        rc.insert("disconnectReason".into(), Value::from(*reason));
    }
    rc.insert("eventType".into(), Value::from(kind.event_type()));
    rc.insert("extendedRequestId".into(), Value::from(base.request_id));
    rc.insert(
        "requestTime".into(),
        Value::from(tollgate_types::time_fmt::clf(base.request_time.into())),
    );
    rc.insert("messageDirection".into(), Value::from("IN"));
    rc.insert("stage".into(), Value::from(base.stage));
    rc.insert("connectedAt".into(), Value::from(base.connected_at));
    rc.insert("requestTimeEpoch".into(), Value::from(epoch_ms));
    rc.insert("identity".into(), Value::Object(identity));
    rc.insert("requestId".into(), Value::from(base.request_id));
    rc.insert("domainName".into(), Value::from(base.domain_name));
    rc.insert("connectionId".into(), Value::from(base.connection_id));
    rc.insert("apiId".into(), Value::from(base.api_id));
    if let Some(a) = &base.authorizer {
        rc.insert("authorizer".into(), a.clone());
    }

    let mut event = Map::new();
    match kind {
        EventKind::Connect { headers, raw_query } => {
            let (single, multi) = header_maps(headers);
            event.insert("headers".into(), single);
            event.insert("multiValueHeaders".into(), multi);
            if !raw_query.is_empty() {
                let (single, multi) = query_maps(raw_query);
                event.insert("queryStringParameters".into(), single);
                event.insert("multiValueQueryStringParameters".into(), multi);
            }
        }
        EventKind::Disconnect { headers, .. } => {
            let (single, multi) = header_maps(headers);
            event.insert("headers".into(), single);
            event.insert("multiValueHeaders".into(), multi);
        }
        EventKind::Message { .. } => {}
    }
    event.insert("requestContext".into(), Value::Object(rc));
    match kind {
        EventKind::Message { body, binary, .. } => {
            use base64::Engine as _;
            let text = if *binary {
                base64::engine::general_purpose::STANDARD.encode(body)
            } else {
                String::from_utf8_lossy(body).into_owned()
            };
            event.insert("body".into(), Value::from(text));
            event.insert("isBase64Encoded".into(), Value::from(*binary));
        }
        _ => {
            event.insert("isBase64Encoded".into(), Value::from(false));
        }
    }
    serde_json::to_vec(&Value::Object(event)).unwrap_or_default()
}

/// `headers` (last value wins, as AWS's single-value map) and `multiValueHeaders`.
fn header_maps(headers: &HeaderMap) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        single.insert(name.as_str().to_owned(), Value::from(v.clone()));
        match multi.get_mut(name.as_str()) {
            Some(Value::Array(a)) => a.push(Value::from(v)),
            _ => {
                multi.insert(name.as_str().to_owned(), json!([v]));
            }
        }
    }
    (Value::Object(single), Value::Object(multi))
}

fn query_maps(raw: &str) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        single.insert(k.to_string(), Value::from(v.as_ref()));
        match multi.get_mut(k.as_ref()) {
            Some(Value::Array(a)) => a.push(Value::from(v.as_ref())),
            _ => {
                multi.insert(k.into_owned(), json!([v]));
            }
        }
    }
    (Value::Object(single), Value::Object(multi))
}

/// The headers an HTTP integration receives with each event (the body is the message).
pub fn http_headers(base: &EventBase<'_>, kind: &EventKind<'_>, out: &mut HeaderMap) {
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(HeaderName::from_static(name), v);
        }
    };
    put("x-tollgate-connection-id", base.connection_id);
    put("x-tollgate-event-type", kind.event_type());
    put("x-tollgate-route-key", kind.route_key());
    put("x-tollgate-request-id", base.request_id);
    put("x-tollgate-api-id", base.api_id);
    put("x-tollgate-stage", base.stage);
    put("x-tollgate-connected-at", &base.connected_at.to_string());
    put("x-forwarded-for", base.source_ip);
    if let EventKind::Message {
        message_id, binary, ..
    } = kind
    {
        put("x-tollgate-message-id", message_id);
        put(
            "content-type",
            if *binary {
                "application/octet-stream"
            } else {
                "text/plain; charset=utf-8"
            },
        );
    }
    if let EventKind::Disconnect {
        status_code,
        reason,
        ..
    } = kind
    {
        put(
            "x-tollgate-disconnect-status-code",
            &status_code.to_string(),
        );
        put("x-tollgate-disconnect-reason", reason);
    }
    if let Some(k) = base.api_key {
        put("x-tollgate-api-key", k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> EventBase<'static> {
        EventBase {
            api_id: "abcd1234",
            stage: "prod",
            domain_name: "abcd1234.execute-api.us-east-1.amazonaws.com",
            connection_id: "AAAA1234AAAA123=",
            connected_at: 1_707_503_007_396,
            request_id: "ABCD1234=",
            request_time: SystemTime::UNIX_EPOCH
                + std::time::Duration::from_millis(1_707_503_008_941),
            source_ip: "192.0.2.1",
            user_agent: None,
            api_key: None,
            authorizer: None,
        }
    }

    /// The DISCONNECT event has the fields of aws-lambda-events'
    /// example-apigw-websocket-request-disconnect-route.json (recorded from AWS, 2024).
    #[test]
    fn disconnect_event_matches_aws_fixture() {
        let mut h = HeaderMap::new();
        h.insert(
            "host",
            HeaderValue::from_static("abcd1234.execute-api.us-east-1.amazonaws.com"),
        );
        let ev = lambda_event(
            &base(),
            &EventKind::Disconnect {
                headers: &h,
                status_code: 1005,
                reason: "Client-side close frame status not set",
            },
        );
        let v: Value = serde_json::from_slice(&ev).unwrap();
        let rc = &v["requestContext"];
        assert_eq!(rc["routeKey"], "$disconnect");
        assert_eq!(rc["eventType"], "DISCONNECT");
        assert_eq!(rc["disconnectStatusCode"], 1005);
        assert_eq!(
            rc["disconnectReason"],
            "Client-side close frame status not set"
        );
        assert_eq!(rc["requestTime"], "09/Feb/2024:18:23:28 +0000");
        assert_eq!(rc["requestTimeEpoch"], 1_707_503_008_941u64);
        assert_eq!(rc["connectedAt"], 1_707_503_007_396u64);
        assert_eq!(rc["messageDirection"], "IN");
        assert_eq!(rc["identity"]["sourceIp"], "192.0.2.1");
        assert_eq!(
            v["multiValueHeaders"]["host"][0],
            "abcd1234.execute-api.us-east-1.amazonaws.com"
        );
        assert_eq!(v["isBase64Encoded"], false);
        // Deserializes into the community's type for this event.
        let typed: aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest =
            serde_json::from_slice(&ev).unwrap();
        assert_eq!(
            typed.request_context.connection_id.as_deref(),
            Some("AAAA1234AAAA123=")
        );
    }

    #[test]
    fn message_event_carries_body_and_message_id() {
        let ev = lambda_event(
            &base(),
            &EventKind::Message {
                route_key: "echo",
                message_id: "m-1",
                body: br#"{"action":"echo"}"#,
                binary: false,
            },
        );
        let v: Value = serde_json::from_slice(&ev).unwrap();
        assert_eq!(v["requestContext"]["messageId"], "m-1");
        assert_eq!(v["requestContext"]["eventType"], "MESSAGE");
        assert_eq!(v["body"], r#"{"action":"echo"}"#);
        assert!(v.get("headers").is_none());
        let ev = lambda_event(
            &base(),
            &EventKind::Message {
                route_key: "$default",
                message_id: "m-2",
                body: &[0, 159, 146, 150],
                binary: true,
            },
        );
        let v: Value = serde_json::from_slice(&ev).unwrap();
        assert_eq!(v["isBase64Encoded"], true);
        assert_eq!(v["body"], "AJ+Slg==");
    }
}
