//! Cost reports: the ledger's usage for a period, priced and split by any dimensions.
//!
//! [`build_report`] takes the ledger's rows for a period (grouped by month, region, meter,
//! billable flag and the report's dimensions) plus each touched month's whole-month totals,
//! and prices them the way AWS bills (DESIGN.md §4):
//!
//! - Ledger meters are integer base units; they are converted to pricing meters only here:
//!   `http_requests`, `rest_requests`, `websocket_messages` as is;
//!   `websocket_connection_ms` ÷ 60 000 → `websocket_connection_minutes`;
//!   `cache_ms:<GB>` ÷ 3 600 000 → `cache_hours` of that [`CacheSize`];
//!   `data_out_bytes` ÷ 1024³ → `data_transfer_out_gb`. Sums are taken on the integers and
//!   converted once. The quotient is exact whenever it has at most 28 decimals (always for
//!   requests and messages, and for any realistic byte count); otherwise (most millisecond
//!   counts: 1 ms = 0.0000166… minutes) it is rounded at the 28th significant digit, far
//!   below the 10⁻¹⁰ USD quantum of attribution.
//! - Tiers apply per region, meter (and cache size) and calendar month on the month's running
//!   total of **billable** units: the month costs `RegionPrices::month_cost(month units)`,
//!   and each group's share is its billable units × the month's blended rate, computed with
//!   [`attribute`] so that the shares of a whole month add up exactly to the month's cost.
//!   A period that covers part of a month pays that whole month's blended rate.
//! - Non-billable units are shown but cost nothing.
//!
//! The result renders as JSON ([`Report::to_json`]), an aligned table ([`Report::to_table`]),
//! CSV ([`Report::to_csv`]) and FinOps FOCUS 1.2 CSV ([`Report::to_focus`]).

use std::collections::BTreeMap;

use rust_decimal::prelude::FromPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};
use tollgate_types::usage::{Dimension, UsageMeter, UsageRow};

use crate::meter::{display_cost, display_exact};
use crate::{
    attribute, blended_rate, CacheSize, Catalog, FreeTier, Line, Meter, PricingError, CURRENCY,
};
use tollgate_types::time_fmt::rfc3339;

// === Period ===

/// First instant a [`Period`] may start: 1970-01-01T00:00:00Z.
const MIN_INSTANT: i64 = 0;
/// First instant after the last a [`Period`] may cover: 10000-01-01T00:00:00Z.
const MAX_INSTANT: i64 = 253_402_300_800;
const DAY: i64 = 86_400;

/// The period a report covers: `[start, end)` in Unix seconds (UTC), between 1970 and 9999.
///
/// It is shown as RFC 3339 (`2025-01-01T00:00:00Z`; `end` is exclusive, as in FOCUS) and
/// touches the calendar months [`Period::months`]. Query the ledger with
/// `UsageQuery { from: start(), to: end(), .. }` for [`ReportInput::rows`] and with
/// [`Period::month_totals_range`] for [`ReportInput::month_totals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    start: i64,
    end: i64,
}

impl Period {
    /// The period `[start, end)` in Unix seconds. `start` must be before `end`, both within
    /// 1970-01-01 … 10000-01-01.
    pub fn new(start: i64, end: i64) -> Result<Self, PricingError> {
        for (field, v) in [("period.from", start), ("period.to", end)] {
            if !(MIN_INSTANT..=MAX_INSTANT).contains(&v) {
                return Err(PricingError::InvalidField {
                    field: field.into(),
                    message: format!("{v} is outside 1970-01-01T00:00:00Z … 9999-12-31T23:59:59Z"),
                });
            }
        }
        if start >= end {
            return Err(PricingError::InvalidField {
                field: "period".into(),
                message: format!(
                    "the start {} is not before the end {}",
                    rfc3339(start),
                    rfc3339(end)
                ),
            });
        }
        Ok(Period { start, end })
    }

    /// One whole calendar month, `YYYY-MM`.
    pub fn month(key: &str) -> Result<Self, PricingError> {
        let m = YearMonth::parse(key).ok_or_else(|| PricingError::InvalidField {
            field: "period".into(),
            message: format!("`{key}` is not a month (YYYY-MM)"),
        })?;
        Period::new(m.start(), m.next().start())
    }

    /// Parses `from` and `to` (UTC), each `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` or
    /// `YYYY-MM-DDTHH:MM:SS+00:00`; a date means its midnight, a month its first day. `to` is
    /// exclusive: `Period::parse("2025-01", "2025-02")` is January 2025.
    pub fn parse(from: &str, to: &str) -> Result<Self, PricingError> {
        let instant = |field: &str, s: &str| {
            parse_instant(s).ok_or_else(|| PricingError::InvalidField {
                field: field.into(),
                message: format!(
                    "`{s}` is not a UTC time (YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)"
                ),
            })
        };
        Period::new(instant("period.from", from)?, instant("period.to", to)?)
    }

    /// Start (inclusive), Unix seconds.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// End (exclusive), Unix seconds.
    pub fn end(&self) -> i64 {
        self.end
    }

