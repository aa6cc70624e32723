//! One function per kind of advice. Each reads the cells of the run-rate week (or the whole
//! period, for incidents), computes a monthly quantity and prices it with [`Prices`].

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use tollgate_meter::Ledger;
use tollgate_store::BillLedger;
use tollgate_types::usage::{UsageMeter, IDLE_THRESHOLDS_MINUTES};

use super::data::{bill_cells, cells, hourly_requests, pricing_units, Cell, Prices};
use super::{
    target_name, Kind, RecommendError, RecommendOptions, Recommendation,
    BATCHING_MIN_RATE_PER_MINUTE, BATCHING_MIN_SMALL_SHARE, BATCH_SIZE, EXPOSURE_MIN_BAD_SHARE,
    MONTH_DAYS, NON_PRODUCTION_WORDS, RUN_RATE_DAYS, STRAY_MAX_CLIENTS, STRAY_MAX_VARIATION,
};
use crate::forecast::display_money;

const DAY: i64 = 86_400;

/// Reasons that mean a request was turned away before (or instead of) its integration.
const REJECTED: [&str; 7] = [
    "auth_failed",
    "missing_key",
    "throttled",
    "quota_exceeded",
    "unmatched_route",
    "malformed",
    "validation_failed",
];

/// What the rules share: the cells of both windows, the prices and the month factors.
struct Ctx<'a> {
    options: &'a RecommendOptions<'a>,
    /// The whole period.
    period: Vec<Cell>,
    /// The run-rate window (the period's last days).
    week: Vec<Cell>,
    prices: Prices<'a>,
    /// × this turns a quantity of the period into a monthly one.
    period_monthly: Decimal,
    /// × this turns a quantity of the run-rate window into a monthly one.
    week_monthly: Decimal,
    week_from: i64,
}

impl<'a> Ctx<'a> {
    /// The context of `options`' period, its cells read by `read(from, to)`.
    fn new(
        options: &'a RecommendOptions<'a>,
        mut read: impl FnMut(i64, i64) -> Result<Vec<Cell>, RecommendError>,
    ) -> Result<Self, RecommendError> {
        let week_from = options.from.max(options.to - RUN_RATE_DAYS * DAY);
        let period = read(options.from, options.to)?;
        let week = read(week_from, options.to)?;
        let monthly = |secs: i64| Decimal::from(MONTH_DAYS * DAY) / Decimal::from(secs.max(1));
        let week_monthly = monthly(options.to - week_from);
        let prices = Prices::new(options.catalog, options.free_tier, &week, week_monthly)?;
        Ok(Ctx {
            options,
            period_monthly: monthly(options.to - options.from),
            week_monthly,
            period,
            week,
            prices,
            week_from,
        })
    }
}

/// Every recommendation an imported AWS bill supports, unfiltered: the bill has usage per
/// API and meter but no routes, clients, statuses, sizes or idle times, so only the move from
/// REST to HTTP APIs can be priced from it (with the REST-only features it can see: a cache).
pub(crate) fn all_bill(
    bill: &mut dyn BillLedger,
    options: &RecommendOptions<'_>,
) -> Result<Vec<Recommendation>, RecommendError> {
    let ctx = Ctx::new(options, |from, to| bill_cells(bill, from, to))?;
    rest_to_http(&ctx, Evidence::Bill)
}

/// Where a rule's cells came from, for what it can claim to have checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Evidence {
    Ledger,
    Bill,
}

/// Every recommendation the ledger supports, unfiltered.
pub(crate) fn all(
    ledger: &mut dyn Ledger,
    options: &RecommendOptions<'_>,
) -> Result<Vec<Recommendation>, RecommendError> {
    let ctx = Ctx::new(options, |from, to| cells(ledger, from, to))?;
    let mut out = Vec::new();
    out.extend(rest_to_http(&ctx, Evidence::Ledger)?);
    out.extend(idle_timeout(&ctx)?);
    out.extend(batching(&ctx)?);
    out.extend(message_size(&ctx)?);
    out.extend(client_retries(&ctx)?);
    out.extend(compression(&ctx)?);
    out.extend(stage_cache(&ctx)?);
    out.extend(public_exposure(&ctx)?);
    out.extend(stray_traffic(ledger, &ctx)?);
    Ok(out)
}

// === Formatting ===

