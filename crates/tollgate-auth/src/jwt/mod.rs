//! The HTTP API JWT authorizer (aws-facts §3.8).
//!
//! [`JwtAuthorizer::authorize`] reads the token from the identity source header, checks its
//! header against the algorithm policy, verifies the signature with the issuer's key for the
//! token's `kid`, then checks `iss`, audience, `exp`/`nbf`/`iat` and the route's scopes — the
//! order AWS documents. What it returns is what AWS hands the integration:
//! `$context.authorizer.claims.*` and payload 2.0's `requestContext.authorizer.jwt`.
//!
//! Keys live in an [`ArcSwap`], so the request path reads them without a lock and, when the
//! key is cached, completes without I/O. Fetching happens in a spawned task: on an unknown
//! `kid` (key rotation) or an empty cache, one refresh is started — at most one per
//! `min_refresh_interval`, shared by every request waiting on it — and a request waits for
//! it at most `fetch_timeout` before it is denied. A stale cache is refreshed in the
//! background while its keys keep serving, and a failed refresh keeps the previous keys, so
//! a slow, dead or garbage JWKS endpoint costs denials at worst, never a stuck gateway.

mod claims;
mod error;
mod fetch;
mod keys;
#[cfg(test)]
mod tests;
mod verified;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName};
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::watch;

pub use error::{FetchError, JwtConfigError, JwtError};
pub use fetch::{FetchFuture, HttpFetcher, JwksFetcher, DEFAULT_MAX_BODY_BYTES};

use keys::{KeyEntry, KeySet};

/// AWS's quotas "JWKS endpoint timeout 1,500 ms" and "Timeout for OpenID Connect discovery
/// endpoint 1500 ms" (aws-facts §2.2, §3.8): each discovery or JWKS fetch gets this long.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_millis(1500);

/// AWS "caches each issuer's signing keys for up to 1 hour on a best-effort basis"
/// (rest-api-jwt-authorizer-keys.md, "Key rotation and caching").
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(3600);

/// Fewest seconds between two JWKS fetches. AWS publishes no number; without a floor, tokens
/// with random `kid`s would turn every request into a fetch against the issuer.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// No clock-skew allowance by default: AWS documents strict comparisons ("`exp` must be after
/// the current time", "`nbf`/`iat` before"), and a gateway that accepts what AWS refuses would
/// not be a faithful stand-in. Raise it when the issuer's clock is known to drift.
pub const DEFAULT_LEEWAY: Duration = Duration::ZERO;

/// What one JWT authorizer checks, and how it fetches keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// Must equal the token's `iss`. Also the base of OpenID discovery,
    /// `{issuer}/.well-known/openid-configuration`, when `jwks_uri` is `None`.
    pub issuer: String,
    /// The token's `aud` (or `client_id` without `aud`) must name one of these.
    pub audiences: Vec<String>,
    /// The identity source `$request.header.NAME`: the header that carries the token.
    pub identity_header: HeaderName,
    /// The JWKS URL; `None` finds it through OpenID discovery, as AWS does.
    pub jwks_uri: Option<String>,
    /// Clock-skew allowance for `exp`, `nbf` and `iat` (default [`DEFAULT_LEEWAY`]).
    pub leeway: Duration,
    /// Limit on each discovery or JWKS fetch, and on how long a request waits for a refresh
    /// (default [`DEFAULT_FETCH_TIMEOUT`]).
    pub fetch_timeout: Duration,
    /// Fewest time between two refreshes (default [`DEFAULT_MIN_REFRESH_INTERVAL`]).
    pub min_refresh_interval: Duration,
    /// Age after which cached keys are refreshed in the background (default
    /// [`DEFAULT_CACHE_TTL`]).
    pub cache_ttl: Duration,
}

impl JwtSettings {
    /// Settings with AWS's defaults: identity source `$request.header.Authorization`, OpenID
    /// discovery, and the `DEFAULT_*` durations of this module.
    pub fn new<A: Into<String>>(
        issuer: impl Into<String>,
        audiences: impl IntoIterator<Item = A>,
    ) -> Self {
        JwtSettings {
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            identity_header: http::header::AUTHORIZATION,
            jwks_uri: None,
            leeway: DEFAULT_LEEWAY,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
            cache_ttl: DEFAULT_CACHE_TTL,
        }
    }

