//! Price tables: tiers per meter per region, and the catalog of regions.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::{CacheSize, Meter, PricingError};

/// One tier of a price table: units in `[from, to)` of the month's running total cost
/// `price_per_unit` each. `to == None` means open-ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// First unit of the tier (inclusive), counted on the month's running total.
    pub from: Decimal,
    /// End of the tier (exclusive); `None` for the last, open-ended tier.
    pub to: Option<Decimal>,
    /// USD per unit.
    pub price_per_unit: Decimal,
}

/// A tiered (or flat) price for one meter in one region, with where it came from.
///
/// Tiers are contiguous from 0. If the last tier has an upper bound, the rate above it is
/// unknown and pricing usage beyond it is an error ([`PricingError::RateUnknownAbove`]) rather
/// than a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    tiers: Vec<Tier>,
    source: String,
}

impl PriceTable {
    /// Builds a table from `(upper bound, USD per unit)` pairs, lowest tier first; `None` as
    /// the last bound makes it open-ended. Bounds must increase; prices must not be negative.
    pub fn new(
        bounds: &[(Option<Decimal>, Decimal)],
        source: impl Into<String>,
    ) -> Result<Self, PricingError> {
        let mut tiers = Vec::with_capacity(bounds.len());
        let mut from = Decimal::ZERO;
        for (i, &(to, price)) in bounds.iter().enumerate() {
            if price.is_sign_negative() && !price.is_zero() {
                return Err(PricingError::Negative {
                    field: format!("tiers[{i}].price_per_unit"),
                    value: price.to_string(),
                });
            }
            if let Some(to) = to {
                if to <= from {
                    return Err(PricingError::InvalidField {
                        field: format!("tiers[{i}].to"),
                        message: format!("tier bound {to} is not above the previous bound {from}"),
                    });
                }
            } else if i + 1 != bounds.len() {
                return Err(PricingError::InvalidField {
                    field: format!("tiers[{i}].to"),
                    message: "only the last tier may be open-ended".into(),
                });
            }
            tiers.push(Tier {
                from,
                to,
                price_per_unit: price,
            });
            if let Some(to) = to {
                from = to;
            }
        }
        if tiers.is_empty() {
            return Err(PricingError::InvalidField {
                field: "tiers".into(),
                message: "a price table needs at least one tier".into(),
            });
        }
        Ok(PriceTable {
            tiers,
            source: source.into(),
        })
    }

    /// A single flat rate, open-ended.
    pub fn flat(price_per_unit: Decimal, source: impl Into<String>) -> Result<Self, PricingError> {
        PriceTable::new(&[(None, price_per_unit)], source)
    }

    /// The tiers, lowest first.
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// Source key and date of the numbers (e.g. `MCP "Pricing Date: October 2025"`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Units per month up to which rates are known (`None`: all).
    pub fn known_up_to(&self) -> Option<Decimal> {
        self.tiers.last().and_then(|t| t.to)
    }

    /// Cost of `units` more units when `so_far` units were already used this month
    /// (tiers apply to the running total). Pure; exact. `Ok(None)` when the usage runs past
    /// the last known tier.
    fn cost_raw(&self, so_far: Decimal, units: Decimal) -> Result<Option<Decimal>, PricingError> {
        let overflow = || PricingError::Overflow("a tiered cost".into());
        let start = so_far;
        let end = so_far.checked_add(units).ok_or_else(overflow)?;
        if let Some(limit) = self.known_up_to() {
            if end > limit {
                return Ok(None);
            }
        }
        let mut cost = Decimal::ZERO;
        for t in &self.tiers {
            let lo = start.max(t.from);
            let hi = t.to.map_or(end, |to| end.min(to));
            if hi > lo {
                let part = (hi - lo)
                    .checked_mul(t.price_per_unit)
                    .ok_or_else(overflow)?;
                cost = cost.checked_add(part).ok_or_else(overflow)?;
            }
        }
        Ok(Some(cost))
    }
}

/// Whether the legacy 12-month free tier applies (aws-facts §1.6). Off by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FreeTier {
    /// No allowance (the default; AWS's worked examples apply none).
    #[default]
    Off,
    /// Subtract [`Meter::free_tier_allowance`] from the month's running total before tiers.
    Legacy12Month,
}

impl From<bool> for FreeTier {
    fn from(on: bool) -> Self {
        if on {
            FreeTier::Legacy12Month
        } else {
            FreeTier::Off
        }
    }
}

/// All prices of one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionPrices {
    code: String,
    meters: BTreeMap<Meter, PriceTable>,
    cache: BTreeMap<CacheSize, PriceTable>,
}

impl RegionPrices {
    /// An empty region (no prices yet).
    pub fn new(code: impl Into<String>) -> Self {
        RegionPrices {
            code: code.into(),
            meters: BTreeMap::new(),
            cache: BTreeMap::new(),
        }
    }

