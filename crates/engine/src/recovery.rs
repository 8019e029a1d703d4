//! Start-up: rebuild the core from the journal and bring the read models up to date.
//!
//! Steps:
//! 1. Connect to the database (migrations run) and read its last projected sequence `P`.
//! 2. Open the journal (file: validates every record, truncates a torn tail; NATS: reads
//!    the stream's last sequence) — last sequence `L`. `P > L` stops start-up: the
//!    database belongs to another journal (delete it to rebuild).
//! 3. Load the newest valid snapshot `S` (at or below `L`). If `P ≥ S.seq` the core is
//!    restored from it and its state hash checked; otherwise (typically: the database
//!    was deleted or restored from a backup) the read side needs the events of every
//!    command after `P`: the core is restored from the newest snapshot at or before `P`
//!    (or rebuilt from sequence 1 when there is none), and the hash of `S` is checked
//!    when replay passes `S.seq` — a mismatch stops start-up. A journal pruned past
//!    what that needs (retention removed the records after `P`) stops start-up with
//!    what to do: the read models cannot be rebuilt from it.
//! 4. Replay the rest of the journal; every command with seq > `P` is projected (in
//!    chunks, pipelined with the replay), with its audit entry when it has an origin.
//! 5. Check the ledger invariants; a broken ledger is never served.
//!
//! The core always starts from its fixed initial state (`CoreConfig::default()`), never
//! from the config: exchange-wide policy such as `kyc_required` is core state, changed
//! only by journaled commands, so a replay reads the same policy the original run had
//! whatever the config says today.
//!
//! Nothing in [`recover`] writes to the journal; the admin user and a changed KYC policy
//! ([`sync_kyc_policy`]) are submitted afterwards through the sequencer like any other
//! command.

use crate::config::{EngineConfig, JournalKind};
use crate::sequencer::SequencerHandle;
use bourse_core::{Core, CoreConfig};
use bourse_journal::{
    FaultHook, FileJournal, FileJournalConfig, Follower, Journal, JournalError, NatsConfig,
    NatsJournal, Seq, SnapshotStore,
};
use bourse_model::{Event, Timestamp};
use bourse_store::{AuditRecord, Store, StoreError};
use std::time::Instant;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("read-model database: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Inconsistent(String),
    #[error("recovery task failed: {0}")]
    Task(String),
}

/// What start-up hands to the sequencer.
pub struct Recovered {
    pub core: Core,
    /// `None` in follower mode.
    pub journal: Option<Box<dyn Journal>>,
    pub follower: Option<Follower>,
    pub last_seq: Seq,
    pub last_ts: u64,
    pub store: Store,
    pub snapshots: SnapshotStore,
}

/// Commands to project, with the audit entries of those that carry an origin.
#[derive(Default)]
struct Chunk {
    commands: Vec<(Seq, Timestamp, Vec<Event>)>,
    audit: Vec<AuditRecord>,
}
const CHUNK: usize = 2048;

/// Runs the steps of the module doc. `fault` is installed on a file journal (tests).
pub async fn recover(
    config: &EngineConfig,
    fault: Option<FaultHook>,
) -> Result<Recovered, RecoveryError> {
    let started = Instant::now();
    let store = Store::connect(&config.database_url).await?;
    let projected = store.last_applied_seq().await?;
    let (tx, mut rx) = mpsc::channel::<Chunk>(4);
    let cfg = config.clone();
    let replay = tokio::task::spawn_blocking(move || replay_blocking(&cfg, projected, fault, tx));
    let mut projected_now = projected;
    while let Some(chunk) = rx.recv().await {
        projected_now = store.project_audited(&chunk.commands, &chunk.audit).await?;
    }
    let out = replay
        .await
        .map_err(|e| RecoveryError::Task(e.to_string()))??;
    if projected_now < out.last_seq {
        return Err(RecoveryError::Inconsistent(format!(
            "projected up to {projected_now}, journal ends at {}",
            out.last_seq
        )));
    }
    tracing::info!(
        last_seq = out.last_seq,
        projected_before = projected,
        projected = projected_now.saturating_sub(projected),
        users = out.core.user_count(),
        markets = out.core.markets().len(),
        open_orders = out.core.open_order_count(),
        state_hash = %hex::encode(out.core.state_hash()),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "recovered"
    );
    Ok(out.into_recovered(store))
}

