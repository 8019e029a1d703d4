//! Idempotency keys (client order and withdrawal ids): rule tests, and a property that
//! checks the core's amortized bookkeeping against a naive model of the rules (scan every
//! key after every command).

use super::props::{op, resolve, setup, Op};
use super::{limit, Fx, ALICE, B, BOB, M, Q};
use crate::{Core, CoreConfig, WithdrawalView};
use bourse_model::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const DAY: u64 = CoreConfig::DEFAULT_IDEMPOTENCY_WINDOW_MS;

fn cid(s: &str) -> ClientOrderId {
    ClientOrderId::new(s).unwrap()
}

fn with_cid(o: NewOrder, c: &str) -> NewOrder {
    NewOrder {
        client_order_id: Some(cid(c)),
        ..o
    }
}

fn duplicate(original: OrderId) -> Vec<Event> {
    vec![Event::Rejected {
        code: RejectCode::DuplicateClientOrderId,
        order: Some(original),
        withdrawal: None,
        remaining: None,
    }]
}

/// Runs one accepted command at exactly `ts` (`Fx` adds 1 before applying).
fn at(fx: &mut Fx, ts: u64, kind: CommandKind) -> Vec<Event> {
    fx.ts = ts - 1;
    fx.apply(kind)
}

fn place_at(fx: &mut Fx, ts: u64, o: NewOrder) -> Vec<Event> {
    at(fx, ts, CommandKind::PlaceOrder(Box::new(o)))
}

fn accepted(ev: &[Event]) -> OrderId {
    match ev.first() {
        Some(Event::OrderAccepted(info)) => info.id,
        e => panic!("not accepted: {e:?}"),
    }
}

fn remembered(fx: &Fx, user: UserId) -> usize {
    fx.core.users[user.0 as usize - 1].client_ids.len()
}

#[test]
fn a_closed_orders_id_is_a_duplicate_for_the_window_then_free() {
    let mut fx = Fx::new();
    assert_eq!(fx.core.config().idempotency_window_ms, DAY);
    let o = with_cid(limit(BOB, Side::Buy, 50, 1), "abc");
    let t0 = 10_000;
    let first = accepted(&place_at(&mut fx, t0, o.clone()));
    fx.ok(CommandKind::CancelOrder {
        user: BOB,
        order: first,
    });
    assert_eq!(place_at(&mut fx, t0 + 1, o.clone()), duplicate(first));
    assert_eq!(place_at(&mut fx, t0 + DAY - 1, o.clone()), duplicate(first));
    // The window is over at t0 + DAY: the id is free, and names the new order.
    let second = accepted(&place_at(&mut fx, t0 + DAY, o.clone()));
    assert_ne!(second, first);
    assert_eq!(fx.core.order_by_client_id(BOB, &cid("abc")), Some(second));
    assert_eq!(
        place_at(&mut fx, t0 + DAY + 1, o.clone()),
        duplicate(second)
    );
    // An order that ended at once (IOC, nothing to trade) keeps its id just the same.
    let ioc = with_cid(
        NewOrder {
            tif: TimeInForce::Ioc,
            ..limit(ALICE, Side::Buy, 10, 1)
        },
        "ioc",
    );
    let gone = accepted(&place_at(&mut fx, t0 + DAY + 2, ioc.clone()));
    assert!(fx.core.order(gone).is_none());
    assert_eq!(place_at(&mut fx, t0 + DAY + 3, ioc), duplicate(gone));
}

#[test]
fn an_open_orders_id_never_expires() {
    let mut fx = Fx::new();
    fx.ok(CommandKind::SetIdempotencyWindow { ms: 10 });
    let o = with_cid(limit(BOB, Side::Buy, 50, 3), "rest");
    let id = accepted(&place_at(&mut fx, 1_000, o.clone()));
    // Long past the window, with accepted commands pruning in between: still found.
    for t in [1_100, 5_000, 90_000] {
        at(&mut fx, t, CommandKind::ExpireOrders);
        assert_eq!(place_at(&mut fx, t + 1, o.clone()), duplicate(id));
    }
    // A partial fill leaves it open and keeps the id.
    fx.place_ok(limit(ALICE, Side::Sell, 50, 1));
    assert_eq!(fx.place(o.clone()), duplicate(id));
    // Canceled after its window: the id is forgotten with the order.
    fx.ok(CommandKind::CancelOrder {
        user: BOB,
        order: id,
    });
    assert_eq!(fx.core.order_by_client_id(BOB, &cid("rest")), None);
    assert_eq!(remembered(&fx, BOB), 0);
    fx.place_ok(o);
}