    /// Start as RFC 3339, `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn start_rfc3339(&self) -> String {
        rfc3339(self.start)
    }

    /// End (exclusive) as RFC 3339, `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn end_rfc3339(&self) -> String {
        rfc3339(self.end)
    }

    /// The calendar months (`YYYY-MM`, UTC) the period touches, in order.
    pub fn months(&self) -> Vec<String> {
        self.year_months().into_iter().map(YearMonth::key).collect()
    }

    /// `[start of the first month, start of the month after the last)`: the range to query
    /// for [`ReportInput::month_totals`] (with no group-by).
    pub fn month_totals_range(&self) -> (i64, i64) {
        let first = YearMonth::of(self.start);
        let last = YearMonth::of(self.end - 1);
        (first.start(), last.next().start())
    }

    fn year_months(&self) -> Vec<YearMonth> {
        let mut out = Vec::new();
        let last = YearMonth::of(self.end - 1);
        let mut m = YearMonth::of(self.start);
        while m <= last {
            out.push(m);
            m = m.next();
        }
        out
    }

    /// The part of `month` inside the period, `[start, end)`.
    fn clip(&self, month: YearMonth) -> (i64, i64) {
        (
            self.start.max(month.start()),
            self.end.min(month.next().start()),
        )
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("from", &self.start_rfc3339())?;
        m.serialize_entry("to", &self.end_rfc3339())?;
        m.end()
    }
}

/// A calendar month (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct YearMonth {
    year: i64,
    month: u32,
}

impl YearMonth {
    fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' {
            return None;
        }
        let year = digits(&s[0..4])?;
        let month = digits(&s[5..7])?;
        if !(1..=12).contains(&month) {
            return None;
        }
        Some(YearMonth {
            year: i64::from(year),
            month,
        })
    }

    fn of(ts: i64) -> Self {
        let (year, month, _) = civil_from_days(ts.div_euclid(DAY));
        YearMonth { year, month }
    }

    fn start(self) -> i64 {
        days_from_civil(self.year, self.month, 1) * DAY
    }

    fn next(self) -> Self {
        if self.month == 12 {
            YearMonth {
                year: self.year + 1,
                month: 1,
            }
        } else {
            YearMonth {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    fn key(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// ASCII digits only (no sign, no spaces) as a number.
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both are small and positive by construction.
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let m = YearMonth { year, month };
    ((m.next().start() - m.start()) / DAY) as u32
}

/// Parses the forms [`Period::parse`] accepts.
fn parse_instant(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() == 7 {
        return YearMonth::parse(s).map(YearMonth::start);
    }
    if s.len() < 10 || !s.is_char_boundary(10) {
        return None;
    }
    let (date, time) = s.split_at(10);
    let db = date.as_bytes();
    if db[4] != b'-' || db[7] != b'-' {
        return None;
    }
    let year = i64::from(digits(&date[0..4])?);
    let month = digits(&date[5..7])?;
    let day = digits(&date[8..10])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let midnight = days_from_civil(year, month, day) * DAY;
    if time.is_empty() {
        return Some(midnight);
    }
    let clock = time
        .strip_prefix(['T', 't'])?
        .strip_suffix(['Z', 'z'])
        .or_else(|| time[1..].strip_suffix("+00:00"))?;
    let cb = clock.as_bytes();
    if cb.len() != 8 || cb[2] != b':' || cb[5] != b':' {
        return None;
    }
    let (h, m, sec) = (
        digits(&clock[0..2])?,
        digits(&clock[3..5])?,
        digits(&clock[6..8])?,
    );
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    Some(midnight + i64::from(h * 3600 + m * 60 + sec))
}

// === Meter conversion ===

/// The pricing meter (and cache size) of a ledger meter.
pub fn pricing_meter(meter: UsageMeter) -> Result<(Meter, Option<CacheSize>), PricingError> {
    Ok(match meter {
        UsageMeter::HttpRequests => (Meter::HttpRequests, None),
        UsageMeter::RestRequests => (Meter::RestRequests, None),
        UsageMeter::WebsocketMessages => (Meter::WebsocketMessages, None),
        UsageMeter::WebsocketConnectionMs => (Meter::WebsocketConnectionMinutes, None),
        UsageMeter::CacheMs { centi_gb } => (
            Meter::CacheHours,
            Some(CacheSize::from_gb(Decimal::new(i64::from(centi_gb), 2))?),
        ),
        UsageMeter::DataOutBytes => (Meter::DataTransferOutGb, None),
        UsageMeter::Retries
        | UsageMeter::UncompressedBytes
        | UsageMeter::MessageSize { .. }
        | UsageMeter::WebsocketIdleMs { .. } => return Err(PricingError::NotPriced(meter)),
    })
}

/// Base units of a ledger meter per unit of its pricing meter.
fn base_per_unit(meter: UsageMeter) -> u64 {
    match meter {
        UsageMeter::HttpRequests | UsageMeter::RestRequests | UsageMeter::WebsocketMessages => 1,
        UsageMeter::WebsocketConnectionMs => 60_000,
        UsageMeter::CacheMs { .. } => 3_600_000,
        UsageMeter::DataOutBytes => 1 << 30,
        // Informational meters are counted, never priced.
        UsageMeter::Retries
        | UsageMeter::UncompressedBytes
        | UsageMeter::MessageSize { .. }
        | UsageMeter::WebsocketIdleMs { .. } => 1,
    }
}

/// Converts a sum of ledger base units to pricing units (requests, messages, minutes, hours,
/// GB). Exact when the quotient has at most 28 decimals, else rounded at the 28th
/// significant digit (see the module docs).
pub fn to_pricing_units(meter: UsageMeter, base_units: u128) -> Result<Decimal, PricingError> {
    let overflow = || PricingError::Overflow(format!("{meter} units"));
    let units = Decimal::from_u128(base_units).ok_or_else(overflow)?;
    match base_per_unit(meter) {
        1 => Ok(units),
        d => units.checked_div(Decimal::from(d)).ok_or_else(overflow),
    }
}

fn decimal(v: u128, what: &str) -> Result<Decimal, PricingError> {
    Decimal::from_u128(v).ok_or_else(|| PricingError::Overflow(what.into()))
}

fn add(a: Decimal, b: Decimal, what: &str) -> Result<Decimal, PricingError> {
    a.checked_add(b)
        .ok_or_else(|| PricingError::Overflow(what.into()))
}

// === Input and output types ===

/// What [`build_report`] prices.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    /// The prices.
    pub catalog: &'a Catalog,
    /// Whether the legacy free tier applies (to each month's running total).
    pub free_tier: FreeTier,
    /// The period of [`Self::rows`].
    pub period: Period,
    /// The report's dimensions; their names become columns and JSON fields. No duplicates.
    pub group_by: &'a [Dimension],
    /// The ledger's rows for `[period.start(), period.end())` grouped by `group_by` (values in
    /// `group_by` order); the ledger always splits them by month, region, meter and billable.
    pub rows: &'a [UsageRow],
    /// The ledger's rows for every whole calendar month the period touches
    /// ([`Period::month_totals_range`]) with no group-by: one row per month, region, meter and
    /// billable flag. Only billable rows are used. Query them *after* `rows`, so that usage
    /// appended in between cannot make a month smaller than the period's part of it.
    pub month_totals: &'a [UsageRow],
}

/// One line of a [`Report`]: a group's usage of one meter over the whole period (months,
/// regions and billable flags merged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// Values of the report's dimensions, in [`Report::group_by`] order.
    pub group: Vec<String>,
    /// The pricing meter.
    pub meter: Meter,
    /// The cache size, for [`Meter::CacheHours`] rows only.
    pub cache_size: Option<CacheSize>,
    /// Billable units, in the meter's pricing unit.
    pub billable_units: Decimal,
    /// Units metered but not billable (rejected before the integration).
    pub non_billable_units: Decimal,
    /// USD, exact: the sum of the group's blended shares of each month's cost.
    pub cost: Decimal,
    /// USD, exact: what the non-billable units would have cost had AWS billed them — priced
    /// on top of each month's billable total (the next units of the tiers). Not in `total`.
    pub non_billable_cost: Decimal,
}

impl ReportRow {
    fn line(&self) -> Line {
        Line {
            meter: self.meter,
            cache_size: self.cache_size,
            units: self.billable_units,
            cost: self.cost,
        }
    }

    /// The meter for people: `cache_hours (1.6 GB)` for cache rows.
    pub fn label(&self) -> String {
        self.line().label()
    }

    /// The cost as shown: cents, or [`Meter::display_decimals`] for the meter.
    pub fn display_cost(&self) -> String {
        self.line().display_cost()
    }
}

/// One priced cell at the finest grain of a [`Report`]: a group's usage of one meter in one
/// calendar month and region, billable or not. This is the grain of FOCUS rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The calendar month, `YYYY-MM`.
    pub month: String,
    /// The region.
    pub region: String,
    /// Values of the report's dimensions, in [`Report::group_by`] order.
    pub group: Vec<String>,
    /// The pricing meter.
    pub meter: Meter,
    /// The cache size, for [`Meter::CacheHours`] only.
    pub cache_size: Option<CacheSize>,
    /// Whether these units are billable.
    pub billable: bool,
    /// Units in the meter's pricing unit.
    pub units: Decimal,
    /// USD, exact (zero when not billable).
    pub cost: Decimal,
    /// The month's effective blended rate, USD per pricing unit: the whole month's cost over
    /// its billable units (zero when the month has none).
    pub unit_price: Decimal,
}