/// A whole number with thousands separators (`1,234,567`).
pub(crate) fn count(d: Decimal) -> String {
    let n = d
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i128()
        .unwrap_or(0);
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// `$12.34`.
fn usd(d: Decimal) -> String {
    format!("${}", display_money(d))
}

/// A quantity with two decimals (`12.30`).
fn two(d: Decimal) -> String {
    display_money(d)
}

/// A share as a whole percentage (`92%`).
fn pct(part: Decimal, whole: Decimal) -> String {
    if whole.is_zero() {
        return "0%".to_owned();
    }
    format!(
        "{}%",
        (part * Decimal::ONE_HUNDRED / whole)
            .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
    )
}

fn dims(api: &str, stage: Option<&str>, route: Option<&str>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("api".to_owned(), api.to_owned());
    if let Some(s) = stage {
        m.insert("stage".to_owned(), s.to_owned());
    }
    if let Some(r) = route.filter(|r| !r.is_empty()) {
        m.insert("route".to_owned(), r.to_owned());
    }
    m
}

fn advice(
    kind: Kind,
    api: &str,
    stage: Option<&str>,
    route: Option<&str>,
    saving: Decimal,
    evidence: String,
    action: String,
) -> Recommendation {
    Recommendation {
        kind,
        target: target_name(api, stage, route),
        dimensions: dims(api, stage, route),
        monthly_saving: saving,
        evidence,
        action,
    }
}

/// The first `n` items, then `… and k more`.
fn listed(items: &[String], n: usize) -> String {
    if items.len() <= n {
        items.join(", ")
    } else {
        format!("{} and {} more", items[..n].join(", "), items.len() - n)
    }
}

type Stage = (String, String, String);
type Route = (String, String, String, String);

/// Every dimension of a cell but its meter.
type Place<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    bool,
);

fn place(c: &Cell) -> Place<'_> {
    (
        &c.region, &c.api, &c.stage, &c.route, &c.key, &c.client, &c.status, &c.reason, c.billable,
    )
}

fn stage_of(c: &Cell) -> Stage {
    (c.region.clone(), c.api.clone(), c.stage.clone())
}

fn route_of(c: &Cell) -> Route {
    (
        c.region.clone(),
        c.api.clone(),
        c.stage.clone(),
        c.route.clone(),
    )
}

// === rest-to-http ===

/// A REST API whose ledger shows no REST-only feature costs less as an HTTP API: its
/// requests at HTTP API prices instead of REST prices (data transfer is the same).
fn rest_to_http(ctx: &Ctx<'_>, evidence: Evidence) -> Result<Vec<Recommendation>, RecommendError> {
    let mut requests: BTreeMap<(String, String), u128> = BTreeMap::new();
    for c in ctx
        .week
        .iter()
        .filter(|c| c.billable && c.meter == UsageMeter::RestRequests)
    {
        *requests
            .entry((c.region.clone(), c.api.clone()))
            .or_default() += c.units;
    }
    let mut out = Vec::new();
    for ((region, api), units) in requests {
        // Features HTTP APIs lack, as the ledger shows them (over the whole period).
        let mut features: BTreeSet<&str> = BTreeSet::new();
        for c in ctx.period.iter().filter(|c| c.api == api) {
            if matches!(c.meter, UsageMeter::CacheMs { .. }) || c.reason == "cache_hit" {
                features.insert("a stage cache");
            }
            if c.reason == "validation_failed" {
                features.insert("request validation");
            }
            if c.is_request() && !c.key.is_empty()
                || c.reason == "missing_key"
                || c.reason == "quota_exceeded"
            {
                features.insert("API keys and usage plans");
            }
        }
        if !features.is_empty() {
            continue;
        }
        let monthly = Decimal::from(units) * ctx.week_monthly;
        let rest = ctx
            .prices
            .saving(&region, UsageMeter::RestRequests, monthly)?;
        let http = ctx
            .prices
            .added(&region, UsageMeter::HttpRequests, monthly)?;
        let saving = rest - http;
        if saving <= Decimal::ZERO {
            continue;
        }
        let (seen, unseen) = match evidence {
            Evidence::Ledger => (
                "the ledger shows no REST-only feature (stage cache, cache hits, request \
                 validation, API keys or usage plans)",
                "mapping templates, resource policies, private or edge-optimized endpoints, WAF",
            ),
            Evidence::Bill => (
                "the bill shows no stage cache for it (the only REST-only feature a bill \
                 shows)",
                "API keys and usage plans, request validation, mapping templates, resource \
                 policies, private or edge-optimized endpoints, WAF; importing the API's \
                 access logs (`tollgate aws access-logs`) shows some of them",
            ),
        };
        let source = match evidence {
            Evidence::Ledger => "ledger",
            Evidence::Bill => "bill",
        };
        out.push(advice(
            Kind::RestToHttp,
            &api,
            None,
            None,
            saving,
            format!(
                "{} REST requests a month (run rate of the last {} days) cost {} at REST API \
                 prices and would cost {} as HTTP API requests (one unit each, payloads up to \
                 512 KB); {seen}",
                count(monthly),
                RUN_RATE_DAYS,
                usd(rest),
                usd(http)
            ),
            format!(
                "Move {api} to an HTTP API with the same routes and integrations, after \
                 checking for REST-only settings the {source} cannot see ({unseen})"
            ),
        ));
    }
    Ok(out)
}

