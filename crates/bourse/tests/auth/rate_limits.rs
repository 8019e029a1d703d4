//! Rate limits: 429 with a retry hint, quotas by tier.

use crate::common::{code, start, test_config, Client};
use crate::login;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_and_follow_the_tier() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    // Slow refill so the test is not timing-sensitive; admin quota generous.
    // `/auth/me` weighs 2: three of them fill the bucket.
    cfg.limits.standard = bourse_gateway::limits::Quota::new(1, 6);
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
