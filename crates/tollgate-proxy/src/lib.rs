//! tollgate's data plane: listeners, routing with AWS precedence, integrations (HTTP proxy,
//! mock, Lambda-style proxy), parameter mapping, CORS, access logs and metrics.
//!
//! It never sees the ledger, pricing or the admin API; the binary wires those around it.

pub mod access;
pub mod access_log;
pub mod context;
pub mod cors;
pub mod errors;
pub mod gateway;
pub mod integration;
pub mod lambda;
pub mod mapping;
pub mod metrics;
pub mod path_guard;
pub mod router;
pub mod runtime;
pub mod server;
pub mod upstream;
pub mod websocket;

pub use gateway::Gateway;
