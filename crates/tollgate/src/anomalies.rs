//! `tollgate cost anomalies`: hours of cost well above a seasonal baseline, with their cause
//! (docs/anomalies.md).

use crate::cost::PriceArgs;
use crate::report::unix_now;
use clap::{Args, ValueEnum};
use rust_decimal::Decimal;
use tollgate_analytics::anomaly::{
    detect, detect_costs, Anomalies, AnomalyError, AnomalyOptions, DEFAULT_MIN_IMPACT,
    DEFAULT_SENSITIVITY, DEFAULT_WEEKS,
};
use tollgate_analytics::source::BillCosts;

use crate::data::{Data, DataChoice};

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
    /// The data examined: metered usage priced by the catalog, or imported AWS bill lines
    /// at their own cost (auto: metered usage when the period or its baseline holds any,
    /// else the bill).
    #[arg(long, value_enum, default_value = "auto")]
    pub data: DataChoice,
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

/// The anomalies of `options`' period in `data`. Shared by the command and
/// `/admin/anomalies`.
pub fn over(data: &mut Data, options: &AnomalyOptions<'_>) -> Result<Anomalies, AnomalyError> {
    match data {
        Data::Metered(ledger) => detect(ledger.as_mut(), options),
        Data::Bill(bill) => detect_costs(&mut BillCosts::new(bill.as_mut()), options),
    }
}

/// The span an anomaly search reads: the period and its baseline weeks.
pub fn span(from: i64, to: i64) -> (i64, i64) {
    (from - i64::from(DEFAULT_WEEKS) * 7 * 86_400, to)
}

pub fn run(args: &AnomaliesArgs) -> anyhow::Result<()> {
    let (from, to) = window(args.from.as_deref(), args.to.as_deref(), unix_now(), "--")
        .map_err(|e| anyhow::anyhow!(e))?;
    let catalog = args.prices.catalog()?;
    let url = tollgate_store::parse_store_url(&args.store)?;
    let (read_from, read_to) = span(from, to);
    let mut data = crate::data::open(&url, args.data, read_from, read_to)?;
    let found = over(
        &mut data,
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
