//! Test helpers for tollgate, used only as a dev-dependency.
//!
//! Each helper is a real HTTP server (tokio + hyper 1) bound to `127.0.0.1:0` inside the test
//! process, so tests never fight over fixed ports. A server stops when its handle is dropped.
//!
//! - [`spawn_lambda`]: a mock of the Lambda Invoke API
//!   (`POST /2015-03-31/functions/{name}/invocations`) that records every event it receives.
//! - [`spawn_echo_upstream`]: an HTTP upstream that echoes each request back as JSON, with a few
//!   control paths (`/status/{code}`, `/slow/{ms}`, `/big/{n}`).
//! - [`spawn_jwt_issuer`]: a JWT issuer with an Ed25519 key, its JWKS and OpenID discovery.

mod jwt;
mod lambda;
mod server;
mod upstream;

pub use jwt::{spawn_jwt_issuer, JwtIssuer, KID};
pub use lambda::{spawn_lambda, LambdaReply, LambdaServer};
pub use upstream::{spawn_echo_upstream, Upstream};
