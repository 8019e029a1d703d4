//! Money safety at order entry: a market order sized by quote amount is bounded by the
//! market's slippage like one sized by base, its stopped remainder says why
//! (`price_protection`), and markets get a price band unless they opt out.

mod common;

use common::{balance, code, start, test_config, Client};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn app() -> (tempfile::TempDir, bourse::RunningApp, Client, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    config.limits.enabled = false;
    let app = start(config).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    (dir, app, c, admin)
}

async fn place(c: &Client, token: &str, body: Value) -> Value {
    let (s, v) = c.post("/api/v1/orders", Some(token), body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "place {body}: {v}");
    v
}

fn limit(side: &str, price: &str, qty: &str) -> Value {
    json!({"market": "BTC-USD", "side": side, "type": "limit", "price": price, "quantity": qty})
}

/// The issue's case: a thin book (0.001 bid at 65,000, then 100 at 0.01) and a sell "for
/// 1000 USD" by someone holding 2 BTC. It takes the good bid and stops at the 5 %
/// floor instead of dumping the rest at 0.01.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_sized_market_sell_stops_at_the_slippage_floor() {
    let (_dir, _app, c, admin) = app().await;
    let buyer = c.trader("buyer").await;
    let seller = c.trader("seller").await;
    c.deposit(&admin, "buyer", "USD", "1000").await;
    c.deposit(&admin, "seller", "BTC", "2").await;
    // No trade yet, so no last price and no band: the bids can be this far apart.
    place(&c, &buyer, limit("buy", "65000", "0.001")).await;
    place(&c, &buyer, limit("buy", "0.01", "100")).await;

    let o = place(
        &c,
        &seller,
        json!({"market": "BTC-USD", "side": "sell", "type": "market", "quote_quantity": "1000"}),
    )
    .await;
    assert_eq!(o["status"], "expired", "{o}");
    assert_eq!(o["reason"], "price_protection", "{o}");
    assert_eq!(o["filled_quantity"], "0.0010");
    assert_eq!(o["average_price"], "65000.00");
    assert_eq!(o["fills"].as_array().unwrap().len(), 1);
    // The seller gave up 0.001 BTC and nothing more; the cheap bid still rests.
    assert_eq!(
        balance(&c.balances(&seller).await, "BTC").0,
        "1.99900000",
        "seller's BTC"
    );
    let (s, book) = c.get("/api/v1/markets/BTC-USD/book", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(book["bids"][0][0], "0.01", "{book}");
    assert_eq!(book["bids"][0][1], "100.0000", "{book}");

    // The read model says the same once projected.
    let id = o["id"].clone();
    let stored = common::eventually(std::time::Duration::from_secs(5), "projected", || {
        let c = &c;
        let seller = seller.clone();
        let id = id.clone();
        async move {
            let (s, v) = c.get(&format!("/api/v1/orders/{id}"), Some(&seller)).await;
            (s == StatusCode::OK && v["status"] == "expired").then_some(v)
        }
    })
    .await;
    assert_eq!(stored["reason"], "price_protection");
}

/// The same bound for a buy by quote amount: 0.01 offered at 100, then 1 at 1000; a
/// buy "for 500 USD" takes the first and stops at the 5 % cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_sized_market_buy_stops_at_the_slippage_cap() {
    let (_dir, _app, c, admin) = app().await;
    let buyer = c.trader("buyer").await;
    let seller = c.trader("seller").await;
    c.deposit(&admin, "buyer", "USD", "1000").await;
    c.deposit(&admin, "seller", "BTC", "2").await;
    place(&c, &seller, limit("sell", "100", "0.01")).await;
    place(&c, &seller, limit("sell", "1000", "1")).await;

    let o = place(
        &c,
        &buyer,
        json!({"market": "BTC-USD", "side": "buy", "type": "market", "quote_quantity": "500"}),
    )
    .await;
    assert_eq!(o["status"], "expired", "{o}");
    assert_eq!(o["reason"], "price_protection");
    assert_eq!(o["filled_quantity"], "0.0100");
    // 1 USD notional + 0.2 % taker fee; the rest of the 500 is released.
    assert_eq!(
        balance(&c.balances(&buyer).await, "USD"),
        ("998.998000".to_owned(), "0.000000".to_owned())
    );

    // An IOC limit that runs out of liquidity within its price is not price protection.
    let ioc = place(
        &c,
        &buyer,
        json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "100",
               "quantity": "0.01", "time_in_force": "ioc"}),
    )
    .await;
    assert_eq!(ioc["status"], "expired");
    assert_eq!(ioc["reason"], "immediate_or_cancel");
}

/// A market created without a band gets the default 10 %: after a trade at 100, a limit
/// at 111 is refused and one at 110 accepted. A market may opt out with 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_markets_get_a_default_price_band() {
    let (_dir, _app, c, admin) = app().await;
    let buyer = c.trader("buyer").await;
    let seller = c.trader("seller").await;
    c.deposit(&admin, "buyer", "USD", "1000").await;
    c.deposit(&admin, "seller", "BTC", "2").await;
    place(&c, &seller, limit("sell", "100", "0.1")).await;
    place(&c, &buyer, limit("buy", "100", "0.1")).await;

    let (s, v) = c
        .post("/api/v1/orders", Some(&buyer), limit("buy", "111", "0.1"))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "PRICE_OUT_OF_BAND")
    );
    let (s, v) = c
        .post("/api/v1/orders", Some(&seller), limit("sell", "89", "0.1"))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "PRICE_OUT_OF_BAND")
    );
    place(&c, &buyer, limit("buy", "110", "0.01")).await;

    // Opting out, and out-of-range settings.
    let body = |band: u32| {
        json!({"symbol": "ETH-USD", "base": "ETH", "quote": "USD", "tick_size": "0.01",
               "lot_size": "0.001", "min_notional": "1", "price_band_bps": band})
    };
    let (s, v) = c
        .post("/api/v1/admin/markets", Some(&admin), body(10_001))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR")
    );
    let (s, v) = c.post("/api/v1/admin/markets", Some(&admin), body(0)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    c.deposit(&admin, "seller", "ETH", "1").await;
    let eth = |side: &str, price: &str| {
        json!({"market": "ETH-USD", "side": side, "type": "limit", "price": price,
               "quantity": "0.1"})
    };
    place(&c, &seller, eth("sell", "100")).await;
    place(&c, &buyer, eth("buy", "100")).await;
    place(&c, &buyer, eth("buy", "500")).await;
}
