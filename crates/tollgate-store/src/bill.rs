//! Imported AWS bills: the API Gateway lines of CUR, CUR 2.0 and FOCUS exports, kept in the
//! ledger apart from the usage the gateway meters (issue 7).
//!
//! [`BillLedger::import_file`] loads one file in one transaction: either every line of the
//! file is written, or (a read error, a malformed row in strict mode) none is. A file whose
//! content was imported before (same SHA-256) is not imported again:
//! [`ImportOutcome::AlreadyImported`]. [`BillLedger::query_bill`] sums the lines of a period by
//! any [`BillDimension`]s, always split by meter, line item type and currency, with exact
//! decimal sums of the usage and of the bill's own unblended cost.
//!
//! Nothing here reads or writes the metered `usage_*` tables, and nothing in the metered
//! queries reads these: a report over imported lines says so (`tollgate cost bill`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;

use rusqlite::types::ValueRef;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use rust_decimal::Decimal;
use tollgate_aws::{AwsError, BillLine, BillReader, Container, Format, ReadReport};
use tollgate_meter::LedgerError;
use tollgate_pricing::Meter;

use crate::sqlite::{sql_err, tag_json_path, unix_now, SqliteLedger};

/// What a report shows for a missing value (no region, no API, no meter).
pub const NONE: &str = "(none)";
/// What a `tag:NAME` group shows for lines without that tag: kept, never dropped.
pub const UNTAGGED: &str = "(untagged)";
/// What a `cost_category:NAME` group shows for lines without that category.
pub const UNCATEGORIZED: &str = "(uncategorized)";

/// The file an import reads, identified by its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportMeta {
    /// The file as the user named it.
    pub file_name: String,
    /// SHA-256 of the file's bytes, lowercase hex: the same content is imported once.
    pub content_sha256: String,
    /// The export's format.
    pub format: Format,
    /// How it is stored.
    pub container: Container,
}

/// One imported file, as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    /// The import's id (`bill_lines.import_id`).
    pub id: i64,
    /// The file as named when it was imported.
    pub file_name: String,
    /// SHA-256 of its content.
    pub content_sha256: String,
    /// `legacy_cur`, `cur2` or `focus`.
    pub format: String,
    /// `csv`, `csv_gz` or `parquet`.
    pub container: String,
    /// Data rows read, malformed ones included.
    pub rows: u64,
    /// API Gateway lines written.
    pub lines: u64,
    /// Other services' rows skipped, by product code.
    pub skipped_by_service: BTreeMap<String, u64>,
    /// Malformed rows skipped.
    pub malformed: u64,
    /// When it was imported, Unix seconds.
    pub imported_at: i64,
}

/// What [`BillLedger::import_file`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The file's lines were written.
    Imported {
        /// The new import.
        import: ImportRecord,
        /// Lines of this file whose line item id was already imported from another file (an
        /// updated delivery of a month already imported, or the same month in another
        /// format). Written anyway; a hint for the user, since AWS only promises line item
        /// ids unique within one part of one delivery.
        overlapping_line_ids: u64,
    },
    /// The same content was imported before: nothing was read or written.
    AlreadyImported(ImportRecord),
}

/// Lines of an earlier import replaced by a newer delivery of the same billing period and
/// payer account ([`BillLedger::supersede`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supersession {
    /// The earlier import whose lines were replaced.
    pub import_id: i64,
    /// Its file, as named when it was imported.
    pub file_name: String,
    /// The newest import of the delivery that replaced them.
    pub superseded_by: i64,
    /// The billing period, `YYYY-MM` (the UTC month the lines' usage starts in).
    pub billing_period: String,
    /// The payer account (the usage account for exports without a payer column).
    pub payer_account: String,
    /// Lines deleted.
    pub lines: u64,
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The file failed (unreadable, or a malformed row in strict mode): nothing from it was
    /// written.
    #[error(transparent)]
    Read(#[from] AwsError),
}

/// The lines of one file, then what reading them saw. [`BillReader`] is one.
pub trait BillSource: Iterator<Item = Result<BillLine, AwsError>> {
    /// The read's report (rows, other services skipped, malformed rows), complete once the
    /// iterator has ended.
    fn read_report(&self) -> &ReadReport;
}

impl BillSource for BillReader {
    fn read_report(&self) -> &ReadReport {
        self.report()
    }
}

/// A dimension imported bill lines can be grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BillDimension {
    /// The API id from the resource id (`(none)` when the bill has none).
    Api,
    /// The stage from the resource id (`(none)`).
    Stage,
    /// The usage account.
    Account,
    /// The region code (`(none)` for lines without one, e.g. tax).
    Region,
    /// The usage type verbatim (`USE1-ApiGatewayRequest`; `(none)` when empty).
    UsageType,
    /// The meter key (`rest_requests`, `cache_hours:0.5`, `(none)`).
    Meter,
    /// `Usage`, `Credit`, `Refund`, `Tax`, …
    LineItemType,
    /// The calendar month of the line's start, `YYYY-MM` (UTC).
    Month,
    /// A cost-allocation tag's value; `(untagged)` for lines without it.
    Tag(String),
    /// A cost category's value; `(uncategorized)` for lines without it.
    CostCategory(String),
}

impl BillDimension {
    /// The dimension's name as written in `--by` and shown as a column (`tag:team`).
    pub fn name(&self) -> String {
        match self {
            BillDimension::Api => "api".into(),
            BillDimension::Stage => "stage".into(),
            BillDimension::Account => "account".into(),
            BillDimension::Region => "region".into(),
            BillDimension::UsageType => "usage_type".into(),
            BillDimension::Meter => "meter".into(),
            BillDimension::LineItemType => "line_item_type".into(),
            BillDimension::Month => "month".into(),
            BillDimension::Tag(t) => format!("tag:{t}"),
            BillDimension::CostCategory(c) => format!("cost_category:{c}"),
        }
    }

