//! `tollgate cost recommend`: what to change and what it saves a month, from the ledger
//! (docs/recommendations.md).

use clap::{Args, ValueEnum};
use rust_decimal::Decimal;
use tollgate_analytics::recommend::{
    recommend, recommend_bill, RecommendError, RecommendOptions, Recommendations,
    DEFAULT_BACKEND_COST_PER_MILLION, DEFAULT_COMPRESSION_RATIO, DEFAULT_MIN_SAVING,
    DEFAULT_PERIOD_DAYS,
};

use crate::cost::PriceArgs;
use crate::data::{Data, DataChoice};
use crate::report::unix_now;

/// Output format of `cost recommend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecommendFormat {
    Table,
    Json,
    Csv,
}

/// Savings advice from the ledger, each with its monthly saving and evidence.
#[derive(Args, Debug)]
pub struct RecommendArgs {
    /// The ledger to read (default sqlite://tollgate.db in the working directory).
    #[arg(long, value_name = "URL", default_value = crate::serve::DEFAULT_STORE)]
    pub store: String,
    /// Start of the period examined, UTC: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (default: 30
    /// days before --to).
    #[arg(long)]
    pub from: Option<String>,
    /// End of the period (exclusive; default: today's 00:00 UTC). Lasting problems are valued
    /// at the run rate of its last 7 days.
    #[arg(long)]
    pub to: Option<String>,
    /// Leave out recommendations saving less than this many dollars a month.
    #[arg(long, value_name = "DOLLARS", default_value_t = DEFAULT_MIN_SAVING)]
    pub min_saving: Decimal,
    /// Assumed compression ratio of uncompressed responses (compressed = size / ratio).
    #[arg(long, default_value_t = DEFAULT_COMPRESSION_RATIO)]
    pub compression_ratio: Decimal,
    /// Assumed cost of the backend call a cache hit avoids, in dollars per million.
    #[arg(long, value_name = "DOLLARS", default_value_t = DEFAULT_BACKEND_COST_PER_MILLION)]
    pub backend_cost_per_million: Decimal,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: RecommendFormat,
    /// The data examined: metered usage, or imported AWS bill lines (which support the
    /// REST-to-HTTP advice only; auto: metered usage when the period holds any, else the
    /// bill).
    #[arg(long, value_enum, default_value = "auto")]
    pub data: DataChoice,
    #[command(flatten)]
    pub prices: PriceArgs,
}

/// The period examined: `[from, to)` in Unix seconds; by default the 30 days before today's
/// 00:00 UTC. Shared by the command and `/admin/recommendations`; `prefix` is how the
/// parameters are spelled in errors (`--` or nothing).
pub fn window(
    from: Option<&str>,
    to: Option<&str>,
    now: i64,
    prefix: &str,
) -> Result<(i64, i64), String> {
    const DAY: i64 = 86_400;
    crate::report::window_with(from, to, prefix, now - now.rem_euclid(DAY), |to| {
        to - DEFAULT_PERIOD_DAYS * DAY
    })
}

/// The advice for `options`' period of `data`.
pub fn over(
    data: &mut Data,
    options: &RecommendOptions<'_>,
) -> Result<Recommendations, RecommendError> {
    match data {
        Data::Metered(ledger) => recommend(ledger.as_mut(), options),
        Data::Bill(bill) => recommend_bill(bill.as_mut(), options),
    }
}

pub fn run(args: &RecommendArgs) -> anyhow::Result<()> {
    let (from, to) = window(args.from.as_deref(), args.to.as_deref(), unix_now(), "--")
        .map_err(|e| anyhow::anyhow!(e))?;
    let catalog = args.prices.catalog()?;
    let url = tollgate_store::parse_store_url(&args.store)?;
    let mut data = crate::data::open(&url, args.data, from, to)?;
    let found = over(
        &mut data,
        &RecommendOptions {
            catalog: &catalog,
            free_tier: args.prices.free_tier(),
            from,
            to,
            min_saving: args.min_saving,
            compression_ratio: args.compression_ratio,
            backend_cost_per_million: args.backend_cost_per_million,
        },
    )?;
    print!(
        "{}",
        match args.format {
            RecommendFormat::Json => found.to_json(),
            RecommendFormat::Csv => found.to_csv(),
            RecommendFormat::Table => found.to_table(),
        }
    );
    Ok(())
}

/// `GET /admin/recommendations?from=&to=&min_saving=`: the options (the command's defaults,
/// no free tier); errors as (status, message), 400 for a bad parameter.
pub fn parse_params<'a>(
    params: &std::collections::HashMap<String, String>,
    now: i64,
    catalog: &'a tollgate_pricing::Catalog,
) -> Result<RecommendOptions<'a>, (u16, String)> {
    let (from, to) = window(
        params.get("from").map(String::as_str),
        params.get("to").map(String::as_str),
        now,
        "",
    )
    .map_err(|e| (400, e))?;
    let mut options = RecommendOptions::new(catalog, from, to);
    if let Some(s) = params.get("min_saving") {
        options.min_saving = s
            .parse::<Decimal>()
            .map_err(|_| (400, format!("min_saving: `{s}` is not a decimal")))?;
    }
    Ok(options)
}
