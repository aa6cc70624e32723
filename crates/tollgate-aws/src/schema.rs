//! Format detection from column names, the column mapping per format, and the one
//! normaliser every reader (CSV or Parquet) feeds rows through.

use std::collections::BTreeMap;
use std::path::Path;

use rust_decimal::Decimal;

use crate::usage_type::{api_and_stage, meter_of_usage_type, region_of_usage_type};
use crate::value::tag_key;
use crate::{AwsError, BillLine, Format, LineItemType};

/// The logical fields a reader extracts; each maps to at most one column per format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Field {
    LineItemId,
    Account,
    Payer,
    LineItemType,
    Start,
    End,
    ProductCode,
    ServiceName,
    UsageType,
    Operation,
    ResourceId,
    Amount,
    AmountFallback,
    Cost,
    Currency,
    Region,
    /// A map column of tags (CUR 2.0 `resource_tags`, FOCUS `Tags`).
    TagMap,
    /// A map column of cost categories (CUR 2.0 `cost_category`, FOCUS `x_CostCategories`).
    CategoryMap,
}

/// Number of [`Field`]s.
pub(crate) const FIELDS: usize = Field::CategoryMap as usize + 1;

/// How a field reads: text, an exact number or a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Number,
    Time,
    Map,
}

impl Field {
    pub(crate) fn kind(self) -> Kind {
        match self {
            Field::Start | Field::End => Kind::Time,
            Field::Amount | Field::AmountFallback | Field::Cost => Kind::Number,
            Field::TagMap | Field::CategoryMap => Kind::Map,
            _ => Kind::Text,
        }
    }
}

/// Candidate column names per field and format, first match wins. `required` fields must be
/// present (any one of their names).
struct Spec {
    field: Field,
    names: &'static [&'static str],
    required: bool,
}

const fn req(field: Field, names: &'static [&'static str]) -> Spec {
    Spec {
        field,
        names,
        required: true,
    }
}

const fn opt(field: Field, names: &'static [&'static str]) -> Spec {
    Spec {
        field,
        names,
        required: false,
    }
}

/// Legacy CUR CSV (CUR23 data dictionary, aws-facts §6.2).
const LEGACY: &[Spec] = &[
    opt(Field::LineItemId, &["identity/LineItemId"]),
    req(Field::Account, &["lineItem/UsageAccountId"]),
    opt(Field::Payer, &["bill/PayerAccountId"]),
    req(Field::LineItemType, &["lineItem/LineItemType"]),
    req(Field::Start, &["lineItem/UsageStartDate"]),
    req(Field::End, &["lineItem/UsageEndDate"]),
    req(Field::ProductCode, &["lineItem/ProductCode"]),
    opt(Field::ServiceName, &["product/ProductName"]),
    req(Field::UsageType, &["lineItem/UsageType"]),
    opt(Field::Operation, &["lineItem/Operation"]),
    opt(Field::ResourceId, &["lineItem/ResourceId"]),
    req(Field::Amount, &["lineItem/UsageAmount"]),
    req(Field::Cost, &["lineItem/UnblendedCost"]),
    opt(Field::Currency, &["lineItem/CurrencyCode"]),
    opt(Field::Region, &["product/region", "product/regionCode"]),
];

/// Snake_case: CUR 2.0 and the legacy Athena/Parquet flavour (aws-facts §6.2).
const SNAKE: &[Spec] = &[
    opt(Field::LineItemId, &["identity_line_item_id"]),
    req(Field::Account, &["line_item_usage_account_id"]),
    opt(Field::Payer, &["bill_payer_account_id"]),
    req(Field::LineItemType, &["line_item_line_item_type"]),
    req(Field::Start, &["line_item_usage_start_date"]),
    req(Field::End, &["line_item_usage_end_date"]),
    req(Field::ProductCode, &["line_item_product_code"]),
    opt(Field::ServiceName, &["product_product_name"]),
    req(Field::UsageType, &["line_item_usage_type"]),
    opt(Field::Operation, &["line_item_operation"]),
    opt(Field::ResourceId, &["line_item_resource_id"]),
    req(Field::Amount, &["line_item_usage_amount"]),
    req(Field::Cost, &["line_item_unblended_cost"]),
    opt(Field::Currency, &["line_item_currency_code"]),
    opt(Field::Region, &["product_region_code", "product_region"]),
    opt(Field::TagMap, &["resource_tags"]),
    opt(Field::CategoryMap, &["cost_category"]),
];

