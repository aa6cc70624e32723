//! Lambda proxy integration: builds AWS payload format 1.0 and 2.0 events and parses what the
//! function returns. Pure functions, no I/O; the integration sends the event bytes to the Lambda
//! Invoke API and hands the response body back here.
//!
//! Shapes follow the AWS developer guide page "Working with AWS Lambda proxy integrations for HTTP
//! APIs" (`http-api-develop-integrations-lambda.md`, aws-facts.md §3.3–§3.5) and the fixtures of
//! the `aws_lambda_events` crate; `tests/lambda_events.rs` checks every field against both.
//!
//! # Request body encoding
//!
//! A JSON event can only carry text, so a body that is not valid UTF-8 is sent base64-encoded
//! (standard alphabet, padded) with `isBase64Encoded: true`; any other body is sent as is with
//! `isBase64Encoded: false`, and an empty body is left out (2.0) or `null` (1.0).
//! AWS HTTP APIs also base64-encode binary bodies, but decide by the request's `content-type`
//! (AWS Compute Blog, "Handling binary data using Amazon API Gateway HTTP APIs": the integration
//! "infers the need for encoding based on the content-type header"). The UTF-8 rule gives the same
//! answer for real binary payloads (images, archives, protobuf) and for text; it differs only for
//! a UTF-8 body sent with a binary content type, which tollgate passes as text. A function that
//! honours `isBase64Encoded` works the same either way.
//!
//! # Header names
//!
//! Header names reach the function lower-cased in both formats (the `http` crate stores names
//! lower-cased; HTTP/2 clients send them that way). AWS keeps the client's casing in 1.0 events.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};
use tollgate_types::time_fmt;

/// Everything about one request that goes into a Lambda proxy event.
#[derive(Debug, Clone)]
pub struct EventInput<'a> {
    /// `requestContext.accountId`.
    pub account_id: &'a str,
    /// `requestContext.apiId`.
    pub api_id: &'a str,
    /// `requestContext.domainName`: the Host header value, or
    /// `"{api_id}.execute-api.{region}.amazonaws.com"`. `domainPrefix` is its first label.
    pub domain_name: &'a str,
    /// `"$default"` or the stage name.
    pub stage: &'a str,
    /// `"GET /pets/{id}"`, `"ANY /{proxy+}"` or `"$default"` (2.0 `routeKey`).
    pub route_key: &'a str,
    /// 1.0 `resource` and `requestContext.resourcePath`: the route's path template
    /// (`"/pets/{id}"`, `"/{proxy+}"`). For the `$default` route pass `""` or `"$default"`: the
    /// event then carries the request path, as the guide's 1.0 example does (`resource`,
    /// `path` and `resourcePath` all `"/my/path"`).
    pub resource_path: &'a str,
    /// The request method.
    pub method: &'a Method,
    /// The path as received, including the stage segment for named stages (aws-facts §3.1).
    /// 2.0 `rawPath` and `requestContext.http.path`; 1.0 `path` and `requestContext.path`.
    pub raw_path: &'a str,
    /// The query string without `?`, not decoded.
    pub raw_query: &'a str,
    /// The request headers as received.
    pub headers: &'a HeaderMap,
    /// Path parameters, already percent-decoded (greedy `{proxy+}` → `("proxy", "a/b")`).
    pub path_params: &'a [(&'a str, &'a str)],
    /// The stage's variables.
    pub stage_variables: &'a BTreeMap<String, String>,
    /// The request body.
    pub body: &'a [u8],
    /// The client's address (`sourceIp`).
    pub source_ip: &'a str,
    /// `"HTTP/1.1"`, `"HTTP/2.0"`.
    pub protocol: &'a str,
    /// `requestContext.requestId` (1.0 also uses it as `extendedRequestId`).
    pub request_id: &'a str,
    /// When the request arrived (`time`/`timeEpoch`, `requestTime`/`requestTimeEpoch`).
    pub request_time: time::OffsetDateTime,
}

