//! The ground truth: which anomalies were injected, when, along which dimensions, what they
//! cost and what fixing them saves.
//!
//! Costs are marginal: a scenario's added billable units of a meter in a month are priced as
//! the *last* units of that month's simulated total (`RegionPrices::cost_of(total - added,
//! added)`, tiers on the running total, no free tier), i.e. exactly what the bill would drop
//! by without them. Each scenario is priced on top of everything else, so with several
//! scenarios on one meter their costs can add up to slightly more than their joint cost.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use tollgate_pricing::{display_cost, pricing_meter, to_pricing_units, FreeTier};
use tollgate_types::usage::UsageMeter;

use super::scenario::{Effect, ScenarioKind};
use super::{bot_client, month_of, rfc3339, DayAccount, SimError, Simulation, DAY, HOUR};

/// Billable base units of a whole simulation, and what each scenario added.
#[derive(Debug, Default)]
pub(crate) struct Accounting {
    totals: BTreeMap<(String, UsageMeter), u128>,
    /// Per scenario, per (hour, meter).
    extra: Vec<BTreeMap<(i64, UsageMeter), u128>>,
    /// Per scenario, per hour: the informational units its recommendation reads.
    advice: Vec<BTreeMap<i64, u128>>,
}

impl Accounting {
    pub(crate) fn new(scenarios: usize) -> Self {
        Accounting {
            totals: BTreeMap::new(),
            extra: vec![BTreeMap::new(); scenarios],
            advice: vec![BTreeMap::new(); scenarios],
        }
    }

    pub(crate) fn add_day(&mut self, month: &str, day: DayAccount) {
        for (meter, units) in day.total {
            *self.totals.entry((month.to_owned(), meter)).or_default() += units;
        }
        for (mine, theirs) in self.extra.iter_mut().zip(day.extra) {
            for (k, units) in theirs {
                *mine.entry(k).or_default() += units;
            }
        }
        for (mine, theirs) in self.advice.iter_mut().zip(day.advice) {
            for (k, units) in theirs {
                *mine.entry(k).or_default() += units;
            }
        }
    }
}

/// How a scenario's saving is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavingBasis {
    /// A one-off incident: the saving is what it cost.
    Incident,
    /// A lasting state: the cost of its last 24 hours × 30.
    MonthlyRunRate,
    /// Legitimate usage: nothing to save.
    None,
}

impl SavingBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            SavingBasis::Incident => "incident",
            SavingBasis::MonthlyRunRate => "monthly_run_rate",
            SavingBasis::None => "none",
        }
    }
}

/// One injected scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthEntry {
    /// The scenario name (`retry-storm`).
    pub name: String,
    /// Window `[start, end)`, Unix seconds.
    pub start: i64,
    pub end: i64,
    pub cause: String,
    pub fix: String,
    /// The dimensions that single the scenario out (`api`, `stage`, `route`, `key`,
    /// `client`, `status` as `5xx`), with ledger values.
    pub dimensions: BTreeMap<String, String>,
    /// The client addresses the scenario introduced (bots), if any.
    pub clients: Vec<String>,
    /// Ledger meters it changes.
    pub meters: Vec<String>,
    /// Every parameter, given or default.
    pub parameters: BTreeMap<String, String>,
    /// Billable units added, in pricing units (requests, minutes, GB), by pricing meter.
    pub added_units: BTreeMap<String, Decimal>,
    /// USD, exact: marginal cost of the added billable units.
    pub extra_cost: Decimal,
    /// USD, exact: what a fix saves per month (see [`SavingBasis`]).
    pub monthly_saving: Decimal,
    pub saving_basis: SavingBasis,
    /// The recommendation `tollgate cost recommend` should make for it, if any.
    pub recommendation: Option<ExpectedAdvice>,
}

/// The recommendation a scenario calls for, and the monthly saving it should show
/// (docs/simulate.md, docs/recommendations.md).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedAdvice {
    /// The recommendation's kind (`client-retries`).
    pub kind: String,
    /// Its target, as `tollgate cost recommend` names it (`shop/$default POST /orders`).
    pub target: String,
    /// USD, exact: the saving it should find.
    pub monthly_saving: Decimal,
}

