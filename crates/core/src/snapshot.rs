//! Canonical snapshot (postcard), state hash (blake3 of the snapshot) and restore.
//!
//! Canonical: every map is written as a sorted list, zero balances are left out, books
//! are written in `orders()` order (bids best-first, then asks, each level in queue
//! order) so inserting them back rebuilds the same queues. Derived indexes (symbol and
//! name lookups, per-user order sets, stop and GTD indexes, the queue of remembered
//! client ids) are rebuilt on restore.

use crate::idempotency::{OriginalWithdrawal, Remembered};
use crate::kyc::DayUsage;
use crate::ledger::{Balance, Ledger};
use crate::state::{ApiKey, AssetState, MarketState, Order, UserState, Withdrawal};
use crate::{BookOps, Core, CoreConfig, CoreError, Scratch};
use bourse_book::RestingOrder;
use bourse_model::{
    AssetId, ClientOrderId, ClientWithdrawalId, MarketId, MarketSpec, MarketStatus, OrderId, Price,
    Role, Tier, Timestamp, UserId, WithdrawalId,
};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

// 2: users carry their logged-out tokens.
// 3: client order ids carry their time of use and whether they wait for their window.
// 4: client withdrawal ids (users remember them, withdrawals carry theirs).
// 5: API keys carry their scope (permissions, IP allow-list).
// 6: users carry their KYC level, beneficial owner and the day's withdrawals; the
//    config carries the KYC level policy.
const VERSION: u32 = 6;

#[derive(Serialize, Deserialize)]
struct MarketSnap {
    spec: MarketSpec,
    status: MarketStatus,
    sequence: u64,
    last_price: Option<Price>,
    book: Vec<RestingOrder>,
}

#[derive(Serialize, Deserialize)]
struct UserSnap {
    username: String,
    password_hash: String,
    role: Role,
    kyc_verified: bool,
    kill_switch: bool,
    tier: Tier,
    api_keys: Vec<(String, ApiKey)>,
    revoked_tokens: Vec<([u8; 16], Timestamp)>,
    client_ids: Vec<(ClientOrderId, Remembered<OrderId>)>,
    client_withdrawals: Vec<(ClientWithdrawalId, Remembered<OriginalWithdrawal>)>,
    kyc_level: u8,
    beneficial_owner: Option<String>,
    withdrawn: Vec<(AssetId, DayUsage)>,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    config: CoreConfig,
    assets: Vec<AssetState>,
    markets: Vec<MarketSnap>,
    users: Vec<UserSnap>,
    fee: Vec<u64>,
    external: Vec<i128>,
    balances: Vec<(UserId, AssetId, Balance)>,
    orders: Vec<Order>,
    withdrawals: Vec<(WithdrawalId, Withdrawal)>,
    next_order: u64,
    next_trade: u64,
    next_withdrawal: u64,
}

impl Core<bourse_book::OrderBook> {
    /// Rebuilds a core from [`Core::snapshot`] bytes and checks its invariants.
    pub fn restore(bytes: &[u8]) -> Result<Self, CoreError> {
        Self::restore_with_book(bytes)
    }
}

