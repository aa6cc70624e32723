//! The usage simulator: a realistic month (or more) of usage written straight into a ledger,
//! with named anomalies injected and their ground truth priced (docs/simulate.md).
//!
//! The baseline is three APIs (`shop`, an HTTP API; `legacy`, a REST API; `chat`, a WebSocket
//! API) with their routes, API keys, clients and `team` tags, shaped by a daily curve (night
//! 25% of the afternoon peak) and a weekly one (weekends 60% of weekdays) with noise. Usage is
//! written in hourly buckets, one batch per simulated day, with batch ids derived from the
//! seed and the whole configuration: rerunning the same simulation adds nothing (within the
//! ledger's deduplication window).
//!
//! Everything is deterministic for a seed: the baseline of a day depends only on the seed and
//! the date (a ChaCha8 stream per day), each scenario draws from its own streams, so adding a
//! scenario never changes the baseline.
//!
//! ```
//! use tollgate_analytics::simulate::{SimConfig, Simulation};
//!
//! fn simulate_into(
//!     ledger: &mut dyn tollgate_meter::Ledger,
//! ) -> Result<(), Box<dyn std::error::Error>> {
//! let config = SimConfig {
//!     seed: 7,
//!     start: 1_735_689_600, // 2025-01-01T00:00:00Z
//!     days: 31,
//!     region: "us-east-1".into(),
//!     scenarios: vec!["retry-storm:day=12,hours=6".parse()?],
//! };
//! let sim = Simulation::new(config, &tollgate_pricing::Catalog::embedded())?;
//! let outcome = sim.run(ledger)?;
//! println!("{}", outcome.truth.to_json());
//! Ok(())
//! }
//! ```

mod scenario;
mod truth;
pub mod workload;

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tollgate_meter::{Ledger, LedgerError};
use tollgate_pricing::report::Period;
use tollgate_pricing::{pricing_meter, Catalog, PricingError};
use tollgate_types::usage::{
    Reason, Tags, UsageBatch, UsageCounts, UsageKey, UsageMeter, UsageRecord,
    IDLE_THRESHOLDS_MINUTES,
};

pub use scenario::{Scenario, ScenarioKind, ScenarioSpec};
pub use truth::{ExpectedAdvice, GroundTruth, TruthEntry};

use scenario::Effect;
pub(crate) use tollgate_types::time_fmt::rfc3339;
use workload::{Api, ApiKind, Route, APIS, STATUS_MIX};

pub(crate) const HOUR: i64 = 3_600;
pub(crate) const DAY: i64 = 86_400;
const MS_PER_HOUR: f64 = 3_600_000.0;

/// The most days one simulation may cover.
pub const MAX_DAYS: u32 = 3_660;

/// Why a simulation cannot be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("unknown scenario `{name}` (known: {known})")]
    UnknownScenario { name: String, known: String },
    #[error("scenario {scenario}: {message}")]
    BadParameter { scenario: String, message: String },
    #[error("{0}")]
    BadConfig(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    pub seed: u64,
    /// Start of the period, Unix seconds; must be a UTC midnight.
    pub start: i64,
    /// Length of the period in days (1 to [`MAX_DAYS`]).
    pub days: u32,
    /// The AWS region written into every record (whose prices apply).
    pub region: String,
    pub scenarios: Vec<ScenarioSpec>,
}

/// A validated simulation, ready to run.
#[derive(Debug, Clone)]
pub struct Simulation {
    config: SimConfig,
    scenarios: Vec<Scenario>,
    catalog: Catalog,
    fingerprint: u64,
}

/// What [`Simulation::run`] did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Records in the batches the ledger applied.
    pub records_written: u64,
    /// Records generated (the same whether or not the batches were new).
    pub records_generated: u64,
    /// Days whose batch the ledger applied.
    pub batches_applied: u32,
    /// Days whose batch the ledger already had (a rerun).
    pub batches_skipped: u32,
    pub truth: GroundTruth,
}

