//! API Gateway access logs (JSON lines, as CloudWatch Logs exports them) metered as the
//! gateway meters requests: the same units, minute buckets, dimensions and billable reasons
//! (docs/aws-import.md, "Access logs").
//!
//! - [`FieldMap`] says which JSON key holds which `$context` variable: taken from the format
//!   string the user configured ([`FieldMap::from_format`]), or the common key names
//!   ([`FieldMap::auto`]).
//! - [`AccessLogMeter`] turns one line into usage cells and sums them.
//! - [`read_access_log`] streams a file (plain or gzip), hands the sums to a sink in chunks of
//!   [`CHUNK_LINES`] lines as [`UsageBatch`]es whose ids derive from a caller-given prefix (the
//!   file's content hash) and the chunk index, so re-importing a file is a no-op.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tollgate_meter::{http_request_units, BillingPolicy};
use tollgate_types::usage::{
    Reason, Tags, UsageBatch, UsageCounts, UsageKey, UsageMeter, UsageRecord,
};

use crate::{Location, Malformed};

/// Lines per batch. Fixed: batch ids are the file hash plus the chunk index, so the same file
/// must always be cut at the same lines.
pub const CHUNK_LINES: u64 = 50_000;

/// The kind of API whose log is read: it decides the meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiType {
    /// HTTP API: `http_requests`, one unit per started 512 KB of request payload.
    Http,
    /// REST API: `rest_requests`, one per request.
    Rest,
    /// WebSocket API: `websocket_messages` and `websocket_connection_ms`.
    Websocket,
}

/// A `$context` variable the meter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `requestId` / `extendedRequestId`.
    RequestId,
    /// `identity.sourceIp`.
    SourceIp,
    /// `requestTime` (CLF).
    RequestTime,
    /// `requestTimeEpoch` (milliseconds).
    RequestTimeEpoch,
    /// `httpMethod`.
    HttpMethod,
    /// `routeKey`.
    RouteKey,
    /// `resourcePath` (REST).
    ResourcePath,
    /// `status`.
    Status,
    /// `responseLength`.
    ResponseLength,
    /// `dataProcessed`.
    DataProcessed,
    /// `stage`.
    Stage,
    /// `apiId`.
    ApiId,
    /// `eventType` (WebSocket).
    EventType,
    /// `connectionId` (WebSocket).
    ConnectionId,
    /// `connectedAt` (WebSocket, milliseconds).
    ConnectedAt,
    /// `integrationStatus`, `integration.status`, `integration.integrationStatus`.
    IntegrationStatus,
    /// `error.responseType`.
    ErrorResponseType,
    /// `authorizer.principalId`, `authorizer.claims.sub`, `identity.userArn`: who the gateway
    /// meters the request to instead of the source IP.
    Principal,
    /// `identity.apiKeyId`.
    ApiKeyId,
}

impl Field {
    /// The field a `$context` variable name feeds, if the meter reads it.
    pub fn from_variable(name: &str) -> Option<Field> {
        Some(match name {
            "requestId" | "extendedRequestId" => Field::RequestId,
            "identity.sourceIp" => Field::SourceIp,
            "requestTime" => Field::RequestTime,
            "requestTimeEpoch" => Field::RequestTimeEpoch,
            "httpMethod" => Field::HttpMethod,
            "routeKey" => Field::RouteKey,
            "resourcePath" => Field::ResourcePath,
            "status" => Field::Status,
            "responseLength" => Field::ResponseLength,
            "dataProcessed" => Field::DataProcessed,
            "stage" => Field::Stage,
            "apiId" => Field::ApiId,
            "eventType" => Field::EventType,
            "connectionId" => Field::ConnectionId,
            "connectedAt" => Field::ConnectedAt,
            "integrationStatus" | "integration.status" | "integration.integrationStatus" => {
                Field::IntegrationStatus
            }
            "error.responseType" => Field::ErrorResponseType,
            "authorizer.principalId" | "authorizer.claims.sub" | "identity.userArn" => {
                Field::Principal
            }
            "identity.apiKeyId" => Field::ApiKeyId,
            _ => return None,
        })
    }
}

/// Which JSON key (a path into nested objects) holds each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMap {
    /// Every path that may hold each field, tried in order.
    paths: HashMap<Field, Vec<Vec<String>>>,
    /// Whether the map came from a format string (so an absent key means "not logged").
    from_format: bool,
}

/// The key names auto-detection knows: AWS's example formats, the variable names themselves
/// and a few common spellings.
const AUTO_KEYS: &[(&str, Field)] = &[
    ("requestId", Field::RequestId),
    ("extendedRequestId", Field::RequestId),
    ("ip", Field::SourceIp),
    ("sourceIp", Field::SourceIp),
    ("identity.sourceIp", Field::SourceIp),
    ("clientIp", Field::SourceIp),
    ("requestTime", Field::RequestTime),
    ("requestTimeEpoch", Field::RequestTimeEpoch),
    ("httpMethod", Field::HttpMethod),
    ("method", Field::HttpMethod),
    ("routeKey", Field::RouteKey),
    ("resourcePath", Field::ResourcePath),
    ("status", Field::Status),
    ("responseLength", Field::ResponseLength),
    ("dataProcessed", Field::DataProcessed),
    ("stage", Field::Stage),
    ("apiId", Field::ApiId),
    ("eventType", Field::EventType),
    ("connectionId", Field::ConnectionId),
    ("connectedAt", Field::ConnectedAt),
    ("integrationStatus", Field::IntegrationStatus),
    ("integration.status", Field::IntegrationStatus),
    ("integration.integrationStatus", Field::IntegrationStatus),
    ("error.responseType", Field::ErrorResponseType),
    ("errorResponseType", Field::ErrorResponseType),
    ("responseType", Field::ErrorResponseType),
    ("principalId", Field::Principal),
    ("authorizer.principalId", Field::Principal),
    ("apiKeyId", Field::ApiKeyId),
    ("identity.apiKeyId", Field::ApiKeyId),
];

