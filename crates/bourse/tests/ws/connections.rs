//! Connections: error frames for bad requests, idle connections closed, a slow consumer
//! closed without stalling the others.

use crate::book::{follow_to, rest_book, subscribe_book};
use crate::{connect, expect, next, place, send, setup, until};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_error_frames() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), |c| c.ws.max_subscriptions = 2, 1).await;
    let mut ws = connect(s.app.addr).await;
    let code = |v: &Value| v["code"].as_str().unwrap().to_owned();
    ws.send(Message::text("{not json")).await.unwrap();
    let e = expect(&mut ws).await;
    assert_eq!(
        (e["type"].as_str(), code(&e).as_str()),
        (Some("error"), "MALFORMED_JSON")
    );
    send(&mut ws, json!({"op": "dance"})).await;
    assert_eq!(code(&expect(&mut ws).await), "UNKNOWN_OP");
    send(
        &mut ws,
        json!({"op": "subscribe", "channels": ["depth.BTC-USD"]}),
    )
    .await;
    let e = expect(&mut ws).await;
    assert_eq!(
        (code(&e).as_str(), e["channel"].as_str()),
        ("UNKNOWN_CHANNEL", Some("depth.BTC-USD"))
    );
    send(
        &mut ws,
        json!({"op": "subscribe", "channels": ["book.NOPE-USD"]}),
    )
    .await;
    assert_eq!(code(&expect(&mut ws).await), "UNKNOWN_CHANNEL");
    send(&mut ws, json!({"op": "subscribe", "channels": ["orders"]})).await;
    assert_eq!(code(&expect(&mut ws).await), "UNAUTHORIZED");
    // Nothing to subscribe to is a bad request too, not silence.
    send(&mut ws, json!({"op": "subscribe", "channels": []})).await;
    let e = next(&mut ws, Duration::from_secs(5))
        .await
        .expect("an answer to an empty subscribe");
    assert_eq!(
        (e["type"].as_str(), code(&e).as_str()),
        (Some("error"), "VALIDATION_ERROR")
    );
    send(&mut ws, json!({"op": "auth", "token": "not-a-token"})).await;
    assert_eq!(code(&expect(&mut ws).await), "UNAUTHORIZED");
    send(&mut ws, json!({"op": "subscribe", "channels": ["trades.BTC-USD", "ticker.BTC-USD", "book.BTC-USD"]})).await;
    let (e, _) = until(&mut ws, |v| v["type"] == "error").await;
    assert_eq!(
        (code(&e).as_str(), e["channel"].as_str()),
        ("TOO_MANY_SUBSCRIPTIONS", Some("book.BTC-USD"))
    );
    send(&mut ws, json!({"op": "ping"})).await;
    let (p, _) = until(&mut ws, |v| v["type"] == "pong" || v["type"] == "error").await;
    assert_eq!(p["type"], "pong");
    // The connection survived every error.
    send(
        &mut ws,
        json!({"op": "unsubscribe", "channels": ["trades.BTC-USD"]}),
    )
    .await;
    let (u, _) = until(&mut ws, |v| v["type"] == "unsubscribed").await;
    assert_eq!(u["channels"], json!(["trades.BTC-USD"]));
    let _ = &s.admin;
    s.app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(
        dir.path(),
        |c| {
            c.ws.ping_interval_ms = 50;
            c.ws.idle_timeout_ms = 300;
        },
        0,
    )
    .await;
    // A client that never reads also never answers pings: it is closed as idle (its
    // pongs, sent when it finally reads, may hit the closed socket before the close frame
    // is read, so the server's counter is the witness).
    let ws = connect(s.app.addr).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (_, mut rx) = ws.split();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = rx.next().await {
            if let Message::Close(f) = m {
                return f.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .expect("the idle connection stays open");
    assert!(matches!(ended, None | Some(4000)), "{ended:?}");
    let (_, stats) =
        s.c.get("/api/v1/admin/notifications/stats", Some(&s.admin))
            .await;
    let closed_idle = stats["websocket"]["idle_closed"] == 1;
    assert!(closed_idle, "{stats}");
    s.app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_closed_without_stalling_others() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(
        dir.path(),
        |c| {
            c.ws.queue_capacity = 16;
            c.ws.send_timeout_ms = 1000;
        },
        2,
    )
    .await;
    // A deep book makes snapshots big.
    for i in 0..150 {
        place(
            &s.c,
            &s.traders[0],
            "buy",
            &format!("{}.00", 50 + i % 45),
            "0.0500",
        )
        .await;
    }
    let mut fast = connect(s.app.addr).await;
    let (mut fast_seq, mut fast_book) = subscribe_book(&mut fast).await;
    // The slow client asks for snapshot after snapshot and never reads.
    let mut slow = connect(s.app.addr).await;
    // (Its writes start failing once the server has dropped it.)
    let req = json!({"op": "subscribe", "channels": ["book.BTC-USD"]}).to_string();
    for _ in 0..2000 {
        if slow.send(Message::text(req.clone())).await.is_err() {
            break;
        }
    }
    // Trading continues; the fast client keeps up with every update.
    let t0 = std::time::Instant::now();
    for i in 0..100 {
        place(
            &s.c,
            &s.traders[1],
            "sell",
            &format!("{}.00", 120 + i % 10),
            "0.0500",
        )
        .await;
    }
    let orders_took = t0.elapsed();
    let (target, rest) = rest_book(&s.c).await;
    follow_to(&mut fast, &mut fast_book, &mut fast_seq, target).await;
    assert_eq!(fast_book, rest);
    assert!(
        orders_took < Duration::from_secs(20),
        "orders stalled: {orders_took:?}"
    );
    let (st, stats) =
        s.c.get("/api/v1/admin/notifications/stats", Some(&s.admin))
            .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        stats["websocket"]["slow_consumers_closed"]
            .as_u64()
            .unwrap()
            >= 1,
        "{stats}"
    );
    // The slow connection ends (close frame 4008, or dropped at the send timeout).
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match slow.next().await {
                None | Some(Err(_)) => return None,
                Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .expect("the slow connection was not closed");
    assert!(matches!(ended, None | Some(4008)), "{ended:?}");
    s.app.shutdown().await;
}
