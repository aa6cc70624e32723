//! Month-end cost forecast (`tollgate cost forecast`, docs/forecast.md): the month's cost so
//! far, priced exactly as `tollgate cost report` prices it, plus a forecast of the remaining
//! days of the calendar month from a daily cost series, with a 95% interval.
//!
//! The daily series: each complete day from up to [`DEFAULT_HISTORY_DAYS`] before today (the
//! leading days without any cost trimmed) is priced with `build_report` at its month's
//! effective blended rate (the tiers on the month's running total, up to `now`), so a day's
//! cost is its share of its month's bill by units. The remaining days are forecast by
//! [`model::forecast_days`] (MSTL with a weekly period and AutoETS on the trend) and priced at
//! the month-to-date blended rate: tier changes during the rest of the month are not
//! anticipated. Month end = actual to date + the sum of the forecast days (today's forecast
//! less what today has already cost); the interval sums the daily 95% bounds, which treats
//! the days' errors as perfectly correlated (wider than a joint interval, never narrower).

pub mod model;

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::{Decimal, RoundingStrategy};
use tollgate_meter::{Ledger, LedgerError};
use tollgate_pricing::report::Period;
use tollgate_pricing::{Catalog, FreeTier, PricingError};
use tollgate_types::usage::Dimension;

use crate::source::{month_of, CostSource, MeteredCosts};

pub use model::{DayForecast, Method, LEVEL};

const DAY: i64 = 86_400;

/// Days of history read before today (eight weeks: enough to learn a weekly season).
pub const DEFAULT_HISTORY_DAYS: u32 = 56;

/// Why a forecast could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    #[error("{0}")]
    BadParameter(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

/// What to forecast.
#[derive(Debug, Clone)]
pub struct ForecastOptions<'a> {
    pub catalog: &'a Catalog,
    pub free_tier: FreeTier,
    /// Dimensions of the rows (none: no rows, only the total).
    pub by: &'a [Dimension],
    /// The present, Unix seconds: the month is the one containing it, and nothing at or after
    /// it is read.
    pub now: i64,
    /// Complete days of history before today to learn from.
    pub history_days: u32,
}

/// A month-end projection: exact cost so far, forecast and 95% interval (all in dollars,
/// unrounded; round only to display).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    pub actual_to_date: Decimal,
    pub forecast: Decimal,
    pub lower: Decimal,
    pub upper: Decimal,
}

/// One group's projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastRow {
    /// Values of [`MonthForecast::by`], in order.
    pub group: Vec<String>,
    pub projection: Projection,
}

/// The forecast of one calendar month.
#[derive(Debug, Clone)]
pub struct MonthForecast {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// What the figures are: `metered` (usage priced by the catalog) or `bill` (imported
    /// AWS bill lines at their unblended cost).
    pub data: &'static str,
    /// The dimensions' names (`api`, `tag:team`, `account`…).
    pub by: Vec<String>,
    pub days_in_month: u32,
    /// Complete days of the month before today.
    pub days_elapsed: u32,
    /// Complete days in the series the total was forecast from.
    pub history_days: usize,
    /// How the total's remaining days were forecast.
    pub method: Method,
    pub total: Projection,
    /// The naive projection: cost so far / time elapsed × the month's length.
    pub run_rate: Decimal,
    /// Sorted by group values.
    pub rows: Vec<ForecastRow>,
}

/// Forecast the month containing `options.now` from metered usage priced by the catalog.
pub fn forecast(
    ledger: &mut dyn Ledger,
    options: &ForecastOptions<'_>,
) -> Result<MonthForecast, ForecastError> {
    let by: Vec<String> = options.by.iter().map(Dimension::name).collect();
    let mut source = MeteredCosts::new(ledger, options.catalog, options.free_tier, options.now);
    forecast_costs(&mut source, &by, options.now, options.history_days)
}

