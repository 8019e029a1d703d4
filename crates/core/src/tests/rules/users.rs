//! Users' API keys, passwords and roles, and logged-out tokens.

use crate::tests::*;
use bourse_model::RejectCode::*;
use bourse_model::{ApiKeyScope, IpBlock, Permission, Permissions};

#[test]
fn scoped_keys_keep_their_scope_through_a_snapshot() {
    let mut fx = Fx::new();
    let scope = ApiKeyScope {
        permissions: Permissions::of(&[Permission::Read, Permission::Withdraw]),
        allow_ips: vec![
            IpBlock::new([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0], 104).unwrap(),
            IpBlock::new(
                [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                128,
            )
            .unwrap(),
        ],
    };
    let key = CommandKind::CreateScopedApiKey {
        user: BOB,
        key_id: "k2".into(),
        secret_enc: "s".into(),
        label: "payouts".into(),
        scope: scope.clone(),
    };
    fx.ok(key.clone());
    assert_eq!(fx.rej(key), ApiKeyExists, "same rules as CreateApiKey");
    let stored = |c: &Core| c.user(BOB).unwrap().api_keys[0].scope.clone();
    assert_eq!(stored(&fx.core), scope);
    let restored = Core::restore(&fx.core.snapshot()).unwrap();
    assert_eq!(stored(&restored), scope);
    assert_eq!(restored.state_hash(), fx.core.state_hash());
}

#[test]
fn users_keys_and_passwords_are_stored() {
    let mut fx = Fx::new();
    let key = CommandKind::CreateApiKey {
        user: BOB,
        key_id: "k1".into(),
        secret_enc: "s".into(),
        label: "bot".into(),
    };
    fx.ok(key.clone());
    assert_eq!(fx.rej(key), ApiKeyExists);
    let del = CommandKind::DeleteApiKey {
        user: BOB,
        key_id: "nope".into(),
    };
    assert_eq!(fx.rej(del), UnknownApiKey);
    fx.ok(CommandKind::SetPassword {
        user: BOB,
        password_hash: "h2".into(),
    });
    fx.ok(CommandKind::SetUserRole {
        user: BOB,
        role: Role::Broker,
    });
    let u = fx.core.user(BOB).unwrap();
    assert_eq!((u.password_hash.as_str(), u.role), ("h2", Role::Broker));
    assert_eq!(
        u.api_keys,
        vec![crate::ApiKeyView {
            key_id: "k1".into(),
            secret_enc: "s".into(),
            label: "bot".into(),
            scope: ApiKeyScope::legacy(),
        }]
    );
    fx.ok(CommandKind::DeleteApiKey {
        user: BOB,
        key_id: "k1".into(),
    });
    assert!(fx.core.user(BOB).unwrap().api_keys.is_empty());
    assert_eq!(
        fx.rej(CommandKind::SetUserRole {
            user: UserId(0),
            role: Role::Admin
        }),
        UnknownUser
    );
}

#[test]
fn logged_out_tokens_are_refused_until_they_expire() {
    let mut fx = Fx::new();
    let revoke = |user, jti, expires_at| CommandKind::RevokeToken {
        user,
        jti: [jti; 16],
        expires_at: Timestamp(expires_at),
    };
    assert_eq!(fx.rej(revoke(UserId(99), 1, fx.ts + 100)), UnknownUser);
    let before = fx.core.state_hash();
    assert!(fx.ok(revoke(ALICE, 1, fx.ts + 100)).is_empty(), "no event");
    assert_ne!(fx.core.state_hash(), before, "the list is core state");
    assert!(fx.core.token_revoked(ALICE, &[1; 16]));
    assert!(!fx.core.token_revoked(BOB, &[1; 16]), "per user");
    assert!(!fx.core.token_revoked(ALICE, &[2; 16]));
    // Already expired: nothing to remember.
    fx.ok(revoke(ALICE, 2, fx.ts));
    assert!(!fx.core.token_revoked(ALICE, &[2; 16]));
    // A later logout, after the first token's expiry, forgets it.
    fx.ts += 200;
    fx.ok(revoke(ALICE, 3, fx.ts + 100));
    assert!(!fx.core.token_revoked(ALICE, &[1; 16]));
    assert!(fx.core.token_revoked(ALICE, &[3; 16]));
}
