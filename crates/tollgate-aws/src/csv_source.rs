//! CSV and CSV.gz: one `csv::ByteRecord` at a time through a `BufReader` (and a gzip decoder),
//! so memory stays at one record whatever the file's size.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::schema::{self, ColumnMap, Row};
use crate::summary::{self, Groups, Quick, TagsSeen};
use crate::value::{parse_decimal, parse_tag_json, parse_timestamp};
use crate::{AwsError, Format};

/// Counts the bytes read from the file (compressed bytes for `.gz`), for progress.
pub(crate) struct Counting<R> {
    pub(crate) inner: R,
    pub(crate) count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

pub(crate) struct CsvSource {
    rdr: csv::Reader<Box<dyn Read + Send>>,
    record: csv::ByteRecord,
    map: ColumnMap,
    width: usize,
    /// The file as given, for errors.
    path: PathBuf,
}

impl CsvSource {
    /// Reads the header, detects the format and maps the columns.
    pub(crate) fn open(
        path: &Path,
        input: Box<dyn Read + Send>,
    ) -> Result<(CsvSource, Format), AwsError> {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .buffer_capacity(256 * 1024)
            .from_reader(input);
        let header = rdr.byte_headers().map_err(|e| csv_error(path, e))?.clone();
        let names: Vec<String> = header
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let s = String::from_utf8_lossy(h);
                let s = if i == 0 {
                    s.trim_start_matches('\u{feff}')
                } else {
                    &s
                };
                s.trim().to_string()
            })
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        if refs.iter().all(|n| n.is_empty()) {
            return Err(AwsError::WrongKind {
                file: path.to_path_buf(),
                reason: "the file is empty (no header line)".into(),
            });
        }
        let format = schema::detect(path, &refs)?;
        let map = ColumnMap::new(path, format, &refs)?;
        Ok((
            CsvSource {
                rdr,
                record: csv::ByteRecord::new(),
                map,
                width: names.len(),
                // As the report names it (the same text as before this was kept here).
                path: PathBuf::from(path.display().to_string()),
            },
            format,
        ))
    }

    /// The columns read, by header name.
    pub(crate) fn projection(&self) -> Vec<String> {
        self.map.fields.iter().map(|(_, _, n)| n.clone()).collect()
    }

    /// The next row: its line and what it is (or its fault). `None` at the end.
    pub(crate) fn next_row(
        &mut self,
        file: &str,
        skipped: &mut BTreeMap<String, u64>,
    ) -> schema::NextRow {
        let line = match self.read()? {
            Ok(Ok(line)) => line,
            Ok(Err((line, fault))) => return Some(Ok((line, Err(fault)))),
            Err(e) => return Some(Err(e)),
        };
        let mut row = CsvRow {
            rec: &self.record,
            map: &self.map,
        };
        Some(Ok((
            line,
            schema::normalise(&self.map, &mut row, file, line, skipped),
        )))
    }

    /// The next row through the quick path ([`summary::quick`]): a line it is sure of is added
    /// to `groups` ([`QuickRow::Done`]); any other goes through the normaliser.
    pub(crate) fn next_quick(
        &mut self,
        file: &str,
        skipped: &mut BTreeMap<String, u64>,
        groups: &mut Groups,
        tags: &mut TagsSeen,
    ) -> Option<Result<QuickRow, AwsError>> {
        let line = match self.read()? {
            Ok(Ok(line)) => line,
            Ok(Err((line, fault))) => return Some(Ok(QuickRow::Normalised(line, Err(fault)))),
            Err(e) => return Some(Err(e)),
        };
        let mut row = CsvRow {
            rec: &self.record,
            map: &self.map,
        };
        Some(Ok(
            match summary::quick(&self.map, &mut row, skipped, groups, tags) {
                Quick::Line => QuickRow::Done(true),
                Quick::Skipped => QuickRow::Done(false),
                Quick::Unsure => QuickRow::Normalised(
                    line,
                    schema::normalise(&self.map, &mut row, file, line, skipped),
                ),
            },
        ))
    }

    /// Reads the next record: its line, or a fault of the record as a whole (bad quoting, a
    /// wrong number of fields); `None` at the end.
    #[allow(clippy::type_complexity)]
    fn read(&mut self) -> Option<Result<Result<u64, (u64, schema::Fault)>, AwsError>> {
        match self.rdr.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Err(e) => {
                // A bad record (e.g. invalid quoting) is that row's fault; I/O is the file's.
                let line = e.position().map(|p| p.line());
                match (e.kind(), line) {
                    (csv::ErrorKind::Io(_), _) | (_, None) => Some(Err(AwsError::Csv {
                        file: self.path.clone(),
                        source: e,
                    })),
                    (_, Some(line)) => Some(Ok(Err((line, (None, e.to_string()))))),
                }
            }
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                if self.record.len() != self.width {
                    let msg = format!(
                        "{} field(s), the header has {}",
                        self.record.len(),
                        self.width
                    );
                    return Some(Ok(Err((line, (None, msg)))));
                }
                Some(Ok(Ok(line)))
            }
        }
    }
}

/// What [`CsvSource::next_quick`] made of a row.
pub(crate) enum QuickRow {
    /// Taken by the quick path: an API Gateway line (true, added to the groups) or another
    /// service's row (false, counted).
    Done(bool),
    /// The normaliser's outcome (or the record's fault), at this line.
    Normalised(u64, Result<schema::Outcome, schema::Fault>),
}

fn csv_error(path: &Path, e: csv::Error) -> AwsError {
    AwsError::Csv {
        file: path.to_path_buf(),
        source: e,
    }
}

struct CsvRow<'a> {
    rec: &'a csv::ByteRecord,
    map: &'a ColumnMap,
}

impl CsvRow<'_> {
    fn cell(&self, col: usize) -> Result<Option<&str>, String> {
        let raw = self.rec.get(col).unwrap_or_default();
        let s = std::str::from_utf8(raw).map_err(|_| "not valid UTF-8".to_string())?;
        let s = s.trim();
        Ok((!s.is_empty()).then_some(s))
    }
}

impl Row for CsvRow<'_> {
    fn text(&self, slot: usize) -> Result<Option<&str>, String> {
        self.cell(self.map.fields[slot].1)
    }

    fn number(&mut self, slot: usize) -> Result<Option<Decimal>, String> {
        self.text(slot)?.map(parse_decimal).transpose()
    }

    fn time(&self, slot: usize) -> Result<Option<i64>, String> {
        self.text(slot)?.map(parse_timestamp).transpose()
    }

    fn tag_map(&self, slot: usize, out: &mut BTreeMap<String, String>) -> Result<(), String> {
        match self.text(slot)? {
            Some(s) => parse_tag_json(s, out),
            None => Ok(()),
        }
    }

    fn tag_column(&self, i: usize) -> Result<Option<&str>, String> {
        self.cell(self.map.tag_columns[i].0)
    }

    fn category_column(&self, i: usize) -> Result<Option<&str>, String> {
        self.cell(self.map.category_columns[i].0)
    }
}
