//! Journal retention: once snapshots are on disk, the file journal's segments wholly
//! before the oldest kept snapshot are deleted; a restart and `bourse verify` still
//! reach the same state from what is left; a lost read-model database is then refused
//! with what to do (it cannot be rebuilt from a pruned journal); `prune_journal = false`
//! keeps every segment.

mod common;

use bourse::Config;
use common::{start, test_config, Client};
use std::path::Path;
use std::time::Duration;

fn config(dir: &Path, prune: bool) -> Config {
    let mut c = test_config(dir, None);
    c.limits.enabled = false;
    c.snapshot_every = 40;
    c.snapshots_keep = 2;
    c.journal_segment_bytes = 4096;
    c.prune_journal = prune;
    c
}

/// The first sequence of each segment file, oldest first.
fn segments(dir: &Path) -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(dir.join("journal"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".journal")?.parse().ok()
        })
        .collect();
    out.sort_unstable();
    out
}

/// Deposits until `done` holds for the data dir (snapshots are written in the
/// background, and pruning happens at the batch after one is on disk).
async fn deposit_until(c: &Client, admin: &str, dir: &Path, done: impl Fn(&Path) -> bool) {
    for _ in 0..2000 {
        if done(dir) {
            return;
        }
        c.deposit(admin, "alice", "USD", "1").await;
    }
    panic!("never reached: segments {:?}", segments(dir));
}

async fn usd(c: &Client, token: &str) -> String {
    common::balance(&c.balances(token).await, "USD").0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_before_the_oldest_snapshot_go_and_the_state_survives() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path(), true)).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    deposit_until(&c, &admin, dir.path(), |d| {
        segments(d).first().is_some_and(|&first| first > 1) && segments(d).len() >= 2
    })
    .await;
    let before = usd(&c, &alice).await;
    let committed = app.state.seq.status().committed_seq();
    app.shutdown().await;

    // Every kept snapshot can still be replayed forward: the oldest one's sequence is
    // past what was removed.
    let first = segments(dir.path())[0];
    let oldest_snapshot: u64 = std::fs::read_dir(dir.path().join("snapshots"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.split('.').next()?.parse().ok()
        })
        .min()
        .expect("a snapshot");
    assert!(
        first <= oldest_snapshot + 1,
        "{first} > {oldest_snapshot} + 1"
    );

    let cfg = config(dir.path(), true);
    let engine = cfg.engine();
    let v = tokio::task::spawn_blocking(move || bourse_engine::recovery::verify(&engine))
        .await
        .unwrap()
        .expect("verify a pruned journal");
    assert_eq!((v.last_seq, v.invariants.as_str()), (committed, "ok"));

    let app = start(cfg.clone()).await;
    let c = Client::new(app.addr);
    let alice = c.login("alice", "password123").await;
    assert_eq!(usd(&c, &alice).await, before, "the state after a restart");
    app.shutdown().await;

    // Without the read models, the journal alone cannot rebuild them any more.
    std::fs::remove_file(dir.path().join("bourse.db")).unwrap();
    let _ = std::fs::remove_file(dir.path().join("bourse.db-wal"));
    let _ = std::fs::remove_file(dir.path().join("bourse.db-shm"));
    let err = match bourse::start(cfg, Default::default()).await {
        Ok(_) => panic!("started without a way to rebuild the read models"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("pruned"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pruning_every_segment_stays() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path(), false)).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let _alice = c.trader("alice").await;
    deposit_until(&c, &admin, dir.path(), |d| {
        segments(d).len() >= 4 && std::fs::read_dir(d.join("snapshots")).unwrap().count() >= 2
    })
    .await;
    // A few more batches: pruning, were it on, would have run by now.
    for _ in 0..10 {
        c.deposit(&admin, "alice", "USD", "1").await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(segments(dir.path())[0], 1, "{:?}", segments(dir.path()));
    app.shutdown().await;
}
