//! Behaviour of the SQLite ledger through the `Ledger` trait, on real files.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tollgate_store::{
    open, parse_store_url, schema_version, Ledger, LedgerError, OpenMode, SqliteLedger,
    SqliteOptions,
};
use tollgate_types::usage::{
    status_class_label, Dimension, Reason, Tags, UsageBatch, UsageCounts, UsageKey, UsageMeter,
    UsageQuery, UsageRecord, UsageRow,
};

/// 2024-01-01T00:00:00Z.
const JAN: i64 = 1_704_067_200;
/// 2024-02-01T00:00:00Z.
const FEB: i64 = 1_706_745_600;
/// 2024-03-01T00:00:00Z.
const MAR: i64 = 1_709_251_200;
const HOUR: i64 = 3600;

fn key(bucket: i64) -> UsageKey {
    UsageKey {
        bucket,
        region: "us-east-1".into(),
        api: "api1".into(),
        stage: "$default".into(),
        route: "GET /pets".into(),
        api_key: String::new(),
        client: "10.0.0.1".into(),
        status_class: 2,
        billable: true,
        reason: Reason::Integration,
        meter: UsageMeter::HttpRequests,
        tags: Tags::new(),
    }
}

fn rec(key: UsageKey, units: u64, events: u64) -> UsageRecord {
    UsageRecord {
        key,
        counts: UsageCounts { units, events },
    }
}

fn batch(id: &str, records: Vec<UsageRecord>) -> UsageBatch {
    UsageBatch {
        id: id.into(),
        records,
    }
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn create(path: &Path) -> SqliteLedger {
    SqliteLedger::open(path, OpenMode::CreateIfMissing, SqliteOptions::default()).unwrap()
}

fn q(from: i64, to: i64, group_by: Vec<Dimension>) -> UsageQuery {
    UsageQuery { from, to, group_by }
}

/// Rows as (month, group, meter name, billable) → (units, events), for compact asserts.
fn summary(rows: &[UsageRow]) -> Vec<(String, Vec<String>, String, bool, u64, u64)> {
    rows.iter()
        .map(|r| {
            (
                r.month.clone(),
                r.group.clone(),
                r.meter.name().into_owned(),
                r.billable,
                r.counts.units,
                r.counts.events,
            )
        })
        .collect()
}

fn row(
    month: &str,
    group: &[&str],
    meter: &str,
    billable: bool,
    units: u64,
    events: u64,
) -> (String, Vec<String>, String, bool, u64, u64) {
    (
        month.into(),
        group.iter().map(|s| s.to_string()).collect(),
        meter.into(),
        billable,
        units,
        events,
    )
}

fn count_rows(path: &Path, table: &str) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// `YYYY-MM` of a Unix time (civil-from-days), independent of the code under test.
fn month_of(t: i64) -> String {
    let z = t.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}")
}

/// (month, region, group, meter name, not billable): the output order.
type ModelKey = (String, String, Vec<String>, String, bool);

/// The expected answer of a query, computed in memory from the appended records.
fn model(records: &[UsageRecord], query: &UsageQuery) -> Vec<UsageRow> {
    let mut cells: BTreeMap<ModelKey, (UsageMeter, UsageCounts)> = BTreeMap::new();
    for r in records {
        let k = &r.key;
        if k.bucket < query.from || k.bucket >= query.to {
            continue;
        }
        let group = query
            .group_by
            .iter()
            .map(|d| match d {
                Dimension::Api => k.api.clone(),
                Dimension::Stage => k.stage.clone(),
                Dimension::Route => k.route.clone(),
                Dimension::Key => k.api_key.clone(),
                Dimension::Client => k.client.clone(),
                Dimension::Status => status_class_label(k.status_class),
                Dimension::Reason => k.reason.as_str().to_owned(),
                Dimension::Region => k.region.clone(),
                Dimension::Tag(t) => k.tags.get(t).cloned().unwrap_or_default(),
            })
            .collect();
        let cell = cells
            .entry((
                month_of(k.bucket),
                k.region.clone(),
                group,
                k.meter.name().into_owned(),
                !k.billable,
            ))
            .or_insert((k.meter, UsageCounts::default()));
        cell.1.add(r.counts);
    }
    cells
        .into_iter()
        .map(
            |((month, region, group, _, not_billable), (meter, counts))| UsageRow {
                month,
                region,
                meter,
                billable: !not_billable,
                group,
                counts,
            },
        )
        .collect()
}