/// The priced usage of a period. Build it with [`build_report`].
///
/// JSON ([`Report::to_json`], a public contract; money and units are decimal strings):
/// `{"currency":"USD","period":{"from":"2025-01-01T00:00:00Z","to":"2025-02-01T00:00:00Z"},
/// "group_by":["api","route"],"rows":[{"api":"a1","route":"GET /pets","meter":"http_requests",
/// "billable_units":"123","non_billable_units":"4","cost":"0.000123"}],"total":"0.000123"}`.
/// Each dimension appears in each row under its name (`"tag:team"`); cache rows also carry
/// `"cache_size_gb"` (as in an [`crate::Estimate`]). Units, `cost` and `total` are exact,
/// normalized decimals (`"0.000123"`, `"300.0000009"`), unlike an estimate's rounded `cost`:
/// a report's rows are blended shares that add up exactly to `total` only unrounded. Round
/// for display only (the table does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    period: Period,
    group_by: Vec<Dimension>,
    rows: Vec<ReportRow>,
    charges: Vec<Charge>,
    total: Decimal,
}

// === Pricing ===

/// A row's sums: billable and non-billable base units, cost, and what the non-billable
/// units would have cost.
type RowSums = (u128, u128, Decimal, Decimal);

/// A (month, region, ledger meter) whose tiers are computed together.
type Bucket = (String, String, UsageMeter);

