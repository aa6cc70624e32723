//! `tollgate aws import --dry-run` on the generated AWS billing fixtures (fixtures/aws): the
//! totals it prints are the generator's, malformed rows are listed with file and line, strict
//! mode and files of the wrong kind fail with a message, and nothing is drawn on a pipe.

mod support;

use support::{dec, fixture};

use std::collections::BTreeMap;
use std::process::{Command, Output};

use rust_decimal::Decimal;
use serde_json::Value;

fn tollgate(args: &[&str]) -> Output {
    Command::new(support::binary()).args(args).output().unwrap()
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap()
}

const CLEAN: [&str; 6] = [
    "legacy-cur-2026-08.csv",
    "legacy-cur-2026-09.csv.gz",
    "cur2-2026-09.parquet",
    "cur2-2026-10.csv.gz",
    "focus-1.2-2026-09.csv",
    "focus-1.0-2026-08.parquet",
];

#[test]
fn dry_run_json_totals_equal_the_generators() {
    let files: Vec<String> = CLEAN.iter().map(|f| fixture(f)).collect();
    let mut args = vec!["aws", "import", "--dry-run", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let out = tollgate(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "no progress bar on a pipe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let exp = expected();

    let want_cost: Decimal = CLEAN
        .iter()
        .map(|f| dec(&exp[f]["totals"]["all"]["cost"]))
        .sum();
    let want_lines: u64 = CLEAN
        .iter()
        .map(|f| exp[f]["lines"].as_u64().unwrap())
        .sum();
    assert_eq!(dec(&got["total"]["USD"]), want_cost);
    assert_eq!(got["lines"].as_u64(), Some(want_lines));
    let rows_cost: Decimal = got["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| dec(&r["unblended_cost"]))
        .sum();
    assert_eq!(rows_cost, want_cost, "rows add up to the total");

    // Per meter, across files.
    let mut want_meter: BTreeMap<String, Decimal> = BTreeMap::new();
    for f in CLEAN {
        for (m, s) in exp[f]["totals"]["by_meter"].as_object().unwrap() {
            *want_meter.entry(m.clone()).or_default() += dec(&s["cost"]);
        }
    }
    let mut got_meter: BTreeMap<String, Decimal> = BTreeMap::new();
    for r in got["rows"].as_array().unwrap() {
        *got_meter
            .entry(r["meter"].as_str().unwrap().to_string())
            .or_default() += dec(&r["unblended_cost"]);
    }
    assert_eq!(got_meter, want_meter);

    // Skipped services.
    let mut want_skipped: BTreeMap<String, u64> = BTreeMap::new();
    for f in CLEAN {
        for (s, n) in exp[f]["skipped_by_service"].as_object().unwrap() {
            *want_skipped.entry(s.clone()).or_default() += n.as_u64().unwrap();
        }
    }
    let got_skipped: BTreeMap<String, u64> =
        serde_json::from_value(got["skipped_by_service"].clone()).unwrap();
    assert_eq!(got_skipped, want_skipped);
    assert_eq!(got["files"].as_array().unwrap().len(), CLEAN.len());
}

#[test]
fn dry_run_table_lists_groups_skips_and_malformed_rows() {
    let bad = fixture("malformed/legacy-cur-malformed.csv");
    let out = tollgate(&[
        "aws",
        "import",
        "--dry-run",
        &fixture("legacy-cur-2026-08.csv"),
        &bad,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("format"), "{text}");
    assert!(
        text.contains("legacy_cur  111111111111  us-east-1  rest_requests"),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("total")), "{text}");
    assert!(text.contains("skipped by service: AWSLambda"), "{text}");
    assert!(
        text.contains(&format!(
            "{bad}: line 5: lineItem/UnblendedCost: `abc` is not a number"
        )),
        "{text}"
    );
    assert!(text.contains("5 malformed"), "{text}");
}

#[test]
fn strict_mode_and_wrong_files_fail_with_a_message() {
    let bad = fixture("malformed/cur2-malformed.parquet");
    let out = tollgate(&[
        "aws",
        "import",
        "--dry-run",
        "--strict",
        "--format",
        "json",
        &bad,
        &fixture("focus-1.0-2026-08.parquet"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{bad}: row 2: line_item_unblended_cost")),
        "{stderr}"
    );
    assert!(stderr.contains("strict mode"), "{stderr}");
    // Nothing from the failed file is counted; the good one still is.
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let exp = expected();
    assert_eq!(
        dec(&got["total"]["USD"]),
        dec(&exp["focus-1.0-2026-08.parquet"]["totals"]["all"]["cost"])
    );
    assert!(got["files"][0]["error"]
        .as_str()
        .unwrap()
        .contains("strict mode"));

    let out = tollgate(&[
        "aws",
        "import",
        "--dry-run",
        &fixture("malformed/not-a-bill.csv"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an AWS billing export"));

    let out = tollgate(&[
        "aws",
        "import",
        "--dry-run",
        &fixture("malformed/missing-columns.csv"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("missing required column(s): line_item_usage_amount, line_item_unblended_cost"));
}

/// `--dry-run` writes nothing, even with `--store` given (loading is tested in aws_bill.rs).
#[test]
fn dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let out = tollgate(&[
        "aws",
        "import",
        "--dry-run",
        "--store",
        &format!("sqlite://{}", db.display()),
        &fixture("legacy-cur-2026-08.csv"),
    ]);
    assert!(out.status.success());
    assert!(!db.exists());
}

/// On a terminal the import draws a progress bar per file (its name, a bar, bytes read), on
/// stderr; `script` (util-linux, installed by the test command) gives the binary a pseudo-
/// terminal, stdout goes to /dev/null.
#[test]
fn a_terminal_gets_a_progress_bar() {
    let file = fixture("cur2-2026-09.parquet");
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let command = format!(
        "{} aws import --dry-run {} > /dev/null",
        quote(support::binary()),
        quote(&file)
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("`script` (util-linux) runs");
    assert!(out.status.success(), "{out:?}");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        screen.contains(&format!("{file} [")) && screen.contains(" KiB/"),
        "no bar drawn: {screen}"
    );
}
