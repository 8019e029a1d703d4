//! Who gets onto `/ws` and for how long: per-IP connection slots (a handshake that never
//! completes gives its slot back), JWT expiry on a live connection, API-key signature
//! auth with its refusals, and sessions ended by logout, password change and key
//! deletion (no private frame after). Real app on port 0, real WebSocket clients.

mod common;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use common::{start, test_config, Client};
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// A WebSocket client over TCP, or over an in-memory pipe (`S = DuplexStream`).
type Ws<S = tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> =
    tokio_tungstenite::WebSocketStream<S>;

/// What a client connection runs over.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Io for T {}

const PASSWORD: &str = "password123";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn connect(addr: SocketAddr) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("ws connect");
    ws
}

async fn send<S: Io>(ws: &mut Ws<S>, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next JSON frame; panics if none comes within 20 s or the connection closes.
async fn expect<S: Io>(ws: &mut Ws<S>) -> Value {
    // One deadline for the call: the server's pings must not extend it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no frame in time")
            .expect("connection closed");
        match msg {
            Ok(Message::Text(t)) => return serde_json::from_str(t.as_str()).unwrap(),
            Ok(Message::Close(f)) => panic!("closed by the server: {f:?}"),
            Err(e) => panic!("connection failed: {e}"),
            Ok(_) => continue,
        }
    }
}

/// Reads until a frame matches `f`, returning it and what came before.
async fn until<S: Io>(ws: &mut Ws<S>, f: impl Fn(&Value) -> bool) -> (Value, Vec<Value>) {
    let mut before = Vec::new();
    loop {
        let v = expect(ws).await;
        if f(&v) {
            return (v, before);
        }
        before.push(v);
    }
}

fn is_error(v: &Value, code: &str) -> bool {
    v["type"] == "error" && v["code"] == code
}

/// An app with BTC-USD and funded traders; `tweak` adjusts the config first.
async fn app(
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut bourse::Config),
    traders: &[&str],
) -> (bourse::RunningApp, Client) {
    let mut cfg = test_config(dir, None);
    cfg.limits.enabled = false;
    tweak(&mut cfg);
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    // Tokens may be short-lived here: log in right before each use.
    c.create_btc_usd(&c.admin().await).await;
    for name in traders {
        c.trader(name).await;
        c.deposit(&c.admin().await, name, "USD", "100000").await;
        c.deposit(&c.admin().await, name, "BTC", "100").await;
    }
    (app, c)
}

/// Places a limit GTC order as `user` (with a fresh token) and returns its id.
async fn place(c: &Client, user: &str, side: &str, price: &str, qty: &str) -> u64 {
    place_with(c, &c.login(user, PASSWORD).await, side, price, qty).await
}

/// Places a limit GTC order with `token` and returns its id.
async fn place_with(c: &Client, token: &str, side: &str, price: &str, qty: &str) -> u64 {
    let v = c.limit_order(token, side, price, qty).await;
    v["id"].as_u64().unwrap()
}

// ---------------------------------------------------------------------------------------
// Per-IP slots

/// The peer address every in-memory connection claims to come from: the same as the
/// real TCP clients', so both share one per-IP budget.
const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Serves the app's router over in-memory pipes, so a test decides exactly when the
/// peer goes away.
struct Pipes(mpsc::UnboundedReceiver<DuplexStream>);

impl axum::serve::Listener for Pipes {
    type Io = DuplexStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (DuplexStream, SocketAddr) {
        match self.0.recv().await {
            Some(io) => (io, PEER),
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(PEER)
    }
}

/// Outermost layer of the pipe server: reports each answer's status, and holds a 101
/// back for good, so the handshake is still in progress when the peer leaves. Its
/// upgrade then never completes and the handler's callback is dropped without running —
/// what a reset in the middle of any real handshake leads to.
async fn hold_101(
    State(statuses): State<mpsc::UnboundedSender<StatusCode>>,
    req: Request,
    next: Next,
) -> Response {
    let res = next.run(req).await;
    let _ = statuses.send(res.status());
    if res.status() == StatusCode::SWITCHING_PROTOCOLS {
        std::future::pending::<()>().await;
    }
    res
}

/// A client that sends a complete upgrade request and leaves while the server's answer
/// is held. Returns the status the server answered (101 = it had taken a slot).
async fn abandoned_handshake(
    pipes: &mpsc::UnboundedSender<DuplexStream>,
    statuses: &mut mpsc::UnboundedReceiver<StatusCode>,
) -> StatusCode {
    let (mut client, server) = tokio::io::duplex(4096);
    pipes.send(server).unwrap();
    client.write_all(UPGRADE).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), statuses.recv())
        .await
        .expect("the server never answered")
        .unwrap();
    drop(client);
    status
}