/// Builds a payload format 2.0 event without an authorizer (JSON bytes).
pub fn event_v2(input: &EventInput<'_>) -> Vec<u8> {
    event_v2_with_authorizer(input, None)
}

/// Builds a payload format 2.0 event. `authorizer` becomes `requestContext.authorizer` verbatim
/// (`{"jwt":{"claims":{…},"scopes":[…]}}`, `{"lambda":{…}}`); `None` leaves the key out.
///
/// Rules (aws-facts §3.3): header names lower-cased, repeated headers joined with `,`; every
/// `Cookie` header is split at `;` into `cookies` and left out of `headers`; query parameters are
/// percent-decoded (`+` is a space) and repeated ones joined with `,`; `cookies`,
/// `queryStringParameters`, `pathParameters`, `stageVariables` and `body` are left out when empty.
/// `requestContext.http.userAgent` is `""` when the request has no `User-Agent`.
pub fn event_v2_with_authorizer(input: &EventInput<'_>, authorizer: Option<&Value>) -> Vec<u8> {
    let mut cookies = Vec::new();
    for value in input.headers.get_all(COOKIE) {
        push_cookies(&mut cookies, value);
    }
    let query = QueryParams::parse(input.raw_query);
    let (body, is_base64_encoded) = encode_body(input.body);
    let event = EventV2 {
        version: "2.0",
        route_key: input.route_key,
        raw_path: input.raw_path,
        raw_query_string: input.raw_query,
        cookies,
        headers: JoinedHeaders(input.headers),
        query_string_parameters: (!query.is_empty()).then_some(JoinedQuery(&query)),
        path_parameters: (!input.path_params.is_empty()).then_some(PathParams(input.path_params)),
        stage_variables: (!input.stage_variables.is_empty()).then_some(input.stage_variables),
        request_context: ContextV2 {
            account_id: input.account_id,
            api_id: input.api_id,
            authorizer,
            domain_name: input.domain_name,
            domain_prefix: domain_prefix(input.domain_name),
            http: HttpV2 {
                method: input.method.as_str(),
                path: input.raw_path,
                protocol: input.protocol,
                source_ip: input.source_ip,
                user_agent: joined_header(input.headers, &USER_AGENT).unwrap_or_default(),
            },
            request_id: input.request_id,
            route_key: input.route_key,
            stage: input.stage,
            time: time_fmt::clf(input.request_time),
            time_epoch: time_fmt::epoch_millis(input.request_time),
        },
        body,
        is_base64_encoded,
    };
    to_json(&event, input)
}

/// Builds a payload format 1.0 event without an authorizer (JSON bytes).
pub fn event_v1(input: &EventInput<'_>) -> Vec<u8> {
    event_v1_with_authorizer(input, None)
}

