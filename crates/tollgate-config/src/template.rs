//! Parsers for the two template languages of the config, producing [`model::Template`]:
//!
//! - parameter-mapping values (aws-facts §3.6): a value that starts with `$` and has no `${` is
//!   one whole expression (`$request.header.x-id`, `$context.requestId`,
//!   `$request.body.items[0].name`); otherwise it is literal text with `${request.path.id}`-style
//!   references embedded. `''` is the empty string.
//! - integration URIs and Lambda function names (aws-facts §3.1): literal text with
//!   `${stageVariables.NAME}` and the route's path parameters `{name}`.
//!
//! Both are tiny grammars; a general template engine would accept far more than AWS does, so
//! they are written by hand.

use crate::model::{JsonPathSegment, Template, TemplatePart, VarRef};

/// HTTP API `$context` variables (aws-facts §5.1, DG23 http-api-logging-variables.md).
/// `authorizer.*` (claims and Lambda authorizer context) is open-ended and checked apart.
pub const CONTEXT_VARIABLES: &[&str] = &[
    "accountId",
    // WebSocket APIs (aws-facts §5.3).
    "connectedAt",
    "connectionId",
    "eventType",
    "messageId",
    "messageDirection",
    "error.validationErrorString",
    "identity.apiKey",
    "identity.apiKeyId",
    "apiId",
    "authorizer.error",
    "authorizer.principalId",
    "awsEndpointRequestId",
    "awsEndpointRequestId2",
    "customDomain.basePathMatched",
    "dataProcessed",
    "domainName",
    "domainPrefix",
    "error.message",
    "error.messageString",
    "error.responseType",
    "extendedRequestId",
    "httpMethod",
    "identity.accountId",
    "identity.caller",
    "identity.cognitoAuthenticationProvider",
    "identity.cognitoAuthenticationType",
    "identity.cognitoIdentityId",
    "identity.cognitoIdentityPoolId",
    "identity.principalOrgId",
    "identity.clientCert.clientCertPem",
    "identity.clientCert.subjectDN",
    "identity.clientCert.issuerDN",
    "identity.clientCert.serialNumber",
    "identity.clientCert.validity.notBefore",
    "identity.clientCert.validity.notAfter",
    "identity.sourceIp",
    "identity.user",
    "identity.userAgent",
    "identity.userArn",
    "integration.error",
    "integration.integrationStatus",
    "integration.latency",
    "integration.requestId",
    "integration.status",
    "integrationErrorMessage",
    "integrationLatency",
    "integrationStatus",
    "path",
    "protocol",
    "requestId",
    "requestTime",
    "requestTimeEpoch",
    "responseLatency",
    "responseLength",
    "routeKey",
    "stage",
    "status",
];

/// Whether `name` (after `$context.`) is an HTTP API context variable. `authorizer.claims.X` and
/// `authorizer.X` name authorizer output and are open-ended (aws-facts §5.1).
pub fn is_context_variable(name: &str) -> bool {
    if CONTEXT_VARIABLES.contains(&name) {
        return true;
    }
    name.strip_prefix("authorizer.")
        .is_some_and(|rest| !rest.is_empty() && rest.split('.').all(|s| !s.is_empty()))
}

/// Which side of the integration a mapping value is evaluated on: it decides the allowed roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `request_parameters`: `$request.*`, `$context.*`, `$stageVariables.*`.
    Request,
    /// `response_parameters`: `$response.*`, `$context.*`, `$stageVariables.*`.
    Response,
}

/// Parse a parameter-mapping value (aws-facts §3.6).
pub fn parse_mapping_value(value: &str, direction: Direction) -> Result<Template, String> {
    if value == "''" {
        return Ok(Template::default());
    }
    if value.starts_with('$') && !value.contains("${") {
        let var = parse_reference(&value[1..], value, direction)?;
        return Ok(Template {
            parts: vec![TemplatePart::Var(var)],
        });
    }
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unterminated `${{` in `{value}`"));
        };
        let expr = &after[..end];
        let var = parse_reference(expr, &format!("${{{expr}}}"), direction)?;
        if !literal.is_empty() {
            parts.push(TemplatePart::Literal(std::mem::take(&mut literal)));
        }
        parts.push(TemplatePart::Var(var));
        rest = &after[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() || parts.is_empty() {
        parts.push(TemplatePart::Literal(literal));
    }
    Ok(Template { parts })
}