/// One simulated day: the batch to append and the billable units it holds.
#[derive(Debug, Clone)]
pub struct Day {
    pub batch: UsageBatch,
    account: DayAccount,
}

#[derive(Debug, Clone, Default)]
struct DayAccount {
    /// Billable base units of the whole day, per meter.
    total: BTreeMap<UsageMeter, u128>,
    /// Per scenario: billable base units it added, per (hour, meter).
    extra: Vec<BTreeMap<(i64, UsageMeter), u128>>,
    /// Per scenario: base units, per hour, of the informational meter its recommendation
    /// reads (payload-growth: the route's uncompressed bytes), baseline included.
    advice: Vec<BTreeMap<i64, u128>>,
}

impl Simulation {
    /// Validate the configuration: the period, the region's prices and every scenario's
    /// parameters. Nothing is written.
    pub fn new(config: SimConfig, catalog: &Catalog) -> Result<Self, SimError> {
        if config.days == 0 || config.days > MAX_DAYS {
            return Err(SimError::BadConfig(format!(
                "--days {}: expected 1 to {MAX_DAYS}",
                config.days
            )));
        }
        if config.start.rem_euclid(DAY) != 0 {
            return Err(SimError::BadConfig(
                "the start must be a UTC midnight".to_owned(),
            ));
        }
        Period::new(config.start, config.start + i64::from(config.days) * DAY)
            .map_err(|e| SimError::BadConfig(format!("the period: {e}")))?;
        let region = catalog.region(&config.region)?;
        for meter in [
            UsageMeter::HttpRequests,
            UsageMeter::RestRequests,
            UsageMeter::WebsocketMessages,
            UsageMeter::WebsocketConnectionMs,
            UsageMeter::DataOutBytes,
        ] {
            let (m, size) = pricing_meter(meter)?;
            region.table(m, size)?;
        }
        let scenarios = config
            .scenarios
            .iter()
            .map(|s| s.resolve(config.start, config.days))
            .collect::<Result<Vec<_>, _>>()?;
        let mut canonical = format!(
            "v1|{}|{}|{}|{}",
            config.seed, config.start, config.days, config.region
        );
        for s in &scenarios {
            canonical.push('|');
            canonical.push_str(s.kind.name());
            for (k, v) in &s.parameters {
                canonical.push_str(&format!(";{k}={v}"));
            }
        }
        Ok(Simulation {
            fingerprint: fnv1a(canonical.as_bytes()),
            config,
            scenarios,
            catalog: catalog.clone(),
        })
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// `[start, end)` of the simulated period, Unix seconds.
    pub fn period(&self) -> (i64, i64) {
        (
            self.config.start,
            self.config.start + i64::from(self.config.days) * DAY,
        )
    }

    /// The batch id of a day (`sim-{seed}-{fingerprint}-{YYYY-MM-DD}`): the fingerprint
    /// hashes the whole configuration, so only the very same simulation is deduplicated.
    pub fn batch_id(&self, day: u32) -> String {
        let ts = self.config.start + i64::from(day) * DAY;
        format!(
            "sim-{}-{:016x}-{}",
            self.config.seed,
            self.fingerprint,
            &rfc3339(ts)[..10]
        )
    }

    /// Write every day into the ledger, then price the scenarios' ground truth.
    pub fn run(&self, ledger: &mut dyn Ledger) -> Result<Outcome, SimError> {
        let mut outcome = Outcome {
            records_written: 0,
            records_generated: 0,
            batches_applied: 0,
            batches_skipped: 0,
            truth: GroundTruth::default(),
        };
        let mut acc = truth::Accounting::new(self.scenarios.len());
        for d in 0..self.config.days {
            let day = self.day(d);
            let n = day.batch.records.len() as u64;
            outcome.records_generated += n;
            if ledger.append(&day.batch)? {
                outcome.records_written += n;
                outcome.batches_applied += 1;
            } else {
                outcome.batches_skipped += 1;
            }
            let month = month_of(self.config.start + i64::from(d) * DAY);
            acc.add_day(&month, day.account);
        }
        outcome.truth = truth::ground_truth(self, &acc)?;
        Ok(outcome)
    }

    /// Generate one day (0-based) without writing it.
    pub fn day(&self, day: u32) -> Day {
        let day_start = self.config.start + i64::from(day) * DAY;
        let day_number = day_start.div_euclid(DAY) as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed);
        rng.set_stream(day_number);
        let mut scenario_rngs: Vec<ChaCha8Rng> = (0..self.scenarios.len())
            .map(|i| {
                let mut r = ChaCha8Rng::seed_from_u64(self.config.seed);
                r.set_stream(((i as u64 + 1) << 32) | (day_number & 0xffff_ffff));
                r
            })
            .collect();
        let mut g = Gen {
            region: &self.config.region,
            cells: BTreeMap::new(),
            account: DayAccount {
                total: BTreeMap::new(),
                extra: vec![BTreeMap::new(); self.scenarios.len()],
                advice: vec![BTreeMap::new(); self.scenarios.len()],
            },
        };
        let api_noise: Vec<f64> = APIS.iter().map(|_| noise(&mut rng, 0.05)).collect();
        for h in 0..24 {
            let ts = day_start + h * HOUR;
            let s = workload::seasonal(ts);
            for (api, day_noise) in APIS.iter().zip(&api_noise) {
                let f = s * day_noise * noise(&mut rng, 0.06);
                self.baseline(&mut g, &mut rng, ts, api, f);
            }
            for (i, (sc, r)) in self.scenarios.iter().zip(&mut scenario_rngs).enumerate() {
                if sc.active(ts) {
                    apply(&mut g, r, ts, i, sc);
                }
            }
        }
        let records = g
            .cells
            .into_iter()
            .map(|(key, counts)| UsageRecord { key, counts })
            .collect();
        Day {
            batch: UsageBatch {
                id: self.batch_id(day),
                records,
            },
            account: g.account,
        }
    }

