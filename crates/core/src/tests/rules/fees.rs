//! Fee tiers: fixed at acceptance, the broker tier's own schedule.

use super::fixtures::*;
use crate::tests::*;

#[test]
fn tier_fees_are_fixed_at_acceptance() {
    let mut fx = Fx::new();
    fx.ok(CommandKind::SetUserFlags {
        user: BOB,
        kyc_verified: None,
        kill_switch: None,
        tier: Some(Tier::Premium),
    });
    fx.place_ok(limit(ALICE, Side::Sell, 100, 100));
    let ev = fx.place(limit(BOB, Side::Buy, 100, 100));
    // Premium taker: 5 bps of 10_000 = 5; Alice maker 10 bps = 10.
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Trade {
            taker_fee: Amount(5),
            maker_fee: Amount(10),
            ..
        }
    )));
}

#[test]
fn broker_tier_pays_its_own_fees() {
    let mut fx = Fx::new();
    fx.ok(CommandKind::SetUserFlags {
        user: BOB,
        kyc_verified: None,
        kill_switch: None,
        tier: Some(Tier::Broker),
    });
    // Bob takes from standard Alice: broker taker 0 bps, Alice maker 10 bps of 10_000.
    fx.place_ok(limit(ALICE, Side::Sell, 100, 100));
    let ev = fx.place(limit(BOB, Side::Buy, 100, 100));
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Trade {
            taker_fee: Amount(0),
            maker_fee: Amount(10),
            ..
        }
    )));
    assert_eq!(fx.bal(BOB, Q), (START_Q - 10_000, 0), "no fee, no fee hold");
    // Bob makes for standard Carol: broker maker 0, Carol taker 20 bps.
    fx.place_ok(limit(BOB, Side::Sell, 100, 50));
    let ev = fx.place(limit(CAROL, Side::Buy, 100, 50));
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Trade {
            taker_fee: Amount(10),
            maker_fee: Amount(0),
            ..
        }
    )));
    assert_eq!(fx.bal(BOB, Q).0, START_Q - 10_000 + 5_000);
}
