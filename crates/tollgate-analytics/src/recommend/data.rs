//! The ledger as the recommendations read it: cells with every dimension, and prices for
//! monthly quantities at the account's run-rate totals.

use std::collections::BTreeMap;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use tollgate_meter::Ledger;
use tollgate_pricing::{pricing_meter, to_pricing_units, Catalog, FreeTier, Meter};
use tollgate_store::{BillDimension, BillLedger, BillQuery};
use tollgate_types::usage::{Dimension, UsageMeter, UsageQuery};

use super::RecommendError;

/// The dimensions every cell carries, in this order.
const DIMS: [Dimension; 8] = [
    Dimension::Region,
    Dimension::Api,
    Dimension::Stage,
    Dimension::Route,
    Dimension::Key,
    Dimension::Client,
    Dimension::Status,
    Dimension::Reason,
];

/// One ledger cell over a window (months merged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cell {
    pub region: String,
    pub api: String,
    pub stage: String,
    pub route: String,
    pub key: String,
    pub client: String,
    /// `2xx`, `4xx`, … or `-`.
    pub status: String,
    /// The reason's name (`integration`, `auth_failed`, …).
    pub reason: String,
    pub meter: UsageMeter,
    pub billable: bool,
    pub units: u128,
    pub events: u128,
}

impl Cell {
    /// Whether the meter counts requests (HTTP or REST).
    pub fn is_request(&self) -> bool {
        matches!(
            self.meter,
            UsageMeter::HttpRequests | UsageMeter::RestRequests
        )
    }
}

/// Every cell of `[from, to)`.
pub(crate) fn cells(
    ledger: &mut dyn Ledger,
    from: i64,
    to: i64,
) -> Result<Vec<Cell>, RecommendError> {
    if to <= from {
        return Ok(Vec::new());
    }
    let rows = ledger.query(&UsageQuery {
        from,
        to,
        group_by: DIMS.to_vec(),
    })?;
    type Key = (Vec<String>, UsageMeter, bool);
    let mut merged: BTreeMap<Key, (u128, u128)> = BTreeMap::new();
    for r in rows {
        let e = merged.entry((r.group, r.meter, r.billable)).or_default();
        e.0 += u128::from(r.counts.units);
        e.1 += u128::from(r.counts.events);
    }
    let mut out = Vec::with_capacity(merged.len());
    for ((g, meter, billable), (units, events)) in merged {
        let [region, api, stage, route, key, client, status, reason]: [String; 8] =
            g.try_into().map_err(|g: Vec<String>| {
                RecommendError::BadParameter(format!(
                    "the ledger answered {} dimensions for 8",
                    g.len()
                ))
            })?;
        out.push(Cell {
            region,
            api,
            stage,
            route,
            key,
            client,
            status,
            reason,
            meter,
            billable,
            units,
            events,
        });
    }
    Ok(out)
}

/// The usage lines of imported AWS bills starting in `[from, to)` as cells: one per region,
/// API, stage and meter, billable, the bill's usage converted to the ledger's base units
/// (requests, 32 KB messages, connection and cache milliseconds, bytes), so that the rules a
/// bill can support, and their prices, are the metered ones. Credits, refunds, tax and lines
/// of charges tollgate does not meter are left out (they are not usage).
pub(crate) fn bill_cells(
    bill: &mut dyn BillLedger,
    from: i64,
    to: i64,
) -> Result<Vec<Cell>, RecommendError> {
    if to <= from {
        return Ok(Vec::new());
    }
    let rows = bill.query_bill(&BillQuery {
        from,
        to,
        group_by: vec![
            BillDimension::Region,
            BillDimension::Api,
            BillDimension::Stage,
        ],
    })?;
    let mut merged: BTreeMap<(Vec<String>, UsageMeter), Decimal> = BTreeMap::new();
    for r in rows {
        let usage_kind = matches!(
            r.line_item_type.as_str(),
            "Usage" | "DiscountedUsage" | "SavingsPlanCoveredUsage"
        );
        let Some(meter) = r.meter.filter(|_| usage_kind) else {
            continue;
        };
        let (m, per_unit) = match meter {
            Meter::HttpRequests => (UsageMeter::HttpRequests, 1),
            Meter::RestRequests => (UsageMeter::RestRequests, 1),
            Meter::WebsocketMessages => (UsageMeter::WebsocketMessages, 1),
            Meter::WebsocketConnectionMinutes => (UsageMeter::WebsocketConnectionMs, 60_000),
            Meter::CacheHours => {
                let Some(gb) = r.cache_size_gb else { continue };
                let centi_gb = (gb * Decimal::ONE_HUNDRED).to_u32().unwrap_or(0);
                (UsageMeter::CacheMs { centi_gb }, 3_600_000)
            }
            Meter::DataTransferOutGb => (UsageMeter::DataOutBytes, 1 << 30),
        };
        *merged.entry((r.group, m)).or_default() += r.usage * Decimal::from(per_unit);
    }
    let mut out = Vec::with_capacity(merged.len());
    for ((g, meter), base) in merged {
        let [region, api, stage]: [String; 3] = g.try_into().map_err(|g: Vec<String>| {
            RecommendError::BadParameter(format!("the bill answered {} dimensions for 3", g.len()))
        })?;
        let units = base.round().max(Decimal::ZERO).to_u128().unwrap_or(0);
        out.push(Cell {
            region,
            api,
            stage,
            route: String::new(),
            key: String::new(),
            client: String::new(),
            status: "-".into(),
            reason: "integration".into(),
            meter,
            billable: true,
            units,
            events: units,
        });
    }
    Ok(out)
}

