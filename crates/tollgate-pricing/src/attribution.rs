//! Blended attribution: splitting a month's cost over the parts of its usage.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::PricingError;

/// The smallest currency unit attribution works in: 10⁻¹⁰ USD (the precision of AWS's
/// Price List rates), or finer when the total itself carries more decimals.
pub const ATTRIBUTION_SCALE: u32 = 10;

/// The month's effective blended rate: `total_cost / total_units` (zero for zero units).
pub fn blended_rate(total_cost: Decimal, total_units: Decimal) -> Result<Decimal, PricingError> {
    if total_units.is_zero() {
        return Ok(Decimal::ZERO);
    }
    total_cost
        .checked_div(total_units)
        .ok_or_else(|| PricingError::Overflow("a blended rate".into()))
}

/// Splits `total_cost` over `parts` (units per part, e.g. per route) in proportion to their
/// units — each part costs its units × the month's blended rate — so that the results add up
/// **exactly** to `total_cost`.
///
/// Shares are computed at scale `max(ATTRIBUTION_SCALE, total_cost.scale())`, rounded down,
/// and the remaining quanta go one each to the parts with the largest rounding remainders
/// (ties: earlier part first) — the largest-remainder method. If every part has zero units,
/// the cost is split equally. Errors: a negative part; a non-zero total with no parts.
pub fn attribute(total_cost: Decimal, parts: &[Decimal]) -> Result<Vec<Decimal>, PricingError> {
    for (i, p) in parts.iter().enumerate() {
        if p.is_sign_negative() && !p.is_zero() {
            return Err(PricingError::Negative {
                field: format!("parts[{i}]"),
                value: p.to_string(),
            });
        }
    }
    if parts.is_empty() {
        if total_cost.is_zero() {
            return Ok(Vec::new());
        }
        return Err(PricingError::NoParts {
            total: total_cost.to_string(),
        });
    }
    let overflow = || PricingError::Overflow("an attribution".into());
    let scale = ATTRIBUTION_SCALE.max(total_cost.scale());
    let quantum = Decimal::new(1, scale);
    let n = Decimal::from(parts.len());
    let total_units = parts
        .iter()
        .try_fold(Decimal::ZERO, |acc, p| acc.checked_add(*p))
        .ok_or_else(overflow)?;

    let mut shares = Vec::with_capacity(parts.len());
    let mut remainders = Vec::with_capacity(parts.len());
    for p in parts {
        let weight = if total_units.is_zero() {
            Decimal::ONE.checked_div(n)
        } else {
            p.checked_div(total_units)
        }
        .ok_or_else(overflow)?;
        let raw = total_cost.checked_mul(weight).ok_or_else(overflow)?;
        let floor = raw.round_dp_with_strategy(scale, RoundingStrategy::ToNegativeInfinity);
        remainders.push(raw - floor);
        shares.push(floor);
    }

    let assigned = shares
        .iter()
        .try_fold(Decimal::ZERO, |acc, s| acc.checked_add(*s))
        .ok_or_else(overflow)?;
    let leftover = total_cost - assigned;
    // `leftover` is a whole number of quanta: both sides have at most `scale` decimals.
    let mut quanta: i128 = leftover
        .checked_div(quantum)
        .and_then(|q| q.round().to_i128())
        .ok_or_else(overflow)?;

    // Largest remainder first; ties by position.
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| remainders[b].cmp(&remainders[a]).then(a.cmp(&b)));

    let mut i = 0usize;
    while quanta > 0 {
        shares[order[i % order.len()]] += quantum;
        quanta -= 1;
        i += 1;
    }
    // Only reachable through rounding in the weights: take quanta back from the smallest
    // remainders, never pushing a non-negative share below zero.
    let mut guard = 0usize;
    while quanta < 0 && guard < order.len() * 4 {
        let idx = order[order.len() - 1 - (guard % order.len())];
        if total_cost.is_sign_negative() || shares[idx] >= quantum {
            shares[idx] -= quantum;
            quanta += 1;
        }
        guard += 1;
    }
    if quanta != 0 {
        // Fall back: put the whole difference on the largest share (keeps the sum exact).
        let diff = total_cost - shares.iter().copied().sum::<Decimal>();
        let idx = order[0];
        shares[idx] += diff;
    }
    Ok(shares)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn splits_evenly_with_exact_sum() {
        let parts = attribute(dec!(1), &[dec!(1), dec!(1), dec!(1)]).unwrap();
        assert_eq!(parts.iter().copied().sum::<Decimal>(), dec!(1));
        assert_eq!(parts[0], dec!(0.3333333334));
        assert_eq!(parts[1], dec!(0.3333333333));
    }

    #[test]
    fn http1_routes_at_blended_rate() {
        // HTTP-1 total $418.80 over 432 M requests split across three routes.
        let parts = attribute(
            dec!(418.8),
            &[dec!(200_000_000), dec!(200_000_000), dec!(32_000_000)],
        )
        .unwrap();
        assert_eq!(parts.iter().copied().sum::<Decimal>(), dec!(418.8));
        // 418.8 / 432 M = 0.00000096944... per request.
        assert_eq!(parts[2], dec!(31.0222222222));
    }

    #[test]
    fn zero_units_split_equally_and_errors() {
        let parts = attribute(dec!(0.10), &[dec!(0), dec!(0)]).unwrap();
        assert_eq!(parts, vec![dec!(0.05), dec!(0.05)]);
        assert!(attribute(dec!(1), &[]).is_err());
        assert_eq!(attribute(dec!(0), &[]).unwrap(), Vec::<Decimal>::new());
        assert!(matches!(
            attribute(dec!(1), &[dec!(-1)]),
            Err(PricingError::Negative { .. })
        ));
    }
}