/// Forecast the month containing `now` from any [`CostSource`] (metered usage, an imported
/// bill), per group of the named dimensions `by`, learning from `history_days` complete days.
pub fn forecast_costs(
    source: &mut dyn CostSource,
    by: &[String],
    now: i64,
    history_days: u32,
) -> Result<MonthForecast, ForecastError> {
    for (i, d) in by.iter().enumerate() {
        if by[..i].contains(d) {
            return Err(ForecastError::BadParameter(format!(
                "--by: `{d}` is listed twice"
            )));
        }
    }
    let month = month_of(now)?;
    let month_period = Period::month(&month)?;
    let (month_start, month_end) = (month_period.start(), month_period.end());
    let today = now - now.rem_euclid(DAY);
    let days_in_month = ((month_end - month_start) / DAY) as u32;
    let days_elapsed = ((today - month_start) / DAY) as u32;

    // Month to date, exactly as the report prices it.
    let (actual_total, actual_groups) = if now > month_start {
        source.cost(month_start, now, by)?
    } else {
        (Decimal::ZERO, BTreeMap::new())
    };
    let today_groups = if now > today {
        source.cost(today, now, by)?.1
    } else {
        BTreeMap::new()
    };

    // The daily series, oldest first.
    let first = today - i64::from(history_days) * DAY;
    let mut days: Vec<BTreeMap<Vec<String>, Decimal>> = Vec::new();
    let mut day = first;
    while day < today {
        days.push(source.cost(day, day + DAY, by)?.1);
        day += DAY;
    }
    let lead = days
        .iter()
        .position(|d| d.values().any(|c| !c.is_zero()))
        .unwrap_or(days.len());
    let days = &days[lead..];

    let mut groups: BTreeSet<Vec<String>> = actual_groups.keys().cloned().collect();
    for d in days {
        groups.extend(d.keys().cloned());
    }

    let horizon = ((month_end - today) / DAY) as usize;
    let total_series: Vec<f64> = days.iter().map(|d| to_f64(d.values().sum())).collect();
    let today_total: Decimal = today_groups.values().sum();
    let (method, total) = project(actual_total, today_total, &total_series, horizon);

    let rows = if by.is_empty() {
        Vec::new()
    } else {
        groups
            .into_iter()
            .map(|g| {
                let series: Vec<f64> = days
                    .iter()
                    .map(|d| to_f64(d.get(&g).copied().unwrap_or_default()))
                    .collect();
                let actual = actual_groups.get(&g).copied().unwrap_or_default();
                let today = today_groups.get(&g).copied().unwrap_or_default();
                let (_, projection) = project(actual, today, &series, horizon);
                ForecastRow {
                    group: g,
                    projection,
                }
            })
            .collect()
    };

    let elapsed = Decimal::from(now - month_start);
    let run_rate = if elapsed.is_zero() {
        Decimal::ZERO
    } else {
        actual_total * Decimal::from(month_end - month_start) / elapsed
    };
    Ok(MonthForecast {
        month,
        data: source.kind(),
        by: by.to_vec(),
        days_in_month,
        days_elapsed,
        history_days: days.len(),
        method,
        total,
        run_rate,
        rows,
    })
}

/// Actual to date plus the forecast of the `horizon` remaining days (today first, less what
/// today has cost so far).
fn project(
    actual: Decimal,
    today_so_far: Decimal,
    series: &[f64],
    horizon: usize,
) -> (Method, Projection) {
    let (method, f) = model::forecast_days(series, horizon);
    let today = to_f64(today_so_far);
    let mut p = Projection {
        actual_to_date: actual,
        forecast: actual,
        lower: actual,
        upper: actual,
    };
    for (i, d) in f.iter().enumerate() {
        let spent = if i == 0 { today } else { 0.0 };
        p.forecast += from_f64((d.point - spent).max(0.0));
        p.lower += from_f64((d.lower - spent).max(0.0));
        p.upper += from_f64((d.upper - spent).max(0.0));
    }
    (method, p)
}

pub(crate) fn to_f64(d: Decimal) -> f64 {
    d.to_string().parse().unwrap_or(0.0)
}

/// A forecast day's dollars, to a millionth of a cent's precision (what a float holds).
fn from_f64(v: f64) -> Decimal {
    Decimal::try_from(v)
        .unwrap_or_default()
        .round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero)
}

/// Money for JSON, CSV and tables: cents, half away from zero, always two decimals.
pub fn display_money(d: Decimal) -> String {
    format!(
        "{:.2}",
        d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    )
}

impl MonthForecast {
    fn names(&self) -> Vec<String> {
        self.by.clone()
    }

