//! `GET /admin/timeseries`: the cost of each hour or day of a period, split by one dimension,
//! for the dashboard's "cost over time" chart.
//!
//! Over metered usage (`data=metered`), each bucket is priced exactly as `/admin/cost` prices
//! a period (`report::cost`): the bucket's usage from the ledger, at the blended rate of its
//! calendar month's whole usage. So the buckets of a period add up to `/admin/cost`'s total
//! for the same period (to the last of the 10 decimals attribution keeps), and the dashboard
//! never shows a number the cost report would contradict.
//!
//! Over an imported AWS bill (`data=bill`), each bucket's cost is the sum of the unblended cost
//! of the bill lines whose usage starts in it, as `tollgate cost bill` sums them (credits,
//! refunds and tax included): the buckets of a period add up to `cost bill`'s total for it,
//! exactly.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use tollgate_meter::Ledger;
use tollgate_pricing::report::{build_report, Period, ReportInput};
use tollgate_pricing::{Catalog, FreeTier};
use tollgate_store::{BillDimension, BillLedger, BillQuery};
use tollgate_types::usage::{Dimension, UsageQuery, UsageRow};

use crate::report::{ReportError, ReportParams};

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// More buckets than this is a mistake (a year of hours), not a chart.
pub const MAX_BUCKETS: i64 = 2_000;
/// Series kept by default; the rest are summed into one `(other)` series.
pub const DEFAULT_LIMIT: usize = 12;
/// The name of the series that sums those beyond the limit.
pub const OTHER: &str = "(other)";
/// The dimensions a bill's series can be split by, for messages.
const BILL_BY: &str =
    "api, stage, account, region, usage_type, line_item_type, meter, tag:NAME, cost_category:NAME";

/// The width of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Hour,
    Day,
}

impl Interval {
    fn seconds(self) -> i64 {
        match self {
            Interval::Hour => HOUR,
            Interval::Day => DAY,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Day => "day",
        }
    }
}

/// What the series are split by: a dimension of metered usage, or of an imported bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeriesBy {
    /// Metered usage priced by the catalog (`data=metered`).
    Metered(Dimension),
    /// Imported AWS bill lines at their unblended cost (`data=bill`).
    Bill(BillDimension),
}

impl SeriesBy {
    /// The dimension's name (`api`, `tag:team`, `usage_type`).
    pub fn name(&self) -> String {
        match self {
            SeriesBy::Metered(d) => d.name(),
            SeriesBy::Bill(d) => d.name(),
        }
    }

    /// `metered` or `bill`: the data the figures are, as in the JSON's `data`.
    pub fn data(&self) -> &'static str {
        match self {
            SeriesBy::Metered(_) => "metered",
            SeriesBy::Bill(_) => "bill",
        }
    }
}

/// A parsed `/admin/timeseries` query.
#[derive(Debug, Clone)]
pub struct TimeseriesParams {
    pub period: Period,
    /// The dimension the series are split by. Metered `route` series are also split by API (a
    /// route key such as `$default` means nothing without its API).
    pub by: SeriesBy,
    pub interval: Interval,
    /// Only usage of this API, stage, or tag value (`tag=team:payments`).
    pub api: Option<String>,
    pub stage: Option<String>,
    pub tag: Option<(String, String)>,
    /// Series kept; the rest are summed into `(other)`.
    pub limit: usize,
}

/// A `/admin/timeseries` query read but for `by`, whose values depend on the data read
/// (`data=`): its period tells `data=auto` which data to read.
#[derive(Debug, Clone)]
pub struct TimeseriesQuery {
    pub period: Period,
    by: Option<String>,
    interval: Interval,
    api: Option<String>,
    stage: Option<String>,
    tag: Option<(String, String)>,
    limit: usize,
}

