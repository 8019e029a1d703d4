//! Notification delivery when things go wrong: a failed live delivery lands in the
//! dead-letter queue, which admins list and retry; and the inbox misses nothing while
//! the notification service lags far behind the sequencer.
//!
//! The lag test needs PostgreSQL (`BOURSE_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; a fresh database per run, dropped after; an
//! unreachable server fails the test): it stalls the service by locking the inbox table.

mod common;

use bourse::RunningApp;
use common::{code, eventually, start, test_config, Client};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

async fn funded(c: &Client, admin: &str, name: &str) -> String {
    let t = c.trader(name).await;
    c.deposit(admin, name, "USD", "100000").await;
    c.deposit(admin, name, "BTC", "100").await;
    t
}

async fn place(c: &Client, token: &str, side: &str, price: &str, qty: &str) -> u64 {
    let v = c.limit_order(token, side, price, qty).await;
    v["id"].as_u64().unwrap()
}

/// The next JSON frame within `within`; `None` on close or timeout.
async fn frame<S>(ws: &mut WebSocketStream<S>, within: Duration) -> Option<Value>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match tokio::time::timeout(within, ws.next()).await.ok()?? {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Authenticates and subscribes to `notifications`, reading both acks.
async fn subscribe_notifications<S>(ws: &mut WebSocketStream<S>, token: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for req in [
        json!({"op": "auth", "token": token}),
        json!({"op": "subscribe", "channels": ["notifications"]}),
    ] {
        ws.send(Message::text(req.to_string())).await.unwrap();
        let v = frame(ws, Duration::from_secs(20)).await.expect("an answer");
        assert!(
            v["type"] == "authenticated" || v["type"] == "subscribed",
            "{v}"
        );
    }
}

async fn stats(c: &Client, admin: &str) -> Value {
    let (s, v) = c
        .get("/api/v1/admin/notifications/stats", Some(admin))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn dead_letters(c: &Client, admin: &str) -> Vec<Value> {
    let (s, v) = c
        .get("/api/v1/admin/notifications/dead-letters", Some(admin))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["dead_letters"].as_array().unwrap().clone()
}

/// The notification `id` as the user's inbox shows it.
async fn in_inbox(c: &Client, token: &str, id: u64) -> Value {
    let (s, v) = c.get("/api/v1/notifications?limit=200", Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id)
        .unwrap_or_else(|| panic!("notification {id} is not in the inbox: {v}"))
        .clone()
}

/// The slow-consumer tests' server: a 16-message WebSocket queue (it fills fast) and a
/// two-minute write deadline (a stuck connection stays open and subscribed while the test
/// works with it); BTC-USD with 150 bids (every book snapshot is big); funded `maker`
/// and `alice`.
struct SlowConsumerSetup {
    _dir: tempfile::TempDir,
    app: RunningApp,
    c: Client,
    admin: String,
    maker: String,
    alice: String,
    alice_id: u64,
}

async fn slow_consumer_setup() -> SlowConsumerSetup {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.limits.enabled = false;
    cfg.ws.queue_capacity = 16;
    cfg.ws.send_timeout_ms = 120_000;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let maker = funded(&c, &admin, "maker").await;
    let alice = funded(&c, &admin, "alice").await;
    let (_, me) = c.get("/api/v1/auth/me", Some(&alice)).await;
    let alice_id = me["id"].as_u64().unwrap();
    for i in 0..150 {
        place(&c, &maker, "buy", &format!("{}.00", 20 + i), "0.0500").await;
    }
    SlowConsumerSetup {
        _dir: dir,
        app,
        c,
        admin,
        maker,
        alice,
        alice_id,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_dead_lettered_and_an_admin_retry_delivers_it() {
    let SlowConsumerSetup {
        _dir,
        app,
        c,
        admin,
        maker,
        alice,
        alice_id,
    } = slow_consumer_setup().await;

    // Alice's only connection asks for snapshot after snapshot and never reads: the
    // socket fills and the server's write to it hangs. Paced, so that requests never
    // pile up while the server still reads them (each one queues a snapshot, and the
    // queue must fill only once the writer is stuck).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(app.addr).await.unwrap();
    let (mut slow, _) = tokio_tungstenite::client_async(format!("ws://{}/ws", app.addr), tcp)
        .await
        .unwrap();
    subscribe_notifications(&mut slow, &alice).await;
    let (mut slow_tx, slow_rx) = slow.split();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let flood = tokio::spawn(async move {
        let req = json!({"op": "subscribe", "channels": ["book.BTC-USD"]}).to_string();
        for _ in 0..10_000 {
            let sent = tokio::time::timeout(
                Duration::from_secs(2),
                slow_tx.send(Message::text(req.clone())),
            );
            // Once the server stops reading, sends hang: that is the point.
            if !matches!(sent.await, Ok(Ok(()))) {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                _ = &mut stopped => break,
            }
        }
        slow_tx
    });
    // Then book updates pile up in its queue until it is full: the connection is
    // marked a slow consumer, but its writer is still stuck, so it stays subscribed.
    let mut i = 0;
    eventually(Duration::from_secs(120), "a full queue", || {
        i += 1;
        let (c, maker, admin) = (&c, &maker, &admin);
        async move {
            place(c, maker, "sell", &format!("{}.00", 300 + i % 500), "0.0500").await;
            let st = stats(c, admin).await;
            (st["websocket"]["slow_consumers_closed"].as_u64().unwrap() >= 1).then_some(())
        }
    })
    .await;
    let _ = stop.send(());
    assert_eq!(
        stats(&c, &admin).await["websocket"]["connections"],
        1,
        "the slow connection is still open (its writer is stuck)"
    );

    // A normal-priority notification for Alice now finds her only connection full.
    let order = place(&c, &alice, "buy", "10.00", "0.1000").await;
    let dl = eventually(Duration::from_secs(30), "the dead letter", || async {
        dead_letters(&c, &admin)
            .await
            .into_iter()
            .find(|d| d["user_id"] == alice_id)
    })
    .await;
    assert_eq!(dl["reason"], "slow consumer", "{dl}");
    assert_eq!(dl["attempts"], 1, "{dl}");
    let nid = dl["notification_id"].as_u64().unwrap();
    let n = in_inbox(&c, &alice, nid).await;
    assert_eq!(n["type"], "order_accepted", "{n}");
    assert_eq!(n["data"]["order_id"], order, "{n}");
    assert!(stats(&c, &admin).await["notifications"]["dead_lettered"].as_u64() >= Some(1));
    let dl_id = dl["id"].as_u64().unwrap();
    let retry_path = format!("/api/v1/admin/notifications/dead-letters/{dl_id}/retry");

    // Only admins see and retry dead letters.
    let (s, v) = c
        .get("/api/v1/admin/notifications/dead-letters", Some(&alice))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let (s, v) = c.post(&retry_path, Some(&alice), json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "FORBIDDEN"));

    // The slow connection goes away; a retry while Alice is offline counts an attempt.
    let slow_tx = flood.await.unwrap();
    drop(slow_tx.reunite(slow_rx).unwrap());
    eventually(
        Duration::from_secs(60),
        "the slow connection to end",
        || async { (stats(&c, &admin).await["websocket"]["connections"] == 0).then_some(()) },
    )
    .await;
    let (s, v) = c.post(&retry_path, Some(&admin), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"delivered": false, "reason": "user offline"}));
    let dl = dead_letters(&c, &admin)
        .await
        .into_iter()
        .find(|d| d["id"] == dl_id)
        .expect("still dead-lettered");
    assert_eq!(dl["attempts"], 2, "{dl}");
    in_inbox(&c, &alice, nid).await;

    // Alice is back: the retry delivers it to her new connection and clears it.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", app.addr))
        .await
        .unwrap();
    subscribe_notifications(&mut ws, &alice).await;
    let (s, v) = c.post(&retry_path, Some(&admin), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["delivered"], true, "{v}");
    let f = frame(&mut ws, Duration::from_secs(20))
        .await
        .expect("the retried notification");
    assert_eq!(f["channel"], "notifications", "{f}");
    let data = f["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{f}");
    assert_eq!(data[0]["id"], nid, "{f}");
    assert_eq!(data[0]["type"], "order_accepted", "{f}");
    assert!(
        dead_letters(&c, &admin)
            .await
            .iter()
            .all(|d| d["id"] != dl_id),
        "a delivered dead letter leaves the queue"
    );
    let (s, v) = c.post(&retry_path, Some(&admin), json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    in_inbox(&c, &alice, nid).await;
    app.shutdown().await;
}

/// A connection of `token`'s user subscribed to `notifications` and `book.BTC-USD` whose
/// writer is stuck with (almost) nothing queued: the client never reads, so the server's
/// write of a book snapshot or an ack hangs once the socket buffers are full, and the
/// server stops reading requests. The requests are padded with JSON whitespace so that a
/// few of them fill the buffers, and paced so that they never pile up while the server
/// still reads them (each queues a snapshot). Returns once a request could not be sent
/// for two seconds: the server has stopped reading.
async fn stuck_connection(
    addr: std::net::SocketAddr,
    token: &str,
) -> WebSocketStream<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.set_send_buffer_size(4096).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), tcp)
        .await
        .unwrap();
    subscribe_notifications(&mut ws, token).await;
    let req = format!(
        r#"{{"op":"subscribe","channels":["book.BTC-USD"]}}{}"#,
        " ".repeat(8 * 1024)
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "the server kept reading");
        let sent =
            tokio::time::timeout(Duration::from_secs(2), ws.send(Message::text(req.clone())));
        if !matches!(sent.await, Ok(Ok(()))) {
            return ws;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Slow consumer, in order: once the connection's queue is half full a `low`
/// notification is no longer queued (counted as dropped, not dead-lettered, still in the
/// inbox) while `normal` ones still are; only a full queue costs a normal one (dead
/// letter) and the connection (slow consumer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_priority_is_dropped_first_while_normal_is_still_queued() {
    let SlowConsumerSetup {
        _dir,
        app,
        c,
        admin,
        maker: _,
        alice,
        alice_id,
    } = slow_consumer_setup().await;
    let slow = stuck_connection(app.addr, &alice).await;
    let st = stats(&c, &admin).await;
    assert_eq!(st["websocket"]["slow_consumers_closed"], 0, "{st}");
    let dropped0 = st["notifications"]["dropped"].as_u64().unwrap();

    // Each order of Alice queues a book update and her order_accepted (normal) and
    // balance_updated (low): at most 3 messages a round, so the queue (16) passes half
    // (8) with room to spare before it is full.
    let mut rounds = 0;
    let (st, order) = loop {
        rounds += 1;
        assert!(
            rounds <= 8,
            "no low notification dropped after {rounds} orders"
        );
        let order = place(&c, &alice, "buy", &format!("{}.00", rounds), "1.0000").await;
        in_inbox_of_order(&c, &alice, order, "balance_updated").await;
        let st = stats(&c, &admin).await;
        if st["notifications"]["dropped"].as_u64().unwrap() > dropped0 {
            break (st, order);
        }
    };
    assert_eq!(
        st["notifications"]["dropped"].as_u64().unwrap(),
        dropped0 + 1,
        "only the low one: {st}"
    );
    assert_eq!(
        st["websocket"]["slow_consumers_closed"], 0,
        "not full yet: {st}"
    );
    assert_eq!(st["notifications"]["dead_lettered"], 0, "{st}");
    assert!(dead_letters(&c, &admin).await.is_empty());
    // Both are in the inbox: the dropped low one and the queued normal one.
    let accepted = in_inbox_of_order(&c, &alice, order, "order_accepted").await;
    assert_eq!(accepted["priority"], "normal");
    let balance = in_inbox_of_order(&c, &alice, order, "balance_updated").await;
    assert_eq!(balance["priority"], "low");

    // Going on, the queue fills: a normal notification that finds it full is
    // dead-lettered and the connection is closed as a slow consumer; no low one is ever
    // dead-lettered.
    let dl = eventually(Duration::from_secs(60), "a dead letter", || {
        rounds += 1;
        let (c, alice, admin) = (&c, &alice, &admin);
        let price = format!("{}.00", rounds);
        async move {
            place(c, alice, "buy", &price, "1.0000").await;
            dead_letters(c, admin).await.into_iter().next()
        }
    })
    .await;
    assert_eq!(dl["user_id"], alice_id, "{dl}");
    assert_eq!(dl["reason"], "slow consumer", "{dl}");
    let n = in_inbox(&c, &alice, dl["notification_id"].as_u64().unwrap()).await;
    assert_eq!(n["priority"], "normal", "{n}");
    let st = stats(&c, &admin).await;
    assert_eq!(st["websocket"]["slow_consumers_closed"], 1, "{st}");
    assert!(dead_letters(&c, &admin)
        .await
        .iter()
        .all(|d| d["user_id"] == alice_id));
    drop(slow);
    app.shutdown().await;
}

