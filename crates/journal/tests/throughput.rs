//! Rough throughput numbers (not assertions of speed): run with
//! `cargo test -p bourse-journal --release --test throughput -- --ignored --nocapture`.
//! The real benchmark lives in `bourse-bench journal`.

mod common;

use bourse_journal::{FileJournal, FileJournalConfig, Journal};
use bourse_model::{Command, CommandKind, MarketId, NewOrder, Price, Qty, Side, UserId};
use std::time::Instant;

fn order(i: u64) -> Command {
    Command::new(
        1_700_000_000_000 + i,
        CommandKind::PlaceOrder(Box::new(NewOrder::limit(
            UserId(i % 1000),
            MarketId(1),
            if i & 1 == 0 { Side::Buy } else { Side::Sell },
            Price(10_000 + i % 100),
            Qty(1 + i % 10),
        ))),
    )
}

#[test]
#[ignore]
fn append_and_replay_rates() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = FileJournal::open(FileJournalConfig::new(dir.path())).unwrap();
    let mut next = 0u64;
    for batch in [1usize, 16, 128, 1024] {
        let cmds: Vec<Command> = (0..batch as u64).map(|i| order(next + i)).collect();
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed().as_secs_f64() < 1.0 {
            j.append(&cmds).unwrap();
            n += batch;
        }
        next += n as u64;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "append batch {batch:5}: {:10.0} commands/s",
            n as f64 / secs
        );
    }
    let total = 1_000_000u64;
    let cmds: Vec<Command> = (0..4096).map(order).collect();
    while j.last_seq() < total {
        j.append(&cmds).unwrap();
    }
    let start = Instant::now();
    let mut count = 0u64;
    for rec in j.read_from(1).unwrap() {
        rec.unwrap();
        count += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "replay {count} commands: {:.3} s, {:.0} commands/s",
        secs,
        count as f64 / secs
    );
    let start = Instant::now();
    drop(j);
    let (j, _) = FileJournal::open(FileJournalConfig::new(dir.path())).unwrap();
    println!(
        "open (validate {} records): {:.3} s",
        j.last_seq(),
        start.elapsed().as_secs_f64()
    );
}

#[test]
#[ignore]
fn nats_append_and_replay_rates() {
    use bourse_journal::{NatsConfig, NatsJournal};
    let url =
        std::env::var("BOURSE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let mut config = NatsConfig::new(url);
    config.stream = format!("BOURSE_TEST_THROUGHPUT_{}", std::process::id());
    config.subject = format!("bourse.test.throughput.{}", std::process::id());
    // A cluster (several servers in the URL): BOURSE_TEST_NATS_REPLICAS=3.
    if let Ok(r) = std::env::var("BOURSE_TEST_NATS_REPLICAS") {
        config.replicas = r.parse().expect("BOURSE_TEST_NATS_REPLICAS is a number");
    }
    let mut j = NatsJournal::connect(config).unwrap();
    let mut next = 0u64;
    for batch in [1usize, 16, 128, 1024] {
        let cmds: Vec<Command> = (0..batch as u64).map(|i| order(next + i)).collect();
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed().as_secs_f64() < 1.0 {
            j.append(&cmds).unwrap();
            n += batch;
        }
        next += n as u64;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "nats append batch {batch:5}: {:10.0} commands/s",
            n as f64 / secs
        );
    }
    let start = Instant::now();
    let mut count = 0u64;
    for rec in j.read_from(1).unwrap() {
        rec.unwrap();
        count += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("nats replay {count}: {:.0} commands/s", count as f64 / secs);
    j.delete_stream().unwrap();
}
