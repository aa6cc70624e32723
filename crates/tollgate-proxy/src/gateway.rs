//! The life of one request (docs/ARCHITECTURE.md): resolve API and stage, match the route,
//! read the body, call the integration, map the response, then log and count — always, even
//! for requests the gateway rejected.

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tollgate_config::model::{GatewayConfig, IntegrationKind, PayloadFormat, RouteMatcher};
use tollgate_meter::{Meter, RequestUsage};
use tollgate_types::usage::Reason;
use tollgate_types::RequestIdGenerator;

use crate::access_log::AccessLog;
use crate::context::{version_str, Context, Principal};
use crate::cors::CorsPolicy;
use crate::errors::GatewayError;
use crate::integration::{self, IntegrationFailure, IntegrationResponse};
use crate::lambda;
use crate::mapping::{self, RequestParts, Sources};
use crate::metrics::Metrics;
use crate::runtime::{AuthorizerRt, BuildError, Runtime, SlotRef};

/// The data plane's shared state: the current configuration and the things that outlive it.
pub struct Gateway {
    runtime: ArcSwap<Runtime>,
    ids: RequestIdGenerator,
    metrics: Metrics,
    access_log: Option<AccessLog>,
    meter: Option<Meter>,
    budget_states: crate::runtime::BudgetStates,
    /// Open WebSocket connections.
    ws: crate::websocket::Registry,
    /// Turns true at shutdown: WebSocket connections close with 1001.
    ws_stop: tokio::sync::watch::Sender<bool>,
    /// Connections (HTTP and WebSocket) still being served, for the drain at shutdown.
    drain: Arc<Drain>,
}

/// Counts the connections being served so that shutdown can wait for them.
#[derive(Default)]
pub struct Drain {
    active: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// Held by a connection's task while it is served.
pub struct DrainGuard(Arc<Drain>);

impl Drop for DrainGuard {
    fn drop(&mut self) {
        if self
            .0
            .active
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.0.idle.notify_waiters();
        }
    }
}

impl Drain {
    pub fn enter(self: &Arc<Self>) -> DrainGuard {
        self.active
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        DrainGuard(Arc::clone(self))
    }

    pub fn active(&self) -> usize {
        self.active.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Wait until no connection is being served.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.active() == 0 {
                return;
            }
            notified.await;
        }
    }
}

type Body = Full<Bytes>;

// Header names built once: `HeaderName::from_static` validates its text on every call.
const APIGW_REQUESTID: HeaderName = HeaderName::from_static("apigw-requestid");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// The client end of a connection, with its address already rendered for `X-Forwarded-For`
/// (once per connection, not per request).
#[derive(Clone, Debug)]
pub struct Peer {
    pub addr: SocketAddr,
    pub ip: HeaderValue,
}

impl Peer {
    pub fn new(addr: SocketAddr) -> Self {
        let ip = HeaderValue::try_from(addr.ip().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("0.0.0.0"));
        Self { addr, ip }
    }
}

impl Gateway {
    pub fn new(
        config: Arc<GatewayConfig>,
        metrics: Metrics,
        access_log: Option<AccessLog>,
        meter: Option<Meter>,
    ) -> Result<Self, BuildError> {
        let budget_states = crate::runtime::BudgetStates::default();
        let runtime = Runtime::build(config, &metrics, None, &budget_states)?;
        Ok(Self {
            budget_states,
            runtime: ArcSwap::from_pointee(runtime),
            ids: RequestIdGenerator::new(),
            metrics,
            access_log,
            meter,
            ws: crate::websocket::Registry::new(),
            ws_stop: tokio::sync::watch::Sender::new(false),
            drain: Arc::default(),
        })
    }

    /// The open WebSocket connections.
    pub fn ws_registry(&self) -> &crate::websocket::Registry {
        &self.ws
    }