/// Prices a period's usage (see the module docs for the rules).
///
/// Errors: a region missing from the catalog ([`PricingError::UnknownRegion`], naming it); a
/// meter without a price while billable units use it ([`PricingError::NoRate`]); a cache size
/// API Gateway does not offer; a row whose group has the wrong number of values or whose
/// month the period does not touch, or duplicate dimensions ([`PricingError::InvalidField`]);
/// a month total smaller than the period's billable units in it
/// ([`PricingError::UsageMismatch`]).
pub fn build_report(input: &ReportInput<'_>) -> Result<Report, PricingError> {
    for (i, d) in input.group_by.iter().enumerate() {
        if input.group_by[..i].contains(d) {
            return Err(PricingError::InvalidField {
                field: "group_by".into(),
                message: format!("`{}` is listed twice", d.name()),
            });
        }
    }
    let months = input.period.months();

    // The period's cells, merged: bucket → (group, billable) → base units.
    let mut cells: BTreeMap<Bucket, BTreeMap<(Vec<String>, bool), u128>> = BTreeMap::new();
    for (i, row) in input.rows.iter().enumerate() {
        if !row.meter.is_priced() {
            continue;
        }
        if row.group.len() != input.group_by.len() {
            return Err(PricingError::InvalidField {
                field: format!("rows[{i}].group"),
                message: format!(
                    "{} values for {} group-by dimensions",
                    row.group.len(),
                    input.group_by.len()
                ),
            });
        }
        if !months.contains(&row.month) {
            return Err(PricingError::InvalidField {
                field: format!("rows[{i}].month"),
                message: format!(
                    "month `{}` is outside the period {} … {}",
                    row.month,
                    input.period.start_rfc3339(),
                    input.period.end_rfc3339()
                ),
            });
        }
        input.catalog.region(&row.region)?;
        *cells
            .entry((row.month.clone(), row.region.clone(), row.meter))
            .or_default()
            .entry((row.group.clone(), row.billable))
            .or_default() += u128::from(row.counts.units);
    }

    // Whole-month billable totals.
    let mut month_units: BTreeMap<Bucket, u128> = BTreeMap::new();
    for row in input
        .month_totals
        .iter()
        .filter(|r| r.billable && r.meter.is_priced())
    {
        *month_units
            .entry((row.month.clone(), row.region.clone(), row.meter))
            .or_default() += u128::from(row.counts.units);
    }

    // Report rows: (group, ledger meter) → (billable base, non-billable base, cost).
    let mut lines: BTreeMap<(Vec<String>, UsageMeter), RowSums> = BTreeMap::new();
    let mut charges = Vec::new();
    for (bucket, parts) in &cells {
        let (month, region_code, umeter) = bucket;
        let (meter, cache_size) = pricing_meter(*umeter)?;
        let region = input.catalog.region(region_code)?;
        let month_base = month_units.get(bucket).copied().unwrap_or(0);
        let period_base: u128 = parts
            .iter()
            .filter(|((_, billable), _)| *billable)
            .map(|(_, u)| *u)
            .sum();
        if period_base > month_base {
            return Err(PricingError::UsageMismatch {
                month: month.clone(),
                region: region_code.clone(),
                meter: umeter.to_string(),
                period_units: period_base.to_string(),
                month_units: month_base.to_string(),
            });
        }
        let month_total = to_pricing_units(*umeter, month_base)?;
        let month_cost = if month_base == 0 {
            Decimal::ZERO
        } else {
            region.month_cost(meter, cache_size, month_total, input.free_tier)?
        };
        let rate = blended_rate(month_cost, month_total)?;

        // Billable parts in order, plus the rest of the month outside the period (dropped).
        let mut weights = Vec::with_capacity(parts.len() + 1);
        for ((_, billable), units) in parts {
            if *billable {
                weights.push(decimal(*units, "usage units")?);
            }
        }
        if period_base < month_base {
            weights.push(decimal(month_base - period_base, "usage units")?);
        }
        let mut shares = attribute(month_cost, &weights)?.into_iter();

        for ((group, billable), base) in parts {
            let cost = if *billable {
                shares.next().unwrap_or(Decimal::ZERO)
            } else {
                Decimal::ZERO
            };
            let line = lines.entry((group.clone(), *umeter)).or_insert((
                0,
                0,
                Decimal::ZERO,
                Decimal::ZERO,
            ));
            if *billable {
                line.0 += base;
            } else {
                line.1 += base;
                let would = region.cost_of(
                    meter,
                    cache_size,
                    month_total,
                    to_pricing_units(*umeter, *base)?,
                    input.free_tier,
                )?;
                line.3 = add(line.3, would, "a row's non-billable cost")?;
            }
            line.2 = add(line.2, cost, "a row cost")?;
            charges.push(Charge {
                month: month.clone(),
                region: region_code.clone(),
                group: group.clone(),
                meter,
                cache_size,
                billable: *billable,
                units: to_pricing_units(*umeter, *base)?,
                cost,
                unit_price: rate,
            });
        }
    }

    let mut rows = Vec::with_capacity(lines.len());
    let mut total = Decimal::ZERO;
    for ((group, umeter), (billable, non_billable, cost, non_billable_cost)) in lines {
        let (meter, cache_size) = pricing_meter(umeter)?;
        total = add(total, cost, "the total")?;
        rows.push(ReportRow {
            group,
            meter,
            cache_size,
            billable_units: to_pricing_units(umeter, billable)?,
            non_billable_units: to_pricing_units(umeter, non_billable)?,
            cost,
            non_billable_cost,
        });
    }
    Ok(Report {
        period: input.period,
        group_by: input.group_by.to_vec(),
        rows,
        charges,
        total,
    })
}

