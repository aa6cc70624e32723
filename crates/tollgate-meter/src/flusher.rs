//! The flusher: a dedicated thread that merges the workers' cells and writes them to the
//! ledger, so that a slow or failing store never touches the request path.
//!
//! While the ledger fails, records stay in memory up to `buffer_records`; beyond that they are
//! appended to the spill file (one JSON batch per line, fsynced). When the ledger is back the
//! spill file is replayed first and removed; batches carry ids and ledgers apply an id once, so
//! a replay interrupted by a crash never counts twice.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tollgate_types::usage::{
    Reason, Tags, UsageBatch, UsageCounts, UsageKey, UsageMeter, UsageRecord,
};

use crate::ledger::Ledger;
use crate::recorder::{BillingPolicy, Cell, Meter, ToFlusher};

/// How the flusher behaves.
#[derive(Debug, Clone)]
pub struct FlusherSettings {
    pub policy: BillingPolicy,
    /// How long to wait before retrying a failed write.
    pub retry_interval: Duration,
    /// Records held in memory while the ledger fails, before spilling.
    pub buffer_records: usize,
    pub spill_path: PathBuf,
    /// Minute rows older than this are rolled up to hours (checked hourly).
    pub minute_retention: Duration,
}

/// Counters about the meter itself, for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct MeterStats {
    /// Cells handed to the flusher and not yet merged.
    pub in_flight: AtomicU64,
    /// Records waiting in memory for the ledger.
    pub buffered: AtomicU64,
    /// Records written to the ledger (including replays).
    pub written: AtomicU64,
    /// Records appended to the spill file.
    pub spilled: AtomicU64,
    /// Failed ledger writes.
    pub write_errors: AtomicU64,
    /// 1 while a spill file waits to be replayed.
    pub spill_pending: AtomicU64,
}

/// Errors starting the meter.
#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    #[error("cannot start the meter's flusher thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// The running flusher; [`FlusherHandle::stop`] writes what is left and joins it.
pub struct FlusherHandle {
    tx: mpsc::Sender<ToFlusher>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<MeterStats>,
}

impl FlusherHandle {
    /// Write everything received, spill what cannot be written, and stop. Call after every
    /// worker has called [`Meter::flush_thread`] for the last time.
    pub fn stop(mut self) -> Arc<MeterStats> {
        let _ = self.tx.send(ToFlusher::Stop);
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("meter flusher thread panicked");
            }
        }
        Arc::clone(&self.stats)
    }
}

/// Start the flusher on its own thread, writing to `ledger`.
pub fn start(
    ledger: Box<dyn Ledger>,
    settings: FlusherSettings,
) -> Result<(Meter, FlusherHandle), MeterError> {
    let (tx, rx) = mpsc::channel();
    let stats = Arc::new(MeterStats::default());
    let meter = Meter::new(settings.policy, tx.clone(), Arc::clone(&stats));
    let mut flusher = Flusher {
        ledger,
        pending: HashMap::new(),
        spill_pending: settings.spill_path.exists(),
        next_attempt: Instant::now(),
        last_rollup: None,
        failing: false,
        batch_prefix: batch_prefix(),
        seq: 0,
        stats: Arc::clone(&stats),
        settings,
    };
    let thread = std::thread::Builder::new()
        .name("tollgate-meter".into())
        .spawn(move || flusher.run(rx))
        .map_err(MeterError::Thread)?;
    Ok((
        meter,
        FlusherHandle {
            tx,
            thread: Some(thread),
            stats,
        },
    ))
}

fn batch_prefix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos:x}", std::process::id())
}

struct Flusher {
    ledger: Box<dyn Ledger>,
    pending: HashMap<UsageKey, UsageCounts>,
    spill_pending: bool,
    next_attempt: Instant,
    last_rollup: Option<Instant>,
    /// Whether the last write failed (to log state changes once, not every retry).
    failing: bool,
    batch_prefix: String,
    seq: u64,
    stats: Arc<MeterStats>,
    settings: FlusherSettings,
}

const ROLLUP_EVERY: Duration = Duration::from_secs(3600);

