//! WebSocket APIs (aws-facts.md §2.4, §4.1): route keys, the route selection expression, which
//! routes may carry authorization and route responses, and the connection limits.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::compile::Cx;
use crate::model::{
    Authorizer, AuthorizerKind, Integration, IntegrationKind, Protocol, Route, RouteMatcher,
    Template, TemplatePart, VarRef, WebsocketApi,
};
use crate::schema;
use crate::template::{self, Direction};

/// AWS's default route selection expression.
pub const DEFAULT_ROUTE_SELECTION: &str = "$request.body.action";
/// AWS: "Idle Connection Timeout: 10 minutes".
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// AWS: "Connection duration for WebSocket API: 2 hours".
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(7200);
/// AWS: "New connections per second per account (across all WebSocket APIs) per Region: 500".
pub const DEFAULT_CONNECTIONS_PER_SECOND: u32 = 500;
/// Messages waiting for one client before `@connections` posts get 429.
pub const DEFAULT_SEND_QUEUE: usize = 256;
/// AWS limits route keys to 128 characters.
const MAX_ROUTE_KEY_CHARS: usize = 128;

/// Parse a WebSocket route key: `$connect`, `$disconnect`, `$default`, or a custom key that
/// does not start with `$` (aws-facts.md §4.1).
pub(crate) fn parse_route_key(key: &str) -> Result<RouteMatcher, String> {
    match key {
        "$default" => Ok(RouteMatcher::Default),
        "$connect" | "$disconnect" => Ok(RouteMatcher::Websocket),
        _ if key.is_empty() => Err("a route key must not be empty".into()),
        _ if key.starts_with('$') => Err(
            "custom WebSocket route keys must not start with `$` (predefined keys: `$connect`, \
             `$disconnect`, `$default`)"
                .into(),
        ),
        _ if key.chars().count() > MAX_ROUTE_KEY_CHARS => {
            Err(format!("expected at most {MAX_ROUTE_KEY_CHARS} characters"))
        }
        _ if key.chars().any(char::is_control) => {
            Err("a route key must not contain control characters".into())
        }
        _ => Ok(RouteMatcher::Websocket),
    }
}

