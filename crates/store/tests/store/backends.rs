//! The two backends: SQLite and PostgreSQL agree on a long stream; bad URLs and an
//! unreachable server are errors.

use crate::common;
use crate::common::fixtures::*;
use bourse_store::*;

/// One longer stream into both backends, in different batch sizes: every query agrees.
#[tokio::test]
async fn sqlite_and_postgres_agree_on_a_long_stream() {
    let j = market_stream(2024, 1500);
    let now = j.cmds.last().unwrap().1;
    let lite = common::TestDb::new(common::Kind::Sqlite).await;
    let pg = common::TestDb::new(common::Kind::Postgres).await;
    for chunk in j.cmds.chunks(64) {
        lite.store.project(chunk).await.unwrap();
    }
    for chunk in j.cmds.chunks(500) {
        pg.store.project(chunk).await.unwrap();
    }
    let a = dump(&lite.store, 6, now).await;
    let b = dump(&pg.store, 6, now).await;
    lite.drop().await;
    pg.drop().await;
    assert_eq!(a.last_seq, 1500);
    assert!(a.trades.iter().map(Vec::len).sum::<usize>() > 100);
    assert!(a.pending.len() + a.withdrawals.iter().map(Vec::len).sum::<usize>() > 5);
    assert_eq!(a, b);
}

#[tokio::test]
async fn a_bad_url_is_refused() {
    assert!(matches!(
        Store::connect("mysql://x").await,
        Err(StoreError::UnsupportedUrl)
    ));
}

#[tokio::test]
async fn postgres_unreachable_is_an_error() {
    let err = Store::connect("postgres://postgres@127.0.0.1:1/none")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)));
    assert_eq!(
        err.to_string(),
        "database error",
        "no detail leaks into the message"
    );
}
