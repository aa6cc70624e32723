//! Listeners: accept connections, serve HTTP/1.1 with the gateway's limits, and drain on
//! shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::gateway::{Gateway, Peer};

/// hyper's own header limit sits above AWS's 10,240 bytes so that the gateway, not hyper,
/// answers oversized requests, with AWS's status and JSON body.
const HYPER_MAX_HEADER_BYTES: usize = 64 * 1024;

/// Bind every listener `copies` times with `SO_REUSEPORT`, one copy per worker thread: each
/// worker accepts on its own socket and the kernel spreads connections across them, so workers
/// share no accept queue and no lock (the thread-per-core layout nginx and haproxy use).
/// A port 0 is resolved by the first bind and reused by the copies.
///
/// Returns `sockets[worker][listener]`.
pub fn bind_reuseport(
    addresses: &[SocketAddr],
    copies: usize,
) -> std::io::Result<Vec<Vec<std::net::TcpListener>>> {
    let mut out: Vec<Vec<std::net::TcpListener>> = (0..copies.max(1)).map(|_| Vec::new()).collect();
    for a in addresses {
        let mut addr = *a;
        for worker in out.iter_mut() {
            let l = bind_one(addr)
                .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {a}: {e}")))?;
            addr = l.local_addr()?;
            worker.push(l);
        }
    }
    Ok(out)
}

fn bind_one(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// Serve `listeners` (indexed like the configuration's) until `shutdown` turns true, then stop
/// accepting and wait up to the configured grace period for in-flight requests.
pub async fn serve(
    gateway: Arc<Gateway>,
    listeners: Vec<std::net::TcpListener>,
    mut shutdown: watch::Receiver<bool>,
) {
    // This thread's meter shard goes to the flusher every flush interval, with the time of
    // the WebSocket connections it serves so far.
    let meter_ticker = gateway.meter().cloned().map(|meter| {
        let every = gateway.config().metering.flush_interval;
        let gw = Arc::clone(&gateway);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                gw.accrue_websockets();
                meter.flush_thread();
            }
        })
    });
    let mut accept_tasks = Vec::new();
    for (idx, listener) in listeners.into_iter().enumerate() {
        let listener = match TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot register a listener with the runtime");
                continue;
            }
        };
        let gateway = Arc::clone(&gateway);
        let mut stop = shutdown.clone();
        accept_tasks.push(tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    r = listener.accept() => match r {
                        Ok(x) => x,
                        Err(e) => {
                            // Out of file descriptors and the like: back off, keep serving.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    _ = stop.changed() => if *stop.borrow() { break } else { continue },
                };
                let _ = stream.set_nodelay(true);
                let server = gateway.config().server.clone();
                let gw = Arc::clone(&gateway);
                let client = Peer::new(peer);
                let svc = service_fn(move |req| Arc::clone(&gw).handle(idx, client.clone(), req));
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(server.header_read_timeout)
                    .keep_alive(true)
                    .max_buf_size(HYPER_MAX_HEADER_BYTES + 16 * 1024)
                    .max_headers(200)
                    .serve_connection(TokioIo::new(stream), svc)
                    // WebSocket APIs take the connection over after `101 Switching Protocols`.
                    .with_upgrades();
                // hyper-util's GracefulShutdown cannot watch upgradeable connections, so the
                // drain is counted here: shutdown asks each connection to finish its request
                // and waits for the count to reach zero.
                let guard = gateway.drain_guard();
                let mut conn_stop = stop.clone();
                tokio::spawn(async move {
                    let _guard = guard;
                    let mut conn = std::pin::pin!(conn);
                    let finished = tokio::select! {
                        r = conn.as_mut() => Some(r),
                        _ = stopped(&mut conn_stop) => None,
                    };
                    let result = match finished {
                        Some(r) => r,
                        None => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                });
            }
        }));
    }
    let _ = shutdown.wait_for(|s| *s).await;
    for t in accept_tasks {
        let _ = t.await;
    }
    let grace = gateway.config().server.shutdown_grace;
    // WebSocket connections close with 1001 Going Away and run `$disconnect`.
    gateway.close_websockets();
    tracing::info!(connections = gateway.drain().active(), "draining");
    if tokio::time::timeout(grace, gateway.drain().wait_idle())
        .await
        .is_err()
    {
        tracing::warn!(?grace, "grace period over; closing remaining connections");
    }
    if let Some(t) = meter_ticker {
        t.abort();
    }
    if let Some(meter) = gateway.meter() {
        // Connections cut by the grace period still have their time metered up to now.
        gateway.accrue_websockets();
        meter.flush_thread();
    }
}

/// Resolves once `stop` is true (without holding the watch's guard across an await).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
