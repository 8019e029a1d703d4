//! The HTTP transport's guard rails (`[http]`), against the real server on port 0 with
//! real clients: raw TCP for what a well-behaved client never does (half a header, idle
//! keep-alive, too many sockets), reqwest (plain and rustls) and tokio-tungstenite.

mod common;

use bourse::Config;
use bourse_gateway::limits::Quota;
use common::{code, start, test_config, Client};
use futures_util::{SinkExt, StreamExt};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server(tweak: impl FnOnce(&mut Config)) -> (bourse::RunningApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = test_config(dir.path(), None);
    tweak(&mut c);
    (start(c).await, dir)
}

/// Reads from `tcp` until the peer closes it (`Ok(bytes read)`), or `within` passes.
async fn read_until_closed(tcp: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends one request on `tcp` and reads its whole response (by Content-Length).
async fn exchange(tcp: &mut TcpStream, request: &str) -> String {
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(
            n > 0,
            "closed mid-response: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
    }
}

fn get_health(addr: SocketAddr) -> String {
    format!("GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n")
}

#[tokio::test]
async fn half_a_request_header_is_closed_after_the_header_timeout() {
    let (app, _dir) = server(|c| c.http.header_read_timeout_ms = 600).await;
    let t0 = Instant::now();
    let mut half = TcpStream::connect(app.addr).await.unwrap();
    half.write_all(format!("GET /health HTTP/1.1\r\nHost: {}\r\nX-A: ", app.addr).as_bytes())
        .await
        .unwrap();
    // A socket that says nothing at all is closed the same way.
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    let got = read_until_closed(&mut half, Duration::from_secs(5))
        .await
        .expect("the half header is still open after 5 s");
    let waited = t0.elapsed();
    assert!(got.is_empty(), "no response to half a head: {got:?}");
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(3),
        "closed after {waited:?}"
    );
    assert!(read_until_closed(&mut silent, Duration::from_secs(3))
        .await
        .is_some());
    // A whole request is served as usual.
    let mut whole = TcpStream::connect(app.addr).await.unwrap();
    assert!(exchange(&mut whole, &get_health(app.addr))
        .await
        .starts_with("HTTP/1.1 200"));
    app.shutdown().await;
}

/// The idle keep-alive timeout is its own: longer than the header timeout, a
/// connection stays usable between requests, and is closed once idle for longer.
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let (app, _dir) = server(|c| {
        c.http.header_read_timeout_ms = 500;
        c.http.idle_timeout_ms = 2000;
    })
    .await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    assert!(exchange(&mut tcp, &get_health(app.addr))
        .await
        .starts_with("HTTP/1.1 200"));
    // Idle for longer than the header timeout, shorter than the idle one: still open.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(exchange(&mut tcp, &get_health(app.addr))
        .await
        .starts_with("HTTP/1.1 200"));
    let t0 = Instant::now();
    let got = read_until_closed(&mut tcp, Duration::from_secs(6))
        .await
        .expect("idle connection still open after 6 s");
    assert!(got.is_empty());
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(4),
        "closed after {waited:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_per_ip_cap_are_closed() {
    let (app, _dir) = server(|c| c.http.max_connections_per_ip = 2).await;
    let mut a = TcpStream::connect(app.addr).await.unwrap();
    let mut b = TcpStream::connect(app.addr).await.unwrap();
    for tcp in [&mut a, &mut b] {
        assert!(exchange(tcp, &get_health(app.addr))
            .await
            .starts_with("HTTP/1.1 200"));
    }
    let mut third = TcpStream::connect(app.addr).await.unwrap();
    let _ = third.write_all(get_health(app.addr).as_bytes()).await;
    let got = read_until_closed(&mut third, Duration::from_secs(3))
        .await
        .expect("the third connection was kept");
    assert!(got.is_empty(), "no answer over the cap");
    // The first two still work; closing one frees its place.
    assert!(exchange(&mut a, &get_health(app.addr))
        .await
        .starts_with("HTTP/1.1 200"));
    drop(b);
    common::eventually(Duration::from_secs(5), "a freed slot", || async {
        let mut tcp = TcpStream::connect(app.addr).await.ok()?;
        tcp.write_all(get_health(app.addr).as_bytes()).await.ok()?;
        let got = read_until_closed(&mut tcp, Duration::from_millis(500)).await;
        // Served: the read times out on an open keep-alive connection after the answer.
        (got.is_none()).then_some(())
    })
    .await;
    app.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_global_cap_are_closed() {
    let (app, _dir) = server(|c| c.http.max_connections = 1).await;
    let mut a = TcpStream::connect(app.addr).await.unwrap();
    assert!(exchange(&mut a, &get_health(app.addr))
        .await
        .starts_with("HTTP/1.1 200"));
    let mut b = TcpStream::connect(app.addr).await.unwrap();
    let _ = b.write_all(get_health(app.addr).as_bytes()).await;
    assert_eq!(
        read_until_closed(&mut b, Duration::from_secs(3)).await,
        Some(Vec::new())
    );
    app.shutdown().await;
}

