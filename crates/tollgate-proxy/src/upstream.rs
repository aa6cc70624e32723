//! HTTP/1.1 exchanges with integrations over keep-alive connections pooled per worker thread.
//!
//! Written by hand on `httparse` rather than with hyper's client: a proxied request through
//! hyper's client cost ≈ 19 k instructions (callgrind) — a separate connection task fed through
//! channels, a full `Request` encode and a dispatch state machine per request — while the
//! exchange a gateway needs is small: write one request head and body, read one response head
//! and a body framed by `Content-Length`, `chunked` or connection close, all buffered (AWS
//! integrations are request/response, ≤ 10 MB). bench/RESULTS.md has the measurements.
//!
//! The connection is driven by the request's own task. An idle connection is taken from this
//! thread's pool (most recently used first) unless the runtime has seen it become readable
//! while idle (the peer's FIN). If it still turns out to have been closed (the write fails, or
//! the read sees end-of-stream before any response byte), the request is sent again once on a
//! fresh connection — only for idempotent methods, as nginx does, since a closed connection
//! cannot tell whether the peer saw the request.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, Scheme};
use http::{Method, Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Idle connections kept per authority and worker thread.
const MAX_IDLE_PER_AUTHORITY: usize = 256;
/// Largest response head accepted from an integration.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most response headers accepted from an integration.
const MAX_HEADERS: usize = 128;

/// Idle connections by authority text, hashed with foldhash (`Authority`'s own hash lower-cases
/// byte by byte through SipHash).
type IdleMap = HashMap<Box<str>, Vec<Conn>, foldhash::fast::RandomState>;

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
    #[error("I/O with {0} failed: {1}")]
    Io(String, std::io::Error),
    #[error("{0} closed the connection before answering")]
    Closed(String),
    #[error("{0} sent an invalid response: {1}")]
    Protocol(String, String),
    #[error("{0} sent a response body over {1} bytes")]
    TooLarge(String, usize),
}

/// A buffered integration response.
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

/// Exchange `req` (absolute `http://` URI) with its upstream; the response body may be at most
/// `max_body` bytes.
pub async fn send(req: Request<Bytes>, max_body: usize) -> Result<UpstreamResponse, UpstreamError> {
    let (parts, body) = req.into_parts();
    match parts.uri.scheme() {
        Some(s) if *s == Scheme::HTTP => {}
        Some(s) => return Err(UpstreamError::Scheme(s.to_string())),
        None => return Err(UpstreamError::NoHost),
    }
    let authority = parts
        .uri
        .authority()
        .cloned()
        .ok_or(UpstreamError::NoHost)?;
    let head = encode_head(
        &parts.method,
        &parts.uri,
        &authority,
        &parts.headers,
        body.len(),
    );
    let is_head = parts.method == Method::HEAD;
    let idempotent = matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    );

    let mut retried = false;
    loop {
        let (mut conn, reused) = match checkout(&authority) {
            Some(c) => (c, true),
            None => (connect(&authority).await?, false),
        };
        match conn
            .exchange(&head, &body, is_head, max_body, &authority)
            .await
        {
            Ok((resp, reusable)) => {
                if reusable {
                    release(&authority, conn);
                }
                return Ok(resp);
            }
            Err(Exchange::Stale(e)) if reused && idempotent && !retried => {
                tracing::debug!(error = %e, "pooled upstream connection was closed; retrying");
                retried = true;
            }
            Err(Exchange::Stale(e) | Exchange::Failed(e)) => return Err(e),
        }
    }
}

