//! Durability through the in-process app: a poisoned journal halts trading but not reads;
//! a deleted SQLite database is rebuilt identically; restarts keep the state hash; GTD
//! orders expire on time.

mod common;

use bourse::StartOptions;
use bourse_journal::IoOp;
use bourse_model::{AssetId, MarketId, Timestamp, UserId};
use bourse_store::{FillQuery, Interval, OrderQuery, Store};
use common::{code, start, start_with, test_config, Client};
use reqwest::StatusCode;
use serde_json::json;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_journal_halts_writes_but_not_reads() {
    let dir = tempfile::tempdir().unwrap();
    let fail = Arc::new(AtomicBool::new(false));
    let f = fail.clone();
    let options = StartOptions {
        journal_fault: Some(Box::new(move |op| {
            // The fsync fails after the batch's bytes were written: the journal cuts
            // them off, so the refused order does not reappear after the restart below.
            if f.load(Ordering::SeqCst) && op == IoOp::Sync {
                Err(std::io::Error::other("injected fsync failure"))
            } else {
                Ok(())
            }
        })),
    };
    let app = start_with(test_config(dir.path(), None), options).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    c.deposit(&admin, "alice", "USD", "1000").await;
    let (s, o) = c
        .post(
            "/api/v1/orders",
            Some(&alice),
            json!({"market": "BTC-USD", "side": "buy",
            "type": "limit", "price": "100", "quantity": "1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let before = c.get("/api/v1/admin/state", Some(&admin)).await.1;

    fail.store(true, Ordering::SeqCst);
    let order = json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "99", "quantity": "1"});
    for _ in 0..2 {
        let (s, v) = c.post("/api/v1/orders", Some(&alice), order.clone()).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::SERVICE_UNAVAILABLE, "JOURNAL_UNAVAILABLE")
        );
    }
    let (s, v) = c
        .delete(&format!("/api/v1/orders/{}", o["id"]), Some(&alice))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "JOURNAL_UNAVAILABLE")
    );
    let (s, v) = c
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "bob", "password": "password123"}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "JOURNAL_UNAVAILABLE")
    );
    // Even once the disk "recovers", the journal stays poisoned until a restart.
    fail.store(false, Ordering::SeqCst);
    let (s, _) = c.post("/api/v1/orders", Some(&alice), order.clone()).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);

    // Reads keep working and nothing was applied.
    let b = c.balances(&alice).await;
    assert_eq!(b[1]["held"], "100.200000");
    let (s, v) = c
        .get(&format!("/api/v1/orders/{}", o["id"]), Some(&alice))
        .await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("open")));
    let (s, v) = c.get("/api/v1/markets/BTC-USD/book", None).await;
    assert_eq!(
        (s, v["bids"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    let after = c.get("/api/v1/admin/state", Some(&admin)).await.1;
    assert_eq!(before, after);
    let (s, h) = c.get("/health", None).await;
    assert_eq!(
        (s, h["status"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unhealthy"))
    );
    // Anonymous callers learn that, not the reason (paths, OS errors): that is logged.
    assert_eq!(h["journal"], "journal unavailable", "{h}");
    assert!(!h.to_string().contains("injected"), "{h}");
    let (s, _) = c.get("/ready", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    app.shutdown().await;

    // A restart re-validates the journal and trades again, in the state acknowledged.
    let app = start(test_config(dir.path(), None)).await;
    let c = Client::new(app.addr);
    assert_eq!(
        c.get("/api/v1/admin/state", Some(&admin)).await.1["state_hash"],
        before["state_hash"]
    );
    let (s, v) = c.post("/api/v1/orders", Some(&alice), order).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.shutdown().await;
}

/// Drives a little of everything: deposits, resting orders, fills, cancels, an API key,
/// withdrawals approved, rejected and left pending.
async fn activity(c: &Client) {
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let mut tokens = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let t = c.trader(name).await;
        c.deposit(&admin, name, "USD", "100000").await;
        c.deposit(&admin, name, "BTC", "100").await;
        tokens.push(t);
    }
    for i in 0..60u32 {
        let t = &tokens[(i % 3) as usize];
        let side = if i % 2 == 0 { "buy" } else { "sell" };
        let price = format!("{}.{:02}", 100 + (i * 7) % 5, (i * 13) % 100);
        let (s, o) = c
            .post(
                "/api/v1/orders",
                Some(t),
                json!({"market": "BTC-USD", "side": side,
                "type": "limit", "price": price, "quantity": format!("0.{}", 1 + i % 9)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        if i % 7 == 0 && o["status"] == "open" {
            let (s, _) = c
                .delete(&format!("/api/v1/orders/{}", o["id"]), Some(t))
                .await;
            assert_eq!(s, StatusCode::OK);
        }
    }
    let (s, k) = c
        .post(
            "/api/v1/api-keys",
            Some(&tokens[0]),
            json!({"label": "rebuild bot"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let mut withdrawals = Vec::new();
    for amount in ["10", "20.5", "30"] {
        let (s, w) = c
            .post(
                "/api/v1/withdrawals",
                Some(&tokens[1]),
                json!({"asset": "USD", "amount": amount, "address": "bank:DE89370400440532013000"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{w}");
        withdrawals.push(w["id"].as_u64().unwrap());
    }
    for (id, action) in withdrawals.iter().zip(["approve", "reject"]) {
        let (s, w) = c
            .post(
                &format!("/api/v1/admin/withdrawals/{id}/{action}"),
                Some(&admin),
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{action}: {w}");
    }
}

/// Every read model of every user, as comparable text.
async fn dump(db: &Path) -> Vec<String> {
    let store = Store::connect(&format!("sqlite://{}?mode=rw", db.display()))
        .await
        .unwrap();
    let mut out = vec![format!(
        "last_seq {}",
        store.last_applied_seq().await.unwrap()
    )];
    for u in 1..=4u64 {
        let user = UserId(u);
        out.push(format!("{:?}", store.user(user).await.unwrap()));
        out.push(format!(
            "{:?}",
            store
                .orders(&OrderQuery {
                    user,
                    status: None,
                    market: None,
                    before: None,
                    limit: 1000
                })
                .await
                .unwrap()
        ));
        out.push(format!(
            "{:?}",
            store
                .fills(&FillQuery {
                    user,
                    market: None,
                    before: None,
                    limit: 1000
                })
                .await
                .unwrap()
        ));
        out.push(format!("{:?}", store.balances(user).await.unwrap()));
        for a in 0..2 {
            out.push(format!(
                "{:?}",
                store
                    .balance_history(user, Some(AssetId(a)), None, 1000)
                    .await
                    .unwrap()
            ));
        }
        out.push(format!(
            "{:?}",
            store.deposits(user, None, 1000).await.unwrap()
        ));
        out.push(format!(
            "{:?}",
            store.withdrawals(user, None, 1000).await.unwrap()
        ));
        out.push(format!("{:?}", store.api_keys(user).await.unwrap()));
    }
    for interval in Interval::ALL {
        let candles = store
            .candles(
                MarketId(0),
                interval,
                Timestamp(0),
                Timestamp(i64::MAX as u64),
                1000,
            )
            .await
            .unwrap();
        out.push(format!("candles {interval}: {candles:?}"));
    }
    out.push(format!(
        "{:?}",
        store.trades(MarketId(0), None, 1000).await.unwrap()
    ));
    out.push(format!("{:?}", store.markets().await.unwrap()));
    out.push(format!("{:?}", store.assets().await.unwrap()));
    store.close().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_sqlite_database_is_rebuilt_identically() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_config(dir.path(), None)).await;
    let c = Client::new(app.addr);
    activity(&c).await;
    let state = c.get("/api/v1/admin/state", Some(&c.admin().await)).await.1;
    app.shutdown().await;
    let db = dir.path().join("bourse.db");
    let before = dump(&db).await;
    assert!(
        before.iter().any(|l| l.contains("Canceled")),
        "activity should cancel something"
    );
    assert!(before
        .iter()
        .any(|l| l.contains("Liquidity") || l.contains("Maker")));
    // The other read models are there to compare too.
    for want in ["rebuild bot", "Requested", "Completed", "Rejected"] {
        assert!(
            before.iter().any(|l| l.contains(want)),
            "no {want} in the dump"
        );
    }
    for interval in Interval::ALL {
        let line = format!("candles {interval}: [Candle");
        assert!(
            before.iter().any(|l| l.starts_with(&line)),
            "no {interval} candles"
        );
    }
    let snapshots = std::fs::read_dir(dir.path().join("snapshots"))
        .unwrap()
        .count();
    assert!(
        snapshots > 0,
        "the rebuild must start from 1 although a snapshot exists"
    );

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("bourse.db{suffix}")));
    }
    let app = start(test_config(dir.path(), None)).await;
    let c = Client::new(app.addr);
    let again = c.get("/api/v1/admin/state", Some(&c.admin().await)).await.1;
    assert_eq!(state, again);
    app.shutdown().await;
    let after = dump(&db).await;
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_from_a_snapshot_keep_the_state_and_the_offline_replay_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_config(dir.path(), None)).await;
    let c = Client::new(app.addr);
    activity(&c).await;
    let state = c.get("/api/v1/admin/state", Some(&c.admin().await)).await.1;
    app.shutdown().await;
    let app = start(test_config(dir.path(), None)).await;
    let c = Client::new(app.addr);
    assert_eq!(
        c.get("/api/v1/admin/state", Some(&c.admin().await)).await.1,
        state
    );
    app.shutdown().await;
    let config = test_config(dir.path(), None);
    let v = tokio::task::spawn_blocking(move || bourse_engine::recovery::verify(&config.engine()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.state_hash, state["state_hash"].as_str().unwrap());
    assert_eq!(v.last_seq, state["last_seq"].as_u64().unwrap());
    assert_eq!(v.invariants, "ok");
    assert_eq!(v.snapshots_checked, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gtd_orders_expire_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_config(dir.path(), None)).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let alice = c.trader("alice").await;
    c.deposit(&admin, "alice", "USD", "1000").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let (s, o) = c
        .post("/api/v1/orders", Some(&alice), json!({"market": "BTC-USD", "side": "buy",
            "type": "limit", "price": "100", "quantity": "1", "time_in_force": "gtd", "expire_at": now + 600}))
        .await;
    assert_eq!(
        (s, o["status"].as_str()),
        (StatusCode::CREATED, Some("open")),
        "{o}"
    );
    let path = format!("/api/v1/orders/{}", o["id"]);
    let mut status = String::new();
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        status = c.get(&path, Some(&alice)).await.1["status"]
            .as_str()
            .unwrap()
            .to_owned();
        if status == "expired" {
            break;
        }
    }
    assert_eq!(status, "expired");
    assert_eq!(c.balances(&alice).await[1]["held"], "0.000000");
    app.shutdown().await;
}
