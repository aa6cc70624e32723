//! Compiling access control: authorizers, route authorization, API keys, usage plans and
//! throttles, budgets (aws-facts.md §2.5, §3.8, §3.11). Part of `compile()`: every error is collected
//! with its location, none stops the others.

use std::collections::{BTreeMap, HashMap};

use crate::compile::Cx;
use crate::load::escape;
use crate::model::{
    Api, ApiKey, Authorizer, AuthorizerKind, Budget, JwtAuthorizer, OnLimit, PlanStage, Quota,
    QuotaPeriod, Route, Stage, Throttle, UsagePlan,
};
use crate::schema;

/// AWS: at most 10 authorizers per API (aws-facts §2.2).
const MAX_AUTHORIZERS: usize = 10;

impl Cx<'_> {
    /// A throttle's numbers: a finite rate ≥ 0.
    pub(crate) fn throttle(&mut self, p: &str, raw: schema::Throttle) -> Throttle {
        if !raw.rate.is_finite() || raw.rate < 0.0 {
            self.err(
                &format!("{p}/rate"),
                format!(
                    "invalid rate {}: expected requests per second, 0 or more",
                    raw.rate
                ),
            );
        }
        Throttle {
            rate: if raw.rate.is_finite() {
                raw.rate.max(0.0)
            } else {
                0.0
            },
            burst: raw.burst,
        }
    }

    pub(crate) fn authorizers(
        &mut self,
        p: &str,
        raw: &BTreeMap<String, schema::Authorizer>,
    ) -> Vec<Authorizer> {
        if raw.len() > MAX_AUTHORIZERS {
            self.err(
                &format!("{p}/authorizers"),
                format!(
                    "expected at most {MAX_AUTHORIZERS} authorizers, found {} (AWS limit)",
                    raw.len()
                ),
            );
        }
        let mut out = Vec::with_capacity(raw.len());
        for (name, a) in raw {
            let ap = format!("{p}/authorizers/{}", escape(name));
            match a.kind {
                schema::AuthorizerType::Jwt => {
                    let issuer = match &a.issuer {
                        Some(i) if is_http_url(i) => i.clone(),
                        Some(i) => {
                            self.err(
                                &format!("{ap}/issuer"),
                                format!(
                                    "invalid issuer `{i}`: expected an http:// or https:// URL"
                                ),
                            );
                            i.clone()
                        }
                        None => {
                            self.err(&ap, format!("jwt authorizer `{name}` needs an `issuer`"));
                            String::new()
                        }
                    };
                    if a.audience.is_empty() {
                        self.err(
                            &ap,
                            format!("jwt authorizer `{name}` needs at least one `audience`"),
                        );
                    }
                    if let Some(u) = &a.jwks_uri {
                        if !is_http_url(u) {
                            self.err(
                                &format!("{ap}/jwks_uri"),
                                format!(
                                    "invalid jwks_uri `{u}`: expected an http:// or https:// URL"
                                ),
                            );
                        }
                    }
                    let identity_header = match a.identity_source.as_deref() {
                        None => "authorization".to_owned(),
                        Some([one]) => match one.strip_prefix("$request.header.") {
                            Some(h)
                                if !h.is_empty()
                                    && http::HeaderName::from_bytes(h.as_bytes()).is_ok() =>
                            {
                                h.to_ascii_lowercase()
                            }
                            _ => {
                                self.err(
                                    &format!("{ap}/identity_source/0"),
                                    format!("invalid identity source `{one}`: a jwt authorizer reads `$request.header.NAME`"),
                                );
                                String::new()
                            }
                        },
                        Some(_) => {
                            self.err(
                                &format!("{ap}/identity_source"),
                                "a jwt authorizer has exactly one identity source",
                            );
                            String::new()
                        }
                    };
                    for (field, set) in [
                        ("endpoint", a.endpoint.is_some()),
                        ("function", a.function.is_some()),
                        ("payload_format_version", a.payload_format_version.is_some()),
                        ("enable_simple_responses", a.enable_simple_responses),
                        ("result_ttl_seconds", a.result_ttl_seconds.is_some()),
                    ] {
                        if set {
                            self.err(
                                &format!("{ap}/{field}"),
                                format!("`{field}` applies to request authorizers, not jwt"),
                            );
                        }
                    }
                    out.push(Authorizer {
                        name: name.clone(),
                        kind: AuthorizerKind::Jwt(JwtAuthorizer {
                            issuer,
                            audiences: a.audience.clone(),
                            identity_header,
                            jwks_uri: a.jwks_uri.clone(),
                        }),
                    });
                }
                schema::AuthorizerType::Request => {
                    out.push(self.request_authorizer(&ap, name, a));
                }
            }
        }
        out
    }

    fn request_authorizer(&mut self, ap: &str, name: &str, a: &schema::Authorizer) -> Authorizer {
        for (field, set) in [
            ("issuer", a.issuer.is_some()),
            ("audience", !a.audience.is_empty()),
            ("jwks_uri", a.jwks_uri.is_some()),
        ] {
            if set {
                self.err(
                    &format!("{ap}/{field}"),
                    format!("`{field}` applies to jwt authorizers, not request"),
                );
            }
        }
        let endpoint = match &a.endpoint {
            Some(e) if e.starts_with("http://") && e.len() > "http://".len() => e.clone(),
            Some(e) => {
                self.err(
                    &format!("{ap}/endpoint"),
                    format!(
                        "invalid endpoint `{e}`: expected an http:// URL of a Lambda Invoke API"
                    ),
                );
                e.clone()
            }
            None => {
                self.err(
                    ap,
                    format!("request authorizer `{name}` needs an `endpoint`"),
                );
                String::new()
            }
        };
        let function = match &a.function {
            Some(f) if !f.is_empty() => f.clone(),
            _ => {
                self.err(
                    ap,
                    format!("request authorizer `{name}` needs a `function`"),
                );
                String::new()
            }
        };
        let payload_format = match a.payload_format_version {
            Some(schema::PayloadFormatVersion::V1) => crate::model::PayloadFormat::V1,
            _ => crate::model::PayloadFormat::V2,
        };
        if a.enable_simple_responses && payload_format == crate::model::PayloadFormat::V1 {
            self.err(
                &format!("{ap}/enable_simple_responses"),
                "simple responses need payload_format_version \"2.0\"",
            );
        }
        let identity_sources = a
            .identity_source
            .clone()
            .unwrap_or_else(|| vec!["$request.header.Authorization".to_owned()]);
        for (k, src) in identity_sources.iter().enumerate() {
            let known = [
                "$request.header.",
                "$request.querystring.",
                "$context.",
                "$stageVariables.",
            ];
            let ok = known
                .iter()
                .any(|p| src.strip_prefix(p).is_some_and(|rest| !rest.is_empty()));
            if !ok {
                self.err(
                    &format!("{ap}/identity_source/{k}"),
                    format!("invalid identity source `{src}`: expected `$request.header.NAME`, `$request.querystring.NAME`, `$context.NAME` or `$stageVariables.NAME`"),
                );
            }
        }
        let ttl = a.result_ttl_seconds.unwrap_or(300);
        if ttl > 0 && identity_sources.is_empty() {
            self.err(
                &format!("{ap}/result_ttl_seconds"),
                "caching needs at least one identity source",
            );
        }
        Authorizer {
            name: name.to_owned(),
            kind: AuthorizerKind::Request(crate::model::RequestAuthorizer {
                endpoint,
                function,
                payload_format,
                simple_responses: a.enable_simple_responses,
                identity_sources,
                result_ttl: std::time::Duration::from_secs(ttl.min(3600)),
            }),
        }
    }

    /// IAM settings: unique access keys, policies that name known principals.
    pub(crate) fn iam(&mut self, raw: &schema::Iam) -> crate::model::Iam {
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut keys = Vec::with_capacity(raw.access_keys.len());
        if raw.access_keys.is_empty() {
            self.err("/iam/access_keys", "at least one access key is needed");
        }
        for (i, k) in raw.access_keys.iter().enumerate() {
            let kp = format!("/iam/access_keys/{i}");
            let valid_id = (16..=128).contains(&k.access_key_id.len())
                && k.access_key_id.bytes().all(|b| b.is_ascii_alphanumeric());
            if !valid_id {
                self.err(
                    &format!("{kp}/access_key_id"),
                    format!(
                        "invalid access key id `{}`: expected 16 to 128 letters and digits",
                        k.access_key_id
                    ),
                );
            } else if let Some(first) = ids.insert(&k.access_key_id, i) {
                let line = self.line(&format!("/iam/access_keys/{first}/access_key_id"));
                self.err(
                    &format!("{kp}/access_key_id"),
                    format!(
                        "duplicate access key id `{}` (first at line {line})",
                        k.access_key_id
                    ),
                );
            }
            if k.secret_access_key.is_empty() {
                self.err(
                    &format!("{kp}/secret_access_key"),
                    "the secret must not be empty",
                );
            }
            keys.push(crate::model::IamAccessKey {
                access_key_id: k.access_key_id.clone(),
                secret_access_key: k.secret_access_key.clone(),
                session_token: k.session_token.clone(),
                principal: k
                    .principal
                    .clone()
                    .unwrap_or_else(|| k.access_key_id.clone()),
            });
        }
        let mut policies = Vec::with_capacity(raw.policies.len());
        for (i, p) in raw.policies.iter().enumerate() {
            let pp = format!("/iam/policies/{i}");
            for (k, who) in p.principals.iter().enumerate() {
                let known = who == "*"
                    || keys
                        .iter()
                        .any(|key| &key.principal == who || &key.access_key_id == who);
                if !known {
                    self.err(
                        &format!("{pp}/principals/{k}"),
                        format!("`{who}` is neither an access key id nor a principal of `iam.access_keys`"),
                    );
                }
            }
            if p.resources.is_empty() {
                self.err(
                    &format!("{pp}/resources"),
                    "a policy needs at least one resource (`*` for all)",
                );
            }
            policies.push(crate::model::IamPolicy {
                allow: p.effect == schema::IamEffect::Allow,
                principals: p.principals.clone(),
                actions: p.actions.clone(),
                resources: p.resources.clone(),
            });
        }
        crate::model::Iam {
            access_keys: keys,
            policies,
            clock_skew: std::time::Duration::from_secs(raw.clock_skew_seconds.unwrap_or(900)),
        }
    }

    /// Resolve each route's authorizer, scopes and API-key requirement.
    pub(crate) fn route_access(
        &mut self,
        p: &str,
        raw: &[schema::Route],
        routes: &mut [Route],
        authorizers: &[Authorizer],
    ) {
        for (j, (r, route)) in raw.iter().zip(routes.iter_mut()).enumerate() {
            let rp = format!("{p}/routes/{j}");
            if let Some(name) = &r.authorizer {
                match authorizers.iter().position(|a| &a.name == name) {
                    Some(i) => route.authorizer = Some(i),
                    None => {
                        let known: Vec<&str> =
                            authorizers.iter().map(|a| a.name.as_str()).collect();
                        let message = if known.is_empty() {
                            format!("unknown authorizer `{name}`: the API has no authorizers")
                        } else {
                            format!(
                                "unknown authorizer `{name}`, expected one of `{}`",
                                known.join("`, `")
                            )
                        };
                        self.err(&format!("{rp}/authorizer"), message);
                    }
                }
            }
            if !r.authorization_scopes.is_empty() && r.authorizer.is_none() {
                self.err(
                    &format!("{rp}/authorization_scopes"),
                    "authorization scopes need a jwt `authorizer` on the route",
                );
            }
            for (k, s) in r.authorization_scopes.iter().enumerate() {
                if s.is_empty() || s.contains(char::is_whitespace) {
                    self.err(
                        &format!("{rp}/authorization_scopes/{k}"),
                        format!("invalid scope `{s}`: expected a word without spaces"),
                    );
                }
            }
            if r.authorization == schema::RouteAuthorization::AwsIam {
                route.aws_iam = true;
                if r.authorizer.is_some() {
                    self.err(
                        &format!("{rp}/authorization"),
                        "a route has either an `authorizer` or `authorization: aws_iam`, not both",
                    );
                }
            }
            if !r.authorization_scopes.is_empty()
                && route
                    .authorizer
                    .and_then(|i| authorizers.get(i))
                    .is_some_and(|a| !matches!(a.kind, AuthorizerKind::Jwt(_)))
            {
                self.err(
                    &format!("{rp}/authorization_scopes"),
                    "authorization scopes apply to jwt authorizers only",
                );
            }
            route.authorization_scopes = r.authorization_scopes.clone();
            route.api_key_required = r.api_key_required;
        }
    }

    /// Stage throttles; per-route ones must name routes of the API.
    pub(crate) fn stage_throttles(
        &mut self,
        p: &str,
        raw: Option<&[schema::Stage]>,
        stages: &mut [Stage],
        routes: &[Route],
    ) {
        for stage in stages.iter_mut() {
            stage.route_throttle = vec![None; routes.len()];
        }
        let Some(raw) = raw else { return };
        for (k, (s, stage)) in raw.iter().zip(stages.iter_mut()).enumerate() {
            let sp = format!("{p}/stages/{k}");
            stage.throttle = s
                .throttle
                .map(|t| self.throttle(&format!("{sp}/throttle"), t));
            for (key, t) in &s.route_throttle {
                let tp = format!("{sp}/route_throttle/{}", escape(key));
                let t = self.throttle(&tp, *t);
                match routes.iter().position(|r| &r.key == key) {
                    Some(i) => stage.route_throttle[i] = Some(t),
                    None => self.err_key(
                        &tp,
                        format!("route_throttle names `{key}`, which is not a route of this API"),
                    ),
                }
            }
        }
    }

    pub(crate) fn api_keys(&mut self, raw: &[schema::ApiKey]) -> Vec<ApiKey> {
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut values: HashMap<&str, usize> = HashMap::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, k) in raw.iter().enumerate() {
            let kp = format!("/api_keys/{i}");
            if k.id.is_empty() {
                self.err(&format!("{kp}/id"), "an API key id must not be empty");
            } else if let Some(first) = ids.insert(&k.id, i) {
                let line = self.line(&format!("/api_keys/{first}/id"));
                self.err(
                    &format!("{kp}/id"),
                    format!(
                        "duplicate API key id `{}` (first used at line {line})",
                        k.id
                    ),
                );
            }
            if k.value.is_empty() || k.value.chars().any(|c| c.is_control()) {
                self.err(
                    &format!("{kp}/value"),
                    "an API key value must be non-empty printable text",
                );
            } else if let Some(first) = values.insert(&k.value, i) {
                let line = self.line(&format!("/api_keys/{first}/value"));
                // The value is a secret: name the other key, never the value.
                self.err(
                    &format!("{kp}/value"),
                    format!(
                        "API key `{}` has the same value as the key at line {line}",
                        k.id
                    ),
                );
            }
            out.push(ApiKey {
                id: k.id.clone(),
                name: k.name.clone(),
                value: k.value.clone(),
                enabled: k.enabled,
            });
        }
        out
    }

    pub(crate) fn usage_plans(
        &mut self,
        raw: &[schema::UsagePlan],
        apis: &[Api],
        keys: &[ApiKey],
    ) -> Vec<UsagePlan> {
        let mut names: HashMap<&str, usize> = HashMap::new();
        // (api, stage) → (plan index, key index): AWS allows a key in one plan per stage.
        let mut key_stage: HashMap<(usize, usize, usize), usize> = HashMap::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, plan) in raw.iter().enumerate() {
            let pp = format!("/usage_plans/{i}");
            if plan.name.is_empty() {
                self.err(&format!("{pp}/name"), "a usage plan name must not be empty");
            } else if let Some(first) = names.insert(&plan.name, i) {
                let line = self.line(&format!("/usage_plans/{first}/name"));
                self.err(
                    &format!("{pp}/name"),
                    format!(
                        "duplicate usage plan `{}` (first defined at line {line})",
                        plan.name
                    ),
                );
            }
            let throttle = plan
                .throttle
                .map(|t| self.throttle(&format!("{pp}/throttle"), t));
            let quota = plan.quota.map(|q| Quota {
                limit: q.limit,
                period: match q.period {
                    schema::QuotaPeriod::Day => QuotaPeriod::Day,
                    schema::QuotaPeriod::Week => QuotaPeriod::Week,
                    schema::QuotaPeriod::Month => QuotaPeriod::Month,
                },
            });
            let mut key_idx = Vec::with_capacity(plan.keys.len());
            for (k, id) in plan.keys.iter().enumerate() {
                match keys.iter().position(|key| &key.id == id) {
                    Some(x) if key_idx.contains(&x) => self.err(
                        &format!("{pp}/keys/{k}"),
                        format!("API key `{id}` is listed twice"),
                    ),
                    Some(x) => key_idx.push(x),
                    None => self.err(
                        &format!("{pp}/keys/{k}"),
                        format!("unknown API key `{id}`: define it under `api_keys`"),
                    ),
                }
            }
            let mut stages = Vec::with_capacity(plan.stages.len());
            for (s, ps) in plan.stages.iter().enumerate() {
                let sp = format!("{pp}/stages/{s}");
                let Some(api) = apis.iter().position(|a| a.name == ps.api) else {
                    self.err(&format!("{sp}/api"), format!("unknown API `{}`", ps.api));
                    continue;
                };
                let Some(stage) = apis[api].stages.iter().position(|st| st.name == ps.stage) else {
                    self.err(
                        &format!("{sp}/stage"),
                        format!("API `{}` has no stage `{}`", ps.api, ps.stage),
                    );
                    continue;
                };
                if stages
                    .iter()
                    .any(|x: &PlanStage| x.api == api && x.stage == stage)
                {
                    self.err(
                        &sp,
                        format!("stage `{}` of API `{}` is listed twice", ps.stage, ps.api),
                    );
                    continue;
                }
                for &k in &key_idx {
                    if let Some(other) = key_stage.insert((api, stage, k), i) {
                        self.err(
                            &sp,
                            format!(
                                "API key `{}` is already in usage plan `{}` for stage `{}` of API `{}`: a key can be in one plan per stage",
                                keys[k].id, raw[other].name, ps.stage, ps.api
                            ),
                        );
                    }
                }
                let mut route_throttle = Vec::new();
                for (key, t) in &ps.route_throttle {
                    let tp = format!("{sp}/route_throttle/{}", escape(key));
                    let t = self.throttle(&tp, *t);
                    match apis[api].routes.iter().position(|r| &r.key == key) {
                        Some(r) => route_throttle.push((r, t)),
                        None => {
                            self.err_key(&tp, format!("`{key}` is not a route of API `{}`", ps.api))
                        }
                    }
                }
                stages.push(PlanStage {
                    api,
                    stage,
                    route_throttle,
                });
            }
            out.push(UsagePlan {
                name: plan.name.clone(),
                throttle,
                quota,
                stages,
                keys: key_idx,
            });
        }
        out
    }

    /// AWS: stage, route and per-key limits cannot exceed the account's (aws-facts §2.5).
    pub(crate) fn throttles_within_account(
        &mut self,
        account: Option<Throttle>,
        apis: &[Api],
        plans: &[UsagePlan],
    ) {
        let Some(acc) = account else { return };
        let over = |t: &Throttle| t.rate > acc.rate || t.burst > acc.burst;
        let mut found: Vec<String> = Vec::new();
        for (a, api) in apis.iter().enumerate() {
            for (s, stage) in api.stages.iter().enumerate() {
                if stage.throttle.as_ref().is_some_and(over) {
                    found.push(format!("/apis/{a}/stages/{s}/throttle"));
                }
                for (r, t) in stage.route_throttle.iter().enumerate() {
                    if t.as_ref().is_some_and(over) {
                        let key = escape(&api.routes[r].key);
                        found.push(format!("/apis/{a}/stages/{s}/route_throttle/{key}"));
                    }
                }
            }
        }
        for (i, plan) in plans.iter().enumerate() {
            if plan.throttle.as_ref().is_some_and(over) {
                found.push(format!("/usage_plans/{i}/throttle"));
            }
        }
        for pointer in found {
            self.err(
                &pointer,
                format!(
                    "this throttle exceeds the account's (rate {}, burst {}): AWS caps stage, route and key limits at the account limit",
                    acc.rate, acc.burst
                ),
            );
        }
    }
}

