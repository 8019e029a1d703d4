//! WebSocket API against the real app on port 0, with real WebSocket clients.

#[path = "../common/mod.rs"]
mod common;

mod book;
mod connections;
mod fan_out_lag;
mod restart;
mod streams;

use bourse::Config;
use common::{start, test_config, Client};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::Value;
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

async fn ws_stats(s: &Setup) -> Value {
    let (st, v) =
        s.c.get("/api/v1/admin/notifications/stats", Some(&s.admin))
            .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["websocket"].clone()
}
