//! A configuration made ready for the request path: routers built, host tables filled, metric
//! handles registered, strings shared. One `Runtime` is swapped in atomically per (re)load;
//! requests in flight keep the one they started with.

use std::collections::HashMap;
use std::sync::Arc;

use tollgate_config::model::{self, Api, AuthorizerKind, GatewayConfig, Protocol, Stage};
use tollgate_meter::{ApiKind, RouteDims};

use crate::access::{AccessControl, BudgetGate, BudgetState};
use crate::access_log::LogFormat;
use crate::cors::CorsPolicy;
use crate::metrics::{Metrics, RouteMetrics};
use crate::router::{ApiRouter, RouterError};

/// Everything the request path reads, for one configuration generation.
pub struct Runtime {
    pub config: Arc<GatewayConfig>,
    pub account_id: Arc<str>,
    /// Indexed like `config.listeners`.
    pub listeners: Vec<ListenerTable>,
    /// Indexed like `config.apis`.
    pub apis: Vec<ApiRuntime>,
    pub access_log_format: Option<Arc<LogFormat>>,
    /// Requests that matched no API.
    pub unmatched: RouteSlot,
    /// API keys, usage plans and throttles.
    pub access: AccessControl,
    /// Dollar budgets that can refuse requests.
    pub budgets: Vec<BudgetGate>,
    /// SigV4 verification for routes with `authorization: aws_iam`.
    pub iam: Option<tollgate_auth::SigV4Verifier>,
}

/// Budget states by name, owned by the gateway so they outlive a configuration.
pub type BudgetStates = std::sync::Mutex<HashMap<String, Arc<BudgetState>>>;

/// Why a configuration could not be made ready for the request path (compile() catches
/// almost everything; these are the data plane's own checks).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Router(#[from] RouterError),
    #[error("throttles and quotas: {0}")]
    Limits(#[from] tollgate_limits::LimitsError),
    #[error("authorizer `{name}`: {message}")]
    Authorizer { name: String, message: String },
}

/// A ready authorizer, with the settings it was built from (so a reload can keep one whose
/// settings did not change, and with it its cached keys or answers).
pub struct Authorizer {
    pub settings: AuthorizerKind,
    pub kind: AuthorizerRt,
}

/// The authorizer of each type.
pub enum AuthorizerRt {
    Jwt(tollgate_auth::JwtAuthorizer),
    Request(tollgate_auth::RequestAuthorizer),
}

impl Authorizer {
    fn build(a: &model::Authorizer, previous: Option<&Runtime>) -> Result<Self, BuildError> {
        let kept = previous.and_then(|p| {
            p.apis
                .iter()
                .flat_map(|api| api.authorizers.iter())
                .find(|old| old.settings == a.kind)
        });
        if let Some(old) = kept {
            let kind = match &old.kind {
                AuthorizerRt::Jwt(j) => AuthorizerRt::Jwt(j.clone()),
                AuthorizerRt::Request(r) => AuthorizerRt::Request(r.clone()),
            };
            return Ok(Self {
                settings: a.kind.clone(),
                kind,
            });
        }
        let kind = match &a.kind {
            AuthorizerKind::Jwt(settings) => AuthorizerRt::Jwt(Self::jwt(&a.name, settings)?),
            AuthorizerKind::Request(settings) => {
                AuthorizerRt::Request(Self::request(&a.name, settings)?)
            }
        };
        Ok(Self {
            settings: a.kind.clone(),
            kind,
        })
    }

    fn jwt(
        name: &str,
        settings: &model::JwtAuthorizer,
    ) -> Result<tollgate_auth::JwtAuthorizer, BuildError> {
        let header = http::HeaderName::from_bytes(settings.identity_header.as_bytes())
            .unwrap_or(http::header::AUTHORIZATION);
        let mut s = tollgate_auth::JwtSettings::new(
            settings.issuer.clone(),
            settings.audiences.iter().cloned(),
        );
        s.identity_header = header;
        s.jwks_uri = settings.jwks_uri.clone();
        let jwt =
            tollgate_auth::JwtAuthorizer::with_http(s).map_err(|e| BuildError::Authorizer {
                name: name.to_owned(),
                message: e.to_string(),
            })?;
        // Fetch the keys now rather than on the first request, when a runtime is at hand.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let warm = jwt.clone();
            let name = name.to_owned();
            handle.spawn(async move {
                if let Err(e) = warm.prefetch().await {
                    tracing::warn!(authorizer = %name, error = %e, "cannot fetch the JWKS yet; requests will retry");
                }
            });
        }
        Ok(jwt)
    }

    fn request(
        name: &str,
        settings: &model::RequestAuthorizer,
    ) -> Result<tollgate_auth::RequestAuthorizer, BuildError> {
        let err = |message: String| BuildError::Authorizer {
            name: name.to_owned(),
            message,
        };
        let mut s = tollgate_auth::RequestAuthorizerSettings::new(
            settings.endpoint.clone(),
            settings.function.clone(),
        );
        s.payload_format = match settings.payload_format {
            model::PayloadFormat::V1 => tollgate_auth::PayloadFormat::V1,
            model::PayloadFormat::V2 => tollgate_auth::PayloadFormat::V2,
        };
        s.simple_responses = settings.simple_responses;
        s.identity_sources = settings
            .identity_sources
            .iter()
            .map(|src| tollgate_auth::IdentitySource::parse(src).map_err(|e| err(e.to_string())))
            .collect::<Result<_, _>>()?;
        s.result_ttl = settings.result_ttl;
        tollgate_auth::RequestAuthorizer::new(s).map_err(|e| err(e.to_string()))
    }
}

