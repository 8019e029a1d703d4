//! API smoke tests against the in-process app on port 0 with a temp data dir.

mod common;

use common::{code, start, test_config, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn balance<'a>(balances: &'a Value, asset: &str) -> (&'a str, &'a str) {
    let b = balances
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["asset"] == asset)
        .unwrap_or_else(|| panic!("no {asset} in {balances}"));
    (
        b["available"].as_str().unwrap(),
        b["held"].as_str().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trading_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_config(dir.path(), None)).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "alice", "USD", "10000").await;
    c.deposit(&admin, "bob", "BTC", "2").await;

    let (s, markets) = c.get("/api/v1/markets", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(markets[0]["symbol"], "BTC-USD");
    assert_eq!(markets[0]["tick_size"], "0.01");

    // Bob rests a sell; the book shows it.
    let (s, sell) = c
        .post(
            "/api/v1/orders",
            Some(&bob),
            json!({"market": "BTC-USD", "side": "sell", "type": "limit",
            "price": "100.50", "quantity": "1", "time_in_force": "gtc"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sell}");
    assert_eq!(sell["status"], "open");
    assert_eq!(sell["remaining_quantity"], "1.0000");
    let (_, book) = c.get("/api/v1/markets/BTC-USD/book?depth=5", None).await;
    assert_eq!(book["asks"], json!([["100.50", "1.0000"]]));
    assert_eq!(book["bids"], json!([]));
    assert_eq!(book["sequence"], 1);

    // Alice buys half at a higher limit: fills at the maker's price.
    let (s, buy) = c
        .post(
            "/api/v1/orders",
            Some(&alice),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit",
            "price": "101", "quantity": "0.5", "client_order_id": "alice-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{buy}");
    assert_eq!(buy["status"], "filled");
    assert_eq!(buy["filled_quantity"], "0.5000");
    assert_eq!(buy["average_price"], "100.50");
    let fill = &buy["fills"][0];
    assert_eq!(fill["price"], "100.50");
    assert_eq!(fill["quantity"], "0.5000");
    assert_eq!(fill["liquidity"], "taker");
    assert_eq!(fill["fee"], "0.100500"); // 50.25 × 20 bp
    assert_eq!(fill["fee_asset"], "USD");
    assert_eq!(fill["order_id"], buy["id"]);

    // Same client_order_id and body: the original order (200); different body: 409.
    let (s, again) = c
        .post(
            "/api/v1/orders",
            Some(&alice),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit",
            "price": "101", "quantity": "0.5", "client_order_id": "alice-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["id"], buy["id"]);
    let (s, dup) = c
        .post(
            "/api/v1/orders",
            Some(&alice),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit",
            "price": "101", "quantity": "0.6", "client_order_id": "alice-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(code(&dup), "DUPLICATE_CLIENT_ORDER_ID");

    // Balances: alice paid 50.25 + 0.1005 fee and got 0.5 BTC.
    let b = c.balances(&alice).await;
    assert_eq!(balance(&b, "USD"), ("9949.649500", "0.000000"));
    assert_eq!(balance(&b, "BTC"), ("0.50000000", "0.00000000"));
    let b = c.balances(&bob).await;
    assert_eq!(balance(&b, "BTC"), ("1.00000000", "0.50000000"));

    // Bob's order is partially filled (live, from the core) with its maker fill.
    let sell_id = sell["id"].as_u64().unwrap();
    let (s, o) = c
        .get(&format!("/api/v1/orders/{sell_id}"), Some(&bob))
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["status"], "partially_filled");
    assert_eq!(o["filled_quantity"], "0.5000");
    assert_eq!(o["fills"][0]["liquidity"], "maker");
    assert_eq!(o["fills"][0]["fee"], "0.050250");

    // Another user's order is not found, for reading and cancelling.
    let (s, e) = c
        .get(&format!("/api/v1/orders/{sell_id}"), Some(&alice))
        .await;
    assert_eq!((s, code(&e)), (StatusCode::NOT_FOUND, "UNKNOWN_ORDER"));
    let (s, e) = c
        .delete(&format!("/api/v1/orders/{sell_id}"), Some(&alice))
        .await;
    assert_eq!((s, code(&e)), (StatusCode::NOT_FOUND, "UNKNOWN_ORDER"));

    // Cancel, then it is closed (from the read model) and the hold is released.
    let (s, o) = c
        .delete(&format!("/api/v1/orders/{sell_id}"), Some(&bob))
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["status"], "canceled");
    assert_eq!(o["remaining_quantity"], "0.5000");
    let (s, e) = c
        .delete(&format!("/api/v1/orders/{sell_id}"), Some(&bob))
        .await;
    assert_eq!((s, code(&e)), (StatusCode::NOT_FOUND, "UNKNOWN_ORDER"));
    let b = c.balances(&bob).await;
    assert_eq!(balance(&b, "BTC"), ("1.50000000", "0.00000000"));
    let (_, book) = c.get("/api/v1/markets/BTC-USD/book", None).await;
    assert_eq!(book["asks"], json!([]));

    // Lists with filters.
    let (s, list) = c.get("/api/v1/orders?status=closed", Some(&bob)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["orders"].as_array().unwrap().len(), 1);
    assert_eq!(list["orders"][0]["status"], "canceled");
    let (_, list) = c.get("/api/v1/orders?status=open", Some(&bob)).await;
    assert_eq!(list["orders"], json!([]));
    let (_, list) = c.get("/api/v1/orders?market=BTC-USD", Some(&alice)).await;
    assert_eq!(list["orders"][0]["status"], "filled");
    let (s, e) = c.get("/api/v1/orders?market=NOPE-USD", Some(&alice)).await;
    assert_eq!((s, code(&e)), (StatusCode::NOT_FOUND, "UNKNOWN_MARKET"));

    // Cursor pagination: three resting orders, pages of two.
    for p in ["95", "96", "97"] {
        let (s, v) = c
            .post(
                "/api/v1/orders",
                Some(&alice),
                json!({"market": "BTC-USD", "side": "buy",
                "type": "limit", "price": p, "quantity": "0.1"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (_, p1) = c
        .get("/api/v1/orders?status=open&limit=2", Some(&alice))
        .await;
    assert_eq!(p1["orders"].as_array().unwrap().len(), 2);
    let cursor = p1["next_cursor"].as_u64().expect("a next page");
    let (_, p2) = c
        .get(
            &format!("/api/v1/orders?status=open&limit=2&before={cursor}"),
            Some(&alice),
        )
        .await;
    assert_eq!(p2["orders"].as_array().unwrap().len(), 1);
    assert_eq!(p2["orders"][0]["price"], "95.00");

    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_4xx_in_the_error_shape_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_config(dir.path(), None)).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    c.deposit(&admin, "alice", "USD", "1000").await;
    let state_before = c.get("/api/v1/admin/state", Some(&admin)).await.1;
    let balances_before = c.balances(&alice).await;

    let order = |extra: Value| {
        let mut o = json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "100", "quantity": "1"});
        for (k, v) in extra.as_object().unwrap() {
            o[k] = v.clone();
        }
        o
    };
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            order(json!({"bogus": 1})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNKNOWN_FIELD",
        ),
        (
            order(json!({"price": "1e3"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_DECIMAL",
        ),
        (
            order(json!({"price": "-1"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_DECIMAL",
        ),
        (
            order(json!({"price": "100.001"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_DECIMAL",
        ),
        (
            order(json!({"quantity": "0"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "OFF_GRID",
        ),
        (
            order(json!({"price": 100})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        (
            order(json!({"side": "up"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        (
            order(json!({"market": "NOPE-USD"})),
            StatusCode::NOT_FOUND,
            "UNKNOWN_MARKET",
        ),
        (
            order(json!({"quantity": "100"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INSUFFICIENT_BALANCE",
        ),
        (
            order(json!({"client_order_id": "has space"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        (
            order(
                json!({"type": "market", "price": null, "time_in_force": "fok", "quantity": "1"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "FOK_CANNOT_FILL",
        ),
    ];
    for (body, status, want) in cases {
        let (s, v) = c.post("/api/v1/orders", Some(&alice), body.clone()).await;
        assert_eq!((s, code(&v)), (status, want), "body {body}: {v}");
    }

    // Off-grid on a market with a coarser tick.
    let (s, v) = c
        .post(
            "/api/v1/admin/markets",
            Some(&admin),
            json!({"symbol": "ETH-USD", "base": "ETH",
            "quote": "USD", "tick_size": "0.05", "lot_size": "0.001", "min_notional": "1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = c
        .post(
            "/api/v1/orders",
            Some(&alice),
            json!({"market": "ETH-USD", "side": "buy",
            "type": "limit", "price": "10.07", "quantity": "1"}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "OFF_GRID"),
        "{v}"
    );
    let state_mid = c.get("/api/v1/admin/state", Some(&admin)).await.1;

    // Malformed JSON, wrong content type, oversized body, bad path, unknown route.
    let raw = |body: &'static str, ctype: &'static str| {
        c.http
            .post(format!("{}/api/v1/orders", c.base))
            .bearer_auth(&alice)
            .header("content-type", ctype)
            .body(body)
    };
    let res = raw("{\"market\":", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&res.json::<Value>().await.unwrap()), "MALFORMED_JSON");
    let res = raw("{}", "text/plain").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        code(&res.json::<Value>().await.unwrap()),
        "UNSUPPORTED_MEDIA_TYPE"
    );
    let big = format!("{{\"market\":\"{}\"}}", "x".repeat(200_000));
    let res = c
        .http
        .post(format!("{}/api/v1/orders", c.base))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The unread rest of the body ends the connection: the client is told not to reuse
    // it (its next request, below, would otherwise fail now and then with a broken pipe).
    assert_eq!(res.headers()["connection"], "close");
    assert_eq!(
        code(&res.json::<Value>().await.unwrap()),
        "PAYLOAD_TOO_LARGE"
    );
    let (s, v) = c.get("/api/v1/orders/not-a-number", Some(&alice)).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
    let (s, v) = c.get("/api/v1/nope", None).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let (s, v) = c.call(Method::PUT, "/api/v1/markets", None, None).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );
    let (s, v) = c.get("/api/v1/markets/NOPE-USD/book", None).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "UNKNOWN_MARKET"));

    // Auth: no token, garbage token, a trader on an admin route, wrong password.
    let (s, v) = c.get("/api/v1/balances", None).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"));
    let (s, v) = c.get("/api/v1/balances", Some("garbage")).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"));
    let (s, v) = c
        .post(
            "/api/v1/admin/deposits",
            Some(&alice),
            json!({"username": "alice", "asset": "USD", "amount": "1"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let (s, v) = c
        .post(
            "/api/v1/admin/deposits",
            None,
            json!({"username": "alice", "asset": "USD", "amount": "1"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"));
    let (s, v) = c
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "alice", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
    );
    let (s, v) = c
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "alice", "password": "password123"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "USERNAME_TAKEN"));
    let (s, v) = c
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "x", "password": "password123"}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR")
    );

    // None of it changed the state: same hash as before (after the second market).
    let state_after = c.get("/api/v1/admin/state", Some(&admin)).await.1;
    assert_ne!(state_before["state_hash"], state_mid["state_hash"]);
    assert_eq!(state_mid["state_hash"], state_after["state_hash"]);
    assert_eq!(state_after["invariants"], "ok");
    assert_eq!(
        c.balances(&alice).await.as_array().unwrap()[..2],
        balances_before.as_array().unwrap()[..2]
    );

    let (s, h) = c.get("/health", None).await;
    assert_eq!(
        (s, h["status"].as_str()),
        (StatusCode::OK, Some("healthy")),
        "{h}"
    );
    let (s, _) = c.get("/ready", None).await;
    assert_eq!(s, StatusCode::OK);
    app.shutdown().await;
}
