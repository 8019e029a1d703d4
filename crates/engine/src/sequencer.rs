//! The sequencer: the one writer. A dedicated OS thread owns the [`Core`] and the
//! [`Journal`]; everything else talks to it through a [`SequencerHandle`].
//!
//! Rules:
//! - Gateways send requests over a bounded channel (back-pressure when it is full). The
//!   thread blocks for the first request, then drains up to `batch_limit` commands more
//!   that queued meanwhile: that is the group commit — while one batch is being fsynced,
//!   the next one gathers in the channel.
//! - Each command is stamped `ts = max(previous ts, now)` (the core never reads a clock;
//!   time never goes backwards in the journal). The whole batch is appended to the journal
//!   and only after `append` returned are the commands applied and the callers answered.
//!   No reply, no fan-out, no state change before the journal has the batch.
//! - If `append` fails the journal is *poisoned*: that batch and every later command are
//!   answered [`SequencerError::JournalUnavailable`], nothing of them is applied, queries
//!   keep working and health reports unhealthy. A file journal writes again only after a
//!   restart (which re-validates it). A journal that can tell what the failed batch left
//!   behind ([`Journal::recover`], NATS) is asked every 500 ms while halted: once it
//!   answers, the records of the failed batch that were stored after all are applied
//!   (their callers got `JournalUnavailable`: for a write that answer means "outcome
//!   unknown", a retry with the same client id is safe) and trading resumes.
//! - After applying a batch and before answering anyone, the thread brings the read
//!   views ([`crate::views`], [`SequencerHandle::views`]) up to date: what gateways read
//!   on every request (auth, markets, books, balances) never enters this queue, and a
//!   reply received means the views show it.
//! - Queries ([`SequencerHandle::query`]) run on the thread after the batch they arrived
//!   with: a query sent after a reply was received sees that command (read-your-writes).
//!   They are for what the views do not hold (admin and start-up reads, open orders).
//! - Every applied batch goes to the projector and to every other lossless feed
//!   ([`SequencerHandle::subscribe_all`]: the notification service, whose inbox must not
//!   miss a batch either), each bounded by a capacity ([`crate::feed`]: past it, new
//!   commands are refused with [`SequencerError::Overloaded`] instead of the thread
//!   waiting or a batch being dropped), and to a broadcast channel for real-time fan-out,
//!   where a slow subscriber may lag and resubscribe.
//! - Journal retention (`prune_journal`): once a snapshot is on disk, the journal's
//!   segments wholly before the oldest snapshot still kept are deleted, here, between
//!   batches: every kept snapshot can still be replayed forward, and disk stays bounded.
//! - Every `snapshot_every` commands the core's state is serialized here and written by a
//!   background thread. While that thread is still writing the previous snapshot, the
//!   core is not serialized at all (encoding it is the expensive part, and its bytes
//!   would only be dropped); the next batch asks again, for the price of an atomic load.
//! - Follower mode (hot standby): no journal; records read from the primary's stream come
//!   in as [`Request`]s too, are applied in order, and commands are refused
//!   ([`SequencerError::ReadOnly`]; a `--standby`, which has a lease gate, answers
//!   [`SequencerError::NotLeader`] naming the leader). [`Request::Promote`] hands a
//!   standby the journal once it holds the lease ([`crate::standby`]): the thread drains
//!   the stream to its end, checks the state, and writes from the next sequence on.
//! - Leader lease (an active on a NATS journal, [`crate::leader`]): every submit and
//!   every append first checks the lease's gate; without a valid lease commands are
//!   refused with [`SequencerError::NotLeader`] and nothing is written.
//! - GTD orders: after each batch the thread publishes the core's earliest `expire_at`
//!   ([`SequencerHandle::next_expiry`]); a timer task submits `ExpireOrders` when one is due.

mod promote;

