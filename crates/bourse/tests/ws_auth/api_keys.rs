//! API-key signature auth on `/ws` and its refusals.

use crate::{answer, app, assert_refused, connect, now_ms, place, until, PASSWORD};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

/// hex HMAC-SHA256(secret, timestamp + "GET" + "/ws"), as docs/websocket.md says.
pub(crate) fn ws_signature(secret: &str, timestamp: u64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}GET/ws").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub(crate) fn key_auth(key: &str, timestamp: u64, signature: &str) -> Value {
    json!({"op": "auth", "key": key, "timestamp": timestamp, "signature": signature})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_signature_auth_and_its_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let (app, c) = app(dir.path(), |_| {}, &["alice", "bob"]).await;
    let alice = c.login("alice", PASSWORD).await;
    let (s, k) = c
        .post("/api/v1/api-keys", Some(&alice), json!({"label": "ws bot"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let key = k["key"].as_str().unwrap().to_owned();
    let secret = k["secret"].as_str().unwrap().to_owned();
    let (_, me) = c.get("/api/v1/auth/me", Some(&alice)).await;

    let mut ws = connect(app.addr).await;
    let ts = now_ms();
    let v = answer(
        &mut ws,
        key_auth(&key, ts, &ws_signature("not the secret", ts)),
    )
    .await;
    assert_refused(&v, "INVALID_SIGNATURE");
    // Signed for another path: the signature covers "/ws".
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}GET/api/v1/orders").as_bytes());
    let other_path = hex::encode(mac.finalize().into_bytes());
    let v = answer(&mut ws, key_auth(&key, ts, &other_path)).await;
    assert_refused(&v, "INVALID_SIGNATURE");
    let stale = now_ms() - 120_000;
    let v = answer(
        &mut ws,
        key_auth(&key, stale, &ws_signature(&secret, stale)),
    )
    .await;
    assert_refused(&v, "TIMESTAMP_OUT_OF_WINDOW");
    let mut unknown = key.clone();
    let last = unknown.pop().unwrap();
    unknown.push(if last == '0' { '1' } else { '0' });
    let ts = now_ms();
    let v = answer(&mut ws, key_auth(&unknown, ts, &ws_signature(&secret, ts))).await;
    assert_refused(&v, "INVALID_API_KEY");
    // None of these authenticated the connection.
    let v = answer(&mut ws, json!({"op": "subscribe", "channels": ["orders"]})).await;
    assert_refused(&v, "UNAUTHORIZED");

    let ts = now_ms();
    let sig = ws_signature(&secret, ts);
    let v = answer(&mut ws, key_auth(&key, ts, &sig)).await;
    assert_eq!(v["type"], "authenticated", "{v}");
    assert_eq!(v["user_id"], me["id"], "{v} vs {me}");
    assert!(
        v["expires_at"].is_null(),
        "an API-key session has no expiry: {v}"
    );
    let v = answer(
        &mut ws,
        json!({"op": "subscribe", "channels": ["orders", "balances"]}),
    )
    .await;
    assert_eq!(v["type"], "subscribed", "{v}");

    // The same signature again, on another connection: a replay.
    let mut other = connect(app.addr).await;
    let v = answer(&mut other, key_auth(&key, ts, &sig)).await;
    assert_refused(&v, "SIGNATURE_REPLAYED");
    let v = answer(
        &mut other,
        json!({"op": "subscribe", "channels": ["orders"]}),
    )
    .await;
    assert_refused(&v, "UNAUTHORIZED");

    // Alice sees her own orders and balances; Bob's order does not show.
    let a1 = place(&c, "alice", "buy", "90.00", "0.1000").await;
    let b1 = place(&c, "bob", "buy", "89.00", "0.1000").await;
    let a2 = place(&c, "alice", "buy", "91.00", "0.1000").await;
    let (_, before) = until(&mut ws, |v| {
        v["channel"] == "orders" && v["data"]["order_id"] == a2
    })
    .await;
    assert!(
        before
            .iter()
            .any(|v| v["channel"] == "orders" && v["data"]["order_id"] == a1),
        "{before:?}"
    );
    assert!(
        before.iter().any(|v| v["channel"] == "balances"),
        "{before:?}"
    );
    assert!(
        before.iter().all(|v| v["data"]["order_id"] != b1),
        "Bob's order on Alice's connection: {before:?}"
    );
    app.shutdown().await;
}
