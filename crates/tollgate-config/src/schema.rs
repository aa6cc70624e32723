//! Raw configuration types: what the file says, before any semantic check.
//!
//! These types only know how to parse. They are strict (`deny_unknown_fields`), use snake_case
//! names with the unit in the name (`timeout_ms`, `max_age_seconds`), and every field carries a
//! doc comment, which becomes its description in the JSON Schema (`docs/config.schema.json`).
//!
//! Structs are flat on purpose: one [`Integration`] with a `type` field and optional fields for
//! every type, rather than a serde-tagged enum, so that a JSON-Schema error points at the one
//! wrong field instead of "no variant matched". `compile()` checks which fields fit which type.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The default `account_id`.
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";
/// The default `region`.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The default admin listener address.
pub const DEFAULT_ADMIN_ADDRESS: &str = "127.0.0.1:9180";
/// The default access-log format: AWS's JSON example (aws-facts §5.1, DG23 http-api-logging.md).
pub const DEFAULT_ACCESS_LOG_FORMAT: &str = r#"{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", "requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod","routeKey":"$context.routeKey", "status":"$context.status","protocol":"$context.protocol", "responseLength":"$context.responseLength" }"#;
/// AWS HTTP API payload size limit, 10 MB (aws-facts §2.2).
pub const MAX_BODY_BYTES: u64 = 10_485_760;
/// AWS HTTP API limit on the request line plus header values (aws-facts §2.2).
pub const DEFAULT_MAX_HEADER_BYTES: u64 = 10_240;
/// AWS HTTP API maximum integration timeout, 30 s (aws-facts §2.2).
pub const MAX_TIMEOUT_MS: u64 = 30_000;
/// Lower bound of an integration timeout (aws-facts §2.2, UNCONFIRMED there but AWS's API says 50).
pub const MIN_TIMEOUT_MS: u64 = 50;

/// A tollgate configuration file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "tollgate configuration")]
pub struct Config {
    /// AWS account id (12 digits) reported in Lambda events and `$context.accountId`.
    #[serde(default = "default_account_id")]
    pub account_id: String,
    /// AWS Region name (for example `us-east-1`), used in `domainName` and for pricing.
    #[serde(default = "default_region")]
    pub region: String,
    /// Addresses the gateway listens on; at least one. Every API is served on one of them.
    #[schemars(length(min = 1))]
    pub listeners: Vec<Listener>,
    /// The admin listener (`/metrics`, `/admin/*`, dashboard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<Admin>,
    /// Connection handling and request limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Server>,
    /// Access logging in AWS's `$context` format language; off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<AccessLog>,
    /// Usage metering into the ledger (on by default, with the embedded SQLite ledger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metering: Option<Metering>,
    /// Account-level throttling (token bucket) across every API. Off when absent; AWS applies
    /// 10000 requests/s with a burst of 5000 per account and Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Throttle>,
    /// API keys that usage plans admit (sent by clients in the `x-api-key` header).
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    /// Usage plans: throttling and quotas per API key, across the plan's API stages.
    #[serde(default)]
    pub usage_plans: Vec<UsagePlan>,
    /// Monthly budgets in dollars per API, stage or API key, priced from the ledger.
    #[serde(default)]
    pub budgets: Vec<Budget>,
    /// IAM (SigV4) authorization for routes with `authorization: aws_iam`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam: Option<Iam>,
    /// Alerts: cost anomalies found while serving, and budget thresholds, to the log and to
    /// webhooks (docs/alerts.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<crate::alerts::RawAlerts>,
    /// The APIs this gateway serves.
    #[serde(default)]
    pub apis: Vec<Api>,
}

fn default_account_id() -> String {
    DEFAULT_ACCOUNT_ID.to_owned()
}

fn default_region() -> String {
    DEFAULT_REGION.to_owned()
}

/// One listening socket.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// Name that APIs refer to in their `listener` field; unique.
    pub name: String,
    /// Socket address, `IP:PORT` (for example `0.0.0.0:8080` or `[::]:8080`; port 0 picks a free port).
    pub address: String,
}

