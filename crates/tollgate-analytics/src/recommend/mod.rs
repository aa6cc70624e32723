//! Savings advice (`tollgate cost recommend`, docs/recommendations.md): what to change, and
//! how many dollars a month it saves, computed from the ledger with the pricing crate.
//!
//! Two windows are read: the whole period (default: the 30 days before today's 00:00 UTC)
//! for one-off incidents (client retries: their cost over the period, scaled to 30 days),
//! and its last [`RUN_RATE_DAYS`] days for lasting states (everything else: the run rate of
//! the last week × 30/7, so a problem that grows is valued at what it costs now). A saving
//! is priced as the *last* units of the account's monthly run-rate total of each meter
//! (`RegionPrices::cost_of(total - q, q)`, tiers and free tier applied): exactly what the
//! month's bill would drop by.
//!
//! Each [`Recommendation`] has a kind ([`Kind`]), a target (`api`, `api/stage` or
//! `api/stage route`), the monthly saving, the evidence (the numbers it comes from) and the
//! action. Recommendations under [`RecommendOptions::min_saving`] are left out; the rest are
//! sorted by saving, largest first.

mod data;
mod rules;

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use tollgate_meter::{Ledger, LedgerError};
use tollgate_pricing::{Catalog, FreeTier, PricingError};
use tollgate_store::BillLedger;

use crate::forecast::display_money;

/// Days in the month savings are quoted for.
pub const MONTH_DAYS: i64 = 30;
/// Days of the run rate used for lasting problems (the end of the period).
pub const RUN_RATE_DAYS: i64 = 7;
/// Default period: the days before today's 00:00 UTC.
pub const DEFAULT_PERIOD_DAYS: i64 = 30;
/// Default smallest monthly saving reported, in dollars (`1.00`).
pub const DEFAULT_MIN_SAVING: Decimal = Decimal::from_parts(100, 0, 0, false, 2);
/// Default compression ratio assumed for uncompressed responses (4:1, a cautious figure for
/// JSON with gzip).
pub const DEFAULT_COMPRESSION_RATIO: Decimal = Decimal::from_parts(4, 0, 0, false, 0);
/// Default cost of one backend call avoided by a cache hit, in dollars per million (`0.40`:
/// a Lambda request plus 100 ms at 128 MB, rounded up).
pub const DEFAULT_BACKEND_COST_PER_MILLION: Decimal = Decimal::from_parts(40, 0, 0, false, 2);
/// Small messages (≤ 1 KB) assumed to fit in one batched message.
pub const BATCH_SIZE: u32 = 10;
/// Smallest share of small messages for batching advice.
pub const BATCHING_MIN_SMALL_SHARE: f64 = 0.8;
/// Smallest client-to-share: messages per connection-minute for batching advice (a batch of
/// [`BATCH_SIZE`] must fill within a minute).
pub const BATCHING_MIN_RATE_PER_MINUTE: f64 = BATCH_SIZE as f64;
/// Share of a client's requests answered 4xx or rejected above which anonymous traffic is
/// treated as exposure (bots, scanners), not as a user's mistakes.
pub const EXPOSURE_MIN_BAD_SHARE: f64 = 0.5;
/// Largest coefficient of variation of hourly requests for a "steady" trickle.
pub const STRAY_MAX_VARIATION: f64 = 0.25;
/// Most distinct clients of a stage whose traffic looks like a leftover.
pub const STRAY_MAX_CLIENTS: usize = 2;
/// Words in a stage or API name that mark it as non-production.
pub const NON_PRODUCTION_WORDS: [&str; 7] =
    ["test", "dev", "staging", "qa", "sandbox", "demo", "tmp"];

/// Why no recommendations could be made.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    #[error("{0}")]
    BadParameter(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

/// What to look at and the assumptions to make.
#[derive(Debug, Clone)]
pub struct RecommendOptions<'a> {
    pub catalog: &'a Catalog,
    pub free_tier: FreeTier,
    /// `[from, to)`, Unix seconds.
    pub from: i64,
    pub to: i64,
    /// Smallest monthly saving reported (dollars).
    pub min_saving: Decimal,
    /// Compressed size = uncompressed / ratio (more than 1).
    pub compression_ratio: Decimal,
    /// Dollars per million backend calls a cache hit avoids.
    pub backend_cost_per_million: Decimal,
}

