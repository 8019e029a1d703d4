//! JWT expiry on a live connection: private channels end, a fresh token brings them back.

use crate::common::Client;
use crate::{app, connect, is_error, place, send, until, Ws, PASSWORD};
use serde_json::json;

/// On `ws`, authenticates `user` with a fresh token, subscribes to `orders`, places an
/// order and waits for its update. `Some(expires_at)` once the update came; `None` if
/// the token expired first (a slow machine) — the caller tries again.
async fn own_order_seen(c: &Client, ws: &mut Ws, user: &str, price: &str) -> Option<u64> {
    let token = c.login(user, PASSWORD).await;
    send(ws, json!({"op": "auth", "token": token})).await;
    let (a, _) = until(ws, |v| v["type"] == "authenticated" || v["type"] == "error").await;
    if is_error(&a, "TOKEN_EXPIRED") {
        return None;
    }
    assert_eq!(a["type"], "authenticated", "{a}");
    let expires_at = a["expires_at"]
        .as_u64()
        .expect("a JWT session has an expiry");
    send(ws, json!({"op": "subscribe", "channels": ["orders"]})).await;
    let (ack, _) = until(ws, |v| v["type"] == "subscribed" || v["type"] == "error").await;
    if ack["type"] == "error" {
        // Expired in between: the expiry frame and then the refusal of `orders`.
        assert!(
            is_error(&ack, "TOKEN_EXPIRED") || is_error(&ack, "UNAUTHORIZED"),
            "{ack}"
        );
        return None;
    }
    let id = place(c, user, "buy", price, "0.1000").await;
    let (v, _) = until(ws, |v| {
        (v["channel"] == "orders" && v["data"]["order_id"] == id) || is_error(v, "TOKEN_EXPIRED")
    })
    .await;
    (v["channel"] == "orders").then_some(expires_at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiry_ends_private_channels_on_a_live_connection() {
    let dir = tempfile::tempdir().unwrap();
    // Tokens live 2–3 s (`exp` is whole seconds after the issue second).
    let (app, c) = app(
        dir.path(),
        |c| c.token_ttl_secs = 3,
        &["alice", "bob", "carol"],
    )
    .await;
    let mut ws = connect(app.addr).await;
    send(
        &mut ws,
        json!({"op": "subscribe", "channels": ["trades.BTC-USD"]}),
    )
    .await;
    let (ack, _) = until(&mut ws, |v| v["type"] == "subscribed").await;
    assert_eq!(ack["channels"], json!(["trades.BTC-USD"]));

    let mut attempts = 0;
    while own_order_seen(&c, &mut ws, "alice", "90.00")
        .await
        .is_none()
    {
        attempts += 1;
        assert!(attempts < 5, "the token expired before every first update");
    }

    // The token runs out on the open connection.
    let (e, before) = until(&mut ws, |v| v["type"] == "error").await;
    assert!(is_error(&e, "TOKEN_EXPIRED"), "{e}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    assert!(
        before.iter().all(|v| v["channel"] != "orders"),
        "{before:?}"
    );

    // Alice trades; then Bob and Carol trade. The second trade comes after everything
    // the first command produced, so any private frame of Alice's would precede it.
    let a2 = place(&c, "alice", "buy", "95.00", "0.1000").await;
    place(&c, "bob", "sell", "95.00", "0.1000").await;
    place(&c, "carol", "buy", "96.00", "0.2000").await;
    place(&c, "bob", "sell", "96.00", "0.2000").await;
    let (t2, before) = until(&mut ws, |v| {
        v["channel"] == "trades.BTC-USD" && v["data"][0]["price"] == "96.00"
    })
    .await;
    assert_eq!(t2["data"][0]["quantity"], "0.2000", "{t2}");
    assert!(
        before.iter().all(|v| v["channel"] == "trades.BTC-USD"),
        "after expiry only public frames: {before:?} (Alice's order {a2})"
    );
    assert!(
        before.iter().any(|v| v["data"][0]["price"] == "95.00"),
        "Alice's own trade still shows on the public channel: {before:?}"
    );

    // Unauthenticated again: private channels are refused until a new auth.
    send(&mut ws, json!({"op": "subscribe", "channels": ["orders"]})).await;
    let (e, _) = until(&mut ws, |v| v["type"] == "error").await;
    assert!(is_error(&e, "UNAUTHORIZED"), "{e}");
    assert_eq!(e["channel"], "orders");

    // A fresh token on the same connection brings them back.
    let mut attempts = 0;
    while own_order_seen(&c, &mut ws, "alice", "91.00")
        .await
        .is_none()
    {
        attempts += 1;
        assert!(attempts < 5, "the token expired before every update");
    }
    app.shutdown().await;
}
