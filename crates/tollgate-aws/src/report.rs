//! What a read saw: rows, lines kept, lines skipped by service, malformed rows; and totals.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{BillLine, Container, Format, Malformed};

/// The outcome of reading one file, apart from the lines themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReport {
    /// The file, as given.
    pub file: String,
    /// Its format.
    pub format: Format,
    /// Its container.
    pub container: Container,
    /// Data rows read (header excluded), malformed ones included.
    pub rows: u64,
    /// API Gateway lines returned.
    pub lines: u64,
    /// Rows of other services, skipped, by product code (`AmazonEC2`, …; FOCUS: the service
    /// code, else the service name; `(none)` when empty).
    pub skipped_by_service: BTreeMap<String, u64>,
    /// Malformed rows, all counted.
    pub malformed_count: u64,
    /// The first malformed rows (up to [`crate::ReadOptions::max_reported`]).
    pub malformed: Vec<Malformed>,
}

impl ReadReport {
    /// Rows of other services skipped, all services.
    pub fn skipped(&self) -> u64 {
        self.skipped_by_service.values().sum()
    }
}

/// Lines, usage and cost of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sum {
    /// Bill lines.
    pub lines: u64,
    /// Usage amount, in the usage type's unit.
    pub usage: Decimal,
    /// Unblended cost.
    pub cost: Decimal,
}

impl Sum {
    fn add(&mut self, l: &BillLine) {
        self.lines += 1;
        self.usage += l.usage_amount;
        self.cost += l.unblended_cost;
    }
}

/// Totals of bill lines by meter, account, region, line item type and tag — what the
/// fixtures' `expected.json` records and `tollgate aws import --dry-run` prints.
///
/// Keys: meters by their snake_case name (`(none)` for lines without a meter; cache lines as
/// `cache_hours:<GB>`), tags as `KEY=VALUE` for every tag key seen, and `KEY=(untagged)` for
/// lines without that key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// All lines.
    pub all: Sum,
    /// By meter.
    pub by_meter: BTreeMap<String, Sum>,
    /// By usage account.
    pub by_account: BTreeMap<String, Sum>,
    /// By region (`(none)` when unknown).
    pub by_region: BTreeMap<String, Sum>,
    /// By line item type.
    pub by_line_item_type: BTreeMap<String, Sum>,
    /// By tag (`team=payments`, `team=(untagged)`).
    pub by_tag: BTreeMap<String, Sum>,
    /// Sums by the set of tag keys a line has (few distinct sets), for the untagged groups.
    #[serde(skip)]
    by_key_set: BTreeMap<Vec<String>, Sum>,
    /// By cost category (`CostCenter=cc-100`, `CostCenter=(uncategorized)`).
    #[serde(default)]
    pub by_cost_category: BTreeMap<String, Sum>,
    /// Sums by the set of category names a line has, for the uncategorized groups.
    #[serde(skip)]
    by_category_set: BTreeMap<Vec<String>, Sum>,
}

/// The group name of a line's meter (`rest_requests`, `cache_hours:0.5`, `(none)`).
pub fn meter_key(l: &BillLine) -> String {
    match (l.meter, l.cache_size_gb) {
        (Some(m), Some(gb)) => format!("{m}:{}", gb.normalize()),
        (Some(m), None) => m.to_string(),
        (None, _) => "(none)".into(),
    }
}

impl Totals {
    /// Adds one line. Tag totals for keys first seen later are completed by [`Totals::finish`].
    pub fn add(&mut self, l: &BillLine) {
        self.all.add(l);
        self.by_meter.entry(meter_key(l)).or_default().add(l);
        self.by_account.entry(l.account.clone()).or_default().add(l);
        let region = l.region.clone().unwrap_or_else(|| "(none)".into());
        self.by_region.entry(region).or_default().add(l);
        self.by_line_item_type
            .entry(l.line_item_type.as_str().to_string())
            .or_default()
            .add(l);
        for (k, v) in &l.tags {
            self.by_tag.entry(format!("{k}={v}")).or_default().add(l);
        }
        // `KEY=(untagged)` needs every key seen over the whole input: keep sums per set of
        // keys (bounded by the distinct tag-key combinations, not by the lines).
        self.by_key_set
            .entry(l.tags.keys().cloned().collect())
            .or_default()
            .add(l);
        for (k, v) in &l.cost_categories {
            self.by_cost_category
                .entry(format!("{k}={v}"))
                .or_default()
                .add(l);
        }
        self.by_category_set
            .entry(l.cost_categories.keys().cloned().collect())
            .or_default()
            .add(l);
    }

    /// Completes the `KEY=(untagged)` and `NAME=(uncategorized)` groups once every line was
    /// added.
    pub fn finish(mut self) -> Totals {
        complete(
            &mut self.by_tag,
            std::mem::take(&mut self.by_key_set),
            "(untagged)",
        );
        complete(
            &mut self.by_cost_category,
            std::mem::take(&mut self.by_category_set),
            "(uncategorized)",
        );
        self
    }
}

/// Adds to `by` (`KEY=VALUE` sums) a `KEY=missing` sum for every key seen, from the sums per
/// set of keys the lines had.
fn complete(by: &mut BTreeMap<String, Sum>, sets: BTreeMap<Vec<String>, Sum>, missing: &str) {
    let keys: std::collections::BTreeSet<String> = by
        .keys()
        .filter_map(|k| k.split_once('=').map(|(k, _)| k.to_string()))
        .collect();
    for (set, sum) in sets {
        for k in &keys {
            if !set.contains(k) {
                let e = by.entry(format!("{k}={missing}")).or_default();
                e.lines += sum.lines;
                e.usage += sum.usage;
                e.cost += sum.cost;
            }
        }
    }
}