/// A request that does not complete in time is answered 408 in the error shape; an
/// upgraded WebSocket is not a request any more and outlives the timeout.
#[tokio::test]
async fn the_request_timeout_spares_websockets() {
    let (app, _dir) = server(|c| {
        c.http.request_timeout_ms = 400;
        c.http.header_read_timeout_ms = 400;
        c.http.idle_timeout_ms = 400;
    })
    .await;
    // A body that never finishes arriving.
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"username\":",
        app.addr
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let got = read_until_closed(&mut slow, Duration::from_secs(5))
        .await
        .expect("no answer to the stalled body");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let body: Value = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(code(&body), "REQUEST_TIMEOUT");

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", app.addr))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        json!({"op": "ping"}).to_string(),
    ))
    .await
    .unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                    break serde_json::from_str::<Value>(t.as_str()).unwrap()
                }
                Some(Ok(_)) => continue,
                other => panic!("the WebSocket was closed: {other:?}"),
            }
        }
    })
    .await
    .expect("an answer on the WebSocket");
    assert_eq!(frame["type"], "pong", "{frame}");
    app.shutdown().await;
}

#[tokio::test]
async fn body_limits_follow_the_route_class() {
    let (app, _dir) = server(|c| {
        c.http.body_limit = 1024;
        c.http.admin_body_limit = 16 * 1024;
    })
    .await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    let alice = c.trader("alice").await;
    let padded = |n: usize| json!({"market": "BTC-USD", "pad": "x".repeat(n)});

    // Over the default class's limit on a trading route: 413 in the error shape.
    let (s, v) = c.post("/api/v1/orders", Some(&alice), padded(2000)).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
    );
    // The same size on an admin route is read (and refused for its content).
    let (s, v) = c
        .post("/api/v1/admin/markets", Some(&admin), padded(2000))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "UNKNOWN_FIELD"),
        "{v}"
    );
    let (s, v) = c
        .post("/api/v1/admin/markets", Some(&admin), padded(20_000))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
    );

    // Without a Content-Length (chunked), the stream is cut at the limit all the same.
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let chunk = format!("{{\"username\":\"{}\"}}", "x".repeat(3000));
    let req = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        app.addr,
        chunk.len()
    );
    let res = exchange(&mut tcp, &req).await;
    assert!(res.starts_with("HTTP/1.1 413"), "{res}");
    assert!(res.contains("PAYLOAD_TOO_LARGE"), "{res}");
    app.shutdown().await;
}

