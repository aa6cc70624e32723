//! Reads every fixture under `fixtures/aws/` and checks it against the generator's own
//! `expected.json` (regenerate both with `cargo run -p tollgate-aws --example gen_fixtures`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::Deserialize;
use tollgate_aws::{
    read_file, AwsError, BillLine, BillReader, Container, Format, LineItemType, Location,
    ReadOptions, Totals,
};
use tollgate_pricing::{CacheSize, Catalog, FreeTier, Meter};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/aws")
        .join(name)
}

#[derive(Deserialize)]
struct ExpectedMalformed {
    location: Location,
    column: Option<String>,
}

#[derive(Deserialize)]
struct Expected {
    format: Format,
    container: Container,
    rows: u64,
    lines: u64,
    skipped_by_service: BTreeMap<String, u64>,
    malformed: Vec<ExpectedMalformed>,
    totals: Totals,
}

fn expected() -> BTreeMap<String, Expected> {
    let text = std::fs::read_to_string(fixture("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected.json parses")
}

fn totals(lines: &[BillLine]) -> Totals {
    let mut t = Totals::default();
    for l in lines {
        t.add(l);
    }
    t.finish()
}

/// Reads `name` and checks everything `expected.json` says about it.
fn check(name: &str) -> Vec<BillLine> {
    let all = expected();
    let exp = &all[name];
    let (lines, report) =
        read_file(fixture(name), &ReadOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(report.format, exp.format, "{name}: format");
    assert_eq!(report.container, exp.container, "{name}: container");
    assert_eq!(report.rows, exp.rows, "{name}: rows");
    assert_eq!(report.lines, exp.lines, "{name}: lines");
    assert_eq!(lines.len() as u64, exp.lines, "{name}: lines returned");
    assert_eq!(
        report.skipped_by_service, exp.skipped_by_service,
        "{name}: skipped"
    );
    let got: Vec<(Location, Option<String>)> = report
        .malformed
        .iter()
        .map(|m| (m.location, m.column.clone()))
        .collect();
    let want: Vec<(Location, Option<String>)> = exp
        .malformed
        .iter()
        .map(|m| (m.location, m.column.clone()))
        .collect();
    assert_eq!(got, want, "{name}: malformed rows");
    assert_eq!(report.malformed_count, want.len() as u64);
    let t = totals(&lines);
    assert_eq!(t.all, exp.totals.all, "{name}: all");
    assert_eq!(t.by_meter, exp.totals.by_meter, "{name}: by meter");
    assert_eq!(t.by_account, exp.totals.by_account, "{name}: by account");
    assert_eq!(t.by_region, exp.totals.by_region, "{name}: by region");
    assert_eq!(
        t.by_line_item_type, exp.totals.by_line_item_type,
        "{name}: by type"
    );
    assert_eq!(t.by_tag, exp.totals.by_tag, "{name}: by tag");
    assert_eq!(
        t.by_cost_category, exp.totals.by_cost_category,
        "{name}: by cost category"
    );
    lines
}

/// The usage lines' costs per account, region and meter equal the catalog's tiered price of
/// their summed usage (the fixtures' costs are right, tiers included). `tolerance` absorbs
/// Parquet's doubles.
fn check_costs_against_catalog(lines: &[BillLine], tolerance: Decimal) -> usize {
    let catalog = Catalog::embedded();
    type Group = (String, String, Meter, Option<CacheSize>);
    let mut groups: BTreeMap<Group, (Decimal, Decimal)> = BTreeMap::new();
    for l in lines
        .iter()
        .filter(|l| l.line_item_type == LineItemType::Usage)
    {
        let key = (
            l.account.clone(),
            l.region.clone().expect("usage lines have a region"),
            l.meter.expect("usage lines have a meter"),
            l.cache_size(),
        );
        let e = groups.entry(key).or_default();
        e.0 += l.usage_amount;
        e.1 += l.unblended_cost;
    }
    for ((account, region, meter, size), (usage, cost)) in &groups {
        let want = catalog
            .region(region)
            .and_then(|r| r.month_cost(*meter, *size, *usage, FreeTier::Off))
            .expect("priced");
        assert!(
            (want - cost).abs() <= tolerance,
            "{account} {region} {meter}: bill {cost}, catalog {want}"
        );
    }
    groups.len()
}

#[test]
fn legacy_cur_csv_with_tag_columns() {
    let lines = check("legacy-cur-2026-08.csv");
    assert!(lines.iter().all(|l| l.source == Format::LegacyCur));
    // Several accounts and regions.
    let accounts: std::collections::BTreeSet<_> = lines.iter().map(|l| &l.account).collect();
    let regions: std::collections::BTreeSet<_> =
        lines.iter().filter_map(|l| l.region.as_ref()).collect();
    assert_eq!(accounts.len(), 2);
    assert_eq!(regions.len(), 2);
    // Tagged and untagged lines, none dropped.
    assert!(lines.iter().any(|l| l.tags.contains_key("team")));
    let untagged = lines.iter().filter(|l| l.tags.is_empty()).count();
    assert!(untagged > 0);
    // Credits, refunds, tax: negative credits and refunds; tax has no usage type or region.
    for (kind, sign) in [
        (LineItemType::Credit, -1),
        (LineItemType::Refund, -1),
        (LineItemType::Tax, 1),
    ] {
        let ls: Vec<_> = lines.iter().filter(|l| l.line_item_type == kind).collect();
        assert_eq!(ls.len(), 2, "{kind}: one per account");
        assert!(ls
            .iter()
            .all(|l| (l.unblended_cost > Decimal::ZERO) == (sign > 0)));
    }
    let tax = lines
        .iter()
        .find(|l| l.line_item_type == LineItemType::Tax)
        .unwrap();
    assert_eq!(
        (tax.region.as_deref(), tax.meter, tax.usage_type.as_str()),
        (None, None, "")
    );
    // API ids and stages from the resource ARNs; HTTP APIs have no stage in theirs.
    let rest = lines
        .iter()
        .find(|l| l.meter == Some(Meter::RestRequests) && l.line_item_type.is_usage())
        .unwrap();
    assert_eq!(rest.api_id.as_ref().map(String::len), Some(10));
    assert!(matches!(rest.stage.as_deref(), Some("prod" | "dev")));
    let http = lines
        .iter()
        .find(|l| l.meter == Some(Meter::HttpRequests))
        .unwrap();
    assert!(http.api_id.is_some() && http.stage.is_none());
    // Cache lines carry their size; data transfer out lines have no API.
    let cache = lines
        .iter()
        .find(|l| l.meter == Some(Meter::CacheHours))
        .unwrap();
    assert!(cache.cache_size().is_some());
    let dto = lines
        .iter()
        .find(|l| l.meter == Some(Meter::DataTransferOutGb))
        .unwrap();
    assert_eq!(dto.api_id, None);
    // Tiered REST rates: us-east-1 crosses 333 M requests in the month.
    let rest_use1: Decimal = lines
        .iter()
        .filter(|l| {
            l.meter == Some(Meter::RestRequests)
                && l.region.as_deref() == Some("us-east-1")
                && l.account == "111111111111"
        })
        .map(|l| l.usage_amount)
        .sum();
    assert!(rest_use1 > dec!(333_000_000), "{rest_use1}");
    assert!(check_costs_against_catalog(&lines, Decimal::ZERO) > 5);
}

#[test]
fn legacy_cur_gzip_without_tag_columns() {
    let lines = check("legacy-cur-2026-09.csv.gz");
    assert!(
        lines.iter().all(|l| l.tags.is_empty()),
        "no tag columns, no tags"
    );
    check_costs_against_catalog(&lines, Decimal::ZERO);
}

#[test]
fn cur2_parquet_with_resource_tags_map() {
    let lines = check("cur2-2026-09.parquet");
    assert!(lines.iter().any(|l| l.tags.contains_key("team")));
    let regions: std::collections::BTreeSet<_> =
        lines.iter().filter_map(|l| l.region.as_deref()).collect();
    assert_eq!(
        regions.into_iter().collect::<Vec<_>>(),
        ["ap-northeast-2", "eu-central-1", "us-east-1", "us-west-2"]
    );
    // WebSocket messages and minutes.
    assert!(lines
        .iter()
        .any(|l| l.meter == Some(Meter::WebsocketMessages)));
    assert!(lines
        .iter()
        .any(|l| l.meter == Some(Meter::WebsocketConnectionMinutes)));
    check_costs_against_catalog(&lines, dec!(0.000001));
}

#[test]
fn cur2_parquet_reads_only_the_needed_columns() {
    let reader =
        BillReader::open(fixture("cur2-2026-09.parquet"), &ReadOptions::default()).unwrap();
    assert_eq!(reader.container(), Container::Parquet);
    let projection = reader.projection();
    assert_eq!(
        projection,
        [
            "identity_line_item_id",
            "line_item_usage_account_id",
            "bill_payer_account_id",
            "line_item_line_item_type",
            "line_item_usage_start_date",
            "line_item_usage_end_date",
            "line_item_product_code",
            "line_item_usage_type",
            "line_item_operation",
            "line_item_resource_id",
            "line_item_usage_amount",
            "line_item_unblended_cost",
            "line_item_currency_code",
            "product_region_code",
            "resource_tags.key_value.key",
            "resource_tags.key_value.value",
            "cost_category.key_value.key",
            "cost_category.key_value.value",
        ]
    );
    // The file has more: the reader never opens them.
    for unused in [
        "line_item_blended_cost",
        "product.key_value.key",
        "bill_payer_account_name",
    ] {
        assert!(!projection.iter().any(|p| p == unused), "{unused} was read");
    }
}

#[test]
fn cur2_csv_gz_with_json_tags() {
    let lines = check("cur2-2026-10.csv.gz");
    assert!(lines.iter().any(|l| l.tags.contains_key("env")));
    check_costs_against_catalog(&lines, Decimal::ZERO);
}

#[test]
fn focus_1_2_csv() {
    let lines = check("focus-1.2-2026-09.csv");
    assert!(lines
        .iter()
        .all(|l| l.source == Format::Focus && l.line_item_id.is_none()));
    // FOCUS has no Refund category: refunds are credits.
    assert!(!lines
        .iter()
        .any(|l| l.line_item_type == LineItemType::Refund));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.line_item_type == LineItemType::Credit)
            .count(),
        4
    );
    assert!(lines
        .iter()
        .any(|l| l.usage_type.ends_with("-ApiGatewayMinute")));
    check_costs_against_catalog(&lines, Decimal::ZERO);
}

