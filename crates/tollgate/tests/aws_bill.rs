//! `tollgate aws import` into a ledger and `tollgate cost bill` over it, as a user runs them,
//! on the generated AWS billing fixtures (fixtures/aws, with their expected.json): the bill's
//! totals come back exactly, re-importing is a no-op, strict mode writes nothing, repricing
//! with the catalog the generator used gives the bill's own costs, and metered reports are not
//! touched by imported lines.

mod support;

use support::{dec, fixture, ok_json};

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use rust_decimal::Decimal;
use serde_json::Value;

fn tollgate(args: &[&str]) -> Output {
    Command::new(support::binary()).args(args).output().unwrap()
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap()
}

fn store(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("bill.db").display())
}

const CLEAN: [&str; 6] = [
    "legacy-cur-2026-08.csv",
    "legacy-cur-2026-09.csv.gz",
    "cur2-2026-09.parquet",
    "cur2-2026-10.csv.gz",
    "focus-1.2-2026-09.csv",
    "focus-1.0-2026-08.parquet",
];

const MALFORMED: [&str; 4] = [
    "malformed/legacy-cur-malformed.csv",
    "malformed/cur2-malformed.csv.gz",
    "malformed/cur2-malformed.parquet",
    "malformed/focus-malformed.csv",
];

/// Sums a bill report's rows by one column.
fn by(bill: &Value, column: &str) -> BTreeMap<String, (u64, Decimal)> {
    let mut out: BTreeMap<String, (u64, Decimal)> = BTreeMap::new();
    for r in bill["rows"].as_array().unwrap() {
        let e = out
            .entry(r[column].as_str().unwrap().to_string())
            .or_default();
        e.0 += r["lines"].as_u64().unwrap();
        e.1 += dec(&r["unblended_cost"]);
    }
    out
}

/// expected.json's totals of one kind (`by_account`, …) summed over files.
fn want(files: &[&str], kind: &str) -> BTreeMap<String, (u64, Decimal)> {
    let exp = expected();
    let mut out: BTreeMap<String, (u64, Decimal)> = BTreeMap::new();
    for f in files {
        for (k, s) in exp[f]["totals"][kind].as_object().unwrap() {
            let e = out.entry(k.clone()).or_default();
            e.0 += s["lines"].as_u64().unwrap();
            e.1 += dec(&s["cost"]);
        }
    }
    out
}

fn total(bill: &Value) -> Decimal {
    bill["total"].get("USD").map(dec).unwrap_or(Decimal::ZERO)
}

