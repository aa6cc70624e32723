//! Property: blended attribution always sums exactly to the total.

use proptest::prelude::*;
use rust_decimal::Decimal;
use tollgate_pricing::{attribute, Catalog, FreeTier, Meter};

fn units() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (0u64..10_000_000_000u64).prop_map(Decimal::from),
        (0i64..1_000_000_000i64, 0u32..6).prop_map(|(m, s)| Decimal::new(m, s)),
        Just(Decimal::ZERO),
    ]
}

proptest! {
    #[test]
    fn parts_sum_to_total(
        mantissa in 0i64..1_000_000_000_000_000i64,
        scale in 0u32..12,
        parts in proptest::collection::vec(units(), 1..40),
    ) {
        let total = Decimal::new(mantissa, scale);
        let shares = attribute(total, &parts).unwrap();
        prop_assert_eq!(shares.len(), parts.len());
        prop_assert_eq!(shares.iter().copied().sum::<Decimal>(), total);
        for s in &shares {
            prop_assert!(!s.is_sign_negative() || s.is_zero());
        }
    }

    #[test]
    fn route_costs_add_up_to_the_bill(
        parts in proptest::collection::vec(0u64..200_000_000u64, 1..20),
    ) {
        let c = Catalog::embedded();
        let r = c.region("us-east-1").unwrap();
        let units: Vec<Decimal> = parts.iter().copied().map(Decimal::from).collect();
        let month: Decimal = units.iter().copied().sum();
        let bill = r.month_cost(Meter::HttpRequests, None, month, FreeTier::Off).unwrap();
        let shares = attribute(bill, &units).unwrap();
        prop_assert_eq!(shares.iter().copied().sum::<Decimal>(), bill);
        // To the cent, too: each share is within a cent of units × blended rate.
        if !month.is_zero() {
            let rate = bill / month;
            for (s, u) in shares.iter().zip(&units) {
                prop_assert!((*s - *u * rate).abs() < Decimal::new(1, 2));
            }
        }
    }
}
