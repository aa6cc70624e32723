//! `tollgate aws import`: read AWS billing exports (legacy CUR, CUR 2.0, FOCUS; CSV, CSV.gz,
//! Parquet). With `--dry-run`, print what the files hold — lines, usage and unblended cost per
//! format, account, region and meter; other services skipped; malformed rows — without writing
//! anything. Loading into the ledger comes with the next part of issue 7.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tollgate_aws::{meter_key, AwsError, BillReader, Malformed, ReadOptions, ReadReport, Sum};

#[derive(Subcommand, Debug)]
pub enum AwsCommand {
    /// Read CUR, CUR 2.0 and FOCUS exports (CSV, CSV.gz, Parquet).
    Import(ImportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The export files; their kind is detected from their content.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Read and summarise the files without writing anything (required for now: loading into
    /// the ledger is not there yet).
    #[arg(long)]
    pub dry_run: bool,
    /// A malformed row fails its whole file (nothing from that file is counted).
    #[arg(long)]
    pub strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ImportFormat::Table)]
    pub format: ImportFormat,
    /// Malformed rows shown per file (all are counted).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub max_malformed: usize,
}

/// Group key: format, account, region, meter, currency.
type Key = (String, String, String, String, String);

/// One file's outcome.
struct FileOutcome {
    file: String,
    report: Option<ReadReport>,
    error: Option<String>,
}

pub fn run(command: &AwsCommand) -> anyhow::Result<bool> {
    let AwsCommand::Import(args) = command;
    if !args.dry_run {
        bail!(
            "loading AWS exports into the ledger is not available yet; use --dry-run to read and \
             summarise the files"
        );
    }
    let opts = ReadOptions {
        strict: args.strict,
        max_reported: args.max_malformed,
    };
    let show_progress = std::io::stderr().is_terminal();
    let mut groups: BTreeMap<Key, Sum> = BTreeMap::new();
    let mut outcomes = Vec::new();
    for path in &args.files {
        let file = path.display().to_string();
        match read_one(path, &opts, show_progress) {
            Ok((file_groups, report)) => {
                for (k, s) in file_groups {
                    let e = groups.entry(k).or_default();
                    e.lines += s.lines;
                    e.usage += s.usage;
                    e.cost += s.cost;
                }
                outcomes.push(FileOutcome {
                    file,
                    report: Some(report),
                    error: None,
                });
            }
            Err(e) => outcomes.push(FileOutcome {
                file,
                report: None,
                error: Some(e.to_string()),
            }),
        }
    }
    let ok = outcomes.iter().all(|o| o.error.is_none());
    match args.format {
        ImportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&groups, &outcomes))?
        ),
        ImportFormat::Table => print!("{}", to_table(&groups, &outcomes)),
    }
    for o in &outcomes {
        if let Some(e) = &o.error {
            eprintln!("tollgate: {e}");
        }
    }
    Ok(ok)
}

/// Reads one file completely; its groups count only if the whole file was read.
fn read_one(
    path: &std::path::Path,
    opts: &ReadOptions,
    show_progress: bool,
) -> Result<(BTreeMap<Key, Sum>, ReadReport), AwsError> {
    let mut reader = BillReader::open(path, opts)?;
    let bar = show_progress.then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(path.display().to_string());
        bar
    });
    if let Some(bar) = bar.clone() {
        reader.on_progress(move |p| {
            bar.set_length(p.total_bytes);
            bar.set_position(p.bytes);
        });
    }
    let mut groups: BTreeMap<Key, Sum> = BTreeMap::new();
    let result = (|| {
        for line in &mut reader {
            let l = line?;
            let key = (
                l.source.as_str().to_string(),
                l.account.clone(),
                l.region.clone().unwrap_or_else(|| "(none)".into()),
                meter_key(&l),
                l.currency.clone(),
            );
            let e = groups.entry(key).or_default();
            e.lines += 1;
            e.usage += l.usage_amount;
            e.cost += l.unblended_cost;
        }
        Ok::<_, AwsError>(())
    })();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result?;
    Ok((groups, reader.finish()))
}

fn exact(d: Decimal) -> String {
    d.normalize().to_string()
}

fn malformed_json(m: &Malformed) -> Value {
    let (kind, n) = match m.location {
        tollgate_aws::Location::Line(n) => ("line", n),
        tollgate_aws::Location::Row(n) => ("row", n),
    };
    json!({"file": m.file, kind: n, "column": m.column, "message": m.message})
}

