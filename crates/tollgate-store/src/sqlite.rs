//! The embedded SQLite ledger (one gateway node, one file).
//!
//! Usage is written to `usage_minute` by [`Ledger::append`] and folded into `usage_hour` by
//! [`Ledger::rollup`]; queries read both, so a rollup never changes a report for hour-aligned
//! periods. Batch ids are remembered in `applied_batches` for [`DEDUP_WINDOW`], which makes a
//! replayed batch (after a crash, from the spill file) count once.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::ffi::ErrorCode;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use tollgate_meter::{Ledger, LedgerError};
use tollgate_types::usage::{
    status_class_label, Dimension, Reason, Tags, UsageBatch, UsageCounts, UsageMeter, UsageQuery,
    UsageRecord, UsageRow,
};

use crate::migrations::{schema_version, DIMENSION_COLUMNS, MIGRATIONS};

/// How long an applied batch id is remembered. A batch replayed later than this would count
/// twice; spill files are replayed within seconds to hours of being written, so a week leaves
/// ample margin while keeping the table small (one row per flush, i.e. per second and node).
pub const DEDUP_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// Prune old batch ids once per this many appends (and on every rollup), so the cost of the
/// delete is spread thin instead of paid on every flush.
const PRUNE_EVERY_APPENDS: u64 = 1000;

/// What to do when the ledger file does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create an empty ledger (the gateway, which is about to write usage).
    CreateIfMissing,
    /// Fail (reports and queries: a typo in a path must not yield an empty, all-zero report
    /// and leave a stray file behind).
    MustExist,
}

/// Tuning of the SQLite ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// How long a statement waits for a lock held by another connection before failing with
    /// [`LedgerError::Unavailable`]. Short on purpose: the meter's flusher must not stall
    /// behind a long report or a backup; it keeps the records and retries instead.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            busy_timeout: Duration::from_millis(100),
        }
    }
}

/// A usage ledger in one SQLite file (WAL mode, so reports read while the gateway writes).
pub struct SqliteLedger {
    pub(crate) conn: Connection,
    path: PathBuf,
    /// `sqlite://<path>`, for messages.
    pub(crate) store: String,
    /// Appends left before the next prune of old batch ids (0: prune on the next append).
    appends_until_prune: u64,
}

impl std::fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLedger")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl SqliteLedger {
    /// Open (or, with [`OpenMode::CreateIfMissing`], create) the ledger at `path` and bring
    /// its schema up to date.
    ///
    /// The schema version is read before anything that could write to the file: a ledger
    /// written by a newer tollgate yields [`LedgerError::SchemaTooNew`] and is left exactly as
    /// it was, so downgrading the binary can never damage it.
    pub fn open(
        path: impl AsRef<Path>,
        mode: OpenMode,
        options: SqliteOptions,
    ) -> Result<SqliteLedger, LedgerError> {
        let path = path.as_ref().to_path_buf();
        let store = format!("sqlite://{}", path.display());
        let unavailable = |message: String| LedgerError::Unavailable {
            store: store.clone(),
            message,
        };

        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        match mode {
            OpenMode::CreateIfMissing => flags |= OpenFlags::SQLITE_OPEN_CREATE,
            // Checked here for a clear message; opening without SQLITE_OPEN_CREATE below also
            // guarantees nothing is created if the file vanishes in between.
            OpenMode::MustExist => match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() => {}
                Ok(_) => {
                    return Err(unavailable(format!(
                        "{} is not a ledger file",
                        path.display()
                    )))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(unavailable(format!(
                        "no ledger exists at {} (it is created when the gateway first meters usage)",
                        path.display()
                    )))
                }
                Err(e) => {
                    return Err(unavailable(format!("cannot access {}: {e}", path.display())))
                }
            },
        }

        let conn = Connection::open_with_flags(&path, flags).map_err(sql_err(&store, "open"))?;
        conn.busy_timeout(options.busy_timeout)
            .map_err(sql_err(&store, "open"))?;

        // Read-only so far: nothing may be written before we know we understand the file.
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(sql_err(&store, "read schema version"))?;
        let supported = schema_version();
        if found > supported {
            return Err(LedgerError::SchemaTooNew {
                store,
                found,
                supported,
            });
        }
        if found < 0 {
            return Err(LedgerError::Corrupt {
                store,
                message: format!("schema version {found} is negative"),
            });
        }

        let journal: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sql_err(&store, "enable WAL"))?;
        if !journal.eq_ignore_ascii_case("wal") {
            tracing::warn!(store = %store, journal_mode = %journal, "ledger is not in WAL mode; reports may block the meter");
        }
        // NORMAL in WAL mode: a power loss may drop the last commits but never corrupts the
        // file; the meter tolerates losing its last flush far better than a sync per second.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql_err(&store, "set synchronous"))?;
        conn.set_prepared_statement_cache_capacity(32);

        let mut ledger = SqliteLedger {
            conn,
            path,
            store,
            appends_until_prune: 0,
        };
        ledger.migrate(found)?;
        Ok(ledger)
    }

    /// The file this ledger lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Apply the migrations after `found`, each in its own IMMEDIATE transaction that rechecks
    /// the version, so two processes opening an old ledger at once do not both migrate it.
    fn migrate(&mut self, found: i64) -> Result<(), LedgerError> {
        let store = &self.store;
        let first = usize::try_from(found).map_err(|_| LedgerError::Corrupt {
            store: store.clone(),
            message: format!("schema version {found} is out of range"),
        })?;
        for (index, script) in MIGRATIONS.iter().enumerate().skip(first) {
            let target = i64::try_from(index + 1).unwrap_or(i64::MAX);
            let on_err = sql_err(store, "migrate schema");
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&on_err)?;
            let current: i64 = tx
                .pragma_query_value(None, "user_version", |row| row.get(0))
                .map_err(&on_err)?;
            if current > schema_version() {
                return Err(LedgerError::SchemaTooNew {
                    store: store.clone(),
                    found: current,
                    supported: schema_version(),
                });
            }
            if current >= target {
                continue; // someone else got there first; dropping `tx` rolls back nothing
            }
            tx.execute_batch(script).map_err(&on_err)?;
            tx.pragma_update(None, "user_version", target)
                .map_err(&on_err)?;
            tx.commit().map_err(&on_err)?;
            tracing::info!(store = %store, version = target, "ledger schema migrated");
        }
        Ok(())
    }
}

