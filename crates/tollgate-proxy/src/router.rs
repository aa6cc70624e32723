//! Route matching with AWS HTTP API precedence (aws-facts.md §3.1).
//!
//! AWS picks, for a method and path: the most specific full match (static segments beat
//! `{param}`), then a greedy `{proxy+}` match, then the `$default` route. A route whose method is
//! `ANY` matches every method that has no route of its own *for the same path*; a route for
//! another method never hides a less specific route for the request's method.
//!
//! matchit's radix tree already orders static > param > catch-all and backtracks between them,
//! so we keep one tree per explicitly used method, each holding that method's routes plus the
//! `ANY` routes whose path the method does not define itself, and one tree of `ANY` routes for
//! every other method. A lookup is one tree walk, without allocation.

use std::collections::HashSet;

use http::Method;
use tollgate_config::model::{Route, RouteMatcher};

/// Compiled routes of one API.
#[derive(Debug)]
pub struct ApiRouter {
    /// A handful of methods at most: a linear scan beats hashing the method.
    by_method: Vec<(Method, matchit::Router<usize>)>,
    any: matchit::Router<usize>,
    default_route: Option<usize>,
}

/// The route a request matched, with its path parameters (raw, still percent-encoded).
#[derive(Debug)]
pub struct RouteMatch<'r, 'p> {
    pub route: usize,
    /// (name, value): names borrow from the router, values from the path.
    pub params: Vec<(&'r str, &'p str)>,
}

#[derive(Debug, thiserror::Error)]
#[error("route `{key}` cannot be added: {source}")]
pub struct RouterError {
    key: String,
    #[source]
    source: matchit::InsertError,
}

/// Convert an AWS path template to matchit syntax: `{proxy+}` → `{*proxy}`; literal braces do
/// not occur (config validation allows braces only around parameter names).
fn to_matchit(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 2);
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            out.push_str("{*");
            out.push_str(name);
            out.push('}');
        } else {
            out.push_str(seg);
        }
    }
    out
}

impl ApiRouter {
    pub fn new(routes: &[Route]) -> Result<Self, RouterError> {
        let mut default_route = None;
        let mut methods: HashSet<Method> = HashSet::new();
        for (idx, r) in routes.iter().enumerate() {
            match &r.matcher {
                RouteMatcher::Default => default_route = Some(idx),
                RouteMatcher::Path {
                    method: Some(m), ..
                } => {
                    methods.insert(m.clone());
                }
                RouteMatcher::Path { method: None, .. } => {}
                // WebSocket routes are chosen by the route selection expression.
                RouteMatcher::Websocket => {}
            }
        }

        let insert = |router: &mut matchit::Router<usize>, path: &str, idx: usize| {
            router
                .insert(to_matchit(path), idx)
                .map_err(|source| RouterError {
                    key: routes[idx].key.clone(),
                    source,
                })
        };

        let mut any = matchit::Router::new();
        for (idx, r) in routes.iter().enumerate() {
            if let RouteMatcher::Path { method: None, path } = &r.matcher {
                insert(&mut any, path, idx)?;
            }
        }
        let mut by_method = Vec::new();
        for m in methods {
            let mut tree = matchit::Router::new();
            let mut own_paths = HashSet::new();
            for (idx, r) in routes.iter().enumerate() {
                if let RouteMatcher::Path {
                    method: Some(rm),
                    path,
                } = &r.matcher
                {
                    if *rm == m {
                        insert(&mut tree, path, idx)?;
                        own_paths.insert(path.as_str());
                    }
                }
            }
            for (idx, r) in routes.iter().enumerate() {
                if let RouteMatcher::Path { method: None, path } = &r.matcher {
                    if !own_paths.contains(path.as_str()) {
                        insert(&mut tree, path, idx)?;
                    }
                }
            }
            by_method.push((m, tree));
        }
        Ok(Self {
            by_method,
            any,
            default_route,
        })
    }