/// A varied set of records over January and February 2024.
fn sample_records() -> Vec<UsageRecord> {
    let mut out = Vec::new();
    let mut k = key(JAN + 10 * 60);
    k.tags = tags(&[("team", "pets"), ("env", "prod")]);
    out.push(rec(k.clone(), 3, 3));

    k.route = "POST /pets".into();
    k.status_class = 4;
    k.billable = false;
    k.reason = Reason::AuthFailed;
    out.push(rec(k.clone(), 2, 2));

    let mut k2 = key(JAN + 2 * HOUR + 5 * 60);
    k2.api = "api2".into();
    k2.api_key = "key-a".into();
    k2.client = "10.0.0.2".into();
    k2.tags = tags(&[("team", "orders")]);
    out.push(rec(k2.clone(), 7, 5));
    k2.meter = UsageMeter::DataOutBytes;
    out.push(rec(k2.clone(), 4096, 5));

    let mut k3 = key(FEB + 3 * 60);
    k3.region = "eu-west-1".into();
    k3.stage = "prod".into();
    k3.status_class = 0;
    k3.reason = Reason::Websocket;
    k3.meter = UsageMeter::CacheMs { centi_gb: 50 };
    out.push(rec(k3.clone(), 60_000, 1));

    let mut k4 = key(FEB + 3 * 60);
    k4.status_class = 5;
    k4.tags = tags(&[("env", "dev")]);
    out.push(rec(k4, 1, 1));
    out
}

#[test]
fn grouped_queries_match_the_records_for_every_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = create(&dir.path().join("t.db"));
    let records = sample_records();
    assert!(ledger.append(&batch("b1", records.clone())).unwrap());

    let dims = [
        Dimension::Api,
        Dimension::Stage,
        Dimension::Route,
        Dimension::Key,
        Dimension::Client,
        Dimension::Status,
        Dimension::Reason,
        Dimension::Region,
        Dimension::Tag("team".into()),
        Dimension::Tag("env".into()),
    ];
    let mut queries: Vec<Vec<Dimension>> = vec![vec![]];
    queries.extend(dims.iter().map(|d| vec![d.clone()]));
    queries.push(dims.to_vec());
    queries.push(vec![Dimension::Tag("team".into()), Dimension::Status]);
    for group_by in queries {
        let query = q(JAN, MAR, group_by);
        assert_eq!(
            ledger.query(&query).unwrap(),
            model(&records, &query),
            "{query:?}"
        );
    }
}

#[test]
fn grouped_queries_give_the_exact_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = create(&dir.path().join("t.db"));
    ledger.append(&batch("b1", sample_records())).unwrap();

    let rows = ledger
        .query(&q(JAN, FEB, vec![Dimension::Tag("team".into())]))
        .unwrap();
    assert_eq!(
        summary(&rows),
        vec![
            row("2024-01", &["orders"], "data_out_bytes", true, 4096, 5),
            row("2024-01", &["orders"], "http_requests", true, 7, 5),
            row("2024-01", &["pets"], "http_requests", true, 3, 3),
            row("2024-01", &["pets"], "http_requests", false, 2, 2),
        ]
    );
    assert!(rows.iter().all(|r| r.region == "us-east-1"));

    let rows = ledger.query(&q(JAN, MAR, vec![Dimension::Status])).unwrap();
    assert_eq!(
        summary(&rows),
        vec![
            row("2024-01", &["2xx"], "data_out_bytes", true, 4096, 5),
            row("2024-01", &["2xx"], "http_requests", true, 10, 8),
            row("2024-01", &["4xx"], "http_requests", false, 2, 2),
            // February: eu-west-1 sorts before us-east-1.
            row("2024-02", &["-"], "cache_ms:0.5", true, 60_000, 1),
            row("2024-02", &["5xx"], "http_requests", true, 1, 1),
        ]
    );
    assert_eq!(rows[3].region, "eu-west-1");
    assert_eq!(rows[3].meter, UsageMeter::CacheMs { centi_gb: 50 });

    // A tag no record has is the empty string.
    let rows = ledger
        .query(&q(
            FEB,
            MAR,
            vec![Dimension::Tag("owner".into()), Dimension::Reason],
        ))
        .unwrap();
    assert_eq!(
        summary(&rows),
        vec![
            row(
                "2024-02",
                &["", "websocket"],
                "cache_ms:0.5",
                true,
                60_000,
                1
            ),
            row("2024-02", &["", "integration"], "http_requests", true, 1, 1),
        ]
    );

    // Only [from, to): the 10:00 minute is excluded by to, the 02:05 one by from.
    let rows = ledger
        .query(&q(JAN + 11 * 60, JAN + 3 * HOUR, vec![Dimension::Key]))
        .unwrap();
    assert_eq!(
        summary(&rows),
        vec![
            row("2024-01", &["key-a"], "data_out_bytes", true, 4096, 5),
            row("2024-01", &["key-a"], "http_requests", true, 7, 5),
        ]
    );
    assert!(ledger.query(&q(JAN, JAN + 60, vec![])).unwrap().is_empty());
}

