//! Errors: every one names the file, and a malformed row names its line or row.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Format;

/// Where a row sits in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// CSV: the line the record starts on (the header is line 1).
    Line(u64),
    /// Parquet: the 1-based row number.
    Row(u64),
}

impl Location {
    /// The number, line or row.
    pub fn number(self) -> u64 {
        match self {
            Location::Line(n) | Location::Row(n) => n,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// A row that could not be read: a bad number or date, a wrong number of fields, a missing
/// required value. Counted, reported (the first N) and skipped, or fatal with `strict`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Malformed {
    /// The file, as given to the reader.
    pub file: String,
    /// Line (CSV) or row (Parquet).
    pub location: Location,
    /// The column at fault, when one is.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: ", self.file, self.location)?;
        if let Some(c) = &self.column {
            write!(f, "{c}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AwsError {
    /// The file could not be opened or read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a billing export tollgate reads (or is compressed in a way it does not).
    #[error("{}: not an AWS billing export tollgate can read: {reason}", file.display())]
    WrongKind {
        /// The file.
        file: PathBuf,
        /// What was found, and what was expected.
        reason: String,
    },
    /// The header or schema lacks columns the format requires.
    #[error("{}: {format} export is missing required column(s): {}", file.display(), missing.join(", "))]
    MissingColumns {
        /// The file.
        file: PathBuf,
        /// The detected format.
        format: Format,
        /// The missing columns (alternatives joined by ` or `).
        missing: Vec<String>,
    },
    /// The CSV layer failed in a way that is not one row's fault (e.g. an I/O error mid-file
    /// or a corrupt gzip stream).
    #[error("{}: reading CSV: {source}", file.display())]
    Csv {
        /// The file.
        file: PathBuf,
        /// The cause.
        #[source]
        source: csv::Error,
    },
    /// The Parquet layer failed (corrupt file, unsupported codec or type).
    #[error("{}: reading Parquet: {source}", file.display())]
    Parquet {
        /// The file.
        file: PathBuf,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A column has a Parquet type tollgate cannot read as the value it needs.
    #[error("{}: Parquet column `{column}`: {message}", file.display())]
    ColumnType {
        /// The file.
        file: PathBuf,
        /// The column path.
        column: String,
        /// What was found and expected.
        message: String,
    },
    /// In strict mode, a malformed row fails the whole file.
    #[error("{0} (strict mode: the whole file is rejected)")]
    Strict(Malformed),
}