/// The request head in HTTP/1.1 origin form. `Host` is the integration's, `Content-Length` is
/// computed here; hop-by-hop headers were removed by the caller.
fn encode_head(
    method: &Method,
    uri: &http::Uri,
    authority: &Authority,
    headers: &HeaderMap,
    body_len: usize,
) -> Vec<u8> {
    let pq = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = Vec::with_capacity(256 + headers.len() * 32);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(pq.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(authority.as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if name == header::HOST || name == header::CONTENT_LENGTH {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if body_len > 0
        || !matches!(
            *method,
            Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS
        )
    {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body_len.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

enum Exchange {
    /// Nothing was received: the connection may have been closed while idle.
    Stale(UpstreamError),
    Failed(UpstreamError),
}

impl Conn {
    /// Whether the peer has sent anything since the last exchange: on an idle keep-alive
    /// connection that can only be its FIN (or garbage), so the connection must not be reused.
    /// This asks the runtime's readiness state, which epoll already updated, so it costs no
    /// system call; it narrows, but cannot close, the race with a peer closing right now.
    fn looks_closed(&self) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        self.stream.poll_read_ready(&mut cx).is_ready()
    }

    async fn exchange(
        &mut self,
        head: &[u8],
        body: &Bytes,
        is_head: bool,
        max_body: usize,
        authority: &Authority,
    ) -> Result<(UpstreamResponse, bool), Exchange> {
        let io = |e| UpstreamError::Io(authority.to_string(), e);
        // Small bodies go out with the head in one write.
        if body.len() <= 16 * 1024 {
            let mut one = Vec::with_capacity(head.len() + body.len());
            one.extend_from_slice(head);
            one.extend_from_slice(body);
            self.stream
                .write_all(&one)
                .await
                .map_err(|e| Exchange::Stale(io(e)))?;
        } else {
            self.stream
                .write_all(head)
                .await
                .map_err(|e| Exchange::Stale(io(e)))?;
            self.stream
                .write_all(body)
                .await
                .map_err(|e| Exchange::Failed(io(e)))?;
        }

        self.buf.clear();
        // Read until a final (non-1xx) response head parses.
        let (status, headers, keep_alive, head_len) = loop {
            if let Some(parsed) = self.parse_head(authority).map_err(Exchange::Failed)? {
                if (100..200).contains(&parsed.0.as_u16()) {
                    self.buf.advance(parsed.3);
                    continue;
                }
                break parsed;
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(Exchange::Failed(UpstreamError::Protocol(
                    authority.to_string(),
                    "response head too large".into(),
                )));
            }
            let received = self.buf.len();
            let n = self.stream.read_buf(&mut self.buf).await.map_err(|e| {
                if received == 0 {
                    Exchange::Stale(io(e))
                } else {
                    Exchange::Failed(io(e))
                }
            })?;
            if n == 0 {
                let e = UpstreamError::Closed(authority.to_string());
                return Err(if received == 0 {
                    Exchange::Stale(e)
                } else {
                    Exchange::Failed(e)
                });
            }
        };
        self.buf.advance(head_len);

        let fail =
            |m: &str| Exchange::Failed(UpstreamError::Protocol(authority.to_string(), m.into()));
        let no_body =
            is_head || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
        let chunked = headers.get_all(header::TRANSFER_ENCODING).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.to_ascii_lowercase().contains("chunked"))
        });
        let length = headers
            .get(header::CONTENT_LENGTH)
            .map(|v| {
                v.to_str()
                    .ok()
                    .and_then(|s| s.trim().parse::<usize>().ok())
                    .ok_or_else(|| fail("invalid content-length"))
            })
            .transpose()?;

        let (body, reusable) = if no_body {
            (Bytes::new(), keep_alive)
        } else if chunked {
            (self.read_chunked(max_body, authority).await?, keep_alive)
        } else if let Some(len) = length {
            if len > max_body {
                return Err(too_large(authority, max_body));
            }
            while self.buf.len() < len {
                self.fill(authority).await?;
            }
            (self.buf.split_to(len).freeze(), keep_alive)
        } else {
            // Delimited by the end of the connection, which then cannot be reused.
            while self.read_some(authority).await? > 0 {
                if self.buf.len() > max_body {
                    return Err(too_large(authority, max_body));
                }
            }
            (self.buf.split().freeze(), false)
        };
        // Bytes past the response mean a confused peer: do not reuse the connection.
        let reusable = reusable && self.buf.is_empty();
        Ok((
            UpstreamResponse {
                status,
                headers,
                body,
            },
            reusable,
        ))
    }

    /// Parse a response head from the buffer: (status, headers, keep-alive, head length).
    fn parse_head(
        &self,
        authority: &Authority,
    ) -> Result<Option<(StatusCode, HeaderMap, bool, usize)>, UpstreamError> {
        let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut raw);
        let bad = |m: String| UpstreamError::Protocol(authority.to_string(), m);
        let len = match resp.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(bad(e.to_string())),
        };
        let status = resp
            .code
            .and_then(|c| StatusCode::from_u16(c).ok())
            .ok_or_else(|| bad("invalid status code".into()))?;
        let mut keep_alive = resp.version == Some(1);
        let mut headers = HeaderMap::with_capacity(resp.headers.len());
        // One copy of the whole head; every value is a slice of it (instead of one allocation
        // and copy per header value, which `HeaderValue::from_bytes` would make).
        let head = Bytes::copy_from_slice(&self.buf[..len]);
        let base = self.buf.as_ptr() as usize;
        for h in resp.headers.iter() {
            let name = HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| bad(format!("invalid header name {:?}", h.name)))?;
            let start = (h.value.as_ptr() as usize).wrapping_sub(base);
            let value = if h.value.is_empty() || start + h.value.len() > len {
                HeaderValue::from_bytes(h.value)
            } else {
                HeaderValue::from_maybe_shared(head.slice(start..start + h.value.len()))
            }
            .map_err(|_| bad(format!("invalid value for header {}", h.name)))?;
            if name == header::CONNECTION {
                let v = value.as_bytes();
                if v.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if v.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
            headers.append(name, value);
        }
        Ok(Some((status, headers, keep_alive, len)))
    }

    async fn read_chunked(
        &mut self,
        max_body: usize,
        authority: &Authority,
    ) -> Result<Bytes, Exchange> {
        let fail = |m: String| Exchange::Failed(UpstreamError::Protocol(authority.to_string(), m));
        let mut body = BytesMut::new();
        loop {
            // Chunk size line.
            let size = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.buf.advance(used);
                        break usize::try_from(size).map_err(|_| fail("chunk too large".into()))?;
                    }
                    Ok(httparse::Status::Partial) => self.fill(authority).await?,
                    Err(_) => return Err(fail("invalid chunk size".into())),
                }
            };
            if size == 0 {
                // Trailers (ignored) up to the empty line.
                loop {
                    if let Some(pos) = find_crlf(&self.buf) {
                        let line_empty = pos == 0;
                        self.buf.advance(pos + 2);
                        if line_empty {
                            return Ok(body.freeze());
                        }
                    } else {
                        self.fill(authority).await?;
                    }
                }
            }
            if body.len() + size > max_body {
                return Err(too_large(authority, max_body));
            }
            while self.buf.len() < size + 2 {
                self.fill(authority).await?;
            }
            body.extend_from_slice(&self.buf[..size]);
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(fail("chunk not followed by CRLF".into()));
            }
            self.buf.advance(size + 2);
        }
    }

    /// Read what the peer has sent so far into the buffer; 0 means it closed the connection.
    async fn read_some(&mut self, authority: &Authority) -> Result<usize, Exchange> {
        self.stream
            .read_buf(&mut self.buf)
            .await
            .map_err(|e| Exchange::Failed(UpstreamError::Io(authority.to_string(), e)))
    }

    /// Read more of a body whose end is not reached yet; the peer closing now is an error.
    async fn fill(&mut self, authority: &Authority) -> Result<(), Exchange> {
        if self.read_some(authority).await? == 0 {
            return Err(Exchange::Failed(UpstreamError::Protocol(
                authority.to_string(),
                "connection closed in the middle of the body".into(),
            )));
        }
        Ok(())
    }
}

fn too_large(authority: &Authority, max_body: usize) -> Exchange {
    Exchange::Failed(UpstreamError::TooLarge(authority.to_string(), max_body))
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// The most recently used idle connection that does not look closed.
fn checkout(authority: &Authority) -> Option<Conn> {
    loop {
        let conn = IDLE.with(|idle| idle.borrow_mut().get_mut(authority.as_str())?.pop())?;
        if !conn.looks_closed() {
            return Some(conn);
        }
    }
}

fn release(authority: &Authority, conn: Conn) {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        match idle.get_mut(authority.as_str()) {
            Some(list) if list.len() < MAX_IDLE_PER_AUTHORITY => list.push(conn),
            Some(_) => {}
            None => {
                idle.insert(authority.as_str().into(), vec![conn]);
            }
        }
    });
}

async fn connect(authority: &Authority) -> Result<Conn, UpstreamError> {
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
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(Conn {
                    stream,
                    buf: BytesMut::with_capacity(8 * 1024),
                });
            }
            Err(e) => last = e,
        }
    }
    Err(UpstreamError::Connect(authority.to_string(), last))
}
