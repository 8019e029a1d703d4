//! The app's router served over in-memory pipes, and WebSocket clients over them.

use crate::Ws;
use std::net::SocketAddr;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;

/// The peer address every in-memory connection claims to come from: the same as the
/// real TCP clients', so both share one per-IP budget.
pub(crate) const PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

/// Serves the app's router over in-memory pipes, so a test decides exactly when the
/// peer goes away.
pub(crate) struct Pipes(pub(crate) mpsc::UnboundedReceiver<DuplexStream>);

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

/// A WebSocket client over an in-memory pipe that buffers at most 4 KiB each way: when
/// the client stops reading, the server's writes to it stall soon.
pub(crate) async fn connect_pipe(pipes: &mpsc::UnboundedSender<DuplexStream>) -> Ws<DuplexStream> {
    let (client, server) = tokio::io::duplex(4096);
    pipes.send(server).unwrap();
    let (ws, _) = tokio_tungstenite::client_async("ws://localhost/ws", client)
        .await
        .expect("ws over a pipe");
    ws
}
