//! The file journal: segmented, append-only, checksummed files in one directory.
//!
//! # Byte format (version 1, all integers little-endian)
//!
//! A journal is a directory of *segments* named `{first_seq:020}.journal` (the sequence of
//! the segment's first record, zero-padded to 20 digits so names sort by sequence). Other
//! files in the directory are ignored.
//!
//! Each segment starts with a 24-byte header:
//!
//! | offset | size | field                                         |
//! |--------|------|-----------------------------------------------|
//! | 0      | 8    | magic `b"BOURSEJL"`                           |
//! | 8      | 4    | format version, `1`                           |
//! | 12     | 8    | `first_seq`, equal to the number in the name  |
//! | 20     | 4    | CRC32C of bytes 0..20                         |
//!
//! followed by records, back to back, each a 16-byte header and a payload:
//!
//! | offset | size  | field                                                  |
//! |--------|-------|--------------------------------------------------------|
//! | 0      | 4     | CRC32C of bytes 4..16+len (length, sequence, payload)  |
//! | 4      | 4     | `len`: payload length, at most [`MAX_RECORD_LEN`]      |
//! | 8      | 8     | `seq`: the record's sequence number                    |
//! | 16     | len   | payload: the `bourse_model::Command`, postcard-encoded |
//!
//! (Payloads are read as `codec` says: strictly, but for one legacy form.)
//!
//! # Rules
//!
//! - Sequences are contiguous within a segment and across segments: a segment's
//!   `first_seq` is one more than the previous segment's last record.
//! - A batch is one `write` and one `fdatasync`, always into a single segment: the writer
//!   rolls to a new segment *before* a batch once the current one has reached
//!   `segment_bytes` (so a segment may exceed it by one batch). A new segment's header is
//!   written and synced, then the directory is synced, before any record goes into it.
//! - Open checks every record of every segment (checksum, length, sequence). Only the
//!   last segment may end in a *torn tail*: an invalid record from which no valid record
//!   (a later sequence with a good checksum) can be found up to the end of the file. It
//!   is what a crash in the middle of a batch write leaves behind, is never acknowledged,
//!   and is truncated away; [`RecoveryReport::truncated`] says where and how much.
//! - Anything else invalid — a bad record followed by a valid one, a bad record or
//!   trailing bytes in a non-last segment, a gap between segments, a bad segment header —
//!   is [`JournalError::Corrupt`] with the file and byte offset. Nothing is skipped.
//!   (A power loss that persists later pages of the in-flight batch but not earlier ones
//!   lands here too, on purpose: the journal refuses to guess, the operator truncates.)
//! - One writer per directory: open takes an exclusive `flock` on the file `LOCK` there
//!   and fails with [`JournalError::Locked`] if another journal holds it.
//! - A write or fsync failure poisons the journal for good (see the crate doc): after a
//!   failed `fsync` the kernel's page cache state is unknowable, so only a reopen, which
//!   re-reads and re-validates the files, may write again.
//! - Before poisoning, a failed batch is cut off: the segment is truncated back to where
//!   the batch started and fsynced. Its callers are told the journal is unavailable, so
//!   the batch must not come back at the next open as if it had been accepted. This is
//!   best effort: if the truncate or its fsync fails too (the device is gone), the
//!   batch's bytes may survive, and a complete record among them is replayed at the next
//!   start. That is the same outcome as a request that timed out — the journal, the core
//!   and the ledger stay consistent (the records are valid commands in sequence order,
//!   and no acknowledged command is lost), but a caller who read 503 as "not done" is
//!   wrong about it; the poison reason says so, and a retry with the same
//!   `client_order_id` is answered with the original order instead of a second one.

use crate::{codec, Journal, JournalError, RecordIter, Seq};
use bourse_model::Command;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;

const SEGMENT_MAGIC: [u8; 8] = *b"BOURSEJL";
const FORMAT_VERSION: u32 = 1;
const SEGMENT_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
const SEGMENT_SUFFIX: &str = ".journal";
const LOCK_FILE: &str = "LOCK";

/// The largest payload a record may carry. Commands are a few hundred bytes at most; the
/// bound stops a garbled length from being believed.
pub const MAX_RECORD_LEN: u32 = 1 << 20;

