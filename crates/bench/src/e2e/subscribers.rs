//! `--ws-subscribers M`: M WebSocket clients on `/ws`, each subscribed to the market's
//! book and trades, counting every frame received while the order phases run. They run
//! on the load generator's runtime; their reading is part of its cost.

use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

pub const SUBSCRIBE: &str = r#"{"op":"subscribe","channels":["book.BTC-USD","trades.BTC-USD"]}"#;

pub struct Subscribers {
    pub connected: usize,
    messages: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

impl Subscribers {
    /// Connects and subscribes `m` clients one after the other (a failure is printed and
    /// stops there: `connected` says how many made it).
    pub async fn connect(addr: SocketAddr, m: usize) -> Self {
        let url = format!("ws://{addr}/ws");
        // tungstenite zero-fills its read buffer before every read; 4 KiB, not the default
        // 128 KiB, keeps that from dominating the clients' cost (see `bourse-bench ws`).
        let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
        let messages = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::with_capacity(m);
        for i in 0..m {
            let mut ws = match tokio_tungstenite::connect_async_with_config(
                &url,
                Some(config),
                true,
            )
            .await
            {
                Ok((ws, _)) => ws,
                Err(e) => {
                    eprintln!("bourse-bench e2e: WebSocket connect failed after {i}: {e}");
                    break;
                }
            };
            if let Err(e) = ws.send(Message::text(SUBSCRIBE)).await {
                eprintln!("bourse-bench e2e: WebSocket subscribe failed after {i}: {e}");
                break;
            }
            let messages = messages.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(Ok(msg)) = ws.next().await {
                    if matches!(msg, Message::Text(_) | Message::Binary(_)) {
                        messages.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        Subscribers {
            connected: tasks.len(),
            messages,
            tasks,
        }
    }

    /// Frames received so far, all clients together.
    pub fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    /// Drops the connections (the tasks end with their sockets).
    pub fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}