#[test]
fn a_filled_maker_forgets_an_expired_id() {
    let mut fx = Fx::new();
    fx.ok(CommandKind::SetIdempotencyWindow { ms: 10 });
    let o = with_cid(limit(BOB, Side::Buy, 50, 2), "mk");
    let id = accepted(&place_at(&mut fx, 1_000, o.clone()));
    at(&mut fx, 2_000, CommandKind::ExpireOrders);
    assert_eq!(remembered(&fx, BOB), 1, "open: kept past its window");
    fx.place_ok(limit(ALICE, Side::Sell, 50, 2));
    assert!(fx.core.order(id).is_none());
    assert_eq!(remembered(&fx, BOB), 0, "filled: forgotten with the order");
    fx.place_ok(o);
}

#[test]
fn the_window_is_state_changed_only_by_command() {
    let mut fx = Fx::new();
    let o = with_cid(limit(BOB, Side::Buy, 50, 1), "w");
    let id = accepted(&place_at(&mut fx, 1_000, o.clone()));
    fx.ok(CommandKind::CancelOrder {
        user: BOB,
        order: id,
    });
    let before = fx.core.state_hash();
    let ev = at(
        &mut fx,
        2_000,
        CommandKind::SetIdempotencyWindow { ms: 500 },
    );
    assert!(ev.is_empty(), "no event: {ev:?}");
    assert_eq!(fx.core.config().idempotency_window_ms, 500);
    assert_ne!(fx.core.state_hash(), before, "the window is in the state");
    // The shorter window applied at once: the key of 1 000 is gone by 2 000.
    assert_eq!(remembered(&fx, BOB), 0);
    let restored = Core::restore(&fx.core.snapshot()).unwrap();
    assert_eq!(restored.config().idempotency_window_ms, 500);
    fx.place_ok(o);
}

#[test]
fn a_rejected_command_forgets_nothing_but_an_expired_id_is_free() {
    let mut fx = Fx::new();
    fx.ok(CommandKind::SetIdempotencyWindow { ms: 100 });
    let o = with_cid(limit(BOB, Side::Buy, 50, 1), "r");
    let id = accepted(&place_at(&mut fx, 1_000, o.clone()));
    fx.ok(CommandKind::CancelOrder {
        user: BOB,
        order: id,
    });
    // Past the window; `Fx` checks the rejection left the state hash unchanged.
    let code = fx.place_rej(NewOrder {
        market: MarketId(9),
        ..o.clone()
    });
    assert_eq!(code, RejectCode::UnknownMarket);
    fx.ts = 1_200;
    assert_eq!(
        fx.place_rej(NewOrder {
            market: MarketId(9),
            ..o.clone()
        }),
        RejectCode::UnknownMarket
    );
    assert_eq!(fx.core.order_by_client_id(BOB, &cid("r")), Some(id));
    // Not yet forgotten, but no longer a duplicate either.
    let again = fx.place_ok(o);
    assert_eq!(fx.core.order_by_client_id(BOB, &cid("r")), Some(again));
}

#[test]
fn time_running_backwards_never_frees_an_id_early() {
    let mut fx = Fx::new();
    fx.ok(CommandKind::SetIdempotencyWindow { ms: 100 });
    let a = with_cid(
        NewOrder {
            tif: TimeInForce::Ioc,
            ..limit(BOB, Side::Buy, 10, 1)
        },
        "a",
    );
    let b = with_cid(a.clone(), "b");
    let ida = accepted(&place_at(&mut fx, 10_000, a.clone()));
    // A command stamped earlier: its key counts from 10 000, the latest key's time.
    let idb = accepted(&place_at(&mut fx, 5_000, b.clone()));
    assert_eq!(place_at(&mut fx, 10_099, b.clone()), duplicate(idb));
    assert_eq!(place_at(&mut fx, 10_099, a.clone()), duplicate(ida));
    fx.place_ok(a);
    fx.place_ok(b);
}