impl Ledger for SqliteLedger {
    fn append(&mut self, batch: &UsageBatch) -> Result<bool, LedgerError> {
        let store = &self.store;
        let on_err = sql_err(store, "append");
        let now = unix_now();
        let prune = self.appends_until_prune == 0;

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&on_err)?;
        {
            let mut seen = tx
                .prepare_cached("SELECT 1 FROM applied_batches WHERE id = ?1")
                .map_err(&on_err)?;
            if seen.exists([&batch.id]).map_err(&on_err)? {
                // Already counted; dropping `tx` rolls back the (empty) transaction.
                return Ok(false);
            }
        }
        {
            let mut insert = tx
                .prepare_cached(&upsert_values_sql("usage_minute"))
                .map_err(&on_err)?;
            for record in &batch.records {
                let row = CellParams::new(store, record)?;
                insert
                    .execute(params![
                        row.bucket,
                        record.key.region,
                        record.key.api,
                        record.key.stage,
                        record.key.route,
                        record.key.api_key,
                        record.key.client,
                        i64::from(record.key.status_class),
                        record.key.billable,
                        record.key.reason.as_str(),
                        row.meter,
                        row.tags,
                        row.units,
                        row.events,
                    ])
                    .map_err(&on_err)?;
            }
            let mut mark = tx
                .prepare_cached("INSERT INTO applied_batches (id, applied_at) VALUES (?1, ?2)")
                .map_err(&on_err)?;
            mark.execute(params![batch.id, now]).map_err(&on_err)?;
        }
        if prune {
            prune_batches(&tx, now).map_err(&on_err)?;
        }
        tx.commit().map_err(&on_err)?;

