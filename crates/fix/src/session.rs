//! One FIX connection: logon, then the logged-on loop (rules in the crate doc).

use crate::app::{self, App, Fed};
use crate::codec::{decode, Decoded, Message};
use crate::store::{Sent, SessionStore};
use crate::{time, valid_comp_id, Claim, Context, BEGIN_STRING};
use bourse_engine::now_ms;
use bourse_gateway::auth::{Caller, Signature};
use bourse_model::{Channel, Origin};
use bourse_store::AuditOutcome;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{Duration, Instant};

/// Session-level (admin) message types; everything else is an application message.
const ADMIN: [&str; 7] = ["0", "1", "2", "3", "4", "5", "A"];

/// SessionRejectReason (373) values used.
const REJECT_COMP_ID: &str = "9";
const REJECT_SENDING_TIME: &str = "10";
const REJECT_VALUE: &str = "5";
const REJECT_REQUIRED_TAG: &str = "1";
const REJECT_OTHER: &str = "99";

/// Why a connection ends.
enum End {
    /// Close at once (after anything already written).
    Close,
}

/// The read half of a connection, plain TCP or TLS.
pub(crate) type Reader = Box<dyn AsyncRead + Send + Unpin>;
/// The write half. A write is flushed at once: TLS buffers records until flushed.
pub(crate) type Writer = Box<dyn AsyncWrite + Send + Unpin>;

struct Conn {
    reader: Reader,
    writer: Writer,
    buf: Vec<u8>,
    max_body: usize,
}