struct Replayed {
    core: Core,
    journal: Option<Box<dyn Journal>>,
    follower: Option<Follower>,
    last_seq: Seq,
    last_ts: u64,
    snapshots: SnapshotStore,
}

impl Replayed {
    fn into_recovered(self, store: Store) -> Recovered {
        Recovered {
            core: self.core,
            journal: self.journal,
            follower: self.follower,
            last_seq: self.last_seq,
            last_ts: self.last_ts,
            store,
            snapshots: self.snapshots,
        }
    }
}

/// The JetStream settings of `--journal nats`.
pub fn nats_config(config: &EngineConfig) -> NatsConfig {
    let mut c = NatsConfig::new(config.nats_url.clone());
    c.stream = config.nats_stream.clone();
    c.subject = config.nats_subject.clone();
    let n = &config.nats;
    c.replicas = n.replicas_for(&config.nats_url);
    c.duplicate_window = std::time::Duration::from_secs(n.duplicate_window_secs);
    c.timeout = std::time::Duration::from_millis(n.timeout_ms);
    c.retry_for = std::time::Duration::from_millis(n.retry_ms);
    if n.placement_cluster.is_some() || !n.placement_tags.is_empty() {
        c.placement = Some(bourse_journal::Placement {
            cluster: n.placement_cluster.clone(),
            tags: n.placement_tags.clone(),
        });
    }
    c
}

/// Opens the configured journal.
pub fn open_journal(
    config: &EngineConfig,
    fault: Option<FaultHook>,
) -> Result<Box<dyn Journal>, JournalError> {
    match config.journal {
        JournalKind::File => {
            let mut jc = FileJournalConfig::new(config.journal_dir());
            jc.segment_bytes = config.segment_bytes;
            let (mut j, report) = FileJournal::open(jc)?;
            if let Some(t) = &report.truncated {
                tracing::warn!(file = %t.file.display(), offset = t.offset, bytes = t.bytes_dropped,
                    reason = %t.reason, "journal: torn tail truncated (an unacknowledged batch)");
            }
            tracing::info!(
                segments = report.segments,
                last_seq = report.last_seq,
                "journal opened"
            );
            if let Some(hook) = fault {
                j.set_fault_hook(hook);
            }
            Ok(Box::new(j))
        }
        JournalKind::Nats => {
            let j = NatsJournal::connect(nats_config(config))?;
            tracing::info!(url = %config.nats_url, stream = %config.nats_stream, last_seq = j.last_seq(), "NATS journal connected");
            Ok(Box::new(j))
        }
    }
}