/// Builds a payload format 1.0 event, as an HTTP API sends it. `authorizer` becomes
/// `requestContext.authorizer` verbatim; `None` gives `{"claims":null,"scopes":null}`, what the
/// guide's 1.0 example shows for a route without an authorizer.
///
/// Rules (aws-facts §3.4): `headers` holds the last value of each header, `multiValueHeaders` all
/// of them (names lower-cased); `queryStringParameters` holds the last value of each
/// percent-decoded parameter, `multiValueQueryStringParameters` all of them, both `null` when the
/// query is empty; `pathParameters`, `stageVariables` and `body` are `null` when empty;
/// `requestContext.identity` carries `sourceIp` and `userAgent` (`null` without a `User-Agent`),
/// its other keys `null`; `resourceId` is `null`; `extendedRequestId` repeats the request id.
pub fn event_v1_with_authorizer(input: &EventInput<'_>, authorizer: Option<&Value>) -> Vec<u8> {
    let query = QueryParams::parse(input.raw_query);
    let (body, is_base64_encoded) = encode_body(input.body);
    let resource = if input.resource_path.is_empty() || input.resource_path == "$default" {
        input.raw_path
    } else {
        input.resource_path
    };
    let event = EventV1 {
        version: "1.0",
        resource,
        path: input.raw_path,
        http_method: input.method.as_str(),
        headers: LastHeaders(input.headers),
        multi_value_headers: MultiHeaders(input.headers),
        query_string_parameters: (!query.is_empty()).then_some(LastQuery(&query)),
        multi_value_query_string_parameters: (!query.is_empty()).then_some(MultiQuery(&query)),
        request_context: ContextV1 {
            account_id: input.account_id,
            api_id: input.api_id,
            authorizer: authorizer.map_or(AuthorizerV1::None(NO_AUTHORIZER_V1), AuthorizerV1::Some),
            domain_name: input.domain_name,
            domain_prefix: domain_prefix(input.domain_name),
            extended_request_id: input.request_id,
            http_method: input.method.as_str(),
            identity: IdentityV1 {
                access_key: None,
                account_id: None,
                caller: None,
                cognito_authentication_provider: None,
                cognito_authentication_type: None,
                cognito_identity_id: None,
                cognito_identity_pool_id: None,
                principal_org_id: None,
                source_ip: input.source_ip,
                user: None,
                user_agent: joined_header(input.headers, &USER_AGENT),
                user_arn: None,
            },
            path: input.raw_path,
            protocol: input.protocol,
            request_id: input.request_id,
            request_time: time_fmt::clf(input.request_time),
            request_time_epoch: time_fmt::epoch_millis(input.request_time),
            resource_id: None,
            resource_path: resource,
            stage: input.stage,
        },
        path_parameters: (!input.path_params.is_empty()).then_some(PathParams(input.path_params)),
        stage_variables: (!input.stage_variables.is_empty()).then_some(input.stage_variables),
        body,
        is_base64_encoded,
    };
    to_json(&event, input)
}

/// The HTTP response a Lambda function's output describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaHttpResponse {
    /// The status to send to the client.
    pub status: StatusCode,
    /// Headers in output order; a name may repeat (`set-cookie`, 1.0 `multiValueHeaders`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body, base64-decoded when the function set `isBase64Encoded`.
    pub body: Bytes,
}

/// Why a function's output is not a valid proxy response (the gateway answers 500 for HTTP APIs,
/// 502 for REST APIs; aws-facts §3.5).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedResponse {
    /// The output is not JSON at all.
    #[error("function output is not valid JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// A 1.0 response must be a JSON object.
    #[error("function output is not a JSON object")]
    NotAnObject,
    /// A 1.0 response must have a `statusCode`.
    #[error("function output has no statusCode")]
    MissingStatusCode,
    /// `statusCode` is not an integer between 200 and 599 (the JSON text is kept).
    #[error("statusCode {0} is not an integer HTTP status between 200 and 599")]
    InvalidStatusCode(String),
    /// A known field has the wrong JSON type.
    #[error("`{field}` must be {expected}")]
    InvalidField {
        /// The response field, e.g. `"headers"`.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// `isBase64Encoded` is true but `body` is not base64.
    #[error("body is marked isBase64Encoded but is not valid base64: {0}")]
    InvalidBase64(#[source] base64::DecodeError),
    /// A header name that HTTP does not allow.
    #[error("invalid header name {0:?}")]
    InvalidHeaderName(String),
    /// A header value that HTTP does not allow, or that is not a string, number or boolean.
    #[error("invalid value for header {0:?}")]
    InvalidHeaderValue(String),
}

/// Parses a payload format 2.0 function output.
///
/// A JSON object with a `statusCode` key is the explicit format: `statusCode` (integer),
/// `headers` (object of strings; numbers and booleans are taken as their JSON text), `cookies`
/// (array of strings, one `set-cookie` header each), `body` (string), `isBase64Encoded`.
/// Any other valid JSON is the inferred format: status 200, `content-type: application/json`, and
/// the output as the body, except that a JSON string gives its contents (`"Hello"` → `Hello`).
/// Output that is not JSON is malformed.
pub fn response_v2(function_output: &[u8]) -> Result<LambdaHttpResponse, MalformedResponse> {
    let value: Value =
        serde_json::from_slice(function_output).map_err(MalformedResponse::NotJson)?;
    match value {
        Value::Object(obj) if obj.contains_key("statusCode") => explicit_v2(obj),
        Value::String(s) => Ok(inferred(Bytes::from(s))),
        _ => Ok(inferred(Bytes::copy_from_slice(function_output))),
    }
}

/// Parses a payload format 1.0 function output: a JSON object with an integer `statusCode`,
/// `headers` (object of strings), `multiValueHeaders` (object of string arrays; on the same name,
/// case-insensitively, they replace the `headers` entry), `body` (string) and `isBase64Encoded`.
/// Anything else is malformed. Numbers and booleans are accepted as header values.
pub fn response_v1(function_output: &[u8]) -> Result<LambdaHttpResponse, MalformedResponse> {
    let value: Value =
        serde_json::from_slice(function_output).map_err(MalformedResponse::NotJson)?;
    let Value::Object(mut obj) = value else {
        return Err(MalformedResponse::NotAnObject);
    };
    let status = status_code(
        obj.get("statusCode")
            .ok_or(MalformedResponse::MissingStatusCode)?,
    )?;

    let mut headers = Vec::new();
    match obj.get("multiValueHeaders") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, values) in map {
                let name = header_name(name)?;
                match values {
                    Value::Null => {}
                    Value::Array(values) => {
                        for value in values {
                            headers.push((name.clone(), header_value(&name, value)?));
                        }
                    }
                    _ => {
                        return Err(MalformedResponse::InvalidField {
                            field: "multiValueHeaders",
                            expected: "an object of string arrays",
                        })
                    }
                }
            }
        }
        Some(_) => {
            return Err(MalformedResponse::InvalidField {
                field: "multiValueHeaders",
                expected: "an object of string arrays",
            })
        }
    }
    let multi_len = headers.len();
    for (name, value) in single_headers(obj.get("headers"))? {
        if !headers[..multi_len].iter().any(|(n, _)| *n == name) {
            headers.push((name, value));
        }
    }

    let body = body_of(&mut obj)?;
    Ok(LambdaHttpResponse {
        status,
        headers,
        body,
    })
}

