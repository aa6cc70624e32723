//! Generates the synthetic AWS billing exports under `fixtures/aws/` and their
//! `expected.json` (what a correct reader must find in each file).
//!
//! Run with
//!
//! ```not_rust
//! cargo run -p tollgate-aws --example gen_fixtures                 # rewrite fixtures/aws
//! cargo run -p tollgate-aws --example gen_fixtures -- --big 5000000 /tmp/cur-big
//! ```
//!
//! No public CUR file with API Gateway rows exists (aws-facts §6.3), so these files are built
//! from the documented schemas (aws-facts §6.2, AWS Data Exports table dictionaries) and the
//! prices in `tollgate-pricing`'s embedded catalog: every usage line's unblended cost is the
//! catalog's tiered price of its usage on the month's running total per account, region and
//! meter. Deterministic: the same run writes the same bytes.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use rust_decimal::Decimal;
use serde::Serialize;
use tollgate_aws::value::{days_from_civil, decimal_from_f64, format_timestamp};
use tollgate_aws::{BillLine, Format, LineItemType, Totals};
use tollgate_pricing::{CacheSize, Catalog, FreeTier, Meter};

type Tags = BTreeMap<String, String>;

/// Why a fixture could not be written (the file is named).
#[derive(Debug, thiserror::Error)]
enum GenError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", .path.display())]
    Csv { path: PathBuf, source: csv::Error },
    #[error("{}: {source}", .path.display())]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error("expected.json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{}: the Parquet schema has fewer columns than the layout", .0.display())]
    Schema(PathBuf),
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> GenError + '_ {
    move |source| GenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn pq_err(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> GenError + '_ {
    move |source| GenError::Parquet {
        path: path.to_path_buf(),
        source,
    }
}

/// One row of a bill, before it is written in a format.
#[derive(Clone)]
struct Rec {
    id: String,
    account: String,
    payer: String,
    line_item_type: &'static str,
    start: i64,
    end: i64,
    product_code: &'static str,
    product_name: &'static str,
    usage_type: String,
    operation: &'static str,
    resource_id: String,
    amount: Decimal,
    cost: Decimal,
    /// Product region column; empty on some lines (the usage type prefix must be used).
    region_col: String,
    tags: Tags,
    /// Cost categories (by name), from the account: no random draw, so the rest of the
    /// fixtures do not change with them.
    categories: Tags,
    /// The truth for API Gateway rows.
    truth: Option<Truth>,
}

#[derive(Clone)]
struct Truth {
    region: Option<String>,
    meter: Option<Meter>,
    cache_gb: Option<Decimal>,
    api_id: Option<String>,
    stage: Option<String>,
}

/// A tiny deterministic generator (64-bit LCG, Knuth's constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PREFIX: &[(&str, &str)] = &[
    ("us-east-1", "USE1"),
    ("us-west-2", "USW2"),
    ("eu-central-1", "EUC1"),
    ("ap-northeast-2", "APN2"),
];

fn prefix(region: &str) -> &'static str {
    PREFIX
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(_, p)| *p)
        .unwrap_or("USE1")
}

/// The meters the embedded catalog prices in each region, with a daily usage range, the
/// usage type suffix and the operation.
fn meters_of(region: &str) -> Vec<(Meter, Option<CacheSize>, u64, u64)> {
    use Meter::*;
    match region {
        "us-east-1" => vec![
            (RestRequests, None, 8_000_000, 16_000_000),
            (HttpRequests, None, 100_000, 3_000_000),
            (WebsocketMessages, None, 10_000, 900_000),
            (WebsocketConnectionMinutes, None, 1_000, 400_000),
            (CacheHours, Some(CacheSize::Gb0_5), 24, 25),
            (CacheHours, Some(CacheSize::Gb6_1), 12, 25),
            (DataTransferOutGb, None, 1, 40),
        ],
        "us-west-2" => vec![
            (RestRequests, None, 1_000, 500_000),
            (CacheHours, Some(CacheSize::Gb0_5), 24, 25),
            (DataTransferOutGb, None, 1, 5),
        ],
        "eu-central-1" => vec![
            (RestRequests, None, 1_000, 800_000),
            (CacheHours, Some(CacheSize::Gb0_5), 20, 25),
        ],
        _ => vec![
            (HttpRequests, None, 1_000, 700_000),
            (RestRequests, None, 1_000, 200_000),
            (WebsocketMessages, None, 1_000, 300_000),
            (WebsocketConnectionMinutes, None, 100, 90_000),
        ],
    }
}

fn usage_type(region: &str, meter: Meter, size: Option<CacheSize>) -> (String, &'static str) {
    let p = prefix(region);
    match meter {
        Meter::RestRequests => (format!("{p}-ApiGatewayRequest"), "ApiGatewayRequest"),
        Meter::HttpRequests => (format!("{p}-ApiGatewayHttpRequest"), "ApiGatewayHttpApi"),
        Meter::WebsocketMessages => (format!("{p}-ApiGatewayMessage"), "ApiGatewayWebSocket"),
        Meter::WebsocketConnectionMinutes => {
            (format!("{p}-ApiGatewayMinute"), "ApiGatewayWebSocket")
        }
        Meter::CacheHours => (
            format!(
                "{p}-ApiGatewayCacheUsage:{}GB",
                size.map_or("0.5", CacheSize::as_str)
            ),
            "RunInstances",
        ),
        Meter::DataTransferOutGb => (format!("{p}-DataTransfer-Out-Bytes"), ""),
    }
}

struct Dataset {
    name: &'static str,
    seed: u64,
    year: i64,
    month: i64,
    days: i64,
    accounts: &'static [&'static str],
    regions: &'static [&'static str],
    other_rows: usize,
    /// Round amounts and costs through f64 (Parquet stores doubles).
    doubles: bool,
}

