//! A fan-out that lags behind the sequencer's broadcast: fresh book snapshots, and
//! `UPDATES_LOST` for channels whose missed updates cannot be rebuilt.

use crate::book::{follow_to, rest_book, subscribe_book, Book};
use crate::{connect, place, send, setup, until, ws_stats};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

/// More batches than the sequencer's real-time broadcast holds (1024).
const LAG_BATCHES: usize = 1100;

/// Stalls every worker of the test runtime (which runs the server's tasks, the fan-out
/// among them) and, meanwhile, has the sequencer apply `LAG_BATCHES` commands submitted
/// from a thread of its own: maker/taker pairs that trade, one command per batch. The
/// fan-out then finds that it lagged behind the broadcast. Returns once the workers run
/// again.
fn lag_the_fan_out(
    app: &bourse::RunningApp,
    market: bourse_model::MarketId,
    maker: u64,
    taker: u64,
) {
    use bourse_model::{CommandKind, NewOrder, Price, Qty, Side, UserId};
    use std::sync::mpsc::channel;
    const WORKERS: usize = 2;
    let (ready_tx, ready) = channel::<()>();
    let (release_tx, release) = channel::<()>();
    let release = std::sync::Arc::new(std::sync::Mutex::new(release));
    for _ in 0..WORKERS {
        let (ready_tx, release) = (ready_tx.clone(), release.clone());
        tokio::spawn(async move {
            ready_tx.send(()).unwrap();
            // Blocks this worker thread (on purpose) until the test lets go.
            let _ = release
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(120));
        });
    }
    for _ in 0..WORKERS {
        ready
            .recv_timeout(Duration::from_secs(20))
            .expect("a runtime worker to block");
    }
    // (The second blocker waits for the mutex the first holds: both workers are stuck.)
    let seq = app.state.seq.clone();
    let submitter = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let order = |user: u64, side: Side| {
                CommandKind::PlaceOrder(Box::new(NewOrder::limit(
                    UserId(user),
                    market,
                    side,
                    Price(10_000),
                    Qty(100),
                )))
            };
            for _ in 0..LAG_BATCHES / 2 {
                for (user, side) in [(maker, Side::Sell), (taker, Side::Buy)] {
                    let applied = seq.submit(order(user, side)).await.unwrap();
                    assert!(applied.rejected().is_none(), "{:?}", applied.events);
                }
            }
        });
    });
    let submitted = submitter.join();
    for _ in 0..WORKERS {
        let _ = release_tx.send(());
    }
    submitted.expect("the submitter thread");
}

/// The fan-out lags behind the sequencer's broadcast: book subscribers get a fresh
/// snapshot equal to the REST book (and gap-free updates after it), and subscribers of
/// channels whose missed updates cannot be rebuilt — trades, candles, orders, fills,
/// balances — get an `UPDATES_LOST` error frame naming the channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_fan_out_resends_snapshots_and_says_what_was_lost() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), |_| {}, 2).await;
    let id = |t: &str| {
        let c = s.c.clone();
        let t = t.to_owned();
        async move {
            let (_, me) = c.get("/api/v1/auth/me", Some(&t)).await;
            me["id"].as_u64().unwrap()
        }
    };
    let (maker, taker) = (id(&s.traders[0]).await, id(&s.traders[1]).await);
    place(&s.c, &s.traders[0], "buy", "99.00", "0.5000").await;
    let mut public = connect(s.app.addr).await;
    let (mut seq, mut book) = subscribe_book(&mut public).await;
    let public_channels = ["trades.BTC-USD", "candles.BTC-USD.1m"];
    send(
        &mut public,
        json!({"op": "subscribe", "channels": public_channels}),
    )
    .await;
    until(&mut public, |v| v["type"] == "subscribed").await;
    let mut private = connect(s.app.addr).await;
    send(&mut private, json!({"op": "auth", "token": s.traders[1]})).await;
    until(&mut private, |v| v["type"] == "authenticated").await;
    let private_channels = ["orders", "fills", "balances"];
    send(
        &mut private,
        json!({"op": "subscribe", "channels": private_channels}),
    )
    .await;
    until(&mut private, |v| v["type"] == "subscribed").await;
    assert_eq!(ws_stats(&s).await["resyncs"], 0);

    let market = s
        .app
        .state
        .seq
        .query(|core| core.market_by_symbol("BTC-USD"))
        .await
        .unwrap()
        .unwrap();
    lag_the_fan_out(&s.app, market, maker, taker);

    // The book: a fresh snapshot, equal to the REST book, then gap-free updates.
    let (target, rest) = rest_book(&s.c).await;
    assert!(target >= seq + LAG_BATCHES as u64, "{target}");
    let (snap, _) = until(&mut public, |v| {
        v["channel"] == "book.BTC-USD" && v["type"] == "snapshot"
    })
    .await;
    seq = snap["sequence"].as_u64().unwrap();
    book = {
        let _ = book;
        Book::from_lists(&snap["data"])
    };
    assert_eq!((seq, &book), (target, &rest));
    // Right after it, every other channel is told that its updates were lost.
    for (ws, channels) in [
        (&mut public, &public_channels[..]),
        (&mut private, &private_channels[..]),
    ] {
        // (In any order between the channels.)
        let mut told = HashSet::new();
        while told.len() < channels.len() {
            let (e, _) = until(ws, |v| v["type"] == "error").await;
            assert_eq!(e["code"], "UPDATES_LOST", "{e}");
            assert!(
                e["message"].as_str().is_some_and(|m| m.contains("REST")),
                "{e}"
            );
            let ch = e["channel"].as_str().unwrap().to_owned();
            assert!(channels.contains(&ch.as_str()), "{e}");
            assert!(told.insert(ch), "told twice: {e}");
        }
    }
    assert!(ws_stats(&s).await["resyncs"].as_u64().unwrap() >= 1);
    // And the book goes on without a gap.
    place(&s.c, &s.traders[0], "buy", "98.00", "0.1000").await;
    let (target, rest) = rest_book(&s.c).await;
    follow_to(&mut public, &mut book, &mut seq, target).await;
    assert_eq!(book, rest);
    // The candle was seeded again from the read models: the next trade's update equals
    // the REST candle (the missed trades counted once, none twice).
    // (It takes the best bid, 99.00.)
    place(&s.c, &s.traders[1], "sell", "98.00", "0.1000").await;
    until(&mut public, |v| {
        v["channel"] == "trades.BTC-USD" && v["data"][0]["price"] == "99.00"
    })
    .await;
    let (update, _) = until(&mut public, |v| {
        v["channel"] == "candles.BTC-USD.1m" && v["type"] == "update"
    })
    .await;
    let (st, candles) =
        s.c.get("/api/v1/markets/BTC-USD/candles?interval=1m", None)
            .await;
    assert_eq!(st, StatusCode::OK);
    let rest = candles.as_array().unwrap().last().unwrap();
    assert_eq!(update["data"]["start"], rest["time"]);
    for k in ["open", "high", "low", "close", "volume", "trade_count"] {
        assert_eq!(update["data"][k], rest[k], "{k}: ws {update} rest {rest}");
    }
    s.app.shutdown().await;
}
