//! The OpenAPI document (`/openapi.json`) against the code: every route is documented and
//! served, every operation documents its errors in the contract's shape, every error code
//! of the code is in the document's table, and `/docs` works offline.
//!
//! API routes are registered with utoipa-axum's `routes!` (`bourse_http::api`): a handler
//! is served at its `#[utoipa::path]` path, so it is documented by construction. What is
//! checked here: no route is registered the plain axum way (`.route("PATH", …)` in the
//! HTTP crate's source) unless it is deliberately undocumented, and every documented
//! operation is served by a running server: none may hit the router's fallback (404 "no
//! such endpoint") or answer 405.

mod common;

use common::{start, test_config, Client};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Routes deliberately outside the OpenAPI document, with why.
const UNDOCUMENTED: &[(&str, &str)] = &[
    (
        "/ws",
        "WebSocket: its protocol is DESIGN §5, not an HTTP operation",
    ),
    (
        "/api/v3/",
        "Binance-compatible subset: its own document, /binance/openapi.json (tests/binance_openapi.rs)",
    ),
];

fn exempt(path: &str) -> bool {
    UNDOCUMENTED
        .iter()
        .any(|(p, _)| path == *p || (p.ends_with('/') && path.starts_with(p)))
        // The embedded web terminal's pages and assets.
        || !(path.starts_with("/api/") || ["/health", "/ready", "/metrics"].contains(&path))
}

/// The HTTP crate's sources: where routes are registered.
fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../http/src")
}

/// The gateway's sources: where most error codes are made.
fn gateway_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../gateway/src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(METHOD, path)` of every `.route(…)` call in `text`.
fn routes_in(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        // The argument list, up to the matching parenthesis.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find_map(|(j, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(j)
            })
            .expect("unbalanced .route(");
        let args = &rest[..end];
        let Some(path) = args.split('"').nth(1) else {
            continue;
        };
        let methods = ["get", "post", "put", "patch", "delete"];
        for m in methods {
            let hit = args.match_indices(&format!("{m}(")).any(|(k, _)| {
                k == 0
                    || !args.as_bytes()[k - 1].is_ascii_alphanumeric()
                        && args.as_bytes()[k - 1] != b'_'
            });
            if hit {
                out.push((m.to_uppercase(), path.to_owned()));
            }
        }
    }
    out
}

fn served_routes() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    files
        .iter()
        .flat_map(|f| routes_in(&std::fs::read_to_string(f).unwrap()))
        .collect()
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().unwrap() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("responses").is_some() {
                out.push((method.to_uppercase(), path.clone(), op));
            }
        }
    }
    out
}

/// Follows a local `$ref` (`#/components/…`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let ptr = r.strip_prefix('#').expect("local $ref");
            resolve(
                doc,
                doc.pointer(ptr)
                    .unwrap_or_else(|| panic!("dangling $ref {r}")),
            )
        }
        None => v,
    }
}

fn json_schema_ref(response: &Value) -> Option<&str> {
    response
        .pointer("/content/application~1json/schema/$ref")
        .and_then(Value::as_str)
}

const ERROR_REF: &str = "#/components/schemas/ErrorResponse";

#[test]
fn the_document_is_openapi_3_1_with_security_schemes_and_servers() {
    let doc = serde_json::to_value(bourse_http::api::document()).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "Bourse API");
    assert!(doc["info"]["version"].is_string());
    assert_eq!(
        doc["servers"][0]["url"], "/",
        "relative server: works on any host"
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["name"], "X-API-KEY");
    assert!(doc["components"]["schemas"]["ErrorResponse"]["example"].is_object());
    // Every section of /docs is declared (with a description) in `openapi.rs`.
    let declared: BTreeSet<&str> = doc["tags"]
        .as_array()
        .expect("top-level tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for (method, path, op) in operations(&doc) {
        for tag in op["tags"].as_array().into_iter().flatten() {
            let tag = tag.as_str().unwrap();
            assert!(
                declared.contains(tag),
                "{method} {path}: tag {tag:?} not declared"
            );
        }
        assert!(op["tags"].is_array(), "{method} {path} has no tag");
    }
}

