//! Cost anomalies (`tollgate cost anomalies`, docs/anomalies.md): hours whose cost is well
//! above a seasonal baseline, merged into incidents, each with the dimension values that
//! explain most of the change.
//!
//! The series: the hourly cost of the total and of each API, priced with `build_report` at
//! each month's blended rate (the month's usage up to the end of the analysed period), as the
//! forecast prices its days. The baseline of an hour is the median of the same hour of the
//! week over the previous [`AnomalyOptions::weeks`] weeks (at least two of them with data),
//! else of the same hour of the day over the previous seven days (at least three); its spread
//! is the MAD. The score is `(actual - expected) / max(1.4826 × MAD, $0.01, 5% of
//! expected)`; an hour is anomalous when its score reaches the sensitivity and its impact
//! (`actual - expected`) the minimum impact. Consecutive anomalous hours of one series merge
//! into one anomaly (sums of expected and actual, the highest score). Only increases are
//! reported. A total-series anomaly overlapping an API's anomaly is dropped (the API's says
//! more).
//!
//! The cause compares the anomaly's window with the same window in the baseline weeks (or
//! days): for each value of route, key, client, status, stage and meter, its cost change
//! (actual minus the median of the baseline windows) over the dimension's total change is its
//! share. Values are ranked by `share × (1 - the value's share of the baseline cost)`, so a
//! value that was always the whole cost (the only stage) does not crowd out the one that is
//! new or grew; at most three with a share of at least 0.2 and a rank of at least 0.1 are
//! kept.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use tollgate_meter::{Ledger, LedgerError};
use tollgate_pricing::{Catalog, FreeTier, PricingError};

use crate::forecast::{display_money, to_f64, ForecastError};
use crate::source::{CostSource, MeteredCosts, METER};
use tollgate_types::time_fmt::rfc3339;

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// Default sensitivity: the score an hour must reach.
pub const DEFAULT_SENSITIVITY: f64 = 4.0;
/// Default minimum impact of an anomalous hour, in dollars (`0.10`).
pub const DEFAULT_MIN_IMPACT: Decimal = Decimal::from_parts(10, 0, 0, false, 2);
/// Default weeks of seasonal baseline.
pub const DEFAULT_WEEKS: u32 = 3;
/// A day must add this many times the hourly minimum impact (so $0.50 by default).
pub const DAILY_IMPACT_FACTOR: i64 = 5;
/// The smallest spread of a daily series, in dollars (`0.10`): a day's score is at most
/// its impact over ten cents.
pub const DAILY_ABS_FLOOR: Decimal = Decimal::from_parts(10, 0, 0, false, 2);

/// Whether an anomaly was found by the hourly or the daily pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Granularity {
    Hour,
    Day,
}

impl Granularity {
    /// `hour` or `day`, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }
}

/// Why anomalies could not be found.
#[derive(Debug, thiserror::Error)]
pub enum AnomalyError {
    #[error("{0}")]
    BadParameter(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

impl From<ForecastError> for AnomalyError {
    fn from(e: ForecastError) -> Self {
        match e {
            ForecastError::BadParameter(m) => AnomalyError::BadParameter(m),
            ForecastError::Ledger(e) => AnomalyError::Ledger(e),
            ForecastError::Pricing(e) => AnomalyError::Pricing(e),
        }
    }
}

/// What to look for.
#[derive(Debug, Clone)]
pub struct AnomalyOptions<'a> {
    pub catalog: &'a Catalog,
    pub free_tier: FreeTier,
    /// `[from, to)`, Unix seconds: the hours examined (whole hours inside it).
    pub from: i64,
    pub to: i64,
    /// The score an hour must reach.
    pub sensitivity: f64,
    /// The impact (dollars) an hour must reach.
    pub min_impact: Decimal,
    /// Weeks of seasonal baseline (1 to 12).
    pub weeks: u32,
}

/// One dimension value behind an anomaly.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// `route`, `key`, `client`, `status`, `stage` or `meter`.
    pub dimension: String,
    pub value: String,
    /// Its cost change over the total change.
    pub share: f64,
}

