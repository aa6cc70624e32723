//! WebSocket APIs (docs/websocket.md; aws-facts.md §2.4, §4): the upgrade on a stage's URL
//! with `$connect` admission, the connection's life ([`conn`]), route selection, the
//! integrations' events ([`event`]), `@connections` ([`manage`]) and the registry of open
//! connections ([`registry`]).
//!
//! The WebSocket protocol itself (frames, masking, fragmentation, the 32 KB frame and 128 KB
//! message limits) is tokio-tungstenite's, over hyper's upgraded connection.

pub mod conn;
pub mod event;
pub mod manage;
pub mod registry;
pub mod select;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tollgate_config::model::{Api, IntegrationKind, TemplatePart, VarRef, WebsocketApi};
use tollgate_meter::UnitsUsage;
use tollgate_types::usage::{Reason, UsageMeter};

use crate::context::{Context, WsEvent};
use crate::errors::GatewayError;
use crate::gateway::{fail, Gateway, Peer};
use crate::integration::{self, IntegrationFailure, IntegrationResponse};
use crate::mapping::Sources;
use crate::metrics::{Metrics, WsMetrics};
use crate::runtime::{Runtime, SlotRef};

pub use registry::{Conn, Outbound, Registry};

type Body = Full<Bytes>;

/// AWS's limits (aws-facts §2.4): frames over 32 KB and messages over 128 KB close the
/// connection with 1009.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// What the request path needs of a WebSocket API, per configuration load.
pub struct WsRuntime {
    /// New connections per second (AWS: 500/s per account and Region).
    pub limiter: governor::DefaultDirectRateLimiter,
    /// Indexed like the API's stages.
    pub metrics: Vec<WsMetrics>,
    /// Custom route keys → route index.
    pub custom: HashMap<Box<str>, usize>,
    /// The route selection expression, ready for messages.
    pub selector: select::Selector,
}

impl WsRuntime {
    pub fn build(api: &Api, ws: &WebsocketApi, metrics: &Metrics) -> Self {
        let rate = NonZeroU32::new(ws.connections_per_second).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: governor::RateLimiter::direct(governor::Quota::per_second(rate)),
            metrics: api
                .stages
                .iter()
                .map(|s| metrics.websocket(&api.id, &api.name, &s.name))
                .collect(),
            custom: ws
                .custom
                .iter()
                .map(|(k, v)| (Box::from(k.as_str()), *v))
                .collect(),
            selector: select::Selector::new(&ws.route_selection),
        }
    }
}

/// The slot (metrics and usage dimensions) of `@connections` posts on a stage: after the
/// routes and the unmatched slot.
pub fn manage_slot(api: &Api) -> u32 {
    api.routes.len() as u32 + 1
}

/// A request on a WebSocket API's stage: the upgrade (`/`), or `@connections`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn handle(
    gw: &Arc<Gateway>,
    rt: &Arc<Runtime>,
    api_idx: usize,
    stage_idx: usize,
    path: &str,
    parts: http::request::Parts,
    body: Incoming,
    peer: &Peer,
    ctx: &mut Context,
) -> Response<Body> {
    // boto3 and awscurl percent-encode the `@` (aws-facts §4.3).
    let manage = path
        .strip_prefix("/@connections/")
        .or_else(|| path.strip_prefix("/%40connections/"));
    if let Some(id) = manage {
        return manage::handle(gw, rt, api_idx, stage_idx, id, parts, body, ctx).await;
    }
    if path != "/" {
        return fail(ctx, Reason::UnmatchedRoute, GatewayError::NotFound);
    }
    upgrade(gw, rt, api_idx, stage_idx, parts, peer, ctx).await
}

/// Whether the request asks for a WebSocket (RFC 6455 §4.2.1), and its key.
fn websocket_key(parts: &http::request::Parts) -> Option<&HeaderValue> {
    let has_token = |name: header::HeaderName, token: &str| {
        parts.headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    let ok = parts.method == http::Method::GET
        && has_token(header::UPGRADE, "websocket")
        && has_token(header::CONNECTION, "upgrade")
        && parts
            .headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v == "13");
    if ok {
        parts.headers.get(header::SEC_WEBSOCKET_KEY)
    } else {
        None
    }
}

/// Releases a reserved connection slot unless the connection opened.
struct Reservation<'a> {
    registry: &'a Registry,
    api: &'a str,
    armed: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.registry.release(self.api);
        }
    }
}

