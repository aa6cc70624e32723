//! Parquet totals ([`BillReader::sum_groups`]) through the `parquet` crate's arrow reader, with
//! the row groups spread over the machine's cores.
//!
//! The column-reader path (`parquet_source`) hands out every string of every row as its own
//! value, though most rows of a bill are other services, dropped after one look at the product
//! code. Here the text columns are read as arrow dictionary arrays: a row is a few dictionary
//! keys, and everything the normaliser derives from a text (is it API Gateway, the meter and
//! region of a usage type, the trimmed account) is derived once per dictionary entry. Arrow
//! checks UTF-8 once per dictionary page. Decimal sums are exact, so adding row groups in any
//! order and merging gives the same totals.
//!
//! This path takes what the normaliser would turn into lines without a fault; anything else —
//! a row the normaliser would fault (a null cost, a bad timestamp, invalid UTF-8, which arrow
//! reports as an error of the whole batch), or a column type this path does not read — sends
//! the row group (or the file) to the column-reader path, so faults, their messages and
//! strict mode stay exactly as they are there.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int32Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field as ArrowField, Schema, TimeUnit};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::page::Page;
use parquet::file::reader::{FileReader, SerializedFileReader};
use rust_decimal::Decimal;

use crate::schema::{ColumnMap, Field, Kind, API_GATEWAY_CODE, API_GATEWAY_NAME};
use crate::summary::{GroupKey, Groups, UsageInfo};
use crate::value::decimal_from_f64;
use crate::{AwsError, BillReader, Progress, Sum};

/// Rows per arrow batch (bounds memory: a batch of keys and numbers per projected column).
const BATCH: usize = 8192;

/// Sums every row group of `reader`'s (unread) Parquet file into `groups` and the reader's
/// report, then marks the reader done. Leaves the reader untouched when the file has a column
/// this path does not read (the caller then reads it line by line).
pub(crate) fn sum_groups(reader: &mut BillReader, groups: &mut Groups) -> Result<(), AwsError> {
    let Some((path, source, _)) = reader.parquet_parts() else {
        return Ok(());
    };
    let path = path.to_path_buf();
    let Some(plan) = Plan::new(&path, source.map()) else {
        return Ok(());
    };
    let n = plan.meta.metadata().num_row_groups();
    let workers = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .min(n)
        .max(1);
    let next = AtomicUsize::new(0);
    let rows_done = AtomicU64::new(0);
    let bytes_done = AtomicU64::new(0);
    let (total_bytes, progress) = reader.progress_parts();
    let progress = Mutex::new(progress);
    let outs: Vec<(usize, Option<RowGroupSums>)> = std::thread::scope(|scope| {
        let work = || {
            let mut mine = Vec::new();
            let mut state = Worker::default();
            loop {
                let rg = next.fetch_add(1, Ordering::Relaxed);
                if rg >= n {
                    return mine;
                }
                let sums = state.row_group(&plan, rg);
                let md = plan.meta.metadata().row_group(rg);
                let rows = rows_done.fetch_add(md.num_rows().max(0) as u64, Ordering::Relaxed)
                    + md.num_rows().max(0) as u64;
                let bytes = bytes_done
                    .fetch_add(md.compressed_size().max(0) as u64, Ordering::Relaxed)
                    + md.compressed_size().max(0) as u64;
                if let Ok(mut p) = progress.lock() {
                    if let Some(p) = p.as_mut() {
                        p(Progress {
                            bytes: bytes.min(total_bytes),
                            total_bytes,
                            rows,
                        });
                    }
                }
                mine.push((rg, sums));
            }
        };
        let handles: Vec<_> = (1..workers).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for h in handles {
            // A worker that panicked read nothing we can trust: its row groups go the slow way.
            if let Ok(theirs) = h.join() {
                all.extend(theirs);
            }
        }
        all
    });
    let mut by_rg: Vec<Option<RowGroupSums>> = (0..n).map(|_| None).collect();
    for (rg, sums) in outs {
        if let Some(slot) = by_rg.get_mut(rg) {
            *slot = sums;
        }
    }
    // In file order, so the report (and a strict-mode error) is what reading line by line gives.
    for (rg, sums) in by_rg.into_iter().enumerate() {
        match sums {
            Some(s) => {
                let Some((_, _, report)) = reader.parquet_parts() else {
                    return Ok(());
                };
                report.rows += s.rows;
                report.lines += s.lines;
                for (name, k) in s.skipped {
                    *report.skipped_by_service.entry(name).or_default() += k;
                }
                groups.merge(s.groups);
            }
            None => reader.sum_row_groups_slowly(rg, rg + 1, groups)?,
        }
    }
    reader.set_done();
    Ok(())
}

