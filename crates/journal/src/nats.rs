//! The NATS JetStream journal: commands as messages in a stream, for a replicated journal
//! and a hot standby that follows it.
//!
//! # Mapping
//!
//! - One stream (default `BOURSE_JOURNAL`, file storage, limits retention, no limits) on
//!   one subject (default `bourse.journal`), created if missing. The stream belongs to
//!   one journal: nothing else may publish to the subject or delete messages.
//! - A record's [`Seq`] **is the stream sequence**. A new stream starts at 1 and the
//!   stream assigns contiguous sequences, so no sequence header is needed; readers check
//!   contiguity and report a hole as [`JournalError::Gap`]. On connect, `last_seq()` is
//!   the stream's last sequence as the server reports it.
//! - The payload is the `bourse_model::Command`, postcard-encoded and read as in the file
//!   journal (see `codec`).
//! - Every message carries three headers:
//!   - `Nats-Msg-Id: {journal_id}-{writer}-{seq}` (see [`message_id`]), where `writer` is
//!     a fresh random id per [`NatsJournal`] instance: a re-publish of the same record by
//!     the same writer within the stream's duplicate window is dropped by the server
//!     (answered "duplicate" with the original sequence), while two writers never share
//!     ids. A refusal or a "duplicate" answer is resolved by reading the stored record
//!     and comparing its id and payload to ours (rules in `nats/publish.rs`).
//!   - The writer id changes on every [`NatsJournal::recover`] and
//!     [`NatsJournal::resync`]; the old ids stay this instance's own, so a failed batch
//!     that is stored after all is recognised (and handed back by `recover`) instead of
//!     being taken for another writer's, and no new record can reuse an id an older,
//!     different record of the same sequence may still be stored under.
//!   - `Nats-Expected-Last-Sequence: {seq - 1}`: a record only lands at the sequence its
//!     writer meant, so a stale writer (a demoted primary that missed records) is refused.
//!   - on every record after the first of a batch, `Nats-Expected-Last-Msg-Id` naming the
//!     batch's previous record. Without it a pipelined batch could be split: its first
//!     record refused because another writer just took that sequence, and its second
//!     accepted because the stream now ends exactly where it expected.
//! - `append` publishes the whole batch without waiting (pipelined), then awaits every
//!   acknowledgement; it returns only when all are acknowledged at the expected
//!   sequences. Any failure poisons the journal until [`NatsJournal::resync`].
//!
//! - "Acknowledged" means what JetStream guarantees: stored by the stream's replicas.
//!   A single nats-server fsyncs file storage on its own `sync_interval` (2 minutes by
//!   default), so for per-batch fsync durability run a 3-replica stream or set
//!   `sync_interval: always` on the server.
//!
//! # Threads
//!
//! The journal owns a small tokio runtime (one worker thread) that runs the NATS client,
//! so the connection stays alive (pings, reconnects) between appends; the synchronous
//! methods `block_on` it. Call them from a plain thread (the sequencer thread, or
//! `spawn_blocking`), never from inside an async task. Only the server's features of
//! NATS 2.9 are used (no multi-filter consumers, no stream metadata).

mod publish;

use crate::{Journal, JournalError, RecordIter, Seq};
use async_nats::jetstream::{self, consumer, stream};
use bourse_model::Command;
use futures_util::{FutureExt, StreamExt};
use publish::Batch;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};

/// Where the NATS journal lives.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    pub stream: String,
    pub subject: String,
    /// Prefix of the `Nats-Msg-Id` deduplication ids.
    pub journal_id: String,
    /// Connect, request and acknowledgement timeout.
    pub timeout: Duration,
    /// How long the server remembers message ids (set when the stream is created).
    pub duplicate_window: Duration,
    /// Stream replicas (1 on a single server, 3 in a cluster). Set when the stream is
    /// created; an existing stream with another count is refused at connect.
    pub replicas: usize,
    /// Where the stream's replicas go when it is created (`None`: the server's choice).
    pub placement: Option<Placement>,
    /// How long `append` keeps re-publishing a record whose acknowledgement did not come
    /// (timeout, no responders, no quorum) before it fails the batch.
    pub retry_for: Duration,
}

