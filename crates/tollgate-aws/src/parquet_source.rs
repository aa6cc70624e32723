//! Parquet: row group by row group, in batches of rows, through the `parquet` crate's typed
//! column readers — only the columns the normaliser needs are opened (projection), so the
//! other column chunks are never read or decompressed.
//!
//! Why column readers and not the record API or arrow: the record API builds a `Row` of boxed
//! `Field`s per row for every projected column (slow, allocation-heavy), and arrow would double
//! the build for arrays we would immediately turn back into rows. Column readers hand us plain
//! `Vec<f64>` / `Vec<ByteArray>` batches plus definition and repetition levels, which is all the
//! normaliser needs (including the `resource_tags` map: two leaves, key and value).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as PhysicalType};
use parquet::column::reader::ColumnReader;
use parquet::data_type::{ByteArray, FixedLenByteArray, Int96};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::ColumnDescPtr;
use rust_decimal::Decimal;

use crate::schema::{self, ColumnMap, Kind, Row};
use crate::value::{decimal_from_f64, parse_decimal, parse_tag_json, parse_timestamp};
use crate::{AwsError, Format};

/// Rows decoded per batch: bounds memory to a batch of the projected columns.
const BATCH: usize = 8192;

enum Vals {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    I96(Vec<Int96>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<ByteArray>),
    Fixed(Vec<FixedLenByteArray>),
}

/// One leaf column: its reader for the current row group and the current batch.
struct Leaf {
    /// The leaf's index among the file's columns.
    col: usize,
    descr: ColumnDescPtr,
    reader: Option<ColumnReader>,
    def: Vec<i16>,
    rep: Vec<i16>,
    vals: Vals,
    /// Flat leaves: per row, the index into `vals`, or `NULL`.
    idx: Vec<u32>,
}

const NULL: u32 = u32::MAX;

impl Leaf {
    fn new(col: usize, descr: ColumnDescPtr) -> Leaf {
        let vals = match descr.physical_type() {
            PhysicalType::BOOLEAN => Vals::Bool(Vec::new()),
            PhysicalType::INT32 => Vals::I32(Vec::new()),
            PhysicalType::INT64 => Vals::I64(Vec::new()),
            PhysicalType::INT96 => Vals::I96(Vec::new()),
            PhysicalType::FLOAT => Vals::F32(Vec::new()),
            PhysicalType::DOUBLE => Vals::F64(Vec::new()),
            PhysicalType::BYTE_ARRAY => Vals::Bytes(Vec::new()),
            PhysicalType::FIXED_LEN_BYTE_ARRAY => Vals::Fixed(Vec::new()),
        };
        Leaf {
            col,
            descr,
            reader: None,
            def: Vec::new(),
            rep: Vec::new(),
            vals,
            idx: Vec::new(),
        }
    }

    fn path(&self) -> String {
        self.descr.path().string()
    }

    /// Reads up to `n` records; returns how many.
    fn read(&mut self, n: usize) -> parquet::errors::Result<usize> {
        self.def.clear();
        self.rep.clear();
        macro_rules! read {
            ($r:expr, $v:expr) => {{
                $v.clear();
                $r.read_records(n, Some(&mut self.def), Some(&mut self.rep), $v)?
                    .0
            }};
        }
        let records = match (self.reader.as_mut(), &mut self.vals) {
            (Some(ColumnReader::BoolColumnReader(r)), Vals::Bool(v)) => read!(r, v),
            (Some(ColumnReader::Int32ColumnReader(r)), Vals::I32(v)) => read!(r, v),
            (Some(ColumnReader::Int64ColumnReader(r)), Vals::I64(v)) => read!(r, v),
            (Some(ColumnReader::Int96ColumnReader(r)), Vals::I96(v)) => read!(r, v),
            (Some(ColumnReader::FloatColumnReader(r)), Vals::F32(v)) => read!(r, v),
            (Some(ColumnReader::DoubleColumnReader(r)), Vals::F64(v)) => read!(r, v),
            (Some(ColumnReader::ByteArrayColumnReader(r)), Vals::Bytes(v)) => read!(r, v),
            (Some(ColumnReader::FixedLenByteArrayColumnReader(r)), Vals::Fixed(v)) => read!(r, v),
            _ => 0,
        };
        if self.descr.max_rep_level() == 0 {
            let max = self.descr.max_def_level();
            self.idx.clear();
            if max == 0 {
                self.idx.extend(0..records as u32);
            } else {
                let mut next = 0u32;
                for &d in &self.def[..records] {
                    if d == max {
                        self.idx.push(next);
                        next += 1;
                    } else {
                        self.idx.push(NULL);
                    }
                }
            }
        }
        Ok(records)
    }
}

