//! A mock of the Lambda Invoke API: `POST /2015-03-31/functions/{name}/invocations`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use crate::server::{self, respond, Running};

/// What the mock function returns for one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LambdaReply {
    /// 200 with this raw function output as the body.
    Ok(Vec<u8>),
    /// 200 with `X-Amz-Function-Error: Unhandled` and this body (the error payload), as Lambda
    /// answers when the function throws.
    FunctionError(Vec<u8>),
    /// Waits, then answers like [`LambdaReply::Ok`].
    Delay(Duration, Vec<u8>),
    /// 404 `ResourceNotFoundException`, as Lambda answers for a function that does not exist.
    NotFound,
}

type Events = Arc<Mutex<Vec<(String, Value)>>>;

/// A running Lambda mock; it stops when dropped.
#[derive(Debug)]
pub struct LambdaServer {
    running: Running,
    events: Events,
}

impl LambdaServer {
    /// `http://127.0.0.1:PORT`, the value for the gateway's Lambda endpoint setting.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.running.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// Every invocation received so far, in arrival order: (function name, event).
    /// The name is percent-decoded (`arn%3Aaws%3A…` → `arn:aws:…`).
    pub fn events(&self) -> Vec<(String, Value)> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many invocations were received.
    pub fn invocations(&self) -> usize {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Starts a Lambda Invoke API mock on 127.0.0.1:0. `handler` gets the function name from the path
/// and the parsed event, and says what to answer. A body that is not JSON gets 400
/// `InvalidRequestContentException` and is not recorded; other paths and methods get 404
/// `ResourceNotFoundException`.
///
/// # Panics
/// If 127.0.0.1:0 cannot be bound.
pub async fn spawn_lambda<F>(handler: F) -> LambdaServer
where
    F: Fn(&str, Value) -> LambdaReply + Send + Sync + 'static,
{
    let events: Events = Arc::default();
    let handler = Arc::new(handler);
    let recorded = events.clone();
    let running = server::serve(Arc::new(move |req| {
        let handler = handler.clone();
        let recorded = recorded.clone();
        Box::pin(async move { invoke(req, &*handler, &recorded).await })
    }))
    .await;
    LambdaServer { running, events }
}

async fn invoke<F>(req: Request<Incoming>, handler: &F, events: &Events) -> Response<Full<Bytes>>
where
    F: Fn(&str, Value) -> LambdaReply,
{
    let Some(name) = function_name(req.method(), req.uri().path()) else {
        return not_found(req.uri().path());
    };
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return lambda_error(400, "InvalidRequestContentException", "unreadable body"),
    };
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return lambda_error(
            400,
            "InvalidRequestContentException",
            "Could not parse request body into json",
        );
    };
    events
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((name.clone(), event.clone()));
    let reply = handler(&name, event);
    let (output, function_error) = match reply {
        LambdaReply::Ok(output) => (output, false),
        LambdaReply::FunctionError(output) => (output, true),
        LambdaReply::Delay(delay, output) => {
            tokio::time::sleep(delay).await;
            (output, false)
        }
        LambdaReply::NotFound => return not_found(&name),
    };
    let mut response = respond(200, "application/json", output);
    let headers = response.headers_mut();
    headers.insert(
        "x-amz-executed-version",
        http::HeaderValue::from_static("$LATEST"),
    );
    if function_error {
        headers.insert(
            "x-amz-function-error",
            http::HeaderValue::from_static("Unhandled"),
        );
    }
    response
}

/// The decoded `{name}` of `POST /2015-03-31/functions/{name}/invocations`.
fn function_name(method: &Method, path: &str) -> Option<String> {
    if method != Method::POST {
        return None;
    }
    let name = path
        .strip_prefix("/2015-03-31/functions/")?
        .strip_suffix("/invocations")?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    Some(percent_decode_str(name).decode_utf8_lossy().into_owned())
}

fn not_found(what: &str) -> Response<Full<Bytes>> {
    lambda_error(
        404,
        "ResourceNotFoundException",
        &format!("Function not found: {what}"),
    )
}

/// A Lambda-style error: `x-amzn-ErrorType` header and `{"Type":"User","Message":…}` body.
fn lambda_error(status: u16, kind: &'static str, message: &str) -> Response<Full<Bytes>> {
    let body = json!({ "Type": "User", "Message": message, "__type": kind }).to_string();
    let mut response = respond(status, "application/json", body);
    response
        .headers_mut()
        .insert("x-amzn-errortype", http::HeaderValue::from_static(kind));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_function_names() {
        let post = Method::POST;
        assert_eq!(
            function_name(&post, "/2015-03-31/functions/hello/invocations").as_deref(),
            Some("hello")
        );
        assert_eq!(
            function_name(
                &post,
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Ahi/invocations"
            )
            .as_deref(),
            Some("arn:aws:lambda:us-east-1:1:function:hi")
        );
        assert_eq!(
            function_name(&post, "/2015-03-31/functions//invocations"),
            None
        );
        assert_eq!(function_name(&post, "/other"), None);
        assert_eq!(
            function_name(&Method::GET, "/2015-03-31/functions/x/invocations"),
            None
        );
    }
}
