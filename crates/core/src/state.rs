//! The core's records. Kept small: the hot path touches `Order` and `MarketState`.

use crate::idempotency::{OriginalWithdrawal, Remembered};
use crate::kyc::DayUsage;
use crate::money;
use bourse_model::{
    AssetId, ClientOrderId, ClientWithdrawalId, MarketId, MarketSpec, MarketStatus, OrderId,
    OrderType, Price, Qty, Role, Side, StpMode, Symbol, Tier, TimeInForce, Timestamp, UserId,
};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetState {
    pub symbol: Symbol,
    pub scale: u8,
}

/// A market's constants derived from its spec at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub quote_per_tick_lot: u64,
    pub base_per_lot: u64,
    pub base: AssetId,
    pub quote: AssetId,
}

impl Params {
    #[inline]
    pub fn hold_asset(&self, side: Side) -> AssetId {
        match side {
            Side::Buy => self.quote,
            Side::Sell => self.base,
        }
    }
}

pub struct MarketState<B> {
    pub spec: MarketSpec,
    pub params: Params,
    pub status: MarketStatus,
    pub book: B,
    pub sequence: u64,
    pub last_price: Option<Price>,
    /// Untriggered buy stops, in trigger order (ascending stop price, then id).
    pub buy_stops: BTreeSet<(Price, OrderId)>,
    /// Untriggered sell stops, in trigger order (descending stop price, then id).
    pub sell_stops: BTreeSet<(Reverse<Price>, OrderId)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub secret_enc: String,
    pub label: String,
    /// Permissions and IP allow-list (snapshot v5).
    pub scope: bourse_model::ApiKeyScope,
}

#[derive(Debug, Clone)]
pub struct UserState {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub kyc_verified: bool,
    pub kill_switch: bool,
    pub tier: Tier,
    pub api_keys: BTreeMap<String, ApiKey>,
    /// Logged-out session tokens: `jti` → the token's expiry.
    pub revoked_tokens: BTreeMap<[u8; 16], Timestamp>,
    /// The user's remembered client order ids (see `idempotency`).
    pub client_ids: FxHashMap<ClientOrderId, Remembered<OrderId>>,
    /// The user's remembered client withdrawal ids, with the original requests.
    pub client_withdrawals: FxHashMap<ClientWithdrawalId, Remembered<OriginalWithdrawal>>,
    /// 0..=`KYC_MAX_LEVEL` (see `kyc`).
    pub kyc_level: u8,
    /// Who really owns the account (surveillance groups accounts by it).
    pub beneficial_owner: Option<String>,
    /// Per asset, the withdrawals of the last day one was requested (see `kyc`).
    pub withdrawn: BTreeMap<AssetId, DayUsage>,
    /// Derived: the user's open orders, and their count per market.
    pub orders: BTreeSet<OrderId>,
    pub open_per_market: Vec<u32>,
}

impl UserState {
    pub fn new(username: String, password_hash: String, role: Role) -> Self {
        UserState {
            username,
            password_hash,
            role,
            kyc_verified: false,
            kill_switch: false,
            tier: Tier::Standard,
            api_keys: BTreeMap::new(),
            revoked_tokens: BTreeMap::new(),
            client_ids: FxHashMap::default(),
            client_withdrawals: FxHashMap::default(),
            kyc_level: 0,
            beneficial_owner: None,
            withdrawn: BTreeMap::new(),
            orders: BTreeSet::new(),
            open_per_market: Vec::new(),
        }
    }

    pub fn open_in(&self, market: MarketId) -> u32 {
        self.open_per_market
            .get(market.0 as usize)
            .copied()
            .unwrap_or(0)
    }
}

/// An open order (or a taker while it is being processed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub user: UserId,
    pub market: MarketId,
    pub side: Side,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    pub post_only: bool,
    pub stp: StpMode,
    /// A stop that has triggered (now a plain limit/market order).
    pub triggered: bool,
    /// The effective price bound: the limit price, or a market order's slippage cap/floor.
    pub limit: Option<Price>,
    pub stop_price: Option<Price>,
    /// Total size in lots (quote-sized orders: the size they were allowed to reach).
    pub qty: Qty,
    pub filled: Qty,
    /// Quote amount of the fills so far (price × qty, before fees): the average price.
    pub filled_notional: u64,
    pub quote_qty: Option<bourse_model::Amount>,
    pub expire_at: Option<Timestamp>,
    /// Amount held for this order, in the quote (buy) or base (sell) asset.
    pub hold: u64,
    pub maker_bps: u16,
    pub taker_bps: u16,
    pub created_at: Timestamp,
    pub client_order_id: Option<ClientOrderId>,
}

impl Order {
    #[inline]
    pub fn remaining(&self) -> Qty {
        Qty(self.qty.0 - self.filled.0)
    }

    #[inline]
    pub fn is_untriggered_stop(&self) -> bool {
        self.order_type.is_stop() && !self.triggered
    }

    /// True if a remainder rests in the book after matching.
    pub fn rests(&self) -> bool {
        matches!(self.order_type, OrderType::Limit | OrderType::StopLimit)
            && matches!(self.tif, TimeInForce::Gtc | TimeInForce::Gtd)
    }

    /// What the remaining part can still cost, for orders whose hold follows their size
    /// (`None` for quote-sized buys, whose hold is drawn down by fills).
    #[inline]
    pub fn required_hold(&self, p: &Params) -> Option<u64> {
        self.hold_for(p, self.qty, self.limit)
    }

    /// [`required_hold`](Self::required_hold) as it would be with total size `qty` and
    /// price bound `limit` (an amend checks this before changing anything).
    #[inline]
    pub fn hold_for(&self, p: &Params, qty: Qty, limit: Option<Price>) -> Option<u64> {
        let rem = Qty(qty.0 - self.filled.0);
        match self.side {
            Side::Sell => money::base_amount(rem, p.base_per_lot),
            Side::Buy if self.quote_qty.is_some() => None,
            Side::Buy => match limit {
                Some(limit) => money::buy_cost(
                    limit,
                    rem,
                    p.quote_per_tick_lot,
                    self.maker_bps.max(self.taker_bps),
                ),
                // A market buy that found no asks: nothing to hold, it expires at once.
                None => Some(0),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub user: UserId,
    pub asset: AssetId,
    pub amount: u64,
    pub address: String,
    pub client_id: Option<ClientWithdrawalId>,
    /// The time of the request (what an approval's answer shows as `created_at`).
    pub requested_at: Timestamp,
}