/// Parse `expr` (a reference without its leading `$` or braces, e.g. `request.header.x-id`);
/// `shown` is how the user wrote it, for messages.
fn parse_reference(expr: &str, shown: &str, direction: Direction) -> Result<VarRef, String> {
    let (root, rest) = match expr.split_once('.') {
        Some((root, rest)) => (root, Some(rest)),
        None => (expr, None),
    };
    let allowed = match direction {
        Direction::Request => "`$request.*`, `$context.*` or `$stageVariables.*`",
        Direction::Response => "`$response.*`, `$context.*` or `$stageVariables.*`",
    };
    let non_empty = |what: &str, name: Option<&str>| -> Result<String, String> {
        match name {
            Some(n) if !n.is_empty() => Ok(n.to_owned()),
            _ => Err(format!("`{shown}` needs a {what} name")),
        }
    };
    match (root, direction) {
        ("request", Direction::Request) => {
            let (kind, name) = split_kind(rest);
            match kind {
                "header" => Ok(VarRef::RequestHeader(header_name(
                    &non_empty("header", name)?,
                    shown,
                )?)),
                "querystring" => Ok(VarRef::RequestQueryString(non_empty(
                    "query string parameter",
                    name,
                )?)),
                "path" => match name {
                    None => Ok(VarRef::RequestPath),
                    Some(n) if is_param_name(n) => Ok(VarRef::RequestPathParam(n.to_owned())),
                    Some(n) => Err(format!(
                        "`{shown}`: `{n}` is not a path parameter name (letters, digits and `_`)"
                    )),
                },
                "body" => match name {
                    None => Ok(VarRef::RequestBody),
                    Some(path) => Ok(VarRef::RequestBodyPath(parse_json_path(path, shown)?)),
                },
                _ => Err(format!(
                    "unknown reference `{shown}`: expected `$request.header.NAME`, \
                     `$request.querystring.NAME`, `$request.body`, `$request.body.PATH`, \
                     `$request.path` or `$request.path.NAME`"
                )),
            }
        }
        ("response", Direction::Response) => {
            let (kind, name) = split_kind(rest);
            match kind {
                "header" => Ok(VarRef::ResponseHeader(header_name(
                    &non_empty("header", name)?,
                    shown,
                )?)),
                "body" => match name {
                    None => Ok(VarRef::ResponseBody),
                    Some(path) => Ok(VarRef::ResponseBodyPath(parse_json_path(path, shown)?)),
                },
                _ => Err(format!(
                    "unknown reference `{shown}`: expected `$response.header.NAME`, \
                     `$response.body` or `$response.body.PATH`"
                )),
            }
        }
        ("request", Direction::Response) => Err(format!(
            "`{shown}` cannot be used in response parameters: use {allowed}"
        )),
        ("response", Direction::Request) => Err(format!(
            "`{shown}` cannot be used in request parameters: use {allowed}"
        )),
        ("context", _) => {
            let name = non_empty("variable", rest)?;
            if is_context_variable(&name) {
                Ok(VarRef::Context(name))
            } else {
                Err(format!("unknown context variable `$context.{name}`"))
            }
        }
        ("stageVariables", _) => {
            let name = non_empty("stage variable", rest)?;
            if is_stage_variable_name(&name) {
                Ok(VarRef::StageVariable(name))
            } else {
                Err(format!(
                    "`{shown}`: `{name}` is not a stage variable name (1 to 64 letters, digits and `_`)"
                ))
            }
        }
        _ => Err(format!("unknown reference `{shown}`: use {allowed}")),
    }
}

/// A header name in a reference, lower-cased; `http` decides what a valid name is.
fn header_name(name: &str, shown: &str) -> Result<String, String> {
    match http::HeaderName::from_bytes(name.as_bytes()) {
        Ok(h) => Ok(h.as_str().to_owned()),
        Err(_) => Err(format!("`{shown}`: `{name}` is not a valid header name")),
    }
}

/// Split `header.x-id` into (`header`, `x-id`) and `body[0].a` into (`body`, `[0].a`): the
/// kind runs up to the first `.` or `[`; a `.` separator is dropped, a `[` is kept.
fn split_kind(rest: Option<&str>) -> (&str, Option<&str>) {
    let Some(r) = rest else {
        return ("", None);
    };
    match r.find(['.', '[']) {
        Some(i) if r.as_bytes()[i] == b'.' => (&r[..i], Some(&r[i + 1..])),
        Some(i) => (&r[..i], Some(&r[i..])),
        None => (r, None),
    }
}

