//! Simple IAM-style policies for `execute-api:Invoke`, and the execute-api ARN.
//!
//! Evaluation follows IAM's rule (aws-facts §3.9 for the Lambda-authorizer equivalent): an
//! explicit `Deny` wins, otherwise some `Allow` must match, otherwise the request is denied
//! implicitly. `*` (any run of characters, `/` and `:` included) and `?` (one character) are
//! wildcards in principals, actions and resources; actions compare case-insensitively, as
//! IAM action names do, principals and resources case-sensitively.

use serde::{Deserialize, Serialize};

/// The action API Gateway checks for an IAM-authorized request (aws-facts §3.10).
pub const INVOKE_ACTION: &str = "execute-api:Invoke";

/// Whether a matching statement allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Grants the actions on the resources.
    Allow,
    /// Refuses them, whatever any `Allow` says.
    Deny,
}

/// One policy statement: who (principals) may or may not do what (actions) on which
/// execute-api ARNs (resources).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Access key ids or principal names (as configured on [`super::AccessKey`]) this
    /// statement applies to; `*` for everyone with a valid signature.
    pub principals: Vec<String>,
    /// `Allow` or `Deny`.
    pub effect: Effect,
    /// Actions, e.g. `execute-api:Invoke`, `execute-api:*` or `*`.
    pub actions: Vec<String>,
    /// execute-api ARNs, e.g. `arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/pets/*`.
    pub resources: Vec<String>,
}

impl Policy {
    /// An `Allow` statement.
    pub fn allow<P, A, R>(principals: P, actions: A, resources: R) -> Self
    where
        P: IntoIterator,
        P::Item: Into<String>,
        A: IntoIterator,
        A::Item: Into<String>,
        R: IntoIterator,
        R::Item: Into<String>,
    {
        Policy::new(Effect::Allow, principals, actions, resources)
    }

    /// A `Deny` statement.
    pub fn deny<P, A, R>(principals: P, actions: A, resources: R) -> Self
    where
        P: IntoIterator,
        P::Item: Into<String>,
        A: IntoIterator,
        A::Item: Into<String>,
        R: IntoIterator,
        R::Item: Into<String>,
    {
        Policy::new(Effect::Deny, principals, actions, resources)
    }

    fn new<P, A, R>(effect: Effect, principals: P, actions: A, resources: R) -> Self
    where
        P: IntoIterator,
        P::Item: Into<String>,
        A: IntoIterator,
        A::Item: Into<String>,
        R: IntoIterator,
        R::Item: Into<String>,
    {
        Policy {
            principals: principals.into_iter().map(Into::into).collect(),
            effect,
            actions: actions.into_iter().map(Into::into).collect(),
            resources: resources.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether this statement covers `action` on `resource` for the caller known by
    /// `access_key_id` and `principal`.
    pub fn applies_to(
        &self,
        access_key_id: &str,
        principal: &str,
        action: &str,
        resource: &str,
    ) -> bool {
        self.principals
            .iter()
            .any(|p| wildcard_match(p, access_key_id, false) || wildcard_match(p, principal, false))
            && self.actions.iter().any(|a| wildcard_match(a, action, true))
            && self
                .resources
                .iter()
                .any(|r| wildcard_match(r, resource, false))
    }
}

/// The outcome of evaluating policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    ImplicitDeny,
    ExplicitDeny,
}

/// Explicit deny wins; otherwise one allow suffices; otherwise implicit deny.
pub(crate) fn evaluate(
    policies: &[Policy],
    access_key_id: &str,
    principal: &str,
    action: &str,
    resource: &str,
) -> Decision {
    let mut allowed = false;
    for policy in policies {
        if policy.applies_to(access_key_id, principal, action, resource) {
            match policy.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Matches `text` against `pattern`, where `*` stands for any run of characters (also
/// empty) and `?` for exactly one. Linear in practice: the classic greedy algorithm with
/// one backtrack point.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The ARN API Gateway authorizes an invocation against (aws-facts §3.10):
/// `arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{METHOD}/{path}`, where `path`
/// is the resource path without its one leading `/` (the root path gives a trailing `/`,
/// as in AWS's `…:abc123/api/GET/`). Pass the path relative to the stage, as routed (REST:
/// without the `/{stage}` prefix; HTTP APIs use the stage `$default` when there is none).
pub fn execute_api_arn(
    region: &str,
    account_id: &str,
    api_id: &str,
    stage: &str,
    method: &str,
    path: &str,
) -> String {
    let path = path.strip_prefix('/').unwrap_or(path);
    format!(
        "arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/{}/{path}",
        method.to_ascii_uppercase()
    )
}
