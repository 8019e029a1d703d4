//! Idempotency keys (client order ids and client withdrawal ids): remembered for a
//! window, pruned in amortized O(1).
//!
//! Rules (the crate doc states them for callers). A key's *target* is its order or its
//! withdrawal; an order is open while resting or an untriggered stop, a withdrawal while
//! pending.
//! * A key is used at time `at`: its command's `ts`, or the latest queued key's `at` if
//!   that is later. Time never runs backwards here, so the queue below stays sorted by
//!   `at` even if a journal's clock did (the sequencer's does not).
//! * A key is *live* at time `ts` while its target is open or `at + window > ts`, with the
//!   window in force at `ts` ([`CoreConfig::idempotency_window_ms`]). Only a live key is
//!   a duplicate; a key that is no longer live can be used again at once, even before it
//!   is pruned.
//! * Pruning runs after every accepted command, at its `ts` (a rejected command changes
//!   nothing, so it prunes nothing). Every key is queued once, in use order; pruning pops
//!   the keys whose window has passed: a key whose target is closed is forgotten; a key
//!   whose target is still open leaves the queue (`queued: false`) and is forgotten when
//!   the target ends. Each key is pushed once, popped at most once and forgotten once, so
//!   the work is O(1) per key and amortized O(1) per command.
//! * A queue entry whose key was used again (after it stopped being live) is stale: its
//!   target differs from the remembered one, and popping it changes nothing. Its window
//!   has passed, so the prune of the command that used the key again pops it.
//! * A withdrawal key remembers the original request (asset, amount, address) too, also
//!   after the withdrawal is finished, so that a gateway can tell a retry (same body)
//!   from a conflicting reuse of the key.
//! * The queue is derived: the snapshot stores each remembered key with `at` and `queued`,
//!   and restore queues the `queued` ones sorted by `(at, user, key)`. Keys with equal
//!   `at` are popped by the same prune, and each pop depends only on its own key, so that
//!   order gives the same states as the original one.
//!
//! [`CoreConfig::idempotency_window_ms`]: crate::CoreConfig::idempotency_window_ms

use crate::state::Withdrawal;
use crate::{BookOps, Core};
use bourse_model::{ClientOrderId, ClientWithdrawalId, OrderId, Timestamp, UserId, WithdrawalId};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::hash::Hash;

/// A remembered key: what it was given to and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered<T> {
    pub target: T,
    pub at: Timestamp,
    /// Waiting in the queue for its window to pass. `false`: the window passed while the
    /// target was still open; the key goes when the target ends.
    pub queued: bool,
}

/// What a withdrawal key remembers: the original request and the id it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginalWithdrawal {
    pub id: WithdrawalId,
    pub request: Withdrawal,
}

/// A key as the queue holds it, with its target to tell a stale entry from a live one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum QueuedKey {
    Order(ClientOrderId, OrderId),
    Withdrawal(ClientWithdrawalId, WithdrawalId),
}

/// A target's id, which tells one use of a key from another (ids are never reused).
trait Target {
    type Id: Copy + Eq;
    fn id(&self) -> Self::Id;
}

impl Target for OrderId {
    type Id = OrderId;
    fn id(&self) -> OrderId {
        *self
    }
}

impl Target for OriginalWithdrawal {
    type Id = WithdrawalId;
    fn id(&self) -> WithdrawalId {
        self.id
    }
}

/// Pops `key` (its window passed): forgotten if its target is closed, else out of the
/// queue until the target ends. A stale entry changes nothing.
fn pop<K: Eq + Hash, T: Target>(
    keys: &mut FxHashMap<K, Remembered<T>>,
    key: &K,
    target: T::Id,
    open: bool,
) {
    let Some(r) = keys.get_mut(key) else { return };
    if r.target.id() != target {
        return;
    }
    if open {
        r.queued = false;
    } else {
        keys.remove(key);
    }
}

/// `target` ended: forgets `key` if it names `target` and its window already passed.
fn ended<K: Eq + Hash, T: Target>(keys: &mut FxHashMap<K, Remembered<T>>, key: &K, target: T::Id) {
    if keys
        .get(key)
        .is_some_and(|r| r.target.id() == target && !r.queued)
    {
        keys.remove(key);
    }
}

/// Counts the queued keys of `keys` and checks that the others' targets are open.
fn count_queued<K: std::fmt::Display, T: Target>(
    keys: &FxHashMap<K, Remembered<T>>,
    open: impl Fn(T::Id) -> bool,
) -> Result<usize, String> {
    let mut queued = 0;
    for (id, r) in keys {
        if r.queued {
            queued += 1;
        } else if !open(r.target.id()) {
            return Err(format!("key {id} outlived its target"));
        }
    }
    Ok(queued)
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
}

/// `at + window`, the first time at which a key used at `at` is no longer live on its own.
#[inline]
fn expiry(at: Timestamp, window_ms: u64) -> u64 {
    at.0.saturating_add(window_ms)
}

