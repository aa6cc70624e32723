//! The HTTP API Lambda (request) authorizer (aws-facts §3.9; AWS guide
//! `http-api-lambda-authorizer.md`).
//!
//! [`RequestAuthorizer::authorize`] reads the identity sources — any missing or empty one
//! answers 401 without invoking anything — then looks the identity up in the result cache.
//! On a miss it builds the payload format 1.0 or 2.0 `REQUEST` event, invokes the function
//! through the Lambda Invoke API (`POST {endpoint}/2015-03-31/functions/{function}/invocations`)
//! within the timeout, and parses the answer: a simple response (`isAuthorized`) or an IAM
//! policy. The answer, not the verdict, is cached under the identity source values, and a
//! policy is evaluated against each request's own route ARN, so a policy cached for one
//! route is judged afresh on the next (AWS: "By default, API Gateway uses the cached
//! authorizer response for all routes of an API that use the authorizer").
//!
//! A cache hit does no I/O. Concurrent misses for the same identity share one invocation:
//! the first request starts it in a spawned task (so a client that goes away does not
//! cancel it for the others), the rest wait for its outcome. Failures are never cached.

mod cache;
mod error;
mod event;
mod invoke;
mod policy;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, Method};
use serde_json::{Map, Value};

pub use error::{FunctionFailure, RequestAuthConfigError, RequestAuthError};

use cache::{Cache, Key, Lookup, OutcomeReceiver, OutcomeSender};
use invoke::Invoker;
use policy::{AuthorizerResponse, Verdict};

/// AWS's quota "Lambda authorizer response timeout 10,000 ms", not adjustable (HTTP API
/// quotas, aws-facts §2.2). Also the largest timeout accepted.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest accepted timeout: AWS's fixed 10 s.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(10);

/// `authorizerResultTtlInSeconds` when not set: "If this field is not set, the default value
/// is 300" (apigatewayv2 `Authorizer` reference; CDK `resultsCacheTtl` default 5 minutes).
pub const DEFAULT_RESULT_TTL: Duration = Duration::from_secs(300);
/// "The maximum value is 3600, or 1 hour" (apigatewayv2 `authorizerResultTtlInSeconds`);
/// 0 disables caching.
pub const MAX_RESULT_TTL: Duration = Duration::from_secs(3600);

/// Most cached answers per authorizer. AWS publishes no number; the bound keeps a flood of
/// distinct identities from growing the cache without limit (oldest entries go first).
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// Largest function output accepted. AWS publishes a result size only for WebSocket
/// authorizers (8 KB, aws-facts §2.4); this is looser, and bounds what one cache entry can
/// hold.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// `authorizerPayloadFormatVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// `1.0`: the REST-compatible event; the function answers an IAM policy.
    V1,
    /// `2.0`: the HTTP API event; the function answers a simple response (when enabled) or
    /// an IAM policy.
    V2,
}

impl PayloadFormat {
    /// `"1.0"` or `"2.0"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::V1 => "1.0",
            PayloadFormat::V2 => "2.0",
        }
    }
}

impl FromStr for PayloadFormat {
    type Err = RequestAuthConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1.0" => Ok(PayloadFormat::V1),
            "2.0" => Ok(PayloadFormat::V2),
            _ => Err(RequestAuthConfigError::InvalidPayloadFormat(s.to_owned())),
        }
    }
}

impl fmt::Display for PayloadFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one identity value comes from (http-api-lambda-authorizer.md, "Identity sources").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdentitySource {
    /// `$request.header.NAME`: header names are case-insensitive; repeated headers are
    /// joined with `,`.
    Header(HeaderName),
    /// `$request.querystring.NAME`: names are case-sensitive; the value is percent-decoded,
    /// repeated parameters are joined with `,`.
    Query(String),
    /// `$context.VARIABLE`, e.g. `$context.routeKey` (which makes the cache per route) or
    /// `$context.identity.sourceIp`.
    Context(String),
    /// `$stageVariables.NAME`.
    StageVariable(String),
}

