//! `tollgate cost movers` and `/admin/movers`: what changed most against the previous period
//! of the same length (the dashboard's "top movers").

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use tollgate_meter::Ledger;
use tollgate_pricing::report::Period;
use tollgate_pricing::{Catalog, FreeTier};
use tollgate_types::usage::Dimension;

use crate::report::{ReportError, ReportParams};

/// Movers listed by default.
pub const DEFAULT_LIMIT: usize = 10;

/// One group's cost in the two periods.
#[derive(Debug, Clone, PartialEq)]
pub struct Mover {
    /// Values of the grouping dimensions, in `by` order.
    pub group: Vec<String>,
    pub previous: Decimal,
    pub current: Decimal,
}

impl Mover {
    pub fn change(&self) -> Decimal {
        self.current - self.previous
    }

    /// The change in percent of the previous cost (`None` when there was none).
    pub fn change_percent(&self) -> Option<Decimal> {
        (!self.previous.is_zero())
            .then(|| (self.change() * Decimal::from(100) / self.previous).round_dp(1))
    }
}

/// The movers of a period against the one before it.
#[derive(Debug, Clone)]
pub struct Movers {
    pub period: Period,
    pub previous_period: Period,
    /// The grouping dimensions' names (`api`, `route`, `account`…).
    pub by: Vec<String>,
    /// What the costs are: `metered` (usage priced by the catalog) or `bill` (imported AWS
    /// bill lines at their unblended cost).
    pub data: &'static str,
    pub previous_total: Decimal,
    pub current_total: Decimal,
    /// Largest absolute change first; groups whose cost did not change are left out.
    pub movers: Vec<Mover>,
}

/// Price `params.period` and the period of the same length before it, grouped by
/// `params.by` (default: route, with its API), and rank the changes.
pub fn movers(
    ledger: &mut dyn Ledger,
    catalog: &Catalog,
    free_tier: FreeTier,
    params: &ReportParams,
    limit: usize,
) -> Result<Movers, ReportError> {
    let by = if params.by.is_empty() {
        vec![Dimension::Api, Dimension::Route]
    } else {
        params.by.clone()
    };
    let names: Vec<String> = by.iter().map(Dimension::name).collect();
    rank(params.period, names, limit, "metered", |period| {
        let report = crate::report::cost(
            ledger,
            catalog,
            free_tier,
            &ReportParams {
                period,
                by: by.clone(),
            },
        )?;
        let mut sums: BTreeMap<Vec<String>, Decimal> = BTreeMap::new();
        for row in report.rows() {
            *sums.entry(row.group.clone()).or_default() += row.cost;
        }
        Ok((report.total(), sums))
    })
}

/// The movers of imported AWS bill lines (their unblended cost), grouped by the bill's
/// dimensions `by` (default: api, account).
pub fn movers_bill(
    bill: &mut dyn tollgate_store::BillLedger,
    period: Period,
    by: Option<&str>,
    limit: usize,
) -> Result<Movers, ReportError> {
    let dims = match by {
        Some(list) => tollgate_store::BillDimension::parse_list(list)
            .map_err(|e| ReportError::BadParameter(format!("by: {e}")))?,
        None => vec![
            tollgate_store::BillDimension::Api,
            tollgate_store::BillDimension::Account,
        ],
    };
    let names: Vec<String> = dims.iter().map(|d| d.name()).collect();
    let mut source = tollgate_analytics::source::BillCosts::new(bill);
    rank(period, names.clone(), limit, "bill", |p| {
        use tollgate_analytics::source::CostSource as _;
        source
            .cost(p.start(), p.end(), &names)
            .map_err(|e| ReportError::BadParameter(e.to_string()))
    })
}