/// The anonymous rate-limit bucket is per client IP: the forwarded address when the
/// peer is a trusted proxy, the peer otherwise.
#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    async fn statuses(c: &Client, header: &str, values: &[&str]) -> Vec<u16> {
        let mut out = Vec::new();
        for v in values {
            let res = c
                .http
                .get(format!("{}/api/v1/markets", c.base))
                .header(header, *v)
                .send()
                .await
                .unwrap();
            out.push(res.status().as_u16());
        }
        out
    }
    let tight = |c: &mut Config| c.limits.anonymous = Quota::new(1, 2);
    let a = "203.0.113.7";
    let b = "198.51.100.9";

    let (app, _dir) = server(tight).await;
    let c = Client::new(app.addr);
    // Untrusted peer: the header is ignored, so both "clients" share the peer's bucket.
    assert_eq!(
        statuses(&c, "x-forwarded-for", &[a, a, b]).await,
        [200, 200, 429]
    );
    app.shutdown().await;

    let (app, _dir) = server(|c| {
        tight(c);
        c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let c = Client::new(app.addr);
    assert_eq!(
        statuses(&c, "x-forwarded-for", &[a, a, a, b]).await,
        [200, 200, 429, 200]
    );
    // `Forwarded` is read too; its client is its own bucket.
    let fwd = "for=\"[2001:db8::5]:4711\";proto=https";
    assert_eq!(
        statuses(&c, "forwarded", &[fwd, fwd, fwd]).await,
        [200, 200, 429]
    );
    app.shutdown().await;
}

/// A self-signed certificate made in the test, served by `[http.tls]`, trusted by the
/// client: HTTPS works, HSTS is sent, plain HTTP gets no answer.
#[tokio::test]
async fn tls_serves_https_with_hsts() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let files = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let (app, _dir) = server(|c| {
        c.http.tls = Some(bourse_http::security::tls::TlsFiles {
            cert_file,
            key_file,
        })
    })
    .await;
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/health", app.addr.port());
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "healthy");
    // Plain HTTP on the TLS port is not served.
    let plain = Client::new(app.addr)
        .try_call(Method::GET, "/health", None, None)
        .await;
    assert!(plain.is_err(), "{plain:?}");
    app.shutdown().await;
}

