//! The read-model suite. Every test in `both!` runs against SQLite and PostgreSQL.

#[path = "../common/mod.rs"]
mod common;

mod backends;
mod batches;
mod market_data;
mod orders;
mod pagination;
mod projection;

const T0: u64 = 1_700_000_000_000;
