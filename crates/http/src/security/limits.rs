//! Per-request limits: the request timeout and the body limit of each route class.
//!
//! - [`timeout`]: the handler (reading the body included) must answer within
//!   `request_timeout_ms`, else 408 `REQUEST_TIMEOUT`. It wraps the service call only:
//!   a WebSocket upgrade answers 101 at once and the socket then lives outside it. A
//!   command the handler had already submitted may still be applied, which the message
//!   says (`client_order_id` makes the retry safe). tower-http's `TimeoutLayer` would do
//!   the same with an empty body; this answers in the error shape directly.
//! - [`body_limit`]: `admin_body_limit` under `/api/v1/admin/`, `body_limit` elsewhere
//!   (413 `PAYLOAD_TOO_LARGE`). tower-http's `RequestBodyLimitLayer` takes one fixed limit,
//!   so this does what it does (refuse by `Content-Length`, else cap the stream with
//!   `http_body_util::Limited`, which axum's extractors report as 413) with the limit of
//!   the request's class; axum's own default limit is turned off in the router so the
//!   larger class is not cut at 2 MiB. It also watches the body: an answer given before
//!   the body was read to its end (a 401 of the credential check, a 415, a 404) says
//!   `Connection: close`, because hyper then drops the connection rather than read the
//!   rest, and a client that pools connections would send its next request into the
//!   closed socket.

use super::HttpSettings;
use crate::error::{error_response, request_timeout};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Body as _, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// Middleware: the request timeout.
pub async fn timeout(
    State(settings): State<Arc<HttpSettings>>,
    req: Request,
    next: Next,
) -> Response {
    let limit = settings.request_timeout();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => request_timeout(limit),
    }
}

/// Middleware: the body limit of the request's route class.
pub async fn body_limit(
    State(settings): State<Arc<HttpSettings>>,
    req: Request,
    next: Next,
) -> Response {
    let limit = settings.body_limit_for(req.uri().path());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit);
    }
    let has_body = !req.body().is_end_stream();
    let read = Arc::new(AtomicBool::new(false));
    let req = req.map(|b| {
        Body::new(Watched {
            inner: Body::new(http_body_util::Limited::new(b, limit)),
            read: read.clone(),
        })
    });
    let mut res = next.run(req).await;
    if has_body && !read.load(Ordering::Relaxed) {
        res.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    res
}

/// A request body that records when it has been read to its end.
struct Watched {
    inner: Body,
    read: Arc<AtomicBool>,
}

impl hyper::body::Body for Watched {
    type Data = <Body as hyper::body::Body>::Data;
    type Error = <Body as hyper::body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let frame = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.read.store(true, Ordering::Relaxed);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pub fn too_large(limit: usize) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        &format!("the body exceeds {limit} bytes"),
    )
}
