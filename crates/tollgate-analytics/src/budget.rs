//! Monthly budgets in dollars: what a scope (API, stage, API key) has spent this calendar
//! month, priced exactly as `tollgate cost report` prices it (tiers on the month's total,
//! blended shares), and which alert thresholds it has crossed.

use std::collections::{BTreeSet, HashMap};

use rust_decimal::Decimal;
use tollgate_meter::{Ledger, LedgerError};
use tollgate_pricing::report::{build_report, Period, ReportInput};
use tollgate_pricing::{Catalog, FreeTier, PricingError};
use tollgate_types::usage::{Dimension, UsageQuery};

/// A budget to evaluate: a scope given by the ledger's own values (API id, stage name, key
/// id; `None` matches anything), a monthly limit and alert thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSpec {
    pub name: String,
    pub api: Option<String>,
    pub stage: Option<String>,
    pub key: Option<String>,
    pub limit: Decimal,
    /// Percentages of the limit, ascending.
    pub alert_at_percent: Vec<u32>,
}

/// A budget's month so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetStatus {
    pub name: String,
    /// `YYYY-MM` (UTC).
    pub month: String,
    pub limit: Decimal,
    /// Exact; round only to display.
    pub spend: Decimal,
    /// Spend as a percentage of the limit (exact; 0 when the limit is 0 and nothing was spent,
    /// 100 when the limit is 0 and something was).
    pub percent: Decimal,
    /// Whether the limit is reached (spend ≥ limit, and something was spent).
    pub reached: bool,
}

/// A threshold crossed for the first time this month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub budget: String,
    pub month: String,
    pub threshold_percent: u32,
    pub spend: Decimal,
    pub limit: Decimal,
    pub percent: Decimal,
}

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

/// Evaluate `budgets` for the calendar month containing `now` (Unix seconds), from its start
/// to the end of the current minute.
pub fn evaluate(
    ledger: &mut dyn Ledger,
    catalog: &Catalog,
    free_tier: FreeTier,
    budgets: &[BudgetSpec],
    now: i64,
) -> Result<Vec<BudgetStatus>, BudgetError> {
    if budgets.is_empty() {
        return Ok(Vec::new());
    }
    let end = now - now.rem_euclid(60) + 60;
    let month = Period::new(now, now + 1)?.months().remove(0);
    let period = Period::new(Period::month(&month)?.start(), end)?;
    let by = [Dimension::Api, Dimension::Stage, Dimension::Key];
    let rows = ledger.query(&UsageQuery {
        from: period.start(),
        to: period.end(),
        group_by: by.to_vec(),
    })?;
    let (from, to) = period.month_totals_range();
    let month_totals = ledger.query(&UsageQuery {
        from,
        to,
        group_by: Vec::new(),
    })?;
    let report = build_report(&ReportInput {
        catalog,
        free_tier,
        period,
        group_by: &by,
        rows: &rows,
        month_totals: &month_totals,
    })?;
    Ok(budgets
        .iter()
        .map(|b| {
            let matches =
                |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
            let spend: Decimal = report
                .rows()
                .iter()
                .filter(|r| {
                    matches(&b.api, &r.group[0])
                        && matches(&b.stage, &r.group[1])
                        && matches(&b.key, &r.group[2])
                })
                .map(|r| r.cost)
                .sum();
            let percent = if b.limit.is_zero() {
                if spend.is_zero() {
                    Decimal::ZERO
                } else {
                    Decimal::ONE_HUNDRED
                }
            } else {
                spend * Decimal::ONE_HUNDRED / b.limit
            };
            BudgetStatus {
                name: b.name.clone(),
                month: month.clone(),
                limit: b.limit,
                spend,
                percent,
                reached: !spend.is_zero() && spend >= b.limit,
            }
        })
        .collect())
}

/// Which thresholds were already announced, per budget and month, so each alert is sent once.
/// In memory: a restart may announce a crossed threshold once more.
#[derive(Debug, Default)]
pub struct AlertTracker {
    sent: HashMap<(String, String), BTreeSet<u32>>,
}