// === Report accessors and renderings ===

impl Report {
    /// The period priced.
    pub fn period(&self) -> &Period {
        &self.period
    }

    /// The report's dimensions, in column order.
    pub fn group_by(&self) -> &[Dimension] {
        &self.group_by
    }

    /// One row per (group values, meter, cache size), sorted by group values then meter.
    pub fn rows(&self) -> &[ReportRow] {
        &self.rows
    }

    /// The finest grain: one per (month, region, meter, group values, billable), sorted.
    pub fn charges(&self) -> &[Charge] {
        &self.charges
    }

    /// Sum of the exact row costs (USD).
    pub fn total(&self) -> Decimal {
        self.total
    }

    /// The total as the table shows it: cents, or 3 decimals when a cache row is present.
    pub fn display_total(&self) -> String {
        let dp = self
            .rows
            .iter()
            .map(|r| r.meter.display_decimals())
            .max()
            .unwrap_or(2);
        display_cost(self.total, dp)
    }

    /// The report as JSON (see [`Report`] for the shape).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// An aligned table for people: one column per dimension, then meter, billable and
    /// non-billable units (at most 6 decimals), cost (USD, cents; cache rows to 0.001), and a
    /// total line.
    pub fn to_table(&self) -> String {
        let mut header: Vec<String> = self.group_by.iter().map(Dimension::name).collect();
        let dims = header.len();
        header.extend(
            [
                "meter",
                "billable",
                "non-billable",
                "cost (USD)",
                "not billed (USD)",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        let body: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                let mut cells: Vec<String> = r.group.iter().map(|g| display_text(g)).collect();
                cells.push(r.label());
                cells.push(display_units(r.billable_units));
                cells.push(display_units(r.non_billable_units));
                cells.push(r.display_cost());
                cells.push(
                    Line {
                        meter: r.meter,
                        cache_size: r.cache_size,
                        units: r.non_billable_units,
                        cost: r.non_billable_cost,
                    }
                    .display_cost(),
                );
                cells
            })
            .collect();
        let mut footer = vec![String::new(); header.len()];
        footer[0] = "total".into();
        if let Some(cost) = footer.iter_mut().rev().nth(1) {
            *cost = self.display_total();
        }
        let right: Vec<bool> = (0..header.len()).map(|i| i > dims).collect();
        render_table(&header, &right, &body, &footer)
    }