        self.appends_until_prune = if prune {
            PRUNE_EVERY_APPENDS - 1
        } else {
            self.appends_until_prune - 1
        };
        Ok(true)
    }

    fn query(&mut self, query: &UsageQuery) -> Result<Vec<UsageRow>, LedgerError> {
        if query.from >= query.to {
            return Err(LedgerError::InvalidQuery(format!(
                "the period is empty: from ({}) must be before to ({})",
                query.from, query.to
            )));
        }
        let store = &self.store;
        let on_err = sql_err(store, "query");
        let corrupt = |message: String| LedgerError::Corrupt {
            store: store.clone(),
            message,
        };

        let mut bind: Vec<Value> = vec![Value::Integer(query.from), Value::Integer(query.to)];
        let mut select =
            String::from("SELECT strftime('%Y-%m', bucket, 'unixepoch'), region, meter, billable");
        for dim in &query.group_by {
            select.push_str(", ");
            match dim {
                Dimension::Api => select.push_str("api"),
                Dimension::Stage => select.push_str("stage"),
                Dimension::Route => select.push_str("route"),
                Dimension::Key => select.push_str("api_key"),
                Dimension::Client => select.push_str("client"),
                Dimension::Status => select.push_str("status_class"),
                Dimension::Reason => select.push_str("reason"),
                Dimension::Region => select.push_str("region"),
                Dimension::Tag(name) => {
                    bind.push(Value::Text(tag_json_path(name)));
                    select.push_str(&format!(
                        "COALESCE(json_extract(tags, ?{}), '')",
                        bind.len()
                    ));
                }
            }
        }
        let columns = format!("{DIMENSION_COLUMNS}, units, events");
        let group_by = (1..=4 + query.group_by.len())
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "{select}, SUM(units), SUM(events) FROM ( \
               SELECT {columns} FROM usage_minute WHERE bucket >= ?1 AND bucket < ?2 \
               UNION ALL \
               SELECT {columns} FROM usage_hour WHERE bucket >= ?1 AND bucket < ?2 \
             ) GROUP BY {group_by}"
        );

        let mut stmt = self.conn.prepare_cached(&sql).map_err(&on_err)?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(bind.iter()))
            .map_err(&on_err)?;

        // Keyed in output order; also merges SQL groups that read back as the same values
        // (e.g. `cache_ms:0.5` and `cache_ms:0.50`), so callers never see duplicate rows.
        type Key = (String, String, Vec<String>, String, Reverse<bool>);
        let mut merged: BTreeMap<Key, (UsageMeter, UsageCounts)> = BTreeMap::new();
        let n = query.group_by.len();
        while let Some(row) = rows.next().map_err(&on_err)? {
            let month = text(row.get_ref(0).map_err(&on_err)?, "month").map_err(&corrupt)?;
            let region = text(row.get_ref(1).map_err(&on_err)?, "region").map_err(&corrupt)?;
            let meter_name = text(row.get_ref(2).map_err(&on_err)?, "meter").map_err(&corrupt)?;
            let meter: UsageMeter = meter_name
                .parse()
                .map_err(|_| corrupt(format!("unknown meter `{meter_name}`")))?;
            let billable = match row.get_ref(3).map_err(&on_err)? {
                ValueRef::Integer(0) => false,
                ValueRef::Integer(1) => true,
                other => return Err(corrupt(format!("billable flag {other:?}"))),
            };
            let mut group = Vec::with_capacity(n);
            for (i, dim) in query.group_by.iter().enumerate() {
                let value = row.get_ref(4 + i).map_err(&on_err)?;
                let shown = match dim {
                    Dimension::Status => match value {
                        ValueRef::Integer(c) => u8::try_from(c)
                            .map(status_class_label)
                            .map_err(|_| corrupt(format!("status class {c}")))?,
                        other => return Err(corrupt(format!("status class {other:?}"))),
                    },
                    Dimension::Reason => {
                        let name = text(value, "reason").map_err(&corrupt)?;
                        name.parse::<Reason>()
                            .map_err(|_| corrupt(format!("unknown reason `{name}`")))?
                            .as_str()
                            .to_owned()
                    }
                    Dimension::Tag(tag) => {
                        text(value, &format!("tag `{tag}`")).map_err(&corrupt)?
                    }
                    other => text(value, &other.name()).map_err(&corrupt)?,
                };
                group.push(shown);
            }
            let units = count(row.get_ref(4 + n).map_err(&on_err)?, "units").map_err(&corrupt)?;
            let events = count(row.get_ref(5 + n).map_err(&on_err)?, "events").map_err(&corrupt)?;
            let key = (
                month,
                region,
                group,
                meter.name().into_owned(),
                Reverse(billable),
            );
            merged
                .entry(key)
                .or_insert((meter, UsageCounts::default()))
                .1
                .add(UsageCounts { units, events });
        }

        Ok(merged
            .into_iter()
            .map(
                |((month, region, group, _, Reverse(billable)), (meter, counts))| UsageRow {
                    month,
                    region,
                    meter,
                    billable,
                    group,
                    counts,
                },
            )
            .collect())
    }

    fn tag_names(&mut self, from: i64, to: i64) -> Result<Vec<String>, LedgerError> {
        let on_err = sql_err(&self.store, "tag names");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT j.key FROM ( \
                   SELECT DISTINCT tags FROM usage_minute WHERE bucket >= ?1 AND bucket < ?2 \
                   UNION SELECT DISTINCT tags FROM usage_hour WHERE bucket >= ?1 AND bucket < ?2 \
                 ) AS t, json_each(t.tags) AS j ORDER BY j.key",
            )
            .map_err(&on_err)?;
        let names = stmt
            .query_map([from, to], |r| r.get::<_, String>(0))
            .map_err(&on_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&on_err)?;
        Ok(names)
    }

    fn rollup(&mut self, before: i64) -> Result<u64, LedgerError> {
        let store = &self.store;
        let on_err = sql_err(store, "rollup");
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&on_err)?;
        let folded = {
            tx.prepare_cached(&upsert_rollup_sql())
                .map_err(&on_err)?
                .execute([before])
                .map_err(&on_err)?;
            tx.prepare_cached("DELETE FROM usage_minute WHERE bucket < ?1")
                .map_err(&on_err)?
                .execute([before])
                .map_err(&on_err)?
        };
        prune_batches(&tx, unix_now()).map_err(&on_err)?;
        tx.commit().map_err(&on_err)?;
        let folded = u64::try_from(folded).unwrap_or(u64::MAX);
        tracing::debug!(store = %store, before, folded, "ledger rolled up");
        Ok(folded)
    }

    fn describe(&self) -> String {
        self.store.clone()
    }
}