async fn upgrade(
    gw: &Arc<Gateway>,
    rt: &Arc<Runtime>,
    api_idx: usize,
    stage_idx: usize,
    parts: http::request::Parts,
    peer: &Peer,
    ctx: &mut Context,
) -> Response<Body> {
    let (api, art) = rt.api(api_idx);
    let (Some(ws), Some(wsr)) = (&api.websocket, &art.ws) else {
        return fail(ctx, Reason::UnmatchedRoute, GatewayError::NotFound);
    };
    let stage = &api.stages[stage_idx];
    let connect = ws.connect;
    let unmatched = api.routes.len();
    ctx.route_key = Some(Arc::from("$connect"));
    ctx.slot = SlotRef::Route {
        api: api_idx as u32,
        stage: stage_idx as u32,
        route: connect.unwrap_or(unmatched) as u32,
    };
    let Some(key) = websocket_key(&parts).cloned() else {
        let mut resp = fail(ctx, Reason::Malformed, GatewayError::UpgradeRequired);
        resp.headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        resp.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return resp;
    };
    let wm = &wsr.metrics[stage_idx];

    // Connection limits before anything costs: the rate, then the cap.
    if wsr.limiter.check().is_err() {
        wm.client_errors.increment(1);
        return fail(ctx, Reason::Throttled, GatewayError::LimitExceeded);
    }
    let api_id = Arc::clone(&art.id);
    if !gw.ws_registry().reserve(&api_id, ws.max_connections) {
        wm.client_errors.increment(1);
        return fail(ctx, Reason::Throttled, GatewayError::LimitExceeded);
    }
    let mut reservation = Reservation {
        registry: gw.ws_registry(),
        api: &api_id,
        armed: true,
    };

    // `$connect` is the only route with authorization (aws-facts §4.1).
    if let Some(route_idx) = connect {
        if let Err(resp) = gw
            .admit(
                rt,
                api_idx,
                stage_idx,
                route_idx,
                &parts,
                "/",
                &[],
                peer,
                ctx,
            )
            .await
        {
            wm.client_errors.increment(1);
            return *resp;
        }
        if api.routes[route_idx].aws_iam {
            if let Err(resp) =
                crate::gateway::check_iam(rt, api, &stage.name, &parts, "/", &Bytes::new(), ctx)
            {
                wm.client_errors.increment(1);
                return *resp;
            }
        }
    }

    let id = gw.ws_registry().new_id();
    let connected_at = SystemTime::now();
    let connected_ms = connected_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let api_key = ctx
        .api_key
        .and_then(|k| rt.access.key_ids.get(k as usize))
        .cloned();
    ctx.ws = Some(WsEvent {
        connection_id: Arc::clone(&id),
        connected_at: connected_ms,
        event_type: "CONNECT",
        message_id: None,
        api_key: api_key.clone(),
    });
    wm.connect_count.increment(1);

    // The `$connect` integration decides (a non-2xx answer refuses the connection).
    let mut subprotocol = None;
    let domain = domain_name(ctx, api, rt);
    if let Some(route_idx) = connect {
        let started = Instant::now();
        let base = event_base(rt, api, &stage.name, &domain, &id, connected_ms, ctx, peer);
        let kind = event::EventKind::Connect {
            headers: &parts.headers,
            raw_query: parts.uri.query().unwrap_or(""),
        };
        let result = call(
            gw,
            rt,
            api,
            stage_idx,
            route_idx,
            &base,
            &kind,
            &Bytes::new(),
            ctx,
        )
        .await;
        ctx.integration_latency_ms = Some(started.elapsed().as_millis() as u64);
        meter_event(gw, rt, api_idx, stage_idx, route_idx, ctx, peer, 0);
        match result {
            Err(f) => {
                wm.integration_errors.increment(1);
                ctx.integration_status = f.status;
                ctx.integration_error = Some(f.message);
                return fail(ctx, Reason::WebsocketControl, f.kind);
            }
            Ok(r) => {
                ctx.integration_status = Some(r.status.as_u16());
                if !r.status.is_success() {
                    wm.integration_errors.increment(1);
                    ctx.reason = Reason::WebsocketControl;
                    let mut resp = Response::new(Full::new(r.body));
                    *resp.status_mut() = r.status;
                    return resp;
                }
                subprotocol = r.headers.get(header::SEC_WEBSOCKET_PROTOCOL).cloned();
            }
        }
    }

    let on_upgrade = hyper::upgrade::on(Request::from_parts(parts, ()));
    let dims_route = connect.unwrap_or(unmatched) as u32;
    let dims = Arc::clone(
        &rt.slot(SlotRef::Route {
            api: api_idx as u32,
            stage: stage_idx as u32,
            route: dims_route,
        })
        .usage,
    );
    let conn = Arc::new(Conn {
        id: Arc::clone(&id),
        api_id: Arc::clone(&api_id),
        stage: Arc::clone(&art.stages[stage_idx].name),
        connected_at,
        connected_ms,
        started: Instant::now(),
        source_ip: peer.addr.ip(),
        user_agent: ctx
            .user_agent
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(Box::from),
        api_key,
        principal: ctx
            .principal
            .as_ref()
            .and_then(|p| p.subject())
            .map(Box::from),
        dims,
        thread: std::thread::current().id(),
        outbox: Default::default(),
        outbox_capacity: ws.send_queue,
        wake: tokio::sync::Notify::new(),
        messages_in: Default::default(),
        messages_out: Default::default(),
        units: Default::default(),
        last_active: Default::default(),
        accrued_ms: Default::default(),
        idle: Default::default(),
        closed: Default::default(),
    });
    gw.ws_registry().insert(Arc::clone(&conn));
    reservation.armed = false;
    wm.connections.increment(1.0);
    let authorizer = ctx.principal.as_ref().and_then(|p| p.event_v1());
    let task = conn::ConnTask {
        gw: Arc::clone(gw),
        rt: Arc::clone(rt),
        api_idx,
        stage_idx,
        conn,
        peer: peer.clone(),
        domain_header: HeaderValue::from_str(&domain).ok(),
        domain,
        authorizer,
    };
    tokio::spawn(task.run(on_upgrade));

    ctx.reason = Reason::Websocket;
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(
        &tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()),
    ) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if let Some(p) = subprotocol {
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    resp
}

