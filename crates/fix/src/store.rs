//! Per-session sequence numbers and the store of sent messages.
//!
//! # Rules
//! - Each session identity has a file `fix/<identity>.seq` in the data dir holding
//!   `next_out next_in`, rewritten (temp file + rename) after every message, so a restart
//!   and a reconnect without ResetSeqNumFlag resume where the session stopped. The file is
//!   not fsynced: after a power loss a session may resume a few numbers early, which FIX
//!   repairs by itself (the peer sees MsgSeqNum too low and resets, or requests a resend).
//! - Sent *application* messages are kept in memory (the last [`KEPT`] of them) for
//!   ResendRequest and resent with PossDupFlag; admin messages, and anything no longer
//!   kept (older ones, everything before a restart), are answered with a
//!   SequenceReset-GapFill. An ExecutionReport is a record of state the client can query
//!   again, so gap-filling one after a restart loses no state.

use crate::codec::Message;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Sent application messages kept for resends.
pub const KEPT: usize = 10_000;

/// A sent application message: its body and the SendingTime it first went out with.
#[derive(Debug, Clone)]
pub struct Sent {
    pub message: Message,
    pub sending_time: String,
}

#[derive(Debug)]
pub struct SessionStore {
    path: PathBuf,
    pub next_out: u64,
    pub next_in: u64,
    sent: BTreeMap<u64, Sent>,
}

impl SessionStore {
    /// Opens (or starts at 1/1) the store of `identity` under `dir`.
    pub fn open(dir: &std::path::Path, identity: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{identity}.seq"));
        let (next_out, next_in) = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let mut it = text.split_whitespace().map(str::parse::<u64>);
                match (it.next(), it.next()) {
                    (Some(Ok(o)), Some(Ok(i))) if o > 0 && i > 0 => (o, i),
                    _ => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("{} is not `next_out next_in`", path.display()),
                        ))
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (1, 1),
            Err(e) => return Err(e),
        };
        Ok(Self {
            path,
            next_out,
            next_in,
            sent: BTreeMap::new(),
        })
    }

    /// Both sequence numbers back to 1 and the sent messages forgotten (ResetSeqNumFlag).
    pub fn reset(&mut self) -> std::io::Result<()> {
        self.next_out = 1;
        self.next_in = 1;
        self.sent.clear();
        self.persist()
    }

    pub fn persist(&self) -> std::io::Result<()> {
        let tmp = self.path.with_extension("seq.tmp");
        std::fs::write(&tmp, format!("{} {}\n", self.next_out, self.next_in))?;
        std::fs::rename(&tmp, &self.path)
    }

    pub fn keep(&mut self, seq: u64, sent: Sent) {
        self.sent.insert(seq, sent);
        while self.sent.len() > KEPT {
            self.sent.pop_first();
        }
    }

    /// The kept application messages numbered `begin..=end`.
    pub fn kept(&self, begin: u64, end: u64) -> impl Iterator<Item = (&u64, &Sent)> {
        self.sent.range(begin..=end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_survive_reopening_and_reset() {
        let dir = std::env::temp_dir().join(format!("bourse-fix-store-{}", std::process::id()));
        let mut s = SessionStore::open(&dir, "u1-CLIENT").unwrap();
        assert_eq!((s.next_out, s.next_in), (1, 1));
        (s.next_out, s.next_in) = (7, 4);
        s.persist().unwrap();
        let mut s = SessionStore::open(&dir, "u1-CLIENT").unwrap();
        assert_eq!((s.next_out, s.next_in), (7, 4));
        s.reset().unwrap();
        let s = SessionStore::open(&dir, "u1-CLIENT").unwrap();
        assert_eq!((s.next_out, s.next_in), (1, 1));
        std::fs::write(dir.join("bad.seq"), "x").unwrap();
        assert!(SessionStore::open(&dir, "bad").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