/// JetStream placement of a new stream: a cluster name and/or server tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    pub cluster: Option<String>,
    pub tags: Vec<String>,
}

impl NatsConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            stream: "BOURSE_JOURNAL".into(),
            subject: "bourse.journal".into(),
            journal_id: "bourse".into(),
            timeout: Duration::from_secs(5),
            duplicate_window: Duration::from_secs(120),
            replicas: 1,
            placement: None,
            retry_for: Duration::from_secs(10),
        }
    }

    /// The servers of `url`, a comma-separated list (`nats://a:4222,nats://b:4222`).
    pub fn servers(&self) -> Vec<&str> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// The deduplication id of record `seq` published by `writer`: `{journal_id}-{writer}-{seq}`.
pub fn message_id(journal_id: &str, writer: &str, seq: Seq) -> String {
    format!("{journal_id}-{writer}-{seq}")
}

/// Owns the runtime; shuts it down without blocking so dropping is safe anywhere.
struct RuntimeOwner(Option<Runtime>);

impl Drop for RuntimeOwner {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The journal's NATS connection as a health check sees it: the client's own connection
/// state (no I/O; the client reconnects by itself, and this follows).
#[derive(Clone)]
pub struct NatsLink(async_nats::Client);

impl NatsLink {
    pub fn connected(&self) -> bool {
        self.0.connection_state() == async_nats::connection::State::Connected
    }
}

impl std::fmt::Debug for NatsLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsLink")
            .field("connected", &self.connected())
            .finish()
    }
}

/// A [`Journal`] on a JetStream stream: see the module doc.
pub struct NatsJournal {
    runtime: Arc<RuntimeOwner>,
    handle: Handle,
    client: async_nats::Client,
    js: jetstream::Context,
    config: NatsConfig,
    /// This instance's part of the message ids. Renewed by [`NatsJournal::recover`] and `resync`, so a
    /// record of a failed batch still in flight can never pass for a new one.
    writer: String,
    /// Writer ids this instance used before: records under them are its own.
    past_writers: Vec<String>,
    first_seq: Seq,
    last_seq: Seq,
    poisoned: Option<String>,
}

impl std::fmt::Debug for NatsJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsJournal")
            .field("config", &self.config)
            .field("last_seq", &self.last_seq)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

fn nats_err(what: &str, err: impl std::fmt::Display) -> JournalError {
    JournalError::Nats(format!("{what}: {err}"))
}