#[test]
fn tag_names_with_special_characters_address_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = create(&dir.path().join("t.db"));
    let mut k = key(JAN);
    k.tags = tags(&[
        ("cost.center", "cc1"),
        ("we\"ird", "w"),
        ("back\\slash", "b"),
        ("a[0]", "arr"),
        ("cost", "not-this"),
    ]);
    ledger.append(&batch("b", vec![rec(k, 1, 1)])).unwrap();
    for (name, want) in [
        ("cost.center", "cc1"),
        ("we\"ird", "w"),
        ("back\\slash", "b"),
        ("a[0]", "arr"),
        ("cost", "not-this"),
        ("center", ""),
    ] {
        let rows = ledger
            .query(&q(JAN, FEB, vec![Dimension::Tag(name.into())]))
            .unwrap();
        assert_eq!(rows.len(), 1, "{name}");
        assert_eq!(rows[0].group, vec![want.to_string()], "{name}");
    }
}

#[test]
fn append_adds_to_existing_cells() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut ledger = create(&path);
    let mut k = key(JAN + 60);
    k.tags = tags(&[("team", "pets")]);
    assert!(ledger
        .append(&batch("a", vec![rec(k.clone(), 3, 2)]))
        .unwrap());
    assert!(ledger
        .append(&batch(
            "b",
            vec![rec(k.clone(), 4, 1), rec(k.clone(), 10, 10)]
        ))
        .unwrap());
    // A bucket off the minute is aligned down into the same cell.
    let mut off = k.clone();
    off.bucket += 59;
    assert!(ledger.append(&batch("c", vec![rec(off, 100, 1)])).unwrap());

    assert_eq!(count_rows(&path, "usage_minute"), 1);
    let rows = ledger.query(&q(JAN, FEB, vec![Dimension::Route])).unwrap();
    assert_eq!(
        summary(&rows),
        vec![row(
            "2024-01",
            &["GET /pets"],
            "http_requests",
            true,
            117,
            14
        )]
    );
}

#[test]
fn a_batch_id_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut ledger = create(&path);
    let records = vec![rec(key(JAN), 5, 5)];
    assert!(ledger.append(&batch("node1-7", records.clone())).unwrap());
    assert!(!ledger.append(&batch("node1-7", records.clone())).unwrap());
    // Even with other content, a replayed id changes nothing.
    assert!(!ledger
        .append(&batch("node1-7", vec![rec(key(JAN + 60), 1, 1)]))
        .unwrap());
    assert!(ledger.append(&batch("node1-8", records)).unwrap());

    let rows = ledger.query(&q(JAN, FEB, vec![])).unwrap();
    assert_eq!(
        summary(&rows),
        vec![row("2024-01", &[], "http_requests", true, 10, 10)]
    );
    assert_eq!(count_rows(&path, "applied_batches"), 2);
    assert_eq!(count_rows(&path, "usage_minute"), 1);

    // Ids survive a reopen (a replay after a restart is the case that matters).
    drop(ledger);
    let mut ledger = create(&path);
    assert!(!ledger
        .append(&batch("node1-8", vec![rec(key(JAN), 5, 5)]))
        .unwrap());
    let rows = ledger.query(&q(JAN, FEB, vec![])).unwrap();
    assert_eq!(
        rows[0].counts,
        UsageCounts {
            units: 10,
            events: 10
        }
    );
}

#[test]
fn rows_split_at_month_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = create(&dir.path().join("t.db"));
    ledger
        .append(&batch(
            "b",
            vec![
                rec(key(FEB - 60), 2, 2),
                rec(key(FEB), 3, 3),
                rec(key(FEB + 60), 4, 4),
            ],
        ))
        .unwrap();
    let rows = ledger.query(&q(JAN, MAR, vec![Dimension::Api])).unwrap();
    assert_eq!(
        summary(&rows),
        vec![
            row("2024-01", &["api1"], "http_requests", true, 2, 2),
            row("2024-02", &["api1"], "http_requests", true, 7, 7),
        ]
    );
    // The same after rolling up: hours never straddle months.
    ledger.rollup(MAR).unwrap();
    assert_eq!(
        ledger.query(&q(JAN, MAR, vec![Dimension::Api])).unwrap(),
        rows
    );
}