impl<'a> RecommendOptions<'a> {
    /// The defaults for `[from, to)`.
    pub fn new(catalog: &'a Catalog, from: i64, to: i64) -> Self {
        RecommendOptions {
            catalog,
            free_tier: FreeTier::Off,
            from,
            to,
            min_saving: DEFAULT_MIN_SAVING,
            compression_ratio: DEFAULT_COMPRESSION_RATIO,
            backend_cost_per_million: DEFAULT_BACKEND_COST_PER_MILLION,
        }
    }
}

/// The kinds of advice, named in kebab case in every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    RestToHttp,
    WebsocketIdleTimeout,
    WebsocketBatching,
    WebsocketMessageSize,
    ClientRetries,
    Compression,
    StageCache,
    PublicExposure,
    StrayTraffic,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::RestToHttp,
        Kind::WebsocketIdleTimeout,
        Kind::WebsocketBatching,
        Kind::WebsocketMessageSize,
        Kind::ClientRetries,
        Kind::Compression,
        Kind::StageCache,
        Kind::PublicExposure,
        Kind::StrayTraffic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::RestToHttp => "rest-to-http",
            Kind::WebsocketIdleTimeout => "websocket-idle-timeout",
            Kind::WebsocketBatching => "websocket-batching",
            Kind::WebsocketMessageSize => "websocket-message-size",
            Kind::ClientRetries => "client-retries",
            Kind::Compression => "compression",
            Kind::StageCache => "stage-cache",
            Kind::PublicExposure => "public-exposure",
            Kind::StrayTraffic => "stray-traffic",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One piece of advice.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    pub kind: Kind,
    /// `api`, `api/stage` or `api/stage route` ([`target_name`]).
    pub target: String,
    /// The target's ledger values: `api`, and `stage`, `route` when the target has them.
    pub dimensions: BTreeMap<String, String>,
    /// USD a month, exact (rounded only to display).
    pub monthly_saving: Decimal,
    /// The numbers the saving comes from, for people.
    pub evidence: String,
    /// The change to make.
    pub action: String,
}

/// The advice for a period, largest saving first.
#[derive(Debug, Clone, Default)]
pub struct Recommendations {
    pub recommendations: Vec<Recommendation>,
    /// What they were computed from: `metered` (the ledger's usage) or `bill` (imported AWS
    /// bill lines).
    pub data: &'static str,
}

/// The target of a recommendation: `api`, `api/stage` or `api/stage route`.
pub fn target_name(api: &str, stage: Option<&str>, route: Option<&str>) -> String {
    match (stage, route.filter(|r| !r.is_empty())) {
        (None, _) => api.to_owned(),
        (Some(s), None) => format!("{api}/{s}"),
        (Some(s), Some(r)) => format!("{api}/{s} {r}"),
    }
}

/// Find what to change in `[options.from, options.to)` of the metered usage.
pub fn recommend(
    ledger: &mut dyn Ledger,
    options: &RecommendOptions<'_>,
) -> Result<Recommendations, RecommendError> {
    validate(options)?;
    let list = rules::all(ledger, options)?;
    Ok(finish(list, options, "metered"))
}

/// Find what to change in `[options.from, options.to)` of imported AWS bills: what a bill can
/// support (see `rules::all_bill`), priced as for metered usage.
pub fn recommend_bill(
    bill: &mut dyn BillLedger,
    options: &RecommendOptions<'_>,
) -> Result<Recommendations, RecommendError> {
    validate(options)?;
    let list = rules::all_bill(bill, options)?;
    Ok(finish(list, options, "bill"))
}

