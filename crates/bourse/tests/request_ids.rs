//! `X-Request-Id` (issue "Observability"): kept when the client's is acceptable (1–128
//! printable characters), made otherwise; on every answer (success, error, 404, 429,
//! an early 421); in error bodies as `error.request_id`; and in every log line written
//! while serving the request (`bourse serve --log-format json`, no colours when stderr
//! is not a terminal).

mod common;

use bourse_gateway::limits::OrderQuota;
use common::{start, test_config, Client, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn id_of(res: &reqwest::Response) -> String {
    res.headers()
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on {}", res.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

async fn send(c: &Client, method: Method, path: &str, id: Option<&str>) -> reqwest::Response {
    let mut req = c.http.request(method, format!("{}{path}", c.base));
    if let Some(id) = id {
        req = req.header("x-request-id", id);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path(), None);
    cfg.limits.orders.standard = OrderQuota::new(1, 60_000);
    let app = start(cfg).await;
    let c = Client::new(app.addr);

    // Kept as given on a success and on a 404, which also says it in the body.
    let res = send(&c, Method::GET, "/health", Some("client-id 42/a:b")).await;
    assert_eq!(
        (res.status(), id_of(&res)),
        (StatusCode::OK, "client-id 42/a:b".into())
    );
    let res = send(&c, Method::GET, "/api/v1/no-such-route", Some("abc")).await;
    assert_eq!(
        (res.status(), id_of(&res)),
        (StatusCode::NOT_FOUND, "abc".into())
    );
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["request_id"], "abc", "{v}");

    // Made when absent, too long or not printable: 32 hex digits, a new one each time.
    let long = "x".repeat(129);
    let mut made = Vec::new();
    for given in [None, Some(long.as_str()), Some("tab\there"), Some("")] {
        let res = send(&c, Method::GET, "/api/v1/markets", given).await;
        let id = id_of(&res);
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        made.push(id);
    }
    made.sort();
    made.dedup();
    assert_eq!(made.len(), 4);
    let edge = "y".repeat(128);
    let res = send(&c, Method::GET, "/api/v1/markets", Some(&edge)).await;
    assert_eq!(id_of(&res), edge);

    // An error from a handler (401) and a rate-limit refusal (429): header and body agree.
    let res = send(&c, Method::GET, "/api/v1/balances", Some("no-token")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(id_of(&res), "no-token");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["request_id"], "no-token", "{v}");

    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "bob", "USD", "100000").await;
    let order = json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "100",
                       "quantity": "0.01"});
    let (s, _) = c.post("/api/v1/orders", Some(&bob), order.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    let res = c
        .http
        .post(format!("{}/api/v1/orders", c.base))
        .bearer_auth(&bob)
        .header("x-request-id", "second-order")
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (res.status(), id_of(&res)),
        (StatusCode::TOO_MANY_REQUESTS, "second-order".into())
    );
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["request_id"], "second-order", "{v}");

    // An early answer, before routing: a Host that is not served (421).
    let res = c
        .http
        .get(format!("{}/health", c.base))
        .header("host", "evil.example")
        .header("x-request-id", "early")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (res.status(), id_of(&res)),
        (StatusCode::MISDIRECTED_REQUEST, "early".into())
    );
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["request_id"], "early", "{v}");
    app.shutdown().await;
}

/// The real binary with `--log-format json`: the lines written while serving a request
/// name its id, and nothing is coloured (stderr is a pipe).
#[test]
fn json_log_lines_name_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bourse"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("BOURSE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        // tower_http logs each request at debug, inside the request's span.
        .env("RUST_LOG", "warn,tower_http=debug")
        .env_remove("BOURSE_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "server exited");
        if let Some(a) = line.trim().strip_prefix("listening on ") {
            break a.to_owned();
        }
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = Client::new(&addr);
        let res = send(&c, Method::GET, "/api/v1/markets", Some("log-me-7")).await;
        assert_eq!(res.status(), StatusCode::OK);
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let found = loop {
        let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) else {
            assert!(
                Instant::now() < deadline,
                "no log line names the request: {seen:#?}"
            );
            continue;
        };
        assert!(!l.contains('\u{1b}'), "coloured log line: {l}");
        let v: Value = serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        let named = v["spans"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["request_id"] == "log-me-7"));
        if named {
            break v;
        }
        seen.push(l);
    };
    assert_eq!(found["level"], "DEBUG", "{found}");
    let _ = child.kill();
    let _ = child.wait();
}