/// How a field's value is laid out.
enum Layout {
    Flat(usize),
    /// A `MAP<string,string>`: key leaf, value leaf.
    Map(usize, usize),
}

pub(crate) struct ParquetSource {
    reader: SerializedFileReader<File>,
    map: ColumnMap,
    leaves: Vec<Leaf>,
    /// Per field slot, its layout; then per flat tag column.
    layouts: Vec<Layout>,
    tag_layouts: Vec<usize>,
    category_layouts: Vec<usize>,
    row_group: usize,
    /// Rows in the current batch, the next row in it, and the row number before the batch.
    batch_rows: usize,
    pos: usize,
    rows_before: u64,
    /// Per field slot (empty but for map columns): per row of the batch, where the map's
    /// levels, keys and values start (plus one end entry).
    map_starts: Vec<Vec<(usize, usize, usize)>>,
    bytes_done: u64,
    num_buf: String,
    /// Row groups from `row_group` up to (not including) this one are read.
    end: usize,
}

fn pq(path: &Path, e: parquet::errors::ParquetError) -> AwsError {
    AwsError::Parquet {
        file: path.to_path_buf(),
        source: e,
    }
}

impl ParquetSource {
    pub(crate) fn open(path: &Path, file: File) -> Result<(ParquetSource, Format), AwsError> {
        let reader = SerializedFileReader::new(file).map_err(|e| pq(path, e))?;
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let top: Vec<String> = schema
            .root_schema()
            .get_fields()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        let refs: Vec<&str> = top.iter().map(String::as_str).collect();
        let format = schema::detect(path, &refs)?;
        let map = ColumnMap::new(path, format, &refs)?;

        let leaves_of = |name: &str| -> Vec<usize> {
            (0..schema.num_columns())
                .filter(|&i| {
                    schema.column(i).path().parts().first().map(String::as_str) == Some(name)
                })
                .collect()
        };
        let mut leaves: Vec<Leaf> = Vec::new();
        let mut add_leaf = |i: usize| -> usize {
            leaves.push(Leaf::new(i, schema.column(i)));
            leaves.len() - 1
        };
        let type_err = |column: &str, message: String| AwsError::ColumnType {
            file: path.to_path_buf(),
            column: column.to_string(),
            message,
        };
        let mut layouts = Vec::new();
        for (field, _, name) in &map.fields {
            let cols = leaves_of(name);
            let layout = match (cols.as_slice(), field.kind()) {
                ([i], kind) if schema.column(*i).max_rep_level() == 0 => {
                    check_type(&schema.column(*i), kind).map_err(|m| type_err(name, m))?;
                    Layout::Flat(add_leaf(*i))
                }
                ([k, v], Kind::Map)
                    if schema.column(*k).max_rep_level() == 1
                        && schema.column(*v).max_rep_level() == 1 =>
                {
                    for c in [k, v] {
                        check_type(&schema.column(*c), Kind::Text)
                            .map_err(|m| type_err(name, m))?;
                    }
                    Layout::Map(add_leaf(*k), add_leaf(*v))
                }
                _ => {
                    return Err(type_err(
                        name,
                        format!(
                            "expected a {} column, found {} nested leaf column(s)",
                            match field.kind() {
                                Kind::Map => "flat string or MAP<string,string>",
                                _ => "flat",
                            },
                            cols.len()
                        ),
                    ))
                }
            };
            layouts.push(layout);
        }
        let mut flat = |columns: &[(usize, String)]| -> Result<Vec<usize>, AwsError> {
            let mut out = Vec::new();
            for (top_index, _) in columns {
                let name = &top[*top_index];
                match leaves_of(name).as_slice() {
                    [i] if schema.column(*i).max_rep_level() == 0 => {
                        check_type(&schema.column(*i), Kind::Text)
                            .map_err(|m| type_err(name, m))?;
                        out.push(add_leaf(*i));
                    }
                    _ => return Err(type_err(name, "expected a flat string column".into())),
                }
            }
            Ok(out)
        };
        let tag_layouts = flat(&map.tag_columns)?;
        let category_layouts = flat(&map.category_columns)?;
        let map_starts = (0..layouts.len()).map(|_| Vec::new()).collect();
        Ok((
            ParquetSource {
                reader,
                map,
                leaves,
                layouts,
                tag_layouts,
                category_layouts,
                row_group: 0,
                batch_rows: 0,
                pos: 0,
                rows_before: 0,
                map_starts,
                bytes_done: 0,
                num_buf: String::new(),
                end: usize::MAX,
            },
            format,
        ))
    }