fn validate(options: &RecommendOptions<'_>) -> Result<(), RecommendError> {
    if options.to <= options.from {
        return Err(RecommendError::BadParameter(
            "the period is empty: --from must be before --to".to_owned(),
        ));
    }
    if options.min_saving.is_sign_negative() {
        return Err(RecommendError::BadParameter(format!(
            "--min-saving {}: expected zero or more",
            options.min_saving
        )));
    }
    if options.compression_ratio <= Decimal::ONE {
        return Err(RecommendError::BadParameter(format!(
            "--compression-ratio {}: expected more than 1",
            options.compression_ratio
        )));
    }
    if options.backend_cost_per_million.is_sign_negative() {
        return Err(RecommendError::BadParameter(format!(
            "--backend-cost-per-million {}: expected zero or more",
            options.backend_cost_per_million
        )));
    }
    Ok(())
}

/// Kept above the minimum saving, largest first.
fn finish(
    mut list: Vec<Recommendation>,
    options: &RecommendOptions<'_>,
    data: &'static str,
) -> Recommendations {
    list.retain(|r| r.monthly_saving >= options.min_saving && r.monthly_saving > Decimal::ZERO);
    list.sort_by(|a, b| {
        b.monthly_saving
            .cmp(&a.monthly_saving)
            .then(a.kind.cmp(&b.kind))
            .then(a.target.cmp(&b.target))
    });
    Recommendations {
        recommendations: list,
        data,
    }
}

impl Recommendations {
    /// The total of the monthly savings.
    pub fn total(&self) -> Decimal {
        self.recommendations.iter().map(|r| r.monthly_saving).sum()
    }

    /// `{"recommendations":[{"kind","target","monthly_saving","evidence","action",
    /// "dimensions":{...}}]}`, money as decimal strings (cents), largest saving first.
    pub fn to_json(&self) -> String {
        use serde_json::json;
        let list: Vec<serde_json::Value> = self
            .recommendations
            .iter()
            .map(|r| {
                json!({
                    "kind": r.kind.name(),
                    "target": r.target,
                    "monthly_saving": display_money(r.monthly_saving),
                    "evidence": r.evidence,
                    "action": r.action,
                    "dimensions": r.dimensions,
                })
            })
            .collect();
        let mut s =
            serde_json::to_string_pretty(&json!({ "data": self.data, "recommendations": list }))
                .unwrap_or_default();
        s.push('\n');
        s
    }

    /// `kind,target,monthly_saving,evidence,action`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("kind,target,monthly_saving,evidence,action\n");
        for r in &self.recommendations {
            out.push_str(&format!(
                "{},{},{},{},{}\n",
                r.kind.name(),
                crate::csv_field(&r.target),
                display_money(r.monthly_saving),
                crate::csv_field(&r.evidence),
                crate::csv_field(&r.action)
            ));
        }
        out
    }

    /// Aligned columns for people, the evidence under each line, and the total.
    pub fn to_table(&self) -> String {
        if self.recommendations.is_empty() {
            return "No recommendations.\n".to_owned();
        }
        let mut rows = vec![[
            "monthly_saving".to_owned(),
            "kind".to_owned(),
            "target".to_owned(),
            "action".to_owned(),
        ]];
        for r in &self.recommendations {
            rows.push([
                display_money(r.monthly_saving),
                r.kind.name().to_owned(),
                r.target.clone(),
                r.action.clone(),
            ]);
        }
        let w: Vec<usize> = (0..3)
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (n, r) in rows.iter().enumerate() {
            out.push_str(
                format!(
                    "{:>w0$}  {:<w1$}  {:<w2$}  {}",
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    w0 = w[0],
                    w1 = w[1],
                    w2 = w[2]
                )
                .trim_end(),
            );
            out.push('\n');
            if n > 0 {
                let indent = " ".repeat(w[0] + 2);
                out.push_str(&format!(
                    "{indent}evidence: {}\n",
                    self.recommendations[n - 1].evidence
                ));
            }
        }
        out.push_str(&format!(
            "{:>w0$}  total ({} recommendation(s))\n",
            display_money(self.total()),
            self.recommendations.len(),
            w0 = w[0]
        ));
        out
    }
}

#[cfg(test)]
mod tests;
