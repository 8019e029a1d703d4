//! Orders: each one the batch touches is an order fold (`bourse_model::OrderState`, the
//! same reading of the events the REST reply uses), resumed from its row when the batch did
//! not create it, and written once at the end, with one upsert.

use super::{i, oi, s, Pending};
use crate::db::{insert_many, Arg, Tx};
use crate::error::{Result, StoreError};
use crate::rows::{name, OrderReason, OrderRow, RawOrder};
use bourse_model::{concerned_orders, Event, OrderId, OrderState, OrderStatus, Timestamp};
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
    /// `OrderAccepted` starts an order's fold; every later lifecycle event is applied to it.
    pub(super) async fn project_order(
        &mut self,
        tx: &mut Tx,
        ts: Timestamp,
        event: &Event,
    ) -> Result<()> {
        match event {
            Event::OrderAccepted(info) => {
                self.orders.insert(info.id, OrderState::new(info, ts));
            }
            _ => {
                for id in concerned_orders(event) {
                    self.order(tx, id).await?.apply(event, ts);
                }
            }
        }
        Ok(())
    }

    /// The order's fold, resumed from its row the first time the batch touches it.
    pub(super) async fn order(&mut self, tx: &mut Tx, id: OrderId) -> Result<&mut OrderState> {
        Ok(match self.orders.entry(id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let raw: Option<RawOrder> = tx.fetch_optional(ORDER_SELECT, &[i(id.0)?]).await?;
                let raw =
                    raw.ok_or_else(|| StoreError::Inconsistent(format!("unknown order {id}")))?;
                e.insert(OrderRow::try_from(raw)?.into())
            }
        })
    }

    pub(super) async fn flush_orders(&mut self, tx: &mut Tx) -> Result<()> {
        // Orders loaded from the database were read whole, so new and changed orders alike
        // are written whole with one upsert.
        let rows: Vec<OrderRow> = self.orders.values().map(OrderRow::from).collect();
        let mut flat = Vec::with_capacity(rows.len() * ORDER_COLS);
        for o in &rows {
            flat.extend(order_args(o)?);
        }
        insert_many(tx, ORDER_INSERT, ORDER_UPSERT, ORDER_COLS, &flat).await?;
        Ok(())
    }
}
