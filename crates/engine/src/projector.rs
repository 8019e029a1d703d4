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

use crate::feed::FeedReceiver;
use crate::sequencer::AppliedBatch;
use bourse_journal::Seq;
use bourse_model::{Event, Timestamp};
use bourse_store::Store;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Most commands projected in one transaction.
const MAX_COMMANDS_PER_TX: usize = 8192;

#[derive(Clone)]
pub struct ProjectorHandle {
    projected: watch::Receiver<Seq>,
    error: Arc<Mutex<Option<String>>>,
}

impl ProjectorHandle {
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
    let task = tokio::spawn(async move {
        let mut pending: Vec<Arc<AppliedBatch>> = Vec::new();
        loop {
            if pending.is_empty() {
                match rx.recv().await {
                    Some(b) => pending.push(b),
                    None => break,
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
            let started = std::time::Instant::now();
            let projected = store.project(&rows).await;
            metrics::histogram!(crate::metrics::DB_QUERY_SECONDS, "op" => "project")
                .record(started.elapsed());
            match projected {
                Ok(last) => {
                    drop(rows);
                    pending.clear();
                    *err.lock().expect("projector error lock") = None;
                    let _ = tx.send(last);
                }
                Err(e) => {
                    drop(rows);
                    tracing::error!(error = %e, "projection failed; retrying");
                    *err.lock().expect("projector error lock") = Some(e.to_string());
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        tracing::info!(projected = *tx.borrow(), "projector stopped");
    });
    (ProjectorHandle { projected, error }, task)
}
