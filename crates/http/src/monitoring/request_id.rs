//! `X-Request-Id`: every request gets one, every answer carries it.
//!
//! Rules: a client's id is kept when it is 1–128 printable ASCII characters (what fits
//! a header and a log line unescaped); otherwise, or when absent, the server makes one
//! (32 hex digits). The id is in a `request` tracing span around the whole request, so
//! every log line written while serving it names it, and in error bodies as
//! `error.request_id` (read by [`crate::error::error_response`] from [`current`]). The
//! layer is the outermost one, so early answers (421, 413, 429, timeouts, 404s) carry it.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Longest client-supplied id kept.
pub const MAX_LEN: usize = 128;

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// The client's id if acceptable, else a new one.
fn accept_or_make(req: &Request) -> String {
    let given = req.headers().get(&HEADER).and_then(|v| v.to_str().ok());
    match given {
        Some(id)
            if !id.is_empty()
                && id.len() <= MAX_LEN
                && id.bytes().all(|b| b.is_ascii_graphic() || b == b' ') =>
        {
            id.to_owned()
        }
        _ => hex::encode(rand::random::<[u8; 16]>()),
    }
}

pub async fn middleware(req: Request, next: Next) -> Response {
    let id = accept_or_make(&req);
    // At ERROR level so that no filter drops it: a disabled span records nothing, and
    // the warnings logged under `RUST_LOG=warn` would lose their id.
    let span = tracing::error_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    // The HTTP metrics ride on this layer, which every route has (see
    // `crate::metrics::mount` for why not a layer of their own).
    let timing = crate::metrics::request_started(&req);
    let mut res = CURRENT
        .scope(id.clone(), next.run(req).instrument(span))
        .await;
    if let Some(t) = timing {
        crate::metrics::request_finished(t, &res);
    }
    // Checked printable above or made of hex digits: always a valid header value.
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, v);
    }
    res
}
