//! Errors of IAM authorization, and how each one is answered to the client.
//!
//! Every denial is a [`SigV4Error`]; the proxy answers it with [`SigV4Error::status`], the
//! `x-amzn-ErrorType` header [`SigV4Error::error_type`] and [`SigV4Error::body`], so AWS's
//! wording lives here only.
//!
//! Where the texts come from (aws-facts §0 keys where they exist):
//! - `Missing Authentication Token` — DG23 (gateway response `MISSING_AUTHENTICATION_TOKEN`).
//! - `Authorization header requires '…' parameter. … Authorization=…` — observed API Gateway
//!   403 bodies (aws/chalice#828, aws-amplify/amplify-flutter#1539 with
//!   `x-amzn-errortype: IncompleteSignatureException`).
//! - `Signature expired: … is now earlier than … (… - N min.)` — observed API Gateway bodies
//!   (mhart/aws4#118, aws-amplify/aws-sdk-android#253).
//! - The signature-mismatch sentence — observed API Gateway bodies (mhart/aws4#33, #110).
//!   AWS goes on with `\n\nThe Canonical String for this request should have been\n'…'` and
//!   the string-to-sign; we do not, because `aws-sigv4` does not expose its canonical request.
//! - `The security token included in the request is invalid.` — the brief; the same text is
//!   what AWS's SigV4 front end sends for an unknown key id (dynalite's recorded answers).
//! - `User: … is not authorized to perform: execute-api:Invoke on resource: …` — observed API
//!   Gateway bodies (ASFHyP3/hyp3#2283, serverless/serverless#11808: key `"Message"`, account
//!   masked as `********2543`); ` with an explicit deny` — AWS Knowledge Center
//!   "api-gateway-403-error-lambda-authorizer" (2022), which prints the key as `"message"`.
//!   CONFLICT: we follow the observed responses (`"Message"`, masked account).
//! - Scope, date-format, `Host`, algorithm, key=value and credential-shape texts — recorded
//!   from AWS's SigV4 front end by emulators (mhart/dynalite, dacut/scratchstack-aws-signature);
//!   UNCONFIRMED for API Gateway specifically.
//! - `'…' is named as a SignedHeader, but it does not exist in the HTTP request.` — observed
//!   from AppSync (awslabs/aws-mobile-appsync-sdk-js#702); UNCONFIRMED for API Gateway.
//! - `Signature not yet current: …` — scratchstack-aws-signature; UNCONFIRMED.

use http::StatusCode;
use serde_json::json;

/// The signature-mismatch text AWS sends (observed from API Gateway, see the module docs).
pub(crate) const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match \
the signature you provided. Check your AWS Secret Access Key and signing method. Consult the \
service documentation for details.";

/// The text AWS sends for an unknown access key id or a bad session token.
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

/// Why an IAM-authorized request was denied. Every variant is answered with a 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// The request has no `Authorization` header (presigned URLs are not supported, so a
    /// request signed only in its query string lands here too).
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// The `Authorization` header is not a complete SigV4 header: parameters or the date
    /// header are missing, the algorithm is unknown, a part is not `key=value`, the
    /// credential is not `key/date/region/service/terminator`, the date is malformed, or a
    /// signed header is absent. The message is AWS's text.
    #[error("{0}")]
    IncompleteSignature(String),
    /// The credential scope names another region or service, a terminator other than
    /// `aws4_request`, or a date other than the request's. The message is AWS's text.
    #[error("{0}")]
    InvalidCredentialScope(String),
    /// `host` is not among the signed headers.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,
    /// The request's date is older than the clock-skew window allows.
    #[error("{0}")]
    SignatureExpired(String),
    /// The request's date is further in the future than the clock-skew window allows.
    #[error("{0}")]
    SignatureNotYetCurrent(String),
    /// The signature does not match: wrong secret, or anything signed (method, path, query,
    /// a signed header, the body) changed after signing.
    #[error("{}", SIGNATURE_MISMATCH)]
    SignatureMismatch,
    /// No configured access key has the credential's key id.
    #[error("{}", INVALID_TOKEN)]
    UnrecognizedClient,
    /// `x-amz-security-token` is missing although the key requires one, present although it
    /// does not, or different from the configured one.
    #[error("{}", INVALID_TOKEN)]
    InvalidSecurityToken,
    /// The signature is valid but no policy allows the action (`execute-api:Invoke`, or
    /// `execute-api:ManageConnections` for `@connections`) on the resource, or one denies it
    /// explicitly.
    #[error(
        "User: {principal} is not authorized to perform: {action} on resource: {}{}",
        mask_account(resource),
        if *explicit_deny { " with an explicit deny" } else { "" }
    )]
    AccessDenied {
        /// The caller as AWS names it: the access key's configured principal.
        principal: String,
        /// The action refused.
        action: &'static str,
        /// The execute-api ARN that was refused (unmasked; the message masks the account).
        resource: String,
        /// A `Deny` statement matched (rather than no `Allow`).
        explicit_deny: bool,
    },
}

