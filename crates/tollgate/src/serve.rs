//! `tollgate serve`: load, bind, serve, reload on SIGHUP or `POST /admin/reload`, drain on
//! SIGTERM.

use std::sync::Arc;

use anyhow::{bail, Context as _};
use tokio::sync::watch;
use tollgate_config::model::{GatewayConfig, LogDestination};
use tollgate_proxy::access_log::AccessLog;
use tollgate_proxy::metrics::Metrics;
use tollgate_proxy::{server, Gateway};

use crate::ServeArgs;

/// Load the configuration file and apply the command-line overrides.
fn load(args: &ServeArgs) -> Result<GatewayConfig, Vec<String>> {
    let mut config = tollgate_config::load(&args.config)
        .map_err(|e| e.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    if let Some(addr) = args.listen {
        if let Some(first) = config.listeners.first_mut() {
            first.address = addr;
        }
    }
    if let Some(addr) = args.admin_listen {
        config.admin.address = addr;
    }
    if let Some(store) = &args.store {
        config.metering.store = Some(store.clone());
    }
    if !config.admin.address.ip().is_loopback() && config.admin.token.is_none() {
        return Err(vec![format!(
            "{}: admin address {} is not loopback: set admin.token",
            args.config.display(),
            config.admin.address
        )]);
    }
    Ok(config)
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing();
    let config = match load(&args) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            bail!(
                "{}: invalid configuration ({} error(s))",
                args.config.display(),
                errors.len()
            );
        }
    };
    let workers = args
        .workers
        .or(config.server.workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);

    // Bind before starting anything, so a taken port fails fast and port 0 is resolved.
    let addresses: Vec<_> = config.listeners.iter().map(|l| l.address).collect();
    let sockets = server::bind_reuseport(&addresses, workers)?;
    let admin_listener = std::net::TcpListener::bind(config.admin.address)
        .with_context(|| format!("cannot listen on {} (admin)", config.admin.address))?;
    admin_listener.set_nonblocking(true)?;
    // These lines are part of the interface: tests and scripts read the bound ports from them.
    if let Some(first) = sockets.first() {
        for (l, bound) in config.listeners.iter().zip(first) {
            eprintln!(
                "tollgate: listener {} on http://{}",
                l.name,
                bound.local_addr()?
            );
        }
    }
    eprintln!("tollgate: admin on http://{}", admin_listener.local_addr()?);

    // One single-threaded runtime per worker thread (thread per core): no work stealing, no
    // cross-thread wake-ups on the request path. This thread is worker 0 and also runs the
    // admin API, signals and housekeeping.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let meter = start_meter(&config)?;
    let result = runtime.block_on(serve(
        args,
        config,
        sockets,
        admin_listener,
        meter.as_ref().map(|(m, _)| m.clone()),
    ));
    // Connections still open after the grace period are dropped with the runtime; their
    // requests are metered from their drop guards, on this thread.
    drop(runtime);
    if let Some((meter, flusher)) = meter {
        meter.flush_thread();
        let stats = flusher.stop();
        tracing::debug!(?stats, "meter stopped");
    }
    eprintln!("tollgate: stopped");
    result
}

/// The default ledger when neither `--store` nor `metering.store` names one.
pub const DEFAULT_STORE: &str = "sqlite://tollgate.db";