impl IdentitySource {
    /// Parses `$request.header.X`, `$request.querystring.X`, `$context.X` or
    /// `$stageVariables.X` (the prefixes are case-sensitive, as in AWS).
    pub fn parse(expression: &str) -> Result<Self, RequestAuthConfigError> {
        let invalid = |reason| RequestAuthConfigError::InvalidIdentitySource {
            expression: expression.to_owned(),
            reason,
        };
        let expr = expression.trim();
        let nonempty = |name: &str| {
            if name.is_empty() {
                Err(invalid("the name after the prefix is empty"))
            } else {
                Ok(name.to_owned())
            }
        };
        if let Some(name) = expr.strip_prefix("$request.header.") {
            let name = nonempty(name)?;
            HeaderName::from_bytes(name.as_bytes())
                .map(IdentitySource::Header)
                .map_err(|_| invalid("not a valid header name"))
        } else if let Some(name) = expr.strip_prefix("$request.querystring.") {
            nonempty(name).map(IdentitySource::Query)
        } else if let Some(name) = expr.strip_prefix("$context.") {
            nonempty(name).map(IdentitySource::Context)
        } else if let Some(name) = expr.strip_prefix("$stageVariables.") {
            nonempty(name).map(IdentitySource::StageVariable)
        } else {
            Err(invalid(
                "expected $request.header.NAME, $request.querystring.NAME, $context.VARIABLE \
                 or $stageVariables.NAME",
            ))
        }
    }

    /// The value this source takes for `req`; `None` when absent or empty.
    fn value(&self, req: &AuthorizerRequest<'_>) -> Option<String> {
        let value = match self {
            IdentitySource::Header(name) => {
                event::joined_header(req.headers, name).map(|v| v.into_owned())
            }
            IdentitySource::Query(name) => {
                let values: Vec<String> = form_urlencoded::parse(req.raw_query.as_bytes())
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
                    .collect();
                (!values.is_empty()).then(|| values.join(","))
            }
            IdentitySource::Context(var) => req
                .context_var
                .and_then(|f| f(var))
                .or_else(|| builtin_context(req, var)),
            IdentitySource::StageVariable(name) => req.stage_variables.get(name).cloned(),
        };
        value.filter(|v| !v.is_empty())
    }
}

impl FromStr for IdentitySource {
    type Err = RequestAuthConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IdentitySource::parse(s)
    }
}

impl fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentitySource::Header(name) => write!(f, "$request.header.{name}"),
            IdentitySource::Query(name) => write!(f, "$request.querystring.{name}"),
            IdentitySource::Context(var) => write!(f, "$context.{var}"),
            IdentitySource::StageVariable(name) => write!(f, "$stageVariables.{name}"),
        }
    }
}

/// The `$context` variables the authorizer can answer from the request itself, used when
/// [`AuthorizerRequest::context_var`] has no value.
fn builtin_context(req: &AuthorizerRequest<'_>, var: &str) -> Option<String> {
    let text = match var {
        "accountId" => req.account_id,
        "apiId" => req.api_id,
        "domainName" => req.domain_name,
        "domainPrefix" => event::domain_prefix(req.domain_name),
        "httpMethod" => req.method.as_str(),
        "path" => req.raw_path,
        "protocol" => req.protocol,
        "requestId" | "extendedRequestId" => req.request_id,
        "routeKey" => req.route_key,
        "stage" => req.stage,
        "identity.sourceIp" => req.source_ip,
        "identity.userAgent" => {
            return event::joined_header(req.headers, &http::header::USER_AGENT)
                .map(|v| v.into_owned())
        }
        "requestTime" => return Some(tollgate_types::time_fmt::clf(req.request_time)),
        "requestTimeEpoch" => {
            return Some(tollgate_types::time_fmt::epoch_millis(req.request_time).to_string())
        }
        _ => return None,
    };
    Some(text.to_owned())
}