impl NatsJournal {
    /// Connects, creates the stream if it is missing, and reads the last sequence.
    /// Fails (does not retry) if the server is unreachable.
    pub fn connect(config: NatsConfig) -> Result<Self, JournalError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bourse-nats")
            .enable_all()
            .build()
            .map_err(|e| JournalError::io("tokio runtime", e))?;
        let handle = rt.handle().clone();
        let runtime = Arc::new(RuntimeOwner(Some(rt)));
        let (client, js) = handle.block_on(async {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(config.timeout)
                .request_timeout(Some(config.timeout))
                // Named so that an operator (and the cluster tests) can tell the journal's
                // connection apart in the server's `/connz`.
                .name("bourse-journal")
                .connect(config.servers())
                .await
                .map_err(|e| nats_err(&format!("connecting to {}", config.url), e))?;
            let mut js = jetstream::new(client.clone());
            js.set_timeout(config.timeout);
            Ok::<_, JournalError>((client, js))
        })?;
        let mut journal = Self {
            runtime,
            handle,
            client,
            js,
            config,
            writer: nuid::next().to_string(),
            past_writers: Vec::new(),
            first_seq: 1,
            last_seq: 0,
            poisoned: None,
        };
        journal.resync()?;
        Ok(journal)
    }

    pub fn config(&self) -> &NatsConfig {
        &self.config
    }

    /// This instance's writer id, part of its message ids (see [`message_id`]).
    pub fn writer_id(&self) -> &str {
        &self.writer
    }

    /// Ensures the stream exists, re-reads the last sequence from the server and clears a
    /// poisoned state. Call after an outage, or when a standby is promoted to writer.
    /// A replicated stream without a quorum is waited for (up to `retry_for`): its
    /// answer could be a stale replica's, and writing is impossible anyway.
    pub fn resync(&mut self) -> Result<Seq, JournalError> {
        let deadline = std::time::Instant::now() + self.config.retry_for;
        let (first, last) = loop {
            match self.stream_bounds() {
                Err(JournalError::Unavailable { reason })
                    if std::time::Instant::now() < deadline =>
                {
                    tracing::debug!(%reason, "journal: waiting for the stream's quorum");
                    std::thread::sleep(Duration::from_millis(200));
                }
                other => break other?,
            }
        };
        self.first_seq = first.max(1);
        self.last_seq = last;
        self.poisoned = None;
        // A fresh id: a record of an earlier failed batch may still land at a sequence
        // this writer is about to fill, and must not pass for the new one.
        self.rotate_writer();
        Ok(last)
    }

    /// Moves to a new writer id, keeping the old one as this instance's own.
    fn rotate_writer(&mut self) {
        let old = std::mem::replace(&mut self.writer, nuid::next().to_string());
        self.past_writers.push(old);
    }

    /// Creates the stream if missing, checks it, and reads its first and last sequence.
    fn stream_bounds(&self) -> Result<(Seq, Seq), JournalError> {
        let cfg = &self.config;
        self.handle.block_on(async {
            let mut stream = self
                .js
                .get_or_create_stream(stream::Config {
                    name: cfg.stream.clone(),
                    subjects: vec![cfg.subject.clone()],
                    storage: stream::StorageType::File,
                    retention: stream::RetentionPolicy::Limits,
                    duplicate_window: cfg.duplicate_window,
                    num_replicas: cfg.replicas,
                    placement: cfg.placement.as_ref().map(|p| stream::Placement {
                        cluster: p.cluster.clone(),
                        tags: p.tags.clone(),
                    }),
                    ..Default::default()
                })
                .await
                .map_err(|e| nats_err(&format!("creating stream {}", cfg.stream), e))?;
            let info = stream
                .info()
                .await
                .map_err(|e| nats_err(&format!("stream {} info", cfg.stream), e))?;
            if !info.config.subjects.contains(&cfg.subject) {
                return Err(JournalError::Config(format!(
                    "stream {} exists but does not carry subject {}",
                    cfg.stream, cfg.subject
                )));
            }
            // The stream's replica count decides what an acknowledgement means: never
            // write to one that differs from what the operator asked for.
            if info.config.num_replicas.max(1) != cfg.replicas.max(1) {
                return Err(JournalError::Config(format!(
                    "stream {} has {} replica(s) but the configuration asks for {} \
                     ([nats] replicas); change the stream (`nats stream edit {} --replicas {}`) \
                     or the configuration",
                    cfg.stream, info.config.num_replicas, cfg.replicas, cfg.stream, cfg.replicas
                )));
            }
            if let Some(reason) = no_quorum(info) {
                return Err(JournalError::Unavailable {
                    reason: format!("stream {}: {reason}", cfg.stream),
                });
            }
            Ok((info.state.first_sequence, info.state.last_sequence))
        })
    }

    /// After a failed append (the journal is poisoned): re-reads the stream's end and
    /// returns the records past the last confirmed one, which must all be this instance's
    /// own (a batch whose acknowledgement was lost may still have been stored); the caller
    /// applies them. Then the journal writes again, under a new writer id so that a record
    /// of the failed batch still in flight can never pass for a new one. `Err` (still
    /// unreachable, another writer's record, fewer records than confirmed): it stays
    /// poisoned.
    pub fn recover(&mut self) -> Result<Vec<(Seq, Command)>, JournalError> {
        let (stream, mine, from) = (
            self.config.stream.clone(),
            self.writers_ids(),
            self.last_seq + 1,
        );
        let location = self.location();
        let (first, last, records) = self.handle.block_on(async {
            let mut handle = self
                .js
                .get_stream(&stream)
                .await
                .map_err(|e| nats_err(&format!("stream {stream}"), e))?;
            let info = handle
                .info()
                .await
                .map_err(|e| nats_err(&format!("stream {stream} info"), e))?;
            // A stream leader that just lost its peers still answers for a while: only a
            // quorum of current replicas makes the stream writable again.
            if let Some(reason) = no_quorum(info) {
                return Err(JournalError::Unavailable {
                    reason: format!("stream {stream}: {reason}"),
                });
            }
            let (first, last) = (info.state.first_sequence, info.state.last_sequence);
            if last + 1 < from {
                return Err(JournalError::Unavailable {
                    reason: format!(
                        "stream {stream} ends at {last} but {} records were confirmed: \
                         acknowledged records are missing",
                        from - 1
                    ),
                });
            }
            let mut records = Vec::new();
            for seq in from..=last {
                let msg = publish::stored(&self.js, &stream, seq)
                    .await
                    .map_err(JournalError::Nats)?;
                let id = msg
                    .headers
                    .get(async_nats::header::NATS_MESSAGE_ID)
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default();
                if !mine
                    .iter()
                    .any(|w| message_id(&self.config.journal_id, w, seq) == id)
                {
                    return Err(JournalError::Unavailable {
                        reason: format!(
                            "record {seq} of stream {stream} was written by another writer \
                             ({id}): this node no longer owns the journal"
                        ),
                    });
                }
                let cmd =
                    crate::codec::decode(&msg.payload).map_err(|source| JournalError::Decode {
                        location: location.clone(),
                        seq,
                        source,
                    })?;
                records.push((seq, cmd));
            }
            Ok((first, last, records))
        })?;
        self.rotate_writer();
        self.first_seq = first.max(1);
        self.last_seq = last;
        self.poisoned = None;
        Ok(records)
    }

    fn writers_ids(&self) -> Vec<String> {
        let mut ids = self.past_writers.clone();
        ids.push(self.writer.clone());
        ids
    }

    /// Deletes the stream (tests and operators only: this destroys the journal).
    pub fn delete_stream(self) -> Result<(), JournalError> {
        let name = self.config.stream.clone();
        self.handle.block_on(async {
            self.js
                .delete_stream(&name)
                .await
                .map(|_| ())
                .map_err(|e| nats_err(&format!("deleting stream {name}"), e))
        })
    }

    /// Streams records from `from` on, first the ones already in the stream, then each new
    /// one as it is appended (by any writer), until the follower is dropped.
    pub fn follow(&self, from: Seq) -> Result<Follower, JournalError> {
        let from = from.max(1);
        let mut messages = self.handle.block_on(self.ordered_messages(from))?;
        let (tx, rx) = tokio::sync::mpsc::channel(8192);
        let location = self.location();
        let task = self.handle.spawn(async move {
            let mut expected = from;
            while let Some(item) = messages.next().await {
                let out = match item {
                    Ok(msg) => decode_message(&msg, expected, &location),
                    // Transient (missed heartbeats while the server is away, consumer
                    // being recreated): report and keep following.
                    Err(e) => Err(nats_err("following the stream", e)),
                };
                let fatal = matches!(
                    out,
                    Err(JournalError::Gap { .. } | JournalError::Decode { .. })
                );
                if out.is_ok() {
                    expected += 1;
                }
                if tx.send(out).await.is_err() || fatal {
                    break;
                }
            }
        });
        Ok(Follower {
            rx,
            task,
            handle: self.handle.clone(),
            _runtime: self.runtime.clone(),
        })
    }

    fn location(&self) -> String {
        format!("NATS stream {}", self.config.stream)
    }

    /// An ordered consumer from `from` on. Retried (with back-off) for up to `retry_for`:
    /// right after a node or the quorum returns, the stream may still be electing its
    /// leader and the request times out.
    async fn ordered_messages(
        &self,
        from: Seq,
    ) -> Result<Pin<Box<consumer::push::Ordered>>, JournalError> {
        let deadline = tokio::time::Instant::now() + self.config.retry_for;
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.try_ordered_messages(from).await {
                Ok(m) => return Ok(m),
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    async fn try_ordered_messages(
        &self,
        from: Seq,
    ) -> Result<Pin<Box<consumer::push::Ordered>>, JournalError> {
        let stream = self
            .js
            .get_stream(&self.config.stream)
            .await
            .map_err(|e| nats_err(&format!("stream {}", self.config.stream), e))?;
        let consumer = stream
            .create_consumer(consumer::push::OrderedConfig {
                deliver_subject: self.client.new_inbox(),
                filter_subject: self.config.subject.clone(),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: from,
                },
                ..Default::default()
            })
            .await
            .map_err(|e| nats_err("creating an ordered consumer", e))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|e| nats_err("subscribing to the ordered consumer", e))?;
        Ok(Box::pin(messages))
    }
}

