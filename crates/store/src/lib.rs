//! Bourse read models: a projector that turns the core's events into SQL rows, and the
//! queries the API serves from them.
//!
//! The read side is a projection, never the source of truth: if the database is lost it is
//! rebuilt by projecting the journal from sequence 1 (see [`Store::project`]). Two backends
//! sit behind one [`Store`]: SQLite (default; WAL, `synchronous=NORMAL`, foreign keys, busy
//! timeout) and PostgreSQL. Both run the same SQL text; each has its own migrations
//! (`migrations/sqlite`, `migrations/postgres`), applied on connect.
//!
//! Every money or size column is a BIGINT count of ticks, lots or minor units exactly as the
//! model has it; decimal strings belong to the API edge. Values above `i64::MAX` are refused
//! (`StoreError::OutOfRange`), never truncated.

pub mod audit;
mod candles;
mod db;
mod error;
mod live;
pub mod metrics;
mod notifications;
mod projector;
mod queries;
mod rows;
pub mod statement;

pub use audit::{AuditEntry, AuditOutcome, AuditQuery, AuditRecord, AuditVerification};
pub use candles::{Candle, Interval, UnknownInterval};
pub use error::{Result, StoreError};
pub use live::LiveMarket;
pub use notifications::{DeadLetterRow, NotificationRow, PriceAlertRow};
pub use queries::{FillQuery, OrderQuery, StatusFilter, MAX_PAGE};
pub use rows::{
    ApiKeyRow, AssetRow, BalanceHistoryRow, BalanceRow, DepositRow, EventPos, FillRow, Liquidity,
    MarketRow, OrderReason, OrderRow, Ticker24h, TickerWindow, TradeRow, UserRow, WithdrawalRow,
    WithdrawalStatus,
};

use db::Backend;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// A connection pool to the read-model database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

impl Store {
    /// Connects and migrates. `url` is `sqlite://path?mode=rwc` (or `sqlite::memory:`) or
    /// `postgres://…` / `postgresql://…`.
    pub async fn connect(url: &str) -> Result<Store> {
        let backend = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            // Each connection to an in-memory database is a database of its own.
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts.clone())
                .await?;
            SQLITE_MIGRATIONS.run(&write).await?;
            let read = if in_memory {
                write.clone()
            } else {
                SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(opts)
                    .await?
            };
            Backend::Sqlite { read, write }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new().max_connections(8).connect(url).await?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        Ok(Store { backend })
    }

    pub fn kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite { .. } => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// A read that touches the database file or server (the migrations table), for
    /// `/health`: `Err` when the database cannot answer.
    pub async fn ping(&self) -> Result<()> {
        const SQL: &str = "SELECT COUNT(*) FROM _sqlx_migrations";
        match &self.backend {
            Backend::Sqlite { read, .. } => {
                sqlx::query(SQL).execute(read).await?;
            }
            Backend::Postgres(p) => {
                sqlx::query(SQL).execute(p).await?;
            }
        }
        Ok(())
    }

    /// Closes every pooled connection (waits for queries in flight).
    pub async fn close(&self) {
        self.backend.close().await;
    }
}
