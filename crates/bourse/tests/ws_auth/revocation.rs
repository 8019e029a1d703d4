//! Sessions ended on a live connection by logout, password change and API-key deletion:
//! no private frame after.

use crate::api_keys::{key_auth, ws_signature};
use crate::common::Client;
use crate::pipes::{connect_pipe, Pipes, PEER};
use crate::{
    answer, app, assert_refused, authenticate, connect, is_error, now_ms, place, place_with, send,
    subscribe, until, Io, Ws, PASSWORD,
};
use axum::extract::ConnectInfo;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Whether `v` anywhere carries `"order_id": id` (orders, fills, notification lists).
fn mentions_order(v: &Value, id: u64) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| (k == "order_id" && x == id) || mentions_order(x, id)),
        Value::Array(a) => a.iter().any(|x| mentions_order(x, id)),
        _ => false,
    }
}

fn is_private(v: &Value) -> bool {
    ["orders", "fills", "balances", "notifications"].contains(&v["channel"].as_str().unwrap_or(""))
}

/// Bob and Carol trade at `price`: a trades frame every `trades.BTC-USD` subscriber sees
/// after everything commands before it produced.
async fn marker_trade(c: &Client, price: &str) {
    place(c, "carol", "buy", price, "0.1000").await;
    place(c, "bob", "sell", price, "0.1000").await;
}

fn is_trade_at(v: &Value, price: &str) -> bool {
    v["channel"] == "trades.BTC-USD" && v["data"][0]["price"] == price
}

