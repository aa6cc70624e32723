//! Reports from the ledger, shared by `tollgate cost report` and the admin API's
//! `/admin/usage` and `/admin/cost`, so both answer the same question the same way.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use tollgate_meter::Ledger;
use tollgate_pricing::report::{build_report, focus_dimensions, Period, Report, ReportInput};
use tollgate_pricing::{Catalog, FreeTier};
use tollgate_types::usage::{Dimension, UsageQuery, UsageRow};

/// What a report is about: a period and the dimensions to group by.
#[derive(Debug, Clone)]
pub struct ReportParams {
    pub period: Period,
    pub by: Vec<Dimension>,
}

/// Why a report could not be made: a bad parameter (the user's to fix) or the ledger.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    BadParameter(String),
    #[error(transparent)]
    Ledger(#[from] tollgate_meter::LedgerError),
    #[error(transparent)]
    Pricing(#[from] tollgate_pricing::PricingError),
}

impl ReportParams {
    /// `from`/`to` as `YYYY-MM`, `YYYY-MM-DD` or RFC 3339 UTC (`to` exclusive); by default the
    /// month to date (up to the end of the current minute). `by` is a comma-separated list of
    /// api, stage, route, key, client, status, reason, region, tag:NAME.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        by: Option<&str>,
    ) -> Result<Self, ReportError> {
        let now = unix_now();
        let end_of_minute = now - now % 60 + 60;
        let period = match (from, to) {
            (None, None) => {
                let month = Period::new(now, now + 1)?.months();
                let start = Period::month(&month[0])?.start();
                Period::new(start, end_of_minute)?
            }
            (Some(f), Some(t)) => Period::parse(f, t).map_err(period_error)?,
            (Some(f), None) => {
                let start = Period::parse(f, "9999-12-31")
                    .map_err(period_error)?
                    .start();
                Period::new(start, end_of_minute.max(start + 1)).map_err(period_error)?
            }
            (None, Some(t)) => {
                let end = Period::parse("1970-01-01", t).map_err(period_error)?.end();
                let month = Period::new(end - 1, end)?.months();
                Period::new(Period::month(&month[0])?.start(), end)?
            }
        };
        let by = match by {
            Some(list) => Dimension::parse_list(list).map_err(|e| {
                ReportError::BadParameter(format!(
                    "--by: {e}; expected a comma-separated list of api, stage, route, key, \
                     client, status, reason, region, tag:NAME"
                ))
            })?,
            None => Vec::new(),
        };
        for (i, d) in by.iter().enumerate() {
            if by[..i].contains(d) {
                return Err(ReportError::BadParameter(format!(
                    "--by: `{}` is listed twice",
                    d.name()
                )));
            }
        }
        Ok(Self { period, by })
    }

    /// Parse an admin API query string (`from=…&to=…&by=…`).
    pub fn from_query(query: &str) -> Result<Self, ReportError> {
        let mut from = None;
        let mut to = None;
        let mut by = None;
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "from" => from = Some(v.into_owned()),
                "to" => to = Some(v.into_owned()),
                "by" => by = Some(v.into_owned()),
                other => {
                    return Err(ReportError::BadParameter(format!(
                        "unknown parameter `{other}`: expected from, to, by"
                    )))
                }
            }
        }
        Self::parse(from.as_deref(), to.as_deref(), by.as_deref())
    }
}

/// Now, in seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A period `[from, to)` in Unix seconds from optional `from`/`to` texts (see [`instant`]):
/// `to` defaults to `default_to`, `from` to `default_from(to)`. `prefix` is how the
/// parameters are spelled in errors (`--` for flags, nothing for query parameters).
pub fn window_with(
    from: Option<&str>,
    to: Option<&str>,
    prefix: &str,
    default_to: i64,
    default_from: impl FnOnce(i64) -> i64,
) -> Result<(i64, i64), String> {
    let to = match to {
        Some(s) => instant(&format!("{prefix}to"), s)?,
        None => default_to,
    };
    let from = match from {
        Some(s) => instant(&format!("{prefix}from"), s)?,
        None => default_from(to),
    };
    if to <= from {
        return Err(format!("{prefix}from must be before {prefix}to"));
    }
    Ok((from, to))
}