impl Cx<'_> {
    pub(crate) fn budgets(
        &mut self,
        raw: &[schema::Budget],
        apis: &[Api],
        keys: &[ApiKey],
    ) -> Vec<Budget> {
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, b) in raw.iter().enumerate() {
            let bp = format!("/budgets/{i}");
            if b.name.is_empty() {
                self.err(&format!("{bp}/name"), "a budget name must not be empty");
            } else if let Some(first) = names.insert(&b.name, i) {
                let line = self.line(&format!("/budgets/{first}/name"));
                self.err(
                    &format!("{bp}/name"),
                    format!(
                        "duplicate budget `{}` (first defined at line {line})",
                        b.name
                    ),
                );
            }
            if b.api.is_none() && b.key.is_none() {
                self.err(
                    &bp,
                    format!(
                        "budget `{}` needs a scope: `api` (and optionally `stage`) and/or `key`",
                        b.name
                    ),
                );
            }
            let api = b.api.as_ref().and_then(|name| {
                let found = apis.iter().position(|a| &a.name == name);
                if found.is_none() {
                    self.err(&format!("{bp}/api"), format!("unknown API `{name}`"));
                }
                found
            });
            let stage = match (&b.stage, api) {
                (Some(s), Some(a)) => {
                    let found = apis[a].stages.iter().position(|st| &st.name == s);
                    if found.is_none() {
                        self.err(
                            &format!("{bp}/stage"),
                            format!("API `{}` has no stage `{s}`", apis[a].name),
                        );
                    }
                    found
                }
                (Some(_), None) if b.api.is_none() => {
                    self.err(&format!("{bp}/stage"), "`stage` needs `api`");
                    None
                }
                _ => None,
            };
            let key = b.key.as_ref().and_then(|id| {
                let found = keys.iter().position(|k| &k.id == id);
                if found.is_none() {
                    self.err(&format!("{bp}/key"), format!("unknown API key `{id}`"));
                }
                found
            });
            let valid_limit = {
                let (whole, frac) = b.limit_usd.split_once('.').unwrap_or((&b.limit_usd, "0"));
                !whole.is_empty()
                    && !frac.is_empty()
                    && whole
                        .bytes()
                        .chain(frac.bytes())
                        .all(|c| c.is_ascii_digit())
                    && whole.len() <= 12
                    && frac.len() <= 10
            };
            if !valid_limit {
                self.err(
                    &format!("{bp}/limit_usd"),
                    format!("invalid limit_usd `{}`: expected dollars as a decimal string such as \"25.00\"", b.limit_usd),
                );
            }
            let mut alerts = b.alert_at_percent.clone();
            alerts.sort_unstable();
            alerts.dedup();
            if alerts.iter().any(|&p| p == 0 || p > 1000) {
                self.err(
                    &format!("{bp}/alert_at_percent"),
                    "percentages must be between 1 and 1000",
                );
            }
            if let Some(w) = &b.webhook {
                if !w.starts_with("http://") || w.len() <= "http://".len() {
                    self.err(
                        &format!("{bp}/webhook"),
                        format!("invalid webhook `{w}`: expected an http:// URL"),
                    );
                }
            }
            let on_limit = match (b.on_limit, b.throttle) {
                (schema::OnLimit::Alert, None) => OnLimit::Alert,
                (schema::OnLimit::Block, None) => OnLimit::Block,
                (schema::OnLimit::Throttle, Some(t)) => {
                    OnLimit::Throttle(self.throttle(&format!("{bp}/throttle"), t))
                }
                (schema::OnLimit::Throttle, None) => {
                    self.err(
                        &format!("{bp}/on_limit"),
                        "`on_limit: throttle` needs a `throttle`",
                    );
                    OnLimit::Alert
                }
                (_, Some(_)) => {
                    self.err(
                        &format!("{bp}/throttle"),
                        "`throttle` applies only with `on_limit: throttle`",
                    );
                    OnLimit::Alert
                }
            };
            out.push(Budget {
                name: b.name.clone(),
                api,
                stage,
                key,
                limit_usd: b.limit_usd.clone(),
                alert_at_percent: alerts,
                webhook: b.webhook.clone(),
                on_limit,
            });
        }
        out
    }
}

fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
}
