//! HTTP API parameter mapping (aws-facts.md §3.6): evaluate templates and apply
//! `append|overwrite|remove` to headers, query strings, the path and the status code.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use tollgate_config::model::{
    JsonPathSegment, MappingAction, MappingTarget, ParamMapping, Template, TemplatePart, VarRef,
};

use crate::context::Context;

/// AWS truncates the body to 100 KB before evaluating `$request.body.<jsonpath>` (§3.6).
const BODY_JSONPATH_LIMIT: usize = 100 * 1024;

/// What a template may read.
pub struct Sources<'a> {
    pub headers: &'a HeaderMap,
    pub raw_query: &'a str,
    pub body: &'a [u8],
    /// The request path without the stage segment.
    pub path: &'a str,
    /// Percent-decoded path parameters.
    pub path_params: &'a [(&'a str, Cow<'a, str>)],
    pub stage_variables: &'a BTreeMap<String, String>,
    pub ctx: &'a Context,
    pub response_headers: Option<&'a HeaderMap>,
    pub response_body: Option<&'a [u8]>,
    request_json: OnceLock<Option<serde_json::Value>>,
    response_json: OnceLock<Option<serde_json::Value>>,
}

impl<'a> Sources<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        headers: &'a HeaderMap,
        raw_query: &'a str,
        body: &'a [u8],
        path: &'a str,
        path_params: &'a [(&'a str, Cow<'a, str>)],
        stage_variables: &'a BTreeMap<String, String>,
        ctx: &'a Context,
    ) -> Self {
        Self {
            headers,
            raw_query,
            body,
            path,
            path_params,
            stage_variables,
            ctx,
            response_headers: None,
            response_body: None,
            request_json: OnceLock::new(),
            response_json: OnceLock::new(),
        }
    }

    /// The same request sources, now able to read an integration response too.
    pub fn with_response(mut self, headers: &'a HeaderMap, body: &'a [u8]) -> Self {
        self.response_headers = Some(headers);
        self.response_body = Some(body);
        self
    }

    /// The request body parsed as JSON, when it is JSON.
    pub fn request_json(&self) -> Option<&serde_json::Value> {
        self.request_json
            .get_or_init(|| {
                serde_json::from_slice(&self.body[..self.body.len().min(BODY_JSONPATH_LIMIT)]).ok()
            })
            .as_ref()
    }

    /// Evaluate a template to text; a missing value evaluates to the empty string.
    pub fn eval(&self, t: &Template) -> String {
        let mut out = String::new();
        for part in &t.parts {
            match part {
                TemplatePart::Literal(s) => out.push_str(s),
                TemplatePart::Var(v) => {
                    if let Some(val) = self.var(v) {
                        out.push_str(&val);
                    }
                }
            }
        }
        out
    }

    fn var(&self, v: &VarRef) -> Option<Cow<'_, str>> {
        match v {
            VarRef::RequestHeader(name) => joined(self.headers, name),
            VarRef::RequestQueryString(name) => {
                let vals: Vec<String> = form_urlencoded::parse(self.raw_query.as_bytes())
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
                    .collect();
                (!vals.is_empty()).then(|| Cow::Owned(vals.join(",")))
            }
            VarRef::RequestBody => Some(String::from_utf8_lossy(self.body)),
            VarRef::RequestBodyPath(path) => json_path(self.request_json()?, path),
            VarRef::RequestPath => Some(Cow::Borrowed(self.path)),
            VarRef::RequestPathParam(name) => self
                .path_params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| Cow::Borrowed(v.as_ref())),
            VarRef::Context(name) => self.ctx.var(name),
            VarRef::StageVariable(name) => self
                .stage_variables
                .get(name)
                .map(|v| Cow::Borrowed(v.as_str())),
            VarRef::ResponseHeader(name) => joined(self.response_headers?, name),
            VarRef::ResponseBody => self.response_body.map(String::from_utf8_lossy),
            VarRef::ResponseBodyPath(path) => {
                let body = self.response_body?;
                let json = self
                    .response_json
                    .get_or_init(|| serde_json::from_slice(body).ok());
                json_path(json.as_ref()?, path)
            }
        }
    }
}

fn joined<'h>(headers: &'h HeaderMap, name: &str) -> Option<Cow<'h, str>> {
    let mut it = headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
    let first = it.next()?;
    match it.next() {
        None => Some(Cow::Borrowed(first)),
        Some(second) => {
            let mut s = format!("{first},{second}");
            for v in it {
                s.push(',');
                s.push_str(v);
            }
            Some(Cow::Owned(s))
        }
    }
}

fn json_path<'v>(mut v: &'v serde_json::Value, path: &[JsonPathSegment]) -> Option<Cow<'v, str>> {
    for seg in path {
        v = match seg {
            JsonPathSegment::Key(k) => v.get(k)?,
            JsonPathSegment::Index(i) => v.get(*i)?,
        };
    }
    Some(match v {
        serde_json::Value::String(s) => Cow::Borrowed(s.as_str()),
        other => Cow::Owned(other.to_string()),
    })
}

/// The request pieces parameter mapping may change.
pub struct RequestParts {
    pub headers: HeaderMap,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// `Some` when `overwrite:path` replaced the path sent to the integration.
    pub path: Option<String>,
}

/// Apply request mappings in order. Invalid header values are skipped.
pub fn apply_request(mappings: &[ParamMapping], src: &Sources<'_>, parts: &mut RequestParts) {
    for m in mappings {
        match &m.target {
            MappingTarget::Header(name) => {
                apply_header(&mut parts.headers, m.action, name, || src.eval(&m.value))
            }
            MappingTarget::QueryString(name) => match m.action {
                MappingAction::Remove => parts.query.retain(|(k, _)| k != name),
                MappingAction::Overwrite => {
                    parts.query.retain(|(k, _)| k != name);
                    parts.query.push((name.clone(), src.eval(&m.value)));
                }
                MappingAction::Append => parts.query.push((name.clone(), src.eval(&m.value))),
            },
            MappingTarget::Path => parts.path = Some(src.eval(&m.value)),
            MappingTarget::StatusCode => {}
        }
    }
}

/// Apply response mappings in order; returns the status code after `overwrite:statuscode`.
pub fn apply_response(
    mappings: &[ParamMapping],
    src: &Sources<'_>,
    status: u16,
    headers: &mut HeaderMap,
) -> u16 {
    let mut status = status;
    for m in mappings {
        match &m.target {
            MappingTarget::Header(name) => {
                apply_header(headers, m.action, name, || src.eval(&m.value))
            }
            MappingTarget::StatusCode => {
                if let Ok(code) = src.eval(&m.value).trim().parse::<u16>() {
                    if (100..=599).contains(&code) {
                        status = code;
                    }
                }
            }
            MappingTarget::QueryString(_) | MappingTarget::Path => {}
        }
    }
    status
}

fn apply_header(
    headers: &mut HeaderMap,
    action: MappingAction,
    name: &str,
    value: impl FnOnce() -> String,
) {
    let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
        return;
    };
    match action {
        MappingAction::Remove => {
            headers.remove(&name);
        }
        MappingAction::Overwrite => {
            if let Ok(v) = HeaderValue::try_from(value()) {
                headers.insert(name, v);
            }
        }
        MappingAction::Append => {
            // AWS appends to an existing header as a comma-separated value.
            let new = value();
            let combined = match headers.get(&name).and_then(|v| v.to_str().ok()) {
                Some(old) => format!("{old},{new}"),
                None => new,
            };
            if let Ok(v) = HeaderValue::try_from(combined) {
                headers.insert(name, v);
            }
        }
    }
}
