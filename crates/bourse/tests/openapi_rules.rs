//! The input rules the OpenAPI document states are the rules the server enforces: for
//! every bound the served `/openapi.json` gives (`minimum`/`maximum` of a query parameter,
//! `minLength`/`maxLength` of a body field), the real server accepts the request just
//! inside the bound and refuses it just outside with `VALIDATION_ERROR`. "Accepts" means
//! "is not refused as malformed": a state answer (`UNKNOWN_MARKET`, `KYC_REQUIRED`, …) is
//! fine, since the request got past its input rules. The bounds are read from the
//! document, so a rule changed in `bourse_gateway::rules` is probed at its new value, and
//! a validator that stops using it fails here. The same for enums and patterns: every
//! value of a query enum is accepted and one outside it refused; a body field's pattern
//! is probed with a value it admits and one it does not.

mod common;

use common::{bound_probes, no_limits_config, start, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const INPUT_CODES: [&str; 4] = [
    "VALIDATION_ERROR",
    "BAD_REQUEST",
    "MALFORMED_JSON",
    "UNKNOWN_FIELD",
];

fn config(dir: &std::path::Path) -> bourse::Config {
    no_limits_config(dir)
}

fn refused_as_input(s: StatusCode, v: &Value) -> bool {
    (s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::BAD_REQUEST)
        && v["error"]["code"]
            .as_str()
            .is_some_and(|c| INPUT_CODES.contains(&c))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_query_bound_of_the_document_is_the_servers() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let trader = c.trader("prober").await;
    let (_, doc) = c.get("/openapi.json", None).await;
    let mut probed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("get") else { continue };
        let concrete = path.replace("{symbol}", "BTC-USD");
        if concrete.contains('{') {
            continue;
        }
        let token = if path.starts_with("/api/v1/admin/") {
            &admin
        } else {
            &trader
        };
        for p in op["parameters"].as_array().into_iter().flatten() {
            let schema = &p["schema"];
            let name = p["name"].as_str().unwrap();
            if p["in"] == "query" {
                if let Some(values) = schema["enum"].as_array() {
                    for v in values.iter().filter_map(Value::as_str) {
                        let url = format!("{concrete}?{name}={v}");
                        let (s, b) = c.call(Method::GET, &url, Some(token), None).await;
                        assert!(
                            !refused_as_input(s, &b),
                            "GET {url}: in the enum, refused: {s} {b}"
                        );
                    }
                    let url = format!("{concrete}?{name}=not-in-the-enum");
                    let (s, b) = c.call(Method::GET, &url, Some(token), None).await;
                    assert!(
                        refused_as_input(s, &b),
                        "GET {url}: outside the enum, accepted: {s} {b}"
                    );
                    probed += 1;
                    continue;
                }
            }
            if p["in"] != "query" || schema["type"] != "integer" {
                continue;
            }
            let (Some(min), Some(max)) = (schema["minimum"].as_u64(), schema["maximum"].as_u64())
            else {
                continue;
            };
            // `start` alone at its maximum is after the default `end` (now): a rule
            // between two fields, documented in words; give `end` too.
            let extra = if name == "start" {
                format!("&end={max}")
            } else {
                String::new()
            };
            for (value, inside) in bound_probes(min, max) {
                let url = format!("{concrete}?{name}={value}{extra}");
                let (s, v) = c.call(Method::GET, &url, Some(token), None).await;
                assert_eq!(
                    !refused_as_input(s, &v),
                    inside,
                    "GET {url}: the document says {name} is {min}..={max}, the server answered {s} {v}"
                );
                if !inside {
                    assert_eq!(v["error"]["code"], "VALIDATION_ERROR", "GET {url}: {v}");
                }
            }
            probed += 1;
        }
    }
    // limit on every list, depth, cursors, candle times, the enums: a document without
    // bounds would pass vacuously.
    assert!(
        probed >= 17,
        "only {probed} bounded query parameters in the document"
    );
}

/// `(method, path, as admin, body, field, a character the field's rule allows)`.
fn body_rules(n: &mut u32) -> Vec<(Method, &'static str, bool, Value, &'static str, char)> {
    let mut user = || {
        *n += 1;
        format!("user{n}")
    };
    vec![
        (
            Method::POST,
            "/api/v1/auth/register",
            false,
            json!({"password": "password123"}),
            "username",
            'a',
        ),
        (
            Method::POST,
            "/api/v1/auth/register",
            false,
            json!({"username": user()}),
            "password",
            'é',
        ),
        (
            Method::POST,
            "/api/v1/withdrawals",
            false,
            json!({"asset": "USD", "amount": "1"}),
            "address",
            '~',
        ),
        (
            Method::POST,
            "/api/v1/api-keys",
            false,
            json!({}),
            "label",
            'é',
        ),
        (
            Method::POST,
            "/api/v1/admin/announcements",
            true,
            json!({"message": "hello"}),
            "title",
            'é',
        ),
        (
            Method::POST,
            "/api/v1/admin/announcements",
            true,
            json!({"title": "hello"}),
            "message",
            'é',
        ),
        (
            Method::POST,
            "/api/v1/orders",
            false,
            json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "1.00", "quantity": "1"}),
            "client_order_id",
            ':',
        ),
    ]
}