const PAYER: &str = "999999999999";
const TEAMS: &[&str] = &["payments", "search", "mobile"];
const ENVS: &[&str] = &["prod", "staging"];

fn api_id(rng: &mut Lcg) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..10)
        .map(|_| A[rng.below(A.len() as u64) as usize] as char)
        .collect()
}

fn f64_round(d: Decimal) -> Decimal {
    let mut buf = String::new();
    let f = f64::from_str(&d.to_string()).unwrap_or(0.0);
    decimal_from_f64(f, &mut buf).unwrap_or(d)
}

/// Builds a month of bill rows: API Gateway usage for every account × region × meter per day,
/// credits, a refund, tax, and other services' rows, shuffled deterministically.
fn build(ds: &Dataset) -> Vec<Rec> {
    let catalog = Catalog::embedded();
    let mut rng = Lcg(ds.seed);
    let month_start = days_from_civil(ds.year, ds.month, 1) * 86_400;
    let mut recs = Vec::new();
    let mut running: BTreeMap<(String, String, String), Decimal> = BTreeMap::new();
    let mut n = 0u64;
    let mut next_id = |rng: &mut Lcg| {
        n += 1;
        format!("{}{:06}", ds.name.len(), n) + &api_id(rng)
    };
    for account in ds.accounts {
        for region in ds.regions {
            let prices = match catalog.region(region) {
                Ok(p) => p,
                Err(_) => continue,
            };
            // Two APIs per account and region: one tagged, one partly tagged.
            let apis = [api_id(&mut rng), api_id(&mut rng)];
            for day in 0..ds.days {
                for (meter, size, lo, hi) in meters_of(region) {
                    let units = Decimal::from(lo + rng.below(hi - lo + 1));
                    let key = (
                        account.to_string(),
                        region.to_string(),
                        format!("{meter}{size:?}"),
                    );
                    let so_far = running.entry(key).or_default();
                    let Ok(cost) = prices.cost_of(meter, size, *so_far, units, FreeTier::Off)
                    else {
                        continue; // beyond the catalog's known tiers in this region
                    };
                    *so_far += units;
                    let which = rng.below(2) as usize;
                    let api = &apis[which];
                    let (ut, op) = usage_type(region, meter, size);
                    let stage = ["prod", "dev"][rng.below(2) as usize];
                    let (resource_id, api_t, stage_t) = match meter {
                        Meter::RestRequests | Meter::CacheHours => (
                            format!("arn:aws:apigateway:{region}::/restapis/{api}/stages/{stage}"),
                            Some(api.clone()),
                            Some(stage.to_string()),
                        ),
                        Meter::HttpRequests
                        | Meter::WebsocketMessages
                        | Meter::WebsocketConnectionMinutes => (
                            format!("arn:aws:apigateway:{region}::/apis/{api}"),
                            Some(api.clone()),
                            None,
                        ),
                        Meter::DataTransferOutGb => (String::new(), None, None),
                    };
                    let mut tags = Tags::new();
                    if meter != Meter::DataTransferOutGb && (which == 0 || rng.below(3) > 0) {
                        tags.insert("team".into(), TEAMS[rng.below(3) as usize].into());
                        if rng.below(4) > 0 {
                            tags.insert("env".into(), ENVS[rng.below(2) as usize].into());
                        }
                    }
                    let region_col = if rng.below(6) == 0 {
                        String::new()
                    } else {
                        region.to_string()
                    };
                    let (amount, cost) = if ds.doubles {
                        (f64_round(units), f64_round(cost))
                    } else {
                        (units, cost)
                    };
                    recs.push(Rec {
                        id: next_id(&mut rng),
                        account: account.to_string(),
                        payer: PAYER.into(),
                        line_item_type: "Usage",
                        start: month_start + day * 86_400,
                        end: month_start + (day + 1) * 86_400,
                        product_code: "AmazonApiGateway",
                        product_name: "Amazon API Gateway",
                        usage_type: ut,
                        operation: op,
                        resource_id,
                        amount,
                        cost,
                        region_col,
                        tags,
                        categories: categories_of(account),
                        truth: Some(Truth {
                            region: Some(region.to_string()),
                            meter: Some(meter),
                            cache_gb: size.map(|s| s.gb().normalize()),
                            api_id: api_t,
                            stage: stage_t,
                        }),
                    });
                }
            }
        }
        // Credits, a refund and tax on the first region's REST usage.
        let region = ds.regions[0];
        let p = prefix(region);
        let month_end = month_start + ds.days * 86_400;
        for (kind, cost, ut, tags) in [
            (
                "Credit",
                Decimal::new(-500, 2),
                format!("{p}-ApiGatewayRequest"),
                Tags::new(),
            ),
            (
                "Refund",
                Decimal::new(-123, 2),
                format!("{p}-ApiGatewayRequest"),
                Tags::from([("team".to_string(), "payments".to_string())]),
            ),
            ("Tax", Decimal::new(417, 2), String::new(), Tags::new()),
        ] {
            let meter = if ut.is_empty() {
                None
            } else {
                Some(Meter::RestRequests)
            };
            recs.push(Rec {
                id: next_id(&mut rng),
                account: account.to_string(),
                payer: PAYER.into(),
                line_item_type: kind,
                start: month_start,
                end: month_end,
                product_code: "AmazonApiGateway",
                product_name: "Amazon API Gateway",
                usage_type: ut.clone(),
                operation: "",
                resource_id: String::new(),
                amount: Decimal::ZERO,
                cost,
                region_col: if kind == "Tax" {
                    String::new()
                } else {
                    region.to_string()
                },
                tags,
                // Credits, refunds and tax: no cost category (shown as uncategorized).
                categories: Tags::new(),
                truth: Some(Truth {
                    region: (kind != "Tax").then(|| region.to_string()),
                    meter,
                    cache_gb: None,
                    api_id: None,
                    stage: None,
                }),
            });
        }
    }
    // Other services, to be skipped.
    let others: &[(&str, &str, &str)] = &[
        (
            "AmazonEC2",
            "Amazon Elastic Compute Cloud",
            "BoxUsage:t3.micro",
        ),
        (
            "AmazonS3",
            "Amazon Simple Storage Service",
            "TimedStorage-ByteHrs",
        ),
        ("AWSLambda", "AWS Lambda", "Request"),
        ("AmazonCloudWatch", "AmazonCloudWatch", "CW:Requests"),
    ];
    for i in 0..ds.other_rows {
        let (code, name, ut) = others[i % others.len()];
        let region = ds.regions[i % ds.regions.len()];
        let day = rng.below(ds.days as u64) as i64;
        recs.push(Rec {
            id: next_id(&mut rng),
            account: ds.accounts[i % ds.accounts.len()].to_string(),
            payer: PAYER.into(),
            line_item_type: "Usage",
            start: month_start + day * 86_400,
            end: month_start + (day + 1) * 86_400,
            product_code: code,
            product_name: name,
            usage_type: format!("{}-{ut}", prefix(region)),
            operation: "",
            resource_id: String::new(),
            amount: Decimal::from(rng.below(1000) + 1),
            cost: Decimal::new(rng.below(100_000) as i64, 4),
            region_col: region.to_string(),
            tags: Tags::from([("team".to_string(), "infra".to_string())]),
            categories: categories_of(ds.accounts[i % ds.accounts.len()]),
            truth: None,
        });
    }
    // Deterministic shuffle (Fisher–Yates), so API Gateway and other rows interleave. Tier
    // costs were computed in generation order: the running total is per month, so the sum of
    // the costs is right whatever the order.
    for i in (1..recs.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        recs.swap(i, j);
    }
    recs
}

