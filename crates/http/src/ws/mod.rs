//! Real-time WebSocket API at `GET /ws` (DESIGN §5).
//!
//! # Protocol
//!
//! Client → server (JSON text frames):
//! - `{"op":"subscribe","channels":["book.BTC-USD","trades.BTC-USD","ticker.BTC-USD","candles.BTC-USD.1m"]}`
//! - `{"op":"unsubscribe","channels":[…]}`
//! - `{"op":"auth","token":"<jwt>"}` or `{"op":"auth","key","timestamp","signature"}`
//!   (hex HMAC-SHA256(secret, timestamp + `"GET"` + `"/ws"`), checked like a signed HTTP
//!   request: window, replay) — then the private channels `orders`, `fills`, `balances`,
//!   `notifications` (only the caller's own data). An API-key session does not expire;
//!   deleting the key ends it. A key needs the `read` permission for private channels
//!   (`PERMISSION_DENIED` otherwise), and a key with an IP allow-list authenticates only
//!   from an address on it (`IP_NOT_ALLOWED`).
//! - `{"op":"ping"}` → `{"type":"pong"}` (application-level keep-alive for clients that
//!   cannot send WebSocket pings).
//!
//! Server → client:
//! - data: `{"channel","type":"snapshot"|"update","sequence","data"}`.
//!   - `book.{symbol}`: a snapshot (the full book) on subscribe, then one update per command
//!     that changed the book, with the new total quantity of every changed level (`"0"` =
//!     level gone). `sequence` is the core's book sequence: updates are consecutive, so a
//!     client that sees a gap resubscribes and gets a fresh snapshot. Snapshot and updates
//!     leave one task in order, so the snapshot's sequence is exactly the one before the
//!     first update that follows it.
//!   - `trades.{symbol}`: one update per command with trades; `data` is the list of trades
//!     `{id, price, quantity, side (taker side), created_at}`; `sequence` is the journal
//!     sequence of the command.
//!   - `ticker.{symbol}`: snapshot on subscribe, then an update whenever last price or the
//!     top of the book changes: `{symbol, last_price, last_quantity, best_bid,
//!     best_bid_quantity, best_ask, best_ask_quantity}` (`sequence` = book sequence).
//!   - `candles.{symbol}.{1m|5m|15m|1h|4h|1d}`: the current candle on subscribe (`data`
//!     null before the market's first trade), then an update per command with trades:
//!     `{start, open, high, low, close, volume, quote_volume, trade_count}`. The fan-out
//!     seeds candles and the ticker's last trade from the read models at start and after
//!     a lag, so they equal the REST candles across restarts.
//!   - `orders`, `fills`, `balances` (private): updates built from the caller's events,
//!     `sequence` = journal sequence.
//!   - `notifications` (private): `data` is a list of notifications (see `crate::notify`);
//!     critical ones come alone and at once, the rest batched: up to 10 per frame or 100 ms.
//! - acks: `{"type":"subscribed","channels":[…]}`, `{"type":"unsubscribed",…}`,
//!   `{"type":"authenticated","user_id","expires_at"}`.
//! - errors: `{"type":"error","code","message"}` (+ `"channel"` when about one). Codes:
//!   `MALFORMED_JSON`, `UNKNOWN_OP`, `UNKNOWN_CHANNEL`, `UNAUTHORIZED` (private channel
//!   before auth, or a bad token), `TOO_MANY_SUBSCRIPTIONS`, `TOO_MANY_CONNECTIONS`,
//!   `TOKEN_EXPIRED`, `TOKEN_REVOKED` (logout, password change) and `INVALID_API_KEY` (key
//!   deleted) — on a live session these end its private subscriptions — the other HTTP
//!   auth codes (`INVALID_SIGNATURE`, `TIMESTAMP_OUT_OF_WINDOW`, `SIGNATURE_REPLAYED`), and
//!   `UPDATES_LOST` (with the channel: the fan-out lagged and updates of a trades, candles,
//!   orders, fills or balances channel were lost; refetch through REST).
//!
//! # Rules
//! - One fan-out task (`crate::realtime::fanout`) reads the sequencer's broadcast, keeps a mirror of every
//!   book, builds each message once (a shared, reference-counted text) and `try_send`s it
//!   to the bounded queue of each subscribed connection. It never waits for a connection,
//!   so it never slows the sequencer. A full queue closes that connection with close code
//!   4008 (`slow consumer`). If the fan-out itself lags behind the broadcast, it reloads
//!   the books from the core and sends every book and ticker subscriber a fresh snapshot,
//!   and every subscriber of the other fan-out channels an `UPDATES_LOST` error frame.
//! - Heartbeats: the server pings every `ping_interval_ms`; a connection silent for
//!   `idle_timeout_ms` (no frame, no pong) is closed with code 4000.
//! - Limits: `max_subscriptions` per connection, `max_connections_per_ip` (HTTP 429 at the
//!   upgrade), `max_connections_per_user` (checked at auth). Rates (`[limits]`, see
//!   `bourse_gateway::limits`): upgrade attempts per IP (`ws_connect`: HTTP 429
//!   `RATE_LIMITED` with `Retry-After` at the upgrade), inbound frames per connection
//!   (`ws_messages`) and `auth` frames per IP (`ws_auth`, charged before the credential
//!   is checked): over those the frame is not processed and the answer is the error frame
//!   `RATE_LIMITED` ("retry in N s"); after `ws_abuse_strikes` refused frames in a row the
//!   connection is closed with code 4029 (`rate limited`). A per-IP slot is held from
//!   the upgrade until the connection ends, or until the upgrade fails (the peer left
//!   mid-handshake).
//! - A session ends when its credential stops holding: the token expires
//!   (`TOKEN_EXPIRED`), is logged out or predates a password change (`TOKEN_REVOKED`),
//!   or its API key is deleted (`INVALID_API_KEY`). The connection gets that error frame,
//!   loses its private subscriptions and is unauthenticated again; public channels
//!   continue. Other sessions of the user whose credential still holds are untouched
//!   (a logout revokes one token). Role changes and the kill switch end no session.
//! - Revocation is noticed in order: for every applied `RevokeToken`, `SetPassword` or
//!   `DeleteApiKey` (`revokes_credentials_of`) the fan-out queues `Out::Recheck` to
//!   each connection authenticated as that user, after the frames of earlier commands and
//!   before those of later ones (the notification service does the same on its feed), and
//!   the connection checks its credential again against the core before writing anything
//!   queued after it. If the fan-out lags it may have missed one: every authenticated
//!   connection re-checks. A re-check that finds the queue full closes the connection
//!   (slow consumer), so a revoked session never outlives a missed re-check.
//! - No private frame after de-authentication: private frames are queued tagged with
//!   their channel (which names the user) and a connection writes one only while it is
//!   subscribed to exactly that channel and not closing. What was queued before the
//!   private subscriptions ended is dropped, including frames the fan-out queued before it
//!   processed the unsubscribe. Public frames are untagged: the hot path is unchanged.

