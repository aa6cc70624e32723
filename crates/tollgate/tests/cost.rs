//! `tollgate cost estimate` as a user runs it: AWS's published examples (aws-facts.md §1.9)
//! through the real binary, JSON contract, and bad input.

mod support;

use std::process::Command;

use serde_json::Value;
use support::binary;

fn estimate_json(args: &[&str]) -> Value {
    let out = Command::new(binary())
        .args(["cost", "estimate", "--format", "json"])
        .args(args)
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
fn http_1_serverless_web_app_418_80() {
    // 10,000 page loads per minute, 12 KB requests, 30-day month.
    let v = estimate_json(&[
        "--http-requests-per-minute",
        "10000",
        "--http-request-kb",
        "12",
    ]);
    assert_eq!(v["currency"], "USD");
    assert_eq!(v["lines"][0]["meter"], "http_requests");
    assert_eq!(v["lines"][0]["units"], "432000000");
    assert_eq!(v["total"], "418.80");
}

#[test]
fn http_2_uploads_in_512_kb_units_9_72() {
    // 25 uploads per minute of 4.5 MB: 9 units each.
    let v = estimate_json(&[
        "--http-requests-per-minute",
        "25",
        "--http-request-kb",
        "4608",
    ]);
    assert_eq!(v["lines"][0]["units"], "9720000");
    assert_eq!(v["total"], "9.72");
}

#[test]
fn rest_1_calls_plus_data_out_18_79() {
    let v = estimate_json(&["--rest-requests", "5000000", "--rest-response-kb", "3"]);
    assert_eq!(v["lines"][0]["meter"], "rest_requests");
    assert_eq!(v["lines"][0]["cost"], "17.50");
    assert_eq!(v["lines"][1]["meter"], "data_transfer_out_gb");
    assert_eq!(v["lines"][1]["cost"], "1.29");
    assert_eq!(v["total"], "18.79");
}

#[test]
fn cache_1_6_gb_for_a_day_0_912() {
    let v = estimate_json(&["--cache-gb", "1.6", "--cache-hours", "24"]);
    assert_eq!(v["total"], "0.912");
}

#[test]
fn workload_file_and_table_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.yaml");
    std::fs::write(&path, "http:\n  requests_per_minute: 10000\n").unwrap();
    let out = Command::new(binary())
        .args(["cost", "estimate", "--workload"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("http_requests"), "{table}");
    assert!(table.lines().last().unwrap().ends_with("418.80"), "{table}");
}

#[test]
fn bad_workloads_name_the_field_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    for (text, needle) in [
        ("http:\n  requests: -5\n", "requests"),
        ("http:\n  requets: 5\n", "requets"),
        ("region: mars-1\nhttp:\n  requests: 5\n", "mars-1"),
    ] {
        let path = dir.path().join("w.yaml");
        std::fs::write(&path, text).unwrap();
        let out = Command::new(binary())
            .args(["cost", "estimate", "--workload"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{text}: {err}");
        assert!(out.stdout.is_empty());
    }
}