    fn baseline(&self, g: &mut Gen<'_>, rng: &mut ChaCha8Rng, ts: i64, api: &Api, f: f64) {
        match api.kind {
            ApiKind::Http | ApiKind::Rest => {
                for route in api.routes {
                    for caller in api.callers {
                        let mut answered: [u64; 6] = [0; 6];
                        for (status, reason, billable, share) in STATUS_MIX {
                            let n = count(
                                api.peak_per_hour * f * route.share * caller.share * share,
                                rng,
                            );
                            let bytes = if status == 2 {
                                route.response_bytes
                            } else {
                                workload::ERROR_RESPONSE_BYTES
                            };
                            let req = Req {
                                ts,
                                api,
                                stage: api.stage,
                                route: route.key,
                                key: caller.key,
                                client: caller.client,
                                status,
                                reason,
                                billable,
                            };
                            g.request(&req, n, bytes, None);
                            if status == 2 {
                                self.payload_growth(g, &req, route, n);
                            }
                            if billable {
                                answered[usize::from(status)] += n;
                            }
                        }
                        // Informational: a share of the requests answered 5xx is retried
                        // once by its client; the retries are among the 2xx counted above.
                        let retries = ((answered[5] as f64 * workload::RETRIED_SHARE).round()
                            as u64)
                            .min(answered[2]);
                        let ok = Req {
                            ts,
                            api,
                            stage: api.stage,
                            route: route.key,
                            key: caller.key,
                            client: caller.client,
                            status: 2,
                            reason: Reason::Integration,
                            billable: true,
                        };
                        g.add(
                            ok.key(g.region, UsageMeter::Retries),
                            retries,
                            retries,
                            None,
                        );
                    }
                }
            }
            ApiKind::Websocket => {
                for caller in api.callers {
                    let messages = count(api.peak_per_hour * f * caller.share, rng);
                    let msg = Req {
                        ts,
                        api,
                        stage: api.stage,
                        route: "sendmessage",
                        key: caller.key,
                        client: caller.client,
                        status: 0,
                        reason: Reason::Websocket,
                        billable: true,
                    };
                    g.request(&msg, messages, workload::WS_MESSAGE_BYTES_OUT, None);
                    // Informational: message sizes (most under 1 KB, the rest under 4 KB).
                    let small = (messages as f64 * workload::WS_SMALL_MESSAGE_SHARE).round() as u64;
                    for (le_kb, n) in [(1, small), (4, messages - small.min(messages))] {
                        g.add(
                            msg.key(g.region, UsageMeter::MessageSize { le_kb }),
                            n,
                            n,
                            None,
                        );
                    }
                    let concurrent = workload::WS_PEAK_CONNECTIONS * f * caller.share;
                    let opened = count(concurrent / workload::WS_LIFETIME_HOURS, rng);
                    let conn = Req {
                        route: "$connect",
                        ..msg
                    };
                    let connected_ms = concurrent * MS_PER_HOUR;
                    g.add(
                        conn.key(g.region, UsageMeter::WebsocketConnectionMs),
                        connected_ms.round() as u64,
                        opened,
                        None,
                    );
                    // Informational: idle time beyond each threshold, with exponential gaps
                    // between a connection's messages (mean: connection time / messages).
                    if messages > 0 {
                        let mean_gap_ms = connected_ms / messages as f64;
                        for minutes in IDLE_THRESHOLDS_MINUTES {
                            let over = connected_ms
                                * (-(f64::from(minutes) * 60_000.0) / mean_gap_ms).exp();
                            g.add(
                                conn.key(g.region, UsageMeter::WebsocketIdleMs { minutes }),
                                over.round() as u64,
                                0,
                                None,
                            );
                        }
                    }
                    for route in ["$connect", "$disconnect"] {
                        let control = Req {
                            route,
                            reason: Reason::WebsocketControl,
                            billable: false,
                            ..msg
                        };
                        g.add(
                            control.key(g.region, UsageMeter::WebsocketMessages),
                            opened,
                            opened,
                            None,
                        );
                    }
                }
            }
        }
    }