    /// Parses a comma-separated list (`api,account,tag:team`); duplicates are refused.
    pub fn parse_list(list: &str) -> Result<Vec<BillDimension>, String> {
        let mut out: Vec<BillDimension> = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let d: BillDimension = part.parse()?;
            if out.contains(&d) {
                return Err(format!("`{part}` is listed twice"));
            }
            out.push(d);
        }
        Ok(out)
    }

    /// The SQL expression of the dimension; a tag binds its JSON path as `?{param}`.
    fn sql(&self, param: usize) -> String {
        match self {
            BillDimension::Api => format!("COALESCE(api_id, '{NONE}')"),
            BillDimension::Stage => format!("COALESCE(stage, '{NONE}')"),
            BillDimension::Account => "account".into(),
            BillDimension::Region => format!("COALESCE(region, '{NONE}')"),
            BillDimension::UsageType => format!("COALESCE(NULLIF(usage_type, ''), '{NONE}')"),
            BillDimension::Meter => format!(
                "CASE WHEN meter IS NULL THEN '{NONE}' WHEN cache_size_gb IS NULL THEN meter \
                 ELSE meter || ':' || cache_size_gb END"
            ),
            BillDimension::LineItemType => "line_item_type".into(),
            BillDimension::Month => "strftime('%Y-%m', usage_start, 'unixepoch')".into(),
            BillDimension::Tag(_) => format!(
                "COALESCE(NULLIF(CAST(json_extract(tags, ?{param}) AS TEXT), ''), '{UNTAGGED}')"
            ),
            BillDimension::CostCategory(_) => format!(
                "COALESCE(NULLIF(CAST(json_extract(cost_categories, ?{param}) AS TEXT), ''), \
                 '{UNCATEGORIZED}')"
            ),
        }
    }
}

impl FromStr for BillDimension {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "api" => BillDimension::Api,
            "stage" => BillDimension::Stage,
            "account" => BillDimension::Account,
            "region" => BillDimension::Region,
            "usage_type" => BillDimension::UsageType,
            "meter" => BillDimension::Meter,
            "line_item_type" => BillDimension::LineItemType,
            "month" => BillDimension::Month,
            other => match (
                other.strip_prefix("tag:"),
                other.strip_prefix("cost_category:"),
            ) {
                (Some(name), _) if !name.is_empty() => BillDimension::Tag(name.to_string()),
                (_, Some(name)) if !name.is_empty() => {
                    BillDimension::CostCategory(name.to_string())
                }
                _ => {
                    return Err(format!(
                        "unknown dimension `{other}`: expected api, stage, account, region, \
                         usage_type, meter, line_item_type, month, tag:NAME or \
                         cost_category:NAME"
                    ))
                }
            },
        })
    }
}

/// A period of imported lines, grouped: lines whose usage **starts** in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillQuery {
    /// Start, Unix seconds, inclusive.
    pub from: i64,
    /// End, Unix seconds, exclusive.
    pub to: i64,
    /// The dimensions; rows are always also split by meter, line item type and currency.
    pub group_by: Vec<BillDimension>,
}

/// One group of imported lines of one meter, line item type and currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillRow {
    /// Values of the query's dimensions, in order.
    pub group: Vec<String>,
    /// The meter (`None`: API Gateway charges tollgate does not meter, tax, most credits).
    pub meter: Option<Meter>,
    /// The cache size, for cache lines.
    pub cache_size_gb: Option<Decimal>,
    /// `Usage`, `Credit`, `Refund`, `Tax`, …
    pub line_item_type: String,
    /// The currency of the cost.
    pub currency: String,
    /// Bill lines summed.
    pub lines: u64,
    /// Usage, in the usage type's unit, exact.
    pub usage: Decimal,
    /// The bill's unblended cost, exact.
    pub unblended_cost: Decimal,
}

impl BillRow {
    /// The meter key, as `tollgate_aws::meter_key` names it (`cache_hours:0.5`, `(none)`).
    pub fn meter_key(&self) -> String {
        match (self.meter, self.cache_size_gb) {
            (Some(m), Some(gb)) => format!("{m}:{}", gb.normalize()),
            (Some(m), None) => m.to_string(),
            (None, _) => NONE.into(),
        }
    }
}

/// A ledger that keeps imported AWS bills (apart from metered usage).
pub trait BillLedger: Send {
    /// The import of this content, if it was imported.
    fn find_import(&mut self, content_sha256: &str) -> Result<Option<ImportRecord>, LedgerError>;

    /// Imports one file's lines in one transaction. Same content as an earlier import: nothing
    /// is read or written ([`ImportOutcome::AlreadyImported`]). An error from `source` (strict
    /// mode, a corrupt file) rolls everything back: [`ImportError::Read`].
    fn import_file(
        &mut self,
        meta: &ImportMeta,
        source: &mut dyn BillSource,
    ) -> Result<ImportOutcome, ImportError>;

    /// Every import, oldest first.
    fn imports(&mut self) -> Result<Vec<ImportRecord>, LedgerError>;

    /// Makes `delivery` (the imports of one delivery: the files of one `tollgate aws import`)
    /// replace earlier ones. AWS rewrites a billing period's export several times during and
    /// after the month, and a CUR and a FOCUS export of one month hold the same charges: for
    /// each billing period (UTC month of a line's usage start) and payer account (the usage
    /// account when the export has no payer) the delivery's lines cover, the lines of the same
    /// period and payer from imports older than the delivery's newest one, and not part of
    /// it, are deleted, in one transaction, and recorded. Returns what was replaced.
    fn supersede(&mut self, delivery: &[i64]) -> Result<Vec<Supersession>, LedgerError>;

    /// Everything replaced so far, oldest first.
    fn supersessions(&mut self) -> Result<Vec<Supersession>, LedgerError>;

    /// Sums of the lines starting in the period, by the query's dimensions, meter, line item
    /// type and currency; sorted by those, in that order.
    fn query_bill(&mut self, query: &BillQuery) -> Result<Vec<BillRow>, LedgerError>;

    /// The tag keys used by lines starting in the period, sorted.
    fn bill_tag_names(&mut self, from: i64, to: i64) -> Result<Vec<String>, LedgerError>;

    /// The cost category names used by lines starting in the period, sorted.
    fn bill_category_names(&mut self, from: i64, to: i64) -> Result<Vec<String>, LedgerError>;

    /// The shortest usage span (seconds) of the lines starting in the period: 3600 for an
    /// hourly export, 86400 for a daily one; `None` without lines.
    fn bill_min_span(&mut self, from: i64, to: i64) -> Result<Option<i64>, LedgerError>;

    /// The store, for messages (`sqlite://…`).
    fn describe_bill(&self) -> String;
}

const IMPORT_COLUMNS: &str = "id, file_name, content_sha256, format, container, rows, lines, \
     skipped_by_service, malformed, imported_at";

fn import_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<(ImportRecord, String)> {
    let count = |i: usize| -> rusqlite::Result<u64> {
        let n: i64 = row.get(i)?;
        u64::try_from(n).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(i, n))
    };
    Ok((
        ImportRecord {
            id: row.get(0)?,
            file_name: row.get(1)?,
            content_sha256: row.get(2)?,
            format: row.get(3)?,
            container: row.get(4)?,
            rows: count(5)?,
            lines: count(6)?,
            skipped_by_service: BTreeMap::new(),
            malformed: count(8)?,
            imported_at: row.get(9)?,
        },
        row.get(7)?,
    ))
}

