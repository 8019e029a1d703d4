//! The JSON shapes of the API (DESIGN §4) shared by REST and WebSocket, and their
//! conversion from core, store and event types. Money and sizes are decimal strings on
//! the market's grid; times are ms.

use crate::market_info::MarketInfo;
use bourse_model::{
    format_units, EndReason, MarketStatus, OrderFill, OrderId, OrderState, OrderStatus, OrderType,
    Side, StpMode, TimeInForce,
};
use bourse_store::{FillRow, Liquidity, OrderRow};
use serde::Serialize;
use utoipa::ToSchema;

// Schema-only mirrors of model enums (the model crate does not depend on utoipa). Each
// is `as` the model type's name, and the wire form is the model's serde form.

/// Order side.
#[derive(ToSchema)]
#[schema(as = Side, rename_all = "snake_case")]
#[allow(dead_code)]
pub enum SideSchema {
    Buy,
    Sell,
}

/// Order type.
#[derive(ToSchema)]
#[schema(as = OrderType, rename_all = "snake_case")]
#[allow(dead_code)]
pub enum OrderTypeSchema {
    Limit,
    Market,
    StopLimit,
    StopMarket,
}

/// Time in force: `gtc` good till canceled, `ioc` immediate or cancel, `fok` fill or
/// kill, `gtd` good till `expire_at`. Market orders are IOC (`gtc` is read as `ioc`) or FOK.
#[derive(ToSchema)]
#[schema(as = TimeInForce, rename_all = "snake_case")]
#[allow(dead_code)]
pub enum TimeInForceSchema {
    Gtc,
    Ioc,
    Fok,
    Gtd,
}

/// Self-trade prevention: what happens when an order would match one of the same user.
#[derive(ToSchema)]
#[schema(as = StpMode, rename_all = "snake_case")]
#[allow(dead_code)]
pub enum StpModeSchema {
    ExpireTaker,
    ExpireMaker,
    ExpireBoth,
}

/// Order status; a stop order waiting for its trigger is `new`.
#[derive(ToSchema)]
#[schema(as = OrderStatus, rename_all = "snake_case")]
#[allow(dead_code)]
pub enum OrderStatusSchema {
    New,
    Open,
    PartiallyFilled,
    Filled,
    Canceled,
    Rejected,
    Expired,
}

/// Why an order ended other than by filling: the owner (`user`), the admin kill switch,
/// self-trade prevention, KYC (`kyc_required`); an IOC or market remainder with no
/// liquidity left within its limit (`immediate_or_cancel`), a FOK that could not fill, a
/// GTD past `expire_at` (`good_till_date`), or a market remainder stopped by its slippage
/// bound (`price_protection`: the book's next price lay more than the market's
/// `market_slippage_bps` from the best price, or the stop price, at acceptance).
#[derive(ToSchema)]
#[schema(as = EndReason, rename_all = "snake_case")]
#[allow(dead_code)]
pub enum EndReasonSchema {
    User,
    KillSwitch,
    SelfTradePrevention,
    KycRequired,
    ImmediateOrCancel,
    FillOrKill,
    GoodTillDate,
    PriceProtection,
}

/// Whether a fill added (maker) or took (taker) liquidity.
#[derive(ToSchema)]
#[schema(as = Liquidity, rename_all = "snake_case")]
#[allow(dead_code)]
pub enum LiquiditySchema {
    Maker,
    Taker,
}

/// `open`, or `halted` (no new orders or amends; cancels work).
#[derive(ToSchema)]
#[schema(as = MarketStatus, rename_all = "snake_case")]
#[allow(dead_code)]
pub enum MarketStatusSchema {
    Open,
    Halted,
}