    /// CSV for scripts: a header of the dimension names, then
    /// `meter,cache_size_gb,billable_units,non_billable_units,cost`; one line per row with
    /// the same exact values as the JSON (`cache_size_gb` empty except for `cache_hours`).
    /// There is **no total line**, so the `cost` column sums to [`Report::total`]. Fields are
    /// quoted as RFC 4180 requires.
    pub fn to_csv(&self) -> String {
        let mut header: Vec<String> = self.group_by.iter().map(Dimension::name).collect();
        header.extend(
            [
                "meter",
                "cache_size_gb",
                "billable_units",
                "non_billable_units",
                "cost",
                "non_billable_cost",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        let mut out = csv_line(&header);
        for r in &self.rows {
            let mut cells = r.group.clone();
            cells.push(r.meter.as_str().into());
            cells.push(r.cache_size.map(CacheSize::as_str).unwrap_or("").into());
            cells.push(display_exact(r.billable_units));
            cells.push(display_exact(r.non_billable_units));
            cells.push(display_exact(r.cost));
            cells.push(display_exact(r.non_billable_cost));
            out.push_str(&csv_line(&cells));
        }
        out
    }

    /// The report as FinOps FOCUS 1.2 CSV with [`FocusOptions::default`]; see
    /// [`Report::to_focus_with`].
    pub fn to_focus(&self) -> String {
        self.to_focus_with(&FocusOptions::default())
    }

    /// The report as FinOps FOCUS 1.2 CSV: the header [`FOCUS_COLUMNS`], then one row per
    /// [`Charge`]: (month ∩ period, region, meter, group values, billable).
    ///
    /// - `ChargePeriodStart`/`End`: the part of the period inside that month;
    ///   `BillingPeriodStart`/`End`: the calendar month. Times are `YYYY-MM-DDTHH:MM:SSZ`,
    ///   ends exclusive.
    /// - `BilledCost` = `EffectiveCost` = `ListCost` = `ContractedCost` = the charge's exact
    ///   cost; `ListUnitPrice` = `ContractedUnitPrice` = the month's blended rate.
    ///   `ConsumedQuantity` is every unit; `PricingQuantity` the billable ones (non-billable
    ///   charges: `PricingQuantity` 0 and zero cost, still consumed).
    /// - `ServiceName` "Amazon API Gateway" (what the prices model), `ServiceCategory`
    ///   "Integration", `ServiceSubcategory` "API Management" (FOCUS's allowed values);
    ///   `ChargeCategory` "Usage", `ChargeClass` empty, `ChargeFrequency` "Usage-Based",
    ///   `PricingCategory` "Standard".
    /// - `SkuId` is the meter (`http_requests`, `cache_hours:1.6`), `SkuPriceId` is
    ///   `<region>/<SkuId>`; units are `Requests`, `Messages`, `Minutes`, `Hours`, `GB`
    ///   (1024³ bytes, as AWS prices it).
    /// - From the report's dimensions: `ResourceId`/`ResourceName` = the API id (`api`),
    ///   `Tags` = a JSON object of the `tag:NAME` values that are not empty, and `x_Stage`,
    ///   `x_Route`, `x_ApiKey`, `x_Client`, `x_StatusClass`, `x_Reason`; `x_Billable` is
    ///   `true`/`false`. A column whose dimension is not grouped by is empty.
    ///
    /// For a useful FOCUS file, build the report with [`focus_dimensions`] (api, stage,
    /// route, key, status, reason and the tags you want); add [`Dimension::Client`] to fill
    /// `x_Client` (one row per client: large). `rows`/`month_totals` are as for any report.
    pub fn to_focus_with(&self, options: &FocusOptions) -> String {
        let mut out = csv_line(FOCUS_COLUMNS);
        for c in &self.charges {
            out.push_str(&csv_line(&self.focus_row(c, options)));
        }
        out
    }

    fn focus_row(&self, c: &Charge, o: &FocusOptions) -> Vec<String> {
        let mut resource = String::new();
        let mut tags = serde_json::Map::new();
        let (mut stage, mut route, mut key, mut client, mut status, mut reason) = (
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        );
        for (d, v) in self.group_by.iter().zip(&c.group) {
            match d {
                Dimension::Api => resource.clone_from(v),
                Dimension::Stage => stage.clone_from(v),
                Dimension::Route => route.clone_from(v),
                Dimension::Key => key.clone_from(v),
                Dimension::Client => client.clone_from(v),
                Dimension::Status => status.clone_from(v),
                Dimension::Reason => reason.clone_from(v),
                Dimension::Region => {}
                Dimension::Tag(name) => {
                    if !v.is_empty() {
                        tags.insert(name.clone(), serde_json::Value::String(v.clone()));
                    }
                }
            }
        }
        let month = YearMonth::parse(&c.month).unwrap_or_else(|| YearMonth::of(self.period.start));
        let (charge_start, charge_end) = self.period.clip(month);
        let (what, unit) = meter_text(c.meter);
        let sku = match c.cache_size {
            Some(size) => format!("{}:{}", c.meter, size),
            None => c.meter.to_string(),
        };
        let what = match c.cache_size {
            Some(size) => format!("{what} ({size} GB)"),
            None => what.to_string(),
        };
        let description = if c.billable {
            format!("{what} in {}, at the month's blended tiered rate", c.region)
        } else {
            format!("{what} in {}, metered but not billable", c.region)
        };
        let cost = display_exact(c.cost);
        let price = display_exact(c.unit_price);
        let pricing_quantity = if c.billable {
            display_exact(c.units)
        } else {
            "0".to_string()
        };
        let resource_type = if resource.is_empty() { "" } else { "API" };
        vec![
            cost.clone(),                                // BilledCost
            o.billing_account_id.clone(),                // BillingAccountId
            o.billing_account_name.clone(),              // BillingAccountName
            CURRENCY.into(),                             // BillingCurrency
            rfc3339(month.next().start()),               // BillingPeriodEnd
            rfc3339(month.start()),                      // BillingPeriodStart
            "Usage".into(),                              // ChargeCategory
            String::new(),                               // ChargeClass
            description,                                 // ChargeDescription
            "Usage-Based".into(),                        // ChargeFrequency
            rfc3339(charge_end),                         // ChargePeriodEnd
            rfc3339(charge_start),                       // ChargePeriodStart
            display_exact(c.units),                      // ConsumedQuantity
            unit.into(),                                 // ConsumedUnit
            cost.clone(),                                // ContractedCost
            price.clone(),                               // ContractedUnitPrice
            cost.clone(),                                // EffectiveCost
            o.invoice_issuer_name.clone(),               // InvoiceIssuerName
            cost,                                        // ListCost
            price,                                       // ListUnitPrice
            "Standard".into(),                           // PricingCategory
            pricing_quantity,                            // PricingQuantity
            unit.into(),                                 // PricingUnit
            o.provider_name.clone(),                     // ProviderName
            o.publisher_name.clone(),                    // PublisherName
            c.region.clone(),                            // RegionId
            region_name(&c.region).to_string(),          // RegionName
            resource.clone(),                            // ResourceId
            resource,                                    // ResourceName
            resource_type.into(),                        // ResourceType
            "Integration".into(),                        // ServiceCategory
            "Amazon API Gateway".into(),                 // ServiceName
            "API Management".into(),                     // ServiceSubcategory
            sku.clone(),                                 // SkuId
            format!("{}/{sku}", c.region),               // SkuPriceId
            o.sub_account_id.clone(),                    // SubAccountId
            o.sub_account_name.clone(),                  // SubAccountName
            serde_json::Value::Object(tags).to_string(), // Tags
            key,                                         // x_ApiKey
            c.billable.to_string(),                      // x_Billable
            client,                                      // x_Client
            reason,                                      // x_Reason
            route,                                       // x_Route
            stage,                                       // x_Stage
            status,                                      // x_StatusClass
        ]
    }
}

/// The columns of [`Report::to_focus`], in order: FOCUS 1.2 columns alphabetically, then
/// tollgate's custom `x_` columns.
pub const FOCUS_COLUMNS: &[&str] = &[
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    "x_ApiKey",
    "x_Billable",
    "x_Client",
    "x_Reason",
    "x_Route",
    "x_Stage",
    "x_StatusClass",
];

/// The dimensions to build a report with for [`Report::to_focus`]: api, stage, route, key,
/// status, reason, then `tag:NAME` for each tag name given. (Add [`Dimension::Client`] too to
/// fill `x_Client`.)
pub fn focus_dimensions<S: AsRef<str>>(tag_names: &[S]) -> Vec<Dimension> {
    let mut dims = vec![
        Dimension::Api,
        Dimension::Stage,
        Dimension::Route,
        Dimension::Key,
        Dimension::Status,
        Dimension::Reason,
    ];
    dims.extend(
        tag_names
            .iter()
            .map(|t| Dimension::Tag(t.as_ref().to_string())),
    );
    dims
}

/// Who the FOCUS rows say billed whom. The defaults say "tollgate" everywhere: these are
/// tollgate's computations of what AWS would bill, not AWS's charges, and must not be
/// mistaken for them when mixed with a real AWS FOCUS export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FocusOptions {
    /// `BillingAccountId` (must not be empty in FOCUS).
    pub billing_account_id: String,
    /// `BillingAccountName`.
    pub billing_account_name: String,
    /// `SubAccountId` (may be empty).
    pub sub_account_id: String,
    /// `SubAccountName` (may be empty).
    pub sub_account_name: String,
    /// `ProviderName`.
    pub provider_name: String,
    /// `PublisherName`.
    pub publisher_name: String,
    /// `InvoiceIssuerName`.
    pub invoice_issuer_name: String,
}

impl Default for FocusOptions {
    fn default() -> Self {
        FocusOptions {
            billing_account_id: "tollgate".into(),
            billing_account_name: "tollgate".into(),
            sub_account_id: String::new(),
            sub_account_name: String::new(),
            provider_name: "tollgate".into(),
            publisher_name: "tollgate".into(),
            invoice_issuer_name: "tollgate".into(),
        }
    }
}

/// What a meter counts, and its FOCUS unit.
fn meter_text(meter: Meter) -> (&'static str, &'static str) {
    match meter {
        Meter::HttpRequests => ("HTTP API requests", "Requests"),
        Meter::RestRequests => ("REST API requests", "Requests"),
        Meter::WebsocketMessages => ("WebSocket messages", "Messages"),
        Meter::WebsocketConnectionMinutes => ("WebSocket connection minutes", "Minutes"),
        Meter::CacheHours => ("REST API cache", "Hours"),
        Meter::DataTransferOutGb => ("Data transfer out to the Internet", "GB"),
    }
}

/// AWS's name of a region (`us-east-1` → `US East (N. Virginia)`); the code itself when
/// unknown.
fn region_name(code: &str) -> &str {
    match code {
        "us-east-1" => "US East (N. Virginia)",
        "us-east-2" => "US East (Ohio)",
        "us-west-1" => "US West (N. California)",
        "us-west-2" => "US West (Oregon)",
        "af-south-1" => "Africa (Cape Town)",
        "ap-east-1" => "Asia Pacific (Hong Kong)",
        "ap-south-1" => "Asia Pacific (Mumbai)",
        "ap-south-2" => "Asia Pacific (Hyderabad)",
        "ap-southeast-1" => "Asia Pacific (Singapore)",
        "ap-southeast-2" => "Asia Pacific (Sydney)",
        "ap-southeast-3" => "Asia Pacific (Jakarta)",
        "ap-southeast-4" => "Asia Pacific (Melbourne)",
        "ap-northeast-1" => "Asia Pacific (Tokyo)",
        "ap-northeast-2" => "Asia Pacific (Seoul)",
        "ap-northeast-3" => "Asia Pacific (Osaka)",
        "ca-central-1" => "Canada (Central)",
        "ca-west-1" => "Canada West (Calgary)",
        "eu-central-1" => "Europe (Frankfurt)",
        "eu-central-2" => "Europe (Zurich)",
        "eu-west-1" => "Europe (Ireland)",
        "eu-west-2" => "Europe (London)",
        "eu-west-3" => "Europe (Paris)",
        "eu-south-1" => "Europe (Milan)",
        "eu-south-2" => "Europe (Spain)",
        "eu-north-1" => "Europe (Stockholm)",
        "il-central-1" => "Israel (Tel Aviv)",
        "me-south-1" => "Middle East (Bahrain)",
        "me-central-1" => "Middle East (UAE)",
        "sa-east-1" => "South America (São Paulo)",
        other => other,
    }
}

// === Serialization ===

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let names: Vec<String> = self.group_by.iter().map(Dimension::name).collect();
        let mut st = s.serialize_struct("Report", 5)?;
        st.serialize_field("currency", CURRENCY)?;
        st.serialize_field("period", &self.period)?;
        st.serialize_field("group_by", &names)?;
        st.serialize_field(
            "rows",
            &JsonRows {
                names: &names,
                rows: &self.rows,
            },
        )?;
        st.serialize_field("total", &display_exact(self.total))?;
        st.end()
    }
}

