//! One open WebSocket connection: messages in, route selection, integrations and route
//! responses, `@connections` posts out, ping/pong, the idle and duration limits, and the
//! meter — then `$disconnect`.
//!
//! A connection handles one message at a time, in order (later messages wait in the socket),
//! and writes its answers in batches: it flushes when no further message is ready.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use http::HeaderMap;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tollgate_meter::UnitsUsage;
use tollgate_types::usage::{Reason, UsageMeter, IDLE_THRESHOLDS_MINUTES};

use super::event::{EventBase, EventKind};
use super::registry::{Conn, Outbound};
use super::{call, meter_event, unix_secs, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};
use crate::context::{Context, WsEvent};
use crate::gateway::{Gateway, Peer};
use crate::mapping::Sources;
use crate::runtime::{Runtime, SlotRef};

type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// Messages handled back to back before the connection yields to its neighbours.
const BATCH: usize = 64;

/// A read buffer this small keeps an idle connection's memory in the few-KB range
/// (bench/RESULTS.md); messages larger than it are read in several steps.
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Answers are written when this much is buffered, or when no message is waiting.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// How a connection ended: the close code and reason `$disconnect` reports.
struct Ended {
    code: u16,
    reason: Cow<'static, str>,
}

impl Ended {
    fn new(code: u16, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// Everything a connection's task needs; built by the upgrade.
pub struct ConnTask {
    pub gw: Arc<Gateway>,
    pub rt: Arc<Runtime>,
    pub api_idx: usize,
    pub stage_idx: usize,
    pub conn: Arc<Conn>,
    pub peer: Peer,
    pub domain: Arc<str>,
    /// `domain` as `$context.domainName` reads it (built once, not per message).
    pub domain_header: Option<http::HeaderValue>,
    /// `requestContext.authorizer` of the `$connect` authorizer, for later events.
    pub authorizer: Option<serde_json::Value>,
}

impl ConnTask {
    pub async fn run(self, on_upgrade: hyper::upgrade::OnUpgrade) {
        let _drain = self.gw.drain_guard();
        let ended = match on_upgrade.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default()
                    .read_buffer_size(READ_BUFFER_BYTES)
                    .write_buffer_size(WRITE_BUFFER_BYTES)
                    .max_frame_size(Some(MAX_FRAME_BYTES))
                    .max_message_size(Some(MAX_MESSAGE_BYTES));
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                self.serve(ws).await
            }
            Err(_) => Ended::new(1006, "Connection closed before the upgrade completed"),
        };
        self.finish(ended).await;
    }

