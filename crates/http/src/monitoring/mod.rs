//! Monitoring: the dependency checks behind `GET /health` ([`checks`]), the
//! `X-Request-Id` of every request ([`request_id`]), and the admin monitoring API
//! ([`api`]) on sliding latency windows ([`windows`]) fed as [`figures`] says.
//!
//! Rules: a check never blocks `/health` for long (each has a timeout); the checks that
//! cost I/O (database round trip, free disk) are cached for [`HealthSettings::cache_ms`]
//! so `/health` under load does not hammer the database; the in-memory ones (journal,
//! sequencer, read-model lag, rate-limit store) are read fresh on every call.

pub mod api;
pub mod checks;
pub mod figures;
pub mod process;
pub mod request_id;
pub mod windows;

use serde::Deserialize;
use std::path::PathBuf;

/// `[health]`: thresholds and caching of `/health`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthSettings {
    /// Below this many free MiB in the data dir the server is `degraded`.
    pub min_free_disk_mb: u64,
    /// How long the I/O checks (database, disk) are reused, in ms.
    pub cache_ms: u64,
    /// A database round trip slower than this (ms) counts as failed.
    pub db_timeout_ms: u64,
    /// Set by the binary from `data_dir`, not read from the file.
    #[serde(skip)]
    pub data_dir: PathBuf,
    /// The journal's NATS connection (`--journal nats`), set by the binary: `checks.nats`.
    #[serde(skip)]
    pub nats: Option<bourse_engine::NatsLink>,
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            min_free_disk_mb: 100,
            cache_ms: 1000,
            db_timeout_ms: 1000,
            data_dir: PathBuf::from("."),
            nats: None,
        }
    }
}
