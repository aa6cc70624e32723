//! The time-series side of the forecast: a daily cost series in, the remaining days of the
//! month out, each with a point forecast and a prediction interval. The statistics are
//! `augurs`' (MSTL decomposition with a weekly period, AutoETS on the trend); nothing here is
//! hand-rolled beyond the run-rate fallback.

use augurs::ets::AutoETS;
use augurs::mstl::MSTLModel;
use augurs::{Fit, Predict};

/// The prediction interval's level.
pub const LEVEL: f64 = 0.95;

/// Days of history below which there is no model, only a run rate.
pub const MIN_MODEL_DAYS: usize = 7;

/// Days of history from which the weekly season is modelled (MSTL needs two whole periods).
pub const MIN_SEASONAL_DAYS: usize = 14;

/// The weekly period, in days.
const WEEK: usize = 7;

/// How the remaining days were forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// MSTL with a weekly period, AutoETS on the trend (14 days of history or more).
    Seasonal,
    /// AutoETS without a season (7 to 13 days of history).
    Trend,
    /// The mean daily cost so far times the remaining days, interval ±50% of that
    /// (fewer than 7 days of history, or a model that could not be fitted).
    RunRate,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Seasonal => "seasonal",
            Method::Trend => "trend",
            Method::RunRate => "run-rate",
        }
    }
}

/// One forecast day: point, lower and upper bound, none negative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayForecast {
    pub point: f64,
    pub lower: f64,
    pub upper: f64,
}

/// Forecast `horizon` days after `series` (one value per complete day, oldest first).
pub fn forecast_days(series: &[f64], horizon: usize) -> (Method, Vec<DayForecast>) {
    if horizon == 0 {
        return (Method::RunRate, Vec::new());
    }
    if series.iter().all(|v| *v == 0.0) {
        let zero = DayForecast {
            point: 0.0,
            lower: 0.0,
            upper: 0.0,
        };
        let method = if series.len() >= MIN_SEASONAL_DAYS {
            Method::Seasonal
        } else if series.len() >= MIN_MODEL_DAYS {
            Method::Trend
        } else {
            Method::RunRate
        };
        return (method, vec![zero; horizon]);
    }
    let modelled = if series.len() >= MIN_SEASONAL_DAYS {
        seasonal(series, horizon).map(|f| (Method::Seasonal, f))
    } else if series.len() >= MIN_MODEL_DAYS {
        trend(series, horizon).map(|f| (Method::Trend, f))
    } else {
        None
    };
    modelled.unwrap_or_else(|| (Method::RunRate, run_rate(series, horizon)))
}

fn seasonal(series: &[f64], horizon: usize) -> Option<Vec<DayForecast>> {
    let model = MSTLModel::new(vec![WEEK], AutoETS::non_seasonal().into_trend_model());
    let fit = model.fit(series).ok()?;
    days(fit.predict(horizon, LEVEL).ok()?, horizon)
}

fn trend(series: &[f64], horizon: usize) -> Option<Vec<DayForecast>> {
    let fit = AutoETS::non_seasonal().fit(series).ok()?;
    days(fit.predict(horizon, LEVEL).ok()?, horizon)
}

fn days(f: augurs::Forecast, horizon: usize) -> Option<Vec<DayForecast>> {
    let iv = f.intervals?;
    if f.point.len() != horizon || iv.lower.len() != horizon || iv.upper.len() != horizon {
        return None;
    }
    let out: Vec<DayForecast> = (0..horizon)
        .map(|i| {
            let point = f.point[i].max(0.0);
            DayForecast {
                point,
                lower: iv.lower[i].max(0.0).min(point),
                upper: iv.upper[i].max(point),
            }
        })
        .collect();
    out.iter()
        .all(|d| d.point.is_finite() && d.lower.is_finite() && d.upper.is_finite())
        .then_some(out)
}

/// The mean of `series` for each remaining day, ±50%.
fn run_rate(series: &[f64], horizon: usize) -> Vec<DayForecast> {
    let mean = if series.is_empty() {
        0.0
    } else {
        series.iter().sum::<f64>() / series.len() as f64
    };
    vec![
        DayForecast {
            point: mean,
            lower: mean * 0.5,
            upper: mean * 1.5,
        };
        horizon
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekly_series_are_forecast_with_their_weekends() {
        // Five weekdays at 10, weekends at 6, for six weeks.
        let series: Vec<f64> = (0..42)
            .map(|d| if d % 7 >= 5 { 6.0 } else { 10.0 } + (d % 3) as f64 * 0.1)
            .collect();
        let (method, f) = forecast_days(&series, 7);
        assert_eq!(method, Method::Seasonal);
        assert!((f[5].point - 6.1).abs() < 1.0, "{f:?}");
        assert!((f[0].point - 10.1).abs() < 1.0, "{f:?}");
        for d in &f {
            assert!(d.lower <= d.point && d.point <= d.upper, "{d:?}");
        }
    }

    #[test]
    fn short_histories_fall_back() {
        let (m, f) = forecast_days(&[4.0, 6.0], 3);
        assert_eq!(m, Method::RunRate);
        assert_eq!(f[0].point, 5.0);
        assert_eq!((f[2].lower, f[2].upper), (2.5, 7.5));
        let (m, _) = forecast_days(&[4.0, 6.0, 5.0, 5.5, 4.5, 5.0, 5.2, 4.8], 3);
        assert_eq!(m, Method::Trend);
        let (_, f) = forecast_days(&[0.0; 20], 3);
        assert_eq!(f[0].upper, 0.0);
    }
}
