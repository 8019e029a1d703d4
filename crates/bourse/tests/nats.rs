//! NATS JetStream journal through the real binary (issue "Durability"): a leader
//! (`--journal nats`) and a hot standby (`--journal nats --follow`), each with its own
//! data dir and SQLite read models, on one stream of the NATS server at
//! `BOURSE_TEST_NATS_URL` (default `nats://127.0.0.1:4222`; unreachable fails the test).
//!
//! Checks:
//! - the follower replays what the leader wrote and reaches the same state hash at the
//!   same sequence, its read models answer like the leader's, and so does an offline
//!   `bourse verify` of the stream;
//! - writes to the follower are refused with 405 `READ_ONLY` (logins, which only read,
//!   still work);
//! - it stays in sync while the leader takes new commands;
//! - a leader killed with `kill -9` and restarted continues the sequence where the
//!   stream ends, and the follower follows across the restart.
//!
//! Each run uses its own stream (`BOURSE_TEST_…`), deleted afterwards.

mod common;

use bourse_journal::{NatsConfig, NatsJournal};
use common::{code, Client, ADMIN_PASSWORD};
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TRADERS: usize = 3;

fn nats_url() -> String {
    std::env::var("BOURSE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// The test's stream; deleted on drop, even when the test fails.
struct Stream {
    name: String,
}

impl Stream {
    fn config(name: &str) -> NatsConfig {
        let mut c = NatsConfig::new(nats_url());
        c.stream = name.to_owned();
        // What `bourse` derives for a non-default stream name.
        c.subject = format!("bourse.journal.{name}");
        c
    }

    /// Creates the stream (proving NATS is reachable) from a plain thread, as the
    /// journal requires.
    fn create() -> Self {
        let name = format!("BOURSE_TEST_{:08x}", rand::random::<u32>());
        let cfg = Self::config(&name);
        std::thread::spawn(move || NatsJournal::connect(cfg).map(drop))
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("NATS at {} is required: {e}", nats_url()));
        Stream { name }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let cfg = Self::config(&self.name);
        let deleted = std::thread::spawn(move || NatsJournal::connect(cfg)?.delete_stream())
            .join()
            .unwrap();
        if let Err(e) = deleted {
            eprintln!("could not delete stream {}: {e}", self.name);
        }
    }
}

/// A running `bourse serve`, killed (SIGKILL) on drop.
struct Server {
    child: Child,
    client: Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bourse() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bourse"))
}

fn nats_args<'a>(stream: &'a Stream, url: &'a str) -> [&'a str; 6] {
    [
        "--journal",
        "nats",
        "--nats-url",
        url,
        "--nats-stream",
        &stream.name,
    ]
}

fn serve(data_dir: &Path, stream: &Stream, follow: bool) -> Server {
    let url = nats_url();
    // This test drives one client fast; per-user rate limits are not what it checks.
    // Leader and standby share the server key, as in a deployment: a session token
    // stays valid across a failover.
    let config = data_dir.join("test.toml");
    std::fs::write(
        &config,
        format!(
            "server_key = \"{}\"\n[limits]\nenabled = false\n",
            "ab".repeat(32)
        ),
    )
    .unwrap();
    let mut cmd = bourse();
    cmd.arg("serve").arg("--config").arg(&config);
    cmd.args(["--listen", "127.0.0.1:0", "--snapshot-every", "150"])
        .args(nats_args(stream, &url))
        .arg("--data-dir")
        .arg(data_dir)
        .env("BOURSE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if follow {
        cmd.arg("--follow");
    }
    let mut child = cmd.spawn().expect("bourse starts");
    let addr = common::listening_addr(child.stdout.take().unwrap(), Duration::from_secs(60))
        .expect("the server prints `listening on ADDR`");
    Server {
        child,
        client: Client::new(addr),
    }
}

