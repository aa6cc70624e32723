//! The shared vocabulary of tollgate: request ids and the time formats AWS uses.
//!
//! Nothing here does I/O; every other crate may depend on this one.

pub mod id;
pub mod time_fmt;

pub use id::RequestIdGenerator;
