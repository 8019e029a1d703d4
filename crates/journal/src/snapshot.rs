//! Snapshots: the core's serialized state at a journal position, so start-up replays only
//! the records after it.
//!
//! # Byte format (version 1, integers little-endian)
//!
//! One file per snapshot, named `{seq:020}.snapshot`:
//!
//! | offset | size | field                                                   |
//! |--------|------|---------------------------------------------------------|
//! | 0      | 8    | magic `b"BOURSESN"`                                     |
//! | 8      | 4    | format version, `1`                                     |
//! | 12     | 8    | `seq`: the last journal record the state includes       |
//! | 20     | 32   | the core's state hash at `seq`                          |
//! | 52     | 8    | `len`: length of the state bytes                        |
//! | 60     | 4    | CRC32C of bytes 8..60 followed by the state bytes       |
//! | 64     | len  | the state bytes (opaque here; the core's encoding)      |
//!
//! # Rules
//!
//! - A snapshot is written to `{name}.tmp`, fsynced, renamed into place, and then the
//!   directory is fsynced: a crash leaves either the old set of snapshots or the new one,
//!   plus possibly a stray `.tmp`, which is ignored and removed.
//! - [`SnapshotStore::load_latest`] returns the newest snapshot that validates and reports
//!   every newer one it had to skip; it never returns a damaged snapshot.
//! - After a save, only the newest `keep` snapshots are kept.
//! - Validating the state bytes against the hash (by replaying or recomputing) is the
//!   caller's job; this module only guarantees the bytes are the ones written.

use crate::file::sync_dir;
use crate::{JournalError, Seq};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: [u8; 8] = *b"BOURSESN";
const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 64;
const SUFFIX: &str = ".snapshot";
const TMP_SUFFIX: &str = ".snapshot.tmp";

/// A validated snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub seq: Seq,
    pub state_hash: [u8; 32],
    pub bytes: Vec<u8>,
    pub path: PathBuf,
}

/// A snapshot file that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedSnapshot {
    pub path: PathBuf,
    pub reason: String,
}

/// The outcome of [`SnapshotStore::load_latest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SnapshotLoad {
    /// The newest valid snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// Newer snapshots that were invalid, newest first.
    pub skipped: Vec<SkippedSnapshot>,
}

/// A directory of snapshots.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
    keep: usize,
}

/// The first snapshot of `candidates` that validates, and the invalid ones before it.
fn first_valid(candidates: impl IntoIterator<Item = (Seq, PathBuf)>) -> SnapshotLoad {
    let mut load = SnapshotLoad::default();
    for (seq, path) in candidates {
        match read_snapshot(&path, seq) {
            Ok(snapshot) => {
                load.snapshot = Some(snapshot);
                break;
            }
            Err(reason) => load.skipped.push(SkippedSnapshot { path, reason }),
        }
    }
    load
}

