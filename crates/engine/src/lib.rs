//! The engine: everything between the gateways and the pure core, with no HTTP in it.
//!
//! - [`sequencer`]: the one thread that owns the core and the journal (group commit,
//!   time stamps, snapshots, follower records) and publishes every applied batch.
//! - [`recovery`]: start-up (snapshot + journal replay, read-model catch-up) and the
//!   offline `bourse verify`.
//! - [`projector`]: applied batches → SQL read models, and the read fence.
//! - [`follower`]: a hot standby's bridge from the followed stream into the sequencer.
//! - [`leader`]: the active's leader lease and the gate the sequencer checks before writing.
//! - [`feed`]: the bounded lossless feeds of applied batches (projector, notifications).
//! - [`views`]: the read views the sequencer publishes after every batch.
//! - [`config`]: what the engine is told (journal, storage, batching).
//! - [`origin`]: the request origin in scope, stamped on submitted commands (audit).
//! - [`metrics`]: trading counters and core/journal timings, from applied batches.
//!
//! Dependencies point down: gateways → engine → {core, journal, store} → model.

pub mod config;
pub mod feed;
pub mod follower;
pub mod leader;
pub mod metrics;
pub mod origin;
pub mod projector;
pub mod recovery;
pub mod sequencer;
mod snapshotter;
pub mod standby;
pub mod views;

pub use bourse_journal::NatsLink;
pub use config::{EngineConfig, JournalKind};
pub use sequencer::{
    now_ms, Applied, AppliedBatch, AppliedCommand, SequencerError, SequencerHandle,
};