/// One anomaly: consecutive anomalous hours of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    /// `[start, end)`, Unix seconds, whole hours.
    pub start: i64,
    pub end: i64,
    pub expected: Decimal,
    pub actual: Decimal,
    /// The highest hourly score.
    pub score: f64,
    /// The series (`{"api":"shop"}`, `{"api":"shop","stage":"test"}`, empty for the
    /// total) plus the top cause's dimension.
    pub dimensions: BTreeMap<String, String>,
    pub cause: Vec<Cause>,
    /// Hourly or daily pass.
    pub granularity: Granularity,
}

impl Anomaly {
    pub fn impact(&self) -> Decimal {
        self.actual - self.expected
    }

    /// The anomaly's JSON object: `{"start","end","expected","actual","impact","score",
    /// "granularity","dimensions":{...},"cause":[{"dimension","value","share"}]}`.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::json!({
            "start": rfc3339(self.start),
            "end": rfc3339(self.end),
            "expected": display_money(self.expected),
            "actual": display_money(self.actual),
            "impact": display_money(self.impact()),
            "score": (self.score * 10.0).round() / 10.0,
            "granularity": self.granularity.as_str(),
            "dimensions": self.dimensions,
            "cause": self.cause.iter().map(|c| serde_json::json!({
                "dimension": c.dimension,
                "value": c.value,
                "share": c.share,
            })).collect::<Vec<_>>(),
        })
    }

    /// One line for people (logs, chat): where, when, how much, and why.
    pub fn summary(&self) -> String {
        let scope = match (self.dimensions.get("api"), self.dimensions.get("stage")) {
            (Some(api), Some(stage)) => format!("{api}/{stage}"),
            (Some(api), None) => api.clone(),
            _ => "the total".to_owned(),
        };
        let cause = Anomalies::cause_text(self);
        format!(
            "Cost anomaly on {scope} ({}): ${} instead of ${} expected (+${}) from {} to {}{}",
            match self.granularity {
                Granularity::Hour => "hourly",
                Granularity::Day => "daily",
            },
            display_money(self.actual),
            display_money(self.expected),
            display_money(self.impact()),
            rfc3339(self.start),
            rfc3339(self.end),
            if cause.is_empty() {
                String::new()
            } else {
                format!("; cause: {cause}")
            }
        )
    }

    /// What identifies it across passes: its start, granularity and dimensions.
    pub fn key(&self) -> String {
        let dims: Vec<String> = self
            .dimensions
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "{}|{}|{}",
            self.start,
            self.granularity.as_str(),
            dims.join(",")
        )
    }
}

/// The anomalies found, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Anomalies {
    pub anomalies: Vec<Anomaly>,
    /// What the costs are: `metered` (usage priced by the catalog) or `bill` (imported AWS
    /// bill lines at their unblended cost).
    pub data: &'static str,
}

/// Hourly baseline of one series.
struct Hourly {
    /// Series key: `None` for the total, else the API.
    api: Option<String>,
    /// The stage, for the daily pass's per-stage series.
    stage: Option<String>,
    granularity: Granularity,
    start: i64,
    end: i64,
    expected: Decimal,
    actual: Decimal,
    score: f64,
    /// Shift of the baseline windows (`WEEK` or `DAY`) and how many.
    shift: i64,
    shifts: u32,
}

fn median(v: &mut [Decimal]) -> Decimal {
    v.sort();
    let n = v.len();
    if n == 0 {
        Decimal::ZERO
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / Decimal::TWO
    }
}

/// Find the anomalies of `[options.from, options.to)` in metered usage priced by the catalog
/// (each month at its blended rate up to `options.to`).
pub fn detect(
    ledger: &mut dyn Ledger,
    options: &AnomalyOptions<'_>,
) -> Result<Anomalies, AnomalyError> {
    let mut source = MeteredCosts::new(ledger, options.catalog, options.free_tier, options.to);
    detect_costs(&mut source, options)
}

