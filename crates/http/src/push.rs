//! Connection queues: what the WebSocket fan-out and the notification service push into
//! and the connection tasks drain (its own module so that neither of those two depends
//! on the other for it). Rules:
//! - A push never waits: `try_send` into a bounded queue of one connection; a full queue
//!   makes the connection a slow consumer, closed with [`close_code::SLOW_CONSUMER`].
//! - Counters ([`WsStats`]) are monotonic except the connection gauge.

use crate::ws_protocol::Channel;
use axum::extract::ws::{CloseFrame, Utf8Bytes};
use bourse_model::{CommandKind, UserId};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

/// Close codes the server uses.
pub mod close_code {
    pub const IDLE_TIMEOUT: u16 = 4000;
    pub const SLOW_CONSUMER: u16 = 4008;
    /// The client kept sending over its rate limit.
    pub const RATE_LIMITED: u16 = 4029;
}

/// Counters for monitoring (monotonic unless noted).
#[derive(Debug, Default)]
pub struct WsStats {
    /// Open connections (a gauge).
    pub connections: AtomicU64,
    /// Subscriptions held by open connections (a gauge).
    pub subscriptions: AtomicU64,
    pub messages_sent: AtomicU64,
    pub slow_consumers_closed: AtomicU64,
    pub idle_closed: AtomicU64,
    /// Times the fan-out lagged behind the broadcast and resent book snapshots.
    pub resyncs: AtomicU64,
}

/// A plain copy of [`WsStats`].
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct WsStatsSnapshot {
    pub connections: u64,
    pub subscriptions: u64,
    pub messages_sent: u64,
    pub slow_consumers_closed: u64,
    pub idle_closed: u64,
    pub resyncs: u64,
}

impl WsStats {
    pub fn snapshot(&self) -> WsStatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        WsStatsSnapshot {
            connections: g(&self.connections),
            subscriptions: g(&self.subscriptions),
            messages_sent: g(&self.messages_sent),
            slow_consumers_closed: g(&self.slow_consumers_closed),
            idle_closed: g(&self.idle_closed),
            resyncs: g(&self.resyncs),
        }
    }
}

pub type ConnId = u64;

/// What a connection's queue carries.
#[derive(Debug, Clone)]
pub(crate) enum Out {
    /// A ready public frame (market data).
    Frame(Utf8Bytes),
    /// A ready frame of a private channel, written only while the connection is still
    /// subscribed to exactly that channel (the channel names its user).
    Private(Channel, Utf8Bytes),
    /// One notification of `user` as JSON; the connection batches these, and writes them
    /// only while subscribed to that user's `notifications`.
    Notification {
        user: UserId,
        critical: bool,
        /// Its priority's name (the metrics label).
        priority: &'static str,
        id: u64,
        json: Utf8Bytes,
    },
    /// A command that can invalidate the connection's credential was applied (logout,
    /// password change, API key deletion), or the fan-out lagged and may have missed
    /// one: the connection checks its credential again before writing anything queued
    /// after this.
    Recheck,
}

/// The sending half of one connection: its bounded queue and a way to close it.
#[derive(Debug, Clone)]
pub(crate) struct Sink {
    pub id: ConnId,
    pub(crate) tx: mpsc::Sender<Out>,
    pub(crate) closer: Arc<Closer>,
}

#[derive(Debug, Default)]
pub(crate) struct Closer {
    pub(crate) code: AtomicU16,
    pub(crate) notify: Notify,
}

impl Closer {
    /// The close frame once [`Sink::close`] was called.
    pub fn frame(&self) -> Option<CloseFrame> {
        match self.code.load(Ordering::Acquire) {
            0 => None,
            close_code::SLOW_CONSUMER => Some(CloseFrame {
                code: close_code::SLOW_CONSUMER,
                reason: "slow consumer".into(),
            }),
            code => Some(CloseFrame {
                code,
                reason: "closed by server".into(),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    Queued,
    /// The queue was full: the connection is being closed as a slow consumer.
    Full,
    /// The connection is gone.
    Closed,
}

impl Sink {
    /// Queues without waiting; a full queue closes the connection (slow consumer).
    pub fn push(&self, out: Out, stats: &WsStats) -> Push {
        match self.tx.try_send(out) {
            Ok(()) => Push::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if self.close(close_code::SLOW_CONSUMER) {
                    stats.slow_consumers_closed.fetch_add(1, Ordering::Relaxed);
                }
                Push::Full
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Push::Closed,
        }
    }

    /// A sink with a queue of `capacity` and nobody writing it (unit tests).
    #[cfg(test)]
    pub fn for_test(id: ConnId, capacity: usize) -> (Sink, mpsc::Receiver<Out>) {
        let (tx, rx) = mpsc::channel(capacity);
        let sink = Sink {
            id,
            tx,
            closer: Arc::new(Closer::default()),
        };
        (sink, rx)
    }

    /// Whether the connection was asked to close; it then writes no private frame.
    pub fn closing(&self) -> bool {
        self.closer.code.load(Ordering::Acquire) != 0
    }

    /// Free slots left in the queue.
    pub fn room(&self) -> usize {
        self.tx.capacity()
    }

    pub fn max_room(&self) -> usize {
        self.tx.max_capacity()
    }

    /// Asks the connection to close with `code`; `true` the first time.
    pub fn close(&self, code: u16) -> bool {
        let first = self
            .closer
            .code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if first {
            self.closer.notify.notify_one();
        }
        first
    }
}

/// The user whose credentials `kind` may invalidate once applied: a logout
/// (`RevokeToken`), a password change (every token issued before it) or an API key
/// deletion. Role changes and the kill switch leave sessions as they are.
pub(crate) fn revokes_credentials_of(kind: &CommandKind) -> Option<UserId> {
    match kind {
        CommandKind::RevokeToken { user, .. }
        | CommandKind::SetPassword { user, .. }
        | CommandKind::DeleteApiKey { user, .. } => Some(*user),
        _ => None,
    }
}
