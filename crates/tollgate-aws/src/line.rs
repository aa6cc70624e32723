//! The normalised bill line every reader produces, whatever the export's format.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tollgate_pricing::{CacheSize, Meter};

/// The kind of billing export a file holds (detected from its header or schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Legacy Cost and Usage Report: `lineItem/UsageType` CSV headers, or the Athena/Parquet
    /// flavour (`line_item_usage_type` with flat `resource_tags_user_*` columns).
    LegacyCur,
    /// CUR 2.0 (Data Exports `COST_AND_USAGE_REPORT`): snake_case, `resource_tags` map.
    Cur2,
    /// FOCUS 1.0 / 1.2 with AWS columns (`BilledCost`, `ChargePeriodStart`, …).
    Focus,
}

impl Format {
    /// Stable snake_case name (`legacy_cur`, `cur2`, `focus`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::LegacyCur => "legacy_cur",
            Format::Cur2 => "cur2",
            Format::Focus => "focus",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::LegacyCur => "legacy CUR",
            Format::Cur2 => "CUR 2.0",
            Format::Focus => "FOCUS",
        })
    }
}

/// How the file is stored (detected from its first bytes, not its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Container {
    /// Plain CSV text.
    Csv,
    /// Gzip-compressed CSV (`.csv.gz`).
    CsvGz,
    /// Apache Parquet.
    Parquet,
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Container::Csv => "CSV",
            Container::CsvGz => "CSV.gz",
            Container::Parquet => "Parquet",
        })
    }
}

/// `lineItem/LineItemType` (CUR) or `ChargeCategory` (FOCUS). Unknown values are kept as
/// [`LineItemType::Other`], never rejected.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LineItemType {
    /// On-demand usage.
    Usage,
    /// Usage covered by a Reserved Instance.
    DiscountedUsage,
    /// Usage covered by a Savings Plan.
    SavingsPlanCoveredUsage,
    /// Offsets the cost of Savings Plan covered usage.
    SavingsPlanNegation,
    /// Savings Plan recurring fee.
    SavingsPlanRecurringFee,
    /// Savings Plan upfront fee.
    SavingsPlanUpfrontFee,
    /// A credit (negative cost), e.g. promotional credits.
    Credit,
    /// A refund (negative cost).
    Refund,
    /// Tax.
    Tax,
    /// A fee.
    Fee,
    /// Reserved Instance fee.
    RiFee,
    /// Bundled discount.
    BundledDiscount,
    /// Enterprise Discount Program discount.
    EdpDiscount,
    /// Private pricing discount.
    PrivateRateDiscount,
    /// FOCUS `Purchase`.
    Purchase,
    /// FOCUS `Adjustment`.
    Adjustment,
    /// Any other value, verbatim.
    Other(String),
}

impl LineItemType {
    /// The value as AWS writes it (`Usage`, `RIFee`, …).
    pub fn as_str(&self) -> &str {
        match self {
            LineItemType::Usage => "Usage",
            LineItemType::DiscountedUsage => "DiscountedUsage",
            LineItemType::SavingsPlanCoveredUsage => "SavingsPlanCoveredUsage",
            LineItemType::SavingsPlanNegation => "SavingsPlanNegation",
            LineItemType::SavingsPlanRecurringFee => "SavingsPlanRecurringFee",
            LineItemType::SavingsPlanUpfrontFee => "SavingsPlanUpfrontFee",
            LineItemType::Credit => "Credit",
            LineItemType::Refund => "Refund",
            LineItemType::Tax => "Tax",
            LineItemType::Fee => "Fee",
            LineItemType::RiFee => "RIFee",
            LineItemType::BundledDiscount => "BundledDiscount",
            LineItemType::EdpDiscount => "EdpDiscount",
            LineItemType::PrivateRateDiscount => "PrivateRateDiscount",
            LineItemType::Purchase => "Purchase",
            LineItemType::Adjustment => "Adjustment",
            LineItemType::Other(s) => s,
        }
    }

    /// Parses a value; anything unknown becomes [`LineItemType::Other`].
    pub fn parse(s: &str) -> LineItemType {
        match s {
            "Usage" => LineItemType::Usage,
            "DiscountedUsage" => LineItemType::DiscountedUsage,
            "SavingsPlanCoveredUsage" => LineItemType::SavingsPlanCoveredUsage,
            "SavingsPlanNegation" => LineItemType::SavingsPlanNegation,
            "SavingsPlanRecurringFee" => LineItemType::SavingsPlanRecurringFee,
            "SavingsPlanUpfrontFee" => LineItemType::SavingsPlanUpfrontFee,
            "Credit" => LineItemType::Credit,
            "Refund" => LineItemType::Refund,
            "Tax" => LineItemType::Tax,
            "Fee" => LineItemType::Fee,
            "RIFee" => LineItemType::RiFee,
            "BundledDiscount" => LineItemType::BundledDiscount,
            "EdpDiscount" => LineItemType::EdpDiscount,
            "PrivateRateDiscount" => LineItemType::PrivateRateDiscount,
            "Purchase" => LineItemType::Purchase,
            "Adjustment" => LineItemType::Adjustment,
            other => LineItemType::Other(other.to_string()),
        }
    }