// === websocket-idle-timeout ===

/// Idle time beyond 1, 5 and 10 minutes (`websocket_idle_ms_over:{m}`) is connection time an
/// idle timeout of `m` minutes would have cut; the headline is the 10-minute timeout's.
fn idle_timeout(ctx: &Ctx<'_>) -> Result<Vec<Recommendation>, RecommendError> {
    let mut idle: BTreeMap<Stage, BTreeMap<u16, u128>> = BTreeMap::new();
    let mut connected: BTreeMap<Stage, u128> = BTreeMap::new();
    for c in &ctx.week {
        match c.meter {
            UsageMeter::WebsocketIdleMs { minutes } => {
                *idle
                    .entry(stage_of(c))
                    .or_default()
                    .entry(minutes)
                    .or_default() += c.units;
            }
            UsageMeter::WebsocketConnectionMs if c.billable => {
                *connected.entry(stage_of(c)).or_default() += c.units;
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (stage, by_minutes) in idle {
        let (region, api, name) = &stage;
        let mut figures = Vec::new();
        for m in IDLE_THRESHOLDS_MINUTES.iter().rev() {
            let Some(ms) = by_minutes.get(m) else {
                continue;
            };
            let minutes = pricing_units(UsageMeter::WebsocketConnectionMs, *ms)? * ctx.week_monthly;
            let saving = ctx
                .prices
                .saving(region, UsageMeter::WebsocketConnectionMs, minutes)?;
            figures.push((*m, minutes, saving));
        }
        let Some(&(headline_m, _, headline)) = figures.first() else {
            continue;
        };
        let total_minutes = pricing_units(
            UsageMeter::WebsocketConnectionMs,
            connected.get(&stage).copied().unwrap_or(0),
        )? * ctx.week_monthly;
        let total_cost =
            ctx.prices
                .saving(region, UsageMeter::WebsocketConnectionMs, total_minutes)?;
        let each: Vec<String> = figures
            .iter()
            .map(|(m, minutes, saving)| {
                format!(
                    "idle beyond {m} min: {} minutes ({})",
                    count(*minutes),
                    usd(*saving)
                )
            })
            .collect();
        let others: Vec<String> = figures[1..]
            .iter()
            .map(|(m, _, s)| format!("{m} minute(s) would save {}", usd(*s)))
            .collect();
        out.push(advice(
            Kind::WebsocketIdleTimeout,
            api,
            Some(name),
            None,
            headline,
            format!(
                "connections were open {} minutes a month ({}, run rate of the last {} days); \
                 {}",
                count(total_minutes),
                usd(total_cost),
                RUN_RATE_DAYS,
                each.join("; ")
            ),
            format!(
                "Close connections idle for more than {headline_m} minutes (an idle timeout, or \
                 clients that disconnect when unused){}",
                if others.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; a shorter timeout saves more but makes clients reconnect: {}",
                        others.join(", ")
                    )
                }
            ),
        ));
    }
    Ok(out)
}

/// Messages per size bucket of each WebSocket stage.
fn sizes(ctx: &Ctx<'_>) -> BTreeMap<Stage, BTreeMap<u16, u128>> {
    let mut out: BTreeMap<Stage, BTreeMap<u16, u128>> = BTreeMap::new();
    for c in &ctx.week {
        if let UsageMeter::MessageSize { le_kb } = c.meter {
            *out.entry(stage_of(c))
                .or_default()
                .entry(le_kb)
                .or_default() += c.units;
        }
    }
    out
}

// === websocket-batching ===

/// Many small messages sent often on each connection: batching [`BATCH_SIZE`] of them into
/// one message saves `(1 - 1/BATCH_SIZE)` of the small messages.
fn batching(ctx: &Ctx<'_>) -> Result<Vec<Recommendation>, RecommendError> {
    let mut connected: BTreeMap<Stage, u128> = BTreeMap::new();
    for c in ctx
        .week
        .iter()
        .filter(|c| c.billable && c.meter == UsageMeter::WebsocketConnectionMs)
    {
        *connected.entry(stage_of(c)).or_default() += c.units;
    }
    let mut out = Vec::new();
    for (stage, buckets) in sizes(ctx) {
        let (region, api, name) = &stage;
        let total: u128 = buckets.values().sum();
        let small = buckets.get(&1).copied().unwrap_or(0);
        let minutes = pricing_units(
            UsageMeter::WebsocketConnectionMs,
            connected.get(&stage).copied().unwrap_or(0),
        )?;
        if total == 0 || minutes.is_zero() {
            continue;
        }
        let share = small as f64 / total as f64;
        let rate = (Decimal::from(total) / minutes).to_f64().unwrap_or(0.0);
        if share < BATCHING_MIN_SMALL_SHARE || rate < BATCHING_MIN_RATE_PER_MINUTE {
            continue;
        }
        let batch = Decimal::from(BATCH_SIZE);
        let fewer = Decimal::from(small) * ctx.week_monthly * (Decimal::ONE - Decimal::ONE / batch);
        let saving = ctx
            .prices
            .saving(region, UsageMeter::WebsocketMessages, fewer)?;
        out.push(advice(
            Kind::WebsocketBatching,
            api,
            Some(name),
            None,
            saving,
            format!(
                "{} messages a month, {} of them at most 1 KB, {:.1} messages per \
                 connection-minute (run rate of the last {} days); batching {} small messages \
                 into one sends {} fewer messages a month",
                count(Decimal::from(total) * ctx.week_monthly),
                pct(Decimal::from(small), Decimal::from(total)),
                rate,
                RUN_RATE_DAYS,
                BATCH_SIZE,
                count(fewer)
            ),
            format!(
                "Batch small messages on {api}/{name} (send up to {BATCH_SIZE} updates per \
                 message, still under 32 KB)"
            ),
        ));
    }
    Ok(out)
}

// === websocket-message-size ===

/// Messages of 32 to 40 KB are billed as two 32 KB units; trimmed under 32 KB, one.
fn message_size(ctx: &Ctx<'_>) -> Result<Vec<Recommendation>, RecommendError> {
    let mut out = Vec::new();
    for (stage, buckets) in sizes(ctx) {
        let (region, api, name) = &stage;
        let over = buckets.get(&40).copied().unwrap_or(0);
        if over == 0 {
            continue;
        }
        let total: u128 = buckets.values().sum();
        let monthly = Decimal::from(over) * ctx.week_monthly;
        let saving = ctx
            .prices
            .saving(region, UsageMeter::WebsocketMessages, monthly)?;
        out.push(advice(
            Kind::WebsocketMessageSize,
            api,
            Some(name),
            None,
            saving,
            format!(
                "{} messages a month ({} of all) are between 32 and 40 KB and billed as 2 units \
                 each; under 32 KB each would be 1 unit: {} fewer units (run rate of the last \
                 {} days)",
                count(monthly),
                pct(Decimal::from(over), Decimal::from(total)),
                count(monthly),
                RUN_RATE_DAYS
            ),
            format!(
                "Keep messages on {api}/{name} under 32 KB (trim fields, shorter keys, or \
                 compress the payload)"
            ),
        ));
    }
    Ok(out)
}

// === client-retries ===

/// Retries (`retries`: requests repeating one answered 5xx or 429) cost their request units
/// and the bytes sent back, at the averages of the cell they fell in; over the period,
/// scaled to a month (a retry storm is an incident, not a run rate).
fn client_retries(ctx: &Ctx<'_>) -> Result<Vec<Recommendation>, RecommendError> {
    struct Sums {
        retries: u128,
        billable_retries: u128,
        /// Request units per request meter.
        units: BTreeMap<UsageMeter, Decimal>,
        bytes: Decimal,
        clients: BTreeMap<String, u128>,
        requests: u128,
    }
    let mut by_route: BTreeMap<Route, Sums> = BTreeMap::new();
    let mut requests: BTreeMap<Route, u128> = BTreeMap::new();
    for c in ctx
        .period
        .iter()
        .filter(|c| c.is_request() || c.meter == UsageMeter::WebsocketMessages)
    {
        *requests.entry(route_of(c)).or_default() += c.events;
    }
    // The cells of each place (every dimension but the meter), to find a retry's requests.
    let mut places: BTreeMap<Place<'_>, Vec<&Cell>> = BTreeMap::new();
    for c in &ctx.period {
        places.entry(place(c)).or_default().push(c);
    }
    for r in ctx.period.iter().filter(|c| c.meter == UsageMeter::Retries) {
        let sums = by_route.entry(route_of(r)).or_insert_with(|| Sums {
            retries: 0,
            billable_retries: 0,
            units: BTreeMap::new(),
            bytes: Decimal::ZERO,
            clients: BTreeMap::new(),
            requests: 0,
        });
        sums.retries += r.units;
        *sums.clients.entry(r.client.clone()).or_default() += r.units;
        if !r.billable {
            continue;
        }
        sums.billable_retries += r.units;
        let n = Decimal::from(r.units);
        let cells = places.get(&place(r)).map(Vec::as_slice).unwrap_or_default();
        // Bytes out are counted per request; a ledger without their events uses the
        // requests'.
        let requests_here: u128 = cells
            .iter()
            .filter(|c| c.is_request() || c.meter == UsageMeter::WebsocketMessages)
            .map(|c| c.events)
            .sum();
        for c in cells {
            let events = match (c.meter, c.events) {
                (UsageMeter::DataOutBytes, 0) => requests_here,
                (_, e) => e,
            };
            if events == 0 {
                continue;
            }
            let per = Decimal::from(c.units) / Decimal::from(events);
            match c.meter {
                UsageMeter::HttpRequests
                | UsageMeter::RestRequests
                | UsageMeter::WebsocketMessages => {
                    *sums.units.entry(c.meter).or_default() += n * per;
                }
                UsageMeter::DataOutBytes => sums.bytes += n * per,
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for (route, mut sums) in by_route {
        let (region, api, stage, name) = &route;
        sums.requests = requests.get(&route).copied().unwrap_or(0);
        let mut saving = Decimal::ZERO;
        for (meter, units) in &sums.units {
            saving += ctx
                .prices
                .saving(region, *meter, *units * ctx.period_monthly)?;
        }
        let gb = sums.bytes / Decimal::from(1u64 << 30) * ctx.period_monthly;
        saving += ctx.prices.saving(region, UsageMeter::DataOutBytes, gb)?;
        let mut clients: Vec<(&String, &u128)> = sums.clients.iter().collect();
        clients.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let clients: Vec<String> = clients
            .iter()
            .map(|(c, n)| {
                format!(
                    "{} ({})",
                    if c.is_empty() { "unknown" } else { c.as_str() },
                    count(Decimal::from(**n))
                )
            })
            .collect();
        let days = Decimal::from(ctx.options.to - ctx.options.from) / Decimal::from(DAY);
        out.push(advice(
            Kind::ClientRetries,
            api,
            Some(stage),
            Some(name),
            saving,
            format!(
                "{} retries of requests answered 5xx or 429 in {} days ({} of the route's {} \
                 requests), {} billable: {} request units and {} GB sent back, {} a month; \
                 by client: {}",
                count(Decimal::from(sums.retries)),
                two(days),
                pct(Decimal::from(sums.retries), Decimal::from(sums.requests)),
                count(Decimal::from(sums.requests)),
                count(Decimal::from(sums.billable_retries)),
                count(sums.units.values().sum::<Decimal>() * ctx.period_monthly),
                two(gb),
                usd(saving),
                listed(&clients, 3)
            ),
            format!(
                "Make the clients of {name} retry with exponential backoff, jitter and a retry \
                 budget (or put a throttle or circuit breaker on the route); the saving assumes \
                 the retries are avoided"
            ),
        ));
    }
    Ok(out)
}

// === compression ===

/// Uncompressed response bytes, compressed at the assumed ratio, send `1 - 1/ratio` fewer
/// bytes out.
fn compression(ctx: &Ctx<'_>) -> Result<Vec<Recommendation>, RecommendError> {
    let mut plain: BTreeMap<Route, u128> = BTreeMap::new();
    let mut sent: BTreeMap<Route, u128> = BTreeMap::new();
    for c in &ctx.week {
        match c.meter {
            UsageMeter::UncompressedBytes => *plain.entry(route_of(c)).or_default() += c.units,
            UsageMeter::DataOutBytes => *sent.entry(route_of(c)).or_default() += c.units,
            _ => {}
        }
    }
    let ratio = ctx.options.compression_ratio;
    let mut out = Vec::new();
    for (route, bytes) in plain {
        let (region, api, stage, name) = &route;
        let gb = pricing_units(UsageMeter::DataOutBytes, bytes)? * ctx.week_monthly;
        let saved_gb = gb * (Decimal::ONE - Decimal::ONE / ratio);
        let saving = ctx
            .prices
            .saving(region, UsageMeter::DataOutBytes, saved_gb)?;
        out.push(advice(
            Kind::Compression,
            api,
            Some(stage),
            Some(name),
            saving,
            format!(
                "{} GB a month sent without compression in responses of at least 1 KB ({} of \
                 the route's data out, run rate of the last {} days); at an assumed {}:1 \
                 compression ratio, {} GB less data transfer out",
                two(gb),
                pct(
                    Decimal::from(bytes),
                    Decimal::from(sent.get(&route).copied().unwrap_or(0))
                ),
                RUN_RATE_DAYS,
                ratio.normalize(),
                two(saved_gb)
            ),
            format!(
                "Compress the responses of {name} (gzip or br when the client accepts it: in the \
                 backend, or with the API's minimum compression size on a REST API)"
            ),
        ));
    }
    Ok(out)
}

// === stage-cache ===

/// A stage cache costs its hours; each hit saves one backend call at the assumed backend
/// cost. A cache whose hits save less than it costs is advice to remove it.
fn stage_cache(ctx: &Ctx<'_>) -> Result<Vec<Recommendation>, RecommendError> {
    let mut hours: BTreeMap<Stage, BTreeMap<UsageMeter, u128>> = BTreeMap::new();
    let mut hits: BTreeMap<Stage, u128> = BTreeMap::new();
    for c in &ctx.week {
        if let UsageMeter::CacheMs { .. } = c.meter {
            *hours
                .entry(stage_of(c))
                .or_default()
                .entry(c.meter)
                .or_default() += c.units;
        } else if c.is_request() && c.reason == "cache_hit" {
            *hits.entry(stage_of(c)).or_default() += c.events;
        }
    }
    let mut out = Vec::new();
    for (stage, sizes) in hours {
        let (region, api, name) = &stage;
        let mut cost = Decimal::ZERO;
        let mut labels = Vec::new();
        for (meter, ms) in &sizes {
            let h = pricing_units(*meter, *ms)? * ctx.week_monthly;
            cost += ctx.prices.saving(region, *meter, h)?;
            labels.push(format!(
                "{} hours of {}",
                two(h),
                meter.name().trim_start_matches("cache_ms:").to_owned() + " GB"
            ));
        }
        let monthly_hits = Decimal::from(hits.get(&stage).copied().unwrap_or(0)) * ctx.week_monthly;
        let value = monthly_hits * ctx.options.backend_cost_per_million / Decimal::from(1_000_000);
        if cost <= value {
            continue;
        }
        out.push(advice(
            Kind::StageCache,
            api,
            Some(name),
            None,
            cost - value,
            format!(
                "the stage cache costs {} a month ({}); it served {} hits a month (run rate of \
                 the last {} days), which at an assumed backend cost of ${} per million calls \
                 saved {}",
                usd(cost),
                labels.join(", "),
                count(monthly_hits),
                RUN_RATE_DAYS,
                ctx.options.backend_cost_per_million.normalize(),
                usd(value)
            ),
            format!(
                "Turn off the stage cache of {api}/{name} (or choose a smaller size): its hits \
                 save less than its hourly cost"
            ),
        ));
    }
    Ok(out)
}

// === public-exposure ===

/// Anonymous clients (no API key) most of whose requests are answered 4xx or rejected are
/// exposure (bots, scanners): an authorizer, an API key or a WAF rule turns them away before
/// billing, saving their billable requests and the bytes sent to them.
fn public_exposure(ctx: &Ctx<'_>) -> Result<Vec<Recommendation>, RecommendError> {
    #[derive(Default)]
    struct Client {
        requests: u128,
        bad: u128,
        keyed: bool,
    }
    let mut clients: BTreeMap<(Stage, String), Client> = BTreeMap::new();
    for c in ctx.week.iter().filter(|c| c.is_request()) {
        let e = clients.entry((stage_of(c), c.client.clone())).or_default();
        e.requests += c.events;
        if c.status == "4xx" || REJECTED.contains(&c.reason.as_str()) {
            e.bad += c.events;
        }
        e.keyed |= !c.key.is_empty();
    }
    let suspects: BTreeSet<(Stage, String)> = clients
        .into_iter()
        .filter(|(_, c)| {
            !c.keyed && c.requests > 0 && c.bad as f64 / c.requests as f64 >= EXPOSURE_MIN_BAD_SHARE
        })
        .map(|(k, _)| k)
        .collect();
    if suspects.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(Default)]
    struct Sums {
        requests: u128,
        bad: u128,
        billable: BTreeMap<UsageMeter, u128>,
        rejected: BTreeMap<UsageMeter, u128>,
        clients: BTreeSet<String>,
    }
    let mut by_route: BTreeMap<Route, Sums> = BTreeMap::new();
    for c in &ctx.week {
        if !suspects.contains(&(stage_of(c), c.client.clone())) || !c.meter.is_priced() {
            continue;
        }
        let s = by_route.entry(route_of(c)).or_default();
        if c.is_request() {
            s.requests += c.events;
            if c.status == "4xx" || REJECTED.contains(&c.reason.as_str()) {
                s.bad += c.events;
            }
            s.clients.insert(c.client.clone());
        }
        let m = if c.billable {
            &mut s.billable
        } else {
            &mut s.rejected
        };
        *m.entry(c.meter).or_default() += c.units;
    }
    let mut out = Vec::new();
    for (route, s) in by_route {
        let (region, api, stage, name) = &route;
        if s.requests == 0 {
            continue;
        }
        let mut saving = Decimal::ZERO;
        let mut billable_requests = Decimal::ZERO;
        let mut gb = Decimal::ZERO;
        for (meter, units) in &s.billable {
            let q = pricing_units(*meter, *units)? * ctx.week_monthly;
            saving += ctx.prices.saving(region, *meter, q)?;
            match meter {
                UsageMeter::DataOutBytes => gb += q,
                _ => billable_requests += q,
            }
        }
        let mut would = Decimal::ZERO;
        let mut rejected_requests = Decimal::ZERO;
        for (meter, units) in &s.rejected {
            let q = pricing_units(*meter, *units)? * ctx.week_monthly;
            would += ctx.prices.added(region, *meter, q)?;
            if *meter != UsageMeter::DataOutBytes {
                rejected_requests += q;
            }
        }
        let clients: Vec<String> = s.clients.iter().cloned().collect();
        out.push(advice(
            Kind::PublicExposure,
            api,
            Some(stage),
            Some(name),
            saving,
            format!(
                "{} requests a month from {} anonymous client(s) ({}), {} of them answered 4xx \
                 or rejected (run rate of the last {} days); billable: {} requests and {} GB \
                 out, {} a month; turned away before billing: {} requests (they would cost {} \
                 if billed)",
                count(Decimal::from(s.requests) * ctx.week_monthly),
                clients.len(),
                listed(&clients, 5),
                pct(Decimal::from(s.bad), Decimal::from(s.requests)),
                RUN_RATE_DAYS,
                count(billable_requests),
                two(gb),
                usd(saving),
                count(rejected_requests),
                usd(would)
            ),
            format!(
                "Require an API key or an authorizer on {}, or block these clients with a WAF \
                 rule: requests rejected by authorization are not billed (the WAF's own charges \
                 are not included)",
                if name.is_empty() {
                    format!("{api}/{stage}")
                } else {
                    name.clone()
                }
            ),
        ));
    }
    Ok(out)
}

// === stray-traffic ===

/// A stage with a steady trickle (hourly requests varying less than
/// [`STRAY_MAX_VARIATION`]) that looks like a leftover (a non-production name, or at most
/// [`STRAY_MAX_CLIENTS`] clients on a stage that is not its API's busiest): its whole cost.
fn stray_traffic(
    ledger: &mut dyn Ledger,
    ctx: &Ctx<'_>,
) -> Result<Vec<Recommendation>, RecommendError> {
    #[derive(Default)]
    struct StageSums {
        requests: u128,
        clients: BTreeSet<String>,
        units: BTreeMap<UsageMeter, u128>,
    }
    let mut stages: BTreeMap<Stage, StageSums> = BTreeMap::new();
    for c in &ctx.week {
        let s = stages.entry(stage_of(c)).or_default();
        if c.is_request() && c.billable {
            s.requests += c.events;
            s.clients.insert(c.client.clone());
        }
        if c.billable && c.meter.is_priced() {
            *s.units.entry(c.meter).or_default() += c.units;
        }
    }
    let busiest: BTreeMap<(String, String), u128> =
        stages
            .iter()
            .fold(BTreeMap::new(), |mut m, ((r, a, _), s)| {
                let e = m.entry((r.clone(), a.clone())).or_default();
                *e = (*e).max(s.requests);
                m
            });
    let looks_stray = |(region, api, stage): &Stage, s: &StageSums| {
        let named = NON_PRODUCTION_WORDS.iter().any(|w| {
            stage.to_ascii_lowercase().contains(w) || api.to_ascii_lowercase().contains(w)
        });
        let few = s.clients.len() <= STRAY_MAX_CLIENTS
            && busiest
                .get(&(region.clone(), api.clone()))
                .is_some_and(|b| s.requests < *b);
        s.requests > 0 && (named || few)
    };
    let candidates: Vec<Stage> = stages
        .iter()
        .filter(|(k, s)| looks_stray(k, s))
        .map(|(k, _)| k.clone())
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let hours = hourly_requests(ledger, ctx.week_from, ctx.options.to)?;
    let mut api_cost: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    let mut stage_cost: BTreeMap<Stage, Decimal> = BTreeMap::new();
    for (k, s) in &stages {
        let mut cost = Decimal::ZERO;
        for (meter, units) in &s.units {
            let q = pricing_units(*meter, *units)? * ctx.week_monthly;
            cost += ctx.prices.saving(&k.0, *meter, q)?;
        }
        *api_cost.entry((k.0.clone(), k.1.clone())).or_default() += cost;
        stage_cost.insert(k.clone(), cost);
    }
    let mut out = Vec::new();
    for k in candidates {
        let series: Vec<f64> = hours
            .iter()
            .map(|h| h.get(&k).copied().unwrap_or(0) as f64)
            .collect();
        let n = series.len() as f64;
        if n < 24.0 {
            continue;
        }
        let active = series.iter().filter(|v| **v > 0.0).count() as f64 / n;
        let mean = series.iter().sum::<f64>() / n;
        let var = series.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let cv = if mean > 0.0 {
            var.sqrt() / mean
        } else {
            f64::INFINITY
        };
        if active < 0.9 || cv > STRAY_MAX_VARIATION {
            continue;
        }
        let (region, api, stage) = &k;
        let Some(s) = stages.get(&k) else { continue };
        let cost = stage_cost.get(&k).copied().unwrap_or_default();
        let of_api = api_cost
            .get(&(region.clone(), api.clone()))
            .copied()
            .unwrap_or_default();
        let clients: Vec<String> = s.clients.iter().cloned().collect();
        out.push(advice(
            Kind::StrayTraffic,
            api,
            Some(stage),
            None,
            cost,
            format!(
                "{} requests a month, steady day and night (hourly volume varies {:.0}% around \
                 its mean, {} of hours active) from {} client(s) ({}), run rate of the last {} \
                 days; {} a month, {} of {api}'s cost",
                count(Decimal::from(s.requests) * ctx.week_monthly),
                cv * 100.0,
                pct(
                    Decimal::from_f64_retain(active).unwrap_or_default(),
                    Decimal::ONE
                ),
                clients.len(),
                listed(&clients, 3),
                RUN_RATE_DAYS,
                usd(cost),
                pct(cost, of_api)
            ),
            format!(
                "Delete stage {stage} of {api} or block its callers if it serves no one: the \
                 saving is its whole cost"
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(Decimal::from(1_234_567)), "1,234,567");
        assert_eq!(count(Decimal::new(9995, 1)), "1,000");
        assert_eq!(count(Decimal::ZERO), "0");
        assert_eq!(count(Decimal::from(-1234)), "-1,234");
        assert_eq!(pct(Decimal::from(1), Decimal::from(3)), "33%");
        assert_eq!(
            listed(&["a".into(), "b".into(), "c".into()], 2),
            "a, b and 1 more"
        );
    }
}
