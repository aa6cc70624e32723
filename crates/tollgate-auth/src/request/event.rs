//! The events an HTTP API sends its Lambda authorizer (http-api-lambda-authorizer.md,
//! "Payload format version"; fixtures `example-apigw-v2-custom-authorizer-v{1,2}-request*.json`
//! of the `aws_lambda_events` crate).
//!
//! The value conventions are those of tollgate's Lambda proxy events (aws-facts §3.3–3.4),
//! so a function sees the same request the same way in both places: header names
//! lower-cased; 2.0 joins repeated headers and query parameters with `,`, moves every
//! `Cookie` into `cookies` and leaves `cookies`, `queryStringParameters`, `pathParameters`
//! and `stageVariables` out when empty; 1.0 keeps the last value in `headers` /
//! `queryStringParameters` and all of them in the `multiValue*` maps, with `null` for an
//! empty query or stage variable map. An authorizer event never carries the body.
//!
//! What differs from proxy events is AWS's own: `type: "REQUEST"`, `routeArn` (2.0) or
//! `methodArn` (1.0), `identitySource` (2.0: the values as an array; 1.0: joined with `,`,
//! repeated as `authorizationToken`; left out when the authorizer has no identity source,
//! as in the fixture `…-v2-request-without-identity-source.json`), and in 1.0 an empty
//! `pathParameters` is `{}` as in the guide's example. The 1.0 `requestContext` carries both
//! the REST-style keys and the HTTP API ones (`http`, `routeKey`, `time`, `timeEpoch`), as the
//! fixture `example-apigw-v2-custom-authorizer-v1-request.json` shows.

use std::borrow::Cow;
use std::collections::BTreeMap;

use http::header::{COOKIE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Map, Value};
use tollgate_types::time_fmt;

use super::AuthorizerRequest;

/// The 2.0 event as JSON bytes.
pub(super) fn event_v2(
    req: &AuthorizerRequest<'_>,
    route_arn: &str,
    identity: Option<&[String]>,
) -> Vec<u8> {
    let mut cookies = Vec::new();
    for value in req.headers.get_all(COOKIE) {
        let text = header_text(value);
        cookies.extend(
            text.split(';')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| Value::String(c.to_owned())),
        );
    }
    let mut headers = Map::new();
    for name in req.headers.keys() {
        if name == COOKIE {
            continue;
        }
        if let Some(v) = joined_header(req.headers, name) {
            headers.insert(name.as_str().to_owned(), Value::String(v.into_owned()));
        }
    }
    let query = parse_query(req.raw_query);
    let user_agent = joined_header(req.headers, &USER_AGENT).unwrap_or_default();

    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("type".into(), json!("REQUEST"));
    event.insert("routeArn".into(), json!(route_arn));
    if let Some(identity) = identity {
        event.insert("identitySource".into(), json!(identity));
    }
    event.insert("routeKey".into(), json!(req.route_key));
    event.insert("rawPath".into(), json!(req.raw_path));
    event.insert("rawQueryString".into(), json!(req.raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), Value::Array(cookies));
    }
    event.insert("headers".into(), Value::Object(headers));
    if !query.is_empty() {
        let joined: Map<String, Value> = query
            .iter()
            .map(|(k, vs)| (k.to_string(), Value::String(vs.join(","))))
            .collect();
        event.insert("queryStringParameters".into(), Value::Object(joined));
    }
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": req.account_id,
            "apiId": req.api_id,
            "domainName": req.domain_name,
            "domainPrefix": domain_prefix(req.domain_name),
            "http": {
                "method": req.method.as_str(),
                "path": req.raw_path,
                "protocol": req.protocol,
                "sourceIp": req.source_ip,
                "userAgent": user_agent,
            },
            "requestId": req.request_id,
            "routeKey": req.route_key,
            "stage": req.stage,
            "time": time_fmt::clf(req.request_time),
            "timeEpoch": time_fmt::epoch_millis(req.request_time),
        }),
    );
    if !req.path_params.is_empty() {
        event.insert("pathParameters".into(), path_params(req.path_params));
    }
    if !req.stage_variables.is_empty() {
        event.insert("stageVariables".into(), json!(req.stage_variables));
    }
    to_bytes(Value::Object(event))
}

