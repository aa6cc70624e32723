//! The dashboard at the admin listener's `/` (docs/dashboard.md): one HTML page, one script,
//! one style sheet and the vendored Chart.js, all built into the binary, so it works with no
//! internet access and nothing to install or build.
//!
//! The page holds no data: every number comes from the `/admin/*` JSON API, which keeps its
//! token check. So the page and its assets are served without the token (a browser cannot
//! send a header when it follows a link); the page passes `?token=` on to the API as a
//! Bearer header.
//!
//! Caching: the vendored library has its version in its name and is cached for a year
//! (`immutable`); the page, script and style sheet are revalidated on every load
//! (`no-cache`) against an ETag computed at compile time from their bytes, so a new binary
//! is seen at once and an unchanged one costs a `304`.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;

/// Chart.js's version, as in the vendored file's name (assets/vendor/README.md).
pub const CHART_JS_VERSION: &str = "4.5.1";

/// One file the dashboard serves.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// A strong ETag (`"…"`) from the bytes, computed at compile time.
    etag: &'static str,
    cache_control: &'static str,
}

/// Revalidate every time (cheap with the ETag): the page, script and styles change with the
/// binary.
const REVALIDATE: &str = "no-cache";
/// Versioned names never change content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// FNV-1a, 64 bits: a fingerprint for ETags (not security), computable in a `const`.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// `"` + 16 lowercase hex digits + `"`.
const fn etag_bytes(bytes: &[u8]) -> [u8; 18] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let h = fnv1a(bytes);
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = HEX[((h >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:literal, $cache:expr) => {{
        const BODY: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $file));
        const ETAG: [u8; 18] = etag_bytes(BODY);
        const ETAG_STR: &str = match std::str::from_utf8(&ETAG) {
            Ok(s) => s,
            Err(_) => panic!("an ETag is ASCII"),
        };
        Asset {
            path: $path,
            content_type: $type,
            body: BODY,
            etag: ETAG_STR,
            cache_control: $cache,
        }
    }};
}

const ASSETS: &[Asset] = &[
    asset!("/", "index.html", "text/html; charset=utf-8", REVALIDATE),
    asset!(
        "/assets/app.js",
        "app.js",
        "text/javascript; charset=utf-8",
        REVALIDATE
    ),
    asset!(
        "/assets/app.css",
        "app.css",
        "text/css; charset=utf-8",
        REVALIDATE
    ),
    // Vendored rather than fetched from a CDN: the admin listener must work offline and
    // `cargo build` must not need npm (assets/vendor/README.md).
    asset!(
        "/assets/vendor/chart-4.5.1.umd.min.js",
        "vendor/chart-4.5.1.umd.min.js",
        "text/javascript; charset=utf-8",
        IMMUTABLE
    ),
    asset!(
        "/assets/vendor/chart.js-LICENSE.md",
        "vendor/chart.js-LICENSE.md",
        "text/plain; charset=utf-8",
        REVALIDATE
    ),
];

/// What the page may load: only itself. The API is same-origin; no inline script or style.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The answer for a dashboard file, or `None` when `path` is not one. `GET` and `HEAD` only;
/// `If-None-Match` with the current ETag gets `304 Not Modified`.
pub fn respond(method: &Method, path: &str, headers: &HeaderMap) -> Option<Response<Full<Bytes>>> {
    let asset = ASSETS.iter().find(|a| a.path == path)?;
    let mut h = HeaderMap::new();
    let answer = |status: StatusCode, h: HeaderMap, body: Bytes| {
        let mut r = Response::new(Full::new(body));
        *r.status_mut() = status;
        *r.headers_mut() = h;
        Some(r)
    };
    if method != Method::GET && method != Method::HEAD {
        h.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return answer(StatusCode::METHOD_NOT_ALLOWED, h, Bytes::new());
    }
    h.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(asset.cache_control),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.path == "/" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == asset.etag || t == "*");
    if fresh {
        return answer(StatusCode::NOT_MODIFIED, h, Bytes::new());
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(asset.body.len()));
    let body = if method == Method::GET {
        Bytes::from_static(asset.body)
    } else {
        Bytes::new()
    };
    answer(StatusCode::OK, h, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn get(path: &str, headers: &HeaderMap) -> Option<Response<Full<Bytes>>> {
        respond(&Method::GET, path, headers)
    }

    async fn body(r: Response<Full<Bytes>>) -> Bytes {
        match r.into_body().collect().await {
            Ok(c) => c.to_bytes(),
            Err(never) => match never {},
        }
    }

    #[tokio::test]
    async fn serves_the_page_and_its_assets() {
        let none = HeaderMap::new();
        let page = get("/", &none).expect("the page");
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(
            page.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let html = String::from_utf8(body(page).await.to_vec()).expect("utf-8");
        // Every file the page names is served, and the library's version matches.
        for path in [
            "/assets/app.js",
            "/assets/app.css",
            "/assets/vendor/chart-4.5.1.umd.min.js",
        ] {
            assert!(html.contains(path), "{path} in index.html");
            let r = get(path, &none).expect(path);
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert!(!body(r).await.is_empty(), "{path}");
        }
        assert!(html.contains(CHART_JS_VERSION));
        let lib = get("/assets/vendor/chart-4.5.1.umd.min.js", &none).expect("lib");
        assert_eq!(
            lib.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert!(lib.headers()[header::CACHE_CONTROL]
            .to_str()
            .is_ok_and(|v| v.contains("immutable")));
        assert!(get("/assets/nope.js", &none).is_none());
        assert!(get("/admin/cost", &none).is_none());
    }

    #[tokio::test]
    async fn etags_revalidate() {
        let none = HeaderMap::new();
        let first = get("/assets/app.js", &none).expect("app.js");
        let etag = first.headers()[header::ETAG].clone();
        assert_eq!(etag.len(), 18);
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag);
        let r = get("/assets/app.js", &again).expect("app.js");
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert!(body(r).await.is_empty());
        let mut stale = HeaderMap::new();
        stale.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"0\""));
        assert_eq!(
            get("/assets/app.js", &stale).map(|r| r.status()),
            Some(StatusCode::OK)
        );
    }

    #[tokio::test]
    async fn head_and_other_methods() {
        let none = HeaderMap::new();
        let head = respond(&Method::HEAD, "/", &none).expect("HEAD /");
        assert_eq!(head.status(), StatusCode::OK);
        assert!(head.headers().contains_key(header::CONTENT_LENGTH));
        assert!(body(head).await.is_empty());
        let post = respond(&Method::POST, "/", &none).expect("POST /");
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn fingerprints_differ() {
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        assert_eq!(&etag_bytes(b""), b"\"cbf29ce484222325\"");
    }
}
