//! Register, login, logout and their validation; token expiry; a password change revokes
//! earlier tokens (durably, across a restart).

use crate::common::{code, start, Client};
use crate::{config, login, now_ms, register};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_logout_and_validation() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);

    let (s, v) = register(&c, "alice", "password123").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["username"], "alice");
    assert_eq!(v["role"], "trader");
    let (s, v) = register(&c, "alice", "another-password").await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "USERNAME_TAKEN"));

    for (user, pass) in [
        ("al", "password123"),                // too short
        (&"a".repeat(33)[..], "password123"), // too long
        ("al ice", "password123"),            // space
        ("alïce", "password123"),             // non-ASCII
        ("bob", "short"),                     // password too short
        ("bob", &"p".repeat(129)[..]),        // password too long
    ] {
        let (s, v) = register(&c, user, pass).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR"),
            "{user:?} / {} chars",
            pass.len()
        );
    }
    let (s, v) = c
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "bob", "password": "password123", "role": "admin"}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "UNKNOWN_FIELD")
    );
    // Boundary values are accepted.
    let (s, v) = register(&c, "b.o-b_", "12345678").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    let (s, v) = login(&c, "alice", "wrong-password").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
    );
    let (s, v) = login(&c, "nobody", "password123").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
    );

    let (s, v) = login(&c, "alice", "password123").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["expires_at"].as_u64().unwrap() > now_ms());
    let t1 = v["token"].as_str().unwrap().to_owned();
    let t2 = c.login("alice", "password123").await;
    let (s, me) = c.get("/api/v1/auth/me", Some(&t1)).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "alice");
    assert_eq!(me["tier"], "standard");

    let (s, v) = c.get("/api/v1/auth/me", None).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"));
    let (s, v) = c.get("/api/v1/auth/me", Some("not-a-jwt")).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"));

    let (s, v) = c
        .call(Method::POST, "/api/v1/auth/logout", Some(&t1), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = c.get("/api/v1/auth/me", Some(&t1)).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "TOKEN_REVOKED"));
    let (s, _) = c.get("/api/v1/auth/me", Some(&t2)).await;
    assert_eq!(s, StatusCode::OK, "only the logged-out token is revoked");
    // A revoked token still reads public data as anonymous.
    let (s, _) = c.get("/api/v1/markets", Some(&t1)).await;
    assert_eq!(s, StatusCode::OK);

    // The logout survives a restart.
    app.shutdown().await;
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let (s, v) = c.get("/api/v1/auth/me", Some(&t1)).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "TOKEN_REVOKED"));
    let (s, _) = c.get("/api/v1/auth/me", Some(&t2)).await;
    assert_eq!(s, StatusCode::OK);
    app.shutdown().await;
}

/// A token past its `exp` is refused with its own code, `TOKEN_EXPIRED` (the client's cue
/// to log in again), not the `UNAUTHORIZED` of a forged or missing one. The token comes
/// from a real login under a 3 s lifetime; the test waits out `expires_at` (plus the
/// second `exp` is rounded to) instead of guessing a sleep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_with_token_expired() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.token_ttl_secs = 3;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    // Every token lives 3 s here, so each is taken right before its use.
    c.create_btc_usd(&c.admin().await).await;
    let (s, v) = register(&c, "alice", "password123").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    c.deposit(&c.admin().await, "alice", "USD", "1000").await;
    let (s, v) = login(&c, "alice", "password123").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    let expires_at = v["expires_at"].as_u64().unwrap();
    // `exp` is whole seconds after the issue second: 2–3 s from now.
    assert!(
        expires_at > now_ms() && expires_at <= now_ms() + 3_000,
        "{v}"
    );
    let balances = c.balances(&token).await;

    // The token is refused from the first whole second past `exp` on.
    let wait = (expires_at + 1_000).saturating_sub(now_ms());
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
    let order = json!({"market": "BTC-USD", "side": "buy", "type": "limit",
                       "price": "100", "quantity": "1"});
    for (method, path, body) in [
        (Method::GET, "/api/v1/auth/me", None),
        (Method::GET, "/api/v1/balances", None),
        (Method::POST, "/api/v1/orders", Some(&order)),
        (
            Method::POST,
            "/api/v1/api-keys",
            Some(&json!({"label": "bot"})),
        ),
    ] {
        let (s, v) = c.call(method.clone(), path, Some(&token), body).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED"),
            "{method} {path}"
        );
    }
    // A forged token (the expired one with its signature changed) is told apart.
    let (head, sig) = token.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{head}.{flipped}{}", &sig[1..]);
    let (s, v) = c.get("/api/v1/auth/me", Some(&forged)).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"));

    // Nothing was placed with the expired token, and logging in again works.
    let fresh = c.login("alice", "password123").await;
    assert_eq!(c.balances(&fresh).await, balances);
    let (s, v) = c.get("/api/v1/orders", Some(&fresh)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["orders"], json!([]));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_revokes_earlier_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let t1 = c.trader("alice").await;
    let t2 = c.login("alice", "password123").await;
    let bob = c.trader("bob").await;

    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let (s, v) = c
        .post(
            "/api/v1/auth/password",
            Some(&t1),
            change("wrong-password", "new-password-1"),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
    );
    let (s, v) = c
        .post(
            "/api/v1/auth/password",
            Some(&t1),
            change("password123", "short"),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR")
    );
    // Refusals changed nothing.
    let (s, _) = c.get("/api/v1/auth/me", Some(&t2)).await;
    assert_eq!(s, StatusCode::OK);

    let (s, v) = c
        .post(
            "/api/v1/auth/password",
            Some(&t1),
            change("password123", "new-password-1"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let t3 = v["token"].as_str().unwrap().to_owned();
    for old in [&t1, &t2] {
        let (s, v) = c.get("/api/v1/auth/me", Some(old)).await;
        assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "TOKEN_REVOKED"));
    }
    let (s, _) = c.get("/api/v1/auth/me", Some(&t3)).await;
    assert_eq!(s, StatusCode::OK, "the token of the answer works");
    let (s, _) = c.get("/api/v1/auth/me", Some(&bob)).await;
    assert_eq!(s, StatusCode::OK, "other users are not affected");
    let (s, v) = login(&c, "alice", "password123").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
    );
    let t4 = c.login("alice", "new-password-1").await;

    app.shutdown().await;
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let (s, v) = c.get("/api/v1/auth/me", Some(&t1)).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "TOKEN_REVOKED"));
    for t in [&t3, &t4] {
        let (s, _) = c.get("/api/v1/auth/me", Some(t)).await;
        assert_eq!(s, StatusCode::OK);
    }
    app.shutdown().await;
}
