//! Public market data, shaped as Binance's `/api/v3` answers. Books come from the read
//! views (`lastUpdateId` = the market's book sequence); trades, klines and tickers from
//! the read models after the read fence. A too-large `limit` is clamped, as Binance does.

use crate::error::{BinanceError, Result};
use crate::format::interval;
use crate::params::{binance_symbol, symbol_param, symbols_param};
use crate::rules;
use crate::{Ctx, Gw};
use axum::extract::{Request, State};
use axum::Json;
use bourse_engine::now_ms;
use bourse_gateway::market_info::MarketInfo;
use bourse_gateway::Gateway;
use bourse_model::{Amount, Qty, Side, Timestamp, TradeId};
use bourse_store::Interval;
use serde_json::{json, Value};

type Answer = Result<Json<Value>>;

pub async fn ping() -> Json<Value> {
    Json(json!({}))
}

pub async fn time() -> Json<Value> {
    Json(json!({ "serverTime": now_ms() }))
}

fn symbol_info(m: &MarketInfo) -> Value {
    let s = &m.spec;
    let tick = m.price(bourse_model::Price(1));
    let step = m.qty(Qty(1));
    let max_price = m.price(bourse_model::Price(u64::MAX / s.tick.max(1) / 1000));
    json!({
        "symbol": binance_symbol(m),
        "status": if m.status == bourse_model::MarketStatus::Open { "TRADING" } else { "HALT" },
        "baseAsset": m.base,
        "baseAssetPrecision": s.base_scale,
        "quoteAsset": m.quote,
        "quotePrecision": s.quote_scale,
        "quoteAssetPrecision": s.quote_scale,
        "baseCommissionPrecision": s.base_scale,
        "quoteCommissionPrecision": s.quote_scale,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"],
        "icebergAllowed": false,
        "ocoAllowed": false,
        "otoAllowed": false,
        "quoteOrderQtyMarketAllowed": true,
        "allowTrailingStop": false,
        "cancelReplaceAllowed": true,
        "isSpotTradingAllowed": true,
        "isMarginTradingAllowed": false,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": max_price, "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": m.qty(s.min_qty), "maxQty": m.qty(s.max_qty), "stepSize": step},
            {"filterType": "MARKET_LOT_SIZE", "minQty": m.qty(s.min_qty), "maxQty": m.qty(s.max_qty), "stepSize": step},
            {"filterType": "NOTIONAL", "minNotional": m.quote_amount(s.min_notional),
             "applyMinToMarket": true, "maxNotional": "9000000000", "applyMaxToMarket": false, "avgPriceMins": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_TAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    })
}

pub async fn exchange_info(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let markets = c.gw.markets();
    let chosen = symbols_param(&c.p, &markets)?;
    Ok(Json(json!({
        "timezone": "UTC",
        "serverTime": now_ms(),
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": chosen.iter().map(symbol_info).collect::<Vec<_>>(),
    })))
}

pub async fn depth(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    let limit = c.p.limit(&rules::DEPTH_LIMIT)? as usize;
    let snap =
        c.gw.seq
            .views()
            .market_by_symbol(m.symbol())
            .ok_or_else(BinanceError::invalid_symbol)?;
    let m = &snap.info;
    let level = |&(p, q): &(bourse_model::Price, Qty)| json!([m.price(p), m.qty(q)]);
    Ok(Json(json!({
        "lastUpdateId": m.sequence,
        "bids": snap.bids.iter().take(limit).map(level).collect::<Vec<_>>(),
        "asks": snap.asks.iter().take(limit).map(level).collect::<Vec<_>>(),
    })))
}

/// Trades oldest first: the newest `limit`, or from `fromId` on.
async fn load_trades(c: &Ctx, m: &MarketInfo, limit: u32) -> Result<Vec<bourse_store::TradeRow>> {
    let from = c.p.int(&rules::FROM_ID)?;
    // Capped at the largest id the read models hold: beyond it the store refuses the
    // query (a `fromId` near 2^63 was a 500).
    let before = from.map(|f| TradeId(f.saturating_add(u64::from(limit)).min(rules::ID.max)));
    c.gw.fence().await?;
    let mut rows = c.gw.store.trades(m.id, before, limit).await?;
    if let Some(f) = from {
        rows.retain(|t| t.id.0 >= f);
    }
    rows.reverse();
    Ok(rows)
}

pub async fn trades(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    let rows = load_trades(&c, m, c.p.limit(&rules::TRADES_LIMIT)?).await?;
    Ok(Json(Value::Array(
        rows.iter()
            .map(|t| {
                json!({
                    "id": t.id.0, "price": m.price(t.price), "qty": m.qty(t.qty),
                    "quoteQty": m.quote_amount(t.notional), "time": t.created_at.0,
                    "isBuyerMaker": t.taker_side == Side::Sell, "isBestMatch": true,
                })
            })
            .collect(),
    )))
}

/// Every trade is its own aggregate (first = last = its id). `startTime`/`endTime`
/// filter the newest 1000 trades.
pub async fn agg_trades(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    let limit = c.p.limit(&rules::TRADES_LIMIT)?;
    let (start, end) = (c.p.int(&rules::START_TIME)?, c.p.int(&rules::END_TIME)?);
    let timed = start.is_some() || end.is_some();
    let mut rows = load_trades(&c, m, if timed { 1000 } else { limit }).await?;
    rows.retain(|t| {
        start.is_none_or(|s| t.created_at.0 >= s) && end.is_none_or(|e| t.created_at.0 <= e)
    });
    rows.truncate(limit as usize);
    Ok(Json(Value::Array(
        rows.iter()
            .map(|t| {
                json!({
                    "a": t.id.0, "p": m.price(t.price), "q": m.qty(t.qty), "f": t.id.0,
                    "l": t.id.0, "T": t.created_at.0, "m": t.taker_side == Side::Sell, "M": true,
                })
            })
            .collect(),
    )))
}

pub async fn klines(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    let iv = interval(
        c.p.choice(&rules::INTERVAL)?
            .ok_or_else(|| BinanceError::missing("interval"))?,
    )?;
    let limit = c.p.limit(&rules::TRADES_LIMIT)?;
    let end = c.p.int(&rules::END_TIME)?.unwrap_or_else(now_ms);
    let start = match c.p.int(&rules::START_TIME)? {
        Some(s) => s,
        None => iv
            .bucket(Timestamp(end))
            .0
            .saturating_sub(u64::from(limit - 1) * iv.millis()),
    };
    if start > end {
        return Err(BinanceError::new(
            -1100,
            "startTime must not be after endTime.",
        ));
    }
    c.gw.fence().await?;
    let rows =
        c.gw.store
            .candles(m.id, iv, Timestamp(start), Timestamp(end), limit)
            .await?;
    Ok(Json(Value::Array(
        rows.iter()
            .map(|k| {
                // Bourse keeps no taker-buy split: those two fields are "0".
                json!([
                    k.start.0,
                    m.price(k.open),
                    m.price(k.high),
                    m.price(k.low),
                    m.price(k.close),
                    m.qty(k.volume),
                    k.start.0 + iv.millis() - 1,
                    m.quote_amount(k.quote_volume),
                    k.trade_count,
                    "0",
                    "0",
                    "0"
                ])
            })
            .collect(),
    )))
}

/// `(last − open) / open × 100` with three decimals, truncated toward zero.
fn percent(last: u64, open: u64) -> String {
    if open == 0 {
        return "0.000".into();
    }
    let (sign, d) = if last >= open {
        ("", last - open)
    } else {
        ("-", open - last)
    };
    let t = u128::from(d) * 100_000 / u128::from(open);
    let sign = if t == 0 { "" } else { sign };
    format!("{sign}{}.{:03}", t / 1000, t % 1000)
}

/// `ticker/24hr`'s answer for one market (also what the `@ticker` streams translate).
pub(crate) async fn ticker_of(gw: &Gateway, m: &MarketInfo, full: bool) -> Result<Value> {
    let snap = gw.seq.views().market_by_symbol(m.symbol());
    let (bid, ask) = snap.as_ref().map_or((None, None), |s| {
        (s.bids.first().copied(), s.asks.first().copied())
    });
    let now = now_ms();
    let t = gw.store.ticker_24h(m.id, Timestamp(now)).await?;
    let last = t.last_price.or(m.last_price);
    let w = t.window;
    let zero = m.price(bourse_model::Price(0));
    let price = |p: Option<bourse_model::Price>| p.map_or_else(|| zero.clone(), |p| m.price(p));
    let open = w.map(|w| w.open).or(last);
    let (change, pct) = match (open, last) {
        (Some(o), Some(l)) => {
            let (sign, d) = if l.0 >= o.0 {
                ("", l.0 - o.0)
            } else {
                ("-", o.0 - l.0)
            };
            (
                format!("{sign}{}", m.price(bourse_model::Price(d))),
                percent(l.0, o.0),
            )
        }
        _ => (zero.clone(), "0.000".into()),
    };
    let volume = w.map_or(Qty::ZERO, |w| w.volume);
    let quote_volume = w.map_or(Amount::ZERO, |w| w.quote_volume);
    let mut v = json!({
        "symbol": binance_symbol(m),
        "priceChange": change,
        "priceChangePercent": pct,
        "weightedAvgPrice": m.average_price(quote_volume, volume).unwrap_or_else(|| zero.clone()),
        "openPrice": price(open),
        "highPrice": price(w.map(|w| w.high).or(last)),
        "lowPrice": price(w.map(|w| w.low).or(last)),
        "lastPrice": price(last),
        "volume": m.qty(volume),
        "quoteVolume": m.quote_amount(quote_volume),
        "openTime": now.saturating_sub(86_400_000),
        "closeTime": now,
        "firstId": -1,
        "lastId": -1,
        "count": w.map_or(0, |w| w.trade_count),
    });
    if full {
        let o = v.as_object_mut().expect("an object");
        o.insert("prevClosePrice".into(), json!(price(open)));
        o.insert("lastQty".into(), json!(m.qty(Qty::ZERO)));
        o.insert("bidPrice".into(), json!(price(bid.map(|b| b.0))));
        o.insert(
            "bidQty".into(),
            json!(m.qty(bid.map_or(Qty::ZERO, |b| b.1))),
        );
        o.insert("askPrice".into(), json!(price(ask.map(|a| a.0))));
        o.insert(
            "askQty".into(),
            json!(m.qty(ask.map_or(Qty::ZERO, |a| a.1))),
        );
    }
    Ok(v)
}

/// One object for `symbol`, an array for `symbols` or none.
fn one_or_many(c: &Ctx, mut list: Vec<Value>) -> Value {
    if c.p.get("symbol").is_some() {
        list.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(list)
    }
}

pub async fn ticker_24hr(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let markets = c.gw.markets();
    let chosen = symbols_param(&c.p, &markets)?;
    let full = c.p.choice(&rules::TICKER_TYPE)? != Some("MINI");
    c.gw.fence().await?;
    let mut out = Vec::with_capacity(chosen.len());
    for m in &chosen {
        out.push(ticker_of(&c.gw, m, full).await?);
    }
    Ok(Json(one_or_many(&c, out)))
}

pub async fn ticker_price(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let markets = c.gw.markets();
    let chosen = symbols_param(&c.p, &markets)?;
    let views = c.gw.seq.views();
    let out = chosen
        .iter()
        .map(|m| {
            let last = views.market_by_symbol(m.symbol()).and_then(|s| s.info.last_price);
            json!({"symbol": binance_symbol(m), "price": m.price(last.unwrap_or(bourse_model::Price(0)))})
        })
        .collect();
    Ok(Json(one_or_many(&c, out)))
}

pub async fn book_ticker(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let markets = c.gw.markets();
    let chosen = symbols_param(&c.p, &markets)?;
    let views = c.gw.seq.views();
    let out = chosen
        .iter()
        .map(|m| {
            let s = views.market_by_symbol(m.symbol());
            let side = |l: Option<&(bourse_model::Price, Qty)>| {
                l.map_or((m.price(bourse_model::Price(0)), m.qty(Qty::ZERO)), |&(p, q)| {
                    (m.price(p), m.qty(q))
                })
            };
            let (bp, bq) = side(s.as_ref().and_then(|s| s.bids.first()));
            let (ap, aq) = side(s.as_ref().and_then(|s| s.asks.first()));
            json!({"symbol": binance_symbol(m), "bidPrice": bp, "bidQty": bq, "askPrice": ap, "askQty": aq})
        })
        .collect();
    Ok(Json(one_or_many(&c, out)))
}

/// The volume-weighted price of the last 5 minutes (the last price without trades).
pub async fn avg_price(State(gw): State<Gw>, req: Request) -> Answer {
    let c = Ctx::new(gw, req).await?;
    let markets = c.gw.markets();
    let m = symbol_param(&c.p, &markets)?;
    let now = now_ms();
    c.gw.fence().await?;
    let rows =
        c.gw.store
            .candles(
                m.id,
                Interval::M1,
                Timestamp(now.saturating_sub(5 * 60_000)),
                Timestamp(now),
                10,
            )
            .await?;
    let (vol, quote) = rows.iter().fold((0u64, 0u64), |(v, q), k| {
        (
            v.saturating_add(k.volume.0),
            q.saturating_add(k.quote_volume.0),
        )
    });
    let price = m
        .average_price(Amount(quote), Qty(vol))
        .unwrap_or_else(|| m.price(m.last_price.unwrap_or(bourse_model::Price(0))));
    Ok(Json(json!({"mins": 5, "price": price, "closeTime": now})))
}