/// Open the ledger and start the meter's flusher (before serving: a ledger from a newer
/// tollgate, or an unopenable path, stops `serve` with the reason).
fn start_meter(
    config: &GatewayConfig,
) -> anyhow::Result<Option<(tollgate_meter::Meter, tollgate_meter::FlusherHandle)>> {
    let m = &config.metering;
    if !m.enabled {
        return Ok(None);
    }
    let url_text = m.store.as_deref().unwrap_or(DEFAULT_STORE);
    let url = tollgate_store::parse_store_url(url_text)
        .with_context(|| format!("{}: metering.store", config.source.display()))?;
    let ledger = tollgate_store::open(&url, tollgate_store::OpenMode::CreateIfMissing)?;
    let spill_path = match (&m.spill_path, &url) {
        (Some(p), _) => p.clone(),
        (None, tollgate_store::StoreUrl::Sqlite { path }) => {
            let mut p = path.clone().into_os_string();
            p.push(".spill");
            p.into()
        }
        (None, _) => std::path::PathBuf::from("tollgate-usage.spill"),
    };
    let b = m.billable;
    let settings = tollgate_meter::FlusherSettings {
        policy: tollgate_meter::BillingPolicy::new(tollgate_meter::UnknownRules {
            unmatched_route: b.unmatched_route,
            cors_preflight: b.cors_preflight,
            malformed: b.malformed,
            validation_failed: b.validation_failed,
            cache_hit: b.cache_hit,
            websocket_control: b.websocket_control,
        }),
        retry_interval: m.flush_interval,
        buffer_records: m.buffer_records,
        spill_path,
        minute_retention: m.minute_retention,
    };
    eprintln!("tollgate: metering into {url}");
    Ok(Some(tollgate_meter::start(ledger, settings)?))
}

async fn serve(
    args: ServeArgs,
    config: GatewayConfig,
    mut sockets: Vec<Vec<std::net::TcpListener>>,
    admin_listener: std::net::TcpListener,
    meter: Option<tollgate_meter::Meter>,
) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    let _upkeep = metrics.spawn_upkeep();
    let destination = config
        .access_log
        .as_ref()
        .map_or(LogDestination::Stdout, |a| a.destination.clone());
    let (access_log, log_writer) = AccessLog::start(
        &destination,
        metrics.counter("tollgate_access_log_dropped_total"),
    )
    .context("cannot open the access log")?;
    let admin_token = config.admin.token.clone();
    let config_metering = config.metering.clone();
    let store_url =
        tollgate_store::parse_store_url(config_metering.store.as_deref().unwrap_or(DEFAULT_STORE))
            .ok();
    let gateway = Arc::new(Gateway::new(
        Arc::new(config),
        metrics.clone(),
        Some(access_log.clone()),
        meter,
    )?);

    let reload: tollgate_admin::ReloadFn = {
        let gateway = Arc::clone(&gateway);
        let args = args.clone();
        Arc::new(move || reload(&gateway, &args))
    };
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // Budgets are priced from the ledger, so they need metering.
    let admin_address = admin_listener.local_addr()?;
    let budget_status = match (&config_metering.enabled, &store_url) {
        (true, Some(url)) => {
            let every = (config_metering.flush_interval * 5).max(std::time::Duration::from_secs(1));
            // Anomaly alerts read the same ledger (docs/alerts.md).
            crate::alerts::spawn(
                Arc::clone(&gateway),
                url.clone(),
                admin_address,
                shutdown_rx.clone(),
            );
            Some(crate::budgets::spawn(
                Arc::clone(&gateway),
                url.clone(),
                every,
                admin_address,
                shutdown_rx.clone(),
            ))
        }
        _ => None,
    };
    let admin = tokio::spawn(tollgate_admin::serve(
        tokio::net::TcpListener::from_std(admin_listener)?,
        admin_token,
        tollgate_admin::AdminHandlers {
            metrics: {
                let m = metrics.clone();
                let meter = gateway
                    .meter()
                    .map(|meter| (meter.clone(), MeterGauges::new(&m)));
                Arc::new(move || {
                    if let Some((meter, gauges)) = &meter {
                        gauges.update(meter.stats());
                    }
                    m.render()
                })
            },
            reload: Arc::clone(&reload),
            usage: ledger_query(&gateway, QueryKind::Usage),
            cost: ledger_query(&gateway, QueryKind::Cost),
            forecast: ledger_query(&gateway, QueryKind::Forecast),
            anomalies: ledger_query(&gateway, QueryKind::Anomalies),
            recommendations: ledger_query(&gateway, QueryKind::Recommendations),
            timeseries: ledger_query(&gateway, QueryKind::Timeseries),
            movers: ledger_query(&gateway, QueryKind::Movers),
            dimensions: ledger_query(&gateway, QueryKind::Dimensions),
            connections: {
                let gateway = Arc::clone(&gateway);
                let catalog = Arc::new(tollgate_pricing::Catalog::embedded());
                Arc::new(move |query: &str| {
                    metered_only("/admin/connections", query)?;
                    Ok(connections_json(&gateway, &catalog))
                })
            },
            quotas: {
                let gateway = Arc::clone(&gateway);
                Arc::new(move |_query: &str| Ok(quotas_json(&gateway)))
            },
            budgets: Arc::new(move |_query: &str| match &budget_status {
                Some(last) => Ok(crate::budgets::status_json(last)),
                None => Err(tollgate_admin::QueryError {
                    status: 404,
                    message: "budgets need metering (metering.enabled: false)".into(),
                }),
            }),
        },
        shutdown_rx.clone(),
    ));
    tokio::spawn(signals(shutdown_tx, reload));

    let own = if sockets.is_empty() {
        Vec::new()
    } else {
        sockets.remove(0)
    };
    let mut threads = Vec::new();
    for (n, listeners) in sockets.into_iter().enumerate() {
        let gateway = Arc::clone(&gateway);
        let shutdown = shutdown_rx.clone();
        let thread = std::thread::Builder::new()
            .name(format!("tollgate-worker-{}", n + 1))
            .spawn(move || -> std::io::Result<()> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let meter = gateway.meter().cloned();
                rt.block_on(server::serve(gateway, listeners, shutdown));
                // Requests cut off at the end of the grace period are metered as the runtime
                // drops them; hand those to the flusher too.
                drop(rt);
                if let Some(m) = meter {
                    m.flush_thread();
                }
                Ok(())
            })
            .context("cannot start a worker thread")?;
        threads.push(thread);
    }
    server::serve(Arc::clone(&gateway), own, shutdown_rx).await;
    for t in threads {
        match tokio::task::spawn_blocking(move || t.join()).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "worker thread failed"),
            _ => tracing::error!("worker thread panicked"),
        }
    }
    let _ = admin.await;
    access_log.flush().await;
    drop(access_log);
    drop(gateway);
    tokio::task::spawn_blocking(move || log_writer.join())
        .await
        .ok();
    Ok(())
}