    fn validate(&self) -> Result<(), JwtConfigError> {
        if !is_http_url(&self.issuer) {
            return Err(JwtConfigError::InvalidIssuer(self.issuer.clone()));
        }
        if self.audiences.is_empty() {
            return Err(JwtConfigError::NoAudience);
        }
        if let Some(uri) = &self.jwks_uri {
            if !is_http_url(uri) {
                return Err(JwtConfigError::InvalidJwksUri(uri.clone()));
            }
        }
        for (name, value) in [
            ("fetch_timeout", self.fetch_timeout),
            ("min_refresh_interval", self.min_refresh_interval),
            ("cache_ttl", self.cache_ttl),
        ] {
            if value.is_zero() {
                return Err(JwtConfigError::ZeroDuration(name));
            }
        }
        Ok(())
    }
}

fn is_http_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    (lower.starts_with("http://") && s.len() > 7) || (lower.starts_with("https://") && s.len() > 8)
}

/// Who a valid token says the caller is, in the shape AWS passes to integrations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JwtPrincipal {
    /// Every claim of the token, each value rendered as a string the way AWS does
    /// (`$context.authorizer.claims.NAME`, `requestContext.authorizer.jwt.claims`).
    pub claims: Map<String, Value>,
    /// The token's own scopes from `scope` or `scp`; `None` when it has neither, which AWS
    /// sends as `"scopes": null`.
    pub scopes: Option<Vec<String>>,
    /// The `sub` claim, when it is a string: a convenience for logs and metering.
    #[serde(skip)]
    pub subject: Option<String>,
}

impl JwtPrincipal {
    /// `$context.authorizer.claims.NAME`.
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// Payload format 2.0's `requestContext.authorizer`: `{"jwt":{"claims":…,"scopes":…}}`.
    pub fn request_context_authorizer(&self) -> Value {
        serde_json::json!({ "jwt": { "claims": self.claims, "scopes": self.scopes } })
    }
}

/// An HTTP API JWT authorizer with its key cache. Cloning is cheap and shares the cache.
#[derive(Clone)]
pub struct JwtAuthorizer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JwtAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuthorizer")
            .field("settings", &self.inner.settings)
            .field("cached_keys", &self.cached_keys())
            .finish_non_exhaustive()
    }
}

struct Inner {
    settings: JwtSettings,
    fetcher: Arc<dyn JwksFetcher>,
    /// The current key set; replaced whole by each successful refresh.
    keys: ArcSwap<KeySet>,
    refresh: Mutex<RefreshState>,
    /// Bumped when a refresh ends (success or failure); waiting requests watch it.
    done: watch::Sender<u64>,
    /// One prebuilt `Validation` per allowed algorithm (index of `keys::ALLOWED`), so the
    /// request path builds none. Every claim check is ours (AWS's rules differ from the
    /// library's: `client_id`, `iat`), so the library only verifies the signature.
    validations: Vec<Validation>,
}

#[derive(Default)]
struct RefreshState {
    in_flight: bool,
    last_started: Option<Instant>,
    /// Whether the latest refresh failed, to tell "JWKS unavailable" from "unknown kid".
    last_failed: bool,
    /// `jwks_uri` from OpenID discovery, reused until a JWKS fetch fails.
    discovered_jwks_uri: Option<String>,
}

/// The token header fields the authorizer reads before trusting anything else.
struct TokenHeader {
    alg: Algorithm,
    kid: String,
}

impl JwtAuthorizer {
    /// An authorizer that fetches keys with `fetcher`. Nothing is fetched until the first
    /// request or [`JwtAuthorizer::prefetch`].
    pub fn new(
        settings: JwtSettings,
        fetcher: Arc<dyn JwksFetcher>,
    ) -> Result<Self, JwtConfigError> {
        settings.validate()?;
        // jsonwebtoken picks its crypto backend from its features; installing ours explicitly
        // keeps a second backend enabled elsewhere in the build from turning verification into
        // a panic. An `Err` only means a provider is installed already.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        let validations = keys::ALLOWED
            .iter()
            .map(|alg| signature_only(*alg))
            .collect();
        let (done, _) = watch::channel(0);
        Ok(JwtAuthorizer {
            inner: Arc::new(Inner {
                settings,
                fetcher,
                keys: ArcSwap::from_pointee(KeySet::empty()),
                refresh: Mutex::new(RefreshState::default()),
                done,
                validations,
            }),
        })
    }

