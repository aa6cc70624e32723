//! The validated model that `compile()` produces and the data plane consumes.
//!
//! Everything here has been checked: names resolve, route keys parse, templates parse, limits
//! are within AWS's bounds. The data plane never re-validates.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use http::{Method, StatusCode};

pub use crate::alerts::{AlertWebhook, Alerts, AnomalyAlerts, WebhookFormat};

/// A whole, validated gateway configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The file this configuration was loaded from.
    pub source: PathBuf,
    /// AWS account id reported in events and `$context.accountId`.
    pub account_id: String,
    /// Region reported in `domainName` and used for pricing later.
    pub region: String,
    /// Listeners in file order; every API is served on exactly one of them.
    pub listeners: Vec<Listener>,
    pub admin: AdminSettings,
    pub server: ServerSettings,
    pub access_log: Option<AccessLogSettings>,
    pub metering: MeteringSettings,
    /// Account-level throttle.
    pub throttle: Option<Throttle>,
    pub api_keys: Vec<ApiKey>,
    pub usage_plans: Vec<UsagePlan>,
    pub budgets: Vec<Budget>,
    /// Where alerts go and how often `serve` looks for anomalies (`None`: no anomaly alerts,
    /// budget alerts to their own webhooks only).
    pub alerts: Option<Alerts>,
    pub iam: Option<Iam>,
    pub apis: Vec<Api>,
}

