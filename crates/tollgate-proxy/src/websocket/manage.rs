//! The `@connections` API on a WebSocket stage's URL (aws-facts.md §4.3, §4.4):
//! `POST` sends a message to a connection, `GET` describes it, `DELETE` closes it. Requests
//! are SigV4-signed (service `execute-api`) by a key of `iam.access_keys` that some policy
//! allows `execute-api:ManageConnections` on
//! `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/@connections/{id}`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tollgate_types::usage::Reason;

use super::registry::{Outbound, PushError, Registry};
use super::{manage_slot, MAX_MESSAGE_BYTES};
use crate::context::Context;
use crate::errors::GatewayError;
use crate::gateway::{fail, Gateway};
use crate::integration;
use crate::runtime::{Runtime, SlotRef};

type Body = Full<Bytes>;

/// `PostToConnection`'s `Data` maximum: 131,072 bytes (aws-facts §2.4).
const MAX_POST_BYTES: usize = MAX_MESSAGE_BYTES;
const MANAGE_ACTION: &str = "execute-api:ManageConnections";

#[allow(clippy::too_many_arguments)]
pub(crate) async fn handle(
    gw: &Arc<Gateway>,
    rt: &Arc<Runtime>,
    api_idx: usize,
    stage_idx: usize,
    raw_id: &str,
    parts: http::request::Parts,
    body: Incoming,
    ctx: &mut Context,
) -> Response<Body> {
    let (api, art) = rt.api(api_idx);
    let stage = &api.stages[stage_idx];
    ctx.route_key = Some(Arc::from("@connections"));
    ctx.slot = SlotRef::Route {
        api: api_idx as u32,
        stage: stage_idx as u32,
        route: manage_slot(api),
    };
    // boto3 percent-encodes the id (`=` → `%3D`).
    if raw_id.is_empty() || raw_id.contains('/') {
        return fail(ctx, Reason::UnmatchedRoute, GatewayError::NotFound);
    }
    let id = percent_encoding::percent_decode_str(raw_id).decode_utf8_lossy();
    let op = match parts.method {
        Method::POST => "POST",
        Method::GET => "GET",
        Method::DELETE => "DELETE",
        _ => return fail(ctx, Reason::UnmatchedRoute, GatewayError::NotFound),
    };

    // The body is signed, so it is read before the signature is checked; more than the
    // 128 KB a post may carry is refused without reading further.
    let data = match read_limited(body, MAX_POST_BYTES, rt.config.server.body_read_timeout).await {
        Ok(b) => b,
        Err(GatewayError::PayloadTooLarge) => {
            return fail(ctx, Reason::Malformed, GatewayError::PayloadTooLarge)
        }
        Err(e) => return fail(ctx, Reason::Malformed, e),
    };
    ctx.request_bytes = data.len() as u64;

    let Some(verifier) = &rt.iam else {
        // Without `iam.access_keys` nobody can sign: AWS's answer to an unsigned call.
        return fail(ctx, Reason::AuthFailed, GatewayError::Forbidden);
    };
    let mut signed = tollgate_auth::SignedRequest::new(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        &data,
    );
    if let Some(authority) = parts.uri.authority() {
        signed = signed.with_authority(authority.as_str());
    }
    let arn = verifier.resource_arn(&api.id, &stage.name, op, &format!("/@connections/{id}"));
    let verified = verifier.verify(&signed, SystemTime::now()).and_then(|p| {
        verifier
            .authorize_action(&p, MANAGE_ACTION, &arn)
            .map(|()| p)
    });
    match verified {
        Ok(p) => ctx.principal = Some(crate::context::Principal::Iam(Arc::new(p))),
        Err(e) => {
            ctx.error = Some(GatewayError::Forbidden);
            ctx.reason = Reason::AuthFailed;
            return integration::json_error(
                e.status(),
                HeaderValue::from_static(e.error_type()),
                Bytes::from(e.body()),
            );
        }
    }

    if !Registry::is_valid_id(&id) {
        return fail(ctx, Reason::Malformed, GatewayError::BadRequest);
    }
    let conn = match gw.ws_registry().get(&id) {
        Some(c) if !c.closed.load(Ordering::Acquire) && c.api_id == art.id => c,
        _ => return fail(ctx, Reason::Integration, GatewayError::Gone),
    };
    // `@connections` calls are API calls (AWS counts them toward the account's throttle);
    // the message a post delivers is metered by the connection as it goes out.
    ctx.reason = Reason::Websocket;
    match op {
        "POST" => match conn.push(Outbound::Data(data)) {
            Ok(()) => {
                let mut resp = Response::new(Full::new(Bytes::new()));
                *resp.status_mut() = StatusCode::OK;
                resp
            }
            Err(PushError::Full) => fail(ctx, Reason::Throttled, GatewayError::LimitExceeded),
            Err(PushError::Closed) => fail(ctx, Reason::Integration, GatewayError::Gone),
        },
        "GET" => {
            let last =
                conn.connected_at + Duration::from_millis(conn.last_active.load(Ordering::Relaxed));
            let body = serde_json::json!({
                "connectedAt": iso(conn.connected_at),
                "identity": {
                    "sourceIp": conn.source_ip.to_string(),
                    "userAgent": conn.user_agent.as_deref().unwrap_or(""),
                },
                "lastActiveAt": iso(last),
            });
            let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        _ => {
            // DELETE: queued behind the messages already accepted, whatever the queue's size.
            if conn.push(Outbound::Close).is_err() {
                return fail(ctx, Reason::Integration, GatewayError::Gone);
            }
            let mut resp = Response::new(Full::new(Bytes::new()));
            *resp.status_mut() = StatusCode::NO_CONTENT;
            resp
        }
    }
}

/// ISO 8601 with milliseconds, as `GetConnection` answers (`2026-11-22T05:01:02.123Z`).
fn iso(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond()
    )
}

async fn read_limited(
    body: Incoming,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, GatewayError> {
    use http_body_util::BodyExt as _;
    let limited = http_body_util::Limited::new(body, max);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Err(_) => Err(GatewayError::RequestTimeout),
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            Err(GatewayError::PayloadTooLarge)
        }
        Ok(Err(_)) => Err(GatewayError::BadRequest),
    }
}
