//! The Binance-compatible streams (`/binance/ws`, `/binance/stream`, `/binance/ws-api/v3`,
//! the listen-key flow) against the real app on port 0, with a real WebSocket client:
//! the request protocol and its errors, framing, every market stream's values against
//! what the test traded, depth diffs continuous with REST, user data, listen-key expiry,
//! and the inbound message rate.

#[path = "../common/mod.rs"]
mod common;

mod market;
mod protocol;
mod user;

use bourse::Config;
use common::{start, test_config, Client};
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

async fn connect(addr: std::net::SocketAddr, path: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .unwrap_or_else(|e| panic!("ws connect {path}: {e}"));
    ws
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// What the server sent next, skipping pings.
enum Got {
    Json(Value),
    Closed(Option<CloseFrame>),
}

async fn next_msg(ws: &mut Ws, within: Duration) -> Got {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no frame in time");
        match msg {
            Some(Ok(Message::Text(t))) => {
                return Got::Json(serde_json::from_str(t.as_str()).unwrap())
            }
            Some(Ok(Message::Close(f))) => return Got::Closed(f),
            None | Some(Err(_)) => return Got::Closed(None),
            Some(Ok(_)) => continue,
        }
    }
}

/// The next JSON frame; panics on a close.
async fn expect(ws: &mut Ws) -> Value {
    match next_msg(ws, WAIT).await {
        Got::Json(v) => v,
        Got::Closed(f) => panic!("connection closed: {f:?}"),
    }
}

/// Reads until a frame matches `f`.
async fn until(ws: &mut Ws, f: impl Fn(&Value) -> bool) -> Value {
    loop {
        let v = expect(ws).await;
        if f(&v) {
            return v;
        }
    }
}

/// The close frame the server sends next (text frames before it are skipped).
async fn closed(ws: &mut Ws) -> Option<CloseFrame> {
    loop {
        if let Got::Closed(f) = next_msg(ws, WAIT).await {
            return f;
        }
    }
}

/// Sends a request and returns the answer with its id (data frames skipped).
async fn ask(ws: &mut Ws, req: Value) -> Value {
    let id = req["id"].clone();
    send(ws, req).await;
    until(ws, |v| v.get("id") == Some(&id) && v.get("e").is_none()).await
}

struct Trader {
    token: String,
    key: String,
    secret: String,
}

struct Setup {
    app: bourse::RunningApp,
    c: Client,
    traders: Vec<Trader>,
}

/// The app with BTC-USD and `n` funded traders with a read+trade API key each. The
/// inbound message rate is off unless `config` turns it on (these tests send requests
/// back to back).
async fn setup(dir: &std::path::Path, n: usize, config: impl FnOnce(&mut Config)) -> Setup {
    let mut cfg = test_config(dir, None);
    cfg.limits.enabled = false;
    cfg.binance.ws_messages_per_second = 0;
    cfg.binance.ws_api_requests_per_second = 0;
    config(&mut cfg);
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let mut traders = Vec::new();
    for i in 0..n {
        let name = format!("trader{i}");
        let token = c.trader(&name).await;
        c.deposit(&admin, &name, "USD", "100000").await;
        c.deposit(&admin, &name, "BTC", "100").await;
        let (s, k) = c
            .post(
                "/api/v1/api-keys",
                Some(&token),
                json!({"label": "bots", "permissions": ["read", "trade"]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{k}");
        traders.push(Trader {
            token,
            key: k["key"].as_str().unwrap().to_owned(),
            secret: k["secret"].as_str().unwrap().to_owned(),
        });
    }
    Setup { app, c, traders }
}

fn hmac_hex(secret: &str, payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A Binance request: `query` signed (with a fresh `timestamp`) when `signed`, the API
/// key in `X-MBX-APIKEY` when given.
async fn binance(
    c: &Client,
    method: Method,
    path: &str,
    query: &str,
    key: Option<&Trader>,
    signed: bool,
) -> (StatusCode, Value) {
    let mut q = query.to_owned();
    if signed {
        let t = key.expect("a signed request needs a key");
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(&format!("timestamp={}", now_ms()));
        let sig = hmac_hex(&t.secret, &q);
        q.push_str(&format!("&signature={sig}"));
    }
    let url = if q.is_empty() {
        format!("{}{path}", c.base)
    } else {
        format!("{}{path}?{q}", c.base)
    };
    let mut req = c.http.request(method, url);
    if let Some(t) = key {
        req = req.header("X-MBX-APIKEY", &t.key);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// `GET /api/v3/depth?symbol=BTCUSD&limit=…`.
async fn rest_depth(c: &Client, limit: u32) -> Value {
    let (s, v) = binance(
        c,
        Method::GET,
        "/api/v3/depth",
        &format!("symbol=BTCUSD&limit={limit}"),
        None,
        false,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// Places a GTC limit order on `/api/v1` and returns it.
async fn place(s: &Setup, who: usize, side: &str, price: &str, qty: &str) -> Value {
    s.c.limit_order(&s.traders[who].token, side, price, qty)
        .await
}
