//! The current candle and the ticker survive a restart (SQLite and PostgreSQL).

use crate::common::{self, start, test_config, Client};
use crate::{connect, place, send, setup, until, Ws};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The current candle and the ticker survive a restart: the fan-out seeds them from the
/// read models, so a subscriber's snapshot equals the REST candles (not `null`, not a
/// candle of the trades since the restart only) and the ticker keeps the last trade's
/// quantity. Trades after the restart add to the seeded candle, not to a fresh one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candles_and_ticker_survive_a_restart() {
    candles_and_ticker_after_a_restart(None).await;
}

/// The same on PostgreSQL (`BOURSE_TEST_PG_URL`, default the machine's `test` database; a
/// fresh database, dropped after): the seed is one SQL statement both backends run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candles_and_ticker_survive_a_restart_on_postgres() {
    common::with_fresh_pg("bourse_ws_candles", |url| async move {
        candles_and_ticker_after_a_restart(Some(url)).await;
    })
    .await;
}

async fn candles_and_ticker_after_a_restart(url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let db = url.clone();
    let s = setup(dir.path(), move |c| c.database_url = db, 2).await;
    place(&s.c, &s.traders[0], "sell", "100.00", "0.3000").await;
    place(&s.c, &s.traders[1], "buy", "100.00", "0.1000").await;
    place(&s.c, &s.traders[0], "sell", "101.00", "0.3000").await;
    place(&s.c, &s.traders[1], "buy", "101.00", "0.2500").await;
    s.app.shutdown().await;

    let mut cfg = test_config(dir.path(), url);
    cfg.limits.enabled = false;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let mut ws = connect(app.addr).await;
    let rest_candle = |c: &Client| {
        let c = c.clone();
        async move {
            let (st, v) = c
                .get("/api/v1/markets/BTC-USD/candles?interval=1m", None)
                .await;
            assert_eq!(st, StatusCode::OK, "{v}");
            v.as_array().unwrap().last().cloned().expect("a candle")
        }
    };
    let same = |ws: &Value, rest: &Value| {
        assert_eq!(ws["start"], rest["time"], "ws {ws} rest {rest}");
        for k in [
            "open",
            "high",
            "low",
            "close",
            "volume",
            "quote_volume",
            "trade_count",
        ] {
            assert_eq!(ws[k], rest[k], "{k}: ws {ws} rest {rest}");
        }
    };
    let candle = ask(&mut ws, "candles.BTC-USD.1m").await;
    let rest = rest_candle(&c).await;
    same(&candle, &rest);
    assert_eq!(candle["close"], "101.00");
    let ticker = ask(&mut ws, "ticker.BTC-USD").await;
    // The last buy took 0.2 at 100 and then 0.05 at 101.
    assert_eq!(
        (
            ticker["last_price"].as_str(),
            ticker["last_quantity"].as_str()
        ),
        (Some("101.00"), Some("0.0500")),
        "{ticker}"
    );

    // A trade after the restart: its update is the seeded candle plus the trade.
    let t1 = c.login("trader1", "password123").await;
    place(&c, &t1, "buy", "101.00", "0.0500").await;
    let (update, _) = until(&mut ws, |v| {
        v["channel"] == "candles.BTC-USD.1m" && v["type"] == "update"
    })
    .await;
    let rest = rest_candle(&c).await;
    same(&update["data"], &rest);
    app.shutdown().await;
}

/// Subscribes to `ch` and returns its snapshot's data.
async fn ask(ws: &mut Ws, ch: &str) -> Value {
    send(ws, json!({"op": "subscribe", "channels": [ch]})).await;
    let (snap, _) = until(ws, |v| v["channel"] == ch && v["type"] == "snapshot").await;
    snap["data"].clone()
}
