//! The KYC policy across restarts: it is journaled core state, so turning
//! `kyc_required` on or off in the config between restarts changes what happens from
//! then on (through a journaled `SetKycPolicy`) but never how earlier commands replay —
//! a snapshot restore, a full replay and the offline `bourse verify` all agree.

mod common;

use bourse::Config;
use common::{balance, code, pair, start, test_config, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;

fn config(dir: &Path, kyc_required: bool) -> Config {
    let mut c = test_config(dir, None);
    c.kyc_required = kyc_required;
    // Small enough that the second run writes a snapshot the later ones start from.
    c.snapshot_every = 3;
    c
}

async fn place(c: &Client, token: &str, side: &str, price: &str) -> (StatusCode, Value) {
    c.post(
        "/api/v1/orders",
        Some(token),
        json!({"market": "BTC-USD", "side": side, "type": "limit", "price": price,
               "quantity": "1", "time_in_force": "gtc"}),
    )
    .await
}

async fn state(c: &Client, admin: &str) -> Value {
    let (s, v) = c.get("/api/v1/admin/state", Some(admin)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn order_status(c: &Client, token: &str, id: &Value) -> String {
    let (s, v) = c.get(&format!("/api/v1/orders/{id}"), Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["status"].as_str().unwrap().to_owned()
}

async fn verify_offline(config: Config) -> bourse_engine::recovery::Verification {
    tokio::task::spawn_blocking(move || bourse_engine::recovery::verify(&config.engine()))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kyc_policy_is_journaled_so_config_changes_never_change_replay() {
    let dir = tempfile::tempdir().unwrap();

    // Run 1, not required: unverified Alice trades and leaves an order resting.
    let app = start(config(dir.path(), false)).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;
    let (s, v) = c
        .call(
            Method::PATCH,
            "/api/v1/admin/users/bob",
            Some(&admin),
            Some(&json!({"kyc_verified": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    c.deposit(&admin, "alice", "BTC", "2").await;
    c.deposit(&admin, "bob", "USD", "1000").await;
    let (s, v) = place(&c, &alice, "sell", "100").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = place(&c, &bob, "buy", "100").await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::CREATED, Some("filled"))
    );
    let (s, resting) = place(&c, &alice, "sell", "110").await;
    assert_eq!(s, StatusCode::CREATED, "{resting}");
    assert_eq!(balance(&c.balances(&alice).await, "BTC").1, "1.00000000");
    app.shutdown().await;

    // Run 2, required: start-up journals the policy, which cancels Alice's open order;
    // her trade and its proceeds stay, and she can place nothing new. Bob (verified)
    // trades on.
    let app = start(config(dir.path(), true)).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    let alice = c.login("alice", "password123").await;
    let bob = c.login("bob", "password123").await;
    assert_eq!(order_status(&c, &alice, &resting["id"]).await, "canceled");
    let alice_balances = c.balances(&alice).await;
    assert_eq!(
        balance(&alice_balances, "BTC"),
        pair("1.00000000", "0.00000000")
    );
    // 100 for one BTC less the 10 bps maker fee.
    assert_eq!(balance(&alice_balances, "USD").0, "99.900000");
    let (s, v) = place(&c, &alice, "sell", "100").await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "KYC_REQUIRED"));
    for price in ["90", "91"] {
        let (s, v) = place(&c, &bob, "buy", price).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    // Revoking Bob's KYC while it is required cancels his two bids, and the admin's
    // reply counts them.
    let (s, v) = c
        .call(
            Method::PATCH,
            "/api/v1/admin/users/bob",
            Some(&admin),
            Some(&json!({"kyc_verified": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["canceled_orders"], 2, "{v}");
    let (s, v) = place(&c, &bob, "buy", "90").await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "KYC_REQUIRED"));
    let run2 = state(&c, &admin).await;
    assert_eq!(run2["invariants"], "ok", "{run2}");
    app.shutdown().await;

    // Run 3, required again: nothing to journal, the state (restored from a snapshot
    // taken in run 2) is exactly run 2's, and the offline replay from sequence 1 agrees.
    let app = start(config(dir.path(), true)).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    assert_eq!(state(&c, &admin).await, run2);
    let alice = c.login("alice", "password123").await;
    let (s, v) = place(&c, &alice, "sell", "100").await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "KYC_REQUIRED"));
    // The refused command is journaled (the core refuses it) but changes nothing.
    let run3 = state(&c, &admin).await;
    assert_eq!(run3["state_hash"], run2["state_hash"]);
    app.shutdown().await;
    let v = verify_offline(config(dir.path(), true)).await;
    assert_eq!(v.state_hash, run3["state_hash"].as_str().unwrap());
    assert_eq!(v.last_seq, run3["last_seq"].as_u64().unwrap());
    assert_eq!(v.invariants, "ok");
    assert_eq!(
        v.snapshots_checked, 1,
        "a snapshot was compared with the replay"
    );

    // Run 4, not required: one more journaled command, and Alice trades again; the
    // offline replay (whatever the config says) still agrees.
    let app = start(config(dir.path(), false)).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    let run4 = state(&c, &admin).await;
    assert_ne!(
        run4["state_hash"], run3["state_hash"],
        "the policy is state"
    );
    assert_eq!(
        run4["last_seq"].as_u64().unwrap(),
        run3["last_seq"].as_u64().unwrap() + 1,
        "the policy change is one journaled command"
    );
    let alice = c.login("alice", "password123").await;
    let (s, v) = place(&c, &alice, "sell", "100").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let run4 = state(&c, &admin).await;
    app.shutdown().await;
    let v = verify_offline(config(dir.path(), true)).await;
    assert_eq!(v.state_hash, run4["state_hash"].as_str().unwrap());
    assert_eq!(v.invariants, "ok");
}
