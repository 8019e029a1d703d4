//! Typed rows the queries return, and their raw database forms. Raw rows hold only
//! `i64`/`String`/`bool` so one `FromRow` derive decodes from both backends; converting them
//! checks every value (a negative amount or an unknown enum name is `StoreError::Corrupt`).

use crate::candles::{Candle, Interval};
use crate::db::uint;
use crate::error::{Result, StoreError};
use bourse_model::{
    Amount, AssetId, ClientOrderId, MarketId, MarketSpec, MarketStatus, OrderId, OrderInfo,
    OrderState, OrderStatus, OrderType, Price, Qty, Role, Side, StpMode, Symbol, Tier, TimeInForce,
    Timestamp, TradeId, UserId, WithdrawalId,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::borrow::Cow;

/// The snake_case name an enum has on the wire (its serde name), used as the column value.
pub(crate) fn name<T: Serialize>(v: &T) -> Cow<'static, str> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Cow::Owned(s),
        // The model's enums are all unit variants with string names.
        _ => unreachable!("enum without a string name"),
    }
}

pub(crate) fn parse<T: DeserializeOwned>(s: String, table: &'static str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s)).map_err(|_| StoreError::Corrupt(table))
}

fn opt(v: Option<i64>, table: &'static str) -> Result<Option<u64>> {
    v.map(|v| uint(v, table)).transpose()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub tier: Tier,
    pub kyc_verified: bool,
    pub kill_switch: bool,
    pub kyc_level: u8,
    pub beneficial_owner: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawUser {
    id: i64,
    username: String,
    password_hash: String,
    role: String,
    tier: String,
    kyc_verified: bool,
    kill_switch: bool,
    kyc_level: i64,
    beneficial_owner: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<RawUser> for UserRow {
    type Error = StoreError;
    fn try_from(r: RawUser) -> Result<Self> {
        const T: &str = "users";
        Ok(UserRow {
            id: UserId(uint(r.id, T)?),
            username: r.username,
            password_hash: r.password_hash,
            role: parse(r.role, T)?,
            tier: parse(r.tier, T)?,
            kyc_verified: r.kyc_verified,
            kill_switch: r.kill_switch,
            kyc_level: u8::try_from(r.kyc_level)
                .map_err(|_| StoreError::Inconsistent(format!("{T}: kyc_level {}", r.kyc_level)))?,
            beneficial_owner: r.beneficial_owner,
            created_at: Timestamp(uint(r.created_at, T)?),
            updated_at: Timestamp(uint(r.updated_at, T)?),
        })
    }
}

/// An API key. `secret_enc` is the gateway-encrypted secret, stored as the core got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub key_id: String,
    pub user: UserId,
    pub label: String,
    pub secret_enc: String,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawApiKey {
    key_id: String,
    user_id: i64,
    label: String,
    secret_enc: String,
    created_at: i64,
}

impl TryFrom<RawApiKey> for ApiKeyRow {
    type Error = StoreError;
    fn try_from(r: RawApiKey) -> Result<Self> {
        const T: &str = "api_keys";
        Ok(ApiKeyRow {
            key_id: r.key_id,
            user: UserId(uint(r.user_id, T)?),
            label: r.label,
            secret_enc: r.secret_enc,
            created_at: Timestamp(uint(r.created_at, T)?),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRow {
    pub id: AssetId,
    pub symbol: Symbol,
    pub scale: u8,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawAsset {
    id: i64,
    symbol: String,
    scale: i64,
    created_at: i64,
}

impl TryFrom<RawAsset> for AssetRow {
    type Error = StoreError;
    fn try_from(r: RawAsset) -> Result<Self> {
        const T: &str = "assets";
        Ok(AssetRow {
            id: AssetId(u32::try_from(r.id).map_err(|_| StoreError::Corrupt(T))?),
            symbol: Symbol::new(r.symbol).map_err(|_| StoreError::Corrupt(T))?,
            scale: u8::try_from(r.scale).map_err(|_| StoreError::Corrupt(T))?,
            created_at: Timestamp(uint(r.created_at, T)?),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketRow {
    pub id: MarketId,
    pub spec: MarketSpec,
    pub status: MarketStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawMarket {
    id: i64,
    status: String,
    spec: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<RawMarket> for MarketRow {
    type Error = StoreError;
    fn try_from(r: RawMarket) -> Result<Self> {
        const T: &str = "markets";
        Ok(MarketRow {
            id: MarketId(u32::try_from(r.id).map_err(|_| StoreError::Corrupt(T))?),
            spec: serde_json::from_str(&r.spec).map_err(|_| StoreError::Corrupt(T))?,
            status: parse(r.status, T)?,
            created_at: Timestamp(uint(r.created_at, T)?),
            updated_at: Timestamp(uint(r.updated_at, T)?),
        })
    }
}

/// Why an order left the book early: the order fold's reason.
pub use bourse_model::EndReason as OrderReason;

/// An order as the API shows it. `filled_notional` (Σ price × qty of its fills, quote minor
/// units) over `filled_qty` gives the average price; `fees` is what this order paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
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
    pub status: OrderStatus,
    pub filled_qty: Qty,
    /// Unknown (`None`) only for a market order sized by quote amount that is still live.
    pub remaining_qty: Option<Qty>,
    pub filled_notional: Amount,
    pub fees: Amount,
    pub reason: Option<OrderReason>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawOrder {
    id: i64,
    user_id: i64,
    market_id: i64,
    side: String,
    order_type: String,
    price: Option<i64>,
    qty: Option<i64>,
    quote_qty: Option<i64>,
    stop_price: Option<i64>,
    tif: String,
    expire_at: Option<i64>,
    post_only: bool,
    stp: String,
    client_order_id: Option<String>,
    status: String,
    filled_qty: i64,
    remaining_qty: Option<i64>,
    filled_notional: i64,
    fees: i64,
    reason: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<RawOrder> for OrderRow {
    type Error = StoreError;
    fn try_from(r: RawOrder) -> Result<Self> {
        const T: &str = "orders";
        let status: OrderStatus = parse(r.status, T)?;
        let reason = match (status, r.reason) {
            (_, None) => None,
            (OrderStatus::Canceled, Some(s)) => Some(OrderReason::Canceled(parse(s, T)?)),
            (OrderStatus::Expired, Some(s)) => Some(OrderReason::Expired(parse(s, T)?)),
            (_, Some(_)) => return Err(StoreError::Corrupt(T)),
        };
        Ok(OrderRow {
            id: OrderId(uint(r.id, T)?),
            user: UserId(uint(r.user_id, T)?),
            market: MarketId(u32::try_from(r.market_id).map_err(|_| StoreError::Corrupt(T))?),
            side: parse(r.side, T)?,
            order_type: parse(r.order_type, T)?,
            price: opt(r.price, T)?.map(Price),
            qty: opt(r.qty, T)?.map(Qty),
            quote_qty: opt(r.quote_qty, T)?.map(Amount),
            stop_price: opt(r.stop_price, T)?.map(Price),
            tif: parse(r.tif, T)?,
            expire_at: opt(r.expire_at, T)?.map(Timestamp),
            post_only: r.post_only,
            stp: parse(r.stp, T)?,
            client_order_id: r
                .client_order_id
                .map(ClientOrderId::new)
                .transpose()
                .map_err(|_| StoreError::Corrupt(T))?,
            status,
            filled_qty: Qty(uint(r.filled_qty, T)?),
            remaining_qty: opt(r.remaining_qty, T)?.map(Qty),
            filled_notional: Amount(uint(r.filled_notional, T)?),
            fees: Amount(uint(r.fees, T)?),
            reason,
            created_at: Timestamp(uint(r.created_at, T)?),
            updated_at: Timestamp(uint(r.updated_at, T)?),
        })
    }
}

/// A row is an order fold's state written out: the row's price and size are the fold's
/// current ones (amends change them), the rest is the accepted order.
impl From<&OrderState> for OrderRow {
    fn from(o: &OrderState) -> Self {
        let i = &o.info;
        OrderRow {
            id: i.id,
            user: i.user,
            market: i.market,
            side: i.side,
            order_type: i.order_type,
            price: o.price,
            qty: o.qty,
            quote_qty: i.quote_qty,
            stop_price: i.stop_price,
            tif: i.tif,
            expire_at: i.expire_at,
            post_only: i.post_only,
            stp: i.stp,
            client_order_id: i.client_order_id.clone(),
            status: o.status,
            filled_qty: o.filled,
            remaining_qty: o.remaining,
            filled_notional: o.filled_notional,
            fees: o.fees,
            reason: o.reason,
            created_at: i.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// The fold resumed from a stored row (no fills pending), so later events apply to it.
impl From<OrderRow> for OrderState {
    fn from(r: OrderRow) -> Self {
        OrderState {
            info: OrderInfo {
                id: r.id,
                user: r.user,
                market: r.market,
                side: r.side,
                order_type: r.order_type,
                price: r.price,
                qty: r.qty,
                quote_qty: r.quote_qty,
                stop_price: r.stop_price,
                tif: r.tif,
                expire_at: r.expire_at,
                post_only: r.post_only,
                stp: r.stp,
                client_order_id: r.client_order_id,
                created_at: r.created_at,
            },
            status: r.status,
            price: r.price,
            qty: r.qty,
            filled: r.filled_qty,
            remaining: r.remaining_qty,
            filled_notional: r.filled_notional,
            fees: r.fees,
            reason: r.reason,
            updated_at: r.updated_at,
            fills: Vec::new(),
        }
    }
}

/// Maker or taker: the model's type (one definition for the fold, rows and JSON).
pub use bourse_model::Liquidity;

/// One side of a trade. `id` = trade id × 2 + (0 maker, 1 taker): unique, and ordered like
/// trades, so it is the fills cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillRow {
    pub id: u64,
    pub trade_id: TradeId,
    pub order_id: OrderId,
    pub user: UserId,
    pub market: MarketId,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
    pub notional: Amount,
    pub fee: Amount,
    /// Fees are charged in the market's quote asset.
    pub fee_asset: AssetId,
    pub liquidity: Liquidity,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawFill {
    id: i64,
    trade_id: i64,
    order_id: i64,
    user_id: i64,
    market_id: i64,
    side: String,
    price: i64,
    qty: i64,
    notional: i64,
    fee: i64,
    fee_asset: i64,
    liquidity: String,
    created_at: i64,
}

impl TryFrom<RawFill> for FillRow {
    type Error = StoreError;
    fn try_from(r: RawFill) -> Result<Self> {
        const T: &str = "fills";
        Ok(FillRow {
            id: uint(r.id, T)?,
            trade_id: TradeId(uint(r.trade_id, T)?),
            order_id: OrderId(uint(r.order_id, T)?),
            user: UserId(uint(r.user_id, T)?),
            market: MarketId(u32::try_from(r.market_id).map_err(|_| StoreError::Corrupt(T))?),
            side: parse(r.side, T)?,
            price: Price(uint(r.price, T)?),
            qty: Qty(uint(r.qty, T)?),
            notional: Amount(uint(r.notional, T)?),
            fee: Amount(uint(r.fee, T)?),
            fee_asset: AssetId(u32::try_from(r.fee_asset).map_err(|_| StoreError::Corrupt(T))?),
            liquidity: parse(r.liquidity, T)?,
            created_at: Timestamp(uint(r.created_at, T)?),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRow {
    pub id: TradeId,
    pub market: MarketId,
    pub price: Price,
    pub qty: Qty,
    pub notional: Amount,
    pub taker_side: Side,
    pub maker_order: OrderId,
    pub maker_user: UserId,
    pub taker_order: OrderId,
    pub taker_user: UserId,
    pub maker_fee: Amount,
    pub taker_fee: Amount,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawTrade {
    id: i64,
    market_id: i64,
    price: i64,
    qty: i64,
    notional: i64,
    taker_side: String,
    maker_order: i64,
    maker_user: i64,
    taker_order: i64,
    taker_user: i64,
    maker_fee: i64,
    taker_fee: i64,
    created_at: i64,
}

impl TryFrom<RawTrade> for TradeRow {
    type Error = StoreError;
    fn try_from(r: RawTrade) -> Result<Self> {
        const T: &str = "trades";
        Ok(TradeRow {
            id: TradeId(uint(r.id, T)?),
            market: MarketId(u32::try_from(r.market_id).map_err(|_| StoreError::Corrupt(T))?),
            price: Price(uint(r.price, T)?),
            qty: Qty(uint(r.qty, T)?),
            notional: Amount(uint(r.notional, T)?),
            taker_side: parse(r.taker_side, T)?,
            maker_order: OrderId(uint(r.maker_order, T)?),
            maker_user: UserId(uint(r.maker_user, T)?),
            taker_order: OrderId(uint(r.taker_order, T)?),
            taker_user: UserId(uint(r.taker_user, T)?),
            maker_fee: Amount(uint(r.maker_fee, T)?),
            taker_fee: Amount(uint(r.taker_fee, T)?),
            created_at: Timestamp(uint(r.created_at, T)?),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceRow {
    pub user: UserId,
    pub asset: AssetId,
    pub available: Amount,
    pub held: Amount,
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawBalance {
    user_id: i64,
    asset_id: i64,
    available: i64,
    held: i64,
    updated_at: i64,
}

impl TryFrom<RawBalance> for BalanceRow {
    type Error = StoreError;
    fn try_from(r: RawBalance) -> Result<Self> {
        const T: &str = "balances";
        Ok(BalanceRow {
            user: UserId(uint(r.user_id, T)?),
            asset: AssetId(u32::try_from(r.asset_id).map_err(|_| StoreError::Corrupt(T))?),
            available: Amount(uint(r.available, T)?),
            held: Amount(uint(r.held, T)?),
            updated_at: Timestamp(uint(r.updated_at, T)?),
        })
    }
}

/// Position of an event in the journal: command sequence and index among its events.
/// Ordered, so it is the cursor for balance history and deposits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventPos {
    pub seq: u64,
    pub idx: u32,
}

/// One `BalanceChanged`: the balance after the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceHistoryRow {
    pub pos: EventPos,
    pub user: UserId,
    pub asset: AssetId,
    pub available: Amount,
    pub held: Amount,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawBalanceHistory {
    seq: i64,
    idx: i64,
    user_id: i64,
    asset_id: i64,
    available: i64,
    held: i64,
    created_at: i64,
}

fn pos(seq: i64, idx: i64, table: &'static str) -> Result<EventPos> {
    Ok(EventPos {
        seq: uint(seq, table)?,
        idx: u32::try_from(idx).map_err(|_| StoreError::Corrupt(table))?,
    })
}

impl TryFrom<RawBalanceHistory> for BalanceHistoryRow {
    type Error = StoreError;
    fn try_from(r: RawBalanceHistory) -> Result<Self> {
        const T: &str = "balance_history";
        Ok(BalanceHistoryRow {
            pos: pos(r.seq, r.idx, T)?,
            user: UserId(uint(r.user_id, T)?),
            asset: AssetId(u32::try_from(r.asset_id).map_err(|_| StoreError::Corrupt(T))?),
            available: Amount(uint(r.available, T)?),
            held: Amount(uint(r.held, T)?),
            created_at: Timestamp(uint(r.created_at, T)?),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositRow {
    pub pos: EventPos,
    pub user: UserId,
    pub asset: AssetId,
    pub amount: Amount,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawDeposit {
    seq: i64,
    idx: i64,
    user_id: i64,
    asset_id: i64,
    amount: i64,
    created_at: i64,
}

impl TryFrom<RawDeposit> for DepositRow {
    type Error = StoreError;
    fn try_from(r: RawDeposit) -> Result<Self> {
        const T: &str = "deposits";
        Ok(DepositRow {
            pos: pos(r.seq, r.idx, T)?,
            user: UserId(uint(r.user_id, T)?),
            asset: AssetId(u32::try_from(r.asset_id).map_err(|_| StoreError::Corrupt(T))?),
            amount: Amount(uint(r.amount, T)?),
            created_at: Timestamp(uint(r.created_at, T)?),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalStatus {
    /// Funds held, waiting for an admin.
    Requested,
    Completed,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalRow {
    pub id: WithdrawalId,
    pub user: UserId,
    pub asset: AssetId,
    pub amount: Amount,
    pub address: String,
    pub status: WithdrawalStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawWithdrawal {
    id: i64,
    user_id: i64,
    asset_id: i64,
    amount: i64,
    address: String,
    status: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<RawWithdrawal> for WithdrawalRow {
    type Error = StoreError;
    fn try_from(r: RawWithdrawal) -> Result<Self> {
        const T: &str = "withdrawals";
        Ok(WithdrawalRow {
            id: WithdrawalId(uint(r.id, T)?),
            user: UserId(uint(r.user_id, T)?),
            asset: AssetId(u32::try_from(r.asset_id).map_err(|_| StoreError::Corrupt(T))?),
            amount: Amount(uint(r.amount, T)?),
            address: r.address,
            status: parse(r.status, T)?,
            created_at: Timestamp(uint(r.created_at, T)?),
            updated_at: Timestamp(uint(r.updated_at, T)?),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawCandle {
    period: String,
    bucket: i64,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    volume: i64,
    quote_volume: i64,
    trade_count: i64,
}

impl RawCandle {
    pub(crate) fn into_candle(self) -> Result<(Interval, Candle)> {
        const T: &str = "candles";
        let interval = self.period.parse().map_err(|_| StoreError::Corrupt(T))?;
        Ok((
            interval,
            Candle {
                start: Timestamp(uint(self.bucket, T)?),
                open: Price(uint(self.open, T)?),
                high: Price(uint(self.high, T)?),
                low: Price(uint(self.low, T)?),
                close: Price(uint(self.close, T)?),
                volume: Qty(uint(self.volume, T)?),
                quote_volume: Amount(uint(self.quote_volume, T)?),
                trade_count: uint(self.trade_count, T)?,
            },
        ))
    }
}

/// What a 24 h ticker needs, aggregated from 1-minute candles whose bucket starts in
/// `(now - 24h, now]`: the window is exact to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticker24h {
    pub market: MarketId,
    /// `None` when the market had no trade in the window.
    pub window: Option<TickerWindow>,
    /// The latest trade price at `now` (may be older than 24 h).
    pub last_price: Option<Price>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickerWindow {
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    pub volume: Qty,
    pub quote_volume: Amount,
    pub trade_count: u64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawSeq {
    pub(crate) last_seq: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawPrice {
    pub(crate) price: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RawQuote {
    pub(crate) quote: i64,
}
