//! Publishing one batch, and finding out what a failed one left in the stream.
//!
//! Rules:
//! - The batch goes out pipelined; every acknowledgement must name the expected sequence.
//! - A record whose acknowledgement did not come (timeout, broken connection, no
//!   responders while the stream elects a leader, a JetStream "unavailable" answer) is
//!   **re-published with the same `Nats-Msg-Id`** and the same expectations, one record at
//!   a time from the first unconfirmed one, until `retry_for` is spent. The server's
//!   de-duplication answers a re-publish of a stored record with the original sequence.
//! - **A refusal is never taken at its word.** "Wrong last sequence/message id", a
//!   duplicate, or an acknowledgement at another sequence (on the first pass or on a
//!   re-publish) is resolved by reading the record the stream holds at that sequence and
//!   comparing it to ours ([`Batch::resolve`]), never by sequence arithmetic. After a
//!   timeout a record may have been stored once or not at all, and the records after it
//!   may or may not be, so only the stored message says whose it is:
//!   - our message id **and** our payload: stored, go on with the next record;
//!   - the id of one of this instance's *earlier* writers: a batch that failed before was
//!     stored after all (its publish was buffered by the client or its proposal was still
//!     in the stream's log when the quorum returned). Not fencing: the batch fails (none
//!     of it can land, see below) and [`super::NatsJournal::recover`] hands those records
//!     back to be applied;
//!   - anything else (another writer's id, or our id on another payload): fenced.
//! - Why nothing of a refused batch can land later: every record expects the sequence
//!   before it, and every record after the first also the message id of the batch's
//!   previous record. Once a sequence holds another message, a record aimed at it and
//!   every record chained behind it are refused forever.
//! - Whatever fails poisons the journal; [`super::NatsJournal::recover`] later reads what
//!   the stream holds past the last confirmed record and hands it back if it is this
//!   instance's own (a batch can be stored even though its acknowledgement was lost).

use crate::Seq;
use async_nats::jetstream::{self, context::Publish, context::PublishErrorKind};
use std::time::{Duration, Instant};

/// One batch to publish after record `base`.
pub(super) struct Batch<'a> {
    pub js: &'a jetstream::Context,
    pub subject: &'a str,
    pub stream: &'a str,
    pub journal_id: &'a str,
    pub writer: &'a str,
    /// Writer ids this instance used before `writer`: records under them are its own
    /// (see the module doc).
    pub past_writers: &'a [String],
    pub base: Seq,
    pub retry_for: Duration,
}

/// What one publish (or the check of a refused one) came to.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Stored,
    Retry(String),
    Fail(String),
}

fn transient(kind: PublishErrorKind) -> bool {
    !matches!(
        kind,
        PublishErrorKind::WrongLastSequence | PublishErrorKind::WrongLastMessageId
    )
}

/// Whose record a stored message is, from its `Nats-Msg-Id` and payload.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Holder {
    /// Our record: our id for this sequence and our payload.
    Ours,
    /// A record of one of this instance's earlier writers (a failed batch stored late).
    EarlierOwn(String),
    /// Another writer's record, or our id on a payload that is not ours.
    Other(String),
}

/// Classifies the message stored at `seq` (pure, so the rules are tested without NATS).
pub(super) fn holder(
    journal_id: &str,
    writer: &str,
    past_writers: &[String],
    seq: Seq,
    ours: &[u8],
    stored_id: Option<&str>,
    stored_payload: &[u8],
) -> Holder {
    let id = stored_id.unwrap_or_default();
    if id == super::message_id(journal_id, writer, seq) {
        if stored_payload == ours {
            Holder::Ours
        } else {
            Holder::Other(format!("{id} (our id, another payload)"))
        }
    } else if past_writers
        .iter()
        .any(|w| id == super::message_id(journal_id, w, seq))
    {
        Holder::EarlierOwn(id.to_owned())
    } else if id.is_empty() {
        Holder::Other("a message without an id".into())
    } else {
        Holder::Other(id.to_owned())
    }
}

