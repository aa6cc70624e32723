//! Which of a store's two kinds of data an analysis reads (`--data`, `data=` on the admin
//! API): usage the gateway metered (or `tollgate aws access-logs` metered from AWS's logs),
//! priced by the catalog; or imported AWS bill lines (`tollgate aws import`) at the bill's
//! own cost. By default (`auto`) metered usage when the store holds any in the period read,
//! else the imported bill when it holds lines there: after `tollgate aws import`, the cost
//! commands work on the store as it is.

use clap::ValueEnum;
use tollgate_meter::{Ledger, LedgerError};
use tollgate_store::{BillLedger, OpenMode, StoreUrl};
use tollgate_types::usage::UsageQuery;

/// `--data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum DataChoice {
    /// Metered usage when the store has any in the period, else imported bill lines.
    #[default]
    Auto,
    /// Usage the gateway (or an access-log import) metered, priced by the catalog.
    Metered,
    /// Imported AWS bill lines, at the bill's unblended cost.
    Bill,
}

impl DataChoice {
    /// Parses the admin API's `data=` value.
    pub fn parse(s: &str) -> Result<DataChoice, String> {
        <DataChoice as ValueEnum>::from_str(s, false)
            .map_err(|_| format!("data: `{s}`: expected auto, metered or bill"))
    }
}

/// The data an analysis reads.
pub enum Data {
    Metered(Box<dyn Ledger>),
    Bill(Box<dyn BillLedger>),
}

impl Data {
    /// `metered` or `bill`, as in JSON outputs.
    pub fn name(&self) -> &'static str {
        match self {
            Data::Metered(_) => "metered",
            Data::Bill(_) => "bill",
        }
    }

    /// A line for people saying what the figures are.
    pub fn describe(&self) -> &'static str {
        match self {
            Data::Metered(_) => "metered usage, priced by tollgate's catalog",
            Data::Bill(_) => {
                "imported AWS bill lines, at their unblended cost (credits, refunds and tax \
                 included)"
            }
        }
    }
}

/// Opens the store's data for an analysis reading `[from, to)`.
pub fn open(url: &StoreUrl, choice: DataChoice, from: i64, to: i64) -> Result<Data, LedgerError> {
    match choice {
        DataChoice::Metered => Ok(Data::Metered(tollgate_store::open(
            url,
            OpenMode::MustExist,
        )?)),
        DataChoice::Bill => Ok(Data::Bill(tollgate_store::open_bill(
            url,
            OpenMode::MustExist,
        )?)),
        DataChoice::Auto => {
            let mut metered = tollgate_store::open(url, OpenMode::MustExist)?;
            if from >= to || has_usage(metered.as_mut(), from, to)? {
                return Ok(Data::Metered(metered));
            }
            let mut bill = tollgate_store::open_bill(url, OpenMode::MustExist)?;
            if bill.bill_min_span(from, to)?.is_some() {
                Ok(Data::Bill(bill))
            } else {
                Ok(Data::Metered(metered))
            }
        }
    }
}

fn has_usage(ledger: &mut dyn Ledger, from: i64, to: i64) -> Result<bool, LedgerError> {
    Ok(!ledger
        .query(&UsageQuery {
            from,
            to,
            group_by: Vec::new(),
        })?
        .is_empty())
}