/// The admin listener.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Socket address of the admin listener, `IP:PORT`.
    #[serde(default = "default_admin_address")]
    pub address: String,
    /// Bearer token required on `/admin/*`; mandatory when `address` is not a loopback address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

fn default_admin_address() -> String {
    DEFAULT_ADMIN_ADDRESS.to_owned()
}

/// Connection handling and request limits.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Runtime worker threads; one per CPU core when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub workers: Option<u64>,
    /// Time allowed for a client to send the request line and headers, in milliseconds.
    #[serde(default = "default_header_read_timeout_ms")]
    #[schemars(range(min = 1))]
    pub header_read_timeout_ms: u64,
    /// Time allowed for a client to send the whole request body, in milliseconds.
    #[serde(default = "default_body_read_timeout_ms")]
    #[schemars(range(min = 1))]
    pub body_read_timeout_ms: u64,
    /// Keep-alive connections idle longer than this are closed, in milliseconds.
    #[serde(default = "default_idle_timeout_ms")]
    #[schemars(range(min = 1))]
    pub idle_timeout_ms: u64,
    /// Deadline for draining in-flight requests on shutdown, in milliseconds.
    #[serde(default = "default_shutdown_grace_ms")]
    pub shutdown_grace_ms: u64,
    /// Largest accepted request body in bytes; at most 10485760 (AWS HTTP API payload limit, 10 MB).
    #[serde(default = "default_max_body_bytes")]
    #[schemars(range(max = 10_485_760))]
    pub max_body_bytes: u64,
    /// Largest request line plus header values in bytes (AWS HTTP API: 10240).
    #[serde(default = "default_max_header_bytes")]
    #[schemars(range(min = 1))]
    pub max_header_bytes: u64,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            workers: None,
            header_read_timeout_ms: default_header_read_timeout_ms(),
            body_read_timeout_ms: default_body_read_timeout_ms(),
            idle_timeout_ms: default_idle_timeout_ms(),
            shutdown_grace_ms: default_shutdown_grace_ms(),
            max_body_bytes: default_max_body_bytes(),
            max_header_bytes: default_max_header_bytes(),
        }
    }
}

fn default_header_read_timeout_ms() -> u64 {
    10_000
}
fn default_body_read_timeout_ms() -> u64 {
    30_000
}
fn default_idle_timeout_ms() -> u64 {
    60_000
}
fn default_shutdown_grace_ms() -> u64 {
    30_000
}
fn default_max_body_bytes() -> u64 {
    MAX_BODY_BYTES
}
fn default_max_header_bytes() -> u64 {
    DEFAULT_MAX_HEADER_BYTES
}

/// A token bucket (AWS throttling settings): `rate` requests per second refill a bucket of
/// `burst` requests; a request takes one token or is answered 429.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Steady-state requests per second; may be fractional (0.5 = one every 2 s); 0 admits
    /// nothing.
    #[schemars(range(min = 0.0))]
    pub rate: f64,
    /// Bucket capacity: how many requests may arrive at once.
    pub burst: u32,
}

/// An API key.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Identifier shown in reports and the admin API (never the value); unique.
    pub id: String,
    /// The secret clients send in `x-api-key`; unique. AWS requires 20 to 128 characters.
    pub value: String,
    /// A description for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A disabled key is refused like an unknown one (403).
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A usage plan.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsagePlan {
    /// Name; unique.
    pub name: String,
    /// Throttling per API key, for every stage of the plan (unless a route has its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Throttle>,
    /// Requests allowed per API key and period, counted across all of the plan's stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// The API stages the plan covers.
    #[serde(default)]
    pub stages: Vec<PlanStage>,
    /// Ids of the API keys in the plan.
    #[serde(default)]
    pub keys: Vec<String>,
}

/// A usage plan quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Requests per period.
    pub limit: u64,
    /// `DAY`, `WEEK` or `MONTH` (UTC).
    pub period: QuotaPeriod,
}

/// A quota period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum QuotaPeriod {
    #[serde(rename = "DAY")]
    Day,
    #[serde(rename = "WEEK")]
    Week,
    #[serde(rename = "MONTH")]
    Month,
}

