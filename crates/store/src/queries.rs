//! Read queries for the API. Lists are newest first with a cursor: pass the id (or
//! position) of the last row you got as `before` to get the next page. Page sizes are clamped
//! to `1..=MAX_PAGE`.

use crate::candles::{Candle, Interval};
use crate::db::{int, Arg};
use crate::error::{Result, StoreError};
use crate::rows::{
    ApiKeyRow, AssetRow, BalanceHistoryRow, BalanceRow, DepositRow, EventPos, FillRow, MarketRow,
    OrderRow, RawApiKey, RawAsset, RawBalance, RawBalanceHistory, RawCandle, RawDeposit, RawFill,
    RawMarket, RawOrder, RawPrice, RawTrade, RawUser, RawWithdrawal, Ticker24h, TickerWindow,
    TradeRow, UserRow, WithdrawalRow,
};
use crate::Store;
use bourse_model::{
    Amount, AssetId, ClientOrderId, MarketId, OrderId, Price, Qty, Symbol, Timestamp, TradeId,
    UserId, WithdrawalId,
};
use std::borrow::Cow;

/// Largest page any list query returns.
pub const MAX_PAGE: u32 = 1000;

const DAY_MS: u64 = 86_400_000;

/// `open` = new, open or partially filled; `closed` = every terminal status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusFilter {
    Open,
    Closed,
}

/// Filters for [`Store::orders`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderQuery {
    pub user: UserId,
    pub status: Option<StatusFilter>,
    pub market: Option<MarketId>,
    /// Only orders with a smaller id (the last id of the previous page).
    pub before: Option<OrderId>,
    pub limit: u32,
}

/// Filters for [`Store::fills`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillQuery {
    pub user: UserId,
    pub market: Option<MarketId>,
    /// Only fills with a smaller [`FillRow::id`].
    pub before: Option<u64>,
    pub limit: u32,
}

fn limit(l: u32) -> Arg<'static> {
    Arg::I64(i64::from(l.clamp(1, MAX_PAGE)))
}

fn i(v: u64) -> Result<Arg<'static>> {
    Ok(Arg::I64(int(v, "query value")?))
}

/// SQL text with `$n` placeholders numbered as arguments are pushed.
struct Sql<'a> {
    text: String,
    args: Vec<Arg<'a>>,
}

