//! Market-data events as Binance's streams carry them, from the `/ws` frames' `data`
//! (or, for the tickers, from `ticker/24hr`'s answer and, for partial books, from the
//! read views). Field meanings are Binance's; what Bourse does not keep is a fixed value:
//! trade ids stand for aggregate ids (every trade is its own aggregate), the buyer's and
//! seller's order ids are not published, kline taker-buy volumes are `"0"`.

use super::names::Stream;
use bourse_engine::now_ms;
use bourse_gateway::Gateway;
use bourse_store::Interval;
use serde_json::{json, Value};

/// `depthUpdate`: one command's changes to the book. The book sequence moves by one
/// per command, so `U` = `u` = the sequence, and the first update after REST `depth`'s
/// `lastUpdateId` is exactly `lastUpdateId + 1`.
pub fn depth_update(s: &Stream, sequence: u64, data: &Value) -> Value {
    json!({"e": "depthUpdate", "E": now_ms(), "s": s.symbol(), "U": sequence, "u": sequence,
        "b": data.get("bids").cloned().unwrap_or_else(|| json!([])),
        "a": data.get("asks").cloned().unwrap_or_else(|| json!([]))})
}

/// `<symbol>@depth<levels>`: the top `levels` of each side as the read views have them
/// now, with their sequence as `lastUpdateId`.
pub fn partial_book(gw: &Gateway, s: &Stream, levels: usize) -> Option<Value> {
    let snap = gw
        .seq
        .views()
        .market_by_symbol(s.market.as_ref()?.symbol())?;
    let m = &snap.info;
    let level = |&(p, q): &(bourse_model::Price, bourse_model::Qty)| json!([m.price(p), m.qty(q)]);
    Some(json!({
        "lastUpdateId": m.sequence,
        "bids": snap.bids.iter().take(levels).map(level).collect::<Vec<_>>(),
        "asks": snap.asks.iter().take(levels).map(level).collect::<Vec<_>>(),
    }))
}

/// `trade` or `aggTrade` events of one `trades` update (a list of
/// `{id, price, quantity, side (taker), created_at}`).
pub fn trades(s: &Stream, agg: bool, data: &Value) -> Vec<Value> {
    let Some(list) = data.as_array() else {
        return Vec::new();
    };
    let now = now_ms();
    list.iter()
        .map(|t| {
            let id = t.get("id").cloned().unwrap_or(Value::Null);
            let time = t.get("created_at").cloned().unwrap_or(Value::Null);
            // The buyer is the maker when the taker sold.
            let buyer_maker = t.get("side").and_then(Value::as_str) == Some("sell");
            let (p, q) = (t.get("price").cloned(), t.get("quantity").cloned());
            if agg {
                json!({"e": "aggTrade", "E": now, "s": s.symbol(), "a": id, "p": p, "q": q,
                    "f": id, "l": id, "T": time, "m": buyer_maker, "M": true})
            } else {
                json!({"e": "trade", "E": now, "s": s.symbol(), "t": id, "p": p, "q": q,
                    "T": time, "m": buyer_maker, "M": true})
            }
        })
        .collect()
}

/// `kline` from a `candles` frame's candle (`None` before the market's first trade).
pub fn kline(s: &Stream, iv: Interval, c: &Value) -> Option<Value> {
    let start = c.get("start")?.as_u64()?;
    let end = start + iv.millis() - 1;
    let f = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
    Some(json!({"e": "kline", "E": now_ms(), "s": s.symbol(), "k": {
        "t": start, "T": end, "s": s.symbol(), "i": iv.to_string(), "f": -1, "L": -1,
        "o": f("open"), "c": f("close"), "h": f("high"), "l": f("low"), "v": f("volume"),
        "n": f("trade_count"), "x": end < now_ms(), "q": f("quote_volume"),
        "V": "0", "Q": "0", "B": "0"}}))
}

/// `bookTicker` from a `ticker` frame (`u` = the book sequence). A side without orders
/// is `"0"`, `"0"`.
pub fn book_ticker(s: &Stream, sequence: u64, t: &Value) -> Value {
    let f = |k: &str| {
        t.get(k)
            .and_then(Value::as_str)
            .map_or_else(|| json!("0"), |v| json!(v))
    };
    json!({"u": sequence, "s": s.symbol(), "b": f("best_bid"), "B": f("best_bid_quantity"),
        "a": f("best_ask"), "A": f("best_ask_quantity")})
}

/// `24hrTicker` / `24hrMiniTicker` from `ticker/24hr`'s answer for the market.
pub fn ticker(rest: &Value, mini: bool) -> Value {
    let f = |k: &str| rest.get(k).cloned().unwrap_or(Value::Null);
    let now = now_ms();
    if mini {
        return json!({"e": "24hrMiniTicker", "E": now, "s": f("symbol"), "c": f("lastPrice"),
            "o": f("openPrice"), "h": f("highPrice"), "l": f("lowPrice"), "v": f("volume"),
            "q": f("quoteVolume")});
    }
    json!({"e": "24hrTicker", "E": now, "s": f("symbol"), "p": f("priceChange"),
        "P": f("priceChangePercent"), "w": f("weightedAvgPrice"), "x": f("prevClosePrice"),
        "c": f("lastPrice"), "Q": f("lastQty"), "b": f("bidPrice"), "B": f("bidQty"),
        "a": f("askPrice"), "A": f("askQty"), "o": f("openPrice"), "h": f("highPrice"),
        "l": f("lowPrice"), "v": f("volume"), "q": f("quoteVolume"), "O": f("openTime"),
        "C": f("closeTime"), "F": f("firstId"), "L": f("lastId"), "n": f("count")})
}
