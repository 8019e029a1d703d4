//! Automatic failover (issue #15): two real `bourse` processes, an active and a
//! `--standby`, on a 3-node JetStream cluster of real `nats-server`s (see
//! `cluster/harness.rs`), with a short lease TTL.
//!
//! Each round: concurrent clients place orders against the active; the active is killed
//! (SIGKILL) at a random moment; the standby must serve writes within TTL + 10 s (the
//! measured time is printed); every order answered 2xx is open on the new active; an
//! offline `bourse verify` of the stream lands on the new active's state hash; the killed
//! node is restarted as the new standby. `BOURSE_FAILOVER_ROUNDS` rounds (default 3).
//!
//! Also: a standby refuses writes with 503 `NOT_LEADER` naming the active's advertised URL,
//! and answers reads from its own state; an active paused (SIGSTOP) past its lease is
//! deposed by the standby, refuses what it was sent meanwhile and exits non-zero when it
//! resumes, naming the new leader.

mod common;
// Not every helper of the harness is used here (node restarts are the cluster suite's).
#[allow(dead_code)]
#[path = "cluster/harness.rs"]
mod harness;

use common::{code, Client, ADMIN_PASSWORD};
use harness::NatsCluster;
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STREAM: &str = "BOURSE_FAILOVER";
const TTL: Duration = Duration::from_millis(2000);
const CLIENTS: usize = 4;

/// A running `bourse serve`, killed (SIGKILL) on drop.
struct Node {
    child: Child,
    client: Client,
    name: &'static str,
    /// Everything it wrote to stderr (also echoed to the test's stderr).
    stderr: Arc<Mutex<String>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bourse() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bourse"))
}

fn write_config(data_dir: &Path, nats: &str) -> std::path::PathBuf {
    let config = data_dir.join("test.toml");
    std::fs::write(
        &config,
        format!(
            "server_key = \"{}\"\n[limits]\nenabled = false\n[nats]\n{nats}\n",
            "ab".repeat(32)
        ),
    )
    .unwrap();
    config
}

fn nats_settings(name: &str) -> String {
    format!(
        "timeout_ms = 1000\nretry_ms = 15000\nlease_ttl_ms = {}\n\
         advertise_url = \"http://{name}.test:8080\"",
        TTL.as_millis()
    )
}

/// `bourse serve` of node `name` (an active, or a standby), once it prints its address.
fn serve(data_dir: &Path, url: &str, name: &'static str, standby: bool) -> Node {
    let config = write_config(data_dir, &nats_settings(name));
    let mut cmd = bourse();
    cmd.arg("serve")
        .arg("--config")
        .arg(&config)
        .args(["--listen", "127.0.0.1:0", "--journal", "nats"])
        .args(["--nats-url", url, "--nats-stream", STREAM])
        .arg("--data-dir")
        .arg(data_dir)
        .env("BOURSE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn,tower_http=off");
    if standby {
        cmd.arg("--standby");
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bourse starts");
    let stderr = Arc::new(Mutex::new(String::new()));
    let (err, buf) = (child.stderr.take().unwrap(), stderr.clone());
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("{line}");
            buf.lock().unwrap().push_str(&line);
            buf.lock().unwrap().push('\n');
        }
    });
    let addr = common::listening_addr(child.stdout.take().unwrap(), Duration::from_secs(90))
        .expect("the server prints `listening on ADDR`");
    Node {
        child,
        client: Client::new(addr),
        name,
        stderr,
    }
}

fn order(price: u64) -> Value {
    json!({"market": "BTC-USD", "side": "buy", "type": "limit", "price": price.to_string(),
           "quantity": "0.1"})
}

