//! API keys, usage plans and throttles, ready for the request path: buckets and quota counters
//! indexed by small integers (built once per configuration load), and a hash table from key
//! value to key.

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;
use tollgate_config::model::{self, GatewayConfig, QuotaPeriod, Throttle};
use tollgate_limits::{
    LimitsError, PlanKeyIdx, PlanKeyThrottle, QuotaSettings, QuotaStatus, Quotas, RouteIdx,
    RouteThrottle, ThrottleConfig, ThrottleSettings, Throttles,
};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Throttles, quotas and API keys of one configuration generation.
pub struct AccessControl {
    pub throttles: Throttles,
    pub quotas: Quotas,
    /// Enabled keys by value.
    keys_by_value: FastMap<Box<[u8]>, u32>,
    /// Key ids (what reports and the meter show), indexed like `config.api_keys`.
    pub key_ids: Vec<Arc<str>>,
    /// Usage plan names, indexed like `config.usage_plans`.
    plan_names: Vec<String>,
    /// `PlanKeyIdx` → (plan index, key index).
    plan_keys: Vec<(usize, usize)>,
    /// Per API, per stage: key index → the (plan, key) pair covering that stage.
    stage_keys: Vec<Vec<FastMap<u32, PlanKeyIdx>>>,
    /// Per API, per stage: the `RouteIdx` of the stage's first route.
    route_base: Vec<Vec<u32>>,
}

/// A key's quota, for the admin API.
#[derive(Debug, Clone)]
pub struct QuotaView {
    pub plan: String,
    pub key: Arc<str>,
    pub status: QuotaStatus,
}

fn settings(t: &Throttle) -> Result<ThrottleSettings, LimitsError> {
    ThrottleSettings::new(t.rate, t.burst)
}

