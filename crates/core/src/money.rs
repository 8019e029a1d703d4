//! Exact order arithmetic: notionals, fees, holds and slippage bounds.
//!
//! * notional (quote minor units) = `price.0 × qty.0 × quote_per_tick_lot`;
//! * base amount = `qty.0 × base_per_lot`;
//! * fee = `floor(notional × bps / 10_000)`. Rounding down never creates money, and since
//!   `floor(a) + floor(b) <= floor(a + b)`, per-fill fees never exceed the fee on the whole
//!   order, which is what a buy hold reserves.
//!
//! Intermediates are `u128`; a result that does not fit a `u64` is `None` (the order is
//! refused with `NOTIONAL_TOO_LARGE`).

use bourse_model::{Price, Qty};

const BPS: u128 = 10_000;

/// A usable limit or stop price: above zero and within the read models' signed 64-bit
/// columns (the same bound as every amount, see the ledger's supply bound).
#[inline]
pub fn valid_price(p: Price) -> bool {
    p.0 > 0 && p.0 <= i64::MAX as u64
}

#[inline]
pub fn notional(price: Price, qty: Qty, quote_per_tick_lot: u64) -> Option<u64> {
    // Fast path in u64 (exact when nothing overflows); otherwise the product in u128.
    if let Some(n) = price
        .0
        .checked_mul(qty.0)
        .and_then(|pq| pq.checked_mul(quote_per_tick_lot))
    {
        return Some(n);
    }
    // Three u64 factors can pass u128 too: checked, so such a product is `None`.
    let n =
        (u128::from(price.0) * u128::from(qty.0)).checked_mul(u128::from(quote_per_tick_lot))?;
    u64::try_from(n).ok()
}

#[inline]
pub fn base_amount(qty: Qty, base_per_lot: u64) -> Option<u64> {
    qty.0.checked_mul(base_per_lot)
}

#[inline]
pub fn fee(notional: u64, bps: u16) -> u64 {
    // bps <= 10_000, so the result is at most `notional`. The u64 path is the same
    // quotient when the product fits (it avoids a 128-bit division).
    match notional.checked_mul(u64::from(bps)) {
        Some(x) => x / BPS as u64,
        None => (u128::from(notional) * u128::from(bps) / BPS) as u64,
    }
}

/// The most a buy of `qty` at `price` can cost, fee at `bps` included.
#[inline]
pub fn buy_cost(price: Price, qty: Qty, quote_per_tick_lot: u64, bps: u16) -> Option<u64> {
    let n = notional(price, qty, quote_per_tick_lot)?;
    n.checked_add(fee(n, bps))
}

/// A market buy's price cap: `best × (1 + slippage)`, rounded down to a tick.
pub fn cap_price(best: Price, slippage_bps: u32) -> Price {
    let p = u128::from(best.0) * (BPS + u128::from(slippage_bps)) / BPS;
    Price(u64::try_from(p).unwrap_or(u64::MAX))
}

/// A market sell's price floor: `best × (1 − slippage)`, rounded up to a tick, at least
/// one tick.
pub fn floor_price(best: Price, slippage_bps: u32) -> Price {
    let keep = BPS.saturating_sub(u128::from(slippage_bps));
    let p = (u128::from(best.0) * keep).div_ceil(BPS);
    Price((p as u64).max(1))
}

/// The notional budget (tick·lot units) of a buy that may spend `quote` in total, taker
/// fee included: the largest `n` with `n + fee(n) <= quote`, rounded down to whole
/// tick·lots.
pub fn buy_budget(quote: u64, taker_bps: u16, quote_per_tick_lot: u64) -> u128 {
    let bps = u128::from(taker_bps);
    let cost = |n: u128| n + n * bps / BPS;
    // cost(n) > n·(1 + bps/10⁴) − 1, so the largest fitting n is this candidate or the one
    // below it.
    let c = (u128::from(quote) + 1) * BPS / (BPS + bps);
    let n = if cost(c) <= u128::from(quote) {
        c
    } else {
        c - 1
    };
    n / u128::from(quote_per_tick_lot)
}