// === event serialisation ===

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventV2<'a> {
    version: &'static str,
    route_key: &'a str,
    raw_path: &'a str,
    raw_query_string: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cookies: Vec<Cow<'a, str>>,
    headers: JoinedHeaders<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_string_parameters: Option<JoinedQuery<'a, 'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_parameters: Option<PathParams<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stage_variables: Option<&'a BTreeMap<String, String>>,
    request_context: ContextV2<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Cow<'a, str>>,
    is_base64_encoded: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContextV2<'a> {
    account_id: &'a str,
    api_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<&'a Value>,
    domain_name: &'a str,
    domain_prefix: &'a str,
    http: HttpV2<'a>,
    request_id: &'a str,
    route_key: &'a str,
    stage: &'a str,
    time: String,
    time_epoch: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HttpV2<'a> {
    method: &'a str,
    path: &'a str,
    protocol: &'a str,
    source_ip: &'a str,
    user_agent: Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventV1<'a> {
    version: &'static str,
    resource: &'a str,
    path: &'a str,
    http_method: &'a str,
    headers: LastHeaders<'a>,
    multi_value_headers: MultiHeaders<'a>,
    query_string_parameters: Option<LastQuery<'a, 'a>>,
    multi_value_query_string_parameters: Option<MultiQuery<'a, 'a>>,
    request_context: ContextV1<'a>,
    path_parameters: Option<PathParams<'a>>,
    stage_variables: Option<&'a BTreeMap<String, String>>,
    body: Option<Cow<'a, str>>,
    is_base64_encoded: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContextV1<'a> {
    account_id: &'a str,
    api_id: &'a str,
    authorizer: AuthorizerV1<'a>,
    domain_name: &'a str,
    domain_prefix: &'a str,
    extended_request_id: &'a str,
    http_method: &'a str,
    identity: IdentityV1<'a>,
    path: &'a str,
    protocol: &'a str,
    request_id: &'a str,
    request_time: String,
    request_time_epoch: i64,
    resource_id: Option<&'a str>,
    resource_path: &'a str,
    stage: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum AuthorizerV1<'a> {
    Some(&'a Value),
    None(NoAuthorizerV1),
}

