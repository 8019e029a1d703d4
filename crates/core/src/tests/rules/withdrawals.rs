//! Withdrawals: held on request, then completed or returned.

use super::fixtures::*;
use crate::tests::*;
use bourse_model::RejectCode::*;

#[test]
fn withdrawals_hold_then_complete_or_return() {
    let mut fx = Fx::new();
    let req = |amount| CommandKind::RequestWithdrawal {
        user: ALICE,
        asset: Q,
        amount: Amount(amount),
        address: "addr".into(),
        client_withdrawal_id: None,
    };
    assert_eq!(fx.rej(req(START_Q + 1)), InsufficientBalance);
    assert_eq!(fx.rej(req(0)), InvalidAmount);
    fx.ok(req(1_000));
    fx.ok(req(500));
    assert_eq!(fx.bal(ALICE, Q), (START_Q - 1_500, 1_500));
    assert_eq!(fx.core.pending_withdrawals().len(), 2);
    let ev = fx.ok(CommandKind::CompleteWithdrawal {
        id: WithdrawalId(1),
    });
    assert!(matches!(
        ev[0],
        Event::WithdrawalCompleted {
            amount: Amount(1_000),
            ..
        }
    ));
    assert_eq!(fx.core.external_balance(Q), -(3 * START_Q as i128) + 1_000);
    fx.ok(CommandKind::RejectWithdrawal {
        id: WithdrawalId(2),
    });
    assert_eq!(fx.bal(ALICE, Q), (START_Q - 1_000, 0));
    assert_eq!(
        fx.rej(CommandKind::CompleteWithdrawal {
            id: WithdrawalId(2)
        }),
        WithdrawalNotPending
    );
    assert_eq!(
        fx.rej(CommandKind::RejectWithdrawal {
            id: WithdrawalId(3)
        }),
        UnknownWithdrawal
    );
}