/// A usage line's cost categories: `CostCenter` by account (one account has none, so its
/// lines are uncategorized) and `Environment` for the first account.
fn categories_of(account: &str) -> Tags {
    let mut c = Tags::new();
    match account.as_bytes().first() {
        Some(b'1') => {
            c.insert("CostCenter".into(), "cc-100".into());
            c.insert("Environment".into(), "production".into());
        }
        Some(b'2') => {
            c.insert("CostCenter".into(), "cc-200".into());
        }
        _ => {}
    }
    c
}

/// The line a correct reader must produce for a row (`None` for other services).
fn expected_line(r: &Rec, layout: &Layout, file: &str, line: u64) -> Option<BillLine> {
    let format = layout.format;
    // A legacy CUR without tag columns carries no tags at all.
    let tags_written = format != Format::LegacyCur || layout.tag_columns;
    let t = r.truth.as_ref()?;
    let line_item_type = match (format, r.line_item_type) {
        // FOCUS has no Refund category: AWS refunds are Credit rows.
        (Format::Focus, "Refund") => LineItemType::Credit,
        (_, k) => LineItemType::parse(k),
    };
    Some(BillLine {
        source: format,
        file: file.to_string(),
        line,
        line_item_id: (format != Format::Focus).then(|| r.id.clone()),
        account: r.account.clone(),
        payer_account: Some(r.payer.clone()),
        region: t.region.clone(),
        usage_type: r.usage_type.clone(),
        operation: (!r.operation.is_empty()).then(|| r.operation.to_string()),
        meter: t.meter,
        cache_size_gb: t.cache_gb,
        resource_id: (!r.resource_id.is_empty()).then(|| r.resource_id.clone()),
        api_id: t.api_id.clone(),
        stage: t.stage.clone(),
        line_item_type,
        usage_start: r.start,
        usage_end: r.end,
        usage_amount: r.amount,
        unblended_cost: r.cost,
        currency: "USD".into(),
        tags: if tags_written {
            r.tags.clone()
        } else {
            Tags::new()
        },
        // Written wherever tags are (legacy CUR: as `costCategory/` columns).
        cost_categories: if tags_written {
            r.categories.clone()
        } else {
            Tags::new()
        },
    })
}

// === Cells and writers ===

#[derive(Clone)]
enum Cell {
    S(Option<String>),
    F(Option<f64>),
    T(Option<i64>),
    M(Option<Tags>),
}

#[derive(Clone, Copy, PartialEq)]
enum Ty {
    Str,
    F64,
    Ts,
    Map,
}

fn s(v: impl Into<String>) -> Cell {
    let v = v.into();
    Cell::S((!v.is_empty()).then_some(v))
}

fn f(d: Decimal) -> Cell {
    Cell::F(Some(f64::from_str(&d.to_string()).unwrap_or(f64::NAN)))
}

fn json_tags(t: &Tags, prefix: &str) -> String {
    if t.is_empty() {
        return String::new();
    }
    let m: BTreeMap<String, &String> = t.iter().map(|(k, v)| (format!("{prefix}{k}"), v)).collect();
    serde_json::to_string(&m).unwrap_or_default()
}