    async fn serve(&self, mut ws: Ws) -> Ended {
        let (api, _) = self.rt.api(self.api_idx);
        let Some(settings) = &api.websocket else {
            return Ended::new(1011, "Not a WebSocket API");
        };
        let started = tokio::time::Instant::from_std(self.conn.started);
        let max_deadline = started + settings.max_duration;
        let mut stop = self.gw.ws_stop_signal();
        // One timer per connection, moved only when it fires: messages do not touch the
        // timer wheel; the deadline is recomputed from `last_active` when it expires.
        let deadline = |last_ms: u64| {
            (started + Duration::from_millis(last_ms) + settings.idle_timeout).min(max_deadline)
        };
        let timer = tokio::time::sleep_until(deadline(0));
        tokio::pin!(timer);
        loop {
            tokio::select! {
                biased;
                _ = stopped(&mut stop) => {
                    return close(&mut ws, CloseCode::Away, "Going away").await;
                }
                m = ws.next() => {
                    let mut next = m;
                    for _ in 0..BATCH {
                        match next {
                            None => return Ended::new(1006, "Connection reset without a close frame"),
                            Some(m) => {
                                if let Some(end) = self.on_frame(&mut ws, m).await {
                                    return end;
                                }
                            }
                        }
                        match ws.next().now_or_never() {
                            Some(m) => next = m,
                            None => break,
                        }
                    }
                    if ws.flush().await.is_err() {
                        return Ended::new(1006, "Connection reset");
                    }
                }
                _ = self.conn.wake.notified() => {
                    for _ in 0..BATCH {
                        match self.conn.pop() {
                            Some(Outbound::Data(data)) => {
                                let dims = self.manage_dims();
                                let now = Stamp::new(Instant::now(), &self.conn);
                                if self.send(&mut ws, data, &dims, now).await.is_err() {
                                    return Ended::new(1006, "Connection reset");
                                }
                            }
                            Some(Outbound::Close) => {
                                return close(&mut ws, CloseCode::Normal, "Connection closed by the API").await;
                            }
                            None => break,
                        }
                    }
                    // More than a batch waiting: come back after the others had a turn.
                    if self.conn.outbox.lock().is_ok_and(|q| !q.is_empty()) {
                        self.conn.wake.notify_one();
                    }
                    if ws.flush().await.is_err() {
                        return Ended::new(1006, "Connection reset");
                    }
                }
                _ = &mut timer => {
                    let now = tokio::time::Instant::now();
                    if now >= max_deadline {
                        return close(&mut ws, CloseCode::Away, "Going away").await
                            .reason_for_log("Connection duration exceeded");
                    }
                    let last = self.conn.last_active.load(Ordering::Relaxed);
                    let next = deadline(last);
                    if now >= next {
                        return close(&mut ws, CloseCode::Away, "Going away").await
                            .reason_for_log("Connection idle timeout");
                    }
                    timer.as_mut().reset(next);
                }
            }
        }
    }

    /// One frame from the client; `Some` ends the connection.
    async fn on_frame(&self, ws: &mut Ws, m: Result<Message, WsError>) -> Option<Ended> {
        match m {
            Ok(Message::Text(t)) => self.on_data(ws, Bytes::from(t), false).await,
            Ok(Message::Binary(b)) => self.on_data(ws, b, true).await,
            Ok(Message::Ping(p)) => {
                // tungstenite answers with a pong on the next write: both are control frames.
                self.meter_control(p.len() as u64);
                self.meter_control(p.len() as u64);
                None
            }
            Ok(Message::Pong(p)) => {
                self.meter_control(p.len() as u64);
                None
            }
            Ok(Message::Close(frame)) => {
                // tungstenite queued the closing handshake's reply; send it.
                let _ = ws.flush().await;
                Some(match frame {
                    Some(f) => Ended::new(u16::from(f.code), f.reason.as_str().to_owned()),
                    None => Ended::new(1005, "Client-side close frame status not set"),
                })
            }
            Ok(Message::Frame(_)) => None,
            Err(WsError::Capacity(e)) => {
                let what = match e {
                    CapacityError::MessageTooLong { .. } => "Message too big",
                    _ => "Frame too big",
                };
                Some(close(ws, CloseCode::Size, what).await)
            }
            Err(WsError::Utf8(_)) => Some(close(ws, CloseCode::Invalid, "Invalid UTF-8").await),
            Err(WsError::Protocol(e)) => {
                let reason = e.to_string();
                Some(
                    close(ws, CloseCode::Protocol, "Protocol error")
                        .await
                        .reason_for_log(reason),
                )
            }
            Err(_) => Some(Ended::new(1006, "Connection reset")),
        }
    }

