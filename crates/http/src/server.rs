//! Serving a router: TCP_NODELAY on every connection, the peer address for rate limits,
//! a panic guard outermost, and graceful shutdown when `stop` turns true.

use crate::error::{ApiError, Error};
use axum::serve::ListenerExt;
use std::net::SocketAddr;
use tokio::sync::watch;

/// Serves `app` on `listener` until `stop` is set.
pub fn spawn(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let app = catch_panics(app);
    tokio::spawn(async move {
        // Small frames (WebSocket market data, short JSON replies) go out at once: with
        // Nagle's algorithm a second small write waits for the peer's delayed ACK (~40 ms).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        // The peer address is what anonymous rate limits are keyed by.
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
    })
}

/// Outermost layer: a handler or middleware that panics answers the contract's 500
/// `INTERNAL` error (detail logged, not sent) instead of hyper dropping the connection.
pub fn catch_panics(app: axum::Router) -> axum::Router {
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