/// The values of one record that need converting before they are bound.
struct CellParams {
    bucket: i64,
    meter: String,
    tags: String,
    units: i64,
    events: i64,
}

impl CellParams {
    fn new(store: &str, record: &UsageRecord) -> Result<CellParams, LedgerError> {
        Ok(CellParams {
            // Minute buckets by contract; aligning here keeps a stray second from creating a
            // cell that no longer merges with its minute.
            bucket: record.key.bucket - record.key.bucket.rem_euclid(60),
            meter: record.key.meter.name().into_owned(),
            tags: canonical_tags(&record.key.tags).map_err(|e| LedgerError::Corrupt {
                store: store.to_owned(),
                message: format!("cannot encode tags: {e}"),
            })?,
            // SQLite integers are i64; no real count comes near, and saturating matches
            // `UsageCounts::add`.
            units: i64::try_from(record.counts.units).unwrap_or(i64::MAX),
            events: i64::try_from(record.counts.events).unwrap_or(i64::MAX),
        })
    }
}

/// Tags as a compact JSON object in key order (`{}` when empty). The text is part of the
/// cell's primary key, so it must be canonical: the same tags always give the same string.
fn canonical_tags(tags: &Tags) -> Result<String, serde_json::Error> {
    serde_json::to_string(tags)
}

/// A JSON path selecting one key of the tags object, quoted so names containing `.`, `[`,
/// `"` or `\` address the key itself rather than a nested path.
pub(crate) fn tag_json_path(name: &str) -> String {
    let mut path = String::with_capacity(name.len() + 4);
    path.push_str("$.\"");
    for c in name.chars() {
        if matches!(c, '"' | '\\') {
            path.push('\\');
        }
        path.push(c);
    }
    path.push('"');
    path
}

/// `units = units + excluded.units`, saturating at `i64::MAX` instead of letting SQLite turn
/// an overflowing sum into a float (which would no longer read back as a count).
const ADD_COUNTS: &str = "units = CASE WHEN units > 9223372036854775807 - excluded.units \
         THEN 9223372036854775807 ELSE units + excluded.units END, \
     events = CASE WHEN events > 9223372036854775807 - excluded.events \
         THEN 9223372036854775807 ELSE events + excluded.events END";

/// The upsert adding one record's counts to its cell in `table`.
fn upsert_values_sql(table: &str) -> String {
    format!(
        "INSERT INTO {table} ({DIMENSION_COLUMNS}, units, events) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
         ON CONFLICT ({DIMENSION_COLUMNS}) DO UPDATE SET {ADD_COUNTS}"
    )
}

/// The upsert folding minute rows before `?1` into hour rows. The hour is computed with a
/// floor modulo so buckets before 1970 (never written in practice) still round down.
fn upsert_rollup_sql() -> String {
    format!(
        "INSERT INTO usage_hour ({DIMENSION_COLUMNS}, units, events) \
         SELECT bucket - ((bucket % 3600) + 3600) % 3600, region, api, stage, route, api_key, \
                client, status_class, billable, reason, meter, tags, SUM(units), SUM(events) \
         FROM usage_minute WHERE bucket < ?1 \
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 \
         ON CONFLICT ({DIMENSION_COLUMNS}) DO UPDATE SET {ADD_COUNTS}"
    )
}

