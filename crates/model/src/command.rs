//! Commands: the only input of the core and the unit of the journal.
//!
//! Every command carries the gateway/sequencer timestamp; the core never reads a clock.
//! Commands are appended to the journal *before* they are applied, so they must be
//! self-contained: ids the core assigns (orders, trades, markets, …) are not in them.

use crate::api_key::ApiKeyScope;
use crate::ids::{
    AssetId, ClientOrderId, ClientWithdrawalId, MarketId, OrderId, Symbol, Timestamp, UserId,
    WithdrawalId,
};
use crate::kyc::KycLevel;
use crate::market::{MarketSpec, MarketStatus};
use crate::order::{Amount, OrderType, Price, Qty, Side, StpMode, TimeInForce};
use crate::origin::Origin;
use crate::user::{Role, Tier};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub ts: Timestamp,
    pub kind: CommandKind,
    /// Who sent it (the audit trail's envelope); the core ignores it. The last field:
    /// journals written before it end where it would start (see `bourse-journal`'s
    /// codec). Boxed so a command without one stays small on the hot path.
    pub origin: Option<Box<Origin>>,
}

impl Command {
    pub fn new(ts: u64, kind: CommandKind) -> Self {
        Self {
            ts: Timestamp(ts),
            kind,
            origin: None,
        }
    }
}

/// New variants are only ever appended at the end: the journal stores the variant index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandKind {
    CreateAsset {
        symbol: Symbol,
        scale: u8,
    },
    CreateMarket(Box<MarketSpec>),
    /// Halt (no new orders or amends) or resume a market.
    SetMarketStatus {
        market: MarketId,
        status: MarketStatus,
    },
    RegisterUser {
        username: String,
        password_hash: String,
        role: Role,
    },
    SetPassword {
        user: UserId,
        password_hash: String,
    },
    SetUserRole {
        user: UserId,
        role: Role,
    },
    /// Fields left `None` are unchanged. Turning the kill switch on cancels every open
    /// order of the user; so does leaving the user unverified while KYC is required.
    SetUserFlags {
        user: UserId,
        kyc_verified: Option<bool>,
        kill_switch: Option<bool>,
        tier: Option<Tier>,
    },
    /// A key with [`ApiKeyScope::legacy`] (journals written before key permissions; the
    /// gateway now submits [`CommandKind::CreateScopedApiKey`]).
    CreateApiKey {
        user: UserId,
        key_id: String,
        /// The API secret, encrypted by the gateway; the core only stores it.
        secret_enc: String,
        label: String,
    },
    DeleteApiKey {
        user: UserId,
        key_id: String,
    },
    Deposit {
        user: UserId,
        asset: AssetId,
        amount: Amount,
    },
    /// Moves `amount` from available to held until an admin completes or rejects it.
    /// While the core remembers `client_withdrawal_id` (see `SetIdempotencyWindow`), a
    /// second request with it is `DUPLICATE_CLIENT_WITHDRAWAL_ID` naming the original,
    /// whatever its other fields: comparing them is the gateway's job.
    RequestWithdrawal {
        user: UserId,
        asset: AssetId,
        amount: Amount,
        address: String,
        /// Added after the first journals were written: the journal crate reads a record
        /// that ends before it as `None`.
        client_withdrawal_id: Option<ClientWithdrawalId>,
    },
    CompleteWithdrawal {
        id: WithdrawalId,
    },
    RejectWithdrawal {
        id: WithdrawalId,
    },
    PlaceOrder(Box<NewOrder>),
    CancelOrder {
        user: UserId,
        order: OrderId,
    },
    CancelAll {
        user: UserId,
        market: Option<MarketId>,
    },
    /// Changes the price and/or the total (original) quantity of a resting or
    /// untriggered order. `qty` must exceed what is already filled. Only a pure size
    /// decrease keeps queue priority.
    AmendOrder {
        user: UserId,
        order: OrderId,
        price: Option<Price>,
        qty: Option<Qty>,
    },
    /// Expires every GTD order whose `expire_at` is at or before the command's time.
    ExpireOrders,
    /// Logs one session token (its `jti`) of `user` out until `expires_at`, the token's
    /// own expiry. Journaled, so every gateway, restart and follower refuses it.
    RevokeToken {
        user: UserId,
        jti: [u8; 16],
        expires_at: Timestamp,
    },
    /// Whether orders and withdrawals need a KYC-verified user. Core state changed only
    /// by this command (a journal replays from `required: false`), so replay never depends
    /// on the server's current config. Turning it on cancels the open orders of every
    /// unverified user (`CancelReason::KycRequired`).
    SetKycPolicy {
        required: bool,
    },
    /// How long the core remembers an idempotency key (a client order or withdrawal id)
    /// after the command that used it, in milliseconds of command time. Core state changed
    /// only by this command (a journal replays from the core's default, 24 h), so replay
    /// never depends on the server's config. A key whose order is still open, or whose
    /// withdrawal is still pending, is kept until that ends. No event.
    SetIdempotencyWindow {
        ms: u64,
    },
    /// `CreateApiKey` with what the key may do and from which addresses (see
    /// `ApiKeyScope`). Same event (`ApiKeyCreated`) and reject codes as `CreateApiKey`.
    CreateScopedApiKey {
        user: UserId,
        key_id: String,
        /// The API secret, encrypted by the gateway; the core only stores it.
        secret_enc: String,
        label: String,
        scope: ApiKeyScope,
    },
    /// The policy of every KYC level, `levels[n]` for level `n` (exactly
    /// `KYC_MAX_LEVEL + 1` of them, each asset at most once per level:
    /// `INVALID_KYC_POLICY` otherwise). Core state changed only by this command (a
    /// journal replays from `KycLevel::open()` for every level), so replay never depends
    /// on the server's config. A level that loses `may_trade` has its users' open orders
    /// canceled (`CancelReason::KycRequired`). No event.
    SetKycLevels {
        levels: Vec<KycLevel>,
    },
    /// Compliance data of a user; fields left `None` are unchanged. `kyc_level` above
    /// `KYC_MAX_LEVEL` is `INVALID_KYC_LEVEL`; `beneficial_owner: Some(None)` clears it,
    /// and one longer than `BENEFICIAL_OWNER_MAX` characters is
    /// `INVALID_BENEFICIAL_OWNER`. Moving the user to a
    /// level that may not trade cancels their open orders (`CancelReason::KycRequired`).
    SetUserCompliance {
        user: UserId,
        kyc_level: Option<u8>,
        beneficial_owner: Option<Option<String>>,
    },
}

