//! Dollar budgets at run time: every few flush intervals, price each budget's month so far
//! from the ledger (tollgate-analytics), flip the gateway's budget states that enforce
//! `on_limit: block | throttle`, log each threshold crossed once, and POST it to the budget's
//! webhook. All of it off the request path.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use rust_decimal::Decimal;
use tollgate_analytics::{Alert, AlertTracker, BudgetSpec, BudgetStatus};
use tollgate_config::model::{GatewayConfig, OnLimit};
use tollgate_proxy::Gateway;

/// The last evaluation, for `GET /admin/budgets`.
pub type LastStatus = Arc<Mutex<Vec<BudgetStatus>>>;

/// How long a webhook may take.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// The budgets of `config` in the ledger's terms (API id, stage name, key id).
fn specs(config: &GatewayConfig) -> Vec<BudgetSpec> {
    config
        .budgets
        .iter()
        .map(|b| BudgetSpec {
            name: b.name.clone(),
            api: b.api.and_then(|a| config.apis.get(a)).map(|a| a.id.clone()),
            stage: match (b.api, b.stage) {
                (Some(a), Some(s)) => config
                    .apis
                    .get(a)
                    .and_then(|a| a.stages.get(s))
                    .map(|s| s.name.clone()),
                _ => None,
            },
            key: b
                .key
                .and_then(|k| config.api_keys.get(k))
                .map(|k| k.id.clone()),
            // compile() checked the text; a bad one would be a zero limit, which alerts.
            limit: Decimal::from_str(&b.limit_usd).unwrap_or_default(),
            alert_at_percent: b.alert_at_percent.clone(),
        })
        .collect()
}

/// Run the evaluator until `shutdown` turns true (it holds the gateway, whose release ends
/// the access-log writer, so it must not outlive serving).
pub fn spawn(
    gateway: Arc<Gateway>,
    store: tollgate_store::StoreUrl,
    every: Duration,
    admin: std::net::SocketAddr,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> LastStatus {
    let last: LastStatus = Arc::default();
    let shared = Arc::clone(&last);
    tokio::spawn(async move {
        let mut tracker = AlertTracker::default();
        let client = http_client();
        let catalog = Arc::new(tollgate_pricing::Catalog::embedded());
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            let config = gateway.config();
            if config.budgets.is_empty() {
                continue;
            }
            let specs = specs(&config);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let (store, catalog, for_eval) = (store.clone(), Arc::clone(&catalog), specs.clone());
            let evaluated = tokio::task::spawn_blocking(move || {
                let mut ledger = tollgate_store::open(&store, tollgate_store::OpenMode::MustExist)
                    .map_err(|e| e.to_string())?;
                tollgate_analytics::evaluate(
                    ledger.as_mut(),
                    &catalog,
                    tollgate_pricing::FreeTier::Off,
                    &for_eval,
                    now,
                )
                .map_err(|e| e.to_string())
            })
            .await;
            let statuses = match evaluated {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot evaluate budgets; their states stay as they were");
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "budget evaluation failed");
                    continue;
                }
            };
            for (name, state) in gateway.budget_states() {
                let reached = statuses.iter().any(|s| s.name == name && s.reached);
                state
                    .over
                    .store(reached, std::sync::atomic::Ordering::Relaxed);
            }
            for alert in tracker.new_alerts(&specs, &statuses) {
                let Some(budget) = config.budgets.iter().find(|b| b.name == alert.budget) else {
                    continue;
                };
                let action = match budget.on_limit {
                    OnLimit::Alert => "alert",
                    OnLimit::Throttle(_) => "throttle",
                    OnLimit::Block => "block",
                };
                tracing::warn!(
                    budget = %alert.budget,
                    month = %alert.month,
                    threshold_percent = alert.threshold_percent,
                    spend_usd = %alert.spend.round_dp(2),
                    limit_usd = %alert.limit,
                    on_limit = action,
                    "budget threshold crossed"
                );
                if let Some(url) = budget.webhook.clone() {
                    let body = alert_json(&alert, action);
                    let client = client.clone();
                    tokio::spawn(async move { post(&client, &url, body).await });
                }
                // And to `alerts.webhooks`, in each one's format.
                if let Some(alerts) = config.alerts.as_ref() {
                    let object: serde_json::Value =
                        serde_json::from_str(&alert_json(&alert, action)).unwrap_or_default();
                    let text = format!(
                        "Budget {} crossed {}% in {}: ${} spent of ${} (on_limit: {action})",
                        alert.budget,
                        alert.threshold_percent,
                        alert.month,
                        alert.spend.round_dp(2),
                        alert.limit,
                    );
                    let link = format!(
                        "{}/#p-kpis",
                        crate::alerts::dashboard_base(Some(alerts), admin)
                    );
                    crate::alerts::notify(&client, Some(alerts), &object, &text, &link);
                }
            }
            if let Ok(mut l) = shared.lock() {
                *l = statuses;
            }
        }
    });
    last
}

/// The webhook's JSON: money as decimal strings.
fn alert_json(a: &Alert, action: &str) -> String {
    serde_json::json!({
        "budget": a.budget,
        "month": a.month,
        "threshold_percent": a.threshold_percent,
        "spend_usd": a.spend.normalize().to_string(),
        "limit_usd": a.limit.normalize().to_string(),
        "percent": a.percent.round_dp(2).normalize().to_string(),
        "on_limit": action,
    })
    .to_string()
}

pub(crate) type HttpClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// The webhook client (plain HTTP).
pub(crate) fn http_client() -> HttpClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>()
}

/// POST once, within the timeout; failures are logged (the alert is not sent again).
pub(crate) async fn post(client: &HttpClient, url: &str, body: String) {
    let req = match http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(%url, error = %e, "invalid budget webhook request");
            return;
        }
    };
    match tokio::time::timeout(WEBHOOK_TIMEOUT, client.request(req)).await {
        Ok(Ok(resp)) if resp.status().is_success() => {}
        Ok(Ok(resp)) => {
            tracing::warn!(%url, status = %resp.status(), "budget webhook refused the alert")
        }
        Ok(Err(e)) => tracing::warn!(%url, error = %e, "budget webhook failed"),
        Err(_) => tracing::warn!(%url, "budget webhook timed out"),
    }
}

/// `GET /admin/budgets`.
pub fn status_json(last: &LastStatus) -> String {
    let rows: Vec<serde_json::Value> = last
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default()
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "month": s.month,
                "limit_usd": s.limit.normalize().to_string(),
                "spend_usd": s.spend.normalize().to_string(),
                "percent": s.percent.round_dp(2).normalize().to_string(),
                "reached": s.reached,
            })
        })
        .collect();
    serde_json::json!({ "budgets": rows }).to_string()
}
