//! The request protocol, framing, pings, bad frames and the inbound rate.

use super::*;

#[tokio::test]
async fn subscribe_unsubscribe_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 0, |_| {}).await;
    let mut ws = connect(s.app.addr, "/binance/ws").await;
    let r = ask(
        &mut ws,
        json!({"method": "SUBSCRIBE", "params": ["btcusd@trade", "btcusd@depth"], "id": 1}),
    )
    .await;
    assert_eq!(r, json!({"result": null, "id": 1}));
    let r = ask(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 2})).await;
    assert_eq!(
        r,
        json!({"result": ["btcusd@trade", "btcusd@depth"], "id": 2})
    );
    // Subscribing again is no duplicate; names are kept as written.
    let r = ask(
        &mut ws,
        json!({"method": "SUBSCRIBE", "params": ["btcusd@trade", "BTCUSD@bookTicker"], "id": 3}),
    )
    .await;
    assert_eq!(r, json!({"result": null, "id": 3}));
    let r = ask(
        &mut ws,
        json!({"method": "UNSUBSCRIBE", "params": ["btcusd@trade"], "id": 4}),
    )
    .await;
    assert_eq!(r, json!({"result": null, "id": 4}));
    let r = ask(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 5})).await;
    assert_eq!(
        r,
        json!({"result": ["btcusd@depth", "BTCUSD@bookTicker"], "id": 5})
    );
    // A string id is echoed as given.
    let r = ask(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": "x"})).await;
    assert_eq!(r["id"], "x");
}

#[tokio::test]
async fn bad_requests_get_binance_errors_and_keep_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 0, |_| {}).await;
    let mut ws = connect(s.app.addr, "/binance/ws/3").await;
    ws.send(Message::text("{nope")).await.unwrap();
    let e = expect(&mut ws).await;
    assert_eq!(e["id"], Value::Null, "{e}");
    assert_eq!(e["error"]["code"], 3, "{e}");
    assert!(
        e["error"]["msg"]
            .as_str()
            .unwrap()
            .starts_with("Invalid JSON"),
        "{e}"
    );
    let e = ask(&mut ws, json!({"method": "DANCE", "id": 7})).await;
    assert_eq!(e["error"]["code"], 2, "{e}");
    assert!(
        e["error"]["msg"]
            .as_str()
            .unwrap()
            .starts_with("Invalid request: unknown variant `DANCE`"),
        "{e}"
    );
    let e = ask(&mut ws, json!({"params": [], "id": 8})).await;
    assert_eq!(
        e,
        json!({"error": {"code": 2, "msg": "Invalid request: missing field `method`"}, "id": 8})
    );
    // An unknown market or stream refuses the whole request: nothing is subscribed.
    for (id, bad) in [
        (9, "nopeusd@trade"),
        (10, "btcusd@dance"),
        (11, "btcusd@depth7"),
    ] {
        let e = ask(
            &mut ws,
            json!({"method": "SUBSCRIBE", "params": ["btcusd@trade", bad], "id": id}),
        )
        .await;
        assert_eq!(
            e,
            json!({"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": id})
        );
    }
    send(
        &mut ws,
        json!({"method": "SUBSCRIBE", "params": ["btcusd@trade"], "id": -1}),
    )
    .await;
    let e = expect(&mut ws).await;
    assert_eq!(e["error"]["code"], 2, "{e}");
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    let e = expect(&mut ws).await;
    assert_eq!(e["error"]["code"], 3, "{e}");
    // Still open, nothing subscribed by the refused requests.
    let r = ask(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 12})).await;
    assert_eq!(r, json!({"result": [], "id": 12}));
    // A message over 64 KiB closes the connection: 1009, message too big.
    let big = format!(
        r#"{{"method":"SUBSCRIBE","params":["{}"],"id":13}}"#,
        "a".repeat(100 * 1024)
    );
    ws.send(Message::text(big)).await.unwrap();
    let f = closed(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(f.code), 1009, "{f:?}");
}

