//! Guard rails of authentication, against the real server on port 0: login back-off per
//! account and per IP that no token bypasses, the login route always charged to the
//! per-IP `auth` quota, the bounded password-hashing pool (503 `BUSY`), API-key
//! permissions and IP allow-lists on REST and WebSocket (durable across a restart), admin
//! routes and API keys, and the password rules in the OpenAPI document.

mod common;

use bourse::Config;
use bourse_gateway::auth::api_key::{sign, signing_payload};
use bourse_gateway::limits::Quota;
use common::{code, start, test_config, Client};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "password123";

/// Limits off (each test turns on what it checks), a short back-off.
fn config(dir: &Path) -> Config {
    let mut c = test_config(dir, None);
    c.limits.enabled = false;
    c.auth.login_backoff_base_ms = 300;
    c.auth.login_backoff_max_ms = 5_000;
    c
}

async fn login_with(
    c: &Client,
    token: Option<&str>,
    username: &str,
    password: &str,
) -> (StatusCode, Option<u64>, Value) {
    let mut req = c
        .http
        .post(format!("{}/api/v1/auth/login", c.base))
        .json(&json!({"username": username, "password": password}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let v = res.json().await.unwrap_or(Value::Null);
    (status, retry, v)
}

/// Wrong guesses with `token` until the first 429: its attempt number and answer.
async fn guess_until_throttled(
    c: &Client,
    token: &str,
    username: &str,
) -> (usize, Option<u64>, Value) {
    for i in 1..=60 {
        let (s, retry, v) = login_with(c, Some(token), username, &format!("guess-{i}")).await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            return (i, retry, v);
        }
        assert_eq!(s, StatusCode::UNAUTHORIZED, "guess {i}: {v}");
        assert_eq!(code(&v), "INVALID_CREDENTIALS");
    }
    panic!("60 guesses at {username} and no 429");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_back_off_per_account_with_a_token_in_hand() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // The rate limiter on, but roomy: what stops the guesses is the back-off.
    cfg.limits.enabled = true;
    cfg.limits.auth = Quota::new(1000, 1000);
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let token = c.trader("alice").await;

    let (n, retry, v) = guess_until_throttled(&c, &token, "alice").await;
    assert_eq!(code(&v), "LOGIN_THROTTLED", "{v}");
    assert_eq!(n, 5, "3 free failures, the 4th locks the account");
    assert_eq!(retry, Some(1), "Retry-After in whole seconds, rounded up");
    // Locked: even the right password is refused, without a password check.
    let (s, _, v) = login_with(&c, Some(&token), "alice", PASSWORD).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "LOGIN_THROTTLED")
    );

    // An unknown username is throttled the same way, with the same answers.
    let (n2, retry2, v2) = guess_until_throttled(&c, &token, "nobody-at-all").await;
    assert_eq!((n2, retry2), (n, retry));
    // The same body but for the request id each answer carries.
    let without_id = |mut v: serde_json::Value| {
        v["error"]["request_id"].take();
        v
    };
    assert_eq!(
        without_id(v2),
        without_id(v),
        "the same body: the username's existence is not revealed"
    );

    // After the back-off the right password works and resets the count: three wrong
    // guesses in a row are free again.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (s, _, v) = login_with(&c, Some(&token), "alice", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (n, _, v) = guess_until_throttled(&c, &token, "alice").await;
    assert_eq!((n, code(&v)), (5, "LOGIN_THROTTLED"), "counted from zero");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_back_off_per_ip_across_usernames() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.auth.login_free_failures = 1000;
    cfg.auth.login_ip_free_failures = 5;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let token = c.trader("alice").await;
    // The successful logins above do not count against the address.
    for i in 1..=6 {
        let (s, _, v) = login_with(&c, Some(&token), &format!("user{i}"), "guess").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "spray {i}: {v}");
    }
    let (s, retry, v) = login_with(&c, Some(&token), "user7", "guess").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "LOGIN_THROTTLED")
    );
    assert!(retry.is_some());
    // The address is locked for every account, the right password included.
    let (s, _, _) = login_with(&c, None, "alice", PASSWORD).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (s, _, v) = login_with(&c, None, "alice", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "after the back-off: {v}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_route_is_charged_to_the_auth_quota_whoever_calls() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.enabled = true;
    cfg.limits.auth = Quota::new(1, 3);
    cfg.auth.login_free_failures = 1000;
    cfg.auth.login_ip_free_failures = 1000;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    // Register and log in (2 of the 3), then wait for the quota to refill.
    let token = c.trader("alice").await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let mut answers = Vec::new();
    for _ in 0..5 {
        let (s, retry, v) = login_with(&c, Some(&token), "alice", "wrong-password").await;
        answers.push((s, retry, code(&v).to_owned()));
    }
    assert!(
        answers[..3].iter().all(|a| a.0 == StatusCode::UNAUTHORIZED),
        "{answers:?}"
    );
    let (s, retry, code) = &answers[3];
    assert_eq!(
        (*s, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
        "the bearer token does not lift the per-IP login quota: {answers:?}"
    );
    assert!(retry.is_some());
    // Other routes still use the caller's own quota.
    let (s, _) = c.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(s, StatusCode::OK);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashing_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.auth.hash_concurrency = 1;
    cfg.auth.hash_wait_ms = 30;
    cfg.auth.login_free_failures = 1000;
    cfg.auth.login_ip_free_failures = 1000;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    c.trader("alice").await;
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { login_with(&c, None, "alice", PASSWORD).await })
        })
        .collect();
    let (mut ok, mut busy) = (0, 0);
    for t in tasks {
        let (s, retry, v) = t.await.unwrap();
        match s {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(code(&v), "BUSY", "{v}");
                assert_eq!(retry, Some(1), "503 BUSY carries Retry-After");
                busy += 1;
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert!(ok >= 1 && busy >= 1, "ok {ok}, busy {busy}");
    // Once the burst is over, logins work again.
    c.login("alice", PASSWORD).await;
    app.shutdown().await;
}

/// A signed request (body signed as sent).
async fn signed(
    c: &Client,
    key: &Value,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let body = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    let ts = bourse_engine::sequencer::now_ms().to_string();
    let secret = key["secret"].as_str().unwrap();
    let sig = sign(secret, &signing_payload(&ts, method.as_str(), path, &body));
    let mut req = c
        .http
        .request(method, format!("{}{path}", c.base))
        .header("X-API-KEY", key["key"].as_str().unwrap())
        .header("X-API-TIMESTAMP", ts)
        .header("X-API-SIGNATURE", sig);
    if !body.is_empty() {
        req = req.header("content-type", "application/json").body(body);
    }
    let res = req.send().await.unwrap();
    let s = res.status();
    (s, res.json().await.unwrap_or(Value::Null))
}

async fn new_key(c: &Client, token: &str, body: Value) -> Value {
    let (s, k) = c.post("/api/v1/api-keys", Some(token), body).await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    k
}

fn order() -> Value {
    json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "100", "quantity": "0.01"})
}

