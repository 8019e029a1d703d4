//! Turning one applied command into channel messages: book diffs, trades, candles,
//! tickers, and the private orders, fills and balances updates.

use super::*;
use bourse_gateway::dto::{FillJson, OrderJson};
use bourse_model::{Liquidity, OrderState};

impl FanOut {
    pub(super) async fn command(&mut self, cmd: &AppliedCommand) {
        if let Some(user) = crate::push::revokes_credentials_of(&cmd.kind) {
            self.recheck(Some(user));
        }
        // Book changes of this command per market: (sequence, changed levels).
        let mut books: Vec<BookChanges> = Vec::new();
        let mut trades: Vec<(MarketId, Value)> = Vec::new();
        let mut resync = false;
        for ev in &cmd.events {
            match ev {
                Event::AssetCreated { .. }
                | Event::MarketCreated { .. }
                | Event::MarketStatusChanged { .. } => self.reload(false).await,
                Event::BookChanged {
                    market,
                    sequence,
                    side,
                    price,
                    qty,
                } => {
                    let Some(m) = self.markets.get(market) else {
                        resync = true;
                        continue;
                    };
                    if *sequence <= m.mirror.sequence {
                        continue; // already in the loaded book
                    }
                    if *sequence != m.mirror.sequence + 1 {
                        resync = true;
                        continue;
                    }
                    match books.iter_mut().find(|b| b.0 == *market) {
                        Some(b) => match b.2.iter_mut().find(|l| l.0 == *side && l.1 == *price) {
                            Some(l) => l.2 = *qty,
                            None => b.2.push((*side, *price, *qty)),
                        },
                        None => books.push((*market, *sequence, vec![(*side, *price, *qty)])),
                    }
                }
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
                    let Some(m) = self.markets.get_mut(market) else {
                        continue;
                    };
                    // (Older trades are in the candles seeded from the read models.)
                    if cmd.seq > m.live_from {
                        m.ticker.last = Some((*price, *qty));
                        for interval in Interval::ALL {
                            let prev = m.candles.get(&interval);
                            // On overflow the candle keeps its last good value (the REST
                            // candles from the read models stay authoritative).
                            if let Some(c) =
                                Candle::after_trade(prev, interval, cmd.ts, *price, *qty, *notional)
                            {
                                m.candles.insert(interval, c);
                            }
                        }
                    }
                    let info = &m.info;
                    if self.subs.contains_key(&Channel::Trades(*market)) {
                        trades.push((
                            *market,
                            json!({"id": id.0, "price": info.price(*price),
                                   "quantity": info.qty(*qty), "side": taker_side,
                                   "created_at": cmd.ts.0}),
                        ));
                    }
                    // The REST fill, the same type.
                    let fill = |order: &bourse_model::OrderId,
                                side: Side,
                                fee: &bourse_model::Amount,
                                liquidity: Liquidity| FillJson {
                        trade_id: id.0,
                        order_id: order.0,
                        market: info.symbol().to_owned(),
                        side,
                        price: info.price(*price),
                        quantity: info.qty(*qty),
                        fee: info.quote_amount(*fee),
                        fee_asset: info.quote.clone(),
                        liquidity,
                        created_at: cmd.ts.0,
                    };
                    let maker = (
                        Channel::Fills(*maker_user),
                        fill(
                            maker_order,
                            taker_side.opposite(),
                            maker_fee,
                            Liquidity::Maker,
                        ),
                    );
                    let taker = (
                        Channel::Fills(*taker_user),
                        fill(taker_order, *taker_side, taker_fee, Liquidity::Taker),
                    );
                    for (ch, data) in [maker, taker] {
                        if self.has(ch) {
                            self.publish(ch, frame("fills", "update", cmd.seq, data));
                        }
                    }
                }
                Event::BalanceChanged {
                    user,
                    asset,
                    available,
                    held,
                } => {
                    let ch = Channel::Balances(*user);
                    if self.has(ch) {
                        if let Some((symbol, scale)) = self.assets.get(asset) {
                            let data = json!({"asset": symbol,
                                "available": format_units(available.0, *scale),
                                "held": format_units(held.0, *scale)});
                            self.publish(ch, frame("balances", "update", cmd.seq, data));
                        }
                    }
                }
                Event::Rejected { code, order, .. } => {
                    if let CommandKind::PlaceOrder(o) = &cmd.kind {
                        let ch = Channel::Orders(o.user);
                        if self.has(ch) {
                            let data = json!({"event": "rejected", "order_id": order.map(|o| o.0),
                                "client_order_id": o.client_order_id, "status": OrderStatus::Rejected,
                                "code": code.as_str()});
                            self.publish(ch, frame("orders", "update", cmd.seq, data));
                        }
                    }
                }
                _ => {
                    // Built only for a subscriber: an accepted order's frame folds the
                    // whole command.
                    let subscribed = order_owner(ev).is_some_and(|u| self.has(Channel::Orders(u)));
                    if let Some((user, data)) =
                        subscribed.then(|| self.order_update(ev, cmd)).flatten()
                    {
                        self.publish(
                            Channel::Orders(user),
                            frame("orders", "update", cmd.seq, data),
                        );
                    }
                }
            }
        }
        for (market, sequence, levels) in books {
            let Some(m) = self.markets.get_mut(&market) else {
                continue;
            };
            for (side, price, qty) in &levels {
                m.mirror.set(*side, *price, *qty);
            }
            m.mirror.sequence = sequence;
            let ch = Channel::Book(market);
            if self.subs.contains_key(&ch) {
                let info = &m.info;
                let side_levels = |want: Side| {
                    levels
                        .iter()
                        .filter(|l| l.0 == want)
                        .map(|l| [info.price(l.1), info.qty(l.2)])
                        .collect::<Vec<_>>()
                };
                let msg = frame(
                    &format!("book.{}", info.symbol()),
                    "update",
                    sequence,
                    json!({"bids": side_levels(Side::Buy), "asks": side_levels(Side::Sell)}),
                );
                self.publish(ch, msg);
            }
            self.refresh_ticker(market, true);
        }
        let mut traded: Vec<MarketId> = trades.iter().map(|t| t.0).collect();
        traded.dedup();
        for market in traded {
            let list: Vec<&Value> = trades
                .iter()
                .filter(|t| t.0 == market)
                .map(|t| &t.1)
                .collect();
            if let Some(m) = self.markets.get(&market) {
                let msg = frame(
                    &format!("trades.{}", m.info.symbol()),
                    "update",
                    cmd.seq,
                    list,
                );
                self.publish(Channel::Trades(market), msg);
            }
        }
        self.publish_candles(cmd);
        if resync {
            tracing::warn!("ws fan-out saw a book sequence gap; reloading books");
            self.rt.stats.resyncs.fetch_add(1, Ordering::Relaxed);
            self.reload(true).await;
        }
    }

    pub(super) fn publish_candles(&mut self, cmd: &AppliedCommand) {
        let mut markets: Vec<MarketId> = Vec::new();
        for ev in &cmd.events {
            if let Event::Trade { market, .. } = ev {
                let seeded = self
                    .markets
                    .get(market)
                    .is_some_and(|m| cmd.seq <= m.live_from);
                if !markets.contains(market) && !seeded {
                    markets.push(*market);
                }
            }
        }
        for market in markets {
            for interval in Interval::ALL {
                let ch = Channel::Candles(market, interval);
                if !self.has(ch) {
                    continue;
                }
                let Some(m) = self.markets.get(&market) else {
                    continue;
                };
                let Some(c) = m.candles.get(&interval) else {
                    continue;
                };
                let msg = frame(
                    &format!("candles.{}.{}", m.info.symbol(), interval),
                    "update",
                    cmd.seq,
                    candle_json(&m.info, c),
                );
                self.publish(ch, msg);
            }
        }
    }

    /// Recomputes the ticker's top of book from the mirror; publishes if it changed.
    pub(super) fn refresh_ticker(&mut self, market: MarketId, publish: bool) {
        let Some(m) = self.markets.get_mut(&market) else {
            return;
        };
        m.ticker.bid = m.mirror.bids.iter().next_back().map(|(p, q)| (*p, *q));
        m.ticker.ask = m.mirror.asks.iter().next().map(|(p, q)| (*p, *q));
        let ch = Channel::Ticker(market);
        if publish && m.ticker_sent != m.ticker && self.subs.contains_key(&ch) {
            m.ticker_sent = m.ticker;
            let msg = frame(
                &format!("ticker.{}", m.info.symbol()),
                "update",
                m.mirror.sequence,
                ticker_json(&m.info, &m.ticker),
            );
            self.publish(ch, msg);
        }
    }

    /// An order lifecycle event as the owner's `orders` update.
    pub(super) fn order_update(&self, ev: &Event, cmd: &AppliedCommand) -> Option<(UserId, Value)> {
        let sym = |market: &MarketId| self.markets.get(market).map(|m| &m.info);
        Some(match ev {
            Event::OrderAccepted(o) => {
                let info = sym(&o.market)?;
                let status = if o.order_type.is_stop() {
                    OrderStatus::New
                } else {
                    OrderStatus::Open
                };
                // The whole order after this command (the REST order, from the fold), so a
                // client can show it without asking REST.
                let mut after = OrderState::new(o, cmd.ts);
                for e in &cmd.events {
                    after.apply(e, cmd.ts);
                }
                let mut order = OrderJson::from_state(info, &after);
                order.fills = None;
                (
                    o.user,
                    json!({"event": "accepted", "order_id": o.id.0, "client_order_id": o.client_order_id,
                        "market": info.symbol(), "side": o.side, "type": o.order_type,
                        "price": o.price.map(|p| info.price(p)),
                        "stop_price": o.stop_price.map(|p| info.price(p)),
                        "quantity": o.qty.map(|q| info.qty(q)),
                        "time_in_force": o.tif, "status": status, "created_at": o.created_at.0,
                        "order": order}),
                )
            }
            Event::OrderPartiallyFilled {
                order,
                user,
                market,
                filled,
                remaining,
            } => {
                let info = sym(market)?;
                (
                    *user,
                    json!({"event": "partially_filled", "order_id": order.0, "market": info.symbol(),
                    "status": OrderStatus::PartiallyFilled, "filled_quantity": info.qty(*filled),
                    "remaining_quantity": info.qty(*remaining)}),
                )
            }
            Event::OrderFilled {
                order,
                user,
                market,
                filled,
            } => {
                let info = sym(market)?;
                (
                    *user,
                    json!({"event": "filled", "order_id": order.0, "market": info.symbol(),
                    "status": OrderStatus::Filled, "filled_quantity": info.qty(*filled),
                    "remaining_quantity": info.qty(Qty(0))}),
                )
            }
            Event::OrderCanceled {
                order,
                user,
                market,
                filled,
                remaining,
                reason,
            } => {
                let info = sym(market)?;
                (
                    *user,
                    json!({"event": "canceled", "order_id": order.0, "market": info.symbol(),
                    "status": OrderStatus::Canceled, "reason": reason,
                    "filled_quantity": info.qty(*filled), "remaining_quantity": info.qty(*remaining)}),
                )
            }
            Event::OrderExpired {
                order,
                user,
                market,
                filled,
                remaining,
                reason,
            } => {
                let info = sym(market)?;
                (
                    *user,
                    json!({"event": "expired", "order_id": order.0, "market": info.symbol(),
                    "status": OrderStatus::Expired, "reason": reason,
                    "filled_quantity": info.qty(*filled), "remaining_quantity": info.qty(*remaining)}),
                )
            }
            Event::OrderAmended {
                order,
                user,
                market,
                price,
                qty,
                remaining,
                kept_priority,
            } => {
                let info = sym(market)?;
                (
                    *user,
                    json!({"event": "amended", "order_id": order.0, "market": info.symbol(),
                    "price": price.map(|p| info.price(p)), "quantity": info.qty(*qty),
                    "remaining_quantity": info.qty(*remaining), "kept_priority": kept_priority}),
                )
            }
            Event::StopTriggered {
                order,
                user,
                market,
                last_price,
            } => {
                let info = sym(market)?;
                (
                    *user,
                    json!({"event": "triggered", "order_id": order.0, "market": info.symbol(),
                    "last_price": info.price(*last_price)}),
                )
            }
            _ => return None,
        })
    }
}