    /// An authorizer with the default [`HttpFetcher`].
    pub fn with_http(settings: JwtSettings) -> Result<Self, JwtConfigError> {
        let fetcher = HttpFetcher::new().map_err(|e| JwtConfigError::HttpClient(e.to_string()))?;
        JwtAuthorizer::new(settings, Arc::new(fetcher))
    }

    /// The settings this authorizer was built with.
    pub fn settings(&self) -> &JwtSettings {
        &self.inner.settings
    }

    /// How many usable keys are cached.
    pub fn cached_keys(&self) -> usize {
        self.inner.keys.load().keys.len()
    }

    /// Fetches the keys now and waits for them, as AWS does when an authorizer is created.
    ///
    /// Meant for startup and reloads, so it ignores the refresh rate limit (but joins a
    /// refresh already running). Returns how many keys are cached, or
    /// [`JwtError::KeysUnavailable`] when the fetch failed or took longer than discovery plus
    /// one JWKS fetch may. Requests keep working either way; they retry on their own.
    pub async fn prefetch(&self) -> Result<usize, JwtError> {
        let mut rx = self
            .inner
            .start_refresh(true)
            .ok_or(JwtError::KeysUnavailable)?;
        let limit = self.inner.settings.fetch_timeout * 2 + Duration::from_millis(100);
        if tokio::time::timeout(limit, rx.changed()).await.is_err() {
            return Err(JwtError::KeysUnavailable);
        }
        if self.inner.state().last_failed {
            return Err(JwtError::KeysUnavailable);
        }
        Ok(self.cached_keys())
    }

