//! A FIX 4.4 initiator just big enough for the benchmark: the signed Logon, NewOrderSingle
//! and OrderCancelRequest out; ExecutionReports, cancel rejects and the session's admin
//! messages in.
//!
//! Framing is `bourse_fix::codec`'s (the bench measures the server's session layer and
//! order entry, not a second codec; the tests in `crates/bourse/tests/fix` frame on their
//! own). Every ExecutionReport read, the session's own or unsolicited (a fill of a resting
//! order by another user's cross), updates [`Client::latest`]: the numbers the smoke check
//! compares with `GET /api/v1/orders/{id}`.
//!
//! Anything the server should not send on a healthy session (a Reject, a Logout, a
//! garbled frame, a close) is an `Err`: the session is then out of step and the run
//! reports it instead of guessing.

use bourse_fix::codec::{decode, Decoded, Message};
use bourse_fix::BEGIN_STRING;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The exchange's CompID (the in-process server's default `[fix] comp_id`).
pub const TARGET: &str = "BOURSE";
/// HeartBtInt asked for at Logon: longer than any phase's quiet moments.
const HEARTBEAT_SECS: &str = "30";
/// Largest frame read from the server (a SecurityList is the biggest it sends).
const MAX_BODY: usize = 1 << 20;

/// An order's numbers as its latest ExecutionReport gave them: OrdStatus (39), CumQty
/// (14), LeavesQty (151), AvgPx (6), as the exact decimal strings of the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub status: String,
    pub cum: String,
    pub leaves: String,
    pub avg: String,
}

/// One logged-on session.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    sender: String,
    seq: u64,
    /// The latest report of every order of this session's user, by OrderID.
    pub latest: HashMap<u64, Seen>,
    /// ExecutionReports read, own and unsolicited.
    pub reports: u64,
}

