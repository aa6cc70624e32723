//! Calling the authorizer function through the Lambda Invoke API.
//!
//! `POST {endpoint}/2015-03-31/functions/{function}/invocations` with
//! `X-Amz-Invocation-Type: RequestResponse`, the convention tollgate's Lambda proxy
//! integration uses too. The client is built like the JWKS fetcher's ([`crate::HttpFetcher`]):
//! hyper's pooled client, rustls with the aws-lc-rs provider chosen explicitly and the
//! Mozilla roots, so `https://` endpoints work the same on every machine. It is a separate
//! client because the fetcher only GETs.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::error::{FunctionFailure, RequestAuthConfigError};

/// Header by which Lambda reports that the function raised an error (the body is then the
/// error payload, not the function's result).
const FUNCTION_ERROR: &str = "x-amz-function-error";

pub(super) struct Invoker {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    max_body_bytes: usize,
}

impl Invoker {
    pub(super) fn new(
        endpoint: &str,
        function: &str,
        max_body_bytes: usize,
    ) -> Result<Self, RequestAuthConfigError> {
        let base = endpoint.trim_end_matches('/');
        let encoded =
            percent_encoding::utf8_percent_encode(function, percent_encoding::NON_ALPHANUMERIC);
        let uri: Uri = format!("{base}/2015-03-31/functions/{encoded}/invocations")
            .parse()
            .map_err(|_| RequestAuthConfigError::InvalidEndpoint(endpoint.to_owned()))?;
        match uri.scheme_str() {
            Some("http") | Some("https") if uri.host().is_some() => {}
            _ => return Err(RequestAuthConfigError::InvalidEndpoint(endpoint.to_owned())),
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| RequestAuthConfigError::HttpClient(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Invoker {
            client,
            uri,
            max_body_bytes,
        })
    }

    pub(super) fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Invokes the function with `event` and returns its output, or why there is none.
    /// Everything — connecting, waiting for the answer and reading its body — must fit in
    /// `timeout`.
    pub(super) async fn invoke(
        &self,
        event: Vec<u8>,
        timeout: Duration,
    ) -> Result<Bytes, FunctionFailure> {
        match tokio::time::timeout(timeout, self.call(event)).await {
            Ok(result) => result,
            Err(_) => Err(FunctionFailure::Timeout(timeout)),
        }
    }

    async fn call(&self, event: Vec<u8>) -> Result<Bytes, FunctionFailure> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, "tollgate")
            .header("x-amz-invocation-type", "RequestResponse")
            .body(Full::new(Bytes::from(event)))
            .map_err(|e| FunctionFailure::Unreachable(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| FunctionFailure::Unreachable(error_chain(&e)))?;
        if response.status() != StatusCode::OK {
            return Err(FunctionFailure::Status(response.status().as_u16()));
        }
        if let Some(kind) = response.headers().get(FUNCTION_ERROR) {
            let kind = String::from_utf8_lossy(kind.as_bytes()).into_owned();
            return Err(FunctionFailure::FunctionError(kind));
        }
        let max = self.max_body_bytes;
        let body = Limited::new(response.into_body(), max)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FunctionFailure::ResponseTooLarge(max)
                } else {
                    FunctionFailure::Unreachable(format!("reading the response failed: {e}"))
                }
            })?;
        Ok(body.to_bytes())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}
