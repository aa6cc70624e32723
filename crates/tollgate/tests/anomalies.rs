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
fn a_stray_stage_is_found_by_the_daily_pass_with_its_stage() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sim.db");
    let store = format!("sqlite://{}", db.display());
    // About $0.02 an hour on a `test` stage from day 25 of 35: never an hourly anomaly, a
    // daily one from its first day (three clean weeks of the same weekdays before it).
    let out = tollgate()
        .args([
            "simulate", "--store", &store, "--days", "35", "--seed", "11",
        ])
        .args(["--start", "2025-03-01", "--scenario", "stray-stage:day=25"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tollgate()
        .args(["cost", "anomalies", "--store", &store, "--format", "json"])
        .args(["--from", "2025-03-22", "--to", "2025-04-05"])
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
        assert!(
            a["granularity"] == "hour" || a["granularity"] == "day",
            "{a}"
        );
    }
    let stray: Vec<&Value> = list
        .iter()
        .filter(|a| {
            a["granularity"] == "day"
                && a["cause"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["dimension"] == "stage" && c["value"] == "test")
        })
        .collect();
    assert_eq!(stray.len(), 1, "{v}");
    let a = stray[0];
    assert_eq!(text(a, "start"), "2025-03-25T00:00:00Z", "{a}");
    assert_eq!(text(a, "end"), "2025-04-05T00:00:00Z", "{a}");
    assert_eq!(a["dimensions"]["stage"], "test", "{a}");
    assert_eq!(a["dimensions"]["api"], "shop", "{a}");
    // ≈ 20,000 requests an hour ≈ $0.65 a day with data transfer, for 11 days.
    let impact: f64 = text(a, "impact").parse().unwrap();
    assert!((5.0..9.0).contains(&impact), "{a}");
    assert!(
        list.iter().all(|a| a["granularity"] == "day"),
        "no hourly anomaly for a trickle: {v}"
    );

    let out = tollgate()
        .args(["cost", "anomalies", "--store", &store, "--format", "csv"])
        .args(["--from", "2025-03-22", "--to", "2025-04-05"])
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(csv.starts_with("start,end,series,expected,actual,impact,score,cause,granularity\n"));
    assert!(
        csv.lines().nth(1).is_some_and(|l| l.ends_with(",day")),
        "{csv}"
    );
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
