//! `GET /admin/timeseries`: the cost of each hour or day of a period, split by one dimension,
//! for the dashboard's "cost over time" chart.
//!
//! Each bucket is priced exactly as `/admin/cost` prices a period (`report::cost`): the
//! bucket's usage from the ledger, at the blended rate of its calendar month's whole usage.
//! So the buckets of a period add up to `/admin/cost`'s total for the same period (to the
//! last of the 10 decimals attribution keeps), and the dashboard never shows a number the
//! cost report would contradict.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use tollgate_meter::Ledger;
use tollgate_pricing::report::{build_report, Period, ReportInput};
use tollgate_pricing::{Catalog, FreeTier};
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

/// A parsed `/admin/timeseries` query.
#[derive(Debug, Clone)]
pub struct TimeseriesParams {
    pub period: Period,
    /// The dimension the series are split by. `route` series are also split by API (a route
    /// key such as `$default` means nothing without its API).
    pub by: Dimension,
    pub interval: Interval,
    /// Only usage of this API, stage, or tag value (`tag=team:payments`).
    pub api: Option<String>,
    pub stage: Option<String>,
    pub tag: Option<(String, String)>,
    /// Series kept; the rest are summed into `(other)`.
    pub limit: usize,
}

impl TimeseriesParams {
    /// `from`, `to` as for `/admin/cost` (default: the month to date); `by` one of api,
    /// stage, route, key, client, status, reason, region, tag:NAME (default api); `interval`
    /// hour or day (default: hour for periods up to 3 days, else day); `api`, `stage`,
    /// `tag=NAME:VALUE` filters; `limit` 1 to 100 (default 12).
    pub fn from_query(query: &str) -> Result<Self, ReportError> {
        let bad = |m: String| ReportError::BadParameter(m);
        let mut p: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            const KNOWN: [&str; 8] = [
                "from", "to", "by", "interval", "api", "stage", "tag", "limit",
            ];
            if !KNOWN.contains(&k.as_ref()) {
                return Err(bad(format!(
                    "unknown parameter `{k}`: expected {}",
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
        let by = match non_empty("by") {
            None => Dimension::Api,
            Some(s) => s.parse::<Dimension>().map_err(|_| {
                bad(format!(
                    "by: `{s}` is not one of api, stage, route, key, client, status, reason, \
                     region, tag:NAME"
                ))
            })?,
        };
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
            by,
            interval,
            api: non_empty("api"),
            stage: non_empty("stage"),
            tag,
            limit,
        })
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
    pub buckets: Vec<i64>,
    pub series: Vec<Series>,
}

/// Price every bucket of the period.
pub fn timeseries(
    ledger: &mut dyn Ledger,
    catalog: &Catalog,
    free_tier: FreeTier,
    params: &TimeseriesParams,
) -> Result<Timeseries, ReportError> {
    // What the rows are grouped by: the series' dimensions, then each filter's (once).
    let mut series_dims = Vec::new();
    if params.by == Dimension::Route {
        series_dims.push(Dimension::Api);
    }
    series_dims.push(params.by.clone());
    let mut group_by = series_dims.clone();
    let mut filters: Vec<(usize, String)> = Vec::new();
    let mut filter = |d: Dimension, value: &String, group_by: &mut Vec<Dimension>| {
        let at = match group_by.iter().position(|g| *g == d) {
            Some(i) => i,
            None => {
                group_by.push(d);
                group_by.len() - 1
            }
        };
        filters.push((at, value.clone()));
    };
    if let Some(api) = &params.api {
        filter(Dimension::Api, api, &mut group_by);
    }
    if let Some(stage) = &params.stage {
        filter(Dimension::Stage, stage, &mut group_by);
    }
    if let Some((name, value)) = &params.tag {
        filter(Dimension::Tag(name.clone()), value, &mut group_by);
    }

    let step = params.interval.seconds();
    let (start, end) = (params.period.start(), params.period.end());
    let mut buckets = Vec::new();
    let mut b = start - start.rem_euclid(step);
    while b < end {
        buckets.push(b);
        b += step;
    }

    let mut month_totals: BTreeMap<String, Vec<UsageRow>> = BTreeMap::new();
    let mut costs: BTreeMap<Vec<String>, Vec<Decimal>> = BTreeMap::new();
    for (i, &bucket) in buckets.iter().enumerate() {
        // A bucket never spans two months (hours and days divide them), but the period's
        // ends may cut it.
        let period = Period::new(bucket.max(start), (bucket + step).min(end))?;
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
            .filter(|r| {
                filters
                    .iter()
                    .all(|(at, v)| r.group.get(*at).is_some_and(|g| g == v))
            })
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
    if series.len() > params.limit {
        let rest = series.split_off(params.limit.saturating_sub(1));
        let mut other = Series {
            group: names
                .iter()
                .map(|n| (n.clone(), OTHER.to_owned()))
                .collect(),
            costs: vec![Decimal::ZERO; buckets.len()],
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
    Ok(Timeseries {
        params: params.clone(),
        buckets,
        series,
    })
}

fn exact(d: Decimal) -> String {
    tollgate_pricing::display_exact(d)
}

impl Timeseries {
    /// `{"currency","period":{"from","to"},"interval","by","filters":{…},"buckets":[RFC 3339],
    /// "series":[{"name","<dimension>":value…,"costs":[…],"total"}],"totals":[…],"total"}`;
    /// money as exact decimal strings, as `/admin/cost` writes them.
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
            "currency": tollgate_pricing::CURRENCY,
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
        let p = TimeseriesParams::from_query(
            "from=2025-01-01&to=2025-01-08&by=route&api=shop&tag=team:web&limit=5",
        )
        .expect("valid");
        assert_eq!(p.by, Dimension::Route);
        assert_eq!(p.interval, Interval::Day);
        assert_eq!(p.api.as_deref(), Some("shop"));
        assert_eq!(p.tag, Some(("team".into(), "web".into())));
        assert_eq!(p.limit, 5);
        let short = TimeseriesParams::from_query("from=2025-01-01&to=2025-01-02").expect("valid");
        assert_eq!(short.interval, Interval::Hour);
        assert_eq!(short.by, Dimension::Api);
        // Empty values are as good as absent (an HTML form sends them).
        assert!(TimeseriesParams::from_query("from=2025-01-01&to=2025-01-02&api=&stage=").is_ok());
        for bad in [
            "colour=red",
            "by=colour",
            "interval=week",
            "tag=team",
            "limit=0",
            "from=2020-01-01&to=2025-01-01&interval=hour",
            "by=api&by=route",
        ] {
            let e = TimeseriesParams::from_query(bad).expect_err(bad);
            assert!(matches!(e, ReportError::BadParameter(_)), "{bad}: {e}");
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
    #[command(flatten)]
    pub prices: crate::cost::PriceArgs,
}

/// `tollgate cost timeseries`: the same parameters and numbers as `/admin/timeseries`.
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
    let params = TimeseriesParams::from_query(&q.finish())?;
    let catalog = args.prices.catalog()?;
    let url = tollgate_store::parse_store_url(&args.store)?;
    let mut ledger = tollgate_store::open(&url, tollgate_store::OpenMode::MustExist)?;
    let ts = timeseries(ledger.as_mut(), &catalog, args.prices.free_tier(), &params)?;
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
        tollgate_pricing::render_table(&header, &right, &rows, &footer)
    }
}
