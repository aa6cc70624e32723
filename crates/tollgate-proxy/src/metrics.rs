//! Prometheus metrics, named after AWS's CloudWatch metrics (aws-facts.md §5.4).
//!
//! Handles are registered once per (API, stage, route template) when a configuration is loaded,
//! so the request path only bumps atomics: no label formatting, no map lookup, no lock.
//! Labels stay bounded: route templates (`GET /pets/{id}`), never raw paths, keys or clients.

use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

static METADATA: Metadata<'static> = Metadata::new("tollgate", Level::INFO, Some(module_path!()));

/// Latency buckets in seconds: 1 ms to 30 s (the longest integration timeout).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// WebSocket connection durations in seconds: 1 s to the 2-hour maximum and beyond.
const DURATION_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 86400.0,
];
const WS_DURATION: &str = "tollgate_websocket_connection_duration_seconds";

/// Handles for one WebSocket API stage (AWS's WebSocket metrics, aws-facts §5.4).
#[derive(Clone)]
pub struct WsMetrics {
    /// Open connections.
    pub connections: metrics::Gauge,
    /// AWS `ConnectCount`: `$connect` events.
    pub connect_count: Counter,
    /// AWS `MessageCount`: messages, both directions.
    pub message_count: Counter,
    /// AWS `ClientError`: 4xx answered by the gateway before the integration.
    pub client_errors: Counter,
    /// AWS `IntegrationError`: the integration failed or answered 4xx/5xx.
    pub integration_errors: Counter,
    /// Durations of closed connections.
    pub duration: Histogram,
}

/// The process-wide registry, owned by the gateway (not installed globally, so several
/// gateways can live in one test process).
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

/// Handles for one API, stage and route.
#[derive(Clone)]
pub struct RouteMetrics {
    /// AWS `Count`.
    pub count: Counter,
    /// AWS `4xx`.
    pub client_errors: Counter,
    /// AWS `5xx`.
    pub server_errors: Counter,
    /// AWS `Latency`.
    pub latency: Histogram,
    /// AWS `IntegrationLatency`.
    pub integration_latency: Histogram,
    /// AWS `DataProcessed`.
    pub data_processed: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        // Both calls fail only on an empty bucket list.
        let builder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(WS_DURATION.to_owned()),
                    DURATION_BUCKETS,
                )
            })
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        Self {
            recorder: Arc::new(recorder),
            handle,
        }
    }

    /// Handles for `api` (id and name), `stage` and `route` (a route key, or `-` when none matched).
    pub fn route(&self, api_id: &str, api: &str, stage: &str, route: &str) -> RouteMetrics {
        let labels = || {
            vec![
                Label::new("api_id", api_id.to_owned()),
                Label::new("api", api.to_owned()),
                Label::new("stage", stage.to_owned()),
                Label::new("route", route.to_owned()),
            ]
        };
        let counter = |name: &'static str| {
            self.recorder
                .register_counter(&Key::from_parts(name, labels()), &METADATA)
        };
        let histogram = |name: &'static str| {
            self.recorder
                .register_histogram(&Key::from_parts(name, labels()), &METADATA)
        };
        RouteMetrics {
            count: counter("tollgate_requests_total"),
            client_errors: counter("tollgate_4xx_total"),
            server_errors: counter("tollgate_5xx_total"),
            latency: histogram("tollgate_latency_seconds"),
            integration_latency: histogram("tollgate_integration_latency_seconds"),
            data_processed: counter("tollgate_data_processed_bytes_total"),
        }
    }

    /// Handles for a WebSocket API stage.
    pub fn websocket(&self, api_id: &str, api: &str, stage: &str) -> WsMetrics {
        let labels = || {
            vec![
                Label::new("api_id", api_id.to_owned()),
                Label::new("api", api.to_owned()),
                Label::new("stage", stage.to_owned()),
            ]
        };
        let counter = |name: &'static str| {
            self.recorder
                .register_counter(&Key::from_parts(name, labels()), &METADATA)
        };
        WsMetrics {
            connections: self.recorder.register_gauge(
                &Key::from_parts("tollgate_websocket_connections", labels()),
                &METADATA,
            ),
            connect_count: counter("tollgate_websocket_connect_total"),
            message_count: counter("tollgate_websocket_messages_total"),
            client_errors: counter("tollgate_websocket_client_errors_total"),
            integration_errors: counter("tollgate_websocket_integration_errors_total"),
            duration: self
                .recorder
                .register_histogram(&Key::from_parts(WS_DURATION, labels()), &METADATA),
        }
    }

    /// A counter without labels (gateway-internal events).
    pub fn counter(&self, name: &'static str) -> Counter {
        self.recorder
            .register_counter(&Key::from_name(name), &METADATA)
    }

    /// A gauge without labels (gateway-internal state).
    pub fn gauge(&self, name: &'static str) -> metrics::Gauge {
        self.recorder
            .register_gauge(&Key::from_name(name), &METADATA)
    }

    /// The text exposition format for `/metrics`.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Fold recorded histogram samples into buckets; run every few seconds so memory stays flat
    /// when nobody scrapes.
    pub fn spawn_upkeep(&self) -> tokio::task::JoinHandle<()> {
        let handle = self.handle.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                handle.run_upkeep();
            }
        })
    }
}

impl RouteMetrics {
    /// Record one finished request.
    pub fn record(
        &self,
        status: u16,
        latency: Duration,
        integration: Option<Duration>,
        bytes: u64,
    ) {
        self.count.increment(1);
        if (400..500).contains(&status) {
            self.client_errors.increment(1);
        } else if status >= 500 {
            self.server_errors.increment(1);
        }
        self.latency.record(latency.as_secs_f64());
        if let Some(i) = integration {
            self.integration_latency.record(i.as_secs_f64());
        }
        self.data_processed.increment(bytes);
    }
}
