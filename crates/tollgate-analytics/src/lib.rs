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