/// The meter's own health on `/metrics`, read from its counters at scrape time.
struct MeterGauges {
    buffered: metrics::Gauge,
    spill_pending: metrics::Gauge,
    written: metrics::Counter,
    spilled: metrics::Counter,
    write_errors: metrics::Counter,
}

impl MeterGauges {
    fn new(m: &Metrics) -> Self {
        Self {
            buffered: m.gauge("tollgate_meter_buffered_records"),
            spill_pending: m.gauge("tollgate_meter_spill_pending"),
            written: m.counter("tollgate_meter_written_records_total"),
            spilled: m.counter("tollgate_meter_spilled_records_total"),
            write_errors: m.counter("tollgate_meter_ledger_errors_total"),
        }
    }

    fn update(&self, s: &tollgate_meter::MeterStats) {
        use std::sync::atomic::Ordering::Relaxed;
        self.buffered.set(s.buffered.load(Relaxed) as f64);
        self.spill_pending.set(s.spill_pending.load(Relaxed) as f64);
        self.written.absolute(s.written.load(Relaxed));
        self.spilled.absolute(s.spilled.load(Relaxed));
        self.write_errors.absolute(s.write_errors.load(Relaxed));
    }
}

/// `/admin/connections`: the open WebSocket connections, their age, idle time, messages and
/// what they cost so far (messages and connection minutes at the first tier's rates of the
/// gateway's region, before any free tier).
fn connections_json(gateway: &Gateway, catalog: &tollgate_pricing::Catalog) -> String {
    use rust_decimal::Decimal;
    use tollgate_pricing::{FreeTier, Meter};
    let region = catalog.region(&gateway.config().region).ok();
    let cost = |meter: Meter, units: Decimal| {
        region
            .and_then(|r| {
                r.cost_of(meter, None, Decimal::ZERO, units, FreeTier::Off)
                    .ok()
            })
            .unwrap_or_default()
    };
    let mut conns = gateway.ws_registry().all();
    conns.sort_by_key(|c| std::cmp::Reverse(c.age_ms()));
    let mut total_age: u128 = 0;
    let rows: Vec<serde_json::Value> = conns
        .iter()
        .map(|c| {
            use std::sync::atomic::Ordering::Relaxed;
            let age = c.age_ms();
            total_age += u128::from(age);
            let units = c.units.load(Relaxed);
            let minutes = Decimal::from(age) / Decimal::from(60_000);
            let dollars = cost(Meter::WebsocketMessages, Decimal::from(units))
                + cost(Meter::WebsocketConnectionMinutes, minutes);
            serde_json::json!({
                "connection_id": &*c.id,
                "api": &*c.api_id,
                "stage": &*c.stage,
                "source_ip": c.source_ip.to_string(),
                "api_key": c.api_key.as_deref(),
                "age_ms": age,
                "idle_ms": c.idle_ms(),
                "messages_in": c.messages_in.load(Relaxed),
                "messages_out": c.messages_out.load(Relaxed),
                "message_units": units,
                "cost": tollgate_pricing::display_cost(dollars, 8),
            })
        })
        .collect();
    let avg = if rows.is_empty() {
        0
    } else {
        (total_age / rows.len() as u128) as u64
    };
    serde_json::json!({
        "count": rows.len(),
        "avg_duration_ms": avg,
        "connections": rows,
    })
    .to_string()
}

