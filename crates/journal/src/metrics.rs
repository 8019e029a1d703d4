//! The file journal's figures (through the `metrics` facade; no-ops without a recorder).
//! Timed around the `fdatasync` only: that is the part of a group commit the disk sets.

pub const FSYNC_SECONDS: &str = "bourse_journal_fsync_duration_seconds";
pub const WRITTEN_BYTES: &str = "bourse_journal_written_bytes_total";

/// Describes the families this crate records (help text on `/metrics`).
pub fn describe() {
    metrics::describe_histogram!(
        FSYNC_SECONDS,
        metrics::Unit::Seconds,
        "Time of one journal fdatasync (one per group-committed batch)."
    );
    metrics::describe_counter!(
        WRITTEN_BYTES,
        metrics::Unit::Bytes,
        "Bytes appended to the file journal."
    );
}