fn replay_blocking(
    config: &EngineConfig,
    projected: Seq,
    fault: Option<FaultHook>,
    tx: mpsc::Sender<Chunk>,
) -> Result<Replayed, RecoveryError> {
    // A follower reads the leader's stream and later follows it from the same
    // connection; a leader owns its journal.
    let (leader, source) = if config.follow {
        (None, Some(NatsJournal::connect(nats_config(config))?))
    } else {
        (Some(open_journal(config, fault)?), None)
    };
    let journal: &dyn Journal = match (&leader, &source) {
        (Some(j), _) => j.as_ref(),
        (None, Some(n)) => n,
        (None, None) => unreachable!("one of the two is opened above"),
    };
    let last = journal.last_seq();
    if projected > last {
        return Err(RecoveryError::Inconsistent(format!(
            "the database has projected up to sequence {projected} but the journal ends at \
             {last}: it belongs to another journal (delete it to rebuild the read models)"
        )));
    }
    let snapshots = SnapshotStore::open(config.snapshot_dir(), config.snapshots_keep)?;
    let load = snapshots.load_latest()?;
    for s in &load.skipped {
        tracing::warn!(path = %s.path.display(), reason = %s.reason, "skipped an invalid snapshot");
    }
    let snapshot = match load.snapshot {
        Some(s) if s.seq > last => {
            return Err(RecoveryError::Inconsistent(format!(
                "snapshot {} is at sequence {} but the journal ends at {last}",
                s.path.display(),
                s.seq
            )))
        }
        s => s,
    };
    let (mut core, start, check_at) = match snapshot {
        Some(s) if projected >= s.seq => (restore(&s)?, s.seq + 1, None),
        Some(s) => {
            // The read side needs the events after `projected`: start at or before it.
            let older = snapshots.load_at_or_before(projected)?.snapshot;
            tracing::info!(
                snapshot_seq = s.seq,
                from = older.as_ref().map_or(0, |o| o.seq),
                projected,
                "read models are behind the snapshot: replaying from an older point"
            );
            let check = Some((s.seq, s.state_hash));
            match older {
                Some(o) => (restore(&o)?, o.seq + 1, check),
                None => (Core::new(CoreConfig::default()), 1, check),
            }
        }
        None => (Core::new(CoreConfig::default()), 1, None),
    };
    if start < journal.first_seq() {
        return Err(RecoveryError::Inconsistent(format!(
            "the read models are at sequence {projected} and replay must start at {start}, \
             but the journal was pruned up to {} (journal retention keeps only what the \
             snapshots need): restore the read-model database from a backup that is at \
             least that recent, or start from an empty data dir",
            journal.first_seq() - 1
        )));
    }
    let mut last_seq = start - 1;
    let mut last_ts = 0;
    let mut chunk = Chunk::default();
    for rec in journal.read_from(start)? {
        let (seq, cmd) = rec?;
        if seq != last_seq + 1 {
            return Err(RecoveryError::Inconsistent(format!(
                "journal replay expected sequence {}, got {seq}",
                last_seq + 1
            )));
        }
        let events = core.apply(&cmd);
        last_seq = seq;
        last_ts = cmd.ts.0;
        if let Some((at, hash)) = check_at {
            if at == seq && core.state_hash() != hash {
                return Err(RecoveryError::Inconsistent(format!(
                    "state after replaying to {seq} differs from the snapshot's state hash"
                )));
            }
        }
        if seq > projected {
            // The audit entries of commands the read models had not seen: the same
            // derivation as the live projector's, so a restart neither skips nor repeats one.
            let entry = bourse_store::audit::derive::from_command(
                seq,
                cmd.ts,
                &cmd.kind,
                cmd.origin.as_deref(),
                &events,
            );
            chunk.audit.extend(entry);
            chunk.commands.push((seq, cmd.ts, events));
            if chunk.commands.len() >= CHUNK
                && tx.blocking_send(std::mem::take(&mut chunk)).is_err()
            {
                return Err(RecoveryError::Task("projection stopped".into()));
            }
        }
    }
    if !chunk.commands.is_empty() && tx.blocking_send(chunk).is_err() {
        return Err(RecoveryError::Task("projection stopped".into()));
    }
    if last_seq != last {
        return Err(RecoveryError::Inconsistent(format!(
            "journal replay ended at {last_seq}, expected {last}"
        )));
    }
    if last_ts == 0 && last > 0 {
        // Restored from a snapshot at the very end: take the time of the last record.
        if let Some(rec) = journal.read_from(last)?.next() {
            last_ts = rec?.1.ts.0;
        }
    }
    core.check_invariants()
        .map_err(|e| RecoveryError::Inconsistent(format!("ledger invariants: {e}")))?;
    let follower = source.map(|n| n.follow(last_seq + 1)).transpose()?;
    Ok(Replayed {
        core,
        journal: leader,
        follower,
        last_seq,
        last_ts,
        snapshots,
    })
}

/// A snapshot restored, and its state hash checked.
fn restore(s: &bourse_journal::Snapshot) -> Result<Core, RecoveryError> {
    let core = Core::restore(&s.bytes)
        .map_err(|e| RecoveryError::Inconsistent(format!("{}: {e}", s.path.display())))?;
    if core.state_hash() != s.state_hash {
        return Err(RecoveryError::Inconsistent(format!(
            "snapshot {} does not hash to its recorded state hash",
            s.path.display()
        )));
    }
    tracing::info!(seq = s.seq, "restored from snapshot");
    Ok(core)
}

/// The result of an offline replay (`bourse verify`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verification {
    pub last_seq: Seq,
    pub state_hash: String,
    pub invariants: String,
    /// Snapshots whose hash was compared with the replay at their sequence.
    pub snapshots_checked: usize,
}

