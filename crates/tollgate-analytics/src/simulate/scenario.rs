//! Named scenarios: parsing `NAME[:KEY=VALUE,...]`, defaults, and the resolved windows.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::workload::{self, Api, Route};
use super::{SimError, DAY, HOUR};

/// The scenarios the simulator can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScenarioKind {
    RetryStorm,
    BotTraffic,
    IdleWebsockets,
    PayloadGrowth,
    NewClient,
    StrayStage,
}

impl ScenarioKind {
    pub const ALL: [ScenarioKind; 6] = [
        ScenarioKind::RetryStorm,
        ScenarioKind::BotTraffic,
        ScenarioKind::IdleWebsockets,
        ScenarioKind::PayloadGrowth,
        ScenarioKind::NewClient,
        ScenarioKind::StrayStage,
    ];

    /// The name used on the command line and in the ground truth.
    pub fn name(self) -> &'static str {
        match self {
            ScenarioKind::RetryStorm => "retry-storm",
            ScenarioKind::BotTraffic => "bot-traffic",
            ScenarioKind::IdleWebsockets => "idle-websockets",
            ScenarioKind::PayloadGrowth => "payload-growth",
            ScenarioKind::NewClient => "new-client",
            ScenarioKind::StrayStage => "stray-stage",
        }
    }

    fn known() -> String {
        ScenarioKind::ALL.map(ScenarioKind::name).join(", ")
    }
}

impl fmt::Display for ScenarioKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario as given on the command line: its kind and the parameters it overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioSpec {
    pub kind: ScenarioKind,
    pub overrides: BTreeMap<String, String>,
}

impl FromStr for ScenarioSpec {
    type Err = SimError;

    /// `NAME` or `NAME:KEY=VALUE,KEY=VALUE` (e.g. `retry-storm:day=12,hours=6,factor=8`).
    fn from_str(s: &str) -> Result<Self, SimError> {
        let (name, params) = s.split_once(':').unwrap_or((s, ""));
        let name = name.trim();
        let kind = ScenarioKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| SimError::UnknownScenario {
                name: name.to_owned(),
                known: ScenarioKind::known(),
            })?;
        let mut overrides = BTreeMap::new();
        for part in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| SimError::BadParameter {
                scenario: kind.name().to_owned(),
                message: format!("`{part}` is not KEY=VALUE"),
            })?;
            let (k, v) = (k.trim(), v.trim());
            if overrides.insert(k.to_owned(), v.to_owned()).is_some() {
                return Err(SimError::BadParameter {
                    scenario: kind.name().to_owned(),
                    message: format!("`{k}` is given twice"),
                });
            }
        }
        Ok(ScenarioSpec { kind, overrides })
    }
}

/// What a scenario does to the traffic, with its parameters resolved.
#[derive(Debug, Clone)]
pub(crate) enum Effect {
    RetryStorm {
        api: &'static Api,
        route: &'static Route,
        factor: f64,
        error_share: f64,
    },
    BotTraffic {
        api: &'static Api,
        route: &'static Route,
        rate: f64,
        bots: u32,
        error_share: f64,
        throttled_share: f64,
    },
    IdleWebsockets {
        connections: f64,
    },
    PayloadGrowth {
        api: &'static Api,
        route: &'static Route,
        factor: f64,
    },
    NewClient {
        key: String,
        client: String,
        rate: f64,
        ramp_hours: f64,
    },
    StrayStage {
        stage: String,
        key: String,
        client: String,
        rate: f64,
    },
}

/// A scenario ready to run: its window `[start, end)` (Unix seconds, whole hours) and effect.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub kind: ScenarioKind,
    pub start: i64,
    pub end: i64,
    /// Every parameter with its value (given or default), for the ground truth.
    pub parameters: BTreeMap<String, String>,
    pub(crate) effect: Effect,
}

impl Scenario {
    /// Whether the hour starting at `ts` is in the window.
    pub(crate) fn active(&self, ts: i64) -> bool {
        self.start <= ts && ts < self.end
    }