impl TimeseriesQuery {
    /// `from`, `to` as for `/admin/cost` (default: the month to date); `by` (checked by
    /// [`TimeseriesQuery::metered`] or [`TimeseriesQuery::bill`]); `interval` hour or day
    /// (default: hour for periods up to 3 days, else day); `api`, `stage`, `tag=NAME:VALUE`
    /// filters; `limit` 1 to 100 (default 12).
    pub fn parse(query: &str) -> Result<Self, ReportError> {
        let bad = |m: String| ReportError::BadParameter(m);
        let mut p: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            const KNOWN: [&str; 8] = [
                "from", "to", "by", "interval", "api", "stage", "tag", "limit",
            ];
            if !KNOWN.contains(&k.as_ref()) {
                return Err(bad(format!(
                    "unknown parameter `{k}`: expected {}, data",
                    KNOWN.join(", ")
                )));
            }
            if p.insert(k.clone().into_owned(), v.into_owned()).is_some() {
                return Err(bad(format!("`{k}` is given twice")));
            }
        }
        let non_empty = |k: &str| p.get(k).filter(|v| !v.is_empty()).cloned();
        let period = ReportParams::parse(
            non_empty("from").as_deref(),
            non_empty("to").as_deref(),
            None,
        )?
        .period;
        let interval = match non_empty("interval").as_deref() {
            None if period.end() - period.start() <= 3 * DAY => Interval::Hour,
            None | Some("day") => Interval::Day,
            Some("hour") => Interval::Hour,
            Some(other) => return Err(bad(format!("interval: `{other}` is not one of hour, day"))),
        };
        let tag = match non_empty("tag") {
            None => None,
            Some(t) => match t.split_once(':') {
                Some((name, value)) if !name.is_empty() => {
                    Some((name.to_owned(), value.to_owned()))
                }
                _ => return Err(bad(format!("tag: `{t}` is not NAME:VALUE"))),
            },
        };
        let limit = match non_empty("limit") {
            None => DEFAULT_LIMIT,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => return Err(bad(format!("limit: `{s}` is not a number from 1 to 100"))),
            },
        };
        let first = period.start() - period.start().rem_euclid(interval.seconds());
        let buckets = (period.end() - first + interval.seconds() - 1) / interval.seconds();
        if buckets > MAX_BUCKETS {
            return Err(bad(format!(
                "the period holds {buckets} {}s, more than {MAX_BUCKETS}: use a shorter period \
                 or interval=day",
                interval.name()
            )));
        }
        Ok(Self {
            period,
            by: non_empty("by"),
            interval,
            api: non_empty("api"),
            stage: non_empty("stage"),
            tag,
            limit,
        })
    }

    fn with(self, by: SeriesBy) -> TimeseriesParams {
        TimeseriesParams {
            period: self.period,
            by,
            interval: self.interval,
            api: self.api,
            stage: self.stage,
            tag: self.tag,
            limit: self.limit,
        }
    }

    /// Over metered usage: `by` one of api, stage, route, key, client, status, reason, region,
    /// tag:NAME (default api).
    pub fn metered(self) -> Result<TimeseriesParams, ReportError> {
        let by = match self.by.as_deref() {
            None => Dimension::Api,
            Some(s) => s.parse::<Dimension>().map_err(|_| {
                ReportError::BadParameter(format!(
                    "by: `{s}` is not one of api, stage, route, key, client, status, reason, \
                     region, tag:NAME"
                ))
            })?,
        };
        Ok(self.with(SeriesBy::Metered(by)))
    }

    /// Over an imported bill: `by` one of api, stage, account, region, usage_type,
    /// line_item_type, meter, tag:NAME (default api).
    pub fn bill(self) -> Result<TimeseriesParams, ReportError> {
        let by = match self.by.as_deref() {
            None => BillDimension::Api,
            Some(s) => match s.parse::<BillDimension>() {
                Ok(BillDimension::Month) | Err(_) => {
                    return Err(ReportError::BadParameter(format!(
                        "by: `{s}` is not one of {BILL_BY} (over an imported bill, data=bill)"
                    )))
                }
                Ok(d) => d,
            },
        };
        Ok(self.with(SeriesBy::Bill(by)))
    }
}

/// One series: its dimension values and its cost in each bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// `[(dimension name, value)]`: the `by` dimension (with `api` first for routes).
    pub group: Vec<(String, String)>,
    pub costs: Vec<Decimal>,
    pub total: Decimal,
}

impl Series {
    /// A label for people: the values joined (`shop GET /products`).
    pub fn name(&self) -> String {
        let values: Vec<&str> = self.group.iter().map(|(_, v)| v.as_str()).collect();
        values.join(" ")
    }
}

