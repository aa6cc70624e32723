//! Cost intelligence over the ledger: budgets ([`budget`]), month-end forecasts
//! ([`forecast`]), anomalies with their cause ([`anomaly`]), savings advice ([`recommend`])
//! and the simulator that exercises them ([`simulate`]).
//!
//! Everything here reads the ledger through the `Ledger` trait (metered usage, priced with
//! `tollgate-pricing`) or, for forecasts and anomalies, any [`source::CostSource`] (imported
//! AWS bills too); nothing is on the request path. The gateway's binary runs the
//! evaluations on a timer and turns their results into alerts and enforcement.

pub mod anomaly;
pub mod budget;
pub mod forecast;
pub mod recommend;
pub mod simulate;
pub mod source;

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