/// `domainName`: the Host the client used, else the API's execute-api name.
fn domain_name(ctx: &Context, api: &Api, rt: &Runtime) -> Arc<str> {
    match ctx.domain_name.as_ref().and_then(|h| h.to_str().ok()) {
        Some(h) => Arc::from(h),
        None => {
            Arc::from(format!("{}.execute-api.{}.amazonaws.com", api.id, rt.config.region).as_str())
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn event_base<'a>(
    _rt: &Runtime,
    api: &'a Api,
    stage: &'a str,
    domain: &'a str,
    id: &'a str,
    connected_ms: u64,
    ctx: &'a Context,
    peer: &'a Peer,
) -> event::EventBase<'a> {
    event::EventBase {
        api_id: &api.id,
        stage,
        domain_name: domain,
        connection_id: id,
        connected_at: connected_ms,
        request_id: ctx.request_id.as_str(),
        request_time: ctx.request_time,
        source_ip: peer.ip.to_str().unwrap_or(""),
        user_agent: ctx.user_agent.as_ref().and_then(|v| v.to_str().ok()),
        api_key: ctx.ws.as_ref().and_then(|w| w.api_key.as_deref()),
        authorizer: ctx.principal.as_ref().and_then(|p| p.event_v1()),
    }
}

/// Meter a `$connect` / `$disconnect` event: one message unit, non-billable unless
/// `metering.billable.websocket_control` (aws-facts §1.2: UNCONFIRMED).
#[allow(clippy::too_many_arguments)]
pub(crate) fn meter_event(
    gw: &Gateway,
    rt: &Runtime,
    api_idx: usize,
    stage_idx: usize,
    route_idx: usize,
    ctx: &Context,
    peer: &Peer,
    bytes: u64,
) {
    let Some(meter) = gw.meter() else {
        return;
    };
    let slot = rt.slot(SlotRef::Route {
        api: api_idx as u32,
        stage: stage_idx as u32,
        route: route_idx as u32,
    });
    meter.record_units(UnitsUsage {
        dims: &slot.usage,
        at_secs: unix_secs(ctx.request_time),
        client: peer.addr.ip(),
        principal: ctx.principal.as_ref().and_then(|p| p.subject()),
        api_key: ctx.ws.as_ref().and_then(|w| w.api_key.as_ref()),
        reason: Reason::WebsocketControl,
        meter: UsageMeter::WebsocketMessages,
        units: tollgate_meter::websocket_message_units(bytes),
        events: 1,
    });
}

pub(crate) fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The answer of route `route_idx`'s integration when it is a mock: computed in place, with
/// no I/O (so a message to a mock route needs no future of its own). `None` for others.
pub(crate) fn mock_answer(
    api: &Api,
    stage_idx: usize,
    route_idx: usize,
    body: &Bytes,
    ctx: &Context,
) -> Option<IntegrationResponse> {
    let route = &api.routes[route_idx];
    let integ = &api.integrations[route.integration];
    let IntegrationKind::Mock {
        status, headers, ..
    } = &integ.kind
    else {
        return None;
    };
    let template = api
        .websocket
        .as_ref()
        .and_then(|w| w.mock_bodies.get(route.integration))
        .and_then(Option::as_ref);
    let body = match template.map(|t| t.parts.as_slice()) {
        // The message itself (an echo): no copy.
        Some([TemplatePart::Var(VarRef::RequestBody)]) => body.clone(),
        Some(_) => {
            let t = template?;
            let empty = HeaderMap::new();
            let stage = &api.stages[stage_idx];
            let src = Sources::new(&empty, "", body, "", &[], &stage.variables, ctx);
            Bytes::from(src.eval(t))
        }
        None => Bytes::new(),
    };
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.append(k, v);
        }
    }
    Some(IntegrationResponse {
        status: *status,
        headers: h,
        body,
    })
}

