//! KYC levels (`crate::kyc`): the trading gate, the withdrawal gate and the daily
//! withdrawal limit, checked against the rules and against a reference model.

use crate::kyc::DAY_MS;
use crate::tests::*;
use bourse_model::RejectCode::*;
use bourse_model::{AssetLimit, KycLevel, LimitAmount, WithdrawalId};
use proptest::prelude::*;

/// Level 0 may not trade or withdraw; level 1 may both, up to 100 Q a day (written
/// "100.00": Q has scale 0 in the toy market, so 100 units); level 2 has no limit.
fn levels() -> Vec<KycLevel> {
    vec![
        KycLevel {
            may_trade: false,
            may_withdraw: false,
            daily_withdrawal_limits: vec![],
        },
        KycLevel {
            daily_withdrawal_limits: vec![AssetLimit {
                asset: sym("Q"),
                amount: LimitAmount::parse("100.00").unwrap(),
            }],
            ..KycLevel::open()
        },
        KycLevel::open(),
    ]
}

fn set_level(user: UserId, level: u8) -> CommandKind {
    CommandKind::SetUserCompliance {
        user,
        kyc_level: Some(level),
        beneficial_owner: None,
    }
}

fn withdraw(user: UserId, amount: u64) -> CommandKind {
    CommandKind::RequestWithdrawal {
        user,
        asset: Q,
        amount: Amount(amount),
        address: "a".into(),
        client_withdrawal_id: None,
    }
}

/// The `remaining` of a `WITHDRAWAL_LIMIT` rejection.
fn over_limit(fx: &mut Fx, kind: CommandKind) -> u64 {
    match fx.apply(kind).as_slice() {
        [Event::Rejected {
            code: WithdrawalLimit,
            remaining: Some(r),
            ..
        }] => r.0,
        ev => panic!("not WITHDRAWAL_LIMIT: {ev:?}"),
    }
}

fn leveled() -> Fx {
    let mut fx = Fx::new();
    fx.ok(CommandKind::SetKycLevels { levels: levels() });
    fx
}

#[test]
fn a_level_that_may_not_trade_or_withdraw_is_refused_and_loses_its_orders() {
    let mut fx = Fx::new();
    fx.place_ok(limit(ALICE, Side::Sell, 100, 1));
    fx.place_ok(limit(BOB, Side::Sell, 100, 1));
    fx.ok(set_level(BOB, 2));
    // Everyone starts at level 0, which now may not trade: open orders of level-0 users
    // are canceled, Bob's (level 2) stay.
    let ev = fx.ok(CommandKind::SetKycLevels { levels: levels() });
    let canceled: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::OrderCanceled { user, reason, .. } => Some((*user, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(canceled, vec![(ALICE, CancelReason::KycRequired)]);
    assert_eq!(fx.place_rej(limit(ALICE, Side::Sell, 100, 1)), KycRequired);
    assert_eq!(fx.rej(withdraw(ALICE, 1)), KycRequired);
    fx.ok(set_level(ALICE, 1));
    let id = fx.place_ok(limit(ALICE, Side::Sell, 100, 1));
    // Back to 0: the order goes, amends are refused like places.
    let ev = fx.ok(set_level(ALICE, 0));
    assert!(matches!(
        ev[0],
        Event::UserComplianceChanged { kyc_level: 0, .. }
    ));
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::OrderCanceled { order, reason: CancelReason::KycRequired, .. } if *order == id
    )));
    let amend = CommandKind::AmendOrder {
        user: ALICE,
        order: id,
        price: Some(Price(101)),
        qty: None,
    };
    assert_eq!(fx.rej(amend), KycRequired);
}

#[test]
fn the_daily_limit_under_at_over_and_the_next_day() {
    let mut fx = leveled();
    fx.ok(set_level(ALICE, 1));
    fx.ts = 5 * DAY_MS; // midnight UTC
    fx.ok(withdraw(ALICE, 30));
    assert_eq!(
        fx.core.withdrawal_allowance(ALICE, Q, Timestamp(fx.ts)),
        Some(70)
    );
    let before = fx.bal(ALICE, Q);
    assert_eq!(over_limit(&mut fx, withdraw(ALICE, 71)), 70);
    assert_eq!(
        fx.bal(ALICE, Q),
        before,
        "a refused withdrawal moves nothing"
    );
    fx.ok(withdraw(ALICE, 70)); // exactly at the limit
    assert_eq!(over_limit(&mut fx, withdraw(ALICE, 1)), 0);
    // Another asset has no limit at level 1.
    fx.ok(CommandKind::RequestWithdrawal {
        user: ALICE,
        asset: B,
        amount: Amount(999),
        address: "a".into(),
        client_withdrawal_id: None,
    });
    // The last millisecond of the day is still that day; the next starts from zero.
    fx.ts = 6 * DAY_MS - 2;
    assert_eq!(over_limit(&mut fx, withdraw(ALICE, 1)), 0);
    fx.ts = 6 * DAY_MS - 1;
    fx.ok(withdraw(ALICE, 100));
    assert_eq!(over_limit(&mut fx, withdraw(ALICE, 1)), 0);
    // Level 2 has no limit; back at level 1 the day's requests still count.
    fx.ok(set_level(ALICE, 2));
    fx.ok(withdraw(ALICE, 500));
    fx.ok(set_level(ALICE, 1));
    assert_eq!(over_limit(&mut fx, withdraw(ALICE, 1)), 0);
}