    /// How far into the window the hour starting at `ts` ends, in (0, 1].
    pub(crate) fn progress(&self, ts: i64) -> f64 {
        let done = (ts + HOUR - self.start) as f64;
        (done / (self.end - self.start) as f64).clamp(0.0, 1.0)
    }

    /// Whether the scenario is a one-off incident (its saving is its own cost) rather than a
    /// state that goes on until fixed (its saving is a monthly run rate).
    pub fn one_off(&self) -> bool {
        self.kind == ScenarioKind::RetryStorm
    }
}

/// Reads a spec's parameters, remembering the resolved values and refusing unknown ones.
struct Params<'a> {
    kind: ScenarioKind,
    given: &'a BTreeMap<String, String>,
    resolved: BTreeMap<String, String>,
}

impl Params<'_> {
    fn err(&self, message: String) -> SimError {
        SimError::BadParameter {
            scenario: self.kind.name().to_owned(),
            message,
        }
    }

    fn raw(&mut self, name: &str, default: String) -> (String, bool) {
        let (v, given) = match self.given.get(name) {
            Some(v) => (v.clone(), true),
            None => (default, false),
        };
        self.resolved.insert(name.to_owned(), v.clone());
        (v, given)
    }

    fn int(&mut self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, SimError> {
        let (v, _) = self.raw(name, default.to_string());
        match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.err(format!(
                "{name}={v}: expected a whole number from {min} to {max}"
            ))),
        }
    }

    fn float(&mut self, name: &str, default: f64, min: f64, max: f64) -> Result<f64, SimError> {
        let (v, _) = self.raw(name, default.to_string());
        match v.parse::<f64>() {
            Ok(n) if n.is_finite() && (min..=max).contains(&n) => Ok(n),
            _ => Err(self.err(format!("{name}={v}: expected a number from {min} to {max}"))),
        }
    }

    fn text(&mut self, name: &str, default: &str) -> Result<String, SimError> {
        let (v, _) = self.raw(name, default.to_owned());
        if v.is_empty() {
            return Err(self.err(format!("{name} must not be empty")));
        }
        Ok(v)
    }

    fn route(&mut self, default: &str) -> Result<(&'static Api, &'static Route), SimError> {
        let (v, _) = self.raw("route", default.to_owned());
        workload::find_request_route(&v).ok_or_else(|| {
            let known: Vec<&str> = workload::APIS
                .iter()
                .filter(|a| a.kind != workload::ApiKind::Websocket)
                .flat_map(|a| a.routes.iter().map(|r| r.key))
                .collect();
            self.err(format!(
                "route={v}: no such route (known: {})",
                known.join(", ")
            ))
        })
    }

    /// `day` (1-based day of the period) and `hour`: the window's start. A default day past
    /// the period's end moves to the middle of the period.
    fn start(
        &mut self,
        period_start: i64,
        days: u32,
        default_day: i64,
        default_hour: i64,
    ) -> Result<i64, SimError> {
        let days = i64::from(days);
        let default_day = if default_day > days {
            days / 2 + 1
        } else {
            default_day
        };
        let day = self.int("day", default_day, 1, days)?;
        let hour = self.int("hour", default_hour, 0, 23)?;
        Ok(period_start + (day - 1) * DAY + hour * HOUR)
    }

    /// `days`: how long a lasting scenario goes on (default: to the end of the period).
    fn end_after_days(&mut self, start: i64, period_end: i64) -> Result<i64, SimError> {
        let left = (period_end - start + DAY - 1) / DAY;
        let days = self.int("days", left, 1, 3_660)?;
        Ok((start + days * DAY).min(period_end))
    }

    fn finish(self) -> Result<BTreeMap<String, String>, SimError> {
        if let Some(unknown) = self.given.keys().find(|k| !self.resolved.contains_key(*k)) {
            let known: Vec<&str> = self.resolved.keys().map(String::as_str).collect();
            return Err(self.err(format!(
                "unknown parameter `{unknown}` (known: {})",
                known.join(", ")
            )));
        }
        Ok(self.resolved)
    }
}