/// Where each field is in the arrow batches, and how to read it.
struct Plan {
    path: PathBuf,
    meta: ArrowReaderMetadata,
    mask: ProjectionMask,
    /// The same without the tag map, and the map's two leaf columns: a row group whose map
    /// columns are all dictionary-coded with valid UTF-8 dictionaries is read without it (the
    /// map is only read to have its strings checked, and its levels cost more than the rest).
    mask_without_map: Option<(ProjectionMask, Vec<usize>)>,
    /// Per [`Field`] present: its column name in the batch.
    col: [Option<String>; FIELD_COUNT],
    /// Divisor from the time columns' unit to seconds.
    time_div: [i64; 2],
}

const FIELD_COUNT: usize = crate::schema::FIELDS;

/// Text fields this path reads as dictionaries; the others (ids, operation, resource) it need
/// not look at per row, as arrow has checked their UTF-8 (all the normaliser checks of them):
/// they are read as string views (no copy of their bytes).
const DICT_FIELDS: [Field; 7] = [
    Field::Currency,
    Field::ProductCode,
    Field::ServiceName,
    Field::Account,
    Field::LineItemType,
    Field::UsageType,
    Field::Region,
];

impl Plan {
    /// `None` when a column is of a kind this path does not read (then the whole file goes
    /// line by line).
    fn new(path: &Path, map: &ColumnMap) -> Option<Plan> {
        let file = File::open(path).ok()?;
        let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).ok()?;
        let pq = meta.parquet_schema();
        let arrow = meta.schema().clone();
        let mut col: [Option<String>; FIELD_COUNT] = Default::default();
        let mut roots = Vec::new();
        let mut time_div = [0i64; 2];
        // Text columns: (index, as a dictionary (else as views)).
        let mut hints: Vec<(usize, bool)> = Vec::new();
        // Map columns (tags, cost categories): their read type, and their two leaves.
        let mut map_hints: Vec<(usize, DataType)> = Vec::new();
        let mut map_leaves: Vec<(usize, [usize; 2])> = Vec::new();
        for (field, _, name) in &map.fields {
            let (i, af) = arrow.column_with_name(name)?;
            let leaves: Vec<usize> = (0..pq.num_columns())
                .filter(|&c| pq.get_column_root_idx(c) == i)
                .collect();
            let physical: Vec<PhysicalType> = leaves
                .iter()
                .map(|&c| pq.column(c).physical_type())
                .collect();
            let ok = match field.kind() {
                Kind::Text => {
                    let ok = matches!(af.data_type(), DataType::Utf8 | DataType::Binary)
                        && physical == [PhysicalType::BYTE_ARRAY];
                    // Read as UTF-8 (also a BYTE_ARRAY without annotation), so arrow checks it.
                    hints.push((i, DICT_FIELDS.contains(field)));
                    ok
                }
                Kind::Number => {
                    af.data_type() == &DataType::Float64 && physical == [PhysicalType::DOUBLE]
                }
                Kind::Time => match af.data_type() {
                    DataType::Timestamp(unit, _) if physical == [PhysicalType::INT64] => {
                        let div = match unit {
                            TimeUnit::Second => 1,
                            TimeUnit::Millisecond => 1_000,
                            TimeUnit::Microsecond => 1_000_000,
                            TimeUnit::Nanosecond => 1_000_000_000,
                        };
                        time_div[usize::from(*field == Field::End)] = div;
                        true
                    }
                    _ => false,
                },
                Kind::Map => match af.data_type() {
                    DataType::Map(entries, sorted) => match entries.data_type() {
                        DataType::Struct(kv)
                            if kv.len() == 2
                                && kv.iter().all(|f| f.data_type() == &DataType::Utf8)
                                && physical == [PhysicalType::BYTE_ARRAY; 2] =>
                        {
                            // Keys and values as string views (checked, not copied).
                            let kv = kv.iter().map(|f| {
                                Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8View))
                            });
                            let entries = entries
                                .as_ref()
                                .clone()
                                .with_data_type(DataType::Struct(kv.collect()));
                            map_hints.push((i, DataType::Map(Arc::new(entries), *sorted)));
                            if let [k, v] = leaves[..] {
                                map_leaves.push((i, [k, v]));
                            }
                            true
                        }
                        _ => false,
                    },
                    _ => false,
                },
            };
            if !ok {
                return None;
            }
            col[*field as usize] = Some(name.clone());
            roots.push(i);
        }
        for (i, _) in map.tag_columns.iter().chain(&map.category_columns) {
            let af = arrow.fields().get(*i)?;
            if !matches!(af.data_type(), DataType::Utf8 | DataType::Binary) {
                return None;
            }
            hints.push((*i, false));
            roots.push(*i);
        }
        // Text columns as dictionaries of UTF-8 strings: keys per row, each string once.
        let hinted: Vec<ArrowField> = arrow
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| match hints.iter().find(|(h, _)| *h == i) {
                Some((_, true)) => ArrowField::new(
                    f.name(),
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                    f.is_nullable(),
                ),
                Some((_, false)) => ArrowField::new(f.name(), DataType::Utf8View, f.is_nullable()),
                None => match map_hints.iter().find(|(m, _)| *m == i) {
                    Some((_, t)) => f.as_ref().clone().with_data_type(t.clone()),
                    None => f.as_ref().clone(),
                },
            })
            .collect();
        let hint = Arc::new(Schema::new_with_metadata(hinted, arrow.metadata().clone()));
        let meta = ArrowReaderMetadata::try_new(
            meta.metadata().clone(),
            ArrowReaderOptions::new().with_schema(hint),
        )
        .ok()?;
        // Without the maps when every map's leaves turn out dictionary-coded and valid.
        let mask_without_map = (!map_leaves.is_empty()).then(|| {
            let maps: Vec<usize> = map_leaves.iter().map(|(m, _)| *m).collect();
            let roots = roots.iter().copied().filter(|r| !maps.contains(r));
            let leaves = map_leaves.iter().flat_map(|(_, l)| *l).collect();
            (ProjectionMask::roots(meta.parquet_schema(), roots), leaves)
        });
        let mask = ProjectionMask::roots(meta.parquet_schema(), roots);
        Some(Plan {
            path: path.to_path_buf(),
            meta,
            mask,
            mask_without_map,
            col,
            time_div,
        })
    }
}