fn container_name(c: Container) -> &'static str {
    match c {
        Container::Csv => "csv",
        Container::CsvGz => "csv_gz",
        Container::Parquet => "parquet",
    }
}

/// The page cache of an import's connection, KiB (SQLite's default is 2,000): enough to keep
/// the secondary indexes of a few million lines in memory while they are written.
const IMPORT_CACHE_KIB: i64 = 256 * 1024;

/// A tag or cost-category map as the JSON object text `serde_json::to_string` gives, written
/// into `buf` (reused across lines); an empty map is `{}` without going through the encoder.
fn json_map<'a>(
    m: &BTreeMap<String, String>,
    buf: &'a mut Vec<u8>,
    store: &str,
) -> Result<&'a str, LedgerError> {
    if m.is_empty() {
        return Ok("{}");
    }
    let corrupt = |message: String| LedgerError::Corrupt {
        store: store.to_string(),
        message: format!("cannot encode tags or cost categories: {message}"),
    };
    buf.clear();
    serde_json::to_writer(&mut *buf, m).map_err(|e| corrupt(e.to_string()))?;
    std::str::from_utf8(buf).map_err(|e| corrupt(e.to_string()))
}

fn count_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl SqliteLedger {
    /// The keys of a JSON map column (`tags`, `cost_categories`) over the lines starting in
    /// the period, sorted.
    fn map_keys(&mut self, column: &str, from: i64, to: i64) -> Result<Vec<String>, LedgerError> {
        let on_err = sql_err(&self.store, "bill tag and category names");
        let names = self
            .conn
            .prepare_cached(&format!(
                "SELECT DISTINCT j.key FROM ( \
                   SELECT DISTINCT {column} AS m FROM bill_lines \
                   WHERE usage_start >= ?1 AND usage_start < ?2 \
                 ) AS t, json_each(t.m) AS j ORDER BY j.key"
            ))
            .map_err(&on_err)?
            .query_map([from, to], |r| r.get::<_, String>(0))
            .map_err(&on_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&on_err)?;
        Ok(names)
    }

    fn import_file_tx(
        &mut self,
        meta: &ImportMeta,
        source: &mut dyn BillSource,
    ) -> Result<ImportOutcome, ImportError> {
        let store = self.store.clone();
        let on_err = sql_err(&store, "import bill");
        let now = unix_now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&on_err)?;
        // Checked inside the write transaction: two imports of the same file at once cannot
        // both get past it.
        let earlier = tx
            .prepare_cached(&format!(
                "SELECT {IMPORT_COLUMNS} FROM imports WHERE content_sha256 = ?1"
            ))
            .map_err(&on_err)?
            .query_row([&meta.content_sha256], import_record)
            .optional()
            .map_err(&on_err)?;
        if let Some(found) = earlier {
            drop(tx);
            return Ok(ImportOutcome::AlreadyImported(self.with_skipped(found)?));
        }
        tx.prepare_cached(
            "INSERT INTO imports (file_name, content_sha256, format, container, rows, lines, \
               skipped_by_service, malformed, imported_at) \
             VALUES (?1, ?2, ?3, ?4, 0, 0, '{}', 0, ?5)",
        )
        .map_err(&on_err)?
        .execute(params![
            meta.file_name,
            meta.content_sha256,
            meta.format.as_str(),
            container_name(meta.container),
            now
        ])
        .map_err(&on_err)?;
        let import_id = tx.last_insert_rowid();
        // Into an empty line table (a first import), the secondary indexes are dropped and
        // created again, with the same definitions, once the lines are in: SQLite then builds
        // each with one sort instead of a random insertion per line and index (bench/RESULTS.md,
        // AWS `--store`). Inside this transaction, so a failed import restores them with
        // everything else, and readers keep seeing the old schema until the commit. With lines
        // already in the table a rebuild would cost in proportion to the whole ledger, so they
        // are then maintained line by line as before.
        let empty: bool = tx
            .query_row("SELECT NOT EXISTS (SELECT 1 FROM bill_lines)", [], |r| {
                r.get(0)
            })
            .map_err(&on_err)?;
        let mut deferred_indexes: Vec<String> = Vec::new();
        if empty {
            let defs: Vec<(String, String)> = tx
                .prepare(
                    "SELECT name, sql FROM sqlite_master \
                     WHERE type = 'index' AND tbl_name = 'bill_lines' AND sql IS NOT NULL \
                     ORDER BY name",
                )
                .map_err(&on_err)?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(&on_err)?
                .collect::<Result<_, _>>()
                .map_err(&on_err)?;
            for (name, sql) in defs {
                tx.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))
                    .map_err(&on_err)?;
                deferred_indexes.push(sql);
            }
        }
        let mut lines: u64 = 0;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO bill_lines (import_id, line_no, line_item_id, format, account, \
                       payer_account, region, usage_type, operation, meter, cache_size_gb, \
                       resource_id, api_id, stage, line_item_type, usage_start, usage_end, \
                       usage_amount, unblended_cost, currency, tags, cost_categories) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
                       ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
                )
                .map_err(&on_err)?;
            // Reused per line: the decimal and JSON texts are written into these buffers
            // instead of a fresh String each (the same text `to_string`/`serde_json` give).
            let mut usage_text = String::new();
            let mut cost_text = String::new();
            let mut tags_json = Vec::new();
            let mut categories_json = Vec::new();
            for line in &mut *source {
                // An error here returns early: dropping `tx` rolls the whole file back.
                let l = line?;
                let tags = json_map(&l.tags, &mut tags_json, &store)?;
                let categories = json_map(&l.cost_categories, &mut categories_json, &store)?;
                usage_text.clear();
                cost_text.clear();
                // Writing to a String cannot fail.
                let _ = write!(usage_text, "{}", l.usage_amount);
                let _ = write!(cost_text, "{}", l.unblended_cost);
                insert
                    .execute(params![
                        import_id,
                        count_i64(l.line),
                        l.line_item_id,
                        l.source.as_str(),
                        l.account,
                        l.payer_account,
                        l.region,
                        l.usage_type,
                        l.operation,
                        l.meter.map(Meter::as_str),
                        l.cache_size_gb.map(|gb| gb.normalize().to_string()),
                        l.resource_id,
                        l.api_id,
                        l.stage,
                        l.line_item_type.as_str(),
                        l.usage_start,
                        l.usage_end,
                        usage_text,
                        cost_text,
                        l.currency,
                        tags,
                        categories,
                    ])
                    .map_err(&on_err)?;
                lines += 1;
            }
        }
        for sql in &deferred_indexes {
            tx.execute_batch(sql).map_err(&on_err)?;
        }
        let report = source.read_report();
        let skipped = serde_json::to_string(&report.skipped_by_service).map_err(|e| {
            LedgerError::Corrupt {
                store: store.clone(),
                message: format!("cannot encode skipped rows: {e}"),
            }
        })?;
        tx.prepare_cached(
            "UPDATE imports SET rows = ?2, lines = ?3, skipped_by_service = ?4, malformed = ?5 \
             WHERE id = ?1",
        )
        .map_err(&on_err)?
        .execute(params![
            import_id,
            count_i64(report.rows),
            count_i64(lines),
            skipped,
            count_i64(report.malformed_count)
        ])
        .map_err(&on_err)?;
        // The check below probes every line of this file; when no earlier import holds a line
        // id (a first import) nothing can overlap, so it is not run.
        let earlier_ids: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM bill_lines \
                   WHERE import_id < ?1 AND line_item_id IS NOT NULL)",
            )
            .map_err(&on_err)?
            .query_row([import_id], |r| r.get(0))
            .map_err(&on_err)?;
        let overlapping: i64 = if !earlier_ids {
            0
        } else {
            tx.prepare_cached(
                // Imports are numbered in order, so the others are the earlier ones: a seek on
                // (line_item_id, import_id) rather than a scan of every copy of the id.
                "SELECT COUNT(*) FROM bill_lines AS b WHERE b.import_id = ?1 \
                   AND b.line_item_id IS NOT NULL AND EXISTS ( \
                     SELECT 1 FROM bill_lines AS o \
                     WHERE o.line_item_id = b.line_item_id AND o.import_id < ?1)",
            )
            .map_err(&on_err)?
            .query_row([import_id], |r| r.get(0))
            .map_err(&on_err)?
        };
        tx.commit().map_err(&on_err)?;
        tracing::info!(store = %store, import_id, lines, file = %meta.file_name, "bill imported");
        Ok(ImportOutcome::Imported {
            import: ImportRecord {
                id: import_id,
                file_name: meta.file_name.clone(),
                content_sha256: meta.content_sha256.clone(),
                format: meta.format.as_str().into(),
                container: container_name(meta.container).into(),
                rows: report.rows,
                lines,
                skipped_by_service: report.skipped_by_service.clone(),
                malformed: report.malformed_count,
                imported_at: now,
            },
            overlapping_line_ids: u64::try_from(overlapping).unwrap_or(0),
        })
    }

    fn corrupt(&self, message: String) -> LedgerError {
        LedgerError::Corrupt {
            store: self.store.clone(),
            message,
        }
    }

    fn with_skipped(
        &self,
        (mut record, skipped): (ImportRecord, String),
    ) -> Result<ImportRecord, LedgerError> {
        record.skipped_by_service = serde_json::from_str(&skipped)
            .map_err(|e| self.corrupt(format!("import {}: skipped_by_service: {e}", record.id)))?;
        Ok(record)
    }
}

