//! The file journal against real files: round trips, rolling, reopening, torn tails,
//! corruption, and poisoning.

mod common;

use bourse_journal::{FileJournal, FileJournalConfig, IoOp, Journal, JournalError, Seq};
use bourse_model::Command;
use common::{command, commands, record_offsets};
use proptest::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};

fn open(dir: &Path) -> FileJournal {
    open_with(dir, FileJournalConfig::DEFAULT_SEGMENT_BYTES)
}

fn open_with(dir: &Path, segment_bytes: u64) -> FileJournal {
    let mut cfg = FileJournalConfig::new(dir);
    cfg.segment_bytes = segment_bytes;
    let (journal, report) = FileJournal::open(cfg).expect("open journal");
    assert_eq!(report.truncated, None, "unexpected truncation: {report:?}");
    journal
}

fn read_all(j: &FileJournal, from: Seq) -> Vec<(Seq, Command)> {
    j.read_from(from)
        .expect("read_from")
        .collect::<Result<Vec<_>, _>>()
        .expect("replay")
}

fn numbered(from: Seq, cmds: &[Command]) -> Vec<(Seq, Command)> {
    (from..).zip(cmds.iter().cloned()).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn only_segment(j: &FileJournal) -> PathBuf {
    let paths = j.segment_paths();
    assert_eq!(paths.len(), 1);
    paths[0].clone()
}

#[test]
fn round_trip_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path());
    assert_eq!(j.last_seq(), 0);
    assert_eq!(read_all(&j, 1), vec![]);

    let all = commands(0..100);
    let mut at = 0;
    for size in [1, 7, 0, 32, 60] {
        let last = j.append(&all[at..at + size]).unwrap();
        at += size;
        assert_eq!(last, at as Seq);
        assert_eq!(j.last_seq(), at as Seq);
    }
    assert_eq!(read_all(&j, 1), numbered(1, &all));
    assert_eq!(read_all(&j, 0), numbered(1, &all), "from 0 reads from 1");
    assert_eq!(read_all(&j, 42), numbered(42, &all[41..]));
    assert_eq!(read_all(&j, 100), numbered(100, &all[99..]));
    assert_eq!(read_all(&j, 101), vec![]);
    assert_eq!(j.poisoned(), None);
}

#[test]
fn segments_roll_and_are_named_by_first_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open_with(dir.path(), 1024);
    let all = commands(0..300);
    for batch in all.chunks(10) {
        j.append(batch).unwrap();
    }
    let paths = j.segment_paths();
    assert!(
        paths.len() > 3,
        "expected several segments, got {}",
        paths.len()
    );
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names[0], "00000000000000000001.journal");
    for (path, name) in paths.iter().zip(&names) {
        let first: Seq = name.trim_end_matches(".journal").parse().unwrap();
        // A batch never spans segments, so every segment starts at a batch boundary.
        assert_eq!((first - 1) % 10, 0, "{name}");
        let bytes = fs::read(path).unwrap();
        assert_eq!(&bytes[..8], b"BOURSEJL");
        assert_eq!(u64::from_le_bytes(bytes[12..20].try_into().unwrap()), first);
        let offsets = record_offsets(&bytes);
        assert!(!offsets.is_empty());
        let first_rec_seq =
            u64::from_le_bytes(bytes[offsets[0] + 8..offsets[0] + 16].try_into().unwrap());
        assert_eq!(first_rec_seq, first);
    }
    assert_eq!(read_all(&j, 1), numbered(1, &all));
    assert_eq!(read_all(&j, 155), numbered(155, &all[154..]));
    drop(j);

    let j = open_with(dir.path(), 1024);
    assert_eq!(j.last_seq(), 300);
    assert_eq!(j.segment_paths(), paths);
    assert_eq!(read_all(&j, 1), numbered(1, &all));
}

#[test]
fn reopen_continues_the_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let all = commands(0..30);
    {
        let mut j = open(dir.path());
        j.append(&all[..10]).unwrap();
    }
    {
        let mut j = open(dir.path());
        assert_eq!(j.last_seq(), 10);
        assert_eq!(j.append(&all[10..25]).unwrap(), 25);
    }
    let mut j = open(dir.path());
    assert_eq!(j.last_seq(), 25);
    assert_eq!(j.append(&all[25..]).unwrap(), 30);
    assert_eq!(read_all(&j, 1), numbered(1, &all));
}