/// `{"claims": null, "scopes": null}`: the guide's 1.0 example for a route without authorizer.
#[derive(Serialize)]
struct NoAuthorizerV1 {
    claims: Option<()>,
    scopes: Option<()>,
}

const NO_AUTHORIZER_V1: NoAuthorizerV1 = NoAuthorizerV1 {
    claims: None,
    scopes: None,
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IdentityV1<'a> {
    access_key: Option<&'a str>,
    account_id: Option<&'a str>,
    caller: Option<&'a str>,
    cognito_authentication_provider: Option<&'a str>,
    cognito_authentication_type: Option<&'a str>,
    cognito_identity_id: Option<&'a str>,
    cognito_identity_pool_id: Option<&'a str>,
    principal_org_id: Option<&'a str>,
    source_ip: &'a str,
    user: Option<&'a str>,
    user_agent: Option<Cow<'a, str>>,
    user_arn: Option<&'a str>,
}

/// Serialises `value` into a buffer sized for the event. Serialising these types cannot fail:
/// every map key is a string and no `Serialize` impl here returns an error.
fn to_json<T: Serialize>(value: &T, input: &EventInput<'_>) -> Vec<u8> {
    let headers_len: usize = input
        .headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 8)
        .sum();
    let capacity = 1024 + input.body.len() * 4 / 3 + headers_len * 2 + input.raw_query.len() * 2;
    let mut out = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut out, value) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

/// Returns the event `body` and `isBase64Encoded` (see the module docs for the rule).
fn encode_body(body: &[u8]) -> (Option<Cow<'_, str>>, bool) {
    if body.is_empty() {
        return (None, false);
    }
    match std::str::from_utf8(body) {
        Ok(text) => (Some(Cow::Borrowed(text)), false),
        Err(_) => (Some(Cow::Owned(STANDARD.encode(body))), true),
    }
}

/// The first label of the domain name (`"abc"` for `"abc.execute-api…"`, `"localhost"` for
/// `"localhost:8080"`).
fn domain_prefix(domain_name: &str) -> &str {
    let label = domain_name.split('.').next().unwrap_or(domain_name);
    label.split(':').next().unwrap_or(label)
}

/// A header value as text; bytes that are not UTF-8 become U+FFFD.
fn header_text(value: &HeaderValue) -> Cow<'_, str> {
    String::from_utf8_lossy(value.as_bytes())
}

/// All values of one header joined with `,` (how 2.0 events carry repeated headers).
fn joined_header<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<Cow<'h, str>> {
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

/// Splits one `Cookie` header (`a=1; b=2`) into its pairs.
fn push_cookies<'h>(out: &mut Vec<Cow<'h, str>>, value: &'h HeaderValue) {
    fn pairs(header: &str) -> impl Iterator<Item = &str> {
        header.split(';').map(str::trim).filter(|c| !c.is_empty())
    }
    match header_text(value) {
        Cow::Borrowed(text) => out.extend(pairs(text).map(Cow::Borrowed)),
        Cow::Owned(text) => out.extend(pairs(&text).map(|c| Cow::Owned(c.to_owned()))),
    }
}

/// 2.0 `headers`: every header but `cookie`, repeated values joined with `,`.
struct JoinedHeaders<'a>(&'a HeaderMap);

impl Serialize for JoinedHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for name in self.0.keys() {
            if name == COOKIE {
                continue;
            }
            if let Some(value) = joined_header(self.0, name) {
                map.serialize_entry(name.as_str(), &value)?;
            }
        }
        map.end()
    }
}

/// 1.0 `headers`: the last value of each header.
struct LastHeaders<'a>(&'a HeaderMap);

impl Serialize for LastHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.keys_len()))?;
        for name in self.0.keys() {
            if let Some(last) = self.0.get_all(name).iter().next_back() {
                map.serialize_entry(name.as_str(), &header_text(last))?;
            }
        }
        map.end()
    }
}

