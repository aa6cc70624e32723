//! Where the analyses' dollars come from. The forecast and the anomaly detector read costs
//! through [`CostSource`], so the same code runs over the two kinds of data a store holds:
//!
//! - [`MeteredCosts`]: usage the gateway metered (or `tollgate aws access-logs` metered from
//!   AWS's access logs), priced by the catalog exactly as `tollgate cost report` prices it;
//! - [`BillCosts`]: the API Gateway lines of imported AWS bills (`tollgate aws import`), at
//!   the bill's own unblended cost: credits, refunds and tax included, as `tollgate cost bill`
//!   totals them.
//!
//! Dimensions are named as on the command line (`api`, `stage`, `route`, `tag:team`, and for
//! bills `account`, `region`, `usage_type`, `line_item_type`); `meter` groups by meter in both.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use tollgate_meter::Ledger;
use tollgate_pricing::report::{build_report, Period, ReportInput};
use tollgate_pricing::{Catalog, FreeTier};
use tollgate_store::{BillDimension, BillLedger, BillQuery};
use tollgate_types::usage::{Dimension, UsageQuery, UsageRow};

use crate::forecast::ForecastError;

/// The cost of a span in total and per group (values of the requested dimensions, in order).
pub type Costs = (Decimal, BTreeMap<Vec<String>, Decimal>);

/// A store's costs, by period and dimension.
pub trait CostSource {
    /// `metered` or `bill`: what the figures are, for outputs.
    fn kind(&self) -> &'static str;

    /// The cost of `[from, to)` in total and per group of the named dimensions (see the
    /// module's documentation); an unknown name is a [`ForecastError::BadParameter`].
    fn cost(&mut self, from: i64, to: i64, by: &[String]) -> Result<Costs, ForecastError>;

    /// The dimensions an anomaly's cause is looked for in (besides `meter`), in order of
    /// preference.
    fn cause_dimensions(&mut self) -> Vec<String>;

    /// Whether the costs of `[from, to)` are known hour by hour (a bill exported daily is
    /// not: its hourly series would put a day's cost in its first hour).
    fn hourly(&mut self, _from: i64, _to: i64) -> Result<bool, ForecastError> {
        Ok(true)
    }
}

/// The name of the pseudo-dimension that groups by meter.
pub const METER: &str = "meter";

/// Metered usage priced by the catalog: each span at its month's effective blended rate (the
/// tiers on the month's usage up to `now`), split at month boundaries; `meter` groups by the
/// priced meter (`rest_requests`, `websocket_messages`, …).
pub struct MeteredCosts<'a> {
    ledger: &'a mut dyn Ledger,
    catalog: &'a Catalog,
    free_tier: FreeTier,
    now: i64,
    /// Month (`YYYY-MM`) → its usage up to `now`, ungrouped: what its tiers apply to.
    totals: BTreeMap<String, Vec<UsageRow>>,
}

impl<'a> MeteredCosts<'a> {
    /// Costs of `ledger` priced with `catalog`; a month's tiers count its usage up to `now`.
    pub fn new(
        ledger: &'a mut dyn Ledger,
        catalog: &'a Catalog,
        free_tier: FreeTier,
        now: i64,
    ) -> Self {
        MeteredCosts {
            ledger,
            catalog,
            free_tier,
            now,
            totals: BTreeMap::new(),
        }
    }

    fn month_totals(&mut self, month: &str) -> Result<&[UsageRow], ForecastError> {
        if !self.totals.contains_key(month) {
            let m = Period::month(month)?;
            let rows = self.ledger.query(&UsageQuery {
                from: m.start(),
                to: self.now.min(m.end()),
                group_by: Vec::new(),
            })?;
            self.totals.insert(month.to_owned(), rows);
        }
        Ok(self.totals.get(month).map_or(&[][..], Vec::as_slice))
    }
}