/// The ground truth of a simulation (written as JSON next to the store).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroundTruth {
    pub seed: u64,
    pub region: String,
    /// `[start, end)` of the simulated period, Unix seconds.
    pub start: i64,
    pub end: i64,
    pub days: u32,
    pub scenarios: Vec<TruthEntry>,
}

impl GroundTruth {
    /// The JSON document (docs/simulate.md): money as decimal strings (at most 6 decimals,
    /// always cents), times as RFC 3339 UTC.
    pub fn to_json(&self) -> String {
        let scenarios: Vec<Value> = self
            .scenarios
            .iter()
            .map(|s| {
                let mut o = Map::new();
                o.insert("name".into(), json!(s.name));
                o.insert("start".into(), json!(rfc3339(s.start)));
                o.insert("end".into(), json!(rfc3339(s.end)));
                o.insert("cause".into(), json!(s.cause));
                o.insert("fix".into(), json!(s.fix));
                o.insert("dimensions".into(), json!(s.dimensions));
                if !s.clients.is_empty() {
                    o.insert("clients".into(), json!(s.clients));
                }
                o.insert("meters".into(), json!(s.meters));
                o.insert("parameters".into(), json!(s.parameters));
                let units: BTreeMap<&str, String> = s
                    .added_units
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.round_dp(6).normalize().to_string()))
                    .collect();
                o.insert("added_units".into(), json!(units));
                o.insert("extra_cost".into(), json!(display_cost(s.extra_cost, 6)));
                o.insert(
                    "monthly_saving".into(),
                    json!(display_cost(s.monthly_saving, 6)),
                );
                o.insert("saving_basis".into(), json!(s.saving_basis.as_str()));
                if let Some(r) = &s.recommendation {
                    o.insert(
                        "recommendation".into(),
                        json!({
                            "kind": r.kind,
                            "target": r.target,
                            "monthly_saving": display_cost(r.monthly_saving, 6),
                        }),
                    );
                }
                Value::Object(o)
            })
            .collect();
        let doc = json!({
            "generator": "tollgate simulate",
            "seed": self.seed,
            "region": self.region,
            "period": {"from": rfc3339(self.start), "to": rfc3339(self.end)},
            "days": self.days,
            "currency": "USD",
            "scenarios": scenarios,
        });
        let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
        s.push('\n');
        s
    }
}