/// A format's columns and how a record fills them.
struct Layout {
    format: Format,
    columns: Vec<(&'static str, Ty)>,
    row: fn(&Rec, &Layout) -> Vec<Cell>,
    /// Timestamp text style for CSV.
    ts_csv: fn(i64) -> String,
    tag_columns: bool,
}

fn legacy_layout(tag_columns: bool) -> Layout {
    let mut columns = vec![
        ("identity/LineItemId", Ty::Str),
        ("identity/TimeInterval", Ty::Str),
        ("bill/BillType", Ty::Str),
        ("bill/PayerAccountId", Ty::Str),
        ("bill/BillingPeriodStartDate", Ty::Ts),
        ("lineItem/UsageAccountId", Ty::Str),
        ("lineItem/LineItemType", Ty::Str),
        ("lineItem/UsageStartDate", Ty::Ts),
        ("lineItem/UsageEndDate", Ty::Ts),
        ("lineItem/ProductCode", Ty::Str),
        ("lineItem/UsageType", Ty::Str),
        ("lineItem/Operation", Ty::Str),
        ("lineItem/AvailabilityZone", Ty::Str),
        ("lineItem/ResourceId", Ty::Str),
        ("lineItem/UsageAmount", Ty::F64),
        ("lineItem/CurrencyCode", Ty::Str),
        ("lineItem/UnblendedRate", Ty::Str),
        ("lineItem/UnblendedCost", Ty::F64),
        ("lineItem/BlendedCost", Ty::F64),
        ("lineItem/LineItemDescription", Ty::Str),
        ("product/ProductName", Ty::Str),
        ("product/region", Ty::Str),
        ("pricing/term", Ty::Str),
    ];
    if tag_columns {
        columns.push(("resourceTags/user:env", Ty::Str));
        columns.push(("resourceTags/user:team", Ty::Str));
        columns.push(("costCategory/CostCenter", Ty::Str));
        columns.push(("costCategory/Environment", Ty::Str));
    }
    Layout {
        format: Format::LegacyCur,
        columns,
        row: |r, l| {
            let rate = if r.amount.is_zero() {
                Decimal::ZERO
            } else {
                r.cost / r.amount
            };
            let mut v = vec![
                s(&r.id),
                s(format!(
                    "{}/{}",
                    format_timestamp(r.start),
                    format_timestamp(r.end)
                )),
                s("Anniversary"),
                s(&r.payer),
                Cell::T(Some(r.start - r.start % 86_400)),
                s(&r.account),
                s(r.line_item_type),
                Cell::T(Some(r.start)),
                Cell::T(Some(r.end)),
                s(r.product_code),
                s(&r.usage_type),
                s(r.operation),
                s(""),
                s(&r.resource_id),
                f(r.amount),
                s("USD"),
                s(rate.round_dp(10).normalize().to_string()),
                f(r.cost),
                f(r.cost),
                s(format!("{} {}", r.product_name, r.usage_type)),
                s(r.product_name),
                s(&r.region_col),
                s("OnDemand"),
            ];
            if l.tag_columns {
                v.push(s(r.tags.get("env").cloned().unwrap_or_default()));
                v.push(s(r.tags.get("team").cloned().unwrap_or_default()));
                for name in ["CostCenter", "Environment"] {
                    v.push(s(r.categories.get(name).cloned().unwrap_or_default()));
                }
            }
            v
        },
        ts_csv: format_timestamp,
        tag_columns,
    }
}

fn cur2_layout() -> Layout {
    Layout {
        format: Format::Cur2,
        columns: vec![
            ("identity_line_item_id", Ty::Str),
            ("identity_time_interval", Ty::Str),
            ("bill_bill_type", Ty::Str),
            ("bill_payer_account_id", Ty::Str),
            ("bill_payer_account_name", Ty::Str),
            ("bill_billing_period_start_date", Ty::Ts),
            ("line_item_usage_account_id", Ty::Str),
            ("line_item_usage_account_name", Ty::Str),
            ("line_item_line_item_type", Ty::Str),
            ("line_item_usage_start_date", Ty::Ts),
            ("line_item_usage_end_date", Ty::Ts),
            ("line_item_product_code", Ty::Str),
            ("line_item_usage_type", Ty::Str),
            ("line_item_operation", Ty::Str),
            ("line_item_resource_id", Ty::Str),
            ("line_item_usage_amount", Ty::F64),
            ("line_item_currency_code", Ty::Str),
            ("line_item_unblended_cost", Ty::F64),
            ("line_item_blended_cost", Ty::F64),
            ("line_item_line_item_description", Ty::Str),
            ("product", Ty::Map),
            ("product_region_code", Ty::Str),
            ("pricing_unit", Ty::Str),
            ("resource_tags", Ty::Map),
            ("cost_category", Ty::Map),
        ],
        row: |r, _| {
            vec![
                s(&r.id),
                s(format!(
                    "{}/{}",
                    format_timestamp(r.start),
                    format_timestamp(r.end)
                )),
                s("Anniversary"),
                s(&r.payer),
                s("Example Corp"),
                Cell::T(Some(r.start - r.start % 86_400)),
                s(&r.account),
                s(format!("team-{}", &r.account[8..])),
                s(r.line_item_type),
                Cell::T(Some(r.start)),
                Cell::T(Some(r.end)),
                s(r.product_code),
                s(&r.usage_type),
                s(r.operation),
                s(&r.resource_id),
                f(r.amount),
                s("USD"),
                f(r.cost),
                f(r.cost),
                s(format!("{} {}", r.product_name, r.usage_type)),
                Cell::M(Some(Tags::from([
                    ("product_name".to_string(), r.product_name.to_string()),
                    ("servicecode".to_string(), r.product_code.to_string()),
                ]))),
                s(&r.region_col),
                s("Requests"),
                Cell::M(Some(
                    r.tags
                        .iter()
                        .map(|(k, v)| (format!("user_{k}"), v.clone()))
                        .collect(),
                )),
                Cell::M(Some(r.categories.clone())),
            ]
        },
        ts_csv: |t| format_timestamp(t).replace('Z', ".000Z"),
        tag_columns: false,
    }
}

fn focus_layout(v12: bool) -> Layout {
    Layout {
        format: Format::Focus,
        columns: vec![
            ("AvailabilityZone", Ty::Str),
            ("BilledCost", Ty::F64),
            ("BillingAccountId", Ty::Str),
            ("BillingAccountName", Ty::Str),
            ("BillingCurrency", Ty::Str),
            ("BillingPeriodEnd", Ty::Ts),
            ("BillingPeriodStart", Ty::Ts),
            ("ChargeCategory", Ty::Str),
            ("ChargeClass", Ty::Str),
            ("ChargeDescription", Ty::Str),
            ("ChargeFrequency", Ty::Str),
            ("ChargePeriodEnd", Ty::Ts),
            ("ChargePeriodStart", Ty::Ts),
            ("ConsumedQuantity", Ty::F64),
            ("ConsumedUnit", Ty::Str),
            ("EffectiveCost", Ty::F64),
            ("ListCost", Ty::F64),
            ("PricingQuantity", Ty::F64),
            ("ProviderName", Ty::Str),
            ("RegionId", Ty::Str),
            ("ResourceId", Ty::Str),
            ("ServiceCategory", Ty::Str),
            ("ServiceName", Ty::Str),
            (if v12 { "SkuMeter" } else { "x_UsageType" }, Ty::Str),
            ("SubAccountId", Ty::Str),
            ("SubAccountName", Ty::Str),
            ("Tags", Ty::Map),
            ("x_CostCategories", Ty::Map),
            ("x_Operation", Ty::Str),
            ("x_ServiceCode", Ty::Str),
        ],
        row: |r, _| {
            let usage = matches!(r.line_item_type, "Usage");
            let category = match r.line_item_type {
                "Refund" => "Credit",
                k => k,
            };
            vec![
                s(""),
                f(r.cost),
                s(&r.payer),
                s("Example Corp"),
                s("USD"),
                Cell::T(Some(r.end)),
                Cell::T(Some(r.start)),
                s(category),
                s(""),
                s(format!("{} {}", r.product_name, r.usage_type)),
                s("Usage-Based"),
                Cell::T(Some(r.end)),
                Cell::T(Some(r.start)),
                if usage { f(r.amount) } else { Cell::F(None) },
                s(if usage { "Requests" } else { "" }),
                f(r.cost),
                f(r.cost),
                if usage { f(r.amount) } else { Cell::F(None) },
                s("AWS"),
                s(&r.region_col),
                s(&r.resource_id),
                s("Integration"),
                s(r.product_name),
                s(&r.usage_type),
                s(&r.account),
                s(format!("team-{}", &r.account[8..])),
                Cell::M(Some(
                    r.tags
                        .iter()
                        .map(|(k, v)| (format!("user:{k}"), v.clone()))
                        .collect(),
                )),
                Cell::M(Some(r.categories.clone())),
                s(r.operation),
                s(r.product_code),
            ]
        },
        ts_csv: format_timestamp,
        tag_columns: false,
    }
}

/// A deliberate fault: (index of the record in the file, column, replacement text for CSV or
/// `None` → null / NaN in Parquet). Column `"*extra*"` appends a field (CSV only).
type Fault = (usize, &'static str, Option<&'static str>);

fn csv_text(cell: &Cell, ts: fn(i64) -> String) -> String {
    match cell {
        Cell::S(v) => v.clone().unwrap_or_default(),
        Cell::F(v) => v.map(|x| x.to_string()).unwrap_or_default(),
        Cell::T(v) => v.map(ts).unwrap_or_default(),
        Cell::M(v) => v.as_ref().map(|t| json_tags(t, "")).unwrap_or_default(),
    }
}

/// CSV amounts must be the record's exact decimal (f64 formatting would round): render numbers
/// from the record, not from the cell.
fn write_csv(
    path: &Path,
    layout: &Layout,
    recs: &[Rec],
    faults: &[Fault],
    gz: bool,
) -> Result<Vec<u64>, GenError> {
    let file = File::create(path).map_err(io_err(path))?;
    let out = if gz {
        Sink::Gz(Box::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::default(),
        )))
    } else {
        Sink::Plain(file)
    };
    let csv_err = |source| GenError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(out);
    w.write_record(layout.columns.iter().map(|(n, _)| *n))
        .map_err(csv_err)?;
    let mut lines = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        let cells = (layout.row)(r, layout);
        let mut fields: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let name = layout.columns[c].0;
                match cell {
                    // Exact decimals in CSV.
                    Cell::F(Some(_)) if is_amount(name) => r.amount.to_string(),
                    Cell::F(Some(_)) if is_cost(name) => r.cost.to_string(),
                    _ => csv_text(cell, layout.ts_csv),
                }
            })
            .collect();
        for (at, col, text) in faults {
            if *at == i {
                if *col == "*extra*" {
                    fields.push("surplus".into());
                } else if *col == "*short*" {
                    fields.truncate(fields.len() - 3);
                } else if let Some(c) = layout.columns.iter().position(|(n, _)| n == col) {
                    fields[c] = text.unwrap_or("").to_string();
                }
            }
        }
        w.write_record(&fields).map_err(csv_err)?;
        lines.push(i as u64 + 2);
    }
    let sink = w.into_inner().map_err(|e| io_err(path)(e.into_error()))?;
    sink.finish().map_err(io_err(path))?;
    Ok(lines)
}

