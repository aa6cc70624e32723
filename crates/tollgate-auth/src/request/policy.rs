//! Parsing the function's answer and evaluating IAM policies against a route ARN.
//!
//! Two response shapes (http-api-lambda-authorizer.md, "Lambda authorizer response format"):
//!
//! - simple (payload 2.0 with simple responses): `{"isAuthorized": bool, "context": {…}}`;
//! - IAM policy (payload 1.0 always, 2.0 otherwise): `{"principalId", "policyDocument":
//!   {"Version", "Statement": [{"Action", "Effect", "Resource"}]}, "context",
//!   "usageIdentifierKey"}`.
//!
//! Anything else is malformed, which AWS answers with a 500. Policies are parsed once, when
//! the answer arrives, so a cached answer is only evaluated, never re-parsed.
//!
//! Evaluation follows IAM: the request is allowed when some statement allows
//! `execute-api:Invoke` on the route ARN and no statement denies it (an explicit `Deny`
//! wins). `Action` and `Resource` take a string or an array, `NotAction` and `NotResource`
//! are honoured, and both match with IAM's wildcards `*` (any run of characters, `/` and `:`
//! included) and `?` (one character); actions compare case-insensitively, resources
//! case-sensitively. A statement with a `Condition` cannot be evaluated here (there are no
//! condition keys to test), so it is handled fail-closed: an `Allow` with a condition never
//! applies, a `Deny` with a condition always does.

use serde_json::{Map, Value};

use super::PayloadFormat;

/// The action API Gateway authorizes.
const INVOKE: &str = "execute-api:Invoke";

/// A parsed authorizer answer, kept in the cache.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AuthorizerResponse {
    pub(super) decision: Decision,
    pub(super) principal_id: Option<String>,
    pub(super) context: Map<String, Value>,
    pub(super) usage_identifier_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Decision {
    /// A simple response's `isAuthorized`.
    Simple(bool),
    /// A policy's statements.
    Policy(Vec<Statement>),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Statement {
    allow: bool,
    actions: Matcher,
    resources: Matcher,
    conditional: bool,
}

/// `Action`/`Resource` (matches when a pattern matches) or `NotAction`/`NotResource`
/// (matches when none does).
#[derive(Debug, Clone, PartialEq)]
struct Matcher {
    patterns: Vec<String>,
    negated: bool,
}

/// The outcome of evaluating an answer against one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Allow,
    /// A `Deny` statement matched, or a simple response said `false`.
    ExplicitDeny,
    /// No `Allow` statement matched.
    ImplicitDeny,
}

impl AuthorizerResponse {
    pub(super) fn evaluate(&self, route_arn: &str) -> Verdict {
        match &self.decision {
            Decision::Simple(true) => Verdict::Allow,
            Decision::Simple(false) => Verdict::ExplicitDeny,
            Decision::Policy(statements) => evaluate(statements, route_arn),
        }
    }
}

fn evaluate(statements: &[Statement], route_arn: &str) -> Verdict {
    let mut allowed = false;
    for s in statements {
        if !(s.actions.matches(INVOKE, true) && s.resources.matches(route_arn, false)) {
            continue;
        }
        if !s.allow {
            return Verdict::ExplicitDeny;
        }
        if !s.conditional {
            allowed = true;
        }
    }
    if allowed {
        Verdict::Allow
    } else {
        Verdict::ImplicitDeny
    }
}

impl Matcher {
    fn matches(&self, value: &str, ignore_case: bool) -> bool {
        let any = self
            .patterns
            .iter()
            .any(|p| wildcard_match(p, value, ignore_case));
        any != self.negated
    }
}