    /// True before the first row was read.
    pub(crate) fn is_fresh(&self) -> bool {
        self.row_group == 0 && self.batch_rows == 0
    }

    /// The column map (which column holds which field).
    pub(crate) fn map(&self) -> &ColumnMap {
        &self.map
    }

    /// A new reader of the same file for row groups `from..to` only, numbering rows as in the
    /// whole file.
    pub(crate) fn part(
        &self,
        path: &Path,
        from: usize,
        to: usize,
    ) -> Result<ParquetSource, AwsError> {
        let file = File::open(path).map_err(|source| AwsError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        let (mut part, _) = ParquetSource::open(path, file)?;
        let md = part.reader.metadata();
        part.rows_before = (0..from.min(md.num_row_groups()))
            .map(|i| md.row_group(i).num_rows().max(0) as u64)
            .sum();
        part.row_group = from;
        part.end = to;
        Ok(part)
    }

    /// The leaf columns read (dotted paths, e.g. `resource_tags.key_value.key`): the
    /// projection. Every other column chunk of the file is skipped.
    pub(crate) fn projection(&self) -> Vec<String> {
        self.leaves.iter().map(Leaf::path).collect()
    }

    /// Compressed bytes of the row groups finished so far.
    pub(crate) fn bytes_done(&self) -> u64 {
        self.bytes_done
    }

    /// Loads the next batch; false at the end of the file.
    fn fill(&mut self, path: &Path) -> Result<bool, AwsError> {
        loop {
            if self.leaves.first().is_some_and(|l| l.reader.is_some()) {
                let mut n = None;
                for leaf in &mut self.leaves {
                    let got = leaf.read(BATCH).map_err(|e| pq(path, e))?;
                    match n {
                        None => n = Some(got),
                        Some(m) if m != got => {
                            return Err(pq(
                                path,
                                parquet::errors::ParquetError::General(format!(
                                    "column {} has {got} rows where others have {m}",
                                    leaf.path()
                                )),
                            ))
                        }
                        Some(_) => {}
                    }
                }
                let n = n.unwrap_or(0);
                if n > 0 {
                    self.rows_before += self.batch_rows as u64;
                    self.batch_rows = n;
                    self.pos = 0;
                    self.index_maps();
                    return Ok(true);
                }
                // Row group done.
                let md = self.reader.metadata().row_group(self.row_group - 1);
                self.bytes_done += md.compressed_size() as u64;
                for leaf in &mut self.leaves {
                    leaf.reader = None;
                }
            }
            if self.row_group >= self.reader.num_row_groups().min(self.end) {
                return Ok(false);
            }
            let rg = self
                .reader
                .get_row_group(self.row_group)
                .map_err(|e| pq(path, e))?;
            for leaf in &mut self.leaves {
                leaf.reader = Some(rg.get_column_reader(leaf.col).map_err(|e| pq(path, e))?);
            }
            self.row_group += 1;
            if self.leaves.is_empty() {
                return Ok(false);
            }
        }
    }

    /// Level offsets of each row for each map column (tags, cost categories).
    fn index_maps(&mut self) {
        for (slot, layout) in self.layouts.iter().enumerate() {
            let starts = &mut self.map_starts[slot];
            starts.clear();
            let &Layout::Map(k, v) = layout else {
                continue;
            };
            let (kl, vl) = (&self.leaves[k], &self.leaves[v]);
            let (kmax, vmax) = (kl.descr.max_def_level(), vl.descr.max_def_level());
            let (mut ki, mut vi) = (0, 0);
            for (p, &r) in kl.rep.iter().enumerate() {
                if r == 0 {
                    starts.push((p, ki, vi));
                }
                ki += usize::from(kl.def[p] == kmax);
                vi += usize::from(vl.def.get(p) == Some(&vmax));
            }
            starts.push((kl.rep.len(), ki, vi));
        }
    }

    pub(crate) fn next_row(
        &mut self,
        path: &Path,
        file: &str,
        skipped: &mut BTreeMap<String, u64>,
    ) -> schema::NextRow {
        if self.pos >= self.batch_rows {
            match self.fill(path) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
        let r = self.pos;
        self.pos += 1;
        let line = self.rows_before + r as u64 + 1;
        let mut num_buf = std::mem::take(&mut self.num_buf);
        let mut row = PqRow {
            src: self,
            r,
            num_buf: &mut num_buf,
        };
        let out = schema::normalise(&self.map, &mut row, file, line, skipped);
        self.num_buf = num_buf;
        Some(Ok((line, out)))
    }
}

/// Checks at open that a column's type can give the value a field needs.
fn check_type(d: &ColumnDescPtr, kind: Kind) -> Result<(), String> {
    let p = d.physical_type();
    let ok = match kind {
        Kind::Text | Kind::Map => p == PhysicalType::BYTE_ARRAY,
        Kind::Number => matches!(
            p,
            PhysicalType::DOUBLE
                | PhysicalType::FLOAT
                | PhysicalType::INT32
                | PhysicalType::INT64
                | PhysicalType::BYTE_ARRAY
                | PhysicalType::FIXED_LEN_BYTE_ARRAY
        ),
        Kind::Time => matches!(
            p,
            PhysicalType::INT64
                | PhysicalType::INT96
                | PhysicalType::INT32
                | PhysicalType::BYTE_ARRAY
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "physical type {p} cannot hold {}",
            match kind {
                Kind::Text | Kind::Map => "text",
                Kind::Number => "a number",
                Kind::Time => "a timestamp",
            }
        ))
    }
}

struct PqRow<'a> {
    src: &'a ParquetSource,
    r: usize,
    num_buf: &'a mut String,
}

