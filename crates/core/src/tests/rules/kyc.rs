//! The KYC policy and the user switches (KYC verified, kill switch): what they refuse and
//! which orders they cancel.

use super::fixtures::*;
use crate::tests::*;
use bourse_model::RejectCode::*;

#[test]
fn kill_switch_and_kyc() {
    let mut fx = Fx::with(
        CoreConfig {
            kyc_required: true,
            ..CoreConfig::default()
        },
        toy_spec("B-Q", 0, 1),
    );
    assert_eq!(fx.place_rej(limit(ALICE, Side::Sell, 100, 1)), KycRequired);
    let wd = CommandKind::RequestWithdrawal {
        user: ALICE,
        asset: Q,
        amount: Amount(1),
        address: "a".into(),
        client_withdrawal_id: None,
    };
    assert_eq!(fx.rej(wd.clone()), KycRequired);
    let flags = |kyc, kill| CommandKind::SetUserFlags {
        user: ALICE,
        kyc_verified: kyc,
        kill_switch: kill,
        tier: None,
    };
    fx.ok(flags(Some(true), None));
    fx.ok(wd);
    fx.place_ok(limit(ALICE, Side::Sell, 100, 1));
    fx.place_ok(limit(ALICE, Side::Buy, 90, 1));
    let ev = fx.ok(flags(None, Some(true)));
    let canceled = ev
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::OrderCanceled {
                    reason: CancelReason::KillSwitch,
                    ..
                }
            )
        })
        .count();
    assert_eq!(canceled, 2);
    assert_eq!(fx.bal(ALICE, B).1, 0);
    assert_eq!(fx.bal(ALICE, Q).1, 1); // the pending withdrawal stays
    assert_eq!(
        fx.place_rej(limit(ALICE, Side::Sell, 100, 1)),
        KillSwitchActive
    );
    fx.ok(flags(None, Some(false)));
    fx.place_ok(limit(ALICE, Side::Sell, 100, 1));
}

/// The `OrderCanceled` events of `ev` with their reasons.
fn cancels(ev: &[Event]) -> Vec<(OrderId, CancelReason)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::OrderCanceled { order, reason, .. } => Some((*order, *reason)),
            _ => None,
        })
        .collect()
}

fn verify(user: UserId, kyc: bool) -> CommandKind {
    CommandKind::SetUserFlags {
        user,
        kyc_verified: Some(kyc),
        kill_switch: None,
        tier: None,
    }
}

#[test]
fn kyc_policy_is_state_changed_only_by_command() {
    let mut fx = Fx::new();
    let mut log = Vec::new();
    let mut run = |fx: &mut Fx, kind: CommandKind| {
        log.push(Command::new(fx.ts + 1, kind.clone()));
        fx.ok(kind)
    };
    assert!(
        !fx.core.config().kyc_required,
        "a fresh core starts without"
    );
    run(&mut fx, verify(BOB, true));
    // Policy off: unverified Alice trades and leaves a resting order and a stop.
    run(
        &mut fx,
        CommandKind::PlaceOrder(Box::new(limit(ALICE, Side::Sell, 100, 3))),
    );
    run(
        &mut fx,
        CommandKind::PlaceOrder(Box::new(limit(BOB, Side::Buy, 100, 1))),
    );
    let rest = fx.core.open_orders(ALICE)[0].id;
    let stop = OrderId(fx.core.next_order);
    run(
        &mut fx,
        CommandKind::PlaceOrder(Box::new(stop_buy(ALICE, 110, 111, 1))),
    );
    let bob = OrderId(fx.core.next_order);
    run(
        &mut fx,
        CommandKind::PlaceOrder(Box::new(limit(BOB, Side::Buy, 90, 1))),
    );
    assert_eq!(fx.bal(ALICE, B), (START_B - 3, 2));

    // On: the unverified user's open orders are canceled (holds released), no event of
    // its own; the verified user's order stays.
    let ev = run(&mut fx, CommandKind::SetKycPolicy { required: true });
    assert_eq!(
        cancels(&ev),
        vec![
            (rest, CancelReason::KycRequired),
            (stop, CancelReason::KycRequired)
        ]
    );
    assert!(fx.core.config().kyc_required);
    assert_eq!(fx.bal(ALICE, B), (START_B - 1, 0));
    assert_eq!(fx.bal(ALICE, Q).1, 0);
    assert!(fx.core.order(bob).is_some());
    assert_eq!(fx.place_rej(limit(ALICE, Side::Sell, 100, 1)), KycRequired);
    assert_eq!(
        fx.rej(CommandKind::AmendOrder {
            user: ALICE,
            order: rest,
            price: None,
            qty: Some(Qty(2)),
        }),
        KycRequired
    );
    // Same value again: nothing happens.
    let before = fx.core.state_hash();
    assert!(run(&mut fx, CommandKind::SetKycPolicy { required: true }).is_empty());
    assert_eq!(fx.core.state_hash(), before);

    // Replay from a default core gives the same state; so does a snapshot.
    let mut replay = Core::new(CoreConfig::default());
    let setup = Fx::new();
    for c in setup_commands() {
        replay.apply(&c);
    }
    assert_eq!(replay.state_hash(), setup.core.state_hash());
    for c in &log {
        replay.apply(c);
    }
    assert_eq!(replay.state_hash(), fx.core.state_hash());
    let restored = Core::restore(&fx.core.snapshot()).unwrap();
    assert!(restored.config().kyc_required);
    assert_eq!(restored.state_hash(), fx.core.state_hash());

    // Off again: Alice trades.
    fx.ok(CommandKind::SetKycPolicy { required: false });
    fx.place_ok(limit(ALICE, Side::Sell, 100, 1));
}