/// What one Lambda authorizer invokes and how it caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuthorizerSettings {
    /// Base URL of a Lambda Invoke API (`http://127.0.0.1:9001`, or AWS's regional
    /// `https://lambda.{region}.amazonaws.com` behind a signing proxy).
    pub endpoint: String,
    /// The function name or ARN (percent-encoded into the path).
    pub function: String,
    /// `authorizerPayloadFormatVersion`.
    pub payload_format: PayloadFormat,
    /// `enableSimpleResponses`: the function answers `{"isAuthorized": bool}` instead of a
    /// policy. Payload format 2.0 only.
    pub simple_responses: bool,
    /// The identity sources, in order: every one must be present and non-empty, and their
    /// values are the cache key and the event's `identitySource`.
    pub identity_sources: Vec<IdentitySource>,
    /// `authorizerResultTtlInSeconds`: how long an answer is reused for the same identity
    /// (0 = no caching; at most 3600 s; default [`DEFAULT_RESULT_TTL`]). Sub-second values
    /// are accepted, for tests.
    pub result_ttl: Duration,
    /// Limit on each invocation, connecting and reading included (default and maximum
    /// [`DEFAULT_TIMEOUT`], AWS's fixed 10 s).
    pub timeout: Duration,
    /// Most answers cached (default [`DEFAULT_CACHE_CAPACITY`]).
    pub cache_capacity: usize,
}

impl RequestAuthorizerSettings {
    /// Settings with the defaults: payload format 2.0 without simple responses, identity
    /// source `$request.header.Authorization` (the CDK's default), TTL 300 s, timeout 10 s.
    pub fn new(endpoint: impl Into<String>, function: impl Into<String>) -> Self {
        RequestAuthorizerSettings {
            endpoint: endpoint.into(),
            function: function.into(),
            payload_format: PayloadFormat::V2,
            simple_responses: false,
            identity_sources: vec![IdentitySource::Header(http::header::AUTHORIZATION)],
            result_ttl: DEFAULT_RESULT_TTL,
            timeout: DEFAULT_TIMEOUT,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
        }
    }

    fn validate(&self) -> Result<(), RequestAuthConfigError> {
        if self.function.trim().is_empty() {
            return Err(RequestAuthConfigError::EmptyFunction);
        }
        if self.simple_responses && self.payload_format != PayloadFormat::V2 {
            return Err(RequestAuthConfigError::SimpleResponsesNeedV2);
        }
        if self.result_ttl > MAX_RESULT_TTL {
            return Err(RequestAuthConfigError::TtlTooLong(self.result_ttl));
        }
        if !self.result_ttl.is_zero() {
            if self.identity_sources.is_empty() {
                return Err(RequestAuthConfigError::CacheWithoutIdentitySource);
            }
            if self.cache_capacity == 0 {
                return Err(RequestAuthConfigError::ZeroCacheCapacity);
            }
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(RequestAuthConfigError::InvalidTimeout(self.timeout));
        }
        Ok(())
    }
}

/// Looks up `$context.VARIABLE` values for identity sources (the argument is `VARIABLE`).
pub type ContextLookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Send + Sync);

