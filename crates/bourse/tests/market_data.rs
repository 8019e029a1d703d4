//! Public market data after real trades: markets, book depth, trades, ticker, candles.
//! Expected candles and ticker values are computed here from the trades the API lists
//! (a test can straddle a minute boundary), with integer arithmetic on the decimals.

mod common;

use common::{code, start, test_config, Client};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The test config with rate limits off: these suites fire requests back to back.
fn config(dir: &std::path::Path) -> bourse::Config {
    let mut c = test_config(dir, None);
    c.limits.enabled = false;
    c
}
use std::collections::BTreeMap;

async fn place(c: &Client, token: &str, side: &str, price: &str, qty: &str) -> Value {
    let body = json!({"market": "BTC-USD", "side": side, "type": "limit", "price": price, "quantity": qty});
    let (s, v) = c.post("/api/v1/orders", Some(token), body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

/// open, high, low, close (ticks), volume (lots), quote volume (minor units), trade count.
type Ohlcv = (u64, u64, u64, u64, u64, u64, u64);

/// `"101.25"` → 10125 (decimals must be `scale`).
fn units(s: &str, scale: usize) -> u64 {
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    assert_eq!(f.len(), scale, "{s}");
    format!("{i}{f}").parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_data_reflects_the_trades() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "alice", "USD", "100000").await;
    c.deposit(&admin, "bob", "BTC", "100").await;

    // Before any trade.
    let (s, m) = c.get("/api/v1/markets", None).await;
    assert_eq!(s, StatusCode::OK);
    let m = &m[0];
    assert_eq!(
        (
            m["symbol"].as_str(),
            m["base"].as_str(),
            m["quote"].as_str(),
            m["status"].as_str()
        ),
        (Some("BTC-USD"), Some("BTC"), Some("USD"), Some("open"))
    );
    assert_eq!(
        (m["tick_size"].as_str(), m["lot_size"].as_str()),
        (Some("0.01"), Some("0.0001"))
    );
    assert_eq!(
        (m["min_notional"].as_str(), m["min_quantity"].as_str()),
        (Some("1.000000"), Some("0.0001"))
    );
    assert_eq!(
        (m["maker_fee_bps"].as_u64(), m["taker_fee_bps"].as_u64()),
        (Some(10), Some(20))
    );
    assert_eq!(
        (m["base_decimals"].as_u64(), m["quote_decimals"].as_u64()),
        (Some(8), Some(6))
    );
    assert_eq!(m["last_price"], Value::Null);
    let (_, t) = c.get("/api/v1/markets/BTC-USD/ticker", None).await;
    assert_eq!(
        (&t["last"], &t["open"], &t["change_percent"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    assert_eq!(
        (t["volume"].as_str(), t["trade_count"].as_u64()),
        (Some("0.0000"), Some(0))
    );
    let (_, tr) = c.get("/api/v1/markets/BTC-USD/trades", None).await;
    assert_eq!(tr, json!([]));
    let (_, cs) = c.get("/api/v1/markets/BTC-USD/candles", None).await;
    assert_eq!(cs, json!([]));

    // Trades at 100, 102, 99, 101 (taker buys and sells), then a resting book.
    place(&c, &bob, "sell", "100", "1").await;
    place(&c, &alice, "buy", "100", "1").await;
    place(&c, &bob, "sell", "102", "0.5").await;
    place(&c, &alice, "buy", "102", "0.5").await;
    place(&c, &alice, "buy", "99", "0.25").await;
    place(&c, &bob, "sell", "99", "0.25").await;
    place(&c, &bob, "sell", "101", "2").await;
    place(&c, &alice, "buy", "101", "0.1").await;
    place(&c, &alice, "buy", "98", "1").await;
    place(&c, &alice, "buy", "98", "0.5").await;
    place(&c, &alice, "buy", "97.50", "1").await;

    // Book: aggregated levels, best first; depth cuts.
    let (s, book) = c.get("/api/v1/markets/BTC-USD/book?depth=1", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(book["bids"], json!([["98.00", "1.5000"]]));
    assert_eq!(book["asks"], json!([["101.00", "1.9000"]]));
    let (_, book) = c.get("/api/v1/markets/BTC-USD/book", None).await;
    assert_eq!(
        book["bids"],
        json!([["98.00", "1.5000"], ["97.50", "1.0000"]])
    );
    assert!(book["sequence"].as_u64().unwrap() >= 9);

    // Trades: newest first, with the taker's side; limit and cursor.
    let (_, trades) = c.get("/api/v1/markets/BTC-USD/trades", None).await;
    let trades = trades.as_array().unwrap().clone();
    let got: Vec<(&str, &str, &str, &str)> = trades
        .iter()
        .map(|t| {
            (
                t["price"].as_str().unwrap(),
                t["quantity"].as_str().unwrap(),
                t["quote_quantity"].as_str().unwrap(),
                t["taker_side"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("101.00", "0.1000", "10.100000", "buy"),
            ("99.00", "0.2500", "24.750000", "sell"),
            ("102.00", "0.5000", "51.000000", "buy"),
            ("100.00", "1.0000", "100.000000", "buy"),
        ]
    );
    let (_, page) = c.get("/api/v1/markets/BTC-USD/trades?limit=2", None).await;
    assert_eq!(page.as_array().unwrap().len(), 2);
    let last_id = page[1]["id"].as_u64().unwrap();
    let (_, page2) = c
        .get(
            &format!("/api/v1/markets/BTC-USD/trades?limit=2&cursor={last_id}"),
            None,
        )
        .await;
    assert_eq!(page2[0]["price"], "102.00");
    assert_eq!(page2[1]["price"], "100.00");

    // Ticker over the 24 h window.
    let (s, t) = c.get("/api/v1/markets/BTC-USD/ticker", None).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(
        (
            t["open"].as_str(),
            t["high"].as_str(),
            t["low"].as_str(),
            t["last"].as_str()
        ),
        (
            Some("100.00"),
            Some("102.00"),
            Some("99.00"),
            Some("101.00")
        )
    );
    assert_eq!(
        (t["volume"].as_str(), t["quote_volume"].as_str()),
        (Some("1.8500"), Some("185.850000"))
    );
    assert_eq!(
        (t["change"].as_str(), t["change_percent"].as_str()),
        (Some("1.00"), Some("1.00"))
    );
    assert_eq!(t["trade_count"], 4);
    assert_eq!(
        (t["best_bid"].as_str(), t["best_bid_quantity"].as_str()),
        (Some("98.00"), Some("1.5000"))
    );
    assert_eq!(
        (t["best_ask"].as_str(), t["best_ask_quantity"].as_str()),
        (Some("101.00"), Some("1.9000"))
    );
    let (_, m) = c.get("/api/v1/markets", None).await;
    assert_eq!(m[0]["last_price"], "101.00");

    // Candles, for every interval: what the trades say, bucket by bucket.
    let mut chrono: Vec<&Value> = trades.iter().collect();
    chrono.reverse();
    for (interval, ms) in [
        ("1m", 60_000u64),
        ("5m", 300_000),
        ("15m", 900_000),
        ("1h", 3_600_000),
        ("4h", 14_400_000),
        ("1d", 86_400_000),
    ] {
        // bucket → (open, high, low, close, volume lots, quote units, count)
        let mut want: BTreeMap<u64, Ohlcv> = BTreeMap::new();
        for t in &chrono {
            let b = t["created_at"].as_u64().unwrap() / ms * ms;
            let p = units(t["price"].as_str().unwrap(), 2);
            let q = units(t["quantity"].as_str().unwrap(), 4);
            let n = units(t["quote_quantity"].as_str().unwrap(), 6);
            let e = want.entry(b).or_insert((p, p, p, p, 0, 0, 0));
            e.1 = e.1.max(p);
            e.2 = e.2.min(p);
            e.3 = p;
            e.4 += q;
            e.5 += n;
            e.6 += 1;
        }
        let (s, cs) = c
            .get(
                &format!("/api/v1/markets/BTC-USD/candles?interval={interval}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{cs}");
        let got: BTreeMap<u64, Ohlcv> = cs
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["time"].as_u64().unwrap(),
                    (
                        units(c["open"].as_str().unwrap(), 2),
                        units(c["high"].as_str().unwrap(), 2),
                        units(c["low"].as_str().unwrap(), 2),
                        units(c["close"].as_str().unwrap(), 2),
                        units(c["volume"].as_str().unwrap(), 4),
                        units(c["quote_volume"].as_str().unwrap(), 6),
                        c["trade_count"].as_u64().unwrap(),
                    ),
                )
            })
            .collect();
        assert_eq!(got, want, "interval {interval}");
    }
    // A range that ends before the trades is empty; start/end bound the buckets.
    let first = chrono[0]["created_at"].as_u64().unwrap();
    let (_, cs) = c
        .get(
            &format!(
                "/api/v1/markets/BTC-USD/candles?interval=1m&start=0&end={}",
                first - 120_000
            ),
            None,
        )
        .await;
    assert_eq!(cs, json!([]));
    let (_, cs) = c
        .get(
            &format!("/api/v1/markets/BTC-USD/candles?interval=1d&start=0&end={first}&limit=1"),
            None,
        )
        .await;
    assert_eq!(cs.as_array().unwrap().len(), 1);

    // Unknown markets and bad parameters on every route.
    for path in ["book", "trades", "ticker", "candles"] {
        let (s, v) = c
            .get(&format!("/api/v1/markets/NOPE-USD/{path}"), None)
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::NOT_FOUND, "UNKNOWN_MARKET"),
            "{path}"
        );
    }
    for (q, status, want) in [
        (
            "book?depth=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        (
            "book?depth=1001",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        ("book?depth=abc", StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        ("book?depth=-1", StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        (
            "trades?limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        (
            "trades?limit=1001",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        ("trades?cursor=x", StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        (
            "candles?interval=2m",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        (
            "candles?interval=",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        (
            "candles?start=10&end=5",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        ("candles?start=abc", StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        (
            "candles?end=99999999999999999999",
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            "candles?end=9999999999999999",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        (
            "candles?limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        (
            "candles?limit=100000",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
    ] {
        let (s, v) = c.get(&format!("/api/v1/markets/BTC-USD/{q}"), None).await;
        assert_eq!((s, code(&v)), (status, want), "{q}: {v}");
    }

    // Every route of this area and its neighbours is in the OpenAPI document.
    let (s, doc) = c.get("/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    for (path, method) in [
        ("/api/v1/markets", "get"),
        ("/api/v1/markets/{symbol}/book", "get"),
        ("/api/v1/markets/{symbol}/trades", "get"),
        ("/api/v1/markets/{symbol}/ticker", "get"),
        ("/api/v1/markets/{symbol}/candles", "get"),
        ("/api/v1/orders", "post"),
        ("/api/v1/orders", "delete"),
        ("/api/v1/orders/{id}", "patch"),
        ("/api/v1/fills", "get"),
        ("/api/v1/balances", "get"),
        ("/api/v1/withdrawals", "post"),
        ("/api/v1/deposits", "get"),
        ("/api/v1/admin/withdrawals/{id}/approve", "post"),
        ("/api/v1/admin/markets/{symbol}/halt", "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(
            op["responses"].is_object(),
            "{method} {path} not documented"
        );
    }
    for schema in [
        "OrderJson",
        "PlaceOrderBody",
        "TickerJson",
        "CandleJson",
        "Side",
        "TimeInForce",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }
    app.shutdown().await;
}
