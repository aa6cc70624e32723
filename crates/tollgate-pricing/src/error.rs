//! The one error type of this crate.

use thiserror::Error;

use crate::Meter;

/// Everything that can go wrong while pricing. Each variant names what it is about
/// (region, meter, field, file position) so that a CLI can print it as is.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PricingError {
    /// An informational ledger meter (retries, size buckets, idle time) has no price.
    #[error("ledger meter `{0}` is informational and has no price")]
    NotPriced(tollgate_types::usage::UsageMeter),
    /// The region is not in the catalog.
    #[error("unknown region `{region}`; known regions: {}", known.join(", "))]
    UnknownRegion {
        /// The region asked for.
        region: String,
        /// The regions the catalog knows, sorted.
        known: Vec<String>,
    },
    /// The region is known but has no price for this meter (the embedded tables are partial
    /// outside us-east-1; load an AWS Price List offer file for complete prices).
    #[error("region `{region}` has no price for meter `{meter}`{}; load an AWS Price List offer file for this region", size_suffix(cache_size_gb))]
    NoRate {
        /// The region.
        region: String,
        /// The meter without a price.
        meter: Meter,
        /// For `cache_hours`, the cache size in GB.
        cache_size_gb: Option<String>,
    },
    /// The usage runs past the last tier whose rate is known for this region and meter.
    #[error("region `{region}` meter `{meter}`: the rate above {known_up_to} units per month is not known; load an AWS Price List offer file for this region")]
    RateUnknownAbove {
        /// The region.
        region: String,
        /// The meter.
        meter: Meter,
        /// Units per month up to which rates are known.
        known_up_to: String,
    },
    /// A cache size that API Gateway does not offer.
    #[error("invalid cache size `{0}` GB; valid sizes: 0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118, 237")]
    InvalidCacheSize(String),
    /// A quantity that must not be negative.
    #[error("`{field}` must not be negative (got {value})")]
    Negative {
        /// The field (dotted path), e.g. `websocket.messages`.
        field: String,
        /// The value given.
        value: String,
    },
    /// A field value that is not valid for another reason.
    #[error("`{field}`: {message}")]
    InvalidField {
        /// The field (dotted path).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The workload file could not be parsed (syntax, unknown key, wrong type).
    #[error("workload: {0}")]
    Workload(String),
    /// Blended attribution was asked to split a non-zero cost into no parts.
    #[error("cannot attribute a cost of {total} to zero parts")]
    NoParts {
        /// The total that could not be split.
        total: String,
    },
    /// An arithmetic result exceeded the range of exact decimals (about 7.9e28).
    #[error("arithmetic overflow while computing {0}")]
    Overflow(String),
    /// A cost report's usage rows and month totals disagree: in one month, region and meter
    /// the period has more billable units than the whole calendar month.
    #[error("{month} {region} {meter}: the period has {period_units} billable base units but the whole month only {month_units}; `month_totals` must cover every whole calendar month the period touches (query them after the period's rows)")]
    UsageMismatch {
        /// The calendar month, `YYYY-MM`.
        month: String,
        /// The region.
        region: String,
        /// The ledger meter (`http_requests`, `cache_ms:1.6`, ...).
        meter: String,
        /// Billable base units of the period's rows.
        period_units: String,
        /// Billable base units of the whole month.
        month_units: String,
    },
    /// A malformed AWS Price List offer file.
    #[error("offer file: {location}: {message}")]
    OfferFile {
        /// Where: a JSON path (`terms.OnDemand.SKU...`) or a CSV row number.
        location: String,
        /// What is wrong.
        message: String,
    },
}

fn size_suffix(size: &Option<String>) -> String {
    match size {
        Some(s) => format!(" ({s} GB)"),
        None => String::new(),
    }
}

impl PricingError {
    pub(crate) fn offer(location: impl Into<String>, message: impl Into<String>) -> Self {
        PricingError::OfferFile {
            location: location.into(),
            message: message.into(),
        }
    }
}