/// Everything about one request that the authorizer reads, as borrowed data.
#[derive(Clone, Copy)]
pub struct AuthorizerRequest<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The path as received, including the stage segment for named stages (2.0 `rawPath`,
    /// `requestContext.http.path`; 1.0 `path`, `requestContext.path`).
    pub raw_path: &'a str,
    /// The path without the stage segment (`/pets/1`): the tail of `routeArn`/`methodArn`.
    pub path: &'a str,
    /// The query string without `?`, not decoded.
    pub raw_query: &'a str,
    /// The request headers. `User-Agent` gives `userAgent`; `Cookie` gives 2.0 `cookies`.
    pub headers: &'a HeaderMap,
    /// Path parameters, already percent-decoded.
    pub path_params: &'a [(&'a str, &'a str)],
    /// The stage's variables.
    pub stage_variables: &'a BTreeMap<String, String>,
    /// `"GET /pets/{id}"`, `"$default"`…
    pub route_key: &'a str,
    /// The route's path template (`/pets/{id}`), 1.0 `resource`; `""` or `"$default"` for
    /// the `$default` route, which then uses the request path.
    pub resource_path: &'a str,
    /// The ARN's region, e.g. `us-east-1`.
    pub region: &'a str,
    /// `requestContext.accountId` and the ARN's account.
    pub account_id: &'a str,
    /// `requestContext.apiId` and the ARN's API id.
    pub api_id: &'a str,
    /// `"$default"` or the stage name.
    pub stage: &'a str,
    /// `requestContext.domainName`.
    pub domain_name: &'a str,
    /// The client's address.
    pub source_ip: &'a str,
    /// `"HTTP/1.1"`, `"HTTP/2.0"`.
    pub protocol: &'a str,
    /// `requestContext.requestId`.
    pub request_id: &'a str,
    /// When the request arrived.
    pub request_time: time::OffsetDateTime,
    /// Values of `$context.VARIABLE` identity sources. Consulted first; the variables the
    /// request itself answers (`routeKey`, `requestId`, `stage`, `apiId`, `accountId`,
    /// `domainName`, `domainPrefix`, `httpMethod`, `path`, `protocol`, `identity.sourceIp`,
    /// `identity.userAgent`, `requestTime`, `requestTimeEpoch`) work without it.
    pub context_var: Option<ContextLookup<'a>>,
}

impl fmt::Debug for AuthorizerRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizerRequest")
            .field("method", self.method)
            .field("raw_path", &self.raw_path)
            .field("route_key", &self.route_key)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

impl AuthorizerRequest<'_> {
    /// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`: 2.0
    /// `routeArn`, 1.0 `methodArn`, and what policy `Resource`s are matched against. The path
    /// loses its leading `/` (`/pets/1` → `…/GET/pets/1`, `/` → `…/GET/`), as in AWS's
    /// examples.
    ///
    /// A WebSocket API's `$connect` (the only route such an authorizer guards there) has
    /// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect` (aws-facts §4.1).
    pub fn route_arn(&self) -> String {
        if self.route_key == "$connect" {
            return format!(
                "arn:aws:execute-api:{}:{}:{}/{}/$connect",
                self.region, self.account_id, self.api_id, self.stage
            );
        }
        let path = self.path.strip_prefix('/').unwrap_or(self.path);
        format!(
            "arn:aws:execute-api:{}:{}:{}/{}/{}/{}",
            self.region,
            self.account_id,
            self.api_id,
            self.stage,
            self.method.as_str(),
            path
        )
    }
}

/// Who the authorizer says the caller is, and what it passes on to the integration.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaPrincipal {
    /// The policy's `principalId` (`$context.authorizer.principalId`); `None` for simple
    /// responses, which have none.
    pub principal_id: Option<String>,
    /// The answer's `context` map, as the function returned it.
    pub context: Map<String, Value>,
    /// The policy's `usageIdentifierKey`: the API key for usage plans whose key source is
    /// the authorizer.
    pub usage_identifier_key: Option<String>,
}

impl LambdaPrincipal {
    /// `$context.authorizer.NAME`, rendered as a string: strings as they are, numbers and
    /// booleans as their JSON text, arrays and objects as JSON; `null` as absent. `principalId`
    /// and `usageIdentifierKey` answer from the policy when the context has no such key.
    pub fn context_value(&self, name: &str) -> Option<String> {
        match self.context.get(name) {
            Some(value) => render(value),
            None => match name {
                "principalId" => self.principal_id.clone(),
                "usageIdentifierKey" => self.usage_identifier_key.clone(),
                _ => None,
            },
        }
    }

