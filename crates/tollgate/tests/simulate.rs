//! `tollgate simulate` as a user runs it: a month with a retry storm, priced by
//! `tollgate cost report`, its ground truth beside the store, and bad scenarios refused.

use std::process::Command;

use serde_json::Value;

fn tollgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
}

#[test]
fn a_simulated_month_is_billed_and_its_truth_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let store = format!("sqlite://{}", db.display());
    let started = std::time::Instant::now();
    let out = tollgate()
        .args(["simulate", "--store", &store, "--days", "31", "--seed", "7"])
        .args(["--scenario", "retry-storm"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("record(s) written"), "{stderr}");
    assert!(stderr.contains("retry-storm"), "{stderr}");
    eprintln!("simulate took {:?}: {stderr}", started.elapsed());

    let truth_path = dir.path().join("t.db.truth.json");
    let truth: Value = serde_json::from_slice(&std::fs::read(&truth_path).unwrap()).unwrap();
    assert_eq!(truth["seed"], 7);
    assert_eq!(truth["days"], 31);
    let scenario = &truth["scenarios"][0];
    assert_eq!(scenario["name"], "retry-storm");
    assert_eq!(scenario["dimensions"]["route"], "POST /orders");
    let cost: f64 = scenario["extra_cost"].as_str().unwrap().parse().unwrap();
    assert!(cost > 0.0, "{scenario}");

    // The period ends at today's 00:00 UTC by default; report exactly it.
    let from = truth["period"]["from"].as_str().unwrap();
    let to = truth["period"]["to"].as_str().unwrap();
    let out = tollgate()
        .args([
            "cost", "report", "--store", &store, "--from", from, "--to", to,
        ])
        .args(["--by", "api", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let total: f64 = report["total"].as_str().unwrap().parse().unwrap();
    assert!((100.0..1_000.0).contains(&total), "total {total}");
    let apis: std::collections::BTreeSet<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["api"].as_str().unwrap())
        .collect();
    assert_eq!(
        apis.into_iter().collect::<Vec<_>>(),
        ["chat", "legacy", "shop"]
    );

    // Rerunning the same command adds nothing.
    let out = tollgate()
        .args(["simulate", "--store", &store, "--days", "31", "--seed", "7"])
        .args(["--scenario", "retry-storm", "--start", &from[..10]])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 record(s) written"));
}

#[test]
fn a_bad_scenario_exits_1_naming_it_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let store = format!("sqlite://{}", db.display());
    for (scenario, needle) in [
        ("retry-strom", "retry-strom"),
        ("bot-traffic:bots=many", "bots=many"),
        ("idle-websockets:colour=red", "colour"),
    ] {
        let out = tollgate()
            .args(["simulate", "--store", &store, "--days", "31", "--seed", "7"])
            .args(["--scenario", "stray-stage", "--scenario", scenario])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{scenario}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{stderr}");
        assert!(!db.exists(), "{scenario} created the store");
        assert!(!dir.path().join("t.db.truth.json").exists());
    }
}
