//! `GET /health` checks each dependency for real (issue "Observability"): each test makes
//! one fail and sees `/health` change, then come back: the read-model database
//! (SQLite: the table the probe reads is renamed away; PostgreSQL: connections refused
//! and the app's terminated), the journal (an injected fsync failure; back after a
//! restart), the rate-limit Redis (a closed port; a Redis of the test's own stopped and
//! started again), the NATS journal's connection (a NATS server of the test's own,
//! likewise) and free disk (a minimum above the real free space). Also: the database and disk probes are cached (`[health] cache_ms`).
//!
//! In `PG_API_SUITES`: the database test takes the branch of the backend selected.

mod common;

use bourse::StartOptions;
use bourse_journal::IoOp;
use common::{eventually, pg_backend, start, start_with, test_config, Client};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

async fn health(c: &Client) -> (StatusCode, Value) {
    c.get("/health", None).await
}

/// A config whose I/O checks are not cached and give up quickly.
fn fresh_checks(dir: &Path) -> bourse::Config {
    let mut cfg = test_config(dir, None);
    cfg.health.cache_ms = 0;
    cfg.health.db_timeout_ms = 300;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_server_reports_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(fresh_checks(dir.path())).await;
    let (s, h) = health(&Client::new(app.addr)).await;
    assert_eq!(
        (s, h["status"].as_str()),
        (StatusCode::OK, Some("healthy")),
        "{h}"
    );
    for name in [
        "database",
        "disk",
        "journal",
        "sequencer",
        "read_model",
        "rate_limit_store",
    ] {
        assert_eq!(h["checks"][name]["ok"], true, "{name}: {h}");
    }
    assert!(h["checks"]["database"]["latency_us"].is_u64(), "{h}");
    assert!(
        h["checks"]["disk"]["free_bytes"].as_u64().unwrap() > 0,
        "{h}"
    );
    assert_eq!(h["checks"]["disk"]["min_free_bytes"], 100 * 1024 * 1024);
    assert_eq!(h["checks"]["read_model"]["lag"], 0);
    // The documented fields stay.
    for field in [
        "journal",
        "follower",
        "committed_seq",
        "projected_seq",
        "feeds",
        "rate_limit_store",
        "uptime_ms",
    ] {
        assert!(h.get(field).is_some(), "{field}: {h}");
    }
    app.shutdown().await;
}

/// Holds the read-model database so that the app's queries fail, until `release`.
enum DbOutage {
    Sqlite(sqlx::SqliteConnection),
    Postgres {
        admin: sqlx::PgConnection,
        name: String,
    },
}

impl DbOutage {
    async fn begin(dir: &Path) -> DbOutage {
        if pg_backend::selected() {
            let url = pg_backend::database_for(dir).await;
            let name = url.rsplit('/').next().unwrap().to_owned();
            let mut admin = sqlx::PgConnection::connect(&common::pg_admin_url())
                .await
                .unwrap();
            sqlx::query(&format!(
                "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
            ))
            .execute(&mut admin)
            .await
            .unwrap();
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            )
            .bind(&name)
            .execute(&mut admin)
            .await
            .unwrap();
            DbOutage::Postgres { admin, name }
        } else {
            let url = format!("sqlite://{}", dir.join("bourse.db").display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            // WAL readers cannot be locked out (every connection keeps a shared lock), so
            // the table the probe reads goes away: the app's queries on it fail.
            sqlx::query("ALTER TABLE _sqlx_migrations RENAME TO _sqlx_migrations_away")
                .execute(&mut conn)
                .await
                .unwrap();
            DbOutage::Sqlite(conn)
        }
    }