    /// Payload format 2.0's `requestContext.authorizer`: `{"lambda": {…context…}}`, values
    /// as the function returned them (AWS guide: "`event.requestContext.authorizer.lambda`";
    /// fixture `example-apigw-v2-request-lambda-authorizer.json`).
    pub fn request_context_authorizer_v2(&self) -> Value {
        serde_json::json!({ "lambda": Value::Object(self.context.clone()) })
    }

    /// Payload format 1.0's `requestContext.authorizer`: the context keys at the top level,
    /// values stringified ("The returned values are all stringified",
    /// api-gateway-lambda-authorizer-output.md), plus `principalId` when the answer had one.
    pub fn request_context_authorizer_v1(&self) -> Value {
        let mut map: Map<String, Value> = self
            .context
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), Value::String(render(v)?))))
            .collect();
        if let Some(id) = &self.principal_id {
            map.insert("principalId".to_owned(), Value::String(id.clone()));
        }
        Value::Object(map)
    }
}

fn render(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// An HTTP API Lambda authorizer with its result cache. Cloning is cheap and shares the
/// cache and the HTTP client.
#[derive(Clone)]
pub struct RequestAuthorizer {
    inner: Arc<Inner>,
}

struct Inner {
    settings: RequestAuthorizerSettings,
    invoker: Invoker,
    /// `None` when the TTL is 0.
    cache: Option<Cache>,
}

impl fmt::Debug for RequestAuthorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestAuthorizer")
            .field("settings", &self.inner.settings)
            .field("invoke_uri", self.inner.invoker.uri())
            .field("cached_results", &self.cached_results())
            .finish()
    }
}

impl RequestAuthorizer {
    /// Checks the settings and builds the HTTP client. Nothing is invoked until the first
    /// request.
    pub fn new(settings: RequestAuthorizerSettings) -> Result<Self, RequestAuthConfigError> {
        settings.validate()?;
        let invoker = Invoker::new(&settings.endpoint, &settings.function, MAX_RESPONSE_BYTES)?;
        let cache = (!settings.result_ttl.is_zero())
            .then(|| Cache::new(settings.result_ttl, settings.cache_capacity));
        Ok(RequestAuthorizer {
            inner: Arc::new(Inner {
                settings,
                invoker,
                cache,
            }),
        })
    }

    /// The settings this authorizer was built with.
    pub fn settings(&self) -> &RequestAuthorizerSettings {
        &self.inner.settings
    }

    /// How many fresh answers are cached.
    pub fn cached_results(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, Cache::len)
    }

    /// Forgets every cached answer (e.g. after the function's logic changed).
    pub fn clear_cache(&self) {
        if let Some(cache) = &self.inner.cache {
            cache.clear();
        }
    }

    /// The identity source values of `req`, in order, or the first missing source.
    pub fn identity(&self, req: &AuthorizerRequest<'_>) -> Result<Vec<String>, RequestAuthError> {
        self.inner
            .settings
            .identity_sources
            .iter()
            .map(|source| {
                source
                    .value(req)
                    .ok_or_else(|| RequestAuthError::MissingIdentity {
                        identity_source: source.to_string(),
                    })
            })
            .collect()
    }

    /// The event the function would receive for `req` (JSON bytes), for logs and tests.
    pub fn event(&self, req: &AuthorizerRequest<'_>) -> Result<Vec<u8>, RequestAuthError> {
        let identity = self.identity(req)?;
        Ok(self.inner.build_event(req, &req.route_arn(), &identity))
    }

    /// Authorizes one request.
    ///
    /// A missing identity source is refused before anything else. A cached answer for the
    /// identity is evaluated without I/O; otherwise the function is invoked (or an
    /// invocation already running for the identity is joined) and waited for at most the
    /// timeout.
    pub async fn authorize(
        &self,
        req: &AuthorizerRequest<'_>,
    ) -> Result<LambdaPrincipal, RequestAuthError> {
        let inner = &self.inner;
        let identity = self.identity(req)?;
        let route_arn = req.route_arn();
        let response = match &inner.cache {
            None => {
                let event = inner.build_event(req, &route_arn, &identity);
                Arc::new(inner.invoke(event).await?)
            }
            Some(cache) => match cache.lookup(&identity) {
                Lookup::Hit(response) => response,
                Lookup::Join(rx) => wait(rx).await?,
                Lookup::Lead(tx, rx) => {
                    let event = inner.build_event(req, &route_arn, &identity);
                    let key = Key::from(identity);
                    self.spawn_invocation(key, event, tx);
                    wait(rx).await?
                }
            },
        };
        decide(&response, &route_arn)
    }

    /// Runs one shared invocation in its own task, so that the request that started it can
    /// go away without failing the others waiting on it.
    fn spawn_invocation(&self, key: Key, event: Vec<u8>, tx: OutcomeSender) {
        let flight = Flight {
            inner: Arc::clone(&self.inner),
            key,
            tx: Some(tx),
        };
        tokio::spawn(flight.run(event));
    }
}

