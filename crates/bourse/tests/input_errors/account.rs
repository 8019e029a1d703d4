//! Account routes.

use crate::case::Who::*;
use crate::case::{case, Body, Case};
use reqwest::Method;
use serde_json::json;

/// Account routes.
pub(crate) fn cases() -> Vec<Case> {
    let get = Method::GET;
    let post = Method::POST;
    vec![
        // --- account ---
        case(
            get.clone(),
            "/api/v1/balances",
            Anon,
            Body::None,
            401,
            "UNAUTHORIZED",
        ),
        case(
            post.clone(),
            "/api/v1/withdrawals",
            Trader,
            Body::Json(json!({"asset": "USD", "amount": "1e2", "address": "a"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            "/api/v1/withdrawals",
            Trader,
            Body::Json(json!({"asset": "USD", "amount": "-1", "address": "a"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            "/api/v1/withdrawals",
            Trader,
            Body::Json(json!({"asset": "USD", "amount": "1.0000001", "address": "a"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            "/api/v1/withdrawals",
            Trader,
            Body::Json(json!({"asset": "USD", "amount": "9223372036854.775808", "address": "a"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            "/api/v1/withdrawals",
            Trader,
            Body::Json(json!({"asset": "USD", "amount": "0", "address": "a"})),
            422,
            "INVALID_AMOUNT",
        ),
        case(
            post.clone(),
            "/api/v1/withdrawals",
            Trader,
            Body::Json(json!({"asset": "USD", "amount": "5000", "address": "a"})),
            422,
            "INSUFFICIENT_BALANCE",
        ),
        case(
            post.clone(),
            "/api/v1/withdrawals",
            Trader,
            Body::Json(json!({"asset": "XYZ", "amount": "1", "address": "a"})),
            404,
            "UNKNOWN_ASSET",
        ),
        case(
            post.clone(),
            "/api/v1/withdrawals",
            Trader,
            Body::Json(json!({"asset": "USD", "amount": "1", "address": "a b"})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            "/api/v1/withdrawals",
            Trader,
            Body::Json(json!({"asset": "USD", "amount": "1", "address": "a".repeat(129)})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            "/api/v1/withdrawals",
            Trader,
            Body::Json(json!({"asset": "USD", "amount": 1, "address": "a"})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            "/api/v1/withdrawals",
            Trader,
            Body::Json(json!({"asset": "USD", "amount": "1", "address": "a", "memo": "x"})),
            422,
            "UNKNOWN_FIELD",
        ),
        case(
            post.clone(),
            "/api/v1/withdrawals",
            Anon,
            Body::Json(json!({"asset": "USD", "amount": "1", "address": "a"})),
            401,
            "UNAUTHORIZED",
        ),
        case(
            get.clone(),
            "/api/v1/withdrawals?cursor=x",
            Trader,
            Body::None,
            422,
            "VALIDATION_ERROR",
        ),
        case(
            get.clone(),
            "/api/v1/withdrawals?limit=0",
            Trader,
            Body::None,
            422,
            "VALIDATION_ERROR",
        ),
        case(
            get.clone(),
            "/api/v1/deposits?cursor=12",
            Trader,
            Body::None,
            422,
            "VALIDATION_ERROR",
        ),
        case(
            get.clone(),
            "/api/v1/deposits?cursor=1_x",
            Trader,
            Body::None,
            422,
            "VALIDATION_ERROR",
        ),
        case(
            get.clone(),
            "/api/v1/deposits?limit=abc",
            Trader,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
    ]
}