/// A market: its grid, limits and fees (per tier in `fees`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketJson {
    #[schema(example = "BTC-USD")]
    pub symbol: String,
    #[schema(example = "BTC")]
    pub base: String,
    #[schema(example = "USD")]
    pub quote: String,
    #[schema(value_type = MarketStatusSchema)]
    pub status: MarketStatus,
    /// Price increment; prices off this grid are refused.
    #[schema(example = "0.01")]
    pub tick_size: String,
    /// Size increment; sizes off this grid are refused.
    #[schema(example = "0.0001")]
    pub lot_size: String,
    #[schema(example = "0.0001")]
    pub min_quantity: String,
    #[schema(example = "1000.0000")]
    pub max_quantity: String,
    /// Smallest value (price × quantity) of a limit order, in the quote asset.
    #[schema(example = "1.000000")]
    pub min_notional: String,
    /// Decimals of the base and quote assets' minor units.
    #[schema(example = 8)]
    pub base_decimals: u8,
    #[schema(example = 6)]
    pub quote_decimals: u8,
    /// Fees of the standard tier in basis points (1 bp = 0.01 %), charged in the quote
    /// asset: the same as `fees.standard`.
    #[schema(example = 10)]
    pub maker_fee_bps: u32,
    #[schema(example = 20)]
    pub taker_fee_bps: u32,
    /// Fees of each user tier.
    pub fees: crate::markets::TierFees,
    /// Limit prices further than this from the last trade are refused; 0 = off.
    #[schema(example = 0)]
    pub price_band_bps: u32,
    /// Most open orders per user in this market (0 = no limit).
    #[schema(example = 1000)]
    pub max_open_orders: u32,
    #[schema(example = "101.25")]
    pub last_price: Option<String>,
}

impl From<&MarketInfo> for MarketJson {
    fn from(m: &MarketInfo) -> Self {
        let fee = m.spec.fee(bourse_model::Tier::Standard);
        MarketJson {
            symbol: m.symbol().to_owned(),
            base: m.base.clone(),
            quote: m.quote.clone(),
            status: m.status,
            tick_size: format_units(m.spec.tick, m.spec.price_scale),
            lot_size: format_units(m.spec.lot, m.spec.qty_scale),
            min_quantity: m.qty(m.spec.min_qty),
            max_quantity: m.qty(m.spec.max_qty),
            min_notional: m.quote_amount(m.spec.min_notional),
            base_decimals: m.spec.base_scale,
            quote_decimals: m.spec.quote_scale,
            maker_fee_bps: fee.maker_bps,
            taker_fee_bps: fee.taker_bps,
            fees: crate::markets::TierFees::from_schedule(&m.spec.fees),
            price_band_bps: m.spec.price_band_bps,
            max_open_orders: m.spec.max_open_orders,
            last_price: m.last_price.map(|p| m.price(p)),
        }
    }
}

/// One side of a trade, as the order's owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FillJson {
    #[schema(example = 17)]
    pub trade_id: u64,
    #[schema(example = 42)]
    pub order_id: u64,
    #[schema(example = "BTC-USD")]
    pub market: String,
    #[schema(value_type = SideSchema)]
    pub side: Side,
    #[schema(example = "101.25")]
    pub price: String,
    #[schema(example = "0.5000")]
    pub quantity: String,
    /// Fee paid, in `fee_asset` (the quote asset).
    #[schema(example = "0.101250")]
    pub fee: String,
    #[schema(example = "USD")]
    pub fee_asset: String,
    #[schema(value_type = LiquiditySchema)]
    pub liquidity: Liquidity,
    /// ms since the epoch.
    #[schema(example = 1_700_000_000_000_u64)]
    pub created_at: u64,
}

impl FillJson {
    /// One fill of the order fold.
    pub fn of(m: &MarketInfo, order: OrderId, f: &OrderFill) -> Self {
        FillJson {
            trade_id: f.trade.0,
            order_id: order.0,
            market: m.symbol().to_owned(),
            side: f.side,
            price: m.price(f.price),
            quantity: m.qty(f.qty),
            fee: m.quote_amount(f.fee),
            fee_asset: m.quote.clone(),
            liquidity: f.liquidity,
            created_at: f.ts.0,
        }
    }

    pub fn from_row(m: &MarketInfo, f: &FillRow) -> Self {
        FillJson {
            trade_id: f.trade_id.0,
            order_id: f.order_id.0,
            market: m.symbol().to_owned(),
            side: f.side,
            price: m.price(f.price),
            quantity: m.qty(f.qty),
            fee: m.quote_amount(f.fee),
            fee_asset: m.quote.clone(),
            liquidity: f.liquidity,
            created_at: f.created_at.0,
        }
    }
}

