//! `tollgate cost forecast`: the month-end projection from the ledger (docs/forecast.md).

use anyhow::bail;
use clap::{Args, ValueEnum};
use tollgate_analytics::forecast::{forecast, ForecastOptions, DEFAULT_HISTORY_DAYS};
use tollgate_types::usage::Dimension;

use crate::cost::PriceArgs;

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
    /// total only).
    #[arg(long)]
    pub by: Option<String>,
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

pub fn run(args: &ForecastArgs) -> anyhow::Result<()> {
    let by = parse_by(args.by.as_deref(), "--by").map_err(|e| anyhow::anyhow!(e))?;
    if args.history_days > 366 {
        bail!("--history-days {}: expected 0 to 366", args.history_days);
    }
    let now = match args.at.as_deref() {
        Some(at) => crate::report::instant("--at", at).map_err(|e| anyhow::anyhow!(e))?,
        None => crate::report::unix_now(),
    };
    let catalog = args.prices.catalog()?;
    let url = tollgate_store::parse_store_url(&args.store)?;
    let mut ledger = tollgate_store::open(&url, tollgate_store::OpenMode::MustExist)?;
    let f = forecast(
        ledger.as_mut(),
        &ForecastOptions {
            catalog: &catalog,
            free_tier: args.prices.free_tier(),
            by: &by,
            now,
            history_days: args.history_days,
        },
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