    /// `{"month","actual_to_date","forecast","lower","upper","rows":[...]}`, money as decimal
    /// strings; each row has its group fields (`api`, `tag:team`…) and the four amounts.
    pub fn to_json(&self) -> String {
        use serde_json::{Map, Value};
        fn money(m: &mut Map<String, Value>, p: &Projection) {
            for (k, v) in [
                ("actual_to_date", p.actual_to_date),
                ("forecast", p.forecast),
                ("lower", p.lower),
                ("upper", p.upper),
            ] {
                m.insert(k.into(), Value::String(display_money(v)));
            }
        }
        let names = self.names();
        let mut top = Map::new();
        top.insert("month".into(), Value::String(self.month.clone()));
        top.insert("data".into(), Value::String(self.data.to_owned()));
        money(&mut top, &self.total);
        let rows = self
            .rows
            .iter()
            .map(|r| {
                let mut m = Map::new();
                for (n, v) in names.iter().zip(&r.group) {
                    m.insert(n.clone(), Value::String(v.clone()));
                }
                money(&mut m, &r.projection);
                Value::Object(m)
            })
            .collect();
        top.insert("rows".into(), Value::Array(rows));
        let mut s = serde_json::to_string_pretty(&Value::Object(top)).unwrap_or_default();
        s.push('\n');
        s
    }

    /// A header line, then one line per row and a `total` line (the total alone without
    /// `--by`).
    pub fn to_csv(&self) -> String {
        let mut header = self.names();
        header.extend(["actual_to_date", "forecast", "lower", "upper"].map(String::from));
        let mut lines = vec![header
            .iter()
            .map(|h| crate::csv_field(h))
            .collect::<Vec<_>>()];
        let line = |group: Vec<String>, p: &Projection| {
            let mut l: Vec<String> = group.iter().map(|g| crate::csv_field(g)).collect();
            l.extend([p.actual_to_date, p.forecast, p.lower, p.upper].map(display_money));
            l
        };
        for r in &self.rows {
            lines.push(line(r.group.clone(), &r.projection));
        }
        let mut total = vec![String::new(); self.by.len()];
        if let Some(first) = total.first_mut() {
            *first = "total".into();
        }
        lines.push(line(total, &self.total));
        let mut out = String::new();
        for l in lines {
            out.push_str(&l.join(","));
            out.push('\n');
        }
        out
    }

    /// Aligned columns for people, with the method and the run-rate projection under them.
    pub fn to_table(&self) -> String {
        let mut header = self.names();
        header.extend(["to date", "forecast", "lower (95%)", "upper (95%)"].map(String::from));
        let cells = |group: Vec<String>, p: &Projection| {
            let mut l: Vec<String> = group
                .into_iter()
                .map(|g| if g.is_empty() { "(none)".into() } else { g })
                .collect();
            l.extend([p.actual_to_date, p.forecast, p.lower, p.upper].map(display_money));
            l
        };
        let mut lines = vec![header];
        for r in &self.rows {
            lines.push(cells(r.group.clone(), &r.projection));
        }
        let mut total = vec![String::new(); self.by.len()];
        if let Some(first) = total.first_mut() {
            *first = "total".into();
        }
        lines.push(cells(total, &self.total));
        let n = lines[0].len();
        let widths: Vec<usize> = (0..n)
            .map(|i| {
                lines
                    .iter()
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let groups = self.by.len();
        let mut out = format!(
            "Forecast for {}{} ({} of {} days complete, {} day(s) of history, {}):\n",
            self.month,
            if self.data == "bill" {
                ", imported AWS bill"
            } else {
                ""
            },
            self.days_elapsed,
            self.days_in_month,
            self.history_days,
            self.method.as_str()
        );
        for (li, l) in lines.iter().enumerate() {
            if li == lines.len() - 1 && groups > 0 {
                let width: usize = widths.iter().sum::<usize>() + 2 * (n - 1);
                out.push_str(&"-".repeat(width));
                out.push('\n');
            }
            let cols: Vec<String> = l
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i < groups {
                        format!("{c:<w$}", w = widths[i])
                    } else {
                        format!("{c:>w$}", w = widths[i])
                    }
                })
                .collect();
            out.push_str(cols.join("  ").trim_end());
            out.push('\n');
        }
        out.push_str(&format!(
            "Run rate (to date / time elapsed x days in month): {}\n",
            display_money(self.run_rate)
        ));
        out
    }
}
