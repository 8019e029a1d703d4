//! One WebSocket connection: reads requests, writes its queue, batches notifications,
//! pings, and enforces idle timeout, subscription limit, token expiry and revocation, and
//! the rate limits of inbound frames (per connection) and auth frames (per IP), see
//! [`Conn::admit`].
//!
//! A private frame (`Out::Private`, `Out::Notification`) is written only if, at the time
//! of writing, the connection is subscribed to exactly its channel (which names the user)
//! and is not closing. De-authentication removes the private subscriptions first, so
//! whatever was queued for them before (or is queued before the fan-out processes the
//! unsubscribe) is dropped, not written.

use super::{close_code, text, Out, Realtime, Sink, WsStats};
use crate::auth::authenticate_signed;
use crate::auth::AuthUser;
use crate::error::Error;
use crate::realtime::fanout::Control;
use crate::state::SharedState;
use crate::ws_protocol::{self, BadRequest, Channel, ChannelName, Request};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use axum::http::{HeaderMap, HeaderValue};
use bourse_engine::sequencer::now_ms;
use bourse_gateway::error::retry_secs;
use bourse_gateway::limits::{Class, Key};
use bourse_gateway::Caller;
use bourse_model::{Permission, UserId};
use futures_util::SinkExt;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};

/// Notifications per batched frame, and the longest a notification waits for company.
const BATCH_MAX: usize = 10;
const BATCH_WINDOW: Duration = Duration::from_millis(100);
/// Most queued frames written before one flush.
const WRITE_BATCH: usize = 64;
/// The socket's read buffer. Every read attempt zero-fills the buffer's free part
/// first (tungstenite), and this task attempts one each time it wakes to write, so the
/// default 128 KiB cost a 128 KiB memset per delivered batch. Client requests are small.
pub(crate) const READ_BUFFER_SIZE: usize = 4 * 1024;

struct Auth {
    user: UserId,
    /// Who, and what the credential allows (private channels need `read`).
    caller: Caller,
    expires: Instant,
    /// Kept to check again when a logout, password change or key deletion of `user`
    /// is applied (`Out::Recheck`).
    cred: Credential,
}

enum Credential {
    /// The JWT itself: re-checked exactly like on HTTP.
    Token(String),
    /// The API key id.
    Key(String),
}

/// Sessions without an expiry (API keys) still get a far deadline for the timer.
const MAX_SESSION_MS: u64 = 365 * 86_400_000;