#[tokio::test]
async fn pings_are_answered_and_properties_switch_framing() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 2, |_| {}).await;
    let mut ws = connect(s.app.addr, "/binance/ws/btcusd@trade").await;
    ws.send(Message::Ping(b"hello".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Pong(p))) => return p,
                Some(Ok(_)) => continue,
                other => panic!("no pong: {other:?}"),
            }
        }
    })
    .await
    .expect("a pong in time");
    assert_eq!(&pong[..], b"hello");
    let r = ask(
        &mut ws,
        json!({"method": "GET_PROPERTY", "params": ["combined"], "id": 1}),
    )
    .await;
    assert_eq!(r, json!({"result": false, "id": 1}));
    // Raw framing: the event itself.
    place(&s, 0, "sell", "100", "1").await;
    place(&s, 1, "buy", "100", "1").await;
    let t = until(&mut ws, |v| v.get("id").is_none()).await;
    assert_eq!(
        (t["e"].as_str(), t["s"].as_str()),
        (Some("trade"), Some("BTCUSD")),
        "{t}"
    );
    let r = ask(
        &mut ws,
        json!({"method": "SET_PROPERTY", "params": ["combined", true], "id": 2}),
    )
    .await;
    assert_eq!(r, json!({"result": null, "id": 2}));
    let r = ask(
        &mut ws,
        json!({"method": "GET_PROPERTY", "params": ["combined"], "id": 3}),
    )
    .await;
    assert_eq!(r, json!({"result": true, "id": 3}));
    place(&s, 0, "sell", "100", "1").await;
    place(&s, 1, "buy", "100", "1").await;
    let t = until(&mut ws, |v| v.get("id").is_none()).await;
    assert_eq!(t["stream"], "btcusd@trade", "{t}");
    assert_eq!(t["data"]["e"], "trade", "{t}");
    let e = ask(
        &mut ws,
        json!({"method": "SET_PROPERTY", "params": ["colour", 1], "id": 4}),
    )
    .await;
    assert_eq!(e["error"]["code"], 2, "{e}");
}

#[tokio::test]
async fn raw_and_combined_framing() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 2, |_| {}).await;
    // A path segment that names no stream (`/3`) is ignored; one that does subscribes.
    let mut raw = connect(s.app.addr, "/binance/ws/3/btcusd@trade").await;
    let mut suffix = connect(s.app.addr, "/binance/ws/anything").await;
    let r = ask(
        &mut suffix,
        json!({"method": "SUBSCRIBE", "params": ["btcusd@aggTrade"], "id": 1}),
    )
    .await;
    assert_eq!(r, json!({"result": null, "id": 1}));
    let mut comb = connect(
        s.app.addr,
        "/binance/stream?streams=btcusd@trade/btcusd@aggTrade",
    )
    .await;
    let r = ask(&mut comb, json!({"method": "LIST_SUBSCRIPTIONS", "id": 1})).await;
    assert_eq!(
        r,
        json!({"result": ["btcusd@trade", "btcusd@aggTrade"], "id": 1})
    );
    let r = ask(&mut raw, json!({"method": "LIST_SUBSCRIPTIONS", "id": 1})).await;
    assert_eq!(r, json!({"result": ["btcusd@trade"], "id": 1}));
    place(&s, 0, "sell", "100.5", "0.25").await;
    place(&s, 1, "buy", "100.5", "0.25").await;
    let t = expect(&mut raw).await;
    assert_eq!(t["e"], "trade", "{t}");
    assert!(t.get("stream").is_none(), "{t}");
    let a = expect(&mut suffix).await;
    assert_eq!(a["e"], "aggTrade", "{a}");
    let mut got = vec![expect(&mut comb).await, expect(&mut comb).await];
    got.sort_by_key(|f| f["stream"].as_str().unwrap().to_owned());
    assert_eq!(got[0]["stream"], "btcusd@aggTrade", "{got:?}");
    assert_eq!(
        got[0]["data"],
        json!({"e": "aggTrade", "E": got[0]["data"]["E"], "s": "BTCUSD",
        "a": t["t"], "p": t["p"], "q": t["q"], "f": t["t"], "l": t["t"], "T": t["T"], "m": false, "M": true})
    );
    assert_eq!(got[1]["stream"], "btcusd@trade", "{got:?}");
    assert_eq!(got[1]["data"]["t"], t["t"]);
    // A plain GET on a stream route is refused in Binance's shape.
    let (st, v) = s.c.get("/binance/ws", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["code"], -1100, "{v}");
}

