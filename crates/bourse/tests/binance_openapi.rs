//! The Binance-compatible API's document (`/binance/openapi.json`) against the server:
//! every REST route `bourse_binance::router` registers is an operation of the document
//! and every operation is served (none answers 404 or 405, and a method the document does
//! not give a path is 405); every rule the document states is the server's: each
//! integer bound is probed just inside and just outside, every enum value is accepted and
//! one outside refused, every pattern admits a value the server takes and refuses one
//! it does not. The bounds are read from the document, so a rule changed in
//! `bourse_binance::rules` is probed at its new value.
//!
//! "Accepted" means "not refused for the probed parameter": a state answer (-1121
//! unknown symbol, -2013 no such order, -2010 balance, -1021 the probe of `timestamp`
//! itself) is fine, the request got past that parameter's rule. "Refused" is a 400 with
//! the code the document gives the parameter (-1100 naming it by default).

mod common;

use common::{bound_probes, hmac_hex, no_limits_config, start, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Registered by the router but not HTTP operations of the document.
const UNDOCUMENTED: &[(&str, &str)] = &[
    ("/binance/ws", "WebSocket streams"),
    ("/binance/ws/{*rest}", "WebSocket streams"),
    ("/binance/stream", "WebSocket combined streams"),
    ("/binance/ws-api/v3", "the WebSocket API"),
    ("/binance/openapi.json", "the document itself"),
];

/// `(METHOD, path)` of every `.route("PATH", get(..).post(..))` in the Binance router.
fn registered_routes() -> BTreeSet<(String, String)> {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../binance/src/lib.rs"),
    )
    .unwrap();
    let method = regex::Regex::new(r"\b(get|post|put|delete|patch)\(").unwrap();
    let path = regex::Regex::new(r#"^\s*"([^"]+)""#).unwrap();
    let mut out = BTreeSet::new();
    for chunk in src.split(".route(").skip(1) {
        // The call ends where the next builder method starts.
        let call = [".with_state(", ".merge(", ".layer("]
            .iter()
            .filter_map(|end| chunk.find(end))
            .fold(chunk, |c, i| &c[..i.min(c.len())]);
        let p = &path.captures(call).expect("a route's path is a literal")[1];
        if UNDOCUMENTED.iter().any(|(u, _)| *u == p) {
            continue;
        }
        for m in method.captures_iter(call) {
            out.insert((m[1].to_uppercase(), p.to_owned()));
        }
    }
    out
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

struct Binance {
    c: Client,
    key: String,
    secret: String,
    nonce: AtomicU64,
}

impl Binance {
    /// `method path?query`, signed when `signed` (a fresh `timestamp` unless the query
    /// has one, and an unknown parameter `n` that makes every payload new: a signature
    /// is accepted once, and unknown parameters are ignored).
    async fn call(
        &self,
        method: &str,
        path: &str,
        query: &str,
        signed: bool,
    ) -> (StatusCode, Value) {
        let mut q = query.to_owned();
        if signed {
            let n = self.nonce.fetch_add(1, Ordering::Relaxed);
            if !q.split('&').any(|p| p.starts_with("timestamp=")) {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis();
                q.push_str(&format!("&timestamp={now}"));
            }
            q.push_str(&format!("&n={n}"));
            let q2 = q.trim_start_matches('&').to_owned();
            q = format!("{q2}&signature={}", hmac_hex(&self.secret, &q2));
        }
        let url = format!("{}{path}?{}", self.c.base, q.trim_start_matches('&'));
        let res = self
            .c
            .http
            .request(Method::from_bytes(method.as_bytes()).unwrap(), url)
            .header("X-MBX-APIKEY", &self.key)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

async fn setup() -> (bourse::RunningApp, tempfile::TempDir, Binance, Value) {
    let dir = tempfile::tempdir().unwrap();
    let app = start(no_limits_config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let trader = c.trader("prober").await;
    let (s, k) = c
        .post(
            "/api/v1/api-keys",
            Some(&trader),
            json!({"label": "probe", "permissions": ["read", "trade"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let (s, doc) = c.get("/binance/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    let b = Binance {
        c,
        key: k["key"].as_str().unwrap().to_owned(),
        secret: k["secret"].as_str().unwrap().to_owned(),
        nonce: AtomicU64::new(0),
    };
    (app, dir, b, doc)
}

fn signed(op: &Value) -> bool {
    op["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["name"] == "signature"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_router_and_the_document_have_the_same_routes() {
    let (_app, _dir, b, doc) = setup().await;
    assert_eq!(
        registered_routes(),
        documented(&doc),
        "routes of bourse_binance::router (left) vs operations of /binance/openapi.json (right)"
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let (s, v) = b.call(&method.to_uppercase(), path, "", signed(op)).await;
            assert!(
                s != StatusCode::NOT_FOUND && s != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: documented, not served: {s} {v}"
            );
            assert!(
                v["code"].is_i64() || s.is_success(),
                "{method} {path}: {s} {v}"
            );
        }
        for m in ["get", "post", "put", "delete"] {
            if item.get(m).is_none() {
                let (s, _) = b.call(&m.to_uppercase(), path, "", false).await;
                assert_eq!(
                    s,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{m} {path}: not documented"
                );
            }
        }
    }
}

/// A valid value for each required parameter (a limit order of the probing trader).
fn base_value(name: &str) -> &'static str {
    match name {
        "symbol" => "BTCUSD",
        "side" => "BUY",
        "type" => "LIMIT",
        "timeInForce" => "GTC",
        "quantity" => "0.01",
        "price" => "100",
        "interval" => "1m",
        "cancelReplaceMode" => "STOP_ON_FAILURE",
        "listenKey" => "no-such-key",
        "cancelOrderId" => "1",
        "orderId" => "1",
        _ => panic!("no base value for required parameter {name}"),
    }
}

/// `(admitted, refused)` values of a pattern parameter, checked against the pattern.
fn pattern_probes(name: &str) -> (&'static str, &'static str) {
    match name {
        "symbol" => ("BTCUSD", "btcusd"),
        "symbols" => ("[\"BTCUSD\"]", "[\"BTCUSD\", \"X\"]"),
        "newClientOrderId" | "origClientOrderId" | "cancelOrigClientOrderId" => {
            ("abc-123_x.y:z", "has space")
        }
        "price" | "quantity" | "quoteOrderQty" | "stopPrice" => ("1", "0"),
        "signature" => ("0".repeat(64).leak(), "xyz"),
        _ => panic!("no pattern probes for {name}"),
    }
}

/// Refused for `name`: its own code, or -1100 naming it (a value that is not a number).
fn refused(s: StatusCode, v: &Value, name: &str, code: i64) -> bool {
    let names = |v: &Value| {
        v["msg"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("'{name}'")))
    };
    s == StatusCode::BAD_REQUEST
        && ((v["code"] == code && (code != -1100 || names(v))) || (v["code"] == -1100 && names(v)))
}

/// The code the document gives a parameter's refusal ("Outside the rule: -1116.").
fn refusal_code(p: &Value) -> i64 {
    p["description"]
        .as_str()
        .and_then(|d| d.split("Outside the rule: ").nth(1))
        .and_then(|r| r.trim_end_matches('.').parse().ok())
        .unwrap_or(-1100)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rule_of_the_document_is_the_servers() {
    let (_app, _dir, b, doc) = setup().await;
    let (mut bounds, mut enums, mut patterns) = (0, 0, 0);
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            let sig = signed(op);
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            // The probed parameter plus every other required one at a valid value.
            let query = |name: &str, value: &str| -> String {
                let mut q: Vec<String> = params
                    .iter()
                    .filter(|p| p["required"] == true && p["name"] != name)
                    .filter(|p| !["timestamp", "signature"].contains(&p["name"].as_str().unwrap()))
                    .map(|p| {
                        let n = p["name"].as_str().unwrap();
                        format!("{n}={}", base_value(n))
                    })
                    .collect();
                q.push(format!("{name}={value}"));
                q.join("&")
            };
            for p in &params {
                let name = p["name"].as_str().unwrap();
                if name == "signature" {
                    continue; // its pattern is probed by the signer on every call
                }
                let schema = &p["schema"];
                let code = refusal_code(p);
                let mut probes: Vec<(String, bool, i64)> = Vec::new();
                if let Some(values) = schema["enum"].as_array() {
                    enums += 1;
                    // `symbol`'s enum is the markets of the moment: another name of its
                    // pattern is an unknown symbol.
                    let outside = if name == "symbol" { -1121 } else { code };
                    probes.extend(
                        values
                            .iter()
                            .map(|v| (v.as_str().unwrap().to_owned(), true, code)),
                    );
                    probes.push(("NOTINTHEENUM".to_owned(), false, outside));
                }
                if let Some(pattern) = schema["pattern"].as_str() {
                    patterns += 1;
                    let re = regex::Regex::new(pattern).unwrap();
                    let (ok, bad) = pattern_probes(name);
                    assert!(re.is_match(ok) && !re.is_match(bad), "{name}: {pattern}");
                    probes.push((ok.to_owned(), true, code));
                    probes.push((bad.to_owned(), false, code));
                }
                if schema["type"] == "integer" {
                    bounds += 1;
                    let (min, max) = (
                        schema["minimum"].as_u64().unwrap(),
                        schema["maximum"].as_u64().unwrap(),
                    );
                    probes.extend(
                        bound_probes(min, max)
                            .into_iter()
                            .map(|(v, inside)| (v.to_string(), inside, code)),
                    );
                    // A clamped limit: just above the clamp is accepted.
                    if let Some(clamp) = schema["x-clamped-to"].as_u64() {
                        probes.push(((clamp + 1).to_string(), true, code));
                    }
                    probes.push(("+1".into(), false, code));
                }
                if !probes.is_empty() {
                    // Sent empty, a declared parameter breaks its rule.
                    probes.push((String::new(), false, code));
                }
                for (value, inside, code) in probes {
                    let q = query(name, &urlencode(&value));
                    let (s, v) = b.call(&method, path, &q, sig).await;
                    assert!(
                        s != StatusCode::INTERNAL_SERVER_ERROR,
                        "{method} {path}?{q}: {v}"
                    );
                    assert_eq!(
                        !refused(s, &v, name, code),
                        inside,
                        "{method} {path}?{q}: the document says {name} is {schema}, the server answered {s} {v}"
                    );
                }
            }
        }
    }
    // limit on 9 routes, ids, times, recvWindow, timestamp; the order enums, interval;
    // symbols, client ids, decimals: a document without rules would pass vacuously.
    assert!(bounds >= 50, "only {bounds} integer bounds");
    assert!(enums >= 42, "only {enums} enums");
    eprintln!("probed {bounds} bounds, {enums} enums, {patterns} patterns");
    assert!(patterns >= 44, "only {patterns} patterns");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
