//! The admin monitoring API (`/api/v1/monitoring/…`) after a scripted session: orders,
//! a trade, a cancel, a rejection, a WebSocket client with notifications, 429s. Counts
//! are exact; latency windows are sane (p50 ≤ p95 ≤ p99 ≤ max, count = requests made);
//! traders get 403; reset zeroes the figures and changes no balance or order; with
//! `[metrics] enabled = false` the endpoints answer with empty windows.
//!
//! The windows are process-wide like the recorder (see `bourse_http::monitoring::figures`):
//! this binary holds one test, so they count this test's apps alone. Runs on SQLite and,
//! with `BOURSE_TEST_BACKEND=postgres`, PostgreSQL.

mod common;

use common::{code, eventually, start, test_config, Client};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const M: &str = "/api/v1/monitoring";

/// Every monitoring route.
const ROUTES: [(Method, &str); 10] = [
    (Method::GET, "/health"),
    (Method::GET, "/metrics/api"),
    (Method::GET, "/metrics/trading"),
    (Method::GET, "/metrics/websocket"),
    (Method::GET, "/metrics/database"),
    (Method::GET, "/dashboard"),
    (Method::GET, "/notifications/stats"),
    (Method::GET, "/system/status"),
    (Method::POST, "/metrics/reset"),
    (Method::POST, "/cleanup"),
];

