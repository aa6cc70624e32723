//! Errors of the Lambda (request) authorizer, and how each one is answered to the client.
//!
//! Every refusal is a [`RequestAuthError`]; the proxy answers it with
//! [`RequestAuthError::status`] and [`RequestAuthError::body`], so AWS's wording lives here.

use std::time::Duration;

use http::StatusCode;

/// Why a request was refused.
///
/// The `Display` text (also [`RequestAuthError::authorizer_error`]) is meant for
/// `$context.authorizer.error` in access logs. AWS documents the variable but not its texts,
/// so the wording is ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestAuthError {
    /// A configured identity source is absent or empty: 401, and the function is not
    /// invoked ("If the client's request doesn't include the identity sources, API Gateway
    /// doesn't invoke your Lambda authorizer, and the client receives a `401` error",
    /// http-api-lambda-authorizer.md; "present in the request, not null, and non-empty",
    /// CreateAuthorizer `identitySource`).
    #[error("the identity source {identity_source} is missing or empty")]
    MissingIdentity {
        /// The identity source expression, e.g. `$request.header.authorization`.
        identity_source: String,
    },
    /// The function refused the request: a simple response with `isAuthorized: false`, a
    /// policy with a matching `Deny` (`explicit`), or a policy without a matching `Allow`.
    #[error("{}", if *explicit { "the authorizer denied the request explicitly" } else { "the authorizer did not allow the request" })]
    Denied {
        /// `true` when a `Deny` statement matched (or a simple response said `false`);
        /// `false` when no `Allow` statement matched.
        explicit: bool,
    },
    /// The function could not be invoked, failed, timed out or answered something that is
    /// not a valid authorizer response: 500.
    #[error("the authorizer failed: {reason}")]
    FunctionFailed {
        /// What went wrong.
        reason: FunctionFailure,
    },
}

/// What went wrong when invoking the authorizer function. Logged and used for
/// `$context.authorizer.error`; clients only ever see a 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FunctionFailure {
    /// Connecting to the Lambda endpoint or sending the request failed.
    #[error("the function could not be invoked: {0}")]
    Unreachable(String),
    /// The Lambda Invoke API answered a status other than 200 (function missing, throttled…).
    #[error("the Lambda Invoke API answered HTTP {0}")]
    Status(u16),
    /// The function raised an error (`X-Amz-Function-Error: Unhandled` or `Handled`).
    #[error("the function returned an error ({0})")]
    FunctionError(String),
    /// No complete answer within the authorizer timeout.
    #[error("the function did not answer within {0:?}")]
    Timeout(Duration),
    /// The answer was larger than the authorizer accepts (in bytes).
    #[error("the function's response exceeds {0} bytes")]
    ResponseTooLarge(usize),
    /// The answer is not a valid authorizer response for the configured format.
    #[error("the function returned an invalid response: {0}")]
    MalformedResponse(String),
    /// The shared invocation this request waited on ended without an outcome (its task was
    /// cancelled, e.g. at runtime shutdown).
    #[error("the invocation was aborted")]
    Aborted,
}

const UNAUTHORIZED_BODY: &str = r#"{"message":"Unauthorized"}"#;
const FORBIDDEN_BODY: &str = r#"{"message":"Forbidden"}"#;
const INTERNAL_ERROR_BODY: &str = r#"{"message":"Internal Server Error"}"#;

impl RequestAuthError {
    /// HTTP status of the answer: 401 for a missing identity source, 403 for a denial, 500
    /// when the function failed (http-api-lambda-authorizer.md, "Troubleshooting": "If API
    /// Gateway can't invoke your Lambda authorizer, or your Lambda authorizer returns a
    /// response in an invalid format, clients receive a `500 Internal Server Error`").
    pub fn status(&self) -> StatusCode {
        match self {
            RequestAuthError::MissingIdentity { .. } => StatusCode::UNAUTHORIZED,
            RequestAuthError::Denied { .. } => StatusCode::FORBIDDEN,
            RequestAuthError::FunctionFailed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// JSON body of the answer, as an HTTP API sends it.
    ///
    /// HTTP APIs have no customizable gateway responses and answer every denial with
    /// `{"message":"Forbidden"}` (observed; aws-facts §3.15). REST APIs word their 403s
    /// differently ("User is not authorized to access this resource…"); this authorizer
    /// follows HTTP APIs.
    pub fn body(&self) -> &'static str {
        match self {
            RequestAuthError::MissingIdentity { .. } => UNAUTHORIZED_BODY,
            RequestAuthError::Denied { .. } => FORBIDDEN_BODY,
            RequestAuthError::FunctionFailed { .. } => INTERNAL_ERROR_BODY,
        }
    }

    /// The `message` of the body, for `$context.error.message`.
    pub fn error_message(&self) -> &'static str {
        match self {
            RequestAuthError::MissingIdentity { .. } => "Unauthorized",
            RequestAuthError::Denied { .. } => "Forbidden",
            RequestAuthError::FunctionFailed { .. } => "Internal Server Error",
        }
    }

