//! Markets from the config file (`[[markets.list]]`): created at start-up through the
//! same path as the admin API, tradable at once, not duplicated by a restart, kept as
//! they are when the file's definition changes later, and a bad entry stops the start.

mod common;

use bourse::Config;
use common::{set_admin_password, start, Client};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;

const SOL_USD: &str = r#"
[[markets.list]]
symbol = "SOL-USD"
base = "SOL"
quote = "USD"
tick_size = "0.01"
lot_size = "0.1"
min_notional = "5"
[markets.list.fees]
standard = { maker_bps = 10, taker_bps = 30 }
premium = { maker_bps = 4, taker_bps = 12 }
broker = { maker_bps = 0, taker_bps = 7 }
"#;

const EUR_USD: &str = r#"
[[markets.list]]
symbol = "EUR-USD"
base = "EUR"
quote = "USD"
tick_size = "0.0001"
lot_size = "1"
min_notional = "10"
max_quantity = "500000"
maker_fee_bps = 0
taker_fee_bps = 5
"#;

/// `toml` written to a file in `dir` and loaded the way `bourse serve --config` does,
/// then pointed at a free port and `dir`.
fn config_from(dir: &Path, toml: &str) -> Config {
    set_admin_password();
    let path = dir.join("bourse.toml");
    std::fs::write(&path, toml).unwrap();
    let mut c = Config::from_toml_file(&path).unwrap();
    c.listen = "127.0.0.1:0".into();
    c.data_dir = dir.join("data");
    c.limits.enabled = false;
    c
}

async fn markets(c: &Client) -> Vec<Value> {
    let (s, v) = c.get("/api/v1/markets", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().unwrap().clone()
}

fn find<'a>(all: &'a [Value], symbol: &str) -> &'a Value {
    all.iter()
        .find(|m| m["symbol"] == symbol)
        .unwrap_or_else(|| panic!("no {symbol} in {all:?}"))
}

