//! The audit trail: a scripted session over REST, the Binance API and FIX gives the
//! expected entries (channel, actor, key, ip, request id, outcome), requests refused
//! before the journal (401, 403, 429, failed logins) are in the same hash chain, the
//! chain verifies, `bourse audit verify` names the first bad entry after a row is
//! changed, removed or inserted (on whichever backend the run selected), and a restart
//! (journal replay) neither repeats nor breaks the chain.

mod common;
mod fix;

use common::{hmac_hex, Client};
use fix::{key_for, Session, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A request with `X-Request-Id: rid`.
async fn with_id(
    c: &Client,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    rid: &str,
) -> (StatusCode, Value) {
    let mut req = c
        .http
        .request(method, format!("{}{path}", c.base))
        .header("x-request-id", rid);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Every entry, oldest first, read page by page (limit 7: several pages).
async fn all_entries(c: &Client, admin: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<u64> = None;
    loop {
        let path = match cursor {
            Some(k) => format!("/api/v1/admin/audit?limit=7&cursor={k}"),
            None => "/api/v1/admin/audit?limit=7".to_owned(),
        };
        let (s, page) = c.get(&path, Some(admin)).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        out.extend(page["entries"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_u64() {
            Some(k) => cursor = Some(k),
            None => break,
        }
    }
    out.reverse();
    out
}

fn by_request_id<'a>(entries: &'a [Value], rid: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["request_id"] == rid)
        .unwrap_or_else(|| panic!("no entry with request id {rid}"))
}

/// The read-model database of `dir` (the one the server used).
async fn database_url(dir: &Path) -> String {
    if common::pg_backend::selected() {
        common::pg_backend::database_for(dir).await
    } else {
        common::test_config(dir, None).database_url()
    }
}

async fn sql(url: &str, statement: &str) {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(statement).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(statement).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// `bourse audit verify`: (exit ok, its JSON).
fn verify(dir: &Path, url: &str) -> (bool, Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bourse"))
        .args(["audit", "verify", "--data-dir"])
        .arg(dir)
        .args(["--database-url", url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "not JSON: {stdout} / {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), v)
}

/// The session of the main test: returns (admin token, alice's key id).
async fn session(server: &TestServer, c: &Client) -> (String, String) {
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    c.deposit(&admin, "alice", "USD", "1000").await;

    // REST: accepted, rejected by the core, canceled.
    let order = json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "100", "quantity": "1", "time_in_force": "gtc"});
    let (s, placed) = with_id(
        c,
        Method::POST,
        "/api/v1/orders",
        Some(&alice),
        Some(order),
        "rid-place",
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{placed}");
    let too_big = json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "100", "quantity": "100", "time_in_force": "gtc"});
    let (s, v) = with_id(
        c,
        Method::POST,
        "/api/v1/orders",
        Some(&alice),
        Some(too_big),
        "rid-poor",
    )
    .await;
    assert!(s.is_client_error(), "{v}");
    let id = placed["id"].as_u64().unwrap();
    let (s, v) = with_id(
        c,
        Method::DELETE,
        &format!("/api/v1/orders/{id}"),
        Some(&alice),
        None,
        "rid-cancel",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Refused before the journal: 401, 403, failed logins up to the 429 of the throttle.
    let (s, _) = with_id(
        c,
        Method::GET,
        "/api/v1/orders",
        Some("not-a-token"),
        None,
        "rid-401",
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = with_id(
        c,
        Method::GET,
        "/api/v1/admin/audit",
        Some(&alice),
        None,
        "rid-403",
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut throttled = false;
    for n in 0..12 {
        let body = json!({"username": "alice", "password": "wrong-password"});
        let (s, _) = with_id(
            c,
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(body),
            &format!("rid-bad-login-{n}"),
        )
        .await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            throttled = true;
            break;
        }
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    assert!(throttled, "the login throttle answered 429");

    // Binance API, signed with a key; X-Request-Id kept.
    let key = key_for(c, &alice, None).await;
    let mut q = format!(
        "symbol=BTCUSD&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.5&price=99&timestamp={}",
        now_ms()
    );
    let sig = hmac_hex(&key.1, &q);
    q.push_str(&format!("&signature={sig}"));
    let res = c
        .http
        .post(format!("{}/api/v3/order?{q}", c.base))
        .header("X-MBX-APIKEY", &key.0)
        .header("x-request-id", "rid-binance")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );

    // FIX: a NewOrderSingle on a session logged on with the key.
    let mut s = Session::logon(server, &key, "ALICE", &[]).await;
    s.send(
        "D",
        &[
            ("11", "fix-1"),
            ("38", "0.25"),
            ("40", "2"),
            ("44", "98"),
            ("54", "1"),
            ("55", "BTC-USD"),
            ("59", "1"),
            ("60", &fix::utc_time(0)),
        ],
    )
    .await;
    s.expect("8").await;
    (admin, key.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_over_every_channel_is_recorded_chained_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path(), None);
    config.fix = fix::fix_config();
    // The data dir outlives both servers (`TestServer` deletes the one it is given).
    let server = TestServer::with(config.clone(), tempfile::tempdir().unwrap()).await;
    let c = Client::new(server.app.addr);
    let (admin, key_id) = session(&server, &c).await;
    let entries = all_entries(&c, &admin).await;

    // The chain, as the API shows it: ids 1.., each linked to the one before.
    for (n, e) in entries.iter().enumerate() {
        assert_eq!(e["id"].as_u64(), Some(n as u64 + 1), "{e}");
        let prev = if n == 0 {
            "0".repeat(64)
        } else {
            entries[n - 1]["hash"].as_str().unwrap().to_owned()
        };
        assert_eq!(e["prev_hash"].as_str(), Some(prev.as_str()), "{e}");
        assert_eq!(e["hash"].as_str().unwrap().len(), 64);
    }

    let place = by_request_id(&entries, "rid-place");
    assert_eq!(place["action"], "place_order");
    assert_eq!(place["channel"], "rest");
    assert_eq!(place["username"], "alice");
    assert_eq!(place["ip"], "127.0.0.1");
    assert_eq!(place["outcome"], "accepted");
    assert!(place["seq"].is_u64());
    assert!(
        place["target"].as_str().unwrap().starts_with("order:"),
        "{place}"
    );
    let poor = by_request_id(&entries, "rid-poor");
    assert_eq!(
        (poor["action"].as_str(), poor["outcome"].as_str()),
        (Some("place_order"), Some("rejected"))
    );
    assert_eq!(poor["code"], "INSUFFICIENT_BALANCE");
    let cancel = by_request_id(&entries, "rid-cancel");
    assert_eq!(cancel["action"], "cancel_order");
    assert_eq!(cancel["target"], place["target"]);

    let unauth = by_request_id(&entries, "rid-401");
    assert_eq!(unauth["action"], "GET /api/v1/orders");
    assert_eq!(
        (unauth["outcome"].as_str(), unauth["code"].as_str()),
        (Some("rejected"), Some("UNAUTHORIZED"))
    );
    assert!(
        unauth["seq"].is_null() && unauth["user_id"].is_null(),
        "{unauth}"
    );
    let forbidden = by_request_id(&entries, "rid-403");
    assert_eq!(forbidden["code"], "FORBIDDEN");
    assert_eq!(
        forbidden["username"], "alice",
        "the credential was verified before the refusal"
    );
    let bad_login = by_request_id(&entries, "rid-bad-login-0");
    assert_eq!(
        (bad_login["action"].as_str(), bad_login["target"].as_str()),
        (Some("login"), Some("user:alice"))
    );
    assert_eq!(bad_login["code"], "INVALID_CREDENTIALS");
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "login" && e["code"] == "LOGIN_THROTTLED"),
        "the 429 is recorded"
    );
    assert!(entries
        .iter()
        .any(|e| e["action"] == "login" && e["outcome"] == "accepted" && e["username"] == "alice"));
    assert!(entries.iter().any(|e| e["action"] == "deposit"
        && e["username"] == "admin"
        && e["target"].as_str().unwrap().starts_with("user:")));
    assert!(entries
        .iter()
        .any(|e| e["action"] == "create_market" && e["username"] == "admin"));
    assert!(entries
        .iter()
        .any(|e| e["action"] == "register" && e["target"] == "user:alice"));
    assert!(entries
        .iter()
        .any(|e| e["action"] == "create_api_key" && e["username"] == "alice"));

    let binance = by_request_id(&entries, "rid-binance");
    assert_eq!(
        (binance["channel"].as_str(), binance["action"].as_str()),
        (Some("binance"), Some("place_order"))
    );
    assert_eq!(
        (binance["key_id"].as_str(), binance["username"].as_str()),
        (Some(key_id.as_str()), Some("alice"))
    );
    let fix_order = by_request_id(&entries, "ALICE:2");
    assert_eq!(
        (fix_order["channel"].as_str(), fix_order["action"].as_str()),
        (Some("fix"), Some("place_order"))
    );
    assert_eq!(
        (fix_order["key_id"].as_str(), fix_order["outcome"].as_str()),
        (Some(key_id.as_str()), Some("accepted"))
    );
    assert_eq!(fix_order["ip"], "127.0.0.1");
    // Commands the exchange issues itself (start-up policy, the admin user) have none.
    assert!(entries
        .iter()
        .all(|e| e["action"] != "set_idempotency_window"));

    // Filters: by user, by action, by time; paging kept the order.
    let (_, mine) = c
        .get(
            "/api/v1/admin/audit?user=alice&action=place_order",
            Some(&admin),
        )
        .await;
    let mine = mine["entries"].as_array().unwrap();
    assert_eq!(mine.len(), 4, "rest ×2, binance, fix: {mine:?}");
    assert!(mine
        .iter()
        .all(|e| e["username"] == "alice" && e["action"] == "place_order"));
    let t = place["created_at"].as_u64().unwrap();
    let (_, later) = c
        .get(
            &format!("/api/v1/admin/audit?start={}&limit=1000", t + 1),
            Some(&admin),
        )
        .await;
    assert!(later["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["created_at"].as_u64().unwrap() > t));
    let (s, v) = c
        .get("/api/v1/admin/audit?start=5&end=4", Some(&admin))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // The chain verifies offline; a restart replays the journal and adds nothing twice.
    let data_dir = dir.path().to_path_buf();
    let url = database_url(&data_dir).await;
    let count = entries.len();
    server.stop().await;
    let (ok, v) = verify(&data_dir, &url);
    assert!(ok, "{v}");
    assert_eq!(v["entries"].as_u64(), Some(count as u64));
    let server = TestServer::with(config, tempfile::tempdir().unwrap()).await;
    let c = Client::new(server.app.addr);
    let admin = c.admin().await;
    let after = all_entries(&c, &admin).await;
    assert_eq!(after.len(), count + 1, "only the new login");
    assert_eq!(after[..count], entries[..], "the old entries are unchanged");
    let mut seqs: Vec<u64> = after.iter().filter_map(|e| e["seq"].as_u64()).collect();
    let n = seqs.len();
    seqs.dedup();
    assert_eq!(seqs.len(), n, "no journaled command twice");
    server.stop().await;
    let (ok, v) = verify(&data_dir, &url);
    assert!(ok, "{v}");
}

/// `bourse audit verify` on a tampered chain: a changed field, a removed row and an
/// inserted row are each named (the first entry that does not fit); undone, it verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_the_first_changed_removed_or_inserted_entry() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::test_config(dir.path(), None);
    let server = TestServer::with(config, tempfile::tempdir().unwrap()).await;
    let c = Client::new(server.app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "bob", "USD", "100").await;
    let (s, _) = c.get("/api/v1/orders", Some("bad-token")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    c.limit_order(&bob, "buy", "10", "1").await;
    let total = all_entries(&c, &admin).await.len() as u64;
    assert!(total >= 8, "{total}");
    server.stop().await;
    let url = database_url(dir.path()).await;
    let (ok, v) = verify(dir.path(), &url);
    assert!(ok && v["first_bad"].is_null(), "{v}");
    assert_eq!(v["entries"].as_u64(), Some(total));

    // A changed field: entry 3's ip.
    sql(&url, "UPDATE audit_log SET ip = '203.0.113.9' WHERE id = 3").await;
    let (ok, v) = verify(dir.path(), &url);
    assert!(!ok, "{v}");
    assert_eq!(v["first_bad"]["id"].as_u64(), Some(3), "{v}");
    sql(&url, "UPDATE audit_log SET ip = '127.0.0.1' WHERE id = 3").await;
    let (ok, v) = verify(dir.path(), &url);
    assert!(ok, "restored: {v}");

    // A removed row: entry 4 (kept aside, then put back).
    sql(
        &url,
        "CREATE TABLE audit_aside AS SELECT * FROM audit_log WHERE id = 4",
    )
    .await;
    sql(&url, "DELETE FROM audit_log WHERE id = 4").await;
    let (ok, v) = verify(dir.path(), &url);
    assert!(!ok, "{v}");
    assert_eq!(v["first_bad"]["id"].as_u64(), Some(4), "{v}");
    sql(&url, "INSERT INTO audit_log SELECT * FROM audit_aside").await;
    let (ok, v) = verify(dir.path(), &url);
    assert!(ok, "restored: {v}");

    // The newest row removed: only the head notices.
    sql(&url, "DELETE FROM audit_aside").await;
    sql(
        &url,
        &format!("INSERT INTO audit_aside SELECT * FROM audit_log WHERE id = {total}"),
    )
    .await;
    sql(&url, &format!("DELETE FROM audit_log WHERE id = {total}")).await;
    let (ok, v) = verify(dir.path(), &url);
    assert!(!ok, "{v}");
    assert_eq!(v["first_bad"]["id"].as_u64(), Some(total), "{v}");
    sql(&url, "INSERT INTO audit_log SELECT * FROM audit_aside").await;

    // An inserted row after the last one, linked to it but not to its own fields.
    let next = total + 1;
    sql(
        &url,
        &format!(
            "INSERT INTO audit_log (id, ts, seq, channel, actor_id, key_id, ip, request_id, \
             action, target, outcome, code, prev_hash, hash) \
             SELECT {next}, ts, NULL, 'rest', NULL, NULL, '198.51.100.1', NULL, 'login', \
             'user:mallory', 'accepted', NULL, hash, hash FROM audit_log WHERE id = {total}"
        ),
    )
    .await;
    let (ok, v) = verify(dir.path(), &url);
    assert!(!ok, "{v}");
    assert_eq!(v["first_bad"]["id"].as_u64(), Some(next), "{v}");
    sql(&url, &format!("DELETE FROM audit_log WHERE id = {next}")).await;
    let (ok, v) = verify(dir.path(), &url);
    assert!(ok, "restored: {v}");
}

/// A lost read-model database is rebuilt from the journal with every journaled entry
/// (SQLite: the database is a file to delete); the refusals were only in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_database_re_derives_the_journaled_entries() {
    if common::pg_backend::selected() {
        return; // the PostgreSQL database outlives the data dir's files
    }
    let dir = tempfile::tempdir().unwrap();
    let config = common::test_config(dir.path(), None);
    let server = TestServer::with(config.clone(), tempfile::tempdir().unwrap()).await;
    let c = Client::new(server.app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let carol = c.trader("carol").await;
    c.deposit(&admin, "carol", "USD", "100").await;
    let (s, _) = with_id(
        &c,
        Method::GET,
        "/api/v1/orders",
        Some("x"),
        None,
        "rid-refused",
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let body = json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "10", "quantity": "1", "time_in_force": "gtc"});
    let (s, _) = with_id(
        &c,
        Method::POST,
        "/api/v1/orders",
        Some(&carol),
        Some(body),
        "rid-kept",
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let before = all_entries(&c, &admin).await;
    server.stop().await;
    let url = config.database_url();
    let file = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{file}{suffix}"));
    }
    let server = TestServer::with(config, tempfile::tempdir().unwrap()).await;
    let c = Client::new(server.app.addr);
    let admin = c.admin().await;
    let after = all_entries(&c, &admin).await;
    let journaled = |v: &[Value]| -> Vec<(Value, Value, Value)> {
        v.iter()
            .filter(|e| e["seq"].is_u64())
            .map(|e| {
                (
                    e["seq"].clone(),
                    e["action"].clone(),
                    e["request_id"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(journaled(&after), journaled(&before));
    assert_eq!(by_request_id(&after, "rid-kept")["outcome"], "accepted");
    assert!(
        after.iter().all(|e| e["request_id"] != "rid-refused"),
        "never journaled"
    );
    server.stop().await;
    let (ok, v) = verify(dir.path(), &url);
    assert!(ok, "{v}");
}