/// One row group's totals.
struct RowGroupSums {
    rows: u64,
    lines: u64,
    skipped: BTreeMap<String, u64>,
    groups: BTreeMap<GroupKey, Sum>,
}

/// What a product code (or service name) dictionary entry says about its rows.
#[derive(Clone, Copy)]
enum Class {
    Api,
    /// Another service: skipped under this name (an id of [`Worker::names`]).
    Other(u32),
    /// Empty: the product code gives way to the service name; an empty service name counts
    /// as `(none)`.
    Empty,
}

/// A dictionary's per-entry derivations, kept while the batches share the dictionary.
struct Derived<T> {
    values: Option<ArrayRef>,
    entries: Vec<T>,
}

impl<T> Default for Derived<T> {
    fn default() -> Self {
        Derived {
            values: None,
            entries: Vec::new(),
        }
    }
}

impl<T> Derived<T> {
    /// The entries for `values`, derived with `f` (from each entry's trimmed text, `None` when
    /// empty) when the dictionary is new.
    fn of(&mut self, values: &ArrayRef, mut f: impl FnMut(Option<&str>) -> T) -> Option<&[T]> {
        if !self.values.as_ref().is_some_and(|v| Arc::ptr_eq(v, values)) {
            let strings: &StringArray = values.as_string_opt::<i32>()?;
            self.entries.clear();
            for i in 0..strings.len() {
                let s = if strings.is_null(i) {
                    None
                } else {
                    Some(strings.value(i).trim()).filter(|s| !s.is_empty())
                };
                self.entries.push(f(s));
            }
            self.values = Some(values.clone());
        }
        Some(&self.entries)
    }
}

/// A direct-mapped cache of doubles already turned into decimals: costs and amounts repeat a
/// lot in a bill, and [`decimal_from_f64`] formats each one to text. Same function, so the
/// same decimals.
struct DecimalCache {
    slots: Vec<(u64, Decimal)>,
    buf: String,
}

const DECIMAL_SLOTS: usize = 1 << 14;

impl Default for DecimalCache {
    fn default() -> Self {
        // NaN bits: never a key (non-finite doubles are not cached).
        DecimalCache {
            slots: vec![(u64::MAX, Decimal::ZERO); DECIMAL_SLOTS],
            buf: String::new(),
        }
    }
}

