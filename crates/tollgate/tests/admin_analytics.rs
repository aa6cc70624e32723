//! The admin API's forecast and anomalies over a simulated ledger: the same JSON as
//! `tollgate cost forecast` and `tollgate cost anomalies`, with the gateway running.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{binary, client, Gateway};

#[tokio::test(flavor = "multi_thread")]
async fn forecast_and_anomalies_are_served_as_json() {
    let sim = tempfile::tempdir().unwrap();
    let db = sim.path().join("ledger.db");
    let store = format!("sqlite://{}", db.display());
    let out = Command::new(binary())
        .args(["simulate", "--store", &store, "--days", "35", "--seed", "5"])
        .args(["--scenario", "retry-storm:day=28"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let gw = Gateway::start(&format!(
        r#"
listeners: [{{name: main, address: "127.0.0.1:0"}}]
admin: {{address: "127.0.0.1:0"}}
metering: {{store: "{store}"}}
apis:
  - name: shop
    routes: [{{key: "GET /x", integration: m}}]
    integrations: {{m: {{type: mock}}}}
"#
    ));
    let c = client();
    let get = |path: &str| {
        let req = c.get(format!("{}{path}", gw.admin_url()));
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };

    let (status, f) = get("/admin/forecast?by=api").await;
    assert_eq!(status, 200, "{f}");
    for key in ["month", "actual_to_date", "forecast", "lower", "upper"] {
        assert!(f[key].is_string(), "{key} in {f}");
    }
    let apis: Vec<&str> = f["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["api"].as_str())
        .collect();
    for api in ["chat", "legacy", "shop"] {
        assert!(apis.contains(&api), "{api} in {f}");
    }

    let (status, a) = get("/admin/anomalies?min_impact=0.05").await;
    assert_eq!(status, 200, "{a}");
    let found = a["anomalies"].as_array().unwrap().iter().any(|an| {
        an["cause"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["value"] == "POST /orders"))
    });
    assert!(found, "the retry storm and its route: {a}");

    let (status, e) = get("/admin/anomalies?sensitivity=lots").await;
    assert_eq!(status, 400);
    assert!(
        e["message"].as_str().unwrap().contains("sensitivity"),
        "{e}"
    );
    let (status, _) = get("/admin/forecast?colour=red").await;
    assert_eq!(status, 400);
}
