//! Order look-ups for their owner.

use crate::dto::{FillJson, OrderJson};
use crate::error::Error;
use crate::market_info::{MarketInfo, MAX_UNITS};
use crate::Gateway;
use bourse_model::{MarketId, OrderId, UserId};

/// Looks an order up for its owner: the live core for open orders, the read model for
/// closed ones. Another user's order is `UNKNOWN_ORDER` (404), like a missing one.
pub async fn load_order(gw: &Gateway, user: UserId, id: OrderId) -> Result<OrderJson, Error> {
    let (view, markets) = gw
        .seq
        .query(move |core| (core.order(id), MarketInfo::all(core)))
        .await?;
    let market_of = |mid: MarketId| {
        markets
            .iter()
            .find(|m| m.id == mid)
            .ok_or_else(|| Error::internal(format!("order {id} in unknown market {mid}")))
    };
    if id.0 > MAX_UNITS {
        // No such id can exist (the read models could not even hold it).
        return Err(Error::Rejected(bourse_model::RejectCode::UnknownOrder));
    }
    gw.fence().await?;
    if let Some(v) = view.filter(|v| v.user == user) {
        let m = market_of(v.market)?;
        let fills = gw.store.order_fills(id).await?;
        let updated = fills.last().map_or(v.created_at.0, |f| f.created_at.0);
        return Ok(OrderJson::from_view(m, &v, &fills, updated));
    }
    let row = gw
        .store
        .order(id)
        .await?
        .filter(|o| o.user == user)
        .ok_or(Error::Rejected(bourse_model::RejectCode::UnknownOrder))?;
    let m = market_of(row.market)?;
    let fills = gw.store.order_fills(id).await?;
    let fills = fills.iter().map(|f| FillJson::from_row(m, f)).collect();
    Ok(OrderJson::from_row(m, &row, Some(fills)))
}
