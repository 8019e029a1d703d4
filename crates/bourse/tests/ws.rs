//! WebSocket API against the real app on port 0, with real WebSocket clients.

mod common;

use bourse::Config;
use common::{start, test_config, Client};
use futures_util::{SinkExt, StreamExt};
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("ws connect");
    ws
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next JSON frame (pings are answered by the client library), or `None` on close.
async fn next(ws: &mut Ws, within: Duration) -> Option<Value> {
    // One deadline for the call: control frames (server pings) must not restart it.
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no frame in time")?;
        match msg {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn expect(ws: &mut Ws) -> Value {
    next(ws, Duration::from_secs(10))
        .await
        .expect("connection closed")
}

/// Reads until a frame matches `f`, returning it and what came before.
async fn until(ws: &mut Ws, f: impl Fn(&Value) -> bool) -> (Value, Vec<Value>) {
    let mut before = Vec::new();
    loop {
        let v = expect(ws).await;
        if f(&v) {
            return (v, before);
        }
        before.push(v);
    }
}

struct Setup {
    app: bourse::RunningApp,
    c: Client,
    admin: String,
    traders: Vec<String>,
}

async fn setup(dir: &std::path::Path, config: impl FnOnce(&mut Config), traders: usize) -> Setup {
    let mut cfg = test_config(dir, None);
    // These tests measure streams, not request quotas.
    cfg.limits.enabled = false;
    config(&mut cfg);
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let mut tokens = Vec::new();
    for i in 0..traders {
        let name = format!("trader{i}");
        let t = c.trader(&name).await;
        c.deposit(&admin, &name, "USD", "1000000").await;
        c.deposit(&admin, &name, "BTC", "1000").await;
        tokens.push(t);
    }
    Setup {
        app,
        c,
        admin,
        traders: tokens,
    }
}

async fn place(c: &Client, token: &str, side: &str, price: &str, qty: &str) -> Value {
    c.limit_order(token, side, price, qty).await
}

/// A book as price → qty per side, from a snapshot's or REST's `[[price, qty]…]` lists.
#[derive(Debug, Default, PartialEq, Eq)]
struct Book {
    bids: BTreeMap<String, String>,
    asks: BTreeMap<String, String>,
}

impl Book {
    fn from_lists(v: &Value) -> Book {
        let side = |k: &str| {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    (
                        l[0].as_str().unwrap().to_owned(),
                        l[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        Book {
            bids: side("bids"),
            asks: side("asks"),
        }
    }

    fn apply(&mut self, data: &Value) {
        for (k, side) in [("bids", &mut self.bids), ("asks", &mut self.asks)] {
            for l in data[k].as_array().unwrap() {
                let (p, q) = (l[0].as_str().unwrap(), l[1].as_str().unwrap());
                if q.trim_start_matches(['0', '.']).is_empty() {
                    assert!(side.remove(p).is_some(), "removing absent level {p}");
                } else {
                    side.insert(p.to_owned(), q.to_owned());
                }
            }
        }
    }
}

async fn rest_book(c: &Client) -> (u64, Book) {
    let (s, v) = c.get("/api/v1/markets/BTC-USD/book?depth=1000", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    (v["sequence"].as_u64().unwrap(), Book::from_lists(&v))
}

/// Follows a book channel: returns the book once it reaches `target`, checking that
/// every update's sequence is the previous one plus one.
async fn follow_to(ws: &mut Ws, book: &mut Book, seq: &mut u64, target: u64) {
    while *seq < target {
        let v = expect(ws).await;
        if v["channel"] != "book.BTC-USD" {
            continue;
        }
        match v["type"].as_str().unwrap() {
            "update" => {
                let s = v["sequence"].as_u64().unwrap();
                assert_eq!(s, *seq + 1, "gap or repeat in book updates: {v}");
                book.apply(&v["data"]);
                *seq = s;
            }
            "snapshot" => {
                *book = Book::from_lists(&v["data"]);
                *seq = v["sequence"].as_u64().unwrap();
            }
            t => panic!("unexpected type {t}"),
        }
    }
}

async fn subscribe_book(ws: &mut Ws) -> (u64, Book) {
    send(ws, json!({"op": "subscribe", "channels": ["book.BTC-USD"]})).await;
    let (snap, _) = until(ws, |v| v["type"] == "snapshot").await;
    assert_eq!(snap["channel"], "book.BTC-USD");
    (
        snap["sequence"].as_u64().unwrap(),
        Book::from_lists(&snap["data"]),
    )
}

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
                }
                Some("fills") => {
                    assert!(
                        ids[i].contains(&v["data"]["order_id"].as_u64().unwrap()),
                        "{v}"
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

async fn ws_stats(s: &Setup) -> Value {
    let (st, v) =
        s.c.get("/api/v1/admin/notifications/stats", Some(&s.admin))
            .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["websocket"].clone()
}

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
