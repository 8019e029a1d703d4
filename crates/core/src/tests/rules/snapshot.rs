//! Snapshot and restore.

use crate::tests::*;
use crate::CoreError;

#[test]
fn snapshot_restore_keeps_hash_and_queues() {
    let mut fx = Fx::new();
    fx.place_ok(limit(ALICE, Side::Sell, 100, 5));
    fx.place_ok(limit(CAROL, Side::Sell, 100, 5));
    fx.place_ok(NewOrder {
        order_type: OrderType::StopLimit,
        stop_price: Some(Price(90)),
        tif: TimeInForce::Gtd,
        expire_at: Some(Timestamp(fx.ts + 1_000)),
        client_order_id: Some(ClientOrderId::new("x1").unwrap()),
        ..limit(BOB, Side::Sell, 89, 3)
    });
    fx.ok(CommandKind::RequestWithdrawal {
        user: BOB,
        asset: Q,
        amount: Amount(5),
        address: "a".into(),
        client_withdrawal_id: None,
    });
    fx.ok(CommandKind::RevokeToken {
        user: BOB,
        jti: [7; 16],
        expires_at: Timestamp(fx.ts + 1_000),
    });
    let bytes = fx.core.snapshot();
    let mut restored = Core::restore(&bytes).unwrap();
    assert_eq!(restored.state_hash(), fx.core.state_hash());
    assert!(restored.token_revoked(BOB, &[7; 16]));
    // Same future: Alice's order is still first in the queue.
    let cmd = Command::new(
        fx.ts + 1,
        CommandKind::PlaceOrder(Box::new(limit(BOB, Side::Buy, 100, 6))),
    );
    assert_eq!(restored.apply(&cmd), fx.core.apply(&cmd));
    assert_eq!(restored.state_hash(), fx.core.state_hash());
    assert!(matches!(
        Core::restore(&bytes[..bytes.len() / 2]),
        Err(CoreError::Decode(_))
    ));
}
