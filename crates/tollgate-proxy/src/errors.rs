//! The answers API Gateway gives when it, not the integration, ends a request.
//!
//! Status codes and bodies follow aws-facts.md §3.1 and §3.5. Where AWS's exact body is
//! UNCONFIRMED there, the text below is the one emulators observe; docs/errors.md lists them.

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

/// Why the gateway answered on its own. Also the `$context.error.responseType` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    /// No API, stage or route matched: 404 `{"message":"Not Found"}` (§3.1).
    NotFound,
    /// Body over the 10 MB payload limit (§2.2).
    BodyTooLarge,
    /// Request line plus header values over 10,240 bytes (§2.2).
    HeadersTooLarge,
    /// The client did not send its body in time.
    RequestTimeout,
    /// The integration did not answer within its timeout: HTTP API → 503 (§3.5, UNCONFIRMED body).
    IntegrationTimeout,
    /// The integration could not be reached, or answered something unusable: 500.
    IntegrationFailure,
    /// A Lambda function failed or returned a malformed response: 500 (§3.5).
    LambdaFailure,
    /// The request could not be parsed (bad path encoding, bad header).
    BadRequest,
    /// An authorizer denied the request (no or bad token): 401 `{"message":"Unauthorized"}`
    /// (aws-facts §3.8).
    Unauthorized,
    /// Authenticated but not allowed (a missing scope): 403 `{"message":"Forbidden"}`.
    Forbidden,
    /// The API key is missing, unknown, disabled or not in a plan for the stage: 403
    /// `{"message":"Forbidden"}`, `INVALID_API_KEY` (aws-facts §3.11, §3.15).
    InvalidApiKey,
    /// A throttle's bucket is empty: 429 `{"message":"Too Many Requests"}` (aws-facts §2.5).
    Throttled,
    /// The API key's usage-plan quota is used up: 429 `{"message":"Limit Exceeded"}`.
    QuotaExceeded,
    /// A request authorizer could not be invoked or answered something unusable: 500
    /// `{"message":"Internal Server Error"}` (aws-facts §3.9).
    AuthorizerFailure,
    /// A dollar budget covering the request is spent and blocks (or throttles) its scope: 429
    /// `{"message":"Budget Exceeded"}` — tollgate's own answer, distinct from AWS's throttles.
    BudgetExceeded,
    /// A plain request to a WebSocket API's stage URL: 426 with `Upgrade: websocket`.
    UpgradeRequired,
    /// `@connections`: the connection is closed or never existed: 410 `GoneException`
    /// (aws-facts §4.3).
    Gone,
    /// `@connections`: data over 128 KB: 413 `PayloadTooLargeException`.
    PayloadTooLarge,
    /// A WebSocket connection limit (concurrent connections, new connections per second, or
    /// a client's full send queue): 429 `LimitExceededException`.
    LimitExceeded,
}

