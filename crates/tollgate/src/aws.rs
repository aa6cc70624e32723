//! `tollgate aws import`: read AWS billing exports (legacy CUR, CUR 2.0, FOCUS; CSV, CSV.gz,
//! Parquet) and load their API Gateway lines into the ledger, one transaction per file, apart
//! from gateway-metered usage (`tollgate cost bill` reports them). A file whose content was
//! imported before is not imported again. With `--dry-run`, print what the files hold — lines,
//! usage and unblended cost per format, account, region and meter; other services skipped;
//! malformed rows — without writing anything.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tollgate_aws::{AwsError, BillReader, Malformed, ReadOptions, ReadReport, Sum};
use tollgate_store::{BillLedger, ImportMeta, ImportOutcome, ImportRecord, Supersession};
use tollgate_types::time_fmt::rfc3339;

#[derive(Subcommand, Debug)]
pub enum AwsCommand {
    /// Load CUR, CUR 2.0 and FOCUS exports (CSV, CSV.gz, Parquet) into the ledger, or only
    /// read and summarise them (--dry-run).
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
    /// The ledger to load into (created if missing). Imported lines are kept apart from
    /// metered usage: `tollgate cost bill` reports them.
    #[arg(long, value_name = "URL", default_value = crate::serve::DEFAULT_STORE)]
    pub store: String,
    /// Read and summarise the files without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// A malformed row fails its whole file (nothing from that file is counted or written).
    #[arg(long)]
    pub strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ImportFormat::Table)]
    pub format: ImportFormat,
    /// Malformed rows shown per file (all are counted).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub max_malformed: usize,
    /// Add the files' lines to what earlier imports hold for the same months, instead of
    /// replacing them (for the parts of one delivery imported by separate commands). By
    /// default the files of one command are one delivery: for each billing month and payer
    /// account they cover, the lines of earlier imports are replaced.
    #[arg(long)]
    pub append: bool,
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
    if args.dry_run {
        run_dry(args)
    } else {
        run_import(args)
    }
}

