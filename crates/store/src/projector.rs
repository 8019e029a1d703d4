//! The projector: turns the core's events into read-model rows.
//!
//! Rules:
//! - One transaction per batch. The table `projector_state` holds the last applied command
//!   sequence; commands at or below it are skipped, so re-projecting after a crash is safe.
//!   Sequences must otherwise be contiguous (`StoreError::SequenceGap`): every journaled
//!   command is handed over, with an empty event list if it produced nothing.
//! - Rare entities (users, keys, assets, markets, deposits, withdrawals) are written as their
//!   events come. Hot ones (orders, balances, candles) are folded in memory across the batch
//!   and written once at the end, so an order accepted and filled in one batch is one insert,
//!   and a balance changed a hundred times is one upsert (its history still gets every row).
//! - Order status: accepted → `open` (`new` for a stop until `StopTriggered`); a fill makes
//!   it `partially_filled` (`filled` once nothing remains); the core's `OrderPartiallyFilled`,
//!   `OrderFilled`, `OrderCanceled` and `OrderExpired` then set status, filled and remaining
//!   quantities absolutely. Terminal statuses never change again.
//! - `Rejected` and `BookChanged` write nothing.
//! - Sums (filled quantity, notional, fees, candle volumes) use checked arithmetic; an
//!   overflow is an error, never a wrap.

use crate::candles::{Candle, Interval};
use crate::db::{insert_many, int, Arg, Tx};
use crate::error::{Result, StoreError};
use crate::rows::{
    name, BalanceHistoryRow, BalanceRow, EventPos, FillRow, Liquidity, OrderReason, OrderRow,
    RawCandle, RawOrder, RawQuote, RawSeq, TradeRow,
};
use crate::Store;
use bourse_model::{
    Amount, AssetId, Event, MarketId, MarketStatus, OrderId, OrderStatus, Qty, Role, Tier,
    Timestamp, UserId,
};
use std::borrow::Cow;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};

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

type CandleKey = (MarketId, Interval, Timestamp);

/// Everything one batch changes that is written at the end.
#[derive(Default)]
struct Pending {
    /// Orders this batch creates or changes.
    orders: BTreeMap<OrderId, OrderRow>,
    trades: Vec<TradeRow>,
    fills: Vec<FillRow>,
    balances: BTreeMap<(UserId, AssetId), BalanceRow>,
    history: Vec<BalanceHistoryRow>,
    candles: BTreeMap<CandleKey, Candle>,
    quotes: HashMap<MarketId, AssetId>,
}

fn i(v: u64) -> Result<Arg<'static>> {
    Ok(Arg::I64(int(v, "value")?))
}

fn oi(v: Option<u64>) -> Result<Arg<'static>> {
    Ok(Arg::OptI64(v.map(|v| int(v, "value")).transpose()?))
}

fn s<'a>(v: impl Into<Cow<'a, str>>) -> Arg<'a> {
    Arg::Str(v.into())
}

fn overflow(what: &str) -> StoreError {
    StoreError::Inconsistent(format!("{what} overflows"))
}

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

impl Store {
    /// The last command sequence projected (0 for an empty database).
    pub async fn last_applied_seq(&self) -> Result<u64> {
        let row: Option<RawSeq> = self
            .backend
            .fetch_optional("SELECT last_seq FROM projector_state WHERE id = 1", &[])
            .await?;
        let row = row.ok_or(StoreError::Corrupt("projector_state"))?;
        crate::db::uint(row.last_seq, "projector_state")
    }