/// Costs `period` and the period of the same length before it with `cost` (total and per
/// group), and ranks the groups' changes.
fn rank(
    period: Period,
    by: Vec<String>,
    limit: usize,
    data: &'static str,
    mut cost: impl FnMut(Period) -> Result<(Decimal, BTreeMap<Vec<String>, Decimal>), ReportError>,
) -> Result<Movers, ReportError> {
    let (start, end) = (period.start(), period.end());
    let previous_period = Period::new(start - (end - start), start)?;
    let (current_total, now) = cost(period)?;
    let (previous_total, before) = cost(previous_period)?;
    let mut groups: BTreeMap<Vec<String>, Mover> = BTreeMap::new();
    for (group, cost) in &before {
        groups.entry(group.clone()).or_insert_with(|| Mover {
            group: group.clone(),
            previous: *cost,
            current: Decimal::ZERO,
        });
    }
    for (group, cost) in &now {
        groups
            .entry(group.clone())
            .or_insert_with(|| Mover {
                group: group.clone(),
                previous: Decimal::ZERO,
                current: Decimal::ZERO,
            })
            .current = *cost;
    }
    let mut movers: Vec<Mover> = groups
        .into_values()
        .filter(|m| !m.change().is_zero())
        .collect();
    movers.sort_by(|a, b| {
        b.change()
            .abs()
            .cmp(&a.change().abs())
            .then_with(|| a.group.cmp(&b.group))
    });
    movers.truncate(limit);
    Ok(Movers {
        period,
        previous_period,
        by,
        data,
        previous_total,
        current_total,
        movers,
    })
}

fn exact(d: Decimal) -> String {
    tollgate_pricing::display_exact(d)
}

impl Movers {
    /// `{"currency","period":{"from","to"},"previous_period":{"from","to"},"by":[…],
    /// "previous_total","current_total","change","movers":[{<dims>…,"previous","current",
    /// "change","change_percent"}]}`; money as exact decimal strings, `change_percent` a
    /// decimal string or null.
    pub fn to_json(&self) -> String {
        use serde_json::{json, Map, Value};
        let rows: Vec<Value> = self
            .movers
            .iter()
            .map(|m| {
                let mut o = Map::new();
                for (d, v) in self.by.iter().zip(&m.group) {
                    o.insert(d.clone(), v.clone().into());
                }
                o.insert("previous".into(), exact(m.previous).into());
                o.insert("current".into(), exact(m.current).into());
                o.insert("change".into(), exact(m.change()).into());
                o.insert(
                    "change_percent".into(),
                    m.change_percent().map(exact).into(),
                );
                Value::Object(o)
            })
            .collect();
        json!({
            "currency": tollgate_pricing::CURRENCY,
            "data": self.data,
            "period": {"from": self.period.start_rfc3339(), "to": self.period.end_rfc3339()},
            "previous_period": {
                "from": self.previous_period.start_rfc3339(),
                "to": self.previous_period.end_rfc3339(),
            },
            "by": self.by,
            "previous_total": exact(self.previous_total),
            "current_total": exact(self.current_total),
            "change": exact(self.current_total - self.previous_total),
            "movers": rows,
        })
        .to_string()
    }

    /// CSV: the dimensions, then `previous,current,change,change_percent` (exact).
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = self.by.clone();
        header.extend(["previous", "current", "change", "change_percent"].map(String::from));
        let _ = w.write_record(&header);
        for m in &self.movers {
            let mut rec = m.group.clone();
            rec.push(exact(m.previous));
            rec.push(exact(m.current));
            rec.push(exact(m.change()));
            rec.push(m.change_percent().map(exact).unwrap_or_default());
            let _ = w.write_record(&rec);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// An aligned table in cents, with the totals.
    pub fn to_table(&self) -> String {
        let cents = |d: Decimal| tollgate_pricing::display_cost(d, 2);
        let signed = |d: Decimal| {
            if d.is_sign_negative() {
                cents(d)
            } else {
                format!("+{}", cents(d))
            }
        };
        let mut header: Vec<String> = self.by.clone();
        header.extend(["previous", "current", "change", "%"].map(String::from));
        let rows: Vec<Vec<String>> = self
            .movers
            .iter()
            .map(|m| {
                let mut r = m.group.clone();
                r.push(cents(m.previous));
                r.push(cents(m.current));
                r.push(signed(m.change()));
                r.push(
                    m.change_percent()
                        .map_or_else(|| "new".into(), |p| format!("{p:+}")),
                );
                r
            })
            .collect();
        let mut total = vec![String::new(); self.by.len()];
        if let Some(first) = total.first_mut() {
            *first = "total".into();
        }
        total.push(cents(self.previous_total));
        total.push(cents(self.current_total));
        total.push(signed(self.current_total - self.previous_total));
        total.push(String::new());
        let right: Vec<bool> = (0..header.len()).map(|i| i >= self.by.len()).collect();
        format!(
            "{} … {} against {} … {}\n{}",
            self.period.start_rfc3339(),
            self.period.end_rfc3339(),
            self.previous_period.start_rfc3339(),
            self.previous_period.end_rfc3339(),
            tollgate_pricing::render_table(&header, &right, &rows, &total)
        )
    }
}

/// Output format of `cost movers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MoversFormat {
    Table,
    Json,
    Csv,
}