/// Where and how to keep a file journal.
#[derive(Debug, Clone)]
pub struct FileJournalConfig {
    pub dir: PathBuf,
    /// Roll to a new segment once the current one reaches this size.
    pub segment_bytes: u64,
}

impl FileJournalConfig {
    pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            segment_bytes: Self::DEFAULT_SEGMENT_BYTES,
        }
    }
}

/// What open found and repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    pub segments: usize,
    pub last_seq: Seq,
    /// Set when a torn tail was cut off the last segment.
    pub truncated: Option<TruncatedTail>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncatedTail {
    pub file: PathBuf,
    /// The file's new length: where the first invalid record started.
    pub offset: u64,
    pub bytes_dropped: u64,
    /// Why the record at `offset` was invalid.
    pub reason: String,
}

/// The step of an append a [`FaultHook`] is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoOp {
    /// Before writing a batch's bytes. Failing it writes nothing.
    Write,
    /// Before the `fdatasync` of a written batch. Failing it leaves the bytes unsynced.
    Sync,
    /// Before cutting a failed batch off the segment. Failing it leaves whatever of the
    /// batch was written in the file.
    Truncate,
}

/// Fault injection for tests: called before each write and sync; an `Err` is treated
/// exactly like that operation failing.
pub type FaultHook = Box<dyn FnMut(IoOp) -> io::Result<()> + Send>;

struct Segment {
    first_seq: Seq,
    path: PathBuf,
}

/// The default [`Journal`]: see the module doc for the format and rules.
pub struct FileJournal {
    dir: PathBuf,
    segment_bytes: u64,
    segments: Vec<Segment>,
    /// The last segment, positioned at `write_offset`.
    file: File,
    write_offset: u64,
    last_seq: Seq,
    buf: Vec<u8>,
    poisoned: Option<String>,
    fault: Option<FaultHook>,
    /// Holds an exclusive `flock` on `LOCK`: one writer per directory, released when
    /// the journal is dropped or the process dies.
    _lock: File,
}