fn schema_of<'a>(doc: &'a Value, method: &Method, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method.as_str().to_lowercase()];
    let r = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} {path}: no request body schema"));
    &doc["components"]["schemas"][r.rsplit('/').next().unwrap()]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_length_rule_of_the_document_is_the_servers() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let trader = c.trader("prober").await;
    c.deposit(&admin, "prober", "USD", "100000").await;
    let (_, doc) = c.get("/openapi.json", None).await;
    let mut n = 0;
    for (method, path, as_admin, base, field, ch) in body_rules(&mut n) {
        let prop = &schema_of(&doc, &method, path)["properties"][field];
        let min = prop["minLength"]
            .as_u64()
            .or_else(|| prop["pattern"].as_str().map(|_| 1));
        let (Some(min), Some(max)) = (
            min,
            prop["maxLength"].as_u64().or_else(|| {
                // `^[…]{1,36}$` patterns (ids): the bound is in the pattern.
                let p = prop["pattern"].as_str()?;
                p.rsplit_once(',')?.1.trim_end_matches("}$").parse().ok()
            }),
        ) else {
            panic!("{method} {path}: {field} states no length in the document: {prop}");
        };
        let mut probes = vec![(min, true), (max, true), (max + 1, false)];
        if min > 0 {
            probes.push((min - 1, false));
        }
        for (len, inside) in probes {
            let mut body = base.clone();
            let mut value: String = std::iter::repeat_n(ch, len as usize).collect();
            if field == "username" && len > 0 {
                // Unique names: registering the same one twice is a state answer (409).
                value = format!("{:a<width$}", format!("u{len}"), width = len as usize);
                value.truncate(len as usize);
                if len < 2 {
                    value = "u".repeat(len as usize);
                }
            }
            body[field] = json!(value);
            let token = if as_admin { &admin } else { &trader };
            let auth = (path != "/api/v1/auth/register").then_some(token.as_str());
            let (s, v) = c.call(method.clone(), path, auth, Some(&body)).await;
            assert_eq!(
                !refused_as_input(s, &v),
                inside,
                "{method} {path} with {field} of {len} characters: the document says \
                 {min}..={max}, the server answered {s} {v}"
            );
        }
    }
}

/// `(path, body, field, a value the field's pattern admits, one it does not)`.
fn pattern_probes() -> Vec<(
    &'static str,
    Value,
    &'static str,
    &'static str,
    &'static str,
)> {
    let order = json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "1.00", "quantity": "0.0100"});
    vec![
        ("/api/v1/orders", order.clone(), "price", "1.00", "0"),
        ("/api/v1/orders", order.clone(), "quantity", "0.0100", "1e2"),
        (
            "/api/v1/orders",
            order.clone(),
            "client_order_id",
            "a.b:c-d_e",
            "a b",
        ),
        ("/api/v1/orders", order, "market", "BTC-USD", "btc-usd"),
        (
            "/api/v1/api-keys",
            json!({"label": "probe"}),
            "allow_ips",
            "10.0.0.0/8",
            " 10.0.0.1",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_probed_pattern_of_the_document_is_the_servers() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let trader = c.trader("prober").await;
    c.deposit(&admin, "prober", "USD", "100000").await;
    let (_, doc) = c.get("/openapi.json", None).await;
    for (path, base, field, good, bad) in pattern_probes() {
        let prop = &schema_of(&doc, &Method::POST, path)["properties"][field];
        let pattern = prop["pattern"]
            .as_str()
            .or_else(|| prop["items"]["pattern"].as_str())
            .unwrap_or_else(|| panic!("{path}: {field} has no pattern: {prop}"));
        for (value, admitted) in [(good, true), (bad, false)] {
            let mut body = base.clone();
            body[field] = if prop["items"].is_object() {
                json!([value])
            } else {
                json!(value)
            };
            let (s, v) = c.call(Method::POST, path, Some(&trader), Some(&body)).await;
            // Outside the pattern: refused at all (a decimal's syntax is `INVALID_DECIMAL`,
            // a zero price `OFF_GRID`, a symbol no market can have `UNKNOWN_MARKET`);
            // inside: not refused as malformed.
            let refused = if admitted {
                refused_as_input(s, &v)
            } else {
                s.is_client_error()
            };
            assert_eq!(
                !refused, admitted,
                "POST {path} with {field} = {value:?}: the document's pattern {pattern} says \
                 {admitted}, the server answered {s} {v}"
            );
        }
    }
}
