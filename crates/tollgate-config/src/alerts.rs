//! The `alerts` section (docs/alerts.md): where anomaly and budget alerts go, how often
//! `serve` looks for cost anomalies, and the dashboard link they carry.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::compile::Cx;

/// Default seconds between two anomaly passes (one hour).
pub const DEFAULT_EVERY_SECONDS: u64 = 3_600;
/// Default sensitivity (the score an hour or a day must reach), as `tollgate cost anomalies`.
pub const DEFAULT_SENSITIVITY: f64 = 4.0;
/// Default minimum hourly impact in dollars, as `tollgate cost anomalies`.
pub const DEFAULT_MIN_IMPACT_USD: &str = "0.10";

/// Alerts: anomaly and budget alerts to the log and to webhooks.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// Webhooks that receive every alert (cost anomalies and budget thresholds) as a JSON POST.
    #[serde(default)]
    pub webhooks: Vec<RawWebhook>,
    /// Look for cost anomalies in the ledger while serving; off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomalies: Option<RawAnomalyAlerts>,
    /// The dashboard's base URL in alert links (default: `http://` and the admin listener's
    /// address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard_url: Option<String>,
}

/// One webhook.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// An `http://` URL.
    pub url: String,
    /// `generic` (the alert as a JSON object with a `link`) or `slack` (a Slack-compatible
    /// `{"text": ...}` message).
    #[serde(default)]
    pub format: WebhookFormat,
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The alert's JSON object plus `"link"`.
    #[default]
    Generic,
    /// `{"text": "..."}`, as Slack's incoming webhooks (and Mattermost, Rocket.Chat) take.
    Slack,
}

/// The anomaly pass of `serve`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAnomalyAlerts {
    /// Seconds between two passes over the ledger.
    #[serde(default = "default_every_seconds")]
    #[schemars(range(min = 1))]
    pub every_seconds: u64,
    /// The score an hour (or a day) must reach, as `tollgate cost anomalies --sensitivity`.
    #[serde(default = "default_sensitivity")]
    pub sensitivity: f64,
    /// The extra cost an hour must reach, in dollars as a decimal string (a day: five times
    /// it), as `tollgate cost anomalies --min-impact`.
    #[serde(default = "default_min_impact")]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?$"))]
    pub min_impact_usd: String,
}

fn default_every_seconds() -> u64 {
    DEFAULT_EVERY_SECONDS
}

fn default_sensitivity() -> f64 {
    DEFAULT_SENSITIVITY
}

fn default_min_impact() -> String {
    DEFAULT_MIN_IMPACT_USD.to_owned()
}