impl DecimalCache {
    fn get(&mut self, v: f64) -> Option<Decimal> {
        let bits = v.to_bits();
        let h = bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - 14);
        let slot = &mut self.slots[h as usize % DECIMAL_SLOTS];
        if slot.0 == bits {
            return Some(slot.1);
        }
        let d = decimal_from_f64(v, &mut self.buf).ok()?;
        *slot = (bits, d);
        Some(d)
    }
}

/// A worker's state, kept across its row groups.
#[derive(Default)]
struct Worker {
    /// Interned strings (accounts, regions, meters, currencies, service names).
    names: Vec<String>,
    ids: HashMap<String, u32, foldhash::fast::RandomState>,
    code: Derived<Class>,
    service: Derived<Class>,
    account: Derived<Option<u32>>,
    item_type: Derived<bool>,
    usage: Derived<(u32, Option<u32>)>,
    region: Derived<Option<u32>>,
    currency: Derived<Option<u32>>,
    decimals: DecimalCache,
    /// The file's pages, for [`Worker::dictionaries_valid`].
    pages: Option<SerializedFileReader<File>>,
}

/// A dictionary column of a batch: its keys, its values, the array (for nulls).
type DictColumn<'a> = (&'a [i32], Option<&'a ArrayRef>, &'a dyn Array);

/// A row group's running sums: (account, region or `NONE`, meter, currency) ids.
type Key = (u32, u32, u32, u32);
const NONE: u32 = u32::MAX;

impl Worker {
    /// Sums one row group; `None` when any of its rows needs the line-by-line path.
    fn row_group(&mut self, plan: &Plan, rg: usize) -> Option<RowGroupSums> {
        let file = File::open(&plan.path).ok()?;
        let mask = match &plan.mask_without_map {
            Some((without, leaves)) if self.dictionaries_valid(plan, rg, leaves) => without,
            _ => &plan.mask,
        };
        let batches = ParquetRecordBatchReaderBuilder::new_with_metadata(file, plan.meta.clone())
            .with_projection(mask.clone())
            .with_row_groups(vec![rg])
            .with_batch_size(BATCH)
            .build()
            .ok()?;
        let mut sums: HashMap<Key, Sum, foldhash::fast::RandomState> = HashMap::default();
        let mut skipped: HashMap<u32, u64, foldhash::fast::RandomState> = HashMap::default();
        let (mut rows, mut lines) = (0u64, 0u64);
        for batch in batches {
            let batch = batch.ok()?;
            lines += self.batch(plan, &batch, &mut sums, &mut skipped)?;
            rows += batch.num_rows() as u64;
        }
        let name = |i: u32| self.names.get(i as usize).cloned().unwrap_or_default();
        Some(RowGroupSums {
            rows,
            lines,
            skipped: skipped.into_iter().map(|(k, n)| (name(k), n)).collect(),
            groups: sums
                .into_iter()
                .map(|((a, r, m, c), s)| {
                    let key = GroupKey {
                        account: name(a),
                        region: (r != NONE).then(|| name(r)),
                        meter: name(m),
                        currency: name(c),
                    };
                    (key, s)
                })
                .collect(),
        })
    }

    /// True when every page of these leaf columns in row group `rg` is dictionary-coded and the
    /// dictionary's strings are all valid UTF-8: then every value is valid UTF-8 (the check the
    /// normaliser makes of the tag map's keys and values), and the columns need not be decoded.
    /// Hand-written on the `parquet` crate's page reader because arrow has no "check a
    /// column's strings without decoding its rows". Any doubt answers false (the columns are
    /// then read and checked by arrow).
    fn dictionaries_valid(&mut self, plan: &Plan, rg: usize, leaves: &[usize]) -> bool {
        if self.pages.is_none() {
            self.pages = File::open(&plan.path)
                .ok()
                .and_then(|f| SerializedFileReader::new(f).ok());
        }
        let Some(pages) = &self.pages else {
            return false;
        };
        let Ok(group) = pages.get_row_group(rg) else {
            return false;
        };
        leaves.iter().all(|&leaf| {
            let Ok(mut reader) = group.get_column_page_reader(leaf) else {
                return false;
            };
            let mut dictionary = false;
            loop {
                match reader.get_next_page() {
                    Ok(None) => return dictionary,
                    Ok(Some(Page::DictionaryPage {
                        buf,
                        num_values,
                        encoding: Encoding::PLAIN | Encoding::PLAIN_DICTIONARY,
                        ..
                    })) if !dictionary => {
                        if !plain_strings_valid(&buf, num_values) {
                            return false;
                        }
                        dictionary = true;
                    }
                    Ok(Some(
                        Page::DataPage { encoding, .. } | Page::DataPageV2 { encoding, .. },
                    )) if dictionary
                        && matches!(
                            encoding,
                            Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY
                        ) => {}
                    _ => return false,
                }
            }
        })
    }