/// Where a CSV fixture goes: a file, or a gzip stream whose end is written by `finish` (not
/// on drop, where an error would be lost).
enum Sink {
    Plain(File),
    Gz(Box<flate2::write::GzEncoder<File>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(f) => f.write(buf),
            Sink::Gz(g) => g.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(f) => f.flush(),
            Sink::Gz(g) => g.flush(),
        }
    }
}

impl Sink {
    fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Plain(mut f) => f.flush(),
            Sink::Gz(g) => (*g).finish().map(drop),
        }
    }
}

fn is_amount(name: &str) -> bool {
    matches!(
        name,
        "lineItem/UsageAmount" | "line_item_usage_amount" | "ConsumedQuantity" | "PricingQuantity"
    )
}

fn is_cost(name: &str) -> bool {
    matches!(
        name,
        "lineItem/UnblendedCost"
            | "lineItem/BlendedCost"
            | "line_item_unblended_cost"
            | "line_item_blended_cost"
            | "BilledCost"
            | "EffectiveCost"
            | "ListCost"
    )
}

fn write_parquet(
    path: &Path,
    layout: &Layout,
    recs: &[Rec],
    faults: &[Fault],
    row_group: usize,
) -> Result<(), GenError> {
    let mut schema = String::from("message bill {\n");
    for (name, ty) in &layout.columns {
        schema += &match ty {
            Ty::Str => format!("  OPTIONAL BYTE_ARRAY {name} (UTF8);\n"),
            Ty::F64 => format!("  OPTIONAL DOUBLE {name};\n"),
            Ty::Ts => format!("  OPTIONAL INT64 {name} (TIMESTAMP(MILLIS,true));\n"),
            Ty::Map => format!(
                "  OPTIONAL group {name} (MAP) {{\n    REPEATED group key_value {{\n      \
                 REQUIRED BYTE_ARRAY key (UTF8);\n      OPTIONAL BYTE_ARRAY value (UTF8);\n    }}\n  }}\n"
            ),
        };
    }
    schema += "}\n";
    let pq = pq_err(path);
    let schema = Arc::new(parse_message_type(&schema).map_err(&pq)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let file = File::create(path).map_err(io_err(path))?;
    let mut w = SerializedFileWriter::new(file, schema, props).map_err(&pq)?;
    for (chunk_no, chunk) in recs.chunks(row_group.max(1)).enumerate() {
        let base = chunk_no * row_group;
        let rows: Vec<Vec<Cell>> = chunk
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut cells = (layout.row)(r, layout);
                for (at, col, _) in faults {
                    if *at == base + i {
                        if let Some(c) = layout.columns.iter().position(|(n, _)| n == col) {
                            cells[c] = match cells[c] {
                                Cell::F(_)
                                    if col.contains("amount") || col.contains("Quantity") =>
                                {
                                    Cell::F(Some(f64::NAN))
                                }
                                Cell::F(_) => Cell::F(None),
                                Cell::T(_) => Cell::T(None),
                                Cell::S(_) => Cell::S(None),
                                Cell::M(_) => Cell::M(None),
                            };
                        }
                    }
                }
                cells
            })
            .collect();
        let mut rg = w.next_row_group().map_err(&pq)?;
        let missing = || GenError::Schema(path.to_path_buf());
        for (col, (_, ty)) in layout.columns.iter().enumerate() {
            let cells = rows.iter().map(|r| &r[col]);
            let mut cw = rg.next_column().map_err(&pq)?.ok_or_else(missing)?;
            match ty {
                Ty::Str => {
                    let (vals, def) = flat(cells, |c| match c {
                        Cell::S(Some(v)) => Some(ByteArray::from(v.as_str())),
                        _ => None,
                    });
                    cw.typed::<ByteArrayType>()
                        .write_batch(&vals, Some(&def), None)
                        .map_err(&pq)?;
                }
                Ty::F64 => {
                    let (vals, def) = flat(cells, |c| match c {
                        Cell::F(v) => *v,
                        _ => None,
                    });
                    cw.typed::<DoubleType>()
                        .write_batch(&vals, Some(&def), None)
                        .map_err(&pq)?;
                }
                Ty::Ts => {
                    let (vals, def) = flat(cells, |c| match c {
                        Cell::T(v) => v.map(|t| t * 1000),
                        _ => None,
                    });
                    cw.typed::<Int64Type>()
                        .write_batch(&vals, Some(&def), None)
                        .map_err(&pq)?;
                }
                Ty::Map => {
                    // Two leaves: key, then value (the next column).
                    let (mut keys, mut kdef, mut rep) = (Vec::new(), Vec::new(), Vec::new());
                    let (mut vals, mut vdef) = (Vec::new(), Vec::new());
                    for c in cells {
                        match c {
                            Cell::M(Some(t)) if !t.is_empty() => {
                                for (j, (k, v)) in t.iter().enumerate() {
                                    keys.push(ByteArray::from(k.as_str()));
                                    vals.push(ByteArray::from(v.as_str()));
                                    kdef.push(2);
                                    vdef.push(3);
                                    rep.push(i16::from(j > 0));
                                }
                            }
                            // An empty map, or a null one.
                            c => {
                                let level = i16::from(matches!(c, Cell::M(Some(_))));
                                kdef.push(level);
                                vdef.push(level);
                                rep.push(0);
                            }
                        }
                    }
                    cw.typed::<ByteArrayType>()
                        .write_batch(&keys, Some(&kdef), Some(&rep))
                        .map_err(&pq)?;
                    cw.close().map_err(&pq)?;
                    cw = rg.next_column().map_err(&pq)?.ok_or_else(missing)?;
                    cw.typed::<ByteArrayType>()
                        .write_batch(&vals, Some(&vdef), Some(&rep))
                        .map_err(&pq)?;
                }
            }
            cw.close().map_err(&pq)?;
        }
        rg.close().map_err(&pq)?;
    }
    w.close().map_err(&pq)?;
    Ok(())
}

