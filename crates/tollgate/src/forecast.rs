//! `tollgate cost forecast`: the month-end projection from the ledger (docs/forecast.md).

use anyhow::bail;
use clap::{Args, ValueEnum};
use tollgate_analytics::forecast::{
    forecast, forecast_costs, ForecastError, ForecastOptions, MonthForecast, DEFAULT_HISTORY_DAYS,
};
use tollgate_analytics::source::BillCosts;
use tollgate_pricing::{Catalog, FreeTier};
use tollgate_store::BillDimension;
use tollgate_types::usage::Dimension;

use crate::cost::PriceArgs;
use crate::data::{Data, DataChoice};

/// Output format of `cost forecast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ForecastFormat {
    Table,
    Json,
    Csv,
}

/// The month-end cost projection.
#[derive(Args, Debug)]
pub struct ForecastArgs {
    /// The ledger to read (default sqlite://tollgate.db in the working directory).
    #[arg(long, value_name = "URL", default_value = crate::serve::DEFAULT_STORE)]
    pub store: String,
    /// Rows per group: any of api, stage, route, tag:NAME (comma-separated; default: the
    /// total only); over an imported bill, any of api, stage, account, region, usage_type,
    /// line_item_type, tag:NAME, cost_category:NAME.
    #[arg(long)]
    pub by: Option<String>,
    /// The data forecast: metered usage priced by the catalog, or imported AWS bill lines
    /// at their own cost (auto: metered usage when the history holds any, else the bill).
    #[arg(long, value_enum, default_value = "auto")]
    pub data: DataChoice,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ForecastFormat,
    /// Forecast as of this instant, UTC: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (default: now).
    /// Nothing at or after it is read.
    #[arg(long)]
    pub at: Option<String>,
    /// Complete days of history before today to learn the weekly season from.
    #[arg(long, default_value_t = DEFAULT_HISTORY_DAYS, value_name = "DAYS")]
    pub history_days: u32,
    #[command(flatten)]
    pub prices: PriceArgs,
}

/// The forecast's rows: api, stage, route and tag:NAME only (the dimensions a month-end
/// projection is asked for). Shared by the command and `/admin/forecast`; `name` spells the
/// parameter in errors.
pub fn parse_by(list: Option<&str>, name: &str) -> Result<Vec<Dimension>, String> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    match Dimension::parse_list(list) {
        Ok(by)
            if by.iter().all(|d| {
                matches!(
                    d,
                    Dimension::Api | Dimension::Stage | Dimension::Route | Dimension::Tag(_)
                )
            }) =>
        {
            Ok(by)
        }
        _ => Err(format!(
            "{name} {list}: expected a comma-separated list of api, stage, route, tag:NAME"
        )),
    }
}

/// The forecast's rows over an imported bill: the bill's dimensions but `month`.
pub fn parse_bill_by(list: Option<&str>, name: &str) -> Result<Vec<String>, String> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    let by = BillDimension::parse_list(list).map_err(|e| format!("{name} {list}: {e}"))?;
    if by.contains(&BillDimension::Month) {
        return Err(format!(
            "{name} {list}: `month` is not a forecast row (the forecast is of one month)"
        ));
    }
    Ok(by.iter().map(BillDimension::name).collect())
}

/// The forecast of the month containing `now` over `data`, rows by `by` (parsed for the
/// data's kind; `name` spells the parameter in errors). Shared by the command and
/// `/admin/forecast`.
pub fn over(
    data: &mut Data,
    by: Option<&str>,
    name: &str,
    catalog: &Catalog,
    free_tier: FreeTier,
    now: i64,
    history_days: u32,
) -> Result<MonthForecast, ForecastError> {
    match data {
        Data::Metered(ledger) => {
            let by = parse_by(by, name).map_err(ForecastError::BadParameter)?;
            forecast(
                ledger.as_mut(),
                &ForecastOptions {
                    catalog,
                    free_tier,
                    by: &by,
                    now,
                    history_days,
                },
            )
        }
        Data::Bill(bill) => {
            let by = parse_bill_by(by, name).map_err(ForecastError::BadParameter)?;
            forecast_costs(&mut BillCosts::new(bill.as_mut()), &by, now, history_days)
        }
    }
}

pub fn run(args: &ForecastArgs) -> anyhow::Result<()> {
    if args.history_days > 366 {
        bail!("--history-days {}: expected 0 to 366", args.history_days);
    }
    let now = match args.at.as_deref() {
        Some(at) => crate::report::instant("--at", at).map_err(|e| anyhow::anyhow!(e))?,
        None => crate::report::unix_now(),
    };
    // A --by that fits neither kind of data is refused before the store is opened.
    if let Some(list) = args.by.as_deref() {
        let metered = parse_by(Some(list), "--by").map(|_| ());
        let bill = parse_bill_by(Some(list), "--by").map(|_| ());
        match (args.data, metered, bill) {
            (DataChoice::Metered, Err(e), _)
            | (DataChoice::Bill, _, Err(e))
            | (DataChoice::Auto, Err(e), Err(_)) => bail!(e),
            _ => {}
        }
    }
    let catalog = args.prices.catalog()?;
    let url = tollgate_store::parse_store_url(&args.store)?;
    let today = now - now.rem_euclid(86_400);
    // The history, and the month so far (at most 31 days back).
    let from = (today - i64::from(args.history_days) * 86_400).min(today - 31 * 86_400);
    let mut data = crate::data::open(&url, args.data, from, now)?;
    let f = over(
        &mut data,
        args.by.as_deref(),
        "--by",
        &catalog,
        args.prices.free_tier(),
        now,
        args.history_days,
    )?;
    print!(
        "{}",
        match args.format {
            ForecastFormat::Json => f.to_json(),
            ForecastFormat::Csv => f.to_csv(),
            ForecastFormat::Table => f.to_table(),
        }
    );
    Ok(())
}