    /// Extra response bytes of a payload-growth scenario on this route and hour.
    fn payload_growth(&self, g: &mut Gen<'_>, req: &Req<'_>, route: &Route, n: u64) {
        for (i, sc) in self.scenarios.iter().enumerate() {
            if let Effect::PayloadGrowth {
                api,
                route: grown,
                factor,
            } = &sc.effect
            {
                if sc.active(req.ts) && api.name == req.api.name && grown.key == route.key {
                    let extra =
                        n as f64 * route.response_bytes * (factor - 1.0) * sc.progress(req.ts);
                    g.add(
                        req.key(g.region, UsageMeter::DataOutBytes),
                        extra.round() as u64,
                        0,
                        Some(i),
                    );
                    // The grown responses go out without compression: all their bytes.
                    let plain = (n as f64 * route.response_bytes + extra).round() as u64;
                    g.add(
                        req.key(g.region, UsageMeter::UncompressedBytes),
                        plain,
                        n,
                        Some(i),
                    );
                    *g.account.advice[i].entry(req.ts).or_default() += u128::from(plain);
                }
            }
        }
    }
}

/// A scenario's traffic for the hour starting at `ts`.
fn apply(g: &mut Gen<'_>, rng: &mut ChaCha8Rng, ts: i64, i: usize, sc: &Scenario) {
    let s = workload::seasonal(ts);
    match &sc.effect {
        Effect::RetryStorm {
            api,
            route,
            factor,
            error_share,
        } => {
            let extra = api.peak_per_hour * s * route.share * (factor - 1.0);
            for caller in api.callers {
                let m = extra * caller.share;
                for (status, share, bytes) in [
                    (5, *error_share, workload::ERROR_RESPONSE_BYTES),
                    (2, 1.0 - error_share, route.response_bytes),
                ] {
                    let req = Req {
                        ts,
                        api,
                        stage: api.stage,
                        route: route.key,
                        key: caller.key,
                        client: caller.client,
                        status,
                        reason: Reason::Integration,
                        billable: true,
                    };
                    let n = count(m * share, rng);
                    g.request(&req, n, bytes, Some(i));
                    // Every extra request repeats one that was answered 5xx.
                    g.add(req.key(g.region, UsageMeter::Retries), n, n, Some(i));
                }
            }
        }
        Effect::BotTraffic {
            api,
            route,
            rate,
            bots,
            error_share,
            throttled_share,
        } => {
            let per_bot = rate * noise(rng, 0.1) / f64::from(*bots);
            for b in 0..*bots {
                let client = bot_client(b);
                for (status, reason, billable, share, bytes) in [
                    (
                        4,
                        Reason::Integration,
                        true,
                        *error_share,
                        workload::ERROR_RESPONSE_BYTES,
                    ),
                    (
                        4,
                        Reason::Throttled,
                        false,
                        *throttled_share,
                        workload::ERROR_RESPONSE_BYTES,
                    ),
                    (
                        2,
                        Reason::Integration,
                        true,
                        1.0 - error_share - throttled_share,
                        route.response_bytes,
                    ),
                ] {
                    let req = Req {
                        ts,
                        api,
                        stage: api.stage,
                        route: route.key,
                        key: "",
                        client: &client,
                        status,
                        reason,
                        billable,
                    };
                    g.request(&req, count(per_bot * share, rng), bytes, Some(i));
                }
            }
        }
        Effect::IdleWebsockets { connections } => {
            let api = &workload::CHAT;
            let extra = connections * sc.progress(ts);
            for caller in api.callers {
                let req = Req {
                    ts,
                    api,
                    stage: api.stage,
                    route: "$connect",
                    key: caller.key,
                    client: caller.client,
                    status: 0,
                    reason: Reason::Websocket,
                    billable: true,
                };
                let ms = (extra * caller.share * MS_PER_HOUR).round() as u64;
                g.add(
                    req.key(g.region, UsageMeter::WebsocketConnectionMs),
                    ms,
                    0,
                    Some(i),
                );
                // They send nothing: idle beyond any threshold for the whole hour.
                for minutes in IDLE_THRESHOLDS_MINUTES {
                    g.add(
                        req.key(g.region, UsageMeter::WebsocketIdleMs { minutes }),
                        ms,
                        0,
                        Some(i),
                    );
                }
            }
        }
        // Applied inside the baseline, to the route's own responses.
        Effect::PayloadGrowth { .. } => {}
        Effect::NewClient {
            key,
            client,
            rate,
            ramp_hours,
        } => {
            let elapsed = ((ts + HOUR - sc.start) / HOUR) as f64;
            let ramp = if *ramp_hours <= 0.0 {
                1.0
            } else {
                (elapsed / ramp_hours).min(1.0)
            };
            let volume = rate * s * ramp * noise(rng, 0.06);
            shop_mix(g, rng, ts, i, workload::SHOP.stage, key, client, volume);
        }
        Effect::StrayStage {
            stage,
            key,
            client,
            rate,
        } => {
            let volume = rate * noise(rng, 0.05);
            shop_mix(g, rng, ts, i, stage, key, client, volume);
        }
    }
}

