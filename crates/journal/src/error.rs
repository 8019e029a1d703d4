//! The crate's one error type.

use crate::Seq;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An I/O operation failed (opening, reading, creating files).
    #[error("journal I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another open journal (this process or another) holds the directory's lock.
    #[error("journal directory {dir} is already in use by another journal")]
    Locked { dir: PathBuf },
    /// A record or header that must be valid is not. Start-up stops here: the operator
    /// decides, the journal never skips data.
    #[error("journal corrupt: {file}, byte offset {offset}: {reason}")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// The journal cannot take writes (a previous write or fsync failed, or the backend is
    /// unreachable). Trading must halt; reads of already-applied state keep working.
    #[error("journal unavailable: {reason}")]
    Unavailable { reason: String },
    /// A record's checksum was fine but its payload is not a `Command` this build knows.
    #[error("record {seq} in {location} does not decode as a command: {source}")]
    Decode {
        location: String,
        seq: Seq,
        #[source]
        source: postcard::Error,
    },
    #[error("cannot encode command: {0}")]
    Encode(#[source] postcard::Error),
    /// A read asked for records the journal no longer (or never) had.
    #[error("sequence {requested} is not in the journal (it holds {first}..={last})")]
    OutOfRange {
        requested: Seq,
        first: Seq,
        last: Seq,
    },
    /// A replay found a different sequence than the next one: records are missing.
    #[error("gap in {location}: expected sequence {expected}, found {found}")]
    Gap {
        location: String,
        expected: Seq,
        found: Seq,
    },
    /// Talking to NATS JetStream failed.
    #[error("NATS JetStream: {0}")]
    Nats(String),
    /// A configuration value is unusable.
    #[error("invalid journal configuration: {0}")]
    Config(String),
}

impl JournalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        Self::Corrupt {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }
}