pub(crate) fn ground_truth(sim: &Simulation, acc: &Accounting) -> Result<GroundTruth, SimError> {
    let region = sim.catalog.region(&sim.config.region)?;
    let (start, end) = sim.period();
    let mut entries = Vec::new();
    for (i, (sc, extra)) in sim.scenarios.iter().zip(&acc.extra).enumerate() {
        let mut by_month: BTreeMap<(String, UsageMeter), u128> = BTreeMap::new();
        for ((ts, meter), units) in extra {
            *by_month.entry((month_of(*ts), *meter)).or_default() += units;
        }
        let mut extra_cost = Decimal::ZERO;
        let mut rates: BTreeMap<(String, UsageMeter), Decimal> = BTreeMap::new();
        let mut added_units: BTreeMap<String, Decimal> = BTreeMap::new();
        for ((month, meter), units) in &by_month {
            let total = acc
                .totals
                .get(&(month.clone(), *meter))
                .copied()
                .unwrap_or(*units);
            let (pm, size) = pricing_meter(*meter)?;
            let total = to_pricing_units(*meter, total)?;
            let added = to_pricing_units(*meter, *units)?;
            let cost = region.cost_of(pm, size, total - added, added, FreeTier::Off)?;
            extra_cost += cost;
            if !added.is_zero() {
                rates.insert((month.clone(), *meter), cost / added);
            }
            *added_units.entry(pm.as_str().to_owned()).or_default() += added;
        }
        let basis = match sc.kind {
            ScenarioKind::RetryStorm => SavingBasis::Incident,
            ScenarioKind::NewClient => SavingBasis::None,
            _ => SavingBasis::MonthlyRunRate,
        };
        // The extra cost of `[from, end)` as a 30-day run rate, at the month's marginal rates.
        let run_rate = |from: i64| -> Result<Decimal, SimError> {
            let from = sc.start.max(from);
            let hours = (sc.end - from) / HOUR;
            let mut tail = Decimal::ZERO;
            for ((ts, meter), units) in extra.range((from, UsageMeter::HttpRequests)..) {
                let rate = rates
                    .get(&(month_of(*ts), *meter))
                    .copied()
                    .unwrap_or_default();
                tail += to_pricing_units(*meter, *units)? * rate;
            }
            Ok(tail * Decimal::from(24) / Decimal::from(hours.max(1)) * Decimal::from(30))
        };
        let monthly_saving = match basis {
            SavingBasis::Incident => extra_cost,
            SavingBasis::None => Decimal::ZERO,
            SavingBasis::MonthlyRunRate => run_rate(sc.end - DAY)?,
        };
        // What `tollgate cost recommend` should find: its run rate is the last 7 days.
        let advice_week = sc.end - RUN_RATE_DAYS * DAY;
        let recommendation = match &sc.effect {
            Effect::RetryStorm { api, route, .. } => Some((
                "client-retries",
                target(api.name, api.stage, Some(route.key)),
                extra_cost,
            )),
            Effect::BotTraffic { api, route, .. } => Some((
                "public-exposure",
                target(api.name, api.stage, Some(route.key)),
                run_rate(advice_week)?,
            )),
            Effect::IdleWebsockets { .. } => Some((
                "websocket-idle-timeout",
                target("chat", "prod", None),
                run_rate(advice_week)?,
            )),
            Effect::StrayStage { stage, .. } => Some((
                "stray-traffic",
                target("shop", stage, None),
                run_rate(advice_week)?,
            )),
            Effect::PayloadGrowth { api, route, .. } => {
                // The route's uncompressed bytes, compressed at the default ratio.
                let from = sc.start.max(advice_week);
                let hours = (sc.end - from) / HOUR;
                let mut saving = Decimal::ZERO;
                let kept = Decimal::ONE / crate::recommend::DEFAULT_COMPRESSION_RATIO;
                for (ts, bytes) in acc.advice[i].range(from..) {
                    let gb = to_pricing_units(UsageMeter::DataOutBytes, *bytes)?;
                    let rate = rates
                        .get(&(month_of(*ts), UsageMeter::DataOutBytes))
                        .copied()
                        .unwrap_or_default();
                    saving += gb * (Decimal::ONE - kept) * rate;
                }
                let saving =
                    saving * Decimal::from(24) / Decimal::from(hours.max(1)) * Decimal::from(30);
                Some((
                    "compression",
                    target(api.name, api.stage, Some(route.key)),
                    saving,
                ))
            }
            Effect::NewClient { .. } => None,
        }
        .map(|(kind, target, monthly_saving)| ExpectedAdvice {
            kind: kind.to_owned(),
            target,
            monthly_saving,
        });
        let (cause, fix, dimensions, clients, meters) = describe(sc);
        entries.push(TruthEntry {
            name: sc.kind.name().to_owned(),
            start: sc.start,
            end: sc.end,
            cause,
            fix,
            dimensions,
            clients,
            meters: meters.iter().map(|m| m.name().into_owned()).collect(),
            parameters: sc.parameters.clone(),
            added_units,
            extra_cost,
            monthly_saving,
            saving_basis: basis,
            recommendation,
        });
    }
    Ok(GroundTruth {
        seed: sim.config.seed,
        region: sim.config.region.clone(),
        start,
        end,
        days: sim.config.days,
        scenarios: entries,
    })
}

/// Days of the run rate `tollgate cost recommend` uses for lasting problems.
const RUN_RATE_DAYS: i64 = crate::recommend::RUN_RATE_DAYS;

/// A recommendation's target as `tollgate cost recommend` writes it.
fn target(api: &str, stage: &str, route: Option<&str>) -> String {
    crate::recommend::target_name(api, Some(stage), route)
}

