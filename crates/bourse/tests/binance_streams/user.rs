//! User data: the listen-key flow and its expiry, and the WebSocket API's
//! `userDataStream.subscribe.signature`, each seeing an order and a fill the test made.

use super::*;
use common::balance;

async fn listen_key(s: &Setup, who: usize) -> String {
    let (st, v) = binance(
        &s.c,
        Method::POST,
        "/api/v3/userDataStream",
        "",
        Some(&s.traders[who]),
        false,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["listenKey"].as_str().unwrap().to_owned()
}

async fn keep_alive(s: &Setup, who: usize, lk: &str) -> (StatusCode, Value) {
    binance(
        &s.c,
        Method::PUT,
        "/api/v3/userDataStream",
        &format!("listenKey={lk}"),
        Some(&s.traders[who]),
        false,
    )
    .await
}

/// `outboundAccountPosition`'s entry for `asset` as `(free, locked)`.
fn position(ev: &Value, asset: &str) -> Option<(String, String)> {
    ev["B"]
        .as_array()?
        .iter()
        .find(|b| b["a"] == asset)
        .map(|b| {
            (
                b["f"].as_str().unwrap().to_owned(),
                b["l"].as_str().unwrap().to_owned(),
            )
        })
}

/// Reads events until an `executionReport` with `x` = `exec`, checking every
/// `outboundAccountPosition` on the way against `/api/v1/balances` once the report came.
async fn report(ws: &mut Ws, exec: &str, unwrap: impl Fn(Value) -> Value) -> Value {
    until(ws, |v| {
        let v = unwrap(v.clone());
        v["e"] == "executionReport" && v["x"] == exec
    })
    .await
}

/// A buy of 0.5 at 100 on `/api/v3/order`, then 0.2 sold into it on `/api/v1`: the
/// trader's stream shows both with their values and balances equal to `/api/v1`.
async fn order_and_fill(s: &Setup, ws: &mut Ws, unwrap: impl Fn(Value) -> Value + Copy) {
    let (st, o) = binance(
        &s.c,
        Method::POST,
        "/api/v3/order",
        "symbol=BTCUSD&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.5&price=100&newClientOrderId=ud-1",
        Some(&s.traders[0]),
        true,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{o}");
    let id = o["orderId"].clone();
    let new = unwrap(report(ws, "NEW", unwrap).await);
    for (k, v) in [
        ("s", json!("BTCUSD")),
        ("c", json!("ud-1")),
        ("S", json!("BUY")),
        ("o", json!("LIMIT")),
        ("f", json!("GTC")),
        ("q", json!("0.5000")),
        ("p", json!("100.00")),
        ("X", json!("NEW")),
        ("i", id.clone()),
        ("z", json!("0.0000")),
        ("w", json!(true)),
    ] {
        assert_eq!(new[k], v, "NEW report {k}: {new}");
    }
    let pos = unwrap(until(ws, |v| unwrap(v.clone())["e"] == "outboundAccountPosition").await);
    let v1 = s.c.balances(&s.traders[0].token).await;
    assert_eq!(position(&pos, "USD"), Some(balance(&v1, "USD")), "{pos}");

    let sold = place(s, 1, "sell", "100", "0.2").await;
    assert_eq!(sold["status"], "filled", "{sold}");
    let fill = unwrap(report(ws, "TRADE", unwrap).await);
    let (st, mine) = binance(
        &s.c,
        Method::GET,
        "/api/v3/myTrades",
        "symbol=BTCUSD",
        Some(&s.traders[0]),
        true,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{mine}");
    let trade = mine.as_array().unwrap().last().unwrap().clone();
    for (k, v) in [
        ("i", id.clone()),
        ("X", json!("PARTIALLY_FILLED")),
        ("l", json!("0.2000")),
        ("L", json!("100.00")),
        ("z", json!("0.2000")),
        ("Y", json!("20.000000")),
        ("Z", json!("20.000000")),
        ("m", json!(true)),
        ("t", trade["id"].clone()),
        ("n", trade["commission"].clone()),
        ("N", trade["commissionAsset"].clone()),
    ] {
        assert_eq!(fill[k], v, "TRADE report {k}: {fill}");
    }
    // The fill's balances: BTC bought, USD held released.
    let v1 = s.c.balances(&s.traders[0].token).await;
    let want = (balance(&v1, "BTC"), balance(&v1, "USD"));
    let pos = unwrap(
        until(ws, |v| {
            let v = unwrap(v.clone());
            v["e"] == "outboundAccountPosition" && position(&v, "BTC").is_some()
        })
        .await,
    );
    assert_eq!(
        (
            position(&pos, "BTC").unwrap(),
            position(&pos, "USD").unwrap()
        ),
        want,
        "{pos}"
    );
}

#[tokio::test]
async fn listen_key_stream_sees_orders_fills_and_ends_on_delete() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 2, |_| {}).await;
    // The API key alone, no signature; the same key again answers the same listen key.
    let lk = listen_key(&s, 0).await;
    assert_eq!(listen_key(&s, 0).await, lk);
    assert_ne!(listen_key(&s, 1).await, lk);
    let (st, v) = binance(
        &s.c,
        Method::POST,
        "/api/v3/userDataStream",
        "",
        None,
        false,
    )
    .await;
    assert_eq!(
        (st, &v["code"]),
        (StatusCode::UNAUTHORIZED, &json!(-2014)),
        "{v}"
    );
    assert_eq!(keep_alive(&s, 0, &lk).await, (StatusCode::OK, json!({})));
    // Another user's listen key is not theirs to keep alive.
    let (st, v) = keep_alive(&s, 1, &lk).await;
    assert_eq!(
        (st, &v["code"]),
        (StatusCode::BAD_REQUEST, &json!(-1125)),
        "{v}"
    );

    let mut ws = connect(s.app.addr, &format!("/binance/ws/{lk}")).await;
    // Raw framing: the events themselves.
    order_and_fill(&s, &mut ws, |v| v).await;
    // The same key in a combined stream: events wrapped with the listen key.
    let mut comb = connect(
        s.app.addr,
        &format!("/binance/stream?streams={lk}/btcusd@trade"),
    )
    .await;
    let r = ask(&mut comb, json!({"method": "LIST_SUBSCRIPTIONS", "id": 1})).await;
    assert_eq!(r["result"], json!(["btcusd@trade"]));
    place(&s, 1, "sell", "100", "0.1").await;
    let f = until(&mut comb, |v| v["stream"] == lk.as_str()).await;
    assert_eq!(f["data"]["e"], "executionReport", "{f}");
    assert_eq!(f["data"]["z"], "0.3000", "{f}");

    let (st, v) = binance(
        &s.c,
        Method::DELETE,
        "/api/v3/userDataStream",
        &format!("listenKey={lk}"),
        Some(&s.traders[0]),
        false,
    )
    .await;
    assert_eq!((st, v), (StatusCode::OK, json!({})));
    for w in [&mut ws, &mut comb] {
        let ev = until(w, |v| {
            v["e"] == "listenKeyExpired" || v["data"]["e"] == "listenKeyExpired"
        })
        .await;
        let ev = if ev.get("data").is_some() {
            ev["data"].clone()
        } else {
            ev
        };
        assert_eq!(ev["listenKey"], lk.as_str(), "{ev}");
        let f = closed(w).await.expect("a close frame");
        assert_eq!(u16::from(f.code), 1000, "{f:?}");
    }
    assert_eq!(keep_alive(&s, 0, &lk).await.1["code"], -1125);
}

#[tokio::test]
async fn listen_keys_expire_unless_kept_alive() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 1, |c| c.binance.listen_key_ttl_secs = 3).await;
    let lk = listen_key(&s, 0).await;
    let mut ws = connect(s.app.addr, &format!("/binance/ws/{lk}")).await;
    let opened = std::time::Instant::now();
    // Kept alive at 1.5 s, so alive at 3.5 s (past the first deadline).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(keep_alive(&s, 0, &lk).await, (StatusCode::OK, json!({})));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(keep_alive(&s, 0, &lk).await, (StatusCode::OK, json!({})));
    // Events still flow.
    place(&s, 0, "buy", "90", "0.1").await;
    let ev = until(&mut ws, |v| v["e"] == "executionReport").await;
    assert_eq!(ev["x"], "NEW");
    // Now left alone: expired 3 s after the last keep-alive, announced, then closed.
    let ev = until(&mut ws, |v| v["e"] == "listenKeyExpired").await;
    assert_eq!(ev["listenKey"], lk.as_str(), "{ev}");
    assert!(
        opened.elapsed() >= Duration::from_millis(6500),
        "{:?}",
        opened.elapsed()
    );
    let f = closed(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(f.code), 1000, "{f:?}");
    assert_eq!(keep_alive(&s, 0, &lk).await.1["code"], -1125);
    // A fresh POST makes a new key.
    assert_ne!(listen_key(&s, 0).await, lk);
}

