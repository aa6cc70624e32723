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
//! Only the embedded SQLite ledger exists so far; PostgreSQL URLs parse (so configurations can
//! be validated) but cannot be opened yet.

mod migrations;
mod sqlite;
mod url;

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
