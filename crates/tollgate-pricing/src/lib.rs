//! Pricing for tollgate: what AWS API Gateway would bill for a month of traffic, exactly.
//!
//! - [`Catalog`]: price tables per region ([`Catalog::embedded`], or an AWS Price List offer
//!   file via [`Catalog::from_offer_json`] / [`Catalog::from_offer_csv`]).
//! - [`RegionPrices::cost_of`]: tiers on the month's running total, with the optional legacy
//!   free tier ([`FreeTier`]).
//! - [`attribute`]: blended attribution of a month's cost to its parts, summing exactly.
//! - [`estimate`]: a [`Workload`] (YAML) priced into an [`Estimate`].
//! - [`build_report`]: the ledger's usage for a [`Period`] priced into a [`Report`] (JSON,
//!   table, CSV, FinOps FOCUS).
//!
//! Money is [`rust_decimal::Decimal`] everywhere; rounding happens only in display helpers.
//! No I/O. See docs/pricing.md.
//!
//! ```
//! use tollgate_pricing::{estimate, Catalog, Workload};
//!
//! // AWS's HTTP-1 example: 10,000 requests a minute for a 30-day month.
//! let w = Workload::from_yaml_str("http:\n  requests_per_minute: 10000\n  request_kb: 12\n")?;
//! let e = estimate(&Catalog::embedded(), &w)?;
//! assert_eq!(e.display_total(), "418.80");
//! # Ok::<(), tollgate_pricing::PricingError>(())
//! ```

#![warn(missing_docs)]

mod attribution;
mod catalog;
pub mod embedded;
mod error;
mod estimate;
mod meter;
mod offer;
pub mod report;
mod workload;

pub use attribution::{attribute, blended_rate, ATTRIBUTION_SCALE};
pub use catalog::{Catalog, FreeTier, PriceTable, RegionPrices, Tier};
pub use error::PricingError;
pub use estimate::{estimate, Estimate, Line, CURRENCY};
pub use meter::{
    display_cost, display_exact, display_money, http_units_per_request, kb_to_gb,
    websocket_units_per_message, CacheSize, Meter,
};
pub use report::{
    build_report, focus_dimensions, pricing_meter, render_table, to_pricing_units, Charge,
    FocusOptions, Period, Report, ReportInput, ReportRow, FOCUS_COLUMNS,
};
pub use workload::{
    CacheWorkload, HttpWorkload, Quantities, RestWorkload, WebsocketWorkload, Workload,
};

pub use rust_decimal::Decimal;
