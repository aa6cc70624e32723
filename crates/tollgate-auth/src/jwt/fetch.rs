//! Fetching discovery documents and JWKS over HTTP.
//!
//! The authorizer only sees the [`JwksFetcher`] trait, so tests and embedders can swap the
//! transport; [`HttpFetcher`] is the default, a pooled hyper client for `http://` and
//! `https://` (rustls with the Mozilla roots from `webpki-roots`, so it works the same on any
//! machine without reading the system store).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::error::FetchError;

/// The future a [`JwksFetcher`] returns.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Bytes, FetchError>> + Send + 'a>>;

/// Fetches the body of a URL (a discovery document or a JWKS).
///
/// Implementations need not enforce a timeout: the authorizer wraps every call in its own
/// `fetch_timeout` and drops the future when it expires.
pub trait JwksFetcher: Send + Sync + 'static {
    /// GET `url` and return the body of a 200 answer; any other outcome is an error.
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a>;
}

/// Largest discovery document or JWKS accepted: AWS's quota "JWKS endpoint … max response
/// 150,000 bytes" (aws-facts §2.2). Besides matching AWS, the cap keeps a broken or hostile
/// issuer from making the gateway buffer an unbounded body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 150_000;

/// The default [`JwksFetcher`]: HTTP/1.1 over hyper's pooled client, TLS by rustls.
#[derive(Clone)]
pub struct HttpFetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    max_body_bytes: usize,
}

impl std::fmt::Debug for HttpFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpFetcher")
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl HttpFetcher {
    /// A fetcher for `http://` and `https://` URLs.
    ///
    /// The rustls provider is chosen explicitly (aws-lc-rs, the backend jsonwebtoken uses too)
    /// rather than from the process default, so another crate enabling a second rustls backend
    /// cannot make this panic at runtime.
    pub fn new() -> Result<Self, FetchError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| FetchError::Request(Box::new(e)))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(HttpFetcher {
            client,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        })
    }

    /// Changes the body size cap (default [`DEFAULT_MAX_BODY_BYTES`]).
    pub fn with_max_body_bytes(mut self, max_body_bytes: usize) -> Self {
        self.max_body_bytes = max_body_bytes;
        self
    }

    async fn get(&self, url: &str) -> Result<Bytes, FetchError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|_| FetchError::InvalidUrl(url.to_owned()))?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            _ => return Err(FetchError::UnsupportedScheme(url.to_owned())),
        }
        let request = http::Request::get(uri)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, "tollgate")
            .body(Empty::<Bytes>::new())
            .map_err(|e| FetchError::Request(Box::new(e)))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| FetchError::Request(Box::new(e)))?;
        if response.status() != http::StatusCode::OK {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let max = self.max_body_bytes;
        let body = Limited::new(response.into_body(), max)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FetchError::TooLarge(max)
                } else {
                    FetchError::Body(e)
                }
            })?;
        Ok(body.to_bytes())
    }
}

impl JwksFetcher for HttpFetcher {
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(self.get(url))
    }
}
