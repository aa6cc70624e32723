//! The meter end to end against an in-memory ledger that can be made to fail: nothing recorded
//! is lost or counted twice, whether the ledger is up, down, or down across a restart.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tollgate_meter::{
    start, ApiKind, BillingPolicy, FlusherSettings, Ledger, LedgerError, RequestUsage, RouteDims,
};
use tollgate_types::usage::{Reason, UsageBatch, UsageQuery, UsageRow};

#[derive(Default)]
struct State {
    down: bool,
    applied: HashSet<String>,
    /// (meter, billable, reason) → (units, events)
    totals: BTreeMap<(String, bool, String), (u64, u64)>,
    appends: u64,
}

#[derive(Clone, Default)]
struct MemLedger(Arc<Mutex<State>>);

impl MemLedger {
    fn set_down(&self, down: bool) {
        self.0.lock().unwrap().down = down;
    }
    fn total(&self, meter: &str) -> (u64, u64) {
        let s = self.0.lock().unwrap();
        s.totals
            .iter()
            .filter(|((m, _, _), _)| m == meter)
            .fold((0, 0), |(u, e), (_, (u2, e2))| (u + u2, e + e2))
    }
    fn by_reason(&self, meter: &str, reason: &str) -> (bool, u64) {
        let s = self.0.lock().unwrap();
        let mut billable = false;
        let mut units = 0;
        for ((m, b, r), (u, _)) in &s.totals {
            if m == meter && r == reason {
                billable = *b;
                units += u;
            }
        }
        (billable, units)
    }
}

impl Ledger for MemLedger {
    fn append(&mut self, batch: &UsageBatch) -> Result<bool, LedgerError> {
        let mut s = self.0.lock().unwrap();
        if s.down {
            return Err(LedgerError::Unavailable {
                store: "mem".into(),
                message: "down".into(),
            });
        }
        if !s.applied.insert(batch.id.clone()) {
            return Ok(false);
        }
        s.appends += 1;
        for r in &batch.records {
            let e = s
                .totals
                .entry((
                    r.key.meter.name().into_owned(),
                    r.key.billable,
                    r.key.reason.as_str().to_owned(),
                ))
                .or_default();
            e.0 += r.counts.units;
            e.1 += r.counts.events;
        }
        Ok(true)
    }
    fn query(&mut self, _: &UsageQuery) -> Result<Vec<UsageRow>, LedgerError> {
        Ok(Vec::new())
    }
    fn tag_names(&mut self, _: i64, _: i64) -> Result<Vec<String>, LedgerError> {
        Ok(Vec::new())
    }
    fn rollup(&mut self, _: i64) -> Result<u64, LedgerError> {
        Ok(0)
    }
    fn describe(&self) -> String {
        "mem".into()
    }
}

fn settings(dir: &tempfile::TempDir, buffer_records: usize) -> FlusherSettings {
    FlusherSettings {
        policy: BillingPolicy::default(),
        retry_interval: Duration::from_millis(20),
        buffer_records,
        spill_path: dir.path().join("ledger.spill"),
        minute_retention: Duration::from_secs(7 * 24 * 3600),
    }
}

fn dims(route: &str) -> Arc<RouteDims> {
    Arc::new(RouteDims {
        region: "us-east-1".into(),
        api: "a1".into(),
        stage: "$default".into(),
        route: route.into(),
        kind: ApiKind::Http,
        tags: Arc::new(BTreeMap::from([("team".into(), "pets".into())])),
    })
}

fn request(d: &Arc<RouteDims>, i: u64, reason: Reason) -> RequestUsage<'_> {
    RequestUsage {
        dims: d,
        // Spread over several minutes so that cells roll over.
        at_secs: 1_700_000_000 + (i as i64 % 300),
        client: IpAddr::V4(Ipv4Addr::new(10, 0, 0, (i % 7) as u8)),
        principal: None,
        api_key: None,
        status: if i % 5 == 0 { 500 } else { 200 },
        reason,
        request_bytes: if i % 10 == 0 { 600 * 1024 } else { 100 },
        bytes_out: 10,
        uncompressed_body: 0,
    }
}