/// `--dry-run`: read and summarise, write nothing.
fn run_dry(args: &ImportArgs) -> anyhow::Result<bool> {
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
    let (mut reader, bar) = open_reader(path, opts, show_progress)?;
    let mut groups: BTreeMap<Key, Sum> = BTreeMap::new();
    // The reader sums by account, region, meter and currency itself (no `BillLine` per line).
    let format = reader.format().as_str();
    let result = reader.sum_groups().map(|sums| {
        for (k, s) in sums {
            let key = (
                format.to_string(),
                k.account,
                k.region.unwrap_or_else(|| "(none)".into()),
                k.meter,
                k.currency,
            );
            let e = groups.entry(key).or_default();
            e.lines += s.lines;
            e.usage += s.usage;
            e.cost += s.cost;
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result?;
    Ok((groups, reader.finish()))
}

/// Opens a file's reader, with a progress bar on a terminal.
fn open_reader(
    path: &std::path::Path,
    opts: &ReadOptions,
    show_progress: bool,
) -> Result<(BillReader, Option<indicatif::ProgressBar>), AwsError> {
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
    Ok((reader, bar))
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

// === Loading into the ledger ===

/// What happened to one file of a (non-dry-run) import.
enum Loaded {
    /// Its lines were written.
    Imported {
        record: ImportRecord,
        overlapping_line_ids: u64,
        malformed: Vec<Malformed>,
    },
    /// The same content was imported before; nothing read or written.
    Already(ImportRecord),
    /// Nothing written.
    Failed(String),
}

/// Loads each file into the ledger, one transaction per file.
fn run_import(args: &ImportArgs) -> anyhow::Result<bool> {
    let url = tollgate_store::parse_store_url(&args.store)?;
    let mut ledger = tollgate_store::open_bill(&url, tollgate_store::OpenMode::CreateIfMissing)?;
    let opts = ReadOptions {
        strict: args.strict,
        max_reported: args.max_malformed,
    };
    let show_progress = std::io::stderr().is_terminal();
    let mut loaded = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let file = path.display().to_string();
        let outcome = load_one(ledger.as_mut(), path, &file, &opts, show_progress);
        loaded.push((file, outcome));
    }
    let ok = loaded.iter().all(|(_, l)| !matches!(l, Loaded::Failed(_)));
    // A delivery replaces earlier ones only when all of it was read: a failed part would
    // otherwise leave its months short.
    let replaced = if ok && !args.append {
        let delivery: Vec<i64> = loaded
            .iter()
            .filter_map(|(_, l)| match l {
                Loaded::Imported { record, .. } | Loaded::Already(record) => Some(record.id),
                Loaded::Failed(_) => None,
            })
            .collect();
        ledger.supersede(&delivery)?
    } else {
        Vec::new()
    };
    let store = ledger.describe_bill();
    match args.format {
        ImportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&loaded_json(&store, &loaded, &replaced))?
        ),
        ImportFormat::Table => print!("{}", loaded_table(&store, &loaded, &replaced)),
    }
    if !ok && !args.append {
        eprintln!(
            "tollgate: earlier imports of these months were kept (a file failed); rerun with \
             the failed file fixed to replace them"
        );
    }
    for (_, l) in &loaded {
        if let Loaded::Failed(e) = l {
            eprintln!("tollgate: {e} (nothing from this file was written)");
        }
    }
    Ok(ok)
}

fn load_one(
    ledger: &mut dyn BillLedger,
    path: &std::path::Path,
    file: &str,
    opts: &ReadOptions,
    show_progress: bool,
) -> Loaded {
    let sha = match sha256_file(path) {
        Ok(s) => s,
        Err(e) => return Loaded::Failed(format!("{file}: {e}")),
    };
    // Known content: not even read again.
    match ledger.find_import(&sha) {
        Ok(Some(record)) => return Loaded::Already(record),
        Ok(None) => {}
        Err(e) => return Loaded::Failed(format!("{file}: {e}")),
    }
    let (reader, bar) = match open_reader(path, opts, show_progress) {
        Ok(r) => r,
        Err(e) => return Loaded::Failed(e.to_string()),
    };
    let meta = ImportMeta {
        file_name: file.to_string(),
        content_sha256: sha,
        format: reader.format(),
        container: reader.container(),
    };
    let (result, reader) = import_read_ahead(ledger, &meta, reader, path);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(ImportOutcome::Imported {
            import,
            overlapping_line_ids,
        }) => Loaded::Imported {
            record: import,
            overlapping_line_ids,
            malformed: match reader {
                Some(reader) => reader.finish().malformed,
                None => Vec::new(),
            },
        },
        Ok(ImportOutcome::AlreadyImported(record)) => Loaded::Already(record),
        Err(tollgate_store::ImportError::Read(e)) => Loaded::Failed(e.to_string()),
        Err(e) => Loaded::Failed(format!("{file}: {e}")),
    }
}

/// Lines handed from the reading thread to the importing one per message.
const READ_AHEAD_BATCH: usize = 1024;
/// Batches in flight between them (bounded: memory stays a few thousand lines).
const READ_AHEAD_DEPTH: usize = 4;

/// What the reading thread sends: lines (an error ends them), then the read's report.
enum ReadAhead {
    Lines(Vec<Result<tollgate_aws::BillLine, AwsError>>),
    End(Box<ReadReport>),
}

/// The importing side of [`import_read_ahead`]: the lines as the reader gave them, in order.
struct ReadAheadSource {
    rx: std::sync::mpsc::Receiver<ReadAhead>,
    batch: std::vec::IntoIter<Result<tollgate_aws::BillLine, AwsError>>,
    report: ReadReport,
    ended: bool,
    file: PathBuf,
}

impl Iterator for ReadAheadSource {
    type Item = Result<tollgate_aws::BillLine, AwsError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(line) = self.batch.next() {
                return Some(line);
            }
            if self.ended {
                return None;
            }
            match self.rx.recv() {
                Ok(ReadAhead::Lines(lines)) => self.batch = lines.into_iter(),
                Ok(ReadAhead::End(report)) => {
                    self.report = *report;
                    self.ended = true;
                }
                // The reading thread stopped without its report (it panicked): fail the file,
                // so the import rolls back rather than committing part of it.
                Err(_) => {
                    self.ended = true;
                    return Some(Err(AwsError::Io {
                        file: self.file.clone(),
                        source: std::io::Error::other("the reading thread stopped unexpectedly"),
                    }));
                }
            }
        }
    }
}

