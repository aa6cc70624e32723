//! `tollgate cost bill`: the imported AWS bill lines (`tollgate aws import`) grouped, with the
//! bill's own unblended cost — never gateway-metered usage, which `tollgate cost report`
//! prices. With `--reprice`, the usage lines are also priced with tollgate's catalog (tiers per
//! account, region and calendar month) next to what AWS charged.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::Context as _;
use clap::Args;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tollgate_aws::LineItemType;
use tollgate_pricing::report::Period;
use tollgate_pricing::{
    attribute, display_cost, display_exact, CacheSize, Catalog, FreeTier, Meter,
};
use tollgate_store::{BillDimension, BillLedger, BillQuery, BillRow};

use crate::cost::{Format, PriceArgs};
use tollgate_types::time_fmt::rfc3339;

/// The imported AWS bill for a period.
#[derive(Args, Debug)]
pub struct BillArgs {
    /// The ledger the bills were imported into (default sqlite://tollgate.db).
    #[arg(long, value_name = "URL", default_value = crate::serve::DEFAULT_STORE)]
    pub store: String,
    /// Start of the period, UTC: YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (default: every
    /// imported line). Lines count in the period their usage starts in.
    #[arg(long)]
    pub from: Option<String>,
    /// End of the period, exclusive, same forms (default: every imported line).
    #[arg(long)]
    pub to: Option<String>,
    /// Group by any of api, stage, account, region, usage_type, month, tag:NAME,
    /// cost_category:NAME
    /// (comma-separated). Rows are always split by meter and line item type.
    #[arg(long)]
    pub by: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also price the usage lines with tollgate's catalog (tiers per account, region and
    /// month; free tier off unless --free-tier) and show the difference from the bill.
    #[arg(long)]
    pub reprice: bool,
    #[command(flatten)]
    pub prices: PriceArgs,
}

/// One output row: a group's lines of one meter, line item type and currency.
struct Row {
    group: Vec<String>,
    meter: String,
    meter_dp: u32,
    line_item_type: String,
    currency: String,
    lines: u64,
    usage: Decimal,
    cost: Decimal,
    /// `Some` when repriced: the catalog's price of this row's usage.
    repriced: Option<Decimal>,
}

/// Why some usage could not be repriced (shown once each).
type Unpriced = BTreeSet<String>;

pub fn run(args: &BillArgs) -> anyhow::Result<()> {
    let from = args
        .from
        .as_deref()
        .map(|s| crate::report::instant("--from", s))
        .transpose()
        .map_err(anyhow::Error::msg)?
        .unwrap_or(i64::MIN);
    let to = args
        .to
        .as_deref()
        .map(|s| crate::report::instant("--to", s))
        .transpose()
        .map_err(anyhow::Error::msg)?
        .unwrap_or(i64::MAX);
    if from >= to {
        anyhow::bail!("--from must be before --to");
    }
    // Meter and line item type are always columns: listing them adds nothing.
    let dims: Vec<BillDimension> = match &args.by {
        Some(list) => BillDimension::parse_list(list).map_err(|e| anyhow::anyhow!("--by: {e}"))?,
        None => Vec::new(),
    }
    .into_iter()
    .filter(|d| !matches!(d, BillDimension::Meter | BillDimension::LineItemType))
    .collect();
    let catalog = if args.reprice {
        Some(args.prices.catalog()?)
    } else {
        None
    };
    let url = tollgate_store::parse_store_url(&args.store)?;
    let mut ledger = tollgate_store::open_bill(&url, tollgate_store::OpenMode::MustExist)?;
    let query = BillQuery {
        from,
        to,
        group_by: dims.clone(),
    };
    let bill = ledger.query_bill(&query)?;
    let mut rows: Vec<Row> = bill.iter().map(row_of).collect();
    let mut unpriced = Unpriced::new();
    if let Some(catalog) = &catalog {
        reprice(
            ledger.as_mut(),
            catalog,
            args.prices.free_tier(),
            &query,
            &mut rows,
            &mut unpriced,
        )?;
    }
    let names: Vec<String> = dims.iter().map(BillDimension::name).collect();
    let period = (from != i64::MIN || to != i64::MAX).then_some((from, to));
    let out = match args.format {
        Format::Json => serde_json::to_string_pretty(&to_json(
            &ledger.describe_bill(),
            period,
            &names,
            &rows,
            args.reprice.then_some((&unpriced, args.prices.free_tier())),
        ))
        .context("rendering JSON")?,
        Format::Csv => to_csv(&names, &rows, args.reprice)?,
        Format::Table => to_table(
            &ledger.describe_bill(),
            &names,
            &rows,
            args.reprice,
            &unpriced,
        ),
    };
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(())
}

