//! tollgate's ledgers: where metered usage is kept, and the queries reports run on it.
//!
//! The meter only knows the [`Ledger`] trait (in `tollgate-meter`); this crate provides the
//! implementations and picks one from a ledger URL:
//!
//! ```no_run
//! use tollgate_store::{open, parse_store_url, OpenMode};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let url = parse_store_url("sqlite://tollgate.db")?;
//! let ledger = open(&url, OpenMode::CreateIfMissing)?;
//! println!("metering into {}", ledger.describe());
//! # Ok(()) }
//! ```
//!
//! Imported AWS bills ([`BillLedger`], issue 7) live in the same file, in their own tables:
//! [`open_bill`] opens a ledger for importing and reporting them. They are never mixed with
//! the metered usage [`Ledger`] reads and writes.
//!
//! Only the embedded SQLite ledger exists so far; PostgreSQL URLs parse (so configurations can
//! be validated) but cannot be opened yet.

mod bill;
mod migrations;
mod sqlite;
mod url;

pub use bill::{
    BillDimension, BillLedger, BillQuery, BillRow, BillSource, ImportError, ImportMeta,
    ImportOutcome, ImportRecord, Supersession, NONE, UNCATEGORIZED, UNTAGGED,
};
pub use migrations::schema_version;
pub use sqlite::{OpenMode, SqliteLedger, SqliteOptions, DEDUP_WINDOW};
pub use tollgate_meter::{Ledger, LedgerError};
pub use url::{parse_store_url, StoreError, StoreUrl};

/// Open the ledger a URL names, with default options.
///
/// PostgreSQL is refused with [`LedgerError::Unavailable`] naming the limitation (the trait's
/// error type has no "unsupported" case; the message is what the operator needs).
pub fn open(url: &StoreUrl, mode: OpenMode) -> Result<Box<dyn Ledger>, LedgerError> {
    match url {
        StoreUrl::Sqlite { path } => Ok(Box::new(SqliteLedger::open(
            path,
            mode,
            SqliteOptions::default(),
        )?)),
        StoreUrl::Postgres { .. } => Err(LedgerError::Unavailable {
            store: url.redacted(),
            message: "PostgreSQL ledgers are not supported yet (use sqlite://...)".into(),
        }),
    }
}

/// Open the ledger a URL names for imported AWS bills ([`BillLedger`]).
///
/// Same file, schema and migrations as [`open`]; the busy timeout is longer (5 s) because an
/// import or a bill report is a one-off command that can wait for the gateway's flush, not a
/// flusher that must not stall.
pub fn open_bill(url: &StoreUrl, mode: OpenMode) -> Result<Box<dyn BillLedger>, LedgerError> {
    match url {
        StoreUrl::Sqlite { path } => Ok(Box::new(SqliteLedger::open(
            path,
            mode,
            SqliteOptions {
                busy_timeout: std::time::Duration::from_secs(5),
            },
        )?)),
        StoreUrl::Postgres { .. } => Err(LedgerError::Unavailable {
            store: url.redacted(),
            message: "PostgreSQL ledgers are not supported yet (use sqlite://...)".into(),
        }),
    }
}
