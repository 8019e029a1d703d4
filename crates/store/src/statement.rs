//! A user's statement: their deposits, withdrawals (not rejected ones: those moved
//! nothing) and fills, in one time order, read in keyset pages so a statement of any
//! length is never loaded whole.
//!
//! Order and cursor: `(time, kind, key, idx)` ascending, where kind is 0 deposit,
//! 1 withdrawal, 2 fill; key is the deposit's command sequence (idx its event index), the
//! withdrawal id or the fill id (idx 0). A page continues strictly after the last row of
//! the previous one ([`StatementRow::cursor`]).

use crate::db::uint;
use crate::error::{Result, StoreError};
use bourse_model::{AssetId, MarketId, Side, Timestamp};

/// What a statement row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    Deposit,
    Withdrawal,
    /// `side` of the user's order; the amounts are the fill's base quantity (lots) and
    /// quote notional, the fee in the quote asset.
    Fill {
        market: MarketId,
        side: Side,
    },
}

/// One row of [`crate::Store::statement_page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRow {
    pub time: Timestamp,
    pub movement: Movement,
    /// Deposit sequence, withdrawal id or fill id.
    pub key: u64,
    pub idx: u64,
    /// Deposits and withdrawals: the asset; fills: the fee asset (the quote).
    pub asset: AssetId,
    /// Deposits and withdrawals: the amount; fills: the notional (quote minor units).
    pub amount: u64,
    /// Fills: the base quantity in lots; otherwise 0.
    pub qty: u64,
    pub fee: u64,
}

/// Where the next page starts: strictly after this.
pub type StatementCursor = (Timestamp, u8, u64, u64);

impl StatementRow {
    pub fn cursor(&self) -> StatementCursor {
        let kind = match self.movement {
            Movement::Deposit => 0,
            Movement::Withdrawal => 1,
            Movement::Fill { .. } => 2,
        };
        (self.time, kind, self.key, self.idx)
    }
}

/// The union the pages read (`$1` user, `$2`/`$3` the time range); every column typed
/// alike on both backends (PostgreSQL reads a bare literal as INT4).
pub(crate) const STATEMENT_SQL: &str = "SELECT * FROM (\
     SELECT created_at AS t, CAST(0 AS BIGINT) AS k, seq AS r, idx AS x, asset_id AS a, \
     amount AS amount, CAST(0 AS BIGINT) AS qty, CAST(0 AS BIGINT) AS fee, \
     CAST(-1 AS BIGINT) AS m, CAST(NULL AS TEXT) AS side FROM deposits WHERE user_id = $1 \
     UNION ALL \
     SELECT created_at, CAST(1 AS BIGINT), id, CAST(0 AS BIGINT), asset_id, amount, \
     CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(-1 AS BIGINT), CAST(NULL AS TEXT) \
     FROM withdrawals WHERE user_id = $1 AND status <> 'rejected' \
     UNION ALL \
     SELECT created_at, CAST(2 AS BIGINT), id, CAST(0 AS BIGINT), fee_asset, notional, qty, \
     fee, market_id, side FROM fills WHERE user_id = $1\
     ) AS s WHERE t >= $2 AND t <= $3";

#[derive(sqlx::FromRow)]
pub(crate) struct RawStatement {
    t: i64,
    k: i64,
    r: i64,
    x: i64,
    a: i64,
    amount: i64,
    qty: i64,
    fee: i64,
    m: i64,
    side: Option<String>,
}

impl TryFrom<RawStatement> for StatementRow {
    type Error = StoreError;
    fn try_from(r: RawStatement) -> Result<Self> {
        const T: &str = "statement";
        let movement = match (r.k, r.side.as_deref()) {
            (0, _) => Movement::Deposit,
            (1, _) => Movement::Withdrawal,
            (2, Some(s)) => Movement::Fill {
                market: MarketId(u32::try_from(r.m).map_err(|_| StoreError::Corrupt(T))?),
                side: match s {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    _ => return Err(StoreError::Corrupt(T)),
                },
            },
            _ => return Err(StoreError::Corrupt(T)),
        };
        Ok(StatementRow {
            time: Timestamp(uint(r.t, T)?),
            movement,
            key: uint(r.r, T)?,
            idx: uint(r.x, T)?,
            asset: AssetId(u32::try_from(r.a).map_err(|_| StoreError::Corrupt(T))?),
            amount: uint(r.amount, T)?,
            qty: uint(r.qty, T)?,
            fee: uint(r.fee, T)?,
        })
    }
}
