//! The `tollgate` binary: parse the command line, wire the crates together, map errors to an
//! exit code. All behaviour lives in the library crates.

mod access_logs;
mod alerts;
mod anomalies;
mod aws;
mod bill;
mod budgets;
mod cost;
mod data;
mod forecast;
mod movers;
mod recommend;
mod reconcile;
mod report;
mod serve;
mod simulate;
mod timeseries;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// mimalloc instead of glibc's allocator: the request path allocates on worker threads and the
/// access-log thread frees, and glibc serialises such cross-thread frees on an arena lock
/// (measured: ~14% of gateway CPU in malloc/free and its lock; see bench/RESULTS.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An API gateway with AWS API Gateway's semantics that knows what every request costs.
#[derive(Parser, Debug)]
#[command(name = "tollgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
    /// Check a configuration file; print every error as `file:line:column: message`.
    Validate {
        /// The configuration file (YAML or JSON).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Cost: price workloads, and report the bill from the ledger.
    Cost {
        #[command(subcommand)]
        command: CostCommand,
    },
    /// Write a simulated month of usage, with injectable anomalies, into a ledger.
    Simulate(simulate::SimulateArgs),
    /// AWS's own data: billing exports (CUR, CUR 2.0, FOCUS) and API Gateway access logs.
    Aws {
        #[command(subcommand)]
        command: AwsSubcommand,
    },
}

#[derive(Subcommand, Debug)]
enum CostCommand {
    /// Price a month of traffic without traffic, with AWS's tiers and regions.
    Estimate(cost::EstimateArgs),
    /// The bill from the ledger for a period, grouped by any dimensions.
    Report(cost::ReportArgs),
    /// Month-end projection from the ledger: cost so far plus a seasonal forecast.
    Forecast(forecast::ForecastArgs),
    /// Cost anomalies against a seasonal baseline, each with its cause.
    Anomalies(anomalies::AnomaliesArgs),
    /// The imported AWS bill (`aws import`): the bill's own cost, apart from metered usage.
    Bill(bill::BillArgs),
    /// Savings advice from the ledger, each with its monthly saving and evidence.
    Recommend(recommend::RecommendArgs),
    /// Cost per hour or day, split by one dimension (the dashboard's chart).
    Timeseries(timeseries::TimeseriesArgs),
    /// What changed most against the previous period of the same length.
    Movers(movers::MoversArgs),
}

#[derive(Subcommand, Debug)]
enum AwsSubcommand {
    #[command(flatten)]
    Bill(aws::AwsCommand),
    /// Meter API Gateway access logs (JSON lines) as the gateway would, into the ledger.
    AccessLogs(access_logs::AccessLogsArgs),
    /// Compare the imported bill's usage with the metered usage, per API and meter.
    Reconcile(reconcile::ReconcileArgs),
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print the JSON Schema of the configuration file.
    Schema,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// The configuration file (YAML or JSON).
    #[arg(long, short)]
    pub config: PathBuf,
    /// Listen on this address instead of the first listener's configured one.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Serve the admin API on this address instead of the configured one.
    #[arg(long)]
    pub admin_listen: Option<std::net::SocketAddr>,
    /// Runtime worker threads (default: the config's `server.workers`, else one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// The usage ledger (default: the config's `metering.store`, else `sqlite://tollgate.db`).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { config } => match tollgate_config::load(&config) {
            Ok(c) => {
                println!(
                    "{}: ok ({} listener(s), {} API(s))",
                    config.display(),
                    c.listeners.len(),
                    c.apis.len()
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{errors}");
                ExitCode::FAILURE
            }
        },
        Command::Config {
            command: ConfigCommand::Schema,
        } => match serde_json::to_string_pretty(&tollgate_config::json_schema()) {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tollgate: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Cost {
            command: CostCommand::Estimate(args),
        } => match cost::run_estimate(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollgate: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Cost {
            command: CostCommand::Report(args),
        } => match cost::run_report(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollgate: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Cost {
            command: CostCommand::Forecast(args),
        } => match forecast::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollgate: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Cost {
            command: CostCommand::Anomalies(args),
        } => match anomalies::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollgate: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Cost {
            command: CostCommand::Movers(args),
        } => match movers::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollgate: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Cost {
            command: CostCommand::Timeseries(args),
        } => match timeseries::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollgate: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Cost {
            command: CostCommand::Bill(args),
        } => match bill::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollgate: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Cost {
            command: CostCommand::Recommend(args),
        } => match recommend::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollgate: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Simulate(args) => match simulate::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollgate: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Aws { command } => match match &command {
            AwsSubcommand::Bill(c) => aws::run(c),
            AwsSubcommand::AccessLogs(args) => access_logs::run(args),
            AwsSubcommand::Reconcile(args) => reconcile::run(args),
        } {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("tollgate: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Serve(args) => match serve::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollgate: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
