//! What the sequencer publishes after each batch ([`AppliedBatch`]), and the lossless
//! feeds that carry it to consumers, bounded by a capacity.
//!
//! Rules:
//! - The sequencer never waits on a feed: a send is a channel push and a counter add.
//! - Each feed counts the commands sent to it and not yet received (its *backlog*).
//!   Past half the capacity (the high-water mark) `/health` says degraded and names the
//!   feed; at the capacity, the sequencer refuses new commands
//!   ([`SequencerError::Overloaded`](crate::SequencerError::Overloaded), 503) until every
//!   feed is below it again. So memory stays bounded, nothing is ever dropped, and the
//!   writer never blocks on a slow consumer: it sheds new load instead.
//! - Commands already queued for the sequencer when a feed fills are still applied: the
//!   overshoot is bounded by the queue capacity.
//! - A feed whose receiver is dropped ends; its backlog no longer counts.

use bourse_journal::Seq;
use bourse_model::{CommandKind, Event, Origin, Timestamp};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// One command as applied: its journal position, time, and what it caused.
#[derive(Debug, Clone)]
pub struct AppliedCommand {
    pub seq: Seq,
    pub ts: Timestamp,
    pub kind: CommandKind,
    /// Its audit envelope, as journaled.
    pub origin: Option<Box<Origin>>,
    pub events: Vec<Event>,
}

/// Commands applied together (one group commit, or one replicated record in follower mode).
#[derive(Debug, Clone, Default)]
pub struct AppliedBatch {
    pub commands: Vec<AppliedCommand>,
}

impl AppliedBatch {
    pub fn last_seq(&self) -> Option<Seq> {
        self.commands.last().map(|c| c.seq)
    }
}

/// What health and the sequencer see of one feed.
#[derive(Debug)]
pub struct FeedStats {
    pub name: &'static str,
    backlog: AtomicUsize,
    pub capacity: usize,
    closed: AtomicBool,
}

impl FeedStats {
    pub fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Acquire)
    }

    pub fn above_high_water(&self) -> bool {
        self.backlog() > self.capacity / 2
    }

    pub fn full(&self) -> bool {
        !self.closed.load(Ordering::Acquire) && self.backlog() >= self.capacity
    }

    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// The sequencer's end.
#[derive(Debug)]
pub struct FeedSender {
    tx: mpsc::UnboundedSender<Arc<AppliedBatch>>,
    stats: Arc<FeedStats>,
}

impl FeedSender {
    /// `false` when the receiver is gone (the feed has ended).
    pub fn send(&self, batch: Arc<AppliedBatch>) -> bool {
        let n = batch.commands.len();
        self.stats.backlog.fetch_add(n, Ordering::AcqRel);
        if self.tx.send(batch).is_err() {
            self.stats.closed.store(true, Ordering::Release);
            self.stats.backlog.fetch_sub(n, Ordering::AcqRel);
            return false;
        }
        true
    }

    pub fn stats(&self) -> &Arc<FeedStats> {
        &self.stats
    }
}

/// The consumer's end.
#[derive(Debug)]
pub struct FeedReceiver {
    rx: mpsc::UnboundedReceiver<Arc<AppliedBatch>>,
    stats: Arc<FeedStats>,
}

impl FeedReceiver {
    fn taken(&self, b: &AppliedBatch) {
        self.stats
            .backlog
            .fetch_sub(b.commands.len(), Ordering::AcqRel);
    }

    pub async fn recv(&mut self) -> Option<Arc<AppliedBatch>> {
        let b = self.rx.recv().await?;
        self.taken(&b);
        Some(b)
    }

    pub fn try_recv(&mut self) -> Option<Arc<AppliedBatch>> {
        let b = self.rx.try_recv().ok()?;
        self.taken(&b);
        Some(b)
    }

    /// Waits for at least one batch, then takes up to `limit`; 0 when the feed ended.
    pub async fn recv_many(&mut self, out: &mut Vec<Arc<AppliedBatch>>, limit: usize) -> usize {
        let start = out.len();
        let n = self.rx.recv_many(out, limit).await;
        for b in &out[start..] {
            self.taken(b);
        }
        n
    }
}

impl Drop for FeedReceiver {
    fn drop(&mut self) {
        self.stats.closed.store(true, Ordering::Release);
    }
}

/// A new feed of `capacity` commands.
pub fn channel(name: &'static str, capacity: usize) -> (FeedSender, FeedReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let stats = Arc::new(FeedStats {
        name,
        backlog: AtomicUsize::new(0),
        capacity: capacity.max(1),
        closed: AtomicBool::new(false),
    });
    (
        FeedSender {
            tx,
            stats: stats.clone(),
        },
        FeedReceiver { rx, stats },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bourse_model::{CommandKind, Timestamp};

    fn batch(n: usize) -> Arc<AppliedBatch> {
        Arc::new(AppliedBatch {
            commands: (0..n as u64)
                .map(|seq| AppliedCommand {
                    seq,
                    ts: Timestamp(0),
                    kind: CommandKind::ExpireOrders,
                    origin: None,
                    events: Vec::new(),
                })
                .collect(),
        })
    }

    #[tokio::test]
    async fn backlog_counts_commands_until_received() {
        let (tx, mut rx) = channel("test", 10);
        assert!(tx.send(batch(3)));
        assert!(tx.send(batch(3)));
        assert_eq!(tx.stats().backlog(), 6);
        assert!(tx.stats().above_high_water());
        assert!(!tx.stats().full());
        assert!(tx.send(batch(4)));
        assert!(tx.stats().full());
        assert_eq!(rx.recv().await.unwrap().commands.len(), 3);
        assert_eq!(tx.stats().backlog(), 7);
        assert!(!tx.stats().full());
        let mut out = Vec::new();
        assert_eq!(rx.recv_many(&mut out, 10).await, 2);
        assert_eq!(tx.stats().backlog(), 0);
        assert!(rx.try_recv().is_none());
    }

    #[test]
    fn a_dropped_receiver_ends_the_feed_and_never_blocks_the_sender() {
        let (tx, rx) = channel("test", 1);
        drop(rx);
        assert!(!tx.send(batch(5)));
        assert!(tx.stats().closed());
        assert!(!tx.stats().full(), "a closed feed never refuses commands");
        assert_eq!(tx.stats().backlog(), 0);
    }
}