/// Why a format string cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatStringError {
    /// Not a JSON object once its variables are put in (CLF, CSV and XML logs are not read).
    #[error("the format string is not a JSON object (only JSON access logs are read): {0}")]
    NotJson(String),
    /// No key holds a variable the meter needs.
    #[error("the format string names no $context.{0}, which the meter needs")]
    Missing(&'static str),
}

impl FieldMap {
    /// The common key names ([`AUTO_KEYS`]): a key is looked up as written and as a path of
    /// nested objects (`error.responseType` or `{"error":{"responseType":…}}`).
    pub fn auto() -> Self {
        let mut paths: HashMap<Field, Vec<Vec<String>>> = HashMap::new();
        for (key, field) in AUTO_KEYS {
            let e = paths.entry(*field).or_default();
            e.push(vec![(*key).to_owned()]);
            if key.contains('.') {
                e.push(key.split('.').map(str::to_owned).collect());
            }
        }
        Self {
            paths,
            from_format: false,
        }
    }

    /// The keys of a JSON format string such as AWS's example
    /// `{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", … }`. A key maps
    /// to a variable when its value is exactly that variable (quoted or not; nested objects
    /// give dotted paths); values mixing text and variables, and variables the meter does not
    /// read, are ignored. Needs at least the status, and a request time.
    pub fn from_format(format: &str) -> Result<Self, FormatStringError> {
        let (json, vars) = substitute_variables(format);
        let value: Value =
            serde_json::from_str(&json).map_err(|e| FormatStringError::NotJson(e.to_string()))?;
        let Value::Object(obj) = value else {
            return Err(FormatStringError::NotJson("not an object".into()));
        };
        let mut paths: HashMap<Field, Vec<Vec<String>>> = HashMap::new();
        let mut stack: Vec<(Vec<String>, &Map<String, Value>)> = vec![(Vec::new(), &obj)];
        while let Some((prefix, map)) = stack.pop() {
            for (k, v) in map {
                let mut path = prefix.clone();
                path.push(k.clone());
                match v {
                    Value::Object(inner) => stack.push((path, inner)),
                    Value::String(s) => {
                        let field = placeholder_index(s)
                            .and_then(|i| vars.get(i))
                            .and_then(|name| Field::from_variable(name));
                        if let Some(f) = field {
                            paths.entry(f).or_default().push(path);
                        }
                    }
                    _ => {}
                }
            }
        }
        if !paths.contains_key(&Field::Status) && !paths.contains_key(&Field::EventType) {
            return Err(FormatStringError::Missing("status"));
        }
        if !paths.contains_key(&Field::RequestTimeEpoch) && !paths.contains_key(&Field::RequestTime)
        {
            return Err(FormatStringError::Missing(
                "requestTime or requestTimeEpoch",
            ));
        }
        Ok(Self {
            paths,
            from_format: true,
        })
    }

    /// Whether the format string logs `field` (auto-detection: whether it may be present).
    pub fn has(&self, field: Field) -> bool {
        self.paths.contains_key(&field)
    }

    /// The value of `field` in a line: `None` when the key is absent, and for AWS's "no value"
    /// (`-`) and empty strings.
    fn get<'a>(&self, obj: &'a Map<String, Value>, field: Field) -> Lookup<'a> {
        let Some(paths) = self.paths.get(&field) else {
            return Lookup::NotLogged;
        };
        for path in paths {
            if let Some(v) = lookup(obj, path) {
                return match v {
                    Value::String(s) if s.is_empty() || s == "-" => Lookup::NoValue,
                    Value::Null => Lookup::NoValue,
                    Value::String(s) => Lookup::Value(Cow::Borrowed(s.as_str())),
                    Value::Number(n) => Lookup::Value(Cow::Owned(n.to_string())),
                    Value::Bool(b) => Lookup::Value(Cow::Owned(b.to_string())),
                    _ => Lookup::NoValue,
                };
            }
        }
        if self.from_format {
            // The format names the key but the line lacks it: treat as no value.
            Lookup::NoValue
        } else {
            Lookup::NotLogged
        }
    }
}

/// A field's value in one line.
enum Lookup<'a> {
    /// The key is not in the log at all.
    NotLogged,
    /// The key is there without a value (`-`).
    NoValue,
    Value(Cow<'a, str>),
}

impl<'a> Lookup<'a> {
    fn value(self) -> Option<Cow<'a, str>> {
        match self {
            Lookup::Value(v) => Some(v),
            _ => None,
        }
    }
}

fn lookup<'a>(obj: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut map = obj;
    for p in parents {
        map = map.get(p)?.as_object()?;
    }
    map.get(last)
}

const PLACEHOLDER: &str = "@@tollgate-var:";

fn placeholder_index(s: &str) -> Option<usize> {
    s.strip_prefix(PLACEHOLDER)?
        .strip_suffix("@@")?
        .parse()
        .ok()
}

