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
use tollgate_types::RequestIdGenerator;

use crate::access_log::AccessLog;
use crate::context::{version_str, Context};
use crate::cors::CorsPolicy;
use crate::errors::GatewayError;
use crate::integration::{self, IntegrationFailure, IntegrationResponse};
use crate::lambda;
use crate::mapping::{self, RequestParts, Sources};
use crate::metrics::{Metrics, RouteMetrics};
use crate::router::RouterError;
use crate::runtime::Runtime;

/// The data plane's shared state: the current configuration and the things that outlive it.
pub struct Gateway {
    runtime: ArcSwap<Runtime>,
    ids: RequestIdGenerator,
    metrics: Metrics,
    access_log: Option<AccessLog>,
}

type Body = Full<Bytes>;

// Header names built once: `HeaderName::from_static` validates its text on every call.
const APIGW_REQUESTID: HeaderName = HeaderName::from_static("apigw-requestid");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

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
    ) -> Result<Self, RouterError> {
        let runtime = Runtime::build(config, &metrics)?;
        Ok(Self {
            runtime: ArcSwap::from_pointee(runtime),
            ids: RequestIdGenerator::new(),
            metrics,
            access_log,
        })
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
    pub fn swap(&self, config: Arc<GatewayConfig>) -> Result<(), RouterError> {
        let runtime = Runtime::build(config, &self.metrics)?;
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
        let mut ctx = Box::new(Context {
            request_id: self.ids.next_id(),
            request_time: SystemTime::now(),
            account_id: Arc::clone(&rt.account_id),
            api_id: None,
            stage: None,
            route_key: None,
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
            version: req.version(),
            source_ip: peer.addr.ip(),
            user_agent: req.headers().get(header::USER_AGENT).cloned(),
            domain_name: req.headers().get(header::HOST).cloned(),
            request_bytes: 0,
            status: 0,
            response_length: 0,
            integration_latency_ms: None,
            integration_status: None,
            integration_error: None,
            response_latency_ms: 0,
            error: None,
        });

        let mut integration_latency = None;
        let (mut resp, metrics) = self
            .process(
                &rt,
                listener,
                &peer,
                req,
                &mut ctx,
                &mut integration_latency,
            )
            .await;

        if let Ok(v) = HeaderValue::from_str(ctx.request_id.as_str()) {
            resp.headers_mut().insert(APIGW_REQUESTID, v);
        }
        let length = http_body::Body::size_hint(resp.body()).exact().unwrap_or(0);
        let elapsed = start.elapsed();
        ctx.status = resp.status().as_u16();
        ctx.response_length = length;
        ctx.response_latency_ms = elapsed.as_millis() as u64;
        ctx.integration_latency_ms = integration_latency.map(|d: Duration| d.as_millis() as u64);
        metrics.record(
            ctx.status,
            elapsed,
            integration_latency,
            ctx.request_bytes + length,
        );
        if let (Some(log), Some(format)) = (&self.access_log, &rt.access_log_format) {
            log.log(format, ctx);
        }
        Ok(resp)
    }

    async fn process<'rt>(
        &self,
        rt: &'rt Runtime,
        listener: usize,
        peer: &Peer,
        req: Request<Incoming>,
        ctx: &mut Context,
        integration_latency: &mut Option<Duration>,
    ) -> (Response<Body>, &'rt RouteMetrics) {
        let server = &rt.config.server;
        let (mut parts, body) = req.into_parts();
        let fail = |ctx: &mut Context, e: GatewayError| {
            ctx.error = Some(e);
            integration::error_response(e)
        };

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
            return (fail(ctx, GatewayError::NotFound), &rt.unmatched);
        };
        let (api, art) = rt.api(api_idx);
        ctx.api_id = Some(Arc::clone(&art.id));
        let Some((stage_idx, path)) = art.resolve_stage(api, parts.uri.path()) else {
            return (fail(ctx, GatewayError::NotFound), &rt.unmatched);
        };
        let stage = &api.stages[stage_idx];
        let stage_rt = &art.stages[stage_idx];
        ctx.stage = Some(Arc::clone(&stage_rt.name));
        let unmatched = stage_rt.metrics.last().unwrap_or(&rt.unmatched);

        if header_bytes > server.max_header_bytes {
            return (fail(ctx, GatewayError::HeadersTooLarge), unmatched);
        }

        if let Some(cors) = &art.cors {
            if CorsPolicy::is_preflight(&parts.method, &parts.headers) {
                let mut resp = Response::new(Full::new(Bytes::new()));
                *resp.status_mut() = StatusCode::NO_CONTENT;
                cors.preflight(&parts.headers, resp.headers_mut());
                return (resp, unmatched);
            }
        }

        let Some(m) = art.router.lookup(&parts.method, path) else {
            return (fail(ctx, GatewayError::NotFound), unmatched);
        };
        let route = &api.routes[m.route];
        let metrics = &stage_rt.metrics[m.route];
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

        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > (server.max_body_bytes + DRAIN_BYTES) as u64) {
            return (fail(ctx, GatewayError::BodyTooLarge), metrics);
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
                return (fail(ctx, GatewayError::BodyTooLarge), metrics)
            }
            Ok(Err(BodyError::Broken)) => return (fail(ctx, GatewayError::BadRequest), metrics),
            Err(_) => return (fail(ctx, GatewayError::RequestTimeout), metrics),
        };
        ctx.request_bytes = body.len() as u64;

        let integ = &api.integrations[route.integration];
        let origin = art
            .cors
            .as_ref()
            .and_then(|_| parts.headers.get(header::ORIGIN).cloned());
        let raw_query = parts.uri.query().unwrap_or("");
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
                return (fail(ctx, f.kind), metrics);
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
        (out, metrics)
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
            PayloadFormat::V2 => lambda::event_v2(&input),
            PayloadFormat::V1 => lambda::event_v1(&input),
        };
        let Some(req) = integration::lambda_request(endpoint, function, event) else {
            return Err(IntegrationFailure::new(
                GatewayError::LambdaFailure,
                format!("Invalid Lambda endpoint or function name: {endpoint} {function}"),
            ));
        };
        let out = integration::send(req, timeout).await?;
        if out.status != StatusCode::OK || out.headers.contains_key("x-amz-function-error") {
            return Err(IntegrationFailure {
                kind: GatewayError::LambdaFailure,
                message: format!(
                    "The Lambda function returned an error (status {}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.body[..out.body.len().min(256)])
                )
                .into(),
                status: Some(out.status.as_u16()),
            });
        }
        let parsed = match format {
            PayloadFormat::V2 => lambda::response_v2(&out.body),
            PayloadFormat::V1 => lambda::response_v1(&out.body),
        };
        match parsed {
            Ok(r) => {
                let mut headers = HeaderMap::with_capacity(r.headers.len());
                for (k, v) in r.headers {
                    headers.append(k, v);
                }
                Ok(IntegrationResponse {
                    status: r.status,
                    headers,
                    body: r.body,
                })
            }
            Err(e) => Err(IntegrationFailure {
                kind: GatewayError::LambdaFailure,
                message: format!("Malformed Lambda proxy response: {e}").into(),
                status: Some(200),
            }),
        }
    }
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