/// Builds a one-segment journal of `n` records; returns its segment path and bytes.
fn journal_of(dir: &Path, n: u64) -> (PathBuf, Vec<u8>) {
    let mut j = open(dir);
    for i in 0..n {
        j.append(&[command(i)]).unwrap();
    }
    let path = only_segment(&j);
    let bytes = fs::read(&path).unwrap();
    (path, bytes)
}

/// Opens a damaged copy, expecting recovery to exactly the first `n - 1` records, then
/// appending again.
fn assert_recovers_to_previous_record(damaged: &Path, n: u64, cut_at: usize) {
    let (mut j, report) = FileJournal::open(FileJournalConfig::new(damaged))
        .unwrap_or_else(|e| panic!("open failed for damage at {cut_at}: {e}"));
    assert_eq!(report.last_seq, n - 1, "damage at {cut_at}");
    let expected = commands(0..n - 1);
    assert_eq!(
        read_all(&j, 1),
        numbered(1, &expected),
        "damage at {cut_at}"
    );
    let again = command(1000);
    assert_eq!(j.append(std::slice::from_ref(&again)).unwrap(), n);
    drop(j);
    let j = open(damaged);
    let mut expected = numbered(1, &expected);
    expected.push((n, again));
    assert_eq!(read_all(&j, 1), expected, "damage at {cut_at}");
}

#[test]
fn torn_tail_at_every_offset_of_the_last_record_is_truncated() {
    const N: u64 = 12;
    let src = tempfile::tempdir().unwrap();
    let (path, bytes) = journal_of(src.path(), N);
    let last_start = *record_offsets(&bytes).last().unwrap();
    let name = path.file_name().unwrap();

    for cut in last_start..bytes.len() {
        let work = tempfile::tempdir().unwrap();
        copy_dir(src.path(), work.path());
        let seg = work.path().join(name);
        fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        let (_, report) = FileJournal::open(FileJournalConfig::new(work.path())).unwrap();
        if cut == last_start {
            assert_eq!(report.truncated, None, "a clean cut is not a torn tail");
        } else {
            let t = report.truncated.as_ref().expect("torn tail reported");
            assert_eq!(t.offset, last_start as u64);
            assert_eq!(t.bytes_dropped, (cut - last_start) as u64);
            assert_eq!(t.file, seg);
        }
        assert_recovers_to_previous_record(work.path(), N, cut);
    }
}

#[test]
fn garbled_last_record_is_a_torn_tail() {
    const N: u64 = 9;
    let src = tempfile::tempdir().unwrap();
    let (path, bytes) = journal_of(src.path(), N);
    let last_start = *record_offsets(&bytes).last().unwrap();
    for at in last_start..bytes.len() {
        let work = tempfile::tempdir().unwrap();
        copy_dir(src.path(), work.path());
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x5a;
        fs::write(work.path().join(path.file_name().unwrap()), &damaged).unwrap();
        assert_recovers_to_previous_record(work.path(), N, at);
    }
}

fn expect_corrupt(dir: &Path) -> (PathBuf, u64, String) {
    match FileJournal::open(FileJournalConfig::new(dir)) {
        Err(e @ JournalError::Corrupt { .. }) => {
            let msg = e.to_string();
            let JournalError::Corrupt { file, offset, .. } = e else {
                unreachable!()
            };
            (file, offset, msg)
        }
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok((j, report)) => panic!("expected Corrupt, opened {j:?} with {report:?}"),
    }
}

#[test]
fn corrupt_middle_record_stops_open_naming_file_and_offset() {
    const N: u64 = 10;
    let src = tempfile::tempdir().unwrap();
    let (path, bytes) = journal_of(src.path(), N);
    let offsets = record_offsets(&bytes);
    let (start, end) = (offsets[4], offsets[5]);
    for at in start..end {
        let work = tempfile::tempdir().unwrap();
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x01;
        let seg = work.path().join(path.file_name().unwrap());
        fs::write(&seg, &damaged).unwrap();
        let (file, offset, msg) = expect_corrupt(work.path());
        assert_eq!(file, seg, "byte {at}");
        assert_eq!(offset, start as u64, "byte {at}");
        assert!(msg.contains(&seg.display().to_string()), "{msg}");
        assert!(msg.contains(&format!("offset {start}")), "{msg}");
        // Nothing was repaired behind the operator's back.
        assert_eq!(fs::read(&seg).unwrap(), damaged);
    }
}