impl std::fmt::Debug for FileJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileJournal")
            .field("dir", &self.dir)
            .field("segments", &self.segments.len())
            .field("last_seq", &self.last_seq)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl FileJournal {
    /// Opens (creating if needed) the journal in `config.dir`, validating every segment
    /// and truncating a torn tail.
    pub fn open(config: FileJournalConfig) -> Result<(Self, RecoveryReport), JournalError> {
        if config.segment_bytes < (SEGMENT_HEADER_LEN + RECORD_HEADER_LEN) as u64 {
            return Err(JournalError::Config(format!(
                "segment_bytes {} is too small",
                config.segment_bytes
            )));
        }
        let dir = config.dir;
        fs::create_dir_all(&dir).map_err(|e| JournalError::io(&dir, e))?;
        let lock = lock_dir(&dir)?;
        let mut segments = list_segments(&dir)?;

        let mut truncated = None;
        let (file, write_offset, last_seq) = match segments.last() {
            None => {
                let (file, path) = create_segment(&dir, 1)?;
                segments.push(Segment { first_seq: 1, path });
                (file, SEGMENT_HEADER_LEN as u64, 0)
            }
            Some(_) => {
                let mut expected_first = segments[0].first_seq;
                let last_index = segments.len() - 1;
                for seg in &segments[..last_index] {
                    check_first_seq(seg, expected_first)?;
                    let bytes = fs::read(&seg.path).map_err(|e| JournalError::io(&seg.path, e))?;
                    let scan = scan_segment(&bytes, &seg.path, seg.first_seq)?;
                    if let Some((offset, reason)) = scan.invalid {
                        return Err(JournalError::corrupt(&seg.path, offset as u64, reason));
                    }
                    expected_first = scan.last_seq + 1;
                }
                let seg = &segments[last_index];
                check_first_seq(seg, expected_first)?;
                let (file, write_offset, last_seq, tail) = recover_last_segment(seg)?;
                truncated = tail;
                (file, write_offset, last_seq)
            }
        };

        let report = RecoveryReport {
            segments: segments.len(),
            last_seq,
            truncated,
        };
        let journal = Self {
            dir,
            segment_bytes: config.segment_bytes,
            segments,
            file,
            write_offset,
            last_seq,
            buf: Vec::with_capacity(64 * 1024),
            poisoned: None,
            fault: None,
            _lock: lock,
        };
        Ok((journal, report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The segment files, oldest first.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|s| s.path.clone()).collect()
    }

    /// Deletes whole segments whose records all come before `seq` (say, the position of
    /// a snapshot already on disk); never the last segment. Oldest first, so a crash
    /// midway leaves a contiguous journal. Returns how many were removed.
    pub fn remove_segments_before(&mut self, seq: Seq) -> Result<usize, JournalError> {
        let mut removed = 0;
        while self.segments.len() > 1 && self.segments[1].first_seq <= seq {
            let seg = self.segments.remove(0);
            fs::remove_file(&seg.path).map_err(|e| JournalError::io(&seg.path, e))?;
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// Installs a fault hook (tests only: simulates a full disk or failing device).
    pub fn set_fault_hook(&mut self, hook: FaultHook) {
        self.fault = Some(hook);
    }

    fn poison(&mut self, reason: String) -> JournalError {
        self.poisoned = Some(reason.clone());
        JournalError::Unavailable { reason }
    }

    /// A batch's write or sync failed: cut the segment back to where the batch started
    /// (see the module doc), then poison. The file position stays past the cut, which
    /// does not matter: a poisoned journal never writes again.
    fn fail_batch(&mut self, what: &str, err: &io::Error) -> JournalError {
        let len = self.write_offset;
        let cut = self
            .fault(IoOp::Truncate)
            .and_then(|()| self.file.set_len(len))
            .and_then(|()| self.file.sync_all());
        self.poison(match cut {
            Ok(()) => format!("{what} failed: {err} (the batch was cut off)"),
            Err(cut_err) => format!(
                "{what} failed: {err}; cutting the batch off at byte {len} also failed \
                 ({cut_err}): its records may reappear at the next start"
            ),
        })
    }

    fn fault(&mut self, op: IoOp) -> io::Result<()> {
        match &mut self.fault {
            Some(hook) => hook(op),
            None => Ok(()),
        }
    }

    fn roll(&mut self) -> Result<(), JournalError> {
        let first_seq = self.last_seq + 1;
        let (file, path) = create_segment(&self.dir, first_seq)?;
        self.segments.push(Segment { first_seq, path });
        self.file = file;
        self.write_offset = SEGMENT_HEADER_LEN as u64;
        Ok(())
    }
}

impl Journal for FileJournal {
    fn append(&mut self, cmds: &[Command]) -> Result<Seq, JournalError> {
        if let Some(reason) = &self.poisoned {
            return Err(JournalError::Unavailable {
                reason: reason.clone(),
            });
        }
        if cmds.is_empty() {
            return Ok(self.last_seq);
        }
        // Encode first: a command that cannot be encoded is a bug, not an I/O failure, and
        // must not poison the journal (nothing has been written).
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut seq = self.last_seq;
        for cmd in cmds {
            seq += 1;
            buf = encode_record(buf, seq, cmd)?;
        }

        if self.write_offset >= self.segment_bytes && self.write_offset > SEGMENT_HEADER_LEN as u64
        {
            if let Err(e) = self.roll() {
                self.buf = buf;
                return Err(self.poison(format!("rolling to a new segment failed: {e}")));
            }
        }

        let written = self
            .fault(IoOp::Write)
            .and_then(|()| self.file.write_all(&buf));
        if let Err(e) = written {
            self.buf = buf;
            // A short write may have left part of the batch behind.
            return Err(self.fail_batch("journal write", &e));
        }
        let started = std::time::Instant::now();
        let synced = self.fault(IoOp::Sync).and_then(|()| self.file.sync_data());
        metrics::histogram!(crate::metrics::FSYNC_SECONDS).record(started.elapsed());
        if let Err(e) = synced {
            self.buf = buf;
            return Err(self.fail_batch("journal fdatasync", &e));
        }
        self.write_offset += buf.len() as u64;
        metrics::counter!(crate::metrics::WRITTEN_BYTES).increment(buf.len() as u64);
        self.last_seq = seq;
        self.buf = buf;
        Ok(seq)
    }

    fn last_seq(&self) -> Seq {
        self.last_seq
    }

    fn read_from(&self, from: Seq) -> Result<RecordIter<'_>, JournalError> {
        let from = from.max(1);
        let first = self.segments[0].first_seq;
        if from < first {
            return Err(JournalError::OutOfRange {
                requested: from,
                first,
                last: self.last_seq,
            });
        }
        if from > self.last_seq {
            return Ok(Box::new(std::iter::empty()));
        }
        let start = self
            .segments
            .partition_point(|s| s.first_seq <= from)
            .saturating_sub(1);
        let files = self.segments[start..]
            .iter()
            .map(|s| (s.path.clone(), s.first_seq))
            .collect();
        Ok(Box::new(Replay {
            files,
            next_file: 0,
            bytes: Vec::new(),
            path: PathBuf::new(),
            pos: 0,
            next_seq: 0,
            from,
            until: self.last_seq,
            done: false,
        }))
    }

    fn poisoned(&self) -> Option<&str> {
        self.poisoned.as_deref()
    }

    fn first_seq(&self) -> Seq {
        self.segments.first().map_or(1, |s| s.first_seq)
    }

    fn prune_before(&mut self, seq: Seq) -> Result<usize, JournalError> {
        self.remove_segments_before(seq)
    }
}

/// Reads whole segments (one `read` each) and decodes records from memory.
struct Replay {
    files: Vec<(PathBuf, Seq)>,
    next_file: usize,
    bytes: Vec<u8>,
    path: PathBuf,
    pos: usize,
    next_seq: Seq,
    from: Seq,
    until: Seq,
    done: bool,
}

impl Replay {
    fn load_next_file(&mut self) -> Result<(), JournalError> {
        let (path, first_seq) = self.files[self.next_file].clone();
        self.next_file += 1;
        let bytes = fs::read(&path).map_err(|e| JournalError::io(&path, e))?;
        check_segment_header(&bytes, &path, first_seq)?;
        self.bytes = bytes;
        self.path = path;
        self.pos = SEGMENT_HEADER_LEN;
        self.next_seq = first_seq;
        Ok(())
    }

    fn step(&mut self) -> Result<Option<(Seq, Command)>, JournalError> {
        loop {
            if self.next_seq > self.until {
                return Ok(None);
            }
            if self.pos >= self.bytes.len() {
                if self.next_file >= self.files.len() {
                    return Err(JournalError::corrupt(
                        &self.path,
                        self.pos as u64,
                        format!("journal ends before sequence {}", self.until),
                    ));
                }
                self.load_next_file()?;
                continue;
            }
            let rec = parse_record(&self.bytes, self.pos, self.next_seq)
                .map_err(|reason| JournalError::corrupt(&self.path, self.pos as u64, reason))?;
            self.pos = rec.end;
            let seq = self.next_seq;
            self.next_seq += 1;
            if seq < self.from {
                continue;
            }
            let payload = &self.bytes[rec.payload_start..rec.end];
            let cmd = codec::decode(payload).map_err(|source| JournalError::Decode {
                location: format!("{} at byte {}", self.path.display(), rec.payload_start),
                seq,
                source,
            })?;
            return Ok(Some((seq, cmd)));
        }
    }
}

impl Iterator for Replay {
    type Item = Result<(Seq, Command), JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(rec)) => Some(Ok(rec)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn encode_record(mut buf: Vec<u8>, seq: Seq, cmd: &Command) -> Result<Vec<u8>, JournalError> {
    let start = buf.len();
    buf.extend_from_slice(&[0; RECORD_HEADER_LEN]);
    let mut buf = postcard::to_extend(cmd, buf).map_err(JournalError::Encode)?;
    let len = buf.len() - start - RECORD_HEADER_LEN;
    let len = u32::try_from(len)
        .ok()
        .filter(|&l| l <= MAX_RECORD_LEN)
        .ok_or_else(|| {
            JournalError::Config(format!(
                "command encodes to {len} bytes, more than {MAX_RECORD_LEN}"
            ))
        })?;
    buf[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
    buf[start + 8..start + 16].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32c::crc32c(&buf[start + 4..]);
    buf[start..start + 4].copy_from_slice(&crc.to_le_bytes());
    Ok(buf)
}

struct ParsedRecord {
    payload_start: usize,
    end: usize,
}

/// Validates the record at `pos`, which must carry `expected_seq`.
fn parse_record(bytes: &[u8], pos: usize, expected_seq: Seq) -> Result<ParsedRecord, String> {
    let (crc, len, seq) = read_record_header(bytes, pos).ok_or("incomplete record header")?;
    if len > MAX_RECORD_LEN {
        return Err(format!("record length {len} exceeds {MAX_RECORD_LEN}"));
    }
    let payload_start = pos + RECORD_HEADER_LEN;
    let end = payload_start + len as usize;
    if end > bytes.len() {
        return Err(format!("record length {len} runs past the end of the file"));
    }
    if crc32c::crc32c(&bytes[pos + 4..end]) != crc {
        return Err("record checksum mismatch".into());
    }
    if seq != expected_seq {
        return Err(format!(
            "record has sequence {seq}, expected {expected_seq}"
        ));
    }
    Ok(ParsedRecord { payload_start, end })
}

fn read_record_header(bytes: &[u8], pos: usize) -> Option<(u32, u32, u64)> {
    let h = bytes.get(pos..pos.checked_add(RECORD_HEADER_LEN)?)?;
    let crc = u32::from_le_bytes(h[0..4].try_into().ok()?);
    let len = u32::from_le_bytes(h[4..8].try_into().ok()?);
    let seq = u64::from_le_bytes(h[8..16].try_into().ok()?);
    Some((crc, len, seq))
}

/// Is there a valid record with a sequence after `last_good` anywhere in `bytes[from..]`?
/// Decides torn tail (no) versus corruption in the middle (yes).
fn valid_record_after(bytes: &[u8], from: usize, last_good: Seq) -> Option<(usize, Seq)> {
    let max_seq = last_good.saturating_add((bytes.len() / RECORD_HEADER_LEN) as u64 + 1);
    let last_start = bytes.len().checked_sub(RECORD_HEADER_LEN)?;
    (from..=last_start).find_map(|pos| {
        let (crc, len, seq) = read_record_header(bytes, pos)?;
        let end = (pos + RECORD_HEADER_LEN).checked_add(len as usize)?;
        let plausible = len <= MAX_RECORD_LEN
            && end <= bytes.len()
            && seq > last_good
            && seq <= max_seq
            && crc32c::crc32c(&bytes[pos + 4..end]) == crc;
        plausible.then_some((pos, seq))
    })
}

struct Scan {
    /// End of the last valid record (or of the header).
    valid_len: usize,
    /// Sequence of the last valid record, `first_seq - 1` if none.
    last_seq: Seq,
    /// Offset and reason of the first invalid record, if the valid records do not reach
    /// the end of the file.
    invalid: Option<(usize, String)>,
}

fn scan_segment(bytes: &[u8], path: &Path, first_seq: Seq) -> Result<Scan, JournalError> {
    check_segment_header(bytes, path, first_seq)?;
    let mut pos = SEGMENT_HEADER_LEN;
    let mut next_seq = first_seq;
    while pos < bytes.len() {
        match parse_record(bytes, pos, next_seq) {
            Ok(rec) => {
                pos = rec.end;
                next_seq += 1;
            }
            Err(reason) => {
                return Ok(Scan {
                    valid_len: pos,
                    last_seq: next_seq - 1,
                    invalid: Some((pos, reason)),
                })
            }
        }
    }
    Ok(Scan {
        valid_len: pos,
        last_seq: next_seq - 1,
        invalid: None,
    })
}

fn check_segment_header(bytes: &[u8], path: &Path, first_seq: Seq) -> Result<(), JournalError> {
    let Some(h) = bytes.get(..SEGMENT_HEADER_LEN) else {
        return Err(JournalError::corrupt(path, 0, "incomplete segment header"));
    };
    if h[0..8] != SEGMENT_MAGIC {
        return Err(JournalError::corrupt(
            path,
            0,
            "not a journal segment (bad magic)",
        ));
    }
    let crc = u32::from_le_bytes(h[20..24].try_into().expect("4 bytes"));
    if crc32c::crc32c(&h[..20]) != crc {
        return Err(JournalError::corrupt(
            path,
            0,
            "segment header checksum mismatch",
        ));
    }
    let version = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(JournalError::corrupt(
            path,
            8,
            format!("unsupported format version {version}"),
        ));
    }
    let header_first = u64::from_le_bytes(h[12..20].try_into().expect("8 bytes"));
    if header_first != first_seq {
        return Err(JournalError::corrupt(
            path,
            12,
            format!("header says first sequence {header_first}, file name says {first_seq}"),
        ));
    }
    Ok(())
}

fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| JournalError::io(&path, e))?;
    match file.try_lock_exclusive() {
        Ok(true) => Ok(file),
        Ok(false) => Err(JournalError::Locked {
            dir: dir.to_path_buf(),
        }),
        Err(e) => Err(JournalError::io(&path, e)),
    }
}

fn segment_header(first_seq: Seq) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[0..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[..20]);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h
}

