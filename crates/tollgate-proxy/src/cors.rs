//! HTTP API CORS (aws-facts.md §3.7): preflight requests are answered by the gateway, and the
//! configured headers are added to integration responses, replacing any the backend sent.

use http::header::{self, HeaderMap, HeaderValue};
use http::Method;
use tollgate_config::model::Cors;

/// CORS settings with header values rendered once.
#[derive(Debug)]
pub struct CorsPolicy {
    any_origin: bool,
    origins: Vec<String>,
    credentials: bool,
    allow_methods: Option<HeaderValue>,
    allow_headers: Option<HeaderValue>,
    allow_any_header: bool,
    expose_headers: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
}

fn list(items: &[String]) -> Option<HeaderValue> {
    if items.is_empty() {
        return None;
    }
    HeaderValue::try_from(items.join(",")).ok()
}

impl CorsPolicy {
    pub fn new(c: &Cors) -> Self {
        Self {
            any_origin: c.allow_origins.iter().any(|o| o == "*"),
            origins: c
                .allow_origins
                .iter()
                .map(|o| o.to_ascii_lowercase())
                .collect(),
            credentials: c.allow_credentials,
            allow_methods: list(&c.allow_methods),
            allow_headers: list(&c.allow_headers),
            allow_any_header: c.allow_headers.iter().any(|h| h == "*"),
            expose_headers: list(&c.expose_headers),
            max_age: c.max_age.map(HeaderValue::from),
        }
    }

    /// Is this a preflight request (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)?
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed.
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        if self.any_origin && !self.credentials {
            return Some(HeaderValue::from_static("*"));
        }
        let o = origin.to_str().ok()?.to_ascii_lowercase();
        (self.any_origin || self.origins.contains(&o)).then(|| origin.clone())
    }

    /// Headers for a preflight answer (status 204). An origin that is not allowed gets none.
    pub fn preflight(&self, req_headers: &HeaderMap, out: &mut HeaderMap) {
        let Some(origin) = req_headers.get(header::ORIGIN) else {
            return;
        };
        let Some(allow) = self.allow_origin(origin) else {
            return;
        };
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        if let Some(m) = &self.allow_methods {
            out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, m.clone());
        }
        let requested = req_headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS);
        match (&self.allow_headers, requested) {
            (Some(_), Some(r)) if self.allow_any_header => {
                out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, r.clone());
            }
            (Some(h), _) => {
                out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, h.clone());
            }
            (None, _) => {}
        }
        if let Some(a) = &self.max_age {
            out.insert(header::ACCESS_CONTROL_MAX_AGE, a.clone());
        }
        if self.credentials {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        out.append(header::VARY, HeaderValue::from_static("Origin"));
    }

    /// Replace the backend's CORS headers with the configured ones on an actual response.
    /// `origin` is the request's `Origin` header.
    pub fn apply(&self, origin: Option<&HeaderValue>, out: &mut HeaderMap) {
        strip_cors(out);
        let Some(origin) = origin else {
            return;
        };
        let Some(allow) = self.allow_origin(origin) else {
            return;
        };
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        if let Some(e) = &self.expose_headers {
            out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, e.clone());
        }
        if self.credentials {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        out.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// "API Gateway ignores CORS headers returned from your backend integration" (§3.7).
fn strip_cors(h: &mut HeaderMap) {
    for name in [
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        header::ACCESS_CONTROL_ALLOW_METHODS,
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        header::ACCESS_CONTROL_MAX_AGE,
    ] {
        h.remove(name);
    }
}