/// The SigV4 verifier of `config.iam`.
fn iam_verifier(
    config: &GatewayConfig,
) -> Result<Option<tollgate_auth::SigV4Verifier>, BuildError> {
    let Some(iam) = &config.iam else {
        return Ok(None);
    };
    let keys = iam
        .access_keys
        .iter()
        .map(|k| {
            let key = tollgate_auth::AccessKey::new(
                k.access_key_id.clone(),
                k.secret_access_key.clone(),
                k.principal.clone(),
            );
            match &k.session_token {
                Some(t) => key.with_session_token(t.clone()),
                None => key,
            }
        })
        .collect();
    let policies = iam
        .policies
        .iter()
        .map(|p| {
            let f = if p.allow {
                tollgate_auth::Policy::allow
            } else {
                tollgate_auth::Policy::deny
            };
            f(p.principals.clone(), p.actions.clone(), p.resources.clone())
        })
        .collect();
    tollgate_auth::SigV4Verifier::new(
        keys,
        policies,
        config.region.clone(),
        config.account_id.clone(),
        iam.clock_skew,
    )
    .map(Some)
    .map_err(|e| BuildError::Authorizer {
        name: "iam".into(),
        message: e.to_string(),
    })
}

/// What one (API, stage, route) — or the unmatched remainder of a stage — records into: its
/// Prometheus handles and its usage dimensions.
pub struct RouteSlot {
    pub metrics: RouteMetrics,
    pub usage: Arc<RouteDims>,
}

/// Which [`RouteSlot`] a request ended in, by index (so that the request's context can hold it
/// without a reference into the runtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlotRef {
    /// No API (unknown host on this listener).
    #[default]
    NoApi,
    /// An API, but no stage matched the path.
    NoStage { api: u32 },
    /// A stage; `route == routes.len()` for requests that matched no route.
    Route { api: u32, stage: u32, route: u32 },
}

/// How one listener picks an API from the `Host` header.
#[derive(Default)]
pub struct ListenerTable {
    /// Custom domains (lower-case).
    by_host: HashMap<String, usize>,
    /// API ids, matched against the first label of the host. A short list: a linear scan of
    /// ten-byte ids is cheaper than hashing the host.
    by_id: Vec<(String, usize)>,
    default_api: Option<usize>,
}

pub struct ApiRuntime {
    pub id: Arc<str>,
    /// Indexed like `Api::authorizers`.
    pub authorizers: Vec<Authorizer>,
    /// Requests to this API whose path named no stage.
    pub no_stage: RouteSlot,
    pub router: ApiRouter,
    pub stages: Vec<StageRuntime>,
    pub default_stage: Option<usize>,
    pub route_keys: Vec<Arc<str>>,
    pub cors: Option<CorsPolicy>,
    /// WebSocket APIs only.
    pub ws: Option<crate::websocket::WsRuntime>,
}

pub struct StageRuntime {
    pub name: Arc<str>,
    /// One per route, then one for requests that matched no route.
    pub slots: Vec<RouteSlot>,
}

impl Runtime {
    /// Build the runtime of `config`; quota counts carry over from `previous` (a reload).
    pub fn build(
        config: Arc<GatewayConfig>,
        metrics: &Metrics,
        previous: Option<&Runtime>,
        budget_states: &BudgetStates,
    ) -> Result<Self, BuildError> {
        let budgets = BudgetGate::build_all(&config, budget_states)?;
        let iam = iam_verifier(&config)?;
        let access = AccessControl::build(&config, previous.map(|p| &p.access))?;
        let mut listeners: Vec<ListenerTable> = config
            .listeners
            .iter()
            .map(|_| ListenerTable::default())
            .collect();
        let mut apis = Vec::with_capacity(config.apis.len());
        for (idx, api) in config.apis.iter().enumerate() {
            if let Some(table) = listeners.get_mut(api.listener) {
                if api.hosts.is_empty() {
                    table.default_api = Some(idx);
                }
                for h in &api.hosts {
                    table.by_host.insert(h.to_ascii_lowercase(), idx);
                }
                // `{id}.execute-api.{region}.amazonaws.com` (and any `{id}.` host) reaches the API.
                table.by_id.push((api.id.clone(), idx));
            }
            apis.push(ApiRuntime::build(api, &config.region, metrics, previous)?);
        }
        let region: Arc<str> = Arc::from(config.region.as_str());
        Ok(Self {
            account_id: Arc::from(config.account_id.as_str()),
            access_log_format: config
                .access_log
                .as_ref()
                .map(|a| Arc::new(LogFormat::parse(&a.format))),
            unmatched: RouteSlot {
                metrics: metrics.route("-", "-", "-", "-"),
                usage: Arc::new(RouteDims {
                    region,
                    api: Arc::from(""),
                    stage: Arc::from(""),
                    route: Arc::from(""),
                    kind: ApiKind::Http,
                    tags: Arc::default(),
                }),
            },
            listeners,
            apis,
            access,
            budgets,
            iam,
            config,
        })
    }