impl AccessControl {
    /// Build from `config`; quota counts of (plan, key) pairs that still exist carry over from
    /// `previous` (a reload does not hand out a fresh quota).
    pub fn build(
        config: &GatewayConfig,
        previous: Option<&AccessControl>,
    ) -> Result<Self, LimitsError> {
        let mut routes = Vec::new();
        let mut route_base = Vec::with_capacity(config.apis.len());
        for api in &config.apis {
            let mut bases = Vec::with_capacity(api.stages.len());
            for stage in &api.stages {
                bases.push(routes.len() as u32);
                for r in 0..api.routes.len() {
                    routes.push(RouteThrottle {
                        route: stage
                            .route_throttle
                            .get(r)
                            .copied()
                            .flatten()
                            .map(|t| settings(&t))
                            .transpose()?,
                        stage_default: stage.throttle.map(|t| settings(&t)).transpose()?,
                    });
                }
            }
            route_base.push(bases);
        }

        let mut plan_keys = Vec::new();
        let mut plan_key_throttles = Vec::new();
        let mut quota_settings = Vec::new();
        let mut stage_keys: Vec<Vec<FastMap<u32, PlanKeyIdx>>> = config
            .apis
            .iter()
            .map(|a| a.stages.iter().map(|_| FastMap::default()).collect())
            .collect();
        for (p, plan) in config.usage_plans.iter().enumerate() {
            for &k in &plan.keys {
                let idx = PlanKeyIdx(plan_keys.len() as u32);
                plan_keys.push((p, k));
                let mut methods = Vec::new();
                for ps in &plan.stages {
                    let base = route_base[ps.api][ps.stage];
                    for (r, t) in &ps.route_throttle {
                        methods.push((RouteIdx(base + *r as u32), settings(t)?));
                    }
                    stage_keys[ps.api][ps.stage].insert(k as u32, idx);
                }
                plan_key_throttles.push(PlanKeyThrottle {
                    overall: plan.throttle.map(|t| settings(&t)).transpose()?,
                    methods,
                });
                quota_settings.push(plan.quota.map(|q| QuotaSettings {
                    limit: u32::try_from(q.limit).unwrap_or(u32::MAX),
                    period: match q.period {
                        QuotaPeriod::Day => tollgate_limits::QuotaPeriod::Day,
                        QuotaPeriod::Week => tollgate_limits::QuotaPeriod::Week,
                        QuotaPeriod::Month => tollgate_limits::QuotaPeriod::Month,
                    },
                    offset: 0,
                    starts_at: None,
                }));
            }
        }
        let throttles = Throttles::new(&ThrottleConfig {
            account: config.throttle.map(|t| settings(&t)).transpose()?,
            routes,
            plan_keys: plan_key_throttles,
        })?;
        let quotas = match previous {
            Some(prev) => {
                // The same (plan name, key id) in the previous generation keeps its count.
                let old_index: FastMap<(&str, &str), PlanKeyIdx> = prev
                    .plan_keys
                    .iter()
                    .enumerate()
                    .filter_map(|(i, &(p, k))| {
                        Some((
                            (
                                prev.plan_names.get(p)?.as_str(),
                                prev.key_ids.get(k)?.as_ref(),
                            ),
                            PlanKeyIdx(i as u32),
                        ))
                    })
                    .collect();
                let previous_index: Vec<Option<PlanKeyIdx>> = plan_keys
                    .iter()
                    .map(|&(p, k)| {
                        old_index
                            .get(&(
                                config.usage_plans[p].name.as_str(),
                                config.api_keys[k].id.as_str(),
                            ))
                            .copied()
                    })
                    .collect();
                Quotas::carry_over(&quota_settings, &prev.quotas, &previous_index)?
            }
            None => Quotas::new(&quota_settings)?,
        };
        let keys_by_value = config
            .api_keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.enabled)
            .map(|(i, k)| (k.value.as_bytes().into(), i as u32))
            .collect();
        Ok(Self {
            throttles,
            quotas,
            keys_by_value,
            key_ids: config
                .api_keys
                .iter()
                .map(|k: &model::ApiKey| Arc::from(k.id.as_str()))
                .collect(),
            plan_names: config.usage_plans.iter().map(|p| p.name.clone()).collect(),
            plan_keys,
            stage_keys,
            route_base,
        })
    }

    /// The throttle slot of a matched route.
    pub fn route_idx(&self, api: usize, stage: usize, route: usize) -> RouteIdx {
        let base = self
            .route_base
            .get(api)
            .and_then(|s| s.get(stage))
            .copied()
            .unwrap_or(u32::MAX);
        RouteIdx(base.saturating_add(route as u32))
    }

    /// An enabled key with this value.
    pub fn key(&self, value: &[u8]) -> Option<u32> {
        self.keys_by_value.get(value).copied()
    }

    /// The (plan, key) pair through which `key` may use this stage.
    pub fn plan_key(&self, api: usize, stage: usize, key: u32) -> Option<PlanKeyIdx> {
        self.stage_keys.get(api)?.get(stage)?.get(&key).copied()
    }

    /// Every key's quota in every plan that has one.
    pub fn quotas_now(&self, now: OffsetDateTime) -> Vec<QuotaView> {
        self.plan_keys
            .iter()
            .enumerate()
            .filter_map(|(i, &(p, k))| {
                let status = self.quotas.remaining(PlanKeyIdx(i as u32), now)?;
                Some(QuotaView {
                    plan: self.plan_names.get(p)?.clone(),
                    key: Arc::clone(self.key_ids.get(k)?),
                    status,
                })
            })
            .collect()
    }
}

/// Whether a budget's limit has been reached, shared between the request path (which reads
/// it) and the budget evaluator (which sets it), and kept across reloads by name.
#[derive(Debug, Default)]
pub struct BudgetState {
    pub over: std::sync::atomic::AtomicBool,
}

/// A budget as the request path enforces it.
pub struct BudgetGate {
    pub name: String,
    api: Option<usize>,
    stage: Option<usize>,
    key: Option<u32>,
    action: BudgetAction,
    pub state: Arc<BudgetState>,
}

enum BudgetAction {
    Alert,
    Block,
    /// One bucket shared by the scope's requests once the limit is reached.
    Throttle(tollgate_limits::InProcessLimiter),
}