#[test]
fn corrupt_non_last_segment_stops_open() {
    let src = tempfile::tempdir().unwrap();
    let paths = {
        let mut j = open_with(src.path(), 512);
        for batch in commands(0..100).chunks(5) {
            j.append(batch).unwrap();
        }
        j.segment_paths()
    };
    assert!(paths.len() >= 3);
    let first = fs::read(&paths[0]).unwrap();
    let last_rec = *record_offsets(&first).last().unwrap();

    // A flipped byte in the last record of the first segment: in any other segment a
    // bad tail is corruption, not a torn write.
    let work = tempfile::tempdir().unwrap();
    copy_dir(src.path(), work.path());
    let mut damaged = first.clone();
    damaged[last_rec + 20] ^= 0xff;
    let seg = work.path().join(paths[0].file_name().unwrap());
    fs::write(&seg, &damaged).unwrap();
    let (file, offset, _) = expect_corrupt(work.path());
    assert_eq!((file, offset), (seg, last_rec as u64));

    // A first segment cut short (even at a record boundary) leaves a gap.
    let work = tempfile::tempdir().unwrap();
    copy_dir(src.path(), work.path());
    fs::write(
        work.path().join(paths[0].file_name().unwrap()),
        &first[..last_rec],
    )
    .unwrap();
    let (file, _, msg) = expect_corrupt(work.path());
    assert_eq!(
        file,
        work.path().join(paths[1].file_name().unwrap()),
        "{msg}"
    );

    // A torn end in a non-last segment.
    let work = tempfile::tempdir().unwrap();
    copy_dir(src.path(), work.path());
    fs::write(
        work.path().join(paths[0].file_name().unwrap()),
        &first[..first.len() - 3],
    )
    .unwrap();
    let (file, offset, _) = expect_corrupt(work.path());
    assert_eq!(file, work.path().join(paths[0].file_name().unwrap()));
    assert_eq!(offset, last_rec as u64);
}

#[test]
fn corruption_found_during_replay_is_an_error_not_a_skip() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path());
    j.append(&commands(0..20)).unwrap();
    let seg = only_segment(&j);
    let mut bytes = fs::read(&seg).unwrap();
    let at = record_offsets(&bytes)[7] + 18;
    bytes[at] ^= 0x10;
    fs::write(&seg, &bytes).unwrap();
    let results: Vec<_> = j.read_from(1).unwrap().collect();
    assert_eq!(
        results.len(),
        8,
        "7 good records, then the error, then nothing"
    );
    assert!(results[..7].iter().all(|r| r.is_ok()));
    assert!(matches!(results[7], Err(JournalError::Corrupt { .. })));
}

#[test]
fn failed_fsync_poisons_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path());
    j.append(&commands(0..5)).unwrap();
    let fail = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let f = fail.clone();
    j.set_fault_hook(Box::new(move |op| {
        if op == IoOp::Sync && f.load(std::sync::atomic::Ordering::SeqCst) {
            Err(std::io::Error::other("injected: device gone"))
        } else {
            Ok(())
        }
    }));
    let seg = only_segment(&j);
    let len_before = fs::metadata(&seg).unwrap().len();
    let err = j.append(&commands(5..8)).unwrap_err();
    assert!(matches!(err, JournalError::Unavailable { .. }), "{err}");
    assert_eq!(j.last_seq(), 5, "an unsynced batch is not durable");
    assert!(j.poisoned().unwrap().contains("device gone"));
    assert_eq!(
        fs::metadata(&seg).unwrap().len(),
        len_before,
        "the failed batch is cut off at once"
    );

    // Even once the device "recovers", the journal stays down.
    fail.store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        j.append(&commands(8..9)),
        Err(JournalError::Unavailable { .. })
    ));
    assert!(matches!(
        j.append(&[]),
        Err(JournalError::Unavailable { .. })
    ));
    assert_eq!(
        read_all(&j, 1),
        numbered(1, &commands(0..5)),
        "reads keep working"
    );
    drop(j);

    // The bytes of the failed batch had reached the file (only the sync failed), but its
    // callers were told "unavailable": it does not come back after a restart (`open`
    // also asserts there was no torn tail to cut).
    let mut j = open(dir.path());
    assert_eq!(j.last_seq(), 5);
    assert_eq!(j.append(&commands(8..9)).unwrap(), 6);
    let mut expected = commands(0..5);
    expected.extend(commands(8..9));
    assert_eq!(read_all(&j, 1), numbered(1, &expected));
}