#[test]
fn keys_are_pruned_so_the_queue_stays_bounded() {
    let mut fx = Fx::new();
    fx.ok(CommandKind::SetIdempotencyWindow { ms: 50 });
    for i in 0..500u64 {
        let o = with_cid(
            NewOrder {
                tif: TimeInForce::Ioc,
                ..limit(BOB, Side::Buy, 10, 1)
            },
            &format!("k{}", i % 7),
        );
        // One place every 10 ms, each key again after 70 ms: always free by then.
        accepted(&place_at(&mut fx, 1_000 + i * 10, o));
        // Only the keys of the last 50 ms are left.
        assert!(fx.core.keys.len() <= 5, "queue: {}", fx.core.keys.len());
        assert!(remembered(&fx, BOB) <= 5);
    }
}

#[test]
fn restore_midway_behaves_like_the_original() {
    // Pinned keys (open past the window), stale queue entries (a key used again) and a
    // window change, snapshotted at every step and resumed.
    let mut fx = Fx::new();
    let mut cmds = vec![
        Command::new(1_000, CommandKind::SetIdempotencyWindow { ms: 30 }),
        Command::new(
            1_001,
            CommandKind::PlaceOrder(Box::new(with_cid(limit(BOB, Side::Buy, 50, 3), "x"))),
        ),
        Command::new(
            1_002,
            CommandKind::PlaceOrder(Box::new(with_cid(
                NewOrder {
                    tif: TimeInForce::Ioc,
                    ..limit(ALICE, Side::Buy, 10, 1)
                },
                "y",
            ))),
        ),
        Command::new(1_003, withdraw(ALICE, 5, "k")),
        Command::new(1_004, withdraw(BOB, 5, "k")),
        Command::new(
            1_005,
            CommandKind::CompleteWithdrawal {
                id: WithdrawalId(2),
            },
        ),
        Command::new(1_040, CommandKind::ExpireOrders),
        Command::new(
            1_041,
            CommandKind::PlaceOrder(Box::new(with_cid(
                NewOrder {
                    tif: TimeInForce::Ioc,
                    ..limit(ALICE, Side::Buy, 10, 1)
                },
                "y",
            ))),
        ),
        Command::new(
            1_042,
            CommandKind::PlaceOrder(Box::new(limit(ALICE, Side::Sell, 50, 1))),
        ),
        Command::new(1_050, CommandKind::SetIdempotencyWindow { ms: 1_000 }),
        Command::new(
            1_060,
            CommandKind::PlaceOrder(Box::new(limit(ALICE, Side::Sell, 50, 2))),
        ),
        Command::new(
            1_061,
            CommandKind::PlaceOrder(Box::new(with_cid(limit(BOB, Side::Buy, 50, 3), "x"))),
        ),
        Command::new(3_000, CommandKind::ExpireOrders),
    ];
    cmds.push(Command::new(
        3_001,
        CommandKind::CancelAll {
            user: BOB,
            market: Some(M),
        },
    ));
    cmds.push(Command::new(3_002, withdraw(BOB, 6, "k")));
    cmds.push(Command::new(
        3_003,
        CommandKind::RejectWithdrawal {
            id: WithdrawalId(1),
        },
    ));
    cmds.push(Command::new(3_004, withdraw(ALICE, 7, "k")));
    let mut snaps = Vec::new();
    for c in &cmds {
        snaps.push(fx.core.snapshot());
        fx.core.apply(c);
        fx.core.check_invariants().unwrap();
    }
    for (i, snap) in snaps.iter().enumerate() {
        let mut resumed = Core::restore(snap).unwrap();
        for c in &cmds[i..] {
            resumed.apply(c);
            resumed.check_invariants().unwrap();
        }
        assert_eq!(resumed.state_hash(), fx.core.state_hash(), "resumed at {i}");
    }
}

fn wkey(s: &str) -> ClientWithdrawalId {
    ClientWithdrawalId::new(s).unwrap()
}

fn withdraw(user: UserId, amount: u64, key: &str) -> CommandKind {
    withdraw_to(user, B, amount, "addr-1", key)
}

