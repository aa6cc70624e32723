//! Listeners: accept connections, serve HTTP/1.1 with the gateway's limits, and drain on
//! shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::gateway::Gateway;

/// hyper's own header limit sits above AWS's 10,240 bytes so that the gateway, not hyper,
/// answers oversized requests, with AWS's status and JSON body.
const HYPER_MAX_HEADER_BYTES: usize = 64 * 1024;

/// Bind every listener of the configuration (before dropping privileges or forking work).
pub async fn bind(addresses: &[SocketAddr]) -> std::io::Result<Vec<TcpListener>> {
    let mut out = Vec::with_capacity(addresses.len());
    for a in addresses {
        let l = TcpListener::bind(a)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {a}: {e}")))?;
        out.push(l);
    }
    Ok(out)
}

/// Serve `listeners` (indexed like the configuration's) until `shutdown` turns true, then stop
/// accepting and wait up to the configured grace period for in-flight requests.
pub async fn serve(
    gateway: Arc<Gateway>,
    listeners: Vec<TcpListener>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = Arc::new(GracefulShutdown::new());
    let mut accept_tasks = Vec::new();
    for (idx, listener) in listeners.into_iter().enumerate() {
        let gateway = Arc::clone(&gateway);
        let graceful = Arc::clone(&graceful);
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
                let svc = service_fn(move |req| Arc::clone(&gw).handle(idx, peer, req));
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(server.header_read_timeout)
                    .keep_alive(true)
                    .max_buf_size(HYPER_MAX_HEADER_BYTES + 16 * 1024)
                    .max_headers(200)
                    .serve_connection(TokioIo::new(stream), svc);
                let conn = graceful.watcher().watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
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
    // Every accept task has ended, so this is the last reference.
    let Ok(graceful) = Arc::try_unwrap(graceful) else {
        return;
    };
    tracing::info!(connections = graceful.count(), "draining");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(?grace, "grace period over; closing remaining connections");
    }
}