impl<'a> Sql<'a> {
    fn new(text: &str) -> Self {
        Sql {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends `fragment`, replacing its `?` with the next placeholder bound to `arg`.
    fn push(&mut self, fragment: &str, arg: Arg<'a>) -> &mut Self {
        self.args.push(arg);
        self.text
            .push_str(&fragment.replace('?', &format!("${}", self.args.len())));
        self
    }

    fn raw(&mut self, fragment: &str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }
}

fn convert<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>> {
    rows.into_iter().map(T::try_from).collect()
}

impl Store {
    async fn all<R: crate::db::AnyRow, T: TryFrom<R, Error = StoreError>>(
        &self,
        sql: &Sql<'_>,
    ) -> Result<Vec<T>> {
        convert(self.backend.fetch_all::<R>(&sql.text, &sql.args).await?)
    }

    async fn one<R: crate::db::AnyRow, T: TryFrom<R, Error = StoreError>>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<T>> {
        self.backend
            .fetch_optional::<R>(sql, args)
            .await?
            .map(T::try_from)
            .transpose()
    }

    // ---- users and keys ----

    pub async fn user(&self, id: UserId) -> Result<Option<UserRow>> {
        self.one::<RawUser, _>("SELECT * FROM users WHERE id = $1", &[i(id.0)?])
            .await
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        self.one::<RawUser, _>(
            "SELECT * FROM users WHERE username = $1",
            &[Arg::Str(username.into())],
        )
        .await
    }

    /// Users in id order, after `after`.
    pub async fn users(&self, after: Option<UserId>, max: u32) -> Result<Vec<UserRow>> {
        let mut q = Sql::new("SELECT * FROM users WHERE 1 = 1");
        if let Some(a) = after {
            q.push(" AND id > ?", i(a.0)?);
        }
        q.push(" ORDER BY id LIMIT ?", limit(max));
        self.all::<RawUser, _>(&q).await
    }

    pub async fn api_keys(&self, user: UserId) -> Result<Vec<ApiKeyRow>> {
        let mut q = Sql::new("SELECT * FROM api_keys");
        q.push(" WHERE user_id = ? ORDER BY created_at, key_id", i(user.0)?);
        self.all::<RawApiKey, _>(&q).await
    }

    pub async fn api_key(&self, key_id: &str) -> Result<Option<ApiKeyRow>> {
        self.one::<RawApiKey, _>(
            "SELECT * FROM api_keys WHERE key_id = $1",
            &[Arg::Str(key_id.into())],
        )
        .await
    }

    // ---- assets and markets ----

    pub async fn assets(&self) -> Result<Vec<AssetRow>> {
        self.all::<RawAsset, _>(&Sql::new("SELECT * FROM assets ORDER BY id"))
            .await
    }

    pub async fn markets(&self) -> Result<Vec<MarketRow>> {
        self.all::<RawMarket, _>(&Sql::new("SELECT * FROM markets ORDER BY id"))
            .await
    }

    pub async fn market(&self, id: MarketId) -> Result<Option<MarketRow>> {
        self.one::<RawMarket, _>(
            "SELECT * FROM markets WHERE id = $1",
            &[i(u64::from(id.0))?],
        )
        .await
    }

    pub async fn market_by_symbol(&self, symbol: &Symbol) -> Result<Option<MarketRow>> {
        self.one::<RawMarket, _>(
            "SELECT * FROM markets WHERE symbol = $1",
            &[Arg::Str(symbol.as_str().into())],
        )
        .await
    }

    // ---- orders and fills ----

    pub async fn order(&self, id: OrderId) -> Result<Option<OrderRow>> {
        self.one::<RawOrder, _>("SELECT * FROM orders WHERE id = $1", &[i(id.0)?])
            .await
    }

    /// The newest order of `user` with this client order id (an id may be reused once
    /// the core's idempotency window has passed).
    pub async fn order_by_client_id(
        &self,
        user: UserId,
        client_order_id: &ClientOrderId,
    ) -> Result<Option<OrderRow>> {
        self.one::<RawOrder, _>(
            "SELECT * FROM orders WHERE user_id = $1 AND client_order_id = $2 \
             ORDER BY id DESC LIMIT 1",
            &[
                i(user.0)?,
                Arg::Str(Cow::Borrowed(client_order_id.as_str())),
            ],
        )
        .await
    }

    /// A user's orders, newest first.
    pub async fn orders(&self, f: &OrderQuery) -> Result<Vec<OrderRow>> {
        let mut q = Sql::new("SELECT * FROM orders");
        q.push(" WHERE user_id = ?", i(f.user.0)?);
        match f.status {
            Some(StatusFilter::Open) => q.raw(" AND is_open = ").push("?", Arg::Bool(true)),
            Some(StatusFilter::Closed) => q.raw(" AND is_open = ").push("?", Arg::Bool(false)),
            None => &mut q,
        };
        if let Some(m) = f.market {
            q.push(" AND market_id = ?", i(u64::from(m.0))?);
        }
        if let Some(b) = f.before {
            q.push(" AND id < ?", i(b.0)?);
        }
        q.push(" ORDER BY id DESC LIMIT ?", limit(f.limit));
        self.all::<RawOrder, _>(&q).await
    }

    /// A user's fills, newest first.
    pub async fn fills(&self, f: &FillQuery) -> Result<Vec<FillRow>> {
        let mut q = Sql::new("SELECT * FROM fills");
        q.push(" WHERE user_id = ?", i(f.user.0)?);
        if let Some(m) = f.market {
            q.push(" AND market_id = ?", i(u64::from(m.0))?);
        }
        if let Some(b) = f.before {
            q.push(" AND id < ?", i(b)?);
        }
        q.push(" ORDER BY id DESC LIMIT ?", limit(f.limit));
        self.all::<RawFill, _>(&q).await
    }

    /// One order's fills, oldest first.
    pub async fn order_fills(&self, order: OrderId) -> Result<Vec<FillRow>> {
        let mut q = Sql::new("SELECT * FROM fills");
        q.push(" WHERE order_id = ? ORDER BY id", i(order.0)?);
        self.all::<RawFill, _>(&q).await
    }

    // ---- market data ----

    /// A market's trades, newest first.
    pub async fn trades(
        &self,
        market: MarketId,
        before: Option<TradeId>,
        max: u32,
    ) -> Result<Vec<TradeRow>> {
        let mut q = Sql::new("SELECT * FROM trades");
        q.push(" WHERE market_id = ?", i(u64::from(market.0))?);
        if let Some(b) = before {
            q.push(" AND id < ?", i(b.0)?);
        }
        q.push(" ORDER BY id DESC LIMIT ?", limit(max));
        self.all::<RawTrade, _>(&q).await
    }

    /// One page of the trade report: trades after `after` (by id, ascending) made in
    /// `[start, end]`, of one market or all. Keyset paging on the primary key, so a
    /// report of any length is read page by page at the same cost per page.
    pub async fn trade_report_page(
        &self,
        market: Option<MarketId>,
        start: Timestamp,
        end: Timestamp,
        after: Option<TradeId>,
        max: u32,
    ) -> Result<Vec<TradeRow>> {
        let mut q = Sql::new("SELECT * FROM trades WHERE 1 = 1");
        q.push(" AND created_at >= ?", i(start.0)?);
        q.push(" AND created_at <= ?", i(end.0)?);
        if let Some(m) = market {
            q.push(" AND market_id = ?", i(u64::from(m.0))?);
        }
        if let Some(a) = after {
            q.push(" AND id > ?", i(a.0)?);
        }
        q.push(" ORDER BY id LIMIT ?", limit(max));
        self.all::<RawTrade, _>(&q).await
    }

    /// One page of `user`'s statement in `[start, end]`, after `after` (see
    /// [`crate::statement`]).
    pub async fn statement_page(
        &self,
        user: UserId,
        start: Timestamp,
        end: Timestamp,
        after: Option<crate::statement::StatementCursor>,
        max: u32,
    ) -> Result<Vec<crate::statement::StatementRow>> {
        let mut q = Sql::new(crate::statement::STATEMENT_SQL);
        q.args.extend([i(user.0)?, i(start.0)?, i(end.0)?]);
        if let Some((t, k, r, x)) = after {
            // Row-value comparison: strictly after the last row (both backends have it).
            q.push(" AND (t, k, r, x) > (?", i(t.0)?);
            q.push(", ?", i(u64::from(k))?);
            q.push(", ?", i(r)?);
            q.push(", ?)", i(x)?);
        }
        q.push(" ORDER BY t, k, r, x LIMIT ?", limit(max));
        self.all::<crate::statement::RawStatement, _>(&q).await
    }

    /// Candles whose bucket starts in `[start, end]`, oldest first, at most `max` of them.
    /// Buckets without trades are absent.
    pub async fn candles(
        &self,
        market: MarketId,
        interval: Interval,
        start: Timestamp,
        end: Timestamp,
        max: u32,
    ) -> Result<Vec<Candle>> {
        let mut q = Sql::new("SELECT * FROM candles");
        q.push(" WHERE market_id = ?", i(u64::from(market.0))?)
            .push(" AND period = ?", Arg::Str(interval.as_str().into()))
            .push(" AND bucket >= ?", i(start.0)?)
            .push(" AND bucket <= ?", i(end.0)?)
            .push(" ORDER BY bucket LIMIT ?", limit(max));
        let rows = self
            .backend
            .fetch_all::<RawCandle>(&q.text, &q.args)
            .await?;
        rows.into_iter()
            .map(|r| r.into_candle().map(|(_, c)| c))
            .collect()
    }

    /// 24 h statistics at `now` from the 1-minute candles, plus the last trade price.
    pub async fn ticker_24h(&self, market: MarketId, now: Timestamp) -> Result<Ticker24h> {
        let from = Timestamp(now.0.saturating_sub(DAY_MS) + 1);
        let candles = self
            .candles_all(market, Interval::M1, Interval::M1.bucket(from), now)
            .await?;
        let mut window: Option<TickerWindow> = None;
        for c in candles {
            let w = window.get_or_insert(TickerWindow {
                open: c.open,
                high: c.high,
                low: c.low,
                close: c.close,
                volume: Qty::ZERO,
                quote_volume: Amount::ZERO,
                trade_count: 0,
            });
            w.high = w.high.max(c.high);
            w.low = w.low.min(c.low);
            w.close = c.close;
            let sum = || StoreError::Inconsistent("24h volume overflows".into());
            w.volume = Qty(w.volume.0.checked_add(c.volume.0).ok_or_else(sum)?);
            w.quote_volume = w.quote_volume.checked_add(c.quote_volume).ok_or_else(sum)?;
            w.trade_count = w.trade_count.checked_add(c.trade_count).ok_or_else(sum)?;
        }
        let last: Option<RawPrice> = self
            .backend
            .fetch_optional(
                "SELECT price FROM trades WHERE market_id = $1 AND created_at <= $2 \
                 ORDER BY id DESC LIMIT 1",
                &[i(u64::from(market.0))?, i(now.0)?],
            )
            .await?;
        let last_price = last
            .map(|r| crate::db::uint(r.price, "trades").map(Price))
            .transpose()?;
        Ok(Ticker24h {
            market,
            window,
            last_price,
        })
    }

    /// Every candle in `[start, end]` (a day of minutes is 1440 rows: more than one page).
    async fn candles_all(
        &self,
        market: MarketId,
        interval: Interval,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<Candle>> {
        let mut q = Sql::new("SELECT * FROM candles");
        q.push(" WHERE market_id = ?", i(u64::from(market.0))?)
            .push(" AND period = ?", Arg::Str(interval.as_str().into()))
            .push(" AND bucket >= ?", i(start.0)?)
            .push(" AND bucket <= ?", i(end.0)?)
            .raw(" ORDER BY bucket");
        let rows = self
            .backend
            .fetch_all::<RawCandle>(&q.text, &q.args)
            .await?;
        rows.into_iter()
            .map(|r| r.into_candle().map(|(_, c)| c))
            .collect()
    }

    // ---- balances and funding ----

    /// A user's balances by asset id (assets never touched are absent).
    pub async fn balances(&self, user: UserId) -> Result<Vec<BalanceRow>> {
        let mut q = Sql::new("SELECT * FROM balances");
        q.push(" WHERE user_id = ? ORDER BY asset_id", i(user.0)?);
        self.all::<RawBalance, _>(&q).await
    }

    /// Every balance change of a user (optionally one asset), newest first.
    pub async fn balance_history(
        &self,
        user: UserId,
        asset: Option<AssetId>,
        before: Option<EventPos>,
        max: u32,
    ) -> Result<Vec<BalanceHistoryRow>> {
        let mut q = Sql::new("SELECT * FROM balance_history");
        q.push(" WHERE user_id = ?", i(user.0)?);
        if let Some(a) = asset {
            q.push(" AND asset_id = ?", i(u64::from(a.0))?);
        }
        if let Some(b) = before {
            q.push(" AND (seq < ?", i(b.seq)?)
                .push(" OR (seq = ?", i(b.seq)?)
                .push(" AND idx < ?))", i(u64::from(b.idx))?);
        }
        q.push(" ORDER BY seq DESC, idx DESC LIMIT ?", limit(max));
        self.all::<RawBalanceHistory, _>(&q).await
    }

    /// A user's deposits, newest first.
    pub async fn deposits(
        &self,
        user: UserId,
        before: Option<EventPos>,
        max: u32,
    ) -> Result<Vec<DepositRow>> {
        let mut q = Sql::new("SELECT * FROM deposits");
        q.push(" WHERE user_id = ?", i(user.0)?);
        if let Some(b) = before {
            q.push(" AND (seq < ?", i(b.seq)?)
                .push(" OR (seq = ?", i(b.seq)?)
                .push(" AND idx < ?))", i(u64::from(b.idx))?);
        }
        q.push(" ORDER BY seq DESC, idx DESC LIMIT ?", limit(max));
        self.all::<RawDeposit, _>(&q).await
    }

    pub async fn withdrawal(&self, id: WithdrawalId) -> Result<Option<WithdrawalRow>> {
        self.one::<RawWithdrawal, _>("SELECT * FROM withdrawals WHERE id = $1", &[i(id.0)?])
            .await
    }

    /// A user's withdrawals, newest first.
    pub async fn withdrawals(
        &self,
        user: UserId,
        before: Option<WithdrawalId>,
        max: u32,
    ) -> Result<Vec<WithdrawalRow>> {
        let mut q = Sql::new("SELECT * FROM withdrawals");
        q.push(" WHERE user_id = ?", i(user.0)?);
        if let Some(b) = before {
            q.push(" AND id < ?", i(b.0)?);
        }
        q.push(" ORDER BY id DESC LIMIT ?", limit(max));
        self.all::<RawWithdrawal, _>(&q).await
    }

    /// Withdrawals waiting for an admin, oldest first, after `after`.
    pub async fn pending_withdrawals(
        &self,
        after: Option<WithdrawalId>,
        max: u32,
    ) -> Result<Vec<WithdrawalRow>> {
        let mut q = Sql::new("SELECT * FROM withdrawals WHERE status = 'requested'");
        if let Some(a) = after {
            q.push(" AND id > ?", i(a.0)?);
        }
        q.push(" ORDER BY id LIMIT ?", limit(max));
        self.all::<RawWithdrawal, _>(&q).await
    }
}
