//! Rate limits against the real server (issue "Guard rails"): route weights and the
//! `RateLimit-*` headers, the order rate per tier, the IP charged before a credential is
//! checked, the WebSocket's connection, message and auth-frame rates, the Redis store
//! shared by two servers, and its failure modes. The Redis tests need the server on
//! 127.0.0.1:6379 (`.ci/run` starts it) and use a key prefix of their own.

mod common;

use bourse_gateway::limits::{FailureMode, OrderQuota, Quota};
use common::{code, start, test_config, Client};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn header(res: &reqwest::Response, name: &str) -> Option<u64> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().parse().unwrap())
}

/// `(status, limit, remaining, reset, retry-after, body)` of one GET.
async fn probe(
    c: &Client,
    path: &str,
    token: Option<&str>,
) -> (
    StatusCode,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Value,
) {
    let mut req = c.http.get(format!("{}{path}", c.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let h = (
        header(&res, "ratelimit-limit"),
        header(&res, "ratelimit-remaining"),
        header(&res, "ratelimit-reset"),
        header(&res, "retry-after"),
    );
    let status = res.status();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, h.0, h.1, h.2, h.3, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_cost_their_weight_and_every_answer_says_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    // Slow refill: the numbers do not move during the test.
    cfg.limits.standard = Quota::new(1, 30);
    cfg.limits.anonymous = Quota::new(1, 5);
    cfg.limits.weights.insert("GET /api/v1/deposits".into(), 7);
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let alice = c.trader("alice").await;

    // Own reads weigh 2, the order list 10, a configured route its override.
    let (s, limit, left, reset, _, _) = probe(&c, "/api/v1/balances", Some(&alice)).await;
    assert_eq!((s, limit, left), (StatusCode::OK, Some(30), Some(28)));
    assert_eq!(reset, Some(2), "2 units at 1/s");
    let (_, _, left, _, _, _) = probe(&c, "/api/v1/orders", Some(&alice)).await;
    assert_eq!(left, Some(18));
    let (_, _, left, _, _, _) = probe(&c, "/api/v1/deposits", Some(&alice)).await;
    assert_eq!(left, Some(11));
    // An error answer of a limited route carries the headers too.
    let (s, _, left, _, _, v) = probe(&c, "/api/v1/orders/999999", Some(&alice)).await;
    assert_eq!((s, left), (StatusCode::NOT_FOUND, Some(9)), "{v}");
    // 10 more do not fit in 9: 429 with Retry-After and the bucket's numbers.
    let (s, limit, left, _, retry, v) = probe(&c, "/api/v1/orders", Some(&alice)).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED")
    );
    assert_eq!((limit, left), (Some(30), Some(0)));
    assert_eq!(retry, Some(1), "1 unit short at 1/s");
    // A lighter request still fits.
    let (s, _, left, _, _, _) = probe(&c, "/api/v1/balances", Some(&alice)).await;
    assert_eq!((s, left), (StatusCode::OK, Some(7)));

    // Public market data weighs 1, per IP; operations are not limited.
    let (s, limit, left, _, _, _) = probe(&c, "/api/v1/markets", None).await;
    assert_eq!((s, limit, left), (StatusCode::OK, Some(5), Some(4)));
    let (s, limit, _, _, _, _) = probe(&c, "/health", None).await;
    assert_eq!((s, limit), (StatusCode::OK, None));
    app.shutdown().await;

    // `enabled = false`: no limit, no headers.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.limits.enabled = false;
    cfg.limits.anonymous = Quota::new(1, 1);
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    for _ in 0..20 {
        let (s, limit, _, _, _, _) = probe(&c, "/api/v1/markets", None).await;
        assert_eq!((s, limit), (StatusCode::OK, None));
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_limited_per_user_by_tier() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.limits.orders.standard = OrderQuota::new(3, 1000);
    cfg.limits.orders.premium = OrderQuota::new(10, 1000);
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "bob", "USD", "100000").await;
    let order = json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "100",
                       "quantity": "0.01", "time_in_force": "gtc"});
    for _ in 0..3 {
        let (s, v) = c.post("/api/v1/orders", Some(&bob), order.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let res = c
        .http
        .post(format!("{}/api/v1/orders", c.base))
        .bearer_auth(&bob)
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry = header(&res, "retry-after").unwrap();
    assert!((1..=4).contains(&retry), "one order per 3.3 s: {retry}");
    // The request budget is not what refused it: its headers show room.
    assert!(header(&res, "ratelimit-remaining").unwrap() > 0);
    let v: Value = res.json().await.unwrap();
    assert_eq!(code(&v), "ORDER_RATE_LIMITED");
    // Nothing was placed; reads and cancels still work.
    let (_, v) = c.get("/api/v1/orders?status=open", Some(&bob)).await;
    let open = v["orders"].as_array().map(Vec::len);
    assert_eq!(open, Some(3), "{v}");
    // Another tier, another limit: premium has room for more at once.
    let (s, v) = c
        .call(
            Method::PATCH,
            "/api/v1/admin/users/bob",
            Some(&admin),
            Some(&json!({"tier": "premium"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for _ in 0..5 {
        let (s, v) = c.post("/api/v1/orders", Some(&bob), order.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ip_pays_before_a_credential_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.limits.unverified = Quota::new(1, 60);
    cfg.limits.failed_auth_weight = 10;
    cfg.limits.auth = Quota::new(1, 6);
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let carol = c.trader("carol").await; // auth bucket: 2 of 6

    // A token does not lift the login quota: guesses with one in hand meet the per-IP
    // `auth` bucket like anonymous ones.
    // (4 left, refilling at 1/s while each guess is hashed: a few more get through.)
    let mut statuses = Vec::new();
    while statuses.len() < 12 && statuses.last() != Some(&StatusCode::TOO_MANY_REQUESTS) {
        let (s, _) = c
            .post(
                "/api/v1/auth/login",
                Some(&carol),
                json!({"username": "admin", "password": "guess"}),
            )
            .await;
        statuses.push(s);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED, "{statuses:?}");
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );

    // Made-up API keys: each costs 1 before the check and 10 more once refused, so the
    // flood is answered 429 (not INVALID_API_KEY: not checked any more) within a few.
    let mut codes = Vec::new();
    for i in 0..20 {
        let res = c
            .http
            .get(format!("{}/api/v1/balances", c.base))
            .header("x-api-key", format!("bogus-{i}"))
            .header("x-api-timestamp", "1")
            .header("x-api-signature", "00")
            .send()
            .await
            .unwrap();
        let status = res.status();
        let v: Value = res.json().await.unwrap();
        codes.push((status, code(&v).to_owned()));
    }
    let refused = codes
        .iter()
        .take_while(|(s, _)| *s == StatusCode::UNAUTHORIZED)
        .count();
    assert!((1..=6).contains(&refused), "{codes:?}");
    assert!(
        codes[refused..]
            .iter()
            .all(|(s, c)| *s == StatusCode::TOO_MANY_REQUESTS && c == "RATE_LIMITED"),
        "{codes:?}"
    );
    // The check comes first: even a valid token from this IP waits now.
    let (s, _, _, _, retry, _) = probe(&c, "/api/v1/balances", Some(&carol)).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some());
    app.shutdown().await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame as JSON, or `Err(close code)` when the server closes.
async fn next_frame(ws: &mut Ws) -> Result<Value, Option<u16>> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no frame in time");
        match msg {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Message::Close(f))) => return Err(f.map(|f| u16::from(f.code))),
            None | Some(Err(_)) => return Err(None),
            Some(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connections_frames_and_auth_frames_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.limits.ws_connect = Quota::new(1, 3);
    cfg.limits.ws_messages = Quota::new(1, 5);
    cfg.limits.ws_auth = Quota::new(1, 2);
    cfg.limits.ws_abuse_strikes = 3;
    let app = start(cfg).await;
    let url = format!("ws://{}/ws", app.addr);
    let mut conns = Vec::new();
    for _ in 0..3 {
        conns.push(tokio_tungstenite::connect_async(&url).await.unwrap().0);
    }
    // The fourth attempt within the second: HTTP 429 at the upgrade.
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
            assert!(res.headers().contains_key("retry-after"));
        }
        other => panic!("expected 429, got {other:?}"),
    }

    // Frames per connection: 5 pass, then RATE_LIMITED, and the third refusal in a row
    // closes the connection with 4029.
    let mut ws = conns.pop().unwrap();
    for _ in 0..5 {
        ws.send(Message::text(r#"{"op":"ping"}"#)).await.unwrap();
        assert_eq!(next_frame(&mut ws).await.unwrap()["type"], "pong");
    }
    for _ in 0..3 {
        ws.send(Message::text(r#"{"op":"ping"}"#)).await.unwrap();
    }
    for _ in 0..3 {
        let v = next_frame(&mut ws).await.unwrap();
        assert_eq!(
            (&v["type"], &v["code"]),
            (&json!("error"), &json!("RATE_LIMITED"))
        );
        assert!(v["message"].as_str().unwrap().contains("retry in"), "{v}");
    }
    assert_eq!(next_frame(&mut ws).await.unwrap_err(), Some(4029));

    // Auth frames per IP, charged before the token is looked at.
    let mut ws = conns.pop().unwrap();
    let auth = json!({"op": "auth", "token": "not-a-token"}).to_string();
    for _ in 0..2 {
        ws.send(Message::text(auth.clone())).await.unwrap();
        assert_eq!(next_frame(&mut ws).await.unwrap()["code"], "UNAUTHORIZED");
    }
    ws.send(Message::text(auth.clone())).await.unwrap();
    assert_eq!(next_frame(&mut ws).await.unwrap()["code"], "RATE_LIMITED");
    // The IP's budget, not the connection's: another connection from it waits too.
    let mut other = conns.pop().unwrap();
    other.send(Message::text(auth)).await.unwrap();
    assert_eq!(
        next_frame(&mut other).await.unwrap()["code"],
        "RATE_LIMITED"
    );
    app.shutdown().await;
}

fn redis_config(dir: &std::path::Path, prefix: &str) -> bourse::Config {
    let mut cfg = test_config(dir, None);
    cfg.limits.store = "redis://127.0.0.1:6379".into();
    cfg.limits.redis_prefix = prefix.into();
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_redis_enforce_one_limit() {
    let prefix = format!(
        "bourse-test:{}:{}:",
        std::process::id(),
        rand::random::<u32>()
    );
    let mut apps = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = redis_config(dir.path(), &prefix);
        // 20 at once, then one a second.
        cfg.limits.anonymous = Quota::new(1, 20);
        apps.push(start(cfg).await);
        dirs.push(dir);
    }
    let clients: Vec<Client> = apps.iter().map(|a| Client::new(a.addr)).collect();
    let mut allowed = [0usize; 2];
    for i in 0..40 {
        let (s, _) = clients[i % 2].get("/api/v1/markets", None).await;
        if s == StatusCode::OK {
            allowed[i % 2] += 1;
        } else {
            assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        }
    }
    let total = allowed[0] + allowed[1];
    // 20 at once, plus what refilled at 1/s while the test ran.
    assert!((20..=23).contains(&total), "{allowed:?}");
    assert!(allowed[0] >= 9 && allowed[1] >= 9, "{allowed:?}");
    let (_, h) = clients[0].get("/health", None).await;
    assert_eq!(h["status"], "healthy", "{h}");
    assert_eq!(h["rate_limit_store"], json!({"store": "redis", "ok": true}));
    for app in apps {
        app.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_fails_open_or_closed_and_health_says_so() {
    for mode in [FailureMode::Open, FailureMode::Closed] {
        let dir = tempfile::tempdir().unwrap();
        // Port 1: nothing listens there.
        let mut cfg = redis_config(dir.path(), "bourse-test:down:");
        cfg.limits.store = "redis://127.0.0.1:1".into();
        cfg.limits.redis_failure = mode;
        cfg.limits.redis_timeout_ms = 200;
        let app = start(cfg).await;
        let c = Client::new(app.addr);
        let res = c
            .http
            .get(format!("{}/api/v1/markets", c.base))
            .send()
            .await
            .unwrap();
        match mode {
            FailureMode::Open => assert_eq!(res.status(), StatusCode::OK),
            FailureMode::Closed => {
                assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
                assert!(res.headers().contains_key("retry-after"));
                let v: Value = res.json().await.unwrap();
                assert_eq!(code(&v), "RATE_LIMIT_UNAVAILABLE");
            }
        }
        // Degraded, naming the store (the probe notices within a second or two).
        let mut health = Value::Null;
        for _ in 0..50 {
            let (s, h) = c.get("/health", None).await;
            assert_eq!(s, StatusCode::OK, "degraded is still 200: {h}");
            health = h;
            if health["status"] == "degraded" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(health["status"], "degraded", "{health}");
        assert_eq!(
            health["rate_limit_store"],
            json!({"store": "redis", "ok": false})
        );
        app.shutdown().await;
    }
}
