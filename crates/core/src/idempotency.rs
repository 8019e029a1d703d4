//! Idempotency keys (client order ids): remembered for a window, pruned in amortized O(1).
//!
//! Rules (the crate doc states them for callers):
//! * A key is used at time `at`: its command's `ts`, or the latest queued key's `at` if
//!   that is later. Time never runs backwards here, so the queue below stays sorted by
//!   `at` even if a journal's clock did (the sequencer's does not).
//! * A key is *live* at time `ts` while its order is open or `at + window > ts`, with the
//!   window in force at `ts` ([`CoreConfig::idempotency_window_ms`]). Only a live key is
//!   a duplicate; a key that is no longer live can be used again at once, even before it
//!   is pruned.
//! * Pruning runs after every accepted command, at its `ts` (a rejected command changes
//!   nothing, so it prunes nothing). Every key is queued once, in use order; pruning pops
//!   the keys whose window has passed: a key whose order is closed is forgotten; a key
//!   whose order is still open leaves the queue (`queued: false`) and is forgotten when
//!   the order ends. Each key is pushed once, popped at most once and forgotten once, so
//!   the work is O(1) per key and amortized O(1) per command.
//! * A queue entry whose key was used again (after it stopped being live) is stale: its
//!   target differs from the remembered one, and popping it changes nothing. Its window
//!   has passed, so the prune of the command that used the key again pops it.
//! * The queue is derived: the snapshot stores each remembered key with `at` and `queued`,
//!   and restore queues the `queued` ones sorted by `(at, user, key)`. Keys with equal
//!   `at` are popped by the same prune, and each pop depends only on its own key, so that
//!   order gives the same states as the original one.
//!
//! [`CoreConfig::idempotency_window_ms`]: crate::CoreConfig::idempotency_window_ms

use crate::{BookOps, Core};
use bourse_model::{ClientOrderId, OrderId, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// A remembered key: what it was given to and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered<T> {
    pub target: T,
    pub at: Timestamp,
    /// Waiting in the queue for its window to pass. `false`: the window passed while the
    /// target was still open; the key goes when the target ends.
    pub queued: bool,
}

/// A key as the queue holds it, with its target to tell a stale entry from a live one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum QueuedKey {
    Order(ClientOrderId, OrderId),
}

/// Remembered keys in use order (derived state, see the module doc).
#[derive(Debug, Default)]
pub(crate) struct KeyQueue {
    entries: VecDeque<(Timestamp, UserId, QueuedKey)>,
}

impl KeyQueue {
    /// The time a key used by a command at `ts` is remembered from.
    fn time_of_use(&self, ts: Timestamp) -> Timestamp {
        self.entries.back().map_or(ts, |(at, ..)| ts.max(*at))
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &(Timestamp, UserId, QueuedKey)> {
        self.entries.iter()
    }
}

/// `at + window`, the first time at which a key used at `at` is no longer live on its own.
#[inline]
fn expiry(at: Timestamp, window_ms: u64) -> u64 {
    at.0.saturating_add(window_ms)
}

impl<B: BookOps> Core<B> {
    /// Whether a remembered key is still a duplicate at `ts` (see the module doc).
    #[inline]
    pub(crate) fn key_live<T>(&self, r: &Remembered<T>, open: bool, ts: Timestamp) -> bool {
        open || expiry(r.at, self.config.idempotency_window_ms) > ts.0
    }

    /// The order a live client order id names at `ts`.
    pub(crate) fn live_client_order(
        &self,
        user: UserId,
        id: &ClientOrderId,
        ts: Timestamp,
    ) -> Option<OrderId> {
        let r = self.user_state(user).ok()?.client_ids.get(id)?;
        let open = self.orders.contains_key(&r.target);
        self.key_live(r, open, ts).then_some(r.target)
    }