/// `/admin/quotas`: every API key's usage-plan quota in the current period.
fn quotas_json(gateway: &Gateway) -> String {
    let rfc3339 = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let quotas: Vec<serde_json::Value> = gateway
        .quotas_now()
        .into_iter()
        .map(|q| {
            serde_json::json!({
                "plan": q.plan,
                "key": q.key.as_ref(),
                "limit": q.status.limit,
                "used": q.status.used,
                "remaining": q.status.remaining,
                "period_start": rfc3339(q.status.window.start),
                "period_end": rfc3339(q.status.window.end),
            })
        })
        .collect();
    serde_json::json!({ "quotas": quotas }).to_string()
}

#[derive(Clone, Copy)]
enum QueryKind {
    Usage,
    Cost,
    Forecast,
    Anomalies,
    Timeseries,
    Movers,
    Dimensions,
    Recommendations,
}

/// The endpoints that read an imported AWS bill with `data=bill`, for messages.
const BILL_ENDPOINTS: &str =
    "/admin/forecast, /admin/anomalies, /admin/timeseries, /admin/movers and /admin/recommendations";

impl QueryKind {
    fn path(self) -> &'static str {
        match self {
            QueryKind::Usage => "/admin/usage",
            QueryKind::Cost => "/admin/cost",
            QueryKind::Forecast => "/admin/forecast",
            QueryKind::Anomalies => "/admin/anomalies",
            QueryKind::Timeseries => "/admin/timeseries",
            QueryKind::Movers => "/admin/movers",
            QueryKind::Dimensions => "/admin/dimensions",
            QueryKind::Recommendations => "/admin/recommendations",
        }
    }

    /// Whether the endpoint reads an imported bill too (`data=bill`, and `data=auto` when the
    /// period holds no metered usage).
    fn reads_bill(self) -> bool {
        matches!(
            self,
            QueryKind::Forecast
                | QueryKind::Anomalies
                | QueryKind::Timeseries
                | QueryKind::Movers
                | QueryKind::Recommendations
        )
    }
}