    /// A receiver that turns true when WebSocket connections must close.
    pub fn ws_stop_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.ws_stop.subscribe()
    }

    /// Close every WebSocket connection (1001 Going Away), as at shutdown.
    pub fn close_websockets(&self) {
        self.ws_stop.send_replace(true);
    }

    /// Count a connection as being served until the guard drops.
    pub fn drain_guard(&self) -> DrainGuard {
        self.drain.enter()
    }

    pub fn drain(&self) -> &Arc<Drain> {
        &self.drain
    }

    pub(crate) fn next_request_id(&self) -> tollgate_types::id::RequestId {
        self.ids.next_id()
    }

    /// Hand the connection time of this thread's open WebSocket connections to the meter
    /// (called every flush interval by each worker, before it flushes its shard), so the
    /// ledger is current for connections that stay open.
    pub fn accrue_websockets(&self) {
        if self.meter.is_none() {
            return;
        }
        let me = std::thread::current().id();
        for conn in self.ws.all() {
            if conn.thread == me && !conn.closed.load(std::sync::atomic::Ordering::Acquire) {
                crate::websocket::conn::accrue(self, &conn, false);
            }
        }
    }

    /// Every API key's remaining usage-plan quota.
    pub fn quotas_now(&self) -> Vec<crate::access::QuotaView> {
        self.runtime
            .load()
            .access
            .quotas_now(time::OffsetDateTime::now_utc())
    }

    /// The state of each budget of the current configuration, by name (the evaluator sets
    /// them).
    pub fn budget_states(&self) -> Vec<(String, Arc<crate::access::BudgetState>)> {
        self.runtime
            .load()
            .budgets
            .iter()
            .map(|b| (b.name.clone(), Arc::clone(&b.state)))
            .collect()
    }

    /// The meter, when metering is on.
    pub fn meter(&self) -> Option<&Meter> {
        self.meter.as_ref()
    }

    /// The configuration currently served.
    pub fn config(&self) -> Arc<GatewayConfig> {
        Arc::clone(&self.runtime.load().config)
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn access_log(&self) -> Option<&AccessLog> {
        self.access_log.as_ref()
    }

    /// Serve `config` from now on. Requests in flight finish with the configuration they
    /// started with.
    pub fn swap(&self, config: Arc<GatewayConfig>) -> Result<(), BuildError> {
        let current = self.runtime.load();
        let runtime = Runtime::build(config, &self.metrics, Some(&current), &self.budget_states)?;
        self.runtime.store(Arc::new(runtime));
        Ok(())
    }

    /// Handle one request that arrived on listener `listener` from `peer`.
    pub async fn handle(
        self: Arc<Self>,
        listener: usize,
        peer: Peer,
        req: Request<Incoming>,
    ) -> Result<Response<Body>, Infallible> {
        let start = Instant::now();
        let rt = self.runtime.load_full();
        let ctx = Box::new(Context {
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
            version: req.version(),
            user_agent: req.headers().get(header::USER_AGENT).cloned(),
            domain_name: req.headers().get(header::HOST).cloned(),
            ..Context::new(
                self.ids.next_id(),
                SystemTime::now(),
                Arc::clone(&rt.account_id),
                peer.addr.ip(),
                Reason::ClientClosed,
            )
        });
        // If the client goes away, hyper drops this future mid-way; the guard still logs,
        // counts and meters the request (status 499, nginx's "client closed request").
        let mut done = Finish {
            gateway: &self,
            rt: &rt,
            start,
            ctx: Some(ctx),
            integration_latency: None,
        };
        let mut resp = match done.ctx.as_deref_mut() {
            Some(ctx) => {
                Arc::clone(&self)
                    .process(
                        &rt,
                        listener,
                        &peer,
                        req,
                        ctx,
                        &mut done.integration_latency,
                    )
                    .await
            }
            // The guard was just built with the context; it is only taken by `complete`.
            None => integration::error_response(GatewayError::IntegrationFailure),
        };
        if let Some(ctx) = &done.ctx {
            if let Ok(v) = HeaderValue::from_str(ctx.request_id.as_str()) {
                resp.headers_mut().insert(APIGW_REQUESTID, v);
            }
        }
        done.complete(&resp);
        Ok(resp)
    }

    async fn process(
        self: Arc<Self>,
        rt: &Arc<Runtime>,
        listener: usize,
        peer: &Peer,
        req: Request<Incoming>,
        ctx: &mut Context,
        integration_latency: &mut Option<Duration>,
    ) -> Response<Body> {
        let server = &rt.config.server;
        let (mut parts, body) = req.into_parts();

        // Request line plus header values, as AWS counts them (aws-facts.md §2.2).
        let header_bytes = parts.method.as_str().len()
            + parts.uri.path_and_query().map_or(1, |p| p.as_str().len())
            + 10
            + parts.headers.values().map(|v| v.len()).sum::<usize>();
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.host());
        let Some(api_idx) = rt.resolve_api(listener, host) else {
            return fail(ctx, Reason::NoApi, GatewayError::NotFound);
        };
        ctx.slot = SlotRef::NoStage {
            api: api_idx as u32,
        };
        let (api, art) = rt.api(api_idx);
        ctx.api_id = Some(Arc::clone(&art.id));
        // Dot segments are refused and `//` collapsed before routing (path_guard.rs), so the
        // route that authorizes a request is the resource the backend serves.
        let checked = match crate::path_guard::check(parts.uri.path()) {
            crate::path_guard::PathCheck::Route(p) => p,
            crate::path_guard::PathCheck::Reject => {
                return fail(ctx, Reason::Malformed, GatewayError::BadRequest)
            }
        };
        let Some((stage_idx, path)) = art.resolve_stage(api, &checked) else {
            return fail(ctx, Reason::UnmatchedRoute, GatewayError::NotFound);
        };
        let stage = &api.stages[stage_idx];
        let stage_rt = &art.stages[stage_idx];
        ctx.stage = Some(Arc::clone(&stage_rt.name));
        ctx.slot = SlotRef::Route {
            api: api_idx as u32,
            stage: stage_idx as u32,
            route: api.routes.len() as u32,
        };

        if header_bytes > server.max_header_bytes {
            return fail(ctx, Reason::Malformed, GatewayError::HeadersTooLarge);
        }

        if api.websocket.is_some() {
            // Boxed: the upgrade's future is large and HTTP requests should not carry it.
            let path = path.to_owned();
            return Box::pin(crate::websocket::handle(
                &self, rt, api_idx, stage_idx, &path, parts, body, peer, ctx,
            ))
            .await;
        }

        if let Some(cors) = &art.cors {
            if CorsPolicy::is_preflight(&parts.method, &parts.headers) {
                let mut resp = Response::new(Full::new(Bytes::new()));
                *resp.status_mut() = StatusCode::NO_CONTENT;
                cors.preflight(&parts.headers, resp.headers_mut());
                ctx.reason = Reason::CorsPreflight;
                return resp;
            }
        }

        let Some(m) = art.router.lookup(&parts.method, path) else {
            return fail(ctx, Reason::UnmatchedRoute, GatewayError::NotFound);
        };
        let route = &api.routes[m.route];
        ctx.slot = SlotRef::Route {
            api: api_idx as u32,
            stage: stage_idx as u32,
            route: m.route as u32,
        };
        ctx.route_key = Some(Arc::clone(&art.route_keys[m.route]));

        let params: Vec<(&str, Cow<'_, str>)> = m
            .params
            .iter()
            .map(|(k, v)| {
                (
                    *k,
                    percent_encoding::percent_decode_str(v).decode_utf8_lossy(),
                )
            })
            .collect();
        let raw_query = parts.uri.query().unwrap_or("");

        if let Err(resp) = self
            .admit(
                rt, api_idx, stage_idx, m.route, &parts, path, &params, peer, ctx,
            )
            .await
        {
            return *resp;
        }

        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > (server.max_body_bytes + DRAIN_BYTES) as u64) {
            return fail(ctx, Reason::Malformed, GatewayError::BodyTooLarge);
        }
        let body = match if http_body::Body::is_end_stream(&body) {
            // No body (most GETs): skip the timer.
            Ok(Ok(Bytes::new()))
        } else {
            tokio::time::timeout(
                server.body_read_timeout,
                read_body(body, server.max_body_bytes),
            )
            .await
        } {
            Ok(Ok(b)) => b,
            Ok(Err(BodyError::TooLarge)) => {
                return fail(ctx, Reason::Malformed, GatewayError::BodyTooLarge)
            }
            Ok(Err(BodyError::Broken)) => {
                return fail(ctx, Reason::Malformed, GatewayError::BadRequest)
            }
            Err(_) => return fail(ctx, Reason::Malformed, GatewayError::RequestTimeout),
        };
        ctx.request_bytes = body.len() as u64;

        // IAM authorization needs the body (its hash is signed), so it comes after reading
        // it (aws-facts §3.10).
        if route.aws_iam {
            if let Err(resp) = check_iam(rt, api, &stage.name, &parts, path, &body, ctx) {
                return *resp;
            }
        }

        let integ = &api.integrations[route.integration];
        let origin = art
            .cors
            .as_ref()
            .and_then(|_| parts.headers.get(header::ORIGIN).cloned());
        // What mapping templates may read about this request (a macro, not a closure: the
        // headers may be moved out of `parts` in between).
        macro_rules! sources {
            ($params:expr) => {
                Sources::new(
                    &parts.headers,
                    raw_query,
                    &body,
                    path,
                    $params,
                    &stage.variables,
                    ctx,
                )
            };
        }
        let started = Instant::now();
        // From here on the request is an API call that reached its integration: billable,
        // whatever happens next (aws-facts.md §1.8), even if the client goes away.
        ctx.reason = match integ.kind {
            IntegrationKind::Mock { .. } => Reason::Mock,
            _ => Reason::Integration,
        };
        let result = match &integ.kind {
            IntegrationKind::Mock {
                status,
                headers,
                body,
            } => {
                let mut h = HeaderMap::with_capacity(headers.len());
                for (k, v) in headers {
                    if let (Ok(k), Ok(v)) = (
                        header::HeaderName::from_bytes(k.as_bytes()),
                        HeaderValue::from_str(v),
                    ) {
                        h.append(k, v);
                    }
                }
                Ok(IntegrationResponse {
                    status: *status,
                    headers: h,
                    body: Bytes::from(body.clone()),
                })
            }
            IntegrationKind::HttpProxy { uri, method } => {
                // Path parameters go into the URI as they arrived, still percent-encoded.
                let raw_params: Vec<(&str, Cow<'_, str>)> = m
                    .params
                    .iter()
                    .map(|(k, v)| (*k, Cow::Borrowed(*v)))
                    .collect();
                let uri_src = sources!(&raw_params);
                let mut target = uri_src.eval(uri);
                if route.matcher == RouteMatcher::Default {
                    integration::append_path(&mut target, path);
                }
                // Mapping values read the request's headers as they arrived, so they need a
                // copy; otherwise the headers move to the integration request as they are.
                let mut headers = if integ.request_parameters.is_empty() {
                    std::mem::take(&mut parts.headers)
                } else {
                    parts.headers.clone()
                };
                integration::strip_hop_by_hop(&mut headers);
                forwarded_for(&mut headers, peer);
                let mut query = raw_query;
                let rebuilt;
                if !integ.request_parameters.is_empty() {
                    let src = sources!(&params);
                    let mut rp = RequestParts {
                        headers,
                        query: form_urlencoded::parse(raw_query.as_bytes())
                            .into_owned()
                            .collect(),
                        path: None,
                    };
                    mapping::apply_request(&integ.request_parameters, &src, &mut rp);
                    headers = rp.headers;
                    rebuilt = form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(rp.query.iter())
                        .finish();
                    query = &rebuilt;
                    if let Some(p) = rp.path {
                        target = replace_path(&target, &p);
                    }
                }
                let target = integration::with_query(target, query);
                match target.parse::<Uri>() {
                    Err(_) => Err(IntegrationFailure::new(
                        GatewayError::IntegrationFailure,
                        format!("Invalid integration URI: {target}"),
                    )),
                    Ok(uri) => {
                        let mut out = Request::new(body.clone());
                        *out.method_mut() = method.clone().unwrap_or_else(|| parts.method.clone());
                        *out.uri_mut() = uri;
                        *out.headers_mut() = headers;
                        integration::send(out, integ.timeout).await
                    }
                }
            }
            IntegrationKind::Lambda {
                endpoint,
                function,
                payload_format,
            } => {
                let src = sources!(&params);
                let function = src.eval(function);
                self.invoke_lambda(
                    rt,
                    api,
                    &stage.name,
                    route,
                    &parts,
                    &params,
                    &stage.variables,
                    &body,
                    ctx,
                    peer,
                    endpoint,
                    &function,
                    *payload_format,
                    integ.timeout,
                )
                .await
            }
        };
        *integration_latency = Some(started.elapsed());

        let mut resp = match result {
            Err(f) => {
                ctx.integration_status = f.status;
                ctx.integration_error = Some(f.message);
                tracing::debug!(request_id = %ctx.request_id, error = ?ctx.integration_error, "integration failed");
                let reason = ctx.reason;
                return fail(ctx, reason, f.kind);
            }
            Ok(r) => r,
        };
        ctx.integration_status = Some(resp.status.as_u16());
        integration::strip_hop_by_hop(&mut resp.headers);
        resp.headers.remove(header::CONTENT_LENGTH);

        let mut status = resp.status.as_u16();
        if let Some(maps) = integ.response_parameters.get(&status) {
            let src = sources!(&params).with_response(&resp.headers, &resp.body);
            let mut headers = resp.headers.clone();
            status = mapping::apply_response(maps, &src, status, &mut headers);
            resp.headers = headers;
        }
        if let Some(cors) = &art.cors {
            cors.apply(origin.as_ref(), &mut resp.headers);
        }
        let mut out = Response::new(Full::new(resp.body));
        *out.status_mut() = StatusCode::from_u16(status).unwrap_or(resp.status);
        *out.headers_mut() = resp.headers;
        out
    }

    /// The route's admission: its authorizer (aws-facts §3.8, §3.9), API key, throttles,
    /// budgets and quota (§2.5, §3.11). AWS does not bill what is refused here; the meter
    /// records it as non-billable with the reason. Shared by HTTP routes and WebSocket
    /// `$connect`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn admit(
        &self,
        rt: &Runtime,
        api_idx: usize,
        stage_idx: usize,
        route_idx: usize,
        parts: &http::request::Parts,
        path: &str,
        params: &[(&str, Cow<'_, str>)],
        peer: &Peer,
        ctx: &mut Context,
    ) -> Result<(), Box<Response<Body>>> {
        let (api, art) = rt.api(api_idx);
        let stage = &api.stages[stage_idx];
        let route = &api.routes[route_idx];
        let raw_query = parts.uri.query().unwrap_or("");
        // The route's authorizer (aws-facts §3.8, §3.9): cached keys or answers cost no I/O.
        match route
            .authorizer
            .and_then(|i| art.authorizers.get(i))
            .map(|a| &a.kind)
        {
            None => {}
            Some(AuthorizerRt::Jwt(jwt)) => {
                match jwt
                    .authorize(&parts.headers, &route.authorization_scopes)
                    .await
                {
                    Ok(p) => ctx.principal = Some(Principal::Jwt(p)),
                    Err(e) => {
                        let kind = if e.status() == StatusCode::FORBIDDEN {
                            GatewayError::Forbidden
                        } else {
                            GatewayError::Unauthorized
                        };
                        let mut resp = fail(ctx, Reason::AuthFailed, kind);
                        if let Ok(v) = HeaderValue::try_from(e.www_authenticate()) {
                            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                        }
                        return Err(Box::new(resp));
                    }
                }
            }
            Some(AuthorizerRt::Request(authorizer)) => {
                let decoded: Vec<(&str, &str)> =
                    params.iter().map(|(k, v)| (*k, v.as_ref())).collect();
                let result = {
                    let ctx_ref: &Context = ctx;
                    let context_var = |name: &str| ctx_ref.var(name).map(Cow::into_owned);
                    let host = parts
                        .headers
                        .get(header::HOST)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("");
                    let req = tollgate_auth::AuthorizerRequest {
                        method: &parts.method,
                        raw_path: parts.uri.path(),
                        path,
                        raw_query,
                        headers: &parts.headers,
                        path_params: &decoded,
                        stage_variables: &stage.variables,
                        route_key: &route.key,
                        resource_path: match &route.matcher {
                            RouteMatcher::Default => "$default",
                            RouteMatcher::Path { path, .. } => path.as_str(),
                            RouteMatcher::Websocket => route.key.as_str(),
                        },
                        region: &rt.config.region,
                        account_id: &rt.config.account_id,
                        api_id: &api.id,
                        stage: &stage.name,
                        domain_name: host,
                        source_ip: peer.ip.to_str().unwrap_or(""),
                        protocol: version_str(parts.version),
                        request_id: ctx_ref.request_id.as_str(),
                        request_time: ctx_ref.request_time.into(),
                        context_var: Some(&context_var),
                    };
                    authorizer.authorize(&req).await
                };
                match result {
                    Ok(p) => ctx.principal = Some(Principal::Lambda(Arc::new(p))),
                    Err(e) => {
                        let kind = match e.status().as_u16() {
                            401 => GatewayError::Unauthorized,
                            403 => GatewayError::Forbidden,
                            _ => GatewayError::AuthorizerFailure,
                        };
                        ctx.authorizer_error = Some(e.authorizer_error().into());
                        return Err(Box::new(fail(ctx, Reason::AuthFailed, kind)));
                    }
                }
            }
        }

        // API key, throttles, quota (aws-facts §2.5, §3.11). AWS does not bill what is
        // refused here; the meter records it as non-billable with the reason.
        let access = &rt.access;
        let mut plan_key = None;
        if route.api_key_required {
            let key = if api.api_key_from_authorizer {
                match &ctx.principal {
                    Some(Principal::Lambda(p)) => p
                        .usage_identifier_key
                        .as_deref()
                        .and_then(|k| access.key(k.as_bytes())),
                    _ => None,
                }
            } else {
                match parts.headers.get_all(&X_API_KEY).iter().next() {
                    Some(v) => access.key(v.as_bytes()),
                    None => None,
                }
            };
            let Some(key) = key else {
                return Err(Box::new(fail(
                    ctx,
                    Reason::MissingKey,
                    GatewayError::InvalidApiKey,
                )));
            };
            let Some(pk) = access.plan_key(api_idx, stage_idx, key) else {
                return Err(Box::new(fail(
                    ctx,
                    Reason::MissingKey,
                    GatewayError::InvalidApiKey,
                )));
            };
            ctx.api_key = Some(key);
            plan_key = Some(pk);
        }
        if access
            .throttles
            .check(access.route_idx(api_idx, stage_idx, route_idx), plan_key)
            .is_err()
        {
            return Err(Box::new(fail(
                ctx,
                Reason::Throttled,
                GatewayError::Throttled,
            )));
        }
        if rt
            .budgets
            .iter()
            .any(|b| b.refuses(api_idx, stage_idx, ctx.api_key))
        {
            return Err(Box::new(fail(
                ctx,
                Reason::BudgetExceeded,
                GatewayError::BudgetExceeded,
            )));
        }
        if let Some(pk) = plan_key {
            if access
                .quotas
                .try_consume(pk, time::OffsetDateTime::from(ctx.request_time))
                .is_err()
            {
                return Err(Box::new(fail(
                    ctx,
                    Reason::QuotaExceeded,
                    GatewayError::QuotaExceeded,
                )));
            }
        }

        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn invoke_lambda(
        &self,
        rt: &Runtime,
        api: &tollgate_config::model::Api,
        stage: &str,
        route: &tollgate_config::model::Route,
        parts: &http::request::Parts,
        params: &[(&str, Cow<'_, str>)],
        stage_variables: &std::collections::BTreeMap<String, String>,
        body: &Bytes,
        ctx: &Context,
        peer: &Peer,
        endpoint: &str,
        function: &str,
        format: PayloadFormat,
        timeout: Duration,
    ) -> Result<IntegrationResponse, IntegrationFailure> {
        let default_domain;
        let domain_name = match parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
        {
            Some(h) => h,
            None => {
                default_domain =
                    format!("{}.execute-api.{}.amazonaws.com", api.id, rt.config.region);
                &default_domain
            }
        };
        let resource_path = match &route.matcher {
            RouteMatcher::Default => "$default",
            RouteMatcher::Path { path, .. } => path.as_str(),
            RouteMatcher::Websocket => route.key.as_str(),
        };
        let param_refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_ref())).collect();
        let source_ip = peer.ip.to_str().unwrap_or("");
        let input = lambda::EventInput {
            account_id: &rt.config.account_id,
            api_id: &api.id,
            domain_name,
            stage,
            route_key: &route.key,
            resource_path,
            method: &parts.method,
            raw_path: parts.uri.path(),
            raw_query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            path_params: &param_refs,
            stage_variables,
            body,
            source_ip,
            protocol: version_str(parts.version),
            request_id: ctx.request_id.as_str(),
            request_time: ctx.request_time.into(),
        };
        let event = match format {
            PayloadFormat::V2 => match &ctx.principal {
                Some(p) => lambda::event_v2_with_authorizer(&input, Some(&p.event_v2())),
                None => lambda::event_v2(&input),
            },
            PayloadFormat::V1 => {
                let authorizer = ctx.principal.as_ref().and_then(Principal::event_v1);
                lambda::event_v1_with_authorizer(&input, authorizer.as_ref())
            }
        };
        let Some(req) = integration::lambda_request(endpoint, function, event) else {
            return Err(IntegrationFailure::new(
                GatewayError::LambdaFailure,
                format!("Invalid Lambda endpoint or function name: {endpoint} {function}"),
            ));
        };
        let parse = match format {
            PayloadFormat::V2 => lambda::response_v2,
            PayloadFormat::V1 => lambda::response_v1,
        };
        integration::invoke_lambda(req, timeout, parse).await
    }
}

/// Answer with a gateway error, noting it and the meter's reason in the context.
pub(crate) fn fail(ctx: &mut Context, reason: Reason, e: GatewayError) -> Response<Body> {
    ctx.error = Some(e);
    ctx.reason = reason;
    integration::error_response(e)
}

/// SigV4 verification and the `execute-api` policies (aws-facts §3.10).
pub(crate) fn check_iam(
    rt: &Runtime,
    api: &tollgate_config::model::Api,
    stage: &str,
    parts: &http::request::Parts,
    path: &str,
    body: &Bytes,
    ctx: &mut Context,
) -> Result<(), Box<Response<Body>>> {
    let Some(verifier) = &rt.iam else {
        // compile() refuses aws_iam routes without an `iam` section.
        return Err(Box::new(fail(
            ctx,
            Reason::AuthFailed,
            GatewayError::Forbidden,
        )));
    };
    let mut signed = tollgate_auth::SignedRequest::new(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        body,
    );
    if let Some(authority) = parts.uri.authority() {
        signed = signed.with_authority(authority.as_str());
    }
    let arn = verifier.resource_arn(&api.id, stage, parts.method.as_str(), path);
    match verifier.verify_and_authorize(&signed, SystemTime::now(), &arn) {
        Ok(p) => ctx.principal = Some(Principal::Iam(Arc::new(p))),
        Err(e) => {
            ctx.error = Some(GatewayError::Forbidden);
            ctx.reason = Reason::AuthFailed;
            return Err(Box::new(integration::json_error(
                e.status(),
                HeaderValue::from_static(e.error_type()),
                Bytes::from(e.body()),
            )));
        }
    }
    Ok(())
}

/// The end of a request: metrics, meter and access log, exactly once — on completion, or from
/// `Drop` when the client went away first.
struct Finish<'a> {
    gateway: &'a Gateway,
    rt: &'a Runtime,
    start: Instant,
    ctx: Option<Box<Context>>,
    integration_latency: Option<Duration>,
}

/// Status logged and metered for a request whose client closed the connection first.
const CLIENT_CLOSED: u16 = 499;

impl Finish<'_> {
    fn complete(&mut self, resp: &Response<Body>) {
        let Some(mut ctx) = self.ctx.take() else {
            return;
        };
        let body = http_body::Body::size_hint(resp.body()).exact().unwrap_or(0);
        ctx.status = resp.status().as_u16();
        ctx.response_length = body;
        // Bytes out are only needed by the meter: no header walk when metering is off.
        let bytes_out = match &self.gateway.meter {
            Some(_) if ctx.method == http::Method::HEAD => head_bytes(resp),
            Some(_) => head_bytes(resp) + body,
            None => 0,
        };
        // A body of 1 KB or more sent as is: what compression could have saved (informational).
        let uncompressed = if self.gateway.meter.is_some()
            && body >= 1024
            && ctx.method != http::Method::HEAD
            && !resp.headers().contains_key(header::CONTENT_ENCODING)
        {
            body
        } else {
            0
        };
        self.record(ctx, bytes_out, uncompressed);
    }

    fn record(&self, mut ctx: Box<Context>, bytes_out: u64, uncompressed_body: u64) {
        let elapsed = self.start.elapsed();
        ctx.response_latency_ms = elapsed.as_millis() as u64;
        ctx.integration_latency_ms = self.integration_latency.map(|d| d.as_millis() as u64);
        let slot = self.rt.slot(ctx.slot);
        slot.metrics.record(
            ctx.status,
            elapsed,
            self.integration_latency,
            ctx.request_bytes + ctx.response_length,
        );
        if let Some(meter) = &self.gateway.meter {
            let at_secs = ctx
                .request_time
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            meter.record_request(RequestUsage {
                dims: &slot.usage,
                at_secs,
                client: ctx.source_ip,
                principal: ctx.principal.as_ref().and_then(Principal::subject),
                api_key: ctx
                    .api_key
                    .and_then(|k| self.rt.access.key_ids.get(k as usize)),
                status: ctx.status,
                reason: ctx.reason,
                request_bytes: ctx.request_bytes,
                bytes_out,
                uncompressed_body,
            });
        }
        if let (Some(log), Some(format)) = (&self.gateway.access_log, &self.rt.access_log_format) {
            log.log(format, ctx);
        }
    }
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        if let Some(mut ctx) = self.ctx.take() {
            ctx.status = CLIENT_CLOSED;
            self.record(ctx, 0, 0);
        }
    }
}