impl BillLedger for SqliteLedger {
    fn find_import(&mut self, content_sha256: &str) -> Result<Option<ImportRecord>, LedgerError> {
        let on_err = sql_err(&self.store, "find import");
        let found = self
            .conn
            .prepare_cached(&format!(
                "SELECT {IMPORT_COLUMNS} FROM imports WHERE content_sha256 = ?1"
            ))
            .map_err(&on_err)?
            .query_row([content_sha256], import_record)
            .optional()
            .map_err(&on_err)?;
        found.map(|r| self.with_skipped(r)).transpose()
    }

    fn import_file(
        &mut self,
        meta: &ImportMeta,
        source: &mut dyn BillSource,
    ) -> Result<ImportOutcome, ImportError> {
        // A larger page cache for this import only: the line table is appended to, but its
        // secondary indexes (start time, account and start, line id) take keys all over their
        // range, and with SQLite's default 2 MB cache every insert re-read index pages from
        // the WAL and spilled dirty ones back (bench/RESULTS.md, AWS `--store`). The cache is
        // this connection's memory only and is set back afterwards; durability and the one
        // transaction per file are untouched.
        let store = self.store.clone();
        let on_err = sql_err(&store, "import bill");
        let previous: i64 = self
            .conn
            .pragma_query_value(None, "cache_size", |r| r.get(0))
            .map_err(&on_err)?;
        self.conn
            .pragma_update(None, "cache_size", -IMPORT_CACHE_KIB)
            .map_err(&on_err)?;
        let result = self.import_file_tx(meta, source);
        let restored = self.conn.pragma_update(None, "cache_size", previous);
        let outcome = result?;
        restored.map_err(&on_err)?;
        Ok(outcome)
    }

    fn imports(&mut self) -> Result<Vec<ImportRecord>, LedgerError> {
        let on_err = sql_err(&self.store, "list imports");
        let raw = self
            .conn
            .prepare_cached(&format!("SELECT {IMPORT_COLUMNS} FROM imports ORDER BY id"))
            .map_err(&on_err)?
            .query_map([], import_record)
            .map_err(&on_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&on_err)?;
        raw.into_iter().map(|r| self.with_skipped(r)).collect()
    }

