//! Serving a router: the accept loop, with the connection guard rails of
//! `crate::security` (caps, header and idle timeouts, optional TLS), TCP_NODELAY on every
//! connection, the peer address for the client-IP layer, and graceful shutdown when
//! `stop` turns true.
//!
//! Why not `axum::serve`: it has no header timeout, idle timeout, connection caps or
//! TLS. The loop below is what it does (hyper's HTTP/1 connection with upgrades, accept
//! errors survived) plus those, on hyper's own builder; [`clock`] explains why hyper's
//! `header_read_timeout` is not used for the timers.
//!
//! Rules:
//! - Over a cap, a connection is closed as soon as it is accepted (no TLS, no HTTP).
//! - TLS handshakes must finish within the header timeout.
//! - On `stop`: no new connections; open ones finish their request and close (idle ones
//!   at once); the task ends when all have. Upgraded WebSockets are not waited for (they
//!   have their own shutdown).

mod caps;
mod clock;

pub use caps::{Caps, Refused};

use crate::error::{ApiError, Error};
use crate::security::HttpSettings;
use axum::extract::ConnectInfo;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};

/// What the accept loop needs besides the router: timers, caps, TLS.
#[derive(Clone)]
pub struct Transport {
    header_read: Duration,
    idle: Duration,
    caps: Arc<Caps>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Transport {
    /// From the `[http]` settings; fails when the TLS files cannot be used.
    pub fn new(settings: &HttpSettings) -> Result<Self, String> {
        Ok(Self {
            header_read: settings.header_read_timeout(),
            idle: settings.idle_timeout(),
            caps: Caps::new(
                settings.max_connections,
                settings.max_connections_per_ip,
                settings.trusted_proxies.clone(),
            ),
            tls: settings
                .tls
                .as_ref()
                .map(crate::security::tls::acceptor)
                .transpose()?,
        })
    }

    pub fn caps(&self) -> &Arc<Caps> {
        &self.caps
    }
}

/// Serves `app` on `listener` until `stop` is set.
pub fn spawn(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    transport: Transport,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        // Every connection task holds a sender; when all are gone, so are the connections.
        let (alive, mut all_closed) = mpsc::channel::<()>(1);
        let stopping = stopped(stop.clone());
        tokio::pin!(stopping);
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        accept_error(e).await;
                        continue;
                    }
                },
                _ = &mut stopping => break,
            };
            let slot = match transport.caps.acquire(peer.ip()) {
                Ok(slot) => slot,
                Err(cap) => {
                    tracing::debug!(%peer, ?cap, "connection refused: over the cap");
                    drop(tcp);
                    continue;
                }
            };
            // Small frames (WebSocket market data, short JSON replies) go out at once:
            // with Nagle's algorithm a second small write waits for the peer's delayed
            // ACK (~40 ms).
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
            let (transport, app, stop, alive) =
                (transport.clone(), app.clone(), stop.clone(), alive.clone());
            tokio::spawn(async move {
                let _alive = alive;
                let clock = clock::Clock::new(transport.header_read, transport.idle);
                match &transport.tls {
                    None => serve_connection(tcp, peer, app, clock, stop, slot).await,
                    Some(tls) => {
                        match tokio::time::timeout(transport.header_read, tls.accept(tcp)).await {
                            Ok(Ok(io)) => serve_connection(io, peer, app, clock, stop, slot).await,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed")
                            }
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        }
                    }
                }
            });
        }
        drop(alive);
        let _ = all_closed.recv().await;
        Ok(())
    })
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Accept errors are the listener's or the process's (out of file descriptors), not one
/// client's: log, wait a little so a full descriptor table is not spun on, go on.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One connection: hyper's HTTP/1 with upgrades, watched by its [`clock::Clock`].
async fn serve_connection<IO>(
    io: IO,
    peer: SocketAddr,
    app: axum::Router,
    clock: Arc<clock::Clock>,
    stop: watch::Receiver<bool>,
    slot: caps::Slot,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    use tower::Service;
    // The slot lives in the IO: an upgraded WebSocket takes the socket, and with it its
    // place under the caps, until it closes.
    let io = TokioIo::new(clock::Tracked {
        io,
        clock: clock.clone(),
        _slot: slot,
    });
    let service_clock = clock.clone();
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            service_clock.request_started();
            let clock = service_clock.clone();
            let call = app.clone().call(req);
            async move {
                let res = call.await;
                clock.request_finished();
                res
            }
        });
    let conn = hyper::server::conn::http1::Builder::new()
        // The clock keeps the header and idle timers (hyper's one timer cannot be both).
        .header_read_timeout(None)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(conn);
    let stopping = stopped(stop);
    tokio::pin!(stopping);
    let mut shutting_down = false;
    let mut next_check = Instant::now();
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = &mut stopping, if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep_until(next_check.into()) => {
                match clock.check(Instant::now()) {
                    Ok(at) => next_check = at,
                    Err(why) => {
                        tracing::debug!(%peer, ?why, "closing the connection: timeout");
                        break;
                    }
                }
            }
        }
    }
}

/// Outermost layer: a handler or middleware that panics answers the contract's 500
/// `INTERNAL` error (detail logged, not sent) instead of hyper dropping the connection.
pub fn catch_panics<S: Clone + Send + Sync + 'static>(app: axum::Router<S>) -> axum::Router<S> {
    app.layer(tower_http::catch_panic::CatchPanicLayer::custom(
        panic_response,
    ))
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into());
    ApiError(Error::internal(format!(
        "request handler panicked: {detail}"
    )))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request as HttpRequest, StatusCode};
    use tower::ServiceExt;

    async fn call(app: axum::Router, path: &str) -> (StatusCode, serde_json::Value) {
        let res = app
            .oneshot(HttpRequest::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// A route that panics exists only in this test router, wrapped by the same function
    /// `start` uses.
    #[tokio::test]
    async fn a_panicking_handler_answers_the_internal_error_shape() {
        let app = catch_panics(
            axum::Router::new()
                .route(
                    "/boom",
                    axum::routing::get(|| async {
                        if true {
                            panic!("secret detail");
                        }
                        "unreachable"
                    }),
                )
                .route("/fine", axum::routing::get(|| async { "{\"ok\":true}" })),
        );
        let (status, body) = call(app.clone(), "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "INTERNAL");
        assert_eq!(body["error"]["message"], "internal error");
        assert!(!body.to_string().contains("secret detail"));
        // The service keeps serving after a panic.
        let (status, body) = call(app, "/fine").await;
        assert_eq!(
            (status, &body["ok"]),
            (StatusCode::OK, &serde_json::json!(true))
        );
    }

    #[test]
    fn string_and_other_payloads_give_the_same_public_answer() {
        for payload in [
            Box::new(String::from("owned")) as Box<dyn std::any::Any + Send>,
            Box::new(42u8),
        ] {
            let res = panic_response(payload);
            assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(
                res.headers()[axum::http::header::CONTENT_TYPE],
                "application/json"
            );
        }
    }
}