/// IAM (SigV4) authorization settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iam {
    pub access_keys: Vec<IamAccessKey>,
    pub policies: Vec<IamPolicy>,
    pub clock_skew: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamAccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub principal: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamPolicy {
    pub allow: bool,
    pub principals: Vec<String>,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// A monthly dollar budget over the usage matching its scope.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub name: String,
    /// Index into `GatewayConfig::apis`.
    pub api: Option<usize>,
    /// Index into that API's stages.
    pub stage: Option<usize>,
    /// Index into `GatewayConfig::api_keys`.
    pub key: Option<usize>,
    /// USD, exact decimal text as written (`"25.00"`); parsed by whoever prices it.
    pub limit_usd: String,
    /// Ascending, deduplicated.
    pub alert_at_percent: Vec<u32>,
    pub webhook: Option<String>,
    pub on_limit: OnLimit,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OnLimit {
    Alert,
    Throttle(Throttle),
    Block,
}

/// A token bucket: `rate` requests per second, `burst` capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    pub rate: f64,
    pub burst: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: Option<String>,
    pub value: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UsagePlan {
    pub name: String,
    pub throttle: Option<Throttle>,
    pub quota: Option<Quota>,
    pub stages: Vec<PlanStage>,
    /// Indexes into `GatewayConfig::api_keys`.
    pub keys: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    pub period: QuotaPeriod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaPeriod {
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanStage {
    /// Index into `GatewayConfig::apis`.
    pub api: usize,
    /// Index into that API's `stages`.
    pub stage: usize,
    /// Per-route throttles for this plan's keys: (route index, throttle).
    pub route_throttle: Vec<(usize, Throttle)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorizer {
    pub name: String,
    pub kind: AuthorizerKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizerKind {
    Jwt(JwtAuthorizer),
    Request(RequestAuthorizer),
}

/// A request (Lambda) authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuthorizer {
    pub endpoint: String,
    pub function: String,
    pub payload_format: PayloadFormat,
    pub simple_responses: bool,
    /// As written: `$request.header.NAME`, `$request.querystring.NAME`, `$context.NAME`,
    /// `$stageVariables.NAME`.
    pub identity_sources: Vec<String>,
    pub result_ttl: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtAuthorizer {
    pub issuer: String,
    pub audiences: Vec<String>,
    /// The header carrying the token, lower-case (from `$request.header.NAME`).
    pub identity_header: String,
    pub jwks_uri: Option<String>,
}

/// Usage metering (docs/metering.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeteringSettings {
    pub enabled: bool,
    /// Ledger URL as written (`None`: the default `sqlite://tollgate.db`).
    pub store: Option<String>,
    pub flush_interval: Duration,
    pub minute_retention: Duration,
    pub buffer_records: usize,
    pub spill_path: Option<PathBuf>,
    pub billable: BillableSettings,
}

/// Whether usage is billable where AWS's rule is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillableSettings {
    pub unmatched_route: bool,
    pub cors_preflight: bool,
    pub malformed: bool,
    pub validation_failed: bool,
    pub cache_hit: bool,
    pub websocket_control: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub address: SocketAddr,
}

#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Default `127.0.0.1:9180`.
    pub address: SocketAddr,
    /// Bearer token for `/admin/*`; required (compile error) when `address` is not loopback.
    pub token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Runtime worker threads; `None` = one per core.
    pub workers: Option<usize>,
    /// Time allowed for a client to send the request line and headers (slowloris guard).
    pub header_read_timeout: Duration,
    /// Time allowed for a client to send the whole request body.
    pub body_read_timeout: Duration,
    /// Keep-alive connections idle longer than this are closed.
    pub idle_timeout: Duration,
    /// Deadline for draining in-flight requests on SIGTERM.
    pub shutdown_grace: Duration,
    /// Largest accepted request body (AWS: 10 MB).
    pub max_body_bytes: usize,
    /// Largest request line + header values (AWS HTTP API: 10,240 bytes).
    pub max_header_bytes: usize,
}

#[derive(Debug, Clone)]
pub struct AccessLogSettings {
    pub destination: LogDestination,
    /// An AWS access-log format string with `$context.*` variables.
    pub format: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDestination {
    Stdout,
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Rest,
    Websocket,
}

/// One API (an AWS `Api` / `RestApi`).
#[derive(Debug, Clone)]
pub struct Api {
    /// Short id as in `{id}.execute-api.{region}.amazonaws.com`; defaults to one derived from the name.
    pub id: String,
    pub name: String,
    pub protocol: Protocol,
    /// Index into `GatewayConfig::listeners`.
    pub listener: usize,
    /// Host names (custom domains) this API answers; empty = the listener's default API.
    /// Requests whose Host is `{id}.execute-api.*` also reach it.
    pub hosts: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub cors: Option<Cors>,
    pub stages: Vec<Stage>,
    pub routes: Vec<Route>,
    pub integrations: Vec<Integration>,
    pub authorizers: Vec<Authorizer>,
    /// Keys come from the request authorizer's `usageIdentifierKey` instead of `x-api-key`.
    pub api_key_from_authorizer: bool,
    /// WebSocket APIs only.
    pub websocket: Option<WebsocketApi>,
}

/// What a WebSocket API adds to an API (docs/websocket.md).
#[derive(Debug, Clone)]
pub struct WebsocketApi {
    /// The route selection expression as written.
    pub route_selection_text: String,
    /// The route selection expression: literal text and `$request.body.*` references.
    pub route_selection: Template,
    pub idle_timeout: Duration,
    pub max_duration: Duration,
    pub max_connections: Option<u32>,
    pub connections_per_second: u32,
    /// Messages waiting to be sent to one client.
    pub send_queue: usize,
    /// Indexed like `Api::integrations`: a mock integration's body as a template.
    pub mock_bodies: Vec<Option<Template>>,
    /// Route indexes of the predefined routes.
    pub connect: Option<usize>,
    pub disconnect: Option<usize>,
    pub default: Option<usize>,
    /// Custom route keys and their route indexes.
    pub custom: BTreeMap<String, usize>,
}

#[derive(Debug, Clone)]
pub struct Stage {
    /// `$default` or a name (alphanumerics, `-`, `_`).
    pub name: String,
    pub variables: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Default route throttle of the stage.
    pub throttle: Option<Throttle>,
    /// Per-route throttle, indexed like `Api::routes` (`None`: the stage's `throttle`).
    pub route_throttle: Vec<Option<Throttle>>,
}

impl Stage {
    pub fn is_default(&self) -> bool {
        self.name == "$default"
    }
}

#[derive(Debug, Clone)]
pub struct Route {
    /// The route key exactly as AWS writes it: `GET /pets/{id}`, `ANY /{proxy+}`, `$default`.
    pub key: String,
    pub matcher: RouteMatcher,
    /// Index into `Api::integrations`.
    pub integration: usize,
    /// Index into `Api::authorizers`.
    pub authorizer: Option<usize>,
    pub authorization_scopes: Vec<String>,
    pub api_key_required: bool,
    /// SigV4 with `GatewayConfig::iam`.
    pub aws_iam: bool,
    /// WebSocket: the integration's answer goes back to the client.
    pub route_response: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMatcher {
    /// The `$default` catch-all route.
    Default,
    /// A WebSocket route (`$connect`, `$disconnect` or a custom key), chosen by the route
    /// selection expression rather than by path.
    Websocket,
    Path {
        /// `None` means `ANY`.
        method: Option<Method>,
        /// The AWS path template, e.g. `/pets/{id}` or `/{proxy+}`.
        path: String,
    },
}

#[derive(Debug, Clone)]
pub struct Integration {
    pub name: String,
    pub kind: IntegrationKind,
    /// At most 30 s (AWS HTTP API maximum); default 30 s.
    pub timeout: Duration,
    /// Request parameter mapping, applied in file order.
    pub request_parameters: Vec<ParamMapping>,
    /// Response parameter mapping keyed by the integration's status code.
    pub response_parameters: BTreeMap<u16, Vec<ParamMapping>>,
}

#[derive(Debug, Clone)]
pub enum IntegrationKind {
    /// HTTP proxy: forward the request to `uri` (a template: `${stageVariables.x}` and `{param}`).
    HttpProxy {
        uri: Template,
        /// Method override; `None` forwards the client's method.
        method: Option<Method>,
    },
    /// A fixed response.
    Mock {
        status: StatusCode,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Lambda-style proxy: `POST {endpoint}/2015-03-31/functions/{function}/invocations`.
    Lambda {
        /// Base URL, `http://host:port` (no trailing slash).
        endpoint: String,
        /// Function name (may use `${stageVariables.x}`).
        function: Template,
        payload_format: PayloadFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    V1,
    V2,
}

#[derive(Debug, Clone)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub allow_credentials: bool,
    /// Seconds; `None` = header not sent.
    pub max_age: Option<u32>,
}

/// One `action:target` → value entry of AWS parameter mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamMapping {
    pub action: MappingAction,
    pub target: MappingTarget,
    /// The value expression; for `remove` AWS requires a value (conventionally `''`) and ignores it.
    pub value: Template,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingAction {
    Append,
    Overwrite,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingTarget {
    /// Header name, lower-cased.
    Header(String),
    /// Query string parameter name (case-sensitive).
    QueryString(String),
    /// `overwrite:path` (requests only).
    Path,
    /// `overwrite:statuscode` (responses only).
    StatusCode,
}

/// A value with literal text and `$…`/`${…}` references, parsed once at compile time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
}

impl Template {
    /// A template that is only literal text.
    pub fn literal(s: impl Into<String>) -> Self {
        Self {
            parts: vec![TemplatePart::Literal(s.into())],
        }
    }

    /// True when evaluation needs no request data.
    pub fn is_static(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, TemplatePart::Literal(_)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    Literal(String),
    Var(VarRef),
}

/// What a `$…` reference reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarRef {
    /// `$request.header.name` (name lower-cased; multiple values comma-joined).
    RequestHeader(String),
    /// `$request.querystring.name` (case-sensitive).
    RequestQueryString(String),
    /// `$request.body` (whole body).
    RequestBody,
    /// `$request.body.a.b[0]` as path segments.
    RequestBodyPath(Vec<JsonPathSegment>),
    /// `$request.path` (the path without the stage).
    RequestPath,
    /// `$request.path.name` or, in integration URIs, `{name}` / `{proxy}`.
    RequestPathParam(String),
    /// `$context.name` (any `$context` variable, e.g. `requestId`, `identity.sourceIp`).
    Context(String),
    /// `$stageVariables.name` / `${stageVariables.name}`.
    StageVariable(String),
    /// `$response.header.name`.
    ResponseHeader(String),
    /// `$response.body` (whole body).
    ResponseBody,
    /// `$response.body.a.b`.
    ResponseBodyPath(Vec<JsonPathSegment>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonPathSegment {
    Key(String),
    Index(usize),
}