struct JsonRows<'a> {
    names: &'a [String],
    rows: &'a [ReportRow],
}

impl Serialize for JsonRows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for row in self.rows {
            seq.serialize_element(&JsonRow {
                names: self.names,
                row,
            })?;
        }
        seq.end()
    }
}

struct JsonRow<'a> {
    names: &'a [String],
    row: &'a ReportRow,
}

impl Serialize for JsonRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.row;
        let mut m = s.serialize_map(None)?;
        for (name, value) in self.names.iter().zip(&r.group) {
            m.serialize_entry(name, value)?;
        }
        m.serialize_entry("meter", r.meter.as_str())?;
        if let Some(size) = r.cache_size {
            m.serialize_entry("cache_size_gb", size.as_str())?;
        }
        m.serialize_entry("billable_units", &display_exact(r.billable_units))?;
        m.serialize_entry("non_billable_units", &display_exact(r.non_billable_units))?;
        m.serialize_entry("cost", &display_exact(r.cost))?;
        m.serialize_entry("non_billable_cost", &display_exact(r.non_billable_cost))?;
        m.end()
    }
}

// === Text helpers ===

/// Units for people: at most 6 decimals (half away from zero), no trailing zeros.
fn display_units(units: Decimal) -> String {
    units
        .round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
        .to_string()
}