    /// Find the route for `method` and `path` (the path without the stage segment).
    pub fn lookup<'r, 'p>(&'r self, method: &Method, path: &'p str) -> Option<RouteMatch<'r, 'p>> {
        let tree = self
            .by_method
            .iter()
            .find(|(m, _)| m == method)
            .map_or(&self.any, |(_, t)| t);
        match tree.at(path) {
            Ok(m) => Some(RouteMatch {
                route: *m.value,
                params: m.params.iter().collect(),
            }),
            Err(_) => self.default_route.map(|route| RouteMatch {
                route,
                params: Vec::new(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(key: &str) -> Route {
        let matcher = if key == "$default" {
            RouteMatcher::Default
        } else {
            let (m, p) = key.split_once(' ').expect("method and path");
            RouteMatcher::Path {
                method: (m != "ANY").then(|| m.parse().expect("method")),
                path: p.to_string(),
            }
        };
        Route {
            key: key.to_string(),
            matcher,
            integration: 0,
            authorizer: None,
            authorization_scopes: Vec::new(),
            api_key_required: false,
            aws_iam: false,
            route_response: false,
        }
    }

    fn resolve(keys: &[&str], method: &str, path: &str) -> Option<String> {
        let routes: Vec<Route> = keys.iter().map(|k| route(k)).collect();
        let router = ApiRouter::new(&routes).expect("router");
        router
            .lookup(&method.parse().expect("method"), path)
            .map(|m| routes[m.route].key.clone())
    }

    /// The table in aws-facts.md §3.1 (DG23 http-api-develop-routes.md).
    #[test]
    fn aws_precedence_table() {
        let keys = [
            "GET /pets/dog/1",
            "GET /pets/dog/{id}",
            "GET /pets/{proxy+}",
            "ANY /{proxy+}",
            "$default",
        ];
        let r = |m, p| resolve(&keys, m, p);
        assert_eq!(r("GET", "/pets/dog/1").as_deref(), Some("GET /pets/dog/1"));
        assert_eq!(
            r("GET", "/pets/dog/2").as_deref(),
            Some("GET /pets/dog/{id}")
        );
        assert_eq!(
            r("GET", "/pets/cat/1").as_deref(),
            Some("GET /pets/{proxy+}")
        );
        assert_eq!(r("POST", "/test/5").as_deref(), Some("ANY /{proxy+}"));
        assert_eq!(r("GET", "/").as_deref(), Some("$default"));
    }

    #[test]
    fn other_method_route_does_not_hide_less_specific_match() {
        let keys = ["POST /pets/{id}", "GET /{proxy+}"];
        assert_eq!(
            resolve(&keys, "GET", "/pets/1").as_deref(),
            Some("GET /{proxy+}")
        );
        assert_eq!(
            resolve(&keys, "POST", "/pets/1").as_deref(),
            Some("POST /pets/{id}")
        );
        assert_eq!(resolve(&keys, "PUT", "/pets/1"), None);
    }

    #[test]
    fn method_route_beats_any_on_same_path() {
        let keys = ["ANY /pets", "GET /pets"];
        assert_eq!(resolve(&keys, "GET", "/pets").as_deref(), Some("GET /pets"));
        assert_eq!(
            resolve(&keys, "DELETE", "/pets").as_deref(),
            Some("ANY /pets")
        );
    }

    #[test]
    fn params_are_returned() {
        let routes = vec![route("GET /pets/{id}"), route("ANY /files/{proxy+}")];
        let router = ApiRouter::new(&routes).expect("router");
        let m = router.lookup(&Method::GET, "/pets/42").expect("match");
        assert_eq!(m.params, vec![("id", "42")]);
        let m = router
            .lookup(&Method::PUT, "/files/a/b.txt")
            .expect("match");
        assert_eq!(m.params, vec![("proxy", "a/b.txt")]);
        assert!(router.lookup(&Method::GET, "/pets/42/x").is_none());
    }
}
