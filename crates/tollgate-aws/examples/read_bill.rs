//! Reads billing exports and prints totals and throughput: a quick check of the readers on
//! large files.
//!
//! Run with
//!
//! ```not_rust
//! cargo run --release -p tollgate-aws --example read_bill -- FILE...
//! ```

use std::time::Instant;

use tollgate_aws::{BillReader, ReadOptions, Totals};

fn main() {
    for path in std::env::args().skip(1) {
        let started = Instant::now();
        let mut reader = match BillReader::open(&path, &ReadOptions::default()) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        let mut totals = Totals::default();
        for line in &mut reader {
            match line {
                Ok(l) => totals.add(&l),
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            }
        }
        let report = reader.finish();
        let totals = totals.finish();
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{path}: {} {}: {} rows ({} API Gateway lines, {} skipped, {} malformed) in {secs:.2} s = {:.0} rows/s; cost {}",
            report.format,
            report.container,
            report.rows,
            report.lines,
            report.skipped(),
            report.malformed_count,
            report.rows as f64 / secs,
            totals.all.cost
        );
    }
}