fn withdraw_to(user: UserId, asset: AssetId, amount: u64, address: &str, key: &str) -> CommandKind {
    CommandKind::RequestWithdrawal {
        user,
        asset,
        amount: Amount(amount),
        address: address.into(),
        client_withdrawal_id: Some(wkey(key)),
    }
}

fn requested(ev: &[Event]) -> WithdrawalId {
    match ev.first() {
        Some(Event::WithdrawalRequested { id, .. }) => *id,
        e => panic!("not requested: {e:?}"),
    }
}

fn duplicate_withdrawal(original: WithdrawalId) -> Vec<Event> {
    vec![Event::Rejected {
        code: RejectCode::DuplicateClientWithdrawalId,
        order: None,
        withdrawal: Some(original),
        remaining: None,
    }]
}

#[test]
fn a_withdrawal_key_answers_the_original_and_holds_nothing_more() {
    let mut fx = Fx::new();
    let t0 = 10_000;
    let w = requested(&at(&mut fx, t0, withdraw(ALICE, 10, "w1")));
    let held = fx.bal(ALICE, B);
    assert_eq!(held.1, 10);
    // The same request again, and one with another body: both name the original, and
    // nothing is held twice (`Fx` checks the state did not change).
    assert_eq!(fx.apply(withdraw(ALICE, 10, "w1")), duplicate_withdrawal(w));
    let other = withdraw_to(ALICE, Q, 99, "elsewhere", "w1");
    assert_eq!(fx.apply(other), duplicate_withdrawal(w));
    assert_eq!(fx.bal(ALICE, B), held);
    // What a gateway compares a retry's body with.
    let original = WithdrawalView {
        id: w,
        user: ALICE,
        asset: B,
        amount: Amount(10),
        address: "addr-1".into(),
        client_withdrawal_id: Some(wkey("w1")),
        requested_at: Timestamp(t0),
    };
    assert_eq!(
        fx.core.withdrawal_by_client_id(ALICE, &wkey("w1")),
        Some(original.clone())
    );
    assert_eq!(fx.core.withdrawal(w), Some(original.clone()));
    assert_eq!(fx.core.pending_withdrawals(), vec![original.clone()]);
    // Finished, the key and the original are still remembered for the window.
    fx.ok(CommandKind::CompleteWithdrawal { id: w });
    assert_eq!(fx.core.withdrawal(w), None);
    assert_eq!(fx.apply(withdraw(ALICE, 10, "w1")), duplicate_withdrawal(w));
    assert_eq!(
        fx.core.withdrawal_by_client_id(ALICE, &wkey("w1")),
        Some(original)
    );
    // Keys are per user; order ids and withdrawal ids are separate namespaces.
    requested(&fx.ok(withdraw(BOB, 1, "w1")));
    fx.place_ok(with_cid(limit(ALICE, Side::Buy, 50, 1), "w1"));
    // After the window the key is free and names the new withdrawal.
    let again = requested(&at(&mut fx, t0 + DAY, withdraw(ALICE, 3, "w1")));
    assert_ne!(again, w);
    let view = fx.core.withdrawal_by_client_id(ALICE, &wkey("w1")).unwrap();
    assert_eq!((view.id, view.amount), (again, Amount(3)));
}

#[test]
fn a_pending_withdrawals_key_never_expires() {
    let mut fx = Fx::new();
    fx.ok(CommandKind::SetIdempotencyWindow { ms: 10 });
    let w = requested(&at(&mut fx, 1_000, withdraw(ALICE, 10, "p")));
    for t in [1_100, 50_000] {
        at(&mut fx, t, CommandKind::ExpireOrders);
        assert_eq!(fx.apply(withdraw(ALICE, 10, "p")), duplicate_withdrawal(w));
    }
    // Rejected by an admin after its window: the funds come back and the key is free.
    fx.ok(CommandKind::RejectWithdrawal { id: w });
    assert_eq!(fx.core.withdrawal_by_client_id(ALICE, &wkey("p")), None);
    requested(&fx.ok(withdraw(ALICE, 10, "p")));
}