/// FOCUS 1.0 / 1.2 with AWS columns (AWS Data Exports table dictionaries).
const FOCUS: &[Spec] = &[
    req(Field::Account, &["SubAccountId"]),
    opt(Field::Payer, &["BillingAccountId"]),
    req(Field::LineItemType, &["ChargeCategory"]),
    req(Field::Start, &["ChargePeriodStart"]),
    req(Field::End, &["ChargePeriodEnd"]),
    opt(Field::ProductCode, &["x_ServiceCode"]),
    req(Field::ServiceName, &["ServiceName"]),
    // FOCUS 1.2 renamed AWS's x_UsageType to SkuMeter.
    req(Field::UsageType, &["x_UsageType", "SkuMeter"]),
    opt(Field::Operation, &["x_Operation"]),
    opt(Field::ResourceId, &["ResourceId"]),
    opt(Field::Amount, &["ConsumedQuantity"]),
    opt(Field::AmountFallback, &["PricingQuantity"]),
    req(Field::Cost, &["BilledCost"]),
    opt(Field::Currency, &["BillingCurrency"]),
    opt(Field::Region, &["RegionId"]),
    opt(Field::TagMap, &["Tags"]),
    // AWS's FOCUS export carries cost categories as an AWS column (a JSON object in CSV).
    opt(Field::CategoryMap, &["x_CostCategories"]),
];

/// Detects the format from top-level column names.
pub(crate) fn detect(file: &Path, names: &[&str]) -> Result<Format, AwsError> {
    let has = |n: &str| names.contains(&n);
    if names
        .iter()
        .any(|n| n.starts_with("lineItem/") || n.starts_with("identity/"))
    {
        return Ok(Format::LegacyCur);
    }
    if names.iter().any(|n| n.starts_with("line_item_")) {
        let flat_tags = names.iter().any(|n| n.starts_with("resource_tags_"));
        return Ok(if !has("resource_tags") && flat_tags {
            Format::LegacyCur
        } else {
            Format::Cur2
        });
    }
    if has("BilledCost") || has("ChargePeriodStart") {
        return Ok(Format::Focus);
    }
    let shown: Vec<&str> = names.iter().take(6).copied().collect();
    Err(AwsError::WrongKind {
        file: file.to_path_buf(),
        reason: format!(
            "expected a legacy CUR header (lineItem/UsageType, lineItem/UnblendedCost, …), a CUR 2.0 \
             one (line_item_usage_type, line_item_unblended_cost, …) or a FOCUS one (BilledCost, \
             ChargePeriodStart, …); found {} column(s){}{}",
            names.len(),
            if shown.is_empty() { "" } else { ": " },
            shown.join(", ")
        ) + if names.len() > shown.len() { ", …" } else { "" },
    })
}

/// Where each needed field sits among a file's columns, plus its tag columns.
#[derive(Debug, Clone)]
pub(crate) struct ColumnMap {
    pub(crate) format: Format,
    /// (field, column index, column name) for every field present.
    pub(crate) fields: Vec<(Field, usize, String)>,
    /// Flat tag columns: (column index, tag key).
    pub(crate) tag_columns: Vec<(usize, String)>,
    /// Flat cost category columns (legacy CUR `costCategory/<Name>`): (column index, name).
    pub(crate) category_columns: Vec<(usize, String)>,
    slot: [Option<usize>; FIELDS],
}

