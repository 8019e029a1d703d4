//! Bad input on every trading, account, market-data and admin route: each case gets a
//! 4xx in the contract's error shape with the expected code — never a 5xx, a panic or a
//! hang — and the whole table changes no state (same state hash, same balances).

mod common;

use common::{start, test_config, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The test config with rate limits off: these suites fire requests back to back.
fn config(dir: &std::path::Path) -> bourse::Config {
    let mut c = test_config(dir, None);
    c.limits.enabled = false;
    c
}

#[derive(Clone, Copy)]
enum Who {
    Anon,
    Trader,
    Admin,
}

enum Body {
    None,
    Json(Value),
    Raw(&'static str, String),
}

struct Case {
    method: Method,
    path: String,
    who: Who,
    body: Body,
    status: u16,
    code: &'static str,
}

fn case(method: Method, path: &str, who: Who, body: Body, status: u16, code: &'static str) -> Case {
    Case {
        method,
        path: path.to_owned(),
        who,
        body,
        status,
        code,
    }
}

fn order(extra: Value) -> Body {
    let mut o = json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "100", "quantity": "1"});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            o.as_object_mut().unwrap().remove(k);
        } else {
            o[k] = v.clone();
        }
    }
    Body::Json(o)
}

fn raw(s: &str) -> Body {
    Body::Raw("application/json", s.to_owned())
}

