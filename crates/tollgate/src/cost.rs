//! `tollgate cost ...`: pricing commands.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use rust_decimal::Decimal;
use tollgate_pricing::{
    estimate, CacheWorkload, Catalog, FreeTier, HttpWorkload, RestWorkload, WebsocketWorkload,
    Workload,
};

use crate::report::{self, ReportParams};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Price a month of traffic without traffic. Flags add to (and override) `--workload FILE`.
#[derive(Args, Debug)]
pub struct EstimateArgs {
    /// A YAML workload file (docs/pricing.md).
    #[arg(long)]
    pub workload: Option<PathBuf>,
    /// AWS region whose prices apply (default us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// Apply the legacy 12-month free tier.
    #[arg(long)]
    pub free_tier: bool,
    /// Days in the month for per-minute rates (default 30, as AWS's examples).
    #[arg(long)]
    pub days: Option<Decimal>,
    /// HTTP API requests per month.
    #[arg(long)]
    pub http_requests: Option<Decimal>,
    /// HTTP API requests per minute (instead of --http-requests).
    #[arg(long)]
    pub http_requests_per_minute: Option<Decimal>,
    /// Average HTTP API request payload in KB (billed per started 512 KB).
    #[arg(long)]
    pub http_request_kb: Option<Decimal>,
    /// REST API requests per month.
    #[arg(long)]
    pub rest_requests: Option<Decimal>,
    /// Average REST response size in KB (priced as data transfer out).
    #[arg(long)]
    pub rest_response_kb: Option<Decimal>,
    /// WebSocket messages per month (both directions).
    #[arg(long)]
    pub ws_messages: Option<Decimal>,
    /// Average WebSocket message size in KB (billed per started 32 KB).
    #[arg(long)]
    pub ws_message_kb: Option<Decimal>,
    /// WebSocket connection minutes per month.
    #[arg(long)]
    pub ws_connection_minutes: Option<Decimal>,
    /// Stage cache size in GB (0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118, 237).
    #[arg(long)]
    pub cache_gb: Option<Decimal>,
    /// Hours the cache is provisioned (default: the whole month).
    #[arg(long, requires = "cache_gb")]
    pub cache_hours: Option<Decimal>,
    /// Data transferred out in GB per month.
    #[arg(long)]
    pub data_out_gb: Option<Decimal>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

impl EstimateArgs {
    fn workload(&self) -> anyhow::Result<Workload> {
        let mut w = match &self.workload {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Workload::from_yaml_str(&text).with_context(|| path.display().to_string())?
            }
            None => Workload::default(),
        };
        if self.region.is_some() {
            w.region.clone_from(&self.region);
        }
        w.free_tier |= self.free_tier;
        if self.days.is_some() {
            w.days = self.days;
        }
        if self.http_requests.is_some()
            || self.http_requests_per_minute.is_some()
            || self.http_request_kb.is_some()
        {
            let h = w.http.get_or_insert_with(HttpWorkload::default);
            set(&mut h.requests, self.http_requests);
            set(&mut h.requests_per_minute, self.http_requests_per_minute);
            set(&mut h.request_kb, self.http_request_kb);
        }
        if self.rest_requests.is_some() || self.rest_response_kb.is_some() {
            let r = w.rest.get_or_insert_with(RestWorkload::default);
            set(&mut r.requests, self.rest_requests);
            set(&mut r.response_kb, self.rest_response_kb);
        }
        if self.ws_messages.is_some()
            || self.ws_message_kb.is_some()
            || self.ws_connection_minutes.is_some()
        {
            let s = w.websocket.get_or_insert_with(WebsocketWorkload::default);
            set(&mut s.messages, self.ws_messages);
            set(&mut s.message_kb, self.ws_message_kb);
            set(&mut s.connection_minutes, self.ws_connection_minutes);
        }
        if let Some(size_gb) = self.cache_gb {
            w.cache = Some(CacheWorkload {
                size_gb,
                hours: self.cache_hours,
            });
        }
        set(&mut w.data_out_gb, self.data_out_gb);
        w.quantities()?;
        Ok(w)
    }
}

fn set(field: &mut Option<Decimal>, value: Option<Decimal>) {
    if value.is_some() {
        *field = value;
    }
}

pub fn run_estimate(args: &EstimateArgs) -> anyhow::Result<()> {
    let workload = args.workload()?;
    let e = estimate(&Catalog::embedded(), &workload)?;
    let out = match args.format {
        Format::Table => e.to_table(),
        Format::Json => e.to_json(),
        Format::Csv => e.to_csv(),
    };
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
    /// FinOps FOCUS 1.2 rows (CSV), grouped by api, stage, route, key, status, reason, tags.
    Focus,
}

