//! Regulator and account reports as CSV (`text/csv`, a header row, RFC 4180 quoting by
//! the `csv` crate, `Content-Disposition: attachment`):
//!
//! - `GET /api/v1/admin/reports/trades.csv?market=&start=&end=` (admin): one row per
//!   trade, oldest first. Columns: `trade_id, time` (ms since the epoch), `market, price,
//!   quantity, quote_quantity` (price × quantity, before fees), `buyer, seller`
//!   (usernames), `maker_side` (`buy`: the buyer's order was resting), `buyer_fee,
//!   seller_fee, fee_asset` (fees are charged in the quote asset).
//!
//! - `GET /api/v1/reports/statement.csv?start=&end=` (the caller's own): one row per
//!   movement of their balances, in time order. Columns: `time, type` (`deposit`,
//!   `withdrawal`, `fill`), `asset, amount` (signed: what came in is positive, what went
//!   out negative, before fees), `fee` (charged in that asset on top: the asset's net
//!   change is `amount - fee`), `reference` (`deposit:<seq>:<index>`,
//!   `withdrawal:<id>`, `trade:<id>`). A fill is two rows, its base and its quote leg (the
//!   fee on the quote leg). Rejected withdrawals moved nothing and are not listed.
//!
//! Every amount is the exact decimal string of the market's grid, never a float. The
//! range is inclusive, `start` defaults to 0 and `end` to now; `start` after `end`, or a
//! time past year 9999, is `VALIDATION_ERROR` (422) before anything is sent.
//!
//! The body is streamed: the read model is read in keyset pages of [`PAGE`] rows
//! (`id > last`), each written out before the next is read, so a year of trades never
//! sits in memory. Once the header is sent the status is 200; a database failure after
//! that ends the body early (the client sees a truncated transfer), and is logged.

use crate::auth::{AdminUser, AuthUser};
use crate::error::{ApiError, Error};
use crate::openapi::ErrorResponse;
use crate::state::SharedState;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bourse_gateway::market_info::{check_time, market_by_id, market_info, MarketInfo};
use bourse_gateway::rules;
use bourse_model::{format_units, Amount, MarketId, Qty, Side, Timestamp, TradeId, UserId};
use bourse_store::statement::{Movement, StatementCursor, StatementRow};
use bourse_store::TradeRow;
use futures_util::stream::{self, StreamExt};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Rows read from the database per page.
pub const PAGE: u32 = 1000;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(trades_csv))
        .routes(routes!(statement_csv))
}

/// The header row of `trades.csv`.
pub const TRADE_COLUMNS: [&str; 12] = [
    "trade_id",
    "time",
    "market",
    "price",
    "quantity",
    "quote_quantity",
    "buyer",
    "seller",
    "maker_side",
    "buyer_fee",
    "seller_fee",
    "fee_asset",
];

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TradeReportQuery {
    /// Only this market (default: every market).
    #[param(example = "BTC-USD")]
    pub market: Option<String>,
    /// Earliest trade time to include (ms since the epoch, inclusive; default 0).
    pub start: Option<u64>,
    /// Latest trade time to include (ms since the epoch, inclusive; default now).
    pub end: Option<u64>,
}

/// `[start, end]` of a report query, checked.
pub fn range(start: Option<u64>, end: Option<u64>) -> Result<(Timestamp, Timestamp), Error> {
    if let Some(t) = start {
        check_time("start", t)?;
    }
    if let Some(t) = end {
        check_time("end", t)?;
    }
    let end = end.unwrap_or_else(bourse_engine::now_ms);
    let start = start.unwrap_or(0);
    if start > end {
        return Err(rules::START_NOT_AFTER_END.error());
    }
    Ok((Timestamp(start), Timestamp(end)))
}

/// One CSV record as bytes (the `csv` crate quotes what needs it).
pub fn record<I, S>(fields: I) -> Result<Vec<u8>, Error>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields).map_err(Error::internal)?;
    w.into_inner().map_err(Error::internal)
}