    /// The API a request on `listener` with this `Host` header reaches.
    pub fn resolve_api(&self, listener: usize, host: Option<&str>) -> Option<usize> {
        let table = self.listeners.get(listener)?;
        if let Some(host) = host {
            let host = host.rsplit_once(':').map_or(host, |(h, port)| {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    h
                } else {
                    host
                }
            });
            if !table.by_host.is_empty() {
                let found = if host.bytes().any(|b| b.is_ascii_uppercase()) {
                    table.by_host.get(&host.to_ascii_lowercase())
                } else {
                    table.by_host.get(host)
                };
                if let Some(i) = found {
                    return Some(*i);
                }
            }
            let first = host.split('.').next().unwrap_or(host);
            if let Some((_, i)) = table
                .by_id
                .iter()
                .find(|(id, _)| id.eq_ignore_ascii_case(first))
            {
                return Some(*i);
            }
        }
        table.default_api
    }

    pub fn api(&self, idx: usize) -> (&Api, &ApiRuntime) {
        (&self.config.apis[idx], &self.apis[idx])
    }

    /// The slot a request ended in.
    pub fn slot(&self, at: SlotRef) -> &RouteSlot {
        let found = match at {
            SlotRef::NoApi => None,
            SlotRef::NoStage { api } => self.apis.get(api as usize).map(|a| &a.no_stage),
            SlotRef::Route { api, stage, route } => self
                .apis
                .get(api as usize)
                .and_then(|a| a.stages.get(stage as usize))
                .and_then(|s| s.slots.get(route as usize)),
        };
        found.unwrap_or(&self.unmatched)
    }
}

impl ApiRuntime {
    fn build(
        api: &Api,
        region: &str,
        metrics: &Metrics,
        previous: Option<&Runtime>,
    ) -> Result<Self, BuildError> {
        let authorizers = api
            .authorizers
            .iter()
            .map(|a| Authorizer::build(a, previous))
            .collect::<Result<Vec<_>, _>>()?;
        // WebSocket routes are chosen per message, never by path.
        let router = match api.protocol {
            Protocol::Websocket => ApiRouter::new(&[])?,
            _ => ApiRouter::new(&api.routes)?,
        };
        let region: Arc<str> = Arc::from(region);
        let id: Arc<str> = Arc::from(api.id.as_str());
        let tags = Arc::new(api.tags.clone());
        let kind = match api.protocol {
            Protocol::Http => ApiKind::Http,
            Protocol::Rest => ApiKind::Rest,
            Protocol::Websocket => ApiKind::Websocket,
        };
        let slot = |stage: &str, route: &str| RouteSlot {
            metrics: metrics.route(
                &api.id,
                &api.name,
                stage,
                if route.is_empty() { "-" } else { route },
            ),
            usage: Arc::new(RouteDims {
                region: Arc::clone(&region),
                api: Arc::clone(&id),
                stage: Arc::from(stage),
                route: Arc::from(route),
                kind,
                tags: Arc::clone(&tags),
            }),
        };
        let route_keys: Vec<Arc<str>> = api
            .routes
            .iter()
            .map(|r| Arc::from(r.key.as_str()))
            .collect();
        let stages = api
            .stages
            .iter()
            .map(|s: &Stage| {
                let mut slots: Vec<RouteSlot> =
                    api.routes.iter().map(|r| slot(&s.name, &r.key)).collect();
                slots.push(slot(&s.name, ""));
                if api.websocket.is_some() {
                    // `crate::websocket::manage_slot`: what `@connections` posts record into.
                    slots.push(slot(&s.name, "@connections"));
                }
                StageRuntime {
                    name: Arc::from(s.name.as_str()),
                    slots,
                }
            })
            .collect();
        Ok(Self {
            authorizers,
            no_stage: slot("", ""),
            id,
            router,
            default_stage: api.stages.iter().position(|s| s.is_default()),
            stages,
            route_keys,
            cors: api.cors.as_ref().map(CorsPolicy::new),
            ws: api
                .websocket
                .as_ref()
                .map(|w| crate::websocket::WsRuntime::build(api, w, metrics)),
        })
    }

    /// Split `path` into (stage index, path without the stage). A first segment naming a stage
    /// selects it; otherwise the `$default` stage serves the whole path (aws-facts.md §3.1).
    pub fn resolve_stage<'p>(&self, api: &Api, path: &'p str) -> Option<(usize, &'p str)> {
        let rest = path.strip_prefix('/').unwrap_or(path);
        let (first, tail) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if !first.is_empty() {
            if let Some(i) = api
                .stages
                .iter()
                .position(|s| !s.is_default() && s.name == first)
            {
                return Some((i, tail));
            }
        }
        self.default_stage.map(|i| (i, path))
    }
}
