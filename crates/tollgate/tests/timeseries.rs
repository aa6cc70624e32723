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