impl SnapshotStore {
    /// Opens (creating) `dir`, keeping the newest `keep` snapshots after each save.
    pub fn open(dir: impl Into<PathBuf>, keep: usize) -> Result<Self, JournalError> {
        if keep == 0 {
            return Err(JournalError::Config(
                "snapshots to keep must be at least 1".into(),
            ));
        }
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| JournalError::io(&dir, e))?;
        Ok(Self { dir, keep })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a snapshot of the state after record `seq` atomically, then prunes old ones.
    pub fn save(
        &self,
        seq: Seq,
        state_hash: [u8; 32],
        bytes: &[u8],
    ) -> Result<PathBuf, JournalError> {
        let path = self.dir.join(format!("{seq:020}{SUFFIX}"));
        let tmp = self.dir.join(format!("{seq:020}{TMP_SUFFIX}"));
        let header = encode_header(seq, &state_hash, bytes);
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(&header)?;
            f.write_all(bytes)?;
            f.sync_all()
        };
        write().map_err(|e| JournalError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| JournalError::io(&path, e))?;
        sync_dir(&self.dir)?;
        self.prune()?;
        Ok(path)
    }

    /// Sequences of the snapshot files present, newest first (not validated).
    pub fn list(&self) -> Result<Vec<(Seq, PathBuf)>, JournalError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| JournalError::io(&self.dir, e))? {
            let entry = entry.map_err(|e| JournalError::io(&self.dir, e))?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
                continue;
            };
            if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Ok(seq) = stem.parse::<Seq>() {
                out.push((seq, entry.path()));
            }
        }
        out.sort_by_key(|&(seq, _)| std::cmp::Reverse(seq));
        Ok(out)
    }

    /// The newest snapshot that validates; newer invalid ones are reported, not returned.
    pub fn load_latest(&self) -> Result<SnapshotLoad, JournalError> {
        Ok(first_valid(self.list()?))
    }

    /// The newest valid snapshot at or before `seq` (recovery when the read models are
    /// behind the newest one), with the newer or invalid ones it passed over.
    pub fn load_at_or_before(&self, seq: Seq) -> Result<SnapshotLoad, JournalError> {
        Ok(first_valid(
            self.list()?.into_iter().filter(|(s, _)| *s <= seq),
        ))
    }

    /// The oldest valid snapshot at or after `seq` (`bourse verify` of a pruned journal:
    /// the earliest point it can replay from).
    pub fn load_oldest_from(&self, seq: Seq) -> Result<SnapshotLoad, JournalError> {
        Ok(first_valid(
            self.list()?.into_iter().rev().filter(|(s, _)| *s >= seq),
        ))
    }

    /// The sequence of the oldest snapshot on disk: what the journal must keep after.
    pub fn oldest_seq(&self) -> Result<Option<Seq>, JournalError> {
        Ok(self.list()?.last().map(|(s, _)| *s))
    }

    /// Deletes all but the newest `keep` snapshots, and stray temp files.
    fn prune(&self) -> Result<(), JournalError> {
        for (_, path) in self.list()?.into_iter().skip(self.keep) {
            remove(&path)?;
        }
        for entry in fs::read_dir(&self.dir).map_err(|e| JournalError::io(&self.dir, e))? {
            let entry = entry.map_err(|e| JournalError::io(&self.dir, e))?;
            if entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(TMP_SUFFIX))
            {
                remove(&entry.path())?;
            }
        }
        Ok(())
    }
}

fn remove(path: &Path) -> Result<(), JournalError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(JournalError::io(path, e)),
        _ => Ok(()),
    }
}

fn encode_header(seq: Seq, state_hash: &[u8; 32], bytes: &[u8]) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&seq.to_le_bytes());
    h[20..52].copy_from_slice(state_hash);
    h[52..60].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&h[8..60]), bytes);
    h[60..64].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Reads and validates one snapshot file; `Err` is the reason it is unusable.
fn read_snapshot(path: &Path, name_seq: Seq) -> Result<Snapshot, String> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| std::io::Read::read_to_end(&mut f, &mut data))
        .map_err(|e| format!("cannot read: {e}"))?;
    let h = data
        .get(..HEADER_LEN)
        .ok_or("shorter than the snapshot header")?;
    if h[0..8] != MAGIC {
        return Err("not a snapshot (bad magic)".into());
    }
    let version = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(format!("unsupported snapshot format version {version}"));
    }
    let seq = u64::from_le_bytes(h[12..20].try_into().expect("8 bytes"));
    let state_hash: [u8; 32] = h[20..52].try_into().expect("32 bytes");
    let len = u64::from_le_bytes(h[52..60].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(h[60..64].try_into().expect("4 bytes"));
    let body = &data[HEADER_LEN..];
    if body.len() as u64 != len {
        return Err(format!(
            "holds {} state bytes, header says {len}",
            body.len()
        ));
    }
    if crc32c::crc32c_append(crc32c::crc32c(&h[8..60]), body) != crc {
        return Err("checksum mismatch".into());
    }
    if seq != name_seq {
        return Err(format!(
            "header says sequence {seq}, file name says {name_seq}"
        ));
    }
    Ok(Snapshot {
        seq,
        state_hash,
        bytes: data.split_off(HEADER_LEN),
        path: path.to_path_buf(),
    })
}