impl CostSource for MeteredCosts<'_> {
    fn kind(&self) -> &'static str {
        "metered"
    }

    fn cost(&mut self, from: i64, to: i64, by: &[String]) -> Result<Costs, ForecastError> {
        let meter_at = by.iter().position(|n| n == METER);
        let dims: Vec<Dimension> = by
            .iter()
            .filter(|n| *n != METER)
            .map(|n| {
                n.parse::<Dimension>()
                    .map_err(|e| ForecastError::BadParameter(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let mut total = Decimal::ZERO;
        let mut groups: BTreeMap<Vec<String>, Decimal> = BTreeMap::new();
        let mut t = from;
        while t < to {
            let month = month_of(t)?;
            let end = Period::month(&month)?.end().min(to);
            let rows = self.ledger.query(&UsageQuery {
                from: t,
                to: end,
                group_by: dims.clone(),
            })?;
            let (catalog, free_tier) = (self.catalog, self.free_tier);
            let month_totals = self.month_totals(&month)?;
            let report = build_report(&ReportInput {
                catalog,
                free_tier,
                period: Period::new(t, end)?,
                group_by: &dims,
                rows: &rows,
                month_totals,
            })?;
            total += report.total();
            for r in report.rows() {
                let mut key = r.group.clone();
                if let Some(i) = meter_at {
                    key.insert(i, r.meter.as_str().to_owned());
                }
                *groups.entry(key).or_default() += r.cost;
            }
            t = end;
        }
        Ok((total, groups))
    }

    fn cause_dimensions(&mut self) -> Vec<String> {
        ["route", "key", "client", "status", "stage"]
            .map(String::from)
            .to_vec()
    }
}

/// Imported AWS bill lines at their own unblended cost (credits, refunds and tax included),
/// a line counted in the span its usage starts in.
pub struct BillCosts<'a> {
    ledger: &'a mut dyn BillLedger,
    /// The imported lines' tags and cost categories as dimensions (`tag:team`,
    /// `cost_category:CostCenter`), read once.
    allocation_dims: Option<Vec<String>>,
}

impl<'a> BillCosts<'a> {
    pub fn new(ledger: &'a mut dyn BillLedger) -> Self {
        BillCosts {
            ledger,
            allocation_dims: None,
        }
    }
}

impl CostSource for BillCosts<'_> {
    fn kind(&self) -> &'static str {
        "bill"
    }

    fn cost(&mut self, from: i64, to: i64, by: &[String]) -> Result<Costs, ForecastError> {
        let dims: Vec<BillDimension> = by
            .iter()
            .map(|n| {
                n.parse::<BillDimension>()
                    .map_err(ForecastError::BadParameter)
            })
            .collect::<Result<_, _>>()?;
        let rows = self.ledger.query_bill(&BillQuery {
            from,
            to,
            group_by: dims,
        })?;
        let mut currency: Option<&str> = None;
        let mut total = Decimal::ZERO;
        let mut groups: BTreeMap<Vec<String>, Decimal> = BTreeMap::new();
        for r in &rows {
            match currency {
                Some(c) if c != r.currency => {
                    return Err(ForecastError::BadParameter(format!(
                        "the imported bill has costs in {c} and {}: analyse one currency's \
                         store at a time",
                        r.currency
                    )))
                }
                _ => currency = Some(&r.currency),
            }
            total += r.unblended_cost;
            *groups.entry(r.group.clone()).or_default() += r.unblended_cost;
        }
        Ok((total, groups))
    }

    fn cause_dimensions(&mut self) -> Vec<String> {
        let mut dims: Vec<String> = ["account", "region", "stage", "usage_type", "line_item_type"]
            .map(String::from)
            .to_vec();
        // Cost-allocation tags and cost categories too (a team's spend); without them if they
        // cannot be listed.
        if self.allocation_dims.is_none() {
            let tags = self.ledger.bill_tag_names(i64::MIN, i64::MAX).ok();
            let categories = self.ledger.bill_category_names(i64::MIN, i64::MAX).ok();
            self.allocation_dims = Some(
                tags.into_iter()
                    .flatten()
                    .map(|t| format!("tag:{t}"))
                    .chain(
                        categories
                            .into_iter()
                            .flatten()
                            .map(|c| format!("cost_category:{c}")),
                    )
                    .collect(),
            );
        }
        dims.extend(self.allocation_dims.iter().flatten().cloned());
        dims
    }

    fn hourly(&mut self, from: i64, to: i64) -> Result<bool, ForecastError> {
        Ok(self
            .ledger
            .bill_min_span(from, to)?
            .is_some_and(|span| span <= 3_600))
    }
}

pub(crate) fn month_of(t: i64) -> Result<String, ForecastError> {
    Ok(Period::new(t, t + 1)?.months().remove(0))
}
