//! The authorization matrix, built from the OpenAPI document so a new route is covered
//! as soon as it is documented:
//! - every operation under `/api/v1/admin/` or `/api/v1/monitoring/` refuses anonymous
//!   callers (401) and traders (403), and documents both;
//! - every authenticated non-admin operation whose path takes an id refuses another
//!   user's id (404 or 403) — reading, cancelling, amending, deleting — and changes
//!   nothing;
//! - no authenticated list shows another user's data.
//!
//! A documented route the router does not serve yet (the fallback's 404) is skipped, so
//! the matrix passes on what exists.

mod common;

use common::{code, start, test_config, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Op {
    method: Method,
    path: String,
    secured: bool,
    responses: Vec<String>,
}

fn operations() -> Vec<Op> {
    let doc = serde_json::to_value(bourse_http::api::document()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            let Ok(method) = m.to_uppercase().parse::<Method>() else {
                continue;
            };
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
                continue;
            }
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let responses = op["responses"]
                .as_object()
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default();
            out.push(Op {
                method,
                path: path.clone(),
                secured,
                responses,
            });
        }
    }
    out
}

fn is_admin(path: &str) -> bool {
    path.starts_with("/api/v1/admin/") || path.starts_with("/api/v1/monitoring/")
}

/// Fills `{param}`s with plausible values.
fn fill(path: &str, value_of: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('{') {
        let j = rest[i..].find('}').unwrap() + i;
        out.push_str(&rest[..i]);
        out.push_str(&value_of(&rest[i + 1..j]));
        rest = &rest[j + 1..];
    }
    out.push_str(rest);
    out
}

fn unserved(status: StatusCode, v: &Value) -> bool {
    (status == StatusCode::NOT_FOUND && v["error"]["message"] == "no such endpoint")
        || status == StatusCode::METHOD_NOT_ALLOWED
}

/// The document's operations plus `known` ones it may not list yet (deduplicated).
fn operations_with(known: &[(Method, &str)]) -> Vec<Op> {
    let mut ops = operations();
    for (m, p) in known {
        if !ops.iter().any(|o| o.method == *m && o.path == *p) {
            ops.push(Op {
                method: m.clone(),
                path: (*p).into(),
                secured: true,
                responses: vec![],
            });
        }
    }
    ops
}