/// Takes `data=` off a query string: the choice (`None` when absent; empty is `auto`) and the
/// rest of the query, for the endpoint's own parser.
fn split_data(query: &str) -> Result<(Option<crate::data::DataChoice>, String), String> {
    let mut choice = None;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k == "data" {
            if choice.is_some() {
                return Err("`data` is given twice".into());
            }
            choice = Some(if v.is_empty() {
                crate::data::DataChoice::Auto
            } else {
                crate::data::DataChoice::parse(&v)?
            });
        } else {
            rest.append_pair(&k, &v);
        }
    }
    Ok((choice, rest.finish()))
}

/// `data=bill` on an endpoint that reads metered usage (or the gateway's live state) only:
/// a 400 naming the endpoints that read a bill, rather than an answer that silently is not
/// the bill's. A bad `data` value is a 400 too.
fn metered_only(path: &str, query: &str) -> Result<(), tollgate_admin::QueryError> {
    let bad = |message: String| tollgate_admin::QueryError {
        status: 400,
        message,
    };
    match split_data(query).map_err(bad)? {
        (Some(crate::data::DataChoice::Bill), _) => Err(bad(format!(
            "data=bill: {path} reads metered usage only; over an imported AWS bill, use \
             {BILL_ENDPOINTS} with data=bill (or `tollgate cost bill`)"
        ))),
        _ => Ok(()),
    }
}

/// `/admin/forecast?by=api`, `/admin/anomalies?from=&to=&sensitivity=&min_impact=` and
/// `/admin/timeseries?…`, each with `data=auto|metered|bill`: the same analyses as
/// `tollgate cost forecast`, `tollgate cost anomalies` (`--data`) and `tollgate cost
/// timeseries`, with their defaults, over metered usage or an imported AWS bill. Each answer
/// says which in its `data` field.
fn analysis_json(
    kind: QueryKind,
    url: &tollgate_store::StoreUrl,
    choice: crate::data::DataChoice,
    catalog: &tollgate_pricing::Catalog,
    query: &str,
) -> Result<String, tollgate_admin::QueryError> {
    use crate::data::Data;
    use tollgate_admin::QueryError;
    use tollgate_analytics::{anomaly, forecast};
    let bad = |message: String| QueryError {
        status: 400,
        message,
    };
    let failed = |message: String| QueryError {
        status: 503,
        message,
    };
    let report_error = |e: crate::report::ReportError| QueryError {
        status: match e {
            crate::report::ReportError::Ledger(_) => 503,
            _ => 400,
        },
        message: e.to_string(),
    };
    let open = |from: i64, to: i64| {
        let data = crate::data::open(url, choice, from, to).map_err(|e| failed(e.to_string()))?;
        // `auto` chooses by what the period holds: say what it chose.
        tracing::debug!(
            endpoint = kind.path(),
            data = data.name(),
            "admin analysis over {}",
            data.describe()
        );
        Ok::<_, QueryError>(data)
    };
    let now = crate::report::unix_now();

    if let QueryKind::Timeseries = kind {
        let q = crate::timeseries::TimeseriesQuery::parse(query).map_err(report_error)?;
        let mut data = open(q.period.start(), q.period.end())?;
        let ts = match &mut data {
            Data::Metered(ledger) => crate::timeseries::timeseries(
                ledger.as_mut(),
                catalog,
                tollgate_pricing::FreeTier::Off,
                &q.metered().map_err(report_error)?,
            ),
            Data::Bill(bill) => {
                crate::timeseries::bill_timeseries(bill.as_mut(), &q.bill().map_err(report_error)?)
            }
        };
        return ts.map(|t| t.to_json()).map_err(report_error);
    }

    if let QueryKind::Movers = kind {
        let (period, by, limit) = crate::movers::parse_query(query).map_err(report_error)?;
        let (start, end) = (period.start(), period.end());
        let mut data = open(start - (end - start), end)?;
        return crate::movers::over(&mut data, catalog, period, by.as_deref(), limit)
            .map(|m| m.to_json())
            .map_err(report_error);
    }

    let params: std::collections::HashMap<String, String> =
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
    let known: &[&str] = match kind {
        QueryKind::Forecast => &["by"],
        QueryKind::Recommendations => &["from", "to", "min_saving"],
        _ => &["from", "to", "sensitivity", "min_impact"],
    };
    if let Some(k) = params.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown parameter `{k}`: expected {}, data",
            known.join(", ")
        )));
    }
    if let QueryKind::Forecast = kind {
        // What `tollgate cost forecast` reads: the history, and the month so far.
        let today = now - now.rem_euclid(86_400);
        let from =
            (today - i64::from(forecast::DEFAULT_HISTORY_DAYS) * 86_400).min(today - 31 * 86_400);
        let mut data = open(from, now)?;
        return crate::forecast::over(
            &mut data,
            params.get("by").map(String::as_str),
            "by",
            catalog,
            tollgate_pricing::FreeTier::Off,
            now,
            forecast::DEFAULT_HISTORY_DAYS,
        )
        .map(|f| f.to_json())
        .map_err(|e| match e {
            forecast::ForecastError::BadParameter(m) => bad(m),
            other => failed(other.to_string()),
        });
    }
    if let QueryKind::Recommendations = kind {
        let options = crate::recommend::parse_params(&params, now, catalog)
            .map_err(|(status, message)| QueryError { status, message })?;
        let mut data = open(options.from, options.to)?;
        return crate::recommend::over(&mut data, &options)
            .map(|r| r.to_json())
            .map_err(|e| match e {
                tollgate_analytics::recommend::RecommendError::BadParameter(m) => bad(m),
                other => failed(other.to_string()),
            });
    }
    let (from, to) = crate::anomalies::window(
        params.get("from").map(String::as_str),
        params.get("to").map(String::as_str),
        now,
        "",
    )
    .map_err(bad)?;
    let sensitivity = match params.get("sensitivity") {
        Some(s) => s
            .parse::<f64>()
            .map_err(|_| bad(format!("sensitivity: `{s}` is not a number")))?,
        None => anomaly::DEFAULT_SENSITIVITY,
    };
    let min_impact = match params.get("min_impact") {
        Some(s) => s
            .parse::<rust_decimal::Decimal>()
            .map_err(|_| bad(format!("min_impact: `{s}` is not a decimal")))?,
        None => anomaly::DEFAULT_MIN_IMPACT,
    };
    let (read_from, read_to) = crate::anomalies::span(from, to);
    let mut data = open(read_from, read_to)?;
    crate::anomalies::over(
        &mut data,
        &anomaly::AnomalyOptions {
            catalog,
            free_tier: tollgate_pricing::FreeTier::Off,
            from,
            to,
            sensitivity,
            min_impact,
            weeks: anomaly::DEFAULT_WEEKS,
        },
    )
    .map(|a| a.to_json())
    .map_err(|e| match e {
        anomaly::AnomalyError::BadParameter(m) => bad(m),
        other => failed(other.to_string()),
    })
}

