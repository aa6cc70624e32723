//! `tollgate cost forecast` as a user runs it: a simulated store, the JSON contract, rows per
//! API, and a missing store refused.

use std::process::Command;

use serde_json::Value;

fn tollgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
}

fn money(v: &Value, key: &str) -> f64 {
    let s = v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string: {v}"));
    assert!(
        s.split_once('.').is_some_and(|(i, f)| !i.is_empty()
            && i.trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_digit())
            && f.len() == 2
            && f.chars().all(|c| c.is_ascii_digit())),
        "{key}: {s} is not a decimal string"
    );
    s.parse().unwrap()
}

fn check(v: &Value) -> f64 {
    let (actual, f, lo, hi) = (
        money(v, "actual_to_date"),
        money(v, "forecast"),
        money(v, "lower"),
        money(v, "upper"),
    );
    assert!(lo <= f && f <= hi, "{v}");
    assert!(f >= actual, "{v}");
    f
}

fn forecast(store: &str, extra: &[&str]) -> Value {
    let out = tollgate()
        .args(["cost", "forecast", "--store", store, "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_simulated_store_is_forecast_to_month_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("t.db").display());
    let out = tollgate()
        .args(["simulate", "--store", &store, "--days", "40", "--seed", "3"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let total = forecast(&store, &[]);
    let mut keys: Vec<&str> = total
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "actual_to_date",
            "data",
            "forecast",
            "lower",
            "month",
            "rows",
            "upper"
        ]
    );
    assert_eq!(total["data"], "metered");
    assert_eq!(total["month"].as_str().unwrap().len(), 7, "{total}");
    let f = check(&total);
    assert!(f > 0.0, "{total}");
    assert_eq!(total["rows"], Value::Array(Vec::new()));

    let by_api = forecast(&store, &["--by", "api"]);
    let rows = by_api["rows"].as_array().unwrap();
    let apis: Vec<&str> = rows.iter().map(|r| r["api"].as_str().unwrap()).collect();
    assert_eq!(apis, ["chat", "legacy", "shop"], "{by_api}");
    for r in rows {
        check(r);
    }
    assert_eq!(by_api["forecast"], total["forecast"]);

    // The table and CSV forms run too.
    for format in ["table", "csv"] {
        let out = tollgate()
            .args(["cost", "forecast", "--store", &store, "--by", "tag:team"])
            .args(["--format", format])
            .output()
            .unwrap();
        assert!(out.status.success(), "{format}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("total"));
    }
}

#[test]
fn a_missing_store_exits_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.db");
    let out = tollgate()
        .args(["cost", "forecast", "--store"])
        .arg(format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing.db"), "{stderr}");
    assert!(!db.exists(), "nothing is created");

    let out = tollgate()
        .args(["cost", "forecast", "--by", "client"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--by client"));
}
