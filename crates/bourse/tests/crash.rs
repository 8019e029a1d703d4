//! Crash test (issue "Durability", Done-when): the real `bourse` binary, several
//! concurrent clients placing and cancelling orders, `kill -9` at random moments, restart.
//! After every restart:
//! - every order that got a 2xx is there, in the acknowledged state or a later one
//!   (terminal states exactly as acknowledged, filled quantity never lower);
//! - an offline `bourse verify` of the journal (run while the server is down) gives the
//!   state hash and journal position the restarted server reports, and both say the
//!   ledger invariants hold.
//!
//! Even rounds run `bourse verify` first (it opens the journal as the kill left it);
//! odd rounds restart the server first, after appending the start of a record that never
//! finished (what a kill in the middle of a batch write leaves), so the server's own
//! start-up cuts the torn tail; it is then stopped for `bourse verify`. At least
//! [`MIN_ACKED_ORDERS`] orders must be acknowledged over the default 5 rounds (rate
//! limits are off: they would cap the load, not test durability).
//!
//! Runs against SQLite and PostgreSQL (`BOURSE_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; a fresh database per run, dropped after; an
//! unreachable server fails the test). Rounds: `BOURSE_CRASH_ROUNDS` (default 5).

mod common;

use common::{Client, ADMIN_PASSWORD};
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TRADERS: usize = 4;
const CLIENTS: usize = 6;
/// "A few thousand orders" (issue Durability), over the default 5 rounds.
const MIN_ACKED_ORDERS: usize = 2000;

struct Server {
    child: Child,
    addr: String,
}

fn bourse() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bourse"))
}

fn spawn(data_dir: &Path, db_url: &str) -> Server {
    let config = data_dir.join("crash.toml");
    std::fs::write(&config, "[limits]\nenabled = false\n").unwrap();
    let mut child = bourse()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--snapshot-every",
            "700",
        ])
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--database-url", db_url])
        .env("BOURSE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("bourse starts");
    let addr = common::listening_addr(child.stdout.take().unwrap(), Duration::from_secs(60))
        .expect("the server prints `listening on ADDR`");
    Server { child, addr }
}