/// Why a replicated stream cannot take writes now (`None`: it has a leader and a quorum of
/// replicas seen recently).
fn no_quorum(info: &stream::Info) -> Option<String> {
    let replicas = info.config.num_replicas.max(1);
    let cluster = info.cluster.as_ref()?;
    if replicas == 1 {
        return None;
    }
    if cluster.leader.as_deref().unwrap_or_default().is_empty() {
        return Some("no leader".into());
    }
    let current = 1 + cluster
        .replicas
        .iter()
        .filter(|p| p.current && !p.offline && p.active < Duration::from_secs(5))
        .count();
    (current * 2 <= replicas)
        .then(|| format!("{current} of {replicas} replicas current: no quorum"))
}

/// Decodes one stream message that must be record `expected`.
fn decode_message(
    msg: &jetstream::Message,
    expected: Seq,
    location: &str,
) -> Result<(Seq, Command), JournalError> {
    let info = msg
        .info()
        .map_err(|e| nats_err("reading message metadata", e))?;
    let seq = info.stream_sequence;
    if seq != expected {
        return Err(JournalError::Gap {
            location: location.to_string(),
            expected,
            found: seq,
        });
    }
    let cmd = crate::codec::decode(&msg.payload).map_err(|source| JournalError::Decode {
        location: location.to_string(),
        seq,
        source,
    })?;
    Ok((seq, cmd))
}

