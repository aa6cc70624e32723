//! The month-end forecast against simulated months in real SQLite ledgers: a backtest at days
//! 5, 10 and 20 against the naive run rate (numbers recorded in docs/forecast.md), rows that
//! add up, and the short-history fallback.

use rust_decimal::Decimal;
use tollgate_analytics::forecast::{
    forecast, ForecastOptions, Method, MonthForecast, DEFAULT_HISTORY_DAYS,
};
use tollgate_analytics::simulate::{SimConfig, Simulation};
use tollgate_meter::Ledger;
use tollgate_pricing::report::{build_report, Period, ReportInput};
use tollgate_pricing::{Catalog, FreeTier};
use tollgate_store::{open, parse_store_url, OpenMode};
use tollgate_types::usage::{Dimension, UsageQuery};

const DAY: i64 = 86_400;

struct Store {
    _dir: tempfile::TempDir,
    ledger: Box<dyn Ledger>,
}

/// A ledger holding `history` days before `month` (`YYYY-MM`) and the whole month.
fn simulated(seed: u64, month: &str, history: u32) -> Store {
    let dir = tempfile::tempdir().unwrap();
    let url = parse_store_url(&format!("sqlite://{}/t.db", dir.path().display())).unwrap();
    let mut ledger = open(&url, OpenMode::CreateIfMissing).unwrap();
    let m = Period::month(month).unwrap();
    let days = ((m.end() - m.start()) / DAY) as u32 + history;
    let config = SimConfig {
        seed,
        start: m.start() - i64::from(history) * DAY,
        days,
        region: "us-east-1".into(),
        scenarios: Vec::new(),
    };
    Simulation::new(config, &Catalog::embedded())
        .unwrap()
        .run(ledger.as_mut())
        .unwrap();
    Store { _dir: dir, ledger }
}

fn month_cost(ledger: &mut dyn Ledger, month: &str) -> Decimal {
    let period = Period::month(month).unwrap();
    let q = UsageQuery {
        from: period.start(),
        to: period.end(),
        group_by: Vec::new(),
    };
    let rows = ledger.query(&q).unwrap();
    build_report(&ReportInput {
        catalog: &Catalog::embedded(),
        free_tier: FreeTier::Off,
        period,
        group_by: &[],
        rows: &rows,
        month_totals: &rows,
    })
    .unwrap()
    .total()
}

fn run(ledger: &mut dyn Ledger, now: i64, by: &[Dimension]) -> MonthForecast {
    forecast(
        ledger,
        &ForecastOptions {
            catalog: &Catalog::embedded(),
            free_tier: FreeTier::Off,
            by,
            now,
            history_days: DEFAULT_HISTORY_DAYS,
        },
    )
    .unwrap()
}

fn ape(estimate: Decimal, actual: Decimal) -> f64 {
    let e: f64 = ((estimate - actual).abs() / actual)
        .to_string()
        .parse()
        .unwrap();
    e * 100.0
}

#[test]
fn backtest_beats_the_run_rate_early_in_the_month() {
    // Four months starting on different weekdays, each after eight weeks of history.
    let cases = [
        (11, "2025-03"),
        (12, "2025-06"),
        (13, "2025-09"),
        (14, "2025-11"),
    ];
    let checkpoints = [5_i64, 10, 20];
    let started = std::time::Instant::now();
    let results: Vec<Vec<(f64, f64, bool)>> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|&(seed, month)| {
                s.spawn(move || {
                    let mut store = simulated(seed, month, DEFAULT_HISTORY_DAYS);
                    let actual = month_cost(store.ledger.as_mut(), month);
                    let start = Period::month(month).unwrap().start();
                    checkpoints
                        .iter()
                        .map(|&d| {
                            let f = run(store.ledger.as_mut(), start + d * DAY, &[]);
                            assert_eq!(f.method, Method::Seasonal);
                            let t = &f.total;
                            assert!(t.lower <= t.forecast && t.forecast <= t.upper, "{t:?}");
                            assert!(t.forecast >= t.actual_to_date);
                            let covered = t.lower <= actual && actual <= t.upper;
                            eprintln!(
                                "seed {seed} {month} day {d}: actual {actual:.2}, forecast \
                                 {:.2} [{:.2}, {:.2}], run rate {:.2}",
                                t.forecast, t.lower, t.upper, f.run_rate
                            );
                            (ape(t.forecast, actual), ape(f.run_rate, actual), covered)
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!("backtest took {:?}", started.elapsed());
    let n = results.len() as f64;
    let mut means = Vec::new();
    for (i, d) in checkpoints.iter().enumerate() {
        let seasonal = results.iter().map(|r| r[i].0).sum::<f64>() / n;
        let run_rate = results.iter().map(|r| r[i].1).sum::<f64>() / n;
        let covered = results.iter().filter(|r| r[i].2).count();
        eprintln!(
            "day {d}: mean APE seasonal {seasonal:.2}%, run rate {run_rate:.2}%, actual inside \
             the 95% interval {covered}/{}",
            results.len()
        );
        means.push((seasonal, run_rate));
    }
    assert!(means[0].0 < means[0].1, "day 5: {means:?}");
    assert!(means[1].0 < means[1].1, "day 10: {means:?}");
}

#[test]
fn rows_add_up_to_the_actual_and_short_histories_use_the_run_rate() {
    // Ten days of usage, all in March: day 10 has 9 complete days... of the month only.
    let mut store = simulated(5, "2025-03", 0);
    let start = Period::month("2025-03").unwrap().start();
    let f = run(store.ledger.as_mut(), start + 10 * DAY, &[Dimension::Api]);
    assert_eq!(f.month, "2025-03");
    assert_eq!(f.method, Method::Trend);
    let apis: Vec<&str> = f.rows.iter().map(|r| r.group[0].as_str()).collect();
    assert_eq!(apis, ["chat", "legacy", "shop"]);
    let sum: Decimal = f.rows.iter().map(|r| r.projection.actual_to_date).sum();
    assert_eq!(sum, f.total.actual_to_date);
    for r in &f.rows {
        let p = &r.projection;
        assert!(p.lower <= p.forecast && p.forecast <= p.upper, "{r:?}");
        assert!(p.actual_to_date > Decimal::ZERO && p.forecast > p.actual_to_date);
    }

    // Three days and a half: the run rate, with its ±50% interval.
    let f = run(store.ledger.as_mut(), start + 3 * DAY + DAY / 2, &[]);
    assert_eq!(f.method, Method::RunRate);
    assert_eq!(f.days_elapsed, 3);
    let t = &f.total;
    assert!(t.lower < t.forecast && t.forecast < t.upper, "{t:?}");
    assert!(t.actual_to_date > Decimal::ZERO);
    let json: serde_json::Value = serde_json::from_str(&f.to_json()).unwrap();
    assert_eq!(json["data"], "metered");
    let mut keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "actual_to_date",
            "data",
            "forecast",
            "lower",
            "month",
            "rows",
            "upper"
        ]
    );
    assert_eq!(json["rows"], serde_json::json!([]));
}