fn ws_api_subscribe(t: &Trader, id: u64, secret: &str) -> Value {
    let ts = now_ms().to_string();
    let payload = format!("apiKey={}&timestamp={ts}", t.key);
    json!({"id": id, "method": "userDataStream.subscribe.signature", "params": {
        "apiKey": t.key, "timestamp": ts, "signature": hmac_hex(secret, &payload)}})
}

#[tokio::test]
async fn ws_api_user_data_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 2, |_| {}).await;
    let mut ws = connect(s.app.addr, "/binance/ws-api/v3").await;
    let t = &s.traders[0];
    // A wrong signature: refused, nothing subscribed.
    let r = ask(&mut ws, ws_api_subscribe(t, 1, "not-the-secret")).await;
    assert_eq!(r["status"], 400, "{r}");
    assert_eq!(r["error"]["code"], -1022, "{r}");
    let r = ask(
        &mut ws,
        json!({"id": 2, "method": "userDataStream.subscribe.signature",
        "params": {"apiKey": t.key}}),
    )
    .await;
    assert_eq!(r["error"]["code"], -1102, "{r}");
    let r = ask(&mut ws, json!({"id": 3, "method": "dance"})).await;
    assert_eq!(
        r,
        json!({"id": 3, "status": 400, "error": {"code": -1000, "msg": "Unknown method."}, "rateLimits": []})
    );
    let r = ask(&mut ws, ws_api_subscribe(t, 4, &t.secret)).await;
    assert_eq!(
        r,
        json!({"id": 4, "status": 200, "result": {"subscriptionId": 0}, "rateLimits": []})
    );
    let unwrap = |v: Value| {
        assert_eq!(v["subscriptionId"], 0, "{v}");
        v["event"].clone()
    };
    order_and_fill(&s, &mut ws, unwrap).await;

    // Unsubscribed, the events stop: a listen-key stream of the same user sees the next
    // order, the WebSocket API connection does not.
    let r = ask(
        &mut ws,
        json!({"id": 5, "method": "userDataStream.unsubscribe"}),
    )
    .await;
    assert_eq!(r["result"], json!({}), "{r}");
    let lk = listen_key(&s, 0).await;
    let mut watch = connect(s.app.addr, &format!("/binance/ws/{lk}")).await;
    place(&s, 0, "buy", "95", "0.1").await;
    until(&mut watch, |v| v["e"] == "executionReport").await;
    let r = ask(&mut ws, json!({"id": 6, "method": "ping"})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    send(&mut ws, json!({"id": 7, "method": "time"})).await;
    let r = expect(&mut ws).await;
    assert_eq!(r["id"], 7, "no event after unsubscribing: {r}");
}

