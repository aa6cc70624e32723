//! Totals of a file's API Gateway lines by account, region, meter and currency — what
//! `tollgate aws import --dry-run` prints — without building a [`BillLine`] per line:
//! [`BillReader::sum_groups`](crate::BillReader::sum_groups).
//!
//! Every source goes through [`Groups`]: the CSV quick path ([`quick`]), the Parquet arrow
//! path (`parquet_fast`) and, for any row either is unsure of, the full normaliser's
//! [`BillLine`] ([`Groups::add_line`]). A row the quick paths take must be one the normaliser
//! would have turned into a line with the same key, usage and cost: they check the same
//! things, and hand the row to the normaliser whenever a check fails (so faults and their
//! messages come from one place).

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::schema::{classify, ColumnMap, Field, Row};
use crate::usage_type::{meter_of_usage_type, region_of_usage_type};
use crate::{meter_key, BillLine, Sum};

/// What [`BillReader::sum_groups`](crate::BillReader::sum_groups) groups lines by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupKey {
    /// Usage account.
    pub account: String,
    /// Region (the line's [`BillLine::region`]).
    pub region: Option<String>,
    /// Meter key ([`meter_key`]: `rest_requests`, `cache_hours:0.5`, `(none)`).
    pub meter: String,
    /// Currency.
    pub currency: String,
}

impl GroupKey {
    /// A line's group.
    pub fn of(l: &BillLine) -> GroupKey {
        GroupKey {
            account: l.account.clone(),
            region: l.region.clone(),
            meter: meter_key(l),
            currency: l.currency.clone(),
        }
    }
}

/// What a usage type says: its meter key and the region of its billing prefix.
#[derive(Debug, Clone)]
pub(crate) struct UsageInfo {
    pub(crate) meter: String,
    pub(crate) region: Option<&'static str>,
}

impl UsageInfo {
    /// As the normaliser derives them ([`meter_of_usage_type`], [`meter_key`]).
    pub(crate) fn of(usage_type: &str) -> UsageInfo {
        let meter = match meter_of_usage_type(usage_type) {
            (Some(m), Some(gb)) => format!("{m}:{}", gb.normalize()),
            (Some(m), None) => m.to_string(),
            (None, _) => "(none)".into(),
        };
        UsageInfo {
            meter,
            region: region_of_usage_type(usage_type),
        }
    }
}

/// Usage types remembered (a bill has tens to hundreds; beyond this they are derived per line).
const USAGE_TYPES_KEPT: usize = 4096;

/// Sums by [`GroupKey`], looked up by borrowed text (no allocation for a group seen before).
#[derive(Default)]
pub(crate) struct Groups {
    sums: HashMap<String, (GroupKey, Sum), foldhash::fast::RandomState>,
    usage: HashMap<String, UsageInfo, foldhash::fast::RandomState>,
    packed: String,
}

impl Groups {
    /// Adds a line known by its region column (if filled) and usage type.
    pub(crate) fn add_usage(
        &mut self,
        account: &str,
        region_column: Option<&str>,
        usage_type: &str,
        currency: &str,
        amount: Decimal,
        cost: Decimal,
    ) {
        let derived;
        let info = match self.usage.get(usage_type) {
            Some(i) => i,
            None => {
                derived = UsageInfo::of(usage_type);
                if self.usage.len() < USAGE_TYPES_KEPT {
                    self.usage.insert(usage_type.to_string(), derived.clone());
                }
                &derived
            }
        };
        let region = region_column.or(info.region);
        let meter = info.meter.clone();
        self.add(account, region, &meter, currency, 1, amount, cost);
    }

    /// Adds a line the normaliser built.
    pub(crate) fn add_line(&mut self, l: &BillLine) {
        self.add(
            &l.account,
            l.region.as_deref(),
            &meter_key(l),
            &l.currency,
            1,
            l.usage_amount,
            l.unblended_cost,
        );
    }

    /// Adds `lines` lines of one group, summing `usage` and `cost`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add(
        &mut self,
        account: &str,
        region: Option<&str>,
        meter: &str,
        currency: &str,
        lines: u64,
        usage: Decimal,
        cost: Decimal,
    ) {
        // One string per key: fields cannot contain the separators' control characters in a
        // way that makes two keys collide, since `None` has its own marker.
        self.packed.clear();
        for part in [account, region.unwrap_or("\u{1e}"), meter, currency] {
            self.packed.push_str(part);
            self.packed.push('\u{1f}');
        }
        let sum = match self.sums.get_mut(self.packed.as_str()) {
            Some((_, s)) => s,
            None => {
                let key = GroupKey {
                    account: account.to_string(),
                    region: region.map(str::to_string),
                    meter: meter.to_string(),
                    currency: currency.to_string(),
                };
                &mut self
                    .sums
                    .entry(self.packed.clone())
                    .or_insert((key, Sum::default()))
                    .1
            }
        };
        sum.lines += lines;
        sum.usage += usage;
        sum.cost += cost;
    }

    /// Adds another set of sums.
    pub(crate) fn merge(&mut self, other: BTreeMap<GroupKey, Sum>) {
        for (k, s) in other {
            self.add(
                &k.account,
                k.region.as_deref(),
                &k.meter,
                &k.currency,
                s.lines,
                s.usage,
                s.cost,
            );
        }
    }

    pub(crate) fn into_map(self) -> BTreeMap<GroupKey, Sum> {
        self.sums.into_values().collect()
    }
}