impl Flusher {
    fn run(&mut self, rx: Receiver<ToFlusher>) {
        if self.spill_pending {
            tracing::info!(path = %self.settings.spill_path.display(), "replaying the meter's spill file");
        }
        loop {
            let wait = if self.pending.is_empty() && !self.spill_pending {
                ROLLUP_EVERY
            } else {
                self.next_attempt.saturating_duration_since(Instant::now())
            };
            let mut stop = false;
            let mut syncs = Vec::new();
            match rx.recv_timeout(wait) {
                Ok(msg) => {
                    let mut next = Some(msg);
                    // Merge everything already queued before writing once.
                    while let Some(msg) = next {
                        match msg {
                            ToFlusher::Cells(cells) => self.merge(cells),
                            ToFlusher::Sync(ack) => syncs.push(ack),
                            ToFlusher::Stop => stop = true,
                        }
                        next = rx.try_recv().ok();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stop = true,
            }
            if stop || !syncs.is_empty() || Instant::now() >= self.next_attempt {
                self.attempt();
            }
            for ack in syncs {
                let _ = ack.send(());
            }
            if stop {
                // Whatever the ledger could not take goes to the spill file.
                if !self.pending.is_empty() {
                    self.spill();
                }
                return;
            }
            self.maybe_rollup();
        }
    }

    fn merge(&mut self, cells: Vec<Cell>) {
        let n = cells.len() as u64;
        for c in cells {
            let key = UsageKey {
                bucket: c.minute,
                region: c.dims.region.to_string(),
                api: c.dims.api.to_string(),
                stage: c.dims.stage.to_string(),
                route: c.dims.route.to_string(),
                api_key: c.api_key.as_deref().unwrap_or("").to_owned(),
                client: match &c.principal {
                    Some(p) => p.to_string(),
                    None => c.client.to_string(),
                },
                status_class: c.status_class,
                billable: c.billable,
                reason: c.reason,
                meter: c.meter,
                tags: Tags::clone(&c.dims.tags),
            };
            if let Some(bytes) = c.data_out {
                let out = UsageKey {
                    meter: UsageMeter::DataOutBytes,
                    ..key.clone()
                };
                self.pending.entry(out).or_default().add(UsageCounts {
                    units: bytes,
                    events: c.events,
                });
            }
            self.pending.entry(key).or_default().add(UsageCounts {
                units: c.units,
                events: c.events,
            });
        }
        self.stats.in_flight.fetch_sub(n, Ordering::Relaxed);
        self.stats
            .buffered
            .store(self.pending.len() as u64, Ordering::Relaxed);
    }

    fn next_batch_id(&mut self) -> String {
        self.seq += 1;
        format!("{}-{}", self.batch_prefix, self.seq)
    }

    /// Replay the spill file if there is one, then write what is pending; on failure, retry
    /// later and spill once the buffer is over its bound.
    fn attempt(&mut self) {
        let ok = (!self.spill_pending || self.replay_spill()) && self.write_pending();
        if ok {
            if self.failing {
                tracing::info!(ledger = %self.ledger.describe(), "ledger writable again");
                self.failing = false;
            }
            return;
        }
        self.failed();
        if self.pending.len() > self.settings.buffer_records {
            self.spill();
        }
    }

    fn write_pending(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let batch = UsageBatch {
            id: self.next_batch_id(),
            records: self
                .pending
                .iter()
                .map(|(k, c)| UsageRecord {
                    key: k.clone(),
                    counts: *c,
                })
                .collect(),
        };
        match self.ledger.append(&batch) {
            Ok(_) => {
                self.stats
                    .written
                    .fetch_add(batch.records.len() as u64, Ordering::Relaxed);
                self.pending.clear();
                self.stats.buffered.store(0, Ordering::Relaxed);
                true
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!(ledger = %self.ledger.describe(), error = %e, "cannot write usage to the ledger; buffering");
                }
                false
            }
        }
    }

    fn failed(&mut self) {
        self.failing = true;
        self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
        self.next_attempt = Instant::now() + self.settings.retry_interval;
    }

    /// Append everything pending to the spill file as one batch.
    fn spill(&mut self) {
        let batch = SpillBatch {
            id: self.next_batch_id(),
            records: self.pending.iter().map(SpillRecord::from_pair).collect(),
        };
        match append_spill(&self.settings.spill_path, &batch) {
            Ok(()) => {
                tracing::warn!(path = %self.settings.spill_path.display(), records = batch.records.len(), "spilled usage to the local file; it is replayed when the ledger is back");
                self.stats
                    .spilled
                    .fetch_add(batch.records.len() as u64, Ordering::Relaxed);
                self.stats.spill_pending.store(1, Ordering::Relaxed);
                self.pending.clear();
                self.stats.buffered.store(0, Ordering::Relaxed);
                self.spill_pending = true;
            }
            Err(e) => {
                // Keep the records in memory: losing them is worse than using more of it.
                tracing::error!(path = %self.settings.spill_path.display(), error = %e, "cannot write the spill file; usage stays in memory");
            }
        }
    }

    /// Apply every batch of the spill file; remove it when all are in. `false` on failure.
    fn replay_spill(&mut self) -> bool {
        let path = self.settings.spill_path.clone();
        let batches = match read_spill(&path) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "cannot read the spill file");
                return false;
            }
        };
        for batch in &batches {
            let Some(batch) = batch.to_batch() else {
                tracing::error!(path = %path.display(), id = %batch.id, "skipping an unreadable batch in the spill file");
                continue;
            };
            match self.ledger.append(&batch) {
                Ok(_) => {
                    self.stats
                        .written
                        .fetch_add(batch.records.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    if !self.failing {
                        tracing::warn!(error = %e, "cannot replay the spill file yet");
                    }
                    return false;
                }
            }
        }
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::error!(path = %path.display(), error = %e, "cannot remove the replayed spill file");
                return false;
            }
        }
        tracing::info!(path = %path.display(), batches = batches.len(), "spill file replayed into the ledger");
        self.spill_pending = false;
        self.stats.spill_pending.store(0, Ordering::Relaxed);
        true
    }

    fn maybe_rollup(&mut self) {
        if self.failing || self.last_rollup.is_some_and(|t| t.elapsed() < ROLLUP_EVERY) {
            return;
        }
        self.last_rollup = Some(Instant::now());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let before = now.saturating_sub(self.settings.minute_retention.as_secs());
        // Only whole hours are folded, so hour rows never mix with minute rows of the same hour.
        let before = i64::try_from(before - before % 3600).unwrap_or(i64::MAX);
        match self.ledger.rollup(before) {
            Ok(n) if n > 0 => tracing::info!(rows = n, "rolled minute usage up to hours"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot roll minute usage up to hours"),
        }
    }
}