/// Parse the JSONPath after `$request.body.` / `$response.body.`: keys separated by `.`, and
/// `[N]` indices or `['key']` keys. AWS rejects recursive descent (`..`) and filters
/// (aws-facts §3.6); wildcards make no sense for a single value, so they are rejected too.
fn parse_json_path(path: &str, shown: &str) -> Result<Vec<JsonPathSegment>, String> {
    let mut segments = Vec::new();
    let bytes = path.as_bytes();
    let mut i = 0;
    // `expect_key` is true at the start and after a `.`: a key name must follow.
    let mut expect_key = true;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                if expect_key {
                    return Err(format!(
                        "`{shown}`: recursive descent `..` and empty keys are not supported"
                    ));
                }
                expect_key = true;
                i += 1;
            }
            b'[' => {
                if expect_key && !segments.is_empty() {
                    return Err(format!("`{shown}`: expected a key after `.`"));
                }
                let Some(close) = path[i..].find(']') else {
                    return Err(format!("`{shown}`: unterminated `[`"));
                };
                let inner = &path[i + 1..i + close];
                if let Ok(n) = inner.parse::<usize>() {
                    segments.push(JsonPathSegment::Index(n));
                } else if let Some(key) = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                {
                    segments.push(JsonPathSegment::Key(key.to_owned()));
                } else {
                    return Err(format!(
                        "`{shown}`: `[{inner}]` is not supported (only `[N]` indices and \
                         `['key']`; no filters or wildcards)"
                    ));
                }
                expect_key = false;
                i += close + 1;
            }
            _ => {
                if !expect_key {
                    return Err(format!("`{shown}`: expected `.` or `[` after `]`"));
                }
                let end = path[i..].find(['.', '[']).map_or(path.len(), |e| i + e);
                let key = &path[i..end];
                if key == "*" || key.contains(['*', '?', '(', ')', '@', ']', '$']) {
                    return Err(format!(
                        "`{shown}`: `{key}` is not supported (no filters or wildcards)"
                    ));
                }
                segments.push(JsonPathSegment::Key(key.to_owned()));
                expect_key = false;
                i = end;
            }
        }
    }
    if expect_key {
        return Err(format!("`{shown}`: the path ends with `.`"));
    }
    Ok(segments)
}