fn to_json(groups: &BTreeMap<Key, Sum>, outcomes: &[FileOutcome]) -> Value {
    let rows: Vec<Value> = groups
        .iter()
        .map(|((format, account, region, meter, currency), s)| {
            json!({
                "format": format, "account": account, "region": region, "meter": meter,
                "lines": s.lines, "usage": exact(s.usage), "unblended_cost": exact(s.cost),
                "currency": currency,
            })
        })
        .collect();
    let mut totals: BTreeMap<&str, Decimal> = BTreeMap::new();
    for ((.., currency), s) in groups {
        *totals.entry(currency).or_default() += s.cost;
    }
    let mut skipped: BTreeMap<&str, u64> = BTreeMap::new();
    let files: Vec<Value> = outcomes
        .iter()
        .map(|o| match &o.report {
            Some(r) => {
                for (svc, n) in &r.skipped_by_service {
                    *skipped.entry(svc).or_default() += n;
                }
                json!({
                    "file": o.file, "format": r.format, "container": r.container,
                    "rows": r.rows, "lines": r.lines, "skipped_by_service": r.skipped_by_service,
                    "malformed_count": r.malformed_count,
                    "malformed": r.malformed.iter().map(malformed_json).collect::<Vec<_>>(),
                })
            }
            None => json!({"file": o.file, "error": o.error}),
        })
        .collect();
    json!({
        "dry_run": true,
        "files": files,
        "rows": rows,
        "lines": groups.values().map(|s| s.lines).sum::<u64>(),
        "total": totals.iter().map(|(c, t)| (c.to_string(), Value::from(exact(*t)))).collect::<serde_json::Map<_, _>>(),
        "skipped_by_service": skipped,
        "malformed_count": outcomes.iter().filter_map(|o| o.report.as_ref()).map(|r| r.malformed_count).sum::<u64>(),
    })
}

fn to_table(groups: &BTreeMap<Key, Sum>, outcomes: &[FileOutcome]) -> String {
    let header: Vec<String> = [
        "format",
        "account",
        "region",
        "meter",
        "lines",
        "usage",
        "unblended cost",
    ]
    .map(String::from)
    .to_vec();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut totals: BTreeMap<&str, (u64, Decimal)> = BTreeMap::new();
    for ((format, account, region, meter, currency), s) in groups {
        let dp = if meter.starts_with("cache_hours") {
            3
        } else {
            2
        };
        rows.push(vec![
            format.clone(),
            account.clone(),
            region.clone(),
            meter.clone(),
            s.lines.to_string(),
            exact(s.usage),
            format!("{} {currency}", tollgate_pricing::display_cost(s.cost, dp)),
        ]);
        let t = totals.entry(currency).or_default();
        t.0 += s.lines;
        t.1 += s.cost;
    }
    for (currency, (lines, cost)) in &totals {
        rows.push(vec![
            "total".into(),
            String::new(),
            String::new(),
            String::new(),
            lines.to_string(),
            String::new(),
            format!("{} {currency}", tollgate_pricing::display_cost(*cost, 2)),
        ]);
    }
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(rows.iter()) {
        for (i, (c, w)) in r.iter().zip(&widths).enumerate() {
            if i < 4 {
                let _ = write!(out, "{c:<w$}  ");
            } else {
                let _ = write!(out, "  {c:>w$}");
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    let mut skipped: BTreeMap<&str, u64> = BTreeMap::new();
    out.push('\n');
    for o in outcomes {
        match &o.report {
            Some(r) => {
                let _ = writeln!(
                    out,
                    "{}: {} {}, {} rows, {} API Gateway lines, {} other-service rows skipped, {} malformed",
                    o.file,
                    r.format,
                    r.container,
                    r.rows,
                    r.lines,
                    r.skipped(),
                    r.malformed_count
                );
                for (svc, n) in &r.skipped_by_service {
                    *skipped.entry(svc).or_default() += n;
                }
            }
            None => {
                let _ = writeln!(out, "{}: failed (see below)", o.file);
            }
        }
    }
    if !skipped.is_empty() {
        let list: Vec<String> = skipped.iter().map(|(s, n)| format!("{s} {n}")).collect();
        let _ = writeln!(out, "skipped by service: {}", list.join(", "));
    }
    let malformed: Vec<&Malformed> = outcomes
        .iter()
        .filter_map(|o| o.report.as_ref())
        .flat_map(|r| &r.malformed)
        .collect();
    if !malformed.is_empty() {
        let _ = writeln!(out, "malformed rows (skipped):");
        for m in malformed {
            let _ = writeln!(out, "  {m}");
        }
    }
    out
}