    fn supersede(&mut self, delivery: &[i64]) -> Result<Vec<Supersession>, LedgerError> {
        let Some(&newest) = delivery.iter().max() else {
            return Ok(Vec::new());
        };
        let on_err = sql_err(&self.store, "replace earlier deliveries");
        let ids = serde_json::to_string(delivery).map_err(|e| self.corrupt(e.to_string()))?;
        let now = unix_now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&on_err)?;
        let keys: Vec<(String, String)> = tx
            .prepare(
                // The distinct start times and payers first, then their months: the same keys,
                // with `strftime` run per distinct start rather than per line (about 4× faster
                // on a 1.3 M-line import).
                "SELECT DISTINCT strftime('%Y-%m', s, 'unixepoch'), p FROM ( \
                   SELECT DISTINCT usage_start AS s, COALESCE(payer_account, account) AS p \
                   FROM bill_lines WHERE import_id IN (SELECT value FROM json_each(?1))) \
                 ORDER BY 1, 2",
            )
            .map_err(&on_err)?
            .query_map([&ids], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&on_err)?
            .collect::<Result<_, _>>()
            .map_err(&on_err)?;
        // The lines of one key in the older imports (?1 period, ?2 payer, ?3 newest, ?4 ids).
        const OLDER: &str = "FROM bill_lines \
             WHERE usage_start >= CAST(strftime('%s', ?1 || '-01') AS INTEGER) \
               AND usage_start < CAST(strftime('%s', ?1 || '-01', '+1 month') AS INTEGER) \
               AND COALESCE(payer_account, account) = ?2 \
               AND import_id < ?3 \
               AND import_id NOT IN (SELECT value FROM json_each(?4))";
        let mut out = Vec::new();
        for (period, payer) in keys {
            let counts: Vec<(i64, String, i64)> = tx
                .prepare_cached(&format!(
                    "SELECT b.import_id, i.file_name, b.n FROM \
                       (SELECT import_id, COUNT(*) AS n {OLDER} GROUP BY import_id) AS b \
                     JOIN imports AS i ON i.id = b.import_id ORDER BY b.import_id"
                ))
                .map_err(&on_err)?
                .query_map(params![period, payer, newest, ids], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(&on_err)?
                .collect::<Result<_, _>>()
                .map_err(&on_err)?;
            if counts.is_empty() {
                continue;
            }
            tx.prepare_cached(&format!("DELETE {OLDER}"))
                .map_err(&on_err)?
                .execute(params![period, payer, newest, ids])
                .map_err(&on_err)?;
            for (import_id, file_name, n) in counts {
                tx.prepare_cached(
                    "INSERT INTO import_supersessions (import_id, superseded_by, \
                       billing_period, payer_account, lines, superseded_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT DO UPDATE SET lines = lines + excluded.lines",
                )
                .map_err(&on_err)?
                .execute(params![import_id, newest, period, payer, n, now])
                .map_err(&on_err)?;
                out.push(Supersession {
                    import_id,
                    file_name,
                    superseded_by: newest,
                    billing_period: period.clone(),
                    payer_account: payer.clone(),
                    lines: u64::try_from(n).unwrap_or(0),
                });
            }
        }
        tx.commit().map_err(&on_err)?;
        for s in &out {
            tracing::info!(
                store = %self.store, import_id = s.import_id, superseded_by = s.superseded_by,
                period = %s.billing_period, payer = %s.payer_account, lines = s.lines,
                "earlier bill delivery replaced"
            );
        }
        Ok(out)
    }

    fn bill_min_span(&mut self, from: i64, to: i64) -> Result<Option<i64>, LedgerError> {
        let on_err = sql_err(&self.store, "bill granularity");
        self.conn
            .prepare_cached(
                "SELECT MIN(usage_end - usage_start) FROM bill_lines \
                 WHERE usage_start >= ?1 AND usage_start < ?2 AND usage_end > usage_start",
            )
            .map_err(&on_err)?
            .query_row([from, to], |r| r.get(0))
            .map_err(&on_err)
    }

    fn supersessions(&mut self) -> Result<Vec<Supersession>, LedgerError> {
        let on_err = sql_err(&self.store, "list replaced deliveries");
        let rows = self
            .conn
            .prepare_cached(
                "SELECT s.import_id, i.file_name, s.superseded_by, s.billing_period, \
                   s.payer_account, s.lines \
                 FROM import_supersessions AS s JOIN imports AS i ON i.id = s.import_id \
                 ORDER BY s.superseded_by, s.import_id, s.billing_period, s.payer_account",
            )
            .map_err(&on_err)?
            .query_map([], |r| {
                Ok(Supersession {
                    import_id: r.get(0)?,
                    file_name: r.get(1)?,
                    superseded_by: r.get(2)?,
                    billing_period: r.get(3)?,
                    payer_account: r.get(4)?,
                    lines: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
                })
            })
            .map_err(&on_err)?
            .collect::<Result<_, _>>()
            .map_err(&on_err)?;
        Ok(rows)
    }

