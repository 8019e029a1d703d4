//! Consistency checks over the whole state, run by tests after every command and by
//! `restore`. Linear in the state size.

use crate::{BookOps, Core};
use bourse_model::{AssetId, Side, UserId};
use rustc_hash::FxHashMap;

impl<B: BookOps> Core<B> {
    /// Checks: per asset the ledger sums to zero and the external account is ≤ 0; each
    /// user's `held` equals their orders' holds plus pending withdrawals; every order's
    /// hold is what its remainder can still cost; books hold exactly the resting orders
    /// (same price, remaining size, owner) and are not crossed; stop, GTD and per-user
    /// indexes match the orders; while KYC is required no unverified user has an open
    /// order; remembered client ids and their queue agree (see `idempotency`).
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut held: FxHashMap<(UserId, AssetId), u128> = FxHashMap::default();
        for (i, _) in self.assets.iter().enumerate() {
            let a = AssetId(i as u32);
            if self.ledger.sum(a) != 0 {
                return Err(format!("asset {a}: ledger sums to {}", self.ledger.sum(a)));
            }
            if self.ledger.external(a) > 0 {
                return Err(format!("asset {a}: external account is positive"));
            }
        }
        for w in self.withdrawals.values() {
            *held.entry((w.user, w.asset)).or_default() += u128::from(w.amount);
        }
        let mut resting = vec![0usize; self.markets.len()];
        let mut stops = vec![0usize; self.markets.len()];
        let mut open: FxHashMap<(UserId, u32), u32> = FxHashMap::default();
        for (id, o) in &self.orders {
            if *id != o.id || o.filled >= o.qty {
                return Err(format!("order {id}: bad id or size"));
            }
            let m = &self.markets[o.market.0 as usize];
            let asset = m.params.hold_asset(o.side);
            *held.entry((o.user, asset)).or_default() += u128::from(o.hold);
            *open.entry((o.user, o.market.0)).or_default() += 1;
            // An open quote-sized buy is an untriggered stop-market: it holds its amount.
            let want = o.required_hold(&m.params).or(o.quote_qty.map(|q| q.0));
            if want != Some(o.hold) {
                return Err(format!("order {id}: hold {} != required {want:?}", o.hold));
            }
            let Ok(u) = self.user_state(o.user) else {
                return Err(format!("order {id}: unknown user"));
            };
            if !u.orders.contains(id) {
                return Err(format!("order {id}: missing from its user's set"));
            }
            if !self.may_trade(u) {
                return Err(format!("order {id}: open for a user who may not trade"));
            }
            if let Some(t) = o.expire_at {
                if !self.gtd.contains(&(t, *id)) {
                    return Err(format!("order {id}: missing from the GTD index"));
                }
            }
            if o.is_untriggered_stop() {
                stops[o.market.0 as usize] += 1;
                let stop = o.stop_price.ok_or("stop without stop price")?;
                let found = match o.side {
                    Side::Buy => m.buy_stops.contains(&(stop, *id)),
                    Side::Sell => m.sell_stops.contains(&(std::cmp::Reverse(stop), *id)),
                };
                if !found || m.book.get(*id).is_some() {
                    return Err(format!("order {id}: stop index mismatch"));
                }
            } else {
                resting[o.market.0 as usize] += 1;
                let r = m
                    .book
                    .get(*id)
                    .ok_or(format!("order {id}: not in its book"))?;
                if Some(r.price) != o.limit
                    || r.qty != o.remaining()
                    || r.owner != o.user
                    || r.side != o.side
                    || r.expire_at != o.expire_at
                {
                    return Err(format!("order {id}: book entry {r:?} differs from {o:?}"));
                }
            }
        }
        for (i, m) in self.markets.iter().enumerate() {
            if m.book.len() != resting[i] {
                return Err(format!(
                    "market {i}: book has {} orders, core {}",
                    m.book.len(),
                    resting[i]
                ));
            }
            if m.buy_stops.len() + m.sell_stops.len() != stops[i] {
                return Err(format!("market {i}: stop index size mismatch"));
            }
            if let (Some((b, _)), Some((a, _))) = (m.book.best(Side::Buy), m.book.best(Side::Sell))
            {
                if b >= a {
                    return Err(format!("market {i}: crossed book {b:?} >= {a:?}"));
                }
            }
        }
        let gtd_orders = self
            .orders
            .values()
            .filter(|o| o.expire_at.is_some())
            .count();
        if gtd_orders != self.gtd.len() {
            return Err("GTD index size mismatch".into());
        }
        for (ui, u) in self.users.iter().enumerate() {
            let user = UserId(ui as u64 + 1);
            if u.orders
                .iter()
                .any(|id| self.orders.get(id).is_none_or(|o| o.user != user))
            {
                return Err(format!(
                    "user {user}: order set has foreign or closed orders"
                ));
            }
            for (mi, n) in u.open_per_market.iter().enumerate() {
                if *n != open.get(&(user, mi as u32)).copied().unwrap_or(0) {
                    return Err(format!("user {user}: open count in market {mi} is wrong"));
                }
            }
            for (ai, _) in self.assets.iter().enumerate() {
                let a = AssetId(ai as u32);
                let want = held.get(&(user, a)).copied().unwrap_or(0);
                let have = u128::from(self.ledger.balance(user, a).held);
                if want != have {
                    return Err(format!(
                        "user {user} asset {a}: held {have} != holds {want}"
                    ));
                }
            }
        }
        for (ui, a) in self.ledger.user_balances().iter().map(|(u, a, _)| (u, a)) {
            if ui.0 == 0 || ui.0 as usize > self.users.len() || a.0 as usize >= self.assets.len() {
                return Err(format!("balance of unknown user {ui} or asset {a}"));
            }
        }
        self.check_keys()
    }
}
