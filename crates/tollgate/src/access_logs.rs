//! `tollgate aws access-logs`: meter API Gateway access logs (JSON lines, as CloudWatch Logs
//! exports them) exactly as the gateway meters requests, into the usage ledger. Each file is
//! written as batches whose ids are its content hash plus the chunk index, so importing the
//! same log again changes nothing (within the ledger's batch-id window, 7 days).
//! docs/aws-import.md ("Access logs") gives the rules.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use tollgate_aws::{
    read_access_log, AccessLogReport, ApiType, FieldMap, Malformed, MeterOptions, ReadSettings,
};
use tollgate_meter::BillingPolicy;
use tollgate_store::{Ledger, OpenMode, SqliteLedger, SqliteOptions, StoreUrl};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiTypeArg {
    Http,
    Rest,
    Websocket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct AccessLogsArgs {
    /// The access-log files: JSON lines (one object per line, optionally behind CloudWatch's
    /// `TIMESTAMP ` prefix), plain or gzip.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// The ledger to meter into (created if missing).
    #[arg(long, value_name = "URL", default_value = crate::serve::DEFAULT_STORE)]
    pub store: String,
    /// The kind of API that wrote the log: it decides the meter.
    #[arg(long, value_enum)]
    pub api_type: ApiTypeArg,
    /// The access-log format configured on the stage (JSON); its keys say which `$context`
    /// variable each field holds. Without it, common key names are recognised.
    #[arg(long, value_name = "FORMAT")]
    pub format_string: Option<String>,
    /// The region whose prices apply.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The API id, when the log does not record `$context.apiId`.
    #[arg(long, value_name = "ID")]
    pub api_id: Option<String>,
    /// The stage, when the log does not record `$context.stage` (HTTP APIs: `$default`).
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// A malformed line fails its whole file (nothing from that file is written).
    #[arg(long)]
    pub strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Malformed lines shown per file (all are counted).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub max_malformed: usize,
}

/// One file's outcome.
enum Outcome {
    Read(AccessLogReport),
    Failed(String),
}

pub fn run(args: &AccessLogsArgs) -> anyhow::Result<bool> {
    let fields = match &args.format_string {
        Some(f) => FieldMap::from_format(f)?,
        None => FieldMap::auto(),
    };
    let opts = MeterOptions {
        api_type: match args.api_type {
            ApiTypeArg::Http => ApiType::Http,
            ApiTypeArg::Rest => ApiType::Rest,
            ApiTypeArg::Websocket => ApiType::Websocket,
        },
        fields,
        region: args.region.clone(),
        api_id: args.api_id.clone(),
        stage: args.stage.clone(),
        policy: BillingPolicy::default(),
    };
    let url = tollgate_store::parse_store_url(&args.store)?;
    let mut ledger: Box<dyn Ledger> = match &url {
        StoreUrl::Sqlite { path } => Box::new(SqliteLedger::open(
            path,
            OpenMode::CreateIfMissing,
            // A one-off command can wait for a running gateway's flush.
            SqliteOptions {
                busy_timeout: std::time::Duration::from_secs(5),
            },
        )?),
        StoreUrl::Postgres { .. } => tollgate_store::open(&url, OpenMode::CreateIfMissing)?,
    };
    let settings = ReadSettings {
        strict: args.strict,
        max_reported: args.max_malformed,
    };
    let mut outcomes = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let file = path.display().to_string();
        let outcome = match crate::aws::sha256_file(path) {
            Err(e) => Outcome::Failed(format!("{file}: {e}")),
            Ok(sha) => {
                let prefix = format!("access-log-{sha}");
                let mut sink = |b: &tollgate_types::usage::UsageBatch| {
                    ledger.append(b).map_err(|e| e.to_string())
                };
                match read_access_log(path, &opts, &settings, &prefix, &mut sink) {
                    Ok(r) => Outcome::Read(r),
                    Err(e) => Outcome::Failed(e.to_string()),
                }
            }
        };
        outcomes.push((file, outcome));
    }
    let ok = outcomes
        .iter()
        .all(|(_, o)| !matches!(o, Outcome::Failed(_)));
    let store = ledger.describe();
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&store, &outcomes))?
        ),
        OutputFormat::Table => print!("{}", to_table(&store, &outcomes)),
    }
    for (_, o) in &outcomes {
        if let Outcome::Failed(e) = o {
            eprintln!("tollgate: {e}");
        }
    }
    Ok(ok)
}

fn malformed_json(m: &Malformed) -> Value {
    json!({
        "file": m.file,
        "line": m.location.number(),
        "field": m.column,
        "message": m.message,
    })
}

fn to_json(store: &str, outcomes: &[(String, Outcome)]) -> Value {
    let files: Vec<Value> = outcomes
        .iter()
        .map(|(file, o)| match o {
            Outcome::Failed(e) => json!({"file": file, "status": "failed", "error": e}),
            Outcome::Read(r) => json!({
                "file": file,
                "status": if r.batches > 0 && r.batches == r.batches_already_applied {
                    "already_imported"
                } else {
                    "imported"
                },
                "lines": r.lines,
                "metered": r.metered,
                "malformed_count": r.malformed_count,
                "malformed": r.malformed.iter().map(malformed_json).collect::<Vec<_>>(),
                "batches": r.batches,
                "batches_already_applied": r.batches_already_applied,
                "records": r.records,
                "unknown_connection_durations": r.unknown_durations,
            }),
        })
        .collect();
    json!({"store": store, "files": files})
}

fn to_table(store: &str, outcomes: &[(String, Outcome)]) -> String {
    let mut out = String::new();
    for (file, o) in outcomes {
        match o {
            Outcome::Failed(e) => {
                let _ = writeln!(out, "{file}: failed: {e}");
            }
            Outcome::Read(r) => {
                let already = if r.batches > 0 && r.batches == r.batches_already_applied {
                    " (already imported: nothing new written)"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "{file}: {} lines, {} metered, {} malformed; {} batch(es), {} already applied{already}",
                    r.lines, r.metered, r.malformed_count, r.batches, r.batches_already_applied
                );
                for m in &r.malformed {
                    let _ = writeln!(out, "  {m}");
                }
                if r.malformed_count > r.malformed.len() as u64 {
                    let _ = writeln!(
                        out,
                        "  … and {} more malformed line(s)",
                        r.malformed_count - r.malformed.len() as u64
                    );
                }
                if r.unknown_durations > 0 {
                    let _ = writeln!(
                        out,
                        "  {} DISCONNECT line(s) without connectedAt or CONNECT: connection time not metered",
                        r.unknown_durations
                    );
                }
            }
        }
    }
    let failed = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
        .count();
    let _ = writeln!(
        out,
        "{store}: {} file(s) metered, {failed} failed",
        outcomes.len() - failed
    );
    out
}
