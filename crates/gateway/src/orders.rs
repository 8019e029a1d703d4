//! Order look-ups for their owner.

use crate::dto::{FillJson, OrderJson};
use crate::error::Error;
use crate::market_info::{market_by_id, MAX_UNITS};
use crate::Gateway;
use bourse_model::{OrderId, RejectCode, UserId};

/// Looks an order up for its owner, open or closed, with its fills: from the read models
/// after the read fence (so the caller's own writes are in), never through the writer.
/// Another user's order is `UNKNOWN_ORDER` (404), like a missing one.
pub async fn load_order(gw: &Gateway, user: UserId, id: OrderId) -> Result<OrderJson, Error> {
    if id.0 > MAX_UNITS {
        // No such id can exist (the read models could not even hold it).
        return Err(Error::Rejected(RejectCode::UnknownOrder));
    }
    gw.fence().await?;
    let row = gw
        .store
        .order(id)
        .await?
        .filter(|o| o.user == user)
        .ok_or(Error::Rejected(RejectCode::UnknownOrder))?;
    let m = market_by_id(gw, row.market)?;
    let fills = gw.store.order_fills(id).await?;
    let fills = fills.iter().map(|f| FillJson::from_row(&m, f)).collect();
    Ok(OrderJson::from_row(&m, &row, Some(fills)))
}
