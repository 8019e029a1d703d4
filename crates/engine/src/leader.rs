//! The leader lease of the active core (`bourse serve --journal nats`), on the primitive
//! [`bourse_journal::Lease`] (a KV key with a TTL, renewed by compare-and-set).
//!
//! Protocol:
//! - **Before recovery** the active takes the lease (the key = the journal stream's name,
//!   the value = its advertised URL). If another node holds it, start-up waits up to two
//!   TTLs (the key of a holder that crashed expires after one) and then refuses to start,
//!   naming the holder: two actives never replay and write the same stream.
//! - A thread renews it every TTL/4. The sequencer consults the [`LeaderGate`] on every
//!   submit and again right before every journal append; the gate holds the lease's own
//!   validity (the time the winning write was *sent* + 2/3 TTL), so it lapses by itself
//!   when renewals stop succeeding, even while the renewal thread is stuck in a NATS call,
//!   and before the server can expire the key and let a standby in.
//! - Lapsed: commands are refused with `NOT_LEADER` (503) and `/health` is unhealthy. The
//!   thread keeps trying: a renewal succeeds while nobody else has taken the key (then the
//!   node leads again: no other writer could have written meanwhile); once the key is
//!   gone it is taken again with `create`. If another node holds it, this node is
//!   **deposed**: it keeps refusing, names the new leader, and never writes again (the
//!   binary exits, see `bourse serve`).
//! - An append already in flight when the lease lapses is covered by the journal's
//!   fencing: every record expects the sequence before it, so it cannot land behind a new
//!   leader's records, and its callers are only answered 2xx if it was stored.

use bourse_journal::{JournalError, Lease, LeaseConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the sequencer asks before it writes: does this node hold the lease right now?
#[derive(Debug)]
pub struct LeaderGate {
    state: Mutex<GateState>,
}

#[derive(Debug)]
struct GateState {
    valid_until: Option<Instant>,
    /// The holder as last read from the key (when this node is not it).
    leader: Option<String>,
    deposed: bool,
}

impl LeaderGate {
    /// A standby's gate: not valid until [`LeaseHolder::start`] renews it; `leader` is
    /// the holder's URL as last read, for `NOT_LEADER` answers.
    pub fn standby() -> Self {
        Self::new(None)
    }

    /// A standby saw `leader` in the lease key (its writes are refused naming it).
    pub fn set_leader(&self, leader: Option<String>) {
        let mut s = self.state.lock().expect("gate lock");
        if s.valid_until.is_none() && !s.deposed {
            s.leader = leader;
        }
    }

    fn new(valid_until: Option<Instant>) -> Self {
        Self {
            state: Mutex::new(GateState {
                valid_until,
                leader: None,
                deposed: false,
            }),
        }
    }

    /// `Ok` while the lease is held and valid; `Err(leader)` otherwise, with the other
    /// holder's advertised URL when one is known.
    pub fn check(&self) -> Result<(), Option<String>> {
        let s = self.state.lock().expect("gate lock");
        match s.valid_until {
            Some(t) if Instant::now() < t && !s.deposed => Ok(()),
            _ => Err(s.leader.clone()),
        }
    }

    pub fn holds(&self) -> bool {
        self.check().is_ok()
    }

    /// Another node took the lease: this one must never write again.
    pub fn deposed(&self) -> bool {
        self.state.lock().expect("gate lock").deposed
    }

    pub(crate) fn renewed(&self, valid_until: Option<Instant>) {
        let mut s = self.state.lock().expect("gate lock");
        s.valid_until = valid_until;
        s.leader = None;
    }

    fn taken_by(&self, leader: String) {
        let mut s = self.state.lock().expect("gate lock");
        s.valid_until = None;
        s.leader = Some(leader);
        s.deposed = true;
    }
}

/// The lease settings for a journal stream.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub config: LeaseConfig,
    /// This node's advertised URL (the lease's value).
    pub advertise_url: String,
}

/// The held lease and its renewal thread. Dropping it does not release the lease; call
/// [`LeaseHolder::release`] on a clean shutdown (a standby then need not wait the TTL).
pub struct LeaseHolder {
    gate: Arc<LeaderGate>,
    stop: Arc<AtomicBool>,
    join: Option<std::thread::JoinHandle<Lease>>,
}

/// Why the lease could not be taken at start-up.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "the leader lease (bucket {bucket}, key {key}) is held by {holder}: another active \
         Bourse serves this journal; stop it, or start this node with --standby"
    )]
    Held {
        bucket: String,
        key: String,
        holder: String,
    },
    #[error("leader lease: {0}")]
    Nats(#[from] JournalError),
}

