//! Trading endpoints end to end (in-process app on port 0, temp data dir, SQLite read
//! models): matching with exact fees and balances, every order type and time in force,
//! stops, GTD expiry, amend and queue priority, cancel-all, fills.

mod common;

use common::{balance, code, pair, start, test_config, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The test config with rate limits off (these suites fire requests back to back) and
/// no price band.
fn config(dir: &std::path::Path) -> bourse::Config {
    let mut c = test_config(dir, None);
    c.limits.enabled = false;
    // Prices here jump around to reach each rule; the default band is `guard_money`'s.
    c.markets.price_band_bps = 0;
    c
}
use std::time::{Duration, Instant};

/// `(available, held)` of one asset.
async fn place(c: &Client, token: &str, body: Value) -> Value {
    let (s, v) = c.post("/api/v1/orders", Some(token), body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "place {body}: {v}");
    v
}

async fn place_err(c: &Client, token: &str, body: Value) -> (StatusCode, String) {
    let (s, v) = c.post("/api/v1/orders", Some(token), body.clone()).await;
    assert!(s.is_client_error(), "place {body}: {s} {v}");
    (s, code(&v).to_owned())
}

fn limit(side: &str, price: &str, qty: &str) -> Value {
    json!({"market": "BTC-USD", "side": side, "type": "limit", "price": price, "quantity": qty})
}

async fn order(c: &Client, token: &str, id: &Value) -> Value {
    let (s, v) = c.get(&format!("/api/v1/orders/{id}"), Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn amend(c: &Client, token: &str, id: &Value, body: Value) -> (StatusCode, Value) {
    c.call(
        Method::PATCH,
        &format!("/api/v1/orders/{id}"),
        Some(token),
        Some(&body),
    )
    .await
}

/// An app with BTC-USD (tick 0.01, lot 0.0001, maker 10 bp, taker 20 bp; USD has 6
/// decimals, BTC 8) and funded traders.
async fn setup(
    traders: &[(&str, &str, &str)],
) -> (
    tempfile::TempDir,
    bourse::RunningApp,
    Client,
    String,
    Vec<String>,
) {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let mut tokens = Vec::new();
    for (name, usd, btc) in traders {
        tokens.push(c.trader(name).await);
        if *usd != "0" {
            c.deposit(&admin, name, "USD", usd).await;
        }
        if *btc != "0" {
            c.deposit(&admin, name, "BTC", btc).await;
        }
    }
    (dir, app, c, admin, tokens)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_fill_settles_fees_and_balances_to_the_minor_unit() {
    let (_dir, app, c, admin, t) = setup(&[("alice", "1000", "0"), ("bob", "0", "1")]).await;
    let (alice, bob) = (&t[0], &t[1]);

    let sell = place(&c, bob, limit("sell", "100.50", "1")).await;
    assert_eq!(sell["status"], "open");
    // Held: the whole size in BTC.
    assert_eq!(
        balance(&c.balances(bob).await, "BTC"),
        pair("0.00000000", "1.00000000")
    );

    let buy = place(&c, alice, limit("buy", "101", "0.4")).await;
    assert_eq!(buy["status"], "filled");
    assert_eq!(buy["filled_quantity"], "0.4000");
    assert_eq!(buy["remaining_quantity"], "0.0000");
    assert_eq!(buy["average_price"], "100.50");
    let f = &buy["fills"][0];
    assert_eq!(
        (
            f["price"].as_str(),
            f["quantity"].as_str(),
            f["fee"].as_str()
        ),
        (Some("100.50"), Some("0.4000"), Some("0.080400")) // 40.20 × 20 bp
    );
    assert_eq!(
        (f["liquidity"].as_str(), f["side"].as_str()),
        (Some("taker"), Some("buy"))
    );

    // alice: 1000 − 40.20 − 0.0804; bob: 40.20 − 0.0402 (maker 10 bp).
    let a = c.balances(alice).await;
    assert_eq!(balance(&a, "USD"), pair("959.719600", "0.000000"));
    assert_eq!(balance(&a, "BTC"), pair("0.40000000", "0.00000000"));
    let b = c.balances(bob).await;
    assert_eq!(balance(&b, "USD"), pair("40.159800", "0.000000"));
    assert_eq!(balance(&b, "BTC"), pair("0.00000000", "0.60000000"));

    let o = order(&c, bob, &sell["id"]).await;
    assert_eq!(o["status"], "partially_filled");
    assert_eq!(o["remaining_quantity"], "0.6000");
    assert_eq!(o["fills"][0]["fee"], "0.040200");
    assert_eq!(o["fills"][0]["liquidity"], "maker");

    // Fills history of both sides, with cursor paging.
    place(&c, alice, limit("buy", "100.50", "0.1")).await;
    place(&c, alice, limit("buy", "100.50", "0.1")).await;
    let (s, p1) = c.get("/api/v1/fills?limit=2", Some(alice)).await;
    assert_eq!(s, StatusCode::OK, "{p1}");
    let fills = p1["fills"].as_array().unwrap();
    assert_eq!(fills.len(), 2);
    assert!(
        fills[0]["trade_id"].as_u64() > fills[1]["trade_id"].as_u64(),
        "newest first"
    );
    let cursor = p1["next_cursor"].as_u64().expect("a next page");
    let (_, p2) = c
        .get(
            &format!("/api/v1/fills?limit=2&cursor={cursor}"),
            Some(alice),
        )
        .await;
    assert_eq!(p2["fills"].as_array().unwrap().len(), 1);
    assert_eq!(p2["fills"][0]["trade_id"], f["trade_id"]);
    assert_eq!(p2["next_cursor"], Value::Null);
    let (_, bf) = c.get("/api/v1/fills?market=BTC-USD", Some(bob)).await;
    let bf = bf["fills"].as_array().unwrap();
    assert_eq!(bf.len(), 3);
    assert!(bf
        .iter()
        .all(|f| f["liquidity"] == "maker" && f["side"] == "sell"));
    // 0.6 BTC sold in total: 40.20 + 2 × 10.05 = 60.30, fees 0.0402 + 2 × 0.01005.
    assert_eq!(
        balance(&c.balances(bob).await, "USD"),
        pair("60.239700", "0.000000")
    );

    let (_, st) = c.get("/api/v1/admin/state", Some(&admin)).await;
    assert_eq!(st["invariants"], "ok");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_orders_by_quantity_and_by_quote_amount() {
    let (_dir, app, c, _admin, t) = setup(&[
        ("alice", "1000", "0"),
        ("bob", "0", "2"),
        ("carol", "1000", "1"),
    ])
    .await;
    let (alice, bob, carol) = (&t[0], &t[1], &t[2]);
    place(&c, bob, limit("sell", "100", "0.5")).await;
    place(&c, bob, limit("sell", "101", "0.5")).await;
    place(&c, carol, limit("buy", "99", "0.5")).await;

    // By size, walking two levels.
    let o = place(
        &c,
        alice,
        json!({"market": "BTC-USD", "side": "buy", "type": "market", "quantity": "0.6"}),
    )
    .await;
    assert_eq!(o["status"], "filled", "{o}");
    // It never rests: shown as the IOC it runs as, not the request default GTC.
    assert_eq!(o["time_in_force"], "ioc", "{o}");
    assert_eq!(o["filled_quantity"], "0.6000");
    assert_eq!(o["fills"].as_array().unwrap().len(), 2);
    assert_eq!(o["average_price"], "100.16"); // (50 + 10.10) / 0.6 = 100.1666…, rounded down
                                              // 60.10 + 0.1202 fee; no hold left.
    assert_eq!(
        balance(&c.balances(alice).await, "USD"),
        pair("939.779800", "0.000000")
    );

    // By quote amount: spend at most 10 USD, fees included.
    let o = place(
        &c,
        alice,
        json!({"market": "BTC-USD", "side": "buy", "type": "market", "quote_quantity": "10"}),
    )
    .await;
    assert_eq!(o["status"], "filled", "{o}");
    assert_eq!(o["quantity"], Value::Null);
    assert_eq!(o["quote_quantity"], "10.000000");
    // 101 × 0.0989 = 9.98890 + fee 0.019977 = 10.008877 > 10; 0.0988: 9.9788 + 0.019957.
    assert_eq!(o["filled_quantity"], "0.0988");
    assert_eq!(
        balance(&c.balances(alice).await, "USD"),
        pair("929.781043", "0.000000")
    );

    // Market sell by size against carol's bid.
    let o = place(
        &c,
        bob,
        json!({"market": "BTC-USD", "side": "sell", "type": "market", "quantity": "0.2",
               "time_in_force": "ioc"}),
    )
    .await;
    assert_eq!(
        (o["status"].as_str(), o["filled_quantity"].as_str()),
        (Some("filled"), Some("0.2000"))
    );

    // No liquidity left on the bid side beyond carol's 0.3: a market sell of 1 fills
    // 0.3 and expires the rest.
    let o = place(
        &c,
        bob,
        json!({"market": "BTC-USD", "side": "sell", "type": "market", "quantity": "0.5"}),
    )
    .await;
    assert_eq!(
        (o["status"].as_str(), o["filled_quantity"].as_str()),
        (Some("expired"), Some("0.3000"))
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_in_force_post_only_and_self_trade_prevention() {
    let (_dir, app, c, _admin, t) = setup(&[("alice", "1000", "1"), ("bob", "1000", "1")]).await;
    let (alice, bob) = (&t[0], &t[1]);
    let ask = place(&c, bob, limit("sell", "100", "0.3")).await;

    // IOC: fills what is there, expires the rest.
    let mut body = limit("buy", "100", "0.5");
    body["time_in_force"] = json!("ioc");
    let o = place(&c, alice, body).await;
    assert_eq!(
        (o["status"].as_str(), o["filled_quantity"].as_str()),
        (Some("expired"), Some("0.3000"))
    );
    assert_eq!(o["remaining_quantity"], "0.2000");
    assert_eq!(balance(&c.balances(alice).await, "USD").1, "0.000000");
    assert_eq!(order(&c, bob, &ask["id"]).await["status"], "filled");

    // FOK: all or nothing.
    place(&c, bob, limit("sell", "100", "0.3")).await;
    let mut body = limit("buy", "100", "0.5");
    body["time_in_force"] = json!("fok");
    assert_eq!(
        place_err(&c, alice, body.clone()).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "FOK_CANNOT_FILL".into())
    );
    body["quantity"] = json!("0.3");
    assert_eq!(place(&c, alice, body).await["status"], "filled");

    // Post-only: refused if it would take, rests otherwise.
    place(&c, bob, limit("sell", "100", "0.1")).await;
    let mut body = limit("buy", "100", "0.1");
    body["post_only"] = json!(true);
    assert_eq!(
        place_err(&c, alice, body.clone()).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "POST_ONLY_WOULD_TAKE".into()
        )
    );
    body["price"] = json!("99.99");
    let po = place(&c, alice, body).await;
    assert_eq!(
        (po["status"].as_str(), po["post_only"].as_bool()),
        (Some("open"), Some(true))
    );

    // STP: bob's own resting sell at 100 (0.1 left). Default expire_taker: the taker is
    // canceled, the maker stays.
    let o = place(&c, bob, limit("buy", "100", "0.1")).await;
    assert_eq!(
        (o["status"].as_str(), o["filled_quantity"].as_str()),
        (Some("canceled"), Some("0.0000"))
    );
    let (_, book) = c.get("/api/v1/markets/BTC-USD/book", None).await;
    assert_eq!(book["asks"], json!([["100.00", "0.1000"]]));
    // expire_maker: the resting order goes, the taker rests.
    let mut body = limit("buy", "100", "0.1");
    body["stp"] = json!("expire_maker");
    let o = place(&c, bob, body).await;
    assert_eq!(
        (o["status"].as_str(), o["stp"].as_str()),
        (Some("open"), Some("expire_maker"))
    );
    let (_, book) = c.get("/api/v1/markets/BTC-USD/book", None).await;
    assert_eq!(book["asks"], json!([]));
    assert_eq!(book["bids"][0], json!(["100.00", "0.1000"]));
    // expire_both: both go.
    let mut body = limit("sell", "100", "0.1");
    body["stp"] = json!("expire_both");
    let o = place(&c, bob, body).await;
    assert_eq!(o["status"], "canceled");
    let (_, book) = c.get("/api/v1/markets/BTC-USD/book", None).await;
    assert_eq!(book["bids"][0], json!(["99.99", "0.1000"]), "{book}");

    // Field combinations the core refuses.
    let cases = [
        (json!({"type": "market", "price": "100"}), "INVALID_PRICE"),
        (json!({"price": null}), "INVALID_PRICE"),
        (json!({"quantity": null}), "INVALID_QUANTITY"),
        (json!({"time_in_force": "gtd"}), "INVALID_ORDER"),
        (json!({"expire_at": 4_000_000_000_000u64}), "INVALID_ORDER"),
        (
            json!({"time_in_force": "gtd", "expire_at": 1000}),
            "EXPIRE_AT_IN_PAST",
        ),
        (
            json!({"time_in_force": "ioc", "post_only": true}),
            "INVALID_ORDER",
        ),
        (json!({"quantity": "0.00001"}), "INVALID_DECIMAL"),
        (json!({"price": "0.01"}), "NOTIONAL_TOO_SMALL"),
    ];
    for (extra, want) in cases {
        let mut body = limit("buy", "90", "0.1");
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        let (s, got) = place_err(&c, alice, body.clone()).await;
        assert_eq!(got, want, "{body}: {s}");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_orders_wait_then_trigger_on_the_last_trade_price() {
    let (_dir, app, c, _admin, t) = setup(&[
        ("alice", "1000", "0"),
        ("bob", "0", "2"),
        ("carol", "1000", "0"),
        ("dave", "1000", "0"),
    ])
    .await;
    let (alice, bob, carol, dave) = (&t[0], &t[1], &t[2], &t[3]);
    place(&c, bob, limit("sell", "101", "0.5")).await;
    place(&c, bob, limit("sell", "102", "0.5")).await;

    let stop_limit = place(
        &c,
        alice,
        json!({"market": "BTC-USD", "side": "buy", "type": "stop_limit", "stop_price": "101",
               "price": "102", "quantity": "0.2"}),
    )
    .await;
    assert_eq!(stop_limit["status"], "new");
    assert_eq!(stop_limit["filled_quantity"], "0.0000");
    // Held until triggered: 0.2 × 102 + fee at max(maker, taker) = 20.40 + 0.0408.
    assert_eq!(
        balance(&c.balances(alice).await, "USD"),
        pair("979.559200", "20.440800")
    );
    let stop_market = place(
        &c,
        carol,
        json!({"market": "BTC-USD", "side": "buy", "type": "stop_market", "stop_price": "101.50",
               "quantity": "0.1"}),
    )
    .await;
    assert_eq!(stop_market["status"], "new");
    assert_eq!(stop_market["time_in_force"], "ioc");
    let (_, open) = c.get("/api/v1/orders?status=open", Some(alice)).await;
    assert_eq!(open["orders"][0]["id"], stop_limit["id"]);

    // A trade at 101 triggers alice's stop (≥ 101), not carol's (101.50).
    place(&c, dave, limit("buy", "101", "0.1")).await;
    let o = order(&c, alice, &stop_limit["id"]).await;
    assert_eq!(o["status"], "filled", "{o}");
    assert_eq!(o["average_price"], "101.00");
    assert_eq!(order(&c, carol, &stop_market["id"]).await["status"], "new");
    // alice paid 20.20 + 0.0404 and the rest of the hold came back.
    assert_eq!(
        balance(&c.balances(alice).await, "USD"),
        pair("979.759600", "0.000000")
    );

    // A trade at 102 triggers carol's stop-market, which buys at 102.
    place(&c, dave, limit("buy", "102", "0.4")).await;
    let o = order(&c, carol, &stop_market["id"]).await;
    assert_eq!(o["status"], "filled", "{o}");
    assert_eq!(o["fills"][0]["price"], "102.00");

    // A stop that would trigger at once is refused.
    let (s, e) = place_err(
        &c,
        alice,
        json!({"market": "BTC-USD", "side": "buy", "type": "stop_limit", "stop_price": "101",
               "price": "102", "quantity": "0.1"}),
    )
    .await;
    assert_eq!(
        (s, e.as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "STOP_WOULD_TRIGGER_IMMEDIATELY"
        )
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gtd_orders_expire_and_release_their_hold() {
    let (_dir, app, c, _admin, t) = setup(&[("alice", "1000", "0")]).await;
    let alice = &t[0];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut body = limit("buy", "100", "1");
    body["time_in_force"] = json!("gtd");
    body["expire_at"] = json!(now + 500);
    let o = place(&c, alice, body).await;
    assert_eq!(
        (o["status"].as_str(), o["expire_at"].as_u64()),
        (Some("open"), Some(now + 500))
    );
    assert_eq!(balance(&c.balances(alice).await, "USD").1, "100.200000");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let o = order(&c, alice, &o["id"]).await;
        if o["status"] == "expired" {
            assert_eq!(o["remaining_quantity"], "1.0000");
            break;
        }
        assert!(Instant::now() < deadline, "not expired: {o}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        balance(&c.balances(alice).await, "USD"),
        pair("1000.000000", "0.000000")
    );
    let (_, book) = c.get("/api/v1/markets/BTC-USD/book", None).await;
    assert_eq!(book["bids"], json!([]));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amend_keeps_priority_only_for_a_size_decrease() {
    let (_dir, app, c, _admin, t) = setup(&[("alice", "10000", "0"), ("bob", "0", "5")]).await;
    let (alice, bob) = (&t[0], &t[1]);

    // Size decrease: A stays ahead of B.
    let a = place(&c, bob, limit("sell", "110", "0.3")).await;
    let b = place(&c, bob, limit("sell", "110", "0.3")).await;
    let (s, am) = amend(&c, bob, &a["id"], json!({"quantity": "0.2"})).await;
    assert_eq!(s, StatusCode::OK, "{am}");
    assert_eq!(
        (am["quantity"].as_str(), am["remaining_quantity"].as_str()),
        (Some("0.2000"), Some("0.2000"))
    );
    // The hold shrank with it: 0.2 + 0.3 (+ later orders) BTC.
    assert_eq!(balance(&c.balances(bob).await, "BTC").1, "0.50000000");
    place(&c, alice, limit("buy", "110", "0.2")).await;
    assert_eq!(order(&c, bob, &a["id"]).await["status"], "filled");
    assert_eq!(order(&c, bob, &b["id"]).await["status"], "open");
    c.delete(&format!("/api/v1/orders/{}", b["id"]), Some(bob))
        .await;

    // Size increase: C goes behind D.
    let cc = place(&c, bob, limit("sell", "120", "0.3")).await;
    let d = place(&c, bob, limit("sell", "120", "0.3")).await;
    let (s, am) = amend(&c, bob, &cc["id"], json!({"quantity": "0.4"})).await;
    assert_eq!(s, StatusCode::OK, "{am}");
    place(&c, alice, limit("buy", "120", "0.3")).await;
    assert_eq!(order(&c, bob, &d["id"]).await["status"], "filled");
    assert_eq!(order(&c, bob, &cc["id"]).await["status"], "open");
    c.delete(&format!("/api/v1/orders/{}", cc["id"]), Some(bob))
        .await;

    // Price change (away and back): E goes behind F.
    let e = place(&c, bob, limit("sell", "130", "0.3")).await;
    let f = place(&c, bob, limit("sell", "130", "0.3")).await;
    let (s, am) = amend(&c, bob, &e["id"], json!({"price": "130.01"})).await;
    assert_eq!((s, am["price"].as_str()), (StatusCode::OK, Some("130.01")));
    amend(&c, bob, &e["id"], json!({"price": "130"})).await;
    place(&c, alice, limit("buy", "130", "0.3")).await;
    assert_eq!(order(&c, bob, &f["id"]).await["status"], "filled");
    assert_eq!(order(&c, bob, &e["id"]).await["status"], "open");

    // A price amend that crosses trades at once, as a taker.
    let g = place(&c, alice, limit("buy", "125", "0.1")).await;
    let (s, am) = amend(&c, alice, &g["id"], json!({"price": "130"})).await;
    assert_eq!(
        (s, am["status"].as_str()),
        (StatusCode::OK, Some("filled")),
        "{am}"
    );
    assert_eq!(am["fills"][0]["liquidity"], "taker");

    // Errors.
    let e_id = &e["id"];
    let (s, v) = amend(&c, bob, e_id, json!({})).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR")
    );
    let (s, v) = amend(&c, alice, e_id, json!({"price": "131"})).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "UNKNOWN_ORDER"));
    let (s, v) = amend(&c, bob, &a["id"], json!({"price": "131"})).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "UNKNOWN_ORDER"),
        "filled order"
    );
    let (s, v) = amend(&c, bob, e_id, json!({"price": "131.001"})).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_DECIMAL")
    );
    let (s, v) = amend(&c, bob, e_id, json!({"quantity": "1000000"})).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "INSUFFICIENT_BALANCE")
    );
    let (s, v) = amend(&c, bob, e_id, json!({"size": "1"})).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "UNKNOWN_FIELD")
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_all_per_market_and_everywhere() {
    let (_dir, app, c, admin, t) = setup(&[("alice", "10000", "0"), ("bob", "0", "1")]).await;
    let (alice, bob) = (&t[0], &t[1]);
    let (s, v) = c
        .post(
            "/api/v1/admin/markets",
            Some(&admin),
            json!({"symbol": "ETH-USD", "base": "ETH", "quote": "USD", "tick_size": "0.01",
                   "lot_size": "0.001", "min_notional": "1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    place(&c, bob, limit("sell", "100", "0.1")).await;
    let partial = place(&c, alice, limit("buy", "100", "0.3")).await;
    assert_eq!(partial["status"], "partially_filled");
    place(&c, alice, limit("buy", "90", "0.1")).await;
    place(
        &c,
        alice,
        json!({"market": "BTC-USD", "side": "buy", "type": "stop_limit", "stop_price": "150",
               "price": "150", "quantity": "0.1"}),
    )
    .await;
    place(
        &c,
        alice,
        json!({"market": "ETH-USD", "side": "buy", "type": "limit", "price": "50", "quantity": "1"}),
    )
    .await;

    let (s, v) = c.delete("/api/v1/orders?market=BTC-USD", Some(alice)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["count"], 3);
    let mine = v["orders"].as_array().unwrap();
    let p = mine.iter().find(|o| o["id"] == partial["id"]).unwrap();
    assert_eq!(
        (
            p["filled_quantity"].as_str(),
            p["remaining_quantity"].as_str()
        ),
        (Some("0.1000"), Some("0.2000"))
    );
    assert!(mine.iter().all(|o| o["market"] == "BTC-USD"));
    assert_eq!(order(&c, alice, &partial["id"]).await["status"], "canceled");
    // Only the ETH order holds USD now: 50 + 0.1 fee.
    assert_eq!(balance(&c.balances(alice).await, "USD").1, "50.100000");

    let (s, v) = c.delete("/api/v1/orders", Some(alice)).await;
    assert_eq!((s, v["count"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(v["orders"][0]["market"], "ETH-USD");
    let (s, v) = c.delete("/api/v1/orders", Some(alice)).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"count": 0, "orders": []})));
    assert_eq!(balance(&c.balances(alice).await, "USD").1, "0.000000");
    let (_, open) = c.get("/api/v1/orders?status=open", Some(alice)).await;
    assert_eq!(open["orders"], json!([]));
    let (s, v) = c
        .delete("/api/v1/orders?market=NOPE-USD", Some(alice))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "UNKNOWN_MARKET"));
    let (s, v) = c.delete("/api/v1/orders", None).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_order_id_is_idempotent_for_every_order_type() {
    let (_dir, app, c, _admin, t) = setup(&[("alice", "1000", "1")]).await;
    let alice = &t[0];
    let bodies = [
        json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "90",
               "quantity": "0.1", "client_order_id": "c-1"}),
        json!({"market": "BTC-USD", "side": "sell", "type": "stop_market", "stop_price": "80",
               "quantity": "0.1", "client_order_id": "c-2"}),
        json!({"market": "BTC-USD", "side": "buy", "type": "market", "quote_quantity": "5",
               "client_order_id": "c-3"}),
    ];
    for body in bodies {
        let first = place(&c, alice, body.clone()).await;
        assert_eq!(first["client_order_id"], body["client_order_id"]);
        let (s, again) = c.post("/api/v1/orders", Some(alice), body.clone()).await;
        assert_eq!(
            (s, &again["id"]),
            (StatusCode::OK, &first["id"]),
            "{body}: {again}"
        );
        let mut other = body.clone();
        other["side"] = json!(if body["side"] == "buy" { "sell" } else { "buy" });
        let (s, v) = c.post("/api/v1/orders", Some(alice), other).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::CONFLICT, "DUPLICATE_CLIENT_ORDER_ID")
        );
    }
    app.shutdown().await;
}