    /// A data message: route selection, the integration, the route response.
    async fn on_data(&self, ws: &mut Ws, data: Bytes, binary: bool) -> Option<Ended> {
        let (api, art) = self.rt.api(self.api_idx);
        let (Some(settings), Some(wsr)) = (&api.websocket, &art.ws) else {
            return Some(Ended::new(1011, "Not a WebSocket API"));
        };
        let wm = &wsr.metrics[self.stage_idx];
        // One reading of each clock per message: the meter's minute, the idle timer and the
        // latency all start from these.
        let start = Instant::now();
        let now = Stamp::new(start, &self.conn);
        self.activity(now.age_ms);
        self.conn.messages_in.fetch_add(1, Ordering::Relaxed);
        wm.message_count.increment(1);
        let mut ctx = Box::new(self.context("MESSAGE", true, now.wall));
        let stage = &api.stages[self.stage_idx];
        let empty = HeaderMap::new();

        // Route selection (aws-facts §4.1): the expression over the JSON body; a message
        // that is not JSON, or a key with no route, goes to `$default`.
        let route = {
            let key = match &wsr.selector {
                super::select::Selector::General => {
                    let src = Sources::new(&empty, "", &data, "", &[], &stage.variables, &ctx);
                    (!binary && src.request_json().is_some())
                        .then(|| src.eval(&settings.route_selection))
                }
                fast => fast.select(&data, binary),
            };
            key.and_then(|k| wsr.custom.get(k.as_str()).copied())
                .or(settings.default)
        };
        let unmatched = api.routes.len();
        let route_slot = route.unwrap_or(unmatched);
        let slot = self.rt.slot(SlotRef::Route {
            api: self.api_idx as u32,
            stage: self.stage_idx as u32,
            route: route_slot as u32,
        });
        let dims = Arc::clone(&slot.usage);
        ctx.slot = SlotRef::Route {
            api: self.api_idx as u32,
            stage: self.stage_idx as u32,
            route: route_slot as u32,
        };
        ctx.request_bytes = data.len() as u64;
        self.meter_message(&dims, data.len() as u64, Reason::Websocket, now.at_secs);

        let mut integration_latency = None;
        let reply: Option<Bytes> = match route {
            None => {
                // AWS's answer when no route matches and there is no `$default`.
                wm.client_errors.increment(1);
                ctx.status = 403;
                ctx.error = Some(crate::errors::GatewayError::Forbidden);
                Some(self.error_frame("Forbidden", &ctx))
            }
            Some(r) => {
                let route = &api.routes[r];
                ctx.route_key = Some(Arc::clone(&art.route_keys[r]));
                let message_id = ctx
                    .ws
                    .as_ref()
                    .and_then(|w| w.message_id.as_ref())
                    .map(|m| m.as_str().to_owned())
                    .unwrap_or_default();
                let base = self.base(&ctx);
                let kind = EventKind::Message {
                    route_key: &route.key,
                    message_id: &message_id,
                    body: &data,
                    binary,
                };
                let started = Instant::now();
                // A mock answers in place; other integrations' futures are boxed so that an
                // idle connection's task stays small (bench/RESULTS.md).
                let result = match super::mock_answer(api, self.stage_idx, r, &data, &ctx) {
                    Some(answer) => Ok(answer),
                    None => {
                        Box::pin(call(
                            &self.gw,
                            &self.rt,
                            api,
                            self.stage_idx,
                            r,
                            &base,
                            &kind,
                            &data,
                            &ctx,
                        ))
                        .await
                    }
                };
                integration_latency = Some(started.elapsed());
                match result {
                    Err(f) => {
                        wm.integration_errors.increment(1);
                        ctx.status = f.kind.status().as_u16();
                        ctx.integration_status = f.status;
                        ctx.integration_error = Some(f.message);
                        ctx.error = Some(f.kind);
                        Some(self.error_frame("Internal server error", &ctx))
                    }
                    Ok(resp) => {
                        let status = resp.status.as_u16();
                        ctx.integration_status = Some(status);
                        ctx.status = status;
                        if status >= 400 {
                            wm.integration_errors.increment(1);
                        }
                        route.route_response.then_some(resp.body)
                    }
                }
            }
        };
        let mut end = None;
        if let Some(body) = reply {
            ctx.response_length = body.len() as u64;
            if self.send(ws, body, &dims, now).await.is_err() {
                end = Some(Ended::new(1006, "Connection reset"));
            }
        }
        let elapsed = start.elapsed();
        ctx.response_latency_ms = elapsed.as_millis() as u64;
        ctx.integration_latency_ms = integration_latency.map(|d| d.as_millis() as u64);
        slot.metrics.record(
            ctx.status,
            elapsed,
            integration_latency,
            ctx.request_bytes + ctx.response_length,
        );
        ctx.reason = Reason::Websocket;
        self.log(ctx);
        end
    }