/// `volume` requests on shop's routes from one caller, with the usual status mix.
#[allow(clippy::too_many_arguments)]
fn shop_mix(
    g: &mut Gen<'_>,
    rng: &mut ChaCha8Rng,
    ts: i64,
    i: usize,
    stage: &str,
    key: &str,
    client: &str,
    volume: f64,
) {
    let api = &workload::SHOP;
    for route in api.routes {
        for (status, reason, billable, share) in STATUS_MIX {
            let bytes = if status == 2 {
                route.response_bytes
            } else {
                workload::ERROR_RESPONSE_BYTES
            };
            let req = Req {
                ts,
                api,
                stage,
                route: route.key,
                key,
                client,
                status,
                reason,
                billable,
            };
            g.request(
                &req,
                count(volume * route.share * share, rng),
                bytes,
                Some(i),
            );
        }
    }
}

/// The client address of bot `b` (0-based): `198.18.0.1` … (RFC 2544's benchmark range,
/// which no real caller of the baseline uses).
pub fn bot_client(b: u32) -> String {
    format!("198.18.{}.{}", b / 250, b % 250 + 1)
}

/// One cell's dimensions, minus the meter.
#[derive(Debug, Clone, Copy)]
struct Req<'a> {
    ts: i64,
    api: &'a Api,
    stage: &'a str,
    route: &'a str,
    key: &'a str,
    client: &'a str,
    status: u8,
    reason: Reason,
    billable: bool,
}