/// Find the anomalies of `[options.from, options.to)` in any [`CostSource`] (metered usage,
/// an imported bill); `options.catalog` and `free_tier` are the source's business. A source
/// without hourly figures (a daily bill) gets the daily pass only.
pub fn detect_costs(
    source: &mut dyn CostSource,
    options: &AnomalyOptions<'_>,
) -> Result<Anomalies, AnomalyError> {
    if !(options.sensitivity.is_finite() && options.sensitivity > 0.0) {
        return Err(AnomalyError::BadParameter(format!(
            "--sensitivity {}: expected a positive number",
            options.sensitivity
        )));
    }
    if options.min_impact.is_sign_negative() {
        return Err(AnomalyError::BadParameter(format!(
            "--min-impact {}: expected zero or more",
            options.min_impact
        )));
    }
    if !(1..=12).contains(&options.weeks) {
        return Err(AnomalyError::BadParameter(format!(
            "weeks {}: expected 1 to 12",
            options.weeks
        )));
    }
    let first = options.from + (HOUR - options.from.rem_euclid(HOUR)) % HOUR;
    let last = options.to - options.to.rem_euclid(HOUR);
    if last <= first {
        return Err(AnomalyError::BadParameter(
            "the period holds no whole hour".to_owned(),
        ));
    }
    let history = first - i64::from(options.weeks) * WEEK;
    let hourly = source.hourly(history, last)?;
    let api = ["api".to_owned()];

    // Hourly cost per series, history included (none for a daily source: its hours say
    // nothing, `data_start` comes from the days).
    let mut cost: BTreeMap<i64, BTreeMap<Option<String>, Decimal>> = BTreeMap::new();
    let mut apis: BTreeSet<String> = BTreeSet::new();
    let (mut h, step) = if hourly {
        (history, HOUR)
    } else {
        (history - history.rem_euclid(DAY), DAY)
    };
    while h < last {
        let (total, groups) = source.cost(h, h + step, &api)?;
        let mut m = BTreeMap::new();
        m.insert(None, total);
        for (g, c) in groups {
            let api = g.into_iter().next().unwrap_or_default();
            apis.insert(api.clone());
            *m.entry(Some(api)).or_default() += c;
        }
        cost.insert(h, m);
        h += step;
    }
    let data_start = cost
        .iter()
        .find(|(_, m)| m.values().any(|c| !c.is_zero()))
        .map_or(last, |(h, _)| *h);

    let mut series: Vec<Option<String>> = vec![None];
    series.extend(apis.into_iter().map(Some));
    let abs_floor = Decimal::new(1, 2);
    let rel_floor = Decimal::new(5, 2);
    let mad_k = Decimal::new(14_826, 4);
    let mut hours: Vec<Hourly> = Vec::new();
    for s in series.iter().filter(|_| hourly) {
        let at = |h: i64| -> Decimal {
            cost.get(&h)
                .and_then(|m| m.get(s))
                .copied()
                .unwrap_or_default()
        };
        let mut h = first;
        let mut open: Option<Hourly> = None;
        while h < last {
            let weekly: Vec<i64> = (1..=i64::from(options.weeks))
                .map(|k| h - k * WEEK)
                .filter(|&b| b >= data_start)
                .collect();
            let daily: Vec<i64> = (1..=7)
                .map(|k| h - k * DAY)
                .filter(|&b| b >= data_start)
                .collect();
            let (shift, base) = if weekly.len() >= 2 {
                (WEEK, weekly)
            } else {
                (DAY, daily)
            };
            let mut flagged = None;
            if base.len() >= if shift == WEEK { 2 } else { 3 } {
                let mut values: Vec<Decimal> = base.iter().map(|&b| at(b)).collect();
                let expected = median(&mut values);
                let mut dev: Vec<Decimal> = values.iter().map(|v| (*v - expected).abs()).collect();
                let mad = median(&mut dev);
                let scale = (mad * mad_k).max(abs_floor).max(expected * rel_floor);
                let actual = at(h);
                let impact = actual - expected;
                let score = to_f64(impact / scale);
                if score >= options.sensitivity && impact >= options.min_impact {
                    flagged = Some((expected, actual, score, shift, base.len() as u32));
                }
            }
            match (flagged, open.as_mut()) {
                (Some((e, a, sc, shift, n)), Some(o)) if o.shift == shift => {
                    o.end = h + HOUR;
                    o.expected += e;
                    o.actual += a;
                    o.score = o.score.max(sc);
                    o.shifts = o.shifts.min(n);
                }
                (Some((e, a, sc, shift, n)), _) => {
                    hours.extend(open.take());
                    open = Some(Hourly {
                        api: s.clone(),
                        stage: None,
                        granularity: Granularity::Hour,
                        start: h,
                        end: h + HOUR,
                        expected: e,
                        actual: a,
                        score: sc,
                        shift,
                        shifts: n,
                    });
                }
                (None, _) => hours.extend(open.take()),
            }
            h += HOUR;
        }
        hours.extend(open.take());
    }

    // A total anomaly overlapping an API's says less than the API's.
    let keep: Vec<Hourly> = hours
        .iter()
        .filter(|a| {
            a.api.is_some()
                || !hours
                    .iter()
                    .any(|b| b.api.is_some() && b.start < a.end && a.start < b.end)
        })
        .map(|a| Hourly {
            api: a.api.clone(),
            stage: a.stage.clone(),
            ..*a
        })
        .collect();
    let days = daily(source, options, data_start, &keep)?;

    let mut anomalies = Vec::new();
    for a in keep.into_iter().chain(days) {
        let cause = cause(source, &a)?;
        let mut dimensions = BTreeMap::new();
        if let Some(api) = &a.api {
            dimensions.insert("api".to_owned(), api.clone());
        }
        if let Some(stage) = &a.stage {
            dimensions.insert("stage".to_owned(), stage.clone());
        }
        if let Some(c) = cause.first() {
            dimensions
                .entry(c.dimension.clone())
                .or_insert_with(|| c.value.clone());
        }
        anomalies.push(Anomaly {
            start: a.start,
            end: a.end,
            expected: a.expected,
            actual: a.actual,
            score: a.score,
            dimensions,
            cause,
            granularity: a.granularity,
        });
    }
    anomalies.sort_by(|a, b| {
        (a.start, a.end)
            .cmp(&(b.start, b.end))
            .then(b.impact().cmp(&a.impact()))
            .then(a.granularity.cmp(&b.granularity))
    });
    Ok(Anomalies {
        anomalies,
        data: source.kind(),
    })
}