async fn get(c: &Client, token: &str, route: &str) -> Value {
    let (s, v) = c.get(&format!("{M}{route}"), Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{route}: {v}");
    v
}

async fn post(c: &Client, token: &str, route: &str) -> Value {
    let (s, v) = c
        .call(Method::POST, &format!("{M}{route}"), Some(token), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{route}: {v}");
    v
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Each window of a `Win` object: ordered percentiles, and its count.
fn window_counts(win: &Value) -> [u64; 3] {
    ["1m", "5m", "1h"].map(|w| {
        let lat = &win[w];
        let f = |k: &str| lat[k].as_f64().unwrap_or_else(|| panic!("{w}.{k}: {win}"));
        let (p50, p95, p99, max) = (f("p50"), f("p95"), f("p99"), f("max"));
        assert!(
            0.0 <= p50 && p50 <= p95 && p95 <= p99 && p99 <= max,
            "{w}: {lat}"
        );
        let count = n(&lat["count"]);
        assert_eq!(count == 0, max == 0.0, "{w}: {lat}");
        count
    })
}

/// Reads WebSocket frames until none came for 500 ms: (text frames, notification
/// frames, notifications in them).
async fn drain<S>(ws: &mut S) -> (u64, u64, u64)
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let (mut frames, mut nframes, mut items) = (0, 0, 0);
    while let Ok(m) = tokio::time::timeout(Duration::from_millis(500), ws.next()).await {
        match m {
            Some(Ok(Message::Text(t))) => {
                frames += 1;
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["channel"] == "notifications" && v["type"] == "update" {
                    nframes += 1;
                    items += v["data"].as_array().unwrap().len() as u64;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("ws: {other:?}"),
        }
    }
    (frames, nframes, items)
}

async fn scrape(c: &Client) -> String {
    let (s, text) = c.get("/metrics", None).await;
    assert_eq!(s, StatusCode::OK);
    text.as_str().unwrap().to_owned()
}

/// The sum of a labelled family's samples in a scrape.
fn prom_sum(text: &str, family: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum()
}

async fn committed_seq(c: &Client) -> u64 {
    let (_, v) = c.get("/health", None).await;
    n(&v["committed_seq"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_api_reports_a_scripted_session() {
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

    // Alice watches trades and her notifications (connected before the reset, so the
    // upgrade request and the acknowledgements are not in the figures).
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", app.addr))
        .await
        .expect("ws connect");
    for frame in [
        json!({"op": "auth", "token": alice}),
        json!({"op": "subscribe", "channels": ["trades.BTC-USD", "notifications"]}),
    ] {
        ws.send(Message::text(frame.to_string())).await.unwrap();
    }
    drain(&mut ws).await;
    let base_seq = committed_seq(&c).await;
    // Prometheus counters are not reset: compared as deltas from here.
    let text_before = scrape(&c).await;

    // From here the figures count: the reset itself is the first request.
    let reset = post(&c, &admin, "/metrics/reset").await;
    assert!(n(&reset["reset_at_ms"]) > 0, "{reset}");

    // 5 order requests: two trade, one rests and is canceled, one is rejected.
    c.limit_order(&alice, "sell", "100", "1").await;
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
    // 8 anonymous requests past the burst: some 429s.
    let mut limited = 0u64;
    for _ in 0..8 {
        let (s, _) = c.get("/api/v1/markets", None).await;
        match s {
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("GET /api/v1/markets: {other}"),
        }
    }
    assert!(limited >= 1, "the anonymous limit refused nothing");
    let requests = 1 + 5 + 8;

    // The first read after the session: exactly the requests made, each timed once.
    let api = get(&c, &admin, "/metrics/api").await;
    assert_eq!(n(&api["requests_total"]), requests, "{api}");
    assert_eq!(window_counts(&api["latency_ms"]), [requests; 3], "{api}");
    // Magnitudes, not only order: a request through the whole stack takes over 10 µs
    // and under 10 s.
    let one_min = &api["latency_ms"]["1m"];
    assert!(one_min["p50"].as_f64().unwrap() > 0.01, "{api}");
    assert!(one_min["max"].as_f64().unwrap() < 10_000.0, "{api}");
    assert_eq!(n(&api["errors_total"]), 0, "{api}");
    assert_eq!(n(&api["client_errors_total"]), 1 + limited, "{api}");
    assert!(api["requests_per_s"].as_f64().unwrap() > 0.0, "{api}");

    // What the WebSocket client got, once everything is delivered.
    let (frames, nframes, items) = drain(&mut ws).await;
    assert!(
        frames >= 2 && items >= 3,
        "{frames} frames, {items} notifications"
    );
    let dash = eventually(
        Duration::from_secs(10),
        "read model and notifications caught up",
        || async {
            let d = get(&c, &admin, "/dashboard").await;
            (d["database"]["read_model_lag"] == 0 && d["notifications"]["queued"] == 0).then_some(d)
        },
    )
    .await;

    // The contract's shape, with the session's counts.
    assert!(n(&dash["time_ms"]) > 1_700_000_000_000, "{dash}");
    assert_eq!(dash["health"]["status"], "healthy", "{dash}");
    assert!(dash["health"]["checks"]["database"]["ok"] == true, "{dash}");
    let commands = committed_seq(&c).await - base_seq;
    assert_eq!(commands, 5, "4 orders and a cancel");
    let t = &dash["trading"];
    assert_eq!(n(&t["orders_total"]), 4, "{t}");
    assert_eq!(n(&t["rejects_total"]), 1, "{t}");
    assert_eq!(n(&t["trades_total"]), 1, "{t}");
    assert_eq!(n(&t["cancels_total"]), 1, "{t}");
    assert!(t["orders_per_s"].as_f64().unwrap() > 0.0, "{t}");
    assert!(t["trades_per_s"].as_f64().unwrap() > 0.0, "{t}");
    assert_eq!(window_counts(&t["match_latency_ms"]), [commands; 3], "{t}");
    let j = &dash["journal"];
    assert_eq!(n(&j["committed_seq"]), base_seq + commands, "{j}");
    assert!(n(&j["bytes_written_total"]) > 0, "{j}");
    let fsyncs = window_counts(&j["fsync_latency_ms"]);
    assert!((1..=commands).contains(&fsyncs[0]), "{j}");
    assert_eq!(fsyncs, [fsyncs[0]; 3], "{j}");
    let w = &dash["websocket"];
    assert_eq!(n(&w["connections"]), 1, "{w}");
    assert_eq!(n(&w["subscriptions"]), 2, "{w}");
    assert_eq!(n(&w["messages_sent_total"]), frames, "{w}");
    assert!(w["messages_per_s"].as_f64().unwrap() > 0.0, "{w}");
    assert_eq!(n(&w["dropped_total"]), 0, "{w}");
    assert_eq!(n(&w["slow_consumers_closed_total"]), 0, "{w}");
    let nt = &dash["notifications"];
    assert_eq!(n(&nt["sent_total"]), items, "{nt}");
    assert_eq!(n(&nt["dead_lettered_total"]), 0, "{nt}");
    let db = window_counts(&dash["database"]["query_latency_ms"]);
    assert!(db[0] >= 1, "{dash}");
    let r = &dash["rate_limit"];
    assert_eq!(n(&r["refusals_total"]), limited, "{r}");
    assert!(r["refusals_per_s"].as_f64().unwrap() > 0.0, "{r}");
    // Counters are live: the reads since count too.
    assert!(n(&dash["api"]["requests_total"]) > requests, "{dash}");

    // The other endpoints report the same figures.
    let trading = get(&c, &admin, "/metrics/trading").await;
    for k in [
        "orders_total",
        "rejects_total",
        "trades_total",
        "cancels_total",
    ] {
        assert_eq!(trading[k], t[k], "{k}: {trading}");
    }
    let ws_figures = get(&c, &admin, "/metrics/websocket").await;
    assert_eq!(ws_figures["messages_sent_total"], w["messages_sent_total"]);
    assert_eq!(ws_figures["subscriptions"], 2);
    let database = get(&c, &admin, "/metrics/database").await;
    assert_eq!(database["read_model_lag"], 0, "{database}");
    assert!(window_counts(&database["query_latency_ms"])[0] >= 1);
    let stats = get(&c, &admin, "/notifications/stats").await;
    assert_eq!(n(&stats["sent_total"]), items, "{stats}");
    assert_eq!(n(&stats["queued_total"]), items, "{stats}");
    assert_eq!(n(&stats["batched_frames_total"]), nframes, "{stats}");
    assert!(n(&stats["created_total"]) >= items, "{stats}");
    let health = get(&c, &admin, "/health").await;
    assert_eq!(health["status"], "healthy", "{health}");
    for check in ["database", "disk", "journal", "read_model", "sequencer"] {
        assert_eq!(health["checks"][check]["ok"], true, "{check}: {health}");
    }
    let status = get(&c, &admin, "/system/status").await;
    assert_eq!(status["metrics_enabled"], true, "{status}");
    assert_eq!(status["sequencer_running"], true, "{status}");
    assert_eq!(status["monitoring_reset_at_ms"], reset["reset_at_ms"]);
    assert_eq!(n(&status["committed_seq"]), base_seq + commands);
    // The process figures are the kernel's: connections the server accepts are open fds.
    assert!(n(&status["rss_bytes"]) > 1 << 20, "{status}");
    let fds = n(&status["open_fds"]);
    let idle: Vec<_> = (0..8)
        .map(|_| std::net::TcpStream::connect(app.addr).unwrap())
        .collect();
    eventually(Duration::from_secs(5), "8 more open fds", || async {
        let s = get(&c, &admin, "/system/status").await;
        (n(&s["open_fds"]) >= fds + 8).then_some(())
    })
    .await;
    drop(idle);

    // Prometheus has the notifications by priority, and read queries timed.
    let text = scrape(&c).await;
    let d = |family: &str| prom_sum(&text, family) - prom_sum(&text_before, family);
    assert_eq!(d("bourse_notifications_sent_total"), items as f64);
    assert!(
        text.contains("bourse_notifications_sent_total{priority=\""),
        "{text}"
    );
    assert!(d("bourse_notifications_batched_total") <= items as f64);
    assert!(text.contains("bourse_db_query_duration_seconds_count{op=\"read\"}"));

    // Traders get 403 in the API's error shape, anonymous callers 401.
    for (method, route) in ROUTES {
        let path = format!("{M}{route}");
        let (s, v) = c.call(method.clone(), &path, Some(&alice), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{route}: {v}");
        assert_eq!(code(&v), "FORBIDDEN", "{route}");
        assert!(v["error"]["request_id"].is_string(), "{route}: {v}");
    }
    // (One anonymous call: the anonymous limit is set low above; its bucket refills.)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, v) = c.get(&format!("{M}/dashboard"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(code(&v), "UNAUTHORIZED");

    // Cleanup and reset journal nothing and change no balance or order.
    let alice_before = c.balances(&alice).await;
    let bob_before = c.balances(&bob).await;
    let (_, open_before) = c.get("/api/v1/orders?status=open", Some(&alice)).await;
    let seq_before = committed_seq(&c).await;
    let cleaned = post(&c, &admin, "/cleanup").await;
    assert!(
        n(&cleaned["rate_limit_keys_after"]) <= n(&cleaned["rate_limit_keys_before"]),
        "{cleaned}"
    );
    assert_eq!(cleaned["caches_cleared"], true);
    ws.close(None).await.unwrap();
    eventually(Duration::from_secs(10), "ws closed", || async {
        let w = get(&c, &admin, "/metrics/websocket").await;
        (w["connections"] == 0).then_some(())
    })
    .await;
    post(&c, &admin, "/metrics/reset").await;
    let api = get(&c, &admin, "/metrics/api").await;
    // Only the reset itself since.
    assert_eq!(n(&api["requests_total"]), 1, "{api}");
    assert_eq!(window_counts(&api["latency_ms"]), [1; 3], "{api}");
    assert_eq!(n(&api["client_errors_total"]), 0, "{api}");
    let dash = get(&c, &admin, "/dashboard").await;
    for (area, k) in [
        ("trading", "orders_total"),
        ("trading", "rejects_total"),
        ("trading", "trades_total"),
        ("trading", "cancels_total"),
        ("websocket", "messages_sent_total"),
        ("websocket", "subscriptions"),
        ("notifications", "sent_total"),
        ("rate_limit", "refusals_total"),
        ("journal", "bytes_written_total"),
    ] {
        assert_eq!(dash[area][k], 0, "{area}.{k}: {dash}");
    }
    assert_eq!(window_counts(&dash["trading"]["match_latency_ms"]), [0; 3]);
    assert_eq!(window_counts(&dash["journal"]["fsync_latency_ms"]), [0; 3]);
    assert_eq!(dash["trading"]["orders_per_s"], 0.0);
    assert_eq!(c.balances(&alice).await, alice_before);
    assert_eq!(c.balances(&bob).await, bob_before);
    let (_, open_after) = c.get("/api/v1/orders?status=open", Some(&alice)).await;
    assert_eq!(open_after, open_before);
    assert_eq!(committed_seq(&c).await, seq_before, "nothing journaled");
    assert_eq!(n(&dash["journal"]["committed_seq"]), seq_before);
    drop(app);

    // Metrics off: the endpoints answer; the windows and recorded totals stay empty
    // (they are fed by the same instrumentation), the live figures are there.
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    config.metrics.enabled = false;
    let app = start(config).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let status = get(&c, &admin, "/system/status").await;
    assert_eq!(status["metrics_enabled"], false, "{status}");
    // Past the dashboard's 1 s cache (the first app's last read may be in it).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let first = get(&c, &admin, "/dashboard").await;
    c.deposit(&admin, "admin", "USD", "10").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let dash = get(&c, &admin, "/dashboard").await;
    for (area, k) in [
        ("api", "requests_total"),
        ("journal", "bytes_written_total"),
    ] {
        assert_eq!(dash[area][k], first[area][k], "{area}.{k}: {dash}");
    }
    assert_eq!(
        window_counts(&dash["api"]["latency_ms"]),
        window_counts(&first["api"]["latency_ms"])
    );
    assert_eq!(dash["health"]["status"], "healthy");
    assert!(n(&dash["journal"]["committed_seq"]) > n(&first["journal"]["committed_seq"]));
}
