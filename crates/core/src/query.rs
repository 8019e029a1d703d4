//! Read-only queries: what a gateway needs to answer reads from the live state.

use crate::state::{Order, Withdrawal};
use crate::{BookOps, Core, CoreConfig};
use bourse_model::{
    Amount, AssetId, ClientOrderId, ClientWithdrawalId, MarketId, MarketSpec, MarketStatus,
    OrderId, OrderStatus, OrderType, Price, Qty, Role, Side, StpMode, Symbol, Tier, TimeInForce,
    Timestamp, UserId, WithdrawalId,
};
use serde::{Deserialize, Serialize};

/// An open order as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub id: OrderId,
    pub user: UserId,
    pub market: MarketId,
    pub side: Side,
    pub order_type: OrderType,
    /// `New` (untriggered stop), `Open` or `PartiallyFilled`: the core keeps open orders only.
    pub status: OrderStatus,
    /// Limit price (limit and stop-limit orders).
    pub price: Option<Price>,
    pub stop_price: Option<Price>,
    pub qty: Qty,
    pub filled: Qty,
    /// Quote amount of the fills so far, before fees (the average price's numerator).
    pub filled_notional: Amount,
    pub remaining: Qty,
    pub quote_qty: Option<Amount>,
    pub tif: TimeInForce,
    pub expire_at: Option<Timestamp>,
    pub post_only: bool,
    pub stp: StpMode,
    pub client_order_id: Option<ClientOrderId>,
    pub created_at: Timestamp,
    /// Amount held for it, in the quote (buy) or base (sell) asset.
    pub hold: Amount,
}

