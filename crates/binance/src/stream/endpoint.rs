//! The stream endpoints' upgrades and the connection loop.
//!
//! Rules (beside the protocol in the parent module's doc):
//! - Inbound rate: every frame the client sends (text, binary, ping, pong) counts. A
//!   streams connection over `[binance] ws_messages_per_second` (Binance: 5) is closed
//!   with code 1008 (`too many messages`) before the frame is read; a WebSocket API
//!   connection over `ws_api_requests_per_second` gets the request answered status 429,
//!   code -1003, unprocessed, and stays open.
//! - Upgrade attempts are charged to the client IP's `[limits] ws_connect` quota (as on
//!   `/ws`), and the connection counts in `max_connections_per_ip`: over either, HTTP 429
//!   with -1003.
//! - A message over 64 KiB closes the connection with code 1009 (`message too big`).
//! - A listen key that expired or was deleted ends its stream: the connection sends
//!   `listenKeyExpired` and closes (code 1000), checked once a second.

use super::{error_frame, Conn, Endpoint, Replies, WsState};
use crate::error::BinanceError;
use crate::stream::user::UserData;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bourse_gateway::limits::{Class, Key};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use super::{IDLE_LIMIT, PING_EVERY, SEND_TIMEOUT, TICKER_EVERY};

/// The largest message a client may send.
const MAX_MESSAGE: usize = 64 * 1024;
const TOO_MANY_CLOSE: u16 = 1008;
const TOO_BIG_CLOSE: u16 = 1009;

/// The inbound rate of one connection (`None`: unlimited).
fn inbound_limit(c: &Conn) -> Option<DefaultDirectRateLimiter> {
    let per_second = match c.endpoint {
        Endpoint::Streams { .. } => c.st.cfg.ws_messages_per_second,
        Endpoint::WsApi => c.st.cfg.ws_api_requests_per_second,
    };
    NonZeroU32::new(per_second).map(|n| RateLimiter::direct(Quota::per_second(n)))
}

/// What to do with a frame over the inbound rate.
fn over_rate(c: &mut Conn, msg: &Message) -> Replies {
    match c.endpoint {
        Endpoint::Streams { .. } => {
            c.closing = Some((TOO_MANY_CLOSE, "too many messages"));
            Vec::new()
        }
        Endpoint::WsApi => {
            let id = match msg {
                Message::Text(t) => serde_json::from_str::<Value>(t.as_str())
                    .ok()
                    .and_then(|v| v.get("id").cloned())
                    .unwrap_or(Value::Null),
                _ => return Vec::new(),
            };
            crate::ws_api::refuse(
                &id,
                BinanceError {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    ..BinanceError::new(-1003, "Too many requests; slow down.")
                },
            )
        }
    }
}

/// An expired or deleted listen key: its last event, then the connection closes.
fn listen_key_check(c: &mut Conn) -> Replies {
    let Some(lk) = c.listen_key.clone() else {
        return Vec::new();
    };
    if c.st.keys.get(&lk).is_some() {
        return Vec::new();
    }
    let event = json!({"e": "listenKeyExpired", "E": bourse_engine::now_ms(), "listenKey": lk});
    let frame = c.wrap_user(event);
    c.close_user();
    c.closing = Some((1000, "listenKey expired"));
    vec![frame]
}