impl ScenarioSpec {
    /// Resolve defaults against the simulated period `[period_start, period_start + days)`.
    pub fn resolve(&self, period_start: i64, days: u32) -> Result<Scenario, SimError> {
        let period_end = period_start + i64::from(days) * DAY;
        let mut p = Params {
            kind: self.kind,
            given: &self.overrides,
            resolved: BTreeMap::new(),
        };
        let (start, end, effect) = match self.kind {
            ScenarioKind::RetryStorm => {
                let start = p.start(period_start, days, 14, 14)?;
                let hours = p.int("hours", 6, 1, 24 * 7)?;
                let (api, route) = p.route("POST /orders")?;
                let factor = p.float("factor", 8.0, 1.01, 1_000.0)?;
                let error_share = p.float("error_share", 0.7, 0.0, 1.0)?;
                let end = (start + hours * HOUR).min(period_end);
                (
                    start,
                    end,
                    Effect::RetryStorm {
                        api,
                        route,
                        factor,
                        error_share,
                    },
                )
            }
            ScenarioKind::BotTraffic => {
                let start = p.start(period_start, days, 5, 0)?;
                let end = p.end_after_days(start, period_end)?;
                let (api, route) = p.route("GET /products/{id}")?;
                let rate = p.float("rate", 60_000.0, 1.0, 1e9)?;
                let bots = p.int("bots", 20, 1, 250)? as u32;
                let error_share = p.float("error_share", 0.75, 0.0, 1.0)?;
                let throttled_share = p.float("throttled_share", 0.05, 0.0, 1.0)?;
                if error_share + throttled_share > 1.0 {
                    return Err(p.err("error_share + throttled_share must not exceed 1".to_owned()));
                }
                (
                    start,
                    end,
                    Effect::BotTraffic {
                        api,
                        route,
                        rate,
                        bots,
                        error_share,
                        throttled_share,
                    },
                )
            }
            ScenarioKind::IdleWebsockets => {
                let start = p.start(period_start, days, 8, 0)?;
                let end = p.end_after_days(start, period_end)?;
                let connections = p.float("connections", 5_000.0, 1.0, 1e8)?;
                (start, end, Effect::IdleWebsockets { connections })
            }
            ScenarioKind::PayloadGrowth => {
                let start = p.start(period_start, days, 3, 0)?;
                let end = p.end_after_days(start, period_end)?;
                let (api, route) = p.route("GET /products")?;
                let factor = p.float("factor", 4.0, 1.01, 1_000.0)?;
                (start, end, Effect::PayloadGrowth { api, route, factor })
            }
            ScenarioKind::NewClient => {
                let start = p.start(period_start, days, 15, 0)?;
                let end = p.end_after_days(start, period_end)?;
                let key = p.text("key", "key-newco")?;
                let client = p.text("client", "203.0.113.99")?;
                let rate = p.float("rate", 100_000.0, 1.0, 1e9)?;
                let ramp_days = p.float("ramp_days", 7.0, 0.0, 3_660.0)?;
                if workload::SHOP.callers.iter().any(|c| c.key == key) {
                    return Err(p.err(format!("key={key} is already one of shop's keys")));
                }
                (
                    start,
                    end,
                    Effect::NewClient {
                        key,
                        client,
                        rate,
                        ramp_hours: ramp_days * 24.0,
                    },
                )
            }
            ScenarioKind::StrayStage => {
                let start = p.start(period_start, days, 1, 0)?;
                let end = p.end_after_days(start, period_end)?;
                let stage = p.text("stage", "test")?;
                let key = p.text("key", "key-ci")?;
                let client = p.text("client", "192.0.2.200")?;
                let rate = p.float("rate", 20_000.0, 1.0, 1e9)?;
                if stage == workload::SHOP.stage {
                    return Err(p.err(format!("stage={stage} is shop's real stage")));
                }
                (
                    start,
                    end,
                    Effect::StrayStage {
                        stage,
                        key,
                        client,
                        rate,
                    },
                )
            }
        };
        if end <= start {
            return Err(p.err("the window ends before it starts".to_owned()));
        }
        let parameters = p.finish()?;
        Ok(Scenario {
            kind: self.kind,
            start,
            end,
            parameters,
            effect,
        })
    }
}