fn assert_security_headers(what: &str, h: &HeaderMap, hsts: bool) {
    let csp = h
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP in {h:?}"))
        .to_str()
        .unwrap();
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{what}: {csp}");
    }
    assert!(!csp.contains("unsafe-eval"), "{what}: {csp}");
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        assert_eq!(
            h.get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{what}: {name}"
        );
    }
    assert!(
        h.get("permissions-policy")
            .is_some_and(|v| v.to_str().unwrap().contains("camera=()")),
        "{what}: permissions-policy"
    );
    assert_eq!(
        h.contains_key("strict-transport-security"),
        hsts,
        "{what}: HSTS"
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let (app, _dir) = server(|c| {
        c.http.body_limit = 256;
        c.limits.anonymous = Quota::new(1, 30);
    })
    .await;
    let c = Client::new(app.addr);
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        (
            "json",
            c.http.get(format!("{}/api/v1/markets", c.base)),
            200,
        ),
        ("health", c.http.get(format!("{}/health", c.base)), 200),
        (
            "openapi",
            c.http.get(format!("{}/openapi.json", c.base)),
            200,
        ),
        ("docs", c.http.get(format!("{}/docs/", c.base)), 200),
        (
            "docs asset",
            c.http.get(format!("{}/docs/swagger-ui.css", c.base)),
            200,
        ),
        ("terminal page", c.http.get(format!("{}/", c.base)), 200),
        (
            "missing file",
            c.http.get(format!("{}/assets/nope-1.js", c.base)),
            404,
        ),
        ("404", c.http.get(format!("{}/api/v1/nope", c.base)), 404),
        ("405", c.http.put(format!("{}/api/v1/markets", c.base)), 405),
        (
            "413",
            c.http
                .post(format!("{}/api/v1/auth/login", c.base))
                .header("content-type", "application/json")
                .body("x".repeat(1000)),
            413,
        ),
        (
            "421",
            c.http
                .get(format!("{}/health", c.base))
                .header("host", "evil.example"),
            421,
        ),
    ];
    for (what, req, status) in cases {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{what}");
        assert_security_headers(what, res.headers(), false);
    }
    // A 429 too.
    let mut last = None;
    for _ in 0..40 {
        let res = c
            .http
            .get(format!("{}/api/v1/markets", c.base))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            last = Some(res);
            break;
        }
    }
    let res = last.expect("a 429");
    assert_security_headers("429", res.headers(), false);
    // /docs has the policy the browser e2e checks Swagger UI against.
    let res = c
        .http
        .get(format!("{}/docs/", c.base))
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script on /docs");
    app.shutdown().await;

    // `hsts = true` (a TLS-terminating proxy in front) sends it over plain HTTP.
    let (app, _dir) = server(|c| c.http.hsts = true).await;
    let res = reqwest::get(format!("http://{}/health", app.addr))
        .await
        .unwrap();
    assert_security_headers("hsts = true", res.headers(), true);
    app.shutdown().await;

    // The development preset reports instead of enforcing, and never pins HTTPS.
    let (app, _dir) = server(|c| {
        c.http.headers = bourse_http::security::headers::Preset::Development;
        c.http.hsts = true;
    })
    .await;
    let res = reqwest::get(format!("http://{}/", app.addr)).await.unwrap();
    let h = res.headers();
    assert!(h.get("content-security-policy").is_none());
    assert!(h.contains_key("content-security-policy-report-only"));
    assert!(!h.contains_key("strict-transport-security"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    app.shutdown().await;
}

#[tokio::test]
async fn cors_answers_allowed_origins_only() {
    let allowed = "https://trade.example.com";
    let (app, _dir) = server(|c| c.http.cors_origins = vec![allowed.into()]).await;
    let c = Client::new(app.addr);
    let preflight = |origin: &str| {
        c.http
            .request(Method::OPTIONS, format!("{}/api/v1/orders", c.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let res = preflight(allowed).await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], allowed);
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(h.contains_key("access-control-allow-headers"));
    assert_security_headers("preflight", h, false);

    let res = preflight("https://evil.example").await.unwrap();
    let cors: Vec<_> = res
        .headers()
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "a refused origin got {cors:?}");

    // A simple request from the allowed origin is answered with its origin.
    let res = c
        .http
        .get(format!("{}/api/v1/markets", c.base))
        .header("origin", allowed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], allowed);
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_hosts_are_misdirected_before_routing() {
    let (app, _dir) = server(|c| c.http.trusted_hosts = vec!["exchange.example".into()]).await;
    let c = Client::new(app.addr);
    let port = app.addr.port();
    let with_host = |path: &str, host: String| {
        c.http
            .get(format!("{}{path}", c.base))
            .header("host", host)
            .send()
    };
    for path in ["/health", "/api/v1/nope", "/ws", "/"] {
        let res = with_host(path, format!("evil.example:{port}"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST, "{path}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(code(&v), "MISDIRECTED_REQUEST", "{path}");
    }
    for host in [
        format!("127.0.0.1:{port}"),
        "127.0.0.1".into(),
        format!("localhost:{port}"),
        "localhost".into(),
        format!("[::1]:{port}"),
        "exchange.example".into(),
        format!("Exchange.Example:{port}"),
    ] {
        let res = with_host("/health", host.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{host}");
    }
    app.shutdown().await;
}

#[test]
fn bad_http_settings_are_refused_at_start() {
    let parse = |text: &str| toml::from_str::<Config>(text).map_err(|e| e.to_string());
    assert!(parse("[http]\ntrusted_proxies = [\"10.0.0.0/40\"]\n")
        .unwrap_err()
        .contains("CIDR"));
    let c = parse("[http]\ncors_origins = [\"trade.example.com/\"]\n").unwrap();
    assert!(c.validate().unwrap_err().to_string().contains("origin"));
    let c = parse("[http]\nrequest_timeout_ms = 0\n").unwrap();
    assert!(c.validate().is_err());
    let c =
        parse("[http]\nheaders = \"development\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n")
            .unwrap();
    c.validate().unwrap();
}
