//! The NATS JetStream journal against the real server (127.0.0.1:4222 unless
//! `BOURSE_TEST_NATS_URL` says otherwise). An unreachable server fails these tests.

mod common;

use async_nats::jetstream::{self, context::Publish};
use bourse_journal::{message_id, Journal, JournalError, NatsConfig, NatsJournal, Seq};
use bourse_model::Command;
use common::commands;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

fn url() -> String {
    std::env::var("BOURSE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A config for a stream of its own, deleted when the guard drops.
struct TestStream {
    config: NatsConfig,
}

impl TestStream {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_micros()
        );
        let mut config = NatsConfig::new(url());
        config.stream = format!("BOURSE_TEST_{}_{unique}", tag.to_uppercase());
        config.subject = format!("bourse.test.{tag}.{unique}");
        config.journal_id = format!("test-{tag}-{unique}");
        Self { config }
    }

    fn connect(&self) -> NatsJournal {
        NatsJournal::connect(self.config.clone())
            .unwrap_or_else(|e| panic!("NATS at {} must be reachable: {e}", self.config.url))
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let (url, name) = (self.config.url.clone(), self.config.stream.clone());
        self.block_on(async move {
            if let Ok(client) = async_nats::connect(url).await {
                let _ = jetstream::new(client).delete_stream(name).await;
            }
        });
    }
}

fn read_all(j: &NatsJournal, from: Seq) -> Vec<(Seq, Command)> {
    j.read_from(from)
        .expect("read_from")
        .collect::<Result<Vec<_>, _>>()
        .expect("replay")
}

fn numbered(from: Seq, cmds: &[Command]) -> Vec<(Seq, Command)> {
    (from..).zip(cmds.iter().cloned()).collect()
}

#[test]
fn unreachable_server_is_an_error() {
    let mut config = NatsConfig::new("nats://127.0.0.1:1");
    config.timeout = Duration::from_secs(2);
    assert!(matches!(
        NatsJournal::connect(config),
        Err(JournalError::Nats(_))
    ));
}

#[test]
fn append_replay_and_reconnect() {
    let ts = TestStream::new("replay");
    let all = commands(0..300);
    {
        let mut j = ts.connect();
        assert_eq!(j.last_seq(), 0);
        assert_eq!(read_all(&j, 1), vec![]);
        assert_eq!(j.append(&all[..1]).unwrap(), 1);
        assert_eq!(j.append(&[]).unwrap(), 1);
        assert_eq!(j.append(&all[1..200]).unwrap(), 200);
        assert_eq!(read_all(&j, 1), numbered(1, &all[..200]));
        assert_eq!(read_all(&j, 150), numbered(150, &all[149..200]));
        assert_eq!(read_all(&j, 201), vec![]);
    }
    // A new connection (a restarted server) picks up the sequence from the stream.
    let mut j = ts.connect();
    assert_eq!(j.last_seq(), 200);
    assert_eq!(j.append(&all[200..]).unwrap(), 300);
    assert_eq!(read_all(&j, 0), numbered(1, &all));
    assert_eq!(j.poisoned(), None);
}

#[test]
fn republishing_a_message_id_does_not_duplicate() {
    let ts = TestStream::new("dedup");
    let all = commands(0..10);
    let mut j = ts.connect();
    j.append(&all).unwrap();

    // A writer retrying record 7 (same id) after a lost acknowledgement.
    let id = message_id(&ts.config.journal_id, j.writer_id(), 7);
    let ack = republish(&ts, &all[6], id);
    assert!(ack.duplicate, "the server must recognise the id");
    assert_eq!(ack.sequence, 7, "and answer with the original sequence");

    let mut j2 = ts.connect();
    assert_eq!(j2.last_seq(), 10);
    assert_eq!(read_all(&j2, 1), numbered(1, &all));
    assert_eq!(j2.append(&commands(10..11)).unwrap(), 11);

    // The control: the same record under an id the server has not seen does land.
    let ack = republish(&ts, &all[6], "never-seen".into());
    assert!(!ack.duplicate);
    assert_eq!(ack.sequence, 12);
    drop(j);
}

/// Publishes `cmd` the way the journal encodes it (postcard), with message id `id`.
fn republish(ts: &TestStream, cmd: &Command, id: String) -> jetstream::publish::PublishAck {
    let (url, subject) = (ts.config.url.clone(), ts.config.subject.clone());
    let payload = bytes::Bytes::from(postcard::to_allocvec(cmd).unwrap());
    ts.block_on(async move {
        let js = jetstream::new(async_nats::connect(url).await.unwrap());
        js.send_publish(subject, Publish::build().payload(payload).message_id(id))
            .await
            .unwrap()
            .await
            .unwrap()
    })
}

