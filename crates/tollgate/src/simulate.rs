//! `tollgate simulate`: write a simulated month of usage into a ledger (docs/simulate.md).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use clap::Args;
use tollgate_analytics::simulate::{ScenarioSpec, SimConfig, Simulation};
use tollgate_pricing::report::Period;
use tollgate_pricing::{display_cost, Catalog};
use tollgate_store::{OpenMode, StoreUrl};
use tollgate_types::time_fmt::rfc3339;

/// Write a realistic period of usage into a ledger, with injectable anomalies, and their
/// ground truth as JSON next to the store.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// The ledger to write (created if missing).
    #[arg(long, value_name = "URL", default_value = crate::serve::DEFAULT_STORE)]
    pub store: String,
    /// Days to simulate.
    #[arg(long, default_value_t = 31)]
    pub days: u32,
    /// Seed of the random generator: the same seed and flags write the same usage.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First day, YYYY-MM-DD (UTC; default: today minus --days, so the period ends at
    /// today's 00:00 UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub start: Option<String>,
    /// AWS region written into the records (whose prices apply).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// A scenario to inject: NAME or NAME:KEY=VALUE,... (retry-storm, bot-traffic,
    /// idle-websockets, payload-growth, new-client, stray-stage). Repeatable.
    #[arg(long = "scenario", value_name = "NAME[:KEY=VALUE,...]")]
    pub scenarios: Vec<String>,
    /// Where to write the ground truth JSON (default: <store file>.truth.json).
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
}

pub fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    // Everything is checked before the store is touched: a bad flag writes nothing.
    let scenarios = args
        .scenarios
        .iter()
        .map(|s| s.parse::<ScenarioSpec>())
        .collect::<Result<Vec<_>, _>>()?;
    let start = match &args.start {
        Some(s) => parse_date(s)?,
        None => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            now - now.rem_euclid(86_400) - i64::from(args.days) * 86_400
        }
    };
    let catalog = Catalog::embedded();
    let sim = Simulation::new(
        SimConfig {
            seed: args.seed,
            start,
            days: args.days,
            region: args.region.clone(),
            scenarios,
        },
        &catalog,
    )?;
    let url = tollgate_store::parse_store_url(&args.store)?;
    let truth_path = match (&args.truth, &url) {
        (Some(p), _) => p.clone(),
        (None, StoreUrl::Sqlite { path }) => {
            let mut p = path.clone().into_os_string();
            p.push(".truth.json");
            PathBuf::from(p)
        }
        (None, _) => bail!("--truth FILE is needed when the store is not a SQLite file"),
    };

    let began = std::time::Instant::now();
    let mut ledger = tollgate_store::open(&url, OpenMode::CreateIfMissing)?;
    let outcome = sim.run(ledger.as_mut())?;
    std::fs::write(&truth_path, outcome.truth.to_json())
        .with_context(|| format!("cannot write {}", truth_path.display()))?;

    let (from, to) = sim.period();
    let period = Period::new(from, to)?;
    eprintln!(
        "simulated {} day(s), {} to {}, seed {}, into {}: {} record(s) written in {} new batch(es){} in {:.1}s",
        args.days,
        period.start_rfc3339(),
        period.end_rfc3339(),
        args.seed,
        ledger.describe(),
        outcome.records_written,
        outcome.batches_applied,
        if outcome.batches_skipped > 0 {
            format!(
                ", {} day(s) already in the ledger (skipped)",
                outcome.batches_skipped
            )
        } else {
            String::new()
        },
        began.elapsed().as_secs_f64(),
    );
    for s in &outcome.truth.scenarios {
        eprintln!(
            "  {}: {} to {}, extra cost ${}, monthly saving ${}",
            s.name,
            rfc3339(s.start),
            rfc3339(s.end),
            display_cost(s.extra_cost, 2),
            display_cost(s.monthly_saving, 2),
        );
    }
    eprintln!("ground truth: {}", truth_path.display());
    Ok(())
}

/// `YYYY-MM-DD` → its UTC midnight.
fn parse_date(s: &str) -> anyhow::Result<i64> {
    if s.len() != 10 {
        bail!("--start {s}: expected a date, YYYY-MM-DD");
    }
    Ok(Period::parse(s, "9999-12-31")
        .with_context(|| format!("--start {s}: expected a date, YYYY-MM-DD"))?
        .start())
}