impl AlertTracker {
    /// The alerts `statuses` call for that were not sent yet (highest threshold last).
    pub fn new_alerts(&mut self, budgets: &[BudgetSpec], statuses: &[BudgetStatus]) -> Vec<Alert> {
        let mut out = Vec::new();
        for s in statuses {
            let Some(b) = budgets.iter().find(|b| b.name == s.name) else {
                continue;
            };
            let sent = self
                .sent
                .entry((s.name.clone(), s.month.clone()))
                .or_default();
            for &t in &b.alert_at_percent {
                if s.percent >= Decimal::from(t) && !s.spend.is_zero() && sent.insert(t) {
                    out.push(Alert {
                        budget: s.name.clone(),
                        month: s.month.clone(),
                        threshold_percent: t,
                        spend: s.spend,
                        limit: s.limit,
                        percent: s.percent,
                    });
                }
            }
        }
        // Months that ended are forgotten.
        let months: BTreeSet<&String> = statuses.iter().map(|s| &s.month).collect();
        self.sent.retain(|(_, m), _| months.contains(m));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use tollgate_types::usage::{
        Reason, Tags, UsageBatch, UsageCounts, UsageKey, UsageMeter, UsageRecord, UsageRow,
    };

    /// A ledger that answers queries from fixed cells (grouping done here).
    struct Fixed(Vec<UsageRecord>);

    impl Ledger for Fixed {
        fn append(&mut self, _: &UsageBatch) -> Result<bool, LedgerError> {
            Ok(true)
        }
        fn query(&mut self, q: &UsageQuery) -> Result<Vec<UsageRow>, LedgerError> {
            let mut out: Vec<UsageRow> = Vec::new();
            for r in self
                .0
                .iter()
                .filter(|r| r.key.bucket >= q.from && r.key.bucket < q.to)
            {
                let group: Vec<String> = q
                    .group_by
                    .iter()
                    .map(|d| match d {
                        Dimension::Api => r.key.api.clone(),
                        Dimension::Stage => r.key.stage.clone(),
                        Dimension::Key => r.key.api_key.clone(),
                        _ => String::new(),
                    })
                    .collect();
                match out.iter_mut().find(|o| {
                    o.group == group && o.meter == r.key.meter && o.billable == r.key.billable
                }) {
                    Some(o) => o.counts.add(r.counts),
                    None => out.push(UsageRow {
                        month: "2025-11".into(),
                        region: r.key.region.clone(),
                        meter: r.key.meter,
                        billable: r.key.billable,
                        group,
                        counts: r.counts,
                    }),
                }
            }
            Ok(out)
        }
        fn tag_names(&mut self, _: i64, _: i64) -> Result<Vec<String>, LedgerError> {
            Ok(Vec::new())
        }
        fn rollup(&mut self, _: i64) -> Result<u64, LedgerError> {
            Ok(0)
        }
        fn describe(&self) -> String {
            "fixed".into()
        }
    }

    /// 2025-11-10T00:00:00Z.
    const NOW: i64 = 1_762_732_800;

    fn rec(api: &str, key: &str, requests: u64) -> UsageRecord {
        UsageRecord {
            key: UsageKey {
                bucket: NOW - 3600,
                region: "us-east-1".into(),
                api: api.into(),
                stage: "$default".into(),
                route: "GET /x".into(),
                api_key: key.into(),
                client: "10.0.0.1".into(),
                status_class: 2,
                billable: true,
                reason: Reason::Integration,
                meter: UsageMeter::HttpRequests,
                tags: Tags::new(),
            },
            counts: UsageCounts {
                units: requests,
                events: requests,
            },
        }
    }

    fn spec(name: &str, api: Option<&str>, key: Option<&str>, limit: Decimal) -> BudgetSpec {
        BudgetSpec {
            name: name.into(),
            api: api.map(Into::into),
            stage: None,
            key: key.map(Into::into),
            limit,
            alert_at_percent: vec![50, 80, 100],
        }
    }

    #[test]
    fn spend_is_priced_per_scope_and_thresholds_alert_once() {
        // us-east-1 HTTP APIs: $1.00 per million requests.
        let mut ledger = Fixed(vec![
            rec("a1", "k1", 3_000_000),
            rec("a1", "k2", 1_000_000),
            rec("a2", "", 6_000_000),
        ]);
        let budgets = [
            spec("api-a1", Some("a1"), None, dec!(5)),
            spec("key-k1", None, Some("k1"), dec!(3)),
            spec("api-a2", Some("a2"), None, dec!(100)),
        ];
        let catalog = Catalog::embedded();
        let s = evaluate(&mut ledger, &catalog, FreeTier::Off, &budgets, NOW).unwrap();
        assert_eq!(s[0].spend, dec!(4));
        assert_eq!(s[0].percent, dec!(80));
        assert!(!s[0].reached);
        assert_eq!(s[1].spend, dec!(3));
        assert!(s[1].reached, "spend equal to the limit reaches it");
        assert_eq!(s[2].percent, dec!(6));
        assert_eq!(s[0].month, "2025-11");

        let mut tracker = AlertTracker::default();
        let alerts = tracker.new_alerts(&budgets, &s);
        let got: Vec<(&str, u32)> = alerts
            .iter()
            .map(|a| (a.budget.as_str(), a.threshold_percent))
            .collect();
        assert_eq!(
            got,
            [
                ("api-a1", 50),
                ("api-a1", 80),
                ("key-k1", 50),
                ("key-k1", 80),
                ("key-k1", 100)
            ]
        );
        assert!(
            tracker.new_alerts(&budgets, &s).is_empty(),
            "each alert once"
        );
    }

    #[test]
    fn nothing_spent_alerts_nothing_even_with_a_zero_limit() {
        let mut ledger = Fixed(Vec::new());
        let budgets = [spec("zero", Some("a1"), None, Decimal::ZERO)];
        let s = evaluate(
            &mut ledger,
            &Catalog::embedded(),
            FreeTier::Off,
            &budgets,
            NOW,
        )
        .unwrap();
        assert_eq!(s[0].spend, Decimal::ZERO);
        assert!(!s[0].reached);
        assert!(AlertTracker::default().new_alerts(&budgets, &s).is_empty());
    }
}