/// The notification of `kind` about Alice's `order` (for a balance: the one created by
/// the same command, i.e. the next id after the order's `order_accepted`).
async fn in_inbox_of_order(c: &Client, token: &str, order: u64, kind: &str) -> Value {
    let (s, v) = c.get("/api/v1/notifications?limit=200", Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let list = v["notifications"].as_array().unwrap();
    let accepted = list
        .iter()
        .find(|n| n["type"] == "order_accepted" && n["data"]["order_id"] == order)
        .unwrap_or_else(|| panic!("no order_accepted for {order}: {v}"))
        .clone();
    if kind == "order_accepted" {
        return accepted;
    }
    let next = accepted["id"].as_u64().unwrap() + 1;
    let n = list
        .iter()
        .find(|n| n["id"] == next)
        .unwrap_or_else(|| panic!("nothing after order_accepted {next}: {v}"));
    assert_eq!(n["type"], kind, "{n}");
    n.clone()
}

/// Unread count of the user's inbox.
async fn unread(c: &Client, token: &str) -> u64 {
    let (s, v) = c.get("/api/v1/notifications?limit=1", Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["unread_count"].as_u64().unwrap()
}

/// More batches than the sequencer's real-time broadcast holds (1024).
const BURST: usize = 1100;

async fn inbox_is_complete_while_the_service_lags(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), Some(url.to_owned()));
    cfg.limits.enabled = false;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    c.deposit(&admin, "alice", "USD", "1").await;
    assert_eq!(
        unread(&c, &alice).await,
        2,
        "deposit_credited + balance_updated"
    );

    // Stall the service: its next inbox write waits for this lock.
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    sqlx::query("LOCK TABLE notifications IN SHARE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    // One command per batch: each deposit waits for its answer.
    let from = app.state.seq.status().committed_seq();
    for _ in 0..BURST {
        c.deposit(&admin, "alice", "USD", "1").await;
    }
    let batches = app.state.seq.status().committed_seq() - from;
    assert!(batches >= BURST as u64, "{batches} batches");
    // Trading went on; the inbox did not (yet), and monitoring shows the backlog.
    assert!(unread(&c, &alice).await < 2 + 2 * BURST as u64);
    let (_, stats) = c
        .get("/api/v1/admin/notifications/stats", Some(&admin))
        .await;
    let backlog = stats["notifications"]["backlog_commands"].as_u64().unwrap();
    assert!(backlog > 0 && backlog <= batches, "{stats}");
    tx.commit().await.unwrap();

    let want = 2 + 2 * BURST as u64;
    let mut last = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while last != want && Instant::now() < deadline {
        last = unread(&c, &alice).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, stats) = c
        .get("/api/v1/admin/notifications/stats", Some(&admin))
        .await;
    assert_eq!(last, want, "notifications lost while lagging: {stats}");
    assert_eq!(stats["notifications"]["inbox_errors"], 0, "{stats}");
    // The marker moves right after the inbox write: the backlog drains to zero.
    let mut stats = stats;
    while stats["notifications"]["backlog_commands"] != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stats = c
            .get("/api/v1/admin/notifications/stats", Some(&admin))
            .await
            .1;
    }
    assert_eq!(stats["notifications"]["backlog_commands"], 0, "{stats}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_misses_nothing_while_the_service_lags() {
    common::with_fresh_pg("bourse_notify_lag", |url| async move {
        inbox_is_complete_while_the_service_lags(&url).await;
    })
    .await;
}

/// Whether the notification service is waiting for the lock on the inbox table.
async fn service_waits_for_the_lock(db: &mut sqlx::PgConnection) -> bool {
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'notifications'::regclass",
    )
    .fetch_one(db)
    .await
    .unwrap();
    waiting > 0
}