impl Req<'_> {
    fn key(&self, region: &str, meter: UsageMeter) -> UsageKey {
        let mut tags = Tags::new();
        tags.insert("team".to_owned(), self.api.team.to_owned());
        UsageKey {
            bucket: self.ts,
            region: region.to_owned(),
            api: self.api.name.to_owned(),
            stage: self.stage.to_owned(),
            route: self.route.to_owned(),
            api_key: self.key.to_owned(),
            client: self.client.to_owned(),
            status_class: self.status,
            billable: self.billable,
            reason: self.reason,
            meter,
            tags,
        }
    }
}

/// The cells of a day being generated, and their accounting.
struct Gen<'a> {
    region: &'a str,
    cells: BTreeMap<UsageKey, UsageCounts>,
    account: DayAccount,
}

impl Gen<'_> {
    fn add(&mut self, key: UsageKey, units: u64, events: u64, source: Option<usize>) {
        if units == 0 && events == 0 {
            return;
        }
        if key.billable && key.meter.is_priced() {
            *self.account.total.entry(key.meter).or_default() += u128::from(units);
            if let Some(i) = source {
                *self.account.extra[i]
                    .entry((key.bucket, key.meter))
                    .or_default() += u128::from(units);
            }
        }
        self.cells
            .entry(key)
            .or_default()
            .add(UsageCounts { units, events });
    }

    /// `n` requests (or messages) and the bytes sent back for them.
    fn request(&mut self, req: &Req<'_>, n: u64, bytes_each: f64, source: Option<usize>) {
        if n == 0 {
            return;
        }
        let meter = match req.api.kind {
            ApiKind::Http => UsageMeter::HttpRequests,
            ApiKind::Rest => UsageMeter::RestRequests,
            ApiKind::Websocket => UsageMeter::WebsocketMessages,
        };
        self.add(req.key(self.region, meter), n, n, source);
        let bytes = (n as f64 * bytes_each).round() as u64;
        self.add(
            req.key(self.region, UsageMeter::DataOutBytes),
            bytes,
            n,
            source,
        );
    }
}

/// A multiplicative noise factor, uniform in `[1 - amplitude, 1 + amplitude)`.
fn noise(rng: &mut ChaCha8Rng, amplitude: f64) -> f64 {
    1.0 + amplitude * (2.0 * rng.random::<f64>() - 1.0)
}

/// An expected count with ±3% noise, rounded.
fn count(expected: f64, rng: &mut ChaCha8Rng) -> u64 {
    let v = expected * noise(rng, 0.03);
    if v <= 0.0 {
        0
    } else {
        v.round() as u64
    }
}

/// `YYYY-MM` of an instant.
pub(crate) fn month_of(ts: i64) -> String {
    rfc3339(ts)[..7].to_owned()
}

/// 64-bit FNV-1a: a hash that stays the same across Rust versions (batch ids depend on it).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