/// Runs one connection until it ends: requests answered in order, the feed's frames
/// translated as they come, the tickers once a second.
pub async fn run(mut c: Conn, mut ws: WebSocket) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut ticker = tokio::time::interval(TICKER_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let limit = inbound_limit(&c);
    let mut last_seen = Instant::now();
    loop {
        let replies: Replies = tokio::select! {
            msg = ws.recv() => {
                last_seen = Instant::now();
                match msg {
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(m)) if limit.as_ref().is_some_and(|l| l.check().is_err()) => {
                        over_rate(&mut c, &m)
                    }
                    Some(Ok(Message::Text(t))) => match c.endpoint {
                        Endpoint::WsApi => crate::ws_api::request(&mut c, t.as_str()).await,
                        Endpoint::Streams { .. } => c.request(t.as_str()).await,
                    },
                    Some(Ok(Message::Binary(_))) => vec![error_frame(&Value::Null, 3, "Invalid JSON: expected a text frame")],
                    // Pings are answered by the library.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Vec::new(),
                    // The library's message size limit: say why before going.
                    Some(Err(e)) if e.to_string().contains("Space limit exceeded") => {
                        c.closing = Some((TOO_BIG_CLOSE, "message too big"));
                        Vec::new()
                    }
                    Some(Err(_)) => break,
                }
            }
            msg = c.session.recv() => match msg {
                Some(first) => {
                    let mut msgs = vec![first];
                    while let Some(m) = c.session.try_recv() {
                        msgs.push(m);
                    }
                    c.translate(msgs).await
                }
                // The feed closed this session (slow consumer) or stopped.
                None => {
                    c.closing = Some((1008, "slow consumer"));
                    Vec::new()
                }
            },
            _ = ticker.tick() => {
                let mut out = listen_key_check(&mut c);
                if c.closing.is_none() {
                    out.extend(c.tickers().await);
                }
                out
            }
            _ = ping.tick() => {
                if last_seen.elapsed() >= IDLE_LIMIT {
                    c.closing = Some((1000, "idle timeout"));
                    Vec::new()
                } else if !send(&mut ws, Message::Ping(Default::default())).await {
                    break;
                } else {
                    Vec::new()
                }
            }
        };
        let mut ok = true;
        for r in replies {
            if !send(&mut ws, Message::Text(r.into())).await {
                ok = false;
                break;
            }
        }
        if let Some((code, reason)) = c.closing.filter(|_| ok) {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = send(&mut ws, Message::Close(Some(frame))).await;
            break;
        }
        if !ok {
            break;
        }
    }
}

async fn send(ws: &mut WebSocket, msg: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, ws.send(msg)).await,
        Ok(Ok(()))
    )
}

/// Refuses a plain GET on a WebSocket route.
fn not_upgrade() -> Response {
    BinanceError::new(
        -1100,
        "This is a WebSocket endpoint: send an upgrade request.",
    )
    .into_response()
}

/// Upgrades `req`, or answers why not (not an upgrade; too many upgrade attempts or
/// connections from the address: -1003 with HTTP 429, `Retry-After` for the former).
async fn upgrade(
    st: Arc<WsState>,
    req: Request,
    endpoint: Endpoint,
    names: Vec<String>,
) -> Response {
    let ip = crate::ip_of(&req);
    let (mut parts, _) = req.into_parts();
    let Ok(ws) = WebSocketUpgrade::from_request_parts(&mut parts, &()).await else {
        return not_upgrade();
    };
    let addr = ip.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    // Upgrade attempts per IP, the `/ws` endpoint's `ws_connect` quota.
    match st
        .gw
        .limiter
        .charge(Class::WsConnect, Key::ip(addr), 1, "RATE_LIMITED")
        .await
    {
        Ok(_) => {}
        Err(e) => return BinanceError::from(e).into_response(),
    }
    let Some(session) = st.feed.open(addr) else {
        return BinanceError {
            status: StatusCode::TOO_MANY_REQUESTS,
            ..BinanceError::new(-1003, "Too many WebSocket connections from this address.")
        }
        .into_response();
    };
    ws.max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            let mut c = Conn::new(st.clone(), endpoint, session, ip);
            for name in &names {
                if let Some((user, key_id)) = st.keys.get(name) {
                    if c.open_user(UserData::new(user, key_id), json!(name))
                        .await
                        .is_ok()
                    {
                        c.listen_key = Some(name.clone());
                    }
                }
            }
            c.subscribe_names(names.iter().map(String::as_str)).await;
            run(c, socket).await;
        })
}

/// `GET /binance/ws[/…]`.
pub async fn raw(State(st): State<Arc<WsState>>, req: Request) -> Response {
    let names = req
        .uri()
        .path()
        .strip_prefix("/binance/ws")
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    upgrade(st, req, Endpoint::Streams { combined: false }, names).await
}

/// `GET /binance/stream?streams=a/b`.
pub async fn combined(State(st): State<Arc<WsState>>, req: Request) -> Response {
    let names = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "streams")
        .flat_map(|(_, v)| {
            v.split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    upgrade(st, req, Endpoint::Streams { combined: true }, names).await
}

/// `GET /binance/ws-api/v3`.
pub async fn ws_api(State(st): State<Arc<WsState>>, req: Request) -> Response {
    upgrade(st, req, Endpoint::WsApi, Vec::new()).await
}
