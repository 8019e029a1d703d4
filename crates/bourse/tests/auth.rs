//! Accounts and auth against the app on port 0: register / login / logout / password
//! change (with restarts: revocation is durable), API keys and signed requests, rate
//! limits, and the admin user switches (role, tier, KYC, kill switch).

mod common;

use bourse::Config;
use bourse_gateway::auth::api_key::{sign, signing_payload};
use common::{code, start, test_config, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;

fn config(dir: &Path) -> Config {
    let mut c = test_config(dir, None);
    c.limits.enabled = false;
    c
}

fn now_ms() -> u64 {
    bourse_engine::sequencer::now_ms()
}

async fn register(c: &Client, username: &str, password: &str) -> (StatusCode, Value) {
    c.post(
        "/api/v1/auth/register",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}

async fn login(c: &Client, username: &str, password: &str) -> (StatusCode, Value) {
    c.post(
        "/api/v1/auth/login",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}

/// A signed request, sent as built (so a test can send the very same bytes twice).
struct Signed {
    method: Method,
    path: String,
    body: Vec<u8>,
    key: String,
    timestamp: String,
    signature: String,
}

impl Signed {
    fn new(
        method: Method,
        path: &str,
        body: Option<&Value>,
        key: &str,
        secret: &str,
        ts: u64,
    ) -> Self {
        let body = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        let timestamp = ts.to_string();
        let signature = sign(
            secret,
            &signing_payload(&timestamp, method.as_str(), path, &body),
        );
        Signed {
            method,
            path: path.into(),
            body,
            key: key.into(),
            timestamp,
            signature,
        }
    }

    async fn send(&self, c: &Client) -> (StatusCode, Value) {
        let mut req = c
            .http
            .request(self.method.clone(), format!("{}{}", c.base, self.path))
            .header("X-API-KEY", &self.key)
            .header("X-API-TIMESTAMP", &self.timestamp)
            .header("X-API-SIGNATURE", &self.signature);
        if !self.body.is_empty() {
            req = req
                .header("content-type", "application/json")
                .body(self.body.clone());
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

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

/// Every byte under `dir`, file by file.
fn files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p.display().to_string(), b));
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_and_signed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "alice", "USD", "1000").await;

    let (s, created) = c
        .post("/api/v1/api-keys", Some(&alice), json!({"label": "bot"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64);
    for label in ["", &"x".repeat(65)[..], "tab\there"] {
        let (s, v) = c
            .post("/api/v1/api-keys", Some(&alice), json!({ "label": label }))
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR")
        );
    }

    let (s, list) = c.get("/api/v1/api-keys", Some(&alice)).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["key"], key.as_str());
    assert_eq!(list[0]["label"], "bot");
    assert!(
        !list.to_string().contains(&secret),
        "the list never shows the secret"
    );
    let (_, other) = c.get("/api/v1/api-keys", Some(&bob)).await;
    assert_eq!(other, json!([]));

    // At rest: the read model holds a sealed value that is not the secret, and no file of
    // the data dir (journal, snapshots, database) contains the secret.
    let row = app.state.store.api_key(&key).await.unwrap().unwrap();
    assert_ne!(row.secret_enc, secret);
    assert!(!row.secret_enc.contains(&secret));
    assert_eq!(
        app.state
            .auth
            .secrets
            .open(&key, &row.secret_enc)
            .as_deref(),
        Some(secret.as_str())
    );
    let mut all = Vec::new();
    files(dir.path(), &mut all);
    assert!(
        all.iter().any(|(_, b)| contains(b, &key)),
        "the key is journaled"
    );
    for (path, bytes) in &all {
        assert!(!contains(bytes, &secret), "{path} contains the API secret");
    }

    // Signed GET and signed POST with a body.
    let (s, me) = Signed::new(
        Method::GET,
        "/api/v1/auth/me",
        None,
        &key,
        &secret,
        now_ms(),
    )
    .send(&c)
    .await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "alice");
    let order = json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "50",
                       "quantity": "1", "client_order_id": "signed-1"});
    let (s, placed) = Signed::new(
        Method::POST,
        "/api/v1/orders",
        Some(&order),
        &key,
        &secret,
        now_ms(),
    )
    .send(&c)
    .await;
    assert_eq!(s, StatusCode::CREATED, "{placed}");
    assert_eq!(placed["status"], "open");
    let (s, listed) = Signed::new(
        Method::GET,
        "/api/v1/orders?status=open&market=BTC-USD",
        None,
        &key,
        &secret,
        now_ms(),
    )
    .send(&c)
    .await;
    assert_eq!(s, StatusCode::OK, "{listed}");
    assert!(listed.to_string().contains("signed-1"), "{listed}");

    // Wrong signature: another secret, or a body other than the one signed.
    let (s, v) = Signed::new(
        Method::GET,
        "/api/v1/auth/me",
        None,
        &key,
        &"0".repeat(64),
        now_ms(),
    )
    .send(&c)
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNAUTHORIZED, "INVALID_SIGNATURE")
    );
    let mut tampered = Signed::new(
        Method::POST,
        "/api/v1/orders",
        Some(&order),
        &key,
        &secret,
        now_ms(),
    );
    tampered.body =
        serde_json::to_vec(&json!({"market": "BTC-USD", "side": "buy", "type": "limit",
        "price": "50", "quantity": "2"}))
        .unwrap();
    let (s, v) = tampered.send(&c).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNAUTHORIZED, "INVALID_SIGNATURE")
    );
    let mut garbage = Signed::new(
        Method::GET,
        "/api/v1/auth/me",
        None,
        &key,
        &secret,
        now_ms(),
    );
    garbage.signature = "not hex".into();
    let (s, v) = garbage.send(&c).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNAUTHORIZED, "INVALID_SIGNATURE")
    );

    // Stale timestamps, both directions (window 5 s); just inside is fine.
    for ts in [now_ms() - 6_000, now_ms() + 6_000] {
        let (s, v) = Signed::new(Method::GET, "/api/v1/auth/me", None, &key, &secret, ts)
            .send(&c)
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::UNAUTHORIZED, "TIMESTAMP_OUT_OF_WINDOW")
        );
    }
    let (s, _) = Signed::new(
        Method::GET,
        "/api/v1/auth/me",
        None,
        &key,
        &secret,
        now_ms() - 3_000,
    )
    .send(&c)
    .await;
    assert_eq!(s, StatusCode::OK);

    // Replay: the same signed request twice. The replayed POST places nothing.
    let again = json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "51",
                       "quantity": "1"});
    let req = Signed::new(
        Method::POST,
        "/api/v1/orders",
        Some(&again),
        &key,
        &secret,
        now_ms(),
    );
    let (s, _) = req.send(&c).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = req.send(&c).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNAUTHORIZED, "SIGNATURE_REPLAYED")
    );
    let (_, open) = c.get("/api/v1/orders?status=open", Some(&alice)).await;
    assert_eq!(open.to_string().matches("\"51.00\"").count(), 1, "{open}");

    // Credentials cannot be managed with an API key.
    let (s, v) = Signed::new(
        Method::POST,
        "/api/v1/api-keys",
        Some(&json!({"label": "x"})),
        &key,
        &secret,
        now_ms(),
    )
    .send(&c)
    .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let (s, v) = Signed::new(
        Method::DELETE,
        &format!("/api/v1/api-keys/{key}"),
        None,
        &key,
        &secret,
        now_ms(),
    )
    .send(&c)
    .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "FORBIDDEN"));

    // Malformed and unknown keys.
    for bad in ["nonsense", "bk_2_00000000000000000000000000000000"] {
        let (s, v) = Signed::new(Method::GET, "/api/v1/auth/me", None, bad, &secret, now_ms())
            .send(&c)
            .await;
        assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "INVALID_API_KEY"));
    }

    // Bob cannot delete Alice's key; Alice can, and it is refused from then on.
    let (s, v) = c
        .delete(&format!("/api/v1/api-keys/{key}"), Some(&bob))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "UNKNOWN_API_KEY"));
    let (s, v) = c
        .delete(&format!("/api/v1/api-keys/{key}"), Some(&alice))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = Signed::new(
        Method::GET,
        "/api/v1/auth/me",
        None,
        &key,
        &secret,
        now_ms(),
    )
    .send(&c)
    .await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "INVALID_API_KEY"));
    let (s, v) = c
        .delete(&format!("/api/v1/api-keys/{key}"), Some(&alice))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "UNKNOWN_API_KEY"));
    let (_, list) = c.get("/api/v1/api-keys", Some(&alice)).await;
    assert_eq!(list, json!([]));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_and_follow_the_tier() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    // Slow refill so the test is not timing-sensitive; admin quota generous.
    cfg.limits.standard = bourse_gateway::limits::Quota::new(1, 3);
    cfg.limits.premium = bourse_gateway::limits::Quota::new(100, 200);
    cfg.limits.anonymous = bourse_gateway::limits::Quota::new(1, 3);
    cfg.limits.auth = bourse_gateway::limits::Quota::new(1, 6);
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await; // auth bucket: 1
    let alice = c.trader("alice").await; // 3

    for _ in 0..3 {
        let (s, v) = c.get("/api/v1/auth/me", Some(&alice)).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let res = c
        .http
        .get(format!("{}/api/v1/auth/me", c.base))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let v: Value = res.json().await.unwrap();
    assert_eq!(code(&v), "RATE_LIMITED");

    // Other callers have their own budget; operations are never limited.
    let (s, _) = c.get("/api/v1/admin/users", Some(&admin)).await;
    assert_eq!(s, StatusCode::OK);
    for _ in 0..10 {
        let (s, _) = c.get("/health", None).await;
        assert_eq!(s, StatusCode::OK);
    }

    // Premium: the next request passes at once.
    let (s, v) = c
        .call(
            Method::PATCH,
            "/api/v1/admin/users/alice",
            Some(&admin),
            Some(&json!({"tier": "premium"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for _ in 0..20 {
        let (s, v) = c.get("/api/v1/auth/me", Some(&alice)).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    // Anonymous callers, per IP.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(c.get("/api/v1/markets", None).await.0);
    }
    assert_eq!(&statuses[..3], [StatusCode::OK; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);

    // Login guessing, per IP: wrong passwords are answered 401 until the stricter
    // `auth` budget (burst 6, 3 of it spent above) runs out.
    let mut statuses = Vec::new();
    while statuses.len() < 15 {
        let s = login(&c, "alice", "wrong-password").await.0;
        statuses.push(s);
        if s != StatusCode::UNAUTHORIZED {
            break;
        }
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(statuses.len() >= 3, "{statuses:?}");
    app.shutdown().await;
}

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
