//! Compliance over the API: KYC levels (the trading and withdrawal gates, the daily
//! withdrawal limit with its remaining allowance, the admin's `PATCH`, replay after a
//! restart) and the CSV reports compared field by field with the REST API.
//!
//! The daily window follows the command's own time (the sequencer's clock), which a test
//! cannot move: the next day's allowance is the core's tests' (`kyc_levels`); here a run
//! that crosses midnight UTC skips the assertions that depend on the day.

mod common;

use bourse::kyc::KycLevelConfig;
use bourse::Config;
use common::{balance, code, start, test_config, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;

/// Level 0 may neither trade nor withdraw; level 1 may, up to 100.5 USD a day; level 2
/// has no limit.
fn config(dir: &Path) -> Config {
    let mut c = test_config(dir, None);
    c.snapshot_every = 5;
    let level = |trade, withdraw, limits: &[(&str, &str)]| KycLevelConfig {
        may_trade: trade,
        may_withdraw: withdraw,
        daily_withdrawal_limit: limits
            .iter()
            .map(|(a, l)| ((*a).to_owned(), (*l).to_owned()))
            .collect(),
    };
    c.kyc.levels.insert("0".into(), level(false, false, &[]));
    c.kyc
        .levels
        .insert("1".into(), level(true, true, &[("USD", "100.5")]));
    c
}

fn utc_day() -> u64 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    ms / 86_400_000
}

async fn patch(c: &Client, token: &str, user: &str, body: Value) -> (StatusCode, Value) {
    c.call(
        Method::PATCH,
        &format!("/api/v1/admin/users/{user}"),
        Some(token),
        Some(&body),
    )
    .await
}

async fn withdraw(c: &Client, token: &str, amount: &str) -> (StatusCode, Value) {
    c.post(
        "/api/v1/withdrawals",
        Some(token),
        json!({"asset": "USD", "amount": amount, "address": "bank:DE89"}),
    )
    .await
}

async fn place(c: &Client, token: &str) -> (StatusCode, Value) {
    c.post(
        "/api/v1/orders",
        Some(token),
        json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "10",
               "quantity": "1", "time_in_force": "gtc"}),
    )
    .await
}