    async fn release(self) {
        match self {
            DbOutage::Sqlite(mut conn) => {
                sqlx::query("ALTER TABLE _sqlx_migrations_away RENAME TO _sqlx_migrations")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
            }
            DbOutage::Postgres { mut admin, name } => {
                sqlx::query(&format!(
                    "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
                ))
                .execute(&mut admin)
                .await
                .unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_degrades_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(fresh_checks(dir.path())).await;
    let c = Client::new(app.addr);
    assert_eq!(health(&c).await.1["status"], "healthy");

    let outage = DbOutage::begin(dir.path()).await;
    let h = eventually(Duration::from_secs(10), "database check fails", || async {
        let (s, h) = health(&c).await;
        (s == StatusCode::OK && h["status"] == "degraded").then_some(h)
    })
    .await;
    assert_eq!(h["checks"]["database"]["ok"], false, "{h}");
    assert!(
        ["unreachable", "timeout"].contains(&h["checks"]["database"]["detail"].as_str().unwrap()),
        "{h}"
    );
    // Trading is not the database: the journal and sequencer are still fine.
    assert_eq!(h["checks"]["journal"]["ok"], true, "{h}");

    outage.release().await;
    let h = eventually(
        Duration::from_secs(15),
        "database check recovers",
        || async {
            let (_, h) = health(&c).await;
            (h["status"] == "healthy").then_some(h)
        },
    )
    .await;
    assert_eq!(h["checks"]["database"]["ok"], true, "{h}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_probe_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fresh_checks(dir.path());
    cfg.health.cache_ms = 60_000;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let first = health(&c).await.1;
    assert_eq!(first["status"], "healthy");
    let outage = DbOutage::begin(dir.path()).await;
    // Within cache_ms the probe is not repeated: the same answer, same latency.
    for _ in 0..5 {
        let h = health(&c).await.1;
        assert_eq!(h["checks"]["database"], first["checks"]["database"], "{h}");
    }
    outage.release().await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_journal_is_unhealthy_until_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let fail = Arc::new(AtomicBool::new(false));
    let f = fail.clone();
    let options = StartOptions {
        journal_fault: Some(Box::new(move |op| {
            if f.load(Ordering::SeqCst) && op == IoOp::Sync {
                Err(std::io::Error::other("injected fsync failure"))
            } else {
                Ok(())
            }
        })),
    };
    let app = start_with(fresh_checks(dir.path()), options).await;
    let c = Client::new(app.addr);
    let admin = c.admin().await;
    assert_eq!(health(&c).await.1["checks"]["journal"]["ok"], true);
    fail.store(true, Ordering::SeqCst);
    let (s, _) = c
        .post(
            "/api/v1/admin/markets",
            Some(&admin),
            json!({"symbol": "BTC-USD", "base": "BTC", "quote": "USD", "tick_size": "0.01",
                   "lot_size": "0.0001", "min_notional": "1"}),
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, h) = health(&c).await;
    assert_eq!(
        (s, h["status"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unhealthy")),
        "{h}"
    );
    assert_eq!(
        h["checks"]["journal"],
        json!({"ok": false, "detail": "not writable"}),
        "{h}"
    );
    assert!(!h.to_string().contains("injected"), "{h}");
    app.shutdown().await;

    let app = start(fresh_checks(dir.path())).await;
    let (s, h) = health(&Client::new(app.addr)).await;
    assert_eq!(
        (s, h["status"].as_str()),
        (StatusCode::OK, Some("healthy")),
        "{h}"
    );
    assert_eq!(h["checks"]["journal"]["ok"], true, "{h}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_degrades() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fresh_checks(dir.path());
    cfg.limits.store = "redis://127.0.0.1:1".into();
    cfg.limits.redis_prefix = "bourse-test:health:".into();
    cfg.limits.redis_timeout_ms = 200;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let h = eventually(Duration::from_secs(10), "redis check fails", || async {
        let (s, h) = health(&c).await;
        (s == StatusCode::OK && h["checks"]["rate_limit_store"]["ok"] == false).then_some(h)
    })
    .await;
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(
        h["checks"]["rate_limit_store"]["detail"], "unreachable",
        "{h}"
    );
    app.shutdown().await;
}

/// A server process of this test's own (redis-server, nats-server) on a free port,
/// killed on drop.
struct Daemon(std::process::Child);

impl Daemon {
    fn spawn(program: &str, args: &[&str], port: u16) -> Self {
        let child = std::process::Command::new(program)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "{program} did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon(child)
    }

    fn stop(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_degrades_and_its_return_heals() {
    let port = free_port();
    let redis_args = [
        "--port",
        &port.to_string(),
        "--save",
        "",
        "--appendonly",
        "no",
    ];
    let redis = Daemon::spawn("redis-server", &redis_args, port);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fresh_checks(dir.path());
    cfg.limits.store = format!("redis://127.0.0.1:{port}");
    cfg.limits.redis_prefix = "bourse-test:health-back:".into();
    cfg.limits.redis_timeout_ms = 200;
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let state = |ok: bool, status: &'static str| {
        let c = &c;
        async move {
            eventually(Duration::from_secs(10), status, || async {
                let (_, h) = health(c).await;
                (h["checks"]["rate_limit_store"]["ok"] == ok && h["status"] == status).then_some(())
            })
            .await
        }
    };
    state(true, "healthy").await;
    redis.stop();
    state(false, "degraded").await;
    let _redis = Daemon::spawn("redis-server", &redis_args, port);
    state(true, "healthy").await;
    app.shutdown().await;
}

/// `--journal nats`: `checks.nats` follows the client's connection (a NATS server of the
/// test's own, stopped and started again on the same port and store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nats_journal_connection_is_checked() {
    let port = free_port();
    let store = tempfile::tempdir().unwrap();
    let nats_args = [
        "-js",
        "-a",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-sd",
        store.path().to_str().unwrap(),
    ];
    let nats = Daemon::spawn("nats-server", &nats_args, port);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fresh_checks(dir.path());
    cfg.journal = bourse::config::JournalKind::Nats;
    cfg.nats_url = format!("nats://127.0.0.1:{port}");
    let app = start(cfg).await;
    let c = Client::new(app.addr);
    let state = |ok: bool, status: &'static str| {
        let c = &c;
        async move {
            eventually(Duration::from_secs(15), status, || async {
                let (_, h) = health(c).await;
                (h["checks"]["nats"]["ok"] == ok && h["status"] == status).then_some(h)
            })
            .await
        }
    };
    state(true, "healthy").await;
    nats.stop();
    let h = state(false, "degraded").await;
    assert_eq!(h["checks"]["nats"]["detail"], "disconnected", "{h}");
    let _nats = Daemon::spawn("nats-server", &nats_args, port);
    state(true, "healthy").await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_little_free_disk_degrades_until_the_minimum_is_met() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fresh_checks(dir.path());
    // More than any disk has: the real free space is below it.
    cfg.health.min_free_disk_mb = u64::MAX / (1024 * 1024);
    let app = start(cfg).await;
    let (s, h) = health(&Client::new(app.addr)).await;
    assert_eq!(
        (s, h["status"].as_str()),
        (StatusCode::OK, Some("degraded")),
        "{h}"
    );
    let disk = &h["checks"]["disk"];
    assert_eq!(
        (disk["ok"].as_bool(), disk["detail"].as_str()),
        (Some(false), Some("below minimum")),
        "{h}"
    );
    assert!(disk["free_bytes"].as_u64().unwrap() < disk["min_free_bytes"].as_u64().unwrap());
    app.shutdown().await;

    let mut cfg = fresh_checks(dir.path());
    cfg.health.min_free_disk_mb = 1;
    let app = start(cfg).await;
    let (s, h) = health(&Client::new(app.addr)).await;
    assert_eq!(
        (s, h["status"].as_str()),
        (StatusCode::OK, Some("healthy")),
        "{h}"
    );
    assert_eq!(h["checks"]["disk"]["ok"], true, "{h}");
    app.shutdown().await;
}
