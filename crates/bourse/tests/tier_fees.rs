//! Fees per user tier: a market created with a per-tier schedule charges each side the
//! fee of its owner's tier, shows the schedule in market JSON, and a bad fee body is a
//! 422 that creates nothing.

mod common;

use common::{code, start, test_config, Client};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn config(dir: &std::path::Path) -> bourse::Config {
    let mut c = test_config(dir, None);
    c.limits.enabled = false;
    c
}

/// Every tier different, and different from the config defaults (10 / 20).
fn schedule() -> Value {
    json!({"standard": {"maker_bps": 10, "taker_bps": 30},
           "premium": {"maker_bps": 4, "taker_bps": 12},
           "broker": {"maker_bps": 0, "taker_bps": 7}})
}

fn market_body(extra: Value) -> Value {
    let mut body = json!({"symbol": "SOL-USD", "base": "SOL", "quote": "USD",
                          "tick_size": "0.01", "lot_size": "0.1", "min_notional": "1"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn set_tier(c: &Client, admin: &str, username: &str, tier: &str) {
    let (s, v) = c
        .call(
            Method::PATCH,
            &format!("/api/v1/admin/users/{username}"),
            Some(admin),
            Some(&json!({"tier": tier})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["user"]["tier"], tier, "{v}");
}

async fn order(c: &Client, token: &str, side: &str, price: &str, qty: &str) -> Value {
    let (s, v) = c
        .post(
            "/api/v1/orders",
            Some(token),
            json!({"market": "SOL-USD", "side": side, "type": "limit", "price": price,
                   "quantity": qty, "time_in_force": "gtc"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

/// The caller's fills as (liquidity, price, quantity, fee), oldest first.
async fn fills(c: &Client, token: &str) -> Vec<(String, String, String, String)> {
    let (s, v) = c.get("/api/v1/fills", Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut out: Vec<_> = v["fills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["fee_asset"], "USD", "{f}");
            let s = |k: &str| f[k].as_str().unwrap().to_owned();
            (s("liquidity"), s("price"), s("quantity"), s("fee"))
        })
        .collect();
    out.reverse();
    out
}

fn fill(liquidity: &str, price: &str, qty: &str, fee: &str) -> (String, String, String, String) {
    (liquidity.into(), price.into(), qty.into(), fee.into())
}

async fn usd_available(c: &Client, token: &str) -> String {
    let v = c.balances(token).await;
    v.as_array()
        .unwrap()
        .iter()
        .find(|b| b["asset"] == "USD")
        .map(|b| b["available"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no USD in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_side_pays_the_fee_of_its_tier() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;

    let (s, m) = c
        .post(
            "/api/v1/admin/markets",
            Some(&admin),
            market_body(json!({ "fees": schedule() })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["fees"], schedule());
    // The single fields stay the standard tier's, for older clients.
    assert_eq!(
        (&m["maker_fee_bps"], &m["taker_fee_bps"]),
        (&json!(10), &json!(30))
    );
    let (_, all) = c.get("/api/v1/markets", None).await;
    assert_eq!(all[0]["symbol"], "SOL-USD");
    assert_eq!(all[0]["fees"], schedule());

    let maker = c.trader("maker").await;
    let premium = c.trader("premium").await;
    let standard = c.trader("standard").await;
    let broker = c.trader("broker").await;
    set_tier(&c, &admin, "premium", "premium").await;
    set_tier(&c, &admin, "broker", "broker").await;
    c.deposit(&admin, "maker", "SOL", "10").await;
    for user in ["premium", "standard", "broker"] {
        c.deposit(&admin, user, "USD", "1000").await;
    }

    // One standard maker; three takers of different tiers buy 1 SOL at 100 each.
    order(&c, &maker, "sell", "100.00", "3").await;
    for taker in [&premium, &standard, &broker] {
        let o = order(&c, taker, "buy", "100.00", "1").await;
        assert_eq!(o["status"], "filled", "{o}");
    }
    // Taker fees on 100 USD: premium 12 bps, standard 30 bps, broker 7 bps.
    assert_eq!(
        fills(&c, &premium).await,
        [fill("taker", "100.00", "1.0", "0.120000")]
    );
    assert_eq!(
        fills(&c, &standard).await,
        [fill("taker", "100.00", "1.0", "0.300000")]
    );
    assert_eq!(
        fills(&c, &broker).await,
        [fill("taker", "100.00", "1.0", "0.070000")]
    );
    assert_eq!(usd_available(&c, &premium).await, "899.880000");
    assert_eq!(usd_available(&c, &standard).await, "899.700000");
    assert_eq!(usd_available(&c, &broker).await, "899.930000");
    // The standard maker pays 10 bps on each of its three fills.
    assert_eq!(
        fills(&c, &maker).await,
        vec![fill("maker", "100.00", "1.0", "0.100000"); 3]
    );
    assert_eq!(usd_available(&c, &maker).await, "299.700000");

    // The maker side follows the tier too: the premium user resting pays 4 bps, the
    // broker resting pays nothing.
    order(&c, &premium, "sell", "101.00", "1").await;
    order(&c, &broker, "sell", "102.00", "1").await;
    let o = order(&c, &standard, "buy", "102.00", "2").await;
    assert_eq!(o["status"], "filled", "{o}");
    assert_eq!(
        fills(&c, &premium).await[1],
        fill("maker", "101.00", "1.0", "0.040400")
    );
    assert_eq!(
        fills(&c, &broker).await[1],
        fill("maker", "102.00", "1.0", "0.000000")
    );
    // 30 bps of 101 and of 102.
    let taker_fees: Vec<_> = fills(&c, &standard).await[1..]
        .iter()
        .map(|f| f.3.clone())
        .collect();
    assert_eq!(taker_fees, ["0.303000", "0.306000"]);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_single_fee_fields_set_every_tier() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    let (s, m) = c
        .post(
            "/api/v1/admin/markets",
            Some(&admin),
            market_body(json!({"taker_fee_bps": 50})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    // The maker fee keeps the config default (10) in every tier.
    let tier = json!({"maker_bps": 10, "taker_bps": 50});
    assert_eq!(
        m["fees"],
        json!({"standard": tier, "premium": tier, "broker": tier})
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fee_bodies_are_refused_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(config(dir.path())).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    let (_, before) = c.get("/api/v1/admin/state", Some(&admin)).await;

    let mut unknown_tier = schedule();
    unknown_tier["gold"] = json!({"maker_bps": 1, "taker_bps": 1});
    let mut missing_tier = schedule();
    missing_tier.as_object_mut().unwrap().remove("broker");
    let mut too_high = schedule();
    too_high["premium"]["taker_bps"] = json!(10001);
    let mut negative = schedule();
    negative["broker"]["maker_bps"] = json!(-1);
    let mut unknown_key = schedule();
    unknown_key["standard"]["rebate_bps"] = json!(1);
    let cases = [
        (
            json!({"fees": schedule(), "maker_fee_bps": 1}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"fees": schedule(), "taker_fee_bps": 1}),
            "VALIDATION_ERROR",
        ),
        (json!({ "fees": unknown_tier }), "UNKNOWN_FIELD"),
        (json!({ "fees": unknown_key }), "UNKNOWN_FIELD"),
        (json!({ "fees": missing_tier }), "VALIDATION_ERROR"),
        (json!({ "fees": too_high }), "INVALID_MARKET_SPEC"),
        (json!({ "fees": negative }), "VALIDATION_ERROR"),
        (json!({"fees": {"standard": 10}}), "VALIDATION_ERROR"),
        (json!({"taker_fee_bps": 10001}), "INVALID_MARKET_SPEC"),
    ];
    for (extra, want) in cases {
        let body = market_body(extra);
        let (s, v) = c
            .post("/api/v1/admin/markets", Some(&admin), body.clone())
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, want),
            "{body} → {v}"
        );
    }
    // Nothing was journaled: no market, no asset.
    let (_, after) = c.get("/api/v1/admin/state", Some(&admin)).await;
    assert_eq!(after["last_seq"], before["last_seq"], "{after}");
    let (_, all) = c.get("/api/v1/markets", None).await;
    assert_eq!(all, json!([]));
    app.shutdown().await;
}