#[test]
fn a_duplicate_withdrawal_key_is_answered_before_kyc_and_balance() {
    let mut fx = Fx::new();
    let all = fx.bal(ALICE, B).0;
    let w = requested(&fx.ok(withdraw(ALICE, all, "d")));
    fx.ok(CommandKind::SetKycPolicy { required: true });
    assert_eq!(fx.apply(withdraw(ALICE, all, "d")), duplicate_withdrawal(w));
    assert_eq!(
        fx.apply(withdraw(ALICE, all + 1, "d")),
        duplicate_withdrawal(w)
    );
    // The user and the asset are checked first.
    assert_eq!(
        fx.rej(withdraw_to(ALICE, AssetId(7), 1, "a", "d")),
        RejectCode::UnknownAsset
    );
    assert_eq!(fx.rej(withdraw(UserId(9), 1, "d")), RejectCode::UnknownUser);
    // A refused request remembers nothing: the key stays free for the next one.
    assert_eq!(fx.rej(withdraw(BOB, 1, "e")), RejectCode::KycRequired);
    assert_eq!(fx.core.withdrawal_by_client_id(BOB, &wkey("e")), None);
}

/// One key in the model: its target, time of use, whether its window passed while the
/// target was open, and (withdrawals) the original request.
type Key<T> = (T, u64, bool);

/// The rules, naively: every key, checked against every rule after every command.
#[derive(Default)]
struct Model {
    orders: BTreeMap<(UserId, ClientOrderId), Key<OrderId>>,
    withdrawals: BTreeMap<(UserId, ClientWithdrawalId), Key<WithdrawalView>>,
}

fn live<T>(core: &Core, (_, at, _): &Key<T>, open: bool, ts: u64) -> bool {
    open || at.saturating_add(core.config().idempotency_window_ms) > ts
}

/// Applies the end of a target and the prune of an accepted command at `ts`.
fn settle<K: Ord, T>(
    keys: &mut BTreeMap<K, Key<T>>,
    ended: &[u64],
    id: impl Fn(&T) -> u64,
    open: impl Fn(&T) -> bool,
    prune: Option<(u64, u64)>,
) {
    keys.retain(|_, (t, _, pinned)| !(*pinned && ended.contains(&id(t))));
    if let Some((ts, window)) = prune {
        keys.retain(|_, (t, at, pinned)| {
            if at.saturating_add(window) > ts {
                return true;
            }
            *pinned = true;
            open(t)
        });
    }
}

impl Model {
    /// The rejection a command must get for its key, if it passes the checks before it.
    fn expected(&self, core: &Core, cmd: &Command) -> Option<Vec<Event>> {
        let ts = cmd.ts.0;
        match &cmd.kind {
            CommandKind::PlaceOrder(o)
                if core.user(o.user).is_some() && core.market(o.market).is_some() =>
            {
                let k = self.orders.get(&(o.user, o.client_order_id.clone()?))?;
                live(core, k, core.order(k.0).is_some(), ts).then(|| duplicate(k.0))
            }
            CommandKind::RequestWithdrawal {
                user,
                asset,
                client_withdrawal_id: Some(c),
                ..
            } if core.user(*user).is_some() && core.asset(*asset).is_some() => {
                let k = self.withdrawals.get(&(*user, c.clone()))?;
                let open = core.withdrawal(k.0.id).is_some();
                live(core, k, open, ts).then(|| duplicate_withdrawal(k.0.id))
            }
            _ => None,
        }
    }

    fn after(&mut self, core: &Core, cmd: &Command, events: &[Event]) {
        let ts = cmd.ts.0;
        match (&cmd.kind, events.first()) {
            (CommandKind::PlaceOrder(o), Some(Event::OrderAccepted(info))) => {
                if let Some(c) = &o.client_order_id {
                    self.orders
                        .insert((o.user, c.clone()), (info.id, ts, false));
                }
            }
            (
                CommandKind::RequestWithdrawal {
                    user,
                    asset,
                    amount,
                    address,
                    client_withdrawal_id: Some(c),
                },
                Some(Event::WithdrawalRequested { id, .. }),
            ) => {
                let original = WithdrawalView {
                    id: *id,
                    user: *user,
                    asset: *asset,
                    amount: *amount,
                    address: address.clone(),
                    client_withdrawal_id: Some(c.clone()),
                    requested_at: cmd.ts,
                };
                self.withdrawals
                    .insert((*user, c.clone()), (original, ts, false));
            }
            _ => {}
        }
        let mut orders_ended = Vec::new();
        let mut withdrawals_ended = Vec::new();
        for e in events {
            match e {
                Event::OrderFilled { order, .. }
                | Event::OrderCanceled { order, .. }
                | Event::OrderExpired { order, .. } => orders_ended.push(order.0),
                Event::WithdrawalCompleted { id, .. } | Event::WithdrawalRejected { id, .. } => {
                    withdrawals_ended.push(id.0)
                }
                _ => {}
            }
        }
        let accepted = !matches!(events, [Event::Rejected { .. }]);
        let prune = accepted.then_some((ts, core.config().idempotency_window_ms));
        let open = |o: &OrderId| core.order(*o).is_some();
        settle(&mut self.orders, &orders_ended, |o| o.0, open, prune);
        let pending = |w: &WithdrawalView| core.withdrawal(w.id).is_some();
        settle(
            &mut self.withdrawals,
            &withdrawals_ended,
            |w| w.id.0,
            pending,
            prune,
        );
    }