impl GatewayError {
    pub fn status(self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::IntegrationTimeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::IntegrationFailure | Self::LambdaFailure | Self::AuthorizerFailure => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::InvalidApiKey => StatusCode::FORBIDDEN,
            Self::Throttled | Self::QuotaExceeded | Self::BudgetExceeded | Self::LimitExceeded => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            Self::Gone => StatusCode::GONE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    /// The JSON body, as AWS sends it.
    pub fn body(self) -> Bytes {
        Bytes::from_static(match self {
            Self::NotFound => br#"{"message":"Not Found"}"#,
            Self::BodyTooLarge => br#"{"message":"Request Entity Too Large"}"#,
            Self::HeadersTooLarge => br#"{"message":"Request Header Fields Too Large"}"#,
            Self::RequestTimeout => br#"{"message":"Request Timeout"}"#,
            Self::IntegrationTimeout => br#"{"message":"Service Unavailable"}"#,
            Self::IntegrationFailure | Self::LambdaFailure | Self::AuthorizerFailure => {
                br#"{"message":"Internal Server Error"}"#
            }
            Self::BadRequest => br#"{"message":"Bad Request"}"#,
            Self::Unauthorized => br#"{"message":"Unauthorized"}"#,
            Self::Forbidden | Self::InvalidApiKey => br#"{"message":"Forbidden"}"#,
            Self::Throttled => br#"{"message":"Too Many Requests"}"#,
            Self::QuotaExceeded => br#"{"message":"Limit Exceeded"}"#,
            Self::BudgetExceeded => br#"{"message":"Budget Exceeded"}"#,
            Self::UpgradeRequired => br#"{"message":"Upgrade Required"}"#,
            Self::Gone => br#"{"message":"Gone"}"#,
            Self::PayloadTooLarge => br#"{"message":"Payload Too Large"}"#,
            Self::LimitExceeded => br#"{"message":"Limit Exceeded"}"#,
        })
    }

    /// The `x-amzn-ErrorType` header value.
    pub fn error_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::NotFound => "NotFoundException",
            Self::BodyTooLarge => "RequestEntityTooLargeException",
            Self::HeadersTooLarge => "RequestHeaderFieldsTooLargeException",
            Self::RequestTimeout => "RequestTimeoutException",
            Self::IntegrationTimeout => "ServiceUnavailableException",
            Self::IntegrationFailure | Self::LambdaFailure | Self::AuthorizerFailure => {
                "InternalServerErrorException"
            }
            Self::BadRequest => "BadRequestException",
            Self::Unauthorized => "UnauthorizedException",
            Self::Forbidden | Self::InvalidApiKey => "ForbiddenException",
            Self::Throttled => "TooManyRequestsException",
            Self::QuotaExceeded => "LimitExceededException",
            Self::BudgetExceeded => "BudgetExceededException",
            Self::UpgradeRequired => "UpgradeRequiredException",
            Self::Gone => "GoneException",
            Self::PayloadTooLarge => "PayloadTooLargeException",
            Self::LimitExceeded => "LimitExceededException",
        })
    }

    /// `$context.error.message`.
    pub fn message(self) -> &'static str {
        match self {
            Self::NotFound => "Not Found",
            Self::BodyTooLarge => "Request Entity Too Large",
            Self::HeadersTooLarge => "Request Header Fields Too Large",
            Self::RequestTimeout => "Request Timeout",
            Self::IntegrationTimeout => "Service Unavailable",
            Self::IntegrationFailure | Self::LambdaFailure | Self::AuthorizerFailure => {
                "Internal Server Error"
            }
            Self::BadRequest => "Bad Request",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden | Self::InvalidApiKey => "Forbidden",
            Self::Throttled => "Too Many Requests",
            Self::QuotaExceeded => "Limit Exceeded",
            Self::BudgetExceeded => "Budget Exceeded",
            Self::UpgradeRequired => "Upgrade Required",
            Self::Gone => "Gone",
            Self::PayloadTooLarge => "Payload Too Large",
            Self::LimitExceeded => "Limit Exceeded",
        }
    }

    /// `$context.error.responseType`.
    pub fn response_type(self) -> &'static str {
        match self {
            Self::NotFound => "RESOURCE_NOT_FOUND",
            Self::BodyTooLarge => "REQUEST_TOO_LARGE",
            Self::HeadersTooLarge => "REQUEST_TOO_LARGE",
            Self::RequestTimeout => "BAD_REQUEST_BODY",
            Self::IntegrationTimeout => "INTEGRATION_TIMEOUT",
            Self::IntegrationFailure | Self::LambdaFailure => "INTEGRATION_FAILURE",
            Self::AuthorizerFailure => "AUTHORIZER_FAILURE",
            Self::BadRequest => "BAD_REQUEST_PARAMETERS",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Forbidden => "ACCESS_DENIED",
            Self::InvalidApiKey => "INVALID_API_KEY",
            Self::Throttled => "THROTTLED",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::BudgetExceeded => "BUDGET_EXCEEDED",
            Self::UpgradeRequired => "BAD_REQUEST_PARAMETERS",
            Self::Gone => "RESOURCE_NOT_FOUND",
            Self::PayloadTooLarge => "REQUEST_TOO_LARGE",
            Self::LimitExceeded => "THROTTLED",
        }
    }
}