use crate::feed::{self, FeedReceiver, FeedSender, FeedStats};
pub use crate::feed::{AppliedBatch, AppliedCommand};
use crate::leader::LeaderGate;
use crate::snapshotter::Snapshotter;
use crate::views::Views;
use bourse_core::{Core, OrderView, WithdrawalView};
use bourse_journal::{Journal, Seq, SnapshotStore};
use bourse_model::{Command, CommandKind, Event, OrderId, Origin, Timestamp};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, mpsc, oneshot};

/// The answer to one submitted command.
#[derive(Debug, Clone)]
pub struct Applied {
    pub seq: Seq,
    pub ts: Timestamp,
    pub events: Vec<Event>,
    /// The open order a cancel or amend targeted, as it was just before the command: with
    /// the events, all the reply needs (the core keeps no closed orders, and waiting for
    /// the read models would answer a committed command late or not at all).
    pub order: Option<OrderView>,
    /// The pending withdrawal an approval or rejection targeted, before the command.
    pub withdrawal: Option<WithdrawalView>,
}

impl Applied {
    /// The reject code when the core refused the command.
    pub fn rejected(&self) -> Option<(bourse_model::RejectCode, Option<OrderId>)> {
        match self.events.first() {
            Some(Event::Rejected { code, order, .. }) => Some((*code, *order)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequencerError {
    #[error("journal unavailable: {0}")]
    JournalUnavailable(String),
    #[error("this server is a read-only follower")]
    ReadOnly,
    /// This node does not hold the leader lease (lost it, or another node leads): it
    /// takes no commands. The leader's advertised URL when known.
    #[error("{}", match .0 {
        Some(url) => format!("this node is not the leader; the leader is at {url}"),
        None => "this node is not the leader and no leader is known; retry shortly".into(),
    })]
    NotLeader(Option<String>),
    #[error("the sequencer has stopped")]
    Stopped,
    /// A lossless feed is at its capacity: new commands wait until it drains.
    #[error("{0} is behind; retry shortly")]
    Overloaded(&'static str),
}

type QueryFn = Box<dyn FnOnce(&Core) + Send>;

/// What the sequencer thread receives.
pub enum Request {
    Submit {
        kind: CommandKind,
        /// The audit envelope (see [`crate::origin`]).
        origin: Option<Box<Origin>>,
        reply: oneshot::Sender<Result<Applied, SequencerError>>,
    },
    Query(QueryFn),
    /// Follower mode: a record from the primary's journal.
    Replicated {
        seq: Seq,
        command: Command,
    },
    /// Follower mode: the stream broke; report unhealthy.
    ReplicationFailed(String),
    /// A standby that took the lease: drain `journal` to its end and write to it from
    /// then on. Answers the sequence and state hash the node starts from.
    Promote {
        journal: Box<dyn Journal>,
        reply: oneshot::Sender<Result<(Seq, [u8; 32]), String>>,
    },
    /// Finish the current batch and exit.
    Stop,
}

/// State shared between the thread and its handles.
#[derive(Debug)]
pub struct Status {
    poisoned: Mutex<Option<String>>,
    committed: AtomicU64,
    next_expiry: AtomicU64,
    running: AtomicBool,
    /// No journal (yet): a follower, or a standby until promoted.
    follower: AtomicBool,
    /// The leader lease's gate (an active on a NATS journal), checked before writing.
    leader: Option<Arc<LeaderGate>>,
    /// Lossless feeds. Locked by the thread while it publishes a batch and advances
    /// `committed`, so a new feed starts exactly after the sequence it is told.
    feeds: Mutex<Vec<FeedSender>>,
    /// Every feed's counters, the projector's included (health and the overload check).
    feed_stats: Mutex<Vec<Arc<FeedStats>>>,
    /// Set by the thread when a feed was full after a batch; cleared by the first
    /// submit that finds every feed below its capacity again.
    overloaded: AtomicBool,
    feed_capacity: usize,
}

impl Status {
    pub fn poisoned(&self) -> Option<String> {
        self.poisoned.lock().expect("status lock").clone()
    }
    /// Halts trading. The reason names files and OS errors: it goes to the log here
    /// (once) and to internal callers, never to anonymous ones (`/health` says only
    /// `journal unavailable`).
    fn poison(&self, reason: String) {
        tracing::error!(reason = %reason, "journal unavailable: trading halted");
        *self.poisoned.lock().expect("status lock") = Some(reason);
    }
    /// The journal recovered ([`Journal::recover`]): trading resumes.
    fn clear_poison(&self) {
        *self.poisoned.lock().expect("status lock") = None;
    }
    /// Sequence of the last applied command.
    pub fn committed_seq(&self) -> Seq {
        self.committed.load(Ordering::Acquire)
    }
    pub fn running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }
    pub fn is_follower(&self) -> bool {
        self.follower.load(Ordering::Acquire)
    }
    /// Another node took the lease this node held: it must never write again.
    pub fn deposed(&self) -> bool {
        self.leader.as_ref().is_some_and(|g| g.deposed())
    }
    /// Whether this node writes under a leader lease (an active on a NATS journal).
    pub fn has_lease_gate(&self) -> bool {
        self.leader.is_some()
    }
    /// `Err(leader)` while this node holds no valid leader lease (see [`crate::leader`]).
    pub fn leader_check(&self) -> Result<(), SequencerError> {
        match &self.leader {
            Some(gate) => gate.check().map_err(SequencerError::NotLeader),
            None => Ok(()),
        }
    }

    /// Every open lossless feed's counters.
    pub fn feeds(&self) -> Vec<Arc<FeedStats>> {
        let mut stats = self.feed_stats.lock().expect("feed stats lock");
        stats.retain(|f| !f.closed());
        stats.clone()
    }

    /// The first feed at its capacity, if any (the slow path of `submit`).
    fn full_feed(&self) -> Option<&'static str> {
        let stats = self.feed_stats.lock().expect("feed stats lock");
        stats.iter().find(|f| f.full()).map(|f| f.name)
    }