#[test]
fn a_failed_fsync_whose_cut_fails_too_may_bring_the_batch_back() {
    // The remaining case of the module doc: the device refuses the truncate as well.
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path());
    j.append(&commands(0..5)).unwrap();
    j.set_fault_hook(Box::new(|op| match op {
        IoOp::Write => Ok(()),
        IoOp::Sync | IoOp::Truncate => Err(std::io::Error::other("injected: device gone")),
    }));
    assert!(matches!(
        j.append(&commands(5..8)),
        Err(JournalError::Unavailable { .. })
    ));
    let reason = j.poisoned().unwrap().to_owned();
    assert!(
        reason.contains("fdatasync failed") && reason.contains("may reappear"),
        "{reason}"
    );
    drop(j);
    // Here the page cache kept the bytes: the unacknowledged batch is replayed, whole
    // and in order, like a request that timed out.
    let j = open(dir.path());
    assert_eq!(read_all(&j, 1), numbered(1, &commands(0..8)));
}

#[test]
fn a_short_write_is_cut_off_before_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path());
    j.append(&commands(0..3)).unwrap();
    let seg = only_segment(&j);
    // The disk fills up in the middle of the batch: some bytes land, then ENOSPC.
    let path = seg.clone();
    j.set_fault_hook(Box::new(move |op| {
        if op == IoOp::Write {
            let mut f = fs::OpenOptions::new().append(true).open(&path)?;
            std::io::Write::write_all(&mut f, &[0x5a; 40])?;
            return Err(std::io::Error::from_raw_os_error(28));
        }
        Ok(())
    }));
    let len_before = fs::metadata(&seg).unwrap().len();
    assert!(j.append(&commands(3..6)).is_err());
    assert_eq!(fs::metadata(&seg).unwrap().len(), len_before);
    drop(j);
    // No torn tail left for open to find (`open` asserts that).
    let j = open(dir.path());
    assert_eq!(read_all(&j, 1), numbered(1, &commands(0..3)));
}

#[test]
fn failed_write_poisons_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path());
    j.append(&commands(0..3)).unwrap();
    j.set_fault_hook(Box::new(|op| match op {
        IoOp::Write => Err(std::io::Error::from_raw_os_error(28)), // ENOSPC
        IoOp::Sync | IoOp::Truncate => Ok(()),
    }));
    let err = j.append(&commands(3..4)).unwrap_err();
    assert!(err.to_string().contains("journal unavailable"), "{err}");
    assert!(matches!(
        j.append(&commands(3..4)),
        Err(JournalError::Unavailable { .. })
    ));
    drop(j);
    let j = open(dir.path());
    assert_eq!(read_all(&j, 1), numbered(1, &commands(0..3)));
}

#[test]
fn partial_segment_header_of_a_new_last_segment_is_repaired() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut j = open(dir.path());
        j.append(&commands(0..4)).unwrap();
    }
    // A crash while rolling: the next segment exists with half a header.
    let header_prefix = {
        let seg = fs::read(dir.path().join("00000000000000000001.journal")).unwrap();
        let mut h = seg[..24].to_vec();
        h[12..20].copy_from_slice(&5u64.to_le_bytes());
        let crc = crc32c::crc32c(&h[..20]);
        h[20..24].copy_from_slice(&crc.to_le_bytes());
        h[..11].to_vec()
    };
    fs::write(
        dir.path().join("00000000000000000005.journal"),
        header_prefix,
    )
    .unwrap();
    let (mut j, report) = FileJournal::open(FileJournalConfig::new(dir.path())).unwrap();
    assert_eq!(report.last_seq, 4);
    assert!(report.truncated.is_some());
    assert_eq!(j.append(&commands(4..6)).unwrap(), 6);
    assert_eq!(read_all(&j, 1), numbered(1, &commands(0..6)));
}

