//! `bourse_model::OrderState` against the core: random command sequences (the `props`
//! generators: every order type, amends, cancels, halts, kill switch, KYC, expiry) with
//! every order's events folded. After every command:
//! * every order the fold has open is open in the core with the same status, filled and
//!   remaining size, price and total size ([`Core::order`]), and every order the core has
//!   open is open in the fold;
//! * every order the fold has ended is gone from the core; no event concerns an order
//!   after it ended, and its state never changes again;
//! * before each fill or end event, the filled and remaining sizes the fold added up from
//!   the trades are the ones the event reports;
//! * an order's `filled` is the sum of its fills, its `updated_at` the last command that
//!   concerned it, and the fees of all orders add up to the fee accounts.

use super::props::{op, place_op, resolve, setup, Op};
use crate::{Core, CoreConfig};
use bourse_model::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn check_against_core(core: &Core, o: &OrderState) -> Result<(), TestCaseError> {
    let id = o.id();
    let view = core.order(id);
    if !o.is_open() {
        prop_assert!(
            view.is_none(),
            "order {} ended in the fold, open in the core",
            id
        );
        return Ok(());
    }
    let Some(v) = view else {
        return Err(TestCaseError::fail(format!(
            "order {id} open in the fold only: {o:?}"
        )));
    };
    prop_assert_eq!(o.status, v.status, "order {}", id);
    prop_assert_eq!(o.filled, v.filled, "order {}", id);
    prop_assert_eq!(o.price, v.price, "order {}", id);
    if o.info.quote_qty.is_some() {
        // The core sizes it internally (by its market's maximum); the fold has no lots.
        prop_assert_eq!((o.qty, o.remaining), (None, None), "order {}", id);
    } else {
        prop_assert_eq!(o.qty, Some(v.qty), "order {}", id);
        prop_assert_eq!(o.remaining, Some(v.remaining), "order {}", id);
    }
    Ok(())
}

/// Folds one command's events into `orders`; `ended` holds the orders that had ended
/// before it.
fn fold(
    orders: &mut BTreeMap<OrderId, OrderState>,
    ended: &BTreeMap<OrderId, OrderState>,
    cmd: &Command,
    events: &[Event],
) -> Result<Vec<OrderId>, TestCaseError> {
    let mut touched = Vec::new();
    for e in events {
        if let Event::OrderAccepted(info) = e {
            prop_assert!(!orders.contains_key(&info.id), "accepted twice");
            orders.insert(info.id, OrderState::new(info, cmd.ts));
        }
        for id in concerned_orders(e) {
            prop_assert!(!ended.contains_key(&id), "{:?} after order {} ended", e, id);
            let state = orders
                .get_mut(&id)
                .ok_or_else(|| TestCaseError::fail(format!("{e:?} before its order")))?;
            if let Some((filled, remaining)) = reported(e) {
                // What the fold added up from the trades so far is what the core reports.
                prop_assert_eq!(state.filled, filled, "{:?}", e);
                if state.info.quote_qty.is_none() {
                    prop_assert_eq!(state.remaining, Some(remaining), "{:?}", e);
                }
            }
            let accepted = matches!(e, Event::OrderAccepted(_));
            prop_assert_eq!(state.apply(e, cmd.ts), !accepted, "{:?}", e);
            touched.push(id);
        }
    }
    Ok(touched)
}

/// The absolute filled and remaining sizes a fill or end event reports.
fn reported(e: &Event) -> Option<(Qty, Qty)> {
    match e {
        Event::OrderPartiallyFilled {
            filled, remaining, ..
        }
        | Event::OrderCanceled {
            filled, remaining, ..
        }
        | Event::OrderExpired {
            filled, remaining, ..
        } => Some((*filled, *remaining)),
        Event::OrderFilled { filled, .. } => Some((*filled, Qty::ZERO)),
        _ => None,
    }
}

fn fees(core: &Core) -> u64 {
    (0..core.assets().len() as u32)
        .map(|a| core.fee_balance(AssetId(a)).0)
        .sum()
}

fn run(ops: &[(u8, Op)]) -> Result<(), TestCaseError> {
    let mut core = Core::new(CoreConfig::default());
    for c in setup() {
        core.apply(&c);
    }
    let fees_before = fees(&core);
    let mut orders: BTreeMap<OrderId, OrderState> = BTreeMap::new();
    let mut ended: BTreeMap<OrderId, OrderState> = BTreeMap::new();
    let mut ts = 1_000;
    for (dt, op) in ops {
        ts += u64::from(*dt);
        let cmd = Command::new(ts, resolve(&core, op, ts));
        let events = core.apply(&cmd);
        let touched = fold(&mut orders, &ended, &cmd, &events)?;
        for (id, o) in &orders {
            check_against_core(&core, o)?;
            let sum = o.fills.iter().map(|f| f.qty.0).sum::<u64>();
            prop_assert_eq!(o.filled.0, sum, "order {}: filled vs its fills", id);
            let notional = o.fills.iter().map(|f| f.notional.0).sum::<u64>();
            prop_assert_eq!(o.filled_notional.0, notional, "order {}", id);
            if touched.contains(id) {
                prop_assert_eq!(o.updated_at, cmd.ts, "order {}", id);
            }
        }
        for (id, o) in &ended {
            prop_assert_eq!(&orders[id], o, "an ended order changed");
        }
        for (id, o) in &orders {
            if !o.is_open() && !ended.contains_key(id) {
                ended.insert(*id, o.clone());
            }
        }
        for id in core.orders.keys() {
            let open = orders.get(id).is_some_and(OrderState::is_open);
            prop_assert!(open, "order {} open in the core only", id);
        }
    }
    let folded: u64 = orders.values().map(|o| o.fees.0).sum();
    prop_assert_eq!(
        folded,
        fees(&core) - fees_before,
        "order fees vs fee accounts"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_500, max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn the_order_fold_agrees_with_the_core(
        ops in prop::collection::vec((0u8..4, op()), 8..40),
    ) {
        run(&ops)?;
    }

    /// Dense trading in one market (limit, market and stop orders, amends, cancels), where
    /// stops trigger and fill more often.
    #[test]
    fn the_order_fold_agrees_with_the_core_in_a_busy_market(
        ops in prop::collection::vec((0u8..3, prop_oneof![
            6 => place_op().prop_map(|op| match op {
                Op::Place(mut p) => {
                    p.market = 0;
                    p.noise = 19;
                    p.stop = p.price;
                    Op::Place(p)
                }
                other => other,
            }),
            3 => (any::<usize>(), prop::option::of(-2i8..=2), prop::option::of(1u64..10))
                .prop_map(|(nth, dprice, qty)| Op::Amend { nth, dprice, qty, wrong_user: false }),
            1 => any::<usize>().prop_map(|nth| Op::Cancel { nth, wrong_user: false }),
            1 => Just(Op::Expire),
        ]), 12..40),
    ) {
        run(&ops)?;
    }
}
