//! The application layer of one API-key session: which application messages it takes, the
//! feed it follows, and what the Logon flags change.
//!
//! # Rules
//! - Order entry (D, F, G, H, q) and market data (x, V) on order-entry sessions; any other
//!   application message gets a BusinessMessageReject (j, 380=3 unsupported type).
//! - **Drop copy** — Logon with custom tag **9406 DropCopyFlag = Y**: a read-only session
//!   (a key without `trade` is enough) that receives the ExecutionReports of all the
//!   account's orders from every channel; every application message but H gets a j with
//!   380=6 (not authorized).
//! - **Cancel on disconnect** — Logon with custom tag **8013 CancelOnDisconnect = Y**:
//!   when the session ends (Logout, timeout, a dropped connection, shutdown), the orders
//!   this session placed that are still open are canceled. Orders placed elsewhere, or by
//!   an earlier session, are left alone.
//! - Every session follows the feed ([`crate::exec`]): the user's orders' changes from any
//!   channel arrive as unsolicited ExecutionReports, and subscribed books as X.

use crate::codec::Message;
use crate::exec::Executions;
use crate::md::MarketData;
use crate::orders::{self, Answer};
use bourse_engine::sequencer::AppliedBatch;
use bourse_gateway::auth::Caller;
use bourse_gateway::Gateway;
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Duration, Instant};

/// Logon tag: this is a drop-copy session.
pub const TAG_DROP_COPY: u32 = 9406;
/// Logon tag: cancel this session's open orders when it ends.
pub const TAG_CANCEL_ON_DISCONNECT: u32 = 8013;

/// How long an accepted command waits for its events on the feed before it is answered
/// from the gateway's reply instead.
const FEED_WAIT: Duration = Duration::from_secs(2);

pub struct App {
    pub gw: Arc<Gateway>,
    pub caller: Caller,
    pub drop_copy: bool,
    pub cancel_on_disconnect: bool,
    feed: broadcast::Receiver<Arc<AppliedBatch>>,
    exec: Executions,
    md: MarketData,
    /// The feed ended (the sequencer stopped): stop polling it.
    closed: bool,
}

/// What the feed gave.
pub enum Fed {
    Batch(Arc<AppliedBatch>),
    Lagged(u64),
    Closed,
}

impl App {
    /// Subscribes to the feed: call before the Logon is answered.
    pub fn new(gw: Arc<Gateway>, caller: Caller, logon: &Message) -> Self {
        Self {
            feed: gw.seq.subscribe(),
            gw,
            exec: Executions::new(caller.id),
            caller,
            drop_copy: logon.flag(TAG_DROP_COPY),
            cancel_on_disconnect: logon.flag(TAG_CANCEL_ON_DISCONNECT),
            md: MarketData::default(),
            closed: false,
        }
    }

    /// The next item of the feed (cancel-safe: for a `select!`).
    pub async fn next(&mut self) -> Fed {
        if self.closed {
            return std::future::pending().await;
        }
        match self.feed.recv().await {
            Ok(b) => Fed::Batch(b),
            Err(RecvError::Lagged(n)) => Fed::Lagged(n),
            Err(RecvError::Closed) => {
                self.closed = true;
                Fed::Closed
            }
        }
    }

    /// What a feed item comes to on the wire.
    pub async fn fed(&mut self, fed: Fed, out: &mut Vec<Message>) {
        match fed {
            Fed::Batch(b) => {
                for cmd in &b.commands {
                    self.exec.command(&self.gw, cmd, out).await;
                    self.md.command(&self.gw, cmd, out);
                }
            }
            Fed::Lagged(n) => {
                tracing::warn!(
                    missed = n,
                    user = self.caller.id.0,
                    "FIX session fell behind the feed; unsolicited reports were lost"
                );
                self.exec.forget();
                self.md.resync(&self.gw, out);
            }
            Fed::Closed => {}
        }
    }

    /// Answers one application message (`seq` is its MsgSeqNum).
    pub async fn handle(&mut self, m: &Message, seq: u64) -> Vec<Message> {
        let msg_type = m.msg_type();
        if self.drop_copy && msg_type != "H" {
            return vec![business_reject(
                seq,
                msg_type,
                "6",
                "this is a drop-copy session: read-only",
            )];
        }
        let gw = self.gw.clone();
        let answer = match msg_type {
            "D" => orders::new_order_single(&gw, &self.caller, m).await,
            "F" => orders::cancel(&gw, &self.caller, m).await,
            "G" => orders::replace(&gw, &self.caller, m).await,
            "H" => Answer::Done(orders::status(&gw, &self.caller, m).await),
            "q" => Answer::Done(orders::mass_cancel(&gw, &self.caller, m).await),
            "x" => Answer::Done(crate::md::security_list(&gw, m)),
            "V" => return self.md.request(&gw, m),
            _ => Answer::Done(unsupported(seq, msg_type)),
        };
        match answer {
            Answer::Done(r) => vec![r],
            Answer::Own { own, fallback } => {
                let (order, ts) = (own.order, own.ts);
                if msg_type == "D" {
                    self.exec.placed.insert(order);
                }
                self.exec.expect(own);
                let mut out = Vec::new();
                // The command's reports come from the feed, in order with everything
                // else the session is told.
                let deadline = Instant::now() + FEED_WAIT;
                while self.exec.awaiting(order, ts) {
                    match tokio::time::timeout_at(deadline, self.next()).await {
                        Ok(Fed::Closed) | Err(_) => break,
                        Ok(fed) => self.fed(fed, &mut out).await,
                    }
                }
                if self.exec.awaiting(order, ts) {
                    self.exec.silence(order, ts);
                    out.push(fallback);
                }
                out
            }
        }
    }

    /// Cancel on disconnect: the session's orders still open.
    pub async fn disconnected(&mut self) {
        if !self.cancel_on_disconnect {
            return;
        }
        for id in std::mem::take(&mut self.exec.placed) {
            if let Err(e) = self.gw.cancel(&self.caller, id).await {
                tracing::debug!(order = id.0, error = %e, "FIX cancel on disconnect");
            }
        }
    }
}

/// A BusinessMessageReject (j) for a message type no session takes.
pub fn unsupported(seq: u64, msg_type: &str) -> Message {
    business_reject(
        seq,
        msg_type,
        "3",
        &format!("message type {msg_type} is not supported"),
    )
}

fn business_reject(seq: u64, msg_type: &str, reason: &str, text: &str) -> Message {
    Message::new("j")
        .with(45, seq.to_string())
        .with(58, text)
        .with(372, msg_type)
        .with(380, reason)
}
