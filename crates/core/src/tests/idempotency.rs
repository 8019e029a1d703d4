//! Idempotency keys: rule tests, and a property that checks the core's amortized
//! bookkeeping against a naive model of the rules (scan every key after every command).

use super::props::{op, resolve, setup, Op};
use super::{limit, Fx, ALICE, BOB, M};
use crate::{Core, CoreConfig};
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

/// The rules, naively: every key with its target, time of use and whether its window
/// passed while the target was open.
#[derive(Default)]
struct Model {
    keys: BTreeMap<(UserId, ClientOrderId), (OrderId, u64, bool)>,
}

impl Model {
    /// What a place with this key must answer, if it passes the user and market checks.
    fn duplicate_of(
        &self,
        core: &Core,
        user: UserId,
        c: &ClientOrderId,
        ts: u64,
    ) -> Option<OrderId> {
        let window = core.config().idempotency_window_ms;
        self.keys
            .get(&(user, c.clone()))
            .filter(|(o, at, _)| core.order(*o).is_some() || at.saturating_add(window) > ts)
            .map(|(o, ..)| *o)
    }

    fn after(&mut self, core: &Core, cmd: &Command, events: &[Event]) {
        let ts = cmd.ts.0;
        if let (CommandKind::PlaceOrder(o), Some(Event::OrderAccepted(info))) =
            (&cmd.kind, events.first())
        {
            if let Some(c) = &o.client_order_id {
                self.keys.insert((o.user, c.clone()), (info.id, ts, false));
            }
        }
        for e in events {
            let ended = match e {
                Event::OrderFilled { order, .. }
                | Event::OrderCanceled { order, .. }
                | Event::OrderExpired { order, .. } => *order,
                _ => continue,
            };
            self.keys
                .retain(|_, (o, _, pinned)| !(*o == ended && *pinned));
        }
        if matches!(events, [Event::Rejected { .. }]) {
            return;
        }
        let window = core.config().idempotency_window_ms;
        self.keys.retain(|_, (o, at, pinned)| {
            if at.saturating_add(window) > ts {
                return true;
            }
            *pinned = true;
            core.order(*o).is_some()
        });
    }

    fn check(&self, core: &Core) -> Result<(), TestCaseError> {
        let mut have = BTreeMap::new();
        for (i, u) in core.users.iter().enumerate() {
            for (c, r) in &u.client_ids {
                have.insert(
                    (UserId(i as u64 + 1), c.clone()),
                    (r.target, r.at.0, !r.queued),
                );
            }
        }
        prop_assert_eq!(&have, &self.keys);
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
        let expected = match &cmd.kind {
            CommandKind::PlaceOrder(o)
                if core.user(o.user).is_some() && core.market(o.market).is_some() =>
            {
                o.client_order_id
                    .as_ref()
                    .and_then(|c| model.duplicate_of(&core, o.user, c, ts))
            }
            _ => None,
        };
        let events = core.apply(&cmd);
        match expected {
            Some(orig) => prop_assert_eq!(&events, &duplicate(orig), "{:?}", cmd),
            None => prop_assert!(
                !matches!(
                    events.first(),
                    Some(Event::Rejected {
                        code: RejectCode::DuplicateClientOrderId,
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
    Ok(())
}

/// Places with client ids most of the time, time moving in larger steps than `props`.
fn keyed_op() -> impl Strategy<Value = Op> {
    (op(), 0u8..4).prop_map(|(op, c)| match op {
        Op::Place(mut p) if p.cid.is_none() => {
            p.cid = Some(c);
            Op::Place(p)
        }
        other => other,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_500, max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    /// After every command the remembered keys are exactly the model's, and every place
    /// with a key answers what the rules say: a duplicate naming the original while the
    /// key is live (open order, or inside the window), never otherwise.
    #[test]
    fn client_ids_follow_the_rules(
        ops in prop::collection::vec((0u8..25, keyed_op()), 10..60),
    ) {
        run_model(&ops)?;
    }
}