/// An API stage in a usage plan.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanStage {
    /// The API's name.
    pub api: String,
    /// The stage's name (`$default` for the default stage).
    #[serde(default = "default_stage_name")]
    pub stage: String,
    /// Per-route throttling for keys of this plan, by route key (`GET /pets`).
    #[serde(default)]
    pub route_throttle: BTreeMap<String, Throttle>,
}

fn default_stage_name() -> String {
    "$default".to_owned()
}

/// A monthly budget in dollars. Its scope is the usage matching every field given among
/// `api`, `stage` and `key` (at least one).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Name; unique. Alerts and the admin API use it.
    pub name: String,
    /// An API's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// A stage name of `api` (requires `api`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// An API key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The monthly limit in US dollars, as a decimal string (`"25.00"`).
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?$"))]
    pub limit_usd: String,
    /// Alert when the month's spend crosses these percentages of the limit.
    #[serde(default = "default_alert_percent")]
    pub alert_at_percent: Vec<u32>,
    /// An `http://` URL that receives each alert as a JSON POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// What happens once the limit is reached: `alert` (nothing more), `throttle` (the scope's
    /// requests share the `throttle` bucket) or `block` (429 until the month ends or the
    /// limit is raised).
    #[serde(default)]
    pub on_limit: OnLimit,
    /// The bucket for `on_limit: throttle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Throttle>,
}

fn default_alert_percent() -> Vec<u32> {
    vec![50, 80, 100]
}

/// What a budget does at its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnLimit {
    #[default]
    Alert,
    Throttle,
    Block,
}

/// An authorizer: `jwt` (verifies a JWT) or `request` (asks a Lambda-style function).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Authorizer {
    /// Authorizer type: `jwt` or `request`.
    #[serde(rename = "type")]
    pub kind: AuthorizerType,
    /// jwt (required): the token issuer (`iss`), an `http://` or `https://` URL; its JWKS is
    /// found through `{issuer}/.well-known/openid-configuration` unless `jwks_uri` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// jwt (required): accepted audiences, matched against the token's `aud` or `client_id`.
    #[serde(default)]
    pub audience: Vec<String>,
    /// Where the identity is: jwt: one `$request.header.NAME` (default
    /// `$request.header.Authorization`); request: any of `$request.header.NAME`,
    /// `$request.querystring.NAME`, `$context.NAME`, `$stageVariables.NAME` (default
    /// `$request.header.Authorization`); a request without one of them is refused (401)
    /// without calling the function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_source: Option<Vec<String>>,
    /// jwt: the JWKS URL, instead of OpenID discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// request (required): base URL of a Lambda-compatible Invoke API, `http://host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// request (required): the function's name or ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// request: the event format, `"2.0"` (default) or `"1.0"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_format_version: Option<PayloadFormatVersion>,
    /// request, 2.0: the function answers `{"isAuthorized": bool, "context": {}}` instead of
    /// an IAM policy.
    #[serde(default)]
    pub enable_simple_responses: bool,
    /// request: how long an answer is reused for the same identity, 0 to 3600 seconds;
    /// default 300 (0: ask every time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 3600))]
    pub result_ttl_seconds: Option<u64>,
}

/// The authorizer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizerType {
    Jwt,
    Request,
}

/// Usage metering (docs/metering.md). Changes take effect on restart, not on reload.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metering {
    /// Meter every request into the ledger. Off only for benchmarks and tests.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Ledger URL: `sqlite://PATH` (relative to the working directory) or `sqlite:///ABSOLUTE`.
    /// Default `sqlite://tollgate.db`; `tollgate serve --store URL` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// How often counters are written to the ledger, in milliseconds (100 to 60000). A crash
    /// loses at most about this much usage.
    #[serde(default = "default_flush_interval_ms")]
    #[schemars(range(min = 100, max = 60_000))]
    pub flush_interval_ms: u64,
    /// Minute rows older than this many hours are rolled up into hour rows.
    #[serde(default = "default_minute_retention_hours")]
    #[schemars(range(min = 1))]
    pub minute_retention_hours: u64,
    /// Records held in memory while the ledger cannot be written; beyond this they are
    /// appended to the spill file and replayed when the ledger is back.
    #[serde(default = "default_buffer_records")]
    #[schemars(range(min = 1))]
    pub buffer_records: u64,
    /// The spill file; default: the ledger file's path with `.spill` appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spill_path: Option<String>,
    /// Whether usage is billable in the cases AWS's documentation does not settle
    /// (docs/metering.md lists what is fixed and why).
    #[serde(default)]
    pub billable: Billable,
}