/// Repeats abandoned handshakes (the previous one's slot may still be on its way
/// back) until one was answered 101.
async fn abandoned_upgrade(
    pipes: &mpsc::UnboundedSender<DuplexStream>,
    statuses: &mut mpsc::UnboundedReceiver<StatusCode>,
    round: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = abandoned_handshake(pipes, statuses).await;
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return;
        }
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "round {round}");
        assert!(
            Instant::now() < deadline,
            "round {round}: still 429 — an upgrade that never completed kept its per-IP slot"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A real WebSocket connection, retrying while the only slot is still being released.
async fn connect_when_free(addr: SocketAddr) -> Ws {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await {
            Ok((ws, _)) => return ws,
            Err(tokio_tungstenite::tungstenite::Error::Http(r))
                if r.status() == StatusCode::TOO_MANY_REQUESTS && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the slot never came back: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_that_never_completes_gives_its_slot_back() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _c) = app(dir.path(), |c| c.ws.max_connections_per_ip = 1, &[]).await;
    let (pipes, rx) = mpsc::unbounded_channel();
    let (answered, mut statuses) = mpsc::unbounded_channel();
    let router = bourse_http::api::router(app.state.clone())
        .layer(axum::middleware::from_fn_with_state(answered, hold_101))
        .layer(axum::Extension(ConnectInfo(PEER)));
    let pipe_server = tokio::spawn(async move { axum::serve(Pipes(rx), router).await });

    // Each round needs the only slot: it is there only if the previous round's failed
    // upgrade gave it back.
    for round in 0..4 {
        abandoned_upgrade(&pipes, &mut statuses, round).await;
    }

    // Real TCP peers that leave before, or right at, the 101.
    for at_101 in [false, false, true, true] {
        let mut tcp = loop {
            let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
            tcp.write_all(UPGRADE).await.unwrap();
            if !at_101 {
                break tcp;
            }
            let mut status = [0u8; 12];
            tcp.read_exact(&mut status).await.unwrap();
            if &status == b"HTTP/1.1 101" {
                break tcp;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // Reset rather than close: the server's next write fails.
        tcp.set_zero_linger().unwrap();
        tcp.flush().await.unwrap();
        drop(tcp);
    }

    // The slot is free again, and it is still the only one.
    let mut ws = connect_when_free(app.addr).await;
    match tokio_tungstenite::connect_async(format!("ws://{}/ws", app.addr)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS)
        }
        Ok(_) => panic!("a second connection got in: a slot was given back twice"),
        Err(e) => panic!("{e}"),
    }
    send(&mut ws, json!({"op": "ping"})).await;
    assert_eq!(expect(&mut ws).await["type"], "pong");
    drop(ws);
    pipe_server.abort();
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// JWT expiry

/// On `ws`, authenticates `user` with a fresh token, subscribes to `orders`, places an
/// order and waits for its update. `Some(expires_at)` once the update came; `None` if
/// the token expired first (a slow machine) — the caller tries again.
async fn own_order_seen(c: &Client, ws: &mut Ws, user: &str, price: &str) -> Option<u64> {
    let token = c.login(user, PASSWORD).await;
    send(ws, json!({"op": "auth", "token": token})).await;
    let (a, _) = until(ws, |v| v["type"] == "authenticated" || v["type"] == "error").await;
    if is_error(&a, "TOKEN_EXPIRED") {
        return None;
    }
    assert_eq!(a["type"], "authenticated", "{a}");
    let expires_at = a["expires_at"]
        .as_u64()
        .expect("a JWT session has an expiry");
    send(ws, json!({"op": "subscribe", "channels": ["orders"]})).await;
    let (ack, _) = until(ws, |v| v["type"] == "subscribed" || v["type"] == "error").await;
    if ack["type"] == "error" {
        // Expired in between: the expiry frame and then the refusal of `orders`.
        assert!(
            is_error(&ack, "TOKEN_EXPIRED") || is_error(&ack, "UNAUTHORIZED"),
            "{ack}"
        );
        return None;
    }
    let id = place(c, user, "buy", price, "0.1000").await;
    let (v, _) = until(ws, |v| {
        (v["channel"] == "orders" && v["data"]["order_id"] == id) || is_error(v, "TOKEN_EXPIRED")
    })
    .await;
    (v["channel"] == "orders").then_some(expires_at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiry_ends_private_channels_on_a_live_connection() {
    let dir = tempfile::tempdir().unwrap();
    // Tokens live 2–3 s (`exp` is whole seconds after the issue second).
    let (app, c) = app(
        dir.path(),
        |c| c.token_ttl_secs = 3,
        &["alice", "bob", "carol"],
    )
    .await;
    let mut ws = connect(app.addr).await;
    send(
        &mut ws,
        json!({"op": "subscribe", "channels": ["trades.BTC-USD"]}),
    )
    .await;
    let (ack, _) = until(&mut ws, |v| v["type"] == "subscribed").await;
    assert_eq!(ack["channels"], json!(["trades.BTC-USD"]));

    let mut attempts = 0;
    while own_order_seen(&c, &mut ws, "alice", "90.00")
        .await
        .is_none()
    {
        attempts += 1;
        assert!(attempts < 5, "the token expired before every first update");
    }

    // The token runs out on the open connection.
    let (e, before) = until(&mut ws, |v| v["type"] == "error").await;
    assert!(is_error(&e, "TOKEN_EXPIRED"), "{e}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    assert!(
        before.iter().all(|v| v["channel"] != "orders"),
        "{before:?}"
    );

    // Alice trades; then Bob and Carol trade. The second trade comes after everything
    // the first command produced, so any private frame of Alice's would precede it.
    let a2 = place(&c, "alice", "buy", "95.00", "0.1000").await;
    place(&c, "bob", "sell", "95.00", "0.1000").await;
    place(&c, "carol", "buy", "96.00", "0.2000").await;
    place(&c, "bob", "sell", "96.00", "0.2000").await;
    let (t2, before) = until(&mut ws, |v| {
        v["channel"] == "trades.BTC-USD" && v["data"][0]["price"] == "96.00"
    })
    .await;
    assert_eq!(t2["data"][0]["quantity"], "0.2000", "{t2}");
    assert!(
        before.iter().all(|v| v["channel"] == "trades.BTC-USD"),
        "after expiry only public frames: {before:?} (Alice's order {a2})"
    );
    assert!(
        before.iter().any(|v| v["data"][0]["price"] == "95.00"),
        "Alice's own trade still shows on the public channel: {before:?}"
    );

    // Unauthenticated again: private channels are refused until a new auth.
    send(&mut ws, json!({"op": "subscribe", "channels": ["orders"]})).await;
    let (e, _) = until(&mut ws, |v| v["type"] == "error").await;
    assert!(is_error(&e, "UNAUTHORIZED"), "{e}");
    assert_eq!(e["channel"], "orders");

    // A fresh token on the same connection brings them back.
    let mut attempts = 0;
    while own_order_seen(&c, &mut ws, "alice", "91.00")
        .await
        .is_none()
    {
        attempts += 1;
        assert!(attempts < 5, "the token expired before every update");
    }
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// API-key signatures

/// hex HMAC-SHA256(secret, timestamp + "GET" + "/ws"), as docs/websocket.md says.
fn ws_signature(secret: &str, timestamp: u64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}GET/ws").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn key_auth(key: &str, timestamp: u64, signature: &str) -> Value {
    json!({"op": "auth", "key": key, "timestamp": timestamp, "signature": signature})
}

/// Sends `req` (an auth or a private subscription) and returns the answer: the next frame
/// that is neither data nor a late ack of an earlier public subscription.
async fn answer<S: Io>(ws: &mut Ws<S>, req: Value) -> Value {
    send(ws, req).await;
    let private = ["orders", "fills", "balances", "notifications"];
    let public_ack = |v: &Value| {
        v["type"] == "subscribed"
            && v["channels"]
                .as_array()
                .is_some_and(|c| c.iter().all(|c| !private.iter().any(|p| c == p)))
    };
    let (v, _) = until(ws, |v| {
        v["type"] != "update" && v["type"] != "snapshot" && !public_ack(v)
    })
    .await;
    v
}

fn assert_refused(v: &Value, code: &str) {
    assert!(is_error(v, code), "want {code}: {v}");
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message: {v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_signature_auth_and_its_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let (app, c) = app(dir.path(), |_| {}, &["alice", "bob"]).await;
    let alice = c.login("alice", PASSWORD).await;
    let (s, k) = c
        .post("/api/v1/api-keys", Some(&alice), json!({"label": "ws bot"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let key = k["key"].as_str().unwrap().to_owned();
    let secret = k["secret"].as_str().unwrap().to_owned();
    let (_, me) = c.get("/api/v1/auth/me", Some(&alice)).await;

    let mut ws = connect(app.addr).await;
    let ts = now_ms();
    let v = answer(
        &mut ws,
        key_auth(&key, ts, &ws_signature("not the secret", ts)),
    )
    .await;
    assert_refused(&v, "INVALID_SIGNATURE");
    // Signed for another path: the signature covers "/ws".
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}GET/api/v1/orders").as_bytes());
    let other_path = hex::encode(mac.finalize().into_bytes());
    let v = answer(&mut ws, key_auth(&key, ts, &other_path)).await;
    assert_refused(&v, "INVALID_SIGNATURE");
    let stale = now_ms() - 120_000;
    let v = answer(
        &mut ws,
        key_auth(&key, stale, &ws_signature(&secret, stale)),
    )
    .await;
    assert_refused(&v, "TIMESTAMP_OUT_OF_WINDOW");
    let mut unknown = key.clone();
    let last = unknown.pop().unwrap();
    unknown.push(if last == '0' { '1' } else { '0' });
    let ts = now_ms();
    let v = answer(&mut ws, key_auth(&unknown, ts, &ws_signature(&secret, ts))).await;
    assert_refused(&v, "INVALID_API_KEY");
    // None of these authenticated the connection.
    let v = answer(&mut ws, json!({"op": "subscribe", "channels": ["orders"]})).await;
    assert_refused(&v, "UNAUTHORIZED");

    let ts = now_ms();
    let sig = ws_signature(&secret, ts);
    let v = answer(&mut ws, key_auth(&key, ts, &sig)).await;
    assert_eq!(v["type"], "authenticated", "{v}");
    assert_eq!(v["user_id"], me["id"], "{v} vs {me}");
    assert!(
        v["expires_at"].is_null(),
        "an API-key session has no expiry: {v}"
    );
    let v = answer(
        &mut ws,
        json!({"op": "subscribe", "channels": ["orders", "balances"]}),
    )
    .await;
    assert_eq!(v["type"], "subscribed", "{v}");

    // The same signature again, on another connection: a replay.
    let mut other = connect(app.addr).await;
    let v = answer(&mut other, key_auth(&key, ts, &sig)).await;
    assert_refused(&v, "SIGNATURE_REPLAYED");
    let v = answer(
        &mut other,
        json!({"op": "subscribe", "channels": ["orders"]}),
    )
    .await;
    assert_refused(&v, "UNAUTHORIZED");

    // Alice sees her own orders and balances; Bob's order does not show.
    let a1 = place(&c, "alice", "buy", "90.00", "0.1000").await;
    let b1 = place(&c, "bob", "buy", "89.00", "0.1000").await;
    let a2 = place(&c, "alice", "buy", "91.00", "0.1000").await;
    let (_, before) = until(&mut ws, |v| {
        v["channel"] == "orders" && v["data"]["order_id"] == a2
    })
    .await;
    assert!(
        before
            .iter()
            .any(|v| v["channel"] == "orders" && v["data"]["order_id"] == a1),
        "{before:?}"
    );
    assert!(
        before.iter().any(|v| v["channel"] == "balances"),
        "{before:?}"
    );
    assert!(
        before.iter().all(|v| v["data"]["order_id"] != b1),
        "Bob's order on Alice's connection: {before:?}"
    );
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Revocation on a live connection

/// Subscribes and waits for the ack (data frames that come first are skipped).
async fn subscribe<S: Io>(ws: &mut Ws<S>, channels: &[&str]) {
    send(ws, json!({"op": "subscribe", "channels": channels})).await;
    // Late acks of earlier subscriptions (other channels) are not the answer.
    let (ack, _) = until(ws, |v| {
        (v["type"] == "subscribed" && v["channels"] == json!(channels)) || v["type"] == "error"
    })
    .await;
    assert_eq!(ack["type"], "subscribed", "{ack}");
    assert_eq!(ack["channels"], json!(channels), "{ack}");
}

/// Authenticates with `req` and waits for the answer.
async fn authenticate<S: Io>(ws: &mut Ws<S>, req: Value) {
    let v = answer(ws, req).await;
    assert_eq!(v["type"], "authenticated", "{v}");
}

/// Whether `v` anywhere carries `"order_id": id` (orders, fills, notification lists).
fn mentions_order(v: &Value, id: u64) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| (k == "order_id" && x == id) || mentions_order(x, id)),
        Value::Array(a) => a.iter().any(|x| mentions_order(x, id)),
        _ => false,
    }
}

fn is_private(v: &Value) -> bool {
    ["orders", "fills", "balances", "notifications"].contains(&v["channel"].as_str().unwrap_or(""))
}

/// Bob and Carol trade at `price`: a trades frame every `trades.BTC-USD` subscriber sees
/// after everything commands before it produced.
async fn marker_trade(c: &Client, price: &str) {
    place(c, "carol", "buy", price, "0.1000").await;
    place(c, "bob", "sell", price, "0.1000").await;
}

fn is_trade_at(v: &Value, price: &str) -> bool {
    v["channel"] == "trades.BTC-USD" && v["data"][0]["price"] == price
}

/// Reads `ws` through the revocation: the error frame `code` comes, nothing of `order`
/// before it, and after it no private frame up to the marker trade at `marker`.
/// Returns every frame after the error.
async fn revoked<S: Io>(ws: &mut Ws<S>, code: &str, order: u64, marker: &str) -> Vec<Value> {
    let (e, before) = until(ws, |v| v["type"] == "error").await;
    assert!(is_error(&e, code), "want {code}: {e}");
    let msg = e["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("private subscriptions ended") && msg.contains("authenticate again"),
        "{e}"
    );
    assert!(
        before.iter().all(|v| !mentions_order(v, order)),
        "order {order}, placed after the revocation, before the error frame: {before:?}"
    );
    let (_, mut after) = until(ws, |v| is_trade_at(v, marker)).await;
    assert!(
        after.iter().all(|v| !is_private(v)),
        "a private frame after {code}: {after:?}"
    );
    after.push(e);
    after
}

/// A WebSocket client over an in-memory pipe that buffers at most 4 KiB each way: when
/// the client stops reading, the server's writes to it stall soon.
async fn connect_pipe(pipes: &mpsc::UnboundedSender<DuplexStream>) -> Ws<DuplexStream> {
    let (client, server) = tokio::io::duplex(4096);
    pipes.send(server).unwrap();
    let (ws, _) = tokio_tungstenite::client_async("ws://localhost/ws", client)
        .await
        .expect("ws over a pipe");
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_and_password_change_end_the_private_channels_of_their_sessions() {
    let dir = tempfile::tempdir().unwrap();
    // A's writer stalls on purpose below; the send timeout must outlast that.
    let (app, c) = app(
        dir.path(),
        |c| c.ws.send_timeout_ms = 300_000,
        &["alice", "bob", "carol"],
    )
    .await;
    let (pipes, rx) = mpsc::unbounded_channel();
    let router =
        bourse_http::api::router(app.state.clone()).layer(axum::Extension(ConnectInfo(PEER)));
    let pipe_server = tokio::spawn(async move { axum::serve(Pipes(rx), router).await });
    let token_a = c.login("alice", PASSWORD).await;
    let token_b = c.login("alice", PASSWORD).await;
    assert_ne!(token_a, token_b);
    let mut a = connect_pipe(&pipes).await;
    let mut b = connect(app.addr).await;
    authenticate(&mut a, json!({"op": "auth", "token": token_a})).await;
    authenticate(&mut b, json!({"op": "auth", "token": token_b})).await;
    let channels = [
        "orders",
        "fills",
        "notifications",
        "trades.BTC-USD",
        "book.BTC-USD",
    ];
    subscribe(&mut a, &channels).await;
    subscribe(&mut b, &["orders", "trades.BTC-USD"]).await;

    // Both sessions see Alice's orders.
    let a1 = place(&c, "alice", "buy", "90.00", "0.1000").await;
    let seen = |v: &Value| v["channel"] == "orders" && v["data"]["order_id"] == a1;
    until(&mut a, seen).await;
    until(&mut b, seen).await;

    // A stops reading. Its answers to these requests (snapshots, acks) fill the pipe, so
    // its connection stalls writing them: what the logout and the orders after it queue
    // for A waits in its queue, behind the re-check, until A reads again.
    for _ in 0..20 {
        send(
            &mut a,
            json!({"op": "subscribe",
                   "channels": ["book.BTC-USD", "ticker.BTC-USD", "candles.BTC-USD.1m"]}),
        )
        .await;
    }
    let order_token = c.login("alice", PASSWORD).await;
    // Token A logs out. Right after, Alice's next order trades (public trade at 95):
    // everything it produced comes after the logout.
    let (s, v) = c
        .call(Method::POST, "/api/v1/auth/logout", Some(&token_a), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let a2 = place_with(&c, &order_token, "buy", "95.00", "0.1000").await;
    place(&c, "bob", "sell", "95.00", "0.1000").await;
    marker_trade(&c, "96.00").await;

    // A: TOKEN_REVOKED, nothing private of Alice's new order, her trade still public.
    let after = revoked(&mut a, "TOKEN_REVOKED", a2, "96.00").await;
    assert!(
        after.iter().any(|v| is_trade_at(v, "95.00")),
        "Alice's trade shows on the public channel: {after:?}"
    );
    // B, with its own token, is untouched and sees the order and its fill.
    let (_, before) = until(&mut b, |v| {
        v["channel"] == "orders" && v["data"]["order_id"] == a2 && v["data"]["event"] == "filled"
    })
    .await;
    assert!(
        before.iter().all(|v| v["type"] != "error"),
        "the other session got an error: {before:?}"
    );

    // A is unauthenticated: private channels are refused, token A is refused for good.
    let v = answer(&mut a, json!({"op": "subscribe", "channels": ["orders"]})).await;
    assert_refused(&v, "UNAUTHORIZED");
    let v = answer(&mut a, json!({"op": "auth", "token": token_a})).await;
    assert_refused(&v, "TOKEN_REVOKED");

    // A password change (with a third token) ends B's session too.
    let token_c = c.login("alice", PASSWORD).await;
    let (s, v) = c
        .post(
            "/api/v1/auth/password",
            Some(&token_c),
            json!({"current_password": PASSWORD, "new_password": "another-password-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token_d = v["token"].as_str().unwrap().to_owned();
    let a3 = place_with(&c, &token_d, "buy", "89.00", "0.1000").await;
    marker_trade(&c, "97.00").await;
    revoked(&mut b, "TOKEN_REVOKED", a3, "97.00").await;

    // The new token brings the private channels back on the same connection.
    authenticate(&mut a, json!({"op": "auth", "token": token_d})).await;
    subscribe(&mut a, &["orders"]).await;
    let a4 = place_with(&c, &token_d, "buy", "88.00", "0.1000").await;
    let (_, before) = until(&mut a, |v| {
        v["channel"] == "orders" && v["data"]["order_id"] == a4
    })
    .await;
    assert!(
        before.iter().all(|v| !mentions_order(v, a3)),
        "order {a3}, placed before the new auth and subscribe: {before:?}"
    );
    drop(a);
    pipe_server.abort();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_api_key_ends_its_sessions_private_channels() {
    let dir = tempfile::tempdir().unwrap();
    let (app, c) = app(dir.path(), |_| {}, &["alice", "bob", "carol"]).await;
    let alice = c.login("alice", PASSWORD).await;
    let (s, k) = c
        .post("/api/v1/api-keys", Some(&alice), json!({"label": "ws bot"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let key = k["key"].as_str().unwrap().to_owned();
    let secret = k["secret"].as_str().unwrap().to_owned();

    let mut bot = connect(app.addr).await;
    let ts = now_ms();
    authenticate(&mut bot, key_auth(&key, ts, &ws_signature(&secret, ts))).await;
    subscribe(&mut bot, &["orders", "balances", "trades.BTC-USD"]).await;
    // Alice's browser session, same user, a token: not affected by the key.
    let mut web = connect(app.addr).await;
    authenticate(&mut web, json!({"op": "auth", "token": alice})).await;
    subscribe(&mut web, &["orders"]).await;

    let a1 = place(&c, "alice", "buy", "90.00", "0.1000").await;
    until(&mut bot, |v| {
        v["channel"] == "orders" && v["data"]["order_id"] == a1
    })
    .await;

    let (s, v) = c
        .delete(&format!("/api/v1/api-keys/{key}"), Some(&alice))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let a2 = place(&c, "alice", "buy", "95.00", "0.1000").await;
    place(&c, "bob", "sell", "95.00", "0.1000").await;
    marker_trade(&c, "96.00").await;

    let after = revoked(&mut bot, "INVALID_API_KEY", a2, "96.00").await;
    assert!(
        after.iter().all(|v| v["channel"] != "balances"),
        "{after:?}"
    );
    let (_, before) = until(&mut web, |v| {
        v["channel"] == "orders" && v["data"]["order_id"] == a2
    })
    .await;
    assert!(
        before.iter().all(|v| v["type"] != "error"),
        "the token session got an error: {before:?}"
    );
    let v = answer(&mut bot, json!({"op": "subscribe", "channels": ["orders"]})).await;
    assert_refused(&v, "UNAUTHORIZED");
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Per-user slots

/// `max_connections_per_user` counts authenticated connections: a second one of the same
/// user is refused with `TOO_MANY_CONNECTIONS` (and stays open, unauthenticated), the
/// first re-authenticating takes no second slot, other users are not affected, and the
/// slot is free again once the first connection ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_per_user_and_the_slot_frees_when_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (app, c) = app(
        dir.path(),
        |cfg| cfg.ws.max_connections_per_user = 1,
        &["bob", "carol"],
    )
    .await;
    let bob = c.login("bob", PASSWORD).await;
    let mut first = connect(app.addr).await;
    authenticate(&mut first, json!({"op": "auth", "token": bob})).await;
    subscribe(&mut first, &["orders"]).await;
    // Authenticating again on the same connection reuses its slot.
    authenticate(&mut first, json!({"op": "auth", "token": bob})).await;

    let mut second = connect(app.addr).await;
    let v = answer(&mut second, json!({"op": "auth", "token": bob})).await;
    assert_refused(&v, "TOO_MANY_CONNECTIONS");
    // Still unauthenticated, still open.
    let v = answer(
        &mut second,
        json!({"op": "subscribe", "channels": ["orders"]}),
    )
    .await;
    assert_refused(&v, "UNAUTHORIZED");
    subscribe(&mut second, &["trades.BTC-USD"]).await;
    // Another user has a slot of their own.
    let mut other = connect(app.addr).await;
    let carol = c.login("carol", PASSWORD).await;
    authenticate(&mut other, json!({"op": "auth", "token": carol})).await;
    // The first connection still has its private channel.
    let id = place_with(&c, &bob, "buy", "90.00", "0.1000").await;
    let (v, _) = until(&mut first, |v| v["channel"] == "orders").await;
    assert_eq!(v["data"]["order_id"], id, "{v}");

    // The first connection ends: its slot is given back when the server notices, so
    // ask until it is (bounded).
    first.close(None).await.unwrap();
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = answer(&mut second, json!({"op": "auth", "token": bob})).await;
        if v["type"] == "authenticated" {
            break;
        }
        assert_refused(&v, "TOO_MANY_CONNECTIONS");
        assert!(Instant::now() < deadline, "the slot was never given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    subscribe(&mut second, &["orders"]).await;
    let id = place_with(&c, &bob, "buy", "91.00", "0.1000").await;
    let (v, _) = until(&mut second, |v| v["channel"] == "orders").await;
    assert_eq!(v["data"]["order_id"], id, "{v}");
    // And now a third is refused again.
    let mut third = connect(app.addr).await;
    let v = answer(&mut third, json!({"op": "auth", "token": bob})).await;
    assert_refused(&v, "TOO_MANY_CONNECTIONS");
    app.shutdown().await;
}
