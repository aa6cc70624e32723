//! `tollgate aws reconcile`: the imported bill's API Gateway usage against the metered usage
//! of the same store (gateway-metered or imported from access logs), per API and meter, with
//! the unexplained difference and its likely reasons (docs/aws-import.md).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use tollgate_pricing::{pricing_meter, to_pricing_units, Meter};
use tollgate_store::{BillDimension, BillQuery};
use tollgate_types::usage::{Dimension, UsageQuery};

use crate::report::ReportParams;

/// Bill line item types that carry usage (the others are money only: credits, refunds, tax).
const USAGE_TYPES: [&str; 3] = ["Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"];

/// Output format of `aws reconcile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReconcileFormat {
    Table,
    Json,
}

/// The bill against the meter, per API and meter.
#[derive(clap::Args, Debug)]
pub struct ReconcileArgs {
    /// The ledger holding both the imported bill (`aws import`) and metered usage (`serve`, or
    /// `aws access-logs`).
    #[arg(long, value_name = "URL", default_value = crate::serve::DEFAULT_STORE)]
    pub store: String,
    /// Start of the period, UTC: YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (default: the
    /// month to date).
    #[arg(long)]
    pub from: Option<String>,
    /// End of the period (exclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReconcileFormat,
}

/// One API and meter: what the bill says and what was metered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Line {
    pub api: String,
    pub meter: Option<Meter>,
    /// Usage on the bill's usage lines, in the meter's pricing unit.
    pub billed_usage: Decimal,
    /// The bill's cost of those usage lines.
    pub billed_cost: Decimal,
    /// Metered billable usage, in the meter's pricing unit.
    pub metered: Decimal,
    /// Metered usage tollgate classes as not billable (refused, throttled…).
    pub metered_not_billable: Decimal,
}

impl Line {
    /// Billed minus metered (billable).
    pub fn difference(&self) -> Decimal {
        self.billed_usage - self.metered
    }
}

/// Credits, refunds and other money-only lines of an API.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Adjustments {
    pub by_type: BTreeMap<String, Decimal>,
}

/// The comparison.
#[derive(Debug, Clone, Default)]
pub struct Reconciliation {
    pub from: i64,
    pub to: i64,
    pub lines: Vec<Line>,
    /// Per API: money-only bill lines by line item type.
    pub adjustments: BTreeMap<String, Adjustments>,
}

impl Line {
    /// The likely reasons for the difference, most specific first.
    pub fn reasons(&self, adjustments: Option<&Adjustments>) -> Vec<String> {
        let mut out = Vec::new();
        let diff = self.difference();
        if self.meter.is_none() {
            out.push("a charge tollgate does not meter (see the usage type on the bill)".into());
        } else if diff.is_zero() {
            out.push("matches".into());
        } else if self.metered.is_zero() && self.metered_not_billable.is_zero() {
            out.push(
                "nothing metered for this API: its stages are not logged, or their access logs \
                 were not imported"
                    .into(),
            );
        } else if self.billed_usage.is_zero() {
            out.push(
                "metered but not on the bill: another account or period, or the bill of this \
                 API was not imported"
                    .into(),
            );
        } else {
            if diff.is_sign_positive() {
                if self.metered_not_billable >= diff {
                    out.push(format!(
                        "the bill counts {diff} more; tollgate metered {} as not billable \
                         (refused, throttled, unmatched): AWS may bill some of them",
                        self.metered_not_billable.normalize()
                    ));
                } else {
                    out.push(format!(
                        "{diff} billed but not metered: a stage or time not logged, lines lost \
                         from the logs, or requests AWS counts in larger units"
                    ));
                }
            } else {
                out.push(format!(
                    "{} metered but not billed: logs from outside the bill's period or account, \
                     or requests AWS did not bill",
                    diff.abs()
                ));
            }
            let share = (diff.abs() / self.billed_usage.max(Decimal::ONE)) * Decimal::from(100);
            if share < Decimal::new(1, 1) {
                out.push("within 0.1 %: rounding of the bill's usage amounts".into());
            }
        }
        if self.meter.is_some() && !self.billed_usage.is_zero() && self.billed_cost.is_zero() {
            out.push("billed at $0: free tier".into());
        }
        if let Some(a) = adjustments {
            for (kind, amount) in &a.by_type {
                out.push(format!(
                    "{kind} of {} on this API's bill",
                    amount.normalize()
                ));
            }
        }
        out
    }
}

