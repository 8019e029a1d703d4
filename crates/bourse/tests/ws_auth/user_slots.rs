//! Per-user connection slots.

use crate::{
    answer, app, assert_refused, authenticate, connect, place_with, subscribe, until, PASSWORD,
};
use serde_json::json;
use std::time::{Duration, Instant};

/// `max_connections_per_user` counts authenticated connections: a second one of the same
/// user is refused with `TOO_MANY_CONNECTIONS` (and stays open, unauthenticated), the
/// first re-authenticating takes no second slot, other users are not affected, and the
/// slot is free again once the first connection ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_per_user_and_the_slot_frees_when_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (app, c) = app(
        dir.path(),
        |cfg| cfg.ws.max_connections_per_user = 1,
        &["bob", "carol"],
    )
    .await;
    let bob = c.login("bob", PASSWORD).await;
    let mut first = connect(app.addr).await;
    authenticate(&mut first, json!({"op": "auth", "token": bob})).await;
    subscribe(&mut first, &["orders"]).await;
    // Authenticating again on the same connection reuses its slot.
    authenticate(&mut first, json!({"op": "auth", "token": bob})).await;

    let mut second = connect(app.addr).await;
    let v = answer(&mut second, json!({"op": "auth", "token": bob})).await;
    assert_refused(&v, "TOO_MANY_CONNECTIONS");
    // Still unauthenticated, still open.
    let v = answer(
        &mut second,
        json!({"op": "subscribe", "channels": ["orders"]}),
    )
    .await;
    assert_refused(&v, "UNAUTHORIZED");
    subscribe(&mut second, &["trades.BTC-USD"]).await;
    // Another user has a slot of their own.
    let mut other = connect(app.addr).await;
    let carol = c.login("carol", PASSWORD).await;
    authenticate(&mut other, json!({"op": "auth", "token": carol})).await;
    // The first connection still has its private channel.
    let id = place_with(&c, &bob, "buy", "90.00", "0.1000").await;
    let (v, _) = until(&mut first, |v| v["channel"] == "orders").await;
    assert_eq!(v["data"]["order_id"], id, "{v}");

    // The first connection ends: its slot is given back when the server notices, so
    // ask until it is (bounded).
    first.close(None).await.unwrap();
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = answer(&mut second, json!({"op": "auth", "token": bob})).await;
        if v["type"] == "authenticated" {
            break;
        }
        assert_refused(&v, "TOO_MANY_CONNECTIONS");
        assert!(Instant::now() < deadline, "the slot was never given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    subscribe(&mut second, &["orders"]).await;
    let id = place_with(&c, &bob, "buy", "91.00", "0.1000").await;
    let (v, _) = until(&mut second, |v| v["channel"] == "orders").await;
    assert_eq!(v["data"]["order_id"], id, "{v}");
    // And now a third is refused again.
    let mut third = connect(app.addr).await;
    let v = answer(&mut third, json!({"op": "auth", "token": bob})).await;
    assert_refused(&v, "TOO_MANY_CONNECTIONS");
    app.shutdown().await;
}