/// 1.0 `multiValueHeaders`: every value of each header.
struct MultiHeaders<'a>(&'a HeaderMap);

impl Serialize for MultiHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.keys_len()))?;
        for name in self.0.keys() {
            map.serialize_entry(name.as_str(), &HeaderValues(self.0, name))?;
        }
        map.end()
    }
}

struct HeaderValues<'a>(&'a HeaderMap, &'a HeaderName);

impl Serialize for HeaderValues<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for value in self.0.get_all(self.1) {
            seq.serialize_element(&header_text(value))?;
        }
        seq.end()
    }
}

/// Decoded query parameters grouped by name, values in request order.
struct QueryParams<'q>(BTreeMap<Cow<'q, str>, Vec<Cow<'q, str>>>);

impl<'q> QueryParams<'q> {
    /// Percent-decodes the way AWS does (`+` is a space, aws-cdk#19827 shows `-+createdAt`
    /// arriving as `"- createdAt"`); a name without `=` has the value `""`.
    fn parse(raw_query: &'q str) -> Self {
        let mut params: BTreeMap<Cow<'q, str>, Vec<Cow<'q, str>>> = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(raw_query.as_bytes()) {
            params.entry(name).or_default().push(value);
        }
        QueryParams(params)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// 2.0 `queryStringParameters`: repeated values joined with `,`.
struct JoinedQuery<'p, 'q>(&'p QueryParams<'q>);

impl Serialize for JoinedQuery<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0 .0.len()))?;
        for (name, values) in &self.0 .0 {
            if let [single] = values.as_slice() {
                map.serialize_entry(name, single)?;
            } else {
                map.serialize_entry(name, &values.join(","))?;
            }
        }
        map.end()
    }
}

/// 1.0 `queryStringParameters`: the last value of each parameter.
struct LastQuery<'p, 'q>(&'p QueryParams<'q>);

impl Serialize for LastQuery<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0 .0.len()))?;
        for (name, values) in &self.0 .0 {
            if let Some(last) = values.last() {
                map.serialize_entry(name, last)?;
            }
        }
        map.end()
    }
}

/// 1.0 `multiValueQueryStringParameters`.
struct MultiQuery<'p, 'q>(&'p QueryParams<'q>);

impl Serialize for MultiQuery<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0 .0.iter())
    }
}

struct PathParams<'a>(&'a [(&'a str, &'a str)]);

impl Serialize for PathParams<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

// === response parsing ===

fn inferred(body: Bytes) -> LambdaHttpResponse {
    LambdaHttpResponse {
        status: StatusCode::OK,
        headers: vec![(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    }
}

fn explicit_v2(mut obj: Map<String, Value>) -> Result<LambdaHttpResponse, MalformedResponse> {
    let status = status_code(obj.get("statusCode").unwrap_or(&Value::Null))?;
    let mut headers = single_headers(obj.get("headers"))?;
    match obj.get("cookies") {
        None | Some(Value::Null) => {}
        Some(Value::Array(cookies)) => {
            for cookie in cookies {
                let Value::String(cookie) = cookie else {
                    return Err(MalformedResponse::InvalidField {
                        field: "cookies",
                        expected: "an array of strings",
                    });
                };
                let value = HeaderValue::from_str(cookie)
                    .map_err(|_| MalformedResponse::InvalidHeaderValue(SET_COOKIE.to_string()))?;
                headers.push((SET_COOKIE, value));
            }
        }
        Some(_) => {
            return Err(MalformedResponse::InvalidField {
                field: "cookies",
                expected: "an array of strings",
            })
        }
    }
    let body = body_of(&mut obj)?;
    Ok(LambdaHttpResponse {
        status,
        headers,
        body,
    })
}

fn status_code(value: &Value) -> Result<StatusCode, MalformedResponse> {
    value
        .as_u64()
        .filter(|code| (200..=599).contains(code))
        .and_then(|code| u16::try_from(code).ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| MalformedResponse::InvalidStatusCode(value.to_string()))
}

/// `headers`: an object of single values (absent or `null` means none).
fn single_headers(
    value: Option<&Value>,
) -> Result<Vec<(HeaderName, HeaderValue)>, MalformedResponse> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(name, value)| {
                let name = header_name(name)?;
                let value = header_value(&name, value)?;
                Ok((name, value))
            })
            .collect(),
        Some(_) => Err(MalformedResponse::InvalidField {
            field: "headers",
            expected: "an object of strings",
        }),
    }
}