/// The bytes of a response head as hyper writes it: status line, headers, the `date` and
/// `content-length` headers it adds, and the blank line.
fn head_bytes(resp: &Response<Body>) -> u64 {
    // "HTTP/1.1 200 OK\r\n"
    let reason = resp.status().canonical_reason().map_or(0, str::len);
    let mut n = 13 + reason + 2;
    for (name, value) in resp.headers() {
        n += name.as_str().len() + 2 + value.len() + 2;
    }
    // "date: Sun, 22 Nov 2026 01:23:23 GMT\r\n"
    n += 37;
    if !resp.headers().contains_key(header::CONTENT_LENGTH) {
        let len = http_body::Body::size_hint(resp.body()).exact().unwrap_or(0);
        n += "content-length: ".len() + len.checked_ilog10().map_or(1, |d| d as usize + 1) + 2;
    }
    (n + 2) as u64
}

/// How much of an oversized body is read and thrown away before answering 413, so that clients
/// still sending see the answer instead of a reset connection.
const DRAIN_BYTES: usize = 4 * 1024 * 1024;

enum BodyError {
    TooLarge,
    Broken,
}

/// Read the request body up to `max` bytes. Past `max`, keep reading (and discarding) up to
/// [`DRAIN_BYTES`] more before reporting `TooLarge`.
async fn read_body(mut body: Incoming, max: usize) -> Result<Bytes, BodyError> {
    let mut first: Option<Bytes> = None;
    let mut buf = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| BodyError::Broken)?.into_data() else {
            continue;
        };
        total += data.len();
        if total > max {
            if total > max + DRAIN_BYTES {
                break;
            }
            continue;
        }
        // One chunk (the common case) is kept as is, without copying.
        match first.take() {
            None if buf.is_empty() => first = Some(data),
            None => buf.extend_from_slice(&data),
            Some(f) => {
                buf.extend_from_slice(&f);
                buf.extend_from_slice(&data);
            }
        }
    }
    if total > max {
        return Err(BodyError::TooLarge);
    }
    Ok(first.unwrap_or_else(|| buf.freeze()))
}