/// The bill from the ledger for a period.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The ledger to read (default sqlite://tollgate.db in the working directory).
    #[arg(long, value_name = "URL", default_value = crate::serve::DEFAULT_STORE)]
    pub store: String,
    /// Start of the period, UTC: YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (default: the
    /// start of the current month).
    #[arg(long)]
    pub from: Option<String>,
    /// End of the period, exclusive, same forms (default: now).
    #[arg(long)]
    pub to: Option<String>,
    /// Group by any of api, stage, route, key, client, status, reason, region, tag:NAME
    /// (comma-separated); over an imported bill, any of api, stage, account, region,
    /// usage_type, month, tag:NAME, cost_category:NAME.
    #[arg(long)]
    pub by: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReportFormat,
    /// What is reported: metered usage priced by the catalog, or imported AWS bill lines at
    /// their own unblended cost (as `cost bill`). Auto: metered usage when the period holds
    /// any, else the bill.
    #[arg(long, value_enum, default_value = "auto")]
    pub data: crate::data::DataChoice,
    /// Over an imported bill: also price its usage with tollgate's catalog (as `cost bill
    /// --reprice`).
    #[arg(long)]
    pub reprice: bool,
    #[command(flatten)]
    pub prices: PriceArgs,
}

/// Where prices come from.
#[derive(Args, Debug)]
pub struct PriceArgs {
    /// Apply the legacy 12-month free tier to each month.
    #[arg(long)]
    pub free_tier: bool,
    /// An AWS Price List offer file for AmazonApiGateway (.json or .csv) instead of the
    /// embedded tables.
    #[arg(long, value_name = "FILE")]
    pub offer_file: Option<PathBuf>,
}

impl PriceArgs {
    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        let Some(path) = &self.offer_file else {
            return Ok(Catalog::embedded());
        };
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let is_csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let catalog = if is_csv {
            Catalog::from_offer_csv(std::io::BufReader::new(file))
        } else {
            let text = std::io::read_to_string(file)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Catalog::from_offer_json(&text)
        };
        catalog.with_context(|| path.display().to_string())
    }

    pub fn free_tier(&self) -> FreeTier {
        self.free_tier.into()
    }
}

/// `cost report` over imported bill lines: `cost bill` for the report's period.
fn run_bill_report(
    args: &ReportArgs,
    period: tollgate_pricing::report::Period,
) -> anyhow::Result<()> {
    let format = match args.format {
        ReportFormat::Table => Format::Table,
        ReportFormat::Json => Format::Json,
        ReportFormat::Csv => Format::Csv,
        ReportFormat::Focus => anyhow::bail!(
            "--format focus exports metered usage; an imported bill is already AWS's own \
             export (use --data metered, or --format table|json|csv)"
        ),
    };
    crate::bill::run(&crate::bill::BillArgs {
        store: args.store.clone(),
        from: Some(period.start_rfc3339()),
        to: Some(period.end_rfc3339()),
        by: args.by.clone(),
        format,
        reprice: args.reprice,
        prices: PriceArgs {
            free_tier: args.prices.free_tier,
            offer_file: args.prices.offer_file.clone(),
        },
    })
}

pub fn run_report(args: &ReportArgs) -> anyhow::Result<()> {
    let url = tollgate_store::parse_store_url(&args.store)?;
    // The period alone first: which data to read depends on it, the dimensions on the data.
    let period = ReportParams::parse(args.from.as_deref(), args.to.as_deref(), None)?.period;
    let data = crate::data::open(&url, args.data, period.start(), period.end())?;
    let mut ledger = match data {
        crate::data::Data::Metered(ledger) => ledger,
        crate::data::Data::Bill(_) => return run_bill_report(args, period),
    };
    if args.reprice {
        anyhow::bail!("--reprice applies to imported bills (--data bill); metered usage is always priced by the catalog");
    }
    let params = ReportParams::parse(args.from.as_deref(), args.to.as_deref(), args.by.as_deref())?;
    let catalog = args.prices.catalog()?;
    let out = match args.format {
        ReportFormat::Focus => report::focus(
            ledger.as_mut(),
            &catalog,
            args.prices.free_tier(),
            params.period,
        )?,
        f => {
            let r = report::cost(ledger.as_mut(), &catalog, args.prices.free_tier(), &params)?;
            // WebSocket APIs also get their two meters side by side (JSON and table).
            let ws = match f {
                ReportFormat::Csv => Vec::new(),
                _ => report::websocket_lines(
                    ledger.as_mut(),
                    &catalog,
                    args.prices.free_tier(),
                    params.period,
                )?,
            };
            match f {
                ReportFormat::Json if !ws.is_empty() => {
                    let mut v: serde_json::Value = serde_json::from_str(&r.to_json())?;
                    v["websocket"] = ws.iter().map(report::WebsocketLine::to_json).collect();
                    serde_json::to_string_pretty(&v)?
                }
                ReportFormat::Json => r.to_json(),
                ReportFormat::Csv => r.to_csv(),
                _ if !ws.is_empty() => r.to_table() + &report::websocket_table(&ws),
                _ => r.to_table(),
            }
        }
    };
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(())
}
