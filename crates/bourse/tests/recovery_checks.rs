//! The consistency checks of start-up (`bourse_engine::recovery`), each against a real
//! data dir that was built by trading through the app and then damaged the way an
//! operator or a disk could damage it:
//! - a read-model database that is ahead of the journal (it belongs to another one);
//! - a snapshot past the end of the journal;
//! - a snapshot whose bytes pass the snapshot file's checksum but do not hash to its
//!   recorded state hash — when it is restored, and when the journal is replayed past it;
//! - the real binary on a journal with a corrupt record in the middle (no start, file and
//!   offset on stderr) and with a torn tail (starts, keeps every complete record).
//!
//! Every refused start must also leave the data as it found it.

mod common;

use bourse::{Config, StartError, StartOptions};
use bourse_engine::recovery::RecoveryError;
use bourse_journal::{Snapshot, SnapshotStore};
use bourse_store::Store;
use common::{start, test_config, Client, ADMIN_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The test config without rate limits (the builds below trade faster than a
/// standard-tier trader may).
fn config(data_dir: &Path, database_url: Option<String>) -> Config {
    Config {
        limits: bourse_gateway::limits::LimitsConfig {
            enabled: false,
            ..Default::default()
        },
        ..test_config(data_dir, database_url)
    }
}

/// Trades a little in `config.data_dir`: a market, a funded trader, `orders` resting
/// orders. Returns the admin's view of the core and the trader's token.
async fn build(config: Config, orders: u32) -> (Value, String) {
    let app = start(config).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    c.deposit(&admin, "alice", "USD", "1000000").await;
    for i in 0..orders {
        c.limit_order(&alice, "buy", &format!("{}.00", 50 + i % 40), "0.1")
            .await;
    }
    let state = admin_state(&c).await;
    app.shutdown().await;
    (state, alice)
}

async fn admin_state(c: &Client) -> Value {
    let (s, v) = c.get("/api/v1/admin/state", Some(&c.admin().await)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn last_seq(state: &Value) -> u64 {
    state["last_seq"].as_u64().unwrap()
}

/// Starts the app expecting recovery to refuse; returns the message of the typed
/// `RecoveryError::Inconsistent`.
async fn refused(config: Config) -> String {
    match bourse::start(config, StartOptions::default()).await {
        Ok(app) => {
            app.shutdown().await;
            panic!("start-up succeeded on damaged data")
        }
        Err(StartError::Recovery(RecoveryError::Inconsistent(msg))) => msg,
        Err(e) => panic!("expected RecoveryError::Inconsistent, got {e:?}"),
    }
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rw", dir.join("bourse.db").display())
}

async fn projected(dir: &Path) -> u64 {
    let store = Store::connect(&sqlite_url(dir)).await.unwrap();
    let p = store.last_applied_seq().await.unwrap();
    store.close().await;
    p
}

fn delete_sqlite(dir: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("bourse.db{suffix}")));
    }
}

/// Our own view of the snapshot directory: keeps everything, so saving a tampered copy
/// prunes nothing.
fn snapshots(dir: &Path) -> SnapshotStore {
    SnapshotStore::open(dir.join("snapshots"), 1000).unwrap()
}

fn newest_snapshot(dir: &Path) -> Snapshot {
    let load = snapshots(dir).load_latest().unwrap();
    assert!(load.skipped.is_empty(), "{:?}", load.skipped);
    load.snapshot
        .expect("trading past snapshot_every leaves a snapshot")
}

/// Rewrites the newest snapshot in place with the same state bytes but another state
/// hash. The file is well-formed (its checksum covers the wrong hash), so only the
/// comparison with the core can catch it.
fn tamper_newest_snapshot_hash(dir: &Path) -> Snapshot {
    let s = newest_snapshot(dir);
    let mut wrong = s.state_hash;
    wrong[0] ^= 0xff;
    snapshots(dir).save(s.seq, wrong, &s.bytes).unwrap();
    let reread = newest_snapshot(dir);
    assert_eq!(
        (reread.seq, reread.state_hash, &reread.bytes),
        (s.seq, wrong, &s.bytes),
        "the tampered snapshot must pass the file checks"
    );
    reread
}

/// Every file under `dir` with its bytes, to show a refused start changed nothing.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if p
            .extension()
            .is_some_and(|x| x == "journal" || x == "snapshot")
        {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_ahead_of_the_journal_stops_start_up() {
    let long = tempfile::tempdir().unwrap();
    let short = tempfile::tempdir().unwrap();
    let (long_state, _) = build(config(long.path(), None), 30).await;
    let (short_state, _) = build(config(short.path(), None), 2).await;
    let (p, l) = (last_seq(&long_state), last_seq(&short_state));
    assert!(p > l, "{p} vs {l}");
    assert_eq!(projected(long.path()).await, p);

    let journal_before = files(short.path());
    let msg = refused(config(short.path(), Some(sqlite_url(long.path())))).await;
    assert!(
        msg.contains(&format!("projected up to sequence {p}"))
            && msg.contains(&format!("journal ends at {l}"))
            && msg.contains("delete it to rebuild"),
        "{msg}"
    );
    // Neither side was touched: the database still says P, the journal is as it was.
    assert_eq!(projected(long.path()).await, p);
    assert_eq!(files(short.path()), journal_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_past_the_end_of_the_journal_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = build(config(dir.path(), None), 60).await;
    let last = last_seq(&state);
    let s = newest_snapshot(dir.path());
    let ahead = last + 10;
    let path = snapshots(dir.path())
        .save(ahead, s.state_hash, &s.bytes)
        .unwrap();

    let before = files(dir.path());
    let msg = refused(config(dir.path(), None)).await;
    assert!(
        msg.contains(&path.display().to_string())
            && msg.contains(&format!(
                "is at sequence {ahead} but the journal ends at {last}"
            )),
        "{msg}"
    );
    assert_eq!(files(dir.path()), before);
    assert_eq!(projected(dir.path()).await, last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_snapshot_that_does_not_hash_to_its_state_hash_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = build(config(dir.path(), None), 60).await;
    let s = tamper_newest_snapshot_hash(dir.path());
    // The database is up to date (P ≥ S), so start-up restores the core from S.
    assert!(projected(dir.path()).await >= s.seq);

    let before = files(dir.path());
    let msg = refused(config(dir.path(), None)).await;
    assert!(
        msg.contains(&s.path.display().to_string())
            && msg.contains("does not hash to its recorded state hash"),
        "{msg}"
    );
    assert_eq!(files(dir.path()), before);
    assert_eq!(projected(dir.path()).await, last_seq(&state));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_that_does_not_reach_the_snapshots_state_hash_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    build(config(dir.path(), None), 60).await;
    let s = tamper_newest_snapshot_hash(dir.path());
    // Without the database the core is replayed from sequence 1 and compared with the
    // snapshot when the replay passes it.
    delete_sqlite(dir.path());

    let before = files(dir.path());
    let msg = refused(config(dir.path(), None)).await;
    assert!(
        msg.contains(&format!(
            "state after replaying to {} differs from the snapshot's state hash",
            s.seq
        )),
        "{msg}"
    );
    assert_eq!(files(dir.path()), before);
}

// ---- the real binary --------------------------------------------------------------

/// `(start, length)` of every record of a journal segment (see the format in
/// `bourse_journal`'s file module: a 24-byte segment header, then records of a 16-byte
/// header — CRC32C, length, sequence — and the payload).
fn record_spans(segment: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 24;
    while pos < segment.len() {
        let len = u32::from_le_bytes(segment[pos + 4..pos + 8].try_into().unwrap()) as usize;
        out.push((pos, 16 + len));
        pos += 16 + len;
    }
    assert_eq!(pos, segment.len(), "the segment ends with a whole record");
    out
}

fn only_segment(dir: &Path) -> PathBuf {
    let segs: Vec<_> = std::fs::read_dir(dir.join("journal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "journal"))
        .collect();
    assert_eq!(segs.len(), 1, "{segs:?}");
    segs.into_iter().next().unwrap()
}

fn serve(data_dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bourse"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("BOURSE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bourse starts")
}

/// Collects a pipe's lines on a thread; the handle yields them when the pipe closes.
fn lines(pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        std::io::BufReader::new(pipe)
            .lines()
            .map_while(Result::ok)
            .collect()
    })
}

/// The log's colour codes out, so fields read `key=value`.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        if ch == '\u{1b}' {
            // CSI: ESC '[' parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(ch);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_a_journal_corrupt_in_the_middle_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    build(config(dir.path(), None), 20).await;
    let seg = only_segment(dir.path());
    let mut bytes = std::fs::read(&seg).unwrap();
    let spans = record_spans(&bytes);
    let (at, len) = spans[spans.len() / 2];
    bytes[at + len - 1] ^= 0x40; // last payload byte: the checksum no longer matches
    std::fs::write(&seg, &bytes).unwrap();

    let mut child = serve(dir.path());
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("bourse serve kept running on a corrupt journal");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().unwrap();
    let stderr = strip_ansi(&stderr.join().unwrap().join("\n"));
    assert!(!status.success(), "{status}");
    assert!(
        !stdout.iter().any(|l| l.starts_with("listening on")),
        "{stdout:?}"
    );
    assert!(
        stderr.contains(&format!("{}, byte offset {at}", seg.display()))
            && stderr.contains("checksum"),
        "stderr should name {} and offset {at}:\n{stderr}",
        seg.display()
    );
    // Nothing was "repaired": the damaged file is exactly as we left it.
    assert_eq!(std::fs::read(&seg).unwrap(), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_cuts_a_torn_tail_and_keeps_every_complete_record() {
    let dir = tempfile::tempdir().unwrap();
    // No snapshots: one at the last record would (rightly) be refused once that record
    // is cut, and a real torn tail is never acknowledged, so never snapshotted.
    let config = Config {
        snapshot_every: 0,
        ..config(dir.path(), None)
    };
    let (before_last, alice) = build(config.clone(), 10).await;
    // One more order: the record the "crash" will tear.
    let app = start(config).await;
    let c = Client::new(app.addr);
    let torn = c.limit_order(&alice, "buy", "42.00", "0.1").await;
    assert_eq!(last_seq(&admin_state(&c).await), last_seq(&before_last) + 1);
    app.shutdown().await;

    let seg = only_segment(dir.path());
    let bytes = std::fs::read(&seg).unwrap();
    let &(at, len) = record_spans(&bytes).last().unwrap();
    std::fs::write(&seg, &bytes[..at + len / 2]).unwrap();
    // The read models had projected the torn record; a real torn tail never was (it was
    // never acknowledged), so start them over from the journal.
    delete_sqlite(dir.path());

    let mut child = serve(dir.path());
    let stderr = lines(child.stderr.take().unwrap());
    let addr = common::listening_addr(child.stdout.take().unwrap(), Duration::from_secs(60));
    let check = async move {
        let addr = addr.expect("the server starts after cutting the torn tail");
        let c = Client::new(addr);
        let state = admin_state(&c).await;
        assert_eq!(state["last_seq"], before_last["last_seq"], "{state}");
        assert_eq!(state["state_hash"], before_last["state_hash"], "{state}");
        let alice = c.login("alice", "password123").await;
        let (s, v) = c.get("/api/v1/orders?limit=1000", Some(&alice)).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let ids: Vec<_> = v["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].clone())
            .collect();
        assert_eq!(ids.len(), 10, "every complete record's order is there: {v}");
        assert!(!ids.contains(&torn["id"]), "the torn order is gone: {v}");
        // The journal continues right after the last complete record.
        let (s, v) = c
            .post(
                "/api/v1/orders",
                Some(&alice),
                json!({"market": "BTC-USD", "side": "buy", "type": "limit",
                       "price": "43.00", "quantity": "0.1"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(last_seq(&admin_state(&c).await), last_seq(&before_last) + 1);
    };
    let outcome = tokio::spawn(check).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let stderr = strip_ansi(&stderr.join().unwrap().join("\n"));
    if let Err(e) = outcome {
        eprintln!("server stderr:\n{stderr}");
        std::panic::resume_unwind(e.into_panic());
    }
    assert!(
        stderr.contains("torn tail truncated")
            && stderr.contains(&seg.display().to_string())
            && stderr.contains(&format!("offset={at}")),
        "{stderr}"
    );
}