fn row_of(r: &BillRow) -> Row {
    Row {
        group: r.group.clone(),
        meter: r.meter_key(),
        meter_dp: r.meter.map_or(2, Meter::display_decimals),
        line_item_type: r.line_item_type.clone(),
        currency: r.currency.clone(),
        lines: r.lines,
        usage: r.usage,
        cost: r.unblended_cost,
        repriced: None,
    }
}

/// Whether a row's lines are usage tollgate can price: usage kinds with a meter, in USD.
fn repriceable(r: &BillRow) -> bool {
    r.meter.is_some()
        && r.currency == tollgate_pricing::CURRENCY
        && LineItemType::parse(&r.line_item_type).is_usage()
}

/// (account, region, month, meter, cache size): the unit tiers apply to.
type Bucket = (String, String, String, Meter, Option<Decimal>);

/// Prices the usage rows: each (account, region, month, meter) costs the catalog's tiered
/// price of the whole month's usage (of every imported line, also outside the period), and
/// each row gets its share in proportion to its usage, exactly (`attribute`), as `cost report`
/// does for metered usage.
fn reprice(
    ledger: &mut dyn BillLedger,
    catalog: &Catalog,
    free_tier: FreeTier,
    query: &BillQuery,
    rows: &mut [Row],
    unpriced: &mut Unpriced,
) -> anyhow::Result<()> {
    // The period's usage split by the row's group and by what tiers apply to.
    let extra = [
        BillDimension::Account,
        BillDimension::Region,
        BillDimension::Month,
    ];
    let mut group_by = query.group_by.clone();
    let mut at = Vec::new();
    for d in extra.clone() {
        at.push(match group_by.iter().position(|g| *g == d) {
            Some(i) => i,
            None => {
                group_by.push(d);
                group_by.len() - 1
            }
        });
    }
    let n = query.group_by.len();
    let fine = ledger.query_bill(&BillQuery {
        group_by,
        ..query.clone()
    })?;
    // bucket → [(row key, usage)] in a stable order.
    type RowKey = (Vec<String>, String, String, String);
    let mut parts: BTreeMap<Bucket, BTreeMap<RowKey, Decimal>> = BTreeMap::new();
    let mut failed_rows: BTreeSet<RowKey> = BTreeSet::new();
    for r in fine.iter().filter(|r| repriceable(r)) {
        let Some(meter) = r.meter else { continue };
        let bucket = (
            r.group[at[0]].clone(),
            r.group[at[1]].clone(),
            r.group[at[2]].clone(),
            meter,
            r.cache_size_gb.map(|g| g.normalize()),
        );
        let key = (
            r.group[..n].to_vec(),
            r.meter_key(),
            r.line_item_type.clone(),
            r.currency.clone(),
        );
        *parts.entry(bucket).or_default().entry(key).or_default() += r.usage;
    }

    // Whole-month usage of those buckets.
    let months: BTreeSet<&String> = parts.keys().map(|b| &b.2).collect();
    let mut month_usage: BTreeMap<Bucket, Decimal> = BTreeMap::new();
    if let (Some(first), Some(last)) = (months.first(), months.last()) {
        let start = Period::month(first)?.start();
        let end = Period::month(last)?.end();
        let totals = ledger.query_bill(&BillQuery {
            from: start,
            to: end,
            group_by: extra.to_vec(),
        })?;
        for r in totals.iter().filter(|r| repriceable(r)) {
            let Some(meter) = r.meter else { continue };
            let bucket = (
                r.group[0].clone(),
                r.group[1].clone(),
                r.group[2].clone(),
                meter,
                r.cache_size_gb.map(|g| g.normalize()),
            );
            *month_usage.entry(bucket).or_default() += r.usage;
        }
    }

    let mut shares: BTreeMap<RowKey, Decimal> = BTreeMap::new();
    for (bucket, keys) in &parts {
        let (account, region, month, meter, gb) = bucket;
        let priced = (|| -> Result<Vec<Decimal>, String> {
            let size = match gb {
                Some(gb) => Some(CacheSize::from_gb(*gb).map_err(|e| e.to_string())?),
                None => None,
            };
            let prices = catalog.region(region).map_err(|e| e.to_string())?;
            let period_usage: Decimal = keys.values().sum();
            let month = month_usage.get(bucket).copied().unwrap_or(period_usage);
            let month = month.max(period_usage);
            let cost = prices
                .month_cost(*meter, size, month, free_tier)
                .map_err(|e| e.to_string())?;
            let mut weights: Vec<Decimal> = keys.values().copied().collect();
            if month > period_usage {
                weights.push(month - period_usage);
            }
            attribute(cost, &weights).map_err(|e| e.to_string())
        })();
        match priced {
            Ok(s) => {
                for (key, share) in keys.keys().zip(s) {
                    *shares.entry(key.clone()).or_default() += share;
                }
            }
            Err(e) => {
                unpriced.insert(format!("{account} {region} {month} {meter}: {e}"));
                failed_rows.extend(keys.keys().cloned());
            }
        }
    }
    for row in rows.iter_mut() {
        let key = (
            row.group.clone(),
            row.meter.clone(),
            row.line_item_type.clone(),
            row.currency.clone(),
        );
        if failed_rows.contains(&key) {
            continue;
        }
        if let Some(s) = shares.get(&key) {
            row.repriced = Some(*s);
        }
    }
    Ok(())
}