impl Batch<'_> {
    fn id(&self, seq: Seq) -> String {
        super::message_id(self.journal_id, self.writer, seq)
    }

    fn message(&self, seq: Seq, payload: bytes::Bytes) -> Publish {
        let mut publish = Publish::build()
            .payload(payload)
            .message_id(self.id(seq))
            .expected_last_sequence(seq - 1);
        if seq > self.base + 1 {
            publish = publish.expected_last_message_id(self.id(seq - 1));
        }
        publish
    }

    /// Publishes the batch as records `base + 1 ..`; `Err` is the reason it failed.
    pub async fn publish(&self, payloads: Vec<bytes::Bytes>) -> Result<(), String> {
        let subject = self.subject.to_owned();
        let mut acks = Vec::with_capacity(payloads.len());
        let mut unconfirmed: Option<(usize, String)> = None;
        for (i, payload) in payloads.iter().enumerate() {
            let seq = self.base + 1 + i as Seq;
            match self
                .js
                .send_publish(subject.clone(), self.message(seq, payload.clone()))
                .await
            {
                Ok(ack) => acks.push(ack),
                Err(e) => {
                    unconfirmed = Some((i, format!("publishing record {seq}: {e}")));
                    break;
                }
            }
        }
        for (i, ack) in acks.into_iter().enumerate() {
            let seq = self.base + 1 + i as Seq;
            let refusal = match ack.await {
                Ok(ack) if !ack.duplicate && ack.sequence == seq => continue,
                Ok(ack) if ack.duplicate => format!("answered as a duplicate of {}", ack.sequence),
                Ok(ack) => format!("stored at stream sequence {}", ack.sequence),
                Err(e) if transient(e.kind()) => {
                    unconfirmed = Some((i, format!("acknowledgement of record {seq}: {e}")));
                    break;
                }
                Err(e) => e.to_string(),
            };
            match self.resolve(seq, &payloads[i], &refusal).await {
                Outcome::Stored => {}
                Outcome::Fail(e) => return Err(e),
                Outcome::Retry(e) => {
                    unconfirmed = Some((i, format!("checking record {seq}: {e}")));
                    break;
                }
            }
        }
        let Some((from, first_error)) = unconfirmed else {
            return Ok(());
        };
        tracing::warn!(error = %first_error, "journal: re-publishing unconfirmed records");
        let deadline = Instant::now() + self.retry_for;
        let mut backoff = Duration::from_millis(50);
        for (i, payload) in payloads.into_iter().enumerate().skip(from) {
            let seq = self.base + 1 + i as Seq;
            loop {
                match self.republish(seq, payload.clone()).await {
                    Outcome::Stored => break,
                    Outcome::Fail(e) => return Err(e),
                    Outcome::Retry(e) if Instant::now() >= deadline => {
                        return Err(format!(
                            "record {seq} not confirmed within {:?} ({first_error}; last: {e})",
                            self.retry_for
                        ))
                    }
                    Outcome::Retry(_) => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_millis(500));
                    }
                }
            }
        }
        Ok(())
    }

    async fn republish(&self, seq: Seq, payload: bytes::Bytes) -> Outcome {
        let ack = match self
            .js
            .send_publish(self.subject.to_owned(), self.message(seq, payload.clone()))
            .await
        {
            Ok(ack) => ack,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let refusal = match ack.await {
            Ok(ack) if !ack.duplicate && ack.sequence == seq => return Outcome::Stored,
            // A duplicate is normally the server answering for our original publish; the
            // stored message says whether it is (see `resolve`).
            Ok(ack) if ack.duplicate => format!("answered as a duplicate of {}", ack.sequence),
            Ok(ack) => format!("stored at stream sequence {}", ack.sequence),
            Err(e) if transient(e.kind()) => return Outcome::Retry(e.to_string()),
            Err(e) => e.to_string(),
        };
        self.resolve(seq, &payload, &refusal).await
    }

    /// Record `seq` was refused or answered oddly (`refusal`): decides from what the
    /// stream holds at `seq` (module doc).
    async fn resolve(&self, seq: Seq, payload: &[u8], refusal: &str) -> Outcome {
        let msg = match stored(self.js, self.stream, seq).await {
            Ok(msg) => msg,
            // Unreadable (or not there: the stream ends before it): no verdict yet.
            Err(read) => return Outcome::Retry(format!("record {seq} {refusal}; {read}")),
        };
        let id = msg
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str());
        match holder(
            self.journal_id,
            self.writer,
            self.past_writers,
            seq,
            payload,
            id,
            &msg.payload,
        ) {
            Holder::Ours => Outcome::Stored,
            Holder::EarlierOwn(id) => Outcome::Fail(format!(
                "record {seq} {refusal}: the stream holds this node's own earlier record                  there ({id}), a failed batch stored after all; recovering it"
            )),
            Holder::Other(id) => Outcome::Fail(format!(
                "record {seq} refused (fenced: another writer holds it, {id}): {refusal}"
            )),
        }
    }
}

/// The stored record `seq`.
pub(super) async fn stored(
    js: &jetstream::Context,
    stream: &str,
    seq: Seq,
) -> Result<jetstream::message::StreamMessage, String> {
    let stream = js
        .get_stream(stream)
        .await
        .map_err(|e| format!("stream {stream}: {e}"))?;
    stream
        .get_raw_message(seq)
        .await
        .map_err(|e| format!("reading record {seq}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::{holder, Holder};

    fn who(stored_id: Option<&str>, stored_payload: &[u8]) -> Holder {
        let past = ["w1".to_owned(), "w2".to_owned()];
        holder("j", "w3", &past, 16, b"ours", stored_id, stored_payload)
    }

    #[test]
    fn our_id_and_payload_is_ours() {
        assert_eq!(who(Some("j-w3-16"), b"ours"), Holder::Ours);
    }

    #[test]
    fn an_earlier_writer_of_this_instance_is_its_own_late_record() {
        // The failure seen under load: a failed batch stored after `recover()` had read
        // the stream's end. Its records are this node's, not another writer's.
        assert_eq!(
            who(Some("j-w1-16"), b"whatever it held"),
            Holder::EarlierOwn("j-w1-16".into())
        );
        assert_eq!(
            who(Some("j-w2-16"), b"ours"),
            Holder::EarlierOwn("j-w2-16".into())
        );
    }

    #[test]
    fn anything_else_is_another_writers() {
        // Another instance, another journal, another sequence, no id at all.
        for id in [
            Some("j-x-16"),
            Some("k-w3-16"),
            Some("j-w3-15"),
            Some("j-w1-17"),
            None,
        ] {
            assert!(matches!(who(id, b"ours"), Holder::Other(_)), "{id:?}");
        }
        // Our id on a payload that is not ours is never taken as stored.
        assert!(matches!(who(Some("j-w3-16"), b"other"), Holder::Other(_)));
    }
}
