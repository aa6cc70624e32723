//! Anomaly alerts at run time (docs/alerts.md): every `alerts.anomalies.every_seconds`, look
//! for cost anomalies in the ledger's recent days (tollgate-analytics, off the request path)
//! and announce each new one once, to the log and to every `alerts.webhooks` entry, with a
//! link to the dashboard. Webhooks are delivered by the budgets' sender.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rust_decimal::Decimal;
use tollgate_analytics::anomaly::{self, Anomaly};
use tollgate_config::model::{Alerts, WebhookFormat};
use tollgate_proxy::Gateway;

/// Days before today examined by each pass (the daily pass judges whole days).
const LOOKBACK_DAYS: i64 = 2;

/// The dashboard opened on the anomaly's days (the `to` day is included) at its anomalies
/// panel.
pub fn anomaly_link(base: &str, start: i64, end: i64) -> String {
    let day = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .map(|d| d.date().to_string())
            .unwrap_or_default()
    };
    format!(
        "{base}/?period=custom&from={}&to={}#p-anomalies",
        day(start),
        day((end - 1).max(start))
    )
}

/// The dashboard's base URL: `alerts.dashboard_url`, else the admin listener's.
pub fn dashboard_base(alerts: Option<&Alerts>, admin: std::net::SocketAddr) -> String {
    alerts
        .and_then(|a| a.dashboard_url.clone())
        .unwrap_or_else(|| format!("http://{admin}"))
}

/// The body for a webhook of `format`: the generic JSON (`object` plus `"link"`), or
/// `{"text": ...}` for Slack.
pub fn body(format: WebhookFormat, object: &serde_json::Value, text: &str, link: &str) -> String {
    match format {
        WebhookFormat::Generic => {
            let mut o = object.clone();
            if let Some(map) = o.as_object_mut() {
                map.insert("link".into(), link.into());
            }
            o.to_string()
        }
        WebhookFormat::Slack => {
            serde_json::json!({ "text": format!("{text} <{link}|Open the dashboard>") }).to_string()
        }
    }
}

/// Send `object` (or `text`, for Slack) to every webhook of `alerts`.
pub fn notify(
    client: &crate::budgets::HttpClient,
    alerts: Option<&Alerts>,
    object: &serde_json::Value,
    text: &str,
    link: &str,
) {
    for w in alerts.map(|a| a.webhooks.as_slice()).unwrap_or_default() {
        let body = body(w.format, object, text, link);
        let (client, url) = (client.clone(), w.url.clone());
        tokio::spawn(async move { crate::budgets::post(&client, &url, body).await });
    }
}

/// Which anomalies were announced: per (granularity and dimensions), the windows sent. An
/// anomaly overlapping or touching a sent one with the same dimensions is the same incident
/// (it grew, or the examined window moved) and is not sent again. In memory: a restart may
/// announce an ongoing anomaly once more.
#[derive(Debug, Default)]
pub struct Tracker {
    sent: BTreeMap<String, Vec<(i64, i64)>>,
}

impl Tracker {
    /// Whether `a` is new; remembers it.
    pub fn is_new(&mut self, a: &Anomaly) -> bool {
        let mut scope = a.key();
        // The key starts with the start time; the scope is the rest.
        if let Some((_, rest)) = scope.split_once('|') {
            scope = rest.to_owned();
        }
        let windows = self.sent.entry(scope).or_default();
        let new = !windows.iter().any(|&(s, e)| a.start <= e && s <= a.end);
        if let Some(w) = windows
            .iter_mut()
            .find(|(s, e)| a.start <= *e && *s <= a.end)
        {
            *w = (w.0.min(a.start), w.1.max(a.end));
        } else {
            windows.push((a.start, a.end));
        }
        new
    }

    /// Forget windows that ended before `before`.
    pub fn forget(&mut self, before: i64) {
        for w in self.sent.values_mut() {
            w.retain(|&(_, e)| e >= before);
        }
        self.sent.retain(|_, w| !w.is_empty());
    }
}