#[test]
fn rollup_moves_minute_rows_into_hours_and_keeps_every_sum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut ledger = create(&path);
    let mut records = sample_records();
    // Several minutes of the same cells in one hour, and a later hour left as minutes.
    for minute in [0, 1, 30, 59] {
        let mut k = key(JAN + HOUR + minute * 60);
        k.tags = tags(&[("team", "pets")]);
        records.push(rec(k.clone(), minute as u64 + 1, 1));
        k.reason = Reason::Throttled;
        k.billable = false;
        records.push(rec(k, 2, 2));
    }
    records.push(rec(key(JAN + 5 * HOUR + 60), 9, 9));
    ledger.append(&batch("b", records.clone())).unwrap();

    let all_dims = vec![
        Dimension::Api,
        Dimension::Stage,
        Dimension::Route,
        Dimension::Key,
        Dimension::Client,
        Dimension::Status,
        Dimension::Reason,
        Dimension::Region,
        Dimension::Tag("team".into()),
    ];
    let queries = [
        q(JAN, MAR, vec![]),
        q(JAN, MAR, all_dims.clone()),
        q(JAN + HOUR, JAN + 2 * HOUR, vec![Dimension::Reason]),
        q(JAN, JAN + 2 * HOUR, vec![Dimension::Tag("team".into())]),
        q(JAN + 5 * HOUR, FEB, all_dims),
    ];
    let before: Vec<_> = queries.iter().map(|qq| ledger.query(qq).unwrap()).collect();
    for (qq, rows) in queries.iter().zip(&before) {
        assert_eq!(rows, &model(&records, qq), "{qq:?}");
    }

    let minute_rows = count_rows(&path, "usage_minute");
    // Rows before 05:00 on Jan 1: two at 00:10, eight in hour 01, two at 02:05.
    assert_eq!(minute_rows, 2 + 8 + 2 + 1 + 2);
    let folded = ledger.rollup(JAN + 5 * HOUR).unwrap();
    assert_eq!(folded, 12);
    assert_eq!(count_rows(&path, "usage_minute"), minute_rows - 12);
    // Hour 01 collapses to two cells, 00 and 02 keep theirs: 2 + 2 + 2.
    assert_eq!(count_rows(&path, "usage_hour"), 6);
    let conn = Connection::open(&path).unwrap();
    let (units, events): (i64, i64) = conn
        .query_row(
            "SELECT units, events FROM usage_hour WHERE bucket = ?1 AND reason = 'integration'",
            [JAN + HOUR],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((units, events), (1 + 2 + 31 + 60, 4));
    let misaligned: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM usage_hour WHERE bucket % 3600 != 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(misaligned, 0);

    let after: Vec<_> = queries.iter().map(|qq| ledger.query(qq).unwrap()).collect();
    assert_eq!(after, before);

    // Late minutes of an hour already rolled up add to the hour row on the next rollup.
    let mut late = key(JAN + HOUR + 45 * 60);
    late.tags = tags(&[("team", "pets")]);
    ledger
        .append(&batch("late", vec![rec(late, 1000, 1)]))
        .unwrap();
    assert_eq!(ledger.rollup(JAN + 5 * HOUR).unwrap(), 1);
    let (units, events): (i64, i64) = conn
        .query_row(
            "SELECT units, events FROM usage_hour WHERE bucket = ?1 AND reason = 'integration'",
            [JAN + HOUR],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((units, events), (1094, 5));
    assert_eq!(ledger.rollup(JAN + 5 * HOUR).unwrap(), 0);
}

#[test]
fn a_newer_schema_is_refused_and_the_file_left_untouched() {
    for wal in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("future.db");
        {
            let conn = Connection::open(&path).unwrap();
            if wal {
                let mode: String = conn
                    .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(mode, "wal");
            }
            conn.execute_batch(
                "CREATE TABLE usage_v999 (x INTEGER); INSERT INTO usage_v999 VALUES (1);
                 PRAGMA user_version = 999;",
            )
            .unwrap();
        }
        let before = std::fs::read(&path).unwrap();

        for mode in [OpenMode::CreateIfMissing, OpenMode::MustExist] {
            let err = SqliteLedger::open(&path, mode, SqliteOptions::default()).unwrap_err();
            match &err {
                LedgerError::SchemaTooNew {
                    found, supported, ..
                } => {
                    assert_eq!(*found, 999);
                    assert_eq!(*supported, schema_version());
                }
                other => panic!("expected SchemaTooNew, got {other:?}"),
            }
            assert!(!err.is_transient());
        }
        let url = parse_store_url(&format!("sqlite://{}", path.display())).unwrap();
        assert!(matches!(
            open(&url, OpenMode::CreateIfMissing),
            Err(LedgerError::SchemaTooNew { found: 999, .. })
        ));

        assert_eq!(std::fs::read(&path).unwrap(), before, "wal={wal}");
        if !wal {
            assert!(!path.with_extension("db-wal").exists());
        }
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 999);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, if wal { "wal" } else { "delete" });
    }
}

