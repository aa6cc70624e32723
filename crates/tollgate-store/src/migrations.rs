//! The SQLite ledger's schema, as an ordered list of migrations.
//!
//! Migration `i` (0-based) brings a ledger from `PRAGMA user_version = i` to `i + 1`. Entries are
//! never edited once released, only appended: a ledger file outlives the binary that created
//! it, and the version number is the only thing telling a later tollgate what the file holds.

/// The columns that identify a cell, in primary-key order. `bucket` leads so the primary key
/// (the table itself, as the tables are `WITHOUT ROWID`) serves `bucket` range scans: reports
/// read a period, rollups read everything before a time.
pub(crate) const DIMENSION_COLUMNS: &str =
    "bucket, region, api, stage, route, api_key, client, status_class, billable, reason, meter, tags";

/// Migration scripts, oldest first. Each runs in its own transaction together with the
/// `user_version` bump.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: minute and hour usage tables, applied batch ids.
    //
    // WITHOUT ROWID: the key is the whole row but for two counters, so a rowid table plus a
    // unique index would store every dimension twice.
    "
    CREATE TABLE usage_minute (
        bucket       INTEGER NOT NULL,
        region       TEXT    NOT NULL,
        api          TEXT    NOT NULL,
        stage        TEXT    NOT NULL,
        route        TEXT    NOT NULL,
        api_key      TEXT    NOT NULL,
        client       TEXT    NOT NULL,
        status_class INTEGER NOT NULL,
        billable     INTEGER NOT NULL CHECK (billable IN (0, 1)),
        reason       TEXT    NOT NULL,
        meter        TEXT    NOT NULL,
        tags         TEXT    NOT NULL,
        units        INTEGER NOT NULL CHECK (units >= 0),
        events       INTEGER NOT NULL CHECK (events >= 0),
        PRIMARY KEY (bucket, region, api, stage, route, api_key, client, status_class,
                     billable, reason, meter, tags)
    ) WITHOUT ROWID;

    CREATE TABLE usage_hour (
        bucket       INTEGER NOT NULL,
        region       TEXT    NOT NULL,
        api          TEXT    NOT NULL,
        stage        TEXT    NOT NULL,
        route        TEXT    NOT NULL,
        api_key      TEXT    NOT NULL,
        client       TEXT    NOT NULL,
        status_class INTEGER NOT NULL,
        billable     INTEGER NOT NULL CHECK (billable IN (0, 1)),
        reason       TEXT    NOT NULL,
        meter        TEXT    NOT NULL,
        tags         TEXT    NOT NULL,
        units        INTEGER NOT NULL CHECK (units >= 0),
        events       INTEGER NOT NULL CHECK (events >= 0),
        PRIMARY KEY (bucket, region, api, stage, route, api_key, client, status_class,
                     billable, reason, meter, tags)
    ) WITHOUT ROWID;

    CREATE TABLE applied_batches (
        id         TEXT    NOT NULL PRIMARY KEY,
        applied_at INTEGER NOT NULL
    );
    CREATE INDEX applied_batches_applied_at ON applied_batches (applied_at);
    ",
];

/// The schema version this build writes and understands (the number of migrations).
pub fn schema_version() -> i64 {
    // A list of a few entries: the cast cannot truncate.
    MIGRATIONS.len() as i64
}
