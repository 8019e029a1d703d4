//! Candles: every trade adds to its market's bucket of each interval, folded in memory
//! across the batch (a bucket the batch has not seen yet is loaded first) and upserted at
//! the end.

use super::{i, overflow, s, CandleKey, Pending};
use crate::candles::{Candle, Interval};
use crate::db::{insert_many, Tx};
use crate::error::Result;
use crate::rows::RawCandle;
use bourse_model::{Amount, MarketId, Price, Qty, Timestamp};
use std::collections::btree_map::Entry;

impl Pending {
    /// Adds a trade at `ts` to its candle of every interval.
    pub(super) async fn add_to_candles(
        &mut self,
        tx: &mut Tx,
        ts: Timestamp,
        market: MarketId,
        price: Price,
        qty: Qty,
        notional: Amount,
    ) -> Result<()> {
        for interval in Interval::ALL {
            let key = (market, interval, interval.bucket(ts));
            let prev = match self.candles.entry(key) {
                Entry::Occupied(e) => Some(*e.get()),
                Entry::Vacant(_) => load_candle(tx, key).await?,
            };
            let candle = Candle::after_trade(prev.as_ref(), interval, ts, price, qty, notional)
                .ok_or_else(|| overflow("candle"))?;
            self.candles.insert(key, candle);
        }
        Ok(())
    }

    pub(super) async fn flush_candles(&mut self, tx: &mut Tx) -> Result<()> {
        let mut flat = Vec::with_capacity(self.candles.len() * 10);
        for ((market, interval, _), c) in &self.candles {
            flat.extend([
                i(u64::from(market.0))?,
                s(interval.as_str()),
                i(c.start.0)?,
                i(c.open.0)?,
                i(c.high.0)?,
                i(c.low.0)?,
                i(c.close.0)?,
                i(c.volume.0)?,
                i(c.quote_volume.0)?,
                i(c.trade_count)?,
            ]);
        }
        insert_many(
            tx,
            "INSERT INTO candles (market_id, period, bucket, open, high, low, close, volume, \
             quote_volume, trade_count) VALUES",
            " ON CONFLICT (market_id, period, bucket) DO UPDATE SET open = excluded.open, \
             high = excluded.high, low = excluded.low, close = excluded.close, \
             volume = excluded.volume, quote_volume = excluded.quote_volume, \
             trade_count = excluded.trade_count",
            10,
            &flat,
        )
        .await
    }
}

async fn load_candle(tx: &mut Tx, (market, interval, start): CandleKey) -> Result<Option<Candle>> {
    let raw: Option<RawCandle> = tx
        .fetch_optional(
            "SELECT * FROM candles WHERE market_id = $1 AND period = $2 AND bucket = $3",
            &[i(u64::from(market.0))?, s(interval.as_str()), i(start.0)?],
        )
        .await?;
    raw.map(|r| r.into_candle().map(|(_, c)| c)).transpose()
}
