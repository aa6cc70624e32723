//! An HTTP upstream that echoes every request back as JSON.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::json;

use crate::server::{self, respond, Running};

/// A running echo upstream; it stops when dropped.
#[derive(Debug)]
pub struct Upstream {
    running: Running,
    requests: Arc<AtomicUsize>,
}

impl Upstream {
    /// The bound address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.running.addr)
    }

    /// How many requests arrived so far (control paths included).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Starts the echo upstream on 127.0.0.1:0.
///
/// Every request is answered 200 with `content-type: application/json` and the body
/// `{"method": "GET", "path": "/a", "query": "x=1" | null, "headers": {"name": ["v1", "v2"]},
/// "body": "…"}` (header names lower-case; `query` is the raw query string, `null` without `?`;
/// `body` is decoded as lossy UTF-8). Paths that end with a control segment pair behave
/// differently (so they work behind a path prefix too, e.g. `/dev/status/503`):
/// - `…/status/{code}` answers with that status (200–599) and the same JSON; 204 and 304 have no
///   body;
/// - `…/slow/{ms}` waits that many milliseconds, then answers as usual;
/// - `…/big/{n}` answers 200 with `n` bytes of `x` (`application/octet-stream`).
///
/// # Panics
/// If 127.0.0.1:0 cannot be bound.
pub async fn spawn_echo_upstream() -> Upstream {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let running = server::serve(Arc::new(move |req| {
        counter.fetch_add(1, Ordering::SeqCst);
        Box::pin(echo(req))
    }))
    .await;
    Upstream { running, requests }
}

enum Control {
    Status(u16),
    Slow(u64),
    Big(usize),
}

fn control(path: &str) -> Option<Control> {
    let mut segments = path.rsplit('/');
    let number = segments.next()?;
    let kind = segments.next()?;
    match kind {
        "status" => number.parse().ok().map(Control::Status),
        "slow" => number.parse().ok().map(Control::Slow),
        "big" => number.parse().ok().map(Control::Big),
        _ => None,
    }
}

async fn echo(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let mut status = 200;
    match control(req.uri().path()) {
        Some(Control::Status(code)) if (200..=599).contains(&code) => status = code,
        Some(Control::Status(_)) => return respond(400, "text/plain", "status must be 200-599"),
        Some(Control::Slow(ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(Control::Big(n)) => return respond(200, "application/octet-stream", vec![b'x'; n]),
        None => {}
    }

    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in req.headers() {
        headers
            .entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    if status == 204 || status == 304 {
        return respond(status, "application/json", Bytes::new());
    }
    let echo = json!({
        "method": method,
        "path": path,
        "query": query,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    respond(status, "application/json", echo.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_paths() {
        assert!(matches!(control("/status/503"), Some(Control::Status(503))));
        assert!(matches!(control("/dev/slow/20"), Some(Control::Slow(20))));
        assert!(matches!(control("/big/10"), Some(Control::Big(10))));
        assert!(control("/big/ten").is_none());
        assert!(control("/pets/1").is_none());
        assert!(control("/").is_none());
    }
}
