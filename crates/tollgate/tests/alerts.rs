//! Anomaly alerts from `tollgate serve`: a simulated ledger with a retry storm yesterday, the
//! anomaly pass every second, and a webhook server that must receive exactly one POST per
//! anomaly in each format (generic JSON with a dashboard link, Slack `{"text"}`), however
//! many passes run.

mod support;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{binary, Gateway};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook server: records (path, body) of every POST and answers 200.
async fn webhook_server() -> (std::net::SocketAddr, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Received = Arc::default();
    let shared = Arc::clone(&got);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let got = Arc::clone(&shared);
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                // Keep-alive: several requests per connection.
                loop {
                    let mut line = String::new();
                    if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let mut length = 0usize;
                    loop {
                        let mut h = String::new();
                        if read.read_line(&mut h).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if h == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                length = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if read.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    got.lock()
                        .unwrap()
                        .push((path, String::from_utf8_lossy(&body).into_owned()));
                    let _ = write
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await;
                }
            });
        }
    });
    (addr, got)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_anomaly_reaches_each_webhook_once_in_its_format() {
    let sim = tempfile::tempdir().unwrap();
    let db = sim.path().join("ledger.db");
    let store = format!("sqlite://{}", db.display());
    // The period ends today at 00:00 UTC: day 35 is yesterday, inside the alert pass's
    // look-back (the last two whole days and today). A weekend storm adds ~$0.08 an hour, so
    // the minimum impact is $0.05.
    let out = Command::new(binary())
        .args(["simulate", "--store", &store, "--days", "35", "--seed", "5"])
        .args(["--scenario", "retry-storm:day=35,hour=10"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (hook, got) = webhook_server().await;
    let started = Instant::now();
    let gw = Gateway::start(&format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
metering: {{store: "{store}"}}
alerts:
  webhooks:
    - {{url: "http://{hook}/generic"}}
    - {{url: "http://{hook}/slack", format: slack}}
  anomalies: {{every_seconds: 1, min_impact_usd: "0.05"}}
apis:
  - name: shop
    routes: [{{key: "GET /x", integration: m}}]
    integrations: {{m: {{type: mock}}}}
"#
    ));
    let count = |path: &str| {
        got.lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while count("/generic") == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first = started.elapsed();
    assert!(
        count("/generic") > 0,
        "no alert within 2 minutes: {}",
        gw.stderr()
    );
    // At least two more passes (each takes about as long as the first one did).
    tokio::time::sleep((first * 2).max(Duration::from_secs(4)) + Duration::from_secs(2)).await;

    let all = got.lock().unwrap().clone();
    let generic: Vec<Value> = all
        .iter()
        .filter(|(p, _)| p == "/generic")
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    let slack: Vec<Value> = all
        .iter()
        .filter(|(p, _)| p == "/slack")
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    let mut keys = std::collections::BTreeSet::new();
    for a in &generic {
        // The link opens the dashboard on the anomaly's days, at its anomalies panel.
        let day = |k: &str| a[k].as_str().unwrap()[..10].to_owned();
        let link = a["link"].as_str().unwrap();
        assert!(
            link.starts_with(&format!(
                "{}/?period=custom&from={}&to=",
                gw.admin_url(),
                day("start")
            )) && link.ends_with("#p-anomalies"),
            "{a}"
        );
        for k in ["start", "end", "expected", "actual", "impact"] {
            assert!(a[k].is_string(), "{k} in {a}");
        }
        assert!(
            a["granularity"] == "hour" || a["granularity"] == "day",
            "{a}"
        );
        let key = format!("{}|{}|{}", a["start"], a["granularity"], a["dimensions"]);
        assert!(keys.insert(key), "sent twice: {a}\nall: {generic:#?}");
    }
    assert!(
        generic.iter().any(|a| a["cause"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["value"] == "POST /orders")),
        "the storm and its route: {generic:#?}"
    );
    assert_eq!(slack.len(), generic.len(), "one per anomaly in each format");
    for s in &slack {
        let text = s["text"].as_str().unwrap();
        assert!(text.starts_with("Cost anomaly on "), "{text}");
        // The same link as the generic body of the same anomaly.
        assert!(
            generic.iter().any(|g| text.contains(&format!(
                "<{}|Open the dashboard>",
                g["link"].as_str().unwrap()
            ))),
            "{text}"
        );
        assert_eq!(s.as_object().unwrap().len(), 1, "{s}");
    }
    // The log has each one too.
    assert!(gw.stderr().contains("Cost anomaly on "), "{}", gw.stderr());
}