type Refusal = (&'static str, String);

/// An HTTP auth error as a WS error code and message.
fn refusal(e: Error) -> Refusal {
    let (_, code) = e.kind_and_code();
    (code, e.to_string())
}

struct Conn {
    state: SharedState,
    sink: Sink,
    auth: Option<Auth>,
    /// Subscribed channel names (as the client wrote them) → resolved channel.
    subs: HashMap<String, Channel>,
    /// Notifications waiting for a frame, with their priority's name.
    batch: Vec<(&'static str, Utf8Bytes)>,
    batch_deadline: Option<Instant>,
    /// Id of the newest notification in `batch` (the frame's `sequence`).
    batch_last: u64,
    /// An `Out::Recheck` was taken from the queue: check the credential before writing
    /// anything queued after it.
    recheck_due: bool,
    /// The client's address (`crate::limits::client_ip`), when served with connect info;
    /// API keys with an allow-list check it too.
    ip: Option<IpAddr>,
    /// Frames refused by the rate limit in a row.
    strikes: u32,
}

/// Whether a client frame may be processed.
enum Admit {
    Go,
    /// Refused (the error frame is sent); `false` when the connection ends.
    Refused(bool),
}

fn rt(state: &SharedState) -> &Arc<Realtime> {
    &state.realtime
}

pub(crate) async fn run(state: SharedState, ws: WebSocket, ip: Option<IpAddr>) {
    let realtime = rt(&state).clone();
    let (sink, mut queue, closer) = realtime.new_sink();
    realtime.stats.connections.fetch_add(1, Ordering::Relaxed);
    let mut c = Conn {
        state,
        sink,
        auth: None,
        subs: HashMap::new(),
        batch: Vec::new(),
        batch_deadline: None,
        batch_last: 0,
        recheck_due: false,
        ip,
        strikes: 0,
    };
    let cfg = &realtime.config;
    let mut socket = Socket {
        ws,
        timeout: Duration::from_millis(cfg.send_timeout_ms.max(1)),
    };
    let idle = Duration::from_millis(cfg.idle_timeout_ms);
    let mut ping = tokio::time::interval(Duration::from_millis(cfg.ping_interval_ms.max(10)));
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut last_seen = Instant::now();
    let far = || Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        let batch_at = c.batch_deadline.unwrap_or_else(far);
        let expiry_at = c.auth.as_ref().map_or_else(far, |a| a.expires);
        let ok = tokio::select! {
            msg = socket.ws.recv() => {
                last_seen = Instant::now();
                match msg {
                    Some(Ok(Message::Text(t))) => match c.admit(&mut socket).await {
                        Admit::Go => c.request(&mut socket, t.as_str()).await,
                        Admit::Refused(ok) => ok,
                    },
                    Some(Ok(Message::Binary(_))) => match c.admit(&mut socket).await {
                        Admit::Go => send(&mut socket, ws_protocol::error_frame("MALFORMED_JSON", "expected a JSON text frame", None)).await,
                        Admit::Refused(ok) => ok,
                    },
                    // A ping is answered (by the library): it counts like a request.
                    Some(Ok(Message::Ping(_))) => match c.admit(&mut socket).await {
                        Admit::Go => true,
                        Admit::Refused(ok) => ok,
                    },
                    Some(Ok(Message::Pong(_))) => true,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => false,
                }
            }
            out = queue.recv() => match out {
                Some(out) => {
                    // One deadline for the whole write (see `Socket`).
                    let ok = tokio::time::timeout(
                        socket.timeout,
                        c.write_queued(&mut socket, out, &mut queue, &realtime.stats),
                    )
                    .await
                    .unwrap_or(false);
                    ok && (!std::mem::take(&mut c.recheck_due) || c.recheck(&mut socket).await)
                }
                None => false,
            },
            _ = closer.notify.notified() => {
                if let Some(frame) = closer.frame() {
                    let _ = socket.send_msg(Message::Close(Some(frame))).await;
                }
                false
            }
            _ = ping.tick() => {
                if last_seen.elapsed() >= idle {
                    realtime.stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                    let _ = socket.send_msg(Message::Close(Some(CloseFrame {
                        code: close_code::IDLE_TIMEOUT,
                        reason: "idle timeout".into(),
                    }))).await;
                    false
                } else {
                    socket.send_msg(Message::Ping(Default::default())).await
                }
            }
            _ = sleep_until(batch_at), if c.batch_deadline.is_some() => c.flush(&mut socket).await,
            _ = sleep_until(expiry_at), if c.auth.is_some() => {
                c.deauth();
                send(&mut socket, ws_protocol::error_frame("TOKEN_EXPIRED",
                    "the token expired; private subscriptions ended — authenticate again", None)).await
            }
        };
        if !ok {
            break;
        }
    }
    c.deauth();
    let all: Vec<Channel> = c.subs.drain().map(|(_, ch)| ch).collect();
    realtime
        .stats
        .subscriptions
        .fetch_sub(all.len() as u64, Ordering::Relaxed);
    let _ = realtime
        .control
        .send(Control::Unsubscribe {
            conn: c.sink.id,
            channels: all,
        })
        .await;
    realtime.stats.connections.fetch_sub(1, Ordering::Relaxed);
}

async fn send(socket: &mut Socket, s: String) -> bool {
    socket.send_msg(text(s)).await
}

/// The socket with a write deadline: a write that takes longer than `timeout` (the peer
/// stopped reading) fails, and the connection is dropped without a close handshake. A
/// batch of queued frames and its flush share one deadline.
struct Socket {
    ws: WebSocket,
    timeout: Duration,
}

impl Socket {
    async fn send_msg(&mut self, msg: Message) -> bool {
        matches!(
            tokio::time::timeout(self.timeout, self.ws.send(msg)).await,
            Ok(Ok(()))
        )
    }
}

impl Conn {
    /// Writes `first` and what else is already queued (up to [`WRITE_BATCH`]), then
    /// flushes once: one syscall for what a batch brought, not one per message.
    async fn write_queued(
        &mut self,
        socket: &mut Socket,
        first: Out,
        queue: &mut mpsc::Receiver<Out>,
        stats: &WsStats,
    ) -> bool {
        let mut next = Some(first);
        let (mut taken, mut frames) = (0usize, 0u64);
        let mut ok = true;
        while let Some(out) = next.take() {
            ok = match out {
                Out::Frame(f) => {
                    frames += 1;
                    socket.ws.feed(Message::Text(f)).await.is_ok()
                }
                Out::Private(ch, f) => {
                    if self.may_write(ch) {
                        frames += 1;
                        socket.ws.feed(Message::Text(f)).await.is_ok()
                    } else {
                        true
                    }
                }
                Out::Notification {
                    user,
                    critical,
                    priority,
                    id,
                    json,
                } => {
                    if self.may_write(Channel::Notifications(user)) {
                        self.notification(socket, critical, priority, id, json)
                            .await
                    } else {
                        true
                    }
                }
                Out::Recheck => {
                    // Nothing queued after it is written before the check.
                    self.recheck_due = true;
                    break;
                }
            };
            taken += 1;
            if !ok || taken >= WRITE_BATCH {
                break;
            }
            next = queue.try_recv().ok();
        }
        stats.messages_sent.fetch_add(frames, Ordering::Relaxed);
        crate::metrics::ws_frames_sent(frames);
        ok && (frames == 0 || socket.ws.flush().await.is_ok())
    }

    /// Whether a frame of the private channel `ch` may go out now: subscribed to exactly
    /// that channel (so authenticated as its user), and not closing (a revocation that
    /// found the queue full closed the connection instead of queueing its re-check).
    fn may_write(&self, ch: Channel) -> bool {
        ch.private_name()
            .is_some_and(|name| self.subs.get(name) == Some(&ch))
            && !self.sink.closing()
    }

    /// Checks the credential again (a logout, password change or key deletion of this
    /// user was applied); if it no longer holds, de-authenticates like an expiry does,
    /// with the refusal's code (`TOKEN_REVOKED`, `INVALID_API_KEY`).
    async fn recheck(&mut self, socket: &mut Socket) -> bool {
        let Some(auth) = &self.auth else {
            return true;
        };
        let refused = match &auth.cred {
            Credential::Token(token) => self
                .state
                .authenticate_token(token)
                .await
                .err()
                .map(refusal),
            Credential::Key(key) => {
                let held = self.state.seq.views().api_key(key);
                match held {
                    Some(k) if k.user == auth.user => None,
                    _ => Some(("INVALID_API_KEY", "the API key was deleted".to_owned())),
                }
            }
        };
        let Some((code, why)) = refused else {
            return true;
        };
        self.deauth();
        send(
            socket,
            ws_protocol::error_frame(
                code,
                &format!("{why}; private subscriptions ended — authenticate again"),
                None,
            ),
        )
        .await
    }

    /// Charges one inbound frame to this connection's `ws_messages` bucket. Over it, the
    /// frame is dropped unread and answered `RATE_LIMITED`; `ws_abuse_strikes` refusals
    /// in a row close the connection (4029). Always in memory (never Redis, never an
    /// outage): a connection lives in one process.
    async fn admit(&mut self, socket: &mut Socket) -> Admit {
        let limiter = &self.state.limiter;
        let d = match limiter
            .check(Class::WsMessages, Key::Conn(self.sink.id), 1)
            .await
        {
            Ok(Some(d)) if !d.allowed => d,
            _ => {
                self.strikes = 0;
                return Admit::Go;
            }
        };
        self.strikes += 1;
        let max = limiter.config().ws_abuse_strikes;
        let msg = format!(
            "too many messages; retry in {} s",
            retry_secs(d.retry_after)
        );
        let sent = send(socket, ws_protocol::error_frame("RATE_LIMITED", &msg, None)).await;
        if max > 0 && self.strikes >= max {
            let _ = socket
                .send_msg(Message::Close(Some(CloseFrame {
                    code: close_code::RATE_LIMITED,
                    reason: "rate limited".into(),
                })))
                .await;
            return Admit::Refused(false);
        }
        Admit::Refused(sent)
    }

    /// Charges an `auth` frame to the client IP's `ws_auth` bucket, before the
    /// credential is looked at.
    async fn admit_auth(&self) -> Result<(), Refusal> {
        let Some(ip) = self.ip else {
            return Ok(());
        };
        self.state
            .limiter
            .charge(Class::WsAuth, Key::ip(ip), 1, "RATE_LIMITED")
            .await
            .map(|_| ())
            .map_err(|e| (e.code(), e.public_message()))
    }

    /// Handles one client frame; `false` when the socket is gone.
    async fn request(&mut self, socket: &mut Socket, t: &str) -> bool {
        let req = match ws_protocol::parse(t) {
            Ok(r) => r,
            Err(BadRequest::Json(m)) => {
                return send(socket, ws_protocol::error_frame("MALFORMED_JSON", &m, None)).await
            }
            Err(BadRequest::UnknownOp(m)) => {
                return send(socket, ws_protocol::error_frame("UNKNOWN_OP", &m, None)).await
            }
            Err(BadRequest::Invalid(m)) => {
                return send(
                    socket,
                    ws_protocol::error_frame("VALIDATION_ERROR", &m, None),
                )
                .await
            }
        };
        match req {
            Request::Ping => send(socket, r#"{"type":"pong"}"#.to_owned()).await,
            Request::Auth {
                token,
                key,
                timestamp,
                signature,
            } => {
                if let Err((code, m)) = self.admit_auth().await {
                    return send(socket, ws_protocol::error_frame(code, &m, None)).await;
                }
                let result = match (token, key, timestamp, signature) {
                    (Some(token), None, None, None) => self.auth_token(&token).await,
                    (None, Some(key), Some(ts), Some(sig)) => self.auth_key(key, ts, sig).await,
                    _ => Err((
                        "VALIDATION_ERROR",
                        "auth takes either \"token\", or \"key\", \"timestamp\" and \"signature\""
                            .to_owned(),
                    )),
                };
                match result {
                    Ok(msg) => send(socket, msg).await,
                    Err((code, m)) => send(socket, ws_protocol::error_frame(code, &m, None)).await,
                }
            }
            Request::Subscribe { channels } if channels.is_empty() => {
                let m = "channels: give at least one channel to subscribe to";
                send(
                    socket,
                    ws_protocol::error_frame("VALIDATION_ERROR", m, None),
                )
                .await
            }
            Request::Subscribe { channels } => {
                let mut ok = Vec::new();
                for name in channels {
                    match self.subscribe(&name).await {
                        Ok(()) => ok.push(name),
                        Err((code, msg)) => {
                            if !send(socket, ws_protocol::error_frame(code, &msg, Some(&name)))
                                .await
                            {
                                return false;
                            }
                        }
                    }
                }
                ok.is_empty() || send(socket, ws_protocol::ack("subscribed", &ok)).await
            }
            Request::Unsubscribe { channels } => {
                let mut gone = Vec::new();
                for name in &channels {
                    if let Some(ch) = self.subs.remove(name) {
                        rt(&self.state)
                            .stats
                            .subscriptions
                            .fetch_sub(1, Ordering::Relaxed);
                        gone.push(ch);
                    }
                }
                self.unsubscribe(gone).await;
                send(socket, ws_protocol::ack("unsubscribed", &channels)).await
            }
        }
    }

    /// `{"op":"auth","token"}`: the same checks as a bearer token on HTTP (signature,
    /// expiry, logout, password change). Private subscriptions end at the token's expiry.
    async fn auth_token(&mut self, token: &str) -> Result<String, Refusal> {
        let user = self
            .state
            .authenticate_token(token)
            .await
            .map_err(refusal)?;
        let exp_ms = self
            .state
            .tokens
            .decode(token)
            .map(|c| c.exp * 1000)
            .map_err(|_| {
                (
                    "TOKEN_EXPIRED",
                    "the token has expired; log in again".to_owned(),
                )
            })?;
        self.become_user(AuthUser(user), exp_ms, Credential::Token(token.to_owned()))
    }

    /// `{"op":"auth","key","timestamp","signature"}`: an API-key signature over
    /// `timestamp + "GET" + "/ws"` (empty body), checked like a signed HTTP request. The
    /// session does not expire; deleting the key ends it.
    async fn auth_key(
        &mut self,
        key: String,
        timestamp: u64,
        signature: String,
    ) -> Result<String, Refusal> {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-api-key", key.clone()),
            ("x-api-timestamp", timestamp.to_string()),
            ("x-api-signature", signature),
        ] {
            let v = HeaderValue::from_str(&value)
                .map_err(|_| ("UNAUTHORIZED", format!("{name}: not a valid value")))?;
            headers.insert(name, v);
        }
        let user = authenticate_signed(&self.state, &headers, "GET", "/ws", b"", self.ip)
            .await
            .map_err(refusal)?;
        self.become_user(AuthUser(user), u64::MAX, Credential::Key(key))
    }

    fn become_user(
        &mut self,
        user: AuthUser,
        exp_ms: u64,
        cred: Credential,
    ) -> Result<String, Refusal> {
        let id = user.id;
        if self.auth.as_ref().map(|a| a.user) != Some(id) {
            if !rt(&self.state).acquire_user(id, &self.sink) {
                return Err((
                    "TOO_MANY_CONNECTIONS",
                    "too many WebSocket connections for this user".into(),
                ));
            }
            self.deauth();
        }
        let left = exp_ms.saturating_sub(now_ms()).min(MAX_SESSION_MS);
        self.auth = Some(Auth {
            user: id,
            caller: user.0,
            expires: Instant::now() + Duration::from_millis(left),
            cred,
        });
        let expires_at = (exp_ms != u64::MAX).then_some(exp_ms);
        Ok(
            serde_json::json!({"type": "authenticated", "user_id": id.0, "expires_at": expires_at})
                .to_string(),
        )
    }

    /// Ends the private subscriptions (from here on their queued frames are dropped, see
    /// [`Conn::may_write`]), forgets the notifications waiting for a batch, and releases
    /// the per-user slot.
    fn deauth(&mut self) {
        let Some(auth) = self.auth.take() else {
            return;
        };
        self.batch.clear();
        self.batch_deadline = None;
        let private: Vec<String> = self
            .subs
            .iter()
            .filter(|(_, ch)| ch.is_private())
            .map(|(n, _)| n.clone())
            .collect();
        let mut gone = Vec::new();
        for n in private {
            if let Some(ch) = self.subs.remove(&n) {
                rt(&self.state)
                    .stats
                    .subscriptions
                    .fetch_sub(1, Ordering::Relaxed);
                gone.push(ch);
            }
        }
        let realtime = rt(&self.state).clone();
        realtime.notifier.unsubscribe(auth.user, self.sink.id);
        realtime.release_user(auth.user, self.sink.id);
        if !gone.is_empty() {
            // Best effort without waiting: the queue has room for control messages in
            // all but overload, and the next publish forgets a closed sink anyway.
            let _ = realtime.control.try_send(Control::Unsubscribe {
                conn: self.sink.id,
                channels: gone,
            });
        }
    }

    async fn unsubscribe(&mut self, gone: Vec<Channel>) {
        let realtime = rt(&self.state).clone();
        for ch in &gone {
            if let Channel::Notifications(u) = ch {
                realtime.notifier.unsubscribe(*u, self.sink.id);
            }
        }
        let _ = realtime
            .control
            .send(Control::Unsubscribe {
                conn: self.sink.id,
                channels: gone,
            })
            .await;
    }

    async fn subscribe(&mut self, name: &str) -> Result<(), (&'static str, String)> {
        let parsed = ChannelName::parse(name)
            .ok_or(("UNKNOWN_CHANNEL", format!("unknown channel {name:?}")))?;
        let realtime = rt(&self.state).clone();
        if !self.subs.contains_key(name) && self.subs.len() >= realtime.config.max_subscriptions {
            return Err((
                "TOO_MANY_SUBSCRIPTIONS",
                format!(
                    "at most {} subscriptions per connection",
                    realtime.config.max_subscriptions
                ),
            ));
        }
        let user = self.auth.as_ref().map(|a| a.user);
        if parsed.is_private() && user.is_none() {
            return Err((
                "UNAUTHORIZED",
                "authenticate first (op auth) for private channels".into(),
            ));
        }
        if let (true, Some(auth)) = (parsed.is_private(), &self.auth) {
            auth.caller.require(Permission::Read).map_err(refusal)?;
        }
        if let (ChannelName::Notifications, Some(u)) = (&parsed, user) {
            realtime.notifier.subscribe(u, self.sink.clone());
            if self
                .subs
                .insert(name.to_owned(), Channel::Notifications(u))
                .is_none()
            {
                realtime.stats.subscriptions.fetch_add(1, Ordering::Relaxed);
                crate::metrics::ws_subscribed("notifications");
            }
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        realtime
            .control
            .send(Control::Subscribe {
                sink: self.sink.clone(),
                name: parsed,
                user,
                reply,
            })
            .await
            .map_err(|_| ("UNAVAILABLE", "the server is shutting down".to_owned()))?;
        let ch = rx
            .await
            .map_err(|_| ("UNAVAILABLE", "the server is shutting down".to_owned()))??;
        if self.subs.insert(name.to_owned(), ch).is_none() {
            realtime.stats.subscriptions.fetch_add(1, Ordering::Relaxed);
            crate::metrics::ws_subscribed(name);
        }
        Ok(())
    }

    async fn notification(
        &mut self,
        socket: &mut Socket,
        critical: bool,
        priority: &'static str,
        id: u64,
        json: Utf8Bytes,
    ) -> bool {
        self.batch_last = id;
        if critical {
            // Keep order: what waited goes first, then the critical one alone, at once.
            if !self.flush(socket).await {
                return false;
            }
            self.batch.push((priority, json));
            return self.flush(socket).await;
        }
        self.batch.push((priority, json));
        if self.batch.len() >= BATCH_MAX {
            return self.flush(socket).await;
        }
        if self.batch_deadline.is_none() {
            self.batch_deadline = Some(Instant::now() + BATCH_WINDOW);
        }
        true
    }

    /// Writes the waiting notifications as one frame.
    async fn flush(&mut self, socket: &mut Socket) -> bool {
        self.batch_deadline = None;
        if self.batch.is_empty() {
            return true;
        }
        let n = self.batch.len();
        let mut s = String::with_capacity(
            64 + self
                .batch
                .iter()
                .map(|(_, b)| b.as_str().len() + 1)
                .sum::<usize>(),
        );
        s.push_str(r#"{"channel":"notifications","type":"update","sequence":"#);
        s.push_str(&self.batch_last.to_string());
        s.push_str(r#","data":["#);
        // At most four priorities per frame: counted per priority, not per notification.
        let mut by_priority: Vec<(&'static str, u64)> = Vec::with_capacity(4);
        for (i, (priority, b)) in self.batch.drain(..).enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(b.as_str());
            match by_priority.iter_mut().find(|(p, _)| *p == priority) {
                Some((_, k)) => *k += 1,
                None => by_priority.push((priority, 1)),
            }
        }
        s.push_str("]}");
        // Counted once written: a write that fails (the peer is gone) sent nothing.
        let ok = send(socket, s).await;
        if ok {
            let realtime = rt(&self.state);
            let stats = &realtime.notifier.stats;
            stats.sent.fetch_add(n as u64, Ordering::Relaxed);
            stats.batched_frames.fetch_add(1, Ordering::Relaxed);
            // A frame written like the queued ones (which the write loop counts).
            realtime.stats.messages_sent.fetch_add(1, Ordering::Relaxed);
            crate::metrics::ws_frames_sent(1);
            crate::metrics::notifications_sent(&by_priority, n > 1);
        }
        ok
    }
}