/// The admin API's ledger queries: open the store (read side; the flusher has its own
/// connection) and answer with the same code as the `tollgate cost …` commands. Forecast,
/// anomalies and timeseries read metered usage or an imported bill (`data=`, see
/// [`analysis_json`]); the others read metered usage only and refuse `data=bill`.
fn ledger_query(gateway: &Gateway, kind: QueryKind) -> tollgate_admin::QueryFn {
    use tollgate_admin::QueryError;
    let config = gateway.config();
    let metering = config.metering.clone();
    let catalog = Arc::new(tollgate_pricing::Catalog::embedded());
    Arc::new(move |query: &str| {
        if !metering.enabled {
            return Err(QueryError {
                status: 404,
                message: "metering is off (metering.enabled: false)".into(),
            });
        }
        let bad = |status: u16| {
            move |e: crate::report::ReportError| QueryError {
                status,
                message: e.to_string(),
            }
        };
        if !kind.reads_bill() {
            metered_only(kind.path(), query)?;
        }
        let (choice, query) = split_data(query).map_err(|message| QueryError {
            status: 400,
            message,
        })?;
        let query = query.as_str();
        let params = match kind {
            QueryKind::Usage | QueryKind::Cost => {
                Some(crate::report::ReportParams::from_query(query).map_err(bad(400))?)
            }
            QueryKind::Forecast
            | QueryKind::Anomalies
            | QueryKind::Timeseries
            | QueryKind::Movers
            | QueryKind::Dimensions
            | QueryKind::Recommendations => None,
        };
        let url_text = metering.store.as_deref().unwrap_or(DEFAULT_STORE);
        let url = tollgate_store::parse_store_url(url_text).map_err(|e| QueryError {
            status: 500,
            message: e.to_string(),
        })?;
        if kind.reads_bill() {
            return analysis_json(kind, &url, choice.unwrap_or_default(), &catalog, query);
        }
        let mut ledger =
            tollgate_store::open(&url, tollgate_store::OpenMode::MustExist).map_err(|e| {
                QueryError {
                    status: 503,
                    message: e.to_string(),
                }
            })?;
        let ledger_error = |e: crate::report::ReportError| QueryError {
            status: match e {
                crate::report::ReportError::Ledger(_) => 503,
                _ => 400,
            },
            message: e.to_string(),
        };
        match (kind, &params) {
            (QueryKind::Usage, Some(params)) => {
                crate::report::usage_json(ledger.as_mut(), params).map_err(ledger_error)
            }
            (QueryKind::Cost, Some(params)) => crate::report::cost(
                ledger.as_mut(),
                &catalog,
                tollgate_pricing::FreeTier::Off,
                params,
            )
            .map(|r| r.to_json())
            .map_err(ledger_error),
            (QueryKind::Dimensions, _) => {
                crate::timeseries::dimensions_json(ledger.as_mut(), query).map_err(ledger_error)
            }
            _ => Err(QueryError {
                status: 500,
                message: format!("{} has no ledger query", kind.path()),
            }),
        }
    })
}

