//! The journal: the durable, ordered log of [`Command`]s that the exchange core is a pure
//! function of, plus the snapshots that shorten its replay.
//!
//! Rules every backend keeps:
//! - Sequence numbers ([`Seq`]) start at 1 and are contiguous: the n-th command ever
//!   appended has sequence n. `0` means "nothing yet".
//! - [`Journal::append`] returns only when the whole batch is durable (one `fdatasync` for
//!   the file journal, every publish acknowledged for JetStream). The sequencer applies
//!   commands to the core only after that, so nothing is applied that was not journaled.
//!   Group commit falls out of the caller batching whatever queued up during the previous
//!   `append`.
//! - A failed write poisons the journal: every later `append` returns
//!   [`JournalError::Unavailable`] (the server answers 503 `JOURNAL_UNAVAILABLE`). The
//!   file journal first cuts the failed batch off its segment, so it does not reappear
//!   after a restart; only if that fails too (and with JetStream, where a publish whose
//!   acknowledgement was lost may still be stored) can the batch's records be there
//!   after a restart, like a request that timed out. Either way they were never
//!   acknowledged nor applied before the restart.
//! - Corruption is never skipped: a damaged record anywhere but in the torn tail of the
//!   file journal is a hard [`JournalError::Corrupt`] naming file and offset.
//!
//! Backends: [`FileJournal`] (segmented files, the default) and [`NatsJournal`] (a NATS
//! JetStream stream, with a [`Follower`] for a hot standby). Snapshots: [`SnapshotStore`].

mod codec;
mod error;
mod file;
mod lease;
pub mod metrics;
mod nats;
mod snapshot;

pub use error::JournalError;
pub use file::{
    FaultHook, FileJournal, FileJournalConfig, IoOp, RecoveryReport, TruncatedTail, MAX_RECORD_LEN,
};
pub use lease::{Lease, LeaseConfig};
pub use nats::{message_id, Follower, NatsConfig, NatsJournal, NatsLink, Placement};
pub use snapshot::{SkippedSnapshot, Snapshot, SnapshotLoad, SnapshotStore};

use bourse_model::Command;

/// A journal position: the sequence number of a record (1-based, contiguous).
pub type Seq = u64;

/// What [`Journal::read_from`] yields: records in sequence order.
pub type RecordIter<'a> = Box<dyn Iterator<Item = Result<(Seq, Command), JournalError>> + 'a>;

/// A durable, ordered command log. Synchronous on purpose: the sequencer is a dedicated
/// OS thread that blocks on `append` while the next batch gathers in its channel.
pub trait Journal: Send {
    /// Appends `cmds` as sequences `last_seq() + 1 ..= last_seq() + cmds.len()` and returns
    /// only once all of them are durable. Returns the new `last_seq()` (unchanged for an
    /// empty batch). Any failure poisons the journal.
    fn append(&mut self, cmds: &[Command]) -> Result<Seq, JournalError>;

    /// The sequence of the last durable record, `0` if the journal is empty.
    fn last_seq(&self) -> Seq;

    /// Records with sequence `>= from` up to `last_seq()` as of this call, in order.
    /// `from == last_seq() + 1` yields nothing; `from` of 0 is treated as 1.
    fn read_from(&self, from: Seq) -> Result<RecordIter<'_>, JournalError>;

    /// `Some(reason)` once a failed write has poisoned the journal.
    fn poisoned(&self) -> Option<&str>;

    /// The sequence of the oldest record kept (1 unless [`prune_before`](Self::prune_before)
    /// removed some).
    fn first_seq(&self) -> Seq {
        1
    }

    /// Retention: drops what is stored wholly before `seq` (records `< seq`), if the
    /// backend can; returns how many storage units (segments) went. A NATS stream keeps
    /// its records by the server's own limits: nothing is dropped here.
    fn prune_before(&mut self, _seq: Seq) -> Result<usize, JournalError> {
        Ok(0)
    }

    /// The connection of a NATS journal, for health checks (`None`: not networked).
    fn nats_link(&self) -> Option<NatsLink> {
        None
    }

    /// Clears a poisoned journal if the backend can tell what the failed write left
    /// behind: returns the records stored past `last_seq()` that the caller has not
    /// applied (they were journaled; apply them before anything new). `Err`: still
    /// unavailable. A file journal cannot (only a restart, which re-validates it).
    /// Re-reads where the backing store ends and writes again from there (clearing a
    /// poisoned state), whoever wrote what is past `last_seq()`: for a node that holds the
    /// leader lease and found a previous holder's late record in its way (it reads and
    /// applies those records, then writes after them). A file journal has one writer and
    /// never needs it.
    fn resync(&mut self) -> Result<Seq, JournalError> {
        Err(JournalError::Unavailable {
            reason: "this journal has a single writer; nothing to resync".into(),
        })
    }

    fn recover(&mut self) -> Result<Vec<(Seq, Command)>, JournalError> {
        Err(JournalError::Unavailable {
            reason: self
                .poisoned()
                .unwrap_or("this journal recovers only by a restart")
                .to_owned(),
        })
    }
}

impl<J: Journal + ?Sized> Journal for Box<J> {
    fn append(&mut self, cmds: &[Command]) -> Result<Seq, JournalError> {
        (**self).append(cmds)
    }
    fn last_seq(&self) -> Seq {
        (**self).last_seq()
    }
    fn read_from(&self, from: Seq) -> Result<RecordIter<'_>, JournalError> {
        (**self).read_from(from)
    }
    fn first_seq(&self) -> Seq {
        (**self).first_seq()
    }
    fn prune_before(&mut self, seq: Seq) -> Result<usize, JournalError> {
        (**self).prune_before(seq)
    }
    fn poisoned(&self) -> Option<&str> {
        (**self).poisoned()
    }
    fn nats_link(&self) -> Option<NatsLink> {
        (**self).nats_link()
    }
    fn resync(&mut self) -> Result<Seq, JournalError> {
        (**self).resync()
    }
    fn recover(&mut self) -> Result<Vec<(Seq, Command)>, JournalError> {
        (**self).recover()
    }
}

/// The sequencer moves its journal into its own thread; a follower may move too.
#[allow(dead_code)]
fn assert_send() {
    fn is_send<T: Send>() {}
    is_send::<FileJournal>();
    is_send::<NatsJournal>();
    is_send::<Follower>();
    is_send::<Box<dyn Journal>>();
}
