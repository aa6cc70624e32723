//! `compile()`: raw [`schema`] types → validated [`model`], collecting every semantic error with
//! its location. Limits and rules cite the section of `aws-facts.md` they come from.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, StatusCode};

use crate::error::{ConfigError, ConfigErrors};
use crate::load::{escape, Locations};
use crate::model::{
    AccessLogSettings, AdminSettings, Api, BillableSettings, Cors, GatewayConfig, Integration,
    IntegrationKind, Listener, LogDestination, MappingAction, MappingTarget, MeteringSettings,
    ParamMapping, PayloadFormat, Protocol, Route, RouteMatcher, ServerSettings, Stage, Template,
    TemplatePart,
};
use crate::schema;
use crate::template::{self, Direction};

/// The data plane speaks plain HTTP/1.1 to integrations for now; say so at validation time
/// rather than failing every request at run time.
const HTTPS_NOT_YET: &str =
    "https integrations are not supported yet: use an http:// URI (TLS to backends is planned)";

/// Access-log format size limit, 3 KB (aws-facts §2.2).
const MAX_ACCESS_LOG_FORMAT_BYTES: usize = 3072;
/// Routes per HTTP API (aws-facts §2.2; adjustable at AWS, fixed here).
const MAX_ROUTES: usize = 300;
/// Integrations per HTTP API (aws-facts §2.2).
const MAX_INTEGRATIONS: usize = 300;
/// Stages per API (aws-facts §2.2).
const MAX_STAGES: usize = 10;
/// Stage variables per stage, and the lengths of their names and values (aws-facts §2.2).
const MAX_STAGE_VARIABLES: usize = 100;
const MAX_STAGE_VARIABLE_VALUE_CHARS: usize = 512;
/// Tags per stage (aws-facts §2.2); applied to APIs too.
const MAX_TAGS: usize = 50;
/// Route-key methods of HTTP APIs (aws-facts §3.1).
const ROUTE_METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY",
];

/// Compile raw configuration into the validated model, or return every error found.
pub(crate) fn compile(
    raw: &schema::Config,
    locations: &Locations,
    file: &Path,
) -> Result<GatewayConfig, ConfigErrors> {
    let mut cx = Cx {
        file,
        locations,
        errors: Vec::new(),
    };
    let config = cx.config(raw);
    if cx.errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors::sorted(cx.errors))
    }
}

pub(crate) struct Cx<'a> {
    file: &'a Path,
    locations: &'a Locations,
    errors: Vec<ConfigError>,
}