/// Parse an integration URI or a Lambda function name: literal text with
/// `${stageVariables.NAME}` and path parameters `{name}` (aws-facts §3.1).
pub fn parse_uri_template(value: &str) -> Result<Template, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = value;
    while let Some(start) = rest.find('{') {
        let stage_var = start > 0 && rest.as_bytes()[start - 1] == b'$';
        let lit_end = if stage_var { start - 1 } else { start };
        literal.push_str(&rest[..lit_end]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            return Err(format!("unterminated `{{` in `{value}`"));
        };
        let inner = &after[..end];
        let var = if stage_var {
            match inner.strip_prefix("stageVariables.") {
                Some(name) if is_stage_variable_name(name) => VarRef::StageVariable(name.to_owned()),
                Some(name) => {
                    return Err(format!(
                        "`${{{inner}}}`: `{name}` is not a stage variable name (1 to 64 letters, digits and `_`)"
                    ))
                }
                None => {
                    return Err(format!(
                        "`${{{inner}}}` cannot be used here: only `${{stageVariables.NAME}}` and \
                         path parameters `{{name}}`"
                    ))
                }
            }
        } else if let Some(name) = inner.strip_suffix('+') {
            return Err(format!(
                "`{{{inner}}}`: write the greedy path parameter as `{{{name}}}` here"
            ));
        } else if is_param_name(inner) {
            VarRef::RequestPathParam(inner.to_owned())
        } else {
            return Err(format!(
                "`{{{inner}}}` is not a path parameter (letters, digits and `_`)"
            ));
        };
        if !literal.is_empty() {
            parts.push(TemplatePart::Literal(std::mem::take(&mut literal)));
        }
        parts.push(TemplatePart::Var(var));
        rest = &after[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() || parts.is_empty() {
        parts.push(TemplatePart::Literal(literal));
    }
    Ok(Template { parts })
}

/// A path parameter name: `[A-Za-z0-9_]+`.
pub fn is_param_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A stage variable name: `[A-Za-z0-9_]{1,64}` (aws-facts §2.2).
pub fn is_stage_variable_name(name: &str) -> bool {
    name.len() <= 64 && is_param_name(name)
}

/// The path parameters (`VarRef::RequestPathParam`) a template reads.
pub fn path_params(template: &Template) -> impl Iterator<Item = &str> {
    template.parts.iter().filter_map(|p| match p {
        TemplatePart::Var(VarRef::RequestPathParam(name)) => Some(name.as_str()),
        _ => None,
    })
}

/// The `$context.NAME` / `${context.NAME}` variables of an access-log format, tokenized like the
/// access-log writer does: a name runs over letters, digits, `.` and `_`, and does not end in `.`.
pub fn access_log_variables(format: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = format;
    while let Some(pos) = rest.find('$') {
        let after = &rest[pos + 1..];
        let (braced, body) = match after.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, after),
        };
        rest = after;
        let Some(name_start) = body.strip_prefix("context.") else {
            continue;
        };
        let len = if braced {
            name_start.find('}').unwrap_or(0)
        } else {
            let mut len = name_start
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                .unwrap_or(name_start.len());
            while len > 0 && name_start.as_bytes()[len - 1] == b'.' {
                len -= 1;
            }
            len
        };
        if len > 0 {
            names.push(name_start[..len].to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use JsonPathSegment::{Index, Key};

    fn var(v: VarRef) -> TemplatePart {
        TemplatePart::Var(v)
    }
    fn lit(s: &str) -> TemplatePart {
        TemplatePart::Literal(s.to_owned())
    }
    fn req(s: &str) -> Result<Vec<TemplatePart>, String> {
        parse_mapping_value(s, Direction::Request).map(|t| t.parts)
    }
    fn resp(s: &str) -> Result<Vec<TemplatePart>, String> {
        parse_mapping_value(s, Direction::Response).map(|t| t.parts)
    }

    #[test]
    fn whole_expressions() {
        assert_eq!(
            req("$request.header.X-Id"),
            Ok(vec![var(VarRef::RequestHeader("x-id".into()))])
        );
        assert_eq!(
            req("$request.querystring.Page"),
            Ok(vec![var(VarRef::RequestQueryString("Page".into()))])
        );
        assert_eq!(
            req("$context.requestId"),
            Ok(vec![var(VarRef::Context("requestId".into()))])
        );
        assert_eq!(
            req("$context.authorizer.claims.sub"),
            Ok(vec![var(VarRef::Context("authorizer.claims.sub".into()))])
        );
        assert_eq!(
            req("$stageVariables.host"),
            Ok(vec![var(VarRef::StageVariable("host".into()))])
        );
        assert_eq!(req("$request.path"), Ok(vec![var(VarRef::RequestPath)]));
        assert_eq!(
            req("$request.path.id"),
            Ok(vec![var(VarRef::RequestPathParam("id".into()))])
        );
        assert_eq!(req("$request.body"), Ok(vec![var(VarRef::RequestBody)]));
        assert_eq!(
            req("$request.body.items[0].name"),
            Ok(vec![var(VarRef::RequestBodyPath(vec![
                Key("items".into()),
                Index(0),
                Key("name".into())
            ]))])
        );
        assert_eq!(
            req("$request.body['a b'][2][3]"),
            Ok(vec![var(VarRef::RequestBodyPath(vec![
                Key("a b".into()),
                Index(2),
                Index(3)
            ]))])
        );
        assert_eq!(
            resp("$response.header.Location"),
            Ok(vec![var(VarRef::ResponseHeader("location".into()))])
        );
        assert_eq!(resp("$response.body"), Ok(vec![var(VarRef::ResponseBody)]));
        assert_eq!(
            resp("$response.body.id"),
            Ok(vec![var(VarRef::ResponseBodyPath(vec![Key("id".into())]))])
        );
    }

    #[test]
    fn embedded_references_and_literals() {
        assert_eq!(
            req("${request.path.name} ${request.path.id}"),
            Ok(vec![
                var(VarRef::RequestPathParam("name".into())),
                lit(" "),
                var(VarRef::RequestPathParam("id".into())),
            ])
        );
        assert_eq!(
            req("Bearer ${stageVariables.token}!"),
            Ok(vec![
                lit("Bearer "),
                var(VarRef::StageVariable("token".into())),
                lit("!")
            ])
        );
        assert_eq!(req("static"), Ok(vec![lit("static")]));
        assert_eq!(req("costs $5"), Ok(vec![lit("costs $5")]));
        assert_eq!(req("''"), Ok(vec![]));
        assert_eq!(req(""), Ok(vec![lit("")]));
        assert_eq!(
            req("id-${context.requestId}"),
            Ok(vec![lit("id-"), var(VarRef::Context("requestId".into()))])
        );
    }

    #[test]
    fn mapping_errors() {
        assert_eq!(
            req("$foo.bar"),
            Err("unknown reference `$foo.bar`: use `$request.*`, `$context.*` or `$stageVariables.*`".into())
        );
        assert_eq!(
            req("$response.header.x"),
            Err("`$response.header.x` cannot be used in request parameters: use `$request.*`, `$context.*` or `$stageVariables.*`".into())
        );
        assert_eq!(
            resp("${request.header.x}"),
            Err("`${request.header.x}` cannot be used in response parameters: use `$response.*`, `$context.*` or `$stageVariables.*`".into())
        );
        assert_eq!(
            req("$context.requestid"),
            Err("unknown context variable `$context.requestid`".into())
        );
        assert_eq!(
            req("$request.body..a"),
            Err(
                "`$request.body..a`: recursive descent `..` and empty keys are not supported"
                    .into()
            )
        );
        assert_eq!(
            req("$request.body.items[?(@.x)]"),
            Err("`$request.body.items[?(@.x)]`: `[?(@.x)]` is not supported (only `[N]` indices and `['key']`; no filters or wildcards)".into())
        );
        assert_eq!(
            req("$request.body.*"),
            Err("`$request.body.*`: `*` is not supported (no filters or wildcards)".into())
        );
        assert_eq!(
            req("$request.body.a."),
            Err("`$request.body.a.`: the path ends with `.`".into())
        );
        assert_eq!(
            req("x ${request.path.id"),
            Err("unterminated `${` in `x ${request.path.id`".into())
        );
        assert_eq!(
            req("$request.header."),
            Err("`$request.header.` needs a header name".into())
        );
        assert_eq!(
            req("$stageVariables.a-b"),
            Err("`$stageVariables.a-b`: `a-b` is not a stage variable name (1 to 64 letters, digits and `_`)".into())
        );
    }

    #[test]
    fn uri_templates() {
        assert_eq!(
            parse_uri_template("http://${stageVariables.inventory}/items/{id}").map(|t| t.parts),
            Ok(vec![
                lit("http://"),
                var(VarRef::StageVariable("inventory".into())),
                lit("/items/"),
                var(VarRef::RequestPathParam("id".into())),
            ])
        );
        assert_eq!(
            parse_uri_template("https://example.com/{proxy}?a=b").map(|t| t.parts),
            Ok(vec![
                lit("https://example.com/"),
                var(VarRef::RequestPathParam("proxy".into())),
                lit("?a=b"),
            ])
        );
        assert_eq!(
            parse_uri_template("fn-${stageVariables.alias}").map(|t| t.parts),
            Ok(vec![lit("fn-"), var(VarRef::StageVariable("alias".into()))])
        );
        assert_eq!(
            parse_uri_template("plain").map(|t| t.parts),
            Ok(vec![lit("plain")])
        );
        assert_eq!(
            parse_uri_template("http://x/{proxy+}"),
            Err("`{proxy+}`: write the greedy path parameter as `{proxy}` here".into())
        );
        assert_eq!(
            parse_uri_template("http://${request.header.host}/"),
            Err("`${request.header.host}` cannot be used here: only `${stageVariables.NAME}` and path parameters `{name}`".into())
        );
        assert_eq!(
            parse_uri_template("http://x/{a-b}"),
            Err("`{a-b}` is not a path parameter (letters, digits and `_`)".into())
        );
        assert_eq!(
            parse_uri_template("http://x/{id"),
            Err("unterminated `{` in `http://x/{id`".into())
        );
    }

    #[test]
    fn access_log_tokens() {
        assert_eq!(
            access_log_variables(
                "$context.requestId \"${context.identity.sourceIp}\" $context.status. $foo $context."
            ),
            vec!["requestId", "identity.sourceIp", "status"]
        );
        assert!(is_context_variable("authorizer.claims.email"));
        assert!(is_context_variable("authorizer.tenant"));
        assert!(!is_context_variable("authorizer."));
        assert!(!is_context_variable("requestid"));
    }
}