/// Append the client's address to `X-Forwarded-For` and say how it arrived.
fn forwarded_for(headers: &mut HeaderMap, peer: &Peer) {
    match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prev) => {
            let mut value = String::with_capacity(prev.len() + 2 + peer.ip.len());
            value.push_str(prev);
            value.push_str(", ");
            value.push_str(peer.ip.to_str().unwrap_or(""));
            if let Ok(v) = HeaderValue::try_from(value) {
                headers.insert(X_FORWARDED_FOR, v);
            }
        }
        None => {
            headers.insert(X_FORWARDED_FOR, peer.ip.clone());
        }
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
}

/// Replace the path of an absolute URI text (for `overwrite:path`), keeping its query.
fn replace_path(uri: &str, path: &str) -> String {
    let after_scheme = uri.find("://").map_or(0, |i| i + 3);
    let path_start = uri[after_scheme..]
        .find(['/', '?'])
        .map_or(uri.len(), |i| after_scheme + i);
    let query = uri[path_start..].find('?').map(|i| &uri[path_start + i..]);
    let mut out = String::with_capacity(uri.len() + path.len());
    out.push_str(&uri[..path_start]);
    if !path.starts_with('/') {
        out.push('/');
    }
    out.push_str(path);
    if let Some(q) = query {
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_path_keeps_authority_and_query() {
        assert_eq!(replace_path("http://h:1/a/b?x=1", "/c"), "http://h:1/c?x=1");
        assert_eq!(replace_path("http://h:1", "/c"), "http://h:1/c");
        assert_eq!(replace_path("http://h:1/a", "c"), "http://h:1/c");
    }
}