    fn add_feed(&self, stats: Arc<FeedStats>) {
        self.feed_stats.lock().expect("feed stats lock").push(stats);
    }
}

/// Cheap to clone; the gateways' way into the core.
#[derive(Clone)]
pub struct SequencerHandle {
    tx: mpsc::Sender<Request>,
    status: Arc<Status>,
    fanout: broadcast::Sender<Arc<AppliedBatch>>,
    views: Arc<Views>,
}

impl SequencerHandle {
    /// Journals and applies one command; answers once it is durable and applied. The
    /// command carries the origin in scope ([`crate::origin`]), if any.
    pub async fn submit(&self, kind: CommandKind) -> Result<Applied, SequencerError> {
        let origin = crate::origin::current().map(Box::new);
        if let Some(reason) = self.status.poisoned() {
            return Err(SequencerError::JournalUnavailable(reason));
        }
        if self.status.is_follower() {
            // A standby (a follower with a lease gate) points the client at the leader;
            // while it drains after taking the lease it knows none: "retry shortly".
            return Err(match &self.status.leader {
                Some(gate) => SequencerError::NotLeader(gate.check().err().flatten()),
                None => SequencerError::ReadOnly,
            });
        }
        self.status.leader_check()?;
        if self.status.overloaded.load(Ordering::Acquire) {
            match self.status.full_feed() {
                Some(name) => return Err(SequencerError::Overloaded(name)),
                None => self.status.overloaded.store(false, Ordering::Release),
            }
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Submit {
                kind,
                origin,
                reply,
            })
            .await
            .map_err(|_| SequencerError::Stopped)?;
        rx.await.map_err(|_| SequencerError::Stopped)?
    }

    /// Runs `f` on the sequencer thread between batches (a consistent view of the core).
    pub async fn query<R, F>(&self, f: F) -> Result<R, SequencerError>
    where
        R: Send + 'static,
        F: FnOnce(&Core) -> R + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: QueryFn = Box::new(move |core| {
            let _ = reply.send(f(core));
        });
        self.tx
            .send(Request::Query(job))
            .await
            .map_err(|_| SequencerError::Stopped)?;
        rx.await.map_err(|_| SequencerError::Stopped)
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    /// The read views, current as of the last reply sent.
    pub fn views(&self) -> &Views {
        &self.views
    }