    /// Remembers `id` as the client order id of the just accepted `order`, replacing a
    /// key that is no longer live.
    pub(crate) fn remember_client_order(
        &mut self,
        user: UserId,
        id: &ClientOrderId,
        order: OrderId,
        ts: Timestamp,
    ) {
        let at = self.keys.time_of_use(ts);
        let r = Remembered {
            target: order,
            at,
            queued: true,
        };
        self.user_mut(user).client_ids.insert(id.clone(), r);
        self.keys
            .entries
            .push_back((at, user, QueuedKey::Order(id.clone(), order)));
    }

    /// An order ended (filled, canceled, expired): if its key's window has already
    /// passed, the key goes now.
    #[inline]
    pub(crate) fn order_ended(&mut self, user: UserId, id: Option<&ClientOrderId>, order: OrderId) {
        let Some(id) = id else { return };
        let ids = &mut self.users[user.0 as usize - 1].client_ids;
        if ids.get(id).is_some_and(|r| r.target == order && !r.queued) {
            ids.remove(id);
        }
    }

    /// Pops every key whose window has passed at `now` (after an accepted command).
    pub(crate) fn prune_keys(&mut self, now: Timestamp) {
        let window = self.config.idempotency_window_ms;
        while let Some((at, ..)) = self.keys.entries.front() {
            if expiry(*at, window) > now.0 {
                break;
            }
            let (_, user, key) = self.keys.entries.pop_front().expect("front exists");
            let u = &mut self.users[user.0 as usize - 1];
            match key {
                QueuedKey::Order(id, order) => {
                    let Some(r) = u.client_ids.get_mut(&id) else {
                        continue;
                    };
                    if r.target != order {
                        continue; // stale: the key was used again
                    }
                    if self.orders.contains_key(&order) {
                        r.queued = false;
                    } else {
                        u.client_ids.remove(&id);
                    }
                }
            }
        }
    }

    /// Rebuilds the queue from the remembered keys (restore).
    pub(crate) fn rebuild_key_queue(&mut self) {
        let mut entries = Vec::new();
        for (i, u) in self.users.iter().enumerate() {
            let user = UserId(i as u64 + 1);
            for (id, r) in &u.client_ids {
                if r.queued {
                    entries.push((r.at, user, QueuedKey::Order(id.clone(), r.target)));
                }
            }
        }
        entries.sort_unstable();
        self.keys.entries = entries.into();
    }

    /// The queue is sorted by time and holds exactly the queued keys (plus stale
    /// entries); a key out of the queue names an open order; an open order with a client
    /// order id is remembered under it.
    pub(crate) fn check_keys(&self) -> Result<(), String> {
        let mut last = Timestamp(0);
        let mut live = 0usize;
        for (at, user, key) in self.keys.iter() {
            if *at < last {
                return Err(format!("key queue out of order at {at}"));
            }
            last = *at;
            let u = self
                .user_state(*user)
                .map_err(|_| format!("key queue names unknown user {user}"))?;
            match key {
                QueuedKey::Order(id, order) => {
                    if let Some(r) = u.client_ids.get(id).filter(|r| r.target == *order) {
                        if !r.queued || r.at != *at {
                            return Err(format!("user {user} key {id}: queue entry differs"));
                        }
                        live += 1;
                    }
                }
            }
        }
        let mut queued = 0usize;
        for (i, u) in self.users.iter().enumerate() {
            for (id, r) in &u.client_ids {
                if r.queued {
                    queued += 1;
                } else if !self.orders.contains_key(&r.target) {
                    return Err(format!("user {}: key {id} outlived its order", i + 1));
                }
            }
        }
        if live != queued {
            return Err(format!("{queued} queued keys, {live} in the queue"));
        }
        for o in self.orders.values() {
            if let Some(id) = &o.client_order_id {
                let r = self.users[o.user.0 as usize - 1].client_ids.get(id);
                if r.is_none_or(|r| r.target != o.id) {
                    return Err(format!("order {}: client order id {id} forgotten", o.id));
                }
            }
        }
        Ok(())
    }
}