/// The commands `Fx::new` applies, for a replay from scratch.
fn setup_commands() -> Vec<Command> {
    let mut ts = 1_000;
    let spec = toy_spec("B-Q", 0, 1);
    let mut kinds = vec![
        CommandKind::CreateAsset {
            symbol: sym("B"),
            scale: 0,
        },
        CommandKind::CreateAsset {
            symbol: sym("Q"),
            scale: 0,
        },
        CommandKind::CreateMarket(Box::new(spec)),
    ];
    for name in ["alice", "bob", "carol"] {
        kinds.push(CommandKind::RegisterUser {
            username: name.into(),
            password_hash: "h".into(),
            role: Role::Trader,
        });
    }
    for u in [ALICE, BOB, CAROL] {
        for (asset, amount) in [(B, START_B), (Q, START_Q)] {
            kinds.push(CommandKind::Deposit {
                user: u,
                asset,
                amount: Amount(amount),
            });
        }
    }
    kinds
        .into_iter()
        .map(|k| {
            ts += 1;
            Command::new(ts, k)
        })
        .collect()
}

#[test]
fn kyc_revoked_while_required_cancels_the_users_orders() {
    let mut fx = Fx::with(
        CoreConfig {
            kyc_required: true,
            ..CoreConfig::default()
        },
        toy_spec("B-Q", 0, 1),
    );
    for u in [ALICE, BOB, CAROL] {
        fx.ok(verify(u, true));
    }
    let rest = fx.place_ok(limit(ALICE, Side::Sell, 105, 2));
    let stop = fx.place_ok(stop_buy(ALICE, 110, 111, 1));
    let bob = fx.place_ok(limit(BOB, Side::Buy, 90, 1));
    fx.ok(CommandKind::RequestWithdrawal {
        user: ALICE,
        asset: Q,
        amount: Amount(7),
        address: "a".into(),
        client_withdrawal_id: None,
    });
    let ev = fx.ok(verify(ALICE, false));
    assert!(matches!(
        ev[0],
        Event::UserFlagsChanged {
            kyc_verified: false,
            ..
        }
    ));
    assert_eq!(
        cancels(&ev),
        vec![
            (rest, CancelReason::KycRequired),
            (stop, CancelReason::KycRequired)
        ]
    );
    assert!(fx.core.open_orders(ALICE).is_empty());
    assert_eq!(fx.bal(ALICE, B).1, 0);
    assert_eq!(fx.bal(ALICE, Q).1, 7, "the pending withdrawal stays");
    assert!(fx.core.order(bob).is_some(), "other users keep theirs");
    let amend = |order| CommandKind::AmendOrder {
        user: ALICE,
        order,
        price: Some(Price(104)),
        qty: None,
    };
    assert_eq!(fx.rej(amend(rest)), KycRequired);
    assert_eq!(fx.rej(amend(OrderId(999))), KycRequired);

    // Kill switch and revocation together: the kill switch's reason wins.
    fx.ok(verify(ALICE, true));
    let rest = fx.place_ok(limit(ALICE, Side::Sell, 105, 2));
    let ev = fx.ok(CommandKind::SetUserFlags {
        user: ALICE,
        kyc_verified: Some(false),
        kill_switch: Some(true),
        tier: None,
    });
    assert_eq!(cancels(&ev), vec![(rest, CancelReason::KillSwitch)]);

    // Policy off: revoking KYC keeps the orders.
    fx.ok(CommandKind::SetKycPolicy { required: false });
    let c = fx.place_ok(limit(CAROL, Side::Sell, 106, 1));
    let ev = fx.ok(verify(CAROL, false));
    assert!(cancels(&ev).is_empty());
    assert!(fx.core.order(c).is_some());
    fx.ok(CommandKind::AmendOrder {
        user: CAROL,
        order: c,
        price: None,
        qty: Some(Qty(2)),
    });
}