impl Journal for NatsJournal {
    fn nats_link(&self) -> Option<NatsLink> {
        Some(NatsLink(self.client.clone()))
    }

    fn append(&mut self, cmds: &[Command]) -> Result<Seq, JournalError> {
        if let Some(reason) = &self.poisoned {
            return Err(JournalError::Unavailable {
                reason: reason.clone(),
            });
        }
        if cmds.is_empty() {
            return Ok(self.last_seq);
        }
        let payloads = cmds
            .iter()
            .map(|c| postcard::to_allocvec(c).map(bytes::Bytes::from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(JournalError::Encode)?;
        let base = self.last_seq;
        let batch = Batch {
            js: &self.js,
            subject: &self.config.subject,
            stream: &self.config.stream,
            journal_id: &self.config.journal_id,
            writer: &self.writer,
            past_writers: &self.past_writers,
            base,
            retry_for: self.config.retry_for,
        };
        match self.handle.block_on(batch.publish(payloads)) {
            Ok(()) => {
                self.last_seq = base + cmds.len() as Seq;
                Ok(self.last_seq)
            }
            Err(reason) => {
                self.poisoned = Some(reason.clone());
                Err(JournalError::Unavailable { reason })
            }
        }
    }

    fn recover(&mut self) -> Result<Vec<(Seq, Command)>, JournalError> {
        NatsJournal::recover(self)
    }

    fn resync(&mut self) -> Result<Seq, JournalError> {
        NatsJournal::resync(self)
    }

    fn last_seq(&self) -> Seq {
        self.last_seq
    }

    fn read_from(&self, from: Seq) -> Result<RecordIter<'_>, JournalError> {
        let from = from.max(1);
        if from < self.first_seq {
            return Err(JournalError::OutOfRange {
                requested: from,
                first: self.first_seq,
                last: self.last_seq,
            });
        }
        if from > self.last_seq {
            return Ok(Box::new(std::iter::empty()));
        }
        let messages = self.handle.block_on(self.ordered_messages(from))?;
        Ok(Box::new(StreamReplay {
            handle: &self.handle,
            messages: Some(messages),
            ready: VecDeque::new(),
            next_seq: from,
            until: self.last_seq,
            idle_timeout: self.config.timeout,
            location: self.location(),
            done: false,
        }))
    }

    fn poisoned(&self) -> Option<&str> {
        self.poisoned.as_deref()
    }
}

/// A bounded replay: from `next_seq` to `until`, then done.
struct StreamReplay<'a> {
    handle: &'a Handle,
    /// `Some` until drop (see the `Drop` impl).
    messages: Option<Pin<Box<consumer::push::Ordered>>>,
    /// Messages already received, so that one `block_on` (one thread hand-off) serves
    /// many records.
    ready: VecDeque<Result<jetstream::Message, JournalError>>,
    next_seq: Seq,
    until: Seq,
    idle_timeout: Duration,
    location: String,
    done: bool,
}