/// A streamed CSV response: `header`, then each chunk of `rows`.
pub fn csv_response<S>(filename: &str, header: Vec<u8>, rows: S) -> Response
where
    S: futures_util::Stream<Item = Result<Bytes, Error>> + Send + 'static,
{
    let body = stream::once(async move { Ok::<_, Error>(Bytes::from(header)) })
        .chain(rows)
        .map(|chunk| {
            chunk.map_err(|e| {
                // The status is already sent: end the body and say why in the log.
                e.log_detail();
                std::io::Error::other(e.to_string())
            })
        });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// A user's name for a report (the views know every user).
pub fn username(state: &SharedState, id: UserId) -> String {
    state
        .seq
        .views()
        .user(id)
        .map_or_else(|| id.0.to_string(), |u| u.username.clone())
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn trade_record(state: &SharedState, m: &MarketInfo, t: &TradeRow) -> Result<Vec<u8>, Error> {
    let (buyer, seller) = match t.taker_side {
        Side::Buy => (t.taker_user, t.maker_user),
        Side::Sell => (t.maker_user, t.taker_user),
    };
    let (buyer_fee, seller_fee) = match t.taker_side {
        Side::Buy => (t.taker_fee, t.maker_fee),
        Side::Sell => (t.maker_fee, t.taker_fee),
    };
    record([
        t.id.0.to_string(),
        t.created_at.0.to_string(),
        m.symbol().to_owned(),
        m.price(t.price),
        m.qty(t.qty),
        m.quote_amount(t.notional),
        username(state, buyer),
        username(state, seller),
        side(t.taker_side.opposite()).to_owned(),
        m.quote_amount(buyer_fee),
        m.quote_amount(seller_fee),
        m.quote.clone(),
    ])
}

/// Where a paged read stands: the first page, after a key, or done.
enum Cursor<K> {
    First,
    After(K),
    Done,
}

/// Every trade in the range as CSV, streamed.
#[utoipa::path(
    get,
    path = "/api/v1/admin/reports/trades.csv",
    tag = "admin",
    summary = "Trade report (CSV, streamed)",
    description = "One row per trade, oldest first, with the header row `trade_id,time,market,price,quantity,quote_quantity,buyer,seller,maker_side,buyer_fee,seller_fee,fee_asset`: `time` in ms since the epoch, amounts as exact decimal strings of the market's grid, `quote_quantity` = price × quantity before fees, `buyer`/`seller` usernames, `maker_side` the side whose order was resting, fees in `fee_asset` (the quote asset). RFC 4180 quoting. The range `[start, end]` is inclusive (default: everything up to now). Streamed from the database page by page.",
    params(TradeReportQuery),
    responses(
        (status = 200, description = "The report, as an attachment", content_type = "text/csv", body = String,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"trades-<market|all>-<start>-<end>.csv\"`"))),
        (status = 400, description = "`BAD_REQUEST`: `start` or `end` is not an integer, or an unknown parameter", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`, `INVALID_API_KEY`, `INVALID_SIGNATURE`, `TIMESTAMP_OUT_OF_WINDOW`, `SIGNATURE_REPLAYED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_MARKET`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`: `start` after `end`, a time past year 9999", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`, `UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
async fn trades_csv(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Query(q): Query<TradeReportQuery>,
) -> Result<Response, ApiError> {
    let (start, end) = range(q.start, q.end)?;
    let market: Option<MarketId> = match q.market.as_deref() {
        Some(symbol) => Some(market_info(&state, symbol)?.id),
        None => None,
    };
    state.fence().await?;
    let filename = format!(
        "trades-{}-{}-{}.csv",
        q.market.as_deref().unwrap_or("all"),
        start.0,
        end.0
    );
    let rows = stream::unfold(Cursor::<TradeId>::First, move |cursor| {
        let state = state.clone();
        async move {
            let after = match cursor {
                Cursor::Done => return None,
                Cursor::First => None,
                Cursor::After(k) => Some(k),
            };
            let page = async {
                let rows = state
                    .store
                    .trade_report_page(market, start, end, after, PAGE)
                    .await?;
                let next = match rows.last() {
                    Some(t) if rows.len() == PAGE as usize => Cursor::After(t.id),
                    _ => Cursor::Done,
                };
                let mut out = Vec::new();
                for t in &rows {
                    let m = market_by_id(&state, t.market)?;
                    out.extend(trade_record(&state, &m, t)?);
                }
                Ok::<_, Error>((Bytes::from(out), next))
            };
            Some(match page.await {
                Ok((bytes, next)) => (Ok(bytes), next),
                Err(e) => (Err(e), Cursor::Done),
            })
        }
    });
    Ok(csv_response(&filename, record(TRADE_COLUMNS)?, rows))
}

/// The header row of `statement.csv`.
pub const STATEMENT_COLUMNS: [&str; 6] = ["time", "type", "asset", "amount", "fee", "reference"];

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// Earliest movement time to include (ms since the epoch, inclusive; default 0).
    pub start: Option<u64>,
    /// Latest movement time to include (ms since the epoch, inclusive; default now).
    pub end: Option<u64>,
}

fn signed(out: bool, s: String) -> String {
    if out {
        format!("-{s}")
    } else {
        s
    }
}

/// The CSV rows of one statement row (two for a fill).
fn statement_records(state: &SharedState, r: &StatementRow) -> Result<Vec<u8>, Error> {
    let time = r.time.0.to_string();
    match r.movement {
        Movement::Deposit | Movement::Withdrawal => {
            let catalog = state.seq.views().catalog();
            let a = catalog
                .asset(r.asset)
                .ok_or_else(|| Error::internal("a statement asset is not in the catalog"))?;
            let out = r.movement == Movement::Withdrawal;
            let reference = if out {
                format!("withdrawal:{}", r.key)
            } else {
                format!("deposit:{}:{}", r.key, r.idx)
            };
            record([
                time,
                (if out { "withdrawal" } else { "deposit" }).to_owned(),
                a.symbol.to_string(),
                signed(out, format_units(r.amount, a.scale)),
                format_units(0, a.scale),
                reference,
            ])
        }
        Movement::Fill { market, side } => {
            let m = market_by_id(state, market)?;
            // Fill ids are trade id * 2 + (0 maker | 1 taker).
            let reference = format!("trade:{}", r.key / 2);
            let buy = side == Side::Buy;
            let mut out = record([
                time.clone(),
                "fill".to_owned(),
                m.base.clone(),
                signed(!buy, m.qty(Qty(r.qty))),
                format_units(0, m.spec.base_scale),
                reference.clone(),
            ])?;
            out.extend(record([
                time,
                "fill".to_owned(),
                m.quote.clone(),
                signed(buy, m.quote_amount(Amount(r.amount))),
                m.quote_amount(Amount(r.fee)),
                reference,
            ])?);
            Ok(out)
        }
    }
}

/// The caller's statement as CSV, streamed.
#[utoipa::path(
    get,
    path = "/api/v1/reports/statement.csv",
    tag = "account",
    summary = "Account statement (CSV, streamed)",
    description = "One row per movement of the caller's balances, in time order, with the header row `time,type,asset,amount,fee,reference`: `type` is `deposit`, `withdrawal` or `fill`; `amount` is signed (in positive, out negative) and before fees; `fee` is charged in that asset on top (net change = amount − fee); `reference` is `deposit:<seq>:<index>`, `withdrawal:<id>` or `trade:<id>`. A fill is two rows (base and quote leg, the fee on the quote leg); rejected withdrawals are not listed. The range `[start, end]` is inclusive (default: everything up to now). Exact decimal strings, RFC 4180 quoting, streamed from the database page by page.",
    params(StatementQuery),
    responses(
        (status = 200, description = "The statement, as an attachment", content_type = "text/csv", body = String,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"statement-<username>-<start>-<end>.csv\"`"))),
        (status = 400, description = "`BAD_REQUEST`: `start` or `end` is not an integer, or an unknown parameter", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`, `INVALID_API_KEY`, `INVALID_SIGNATURE`, `TIMESTAMP_OUT_OF_WINDOW`, `SIGNATURE_REPLAYED`", body = ErrorResponse),
        (status = 403, description = "`PERMISSION_DENIED`, `IP_NOT_ALLOWED`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`: `start` after `end`, a time past year 9999", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`, `UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
async fn statement_csv(
    State(state): State<SharedState>,
    user: AuthUser,
    Query(q): Query<StatementQuery>,
) -> Result<Response, ApiError> {
    let (start, end) = range(q.start, q.end)?;
    let id = user.id;
    state.fence().await?;
    let filename = format!(
        "statement-{}-{}-{}.csv",
        username(&state, id),
        start.0,
        end.0
    );
    let rows = stream::unfold(Cursor::<StatementCursor>::First, move |cursor| {
        let state = state.clone();
        async move {
            let after = match cursor {
                Cursor::Done => return None,
                Cursor::First => None,
                Cursor::After(k) => Some(k),
            };
            let page = async {
                let rows = state
                    .store
                    .statement_page(id, start, end, after, PAGE)
                    .await?;
                let next = match rows.last() {
                    Some(r) if rows.len() == PAGE as usize => Cursor::After(r.cursor()),
                    _ => Cursor::Done,
                };
                let mut out = Vec::new();
                for r in &rows {
                    out.extend(statement_records(&state, r)?);
                }
                Ok::<_, Error>((Bytes::from(out), next))
            };
            Some(match page.await {
                Ok((bytes, next)) => (Ok(bytes), next),
                Err(e) => (Err(e), Cursor::Done),
            })
        }
    });
    Ok(csv_response(&filename, record(STATEMENT_COLUMNS)?, rows))
}

#[cfg(test)]
mod tests {
    #[test]
    fn records_are_quoted_as_rfc_4180_says() {
        let r = super::record(["plain", "a,b", "say \"hi\"", "two\nlines"]).unwrap();
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\n"
        );
    }
}