#[test]
fn counts_from_several_threads_arrive_once() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = MemLedger::default();
    let (meter, handle) = start(Box::new(ledger.clone()), settings(&dir, 1000)).unwrap();
    let d = dims("GET /pets");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let meter = meter.clone();
            let d = Arc::clone(&d);
            std::thread::spawn(move || {
                for i in 0..2500u64 {
                    meter.record_request(request(&d, i, Reason::Integration));
                    if i % 500 == 0 {
                        meter.flush_thread();
                    }
                }
                meter.flush_thread();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    meter.sync();
    // 10 000 requests; every tenth is 600 KB = 2 units.
    assert_eq!(ledger.total("http_requests"), (11_000, 10_000));
    assert_eq!(ledger.total("data_out_bytes"), (100_000, 10_000));
    handle.stop();
}

#[test]
fn unknown_rules_follow_the_policy_and_documented_ones_are_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = MemLedger::default();
    let (meter, handle) = start(Box::new(ledger.clone()), settings(&dir, 1000)).unwrap();
    let d = dims("GET /pets");
    for (i, reason) in [
        Reason::Integration,
        Reason::Throttled,
        Reason::UnmatchedRoute,
    ]
    .into_iter()
    .enumerate()
    {
        meter.record_request(request(&d, i as u64 + 1, reason));
    }
    meter.flush_thread();
    meter.sync();
    assert_eq!(ledger.by_reason("http_requests", "integration"), (true, 1));
    assert_eq!(ledger.by_reason("http_requests", "throttled"), (false, 1));
    assert_eq!(
        ledger.by_reason("http_requests", "unmatched_route"),
        (true, 1)
    );
    handle.stop();
}

#[test]
fn an_outage_buffers_then_spills_and_the_spill_is_replayed_once() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = MemLedger::default();
    // A tiny buffer so that the outage spills.
    let (meter, handle) = start(Box::new(ledger.clone()), settings(&dir, 3)).unwrap();
    ledger.set_down(true);
    let routes: Vec<_> = (0..10).map(|i| dims(&format!("GET /r{i}"))).collect();
    for (i, d) in routes.iter().enumerate() {
        for j in 0..10 {
            meter.record_request(request(d, (i * 10 + j) as u64 + 1, Reason::Integration));
        }
        meter.flush_thread();
        meter.sync();
    }
    let spill = dir.path().join("ledger.spill");
    assert!(spill.exists(), "an outage beyond the buffer spills to disk");
    assert!(
        meter
            .stats()
            .spilled
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    assert_eq!(ledger.total("http_requests"), (0, 0));

    ledger.set_down(false);
    meter.sync();
    std::thread::sleep(Duration::from_millis(50));
    meter.sync();
    assert!(!spill.exists(), "the spill file is removed once replayed");
    let (units, events) = ledger.total("http_requests");
    assert_eq!(events, 100);
    assert_eq!(units, 110);
    handle.stop();
}

#[test]
fn a_stop_during_an_outage_spills_and_the_next_start_replays() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = MemLedger::default();
    ledger.set_down(true);
    let (meter, handle) = start(Box::new(ledger.clone()), settings(&dir, 100_000)).unwrap();
    let d = dims("GET /pets");
    for i in 1..=50 {
        meter.record_request(request(&d, i, Reason::Mock));
    }
    meter.flush_thread();
    handle.stop();
    assert!(dir.path().join("ledger.spill").exists());
    assert_eq!(ledger.total("http_requests"), (0, 0));

    ledger.set_down(false);
    let (meter, handle) = start(Box::new(ledger.clone()), settings(&dir, 100_000)).unwrap();
    meter.sync();
    assert_eq!(ledger.total("http_requests").1, 50);
    assert!(!dir.path().join("ledger.spill").exists());
    handle.stop();
    assert_eq!(ledger.total("http_requests").1, 50, "no double count");
}

#[test]
fn a_replayed_batch_is_not_counted_twice() {
    // The same spill file replayed into a ledger that already applied it (a crash between the
    // ledger's commit and the file's removal) adds nothing.
    let dir = tempfile::tempdir().unwrap();
    let ledger = MemLedger::default();
    ledger.set_down(true);
    let (meter, handle) = start(Box::new(ledger.clone()), settings(&dir, 100_000)).unwrap();
    let d = dims("GET /pets");
    for i in 1..=20 {
        meter.record_request(request(&d, i, Reason::Integration));
    }
    meter.flush_thread();
    handle.stop();
    let spill = dir.path().join("ledger.spill");
    let copy = std::fs::read(&spill).unwrap();
    ledger.set_down(false);
    let (meter, handle) = start(Box::new(ledger.clone()), settings(&dir, 100_000)).unwrap();
    meter.sync();
    handle.stop();
    std::fs::write(&spill, copy).unwrap();
    let (meter, handle) = start(Box::new(ledger.clone()), settings(&dir, 100_000)).unwrap();
    meter.sync();
    handle.stop();
    assert_eq!(ledger.total("http_requests").1, 20);
    assert_eq!(
        ledger.total("http_requests").0,
        22,
        "20 requests, two of 600 KB"
    );
}