/// Replace each `$context.NAME` (or `${context.NAME}`) of a format string by a placeholder,
/// quoted when the variable stood outside a JSON string. Returns the text and the names. A
/// name runs over letters, digits, `.` and `_`, not ending in `.` (as tollgate's access log
/// reads it).
fn substitute_variables(format: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(format.len() + 16);
    let mut vars = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = format;
    while let Some(c) = rest.chars().next() {
        if c == '$' {
            if let Some((name, consumed)) = tollgate_types::context_ref(&rest[1..]) {
                let placeholder = format!("{PLACEHOLDER}{}@@", vars.len());
                vars.push(name.to_owned());
                if in_string {
                    out.push_str(&placeholder);
                } else {
                    out.push('"');
                    out.push_str(&placeholder);
                    out.push('"');
                }
                rest = &rest[1 + consumed..];
                escaped = false;
                continue;
            }
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    (out, vars)
}

/// `22/Nov/2026:05:01:02 +0000` (CLF, `$context.requestTime`) as Unix seconds.
pub fn parse_clf_time(s: &str) -> Option<i64> {
    tollgate_types::time_fmt::parse_clf(s).map(|t| t.unix_timestamp())
}

/// What the meter needs besides the lines.
#[derive(Debug, Clone)]
pub struct MeterOptions {
    /// The kind of API.
    pub api_type: ApiType,
    /// The keys.
    pub fields: FieldMap,
    /// The region whose prices apply.
    pub region: String,
    /// The API id when the log does not say (`$context.apiId` not logged).
    pub api_id: Option<String>,
    /// The stage when the log does not say.
    pub stage: Option<String>,
    /// Which reasons are billable (the gateway's `metering.billable` settings).
    pub policy: BillingPolicy,
}

/// A line that could not be metered (counted and reported with its file and line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The field at fault, when one is.
    pub field: Option<&'static str>,
    /// What is wrong.
    pub message: String,
}

impl LineError {
    fn new(field: Option<&'static str>, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = self.field {
            write!(f, "{c}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// What a line was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Empty or whitespace: skipped, not an error.
    Blank,
    /// Metered.
    Metered,
}

/// Sums the usage of access-log lines, as the gateway's meter sums requests.
#[derive(Debug)]
pub struct AccessLogMeter {
    opts: MeterOptions,
    cells: HashMap<UsageKey, UsageCounts>,
    /// WebSocket: when each open connection started (Unix ms), from its CONNECT line, for
    /// DISCONNECT lines that do not log `connectedAt`.
    connects: HashMap<String, i64>,
    /// DISCONNECT lines whose connection time could not be known.
    unknown_durations: u64,
}

impl AccessLogMeter {
    /// A meter with nothing counted.
    pub fn new(opts: MeterOptions) -> Self {
        Self {
            opts,
            cells: HashMap::new(),
            connects: HashMap::new(),
            unknown_durations: 0,
        }
    }

    /// DISCONNECT lines whose connection time could not be metered (neither `connectedAt`
    /// nor the CONNECT line was in the log).
    pub fn unknown_durations(&self) -> u64 {
        self.unknown_durations
    }

    /// Meter one line: a JSON object, or CloudWatch's export form `TIMESTAMP {json}`.
    pub fn add_line(&mut self, line: &str) -> Result<LineKind, LineError> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(LineKind::Blank);
        }
        let json = match line.find('{') {
            Some(0) => line,
            // CloudWatch Logs' export: `2026-11-22T05:01:02.000Z {…}`.
            Some(i) if !line[..i].trim().contains(' ') => &line[i..],
            _ => return Err(LineError::new(None, "not a JSON object")),
        };
        let obj: Map<String, Value> = serde_json::from_str(json)
            .map_err(|e| LineError::new(None, format!("not a JSON object: {e}")))?;
        self.add_object(&obj)?;
        Ok(LineKind::Metered)
    }

    fn add_object(&mut self, obj: &Map<String, Value>) -> Result<(), LineError> {
        let f = &self.opts.fields;
        let at_ms = match f.get(obj, Field::RequestTimeEpoch).value() {
            Some(v) => v.parse::<i64>().map_err(|_| {
                LineError::new(Some("requestTimeEpoch"), format!("not a number: `{v}`"))
            })?,
            None => match f.get(obj, Field::RequestTime).value() {
                Some(v) => {
                    parse_clf_time(&v).ok_or_else(|| {
                        LineError::new(
                            Some("requestTime"),
                            format!("not a CLF time (22/Nov/2026:05:01:02 +0000): `{v}`"),
                        )
                    })? * 1000
                }
                None => {
                    return Err(LineError::new(
                        Some("requestTime"),
                        "no request time (requestTimeEpoch or requestTime)",
                    ))
                }
            },
        };
        let status = match f.get(obj, Field::Status).value() {
            Some(v) => Some(
                v.parse::<u16>()
                    .map_err(|_| LineError::new(Some("status"), format!("not a status: `{v}`")))?,
            ),
            None => None,
        };
        let number = |field: Field, name: &'static str| -> Result<Option<u64>, LineError> {
            match f.get(obj, field).value() {
                Some(v) => v
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| LineError::new(Some(name), format!("not a number: `{v}`"))),
                None => Ok(None),
            }
        };
        let response_length = number(Field::ResponseLength, "responseLength")?;
        let data_processed = number(Field::DataProcessed, "dataProcessed")?;
        let connected_at = number(Field::ConnectedAt, "connectedAt")?;

        let (api, no_api) = match f.get(obj, Field::ApiId) {
            Lookup::Value(v) => (v.into_owned(), false),
            Lookup::NoValue => (String::new(), true),
            Lookup::NotLogged => match &self.opts.api_id {
                Some(id) => (id.clone(), false),
                None => {
                    return Err(LineError::new(
                        Some("apiId"),
                        "the log has no apiId: pass --api-id",
                    ))
                }
            },
        };
        let stage = match f.get(obj, Field::Stage) {
            Lookup::Value(v) => v.into_owned(),
            Lookup::NoValue => String::new(),
            Lookup::NotLogged => match (&self.opts.stage, self.opts.api_type) {
                (Some(s), _) => s.clone(),
                (None, ApiType::Http) => "$default".into(),
                (None, _) => {
                    return Err(LineError::new(
                        Some("stage"),
                        "the log has no stage: pass --stage",
                    ))
                }
            },
        };
        let method = f.get(obj, Field::HttpMethod).value();
        let route = match f.get(obj, Field::RouteKey).value() {
            Some(r) => r.into_owned(),
            None => match (&method, f.get(obj, Field::ResourcePath).value()) {
                (Some(m), Some(p)) => format!("{m} {p}"),
                _ => String::new(),
            },
        };
        let client = match f.get(obj, Field::Principal).value() {
            Some(p) => p.into_owned(),
            None => match f.get(obj, Field::SourceIp).value() {
                // Written as the gateway writes addresses.
                Some(ip) => ip
                    .parse::<IpAddr>()
                    .map_or_else(|_| ip.into_owned(), |a| a.to_string()),
                None => String::new(),
            },
        };
        let api_key = f
            .get(obj, Field::ApiKeyId)
            .value()
            .map(Cow::into_owned)
            .unwrap_or_default();
        let at_secs = at_ms.div_euclid(1000);
        let base = UsageKey {
            bucket: at_secs.div_euclid(60) * 60,
            region: self.opts.region.clone(),
            api,
            stage,
            route,
            api_key,
            client,
            status_class: 0,
            billable: false,
            reason: Reason::Integration,
            meter: UsageMeter::HttpRequests,
            tags: Tags::new(),
        };

        if self.opts.api_type == ApiType::Websocket {
            return self.add_websocket(obj, base, at_ms, status, connected_at, no_api);
        }

        let status = status.ok_or_else(|| LineError::new(Some("status"), "no status"))?;
        let response_type = f.get(obj, Field::ErrorResponseType).value();
        let integration_logged = f.get(obj, Field::IntegrationStatus).value().is_some();
        let reason = request_reason(RequestFacts {
            api_type: self.opts.api_type,
            no_api,
            status,
            route_matched: !base.route.is_empty(),
            method: method.as_deref(),
            response_type: response_type.as_deref(),
            integration_logged,
        });
        let (meter, units) = match self.opts.api_type {
            ApiType::Rest => (UsageMeter::RestRequests, 1),
            _ => {
                // dataProcessed is request plus response payload; the request's share is
                // what is left after the response length.
                let request_bytes =
                    data_processed.map_or(0, |d| d.saturating_sub(response_length.unwrap_or(0)));
                (UsageMeter::HttpRequests, http_request_units(request_bytes))
            }
        };
        let key = UsageKey {
            status_class: u8::try_from(status / 100).unwrap_or(0).min(5),
            billable: self.opts.policy.is_billable(reason),
            reason,
            meter,
            ..base
        };
        if let Some(bytes) = response_length {
            self.add(
                UsageKey {
                    meter: UsageMeter::DataOutBytes,
                    ..key.clone()
                },
                bytes,
                1,
            );
        }
        self.add(key, units, 1);
        Ok(())
    }

    fn add_websocket(
        &mut self,
        obj: &Map<String, Value>,
        base: UsageKey,
        at_ms: i64,
        status: Option<u16>,
        connected_at: Option<u64>,
        no_api: bool,
    ) -> Result<(), LineError> {
        let f = &self.opts.fields;
        let event = f
            .get(obj, Field::EventType)
            .value()
            .ok_or_else(|| LineError::new(Some("eventType"), "no eventType"))?
            .to_ascii_uppercase();
        let connection = f.get(obj, Field::ConnectionId).value().map(Cow::into_owned);
        let refused = status.is_some_and(|s| s >= 400);
        let reason = match event.as_str() {
            "MESSAGE" if !refused => Reason::Websocket,
            "CONNECT" | "DISCONNECT" if !refused => Reason::WebsocketControl,
            "MESSAGE" | "CONNECT" | "DISCONNECT" => {
                // Refused by the gateway: the same rules as requests; a refused message that
                // reached its integration stays a message.
                let response_type = f.get(obj, Field::ErrorResponseType).value();
                let r = request_reason(RequestFacts {
                    api_type: ApiType::Websocket,
                    no_api,
                    status: status.unwrap_or(0),
                    route_matched: !base.route.is_empty(),
                    method: None,
                    response_type: response_type.as_deref(),
                    integration_logged: f.get(obj, Field::IntegrationStatus).value().is_some(),
                });
                match (r, event.as_str()) {
                    (Reason::Integration, "MESSAGE") => Reason::Websocket,
                    (Reason::Integration, _) => Reason::WebsocketControl,
                    (r, _) => r,
                }
            }
            other => {
                return Err(LineError::new(
                    Some("eventType"),
                    format!("unknown eventType `{other}` (CONNECT, MESSAGE, DISCONNECT)"),
                ))
            }
        };
        let accepted = matches!(reason, Reason::Websocket | Reason::WebsocketControl);
        // One message unit per event (sizes are not logged); a refused event counts its
        // event with no unit, so `--by reason` shows it.
        let key = UsageKey {
            billable: self.opts.policy.is_billable(reason),
            reason,
            meter: UsageMeter::WebsocketMessages,
            ..base.clone()
        };
        self.add(key, u64::from(accepted), 1);
        match event.as_str() {
            "CONNECT" if accepted => {
                if let Some(c) = connection {
                    self.connects.insert(c, at_ms);
                }
            }
            "DISCONNECT" => {
                let start = connected_at
                    .and_then(|c| i64::try_from(c).ok())
                    .or_else(|| connection.as_ref().and_then(|c| self.connects.remove(c)));
                match start {
                    Some(start) if start <= at_ms => {
                        let key = UsageKey {
                            billable: self.opts.policy.is_billable(Reason::Websocket),
                            reason: Reason::Websocket,
                            meter: UsageMeter::WebsocketConnectionMs,
                            ..base
                        };
                        // Spread over the minutes the connection was open, as the gateway
                        // accrues it; the connection counts once, at its end.
                        let mut t = start;
                        while t < at_ms {
                            let minute_end = (t.div_euclid(60_000) + 1) * 60_000;
                            let end = minute_end.min(at_ms);
                            let k = UsageKey {
                                bucket: t.div_euclid(60_000) * 60,
                                ..key.clone()
                            };
                            self.add(k, u64::try_from(end - t).unwrap_or(0), 0);
                            t = end;
                        }
                        self.add(key, 0, 1);
                    }
                    _ => self.unknown_durations += 1,
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn add(&mut self, key: UsageKey, units: u64, events: u64) {
        self.cells
            .entry(key)
            .or_default()
            .add(UsageCounts { units, events });
    }

    /// Take the sums so far, in a stable order.
    pub fn take_records(&mut self) -> Vec<UsageRecord> {
        let sorted: BTreeMap<UsageKey, UsageCounts> = self.cells.drain().collect();
        sorted
            .into_iter()
            .map(|(key, counts)| UsageRecord { key, counts })
            .collect()
    }
}

/// What decides a request's reason.
struct RequestFacts<'a> {
    api_type: ApiType,
    no_api: bool,
    status: u16,
    route_matched: bool,
    method: Option<&'a str>,
    response_type: Option<&'a str>,
    integration_logged: bool,
}

/// The meter's reason for a logged request (docs/aws-import.md, "Access logs"): the API, then
/// `error.responseType`, then whether the integration answered, then the status.
fn request_reason(r: RequestFacts<'_>) -> Reason {
    if r.no_api {
        return Reason::NoApi;
    }
    if let Some(t) = r.response_type {
        match t {
            "UNAUTHORIZED"
            | "ACCESS_DENIED"
            | "AUTHORIZER_FAILURE"
            | "AUTHORIZER_CONFIGURATION_ERROR"
            | "EXPIRED_TOKEN"
            | "INVALID_SIGNATURE" => return Reason::AuthFailed,
            "MISSING_AUTHENTICATION_TOKEN" => {
                // REST answers an unknown resource this way too.
                return if r.route_matched {
                    Reason::AuthFailed
                } else {
                    Reason::UnmatchedRoute
                };
            }
            "INVALID_API_KEY" => return Reason::MissingKey,
            "THROTTLED" => return Reason::Throttled,
            "QUOTA_EXCEEDED" => return Reason::QuotaExceeded,
            "BUDGET_EXCEEDED" => return Reason::BudgetExceeded,
            "RESOURCE_NOT_FOUND" if !r.integration_logged => return Reason::UnmatchedRoute,
            "REQUEST_TOO_LARGE" => return Reason::Malformed,
            "BAD_REQUEST_BODY" | "BAD_REQUEST_PARAMETERS" => {
                return if r.api_type == ApiType::Rest {
                    Reason::ValidationFailed
                } else {
                    Reason::Malformed
                };
            }
            "INTEGRATION_FAILURE" | "INTEGRATION_TIMEOUT" => return Reason::Integration,
            _ => {}
        }
    }
    if r.integration_logged {
        return Reason::Integration;
    }
    match r.status {
        401 | 403 => Reason::AuthFailed,
        429 => Reason::Throttled,
        499 => Reason::ClientClosed,
        404 if !r.route_matched => Reason::UnmatchedRoute,
        413 | 431 | 408 => Reason::Malformed,
        200..=299 if !r.route_matched && r.method == Some("OPTIONS") => Reason::CorsPreflight,
        _ if !r.route_matched => Reason::Malformed,
        _ => Reason::Integration,
    }
}

/// Why an access log could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessLogError {
    /// The file could not be opened or read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The log lacks something every line needs (an API id, a stage).
    #[error("{}: {message}", file.display())]
    Missing {
        /// The file.
        file: PathBuf,
        /// What is missing and what to pass.
        message: String,
    },
    /// Nothing in the file's first lines is a JSON access-log line.
    #[error("{}: not a JSON access log: {reason}", file.display())]
    WrongKind {
        /// The file.
        file: PathBuf,
        /// What was found.
        reason: String,
    },
    /// In strict mode, a malformed line fails the whole file (nothing of it is written).
    #[error("{0} (strict mode: the whole file is rejected)")]
    Strict(Malformed),
    /// The sink refused a batch (the ledger failed).
    #[error("{}: {message}", file.display())]
    Sink {
        /// The file.
        file: PathBuf,
        /// The sink's error.
        message: String,
    },
}

/// How to read.
#[derive(Debug, Clone)]
pub struct ReadSettings {
    /// A malformed line fails the file.
    pub strict: bool,
    /// Malformed lines kept in the report (all are counted).
    pub max_reported: usize,
}

/// What reading one file saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessLogReport {
    /// The file, as given.
    pub file: String,
    /// Lines read, blank and malformed ones included.
    pub lines: u64,
    /// Lines metered.
    pub metered: u64,
    /// Malformed lines, all counted.
    pub malformed_count: u64,
    /// The first malformed lines.
    pub malformed: Vec<Malformed>,
    /// Batches handed to the sink.
    pub batches: u64,
    /// Of those, batches the sink had already applied (a re-import).
    pub batches_already_applied: u64,
    /// Usage records handed to the sink.
    pub records: u64,
    /// WebSocket DISCONNECT lines whose connection time could not be known.
    pub unknown_durations: u64,
}