async fn open_order_ids(c: &Client, token: &str) -> Vec<u64> {
    let (s, v) = c.get("/api/v1/orders?limit=1000", Some(token)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let list = v
        .as_array()
        .or_else(|| v["orders"].as_array())
        .cloned()
        .unwrap_or_default();
    let mut ids: Vec<u64> = list.iter().filter_map(|o| o["id"].as_u64()).collect();
    ids.sort_unstable();
    ids
}

async fn state(c: &Client) -> Value {
    let admin = c.admin().await;
    let (s, v) = c.get("/api/v1/admin/state", Some(&admin)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// An offline replay of the stream (`bourse verify`), retried: right after a failover a
/// replica may still be catching up and time the tool out.
fn verify(url: &str) -> Value {
    let scratch = tempfile::tempdir().unwrap();
    let config = write_config(scratch.path(), "");
    for attempt in 1.. {
        let out = bourse()
            .arg("verify")
            .arg("--config")
            .arg(&config)
            .args([
                "--journal",
                "nats",
                "--nats-url",
                url,
                "--nats-stream",
                STREAM,
            ])
            .arg("--data-dir")
            .arg(scratch.path())
            .output()
            .unwrap();
        if out.status.success() {
            return serde_json::from_slice(&out.stdout).unwrap();
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            attempt < 3,
            "bourse verify failed {attempt} times: {stderr}"
        );
        eprintln!("bourse verify failed (attempt {attempt}), retrying: {stderr}");
    }
    unreachable!()
}

/// Clients placing resting buys on `c` until `stop`; the ids answered 201, per trader.
async fn load(c: Client, token: String, stop: Arc<AtomicBool>, acked: Arc<Mutex<Vec<u64>>>) {
    let mut i = 0u64;
    while !stop.load(Ordering::Acquire) {
        i += 1;
        let body = order(50 + i % 20);
        match c
            .try_call(Method::POST, "/api/v1/orders", Some(&token), Some(&body))
            .await
        {
            Ok((s, v)) if s.is_success() => {
                assert_eq!(s, StatusCode::CREATED, "{v}");
                acked.lock().unwrap().push(v["id"].as_u64().unwrap());
            }
            // Refused (the lease lapsing under a stalled renewal): nothing acknowledged.
            Ok((s, v)) => {
                assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // The active was killed: its in-flight requests get no answer.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Places orders on `c` until one is acknowledged: how long that took.
async fn first_write(c: &Client, token: &str, since: Instant, bound: Duration) -> u64 {
    loop {
        let r = c
            .try_call(
                Method::POST,
                "/api/v1/orders",
                Some(token),
                Some(&order(45)),
            )
            .await;
        match r {
            Ok((StatusCode::CREATED, v)) => return v["id"].as_u64().unwrap(),
            Ok((s, v)) => {
                assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
                assert!(
                    matches!(code(&v), "NOT_LEADER" | "JOURNAL_UNAVAILABLE"),
                    "{v}"
                );
            }
            Err(e) => panic!("the standby stopped answering: {e}"),
        }
        assert!(
            since.elapsed() < bound,
            "the standby did not take over within {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_standby_takes_over_from_a_killed_active_and_nothing_acknowledged_is_lost() {
    let rounds: usize = std::env::var("BOURSE_FAILOVER_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let cluster = NatsCluster::start().await;
    let url = cluster.url();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let names = ["node-a", "node-b"];

    let mut active = serve(dirs[0].path(), &url, names[0], false);
    let admin = active.client.admin().await;
    active.client.create_btc_usd(&admin).await;
    let mut standby = serve(dirs[1].path(), &url, names[1], true);

    // A standby answers reads from its own state and points writes at the leader.
    active.client.trader("probe").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let probe_b = loop {
        let r = standby
            .client
            .try_call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(&json!({"username": "probe", "password": "password123"})),
            )
            .await
            .unwrap();
        if r.0 == StatusCode::OK {
            break r.1["token"].as_str().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the standby never saw the user: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (s, v) = standby
        .client
        .post("/api/v1/orders", Some(&probe_b), order(40))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "NOT_LEADER"),
        "{v}"
    );
    assert!(
        v.to_string().contains("http://node-a.test:8080"),
        "names the leader: {v}"
    );
    let (s, v) = standby.client.get("/api/v1/markets", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v.to_string().contains("BTC-USD"), "{v}");
    let (s, v) = standby.client.get("/health", None).await;
    assert_eq!((s, &v["follower"]), (StatusCode::OK, &json!(true)), "{v}");

    let mut times = Vec::new();
    let mut rng = rand::thread_rng();
    for round in 0..rounds {
        // Traders of this round, funded on the active.
        let admin = active.client.admin().await;
        let mut traders = Vec::new();
        for k in 0..CLIENTS {
            let name = format!("r{round}t{k}");
            let token = active.client.trader(&name).await;
            active
                .client
                .deposit(&admin, &name, "USD", "10000000")
                .await;
            traders.push((name, token));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let acked: Vec<_> = (0..CLIENTS)
            .map(|_| Arc::new(Mutex::new(Vec::new())))
            .collect();
        let tasks: Vec<_> = traders
            .iter()
            .zip(&acked)
            .map(|((_, token), acked)| {
                tokio::spawn(load(
                    active.client.clone(),
                    token.clone(),
                    stop.clone(),
                    acked.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..2000))).await;
        active.child.kill().unwrap();
        let killed = Instant::now();
        let _ = active.child.wait();
        stop.store(true, Ordering::Release);
        for t in tasks {
            t.await.unwrap();
        }

        // The standby takes over by itself.
        let c = standby.client.clone();
        let token = c.login(&traders[0].0, "password123").await;
        let bound = TTL + Duration::from_secs(10);
        let first = first_write(&c, &token, killed, bound).await;
        let took = killed.elapsed();
        eprintln!(
            "round {round}: {} served writes {took:?} after the kill",
            standby.name
        );
        times.push(took);

        // Every acknowledged order is there.
        let mut total = 0;
        for ((name, _), acked) in traders.iter().zip(&acked) {
            let token = c.login(name, "password123").await;
            let open = open_order_ids(&c, &token).await;
            let acked = acked.lock().unwrap().clone();
            total += acked.len();
            for id in &acked {
                assert!(
                    open.contains(id),
                    "round {round}: acknowledged order {id} of {name} missing"
                );
            }
        }
        assert!(
            total > 0,
            "round {round}: no order was acknowledged before the kill"
        );
        let open = open_order_ids(&c, &token).await;
        assert!(open.contains(&first));

        // The stream replayed offline lands on the new active's state.
        let want = state(&c).await;
        let offline = verify(&url);
        assert_eq!(offline["last_seq"], want["last_seq"], "round {round}");
        assert_eq!(offline["state_hash"], want["state_hash"], "round {round}");
        eprintln!(
            "round {round}: {total} acknowledged orders kept, state {} at {}",
            want["state_hash"], want["last_seq"]
        );

        // The killed node comes back as the new standby.
        let i = names.iter().position(|n| *n == active.name).unwrap();
        let restarted = serve(dirs[i].path(), &url, names[i], true);
        active = std::mem::replace(&mut standby, restarted);
    }
    let max = times.iter().max().unwrap();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    eprintln!("failover over {rounds} round(s), ttl {TTL:?}: mean {mean:?}, max {max:?}");
    drop(cluster);
}

/// A paused active (SIGSTOP: as if cut off) loses the lease to the standby; resumed, it
/// refuses what it was sent meanwhile, finds itself deposed and exits non-zero, and the
/// new active has everything that was acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_active_is_deposed_by_the_standby_and_exits_when_it_resumes() {
    let cluster = NatsCluster::start().await;
    let url = cluster.url();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut a = serve(dirs[0].path(), &url, "node-a", false);
    let admin = a.client.admin().await;
    a.client.create_btc_usd(&admin).await;
    let b = serve(dirs[1].path(), &url, "node-b", true);
    let token = a.client.trader("trader1").await;
    a.client.deposit(&admin, "trader1", "USD", "1000000").await;
    let mut acked = Vec::new();
    for i in 0..10 {
        let (s, v) = a
            .client
            .post("/api/v1/orders", Some(&token), order(50 + i))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        acked.push(v["id"].as_u64().unwrap());
    }

    let pid = a.child.id().to_string();
    let signal = |sig: &str| {
        let ok = Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(ok.success(), "kill {sig}");
    };
    signal("-STOP");
    let paused = Instant::now();
    // An order sent to the paused active: it waits in the kernel's backlog.
    let late = {
        let (c, t) = (a.client.clone(), token.clone());
        tokio::spawn(async move {
            c.try_call(Method::POST, "/api/v1/orders", Some(&t), Some(&order(41)))
                .await
        })
    };
    let tb = b.client.login("trader1", "password123").await;
    let first = first_write(&b.client, &tb, paused, TTL + Duration::from_secs(10)).await;
    eprintln!(
        "the standby took over {:?} after the active was paused",
        paused.elapsed()
    );
    acked.push(first);
    signal("-CONT");

    // Resumed: its lease is gone (its own clock says so) and the key names node-b.
    if let Ok((s, v)) = late.await.unwrap() {
        assert!(
            !s.is_success(),
            "a deposed active acknowledged an order: {v}"
        );
        assert_eq!(code(&v), "NOT_LEADER", "{v}");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = a.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the deposed active did not exit");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success(), "{status:?}");
    let err = a.stderr.lock().unwrap().clone();
    assert!(
        err.contains("deposed")
            && err.contains("http://node-b.test:8080")
            && err.contains("--standby"),
        "{err}"
    );

    // The new active has every acknowledged order (and nothing the old one refused).
    let open = open_order_ids(&b.client, &tb).await;
    acked.sort_unstable();
    assert_eq!(open, acked);
    let want = state(&b.client).await;
    let offline = verify(&url);
    assert_eq!(offline["state_hash"], want["state_hash"]);
    drop(cluster);
}