impl Conn {
    /// The next frame: `Ok(Some)` a message, `Ok(None)` a garbled frame (already skipped),
    /// `Err` the peer closed or the socket failed.
    async fn next(&mut self) -> std::io::Result<Option<Message>> {
        loop {
            match decode(&self.buf, self.max_body) {
                Decoded::Message(m, n) => {
                    self.buf.drain(..n);
                    return Ok(Some(m));
                }
                Decoded::Garbled(n) => {
                    self.buf.drain(..n);
                    return Ok(None);
                }
                Decoded::Incomplete => {}
            }
            let mut chunk = [0u8; 4096];
            let n = self.reader.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Serves one connection (its two halves) to its end, in one origin scope (the audit
/// envelope: channel `fix`, the peer's address; the logon's key names the actor, each
/// application message its `SenderCompID:MsgSeqNum` as the request id).
pub(crate) async fn run(
    (reader, writer): (Reader, Writer),
    peer: SocketAddr,
    ctx: Arc<Context>,
    shutdown: watch::Receiver<bool>,
) {
    let mut origin = Origin::new(Channel::Fix);
    origin.ip = Some(bourse_gateway::origin::ip_bytes(peer.ip()));
    bourse_gateway::origin::scope(
        origin,
        serve_connection((reader, writer), peer, ctx, shutdown),
    )
    .await
}

async fn serve_connection(
    (reader, writer): (Reader, Writer),
    peer: SocketAddr,
    ctx: Arc<Context>,
    shutdown: watch::Receiver<bool>,
) {
    let mut conn = Conn {
        reader,
        writer,
        buf: Vec::with_capacity(4096),
        max_body: ctx.config.max_message_bytes,
    };
    let wait = Duration::from_secs(ctx.config.logon_timeout_secs);
    let logon = match tokio::time::timeout(wait, conn.next()).await {
        Ok(Ok(Some(m))) if m.begin_string == BEGIN_STRING && m.msg_type() == "A" => m,
        _ => return,
    };
    match accept_logon(&ctx, &logon, peer).await {
        Ok(accepted) => {
            let mut s = Session::new(conn, ctx, accepted, &logon);
            if s.logged_on(&logon).await.is_ok() {
                let _ = s.serve(shutdown).await;
            }
            if let Some(app) = s.app.as_mut() {
                app.disconnected().await;
            }
            let _ = s.conn.writer.shutdown().await;
            // Returned before the claim is freed, so the next logon finds it.
            let Session {
                store, claim, ctx, ..
            } = s;
            ctx.checkin(&claim.identity, store);
            drop(claim);
        }
        Err(Refused::Silently) => {}
        Err(Refused::Because(text)) => {
            tracing::info!(%peer, reason = %text, "FIX logon refused");
            // Never journaled: the audit trail has it from here.
            let sender = logon.get(49).unwrap_or_default().to_owned();
            ctx.gateway.audit(
                "fix_logon".into(),
                Some(format!("comp_id:{sender}")),
                AuditOutcome::Rejected("LOGON_REFUSED".into()),
            );
            refuse(&mut conn, &logon, &text).await;
        }
    }
}

enum Refused {
    Silently,
    Because(String),
}

struct Accepted {
    claim: Claim,
    store: SessionStore,
    ours: String,
    theirs: String,
    heartbeat: u64,
    reset_on_logon: bool,
    /// The key's owner; `None` for the test session (no order entry).
    caller: Option<Caller>,
}

/// Checks a Logon: CompIDs, HeartBtInt, SendingTime, credentials, one logon per identity.
async fn accept_logon(
    ctx: &Arc<Context>,
    logon: &Message,
    peer: SocketAddr,
) -> Result<Accepted, Refused> {
    let because = |s: &str| Refused::Because(s.to_owned());
    let (Some(sender), Some(target)) = (logon.get(49), logon.get(56)) else {
        return Err(Refused::Silently);
    };
    let test = ctx
        .config
        .test_session
        .as_ref()
        .filter(|t| t.sender_comp_id == target);
    if test.is_none() && target != ctx.config.comp_id {
        return Err(Refused::Silently);
    }
    if !valid_comp_id(sender) {
        return Err(because(
            "SenderCompID must be 1-32 characters of A-Z a-z 0-9 _ . -",
        ));
    }
    let heartbeat = logon
        .get(108)
        .and_then(|h| h.parse::<u64>().ok())
        .filter(|h| (ctx.config.heartbeat_min_secs..=ctx.config.heartbeat_max_secs).contains(h))
        .ok_or_else(|| {
            Refused::Because(format!(
                "HeartBtInt (108) must be {}..={} seconds",
                ctx.config.heartbeat_min_secs, ctx.config.heartbeat_max_secs
            ))
        })?;
    if logon.get(98).is_some_and(|e| e != "0") {
        return Err(because("EncryptMethod (98) must be 0"));
    }
    let sending_ms = sending_time_ok(ctx, logon).ok_or_else(|| {
        Refused::Because(format!(
            "SendingTime (52) missing or more than {} s from the server clock",
            ctx.config.sending_time_window_secs
        ))
    })?;
    let mut who = None;
    let identity = match test {
        Some(t) => {
            if sender != t.target_comp_id {
                return Err(because("unknown SenderCompID for this TargetCompID"));
            }
            format!("test-{sender}")
        }
        None => {
            let (Some(key), Some(signature)) = (logon.get(553), logon.get(554)) else {
                return Err(because(
                    "Username (553) = API key and Password (554) = signature are required",
                ));
            };
            let seq = logon.get(34).unwrap_or("");
            let payload = format!("{}{seq}{sender}{target}", logon.get(52).unwrap_or(""));
            let caller = ctx
                .gateway
                .authenticate_signed(
                    Signature {
                        key_id: key,
                        timestamp: &sending_ms.to_string(),
                        signature,
                    },
                    payload.as_bytes(),
                    Some(peer.ip()),
                )
                .await
                .map_err(|e| Refused::Because(logon_refusal(&e)))?;
            who = Some(caller);
            format!("u{}-{sender}", caller.id.0)
        }
    };
    let claim = ctx
        .claim(&identity)
        .ok_or_else(|| because("this session is already logged on"))?;
    let store = ctx.checkout(&identity).map_err(|e| {
        tracing::error!(error = %e, "FIX sequence store");
        because("the session store cannot be read; try again later")
    })?;
    Ok(Accepted {
        claim,
        store,
        ours: target.to_owned(),
        theirs: sender.to_owned(),
        heartbeat,
        reset_on_logon: test.is_some_and(|t| t.reset_on_logon),
        caller: who,
    })
}

/// The Text (58) of a Logout refusing a credential: the gateway's code with FIX words
/// (the gateway's messages name HTTP headers).
fn logon_refusal(e: &bourse_gateway::Error) -> String {
    let bourse_gateway::Error::Invalid { code, message, .. } = e else {
        tracing::warn!(error = %e, "FIX logon could not be checked");
        return "the logon cannot be checked now; try again later".into();
    };
    let why = match *code {
        "INVALID_API_KEY" => "Username (553) is not a known API key",
        "INVALID_SIGNATURE" => "Password (554) must be hex HMAC-SHA256(secret, SendingTime + MsgSeqNum + SenderCompID + TargetCompID) of this Logon",
        "TIMESTAMP_OUT_OF_WINDOW" => "SendingTime (52) is too far from the server clock",
        "SIGNATURE_REPLAYED" => "this Logon was already used; sign every Logon anew",
        _ => message,
    };
    format!("{code}: {why}")
}

/// SendingTime in ms if present and within the window.
fn sending_time_ok(ctx: &Context, m: &Message) -> Option<u64> {
    let t = time::parse(m.get(52)?)?;
    (t.abs_diff(now_ms()) <= ctx.config.sending_time_window_secs * 1000).then_some(t)
}

/// A refused logon: a Logout with the reason, numbered 1 (no session exists), then close.
async fn refuse(conn: &mut Conn, logon: &Message, text: &str) {
    let mut m = Message::new("5");
    m.push(34, "1")
        .push(49, logon.get(56).unwrap_or(""))
        .push(52, time::format(now_ms()))
        .push(56, logon.get(49).unwrap_or(""))
        .push(58, text);
    let _ = conn.writer.write_all(&m.encode(BEGIN_STRING)).await;
    let _ = conn.writer.flush().await;
    let _ = conn.writer.shutdown().await;
}

struct Session {
    conn: Conn,
    ctx: Arc<Context>,
    claim: Claim,
    store: SessionStore,
    ours: String,
    theirs: String,
    heartbeat: Duration,
    reset_on_logon: bool,
    /// The application layer of an API-key session; `None` for the test session.
    app: Option<App>,
    last_sent: Instant,
    last_received: Instant,
    test_requests: u32,
    /// A ResendRequest of ours is outstanding up to this number.
    resend_until: Option<u64>,
    window_start: Instant,
    window_count: u32,
}

impl Session {
    /// Subscribes an API-key session to the feed, before its Logon is answered.
    fn new(conn: Conn, ctx: Arc<Context>, a: Accepted, logon: &Message) -> Self {
        let now = Instant::now();
        let app = a.caller.map(|c| App::new(ctx.gateway.clone(), c, logon));
        Self {
            conn,
            ctx,
            claim: a.claim,
            store: a.store,
            ours: a.ours,
            theirs: a.theirs,
            heartbeat: Duration::from_secs(a.heartbeat),
            reset_on_logon: a.reset_on_logon,
            app,
            last_sent: now,
            last_received: now,
            test_requests: 0,
            resend_until: None,
            window_start: now,
            window_count: 0,
        }
    }

    /// Answers the accepted Logon and settles its sequence number.
    async fn logged_on(&mut self, logon: &Message) -> Result<(), End> {
        let reset = logon.flag(141);
        if reset || self.reset_on_logon {
            io(self.store.reset())?;
        }
        let seq = seq_num(logon).unwrap_or(0);
        if seq < self.store.next_in {
            let text = format!(
                "MsgSeqNum too low, expecting {} but received {seq}",
                self.store.next_in
            );
            return self.logout(Some(&text)).await;
        }
        let mut reply = Message::new("A")
            .with(98, "0")
            .with(108, self.heartbeat.as_secs().to_string());
        if reset {
            reply.push(141, "Y");
        }
        self.send(reply).await?;
        self.after_in_sequence(seq).await
    }

    /// After an in-order or too-high number: advance, or ask for the gap once.
    async fn after_in_sequence(&mut self, seq: u64) -> Result<(), End> {
        if seq == self.store.next_in {
            self.store.next_in += 1;
            if self.resend_until.is_some_and(|u| self.store.next_in > u) {
                self.resend_until = None;
            }
            io(self.store.persist())
        } else {
            self.request_gap(seq).await
        }
    }

    async fn request_gap(&mut self, seq: u64) -> Result<(), End> {
        if self.resend_until.is_some_and(|u| self.store.next_in <= u) {
            return Ok(());
        }
        self.resend_until = Some(seq - 1);
        let begin = self.store.next_in.to_string();
        self.send(Message::new("2").with(7, begin).with(16, "0"))
            .await
    }

    async fn serve(&mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), End> {
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                frame = self.conn.next() => match frame {
                    Ok(Some(m)) => {
                        self.last_received = Instant::now();
                        self.test_requests = 0;
                        self.inbound(m).await?;
                    }
                    Ok(None) => {} // garbled: ignored, as FIX says
                    Err(_) => return Err(End::Close),
                },
                fed = next_fed(&mut self.app) => {
                    let mut out = Vec::new();
                    if let Some(app) = self.app.as_mut() {
                        app.fed(fed, &mut out).await;
                    }
                    for m in out {
                        self.send(m).await?;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => self.timer().await?,
                _ = crate::stopped(&mut shutdown) => {
                    return self.logout(Some("the exchange is shutting down")).await;
                }
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        let hb = self.heartbeat.as_secs_f64();
        let timeout = self.last_received + Duration::from_secs_f64(2.4 * hb);
        let test = self.last_received
            + Duration::from_secs_f64(1.2 * f64::from(self.test_requests + 1) * hb);
        let mut d = timeout.min(test);
        if self.test_requests == 0 {
            d = d.min(self.last_sent + self.heartbeat);
        }
        d
    }

    async fn timer(&mut self) -> Result<(), End> {
        let now = Instant::now();
        let hb = self.heartbeat.as_secs_f64();
        if now >= self.last_received + Duration::from_secs_f64(2.4 * hb) {
            tracing::info!(theirs = %self.theirs, "FIX session timed out");
            return Err(End::Close);
        }
        if now
            >= self.last_received
                + Duration::from_secs_f64(1.2 * f64::from(self.test_requests + 1) * hb)
        {
            self.test_requests += 1;
            return self.send(Message::new("1").with(112, "TEST")).await;
        }
        if self.test_requests == 0 && now >= self.last_sent + self.heartbeat {
            return self.send(Message::new("0")).await;
        }
        Ok(())
    }

    async fn inbound(&mut self, m: Message) -> Result<(), End> {
        if m.begin_string != BEGIN_STRING {
            return self.logout(Some("BeginString must be FIX.4.4")).await;
        }
        let seq = seq_num(&m);
        let msg_type = m.msg_type().to_owned();
        if m.get(49) != Some(self.theirs.as_str()) || m.get(56) != Some(self.ours.as_str()) {
            self.reject(&m, REJECT_COMP_ID, "CompID problem").await?;
            return self
                .logout(Some(
                    "SenderCompID or TargetCompID does not match the session",
                ))
                .await;
        }
        if sending_time_ok(&self.ctx, &m).is_none() {
            self.reject(&m, REJECT_SENDING_TIME, "SendingTime accuracy problem")
                .await?;
            return self.logout(Some("SendingTime accuracy problem")).await;
        }
        if self.over_rate() {
            self.reject(&m, REJECT_OTHER, "message rate limit exceeded")
                .await?;
            return self.logout(Some("message rate limit exceeded")).await;
        }
        let Some(seq) = seq else {
            return self
                .logout(Some("MsgSeqNum (34) missing or not a number"))
                .await;
        };
        match msg_type.as_str() {
            // Processed whatever their number (as QuickFIX does); the number advances when
            // it is the expected one.
            "5" => {
                if seq == self.store.next_in {
                    self.store.next_in += 1;
                    io(self.store.persist())?;
                }
                return self.logout(None).await;
            }
            "2" => {
                self.resend(&m).await?;
                return match seq.cmp(&self.store.next_in) {
                    std::cmp::Ordering::Less => Ok(()),
                    _ => self.after_in_sequence(seq).await,
                };
            }
            "4" if !m.flag(123) => return self.sequence_reset(&m).await,
            "A" if m.flag(141) => {
                // A new Logon with ResetSeqNumFlag: both sides start again at 1.
                io(self.store.reset())?;
                self.resend_until = None;
                return self.logged_on(&m).await;
            }
            _ => {}
        }
        if seq < self.store.next_in {
            if m.flag(43) {
                return if m.get(122).is_none() {
                    self.reject(
                        &m,
                        REJECT_REQUIRED_TAG,
                        "OrigSendingTime (122) required with PossDupFlag",
                    )
                    .await
                } else {
                    Ok(()) // a duplicate of something already processed
                };
            }
            let text = format!(
                "MsgSeqNum too low, expecting {} but received {seq}",
                self.store.next_in
            );
            return self.logout(Some(&text)).await;
        }
        if seq > self.store.next_in {
            return self.request_gap(seq).await;
        }
        self.after_in_sequence(seq).await?;
        match msg_type.as_str() {
            "0" | "3" => Ok(()),
            "1" => {
                let mut hb = Message::new("0");
                if let Some(id) = m.get(112) {
                    hb.push(112, id);
                }
                self.send(hb).await
            }
            "4" => {
                // Gap fill: the number may only move forward.
                match m.get(36).and_then(|n| n.parse::<u64>().ok()) {
                    Some(n) if n >= self.store.next_in => {
                        self.store.next_in = n;
                        io(self.store.persist())
                    }
                    _ => {
                        self.reject(
                            &m,
                            REJECT_VALUE,
                            "NewSeqNo (36) must not lower the sequence number",
                        )
                        .await
                    }
                }
            }
            "A" => self.reject(&m, REJECT_OTHER, "already logged on").await,
            _ => {
                let Some(app) = self.app.as_mut() else {
                    return self.send(app::unsupported(seq, &msg_type)).await;
                };
                bourse_gateway::origin::set_request_id(format!("{}:{seq}", self.theirs));
                for r in app.handle(&m, seq).await {
                    self.send(r).await?;
                }
                Ok(())
            }
        }
    }

    /// SequenceReset-Reset: NewSeqNo becomes the next expected number; lowering it is refused.
    async fn sequence_reset(&mut self, m: &Message) -> Result<(), End> {
        match m.get(36).and_then(|n| n.parse::<u64>().ok()) {
            Some(n) if n >= self.store.next_in => {
                self.store.next_in = n;
                if self.resend_until.is_some_and(|u| n > u) {
                    self.resend_until = None;
                }
                io(self.store.persist())
            }
            _ => {
                self.reject(
                    m,
                    REJECT_VALUE,
                    "NewSeqNo (36) must not lower the sequence number",
                )
                .await
            }
        }
    }

    /// Answers a ResendRequest: kept application messages again with PossDupFlag, the rest
    /// as gap fills.
    async fn resend(&mut self, m: &Message) -> Result<(), End> {
        let (Some(begin), Some(end)) = (
            m.get(7).and_then(|v| v.parse::<u64>().ok()),
            m.get(16).and_then(|v| v.parse::<u64>().ok()),
        ) else {
            return self
                .reject(
                    m,
                    REJECT_REQUIRED_TAG,
                    "BeginSeqNo (7) and EndSeqNo (16) are required",
                )
                .await;
        };
        let last = self.store.next_out - 1;
        let end = if end == 0 || end > last { last } else { end };
        let begin = begin.max(1);
        if begin > end {
            return Ok(());
        }
        let kept: Vec<(u64, Sent)> = self
            .store
            .kept(begin, end)
            .map(|(s, m)| (*s, m.clone()))
            .collect();
        let mut gap_from = begin;
        for (seq, sent) in kept {
            if seq > gap_from {
                self.gap_fill(gap_from, seq).await?;
            }
            let frame = self.frame(&sent.message, seq, Some(&sent.sending_time));
            self.write(&frame).await?;
            gap_from = seq + 1;
        }
        if gap_from <= end {
            self.gap_fill(gap_from, end + 1).await?;
        }
        Ok(())
    }

    async fn gap_fill(&mut self, from: u64, to: u64) -> Result<(), End> {
        let m = Message::new("4").with(36, to.to_string()).with(123, "Y");
        let frame = self.frame(&m, from, Some(&time::format(now_ms())));
        self.write(&frame).await
    }

    fn over_rate(&mut self) -> bool {
        let now = Instant::now();
        if now.duration_since(self.window_start) >= Duration::from_secs(1) {
            self.window_start = now;
            self.window_count = 0;
        }
        self.window_count += 1;
        self.window_count > self.ctx.config.max_messages_per_second
    }

    async fn reject(&mut self, m: &Message, reason: &str, text: &str) -> Result<(), End> {
        let mut r = Message::new("3");
        r.push(45, m.get(34).unwrap_or("0"))
            .push(58, text)
            .push(372, m.msg_type())
            .push(373, reason);
        self.send(r).await
    }

    /// Sends a Logout (with `text`) and ends the session.
    async fn logout(&mut self, text: Option<&str>) -> Result<(), End> {
        let mut m = Message::new("5");
        if let Some(t) = text {
            m.push(58, t);
        }
        self.send(m).await?;
        Err(End::Close)
    }

    /// Numbers, stamps and writes `body` (MsgType first); application messages are kept
    /// for resends.
    async fn send(&mut self, body: Message) -> Result<(), End> {
        let seq = self.store.next_out;
        let frame = self.frame(&body, seq, None);
        self.store.next_out += 1;
        if !ADMIN.contains(&body.msg_type()) {
            let sending_time = time::format(now_ms());
            self.store.keep(
                seq,
                Sent {
                    message: body,
                    sending_time,
                },
            );
        }
        io(self.store.persist())?;
        self.write(&frame).await
    }

    /// The wire bytes: header in ascending tag order after 35 (34, 43, 49, 52, 56, 122),
    /// then the body. `orig` makes it a possible duplicate with that OrigSendingTime.
    fn frame(&self, body: &Message, seq: u64, orig: Option<&str>) -> Vec<u8> {
        let mut m = Message::new(body.msg_type());
        m.push(34, seq.to_string());
        if orig.is_some() {
            m.push(43, "Y");
        }
        m.push(49, self.ours.as_str())
            .push(52, time::format(now_ms()))
            .push(56, self.theirs.as_str());
        if let Some(o) = orig {
            m.push(122, o);
        }
        m.fields.extend(body.fields.iter().skip(1).cloned());
        m.encode(BEGIN_STRING)
    }

    async fn write(&mut self, frame: &[u8]) -> Result<(), End> {
        let w = &mut self.conn.writer;
        w.write_all(frame).await.map_err(|_| End::Close)?;
        w.flush().await.map_err(|_| End::Close)?;
        self.last_sent = Instant::now();
        Ok(())
    }
}

fn io(r: std::io::Result<()>) -> Result<(), End> {
    r.map_err(|e| {
        tracing::error!(error = %e, "FIX sequence store write failed; closing the session");
        End::Close
    })
}

/// The next item of an API-key session's feed; never, for the test session.
async fn next_fed(app: &mut Option<App>) -> Fed {
    match app {
        Some(a) => a.next().await,
        None => std::future::pending().await,
    }
}

fn seq_num(m: &Message) -> Option<u64> {
    m.get(34)?.parse().ok()
}