    /// Projects a batch of journaled commands, each `(seq, command time, events)`, in one
    /// transaction, and returns the last applied sequence afterwards. Commands already
    /// applied are skipped; the rest must continue the sequence without a gap.
    pub async fn project<E: AsRef<[Event]>>(&self, batch: &[(u64, Timestamp, E)]) -> Result<u64> {
        let mut tx = self.backend.begin().await?;
        let row: Option<RawSeq> = tx
            .fetch_optional("SELECT last_seq FROM projector_state WHERE id = 1", &[])
            .await?;
        let start = crate::db::uint(
            row.ok_or(StoreError::Corrupt("projector_state"))?.last_seq,
            "projector_state",
        )?;
        let mut last = start;
        let mut pending = Pending::default();
        for (seq, ts, events) in batch {
            if *seq <= last {
                continue;
            }
            if *seq != last + 1 {
                return Err(StoreError::SequenceGap {
                    expected: last + 1,
                    got: *seq,
                });
            }
            for (idx, event) in events.as_ref().iter().enumerate() {
                let pos = EventPos {
                    seq: *seq,
                    idx: u32::try_from(idx).map_err(|_| StoreError::OutOfRange("event index"))?,
                };
                pending.apply(&mut tx, pos, *ts, event).await?;
            }
            last = *seq;
        }
        if last == start {
            return Ok(start);
        }
        pending.flush(&mut tx).await?;
        let updated = tx
            .exec(
                "UPDATE projector_state SET last_seq = $1 WHERE id = 1 AND last_seq = $2",
                &[i(last)?, i(start)?],
            )
            .await?;
        if updated != 1 {
            return Err(StoreError::Inconsistent(
                "another projector ran concurrently".into(),
            ));
        }
        tx.commit().await?;
        Ok(last)
    }
}

