//! The WebSocket API at `/binance/ws-api/v3`, as much of it as user data streams need.
//!
//! Requests `{"id", "method", "params": {…}}`; answers `{"id", "status": 200, "result",
//! "rateLimits": []}` or `{"id", "status": <HTTP status>, "error": {"code", "msg"}}` with
//! the REST API's codes.
//!
//! - `ping` → `{}`; `time` → `{"serverTime"}`;
//! - `userDataStream.subscribe.signature` with `apiKey`, `timestamp`, optional
//!   `recvWindow`, and `signature` = hex HMAC-SHA256 of the other parameters sorted by
//!   name and form-encoded (`apiKey=…&timestamp=…`): the key needs the `read`
//!   permission; → `{"subscriptionId": n}`, then that user's events wrapped
//!   `{"subscriptionId": n, "event": {…}}` (see `crate::stream::user`). One user data
//!   subscription per connection; a second one replaces the first.
//! - `userDataStream.unsubscribe` → `{}`; the events stop.
//! - anything else: status 400, code -1000 `Unknown method.`; invalid JSON: status 400,
//!   code -1000 with the parser's message and id null.

use crate::error::BinanceError;
use crate::stream::user::UserData;
use crate::stream::{Conn, Replies};
use bourse_engine::now_ms;
use bourse_gateway::auth::Signature;
use bourse_model::Permission;
use serde_json::{json, Value};

fn answer(id: &Value, result: Value) -> Replies {
    vec![json!({"id": id, "status": 200, "result": result, "rateLimits": []}).to_string()]
}

pub(crate) fn refuse(id: &Value, e: BinanceError) -> Replies {
    vec![json!({"id": id, "status": e.status.as_u16(),
        "error": {"code": e.code, "msg": e.msg}, "rateLimits": []})
    .to_string()]
}

/// A parameter's text (numbers as written).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The payload a WebSocket API signature covers: every parameter but `signature`,
/// sorted by name, form-encoded.
pub fn signed_payload(params: &serde_json::Map<String, Value>) -> String {
    let mut keys: Vec<&String> = params.keys().filter(|k| *k != "signature").collect();
    keys.sort();
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for k in keys {
        if let Some(v) = text(&params[k]) {
            ser.append_pair(k, &v);
        }
    }
    ser.finish()
}

pub async fn request(c: &mut Conn, raw: &str) -> Replies {
    let v: Value = match serde_json::from_str(raw) {
        Ok(v) => v,
        Err(e) => {
            return refuse(
                &Value::Null,
                BinanceError::new(-1000, format!("Invalid JSON: {e}")),
            )
        }
    };
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    let empty = serde_json::Map::new();
    let params = v.get("params").and_then(Value::as_object).unwrap_or(&empty);
    match v.get("method").and_then(Value::as_str) {
        Some("ping") => answer(&id, json!({})),
        Some("time") => answer(&id, json!({"serverTime": now_ms()})),
        Some("userDataStream.subscribe.signature") => match subscribe(c, params).await {
            Ok(sub) => answer(&id, json!({"subscriptionId": sub})),
            Err(e) => refuse(&id, e),
        },
        Some("userDataStream.unsubscribe") => {
            c.close_user();
            answer(&id, json!({}))
        }
        _ => refuse(&id, BinanceError::new(-1000, "Unknown method.")),
    }
}

async fn subscribe(
    c: &mut Conn,
    params: &serde_json::Map<String, Value>,
) -> Result<u64, BinanceError> {
    let get = |k: &str| params.get(k).and_then(text).filter(|s| !s.is_empty());
    let key = get("apiKey").ok_or_else(|| BinanceError::missing("apiKey"))?;
    let timestamp = get("timestamp").ok_or_else(|| BinanceError::missing("timestamp"))?;
    let signature = get("signature").ok_or_else(|| BinanceError::missing("signature"))?;
    if let Some(w) = get("recvWindow") {
        match w.parse::<u64>() {
            Ok(w) if w <= 60_000 => {}
            Ok(_) => {
                return Err(BinanceError::new(
                    -1131,
                    "recvWindow must be less than 60000",
                ))
            }
            Err(_) => return Err(BinanceError::illegal("recvWindow")),
        }
    }
    let payload = signed_payload(params);
    let sig = Signature {
        key_id: &key,
        timestamp: &timestamp,
        signature: &signature,
    };
    let caller =
        c.st.gw
            .authenticate_signed(sig, payload.as_bytes(), c.ip)
            .await?;
    caller.require(Permission::Read)?;
    c.close_user();
    let sub = c.next_subscription();
    c.open_user(UserData::new(caller.id, key), json!(sub))
        .await
        .map_err(|e| BinanceError::new(-1001, e))?;
    Ok(sub)
}
