//! `tollgate cost anomalies`: hours of cost well above a seasonal baseline, with their cause
//! (docs/anomalies.md).

use crate::cost::PriceArgs;
use crate::report::unix_now;
use clap::{Args, ValueEnum};
use rust_decimal::Decimal;
use tollgate_analytics::anomaly::{
    detect, AnomalyOptions, DEFAULT_MIN_IMPACT, DEFAULT_SENSITIVITY, DEFAULT_WEEKS,
};

/// Output format of `cost anomalies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnomaliesFormat {
    Table,
    Json,
    Csv,
}

/// Cost anomalies against a seasonal baseline, each with its cause.
#[derive(Args, Debug)]
pub struct AnomaliesArgs {
    /// The ledger to read (default sqlite://tollgate.db in the working directory).
    #[arg(long, value_name = "URL", default_value = crate::serve::DEFAULT_STORE)]
    pub store: String,
    /// Start of the period examined, UTC: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (default: 14
    /// days before today's 00:00 UTC).
    #[arg(long)]
    pub from: Option<String>,
    /// End of the period (exclusive; default: now).
    #[arg(long)]
    pub to: Option<String>,
    /// The score an hour must reach: (actual - expected) / robust spread.
    #[arg(long, default_value_t = DEFAULT_SENSITIVITY)]
    pub sensitivity: f64,
    /// The extra cost, in dollars, an hour must reach.
    #[arg(long, value_name = "DOLLARS", default_value_t = DEFAULT_MIN_IMPACT)]
    pub min_impact: Decimal,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: AnomaliesFormat,
    #[command(flatten)]
    pub prices: PriceArgs,
}

/// The period examined: `[from, to)` in Unix seconds; by default the 14 days before today's
/// 00:00 UTC up to now. Shared by the command and `/admin/anomalies`; `prefix` is how the
/// parameters are spelled in errors (`--` or nothing).
pub fn window(
    from: Option<&str>,
    to: Option<&str>,
    now: i64,
    prefix: &str,
) -> Result<(i64, i64), String> {
    crate::report::window_with(from, to, prefix, now, |_| {
        now - now.rem_euclid(86_400) - 14 * 86_400
    })
}

pub fn run(args: &AnomaliesArgs) -> anyhow::Result<()> {
    let (from, to) = window(args.from.as_deref(), args.to.as_deref(), unix_now(), "--")
        .map_err(|e| anyhow::anyhow!(e))?;
    let catalog = args.prices.catalog()?;
    let url = tollgate_store::parse_store_url(&args.store)?;
    let mut ledger = tollgate_store::open(&url, tollgate_store::OpenMode::MustExist)?;
    let found = detect(
        ledger.as_mut(),
        &AnomalyOptions {
            catalog: &catalog,
            free_tier: args.prices.free_tier(),
            from,
            to,
            sensitivity: args.sensitivity,
            min_impact: args.min_impact,
            weeks: DEFAULT_WEEKS,
        },
    )?;
    print!(
        "{}",
        match args.format {
            AnomaliesFormat::Json => found.to_json(),
            AnomaliesFormat::Csv => found.to_csv(),
            AnomaliesFormat::Table => found.to_table(),
        }
    );
    Ok(())
}