    fn query_bill(&mut self, query: &BillQuery) -> Result<Vec<BillRow>, LedgerError> {
        if query.from >= query.to {
            return Err(LedgerError::InvalidQuery(format!(
                "empty period: from {} is not before to {}",
                query.from, query.to
            )));
        }
        let on_err = sql_err(&self.store, "query bill");
        let mut bind: Vec<rusqlite::types::Value> = vec![query.from.into(), query.to.into()];
        let mut select = String::from("SELECT ");
        for dim in &query.group_by {
            if let BillDimension::Tag(name) | BillDimension::CostCategory(name) = dim {
                bind.push(tag_json_path(name).into());
            }
            select.push_str(&dim.sql(bind.len()));
            select.push_str(", ");
        }
        let n = query.group_by.len();
        // Sums of exact decimal text are taken here, not in SQL (SQLite would sum doubles).
        let sql = format!(
            "{select}meter, cache_size_gb, line_item_type, currency, usage_amount, unblended_cost \
             FROM bill_lines WHERE usage_start >= ?1 AND usage_start < ?2"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(&on_err)?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(bind.iter()))
            .map_err(&on_err)?;
        type Key = (Vec<String>, Option<String>, Option<String>, String, String);
        let mut sums: BTreeMap<Key, (u64, Decimal, Decimal)> = BTreeMap::new();
        let store = self.store.clone();
        let corrupt = |message: String| LedgerError::Corrupt {
            store: store.clone(),
            message,
        };
        let text = |v: ValueRef<'_>, what: &str| -> Result<Option<String>, LedgerError> {
            match v {
                ValueRef::Null => Ok(None),
                ValueRef::Text(b) => std::str::from_utf8(b)
                    .map(|s| Some(s.to_owned()))
                    .map_err(|_| corrupt(format!("bill line {what} is not UTF-8"))),
                other => Err(corrupt(format!("bill line {what} is {other:?}, not text"))),
            }
        };
        let required = |v: Option<String>, what: &str| {
            v.ok_or_else(|| corrupt(format!("bill line {what} is NULL")))
        };
        let number = |v: ValueRef<'_>, what: &str| -> Result<Decimal, LedgerError> {
            let s = required(text(v, what)?, what)?;
            Decimal::from_str(&s).map_err(|e| corrupt(format!("bill line {what} `{s}`: {e}")))
        };
        while let Some(row) = rows.next().map_err(&on_err)? {
            let mut group = Vec::with_capacity(n);
            for (i, dim) in query.group_by.iter().enumerate() {
                let what = dim.name();
                let v = text(row.get_ref(i).map_err(&on_err)?, &what)?;
                group.push(required(v, &what)?);
            }
            let meter = text(row.get_ref(n).map_err(&on_err)?, "meter")?;
            let cache = text(row.get_ref(n + 1).map_err(&on_err)?, "cache_size_gb")?;
            let lit = required(
                text(row.get_ref(n + 2).map_err(&on_err)?, "line_item_type")?,
                "line_item_type",
            )?;
            let currency = required(
                text(row.get_ref(n + 3).map_err(&on_err)?, "currency")?,
                "currency",
            )?;
            let usage = number(row.get_ref(n + 4).map_err(&on_err)?, "usage_amount")?;
            let cost = number(row.get_ref(n + 5).map_err(&on_err)?, "unblended_cost")?;
            let e = sums.entry((group, meter, cache, lit, currency)).or_insert((
                0,
                Decimal::ZERO,
                Decimal::ZERO,
            ));
            e.0 += 1;
            e.1 =
                e.1.checked_add(usage)
                    .ok_or_else(|| corrupt("usage sum overflows".into()))?;
            e.2 =
                e.2.checked_add(cost)
                    .ok_or_else(|| corrupt("cost sum overflows".into()))?;
        }
        sums.into_iter()
            .map(
                |((group, meter, cache, lit, currency), (lines, usage, cost))| {
                    let meter = meter
                        .map(|m| {
                            Meter::from_str(&m).map_err(|_| corrupt(format!("unknown meter `{m}`")))
                        })
                        .transpose()?;
                    let cache_size_gb = cache
                        .map(|c| {
                            Decimal::from_str(&c)
                                .map_err(|e| corrupt(format!("cache size `{c}`: {e}")))
                        })
                        .transpose()?;
                    Ok(BillRow {
                        group,
                        meter,
                        cache_size_gb,
                        line_item_type: lit,
                        currency,
                        lines,
                        usage,
                        unblended_cost: cost,
                    })
                },
            )
            .collect()
    }

    fn bill_tag_names(&mut self, from: i64, to: i64) -> Result<Vec<String>, LedgerError> {
        self.map_keys("tags", from, to)
    }

    fn bill_category_names(&mut self, from: i64, to: i64) -> Result<Vec<String>, LedgerError> {
        self.map_keys("cost_categories", from, to)
    }

    fn describe_bill(&self) -> String {
        self.store.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rusqlite::Connection;
    use rust_decimal::Decimal;
    use tollgate_aws::{LineItemType, Location, Malformed};
    use tollgate_meter::Ledger;
    use tollgate_types::usage::{Dimension, UsageQuery};

    use super::*;
    use crate::migrations::MIGRATIONS;
    use crate::{schema_version, OpenMode, SqliteOptions};

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// 2026-09-01T00:00:00Z.
    const SEP: i64 = 1_788_220_800;
    const DAY: i64 = 86_400;

    fn line(n: u64, account: &str, lit: LineItemType, usage: &str, cost: &str) -> BillLine {
        BillLine {
            source: Format::Cur2,
            file: "f.csv".into(),
            line: n,
            line_item_id: Some(format!("id{n}")),
            account: account.into(),
            payer_account: Some("999999999999".into()),
            region: Some("us-east-1".into()),
            usage_type: "USE1-ApiGatewayRequest".into(),
            operation: Some("ApiGatewayRequest".into()),
            meter: lit.is_usage().then_some(Meter::RestRequests),
            cache_size_gb: None,
            resource_id: Some("arn:aws:apigateway:us-east-1::/restapis/a1/stages/prod".into()),
            api_id: Some("a1".into()),
            stage: Some("prod".into()),
            line_item_type: lit,
            usage_start: SEP + i64::try_from(n).unwrap() * DAY,
            usage_end: SEP + i64::try_from(n + 1).unwrap() * DAY,
            usage_amount: d(usage),
            unblended_cost: d(cost),
            currency: "USD".into(),
            tags: BTreeMap::new(),
            cost_categories: BTreeMap::new(),
        }
    }

    /// A source over lines already in memory, with a report like the reader's.
    struct VecSource {
        items: std::vec::IntoIter<Result<BillLine, AwsError>>,
        report: ReadReport,
    }

    impl VecSource {
        fn new(items: Vec<Result<BillLine, AwsError>>) -> Self {
            let n = items.len() as u64;
            VecSource {
                items: items.into_iter(),
                report: ReadReport {
                    file: "f.csv".into(),
                    format: Format::Cur2,
                    container: Container::Csv,
                    rows: n + 2,
                    lines: n,
                    skipped_by_service: [("AmazonEC2".to_string(), 2)].into(),
                    malformed_count: 0,
                    malformed: Vec::new(),
                },
            }
        }
    }

    impl Iterator for VecSource {
        type Item = Result<BillLine, AwsError>;
        fn next(&mut self) -> Option<Self::Item> {
            self.items.next()
        }
    }

    impl BillSource for VecSource {
        fn read_report(&self) -> &ReadReport {
            &self.report
        }
    }

    fn meta(sha: &str) -> ImportMeta {
        ImportMeta {
            file_name: "f.csv".into(),
            content_sha256: sha.into(),
            format: Format::Cur2,
            container: Container::Csv,
        }
    }

    fn ledger(path: &Path) -> SqliteLedger {
        SqliteLedger::open(path, OpenMode::CreateIfMissing, SqliteOptions::default()).unwrap()
    }

    fn sample() -> Vec<BillLine> {
        let mut tagged = line(1, "111", LineItemType::Usage, "1000000", "3.5");
        tagged.tags.insert("team".into(), "payments".into());
        let mut cache = line(2, "222", LineItemType::Usage, "24", "0.48");
        cache.meter = Some(Meter::CacheHours);
        cache.cache_size_gb = Some(d("0.50"));
        cache.usage_type = "USE1-ApiGatewayCacheUsage:0.5GB".into();
        let mut tax = line(3, "111", LineItemType::Tax, "0", "0.30");
        tax.region = None;
        tax.api_id = None;
        tax.stage = None;
        vec![
            tagged,
            cache,
            tax,
            line(4, "111", LineItemType::Credit, "0", "-1.00"),
            line(
                5,
                "111",
                LineItemType::Usage,
                "0.0000001",
                "0.0000000000000001",
            ),
        ]
    }

    fn load(l: &mut SqliteLedger, sha: &str, lines: Vec<BillLine>) -> ImportOutcome {
        let mut src = VecSource::new(lines.into_iter().map(Ok).collect());
        l.import_file(&meta(sha), &mut src).unwrap()
    }

    fn count(path: &Path, table: &str) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    fn import_id(o: ImportOutcome) -> i64 {
        match o {
            ImportOutcome::Imported { import, .. } | ImportOutcome::AlreadyImported(import) => {
                import.id
            }
        }
    }

    fn month_cost(l: &mut SqliteLedger, from: i64, to: i64) -> Decimal {
        l.query_bill(&BillQuery {
            from,
            to,
            group_by: Vec::new(),
        })
        .unwrap()
        .iter()
        .map(|r| r.unblended_cost)
        .sum()
    }

    #[test]
    fn a_newer_delivery_replaces_the_same_month_and_payer_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut l = ledger(&path);
        const OCT: i64 = SEP + 30 * DAY;
        const NOV: i64 = OCT + 31 * DAY;
        // September and October from payer 999…, September from another payer.
        let mut old = vec![
            line(1, "111", LineItemType::Usage, "1000000", "3.50"),
            line(2, "111", LineItemType::Usage, "1000000", "3.50"),
        ];
        let mut october = line(3, "111", LineItemType::Usage, "1000000", "3.50");
        october.usage_start = OCT + DAY;
        october.usage_end = OCT + 2 * DAY;
        old.push(october);
        let first = import_id(load(&mut l, "v1", old));
        let mut other = line(4, "222", LineItemType::Usage, "1000000", "1.00");
        other.payer_account = Some("888888888888".into());
        let other_payer = import_id(load(&mut l, "other", vec![other]));
        assert!(l.supersede(&[first]).unwrap().is_empty(), "nothing older");

        // The re-delivered September of payer 999… (the same lines, costs revised).
        let second = import_id(load(
            &mut l,
            "v2",
            vec![
                line(1, "111", LineItemType::Usage, "1000000", "3.60"),
                line(2, "111", LineItemType::Usage, "1000000", "3.60"),
                line(5, "111", LineItemType::Credit, "0", "-0.20"),
            ],
        ));
        let replaced = l.supersede(&[second]).unwrap();
        assert_eq!(
            replaced,
            vec![Supersession {
                import_id: first,
                file_name: "f.csv".into(),
                superseded_by: second,
                billing_period: "2026-09".into(),
                payer_account: "999999999999".into(),
                lines: 2,
            }]
        );
        assert_eq!(l.supersessions().unwrap(), replaced);
        // September: the new delivery and the other payer; October untouched.
        assert_eq!(month_cost(&mut l, SEP, OCT), d("8.00"));
        assert_eq!(month_cost(&mut l, OCT, NOV), d("3.50"));
        assert_eq!(count(&path, "bill_lines"), 5);

        // Running it again (or naming an older delivery) changes nothing.
        assert!(l.supersede(&[second]).unwrap().is_empty());
        assert!(l.supersede(&[first]).unwrap().is_empty());
        assert!(l.supersede(&[other_payer]).unwrap().is_empty());
        assert!(l.supersede(&[]).unwrap().is_empty());
        assert_eq!(month_cost(&mut l, SEP, OCT), d("8.00"));
    }

    #[test]
    fn a_first_import_rebuilds_the_line_indexes_and_a_failed_one_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut l = ledger(&path);
        let indexes = |path: &Path| -> Vec<(String, String)> {
            let conn = rusqlite::Connection::open(path).unwrap();
            let mut stmt = conn
                .prepare(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' \
                     AND tbl_name = 'bill_lines' AND sql IS NOT NULL ORDER BY name",
                )
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let before = indexes(&path);
        assert_eq!(before.len(), 3, "{before:?}");

        // A first import that fails (the indexes were dropped inside it): all rolled back.
        let bad = Malformed {
            file: "g.csv".into(),
            location: Location::Line(3),
            column: None,
            message: "bad".into(),
        };
        let mut src = VecSource::new(vec![
            Ok(line(1, "1", LineItemType::Usage, "1", "1")),
            Err(AwsError::Strict(bad)),
        ]);
        assert!(l.import_file(&meta("zz"), &mut src).is_err());
        assert_eq!(indexes(&path), before);
        assert_eq!(count(&path, "bill_lines"), 0);

        // A first import: the same indexes, holding every line.
        load(&mut l, "aa", sample());
        assert_eq!(indexes(&path), before);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        // A later import keeps them up line by line, and sees the earlier line ids.
        let ImportOutcome::Imported {
            overlapping_line_ids,
            ..
        } = load(&mut l, "bb", sample())
        else {
            panic!("new content")
        };
        assert_eq!(
            overlapping_line_ids,
            sample().iter().filter(|x| x.line_item_id.is_some()).count() as u64
        );
        assert_eq!(indexes(&path), before);
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }

    #[test]
    fn an_import_is_one_transaction_and_repeating_it_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut l = ledger(&path);
        let ImportOutcome::Imported {
            import,
            overlapping_line_ids,
        } = load(&mut l, "aa", sample())
        else {
            panic!("first import is new")
        };
        assert_eq!(import.lines, 5);
        assert_eq!(import.rows, 7);
        assert_eq!(import.skipped_by_service["AmazonEC2"], 2);
        assert_eq!(overlapping_line_ids, 0);
        assert_eq!(count(&path, "bill_lines"), 5);

        // Same content: nothing read, nothing written, the first import reported.
        let mut src = VecSource::new(vec![Ok(line(9, "1", LineItemType::Usage, "1", "1"))]);
        match l.import_file(&meta("aa"), &mut src).unwrap() {
            ImportOutcome::AlreadyImported(found) => assert_eq!(found, import),
            other => panic!("{other:?}"),
        }
        assert_eq!(src.count(), 1, "the source was not read");
        assert_eq!(count(&path, "bill_lines"), 5);
        assert_eq!(l.find_import("aa").unwrap(), Some(import.clone()));
        assert_eq!(l.find_import("bb").unwrap(), None);

        // A failing source (strict mode) writes nothing, not even the import row.
        let bad = Malformed {
            file: "g.csv".into(),
            location: Location::Line(3),
            column: Some("lineItem/UnblendedCost".into()),
            message: "`abc` is not a number".into(),
        };
        let mut src = VecSource::new(vec![
            Ok(line(1, "1", LineItemType::Usage, "1", "1")),
            Ok(line(2, "1", LineItemType::Usage, "1", "1")),
            Err(AwsError::Strict(bad)),
        ]);
        let err = l.import_file(&meta("cc"), &mut src).unwrap_err();
        assert!(
            matches!(err, ImportError::Read(AwsError::Strict(_))),
            "{err}"
        );
        assert_eq!(count(&path, "bill_lines"), 5);
        assert_eq!(count(&path, "imports"), 1);
        assert_eq!(l.imports().unwrap(), vec![import]);

        // Another file with the same line ids: written, and the overlap reported.
        match load(&mut l, "dd", sample()) {
            ImportOutcome::Imported {
                overlapping_line_ids,
                ..
            } => assert_eq!(overlapping_line_ids, 5),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn grouped_sums_are_exact_and_untagged_lines_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = ledger(&dir.path().join("t.db"));
        load(&mut l, "aa", sample());
        let all = BillQuery {
            from: SEP,
            to: SEP + 30 * DAY,
            group_by: vec![],
        };
        let rows = l.query_bill(&all).unwrap();
        let total: Decimal = rows.iter().map(|r| r.unblended_cost).sum();
        assert_eq!(total, d("3.2800000000000001"));
        let usage_rest = rows
            .iter()
            .find(|r| r.meter == Some(Meter::RestRequests) && r.line_item_type == "Usage")
            .unwrap();
        assert_eq!(usage_rest.usage, d("1000000.0000001"));
        assert_eq!(usage_rest.lines, 2);
        let keys: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.meter_key(), r.line_item_type.clone()))
            .collect();
        assert_eq!(
            keys,
            [
                ("(none)", "Credit"),
                ("(none)", "Tax"),
                ("cache_hours:0.5", "Usage"),
                ("rest_requests", "Usage"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );

        let by = BillQuery {
            group_by: vec![
                BillDimension::Tag("team".into()),
                BillDimension::Account,
                BillDimension::Region,
                BillDimension::Api,
                BillDimension::Month,
                BillDimension::Meter,
            ],
            ..all.clone()
        };
        let rows = l.query_bill(&by).unwrap();
        let groups: Vec<Vec<&str>> = rows
            .iter()
            .map(|r| r.group.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            groups,
            vec![
                vec!["(untagged)", "111", "(none)", "(none)", "2026-09", "(none)"],
                vec!["(untagged)", "111", "us-east-1", "a1", "2026-09", "(none)"],
                vec![
                    "(untagged)",
                    "111",
                    "us-east-1",
                    "a1",
                    "2026-09",
                    "rest_requests"
                ],
                vec![
                    "(untagged)",
                    "222",
                    "us-east-1",
                    "a1",
                    "2026-09",
                    "cache_hours:0.5"
                ],
                vec![
                    "payments",
                    "111",
                    "us-east-1",
                    "a1",
                    "2026-09",
                    "rest_requests"
                ],
            ]
        );
        assert_eq!(
            rows.iter().map(|r| r.unblended_cost).sum::<Decimal>(),
            total,
            "no line dropped by grouping"
        );
        assert_eq!(
            l.bill_tag_names(all.from, all.to).unwrap(),
            vec!["team".to_string()]
        );

        // Cost categories group like tags; lines without one are `(uncategorized)`.
        let mut categorised = sample();
        categorised[0]
            .cost_categories
            .insert("CostCenter".into(), "cc-100".into());
        let dir2 = tempfile::tempdir().unwrap();
        let mut l2 = ledger(&dir2.path().join("t.db"));
        load(&mut l2, "cc", categorised);
        let rows = l2
            .query_bill(&BillQuery {
                group_by: vec![BillDimension::CostCategory("CostCenter".into())],
                ..all.clone()
            })
            .unwrap();
        let mut by_cc: BTreeMap<String, Decimal> = BTreeMap::new();
        for r in &rows {
            *by_cc.entry(r.group[0].clone()).or_default() += r.unblended_cost;
        }
        assert_eq!(by_cc["cc-100"], d("3.5"));
        assert_eq!(
            l2.bill_category_names(all.from, all.to).unwrap(),
            vec!["CostCenter".to_string()]
        );
        assert_eq!(by_cc[UNCATEGORIZED], total - d("3.5"));
        assert_eq!(
            "cost_category:CostCenter".parse::<BillDimension>(),
            Ok(BillDimension::CostCategory("CostCenter".into()))
        );

        // Periods select by start time.
        let first_two_days = BillQuery {
            from: SEP,
            to: SEP + 3 * DAY,
            group_by: vec![],
        };
        let rows = l.query_bill(&first_two_days).unwrap();
        assert_eq!(rows.iter().map(|r| r.lines).sum::<u64>(), 2);
        assert!(l
            .query_bill(&BillQuery {
                from: SEP,
                to: SEP,
                group_by: vec![]
            })
            .is_err());
    }

    #[test]
    fn dimensions_parse_and_refuse_duplicates() {
        assert_eq!(
            BillDimension::parse_list("api, account,tag:team,line_item_type").unwrap(),
            vec![
                BillDimension::Api,
                BillDimension::Account,
                BillDimension::Tag("team".into()),
                BillDimension::LineItemType
            ]
        );
        assert!(BillDimension::parse_list("api,api")
            .unwrap_err()
            .contains("twice"));
        assert!(BillDimension::parse_list("route")
            .unwrap_err()
            .contains("unknown dimension `route`"));
        assert!(BillDimension::parse_list("tag:").is_err());
    }

    /// A ledger written by the previous tollgate (schema 1: metered usage only) is migrated
    /// in place: its usage is kept and the bill tables appear.
    #[test]
    fn a_version_1_ledger_is_migrated_in_place_keeping_its_usage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            // Exactly what the previous release did: migration 1, then user_version = 1.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO usage_hour VALUES (?1, 'us-east-1', 'a1', 'prod', 'GET /', '', '', \
                 2, 1, 'ok', 'http_requests', '{\"team\":\"x\"}', 42, 40)",
                [SEP],
            )
            .unwrap();
            conn.execute("INSERT INTO applied_batches VALUES ('b1', 1)", [])
                .unwrap();
        }
        let mut l =
            SqliteLedger::open(&path, OpenMode::MustExist, SqliteOptions::default()).unwrap();
        let rows = l
            .query(&UsageQuery {
                from: SEP,
                to: SEP + DAY,
                group_by: vec![Dimension::Tag("team".into())],
            })
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].counts.units, 42);
        assert_eq!(rows[0].group, vec!["x".to_string()]);
        assert_eq!(count(&path, "applied_batches"), 1);
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema_version());
        // The new tables work, and metered queries do not see imported lines.
        load(&mut l, "aa", sample());
        assert_eq!(count(&path, "bill_lines"), 5);
        let again = l
            .query(&UsageQuery {
                from: SEP,
                to: SEP + 30 * DAY,
                group_by: vec![],
            })
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].counts.units, 42);
    }

    /// A ledger from a tollgate one schema ahead is refused, by both openers, untouched.
    #[test]
    fn the_next_schema_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("next.db");
        {
            let conn = Connection::open(&path).unwrap();
            for m in MIGRATIONS {
                conn.execute_batch(m).unwrap();
            }
            conn.execute_batch("CREATE TABLE something_new (x INTEGER);")
                .unwrap();
            conn.pragma_update(None, "user_version", schema_version() + 1)
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let url = crate::parse_store_url(&format!("sqlite://{}", path.display())).unwrap();
        for mode in [OpenMode::MustExist, OpenMode::CreateIfMissing] {
            let err = match crate::open_bill(&url, mode) {
                Err(e) => e,
                Ok(_) => panic!("opened a newer schema"),
            };
            assert!(
                matches!(err, LedgerError::SchemaTooNew { found, .. } if found == schema_version() + 1),
                "{err}"
            );
            assert!(matches!(
                crate::open(&url, mode),
                Err(LedgerError::SchemaTooNew { .. })
            ));
        }
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
