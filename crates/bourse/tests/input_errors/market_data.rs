//! Market-data routes.

use crate::case::Who::*;
use crate::case::{case, Body, Case};
use reqwest::Method;
use serde_json::json;

/// Market-data routes.
pub(crate) fn cases() -> Vec<Case> {
    let get = Method::GET;
    let post = Method::POST;
    vec![
        // --- market data ---
        case(
            get.clone(),
            "/api/v1/markets/NOPE-USD/book",
            Anon,
            Body::None,
            404,
            "UNKNOWN_MARKET",
        ),
        case(
            get.clone(),
            "/api/v1/markets/%FF%FE/book",
            Anon,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            get.clone(),
            "/api/v1/markets/BTC-USD/book?depth=0",
            Anon,
            Body::None,
            422,
            "VALIDATION_ERROR",
        ),
        case(
            get.clone(),
            "/api/v1/markets/BTC-USD/book?depth=99999999999",
            Anon,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            get.clone(),
            "/api/v1/markets/BTC-USD/trades?limit=x",
            Anon,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            get.clone(),
            "/api/v1/markets/BTC-USD/candles?interval=1w",
            Anon,
            Body::None,
            422,
            "VALIDATION_ERROR",
        ),
        case(
            get.clone(),
            "/api/v1/markets/BTC-USD/candles?start=5&end=1",
            Anon,
            Body::None,
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            "/api/v1/markets",
            Anon,
            Body::Json(json!({})),
            405,
            "METHOD_NOT_ALLOWED",
        ),
    ]
}