impl Cx<'_> {
    /// An error about the value at `pointer`.
    pub(crate) fn err(&mut self, pointer: &str, message: impl Into<String>) {
        let pos = self.locations.value(pointer);
        self.errors.push(ConfigError::new(self.file, pos, message));
    }

    /// An error about the key of the entry at `pointer` (an unknown or misplaced field).
    pub(crate) fn err_key(&mut self, pointer: &str, message: impl Into<String>) {
        let pos = self.locations.key(pointer);
        self.errors.push(ConfigError::new(self.file, pos, message));
    }

    pub(crate) fn line(&self, pointer: &str) -> usize {
        self.locations.value(pointer).line
    }

    /// The entries of a map in file order (by the position of their keys); serde_json's map
    /// is sorted by key, and the order of parameter mappings matters.
    fn file_order<'m, V>(
        &self,
        pointer: &str,
        map: &'m BTreeMap<String, V>,
    ) -> Vec<(&'m String, &'m V)> {
        let mut entries: Vec<_> = map.iter().collect();
        entries.sort_by_key(|(k, _)| self.locations.key(&format!("{pointer}/{}", escape(k))));
        entries
    }

    fn config(&mut self, raw: &schema::Config) -> GatewayConfig {
        // Account ids are 12 digits (AWS).
        if raw.account_id.len() != 12 || !raw.account_id.bytes().all(|b| b.is_ascii_digit()) {
            self.err(
                "/account_id",
                format!(
                    "invalid account_id `{}`: expected 12 digits",
                    raw.account_id
                ),
            );
        }
        if !is_region(&raw.region) {
            self.err(
                "/region",
                format!(
                    "invalid region `{}`: expected a Region name such as `us-east-1`",
                    raw.region
                ),
            );
        }
        let listeners = self.listeners(&raw.listeners);
        let admin = self.admin(raw.admin.as_ref());
        let server = self.server(raw.server.clone().unwrap_or_default());
        let access_log = raw.access_log.as_ref().map(|a| self.access_log(a));
        let metering = self.metering(raw.metering.clone().unwrap_or_default());
        let apis = self.apis(&raw.apis, &listeners);
        let throttle = raw.throttle.map(|t| self.throttle("/throttle", t));
        let api_keys = self.api_keys(&raw.api_keys);
        let usage_plans = self.usage_plans(&raw.usage_plans, &apis, &api_keys);
        self.throttles_within_account(throttle, &apis, &usage_plans);
        let budgets = self.budgets(&raw.budgets, &apis, &api_keys);
        let iam = raw.iam.as_ref().map(|i| self.iam(i));
        let alerts = raw.alerts.as_ref().map(|a| crate::alerts::compile(self, a));
        if iam.is_none() {
            for (a, api) in apis.iter().enumerate() {
                for (r, route) in api.routes.iter().enumerate() {
                    if route.aws_iam {
                        self.err(
                            &format!("/apis/{a}/routes/{r}/authorization"),
                            "`authorization: aws_iam` needs an `iam` section with access keys",
                        );
                    }
                }
            }
        }
        GatewayConfig {
            source: self.file.to_path_buf(),
            account_id: raw.account_id.clone(),
            region: raw.region.clone(),
            listeners,
            admin,
            server,
            access_log,
            metering,
            throttle,
            api_keys,
            usage_plans,
            budgets,
            alerts,
            iam,
            apis,
        }
    }

    fn metering(&mut self, raw: schema::Metering) -> MeteringSettings {
        // The JSON Schema bounds these; compile() re-checks what the schema cannot say.
        if let Some(store) = &raw.store {
            let known = ["sqlite:", "postgres://", "postgresql://"];
            if store.is_empty() {
                self.err(
                    "/metering/store",
                    "expected a ledger URL such as `sqlite://tollgate.db`, found an empty string",
                );
            } else if store.contains("://") && !known.iter().any(|k| store.starts_with(k)) {
                self.err(
                    "/metering/store",
                    format!("unsupported ledger URL `{store}`: expected `sqlite://PATH` or `postgres://...`"),
                );
            }
        }
        if raw.spill_path.as_deref() == Some("") {
            self.err(
                "/metering/spill_path",
                "expected a file path, found an empty string",
            );
        }
        let b = raw.billable;
        MeteringSettings {
            enabled: raw.enabled,
            store: raw.store,
            flush_interval: Duration::from_millis(raw.flush_interval_ms.clamp(100, 60_000)),
            minute_retention: Duration::from_secs(
                raw.minute_retention_hours.max(1).saturating_mul(3600),
            ),
            buffer_records: usize::try_from(raw.buffer_records.max(1)).unwrap_or(usize::MAX),
            spill_path: raw.spill_path.map(PathBuf::from),
            billable: BillableSettings {
                unmatched_route: b.unmatched_route,
                cors_preflight: b.cors_preflight,
                malformed: b.malformed,
                validation_failed: b.validation_failed,
                cache_hit: b.cache_hit,
                websocket_control: b.websocket_control,
            },
        }
    }

    fn listeners(&mut self, raw: &[schema::Listener]) -> Vec<Listener> {
        if raw.is_empty() {
            self.err("/listeners", "at least one listener is required");
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut seen: HashMap<&str, String> = HashMap::new();
        for (i, l) in raw.iter().enumerate() {
            let p = format!("/listeners/{i}");
            if l.name.is_empty() {
                self.err(&format!("{p}/name"), "listener name must not be empty");
            } else if let Some(first) = seen.get(l.name.as_str()) {
                let line = self.line(first);
                self.err(
                    &format!("{p}/name"),
                    format!(
                        "duplicate listener name `{}` (first used at line {line})",
                        l.name
                    ),
                );
            } else {
                seen.insert(&l.name, format!("{p}/name"));
            }
            let address = self.socket_addr(&format!("{p}/address"), &l.address);
            out.push(Listener {
                name: l.name.clone(),
                address: address.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
            });
        }
        out
    }

    fn socket_addr(&mut self, pointer: &str, text: &str) -> Option<SocketAddr> {
        match text.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.err(
                    pointer,
                    format!(
                        "invalid address `{text}`: expected IP:PORT such as `127.0.0.1:8080` or \
                         `[::]:8080` (host names are not resolved)"
                    ),
                );
                None
            }
        }
    }

    fn admin(&mut self, raw: Option<&schema::Admin>) -> AdminSettings {
        let default_address = schema::DEFAULT_ADMIN_ADDRESS;
        let (text, token) = match raw {
            Some(a) => (a.address.as_str(), a.token.clone()),
            None => (default_address, None),
        };
        let address = self
            .socket_addr("/admin/address", text)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9180)));
        if token.as_deref() == Some("") {
            self.err("/admin/token", "the admin token must not be empty");
        }
        // DESIGN §3: the admin API requires a token once bound beyond loopback.
        if token.is_none() && !address.ip().is_loopback() {
            self.err(
                "/admin/address",
                format!(
                    "the admin listener `{address}` is reachable beyond loopback: set `admin.token`"
                ),
            );
        }
        AdminSettings { address, token }
    }

    fn server(&mut self, raw: schema::Server) -> ServerSettings {
        if raw.workers == Some(0) {
            self.err("/server/workers", "expected at least 1, found integer 0");
        }
        for (field, value) in [
            ("header_read_timeout_ms", raw.header_read_timeout_ms),
            ("body_read_timeout_ms", raw.body_read_timeout_ms),
            ("idle_timeout_ms", raw.idle_timeout_ms),
            ("max_header_bytes", raw.max_header_bytes),
        ] {
            if value == 0 {
                self.err(
                    &format!("/server/{field}"),
                    "expected at least 1, found integer 0",
                );
            }
        }
        // AWS HTTP API payload limit, 10 MB, not adjustable (aws-facts §2.2).
        if raw.max_body_bytes > schema::MAX_BODY_BYTES {
            self.err(
                "/server/max_body_bytes",
                format!(
                    "expected at most {} (AWS's 10 MB payload limit), found integer {}",
                    schema::MAX_BODY_BYTES,
                    raw.max_body_bytes
                ),
            );
        }
        let to_usize = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        ServerSettings {
            workers: raw.workers.map(to_usize),
            header_read_timeout: Duration::from_millis(raw.header_read_timeout_ms),
            body_read_timeout: Duration::from_millis(raw.body_read_timeout_ms),
            idle_timeout: Duration::from_millis(raw.idle_timeout_ms),
            shutdown_grace: Duration::from_millis(raw.shutdown_grace_ms),
            max_body_bytes: to_usize(raw.max_body_bytes),
            max_header_bytes: to_usize(raw.max_header_bytes),
        }
    }

    fn access_log(&mut self, raw: &schema::AccessLog) -> AccessLogSettings {
        let destination = match raw.destination.as_str() {
            "stdout" => LogDestination::Stdout,
            "" => {
                self.err(
                    "/access_log/destination",
                    "expected `stdout` or a file path, found an empty string",
                );
                LogDestination::Stdout
            }
            path => LogDestination::File(PathBuf::from(path)),
        };
        let p = "/access_log/format";
        let format = &raw.format;
        // aws-facts §2.2: access log template size 3 KB.
        if format.len() > MAX_ACCESS_LOG_FORMAT_BYTES {
            self.err(
                p,
                format!(
                    "the access-log format is {} bytes long, at most {MAX_ACCESS_LOG_FORMAT_BYTES} \
                     are allowed (AWS limit: 3 KB)",
                    format.len()
                ),
            );
        }
        if format.contains(['\n', '\r']) {
            self.err(p, "the access-log format must be a single line");
        }
        let variables = template::access_log_variables(format);
        // AWS requires every access-log format to include the request id.
        if !variables
            .iter()
            .any(|v| v == "requestId" || v == "extendedRequestId")
        {
            self.err(
                p,
                "the access-log format must contain `$context.requestId` or \
                 `$context.extendedRequestId` (AWS requires it)",
            );
        }
        // aws-facts §5.1: only HTTP API `$context` variables.
        for name in &variables {
            if !template::is_context_variable(name) {
                self.err(p, format!("unknown access-log variable `$context.{name}`"));
            }
        }
        AccessLogSettings {
            destination,
            format: format.clone(),
        }
    }

    fn apis(&mut self, raw: &[schema::Api], listeners: &[Listener]) -> Vec<Api> {
        let mut out = Vec::with_capacity(raw.len());
        let mut names: HashMap<&str, String> = HashMap::new();
        let mut ids: HashMap<String, (String, &str)> = HashMap::new();
        // (listener, host or None for the default API) → pointer of the API that claimed it.
        let mut claims: HashMap<(usize, Option<String>), (String, &str)> = HashMap::new();
        for (i, a) in raw.iter().enumerate() {
            let p = format!("/apis/{i}");
            if a.name.is_empty() {
                self.err(&format!("{p}/name"), "API name must not be empty");
            } else if let Some(first) = names.get(a.name.as_str()) {
                let line = self.line(first);
                self.err(
                    &format!("{p}/name"),
                    format!(
                        "duplicate API name `{}` (first used at line {line})",
                        a.name
                    ),
                );
            } else {
                names.insert(&a.name, format!("{p}/name"));
            }

            let id = match &a.id {
                Some(id) => {
                    if !is_api_id(id) {
                        self.err(
                            &format!("{p}/id"),
                            format!("invalid API id `{id}`: expected 1 to 10 lowercase letters and digits"),
                        );
                    }
                    id.clone()
                }
                None => derived_api_id(&a.name),
            };
            if let Some((first, other)) = ids.get(&id) {
                let line = self.line(first);
                let message = if a.id.is_some() {
                    format!("duplicate API id `{id}` (also used by API `{other}` at line {line})")
                } else {
                    format!(
                        "the id `{id}` derived from the name clashes with API `{other}` at line \
                         {line}: set `id`"
                    )
                };
                self.err(&format!("{p}/id"), message);
            } else {
                ids.insert(id.clone(), (format!("{p}/id"), &a.name));
            }

            let protocol = match a.protocol {
                schema::Protocol::Http => Protocol::Http,
                schema::Protocol::Rest => {
                    self.err(
                        &format!("{p}/protocol"),
                        "protocol `rest` is not supported yet (HTTP and WebSocket APIs only)",
                    );
                    Protocol::Rest
                }
                schema::Protocol::Websocket => Protocol::Websocket,
            };

            let listener = match &a.listener {
                Some(name) => match listeners.iter().position(|l| &l.name == name) {
                    Some(idx) => Some(idx),
                    None => {
                        let known: Vec<String> = listeners.iter().map(|l| l.name.clone()).collect();
                        self.err(
                            &format!("{p}/listener"),
                            format!(
                                "unknown listener `{name}`, expected one of {}",
                                backticked(&known)
                            ),
                        );
                        None
                    }
                },
                None if listeners.len() == 1 => Some(0),
                None if listeners.is_empty() => None,
                None => {
                    let known: Vec<String> = listeners.iter().map(|l| l.name.clone()).collect();
                    self.err(
                        &p,
                        format!(
                            "API `{}` needs a `listener`: there are several ({})",
                            a.name,
                            backticked(&known)
                        ),
                    );
                    None
                }
            };

            let mut hosts: Vec<String> = Vec::with_capacity(a.hosts.len());
            for (k, h) in a.hosts.iter().enumerate() {
                let hp = format!("{p}/hosts/{k}");
                let host = h.to_ascii_lowercase();
                if !is_host(&host) {
                    self.err(
                        &hp,
                        format!("invalid host `{h}`: expected a DNS name such as `api.example.com` (no scheme, port or path)"),
                    );
                } else if hosts.contains(&host) {
                    self.err(&hp, format!("host `{host}` is listed twice"));
                } else {
                    hosts.push(host);
                }
            }
            if let Some(l) = listener {
                let keys: Vec<Option<String>> = if a.hosts.is_empty() {
                    vec![None]
                } else {
                    hosts.iter().cloned().map(Some).collect()
                };
                for key in keys {
                    let here = match &key {
                        Some(h) => {
                            let k = hosts.iter().position(|x| x == h).unwrap_or(0);
                            format!("{p}/hosts/{k}")
                        }
                        None => p.clone(),
                    };
                    if let Some((first, other)) = claims.get(&(l, key.clone())) {
                        let line = self.line(first);
                        let listener_name = &listeners[l].name;
                        let message = match &key {
                            Some(h) => format!(
                                "host `{h}` is already served by API `{other}` (line {line}) on listener `{listener_name}`"
                            ),
                            None => format!(
                                "API `{}` has no `hosts`, and neither has API `{other}` (line {line}): listener `{listener_name}` can have only one default API",
                                a.name
                            ),
                        };
                        self.err(&here, message);
                    } else {
                        claims.insert((l, key), (here, &a.name));
                    }
                }
            }

            if a.tags.len() > MAX_TAGS {
                self.err(
                    &format!("{p}/tags"),
                    format!("expected at most {MAX_TAGS} tags, found {}", a.tags.len()),
                );
            }

            let cors = a.cors.as_ref().map(|c| self.cors(&format!("{p}/cors"), c));
            let stages = self.stages(&p, a.stages.as_deref());
            let (integrations, integration_params) = self.integrations(&p, &a.integrations);
            let is_websocket = protocol == Protocol::Websocket;
            let mut routes = self.routes(
                &p,
                &a.routes,
                &integrations,
                &integration_params,
                is_websocket,
            );
            let authorizers = self.authorizers(&p, &a.authorizers);
            self.route_access(&p, &a.routes, &mut routes, &authorizers);
            let websocket = self.websocket_api(&p, a, &routes, &integrations, &authorizers);
            let mut stages = stages;
            self.stage_throttles(&p, a.stages.as_deref(), &mut stages, &routes);

            out.push(Api {
                id,
                name: a.name.clone(),
                protocol,
                listener: listener.unwrap_or(0),
                hosts,
                tags: a.tags.clone(),
                cors,
                stages,
                routes,
                integrations,
                authorizers,
                api_key_from_authorizer: a.api_key_source == schema::ApiKeySource::Authorizer,
                websocket,
            });
        }
        out
    }

    fn cors(&mut self, p: &str, raw: &schema::Cors) -> Cors {
        for (k, o) in raw.allow_origins.iter().enumerate() {
            if o.is_empty() {
                self.err(
                    &format!("{p}/allow_origins/{k}"),
                    "an origin must not be empty",
                );
            }
        }
        for (k, m) in raw.allow_methods.iter().enumerate() {
            if m != "*" && Method::from_bytes(m.as_bytes()).is_err() {
                self.err(
                    &format!("{p}/allow_methods/{k}"),
                    format!("invalid method `{m}`: expected a method name such as `GET`, or `*`"),
                );
            }
        }
        for field in ["allow_headers", "expose_headers"] {
            let list = if field == "allow_headers" {
                &raw.allow_headers
            } else {
                &raw.expose_headers
            };
            for (k, h) in list.iter().enumerate() {
                if h != "*" && HeaderName::from_bytes(h.as_bytes()).is_err() {
                    self.err(
                        &format!("{p}/{field}/{k}"),
                        format!("invalid header name `{h}`"),
                    );
                }
            }
        }
        // aws-facts §3.7; AWS rejects allowCredentials with a wildcard origin, as browsers do.
        if raw.allow_credentials && raw.allow_origins.iter().any(|o| o == "*") {
            self.err(
                &format!("{p}/allow_credentials"),
                "`allow_credentials: true` cannot be combined with the origin `*`: list the origins",
            );
        }
        Cors {
            allow_origins: raw.allow_origins.clone(),
            allow_methods: raw.allow_methods.clone(),
            allow_headers: raw.allow_headers.clone(),
            expose_headers: raw.expose_headers.clone(),
            allow_credentials: raw.allow_credentials,
            max_age: raw.max_age_seconds,
        }
    }

    fn stages(&mut self, p: &str, raw: Option<&[schema::Stage]>) -> Vec<Stage> {
        let Some(raw) = raw else {
            // aws-facts §3.1: the `$default` stage is served at the base URL.
            return vec![Stage {
                name: "$default".to_owned(),
                variables: BTreeMap::new(),
                tags: BTreeMap::new(),
                throttle: None,
                route_throttle: Vec::new(),
            }];
        };
        if raw.len() > MAX_STAGES {
            self.err(
                &format!("{p}/stages"),
                format!(
                    "expected at most {MAX_STAGES} stages, found {} (AWS limit)",
                    raw.len()
                ),
            );
        }
        let mut seen: HashMap<&str, String> = HashMap::new();
        let mut out = Vec::with_capacity(raw.len());
        for (k, s) in raw.iter().enumerate() {
            let sp = format!("{p}/stages/{k}");
            if !is_stage_name(&s.name) {
                self.err(
                    &format!("{sp}/name"),
                    format!(
                        "invalid stage name `{}`: expected `$default` or 1 to 128 letters, digits, `-` and `_`",
                        s.name
                    ),
                );
            } else if let Some(first) = seen.get(s.name.as_str()) {
                let line = self.line(first);
                self.err(
                    &format!("{sp}/name"),
                    format!(
                        "duplicate stage `{}` (first defined at line {line})",
                        s.name
                    ),
                );
            } else {
                seen.insert(&s.name, format!("{sp}/name"));
            }
            // aws-facts §2.2: 100 variables per stage; names 64 and values 512 characters.
            if s.variables.len() > MAX_STAGE_VARIABLES {
                self.err(
                    &format!("{sp}/variables"),
                    format!(
                        "expected at most {MAX_STAGE_VARIABLES} stage variables, found {} (AWS limit)",
                        s.variables.len()
                    ),
                );
            }
            for (name, value) in &s.variables {
                let vp = format!("{sp}/variables/{}", escape(name));
                if !template::is_stage_variable_name(name) {
                    self.err_key(
                        &vp,
                        format!("invalid stage variable name `{name}`: expected 1 to 64 letters, digits and `_`"),
                    );
                }
                let chars = value.chars().count();
                if chars > MAX_STAGE_VARIABLE_VALUE_CHARS {
                    self.err(
                        &vp,
                        format!(
                            "stage variable `{name}` is {chars} characters long, at most \
                             {MAX_STAGE_VARIABLE_VALUE_CHARS} are allowed (AWS limit)"
                        ),
                    );
                }
            }
            if s.tags.len() > MAX_TAGS {
                self.err(
                    &format!("{sp}/tags"),
                    format!("expected at most {MAX_TAGS} tags, found {}", s.tags.len()),
                );
            }
            out.push(Stage {
                name: s.name.clone(),
                variables: s.variables.clone(),
                tags: s.tags.clone(),
                throttle: None,
                route_throttle: Vec::new(),
            });
        }
        out
    }

    /// Compile the integrations in file order; also return, per integration, the path
    /// parameters its templates read (every route using it must have them).
    fn integrations(
        &mut self,
        p: &str,
        raw: &BTreeMap<String, schema::Integration>,
    ) -> (Vec<Integration>, Vec<Vec<String>>) {
        let ip = format!("{p}/integrations");
        if raw.len() > MAX_INTEGRATIONS {
            self.err(
                &ip,
                format!(
                    "expected at most {MAX_INTEGRATIONS} integrations, found {} (AWS limit)",
                    raw.len()
                ),
            );
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut params = Vec::with_capacity(raw.len());
        for (name, integ) in self.file_order(&ip, raw) {
            let p = format!("{ip}/{}", escape(name));
            let (integration, used) = self.integration(&p, name, integ);
            out.push(integration);
            params.push(used);
        }
        (out, params)
    }

    fn integration(
        &mut self,
        p: &str,
        name: &str,
        raw: &schema::Integration,
    ) -> (Integration, Vec<String>) {
        use schema::IntegrationType as T;
        let type_name = match raw.kind {
            T::HttpProxy => "http_proxy",
            T::Mock => "mock",
            T::Lambda => "lambda",
        };
        // Flat schema: say which fields do not belong to this type.
        let fields: [(&str, bool, T); 8] = [
            ("uri", raw.uri.is_some(), T::HttpProxy),
            ("method", raw.method.is_some(), T::HttpProxy),
            ("status", raw.status.is_some(), T::Mock),
            ("headers", raw.headers.is_some(), T::Mock),
            ("body", raw.body.is_some(), T::Mock),
            ("endpoint", raw.endpoint.is_some(), T::Lambda),
            ("function", raw.function.is_some(), T::Lambda),
            (
                "payload_format_version",
                raw.payload_format_version.is_some(),
                T::Lambda,
            ),
        ];
        for (field, set, applies_to) in fields {
            if set && applies_to != raw.kind {
                self.err_key(
                    &format!("{p}/{field}"),
                    format!("field `{field}` does not apply to `{type_name}` integrations"),
                );
            }
        }
        let mut used: Vec<String> = Vec::new();
        let note_params = |t: &Template, used: &mut Vec<String>| {
            for param in template::path_params(t) {
                if !used.iter().any(|u| u == param) {
                    used.push(param.to_owned());
                }
            }
        };
        let require = |cx: &mut Self, field: &str, value: Option<&String>| -> Option<String> {
            if value.is_none() {
                cx.err_key(
                    p,
                    format!("`{type_name}` integration `{name}` needs `{field}`"),
                );
            }
            value.cloned()
        };

        let kind = match raw.kind {
            T::HttpProxy => {
                let uri = require(self, "uri", raw.uri.as_ref())
                    .and_then(|u| self.http_uri(&format!("{p}/uri"), &u))
                    .unwrap_or_default();
                note_params(&uri, &mut used);
                let method = raw
                    .method
                    .as_ref()
                    .and_then(|m| self.method(&format!("{p}/method"), m));
                IntegrationKind::HttpProxy { uri, method }
            }
            T::Mock => {
                let code = raw.status.unwrap_or(200);
                let status = match StatusCode::from_u16(code) {
                    Ok(s) if (100..=599).contains(&code) => s,
                    _ => {
                        self.err(
                            &format!("{p}/status"),
                            format!("expected a status code from 100 to 599, found {code}"),
                        );
                        StatusCode::OK
                    }
                };
                let mut headers = Vec::new();
                if let Some(map) = &raw.headers {
                    let hp = format!("{p}/headers");
                    for (k, v) in self.file_order(&hp, map) {
                        let kp = format!("{hp}/{}", escape(k));
                        match HeaderName::from_bytes(k.as_bytes()) {
                            Ok(h) => headers.push((h.as_str().to_owned(), v.clone())),
                            Err(_) => self.err_key(&kp, format!("invalid header name `{k}`")),
                        }
                        if HeaderValue::from_str(v).is_err() {
                            self.err(&kp, format!("invalid value for header `{k}`"));
                        }
                    }
                }
                IntegrationKind::Mock {
                    status,
                    headers,
                    body: raw.body.clone().unwrap_or_default(),
                }
            }
            T::Lambda => {
                let endpoint = require(self, "endpoint", raw.endpoint.as_ref())
                    .and_then(|e| self.lambda_endpoint(&format!("{p}/endpoint"), &e))
                    .unwrap_or_default();
                let function = require(self, "function", raw.function.as_ref())
                    .and_then(|f| {
                        let fp = format!("{p}/function");
                        if f.is_empty() {
                            self.err(&fp, "the function name must not be empty");
                            return None;
                        }
                        match template::parse_uri_template(&f) {
                            Ok(t) => Some(t),
                            Err(e) => {
                                self.err(&fp, format!("invalid function: {e}"));
                                None
                            }
                        }
                    })
                    .unwrap_or_default();
                note_params(&function, &mut used);
                let payload_format = match raw.payload_format_version {
                    Some(schema::PayloadFormatVersion::V1) => PayloadFormat::V1,
                    Some(schema::PayloadFormatVersion::V2) | None => PayloadFormat::V2,
                };
                IntegrationKind::Lambda {
                    endpoint,
                    function,
                    payload_format,
                }
            }
        };

        // aws-facts §2.2: HTTP API integration timeout 50 ms to 30 s.
        let timeout_ms = raw.timeout_ms.unwrap_or(schema::MAX_TIMEOUT_MS);
        if !(schema::MIN_TIMEOUT_MS..=schema::MAX_TIMEOUT_MS).contains(&timeout_ms) {
            self.err(
                &format!("{p}/timeout_ms"),
                format!(
                    "expected a timeout from {} to {} ms (AWS HTTP API limits), found {timeout_ms}",
                    schema::MIN_TIMEOUT_MS,
                    schema::MAX_TIMEOUT_MS
                ),
            );
        }

        let rp = format!("{p}/request_parameters");
        let mut request_parameters = Vec::new();
        for (key, value) in self.file_order(&rp, &raw.request_parameters) {
            let kp = format!("{rp}/{}", escape(key));
            if let Some(m) = self.mapping(&kp, key, value, Direction::Request) {
                note_params(&m.value, &mut used);
                request_parameters.push(m);
            }
        }

        let sp = format!("{p}/response_parameters");
        let mut response_parameters = BTreeMap::new();
        for (status, map) in self.file_order(&sp, &raw.response_parameters) {
            let stp = format!("{sp}/{}", escape(status));
            // aws-facts §3.6: response mappings are keyed by the integration's status code.
            let code = match status.parse::<u16>() {
                Ok(c) if (200..=599).contains(&c) => Some(c),
                _ => {
                    self.err_key(
                        &stp,
                        format!("invalid status code `{status}`: expected 200 to 599"),
                    );
                    None
                }
            };
            let mut list = Vec::new();
            for (key, value) in self.file_order(&stp, map) {
                let kp = format!("{stp}/{}", escape(key));
                if let Some(m) = self.mapping(&kp, key, value, Direction::Response) {
                    list.push(m);
                }
            }
            if let Some(c) = code {
                response_parameters.insert(c, list);
            }
        }

        let integration = Integration {
            name: name.to_owned(),
            kind,
            timeout: Duration::from_millis(timeout_ms),
            request_parameters,
            response_parameters,
        };
        (integration, used)
    }

    fn http_uri(&mut self, pointer: &str, uri: &str) -> Option<Template> {
        if uri.starts_with("https://") {
            self.err(pointer, HTTPS_NOT_YET.to_string());
            return None;
        }
        match uri.strip_prefix("http://") {
            None => {
                self.err(pointer, format!("invalid uri `{uri}`: expected `http://`"));
                None
            }
            Some("") => {
                self.err(pointer, format!("invalid uri `{uri}`: no host"));
                None
            }
            Some(_) => match template::parse_uri_template(uri) {
                Ok(t) => Some(t),
                Err(e) => {
                    self.err(pointer, format!("invalid uri: {e}"));
                    None
                }
            },
        }
    }

    fn method(&mut self, pointer: &str, m: &str) -> Option<Method> {
        if m == "ANY" {
            return None;
        }
        if ROUTE_METHODS.contains(&m) {
            Method::from_bytes(m.as_bytes()).ok()
        } else {
            self.err(
                pointer,
                format!(
                    "unknown method `{m}`, expected one of {}",
                    ROUTE_METHODS.join(", ")
                ),
            );
            None
        }
    }

    /// `http://host:port` (a path prefix is allowed); the trailing slash is dropped so the
    /// data plane can append `/2015-03-31/functions/...`.
    fn lambda_endpoint(&mut self, pointer: &str, endpoint: &str) -> Option<String> {
        let trimmed = endpoint.trim_end_matches('/');
        if trimmed.starts_with("https://") {
            self.err(pointer, HTTPS_NOT_YET.to_string());
            return None;
        }
        let ok = match trimmed.parse::<http::Uri>() {
            Ok(u) => {
                matches!(u.scheme_str(), Some("http"))
                    && u.authority().is_some_and(|a| !a.host().is_empty())
                    && u.query().is_none()
            }
            Err(_) => false,
        };
        if ok {
            Some(trimmed.to_owned())
        } else {
            self.err(
                pointer,
                format!("invalid endpoint `{endpoint}`: expected `http://HOST:PORT`"),
            );
            None
        }
    }

    /// One parameter-mapping entry, `"ACTION:TARGET": VALUE` (aws-facts §3.6).
    fn mapping(
        &mut self,
        pointer: &str,
        key: &str,
        value: &str,
        direction: Direction,
    ) -> Option<ParamMapping> {
        let target = match parse_mapping_key(key, direction) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err_key(pointer, e);
                None
            }
        };
        let template = match template::parse_mapping_value(value, direction) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(pointer, e);
                None
            }
        };
        let ((action, target), value) = (target?, template?);
        if target == MappingTarget::StatusCode {
            if let [TemplatePart::Literal(text)] = value.parts.as_slice() {
                if !matches!(text.parse::<u16>(), Ok(100..=599)) {
                    self.err(
                        pointer,
                        format!("`overwrite:statuscode` needs a status code from 100 to 599, found `{text}`"),
                    );
                    return None;
                }
            }
        }
        Some(ParamMapping {
            action,
            target,
            value,
        })
    }

    fn routes(
        &mut self,
        p: &str,
        raw: &[schema::Route],
        integrations: &[Integration],
        integration_params: &[Vec<String>],
        websocket: bool,
    ) -> Vec<Route> {
        if raw.len() > MAX_ROUTES {
            self.err(
                &format!("{p}/routes"),
                format!(
                    "expected at most {MAX_ROUTES} routes, found {} (AWS limit)",
                    raw.len()
                ),
            );
        }
        let mut out = Vec::with_capacity(raw.len());
        // Parsed routes so far: (pointer of the key, key, segments).
        let mut parsed: Vec<(String, &str, Vec<Segment>)> = Vec::new();
        for (j, r) in raw.iter().enumerate() {
            let rp = format!("{p}/routes/{j}");
            let kp = format!("{rp}/key");
            let parsed_key = if websocket {
                crate::websocket::parse_route_key(&r.key).map(|m| (m, Vec::new()))
            } else {
                parse_route_key(&r.key)
            };
            let (matcher, segments, valid_key) = match parsed_key {
                Ok((matcher, segments)) => (matcher, segments, true),
                Err(e) => {
                    self.err(&kp, format!("invalid route key `{}`: {e}", r.key));
                    (RouteMatcher::Default, Vec::new(), false)
                }
            };
            if valid_key {
                if let Some((first, _, _)) = parsed.iter().find(|(_, k, _)| *k == r.key) {
                    let line = self.line(first);
                    self.err(
                        &kp,
                        format!(
                            "duplicate route key `{}` (first defined at line {line})",
                            r.key
                        ),
                    );
                } else {
                    // matchit 0.9 (the router) cannot hold two parameters of different names
                    // at one position, and AWS rejects them too.
                    let conflict = parsed.iter().find_map(|(other_p, other_key, other)| {
                        param_conflict(&segments, other).map(|(pos, mine, theirs, advice)| {
                            (other_p.clone(), *other_key, pos, mine, theirs, advice)
                        })
                    });
                    match conflict {
                        Some((other_p, other_key, pos, mine, theirs, advice)) => {
                            let line = self.line(&other_p);
                            self.err(
                                &kp,
                                format!(
                                    "route `{}` has `{mine}` at path segment {pos}, but route `{other_key}` (line {line}) has `{theirs}` there: {advice}",
                                    r.key
                                ),
                            );
                        }
                        // Only routes without conflict are compared with later ones, so one
                        // misnamed parameter is reported once.
                        None => parsed.push((kp.clone(), &r.key, segments.clone())),
                    }
                }
            }

            let ip = format!("{rp}/integration");
            let integration = integrations.iter().position(|i| i.name == r.integration);
            match integration {
                None => {
                    let known: Vec<String> = integrations.iter().map(|i| i.name.clone()).collect();
                    let message = if known.is_empty() {
                        format!(
                            "unknown integration `{}`: the API has no integrations",
                            r.integration
                        )
                    } else {
                        format!(
                            "unknown integration `{}`, expected one of {}",
                            r.integration,
                            backticked(&known)
                        )
                    };
                    self.err(&ip, message);
                }
                Some(idx) if valid_key => {
                    let route_params: Vec<&str> =
                        segments.iter().filter_map(Segment::param).collect();
                    for param in &integration_params[idx] {
                        if !route_params.contains(&param.as_str()) {
                            self.err(
                                &ip,
                                format!(
                                    "integration `{}` uses path parameter `{{{param}}}`, which route `{}` does not have",
                                    r.integration, r.key
                                ),
                            );
                        }
                    }
                }
                Some(_) => {}
            }
            out.push(Route {
                key: r.key.clone(),
                matcher,
                integration: integration.unwrap_or(0),
                authorizer: None,
                authorization_scopes: Vec::new(),
                api_key_required: false,
                aws_iam: false,
                route_response: r.route_response,
            });
        }
        out
    }
}