/// Bob rests a sell of 1 SOL at `price`, alice buys it; returns alice's fill fee.
async fn trade(c: &Client, alice: &str, bob: &str, price: &str) -> String {
    let order = |side: &str| {
        json!({"market": "SOL-USD", "side": side, "type": "limit", "price": price,
               "quantity": "1", "time_in_force": "gtc"})
    };
    let (s, v) = c.post("/api/v1/orders", Some(bob), order("sell")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = c.post("/api/v1/orders", Some(alice), order("buy")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "filled", "{v}");
    v["fills"][0]["fee"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_markets_are_created_once_and_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("{SOL_USD}{EUR_USD}");

    // First start: both markets exist, with the file's grid and fees.
    let app = start(config_from(dir.path(), &toml)).await;
    let c = Client::new(app.addr);
    let all = markets(&c).await;
    assert_eq!(all.len(), 2, "{all:?}");
    let sol = find(&all, "SOL-USD");
    assert_eq!(
        (
            &sol["base"],
            &sol["quote"],
            &sol["tick_size"],
            &sol["lot_size"]
        ),
        (&json!("SOL"), &json!("USD"), &json!("0.01"), &json!("0.1"))
    );
    assert_eq!(sol["min_notional"], "5.000000");
    assert_eq!(
        sol["fees"]["premium"],
        json!({"maker_bps": 4, "taker_bps": 12})
    );
    let eur = find(&all, "EUR-USD");
    assert_eq!(eur["max_quantity"], "500000");
    let tier = json!({"maker_bps": 0, "taker_bps": 5});
    assert_eq!(
        eur["fees"],
        json!({"standard": tier, "premium": tier, "broker": tier})
    );

    // It trades, with the configured standard taker fee (30 bps of 20 USD).
    let admin = c.admin().await;
    let alice = c.trader("alice").await;
    let bob = c.trader("bob").await;
    c.deposit(&admin, "alice", "USD", "1000").await;
    c.deposit(&admin, "bob", "SOL", "10").await;
    assert_eq!(trade(&c, &alice, &bob, "20.00").await, "0.060000");
    let (_, state) = c.get("/api/v1/admin/state", Some(&admin)).await;
    app.shutdown().await;

    // Restart with the same file: nothing is created again.
    let app = start(config_from(dir.path(), &toml)).await;
    let c = Client::new(app.addr);
    let all = markets(&c).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(find(&all, "SOL-USD")["last_price"], "20.00");
    let admin = c.admin().await;
    let (_, again) = c.get("/api/v1/admin/state", Some(&admin)).await;
    assert_eq!(again["state_hash"], state["state_hash"], "{again}");
    let alice = c.login("alice", "password123").await;
    let bob = c.login("bob", "password123").await;
    assert_eq!(trade(&c, &alice, &bob, "21.00").await, "0.063000");
    app.shutdown().await;

    // Restart with a changed definition: the market keeps its original grid and fees
    // (a warning is logged), and the server starts.
    let changed = toml
        .replace("tick_size = \"0.01\"", "tick_size = \"0.05\"")
        .replace("taker_bps = 30", "taker_bps = 40");
    let app = start(config_from(dir.path(), &changed)).await;
    let c = Client::new(app.addr);
    let all = markets(&c).await;
    assert_eq!(all.len(), 2, "{all:?}");
    let sol = find(&all, "SOL-USD");
    assert_eq!(
        (&sol["tick_size"], &sol["fees"]["standard"]["taker_bps"]),
        (&json!("0.01"), &json!(30))
    );
    let alice = c.login("alice", "password123").await;
    let bob = c.login("bob", "password123").await;
    assert_eq!(trade(&c, &alice, &bob, "20.01").await, "0.060030");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_market_entry_stops_the_start_with_its_code() {
    let cases = [
        // min_notional below the quote asset's decimals.
        (
            SOL_USD.replace("min_notional = \"5\"", "min_notional = \"0.0000001\""),
            "INVALID_DECIMAL",
        ),
        (
            SOL_USD.replace("taker_bps = 12", "taker_bps = 10001"),
            "INVALID_MARKET_SPEC",
        ),
        (
            SOL_USD.replace(
                "lot_size = \"0.1\"",
                "lot_size = \"0.1\"\nmaker_fee_bps = 1",
            ),
            "VALIDATION_ERROR",
        ),
    ];
    for (toml, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let err = match bourse::start(config_from(dir.path(), &toml), Default::default()).await {
            Ok(app) => {
                app.shutdown().await;
                panic!("started with {toml}");
            }
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("SOL-USD") && err.contains(want),
            "want {want}: {err}"
        );
    }
    // A symbol listed twice is refused before anything starts.
    let dir = tempfile::tempdir().unwrap();
    let err = bourse::start(
        config_from(dir.path(), &format!("{SOL_USD}{SOL_USD}")),
        Default::default(),
    )
    .await
    .err()
    .expect("a duplicate symbol is refused")
    .to_string();
    assert!(err.contains("twice"), "{err}");
}

/// `bourse.example.toml` at the repository root is a working config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_config_starts_with_its_markets() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bourse.example.toml"),
    )
    .unwrap();
    let app = start(config_from(dir.path(), &example)).await;
    let c = Client::new(app.addr);
    let all = markets(&c).await;
    let mut symbols: Vec<_> = all.iter().map(|m| m["symbol"].as_str().unwrap()).collect();
    symbols.sort_unstable();
    assert_eq!(symbols, ["EUR-USD", "SOL-USD"]);
    assert_eq!(
        find(&all, "SOL-USD")["fees"]["broker"],
        json!({"maker_bps": 0, "taker_bps": 8})
    );
    // An admin-created market gets the example's [markets.fees] defaults.
    let admin = c.admin().await;
    let (s, m) = c
        .post(
            "/api/v1/admin/markets",
            Some(&admin),
            json!({"symbol": "BTC-USD", "base": "BTC", "quote": "USD", "tick_size": "0.01",
                   "lot_size": "0.0001", "min_notional": "1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(
        m["fees"]["premium"],
        json!({"maker_bps": 5, "taker_bps": 15})
    );
    app.shutdown().await;
}
