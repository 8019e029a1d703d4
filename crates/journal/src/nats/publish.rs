//! Publishing one batch, and finding out what a failed one left in the stream.
//!
//! Rules:
//! - The batch goes out pipelined; every acknowledgement must name the expected sequence.
//! - A record whose acknowledgement did not come (timeout, broken connection, no
//!   responders while the stream elects a leader, a JetStream "unavailable" answer) is
//!   **re-published with the same `Nats-Msg-Id`** and the same expectations, one record at
//!   a time from the first unconfirmed one, until `retry_for` is spent. The server's
//!   de-duplication answers a re-publish of a stored record with the original sequence.
//!   Some servers check the expected last sequence before the id: a "wrong last sequence"
//!   answer to a re-publish is resolved by reading the stored record's id.
//! - On the first pass, "wrong last sequence/message id" and a duplicate are fencing
//!   (another writer took the sequence): the batch fails at once.
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
    pub base: Seq,
    pub retry_for: Duration,
}

/// What one re-publish came to.
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
            match ack.await {
                // `append` never re-sends on this pass: a duplicate means another writer
                // already stored a (possibly different) record under this id.
                Ok(ack) if ack.duplicate => {
                    return Err(format!(
                        "record {seq} already exists in the stream (another writer?)"
                    ))
                }
                Ok(ack) if ack.sequence != seq => {
                    return Err(format!(
                        "record {seq} was stored at stream sequence {}",
                        ack.sequence
                    ))
                }
                Ok(_) => {}
                Err(e) if transient(e.kind()) => {
                    unconfirmed = Some((i, format!("acknowledgement of record {seq}: {e}")));
                    break;
                }
                Err(e) => return Err(format!("record {seq} refused (fenced): {e}")),
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
            .send_publish(self.subject.to_owned(), self.message(seq, payload))
            .await
        {
            Ok(ack) => ack,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        match ack.await {
            // A duplicate is the server answering for our original publish.
            Ok(ack) if ack.sequence == seq => Outcome::Stored,
            Ok(ack) => Outcome::Fail(format!(
                "record {seq} was stored at stream sequence {}",
                ack.sequence
            )),
            Err(e) if transient(e.kind()) => Outcome::Retry(e.to_string()),
            Err(e) => match stored_id(self.js, self.stream, seq).await {
                Ok(Some(id)) if id == self.id(seq) => Outcome::Stored,
                Ok(_) => Outcome::Fail(format!(
                    "record {seq} refused (fenced: another writer holds it): {e}"
                )),
                Err(read) => Outcome::Retry(read),
            },
        }
    }
}

/// The `Nats-Msg-Id` of the stored record `seq` (`None`: it has none).
pub(super) async fn stored_id(
    js: &jetstream::Context,
    stream: &str,
    seq: Seq,
) -> Result<Option<String>, String> {
    let msg = stored(js, stream, seq).await?;
    Ok(msg
        .headers
        .get(async_nats::header::NATS_MESSAGE_ID)
        .map(|v| v.as_str().to_owned()))
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