/// Bourse's stops trigger only in the stop-loss direction: take-profit types are not
/// offered, refused with Binance's -2010 message, and leave no trace on the stream.
#[tokio::test]
async fn take_profit_orders_are_refused_without_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 1, |_| {}).await;
    let (st, info) = binance(
        &s.c,
        Method::GET,
        "/api/v3/exchangeInfo",
        "symbol=BTCUSD",
        None,
        false,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{info}");
    assert_eq!(
        info["symbols"][0]["orderTypes"],
        json!([
            "LIMIT",
            "LIMIT_MAKER",
            "MARKET",
            "STOP_LOSS",
            "STOP_LOSS_LIMIT"
        ])
    );
    let lk = listen_key(&s, 0).await;
    let mut ws = connect(s.app.addr, &format!("/binance/ws/{lk}")).await;
    let before = s.c.balances(&s.traders[0].token).await;
    for (path, kind, extra, msg) in [
        (
            "/api/v3/order",
            "TAKE_PROFIT",
            "",
            "Take profit orders are not supported for this symbol.",
        ),
        (
            "/api/v3/order",
            "TAKE_PROFIT_LIMIT",
            "&price=110&timeInForce=GTC",
            "Take profit limit orders are not supported for this symbol.",
        ),
        (
            "/api/v3/order/test",
            "TAKE_PROFIT",
            "",
            "Take profit orders are not supported for this symbol.",
        ),
    ] {
        let (st, v) = binance(
            &s.c,
            Method::POST,
            path,
            &format!("symbol=BTCUSD&side=SELL&type={kind}&quantity=0.1&stopPrice=110{extra}"),
            Some(&s.traders[0]),
            true,
        )
        .await;
        assert_eq!(
            (st, v),
            (StatusCode::BAD_REQUEST, json!({"code": -2010, "msg": msg})),
            "{path} {kind}"
        );
    }
    assert_eq!(s.c.balances(&s.traders[0].token).await, before);
    // The next event on the stream is the next order's, not a refused one's.
    place(&s, 0, "sell", "120", "0.1").await;
    let ev = expect(&mut ws).await;
    assert_eq!(
        (&ev["e"], &ev["x"], &ev["p"]),
        (&json!("executionReport"), &json!("NEW"), &json!("120.00")),
        "{ev}"
    );
}