/// Asserts a `WITHDRAWAL_LIMIT` answer and returns its remaining allowance.
fn remaining(s: StatusCode, v: &Value) -> &str {
    assert_eq!(
        (s, code(v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "WITHDRAWAL_LIMIT"),
        "{v}"
    );
    v["error"]["remaining"].as_str().expect("remaining")
}

async fn state(c: &Client, admin: &str) -> Value {
    let (s, v) = c.get("/api/v1/admin/state", Some(admin)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["invariants"], "ok", "the ledger balances: {v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kyc_levels_gate_trading_and_limit_withdrawals_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let day = utc_day();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    c.deposit(&admin, "alice", "USD", "1000").await;

    // Level 0 (every new user): neither trading nor withdrawing, and nothing moves.
    let (s, v) = place(&c, &alice).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "KYC_REQUIRED"),
        "{v}"
    );
    let (s, v) = withdraw(&c, &alice, "1").await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "KYC_REQUIRED"),
        "{v}"
    );
    let untouched = balance(&c.balances(&alice).await, "USD");
    assert_eq!(untouched.0, "1000.000000");

    // Only an admin sets levels; bad values are refused before anything is journaled.
    let (s, v) = patch(&c, &alice, "alice", json!({"kyc_level": 2})).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{v}");
    let before = state(&c, &admin).await;
    for bad in [
        json!({"kyc_level": 3}),
        json!({"kyc_level": -1}),
        json!({"kyc_level": 1, "beneficial_owner": "x".repeat(65)}),
        json!({"kyc_level": 1, "beneficial_owner": ""}),
        json!({"beneficial_owner": "a\u{7}b"}),
    ] {
        let (s, v) = patch(&c, &admin, "alice", bad.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert_eq!(code(&v), "VALIDATION_ERROR", "{bad}: {v}");
    }
    assert_eq!(state(&c, &admin).await["last_seq"], before["last_seq"]);
    let (s, v) = c.get("/api/v1/admin/users/alice", Some(&admin)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["kyc_level"].as_u64(), &v["beneficial_owner"]),
        (Some(0), &Value::Null)
    );

    let owner = "Ünïcode, \"Holdings\" Ltd.";
    let (s, v) = patch(
        &c,
        &admin,
        "alice",
        json!({"kyc_level": 1, "beneficial_owner": owner}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["user"]["kyc_level"], 1);
    assert_eq!(v["user"]["beneficial_owner"], owner);

    // Level 1: 100.5 USD a day. Under, over (with what is left), exactly at, then over.
    let (s, v) = withdraw(&c, &alice, "40").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = withdraw(&c, &alice, "60.500001").await;
    assert_eq!(remaining(s, &v), "60.500000");
    assert_eq!(
        balance(&c.balances(&alice).await, "USD"),
        ("960.000000".to_owned(), "40.000000".to_owned()),
        "the refused withdrawal held nothing"
    );
    let (s, v) = withdraw(&c, &alice, "60.5").await;
    assert_eq!(s, StatusCode::CREATED, "exactly at the limit: {v}");
    let (s, v) = withdraw(&c, &alice, "0.000001").await;
    assert_eq!(remaining(s, &v), "0.000000");
    // An admin's rejection gives the allowance back.
    let (s, v) = c.get("/api/v1/admin/withdrawals", Some(&admin)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let id = v["withdrawals"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["amount"] == "40.000000"))
        .map(|w| w["id"].clone())
        .expect("the 40 USD withdrawal is pending");
    let (s, v) = c
        .post(
            &format!("/api/v1/admin/withdrawals/{id}/reject"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = withdraw(&c, &alice, "40.000001").await;
    assert_eq!(remaining(s, &v), "40.000000");
    let (s, v) = withdraw(&c, &alice, "40").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // Level 2 has no limit; back at level 1 today's withdrawals still count.
    let (s, v) = patch(&c, &admin, "alice", json!({"kyc_level": 2})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = withdraw(&c, &alice, "500").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = place(&c, &alice).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Level 0 may not trade: the move cancels the open order, and the answer counts it.
    let (s, v) = patch(&c, &admin, "alice", json!({"kyc_level": 0})).await;
    assert_eq!(
        (s, v["canceled_orders"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{v}"
    );
    let (s, v) = place(&c, &alice).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "KYC_REQUIRED"),
        "{v}"
    );
    let (s, v) = patch(
        &c,
        &admin,
        "alice",
        json!({"kyc_level": 1, "beneficial_owner": null}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["user"]["beneficial_owner"], Value::Null, "null clears it");
    let (s, v) = withdraw(&c, &alice, "0.000001").await;
    assert_eq!(remaining(s, &v), "0.000000");
    let run1 = state(&c, &admin).await;
    app.shutdown().await;

    // After a restart (snapshot + journal replay) the state is the same, and so are the
    // refusals.
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    let run2 = state(&c, &admin).await;
    assert_eq!(run2["state_hash"], run1["state_hash"]);
    assert_eq!(
        run2["last_seq"], run1["last_seq"],
        "nothing journaled at start"
    );
    let alice = c.login("alice", "password123").await;
    let (s, v) = withdraw(&c, &alice, "0.000001").await;
    if utc_day() == day {
        assert_eq!(remaining(s, &v), "0.000000");
    }
    let (s, v) = c.get("/api/v1/admin/users/alice", Some(&admin)).await;
    assert_eq!((s, v["kyc_level"].as_u64()), (StatusCode::OK, Some(1)));
    state(&c, &admin).await;
    app.shutdown().await;
}

/// The raw answer of a GET: status, headers and body text.
async fn get_text(
    c: &Client,
    path: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let res = c
        .http
        .get(format!("{}{path}", c.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.text().await.unwrap())
}

/// A decimal string in units of `10^-scale` (exact; panics if it has more decimals).
fn units(s: &str, scale: usize) -> u128 {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    assert!(frac.len() <= scale, "{s} has more than {scale} decimals");
    format!("{int}{frac:0<scale$}").parse().unwrap()
}

/// A CSV body as its header and its records, each a column → value map.
fn parse_csv(text: &str) -> (Vec<String>, Vec<std::collections::HashMap<String, String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_owned))
                .collect()
        })
        .collect();
    (header, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trade_report_matches_the_fills_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_config(dir.path(), None)).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    // A fine grid: prices with six decimals, sizes with eight.
    let (s, v) = c
        .post(
            "/api/v1/admin/markets",
            Some(&admin),
            json!({"symbol": "BTC-USD", "base": "BTC", "quote": "USD", "tick_size": "0.000001",
                   "lot_size": "0.00000001", "min_notional": "0.000001"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "alice", "BTC", "1").await;
    c.deposit(&admin, "bob", "USD", "10000").await;
    let order = |side: &str, price: &str, qty: &str| {
        json!({"market": "BTC-USD", "side": side, "type": "limit", "price": price,
               "quantity": qty, "time_in_force": "gtc"})
    };
    let (s, v) = c
        .post(
            "/api/v1/orders",
            Some(&alice),
            order("sell", "30123.456789", "0.12345678"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    for qty in ["0.1", "0.02345678"] {
        let (s, v) = c
            .post(
                "/api/v1/orders",
                Some(&bob),
                order("buy", "30123.456789", qty),
            )
            .await;
        assert_eq!(
            (s, v["status"].as_str()),
            (StatusCode::CREATED, Some("filled")),
            "{v}"
        );
    }

    let (s, headers, text) = get_text(
        &c,
        "/api/v1/admin/reports/trades.csv?market=BTC-USD",
        &admin,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(headers[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let disposition = headers[reqwest::header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"trades-BTC-USD-0-"),
        "{disposition}"
    );
    let (header, rows) = parse_csv(&text);
    assert_eq!(
        header,
        [
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
            "fee_asset"
        ]
    );
    assert_eq!(rows.len(), 2, "{text}");

    // Field by field against each side's fills from the REST API.
    let fills = |token: String| {
        let c = c.clone();
        async move {
            let (s, v) = c.get("/api/v1/fills", Some(&token)).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            let list = v
                .as_array()
                .cloned()
                .or_else(|| v["fills"].as_array().cloned());
            list.expect("a list of fills")
        }
    };
    let (buys, sells) = (fills(bob.clone()).await, fills(alice.clone()).await);
    for row in &rows {
        let id: u64 = row["trade_id"].parse().unwrap();
        let find = |list: &[Value]| {
            list.iter()
                .find(|f| f["trade_id"].as_u64() == Some(id))
                .cloned()
                .unwrap_or_else(|| panic!("trade {id} not among the fills"))
        };
        let (buy, sell) = (find(&buys), find(&sells));
        assert_eq!(row["market"], "BTC-USD");
        assert_eq!(row["price"], buy["price"].as_str().unwrap());
        assert_eq!(row["price"], "30123.456789");
        assert_eq!(row["quantity"], buy["quantity"].as_str().unwrap());
        assert_eq!(row["quantity"], sell["quantity"].as_str().unwrap());
        assert_eq!(row["time"], buy["created_at"].to_string());
        assert_eq!(
            (row["buyer"].as_str(), row["seller"].as_str()),
            ("bob", "alice")
        );
        assert_eq!(row["maker_side"], "sell", "Alice's order was resting");
        assert_eq!(sell["liquidity"], "maker");
        assert_eq!(row["buyer_fee"], buy["fee"].as_str().unwrap());
        assert_eq!(row["seller_fee"], sell["fee"].as_str().unwrap());
        assert_eq!(row["fee_asset"], "USD");
    }
    // price × quantity, exactly (no float anywhere): the product of the two decimals,
    // digit for digit, is the quote quantity the ledger moved.
    assert_eq!(rows[0]["quantity"], "0.10000000");
    assert_eq!(rows[1]["quantity"], "0.02345678");
    for r in &rows {
        let product = units(&r["price"], 6) * units(&r["quantity"], 8);
        assert_eq!(units(&r["quote_quantity"], 14), product, "{r:?}");
    }
    // And the balances moved by those amounts: Bob paid both plus his fees.
    let paid: u128 = rows
        .iter()
        .map(|r| units(&r["quote_quantity"], 18) + units(&r["buyer_fee"], 18))
        .sum();
    let usd = balance(&c.balances(&bob).await, "USD");
    assert_eq!(units(&usd.0, 18), units("10000", 18) - paid, "{usd:?}");

    // Ranges: inclusive, a window without trades is the header alone.
    let t0: u64 = rows[0]["time"].parse().unwrap();
    let (_, _, text) = get_text(
        &c,
        &format!("/api/v1/admin/reports/trades.csv?start={t0}&end={t0}"),
        &admin,
    )
    .await;
    assert!(parse_csv(&text)
        .1
        .iter()
        .any(|r| r["trade_id"] == rows[0]["trade_id"]));
    let (s, _, text) = get_text(&c, "/api/v1/admin/reports/trades.csv?end=0", &admin).await;
    assert_eq!((s, parse_csv(&text).1.len()), (StatusCode::OK, 0));
    // Bad input is the API's JSON error, never a 500 or a half report.
    for (query, status, want) in [
        (
            "start=10&end=5",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        (
            "end=253402300800000",
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        ),
        ("start=abc", StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        ("market=NOPE-USD", StatusCode::NOT_FOUND, "UNKNOWN_MARKET"),
    ] {
        let (s, v) = c
            .get(
                &format!("/api/v1/admin/reports/trades.csv?{query}"),
                Some(&admin),
            )
            .await;
        assert_eq!((s, code(&v)), (status, want), "{query}: {v}");
    }
    let (s, v) = c
        .get("/api/v1/admin/reports/trades.csv", Some(&alice))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{v}");

    // Bob's statement: his deposit, both fills (two legs each), his withdrawal, in time
    // order, against the trade report (itself checked against the fills above).
    let (s, v) = withdraw(&c, &bob, "1.5").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, headers, text) = get_text(&c, "/api/v1/reports/statement.csv", &bob).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let disposition = headers[reqwest::header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"statement-bob-0-"),
        "{disposition}"
    );
    let (header, st) = parse_csv(&text);
    assert_eq!(
        header,
        ["time", "type", "asset", "amount", "fee", "reference"]
    );
    let kinds: Vec<&str> = st.iter().map(|r| r["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["deposit", "fill", "fill", "fill", "fill", "withdrawal"],
        "{text}"
    );
    assert_eq!(
        (st[0]["asset"].as_str(), units(&st[0]["amount"], 18)),
        ("USD", units("10000", 18))
    );
    for (i, row) in rows.iter().enumerate() {
        let (base, quote) = (&st[1 + 2 * i], &st[2 + 2 * i]);
        let reference = format!("trade:{}", row["trade_id"]);
        assert_eq!(
            (&base["reference"], &quote["reference"]),
            (&reference, &reference)
        );
        assert_eq!(
            (base["asset"].as_str(), quote["asset"].as_str()),
            ("BTC", "USD")
        );
        assert_eq!(base["amount"], row["quantity"], "a buy brings base in");
        assert_eq!(
            quote["amount"],
            format!("-{}", row["quote_quantity"]),
            "and pays quote"
        );
        assert_eq!(quote["fee"], row["buyer_fee"]);
        assert_eq!(base["time"], row["time"]);
    }
    assert_eq!(
        units(st[5]["amount"].trim_start_matches('-'), 18),
        units("1.5", 18)
    );
    assert!(st[5]["amount"].starts_with('-') && st[5]["reference"].starts_with("withdrawal:"));
    // The net of the USD rows is Bob's USD balance (available + held: the withdrawal is
    // pending, so it is still held, and listed as gone).
    let net: i128 = st
        .iter()
        .filter(|r| r["asset"] == "USD")
        .map(|r| {
            let sign = if r["amount"].starts_with('-') { -1 } else { 1 };
            sign * units(r["amount"].trim_start_matches('-'), 18) as i128
                - units(&r["fee"], 18) as i128
        })
        .sum();
    let usd = balance(&c.balances(&bob).await, "USD");
    let held = units(&usd.1, 18) as i128;
    assert_eq!(
        net,
        units(&usd.0, 18) as i128 + held - units("1.5", 18) as i128
    );
    let (s, v) = c
        .get("/api/v1/reports/statement.csv?start=9&end=8", Some(&bob))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR"),
        "{v}"
    );
    app.shutdown().await;
}
