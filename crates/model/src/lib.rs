//! Domain types shared by every Bourse crate.
//!
//! Nothing here does I/O. Money is never a float: prices are integer *ticks*, sizes are
//! integer *lots* (both on a per-market grid, see [`MarketSpec`]), and balances are integer
//! *minor units* of an asset (see [`Amount`]). Decimal strings are parsed exactly and an
//! input that is not on the grid is rejected, never rounded.

mod api_key;
mod command;
mod decimal;
mod event;
mod ids;
mod kyc;
mod market;
mod order;
mod order_state;
mod origin;
mod reject;
mod user;

pub use api_key::{masked, ApiKeyScope, IpBlock, Permission, Permissions};
pub use command::{Command, CommandKind, NewOrder};
pub use decimal::{format_units, parse_units, DecimalError};
pub use event::{CancelReason, Event, ExpireReason, OrderInfo, OrderStatus};
pub use ids::{
    AssetId, ClientOrderId, ClientWithdrawalId, IdError, MarketId, OrderId, Symbol, Timestamp,
    TradeId, UserId, WithdrawalId,
};
pub use kyc::{AssetLimit, KycLevel, LimitAmount, BENEFICIAL_OWNER_MAX, KYC_MAX_LEVEL};
pub use market::{AssetSpec, FeeSchedule, GridError, MarketSpec, MarketSpecError, MarketStatus};
pub use order::{Amount, OrderType, Price, Qty, Side, StpMode, TimeInForce};
pub use order_state::{concerned_orders, EndReason, Liquidity, OrderFill, OrderState};
pub use origin::{Channel, Origin};
pub use reject::RejectCode;
pub use user::{Role, Tier};