    /// Real-time feed of applied batches (may lag; see the module doc).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AppliedBatch>> {
        self.fanout.subscribe()
    }

    /// A feed called `name` of every batch applied after the returned sequence, none ever
    /// dropped, bounded as [`crate::feed`] says. Dropping the receiver ends it.
    pub fn subscribe_all(&self, name: &'static str) -> (Seq, FeedReceiver) {
        let (tx, rx) = feed::channel(name, self.status.feed_capacity);
        self.status.add_feed(tx.stats().clone());
        let mut feeds = self.status.feeds.lock().expect("feeds lock");
        feeds.push(tx);
        (self.status.committed_seq(), rx)
    }

    /// Earliest `expire_at` (ms) of an open GTD order, if any.
    pub fn next_expiry(&self) -> Option<u64> {
        match self.status.next_expiry.load(Ordering::Acquire) {
            u64::MAX => None,
            t => Some(t),
        }
    }

    /// Asks the thread to finish its batch and exit.
    pub async fn stop(&self) {
        let _ = self.tx.send(Request::Stop).await;
    }

    /// A sender for follower records (follower mode only).
    pub fn raw_sender(&self) -> mpsc::Sender<Request> {
        self.tx.clone()
    }
}

pub struct SequencerConfig {
    pub batch_limit: usize,
    pub queue_capacity: usize,
    pub snapshot_every: u64,
    /// Delete journal segments wholly before the oldest kept snapshot.
    pub prune_journal: bool,
    /// Capacity of each lossless feed, in commands (see [`crate::feed`]).
    pub feed_capacity: usize,
    /// The leader lease's gate: no append without a valid lease (`None`: no lease, as
    /// with a file journal).
    pub leader: Option<Arc<LeaderGate>>,
}

/// Where the sequencer's output goes.
pub struct Outputs {
    /// The read-model projector's feed (`feed::channel("projector", …)`).
    pub projector: FeedSender,
    pub snapshots: Option<SnapshotStore>,
}

