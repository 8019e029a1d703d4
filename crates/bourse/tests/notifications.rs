//! Notification service: inbox REST, price alerts, live delivery batching over a real
//! WebSocket client, admin announcements, dead-letter and stats endpoints.
//!
//! The critical-flush test needs PostgreSQL (`BOURSE_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; a fresh database per run, dropped after): it
//! stalls the notification service by locking the inbox table.

mod common;

use common::{code, start, test_config, Client};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn app() -> (bourse::RunningApp, Client, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.limits.enabled = false;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    (app, c, admin, dir)
}

async fn funded(c: &Client, admin: &str, name: &str) -> String {
    let t = c.trader(name).await;
    c.deposit(admin, name, "USD", "100000").await;
    c.deposit(admin, name, "BTC", "100").await;
    t
}

async fn order(c: &Client, token: &str, side: &str, price: &str, qty: &str) -> (StatusCode, Value) {
    c.post(
        "/api/v1/orders",
        Some(token),
        json!({"market": "BTC-USD", "side": side, "type": "limit", "price": price,
               "quantity": qty, "time_in_force": "gtc"}),
    )
    .await
}

async fn live(addr: std::net::SocketAddr, token: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    for req in [
        json!({"op": "auth", "token": token}),
        json!({"op": "subscribe", "channels": ["notifications"]}),
    ] {
        ws.send(Message::text(req.to_string())).await.unwrap();
        let v = frame(&mut ws, Duration::from_secs(5)).await.unwrap();
        assert!(
            v["type"] == "authenticated" || v["type"] == "subscribed",
            "{v}"
        );
    }
    ws
}