fn exact(d: Decimal) -> String {
    display_exact(d)
}

/// Bill totals per currency; with repricing, the bill's cost of the repriced rows, their
/// repriced cost and the difference (USD).
struct Totals {
    lines: u64,
    by_currency: BTreeMap<String, Decimal>,
    repriced_bill: Decimal,
    repriced: Decimal,
}

fn totals(rows: &[Row]) -> Totals {
    let mut t = Totals {
        lines: 0,
        by_currency: BTreeMap::new(),
        repriced_bill: Decimal::ZERO,
        repriced: Decimal::ZERO,
    };
    for r in rows {
        t.lines += r.lines;
        *t.by_currency.entry(r.currency.clone()).or_default() += r.cost;
        if let Some(p) = r.repriced {
            t.repriced_bill += r.cost;
            t.repriced += p;
        }
    }
    t
}

fn to_json(
    store: &str,
    period: Option<(i64, i64)>,
    names: &[String],
    rows: &[Row],
    reprice: Option<(&Unpriced, FreeTier)>,
) -> Value {
    let out_rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut m = serde_json::Map::new();
            for (name, v) in names.iter().zip(&r.group) {
                m.insert(name.clone(), v.clone().into());
            }
            m.insert("meter".into(), r.meter.clone().into());
            m.insert("line_item_type".into(), r.line_item_type.clone().into());
            m.insert("lines".into(), r.lines.into());
            m.insert("usage".into(), exact(r.usage).into());
            m.insert("unblended_cost".into(), exact(r.cost).into());
            m.insert("currency".into(), r.currency.clone().into());
            if reprice.is_some() {
                m.insert("repriced_cost".into(), r.repriced.map(exact).into());
                m.insert(
                    "difference".into(),
                    r.repriced.map(|p| exact(r.cost - p)).into(),
                );
            }
            Value::Object(m)
        })
        .collect();
    let t = totals(rows);
    let mut v = json!({
        "source": "aws_bill",
        "note": "imported AWS bill lines: the bill's own unblended cost, not gateway-metered usage",
        "store": store,
        "period": period.map(|(f, t)| json!({
            "from": (f != i64::MIN).then(|| rfc3339(f)),
            "to": (t != i64::MAX).then(|| rfc3339(t)),
        })),
        "group_by": names,
        "rows": out_rows,
        "lines": t.lines,
        "total": t.by_currency.iter().map(|(c, d)| (c.clone(), Value::from(exact(*d)))).collect::<serde_json::Map<_, _>>(),
    });
    if let Some((unpriced, free_tier)) = reprice {
        v["reprice"] = json!({
            "free_tier": free_tier == FreeTier::Legacy12Month,
            "bill_cost": exact(t.repriced_bill),
            "repriced_cost": exact(t.repriced),
            "difference": exact(t.repriced_bill - t.repriced),
            "unpriced": unpriced.iter().collect::<Vec<_>>(),
        });
    }
    v
}

