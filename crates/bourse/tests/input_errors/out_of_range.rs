//! Ids and cursors past what the read models hold, and a few unknown routes and methods.

use crate::case::Who::*;
use crate::case::{case, Body, Case};
use reqwest::Method;
use serde_json::json;

/// Ids and cursors out of range, unknown routes and methods.
pub(crate) fn cases() -> Vec<Case> {
    let get = Method::GET;
    let post = Method::POST;
    let patch = Method::PATCH;
    let delete = Method::DELETE;
    let mut cases = Vec::new();
    // Ids and cursors past what the read models hold (i64::MAX + 1, u64::MAX): a cursor
    // is a 422, an id names nothing (404). Either way the store is never asked (it
    // refuses such values with an error that would be a 500).
    let past_i64 = "9223372036854775808";
    let u64_max = "18446744073709551615";
    let out_of_range = [
        (
            &get,
            format!("/api/v1/orders?cursor={past_i64}"),
            Trader,
            422,
            "VALIDATION_ERROR",
        ),
        (
            &get,
            format!("/api/v1/fills?cursor={u64_max}"),
            Trader,
            422,
            "VALIDATION_ERROR",
        ),
        (
            &get,
            format!("/api/v1/withdrawals?cursor={past_i64}"),
            Trader,
            422,
            "VALIDATION_ERROR",
        ),
        (
            &get,
            format!("/api/v1/deposits?cursor={past_i64}_0"),
            Trader,
            422,
            "VALIDATION_ERROR",
        ),
        (
            &get,
            format!("/api/v1/markets/BTC-USD/trades?cursor={past_i64}"),
            Trader,
            422,
            "VALIDATION_ERROR",
        ),
        (
            &get,
            format!("/api/v1/notifications?cursor={past_i64}"),
            Trader,
            422,
            "VALIDATION_ERROR",
        ),
        (
            &get,
            format!("/api/v1/notifications?unread=true&cursor={u64_max}"),
            Trader,
            422,
            "VALIDATION_ERROR",
        ),
        (
            &get,
            format!("/api/v1/admin/withdrawals?cursor={past_i64}"),
            Admin,
            422,
            "VALIDATION_ERROR",
        ),
        (
            &get,
            format!("/api/v1/admin/users?after={past_i64}"),
            Admin,
            422,
            "VALIDATION_ERROR",
        ),
        (
            &get,
            format!("/api/v1/admin/notifications/dead-letters?cursor={u64_max}"),
            Admin,
            422,
            "VALIDATION_ERROR",
        ),
        (
            &get,
            format!("/api/v1/orders/{past_i64}"),
            Trader,
            404,
            "UNKNOWN_ORDER",
        ),
        (
            &delete,
            format!("/api/v1/orders/{u64_max}"),
            Trader,
            404,
            "UNKNOWN_ORDER",
        ),
        (
            &post,
            format!("/api/v1/admin/withdrawals/{u64_max}/approve"),
            Admin,
            404,
            "UNKNOWN_WITHDRAWAL",
        ),
        (
            &post,
            format!("/api/v1/admin/withdrawals/{past_i64}/reject"),
            Admin,
            404,
            "UNKNOWN_WITHDRAWAL",
        ),
        (
            &post,
            format!("/api/v1/notifications/{past_i64}/read"),
            Trader,
            404,
            "NOT_FOUND",
        ),
        (
            &delete,
            format!("/api/v1/price-alerts/{u64_max}"),
            Trader,
            404,
            "NOT_FOUND",
        ),
        (
            &post,
            format!("/api/v1/admin/notifications/dead-letters/{past_i64}/retry"),
            Admin,
            404,
            "NOT_FOUND",
        ),
    ];
    for (method, path, who, status, code) in out_of_range {
        cases.push(case(method.clone(), &path, who, Body::None, status, code));
    }
    let amend = json!({"price": "101"});
    cases.push(case(
        patch.clone(),
        &format!("/api/v1/orders/{past_i64}"),
        Trader,
        Body::Json(amend),
        404,
        "UNKNOWN_ORDER",
    ));
    // A few unknown routes and methods for good measure.
    cases.push(case(
        get.clone(),
        "/api/v1/orders/1/fills",
        Trader,
        Body::None,
        404,
        "NOT_FOUND",
    ));
    cases.push(case(
        Method::PUT,
        "/api/v1/orders/1",
        Trader,
        Body::None,
        405,
        "METHOD_NOT_ALLOWED",
    ));
    cases
}