    /// Authorizes one request for a route that requires `route_scopes` (empty: any valid
    /// token).
    ///
    /// With the token's key cached this runs without I/O and is ready on its first poll. A
    /// missing key starts (or joins) a refresh and waits for it at most `fetch_timeout`.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        route_scopes: &[String],
    ) -> Result<Arc<JwtPrincipal>, JwtError> {
        let inner = &self.inner;
        let token = extract_token(headers, &inner.settings.identity_header)?;
        // A token this thread verified with the current keys: only the per-request checks.
        let owner = Arc::as_ptr(inner) as usize;
        // The keys as they are before verifying: an entry is recorded against these, so a
        // refresh during verification can only cost a miss, never a stale hit.
        let keys_now = inner.keys.load();
        if let Some(v) = verified::get(owner, &keys_now, token) {
            let settings = &inner.settings;
            claims::check(
                &v.claims,
                &settings.issuer,
                &settings.audiences,
                unix_now(),
                settings.leeway,
            )?;
            claims::check_scopes(v.principal.scopes.as_deref(), route_scopes)?;
            return Ok(Arc::clone(&v.principal));
        }
        let header = parse_header(token)?;
        let claims = match inner.verify_cached(token, &header) {
            Some(verified) => verified?,
            None => {
                inner.wait_for_refresh().await?;
                match inner.verify_cached(token, &header) {
                    Some(verified) => verified?,
                    None if inner.state().last_failed => return Err(JwtError::KeysUnavailable),
                    None => return Err(JwtError::UnknownKeyId),
                }
            }
        };
        let settings = &inner.settings;
        claims::check(
            &claims,
            &settings.issuer,
            &settings.audiences,
            unix_now(),
            settings.leeway,
        )?;
        let scopes = claims::token_scopes(&claims);
        claims::check_scopes(scopes.as_deref(), route_scopes)?;
        let subject = match claims.get("sub") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let principal = Arc::new(JwtPrincipal {
            claims: claims::render(claims.clone()),
            scopes,
            subject,
        });
        verified::put(
            owner,
            &keys_now,
            token,
            Arc::new(verified::Verified {
                claims,
                principal: Arc::clone(&principal),
            }),
        );
        Ok(principal)
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, RefreshState> {
        // The lock only guards plain fields, so a panic elsewhere cannot leave them
        // inconsistent; recovering keeps one panic from denying every later request.
        self.refresh.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Verifies against the cached key for the token's `kid`; `None` when there is none.
    fn verify_cached(
        self: &Arc<Self>,
        token: &str,
        header: &TokenHeader,
    ) -> Option<Result<Map<String, Value>, JwtError>> {
        let set = self.keys.load();
        let entry = set.keys.get(&header.kid)?;
        if set
            .fetched_at
            .is_some_and(|at| at.elapsed() >= self.settings.cache_ttl)
        {
            // Stale: keep serving these keys and refresh behind the request.
            let _ = self.start_refresh(false);
        }
        Some(self.verify(entry, token, header.alg))
    }

    fn verify(
        &self,
        entry: &KeyEntry,
        token: &str,
        alg: Algorithm,
    ) -> Result<Map<String, Value>, JwtError> {
        if !entry.algs.contains(alg) {
            return Err(JwtError::KeyAlgorithmMismatch);
        }
        let validation = keys::alg_index(alg)
            .and_then(|i| self.validations.get(i))
            .ok_or(JwtError::UnsupportedAlgorithm)?;
        jsonwebtoken::decode::<Map<String, Value>>(token, &entry.key, validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::InvalidSignature => JwtError::InvalidSignature,
                    ErrorKind::InvalidAlgorithm
                    | ErrorKind::InvalidAlgorithmName
                    | ErrorKind::InvalidKeyFormat
                    | ErrorKind::InvalidEcdsaKey
                    | ErrorKind::InvalidRsaKey(_) => JwtError::KeyAlgorithmMismatch,
                    _ => JwtError::MalformedToken,
                }
            })
    }

    /// Starts or joins a refresh and waits for it, at most `fetch_timeout`. Returns at once
    /// when the rate limit forbids a new refresh; the caller then re-checks the cache.
    async fn wait_for_refresh(self: &Arc<Self>) -> Result<(), JwtError> {
        if tokio::runtime::Handle::try_current().is_err() {
            // Nothing to run a fetch on (not inside tokio): deny rather than panic.
            return Err(JwtError::KeysUnavailable);
        }
        let Some(mut rx) = self.start_refresh(false) else {
            return Ok(());
        };
        match tokio::time::timeout(self.settings.fetch_timeout, rx.changed()).await {
            Ok(_) => Ok(()),
            Err(_) => Err(JwtError::KeysUnavailable),
        }
    }

    /// Starts a refresh unless one is running (then joins it) or the last one started less
    /// than `min_refresh_interval` ago (then returns `None`; `force` skips this check). The
    /// receiver sees a change when the refresh ends.
    fn start_refresh(self: &Arc<Self>, force: bool) -> Option<watch::Receiver<u64>> {
        // Without a tokio runtime there is nothing to run the fetch on: deny rather than panic.
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let mut state = self.state();
        if state.in_flight {
            return Some(self.done.subscribe());
        }
        let now = Instant::now();
        if !force
            && state
                .last_started
                .is_some_and(|at| now.duration_since(at) < self.settings.min_refresh_interval)
        {
            return None;
        }
        state.in_flight = true;
        state.last_started = Some(now);
        // Subscribed under the lock, so the end of this refresh cannot be missed.
        let rx = self.done.subscribe();
        drop(state);
        let guard = RefreshGuard {
            inner: Arc::clone(self),
            ok: false,
        };
        runtime.spawn(run_refresh(guard));
        Some(rx)
    }

    async fn fetch(&self, url: &str) -> Result<Bytes, FetchError> {
        let limit = self.settings.fetch_timeout;
        match tokio::time::timeout(limit, self.fetcher.fetch(url)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(limit)),
        }
    }

    /// OpenID discovery: `{issuer}/.well-known/openid-configuration` → `jwks_uri`.
    async fn discover(&self) -> Result<String, FetchError> {
        #[derive(Deserialize)]
        struct Discovery {
            jwks_uri: String,
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let body = self.fetch(&url).await?;
        let doc: Discovery =
            serde_json::from_slice(&body).map_err(|e| FetchError::InvalidDocument {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        if !is_http_url(&doc.jwks_uri) {
            return Err(FetchError::InvalidDocument {
                url,
                reason: format!("jwks_uri `{}` is not an http(s) URL", doc.jwks_uri),
            });
        }
        Ok(doc.jwks_uri)
    }

    async fn load_key_set(&self) -> Result<KeySet, FetchError> {
        let uri = match &self.settings.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let known = self.state().discovered_jwks_uri.clone();
                match known {
                    Some(uri) => uri,
                    None => {
                        let uri = self.discover().await?;
                        self.state().discovered_jwks_uri = Some(uri.clone());
                        uri
                    }
                }
            }
        };
        let parsed = match self.fetch(&uri).await {
            Ok(body) => {
                KeySet::parse(&body, Instant::now()).map_err(|reason| FetchError::InvalidDocument {
                    url: uri.clone(),
                    reason,
                })
            }
            Err(e) => Err(e),
        };
        if parsed.is_err() {
            // The issuer may have moved its JWKS: discover again next time.
            self.state().discovered_jwks_uri = None;
        }
        parsed
    }
}