async fn frame(ws: &mut Ws, within: Duration) -> Option<Value> {
    // One deadline for the call: control frames (server pings) must not restart it.
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await.ok()?? {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn inbox(c: &Client, token: &str, query: &str) -> Value {
    let (s, v) = c
        .get(&format!("/api/v1/notifications{query}"), Some(token))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn kinds(page: &Value) -> Vec<String> {
    page["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_is_batched_a_lone_one_waits_for_the_window_and_the_inbox_has_all() {
    let (app, c, admin, _dir) = app().await;
    let a = funded(&c, &admin, "alice").await;
    // The inbox read waits for the deposits' notifications: none of them arrives live.
    assert_eq!(inbox(&c, &a, "").await["unread_count"], 4);
    let mut ws = live(app.addr, &a).await;

    // A burst: every order gives order_accepted (normal) and balance_updated (low).
    const N: usize = 15;
    for i in 0..N {
        let (s, v) = order(&c, &a, "buy", &format!("{}.00", 90 + i), "0.1000").await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let mut frames = Vec::new();
    let mut got = 0;
    while got < 2 * N {
        let f = frame(&mut ws, Duration::from_secs(5))
            .await
            .expect("notifications");
        assert_eq!(f["channel"], "notifications", "{f}");
        let n = f["data"].as_array().unwrap().len();
        assert!((1..=10).contains(&n), "frame of {n}: {f}");
        got += n;
        frames.push(f);
    }
    assert_eq!(got, 2 * N);
    assert!(
        frames.len() < got,
        "{} frames for {got} notifications: not batched",
        frames.len()
    );
    let ids: Vec<u64> = frames
        .iter()
        .flat_map(|f| {
            f["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_u64().unwrap())
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "out of order: {ids:?}");

    // Nothing is pending now: a lone non-critical notification waits for company for
    // the whole batch window before it goes out (it is queued after the request is sent,
    // so the window is a strict lower bound).
    let t0 = Instant::now();
    let (s, v) = c
        .post(
            "/api/v1/admin/announcements",
            Some(&admin),
            json!({"title": "Soon", "message": "Maintenance tonight", "priority": "normal"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert!(v["recipients"].as_u64().unwrap() >= 2);
    let f = frame(&mut ws, Duration::from_secs(5)).await.unwrap();
    let waited = t0.elapsed();
    assert_eq!(f["data"].as_array().unwrap().len(), 1, "{f}");
    assert_eq!(f["data"][0]["type"], "system_announcement");
    assert_eq!(f["data"][0]["priority"], "normal");
    assert!(
        waited >= Duration::from_millis(100),
        "a lone normal notification went out after {waited:?}, before the 100 ms window"
    );

    // The inbox: 2 deposits (credited + balance each), the burst, the announcement;
    // paged without gaps.
    let first = inbox(&c, &a, "?limit=10").await;
    let total = 4 + 2 * N + 1;
    assert_eq!(first["unread_count"], total as u64);
    let mut seen = HashSet::new();
    let mut page = first;
    loop {
        for n in page["notifications"].as_array().unwrap() {
            assert!(seen.insert(n["id"].as_u64().unwrap()), "duplicate {n}");
        }
        match page["next_cursor"].as_u64() {
            Some(cur) => page = inbox(&c, &a, &format!("?limit=10&cursor={cur}")).await,
            None => break,
        }
    }
    assert_eq!(seen.len(), total);
    let all = inbox(&c, &a, "?limit=200").await;
    let k = kinds(&all);
    assert_eq!(k.iter().filter(|k| *k == "deposit_credited").count(), 2);
    assert_eq!(k.iter().filter(|k| *k == "order_accepted").count(), N);
    assert_eq!(k.iter().filter(|k| *k == "balance_updated").count(), N + 2);

    // Mark read: one, then all.
    let id = all["notifications"][0]["id"].as_u64().unwrap();
    let (s, v) = c
        .post(
            &format!("/api/v1/notifications/{id}/read"),
            Some(&a),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["read_at"].is_u64());
    let unread = inbox(&c, &a, "?unread=true&limit=200").await;
    assert_eq!(unread["notifications"].as_array().unwrap().len(), total - 1);
    assert!(unread["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["id"] != id));
    let (s, v) = c
        .post("/api/v1/notifications/read-all", Some(&a), json!({}))
        .await;
    assert_eq!(
        (s, v["updated"].as_u64()),
        (StatusCode::OK, Some(total as u64 - 1))
    );
    assert_eq!(inbox(&c, &a, "").await["unread_count"], 0);

    // Someone else's notification is not found for me.
    let b = c.trader("bob").await;
    let (s, v) = c
        .post(
            &format!("/api/v1/notifications/{id}/read"),
            Some(&b),
            json!({}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_become_typed_notifications_for_their_owner_only() {
    let (app, c, admin, _dir) = app().await;
    let a = funded(&c, &admin, "alice").await;
    let b = funded(&c, &admin, "bob").await;
    let poor = c.trader("poor").await;
    let (s, maker) = order(&c, &a, "sell", "100.00", "0.5000").await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = order(&c, &b, "buy", "100.00", "0.5000").await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, rest) = order(&c, &a, "sell", "110.00", "0.1000").await;
    assert_eq!(s, StatusCode::CREATED);
    let id = rest["id"].as_u64().unwrap();
    let (s, _) = c.delete(&format!("/api/v1/orders/{id}"), Some(&a)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = order(&c, &poor, "buy", "100.00", "0.5000").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let mine = inbox(&c, &a, "?limit=200").await;
    let k = kinds(&mine);
    for want in [
        "deposit_credited",
        "order_accepted",
        "order_filled",
        "order_canceled",
        "balance_updated",
    ] {
        assert!(k.iter().any(|x| x == want), "alice lacks {want}: {k:?}");
    }
    let canceled = mine["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == "order_canceled")
        .unwrap();
    assert_eq!(canceled["data"]["reason"], "user");
    assert_eq!(canceled["data"]["order_id"], id);
    let filled = mine["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == "order_filled")
        .unwrap();
    assert_eq!(filled["data"]["order_id"], maker["id"]);
    assert_eq!(filled["priority"], "high");
    // Bob's inbox holds none of Alice's orders.
    let bobs = inbox(&c, &b, "?limit=200").await;
    assert!(bobs["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["data"]["order_id"] != maker["id"] && n["data"]["order_id"] != id));
    let rejected = kinds(&inbox(&c, &poor, "").await);
    assert_eq!(rejected, vec!["order_rejected"]);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_alerts_fire_once_on_a_trade() {
    let (app, c, admin, _dir) = app().await;
    let a = funded(&c, &admin, "alice").await;
    let b = funded(&c, &admin, "bob").await;
    let watcher = c.trader("watcher").await;
    let (s, up) = c
        .post(
            "/api/v1/price-alerts",
            Some(&watcher),
            json!({"market": "BTC-USD", "condition": "above", "price": "100.50"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    assert_eq!(
        (up["price"].as_str(), up["condition"].as_str()),
        (Some("100.50"), Some("above"))
    );
    let (s, down) = c
        .post(
            "/api/v1/price-alerts",
            Some(&watcher),
            json!({"market": "BTC-USD", "condition": "below", "price": "90.00"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = c
        .post(
            "/api/v1/price-alerts",
            Some(&watcher),
            json!({"market": "NOPE-USD", "condition": "below", "price": "90.00"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "UNKNOWN_MARKET"));
    let (s, v) = c
        .post(
            "/api/v1/price-alerts",
            Some(&watcher),
            json!({"market": "BTC-USD", "condition": "below", "price": "90.001"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let did = down["id"].as_u64().unwrap();
    let (s, _) = c
        .delete(&format!("/api/v1/price-alerts/{did}"), Some(&a))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not alice's alert");
    let (s, _) = c
        .delete(&format!("/api/v1/price-alerts/{did}"), Some(&watcher))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    let mut ws = live(app.addr, &watcher).await;
    // A trade below the threshold does not fire; one above does, once.
    order(&c, &a, "sell", "100.00", "0.1000").await;
    order(&c, &b, "buy", "100.00", "0.1000").await;
    order(&c, &a, "sell", "101.00", "0.2000").await;
    order(&c, &b, "buy", "101.00", "0.1000").await;
    order(&c, &b, "buy", "101.00", "0.1000").await;
    let f = frame(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(f["data"][0]["type"], "price_alert", "{f}");
    assert_eq!(f["data"][0]["data"]["trade_price"], "101.00");
    assert!(
        frame(&mut ws, Duration::from_millis(500)).await.is_none(),
        "fired twice"
    );
    let (s, list) = c.get("/api/v1/price-alerts", Some(&watcher)).await;
    assert_eq!((s, list), (StatusCode::OK, json!([])));
    assert_eq!(kinds(&inbox(&c, &watcher, "").await), vec!["price_alert"]);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_need_the_admin_role() {
    let (app, c, admin, _dir) = app().await;
    let t = c.trader("tina").await;
    for path in [
        "/api/v1/admin/notifications/stats",
        "/api/v1/admin/notifications/dead-letters",
    ] {
        let (s, _) = c.get(path, Some(&t)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, v) = c.get(path, Some(&admin)).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, v) = c
        .get("/api/v1/admin/notifications/stats", Some(&admin))
        .await;
    assert_eq!(s, StatusCode::OK);
    for k in [
        "created",
        "queued",
        "sent",
        "batched_frames",
        "dropped",
        "dead_lettered",
    ] {
        assert!(v["notifications"][k].is_u64(), "{k} missing: {v}");
    }
    let (s, v) = c
        .post(
            "/api/v1/admin/notifications/dead-letters/999/retry",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let (s, _) = c
        .post(
            "/api/v1/admin/announcements",
            Some(&t),
            json!({"title": "x", "message": "y"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = c
        .post(
            "/api/v1/admin/announcements",
            Some(&admin),
            json!({"title": "", "message": "y"}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR")
    );
    app.shutdown().await;
}

/// Every notification in `frames`, in arrival order: (frame index, id, type).
fn arrivals(frames: &[Value]) -> Vec<(usize, u64, String)> {
    frames
        .iter()
        .enumerate()
        .flat_map(|(i, f)| {
            f["data"].as_array().unwrap().iter().map(move |n| {
                (
                    i,
                    n["id"].as_u64().unwrap(),
                    n["type"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect()
}

/// Normal notifications are waiting in a connection's batch when a critical one comes:
/// the batch goes out first (flushed at the critical send, not at its 100 ms deadline),
/// then the critical one alone.
///
/// To have both in the connection's queue together — not "within 100 ms if the machine
/// is quick" — the notification service is stalled on a lock of the inbox table
/// (PostgreSQL) while the orders and the kill switch are applied; released, it hands
/// their notifications over in one go.
async fn critical_flushes_the_pending_batch(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), Some(url.clone()));
    cfg.limits.enabled = false;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let a = funded(&c, &admin, "alice").await;
    // Fences on the service: the deposits' notifications are done before the socket.
    let before = inbox(&c, &a, "").await;
    assert_eq!(before["unread_count"], 4);
    let seen = before["notifications"][0]["id"].as_u64().unwrap();
    let mut ws = live(app.addr, &a).await;

    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    sqlx::query("LOCK TABLE notifications IN SHARE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    // Each order: order_accepted (normal) + balance_updated (low).
    for i in 0..3 {
        let (s, v) = order(&c, &a, "buy", &format!("{}.00", 90 + i), "0.1000").await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    // The kill switch: risk_alert (critical), then its cancels (high) and balance (low).
    let (s, v) = c
        .call(
            reqwest::Method::PATCH,
            "/api/v1/admin/users/alice",
            Some(&admin),
            Some(&json!({"kill_switch": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    tx.commit().await.unwrap();

    // Everything the four commands caused, as the inbox has it.
    let all = inbox(&c, &a, "?limit=200").await;
    let want: Vec<u64> = all["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_u64().unwrap())
        .filter(|id| *id > seen)
        .collect();
    let critical = all["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == "risk_alert")
        .unwrap_or_else(|| panic!("no risk alert: {all}"));
    assert_eq!(critical["priority"], "critical", "{critical}");
    assert_eq!(critical["data"]["reason"], "kill_switch", "{critical}");
    let critical_id = critical["id"].as_u64().unwrap();

    let mut frames = Vec::new();
    while arrivals(&frames).len() < want.len() {
        let f = frame(&mut ws, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("missing notifications; got {frames:?}"));
        assert_eq!(f["channel"], "notifications", "{f}");
        frames.push(f);
    }
    let got = arrivals(&frames);
    let mut ids: Vec<u64> = got.iter().map(|a| a.1).collect();
    ids.sort_unstable();
    assert_eq!(ids, {
        let mut w = want.clone();
        w.sort_unstable();
        w
    });
    let at = got.iter().find(|a| a.1 == critical_id).unwrap().0;
    assert_eq!(
        frames[at]["data"].as_array().unwrap().len(),
        1,
        "the critical one shares its frame: {frames:?}"
    );
    // All that was queued before it — the orders' normal and low notifications, waiting
    // in the batch — went out before it, as a batch.
    for (i, id, kind) in &got {
        if *id < critical_id {
            assert!(
                *i < at,
                "{kind} {id}, queued before the critical {critical_id}, came after it: {frames:?}"
            );
        }
    }
    let earlier = got.iter().filter(|a| a.1 < critical_id).count();
    assert_eq!(
        earlier, 6,
        "3 × (order_accepted + balance_updated): {frames:?}"
    );
    assert!(
        at < earlier,
        "{at} frames for the {earlier} notifications before the critical one: not batched"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_notification_flushes_the_pending_batch_then_goes_alone() {
    common::with_fresh_pg("bourse_notify_critical", |url| async move {
        critical_flushes_the_pending_batch(url).await;
    })
    .await;
}