/// Lines read before deciding a file is not an access log when none of them parsed.
const SNIFF_LINES: u64 = 20;

fn open_lines(path: &Path) -> Result<Box<dyn BufRead>, AccessLogError> {
    let io = |source| AccessLogError::Io {
        file: path.to_owned(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(io)?;
    let f = File::open(path).map_err(io)?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(f)))
    } else {
        Box::new(BufReader::new(f))
    })
}

/// Read one access log (plain or gzip), meter its lines, and hand the sums to `sink` every
/// [`CHUNK_LINES`] lines as a batch with id `{batch_prefix}-{chunk}`. `sink` returns whether
/// the batch was new. Malformed lines are counted and the first few reported; with
/// `settings.strict` the file is checked first and nothing is handed over if a line is bad.
pub fn read_access_log(
    path: &Path,
    opts: &MeterOptions,
    settings: &ReadSettings,
    batch_prefix: &str,
    sink: &mut dyn FnMut(&UsageBatch) -> Result<bool, String>,
) -> Result<AccessLogReport, AccessLogError> {
    if settings.strict {
        pass(path, opts, settings, None)?;
    }
    pass(path, opts, settings, Some((batch_prefix, sink)))
}

type Sink<'a> = (
    &'a str,
    &'a mut dyn FnMut(&UsageBatch) -> Result<bool, String>,
);