#[test]
fn must_exist_refuses_a_missing_file_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let err = SqliteLedger::open(&path, OpenMode::MustExist, SqliteOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("no ledger exists at"), "{text}");
    assert!(text.contains("missing.db"), "{text}");

    let url = parse_store_url(&format!("sqlite://{}", path.display())).unwrap();
    let err = open(&url, OpenMode::MustExist).err().unwrap();
    assert!(err.to_string().contains("no ledger exists at"), "{err}");

    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // CreateIfMissing creates it; MustExist then opens it.
    drop(create(&path));
    assert!(path.exists());
    let ledger = SqliteLedger::open(&path, OpenMode::MustExist, SqliteOptions::default()).unwrap();
    assert_eq!(ledger.describe(), format!("sqlite://{}", path.display()));
}

#[test]
fn a_locked_file_fails_fast_as_unavailable_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut ledger = create(&path);
    let records = vec![rec(key(JAN), 5, 1)];

    let locker = Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let started = Instant::now();
    let err = ledger.append(&batch("b1", records.clone())).unwrap_err();
    let waited = started.elapsed();
    assert!(err.is_transient(), "{err:?}");
    match &err {
        LedgerError::Unavailable { store, message } => {
            assert_eq!(store, &format!("sqlite://{}", path.display()));
            assert!(message.contains("locked"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(waited >= Duration::from_millis(50), "{waited:?}");
    assert!(waited < Duration::from_millis(600), "{waited:?}");
    assert!(matches!(
        ledger.rollup(FEB),
        Err(LedgerError::Unavailable { .. })
    ));

    locker.execute_batch("COMMIT").unwrap();
    // The failed attempt left nothing behind: the same batch applies now, once.
    assert!(ledger.append(&batch("b1", records)).unwrap());
    let rows = ledger.query(&q(JAN, FEB, vec![])).unwrap();
    assert_eq!(
        summary(&rows),
        vec![row("2024-01", &[], "http_requests", true, 5, 1)]
    );
}

#[test]
fn reopening_keeps_the_data_and_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let records = sample_records();
    {
        let mut ledger = create(&path);
        ledger.append(&batch("b1", records.clone())).unwrap();
        ledger.rollup(JAN + HOUR).unwrap();
    }
    let query = q(
        JAN,
        MAR,
        vec![Dimension::Route, Dimension::Tag("team".into())],
    );
    for mode in [OpenMode::MustExist, OpenMode::CreateIfMissing] {
        let url = parse_store_url(&format!("sqlite:{}", path.display())).unwrap();
        let mut ledger = open(&url, mode).unwrap();
        assert_eq!(ledger.query(&query).unwrap(), model(&records, &query));
    }
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema_version());
    assert_eq!(schema_version(), 5);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn an_existing_empty_file_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    let mut ledger =
        SqliteLedger::open(&path, OpenMode::MustExist, SqliteOptions::default()).unwrap();
    assert!(ledger
        .append(&batch("b", vec![rec(key(JAN), 1, 1)]))
        .unwrap());
    assert_eq!(count_rows(&path, "usage_minute"), 1);
}

#[test]
fn a_file_that_is_not_a_database_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.db");
    let junk = vec![b'x'; 4096];
    std::fs::write(&path, &junk).unwrap();
    let err = SqliteLedger::open(&path, OpenMode::MustExist, SqliteOptions::default()).unwrap_err();
    assert!(matches!(err, LedgerError::Corrupt { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), junk);
}

#[test]
fn postgres_urls_parse_but_do_not_open_yet() {
    let url = parse_store_url("postgres://meter:pw@db/tollgate").unwrap();
    let err = open(&url, OpenMode::CreateIfMissing).err().unwrap();
    let text = err.to_string();
    assert!(
        text.contains("PostgreSQL ledgers are not supported yet (use sqlite://...)"),
        "{text}"
    );
    assert!(!text.contains(":pw@"), "{text}");
}

#[test]
fn an_empty_period_is_an_invalid_query() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = create(&dir.path().join("t.db"));
    for (from, to) in [(FEB, JAN), (JAN, JAN)] {
        assert!(matches!(
            ledger.query(&q(from, to, vec![])),
            Err(LedgerError::InvalidQuery(_))
        ));
    }
}