impl Server {
    fn kill9(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

/// The last segment of the journal and its length.
fn last_segment(data_dir: &Path) -> (PathBuf, u64) {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(data_dir.join("journal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "journal"))
        .collect();
    segs.sort();
    let seg = segs.pop().expect("a journal segment");
    let len = std::fs::metadata(&seg).unwrap().len();
    (seg, len)
}

/// Appends what a kill in the middle of writing the next record leaves: its 16-byte
/// header (CRC32C, length, sequence; see `bourse_journal`'s file format) and part of
/// its payload. Returns the segment and the end of its last complete record, where the
/// server must cut it (the kill itself may already have left part of a batch: a write
/// stops early when the process gets SIGKILL).
fn tear_tail(data_dir: &Path) -> (PathBuf, u64) {
    let (seg, _) = last_segment(data_dir);
    let bytes = std::fs::read(&seg).unwrap();
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let (mut pos, mut next_seq) = (24, u64_at(12));
    while pos + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        if pos + 16 + len > bytes.len() {
            break;
        }
        next_seq = u64_at(pos + 8) + 1;
        pos += 16 + len;
    }
    let mut torn = vec![0x11; 4];
    torn.extend_from_slice(&60u32.to_le_bytes());
    torn.extend_from_slice(&next_seq.to_le_bytes());
    torn.extend_from_slice(&[0x22; 25]);
    let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
    std::io::Write::write_all(&mut f, &torn).unwrap();
    (seg, pos as u64)
}

/// The restarted server's view: core state (checked against itself) and every
/// acknowledged order.
async fn check_live(
    s: &Server,
    tokens: &[String],
    acked: &Mutex<HashMap<u64, Acked>>,
) -> (Value, usize) {
    let c = Client::new(&s.addr);
    let admin = c.login("admin", ADMIN_PASSWORD).await;
    let (st, live) = c.get("/api/v1/admin/state", Some(&admin)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(live["invariants"], "ok", "{live}");
    let snapshot = acked.lock().unwrap().clone();
    check_acked(&c, tokens, &snapshot).await;
    (live, snapshot.len())
}

fn verify(data_dir: &Path) -> Value {
    let out = bourse()
        .arg("verify")
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What a client was told about an order.
#[derive(Debug, Clone)]
struct Acked {
    trader: usize,
    status: String,
    filled: String,
}

fn terminal(s: &str) -> bool {
    matches!(s, "filled" | "canceled" | "expired" | "rejected")
}

/// `0.1234` on the lot grid → lots, for comparing filled quantities.
fn lots(s: &str) -> u64 {
    bourse_model::parse_units(s, 4).unwrap()
}

async fn check_acked(c: &Client, tokens: &[String], acked: &HashMap<u64, Acked>) {
    let mut seen: HashMap<u64, Value> = HashMap::new();
    for t in tokens {
        let mut before: Option<u64> = None;
        loop {
            let path = match before {
                Some(b) => format!("/api/v1/orders?limit=1000&before={b}"),
                None => "/api/v1/orders?limit=1000".to_owned(),
            };
            let (s, page) = c.get(&path, Some(t)).await;
            assert_eq!(s, StatusCode::OK, "{page}");
            for o in page["orders"].as_array().unwrap() {
                seen.insert(o["id"].as_u64().unwrap(), o.clone());
            }
            match page["next_cursor"].as_u64() {
                Some(n) => before = Some(n),
                None => break,
            }
        }
    }
    for (id, a) in acked {
        let o = seen
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged order {id} is missing"));
        let status = o["status"].as_str().unwrap();
        let filled = o["filled_quantity"].as_str().unwrap();
        if terminal(&a.status) {
            assert_eq!(
                (status, filled),
                (a.status.as_str(), a.filled.as_str()),
                "order {id}"
            );
        } else {
            assert!(
                lots(filled) >= lots(&a.filled),
                "order {id}: filled went back: {a:?} → {o}"
            );
        }
    }
    // And the live view agrees for a sample (core for open orders, store for closed).
    for (id, a) in acked.iter().take(50) {
        let (s, o) = c
            .get(&format!("/api/v1/orders/{id}"), Some(&tokens[a.trader]))
            .await;
        assert_eq!(s, StatusCode::OK, "{o}");
        assert_eq!(o["status"], seen[id]["status"], "order {id}");
    }
}

/// One client: random limit orders around 100 and some cancels, until the server dies
/// or the deadline passes.
async fn client_loop(
    c: Client,
    tokens: Arc<Vec<String>>,
    acked: Arc<Mutex<HashMap<u64, Acked>>>,
    seed: u64,
    deadline: Instant,
) -> usize {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut mine: Vec<(u64, usize)> = Vec::new();
    let mut n = 0;
    while Instant::now() < deadline {
        let trader = rng.gen_range(0..TRADERS);
        let result = if !mine.is_empty() && rng.gen_bool(0.2) {
            let (id, trader) = mine.swap_remove(rng.gen_range(0..mine.len()));
            c.try_call(
                Method::DELETE,
                &format!("/api/v1/orders/{id}"),
                Some(&tokens[trader]),
                None,
            )
            .await
            .map(|r| (r, trader))
        } else {
            let side = if rng.gen_bool(0.5) { "buy" } else { "sell" };
            let price = format!("{}.{:02}", rng.gen_range(98..102), rng.gen_range(0..100));
            let qty = format!("0.{:04}", rng.gen_range(100..5000));
            let body = json!({"market": "BTC-USD", "side": side, "type": "limit", "price": price, "quantity": qty});
            c.try_call(
                Method::POST,
                "/api/v1/orders",
                Some(&tokens[trader]),
                Some(&body),
            )
            .await
            .map(|r| (r, trader))
        };
        let Ok(((status, o), trader)) = result else {
            break; // the server is gone
        };
        if status.is_success() {
            let id = o["id"].as_u64().unwrap();
            let a = Acked {
                trader,
                status: o["status"].as_str().unwrap().to_owned(),
                filled: o["filled_quantity"].as_str().unwrap().to_owned(),
            };
            if !terminal(&a.status) {
                mine.push((id, trader));
            }
            acked.lock().unwrap().insert(id, a);
            n += 1;
        } else {
            assert!(status.is_client_error(), "{status}: {o}");
        }
    }
    n
}

async fn crash_rounds(db_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let rounds: usize = std::env::var("BOURSE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let seed: u64 = std::env::var("BOURSE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test: {rounds} rounds, seed {seed} (BOURSE_CRASH_SEED), db {db_url}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let server = spawn(dir.path(), db_url);
    let c = Client::new(&server.addr);
    let admin = c.admin().await;
    c.create_btc_usd(&admin).await;
    let mut tokens = Vec::new();
    for i in 0..TRADERS {
        let name = format!("trader{i}");
        tokens.push(c.trader(&name).await);
        c.deposit(&admin, &name, "USD", "100000000").await;
        c.deposit(&admin, &name, "BTC", "1000000").await;
    }
    let tokens = Arc::new(tokens);
    let acked: Arc<Mutex<HashMap<u64, Acked>>> = Arc::default();
    let mut server = Some(server);
    let mut total = 0;
    for round in 0..rounds {
        let s = server.take().unwrap();
        let c = Client::new(&s.addr);
        // The clients run until the kill; the deadline only bounds a hung server.
        let deadline = Instant::now() + Duration::from_secs(120);
        let floor = acked.lock().unwrap().len() + MIN_ACKED_ORDERS.div_ceil(5);
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|i| {
                tokio::spawn(client_loop(
                    c.clone(),
                    tokens.clone(),
                    acked.clone(),
                    seed ^ ((round * CLIENTS + i) as u64 + 1),
                    deadline,
                ))
            })
            .collect();
        // Kill at a random moment, but only once this round has its share of the load,
        // so a run of early kills cannot leave the test short of orders.
        while acked.lock().unwrap().len() < floor {
            assert!(
                Instant::now() < deadline,
                "round {round}: the clients got too few orders through"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..1500))).await;
        s.kill9();
        for t in tasks {
            total += t.await.unwrap();
        }

        let (offline, live, s) = if round % 2 == 0 {
            let offline = verify(dir.path());
            let s = spawn(dir.path(), db_url);
            let (live, _) = check_live(&s, &tokens, &acked).await;
            (offline, live, s)
        } else {
            let (seg, complete) = tear_tail(dir.path());
            let s = spawn(dir.path(), db_url);
            assert_eq!(
                last_segment(dir.path()),
                (seg, complete),
                "round {round}: the server cut the torn tail"
            );
            let (live, _) = check_live(&s, &tokens, &acked).await;
            s.kill9(); // idle: `bourse verify` needs the journal's lock
            let offline = verify(dir.path());
            let s = spawn(dir.path(), db_url);
            let (again, _) = check_live(&s, &tokens, &acked).await;
            assert_eq!(
                again, live,
                "round {round}: an idle restart changes nothing"
            );
            (offline, live, s)
        };
        assert_eq!(offline["invariants"], "ok", "{offline}");
        assert_eq!(live["last_seq"], offline["last_seq"], "round {round}");
        assert_eq!(live["state_hash"], offline["state_hash"], "round {round}");
        eprintln!(
            "round {round}: {} acknowledged orders so far, journal at {}",
            acked.lock().unwrap().len(),
            live["last_seq"]
        );
        server = Some(s);
    }
    server.take().unwrap().kill9();
    let orders = acked.lock().unwrap().len();
    eprintln!("{total} requests acknowledged, {orders} of them new orders");
    if rounds >= 5 {
        assert!(
            orders >= MIN_ACKED_ORDERS,
            "only {orders} orders were acknowledged: the test drove too little"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_recovery_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("read.db").display());
    crash_rounds(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_recovery_postgres() {
    common::with_fresh_pg(
        "bourse_crash",
        |url| async move { crash_rounds(&url).await },
    )
    .await;
}
