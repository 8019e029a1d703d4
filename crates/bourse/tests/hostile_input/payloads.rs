//! The hostile values and the documented rules that decide where each is refused (see
//! the table in `main.rs`), the valid bodies they are put into, the whole-body
//! replacements and the forged credentials.

use super::{Auth, Field, Op};
use serde_json::{json, Value};

/// One hostile value for a JSON field: a value, or raw JSON text that `serde_json::Value`
/// cannot hold (a lone surrogate, `1e400`, `-0`, deep nesting).
#[derive(Clone, Debug)]
pub enum Hostile {
    Json(Value),
    Raw(String),
}

pub fn mb() -> String {
    "A".repeat(1_000_000)
}

/// Hostile strings: for path and query parameters, and as JSON strings.
pub fn strings() -> Vec<String> {
    vec![
        "' OR '1'='1' --".into(),
        "'; DROP TABLE users; --".into(),
        "1;SELECT pg_sleep(30)".into(),
        "../../../../etc/passwd".into(),
        "..\\..\\..\\win.ini".into(),
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd".into(),
        "a\u{0}b".into(),
        "\u{7}\u{1b}[31mred".into(),
        "x\r\nSet-Cookie: a=b".into(),
        "\u{202E}DSU-CTB".into(),
        "BTC\u{200D}-\u{200D}USD".into(),
        "\u{FEFF}BTC-USD".into(),
        "ＢＴＣ-ＵＳＤ".into(),
        "🚀🚀🚀".into(),
        "1e400".into(),
        "99999999999999999999999999".into(),
        "-0".into(),
        "-1".into(),
        "NaN".into(),
        "0x10".into(),
        "".into(),
        "   ".into(),
        "T".repeat(201),
        "M".repeat(4001),
    ]
}

/// Hostile JSON values for a body field.
pub fn values() -> Vec<Hostile> {
    let mut out: Vec<Hostile> = strings()
        .into_iter()
        .map(|s| Hostile::Json(json!(s)))
        .collect();
    out.push(Hostile::Json(json!(mb())));
    for raw in [
        "1e400",
        "99999999999999999999999999",
        "-0",
        "-1",
        "\"\\ud800\"",
    ] {
        out.push(Hostile::Raw(raw.into()));
    }
    for v in [json!(true), json!({}), json!([]), Value::Null] {
        out.push(Hostile::Json(v));
    }
    out.push(Hostile::Raw(deep(10_000)));
    out
}