impl tollgate_store::BillSource for ReadAheadSource {
    fn read_report(&self) -> &ReadReport {
        &self.report
    }
}

/// Imports `reader`'s lines with the file read (decoded, normalised) on a second thread while
/// this one writes to the ledger, through a bounded queue. The lines, their order, the
/// report and every error are the reader's own; the import is still one transaction that an
/// error rolls back. Returns the reader for its final report (`None` if its thread panicked).
fn import_read_ahead(
    ledger: &mut dyn BillLedger,
    meta: &ImportMeta,
    mut reader: BillReader,
    path: &std::path::Path,
) -> (
    Result<ImportOutcome, tollgate_store::ImportError>,
    Option<BillReader>,
) {
    let (tx, rx) = std::sync::mpsc::sync_channel(READ_AHEAD_DEPTH);
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            let mut batch = Vec::with_capacity(READ_AHEAD_BATCH);
            loop {
                match reader.next() {
                    Some(line) => {
                        let failed = line.is_err();
                        batch.push(line);
                        if failed || batch.len() == READ_AHEAD_BATCH {
                            let full =
                                std::mem::replace(&mut batch, Vec::with_capacity(READ_AHEAD_BATCH));
                            // A closed queue: the import stopped (and rolled back).
                            if tx.send(ReadAhead::Lines(full)).is_err() || failed {
                                return reader;
                            }
                        }
                    }
                    None => {
                        if !batch.is_empty() && tx.send(ReadAhead::Lines(batch)).is_err() {
                            return reader;
                        }
                        let _ = tx.send(ReadAhead::End(Box::new(reader.report().clone())));
                        return reader;
                    }
                }
            }
        });
        let mut source = ReadAheadSource {
            rx,
            batch: Vec::new().into_iter(),
            report: ReadReport {
                file: meta.file_name.clone(),
                format: meta.format,
                container: meta.container,
                rows: 0,
                lines: 0,
                skipped_by_service: BTreeMap::new(),
                malformed_count: 0,
                malformed: Vec::new(),
            },
            ended: false,
            file: path.to_path_buf(),
        };
        let result = ledger.import_file(meta, &mut source);
        // Unblocks a reader still sending (an import that failed early).
        drop(source);
        (result, producer.join().ok())
    })
}

/// SHA-256 of a file's bytes, lowercase hex, read in 1 MiB pieces.
pub(crate) fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)?;
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    let digest = ctx.finish();
    let mut hex = String::with_capacity(64);
    for b in digest.as_ref() {
        let _ = write!(hex, "{b:02x}");
    }
    Ok(hex)
}

/// `legacy CUR`, `CUR 2.0`, `FOCUS` from the stored names.
fn format_label(format: &str) -> &str {
    match format {
        "legacy_cur" => "legacy CUR",
        "cur2" => "CUR 2.0",
        "focus" => "FOCUS",
        other => other,
    }
}

fn container_label(container: &str) -> &str {
    match container {
        "csv" => "CSV",
        "csv_gz" => "CSV.gz",
        "parquet" => "Parquet",
        other => other,
    }
}