/// A group value for the table: `(none)` when empty, so columns stay readable.
fn display_text(value: &str) -> String {
    if value.is_empty() {
        "(none)".into()
    } else {
        value.to_string()
    }
}

/// Columns two spaces apart, padded to the widest cell (in characters); `right[i]` aligns
/// column `i` to the right. A rule under the header and above the footer (no footer when it
/// is empty). Every table tollgate prints for people goes through here.
pub fn render_table(
    header: &[String],
    right: &[bool],
    body: &[Vec<String>],
    footer: &[String],
) -> String {
    let width = |s: &str| s.chars().count();
    let mut w: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in body.iter().map(Vec::as_slice).chain([footer]) {
        for (i, c) in row.iter().enumerate() {
            if let Some(wi) = w.get_mut(i) {
                *wi = (*wi).max(width(c));
            }
        }
    }
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = " ".repeat(w[i].saturating_sub(width(c)));
                if right.get(i).copied().unwrap_or(false) {
                    format!("{pad}{c}")
                } else {
                    format!("{c}{pad}")
                }
            })
            .collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    let rule = format!(
        "{}\n",
        w.iter()
            .map(|n| "-".repeat(*n))
            .collect::<Vec<_>>()
            .join("  ")
    );
    let mut out = line(header);
    out.push_str(&rule);
    for row in body {
        out.push_str(&line(row));
    }
    if !footer.is_empty() {
        out.push_str(&rule);
        out.push_str(&line(footer));
    }
    out
}

/// One CSV record, RFC 4180: fields with a comma, quote or line break are quoted, quotes
/// doubled.
fn csv_line<S: AsRef<str>>(fields: &[S]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let f = f.as_ref();
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for days in [-1, 0, 59, 365, 11_016, 11_017, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_584_039_838), "2020-03-12T19:03:58Z");
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2025, 12), 31);
    }

    #[test]
    fn periods_parse_and_list_months() {
        let p = Period::parse("2024-12-15", "2025-02-01T00:00:00Z").unwrap();
        assert_eq!(p.start_rfc3339(), "2024-12-15T00:00:00Z");
        assert_eq!(p.end_rfc3339(), "2025-02-01T00:00:00Z");
        assert_eq!(p.months(), vec!["2024-12", "2025-01"]);
        let (a, b) = p.month_totals_range();
        assert_eq!(
            (rfc3339(a), rfc3339(b)),
            ("2024-12-01T00:00:00Z".into(), "2025-02-01T00:00:00Z".into())
        );
        assert_eq!(
            Period::month("2025-01").unwrap(),
            Period::parse("2025-01", "2025-02").unwrap()
        );
        assert_eq!(
            Period::parse("2025-03-01T10:20:30+00:00", "2025-03-01T10:20:31Z")
                .unwrap()
                .start_rfc3339(),
            "2025-03-01T10:20:30Z"
        );
        for bad in [
            "2025-02-30",
            "2025-13",
            "2025-1-01",
            "2025-01-01T24:00:00Z",
            "2025-01-01T10:00:00+01:00",
            "x",
            "2025-01-01T10:00:00",
        ] {
            assert!(Period::parse(bad, "2030-01-01").is_err(), "{bad}");
        }
        assert!(Period::parse("2025-02", "2025-01").is_err());
        assert!(Period::new(-1, 10).is_err());
    }

    #[test]
    fn meters_convert_to_pricing_units() {
        assert_eq!(
            pricing_meter(UsageMeter::CacheMs { centi_gb: 160 }).unwrap(),
            (Meter::CacheHours, Some(CacheSize::Gb1_6))
        );
        assert!(pricing_meter(UsageMeter::CacheMs { centi_gb: 100 }).is_err());
        assert_eq!(
            to_pricing_units(UsageMeter::DataOutBytes, 15_360_000_000).unwrap(),
            Decimal::new(1_430_511_474_609_375, 14)
        );
        assert_eq!(
            to_pricing_units(UsageMeter::WebsocketConnectionMs, 90_000).unwrap(),
            Decimal::new(15, 1)
        );
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(
            csv_line(&["a", "b,c", "say \"hi\""]),
            "a,\"b,c\",\"say \"\"hi\"\"\"\n"
        );
    }
}
