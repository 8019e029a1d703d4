//! The read models' figure (through the `metrics` facade; no-ops without a recorder):
//! statement latency by operation. `read` is every query outside a transaction
//! ([`crate::db::Backend`]'s fetches, timed where they run); the projector times its own
//! transactions as `project`.

pub const DB_QUERY_SECONDS: &str = "bourse_db_query_duration_seconds";

/// Times one read query (`op="read"`).
pub(crate) async fn timed_read<T>(query: impl std::future::Future<Output = T>) -> T {
    let started = std::time::Instant::now();
    let out = query.await;
    metrics::histogram!(DB_QUERY_SECONDS, "op" => "read").record(started.elapsed());
    out
}
