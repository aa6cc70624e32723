//! Errors of the JWT authorizer, and how each one is answered to the client.
//!
//! Every denial is a [`JwtError`]; the proxy turns it into a response with [`JwtError::status`],
//! [`JwtError::body`] and [`JwtError::www_authenticate`], so the AWS wording lives in one place.

use http::StatusCode;

/// Why a request was denied.
///
/// The `Display` text (also [`JwtError::description`]) is the `error_description` sent in
/// `www-authenticate` and is meant for `$context.authorizer.error` in access logs. AWS publishes
/// exactly one of these texts, "the token does not have a valid audience"
/// (http-api-troubleshooting-jwt.md); the others follow its wording but are ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The identity source header is absent, or carries `Bearer` and nothing else.
    #[error("no token in the identity source")]
    MissingToken,
    /// The identity source header appears more than once. Picking one would let a proxy in
    /// front of us and the gateway disagree on which token was checked, so neither is used.
    #[error("the request carries more than one token")]
    AmbiguousToken,
    /// Not a compact JWS: wrong number of parts, bad base64url, bad JSON, or a `crit` header.
    #[error("the token is malformed")]
    MalformedToken,
    /// `alg` is `none`, an HMAC algorithm, or anything else outside the allowed list.
    #[error("the token is signed with an unsupported algorithm")]
    UnsupportedAlgorithm,
    /// The header has no `kid`; AWS requires one that matches a JWKS key.
    #[error("the token has no key id")]
    MissingKeyId,
    /// No JWKS key has the token's `kid`, even after refreshing the key set.
    #[error("no signing key matches the token's key id")]
    UnknownKeyId,
    /// The key named by `kid` is not meant for the token's `alg` (its `alg`, `kty` or curve
    /// differ): this is what stops algorithm-confusion tokens.
    #[error("the token's algorithm does not match its signing key")]
    KeyAlgorithmMismatch,
    /// The signature does not verify with the key.
    #[error("the token signature is invalid")]
    InvalidSignature,
    /// `iss` is missing or differs from the configured issuer.
    #[error("the token does not have a valid issuer")]
    InvalidIssuer,
    /// Neither `aud` nor (when `aud` is absent) `client_id` names a configured audience.
    #[error("the token does not have a valid audience")]
    InvalidAudience,
    /// `exp` is missing, or one of `exp`/`nbf`/`iat` is not a number.
    #[error("the token has a missing or malformed {0} claim")]
    InvalidTimeClaim(&'static str),
    /// `exp` is not after the current time (plus leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is after the current time (plus leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is after the current time (plus leeway).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// The issuer's keys could not be fetched in time (JWKS slow, down or garbage).
    #[error("the issuer's signing keys are unavailable")]
    KeysUnavailable,
    /// The token is valid but carries none of the route's authorization scopes.
    #[error("the token does not have the required scopes")]
    InsufficientScope {
        /// The route's scopes, echoed in the `scope` attribute of `www-authenticate`.
        required: Vec<String>,
    },
}

/// Body AWS sends with a JWT authorizer's 401 (http-api-troubleshooting-jwt.md).
const UNAUTHORIZED_BODY: &str = r#"{"message":"Unauthorized"}"#;
/// Body AWS sends with a 403 from an HTTP API (observed, see [`JwtError::status`]).
const FORBIDDEN_BODY: &str = r#"{"message":"Forbidden"}"#;

impl JwtError {
    /// HTTP status of the answer.
    ///
    /// 401 for everything except missing scopes. AWS's docs only say "API Gateway denies the
    /// request" for scopes; a 403 `{"message":"Forbidden"}` is what HTTP APIs were observed to
    /// send (secondary source, see the crate report), and it is what RFC 6750 §3.1 prescribes
    /// for `insufficient_scope`.
    pub fn status(&self) -> StatusCode {
        match self {
            JwtError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// JSON body of the answer, as AWS sends it.
    pub fn body(&self) -> &'static str {
        match self {
            JwtError::InsufficientScope { .. } => FORBIDDEN_BODY,
            _ => UNAUTHORIZED_BODY,
        }
    }

    /// The short reason, for `error_description` and `$context.authorizer.error`.
    pub fn description(&self) -> String {
        self.to_string()
    }

    /// Value of the `www-authenticate` response header.
    ///
    /// AWS's documented shape is `Bearer scope="" error="invalid_token"
    /// error_description="…"` (space separated, `scope` first). A request with no token gets
    /// `Bearer scope=""` only, because RFC 6750 §3.1 says a server SHOULD NOT send an error
    /// code when no credentials were offered; an ambiguous request is `invalid_request`; a
    /// scope failure is `insufficient_scope` with the route's scopes in `scope`.
    pub fn www_authenticate(&self) -> String {
        let (scope, error) = match self {
            JwtError::MissingToken => return r#"Bearer scope="""#.to_owned(),
            JwtError::AmbiguousToken => (String::new(), "invalid_request"),
            JwtError::InsufficientScope { required } => {
                (quote_safe(&required.join(" ")), "insufficient_scope")
            }
            _ => (String::new(), "invalid_token"),
        };
        format!(
            r#"Bearer scope="{scope}" error="{error}" error_description="{}""#,
            self
        )
    }
}

/// Drops what cannot appear inside a quoted header parameter (quotes, backslashes, control
/// characters), so a scope name from the config can never break the header.
fn quote_safe(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

/// A [`crate::JwtSettings`] value that cannot work, found when the authorizer is built rather
/// than on the first request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtConfigError {
    /// The issuer is not an `http://` or `https://` URL (OpenID discovery needs one).
    #[error("invalid issuer `{0}`: expected an http:// or https:// URL")]
    InvalidIssuer(String),
    /// AWS requires at least one audience; without one every token would be denied.
    #[error("a jwt authorizer needs at least one audience")]
    NoAudience,
    /// The configured `jwks_uri` is not an `http://` or `https://` URL.
    #[error("invalid jwks_uri `{0}`: expected an http:// or https:// URL")]
    InvalidJwksUri(String),
    /// A timeout or interval is zero, which would disable fetching or rate limiting.
    #[error("`{0}` must be greater than zero")]
    ZeroDuration(&'static str),
    /// The default HTTP client could not be built (its TLS setup failed).
    #[error("building the JWKS HTTP client failed: {0}")]
    HttpClient(String),
}

/// Why fetching a discovery document or a JWKS failed. Logged, never sent to clients.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL does not parse.
    #[error("invalid URL `{0}`")]
    InvalidUrl(String),
    /// The URL's scheme is neither `http` nor `https`.
    #[error("unsupported URL scheme in `{0}`: expected http or https")]
    UnsupportedScheme(String),
    /// Connecting, TLS or HTTP failed.
    #[error("request failed: {0}")]
    Request(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The server answered something other than 200.
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    /// The body was larger than the fetcher accepts.
    #[error("response body exceeds {0} bytes")]
    TooLarge(usize),
    /// Reading the body failed.
    #[error("reading the response body failed: {0}")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The fetch did not finish within the fetch timeout.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// A fetched document was not what it should be (no `jwks_uri`, not a JWKS, …).
    #[error("invalid document from `{url}`: {reason}")]
    InvalidDocument {
        /// The URL the document came from.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
}