/// What lives only in the read models, not in the core's state hash: `user`'s
/// notifications up to id `upto` (with read flags; refused orders add new ones), their
/// price alerts, the user list and the dead-letter queue.
async fn store_state(c: &Client, admin: &str, user: &str, upto: u64) -> Vec<Value> {
    let mut got = Vec::new();
    for (path, token) in [
        ("/api/v1/notifications", user),
        ("/api/v1/price-alerts", user),
        ("/api/v1/admin/users", admin),
        ("/api/v1/admin/notifications/dead-letters", admin),
    ] {
        let (s, v) = c.get(path, Some(token)).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        got.push(v);
    }
    let inbox = got[0]["notifications"].as_array().unwrap();
    got[0] = inbox
        .iter()
        .filter(|n| n["id"].as_u64().unwrap() <= upto)
        .cloned()
        .collect();
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_a_code_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let (s, v) = c
        .post(
            "/api/v1/admin/markets",
            Some(&admin),
            json!({"symbol": "ETH-USD", "base": "ETH", "quote": "USD", "tick_size": "0.05",
                   "lot_size": "0.001", "min_notional": "1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "alice", "USD", "1000").await;
    c.deposit(&admin, "bob", "BTC", "1").await;
    // Something to act on: bob's resting order (alice must not reach it), a withdrawal.
    let (s, bobs) = c
        .post(
            "/api/v1/orders",
            Some(&bob),
            json!({"market": "BTC-USD", "side": "sell", "type": "limit", "price": "200", "quantity": "0.5"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{bobs}");
    let bob_order = bobs["id"].as_u64().unwrap();
    let (s, w) = c
        .post(
            "/api/v1/withdrawals",
            Some(&bob),
            json!({"asset": "BTC", "amount": "0.1", "address": "btc:abc"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");

    // A price alert of alice's (the out-of-range deletes must not reach it).
    let (s, v) = c
        .post(
            "/api/v1/price-alerts",
            Some(&alice),
            json!({"market": "BTC-USD", "condition": "above", "price": "1000"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    let state_before = c.get("/api/v1/admin/state", Some(&admin)).await.1;
    let alice_before = c.balances(&alice).await;
    let bob_before = c.balances(&bob).await;
    let store_before = store_state(&c, &admin, &alice, u64::MAX).await;
    let last_notification = store_before[0][0]["id"]
        .as_u64()
        .expect("alice has notifications");
    assert_eq!(
        store_before[1].as_array().map(Vec::len),
        Some(1),
        "{store_before:?}"
    );

    use Who::*;
    let get = Method::GET;
    let post = Method::POST;
    let patch = Method::PATCH;
    let delete = Method::DELETE;
    let o = "/api/v1/orders";
    let big = format!("{{\"market\":\"{}\"}}", "x".repeat(300_000));
    let mut cases = vec![
        // --- POST /orders: syntax, types, fields ---
        case(
            post.clone(),
            o,
            Trader,
            raw("{\"market\":"),
            400,
            "MALFORMED_JSON",
        ),
        case(
            post.clone(),
            o,
            Trader,
            raw("not json"),
            400,
            "MALFORMED_JSON",
        ),
        case(post.clone(), o, Trader, raw(""), 400, "MALFORMED_JSON"),
        case(
            post.clone(),
            o,
            Trader,
            raw("null"),
            422,
            "VALIDATION_ERROR",
        ),
        case(post.clone(), o, Trader, raw("[]"), 422, "VALIDATION_ERROR"),
        case(
            post.clone(),
            o,
            Trader,
            raw("{\"market\":\"BTC-USD\",\"market\":\"BTC-USD\"}"),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            Body::Raw("text/plain", "{}".into()),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        case(
            post.clone(),
            o,
            Trader,
            Body::Raw("application/json", big.clone()),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"bogus": 1})),
            422,
            "UNKNOWN_FIELD",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"side": null})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"side": "up"})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"type": "limitt"})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"price": 100})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"quantity": true})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"post_only": "yes"})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"time_in_force": "GTC"})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"stp": "none"})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"time_in_force": "gtd", "expire_at": -1})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"time_in_force": "gtd", "expire_at": "soon"})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"time_in_force": "gtd", "expire_at": 1e30})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"time_in_force": "gtd", "expire_at": 18_000_000_000_000_000_000u64})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"client_order_id": "x".repeat(100)})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"client_order_id": ""})),
            422,
            "VALIDATION_ERROR",
        ),
        // --- bad decimals ---
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"price": "1e3"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"price": "-1"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"price": "+1"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"price": "1.2.3"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"price": "100.001"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"price": ""})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"price": " 100"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"price": "NaN"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"price": "99999999999999999999"})),
            422,
            "INVALID_DECIMAL",
        ),
        // i64::MAX + 1 cents: fits a u64, not the read models.
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"price": "92233720368547758.08"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"quantity": "0.00001"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"quantity": "1,5"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"type": "market", "price": null, "quote_quantity": "1e2"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"type": "stop_limit", "stop_price": "-5"})),
            422,
            "INVALID_DECIMAL",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"quantity": "0"})),
            422,
            "OFF_GRID",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"price": "0.00"})),
            422,
            "OFF_GRID",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"market": "ETH-USD", "price": "10.07"})),
            422,
            "OFF_GRID",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"market": "NOPE-USD"})),
            404,
            "UNKNOWN_MARKET",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"market": "not a symbol at all"})),
            404,
            "UNKNOWN_MARKET",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"quantity": "100"})),
            422,
            "INSUFFICIENT_BALANCE",
        ),
        case(
            post.clone(),
            o,
            Trader,
            order(json!({"quantity": "100000000000"})),
            422,
            "QUANTITY_TOO_LARGE",
        ),
        case(post.clone(), o, Anon, order(json!({})), 401, "UNAUTHORIZED"),
        // --- order ids in paths ---
        case(
            get.clone(),
            "/api/v1/orders/abc",
            Trader,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            get.clone(),
            "/api/v1/orders/-1",
            Trader,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            get.clone(),
            "/api/v1/orders/99999999999999999999",
            Trader,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            get.clone(),
            "/api/v1/orders/1.5",
            Trader,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            get.clone(),
            "/api/v1/orders/0",
            Trader,
            Body::None,
            404,
            "UNKNOWN_ORDER",
        ),
        case(
            get.clone(),
            "/api/v1/orders/18446744073709551615",
            Trader,
            Body::None,
            404,
            "UNKNOWN_ORDER",
        ),
        case(
            get.clone(),
            &format!("/api/v1/orders/{bob_order}"),
            Trader,
            Body::None,
            404,
            "UNKNOWN_ORDER",
        ),
        case(
            delete.clone(),
            "/api/v1/orders/abc",
            Trader,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            delete.clone(),
            "/api/v1/orders/-1",
            Trader,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            delete.clone(),
            "/api/v1/orders/99999999999999999999",
            Trader,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            delete.clone(),
            &format!("/api/v1/orders/{bob_order}"),
            Trader,
            Body::None,
            404,
            "UNKNOWN_ORDER",
        ),
        case(
            delete.clone(),
            "/api/v1/orders/424242",
            Trader,
            Body::None,
            404,
            "UNKNOWN_ORDER",
        ),
        case(
            patch.clone(),
            "/api/v1/orders/abc",
            Trader,
            Body::Json(json!({"price": "1"})),
            400,
            "BAD_REQUEST",
        ),
        case(
            patch.clone(),
            "/api/v1/orders/-1",
            Trader,
            Body::Json(json!({"price": "1"})),
            400,
            "BAD_REQUEST",
        ),
        case(
            patch.clone(),
            "/api/v1/orders/99999999999999999999",
            Trader,
            Body::Json(json!({"price": "1"})),
            400,
            "BAD_REQUEST",
        ),
        case(
            patch.clone(),
            &format!("/api/v1/orders/{bob_order}"),
            Trader,
            Body::Json(json!({"price": "1"})),
            404,
            "UNKNOWN_ORDER",
        ),
        case(
            patch.clone(),
            &format!("/api/v1/orders/{bob_order}"),
            Admin,
            Body::Json(json!({"price": "1"})),
            404,
            "UNKNOWN_ORDER",
        ),
        case(
            patch.clone(),
            &format!("/api/v1/orders/{bob_order}"),
            Trader,
            Body::Json(json!({})),
            422,
            "VALIDATION_ERROR",
        ),
        case(
            patch.clone(),
            &format!("/api/v1/orders/{bob_order}"),
            Trader,
            Body::Json(json!({"price": "1", "side": "buy"})),
            422,
            "UNKNOWN_FIELD",
        ),
        case(
            patch.clone(),
            &format!("/api/v1/orders/{bob_order}"),
            Trader,
            raw("{"),
            400,
            "MALFORMED_JSON",
        ),
        case(
            patch.clone(),
            &format!("/api/v1/orders/{bob_order}"),
            Trader,
            Body::None,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        // --- list / cancel-all / fills query strings ---
        case(
            get.clone(),
            "/api/v1/orders?status=bogus",
            Trader,
            Body::None,
            422,
            "VALIDATION_ERROR",
        ),
        case(
            get.clone(),
            "/api/v1/orders?limit=0",
            Trader,
            Body::None,
            422,
            "VALIDATION_ERROR",
        ),
        case(
            get.clone(),
            "/api/v1/orders?limit=1001",
            Trader,
            Body::None,
            422,
            "VALIDATION_ERROR",
        ),
        case(
            get.clone(),
            "/api/v1/orders?limit=abc",
            Trader,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            get.clone(),
            "/api/v1/orders?limit=-1",
            Trader,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            get.clone(),
            "/api/v1/orders?cursor=abc",
            Trader,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            get.clone(),
            "/api/v1/orders?cursor=99999999999999999999",
            Trader,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            get.clone(),
            "/api/v1/orders?market=NOPE-USD",
            Trader,
            Body::None,
            404,
            "UNKNOWN_MARKET",
        ),
        case(
            get.clone(),
            "/api/v1/orders",
            Anon,
            Body::None,
            401,
            "UNAUTHORIZED",
        ),
        case(
            delete.clone(),
            "/api/v1/orders?market=NOPE-USD",
            Trader,
            Body::None,
            404,
            "UNKNOWN_MARKET",
        ),
        case(
            delete.clone(),
            "/api/v1/orders",
            Anon,
            Body::None,
            401,
            "UNAUTHORIZED",
        ),
        case(
            get.clone(),
            "/api/v1/fills?limit=100000",
            Trader,
            Body::None,
            422,
            "VALIDATION_ERROR",
        ),
        case(
            get.clone(),
            "/api/v1/fills?cursor=-5",
            Trader,
            Body::None,
            400,
            "BAD_REQUEST",
        ),
        case(
            get.clone(),
            "/api/v1/fills?market=NOPE-USD",
            Trader,
            Body::None,
            404,
            "UNKNOWN_MARKET",
        ),
        case(
            get.clone(),
            "/api/v1/fills",
            Anon,
            Body::None,
            401,
            "UNAUTHORIZED",
        ),
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
    ];
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

    let mut failures = Vec::new();
    for k in &cases {
        let mut req = c
            .http
            .request(k.method.clone(), format!("{}{}", c.base, k.path));
        match k.who {
            Anon => {}
            Trader => req = req.bearer_auth(&alice),
            Admin => req = req.bearer_auth(&admin),
        }
        req = match &k.body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Raw(ctype, s) => req.header("content-type", *ctype).body(s.clone()),
        };
        let res = req.send().await.expect("no answer");
        let status = res.status();
        let text = res.text().await.unwrap();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        let got_code = v["error"]["code"].as_str().unwrap_or("<none>");
        let shaped = v["error"]["message"].is_string();
        if status.as_u16() != k.status || got_code != k.code || !shaped || status.is_server_error()
        {
            failures.push(format!(
                "{} {}: want {} {}, got {} {}",
                k.method, k.path, k.status, k.code, status, text
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing changed.
    let state_after = c.get("/api/v1/admin/state", Some(&admin)).await.1;
    assert_eq!(state_before["state_hash"], state_after["state_hash"]);
    assert_eq!(state_after["invariants"], "ok");
    assert_eq!(c.balances(&alice).await, alice_before);
    assert_eq!(c.balances(&bob).await, bob_before);
    assert_eq!(
        store_state(&c, &admin, &alice, last_notification).await,
        store_before
    );
    let (_, h) = c.get("/health", None).await;
    assert_eq!(h["status"], "healthy", "{h}");

    // And the server still works.
    let (s, v) = c
        .post(
            "/api/v1/orders",
            Some(&alice),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "100", "quantity": "1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.shutdown().await;
}