fn record_json(status: &str, r: &ImportRecord) -> serde_json::Map<String, Value> {
    let v = json!({
        "status": status,
        "import_id": r.id,
        "format": r.format,
        "container": r.container,
        "rows": r.rows,
        "lines": r.lines,
        "skipped_by_service": r.skipped_by_service,
        "malformed_count": r.malformed,
        "imported_at": rfc3339(r.imported_at),
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

fn supersession_json(s: &Supersession) -> Value {
    json!({
        "import_id": s.import_id,
        "file": s.file_name,
        "superseded_by": s.superseded_by,
        "billing_period": s.billing_period,
        "payer_account": s.payer_account,
        "lines": s.lines,
    })
}

fn loaded_json(store: &str, loaded: &[(String, Loaded)], replaced: &[Supersession]) -> Value {
    let mut imported_lines = 0u64;
    let files: Vec<Value> = loaded
        .iter()
        .map(|(file, l)| {
            let mut m = match l {
                Loaded::Imported {
                    record,
                    overlapping_line_ids,
                    malformed,
                } => {
                    imported_lines += record.lines;
                    let mut m = record_json("imported", record);
                    m.insert(
                        "overlapping_line_ids".into(),
                        (*overlapping_line_ids).into(),
                    );
                    m.insert(
                        "malformed".into(),
                        malformed.iter().map(malformed_json).collect(),
                    );
                    m
                }
                Loaded::Already(record) => {
                    let mut m = record_json("already_imported", record);
                    m.insert("imported_as".into(), record.file_name.clone().into());
                    m
                }
                Loaded::Failed(e) => {
                    let mut m = serde_json::Map::new();
                    m.insert("status".into(), "failed".into());
                    m.insert("error".into(), e.clone().into());
                    m
                }
            };
            m.insert("file".into(), file.clone().into());
            Value::Object(m)
        })
        .collect();
    json!({
        "store": store,
        "files": files,
        "imported_lines": imported_lines,
        "replaced": replaced.iter().map(supersession_json).collect::<Vec<_>>(),
    })
}

fn record_summary(r: &ImportRecord) -> String {
    let mut s = format!(
        "{} {}, {} rows, {} API Gateway lines, {} other-service rows skipped",
        format_label(&r.format),
        container_label(&r.container),
        r.rows,
        r.lines,
        r.skipped_by_service.values().sum::<u64>()
    );
    if !r.skipped_by_service.is_empty() {
        let list: Vec<String> = r
            .skipped_by_service
            .iter()
            .map(|(svc, n)| format!("{svc} {n}"))
            .collect();
        let _ = write!(s, " ({})", list.join(", "));
    }
    let _ = write!(s, ", {} malformed", r.malformed);
    s
}

fn loaded_table(store: &str, loaded: &[(String, Loaded)], replaced: &[Supersession]) -> String {
    let mut out = String::new();
    let (mut new, mut already, mut failed, mut lines) = (0, 0, 0, 0u64);
    let mut malformed_rows: Vec<&Malformed> = Vec::new();
    for (file, l) in loaded {
        match l {
            Loaded::Imported {
                record,
                overlapping_line_ids,
                malformed,
            } => {
                new += 1;
                lines += record.lines;
                let _ = writeln!(
                    out,
                    "{file}: imported as #{}: {}",
                    record.id,
                    record_summary(record)
                );
                if *overlapping_line_ids > 0 && replaced.is_empty() {
                    let _ = writeln!(
                        out,
                        "  warning: {overlapping_line_ids} line item id(s) were already imported \
                         from another file (the same month imported twice with --append, or a \
                         failed part?); reports count both"
                    );
                }
                malformed_rows.extend(malformed);
            }
            Loaded::Already(record) => {
                already += 1;
                let _ = writeln!(
                    out,
                    "{file}: already imported as #{} ({}, {}), nothing written: {}",
                    record.id,
                    record.file_name,
                    rfc3339(record.imported_at),
                    record_summary(record)
                );
            }
            Loaded::Failed(_) => {
                failed += 1;
                let _ = writeln!(out, "{file}: failed, nothing written (see below)");
            }
        }
    }
    if !malformed_rows.is_empty() {
        let _ = writeln!(out, "malformed rows (skipped):");
        for m in malformed_rows {
            let _ = writeln!(out, "  {m}");
        }
    }
    for r in replaced {
        let _ = writeln!(
            out,
            "replaced: {} line(s) of #{} ({}) for {}, payer {}, by this delivery (#{})",
            r.lines, r.import_id, r.file_name, r.billing_period, r.payer_account, r.superseded_by
        );
    }
    let _ = writeln!(
        out,
        "{store}: {new} file(s) imported ({lines} lines), {already} already imported, {failed} failed"
    );
    out
}
