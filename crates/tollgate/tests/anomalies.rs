//! `tollgate cost anomalies` as a user runs it: a simulated retry storm found with its route
//! as the cause, the JSON contract, and a missing store refused.

use std::process::Command;

use serde_json::Value;

fn tollgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
}

/// RFC 3339 UTC (`2025-01-01T00:00:00Z`) compares as text.
fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn a_simulated_retry_storm_is_found_with_its_route() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sim.db");
    let store = format!("sqlite://{}", db.display());
    // Day 28 of 35: inside the default window (the last 14 days), three weeks of history.
    // Its extra hourly cost is ~$0.08 when day 28 falls on a weekend (60% traffic), under
    // the default $0.10 minimum impact per hour: the test lowers it to $0.05.
    let out = tollgate()
        .args(["simulate", "--store", &store, "--days", "35", "--seed", "5"])
        .args(["--scenario", "retry-storm:day=28"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("sim.db.truth.json")).unwrap(),
    )
    .unwrap();
    let storm = &truth["scenarios"][0];
    let (t_start, t_end) = (text(storm, "start"), text(storm, "end"));

    let out = tollgate()
        .args(["cost", "anomalies", "--store", &store, "--format", "json"])
        .args(["--min-impact", "0.05"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = v["anomalies"].as_array().unwrap();
    for a in list {
        for k in ["expected", "actual", "impact"] {
            text(a, k).parse::<f64>().unwrap();
        }
        assert!(a["score"].is_number() && a["dimensions"].is_object(), "{a}");
        for c in a["cause"].as_array().unwrap() {
            assert!(c["share"].is_number() && c["dimension"].is_string(), "{c}");
        }
    }
    let found = list.iter().any(|a| {
        text(a, "start") < t_end
            && t_start < text(a, "end")
            && a["cause"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["value"] == "POST /orders")
    });
    assert!(
        found,
        "no anomaly with POST /orders in {t_start}..{t_end}: {v}"
    );

    let out = tollgate()
        .args([
            "cost",
            "anomalies",
            "--store",
            &store,
            "--min-impact",
            "0.05",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("POST /orders"));
}

#[test]
fn a_missing_store_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.db");
    let out = tollgate()
        .args(["cost", "anomalies", "--store"])
        .arg(format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.db"));
    assert!(!db.exists(), "nothing is created");
}