/// The daily pass: whole days of the period, the daily cost of the total, of each API and of
/// each (API, stage) against the median of the same weekday in the previous weeks (at least
/// two after the ledger's first usage). Spread, score and merging as the hourly pass, with a
/// floor of [`DAILY_ABS_FLOOR`] and a minimum impact of [`DAILY_IMPACT_FACTOR`] × the hourly
/// one. A day's anomaly is dropped when a more specific one overlaps it (a stage's over its
/// API's, an API's over the total), and when overlapping hourly anomalies of the same API
/// account for at least half its impact: they are the same incident, seen more precisely.
fn daily(
    source: &mut dyn CostSource,
    options: &AnomalyOptions<'_>,
    data_start: i64,
    hourly: &[Hourly],
) -> Result<Vec<Hourly>, AnomalyError> {
    let first = options.from + (DAY - options.from.rem_euclid(DAY)) % DAY;
    let last = options.to - options.to.rem_euclid(DAY);
    if last <= first {
        return Ok(Vec::new());
    }
    let history = first - i64::from(options.weeks) * WEEK;
    type Series = (Option<String>, Option<String>);
    let mut cost: BTreeMap<i64, BTreeMap<Series, Decimal>> = BTreeMap::new();
    let mut keys: BTreeSet<Series> = BTreeSet::new();
    keys.insert((None, None));
    let mut d = history;
    while d < last {
        let (total, groups) = source.cost(d, d + DAY, &["api".into(), "stage".into()])?;
        let mut m: BTreeMap<Series, Decimal> = BTreeMap::new();
        m.insert((None, None), total);
        for (g, c) in groups {
            let mut g = g.into_iter();
            let api = g.next().unwrap_or_default();
            let stage = g.next().unwrap_or_default();
            *m.entry((Some(api.clone()), None)).or_default() += c;
            *m.entry((Some(api), Some(stage))).or_default() += c;
        }
        keys.extend(m.keys().cloned());
        cost.insert(d, m);
        d += DAY;
    }
    let min_impact = options.min_impact * Decimal::from(DAILY_IMPACT_FACTOR);
    let rel_floor = Decimal::new(5, 2);
    let mad_k = Decimal::new(14_826, 4);
    let mut found: Vec<Hourly> = Vec::new();
    for key in &keys {
        let at = |d: i64| -> Decimal {
            cost.get(&d)
                .and_then(|m| m.get(key))
                .copied()
                .unwrap_or_default()
        };
        let mut open: Option<Hourly> = None;
        let mut d = first;
        while d < last {
            let base: Vec<i64> = (1..=i64::from(options.weeks))
                .map(|k| d - k * WEEK)
                .filter(|&b| b >= data_start)
                .collect();
            let mut flagged = None;
            if base.len() >= 2 {
                let mut values: Vec<Decimal> = base.iter().map(|&b| at(b)).collect();
                let expected = median(&mut values);
                let mut dev: Vec<Decimal> = values.iter().map(|v| (*v - expected).abs()).collect();
                let mad = median(&mut dev);
                let scale = (mad * mad_k).max(DAILY_ABS_FLOOR).max(expected * rel_floor);
                let actual = at(d);
                let impact = actual - expected;
                let score = to_f64(impact / scale);
                if score >= options.sensitivity && impact >= min_impact {
                    flagged = Some((expected, actual, score, base.len() as u32));
                }
            }
            match (flagged, open.as_mut()) {
                (Some((e, a, sc, n)), Some(o)) => {
                    o.end = d + DAY;
                    o.expected += e;
                    o.actual += a;
                    o.score = o.score.max(sc);
                    o.shifts = o.shifts.min(n);
                }
                (Some((e, a, sc, n)), None) => {
                    open = Some(Hourly {
                        api: key.0.clone(),
                        stage: key.1.clone(),
                        granularity: Granularity::Day,
                        start: d,
                        end: d + DAY,
                        expected: e,
                        actual: a,
                        score: sc,
                        shift: WEEK,
                        shifts: n,
                    });
                }
                (None, _) => found.extend(open.take()),
            }
            d += DAY;
        }
        found.extend(open.take());
    }
    let overlaps = |a: &Hourly, b: &Hourly| a.start < b.end && b.start < a.end;
    let specificity = |a: &Hourly| usize::from(a.api.is_some()) + usize::from(a.stage.is_some());
    let kept = found
        .iter()
        .filter(|a| {
            // A more specific daily anomaly of the same scope says more.
            !found.iter().any(|b| {
                overlaps(a, b)
                    && specificity(b) > specificity(a)
                    && (a.api.is_none() || a.api == b.api)
            })
        })
        .filter(|a| {
            // Hourly anomalies of the same API that explain half its impact are the same
            // incident, seen more precisely.
            let explained: Decimal = hourly
                .iter()
                .filter(|h| {
                    overlaps(a, h) && (a.api.is_none() || h.api.is_none() || a.api == h.api)
                })
                .map(|h| h.actual - h.expected)
                .sum();
            explained * Decimal::TWO < a.actual - a.expected
        })
        .map(|a| Hourly {
            api: a.api.clone(),
            stage: a.stage.clone(),
            ..*a
        })
        .collect();
    Ok(kept)
}

