//! Snapshot store against real files: atomic saves, pruning, and falling back past
//! damaged snapshots.

use bourse_journal::{JournalError, SnapshotStore};
use std::fs;

fn hash(n: u8) -> [u8; 32] {
    [n; 32]
}

fn state(seq: u64) -> Vec<u8> {
    (0..(seq * 37 % 500 + 1)).map(|i| (i * seq) as u8).collect()
}

#[test]
fn save_and_load_latest_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = SnapshotStore::open(dir.path(), 3).unwrap();
    let empty = store.load_latest().unwrap();
    assert!(empty.snapshot.is_none() && empty.skipped.is_empty());

    store.save(10, hash(1), &state(10)).unwrap();
    store.save(25, hash(2), &state(25)).unwrap();
    let load = store.load_latest().unwrap();
    let snap = load.snapshot.unwrap();
    assert_eq!(
        (snap.seq, snap.state_hash, snap.bytes),
        (25, hash(2), state(25))
    );
    assert!(load.skipped.is_empty());

    // Empty state bytes are a valid snapshot too.
    store.save(30, hash(3), &[]).unwrap();
    let snap = store.load_latest().unwrap().snapshot.unwrap();
    assert_eq!((snap.seq, snap.bytes.len()), (30, 0));
}

#[test]
fn only_the_newest_k_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = SnapshotStore::open(dir.path(), 2).unwrap();
    for seq in [5, 9, 14, 20] {
        store.save(seq, hash(seq as u8), &state(seq)).unwrap();
    }
    let seqs: Vec<u64> = store.list().unwrap().into_iter().map(|(s, _)| s).collect();
    assert_eq!(seqs, vec![20, 14]);
    assert!(matches!(
        SnapshotStore::open(dir.path(), 0),
        Err(JournalError::Config(_))
    ));
}

#[test]
fn damaged_newest_snapshot_falls_back_to_the_older_one() {
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let damages: Vec<(&str, Damage)> = vec![
        ("truncated body", Box::new(|b| b.truncate(b.len() - 1))),
        ("truncated header", Box::new(|b| b.truncate(40))),
        ("empty file", Box::new(|b| b.clear())),
        (
            "flipped state byte",
            Box::new(|b| *b.last_mut().unwrap() ^= 1),
        ),
        ("flipped hash byte", Box::new(|b| b[30] ^= 1)),
        ("flipped seq byte", Box::new(|b| b[12] ^= 1)),
        ("bad magic", Box::new(|b| b[0] = b'X')),
        ("extra byte", Box::new(|b| b.push(0))),
    ];
    for (what, damage) in damages {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path(), 5).unwrap();
        store.save(100, hash(1), &state(100)).unwrap();
        let newest = store.save(200, hash(2), &state(200)).unwrap();
        let mut bytes = fs::read(&newest).unwrap();
        damage(&mut bytes);
        fs::write(&newest, &bytes).unwrap();

        let load = store.load_latest().unwrap();
        let snap = load.snapshot.expect(what);
        assert_eq!(
            (snap.seq, snap.state_hash, snap.bytes),
            (100, hash(1), state(100)),
            "{what}"
        );
        assert_eq!(load.skipped.len(), 1, "{what}");
        assert_eq!(load.skipped[0].path, newest, "{what}");
    }
}

#[test]
fn no_valid_snapshot_reports_all_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let store = SnapshotStore::open(dir.path(), 5).unwrap();
    let a = store.save(1, hash(1), b"a").unwrap();
    let b = store.save(2, hash(2), b"b").unwrap();
    fs::write(&a, b"junk").unwrap();
    fs::write(&b, b"").unwrap();
    let load = store.load_latest().unwrap();
    assert!(load.snapshot.is_none());
    let skipped: Vec<_> = load.skipped.into_iter().map(|s| s.path).collect();
    assert_eq!(skipped, vec![b, a]);
}

#[test]
fn a_leftover_temp_file_is_ignored_and_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = SnapshotStore::open(dir.path(), 5).unwrap();
    store.save(7, hash(7), &state(7)).unwrap();
    // A crash between write and rename leaves a temp file of a newer snapshot.
    let tmp = dir.path().join("00000000000000000009.snapshot.tmp");
    fs::write(&tmp, b"half a snapshot").unwrap();
    let load = store.load_latest().unwrap();
    assert_eq!(load.snapshot.unwrap().seq, 7);
    assert!(load.skipped.is_empty());
    store.save(8, hash(8), &state(8)).unwrap();
    assert!(!tmp.exists());
    assert_eq!(store.load_latest().unwrap().snapshot.unwrap().seq, 8);
}