impl<B: BookOps> Core<B> {
    /// The whole state, canonically encoded.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut orders: Vec<Order> = self.orders.values().cloned().collect();
        orders.sort_unstable_by_key(|o| o.id);
        let snap = Snapshot {
            version: VERSION,
            config: self.config.clone(),
            assets: self.assets.clone(),
            markets: self
                .markets
                .iter()
                .map(|m| MarketSnap {
                    spec: m.spec.clone(),
                    status: m.status,
                    sequence: m.sequence,
                    last_price: m.last_price,
                    book: m.book.orders(),
                })
                .collect(),
            users: self
                .users
                .iter()
                .map(|u| {
                    let mut client_ids: Vec<_> = u
                        .client_ids
                        .iter()
                        .map(|(c, r)| (c.clone(), r.clone()))
                        .collect();
                    client_ids.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                    let mut client_withdrawals: Vec<_> = u
                        .client_withdrawals
                        .iter()
                        .map(|(c, r)| (c.clone(), r.clone()))
                        .collect();
                    client_withdrawals.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                    UserSnap {
                        username: u.username.clone(),
                        password_hash: u.password_hash.clone(),
                        role: u.role,
                        kyc_verified: u.kyc_verified,
                        kill_switch: u.kill_switch,
                        tier: u.tier,
                        api_keys: u
                            .api_keys
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                        revoked_tokens: u.revoked_tokens.iter().map(|(j, e)| (*j, *e)).collect(),
                        client_ids,
                        client_withdrawals,
                        kyc_level: u.kyc_level,
                        beneficial_owner: u.beneficial_owner.clone(),
                        withdrawn: u.withdrawn.iter().map(|(a, d)| (*a, *d)).collect(),
                    }
                })
                .collect(),
            fee: self.ledger.fee_accounts().to_vec(),
            external: self.ledger.external_accounts().to_vec(),
            balances: self.ledger.user_balances(),
            orders,
            withdrawals: self
                .withdrawals
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
            next_order: self.next_order,
            next_trade: self.next_trade,
            next_withdrawal: self.next_withdrawal,
        };
        postcard::to_stdvec(&snap).expect("in-memory serialization cannot fail")
    }

    /// blake3 of [`Core::snapshot`]: equal states have equal hashes.
    pub fn state_hash(&self) -> [u8; 32] {
        *blake3::hash(&self.snapshot()).as_bytes()
    }

    /// [`Core::restore`] for any book implementation.
    pub fn restore_with_book(bytes: &[u8]) -> Result<Self, CoreError> {
        let snap: Snapshot =
            postcard::from_bytes(bytes).map_err(|e| CoreError::Decode(e.to_string()))?;
        if snap.version != VERSION {
            return Err(CoreError::Decode(format!(
                "unsupported version {}",
                snap.version
            )));
        }
        let corrupt = CoreError::Corrupt;
        let user_count = snap.users.len() as u64;
        let ledger = Ledger::from_parts(snap.fee, snap.external, &snap.balances, user_count)
            .map_err(corrupt)?;
        if ledger.asset_count() != snap.assets.len() {
            return Err(corrupt("asset count differs from ledger".into()));
        }
        if snap.config.kyc_levels.len() != usize::from(bourse_model::KYC_MAX_LEVEL) + 1 {
            return Err(corrupt("KYC level policy of the wrong length".into()));
        }
        let mut core = Core::<B>::with_book(snap.config);
        core.ledger = ledger;
        for (i, a) in snap.assets.iter().enumerate() {
            core.asset_ids.insert(a.symbol.clone(), AssetId(i as u32));
        }
        core.assets = snap.assets;
        for (i, m) in snap.markets.into_iter().enumerate() {
            let (quote_per_tick_lot, base_per_lot) =
                m.spec.validate().map_err(|e| corrupt(e.to_string()))?;
            let scale = |a: AssetId| core.assets.get(a.0 as usize).map(|s| s.scale);
            if scale(m.spec.base) != Some(m.spec.base_scale)
                || scale(m.spec.quote) != Some(m.spec.quote_scale)
            {
                return Err(corrupt(format!("market {i}: unknown asset or wrong scale")));
            }
            let mut book = B::empty();
            for o in m.book {
                if o.qty.is_zero() || book.get(o.id).is_some() || book.would_cross(o.side, o.price)
                {
                    return Err(corrupt(format!("book of market {i}: bad order {}", o.id)));
                }
                book.insert(o);
            }
            core.market_ids
                .insert(m.spec.symbol.clone(), MarketId(i as u32));
            core.markets.push(MarketState {
                params: crate::state::Params {
                    quote_per_tick_lot,
                    base_per_lot,
                    base: m.spec.base,
                    quote: m.spec.quote,
                },
                spec: m.spec,
                status: m.status,
                book,
                sequence: m.sequence,
                last_price: m.last_price,
                buy_stops: BTreeSet::new(),
                sell_stops: BTreeSet::new(),
            });
        }
        for (i, u) in snap.users.into_iter().enumerate() {
            core.user_ids
                .insert(u.username.clone(), UserId(i as u64 + 1));
            let mut s = UserState::new(u.username, u.password_hash, u.role);
            s.kyc_verified = u.kyc_verified;
            s.kill_switch = u.kill_switch;
            s.tier = u.tier;
            s.api_keys = u.api_keys.into_iter().collect::<BTreeMap<_, _>>();
            s.revoked_tokens = u.revoked_tokens.into_iter().collect();
            if let Some((c, _)) = u
                .client_ids
                .iter()
                .find(|(_, r)| r.target.0 == 0 || r.target.0 >= snap.next_order)
            {
                return Err(corrupt(format!(
                    "user {}: client id {c} of no order",
                    i + 1
                )));
            }
            if let Some((c, _)) = u.client_withdrawals.iter().find(|(_, r)| {
                r.target.id.0 == 0
                    || r.target.id.0 >= snap.next_withdrawal
                    || r.target.request.user != UserId(i as u64 + 1)
            }) {
                return Err(corrupt(format!(
                    "user {}: bad client withdrawal id {c}",
                    i + 1
                )));
            }
            s.client_ids = u.client_ids.into_iter().collect::<FxHashMap<_, _>>();
            s.client_withdrawals = u.client_withdrawals.into_iter().collect();
            if usize::from(u.kyc_level) >= core.config.kyc_levels.len()
                || u.withdrawn
                    .iter()
                    .any(|(a, _)| a.0 as usize >= core.assets.len())
            {
                return Err(corrupt(format!(
                    "user {}: bad KYC level or withdrawal asset",
                    i + 1
                )));
            }
            s.kyc_level = u.kyc_level;
            s.beneficial_owner = u.beneficial_owner;
            s.withdrawn = u.withdrawn.into_iter().collect();
            core.users.push(s);
        }
        for o in snap.orders {
            if core.user_state(o.user).is_err() || o.market.0 as usize >= core.markets.len() {
                return Err(corrupt(format!(
                    "order {} of an unknown user or market",
                    o.id
                )));
            }
            // What indexing relies on; the invariants check the rest.
            if o.id.0 == 0 || o.id.0 >= snap.next_order || core.orders.contains_key(&o.id) {
                return Err(corrupt(format!("order {}: bad or repeated id", o.id)));
            }
            if o.is_untriggered_stop() && o.stop_price.is_none() {
                return Err(corrupt(format!("stop order {} without a stop price", o.id)));
            }
            core.index_order(o);
        }
        for (id, w) in &snap.withdrawals {
            if id.0 == 0
                || id.0 >= snap.next_withdrawal
                || core.user_state(w.user).is_err()
                || w.asset.0 as usize >= core.assets.len()
            {
                return Err(corrupt(format!("withdrawal {id}: bad id, user or asset")));
            }
        }
        core.withdrawals = snap.withdrawals.into_iter().collect();
        core.next_order = snap.next_order;
        core.next_trade = snap.next_trade;
        core.next_withdrawal = snap.next_withdrawal;
        core.rebuild_key_queue();
        core.scratch = Scratch::default();
        core.check_invariants().map_err(corrupt)?;
        Ok(core)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{limit, Fx, ALICE, B, BOB, CAROL};
    use bourse_model::{Amount, CommandKind, NewOrder, OrderType, Side};

    /// A state with a resting order, an untriggered stop and a pending withdrawal.
    fn state() -> Vec<u8> {
        let mut fx = Fx::new();
        fx.place_ok(limit(ALICE, Side::Sell, 100, 5));
        fx.place_ok(NewOrder {
            order_type: OrderType::StopLimit,
            stop_price: Some(Price(120)),
            ..limit(BOB, Side::Buy, 121, 1)
        });
        fx.ok(CommandKind::RequestWithdrawal {
            user: CAROL,
            asset: B,
            amount: Amount(3),
            address: "a".into(),
            client_withdrawal_id: None,
        });
        fx.core.snapshot()
    }

    /// Restores `state()` after `corrupt` changed its decoded form.
    fn restore_changed(corrupt: impl FnOnce(&mut Snapshot)) -> Result<Core, CoreError> {
        let mut snap: Snapshot = postcard::from_bytes(&state()).unwrap();
        corrupt(&mut snap);
        Core::restore(&postcard::to_stdvec(&snap).unwrap())
    }

    #[test]
    fn corrupt_snapshots_are_refused_without_panicking() {
        assert!(
            restore_changed(|_| {}).is_ok(),
            "the unchanged state restores"
        );
        type Corruption = (&'static str, fn(&mut Snapshot));
        let cases: [Corruption; 9] = [
            ("huge user id", |s| s.balances[0].0 = UserId(u64::MAX)),
            ("user past the last", |s| {
                s.balances[0].0 = UserId(s.users.len() as u64 + 1)
            }),
            ("user 0", |s| s.balances[0].0 = UserId(0)),
            ("positive external", |s| s.external[0] = 5),
            ("stop without stop price", |s| {
                let stop = s.orders.iter_mut().find(|o| o.order_type.is_stop());
                stop.unwrap().stop_price = None;
            }),
            ("order id not yet issued", |s| s.next_order = 1),
            ("repeated order", |s| s.orders.push(s.orders[0].clone())),
            ("withdrawal of an unknown user", |s| {
                s.withdrawals[0].1.user = UserId(77)
            }),
            ("market of an unknown asset", |s| {
                s.markets[0].spec.quote = AssetId(9)
            }),
        ];
        for (what, corrupt) in cases {
            match restore_changed(corrupt) {
                Err(CoreError::Corrupt(_)) => {}
                Err(e) => panic!("{what}: {e}"),
                Ok(_) => panic!("{what}: restored"),
            }
        }
    }
}
