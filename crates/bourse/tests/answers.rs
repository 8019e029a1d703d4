//! Replies to committed commands come from the commands' own events, never from a wait on
//! the read models: with the projector stalled (a PostgreSQL lock on a table it writes),
//! placing, cancelling and amending orders, requesting a withdrawal and approving or
//! rejecting one all answer at once, with the right content; reads that need the read
//! models wait (and, past the fence timeout, say `READ_MODEL_BEHIND`), and everything is
//! there once the lock goes. Also: the withdrawal idempotency key over REST.
//!
//! Needs PostgreSQL (`BOURSE_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`;
//! a fresh database per run, dropped after).

mod common;

use common::{code, eventually, start, test_config, Client};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;
use std::time::{Duration, Instant};

/// Well inside the 2 s read fence: a reply that waited for the read models takes longer.
const PROMPT: Duration = Duration::from_millis(1500);

async fn replies_do_not_wait_for_the_read_models(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), Some(url.to_owned()));
    cfg.limits.enabled = false;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "alice", "USD", "10000").await;
    c.deposit(&admin, "bob", "BTC", "10").await;
    let resting = c.limit_order(&bob, "sell", "101.00", "1.0").await;

    // Stall the projector: its next transaction waits for this lock.
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    sqlx::query("LOCK TABLE orders IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let timed = |started: Instant, what: &str| {
        assert!(
            started.elapsed() < PROMPT,
            "{what} took {:?}",
            started.elapsed()
        );
    };

    // A taker that partly fills the resting sell, then rests.
    let t = Instant::now();
    let (s, buy) = c
        .post(
            "/api/v1/orders",
            Some(&alice),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "101.00",
                   "quantity": "1.5"}),
        )
        .await;
    timed(t, "place");
    assert_eq!(s, StatusCode::CREATED, "{buy}");
    assert_eq!(buy["status"], "partially_filled", "{buy}");

    // Amend the rest down (keeps priority), then cancel it: both from events.
    let t = Instant::now();
    let (s, am) = c
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/orders/{}", buy["id"]),
            Some(&alice),
            Some(&json!({"quantity": "1.2"})),
        )
        .await;
    timed(t, "amend");
    assert_eq!(s, StatusCode::OK, "{am}");
    assert_eq!(
        (
            am["status"].as_str(),
            am["quantity"].as_str(),
            am["filled_quantity"].as_str(),
            am["remaining_quantity"].as_str(),
            am["average_price"].as_str(),
        ),
        (
            Some("partially_filled"),
            Some("1.2000"),
            Some("1.0000"),
            Some("0.2000"),
            Some("101.00")
        ),
        "{am}"
    );
    let t = Instant::now();
    let (s, canceled) = c
        .delete(&format!("/api/v1/orders/{}", buy["id"]), Some(&alice))
        .await;
    timed(t, "cancel");
    assert_eq!(s, StatusCode::OK, "{canceled}");
    assert_eq!(
        (
            canceled["status"].as_str(),
            canceled["filled_quantity"].as_str(),
            canceled["remaining_quantity"].as_str(),
            canceled["average_price"].as_str(),
            canceled["client_order_id"].as_str(),
        ),
        (
            Some("canceled"),
            Some("1.0000"),
            Some("0.2000"),
            Some("101.00"),
            None
        ),
        "{canceled}"
    );
    assert_eq!(canceled["fills"], json!([]), "a cancel makes no fills");
    assert_eq!(canceled["created_at"], buy["created_at"]);

    // A withdrawal, approved; another, rejected.
    let t = Instant::now();
    let (s, w1) = c
        .post(
            "/api/v1/withdrawals",
            Some(&alice),
            json!({"asset": "USD", "amount": "10", "address": "bank:1"}),
        )
        .await;
    timed(t, "withdrawal request");
    assert_eq!(s, StatusCode::CREATED, "{w1}");
    assert_eq!(
        (
            w1["status"].as_str(),
            w1["username"].as_str(),
            w1["amount"].as_str()
        ),
        (Some("pending"), Some("alice"), Some("10.000000"))
    );
    let (_, w2) = c
        .post(
            "/api/v1/withdrawals",
            Some(&alice),
            json!({"asset": "USD", "amount": "5", "address": "bank:2"}),
        )
        .await;
    let t = Instant::now();
    let (s, approved) = c
        .post(
            &format!("/api/v1/admin/withdrawals/{}/approve", w1["id"]),
            Some(&admin),
            json!({}),
        )
        .await;
    timed(t, "approval");
    assert_eq!(s, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "completed", "{approved}");
    assert_eq!(approved["created_at"], w1["created_at"], "{approved}");
    assert_eq!(approved["address"], "bank:1");
    let (s, rejected) = c
        .post(
            &format!("/api/v1/admin/withdrawals/{}/reject", w2["id"]),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, &rejected["status"]),
        (StatusCode::OK, &json!("rejected"))
    );

    // The views answer balances at once; the read models are still behind.
    let t = Instant::now();
    let b = c.balances(&alice).await;
    timed(t, "balances");
    assert_eq!(
        common::balance(&b, "USD"),
        common::pair("9888.798000", "0.000000"),
        "10000 - 101 - 0.202 taker fee (20 bps) - 10 withdrawn: {b}"
    );
    let (s, v) = c
        .get(&format!("/api/v1/orders/{}", buy["id"]), Some(&alice))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "READ_MODEL_BEHIND"),
        "a read of the read models still waits for them: {v}"
    );

    tx.commit().await.unwrap();
    let order = eventually(Duration::from_secs(30), "the read models", || async {
        let (s, v) = c
            .get(&format!("/api/v1/orders/{}", buy["id"]), Some(&alice))
            .await;
        (s == StatusCode::OK).then_some(v)
    })
    .await;
    for field in [
        "status",
        "filled_quantity",
        "remaining_quantity",
        "average_price",
        "quantity",
    ] {
        assert_eq!(
            order[field], canceled[field],
            "{field}: {order} vs {canceled}"
        );
    }
    assert_eq!(order["fills"].as_array().unwrap().len(), 1, "{order}");
    let (_, resting_now) = c
        .get(&format!("/api/v1/orders/{}", resting["id"]), Some(&bob))
        .await;
    assert_eq!(resting_now["status"], "filled", "{resting_now}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_come_from_events_while_the_projector_is_stalled() {
    common::with_fresh_pg("bourse_answers", |url| async move {
        replies_do_not_wait_for_the_read_models(&url).await;
    })
    .await;
}