/// Forget batch ids applied more than [`DEDUP_WINDOW`] before `now`.
fn prune_batches(conn: &Connection, now: i64) -> rusqlite::Result<usize> {
    let window = i64::try_from(DEDUP_WINDOW.as_secs()).unwrap_or(i64::MAX);
    let pruned = conn
        .prepare_cached("DELETE FROM applied_batches WHERE applied_at < ?1")?
        .execute([now.saturating_sub(window)])?;
    if pruned > 0 {
        tracing::debug!(pruned, "forgot old ledger batch ids");
    }
    Ok(pruned)
}

pub(crate) fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        // A clock before 1970 is broken; treat it as the epoch rather than fail a flush.
        Err(_) => 0,
    }
}

/// A text column read back, or why it cannot be.
fn text(value: ValueRef<'_>, what: &str) -> Result<String, String> {
    match value {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| format!("{what} is not valid UTF-8")),
        // Only a tag missing from an API's tags gives NULL, and the query maps it to ''.
        other => Err(format!("{what} is {other:?}, not text")),
    }
}

/// A summed count read back as `u64`.
fn count(value: ValueRef<'_>, what: &str) -> Result<u64, String> {
    match value {
        ValueRef::Integer(n) => {
            u64::try_from(n).map_err(|_| format!("{what} total {n} is negative"))
        }
        other => Err(format!("{what} total is {other:?}, not an integer")),
    }
}

/// Map a SQLite error to a ledger error.
///
/// Conditions that can clear up (a lock, a full or read-only disk, I/O errors, a file that
/// cannot be opened right now) are `Unavailable`, so the meter buffers and retries. Damaged
/// files and values that do not read back are `Corrupt`. Anything else is also reported as
/// `Unavailable`: retrying is harmless, and the meter then keeps the records rather than
/// dropping them.
pub(crate) fn sql_err<'a>(
    store: &'a str,
    context: &'a str,
) -> impl Fn(rusqlite::Error) -> LedgerError + 'a {
    move |e| {
        let message = format!("{context}: {e}");
        let corrupt = match &e {
            rusqlite::Error::SqliteFailure(err, text) => {
                matches!(
                    err.code,
                    ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase
                ) || text
                    .as_deref()
                    .is_some_and(|t| t.contains("malformed JSON"))
            }
            rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::Utf8Error(..) => true,
            _ => false,
        };
        if corrupt {
            LedgerError::Corrupt {
                store: store.to_owned(),
                message,
            }
        } else {
            LedgerError::Unavailable {
                store: store.to_owned(),
                message,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_paths_are_quoted() {
        assert_eq!(tag_json_path("team"), r#"$."team""#);
        assert_eq!(tag_json_path("a.b"), r#"$."a.b""#);
        assert_eq!(tag_json_path(r#"we"ird\"#), r#"$."we\"ird\\""#);
    }

    #[test]
    fn tags_are_canonical() {
        let mut tags = Tags::new();
        assert_eq!(canonical_tags(&tags).unwrap(), "{}");
        tags.insert("z".into(), "1".into());
        tags.insert("a".into(), "\"q\"".into());
        assert_eq!(canonical_tags(&tags).unwrap(), r#"{"a":"\"q\"","z":"1"}"#);
    }

    #[test]
    fn busy_maps_to_unavailable_and_corrupt_to_corrupt() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("database is locked".into()),
        );
        let e = sql_err("sqlite://x.db", "append")(busy);
        assert!(e.is_transient());
        assert!(e.to_string().contains("database is locked"), "{e}");
        assert!(e.to_string().contains("sqlite://x.db"), "{e}");
        for code in [
            rusqlite::ffi::SQLITE_FULL,
            rusqlite::ffi::SQLITE_READONLY,
            rusqlite::ffi::SQLITE_IOERR,
            rusqlite::ffi::SQLITE_CANTOPEN,
            rusqlite::ffi::SQLITE_PERM,
            rusqlite::ffi::SQLITE_LOCKED,
        ] {
            let e = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
            assert!(sql_err("s", "c")(e).is_transient(), "code {code}");
        }
        let e = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB),
            None,
        );
        assert!(matches!(sql_err("s", "c")(e), LedgerError::Corrupt { .. }));
    }
}