mod conn;

pub use crate::realtime::{Realtime, WsConfig};
pub use crate::ws_protocol::Channel;

use crate::error::ApiError;
use crate::push::{close_code, Out, Sink, WsStats};
use crate::state::SharedState;
use axum::extract::ws::Message;
use axum::extract::{FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bourse_gateway::limits::{Class, Key};
use std::net::IpAddr;
use std::sync::Arc;

pub fn router() -> Router<SharedState> {
    Router::new().route("/ws", get(upgrade))
}

/// `GET /ws`: the WebSocket upgrade (see the module doc for the protocol).
async fn upgrade(State(state): State<SharedState>, req: Request) -> Response {
    // The client address after the trusted-proxy rules (`crate::security::proxy`).
    let ip = crate::auth::client_ip(req.extensions());
    let (mut parts, _body) = req.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    // Connection attempts per IP (a rate, beside the count of open connections below).
    if let Some(ip) = ip {
        match state.limiter.check(Class::WsConnect, Key::ip(ip), 1).await {
            Err(e) => return ApiError(e).into_response(),
            Ok(Some(d)) if !d.allowed => return crate::limits::rate_limited(&d),
            Ok(_) => {}
        }
    }
    // Without the peer address (the app served without connect info) there is no
    // per-IP limit to apply.
    let slot = match ip {
        Some(ip) => match IpSlot::acquire(&state.realtime, ip) {
            Some(slot) => Some(slot),
            None => {
                return crate::error::error_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TOO_MANY_CONNECTIONS",
                    "too many WebSocket connections from this address",
                )
            }
        },
        None => None,
    };
    // The slot lives in the callback: released when the connection ends, and also when
    // the upgrade never completes (the peer left mid-handshake), because then the
    // callback is dropped without running.
    ws.max_message_size(64 * 1024)
        .read_buffer_size(conn::READ_BUFFER_SIZE)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            conn::run(state, socket, ip).await;
        })
}

/// One connection's share of its address's `max_connections_per_ip`; dropping it gives
/// the share back.
struct IpSlot {
    realtime: Arc<Realtime>,
    ip: IpAddr,
}

impl IpSlot {
    fn acquire(realtime: &Arc<Realtime>, ip: IpAddr) -> Option<IpSlot> {
        realtime.acquire_ip(ip).then(|| IpSlot {
            realtime: realtime.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        self.realtime.release_ip(self.ip);
    }
}

pub(crate) fn text(s: String) -> Message {
    Message::Text(s.into())
}