impl Default for Metering {
    fn default() -> Self {
        Self {
            enabled: true,
            store: None,
            flush_interval_ms: default_flush_interval_ms(),
            minute_retention_hours: default_minute_retention_hours(),
            buffer_records: default_buffer_records(),
            spill_path: None,
            billable: Billable::default(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_flush_interval_ms() -> u64 {
    1_000
}
fn default_minute_retention_hours() -> u64 {
    168
}
fn default_buffer_records() -> u64 {
    100_000
}

/// Billable or not, where AWS's rule is unknown (aws-facts.md §1.8 and §9). The defaults
/// count a request AWS received as billable: a cost tool should not under-report.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Billable {
    /// Requests that matched no route (HTTP API 404).
    #[serde(default = "yes")]
    pub unmatched_route: bool,
    /// CORS preflight requests answered by the gateway.
    #[serde(default = "yes")]
    pub cors_preflight: bool,
    /// Requests rejected as malformed or over a limit (400, 408, 413, 431), and requests
    /// whose client went away before the integration was called.
    #[serde(default = "yes")]
    pub malformed: bool,
    /// Requests that failed request validation (REST APIs).
    #[serde(default = "yes")]
    pub validation_failed: bool,
    /// Requests answered from the stage cache (REST APIs).
    #[serde(default = "yes")]
    pub cache_hit: bool,
    /// WebSocket `$connect`/`$disconnect` events and control frames, counted as messages.
    #[serde(default)]
    pub websocket_control: bool,
}

impl Default for Billable {
    fn default() -> Self {
        Self {
            unmatched_route: true,
            cors_preflight: true,
            malformed: true,
            validation_failed: true,
            cache_hit: true,
            websocket_control: false,
        }
    }
}

/// Access logging.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLog {
    /// `stdout`, or the path of a file to append to.
    #[serde(default = "default_log_destination")]
    pub destination: String,
    /// An AWS access-log format: one line, at most 3072 bytes, containing `$context.requestId` or
    /// `$context.extendedRequestId`, using only HTTP API `$context` variables.
    #[serde(default = "default_log_format")]
    pub format: String,
}

fn default_log_destination() -> String {
    "stdout".to_owned()
}

fn default_log_format() -> String {
    DEFAULT_ACCESS_LOG_FORMAT.to_owned()
}

/// The API type: `http` (HTTP API), `rest` (REST API, not supported yet) or `websocket`
/// (WebSocket API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Http,
    Rest,
    Websocket,
}

/// One API (an AWS HTTP API).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Name of the API; unique.
    pub name: String,
    /// API id as in `{id}.execute-api.{region}.amazonaws.com`: 1 to 10 lowercase letters and
    /// digits, unique. Derived from `name` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// API type.
    #[serde(default)]
    pub protocol: Protocol,
    /// Name of the listener serving this API; may be left out when there is one listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener: Option<String>,
    /// Host names (custom domains) this API answers on its listener. Without hosts, the API is
    /// the listener's default API (at most one per listener).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Tags, at most 50; reports can group by them.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 50))]
    pub tags: BTreeMap<String, String>,
    /// CORS: when present, preflight requests are answered and CORS headers are added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Cors>,
    /// Stages, at most 10; one `$default` stage when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10))]
    pub stages: Option<Vec<Stage>>,
    /// Routes, at most 300.
    #[serde(default)]
    #[schemars(length(max = 300))]
    pub routes: Vec<Route>,
    /// Integrations by name, at most 300.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 300))]
    pub integrations: BTreeMap<String, Integration>,
    /// Authorizers by name, at most 10; routes refer to them.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 10))]
    pub authorizers: BTreeMap<String, Authorizer>,
    /// Where routes with `api_key_required` find the key: `header` (`x-api-key`, default) or
    /// `authorizer` (the `usageIdentifierKey` a request authorizer returns).
    #[serde(default)]
    pub api_key_source: ApiKeySource,
    /// websocket: how a message picks its route (AWS `RouteSelectionExpression`):
    /// `$request.body.NAME` (default `$request.body.action`), text with
    /// `${request.body.NAME}` references such as `${request.body.service}/${request.body.action}`,
    /// or static text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_selection_expression: Option<String>,
    /// websocket: connection limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket: Option<WebsocketLimits>,
}