impl Pending {
    async fn apply(
        &mut self,
        tx: &mut Tx,
        pos: EventPos,
        ts: Timestamp,
        event: &Event,
    ) -> Result<()> {
        let t = i(ts.0)?;
        match event {
            Event::Rejected { .. } | Event::BookChanged { .. } => {}
            Event::AssetCreated {
                asset,
                symbol,
                scale,
            } => {
                tx.exec(
                    "INSERT INTO assets (id, symbol, scale, created_at) VALUES ($1, $2, $3, $4)",
                    &[
                        i(u64::from(asset.0))?,
                        s(symbol.as_str()),
                        i(u64::from(*scale))?,
                        t,
                    ],
                )
                .await?;
            }
            Event::MarketCreated { market, spec } => {
                let json = serde_json::to_string(spec)
                    .map_err(|_| StoreError::Inconsistent("market spec".into()))?;
                tx.exec(
                    "INSERT INTO markets (id, symbol, base, quote, status, spec, created_at, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                    &[
                        i(u64::from(market.0))?,
                        s(spec.symbol.as_str()),
                        i(u64::from(spec.base.0))?,
                        i(u64::from(spec.quote.0))?,
                        s(name(&MarketStatus::Open)),
                        s(json),
                        t,
                    ],
                )
                .await?;
                self.quotes.insert(*market, spec.quote);
            }
            Event::MarketStatusChanged { market, status } => {
                let n = tx
                    .exec(
                        "UPDATE markets SET status = $2, updated_at = $3 WHERE id = $1",
                        &[i(u64::from(market.0))?, s(name(status)), t],
                    )
                    .await?;
                expect_one(n, "market", market.0)?;
            }
            Event::UserRegistered {
                user,
                username,
                password_hash,
                role,
            } => {
                tx.exec(
                    "INSERT INTO users (id, username, password_hash, role, tier, kyc_verified, \
                     kill_switch, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                    &[
                        i(user.0)?,
                        s(username.as_str()),
                        s(password_hash.as_str()),
                        s(name(role)),
                        s(name(&Tier::default())),
                        Arg::Bool(false),
                        Arg::Bool(false),
                        t,
                    ],
                )
                .await?;
            }
            Event::PasswordChanged {
                user,
                password_hash,
            } => {
                let n = tx
                    .exec(
                        "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
                        &[i(user.0)?, s(password_hash.as_str()), t],
                    )
                    .await?;
                expect_one(n, "user", user.0)?;
            }
            Event::UserRoleChanged { user, role } => {
                let n = tx
                    .exec(
                        "UPDATE users SET role = $2, updated_at = $3 WHERE id = $1",
                        &[i(user.0)?, s(name::<Role>(role)), t],
                    )
                    .await?;
                expect_one(n, "user", user.0)?;
            }
            Event::UserFlagsChanged {
                user,
                kyc_verified,
                kill_switch,
                tier,
            } => {
                let n = tx
                    .exec(
                        "UPDATE users SET kyc_verified = $2, kill_switch = $3, tier = $4, \
                         updated_at = $5 WHERE id = $1",
                        &[
                            i(user.0)?,
                            Arg::Bool(*kyc_verified),
                            Arg::Bool(*kill_switch),
                            s(name(tier)),
                            t,
                        ],
                    )
                    .await?;
                expect_one(n, "user", user.0)?;
            }
            Event::ApiKeyCreated {
                user,
                key_id,
                secret_enc,
                label,
            } => {
                tx.exec(
                    "INSERT INTO api_keys (key_id, user_id, label, secret_enc, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        s(key_id.as_str()),
                        i(user.0)?,
                        s(label.as_str()),
                        s(secret_enc.as_str()),
                        t,
                    ],
                )
                .await?;
            }
            Event::ApiKeyDeleted { user, key_id } => {
                tx.exec(
                    "DELETE FROM api_keys WHERE key_id = $1 AND user_id = $2",
                    &[s(key_id.as_str()), i(user.0)?],
                )
                .await?;
            }
            Event::Deposited {
                user,
                asset,
                amount,
            } => {
                tx.exec(
                    "INSERT INTO deposits (seq, idx, user_id, asset_id, amount, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        i(pos.seq)?,
                        i(u64::from(pos.idx))?,
                        i(user.0)?,
                        i(u64::from(asset.0))?,
                        i(amount.0)?,
                        t,
                    ],
                )
                .await?;
            }
            Event::WithdrawalRequested {
                id,
                user,
                asset,
                amount,
                address,
            } => {
                tx.exec(
                    "INSERT INTO withdrawals (id, user_id, asset_id, amount, address, status, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'requested', $6, $6)",
                    &[
                        i(id.0)?,
                        i(user.0)?,
                        i(u64::from(asset.0))?,
                        i(amount.0)?,
                        s(address.as_str()),
                        t,
                    ],
                )
                .await?;
            }
            Event::WithdrawalCompleted { id, .. } | Event::WithdrawalRejected { id, .. } => {
                let status = if matches!(event, Event::WithdrawalCompleted { .. }) {
                    "completed"
                } else {
                    "rejected"
                };
                let n = tx
                    .exec(
                        "UPDATE withdrawals SET status = $2, updated_at = $3 WHERE id = $1 \
                         AND status = 'requested'",
                        &[i(id.0)?, s(status), t],
                    )
                    .await?;
                expect_one(n, "pending withdrawal", id.0)?;
            }
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
                let sides = [
                    (
                        Liquidity::Maker,
                        *maker_order,
                        *maker_user,
                        taker_side.opposite(),
                        *maker_fee,
                    ),
                    (
                        Liquidity::Taker,
                        *taker_order,
                        *taker_user,
                        *taker_side,
                        *taker_fee,
                    ),
                ];
                for (liquidity, order, user, side, fee) in sides {
                    let o = self.order(tx, order, ts).await?;
                    o.filled_qty = Qty(o
                        .filled_qty
                        .0
                        .checked_add(qty.0)
                        .ok_or_else(|| overflow("filled"))?);
                    o.filled_notional = o
                        .filled_notional
                        .checked_add(*notional)
                        .ok_or_else(|| overflow("notional"))?;
                    o.fees = o.fees.checked_add(fee).ok_or_else(|| overflow("fees"))?;
                    o.remaining_qty = o.remaining_qty.map(|r| Qty(r.0.saturating_sub(qty.0)));
                    if !o.status.is_terminal() {
                        o.status = if o.remaining_qty == Some(Qty::ZERO) {
                            OrderStatus::Filled
                        } else {
                            OrderStatus::PartiallyFilled
                        };
                    }
                    let fill_id =
                        id.0.checked_mul(2)
                            .and_then(|v| v.checked_add(u64::from(liquidity == Liquidity::Taker)))
                            .ok_or(StoreError::OutOfRange("trade id"))?;
                    self.fills.push(FillRow {
                        id: fill_id,
                        trade_id: *id,
                        order_id: order,
                        user,
                        market: *market,
                        side,
                        price: *price,
                        qty: *qty,
                        notional: *notional,
                        fee,
                        fee_asset,
                        liquidity,
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
                for interval in Interval::ALL {
                    let start = interval.bucket(ts);
                    let key = (*market, interval, start);
                    match self.candles.entry(key) {
                        Entry::Occupied(mut e) => {
                            e.get_mut()
                                .add(*price, *qty, *notional)
                                .ok_or_else(|| overflow("candle"))?;
                        }
                        Entry::Vacant(e) => {
                            let candle = match load_candle(tx, key).await? {
                                Some(mut c) => {
                                    c.add(*price, *qty, *notional)
                                        .ok_or_else(|| overflow("candle"))?;
                                    c
                                }
                                None => Candle::first(start, *price, *qty, *notional),
                            };
                            e.insert(candle);
                        }
                    }
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
            Event::BalanceChanged {
                user,
                asset,
                available,
                held,
            } => {
                self.balances.insert(
                    (*user, *asset),
                    BalanceRow {
                        user: *user,
                        asset: *asset,
                        available: *available,
                        held: *held,
                        updated_at: ts,
                    },
                );
                self.history.push(BalanceHistoryRow {
                    pos,
                    user: *user,
                    asset: *asset,
                    available: *available,
                    held: *held,
                    created_at: ts,
                });
            }
        }
        Ok(())
    }

    /// The order, loaded into the batch if needed and marked changed at `ts`.
    async fn order(&mut self, tx: &mut Tx, id: OrderId, ts: Timestamp) -> Result<&mut OrderRow> {
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

    async fn quote(&mut self, tx: &mut Tx, market: MarketId) -> Result<AssetId> {
        if let Some(q) = self.quotes.get(&market) {
            return Ok(*q);
        }
        let raw: Option<RawQuote> = tx
            .fetch_optional(
                "SELECT quote FROM markets WHERE id = $1",
                &[i(u64::from(market.0))?],
            )
            .await?;
        let raw =
            raw.ok_or_else(|| StoreError::Inconsistent(format!("unknown market {market}")))?;
        let q = AssetId(u32::try_from(raw.quote).map_err(|_| StoreError::Corrupt("markets"))?);
        self.quotes.insert(market, q);
        Ok(q)
    }

    async fn flush(&mut self, tx: &mut Tx) -> Result<()> {
        // Orders loaded from the database were read whole, so new and changed orders alike
        // are written whole with one upsert.
        let mut flat = Vec::with_capacity(self.orders.len() * ORDER_COLS);
        for o in self.orders.values() {
            flat.extend(order_args(o)?);
        }
        insert_many(tx, ORDER_INSERT, ORDER_UPSERT, ORDER_COLS, &flat).await?;

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

        let mut flat = Vec::with_capacity(self.balances.len() * 5);
        for b in self.balances.values() {
            flat.extend([
                i(b.user.0)?,
                i(u64::from(b.asset.0))?,
                i(b.available.0)?,
                i(b.held.0)?,
                i(b.updated_at.0)?,
            ]);
        }
        insert_many(
            tx,
            "INSERT INTO balances (user_id, asset_id, available, held, updated_at) VALUES",
            " ON CONFLICT (user_id, asset_id) DO UPDATE SET available = excluded.available, \
             held = excluded.held, updated_at = excluded.updated_at",
            5,
            &flat,
        )
        .await?;

        let mut flat = Vec::with_capacity(self.history.len() * 7);
        for h in &self.history {
            flat.extend([
                i(h.pos.seq)?,
                i(u64::from(h.pos.idx))?,
                i(h.user.0)?,
                i(u64::from(h.asset.0))?,
                i(h.available.0)?,
                i(h.held.0)?,
                i(h.created_at.0)?,
            ]);
        }
        insert_many(
            tx,
            "INSERT INTO balance_history (seq, idx, user_id, asset_id, available, held, \
             created_at) VALUES",
            "",
            7,
            &flat,
        )
        .await?;

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

fn expect_one(rows: u64, what: &str, id: impl std::fmt::Display) -> Result<()> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Inconsistent(format!("unknown {what} {id}")))
    }
}
