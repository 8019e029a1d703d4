//! `bourse serve --journal nats --standby`: a follower that takes over when the leader's
//! lease ends, with no operator action.
//!
//! The takeover is a small state machine:
//!
//! ```text
//!   standby ──lease key gone, `create` won──▶ draining ──drained, ledger ok──▶ active
//!      ▲                                                                      │
//!      └──────────── (a restart by the supervisor) ◀── deposed ◀──────────────┘
//! ```
//!
//! - **standby**: the follower ([`crate::follower`]) applies every record of the stream;
//!   reads are answered from that state; writes get `NOT_LEADER` naming the URL in the
//!   lease key (read every TTL/10 while trying `create`, which only succeeds once the key
//!   expired or was released).
//! - **draining**: the lease is taken and renewed from now on ([`LeaseHolder::start`]).
//!   A fresh journal connection reads the stream's end; the sequencer
//!   ([`Request::Promote`]) applies whatever the follower had not delivered yet up to it,
//!   checks the ledger's invariants and logs its state hash. Writes still get
//!   `NOT_LEADER` (no leader known: retry shortly).
//! - **active**: the sequencer writes from the next sequence, every record expecting the
//!   stream's end (the publish fencing). An old active's append that straddled the
//!   takeover can land after the drain: the first append is then refused, and the
//!   sequencer re-drains (applies the stray record, which its writer may have
//!   acknowledged, so nothing acknowledged is lost) and goes on (`try_recover`).
//! - **deposed**: another node's URL in the key ([`crate::leader`]): writes are refused
//!   at once and `bourse serve` exits non-zero, for the supervisor to restart it with
//!   `--standby` (rejoining in-process would mean rebuilding a core the journal no longer
//!   matches; a restart replays it from the stream, which is simple and obviously right).
//!
//! A promotion that fails (NATS gone mid-drain, a broken ledger) leaves the node holding
//! the lease without writing: it releases the lease and goes back to standby.

use crate::leader::{LeaderGate, LeaseHolder, LeaseSettings};
use crate::sequencer::Request;
use bourse_journal::{Lease, NatsConfig, NatsJournal};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Where the standby keeps the lease once promoted (released on a clean shutdown).
pub type HolderSlot = Arc<Mutex<Option<LeaseHolder>>>;

/// Starts the standby thread: it waits for the lease and promotes the sequencer behind
/// `tx`. `gate` is the sequencer's lease gate ([`LeaderGate::standby`]).
pub fn spawn(
    settings: LeaseSettings,
    nats: NatsConfig,
    gate: Arc<LeaderGate>,
    tx: mpsc::Sender<Request>,
    slot: HolderSlot,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("bourse-standby".into())
        .spawn(move || run(&settings, &nats, &gate, &tx, &slot))?;
    Ok(())
}

fn run(
    settings: &LeaseSettings,
    nats: &NatsConfig,
    gate: &Arc<LeaderGate>,
    tx: &mpsc::Sender<Request>,
    slot: &HolderSlot,
) {
    let ttl = settings.config.ttl;
    loop {
        if tx.is_closed() {
            return; // the sequencer stopped: shutting down
        }
        let lease = wait_for_lease(settings, gate, tx);
        let Some(lease) = lease else { return };
        let waited = Instant::now();
        tracing::warn!(url = %settings.advertise_url, "standby took the leader lease: draining");
        let holder = match LeaseHolder::start(lease, gate.clone(), ttl) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "standby: cannot renew the lease");
                continue;
            }
        };
        match promote(nats, gate, tx) {
            Ok((seq, hash)) => {
                tracing::warn!(last_seq = seq, state_hash = %hex::encode(hash),
                    took = ?waited.elapsed(), "standby promoted: serving writes");
                *slot.lock().expect("holder slot") = Some(holder);
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "standby: promotion failed; back to standby");
                holder.release();
            }
        }
    }
}

/// Tries `create` on the key every TTL/10 until it wins; meanwhile the gate names the
/// holder. `None`: the sequencer stopped.
fn wait_for_lease(
    settings: &LeaseSettings,
    gate: &LeaderGate,
    tx: &mpsc::Sender<Request>,
) -> Option<Lease> {
    let every = (settings.config.ttl / 10).max(Duration::from_millis(20));
    let mut lease = loop {
        match Lease::connect(settings.config.clone(), settings.advertise_url.clone()) {
            Ok(l) => break l,
            Err(e) => {
                tracing::warn!(error = %e, "standby: lease bucket unavailable");
                std::thread::sleep(every);
            }
        }
        if tx.is_closed() {
            return None;
        }
    };
    loop {
        match lease.try_acquire() {
            Ok(true) => return Some(lease),
            Ok(false) => gate.set_leader(lease.leader().ok().flatten()),
            Err(e) => tracing::debug!(error = %e, "standby: lease unavailable"),
        }
        if tx.is_closed() {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// Draining: a journal connection of its own (fencing on the stream's end) handed to the
/// sequencer, which applies the rest of the stream and starts writing.
fn promote(
    nats: &NatsConfig,
    gate: &LeaderGate,
    tx: &mpsc::Sender<Request>,
) -> Result<(bourse_journal::Seq, [u8; 32]), String> {
    let journal = NatsJournal::connect(nats.clone()).map_err(|e| e.to_string())?;
    if !gate.holds() {
        return Err("the lease lapsed while connecting the journal".into());
    }
    let (reply, rx) = oneshot::channel();
    tx.blocking_send(Request::Promote {
        journal: Box::new(journal),
        reply,
    })
    .map_err(|_| "the sequencer stopped".to_string())?;
    rx.blocking_recv()
        .map_err(|_| "the sequencer stopped".to_string())?
}