/// The dimension values that explain an anomaly's change against its baseline windows.
fn cause(source: &mut dyn CostSource, a: &Hourly) -> Result<Vec<Cause>, AnomalyError> {
    let mut dims = source.cause_dimensions();
    dims.push(METER.to_owned());
    let windows: Vec<(i64, i64)> = std::iter::once((a.start, a.end))
        .chain((1..=i64::from(a.shifts)).map(|k| (a.start - k * a.shift, a.end - k * a.shift)))
        .collect();
    let mut ranked: Vec<(f64, Cause)> = Vec::new();
    for dim in dims {
        // Cost per value in each window.
        let mut per: Vec<BTreeMap<String, Decimal>> = Vec::new();
        let by = ["api".to_owned(), dim.clone()];
        for &(from, to) in &windows {
            let (_, groups) = source.cost(from, to, &by)?;
            let mut m: BTreeMap<String, Decimal> = BTreeMap::new();
            for (g, c) in groups {
                if a.api.as_deref().is_none_or(|api| g[0] == api) {
                    *m.entry(g[1].clone()).or_default() += c;
                }
            }
            per.push(m);
        }
        let values: BTreeSet<String> = per.iter().flat_map(|m| m.keys().cloned()).collect();
        let mut changes: Vec<(String, Decimal, Decimal)> = Vec::new();
        for v in values {
            let actual = per[0].get(&v).copied().unwrap_or_default();
            let mut base: Vec<Decimal> = per[1..]
                .iter()
                .map(|m| m.get(&v).copied().unwrap_or_default())
                .collect();
            let baseline = median(&mut base);
            changes.push((v, actual - baseline, baseline));
        }
        let total_change: Decimal = changes.iter().map(|c| c.1).sum();
        let total_base: Decimal = changes.iter().map(|c| c.2).sum();
        if total_change <= Decimal::ZERO {
            continue;
        }
        let name = dim;
        for (value, change, baseline) in changes {
            let share = to_f64(change / total_change);
            let base_share = if total_base.is_zero() {
                0.0
            } else {
                to_f64(baseline / total_base)
            };
            let rank = share * (1.0 - base_share.clamp(0.0, 1.0));
            if share >= 0.2 && rank >= 0.1 {
                ranked.push((
                    rank,
                    Cause {
                        dimension: name.clone(),
                        value,
                        share: (share * 100.0).round() / 100.0,
                    },
                ));
            }
        }
    }
    ranked.sort_by(|x, y| y.0.total_cmp(&x.0));
    Ok(ranked.into_iter().take(3).map(|(_, c)| c).collect())
}