#[test]
fn a_stale_writer_is_fenced_and_poisoned() {
    let ts = TestStream::new("fence");
    let mut a = ts.connect();
    let mut b = ts.connect();
    a.append(&commands(0..3)).unwrap();

    // b still believes the stream is empty (an expectation of last sequence 0 is
    // enforced): its records would land out of place.
    let err = b.append(&commands(100..102)).unwrap_err();
    assert!(err.to_string().contains("wrong last sequence"), "{err}");
    assert!(b.poisoned().is_some());
    assert!(matches!(
        b.append(&commands(100..101)),
        Err(JournalError::Unavailable { .. })
    ));

    // A writer that falls behind between connecting and appending: its first record is
    // refused by sequence, and its second must not slip in behind a's record.
    let mut c = ts.connect();
    assert_eq!(c.last_seq(), 3);
    a.append(&commands(3..4)).unwrap();
    let err = c.append(&commands(200..202)).unwrap_err();
    assert!(err.to_string().contains("wrong last sequence"), "{err}");
    a.append(&commands(4..5)).unwrap();

    assert_eq!(
        read_all(&a, 1),
        numbered(1, &commands(0..5)),
        "no stale record landed"
    );

    // Promotion: resync reads the real end and clears the poison.
    assert_eq!(b.resync().unwrap(), 5);
    assert_eq!(b.poisoned(), None);
    assert_eq!(b.append(&commands(5..7)).unwrap(), 7);
    assert_eq!(read_all(&b, 1), numbered(1, &commands(0..7)));
}

#[test]
fn a_failed_batch_stored_late_is_recovered_not_taken_for_another_writer() {
    let ts = TestStream::new("late");
    let mut j = ts.connect();
    j.append(&commands(0..5)).unwrap();
    // A batch failed (no acknowledgement) and `recover()` read the stream's end at 5 ...
    let earlier = j.writer_id().to_owned();
    assert_eq!(j.recover().unwrap(), vec![]);
    assert_ne!(j.writer_id(), earlier, "a new writer id after a recovery");
    // ... but its records were still on their way (a client buffering them across a
    // reconnect, or a stream committing them once its quorum is back) and land now.
    let late = commands(100..102);
    for (seq, cmd) in (6..).zip(&late) {
        let ack = republish(&ts, cmd, message_id(&ts.config.journal_id, &earlier, seq));
        assert_eq!((ack.sequence, ack.duplicate), (seq, false));
    }
    // The next append finds sequence 6 taken by this node's own earlier record: it
    // fails (nothing of it lands), and not as fencing.
    let err = j.append(&commands(5..7)).unwrap_err().to_string();
    assert!(
        err.contains("own earlier record") && !err.contains("fenced"),
        "{err}"
    );
    assert!(j.poisoned().is_some());
    // `recover()` hands the late records back, in order; writing goes on after them.
    assert_eq!(j.recover().unwrap(), numbered(6, &late));
    assert_eq!(j.append(&commands(5..7)).unwrap(), 9);
    let mut want = commands(0..5);
    want.extend(late);
    want.extend(commands(5..7));
    assert_eq!(read_all(&j, 1), numbered(1, &want));
}

#[test]
fn our_message_id_on_another_payload_is_not_taken_as_stored() {
    let ts = TestStream::new("samepid");
    let mut j = ts.connect();
    j.append(&commands(0..3)).unwrap();
    // Sequence 4 holds a message under the id j is about to use, with other content
    // (the server will answer j's publish as a duplicate or by sequence): the stored
    // message decides, and it is not j's command.
    let id = message_id(&ts.config.journal_id, j.writer_id(), 4);
    assert_eq!(republish(&ts, &commands(50..51)[0], id).sequence, 4);
    let err = j.append(&commands(3..4)).unwrap_err().to_string();
    assert!(
        err.contains("fenced") && err.contains("another payload"),
        "{err}"
    );
    assert!(j.poisoned().is_some());
}

#[test]
fn follower_replays_then_sees_new_records() {
    let ts = TestStream::new("follow");
    let all = commands(0..60);
    let mut writer = ts.connect();
    writer.append(&all[..20]).unwrap();

    let standby = ts.connect();
    let mut follower = standby.follow(5).unwrap();
    let mut got = Vec::new();
    while got.len() < 16 {
        match follower.recv_timeout(Duration::from_secs(10)).unwrap() {
            Some(rec) => got.push(rec),
            None => panic!("backlog stalled after {} records", got.len()),
        }
    }
    assert_eq!(got, numbered(5, &all[4..20]));
    assert_eq!(
        follower.recv_timeout(Duration::from_millis(300)).unwrap(),
        None,
        "nothing new yet"
    );

    for batch in all[20..].chunks(7) {
        writer.append(batch).unwrap();
    }
    let mut live = Vec::new();
    while live.len() < 40 {
        match follower.recv_timeout(Duration::from_secs(10)).unwrap() {
            Some(rec) => live.push(rec),
            None => panic!("live records stalled after {}", live.len()),
        }
    }
    assert_eq!(live, numbered(21, &all[20..]));
    assert_eq!(
        follower.recv_timeout(Duration::from_millis(300)).unwrap(),
        None
    );
}
