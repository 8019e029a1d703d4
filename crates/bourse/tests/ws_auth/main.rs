//! Who gets onto `/ws` and for how long: per-IP connection slots (a handshake that never
//! completes gives its slot back), JWT expiry on a live connection, API-key signature
//! auth with its refusals, and sessions ended by logout, password change and key
//! deletion (no private frame after). Real app on port 0, real WebSocket clients.

#[path = "../common/mod.rs"]
mod common;

mod api_keys;
mod ip_slots;
mod pipes;
mod revocation;
mod token_expiry;
mod user_slots;

use common::{start, test_config, Client};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
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