impl Anomalies {
    /// `{"anomalies":[{"start","end","expected","actual","impact","score","dimensions":{...},
    /// "cause":[{"dimension","value","share"}]}]}`, money as decimal strings.
    pub fn to_json(&self) -> String {
        use serde_json::{json, Value};
        let list: Vec<Value> = self.anomalies.iter().map(Anomaly::to_value).collect();
        let mut s = serde_json::to_string_pretty(&json!({ "data": self.data, "anomalies": list }))
            .unwrap_or_default();
        s.push('\n');
        s
    }

    fn cause_text(a: &Anomaly) -> String {
        a.cause
            .iter()
            .map(|c| format!("{}={} ({:.0}%)", c.dimension, c.value, c.share * 100.0))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// `total`, `shop`, or `shop/test` for a stage series (`dimensions` holds the stage of a
    /// stage series, or the top cause's stage: both name where the cost went).
    fn scope(a: &Anomaly) -> String {
        match (a.dimensions.get("api"), a.dimensions.get("stage")) {
            (Some(api), Some(stage)) if a.granularity == Granularity::Day => {
                format!("{api}/{stage}")
            }
            (Some(api), _) => api.clone(),
            (None, _) => "total".to_owned(),
        }
    }

    /// `start,end,series,expected,actual,impact,score,cause,granularity` (the cause as
    /// `dimension=value (share%)` joined by `; `).
    pub fn to_csv(&self) -> String {
        let mut out =
            String::from("start,end,series,expected,actual,impact,score,cause,granularity\n");
        for a in &self.anomalies {
            let cause = Self::cause_text(a);
            out.push_str(&format!(
                "{},{},{},{},{},{},{:.1},{},{}\n",
                rfc3339(a.start),
                rfc3339(a.end),
                crate::csv_field(&Self::scope(a)),
                display_money(a.expected),
                display_money(a.actual),
                display_money(a.impact()),
                a.score,
                crate::csv_field(&cause),
                a.granularity.as_str()
            ));
        }
        out
    }

    /// Aligned columns for people.
    pub fn to_table(&self) -> String {
        if self.anomalies.is_empty() {
            return "No cost anomalies.\n".to_owned();
        }
        let mut lines = vec![[
            "start", "end", "per", "series", "expected", "actual", "impact", "score", "cause",
        ]
        .map(String::from)
        .to_vec()];
        for a in &self.anomalies {
            lines.push(vec![
                rfc3339(a.start),
                rfc3339(a.end),
                a.granularity.as_str().to_owned(),
                Self::scope(a),
                display_money(a.expected),
                display_money(a.actual),
                display_money(a.impact()),
                format!("{:.1}", a.score),
                Self::cause_text(a),
            ]);
        }
        let widths: Vec<usize> = (0..9)
            .map(|i| {
                lines
                    .iter()
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for l in &lines {
            let cols: Vec<String> = l
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if (4..8).contains(&i) {
                        format!("{c:>w$}", w = widths[i])
                    } else {
                        format!("{c:<w$}", w = widths[i])
                    }
                })
                .collect();
            out.push_str(cols.join("  ").trim_end());
            out.push('\n');
        }
        out
    }
}