/// Load the file again and swap it in; the old configuration keeps serving on any error.
fn reload(gateway: &Gateway, args: &ServeArgs) -> Result<String, Vec<String>> {
    let new = load(args)?;
    let old = gateway.config();
    if new.listeners != old.listeners {
        return Err(vec![format!(
            "{}: listeners changed; adding, removing or moving listeners needs a restart",
            args.config.display()
        )]);
    }
    if new.admin.address != old.admin.address || new.admin.token != old.admin.token {
        return Err(vec![format!(
            "{}: admin settings changed; they need a restart",
            args.config.display()
        )]);
    }
    if new.metering != old.metering {
        return Err(vec![format!(
            "{}: metering settings changed; they need a restart",
            args.config.display()
        )]);
    }
    let new_dest = new.access_log.as_ref().map(|a| a.destination.clone());
    let old_dest = old.access_log.as_ref().map(|a| a.destination.clone());
    let summary = format!("{} API(s)", new.apis.len());
    gateway
        .swap(Arc::new(new))
        .map_err(|e| vec![e.to_string()])?;
    if let (Some(dest), true) = (&new_dest, new_dest != old_dest) {
        if let Some(log) = gateway.access_log() {
            log.reopen(dest.clone());
        }
    }
    tracing::info!(%summary, "configuration reloaded");
    Ok(summary)
}

#[cfg(unix)]
async fn signals(shutdown: watch::Sender<bool>, reload: tollgate_admin::ReloadFn) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => match reload() {
                Ok(summary) => eprintln!("tollgate: configuration reloaded ({summary})"),
                Err(errors) => {
                    eprintln!("tollgate: reload rejected; the previous configuration keeps serving");
                    for e in errors {
                        eprintln!("{e}");
                    }
                }
            },
        }
    }
    eprintln!("tollgate: shutting down, draining in-flight requests");
    let _ = shutdown.send(true);
}

#[cfg(not(unix))]
async fn signals(shutdown: watch::Sender<bool>, _reload: tollgate_admin::ReloadFn) {
    let _ = tokio::signal::ctrl_c().await;
    let _ = shutdown.send(true);
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
