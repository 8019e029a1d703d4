//! Demo mode: a newcomer sees a live two-sided market with trades within seconds, gets
//! demo funds on registration, and can trade against the bot.

mod common;

use bourse_model::parse_units;
use common::{eventually, start, test_config, Client};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

fn balance<'a>(balances: &'a Value, asset: &str) -> Option<&'a str> {
    balances
        .as_array()?
        .iter()
        .find(|b| b["asset"] == asset)?
        .get("available")?
        .as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_market_is_alive_and_a_newcomer_can_trade_against_the_bot() {
    let dir = tempfile::tempdir().unwrap();
    let config = bourse::Config {
        demo: true,
        ..test_config(dir.path(), None)
    };
    let app = start(config).await;
    let c = Client::new(app.addr);

    // Both markets exist as soon as the server listens.
    let (s, markets) = c.get("/api/v1/markets", None).await;
    assert_eq!(s, StatusCode::OK, "{markets}");
    let symbols: Vec<&str> = markets
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["symbol"].as_str())
        .collect();
    assert!(
        symbols.contains(&"BTC-USD") && symbols.contains(&"ETH-USD"),
        "{markets}"
    );

    // Both sides of both books fill up within seconds, with many levels.
    for symbol in ["BTC-USD", "ETH-USD"] {
        let book = eventually(Duration::from_secs(5), "a two-sided book", || async {
            let (s, b) = c
                .get(&format!("/api/v1/markets/{symbol}/book?depth=50"), None)
                .await;
            assert_eq!(s, StatusCode::OK, "{b}");
            let levels = |side: &str| b[side].as_array().map_or(0, Vec::len);
            (levels("bids") >= 10 && levels("asks") >= 10).then_some(b)
        })
        .await;
        let best = |side: &str| parse_units(book[side][0][0].as_str().unwrap(), 2).unwrap();
        assert!(best("bids") < best("asks"), "crossed book: {book}");
    }

    // The taker bot trades within a few seconds.
    let seq = app.state.seq.clone();
    eventually(Duration::from_secs(8), "a demo trade", || {
        let seq = seq.clone();
        async move {
            seq.query(|core| core.markets().iter().any(|m| m.last_price.is_some()))
                .await
                .unwrap()
                .then_some(())
        }
    })
    .await;

    // A newcomer is credited demo funds on registration, before the register reply: the
    // core holds them the moment it arrives (several newcomers at once).
    let (cl, st) = (&c, &app.state);
    let register = |name: String| async move {
        let (s, v) = cl
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": name, "password": "password123"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let user = bourse_model::UserId(v["id"].as_u64().unwrap());
        st.seq
            .query(move |core| {
                ["USD", "BTC", "ETH"].map(|a| {
                    let asset = core.asset_by_symbol(a).expect("demo asset");
                    core.balance(user, asset).0 .0
                })
            })
            .await
            .unwrap()
    };
    let names = (0..4).map(|i| format!("newcomer{i}"));
    for funds in futures_util::future::join_all(names.map(register)).await {
        // 100 000 USD (6 decimals), 2 BTC and 30 ETH (8 decimals).
        assert_eq!(funds, [100_000_000_000, 200_000_000, 3_000_000_000]);
    }
    let token = c.login("newcomer0", "password123").await;
    let funds = c.balances(&token).await;
    assert_eq!(balance(&funds, "BTC"), Some("2.00000000"), "{funds}");

    // … and an order at the best ask matches the market maker.
    let (_, book) = c.get("/api/v1/markets/BTC-USD/book?depth=1", None).await;
    let ask = book["asks"][0][0].as_str().unwrap().to_owned();
    let (s, order) = c
        .post(
            "/api/v1/orders",
            Some(&token),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": ask,
                   "quantity": "0.0010", "time_in_force": "ioc"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    // The maker may have re-quoted between the book read and the order: an IOC at an
    // old best ask can miss. The quote moves by a few basis points at most, so retry
    // with a marketable price once if needed.
    let filled = order["filled_quantity"] == "0.0010";
    let order = if filled {
        order
    } else {
        let (s, o) = c
            .post(
                "/api/v1/orders",
                Some(&token),
                json!({"market": "BTC-USD", "side": "buy", "type": "market",
                       "quantity": "0.0010"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        o
    };
    assert_eq!(order["status"], "filled", "{order}");
    let fills = order["fills"].as_array().expect("fills");
    assert!(!fills.is_empty(), "{order}");
    assert!(fills.iter().all(|f| f["liquidity"] == "taker"), "{order}");
    let b = c.balances(&token).await;
    let btc = parse_units(balance(&b, "BTC").unwrap(), 8).unwrap();
    assert_eq!(btc, 200_000_000 + 100_000, "{b}");

    // The admin is not a demo user: no funds.
    let admin = c.admin().await;
    let b = c.balances(&admin).await;
    assert!(balance(&b, "USD").is_none_or(|v| v == "0.000000"), "{b}");

    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_restart_keeps_markets_and_bots_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let config = bourse::Config {
        demo: true,
        ..test_config(dir.path(), None)
    };
    let app = start(config.clone()).await;
    let users = app.state.seq.query(|core| core.user_count()).await.unwrap();
    app.shutdown().await;

    let app = start(config).await;
    let (markets, users_again) = app
        .state
        .seq
        .query(|core| (core.markets().len(), core.user_count()))
        .await
        .unwrap();
    assert_eq!(markets, 2);
    assert_eq!(users_again, users, "bots were registered again");
    let c = Client::new(app.addr);
    eventually(Duration::from_secs(5), "book after restart", || async {
        let (_, b) = c.get("/api/v1/markets/ETH-USD/book", None).await;
        (b["bids"].as_array().is_some_and(|v| !v.is_empty())
            && b["asks"].as_array().is_some_and(|v| !v.is_empty()))
        .then_some(())
    })
    .await;
    app.shutdown().await;
}
