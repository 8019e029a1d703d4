//! Orders: folded in memory across the batch (loaded whole when the batch first touches
//! one it did not create) and written once at the end, with one upsert.

use super::{i, oi, s, Pending};
use crate::db::{insert_many, Arg, Tx};
use crate::error::{Result, StoreError};
use crate::rows::{name, OrderReason, OrderRow, RawOrder};
use bourse_model::{Amount, Event, OrderId, OrderStatus, Qty, Timestamp};
use std::borrow::Cow;
use std::collections::btree_map::Entry;

/// Columns of `orders`, in the order `order_args` binds them.
const ORDER_INSERT: &str = "INSERT INTO orders (id, user_id, market_id, side, order_type, price, \
     qty, quote_qty, stop_price, tif, expire_at, post_only, stp, client_order_id, status, is_open, \
     filled_qty, remaining_qty, filled_notional, fees, reason, created_at, updated_at) VALUES";
const ORDER_COLS: usize = 23;

/// What an order can change after it is accepted.
const ORDER_UPSERT: &str = " ON CONFLICT (id) DO UPDATE SET price = excluded.price, \
     qty = excluded.qty, status = excluded.status, is_open = excluded.is_open, \
     filled_qty = excluded.filled_qty, remaining_qty = excluded.remaining_qty, \
     filled_notional = excluded.filled_notional, fees = excluded.fees, reason = excluded.reason, \
     updated_at = excluded.updated_at";

const ORDER_SELECT: &str = "SELECT * FROM orders WHERE id = $1";

fn is_open(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::New | OrderStatus::Open | OrderStatus::PartiallyFilled
    )
}

fn order_args(o: &OrderRow) -> Result<Vec<Arg<'_>>> {
    Ok(vec![
        i(o.id.0)?,
        i(o.user.0)?,
        i(u64::from(o.market.0))?,
        s(name(&o.side)),
        s(name(&o.order_type)),
        oi(o.price.map(|p| p.0))?,
        oi(o.qty.map(|q| q.0))?,
        oi(o.quote_qty.map(|q| q.0))?,
        oi(o.stop_price.map(|p| p.0))?,
        s(name(&o.tif)),
        oi(o.expire_at.map(|t| t.0))?,
        Arg::Bool(o.post_only),
        s(name(&o.stp)),
        Arg::OptStr(
            o.client_order_id
                .as_ref()
                .map(|c| Cow::Borrowed(c.as_str())),
        ),
        s(name(&o.status)),
        Arg::Bool(is_open(o.status)),
        i(o.filled_qty.0)?,
        oi(o.remaining_qty.map(|q| q.0))?,
        i(o.filled_notional.0)?,
        i(o.fees.0)?,
        Arg::OptStr(reason_name(o.reason)),
        i(o.created_at.0)?,
        i(o.updated_at.0)?,
    ])
}

fn reason_name(r: Option<OrderReason>) -> Option<Cow<'static, str>> {
    r.map(|r| match r {
        OrderReason::Canceled(c) => name(&c),
        OrderReason::Expired(e) => name(&e),
    })
}

impl Pending {
    /// `OrderAccepted`, `StopTriggered`, and the absolute fill and end events.
    pub(super) async fn project_order(
        &mut self,
        tx: &mut Tx,
        ts: Timestamp,
        event: &Event,
    ) -> Result<()> {
        match event {
            Event::OrderAccepted(info) => {
                let status = if info.order_type.is_stop() {
                    OrderStatus::New
                } else {
                    OrderStatus::Open
                };
                let row = OrderRow {
                    id: info.id,
                    user: info.user,
                    market: info.market,
                    side: info.side,
                    order_type: info.order_type,
                    price: info.price,
                    qty: info.qty,
                    quote_qty: info.quote_qty,
                    stop_price: info.stop_price,
                    tif: info.tif,
                    expire_at: info.expire_at,
                    post_only: info.post_only,
                    stp: info.stp,
                    client_order_id: info.client_order_id.clone(),
                    status,
                    filled_qty: Qty::ZERO,
                    remaining_qty: info.qty,
                    filled_notional: Amount::ZERO,
                    fees: Amount::ZERO,
                    reason: None,
                    created_at: ts,
                    updated_at: ts,
                };
                self.orders.insert(info.id, row);
            }
            Event::StopTriggered { order, .. } => {
                let o = self.order(tx, *order, ts).await?;
                if o.status == OrderStatus::New {
                    o.status = OrderStatus::Open;
                }
            }
            Event::OrderPartiallyFilled {
                order,
                filled,
                remaining,
                ..
            } => {
                let o = self.order(tx, *order, ts).await?;
                o.filled_qty = *filled;
                o.remaining_qty = Some(*remaining);
                if !o.status.is_terminal() {
                    o.status = OrderStatus::PartiallyFilled;
                }
            }
            Event::OrderFilled { order, filled, .. } => {
                let o = self.order(tx, *order, ts).await?;
                o.filled_qty = *filled;
                o.remaining_qty = Some(Qty::ZERO);
                o.status = OrderStatus::Filled;
            }
            Event::OrderCanceled {
                order,
                filled,
                remaining,
                reason,
                ..
            } => {
                let o = self.order(tx, *order, ts).await?;
                o.filled_qty = *filled;
                o.remaining_qty = Some(*remaining);
                o.status = OrderStatus::Canceled;
                o.reason = Some(OrderReason::Canceled(*reason));
            }
            Event::OrderExpired {
                order,
                filled,
                remaining,
                reason,
                ..
            } => {
                let o = self.order(tx, *order, ts).await?;
                o.filled_qty = *filled;
                o.remaining_qty = Some(*remaining);
                o.status = OrderStatus::Expired;
                o.reason = Some(OrderReason::Expired(*reason));
            }
            Event::OrderAmended {
                order,
                price,
                qty,
                remaining,
                ..
            } => {
                let o = self.order(tx, *order, ts).await?;
                if price.is_some() {
                    o.price = *price;
                }
                o.qty = Some(*qty);
                o.remaining_qty = Some(*remaining);
            }
            _ => unreachable!("Pending::apply routes only order events here"),
        }
        Ok(())
    }

    /// The order, loaded into the batch if needed and marked changed at `ts`.
    pub(super) async fn order(
        &mut self,
        tx: &mut Tx,
        id: OrderId,
        ts: Timestamp,
    ) -> Result<&mut OrderRow> {
        let order = match self.orders.entry(id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let raw: Option<RawOrder> = tx.fetch_optional(ORDER_SELECT, &[i(id.0)?]).await?;
                let raw =
                    raw.ok_or_else(|| StoreError::Inconsistent(format!("unknown order {id}")))?;
                e.insert(OrderRow::try_from(raw)?)
            }
        };
        order.updated_at = ts;
        Ok(order)
    }

    pub(super) async fn flush_orders(&mut self, tx: &mut Tx) -> Result<()> {
        // Orders loaded from the database were read whole, so new and changed orders alike
        // are written whole with one upsert.
        let mut flat = Vec::with_capacity(self.orders.len() * ORDER_COLS);
        for o in self.orders.values() {
            flat.extend(order_args(o)?);
        }
        insert_many(tx, ORDER_INSERT, ORDER_UPSERT, ORDER_COLS, &flat).await?;
        Ok(())
    }
}