/// A flat optional column: the present values and the definition levels (1 present, 0 null).
fn flat<'a, T>(
    cells: impl Iterator<Item = &'a Cell>,
    value: impl Fn(&Cell) -> Option<T>,
) -> (Vec<T>, Vec<i16>) {
    let (mut vals, mut def) = (Vec::new(), Vec::new());
    for c in cells {
        match value(c) {
            Some(v) => {
                vals.push(v);
                def.push(1);
            }
            None => def.push(0),
        }
    }
    (vals, def)
}

// === Expected results ===

#[derive(Serialize)]
struct ExpectedMalformed {
    location: tollgate_aws::Location,
    column: Option<String>,
}

#[derive(Serialize)]
struct Expected {
    format: Format,
    container: tollgate_aws::Container,
    rows: u64,
    lines: u64,
    skipped_by_service: BTreeMap<String, u64>,
    malformed: Vec<ExpectedMalformed>,
    totals: Totals,
}

struct Out {
    dir: PathBuf,
    expected: BTreeMap<String, Expected>,
}

impl Out {
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        name: &str,
        layout: &Layout,
        recs: &[Rec],
        container: tollgate_aws::Container,
        faults: &[Fault],
        malformed_columns: &[Option<&str>],
    ) -> Result<(), GenError> {
        let path = self.dir.join(name);
        if let Some(p) = path.parent() {
            fs::create_dir_all(p).map_err(io_err(p))?;
        }
        let locations: Vec<tollgate_aws::Location> = match container {
            tollgate_aws::Container::Parquet => {
                write_parquet(&path, layout, recs, faults, 500)?;
                (1..=recs.len() as u64)
                    .map(tollgate_aws::Location::Row)
                    .collect()
            }
            c => write_csv(
                &path,
                layout,
                recs,
                faults,
                c == tollgate_aws::Container::CsvGz,
            )?
            .into_iter()
            .map(tollgate_aws::Location::Line)
            .collect(),
        };
        let shown = format!("fixtures/aws/{name}");
        let mut totals = Totals::default();
        let mut skipped = BTreeMap::new();
        let mut lines = 0;
        let mut malformed = Vec::new();
        for (i, r) in recs.iter().enumerate() {
            if let Some((fi, _)) = faults.iter().enumerate().find(|(_, f)| f.0 == i) {
                malformed.push(ExpectedMalformed {
                    location: locations[i],
                    column: malformed_columns[fi].map(str::to_string),
                });
                continue;
            }
            match expected_line(r, layout, &shown, locations[i].number()) {
                Some(l) => {
                    lines += 1;
                    totals.add(&l);
                }
                None => *skipped.entry(r.product_code.to_string()).or_default() += 1,
            }
        }
        self.expected.insert(
            name.to_string(),
            Expected {
                format: layout.format,
                container,
                rows: recs.len() as u64,
                lines,
                skipped_by_service: skipped,
                malformed,
                totals: totals.finish(),
            },
        );
        println!("wrote {}", path.display());
        Ok(())
    }
}