/// Limits of a WebSocket API's connections (aws-facts.md §2.4).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebsocketLimits {
    /// A connection with no message in either direction for this long is closed (1001);
    /// default 600 (AWS: 10 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86_400))]
    pub idle_timeout_seconds: Option<u64>,
    /// A connection open this long is closed (1001); default 7200 (AWS: 2 hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86_400))]
    pub max_duration_seconds: Option<u64>,
    /// Open connections allowed at once on this API; unlimited when absent (AWS enforces none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_connections: Option<u32>,
    /// New connections accepted per second on this API (a token bucket of that rate and
    /// burst); default 500 (AWS's account quota).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub connections_per_second: Option<u32>,
    /// Messages waiting to be sent to one client (route responses and `@connections` posts);
    /// a post beyond it gets 429 `LimitExceededException`. Default 256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65_536))]
    pub send_queue: Option<u32>,
}

/// Where an API's key comes from (AWS `apiKeySource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeySource {
    #[default]
    Header,
    Authorizer,
}

/// CORS settings (AWS `CorsConfiguration`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    /// Allowed origins (`Access-Control-Allow-Origin`), for example `https://example.com` or `*`.
    #[serde(default)]
    pub allow_origins: Vec<String>,
    /// Allowed methods (`Access-Control-Allow-Methods`), for example `GET` or `*`.
    #[serde(default)]
    pub allow_methods: Vec<String>,
    /// Allowed request headers (`Access-Control-Allow-Headers`), for example `authorization` or `*`.
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Response headers exposed to the browser (`Access-Control-Expose-Headers`).
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true`; not allowed with origin `*`.
    #[serde(default)]
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age` in seconds; not sent when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u32>,
}

/// A stage.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// `$default` (served at the API's base path) or 1 to 128 letters, digits, `-` and `_`
    /// (served under `/{name}`).
    pub name: String,
    /// Stage variables, at most 100: names of 1 to 64 letters, digits and `_`; values of at most
    /// 512 characters.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 100))]
    pub variables: BTreeMap<String, String>,
    /// Tags, at most 50.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 50))]
    pub tags: BTreeMap<String, String>,
    /// Throttling of every route of the stage (AWS `DefaultRouteSettings`); at most the
    /// account's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Throttle>,
    /// Throttling of single routes by route key (AWS `RouteSettings`), instead of `throttle`.
    #[serde(default)]
    pub route_throttle: BTreeMap<String, Throttle>,
}

/// A route.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Route key: `$default`, or `METHOD /path` with METHOD one of GET, POST, PUT, DELETE, PATCH,
    /// HEAD, OPTIONS, ANY, and path segments that are literal, `{name}`, or a final `{name+}`.
    pub key: String,
    /// Name of one of the API's integrations.
    pub integration: String,
    /// Name of one of the API's authorizers; requests it denies get 401 or 403.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer: Option<String>,
    /// jwt authorizer: the token must carry at least one of these scopes (`scope`/`scp`).
    #[serde(default)]
    pub authorization_scopes: Vec<String>,
    /// Require an API key (`x-api-key`) that is in a usage plan covering this stage.
    #[serde(default)]
    pub api_key_required: bool,
    /// `aws_iam`: require a SigV4 signature from one of `iam.access_keys`, allowed by
    /// `iam.policies` (instead of an `authorizer`); `none` (default).
    #[serde(default)]
    pub authorization: RouteAuthorization,
    /// websocket: send the integration's answer back to the client (AWS route response
    /// `$default`). Not allowed on `$connect` and `$disconnect`.
    #[serde(default)]
    pub route_response: bool,
}

/// A route's built-in authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteAuthorization {
    #[default]
    None,
    AwsIam,
}

