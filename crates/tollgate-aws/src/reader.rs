//! [`BillReader`]: opens a file, detects container and format, and streams bill lines.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use std::collections::BTreeMap;

use crate::csv_source::{Counting, CsvSource, QuickRow};
use crate::inflate::Inflated;
use crate::parquet_source::ParquetSource;
use crate::schema::{Fault, Outcome};
use crate::summary::{GroupKey, Groups, TagsSeen};
use crate::{AwsError, BillLine, Container, Format, Location, Malformed, ReadReport, Sum};

/// How to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// A malformed row fails the whole file ([`AwsError::Strict`]) instead of being skipped.
    pub strict: bool,
    /// How many malformed rows the report keeps (all are counted). Default 20.
    pub max_reported: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            strict: false,
            max_reported: 20,
        }
    }
}

/// Where a read is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the file consumed so far (compressed bytes for `.gz`; finished row groups for
    /// Parquet).
    pub bytes: u64,
    /// The file's size in bytes.
    pub total_bytes: u64,
    /// Data rows read so far.
    pub rows: u64,
}

/// How often (in rows) the progress callback runs.
const PROGRESS_EVERY: u64 = 16_384;

enum Source {
    Csv(CsvSource, Arc<AtomicU64>),
    Parquet(ParquetSource),
}

/// A streaming reader of one billing export: an iterator of API Gateway [`BillLine`]s.
///
/// Other services' rows are counted and skipped; malformed rows are counted, the first
/// [`ReadOptions::max_reported`] kept in the [`ReadReport`], and skipped. With
/// [`ReadOptions::strict`], the first malformed row ends the iteration with
/// [`AwsError::Strict`]: the caller must then discard what it took from this file (the ledger
/// import does the whole file in one transaction). [`read_file`] does that for you.
///
/// ```no_run
/// use tollgate_aws::{BillReader, ReadOptions};
///
/// let mut reader = BillReader::open("cur-2026-09.parquet", &ReadOptions::default())?;
/// for line in &mut reader {
///     let line = line?;
///     println!("{} {} {}", line.account, line.usage_type, line.unblended_cost);
/// }
/// let report = reader.finish();
/// println!("{} malformed, {} other services", report.malformed_count, report.skipped());
/// # Ok::<(), tollgate_aws::AwsError>(())
/// ```
pub struct BillReader {
    path: PathBuf,
    opts: ReadOptions,
    report: ReadReport,
    source: Source,
    total_bytes: u64,
    progress: Option<Box<dyn FnMut(Progress) + Send>>,
    done: bool,
}