/// Deleting the API key ends its user data streams (`eventStreamTerminated`) and its
/// listen keys; the connection's market streams go on.
#[tokio::test]
async fn deleting_the_api_key_ends_its_user_data() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 2, |_| {}).await;
    let lk = listen_key(&s, 0).await;
    let mut ws = connect(
        s.app.addr,
        &format!("/binance/stream?streams={lk}/btcusd@trade"),
    )
    .await;
    let mut api = connect(s.app.addr, "/binance/ws-api/v3").await;
    let t = &s.traders[0];
    let r = ask(&mut api, ws_api_subscribe(t, 1, &t.secret)).await;
    assert_eq!(r["status"], 200, "{r}");
    let (st, v) =
        s.c.delete(&format!("/api/v1/api-keys/{}", t.key), Some(&t.token))
            .await;
    assert!(st.is_success(), "{st} {v}");
    let f = until(&mut ws, |v| v["stream"] == lk.as_str()).await;
    assert_eq!(f["data"]["e"], "eventStreamTerminated", "{f}");
    let f = until(&mut api, |v| v.get("event").is_some()).await;
    assert_eq!(
        (&f["subscriptionId"], &f["event"]["e"]),
        (&json!(0), &json!("eventStreamTerminated")),
        "{f}"
    );
    // The listen key is gone with its API key; the trades still come.
    let (st, v) = binance(
        &s.c,
        Method::PUT,
        "/api/v3/userDataStream",
        &format!("listenKey={lk}"),
        Some(&s.traders[1]),
        false,
    )
    .await;
    assert_eq!(
        (st, &v["code"]),
        (StatusCode::BAD_REQUEST, &json!(-1125)),
        "{v}"
    );
    place(&s, 1, "sell", "100", "0.1").await;
    s.c.limit_order(&t.token, "buy", "100", "0.1").await;
    let f = expect(&mut ws).await;
    assert_eq!(
        f["stream"], "btcusd@trade",
        "no user event after the end: {f}"
    );
}

/// Self-trade prevention: the order it ends is `EXPIRED_IN_MATCH` on REST and
/// `TRADE_PREVENTION` on the stream, as Binance shows it.
#[tokio::test]
async fn self_trade_prevention_is_expired_in_match() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 1, |_| {}).await;
    let lk = listen_key(&s, 0).await;
    let mut ws = connect(s.app.addr, &format!("/binance/ws/{lk}")).await;
    let maker = place(&s, 0, "sell", "100", "0.1").await;
    let (st, taker) = binance(
        &s.c,
        Method::POST,
        "/api/v3/order",
        "symbol=BTCUSD&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.1&price=100\
         &selfTradePreventionMode=EXPIRE_MAKER",
        Some(&s.traders[0]),
        true,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{taker}");
    assert_eq!(
        (
            &taker["status"],
            &taker["executedQty"],
            &taker["selfTradePreventionMode"]
        ),
        (&json!("NEW"), &json!("0.0000"), &json!("EXPIRE_MAKER")),
        "{taker}"
    );
    let ev = until(&mut ws, |v| v["x"] == "TRADE_PREVENTION").await;
    assert_eq!(
        (&ev["i"], &ev["X"], &ev["S"], &ev["z"]),
        (
            &maker["id"],
            &json!("EXPIRED_IN_MATCH"),
            &json!("SELL"),
            &json!("0.0000")
        ),
        "{ev}"
    );
    let (st, o) = binance(
        &s.c,
        Method::GET,
        "/api/v3/order",
        &format!("symbol=BTCUSD&orderId={}", maker["id"]),
        Some(&s.traders[0]),
        true,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{o}");
    assert_eq!(o["status"], "EXPIRED_IN_MATCH", "{o}");
}