/// Tag texts (CSV JSON objects) already found valid: a bill repeats a few tag sets, and parsing
/// each line's JSON only to check it dominated the quick path otherwise.
#[derive(Default)]
pub(crate) struct TagsSeen {
    texts: Vec<String>,
    next: usize,
    scratch: BTreeMap<String, String>,
}

/// Tag texts remembered.
const TAG_TEXTS_KEPT: usize = 32;

impl TagsSeen {
    /// True when `text` is known good, or parses now (with the normaliser's
    /// [`Row::tag_map`]); false when the normaliser would fault the row.
    pub(crate) fn check<R: Row>(&mut self, row: &R, slot: usize) -> bool {
        let text = match row.text(slot) {
            Ok(t) => t.unwrap_or(""),
            Err(_) => return false,
        };
        if self.texts.iter().any(|t| t == text) {
            return true;
        }
        self.scratch.clear();
        if row.tag_map(slot, &mut self.scratch).is_err() {
            return false;
        }
        if self.texts.len() < TAG_TEXTS_KEPT {
            self.texts.push(text.to_string());
        } else {
            self.texts[self.next] = text.to_string();
            self.next = (self.next + 1) % TAG_TEXTS_KEPT;
        }
        true
    }
}

/// What the quick path made of a row.
pub(crate) enum Quick {
    /// An API Gateway line, added to the groups.
    Line,
    /// Another service's row, counted.
    Skipped,
    /// Not sure: the row goes to the normaliser.
    Unsure,
}

/// The normaliser's checks and derivations for a row whose map text is a JSON string (CSV),
/// adding an API Gateway line straight to `groups`. Mirrors [`crate::schema::normalise`]: any
/// check that fails there makes this [`Quick::Unsure`], so faults are reported by it alone.
pub(crate) fn quick<R: Row>(
    map: &ColumnMap,
    row: &mut R,
    skipped: &mut BTreeMap<String, u64>,
    groups: &mut Groups,
    tags: &mut TagsSeen,
) -> Quick {
    match classify(map, row, skipped) {
        Ok(true) => {}
        Ok(false) => return Quick::Skipped,
        Err(_) => return Quick::Unsure,
    }
    // Numbers first (they take the row mutably), then the texts, borrowed.
    let mut number = |f: Field| -> Result<Option<Decimal>, ()> {
        match map.slot(f) {
            Some(s) => row.number(s).map_err(|_| ()),
            None => Ok(None),
        }
    };
    let Ok(Some(cost)) = number(Field::Cost) else {
        return Quick::Unsure;
    };
    let amount = match number(Field::Amount) {
        Ok(Some(a)) => a,
        Ok(None) => match number(Field::AmountFallback) {
            Ok(a) => a.unwrap_or(Decimal::ZERO),
            Err(()) => return Quick::Unsure,
        },
        Err(()) => return Quick::Unsure,
    };
    let row = &*row;
    let text = |f: Field| -> Result<Option<&str>, ()> {
        match map.slot(f) {
            Some(s) => row.text(s).map_err(|_| ()),
            None => Ok(None),
        }
    };
    let time = |f: Field| -> Option<i64> { map.slot(f).and_then(|s| row.time(s).ok().flatten()) };
    let (Ok(Some(account)), Ok(Some(_))) = (text(Field::Account), text(Field::LineItemType)) else {
        return Quick::Unsure;
    };
    match (time(Field::Start), time(Field::End)) {
        (Some(start), Some(end)) if end >= start => {}
        _ => return Quick::Unsure,
    }
    let (Ok(usage_type), Ok(region), Ok(currency)) = (
        text(Field::UsageType),
        text(Field::Region),
        text(Field::Currency),
    ) else {
        return Quick::Unsure;
    };
    for f in [
        Field::ResourceId,
        Field::LineItemId,
        Field::Payer,
        Field::Operation,
    ] {
        if text(f).is_err() {
            return Quick::Unsure;
        }
    }
    for f in [Field::TagMap, Field::CategoryMap] {
        if let Some(s) = map.slot(f) {
            if !tags.check(row, s) {
                return Quick::Unsure;
            }
        }
    }
    for i in 0..map.tag_columns.len() {
        if row.tag_column(i).is_err() {
            return Quick::Unsure;
        }
    }
    for i in 0..map.category_columns.len() {
        if row.category_column(i).is_err() {
            return Quick::Unsure;
        }
    }
    groups.add_usage(
        account,
        region,
        usage_type.unwrap_or(""),
        currency.unwrap_or("USD"),
        amount,
        cost,
    );
    Quick::Line
}
