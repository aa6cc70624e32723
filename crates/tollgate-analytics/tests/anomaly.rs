//! Cost anomalies against simulated ledgers: precision and recall over the simulator's
//! scenarios (numbers recorded in docs/anomalies.md) and a quiet baseline.

use std::collections::BTreeSet;

use tollgate_analytics::anomaly::{
    detect, Anomalies, AnomalyOptions, DEFAULT_MIN_IMPACT, DEFAULT_SENSITIVITY, DEFAULT_WEEKS,
};
use tollgate_analytics::simulate::{GroundTruth, SimConfig, Simulation};
use tollgate_pricing::{Catalog, FreeTier};
use tollgate_store::{open, parse_store_url, OpenMode};

const DAY: i64 = 86_400;
/// 2025-03-01T00:00:00Z.
const START: i64 = 1_740_787_200;
const DAYS: u32 = 35;
const SEED: u64 = 11;

/// Simulate 35 days with `scenario` (if any), then look for anomalies in the last 14 days.
fn run(scenario: Option<&str>) -> (Anomalies, GroundTruth) {
    let dir = tempfile::tempdir().unwrap();
    let url = parse_store_url(&format!("sqlite://{}/t.db", dir.path().display())).unwrap();
    let mut ledger = open(&url, OpenMode::CreateIfMissing).unwrap();
    let catalog = Catalog::embedded();
    let config = SimConfig {
        seed: SEED,
        start: START,
        days: DAYS,
        region: "us-east-1".into(),
        scenarios: scenario.map(|s| s.parse().unwrap()).into_iter().collect(),
    };
    let truth = Simulation::new(config, &catalog)
        .unwrap()
        .run(ledger.as_mut())
        .unwrap()
        .truth;
    let end = START + i64::from(DAYS) * DAY;
    let found = detect(
        ledger.as_mut(),
        &AnomalyOptions {
            catalog: &catalog,
            free_tier: FreeTier::Off,
            from: end - 14 * DAY,
            to: end,
            sensitivity: DEFAULT_SENSITIVITY,
            min_impact: DEFAULT_MIN_IMPACT,
            weeks: DEFAULT_WEEKS,
        },
    )
    .unwrap();
    (found, truth)
}

/// (detected with a correct cause, false positives).
fn score(found: &Anomalies, truth: &GroundTruth) -> (bool, usize) {
    let mut detected = false;
    let mut false_positives = 0;
    for a in &found.anomalies {
        let overlapping: Vec<_> = truth
            .scenarios
            .iter()
            .filter(|t| a.start < t.end && t.start < a.end)
            .collect();
        if overlapping.is_empty() {
            false_positives += 1;
        }
        for t in overlapping {
            let values: BTreeSet<&str> = t.dimensions.values().map(String::as_str).collect();
            if a.cause.iter().any(|c| values.contains(c.value.as_str())) {
                detected = true;
            }
        }
    }
    (detected, false_positives)
}

#[test]
fn precision_and_recall_on_simulated_scenarios() {
    let scenarios = [
        "retry-storm:day=25,hour=14",
        "bot-traffic:day=25",
        "idle-websockets:day=25",
        "payload-growth:day=25",
        "stray-stage:day=25",
        "new-client:day=25",
    ];
    let mut detected = 0;
    let mut false_positives = 0;
    let mut anomalies = 0;
    for s in scenarios {
        let (found, truth) = run(Some(s));
        let (d, fp) = score(&found, &truth);
        eprintln!(
            "{s}: detected={d} false_positives={fp} anomalies={}",
            found.anomalies.len()
        );
        eprint!("{}", found.to_table());
        if !s.starts_with("new-client") {
            detected += usize::from(d);
            false_positives += fp;
            anomalies += found.anomalies.len();
        }
    }
    let (quiet, truth) = run(None);
    let (_, quiet_fp) = score(&quiet, &truth);
    eprintln!("baseline: false_positives={quiet_fp}");
    eprint!("{}", quiet.to_table());
    let recall = detected as f64 / 5.0;
    eprintln!("recall={recall} false_positives={false_positives} of {anomalies} anomalies");
    assert!(
        recall >= 1.0,
        "recall {recall}: stray-stage needs the daily pass"
    );
    assert!(
        quiet_fp <= 1,
        "{quiet_fp} false positives on the quiet baseline"
    );
}