/// An order as submitted. Which optional fields are required depends on `order_type`:
///
/// | type        | price | qty / quote_qty                  | stop_price |
/// |-------------|-------|----------------------------------|------------|
/// | limit       | yes   | qty                              | no         |
/// | market      | no    | qty, or quote_qty (buy or sell)  | no         |
/// | stop_limit  | yes   | qty                              | yes        |
/// | stop_market | no    | qty, or quote_qty (buy only)     | yes        |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub user: UserId,
    pub market: MarketId,
    pub side: Side,
    pub order_type: OrderType,
    pub price: Option<Price>,
    pub qty: Option<Qty>,
    /// For market orders: spend (buy) or receive (sell) this much quote, fees included.
    pub quote_qty: Option<Amount>,
    pub stop_price: Option<Price>,
    pub tif: TimeInForce,
    /// Required for GTD, forbidden otherwise.
    pub expire_at: Option<Timestamp>,
    pub post_only: bool,
    pub stp: StpMode,
    pub client_order_id: Option<ClientOrderId>,
}

impl NewOrder {
    /// A GTC limit order with default flags: the common case in tests and benchmarks.
    pub fn limit(user: UserId, market: MarketId, side: Side, price: Price, qty: Qty) -> Self {
        Self {
            user,
            market,
            side,
            order_type: OrderType::Limit,
            price: Some(price),
            qty: Some(qty),
            quote_qty: None,
            stop_price: None,
            tif: TimeInForce::Gtc,
            expire_at: None,
            post_only: false,
            stp: StpMode::ExpireTaker,
            client_order_id: None,
        }
    }
}
