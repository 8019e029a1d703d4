//! Batches: idempotent re-projection, sequence gaps, and a failing batch that writes
//! nothing.

use crate::both;
use crate::common::fixtures::*;
use crate::T0;
use bourse_model::*;
use bourse_store::*;

both!(
    projecting_twice_changes_nothing,
    a_sequence_gap_is_refused_and_writes_nothing,
    unknown_references_fail_the_whole_batch,
);

async fn projecting_twice_changes_nothing(s: Store) {
    let j = market_stream(7, 300);
    let now = j.cmds.last().unwrap().1;
    let last = s.project(&j.cmds).await.unwrap();
    assert_eq!(last, 300);
    let first = dump(&s, 6, now).await;
    assert!(first.trades[0].len() > 10, "the stream should trade");
    // The whole batch again, then overlapping halves: all already applied.
    assert_eq!(s.project(&j.cmds).await.unwrap(), 300);
    assert_eq!(s.project(&j.cmds[100..200]).await.unwrap(), 300);
    assert_eq!(dump(&s, 6, now).await, first);

    // Same stream in overlapping chunks on a second run is covered by the parity test; here:
    // an empty batch is a no-op.
    let empty: &[(u64, Timestamp, Vec<Event>)] = &[];
    assert_eq!(s.project(empty).await.unwrap(), 300);
}

async fn a_sequence_gap_is_refused_and_writes_nothing(s: Store) {
    let j = Journal::setup(2, T0);
    s.project(&j.cmds[..3]).await.unwrap();
    // Seq 5 and 6 without 4: the batch fails as a whole.
    let err = s.project(&j.cmds[4..]).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::SequenceGap {
                expected: 4,
                got: 5
            }
        ),
        "{err:?}"
    );
    assert_eq!(s.last_applied_seq().await.unwrap(), 3);
    assert!(s.markets().await.unwrap().is_empty());
    // Overlapping retry from 2 continues.
    assert_eq!(s.project(&j.cmds[1..]).await.unwrap(), j.cmds.len() as u64);
    assert_eq!(s.markets().await.unwrap().len(), 2);
}

async fn unknown_references_fail_the_whole_batch(s: Store) {
    let mut j = Journal::setup(1, T0);
    j.push(
        T0,
        vec![accepted(info(1, 1, BTC_USD, Side::Buy, 100, 1, T0))],
    );
    s.project(&j.cmds).await.unwrap();
    let before = s.last_applied_seq().await.unwrap();
    let mut bad = j.clone();
    bad.push(
        T0 + 1,
        vec![accepted(info(2, 1, BTC_USD, Side::Buy, 100, 1, T0 + 1))],
    );
    bad.push(
        T0 + 2,
        vec![Event::OrderFilled {
            order: OrderId(77),
            user: UserId(1),
            market: BTC_USD,
            filled: Qty(1),
        }],
    );
    let err = s.project(&bad.cmds).await.unwrap_err();
    assert!(matches!(err, StoreError::Inconsistent(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "inconsistent event stream: unknown order 77"
    );
    assert_eq!(s.last_applied_seq().await.unwrap(), before);
    assert!(
        s.order(OrderId(2)).await.unwrap().is_none(),
        "the failed batch was rolled back"
    );
}