fn withdrawal() -> Value {
    json!({"asset": "USD", "amount": "5", "address": "bank-account-1"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_permissions_and_allow_lists() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    c.deposit(&admin, "alice", "USD", "1000").await;

    // Default: read + trade, any address.
    let default = new_key(&c, &alice, json!({"label": "default"})).await;
    assert_eq!(default["permissions"], json!(["read", "trade"]));
    assert_eq!(default["allow_ips"], json!([]));
    let read = new_key(&c, &alice, json!({"label": "r", "permissions": ["read"]})).await;
    let trade = new_key(&c, &alice, json!({"label": "t", "permissions": ["trade"]})).await;
    let payout = new_key(
        &c,
        &alice,
        json!({"label": "w", "permissions": ["read", "withdraw"], "allow_ips": ["127.0.0.1", "::1"]}),
    )
    .await;
    assert_eq!(payout["allow_ips"], json!(["127.0.0.1", "::1"]));
    let elsewhere = new_key(
        &c,
        &alice,
        json!({"label": "far", "allow_ips": ["10.0.0.0/8"]}),
    )
    .await;

    // Without `trade`: no order entry (place, cancel, amend, cancel-all), nothing placed.
    for (m, path, body) in [
        (Method::POST, "/api/v1/orders", Some(order())),
        (Method::DELETE, "/api/v1/orders/1", None),
        (
            Method::PATCH,
            "/api/v1/orders/1",
            Some(json!({"price": "101"})),
        ),
        (Method::DELETE, "/api/v1/orders", None),
    ] {
        let (s, v) = signed(&c, &read, m.clone(), path, body).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
            "{m} {path}: {v}"
        );
    }
    let (s, v) = signed(&c, &read, Method::GET, "/api/v1/orders", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["orders"],
        json!([]),
        "the refused order was not placed: {v}"
    );

    // Without `read`: no private reads; order entry works.
    let (s, v) = signed(&c, &trade, Method::GET, "/api/v1/balances", None).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        "{v}"
    );
    let (s, v) = signed(&c, &trade, Method::POST, "/api/v1/orders", Some(order())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_u64().unwrap();
    let (s, v) = signed(
        &c,
        &default,
        Method::DELETE,
        &format!("/api/v1/orders/{id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Without `withdraw`: refused, nothing held.
    let before = c.balances(&alice).await;
    let (s, v) = signed(
        &c,
        &default,
        Method::POST,
        "/api/v1/withdrawals",
        Some(withdrawal()),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        "{v}"
    );
    assert_eq!(c.balances(&alice).await, before);
    let (s, v) = signed(
        &c,
        &payout,
        Method::POST,
        "/api/v1/withdrawals",
        Some(withdrawal()),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "withdraw + allow-listed 127.0.0.1: {v}"
    );

    // Not on the allow-list: refused whatever the route, public ones included.
    for path in ["/api/v1/balances", "/api/v1/markets"] {
        let (s, v) = signed(&c, &elsewhere, Method::GET, path, None).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "IP_NOT_ALLOWED"),
            "{path}: {v}"
        );
    }

    // Bad scopes are refused and create nothing.
    let (_, listed) = c.get("/api/v1/api-keys", Some(&alice)).await;
    let count = listed.as_array().unwrap().len();
    for (body, status) in [
        (
            json!({"label": "x", "permissions": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"label": "x", "permissions": ["root"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"label": "x", "allow_ips": ["10.0.0.1/8"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"label": "x", "allow_ips": ["not an ip"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"label": "x", "allow_ips": vec!["10.0.0.1"; 33]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"label": "x", "permissions": ["admin"], "allow_ips": ["127.0.0.1"]}),
            StatusCode::FORBIDDEN,
        ),
    ] {
        let (s, v) = c.post("/api/v1/api-keys", Some(&alice), body.clone()).await;
        assert_eq!(s, status, "{body}: {v}");
        code(&v);
    }
    // The listing shows each key's scope.
    let (s, listed) = c.get("/api/v1/api-keys", Some(&alice)).await;
    assert_eq!(s, StatusCode::OK);
    let listed = listed.as_array().unwrap();
    assert_eq!(
        listed.len(),
        count,
        "no key was created by a refused request"
    );
    let of = |label: &str| {
        listed
            .iter()
            .find(|k| k["label"] == label)
            .cloned()
            .unwrap()
    };
    assert_eq!(of("r")["permissions"], json!(["read"]));
    assert_eq!(of("w")["permissions"], json!(["read", "withdraw"]));
    assert_eq!(of("w")["allow_ips"], json!(["127.0.0.1", "::1"]));
    assert_eq!(of("far")["allow_ips"], json!(["10.0.0.0/8"]));

    // Durable: after a restart the same keys have the same scope.
    app.shutdown().await;
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let (s, v) = signed(&c, &read, Method::POST, "/api/v1/orders", Some(order())).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        "{v}"
    );
    let (s, v) = signed(&c, &elsewhere, Method::GET, "/api/v1/balances", None).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "IP_NOT_ALLOWED"),
        "{v}"
    );
    let (s, v) = signed(&c, &read, Method::GET, "/api/v1/balances", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_need_an_admin_key_with_an_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    let plain = new_key(&c, &admin, json!({"label": "plain"})).await;
    let (s, v) = signed(&c, &plain, Method::GET, "/api/v1/admin/users", None).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        "{v}"
    );
    // `admin` needs an allow-list.
    let (s, v) = c
        .post(
            "/api/v1/api-keys",
            Some(&admin),
            json!({"label": "a", "permissions": ["admin"]}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR"),
        "{v}"
    );
    let ops = new_key(
        &c,
        &admin,
        json!({"label": "ops", "permissions": ["read", "admin"], "allow_ips": ["127.0.0.0/8"]}),
    )
    .await;
    let (s, v) = signed(&c, &ops, Method::GET, "/api/v1/admin/users", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let far = new_key(
        &c,
        &admin,
        json!({"label": "far", "permissions": ["admin"], "allow_ips": ["192.0.2.0/24"]}),
    )
    .await;
    let (s, v) = signed(&c, &far, Method::GET, "/api/v1/admin/users", None).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "IP_NOT_ALLOWED"),
        "{v}"
    );
    app.shutdown().await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_answer(ws: &mut Ws, req: Value) -> Value {
    ws.send(Message::Text(req.to_string().into()))
        .await
        .unwrap();
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame in time")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

async fn ws_key_auth(addr: std::net::SocketAddr, key: &Value) -> (Ws, Value) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let ts = bourse_engine::sequencer::now_ms();
    let sig = sign(
        key["secret"].as_str().unwrap(),
        &signing_payload(&ts.to_string(), "GET", "/ws", b""),
    );
    let v = ws_answer(
        &mut ws,
        json!({"op": "auth", "key": key["key"], "timestamp": ts, "signature": sig}),
    )
    .await;
    (ws, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_private_channels_need_read_and_the_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let alice = c.trader("alice").await;
    let trade = new_key(&c, &alice, json!({"label": "t", "permissions": ["trade"]})).await;
    let read = new_key(&c, &alice, json!({"label": "r", "permissions": ["read"]})).await;
    let far = new_key(
        &c,
        &alice,
        json!({"label": "f", "allow_ips": ["10.0.0.0/8"]}),
    )
    .await;

    let (mut ws, v) = ws_key_auth(app.addr, &trade).await;
    assert_eq!(v["type"], "authenticated", "{v}");
    let v = ws_answer(
        &mut ws,
        json!({"op": "subscribe", "channels": ["balances"]}),
    )
    .await;
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["code"], "PERMISSION_DENIED", "{v}");

    let (mut ws, v) = ws_key_auth(app.addr, &read).await;
    assert_eq!(v["type"], "authenticated", "{v}");
    let v = ws_answer(
        &mut ws,
        json!({"op": "subscribe", "channels": ["balances"]}),
    )
    .await;
    assert_ne!(v["type"], "error", "{v}");

    let (_ws, v) = ws_key_auth(app.addr, &far).await;
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["code"], "IP_NOT_ALLOWED", "{v}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_password_rules_and_key_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let (s, doc) = c.get("/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let creds = schema("Credentials")["properties"].clone();
    assert_eq!(creds["password"]["minLength"], 8);
    assert_eq!(creds["password"]["maxLength"], 128);
    assert_eq!(creds["username"]["minLength"], 3);
    assert_eq!(creds["username"]["maxLength"], 32);
    assert_eq!(creds["username"]["pattern"], "^[A-Za-z0-9_.-]{3,32}$");
    let change = schema("PasswordChange")["properties"].clone();
    assert_eq!(change["new_password"]["minLength"], 8);
    assert_eq!(change["new_password"]["maxLength"], 128);
    let perms = schema("ApiPermission").to_string();
    for p in ["read", "trade", "withdraw", "admin"] {
        assert!(perms.contains(p), "{perms}");
    }
    for s in ["NewKeyBody", "NewKeyJson", "KeyJson"] {
        let props = &schema(s)["properties"];
        assert!(props.get("permissions").is_some(), "{s}");
        assert!(props.get("allow_ips").is_some(), "{s}");
    }
    let login = &doc["paths"]["/api/v1/auth/login"]["post"]["responses"];
    assert!(
        login["429"].to_string().contains("LOGIN_THROTTLED"),
        "{login}"
    );
    assert!(login["503"].to_string().contains("BUSY"), "{login}");
    let place = &doc["paths"]["/api/v1/orders"]["post"]["responses"]["403"];
    assert!(place.to_string().contains("PERMISSION_DENIED"), "{place}");
    assert!(place.to_string().contains("IP_NOT_ALLOWED"), "{place}");

    // What the schema says is what the validator enforces, at both ends of each bound.
    for (username, password, status) in [
        ("ab", "long enough", StatusCode::UNPROCESSABLE_ENTITY),
        ("abc", "short12", StatusCode::UNPROCESSABLE_ENTITY),
        ("bad name", "long enough", StatusCode::UNPROCESSABLE_ENTITY),
        (
            &"a".repeat(33) as &str,
            "long enough",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "abc",
            &"é".repeat(129) as &str,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("abc", "exactly8", StatusCode::CREATED),
        (
            &"b".repeat(32) as &str,
            &"é".repeat(128) as &str,
            StatusCode::CREATED,
        ),
    ] {
        let (s, v) = c
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(
            s,
            status,
            "{username:?} / {} chars: {v}",
            password.chars().count()
        );
    }
    app.shutdown().await;
}
