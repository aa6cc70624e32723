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
    // 2: imported AWS bills (issue 7): one `imports` row per file, one `bill_lines` row per
    // API Gateway line. Kept apart from the metered `usage_*` tables on purpose: these are
    // AWS's own charges, never mixed with what the gateway meters without saying so.
    //
    // Money and quantities are exact decimal text (as read from the file), never REAL: sums
    // are taken in Rust with `rust_decimal`. `content_sha256` makes re-importing the same
    // file a no-op. `rows`, `skipped_by_service` (JSON object) and `malformed` record what
    // the read saw, so a repeated import can report it without reading the file again.
    "
    CREATE TABLE imports (
        id                 INTEGER PRIMARY KEY,
        file_name          TEXT    NOT NULL,
        content_sha256     TEXT    NOT NULL UNIQUE,
        format             TEXT    NOT NULL,
        container          TEXT    NOT NULL,
        rows               INTEGER NOT NULL CHECK (rows >= 0),
        lines              INTEGER NOT NULL CHECK (lines >= 0),
        skipped_by_service TEXT    NOT NULL,
        malformed          INTEGER NOT NULL CHECK (malformed >= 0),
        imported_at        INTEGER NOT NULL
    );

    CREATE TABLE bill_lines (
        import_id      INTEGER NOT NULL REFERENCES imports (id),
        line_no        INTEGER NOT NULL,
        line_item_id   TEXT,
        format         TEXT    NOT NULL,
        account        TEXT    NOT NULL,
        payer_account  TEXT,
        region         TEXT,
        usage_type     TEXT    NOT NULL,
        operation      TEXT,
        meter          TEXT,
        cache_size_gb  TEXT,
        resource_id    TEXT,
        api_id         TEXT,
        stage          TEXT,
        line_item_type TEXT    NOT NULL,
        usage_start    INTEGER NOT NULL,
        usage_end      INTEGER NOT NULL,
        usage_amount   TEXT    NOT NULL,
        unblended_cost TEXT    NOT NULL,
        currency       TEXT    NOT NULL,
        tags           TEXT    NOT NULL,
        PRIMARY KEY (import_id, line_no)
    );
    -- Period queries (reports, forecasts, anomalies) read a range of start times.
    CREATE INDEX bill_lines_usage_start ON bill_lines (usage_start);
    -- Per-account month totals (repricing tiers, allocation by account).
    CREATE INDEX bill_lines_account_start ON bill_lines (account, usage_start);
    -- Line ids: overlapping re-deliveries of a month, reconciliation.
    CREATE INDEX bill_lines_line_item_id ON bill_lines (line_item_id)
        WHERE line_item_id IS NOT NULL;
    ",
    // 3: the overlap check at import seeks a line id in earlier imports; with the id alone it
    // scanned every copy of the id (quadratic on files that repeat ids; bench/RESULTS.md).
    "
    DROP INDEX IF EXISTS bill_lines_line_item_id;
    CREATE INDEX bill_lines_line_item_import ON bill_lines (line_item_id, import_id)
        WHERE line_item_id IS NOT NULL;
    ",
    // 4: re-delivered months. AWS rewrites a billing period's export several times a month
    // (and a CUR and a FOCUS export hold the same charges); a newer delivery replaces the
    // lines of the same month and payer account from earlier imports. The replaced lines are
    // deleted; this table keeps what was replaced, by which import, for `tollgate aws imports`.
    "
    CREATE TABLE import_supersessions (
        import_id      INTEGER NOT NULL REFERENCES imports (id),
        superseded_by  INTEGER NOT NULL REFERENCES imports (id),
        billing_period TEXT    NOT NULL,
        payer_account  TEXT    NOT NULL,
        lines          INTEGER NOT NULL CHECK (lines >= 0),
        superseded_at  INTEGER NOT NULL,
        PRIMARY KEY (import_id, superseded_by, billing_period, payer_account)
    );
    ",
    // 5: cost categories of imported lines (JSON object, like tags); lines imported before
    // have none.
    "
    ALTER TABLE bill_lines ADD COLUMN cost_categories TEXT NOT NULL DEFAULT '{}';
    ",
];

/// The schema version this build writes and understands (the number of migrations).
pub fn schema_version() -> i64 {
    // A list of a few entries: the cast cannot truncate.
    MIGRATIONS.len() as i64
}
