//! Operating the gateway: validate, reload (SIGHUP and admin API), graceful shutdown with
//! requests in flight, slow clients, access logs and metrics.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{binary, client, Gateway};
use tollgate_test_support::spawn_echo_upstream;

fn mock_api(route: &str, body: &str) -> String {
    format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
apis:
  - name: ops
    routes: [{{key: "{route}", integration: m}}]
    integrations:
      m: {{type: mock, status: 200, body: "{body}"}}
"#
    )
}

#[test]
fn validate_reports_every_error_with_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "listeners: [{name: main, address: \"127.0.0.1:0\"}]\n\
         apis:\n\
         \x20 - name: broken\n\
         \x20   routes:\n\
         \x20     - {key: \"FETCH /x\", integration: m}\n\
         \x20     - {key: \"GET /y\", integration: missing}\n\
         \x20   integrations:\n\
         \x20     m: {type: mock, status: 200, colour: red}\n",
    )
    .unwrap();
    let out = Command::new(binary())
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let p = path.display().to_string();
    // The unknown field is reported first (schema errors); semantic errors appear once the
    // shape is right, so fix it and look again.
    assert!(stderr.contains(&format!("{p}:8:")), "{stderr}");
    assert!(stderr.contains("colour"), "{stderr}");

    std::fs::write(
        &path,
        "listeners: [{name: main, address: \"127.0.0.1:0\"}]\n\
         apis:\n\
         \x20 - name: broken\n\
         \x20   routes:\n\
         \x20     - {key: \"FETCH /x\", integration: m}\n\
         \x20     - {key: \"GET /y\", integration: missing}\n\
         \x20   integrations:\n\
         \x20     m: {type: mock, status: 200}\n",
    )
    .unwrap();
    let out = Command::new(binary())
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with(&p)).collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with(&format!("{p}:5:")), "{stderr}");
    assert!(lines[0].contains("FETCH"), "{stderr}");
    assert!(lines[1].starts_with(&format!("{p}:6:")), "{stderr}");
    assert!(lines[1].contains("missing"), "{stderr}");

    // serve refuses the same file with the same messages.
    let out = Command::new(binary())
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let serve_err = String::from_utf8_lossy(&out.stderr);
    for l in lines {
        assert!(serve_err.contains(l), "{serve_err}");
    }
}

