//! The crate's one error type. Database detail is logged where it happens and kept as the
//! error's `source`, but never in its message, so an API can show `to_string()` safely.

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database url: expected sqlite:… or postgres://…")]
    UnsupportedUrl,
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The projector was handed a command whose sequence is not the next one.
    #[error("event batch out of sequence: expected {expected}, got {got}")]
    SequenceGap { expected: u64, got: u64 },
    /// A value does not fit the database's signed 64-bit integer.
    #[error("{0} is out of range for the database")]
    OutOfRange(&'static str),
    /// The event stream contradicts what was projected before (a bug upstream or a
    /// database that does not belong to this journal).
    #[error("inconsistent event stream: {0}")]
    Inconsistent(String),
    /// A stored row could not be read back into its typed form.
    #[error("corrupt row in {0}")]
    Corrupt(&'static str),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "database error");
        StoreError::Database(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        tracing::error!(error = %e, "database migration failed");
        StoreError::Migrate(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