/// The answer: bucket starts and one series per group, largest total first.
#[derive(Debug, Clone)]
pub struct Timeseries {
    pub params: TimeseriesParams,
    /// The costs' currency: USD for metered usage; the bill's for imported lines.
    pub currency: String,
    pub buckets: Vec<i64>,
    pub series: Vec<Series>,
}

/// The start of every bucket of the period (the first may start before it).
fn bucket_starts(params: &TimeseriesParams) -> Vec<i64> {
    let step = params.interval.seconds();
    let (start, end) = (params.period.start(), params.period.end());
    let mut buckets = Vec::new();
    let mut b = start - start.rem_euclid(step);
    while b < end {
        buckets.push(b);
        b += step;
    }
    buckets
}

/// The part of bucket `b` inside the period.
fn bucket_period(params: &TimeseriesParams, b: i64) -> Result<Period, ReportError> {
    let (start, end) = (params.period.start(), params.period.end());
    Ok(Period::new(
        b.max(start),
        (b + params.interval.seconds()).min(end),
    )?)
}

/// The grouping that also filters: the series' dimensions, then each filter's (once), with
/// the filters as (position in the grouping, value wanted).
fn grouping<D: Clone + PartialEq>(
    series_dims: &[D],
    filters: Vec<(D, String)>,
) -> (Vec<D>, Vec<(usize, String)>) {
    let mut group_by = series_dims.to_vec();
    let mut at_values = Vec::new();
    for (d, value) in filters {
        let at = match group_by.iter().position(|g| *g == d) {
            Some(i) => i,
            None => {
                group_by.push(d);
                group_by.len() - 1
            }
        };
        at_values.push((at, value));
    }
    (group_by, at_values)
}

fn passes(group: &[String], filters: &[(usize, String)]) -> bool {
    filters
        .iter()
        .all(|(at, v)| group.get(*at).is_some_and(|g| g == v))
}

/// Costs per series key and bucket into series, largest total first; those beyond the limit
/// summed into `(other)`.
fn assemble(
    names: &[String],
    costs: BTreeMap<Vec<String>, Vec<Decimal>>,
    buckets: usize,
    limit: usize,
) -> Vec<Series> {
    let mut series: Vec<Series> = costs
        .into_iter()
        .map(|(values, costs)| Series {
            group: names.iter().cloned().zip(values).collect(),
            total: costs.iter().sum(),
            costs,
        })
        .collect();
    // Largest first; ties by name, so the order is stable.
    series.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.group.cmp(&b.group)));
    if series.len() > limit {
        let rest = series.split_off(limit.saturating_sub(1));
        let mut other = Series {
            group: names
                .iter()
                .map(|n| (n.clone(), OTHER.to_owned()))
                .collect(),
            costs: vec![Decimal::ZERO; buckets],
            total: Decimal::ZERO,
        };
        for s in rest {
            for (o, c) in other.costs.iter_mut().zip(&s.costs) {
                *o += *c;
            }
            other.total += s.total;
        }
        series.push(other);
    }
    series
}