    /// One batch: counts skipped rows, adds lines; returns the lines, `None` to give up.
    fn batch(
        &mut self,
        plan: &Plan,
        batch: &RecordBatch,
        sums: &mut HashMap<Key, Sum, foldhash::fast::RandomState>,
        skipped: &mut HashMap<u32, u64, foldhash::fast::RandomState>,
    ) -> Option<u64> {
        let column = |f: Field| -> Option<&ArrayRef> {
            plan.col[f as usize]
                .as_deref()
                .and_then(|n| batch.column_by_name(n))
        };
        let dict = |f: Field| -> Option<Option<DictColumn<'_>>> {
            match column(f) {
                None => Some(None),
                Some(a) => {
                    let d = a.as_dictionary_opt::<Int32Type>()?;
                    Some(Some((
                        d.keys().values().as_ref(),
                        Some(d.values()),
                        a.as_ref(),
                    )))
                }
            }
        };
        let (names, ids) = (&mut self.names, &mut self.ids);
        let none_id = intern(names, ids, "(none)");
        let usd = intern(names, ids, "USD");

        // Product code, then service name: as `schema::classify`.
        let class_of = |names: &mut Vec<String>,
                        ids: &mut HashMap<String, u32, foldhash::fast::RandomState>,
                        s: Option<&str>,
                        api: &[&str]| match s {
            None => Class::Empty,
            Some(s) if api.contains(&s) => Class::Api,
            Some(s) => Class::Other(intern(names, ids, s)),
        };
        let code = dict(Field::ProductCode)?;
        let code_classes: Option<Vec<Class>> = match code {
            Some((_, Some(values), _)) => Some(
                self.code
                    .of(values, |s| class_of(names, ids, s, &[API_GATEWAY_CODE]))?
                    .to_vec(),
            ),
            _ => None,
        };
        let service = dict(Field::ServiceName)?;
        let service_classes: Option<Vec<Class>> = match service {
            Some((_, Some(values), _)) => Some(
                self.service
                    .of(values, |s| {
                        class_of(names, ids, s, &[API_GATEWAY_CODE, API_GATEWAY_NAME])
                    })?
                    .to_vec(),
            ),
            _ => None,
        };
        let account = dict(Field::Account)??;
        let accounts = self
            .account
            .of(account.1?, |s| s.map(|s| intern(names, ids, s)))?;
        let item_type = dict(Field::LineItemType)??;
        let item_types = self.item_type.of(item_type.1?, |s| s.is_some())?;
        let usage = dict(Field::UsageType)?;
        let empty_usage = {
            let info = UsageInfo::of("");
            (
                intern(names, ids, &info.meter),
                info.region.map(|r| intern(names, ids, r)),
            )
        };
        let usages: &[(u32, Option<u32>)] = match usage {
            Some((_, Some(values), _)) => self.usage.of(values, |s| {
                let info = UsageInfo::of(s.unwrap_or(""));
                (
                    intern(names, ids, &info.meter),
                    info.region.map(|r| intern(names, ids, r)),
                )
            })?,
            _ => &[],
        };
        let region = dict(Field::Region)?;
        let regions: &[Option<u32>] = match region {
            Some((_, Some(values), _)) => self
                .region
                .of(values, |s| s.map(|s| intern(names, ids, s)))?,
            _ => &[],
        };
        let currency = dict(Field::Currency)?;
        let currencies: &[Option<u32>] = match currency {
            Some((_, Some(values), _)) => self
                .currency
                .of(values, |s| s.map(|s| intern(names, ids, s)))?,
            _ => &[],
        };