impl<B: BookOps> Core<B> {
    /// Whether a remembered key is still a duplicate at `ts` (see the module doc).
    #[inline]
    fn key_live<T>(&self, r: &Remembered<T>, open: bool, ts: Timestamp) -> bool {
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

    /// The original withdrawal a live client withdrawal id names at `ts`.
    pub(crate) fn live_client_withdrawal(
        &self,
        user: UserId,
        id: &ClientWithdrawalId,
        ts: Timestamp,
    ) -> Option<WithdrawalId> {
        let r = self.user_state(user).ok()?.client_withdrawals.get(id)?;
        let open = self.withdrawals.contains_key(&r.target.id);
        self.key_live(r, open, ts).then_some(r.target.id)
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

    /// Remembers `id` as the key of the just requested withdrawal `w`, with its request.
    pub(crate) fn remember_client_withdrawal(
        &mut self,
        id: &ClientWithdrawalId,
        wid: WithdrawalId,
        w: &Withdrawal,
        ts: Timestamp,
    ) {
        let at = self.keys.time_of_use(ts);
        let r = Remembered {
            target: OriginalWithdrawal {
                id: wid,
                request: w.clone(),
            },
            at,
            queued: true,
        };
        self.user_mut(w.user)
            .client_withdrawals
            .insert(id.clone(), r);
        self.keys
            .entries
            .push_back((at, w.user, QueuedKey::Withdrawal(id.clone(), wid)));
    }

    /// An order ended (filled, canceled, expired): if its key's window has already
    /// passed, the key goes now.
    #[inline]
    pub(crate) fn order_ended(&mut self, user: UserId, id: Option<&ClientOrderId>, order: OrderId) {
        if let Some(id) = id {
            ended(&mut self.users[user.0 as usize - 1].client_ids, id, order);
        }
    }

    /// A withdrawal was completed or rejected: its key goes now if its window passed.
    pub(crate) fn withdrawal_ended(&mut self, wid: WithdrawalId, w: &Withdrawal) {
        if let Some(id) = &w.client_id {
            ended(&mut self.user_mut(w.user).client_withdrawals, id, wid);
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
                    let open = self.orders.contains_key(&order);
                    pop(&mut u.client_ids, &id, order, open);
                }
                QueuedKey::Withdrawal(id, w) => {
                    let open = self.withdrawals.contains_key(&w);
                    pop(&mut u.client_withdrawals, &id, w, open);
                }
            }
        }
    }

    /// Rebuilds the queue from the remembered keys (restore).
    pub(crate) fn rebuild_key_queue(&mut self) {
        let mut entries = Vec::new();
        for (i, u) in self.users.iter().enumerate() {
            let user = UserId(i as u64 + 1);
            for (id, r) in u.client_ids.iter().filter(|(_, r)| r.queued) {
                entries.push((r.at, user, QueuedKey::Order(id.clone(), r.target)));
            }
            for (id, r) in u.client_withdrawals.iter().filter(|(_, r)| r.queued) {
                let key = QueuedKey::Withdrawal(id.clone(), r.target.id);
                entries.push((r.at, user, key));
            }
        }
        entries.sort_unstable();
        self.keys.entries = entries.into();
    }

    /// The queue is sorted by time and holds exactly the queued keys (plus stale
    /// entries); a key out of the queue names an open target; an open order or pending
    /// withdrawal with a key is remembered under it (a withdrawal as requested).
    pub(crate) fn check_keys(&self) -> Result<(), String> {
        let mut last = Timestamp(0);
        let mut live = 0usize;
        for (at, user, key) in &self.keys.entries {
            if *at < last {
                return Err(format!("key queue out of order at {at}"));
            }
            last = *at;
            let u = self
                .user_state(*user)
                .map_err(|_| format!("key queue names unknown user {user}"))?;
            let found = match key {
                QueuedKey::Order(id, order) => u
                    .client_ids
                    .get(id)
                    .filter(|r| r.target == *order)
                    .map(|r| (r.queued, r.at)),
                QueuedKey::Withdrawal(id, w) => u
                    .client_withdrawals
                    .get(id)
                    .filter(|r| r.target.id == *w)
                    .map(|r| (r.queued, r.at)),
            };
            if let Some((queued, key_at)) = found {
                if !queued || key_at != *at {
                    return Err(format!("user {user}: queue entry {key:?} differs"));
                }
                live += 1;
            }
        }
        let mut queued = 0usize;
        for (i, u) in self.users.iter().enumerate() {
            let user = UserId(i as u64 + 1);
            let err = |e| format!("user {user}: {e}");
            queued += count_queued(&u.client_ids, |o| self.orders.contains_key(&o)).map_err(err)?;
            queued += count_queued(&u.client_withdrawals, |w| self.withdrawals.contains_key(&w))
                .map_err(err)?;
            if u.client_withdrawals
                .values()
                .any(|r| r.target.request.user != user)
            {
                return Err(format!("user {user}: a withdrawal key of another user"));
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
        for (wid, w) in &self.withdrawals {
            if let Some(id) = &w.client_id {
                let r = self.users[w.user.0 as usize - 1].client_withdrawals.get(id);
                if r.is_none_or(|r| r.target.id != *wid || r.target.request != *w) {
                    return Err(format!("withdrawal {wid}: key {id} forgotten or differs"));
                }
            }
        }
        Ok(())
    }
}
