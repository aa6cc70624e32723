//! `BillReader::sum_groups` (the quick CSV path and the arrow Parquet path) gives exactly what
//! iterating the lines and summing them by `GroupKey::of` gives: the same sums, the same
//! report (rows, skipped services, malformed rows) and the same strict-mode error, on every
//! fixture, the malformed ones included.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tollgate_aws::{BillReader, GroupKey, ReadOptions, ReadReport, Sum};

fn fixtures() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/aws");
    let mut files = Vec::new();
    for dir in [root.clone(), root.join("malformed")] {
        for e in std::fs::read_dir(dir).expect("fixtures dir") {
            let p = e.expect("entry").path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.contains(".csv") || name.ends_with(".parquet") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

type Outcome = (Result<BTreeMap<GroupKey, Sum>, String>, Option<ReadReport>);

/// Iterates, skipping `first` lines before summing the rest with `sum_groups` when `quick`.
fn read(path: &Path, opts: &ReadOptions, quick: bool, first: usize) -> Outcome {
    let mut reader = match BillReader::open(path, opts) {
        Ok(r) => r,
        Err(e) => return (Err(e.to_string()), None),
    };
    let mut sums: BTreeMap<GroupKey, Sum> = BTreeMap::new();
    let mut add = |k: GroupKey, lines: u64, usage, cost| {
        let s = sums.entry(k).or_default();
        s.lines += lines;
        s.usage += usage;
        s.cost += cost;
    };
    let mut taken = 0;
    let result = (|| {
        while !quick || taken < first {
            let Some(line) = reader.next() else { break };
            let l = line?;
            add(GroupKey::of(&l), 1, l.usage_amount, l.unblended_cost);
            taken += 1;
        }
        if quick {
            for (k, s) in reader.sum_groups()? {
                add(k, s.lines, s.usage, s.cost);
            }
        }
        Ok::<_, tollgate_aws::AwsError>(())
    })();
    let report = reader.finish();
    (
        result.map(|()| sums).map_err(|e| e.to_string()),
        Some(report),
    )
}

#[test]
fn sum_groups_equals_summing_the_lines() {
    let files = fixtures();
    assert!(files.len() >= 8, "{files:?}");
    for path in &files {
        for strict in [false, true] {
            for max_reported in [20, 1] {
                let opts = ReadOptions {
                    strict,
                    max_reported,
                };
                let slow = read(path, &opts, false, 0);
                for first in [0, 3] {
                    let quick = read(path, &opts, true, first);
                    assert_eq!(
                        quick,
                        slow,
                        "{} (strict {strict}, max_reported {max_reported}, first {first})",
                        path.display()
                    );
                }
            }
        }
    }
}
