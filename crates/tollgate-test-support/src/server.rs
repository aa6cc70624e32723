//! The accept loop shared by the helpers: HTTP/1.1 and HTTP/2 (prior knowledge) on 127.0.0.1:0.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>;
pub(crate) type Handler = Arc<dyn Fn(Request<Incoming>) -> BoxFuture + Send + Sync>;

/// A running server; dropping it aborts the accept loop and every open connection.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds 127.0.0.1:0 and serves `handler` until the returned value is dropped.
///
/// # Panics
/// If the loopback listener cannot be bound (a broken test environment).
pub(crate) async fn serve(handler: Handler) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address of listener");
    let task = tokio::spawn(async move {
        // Connections live in the set so that aborting this task drops (aborts) them too.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let handler = handler.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |req| {
                            let response = handler(req);
                            async move { Ok::<_, Infallible>(response.await) }
                        });
                        // A client that goes away mid-request is not an error for a test server.
                        let _ = auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    });
    Running { addr, task }
}

/// A response with a body and a content type.
pub(crate) fn respond(
    status: u16,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}
