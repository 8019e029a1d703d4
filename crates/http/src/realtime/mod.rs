//! What is real-time and outlives any one connection: the fan-out task ([`fanout`]),
//! the notification service, and the connection counts per address and per user that the
//! `/ws` endpoint (`crate::ws`, which has the protocol and its rules) checks; [`feed`]
//! offers the fan-out to other channels (`bourse_gateway::live`).
//!
//! It sits below the endpoint and the shared state: `crate::state` holds a [`Realtime`],
//! and `crate::ws` reaches it through that state; nothing here knows either.

pub mod fanout;
pub mod feed;

use crate::notify::Notifier;
use crate::push::{Closer, ConnId, Out, Push, Sink, WsStats};
use bourse_engine::sequencer::SequencerHandle;
use bourse_model::UserId;
use bourse_store::Store;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// WebSocket limits and timings (`[ws]` in the config file).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsConfig {
    pub ping_interval_ms: u64,
    pub idle_timeout_ms: u64,
    pub max_subscriptions: usize,
    pub max_connections_per_ip: usize,
    pub max_connections_per_user: usize,
    /// Messages a connection may have queued before it counts as a slow consumer.
    pub queue_capacity: usize,
    /// A socket write that takes longer (the peer stopped reading) drops the connection.
    pub send_timeout_ms: u64,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            ping_interval_ms: 15_000,
            idle_timeout_ms: 45_000,
            max_subscriptions: 64,
            max_connections_per_ip: 256,
            max_connections_per_user: 32,
            queue_capacity: 4096,
            send_timeout_ms: 10_000,
        }
    }
}

/// Everything real-time: the fan-out, the notification service, connection limits.
pub struct Realtime {
    pub config: WsConfig,
    pub stats: Arc<WsStats>,
    pub notifier: Arc<Notifier>,
    pub(crate) control: mpsc::Sender<fanout::Control>,
    next_conn: AtomicU64,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Authenticated connections by user: the `max_connections_per_user` count, and who
    /// to tell when a credential of that user may have been invalidated.
    per_user: Mutex<HashMap<UserId, Vec<Sink>>>,
}

impl Realtime {
    /// Subscribes to the sequencer's feeds and starts the fan-out and notification tasks.
    /// Call from inside the runtime.
    pub fn spawn(seq: SequencerHandle, store: Store, config: WsConfig) -> Arc<Realtime> {
        let (control, control_rx) = mpsc::channel(4096);
        let stats = Arc::new(WsStats::default());
        let notifier = Notifier::spawn(seq.clone(), store.clone(), stats.clone());
        let rt = Arc::new(Realtime {
            config,
            stats,
            notifier,
            control,
            next_conn: AtomicU64::new(1),
            per_ip: Mutex::new(HashMap::new()),
            per_user: Mutex::new(HashMap::new()),
        });
        fanout::spawn(seq, store, rt.clone(), control_rx);
        rt
    }

    pub(crate) fn new_sink(&self) -> (Sink, mpsc::Receiver<Out>, Arc<Closer>) {
        let (tx, rx) = mpsc::channel(self.config.queue_capacity.max(16));
        let closer = Arc::new(Closer::default());
        let sink = Sink {
            id: self.next_conn.fetch_add(1, Ordering::Relaxed),
            tx,
            closer: closer.clone(),
        };
        (sink, rx, closer)
    }

    pub(crate) fn acquire_ip(&self, ip: IpAddr) -> bool {
        let mut m = self.per_ip.lock().expect("ws ip lock");
        let n = m.entry(ip).or_insert(0);
        if *n >= self.config.max_connections_per_ip {
            return false;
        }
        *n += 1;
        true
    }

    pub(crate) fn release_ip(&self, ip: IpAddr) {
        let mut m = self.per_ip.lock().expect("ws ip lock");
        if let Some(n) = m.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&ip);
            }
        }
    }

    pub(crate) fn acquire_user(&self, user: UserId, sink: &Sink) -> bool {
        let mut m = self.per_user.lock().expect("ws user lock");
        let list = m.entry(user).or_default();
        if list.len() >= self.config.max_connections_per_user {
            return false;
        }
        list.push(sink.clone());
        true
    }

    pub(crate) fn release_user(&self, user: UserId, conn: ConnId) {
        let mut m = self.per_user.lock().expect("ws user lock");
        if let Some(list) = m.get_mut(&user) {
            list.retain(|s| s.id != conn);
            if list.is_empty() {
                m.remove(&user);
            }
        }
    }

    /// The connections authenticated as `user`, or as anyone (`None`).
    pub(crate) fn authenticated(&self, user: Option<UserId>) -> Vec<Sink> {
        let m = self.per_user.lock().expect("ws user lock");
        match user {
            Some(u) => m.get(&u).cloned().unwrap_or_default(),
            None => m.values().flatten().cloned().collect(),
        }
    }
}