/// Replays the whole journal into a fresh core (from the oldest kept snapshot when
/// retention pruned the start of the journal), checking snapshots on the way. Does not
/// touch the database. Blocking.
pub fn verify(config: &EngineConfig) -> Result<Verification, RecoveryError> {
    let journal = open_journal(config, None)?;
    let snapshots = SnapshotStore::open(config.snapshot_dir(), config.snapshots_keep)?;
    // The newest valid snapshot is the one start-up would use: compare it with the replay.
    let expect = snapshots
        .load_latest()?
        .snapshot
        .map(|s| (s.seq, s.state_hash));
    let (mut core, mut last_seq) = if journal.first_seq() > 1 {
        let base = snapshots
            .load_oldest_from(journal.first_seq() - 1)?
            .snapshot
            .ok_or_else(|| {
                RecoveryError::Inconsistent(format!(
                    "the journal starts at {} and no snapshot covers what came before",
                    journal.first_seq()
                ))
            })?;
        (restore(&base)?, base.seq)
    } else {
        (Core::new(CoreConfig::default()), 0)
    };
    let mut checked = 0;
    for rec in journal.read_from(last_seq + 1)? {
        let (seq, cmd) = rec?;
        core.apply(&cmd);
        last_seq = seq;
        if let Some((at, h)) = expect {
            if at == seq && core.state_hash() != h {
                return Err(RecoveryError::Inconsistent(format!(
                    "replay differs from the snapshot at {seq}"
                )));
            }
            checked += usize::from(at == seq);
        }
    }
    Ok(Verification {
        last_seq,
        state_hash: hex::encode(core.state_hash()),
        invariants: match core.check_invariants() {
            Ok(()) => "ok".into(),
            Err(e) => e,
        },
        snapshots_checked: checked,
    })
}

/// Makes the core's idempotency window (how long a client order or withdrawal id stays a
/// duplicate) the config's, the same way as [`sync_kyc_policy`]: journaled when it
/// differs, never read by replay.
pub async fn sync_idempotency_window(seq: &SequencerHandle, ms: u64) -> Result<(), String> {
    let current = seq
        .query(|core| core.config().idempotency_window_ms)
        .await
        .map_err(|e| e.to_string())?;
    if current == ms {
        return Ok(());
    }
    let applied = seq
        .submit(bourse_model::CommandKind::SetIdempotencyWindow { ms })
        .await
        .map_err(|e| e.to_string())?;
    if let Some((code, _)) = applied.rejected() {
        return Err(code.to_string());
    }
    tracing::info!(
        idempotency_window_ms = ms,
        "idempotency window changed by the config"
    );
    Ok(())
}

/// Makes the core's KYC policy the config's: if they differ, journals
/// `SetKycPolicy { required }` (turning it on cancels the open orders
/// of unverified users). Called once after recovery, before requests are served, and not
/// by a follower (it has no journal to write; it follows the leader's policy).
pub async fn sync_kyc_policy(seq: &SequencerHandle, required: bool) -> Result<(), String> {
    let current = seq
        .query(|core| core.config().kyc_required)
        .await
        .map_err(|e| e.to_string())?;
    if current == required {
        return Ok(());
    }
    let applied = seq
        .submit(bourse_model::CommandKind::SetKycPolicy { required })
        .await
        .map_err(|e| e.to_string())?;
    if let Some((code, _)) = applied.rejected() {
        return Err(code.to_string());
    }
    tracing::info!(
        kyc_required = required,
        canceled_orders = applied
            .events
            .iter()
            .filter(|e| matches!(e, Event::OrderCanceled { .. }))
            .count(),
        "KYC policy changed by the config"
    );
    Ok(())
}

/// Makes the core's KYC level policy the config's, the same way as [`sync_kyc_policy`]:
/// journaled as `SetKycLevels` when it differs (a level that loses trading has its users'
/// orders canceled), never read by replay.
pub async fn sync_kyc_levels(
    seq: &SequencerHandle,
    levels: Vec<bourse_model::KycLevel>,
) -> Result<(), String> {
    let want = levels.clone();
    let same = seq
        .query(move |core| core.config().kyc_levels == want)
        .await
        .map_err(|e| e.to_string())?;
    if same {
        return Ok(());
    }
    let applied = seq
        .submit(bourse_model::CommandKind::SetKycLevels { levels })
        .await
        .map_err(|e| e.to_string())?;
    if let Some((code, _)) = applied.rejected() {
        return Err(code.to_string());
    }
    tracing::info!(
        canceled_orders = applied
            .events
            .iter()
            .filter(|e| matches!(e, Event::OrderCanceled { .. }))
            .count(),
        "KYC level policy changed by the config"
    );
    Ok(())
}