/// `bourse verify` of the stream (offline replay into a fresh core).
fn verify(stream: &Stream) -> Value {
    let scratch = tempfile::tempdir().unwrap();
    let url = nats_url();
    let out = bourse()
        .arg("verify")
        .args(nats_args(stream, &url))
        .arg("--data-dir")
        .arg(scratch.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn state(c: &Client) -> Value {
    let admin = c.admin().await;
    let (s, v) = c.get("/api/v1/admin/state", Some(&admin)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["invariants"], "ok", "{v}");
    v
}

/// Waits until the follower has applied the leader's last command, then checks both
/// report the same state hash there.
async fn assert_in_sync(leader: &Client, follower: &Client) -> Value {
    let want = state(leader).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = state(follower).await;
        if got["last_seq"] == want["last_seq"] {
            assert_eq!(
                got["state_hash"], want["state_hash"],
                "at {}",
                want["last_seq"]
            );
            assert_eq!(got["open_orders"], want["open_orders"]);
            return want;
        }
        assert!(
            got["last_seq"].as_u64() < want["last_seq"].as_u64(),
            "follower ahead of the leader: {got} vs {want}"
        );
        assert!(
            Instant::now() < deadline,
            "follower stuck at {} (leader at {})",
            got["last_seq"],
            want["last_seq"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A trader's orders and balances as the read side answers them (the follower's own
/// read models, projected from the replicated journal).
async fn account_view(c: &Client, trader: &str) -> (Value, Value) {
    let token = c.login(trader, "password123").await;
    let (s, orders) = c.get("/api/v1/orders?limit=1000", Some(&token)).await;
    assert_eq!(s, StatusCode::OK, "{orders}");
    (orders, c.balances(&token).await)
}

/// `n` random orders (limits around 100, some market orders, some cancels).
async fn trade(c: &Client, rng: &mut rand::rngs::StdRng, n: usize) {
    let mut tokens = Vec::new();
    for i in 0..TRADERS {
        tokens.push(c.login(&format!("trader{i}"), "password123").await);
    }
    let mut open: Vec<(u64, usize)> = Vec::new();
    for _ in 0..n {
        let t = rng.gen_range(0..TRADERS);
        if !open.is_empty() && rng.gen_bool(0.15) {
            let (id, t) = open.swap_remove(rng.gen_range(0..open.len()));
            let (s, v) = c
                .delete(&format!("/api/v1/orders/{id}"), Some(&tokens[t]))
                .await;
            assert!(s.is_success() || s == StatusCode::NOT_FOUND, "{s}: {v}");
            continue;
        }
        let side = if rng.gen_bool(0.5) { "buy" } else { "sell" };
        // At least 0.02 BTC: above the 1 USD minimum notional at any price used here.
        let qty = format!("0.{:04}", rng.gen_range(200..3000));
        let body = if rng.gen_bool(0.1) {
            json!({"market": "BTC-USD", "side": side, "type": "market", "quantity": qty})
        } else {
            let price = format!("{}.{:02}", rng.gen_range(98..102), rng.gen_range(0..100));
            json!({"market": "BTC-USD", "side": side, "type": "limit", "price": price,
                   "quantity": qty})
        };
        let (s, o) = c.post("/api/v1/orders", Some(&tokens[t]), body).await;
        assert!(s.is_success(), "{s}: {o}");
        if matches!(o["status"].as_str(), Some("open" | "partially_filled")) {
            open.push((o["id"].as_u64().unwrap(), t));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_leader_and_follower() {
    let stream = Stream::create();
    let seed: u64 = std::env::var("BOURSE_NATS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("nats test: stream {}, seed {seed}", stream.name);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let leader_dir = tempfile::tempdir().unwrap();
    let follower_dir = tempfile::tempdir().unwrap();

    let leader = serve(leader_dir.path(), &stream, false);
    let l = leader.client.clone();
    let admin = l.admin().await;
    l.create_btc_usd(&admin).await;
    for i in 0..TRADERS {
        let name = format!("trader{i}");
        l.trader(&name).await;
        l.deposit(&admin, &name, "USD", "10000000").await;
        l.deposit(&admin, &name, "BTC", "100000").await;
    }
    trade(&l, &mut rng, 300).await;

    // A follower started after the fact replays the stream and lands on the same state.
    let follower = serve(follower_dir.path(), &stream, true);
    let f = follower.client.clone();
    let at = assert_in_sync(&l, &f).await;
    let offline = verify(&stream);
    assert_eq!(offline["last_seq"], at["last_seq"]);
    assert_eq!(offline["state_hash"], at["state_hash"]);
    for i in 0..TRADERS {
        let name = format!("trader{i}");
        assert_eq!(account_view(&f, &name).await, account_view(&l, &name).await);
    }

    // Writes to the follower are refused; its state does not move.
    let ft = f.login("trader0", "password123").await;
    let (s, v) = f
        .post(
            "/api/v1/orders",
            Some(&ft),
            json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": "99",
                   "quantity": "0.01"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::METHOD_NOT_ALLOWED, "READ_ONLY"));
    let (s, v) = f
        .post(
            "/api/v1/auth/register",
            None,
            json!({"username": "newbie", "password": "password123"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::METHOD_NOT_ALLOWED, "READ_ONLY"));
    let fadmin = f.admin().await;
    let (s, v) = f
        .post(
            "/api/v1/admin/deposits",
            Some(&fadmin),
            json!({"username": "trader0", "asset": "USD", "amount": "1"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::METHOD_NOT_ALLOWED, "READ_ONLY"));
    assert_eq!(state(&f).await["last_seq"], at["last_seq"]);

    // A logout on the leader reaches the follower with the journal.
    let session = l.login("trader1", "password123").await;
    let (s, v) = f.get("/api/v1/auth/me", Some(&session)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = l
        .call(Method::POST, "/api/v1/auth/logout", Some(&session), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_in_sync(&l, &f).await;
    let (s, v) = f.get("/api/v1/auth/me", Some(&session)).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "TOKEN_REVOKED"));

    // Live: it keeps up with new commands while they arrive.
    trade(&l, &mut rng, 200).await;
    let at2 = assert_in_sync(&l, &f).await;
    assert!(at2["last_seq"].as_u64() > at["last_seq"].as_u64());

    // The leader dies hard and comes back: the sequence continues from the stream.
    drop(leader);
    let leader = serve(leader_dir.path(), &stream, false);
    let l = leader.client.clone();
    let back = state(&l).await;
    assert_eq!(back["last_seq"], at2["last_seq"], "{back}");
    assert_eq!(back["state_hash"], at2["state_hash"]);
    trade(&l, &mut rng, 100).await;
    let at3 = assert_in_sync(&l, &f).await;
    assert!(at3["last_seq"].as_u64() > at2["last_seq"].as_u64());
    let offline = verify(&stream);
    assert_eq!(offline["last_seq"], at3["last_seq"]);
    assert_eq!(offline["state_hash"], at3["state_hash"]);
    for i in 0..TRADERS {
        let name = format!("trader{i}");
        assert_eq!(account_view(&f, &name).await, account_view(&l, &name).await);
    }

    // A restarted follower resumes from its own snapshot/read models, still in sync.
    drop(follower);
    let follower = serve(follower_dir.path(), &stream, true);
    trade(&l, &mut rng, 50).await;
    assert_in_sync(&l, &follower.client).await;
    drop(follower);
    drop(leader);
}