    /// True for the kinds AWS's own API Gateway CUR query counts as usage (aws-facts §6.1,
    /// WAL): `Usage`, `DiscountedUsage`, `SavingsPlanCoveredUsage`.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            LineItemType::Usage
                | LineItemType::DiscountedUsage
                | LineItemType::SavingsPlanCoveredUsage
        )
    }
}

impl fmt::Display for LineItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LineItemType {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(LineItemType::parse(s))
    }
}

impl Serialize for LineItemType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LineItemType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(LineItemType::parse(&s))
    }
}

/// One API Gateway line of an AWS bill, normalised across formats.
///
/// Self-contained and serialisable so that a ledger table can be built from it. Money and
/// quantities are exact decimals as written in the file (Parquet doubles are converted through
/// their shortest round-trip decimal form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillLine {
    /// The export's format.
    pub source: Format,
    /// The file the line came from, as given to the reader.
    pub file: String,
    /// Where in the file: CSV, the line number the record starts on (the header is line 1);
    /// Parquet, the 1-based row number.
    pub line: u64,
    /// `identity/LineItemId` / `identity_line_item_id` when present (FOCUS has none).
    pub line_item_id: Option<String>,
    /// Usage account (`lineItem/UsageAccountId`, `line_item_usage_account_id`, FOCUS
    /// `SubAccountId`).
    pub account: String,
    /// Payer account (`bill/PayerAccountId`, `bill_payer_account_id`, FOCUS
    /// `BillingAccountId`), when present.
    pub payer_account: Option<String>,
    /// Region code (`us-east-1`): the product region column when filled, else the usage type's
    /// billing prefix (`USE1-` → `us-east-1`). `None` when neither says.
    pub region: Option<String>,
    /// The usage type verbatim (`USE1-ApiGatewayRequest`); empty on some tax or credit lines.
    pub usage_type: String,
    /// The operation (`ApiGatewayHttpApi`, …), when present.
    pub operation: Option<String>,
    /// The tollgate meter this line's usage corresponds to, from the usage type; `None` for
    /// API Gateway charges tollgate does not meter (portals, inter-region transfer, …).
    pub meter: Option<Meter>,
    /// Cache size in GB for `ApiGatewayCacheUsage:<size>GB` lines.
    pub cache_size_gb: Option<Decimal>,
    /// The resource id verbatim, when present.
    pub resource_id: Option<String>,
    /// API id from the resource id (`…/restapis/<id>…` or `…/apis/<id>…`).
    pub api_id: Option<String>,
    /// Stage from the resource id (`…/stages/<stage>`), when present.
    pub stage: Option<String>,
    /// `Usage`, `Credit`, `Refund`, `Tax`, … (FOCUS: `ChargeCategory`).
    pub line_item_type: LineItemType,
    /// Start of the usage period, Unix seconds, inclusive.
    pub usage_start: i64,
    /// End of the usage period, Unix seconds, exclusive.
    pub usage_end: i64,
    /// Usage in the usage type's unit (requests, messages, minutes, hours, GB); 0 when the
    /// export leaves it empty (credits, tax).
    pub usage_amount: Decimal,
    /// The line's own cost (`UnblendedCost`; FOCUS `BilledCost`). Negative for credits and
    /// refunds.
    pub unblended_cost: Decimal,
    /// Currency of the cost (`USD` when the export has no currency column).
    pub currency: String,
    /// Cost-allocation tags with a value on this line; keys without the `user:`/`user_`
    /// prefix. Empty for untagged lines, which are kept like any other.
    pub tags: BTreeMap<String, String>,
    /// Cost categories with a value on this line (CUR 2.0 `cost_category`, legacy CUR
    /// `costCategory/<Name>` columns, FOCUS `x_CostCategories`), by category name. Empty for
    /// lines without any, which are kept like any other.
    #[serde(default)]
    pub cost_categories: BTreeMap<String, String>,
}

impl BillLine {
    /// The cache size as tollgate's pricing knows it; `None` for non-cache lines and for
    /// sizes AWS does not offer.
    pub fn cache_size(&self) -> Option<CacheSize> {
        self.cache_size_gb
            .and_then(|gb| CacheSize::from_gb(gb).ok())
    }
}
