//! The FIX session layer beyond the QuickFIX definitions: API-key logons (signature,
//! replay, refusals), sequence numbers and the message store across a reconnect and a
//! server restart, bad input after logon, the message rate limit, and the start-up rule
//! for the test session.

mod common;
mod fix;

use common::Client;
use fix::{
    alice, api_key, expect, expect_close, get, logon, msg, reframe, utc_time, Peer, TestServer, SOH,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_logons_are_signed_and_refusals_say_why() {
    let server = TestServer::start().await;
    let addr = server.fix_addr();
    let (key, secret) = api_key(&server, "fixalice").await;

    let good = logon(&key, &secret, "ALICE", 1, true);
    let mut p = Peer::connect(addr).await.unwrap();
    p.send(&good).await.unwrap();
    let reply = expect(&mut p, "A").await;
    assert_eq!(
        (
            get(&reply, "34"),
            get(&reply, "49"),
            get(&reply, "56"),
            get(&reply, "141")
        ),
        (Some("1"), Some("BOURSE"), Some("ALICE"), Some("Y"))
    );
    // The same identity cannot log on twice at once.
    let mut twin = Peer::connect(addr).await.unwrap();
    twin.send(&logon(&key, &secret, "ALICE", 1, true))
        .await
        .unwrap();
    let out = expect(&mut twin, "5").await;
    assert!(
        get(&out, "58").unwrap().contains("already logged on"),
        "{out:?}"
    );
    expect_close(&mut twin).await;
    p.send(&alice("5", 2, &[])).await.unwrap();
    expect(&mut p, "5").await;
    expect_close(&mut p).await;

    // Each refusal: a Logout with the reason, then the close.
    let refusals = [
        (good.clone(), "SIGNATURE_REPLAYED"),
        (
            logon(&key, "not-the-secret", "ALICE", 1, true),
            "INVALID_SIGNATURE",
        ),
        (
            logon("bk_999_0000", &secret, "ALICE", 1, true),
            "INVALID_API_KEY",
        ),
        (
            msg(&[
                ("35", "A"),
                ("34", "1"),
                ("49", "ALICE"),
                ("52", &utc_time(0)),
                ("56", "BOURSE"),
                ("98", "0"),
                ("108", "30"),
            ]),
            "553",
        ),
        (
            msg(&[
                ("35", "A"),
                ("34", "1"),
                ("49", "ALICE"),
                ("52", &utc_time(0)),
                ("56", "BOURSE"),
                ("98", "0"),
                ("108", "0"),
            ]),
            "HeartBtInt",
        ),
        (
            msg(&[
                ("35", "A"),
                ("34", "1"),
                ("49", "ALICE"),
                ("52", &utc_time(-600)),
                ("56", "BOURSE"),
                ("98", "0"),
                ("108", "30"),
            ]),
            "SendingTime",
        ),
    ];
    for (logon, reason) in refusals {
        let mut p = Peer::connect(addr).await.unwrap();
        p.send(&logon).await.unwrap();
        let out = expect(&mut p, "5").await;
        let text = get(&out, "58").unwrap_or_default();
        assert!(text.contains(reason), "{reason:?} not in {text:?}");
        expect_close(&mut p).await;
    }
    // No session is named: closed without a word.
    for silent in [
        reframe(&logon(&key, &secret, "ALICE", 1, true).replace("56=BOURSE", "56=BOURSX")),
        reframe(&logon(&key, &secret, "ALICE", 1, true).replace("8=FIX.4.4", "8=FIX.4.2")),
        alice("0", 1, &[]),
    ] {
        let mut p = Peer::connect(addr).await.unwrap();
        p.send(&silent).await.unwrap();
        expect_close(&mut p).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequence_numbers_and_the_store_survive_a_reconnect_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path(), None);
    config.fix = fix::fix_config();
    let server = TestServer::with(config.clone(), dir).await;
    let (key, secret) = api_key(&server, "fixbob").await;

    let mut p = Peer::connect(server.fix_addr()).await.unwrap();
    p.send(&logon(&key, &secret, "ALICE", 1, true))
        .await
        .unwrap();
    expect(&mut p, "A").await;
    // An application message we do not support: a BusinessMessageReject, kept for resends.
    p.send(&alice("ZZ", 2, &[])).await.unwrap();
    let j = expect(&mut p, "j").await;
    assert_eq!(
        (get(&j, "34"), get(&j, "45"), get(&j, "372"), get(&j, "380")),
        (Some("2"), Some("2"), Some("ZZ"), Some("3"))
    );
    p.send(&alice("1", 3, &[("112", "T1")])).await.unwrap();
    let hb = expect(&mut p, "0").await;
    assert_eq!(get(&hb, "34"), Some("3"));
    drop(p); // no Logout: a dropped connection

    // Reconnect without ResetSeqNumFlag: both sides resume.
    let mut p = Peer::connect(server.fix_addr()).await.unwrap();
    p.send(&logon(&key, &secret, "ALICE", 4, false))
        .await
        .unwrap();
    let reply = expect(&mut p, "A").await;
    assert_eq!((get(&reply, "34"), get(&reply, "141")), (Some("4"), None));
    p.send(&alice("2", 5, &[("7", "1"), ("16", "0")]))
        .await
        .unwrap();
    let gap = expect(&mut p, "4").await;
    assert_eq!(
        (
            get(&gap, "34"),
            get(&gap, "36"),
            get(&gap, "123"),
            get(&gap, "43")
        ),
        (Some("1"), Some("2"), Some("Y"), Some("Y"))
    );
    let again = expect(&mut p, "j").await;
    assert_eq!(
        (get(&again, "34"), get(&again, "43"), get(&again, "372")),
        (Some("2"), Some("Y"), Some("ZZ"))
    );
    assert!(get(&again, "122").is_some(), "{again:?}");
    let gap = expect(&mut p, "4").await;
    assert_eq!((get(&gap, "34"), get(&gap, "36")), (Some("3"), Some("5")));
    p.send(&alice("5", 6, &[])).await.unwrap();
    assert_eq!(get(&expect(&mut p, "5").await, "34"), Some("5"));
    expect_close(&mut p).await;

    // A restart keeps the numbers (the kept messages are gone: gap-filled).
    server.app.shutdown().await;
    let app = common::start(config.clone()).await;
    let mut p = Peer::connect(app.fix_addr.unwrap()).await.unwrap();
    p.send(&logon(&key, &secret, "ALICE", 7, false))
        .await
        .unwrap();
    assert_eq!(get(&expect(&mut p, "A").await, "34"), Some("6"));
    p.send(&alice("2", 8, &[("7", "2"), ("16", "2")]))
        .await
        .unwrap();
    let gap = expect(&mut p, "4").await;
    assert_eq!((get(&gap, "34"), get(&gap, "36")), (Some("2"), Some("3")));
    p.send(&alice("5", 9, &[])).await.unwrap();
    expect(&mut p, "5").await;
    expect_close(&mut p).await;
    // Too low without a reset: refused with the numbers.
    let mut p = Peer::connect(app.fix_addr.unwrap()).await.unwrap();
    p.send(&logon(&key, &secret, "ALICE", 3, false))
        .await
        .unwrap();
    let out = expect(&mut p, "5").await;
    assert!(
        get(&out, "58")
            .unwrap()
            .contains("expecting 10 but received 3"),
        "{out:?}"
    );
    expect_close(&mut p).await;
    app.shutdown().await;
}

fn tw44(msg_type: &str, seq: u64, extra: &[(&str, &str)]) -> String {
    let (seq, time) = (seq.to_string(), utc_time(0));
    let mut f = vec![
        ("35", msg_type),
        ("34", seq.as_str()),
        ("49", "TW44"),
        ("52", time.as_str()),
        ("56", "ISLD"),
    ];
    f.extend_from_slice(extra);
    msg(&f)
}

async fn test_logon(server: &TestServer) -> Peer {
    let mut p = Peer::connect(server.fix_addr()).await.unwrap();
    p.send(&tw44("A", 1, &[("98", "0"), ("108", "30")]))
        .await
        .unwrap();
    expect(&mut p, "A").await;
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_after_logon_gets_the_session_level_answer_and_nothing_else() {
    let server = TestServer::start().await;
    let mut p = test_logon(&server).await;
    // A bad checksum, a wrong BodyLength, an oversized frame: ignored, no number used.
    let hb = tw44("0", 2, &[]);
    let bad_sum = format!(
        "{}{:03}{SOH}",
        &hb[..hb.len() - 4],
        (hb[hb.len() - 4..hb.len() - 1].parse::<u32>().unwrap() + 1) % 256
    );
    let bad_len = hb.replacen("9=", "9=1", 1);
    let huge = tw44("1", 2, &[("112", &"X".repeat(9000))]);
    for garbled in [bad_sum, bad_len, huge] {
        p.send(&garbled).await.unwrap();
    }
    p.send(&tw44("1", 2, &[("112", "AFTER")])).await.unwrap();
    let hb = expect(&mut p, "0").await;
    assert_eq!(
        (get(&hb, "34"), get(&hb, "112")),
        (Some("2"), Some("AFTER"))
    );
    // A field we do not know on an admin message is carried, not fatal.
    p.send(&tw44("0", 3, &[("9999", "x")])).await.unwrap();
    p.send(&tw44("1", 4, &[("112", "T")])).await.unwrap();
    assert_eq!(get(&expect(&mut p, "0").await, "34"), Some("3"));
    // A wrong CompID: Reject 373=9, then Logout.
    let time = utc_time(0);
    let wrong = msg(&[
        ("35", "0"),
        ("34", "5"),
        ("49", "TW44"),
        ("52", &time),
        ("56", "ISLE"),
    ]);
    p.send(&wrong).await.unwrap();
    let rej = expect(&mut p, "3").await;
    assert_eq!((get(&rej, "45"), get(&rej, "373")), (Some("5"), Some("9")));
    expect(&mut p, "5").await;
    expect_close(&mut p).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_message_rate_a_reject_then_logout() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path(), None);
    config.fix = fix::fix_config();
    config.fix.max_messages_per_second = 5;
    let server = TestServer::with(config, dir).await;
    let mut p = test_logon(&server).await;
    let burst: String = (2..=8).map(|s| tw44("0", s, &[])).collect();
    p.send(&burst).await.unwrap();
    let rej = expect(&mut p, "3").await;
    assert!(get(&rej, "58").unwrap().contains("rate"), "{rej:?}");
    expect(&mut p, "5").await;
    expect_close(&mut p).await;
    server.stop().await;
}

#[tokio::test]
async fn the_test_session_needs_a_loopback_listener() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path(), None);
    config.fix = fix::fix_config();
    config.fix.listen = Some("0.0.0.0:0".into());
    let err = bourse::start(config, Default::default())
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_placed_and_canceled_by_fix_match_the_rest_api() {
    let server = TestServer::start().await;
    let c = Client::new(server.app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let (key, secret) = api_key(&server, "fixcarol").await;
    c.deposit(&admin, "fixcarol", "USD", "10000").await;
    let carol = c.login("fixcarol", "password123").await;
    let dave = c.trader("fixdave").await;
    c.deposit(&admin, "fixdave", "BTC", "1").await;

    let mut p = Peer::connect(server.fix_addr()).await.unwrap();
    p.send(&logon(&key, &secret, "ALICE", 1, true))
        .await
        .unwrap();
    expect(&mut p, "A").await;
    let time = utc_time(0);
    let buy = |seq: u64, cl: &'static str| {
        alice(
            "D",
            seq,
            &[
                ("11", cl),
                ("38", "0.5"),
                ("40", "2"),
                ("44", "100"),
                ("54", "1"),
                ("55", "BTC-USD"),
                ("59", "1"),
                ("60", &time),
            ],
        )
    };
    p.send(&buy(2, "c1")).await.unwrap();
    let er = expect(&mut p, "8").await;
    assert_eq!(
        (get(&er, "150"), get(&er, "39"), get(&er, "11")),
        (Some("0"), Some("0"), Some("c1")),
        "{er:?}"
    );
    let id = get(&er, "37").unwrap().to_owned();
    let (_, rest) = c.get(&format!("/api/v1/orders/{id}"), Some(&carol)).await;
    assert_eq!(rest["status"], "open", "{rest}");
    assert_eq!(
        Some(rest["remaining_quantity"].as_str().unwrap()),
        get(&er, "151")
    );
    assert_eq!(
        Some(rest["filled_quantity"].as_str().unwrap()),
        get(&er, "14")
    );
    assert_eq!(Some(rest["price"].as_str().unwrap()), get(&er, "44"));

    // Dave fills part of it on REST (an unsolicited report); the same order with the same
    // ClOrdID again answers the order's state.
    c.limit_order(&dave, "sell", "100", "0.2").await;
    let fill = expect(&mut p, "8").await;
    assert_eq!(
        (get(&fill, "150"), get(&fill, "39"), get(&fill, "32")),
        (Some("F"), Some("1"), Some("0.2000")),
        "{fill:?}"
    );
    p.send(&buy(3, "c1")).await.unwrap();
    let er = expect(&mut p, "8").await;
    let (_, rest) = c.get(&format!("/api/v1/orders/{id}"), Some(&carol)).await;
    assert_eq!(
        (get(&er, "150"), get(&er, "39"), get(&er, "37")),
        (Some("I"), Some("1"), Some(id.as_str())),
        "{er:?}"
    );
    assert_eq!(
        Some(rest["filled_quantity"].as_str().unwrap()),
        get(&er, "14"),
        "{rest}"
    );
    assert_eq!(
        Some(rest["remaining_quantity"].as_str().unwrap()),
        get(&er, "151")
    );
    assert_eq!(Some(rest["average_price"].as_str().unwrap()), get(&er, "6"));
    let (_, open) = c.get("/api/v1/orders?status=open", Some(&carol)).await;
    assert_eq!(open["orders"].as_array().map(Vec::len), Some(1), "{open}");

    // Cancel by OrderID; a second cancel is an OrderCancelReject.
    p.send(&alice(
        "F",
        4,
        &[
            ("11", "c2"),
            ("37", &id),
            ("41", "c1"),
            ("54", "1"),
            ("55", "BTC-USD"),
            ("60", &time),
        ],
    ))
    .await
    .unwrap();
    let er = expect(&mut p, "8").await;
    assert_eq!(
        (get(&er, "150"), get(&er, "39"), get(&er, "11")),
        (Some("4"), Some("4"), Some("c2")),
        "{er:?}"
    );
    let (_, rest) = c.get(&format!("/api/v1/orders/{id}"), Some(&carol)).await;
    assert_eq!(rest["status"], "canceled", "{rest}");
    p.send(&alice(
        "F",
        5,
        &[
            ("11", "c3"),
            ("37", &id),
            ("41", "c1"),
            ("54", "1"),
            ("55", "BTC-USD"),
            ("60", &time),
        ],
    ))
    .await
    .unwrap();
    let rej = expect(&mut p, "9").await;
    assert_eq!(
        (get(&rej, "37"), get(&rej, "434")),
        (Some(id.as_str()), Some("1")),
        "{rej:?}"
    );

    // A bad order is an ExecutionReport 150=8 and places nothing.
    let balances = c.balances(&carol).await;
    p.send(&alice(
        "D",
        6,
        &[
            ("11", "c4"),
            ("38", "0.5"),
            ("40", "2"),
            ("44", "100"),
            ("54", "7"),
            ("55", "BTC-USD"),
            ("60", &time),
        ],
    ))
    .await
    .unwrap();
    let er = expect(&mut p, "8").await;
    assert_eq!(
        (get(&er, "150"), get(&er, "39")),
        (Some("8"), Some("8")),
        "{er:?}"
    );
    assert!(get(&er, "58").unwrap().contains("Side (54)"), "{er:?}");
    let (_, open) = c.get("/api/v1/orders?status=open", Some(&carol)).await;
    assert_eq!(open["orders"].as_array().map(Vec::len), Some(0), "{open}");
    assert_eq!(c.balances(&carol).await, balances);

    // Mass cancel: two resting orders, one OrderMassCancelReport.
    p.send(&buy(7, "c5")).await.unwrap();
    expect(&mut p, "8").await;
    p.send(&buy(8, "c6")).await.unwrap();
    expect(&mut p, "8").await;
    p.send(&alice("q", 9, &[("11", "c7"), ("530", "7"), ("60", &time)]))
        .await
        .unwrap();
    let r = expect(&mut p, "r").await;
    assert_eq!(
        (get(&r, "531"), get(&r, "533")),
        (Some("7"), Some("2")),
        "{r:?}"
    );
    // Then each canceled order's report, from the feed.
    let mut canceled = Vec::new();
    for _ in 0..2 {
        let er = expect(&mut p, "8").await;
        assert_eq!(get(&er, "150"), Some("4"), "{er:?}");
        canceled.push(get(&er, "11").unwrap().to_owned());
    }
    canceled.sort();
    assert_eq!(canceled, ["c5", "c6"]);
    let (_, open) = c.get("/api/v1/orders?status=open", Some(&carol)).await;
    assert_eq!(open["orders"].as_array().map(Vec::len), Some(0), "{open}");
    p.send(&alice(
        "q",
        10,
        &[("11", "c8"), ("530", "5"), ("60", &time)],
    ))
    .await
    .unwrap();
    let r = expect(&mut p, "r").await;
    assert_eq!(get(&r, "531"), Some("0"), "{r:?}");
    server.stop().await;
}
