//! The engine's settings. The binary assembles them from its config file and flags
//! (`bourse::Config::engine`); nothing here reads a file or the environment.

use serde::Deserialize;
use std::path::PathBuf;

/// Which journal backend the sequencer writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum JournalKind {
    #[default]
    File,
    Nats,
}

impl std::str::FromStr for JournalKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "file" => Ok(Self::File),
            "nats" => Ok(Self::Nats),
            other => Err(format!("unknown journal `{other}` (file or nats)")),
        }
    }
}

/// Journal, snapshots, read-model database and batching.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`, resolved by the binary.
    pub database_url: String,
    pub journal: JournalKind,
    pub nats_url: String,
    pub nats_stream: String,
    pub nats_subject: String,
    /// Replication, placement and retries of the NATS stream (`[nats]`).
    pub nats: NatsSettings,
    /// Read-only hot standby following the NATS stream.
    pub follow: bool,
    /// Write a snapshot every this many commands (0 = never).
    pub snapshot_every: u64,
    /// Snapshots kept on disk.
    pub snapshots_keep: usize,
    /// Delete journal segments wholly before the oldest kept snapshot.
    pub prune_journal: bool,
    /// A file journal rolls to a new segment past this size.
    pub segment_bytes: u64,
    /// Most commands the sequencer journals in one group commit.
    pub batch_limit: usize,
    /// Capacity of the gateways → sequencer channel (back-pressure beyond it).
    pub queue_capacity: usize,
}

/// `[nats]`: how the JetStream journal stream is replicated and written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsSettings {
    /// Stream replicas. `None`: 3 when `nats_url` lists several servers (a cluster),
    /// else 1. Start-up refuses an existing stream with another count.
    pub replicas: Option<usize>,
    /// Placement of a new stream: the JetStream cluster name …
    pub placement_cluster: Option<String>,
    /// … and/or server tags.
    pub placement_tags: Vec<String>,
    /// How long the server remembers message ids (set when the stream is created); must
    /// exceed `retry_ms`, or a re-published record could be stored twice.
    pub duplicate_window_secs: u64,
    /// Connect, request and acknowledgement timeout.
    pub timeout_ms: u64,
    /// How long an unconfirmed record is re-published (same message id) before the
    /// batch fails with `JOURNAL_UNAVAILABLE`.
    pub retry_ms: u64,
    /// TTL of the active's leader lease (KV bucket `BOURSE_LEADER`, key = the stream;
    /// default 15 s, see `Default`):
    /// renewed every TTL/4, the active stops taking commands at 2/3 of it without a
    /// renewal, and a standby can take over after it (see `bourse_engine::leader`).
    pub lease_ttl_ms: u64,
    /// The URL other nodes and clients are told to use for this node (the lease's value,
    /// named in `NOT_LEADER` answers). Default: `http://` + the listen address.
    pub advertise_url: Option<String>,
}

impl Default for NatsSettings {
    fn default() -> Self {
        Self {
            replicas: None,
            placement_cluster: None,
            placement_tags: Vec::new(),
            duplicate_window_secs: 120,
            timeout_ms: 5000,
            retry_ms: 10_000,
            // Longer than a stream-leader election of the KV bucket (nats-server's raft
            // waits 4-9 s): with a shorter TTL the loss of one NATS node, quorum intact,
            // could halt the active (its validity is 2/3 of the TTL).
            lease_ttl_ms: 15_000,
            advertise_url: None,
        }
    }
}

impl NatsSettings {
    /// The replica count for `url` (see [`NatsSettings::replicas`]).
    pub fn replicas_for(&self, url: &str) -> usize {
        self.replicas.unwrap_or_else(|| {
            if url.split(',').filter(|s| !s.trim().is_empty()).count() > 1 {
                3
            } else {
                1
            }
        })
    }

    pub fn validate(&self) -> Result<(), String> {
        if matches!(self.replicas, Some(r) if !(1..=5).contains(&r)) {
            return Err("[nats] replicas must be between 1 and 5".into());
        }
        if self.lease_ttl_ms < 300 {
            return Err("[nats] lease_ttl_ms must be at least 300".into());
        }
        if self.timeout_ms == 0 {
            return Err("[nats] timeout_ms must be positive".into());
        }
        if self.duplicate_window_secs * 1000 <= self.retry_ms {
            return Err(
                "[nats] duplicate_window_secs must be longer than retry_ms (a re-published \
                 record must still be recognised as a duplicate)"
                    .into(),
            );
        }
        Ok(())
    }
}

impl EngineConfig {
    pub fn journal_dir(&self) -> PathBuf {
        self.data_dir.join("journal")
    }

    pub fn snapshot_dir(&self) -> PathBuf {
        self.data_dir.join("snapshots")
    }
}
