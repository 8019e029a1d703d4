//! ExecutionReports from the sequencer's feed: every change to one of the user's orders,
//! whichever channel (REST, WebSocket, the Binance API, this or another FIX session) made
//! it.
//!
//! # Rules
//! - The feed is [`bourse_engine::sequencer::SequencerHandle::subscribe`], the broadcast
//!   of applied batches the WebSocket fan-out (`orders`, `fills` channels) reads too; the
//!   session subscribes before it answers the Logon, so nothing after the logon is missed.
//! - Each of the user's orders is followed with the order fold ([`OrderState`], the same
//!   fold the REST order comes from), so CumQty (14), LeavesQty (151), AvgPx (6) are the
//!   REST `filled_quantity`, `remaining_quantity`, `average_price` after that event.
//!   An order first seen in the middle of its life (placed before the logon) is read from
//!   the read models after the read fence; the reports of that one command then all show
//!   the order as it was after the command.
//! - One report per event: OrderAccepted → 150=0, each Trade → 150=F with LastPx (31),
//!   LastQty (32), Commission (12, 13=3 absolute, 479 the fee asset) of that trade,
//!   OrderCanceled → 4, OrderExpired → C, OrderAmended → 5, StopTriggered → L.
//! - A command this session submitted is answered from the feed too (see
//!   [`Executions::expect`]): its reports then carry the request's ClOrdID (11) and the
//!   order's as OrigClOrdID (41) for a cancel or replace.
//! - If the session falls behind the broadcast, the lost batches cannot be rebuilt: the
//!   followed orders are forgotten (read again from the read models when next seen) and
//!   the lag is logged.

use crate::codec::Message;
use crate::orders::report;
use bourse_engine::sequencer::AppliedCommand;
use bourse_gateway::dto::{FillJson, OrderJson};
use bourse_gateway::market_info::market_by_id;
use bourse_gateway::{Error, Gateway};
use bourse_model::{
    CommandKind, Event, Liquidity, OrderFill, OrderId, OrderInfo, OrderState, RejectCode,
    Timestamp, UserId,
};
use std::collections::{HashMap, HashSet};

/// A command of this session whose reports are still to come from the feed.
#[derive(Debug, Clone)]
pub struct Own {
    pub order: OrderId,
    /// The command's time: with the order, what identifies it in the feed.
    pub ts: Timestamp,
    /// The request's ClOrdID, when it differs from the order's (cancel, replace).
    pub cl: Option<String>,
    /// Already answered another way (the feed was too slow): fold, do not report.
    pub silent: bool,
}

/// The user's orders as the session follows them.
pub struct Executions {
    user: UserId,
    orders: HashMap<OrderId, OrderState>,
    own: Vec<Own>,
    /// Open orders this session placed (for cancel-on-disconnect).
    pub placed: HashSet<OrderId>,
}

impl Executions {
    pub fn new(user: UserId) -> Self {
        Self {
            user,
            orders: HashMap::new(),
            own: Vec::new(),
            placed: HashSet::new(),
        }
    }

    /// Registers a command of this session; [`Self::command`] answers whether it was seen.
    pub fn expect(&mut self, own: Own) {
        self.own.push(own);
    }

    /// Whether a command registered with [`Self::expect`] is still unseen.
    pub fn awaiting(&self, order: OrderId, ts: Timestamp) -> bool {
        self.own
            .iter()
            .any(|o| !o.silent && o.order == order && o.ts == ts)
    }

    /// Marks an awaited command as answered already.
    pub fn silence(&mut self, order: OrderId, ts: Timestamp) {
        for o in self
            .own
            .iter_mut()
            .filter(|o| o.order == order && o.ts == ts)
        {
            o.silent = true;
        }
    }

    /// After a lag: what was followed may have missed events.
    pub fn forget(&mut self) {
        self.orders.clear();
    }

    /// The reports of one applied command for the user's orders, appended to `out`.
    pub async fn command(&mut self, gw: &Gateway, cmd: &AppliedCommand, out: &mut Vec<Message>) {
        let mut mine: Vec<OrderId> = Vec::new();
        for ev in &cmd.events {
            for id in owned(ev, self.user) {
                if !mine.contains(&id) {
                    mine.push(id);
                }
            }
        }
        for id in mine {
            let own = self
                .own
                .iter()
                .position(|o| o.order == id && o.ts == cmd.ts && targets(cmd, id))
                .map(|i| self.own.remove(i));
            if own.as_ref().is_some_and(|o| o.silent) {
                // Answered already: keep the fold right, say nothing.
                let mut scratch = Vec::new();
                self.order(gw, cmd, id, None, &mut scratch).await;
            } else {
                self.order(gw, cmd, id, own.as_ref(), out).await;
            }
        }
        // An own command can end without an event of its order (never, today): forget it
        // once its time has passed, so the list stays short.
        self.own.retain(|o| o.ts.0 + 60_000 > cmd.ts.0);
    }