impl SigV4Error {
    /// HTTP status of the answer: 403 for every IAM denial, as API Gateway sends.
    pub fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    /// Value of the `x-amzn-ErrorType` response header.
    pub fn error_type(&self) -> &'static str {
        match self {
            SigV4Error::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            SigV4Error::IncompleteSignature(_) => "IncompleteSignatureException",
            SigV4Error::InvalidCredentialScope(_)
            | SigV4Error::HostNotSigned
            | SigV4Error::SignatureExpired(_)
            | SigV4Error::SignatureNotYetCurrent(_)
            | SigV4Error::SignatureMismatch => "InvalidSignatureException",
            SigV4Error::UnrecognizedClient | SigV4Error::InvalidSecurityToken => {
                "UnrecognizedClientException"
            }
            SigV4Error::AccessDenied { .. } => "AccessDeniedException",
        }
    }

    /// The message of the body (also the `Display` text), for `$context.error.message`.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// JSON body of the answer, as AWS sends it: `{"message":"…"}`, except that policy
    /// denials use `"Message"` (see the module docs).
    pub fn body(&self) -> String {
        let message = self.message();
        let body = match self {
            SigV4Error::AccessDenied { .. } => json!({ "Message": message }),
            _ => json!({ "message": message }),
        };
        body.to_string()
    }
}

/// Masks the account id of an ARN the way API Gateway prints it: all but its last four
/// characters become `*` (`123456782543` → `********2543`).
fn mask_account(arn: &str) -> String {
    let mut fields: Vec<&str> = arn.splitn(6, ':').collect();
    if fields.len() < 6 {
        return arn.to_owned();
    }
    let account = fields[4];
    let keep = account.len().saturating_sub(4);
    let masked = if account.is_char_boundary(keep) {
        format!("{}{}", "*".repeat(keep), &account[keep..])
    } else {
        "*".repeat(account.chars().count())
    };
    fields[4] = &masked;
    fields.join(":")
}

/// A verifier configuration that cannot work, found when it is built rather than on a
/// request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4ConfigError {
    /// The region is empty or contains `:` or `/`, which would break credential scopes and
    /// ARNs.
    #[error("invalid region `{0}`")]
    InvalidRegion(String),
    /// The account id is empty or contains `:` or `/`.
    #[error("invalid account id `{0}`")]
    InvalidAccountId(String),
    /// An access key has an empty id or secret, or an id with characters other than ASCII
    /// letters, digits, `_` and `-` (anything else could not survive the `Credential=`
    /// parameter).
    #[error("access key `{0}` needs an id of ASCII letters, digits, `_` or `-`, and a secret")]
    InvalidAccessKey(String),
    /// Two access keys share an id.
    #[error("access key id `{0}` is configured twice")]
    DuplicateAccessKey(String),
    /// A policy has no principals, no actions or no resources, so it could never match.
    #[error("policy #{0} needs at least one principal, one action and one resource")]
    EmptyPolicy(usize),
    /// The clock-skew window is zero.
    #[error("the clock-skew window must be greater than zero")]
    ZeroClockSkew,
}
