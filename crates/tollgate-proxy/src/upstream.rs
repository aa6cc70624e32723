//! Keep-alive HTTP/1.1 connections to integrations, pooled per worker thread.
//!
//! Written on top of hyper's connection API rather than hyper-util's pooled `Client` because
//! the latter shares one pool behind a mutex, keys it with SipHash and wraps every request in
//! several boxed layers; with one current-thread runtime per worker (see `server`), a
//! thread-local pool needs none of that. bench/RESULTS.md has the measurements.
//!
//! A checkout takes the most recently used idle connection for the authority (LIFO keeps the
//! warm ones busy) and waits for it to be ready; closed connections are dropped on the way. A
//! request that a reused connection could not even send (the peer closed it while idle) is
//! retried once on another connection; a request that was sent is never retried.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{Authority, Scheme};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

type Sender = http1::SendRequest<Full<Bytes>>;

/// Idle connections kept per authority and worker thread.
const MAX_IDLE_PER_AUTHORITY: usize = 256;

/// Idle connections by authority text. Keyed by `&str` with foldhash: `Authority`'s own hash
/// lower-cases byte by byte through SipHash, which cost ~900 instructions per lookup in the
/// callgrind profile, twice per request.
type IdleMap = HashMap<Box<str>, Vec<Sender>, foldhash::fast::RandomState>;

thread_local! {
    static IDLE: RefCell<IdleMap> = RefCell::new(IdleMap::default());
}

/// Why a request could not be exchanged with the upstream.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("unsupported integration URI scheme `{0}` (only http is supported)")]
    Scheme(String),
    #[error("integration URI has no host")]
    NoHost,
    #[error("cannot resolve {0}: {1}")]
    Resolve(String, std::io::Error),
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("HTTP exchange with {0} failed: {1}")]
    Http(String, hyper::Error),
}

/// A connection checked out of the pool; give it back with [`Lease::release`] once the response
/// body has been read, or drop it to discard.
pub struct Lease {
    authority: Authority,
    sender: Sender,
}

impl Lease {
    /// Return the connection to this thread's pool, unless it has closed.
    pub fn release(self) {
        if self.sender.is_closed() {
            return;
        }
        IDLE.with(|idle| {
            let mut idle = idle.borrow_mut();
            match idle.get_mut(self.authority.as_str()) {
                Some(list) if list.len() < MAX_IDLE_PER_AUTHORITY => list.push(self.sender),
                Some(_) => {}
                None => {
                    idle.insert(self.authority.as_str().into(), vec![self.sender]);
                }
            }
        });
    }
}

/// Send `req` (an absolute `http://` URI) and return the response head with its body still
/// streaming, plus the connection to release after the body is read.
pub async fn send(
    mut req: Request<Full<Bytes>>,
) -> Result<(Response<Incoming>, Lease), UpstreamError> {
    let uri = req.uri().clone();
    match uri.scheme() {
        Some(s) if *s == Scheme::HTTP => {}
        Some(s) => return Err(UpstreamError::Scheme(s.to_string())),
        None => return Err(UpstreamError::NoHost),
    }
    let authority = uri.authority().cloned().ok_or(UpstreamError::NoHost)?;
    // The integration's host, replacing the client's (as AWS's HTTP proxy does).
    if let Ok(v) = HeaderValue::from_str(authority.as_str()) {
        req.headers_mut().insert(header::HOST, v);
    }
    // HTTP/1.1 origin form: the request target is the path and query only.
    if let Some(pq) = uri.path_and_query() {
        *req.uri_mut() = http::Uri::from(pq.clone());
    }

    // Reused connections first; a fresh one last, whose failure is final.
    loop {
        let (mut sender, reused) = match checkout(&authority).await {
            Some(s) => (s, true),
            None => (connect(&authority).await?, false),
        };
        match sender.try_send_request(req).await {
            Ok(resp) => return Ok((resp, Lease { authority, sender })),
            Err(mut e) => match e.take_message() {
                Some(unsent) if reused => req = unsent,
                _ => return Err(UpstreamError::Http(authority.to_string(), e.into_error())),
            },
        }
    }
}

/// The most recently used idle connection that is still usable.
async fn checkout(authority: &Authority) -> Option<Sender> {
    loop {
        let mut sender = IDLE.with(|idle| idle.borrow_mut().get_mut(authority.as_str())?.pop())?;
        if sender.is_closed() {
            continue;
        }
        if sender.ready().await.is_ok() {
            return Some(sender);
        }
    }
}

async fn connect(authority: &Authority) -> Result<Sender, UpstreamError> {
    let host = authority.host();
    let port = authority.port_u16().unwrap_or(80);
    let ip_host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match ip_host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| UpstreamError::Resolve(authority.to_string(), e))?
            .collect(),
    };
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses");
    for addr in addrs {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                let (sender, conn) = http1::Builder::new()
                    .handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| UpstreamError::Http(authority.to_string(), e))?;
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "upstream connection ended with an error");
                    }
                });
                return Ok(sender);
            }
            Err(e) => last = e,
        }
    }
    Err(UpstreamError::Connect(authority.to_string(), last))
}
