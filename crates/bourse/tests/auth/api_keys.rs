//! API keys (the secret in no listing, row or data file) and signed requests with their
//! refusals.

use crate::common::{code, start, Client};
use crate::{config, now_ms};
use bourse_gateway::auth::api_key::{sign, signing_payload};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;

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
