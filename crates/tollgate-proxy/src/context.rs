//! `$context`: what the gateway knows about one request, filled in as the request moves through
//! the phases, read by parameter mapping and the access log, then handed to the log writer.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderValue, Method, Version};
use tollgate_types::id::RequestId;

use tollgate_types::usage::Reason;

use crate::errors::GatewayError;
use crate::runtime::SlotRef;

/// Every `$context` value tollgate tracks for a request.
#[derive(Debug)]
pub struct Context {
    pub request_id: RequestId,
    pub request_time: SystemTime,
    pub account_id: Arc<str>,
    pub api_id: Option<Arc<str>>,
    pub stage: Option<Arc<str>>,
    pub route_key: Option<Arc<str>>,
    pub method: Method,
    /// The path as received, including a named stage's segment.
    pub path: String,
    pub version: Version,
    pub source_ip: IpAddr,
    pub user_agent: Option<HeaderValue>,
    pub domain_name: Option<HeaderValue>,
    /// Request body bytes received.
    pub request_bytes: u64,
    pub status: u16,
    pub response_length: u64,
    pub integration_latency_ms: Option<u64>,
    pub integration_status: Option<u16>,
    pub integration_error: Option<Cow<'static, str>>,
    pub response_latency_ms: u64,
    pub error: Option<GatewayError>,
    /// Where the request ended up, for metrics and the meter.
    pub slot: SlotRef,
    /// The API key that was validated for this request (index into the runtime's keys).
    pub api_key: Option<u32>,
    /// What the route's authorizer established.
    pub principal: Option<Principal>,
    /// `$context.authorizer.error`: why a request authorizer failed.
    pub authorizer_error: Option<Cow<'static, str>>,
    /// How the meter classifies the request (set at each exit of the request path; a request
    /// dropped before one is reached stays `ClientClosed`).
    pub reason: Reason,
    /// WebSocket events: the connection and the event (aws-facts §5.3).
    pub ws: Option<WsEvent>,
}

/// The WebSocket part of `$context`.
#[derive(Debug, Clone)]
pub struct WsEvent {
    pub connection_id: Arc<str>,
    /// Unix milliseconds.
    pub connected_at: u64,
    /// `CONNECT`, `MESSAGE` or `DISCONNECT`.
    pub event_type: &'static str,
    /// MESSAGE events only.
    pub message_id: Option<RequestId>,
    /// The API key validated on `$connect`.
    pub api_key: Option<Arc<str>>,
}

impl Context {
    /// A request's (or WebSocket event's) context before anything but its id, time, account,
    /// client and initial meter reason is known: `GET`, no path, HTTP/1.1, no outcome yet. The
    /// request path and the WebSocket events fill in the rest (`Context { …, ..Context::new(…) }`).
    pub fn new(
        request_id: RequestId,
        request_time: SystemTime,
        account_id: Arc<str>,
        source_ip: IpAddr,
        reason: Reason,
    ) -> Context {
        Context {
            request_id,
            request_time,
            account_id,
            api_id: None,
            stage: None,
            route_key: None,
            method: Method::GET,
            path: String::new(),
            version: Version::HTTP_11,
            source_ip,
            user_agent: None,
            domain_name: None,
            request_bytes: 0,
            status: 0,
            response_length: 0,
            integration_latency_ms: None,
            integration_status: None,
            integration_error: None,
            response_latency_ms: 0,
            error: None,
            slot: SlotRef::NoApi,
            api_key: None,
            principal: None,
            authorizer_error: None,
            reason,
            ws: None,
        }
    }