#[test]
fn focus_1_0_parquet() {
    let lines = check("focus-1.0-2026-08.parquet");
    assert!(lines.iter().any(|l| l.tags.contains_key("team")));
    // x_CostCategories, a map column.
    assert!(lines
        .iter()
        .any(|l| l.cost_categories.get("CostCenter").map(String::as_str) == Some("cc-200")));
    check_costs_against_catalog(&lines, dec!(0.000001));
}

#[test]
fn malformed_rows_are_reported_with_file_and_line() {
    for name in [
        "malformed/legacy-cur-malformed.csv",
        "malformed/cur2-malformed.csv.gz",
        "malformed/cur2-malformed.parquet",
        "malformed/focus-malformed.csv",
    ] {
        check(name);
    }
    let (_, report) = read_file(
        fixture("malformed/legacy-cur-malformed.csv"),
        &ReadOptions::default(),
    )
    .unwrap();
    let shown: Vec<String> = report.malformed.iter().map(ToString::to_string).collect();
    let path = fixture("malformed/legacy-cur-malformed.csv")
        .display()
        .to_string();
    assert!(
        shown[0].starts_with(&format!("{path}: line 5: lineItem/UnblendedCost: ")),
        "{}",
        shown[0]
    );
    assert!(shown[0].contains("`abc` is not a number"), "{}", shown[0]);
    assert!(
        shown[2].contains("28 field(s), the header has 27"),
        "{}",
        shown[2]
    );
    let (_, report) = read_file(
        fixture("malformed/cur2-malformed.parquet"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert!(report.malformed[0]
        .to_string()
        .contains(": row 2: line_item_unblended_cost: required value is empty"));
    assert!(report.malformed[1]
        .to_string()
        .contains("is not a finite number"));
}

#[test]
fn only_the_first_n_malformed_rows_are_kept() {
    let opts = ReadOptions {
        max_reported: 2,
        ..ReadOptions::default()
    };
    let (_, report) = read_file(fixture("malformed/legacy-cur-malformed.csv"), &opts).unwrap();
    assert_eq!(report.malformed.len(), 2);
    assert_eq!(report.malformed_count, 5);
}

#[test]
fn strict_mode_fails_the_whole_file() {
    let strict = ReadOptions {
        strict: true,
        ..ReadOptions::default()
    };
    let all = expected();
    for name in [
        "malformed/legacy-cur-malformed.csv",
        "malformed/cur2-malformed.csv.gz",
        "malformed/cur2-malformed.parquet",
        "malformed/focus-malformed.csv",
    ] {
        match read_file(fixture(name), &strict) {
            Err(AwsError::Strict(m)) => {
                assert_eq!(m.location, all[name].malformed[0].location, "{name}");
                let text = AwsError::Strict(m).to_string();
                assert!(text.contains("strict mode"), "{text}");
            }
            other => panic!("{name}: expected a strict failure, got {other:?}"),
        }
    }
    // A clean file passes strict mode.
    let (lines, _) = read_file(fixture("focus-1.0-2026-08.parquet"), &strict).unwrap();
    assert_eq!(lines.len() as u64, all["focus-1.0-2026-08.parquet"].lines);
}

#[test]
fn wrong_kind_of_file_is_named() {
    let err =
        BillReader::open(fixture("malformed/not-a-bill.csv"), &ReadOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AwsError::WrongKind { .. }));
    assert!(text.contains("not-a-bill.csv"), "{text}");
    assert!(text.contains("expected a legacy CUR header"), "{text}");
    assert!(text.contains("requestId, ip, httpMethod, status"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    assert!(matches!(
        BillReader::open(&empty, &ReadOptions::default()),
        Err(AwsError::WrongKind { .. })
    ));
    let binary = dir.path().join("blob.bin");
    std::fs::write(&binary, [0u8, 1, 2, 3, 4, 5]).unwrap();
    assert!(matches!(
        BillReader::open(&binary, &ReadOptions::default()),
        Err(AwsError::WrongKind { .. })
    ));
    let zip = dir.path().join("cur.zip");
    std::fs::write(&zip, b"PK\x03\x04rest").unwrap();
    let text = BillReader::open(&zip, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(text.contains("unzip"), "{text}");
    let missing = dir.path().join("nope.csv");
    assert!(matches!(
        BillReader::open(&missing, &ReadOptions::default()),
        Err(AwsError::Io { .. })
    ));
}

#[test]
fn missing_required_columns_are_named() {
    let err = BillReader::open(
        fixture("malformed/missing-columns.csv"),
        &ReadOptions::default(),
    )
    .unwrap_err();
    match &err {
        AwsError::MissingColumns {
            format, missing, ..
        } => {
            assert_eq!(*format, Format::Cur2);
            assert_eq!(
                missing,
                &["line_item_usage_amount", "line_item_unblended_cost"]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("CUR 2.0 export is missing required column(s): line_item_usage_amount, line_item_unblended_cost"));
}

#[test]
fn progress_reaches_the_file_size() {
    for name in [
        "legacy-cur-2026-08.csv",
        "cur2-2026-10.csv.gz",
        "cur2-2026-09.parquet",
    ] {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = BillReader::open(fixture(name), &ReadOptions::default()).unwrap();
        let s = seen.clone();
        reader.on_progress(move |p| s.lock().unwrap().push(p));
        let n = reader.by_ref().count();
        assert!(n > 0);
        let seen = seen.lock().unwrap();
        let last = seen.last().expect("a final progress call");
        assert_eq!(last.bytes, last.total_bytes, "{name}");
        assert_eq!(
            last.total_bytes,
            std::fs::metadata(fixture(name)).unwrap().len()
        );
        assert_eq!(last.rows, reader.report().rows);
        assert!(seen
            .windows(2)
            .all(|w| w[0].bytes <= w[1].bytes && w[0].rows <= w[1].rows));
    }
}

#[test]
fn bill_lines_round_trip_through_json() {
    let (lines, report) =
        read_file(fixture("cur2-2026-09.parquet"), &ReadOptions::default()).unwrap();
    for l in lines.iter().take(50) {
        let json = serde_json::to_string(l).unwrap();
        let back: BillLine = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, l);
    }
    let json = serde_json::to_value(&lines[0]).unwrap();
    assert!(
        json["unblended_cost"].is_string(),
        "money is a decimal string: {json}"
    );
    let report_json = serde_json::to_string(&report).unwrap();
    assert!(report_json.contains("\"skipped_by_service\""));
}

#[test]
fn truncated_files_fail_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // A partial download of a CSV.gz: the stream breaks mid-file.
    let gz = std::fs::read(fixture("cur2-2026-10.csv.gz")).unwrap();
    let cut = dir.path().join("cut.csv.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let err = read_file(&cut, &ReadOptions::default()).unwrap_err();
    assert!(matches!(err, AwsError::Csv { .. }), "{err:?}");
    assert!(err.to_string().contains("cut.csv.gz"), "{err}");
    // A Parquet file without its footer.
    let pq = std::fs::read(fixture("focus-1.0-2026-08.parquet")).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &pq[..pq.len() / 2]).unwrap();
    let err = BillReader::open(&cut, &ReadOptions::default()).unwrap_err();
    assert!(matches!(err, AwsError::Parquet { .. }), "{err:?}");
    assert!(err.to_string().contains("cut.parquet"), "{err}");
}

#[test]
fn legacy_athena_flavour_with_flat_tag_columns() {
    // Legacy CUR delivered for Athena: snake_case names, one column per activated tag.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("athena.csv");
    std::fs::write(
        &path,
        "line_item_usage_account_id,line_item_line_item_type,line_item_usage_start_date,\
         line_item_usage_end_date,line_item_product_code,line_item_usage_type,\
         line_item_usage_amount,line_item_unblended_cost,product_region,resource_tags_user_team\n\
         123456789012,Usage,2026-09-01 00:00:00.000,2026-09-01 01:00:00.000,AmazonApiGateway,\
         EU-ApiGatewayCacheUsage:0.5GB,1,0.02,,payments\n\
         123456789012,Usage,2026-09-01 00:00:00.000,2026-09-01 01:00:00.000,AmazonApiGateway,\
         USE1-ApiGatewayRequest,1000,0.0035,us-east-1,\n",
    )
    .unwrap();
    let (lines, report) = read_file(&path, &ReadOptions::default()).unwrap();
    assert_eq!(report.format, Format::LegacyCur);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0].region.as_deref(),
        Some("eu-west-1"),
        "from the EU- prefix"
    );
    assert_eq!(lines[0].cache_size(), Some(CacheSize::Gb0_5));
    assert_eq!(
        lines[0].tags.get("team").map(String::as_str),
        Some("payments")
    );
    assert_eq!(lines[0].usage_end - lines[0].usage_start, 3600);
    assert!(lines[1].tags.is_empty(), "untagged, and kept");
    assert_eq!(lines[1].unblended_cost, dec!(0.0035));
}