fn segment_path(dir: &Path, first_seq: Seq) -> PathBuf {
    dir.join(format!("{first_seq:020}{SEGMENT_SUFFIX}"))
}

fn list_segments(dir: &Path) -> Result<Vec<Segment>, JournalError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| JournalError::io(dir, e))? {
        let entry = entry.map_err(|e| JournalError::io(dir, e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SEGMENT_SUFFIX)) else {
            continue;
        };
        if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(first_seq) = stem.parse::<Seq>() else {
            continue;
        };
        if first_seq == 0 {
            return Err(JournalError::corrupt(
                entry.path(),
                0,
                "segment named for sequence 0",
            ));
        }
        segments.push(Segment {
            first_seq,
            path: entry.path(),
        });
    }
    segments.sort_by_key(|s| s.first_seq);
    Ok(segments)
}

fn check_first_seq(seg: &Segment, expected: Seq) -> Result<(), JournalError> {
    if seg.first_seq != expected {
        return Err(JournalError::corrupt(
            &seg.path,
            0,
            format!(
                "segment starts at sequence {}, but the previous segment ends at {}",
                seg.first_seq,
                expected - 1
            ),
        ));
    }
    Ok(())
}

/// Creates a segment with its header, synced along with the directory entry.
fn create_segment(dir: &Path, first_seq: Seq) -> Result<(File, PathBuf), JournalError> {
    let path = segment_path(dir, first_seq);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| JournalError::io(&path, e))?;
    file.write_all(&segment_header(first_seq))
        .and_then(|()| file.sync_all())
        .map_err(|e| JournalError::io(&path, e))?;
    sync_dir(dir)?;
    Ok((file, path))
}