    async fn order(
        &mut self,
        gw: &Gateway,
        cmd: &AppliedCommand,
        id: OrderId,
        own: Option<&Own>,
        out: &mut Vec<Message>,
    ) {
        let mut after = false;
        if !self.orders.contains_key(&id) {
            let state = match accepted(cmd, id) {
                Some(info) => OrderState::new(info, cmd.ts),
                None => match self.load(gw, id).await {
                    Ok(s) => {
                        after = true;
                        s
                    }
                    Err(e) => {
                        tracing::warn!(order = id.0, error = %e, "FIX: order not found for an execution report");
                        return;
                    }
                },
            };
            self.orders.insert(id, state);
        }
        let Some(state) = self.orders.get_mut(&id) else {
            return;
        };
        let Ok(market) = market_by_id(gw, state.info.market) else {
            return;
        };
        let er = |state: &OrderState, exec: &str, fill: Option<&OrderFill>| {
            let mut json = OrderJson::from_state(&market, state);
            json.fills = Some(
                fill.map(|f| FillJson::of(&market, id, f))
                    .into_iter()
                    .collect(),
            );
            let mut r = report(&json, exec);
            if let Some(cl) = own.and_then(|o| o.cl.as_deref()) {
                r.set(11, cl);
                r.push(41, json.client_order_id.as_deref().unwrap_or("NONE"));
            }
            r
        };
        // A trade's report waits for the fill events after it (the status they set).
        let mut fill: Option<OrderFill> = None;
        for ev in &cmd.events {
            if !bourse_model::concerned_orders(ev).any(|o| o == id) {
                continue;
            }
            if after {
                // Loaded after this command: every report shows that state.
                if let Some(f) = fill_of(ev, id, cmd.ts) {
                    out.push(er(state, "F", Some(&f)));
                } else if let Some(exec) = exec_type(ev) {
                    out.push(er(state, exec, None));
                }
                continue;
            }
            let is_trade = matches!(ev, Event::Trade { .. });
            let is_fill_status = matches!(
                ev,
                Event::OrderPartiallyFilled { .. } | Event::OrderFilled { .. }
            );
            if !is_fill_status {
                if let Some(f) = fill.take() {
                    out.push(er(state, "F", Some(&f)));
                }
            }
            state.apply(ev, cmd.ts);
            if is_trade {
                fill = state.take_fills().pop();
            } else if let Some(exec) = exec_type(ev) {
                out.push(er(state, exec, None));
            }
        }
        if let Some(f) = fill {
            out.push(er(state, "F", Some(&f)));
        }
        if !state.is_open() {
            self.orders.remove(&id);
            self.placed.remove(&id);
        }
    }

    /// An order as the read models have it (after the read fence).
    async fn load(&self, gw: &Gateway, id: OrderId) -> Result<OrderState, Error> {
        gw.fence().await?;
        let row = gw
            .store
            .order(id)
            .await?
            .filter(|o| o.user == self.user)
            .ok_or(Error::Rejected(RejectCode::UnknownOrder))?;
        Ok(OrderState::from(row))
    }
}

/// The ExecType (150) of an order event other than a fill.
fn exec_type(ev: &Event) -> Option<&'static str> {
    Some(match ev {
        Event::OrderAccepted(_) => "0",
        Event::OrderCanceled { .. } => "4",
        Event::OrderExpired { .. } => "C",
        Event::OrderAmended { .. } => "5",
        Event::StopTriggered { .. } => "L",
        _ => return None,
    })
}

/// The orders of `user` an event concerns.
fn owned(ev: &Event, user: UserId) -> Vec<OrderId> {
    match ev {
        Event::OrderAccepted(o) if o.user == user => vec![o.id],
        Event::Trade {
            maker_order,
            maker_user,
            taker_order,
            taker_user,
            ..
        } => {
            let mut v = Vec::new();
            if *maker_user == user {
                v.push(*maker_order);
            }
            if *taker_user == user {
                v.push(*taker_order);
            }
            v
        }
        Event::StopTriggered { order, user: u, .. }
        | Event::OrderPartiallyFilled { order, user: u, .. }
        | Event::OrderFilled { order, user: u, .. }
        | Event::OrderCanceled { order, user: u, .. }
        | Event::OrderExpired { order, user: u, .. }
        | Event::OrderAmended { order, user: u, .. }
            if *u == user =>
        {
            vec![*order]
        }
        _ => Vec::new(),
    }
}

/// Whether `cmd` is the command that placed, canceled or amended `order`.
fn targets(cmd: &AppliedCommand, order: OrderId) -> bool {
    match &cmd.kind {
        CommandKind::PlaceOrder(_) => accepted(cmd, order).is_some(),
        CommandKind::CancelOrder { order: o, .. } | CommandKind::AmendOrder { order: o, .. } => {
            *o == order
        }
        _ => false,
    }
}

fn accepted(cmd: &AppliedCommand, id: OrderId) -> Option<&OrderInfo> {
    cmd.events.iter().find_map(|e| match e {
        Event::OrderAccepted(o) if o.id == id => Some(o.as_ref()),
        _ => None,
    })
}

/// The fill of `order` in a Trade event.
fn fill_of(ev: &Event, order: OrderId, ts: Timestamp) -> Option<OrderFill> {
    let Event::Trade {
        id,
        price,
        qty,
        notional,
        taker_side,
        taker_order,
        maker_order,
        maker_fee,
        taker_fee,
        ..
    } = ev
    else {
        return None;
    };
    let (side, fee, liquidity) = if *taker_order == order {
        (*taker_side, *taker_fee, Liquidity::Taker)
    } else if *maker_order == order {
        (taker_side.opposite(), *maker_fee, Liquidity::Maker)
    } else {
        return None;
    };
    Some(OrderFill {
        trade: *id,
        side,
        price: *price,
        qty: *qty,
        notional: *notional,
        fee,
        liquidity,
        ts,
    })
}