/// An order and where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": 42, "client_order_id": "my-order-1", "market": "BTC-USD",
    "side": "buy", "type": "limit", "time_in_force": "gtc", "status": "partially_filled",
    "price": "101.25", "stop_price": null, "quantity": "1.0000", "quote_quantity": null,
    "filled_quantity": "0.5000", "remaining_quantity": "0.5000", "average_price": "101.25",
    "post_only": false, "stp": "expire_taker", "expire_at": null, "reason": null,
    "created_at": 1_700_000_000_000_u64, "updated_at": 1_700_000_000_500_u64,
    "fills": [{"trade_id": 17, "order_id": 42, "market": "BTC-USD", "side": "buy",
    "price": "101.25", "quantity": "0.5000", "fee": "0.101250", "fee_asset": "USD",
    "liquidity": "taker", "created_at": 1_700_000_000_500_u64}]}))]
pub struct OrderJson {
    pub id: u64,
    pub client_order_id: Option<String>,
    pub market: String,
    #[schema(value_type = SideSchema)]
    pub side: Side,
    #[serde(rename = "type")]
    #[schema(value_type = OrderTypeSchema)]
    pub order_type: OrderType,
    #[schema(value_type = TimeInForceSchema)]
    pub time_in_force: TimeInForce,
    #[schema(value_type = OrderStatusSchema)]
    pub status: OrderStatus,
    /// Limit price (limit and stop-limit orders).
    pub price: Option<String>,
    pub stop_price: Option<String>,
    /// Total size; absent for orders sized by `quote_quantity`.
    pub quantity: Option<String>,
    pub quote_quantity: Option<String>,
    pub filled_quantity: String,
    pub remaining_quantity: Option<String>,
    /// Volume-weighted fill price, rounded down to the tick's decimals.
    pub average_price: Option<String>,
    pub post_only: bool,
    #[schema(value_type = StpModeSchema)]
    pub stp: StpMode,
    pub expire_at: Option<u64>,
    /// Why a canceled or expired order ended; null otherwise.
    #[schema(value_type = Option<EndReasonSchema>)]
    pub reason: Option<EndReason>,
    pub created_at: u64,
    pub updated_at: u64,
    /// The order's fills, oldest first (single-order answers only; absent in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fills: Option<Vec<FillJson>>,
}

impl OrderJson {
    /// From the read model (any order, open or closed): the row is the fold written
    /// out, so it reads back through [`OrderJson::from_state`].
    pub fn from_row(m: &MarketInfo, o: &OrderRow, fills: Option<Vec<FillJson>>) -> Self {
        let mut json = OrderJson::from_state(m, &OrderState::from(o.clone()));
        json.fills = fills;
        json
    }

    /// From the order fold (`bourse_model::OrderState`): its status, sizes and average
    /// price, and the fills it folded (one command's, for a reply).
    pub fn from_state(m: &MarketInfo, o: &OrderState) -> Self {
        let info = &o.info;
        let priced = matches!(info.order_type, OrderType::Limit | OrderType::StopLimit);
        OrderJson {
            id: info.id.0,
            client_order_id: info.client_order_id.as_ref().map(|c| c.to_string()),
            market: m.symbol().to_owned(),
            side: info.side,
            order_type: info.order_type,
            time_in_force: info.tif,
            status: o.status,
            price: o.price.filter(|_| priced).map(|p| m.price(p)),
            stop_price: info.stop_price.map(|p| m.price(p)),
            quantity: o.qty.map(|q| m.qty(q)),
            quote_quantity: info.quote_qty.map(|a| m.quote_amount(a)),
            filled_quantity: m.qty(o.filled),
            remaining_quantity: o.remaining.map(|q| m.qty(q)),
            average_price: m.average_price(o.filled_notional, o.filled),
            post_only: info.post_only,
            stp: info.stp,
            expire_at: info.expire_at.map(|t| t.0),
            reason: o.reason,
            created_at: info.created_at.0,
            updated_at: o.updated_at.0,
            fills: Some(
                o.fills
                    .iter()
                    .map(|f| FillJson::of(m, info.id, f))
                    .collect(),
            ),
        }
    }
}
