//! `tollgate cost timeseries`: the dashboard's chart from the command line, in three formats,
//! adding up to `cost report`'s total.

mod support;

use std::process::Command;

use serde_json::Value;

fn tollgate(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(support::binary())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn timeseries_adds_up_to_the_report_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = tollgate(
        dir.path(),
        &[
            "simulate",
            "--store",
            "sqlite://s.db",
            "--days",
            "9",
            "--seed",
            "11",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The simulated days end yesterday; take three whole days inside them.
    let today = time::OffsetDateTime::now_utc().date();
    let from = (today - time::Duration::days(5)).to_string();
    let to = (today - time::Duration::days(2)).to_string();
    let period = ["--store", "sqlite://s.db", "--from", &from, "--to", &to];

    let json = tollgate(
        dir.path(),
        &[
            &[
                "cost",
                "timeseries",
                "--by",
                "route",
                "--interval",
                "day",
                "--format",
                "json",
            ][..],
            &period,
        ]
        .concat(),
    );
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let ts: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(ts["interval"], "day");
    assert_eq!(ts["buckets"].as_array().unwrap().len(), 3);
    let report = tollgate(
        dir.path(),
        &[&["cost", "report", "--format", "json"][..], &period].concat(),
    );
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    let total = |v: &Value| v["total"].as_str().unwrap().parse::<f64>().unwrap();
    assert!(total(&report) > 1.0);
    assert!(
        (total(&ts) - total(&report)).abs() < 1e-6,
        "{} vs {}",
        ts["total"],
        report["total"]
    );

    // CSV: one line per (day, series); its costs add up to the same total.
    let csv = tollgate(
        dir.path(),
        &[
            &[
                "cost",
                "timeseries",
                "--by",
                "route",
                "--interval",
                "day",
                "--format",
                "csv",
            ][..],
            &period,
        ]
        .concat(),
    );
    let text = String::from_utf8(csv.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("bucket,series,api,route,cost"));
    let sum: f64 = lines
        .map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((sum - total(&report)).abs() < 1e-6);

    // The table ends with the total in cents.
    let table = tollgate(
        dir.path(),
        &[&["cost", "timeseries", "--interval", "day"][..], &period].concat(),
    );
    let text = String::from_utf8(table.stdout).unwrap();
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("total"), "{text}");
    assert!(last.ends_with(&format!("{:.2}", total(&report))), "{text}");

    // A bad dimension is refused with the reason.
    let bad = tollgate(
        dir.path(),
        &[&["cost", "timeseries", "--by", "colour"][..], &period].concat(),
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`colour` is not one of"));
}

#[tokio::test(flavor = "multi_thread")]
async fn movers_rank_changes_against_the_previous_period() {
    let dir = tempfile::tempdir().unwrap();
    // A retry storm two days ago makes `POST /orders` jump against the days before.
    let out = tollgate(
        dir.path(),
        &[
            "simulate",
            "--store",
            "sqlite://s.db",
            "--days",
            "10",
            "--seed",
            "5",
            "--scenario",
            "retry-storm:day=8,hours=8,factor=10",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let today = time::OffsetDateTime::now_utc().date();
    let from = (today - time::Duration::days(3)).to_string();
    let to = (today - time::Duration::days(1)).to_string();
    let prev_from = (today - time::Duration::days(5)).to_string();
    let args = |format: &str| -> Vec<String> {
        [
            "cost",
            "movers",
            "--store",
            "sqlite://s.db",
            "--from",
            &from,
            "--to",
            &to,
            "--limit",
            "1000",
            "--format",
            format,
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        tollgate(dir.path(), &refs)
    };
    let json = run(args("json"));
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let m: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(m["by"], serde_json::json!(["api", "route"]));
    assert_eq!(
        m["previous_period"]["from"],
        format!("{prev_from}T00:00:00Z")
    );
    // The totals are the two periods' reports.
    let report_total = |f: &str, t: &str| -> f64 {
        let out = tollgate(
            dir.path(),
            &[
                "cost",
                "report",
                "--store",
                "sqlite://s.db",
                "--from",
                f,
                "--to",
                t,
                "--format",
                "json",
            ],
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["total"].as_str().unwrap().parse().unwrap()
    };
    let num = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap();
    assert!((num(&m["current_total"]) - report_total(&from, &to)).abs() < 1e-6);
    assert!((num(&m["previous_total"]) - report_total(&prev_from, &from)).abs() < 1e-6);
    // Every group's change adds up to the total change; the storm's route moved most.
    let movers = m["movers"].as_array().unwrap();
    let sum: f64 = movers.iter().map(|r| num(&r["change"])).sum();
    assert!((sum - num(&m["change"])).abs() < 1e-6);
    assert_eq!(movers[0]["route"], "POST /orders", "{m}");
    assert!(num(&movers[0]["change"]) > 0.0);
    for w in movers.windows(2) {
        assert!(num(&w[0]["change"]).abs() >= num(&w[1]["change"]).abs());
    }
    // CSV has the same rows; the table ends with the totals.
    let csv = String::from_utf8(run(args("csv")).stdout).unwrap();
    assert_eq!(
        csv.lines().next(),
        Some("api,route,previous,current,change,change_percent")
    );
    assert_eq!(csv.lines().count(), movers.len() + 1);
    let table = String::from_utf8(run(args("table")).stdout).unwrap();
    assert!(
        table.lines().last().unwrap().starts_with("total"),
        "{table}"
    );

    // `/admin/movers` answers the same JSON from a running gateway.
    let yaml = format!(
        "listeners: [{{name: main, address: \"127.0.0.1:0\"}}]\nadmin: {{address: \"127.0.0.1:0\"}}\n\
         metering: {{store: \"sqlite://{}\"}}\napis: []\n",
        dir.path().join("s.db").display()
    );
    let gw = support::Gateway::start(&yaml);
    let admin: Value = support::client()
        .get(format!(
            "{}/admin/movers?from={from}&to={to}&limit=1000",
            gw.admin_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin, m);
    let bad = support::client()
        .get(format!("{}/admin/movers?limit=0", gw.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
