//! Admin routes (and a trader on them).

use crate::case::Who::*;
use crate::case::{case, Body, Case};
use reqwest::Method;
use serde_json::json;
use serde_json::Value;

/// Admin routes; `w` is bob's pending withdrawal.
pub(crate) fn cases(w: &Value) -> Vec<Case> {
    let get = Method::GET;
    let post = Method::POST;
    vec![
        // --- admin ---
        case(
            post.clone(),
            "/api/v1/admin/deposits",
            Admin,
            Body::Json(json!({"username": "alice", "asset": "USD", "amount": "1e3"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            "/api/v1/admin/deposits",
            Admin,
            Body::Json(json!({"username": "alice", "asset": "USD", "amount": "-1"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            "/api/v1/admin/deposits",
            Admin,
            Body::Json(json!({"username": "alice", "asset": "USD", "amount": "0"})),
            422,
            "INVALID_AMOUNT",
        ),
        case(
            post.clone(),
            "/api/v1/admin/deposits",
            Admin,
            Body::Json(
                json!({"username": "alice", "asset": "USD", "amount": "18446744073709.551615"}),
            ),
            422,
            "INVALID_DECIMAL",
        ),
        // Fits, but alice's balance would pass what the read models can hold.
        case(
            post.clone(),
            "/api/v1/admin/deposits",
            Admin,
            Body::Json(
                json!({"username": "alice", "asset": "USD", "amount": "9223372036854.775807"}),
            ),
            422,
            "INVALID_AMOUNT",
        ),
        case(
            post.clone(),
            "/api/v1/admin/deposits",
            Admin,
            Body::Json(json!({"username": "nobody", "asset": "USD", "amount": "1"})),
            404,
            "UNKNOWN_USER",
        ),
        case(
            post.clone(),
            "/api/v1/admin/deposits",
            Admin,
            Body::Json(json!({"username": "alice", "asset": "XYZ", "amount": "1"})),
            404,
            "UNKNOWN_ASSET",
        ),
        case(
            post.clone(),
            "/api/v1/admin/deposits",
            Admin,
            Body::Json(json!({"username": "alice", "asset": "USD", "amount": "1", "note": "x"})),
            422,
            "UNKNOWN_FIELD",
        ),
        case(
            post.clone(),
            "/api/v1/admin/deposits",
            Trader,
            Body::Json(json!({"username": "alice", "asset": "USD", "amount": "1"})),
            403,
            "FORBIDDEN",
        ),
        case(
            get.clone(),
            "/api/v1/admin/withdrawals?status=all",
            Admin,
            Body::None,
            422,
            "VALIDATION_ERROR",
        ),
        case(
            get.clone(),
            "/api/v1/admin/withdrawals?cursor=abc",
            Admin,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            post.clone(),
            "/api/v1/admin/withdrawals/abc/approve",
            Admin,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            post.clone(),
            "/api/v1/admin/withdrawals/-1/approve",
            Admin,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            post.clone(),
            "/api/v1/admin/withdrawals/99999999999999999999/reject",
            Admin,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            post.clone(),
            "/api/v1/admin/withdrawals/777/reject",
            Admin,
            Body::None,
            404,
            "UNKNOWN_WITHDRAWAL",
        ),
        case(
            post.clone(),
            &format!("/api/v1/admin/withdrawals/{}/approve", w["id"]),
            Trader,
            Body::None,
            403,
            "FORBIDDEN",
        ),
        case(
            post.clone(),
            "/api/v1/admin/markets",
            Admin,
            Body::Json(
                json!({"symbol": "BTC-USD", "base": "BTC", "quote": "USD", "tick_size": "0.01", "lot_size": "0.0001", "min_notional": "1"}),
            ),
            409,
            "MARKET_EXISTS",
        ),
        case(
            post.clone(),
            "/api/v1/admin/markets",
            Admin,
            Body::Json(
                json!({"symbol": "X-USD", "base": "X", "quote": "USD", "tick_size": "0", "lot_size": "1", "min_notional": "1"}),
            ),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            "/api/v1/admin/markets",
            Admin,
            Body::Json(
                json!({"symbol": "X-USD", "base": "X", "quote": "USD", "tick_size": "1e-2", "lot_size": "1", "min_notional": "1"}),
            ),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            "/api/v1/admin/markets",
            Admin,
            Body::Json(
                json!({"symbol": "X-USD", "base": "X", "quote": "USD", "tick_size": "18446744073709551615", "lot_size": "1", "min_notional": "1"}),
            ),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            "/api/v1/admin/markets",
            Admin,
            Body::Json(
                json!({"symbol": "X-USD", "base": "X", "quote": "X", "tick_size": "1", "lot_size": "1", "min_notional": "1"}),
            ),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            "/api/v1/admin/markets",
            Admin,
            Body::Json(
                json!({"symbol": "X-USD", "base": "X", "quote": "USD", "tick_size": "1", "lot_size": "1", "min_notional": "1", "maker_fee_bps": 10001}),
            ),
            422,
            "INVALID_MARKET_SPEC",
        ),
        case(
            post.clone(),
            "/api/v1/admin/markets",
            Admin,
            Body::Json(
                json!({"symbol": "X-USD", "base": "X", "quote": "USD", "tick_size": "1", "lot_size": "1", "min_notional": "1", "maker_fee_bps": -1}),
            ),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            "/api/v1/admin/markets/NOPE-USD/halt",
            Admin,
            Body::None,
            404,
            "UNKNOWN_MARKET",
        ),
        case(
            post.clone(),
            "/api/v1/admin/markets/BTC-USD/resume",
            Admin,
            Body::None,
            409,
            "MARKET_ALREADY_IN_STATE",
        ),
        case(
            post.clone(),
            "/api/v1/admin/markets/BTC-USD/halt",
            Trader,
            Body::None,
            403,
            "FORBIDDEN",
        ),
        case(
            get.clone(),
            "/api/v1/admin/state",
            Anon,
            Body::None,
            401,
            "UNAUTHORIZED",
        ),
    ]
}