impl std::fmt::Debug for BillReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillReader")
            .field("path", &self.path)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl BillReader {
    /// Opens `path`, detects its container from its first bytes (gzip, Parquet, else CSV) and
    /// its format from its header or schema, and checks the required columns.
    pub fn open(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<BillReader, AwsError> {
        let path = path.as_ref();
        let io = |source| AwsError::Io {
            file: path.to_path_buf(),
            source,
        };
        let mut f = File::open(path).map_err(io)?;
        let total_bytes = f.metadata().map_err(io)?.len();
        let mut magic = [0u8; 4];
        let n = read_up_to(&mut f, &mut magic).map_err(io)?;
        f.seek(SeekFrom::Start(0)).map_err(io)?;
        let magic = &magic[..n];
        let (container, source, format) = if magic == b"PAR1" {
            let (src, format) = ParquetSource::open(path, f)?;
            (Container::Parquet, Source::Parquet(src), format)
        } else if magic.starts_with(&[0x1f, 0x8b]) {
            let count = Arc::new(AtomicU64::new(0));
            let counted = Counting {
                inner: BufReader::with_capacity(256 * 1024, f),
                count: count.clone(),
            };
            let gz = flate2::read::MultiGzDecoder::new(counted);
            // Inflate on a second thread where one can be started.
            let input: Box<dyn Read + Send> = match Inflated::spawn(gz) {
                Ok(inflated) => Box::new(inflated),
                Err(gz) => Box::new(gz),
            };
            let (src, format) = CsvSource::open(path, input)?;
            (Container::CsvGz, Source::Csv(src, count), format)
        } else if magic.starts_with(b"PK\x03\x04") {
            return Err(AwsError::WrongKind {
                file: path.to_path_buf(),
                reason: "a ZIP archive: unzip it first and import the CSV inside".into(),
            });
        } else if n > 0 && magic.iter().any(|b| *b == 0 || (*b < 0x09)) {
            return Err(AwsError::WrongKind {
                file: path.to_path_buf(),
                reason: "binary data: expected CSV text, gzip-compressed CSV or Parquet".into(),
            });
        } else {
            let count = Arc::new(AtomicU64::new(0));
            let counted = Counting {
                inner: f,
                count: count.clone(),
            };
            let (src, format) = CsvSource::open(path, Box::new(counted))?;
            (Container::Csv, Source::Csv(src, count), format)
        };
        Ok(BillReader {
            path: path.to_path_buf(),
            opts: opts.clone(),
            report: ReadReport {
                file: path.display().to_string(),
                format,
                container,
                rows: 0,
                lines: 0,
                skipped_by_service: Default::default(),
                malformed_count: 0,
                malformed: Vec::new(),
            },
            source,
            total_bytes,
            progress: None,
            done: false,
        })
    }

    /// The detected format.
    pub fn format(&self) -> Format {
        self.report.format
    }

    /// The detected container.
    pub fn container(&self) -> Container {
        self.report.container
    }

    /// The columns actually read: header names for CSV; leaf column paths for Parquet (e.g.
    /// `resource_tags.key_value.key`), whose other column chunks are never read.
    pub fn projection(&self) -> Vec<String> {
        match &self.source {
            Source::Csv(s, _) => s.projection(),
            Source::Parquet(s) => s.projection(),
        }
    }

    /// Calls `f` every few thousand rows and at the end, e.g. to drive a progress bar.
    pub fn on_progress(&mut self, f: impl FnMut(Progress) + Send + 'static) {
        self.progress = Some(Box::new(f));
    }

    /// The report so far.
    pub fn report(&self) -> &ReadReport {
        &self.report
    }

    /// Ends the read and returns its report.
    pub fn finish(self) -> ReadReport {
        self.report
    }

    fn tick(&mut self, end: bool) {
        if let Some(p) = self.progress.as_mut() {
            let bytes = if end {
                self.total_bytes
            } else {
                match &self.source {
                    Source::Csv(_, c) => c.load(Ordering::Relaxed),
                    Source::Parquet(s) => s.bytes_done(),
                }
            };
            p(Progress {
                bytes: bytes.min(self.total_bytes),
                total_bytes: self.total_bytes,
                rows: self.report.rows,
            });
        }
    }

    fn malformed(&self, location: Location, fault: Fault) -> Malformed {
        Malformed {
            file: self.report.file.clone(),
            location,
            column: fault.0,
            message: fault.1,
        }
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

impl BillReader {
    /// Counts one row and its outcome as the iterator reports it: a line to hand out, nothing
    /// (skipped, or malformed and kept in the report), or the strict-mode error.
    fn take(
        &mut self,
        n: u64,
        outcome: Result<Outcome, Fault>,
    ) -> Result<Option<BillLine>, AwsError> {
        self.report.rows += 1;
        if self.report.rows % PROGRESS_EVERY == 0 {
            self.tick(false);
        }
        match outcome {
            Ok(Outcome::Line(line)) => {
                self.report.lines += 1;
                Ok(Some(*line))
            }
            Ok(Outcome::Skipped) => Ok(None),
            Err(fault) => {
                let location = match self.report.container {
                    Container::Parquet => Location::Row(n),
                    _ => Location::Line(n),
                };
                let m = self.malformed(location, fault);
                self.report.malformed_count += 1;
                if self.opts.strict {
                    self.done = true;
                    return Err(AwsError::Strict(m));
                }
                if self.report.malformed.len() < self.opts.max_reported {
                    self.report.malformed.push(m);
                }
                Ok(None)
            }
        }
    }

    /// Reads the rest of the file and sums its API Gateway lines by [`GroupKey`] (account,
    /// region, meter, currency): the same lines, sums and report (rows, skipped services,
    /// malformed rows, strict-mode error) as iterating and adding up each line's
    /// [`GroupKey::of`], usage and cost — only faster, as no [`BillLine`] is built for a line
    /// that needs none: CSV rows go through a quick path, Parquet files are read as arrow
    /// dictionary arrays with row groups on all cores.
    pub fn sum_groups(&mut self) -> Result<BTreeMap<GroupKey, Sum>, AwsError> {
        let mut groups = Groups::default();
        if self.done {
            return Ok(groups.into_map());
        }
        let fresh_parquet = matches!(&self.source, Source::Parquet(s) if s.is_fresh());
        if fresh_parquet {
            crate::parquet_fast::sum_groups(self, &mut groups)?;
        } else if matches!(self.source, Source::Csv(..)) {
            self.sum_csv(&mut groups)?;
        }
        // Whatever is left (or all of it): line by line.
        for line in self.by_ref() {
            groups.add_line(&line?);
        }
        Ok(groups.into_map())
    }

    fn sum_csv(&mut self, groups: &mut Groups) -> Result<(), AwsError> {
        let mut tags = TagsSeen::default();
        loop {
            let Source::Csv(s, _) = &mut self.source else {
                return Ok(());
            };
            let step = s.next_quick(
                &self.report.file,
                &mut self.report.skipped_by_service,
                groups,
                &mut tags,
            );
            match step {
                None => {
                    self.done = true;
                    self.tick(true);
                    return Ok(());
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Some(Ok(QuickRow::Done(line))) => {
                    self.report.rows += 1;
                    self.report.lines += u64::from(line);
                    if self.report.rows % PROGRESS_EVERY == 0 {
                        self.tick(false);
                    }
                }
                Some(Ok(QuickRow::Normalised(n, outcome))) => {
                    if let Some(line) = self.take(n, outcome)? {
                        groups.add_line(&line);
                    }
                }
            }
        }
    }

    /// The Parquet source, for the arrow path.
    pub(crate) fn parquet_parts(&mut self) -> Option<(&Path, &mut ParquetSource, &mut ReadReport)> {
        match &mut self.source {
            Source::Parquet(s) => Some((&self.path, s, &mut self.report)),
            Source::Csv(..) => None,
        }
    }

    /// Reads row groups `from..to` of the Parquet file line by line (the column-reader path),
    /// adding the lines to `groups`; the report and strict mode as the iterator does them.
    pub(crate) fn sum_row_groups_slowly(
        &mut self,
        from: usize,
        to: usize,
        groups: &mut Groups,
    ) -> Result<(), AwsError> {
        let Source::Parquet(s) = &mut self.source else {
            return Ok(());
        };
        let part = s.part(&self.path, from, to)?;
        let whole = std::mem::replace(s, part);
        // The part's own progress would jump (its end is not the file's): no ticks meanwhile.
        let progress = self.progress.take();
        let result = (|| {
            for line in self.by_ref() {
                groups.add_line(&line?);
            }
            Ok(())
        })();
        if let Source::Parquet(s) = &mut self.source {
            *s = whole;
        }
        self.progress = progress;
        self.done = result.is_err();
        result
    }

    /// The progress callback, for the arrow path's workers (with the file's size).
    #[allow(clippy::type_complexity)]
    pub(crate) fn progress_parts(
        &mut self,
    ) -> (u64, Option<&mut (dyn FnMut(Progress) + Send + 'static)>) {
        (self.total_bytes, self.progress.as_deref_mut())
    }

    /// Marks the read finished (the arrow path read everything).
    pub(crate) fn set_done(&mut self) {
        self.done = true;
        self.tick(true);
    }
}

impl Iterator for BillReader {
    type Item = Result<BillLine, AwsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let next = match &mut self.source {
                Source::Csv(s, _) => {
                    s.next_row(&self.report.file, &mut self.report.skipped_by_service)
                }
                Source::Parquet(s) => s.next_row(
                    &self.path,
                    &self.report.file,
                    &mut self.report.skipped_by_service,
                ),
            };
            let (n, outcome) = match next {
                None => {
                    self.done = true;
                    self.tick(true);
                    return None;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(x)) => x,
            };
            match self.take(n, outcome) {
                Ok(Some(line)) => return Some(Ok(line)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// Reads a whole file into memory: the lines and the report. With `strict`, a malformed row
/// fails the file and no line is returned. For large files prefer iterating a [`BillReader`].
pub fn read_file(
    path: impl AsRef<Path>,
    opts: &ReadOptions,
) -> Result<(Vec<BillLine>, ReadReport), AwsError> {
    let mut reader = BillReader::open(path, opts)?;
    let mut lines = Vec::new();
    for l in &mut reader {
        lines.push(l?);
    }
    Ok((lines, reader.finish()))
}
