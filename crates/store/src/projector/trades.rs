//! Trades: one trade row and two fill rows (maker and taker) each, collected across the
//! batch and inserted at the end; each trade also adds to its orders and its candles.

use super::{i, s, Pending};
use crate::db::{insert_many, Tx};
use crate::error::{Result, StoreError};
use crate::rows::{name, FillRow, Liquidity, TradeRow};
use bourse_model::{Event, Timestamp};

impl Pending {
    /// `Trade`.
    pub(super) async fn project_trade(
        &mut self,
        tx: &mut Tx,
        ts: Timestamp,
        event: &Event,
    ) -> Result<()> {
        match event {
            Event::Trade {
                id,
                market,
                price,
                qty,
                notional,
                taker_side,
                maker_order,
                maker_user,
                taker_order,
                taker_user,
                maker_fee,
                taker_fee,
            } => {
                let fee_asset = self.quote(tx, *market).await?;
                for (order, user) in [(*maker_order, *maker_user), (*taker_order, *taker_user)] {
                    let o = self.order(tx, order).await?;
                    // The fold records this order's half of the trade as its newest fill.
                    if !o.apply(event, ts) {
                        return Err(StoreError::Inconsistent(format!(
                            "trade {id} on ended order {order}"
                        )));
                    }
                    let f = o.fills.pop().expect("a trade the fold applied is a fill");
                    let fill_id =
                        id.0.checked_mul(2)
                            .and_then(|v| v.checked_add(u64::from(f.liquidity == Liquidity::Taker)))
                            .ok_or(StoreError::OutOfRange("trade id"))?;
                    self.fills.push(FillRow {
                        id: fill_id,
                        trade_id: *id,
                        order_id: order,
                        user,
                        market: *market,
                        side: f.side,
                        price: f.price,
                        qty: f.qty,
                        notional: f.notional,
                        fee: f.fee,
                        fee_asset,
                        liquidity: f.liquidity,
                        created_at: ts,
                    });
                }
                self.trades.push(TradeRow {
                    id: *id,
                    market: *market,
                    price: *price,
                    qty: *qty,
                    notional: *notional,
                    taker_side: *taker_side,
                    maker_order: *maker_order,
                    maker_user: *maker_user,
                    taker_order: *taker_order,
                    taker_user: *taker_user,
                    maker_fee: *maker_fee,
                    taker_fee: *taker_fee,
                    created_at: ts,
                });
                self.add_to_candles(tx, ts, *market, *price, *qty, *notional)
                    .await?;
            }
            _ => unreachable!("Pending::apply routes only trades here"),
        }
        Ok(())
    }

    pub(super) async fn flush_trades(&mut self, tx: &mut Tx) -> Result<()> {
        let mut flat = Vec::with_capacity(self.trades.len() * 13);
        for t in &self.trades {
            flat.extend([
                i(t.id.0)?,
                i(u64::from(t.market.0))?,
                i(t.price.0)?,
                i(t.qty.0)?,
                i(t.notional.0)?,
                s(name(&t.taker_side)),
                i(t.maker_order.0)?,
                i(t.maker_user.0)?,
                i(t.taker_order.0)?,
                i(t.taker_user.0)?,
                i(t.maker_fee.0)?,
                i(t.taker_fee.0)?,
                i(t.created_at.0)?,
            ]);
        }
        insert_many(
            tx,
            "INSERT INTO trades (id, market_id, price, qty, notional, taker_side, maker_order, \
             maker_user, taker_order, taker_user, maker_fee, taker_fee, created_at) VALUES",
            "",
            13,
            &flat,
        )
        .await?;

        let mut flat = Vec::with_capacity(self.fills.len() * 13);
        for f in &self.fills {
            flat.extend([
                i(f.id)?,
                i(f.trade_id.0)?,
                i(f.order_id.0)?,
                i(f.user.0)?,
                i(u64::from(f.market.0))?,
                s(name(&f.side)),
                i(f.price.0)?,
                i(f.qty.0)?,
                i(f.notional.0)?,
                i(f.fee.0)?,
                i(u64::from(f.fee_asset.0))?,
                s(name(&f.liquidity)),
                i(f.created_at.0)?,
            ]);
        }
        insert_many(
            tx,
            "INSERT INTO fills (id, trade_id, order_id, user_id, market_id, side, price, qty, \
             notional, fee, fee_asset, liquidity, created_at) VALUES",
            "",
            13,
            &flat,
        )
        .await?;
        Ok(())
    }
}
