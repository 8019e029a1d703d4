//! Admin endpoints: withdrawals (approve / reject and their balance effects), deposits
//! history, runtime market creation, halt / resume, KYC gating, and who may call them.

mod common;

use common::{balance, code, pair, start, test_config, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The test config with rate limits off: these suites fire requests back to back.
fn config(dir: &std::path::Path) -> bourse::Config {
    let mut c = test_config(dir, None);
    c.limits.enabled = false;
    c
}

fn withdrawal(asset: &str, amount: &str) -> Value {
    json!({"asset": asset, "amount": amount, "address": "bank:DE89370400440532013000"})
}

/// `client_withdrawal_id`: a retry with the same body answers the original (200, nothing
/// held twice, even after it was approved), another body with the same key is 409, the
/// key is per user, and a malformed key is 422 before anything is journaled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_key_makes_retries_safe() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "alice", "USD", "100").await;
    c.deposit(&admin, "bob", "USD", "100").await;
    let keyed = |amount: &str, key: &str| {
        let mut b = withdrawal("USD", amount);
        b["client_withdrawal_id"] = json!(key);
        b
    };
    let (s, first) = c
        .post("/api/v1/withdrawals", Some(&alice), keyed("30", "pay-1"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let (s, again) = c
        .post("/api/v1/withdrawals", Some(&alice), keyed("30", "pay-1"))
        .await;
    assert_eq!((s, &again["id"]), (StatusCode::OK, &first["id"]), "{again}");
    assert_eq!(again["status"], "pending");
    assert_eq!(
        balance(&c.balances(&alice).await, "USD"),
        pair("70.000000", "30.000000"),
        "held once"
    );
    let (s, other) = c
        .post("/api/v1/withdrawals", Some(&alice), keyed("31", "pay-1"))
        .await;
    assert_eq!(
        (s, code(&other)),
        (StatusCode::CONFLICT, "DUPLICATE_CLIENT_WITHDRAWAL_ID"),
        "{other}"
    );
    // Another user's key space.
    let (s, bobs) = c
        .post("/api/v1/withdrawals", Some(&bob), keyed("30", "pay-1"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{bobs}");
    assert_ne!(bobs["id"], first["id"]);
    // After approval a retry still answers the original, now completed.
    let (s, _) = c
        .post(
            &format!("/api/v1/admin/withdrawals/{}/approve", first["id"]),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, later) = c
        .post("/api/v1/withdrawals", Some(&alice), keyed("30", "pay-1"))
        .await;
    assert_eq!(
        (s, &later["status"]),
        (StatusCode::OK, &json!("completed")),
        "{later}"
    );
    assert_eq!(
        balance(&c.balances(&alice).await, "USD"),
        pair("70.000000", "0.000000"),
        "withdrawn once"
    );
    let before = app.state.seq.status().committed_seq();
    for bad in ["", "has space", &"x".repeat(37), "é"] {
        let (s, v) = c
            .post("/api/v1/withdrawals", Some(&alice), keyed("1", bad))
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR"),
            "{bad:?}: {v}"
        );
    }
    assert_eq!(
        app.state.seq.status().committed_seq(),
        before,
        "nothing journaled"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_hold_funds_until_approved_or_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "alice", "USD", "100").await;
    c.deposit(&admin, "alice", "USD", "0.5").await;

    let (s, d) = c.get("/api/v1/deposits", Some(&alice)).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let deps = d["deposits"].as_array().unwrap();
    assert_eq!(deps.len(), 2);
    assert_eq!(
        (deps[0]["asset"].as_str(), deps[0]["amount"].as_str()),
        (Some("USD"), Some("0.500000"))
    );
    assert_eq!(deps[1]["amount"], "100.000000");
    let (_, p1) = c.get("/api/v1/deposits?limit=1", Some(&alice)).await;
    let cursor = p1["next_cursor"].as_str().expect("a next page").to_owned();
    let (_, p2) = c
        .get(
            &format!("/api/v1/deposits?limit=1&cursor={cursor}"),
            Some(&alice),
        )
        .await;
    assert_eq!(p2["deposits"][0]["amount"], "100.000000");
    let (_, none) = c.get("/api/v1/deposits", Some(&bob)).await;
    assert_eq!(none["deposits"], json!([]));

    // Request: available → held.
    let (s, w1) = c
        .post(
            "/api/v1/withdrawals",
            Some(&alice),
            withdrawal("USD", "30.25"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w1}");
    assert_eq!(
        (
            w1["status"].as_str(),
            w1["amount"].as_str(),
            w1["username"].as_str()
        ),
        (Some("pending"), Some("30.250000"), Some("alice"))
    );
    assert_eq!(
        balance(&c.balances(&alice).await, "USD"),
        pair("70.250000", "30.250000")
    );
    let (s, w2) = c
        .post("/api/v1/withdrawals", Some(&alice), withdrawal("USD", "20"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w2}");
    assert_eq!(
        balance(&c.balances(&alice).await, "USD"),
        pair("50.250000", "50.250000")
    );

    // Refusals change nothing.
    for (body, status, want) in [
        (
            withdrawal("USD", "50.250001"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INSUFFICIENT_BALANCE",
        ),
        (
            withdrawal("USD", "0"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_AMOUNT",
        ),
        (
            withdrawal("USD", "1.0000001"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_DECIMAL",
        ),
        (
            withdrawal("DOGE", "1"),
            StatusCode::NOT_FOUND,
            "UNKNOWN_ASSET",
        ),
        (
            json!({"asset": "USD", "amount": "1", "address": "has space"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        (
            json!({"asset": "USD", "amount": "1", "address": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        (
            json!({"asset": "USD", "amount": "1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
    ] {
        let (s, v) = c
            .post("/api/v1/withdrawals", Some(&alice), body.clone())
            .await;
        assert_eq!((s, code(&v)), (status, want), "{body}");
    }
    assert_eq!(
        balance(&c.balances(&alice).await, "USD"),
        pair("50.250000", "50.250000")
    );

    // The user's history and the admin's queue (oldest first, with the username).
    let (_, mine) = c.get("/api/v1/withdrawals", Some(&alice)).await;
    let mine = mine["withdrawals"].as_array().unwrap();
    assert_eq!((mine.len(), &mine[0]["id"]), (2, &w2["id"]));
    let (s, q) = c
        .get("/api/v1/admin/withdrawals?status=pending", Some(&admin))
        .await;
    assert_eq!(s, StatusCode::OK, "{q}");
    let q = q["withdrawals"].as_array().unwrap();
    assert_eq!(
        (q.len(), &q[0]["id"], q[0]["username"].as_str()),
        (2, &w1["id"], Some("alice"))
    );

    // Approve: the held funds leave. Reject: they come back.
    let (s, v) = c
        .post(
            &format!("/api/v1/admin/withdrawals/{}/approve", w1["id"]),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("completed")),
        "{v}"
    );
    assert_eq!(
        balance(&c.balances(&alice).await, "USD"),
        pair("50.250000", "20.000000")
    );
    let (s, v) = c
        .post(
            &format!("/api/v1/admin/withdrawals/{}/reject", w2["id"]),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("rejected")),
        "{v}"
    );
    assert_eq!(
        balance(&c.balances(&alice).await, "USD"),
        pair("70.250000", "0.000000")
    );
    let (_, q) = c.get("/api/v1/admin/withdrawals", Some(&admin)).await;
    assert_eq!(q["withdrawals"], json!([]));
    let (_, mine) = c.get("/api/v1/withdrawals", Some(&alice)).await;
    assert_eq!(mine["withdrawals"][0]["status"], "rejected");
    assert_eq!(mine["withdrawals"][1]["status"], "completed");

    for (path, status, want) in [
        (
            format!("/api/v1/admin/withdrawals/{}/approve", w1["id"]),
            StatusCode::CONFLICT,
            "WITHDRAWAL_NOT_PENDING",
        ),
        (
            format!("/api/v1/admin/withdrawals/{}/reject", w2["id"]),
            StatusCode::CONFLICT,
            "WITHDRAWAL_NOT_PENDING",
        ),
        (
            "/api/v1/admin/withdrawals/999/approve".into(),
            StatusCode::NOT_FOUND,
            "UNKNOWN_WITHDRAWAL",
        ),
        (
            "/api/v1/admin/withdrawals/abc/reject".into(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
    ] {
        let (s, v) = c.post(&path, Some(&admin), json!({})).await;
        assert_eq!((s, code(&v)), (status, want), "{path}");
    }
    let (s, v) = c
        .get("/api/v1/admin/withdrawals?status=completed", Some(&admin))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR")
    );

    // Traders and anonymous callers are refused on every admin route.
    let admin_routes = [
        (Method::GET, "/api/v1/admin/withdrawals"),
        (Method::POST, "/api/v1/admin/withdrawals/1/approve"),
        (Method::POST, "/api/v1/admin/withdrawals/1/reject"),
        (Method::POST, "/api/v1/admin/markets/BTC-USD/halt"),
        (Method::POST, "/api/v1/admin/markets/BTC-USD/resume"),
        (Method::GET, "/api/v1/admin/state"),
    ];
    for (method, path) in admin_routes {
        let (s, v) = c.call(method.clone(), path, Some(&alice), None).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "FORBIDDEN"),
            "{path}"
        );
        let (s, v) = c.call(method, path, None, None).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            "{path}"
        );
    }
    let (_, st) = c.get("/api/v1/admin/state", Some(&admin)).await;
    assert_eq!(st["invariants"], "ok");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markets_are_created_halted_and_resumed_at_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;

    // A new market with new assets trades at once.
    let body = json!({"symbol": "SOL-EUR", "base": "SOL", "quote": "EUR", "tick_size": "0.005",
                      "lot_size": "0.1", "min_notional": "5", "maker_fee_bps": 0, "taker_fee_bps": 50});
    let (s, m) = c
        .post("/api/v1/admin/markets", Some(&admin), body.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(
        (
            m["tick_size"].as_str(),
            m["lot_size"].as_str(),
            m["status"].as_str()
        ),
        (Some("0.005"), Some("0.1"), Some("open"))
    );
    assert_eq!(m["taker_fee_bps"], 50);
    // The single fee fields apply to every tier.
    let tier = json!({"maker_bps": 0, "taker_bps": 50});
    assert_eq!(
        m["fees"],
        json!({"standard": tier, "premium": tier, "broker": tier})
    );
    let (s, v) = c.post("/api/v1/admin/markets", Some(&admin), body).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "MARKET_EXISTS"));
    let (_, all) = c.get("/api/v1/markets", None).await;
    assert_eq!(all[0]["symbol"], "SOL-EUR");
    c.deposit(&admin, "alice", "EUR", "100").await;
    c.deposit(&admin, "bob", "SOL", "10").await;
    let order = |side: &str, price: &str| json!({"market": "SOL-EUR", "side": side, "type": "limit", "price": price, "quantity": "2"});
    let (s, sell) = c
        .post("/api/v1/orders", Some(&bob), order("sell", "20.005"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sell}");

    // Halt: new orders and amends are refused, cancels work, the book stays.
    let (s, v) = c
        .post(
            "/api/v1/admin/markets/SOL-EUR/halt",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("halted")),
        "{v}"
    );
    let (_, all) = c.get("/api/v1/markets", None).await;
    assert_eq!(all[0]["status"], "halted");
    let (s, v) = c
        .post("/api/v1/orders", Some(&alice), order("buy", "20.005"))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "MARKET_HALTED"));
    let (s, v) = c
        .call(
            Method::PATCH,
            &format!("/api/v1/orders/{}", sell["id"]),
            Some(&bob),
            Some(&json!({"price": "21"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "MARKET_HALTED"));
    let (s, v) = c
        .post(
            "/api/v1/admin/markets/SOL-EUR/halt",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "MARKET_ALREADY_IN_STATE")
    );
    let (_, book) = c.get("/api/v1/markets/SOL-EUR/book", None).await;
    assert_eq!(book["asks"], json!([["20.005", "2.0"]]));

    // Resume: trading again; fees of the new market are applied.
    let (s, v) = c
        .post(
            "/api/v1/admin/markets/SOL-EUR/resume",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("open")),
        "{v}"
    );
    let (s, v) = c
        .post(
            "/api/v1/admin/markets/SOL-EUR/resume",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "MARKET_ALREADY_IN_STATE")
    );
    let (s, buy) = c
        .post("/api/v1/orders", Some(&alice), order("buy", "20.005"))
        .await;
    assert_eq!(
        (s, buy["status"].as_str()),
        (StatusCode::CREATED, Some("filled")),
        "{buy}"
    );
    // 40.01 EUR + 50 bp = 0.20005 EUR (EUR got 6 decimals by default).
    assert_eq!(buy["fills"][0]["fee"], "0.200050");
    assert_eq!(
        balance(&c.balances(&alice).await, "EUR"),
        pair("59.789950", "0.000000")
    );
    assert_eq!(balance(&c.balances(&bob).await, "EUR").0, "40.010000");

    // Halt works on cancels too: a resting order can still be canceled.
    let (_, rest) = c
        .post("/api/v1/orders", Some(&bob), order("sell", "21"))
        .await;
    c.post(
        "/api/v1/admin/markets/SOL-EUR/halt",
        Some(&admin),
        json!({}),
    )
    .await;
    let (s, v) = c
        .delete(&format!("/api/v1/orders/{}", rest["id"]), Some(&bob))
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("canceled")),
        "{v}"
    );
    let (s, v) = c
        .post(
            "/api/v1/admin/markets/NOPE-USD/halt",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "UNKNOWN_MARKET"));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_users_cannot_trade_or_withdraw_when_kyc_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.kyc_required = true;
    let app = start(config).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    c.deposit(&admin, "alice", "USD", "100").await;
    let (s, v) = c
        .post("/api/v1/withdrawals", Some(&alice), withdrawal("USD", "1"))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "KYC_REQUIRED"));
    let (s, v) = c
        .post(
            "/api/v1/orders",
            Some(&alice),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "10", "quantity": "1"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "KYC_REQUIRED"));
    assert_eq!(
        balance(&c.balances(&alice).await, "USD"),
        pair("100.000000", "0.000000")
    );
    app.shutdown().await;
}