#[test]
fn a_rejected_withdrawal_gives_its_allowance_back_a_completed_one_does_not() {
    let mut fx = leveled();
    fx.ok(set_level(ALICE, 1));
    fx.ts = 9 * DAY_MS + 10;
    fx.ok(withdraw(ALICE, 60)); // withdrawal 1
    fx.ok(withdraw(ALICE, 40)); // withdrawal 2
    fx.ok(CommandKind::CompleteWithdrawal {
        id: WithdrawalId(1),
    });
    fx.ok(CommandKind::RejectWithdrawal {
        id: WithdrawalId(2),
    });
    assert_eq!(over_limit(&mut fx, withdraw(ALICE, 41)), 40);
    fx.ok(withdraw(ALICE, 40));
    // Rejected on a later day: the earlier day's amount is not given to today.
    fx.ts = 10 * DAY_MS;
    fx.ok(withdraw(ALICE, 100)); // withdrawal 4
    fx.ok(CommandKind::RejectWithdrawal {
        id: WithdrawalId(3),
    });
    assert_eq!(over_limit(&mut fx, withdraw(ALICE, 1)), 0);
}

#[test]
fn limits_finer_than_the_asset_round_down_and_bad_input_is_refused() {
    let mut fx = Fx::new();
    let mut l = levels();
    l[1].daily_withdrawal_limits[0].amount = LimitAmount::parse("5.99").unwrap();
    fx.ok(CommandKind::SetKycLevels { levels: l.clone() });
    fx.ok(set_level(ALICE, 1));
    assert_eq!(over_limit(&mut fx, withdraw(ALICE, 6)), 5);
    // Two limits for one asset, or a level missing: the policy is refused.
    let mut dup = l.clone();
    let again = dup[1].daily_withdrawal_limits[0].clone();
    dup[1].daily_withdrawal_limits.push(again);
    assert_eq!(
        fx.rej(CommandKind::SetKycLevels { levels: dup }),
        InvalidKycPolicy
    );
    assert_eq!(
        fx.rej(CommandKind::SetKycLevels {
            levels: l[..2].to_vec()
        }),
        InvalidKycPolicy
    );
    assert_eq!(fx.rej(set_level(ALICE, 3)), InvalidKycLevel);
    let owner = |o: &str| CommandKind::SetUserCompliance {
        user: ALICE,
        kyc_level: None,
        beneficial_owner: Some(Some(o.into())),
    };
    assert_eq!(fx.rej(owner(&"x".repeat(65))), InvalidBeneficialOwner);
    let ev = fx.ok(owner(&"x".repeat(64)));
    assert!(
        matches!(&ev[0], Event::UserComplianceChanged { kyc_level: 1, beneficial_owner: Some(o), .. } if o.len() == 64)
    );
    let ev = fx.ok(CommandKind::SetUserCompliance {
        user: ALICE,
        kyc_level: None,
        beneficial_owner: Some(None),
    });
    assert!(matches!(
        &ev[0],
        Event::UserComplianceChanged {
            beneficial_owner: None,
            ..
        }
    ));
    assert_eq!(fx.core.user(ALICE).unwrap().kyc_level, 1);
}

#[test]
fn the_kyc_state_survives_a_snapshot() {
    let mut fx = leveled();
    fx.ok(set_level(ALICE, 1));
    fx.ok(withdraw(ALICE, 70));
    let restored = Core::restore(&fx.core.snapshot()).unwrap();
    assert_eq!(restored.state_hash(), fx.core.state_hash());
    assert_eq!(
        restored.withdrawal_allowance(ALICE, Q, Timestamp(fx.ts)),
        Some(30)
    );
}

/// One step of the reference-model test.
#[derive(Debug, Clone)]
enum Step {
    /// Move time on by this many ms.
    Wait(u64),
    Withdraw(u64),
    /// Reject the n-th pending withdrawal (modulo their count).
    Reject(usize),
    Level(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..DAY_MS / 2).prop_map(Step::Wait),
        (1u64..60).prop_map(Step::Withdraw),
        (0usize..8).prop_map(Step::Reject),
        (1u8..=2).prop_map(Step::Level),
    ]
}

proptest! {
    /// The core against the rule written out plainly: per UTC day, the sum of accepted
    /// requests minus those rejected on that same day never passes the limit, and a
    /// refusal says exactly what is left.
    #[test]
    fn the_daily_limit_follows_the_reference_model(steps in prop::collection::vec(step(), 1..60)) {
        let mut fx = leveled();
        fx.ok(set_level(ALICE, 1));
        let limit = 100u64;
        let mut level = 1u8;
        // Model: pending withdrawals (id, day, amount) and per-day use.
        let mut pending: Vec<(WithdrawalId, u64, u64)> = Vec::new();
        let mut used: std::collections::BTreeMap<u64, u64> = Default::default();
        let mut next_id = 1;
        for s in steps {
            match s {
                Step::Wait(ms) => fx.ts += ms,
                Step::Level(l) => {
                    fx.ok(set_level(ALICE, l));
                    level = l;
                }
                Step::Reject(n) if !pending.is_empty() => {
                    let (id, day, amount) = pending.remove(n % pending.len());
                    fx.ok(CommandKind::RejectWithdrawal { id });
                    // The core counts only the latest day it saw a request on.
                    if used.keys().next_back() == Some(&day) {
                        *used.get_mut(&day).unwrap() -= amount;
                    }
                }
                Step::Reject(_) => {}
                Step::Withdraw(amount) => {
                    let day = (fx.ts + 1) / DAY_MS;
                    let today = used.get(&day).copied().unwrap_or(0);
                    if level == 1 && today + amount > limit {
                        prop_assert_eq!(over_limit(&mut fx, withdraw(ALICE, amount)), limit.saturating_sub(today));
                    } else {
                        fx.ok(withdraw(ALICE, amount));
                        *used.entry(day).or_insert(0) += amount;
                        pending.push((WithdrawalId(next_id), day, amount));
                        next_id += 1;
                    }
                }
            }
        }
    }
}