impl PqRow<'_> {
    fn flat(&self, slot: usize) -> Option<(&Leaf, usize)> {
        match self.src.layouts[slot] {
            Layout::Flat(l) => self.leaf_value(l),
            Layout::Map(..) => None,
        }
    }

    fn leaf_value(&self, l: usize) -> Option<(&Leaf, usize)> {
        let leaf = &self.src.leaves[l];
        match leaf.idx.get(self.r) {
            Some(&i) if i != NULL => Some((leaf, i as usize)),
            _ => None,
        }
    }
}

fn utf8(b: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(b).map_err(|_| "not valid UTF-8".to_string())
}

fn bytes_text(leaf: &Leaf, i: usize) -> Result<Option<&str>, String> {
    match &leaf.vals {
        Vals::Bytes(v) => {
            let s = utf8(v[i].data())?.trim();
            Ok((!s.is_empty()).then_some(s))
        }
        _ => Err("not a string column".into()),
    }
}

/// Big-endian two's-complement unscaled decimal bytes.
fn decimal_from_be(b: &[u8], scale: i32) -> Result<Decimal, String> {
    if b.len() > 16 {
        return Err("decimal wider than 128 bits".into());
    }
    let mut v: i128 = if b.first().is_some_and(|x| x & 0x80 != 0) {
        -1
    } else {
        0
    };
    for &x in b {
        v = (v << 8) | i128::from(x);
    }
    Decimal::try_from_i128_with_scale(v, scale.max(0) as u32).map_err(|e| e.to_string())
}