#[test]
fn every_route_is_documented() {
    let doc = serde_json::to_value(bourse_http::api::document()).unwrap();
    let documented = documented(&doc);
    assert!(
        documented.contains(&("GET".into(), "/health".into()))
            && documented.contains(&("POST".into(), "/api/v1/orders".into())),
        "the document lacks the routes registered with routes!: {documented:?}"
    );
    let plain = served_routes();
    assert!(
        plain.contains(&("GET".into(), "/ws".into())),
        "the route scan found nothing: {plain:?}"
    );
    let undocumented: Vec<_> = plain.iter().filter(|(_, p)| !exempt(p)).collect();
    assert!(
        undocumented.is_empty(),
        "registered with .route() instead of routes!, so not in the OpenAPI document: \
         {undocumented:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_config(dir.path(), None)).await;
    let c = Client::new(app.addr);
    let (s, served_doc) = c.get("/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    let doc = serde_json::to_value(bourse_http::api::document()).unwrap();
    assert_eq!(
        served_doc, doc,
        "/openapi.json is not the generated document"
    );

    for (method, path, _) in operations(&doc) {
        let concrete = path
            .split('/')
            .map(|seg| match seg {
                "{symbol}" => "BTC-USD",
                s if s.starts_with('{') => "1",
                s => s,
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = matches!(method, Method::POST | Method::PUT | Method::PATCH)
            .then(|| serde_json::json!({}));
        let (s, v) = c.call(method.clone(), &concrete, None, body.as_ref()).await;
        let fallback = s == StatusCode::NOT_FOUND && v["error"]["message"] == "no such endpoint";
        assert!(
            !fallback && s != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {concrete} (documented as {path}) is not served: {s} {v}"
        );
    }
    app.shutdown().await;
}

#[test]
fn every_operation_documents_its_errors_in_the_contract_shape() {
    let doc = serde_json::to_value(bourse_http::api::document()).unwrap();
    let mut problems = Vec::new();
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        let takes_input = op
            .get("parameters")
            .is_some_and(|p| p.as_array().is_some_and(|a| !a.is_empty()))
            || op.get("requestBody").is_some()
            || op.get("security").is_some();
        let errors: Vec<_> = responses
            .iter()
            .filter(|(code, _)| code.starts_with('4') || code.starts_with('5'))
            .collect();
        if takes_input && !errors.iter().any(|(code, _)| code.starts_with('4')) {
            problems.push(format!("{method} {path}: takes input but documents no 4xx"));
        }
        for (code, r) in &errors {
            let r = resolve(&doc, r);
            // /health and /ready answer 503 with their own body, by design.
            let own_body = code.as_str() == "503" && ["/health", "/ready"].contains(&path.as_str());
            if !own_body && json_schema_ref(r) != Some(ERROR_REF) {
                problems.push(format!("{method} {path}: {code} is not an ErrorResponse"));
            }
            if r["description"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{method} {path}: {code} has no description"));
            }
        }
        if op.get("security").is_some() && !responses.contains_key("401") {
            problems.push(format!("{method} {path}: authenticated but no 401"));
        }
        if !responses.keys().any(|c| c.starts_with('2')) {
            problems.push(format!("{method} {path}: no success response"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Does a JSON success response carry an example (on the media type, or on the schema,
/// its array items, or every property)?
fn has_example(doc: &Value, media: &Value) -> bool {
    if media.get("example").is_some() || media.get("examples").is_some() {
        return true;
    }
    let Some(schema) = media.get("schema") else {
        return true;
    };
    schema_has_example(doc, schema, 0)
}

fn schema_has_example(doc: &Value, schema: &Value, depth: usize) -> bool {
    let s = resolve(doc, schema);
    if depth > 8 || s.get("example").is_some() || s.get("examples").is_some() {
        return true;
    }
    if let Some(items) = s.get("items") {
        return schema_has_example(doc, items, depth + 1);
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        // Required properties must be illustrated; optional ones may go without.
        let required: Vec<&str> = s["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        return !props.is_empty()
            && props
                .iter()
                .filter(|(name, _)| required.contains(&name.as_str()))
                .all(|(_, p)| schema_has_example(doc, p, depth + 1) || is_plain(doc, p));
    }
    is_plain(doc, s)
}

/// Enums, booleans and integers are self-explanatory; strings (decimals!) need examples.
fn is_plain(doc: &Value, schema: &Value) -> bool {
    let s = resolve(doc, schema);
    if s.get("enum").is_some() || s.get("const").is_some() {
        return true;
    }
    if let Some(alts) = s
        .get("oneOf")
        .or_else(|| s.get("anyOf"))
        .and_then(Value::as_array)
    {
        return alts
            .iter()
            .all(|a| is_plain(doc, a) || schema_has_example(doc, a, 1));
    }
    let types: Vec<&str> = match &s["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    !types.is_empty()
        && types
            .iter()
            .all(|t| ["boolean", "integer", "null"].contains(t))
}

#[test]
fn every_success_response_has_an_example() {
    let doc = serde_json::to_value(bourse_http::api::document()).unwrap();
    let mut missing = Vec::new();
    for (method, path, op) in operations(&doc) {
        for (code, r) in op["responses"].as_object().unwrap() {
            if !code.starts_with('2') {
                continue;
            }
            if let Some(media) = resolve(&doc, r).pointer("/content/application~1json") {
                if !has_example(&doc, media) {
                    missing.push(format!("{method} {path} {code}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "success responses without an example:\n{}",
        missing.join("\n")
    );
}

/// SCREAMING_SNAKE string literals of `text` outside `//` comments and attributes
/// (naive: between double quotes).
fn screaming_literals(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//") && !l.trim_start().starts_with("#["))
        .collect::<Vec<_>>()
        .join("\n");
    code.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.len() >= 4
                && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                && s.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        })
        .map(str::to_owned)
        .collect()
}

/// Every error code the server can send: the literals of both `error.rs` (gateway and
/// HTTP), every `RejectCode`, and codes passed to `Error::invalid(…)` or
/// `Error::unauthorized(…)` or `Error::forbidden(…)` or set as `code: "…"` anywhere in the gateway or HTTP crate.
fn error_codes() -> BTreeSet<String> {
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
    let mut codes: BTreeSet<String> = screaming_literals(&read(src_dir().join("error.rs")))
        .into_iter()
        .chain(screaming_literals(&read(gateway_dir().join("error.rs"))))
        .collect();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/src/reject.rs");
    codes.extend(screaming_literals(&read(model)));
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    rust_files(&gateway_dir(), &mut files);
    for f in files {
        let squeezed: String = read(f).chars().filter(|c| !c.is_whitespace()).collect();
        for pat in ["invalid(\"", "unauthorized(\"", "forbidden(\"", "code:\""] {
            for (i, _) in squeezed.match_indices(pat) {
                let rest = &squeezed[i + pat.len()..];
                let lit = &rest[..rest.find('"').unwrap_or(0)];
                if screaming_literals(&format!("\"{lit}\"")).len() == 1 {
                    codes.insert(lit.to_owned());
                }
            }
        }
    }
    codes
}

#[test]
fn every_error_code_is_in_the_documented_table() {
    let codes = error_codes();
    for expected in [
        "INSUFFICIENT_BALANCE",
        "MALFORMED_JSON",
        "OFF_GRID",
        "INTERNAL",
    ] {
        assert!(
            codes.contains(expected),
            "code scan missed {expected}: {codes:?}"
        );
    }
    let doc = serde_json::to_value(bourse_http::api::document()).unwrap();
    let description = doc["info"]["description"].as_str().unwrap();
    let missing: Vec<_> = codes
        .iter()
        .filter(|c| !description.contains(&format!("`{c}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "error codes missing from openapi_description.md: {missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_are_served_offline_from_the_server_itself() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_config(dir.path(), None)).await;
    let base = format!("http://{}", app.addr);
    let http = reqwest::Client::new();

    let res = http.get(format!("{base}/docs/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let url = &rest[..rest.find('"').unwrap()];
            assert!(
                !url.contains("://") && !url.starts_with("//"),
                "/docs loads {url} from outside the server"
            );
            if url.ends_with(".js") || url.ends_with(".css") {
                let asset = url.trim_start_matches("./");
                let res = http
                    .get(format!("{base}/docs/{asset}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::OK, "{url}");
                let body = res.text().await.unwrap();
                assert!(body.len() > 100, "{url} is empty");
                if asset.contains("initializer") {
                    assert!(body.contains("/openapi.json"), "{body}");
                }
            }
        }
    }
    // The bundle itself is vendored (hundreds of kB), not a loader for a CDN.
    let bundle = http
        .get(format!("{base}/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.text().await.unwrap().len() > 100_000);
    // `/docs` without the slash gets there too.
    let res = http.get(format!("{base}/docs")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.shutdown().await;
}