    /// `{"message": "...", "connectionId": "...", "requestId": "..."}`, as AWS sends errors
    /// to the client.
    fn error_frame(&self, message: &str, ctx: &Context) -> Bytes {
        Bytes::from(
            serde_json::json!({
                "message": message,
                "connectionId": &*self.conn.id,
                "requestId": ctx.request_id.as_str(),
            })
            .to_string(),
        )
    }

    /// Send one message to the client (buffered until the next flush) and meter it.
    async fn send(
        &self,
        ws: &mut Ws,
        data: Bytes,
        dims: &Arc<tollgate_meter::RouteDims>,
        now: Stamp,
    ) -> Result<(), WsError> {
        let len = data.len() as u64;
        // Text when the answer is UTF-8 (what AWS sends for a string), else binary; checked
        // once (the clone is a reference count).
        let msg = match Utf8Bytes::try_from(data.clone()) {
            Ok(text) => Message::Text(text),
            Err(_) => Message::Binary(data),
        };
        ws.feed(msg).await?;
        self.activity(now.age_ms);
        self.conn.messages_out.fetch_add(1, Ordering::Relaxed);
        if let Some(wsr) = &self.rt.apis[self.api_idx].ws {
            wsr.metrics[self.stage_idx].message_count.increment(1);
        }
        self.meter_message(dims, len, Reason::Websocket, now.at_secs);
        // What goes to the client is data transfer out, as for HTTP responses: the payload
        // and the frame header (2 bytes, 4 from 126 bytes, 10 from 64 KB; servers do not mask).
        if let Some(meter) = self.gw.meter() {
            let header = match len {
                0..=125 => 2,
                126..=65_535 => 4,
                _ => 10,
            };
            let mut u = usage(
                &self.conn,
                dims,
                Reason::Websocket,
                UsageMeter::DataOutBytes,
                len + header,
                1,
            );
            u.at_secs = now.at_secs;
            meter.record_units(u);
        }
        Ok(())
    }

    /// Dimensions of `@connections` posts: the stage's `@connections` slot.
    fn manage_dims(&self) -> Arc<tollgate_meter::RouteDims> {
        let (api, _) = self.rt.api(self.api_idx);
        Arc::clone(
            &self
                .rt
                .slot(SlotRef::Route {
                    api: self.api_idx as u32,
                    stage: self.stage_idx as u32,
                    route: super::manage_slot(api),
                })
                .usage,
        )
    }

    /// Meter one message in either direction: its 32 KB units and its size bucket.
    fn meter_message(
        &self,
        dims: &Arc<tollgate_meter::RouteDims>,
        bytes: u64,
        reason: Reason,
        at_secs: i64,
    ) {
        let Some(meter) = self.gw.meter() else {
            return;
        };
        let units = tollgate_meter::websocket_message_units(bytes);
        self.conn.units.fetch_add(units, Ordering::Relaxed);
        let mut u = usage(
            &self.conn,
            dims,
            reason,
            UsageMeter::WebsocketMessages,
            units,
            1,
        );
        u.at_secs = at_secs;
        meter.record_units(u);
        meter.record_units(UnitsUsage {
            meter: UsageMeter::message_size(bytes),
            units: 1,
            ..u
        });
    }

    /// A ping or pong: a control frame, billable only if `metering.billable.websocket_control`.
    fn meter_control(&self, bytes: u64) {
        if let Some(meter) = self.gw.meter() {
            meter.record_units(usage(
                &self.conn,
                &self.conn.dims,
                Reason::WebsocketControl,
                UsageMeter::WebsocketMessages,
                tollgate_meter::websocket_message_units(bytes),
                1,
            ));
        }
    }