/// A UTC instant given as `YYYY-MM`, `YYYY-MM-DD` or RFC 3339, in Unix seconds; `name` (a
/// flag or a query parameter) names it in the error.
pub fn instant(name: &str, s: &str) -> Result<i64, String> {
    Period::parse(s, "9999-12-31")
        .map(|p| p.start())
        .map_err(|e| format!("{name} {s}: {e}"))
}

/// Period errors name the command-line flags (`period.from` means `--from`).
fn period_error(e: tollgate_pricing::PricingError) -> ReportError {
    let text = e
        .to_string()
        .replace("`period.from`", "--from")
        .replace("`period.to`", "--to")
        .replace("`period`", "--from/--to");
    ReportError::BadParameter(text)
}

/// Price the period's usage.
pub fn cost(
    ledger: &mut dyn Ledger,
    catalog: &Catalog,
    free_tier: FreeTier,
    params: &ReportParams,
) -> Result<Report, ReportError> {
    let rows = ledger.query(&UsageQuery {
        from: params.period.start(),
        to: params.period.end(),
        group_by: params.by.clone(),
    })?;
    // Month totals after the rows, so usage written in between cannot make a month smaller
    // than the period's part of it.
    let (from, to) = params.period.month_totals_range();
    let month_totals = ledger.query(&UsageQuery {
        from,
        to,
        group_by: Vec::new(),
    })?;
    Ok(build_report(&ReportInput {
        catalog,
        free_tier,
        period: params.period,
        group_by: &params.by,
        rows: &rows,
        month_totals: &month_totals,
    })?)
}

/// The period as FOCUS rows: grouped by api, stage, route, key, status, reason and every tag.
pub fn focus(
    ledger: &mut dyn Ledger,
    catalog: &Catalog,
    free_tier: FreeTier,
    period: Period,
) -> Result<String, ReportError> {
    let tags = ledger.tag_names(period.start(), period.end())?;
    let params = ReportParams {
        period,
        by: focus_dimensions(&tags),
    };
    Ok(cost(ledger, catalog, free_tier, &params)?.to_focus())
}

/// `/admin/usage`: the ledger's units as counted (base units: requests, bytes,
/// milliseconds), billable and not, with the events that produced them.
///
/// `{"period":{"from","to"},"group_by":[…],"rows":[{<dimension>: value…, "meter":
/// "http_requests", "billable_units":"12", "non_billable_units":"0", "billable_events":"12",
/// "non_billable_events":"0"}]}` — numbers as decimal strings, like every money and unit
/// value tollgate prints.
pub fn usage_json(ledger: &mut dyn Ledger, params: &ReportParams) -> Result<String, ReportError> {
    let rows: Vec<UsageRow> = ledger.query(&UsageQuery {
        from: params.period.start(),
        to: params.period.end(),
        group_by: params.by.clone(),
    })?;
    // Merge months, regions and the billable flag into one row per (group, meter).
    let mut merged: BTreeMap<(Vec<String>, String), [u64; 4]> = BTreeMap::new();
    for r in rows {
        let e = merged
            .entry((r.group, r.meter.name().into_owned()))
            .or_default();
        let (u, ev) = if r.billable { (0, 1) } else { (2, 3) };
        e[u] = e[u].saturating_add(r.counts.units);
        e[ev] = e[ev].saturating_add(r.counts.events);
    }
    let names: Vec<String> = params.by.iter().map(Dimension::name).collect();
    let out_rows: Vec<serde_json::Value> = merged
        .into_iter()
        .map(|((group, meter), c)| {
            let mut row = serde_json::Map::new();
            for (name, value) in names.iter().zip(group) {
                row.insert(name.clone(), value.into());
            }
            row.insert("meter".into(), meter.into());
            row.insert("billable_units".into(), c[0].to_string().into());
            row.insert("non_billable_units".into(), c[2].to_string().into());
            row.insert("billable_events".into(), c[1].to_string().into());
            row.insert("non_billable_events".into(), c[3].to_string().into());
            serde_json::Value::Object(row)
        })
        .collect();
    Ok(serde_json::json!({
        "period": {
            "from": params.period.start_rfc3339(),
            "to": params.period.end_rfc3339(),
        },
        "group_by": names,
        "rows": out_rows,
    })
    .to_string())
}

