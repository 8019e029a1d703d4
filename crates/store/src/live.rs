//! What the WebSocket fan-out seeds a market's live state from when it (re)starts: the
//! latest candle of each interval and the last trade, together with the sequence they
//! reflect — read in one statement, so all three come from the same committed projection.

use crate::candles::{Candle, Interval};
use crate::db::{uint, Arg};
use crate::error::{Result, StoreError};
use crate::Store;
use bourse_model::{Amount, MarketId, Price, Qty, Timestamp};

/// A market's live state as the read models have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveMarket {
    /// The last command sequence projected: everything up to it, nothing after.
    pub seq: u64,
    /// The latest candle of each interval that has one.
    pub candles: Vec<(Interval, Candle)>,
    /// Price and quantity of the newest trade.
    pub last_trade: Option<(Price, Qty)>,
}

#[derive(sqlx::FromRow)]
struct RawLive {
    last_seq: i64,
    period: Option<String>,
    bucket: Option<i64>,
    open: Option<i64>,
    high: Option<i64>,
    low: Option<i64>,
    close: Option<i64>,
    volume: Option<i64>,
    quote_volume: Option<i64>,
    trade_count: Option<i64>,
    last_price: Option<i64>,
    last_qty: Option<i64>,
}

impl RawLive {
    fn candle(&self) -> Result<Option<(Interval, Candle)>> {
        const T: &str = "candles";
        let Some(period) = &self.period else {
            return Ok(None);
        };
        let n = |v: Option<i64>| uint(v.ok_or(StoreError::Corrupt(T))?, T);
        let interval = period.parse().map_err(|_| StoreError::Corrupt(T))?;
        Ok(Some((
            interval,
            Candle {
                start: Timestamp(n(self.bucket)?),
                open: Price(n(self.open)?),
                high: Price(n(self.high)?),
                low: Price(n(self.low)?),
                close: Price(n(self.close)?),
                volume: Qty(n(self.volume)?),
                quote_volume: Amount(n(self.quote_volume)?),
                trade_count: n(self.trade_count)?,
            },
        )))
    }
}

/// One row per interval with a candle (or one row of nulls), each carrying the projected
/// sequence and the last trade.
const LIVE: &str = "SELECT p.last_seq AS last_seq, c.period AS period, c.bucket AS bucket, \
    c.open AS open, c.high AS high, c.low AS low, c.close AS close, c.volume AS volume, \
    c.quote_volume AS quote_volume, c.trade_count AS trade_count, \
    (SELECT t.price FROM trades t WHERE t.market_id = $1 ORDER BY t.id DESC LIMIT 1) AS last_price, \
    (SELECT t.qty FROM trades t WHERE t.market_id = $1 ORDER BY t.id DESC LIMIT 1) AS last_qty \
    FROM projector_state p \
    LEFT JOIN candles c ON c.market_id = $1 AND c.bucket = \
        (SELECT MAX(m.bucket) FROM candles m WHERE m.market_id = $1 AND m.period = c.period) \
    WHERE p.id = 1";

impl Store {
    /// The latest candles and the last trade of `market`, and the sequence they reflect.
    pub async fn live_market(&self, market: MarketId) -> Result<LiveMarket> {
        let id = i64::from(market.0);
        let rows: Vec<RawLive> = self.backend.fetch_all(LIVE, &[Arg::I64(id)]).await?;
        let first = rows.first().ok_or(StoreError::Corrupt("projector_state"))?;
        let seq = uint(first.last_seq, "projector_state")?;
        let last_trade = match (first.last_price, first.last_qty) {
            (Some(p), Some(q)) => Some((Price(uint(p, "trades")?), Qty(uint(q, "trades")?))),
            _ => None,
        };
        let mut candles = Vec::new();
        for r in &rows {
            candles.extend(r.candle()?);
        }
        Ok(LiveMarket {
            seq,
            candles,
            last_trade,
        })
    }
}