/// Validates the last segment, cuts a torn tail, and opens it for appending.
fn recover_last_segment(
    seg: &Segment,
) -> Result<(File, u64, Seq, Option<TruncatedTail>), JournalError> {
    let path = &seg.path;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| JournalError::io(path, e))?;
    let bytes = fs::read(path).map_err(|e| JournalError::io(path, e))?;

    // A crash while creating the segment can leave a partial header and nothing else.
    if bytes.len() < SEGMENT_HEADER_LEN {
        let header = segment_header(seg.first_seq);
        if !header.starts_with(&bytes) {
            return Err(JournalError::corrupt(path, 0, "incomplete segment header"));
        }
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| file.write_all(&header))
            .and_then(|()| file.sync_all())
            .map_err(|e| JournalError::io(path, e))?;
        let tail = (!bytes.is_empty()).then(|| TruncatedTail {
            file: path.clone(),
            offset: 0,
            bytes_dropped: bytes.len() as u64,
            reason: "incomplete segment header rewritten".into(),
        });
        return Ok((file, SEGMENT_HEADER_LEN as u64, seg.first_seq - 1, tail));
    }

    let scan = scan_segment(&bytes, path, seg.first_seq)?;
    let mut tail = None;
    if let Some((offset, reason)) = scan.invalid {
        if let Some((valid_at, seq)) = valid_record_after(&bytes, offset + 1, scan.last_seq) {
            return Err(JournalError::corrupt(
                path,
                offset as u64,
                format!("{reason}; a valid record (sequence {seq}) follows at byte {valid_at}"),
            ));
        }
        file.set_len(scan.valid_len as u64)
            .and_then(|()| file.sync_all())
            .map_err(|e| JournalError::io(path, e))?;
        tail = Some(TruncatedTail {
            file: path.clone(),
            offset: offset as u64,
            bytes_dropped: (bytes.len() - scan.valid_len) as u64,
            reason,
        });
    }
    file.seek(SeekFrom::Start(scan.valid_len as u64))
        .map_err(|e| JournalError::io(path, e))?;
    Ok((file, scan.valid_len as u64, scan.last_seq, tail))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io(dir, e))
}
