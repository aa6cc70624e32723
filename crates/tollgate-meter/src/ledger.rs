//! Where usage records end up. The embedded SQLite ledger and the PostgreSQL one (for several
//! nodes) live in `tollgate-store`; the meter only knows this trait.

use tollgate_types::usage::{UsageBatch, UsageQuery, UsageRow};

/// Why a ledger call failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The store cannot be written or read right now (locked, disk full, connection lost).
    /// The meter keeps the records and retries.
    #[error("ledger {store} is unavailable: {message}")]
    Unavailable { store: String, message: String },
    /// The store was written by a newer tollgate. It is never modified.
    #[error("ledger {store} has schema version {found}, newer than this tollgate understands ({supported}); upgrade tollgate to use it")]
    SchemaTooNew {
        store: String,
        found: i64,
        supported: i64,
    },
    /// The store's content is not what tollgate wrote (a value it cannot read back).
    #[error("ledger {store} holds an unreadable value: {message}")]
    Corrupt { store: String, message: String },
    /// The query asks for something the store cannot answer (e.g. `from` after `to`).
    #[error("invalid usage query: {0}")]
    InvalidQuery(String),
}

impl LedgerError {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, LedgerError::Unavailable { .. })
    }
}

/// A durable usage ledger.
///
/// `append` adds counts to existing cells (same bucket and dimensions) and must be atomic per
/// batch and idempotent per batch id: a batch whose id was already applied is skipped, so a
/// replayed spill file never counts twice.
pub trait Ledger: Send {
    /// Add a batch's counts. Returns `false` when the batch id had already been applied.
    fn append(&mut self, batch: &UsageBatch) -> Result<bool, LedgerError>;

    /// Usage in `[query.from, query.to)`, grouped by month, region, meter, billable flag and
    /// the query's dimensions. Minute and hour rows are both read.
    fn query(&mut self, query: &UsageQuery) -> Result<Vec<UsageRow>, LedgerError>;

    /// The tag names used by usage in `[from, to)`, sorted (for exports that list tags).
    fn tag_names(&mut self, from: i64, to: i64) -> Result<Vec<String>, LedgerError>;

    /// Roll minute rows with a bucket before `before` (Unix seconds) up into hour rows.
    /// Returns how many minute rows were folded.
    fn rollup(&mut self, before: i64) -> Result<u64, LedgerError>;

    /// A short description of the store for messages (`sqlite://tollgate.db`).
    fn describe(&self) -> String;
}
