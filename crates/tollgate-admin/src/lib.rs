//! The admin listener (default `127.0.0.1:9180`): `/metrics` for Prometheus, the `/admin/*`
//! JSON API and the dashboard at `/` ([`dashboard`]).
//!
//! It knows nothing of the data plane: the binary hands it callbacks, so reload goes through
//! the same code path as SIGHUP and this crate never depends on tollgate-proxy.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub mod dashboard;

/// Renders the Prometheus text exposition.
pub type MetricsFn = Arc<dyn Fn() -> String + Send + Sync>;
/// Reloads the configuration: `Ok(summary)` or `Err(every error, one per entry)`.
pub type ReloadFn = Arc<dyn Fn() -> Result<String, Vec<String>> + Send + Sync>;

/// Answers a JSON query from its URL query string (`from=…&to=…&by=api,route`): the JSON body,
/// or an error status with a message. Called on a blocking thread: it may read the ledger.
pub type QueryFn = Arc<dyn Fn(&str) -> Result<String, QueryError> + Send + Sync>;

/// A query the admin API could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// 400 for a bad parameter, 503 when the ledger cannot be read, 404 when metering is off.
    pub status: u16,
    pub message: String,
}

/// What the admin API can do.
#[derive(Clone)]
pub struct AdminHandlers {
    pub metrics: MetricsFn,
    pub reload: ReloadFn,
    /// `GET /admin/usage`.
    pub usage: QueryFn,
    /// `GET /admin/cost`.
    pub cost: QueryFn,
    /// `GET /admin/quotas`.
    pub quotas: QueryFn,
    /// `GET /admin/budgets`.
    pub budgets: QueryFn,
    /// `GET /admin/forecast`.
    pub forecast: QueryFn,
    /// `GET /admin/anomalies`.
    pub anomalies: QueryFn,
    /// `GET /admin/recommendations`.
    pub recommendations: QueryFn,
    /// `GET /admin/connections`: open WebSocket connections.
    pub connections: QueryFn,
    /// `GET /admin/timeseries`: cost per hour or day, by one dimension (the dashboard's chart).
    pub timeseries: QueryFn,
    /// `GET /admin/movers`: what changed most against the previous period.
    pub movers: QueryFn,
    /// `GET /admin/dimensions`: the APIs, stages and tag values of a period (the dashboard's
    /// filters).
    pub dimensions: QueryFn,
}

/// Serve the admin API on `listener` until `shutdown` turns true. With a `token`, every
/// request must carry `Authorization: Bearer <token>`.
pub async fn serve(
    listener: TcpListener,
    token: Option<String>,
    handlers: AdminHandlers,
    mut shutdown: watch::Receiver<bool>,
) {
    let token: Option<Arc<str>> = token.map(Arc::from);
    // Connections are tracked so that shutdown ends idle keep-alive ones at once: they hold
    // the handlers, and with them the gateway, whose release ends the access-log writer.
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => if *shutdown.borrow() { break } else { continue },
        };
        let handlers = handlers.clone();
        let token = token.clone();
        let svc = service_fn(move |req| {
            let handlers = handlers.clone();
            let token = token.clone();
            async move { Ok::<_, Infallible>(route(&handlers, token.as_deref(), req).await) }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(std::time::Duration::from_secs(10))
            .serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    // Let an admin request in progress (a reload, a report) finish, briefly.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await;
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn authorized(token: Option<&str>, req: &Request<Incoming>) -> bool {
    let Some(token) = token else { return true };
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}

/// Compare without an early exit, so response time does not reveal a token prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Run a ledger query off the runtime thread (this runtime also serves requests).
async fn query(f: &QueryFn, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let f = Arc::clone(f);
    let q = req.uri().query().unwrap_or("").to_owned();
    let answer = tokio::task::spawn_blocking(move || f(&q)).await;
    match answer {
        Ok(Ok(body)) => {
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            r
        }
        Ok(Err(e)) => json(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            serde_json::json!({"message": e.message}),
        ),
        Err(_) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({"message": "the query failed"}),
        ),
    }
}

async fn route(
    h: &AdminHandlers,
    token: Option<&str>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    // The dashboard's page and assets hold no data, so they need no token; its API calls do.
    if let Some(r) = dashboard::respond(req.method(), req.uri().path(), req.headers()) {
        return r;
    }
    if !authorized(token, &req) {
        return json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"message": "Unauthorized"}),
        );
    }
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => {
            let mut r = Response::new(Full::new(Bytes::from((h.metrics)())));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        (&Method::GET, "/admin/health") => {
            json(StatusCode::OK, serde_json::json!({"status": "ok"}))
        }
        (&Method::POST, "/admin/reload") => match (h.reload)() {
            Ok(summary) => json(
                StatusCode::OK,
                serde_json::json!({"status": "reloaded", "summary": summary}),
            ),
            Err(errors) => json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"status": "rejected", "errors": errors}),
            ),
        },
        (&Method::GET, "/admin/usage") => query(&h.usage, &req).await,
        (&Method::GET, "/admin/cost") => query(&h.cost, &req).await,
        (&Method::GET, "/admin/quotas") => query(&h.quotas, &req).await,
        (&Method::GET, "/admin/budgets") => query(&h.budgets, &req).await,
        (&Method::GET, "/admin/forecast") => query(&h.forecast, &req).await,
        (&Method::GET, "/admin/anomalies") => query(&h.anomalies, &req).await,
        (&Method::GET, "/admin/recommendations") => query(&h.recommendations, &req).await,
        (&Method::GET, "/admin/connections") => query(&h.connections, &req).await,
        (&Method::GET, "/admin/timeseries") => query(&h.timeseries, &req).await,
        (&Method::GET, "/admin/movers") => query(&h.movers, &req).await,
        (&Method::GET, "/admin/dimensions") => query(&h.dimensions, &req).await,
        (
            _,
            "/metrics"
            | "/admin/health"
            | "/admin/reload"
            | "/admin/usage"
            | "/admin/cost"
            | "/admin/quotas"
            | "/admin/budgets"
            | "/admin/forecast"
            | "/admin/anomalies"
            | "/admin/recommendations"
            | "/admin/connections"
            | "/admin/timeseries"
            | "/admin/movers"
            | "/admin/dimensions",
        ) => json(
            StatusCode::METHOD_NOT_ALLOWED,
            serde_json::json!({"message": "Method Not Allowed"}),
        ),
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"message": "Not Found"}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