/// A batch as one line of the spill file.
#[derive(Debug, Serialize, Deserialize)]
struct SpillBatch {
    id: String,
    records: Vec<SpillRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SpillRecord {
    bucket: i64,
    region: String,
    api: String,
    stage: String,
    route: String,
    api_key: String,
    client: String,
    status_class: u8,
    billable: bool,
    reason: String,
    meter: String,
    tags: Tags,
    units: u64,
    events: u64,
}

impl SpillRecord {
    fn from_pair((k, c): (&UsageKey, &UsageCounts)) -> Self {
        Self {
            bucket: k.bucket,
            region: k.region.clone(),
            api: k.api.clone(),
            stage: k.stage.clone(),
            route: k.route.clone(),
            api_key: k.api_key.clone(),
            client: k.client.clone(),
            status_class: k.status_class,
            billable: k.billable,
            reason: k.reason.as_str().to_owned(),
            meter: k.meter.name().into_owned(),
            tags: k.tags.clone(),
            units: c.units,
            events: c.events,
        }
    }
}

impl SpillBatch {
    fn to_batch(&self) -> Option<UsageBatch> {
        let records = self
            .records
            .iter()
            .map(|r| {
                Some(UsageRecord {
                    key: UsageKey {
                        bucket: r.bucket,
                        region: r.region.clone(),
                        api: r.api.clone(),
                        stage: r.stage.clone(),
                        route: r.route.clone(),
                        api_key: r.api_key.clone(),
                        client: r.client.clone(),
                        status_class: r.status_class,
                        billable: r.billable,
                        reason: r.reason.parse::<Reason>().ok()?,
                        meter: r.meter.parse::<UsageMeter>().ok()?,
                        tags: r.tags.clone(),
                    },
                    counts: UsageCounts {
                        units: r.units,
                        events: r.events,
                    },
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(UsageBatch {
            id: self.id.clone(),
            records,
        })
    }
}

fn append_spill(path: &Path, batch: &SpillBatch) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(batch)?;
    line.push(b'\n');
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(&line)?;
    f.sync_data()
}

/// The spill file's batches. A last line cut short by a crash is skipped (its records were
/// never acknowledged anywhere else either, so nothing counted twice).
fn read_spill(path: &Path) -> std::io::Result<Vec<SpillBatch>> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for (n, line) in BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<SpillBatch>(&line) {
            Ok(b) => out.push(b),
            Err(e) => {
                tracing::error!(path = %path.display(), line = n + 1, error = %e, "skipping a damaged line of the spill file")
            }
        }
    }
    Ok(out)
}