/// The 1.0 event as JSON bytes.
pub(super) fn event_v1(
    req: &AuthorizerRequest<'_>,
    method_arn: &str,
    identity: Option<&[String]>,
) -> Vec<u8> {
    let mut headers = Map::new();
    let mut multi_headers = Map::new();
    for name in req.headers.keys() {
        let values: Vec<Value> = req
            .headers
            .get_all(name)
            .iter()
            .map(|v| Value::String(header_text(v).into_owned()))
            .collect();
        if let Some(last) = values.last() {
            headers.insert(name.as_str().to_owned(), last.clone());
        }
        multi_headers.insert(name.as_str().to_owned(), Value::Array(values));
    }
    let query = parse_query(req.raw_query);
    let (single_query, multi_query) = if query.is_empty() {
        (Value::Null, Value::Null)
    } else {
        let single: Map<String, Value> = query
            .iter()
            .filter_map(|(k, vs)| Some((k.to_string(), json!(vs.last()?))))
            .collect();
        let multi: Map<String, Value> = query
            .iter()
            .map(|(k, vs)| (k.to_string(), json!(vs)))
            .collect();
        (Value::Object(single), Value::Object(multi))
    };
    let resource = if req.resource_path.is_empty() || req.resource_path == "$default" {
        req.raw_path
    } else {
        req.resource_path
    };
    let user_agent = joined_header(req.headers, &USER_AGENT);

    let mut event = Map::new();
    event.insert("version".into(), json!("1.0"));
    event.insert("type".into(), json!("REQUEST"));
    event.insert("methodArn".into(), json!(method_arn));
    if let Some(identity) = identity {
        let joined = identity.join(",");
        event.insert("identitySource".into(), json!(joined));
        event.insert("authorizationToken".into(), json!(joined));
    }
    event.insert("resource".into(), json!(resource));
    event.insert("path".into(), json!(req.raw_path));
    event.insert("httpMethod".into(), json!(req.method.as_str()));
    event.insert("headers".into(), Value::Object(headers));
    event.insert("multiValueHeaders".into(), Value::Object(multi_headers));
    event.insert("queryStringParameters".into(), single_query);
    event.insert("multiValueQueryStringParameters".into(), multi_query);
    event.insert("pathParameters".into(), path_params(req.path_params));
    event.insert(
        "stageVariables".into(),
        if req.stage_variables.is_empty() {
            Value::Null
        } else {
            json!(req.stage_variables)
        },
    );
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": req.account_id,
            "apiId": req.api_id,
            "domainName": req.domain_name,
            "domainPrefix": domain_prefix(req.domain_name),
            "extendedRequestId": req.request_id,
            "http": {
                "method": req.method.as_str(),
                "path": req.raw_path,
                "protocol": req.protocol,
                "sourceIp": req.source_ip,
                "userAgent": user_agent.as_deref().unwrap_or_default(),
            },
            "httpMethod": req.method.as_str(),
            "identity": {
                "sourceIp": req.source_ip,
                "userAgent": user_agent,
            },
            "path": req.raw_path,
            "protocol": req.protocol,
            "requestId": req.request_id,
            "requestTime": time_fmt::clf(req.request_time),
            "requestTimeEpoch": time_fmt::epoch_millis(req.request_time),
            "resourceId": Value::Null,
            "resourcePath": resource,
            "routeKey": req.route_key,
            "stage": req.stage,
            "time": time_fmt::clf(req.request_time),
            "timeEpoch": time_fmt::epoch_millis(req.request_time),
        }),
    );
    to_bytes(Value::Object(event))
}

fn to_bytes(event: Value) -> Vec<u8> {
    // Serialising a `Value` cannot fail: every key is a string.
    serde_json::to_vec(&event).unwrap_or_default()
}

fn path_params(params: &[(&str, &str)]) -> Value {
    Value::Object(
        params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect(),
    )
}

/// Decoded query parameters grouped by name, values in request order; `+` is a space, a
/// name without `=` has the value `""` (the proxy's rule).
pub(super) fn parse_query(raw_query: &str) -> BTreeMap<Cow<'_, str>, Vec<Cow<'_, str>>> {
    let mut params: BTreeMap<Cow<'_, str>, Vec<Cow<'_, str>>> = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        params.entry(name).or_default().push(value);
    }
    params
}

/// A header value as text; bytes that are not UTF-8 become U+FFFD.
pub(super) fn header_text(value: &HeaderValue) -> Cow<'_, str> {
    String::from_utf8_lossy(value.as_bytes())
}

/// All values of one header joined with `,`.
pub(super) fn joined_header<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<Cow<'h, str>> {
    let mut values = headers.get_all(name).iter();
    let first = header_text(values.next()?);
    let Some(second) = values.next() else {
        return Some(first);
    };
    let mut joined = first.into_owned();
    for value in std::iter::once(second).chain(values) {
        joined.push(',');
        joined.push_str(&header_text(value));
    }
    Some(Cow::Owned(joined))
}

/// The first label of the domain name (`"abc"` for `"abc.execute-api…"`, `"localhost"` for
/// `"localhost:8080"`).
pub(super) fn domain_prefix(domain_name: &str) -> &str {
    let label = domain_name.split('.').next().unwrap_or(domain_name);
    label.split(':').next().unwrap_or(label)
}