/// Compare the bill with the meter over `[from, to)`.
pub fn reconcile(
    url: &tollgate_store::StoreUrl,
    from: i64,
    to: i64,
) -> anyhow::Result<Reconciliation> {
    let mut bill = tollgate_store::open_bill(url, tollgate_store::OpenMode::MustExist)?;
    let rows = bill.query_bill(&BillQuery {
        from,
        to,
        group_by: vec![BillDimension::Api],
    })?;
    drop(bill);
    let mut lines: BTreeMap<(String, Option<Meter>), Line> = BTreeMap::new();
    let mut adjustments: BTreeMap<String, Adjustments> = BTreeMap::new();
    for r in rows {
        let api = r.group.first().cloned().unwrap_or_default();
        // Data transfer is billed per account and region, not per API: not reconciled here.
        if r.meter == Some(Meter::DataTransferOutGb) {
            continue;
        }
        if !USAGE_TYPES.contains(&r.line_item_type.as_str()) {
            *adjustments
                .entry(api)
                .or_default()
                .by_type
                .entry(r.line_item_type.clone())
                .or_default() += r.unblended_cost;
            continue;
        }
        let line = lines.entry((api.clone(), r.meter)).or_insert_with(|| Line {
            api,
            meter: r.meter,
            ..Line::default()
        });
        line.billed_usage += r.usage;
        line.billed_cost += r.unblended_cost;
    }

    let mut ledger = tollgate_store::open(url, tollgate_store::OpenMode::MustExist)?;
    let metered = ledger.query(&UsageQuery {
        from,
        to,
        group_by: vec![Dimension::Api],
    })?;
    for r in metered {
        if !r.meter.is_priced() {
            continue;
        }
        let (meter, _) = pricing_meter(r.meter)?;
        if meter == Meter::DataTransferOutGb {
            continue;
        }
        let units = to_pricing_units(r.meter, u128::from(r.counts.units))?;
        let api = r.group.first().cloned().unwrap_or_default();
        let line = lines
            .entry((api.clone(), Some(meter)))
            .or_insert_with(|| Line {
                api,
                meter: Some(meter),
                ..Line::default()
            });
        if r.billable {
            line.metered += units;
        } else {
            line.metered_not_billable += units;
        }
    }
    Ok(Reconciliation {
        from,
        to,
        lines: lines.into_values().collect(),
        adjustments,
    })
}

fn exact(d: Decimal) -> String {
    tollgate_pricing::display_exact(d)
}

fn meter_name(m: Option<Meter>) -> String {
    m.map_or_else(|| "(none)".to_owned(), |m| m.to_string())
}

impl Reconciliation {
    /// `{"period":{"from","to"},"lines":[{"api","meter","billed_usage","billed_cost",
    /// "metered","metered_not_billable","difference","reasons":[…]}],"adjustments":{api:{type:
    /// amount}}}`, decimals as exact strings.
    pub fn to_json(&self) -> String {
        let lines: Vec<serde_json::Value> = self
            .lines
            .iter()
            .map(|l| {
                serde_json::json!({
                    "api": l.api,
                    "meter": meter_name(l.meter),
                    "billed_usage": exact(l.billed_usage),
                    "billed_cost": exact(l.billed_cost),
                    "metered": exact(l.metered),
                    "metered_not_billable": exact(l.metered_not_billable),
                    "difference": exact(l.difference()),
                    "reasons": l.reasons(self.adjustments.get(&l.api)),
                })
            })
            .collect();
        let adjustments: serde_json::Map<String, serde_json::Value> = self
            .adjustments
            .iter()
            .map(|(api, a)| {
                let m: serde_json::Map<String, serde_json::Value> = a
                    .by_type
                    .iter()
                    .map(|(k, v)| (k.clone(), exact(*v).into()))
                    .collect();
                (api.clone(), m.into())
            })
            .collect();
        let period = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .ok()
                .and_then(|d| {
                    d.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default()
        };
        serde_json::json!({
            "period": {"from": period(self.from), "to": period(self.to)},
            "lines": lines,
            "adjustments": adjustments,
        })
        .to_string()
    }

    /// The comparison as a table, then each line's reasons.
    pub fn to_table(&self) -> String {
        use std::fmt::Write as _;
        let header: Vec<String> = [
            "api",
            "meter",
            "billed",
            "metered",
            "not billable",
            "difference",
            "billed (USD)",
        ]
        .map(String::from)
        .to_vec();
        let rows: Vec<Vec<String>> = self
            .lines
            .iter()
            .map(|l| {
                vec![
                    l.api.clone(),
                    meter_name(l.meter),
                    exact(l.billed_usage),
                    exact(l.metered),
                    exact(l.metered_not_billable),
                    exact(l.difference()),
                    tollgate_pricing::display_cost(l.billed_cost, 2),
                ]
            })
            .collect();
        let right: Vec<bool> = (0..header.len()).map(|i| i >= 2).collect();
        let mut out = tollgate_pricing::render_table(&header, &right, &rows, &[]);
        out.push('\n');
        for l in &self.lines {
            let reasons = l.reasons(self.adjustments.get(&l.api));
            let _ = writeln!(
                out,
                "{} {}: {}",
                l.api,
                meter_name(l.meter),
                reasons.join("; ")
            );
        }
        out
    }
}

pub fn run(args: &ReconcileArgs) -> anyhow::Result<bool> {
    let params = ReportParams::parse(args.from.as_deref(), args.to.as_deref(), None)?;
    let url = tollgate_store::parse_store_url(&args.store)?;
    let r = reconcile(&url, params.period.start(), params.period.end())?;
    let out = match args.format {
        ReconcileFormat::Json => r.to_json(),
        ReconcileFormat::Table => r.to_table(),
    };
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(true)
}