#[tokio::test]
async fn over_five_messages_a_second_closes_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    // Binance's default: 5 a second.
    let s = setup(dir.path(), 0, |c| {
        c.binance = Default::default();
    })
    .await;
    // Within the rate: 12 requests over 3 s, all answered.
    let mut calm = connect(s.app.addr, "/binance/ws").await;
    for id in 0..12 {
        let r = ask(&mut calm, json!({"method": "LIST_SUBSCRIPTIONS", "id": id})).await;
        assert_eq!(r["result"], json!([]));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A burst of 10: the first 5 are answered, then the connection is closed (1008).
    let mut burst = connect(s.app.addr, "/binance/ws").await;
    for id in 0..10 {
        send(
            &mut burst,
            json!({"method": "LIST_SUBSCRIPTIONS", "id": id}),
        )
        .await;
    }
    let mut answered = 0;
    let close = loop {
        match next_msg(&mut burst, WAIT).await {
            Got::Json(v) => {
                assert_eq!(v["id"], answered, "{v}");
                answered += 1;
            }
            Got::Closed(f) => break f,
        }
    };
    // 5 at once; a sixth only if the server read the burst over more than 200 ms.
    assert!((5..=6).contains(&answered), "{answered} answered");
    let close = close.expect("a close frame");
    assert_eq!(u16::from(close.code), 1008, "{close:?}");
    assert_eq!(close.reason.as_str(), "too many messages");
    // The calm connection is untouched.
    let r = ask(&mut calm, json!({"method": "LIST_SUBSCRIPTIONS", "id": 99})).await;
    assert_eq!(r["id"], 99);
    // The WebSocket API: over its rate a request is answered 429, -1003; the
    // connection stays.
    let mut api = connect(s.app.addr, "/binance/ws-api/v3").await;
    for id in 0..40 {
        send(&mut api, json!({"id": id, "method": "ping"})).await;
    }
    let mut refused = 0;
    for id in 0..40 {
        let r = expect(&mut api).await;
        assert_eq!(r["id"], id, "{r}");
        match r["status"].as_u64() {
            Some(200) => assert_eq!(r["result"], json!({})),
            Some(429) => {
                assert_eq!(r["error"]["code"], -1003, "{r}");
                refused += 1;
            }
            _ => panic!("{r}"),
        }
    }
    assert!(refused >= 15, "only {refused} of 40 refused");
}

#[tokio::test]
async fn upgrade_attempts_are_rate_limited_per_ip() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(dir.path(), 0, |c| {
        c.limits.enabled = true;
        c.limits.ws_connect = bourse_gateway::limits::Quota::new(1, 2);
    })
    .await;
    let _a = connect(s.app.addr, "/binance/ws").await;
    let _b = connect(s.app.addr, "/binance/stream?streams=btcusd@trade").await;
    let err = tokio_tungstenite::connect_async(format!("ws://{}/binance/ws", s.app.addr))
        .await
        .expect_err("a third upgrade at once is refused");
    let tokio_tungstenite::tungstenite::Error::Http(res) = err else {
        panic!("not an HTTP refusal: {err}");
    };
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"), "{res:?}");
    let body: Value = serde_json::from_slice(res.body().as_deref().unwrap()).unwrap();
    assert_eq!(body["code"], -1003, "{body}");
}
