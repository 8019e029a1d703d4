//! Trading figures derived from applied batches, recorded through the `metrics` facade
//! (the binary decides whether a recorder exists; without one every call is a no-op).
//!
//! Rules:
//! - Counts come from the events the core produced, after the journal has the batch, so
//!   every channel (REST, WebSocket, admin, the demo bot, expiry timers) is counted once
//!   and a refused batch (journal down) is not counted at all.
//! - A batch is folded into a small table first and each counter is touched once per
//!   (family, market, code): the sequencer thread pays per batch, not per event.
//! - The core is pure and reads no clock; the apply latency is timed around `apply` by
//!   the sequencer ([`crate::sequencer`]).

use crate::feed::AppliedBatch;
use bourse_core::Core;
use bourse_model::{CommandKind, Event, MarketId, RejectCode};
use rustc_hash::FxHashMap;

pub const ORDERS_ACCEPTED: &str = "bourse_orders_accepted_total";
pub const ORDERS_REJECTED: &str = "bourse_orders_rejected_total";
pub const TRADES: &str = "bourse_trades_total";
pub const CANCELS: &str = "bourse_orders_canceled_total";
pub const APPLY_SECONDS: &str = "bourse_core_apply_duration_seconds";
pub const BATCH_COMMANDS: &str = "bourse_journal_batch_commands";
pub const SNAPSHOT_SECONDS: &str = "bourse_snapshot_duration_seconds";
/// The journal's families, for layers above that name them (the engine depends on it).
pub use bourse_journal::metrics::{FSYNC_SECONDS, WRITTEN_BYTES};
pub use bourse_store::metrics::DB_QUERY_SECONDS;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    Accepted,
    Rejected(RejectCode),
    Trade,
    Cancel,
}

/// Counts one applied batch into the trading counters.
pub fn record_batch(core: &Core, batch: &AppliedBatch) {
    let mut counts: FxHashMap<(Family, MarketId), u64> = FxHashMap::default();
    for c in &batch.commands {
        if let CommandKind::PlaceOrder(o) = &c.kind {
            let family = match c.events.first() {
                Some(Event::Rejected { code, .. }) => Family::Rejected(*code),
                _ => Family::Accepted,
            };
            *counts.entry((family, o.market)).or_default() += 1;
        }
        for e in &c.events {
            let key = match e {
                Event::Trade { market, .. } => (Family::Trade, *market),
                Event::OrderCanceled { market, .. } => (Family::Cancel, *market),
                _ => continue,
            };
            *counts.entry(key).or_default() += 1;
        }
    }
    for ((family, market), n) in counts {
        // An order for an unknown market is rejected without one: its id is the label.
        let symbol = core
            .market(market)
            .map_or_else(|| format!("#{}", market.0), |m| m.spec.symbol.to_string());
        match family {
            Family::Accepted => metrics::counter!(ORDERS_ACCEPTED, "market" => symbol).increment(n),
            Family::Rejected(code) => metrics::counter!(
                ORDERS_REJECTED, "market" => symbol, "code" => code.as_str()
            )
            .increment(n),
            Family::Trade => metrics::counter!(TRADES, "market" => symbol).increment(n),
            Family::Cancel => metrics::counter!(CANCELS, "market" => symbol).increment(n),
        }
    }
}

/// Describes the families this crate and the journal record (help text on `/metrics`).
pub fn describe() {
    use metrics::{describe_counter, describe_histogram, Unit};
    bourse_journal::metrics::describe();
    describe_counter!(ORDERS_ACCEPTED, "Orders the core accepted, by market.");
    describe_counter!(
        ORDERS_REJECTED,
        "Orders the core rejected, by market and reject code."
    );
    describe_counter!(TRADES, "Trades, by market.");
    describe_counter!(
        CANCELS,
        "Orders canceled (by their owner, cancel-all, STP, kill switch), by market."
    );
    describe_histogram!(
        APPLY_SECONDS,
        Unit::Seconds,
        "Time the core takes to apply one command (risk, matching, settlement)."
    );
    describe_histogram!(BATCH_COMMANDS, "Commands per journal batch (group commit).");
    describe_histogram!(
        SNAPSHOT_SECONDS,
        Unit::Seconds,
        "Time to hash and write one snapshot."
    );
    describe_histogram!(
        DB_QUERY_SECONDS,
        Unit::Seconds,
        "Read-model database statements, by operation (project: one projector transaction; read: one query)."
    );
}