fn pass(
    path: &Path,
    opts: &MeterOptions,
    settings: &ReadSettings,
    mut sink: Option<Sink<'_>>,
) -> Result<AccessLogReport, AccessLogError> {
    let file = path.display().to_string();
    let mut report = AccessLogReport {
        file: file.clone(),
        ..Default::default()
    };
    let mut meter = AccessLogMeter::new(opts.clone());
    let mut reader = open_lines(path)?;
    let mut buf = String::new();
    let mut chunk: u64 = 0;
    let mut first_error: Option<LineError> = None;
    loop {
        buf.clear();
        let n = reader
            .read_line(&mut buf)
            .map_err(|source| AccessLogError::Io {
                file: path.to_owned(),
                source,
            })?;
        if n == 0 {
            break;
        }
        report.lines += 1;
        match meter.add_line(&buf) {
            Ok(LineKind::Blank) => {}
            Ok(LineKind::Metered) => report.metered += 1,
            Err(e) => {
                // A log without an API id or stage fails every line the same way: say it once.
                if matches!(e.field, Some("apiId" | "stage"))
                    && e.message.starts_with("the log has no")
                {
                    return Err(AccessLogError::Missing {
                        file: path.to_owned(),
                        message: e.message,
                    });
                }
                let m = Malformed {
                    file: file.clone(),
                    location: Location::Line(report.lines),
                    column: e.field.map(str::to_owned),
                    message: e.message.clone(),
                };
                if settings.strict {
                    return Err(AccessLogError::Strict(m));
                }
                report.malformed_count += 1;
                if report.malformed.len() < settings.max_reported {
                    report.malformed.push(m);
                }
                first_error.get_or_insert(e);
            }
        }
        if report.metered == 0 && report.lines >= SNIFF_LINES && report.malformed_count > 0 {
            return Err(AccessLogError::WrongKind {
                file: path.to_owned(),
                reason: format!(
                    "none of the first {SNIFF_LINES} lines could be read (first error: {})",
                    first_error.map_or_else(String::new, |e| e.to_string())
                ),
            });
        }
        if report.lines % CHUNK_LINES == 0 {
            emit(&mut meter, &mut sink, chunk, &mut report, path)?;
            chunk += 1;
        }
    }
    if report.metered == 0 && report.malformed_count > 0 {
        return Err(AccessLogError::WrongKind {
            file: path.to_owned(),
            reason: format!(
                "no line could be read (first error: {})",
                first_error.map_or_else(String::new, |e| e.to_string())
            ),
        });
    }
    emit(&mut meter, &mut sink, chunk, &mut report, path)?;
    report.unknown_durations = meter.unknown_durations();
    Ok(report)
}