    /// A message at `now` (ms since the connection opened): meter the idle stretch it ends,
    /// then note the time.
    fn activity(&self, now: u64) {
        let since = self.conn.last_active.load(Ordering::Relaxed);
        let idle = now.saturating_sub(since);
        if idle >= u64::from(IDLE_THRESHOLDS_MINUTES[0]) * 60_000 {
            accrue_idle(&self.gw, &self.conn, since, idle);
        }
        self.conn.last_active.store(now, Ordering::Relaxed);
    }

    /// `$context` for an event of this connection.
    fn context(&self, event_type: &'static str, message: bool, now: SystemTime) -> Context {
        let (_, art) = self.rt.api(self.api_idx);
        Context {
            api_id: Some(Arc::clone(&art.id)),
            stage: Some(Arc::clone(&self.conn.stage)),
            domain_name: self.domain_header.clone(),
            status: 200,
            ws: Some(WsEvent {
                connection_id: Arc::clone(&self.conn.id),
                connected_at: self.conn.connected_ms,
                event_type,
                message_id: message.then(|| self.gw.next_request_id()),
                api_key: self.conn.api_key.clone(),
            }),
            ..Context::new(
                self.gw.next_request_id(),
                now,
                Arc::clone(&self.rt.account_id),
                self.conn.source_ip,
                Reason::Websocket,
            )
        }
    }

    fn base<'a>(&'a self, ctx: &'a Context) -> EventBase<'a> {
        let (api, _) = self.rt.api(self.api_idx);
        EventBase {
            api_id: &api.id,
            stage: &self.conn.stage,
            domain_name: &self.domain,
            connection_id: &self.conn.id,
            connected_at: self.conn.connected_ms,
            request_id: ctx.request_id.as_str(),
            request_time: ctx.request_time,
            source_ip: self.peer.ip.to_str().unwrap_or(""),
            user_agent: self.conn.user_agent.as_deref(),
            api_key: self.conn.api_key.as_deref(),
            authorizer: self.authorizer.clone(),
        }
    }

    fn log(&self, ctx: Box<Context>) {
        if let (Some(log), Some(format)) = (self.gw.access_log(), &self.rt.access_log_format) {
            log.log(format, ctx);
        }
    }

    /// After the close: the last connection time and idle time, the metrics, `$disconnect`
    /// (best effort, as AWS), its access-log line; then the connection leaves the registry.
    async fn finish(self, ended: Ended) {
        self.conn.closed.store(true, Ordering::Release);
        accrue(&self.gw, &self.conn, true);
        let (api, art) = self.rt.api(self.api_idx);
        if let Some(wsr) = &art.ws {
            let wm = &wsr.metrics[self.stage_idx];
            wm.connections.decrement(1.0);
            wm.duration
                .record(self.conn.started.elapsed().as_secs_f64());
        }
        let mut ctx = Box::new(self.context("DISCONNECT", false, SystemTime::now()));
        ctx.route_key = Some(Arc::from("$disconnect"));
        ctx.slot = SlotRef::Route {
            api: self.api_idx as u32,
            stage: self.stage_idx as u32,
            route: api.routes.len() as u32,
        };
        if let Some(r) = api.websocket.as_ref().and_then(|w| w.disconnect) {
            ctx.slot = SlotRef::Route {
                api: self.api_idx as u32,
                stage: self.stage_idx as u32,
                route: r as u32,
            };
            let headers = HeaderMap::new();
            let base = self.base(&ctx);
            let kind = EventKind::Disconnect {
                headers: &headers,
                status_code: ended.code,
                reason: &ended.reason,
            };
            let started = Instant::now();
            let result = Box::pin(call(
                &self.gw,
                &self.rt,
                api,
                self.stage_idx,
                r,
                &base,
                &kind,
                &Bytes::new(),
                &ctx,
            ))
            .await;
            ctx.integration_latency_ms = Some(started.elapsed().as_millis() as u64);
            match result {
                Ok(resp) => ctx.integration_status = Some(resp.status.as_u16()),
                Err(f) => {
                    if let Some(wsr) = &art.ws {
                        wsr.metrics[self.stage_idx].integration_errors.increment(1);
                    }
                    ctx.integration_status = f.status;
                    ctx.integration_error = Some(f.message);
                }
            }
            ctx.principal = None;
            meter_event(
                &self.gw,
                &self.rt,
                self.api_idx,
                self.stage_idx,
                r,
                &ctx,
                &self.peer,
                0,
            );
        }
        ctx.reason = Reason::WebsocketControl;
        tracing::debug!(connection = %self.conn.id, code = ended.code, reason = %ended.reason, "websocket closed");
        self.log(ctx);
        self.gw.ws_registry().remove(&self.conn.id);
    }
}