/// One WebSocket API's two meters side by side: many connection minutes per message is the
/// sign of connections left open with little traffic (docs/websocket.md).
#[derive(Debug, Clone, PartialEq)]
pub struct WebsocketLine {
    pub api: String,
    /// Billable message units, both directions.
    pub messages: tollgate_pricing::Decimal,
    pub connection_minutes: tollgate_pricing::Decimal,
    pub messages_cost: tollgate_pricing::Decimal,
    pub connection_minutes_cost: tollgate_pricing::Decimal,
}

impl WebsocketLine {
    /// Connection minutes per message (`None` without messages).
    pub fn minutes_per_message(&self) -> Option<tollgate_pricing::Decimal> {
        (!self.messages.is_zero()).then(|| (self.connection_minutes / self.messages).round_dp(6))
    }

    pub fn to_json(&self) -> serde_json::Value {
        use tollgate_pricing::display_exact;
        serde_json::json!({
            "api": self.api,
            "messages": display_exact(self.messages),
            "connection_minutes": display_exact(self.connection_minutes.round_dp(6)),
            "minutes_per_message": self.minutes_per_message().map(display_exact),
            "messages_cost": display_exact(self.messages_cost),
            "connection_minutes_cost": display_exact(self.connection_minutes_cost),
        })
    }
}

/// The WebSocket APIs of a period: messages and connection minutes per API.
pub fn websocket_lines(
    ledger: &mut dyn Ledger,
    catalog: &Catalog,
    free_tier: FreeTier,
    period: Period,
) -> Result<Vec<WebsocketLine>, ReportError> {
    use tollgate_pricing::Meter;
    let by_api = cost(
        ledger,
        catalog,
        free_tier,
        &ReportParams {
            period,
            by: vec![Dimension::Api],
        },
    )?;
    let mut lines: BTreeMap<String, WebsocketLine> = BTreeMap::new();
    for row in by_api.rows() {
        if !matches!(
            row.meter,
            Meter::WebsocketMessages | Meter::WebsocketConnectionMinutes
        ) {
            continue;
        }
        let api = row.group.first().cloned().unwrap_or_default();
        let line = lines.entry(api.clone()).or_insert_with(|| WebsocketLine {
            api,
            messages: Default::default(),
            connection_minutes: Default::default(),
            messages_cost: Default::default(),
            connection_minutes_cost: Default::default(),
        });
        if row.meter == Meter::WebsocketMessages {
            line.messages += row.billable_units;
            line.messages_cost += row.cost;
        } else {
            line.connection_minutes += row.billable_units;
            line.connection_minutes_cost += row.cost;
        }
    }
    Ok(lines.into_values().collect())
}

/// The table of [`websocket_lines`], appended to `cost report`'s table.
pub fn websocket_table(lines: &[WebsocketLine]) -> String {
    use tollgate_pricing::{display_cost, display_exact};
    let header: Vec<String> = [
        "api",
        "messages",
        "connection minutes",
        "minutes/message",
        "messages (USD)",
        "minutes (USD)",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            vec![
                l.api.clone(),
                display_exact(l.messages),
                display_exact(l.connection_minutes.round_dp(2)),
                l.minutes_per_message()
                    .map_or_else(|| "-".into(), |r| display_exact(r.round_dp(4))),
                display_cost(l.messages_cost, 2),
                display_cost(l.connection_minutes_cost, 2),
            ]
        })
        .collect();
    let right: Vec<bool> = (0..header.len()).map(|i| i > 0).collect();
    format!(
        "\nWebSocket APIs: messages and connection minutes\n{}",
        tollgate_pricing::render_table(&header, &right, &rows, &[])
    )
}