impl BudgetGate {
    /// Build the budgets of `config`, reusing the states of `states` by name (a reload keeps
    /// an exceeded budget exceeded until the evaluator says otherwise).
    pub fn build_all(
        config: &GatewayConfig,
        states: &std::sync::Mutex<HashMap<String, Arc<BudgetState>>>,
    ) -> Result<Vec<Self>, LimitsError> {
        let mut states = states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        config
            .budgets
            .iter()
            .map(|b| {
                let action = match b.on_limit {
                    model::OnLimit::Alert => BudgetAction::Alert,
                    model::OnLimit::Block => BudgetAction::Block,
                    model::OnLimit::Throttle(t) => {
                        BudgetAction::Throttle(tollgate_limits::InProcessLimiter::new(&[
                            settings(&t)?,
                        ])?)
                    }
                };
                Ok(Self {
                    name: b.name.clone(),
                    api: b.api,
                    stage: b.stage,
                    key: b.key.map(|k| k as u32),
                    action,
                    state: Arc::clone(states.entry(b.name.clone()).or_default()),
                })
            })
            .collect()
    }

    /// Whether this budget refuses a request on (`api`, `stage`) with `key`.
    pub fn refuses(&self, api: usize, stage: usize, key: Option<u32>) -> bool {
        use std::sync::atomic::Ordering;
        use tollgate_limits::RateLimiter as _;
        if self.api.is_some_and(|a| a != api)
            || self.stage.is_some_and(|s| s != stage)
            || self.key.is_some_and(|k| Some(k) != key)
            || !self.state.over.load(Ordering::Relaxed)
        {
            return false;
        }
        match &self.action {
            BudgetAction::Alert => false,
            BudgetAction::Block => true,
            BudgetAction::Throttle(l) => {
                l.check(tollgate_limits::BucketId(0)) == tollgate_limits::Decision::Reject
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    fn config(on_limit: &str) -> GatewayConfig {
        let yaml = format!(
            r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
api_keys: [{{id: k1, value: v1}}, {{id: k2, value: v2}}]
budgets:
  - {{name: b, key: k1, limit_usd: "1", {on_limit}}}
apis:
  - name: a
    routes: [{{key: "GET /x", integration: m}}]
    integrations: {{m: {{type: mock}}}}
"#
        );
        tollgate_config::load_str(std::path::Path::new("t.yaml"), &yaml).expect("config")
    }

    #[test]
    fn a_budget_refuses_only_its_scope_once_reached() {
        let states = std::sync::Mutex::default();
        let gates = BudgetGate::build_all(&config("on_limit: block"), &states).unwrap();
        let b = &gates[0];
        assert!(!b.refuses(0, 0, Some(0)), "not reached yet");
        b.state.over.store(true, Ordering::Relaxed);
        assert!(b.refuses(0, 0, Some(0)));
        assert!(!b.refuses(0, 0, Some(1)), "another key");
        assert!(!b.refuses(0, 0, None), "no key");
        // A reload keeps the state by name.
        let again = BudgetGate::build_all(&config("on_limit: block"), &states).unwrap();
        assert!(again[0].refuses(0, 0, Some(0)));
    }

    #[test]
    fn a_throttling_budget_admits_its_bucket_then_refuses() {
        let states = std::sync::Mutex::default();
        let gates = BudgetGate::build_all(
            &config("on_limit: throttle, throttle: {rate: 0.001, burst: 2}"),
            &states,
        )
        .unwrap();
        let b = &gates[0];
        b.state.over.store(true, Ordering::Relaxed);
        assert!(!b.refuses(0, 0, Some(0)));
        assert!(!b.refuses(0, 0, Some(0)));
        assert!(b.refuses(0, 0, Some(0)), "the bucket of 2 is spent");
        let alert = BudgetGate::build_all(&config("on_limit: alert"), &states).unwrap();
        assert!(!alert[0].refuses(0, 0, Some(0)), "alert never refuses");
    }
}