/// The owner of the order an order lifecycle event is about.
fn order_owner(ev: &Event) -> Option<UserId> {
    match ev {
        Event::OrderAccepted(o) => Some(o.user),
        Event::OrderPartiallyFilled { user, .. }
        | Event::OrderFilled { user, .. }
        | Event::OrderCanceled { user, .. }
        | Event::OrderExpired { user, .. }
        | Event::OrderAmended { user, .. }
        | Event::StopTriggered { user, .. } => Some(*user),
        _ => None,
    }
}

pub(super) fn candle_json(info: &MarketInfo, c: &Candle) -> Value {
    json!({"start": c.start.0, "open": info.price(c.open), "high": info.price(c.high),
        "low": info.price(c.low), "close": info.price(c.close), "volume": info.qty(c.volume),
        "quote_volume": info.quote_amount(c.quote_volume),
        "trade_count": c.trade_count})
}

pub(super) fn ticker_json(info: &MarketInfo, t: &Ticker) -> Value {
    let p = |x: Option<(Price, Qty)>| x.map(|(p, _)| info.price(p));
    let q = |x: Option<(Price, Qty)>| x.map(|(_, q)| info.qty(q));
    json!({"symbol": info.symbol(), "last_price": p(t.last), "last_quantity": q(t.last),
        "best_bid": p(t.bid), "best_bid_quantity": q(t.bid),
        "best_ask": p(t.ask), "best_ask_quantity": q(t.ask)})
}
