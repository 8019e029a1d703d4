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

impl EngineConfig {
    pub fn journal_dir(&self) -> PathBuf {
        self.data_dir.join("journal")
    }

    pub fn snapshot_dir(&self) -> PathBuf {
        self.data_dir.join("snapshots")
    }
}
