//! The meter: per-thread counters on the request path ([`Meter`]), a flusher thread that
//! writes them to a [`Ledger`] in batches ([`start`]), and a spill file for when the ledger is
//! unavailable. DESIGN.md §4 and docs/metering.md describe what is counted and why.

pub mod flusher;
pub mod ledger;
pub mod recorder;

pub use flusher::{start, FlusherHandle, FlusherSettings, MeterError, MeterStats};
pub use ledger::{Ledger, LedgerError};
pub use recorder::{
    http_request_units, websocket_message_units, ApiKind, BillingPolicy, Meter, RequestUsage,
    RouteDims, UnitsUsage, UnknownRules,
};
