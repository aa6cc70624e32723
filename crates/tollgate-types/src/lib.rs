//! The shared vocabulary of tollgate: request ids, the time formats AWS uses, and usage
//! records.
//!
//! Nothing here does I/O; every other crate may depend on this one.

pub mod context_ref;
pub mod id;
pub mod time_fmt;
pub mod usage;

pub use context_ref::context_ref;
pub use id::RequestIdGenerator;