/// What changed most against the previous period of the same length.
#[derive(clap::Args, Debug)]
pub struct MoversArgs {
    /// The ledger to read (default sqlite://tollgate.db in the working directory).
    #[arg(long, value_name = "URL", default_value = crate::serve::DEFAULT_STORE)]
    pub store: String,
    /// Start of the period, UTC: YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (default: the
    /// month to date).
    #[arg(long)]
    pub from: Option<String>,
    /// End of the period (exclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// Group by these dimensions (default: api,route; over an imported bill: api,account,
    /// and any of api, stage, account, region, usage_type, meter, line_item_type, month,
    /// tag:NAME).
    #[arg(long)]
    pub by: Option<String>,
    /// What is compared: metered usage priced by the catalog, or imported AWS bill lines at
    /// their own cost (auto: metered usage when either period holds any, else the bill).
    #[arg(long, value_enum, default_value = "auto")]
    pub data: crate::data::DataChoice,
    /// Movers listed.
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: MoversFormat,
    #[command(flatten)]
    pub prices: crate::cost::PriceArgs,
}

pub fn run(args: &MoversArgs) -> anyhow::Result<()> {
    let url = tollgate_store::parse_store_url(&args.store)?;
    let period = ReportParams::parse(args.from.as_deref(), args.to.as_deref(), None)?.period;
    let (start, end) = (period.start(), period.end());
    let m = match crate::data::open(&url, args.data, start - (end - start), end)? {
        crate::data::Data::Bill(mut bill) => {
            movers_bill(bill.as_mut(), period, args.by.as_deref(), args.limit)?
        }
        crate::data::Data::Metered(mut ledger) => {
            let params =
                ReportParams::parse(args.from.as_deref(), args.to.as_deref(), args.by.as_deref())?;
            let catalog = args.prices.catalog()?;
            movers(
                ledger.as_mut(),
                &catalog,
                args.prices.free_tier(),
                &params,
                args.limit,
            )?
        }
    };
    let out = match args.format {
        MoversFormat::Json => m.to_json(),
        MoversFormat::Csv => m.to_csv(),
        MoversFormat::Table => m.to_table(),
    };
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(())
}

/// `/admin/movers?from=&to=&by=&limit=` (its `data=` taken off): the period, the raw `by`
/// list (parsed for the data it applies to) and the limit.
pub fn parse_query(query: &str) -> Result<(Period, Option<String>, usize), ReportError> {
    let mut rest = form_urlencoded::Serializer::new(String::new());
    let mut limit = DEFAULT_LIMIT;
    let mut by = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "limit" => {
                limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        ReportError::BadParameter(format!(
                            "limit: `{v}` is not a number from 1 to 1000"
                        ))
                    })?;
            }
            "by" => by = Some(v.into_owned()),
            _ => {
                rest.append_pair(&k, &v);
            }
        }
    }
    let period = ReportParams::from_query(&rest.finish())?.period;
    Ok((period, by, limit))
}

/// The movers of `period` over `data`: metered usage priced by `catalog` (no free tier, as
/// the admin API prices), or an imported bill.
pub fn over(
    data: &mut crate::data::Data,
    catalog: &Catalog,
    period: Period,
    by: Option<&str>,
    limit: usize,
) -> Result<Movers, ReportError> {
    match data {
        crate::data::Data::Bill(bill) => movers_bill(bill.as_mut(), period, by, limit),
        crate::data::Data::Metered(ledger) => {
            let by = match by {
                Some(list) => Dimension::parse_list(list)
                    .map_err(|e| ReportError::BadParameter(format!("by: {e}")))?,
                None => Vec::new(),
            };
            movers(
                ledger.as_mut(),
                catalog,
                FreeTier::Off,
                &ReportParams { period, by },
                limit,
            )
        }
    }
}