fn emit(
    meter: &mut AccessLogMeter,
    sink: &mut Option<Sink<'_>>,
    chunk: u64,
    report: &mut AccessLogReport,
    path: &Path,
) -> Result<(), AccessLogError> {
    let records = meter.take_records();
    let Some((prefix, sink)) = sink else {
        return Ok(());
    };
    if records.is_empty() {
        return Ok(());
    }
    let batch = UsageBatch {
        id: format!("{prefix}-{chunk}"),
        records,
    };
    let new = sink(&batch).map_err(|message| AccessLogError::Sink {
        file: path.to_owned(),
        message,
    })?;
    report.batches += 1;
    report.records += batch.records.len() as u64;
    if !new {
        report.batches_already_applied += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS_JSON: &str = r#"{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", "requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod","routeKey":"$context.routeKey", "status":"$context.status","protocol":"$context.protocol", "responseLength":"$context.responseLength" }"#;

    fn opts(api_type: ApiType, fields: FieldMap) -> MeterOptions {
        MeterOptions {
            api_type,
            fields,
            region: "us-east-1".into(),
            api_id: Some("abc123".into()),
            stage: None,
            policy: BillingPolicy::default(),
        }
    }

    fn records(m: &mut AccessLogMeter) -> Vec<(String, u8, Reason, bool, String, u64, u64)> {
        m.take_records()
            .into_iter()
            .map(|r| {
                (
                    r.key.route,
                    r.key.status_class,
                    r.key.reason,
                    r.key.billable,
                    r.key.meter.name().into_owned(),
                    r.counts.units,
                    r.counts.events,
                )
            })
            .collect()
    }

    #[test]
    fn the_aws_example_format_maps_every_key() {
        let m = FieldMap::from_format(AWS_JSON).unwrap();
        for f in [
            Field::RequestId,
            Field::SourceIp,
            Field::RequestTime,
            Field::HttpMethod,
            Field::RouteKey,
            Field::Status,
            Field::ResponseLength,
        ] {
            assert!(m.has(f), "{f:?}");
        }
        assert!(!m.has(Field::DataProcessed));
        assert_eq!(m.paths[&Field::SourceIp], vec![vec!["ip".to_string()]]);
    }

    #[test]
    fn format_strings_may_rename_nest_leave_unquoted_and_brace_variables() {
        let m = FieldMap::from_format(
            r#"{"id":"$context.requestId","when":$context.requestTimeEpoch,"code":${context.status},"err":{"type":"$context.error.responseType"},"who":"[$context.identity.sourceIp]","x":"$context.protocol"}"#,
        )
        .unwrap();
        assert_eq!(
            m.paths[&Field::RequestTimeEpoch],
            vec![vec!["when".to_string()]]
        );
        assert_eq!(m.paths[&Field::Status], vec![vec!["code".to_string()]]);
        assert_eq!(
            m.paths[&Field::ErrorResponseType],
            vec![vec!["err".to_string(), "type".to_string()]]
        );
        // Text around a variable: not a value the meter can read.
        assert!(!m.has(Field::SourceIp));

        let mut meter = AccessLogMeter::new(opts(ApiType::Http, m));
        meter
            .add_line(r#"{"id":"r1","when":1795323662000,"code":429,"err":{"type":"THROTTLED"}}"#)
            .unwrap();
        let r = meter.take_records();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].key.reason, Reason::Throttled);
        assert!(!r[0].key.billable);
        assert_eq!(r[0].key.bucket, 1_795_323_660);
    }

    #[test]
    fn clf_and_csv_formats_are_refused_and_needed_variables_named() {
        let clf = r#"$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod $context.routeKey $context.protocol" $context.status $context.responseLength $context.requestId"#;
        assert!(matches!(
            FieldMap::from_format(clf),
            Err(FormatStringError::NotJson(_))
        ));
        assert_eq!(
            FieldMap::from_format(r#"{"id":"$context.requestId","s":"$context.status"}"#),
            Err(FormatStringError::Missing(
                "requestTime or requestTimeEpoch"
            ))
        );
    }

    #[test]
    fn clf_times_parse_with_offsets() {
        // 2026-11-22T05:01:02Z
        assert_eq!(
            parse_clf_time("22/Nov/2026:05:01:02 +0000"),
            Some(1_795_323_662)
        );
        assert_eq!(
            parse_clf_time("22/Nov/2026:06:01:02 +0100"),
            Some(1_795_323_662)
        );
        assert_eq!(
            parse_clf_time("21/Nov/2026:23:31:02 -0530"),
            Some(1_795_323_662)
        );
        assert_eq!(parse_clf_time("01/Jan/1970:00:00:00 +0000"), Some(0));
        assert_eq!(
            parse_clf_time("29/Feb/2024:12:00:00 +0000"),
            Some(1_709_208_000)
        );
        for bad in [
            "",
            "22/Foo/2026:05:01:02 +0000",
            "22/Nov/2026:25:01:02 +0000",
            "22/Nov/2026:05:01 +0000",
            "22/Nov/2026:05:01:02 0000",
            "2026-11-22T05:01:02Z",
        ] {
            assert_eq!(parse_clf_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_lines_meter_units_reasons_and_bytes_out_like_the_gateway() {
        let mut m = AccessLogMeter::new(opts(ApiType::Http, FieldMap::auto()));
        let t = "22/Nov/2026:05:01:02 +0000";
        let lines = [
            // 600 KB request body + 10 bytes of response: two 512 KB units.
            format!(
                r#"{{"requestTime":"{t}","routeKey":"POST /up","status":"200","responseLength":"10","dataProcessed":"{}","ip":"10.0.0.1"}}"#,
                600 * 1024 + 10
            ),
            format!(
                r#"{{"requestTime":"{t}","routeKey":"GET /x","status":"429","responseLength":"33","ip":"10.0.0.1"}}"#
            ),
            format!(
                r#"{{"requestTime":"{t}","routeKey":"-","httpMethod":"GET","status":"404","responseLength":"23","ip":"10.0.0.1"}}"#
            ),
            format!(
                r#"{{"requestTime":"{t}","routeKey":"GET /x","status":"403","ip":"10.0.0.1"}}"#
            ),
            // The backend's own 403 reached the integration: billable.
            format!(
                r#"{{"requestTime":"{t}","routeKey":"GET /x","status":"403","integrationStatus":"403","ip":"10.0.0.1"}}"#
            ),
            format!(
                r#"{{"requestTime":"{t}","routeKey":"-","httpMethod":"OPTIONS","status":"204","ip":"10.0.0.1"}}"#
            ),
            // CloudWatch's export wrapper.
            format!(
                r#"2026-11-22T05:01:02.000Z {{"requestTime":"{t}","routeKey":"GET /x","status":"500","ip":"10.0.0.1"}}"#
            ),
        ];
        for l in &lines {
            assert_eq!(m.add_line(l), Ok(LineKind::Metered), "{l}");
        }
        assert_eq!(m.add_line("   "), Ok(LineKind::Blank));
        let got = records(&mut m);
        let want = vec![
            (
                "".into(),
                2,
                Reason::CorsPreflight,
                true,
                "http_requests".into(),
                1,
                1,
            ),
            (
                "".into(),
                4,
                Reason::UnmatchedRoute,
                true,
                "http_requests".into(),
                1,
                1,
            ),
            (
                "".into(),
                4,
                Reason::UnmatchedRoute,
                true,
                "data_out_bytes".into(),
                23,
                1,
            ),
            (
                "GET /x".into(),
                4,
                Reason::Integration,
                true,
                "http_requests".into(),
                1,
                1,
            ),
            (
                "GET /x".into(),
                4,
                Reason::AuthFailed,
                false,
                "http_requests".into(),
                1,
                1,
            ),
            (
                "GET /x".into(),
                4,
                Reason::Throttled,
                false,
                "http_requests".into(),
                1,
                1,
            ),
            (
                "GET /x".into(),
                4,
                Reason::Throttled,
                false,
                "data_out_bytes".into(),
                33,
                1,
            ),
            (
                "GET /x".into(),
                5,
                Reason::Integration,
                true,
                "http_requests".into(),
                1,
                1,
            ),
            (
                "POST /up".into(),
                2,
                Reason::Integration,
                true,
                "http_requests".into(),
                2,
                1,
            ),
            (
                "POST /up".into(),
                2,
                Reason::Integration,
                true,
                "data_out_bytes".into(),
                10,
                1,
            ),
        ];
        let mut got_sorted = got.clone();
        got_sorted.sort();
        let mut want_sorted: Vec<_> = want;
        want_sorted.sort();
        assert_eq!(got_sorted, want_sorted);
    }

    #[test]
    fn response_types_decide_before_statuses() {
        let facts = |t: Option<&'static str>, status: u16, api_type: ApiType| {
            request_reason(RequestFacts {
                api_type,
                no_api: false,
                status,
                route_matched: true,
                method: Some("GET"),
                response_type: t,
                integration_logged: false,
            })
        };
        assert_eq!(
            facts(Some("INVALID_API_KEY"), 403, ApiType::Rest),
            Reason::MissingKey
        );
        assert_eq!(
            facts(Some("QUOTA_EXCEEDED"), 429, ApiType::Rest),
            Reason::QuotaExceeded
        );
        assert_eq!(
            facts(Some("BAD_REQUEST_BODY"), 400, ApiType::Rest),
            Reason::ValidationFailed
        );
        assert_eq!(
            facts(Some("BAD_REQUEST_BODY"), 400, ApiType::Http),
            Reason::Malformed
        );
        assert_eq!(
            facts(Some("INTEGRATION_TIMEOUT"), 504, ApiType::Rest),
            Reason::Integration
        );
        assert_eq!(
            facts(Some("DEFAULT_4XX"), 401, ApiType::Rest),
            Reason::AuthFailed
        );
        assert_eq!(facts(None, 200, ApiType::Rest), Reason::Integration);
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let mut m = AccessLogMeter::new(opts(ApiType::Http, FieldMap::auto()));
        let err = |m: &mut AccessLogMeter, l: &str| m.add_line(l).unwrap_err();
        assert_eq!(err(&mut m, "GET / 200").field, None);
        assert_eq!(err(&mut m, "{\"status\":").field, None);
        assert_eq!(
            err(&mut m, r#"{"status":"200"}"#).field,
            Some("requestTime")
        );
        assert_eq!(
            err(&mut m, r#"{"status":"2x","requestTimeEpoch":"1"}"#).field,
            Some("status")
        );
        assert_eq!(
            err(&mut m, r#"{"status":"200","requestTime":"yesterday"}"#).field,
            Some("requestTime")
        );
        assert_eq!(
            err(
                &mut m,
                r#"{"status":"200","requestTimeEpoch":"1","dataProcessed":"-3"}"#
            )
            .field,
            Some("dataProcessed")
        );
        assert!(m.take_records().is_empty());
    }

    #[test]
    fn websocket_events_meter_messages_control_and_connection_time() {
        let mut m = AccessLogMeter::new(MeterOptions {
            stage: Some("prod".into()),
            ..opts(ApiType::Websocket, FieldMap::auto())
        });
        // Connected at 00:00:30, one message, disconnected at 00:02:10.
        let lines = [
            r#"{"eventType":"CONNECT","connectionId":"c1","requestTimeEpoch":"30000","routeKey":"$connect","status":"200"}"#,
            r#"{"eventType":"MESSAGE","connectionId":"c1","requestTimeEpoch":"40000","routeKey":"send","status":"200"}"#,
            r#"{"eventType":"DISCONNECT","connectionId":"c1","requestTimeEpoch":"130000","routeKey":"$disconnect","status":"200"}"#,
            r#"{"eventType":"CONNECT","connectionId":"c2","requestTimeEpoch":"50000","routeKey":"$connect","status":"429"}"#,
        ];
        for l in lines {
            m.add_line(l).unwrap();
        }
        let r = m.take_records();
        let sum = |meter: UsageMeter, reason: Reason| -> (u64, u64) {
            r.iter()
                .filter(|x| x.key.meter == meter && x.key.reason == reason)
                .fold((0, 0), |a, x| (a.0 + x.counts.units, a.1 + x.counts.events))
        };
        assert_eq!(
            sum(UsageMeter::WebsocketMessages, Reason::Websocket),
            (1, 1)
        );
        assert_eq!(
            sum(UsageMeter::WebsocketMessages, Reason::WebsocketControl),
            (2, 2)
        );
        assert_eq!(
            sum(UsageMeter::WebsocketMessages, Reason::Throttled),
            (0, 1)
        );
        assert_eq!(
            sum(UsageMeter::WebsocketConnectionMs, Reason::Websocket),
            (100_000, 1)
        );
        // 30 s in minute 0, 60 s in minute 1, 10 s in minute 2.
        let mut per_minute: Vec<(i64, u64)> = r
            .iter()
            .filter(|x| x.key.meter == UsageMeter::WebsocketConnectionMs && x.counts.units > 0)
            .map(|x| (x.key.bucket, x.counts.units))
            .collect();
        per_minute.sort();
        assert_eq!(per_minute, vec![(0, 30_000), (60, 60_000), (120, 10_000)]);
        assert!(r
            .iter()
            .all(|x| x.key.stage == "prod" && x.key.api == "abc123"));
    }

    #[test]
    fn files_are_read_in_id_stable_batches_and_strict_mode_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        std::fs::write(
            &path,
            concat!(
                r#"{"requestTimeEpoch":"60000","routeKey":"GET /a","status":"200"}"#,
                "\n",
                "garbage\n",
                r#"{"requestTimeEpoch":"61000","routeKey":"GET /a","status":"200"}"#,
                "\n"
            ),
        )
        .unwrap();
        let o = opts(ApiType::Http, FieldMap::auto());
        let mut batches = Vec::new();
        let mut sink = |b: &UsageBatch| -> Result<bool, String> {
            batches.push(b.clone());
            Ok(true)
        };
        let settings = ReadSettings {
            strict: false,
            max_reported: 5,
        };
        let report = read_access_log(&path, &o, &settings, "al-x", &mut sink).unwrap();
        assert_eq!(report.lines, 3);
        assert_eq!(report.metered, 2);
        assert_eq!(report.malformed_count, 1);
        assert_eq!(report.malformed[0].location, Location::Line(2));
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].id, "al-x-0");
        assert_eq!(
            batches[0].records[0].counts,
            UsageCounts {
                units: 2,
                events: 2
            }
        );

        let mut calls = 0;
        let mut sink = |_: &UsageBatch| -> Result<bool, String> {
            calls += 1;
            Ok(true)
        };
        let strict = ReadSettings {
            strict: true,
            max_reported: 5,
        };
        let err = read_access_log(&path, &o, &strict, "al-x", &mut sink).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert_eq!(calls, 0);

        // A log without an API id or --api-id: one clear error.
        let no_id = MeterOptions { api_id: None, ..o };
        let err = read_access_log(&path, &no_id, &settings, "al-x", &mut |_| Ok(true)).unwrap_err();
        assert!(matches!(err, AccessLogError::Missing { .. }), "{err}");
    }
}
