//! Backend dispatch: one SQL text (with `$1, $2, …` placeholders, which both SQLite and
//! PostgreSQL accept) bound to a small dynamic argument list and run on whichever pool the
//! store holds. Row types derive `sqlx::FromRow` generically, so one struct decodes from
//! either backend. sqlx caches each SQL text as a prepared statement per connection.

use crate::error::Result;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use std::borrow::Cow;

/// One bound parameter. Integers are `i64` (BIGINT); money never travels as a float.
#[derive(Debug, Clone)]
pub(crate) enum Arg<'a> {
    I64(i64),
    OptI64(Option<i64>),
    Str(Cow<'a, str>),
    OptStr(Option<Cow<'a, str>>),
    Bool(bool),
}

/// A row type that decodes from both backends.
pub(crate) trait AnyRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> AnyRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::I64(v) => q.bind(*v),
                Arg::OptI64(v) => q.bind(*v),
                Arg::Str(s) => q.bind(s.as_ref()),
                Arg::OptStr(s) => q.bind(s.as_deref()),
                Arg::Bool(b) => q.bind(*b),
            };
        }
        q
    }};
}

#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// SQLite allows one writer at a time: every transaction goes through `write`, a pool
    /// of one connection, so writers (projector, inbox, …) queue for it instead of
    /// failing with "database is locked" after the busy timeout; reads use `read`.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

impl Backend {
    pub(crate) async fn fetch_all<R: AnyRow>(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<R>> {
        crate::metrics::timed_read(self.fetch_all_untimed(sql, args)).await
    }

    async fn fetch_all_untimed<R: AnyRow>(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<R>> {
        Ok(match self {
            Backend::Sqlite { read: p, .. } => {
                bind_args!(sqlx::query_as::<_, R>(sql), args)
                    .fetch_all(p)
                    .await?
            }
            Backend::Postgres(p) => {
                bind_args!(sqlx::query_as::<_, R>(sql), args)
                    .fetch_all(p)
                    .await?
            }
        })
    }

    pub(crate) async fn fetch_optional<R: AnyRow>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<R>> {
        crate::metrics::timed_read(self.fetch_optional_untimed(sql, args)).await
    }

    async fn fetch_optional_untimed<R: AnyRow>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<R>> {
        Ok(match self {
            Backend::Sqlite { read: p, .. } => {
                bind_args!(sqlx::query_as::<_, R>(sql), args)
                    .fetch_optional(p)
                    .await?
            }
            Backend::Postgres(p) => {
                bind_args!(sqlx::query_as::<_, R>(sql), args)
                    .fetch_optional(p)
                    .await?
            }
        })
    }

    pub(crate) async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            // IMMEDIATE takes the write lock up front. A deferred transaction that reads
            // first and writes later fails at once with SQLITE_BUSY (no busy wait) when
            // another connection (projector vs. notification inbox) wrote in between.
            Backend::Sqlite { write, .. } => Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    pub(crate) async fn close(&self) {
        match self {
            Backend::Sqlite { read, write } => {
                write.close().await;
                read.close().await;
            }
            Backend::Postgres(p) => p.close().await,
        }
    }
}

/// An open transaction on either backend; dropped without `commit` it rolls back.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) async fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64> {
        Ok(match self {
            Tx::Sqlite(t) => bind_args!(sqlx::query(sql), args)
                .execute(&mut **t)
                .await?
                .rows_affected(),
            Tx::Postgres(t) => bind_args!(sqlx::query(sql), args)
                .execute(&mut **t)
                .await?
                .rows_affected(),
        })
    }

    pub(crate) async fn fetch_optional<R: AnyRow>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<R>> {
        Ok(match self {
            Tx::Sqlite(t) => {
                bind_args!(sqlx::query_as::<_, R>(sql), args)
                    .fetch_optional(&mut **t)
                    .await?
            }
            Tx::Postgres(t) => {
                bind_args!(sqlx::query_as::<_, R>(sql), args)
                    .fetch_optional(&mut **t)
                    .await?
            }
        })
    }

    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// Converts an unsigned model value to the database's BIGINT.
pub(crate) fn int(v: u64, what: &'static str) -> Result<i64> {
    i64::try_from(v).map_err(|_| crate::StoreError::OutOfRange(what))
}

/// Reads a BIGINT back into an unsigned model value.
pub(crate) fn uint(v: i64, table: &'static str) -> Result<u64> {
    u64::try_from(v).map_err(|_| crate::StoreError::Corrupt(table))
}

/// Inserts rows of `cols` values each (`flat` holds them row after row) in as few
/// statements as the backends' parameter limits allow. `head` is `INSERT INTO t (c1, …)
/// VALUES`; `tail` follows the value lists (e.g. an `ON CONFLICT` clause).
pub(crate) async fn insert_many(
    tx: &mut Tx,
    head: &str,
    tail: &str,
    cols: usize,
    flat: &[Arg<'_>],
) -> Result<()> {
    // Below SQLite's 32766 and PostgreSQL's 65535 bound parameters per statement.
    const MAX_PARAMS: usize = 30_000;
    // Measured on a journal rebuild: PostgreSQL gains from fewer round trips up to a few
    // hundred rows; in-process SQLite gets slower with very long statements.
    let max_rows = match tx {
        Tx::Sqlite(_) => 32,
        Tx::Postgres(_) => 256,
    };
    debug_assert_eq!(flat.len() % cols, 0);
    let per = (MAX_PARAMS / cols).clamp(1, max_rows);
    for chunk in flat.chunks(per * cols) {
        let mut sql = String::with_capacity(head.len() + tail.len() + chunk.len() * 6);
        sql.push_str(head);
        for (n, _) in chunk.iter().enumerate() {
            let sep = match (n % cols, n) {
                (0, 0) => " (",
                (0, _) => "), (",
                _ => ", ",
            };
            sql.push_str(sep);
            sql.push('$');
            sql.push_str(&(n + 1).to_string());
        }
        sql.push(')');
        sql.push_str(tail);
        tx.exec(&sql, chunk).await?;
    }
    Ok(())
}
