//! Follower mode (hot standby): a thread reads the primary's stream and hands each record
//! to the sequencer as a [`Request::Replicated`], in order. A transient NATS error is
//! logged and reading goes on; any other error halts the follower
//! ([`Request::ReplicationFailed`]: the sequencer reports unhealthy).

use crate::sequencer::Request;
use bourse_journal::{Follower, JournalError};
use tokio::sync::mpsc;

/// Forwards the followed stream into the sequencer.
pub fn spawn_bridge(mut follower: Follower, tx: mpsc::Sender<Request>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("bourse-follower".into())
        .spawn(move || {
            while let Some(item) = follower.recv() {
                let req = match item {
                    Ok((seq, command)) => Request::Replicated { seq, command },
                    Err(JournalError::Nats(e)) => {
                        tracing::warn!(error = %e, "following the journal: transient error");
                        continue;
                    }
                    Err(e) => Request::ReplicationFailed(e.to_string()),
                };
                let fatal = matches!(req, Request::ReplicationFailed(_));
                if tx.blocking_send(req).is_err() || fatal {
                    break;
                }
            }
            tracing::info!("stopped following the journal");
        })?;
    Ok(())
}