impl LeaseHolder {
    /// Takes the lease (waiting up to two TTLs for a previous holder's key to expire) and
    /// starts renewing it. Blocking: call from a plain thread (`spawn_blocking`).
    pub fn acquire(settings: LeaseSettings) -> Result<Self, LeaseError> {
        let ttl = settings.config.ttl;
        let deadline = Instant::now() + ttl * 2 + Duration::from_secs(1);
        let mut lease = loop {
            match Lease::connect(settings.config.clone(), settings.advertise_url.clone()) {
                Ok(l) => break l,
                // A bucket with another TTL: waiting does not change it.
                Err(e @ JournalError::Config(_)) => return Err(e.into()),
                Err(e) if Instant::now() >= deadline => return Err(e.into()),
                Err(_) => std::thread::sleep(ttl / 4),
            }
        };
        loop {
            match lease.try_acquire() {
                Ok(true) => break,
                Ok(false) if Instant::now() >= deadline => {
                    let holder = lease
                        .leader()
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| "another node".into());
                    return Err(LeaseError::Held {
                        bucket: settings.config.bucket.clone(),
                        key: settings.config.key.clone(),
                        holder,
                    });
                }
                Err(e) if Instant::now() >= deadline => return Err(e.into()),
                _ => std::thread::sleep(ttl / 10),
            }
        }
        tracing::info!(url = %settings.advertise_url, key = %settings.config.key, "leader lease taken");
        Self::start(lease, Arc::new(LeaderGate::new(None)), ttl)
    }

    /// Starts renewing a lease just taken (`try_acquire` returned true) into `gate`,
    /// which is valid from now on: a standby's promotion.
    pub fn start(lease: Lease, gate: Arc<LeaderGate>, ttl: Duration) -> Result<Self, LeaseError> {
        gate.renewed(lease.valid_until());
        let stop = Arc::new(AtomicBool::new(false));
        let (g, s) = (gate.clone(), stop.clone());
        let join = std::thread::Builder::new()
            .name("bourse-lease".into())
            .spawn(move || renew_loop(lease, &g, &s, ttl))
            .map_err(|e| JournalError::Nats(format!("lease thread: {e}")))?;
        Ok(Self {
            gate,
            stop,
            join: Some(join),
        })
    }

    pub fn gate(&self) -> Arc<LeaderGate> {
        self.gate.clone()
    }

    /// Stops renewing and gives the lease up (after the sequencer has stopped).
    pub fn release(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(join) = self.join.take() {
            if let Ok(mut lease) = join.join() {
                if let Err(e) = lease.release() {
                    tracing::warn!(error = %e, "releasing the leader lease");
                }
            }
        }
    }
}

impl Drop for LeaseHolder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Renews every TTL/4 until `stop`; see the module doc for what a failure means.
fn renew_loop(mut lease: Lease, gate: &LeaderGate, stop: &AtomicBool, ttl: Duration) -> Lease {
    let every = ttl / 4;
    while !stop.load(Ordering::Acquire) && !gate.deposed() {
        std::thread::sleep(every);
        if stop.load(Ordering::Acquire) {
            break;
        }
        let renewed = if lease.held() {
            lease.renew()
        } else {
            // The key expired with nobody taking it: take it again.
            match lease.try_acquire() {
                Ok(true) => Ok(()),
                Ok(false) => Err(JournalError::Unavailable {
                    reason: "held by another node".into(),
                }),
                Err(e) => Err(e),
            }
        };
        match renewed {
            Ok(()) => gate.renewed(lease.valid_until()),
            Err(e) => match lease.leader() {
                // Someone else's URL in the key: it took the lease (or overwrote it). Stop
                // at once rather than at the end of this node's validity.
                Ok(Some(other)) if other != lease.holder() => {
                    tracing::error!(leader = %other, error = %e,
                        "leader lease taken by another node: this node is deposed");
                    gate.taken_by(other);
                }
                // Ours still, or gone, or unreadable: a transient failure. The gate keeps
                // the validity of the last renewal that succeeded, and lapses with it.
                _ => {
                    tracing::warn!(error = %e, still_valid = lease.valid(),
                        "leader lease renewal failed");
                    gate.renewed(lease.valid().then(|| lease.valid_until()).flatten());
                }
            },
        }
    }
    lease
}

impl LeaseSettings {
    /// The lease of the journal stream `config` writes: key = the stream's name, TTL and
    /// advertised URL from `[nats]` (default `http://{listen}`), as many replicas as the
    /// stream.
    pub fn for_journal(config: &crate::EngineConfig, listen: &str) -> Self {
        let n = &config.nats;
        let mut c = LeaseConfig::new(config.nats_url.clone(), config.nats_stream.clone());
        c.ttl = Duration::from_millis(n.lease_ttl_ms);
        c.replicas = n.replicas_for(&config.nats_url);
        // A lease call that takes longer than a third of the TTL is as good as failed.
        c.timeout = (c.ttl / 3).max(Duration::from_millis(100));
        Self {
            config: c,
            advertise_url: n
                .advertise_url
                .clone()
                .unwrap_or_else(|| format!("http://{listen}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_lapses_by_itself_and_a_deposed_node_names_the_leader() {
        let gate = LeaderGate::new(Some(Instant::now() + Duration::from_millis(50)));
        assert_eq!(gate.check(), Ok(()));
        std::thread::sleep(Duration::from_millis(60));
        // No renewal came: invalid without anyone telling it.
        assert_eq!(gate.check(), Err(None));
        gate.renewed(Some(Instant::now() + Duration::from_secs(10)));
        assert!(gate.holds());
        gate.taken_by("http://b:8080".into());
        assert_eq!(gate.check(), Err(Some("http://b:8080".into())));
        assert!(gate.deposed());
        // A deposed node never leads again, whatever its own validity says.
        gate.renewed(Some(Instant::now() + Duration::from_secs(10)));
        assert!(!gate.holds());
    }
}