/// Reads `ws` through the revocation: the error frame `code` comes, nothing of `order`
/// before it, and after it no private frame up to the marker trade at `marker`.
/// Returns every frame after the error.
async fn revoked<S: Io>(ws: &mut Ws<S>, code: &str, order: u64, marker: &str) -> Vec<Value> {
    let (e, before) = until(ws, |v| v["type"] == "error").await;
    assert!(is_error(&e, code), "want {code}: {e}");
    let msg = e["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("private subscriptions ended") && msg.contains("authenticate again"),
        "{e}"
    );
    assert!(
        before.iter().all(|v| !mentions_order(v, order)),
        "order {order}, placed after the revocation, before the error frame: {before:?}"
    );
    let (_, mut after) = until(ws, |v| is_trade_at(v, marker)).await;
    assert!(
        after.iter().all(|v| !is_private(v)),
        "a private frame after {code}: {after:?}"
    );
    after.push(e);
    after
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_and_password_change_end_the_private_channels_of_their_sessions() {
    let dir = tempfile::tempdir().unwrap();
    // A's writer stalls on purpose below; the send timeout must outlast that.
    let (app, c) = app(
        dir.path(),
        |c| c.ws.send_timeout_ms = 300_000,
        &["alice", "bob", "carol"],
    )
    .await;
    let (pipes, rx) = mpsc::unbounded_channel();
    let router =
        bourse_http::api::router(app.state.clone()).layer(axum::Extension(ConnectInfo(PEER)));
    let pipe_server = tokio::spawn(async move { axum::serve(Pipes(rx), router).await });
    let token_a = c.login("alice", PASSWORD).await;
    let token_b = c.login("alice", PASSWORD).await;
    assert_ne!(token_a, token_b);
    let mut a = connect_pipe(&pipes).await;
    let mut b = connect(app.addr).await;
    authenticate(&mut a, json!({"op": "auth", "token": token_a})).await;
    authenticate(&mut b, json!({"op": "auth", "token": token_b})).await;
    let channels = [
        "orders",
        "fills",
        "notifications",
        "trades.BTC-USD",
        "book.BTC-USD",
    ];
    subscribe(&mut a, &channels).await;
    subscribe(&mut b, &["orders", "trades.BTC-USD"]).await;

    // Both sessions see Alice's orders.
    let a1 = place(&c, "alice", "buy", "90.00", "0.1000").await;
    let seen = |v: &Value| v["channel"] == "orders" && v["data"]["order_id"] == a1;
    until(&mut a, seen).await;
    until(&mut b, seen).await;

    // A stops reading. Its answers to these requests (snapshots, acks) fill the pipe, so
    // its connection stalls writing them: what the logout and the orders after it queue
    // for A waits in its queue, behind the re-check, until A reads again.
    for _ in 0..20 {
        send(
            &mut a,
            json!({"op": "subscribe",
                   "channels": ["book.BTC-USD", "ticker.BTC-USD", "candles.BTC-USD.1m"]}),
        )
        .await;
    }
    let order_token = c.login("alice", PASSWORD).await;
    // Token A logs out. Right after, Alice's next order trades (public trade at 95):
    // everything it produced comes after the logout.
    let (s, v) = c
        .call(Method::POST, "/api/v1/auth/logout", Some(&token_a), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let a2 = place_with(&c, &order_token, "buy", "95.00", "0.1000").await;
    place(&c, "bob", "sell", "95.00", "0.1000").await;
    marker_trade(&c, "96.00").await;

    // A: TOKEN_REVOKED, nothing private of Alice's new order, her trade still public.
    let after = revoked(&mut a, "TOKEN_REVOKED", a2, "96.00").await;
    assert!(
        after.iter().any(|v| is_trade_at(v, "95.00")),
        "Alice's trade shows on the public channel: {after:?}"
    );
    // B, with its own token, is untouched and sees the order and its fill.
    let (_, before) = until(&mut b, |v| {
        v["channel"] == "orders" && v["data"]["order_id"] == a2 && v["data"]["event"] == "filled"
    })
    .await;
    assert!(
        before.iter().all(|v| v["type"] != "error"),
        "the other session got an error: {before:?}"
    );

    // A is unauthenticated: private channels are refused, token A is refused for good.
    let v = answer(&mut a, json!({"op": "subscribe", "channels": ["orders"]})).await;
    assert_refused(&v, "UNAUTHORIZED");
    let v = answer(&mut a, json!({"op": "auth", "token": token_a})).await;
    assert_refused(&v, "TOKEN_REVOKED");

    // A password change (with a third token) ends B's session too.
    let token_c = c.login("alice", PASSWORD).await;
    let (s, v) = c
        .post(
            "/api/v1/auth/password",
            Some(&token_c),
            json!({"current_password": PASSWORD, "new_password": "another-password-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token_d = v["token"].as_str().unwrap().to_owned();
    let a3 = place_with(&c, &token_d, "buy", "89.00", "0.1000").await;
    marker_trade(&c, "97.00").await;
    revoked(&mut b, "TOKEN_REVOKED", a3, "97.00").await;

    // The new token brings the private channels back on the same connection.
    authenticate(&mut a, json!({"op": "auth", "token": token_d})).await;
    subscribe(&mut a, &["orders"]).await;
    let a4 = place_with(&c, &token_d, "buy", "88.00", "0.1000").await;
    let (_, before) = until(&mut a, |v| {
        v["channel"] == "orders" && v["data"]["order_id"] == a4
    })
    .await;
    assert!(
        before.iter().all(|v| !mentions_order(v, a3)),
        "order {a3}, placed before the new auth and subscribe: {before:?}"
    );
    drop(a);
    pipe_server.abort();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_api_key_ends_its_sessions_private_channels() {
    let dir = tempfile::tempdir().unwrap();
    let (app, c) = app(dir.path(), |_| {}, &["alice", "bob", "carol"]).await;
    let alice = c.login("alice", PASSWORD).await;
    let (s, k) = c
        .post("/api/v1/api-keys", Some(&alice), json!({"label": "ws bot"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let key = k["key"].as_str().unwrap().to_owned();
    let secret = k["secret"].as_str().unwrap().to_owned();

    let mut bot = connect(app.addr).await;
    let ts = now_ms();
    authenticate(&mut bot, key_auth(&key, ts, &ws_signature(&secret, ts))).await;
    subscribe(&mut bot, &["orders", "balances", "trades.BTC-USD"]).await;
    // Alice's browser session, same user, a token: not affected by the key.
    let mut web = connect(app.addr).await;
    authenticate(&mut web, json!({"op": "auth", "token": alice})).await;
    subscribe(&mut web, &["orders"]).await;

    let a1 = place(&c, "alice", "buy", "90.00", "0.1000").await;
    until(&mut bot, |v| {
        v["channel"] == "orders" && v["data"]["order_id"] == a1
    })
    .await;

    let (s, v) = c
        .delete(&format!("/api/v1/api-keys/{key}"), Some(&alice))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let a2 = place(&c, "alice", "buy", "95.00", "0.1000").await;
    place(&c, "bob", "sell", "95.00", "0.1000").await;
    marker_trade(&c, "96.00").await;

    let after = revoked(&mut bot, "INVALID_API_KEY", a2, "96.00").await;
    assert!(
        after.iter().all(|v| v["channel"] != "balances"),
        "{after:?}"
    );
    let (_, before) = until(&mut web, |v| {
        v["channel"] == "orders" && v["data"]["order_id"] == a2
    })
    .await;
    assert!(
        before.iter().all(|v| v["type"] != "error"),
        "the token session got an error: {before:?}"
    );
    let v = answer(&mut bot, json!({"op": "subscribe", "channels": ["orders"]})).await;
    assert_refused(&v, "UNAUTHORIZED");
    app.shutdown().await;
}