trait ReasonForLog {
    fn reason_for_log(self, reason: impl Into<Cow<'static, str>>) -> Ended;
}

impl ReasonForLog for Ended {
    /// The reason `$disconnect` reports when it differs from the close frame's text.
    fn reason_for_log(mut self, reason: impl Into<Cow<'static, str>>) -> Ended {
        self.reason = reason.into();
        self
    }
}

/// Resolves once shutdown has begun (the watch's guard is not held across an await).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Close from the server's side with `code` and `reason`.
async fn close(ws: &mut Ws, code: CloseCode, reason: &'static str) -> Ended {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = ws.send(Message::Close(Some(frame))).await;
    // Give the client a moment to answer the closing handshake, then let go.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    Ended::new(u16::from(code), reason)
}

/// Hand a connection's time since the last accrual to the meter (and, at the end, count the
/// connection once). Runs on the connection's own worker thread.
pub(crate) fn accrue(gw: &Gateway, conn: &Conn, last: bool) {
    let now = conn.age_ms();
    let delta = conn.take_unaccrued(now);
    if let Some(meter) = gw.meter() {
        if delta > 0 || last {
            meter.record_units(usage(
                conn,
                &conn.dims,
                Reason::Websocket,
                UsageMeter::WebsocketConnectionMs,
                delta,
                u64::from(last),
            ));
        }
    }
    let since = conn.last_active.load(Ordering::Relaxed);
    accrue_idle(gw, conn, since, now.saturating_sub(since));
}

/// Meter the idle time beyond each threshold in the stretch since `since`.
fn accrue_idle(gw: &Gateway, conn: &Conn, since: u64, idle_ms: u64) {
    let Some(meter) = gw.meter() else {
        return;
    };
    let deltas = conn.take_idle(since, idle_ms);
    for (minutes, delta) in IDLE_THRESHOLDS_MINUTES.iter().zip(deltas) {
        if delta > 0 {
            meter.record_units(usage(
                conn,
                &conn.dims,
                Reason::Websocket,
                UsageMeter::WebsocketIdleMs { minutes: *minutes },
                delta,
                0,
            ));
        }
    }
}

/// Usage of `conn` now, attributed to its `$connect` identity (API key, principal, address).
fn usage<'a>(
    conn: &'a Conn,
    dims: &'a Arc<tollgate_meter::RouteDims>,
    reason: Reason,
    meter: UsageMeter,
    units: u64,
    events: u64,
) -> UnitsUsage<'a> {
    UnitsUsage {
        dims,
        at_secs: unix_secs(SystemTime::now()),
        client: conn.source_ip,
        principal: conn.principal.as_deref(),
        api_key: conn.api_key.as_ref(),
        reason,
        meter,
        units,
        events,
    }
}

/// The time of one message, read once: wall clock, its second, and the connection's age.
#[derive(Clone, Copy)]
struct Stamp {
    wall: SystemTime,
    at_secs: i64,
    age_ms: u64,
}

impl Stamp {
    fn new(at: Instant, conn: &Conn) -> Self {
        let wall = SystemTime::now();
        Self {
            wall,
            at_secs: unix_secs(wall),
            age_ms: at.saturating_duration_since(conn.started).as_millis() as u64,
        }
    }
}