/// One segment of a route path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

impl Segment {
    fn param(&self) -> Option<&str> {
        match self {
            Segment::Param(n) | Segment::Greedy(n) => Some(n),
            Segment::Literal(_) => None,
        }
    }
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Segment::Literal(s) => f.write_str(s),
            Segment::Param(n) => write!(f, "{{{n}}}"),
            Segment::Greedy(n) => write!(f, "{{{n}+}}"),
        }
    }
}

/// Parse a route key (aws-facts §3.1): `$default`, or `METHOD /path`. By hand: AWS's path
/// syntax (`{name}`, final `{name+}`) is not matchit's (`{*name}`), and we need AWS's rules and
/// messages before anything reaches the router.
fn parse_route_key(key: &str) -> Result<(RouteMatcher, Vec<Segment>), String> {
    if key == "$default" {
        return Ok((RouteMatcher::Default, Vec::new()));
    }
    let Some((method, path)) = key.split_once(' ') else {
        return Err("expected `$default` or `METHOD /path`".to_owned());
    };
    if !ROUTE_METHODS.contains(&method) {
        return Err(format!(
            "unknown method `{method}`, expected one of {}",
            ROUTE_METHODS.join(", ")
        ));
    }
    let method = match method {
        "ANY" => None,
        m => Method::from_bytes(m.as_bytes()).ok(),
    };
    let Some(rest) = path.strip_prefix('/') else {
        return Err("the path must start with `/`".to_owned());
    };
    let mut segments = Vec::new();
    if !rest.is_empty() {
        let parts: Vec<&str> = rest.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() {
                return Err("empty path segment (`//` or a trailing `/`)".to_owned());
            }
            if let Some(inner) = part.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let (name, greedy) = match inner.strip_suffix('+') {
                    Some(n) => (n, true),
                    None => (inner, false),
                };
                if !template::is_param_name(name) {
                    return Err(format!(
                        "`{part}` is not a valid path parameter (letters, digits and `_`)"
                    ));
                }
                if greedy && i + 1 != parts.len() {
                    return Err(format!(
                        "the greedy path parameter `{part}` must be the last segment"
                    ));
                }
                if segments.iter().any(|s: &Segment| s.param() == Some(name)) {
                    return Err(format!("path parameter `{{{name}}}` appears twice"));
                }
                segments.push(if greedy {
                    Segment::Greedy(name.to_owned())
                } else {
                    Segment::Param(name.to_owned())
                });
            } else if part.contains(['{', '}']) {
                return Err(format!(
                    "path parameters must be whole segments, found `{part}`"
                ));
            } else if part.contains(|c: char| c.is_whitespace() || c == '?' || c == '#') {
                return Err(format!("invalid character in path segment `{part}`"));
            } else {
                segments.push(Segment::Literal((*part).to_owned()));
            }
        }
    }
    Ok((
        RouteMatcher::Path {
            method,
            path: path.to_owned(),
        },
        segments,
    ))
}

