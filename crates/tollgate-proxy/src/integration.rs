//! Integrations: HTTP proxy, mock, and Lambda-style proxy over the Lambda Invoke API.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::Full;

use crate::errors::GatewayError;
use crate::upstream;

/// Largest integration response the gateway buffers (AWS: 10 MB payload).
pub const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// What an integration answered, buffered.
pub struct IntegrationResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why an integration produced no usable answer.
#[derive(Debug)]
pub struct IntegrationFailure {
    pub kind: GatewayError,
    /// `$context.integrationErrorMessage`.
    pub message: Cow<'static, str>,
    /// The integration's own status, when it answered.
    pub status: Option<u16>,
}

impl IntegrationFailure {
    pub fn new(kind: GatewayError, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
        }
    }
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) are never forwarded, in either direction.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Collect what is present in one pass of cheap comparisons, then remove only that: most
    // header sets carry nothing hop-by-hop but `Connection: keep-alive`, and hashed removals of
    // every possible name showed up in the profile.
    let mut doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_hop_by_hop(n))
        .cloned()
        .collect();
    if doomed.is_empty() {
        return;
    }
    // Headers named in `Connection` are hop-by-hop too; `keep-alive` and `close` name nothing
    // else.
    doomed.extend(
        headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|n| !n.eq_ignore_ascii_case("keep-alive") && !n.eq_ignore_ascii_case("close"))
            .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok()),
    );
    for n in doomed {
        headers.remove(n);
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::PROXY_AUTHENTICATE
        || name == header::PROXY_AUTHORIZATION
        || name == header::TE
        || name == header::TRAILER
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

/// Send `req` and buffer the answer, all within `timeout`.
pub async fn send(
    req: Request<Bytes>,
    timeout: Duration,
) -> Result<IntegrationResponse, IntegrationFailure> {
    match tokio::time::timeout(timeout, upstream::send(req, MAX_RESPONSE_BYTES)).await {
        Ok(Ok(r)) => Ok(IntegrationResponse {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }),
        Ok(Err(e)) => Err(IntegrationFailure::new(
            GatewayError::IntegrationFailure,
            format!("Could not reach the integration: {}", error_chain(&e)),
        )),
        Err(_) => Err(IntegrationFailure::new(
            GatewayError::IntegrationTimeout,
            "Integration timed out",
        )),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Join an integration URI (in place) with the path a `$default` route received, keeping the
/// URI's own query string at the end.
pub fn append_path(uri: &mut String, path: &str) {
    let query = uri.find('?').map(|i| uri.split_off(i));
    // `http://host:port` has no path: the request path becomes the whole path.
    while uri.ends_with('/') {
        uri.pop();
    }
    if !path.starts_with('/') {
        uri.push('/');
    }
    uri.push_str(path);
    if let Some(q) = query {
        uri.push_str(&q);
    }
}

/// Add a query string to a URI text that may already have one.
pub fn with_query(mut uri: String, query: &str) -> String {
    if !query.is_empty() {
        uri.push(if uri.contains('?') { '&' } else { '?' });
        uri.push_str(query);
    }
    uri
}

/// Invoke a function through the Lambda Invoke API and read its proxy answer with `parse`: a
/// function error, an Invoke status other than 200 or an unreadable answer is a 500
/// `LambdaFailure` (aws-facts §3.5).
pub async fn invoke_lambda(
    req: Request<Bytes>,
    timeout: Duration,
    parse: fn(&[u8]) -> Result<crate::lambda::LambdaHttpResponse, crate::lambda::MalformedResponse>,
) -> Result<IntegrationResponse, IntegrationFailure> {
    let out = send(req, timeout).await?;
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
    match parse(&out.body) {
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

/// Build the request to the Lambda Invoke API of `endpoint` for `function`.
pub fn lambda_request(endpoint: &str, function: &str, event: Vec<u8>) -> Option<Request<Bytes>> {
    let encoded =
        percent_encoding::utf8_percent_encode(function, percent_encoding::NON_ALPHANUMERIC);
    let uri: Uri = format!("{endpoint}/2015-03-31/functions/{encoded}/invocations")
        .parse()
        .ok()?;
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-amz-invocation-type", "RequestResponse")
        .body(Bytes::from(event))
        .ok()
}

/// A response with a JSON error body in AWS's shape.
pub fn error_response(err: GatewayError) -> Response<Full<Bytes>> {
    json_error(err.status(), err.error_type(), err.body())
}

/// A JSON error answer with AWS's `x-amzn-ErrorType` header (also for answers whose body is
/// not fixed, such as SigV4's).
pub fn json_error(
    status: StatusCode,
    error_type: HeaderValue,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert("x-amzn-errortype", error_type);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_path_joins_cleanly() {
        let joined = |base: &str, path| {
            let mut s = base.to_string();
            append_path(&mut s, path);
            s
        };
        assert_eq!(joined("http://h:1", "/a/b"), "http://h:1/a/b");
        assert_eq!(joined("http://h:1/", "/a"), "http://h:1/a");
        assert_eq!(joined("http://h/base", "/a"), "http://h/base/a");
        assert_eq!(joined("http://h/base?x=1", "/a"), "http://h/base/a?x=1");
    }

    #[test]
    fn query_is_merged() {
        assert_eq!(with_query("http://h/a".into(), "b=1"), "http://h/a?b=1");
        assert_eq!(
            with_query("http://h/a?x=1".into(), "b=1"),
            "http://h/a?x=1&b=1"
        );
        assert_eq!(with_query("http://h/a".into(), ""), "http://h/a");
    }

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }
}