/// Run the anomaly pass until `shutdown` turns true. Does nothing when the configuration
/// has no `alerts.anomalies` (checked at each tick, so a reload can turn it on).
pub fn spawn(
    gateway: Arc<Gateway>,
    store: tollgate_store::StoreUrl,
    admin: std::net::SocketAddr,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let client = crate::budgets::http_client();
        let catalog = Arc::new(tollgate_pricing::Catalog::embedded());
        let mut tracker = Tracker::default();
        loop {
            let config = gateway.config();
            let settings = config.alerts.as_ref().and_then(|a| a.anomalies.clone());
            let every = settings
                .as_ref()
                .map_or(std::time::Duration::from_secs(60), |s| s.every);
            if let Some(s) = settings {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let from = now - now.rem_euclid(86_400) - LOOKBACK_DAYS * 86_400;
                let min_impact = Decimal::from_str(&s.min_impact_usd).unwrap_or_default();
                let (store, catalog) = (store.clone(), Arc::clone(&catalog));
                let found = tokio::task::spawn_blocking(move || {
                    let mut ledger =
                        tollgate_store::open(&store, tollgate_store::OpenMode::MustExist)
                            .map_err(|e| e.to_string())?;
                    anomaly::detect(
                        ledger.as_mut(),
                        &anomaly::AnomalyOptions {
                            catalog: &catalog,
                            free_tier: tollgate_pricing::FreeTier::Off,
                            from,
                            to: now,
                            sensitivity: s.sensitivity,
                            min_impact,
                            weeks: anomaly::DEFAULT_WEEKS,
                        },
                    )
                    .map_err(|e| e.to_string())
                })
                .await;
                match found {
                    Ok(Ok(found)) => {
                        let base = dashboard_base(config.alerts.as_ref(), admin);
                        for a in &found.anomalies {
                            if !tracker.is_new(a) {
                                continue;
                            }
                            let link = anomaly_link(&base, a.start, a.end);
                            let text = a.summary();
                            tracing::warn!(
                                impact_usd = %a.impact().round_dp(2),
                                start = a.start,
                                link = %link,
                                "{text}"
                            );
                            notify(&client, config.alerts.as_ref(), &a.to_value(), &text, &link);
                        }
                        tracker.forget(from - 7 * 86_400);
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "cannot look for cost anomalies"),
                    Err(e) => tracing::error!(error = %e, "the anomaly pass failed"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_analytics::anomaly::Granularity;

    fn anomaly(start: i64, end: i64, api: &str) -> Anomaly {
        Anomaly {
            start,
            end,
            expected: Decimal::ONE,
            actual: Decimal::TWO,
            score: 9.0,
            dimensions: [("api".to_owned(), api.to_owned())].into(),
            cause: Vec::new(),
            granularity: Granularity::Hour,
        }
    }

    #[test]
    fn an_anomaly_is_announced_once_even_as_it_grows() {
        let mut t = Tracker::default();
        assert!(t.is_new(&anomaly(0, 3_600, "a")));
        assert!(!t.is_new(&anomaly(0, 3_600, "a")));
        assert!(!t.is_new(&anomaly(0, 7_200, "a")), "it grew");
        assert!(!t.is_new(&anomaly(3_600, 10_800, "a")), "the window moved");
        assert!(t.is_new(&anomaly(0, 3_600, "b")), "another API");
        assert!(t.is_new(&anomaly(20_000, 23_600, "a")), "a later incident");
        t.forget(30_000);
        assert!(t.is_new(&anomaly(0, 3_600, "a")));
    }

    #[test]
    fn bodies() {
        let o = serde_json::json!({"impact": "0.77"});
        let g: serde_json::Value = serde_json::from_str(&body(
            WebhookFormat::Generic,
            &o,
            "t",
            "http://x/#anomalies",
        ))
        .unwrap();
        assert_eq!(g["link"], "http://x/#anomalies");
        assert_eq!(g["impact"], "0.77");
        let s: serde_json::Value =
            serde_json::from_str(&body(WebhookFormat::Slack, &o, "t", "http://x/#anomalies"))
                .unwrap();
        assert_eq!(s["text"], "t <http://x/#anomalies|Open the dashboard>");
        assert_eq!(s.as_object().unwrap().len(), 1);
    }
}