/// Validated alert settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Alerts {
    pub webhooks: Vec<AlertWebhook>,
    pub anomalies: Option<AnomalyAlerts>,
    /// Without a trailing `/`.
    pub dashboard_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertWebhook {
    pub url: String,
    pub format: WebhookFormat,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyAlerts {
    pub every: Duration,
    pub sensitivity: f64,
    /// USD, exact decimal text as written (`"0.10"`); parsed by whoever detects.
    pub min_impact_usd: String,
}

fn is_decimal(s: &str) -> bool {
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    !whole.is_empty()
        && !frac.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && whole.len() + frac.len() <= 20
}

/// Check the section.
pub(crate) fn compile(cx: &mut Cx<'_>, raw: &RawAlerts) -> Alerts {
    let mut webhooks = Vec::new();
    for (i, w) in raw.webhooks.iter().enumerate() {
        let valid = w
            .url
            .strip_prefix("http://")
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
        if !valid {
            cx.err(
                &format!("/alerts/webhooks/{i}/url"),
                format!("invalid webhook `{}`: expected an http:// URL", w.url),
            );
        }
        webhooks.push(AlertWebhook {
            url: w.url.clone(),
            format: w.format,
        });
    }
    let anomalies = raw.anomalies.as_ref().map(|a| {
        if a.every_seconds == 0 {
            cx.err(
                "/alerts/anomalies/every_seconds",
                "expected at least 1 second between anomaly passes",
            );
        }
        if !(a.sensitivity.is_finite() && a.sensitivity > 0.0) {
            cx.err(
                "/alerts/anomalies/sensitivity",
                format!("invalid sensitivity {}: expected a positive number", a.sensitivity),
            );
        }
        if !is_decimal(&a.min_impact_usd) {
            cx.err(
                "/alerts/anomalies/min_impact_usd",
                format!(
                    "invalid min_impact_usd `{}`: expected dollars as a decimal string such as \"0.10\"",
                    a.min_impact_usd
                ),
            );
        }
        AnomalyAlerts {
            every: Duration::from_secs(a.every_seconds.max(1)),
            sensitivity: a.sensitivity,
            min_impact_usd: a.min_impact_usd.clone(),
        }
    });
    let dashboard_url = raw.dashboard_url.as_ref().map(|u| {
        let ok = ["http://", "https://"]
            .iter()
            .any(|p| u.strip_prefix(p).is_some_and(|rest| !rest.is_empty()));
        if !ok {
            cx.err(
                "/alerts/dashboard_url",
                format!("invalid dashboard_url `{u}`: expected an http:// or https:// URL"),
            );
        }
        u.trim_end_matches('/').to_owned()
    });
    Alerts {
        webhooks,
        anomalies,
        dashboard_url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(alerts: &str) -> Result<crate::GatewayConfig, Vec<String>> {
        let text = format!("listeners: [{{name: main, address: \"127.0.0.1:0\"}}]\n{alerts}");
        crate::load_str(std::path::Path::new("gw.yaml"), &text)
            .map_err(|e| e.0.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn defaults_and_both_formats() {
        let c = load(
            "alerts:\n  webhooks:\n    - {url: \"http://127.0.0.1:9/a\"}\n    - {url: \"http://h/s\", format: slack}\n  anomalies: {}\n  dashboard_url: \"https://cost.example.com/\"\n",
        )
        .unwrap();
        let a = c.alerts.unwrap();
        assert_eq!(a.webhooks[0].format, WebhookFormat::Generic);
        assert_eq!(a.webhooks[1].format, WebhookFormat::Slack);
        let an = a.anomalies.unwrap();
        assert_eq!(an.every, Duration::from_secs(DEFAULT_EVERY_SECONDS));
        assert_eq!(an.sensitivity, DEFAULT_SENSITIVITY);
        assert_eq!(an.min_impact_usd, "0.10");
        assert_eq!(a.dashboard_url.as_deref(), Some("https://cost.example.com"));
        assert!(load("").unwrap().alerts.is_none());
    }

    #[test]
    fn bad_values_are_located() {
        let errs = load(
            "alerts:\n  webhooks: [{url: \"https://x\"}]\n  anomalies: {every_seconds: 60, sensitivity: -1}\n  dashboard_url: \"ftp://x\"\n",
        )
        .unwrap_err();
        let has = |needle: &str| errs.iter().any(|e| e.contains(needle));
        assert!(has("gw.yaml:3:"), "{errs:#?}");
        assert!(
            has("invalid webhook `https://x`: expected an http:// URL"),
            "{errs:#?}"
        );
        assert!(has("invalid sensitivity -1"), "{errs:#?}");
        assert!(has("invalid dashboard_url `ftp://x`"), "{errs:#?}");
        let errs = load("alerts: {anomalies: {min_impact_usd: \"ten\"}}\n").unwrap_err();
        assert!(errs.iter().any(|e| e.contains("ten")), "{errs:#?}");
        let errs = load("alerts: {webhooks: [{url: \"http://x\", format: teams}]}\n").unwrap_err();
        assert!(errs.iter().any(|e| e.contains("teams")), "{errs:#?}");
        let errs = load("alerts: {every: 1h}\n").unwrap_err();
        assert!(
            errs.iter().any(|e| e.contains("unknown field `every`")),
            "{errs:#?}"
        );
    }
}