/// Starts the sequencer thread over a recovered core. `journal: None` = follower mode.
/// `last_ts` is the time of the last journaled command.
pub fn spawn(
    core: Core,
    journal: Option<Box<dyn Journal>>,
    last_seq: Seq,
    last_ts: u64,
    config: SequencerConfig,
    outputs: Outputs,
) -> std::io::Result<(SequencerHandle, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel(config.queue_capacity);
    let (fanout, _) = broadcast::channel(1024);
    let status = Arc::new(Status {
        poisoned: Mutex::new(None),
        committed: AtomicU64::new(last_seq),
        next_expiry: AtomicU64::new(u64::MAX),
        running: AtomicBool::new(true),
        follower: AtomicBool::new(journal.is_none()),
        leader: config.leader.clone(),
        feeds: Mutex::new(Vec::new()),
        feed_stats: Mutex::new(vec![outputs.projector.stats().clone()]),
        overloaded: AtomicBool::new(false),
        feed_capacity: config.feed_capacity,
    });
    status
        .next_expiry
        .store(next_expiry(&core), Ordering::Release);
    let snapshotter = outputs.snapshots.map(Snapshotter::spawn).transpose()?;
    let views = Arc::new(Views::build(&core));
    let mut thread = SequencerThread {
        views: views.clone(),
        core,
        journal,
        rx,
        status: status.clone(),
        fanout: fanout.clone(),
        projector: outputs.projector,
        snapshotter,
        last_seq,
        last_snapshot_seq: last_seq,
        pruned_through: 0,
        last_ts,
        config,
    };
    let join = std::thread::Builder::new()
        .name("bourse-sequencer".into())
        .spawn(move || thread.run())?;
    Ok((
        SequencerHandle {
            tx,
            status,
            fanout,
            views,
        },
        join,
    ))
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

type Reply = oneshot::Sender<Result<Applied, SequencerError>>;

struct SequencerThread {
    core: Core,
    views: Arc<Views>,
    journal: Option<Box<dyn Journal>>,
    rx: mpsc::Receiver<Request>,
    status: Arc<Status>,
    fanout: broadcast::Sender<Arc<AppliedBatch>>,
    projector: FeedSender,
    snapshotter: Option<Snapshotter>,
    last_seq: Seq,
    last_snapshot_seq: Seq,
    /// The oldest kept snapshot the journal was last pruned for.
    pruned_through: Seq,
    last_ts: u64,
    config: SequencerConfig,
}

impl SequencerThread {
    fn run(&mut self) {
        let mut commands: Vec<Command> = Vec::new();
        let mut replies: Vec<Reply> = Vec::new();
        let mut queries: Vec<QueryFn> = Vec::new();
        let mut stop = false;
        while !stop {
            let first = if self.status.poisoned().is_some() && self.journal.is_some() {
                match self.wait_recovering() {
                    Some(Some(req)) => req,
                    Some(None) => continue,
                    None => break,
                }
            } else {
                match self.rx.blocking_recv() {
                    Some(req) => req,
                    None => break,
                }
            };
            let mut next = Some(first);
            let mut drained = 0usize;
            while let Some(req) = next.take() {
                drained += 1;
                match req {
                    Request::Submit {
                        kind,
                        origin,
                        reply,
                    } => {
                        let mut command = Command::new(0, kind);
                        command.origin = origin;
                        commands.push(command);
                        replies.push(reply);
                    }
                    Request::Query(q) => queries.push(q),
                    Request::ReplicationFailed(reason) if self.journal.is_none() => {
                        self.status.poison(reason)
                    }
                    Request::Replicated { seq, command } if self.journal.is_none() => {
                        // Keep order: what was submitted before this record goes first.
                        self.commit(&mut commands, &mut replies);
                        self.apply_replicated(seq, command);
                    }
                    // Promoted: the stream is this node's journal now (our own records
                    // come back from the follower; any other is adopted by `try_recover`).
                    Request::Replicated { .. } | Request::ReplicationFailed(_) => {}
                    Request::Promote { journal, reply } => {
                        self.commit(&mut commands, &mut replies);
                        let _ = reply.send(self.promote(journal));
                    }
                    Request::Stop => stop = true,
                }
                if stop
                    || commands.len() >= self.config.batch_limit
                    || drained > 4 * self.config.batch_limit
                {
                    break;
                }
                next = self.rx.try_recv().ok();
            }
            self.commit(&mut commands, &mut replies);
            for q in queries.drain(..) {
                q(&self.core);
            }
        }
        self.status.running.store(false, Ordering::Release);
        if let Some(s) = self.snapshotter.take() {
            s.finish();
        }
        tracing::info!(last_seq = self.last_seq, "sequencer stopped");
    }

    /// While the journal is poisoned: waits for a request, trying every
    /// `RECOVERY_INTERVAL` to recover the journal (a NATS journal that lost its
    /// connection or quorum comes back). `None`: the channel closed; `Some(None)`: no
    /// request yet (look again).
    fn wait_recovering(&mut self) -> Option<Option<Request>> {
        const RECOVERY_INTERVAL: Duration = Duration::from_millis(500);
        const POLL: Duration = Duration::from_millis(20);
        let until = Instant::now() + RECOVERY_INTERVAL;
        while Instant::now() < until {
            match self.rx.try_recv() {
                Ok(req) => return Some(Some(req)),
                Err(mpsc::error::TryRecvError::Disconnected) => return None,
                Err(mpsc::error::TryRecvError::Empty) => std::thread::sleep(POLL),
            }
        }
        self.try_recover();
        Some(None)
    }

    /// Asks the journal to recover; on success applies what the failed batch left in it
    /// (journaled, so part of history, although its callers were answered
    /// `JournalUnavailable`) and lifts the halt.
    fn try_recover(&mut self) {
        let Some(journal) = self.journal.as_mut() else {
            return;
        };
        let recovered = journal.recover().map(|r| (r, journal.last_seq()));
        match recovered {
            Ok((records, journal_last)) => {
                let n = records.len();
                for (seq, command) in records {
                    self.apply_replicated(seq, command);
                }
                if self.last_seq == journal_last {
                    tracing::warn!(
                        last_seq = self.last_seq,
                        unconfirmed_applied = n,
                        "journal recovered: trading resumes"
                    );
                    self.status.clear_poison();
                }
            }
            // Holding the lease, a record of another writer in the way can only be a
            // late append of the previous holder (in flight when its lease lapsed; it may
            // have been acknowledged): adopt it and write after it.
            Err(e) if self.status.leader.is_some() && self.status.leader_check().is_ok() => {
                tracing::warn!(error = %e, "journal: re-draining records of the previous leader");
                match self.drain() {
                    Ok(n) => {
                        tracing::warn!(last_seq = self.last_seq, adopted = n, "trading resumes");
                        self.status.clear_poison();
                    }
                    Err(e) => tracing::debug!(error = %e, "journal still unavailable"),
                }
            }
            Err(e) => tracing::debug!(error = %e, "journal still unavailable"),
        }
    }

    /// Journals, applies and answers the gathered commands.
    fn commit(&mut self, commands: &mut Vec<Command>, replies: &mut Vec<Reply>) {
        if commands.is_empty() {
            return;
        }
        let refuse = |replies: &mut Vec<Reply>, err: SequencerError| {
            for r in replies.drain(..) {
                let _ = r.send(Err(err.clone()));
            }
        };
        let Some(journal) = self.journal.as_mut() else {
            commands.clear();
            refuse(replies, SequencerError::ReadOnly);
            return;
        };
        if let Some(reason) = self.status.poisoned() {
            commands.clear();
            refuse(replies, SequencerError::JournalUnavailable(reason));
            return;
        }
        // Checked again right before the append: the lease may have lapsed while the
        // batch queued (the rules of `crate::leader`).
        if let Err(e) = self.status.leader_check() {
            commands.clear();
            refuse(replies, e);
            return;
        }
        let ts = self.last_ts.max(now_ms());
        self.last_ts = ts;
        for c in commands.iter_mut() {
            c.ts = Timestamp(ts);
        }
        match journal.append(commands) {
            Ok(new_last) => {
                debug_assert_eq!(new_last, self.last_seq + commands.len() as u64);
            }
            Err(e) => {
                let reason = e.to_string();
                self.status.poison(reason.clone());
                commands.clear();
                refuse(replies, SequencerError::JournalUnavailable(reason));
                return;
            }
        }
        metrics::histogram!(crate::metrics::BATCH_COMMANDS).record(commands.len() as f64);
        let mut batch = AppliedBatch {
            commands: Vec::with_capacity(commands.len()),
        };
        let apply_seconds = metrics::histogram!(crate::metrics::APPLY_SECONDS);
        let mut answers = Vec::with_capacity(commands.len());
        for cmd in commands.drain(..) {
            self.last_seq += 1;
            let order = match &cmd.kind {
                CommandKind::CancelOrder { order, .. } | CommandKind::AmendOrder { order, .. } => {
                    self.core.order(*order)
                }
                _ => None,
            };
            let withdrawal = match &cmd.kind {
                CommandKind::CompleteWithdrawal { id } | CommandKind::RejectWithdrawal { id } => {
                    self.core.withdrawal(*id)
                }
                _ => None,
            };
            // The core reads no clock: its latency is measured here.
            let started = std::time::Instant::now();
            let events = self.core.apply(&cmd);
            apply_seconds.record(started.elapsed());
            answers.push(Applied {
                seq: self.last_seq,
                ts: cmd.ts,
                events: events.clone(),
                order,
                withdrawal,
            });
            batch.commands.push(AppliedCommand {
                seq: self.last_seq,
                ts: cmd.ts,
                kind: cmd.kind,
                origin: cmd.origin,
                events,
            });
        }
        self.publish(batch);
        for (reply, answer) in replies.drain(..).zip(answers) {
            let _ = reply.send(Ok(answer));
        }
        self.maybe_snapshot();
    }

    fn apply_replicated(&mut self, seq: Seq, command: Command) {
        if seq <= self.last_seq {
            return; // already have it (replayed at start-up)
        }
        if seq != self.last_seq + 1 {
            self.status.poison(format!(
                "replication gap: expected {}, got {seq}",
                self.last_seq + 1
            ));
            return;
        }
        self.last_seq = seq;
        self.last_ts = self.last_ts.max(command.ts.0);
        let events = self.core.apply(&command);
        self.publish(AppliedBatch {
            commands: vec![AppliedCommand {
                seq,
                ts: command.ts,
                kind: command.kind,
                origin: command.origin,
                events,
            }],
        });
        self.maybe_snapshot();
    }

    fn publish(&mut self, batch: AppliedBatch) {
        self.views.apply(&self.core, &batch);
        crate::metrics::record_batch(&self.core, &batch);
        self.status
            .next_expiry
            .store(next_expiry(&self.core), Ordering::Release);
        let batch = Arc::new(batch);
        {
            let mut feeds = self.status.feeds.lock().expect("feeds lock");
            self.status
                .committed
                .store(self.last_seq, Ordering::Release);
            feeds.retain(|f| f.send(batch.clone()));
            if feeds.iter().any(|f| f.stats().full()) {
                self.status.overloaded.store(true, Ordering::Release);
            }
        }
        if !self.projector.send(batch.clone()) {
            tracing::error!("projector is gone; read models will lag until restart");
        } else if self.projector.stats().full() {
            self.status.overloaded.store(true, Ordering::Release);
        }
        let _ = self.fanout.send(batch);
    }

    fn maybe_snapshot(&mut self) {
        self.maybe_prune();
        let every = self.config.snapshot_every;
        if every == 0 || self.last_seq - self.last_snapshot_seq < every {
            return;
        }
        if let Some(s) = &mut self.snapshotter {
            let core = &self.core;
            if s.offer(self.last_seq, || core.snapshot()) {
                self.last_snapshot_seq = self.last_seq;
            }
        }
    }
}

impl SequencerThread {
    /// Deletes the segments wholly before the oldest kept snapshot once it moved (an
    /// atomic load per batch otherwise). A failure is logged: the journal stays valid,
    /// only bigger.
    fn maybe_prune(&mut self) {
        let (Some(s), Some(journal)) = (&self.snapshotter, self.journal.as_mut()) else {
            return;
        };
        let oldest = s.oldest_kept.load(Ordering::Acquire);
        if !self.config.prune_journal || oldest <= self.pruned_through {
            return;
        }
        self.pruned_through = oldest;
        match journal.prune_before(oldest + 1) {
            Ok(0) => {}
            Ok(n) => tracing::info!(segments = n, before = oldest + 1, "journal pruned"),
            Err(e) => tracing::warn!(error = %e, "journal pruning failed"),
        }
    }
}

/// The core's earliest GTD expiry in ms, `u64::MAX` for none (the status atomic's form).
fn next_expiry(core: &Core) -> u64 {
    core.next_expiry().map_or(u64::MAX, |t| t.0)
}

/// Submits `ExpireOrders` whenever a GTD order is due, until `shutdown` fires.
pub async fn expiry_timer(
    handle: SequencerHandle,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let status = handle.status();
        if status.is_follower() || status.poisoned().is_some() || status.leader_check().is_err() {
            continue;
        }
        if handle.next_expiry().is_some_and(|t| t <= now_ms()) {
            if let Err(e) = handle.submit(CommandKind::ExpireOrders).await {
                tracing::warn!(error = %e, "expiry sweep failed");
            }
        }
    }
}
