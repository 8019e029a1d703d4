//! Per-IP connection slots: a handshake that never completes gives its slot back.

use crate::pipes::{Pipes, PEER};
use crate::{app, expect, send, Ws};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use reqwest::StatusCode;
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

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
