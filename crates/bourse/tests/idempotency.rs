//! The idempotency window from the config (`idempotency_window_ms`): inside it a client
//! order id answers the original order (same body) or 409 (another body); once it has
//! passed and the order is closed, the id starts a new order. Changing the window is a
//! journaled command at start-up, so a restart keeps what the core decided.

mod common;

use common::{code, start, test_config, Client};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const WINDOW_MS: u64 = 1500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_order_id_is_reusable_after_the_configured_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.limits.enabled = false;
    cfg.idempotency_window_ms = WINDOW_MS;
    let app = start(cfg.clone()).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    c.deposit(&admin, "alice", "USD", "1000").await;
    let order = |price: &str| {
        json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": price,
               "quantity": "0.1", "client_order_id": "once"})
    };
    let (s, first) = c.post("/api/v1/orders", Some(&alice), order("90.00")).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let (s, _) = c
        .delete(&format!("/api/v1/orders/{}", first["id"]), Some(&alice))
        .await;
    assert_eq!(s, StatusCode::OK);
    // Inside the window: the same order is the original, another one a conflict.
    let (s, again) = c.post("/api/v1/orders", Some(&alice), order("90.00")).await;
    assert_eq!((s, &again["id"]), (StatusCode::OK, &first["id"]), "{again}");
    assert_eq!(again["status"], "canceled");
    let (s, other) = c.post("/api/v1/orders", Some(&alice), order("91.00")).await;
    assert_eq!(
        (s, code(&other)),
        (StatusCode::CONFLICT, "DUPLICATE_CLIENT_ORDER_ID")
    );
    tokio::time::sleep(Duration::from_millis(WINDOW_MS + 200)).await;
    let (s, fresh) = c.post("/api/v1/orders", Some(&alice), order("91.00")).await;
    assert_eq!(s, StatusCode::CREATED, "{fresh}");
    assert_ne!(fresh["id"], first["id"]);
    // The id now names the new order, also after a restart.
    app.shutdown().await;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let alice = c.login("alice", "password123").await;
    let (s, v) = c.post("/api/v1/orders", Some(&alice), order("91.00")).await;
    assert_eq!((s, &v["id"]), (StatusCode::OK, &fresh["id"]), "{v}");
    app.shutdown().await;
}
