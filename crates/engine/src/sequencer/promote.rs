//! A standby's promotion and the re-drain of a new leader (see [`crate::standby`]): on
//! the sequencer thread, which alone applies records and owns the journal.

use super::SequencerThread;
use bourse_journal::{Journal, Seq};
use std::sync::atomic::Ordering;

impl SequencerThread {
    /// Re-reads the journal's end and applies every record up to it (see
    /// [`Journal::resync`]); how many. `Err` leaves the journal poisoned.
    pub(super) fn drain(&mut self) -> Result<usize, String> {
        let Some(journal) = self.journal.as_mut() else {
            return Err("no journal".into());
        };
        let end = journal.resync().map_err(|e| e.to_string())?;
        if end < self.last_seq {
            return Err(format!(
                "the stream ends at {end} but this node applied {}: records are missing",
                self.last_seq
            ));
        }
        let records = journal
            .read_from(self.last_seq + 1)
            .map_err(|e| e.to_string())?
            .take((end - self.last_seq) as usize)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let n = records.len();
        for (seq, command) in records {
            self.apply_replicated(seq, command);
        }
        match self.status.poisoned() {
            Some(gap) if self.last_seq != end => Err(gap),
            _ if self.last_seq != end => Err(format!("drained to {}, not {end}", self.last_seq)),
            _ => Ok(n),
        }
    }

    /// A standby's promotion: the journal becomes this node's, drained to its end (what
    /// the follower had not delivered yet), the ledger checked, then writes go on at the
    /// next sequence, fenced on the stream's end. `Err`: it stays a non-writing standby.
    pub(super) fn promote(&mut self, journal: Box<dyn Journal>) -> Result<(Seq, [u8; 32]), String> {
        self.journal = Some(journal);
        let drained = self.drain().and_then(|n| {
            self.core
                .check_invariants()
                .map_err(|e| format!("ledger invariants: {e}"))?;
            Ok(n)
        });
        match drained {
            Ok(n) => {
                let hash = self.core.state_hash();
                self.status.follower.store(false, Ordering::Release);
                tracing::warn!(last_seq = self.last_seq, drained = n, state_hash = %hex::encode(hash),
                    "promoted: this node now writes the journal");
                Ok((self.last_seq, hash))
            }
            Err(e) => {
                self.journal = None;
                Err(e)
            }
        }
    }
}