fn to_csv(names: &[String], rows: &[Row], reprice: bool) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = names.to_vec();
    header.extend(
        [
            "meter",
            "line_item_type",
            "lines",
            "usage",
            "unblended_cost",
            "currency",
        ]
        .map(String::from),
    );
    if reprice {
        header.extend(["repriced_cost", "difference"].map(String::from));
    }
    w.write_record(&header)?;
    for r in rows {
        let mut rec = r.group.clone();
        rec.extend([
            r.meter.clone(),
            r.line_item_type.clone(),
            r.lines.to_string(),
            exact(r.usage),
            exact(r.cost),
            r.currency.clone(),
        ]);
        if reprice {
            rec.push(r.repriced.map(exact).unwrap_or_default());
            rec.push(r.repriced.map(|p| exact(r.cost - p)).unwrap_or_default());
        }
        w.write_record(&rec)?;
    }
    Ok(String::from_utf8(
        w.into_inner().map_err(|e| e.into_error())?,
    )?)
}

fn to_table(
    store: &str,
    names: &[String],
    rows: &[Row],
    reprice: bool,
    unpriced: &Unpriced,
) -> String {
    let mut header: Vec<String> = names.to_vec();
    let dims = header.len() + 2;
    header.extend(
        [
            "meter",
            "line item type",
            "lines",
            "usage",
            "unblended cost",
        ]
        .map(String::from),
    );
    if reprice {
        header.extend(["repriced (USD)", "difference"].map(String::from));
    }
    let mut cells: Vec<Vec<String>> = Vec::new();
    for r in rows {
        let mut c = r.group.clone();
        c.extend([
            r.meter.clone(),
            r.line_item_type.clone(),
            r.lines.to_string(),
            display_exact(r.usage),
            format!("{} {}", display_cost(r.cost, r.meter_dp), r.currency),
        ]);
        if reprice {
            match r.repriced {
                Some(p) => {
                    c.push(display_cost(p, r.meter_dp));
                    c.push(display_cost(r.cost - p, r.meter_dp));
                }
                None => c.extend(["-".to_string(), "-".to_string()]),
            }
        }
        cells.push(c);
    }
    let t = totals(rows);
    for (currency, cost) in &t.by_currency {
        let mut c = vec![String::new(); dims];
        c[0] = "total".into();
        c.extend([
            t.lines.to_string(),
            String::new(),
            format!("{} {currency}", display_cost(*cost, 2)),
        ]);
        if reprice {
            c.push(display_cost(t.repriced, 2));
            c.push(display_cost(t.repriced_bill - t.repriced, 2));
        }
        cells.push(c);
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &cells {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = format!(
        "Imported AWS bill ({store}): the bill's own unblended cost, not gateway-metered usage \
         (see `tollgate cost report` for that)\n"
    );
    for r in std::iter::once(&header).chain(cells.iter()) {
        for (i, (c, w)) in r.iter().zip(&widths).enumerate() {
            if i < dims {
                let _ = write!(out, "{c:<w$}  ");
            } else {
                let _ = write!(out, "  {c:>w$}");
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    if reprice {
        let _ = writeln!(
            out,
            "\nrepriced: usage lines (Usage, DiscountedUsage, SavingsPlanCoveredUsage) priced with \
             tollgate's catalog, tiers per account, region and month; difference = bill - catalog \
             ({} - {} = {} USD)",
            display_cost(t.repriced_bill, 2),
            display_cost(t.repriced, 2),
            display_cost(t.repriced_bill - t.repriced, 2)
        );
        for u in unpriced {
            let _ = writeln!(out, "  not repriced: {u}");
        }
    }
    out
}