/// Parses the function's output for the configured format.
pub(super) fn parse(
    output: &[u8],
    format: PayloadFormat,
    simple_responses: bool,
) -> Result<AuthorizerResponse, String> {
    let value: Value =
        serde_json::from_slice(output).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(mut obj) = value else {
        return Err("not a JSON object".to_owned());
    };
    let context = match obj.remove("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err("`context` must be an object".to_owned()),
    };
    if format == PayloadFormat::V1 {
        // "you cannot set a JSON object or array as a valid value of any key in the
        // `context` map" (api-gateway-lambda-authorizer-output.md); AWS answers such a
        // response with a 500.
        if let Some((key, _)) = context
            .iter()
            .find(|(_, v)| matches!(v, Value::Array(_) | Value::Object(_)))
        {
            return Err(format!(
                "context value `{key}` is an object or array, which payload format 1.0 does not allow"
            ));
        }
    }

    if simple_responses && format == PayloadFormat::V2 {
        let authorized = match obj.get("isAuthorized") {
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("`isAuthorized` must be a boolean".to_owned()),
            None => return Err("a simple response needs `isAuthorized`".to_owned()),
        };
        return Ok(AuthorizerResponse {
            decision: Decision::Simple(authorized),
            principal_id: None,
            context,
            usage_identifier_key: None,
        });
    }

    let principal_id = optional_string(&obj, "principalId")?;
    let usage_identifier_key = optional_string(&obj, "usageIdentifierKey")?;
    let document = match obj.get("policyDocument") {
        Some(Value::Object(doc)) => doc,
        Some(_) => return Err("`policyDocument` must be an object".to_owned()),
        None => return Err("an IAM policy response needs `policyDocument`".to_owned()),
    };
    let statements = match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().map(statement).collect::<Result<Vec<_>, _>>()?,
        Some(item @ Value::Object(_)) => vec![statement(item)?],
        Some(_) => return Err("`Statement` must be an object or an array".to_owned()),
        None => return Err("the policy document has no `Statement`".to_owned()),
    };
    Ok(AuthorizerResponse {
        decision: Decision::Policy(statements),
        principal_id,
        context,
        usage_identifier_key,
    })
}

fn optional_string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

fn statement(value: &Value) -> Result<Statement, String> {
    let Value::Object(obj) = value else {
        return Err("a statement must be an object".to_owned());
    };
    let allow = match obj.get("Effect").and_then(Value::as_str) {
        Some("Allow") => true,
        Some("Deny") => false,
        _ => return Err("a statement's `Effect` must be \"Allow\" or \"Deny\"".to_owned()),
    };
    let actions = matcher(obj, "Action", "NotAction")?;
    let resources = matcher(obj, "Resource", "NotResource")?;
    Ok(Statement {
        allow,
        actions,
        resources,
        conditional: obj.get("Condition").is_some_and(|c| !c.is_null()),
    })
}

fn matcher(obj: &Map<String, Value>, key: &str, not_key: &str) -> Result<Matcher, String> {
    let (value, negated) = match (obj.get(key), obj.get(not_key)) {
        (Some(v), None) => (v, false),
        (None, Some(v)) => (v, true),
        (Some(_), Some(_)) => return Err(format!("a statement has both `{key}` and `{not_key}`")),
        (None, None) => return Err(format!("a statement needs `{key}` or `{not_key}`")),
    };
    let patterns = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(format!("`{key}` entries must be strings")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(format!("`{key}` must be a string or an array of strings")),
    };
    Ok(Matcher { patterns, negated })
}

