//! CORS from the `cors_origins` allow-list (tower-http's `CorsLayer`).
//!
//! Rules:
//! - Empty list (the default): no CORS layer at all; the bundled terminal is same-origin
//!   and needs none, and a preflight is a plain 405.
//! - `"*"`: any origin, without credentials (the API authenticates with headers, not
//!   cookies, so nothing is lost).
//! - Otherwise exact origins (`scheme://host[:port]`). An allowed origin's preflight gets
//!   the `Access-Control-Allow-*` headers; any other origin gets none of them (not even
//!   the method and header lists `CorsLayer` sends regardless), so nothing about the API
//!   is advertised to it.
//! - The rate-limit headers are exposed, so a browser client can read `Retry-After`.

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

/// An origin as the config may list it: `*` or `scheme://host[:port]` without a path.
pub fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Ok(());
    }
    let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
        && !origin.ends_with('/')
        && origin.split("://").nth(1).is_some_and(|rest| {
            !rest.is_empty() && !rest.contains('/') && super::host::normalize(rest).is_some()
        })
        && HeaderValue::from_str(origin).is_ok();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{origin:?} is not an origin (scheme://host[:port], no path)"
        ))
    }
}

/// The layer for `origins`, or `None` when the list is empty.
pub fn layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers(Any)
        .expose_headers([
            header::RETRY_AFTER,
            header::HeaderName::from_static("ratelimit-limit"),
            header::HeaderName::from_static("ratelimit-remaining"),
            header::HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(Duration::from_secs(600));
    Some(if origins.iter().any(|o| o == "*") {
        layer.allow_origin(Any)
    } else {
        let list: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
        layer.allow_origin(AllowOrigin::list(list))
    })
}

/// Middleware outside [`layer`]: a response to a request whose `Origin` is not allowed
/// loses every `Access-Control-*` header.
pub async fn strip_refused(
    axum::extract::State(origins): axum::extract::State<Arc<[String]>>,
    req: Request,
    next: Next,
) -> Response {
    let refused = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| !origins.iter().any(|a| a == "*" || a == o));
    let mut res = next.run(req).await;
    if refused {
        let h = res.headers_mut();
        let names: Vec<_> = h
            .keys()
            .filter(|k| k.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for k in names {
            h.remove(k);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked() {
        for ok in [
            "*",
            "https://trade.example.com",
            "http://localhost:5173",
            "http://[::1]:80",
        ] {
            assert!(check_origin(ok).is_ok(), "{ok}");
        }
        for bad in [
            "trade.example.com",
            "https://trade.example.com/",
            "https://x.com/path",
            "ftp://x.com",
            "https://",
            "https://a b",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