#[test]
fn values_that_do_not_read_back_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut ledger = create(&path);
    let raw = Connection::open(&path).unwrap();
    let insert = "INSERT INTO usage_minute VALUES (?1, 'us-east-1', 'a', 's', 'r', '', '', 2, 1, ?2, ?3, ?4, 1, 1)";

    raw.execute(
        insert,
        rusqlite::params![JAN, "integration", "furlongs", "{}"],
    )
    .unwrap();
    let err = ledger.query(&q(JAN, FEB, vec![])).unwrap_err();
    assert!(
        matches!(&err, LedgerError::Corrupt { message, .. } if message.contains("furlongs")),
        "{err:?}"
    );

    raw.execute("DELETE FROM usage_minute", []).unwrap();
    raw.execute(
        insert,
        rusqlite::params![JAN, "bribed", "http_requests", "{}"],
    )
    .unwrap();
    assert!(ledger.query(&q(JAN, FEB, vec![])).is_ok());
    let err = ledger
        .query(&q(JAN, FEB, vec![Dimension::Reason]))
        .unwrap_err();
    assert!(
        matches!(&err, LedgerError::Corrupt { message, .. } if message.contains("bribed")),
        "{err:?}"
    );

    raw.execute("DELETE FROM usage_minute", []).unwrap();
    raw.execute(
        insert,
        rusqlite::params![JAN, "integration", "http_requests", "{not json"],
    )
    .unwrap();
    let err = ledger
        .query(&q(JAN, FEB, vec![Dimension::Tag("team".into())]))
        .unwrap_err();
    assert!(matches!(err, LedgerError::Corrupt { .. }), "{err:?}");
}

#[test]
fn old_batch_ids_are_forgotten_after_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut ledger = create(&path);
    ledger.append(&batch("recent", vec![])).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let raw = Connection::open(&path).unwrap();
    raw.execute(
        "INSERT INTO applied_batches VALUES ('old', ?1), ('six-days', ?2)",
        [now - 8 * 86_400, now - 6 * 86_400],
    )
    .unwrap();
    ledger.rollup(JAN).unwrap();
    let mut ids: Vec<String> = raw
        .prepare("SELECT id FROM applied_batches ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    ids.sort();
    assert_eq!(ids, vec!["recent".to_string(), "six-days".to_string()]);
}

#[test]
fn period_queries_use_the_bucket_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(create(&path));
    let conn = Connection::open(&path).unwrap();
    for table in ["usage_minute", "usage_hour"] {
        let plan: Vec<String> = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT SUM(units) FROM {table} WHERE bucket >= ?1 AND bucket < ?2"
            ))
            .unwrap()
            .query_map([JAN, FEB], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("SEARCH"), "{plan}");
        assert!(plan.contains("bucket>? AND bucket<?"), "{plan}");
    }
}

#[test]
fn tag_names_lists_the_keys_used_in_the_period() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = create(&dir.path().join("t.db"));
    let mut a = key(1_700_000_040);
    a.tags = tags(&[("team", "pets"), ("env", "prod")]);
    let mut b = key(1_700_000_100);
    b.route = "GET /toys".into();
    b.tags = tags(&[("team", "toys"), ("cost-center", "42")]);
    let mut late = key(1_800_000_000);
    late.tags = tags(&[("later", "x")]);
    ledger
        .append(&batch(
            "t1",
            vec![rec(a, 1, 1), rec(b, 1, 1), rec(late, 1, 1)],
        ))
        .unwrap();
    assert_eq!(
        ledger.tag_names(1_699_999_980, 1_700_000_200).unwrap(),
        vec!["cost-center", "env", "team"]
    );
    assert!(ledger.tag_names(0, 1_000).unwrap().is_empty());
}