/// IAM wildcard matching: `*` matches any run of characters (including none), `?` exactly
/// one; everything else matches itself. Linear in practice (greedy with one backtrack
/// point), so a hostile pattern cannot make it blow up.
pub(super) fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], v[vi]))) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets/1";

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("*", "anything/at:all", false));
        assert!(wildcard_match("arn:aws:execute-api:*", ARN, false));
        assert!(wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/*",
            ARN,
            false
        ));
        assert!(wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets/?",
            ARN,
            false
        ));
        assert!(!wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets/??",
            ARN,
            false
        ));
        assert!(!wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc/prod/POST/*",
            ARN,
            false
        ));
        assert!(!wildcard_match(
            "ARN:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets/1",
            ARN,
            false
        ));
        assert!(wildcard_match("execute-api:*", INVOKE, true));
        assert!(wildcard_match("EXECUTE-API:invoke", INVOKE, true));
        assert!(wildcard_match("execute-api:Inv*e", INVOKE, true));
        assert!(!wildcard_match("execute-api:InvalidateCache", INVOKE, true));
        assert!(!wildcard_match("s3:*", INVOKE, true));
        assert!(wildcard_match("a*b*c", "aXXbYYc", false));
        assert!(!wildcard_match("a*b*c", "aXXbYY", false));
        // Many stars against a long value must stay fast.
        let long = "a".repeat(5000);
        assert!(!wildcard_match(
            &"*a".repeat(50).replace("a", "b"),
            &long,
            false
        ));
    }

    fn policy(statements: Value) -> AuthorizerResponse {
        let body = json!({"principalId": "u", "policyDocument": {"Version": "2012-10-17", "Statement": statements}});
        parse(body.to_string().as_bytes(), PayloadFormat::V1, false).unwrap()
    }

    #[test]
    fn deny_wins_and_allow_needs_a_match() {
        let allow_all = json!({"Effect": "Allow", "Action": "*", "Resource": "*"});
        let deny_get = json!({"Effect": "Deny", "Action": ["execute-api:*"], "Resource": ["arn:aws:execute-api:*/GET/*"]});
        assert_eq!(policy(json!([allow_all])).evaluate(ARN), Verdict::Allow);
        assert_eq!(
            policy(json!([allow_all, deny_get])).evaluate(ARN),
            Verdict::ExplicitDeny
        );
        assert_eq!(
            policy(json!([deny_get, allow_all])).evaluate(ARN),
            Verdict::ExplicitDeny
        );
        assert_eq!(policy(json!([])).evaluate(ARN), Verdict::ImplicitDeny);
        let other_action =
            json!({"Effect": "Allow", "Action": "execute-api:InvalidateCache", "Resource": "*"});
        assert_eq!(
            policy(json!([other_action])).evaluate(ARN),
            Verdict::ImplicitDeny
        );
        // A single statement object instead of an array is valid IAM.
        assert_eq!(
            policy(json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN}))
                .evaluate(ARN),
            Verdict::Allow
        );
    }

    #[test]
    fn not_action_not_resource_and_conditions() {
        let not_res = json!({"Effect": "Allow", "Action": "execute-api:Invoke", "NotResource": "arn:aws:execute-api:*/POST/*"});
        assert_eq!(policy(json!([not_res])).evaluate(ARN), Verdict::Allow);
        let not_act =
            json!({"Effect": "Allow", "NotAction": "execute-api:Invoke", "Resource": "*"});
        assert_eq!(
            policy(json!([not_act])).evaluate(ARN),
            Verdict::ImplicitDeny
        );
        let cond_allow = json!({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}});
        assert_eq!(
            policy(json!([cond_allow])).evaluate(ARN),
            Verdict::ImplicitDeny
        );
        let allow = json!({"Effect": "Allow", "Action": "*", "Resource": "*"});
        let cond_deny = json!({"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"x": "true"}}});
        assert_eq!(
            policy(json!([allow, cond_deny])).evaluate(ARN),
            Verdict::ExplicitDeny
        );
    }

    #[test]
    fn malformed_answers() {
        let bad = |body: &str, format, simple| parse(body.as_bytes(), format, simple).is_err();
        assert!(bad("not json", PayloadFormat::V2, true));
        assert!(bad("[]", PayloadFormat::V2, true));
        assert!(bad(r#"{"isAuthorized":"true"}"#, PayloadFormat::V2, true));
        assert!(bad(r#"{"context":{}}"#, PayloadFormat::V2, true));
        assert!(bad(r#"{"isAuthorized":true}"#, PayloadFormat::V2, false));
        assert!(bad(r#"{"policyDocument":{}}"#, PayloadFormat::V1, false));
        assert!(bad(
            r#"{"policyDocument":{"Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}}"#,
            PayloadFormat::V1,
            false
        ));
        assert!(bad(
            r#"{"policyDocument":{"Statement":[{"Effect":"Allow","Resource":"*"}]}}"#,
            PayloadFormat::V1,
            false
        ));
        assert!(bad(
            r#"{"policyDocument":{"Statement":[{"Effect":"Allow","Action":"*","Resource":[1]}]}}"#,
            PayloadFormat::V1,
            false
        ));
        assert!(bad(
            r#"{"principalId":1,"policyDocument":{"Statement":[]}}"#,
            PayloadFormat::V1,
            false
        ));
        // Objects in the context: refused by 1.0, accepted by 2.0.
        let nested = r#"{"policyDocument":{"Statement":[]},"context":{"m":{"a":1}}}"#;
        assert!(bad(nested, PayloadFormat::V1, false));
        assert!(!bad(nested, PayloadFormat::V2, false));
        assert!(!bad(
            r#"{"isAuthorized":false,"context":null}"#,
            PayloadFormat::V2,
            true
        ));
    }
}