/// The first position where two routes, under the same literal prefix, hold different
/// variable segments: `{id}` and `{name}`, `{a+}` and `{b+}`, or `{id}` and `{proxy+}`. Returns
/// (1-based position, this route's segment, the other's) and the advice to give.
///
/// AWS allows one variable path part per position ("A sibling ({id}) of this resource already
/// has a variable path part -- only one is allowed"), and the router, matchit 0.9, cannot hold
/// two differently named parameters, or a parameter and a catch-all, at one position either.
fn param_conflict(a: &[Segment], b: &[Segment]) -> Option<(usize, String, String, &'static str)> {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        match (x, y) {
            (Segment::Literal(l), Segment::Literal(m)) if l == m => {}
            (Segment::Param(n), Segment::Param(m)) | (Segment::Greedy(n), Segment::Greedy(m)) => {
                if n != m {
                    return Some((i + 1, x.to_string(), y.to_string(), "use one name"));
                }
            }
            (Segment::Param(_), Segment::Greedy(_)) | (Segment::Greedy(_), Segment::Param(_)) => {
                return Some((
                    i + 1,
                    x.to_string(),
                    y.to_string(),
                    "only one variable segment is allowed per position",
                ));
            }
            _ => return None,
        }
    }
    None
}

/// Parse `ACTION:TARGET` of a parameter mapping (aws-facts §3.6).
fn parse_mapping_key(
    key: &str,
    direction: Direction,
) -> Result<(MappingAction, MappingTarget), String> {
    let Some((action, target)) = key.split_once(':') else {
        return Err(format!(
            "invalid parameter mapping `{key}`: expected `ACTION:TARGET`, such as `append:header.x-id`"
        ));
    };
    let action = match action {
        "append" => MappingAction::Append,
        "overwrite" => MappingAction::Overwrite,
        "remove" => MappingAction::Remove,
        other => {
            return Err(format!(
                "unknown action `{other}` in `{key}`: expected `append`, `overwrite` or `remove`"
            ))
        }
    };
    let target = if let Some(name) = target.strip_prefix("header.") {
        let lower = name.to_ascii_lowercase();
        if HeaderName::from_bytes(lower.as_bytes()).is_err() {
            return Err(format!("invalid header name `{name}` in `{key}`"));
        }
        if is_reserved_header(&lower) {
            return Err(format!(
                "header `{lower}` is reserved and cannot be mapped (AWS)"
            ));
        }
        MappingTarget::Header(lower)
    } else if let Some(name) = target.strip_prefix("querystring.") {
        if direction == Direction::Response {
            return Err(format!(
                "`{key}`: query strings can only be mapped in request parameters"
            ));
        }
        if name.is_empty() {
            return Err(format!("`{key}` needs a query string parameter name"));
        }
        MappingTarget::QueryString(name.to_owned())
    } else if target == "path" {
        if direction == Direction::Response {
            return Err(format!(
                "`{key}`: the path can only be mapped in request parameters"
            ));
        }
        if action != MappingAction::Overwrite {
            return Err(format!(
                "`{key}`: the path can only be overwritten (`overwrite:path`)"
            ));
        }
        MappingTarget::Path
    } else if target == "statuscode" {
        if direction == Direction::Request {
            return Err(format!(
                "`{key}`: the status code can only be mapped in response parameters"
            ));
        }
        if action != MappingAction::Overwrite {
            return Err(format!(
                "`{key}`: the status code can only be overwritten (`overwrite:statuscode`)"
            ));
        }
        MappingTarget::StatusCode
    } else {
        let expected = match direction {
            Direction::Request => "`header.NAME`, `querystring.NAME` or `path`",
            Direction::Response => "`header.NAME` or `statuscode`",
        };
        return Err(format!(
            "unknown target `{target}` in `{key}`: expected {expected}"
        ));
    };
    Ok((action, target))
}

