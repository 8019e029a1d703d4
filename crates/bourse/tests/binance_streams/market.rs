//! Market streams: depth diffs against REST, partial books, and every trade and ticker
//! stream's values after a trade the test made.

use super::*;
use std::collections::BTreeMap;

/// One side of a book as price → quantity strings.
type Side = BTreeMap<String, String>;

fn side(levels: &Value) -> Side {
    levels
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l[0].as_str().unwrap().to_owned(),
                l[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Applies a diff's levels (`"0…"` = gone) to one side.
fn apply(book: &mut Side, diff: &Value) {
    for l in diff.as_array().unwrap() {
        let (p, q) = (l[0].as_str().unwrap(), l[1].as_str().unwrap());
        if q.trim_start_matches(['0', '.']).is_empty() {
            book.remove(p);
        } else {
            book.insert(p.to_owned(), q.to_owned());
        }
    }
}

/// Binance's recipe for a local book: buffer the stream, take a REST snapshot, drop
/// diffs with `u` <= `lastUpdateId`, the first kept has `U` <= `lastUpdateId`+1 <= `u`,
/// each next `U` is the previous `u` + 1; the result equals a later REST snapshot.
#[tokio::test]
async fn depth_diffs_continue_the_rest_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 2, |_| {}).await;
    place(&s, 0, "buy", "99", "1").await;
    place(&s, 1, "sell", "101", "1").await;
    // One stream by path (raw framing), the other subscribed; then both as combined.
    let mut raw = connect(s.app.addr, "/binance/ws/btcusd@depth").await;
    let mut ws = connect(s.app.addr, "/binance/stream?streams=btcusd@depth").await;
    let r = ask(
        &mut ws,
        json!({"method": "SUBSCRIBE", "params": ["btcusd@depth@100ms"], "id": 1}),
    )
    .await;
    assert_eq!(r, json!({"result": null, "id": 1}));
    let snap = rest_depth(&s.c, 1000).await;
    let last = snap["lastUpdateId"].as_u64().unwrap();
    let (bids, asks) = (side(&snap["bids"]), side(&snap["asks"]));
    // Book changes of every kind: new levels, a level growing, a partial and a full
    // take, a cancel.
    place(&s, 0, "buy", "99.5", "0.3").await;
    place(&s, 0, "buy", "99", "0.2").await;
    place(&s, 1, "sell", "100.75", "0.4").await;
    let gone = place(&s, 1, "sell", "102", "2").await;
    place(&s, 0, "buy", "100.75", "0.1").await;
    place(&s, 1, "sell", "99.5", "0.3").await;
    let (st, v) =
        s.c.delete(
            &format!("/api/v1/orders/{}", gone["id"]),
            Some(&s.traders[1].token),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let end = rest_depth(&s.c, 1000).await;
    let end_id = end["lastUpdateId"].as_u64().unwrap();
    assert!(end_id >= last + 7, "{last} → {end_id}");
    // Every stream carries the same diffs; follow each to the end.
    let mut prev: BTreeMap<String, u64> = BTreeMap::new();
    let mut books = BTreeMap::new();
    let mut done = 0;
    while done < 3 {
        let (key, v) = if done == 0 {
            ("raw".to_owned(), expect(&mut raw).await)
        } else {
            let f = expect(&mut ws).await;
            (f["stream"].as_str().unwrap().to_owned(), f["data"].clone())
        };
        assert_eq!(v["e"], "depthUpdate", "{v}");
        assert_eq!(v["s"], "BTCUSD");
        let (u0, u) = (v["U"].as_u64().unwrap(), v["u"].as_u64().unwrap());
        if u <= last {
            prev.insert(key, u);
            continue;
        }
        match prev.get(&key) {
            Some(&p) if p >= last => assert_eq!(u0, p + 1, "gap in {key}: {v}"),
            _ => assert!(u0 <= last + 1 && last < u, "first diff {v} after {last}"),
        }
        prev.insert(key.clone(), u);
        let (b, a) = books
            .entry(key.clone())
            .or_insert_with(|| (bids.clone(), asks.clone()));
        apply(b, &v["b"]);
        apply(a, &v["a"]);
        if u == end_id {
            assert_eq!(*b, side(&end["bids"]), "bids of {key}");
            assert_eq!(*a, side(&end["asks"]), "asks of {key}");
            done += 1;
        }
    }
    assert_eq!(
        books.keys().collect::<Vec<_>>(),
        ["btcusd@depth", "btcusd@depth@100ms", "raw"]
    );
    // The diffs really changed the book the test started from.
    assert_ne!(bids, side(&end["bids"]));
    assert_ne!(asks, side(&end["asks"]));
}

#[tokio::test]
async fn partial_books_are_the_top_levels() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 2, |_| {}).await;
    for i in 0..12 {
        place(&s, 0, "buy", &format!("{}", 90 + i), "0.5").await;
        place(&s, 1, "sell", &format!("{}", 110 + i), "0.25").await;
    }
    let mut ws = connect(
        s.app.addr,
        "/binance/stream?streams=btcusd@depth5/btcusd@depth10@100ms/btcusd@depth20",
    )
    .await;
    // Each is sent on subscription and after every book change.
    place(&s, 0, "buy", "101.5", "0.1").await;
    let rest = rest_depth(&s.c, 20).await;
    let want = rest["lastUpdateId"].clone();
    let mut seen = BTreeMap::new();
    while seen.len() < 3 {
        let f = expect(&mut ws).await;
        if f["data"]["lastUpdateId"] == want {
            seen.insert(f["stream"].as_str().unwrap().to_owned(), f["data"].clone());
        }
    }
    for (name, n) in [
        ("btcusd@depth5", 5),
        ("btcusd@depth10@100ms", 10),
        ("btcusd@depth20", 20),
    ] {
        let d = &seen[name];
        let top = |k: &str| {
            let all = rest[k].as_array().unwrap();
            json!(all[..n.min(all.len())])
        };
        assert_eq!(d["bids"], top("bids"), "{name}");
        assert_eq!(d["asks"], top("asks"), "{name}");
    }
    // 13 bids: 5 and 10 are cut, 20 has them all, best first.
    assert_eq!(
        seen["btcusd@depth5"]["bids"][0],
        json!(["101.50", "0.1000"])
    );
    assert_eq!(
        seen["btcusd@depth5"]["asks"][0],
        json!(["110.00", "0.2500"])
    );
    assert_eq!(seen["btcusd@depth20"]["bids"].as_array().unwrap().len(), 13);
    assert_eq!(
        seen["btcusd@depth10@100ms"]["asks"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
}

/// One trade of 0.2 at 101.25 (the taker buys, the maker had 0.5): every trade, candle
/// and ticker stream, with the values it must carry.
#[tokio::test]
async fn trade_and_ticker_streams_carry_the_trade() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 2, |_| {}).await;
    place(&s, 0, "buy", "100", "1").await;
    let streams = [
        "btcusd@trade",
        "btcusd@aggTrade",
        "btcusd@kline_1m",
        "btcusd@miniTicker",
        "btcusd@ticker",
        "btcusd@bookTicker",
        "!miniTicker@arr",
        "!ticker@arr",
    ];
    let mut ws = connect(
        s.app.addr,
        &format!("/binance/stream?streams={}", streams.join("/")),
    )
    .await;
    let r = ask(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 1})).await;
    assert_eq!(r["result"], json!(streams));
    place(&s, 0, "sell", "101.25", "0.5").await;
    let before = now_ms();
    place(&s, 1, "buy", "101.25", "0.2").await;
    let (st, trades) = binance(
        &s.c,
        Method::GET,
        "/api/v3/trades",
        "symbol=BTCUSD",
        None,
        false,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let rest_trade = trades.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&rest_trade["price"], &rest_trade["qty"]),
        (&json!("101.25"), &json!("0.2000"))
    );
    let id = rest_trade["id"].clone();
    let time = rest_trade["time"].clone();
    assert!(time.as_u64().unwrap() >= before);

    let mut got: BTreeMap<String, Value> = BTreeMap::new();
    // Streams that also sent the state before the trade: wait for the one after it.
    let after = |name: &str, d: &Value| match name {
        "btcusd@miniTicker" => d["c"] == "101.25",
        // `Q` comes from the live ticker, which can be a moment behind the read models.
        "btcusd@ticker" => d["c"] == "101.25" && d["Q"] == "0.2000",
        "!ticker@arr" => d[0]["c"] == "101.25" && d[0]["Q"] == "0.2000",
        "btcusd@bookTicker" => d["A"] == "0.3000",
        "btcusd@kline_1m" => d["k"]["c"] == "101.25",
        "!miniTicker@arr" => d[0]["c"] == "101.25",
        _ => true,
    };
    while got.len() < streams.len() {
        let f = expect(&mut ws).await;
        let name = f["stream"].as_str().unwrap().to_owned();
        if after(&name, &f["data"]) {
            got.entry(name).or_insert(f["data"].clone());
        }
    }
    let e = |name: &str| got[name]["E"].clone();
    assert_eq!(
        got["btcusd@trade"],
        json!({"e": "trade", "E": e("btcusd@trade"), "s": "BTCUSD", "t": id, "p": "101.25",
               "q": "0.2000", "T": time, "m": false, "M": true})
    );
    assert_eq!(
        got["btcusd@aggTrade"],
        json!({"e": "aggTrade", "E": e("btcusd@aggTrade"), "s": "BTCUSD", "a": id, "p": "101.25",
               "q": "0.2000", "f": id, "l": id, "T": time, "m": false, "M": true})
    );
    let k = &got["btcusd@kline_1m"]["k"];
    let start = time.as_u64().unwrap() / 60_000 * 60_000;
    assert_eq!(
        *k,
        json!({"t": start, "T": start + 59_999, "s": "BTCUSD", "i": "1m", "f": -1, "L": -1,
               "o": "101.25", "c": "101.25", "h": "101.25", "l": "101.25", "v": "0.2000",
               "n": 1, "x": k["x"], "q": "20.250000", "V": "0", "Q": "0", "B": "0"})
    );
    let mini = &got["btcusd@miniTicker"];
    assert_eq!(
        *mini,
        json!({"e": "24hrMiniTicker", "E": mini["E"], "s": "BTCUSD", "c": "101.25",
               "o": "101.25", "h": "101.25", "l": "101.25", "v": "0.2000", "q": "20.250000"})
    );
    let t = &got["btcusd@ticker"];
    for (k, v) in [
        ("e", "24hrTicker"),
        ("s", "BTCUSD"),
        ("c", "101.25"),
        ("Q", "0.2000"),
        ("o", "101.25"),
        ("p", "0.00"),
        ("b", "100.00"),
        ("B", "1.0000"),
        ("a", "101.25"),
        ("A", "0.3000"),
        ("v", "0.2000"),
        ("q", "20.250000"),
        ("w", "101.25"),
    ] {
        assert_eq!(t[k], v, "ticker {k}: {t}");
    }
    assert_eq!(t["n"], 1, "{t}");
    assert_eq!(
        got["btcusd@bookTicker"],
        json!({"u": got["btcusd@bookTicker"]["u"], "s": "BTCUSD", "b": "100.00", "B": "1.0000",
               "a": "101.25", "A": "0.3000"})
    );
    let u = got["btcusd@bookTicker"]["u"].as_u64().unwrap();
    assert_eq!(
        u,
        rest_depth(&s.c, 5).await["lastUpdateId"].as_u64().unwrap()
    );
    // The all-market arrays: one entry per market, the same values.
    let arr = got["!miniTicker@arr"].as_array().unwrap();
    assert_eq!(arr.len(), 1, "{arr:?}");
    assert_eq!(arr[0]["e"], "24hrMiniTicker");
    for k in ["s", "c", "o", "h", "l", "v", "q"] {
        assert_eq!(arr[0][k], mini[k], "miniTicker@arr {k}");
    }
    let arr = got["!ticker@arr"].as_array().unwrap();
    assert_eq!(arr.len(), 1, "{arr:?}");
    for k in ["e", "s", "c", "Q", "b", "B", "a", "A", "v", "q", "n"] {
        assert_eq!(arr[0][k], t[k], "ticker@arr {k}");
    }
}