/// Each fixture into its own store: the import reports what the generator wrote, and
/// `cost bill` gives back its totals by account, region, line item type, meter and tag.
#[test]
fn each_fixture_is_imported_and_reported_with_the_bills_totals() {
    let exp = expected();
    for f in CLEAN {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let got = ok_json(&[
            "aws",
            "import",
            "--store",
            &s,
            "--format",
            "json",
            &fixture(f),
        ]);
        let file = &got["files"][0];
        assert_eq!(file["status"], "imported", "{f}: {got}");
        assert_eq!(file["format"], exp[f]["format"], "{f}");
        assert_eq!(file["rows"], exp[f]["rows"], "{f}");
        assert_eq!(file["lines"], exp[f]["lines"], "{f}");
        assert_eq!(
            file["skipped_by_service"], exp[f]["skipped_by_service"],
            "{f}"
        );
        assert_eq!(file["malformed_count"], 0, "{f}");
        assert_eq!(got["imported_lines"], exp[f]["lines"], "{f}");

        let bill = ok_json(&[
            "cost",
            "bill",
            "--store",
            &s,
            "--by",
            "account,region",
            "--format",
            "json",
        ]);
        assert_eq!(bill["source"], "aws_bill");
        assert_eq!(total(&bill), dec(&exp[f]["totals"]["all"]["cost"]), "{f}");
        assert_eq!(bill["lines"], exp[f]["lines"], "{f}");
        assert_eq!(by(&bill, "account"), want(&[f], "by_account"), "{f}");
        assert_eq!(by(&bill, "region"), want(&[f], "by_region"), "{f}");
        assert_eq!(
            by(&bill, "line_item_type"),
            want(&[f], "by_line_item_type"),
            "{f}: credits and refunds are rows of their own"
        );
        assert_eq!(by(&bill, "meter"), want(&[f], "by_meter"), "{f}");

        // Tags: every value plus `(untagged)`, never a line dropped.
        let tags: Vec<String> = exp[f]["totals"]["by_tag"]
            .as_object()
            .unwrap()
            .keys()
            .filter_map(|k| k.split_once('=').map(|(k, _)| k.to_string()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for tag in tags {
            let bill = ok_json(&[
                "cost",
                "bill",
                "--store",
                &s,
                "--by",
                &format!("tag:{tag}"),
                "--format",
                "json",
            ]);
            let got: BTreeMap<String, (u64, Decimal)> = by(&bill, &format!("tag:{tag}"))
                .into_iter()
                .map(|(v, s)| (format!("{tag}={v}"), s))
                .collect();
            let want: BTreeMap<String, (u64, Decimal)> = want(&[f], "by_tag")
                .into_iter()
                .filter(|(k, _)| k.starts_with(&format!("{tag}=")))
                .collect();
            assert_eq!(got, want, "{f} tag:{tag}");
        }

        // Cost categories the same way: every value plus `(uncategorized)`.
        let names: std::collections::BTreeSet<String> = exp[f]["totals"]["by_cost_category"]
            .as_object()
            .unwrap()
            .keys()
            .filter_map(|k| k.split_once('=').map(|(k, _)| k.to_string()))
            .collect();
        for name in names {
            let dim = format!("cost_category:{name}");
            let bill = ok_json(&[
                "cost", "bill", "--store", &s, "--by", &dim, "--format", "json",
            ]);
            let got: BTreeMap<String, (u64, Decimal)> = by(&bill, &dim)
                .into_iter()
                .map(|(v, s)| (format!("{name}={v}"), s))
                .collect();
            let want: BTreeMap<String, (u64, Decimal)> = want(&[f], "by_cost_category")
                .into_iter()
                .filter(|(k, _)| k.starts_with(&format!("{name}=")))
                .collect();
            assert_eq!(got, want, "{f} {dim}");
        }
    }
}

/// `--reprice` on each fixture: the generator priced the usage with tollgate-pricing's
/// catalog (tiers on the month's running total per account, region and meter), so the catalog
/// gives back the bill's cost on every usage row (to 10⁻⁶ USD for Parquet's doubles).
#[test]
fn repricing_the_fixtures_gives_the_catalog_prices_the_generator_used() {
    let tolerance: Decimal = "0.000001".parse().unwrap();
    for f in CLEAN {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        ok_json(&[
            "aws",
            "import",
            "--store",
            &s,
            "--format",
            "json",
            &fixture(f),
        ]);
        let bill = ok_json(&[
            "cost",
            "bill",
            "--store",
            &s,
            "--by",
            "account,region",
            "--reprice",
            "--format",
            "json",
        ]);
        assert_eq!(bill["reprice"]["unpriced"], Value::Array(vec![]), "{f}");
        let mut repriced = 0;
        for r in bill["rows"].as_array().unwrap() {
            if r["line_item_type"] == "Usage" {
                let diff = dec(&r["difference"]);
                assert!(diff.abs() <= tolerance, "{f}: {r}");
                assert_eq!(
                    dec(&r["unblended_cost"]) - dec(&r["repriced_cost"]),
                    diff,
                    "{f}: {r}"
                );
                repriced += 1;
            } else {
                // Credits, refunds and tax are the bill's own; nothing to reprice.
                assert!(r["repriced_cost"].is_null(), "{f}: {r}");
            }
        }
        assert!(repriced > 3, "{f}");
        assert!(
            dec(&bill["reprice"]["difference"]).abs() <= tolerance,
            "{f}: {}",
            bill["reprice"]
        );

        // Grouped differently, the month's tiered cost is split at its blended rate: the
        // total still equals the bill's.
        let by_api = ok_json(&[
            "cost",
            "bill",
            "--store",
            &s,
            "--by",
            "api,stage",
            "--reprice",
            "--format",
            "json",
        ]);
        assert!(
            dec(&by_api["reprice"]["difference"]).abs() <= tolerance,
            "{f}: {}",
            by_api["reprice"]
        );
        assert_eq!(
            dec(&by_api["reprice"]["repriced_cost"]),
            dec(&bill["reprice"]["repriced_cost"]),
            "{f}"
        );
    }
}

/// All fixtures into one store: the totals add up; importing them again writes nothing and
/// says so, and the report does not change.
#[test]
fn reimporting_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let files: Vec<String> = CLEAN.iter().map(|f| fixture(f)).collect();
    let mut args = vec!["aws", "import", "--store", &s, "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let first = ok_json(&args);
    let exp = expected();
    let want_lines: u64 = CLEAN
        .iter()
        .map(|f| exp[f]["lines"].as_u64().unwrap())
        .sum();
    assert_eq!(first["imported_lines"].as_u64(), Some(want_lines));
    assert!(first["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["status"] == "imported"));

    let report = |extra: &[&str]| {
        let mut a = vec!["cost", "bill", "--store", &s, "--format", "json"];
        a.extend(extra);
        ok_json(&a)
    };
    let before = report(&["--by", "account,region"]);
    let want_cost: Decimal = CLEAN
        .iter()
        .map(|f| dec(&exp[f]["totals"]["all"]["cost"]))
        .sum();
    assert_eq!(total(&before), want_cost);
    assert_eq!(by(&before, "account"), want(&CLEAN, "by_account"));
    assert_eq!(by(&before, "region"), want(&CLEAN, "by_region"));

    let again = ok_json(&args);
    assert_eq!(again["imported_lines"], 0);
    for (f, (a, b)) in again["files"]
        .as_array()
        .unwrap()
        .iter()
        .zip(first["files"].as_array().unwrap())
        .enumerate()
    {
        assert_eq!(a["status"], "already_imported", "{f}");
        assert_eq!(a["import_id"], b["import_id"]);
        assert_eq!(a["lines"], b["lines"]);
        assert_eq!(a["skipped_by_service"], b["skipped_by_service"]);
    }
    assert_eq!(report(&["--by", "account,region"]), before);

    // The same content under another name is the same file.
    let copy = dir.path().join("copy-of-legacy.csv");
    std::fs::copy(fixture(CLEAN[0]), &copy).unwrap();
    let out = tollgate(&["aws", "import", "--store", &s, copy.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("already imported as #1"), "{text}");
    assert!(
        text.contains("0 file(s) imported (0 lines), 1 already imported"),
        "{text}"
    );

    // A period selects lines by their start: August is the two August files.
    let aug = report(&["--from", "2026-08", "--to", "2026-09"]);
    let aug_files = ["legacy-cur-2026-08.csv", "focus-1.0-2026-08.parquet"];
    assert_eq!(
        total(&aug),
        aug_files
            .iter()
            .map(|f| dec(&exp[f]["totals"]["all"]["cost"]))
            .sum::<Decimal>()
    );
}

/// A later delivery of a month (here another export of September, all fixtures share payer
/// 999999999999) replaces the earlier import's lines of that month and payer; other months
/// stay; `--append` adds instead; a delivery with a failed file replaces nothing.
#[test]
fn a_newer_delivery_of_a_month_replaces_the_earlier_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let exp = expected();
    let cost = |f: &str| dec(&exp[f]["totals"]["all"]["cost"]);
    let import = |extra: &[&str], files: &[&str]| -> Value {
        let mut a = vec!["aws", "import", "--store", &s, "--format", "json"];
        a.extend(extra);
        let paths: Vec<String> = files.iter().map(|f| fixture(f)).collect();
        a.extend(paths.iter().map(String::as_str));
        ok_json(&a)
    };
    let bill_total = || {
        total(&ok_json(&[
            "cost", "bill", "--store", &s, "--format", "json",
        ]))
    };

    let first = import(&[], &["legacy-cur-2026-09.csv.gz"]);
    assert_eq!(first["replaced"], serde_json::json!([]));
    assert_eq!(bill_total(), cost("legacy-cur-2026-09.csv.gz"));

    let second = import(&[], &["cur2-2026-09.parquet"]);
    assert_eq!(
        second["replaced"],
        serde_json::json!([{
            "import_id": 1,
            "file": fixture("legacy-cur-2026-09.csv.gz"),
            "superseded_by": 2,
            "billing_period": "2026-09",
            "payer_account": "999999999999",
            "lines": exp["legacy-cur-2026-09.csv.gz"]["lines"],
        }]),
        "{second}"
    );
    assert_eq!(bill_total(), cost("cur2-2026-09.parquet"));

    // Another month is not replaced; the old September file again is a no-op.
    let aug = import(&[], &["legacy-cur-2026-08.csv"]);
    assert_eq!(aug["replaced"], serde_json::json!([]));
    let again = import(&[], &["legacy-cur-2026-09.csv.gz"]);
    assert_eq!(again["files"][0]["status"], "already_imported");
    assert_eq!(again["replaced"], serde_json::json!([]));
    let both = cost("cur2-2026-09.parquet") + cost("legacy-cur-2026-08.csv");
    assert_eq!(bill_total(), both);

    // --append adds September's FOCUS export to the CUR 2.0 one.
    let appended = import(&["--append"], &["focus-1.2-2026-09.csv"]);
    assert_eq!(appended["replaced"], serde_json::json!([]));
    assert_eq!(bill_total(), both + cost("focus-1.2-2026-09.csv"));

    // A failed file (strict) in a delivery: the good file goes in, nothing is replaced.
    let mut a = vec![
        "aws", "import", "--store", &s, "--strict", "--format", "json",
    ];
    let files = [
        fixture("malformed/legacy-cur-malformed.csv"),
        fixture("focus-1.0-2026-08.parquet"),
    ];
    a.extend(files.iter().map(String::as_str));
    let out = tollgate(&a);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("earlier imports of these months were kept"),
        "{stderr}"
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["files"][1]["status"], "imported", "{got}");
    assert_eq!(got["replaced"], serde_json::json!([]));
    assert_eq!(
        bill_total(),
        both + cost("focus-1.2-2026-09.csv") + cost("focus-1.0-2026-08.parquet")
    );

    // The table says what was replaced.
    let out = tollgate(&[
        "aws",
        "import",
        "--store",
        &s,
        &fixture("cur2-2026-10.csv.gz"),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("replaced:"), "{text}");
}

/// `--strict`: a file with a malformed row writes nothing (exit 1, named on stderr); without
/// it the good rows are imported and the bad ones listed with file and line.
#[test]
fn strict_import_of_a_malformed_file_writes_nothing() {
    let exp = expected();
    for f in MALFORMED {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let path = fixture(f);
        let out = tollgate(&["aws", "import", "--store", &s, "--strict", &path]);
        assert_eq!(out.status.code(), Some(1), "{f}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("strict mode"), "{f}: {stderr}");
        assert!(
            stderr.contains("nothing from this file was written"),
            "{f}: {stderr}"
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("failed, nothing written"), "{f}: {text}");

        let conn = rusqlite::Connection::open(dir.path().join("bill.db")).unwrap();
        for table in ["imports", "bill_lines"] {
            let n: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0, "{f}: {table}");
        }
        let bill = ok_json(&["cost", "bill", "--store", &s, "--format", "json"]);
        assert_eq!(bill["lines"], 0, "{f}");
        assert_eq!(bill["rows"], Value::Array(vec![]), "{f}");

        // Not strict: the good lines go in, the malformed rows are counted and located.
        let got = ok_json(&["aws", "import", "--store", &s, "--format", "json", &path]);
        let file = &got["files"][0];
        assert_eq!(file["status"], "imported", "{f}");
        assert_eq!(file["lines"], exp[f]["lines"], "{f}");
        let want_bad = exp[f]["malformed"].as_array().unwrap();
        assert_eq!(
            file["malformed_count"].as_u64(),
            Some(want_bad.len() as u64)
        );
        for (m, w) in file["malformed"].as_array().unwrap().iter().zip(want_bad) {
            assert_eq!(m["file"], path.as_str());
            assert_eq!(m["column"], w["column"], "{f}");
            let (kind, n) = w["location"].as_object().unwrap().iter().next().unwrap();
            assert_eq!(&m[kind.as_str()], n, "{f}");
        }
        let bill = ok_json(&["cost", "bill", "--store", &s, "--format", "json"]);
        assert_eq!(total(&bill), dec(&exp[f]["totals"]["all"]["cost"]), "{f}");
    }

    // The table names the file and line of each skipped row.
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let bad = fixture(MALFORMED[0]);
    let out = tollgate(&["aws", "import", "--store", &s, &bad]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "{bad}: line 5: lineItem/UnblendedCost: `abc` is not a number"
        )),
        "{text}"
    );
    assert!(text.contains("5 malformed"), "{text}");
}

/// Imported lines live apart from metered usage: `cost report` on a store with both gives the
/// same answer as before the import, and `cost bill` shows only the imported lines.
#[test]
fn metered_reports_are_unchanged_by_imports() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let out = tollgate(&[
        "simulate",
        "--store",
        &s,
        "--start",
        "2026-09-01",
        "--days",
        "3",
        "--seed",
        "7",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metered = |by: &str, format: &str| {
        let out = tollgate(&[
            "cost",
            "report",
            "--store",
            &s,
            "--from",
            "2026-09-01",
            "--to",
            "2026-10-01",
            "--by",
            by,
            "--format",
            format,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let before_json = metered("api,region", "json");
    let before_table = metered("api,stage,route", "table");
    let v: Value = serde_json::from_slice(&before_json).unwrap();
    assert!(
        dec(&v["total"]) > Decimal::ZERO,
        "the simulation metered something"
    );

    // Nothing imported yet: the bill is empty, not the metered usage.
    let bill = ok_json(&["cost", "bill", "--store", &s, "--format", "json"]);
    assert_eq!(bill["lines"], 0);

    let files: Vec<String> = CLEAN.iter().map(|f| fixture(f)).collect();
    let mut args = vec!["aws", "import", "--store", &s, "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    ok_json(&args);

    assert_eq!(metered("api,region", "json"), before_json);
    assert_eq!(metered("api,stage,route", "table"), before_table);
    let bill = ok_json(&["cost", "bill", "--store", &s, "--format", "json"]);
    let exp = expected();
    let want_cost: Decimal = CLEAN
        .iter()
        .map(|f| dec(&exp[f]["totals"]["all"]["cost"]))
        .sum();
    assert_eq!(
        total(&bill),
        want_cost,
        "only imported lines, no metered usage"
    );
}

/// The table says what it is; CSV has one row per group; bad flags are named.
#[test]
fn table_csv_and_bad_flags() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let out = tollgate(&["aws", "import", "--store", &s, &fixture(CLEAN[0])]);
    assert!(out.status.success());

    let out = tollgate(&[
        "cost",
        "bill",
        "--store",
        &s,
        "--by",
        "account,tag:team",
        "--reprice",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Imported AWS bill ("), "{text}");
    assert!(text.contains("not gateway-metered usage"), "{text}");
    assert!(text.contains("(untagged)"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("total")), "{text}");
    assert!(text.contains("difference = bill - catalog"), "{text}");

    let out = tollgate(&[
        "cost", "bill", "--store", &s, "--by", "region", "--format", "csv",
    ]);
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("region,meter,line_item_type,lines,usage,unblended_cost,currency")
    );
    let cost: Decimal = lines
        .map(|l| l.split(',').nth(5).unwrap().parse::<Decimal>().unwrap())
        .sum();
    assert_eq!(cost, dec(&expected()[CLEAN[0]]["totals"]["all"]["cost"]));

    let out = tollgate(&["cost", "bill", "--store", &s, "--by", "route"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown dimension `route`"));

    // A ledger that does not exist is not created by a report.
    let missing = format!("sqlite://{}", dir.path().join("nope.db").display());
    let out = tollgate(&["cost", "bill", "--store", &missing]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.path().join("nope.db").exists());
}

/// `cost report` on a store holding only imported bills reports them as `cost bill` does
/// (the issue's `cost report --by api,account,region,tag:NAME`), `--reprice` included;
/// `--data metered` reads the (empty) metered usage instead.
#[test]
fn cost_report_over_an_imported_bill_is_the_bill() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let files: Vec<String> = CLEAN.iter().map(|f| fixture(f)).collect();
    let mut args = vec!["aws", "import", "--store", &s, "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    ok_json(&args);
    let period = ["--from", "2026-09", "--to", "2026-10"];
    let by = ["--by", "api,account,region,tag:team"];
    for extra in [&[][..], &["--reprice"][..]] {
        let run = |cmd: &str| {
            let mut a = vec!["cost", cmd, "--store", &s, "--format", "json"];
            a.extend(period);
            a.extend(by);
            a.extend(extra);
            ok_json(&a)
        };
        let report = run("report");
        assert_eq!(report, run("bill"), "{extra:?}");
        let sept = [
            "legacy-cur-2026-09.csv.gz",
            "cur2-2026-09.parquet",
            "focus-1.2-2026-09.csv",
        ];
        let exp = expected();
        assert_eq!(
            total(&report),
            sept.iter()
                .map(|f| dec(&exp[f]["totals"]["all"]["cost"]))
                .sum::<Decimal>()
        );
    }
    let mut a = vec![
        "cost", "report", "--store", &s, "--data", "metered", "--format", "json",
    ];
    a.extend(period);
    let metered = ok_json(&a);
    assert_eq!(metered["total"], "0", "{metered}");
    assert_eq!(metered["rows"], serde_json::json!([]));
    let mut a = vec!["cost", "report", "--store", &s, "--format", "focus"];
    a.extend(period);
    let out = tollgate(&a);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("an imported bill is already AWS's own export"));
}