    /// The value of `$context.<name>`, or `None` when it is unknown or not set for this request
    /// (the access log prints `-`, as AWS does).
    pub fn var(&self, name: &str) -> Option<Cow<'_, str>> {
        fn num(n: impl std::fmt::Display) -> Option<Cow<'static, str>> {
            Some(Cow::Owned(n.to_string()))
        }
        match name {
            "requestId" | "extendedRequestId" => Some(Cow::Borrowed(self.request_id.as_str())),
            "accountId" => Some(Cow::Borrowed(&self.account_id)),
            "apiId" => self.api_id.as_deref().map(Cow::Borrowed),
            "stage" => self.stage.as_deref().map(Cow::Borrowed),
            "routeKey" => self.route_key.as_deref().map(Cow::Borrowed),
            "httpMethod" => Some(Cow::Borrowed(self.method.as_str())),
            "path" => Some(Cow::Borrowed(&self.path)),
            "protocol" => Some(Cow::Borrowed(version_str(self.version))),
            "identity.sourceIp" => Some(Cow::Owned(self.source_ip.to_string())),
            "identity.userAgent" => self
                .user_agent
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .map(Cow::Borrowed),
            "domainName" => self.domain_name().map(Cow::Borrowed),
            "domainPrefix" => self
                .domain_name()
                .map(|d| Cow::Borrowed(d.split('.').next().unwrap_or(d))),
            "requestTime" => Some(Cow::Owned(tollgate_types::time_fmt::clf(
                self.request_time.into(),
            ))),
            "requestTimeEpoch" => num(self
                .request_time
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)),
            "status" => num(self.status),
            "responseLength" => num(self.response_length),
            "dataProcessed" => num(self.request_bytes + self.response_length),
            "integrationLatency" | "integration.latency" => {
                self.integration_latency_ms.and_then(num)
            }
            "integrationStatus" | "integration.integrationStatus" | "integration.status" => {
                self.integration_status.and_then(num)
            }
            "integrationErrorMessage" | "integration.error" => {
                self.integration_error.as_deref().map(Cow::Borrowed)
            }
            "responseLatency" => num(self.response_latency_ms),
            "error.message" => self.error.map(|e| Cow::Borrowed(e.message())),
            "error.messageString" => self
                .error
                .map(|e| Cow::Owned(format!("\"{}\"", e.message()))),
            "error.responseType" => self.error.map(|e| Cow::Borrowed(e.response_type())),
            "authorizer.error" => self.authorizer_error.as_deref().map(Cow::Borrowed),
            "connectionId" => self.ws.as_ref().map(|w| Cow::Borrowed(&*w.connection_id)),
            "connectedAt" => self.ws.as_ref().and_then(|w| num(w.connected_at)),
            "eventType" => self.ws.as_ref().map(|w| Cow::Borrowed(w.event_type)),
            "messageId" => self
                .ws
                .as_ref()?
                .message_id
                .as_ref()
                .map(|m| Cow::Borrowed(m.as_str())),
            "messageDirection" => self.ws.as_ref().map(|_| Cow::Borrowed("IN")),
            "identity.apiKey" => self.ws.as_ref()?.api_key.as_deref().map(Cow::Borrowed),
            _ => self.principal.as_ref()?.var(name),
        }
    }

    /// Append `$context.<name>` to `out` (the access log's path: numbers and addresses are
    /// written in place rather than through a temporary string). Returns false when unset.
    pub fn write_var(&self, name: &str, out: &mut String) -> bool {
        use std::fmt::Write as _;
        let _ = match name {
            "status" => write!(out, "{}", self.status),
            "responseLength" => write!(out, "{}", self.response_length),
            "responseLatency" => write!(out, "{}", self.response_latency_ms),
            "dataProcessed" => write!(out, "{}", self.request_bytes + self.response_length),
            "identity.sourceIp" => write!(out, "{}", self.source_ip),
            "integrationLatency" | "integration.latency" => match self.integration_latency_ms {
                Some(ms) => write!(out, "{ms}"),
                None => return false,
            },
            "integrationStatus" | "integration.integrationStatus" | "integration.status" => {
                match self.integration_status {
                    Some(s) => write!(out, "{s}"),
                    None => return false,
                }
            }
            _ => match self.var(name) {
                Some(v) => {
                    out.push_str(&v);
                    Ok(())
                }
                None => return false,
            },
        };
        true
    }

    fn domain_name(&self) -> Option<&str> {
        self.domain_name.as_ref().and_then(|v| v.to_str().ok())
    }
}

/// Who an authorizer says the caller is.
#[derive(Debug, Clone)]
pub enum Principal {
    Jwt(Arc<tollgate_auth::JwtPrincipal>),
    Lambda(Arc<tollgate_auth::LambdaPrincipal>),
    Iam(Arc<tollgate_auth::IamPrincipal>),
}

impl Principal {
    /// Who to meter the request to: the JWT's subject, the Lambda authorizer's principal id,
    /// the IAM principal.
    pub fn subject(&self) -> Option<&str> {
        match self {
            Principal::Jwt(p) => p.subject.as_deref(),
            Principal::Lambda(p) => p.principal_id.as_deref(),
            Principal::Iam(p) => Some(&p.principal),
        }
    }

    /// `$context.authorizer.*` and `$context.identity.*` values the authorizer sets.
    fn var(&self, name: &str) -> Option<Cow<'_, str>> {
        match self {
            Principal::Jwt(p) => p
                .claim(name.strip_prefix("authorizer.claims.")?)
                .map(Cow::Borrowed),
            Principal::Lambda(p) => {
                let key = name.strip_prefix("authorizer.")?;
                if key == "principalId" {
                    return p.principal_id.as_deref().map(Cow::Borrowed);
                }
                p.context_value(key).map(Cow::Owned)
            }
            Principal::Iam(p) => match name {
                "identity.accessKey" => Some(Cow::Borrowed(&p.access_key_id)),
                "identity.userArn" | "identity.caller" | "identity.user" => {
                    Some(Cow::Borrowed(&p.principal))
                }
                _ => None,
            },
        }
    }

    /// `requestContext.authorizer` of a payload 2.0 event.
    pub fn event_v2(&self) -> serde_json::Value {
        match self {
            Principal::Jwt(p) => p.request_context_authorizer(),
            Principal::Lambda(p) => p.request_context_authorizer_v2(),
            Principal::Iam(p) => serde_json::json!({"iam": {
                "accessKey": p.access_key_id,
                "userArn": p.principal,
                "callerId": p.access_key_id,
                "userId": p.access_key_id,
            }}),
        }
    }

    /// `requestContext.authorizer` of a payload 1.0 event (`None`: AWS's empty one).
    pub fn event_v1(&self) -> Option<serde_json::Value> {
        match self {
            Principal::Jwt(p) => p.request_context_authorizer().get("jwt").cloned(),
            Principal::Lambda(p) => Some(p.request_context_authorizer_v1()),
            Principal::Iam(_) => None,
        }
    }
}

/// `HTTP/1.1` as AWS writes it.
pub fn version_str(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}
