//! Every notification kind that comes from trading, risk and funding, triggered through
//! the REST API and read back from the inbox (`GET /api/v1/notifications`): its type,
//! priority and details (`data`), in particular the reason of each `order_canceled` and
//! `risk_alert`. (Accepted, filled, user cancel, rejected, balance, deposit, price alert
//! and announcements are in `notifications.rs`.)

mod common;

use common::{start, test_config, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn app() -> (bourse::RunningApp, Client, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.limits.enabled = false;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    // A largest order size, for the limit-breach alert.
    let (s, v) = c
        .post(
            "/api/v1/admin/markets",
            Some(&admin),
            json!({"symbol": "BTC-USD", "base": "BTC", "quote": "USD", "tick_size": "0.01",
                   "lot_size": "0.0001", "min_notional": "1", "max_quantity": "10"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "create market: {v}");
    (app, c, admin, dir)
}

async fn funded(c: &Client, admin: &str, name: &str) -> String {
    let t = c.trader(name).await;
    c.deposit(admin, name, "USD", "100000").await;
    c.deposit(admin, name, "BTC", "100").await;
    t
}

/// Places an order (asserting 201) and returns it.
async fn place(c: &Client, token: &str, body: Value) -> Value {
    let mut body = body;
    body["market"] = json!("BTC-USD");
    let (s, v) = c.post("/api/v1/orders", Some(token), body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

fn limit(side: &str, price: &str, qty: &str) -> Value {
    json!({"side": side, "type": "limit", "price": price, "quantity": qty,
           "time_in_force": "gtc"})
}

/// The user's inbox, newest first (the read waits for the notification service).
async fn inbox(c: &Client, token: &str) -> Vec<Value> {
    let (s, v) = c.get("/api/v1/notifications?limit=200", Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["notifications"].as_array().unwrap().clone()
}

/// The one notification of `kind` in `inbox` that `f` accepts.
fn one(inbox: &[Value], kind: &str, f: impl Fn(&Value) -> bool) -> Value {
    let hits: Vec<&Value> = inbox.iter().filter(|n| n["type"] == kind && f(n)).collect();
    assert_eq!(hits.len(), 1, "{kind}: {hits:?} in {inbox:?}");
    hits[0].clone()
}

fn about(order: &Value) -> impl Fn(&Value) -> bool + '_ {
    move |n: &Value| n["data"]["order_id"] == order["id"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_fill_stop_trigger_and_the_cancel_reasons_of_trading() {
    let (app, c, admin, _dir) = app().await;
    let maker = funded(&c, &admin, "maker").await;
    let taker = funded(&c, &admin, "taker").await;

    // Partially filled: 0.2 of the maker's 0.5 trade.
    let ask = place(&c, &maker, limit("sell", "100.00", "0.5000")).await;
    place(&c, &taker, limit("buy", "100.00", "0.2000")).await;
    let n = one(
        &inbox(&c, &maker).await,
        "order_partially_filled",
        about(&ask),
    );
    assert_eq!(n["priority"], "normal", "{n}");
    assert_eq!(n["data"]["filled_quantity"], "0.2000", "{n}");
    assert_eq!(n["data"]["remaining_quantity"], "0.3000", "{n}");
    assert_eq!(n["data"]["market"], "BTC-USD", "{n}");

    // Expired: an IOC takes what is there (the maker's 0.3 left at 100) and the rest
    // expires.
    let ioc = place(
        &c,
        &taker,
        json!({"side": "buy", "type": "limit", "price": "100.00", "quantity": "0.5000",
               "time_in_force": "ioc"}),
    )
    .await;
    assert_eq!(ioc["status"], "expired", "{ioc}");
    let n = one(&inbox(&c, &taker).await, "order_canceled", about(&ioc));
    assert_eq!(n["priority"], "high", "{n}");
    assert_eq!(n["data"]["reason"], "expired", "{n}");
    assert_eq!(n["data"]["filled_quantity"], "0.3000", "{n}");
    assert_eq!(n["data"]["remaining_quantity"], "0.2000", "{n}");

    // Stop triggered: the last trade (100) is below the stop (101); a trade at 101
    // (the book holds nothing cheaper now) triggers it.
    let stop = place(
        &c,
        &taker,
        json!({"side": "buy", "type": "stop_limit", "stop_price": "101.00", "price": "102.00",
               "quantity": "0.1000"}),
    )
    .await;
    assert_eq!(stop["status"], "new", "{stop}");
    assert!(inbox(&c, &taker)
        .await
        .iter()
        .all(|n| n["type"] != "stop_triggered"));
    place(&c, &maker, limit("sell", "101.00", "0.1000")).await;
    place(&c, &taker, limit("buy", "101.00", "0.1000")).await;
    let n = one(&inbox(&c, &taker).await, "stop_triggered", about(&stop));
    assert_eq!(n["priority"], "high", "{n}");
    assert_eq!(n["data"]["last_price"], "101.00", "{n}");

    // Self-trade prevention: the maker's own buy would take its resting sell; the
    // default (expire_taker) cancels the incoming order.
    place(&c, &maker, limit("sell", "105.00", "0.1000")).await;
    let own = place(&c, &maker, limit("buy", "105.00", "0.1000")).await;
    assert_eq!(own["status"], "canceled", "{own}");
    let n = one(&inbox(&c, &maker).await, "order_canceled", about(&own));
    assert_eq!(n["priority"], "high", "{n}");
    assert_eq!(n["data"]["reason"], "self_trade_prevention", "{n}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_switch_and_limit_breach_raise_risk_alerts() {
    let (app, c, admin, _dir) = app().await;
    let alice = funded(&c, &admin, "alice").await;

    // A limit breach: larger than the market's largest order. Refused (order_rejected)
    // and a risk alert.
    let (s, v) = c
        .post(
            "/api/v1/orders",
            Some(&alice),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "10.00",
                   "quantity": "20.0000", "time_in_force": "gtc"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let mine = inbox(&c, &alice).await;
    let rejected = one(&mine, "order_rejected", |_| true);
    assert_eq!(rejected["priority"], "high", "{rejected}");
    assert_eq!(rejected["data"]["code"], "QUANTITY_TOO_LARGE", "{rejected}");
    let alert = one(&mine, "risk_alert", |_| true);
    assert_eq!(alert["priority"], "high", "{alert}");
    assert_eq!(alert["data"]["reason"], "limit_breach", "{alert}");
    assert_eq!(alert["data"]["code"], "QUANTITY_TOO_LARGE", "{alert}");
    // A malformed order is not a limit breach: rejected, no alert.
    let (s, v) = c
        .post(
            "/api/v1/orders",
            Some(&alice),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "0.10",
                   "quantity": "1.0000", "time_in_force": "gtc"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let mine = inbox(&c, &alice).await;
    assert_eq!(
        mine.iter()
            .filter(|n| n["type"] == "order_rejected")
            .count(),
        2
    );
    assert_eq!(mine.iter().filter(|n| n["type"] == "risk_alert").count(), 1);

    // The kill switch: a critical risk alert, and the open order canceled for it.
    let open = place(&c, &alice, limit("buy", "90.00", "0.1000")).await;
    let (s, v) = c
        .call(
            Method::PATCH,
            "/api/v1/admin/users/alice",
            Some(&admin),
            Some(&json!({"kill_switch": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mine = inbox(&c, &alice).await;
    let alert = one(&mine, "risk_alert", |n| n["priority"] == "critical");
    assert_eq!(alert["data"]["reason"], "kill_switch", "{alert}");
    let n = one(&mine, "order_canceled", about(&open));
    assert_eq!(n["priority"], "high", "{n}");
    assert_eq!(n["data"]["reason"], "kill_switch", "{n}");
    // Turning it off is no alert; turning it on again is one more.
    for on in [false, true] {
        let (s, v) = c
            .call(
                Method::PATCH,
                "/api/v1/admin/users/alice",
                Some(&admin),
                Some(&json!({"tier": "premium", "kill_switch": on})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let alerts = inbox(&c, &alice)
        .await
        .into_iter()
        .filter(|n| n["type"] == "risk_alert" && n["data"]["reason"] == "kill_switch")
        .count();
    assert_eq!(alerts, 2, "one per time it was turned on");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_notify_each_status() {
    let (app, c, admin, _dir) = app().await;
    let alice = funded(&c, &admin, "alice").await;
    let mut ids = Vec::new();
    for amount in ["10", "20"] {
        let (s, w) = c
            .post(
                "/api/v1/withdrawals",
                Some(&alice),
                json!({"asset": "USD", "amount": amount, "address": "bank:DE89370400440532013000"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{w}");
        ids.push(w["id"].as_u64().unwrap());
    }
    let (s, v) = c
        .post(
            &format!("/api/v1/admin/withdrawals/{}/approve", ids[0]),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = c
        .post(
            &format!("/api/v1/admin/withdrawals/{}/reject", ids[1]),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mine = inbox(&c, &alice).await;
    for (id, amount, status) in [
        (ids[0], "10.000000", "requested"),
        (ids[0], "10.000000", "completed"),
        (ids[1], "20.000000", "requested"),
        (ids[1], "20.000000", "rejected"),
    ] {
        let n = one(&mine, "withdrawal_updated", |n| {
            n["data"]["withdrawal_id"] == id && n["data"]["status"] == status
        });
        assert_eq!(n["priority"], "high", "{n}");
        assert_eq!(n["data"]["asset"], "USD", "{n}");
        assert_eq!(n["data"]["amount"], amount, "{n}");
    }
    assert_eq!(
        mine.iter()
            .filter(|n| n["type"] == "withdrawal_updated")
            .count(),
        4
    );
    app.shutdown().await;
}
