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
//! - An order's row is its fold (`bourse_model::OrderState`, whose module doc has the
//!   status rules), so a row says what the REST reply and the `orders` channel say.
//!   Terminal statuses never change again; a trade on an ended order is `Inconsistent`.
//! - `Rejected` and `BookChanged` write nothing.
//! - Candle volumes use checked arithmetic (an overflow is an error, never a wrap); the
//!   fold's order sums saturate, and the core's supply bounds keep them far from it.

mod balances;
mod candles;
mod markets;
mod orders;
mod trades;
mod transfers;
mod users;

use crate::audit::AuditRecord;
use crate::candles::{Candle, Interval};
use crate::db::{int, Arg, Tx};
use crate::error::{Result, StoreError};
use crate::rows::{BalanceHistoryRow, BalanceRow, EventPos, FillRow, RawSeq, TradeRow};
use crate::Store;
use bourse_model::{AssetId, Event, MarketId, OrderId, OrderState, Timestamp, UserId};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

type CandleKey = (MarketId, Interval, Timestamp);

/// Everything one batch changes that is written at the end.
#[derive(Default)]
struct Pending {
    /// Orders this batch creates or changes.
    orders: BTreeMap<OrderId, OrderState>,
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

fn expect_one(rows: u64, what: &str, id: impl std::fmt::Display) -> Result<()> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Inconsistent(format!("unknown {what} {id}")))
    }
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
        self.project_audited(batch, &[]).await
    }

    /// [`Store::project`] plus audit entries, appended to the chain in the same
    /// transaction in the order given (see `crate::audit`): an entry of a journaled command
    /// already projected (`seq` at or below the projected sequence) is skipped with its
    /// command; entries from before the journal (`seq: None`) are always appended.
    pub async fn project_audited<E: AsRef<[Event]>>(
        &self,
        batch: &[(u64, Timestamp, E)],
        audit: &[AuditRecord],
    ) -> Result<u64> {
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
        let audit: Vec<&AuditRecord> = audit
            .iter()
            .filter(|r| r.seq.is_none_or(|s| s > start))
            .collect();
        if last == start && audit.is_empty() {
            return Ok(start);
        }
        if last != start {
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
        }
        crate::audit::append(&mut tx, &audit).await?;
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
            Event::AssetCreated { .. }
            | Event::MarketCreated { .. }
            | Event::MarketStatusChanged { .. } => self.project_market(tx, t, event).await?,
            Event::UserRegistered { .. }
            | Event::PasswordChanged { .. }
            | Event::UserRoleChanged { .. }
            | Event::UserFlagsChanged { .. }
            | Event::UserComplianceChanged { .. }
            | Event::ApiKeyCreated { .. }
            | Event::ApiKeyDeleted { .. } => users::project(tx, t, event).await?,
            Event::Deposited { .. }
            | Event::WithdrawalRequested { .. }
            | Event::WithdrawalCompleted { .. }
            | Event::WithdrawalRejected { .. } => transfers::project(tx, pos, t, event).await?,
            Event::OrderAccepted(_)
            | Event::StopTriggered { .. }
            | Event::OrderPartiallyFilled { .. }
            | Event::OrderFilled { .. }
            | Event::OrderCanceled { .. }
            | Event::OrderExpired { .. }
            | Event::OrderAmended { .. } => self.project_order(tx, ts, event).await?,
            Event::Trade { .. } => self.project_trade(tx, ts, event).await?,
            Event::BalanceChanged { .. } => self.project_balance(pos, ts, event),
        }
        Ok(())
    }

    /// Writes what the batch folded: orders, trades and fills, balances and their history,
    /// candles.
    async fn flush(&mut self, tx: &mut Tx) -> Result<()> {
        self.flush_orders(tx).await?;
        self.flush_trades(tx).await?;
        self.flush_balances(tx).await?;
        self.flush_candles(tx).await
    }
}