impl Row for PqRow<'_> {
    fn text(&self, slot: usize) -> Result<Option<&str>, String> {
        match self.flat(slot) {
            Some((leaf, i)) => bytes_text(leaf, i),
            None => Ok(None),
        }
    }

    fn number(&mut self, slot: usize) -> Result<Option<Decimal>, String> {
        let Some((leaf, i)) = self.flat(slot) else {
            return Ok(None);
        };
        let scale = match leaf.descr.logical_type_ref() {
            Some(LogicalType::Decimal(d)) => Some(d.scale),
            _ if leaf.descr.converted_type() == ConvertedType::DECIMAL => {
                Some(leaf.descr.type_scale())
            }
            _ => None,
        };
        let d = match (&leaf.vals, scale) {
            (Vals::F64(v), _) => decimal_from_f64(v[i], self.num_buf)?,
            (Vals::F32(v), _) => decimal_from_f64(f64::from(v[i]), self.num_buf)?,
            (Vals::I32(v), Some(s)) => Decimal::new(i64::from(v[i]), s.max(0) as u32),
            (Vals::I64(v), Some(s)) => Decimal::new(v[i], s.max(0) as u32),
            (Vals::I32(v), None) => Decimal::from(v[i]),
            (Vals::I64(v), None) => Decimal::from(v[i]),
            (Vals::Bytes(v), Some(s)) => decimal_from_be(v[i].data(), s)?,
            (Vals::Fixed(v), Some(s)) => decimal_from_be(v[i].data(), s)?,
            (Vals::Bytes(v), None) => {
                let s = utf8(v[i].data())?.trim();
                if s.is_empty() {
                    return Ok(None);
                }
                parse_decimal(s)?
            }
            _ => return Err("not a number column".into()),
        };
        Ok(Some(d))
    }

    fn time(&self, slot: usize) -> Result<Option<i64>, String> {
        let Some((leaf, i)) = self.flat(slot) else {
            return Ok(None);
        };
        let unit_div = match leaf.descr.logical_type_ref() {
            Some(LogicalType::Timestamp(t)) => Some(match t.unit {
                TimeUnit::MILLIS => 1_000,
                TimeUnit::MICROS => 1_000_000,
                TimeUnit::NANOS => 1_000_000_000,
            }),
            Some(LogicalType::Date) => Some(-1),
            _ => match leaf.descr.converted_type() {
                ConvertedType::TIMESTAMP_MILLIS => Some(1_000),
                ConvertedType::TIMESTAMP_MICROS => Some(1_000_000),
                ConvertedType::DATE => Some(-1),
                _ => None,
            },
        };
        let t = match (&leaf.vals, unit_div) {
            (Vals::I64(v), Some(div)) if div > 0 => v[i].div_euclid(div),
            (Vals::I32(v), Some(-1)) => i64::from(v[i]) * 86_400,
            (Vals::I96(v), _) => v[i].to_seconds(),
            (Vals::Bytes(v), _) => {
                let s = utf8(v[i].data())?.trim();
                if s.is_empty() {
                    return Ok(None);
                }
                parse_timestamp(s)?
            }
            _ => return Err("not a timestamp column (no TIMESTAMP/DATE annotation)".into()),
        };
        Ok(Some(t))
    }

    fn tag_map(&self, slot: usize, out: &mut BTreeMap<String, String>) -> Result<(), String> {
        match self.src.layouts[slot] {
            Layout::Flat(_) => match self.text(slot)? {
                Some(s) => parse_tag_json(s, out),
                None => Ok(()),
            },
            Layout::Map(k, v) => {
                let (kl, vl) = (&self.src.leaves[k], &self.src.leaves[v]);
                let (Vals::Bytes(keys), Vals::Bytes(vals)) = (&kl.vals, &vl.vals) else {
                    return Err("map keys and values must be strings".into());
                };
                // Keys and values are stored only where present: `map_starts` says where this
                // row's levels, keys and values begin.
                let starts = &self.src.map_starts[slot];
                let (Some(&(lo, mut ki, mut vi)), Some(&(hi, _, _))) =
                    (starts.get(self.r), starts.get(self.r + 1))
                else {
                    return Err("map column levels do not match the rows".into());
                };
                let (kmax, vmax) = (kl.descr.max_def_level(), vl.descr.max_def_level());
                for p in lo..hi {
                    let key = if kl.def.get(p) == Some(&kmax) {
                        ki += 1;
                        keys.get(ki - 1)
                    } else {
                        None
                    };
                    let val = if vl.def.get(p) == Some(&vmax) {
                        vi += 1;
                        vals.get(vi - 1)
                    } else {
                        None
                    };
                    if let (Some(key), Some(val)) = (key, val) {
                        let val = utf8(val.data())?;
                        if !val.is_empty() {
                            let key = crate::value::tag_key(utf8(key.data())?);
                            out.insert(key.to_string(), val.to_string());
                        }
                    }
                }
                Ok(())
            }
        }
    }

    fn tag_column(&self, i: usize) -> Result<Option<&str>, String> {
        match self.leaf_value(self.src.tag_layouts[i]) {
            Some((leaf, i)) => bytes_text(leaf, i),
            None => Ok(None),
        }
    }

    fn category_column(&self, i: usize) -> Result<Option<&str>, String> {
        match self.leaf_value(self.src.category_layouts[i]) {
            Some((leaf, i)) => bytes_text(leaf, i),
            None => Ok(None),
        }
    }
}