    fn check(&self, core: &Core) -> Result<(), TestCaseError> {
        let mut orders = BTreeMap::new();
        let mut withdrawals = BTreeMap::new();
        for (i, u) in core.users.iter().enumerate() {
            let user = UserId(i as u64 + 1);
            for (c, r) in &u.client_ids {
                orders.insert((user, c.clone()), (r.target, r.at.0, !r.queued));
            }
            for c in u.client_withdrawals.keys() {
                let view = core.withdrawal_by_client_id(user, c).unwrap();
                let r = &u.client_withdrawals[c];
                withdrawals.insert((user, c.clone()), (view, r.at.0, !r.queued));
            }
        }
        prop_assert_eq!(&orders, &self.orders);
        prop_assert_eq!(&withdrawals, &self.withdrawals);
        Ok(())
    }
}

fn run_model(ops: &[(u8, Op)]) -> Result<(), TestCaseError> {
    let mut core = Core::new(CoreConfig::default());
    for c in setup() {
        core.apply(&c);
    }
    let mut model = Model::default();
    let mut ts = 1_000;
    for (dt, op) in ops {
        ts += u64::from(*dt);
        let cmd = Command::new(ts, resolve(&core, op, ts));
        let expected = model.expected(&core, &cmd);
        let events = core.apply(&cmd);
        match expected {
            Some(rejection) => prop_assert_eq!(&events, &rejection, "{:?}", cmd),
            None => prop_assert!(
                !matches!(
                    events.first(),
                    Some(Event::Rejected {
                        code: RejectCode::DuplicateClientOrderId
                            | RejectCode::DuplicateClientWithdrawalId,
                        ..
                    })
                ),
                "{:?} -> {:?}",
                cmd,
                events
            ),
        }
        model.after(&core, &cmd, &events);
        model.check(&core)?;
        core.check_invariants().map_err(TestCaseError::fail)?;
    }
    let restored = Core::restore(&core.snapshot()).unwrap();
    prop_assert_eq!(restored.state_hash(), core.state_hash());
    Ok(())
}

/// Places and withdrawals with keys most of the time, more withdrawals and their ends
/// than in `props`.
fn keyed_op() -> impl Strategy<Value = Op> {
    let op = prop_oneof![
        4 => op(),
        1 => (1u8..=3, 0u8..3, 1u64..400, 0u8..3).prop_map(|(user, asset, amount, k)| {
            Op::Withdraw { user, asset, amount, key: Some(k) }
        }),
        1 => (1u64..12, any::<bool>()).prop_map(|(id, complete)| Op::FinishWithdrawal { id, complete }),
    ];
    (op, 0u8..4).prop_map(|(op, c)| match op {
        Op::Place(mut p) if p.cid.is_none() => {
            p.cid = Some(c);
            Op::Place(p)
        }
        other => other,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_500, max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    /// After every command the remembered keys are exactly the model's (withdrawal keys
    /// with their original requests), and every place or withdrawal with a key answers
    /// what the rules say: a duplicate naming the original while the key is live (open
    /// order or pending withdrawal, or inside the window), never otherwise.
    #[test]
    fn client_ids_follow_the_rules(
        ops in prop::collection::vec((0u8..25, keyed_op()), 10..60),
    ) {
        run_model(&ops)?;
    }
}