impl OrderView {
    fn of(o: &Order) -> Self {
        let status = if o.is_untriggered_stop() {
            OrderStatus::New
        } else if o.filled.is_zero() {
            OrderStatus::Open
        } else {
            OrderStatus::PartiallyFilled
        };
        let priced = matches!(o.order_type, OrderType::Limit | OrderType::StopLimit);
        OrderView {
            id: o.id,
            user: o.user,
            market: o.market,
            side: o.side,
            order_type: o.order_type,
            status,
            price: if priced { o.limit } else { None },
            stop_price: o.stop_price,
            qty: o.qty,
            filled: o.filled,
            filled_notional: Amount(o.filled_notional),
            remaining: o.remaining(),
            quote_qty: o.quote_qty,
            tif: o.tif,
            expire_at: o.expire_at,
            post_only: o.post_only,
            stp: o.stp,
            client_order_id: o.client_order_id.clone(),
            created_at: o.created_at,
            hold: Amount(o.hold),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetView {
    pub id: AssetId,
    pub symbol: Symbol,
    pub scale: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketView {
    pub id: MarketId,
    pub spec: MarketSpec,
    pub status: MarketStatus,
    pub last_price: Option<Price>,
    pub sequence: u64,
    /// Quote minor units per tick·lot and base minor units per lot (see `MarketSpec::validate`).
    pub quote_per_tick_lot: u64,
    pub base_per_lot: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub kyc_verified: bool,
    pub kill_switch: bool,
    pub tier: Tier,
    /// By key id.
    pub api_keys: Vec<ApiKeyView>,
    pub kyc_level: u8,
    pub beneficial_owner: Option<String>,
}

/// An API key as the core holds it (the secret still sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub key_id: String,
    pub secret_enc: String,
    pub label: String,
    pub scope: bourse_model::ApiKeyScope,
}

/// A withdrawal as requested: a pending one, or the original of a remembered client
/// withdrawal id (pending or not, see [`Core::withdrawal_by_client_id`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawalView {
    pub id: WithdrawalId,
    pub user: UserId,
    pub asset: AssetId,
    pub amount: Amount,
    pub address: String,
    pub client_withdrawal_id: Option<ClientWithdrawalId>,
    pub requested_at: Timestamp,
}

impl WithdrawalView {
    fn of(id: WithdrawalId, w: &Withdrawal) -> Self {
        WithdrawalView {
            id,
            user: w.user,
            asset: w.asset,
            amount: Amount(w.amount),
            address: w.address.clone(),
            client_withdrawal_id: w.client_id.clone(),
            requested_at: w.requested_at,
        }
    }
}

impl<B: BookOps> Core<B> {
    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    /// `(available, held)`; zero for unknown users or assets.
    pub fn balance(&self, user: UserId, asset: AssetId) -> (Amount, Amount) {
        let b = self.ledger.balance(user, asset);
        (Amount(b.available), Amount(b.held))
    }

    /// Every asset's `(asset, available, held)` for one user (zeros included).
    pub fn balances(&self, user: UserId) -> Vec<(AssetId, Amount, Amount)> {
        (0..self.assets.len() as u32)
            .map(|a| {
                let (av, h) = self.balance(user, AssetId(a));
                (AssetId(a), av, h)
            })
            .collect()
    }

    /// Fees collected in `asset`.
    pub fn fee_balance(&self, asset: AssetId) -> Amount {
        Amount(self.ledger.fee(asset))
    }

    /// The external account of `asset` (−(deposited − withdrawn)).
    pub fn external_balance(&self, asset: AssetId) -> i128 {
        self.ledger.external(asset)
    }

    /// An open order (closed orders are not kept by the core).
    pub fn order(&self, id: OrderId) -> Option<OrderView> {
        self.orders.get(&id).map(OrderView::of)
    }

    /// The order a user's client order id was given to (open or not).
    pub fn order_by_client_id(&self, user: UserId, id: &ClientOrderId) -> Option<OrderId> {
        self.client_order(user, id)
    }

    /// A user's open orders, by id.
    pub fn open_orders(&self, user: UserId) -> Vec<OrderView> {
        self.user_state(user)
            .map(|u| {
                u.orders
                    .iter()
                    .map(|id| OrderView::of(&self.orders[id]))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn open_order_count(&self) -> usize {
        self.orders.len()
    }

    /// Up to `n` price levels `(price, total size)` from the best outward.
    pub fn depth(&self, market: MarketId, side: Side, n: usize) -> Vec<(Price, Qty)> {
        self.markets
            .get(market.0 as usize)
            .map(|m| m.book.depth(side, n))
            .unwrap_or_default()
    }

    pub fn best_bid(&self, market: MarketId) -> Option<(Price, Qty)> {
        self.markets.get(market.0 as usize)?.book.best(Side::Buy)
    }

    pub fn best_ask(&self, market: MarketId) -> Option<(Price, Qty)> {
        self.markets.get(market.0 as usize)?.book.best(Side::Sell)
    }

    /// The book sequence: +1 per command that changed this market's book.
    pub fn book_sequence(&self, market: MarketId) -> Option<u64> {
        Some(self.markets.get(market.0 as usize)?.sequence)
    }

    /// The earliest `expire_at` of an open GTD order: when an `ExpireOrders` is due.
    pub fn next_expiry(&self) -> Option<bourse_model::Timestamp> {
        self.gtd.first().map(|(t, _)| *t)
    }

    pub fn last_price(&self, market: MarketId) -> Option<Price> {
        self.markets.get(market.0 as usize)?.last_price
    }

    pub fn market(&self, id: MarketId) -> Option<MarketView> {
        let m = self.markets.get(id.0 as usize)?;
        Some(MarketView {
            id,
            spec: m.spec.clone(),
            status: m.status,
            last_price: m.last_price,
            sequence: m.sequence,
            quote_per_tick_lot: m.params.quote_per_tick_lot,
            base_per_lot: m.params.base_per_lot,
        })
    }

    pub fn markets(&self) -> Vec<MarketView> {
        (0..self.markets.len() as u32)
            .filter_map(|i| self.market(MarketId(i)))
            .collect()
    }

    pub fn market_by_symbol(&self, symbol: &str) -> Option<MarketId> {
        self.market_ids.get(&Symbol::new(symbol).ok()?).copied()
    }

    pub fn asset(&self, id: AssetId) -> Option<AssetView> {
        let a = self.assets.get(id.0 as usize)?;
        Some(AssetView {
            id,
            symbol: a.symbol.clone(),
            scale: a.scale,
        })
    }

    pub fn assets(&self) -> Vec<AssetView> {
        (0..self.assets.len() as u32)
            .filter_map(|i| self.asset(AssetId(i)))
            .collect()
    }

    pub fn asset_by_symbol(&self, symbol: &str) -> Option<AssetId> {
        self.asset_ids.get(&Symbol::new(symbol).ok()?).copied()
    }

    /// Whether `user` logged the token `jti` out (see `RevokeToken`).
    pub fn token_revoked(&self, user: UserId, jti: &[u8; 16]) -> bool {
        self.user_state(user)
            .is_ok_and(|u| u.revoked_tokens.contains_key(jti))
    }

    /// The tokens `user` logged out, with their expiry (see `RevokeToken`).
    pub fn revoked_tokens(&self, user: UserId) -> Vec<([u8; 16], Timestamp)> {
        self.user_state(user)
            .map(|u| u.revoked_tokens.iter().map(|(j, e)| (*j, *e)).collect())
            .unwrap_or_default()
    }

    pub fn user(&self, id: UserId) -> Option<UserView> {
        let u = self.user_state(id).ok()?;
        Some(UserView {
            id,
            username: u.username.clone(),
            password_hash: u.password_hash.clone(),
            role: u.role,
            kyc_verified: u.kyc_verified,
            kill_switch: u.kill_switch,
            tier: u.tier,
            kyc_level: u.kyc_level,
            beneficial_owner: u.beneficial_owner.clone(),
            api_keys: u
                .api_keys
                .iter()
                .map(|(k, v)| ApiKeyView {
                    key_id: k.clone(),
                    secret_enc: v.secret_enc.clone(),
                    label: v.label.clone(),
                    scope: v.scope.clone(),
                })
                .collect(),
        })
    }

    pub fn user_by_name(&self, username: &str) -> Option<UserId> {
        self.user_ids.get(username).copied()
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    pub fn pending_withdrawals(&self) -> Vec<WithdrawalView> {
        self.withdrawals
            .iter()
            .map(|(id, w)| WithdrawalView::of(*id, w))
            .collect()
    }

    /// A pending withdrawal.
    pub fn withdrawal(&self, id: WithdrawalId) -> Option<WithdrawalView> {
        self.withdrawals.get(&id).map(|w| WithdrawalView::of(id, w))
    }

    /// The original request a user's client withdrawal id was given to, pending or
    /// finished, while the core remembers the id: what a gateway compares a retry's body
    /// with after `DUPLICATE_CLIENT_WITHDRAWAL_ID`.
    pub fn withdrawal_by_client_id(
        &self,
        user: UserId,
        id: &ClientWithdrawalId,
    ) -> Option<WithdrawalView> {
        let r = self.user_state(user).ok()?.client_withdrawals.get(id)?;
        Some(WithdrawalView::of(r.target.id, &r.target.request))
    }
}
