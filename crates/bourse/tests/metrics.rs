//! `GET /metrics` after a scripted session: orders, a trade, a cancel, a rejection, a
//! WebSocket client, 429s with the anonymous limit set low, a failed login. Counts are
//! exact deltas between two scrapes; `promtool check metrics` accepts the output.
//!
//! The recorder is process-wide (see `bourse_http::metrics`): this binary holds one test,
//! so the engine-fed families count this app alone; gauges are read from the scraped
//! app's own state. Runs on SQLite and, with `BOURSE_TEST_BACKEND=postgres`, PostgreSQL.

mod common;

use common::{code, eventually, start, test_config, Client};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// One scrape: `name{labels}` (labels sorted, as rendered) → value.
struct Scrape {
    text: String,
    samples: HashMap<String, f64>,
}

impl Scrape {
    /// The sample of `name` whose labels include every `k="v"` of `labels` (0 if none:
    /// a counter not yet incremented is absent).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let matching: Vec<f64> = self
            .samples
            .iter()
            .filter(|(k, _)| {
                let (n, rest) = k.split_once('{').unwrap_or((k.as_str(), ""));
                n == name
                    && labels
                        .iter()
                        .all(|(l, v)| rest.contains(&format!("{l}=\"{v}\"")))
            })
            .map(|(_, v)| *v)
            .collect();
        assert!(
            matching.len() <= 1,
            "{name} {labels:?}: several samples match"
        );
        matching.first().copied().unwrap_or(0.0)
    }
}

async fn scrape(c: &Client) -> Scrape {
    let res = c
        .http
        .get(format!("{}/metrics", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = res.text().await.unwrap();
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_owned(), v.parse::<f64>().unwrap())
        })
        .collect();
    Scrape { text, samples }
}