/// Headers AWS does not let parameter mapping touch (aws-facts §3.6).
fn is_reserved_header(lower: &str) -> bool {
    const PREFIXES: &[&str] = &["access-control-", "apigw-", "x-amz-", "x-amzn-"];
    const NAMES: &[&str] = &[
        "authorization",
        "connection",
        "content-encoding",
        "content-length",
        "content-location",
        "forwarded",
        "keep-alive",
        "origin",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "via",
    ];
    NAMES.contains(&lower) || PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// `us-east-1`, `us-gov-west-1`, `ap-northeast-2`: two letters, words, a number.
fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_api_id(id: &str) -> bool {
    (1..=10).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `$default` or `[A-Za-z0-9_-]{1,128}` (AWS stage names).
fn is_stage_name(name: &str) -> bool {
    name == "$default"
        || ((1..=128).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// A lower-case DNS name, optionally with a leading `*.` wildcard label. A few lines of label
/// rules; a URL or IDNA crate would accept far more (ports, paths, Unicode) than a Host match can use.
fn is_host(host: &str) -> bool {
    let name = host.strip_prefix("*.").unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A stable 10-character id from the API name: FNV-1a (64 bit) written in base 36. Written by
/// hand because std's hashers are not guaranteed stable across Rust releases, and ids must not
/// change when the toolchain does (they appear in `domainName` and in the usage ledger).
pub(crate) fn derived_api_id(name: &str) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut id = String::with_capacity(10);
    for _ in 0..10 {
        id.push(char::from(ALPHABET[(hash % 36) as usize]));
        hash /= 36;
    }
    id
}

fn backticked(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
