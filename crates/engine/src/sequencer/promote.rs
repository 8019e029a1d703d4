//! A standby's promotion and the re-drain of a new leader (see [`crate::standby`]): on
//! the sequencer thread, which alone applies records and owns the journal.

use super::SequencerThread;
use bourse_journal::{Journal, Seq};
use std::sync::atomic::Ordering;

impl SequencerThread {
    /// Re-reads the journal's end and applies every record up to it (see
    /// [`Journal::resync`]); how many. `Err` leaves the journal poisoned.
    pub(super) fn drain(&mut self) -> Result<usize, String> {
        let Some(journal) = self.journal.as_mut() else {
            return Err("no journal".into());
        };
        let end = journal.resync().map_err(|e| e.to_string())?;
        if end < self.last_seq {
            return Err(format!(
                "the stream ends at {end} but this node applied {}: records are missing",
                self.last_seq
            ));
        }
        let records = journal
            .read_from(self.last_seq + 1)
            .map_err(|e| e.to_string())?
            .take((end - self.last_seq) as usize)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let n = records.len();
        for (seq, command) in records {
            self.apply_replicated(seq, command);
        }
        match self.status.poisoned() {
            Some(gap) if self.last_seq != end => Err(gap),
            _ if self.last_seq != end => Err(format!("drained to {}, not {end}", self.last_seq)),
            _ => Ok(n),
        }
    }

    /// A standby's promotion: the journal becomes this node's, drained to its end (what
    /// the follower had not delivered yet), the ledger checked, then writes go on at the
    /// next sequence, fenced on the stream's end. `Err`: it stays a non-writing standby.
    pub(super) fn promote(&mut self, journal: Box<dyn Journal>) -> Result<(Seq, [u8; 32]), String> {
        self.journal = Some(journal);
        let drained = self.drain().and_then(|n| {
            self.core
                .check_invariants()
                .map_err(|e| format!("ledger invariants: {e}"))?;
            Ok(n)
        });
        match drained {
            Ok(n) => {
                let hash = self.core.state_hash();
                self.status.follower.store(false, Ordering::Release);
                tracing::warn!(last_seq = self.last_seq, drained = n, state_hash = %hex::encode(hash),
                    "promoted: this node now writes the journal");
                Ok((self.last_seq, hash))
            }
            Err(e) => {
                self.journal = None;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{spawn, Outputs, Request, SequencerConfig, SequencerError};
    use crate::leader::LeaderGate;
    use bourse_core::{Core, CoreConfig};
    use bourse_journal::{Journal, JournalError, RecordIter, Seq};
    use bourse_model::{Command, CommandKind, Role};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    use tokio::sync::oneshot;

    /// A stream shared by writers, fenced on its end like JetStream's expected last
    /// sequence; `recover` refuses another writer's records as the NATS journal does.
    struct Stream {
        records: Arc<Mutex<Vec<Command>>>,
        last: Seq,
        poisoned: Option<String>,
    }

    impl Journal for Stream {
        fn append(&mut self, cmds: &[Command]) -> Result<Seq, JournalError> {
            let mut r = self.records.lock().unwrap();
            if r.len() as Seq != self.last {
                let reason = format!("wrong last sequence {}", r.len());
                self.poisoned = Some(reason.clone());
                return Err(JournalError::Unavailable { reason });
            }
            r.extend(cmds.iter().cloned());
            self.last = r.len() as Seq;
            Ok(self.last)
        }
        fn last_seq(&self) -> Seq {
            self.last
        }
        fn read_from(&self, from: Seq) -> Result<RecordIter<'_>, JournalError> {
            let r = self.records.lock().unwrap().clone();
            let start = from.max(1);
            Ok(Box::new(
                r.into_iter()
                    .enumerate()
                    .map(|(i, c)| (i as Seq + 1, c))
                    .filter(move |(s, _)| *s >= start)
                    .map(Ok),
            ))
        }
        fn poisoned(&self) -> Option<&str> {
            self.poisoned.as_deref()
        }
        fn recover(&mut self) -> Result<Vec<(Seq, Command)>, JournalError> {
            Err(JournalError::Unavailable {
                reason: "a record of another writer".into(),
            })
        }
        fn resync(&mut self) -> Result<Seq, JournalError> {
            self.last = self.records.lock().unwrap().len() as Seq;
            self.poisoned = None;
            Ok(self.last)
        }
    }

    fn user(name: &str) -> CommandKind {
        CommandKind::RegisterUser {
            username: name.into(),
            password_hash: "x".into(),
            role: Role::Trader,
        }
    }

    fn record(seq: u64, name: &str) -> Command {
        let mut c = Command::new(seq, user(name));
        c.ts = bourse_model::Timestamp(seq);
        c
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_promoted_standby_drains_to_the_end_and_adopts_a_straddling_record() {
        let records = Arc::new(Mutex::new(vec![record(1, "a"), record(2, "b")]));
        let gate = Arc::new(LeaderGate::standby());
        let (ptx, _prx) = crate::feed::channel("projector", 1 << 16);
        let (seq, _join) = spawn(
            Core::new(CoreConfig::default()),
            None,
            0,
            0,
            SequencerConfig {
                batch_limit: 16,
                queue_capacity: 64,
                snapshot_every: 0,
                prune_journal: false,
                feed_capacity: 1 << 16,
                leader: Some(gate.clone()),
            },
            Outputs {
                projector: ptx,
                snapshots: None,
            },
        )
        .unwrap();
        // standby: the follower delivered record 1 only; writes name the leader.
        let tx = seq.raw_sender();
        tx.send(Request::Replicated {
            seq: 1,
            command: record(1, "a"),
        })
        .await
        .unwrap();
        gate.set_leader(Some("http://a:8080".into()));
        assert_eq!(
            seq.submit(user("x")).await.unwrap_err(),
            SequencerError::NotLeader(Some("http://a:8080".into()))
        );

        // draining: the lease is ours; the promotion applies record 2 first.
        gate.renewed(Some(Instant::now() + Duration::from_secs(60)));
        let journal = Stream {
            records: records.clone(),
            last: 0,
            poisoned: None,
        };
        let (reply, rx) = oneshot::channel();
        tx.send(Request::Promote {
            journal: Box::new(journal),
            reply,
        })
        .await
        .unwrap();
        let (at, hash) = rx.await.unwrap().unwrap();
        let mut replay = Core::new(CoreConfig::default());
        replay.apply(&record(1, "a"));
        replay.apply(&record(2, "b"));
        assert_eq!((at, hash), (2, replay.state_hash()));

        // active: the old active's late append lands at 3 after the drain. Our first
        // append is fenced (outcome unknown: 503), then the node re-drains and writes at 4.
        records.lock().unwrap().push(record(3, "c"));
        assert!(matches!(
            seq.submit(user("d")).await,
            Err(SequencerError::JournalUnavailable(_))
        ));
        let deadline = Instant::now() + Duration::from_secs(10);
        let applied = loop {
            match seq.submit(user("d")).await {
                Ok(a) => break a,
                Err(SequencerError::JournalUnavailable(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("the new leader did not resume: {e}"),
            }
        };
        assert_eq!(applied.seq, 4);
        let users = seq
            .query(|c| ["a", "b", "c", "d"].map(|n| c.user_by_name(n).is_some()))
            .await
            .unwrap();
        assert_eq!(users, [true; 4], "the stray record is part of the state");
        assert_eq!(records.lock().unwrap().len(), 4);
    }
}