    /// Sets the price of a meter other than [`Meter::CacheHours`] (use [`Self::set_cache`]).
    pub fn set(&mut self, meter: Meter, table: PriceTable) -> &mut Self {
        self.meters.insert(meter, table);
        self
    }

    /// Sets the hourly price of one cache size.
    pub fn set_cache(&mut self, size: CacheSize, table: PriceTable) -> &mut Self {
        self.cache.insert(size, table);
        self
    }

    /// The region code, e.g. `us-east-1`.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The price table of a meter; for [`Meter::CacheHours`] pass the cache size.
    pub fn table(
        &self,
        meter: Meter,
        cache_size: Option<CacheSize>,
    ) -> Result<&PriceTable, PricingError> {
        let found = match (meter, cache_size) {
            (Meter::CacheHours, Some(size)) => self.cache.get(&size),
            (Meter::CacheHours, None) => {
                return Err(PricingError::InvalidField {
                    field: "cache_size_gb".into(),
                    message: "the cache_hours meter needs a cache size".into(),
                })
            }
            (m, _) => self.meters.get(&m),
        };
        found.ok_or_else(|| PricingError::NoRate {
            region: self.code.clone(),
            meter,
            cache_size_gb: cache_size
                .filter(|_| meter == Meter::CacheHours)
                .map(|s| s.as_str().to_string()),
        })
    }

    /// Meters with a price here (cache sizes listed separately by [`Self::cache_sizes`]).
    pub fn meters(&self) -> impl Iterator<Item = (Meter, &PriceTable)> {
        self.meters.iter().map(|(m, t)| (*m, t))
    }

    /// Cache sizes with a price here.
    pub fn cache_sizes(&self) -> impl Iterator<Item = (CacheSize, &PriceTable)> {
        self.cache.iter().map(|(s, t)| (*s, t))
    }

    /// Cost of `units` more units of `meter` when `so_far` units were already used in this
    /// region this calendar month. Tiers apply to the running total; with the free tier on,
    /// the allowance is subtracted from the running total first. Exact, not rounded.
    pub fn cost_of(
        &self,
        meter: Meter,
        cache_size: Option<CacheSize>,
        so_far: Decimal,
        units: Decimal,
        free_tier: FreeTier,
    ) -> Result<Decimal, PricingError> {
        for (field, v) in [("units_so_far", so_far), ("units", units)] {
            if v.is_sign_negative() && !v.is_zero() {
                return Err(PricingError::Negative {
                    field: field.into(),
                    value: v.to_string(),
                });
            }
        }
        let table = self.table(meter, cache_size)?;
        let allowance = match free_tier {
            FreeTier::Off => Decimal::ZERO,
            FreeTier::Legacy12Month => meter.free_tier_allowance(),
        };
        let end = so_far
            .checked_add(units)
            .ok_or_else(|| PricingError::Overflow("a running total".into()))?;
        let billable_start = (so_far - allowance).max(Decimal::ZERO);
        let billable_end = (end - allowance).max(Decimal::ZERO);
        table
            .cost_raw(billable_start, billable_end - billable_start)?
            .ok_or_else(|| PricingError::RateUnknownAbove {
                region: self.code.clone(),
                meter,
                known_up_to: table
                    .known_up_to()
                    .map(|d| d.normalize().to_string())
                    .unwrap_or_default(),
            })
    }

    /// Cost of a whole month's `units` (the running total starts at zero).
    pub fn month_cost(
        &self,
        meter: Meter,
        cache_size: Option<CacheSize>,
        units: Decimal,
        free_tier: FreeTier,
    ) -> Result<Decimal, PricingError> {
        self.cost_of(meter, cache_size, Decimal::ZERO, units, free_tier)
    }
}

/// Price tables for a set of regions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    regions: BTreeMap<String, RegionPrices>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Catalog::default()
    }

    /// The prices compiled into tollgate (see [`crate::embedded`] and docs/pricing.md):
    /// us-east-1 complete; us-east-2, us-west-2, ap-south-1, eu-central-1 and ap-northeast-2
    /// partial.
    pub fn embedded() -> Self {
        crate::embedded::catalog()
    }

    /// Adds or replaces a region.
    pub fn insert(&mut self, region: RegionPrices) {
        self.regions.insert(region.code.clone(), region);
    }

    /// A region's prices, or [`PricingError::UnknownRegion`] listing the known regions.
    pub fn region(&self, code: &str) -> Result<&RegionPrices, PricingError> {
        self.regions
            .get(code)
            .ok_or_else(|| PricingError::UnknownRegion {
                region: code.to_string(),
                known: self.regions.keys().cloned().collect(),
            })
    }

    /// Mutable access to a region, creating it empty if missing.
    pub fn region_mut(&mut self, code: &str) -> &mut RegionPrices {
        self.regions
            .entry(code.to_string())
            .or_insert_with(|| RegionPrices::new(code))
    }

    /// Known region codes, sorted.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.regions.keys().map(String::as_str)
    }
}
