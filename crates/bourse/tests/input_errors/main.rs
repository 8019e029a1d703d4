//! Bad input on every trading, account, market-data and admin route: each case gets a
//! 4xx in the contract's error shape with the expected code — never a 5xx, a panic or a
//! hang — and the whole table changes no state (same state hash, same balances).

#[path = "../common/mod.rs"]
mod common;

mod account;
mod admin;
mod case;
mod market_data;
mod order_body;
mod order_paths;
mod out_of_range;

use case::{Body, Who};
use common::{start, test_config, Client};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The test config with rate limits off: these suites fire requests back to back.
fn config(dir: &std::path::Path) -> bourse::Config {
    let mut c = test_config(dir, None);
    c.limits.enabled = false;
    c
}

/// What lives only in the read models, not in the core's state hash: `user`'s
/// notifications up to id `upto` (with read flags; refused orders add new ones), their
/// price alerts, the user list and the dead-letter queue.
async fn store_state(c: &Client, admin: &str, user: &str, upto: u64) -> Vec<Value> {
    let mut got = Vec::new();
    for (path, token) in [
        ("/api/v1/notifications", user),
        ("/api/v1/price-alerts", user),
        ("/api/v1/admin/users", admin),
        ("/api/v1/admin/notifications/dead-letters", admin),
    ] {
        let (s, v) = c.get(path, Some(token)).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        got.push(v);
    }
    let inbox = got[0]["notifications"].as_array().unwrap();
    got[0] = inbox
        .iter()
        .filter(|n| n["id"].as_u64().unwrap() <= upto)
        .cloned()
        .collect();
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_a_code_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let (s, v) = c
        .post(
            "/api/v1/admin/markets",
            Some(&admin),
            json!({"symbol": "ETH-USD", "base": "ETH", "quote": "USD", "tick_size": "0.05",
                   "lot_size": "0.001", "min_notional": "1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "alice", "USD", "1000").await;
    c.deposit(&admin, "bob", "BTC", "1").await;
    // Something to act on: bob's resting order (alice must not reach it), a withdrawal.
    let (s, bobs) = c
        .post(
            "/api/v1/orders",
            Some(&bob),
            json!({"market": "BTC-USD", "side": "sell", "type": "limit", "price": "200", "quantity": "0.5"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{bobs}");
    let bob_order = bobs["id"].as_u64().unwrap();
    let (s, w) = c
        .post(
            "/api/v1/withdrawals",
            Some(&bob),
            json!({"asset": "BTC", "amount": "0.1", "address": "btc:abc"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");

    // A price alert of alice's (the out-of-range deletes must not reach it).
    let (s, v) = c
        .post(
            "/api/v1/price-alerts",
            Some(&alice),
            json!({"market": "BTC-USD", "condition": "above", "price": "1000"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    let state_before = c.get("/api/v1/admin/state", Some(&admin)).await.1;
    let alice_before = c.balances(&alice).await;
    let bob_before = c.balances(&bob).await;
    let store_before = store_state(&c, &admin, &alice, u64::MAX).await;
    let last_notification = store_before[0][0]["id"]
        .as_u64()
        .expect("alice has notifications");
    assert_eq!(
        store_before[1].as_array().map(Vec::len),
        Some(1),
        "{store_before:?}"
    );

    use Who::*;
    let mut cases = order_body::syntax();
    cases.extend(order_body::decimals());
    cases.extend(order_paths::ids(bob_order));
    cases.extend(order_paths::queries());
    cases.extend(account::cases());
    cases.extend(market_data::cases());
    cases.extend(admin::cases(&w));
    cases.extend(out_of_range::cases());

    let mut failures = Vec::new();
    for k in &cases {
        let mut req = c
            .http
            .request(k.method.clone(), format!("{}{}", c.base, k.path));
        match k.who {
            Anon => {}
            Trader => req = req.bearer_auth(&alice),
            Admin => req = req.bearer_auth(&admin),
        }
        req = match &k.body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Raw(ctype, s) => req.header("content-type", *ctype).body(s.clone()),
        };
        let res = req.send().await.expect("no answer");
        let status = res.status();
        let text = res.text().await.unwrap();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        let got_code = v["error"]["code"].as_str().unwrap_or("<none>");
        let shaped = v["error"]["message"].is_string();
        if status.as_u16() != k.status || got_code != k.code || !shaped || status.is_server_error()
        {
            failures.push(format!(
                "{} {}: want {} {}, got {} {}",
                k.method, k.path, k.status, k.code, status, text
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing changed.
    let state_after = c.get("/api/v1/admin/state", Some(&admin)).await.1;
    assert_eq!(state_before["state_hash"], state_after["state_hash"]);
    assert_eq!(state_after["invariants"], "ok");
    assert_eq!(c.balances(&alice).await, alice_before);
    assert_eq!(c.balances(&bob).await, bob_before);
    assert_eq!(
        store_state(&c, &admin, &alice, last_notification).await,
        store_before
    );
    let (_, h) = c.get("/health", None).await;
    assert_eq!(h["status"], "healthy", "{h}");

    // And the server still works.
    let (s, v) = c
        .post(
            "/api/v1/orders",
            Some(&alice),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "100", "quantity": "1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.shutdown().await;
}