/// IAM authorization: the access keys that may sign requests (SigV4, service
/// `execute-api`) and the policies that allow them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Iam {
    /// Access keys; at least one.
    pub access_keys: Vec<IamAccessKey>,
    /// Policies: a request needs an `Allow` that matches and no `Deny` that matches.
    #[serde(default)]
    pub policies: Vec<IamPolicy>,
    /// Accepted clock difference of a signature's time, in seconds; default 900 (15 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub clock_skew_seconds: Option<u64>,
}

/// An access key.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IamAccessKey {
    /// The access key id (`AKIA...`).
    pub access_key_id: String,
    /// The secret; never printed in errors.
    pub secret_access_key: String,
    /// For temporary credentials: the session token the client must send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// Who the key belongs to (an ARN or a name): what policies name, `$context.identity.userArn`
    /// and the meter's client. Default: the access key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

/// A policy statement.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IamPolicy {
    /// `Allow` or `Deny`.
    pub effect: IamEffect,
    /// Principals (or access key ids) it applies to; `*` for all.
    pub principals: Vec<String>,
    /// Actions, e.g. `execute-api:Invoke`; `*` and `?` wildcards.
    #[serde(default = "default_iam_actions")]
    pub actions: Vec<String>,
    /// Resources: `arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH`, `*` and `?`
    /// wildcards.
    pub resources: Vec<String>,
}

fn default_iam_actions() -> Vec<String> {
    vec!["execute-api:Invoke".to_owned()]
}

/// A policy effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum IamEffect {
    Allow,
    Deny,
}

/// The integration type: `http_proxy` (forward to `uri`), `mock` (fixed response), `lambda`
/// (invoke a function through a Lambda-compatible `endpoint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationType {
    HttpProxy,
    Mock,
    Lambda,
}

/// The Lambda event payload format version: `"2.0"` or `"1.0"` (quoted: YAML reads 2.0 as a number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum PayloadFormatVersion {
    #[serde(rename = "2.0")]
    V2,
    #[serde(rename = "1.0")]
    V1,
}

/// An integration. Fields other than `type`, `timeout_ms`, `request_parameters` and
/// `response_parameters` apply to one type only.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// Integration type.
    #[serde(rename = "type")]
    pub kind: IntegrationType,
    /// http_proxy (required): target URL, `http://` (`https://` is not supported yet); may use
    /// `${stageVariables.NAME}` and the route's path parameters `{name}` (`{proxy}` for a
    /// greedy `{proxy+}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// http_proxy: method sent to the target (GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, or
    /// ANY); the client's method when absent or ANY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// mock: response status code, 100 to 599; default 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<u16>,
    /// mock: response headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// mock: response body; default empty. On a WebSocket API it may use `$request.body`,
    /// `$request.body.NAME`, `$context.*` and `$stageVariables.*` like a mapping value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// lambda (required): base URL of a Lambda-compatible Invoke API, `http://host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// lambda (required): function name or ARN; may use `${stageVariables.NAME}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// lambda: event payload format version; default `"2.0"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_format_version: Option<PayloadFormatVersion>,
    /// Integration timeout in milliseconds, 50 to 30000 (AWS HTTP API maximum); default 30000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 50, max = 30_000))]
    pub timeout_ms: Option<u64>,
    /// Request parameter mapping, `"ACTION:TARGET": VALUE`: ACTION:TARGET is
    /// `append|overwrite|remove:header.NAME`, `append|overwrite|remove:querystring.NAME` or
    /// `overwrite:path`; VALUE is static text, `$request.*`, `$context.*`, `$stageVariables.*`,
    /// or text with `${...}` references. Applied in file order.
    #[serde(default)]
    pub request_parameters: BTreeMap<String, String>,
    /// Response parameter mapping by integration status code (200 to 599):
    /// `"STATUS": {"ACTION:TARGET": VALUE}` with `append|overwrite|remove:header.NAME` or
    /// `overwrite:statuscode`; VALUE may use `$response.*`, `$context.*`, `$stageVariables.*`.
    #[serde(default)]
    pub response_parameters: BTreeMap<String, BTreeMap<String, String>>,
}