/// A price alert created after a trade is not fired by that trade, even when the service
/// reaches the trade only after the alert exists (it lagged); the next trade fires it.
async fn an_alert_ignores_trades_older_than_itself(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), Some(url.to_owned()));
    cfg.limits.enabled = false;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let maker = funded(&c, &admin, "maker").await;
    let taker = funded(&c, &admin, "taker").await;
    let watcher = c.trader("watcher").await;

    // Stall the service on the lock, at the notifications of a first order...
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    sqlx::query("LOCK TABLE notifications IN SHARE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    place(&c, &maker, "buy", "50.00", "0.1000").await;
    let mut probe = sqlx::PgConnection::connect(url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !service_waits_for_the_lock(&mut probe).await {
        assert!(
            Instant::now() < deadline,
            "the service never waited for the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...so that it reaches this trade at 101 only after the alert below exists.
    place(&c, &maker, "sell", "101.00", "0.2000").await;
    place(&c, &taker, "buy", "101.00", "0.1000").await;
    tokio::time::sleep(Duration::from_millis(5)).await; // a later millisecond
    let (s, alert) = c
        .post(
            "/api/v1/price-alerts",
            Some(&watcher),
            json!({"market": "BTC-USD", "condition": "above", "price": "100.50"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{alert}");
    tx.commit().await.unwrap();
    // (The inbox read waits until the service has caught up.)
    let (s, v) = c.get("/api/v1/notifications", Some(&watcher)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["notifications"], json!([]), "fired by an older trade");
    let (_, list) = c.get("/api/v1/price-alerts", Some(&watcher)).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

    // A trade after the alert fires it.
    place(&c, &taker, "buy", "101.00", "0.1000").await;
    let (_, v) = c.get("/api/v1/notifications", Some(&watcher)).await;
    let list = v["notifications"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["type"], "price_alert");
    assert_eq!(list[0]["data"]["alert_id"], alert["id"]);
    assert_eq!(list[0]["data"]["trade_price"], "101.00");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_alert_ignores_trades_older_than_itself() {
    common::with_fresh_pg("bourse_notify_alert", |url| async move {
        an_alert_ignores_trades_older_than_itself(&url).await;
    })
    .await;
}

/// A lossless feed at its capacity sheds load instead of growing without bound or making
/// the sequencer wait: with the notification service stalled on the inbox lock, deposits
/// go through until its feed holds `feed_capacity` commands, then new ones are refused
/// with 503 `OVERLOADED` (nothing done: the balance counts only the accepted ones),
/// `/health` is degraded and names the feed, and once the lock goes everything drains,
/// deposits are accepted again and every accepted one has its notifications.
async fn a_full_feed_refuses_new_commands_and_loses_nothing(url: &str) {
    const CAPACITY: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), Some(url.to_owned()));
    cfg.limits.enabled = false;
    cfg.feed_capacity = CAPACITY;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    let deposit = || {
        c.post(
            "/api/v1/admin/deposits",
            Some(&admin),
            json!({"username": "alice", "asset": "USD", "amount": "1"}),
        )
    };
    let settled = unread(&c, &alice).await;

    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    sqlx::query("LOCK TABLE notifications IN SHARE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let mut accepted = 0u64;
    let refused = loop {
        let (s, v) = deposit().await;
        if s == StatusCode::OK || s == StatusCode::CREATED {
            accepted += 1;
            assert!(accepted <= 4 * CAPACITY as u64, "never refused: {v}");
            continue;
        }
        break (s, v);
    };
    assert_eq!(
        (refused.0, code(&refused.1)),
        (StatusCode::SERVICE_UNAVAILABLE, "OVERLOADED"),
        "{}",
        refused.1
    );
    assert!(accepted >= (CAPACITY / 2) as u64, "{accepted}");
    let (s, health) = c.get("/health", None).await;
    assert_eq!(
        (s, health["status"].as_str()),
        (StatusCode::OK, Some("degraded"))
    );
    let feed = health["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "notifications")
        .cloned()
        .unwrap_or_else(|| panic!("{health}"));
    assert_eq!(feed["behind"], true, "{health}");
    // Refused means not done: the balance holds exactly the accepted deposits.
    let (_, b) = c.get("/api/v1/balances", Some(&alice)).await;
    assert_eq!(
        common::balance(&b, "USD").0,
        format!("{accepted}.000000"),
        "{b}"
    );

    tx.commit().await.unwrap();
    eventually(
        Duration::from_secs(60),
        "deposits accepted again",
        || async {
            let (s, _) = deposit().await;
            (s == StatusCode::OK || s == StatusCode::CREATED).then_some(())
        },
    )
    .await;
    accepted += 1;
    let want = settled + 2 * accepted;
    eventually(Duration::from_secs(60), "every notification", || async {
        (unread(&c, &alice).await == want).then_some(())
    })
    .await;
    let (_, health) = c.get("/health", None).await;
    assert_eq!(health["status"], "healthy", "{health}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_feed_sheds_load_and_recovers() {
    common::with_fresh_pg("bourse_feed_full", |url| async move {
        a_full_feed_refuses_new_commands_and_loses_nothing(&url).await;
    })
    .await;
}
