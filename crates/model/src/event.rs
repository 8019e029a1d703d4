//! Events: the only output of the core. `Core::apply` turns one command into a list of
//! events; read models, WebSocket channels and notifications are all built from them.
//!
//! Order of events for one command follows the order things happened: e.g. for an
//! incoming order `OrderAccepted`, the hold's `BalanceChanged`, then per fill `Trade`, the
//! maker's and taker's fill events and balance changes, then book changes and the
//! taker's terminal event (`OrderFilled`, `OrderExpired` for an unfilled IOC remainder…).

use crate::ids::{
    AssetId, ClientOrderId, MarketId, OrderId, Symbol, Timestamp, TradeId, UserId, WithdrawalId,
};
use crate::market::{MarketSpec, MarketStatus};
use crate::order::{Amount, OrderType, Price, Qty, Side, StpMode, TimeInForce};
use crate::reject::RejectCode;
use crate::user::{Role, Tier};
use serde::{Deserialize, Serialize};

/// An accepted order as the core recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInfo {
    pub id: OrderId,
    pub user: UserId,
    pub market: MarketId,
    pub side: Side,
    pub order_type: OrderType,
    pub price: Option<Price>,
    pub qty: Option<Qty>,
    pub quote_qty: Option<Amount>,
    pub stop_price: Option<Price>,
    pub tif: TimeInForce,
    pub expire_at: Option<Timestamp>,
    pub post_only: bool,
    pub stp: StpMode,
    pub client_order_id: Option<ClientOrderId>,
    pub created_at: Timestamp,
}

/// Lifecycle status as the API shows it. A stop order waiting for its trigger is `New`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    New,
    Open,
    PartiallyFilled,
    Filled,
    Canceled,
    Rejected,
    Expired,
}

impl OrderStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Filled | Self::Canceled | Self::Rejected | Self::Expired
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The owner asked (cancel or cancel-all).
    User,
    KillSwitch,
    SelfTradePrevention,
    /// The user is not KYC-verified while the exchange requires it: their KYC was revoked,
    /// or the policy was turned on.
    KycRequired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpireReason {
    /// IOC or market remainder that found no more liquidity within its limit (an IOC's
    /// limit price; for a market order, see `PriceProtection`).
    ImmediateOrCancel,
    /// FOK that could not fill completely (after a stop triggered; a fresh FOK is rejected).
    FillOrKill,
    /// GTD reached its `expire_at`.
    GoodTillDate,
    /// A market or stop-market remainder not filled because the book's next price lay
    /// beyond the order's slippage bound (`market_slippage_bps` from the best price, or
    /// the stop price, when it was accepted). Appended: new variants only at the end.
    PriceProtection,
}

/// New variants are only ever appended at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The command was refused and changed nothing. For a duplicate client order id,
    /// `order` is the original order; for a duplicate client withdrawal id, `withdrawal`
    /// is the original withdrawal. Otherwise both are `None`. For `WITHDRAWAL_LIMIT`,
    /// `remaining` is what the user may still withdraw of that asset today (minor units).
    Rejected {
        code: RejectCode,
        order: Option<OrderId>,
        withdrawal: Option<WithdrawalId>,
        remaining: Option<Amount>,
    },
    AssetCreated {
        asset: AssetId,
        symbol: Symbol,
        scale: u8,
    },
    MarketCreated {
        market: MarketId,
        spec: Box<MarketSpec>,
    },
    MarketStatusChanged {
        market: MarketId,
        status: MarketStatus,
    },
    UserRegistered {
        user: UserId,
        username: String,
        password_hash: String,
        role: Role,
    },
    PasswordChanged {
        user: UserId,
        password_hash: String,
    },
    UserRoleChanged {
        user: UserId,
        role: Role,
    },
    UserFlagsChanged {
        user: UserId,
        kyc_verified: bool,
        kill_switch: bool,
        tier: Tier,
    },
    ApiKeyCreated {
        user: UserId,
        key_id: String,
        secret_enc: String,
        label: String,
    },
    ApiKeyDeleted {
        user: UserId,
        key_id: String,
    },
    Deposited {
        user: UserId,
        asset: AssetId,
        amount: Amount,
    },
    WithdrawalRequested {
        id: WithdrawalId,
        user: UserId,
        asset: AssetId,
        amount: Amount,
        address: String,
    },
    WithdrawalCompleted {
        id: WithdrawalId,
        user: UserId,
        asset: AssetId,
        amount: Amount,
    },
    WithdrawalRejected {
        id: WithdrawalId,
        user: UserId,
        asset: AssetId,
        amount: Amount,
    },
    OrderAccepted(Box<OrderInfo>),
    /// A stop order's trigger was reached; it now enters the book as a limit or market order.
    StopTriggered {
        order: OrderId,
        user: UserId,
        market: MarketId,
        last_price: Price,
    },
    Trade {
        id: TradeId,
        market: MarketId,
        price: Price,
        qty: Qty,
        /// Quote amount exchanged (price × qty), before fees.
        notional: Amount,
        taker_side: Side,
        maker_order: OrderId,
        maker_user: UserId,
        taker_order: OrderId,
        taker_user: UserId,
        maker_fee: Amount,
        taker_fee: Amount,
    },
    OrderPartiallyFilled {
        order: OrderId,
        user: UserId,
        market: MarketId,
        filled: Qty,
        remaining: Qty,
    },
    OrderFilled {
        order: OrderId,
        user: UserId,
        market: MarketId,
        filled: Qty,
    },
    OrderCanceled {
        order: OrderId,
        user: UserId,
        market: MarketId,
        filled: Qty,
        remaining: Qty,
        reason: CancelReason,
    },
    OrderExpired {
        order: OrderId,
        user: UserId,
        market: MarketId,
        filled: Qty,
        remaining: Qty,
        reason: ExpireReason,
    },
    OrderAmended {
        order: OrderId,
        user: UserId,
        market: MarketId,
        price: Option<Price>,
        /// New total quantity.
        qty: Qty,
        remaining: Qty,
        kept_priority: bool,
    },
    /// New available and held amounts of one user's asset.
    BalanceChanged {
        user: UserId,
        asset: AssetId,
        available: Amount,
        held: Amount,
    },
    /// A price level's new total size (`Qty(0)` = the level is gone). `sequence` is the
    /// market's book sequence, incremented once per command that changed the book, so all
    /// level changes of one command share it and consecutive commands are gap-free.
    BookChanged {
        market: MarketId,
        sequence: u64,
        side: Side,
        price: Price,
        qty: Qty,
    },
    /// A user's KYC level or beneficial owner changed (their values after the change).
    UserComplianceChanged {
        user: UserId,
        kyc_level: u8,
        beneficial_owner: Option<String>,
    },
}