impl ColumnMap {
    /// Maps `names` (top-level columns, in order) for `format`; names every missing required
    /// column.
    pub(crate) fn new(file: &Path, format: Format, names: &[&str]) -> Result<ColumnMap, AwsError> {
        let specs = match format {
            Format::LegacyCur if names.iter().any(|n| n.starts_with("lineItem/")) => LEGACY,
            Format::LegacyCur | Format::Cur2 => SNAKE,
            Format::Focus => FOCUS,
        };
        let mut fields = Vec::new();
        let mut missing = Vec::new();
        let mut slot = [None; FIELDS];
        for spec in specs {
            let found = spec
                .names
                .iter()
                .find_map(|n| names.iter().position(|c| c == n).map(|i| (i, *n)));
            match found {
                Some((i, n)) => {
                    slot[spec.field as usize] = Some(fields.len());
                    fields.push((spec.field, i, n.to_string()));
                }
                None if spec.required => missing.push(spec.names.join(" or ")),
                None => {}
            }
        }
        if !missing.is_empty() {
            return Err(AwsError::MissingColumns {
                file: file.to_path_buf(),
                format,
                missing,
            });
        }
        let mut tag_columns = Vec::new();
        let mut category_columns = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let raw = n
                .strip_prefix("resourceTags/")
                .or_else(|| n.strip_prefix("resource_tags_"));
            if let Some(raw) = raw {
                tag_columns.push((i, tag_key(raw).to_string()));
            }
            if let Some(name) = n.strip_prefix("costCategory/").filter(|c| !c.is_empty()) {
                category_columns.push((i, name.to_string()));
            }
        }
        Ok(ColumnMap {
            format,
            fields,
            tag_columns,
            category_columns,
            slot,
        })
    }

    /// The position in [`Self::fields`] of a field, if the file has it.
    pub(crate) fn slot(&self, f: Field) -> Option<usize> {
        self.slot[f as usize]
    }
}

/// One row's values, by slot (position in [`ColumnMap::fields`]) or tag column.
pub(crate) trait Row {
    /// Text of a field; `None` when null or empty.
    fn text(&self, slot: usize) -> Result<Option<&str>, String>;
    /// An exact number; `None` when null or empty.
    fn number(&mut self, slot: usize) -> Result<Option<Decimal>, String>;
    /// A timestamp in Unix seconds; `None` when null or empty.
    fn time(&self, slot: usize) -> Result<Option<i64>, String>;
    /// Adds the tags of a map field.
    fn tag_map(&self, slot: usize, out: &mut BTreeMap<String, String>) -> Result<(), String>;
    /// Text of the `i`-th flat tag column ([`ColumnMap::tag_columns`]).
    fn tag_column(&self, i: usize) -> Result<Option<&str>, String>;
    /// Text of the `i`-th flat cost category column ([`ColumnMap::category_columns`]).
    fn category_column(&self, i: usize) -> Result<Option<&str>, String>;
}

/// What one row turned out to be.
pub(crate) enum Outcome {
    Line(Box<BillLine>),
    /// Another service's row (already counted in the caller's skipped map).
    Skipped,
}

/// A row's fault: the column name and the message.
pub(crate) type Fault = (Option<String>, String);

/// What a source yields per row: `None` at the end, a file-level error, or the row's line
/// (or row number) and its outcome.
pub(crate) type NextRow = Option<Result<(u64, Result<Outcome, Fault>), AwsError>>;

pub(crate) const API_GATEWAY_CODE: &str = "AmazonApiGateway";
pub(crate) const API_GATEWAY_NAME: &str = "Amazon API Gateway";

/// Whether a row is an API Gateway line (by product code, else service name). Another
/// service's row is counted in `skipped` under its name.
pub(crate) fn classify<R: Row>(
    map: &ColumnMap,
    row: &R,
    skipped: &mut BTreeMap<String, u64>,
) -> Result<bool, Fault> {
    let fault = |f: Field, m: String| (map.slot(f).map(|s| map.fields[s].2.clone()), m);
    let text_ref = |row: &R, f: Field| -> Result<bool, Fault> {
        // True when the field is API Gateway's product code / service name.
        match map.slot(f) {
            Some(s) => row
                .text(s)
                .map(|o| matches!(o, Some(API_GATEWAY_CODE) | Some(API_GATEWAY_NAME)))
                .map_err(|m| fault(f, m)),
            None => Ok(false),
        }
    };

    // Cheap check first, without allocating: most rows of a bill are other services.
    let code_slot = map.slot(Field::ProductCode);
    let code = match code_slot {
        Some(s) => row.text(s).map_err(|m| fault(Field::ProductCode, m))?,
        None => None,
    };
    let (is_apigw, name_field) = match code {
        Some(code) => (code == API_GATEWAY_CODE, Field::ProductCode),
        None => (text_ref(row, Field::ServiceName)?, Field::ServiceName),
    };
    if !is_apigw {
        // Count it under its service name, allocating only for a name not seen before.
        let name = match map.slot(name_field) {
            Some(s) => row.text(s).map_err(|m| fault(name_field, m))?,
            None => None,
        }
        .unwrap_or("(none)");
        match skipped.get_mut(name) {
            Some(n) => *n += 1,
            None => {
                skipped.insert(name.to_string(), 1);
            }
        }
        return Ok(false);
    }
    Ok(true)
}