/// Price every bucket of the period from metered usage.
pub fn timeseries(
    ledger: &mut dyn Ledger,
    catalog: &Catalog,
    free_tier: FreeTier,
    params: &TimeseriesParams,
) -> Result<Timeseries, ReportError> {
    let SeriesBy::Metered(by) = &params.by else {
        return Err(ReportError::BadParameter(format!(
            "by: `{}` is a bill's dimension, not metered usage's",
            params.by.name()
        )));
    };
    // What the rows are grouped by: the series' dimensions, then each filter's (once).
    let mut series_dims = Vec::new();
    if *by == Dimension::Route {
        series_dims.push(Dimension::Api);
    }
    series_dims.push(by.clone());
    let mut filters = Vec::new();
    if let Some(api) = &params.api {
        filters.push((Dimension::Api, api.clone()));
    }
    if let Some(stage) = &params.stage {
        filters.push((Dimension::Stage, stage.clone()));
    }
    if let Some((name, value)) = &params.tag {
        filters.push((Dimension::Tag(name.clone()), value.clone()));
    }
    let (group_by, filters) = grouping(&series_dims, filters);

    let buckets = bucket_starts(params);
    let mut month_totals: BTreeMap<String, Vec<UsageRow>> = BTreeMap::new();
    let mut costs: BTreeMap<Vec<String>, Vec<Decimal>> = BTreeMap::new();
    for (i, &bucket) in buckets.iter().enumerate() {
        // A bucket never spans two months (hours and days divide them), but the period's
        // ends may cut it.
        let period = bucket_period(params, bucket)?;
        let month = period.months().remove(0);
        if !month_totals.contains_key(&month) {
            // As `report::cost` does: the month's usage so far, after the rows.
            let (from, to) = Period::month(&month)?.month_totals_range();
            let totals = ledger.query(&UsageQuery {
                from,
                to,
                group_by: Vec::new(),
            })?;
            month_totals.insert(month.clone(), totals);
        }
        let rows = ledger.query(&UsageQuery {
            from: period.start(),
            to: period.end(),
            group_by: group_by.clone(),
        })?;
        let rows: Vec<UsageRow> = rows
            .into_iter()
            .filter(|r| passes(&r.group, &filters))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let report = build_report(&ReportInput {
            catalog,
            free_tier,
            period,
            group_by: &group_by,
            rows: &rows,
            month_totals: month_totals.get(&month).map_or(&[][..], Vec::as_slice),
        })?;
        for r in report.rows() {
            let key: Vec<String> = r.group[..series_dims.len()].to_vec();
            let slot = costs
                .entry(key)
                .or_insert_with(|| vec![Decimal::ZERO; buckets.len()]);
            slot[i] += r.cost;
        }
    }

    let names: Vec<String> = series_dims.iter().map(Dimension::name).collect();
    let series = assemble(&names, costs, buckets.len(), params.limit);
    Ok(Timeseries {
        params: params.clone(),
        currency: tollgate_pricing::CURRENCY.to_owned(),
        buckets,
        series,
    })
}

/// Sum every bucket of the period from imported bill lines: each line's unblended cost in the
/// bucket its usage starts in, as `tollgate cost bill` counts it. One currency only (a
/// store with two is refused, as the bill's forecast refuses it).
pub fn bill_timeseries(
    ledger: &mut dyn BillLedger,
    params: &TimeseriesParams,
) -> Result<Timeseries, ReportError> {
    let SeriesBy::Bill(by) = &params.by else {
        return Err(ReportError::BadParameter(format!(
            "by: `{}` is a dimension of metered usage, not of a bill",
            params.by.name()
        )));
    };
    let series_dims = vec![by.clone()];
    let mut filters = Vec::new();
    if let Some(api) = &params.api {
        filters.push((BillDimension::Api, api.clone()));
    }
    if let Some(stage) = &params.stage {
        filters.push((BillDimension::Stage, stage.clone()));
    }
    if let Some((name, value)) = &params.tag {
        filters.push((BillDimension::Tag(name.clone()), value.clone()));
    }
    let (group_by, filters) = grouping(&series_dims, filters);

    let buckets = bucket_starts(params);
    let mut currency: Option<String> = None;
    let mut costs: BTreeMap<Vec<String>, Vec<Decimal>> = BTreeMap::new();
    for (i, &bucket) in buckets.iter().enumerate() {
        let period = bucket_period(params, bucket)?;
        let rows = ledger.query_bill(&BillQuery {
            from: period.start(),
            to: period.end(),
            group_by: group_by.clone(),
        })?;
        for r in rows.iter().filter(|r| passes(&r.group, &filters)) {
            match &currency {
                Some(c) if *c != r.currency => {
                    return Err(ReportError::BadParameter(format!(
                        "the imported bill has costs in {c} and {}: a chart holds one currency",
                        r.currency
                    )))
                }
                Some(_) => {}
                None => currency = Some(r.currency.clone()),
            }
            let key: Vec<String> = r.group[..series_dims.len()].to_vec();
            let slot = costs
                .entry(key)
                .or_insert_with(|| vec![Decimal::ZERO; buckets.len()]);
            slot[i] += r.unblended_cost;
        }
    }

    let names: Vec<String> = series_dims.iter().map(BillDimension::name).collect();
    let series = assemble(&names, costs, buckets.len(), params.limit);
    Ok(Timeseries {
        params: params.clone(),
        currency: currency.unwrap_or_else(|| tollgate_pricing::CURRENCY.to_owned()),
        buckets,
        series,
    })
}