/// The notional budget (tick·lot units) of a sell that stops once it has received `quote`
/// (gross, before its fee).
pub fn sell_budget(quote: u64, quote_per_tick_lot: u64) -> u128 {
    u128::from(quote) / u128::from(quote_per_tick_lot)
}

/// True if `price` is more than `band_bps` away from `reference` (0 = no band).
#[inline]
pub fn out_of_band(price: Price, reference: Price, band_bps: u32) -> bool {
    if band_bps == 0 {
        return false;
    }
    let diff = u128::from(price.0.abs_diff(reference.0));
    diff * BPS > u128::from(reference.0) * u128::from(band_bps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fees_round_down() {
        assert_eq!(fee(9_999, 1), 0);
        assert_eq!(fee(10_000, 1), 1);
        assert_eq!(fee(123_456, 20), 246);
        assert_eq!(fee(u64::MAX, 10_000), u64::MAX);
        assert_eq!(buy_cost(Price(100), Qty(3), 2, 25), Some(600 + 1));
        assert_eq!(notional(Price(u64::MAX), Qty(2), 1), None);
        assert_eq!(buy_cost(Price(u64::MAX), Qty(1), 1, 1), None);
    }

    #[test]
    fn slippage_bounds_round_toward_the_best_price() {
        assert_eq!(cap_price(Price(1_000), 500), Price(1_050));
        assert_eq!(cap_price(Price(19), 500), Price(19)); // 19.95 rounds down
        assert_eq!(floor_price(Price(1_000), 500), Price(950));
        assert_eq!(floor_price(Price(19), 500), Price(19)); // 18.05 rounds up
        assert_eq!(floor_price(Price(5), 20_000), Price(1));
        assert_eq!(cap_price(Price(u64::MAX), 1), Price(u64::MAX));
    }

    #[test]
    fn band() {
        assert!(!out_of_band(Price(110), Price(100), 1_000));
        assert!(out_of_band(Price(111), Price(100), 1_000));
        assert!(out_of_band(Price(89), Price(100), 1_000));
        assert!(!out_of_band(Price(1), Price(100), 0));
    }

    proptest! {
        #[test]
        fn split_fees_never_exceed_the_whole(a in 0u64..1u64 << 40, b in 0u64..1u64 << 40, bps in 0u16..=10_000) {
            prop_assert!(fee(a, bps) + fee(b, bps) <= fee(a + b, bps));
        }

        /// The u64 fast paths give the exact 128-bit results.
        #[test]
        fn fast_paths_are_exact(
            p in prop_oneof![0u64..1 << 20, any::<u64>()],
            q in prop_oneof![0u64..1 << 20, any::<u64>()],
            k in prop_oneof![1u64..1_000, any::<u64>()],
            bps in 0u16..=10_000,
        ) {
            let wide = (u128::from(p) * u128::from(q)).checked_mul(u128::from(k));
            let want = wide.and_then(|w| u64::try_from(w).ok());
            prop_assert_eq!(notional(Price(p), Qty(q), k), want);
            let n = p.wrapping_mul(q);
            prop_assert_eq!(u128::from(fee(n, bps)), u128::from(n) * u128::from(bps) / BPS);
        }

        #[test]
        fn buy_budget_covers_fee(quote in 0u64..1u64 << 50, bps in 0u16..=10_000, qptl in 1u64..1_000) {
            let n = buy_budget(quote, bps, qptl) * u128::from(qptl);
            let n = n as u64;
            prop_assert!(n + fee(n, bps) <= quote);
            // and it is the largest whole tick·lot count that does
            let n2 = n + qptl;
            prop_assert!(n2 + fee(n2, bps) > quote);
        }
    }
}