pub fn deep(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// Whether the documented rule of `field` (in the operation `path`) allows `v`: such a
/// value may be accepted, so it is not sent there. What is not listed allows no hostile
/// value: decimal strings (digits, one optional point, fitting 64 bits, positive),
/// enums, booleans, integers, addresses in `allow_ips`, and names that must exist
/// (markets, assets, users).
pub fn allowed(path: &str, field: &Field, v: &Hostile) -> bool {
    let Hostile::Json(Value::String(s)) = v else {
        // Non-strings: `-0` and `-1` as integers are refused by `u64`, but 0 is a fine
        // fee; `null` is the documented "absent" of optional fields; a boolean field
        // takes `true`; an empty `allow_ips` is "any address".
        return match (field.name.as_str(), v) {
            (
                "maker_fee_bps" | "taker_fee_bps" | "market_slippage_bps" | "price_band_bps",
                Hostile::Raw(r),
            ) => r == "-0",
            ("kill_switch" | "kyc_verified" | "post_only", Hostile::Json(Value::Bool(_))) => true,
            ("allow_ips", Hostile::Json(Value::Array(a))) => a.is_empty(),
            (_, Hostile::Json(Value::Null)) => !field.required,
            _ => false,
        };
    };
    let chars = s.chars().count();
    let pattern = |extra: &str, max: usize| {
        (1..=max).contains(&chars)
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    };
    match field.name.as_str() {
        // 3–32 of `A-Z a-z 0-9 _ . -`; only registering creates anything.
        "username" if path == "/api/v1/auth/register" => chars >= 3 && pattern("_.-", 32),
        // 8–128 characters of anything.
        "password" if path == "/api/v1/auth/register" => (8..=128).contains(&chars),
        "new_password" => (8..=128).contains(&chars),
        // 1–64 characters, no control characters.
        "label" | "beneficial_owner" => {
            (1..=64).contains(&chars) && !s.chars().any(char::is_control)
        }
        // 1–128 printable ASCII characters, no spaces.
        "address" => (1..=128).contains(&chars) && s.bytes().all(|b| b.is_ascii_graphic()),
        // A new market's symbols: 1–20 of `[A-Z0-9-]` (so `-0` is a fine asset name).
        "symbol" | "base" | "quote" if path == "/api/v1/admin/markets" => {
            (1..=20).contains(&chars)
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        }
        "client_order_id" => pattern("_.:-", 36),
        "client_withdrawal_id" => pattern("_-", 36),
        // Not blank, at most 200 / 4000 (bytes, as the server counts).
        "title" => !s.trim().is_empty() && s.len() <= 200,
        "message" => !s.trim().is_empty() && s.len() <= 4000,
        _ => false,
    }
}

/// Percent-encodes every byte that is not unreserved, so the value arrives as it is.
pub fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A valid body for each operation that takes one: sent as is, it would be accepted.
pub fn valid_body(op: &Op) -> Option<Value> {
    let body = match (op.method.as_str(), op.template.as_str()) {
        ("POST", "/api/v1/admin/announcements") => {
            json!({"title": "Maintenance", "message": "Soon", "priority": "low"})
        }
        ("POST", "/api/v1/admin/deposits") => {
            json!({"username": "alice", "asset": "USD", "amount": "10"})
        }
        ("POST", "/api/v1/admin/markets") => json!({
            "symbol": "ETH-USD", "base": "ETH", "quote": "USD", "tick_size": "0.01",
            "lot_size": "0.001", "min_notional": "1", "maker_fee_bps": 10,
            "taker_fee_bps": 20, "market_slippage_bps": 500, "price_band_bps": 1000,
            "max_quantity": "1000", "min_quantity": "0.001"}),
        ("PATCH", "/api/v1/admin/users/{username}") => json!({"tier": "premium"}),
        ("POST", "/api/v1/api-keys") => json!({"label": "second bot"}),
        ("POST", "/api/v1/auth/login") => json!({"username": "bob", "password": "password123"}),
        ("POST", "/api/v1/auth/password") => {
            json!({"current_password": "password123", "new_password": "password456"})
        }
        ("POST", "/api/v1/auth/register") => {
            json!({"username": "mallory", "password": "password123"})
        }
        ("POST", "/api/v1/orders") => json!({
            "market": "BTC-USD", "side": "buy", "type": "limit", "price": "99",
            "quantity": "0.5", "time_in_force": "gtc", "client_order_id": "c-1",
            "post_only": true, "stp": "expire_taker"}),
        ("PATCH", "/api/v1/orders/{id}") => json!({"price": "98", "quantity": "2"}),
        ("POST", "/api/v1/price-alerts") => {
            json!({"market": "BTC-USD", "condition": "below", "price": "90"})
        }
        ("POST", "/api/v1/withdrawals") => json!({"asset": "USD", "amount": "1",
            "address": "bank:DE00", "client_withdrawal_id": "w-1"}),
        _ if op.fields.is_empty() => return None,
        (m, t) => panic!("no valid body for {m} {t}: add one"),
    };
    Some(body)
}

/// A valid value for each query parameter, for the duplicated-key case.
pub fn query_value(template: &str, name: &str) -> Option<&'static str> {
    Some(match (name, template) {
        ("limit" | "depth", _) => "10",
        ("cursor" | "after" | "before" | "start" | "end", _) => "1",
        ("market", _) => "BTC-USD",
        ("status", "/api/v1/admin/withdrawals") => "pending",
        ("status", _) => "open",
        ("interval", _) => "1m",
        ("unread", _) => "true",
        _ => return None,
    })
}

/// `body` as JSON text with `field` set to `v` (raw text allowed).
pub fn with_field(body: &Value, field: &str, v: &Hostile) -> Vec<u8> {
    const MARK: &str = "\u{1}HOSTILE\u{1}";
    let mut b = body.clone();
    b[field] = json!(MARK);
    let text = serde_json::to_string(&b).unwrap();
    let raw = match v {
        Hostile::Json(v) => serde_json::to_string(v).unwrap(),
        Hostile::Raw(r) => r.clone(),
    };
    text.replace(&serde_json::to_string(MARK).unwrap(), &raw)
        .into_bytes()
}

