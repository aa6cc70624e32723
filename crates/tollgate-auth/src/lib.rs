//! Request authorizers for tollgate's data plane.
//!
//! So far this crate owns the HTTP API **JWT authorizer** ([`JwtAuthorizer`]): it reads the
//! token from the identity source, verifies it against the issuer's JWKS and checks the claims
//! the way AWS API Gateway does (aws-facts §3.8), so the proxy can answer AWS's 401/403 and pass
//! the claims on to the integration. The JWKS is fetched and cached off the request path: a
//! request whose key is cached never waits on I/O.
//!
//! Lambda (request) authorizers, API keys and SigV4 belong here too (DESIGN.md §5) and will
//! follow as their own modules.

pub mod jwt;
pub mod request;
pub mod sigv4;

pub use jwt::{
    FetchError, FetchFuture, HttpFetcher, JwksFetcher, JwtAuthorizer, JwtConfigError, JwtError,
    JwtPrincipal, JwtSettings,
};
pub use request::{
    AuthorizerRequest, FunctionFailure, IdentitySource, LambdaPrincipal, PayloadFormat,
    RequestAuthConfigError, RequestAuthError, RequestAuthorizer, RequestAuthorizerSettings,
};
pub use sigv4::{
    execute_api_arn, AccessKey, Effect, IamPrincipal, Policy, SigV4ConfigError, SigV4Error,
    SigV4Verifier, SignedRequest,
};
