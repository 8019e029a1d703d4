//! Rebuild throughput: projecting a journal from seq 1 in large batches. Ignored by default
//! (it measures, it asserts little); run with
//! `cargo test -p bourse-store --release --test rebuild_speed -- --ignored --nocapture`.

mod common;

use common::fixtures::market_stream;
use common::{Kind, TestDb};
use std::time::Instant;

async fn measure(kind: Kind, n: usize) {
    let j = market_stream(5, n);
    let events: usize = j.cmds.iter().map(|c| c.2.len()).sum();
    let db = TestDb::new(kind).await;
    let t = Instant::now();
    for chunk in j.cmds.chunks(2000) {
        db.store.project(chunk).await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(db.store.last_applied_seq().await.unwrap(), n as u64);
    db.drop().await;
    println!(
        "{kind:?}: {n} commands ({events} events) in {secs:.2} s = {:.0} commands/s, {:.0} events/s",
        n as f64 / secs,
        events as f64 / secs
    );
}

#[tokio::test]
#[ignore]
async fn rebuild_speed() {
    measure(Kind::Sqlite, 20_000).await;
    measure(Kind::Postgres, 20_000).await;
}
