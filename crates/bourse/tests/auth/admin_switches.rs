//! The admin's user switches: role, tier, KYC, kill switch.

use crate::common::{code, start, Client};
use crate::config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sets_role_tier_kyc_and_kill_switch() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.kyc_required = true;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    for name in ["bob", "carol", "dave"] {
        c.trader(name).await;
    }
    c.deposit(&admin, "alice", "USD", "1000").await;
    let order = json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "50", "quantity": "1"});
    let patch = |body: Value| {
        let c = c.clone();
        let admin = admin.clone();
        async move {
            c.call(
                Method::PATCH,
                "/api/v1/admin/users/alice",
                Some(&admin),
                Some(&body),
            )
            .await
        }
    };

    // Users list with a cursor.
    let (s, page) = c.get("/api/v1/admin/users?limit=2", Some(&admin)).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["users"][0]["username"], "admin");
    assert_eq!(page["users"][1]["username"], "alice");
    let after = page["next_after"].as_u64().unwrap();
    let (_, page) = c
        .get(
            &format!("/api/v1/admin/users?limit=2&after={after}"),
            Some(&admin),
        )
        .await;
    assert_eq!(page["users"][0]["username"], "bob");
    let (_, last) = c
        .get(
            &format!("/api/v1/admin/users?limit=10&after={after}"),
            Some(&admin),
        )
        .await;
    assert_eq!(last["users"].as_array().unwrap().len(), 3);
    assert_eq!(last["next_after"], Value::Null);
    let (s, v) = c.get("/api/v1/admin/users?limit=0", Some(&admin)).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR")
    );
    let (s, v) = c.get("/api/v1/admin/users/nobody", Some(&admin)).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "UNKNOWN_USER"));

    // KYC: refused until verified.
    let (s, v) = c.post("/api/v1/orders", Some(&alice), order.clone()).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "KYC_REQUIRED"));
    let (s, v) = patch(json!({"kyc_verified": true})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["user"]["kyc_verified"], true);
    let (s, v) = c.post("/api/v1/orders", Some(&alice), order.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_u64().unwrap();

    // Kill switch: cancels the open order and blocks new ones until turned off.
    let (s, v) = patch(json!({"kill_switch": true})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["canceled_orders"], 1);
    let (_, o) = c.get(&format!("/api/v1/orders/{id}"), Some(&alice)).await;
    assert_eq!(o["status"], "canceled", "{o}");
    let (s, v) = c.post("/api/v1/orders", Some(&alice), order.clone()).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "KILL_SWITCH_ACTIVE"));
    let (s, _) = patch(json!({"kill_switch": false})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c.post("/api/v1/orders", Some(&alice), order.clone()).await;
    assert_eq!(s, StatusCode::CREATED);

    // Role: effective on the next request with the token she already has.
    let (s, v) = c.get("/api/v1/admin/users", Some(&alice)).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let (s, v) = patch(json!({"role": "admin", "tier": "broker"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["user"]["role"].as_str(), v["user"]["tier"].as_str()),
        (Some("admin"), Some("broker"))
    );
    let (s, _) = c.get("/api/v1/admin/users", Some(&alice)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = patch(json!({"role": "trader"})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = c.get("/api/v1/admin/users", Some(&alice)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Refusals.
    let (s, v) = patch(json!({})).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR")
    );
    let (s, v) = patch(json!({"role": "emperor"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = patch(json!({"password": "x"})).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "UNKNOWN_FIELD")
    );
    let (s, v) = c
        .call(
            Method::PATCH,
            "/api/v1/admin/users/admin",
            Some(&admin),
            Some(&json!({"role": "trader"})),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR")
    );
    let (s, v) = c
        .call(
            Method::PATCH,
            "/api/v1/admin/users/nobody",
            Some(&admin),
            Some(&json!({"tier": "premium"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "UNKNOWN_USER"));
    app.shutdown().await;
}
