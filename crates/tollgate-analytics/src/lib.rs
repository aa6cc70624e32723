//! Cost intelligence over the ledger. So far: monthly dollar budgets ([`budget`]).
//!
//! Everything here reads the ledger through the `Ledger` trait and prices with
//! `tollgate-pricing`; nothing is on the request path. The gateway's binary runs the
//! evaluations on a timer and turns their results into alerts and enforcement.

pub mod anomaly;
pub mod budget;
pub mod forecast;
pub mod recommend;
pub mod simulate;

pub use budget::{evaluate, Alert, AlertTracker, BudgetError, BudgetSpec, BudgetStatus};

/// A CSV field as RFC 4180 writes it: quoted (with doubled quotes) when it holds a comma, a
/// quote or a line break. Shared by the forecast, anomaly and recommendation CSV outputs.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