/// One shared invocation. Dropping it unfinished (task cancelled at runtime shutdown, or a
/// panic) forgets it, which wakes its waiters with [`FunctionFailure::Aborted`].
struct Flight {
    inner: Arc<Inner>,
    key: Key,
    tx: Option<OutcomeSender>,
}

impl Flight {
    async fn run(mut self, event: Vec<u8>) {
        let outcome = self.inner.invoke(event).await.map(Arc::new);
        if let (Some(tx), Some(cache)) = (self.tx.take(), &self.inner.cache) {
            cache.complete(&self.key, tx, outcome);
        }
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        if self.tx.is_some() {
            if let Some(cache) = &self.inner.cache {
                cache.abandon(&self.key);
            }
        }
    }
}

async fn wait(mut rx: OutcomeReceiver) -> Result<Arc<AuthorizerResponse>, RequestAuthError> {
    let outcome = match rx.wait_for(Option::is_some).await {
        Ok(value) => value.clone(),
        Err(_) => None,
    };
    match outcome {
        Some(Ok(response)) => Ok(response),
        Some(Err(reason)) => Err(RequestAuthError::FunctionFailed { reason }),
        None => Err(RequestAuthError::FunctionFailed {
            reason: FunctionFailure::Aborted,
        }),
    }
}

fn decide(
    response: &AuthorizerResponse,
    route_arn: &str,
) -> Result<LambdaPrincipal, RequestAuthError> {
    match response.evaluate(route_arn) {
        Verdict::Allow => Ok(LambdaPrincipal {
            principal_id: response.principal_id.clone(),
            context: response.context.clone(),
            usage_identifier_key: response.usage_identifier_key.clone(),
        }),
        Verdict::ExplicitDeny => Err(RequestAuthError::Denied { explicit: true }),
        Verdict::ImplicitDeny => Err(RequestAuthError::Denied { explicit: false }),
    }
}

impl Inner {
    fn build_event(
        &self,
        req: &AuthorizerRequest<'_>,
        route_arn: &str,
        identity: &[String],
    ) -> Vec<u8> {
        let identity = (!self.settings.identity_sources.is_empty()).then_some(identity);
        match self.settings.payload_format {
            PayloadFormat::V2 => event::event_v2(req, route_arn, identity),
            PayloadFormat::V1 => event::event_v1(req, route_arn, identity),
        }
    }

    async fn invoke(&self, event: Vec<u8>) -> Result<AuthorizerResponse, FunctionFailure> {
        let settings = &self.settings;
        let result = match self.invoker.invoke(event, settings.timeout).await {
            Ok(output) => {
                policy::parse(&output, settings.payload_format, settings.simple_responses)
                    .map_err(FunctionFailure::MalformedResponse)
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            tracing::warn!(function = %settings.function, error = %e, "Lambda authorizer failed");
        }
        result
    }
}