/// Moves an API Gateway usage row to each fault position, so every fault hits a row the reader
/// parses fully (other services' rows are only checked for their field count).
fn put_apigw_at(recs: &mut [Rec], positions: &[usize]) {
    for &p in positions {
        if recs[p].truth.as_ref().is_some_and(|t| t.meter.is_some())
            && recs[p].line_item_type == "Usage"
        {
            continue;
        }
        if let Some(q) = (0..recs.len()).find(|&q| {
            !positions.contains(&q)
                && recs[q].truth.as_ref().is_some_and(|t| t.meter.is_some())
                && recs[q].line_item_type == "Usage"
        }) {
            recs.swap(p, q);
        }
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_fixtures: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), GenError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--big") {
        let rows: usize = args
            .get(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_000_000);
        let dir = PathBuf::from(args.get(2).map_or("/tmp/tollgate-cur-big", String::as_str));
        return big(rows, &dir);
    }
    let dir = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/aws"));
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let mut out = Out {
        dir: dir.clone(),
        expected: BTreeMap::new(),
    };
    use tollgate_aws::Container::*;

    // Legacy CUR, August 2026, with tag columns; and September gzipped without any.
    let legacy = build(&Dataset {
        name: "legacy-aug",
        seed: 1,
        year: 2026,
        month: 8,
        days: 31,
        accounts: &["111111111111", "222222222222"],
        regions: &["us-east-1", "us-west-2"],
        other_rows: 120,
        doubles: false,
    });
    out.emit(
        "legacy-cur-2026-08.csv",
        &legacy_layout(true),
        &legacy,
        Csv,
        &[],
        &[],
    )?;
    let legacy_gz = build(&Dataset {
        name: "legacy-sep",
        seed: 2,
        year: 2026,
        month: 9,
        days: 30,
        accounts: &["111111111111"],
        regions: &["us-east-1", "eu-central-1"],
        other_rows: 60,
        doubles: false,
    });
    out.emit(
        "legacy-cur-2026-09.csv.gz",
        &legacy_layout(false),
        &legacy_gz,
        CsvGz,
        &[],
        &[],
    )?;

    // CUR 2.0: Parquet (the largest fixture) and CSV.gz.
    let cur2 = build(&Dataset {
        name: "cur2-sep",
        seed: 3,
        year: 2026,
        month: 9,
        days: 30,
        accounts: &["111111111111", "222222222222", "333333333333"],
        regions: &["us-east-1", "us-west-2", "eu-central-1", "ap-northeast-2"],
        other_rows: 3000,
        doubles: true,
    });
    out.emit(
        "cur2-2026-09.parquet",
        &cur2_layout(),
        &cur2,
        Parquet,
        &[],
        &[],
    )?;
    let cur2_csv = build(&Dataset {
        name: "cur2-oct",
        seed: 4,
        year: 2026,
        month: 10,
        days: 31,
        accounts: &["222222222222", "333333333333"],
        regions: &["ap-northeast-2", "us-east-1"],
        other_rows: 200,
        doubles: false,
    });
    out.emit(
        "cur2-2026-10.csv.gz",
        &cur2_layout(),
        &cur2_csv,
        CsvGz,
        &[],
        &[],
    )?;

    // FOCUS 1.2 CSV and FOCUS 1.0 Parquet.
    let focus = build(&Dataset {
        name: "focus-sep",
        seed: 5,
        year: 2026,
        month: 9,
        days: 30,
        accounts: &["111111111111", "333333333333"],
        regions: &["us-east-1", "ap-northeast-2"],
        other_rows: 150,
        doubles: false,
    });
    out.emit(
        "focus-1.2-2026-09.csv",
        &focus_layout(true),
        &focus,
        Csv,
        &[],
        &[],
    )?;
    let focus10 = build(&Dataset {
        name: "focus10-aug",
        seed: 6,
        year: 2026,
        month: 8,
        days: 31,
        accounts: &["222222222222"],
        regions: &["us-west-2", "eu-central-1"],
        other_rows: 80,
        doubles: true,
    });
    out.emit(
        "focus-1.0-2026-08.parquet",
        &focus_layout(false),
        &focus10,
        Parquet,
        &[],
        &[],
    )?;

    // Malformed rows, one file per format (and container).
    let small = |name: &'static str, seed: u64, doubles: bool| {
        build(&Dataset {
            name,
            seed,
            year: 2026,
            month: 7,
            days: 3,
            accounts: &["444444444444"],
            regions: &["us-east-1"],
            other_rows: 10,
            doubles,
        })
    };
    let mut r = small("bad-legacy", 7, false);
    let faults: &[Fault] = &[
        (3, "lineItem/UnblendedCost", Some("abc")),
        (7, "lineItem/UsageStartDate", Some("2026-13-01T00:00:00Z")),
        (11, "*extra*", None),
        (15, "lineItem/UsageAccountId", Some("")),
        (19, "lineItem/UsageAmount", Some("1,5")),
    ];
    put_apigw_at(&mut r, &[3, 7, 15, 19]);
    out.emit(
        "malformed/legacy-cur-malformed.csv",
        &legacy_layout(true),
        &r,
        Csv,
        faults,
        &[
            Some("lineItem/UnblendedCost"),
            Some("lineItem/UsageStartDate"),
            None,
            Some("lineItem/UsageAccountId"),
            Some("lineItem/UsageAmount"),
        ],
    )?;
    let mut r = small("bad-cur2csv", 8, false);
    let faults: &[Fault] = &[
        (2, "line_item_usage_amount", Some("12..5")),
        (5, "resource_tags", Some("{oops")),
        (9, "line_item_usage_end_date", Some("tomorrow")),
    ];
    put_apigw_at(&mut r, &[2, 5, 9]);
    out.emit(
        "malformed/cur2-malformed.csv.gz",
        &cur2_layout(),
        &r,
        CsvGz,
        faults,
        &[
            Some("line_item_usage_amount"),
            Some("resource_tags"),
            Some("line_item_usage_end_date"),
        ],
    )?;
    let mut r = small("bad-cur2pq", 9, true);
    let faults: &[Fault] = &[
        (1, "line_item_unblended_cost", None),
        (4, "line_item_usage_amount", None),
        (8, "line_item_usage_start_date", None),
    ];
    put_apigw_at(&mut r, &[1, 4, 8]);
    out.emit(
        "malformed/cur2-malformed.parquet",
        &cur2_layout(),
        &r,
        Parquet,
        faults,
        &[
            Some("line_item_unblended_cost"),
            Some("line_item_usage_amount"),
            Some("line_item_usage_start_date"),
        ],
    )?;
    let mut r = small("bad-focus", 10, false);
    let faults: &[Fault] = &[
        (2, "BilledCost", Some("n/a")),
        (6, "ChargePeriodStart", Some("yesterday")),
        (10, "*short*", None),
    ];
    put_apigw_at(&mut r, &[2, 6]);
    out.emit(
        "malformed/focus-malformed.csv",
        &focus_layout(true),
        &r,
        Csv,
        faults,
        &[Some("BilledCost"), Some("ChargePeriodStart"), None],
    )?;

    // Files of the wrong kind.
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        fs::write(&path, text).map_err(io_err(&path))
    };
    write(
        "malformed/not-a-bill.csv",
        "requestId,ip,httpMethod,status\nabc,10.0.0.1,GET,200\n",
    )?;
    write(
        "malformed/missing-columns.csv",
        "identity_line_item_id,line_item_usage_account_id,line_item_line_item_type,\
         line_item_usage_start_date,line_item_usage_end_date,line_item_product_code,\
         line_item_usage_type,resource_tags\n",
    )?;

    let json = serde_json::to_string_pretty(&out.expected)?;
    write("expected.json", &(json + "\n"))?;
    println!("wrote {}", dir.join("expected.json").display());
    Ok(())
}

/// A large CUR 2.0 file (Parquet and CSV.gz) for throughput checks; not committed.
fn big(rows: usize, dir: &Path) -> Result<(), GenError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let base = build(&Dataset {
        name: "big",
        seed: 42,
        year: 2026,
        month: 9,
        days: 30,
        accounts: &["111111111111", "222222222222", "333333333333"],
        regions: &["us-east-1", "us-west-2", "eu-central-1", "ap-northeast-2"],
        other_rows: 4000,
        doubles: true,
    });
    let recs: Vec<Rec> = base.iter().cycle().take(rows).cloned().collect();
    let layout = cur2_layout();
    write_parquet(
        &dir.join("cur2-big.parquet"),
        &layout,
        &recs,
        &[],
        128 * 1024,
    )?;
    write_csv(&dir.join("cur2-big.csv.gz"), &layout, &recs, &[], true)?;
    println!("wrote {rows} rows to {}", dir.display());
    Ok(())
}