#[test]
fn validate_accepts_the_examples() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    for f in [
        "examples/quickstart.yaml",
        "examples/auth.yaml",
        "bench/gateway.yaml",
    ] {
        let path = format!("{root}/{f}");
        if f.starts_with("bench") && !std::path::Path::new(&path).exists() {
            continue;
        }
        let out = Command::new(binary())
            .args(["validate", "--config", &path])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn config_schema_command_prints_the_checked_in_schema() {
    let out = Command::new(binary())
        .args(["config", "schema"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/config.schema.json"
    ))
    .unwrap();
    let checked_in: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(printed, checked_in);
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_keeps_serving_on_a_broken_file_and_applies_a_good_one() {
    let gw = Gateway::start(&mock_api("GET /v", "one"));
    let c = client();
    let url = format!("{}/v", gw.url("main"));
    assert_eq!(
        c.get(&url).send().await.unwrap().text().await.unwrap(),
        "one"
    );

    // A broken file: the admin API says why, the old configuration keeps serving.
    std::fs::write(&gw.config_path, "apis: [ {name: x, routes: [").unwrap();
    let r = c
        .post(format!("{}/admin/reload", gw.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "rejected");
    let first = body["errors"][0].as_str().unwrap();
    assert!(
        first.starts_with(&format!("{}:", gw.config_path.display())),
        "{first}"
    );
    assert_eq!(
        c.get(&url).send().await.unwrap().text().await.unwrap(),
        "one"
    );

    // SIGHUP with a broken file: same.
    gw.signal("HUP");
    assert!(Gateway::eventually(Duration::from_secs(5), || gw
        .stderr()
        .contains("reload rejected")));
    assert_eq!(
        c.get(&url).send().await.unwrap().text().await.unwrap(),
        "one"
    );

    // A good file via SIGHUP.
    std::fs::write(&gw.config_path, mock_api("GET /v", "two")).unwrap();
    gw.signal("HUP");
    let mut body = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        body = c.get(&url).send().await.unwrap().text().await.unwrap();
        if body == "two" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(body, "two");

    // And via the admin API.
    std::fs::write(&gw.config_path, mock_api("GET /w", "three")).unwrap();
    let r = c
        .post(format!("{}/admin/reload", gw.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let w = format!("{}/w", gw.url("main"));
    assert_eq!(
        c.get(&w).send().await.unwrap().text().await.unwrap(),
        "three"
    );
    assert_eq!(c.get(&url).send().await.unwrap().status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_does_not_drop_requests_in_flight() {
    let up = spawn_echo_upstream().await;
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
apis:
  - name: inflight
    routes: [{{key: "$default", integration: up}}]
    integrations:
      up: {{type: http_proxy, uri: "{}"}}
"#,
        up.url()
    );
    let gw = Gateway::start(&yaml);
    let c = client();
    let slow = tokio::spawn({
        let c = c.clone();
        let url = format!("{}/slow/800", gw.url("main"));
        async move { c.get(url).send().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::fs::write(&gw.config_path, mock_api("GET /other", "new")).unwrap();
    gw.signal("HUP");
    let r = slow.await.unwrap().unwrap();
    assert_eq!(
        r.status(),
        200,
        "the request in flight finished on the old configuration"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["path"], "/slow/800");
    assert!(Gateway::eventually(Duration::from_secs(5), || gw
        .stderr()
        .contains("configuration reloaded")));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_requests_in_flight() {
    let up = spawn_echo_upstream().await;
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
access_log:
  destination: "{{dir}}/access.log"
  format: '{{"id":"$context.requestId","path":"$context.path","status":"$context.status"}}'
apis:
  - name: drain
    routes: [{{key: "$default", integration: up}}]
    integrations:
      up: {{type: http_proxy, uri: "{}"}}
"#,
        up.url()
    );
    let mut gw = Gateway::start(&yaml);
    let c = client();
    let base = gw.url("main");
    let in_flight: Vec<_> = (0..3)
        .map(|i| {
            let c = c.clone();
            let url = format!("{base}/slow/{}", 700 + i * 100);
            tokio::spawn(async move { c.get(url).send().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(250)).await;
    gw.signal("TERM");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // New connections are refused once draining started.
    assert!(TcpStream::connect(gw.listeners["main"]).is_err());
    for t in in_flight {
        let r = t.await.unwrap().unwrap();
        assert_eq!(r.status(), 200);
    }
    let status = gw
        .wait(Duration::from_secs(10))
        .expect("tollgate exits after draining");
    assert!(status.success(), "{status}");
    // Every drained request reached the access log before exit.
    let log = std::fs::read_to_string(gw.dir.path().join("access.log")).unwrap();
    assert_eq!(log.lines().count(), 3, "{log}");
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["status"], "200");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_cut_off() {
    let yaml = r#"
listeners: [{name: main, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
server:
  header_read_timeout_ms: 500
  body_read_timeout_ms: 500
apis:
  - name: slowloris
    routes: [{key: "$default", integration: m}]
    integrations:
      m: {type: mock, status: 200, body: "ok"}
"#;
    let gw = Gateway::start(yaml);

    // Headers trickling in: the connection is closed after the header timeout.
    let mut s = TcpStream::connect(gw.listeners["main"]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = Instant::now();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(150));
        let _ = s.write_all(b"X-Slow: 1\r\n");
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(3), "held for {waited:?}");
    let text = String::from_utf8_lossy(&buf);
    assert!(!text.contains("200 OK"), "{text}");

    // A body that never completes: 408 after the body timeout.
    let mut s = TcpStream::connect(gw.listeners["main"]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains(r#"{"message":"Request Timeout"}"#), "{text}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn access_log_and_metrics_describe_each_request() {
    let up = spawn_echo_upstream().await;
    let yaml = format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
access_log:
  destination: stdout
  format: '{{"requestId":"$context.requestId","routeKey":"$context.routeKey","status":"$context.status","responseLength":"$context.responseLength","integrationLatency":"$context.integrationLatency","responseLatency":"$context.responseLatency","dataProcessed":"$context.dataProcessed","stage":"$context.stage","apiId":"$context.apiId","ip":"$context.identity.sourceIp","method":"$context.httpMethod","error":"$context.error.message"}}'
apis:
  - name: observed
    id: obs123
    routes:
      - {{key: "GET /items/{{id}}", integration: up}}
    integrations:
      up: {{type: http_proxy, uri: "{}/items/{{id}}"}}
"#,
        up.url()
    );
    let gw = Gateway::start(&yaml);
    let c = client();
    let r = c
        .get(format!("{}/items/5", gw.url("main")))
        .send()
        .await
        .unwrap();
    let id = r.headers()["apigw-requestid"].to_str().unwrap().to_string();
    let len = r.bytes().await.unwrap().len();
    let r = c
        .get(format!("{}/nothing", gw.url("main")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    assert!(Gateway::eventually(Duration::from_secs(5), || gw
        .stdout_lines()
        .len()
        >= 2));
    let lines = gw.stdout_lines();
    let first: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["requestId"], id.as_str());
    assert_eq!(first["routeKey"], "GET /items/{id}");
    assert_eq!(first["status"], "200");
    assert_eq!(first["responseLength"], len.to_string());
    assert_eq!(first["dataProcessed"], len.to_string());
    assert_eq!(first["stage"], "$default");
    assert_eq!(first["apiId"], "obs123");
    assert_eq!(first["ip"], "127.0.0.1");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["error"], "-");
    assert!(first["integrationLatency"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .is_ok());
    let second: Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(second["status"], "404");
    assert_eq!(second["routeKey"], "-");
    assert_eq!(second["error"], "Not Found");
    assert_eq!(second["integrationLatency"], "-");

    let metrics = c
        .get(format!("{}/metrics", gw.admin_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let labels = r#"api_id="obs123",api="observed",stage="$default",route="GET /items/{id}""#;
    assert!(
        metrics.contains(&format!("tollgate_requests_total{{{labels}}} 1")),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "tollgate_integration_latency_seconds_count{{{labels}}} 1"
    )));
    let unmatched = r#"api_id="obs123",api="observed",stage="$default",route="-""#;
    assert!(
        metrics.contains(&format!("tollgate_4xx_total{{{unmatched}}} 1")),
        "{metrics}"
    );
    assert!(
        !metrics.contains("/items/5"),
        "raw paths must never become labels"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_api_requires_token_when_configured() {
    let yaml = mock_api("GET /", "x").replace(
        "admin: {address: \"127.0.0.1:0\"}",
        "admin: {address: \"127.0.0.1:0\", token: \"s3cret\"}",
    );
    let gw = Gateway::start(&yaml);
    let c = client();
    let r = c
        .get(format!("{}/metrics", gw.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(format!("{}/metrics", gw.admin_url()))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