impl Cx<'_> {
    /// The WebSocket part of API `a` (`None` for other protocols, after checking that they
    /// use no WebSocket-only field).
    pub(crate) fn websocket_api(
        &mut self,
        p: &str,
        a: &schema::Api,
        routes: &[Route],
        integrations: &[Integration],
        authorizers: &[Authorizer],
    ) -> Option<WebsocketApi> {
        let protocol = match a.protocol {
            schema::Protocol::Http => Protocol::Http,
            schema::Protocol::Rest => Protocol::Rest,
            schema::Protocol::Websocket => Protocol::Websocket,
        };
        if protocol != Protocol::Websocket {
            if a.route_selection_expression.is_some() {
                self.err(
                    &format!("{p}/route_selection_expression"),
                    "`route_selection_expression` applies to `protocol: websocket` APIs only",
                );
            }
            if a.websocket.is_some() {
                self.err(
                    &format!("{p}/websocket"),
                    "`websocket` applies to `protocol: websocket` APIs only",
                );
            }
            for (j, r) in a.routes.iter().enumerate() {
                if r.route_response {
                    self.err(
                        &format!("{p}/routes/{j}/route_response"),
                        "`route_response` applies to `protocol: websocket` APIs only",
                    );
                }
            }
            return None;
        }

        if a.cors.is_some() {
            self.err(
                &format!("{p}/cors"),
                "CORS does not apply to WebSocket APIs",
            );
        }
        let text = a
            .route_selection_expression
            .clone()
            .unwrap_or_else(|| DEFAULT_ROUTE_SELECTION.to_owned());
        let route_selection = match route_selection(&text) {
            Ok(t) => t,
            Err(e) => {
                self.err(
                    &format!("{p}/route_selection_expression"),
                    format!("invalid route selection expression `{text}`: {e}"),
                );
                Template::default()
            }
        };

        let mut connect = None;
        let mut disconnect = None;
        let mut default = None;
        let mut custom = BTreeMap::new();
        for (j, (r, route)) in a.routes.iter().zip(routes).enumerate() {
            let rp = format!("{p}/routes/{j}");
            match r.key.as_str() {
                "$connect" => connect = Some(j),
                "$disconnect" => disconnect = Some(j),
                "$default" => default = Some(j),
                k => {
                    custom.insert(k.to_owned(), j);
                }
            }
            let is_connect = r.key == "$connect";
            if !is_connect {
                let only_connect = "only the `$connect` route of a WebSocket API can have \
                                    authorization (AWS)";
                if r.authorizer.is_some() {
                    self.err(&format!("{rp}/authorizer"), only_connect);
                }
                if r.api_key_required {
                    self.err(&format!("{rp}/api_key_required"), only_connect);
                }
                if route.aws_iam {
                    self.err(&format!("{rp}/authorization"), only_connect);
                }
            }
            if let Some(auth) = route.authorizer.and_then(|i| authorizers.get(i)) {
                if matches!(auth.kind, AuthorizerKind::Jwt(_)) {
                    self.err(
                        &format!("{rp}/authorizer"),
                        format!(
                            "authorizer `{}` is a jwt authorizer; WebSocket APIs take request \
                             authorizers or `authorization: aws_iam` (AWS)",
                            auth.name
                        ),
                    );
                }
            }
            if r.route_response && (is_connect || r.key == "$disconnect") {
                self.err(
                    &format!("{rp}/route_response"),
                    format!("`{}` cannot have a route response", r.key),
                );
            }
        }

        let limits = a.websocket.clone().unwrap_or_default();
        let mock_bodies = integrations
            .iter()
            .map(|i| match &i.kind {
                IntegrationKind::Mock { body, .. } => {
                    let ip = format!("{p}/integrations/{}/body", crate::load::escape(&i.name));
                    match template::parse_mapping_value(body, Direction::Request) {
                        Ok(t) => Some(t),
                        Err(e) => {
                            self.err(&ip, format!("invalid mock body: {e}"));
                            None
                        }
                    }
                }
                _ => None,
            })
            .collect();
        Some(WebsocketApi {
            route_selection_text: text,
            route_selection,
            idle_timeout: limits
                .idle_timeout_seconds
                .map_or(DEFAULT_IDLE_TIMEOUT, Duration::from_secs),
            max_duration: limits
                .max_duration_seconds
                .map_or(DEFAULT_MAX_DURATION, Duration::from_secs),
            max_connections: limits.max_connections,
            connections_per_second: limits
                .connections_per_second
                .unwrap_or(DEFAULT_CONNECTIONS_PER_SECOND),
            send_queue: limits.send_queue.map_or(DEFAULT_SEND_QUEUE, |n| n as usize),
            mock_bodies,
            connect,
            disconnect,
            default,
            custom,
        })
    }
}

/// Parse a route selection expression: `$request.body.*` references and literal text only
/// (aws-facts.md §4.1). `\$default` is the static key `$default`.
fn route_selection(text: &str) -> Result<Template, String> {
    if text == "\\$default" {
        return Ok(Template::literal("$default"));
    }
    let t = template::parse_mapping_value(text, Direction::Request)?;
    for part in &t.parts {
        match part {
            TemplatePart::Literal(_) => {}
            TemplatePart::Var(VarRef::RequestBodyPath(_)) => {}
            TemplatePart::Var(_) => {
                return Err(
                    "only `$request.body.NAME` references are allowed (AWS evaluates the \
                     expression against the message body)"
                        .into(),
                )
            }
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JsonPathSegment;

    #[test]
    fn route_keys() {
        assert_eq!(parse_route_key("$default"), Ok(RouteMatcher::Default));
        assert_eq!(parse_route_key("$connect"), Ok(RouteMatcher::Websocket));
        assert_eq!(parse_route_key("sendMessage"), Ok(RouteMatcher::Websocket));
        assert_eq!(parse_route_key("chat/join"), Ok(RouteMatcher::Websocket));
        assert!(parse_route_key("$join").is_err());
        assert!(parse_route_key("").is_err());
        assert!(parse_route_key(&"a".repeat(129)).is_err());
    }

    #[test]
    fn selection_expressions() {
        let t = route_selection("$request.body.action").unwrap();
        assert_eq!(
            t.parts,
            vec![TemplatePart::Var(VarRef::RequestBodyPath(vec![
                JsonPathSegment::Key("action".into())
            ]))]
        );
        let t = route_selection("${request.body.service}/${request.body.action}").unwrap();
        assert_eq!(t.parts.len(), 3);
        assert_eq!(
            route_selection("\\$default").unwrap(),
            Template::literal("$default")
        );
        assert_eq!(
            route_selection("action").unwrap(),
            Template::literal("action")
        );
        assert!(route_selection("$request.header.x").is_err());
        assert!(route_selection("${context.requestId}").is_err());
    }
}
