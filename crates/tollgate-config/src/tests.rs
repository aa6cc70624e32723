//! Loading whole files: locations, every error at once, every compile check.

use std::path::Path;
use std::time::Duration;

use crate::model::*;
use crate::{load_str, ConfigErrors, GatewayConfig};

fn load(text: &str) -> Result<GatewayConfig, ConfigErrors> {
    load_str(Path::new("gw.yaml"), text)
}

/// The errors of a config that must not load, as displayed.
fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("expected errors, the config loaded:\n{text}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

fn ok(text: &str) -> GatewayConfig {
    match load(text) {
        Ok(c) => c,
        Err(e) => panic!("unexpected errors:\n{e}\nin:\n{text}"),
    }
}

/// Lines 1-3: one listener.
const LISTENER: &str = "listeners:\n  - name: main\n    address: 127.0.0.1:0\n";

/// A config with one listener and one API `a` whose fields (4-space indented) start at line 6.
fn api(body: &str) -> String {
    format!("{LISTENER}apis:\n  - name: a\n{body}")
}

/// An API with one mock integration `m` and the given routes (lines from 6 on).
const MOCK: &str = "    integrations:\n      m:\n        type: mock\n";

fn lit(s: &str) -> TemplatePart {
    TemplatePart::Literal(s.to_owned())
}

fn var(v: VarRef) -> TemplatePart {
    TemplatePart::Var(v)
}

#[test]
fn quickstart_example_compiles() {
    let text = include_str!("../../../examples/quickstart.yaml");
    let config = ok(text);
    assert_eq!(config.account_id, "123456789012");
    assert_eq!(config.region, "us-east-1");
    assert_eq!(config.listeners.len(), 2);
    assert_eq!(config.listeners[1].name, "internal");
    assert_eq!(
        config.listeners[1].address,
        "127.0.0.1:8081".parse().unwrap()
    );
    assert_eq!(config.admin.address, "127.0.0.1:9180".parse().unwrap());
    assert!(config.access_log.is_some());

    let pets = &config.apis[0];
    assert_eq!(pets.name, "pets");
    assert_eq!(pets.listener, 0);
    assert_eq!(pets.id.len(), 10);
    assert_eq!(
        pets.stages
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["$default", "dev"]
    );
    assert_eq!(pets.cors.as_ref().unwrap().max_age, Some(300));
    assert_eq!(
        pets.routes[2].matcher,
        RouteMatcher::Path {
            method: None,
            path: "/store/{proxy+}".into()
        }
    );
    // Integrations keep file order; routes point at them by index.
    let names: Vec<_> = pets.integrations.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["hello", "inventory", "store"]);
    assert_eq!(pets.routes[1].integration, 1);
    let inventory = &pets.integrations[1];
    assert_eq!(inventory.timeout, Duration::from_millis(5000));
    match &inventory.kind {
        IntegrationKind::HttpProxy { uri, method } => {
            assert_eq!(method, &None);
            assert_eq!(
                uri.parts,
                [
                    lit("http://"),
                    var(VarRef::StageVariable("inventory".into())),
                    lit("/items/"),
                    var(VarRef::RequestPathParam("id".into())),
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        inventory.request_parameters,
        [ParamMapping {
            action: MappingAction::Append,
            target: MappingTarget::Header("x-request-id".into()),
            value: Template {
                parts: vec![var(VarRef::Context("requestId".into()))]
            },
        }]
    );

    let internal = &config.apis[1];
    assert_eq!(internal.listener, 1);
    assert_eq!(internal.routes[1].matcher, RouteMatcher::Default);
    assert_eq!(internal.stages.len(), 1);
    assert!(internal.stages[0].is_default());
}

#[test]
fn defaults() {
    let c = ok(LISTENER);
    assert_eq!(c.account_id, "123456789012");
    assert_eq!(c.region, "us-east-1");
    assert_eq!(c.admin.address, "127.0.0.1:9180".parse().unwrap());
    assert_eq!(c.admin.token, None);
    assert_eq!(c.server.workers, None);
    assert_eq!(c.server.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.server.body_read_timeout, Duration::from_secs(30));
    assert_eq!(c.server.idle_timeout, Duration::from_secs(60));
    assert_eq!(c.server.shutdown_grace, Duration::from_secs(30));
    assert_eq!(c.server.max_body_bytes, 10_485_760);
    assert_eq!(c.server.max_header_bytes, 10_240);
    assert!(c.access_log.is_none());
    assert!(c.apis.is_empty());
    assert_eq!(c.source, Path::new("gw.yaml"));
}

#[test]
fn unknown_field_is_located_at_its_key() {
    let text = "listeners:\n  - name: main\n    listen: 127.0.0.1:80\n    address: 127.0.0.1:0\n";
    assert_eq!(
        errors(text),
        ["gw.yaml:3:5: unknown field `listen`, expected one of `address`, `name`"]
    );
    assert_eq!(
        errors(&format!("{LISTENER}colour: blue\n")),
        ["gw.yaml:4:1: unknown field `colour`, expected one of `access_log`, `account_id`, `admin`, `alerts`, `api_keys`, `apis`, `budgets`, `iam`, `listeners`, `metering`, `region`, `server`, `throttle`, `usage_plans`"]
    );
}

#[test]
fn schema_errors_are_all_reported_in_file_order() {
    let text = "\
listeners:
  - name: main
    listen: 127.0.0.1:80
server:
  workers: \"abc\"
  max_body_bytes: 20000000
apis:
  - name: x
    protocol: soap
    routes:
      - key: GET /a
    integrations:
      l:
        type: lambda
        payload_format_version: 2.0
        timeout_ms: 40000
";
    assert_eq!(
        errors(text),
        [
            "gw.yaml:2:5: missing field `address`",
            "gw.yaml:3:5: unknown field `listen`, expected one of `address`, `name`",
            "gw.yaml:5:12: expected an integer, found string \"abc\"",
            "gw.yaml:6:19: expected at most 10485760, found integer 20000000",
            "gw.yaml:9:15: unknown value `soap`, expected one of `http`, `rest`, `websocket`",
            "gw.yaml:11:9: missing field `integration`",
            "gw.yaml:15:33: expected a string, found number 2.0 (quote it: \"2.0\")",
            "gw.yaml:16:21: expected at most 30000, found integer 40000",
        ]
    );
}

#[test]
fn semantic_errors_are_all_reported_with_positions() {
    let text = "\
listeners:
  - name: main
    address: localhost:80
apis:
  - name: a
    routes:
      - key: FETCH /pets
        integration: m
      - key: GET /b
        integration: nope
      - key: GET /c
        integration: 42
    integrations:
      m:
        type: mock
";
    assert_eq!(
        errors(text),
        ["gw.yaml:12:22: expected a string, found integer 42 (quote it: \"42\")",]
    );
    let text = text.replace("integration: 42", "integration: m");
    assert_eq!(
        errors(&text),
        [
            "gw.yaml:3:14: invalid address `localhost:80`: expected IP:PORT such as `127.0.0.1:8080` or `[::]:8080` (host names are not resolved)",
            "gw.yaml:7:14: invalid route key `FETCH /pets`: unknown method `FETCH`, expected one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, ANY",
            "gw.yaml:10:22: unknown integration `nope`, expected one of `m`",
        ]
    );
}

#[test]
fn json_input_has_locations() {
    let text = r#"{
  "listeners": [{"name": "main", "address": "127.0.0.1:0"}],
  "apis": [
    {"name": "a", "routes": [{"key": "GET /x", "integration": "m", "extra": 1}],
     "integrations": {"m": {"type": "mock"}}}
  ]
}
"#;
    assert_eq!(
        errors(text),
        ["gw.yaml:4:68: unknown field `extra`, expected one of `api_key_required`, `authorization`, `authorization_scopes`, `authorizer`, `integration`, `key`, `route_response`"]
    );
    let text = text
        .replace(", \"extra\": 1", "")
        .replace("GET /x", "GET x");
    assert_eq!(
        errors(&text),
        ["gw.yaml:4:38: invalid route key `GET x`: the path must start with `/`"]
    );
    let text = text.replace("GET x", "GET /x");
    let c = ok(&text);
    assert_eq!(c.apis[0].routes[0].key, "GET /x");
}

#[test]
fn yaml_syntax_error() {
    assert_eq!(
        errors("listeners:\n  - name: main\n   address: x\n"),
        ["gw.yaml:3:4: YAML syntax error: while parsing a block collection, did not find expected '-' indicator"]
    );
}

#[test]
fn unreadable_file() {
    let path = Path::new("/nonexistent/tollgate.yaml");
    let e = crate::load(path).unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!((e.0[0].line, e.0[0].column), (1, 1));
    assert_eq!(
        e.to_string(),
        "/nonexistent/tollgate.yaml:1:1: cannot read the configuration file: No such file or directory (os error 2)"
    );
}

#[test]
fn load_reads_a_file() {
    let dir = std::env::temp_dir().join(format!("tollgate-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gw.yaml");
    std::fs::write(&path, LISTENER).unwrap();
    let c = crate::load(&path).unwrap();
    assert_eq!(c.source, path);
    std::fs::write(&path, "listeners: 5\n").unwrap();
    let e = crate::load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:1:12: expected a list, found integer 5", path.display())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn yaml_typing_is_respected() {
    // A quoted number stays a string; an unquoted one is a number.
    let base = format!("{LISTENER}account_id: ");
    assert_eq!(
        ok(&format!("{base}\"000000000001\"\n")).account_id,
        "000000000001"
    );
    assert_eq!(
        errors(&format!("{base}123456789012\n")),
        ["gw.yaml:4:13: expected a string, found integer 123456789012 (quote it: \"123456789012\")"]
    );
}

#[test]
fn top_level_checks() {
    assert_eq!(
        errors(&format!("{LISTENER}account_id: \"12345\"\nregion: Mars\n")),
        [
            "gw.yaml:4:13: invalid account_id `12345`: expected 12 digits",
            "gw.yaml:5:9: invalid region `Mars`: expected a Region name such as `us-east-1`",
        ]
    );
    assert_eq!(
        ok(&format!("{LISTENER}region: us-gov-west-1\n")).region,
        "us-gov-west-1"
    );
}

#[test]
fn listener_checks() {
    assert_eq!(
        errors("listeners: []\n"),
        ["gw.yaml:1:12: expected at least 1 item, found 0"]
    );
    assert_eq!(
        errors("apis: []\n"),
        ["gw.yaml:1:1: missing field `listeners`"]
    );
    let text = "\
listeners:
  - name: main
    address: 127.0.0.1:0
  - name: main
    address: \"[::1]:8080\"
  - name: other
    address: 127.0.0.1
";
    assert_eq!(
        errors(text),
        [
            "gw.yaml:4:11: duplicate listener name `main` (first used at line 2)",
            "gw.yaml:7:14: invalid address `127.0.0.1`: expected IP:PORT such as `127.0.0.1:8080` or `[::]:8080` (host names are not resolved)",
        ]
    );
}

#[test]
fn admin_checks() {
    assert_eq!(
        errors(&format!("{LISTENER}admin:\n  address: 0.0.0.0:9180\n")),
        ["gw.yaml:5:12: the admin listener `0.0.0.0:9180` is reachable beyond loopback: set `admin.token`"]
    );
    assert_eq!(
        errors(&format!("{LISTENER}admin:\n  token: \"\"\n")),
        ["gw.yaml:5:10: the admin token must not be empty"]
    );
    let c = ok(&format!(
        "{LISTENER}admin:\n  address: 0.0.0.0:9999\n  token: s3cret\n"
    ));
    assert_eq!(c.admin.address, "0.0.0.0:9999".parse().unwrap());
    assert_eq!(c.admin.token.as_deref(), Some("s3cret"));
    assert!(ok(&format!("{LISTENER}admin:\n  address: \"[::1]:1\"\n"))
        .admin
        .token
        .is_none());
}

#[test]
fn server_checks() {
    let c = ok(&format!(
        "{LISTENER}server:\n  workers: 2\n  idle_timeout_ms: 5\n  max_body_bytes: 1024\n  max_header_bytes: 2048\n"
    ));
    assert_eq!(c.server.workers, Some(2));
    assert_eq!(c.server.idle_timeout, Duration::from_millis(5));
    assert_eq!(c.server.max_body_bytes, 1024);
    assert_eq!(c.server.max_header_bytes, 2048);
    assert_eq!(
        errors(&format!(
            "{LISTENER}server:\n  workers: 0\n  header_read_timeout_ms: -1\n  max_body_bytes: 10485761\n"
        )),
        [
            "gw.yaml:5:12: expected at least 1, found integer 0",
            "gw.yaml:6:27: expected at least 1, found integer -1",
            "gw.yaml:7:19: expected at most 10485760, found integer 10485761",
        ]
    );
}

#[test]
fn access_log_checks() {
    let c = ok(&format!(
        "{LISTENER}access_log:\n  destination: /var/log/gw.log\n  format: '$context.requestId $context.authorizer.claims.sub ${{context.status}}'\n"
    ));
    let log = c.access_log.unwrap();
    assert_eq!(
        log.destination,
        LogDestination::File("/var/log/gw.log".into())
    );
    // Defaults: stdout and AWS's JSON example format.
    let c = ok(&format!("{LISTENER}access_log: {{}}\n"));
    let log = c.access_log.unwrap();
    assert_eq!(log.destination, LogDestination::Stdout);
    assert!(log.format.contains("$context.requestId"));

    assert_eq!(
        errors(&format!(
            "{LISTENER}access_log:\n  destination: \"\"\n  format: \"$context.status $context.requestid \\n\"\n"
        )),
        [
            "gw.yaml:5:16: expected `stdout` or a file path, found an empty string",
            "gw.yaml:6:11: the access-log format must be a single line",
            "gw.yaml:6:11: the access-log format must contain `$context.requestId` or `$context.extendedRequestId` (AWS requires it)",
            "gw.yaml:6:11: unknown access-log variable `$context.requestid`",
        ]
    );
    let long = format!("$context.requestId {}", "x".repeat(3060));
    assert_eq!(
        errors(&format!("{LISTENER}access_log:\n  format: '{long}'\n")),
        ["gw.yaml:5:11: the access-log format is 3079 bytes long, at most 3072 are allowed (AWS limit: 3 KB)"]
    );
    assert!(ok(&format!(
        "{LISTENER}access_log:\n  format: '$context.extendedRequestId'\n"
    ))
    .access_log
    .is_some());
}

#[test]
fn api_identity_checks() {
    let text = format!(
        "{LISTENER}apis:
  - name: a
  - name: a
  - name: b
    id: Bad_Id
  - name: c
    id: shared
  - name: d
    id: shared
    hosts: [d.example.com]
  - name: e
    protocol: rest
    hosts: [e.example.com]
  - name: f
    protocol: websocket
    hosts: [f.example.com]
"
    );
    assert_eq!(
        errors(&text),
        [
            "gw.yaml:6:5: the id `grr4viogno` derived from the name clashes with API `a` at line 5: set `id`",
            "gw.yaml:6:5: API `a` has no `hosts`, and neither has API `a` (line 5): listener `main` can have only one default API",
            "gw.yaml:6:11: duplicate API name `a` (first used at line 5)",
            "gw.yaml:7:5: API `b` has no `hosts`, and neither has API `a` (line 5): listener `main` can have only one default API",
            "gw.yaml:8:9: invalid API id `Bad_Id`: expected 1 to 10 lowercase letters and digits",
            "gw.yaml:9:5: API `c` has no `hosts`, and neither has API `a` (line 5): listener `main` can have only one default API",
            "gw.yaml:12:9: duplicate API id `shared` (also used by API `c` at line 10)",
            "gw.yaml:15:15: protocol `rest` is not supported yet (HTTP and WebSocket APIs only)",
        ]
    );
}

#[test]
fn derived_ids_are_stable() {
    let c = ok(&format!(
        "{LISTENER}apis:\n  - name: pets\n  - name: shop\n    hosts: [Shop.Example.com]\n"
    ));
    assert_eq!(c.apis[0].id, crate::compile::derived_api_id("pets"));
    assert_eq!(c.apis[0].id, "va5lll51kl");
    assert_ne!(c.apis[0].id, c.apis[1].id);
    assert!(c.apis[1]
        .id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert_eq!(c.apis[1].hosts, ["shop.example.com"]);
}

#[test]
fn listener_and_host_checks() {
    let two = "listeners:\n  - name: public\n    address: 127.0.0.1:0\n  - name: internal\n    address: 127.0.0.1:0\n";
    let text = format!(
        "{two}apis:
  - name: a
  - name: b
    listener: nope
  - name: c
    listener: public
    hosts: [api.example.com, API.example.com, 'http://x']
  - name: d
    listener: public
    hosts: [api.example.com, '*.example.com']
"
    );
    assert_eq!(
        errors(&text),
        [
            "gw.yaml:7:5: API `a` needs a `listener`: there are several (`public`, `internal`)",
            "gw.yaml:9:15: unknown listener `nope`, expected one of `public`, `internal`",
            "gw.yaml:12:30: host `api.example.com` is listed twice",
            "gw.yaml:12:47: invalid host `http://x`: expected a DNS name such as `api.example.com` (no scheme, port or path)",
            "gw.yaml:15:13: host `api.example.com` is already served by API `c` (line 12) on listener `public`",
        ]
    );
    // One default API per listener is fine, and the same host on two listeners too.
    let text = format!(
        "{two}apis:
  - name: a
    listener: public
  - name: b
    listener: internal
  - name: c
    listener: public
    hosts: ['*.example.com']
  - name: d
    listener: internal
    hosts: ['*.example.com']
"
    );
    let c = ok(&text);
    assert_eq!(c.apis[1].listener, 1);
    assert_eq!(c.apis[2].hosts, ["*.example.com"]);
}

#[test]
fn tag_limit() {
    let tags: String = (0..51).map(|i| format!("      t{i}: v\n")).collect();
    assert_eq!(
        errors(&api(&format!("    tags:\n{tags}"))),
        ["gw.yaml:7:7: expected at most 50 entries, found 51"]
    );
}

#[test]
fn stage_checks() {
    let c = ok(&api(
        "    stages:\n      - name: prod\n        variables:\n          host: example.com\n",
    ));
    assert_eq!(c.apis[0].stages.len(), 1);
    assert_eq!(c.apis[0].stages[0].name, "prod");
    assert_eq!(c.apis[0].stages[0].variables["host"], "example.com");

    let long = "v".repeat(513);
    let text = api(&format!(
        "    stages:
      - name: $default
      - name: $default
      - name: bad name
      - name: ok
        variables:
          bad-name: x
          good: {long}
"
    ));
    assert_eq!(
        errors(&text),
        [
            "gw.yaml:8:15: duplicate stage `$default` (first defined at line 7)",
            "gw.yaml:9:15: invalid stage name `bad name`: expected `$default` or 1 to 128 letters, digits, `-` and `_`",
            "gw.yaml:12:11: invalid stage variable name `bad-name`: expected 1 to 64 letters, digits and `_`",
            "gw.yaml:13:17: stage variable `good` is 513 characters long, at most 512 are allowed (AWS limit)",
        ]
    );
    let stages: String = (0..11).map(|i| format!("      - name: s{i}\n")).collect();
    assert_eq!(
        errors(&api(&format!("    stages:\n{stages}"))),
        ["gw.yaml:7:7: expected at most 10 items, found 11"]
    );
    let vars: String = (0..101).map(|i| format!("          v{i}: x\n")).collect();
    assert_eq!(
        errors(&api(&format!(
            "    stages:\n      - name: s\n        variables:\n{vars}"
        ))),
        ["gw.yaml:9:11: expected at most 100 entries, found 101"]
    );
}

#[test]
fn route_key_checks() {
    let keys = [
        ("GET /pets", None),
        ("$default", None),
        ("ANY /{proxy+}", None),
        ("POST /", None),
        ("get /x", Some("unknown method `get`, expected one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, ANY")),
        ("GET", Some("expected `$default` or `METHOD /path`")),
        ("GET pets", Some("the path must start with `/`")),
        ("GET /pets/", Some("empty path segment (`//` or a trailing `/`)")),
        ("GET /a//b", Some("empty path segment (`//` or a trailing `/`)")),
        ("GET /a/{b-c}", Some("`{b-c}` is not a valid path parameter (letters, digits and `_`)")),
        ("GET /a/{}", Some("`{}` is not a valid path parameter (letters, digits and `_`)")),
        ("GET /a/x{id}", Some("path parameters must be whole segments, found `x{id}`")),
        ("GET /{proxy+}/x", Some("the greedy path parameter `{proxy+}` must be the last segment")),
        ("GET /{id}/{id}", Some("path parameter `{id}` appears twice")),
        ("GET /a b", Some("invalid character in path segment `a b`")),
        ("GET  /a", Some("the path must start with `/`")),
    ];
    for (key, expected) in keys {
        let text = api(&format!(
            "    routes:\n      - key: '{key}'\n        integration: m\n{MOCK}"
        ));
        match expected {
            None => {
                ok(&text);
            }
            Some(message) => assert_eq!(
                errors(&text),
                [format!(
                    "gw.yaml:7:14: invalid route key `{key}`: {message}"
                )],
                "{key}"
            ),
        }
    }
}

#[test]
fn route_matchers() {
    let text = api(&format!(
        "    routes:
      - key: GET /pets/{{id}}
        integration: m
      - key: ANY /{{proxy+}}
        integration: m
      - key: $default
        integration: m
      - key: DELETE /
        integration: m
{MOCK}"
    ));
    let c = ok(&text);
    let matchers: Vec<_> = c.apis[0].routes.iter().map(|r| r.matcher.clone()).collect();
    assert_eq!(
        matchers,
        [
            RouteMatcher::Path {
                method: Some(Method::GET),
                path: "/pets/{id}".into()
            },
            RouteMatcher::Path {
                method: None,
                path: "/{proxy+}".into()
            },
            RouteMatcher::Default,
            RouteMatcher::Path {
                method: Some(Method::DELETE),
                path: "/".into()
            },
        ]
    );
}

#[test]
fn route_set_checks() {
    let text = api(&format!(
        "    routes:
      - key: GET /pets/{{id}}
        integration: m
      - key: GET /pets/{{id}}
        integration: m
      - key: POST /pets/{{name}}/toys
        integration: m
      - key: GET /pets/{{id}}/{{proxy+}}
        integration: m
      - key: GET /pets/{{id}}/{{rest+}}
        integration: m
      - key: ANY /pets/{{proxy+}}
        integration: m
      - key: GET /pets/dog/{{name}}
        integration: m
      - key: GET /shops/{{name}}
        integration: m
      - key: ANY /{{proxy+}}
        integration: m
{MOCK}"
    ));
    assert_eq!(
        errors(&text),
        [
            "gw.yaml:9:14: duplicate route key `GET /pets/{id}` (first defined at line 7)",
            "gw.yaml:11:14: route `POST /pets/{name}/toys` has `{name}` at path segment 2, but route `GET /pets/{id}` (line 7) has `{id}` there: use one name",
            "gw.yaml:15:14: route `GET /pets/{id}/{rest+}` has `{rest+}` at path segment 3, but route `GET /pets/{id}/{proxy+}` (line 13) has `{proxy+}` there: use one name",
            "gw.yaml:17:14: route `ANY /pets/{proxy+}` has `{proxy+}` at path segment 2, but route `GET /pets/{id}` (line 7) has `{id}` there: only one variable segment is allowed per position",
        ]
    );
    // AWS's own routing example (aws-facts §3.1) is fine.
    ok(&api(&format!(
        "    routes:
      - key: GET /pets/dog/1
        integration: m
      - key: GET /pets/dog/{{id}}
        integration: m
      - key: GET /pets/{{proxy+}}
        integration: m
      - key: ANY /{{proxy+}}
        integration: m
      - key: $default
        integration: m
{MOCK}"
    )));
    let routes: String = (0..301)
        .map(|i| format!("      - key: GET /r{i}\n        integration: m\n"))
        .collect();
    assert_eq!(
        errors(&api(&format!("    routes:\n{routes}{MOCK}"))),
        ["gw.yaml:7:7: expected at most 300 items, found 301"]
    );
}

#[test]
fn route_integration_checks() {
    let text = api("    routes:
      - key: GET /items/{id}
        integration: proxy
      - key: GET /items
        integration: proxy
      - key: $default
        integration: mapped
      - key: GET /x
        integration: missing
    integrations:
      proxy:
        type: http_proxy
        uri: http://backend/items/{id}
      mapped:
        type: mock
        request_parameters:
          overwrite:header.x-id: $request.path.id
");
    assert_eq!(
        errors(&text),
        [
            "gw.yaml:10:22: integration `proxy` uses path parameter `{id}`, which route `GET /items` does not have",
            "gw.yaml:12:22: integration `mapped` uses path parameter `{id}`, which route `$default` does not have",
            "gw.yaml:14:22: unknown integration `missing`, expected one of `proxy`, `mapped`",
        ]
    );
    assert_eq!(
        errors(&api(
            "    routes:\n      - key: GET /x\n        integration: m\n"
        )),
        ["gw.yaml:8:22: unknown integration `m`: the API has no integrations"]
    );
}

#[test]
fn integration_types() {
    let text = api("    routes:
      - key: ANY /{proxy+}
        integration: p
    integrations:
      p:
        type: http_proxy
        uri: http://${stageVariables.host}/base/{proxy}
        method: POST
      m:
        type: mock
        status: 201
        headers:
          X-B: two
          Content-Type: text/plain
        body: hi
      l:
        type: lambda
        endpoint: http://127.0.0.1:9001/
        function: fn-${stageVariables.alias}
        payload_format_version: '1.0'
        timeout_ms: 50
      d:
        type: mock
");
    let c = ok(&text);
    let integrations = &c.apis[0].integrations;
    match &integrations[0].kind {
        IntegrationKind::HttpProxy { uri, method } => {
            assert_eq!(method, &Some(Method::POST));
            assert_eq!(
                uri.parts,
                [
                    lit("http://"),
                    var(VarRef::StageVariable("host".into())),
                    lit("/base/"),
                    var(VarRef::RequestPathParam("proxy".into())),
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    match &integrations[1].kind {
        IntegrationKind::Mock {
            status,
            headers,
            body,
        } => {
            assert_eq!(*status, StatusCode::CREATED);
            // File order, names lower-cased.
            assert_eq!(
                headers,
                &[
                    ("x-b".to_owned(), "two".to_owned()),
                    ("content-type".to_owned(), "text/plain".to_owned())
                ]
            );
            assert_eq!(body, "hi");
        }
        other => panic!("{other:?}"),
    }
    match &integrations[2].kind {
        IntegrationKind::Lambda {
            endpoint,
            function,
            payload_format,
        } => {
            assert_eq!(endpoint, "http://127.0.0.1:9001");
            assert_eq!(
                function.parts,
                [lit("fn-"), var(VarRef::StageVariable("alias".into()))]
            );
            assert_eq!(*payload_format, PayloadFormat::V1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(integrations[2].timeout, Duration::from_millis(50));
    match &integrations[3].kind {
        IntegrationKind::Mock {
            status,
            headers,
            body,
        } => {
            assert_eq!(*status, StatusCode::OK);
            assert!(headers.is_empty());
            assert_eq!(body, "");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(integrations[3].timeout, Duration::from_secs(30));
}

#[test]
fn integration_field_checks() {
    let text = api("    integrations:
      p:
        type: http_proxy
        body: nope
        method: FETCH
      q:
        type: http_proxy
        uri: ftp://x/
      r:
        type: http_proxy
        uri: http://x/{a-b}
      m:
        type: mock
        uri: http://x
        status: 99
      l:
        type: lambda
        endpoint: localhost:9001
      l2:
        type: lambda
        endpoint: http://127.0.0.1:9001
        function: ''
        headers: {}
");
    assert_eq!(
        errors(&text),
        ["gw.yaml:20:17: expected at least 100, found integer 99"]
    );
    let text = text.replace("status: 99", "status: 200");
    assert_eq!(
        errors(&text),
        [
            "gw.yaml:7:7: `http_proxy` integration `p` needs `uri`",
            "gw.yaml:9:9: field `body` does not apply to `http_proxy` integrations",
            "gw.yaml:10:17: unknown method `FETCH`, expected one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, ANY",
            "gw.yaml:13:14: invalid uri `ftp://x/`: expected `http://`",
            "gw.yaml:16:14: invalid uri: `{a-b}` is not a path parameter (letters, digits and `_`)",
            "gw.yaml:19:9: field `uri` does not apply to `mock` integrations",
            "gw.yaml:21:7: `lambda` integration `l` needs `function`",
            "gw.yaml:23:19: invalid endpoint `localhost:9001`: expected `http://HOST:PORT`",
            "gw.yaml:27:19: the function name must not be empty",
            "gw.yaml:28:9: field `headers` does not apply to `lambda` integrations",
        ]
    );
}

#[test]
fn parameter_mappings() {
    let text = api("    integrations:
      m:
        type: mock
        request_parameters:
          remove:header.x-old: \"''\"
          append:header.X-New: $request.header.x-old
          overwrite:querystring.page: ${request.querystring.p}-${stageVariables.suffix}
          overwrite:path: /v2$request.path
        response_parameters:
          500:
            overwrite:statuscode: '503'
            append:header.x-trace: $response.header.x-trace-id
          \"404\":
            overwrite:header.x-body: $response.body.error.code
");
    let c = ok(&text);
    let m = &c.apis[0].integrations[0];
    // File order, not alphabetical.
    assert_eq!(
        m.request_parameters,
        [
            ParamMapping {
                action: MappingAction::Remove,
                target: MappingTarget::Header("x-old".into()),
                value: Template::default(),
            },
            ParamMapping {
                action: MappingAction::Append,
                target: MappingTarget::Header("x-new".into()),
                value: Template {
                    parts: vec![var(VarRef::RequestHeader("x-old".into()))]
                },
            },
            ParamMapping {
                action: MappingAction::Overwrite,
                target: MappingTarget::QueryString("page".into()),
                value: Template {
                    parts: vec![
                        var(VarRef::RequestQueryString("p".into())),
                        lit("-"),
                        var(VarRef::StageVariable("suffix".into())),
                    ]
                },
            },
            ParamMapping {
                action: MappingAction::Overwrite,
                target: MappingTarget::Path,
                value: Template::literal("/v2$request.path"),
            },
        ]
    );
    assert_eq!(
        m.response_parameters[&500],
        [
            ParamMapping {
                action: MappingAction::Overwrite,
                target: MappingTarget::StatusCode,
                value: Template::literal("503"),
            },
            ParamMapping {
                action: MappingAction::Append,
                target: MappingTarget::Header("x-trace".into()),
                value: Template {
                    parts: vec![var(VarRef::ResponseHeader("x-trace-id".into()))]
                },
            },
        ]
    );
    assert_eq!(
        m.response_parameters[&404][0].value.parts,
        [var(VarRef::ResponseBodyPath(vec![
            JsonPathSegment::Key("error".into()),
            JsonPathSegment::Key("code".into())
        ]))]
    );
}

#[test]
fn parameter_mapping_checks() {
    let text = api("    integrations:
      m:
        type: mock
        request_parameters:
          header.x: a
          rename:header.x: a
          append:header.Authorization: a
          append:header.x-amzn-trace-id: a
          append:header.access-control-allow-origin: a
          append:cookie.x: a
          append:path: a
          overwrite:statuscode: '200'
          append:header.x-a: $response.header.x
          append:header.x-b: $foo.bar
          append:header.x-c: $request.body..a
        response_parameters:
          '199':
            append:header.x: a
          '200':
            overwrite:path: a
            append:querystring.q: a
            remove:statuscode: a
            overwrite:statuscode: '700'
            append:header.x: $request.header.x
            append:header.via: a
");
    assert_eq!(
        errors(&text),
        [
            "gw.yaml:10:11: invalid parameter mapping `header.x`: expected `ACTION:TARGET`, such as `append:header.x-id`",
            "gw.yaml:11:11: unknown action `rename` in `rename:header.x`: expected `append`, `overwrite` or `remove`",
            "gw.yaml:12:11: header `authorization` is reserved and cannot be mapped (AWS)",
            "gw.yaml:13:11: header `x-amzn-trace-id` is reserved and cannot be mapped (AWS)",
            "gw.yaml:14:11: header `access-control-allow-origin` is reserved and cannot be mapped (AWS)",
            "gw.yaml:15:11: unknown target `cookie.x` in `append:cookie.x`: expected `header.NAME`, `querystring.NAME` or `path`",
            "gw.yaml:16:11: `append:path`: the path can only be overwritten (`overwrite:path`)",
            "gw.yaml:17:11: `overwrite:statuscode`: the status code can only be mapped in response parameters",
            "gw.yaml:18:30: `$response.header.x` cannot be used in request parameters: use `$request.*`, `$context.*` or `$stageVariables.*`",
            "gw.yaml:19:30: unknown reference `$foo.bar`: use `$request.*`, `$context.*` or `$stageVariables.*`",
            "gw.yaml:20:30: `$request.body..a`: recursive descent `..` and empty keys are not supported",
            "gw.yaml:22:11: invalid status code `199`: expected 200 to 599",
            "gw.yaml:25:13: `overwrite:path`: the path can only be mapped in request parameters",
            "gw.yaml:26:13: `append:querystring.q`: query strings can only be mapped in request parameters",
            "gw.yaml:27:13: `remove:statuscode`: the status code can only be overwritten (`overwrite:statuscode`)",
            "gw.yaml:28:35: `overwrite:statuscode` needs a status code from 100 to 599, found `700`",
            "gw.yaml:29:30: `$request.header.x` cannot be used in response parameters: use `$response.*`, `$context.*` or `$stageVariables.*`",
            "gw.yaml:30:13: header `via` is reserved and cannot be mapped (AWS)",
        ]
    );
}

#[test]
fn cors_checks() {
    let text = api("    cors:
      allow_origins: ['*']
      allow_methods: [GET, '*', 'BAD METHOD']
      allow_headers: [authorization, 'bad header']
      expose_headers: [x-id]
      allow_credentials: true
");
    assert_eq!(
        errors(&text),
        [
            "gw.yaml:8:33: invalid method `BAD METHOD`: expected a method name such as `GET`, or `*`",
            "gw.yaml:9:38: invalid header name `bad header`",
            "gw.yaml:11:26: `allow_credentials: true` cannot be combined with the origin `*`: list the origins",
        ]
    );
    let c = ok(&api(
        "    cors:\n      allow_origins: [https://a.example]\n      allow_credentials: true\n",
    ));
    let cors = c.apis[0].cors.as_ref().unwrap();
    assert!(cors.allow_credentials);
    assert_eq!(cors.max_age, None);
}

/// compile() is also reachable without the schema (e.g. from an OpenAPI import), so it checks
/// the bounds the schema already enforces; without locations, errors sit at 1:1.
#[test]
fn compile_checks_bounds_without_the_schema() {
    let raw: crate::schema::Config = serde_json::from_value(serde_json::json!({
        "listeners": [],
        "server": {"workers": 0, "max_body_bytes": 20_000_000},
        "apis": [{"name": "a", "integrations": {
            "m": {"type": "mock", "status": 700, "timeout_ms": 40_000}
        }}]
    }))
    .unwrap();
    let e = crate::compile::compile(
        &raw,
        &crate::load::Locations::default(),
        Path::new("x.yaml"),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.yaml:1:1: at least one listener is required
x.yaml:1:1: expected at least 1, found integer 0
x.yaml:1:1: expected at most 10485760 (AWS's 10 MB payload limit), found integer 20000000
x.yaml:1:1: expected a status code from 100 to 599, found 700
x.yaml:1:1: expected a timeout from 50 to 30000 ms (AWS HTTP API limits), found 40000"
    );
}

#[test]
fn json_schema_is_usable() {
    let schema = crate::json_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["title"], "tollgate configuration");
    // No nullable fields: `Option` is "leave it out".
    assert!(!schema.to_string().contains("\"null\""));
    assert!(jsonschema::validator_for(&schema).is_ok());
}

#[test]
fn keys_with_slashes_and_tildes_are_located() {
    let text = api("    integrations:\n      a/b~c:\n        type: mock\n        colour: red\n");
    assert_eq!(
        errors(&text),
        ["gw.yaml:9:9: unknown field `colour`, expected one of `body`, `endpoint`, `function`, `headers`, `method`, `payload_format_version`, `request_parameters`, `response_parameters`, `status`, `timeout_ms`, `type`, `uri`"]
    );
    let text = api("    integrations:\n      a/b~c:\n        type: mock\n        uri: http://x\n");
    assert_eq!(
        errors(&text),
        ["gw.yaml:9:9: field `uri` does not apply to `mock` integrations"]
    );
}

#[test]
fn https_integrations_are_rejected_until_supported() {
    let text = api(
        "    routes:\n      - {key: $default, integration: up}\n    integrations:\n      up: {type: http_proxy, uri: \"https://backend.example\"}\n      fn: {type: lambda, endpoint: \"https://lambda.example\", function: f}\n",
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].starts_with("gw.yaml:9:"), "{errs:?}");
    assert!(
        errs[0].contains("https integrations are not supported yet"),
        "{errs:?}"
    );
    assert!(errs[1].starts_with("gw.yaml:10:"), "{errs:?}");
}

/// An API `shop` with routes `GET /a`, `GET /b` and a JWT authorizer, a key and a plan.
const ACCESS: &str = r#"listeners: [{name: main, address: "127.0.0.1:0"}]
throttle: {rate: 100, burst: 50}
api_keys:
  - {id: k1, value: secret-value-0001}
  - {id: k2, value: secret-value-0002, enabled: false}
usage_plans:
  - name: basic
    throttle: {rate: 10, burst: 5}
    quota: {limit: 100, period: DAY}
    keys: [k1, k2]
    stages:
      - api: shop
        route_throttle: {"GET /b": {rate: 1, burst: 1}}
apis:
  - name: shop
    authorizers:
      jwt1: {type: jwt, issuer: "http://127.0.0.1:9/", audience: [app]}
    stages:
      - name: $default
        throttle: {rate: 20, burst: 10}
        route_throttle: {"GET /a": {rate: 0.5, burst: 1}}
    routes:
      - {key: "GET /a", integration: m, authorizer: jwt1, authorization_scopes: [read]}
      - {key: "GET /b", integration: m, api_key_required: true}
    integrations:
      m: {type: mock}
"#;

#[test]
fn access_control_compiles_into_the_model() {
    let c = ok(ACCESS);
    assert_eq!(
        c.throttle,
        Some(Throttle {
            rate: 100.0,
            burst: 50
        })
    );
    assert_eq!(c.api_keys.len(), 2);
    assert!(!c.api_keys[1].enabled);
    let plan = &c.usage_plans[0];
    assert_eq!(plan.keys, vec![0, 1]);
    assert_eq!(
        plan.quota,
        Some(Quota {
            limit: 100,
            period: QuotaPeriod::Day
        })
    );
    assert_eq!(plan.stages[0].api, 0);
    assert_eq!(plan.stages[0].stage, 0);
    assert_eq!(
        plan.stages[0].route_throttle,
        vec![(
            1,
            Throttle {
                rate: 1.0,
                burst: 1
            }
        )]
    );
    let api = &c.apis[0];
    let AuthorizerKind::Jwt(jwt) = &api.authorizers[0].kind else {
        panic!("a jwt authorizer");
    };
    assert_eq!(jwt.identity_header, "authorization");
    assert_eq!(jwt.audiences, ["app"]);
    assert_eq!(api.routes[0].authorizer, Some(0));
    assert_eq!(api.routes[0].authorization_scopes, ["read"]);
    assert!(api.routes[1].api_key_required);
    let stage = &api.stages[0];
    assert_eq!(
        stage.throttle,
        Some(Throttle {
            rate: 20.0,
            burst: 10
        })
    );
    assert_eq!(
        stage.route_throttle,
        vec![
            Some(Throttle {
                rate: 0.5,
                burst: 1
            }),
            None
        ]
    );
}

#[test]
fn access_control_errors_are_all_reported() {
    let broken = ACCESS
        .replace("authorizer: jwt1,", "authorizer: jwt2,")
        .replace("keys: [k1, k2]", "keys: [k1, k3]")
        .replace(
            "\"GET /b\": {rate: 1, burst: 1}",
            "\"GET /c\": {rate: 1, burst: 1}",
        )
        .replace("value: secret-value-0002", "value: secret-value-0001")
        .replace(
            "throttle: {rate: 20, burst: 10}",
            "throttle: {rate: 200, burst: 10}",
        )
        .replace("issuer: \"http://127.0.0.1:9/\"", "issuer: \"ftp://x\"");
    let e = errors(&broken);
    let all = e.join("\n");
    for expected in [
        "gw.yaml:5:21: API key `k2`", // duplicate value, located at the second key
        "has the same value as the key", // and the secret is not printed
        "unknown API key `k3`",
        "`GET /c` is not a route of API `shop`",
        "invalid issuer `ftp://x`",
        "exceeds the account's (rate 100, burst 50)",
        "unknown authorizer `jwt2`, expected one of `jwt1`",
    ] {
        assert!(all.contains(expected), "missing `{expected}` in:\n{all}");
    }
    assert!(!all.contains("secret-value"), "{all}");
    assert_eq!(e.len(), 6, "{all}");

    let scopes_alone = ACCESS.replace("authorizer: jwt1, ", "");
    assert!(errors(&scopes_alone)[0].contains("authorization scopes need a jwt `authorizer`"));

    let twice = ACCESS.replace(
        "apis:\n  - name: shop",
        "  - name: premium\n    keys: [k1]\n    stages: [{api: shop}]\napis:\n  - name: shop",
    );
    assert!(
        errors(&twice)[0].contains("API key `k1` is already in usage plan `basic`"),
        "{:?}",
        errors(&twice)
    );
}

#[test]
fn budgets_compile_and_their_errors_are_reported() {
    let with = |budgets: &str| {
        ACCESS.replace(
            "apis:\n  - name: shop",
            &format!("budgets:\n{budgets}apis:\n  - name: shop"),
        )
    };
    let c = ok(&with(
        "  - {name: b1, api: shop, key: k1, limit_usd: \"25.50\", alert_at_percent: [100, 50, 50], webhook: \"http://127.0.0.1:9/hook\", on_limit: throttle, throttle: {rate: 1, burst: 1}}\n  - {name: b2, key: k2, limit_usd: \"3\", on_limit: block}\n",
    ));
    let b = &c.budgets[0];
    assert_eq!((b.api, b.stage, b.key), (Some(0), None, Some(0)));
    assert_eq!(b.alert_at_percent, vec![50, 100]);
    assert_eq!(
        b.on_limit,
        OnLimit::Throttle(Throttle {
            rate: 1.0,
            burst: 1
        })
    );
    assert_eq!(c.budgets[1].on_limit, OnLimit::Block);
    assert_eq!(c.budgets[1].alert_at_percent, vec![50, 80, 100]);

    let e = errors(&with(
        "  - {name: b1, limit_usd: \"1\"}\n  - {name: b1, api: nope, stage: x, limit_usd: \"1\", on_limit: throttle, webhook: \"ftp://x\"}\n",
    ))
    .join("\n");
    for expected in [
        "budget `b1` needs a scope",
        "duplicate budget `b1`",
        "unknown API `nope`",
        "`on_limit: throttle` needs a `throttle`",
        "invalid webhook `ftp://x`",
    ] {
        assert!(e.contains(expected), "missing `{expected}` in:\n{e}");
    }
    let e = errors(&with("  - {name: b, key: k1, limit_usd: \"1.2.3\"}\n"));
    assert!(e[0].contains("does not match the pattern"), "{e:?}");
}

#[test]
fn request_authorizers_and_iam_compile_and_their_errors_are_reported() {
    let config = r#"listeners: [{name: main, address: "127.0.0.1:0"}]
iam:
  access_keys:
    - {access_key_id: AKIAEXAMPLE000001, secret_access_key: s3cret, principal: "arn:aws:iam::123456789012:user/ci"}
  policies:
    - {effect: Allow, principals: ["arn:aws:iam::123456789012:user/ci"], resources: ["arn:aws:execute-api:*:*:*/*/GET/*"]}
apis:
  - name: shop
    authorizers:
      fn: {type: request, endpoint: "http://127.0.0.1:9001", function: auth, identity_source: ["$request.header.x-token", "$context.routeKey"], result_ttl_seconds: 0, enable_simple_responses: true}
    routes:
      - {key: "GET /a", integration: m, authorizer: fn}
      - {key: "GET /b", integration: m, authorization: aws_iam}
    integrations:
      m: {type: mock}
"#;
    let c = ok(config);
    let AuthorizerKind::Request(r) = &c.apis[0].authorizers[0].kind else {
        panic!("a request authorizer");
    };
    assert_eq!(
        r.identity_sources,
        ["$request.header.x-token", "$context.routeKey"]
    );
    assert_eq!(r.result_ttl, Duration::ZERO);
    assert!(r.simple_responses);
    assert!(c.apis[0].routes[1].aws_iam);
    let iam = c.iam.as_ref().unwrap();
    assert_eq!(iam.clock_skew, Duration::from_secs(900));
    assert!(iam.policies[0].allow);

    let broken = config
        .replace(
            "endpoint: \"http://127.0.0.1:9001\"",
            "endpoint: \"ftp://x\"",
        )
        .replace("$context.routeKey", "$body.x")
        .replace(
            "principals: [\"arn:aws:iam::123456789012:user/ci\"]",
            "principals: [nobody]",
        )
        .replace(
            "authorization: aws_iam}",
            "authorization: aws_iam, authorizer: fn}",
        );
    let e = errors(&broken).join("\n");
    for expected in [
        "invalid endpoint `ftp://x`",
        "invalid identity source `$body.x`",
        "`nobody` is neither an access key id nor a principal",
        "either an `authorizer` or `authorization: aws_iam`",
    ] {
        assert!(e.contains(expected), "missing `{expected}` in:\n{e}");
    }
    let no_iam = config.replace("iam:\n  access_keys:\n    - {access_key_id: AKIAEXAMPLE000001, secret_access_key: s3cret, principal: \"arn:aws:iam::123456789012:user/ci\"}\n  policies:\n    - {effect: Allow, principals: [\"arn:aws:iam::123456789012:user/ci\"], resources: [\"arn:aws:execute-api:*:*:*/*/GET/*\"]}\n", "");
    assert!(
        errors(&no_iam)[0].contains("needs an `iam` section"),
        "{:?}",
        errors(&no_iam)
    );
}

#[test]
fn websocket_example_compiles() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/websocket.yaml"
    ))
    .unwrap();
    let c = ok(&text);
    let api = &c.apis[0];
    assert_eq!(api.protocol, Protocol::Websocket);
    let ws = api.websocket.as_ref().unwrap();
    assert_eq!(ws.route_selection_text, "$request.body.action");
    assert_eq!(ws.idle_timeout, Duration::from_secs(600));
    assert_eq!(ws.max_duration, Duration::from_secs(7200));
    assert_eq!(ws.connections_per_second, 500);
    assert_eq!(ws.custom.get("echo"), Some(&0));
    assert_eq!(ws.default, Some(1));
    assert!(api.routes[0].route_response);
}

#[test]
fn websocket_rules_are_checked() {
    let text = api("    protocol: websocket
    route_selection_expression: $request.header.x-action
    cors: {allow_origins: ['*']}
    authorizers:
      j: {type: jwt, issuer: 'https://issuer.example.com', audience: [a]}
    routes:
      - {key: $connect, integration: m, route_response: true, authorizer: j}
      - {key: $join, integration: m}
      - {key: send, integration: m, api_key_required: true}
    integrations:
      m: {type: mock}
  - name: b
    hosts: [b.example.com]
    route_selection_expression: $request.body.action
    routes:
      - {key: GET /x, integration: m, route_response: true}
    integrations:
      m: {type: mock}
");
    let errs = errors(&text);
    let has = |needle: &str| errs.iter().any(|e| e.contains(needle));
    assert!(
        has("invalid route selection expression `$request.header.x-action`"),
        "{errs:#?}"
    );
    assert!(has("CORS does not apply to WebSocket APIs"), "{errs:#?}");
    assert!(
        has("is a jwt authorizer; WebSocket APIs take request authorizers"),
        "{errs:#?}"
    );
    assert!(has("`$connect` cannot have a route response"), "{errs:#?}");
    assert!(
        has("custom WebSocket route keys must not start with `$`"),
        "{errs:#?}"
    );
    assert!(
        has("only the `$connect` route of a WebSocket API can have authorization"),
        "{errs:#?}"
    );
    assert!(
        has("`route_selection_expression` applies to `protocol: websocket` APIs only"),
        "{errs:#?}"
    );
    assert!(
        has("`route_response` applies to `protocol: websocket` APIs only"),
        "{errs:#?}"
    );
    // Every error is located.
    assert!(errs.iter().all(|e| e.starts_with("gw.yaml:")), "{errs:#?}");
}