fn exact(d: Decimal) -> String {
    tollgate_pricing::display_exact(d)
}

impl Timeseries {
    /// `{"data","currency","period":{"from","to"},"interval","by","filters":{…},
    /// "buckets":[RFC 3339],"series":[{"name","<dimension>":value…,"costs":[…],"total"}],
    /// "totals":[…],"total"}`; `data` is `metered` or `bill`; money as exact decimal strings,
    /// as `/admin/cost` and `tollgate cost bill` write them.
    pub fn to_json(&self) -> String {
        use serde_json::{json, Map, Value};
        let p = &self.params;
        let mut filters = Map::new();
        if let Some(api) = &p.api {
            filters.insert("api".into(), api.clone().into());
        }
        if let Some(stage) = &p.stage {
            filters.insert("stage".into(), stage.clone().into());
        }
        if let Some((name, value)) = &p.tag {
            filters.insert(format!("tag:{name}"), value.clone().into());
        }
        let mut totals = vec![Decimal::ZERO; self.buckets.len()];
        let series: Vec<Value> = self
            .series
            .iter()
            .map(|s| {
                for (t, c) in totals.iter_mut().zip(&s.costs) {
                    *t += *c;
                }
                let mut m = Map::new();
                m.insert("name".into(), s.name().into());
                for (k, v) in &s.group {
                    m.insert(k.clone(), v.clone().into());
                }
                m.insert(
                    "costs".into(),
                    s.costs.iter().map(|c| exact(*c)).collect::<Vec<_>>().into(),
                );
                m.insert("total".into(), exact(s.total).into());
                Value::Object(m)
            })
            .collect();
        let total: Decimal = totals.iter().sum();
        let buckets: Vec<String> = self
            .buckets
            .iter()
            .map(|&b| {
                Period::new(b, b + 1)
                    .map(|p| p.start_rfc3339())
                    .unwrap_or_default()
            })
            .collect();
        json!({
            "data": p.by.data(),
            "currency": self.currency,
            "period": {"from": p.period.start_rfc3339(), "to": p.period.end_rfc3339()},
            "interval": p.interval.name(),
            "by": p.by.name(),
            "filters": filters,
            "buckets": buckets,
            "series": series,
            "totals": totals.iter().map(|c| exact(*c)).collect::<Vec<_>>(),
            "total": exact(total),
        })
        .to_string()
    }
}