impl StreamReplay<'_> {
    /// Waits for the next message, then takes whatever else has already arrived.
    fn fill(&mut self) {
        const CHUNK: u64 = 4096;
        let want = (self.until + 1 - self.next_seq).min(CHUNK) as usize;
        let (timeout, next_seq, location) = (self.idle_timeout, self.next_seq, &self.location);
        let messages = self.messages.as_mut().expect("present until dropped");
        let ready = &mut self.ready;
        self.handle.block_on(async {
            match tokio::time::timeout(timeout, messages.next()).await {
                Err(_) => ready.push_back(Err(JournalError::Nats(format!(
                    "no record {next_seq} from {location} within {timeout:?}"
                )))),
                Ok(None) => ready.push_back(Err(JournalError::Nats(format!(
                    "{location} ended before record {next_seq}"
                )))),
                Ok(Some(first)) => {
                    ready.push_back(first.map_err(|e| nats_err("replaying the stream", e)));
                    while ready.len() < want {
                        match messages.next().now_or_never() {
                            Some(Some(msg)) => ready
                                .push_back(msg.map_err(|e| nats_err("replaying the stream", e))),
                            _ => break,
                        }
                    }
                }
            }
        });
    }
}

impl Iterator for StreamReplay<'_> {
    type Item = Result<(Seq, Command), JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.next_seq > self.until {
            return None;
        }
        if self.ready.is_empty() {
            self.fill();
        }
        let out = match self.ready.pop_front()? {
            Ok(msg) => decode_message(&msg, self.next_seq, &self.location),
            Err(e) => Err(e),
        };
        match out {
            Ok(rec) => {
                self.next_seq += 1;
                Some(Ok(rec))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl Drop for StreamReplay<'_> {
    fn drop(&mut self) {
        // Dropping a subscription talks to the client's tasks: it needs the runtime.
        let _context = self.handle.enter();
        self.ready.clear();
        self.messages = None;
    }
}

/// Records of a followed stream, in order: the backlog, then live appends.
///
/// An `Err(JournalError::Nats)` item is transient (the server went away; the consumer is
/// being re-created) and more records may follow; a `Gap` or `Decode` error ends it.
/// Dropping the follower stops the subscription.
pub struct Follower {
    rx: tokio::sync::mpsc::Receiver<Result<(Seq, Command), JournalError>>,
    task: tokio::task::JoinHandle<()>,
    handle: Handle,
    _runtime: Arc<RuntimeOwner>,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower").finish_non_exhaustive()
    }
}

impl Follower {
    /// Blocks for the next item; `None` once the follower has ended. Plain threads only.
    pub fn recv(&mut self) -> Option<Result<(Seq, Command), JournalError>> {
        self.rx.blocking_recv()
    }

    /// Like [`Follower::recv`] but gives up after `timeout`: `Ok(None)` means nothing new.
    /// An ended follower yields `Err(Unavailable)`.
    pub fn recv_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<(Seq, Command)>, JournalError> {
        let rx = &mut self.rx;
        match self
            .handle
            .block_on(async { tokio::time::timeout(timeout, rx.recv()).await })
        {
            Err(_) => Ok(None),
            Ok(Some(item)) => item.map(Some),
            Ok(None) => Err(JournalError::Unavailable {
                reason: "the follower has stopped".into(),
            }),
        }
    }

    /// For async callers: the next item, `None` once ended.
    pub async fn recv_async(&mut self) -> Option<Result<(Seq, Command), JournalError>> {
        self.rx.recv().await
    }
}

impl Iterator for Follower {
    type Item = Result<(Seq, Command), JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.recv()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}
