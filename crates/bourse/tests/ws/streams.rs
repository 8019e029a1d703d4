//! The data channels: book snapshot and diffs, trades, ticker, candles, reconnects, and
//! private streams that show only the owner's data.

use crate::book::{follow_to, rest_book, subscribe_book};
use crate::{connect, expect, next, place, send, setup, until, ws_stats};
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_gap_free_diffs_equal_the_rest_book() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), |_| {}, 4).await;
    let mut ws = connect(s.app.addr).await;
    // Some resting liquidity before the subscription: the snapshot must carry it.
    place(&s.c, &s.traders[0], "buy", "99.00", "0.5000").await;
    place(&s.c, &s.traders[1], "sell", "101.00", "0.2500").await;
    let (mut seq, mut book) = subscribe_book(&mut ws).await;
    let (rest_seq, rest) = rest_book(&s.c).await;
    assert!(seq >= 2 && rest_seq >= seq);

    // A randomized stream from several users, in concurrent tasks, with cancels.
    let mut tasks = Vec::new();
    for (u, token) in s.traders.iter().enumerate() {
        let (c, token) = (s.c.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(7 + u as u64);
            let mut open: Vec<u64> = Vec::new();
            for _ in 0..60 {
                if !open.is_empty() && rng.gen_bool(0.2) {
                    let id = open.swap_remove(rng.gen_range(0..open.len()));
                    c.delete(&format!("/api/v1/orders/{id}"), Some(&token))
                        .await;
                    continue;
                }
                let side = if rng.gen_bool(0.5) { "buy" } else { "sell" };
                let price = format!("{}.{:02}", rng.gen_range(97..103), rng.gen_range(0..4) * 25);
                // At least 0.02 BTC: above the 1 USD minimum notional at these prices.
                let qty = format!("0.{:04}", rng.gen_range(20..500) * 10);
                let o = place(&c, &token, side, &price, &qty).await;
                if o["status"] == "open" || o["status"] == "partially_filled" {
                    open.push(o["id"].as_u64().unwrap());
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (target, rest_after) = rest_book(&s.c).await;
    assert!(
        target > rest_seq + 100,
        "the stream changed the book many times"
    );
    let _ = rest;
    follow_to(&mut ws, &mut book, &mut seq, target).await;
    assert_eq!(seq, target);
    assert_eq!(
        book, rest_after,
        "WS book differs from the REST book at sequence {target}"
    );

    // Resubscribing on the same connection gives a fresh, equal snapshot.
    let (seq2, book2) = subscribe_book(&mut ws).await;
    assert_eq!((seq2, &book2), (target, &rest_after));
    // Followed by updates alone: the fan-out never fell behind and resent snapshots.
    assert_eq!(ws_stats(&s).await["resyncs"], 0);
    s.app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trades_ticker_candles_and_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), |_| {}, 2).await;
    let mut ws = connect(s.app.addr).await;
    send(
        &mut ws,
        json!({"op": "subscribe",
        "channels": ["trades.BTC-USD", "ticker.BTC-USD", "candles.BTC-USD.1m"]}),
    )
    .await;
    let (ack, _) = until(&mut ws, |v| v["type"] == "subscribed").await;
    assert_eq!(ack["channels"].as_array().unwrap().len(), 3);
    place(&s.c, &s.traders[0], "sell", "100.00", "0.3000").await;
    place(&s.c, &s.traders[1], "buy", "100.00", "0.1000").await;
    let (t, _) = until(&mut ws, |v| v["channel"] == "trades.BTC-USD").await;
    assert_eq!(t["data"][0]["price"], "100.00");
    assert_eq!(t["data"][0]["quantity"], "0.1000");
    assert_eq!(t["data"][0]["side"], "buy");
    let (c, _) = until(&mut ws, |v| {
        v["channel"] == "candles.BTC-USD.1m" && v["type"] == "update"
    })
    .await;
    assert_eq!(c["data"]["close"], "100.00");
    assert_eq!(c["data"]["volume"], "0.1000");
    drop(ws);

    // Reconnect after missing updates: resubscribe, fresh snapshot equal to REST.
    place(&s.c, &s.traders[1], "buy", "98.00", "0.1000").await;
    let mut ws = connect(s.app.addr).await;
    let (seq, book) = subscribe_book(&mut ws).await;
    let (rest_seq, rest) = rest_book(&s.c).await;
    assert_eq!((seq, book), (rest_seq, rest));
    send(
        &mut ws,
        json!({"op": "subscribe", "channels": ["ticker.BTC-USD"]}),
    )
    .await;
    let (tk, _) = until(&mut ws, |v| v["channel"] == "ticker.BTC-USD").await;
    assert_eq!(tk["type"], "snapshot");
    assert_eq!(tk["data"]["last_price"], "100.00");
    assert_eq!(tk["data"]["best_bid"], "98.00");
    assert_eq!(tk["data"]["best_ask"], "100.00");
    assert_eq!(tk["data"]["best_ask_quantity"], "0.2000");
    s.app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_streams_show_only_the_owners_data() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), |_| {}, 2).await;
    let mut socks = Vec::new();
    for t in &s.traders {
        let mut ws = connect(s.app.addr).await;
        send(&mut ws, json!({"op": "auth", "token": t})).await;
        let a = expect(&mut ws).await;
        assert_eq!(a["type"], "authenticated", "{a}");
        send(
            &mut ws,
            json!({"op": "subscribe", "channels": ["orders", "fills", "balances"]}),
        )
        .await;
        let (ack, _) = until(&mut ws, |v| v["type"] == "subscribed").await;
        assert_eq!(ack["channels"].as_array().unwrap().len(), 3);
        socks.push(ws);
    }
    let a1 = place(&s.c, &s.traders[0], "sell", "100.00", "0.2000").await;
    let a2 = place(&s.c, &s.traders[0], "sell", "100.50", "0.2000").await;
    let b1 = place(&s.c, &s.traders[1], "buy", "100.00", "0.1000").await;
    let ids = [
        HashSet::from([a1["id"].as_u64().unwrap(), a2["id"].as_u64().unwrap()]),
        HashSet::from([b1["id"].as_u64().unwrap()]),
    ];
    for (i, ws) in socks.iter_mut().enumerate() {
        // Read until this user's fill arrived, then a short while more.
        let mut seen_fill = false;
        let mut orders = HashSet::new();
        let mut balances = 0;
        while let Some(v) = next(
            ws,
            Duration::from_millis(if seen_fill { 300 } else { 5000 }),
        )
        .await
        .filter(|_| true)
        {
            match v["channel"].as_str() {
                Some("orders") => {
                    orders.insert(v["data"]["order_id"].as_u64().unwrap());
                    if v["data"]["event"] == "accepted" {
                        // The whole order after its command: what POST /orders answered.
                        let mut rest = [&a1, &a2, &b1]
                            .into_iter()
                            .find(|o| o["id"] == v["data"]["order_id"])
                            .unwrap()
                            .clone();
                        rest.as_object_mut().unwrap().remove("fills");
                        assert_eq!(v["data"]["order"], rest, "{v}");
                    }
                }
                Some("fills") => {
                    assert!(
                        ids[i].contains(&v["data"]["order_id"].as_u64().unwrap()),
                        "{v}"
                    );
                    // The REST fill, the same object.
                    let (_, rest) = s.c.get("/api/v1/fills", Some(&s.traders[i])).await;
                    assert!(
                        rest["fills"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|f| *f == v["data"]),
                        "{v} not in {rest}"
                    );
                    assert_eq!(
                        v["data"]["liquidity"],
                        if i == 0 { "maker" } else { "taker" }
                    );
                    seen_fill = true;
                }
                Some("balances") => balances += 1,
                _ => panic!("unexpected frame {v}"),
            }
            if seen_fill && orders == ids[i] && balances > 0 {
                break;
            }
        }
        assert!(seen_fill);
        assert_eq!(orders, ids[i], "user {i} saw other orders");
    }
    s.app.shutdown().await;
}