/// Call route `route_idx`'s integration with one event.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn call(
    _gw: &Gateway,
    _rt: &Runtime,
    api: &Api,
    stage_idx: usize,
    route_idx: usize,
    base: &event::EventBase<'_>,
    kind: &event::EventKind<'_>,
    body: &Bytes,
    ctx: &Context,
) -> Result<IntegrationResponse, IntegrationFailure> {
    if let Some(answer) = mock_answer(api, stage_idx, route_idx, body, ctx) {
        return Ok(answer);
    }
    let route = &api.routes[route_idx];
    let integ = &api.integrations[route.integration];
    let stage = &api.stages[stage_idx];
    let empty = HeaderMap::new();
    let src = Sources::new(&empty, "", body, "", &[], &stage.variables, ctx);
    match &integ.kind {
        IntegrationKind::Mock { .. } => Err(IntegrationFailure::new(
            GatewayError::IntegrationFailure,
            "mock integration without an answer",
        )),
        IntegrationKind::HttpProxy { uri, method } => {
            let target = src.eval(uri);
            let uri = target.parse::<http::Uri>().map_err(|_| {
                IntegrationFailure::new(
                    GatewayError::IntegrationFailure,
                    format!("Invalid integration URI: {target}"),
                )
            })?;
            let mut headers = HeaderMap::new();
            if let event::EventKind::Connect {
                headers: client, ..
            } = kind
            {
                headers = (*client).clone();
                integration::strip_hop_by_hop(&mut headers);
                for h in [
                    header::SEC_WEBSOCKET_KEY,
                    header::SEC_WEBSOCKET_VERSION,
                    header::SEC_WEBSOCKET_EXTENSIONS,
                ] {
                    headers.remove(h);
                }
            }
            event::http_headers(base, kind, &mut headers);
            let mut out = Request::new(body.clone());
            *out.method_mut() = method.clone().unwrap_or(http::Method::POST);
            *out.uri_mut() = uri;
            *out.headers_mut() = headers;
            integration::send(out, integ.timeout).await
        }
        IntegrationKind::Lambda {
            endpoint, function, ..
        } => {
            let function = src.eval(function);
            let ev = event::lambda_event(base, kind);
            let Some(req) = integration::lambda_request(endpoint, &function, ev) else {
                return Err(IntegrationFailure::new(
                    GatewayError::LambdaFailure,
                    format!("Invalid Lambda endpoint or function name: {endpoint} {function}"),
                ));
            };
            integration::invoke_lambda(req, integ.timeout, websocket_reply).await
        }
    }
}

/// A WebSocket function's answer: `{"statusCode": 200, "body": "…"}`, a string, or nothing
/// (`null`, an empty answer), which is a 200 without a body.
fn websocket_reply(
    out: &[u8],
) -> Result<crate::lambda::LambdaHttpResponse, crate::lambda::MalformedResponse> {
    if out.is_empty() || out == b"null" {
        return crate::lambda::response_v2(b"\"\"");
    }
    crate::lambda::response_v2(out)
}