/// Whole-body replacements for an operation with `valid` as its valid body.
pub fn bodies(valid: &Value) -> Vec<(String, Vec<u8>, Option<&'static str>)> {
    const JSON: Option<&str> = Some("application/json");
    let text = serde_json::to_string(valid).unwrap();
    let (first_key, first_value) = valid.as_object().unwrap().iter().next().unwrap();
    let pair = format!("{}:{}", json!(first_key), first_value);
    let mut out: Vec<(String, Vec<u8>, Option<&str>)> = vec![
        ("empty".into(), vec![], JSON),
        ("truncated".into(), text[..text.len() / 2].into(), JSON),
        ("null".into(), b"null".to_vec(), JSON),
        ("array".into(), format!("[{text}]").into_bytes(), JSON),
        ("string".into(), b"\"' OR 1=1 --\"".to_vec(), JSON),
        ("number 1e400".into(), b"1e400".to_vec(), JSON),
        ("nesting 10000".into(), deep(10_000).into_bytes(), JSON),
        (
            "nested objects 10000".into(),
            format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)).into_bytes(),
            JSON,
        ),
        (
            "1 MB unknown field".into(),
            format!("{{{pair},\"x\":\"{}\"}}", mb()).into_bytes(),
            JSON,
        ),
        // Leading white space is valid JSON: only the size is wrong (over 1 MiB).
        (
            "1.1 MB of spaces".into(),
            format!("{}{text}", " ".repeat(1_100_000)).into_bytes(),
            JSON,
        ),
        (
            "duplicated key".into(),
            format!("{{{pair},{}", &text[1..]).into_bytes(),
            JSON,
        ),
        (
            "trailing garbage".into(),
            format!("{text}x").into_bytes(),
            JSON,
        ),
        (
            "trailing NUL".into(),
            format!("{text}\0").into_bytes(),
            JSON,
        ),
        (
            "byte order mark".into(),
            format!("\u{FEFF}{text}").into_bytes(),
            JSON,
        ),
        (
            "unknown field".into(),
            format!("{{{pair},\"role\":\"admin\",\"is_admin\":true}}").into_bytes(),
            JSON,
        ),
        (
            "lone surrogate key".into(),
            format!("{{{pair},\"\\ud800\":1}}").into_bytes(),
            JSON,
        ),
    ];
    // Invalid UTF-8 inside the first string of the body and as a whole body.
    let mut bad = text.clone().into_bytes();
    if let Some(i) = text.find(":\"") {
        bad.insert(i + 2, 0xFF);
        bad.insert(i + 3, 0xC0);
        out.push(("invalid UTF-8 in a string".into(), bad, JSON));
    }
    out.push((
        "invalid UTF-8".into(),
        vec![0xFF, 0xFE, 0x7B, 0x80, 0x7D],
        JSON,
    ));
    // The valid body under wrong content types: refused as such (415), not parsed.
    for ct in [
        None,
        Some("text/plain"),
        Some("text/json"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
    ] {
        out.push((
            format!("content type {ct:?}"),
            text.clone().into_bytes(),
            ct,
        ));
    }
    out
}

/// Forged credentials, each to be refused with 401; `real` is a valid token.
pub fn credentials(real: &str) -> Vec<(String, Auth)> {
    // `{"alg":"none","typ":"JWT"}` . `{"sub":"1","username":"admin","role":"admin",
    // "exp":9999999999}` . no signature.
    let none_jwt = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.\
        eyJzdWIiOiIxIiwidXNlcm5hbWUiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiIsImV4cCI6OTk5OTk5OTk5OX0.";
    let unsigned = format!("{}.", real.rsplit_once('.').unwrap().0);
    let bearer = |t: &str| Auth::Header("authorization", format!("Bearer {t}").into_bytes());
    vec![
        ("bearer SQL".into(), bearer("' OR '1'='1' --")),
        ("bearer traversal".into(), bearer("../../../../etc/passwd")),
        ("bearer alg none".into(), bearer(none_jwt)),
        ("bearer without its signature".into(), bearer(&unsigned)),
        ("bearer 16 KB".into(), bearer(&"a".repeat(16 * 1024))),
        (
            "bearer empty".into(),
            Auth::Header("authorization", b"Bearer ".to_vec()),
        ),
        (
            "basic".into(),
            Auth::Header("authorization", b"Basic YWRtaW46YWRtaW4=".to_vec()),
        ),
        (
            "bearer non-ASCII".into(),
            Auth::Header("authorization", b"Bearer \xff\xfe\x80".to_vec()),
        ),
        (
            "api key SQL".into(),
            Auth::Header("x-api-key", b"' OR 1=1 --".to_vec()),
        ),
    ]
}
