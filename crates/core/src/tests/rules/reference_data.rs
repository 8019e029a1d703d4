//! Assets, markets, user registration and deposits: ids, and what is refused.

use crate::tests::*;
use bourse_model::RejectCode::*;

#[test]
fn reference_data_ids_and_rejects() {
    let mut fx = Fx::new();
    assert_eq!(fx.core.asset_by_symbol("Q"), Some(Q));
    assert_eq!(fx.core.market_by_symbol("B-Q"), Some(M));
    assert_eq!(fx.core.user_by_name("carol"), Some(CAROL));
    assert_eq!(
        fx.rej(CommandKind::CreateAsset {
            symbol: sym("B"),
            scale: 2
        }),
        AssetExists
    );
    assert_eq!(
        fx.rej(CommandKind::CreateAsset {
            symbol: sym("X"),
            scale: 19
        }),
        InvalidAssetSpec
    );
    assert_eq!(
        fx.rej(CommandKind::CreateMarket(Box::new(toy_spec("B-Q", 0, 1)))),
        MarketExists
    );
    assert_eq!(
        fx.rej(CommandKind::CreateMarket(Box::new(toy_spec("B-X", 0, 7)))),
        UnknownAsset
    );
    let wrong_scale = MarketSpec {
        base_scale: 2,
        ..toy_spec("B-Q2", 0, 1)
    };
    assert_eq!(
        fx.rej(CommandKind::CreateMarket(Box::new(wrong_scale))),
        InvalidMarketSpec
    );
    let same = toy_spec("B-B", 0, 0);
    assert_eq!(
        fx.rej(CommandKind::CreateMarket(Box::new(same))),
        InvalidMarketSpec
    );
    let ev = fx.ok(CommandKind::CreateAsset {
        symbol: sym("C"),
        scale: 0,
    });
    assert_eq!(
        ev,
        vec![Event::AssetCreated {
            asset: AssetId(2),
            symbol: sym("C"),
            scale: 0
        }]
    );
    let ev = fx.ok(CommandKind::CreateMarket(Box::new(toy_spec("C-Q", 2, 1))));
    assert!(matches!(
        ev[0],
        Event::MarketCreated {
            market: MarketId(1),
            ..
        }
    ));
    let reg = |n: &str| CommandKind::RegisterUser {
        username: n.into(),
        password_hash: "x".into(),
        role: Role::Admin,
    };
    assert_eq!(fx.rej(reg("bob")), UsernameTaken);
    assert!(matches!(
        fx.ok(reg("dave"))[0],
        Event::UserRegistered {
            user: UserId(4),
            ..
        }
    ));
    let dep = CommandKind::Deposit {
        user: UserId(9),
        asset: Q,
        amount: Amount(1),
    };
    assert_eq!(fx.rej(dep), UnknownUser);
    let dep = CommandKind::Deposit {
        user: ALICE,
        asset: AssetId(9),
        amount: Amount(1),
    };
    assert_eq!(fx.rej(dep), UnknownAsset);
    assert_eq!(
        fx.rej(CommandKind::Deposit {
            user: ALICE,
            asset: Q,
            amount: Amount(0)
        }),
        InvalidAmount
    );
    let huge = CommandKind::Deposit {
        user: ALICE,
        asset: Q,
        amount: Amount(u64::MAX),
    };
    assert_eq!(fx.rej(huge), InvalidAmount);
    // Alice holds some already: the supply would pass i64::MAX.
    let past_bound = CommandKind::Deposit {
        user: ALICE,
        asset: Q,
        amount: Amount(i64::MAX as u64),
    };
    assert_eq!(fx.rej(past_bound), InvalidAmount);
    let halt = CommandKind::SetMarketStatus {
        market: M,
        status: MarketStatus::Open,
    };
    assert_eq!(fx.rej(halt), MarketAlreadyInState);
    let st = CommandKind::SetMarketStatus {
        market: MarketId(5),
        status: MarketStatus::Halted,
    };
    assert_eq!(fx.rej(st), UnknownMarket);
}