type Description = (
    String,
    String,
    BTreeMap<String, String>,
    Vec<String>,
    Vec<UsageMeter>,
);

fn describe(sc: &super::Scenario) -> Description {
    let dims = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let requests = |api: &super::Api| match api.kind {
        super::ApiKind::Rest => UsageMeter::RestRequests,
        _ => UsageMeter::HttpRequests,
    };
    match &sc.effect {
        Effect::RetryStorm {
            api,
            route,
            factor,
            error_share,
        } => (
            format!(
                "retry storm after a backend incident: {} on {} answered 5xx and its clients \
                 retried without backoff, ×{factor} requests ({:.0}% of the extra answered 5xx)",
                route.key,
                api.name,
                error_share * 100.0
            ),
            "exponential backoff with jitter in the clients, a route throttle or circuit \
             breaker; the saving is this incident's cost"
                .to_owned(),
            dims(&[
                ("api", api.name),
                ("stage", api.stage),
                ("route", route.key),
                ("status", "5xx"),
            ]),
            Vec::new(),
            vec![requests(api), UsageMeter::DataOutBytes, UsageMeter::Retries],
        ),
        Effect::BotTraffic {
            api,
            route,
            rate,
            bots,
            ..
        } => (
            format!(
                "bot traffic: {bots} new client addresses call the public route {} on {} \
                 without an API key, {rate} requests/hour around the clock, mostly 4xx",
                route.key, api.name
            ),
            "require an API key or block the clients (WAF, throttle): rejected requests \
             are not billed"
                .to_owned(),
            dims(&[
                ("api", api.name),
                ("stage", api.stage),
                ("route", route.key),
                ("key", ""),
                ("status", "4xx"),
            ]),
            (0..*bots).map(bot_client).collect(),
            vec![requests(api), UsageMeter::DataOutBytes],
        ),
        Effect::IdleWebsockets { connections } => (
            format!(
                "WebSocket connections left open: up to {connections} extra idle connections \
                 on chat, connection minutes climb while messages stay flat"
            ),
            "close idle connections (client fix, shorter idle timeout)".to_owned(),
            dims(&[("api", "chat"), ("stage", "prod"), ("route", "$connect")]),
            Vec::new(),
            std::iter::once(UsageMeter::WebsocketConnectionMs)
                .chain(
                    tollgate_types::usage::IDLE_THRESHOLDS_MINUTES
                        .map(|minutes| UsageMeter::WebsocketIdleMs { minutes }),
                )
                .collect(),
        ),
        Effect::PayloadGrowth { api, route, factor } => (
            format!(
                "response payloads of {} on {} grow steadily to ×{factor} their size",
                route.key, api.name
            ),
            "paginate, trim or compress the responses".to_owned(),
            dims(&[
                ("api", api.name),
                ("stage", api.stage),
                ("route", route.key),
                ("status", "2xx"),
            ]),
            Vec::new(),
            vec![UsageMeter::DataOutBytes, UsageMeter::UncompressedBytes],
        ),
        Effect::NewClient {
            key,
            client,
            rate,
            ramp_hours,
        } => (
            format!(
                "a new client (API key {key}, {client}) ramps up over {:.0} days to {rate} \
                 requests/hour at peak on shop",
                ramp_hours / 24.0
            ),
            "none: legitimate growth (attach a usage plan or a budget to the key)".to_owned(),
            dims(&[("api", "shop"), ("key", key), ("client", client)]),
            Vec::new(),
            vec![UsageMeter::HttpRequests, UsageMeter::DataOutBytes],
        ),
        Effect::StrayStage {
            stage,
            key,
            client,
            rate,
        } => (
            format!(
                "stage {stage} of shop left receiving test traffic: {rate} requests/hour from \
                 {client} (key {key}), day and night"
            ),
            "stop the test traffic or delete the stage; the saving is the stage's whole cost"
                .to_owned(),
            dims(&[("api", "shop"), ("stage", stage)]),
            Vec::new(),
            vec![UsageMeter::HttpRequests, UsageMeter::DataOutBytes],
        ),
    }
}