/// `GET /admin/dimensions?from=&to=`: the values the dashboard's filters offer for a period
/// (default: the month to date):
/// `{"period":{"from","to"},"apis":[…],"stages":{"<api>":[…]},"tags":{"<name>":[…]}}`, sorted.
pub fn dimensions_json(ledger: &mut dyn Ledger, query: &str) -> Result<String, ReportError> {
    let params = ReportParams::from_query(query)?;
    if !params.by.is_empty() {
        return Err(ReportError::BadParameter(
            "unknown parameter `by`: expected from, to".into(),
        ));
    }
    let (from, to) = (params.period.start(), params.period.end());
    let tag_names = ledger.tag_names(from, to)?;
    let mut group_by = vec![Dimension::Api, Dimension::Stage];
    group_by.extend(tag_names.iter().cloned().map(Dimension::Tag));
    let rows = ledger.query(&UsageQuery { from, to, group_by })?;
    let mut stages: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut tags: BTreeMap<String, std::collections::BTreeSet<String>> = tag_names
        .iter()
        .map(|n| (n.clone(), Default::default()))
        .collect();
    for r in &rows {
        let (Some(api), Some(stage)) = (r.group.first(), r.group.get(1)) else {
            continue;
        };
        stages.entry(api.clone()).or_default().insert(stage.clone());
        for (name, value) in tag_names.iter().zip(r.group.iter().skip(2)) {
            if !value.is_empty() {
                tags.entry(name.clone()).or_default().insert(value.clone());
            }
        }
    }
    Ok(serde_json::json!({
        "period": {"from": params.period.start_rfc3339(), "to": params.period.end_rfc3339()},
        "apis": stages.keys().collect::<Vec<_>>(),
        "stages": stages,
        "tags": tags,
    })
    .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_parameters() {
        let p =
            metered_params("from=2025-01-01&to=2025-01-08&by=route&api=shop&tag=team:web&limit=5")
                .expect("valid");
        assert_eq!(p.by, SeriesBy::Metered(Dimension::Route));
        assert_eq!(p.interval, Interval::Day);
        assert_eq!(p.api.as_deref(), Some("shop"));
        assert_eq!(p.tag, Some(("team".into(), "web".into())));
        assert_eq!(p.limit, 5);
        let short = metered_params("from=2025-01-01&to=2025-01-02").expect("valid");
        assert_eq!(short.interval, Interval::Hour);
        assert_eq!(short.by, SeriesBy::Metered(Dimension::Api));
        // Empty values are as good as absent (an HTML form sends them).
        assert!(metered_params("from=2025-01-01&to=2025-01-02&api=&stage=").is_ok());
        for bad in [
            "colour=red",
            "by=colour",
            "interval=week",
            "tag=team",
            "limit=0",
            "from=2020-01-01&to=2025-01-01&interval=hour",
            "by=api&by=route",
        ] {
            let e = metered_params(bad).expect_err(bad);
            assert!(matches!(e, ReportError::BadParameter(_)), "{bad}: {e}");
        }
    }

    fn metered_params(query: &str) -> Result<TimeseriesParams, ReportError> {
        TimeseriesQuery::parse(query)?.metered()
    }

    fn bill_params(query: &str) -> Result<TimeseriesParams, ReportError> {
        TimeseriesQuery::parse(query)?.bill()
    }

    #[test]
    fn a_bills_series_take_the_bills_dimensions() {
        let p = bill_params("from=2026-09&to=2026-10&by=usage_type").expect("valid");
        assert_eq!(p.by, SeriesBy::Bill(BillDimension::UsageType));
        assert_eq!(p.by.data(), "bill");
        let default = bill_params("from=2026-09&to=2026-10").expect("valid");
        assert_eq!(default.by, SeriesBy::Bill(BillDimension::Api));
        let tag = bill_params("by=tag:team&tag=env:prod").expect("valid");
        assert_eq!(tag.by, SeriesBy::Bill(BillDimension::Tag("team".into())));
        // Metered-only dimensions, and `month` (the buckets are the time axis).
        for bad in ["by=route", "by=key", "by=client", "by=status", "by=month"] {
            let e = bill_params(bad).expect_err(bad);
            assert!(e.to_string().contains("account"), "{bad}: {e}");
        }
        // And the bill's own are not metered dimensions.
        for bad in ["by=account", "by=usage_type", "by=line_item_type"] {
            metered_params(bad).expect_err(bad);
        }
    }
}

/// Output format of `cost timeseries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TimeseriesFormat {
    Table,
    Json,
    Csv,
}

/// Cost per hour or day, split by one dimension: the dashboard's "cost over time" chart.
#[derive(clap::Args, Debug)]
pub struct TimeseriesArgs {
    /// The ledger to read (default sqlite://tollgate.db in the working directory).
    #[arg(long, value_name = "URL", default_value = crate::serve::DEFAULT_STORE)]
    pub store: String,
    /// Start of the period, UTC: YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (default: the
    /// month to date).
    #[arg(long)]
    pub from: Option<String>,
    /// End of the period (exclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// The dimension the series are split by: api, stage, route, key, client, status,
    /// reason, region or tag:NAME.
    #[arg(long, default_value = "api")]
    pub by: String,
    /// `hour` or `day` (default: hour for periods up to 3 days, else day).
    #[arg(long)]
    pub interval: Option<String>,
    /// Only this API's usage.
    #[arg(long)]
    pub api: Option<String>,
    /// Only this stage's usage.
    #[arg(long)]
    pub stage: Option<String>,
    /// Only usage whose API has this tag value: NAME:VALUE.
    #[arg(long)]
    pub tag: Option<String>,
    /// Series kept (1 to 100); the rest are summed into `(other)`.
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: TimeseriesFormat,
    /// The data charted: metered usage priced by the catalog, or imported AWS bill lines at
    /// their unblended cost, `--by` then one of api, stage, account, region, usage_type,
    /// line_item_type, meter, tag:NAME (auto: metered usage when the period holds any, else
    /// the bill).
    #[arg(long, value_enum, default_value = "auto")]
    pub data: crate::data::DataChoice,
    #[command(flatten)]
    pub prices: crate::cost::PriceArgs,
}