/// `promtool check metrics` (Debian package `prometheus`; `make test` installs it).
fn promtool_check(text: &str) {
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool not found: apt-get install -y prometheus (make test does)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_scripted_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    // Unauthenticated API requests: 3 at once, then one a second (the 429s below).
    config.limits.anonymous = bourse_gateway::limits::Quota::new(1, 3);
    config.markets.price_band_bps = 0;
    let app = start(config).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "alice", "BTC", "10").await;
    c.deposit(&admin, "bob", "USD", "1000").await;

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", app.addr))
        .await
        .expect("ws connect");
    ws.send(Message::text(
        json!({"op": "subscribe", "channels": ["trades.BTC-USD"]}).to_string(),
    ))
    .await
    .unwrap();
    // The acknowledgement: the subscription exists before the baseline scrape.
    let ack = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap();
    assert!(matches!(ack, Some(Ok(Message::Text(_)))), "{ack:?}");

    let before = scrape(&c).await;
    let seq_before = before.get("bourse_journal_committed_sequence", &[]);

    // Two accepted orders that trade, one accepted and canceled, one rejected.
    let sell = c.limit_order(&alice, "sell", "100", "1").await;
    c.limit_order(&bob, "buy", "100", "0.4").await;
    let rest = c.limit_order(&alice, "sell", "105", "1").await;
    let (s, v) = c
        .delete(&format!("/api/v1/orders/{}", rest["id"]), Some(&alice))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = c
        .post(
            "/api/v1/orders",
            Some(&bob),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "100",
                   "quantity": "50", "time_in_force": "gtc"}),
        )
        .await;
    assert!(s.is_client_error(), "{s} {v}");
    let reject_code = code(&v).to_owned();
    let reject_status = s.as_u16().to_string();
    assert!(sell["id"].is_number() || sell["id"].is_string());

    // The trade reaches the WebSocket client.
    let frame = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.as_str().contains("\"trades.BTC-USD\"") => break t,
                Some(Ok(_)) => continue,
                other => panic!("ws: {other:?}"),
            }
        }
    })
    .await
    .expect("trade frame");
    assert!(frame.as_str().contains("100"), "{frame}");

    // Anonymous requests past the burst: some 429s, counted as the client saw them.
    let (mut ok, mut limited) = (0u32, 0u32);
    for _ in 0..8 {
        let (s, _) = c.get("/api/v1/markets", None).await;
        match s {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("GET /api/v1/markets: {other}"),
        }
    }
    assert!(limited >= 1, "the anonymous limit refused nothing");

    let (s, _) = c
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "alice", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // The read models catch up: the lag gauge reaches 0.
    let after = eventually(Duration::from_secs(10), "read-model lag 0", || async {
        let s = scrape(&c).await;
        (s.get("bourse_readmodel_lag_commands", &[]) == 0.0).then_some(s)
    })
    .await;
    let d =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    let m = [("market", "BTC-USD")];

    assert_eq!(d("bourse_orders_accepted_total", &m), 3.0);
    assert_eq!(
        d(
            "bourse_orders_rejected_total",
            &[("market", "BTC-USD"), ("code", &reject_code)]
        ),
        1.0,
        "{reject_code}"
    );
    assert_eq!(d("bourse_trades_total", &m), 1.0);
    assert_eq!(d("bourse_orders_canceled_total", &m), 1.0);

    let post_orders = [("route", "/api/v1/orders"), ("method", "POST")];
    let with = |status: &str| {
        let mut l = post_orders.to_vec();
        l.push(("status", status));
        d("bourse_http_requests_total", &l)
    };
    assert_eq!(with("201"), 3.0);
    assert_eq!(with(&reject_status), 1.0);
    assert_eq!(
        d("bourse_http_request_duration_seconds_count", &post_orders),
        4.0
    );
    assert_eq!(
        d(
            "bourse_http_requests_total",
            &[
                ("route", "/api/v1/orders/{id}"),
                ("method", "DELETE"),
                ("status", "200")
            ]
        ),
        1.0
    );
    let markets = |status: &str| {
        d(
            "bourse_http_requests_total",
            &[
                ("route", "/api/v1/markets"),
                ("method", "GET"),
                ("status", status),
            ],
        )
    };
    assert_eq!(markets("200"), f64::from(ok));
    assert_eq!(markets("429"), f64::from(limited));
    assert_eq!(
        d(
            "bourse_rate_limit_refusals_total",
            &[("class", "anonymous")]
        ),
        f64::from(limited)
    );
    assert_eq!(
        d(
            "bourse_login_failures_total",
            &[("reason", "invalid_credentials")]
        ),
        1.0
    );

    // One core apply per journaled command; a batch fsync at least once.
    let commands = after.get("bourse_journal_committed_sequence", &[]) - seq_before;
    assert!(commands >= 5.0, "{commands} commands");
    assert_eq!(d("bourse_core_apply_duration_seconds_count", &[]), commands);
    assert_eq!(d("bourse_journal_batch_commands_sum", &[]), commands);
    let fsyncs = d("bourse_journal_fsync_duration_seconds_count", &[]);
    assert_eq!(fsyncs, d("bourse_journal_batch_commands_count", &[]));
    assert!((1.0..=commands).contains(&fsyncs), "{fsyncs} fsyncs");
    assert!(d("bourse_journal_written_bytes_total", &[]) > 0.0);
    assert!(
        d(
            "bourse_db_query_duration_seconds_count",
            &[("op", "project")]
        ) >= 1.0
    );
    assert_eq!(after.get("bourse_sequencer_running", &[]), 1.0);
    assert_eq!(after.get("bourse_journal_available", &[]), 1.0);

    assert_eq!(after.get("bourse_ws_connections", &[]), 1.0);
    assert_eq!(
        after.get("bourse_ws_subscriptions_total", &[("channel", "trades")]),
        1.0
    );
    assert!(d("bourse_ws_messages_sent_total", &[]) >= 1.0);

    assert!(after.get("bourse_process_resident_memory_bytes", &[]) > 0.0);
    assert!(after.get("bourse_process_open_fds", &[]) > 0.0);
    for family in [
        "# TYPE bourse_http_request_duration_seconds histogram",
        "# TYPE bourse_journal_fsync_duration_seconds histogram",
        "# TYPE bourse_orders_accepted_total counter",
        "# TYPE bourse_readmodel_lag_commands gauge",
        "# TYPE bourse_sequencer_queue_depth gauge",
    ] {
        assert!(after.text.contains(family), "missing {family}");
    }
    promtool_check(&after.text);

    // The WebSocket client leaves: the gauge follows.
    ws.close(None).await.unwrap();
    eventually(Duration::from_secs(10), "ws connections 0", || async {
        (scrape(&c).await.get("bourse_ws_connections", &[]) == 0.0).then_some(())
    })
    .await;
    app.shutdown().await;

    // `[metrics] enabled = false`: no route (the web fallback answers instead). Started
    // only now: while the app above ran, its engine would have added to the same recorder.
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    config.metrics.enabled = false;
    let off = start(config).await;
    let body = reqwest::get(format!("http://{}/metrics", off.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!body.contains("bourse_"), "{body}");
    off.shutdown().await;
}