fn header_name(name: &str) -> Result<HeaderName, MalformedResponse> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| MalformedResponse::InvalidHeaderName(name.to_owned()))
}

fn header_value(name: &HeaderName, value: &Value) -> Result<HeaderValue, MalformedResponse> {
    let parsed = match value {
        Value::String(s) => HeaderValue::from_str(s),
        Value::Number(n) => HeaderValue::from_str(&n.to_string()),
        Value::Bool(b) => Ok(HeaderValue::from_static(if *b { "true" } else { "false" })),
        _ => return Err(MalformedResponse::InvalidHeaderValue(name.to_string())),
    };
    parsed.map_err(|_| MalformedResponse::InvalidHeaderValue(name.to_string()))
}

/// Accepts base64 with or without `=` padding.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `body` (string, absent or `null`), base64-decoded when `isBase64Encoded` is true.
fn body_of(obj: &mut Map<String, Value>) -> Result<Bytes, MalformedResponse> {
    let is_base64 = match obj.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(MalformedResponse::InvalidField {
                field: "isBase64Encoded",
                expected: "a boolean",
            })
        }
    };
    let body = match obj.remove("body") {
        None | Some(Value::Null) => return Ok(Bytes::new()),
        Some(Value::String(body)) => body,
        Some(_) => {
            return Err(MalformedResponse::InvalidField {
                field: "body",
                expected: "a string",
            })
        }
    };
    if is_base64 {
        LENIENT_BASE64
            .decode(body.as_bytes())
            .map(Bytes::from)
            .map_err(MalformedResponse::InvalidBase64)
    } else {
        Ok(Bytes::from(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_prefix_is_first_label() {
        assert_eq!(
            domain_prefix("abc.execute-api.us-east-1.amazonaws.com"),
            "abc"
        );
        assert_eq!(domain_prefix("localhost:8080"), "localhost");
        assert_eq!(domain_prefix(""), "");
    }

    #[test]
    fn cookies_split_on_semicolons() {
        let value = HeaderValue::from_static("a=1; b=2;;c=3 ");
        let mut out = Vec::new();
        push_cookies(&mut out, &value);
        assert_eq!(out, ["a=1", "b=2", "c=3"]);
    }

    #[test]
    fn status_code_range() {
        assert!(status_code(&Value::from(200)).is_ok());
        assert!(status_code(&Value::from(599)).is_ok());
        assert!(status_code(&Value::from(199)).is_err());
        assert!(status_code(&Value::from(600)).is_err());
        assert!(status_code(&Value::from(-1)).is_err());
        assert!(status_code(&Value::from(200.5)).is_err());
        assert!(status_code(&Value::from("200")).is_err());
    }

    #[test]
    fn query_decoding_matches_aws() {
        let q = QueryParams::parse("sort=-+createdAt&a%20b=c%2Bd&flag&&x=1&x=2");
        let got: Vec<(String, Vec<String>)> =
            q.0.iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect();
        assert_eq!(
            got,
            vec![
                ("a b".to_owned(), vec!["c+d".to_owned()]),
                ("flag".to_owned(), vec![String::new()]),
                ("sort".to_owned(), vec!["- createdAt".to_owned()]),
                ("x".to_owned(), vec!["1".to_owned(), "2".to_owned()]),
            ]
        );
    }

    #[test]
    fn body_encoding_rule() {
        assert_eq!(encode_body(b""), (None, false));
        assert_eq!(encode_body(b"hi"), (Some(Cow::Borrowed("hi")), false));
        assert_eq!(
            encode_body(&[0xff, 0x00]),
            (Some(Cow::Owned("/wA=".to_owned())), true)
        );
    }
}
