//! The projector task: writes applied batches into the read-model database, in order.
//!
//! It takes every batch the sequencer publishes (a bounded lossless feed, so nothing is
//! dropped; see `crate::feed`), groups whatever queued up into one `Store::project` transaction, and
//! publishes the last projected sequence on a `watch`. A database error is logged and the
//! same batches are retried (projection is idempotent), so the read side lags but never
//! skips; the error shows in `/health` as degraded until a retry succeeds.
//!
//! [`ProjectorHandle::fence`] is the read fence: it waits until everything committed
//! before the call is projected, so an SQL read right after a write sees the write.
//!
//! It is also the audit chain's one writer (`bourse_store::audit`): each transaction
//! appends, after the entries of requests refused before the journal that reached it
//! through [`AuditSink`] meanwhile, the entries of the batch's commands that carry an
//! origin. The sink is bounded ([`AUDIT_CAPACITY`]): a flood of refused requests beyond it
//! is counted (`bourse_audit_dropped_total`) and logged, never queued without bound and
//! never waited on by a request.

use crate::feed::FeedReceiver;
use crate::sequencer::AppliedBatch;
use bourse_journal::Seq;
use bourse_model::{Event, Timestamp};
use bourse_store::{audit, AuditRecord, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Most commands projected in one transaction.
const MAX_COMMANDS_PER_TX: usize = 8192;

/// Audit entries from before the journal that may wait for the writer.
pub const AUDIT_CAPACITY: usize = 16_384;

/// Hands audit entries of requests that never reach the journal to the chain's writer.
#[derive(Clone, Debug)]
pub struct AuditSink {
    tx: mpsc::Sender<AuditRecord>,
    /// Entries queued so far, and written so far (the writer's count): the audit fence.
    queued: Arc<AtomicU64>,
    written: watch::Receiver<u64>,
}

impl AuditSink {
    /// Queues `record` without waiting; a full queue drops it and counts the drop.
    pub fn record(&self, record: AuditRecord) {
        // Counted first: a fence that sees the count waits for the entry.
        self.queued.fetch_add(1, Ordering::AcqRel);
        if self.tx.try_send(record).is_err() {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            metrics::counter!("bourse_audit_dropped_total").increment(1);
            tracing::warn!("audit queue full or closed: an entry was dropped");
        }
    }

    /// Waits until every entry queued before the call is written; `false` after
    /// `timeout`. For reads of the trail that must see the requests answered before.
    pub async fn fence(&self, timeout: Duration) -> bool {
        let target = self.queued.load(Ordering::Acquire);
        let mut rx = self.written.clone();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|w| *w >= target)).await;
        matches!(reached, Ok(Ok(_)))
    }
}

#[derive(Clone)]
pub struct ProjectorHandle {
    projected: watch::Receiver<Seq>,
    error: Arc<Mutex<Option<String>>>,
    audit: AuditSink,
}

impl ProjectorHandle {
    /// Where entries of requests refused before the journal go.
    pub fn audit(&self) -> &AuditSink {
        &self.audit
    }

    pub fn projected_seq(&self) -> Seq {
        *self.projected.borrow()
    }

    /// The last projection error, while it is not resolved.
    pub fn error(&self) -> Option<String> {
        self.error.lock().expect("projector error lock").clone()
    }

    /// Waits until `seq` is projected; `false` if that took longer than `timeout`.
    pub async fn wait_for(&self, seq: Seq, timeout: Duration) -> bool {
        let mut rx = self.projected.clone();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|p| *p >= seq)).await;
        matches!(reached, Ok(Ok(_)))
    }
}

/// Starts the task; `start` is the sequence the database is already at.
pub fn spawn(
    store: Store,
    mut rx: FeedReceiver,
    start: Seq,
) -> (ProjectorHandle, tokio::task::JoinHandle<()>) {
    let (tx, projected) = watch::channel(start);
    let error = Arc::new(Mutex::new(None));
    let err = error.clone();
    let (audit_tx, mut audit_rx) = mpsc::channel::<AuditRecord>(AUDIT_CAPACITY);
    let (written_tx, written) = watch::channel(0u64);
    let task = tokio::spawn(async move {
        let mut pending: Vec<Arc<AppliedBatch>> = Vec::new();
        let mut refused: Vec<AuditRecord> = Vec::new();
        loop {
            if pending.is_empty() && refused.is_empty() {
                tokio::select! {
                    b = rx.recv() => match b {
                        Some(b) => pending.push(b),
                        None => break,
                    },
                    Some(r) = audit_rx.recv() => refused.push(r),
                }
            }
            while refused.len() < MAX_COMMANDS_PER_TX {
                match audit_rx.try_recv() {
                    Ok(r) => refused.push(r),
                    Err(_) => break,
                }
            }
            let mut count: usize = pending.iter().map(|b| b.commands.len()).sum();
            while count < MAX_COMMANDS_PER_TX {
                match rx.try_recv() {
                    Some(b) => {
                        count += b.commands.len();
                        pending.push(b);
                    }
                    None => break,
                }
            }
            let rows: Vec<(u64, Timestamp, &[Event])> = pending
                .iter()
                .flat_map(|b| b.commands.iter())
                .map(|c| (c.seq, c.ts, c.events.as_slice()))
                .collect();
            let refused_now = refused.len() as u64;
            let mut audit = std::mem::take(&mut refused);
            audit.extend(
                pending
                    .iter()
                    .flat_map(|b| b.commands.iter())
                    .filter_map(|c| {
                        audit::derive::from_command(
                            c.seq,
                            c.ts,
                            &c.kind,
                            c.origin.as_deref(),
                            &c.events,
                        )
                    }),
            );
            let started = std::time::Instant::now();
            let projected = store.project_audited(&rows, &audit).await;
            metrics::histogram!(crate::metrics::DB_QUERY_SECONDS, "op" => "project")
                .record(started.elapsed());
            match projected {
                Ok(last) => {
                    drop(rows);
                    pending.clear();
                    written_tx.send_modify(|w| *w += refused_now);
                    *err.lock().expect("projector error lock") = None;
                    let _ = tx.send(last);
                }
                Err(e) => {
                    drop(rows);
                    // Retried with the batches: keep the refusals, drop the derived ones.
                    audit.retain(|r| r.seq.is_none());
                    refused = audit;
                    tracing::error!(error = %e, "projection failed; retrying");
                    *err.lock().expect("projector error lock") = Some(e.to_string());
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        tracing::info!(projected = *tx.borrow(), "projector stopped");
    });
    let audit = AuditSink {
        tx: audit_tx,
        queued: Arc::new(AtomicU64::new(0)),
        written,
    };
    (
        ProjectorHandle {
            projected,
            error,
            audit,
        },
        task,
    )
}