/// Requests per (region, API, stage).
pub(crate) type StageCounts = BTreeMap<(String, String, String), u128>;

/// Billable request (HTTP or REST) events per `[region, api, stage]` of each hour of
/// `[from, to)`, oldest first.
pub(crate) fn hourly_requests(
    ledger: &mut dyn Ledger,
    from: i64,
    to: i64,
) -> Result<Vec<StageCounts>, RecommendError> {
    let mut out = Vec::new();
    let mut h = from;
    while h < to {
        let rows = ledger.query(&UsageQuery {
            from: h,
            to: (h + 3_600).min(to),
            group_by: vec![Dimension::Region, Dimension::Api, Dimension::Stage],
        })?;
        let mut m: BTreeMap<(String, String, String), u128> = BTreeMap::new();
        for r in rows {
            if r.billable
                && matches!(r.meter, UsageMeter::HttpRequests | UsageMeter::RestRequests)
                && r.group.len() == 3
            {
                let k = (r.group[0].clone(), r.group[1].clone(), r.group[2].clone());
                *m.entry(k).or_default() += u128::from(r.counts.events);
            }
        }
        out.push(m);
        h += 3_600;
    }
    Ok(out)
}

/// Prices monthly quantities as the last units of the account's monthly run-rate totals:
/// exactly what the month's bill would drop by without them (tiers and free tier applied).
pub(crate) struct Prices<'a> {
    catalog: &'a Catalog,
    free_tier: FreeTier,
    /// Monthly billable pricing units per (region, ledger meter).
    totals: BTreeMap<(String, UsageMeter), Decimal>,
}

impl<'a> Prices<'a> {
    /// Totals from `cells` (a window of `days` days) scaled to a month.
    pub fn new(
        catalog: &'a Catalog,
        free_tier: FreeTier,
        cells: &[Cell],
        monthly: Decimal,
    ) -> Result<Self, RecommendError> {
        let mut base: BTreeMap<(String, UsageMeter), u128> = BTreeMap::new();
        for c in cells.iter().filter(|c| c.billable && c.meter.is_priced()) {
            *base.entry((c.region.clone(), c.meter)).or_default() += c.units;
        }
        let mut totals = BTreeMap::new();
        for ((region, meter), units) in base {
            totals.insert((region, meter), to_pricing_units(meter, units)? * monthly);
        }
        Ok(Prices {
            catalog,
            free_tier,
            totals,
        })
    }

    /// What `units` pricing units a month of `meter` cost as the last of the month's total.
    pub fn saving(
        &self,
        region: &str,
        meter: UsageMeter,
        units: Decimal,
    ) -> Result<Decimal, RecommendError> {
        if units <= Decimal::ZERO {
            return Ok(Decimal::ZERO);
        }
        let (m, size) = pricing_meter(meter)?;
        let total = self
            .totals
            .get(&(region.to_owned(), meter))
            .copied()
            .unwrap_or_default();
        let so_far = (total - units).max(Decimal::ZERO);
        Ok(self
            .catalog
            .region(region)?
            .cost_of(m, size, so_far, units, self.free_tier)?)
    }

    /// What `units` more pricing units a month of `meter` would cost on top of its total.
    pub fn added(
        &self,
        region: &str,
        meter: UsageMeter,
        units: Decimal,
    ) -> Result<Decimal, RecommendError> {
        if units <= Decimal::ZERO {
            return Ok(Decimal::ZERO);
        }
        let (m, size) = pricing_meter(meter)?;
        let total = self
            .totals
            .get(&(region.to_owned(), meter))
            .copied()
            .unwrap_or_default();
        Ok(self
            .catalog
            .region(region)?
            .cost_of(m, size, total, units, self.free_tier)?)
    }
}

/// Base units of a (priced) meter in its pricing unit (requests, minutes, GB, hours).
pub(crate) fn pricing_units(meter: UsageMeter, base: u128) -> Result<Decimal, RecommendError> {
    Ok(to_pricing_units(meter, base)?)
}