/// Turns one row into a bill line, a skip, or a fault.
pub(crate) fn normalise<R: Row>(
    map: &ColumnMap,
    row: &mut R,
    file: &str,
    line: u64,
    skipped: &mut BTreeMap<String, u64>,
) -> Result<Outcome, Fault> {
    let col = |f: Field| map.slot(f).map(|s| map.fields[s].2.clone());
    let fault = |f: Field, m: String| (col(f), m);
    let text = |row: &R, f: Field| -> Result<Option<String>, Fault> {
        match map.slot(f) {
            Some(s) => row
                .text(s)
                .map(|o| o.map(str::to_string))
                .map_err(|m| fault(f, m)),
            None => Ok(None),
        }
    };
    if !classify(map, row, skipped)? {
        return Ok(Outcome::Skipped);
    }

    let required = |row: &R, f: Field| -> Result<String, Fault> {
        text(row, f)?.ok_or_else(|| fault(f, "required value is empty".into()))
    };
    let account = required(row, Field::Account)?;
    let line_item_type = LineItemType::parse(&required(row, Field::LineItemType)?);
    let time = |row: &R, f: Field| -> Result<i64, Fault> {
        let s = map.slot(f).ok_or_else(|| fault(f, "missing".into()))?;
        row.time(s)
            .map_err(|m| fault(f, m))?
            .ok_or_else(|| fault(f, "required value is empty".into()))
    };
    let usage_start = time(row, Field::Start)?;
    let usage_end = time(row, Field::End)?;
    if usage_end < usage_start {
        return Err(fault(Field::End, "usage end is before usage start".into()));
    }
    let number = |row: &mut R, f: Field| -> Result<Option<Decimal>, Fault> {
        match map.slot(f) {
            Some(s) => row.number(s).map_err(|m| (col(f), m)),
            None => Ok(None),
        }
    };
    let unblended_cost = number(row, Field::Cost)?
        .ok_or_else(|| (col(Field::Cost), "required value is empty".into()))?;
    let usage_amount = match number(row, Field::Amount)? {
        Some(a) => a,
        None => number(row, Field::AmountFallback)?.unwrap_or(Decimal::ZERO),
    };

    let usage_type = text(row, Field::UsageType)?.unwrap_or_default();
    let (meter, cache_size_gb) = meter_of_usage_type(&usage_type);
    let region = match text(row, Field::Region)? {
        Some(r) => Some(r),
        None => region_of_usage_type(&usage_type).map(str::to_string),
    };
    let resource_id = text(row, Field::ResourceId)?;
    let (api_id, stage) = resource_id
        .as_deref()
        .map(api_and_stage)
        .unwrap_or((None, None));

    let mut tags = BTreeMap::new();
    if let Some(s) = map.slot(Field::TagMap) {
        row.tag_map(s, &mut tags)
            .map_err(|m| fault(Field::TagMap, m))?;
    }
    for (i, (_, key)) in map.tag_columns.iter().enumerate() {
        if let Some(v) = row.tag_column(i).map_err(|m| (None, m))? {
            tags.insert(key.clone(), v.to_string());
        }
    }
    // Cost categories read as tags do (a map of strings, or flat columns); a category name
    // starting `user:`/`user_` loses that prefix as a tag key does.
    let mut cost_categories = BTreeMap::new();
    if let Some(s) = map.slot(Field::CategoryMap) {
        row.tag_map(s, &mut cost_categories)
            .map_err(|m| fault(Field::CategoryMap, m))?;
    }
    for (i, (_, name)) in map.category_columns.iter().enumerate() {
        if let Some(v) = row.category_column(i).map_err(|m| (None, m))? {
            cost_categories.insert(name.clone(), v.to_string());
        }
    }

    Ok(Outcome::Line(Box::new(BillLine {
        source: map.format,
        file: file.to_string(),
        line,
        line_item_id: text(row, Field::LineItemId)?,
        account,
        payer_account: text(row, Field::Payer)?,
        region,
        usage_type,
        operation: text(row, Field::Operation)?,
        meter,
        cache_size_gb,
        resource_id,
        api_id,
        stage,
        line_item_type,
        usage_start,
        usage_end,
        usage_amount,
        unblended_cost,
        currency: text(row, Field::Currency)?.unwrap_or_else(|| "USD".into()),
        tags,
        cost_categories,
    })))
}
