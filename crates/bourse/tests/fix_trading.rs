//! FIX order entry beyond D/F, and what a FIX session hears from other channels: replace
//! (G) and its queue priority, status (H), commissions, ClOrdID idempotency shared with
//! REST, unsolicited reports of orders placed on REST, drop copy, cancel on disconnect,
//! security list and market data. Every number is checked against `/api/v1`.

mod common;
mod fix;

use common::{balance, eventually, Client};
use fix::{all, get, key_for, Session, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

type Fields = Vec<(String, String)>;

/// The market, and three funded traders: (admin, c).
async fn market(server: &TestServer) -> (String, Client) {
    let c = Client::new(server.app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    for (user, asset, amount) in [
        ("carol", "USD", "10000"),
        ("dave", "BTC", "10"),
        ("erin", "USD", "10000"),
    ] {
        c.trader(user).await;
        c.deposit(&admin, user, asset, amount).await;
    }
    (admin, c)
}

fn limit(cl: &str, side: &str, price: &str, qty: &str) -> Vec<(&'static str, String)> {
    vec![
        ("11", cl.to_owned()),
        ("38", qty.to_owned()),
        ("40", "2".to_owned()),
        ("44", price.to_owned()),
        ("54", side.to_owned()),
        ("55", "BTC-USD".to_owned()),
        ("59", "1".to_owned()),
        ("60", fix::utc_time(0)),
    ]
}

fn refs<'a>(f: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    f.iter().map(|(t, v)| (*t, v.as_str())).collect()
}

async fn order(c: &Client, token: &str, id: &str) -> Value {
    let (s, o) = c.get(&format!("/api/v1/orders/{id}"), Some(token)).await;
    assert_eq!(s, reqwest::StatusCode::OK, "{o}");
    o
}

/// The report's numbers are the REST order's.
fn same_as_rest(er: &Fields, rest: &Value) {
    let s = |k: &str| rest[k].as_str().map(str::to_owned);
    let g = |t: &str| get(er, t).map(str::to_owned);
    assert_eq!(g("37"), Some(rest["id"].to_string()), "{er:?} {rest}");
    assert_eq!(g("14"), s("filled_quantity"), "{er:?} {rest}");
    assert_eq!(g("151"), s("remaining_quantity"), "{er:?} {rest}");
    assert_eq!(
        g("6"),
        s("average_price").or(Some("0".into())),
        "{er:?} {rest}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_status_fills_and_commissions_match_the_rest_api() {
    let server = TestServer::start().await;
    let (_, c) = market(&server).await;
    let carol = c.login("carol", "password123").await;
    let dave = c.login("dave", "password123").await;
    let erin = c.login("erin", "password123").await;
    let key = key_for(&c, &carol, None).await;
    let mut s = Session::logon(&server, &key, "CAROL", &[]).await;

    // Carol's buy first, then Erin's at the same price: Carol is ahead in the queue.
    s.send("D", &refs(&limit("c1", "1", "100", "0.5"))).await;
    let er = s.expect("8").await;
    assert_eq!((get(&er, "150"), get(&er, "39")), (Some("0"), Some("0")));
    let id = get(&er, "37").unwrap().to_owned();
    c.limit_order(&erin, "buy", "100", "0.5").await;

    // G: a smaller size at the same price keeps her place; 150=5 with both ClOrdIDs.
    let fields = limit("c2", "1", "100", "0.4");
    let mut g = refs(&fields);
    g.extend([("37", id.as_str()), ("41", "c1")]);
    s.send("G", &g).await;
    let er = s.expect("8").await;
    assert_eq!(
        (
            get(&er, "150"),
            get(&er, "11"),
            get(&er, "41"),
            get(&er, "38")
        ),
        (Some("5"), Some("c2"), Some("c1"), Some("0.4000")),
        "{er:?}"
    );
    same_as_rest(&er, &order(&c, &carol, &id).await);

    // Dave sells 0.1 on REST: Carol's order fills (priority kept), an unsolicited F.
    let before = c.balances(&carol).await;
    c.limit_order(&dave, "sell", "100", "0.1").await;
    let er = s.expect("8").await;
    let rest = order(&c, &carol, &id).await;
    assert_eq!(
        (
            get(&er, "150"),
            get(&er, "39"),
            get(&er, "31"),
            get(&er, "32")
        ),
        (Some("F"), Some("1"), Some("100.00"), Some("0.1000")),
        "{er:?}"
    );
    same_as_rest(&er, &rest);
    let fill = &rest["fills"][0];
    assert_eq!(get(&er, "12"), fill["fee"].as_str(), "{er:?} {rest}");
    assert_eq!((get(&er, "13"), get(&er, "479")), (Some("3"), Some("USD")));
    // The ledger: 0.1 BTC more for Carol.
    let after = c.balances(&carol).await;
    assert_eq!(balance(&before, "BTC").0, "0.00000000");
    assert_eq!(balance(&after, "BTC").0, "0.10000000", "{after}");
    let (_, erin_order) = c.get("/api/v1/orders?status=open", Some(&erin)).await;
    assert_eq!(erin_order["orders"][0]["filled_quantity"], "0.0000");

    // A larger size loses the place: Dave's next 0.1 fills Erin.
    let fields = limit("c3", "1", "100", "0.6");
    let mut g = refs(&fields);
    g.extend([("37", id.as_str()), ("41", "c2")]);
    s.send("G", &g).await;
    let er = s.expect("8").await;
    assert_eq!(get(&er, "150"), Some("5"), "{er:?}");
    c.limit_order(&dave, "sell", "100", "0.1").await;
    let (_, erin_order) = c.get("/api/v1/orders?status=open", Some(&erin)).await;
    assert_eq!(erin_order["orders"][0]["filled_quantity"], "0.1000");
    s.quiet(Duration::from_millis(300)).await;

    // A refused replace: OrderCancelReject 434=2, nothing changes.
    let fields = limit("c4", "1", "100.001", "0.6");
    let mut g = refs(&fields);
    g.extend([("37", id.as_str()), ("41", "c3")]);
    s.send("G", &g).await;
    let rej = s.expect("9").await;
    assert_eq!(get(&rej, "434"), Some("2"), "{rej:?}");
    assert!(
        get(&rej, "58").unwrap().starts_with("INVALID_DECIMAL"),
        "{rej:?}"
    );
    assert_eq!(order(&c, &carol, &id).await["price"], "100.00");

    // H by OrderID and by ClOrdID: the REST order, 150=I, 790 echoed.
    s.send(
        "H",
        &[("37", &id), ("54", "1"), ("55", "BTC-USD"), ("790", "st1")],
    )
    .await;
    let er = s.expect("8").await;
    assert_eq!(
        (get(&er, "150"), get(&er, "39"), get(&er, "790")),
        (Some("I"), Some("1"), Some("st1"))
    );
    same_as_rest(&er, &order(&c, &carol, &id).await);
    s.send("H", &[("11", "c1"), ("54", "1"), ("55", "BTC-USD")])
        .await;
    assert_eq!(get(&s.expect("8").await, "37"), Some(id.as_str()));
    s.send("H", &[("37", "999999"), ("54", "1"), ("55", "BTC-USD")])
        .await;
    let er = s.expect("8").await;
    assert_eq!((get(&er, "150"), get(&er, "39")), (Some("I"), Some("8")));
    assert!(
        get(&er, "58").unwrap().starts_with("UNKNOWN_ORDER"),
        "{er:?}"
    );

    // A taker order: its New, then one F per fill, each with its commission.
    c.limit_order(&dave, "sell", "101", "0.1").await;
    c.limit_order(&dave, "sell", "102", "0.1").await;
    s.send("D", &refs(&limit("c5", "1", "102", "0.2"))).await;
    let new = s.expect("8").await;
    assert_eq!(get(&new, "150"), Some("0"));
    let f1 = s.expect("8").await;
    let f2 = s.expect("8").await;
    let taker = get(&new, "37").unwrap();
    let rest = order(&c, &carol, taker).await;
    assert_eq!(
        (get(&f1, "31"), get(&f1, "14"), get(&f1, "39")),
        (Some("101.00"), Some("0.1000"), Some("1"))
    );
    assert_eq!(
        (get(&f2, "31"), get(&f2, "39"), get(&f2, "150")),
        (Some("102.00"), Some("2"), Some("F"))
    );
    same_as_rest(&f2, &rest);
    let mut fees: Vec<&str> = rest["fills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fee"].as_str().unwrap())
        .collect();
    let mut reported = vec![get(&f1, "12").unwrap(), get(&f2, "12").unwrap()];
    fees.sort();
    reported.sort();
    assert_eq!(reported, fees);

    // An application message nobody takes: BusinessMessageReject, 380=3.
    s.send("AE", &[("571", "x")]).await;
    let j = s.expect("j").await;
    assert_eq!((get(&j, "372"), get(&j, "380")), (Some("AE"), Some("3")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_order_ids_are_shared_with_rest() {
    let server = TestServer::start().await;
    let (_, c) = market(&server).await;
    let carol = c.login("carol", "password123").await;
    let key = key_for(&c, &carol, None).await;
    let mut s = Session::logon(&server, &key, "CAROL", &[]).await;
    let (st, rest) = c
        .post(
            "/api/v1/orders",
            Some(&carol),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "90",
                   "quantity": "0.5", "time_in_force": "gtc", "client_order_id": "r1"}),
        )
        .await;
    assert_eq!(st, reqwest::StatusCode::CREATED, "{rest}");
    // Placed on REST: Carol's FIX session is told.
    let er = s.expect("8").await;
    assert_eq!((get(&er, "150"), get(&er, "11")), (Some("0"), Some("r1")));
    // The same order by FIX: the original, nothing placed.
    s.send("D", &refs(&limit("r1", "1", "90", "0.5"))).await;
    let er = s.expect("8").await;
    assert_eq!(
        (get(&er, "150"), get(&er, "37")),
        (Some("I"), Some(rest["id"].to_string().as_str()))
    );
    // Another order with that ClOrdID: refused as REST refuses it.
    s.send("D", &refs(&limit("r1", "1", "91", "0.5"))).await;
    let er = s.expect("8").await;
    assert_eq!(get(&er, "150"), Some("8"));
    assert!(
        get(&er, "58")
            .unwrap()
            .starts_with("DUPLICATE_CLIENT_ORDER_ID"),
        "{er:?}"
    );
    let (_, open) = c.get("/api/v1/orders?status=open", Some(&carol)).await;
    assert_eq!(open["orders"].as_array().map(Vec::len), Some(1), "{open}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_copy_sees_every_channel_and_is_read_only() {
    let server = TestServer::start().await;
    let (_, c) = market(&server).await;
    let carol = c.login("carol", "password123").await;
    let dave = c.login("dave", "password123").await;
    let trade = key_for(&c, &carol, None).await;
    let read = key_for(&c, &carol, Some(&["read"])).await;
    let mut s = Session::logon(&server, &trade, "CAROL", &[]).await;
    let mut copy = Session::logon(&server, &read, "CAROLDC", &[("9406", "Y")]).await;

    // A REST order, then a FIX order, then a fill: the drop copy hears all of them.
    let rest = c.limit_order(&carol, "buy", "95", "0.1").await;
    let er = copy.expect("8").await;
    assert_eq!(
        (get(&er, "150"), get(&er, "37")),
        (Some("0"), Some(rest["id"].to_string().as_str()))
    );
    assert_eq!(get(&s.expect("8").await, "150"), Some("0"));
    s.send("D", &refs(&limit("f1", "1", "96", "0.1"))).await;
    let mine = s.expect("8").await;
    let er = copy.expect("8").await;
    assert_eq!(
        (get(&er, "150"), get(&er, "11"), get(&er, "37")),
        (Some("0"), Some("f1"), get(&mine, "37"))
    );
    c.limit_order(&dave, "sell", "96", "0.1").await;
    let fill = copy.expect("8").await;
    assert_eq!(get(&s.expect("8").await, "150"), Some("F"));
    assert_eq!(
        (get(&fill, "150"), get(&fill, "39"), get(&fill, "37")),
        (Some("F"), Some("2"), get(&mine, "37"))
    );

    // Read-only: order entry refused (380=6), nothing placed; status requests answered.
    copy.send("D", &refs(&limit("x1", "1", "90", "0.1"))).await;
    let j = copy.expect("j").await;
    assert_eq!((get(&j, "372"), get(&j, "380")), (Some("D"), Some("6")));
    let (_, open) = c.get("/api/v1/orders?status=open", Some(&carol)).await;
    assert_eq!(open["orders"].as_array().map(Vec::len), Some(1), "{open}");
    copy.send(
        "H",
        &[
            ("37", get(&mine, "37").unwrap()),
            ("54", "1"),
            ("55", "BTC-USD"),
        ],
    )
    .await;
    assert_eq!(get(&copy.expect("8").await, "39"), Some("2"));
    // A read-only key on an order-entry session: rejected by permission.
    let mut ro = Session::logon(&server, &read, "CAROLRO", &[]).await;
    ro.send("D", &refs(&limit("x2", "1", "90", "0.1"))).await;
    let er = ro.expect("8").await;
    assert_eq!(get(&er, "150"), Some("8"));
    assert!(
        get(&er, "58").unwrap().starts_with("PERMISSION_DENIED"),
        "{er:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_on_disconnect_cancels_only_that_sessions_orders() {
    let server = TestServer::start().await;
    let (_, c) = market(&server).await;
    let carol = c.login("carol", "password123").await;
    let key = key_for(&c, &carol, None).await;
    let rest = c.limit_order(&carol, "buy", "90", "0.1").await;
    let mut keep = Session::logon(&server, &key, "KEEP", &[]).await;
    let mut cod = Session::logon(&server, &key, "COD", &[("8013", "Y")]).await;
    keep.send("D", &refs(&limit("k1", "1", "91", "0.1"))).await;
    let k1 = keep.expect("8").await;
    cod.expect("8").await; // k1, as an unsolicited report
    let mut placed = Vec::new();
    for cl in ["d1", "d2"] {
        cod.send("D", &refs(&limit(cl, "1", "92", "0.1"))).await;
        placed.push(get(&cod.expect("8").await, "37").unwrap().to_owned());
        keep.expect("8").await;
    }
    drop(cod); // no Logout
    for id in &placed {
        let er = keep.expect("8").await;
        assert_eq!(get(&er, "150"), Some("4"), "{er:?}");
        assert!(placed.contains(&get(&er, "37").unwrap().to_owned()));
        eventually(Duration::from_secs(5), "canceled", || async {
            (order(&c, &carol, id).await["status"] == "canceled").then_some(())
        })
        .await;
    }
    for id in [rest["id"].to_string(), get(&k1, "37").unwrap().to_owned()] {
        assert_eq!(order(&c, &carol, &id).await["status"], "open");
    }
    // Without the flag, a dropped session leaves its orders.
    drop(keep);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        order(&c, &carol, get(&k1, "37").unwrap()).await["status"],
        "open"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_list_and_market_data_match_the_rest_api() {
    let server = TestServer::start().await;
    let (_, c) = market(&server).await;
    let dave = c.login("dave", "password123").await;
    let erin = c.login("erin", "password123").await;
    let key = key_for(&c, &erin, None).await;
    let mut s = Session::logon(&server, &key, "ERIN", &[]).await;

    s.send("x", &[("320", "sl1"), ("559", "4")]).await;
    let y = s.expect("y").await;
    let (_, markets) = c.get("/api/v1/markets", None).await;
    let m = &markets.as_array().unwrap()[0];
    assert_eq!(
        (
            get(&y, "320"),
            get(&y, "146"),
            get(&y, "55"),
            get(&y, "969"),
            get(&y, "561"),
            get(&y, "562"),
            get(&y, "20010")
        ),
        (
            Some("sl1"),
            Some("1"),
            Some("BTC-USD"),
            m["tick_size"].as_str(),
            m["lot_size"].as_str(),
            m["min_quantity"].as_str(),
            m["min_notional"].as_str()
        ),
        "{y:?} {m}"
    );

    for (p, q) in [("103", "0.1"), ("104", "0.2"), ("105", "0.3")] {
        c.limit_order(&dave, "sell", p, q).await;
    }
    c.limit_order(&erin, "buy", "99", "0.5").await;
    s.expect("8").await; // Erin's own REST order
    let book = |depth: &'static str, kind: &'static str, id: &'static str| {
        vec![
            ("146", "1"),
            ("55", "BTC-USD"),
            ("262", id),
            ("263", kind),
            ("264", depth),
            ("267", "3"),
            ("269", "0"),
            ("269", "1"),
            ("269", "2"),
        ]
    };
    // Snapshot of depth 2: the REST book of depth 2.
    s.send("V", &book("2", "0", "md1")).await;
    let w = s.expect("W").await;
    let (_, rest) = c.get("/api/v1/markets/BTC-USD/book?depth=2", None).await;
    let levels = |side: &str| -> Vec<String> {
        rest[side]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| format!("{}x{}", l[0].as_str().unwrap(), l[1].as_str().unwrap()))
            .collect()
    };
    let entries: Vec<String> = all(&w, "270")
        .iter()
        .zip(all(&w, "271"))
        .map(|(p, q)| format!("{p}x{q}"))
        .collect();
    let mut want = levels("bids");
    want.extend(levels("asks"));
    assert_eq!(entries, want, "{w:?}");
    assert_eq!(all(&w, "269"), ["0", "1", "1"]);
    assert_eq!(
        get(&w, "20011"),
        Some(rest["sequence"].to_string().as_str())
    );

    // Snapshot + updates: a new level inside depth 2, then a trade.
    s.send("V", &book("2", "1", "md2")).await;
    s.expect("W").await;
    c.limit_order(&dave, "sell", "102", "0.4").await;
    let x = s.expect("X").await;
    // 102 enters the top two asks, 104 leaves them.
    assert_eq!(all(&x, "279"), ["2", "0"], "{x:?}");
    assert_eq!(all(&x, "270"), ["104.00", "102.00"], "{x:?}");
    c.limit_order(&erin, "buy", "102", "0.1").await;
    let (mut saw_trade, mut saw_change) = (false, false);
    // Erin's own order reports and the X (or two: the feed may cut the trade and the
    // level change into separate batches), until both entries were seen.
    while !(saw_trade && saw_change) {
        let m = s.peer.read(fix::WAIT).await.unwrap().unwrap();
        let f = fix::fields(&m);
        match get(&f, "35") {
            Some("8") => {}
            Some("X") => {
                for (i, t) in all(&f, "269").into_iter().enumerate() {
                    let (px, qty) = (all(&f, "270")[i], all(&f, "271")[i]);
                    match t {
                        "2" => {
                            assert_eq!((px, qty), ("102.00", "0.1000"), "{f:?}");
                            saw_trade = true;
                        }
                        "1" => {
                            assert_eq!((px, all(&f, "279")[i], qty), ("102.00", "1", "0.3000"));
                            saw_change = true;
                        }
                        _ => panic!("unexpected entry type {t}: {f:?}"),
                    }
                }
            }
            other => panic!("unexpected {other:?}: {f:?}"),
        }
    }
    // Unsubscribe: no more updates. The session handles its messages in order, so once
    // the TestRequest sent after the unsubscribe is answered, the unsubscribe is in force.
    s.send("V", &[("262", "md2"), ("263", "2")]).await;
    s.send("1", &[("112", "after-unsubscribe")]).await;
    let hb = s.expect("0").await;
    assert_eq!(get(&hb, "112"), Some("after-unsubscribe"));
    c.limit_order(&dave, "sell", "101", "0.1").await;
    s.quiet(Duration::from_millis(300)).await;

    // Refusals: MarketDataRequestReject with the reason.
    for (extra, reason) in [
        (
            vec![
                ("146", "1"),
                ("55", "NOPE-USD"),
                ("262", "r1"),
                ("263", "0"),
                ("267", "1"),
                ("269", "0"),
            ],
            "0",
        ),
        (
            vec![
                ("146", "1"),
                ("55", "BTC-USD"),
                ("262", "r2"),
                ("263", "7"),
                ("267", "1"),
                ("269", "0"),
            ],
            "4",
        ),
        (
            vec![
                ("146", "1"),
                ("55", "BTC-USD"),
                ("262", "r3"),
                ("263", "0"),
                ("264", "5000"),
                ("267", "1"),
                ("269", "0"),
            ],
            "5",
        ),
        (
            vec![
                ("146", "1"),
                ("55", "BTC-USD"),
                ("262", "r4"),
                ("263", "0"),
                ("267", "1"),
                ("269", "9"),
            ],
            "8",
        ),
    ] {
        s.send("V", &extra).await;
        let r = s.expect("Y").await;
        assert_eq!(get(&r, "281"), Some(reason), "{r:?}");
    }
    s.send("V", &book("1", "1", "dup")).await;
    s.expect("W").await;
    s.send("V", &book("1", "1", "dup")).await;
    assert_eq!(get(&s.expect("Y").await, "281"), Some("1"));
    server.stop().await;
}