/// hex HMAC-SHA256(secret, SendingTime + MsgSeqNum + SenderCompID + TargetCompID).
pub fn logon_signature(secret: &str, time: &str, seq: u64, sender: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{time}{seq}{sender}{TARGET}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn now() -> String {
    bourse_fix::time::format(bourse_engine::now_ms())
}

impl Client {
    /// Connects and logs `sender` on with the API key (ResetSeqNumFlag=Y: every run
    /// starts at 1); the error is the Logout's Text when the server refuses.
    pub async fn logon(
        addr: SocketAddr,
        key: &str,
        secret: &str,
        sender: &str,
    ) -> Result<Self, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("FIX connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut c = Client {
            stream,
            buf: Vec::with_capacity(8192),
            sender: sender.to_owned(),
            seq: 0,
            latest: HashMap::new(),
            reports: 0,
        };
        let mut logon = c.header("A");
        let time = logon.get(52).unwrap_or_default().to_owned();
        logon
            .push(98, "0")
            .push(108, HEARTBEAT_SECS)
            .push(141, "Y")
            .push(553, key)
            .push(554, logon_signature(secret, &time, 1, sender));
        c.send(&logon).await?;
        let reply = c.read(Duration::from_secs(10)).await?;
        match reply.msg_type() {
            "A" => Ok(c),
            other => Err(format!(
                "FIX logon of {sender}: answered 35={other} {}",
                reply.get(58).unwrap_or("")
            )),
        }
    }

    /// A message of this session with the standard header, numbered next.
    pub fn header(&mut self, msg_type: &str) -> Message {
        self.seq += 1;
        Message::new(msg_type)
            .with(34, self.seq.to_string())
            .with(49, self.sender.as_str())
            .with(52, now())
            .with(56, TARGET)
    }

    pub async fn send(&mut self, m: &Message) -> Result<(), String> {
        self.stream
            .write_all(&m.encode(BEGIN_STRING))
            .await
            .map_err(|e| format!("FIX send: {e}"))
    }

    /// The next application message within `within`. Heartbeats are skipped and
    /// TestRequests answered on the way; reports update [`Self::latest`].
    async fn next(&mut self, within: Duration) -> Result<Message, String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let m = tokio::time::timeout_at(deadline, self.read_frame())
                .await
                .map_err(|_| format!("no FIX answer within {within:?}"))??;
            match m.msg_type() {
                "0" => continue,
                "1" => {
                    let id = m.get(112).unwrap_or("").to_owned();
                    let hb = self.header("0").with(112, id);
                    self.send(&hb).await?;
                }
                "3" | "5" => {
                    return Err(format!(
                        "FIX session ended by the server: 35={} {}",
                        m.msg_type(),
                        m.get(58).unwrap_or("")
                    ))
                }
                "8" => {
                    self.record(&m);
                    return Ok(m);
                }
                _ => return Ok(m),
            }
        }
    }

    /// The next frame, whatever it is.
    async fn read(&mut self, within: Duration) -> Result<Message, String> {
        tokio::time::timeout(within, self.read_frame())
            .await
            .map_err(|_| format!("no FIX answer within {within:?}"))?
    }

    async fn read_frame(&mut self) -> Result<Message, String> {
        loop {
            match decode(&self.buf, MAX_BODY) {
                Decoded::Message(m, n) => {
                    self.buf.drain(..n);
                    return Ok(m);
                }
                Decoded::Garbled(_) => return Err("the server sent a garbled FIX frame".into()),
                Decoded::Incomplete => {}
            }
            let mut chunk = [0u8; 8192];
            let n = self
                .stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("FIX read: {e}"))?;
            if n == 0 {
                return Err("the server closed the FIX connection".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn record(&mut self, er: &Message) {
        self.reports += 1;
        let Some(id) = er.get(37).and_then(|v| v.parse::<u64>().ok()) else {
            return; // a refused order has no OrderID
        };
        let field = |t| er.get(t).unwrap_or("").to_owned();
        self.latest.insert(
            id,
            Seen {
                status: field(39),
                cum: field(14),
                leaves: field(151),
                avg: field(6),
            },
        );
    }

    /// The first ExecutionReport (8) or OrderCancelReject (9) whose ClOrdID is `cl`; any
    /// other report read meanwhile (unsolicited fills) is recorded and passed over.
    pub async fn answer(&mut self, cl: &str, within: Duration) -> Result<Message, String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = self.next(left).await?;
            if matches!(m.msg_type(), "8" | "9") && m.get(11) == Some(cl) {
                return Ok(m);
            }
        }
    }

    /// Reads (and records) until nothing has come for `quiet`: the reports still on
    /// their way when a phase ends.
    pub async fn drain(&mut self, quiet: Duration) -> Result<(), String> {
        loop {
            match self.next(quiet).await {
                Ok(_) => continue,
                Err(e) if e.starts_with("no FIX answer") => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Logout, and its answer (reports still arriving are recorded).
    pub async fn logout(mut self) -> Result<(), String> {
        let out = self.header("5");
        self.send(&out).await?;
        loop {
            let m = self.read(Duration::from_secs(10)).await?;
            match m.msg_type() {
                "5" => return Ok(()),
                "8" => self.record(&m),
                _ => {}
            }
        }
    }
}

/// The REST error code a refusal's Text (58) starts with (`CODE: message`).
pub fn refusal_code(m: &Message) -> (String, String) {
    let text = m.get(58).unwrap_or("").to_owned();
    let code = text
        .split([':', ' '])
        .next()
        .filter(|c| !c.is_empty())
        .unwrap_or("FIX_REFUSED")
        .to_owned();
    (code, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logon_signature_is_over_the_logons_own_header() {
        // Same inputs as the server's check: time + seq + sender + target, hex.
        let a = logon_signature("s3cret", "20260101-00:00:00.000", 1, "ALICE");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(
            a,
            logon_signature("s3cret", "20260101-00:00:00.000", 2, "ALICE")
        );
        assert_ne!(
            a,
            logon_signature("other", "20260101-00:00:00.000", 1, "ALICE")
        );
    }

    #[test]
    fn refusal_codes_come_from_the_text() {
        let m = Message::new("9").with(58, "UNKNOWN_ORDER: no such order");
        assert_eq!(refusal_code(&m).0, "UNKNOWN_ORDER");
        assert_eq!(refusal_code(&Message::new("9")).0, "FIX_REFUSED");
    }
}