    /// The gateway response type, for `$context.error.responseType` (aws-facts §3.15):
    /// `UNAUTHORIZED`, `ACCESS_DENIED`, `AUTHORIZER_CONFIGURATION_ERROR` when the function
    /// could not be reached or invoked, `AUTHORIZER_FAILURE` when it failed or answered
    /// garbage.
    pub fn response_type(&self) -> &'static str {
        match self {
            RequestAuthError::MissingIdentity { .. } => "UNAUTHORIZED",
            RequestAuthError::Denied { .. } => "ACCESS_DENIED",
            RequestAuthError::FunctionFailed { reason } => match reason {
                FunctionFailure::Unreachable(_)
                | FunctionFailure::Status(_)
                | FunctionFailure::Timeout(_)
                | FunctionFailure::Aborted => "AUTHORIZER_CONFIGURATION_ERROR",
                FunctionFailure::FunctionError(_)
                | FunctionFailure::ResponseTooLarge(_)
                | FunctionFailure::MalformedResponse(_) => "AUTHORIZER_FAILURE",
            },
        }
    }

    /// The text for `$context.authorizer.error` (AWS: "include the `$context.authorizer.error`
    /// logging variable in your log format" to troubleshoot authorizers).
    pub fn authorizer_error(&self) -> String {
        self.to_string()
    }
}

impl From<FunctionFailure> for RequestAuthError {
    fn from(reason: FunctionFailure) -> Self {
        RequestAuthError::FunctionFailed { reason }
    }
}

/// A [`crate::RequestAuthorizerSettings`] value that cannot work, found when the authorizer
/// is built rather than on the first request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestAuthConfigError {
    /// The endpoint is not an `http://` or `https://` base URL.
    #[error("invalid Lambda endpoint `{0}`: expected an http:// or https:// base URL")]
    InvalidEndpoint(String),
    /// No function name or ARN.
    #[error("a Lambda authorizer needs a function name or ARN")]
    EmptyFunction,
    /// An identity source expression is not one AWS accepts for HTTP APIs.
    #[error("invalid identity source `{expression}`: {reason}")]
    InvalidIdentitySource {
        /// The expression as configured.
        expression: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An authorizer payload format version other than `1.0` or `2.0`.
    #[error("invalid authorizer payload format version `{0}`: expected 1.0 or 2.0")]
    InvalidPayloadFormat(String),
    /// Simple responses exist only in payload format 2.0.
    #[error("simple responses require authorizer payload format version 2.0")]
    SimpleResponsesNeedV2,
    /// `authorizerResultTtlInSeconds` is capped at 3600.
    #[error("result TTL {0:?} exceeds the maximum of 3600 s")]
    TtlTooLong(std::time::Duration),
    /// AWS: "To enable caching, your authorizer must have at least one identity source."
    #[error("caching (a result TTL above 0) needs at least one identity source")]
    CacheWithoutIdentitySource,
    /// Caching is on but the cache may hold no entry.
    #[error("the cache capacity must be greater than zero when caching is enabled")]
    ZeroCacheCapacity,
    /// The timeout is zero, or above AWS's fixed 10 s quota.
    #[error("timeout {0:?} must be greater than zero and at most 10 s")]
    InvalidTimeout(std::time::Duration),
    /// The HTTP client could not be built (its TLS setup failed).
    #[error("building the Lambda HTTP client failed: {0}")]
    HttpClient(String),
}