/// Ends a refresh when dropped — normally, by panic or by runtime shutdown alike — so a
/// refresh can never stay "in flight" forever and block all later ones.
struct RefreshGuard {
    inner: Arc<Inner>,
    ok: bool,
}

impl Drop for RefreshGuard {
    fn drop(&mut self) {
        {
            let mut state = self.inner.state();
            state.in_flight = false;
            state.last_failed = !self.ok;
        }
        self.inner.done.send_modify(|n| *n = n.wrapping_add(1));
    }
}

async fn run_refresh(mut guard: RefreshGuard) {
    let inner = Arc::clone(&guard.inner);
    match inner.load_key_set().await {
        Ok(set) => {
            tracing::debug!(
                issuer = %inner.settings.issuer,
                keys = set.keys.len(),
                "JWKS refreshed"
            );
            inner.keys.store(Arc::new(set));
            guard.ok = true;
        }
        Err(e) => {
            tracing::warn!(
                issuer = %inner.settings.issuer,
                error = %e,
                "JWKS refresh failed; keeping the previous keys"
            );
        }
    }
}

/// A `Validation` that lets the library check the signature and nothing else.
fn signature_only(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.leeway = 0;
    v
}

/// The token from the identity source header: `Bearer <token>` (any case) or the raw token.
fn extract_token<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<&'h str, JwtError> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(JwtError::MissingToken)?;
    if values.next().is_some() {
        return Err(JwtError::AmbiguousToken);
    }
    let value = value.to_str().map_err(|_| JwtError::MalformedToken)?.trim();
    let token = match value.split_once([' ', '\t']) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim_start(),
        None if value.eq_ignore_ascii_case("bearer") => "",
        _ => value,
    };
    if token.is_empty() {
        return Err(JwtError::MissingToken);
    }
    let jws_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if !token.bytes().all(jws_char) {
        return Err(JwtError::MalformedToken);
    }
    Ok(token)
}

/// Reads `alg` and `kid` from a compact JWS, before any key is looked at.
fn parse_header(token: &str) -> Result<TokenHeader, JwtError> {
    #[derive(Deserialize)]
    struct RawHeader {
        alg: String,
        #[serde(default)]
        kid: Option<String>,
        #[serde(default)]
        crit: Option<serde::de::IgnoredAny>,
    }
    if token.bytes().filter(|b| *b == b'.').count() != 2 {
        return Err(JwtError::MalformedToken);
    }
    let encoded = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| JwtError::MalformedToken)?;
    let raw: RawHeader = serde_json::from_slice(&bytes).map_err(|_| JwtError::MalformedToken)?;
    // `crit` lists extensions the verifier must understand (RFC 7515 §4.1.11); we support
    // none, so such a token (e.g. an unencoded `b64: false` payload) is refused.
    if raw.crit.is_some() {
        return Err(JwtError::MalformedToken);
    }
    let alg = keys::allowed_from_header(&raw.alg).ok_or(JwtError::UnsupportedAlgorithm)?;
    let kid = raw
        .kid
        .filter(|k| !k.is_empty())
        .ok_or(JwtError::MissingKeyId)?;
    Ok(TokenHeader { alg, kid })
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