        let times = |f: Field| -> Option<(&[i64], &dyn Array)> {
            let a = column(f)?;
            let v: &[i64] = match a.data_type() {
                DataType::Timestamp(TimeUnit::Second, _) => {
                    a.as_primitive_opt::<TimestampSecondType>()?.values()
                }
                DataType::Timestamp(TimeUnit::Millisecond, _) => {
                    a.as_primitive_opt::<TimestampMillisecondType>()?.values()
                }
                DataType::Timestamp(TimeUnit::Microsecond, _) => {
                    a.as_primitive_opt::<TimestampMicrosecondType>()?.values()
                }
                DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                    a.as_primitive_opt::<TimestampNanosecondType>()?.values()
                }
                _ => return None,
            };
            Some((v, a.as_ref()))
        };
        let (start, end) = (times(Field::Start)?, times(Field::End)?);
        let doubles = |f: Field| -> Option<Option<(&[f64], &dyn Array)>> {
            match column(f) {
                None => Some(None),
                Some(a) => Some(Some((
                    a.as_primitive_opt::<Float64Type>()?.values(),
                    a.as_ref(),
                ))),
            }
        };
        let cost = doubles(Field::Cost)??;
        let amount = doubles(Field::Amount)?;
        let fallback = doubles(Field::AmountFallback)?;

        let mut lines = 0u64;
        for r in 0..batch.num_rows() {
            let key_of = |d: &Option<DictColumn<'_>>| -> Option<usize> {
                d.as_ref()
                    .filter(|(_, _, a)| a.is_valid(r))
                    .and_then(|(k, _, _)| usize::try_from(*k.get(r)?).ok())
            };
            let class = match (key_of(&code), &code_classes) {
                (Some(k), Some(c)) => *c.get(k)?,
                _ => Class::Empty,
            };
            let class = match class {
                Class::Empty => match (key_of(&service), &service_classes) {
                    (Some(k), Some(c)) => match *c.get(k)? {
                        Class::Empty => Class::Other(none_id),
                        c => c,
                    },
                    _ => Class::Other(none_id),
                },
                c => c,
            };
            if let Class::Other(name) = class {
                *skipped.entry(name).or_default() += 1;
                continue;
            }
            // An API Gateway line: the normaliser's checks, in any order (a failing one hands
            // the row group over).
            let account = (*accounts.get(key_of(&Some(account))?)?)?;
            if !*item_types.get(key_of(&Some(item_type))?)? {
                return None;
            }
            let time = |(v, a): (&[i64], &dyn Array), div: i64| -> Option<i64> {
                a.is_valid(r).then(|| v.get(r).map(|t| t.div_euclid(div)))?
            };
            let (s, e) = (time(start, plan.time_div[0])?, time(end, plan.time_div[1])?);
            if e < s {
                return None;
            }
            let (cv, ca) = cost;
            if !ca.is_valid(r) {
                return None;
            }
            let cost = self.decimals.get(*cv.get(r)?)?;
            let double = |d: Option<(&[f64], &dyn Array)>| -> Option<f64> {
                d.filter(|(_, a)| a.is_valid(r))
                    .and_then(|(v, _)| v.get(r).copied())
            };
            let amount = match double(amount).or_else(|| double(fallback)) {
                Some(v) => self.decimals.get(v)?,
                None => Decimal::ZERO,
            };
            let (meter, usage_region) = match key_of(&usage) {
                Some(k) => *usages.get(k)?,
                None => empty_usage,
            };
            let region = match key_of(&region) {
                Some(k) => *regions.get(k)?,
                None => None,
            }
            .or(usage_region)
            .unwrap_or(NONE);
            let currency = match key_of(&currency) {
                Some(k) => (*currencies.get(k)?).unwrap_or(usd),
                None => usd,
            };
            let sum = sums.entry((account, region, meter, currency)).or_default();
            sum.lines += 1;
            sum.usage += amount;
            sum.cost += cost;
            lines += 1;
        }
        Some(lines)
    }
}

/// A PLAIN-encoded page of `n` byte arrays (each a little-endian u32 length, then the bytes):
/// all there and all valid UTF-8.
fn plain_strings_valid(mut buf: &[u8], n: u32) -> bool {
    for _ in 0..n {
        let Some((len, rest)) = buf.split_first_chunk::<4>() else {
            return false;
        };
        let len = u32::from_le_bytes(*len) as usize;
        let Some((s, rest)) = rest.split_at_checked(len) else {
            return false;
        };
        if std::str::from_utf8(s).is_err() {
            return false;
        }
        buf = rest;
    }
    true
}

fn intern(
    names: &mut Vec<String>,
    ids: &mut HashMap<String, u32, foldhash::fast::RandomState>,
    s: &str,
) -> u32 {
    if let Some(&i) = ids.get(s) {
        return i;
    }
    let i = names.len() as u32;
    names.push(s.to_string());
    ids.insert(s.to_string(), i);
    i
}