async fn call(
    c: &Client,
    op: &Op,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let body = body.or(match op.method.as_str() {
        "POST" | "PUT" | "PATCH" => Some(&Value::Null),
        _ => None,
    });
    let empty = json!({});
    let body = body.map(|b| if b.is_null() { &empty } else { b });
    c.call(op.method.clone(), path, token, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_refuse_anonymous_and_traders() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.limits.enabled = false;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let trader = c.trader("alice").await;

    // Routes that existed before the document listed them.
    let ops = operations_with(&[
        (Method::POST, "/api/v1/admin/deposits"),
        (Method::POST, "/api/v1/admin/markets"),
        (Method::GET, "/api/v1/admin/state"),
        (Method::GET, "/api/v1/admin/users"),
    ]);
    let (before_status, before) = c.get("/api/v1/admin/state", Some(&admin)).await;
    assert_eq!(before_status, StatusCode::OK);
    let mut checked = 0;
    for op in ops.iter().filter(|o| is_admin(&o.path)) {
        let path = fill(&op.path, |p| match p {
            "symbol" => "BTC-USD".into(),
            "username" => "alice".into(),
            _ => "1".into(),
        });
        let (s, v) = call(&c, op, &path, None, None).await;
        if unserved(s, &v) {
            eprintln!("skipped (not served yet): {} {}", op.method, op.path);
            continue;
        }
        assert_eq!(
            (s, code(&v)),
            (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            "anonymous {} {path}: {v}",
            op.method
        );
        let (s, v) = call(&c, op, &path, Some(&trader), None).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "FORBIDDEN"),
            "trader {} {path}: {v}",
            op.method
        );
        if !op.responses.is_empty() {
            assert!(op.secured, "{} {} declares no security", op.method, op.path);
            for status in ["401", "403"] {
                assert!(
                    op.responses.iter().any(|r| r == status),
                    "{} {} does not document {status}",
                    op.method,
                    op.path
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} admin operations checked");
    // Nothing the refused calls tried happened.
    let (_, after) = c.get("/api/v1/admin/state", Some(&admin)).await;
    assert_eq!(
        before["state_hash"], after["state_hash"],
        "refused calls changed state"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_ids_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.limits.enabled = false;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "alice", "USD", "1000").await;
    c.deposit(&admin, "bob", "USD", "1000").await;

    // Alice's things, each with a marker Bob must never see.
    let (s, order) = c
        .post(
            "/api/v1/orders",
            Some(&alice),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "50",
                   "quantity": "1", "client_order_id": "alice-private-order"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let order_id = order["id"].as_u64().unwrap().to_string();
    let (s, key) = c
        .post(
            "/api/v1/api-keys",
            Some(&alice),
            json!({"label": "alice-private-key"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let key_id = key["key"].as_str().unwrap().to_owned();
    let (s, w) = c
        .post(
            "/api/v1/withdrawals",
            Some(&alice),
            json!({"asset": "USD", "amount": "10", "address": "alice-private-address"}),
        )
        .await;
    let withdrawal = s.is_success().then(|| w["id"].to_string());
    let (s, alert) = c
        .post(
            "/api/v1/price-alerts",
            Some(&alice),
            json!({"market": "BTC-USD", "condition": "above", "price": "1000"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{alert}");
    let alert_id = alert["id"].to_string();
    // Alice's order_accepted notification: the notification service stores it shortly
    // after the order's reply.
    let mut notification_id = None;
    for _ in 0..100 {
        let (_, inbox) = c.get("/api/v1/notifications", Some(&alice)).await;
        if let Some(n) = inbox["notifications"].as_array().and_then(|a| a.first()) {
            notification_id = Some(n["id"].to_string());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let notification_id = notification_id.expect("alice has a notification");
    // Bob has an order too, so "refused" is not just "Bob has nothing".
    let (s, _) = c
        .post(
            "/api/v1/orders",
            Some(&bob),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "40", "quantity": "1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let ops = operations_with(&[
        (Method::GET, "/api/v1/orders/{id}"),
        (Method::DELETE, "/api/v1/orders/{id}"),
        (Method::PATCH, "/api/v1/orders/{id}"),
        (Method::DELETE, "/api/v1/api-keys/{key}"),
        (Method::GET, "/api/v1/orders"),
        (Method::GET, "/api/v1/api-keys"),
    ]);
    let mut checked = 0;
    for op in ops
        .iter()
        .filter(|o| o.secured && !is_admin(&o.path) && o.path.contains('{'))
    {
        let resource = |_: &str| -> String {
            if op.path.starts_with("/api/v1/orders/") {
                order_id.clone()
            } else if op.path.starts_with("/api/v1/api-keys/") {
                key_id.clone()
            } else if op.path.starts_with("/api/v1/withdrawals/") {
                withdrawal.clone().unwrap_or_else(|| "1".into())
            } else if op.path.starts_with("/api/v1/price-alerts/") {
                alert_id.clone()
            } else if op.path.starts_with("/api/v1/notifications/") {
                notification_id.clone()
            } else {
                panic!(
                    "authz matrix: {} {} takes an id this test cannot create for another \
                     user; teach `resource` how",
                    op.method, op.path
                )
            }
        };
        let path = fill(&op.path, resource);
        let body = (op.method == Method::PATCH).then(|| json!({"price": "51", "quantity": "2"}));
        let (s, v) = call(&c, op, &path, Some(&bob), body.as_ref()).await;
        if unserved(s, &v) {
            eprintln!("skipped (not served yet): {} {}", op.method, op.path);
            continue;
        }
        assert!(
            s == StatusCode::NOT_FOUND || s == StatusCode::FORBIDDEN,
            "bob {} {path} (alice's): {s} {v}",
            op.method
        );
        code(&v);
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} id operations checked");

    // Alice's things are untouched, and she can still reach them.
    let (s, o) = c
        .get(&format!("/api/v1/orders/{order_id}"), Some(&alice))
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["status"], "open");
    assert_eq!(o["price"], "50.00");
    assert_eq!(o["remaining_quantity"], "1.0000");
    let (_, keys) = c.get("/api/v1/api-keys", Some(&alice)).await;
    assert_eq!(keys.as_array().unwrap().len(), 1, "{keys}");

    // No list Bob can read shows Alice's markers; Alice sees hers somewhere.
    let markers = [
        "alice-private-order",
        "alice-private-key",
        "alice-private-address",
    ];
    let mut alice_saw = Vec::new();
    for op in ops.iter().filter(|o| {
        o.secured && o.method == Method::GET && !is_admin(&o.path) && !o.path.contains('{')
    }) {
        let (s, v) = c.get(&op.path, Some(&bob)).await;
        if unserved(s, &v) || op.path == "/api/v1/auth/logout" {
            continue;
        }
        assert_eq!(s, StatusCode::OK, "bob GET {}: {v}", op.path);
        for m in markers {
            assert!(
                !v.to_string().contains(m),
                "bob GET {} shows {m}: {v}",
                op.path
            );
        }
        let (_, mine) = c.get(&op.path, Some(&alice)).await;
        alice_saw.extend(markers.iter().filter(|m| mine.to_string().contains(**m)));
    }
    assert!(
        alice_saw.contains(&&"alice-private-order"),
        "no list shows alice her order"
    );
    assert!(
        alice_saw.contains(&&"alice-private-key"),
        "no list shows alice her key"
    );
    app.shutdown().await;
}
