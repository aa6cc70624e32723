//! Reads AWS's billing exports — legacy Cost and Usage Reports, CUR 2.0 and FOCUS, as CSV,
//! CSV.gz or Parquet — and turns their API Gateway lines into [`BillLine`]s, streaming with
//! bounded memory.
//!
//! - [`BillReader::open`] detects the container from the file's first bytes and the format
//!   from its header or schema, checks the required columns (naming the missing ones) and
//!   then iterates the file's API Gateway lines one at a time. Other services' rows are
//!   counted by product code and skipped; malformed rows are counted, reported with their file
//!   and line (or Parquet row) and skipped, or fail the file in strict mode.
//! - Parquet is read row group by row group, only the needed columns (see
//!   [`BillReader::projection`]).
//! - [`BillReader::sum_groups`] sums the lines by [`GroupKey`] (account, region, meter,
//!   currency) without building a [`BillLine`] per line — the same sums and report as
//!   iterating, faster: Parquet through arrow dictionary arrays with row groups on all cores,
//!   CSV through a quick path of the normaliser's checks. `.csv.gz` is inflated on a second
//!   thread either way.
//! - [`Totals`] sums lines by meter, account, region, line item type and tag.
//!
//! Imported lines are AWS's own charges: they carry the bill's unblended cost and are kept
//! apart from the usage tollgate meters itself. See docs/aws-import.md.

#![warn(missing_docs)]

pub mod access_log;
mod csv_source;
mod error;
mod inflate;
mod line;
mod parquet_fast;
mod parquet_source;
mod reader;
mod report;
mod schema;
mod summary;
pub mod usage_type;
pub mod value;

pub use access_log::{
    read_access_log, AccessLogError, AccessLogMeter, AccessLogReport, ApiType, FieldMap,
    MeterOptions, ReadSettings,
};
pub use error::{AwsError, Location, Malformed};
pub use line::{BillLine, Container, Format, LineItemType};
pub use reader::{read_file, BillReader, Progress, ReadOptions};
pub use report::{meter_key, ReadReport, Sum, Totals};
pub use summary::GroupKey;