/// `tollgate cost timeseries`: the same parameters and numbers as `/admin/timeseries`
/// (`--data` as its `data=`).
pub fn run(args: &TimeseriesArgs) -> anyhow::Result<()> {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("by", &args.by);
    q.append_pair("limit", &args.limit.to_string());
    for (k, v) in [
        ("from", &args.from),
        ("to", &args.to),
        ("interval", &args.interval),
        ("api", &args.api),
        ("stage", &args.stage),
        ("tag", &args.tag),
    ] {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    let query = TimeseriesQuery::parse(&q.finish())?;
    let url = tollgate_store::parse_store_url(&args.store)?;
    let ts = match crate::data::open(&url, args.data, query.period.start(), query.period.end())? {
        crate::data::Data::Metered(mut ledger) => {
            let catalog = args.prices.catalog()?;
            let params = query.metered()?;
            timeseries(ledger.as_mut(), &catalog, args.prices.free_tier(), &params)?
        }
        crate::data::Data::Bill(mut bill) => bill_timeseries(bill.as_mut(), &query.bill()?)?,
    };
    let out = match args.format {
        TimeseriesFormat::Json => ts.to_json(),
        TimeseriesFormat::Csv => ts.to_csv(),
        TimeseriesFormat::Table => ts.to_table(),
    };
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(())
}

impl Timeseries {
    fn bucket_labels(&self) -> Vec<String> {
        self.buckets
            .iter()
            .map(|&b| {
                Period::new(b, b + 1)
                    .map(|p| p.start_rfc3339())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// CSV, one line per (bucket, series): `bucket,series,<dimensions…>,cost` with exact
    /// decimals; a series' dimensions are in its own columns.
    pub fn to_csv(&self) -> String {
        let dims: Vec<String> = self
            .series
            .first()
            .map(|s| s.group.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default();
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["bucket".to_owned(), "series".to_owned()];
        header.extend(dims.iter().cloned());
        header.push("cost".into());
        let _ = w.write_record(&header);
        for (i, label) in self.bucket_labels().iter().enumerate() {
            for s in &self.series {
                let mut rec = vec![label.clone(), s.name()];
                for d in &dims {
                    rec.push(
                        s.group
                            .iter()
                            .find(|(k, _)| k == d)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default(),
                    );
                }
                rec.push(exact(s.costs.get(i).copied().unwrap_or_default()));
                let _ = w.write_record(&rec);
            }
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// A table for people: one row per bucket, one column per series (USD, cents), a total
    /// column and a total line.
    pub fn to_table(&self) -> String {
        let cents = |d: Decimal| tollgate_pricing::display_cost(d, 2);
        let mut header = vec![self.params.interval.name().to_owned()];
        header.extend(self.series.iter().map(Series::name));
        header.push("total".into());
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut col_totals = vec![Decimal::ZERO; self.series.len()];
        for (i, label) in self.bucket_labels().iter().enumerate() {
            let mut row = vec![label.clone()];
            let mut sum = Decimal::ZERO;
            for (j, s) in self.series.iter().enumerate() {
                let c = s.costs.get(i).copied().unwrap_or_default();
                sum += c;
                col_totals[j] += c;
                row.push(cents(c));
            }
            row.push(cents(sum));
            rows.push(row);
        }
        let mut footer = vec!["total".to_owned()];
        footer.extend(col_totals.iter().map(|c| cents(*c)));
        footer.push(cents(col_totals.iter().sum()));
        let right: Vec<bool> = (0..header.len()).map(|i| i > 0).collect();
        let table = tollgate_pricing::render_table(&header, &right, &rows, &footer);
        match self.params.by {
            // Say what the figures are, as `cost bill` does.
            SeriesBy::Bill(_) => format!(
                "imported AWS bill lines, at their unblended cost ({})\n{table}",
                self.currency
            ),
            SeriesBy::Metered(_) => table,
        }
    }
}