#[test]
fn old_segments_can_be_removed_and_reads_before_them_are_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let all = commands(0..40);
    let mut j = open_with(dir.path(), 256);
    for batch in all.chunks(4) {
        j.append(batch).unwrap();
    }
    let before = j.segment_paths();
    assert!(before.len() >= 4);
    let second_first: Seq = before[1]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_end_matches(".journal")
        .parse()
        .unwrap();
    assert_eq!(
        j.remove_segments_before(second_first - 1).unwrap(),
        0,
        "still needed"
    );
    assert_eq!(j.remove_segments_before(second_first).unwrap(), 1);
    assert!(!before[0].exists());
    assert!(matches!(
        j.read_from(1),
        Err(JournalError::OutOfRange { requested: 1, .. })
    ));
    assert_eq!(
        read_all(&j, second_first),
        numbered(second_first, &all[second_first as usize - 1..])
    );
    // Never the last segment, whatever is asked.
    j.remove_segments_before(1_000).unwrap();
    assert_eq!(j.segment_paths(), vec![before.last().unwrap().clone()]);
    drop(j);

    let mut j = open_with(dir.path(), 256);
    assert_eq!(j.last_seq(), 40);
    assert_eq!(j.append(&commands(40..41)).unwrap(), 41);
    assert_eq!(read_all(&j, 40), numbered(40, &commands(39..41)));
}

#[test]
fn one_journal_per_directory() {
    let dir = tempfile::tempdir().unwrap();
    let j = open(dir.path());
    let second = FileJournal::open(FileJournalConfig::new(dir.path()));
    assert!(
        matches!(second, Err(JournalError::Locked { .. })),
        "{second:?}"
    );
    drop(j);
    open(dir.path());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any sequence of batch sizes, segment sizes and reopen points reads back exactly
    /// what was appended (reference model: a Vec of commands).
    #[test]
    fn appends_reopens_and_reads_match_a_vec(
        batches in prop::collection::vec((0usize..20, any::<bool>()), 1..25),
        segment_bytes in prop_oneof![Just(64u64), 200u64..2_000, Just(1 << 20)],
        from in 0u64..200,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut model: Vec<Command> = Vec::new();
        let mut j = open_with(dir.path(), segment_bytes);
        let mut next = 0u64;
        for (size, reopen) in batches {
            let batch = commands(next..next + size as u64);
            next += size as u64;
            let last = j.append(&batch).unwrap();
            model.extend(batch);
            prop_assert_eq!(last, model.len() as Seq);
            if reopen {
                drop(j);
                j = open_with(dir.path(), segment_bytes);
                prop_assert_eq!(j.last_seq(), model.len() as Seq);
            }
        }
        let from = from.max(1);
        let skip = (from as usize - 1).min(model.len());
        prop_assert_eq!(read_all(&j, from), numbered(from, &model[skip..]));
    }
}

/// A journal written before `RequestWithdrawal` had `client_withdrawal_id`: its record of
/// that command is one byte shorter (no `None`), and reads back as `None`.
#[test]
fn a_withdrawal_request_written_before_its_key_field_reads_as_none() {
    use bourse_model::{Amount, AssetId, ClientWithdrawalId, CommandKind, UserId};
    let request = |key: Option<&str>| {
        Command::new(
            1_700_000_000_000,
            CommandKind::RequestWithdrawal {
                user: UserId(3),
                asset: AssetId(1),
                amount: Amount(250),
                address: "addr-1".into(),
                client_withdrawal_id: key.map(|k| ClientWithdrawalId::new(k).unwrap()),
            },
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let cmds = vec![command(0), request(None), command(2)];
    {
        let mut j = open(dir.path());
        j.append(&cmds).unwrap();
    }
    // Rewrite the middle record in the old form: payload without its last byte (the
    // `None`), length and checksum to match.
    let path = dir.path().join("00000000000000000001.journal");
    let seg = fs::read(&path).unwrap();
    let offs = record_offsets(&seg);
    let (start, end) = (offs[1], offs[2]);
    let mut rec = seg[start..end - 1].to_vec();
    assert_eq!(seg[end - 1], 0, "None is one 0 byte at the end");
    let len = (rec.len() - 16) as u32;
    rec[4..8].copy_from_slice(&len.to_le_bytes());
    let crc = crc32c::crc32c(&rec[4..]);
    rec[0..4].copy_from_slice(&crc.to_le_bytes());
    let mut old = seg[..start].to_vec();
    old.extend_from_slice(&rec);
    old.extend_from_slice(&seg[end..]);
    fs::write(&path, old).unwrap();

    let mut j = open(dir.path());
    assert_eq!(read_all(&j, 1), numbered(1, &cmds));
    // New records next to it keep their key.
    j.append(&[request(Some("w-1"))]).unwrap();
    assert_eq!(read_all(&j, 4), numbered(4, &[request(Some("w-1"))]));
}
