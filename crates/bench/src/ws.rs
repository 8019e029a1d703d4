//! `bourse-bench ws`: WebSocket fan-out under load.
//!
//! A server (loopback only, temp data dir, the default tokio runtime) gets one busy
//! market. N clients run in a child process (`bourse-bench ws-clients`, its own runtime),
//! as real subscribers would be outside the server's process: each connects with
//! `TCP_NODELAY` and subscribes to `book.BTC-USD` and `trades.BTC-USD`. A driver submits a
//! maker/taker pair per step at a fixed rate (each pair: two book updates and one trade).
//!
//! Reported: messages delivered per second (all clients), and trade-to-client latency —
//! from the moment the sequencer published the batch holding the trade to the moment a
//! client read the trades frame — p50/p99/max over every (trade, client) pair. The publish
//! time is taken by a plain thread blocked on the sequencer's broadcast (not a task of the
//! busy server runtime, which would see the batch late and flatter the number); the
//! receive time by the client task right after its read. Both are wall-clock
//! (`SystemTime`, one clock for both processes); the parent sends the publish times to the
//! child, which computes the histogram. Clients parse only what they need (trade ids).
//! With `BOURSE_WS_DEBUG` set, the child also prints each trade's spread over the
//! clients (min/p50/p99/max) to stderr.
//! Server and clients share the machine's cores: the client side's CPU (5k sockets read
//! and frames decoded) is part of what the numbers include.

use bourse::{Config, StartOptions};
use bourse_model::{
    Amount, AssetId, CommandKind, Event, FeeSchedule, MarketId, MarketSpec, NewOrder, Price, Qty,
    Role, Side, Symbol, TimeInForce, UserId,
};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

pub struct WsArgs {
    pub clients: Vec<usize>,
    pub seconds: f64,
    /// Maker/taker pairs per second.
    pub pairs_per_sec: u64,
    /// Bursts of the raw-TCP baseline ([`crate::ws_floor`]) per client count.
    pub floor_bursts: usize,
}

#[derive(Debug, serde::Serialize)]
pub struct WsResult {
    pub clients: usize,
    pub connected: usize,
    pub rate: u64,
    pub seconds: f64,
    pub trades: u64,
    pub messages: u64,
    pub messages_per_sec: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    pub latency_samples: u64,
    pub slow_consumers_closed: u64,
    /// CPU time of the server process (fan-out, connections, sequencer, driver) and of
    /// the client process during the measured seconds, per delivered message.
    pub server_cpu_us_per_msg: Option<f64>,
    pub clients_cpu_us_per_msg: Option<f64>,
    /// The same fan-out with nothing but TCP, measured just before (the baseline).
    pub floor: crate::ws_floor::Floor,
    /// `latency_p99_ms / floor.p99_ms`: what the WebSocket server adds.
    pub p99_vs_floor: f64,
}

/// What the client process reports at the end.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ClientsReport {
    connected: usize,
    messages: u64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
    samples: u64,
    cpu_us: Option<u64>,
}

/// This process's CPU time (user + system) in µs, where `/proc` tells it.
fn cpu_us() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime
    // and stime fields 14 and 15, in clock ticks (100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10_000)
}

/// Wall-clock nanoseconds: the one clock both processes read.
fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

pub(crate) fn spec() -> MarketSpec {
    MarketSpec {
        symbol: Symbol::new("BTC-USD").expect("symbol"),
        base: AssetId(0),
        quote: AssetId(1),
        base_scale: 8,
        quote_scale: 6,
        price_scale: 2,
        tick: 1,
        qty_scale: 4,
        lot: 1,
        min_qty: Qty(1),
        max_qty: Qty(1_000_000),
        min_notional: Amount(1),
        price_band_bps: 0,
        market_slippage_bps: 500,
        max_open_orders: 10_000,
        fees: [FeeSchedule {
            maker_bps: 10,
            taker_bps: 20,
        }; 3],
    }
}

/// Raises the open-files limit as far as allowed (each client and its server side is a
/// socket).
fn raise_fd_limit(want: u64) -> u64 {
    match rlimit::increase_nofile_limit(want) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("bourse-bench ws: cannot raise the open-files limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

pub fn run(args: &WsArgs) -> Result<Vec<WsResult>, String> {
    let max = args.clients.iter().copied().max().unwrap_or(0) as u64;
    // The raw-TCP baseline holds both ends of every connection in this process.
    let limit = raise_fd_limit(2 * max + 256);
    if limit < 2 * max + 64 {
        return Err(format!(
            "open-files limit {limit} is too low for {max} connections (need ~{})",
            2 * max + 64
        ));
    }
    // The server's runtime as `bourse` runs it: one worker per core.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut out = Vec::new();
        for &n in &args.clients {
            out.push(one(n, args).await?);
        }
        Ok(out)
    })
}

pub(crate) async fn submit(
    app: &bourse::RunningApp,
    kind: CommandKind,
) -> Result<Vec<Event>, String> {
    let a = app
        .state
        .seq
        .submit(kind)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(Event::Rejected { code, .. }) = a.events.first() {
        return Err(format!("setup command rejected: {code}"));
    }
    Ok(a.events)
}

pub(crate) fn order(user: u64, side: Side, price: u64, qty: u64, tif: TimeInForce) -> CommandKind {
    let mut o = NewOrder::limit(UserId(user), MarketId(0), side, Price(price), Qty(qty));
    o.tif = tif;
    CommandKind::PlaceOrder(Box::new(o))
}

async fn one(n: usize, args: &WsArgs) -> Result<WsResult, String> {
    // The baseline first, while nothing else of this run uses the cores.
    let bursts = args.floor_bursts;
    let floor = tokio::task::spawn_blocking(move || crate::ws_floor::measure(n, bursts))
        .await
        .map_err(|e| e.to_string())??;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::env::set_var("BOURSE_ADMIN_PASSWORD", "bench-admin-password");
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        snapshot_every: 0,
        ..Config::default()
    };
    config.limits.enabled = false;
    config.ws.max_connections_per_ip = n + 16;
    // Every subscriber is 127.0.0.1: one address may use every connection.
    config.http.max_connections = config.http.max_connections.max(n + 64);
    config.http.max_connections_per_ip = config.http.max_connections;
    let app = bourse::start(config, StartOptions::default())
        .await
        .map_err(|e| e.to_string())?;

    // Market, two users with funds, a 20-level book on each side.
    for (sym, scale) in [("BTC", 8u8), ("USD", 6)] {
        submit(
            &app,
            CommandKind::CreateAsset {
                symbol: Symbol::new(sym).expect("sym"),
                scale,
            },
        )
        .await?;
    }
    let events = submit(&app, CommandKind::CreateMarket(Box::new(spec()))).await?;
    let market = events
        .iter()
        .find_map(|e| match e {
            Event::MarketCreated { market, .. } => Some(*market),
            _ => None,
        })
        .ok_or("no market created")?;
    if market != MarketId(0) {
        return Err(format!("expected market 0, got {market}"));
    }
    let mut users = Vec::new();
    for name in ["maker", "taker"] {
        let ev = submit(
            &app,
            CommandKind::RegisterUser {
                username: name.into(),
                password_hash: "x".into(),
                role: Role::Trader,
            },
        )
        .await?;
        let user = ev
            .iter()
            .find_map(|e| match e {
                Event::UserRegistered { user, .. } => Some(*user),
                _ => None,
            })
            .ok_or("no user")?;
        for asset in [AssetId(0), AssetId(1)] {
            submit(
                &app,
                CommandKind::Deposit {
                    user,
                    asset,
                    amount: Amount(1 << 60),
                },
            )
            .await?;
        }
        users.push(user.0);
    }
    let (maker, taker) = (users[0], users[1]);
    for i in 0..20 {
        submit(
            &app,
            order(maker, Side::Sell, 10_000 + i, 2, TimeInForce::Gtc),
        )
        .await?;
        submit(
            &app,
            order(maker, Side::Buy, 9_990 - i, 2, TimeInForce::Gtc),
        )
        .await?;
    }

    // Clients, in their own process.
    let url = format!("ws://{}/ws", app.addr);
    let mut clients = ClientsProcess::spawn(&url, n)?;
    let connected = tokio::task::block_in_place(|| clients.wait_ready())?;
    // Let snapshots drain before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // When each trade was published: a thread blocked on the broadcast the fan-out reads.
    let published: Arc<Mutex<HashMap<u64, u64>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    {
        let mut feed = app.state.seq.subscribe();
        let (published, done) = (published.clone(), done.clone());
        std::thread::Builder::new()
            .name("ws-bench-publish".into())
            .spawn(move || {
                while let Ok(batch) = feed.blocking_recv() {
                    let now = now_ns();
                    if done.load(Ordering::Relaxed) {
                        return;
                    }
                    let mut p = published.lock().expect("published lock");
                    for c in &batch.commands {
                        for e in &c.events {
                            if let Event::Trade { id, .. } = e {
                                p.insert(id.0, now);
                            }
                        }
                    }
                }
            })
            .map_err(|e| e.to_string())?;
    }

    tokio::task::block_in_place(|| clients.command("start"))?;
    let cpu0 = cpu_us();
    let t0 = Instant::now();
    let period = Duration::from_secs_f64(1.0 / args.pairs_per_sec.max(1) as f64);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut step = 0u64;
    while t0.elapsed().as_secs_f64() < args.seconds {
        tick.tick().await;
        // A new ask behind the others, then a taker that lifts the best one.
        submit(
            &app,
            order(maker, Side::Sell, 10_000 + step % 20, 2, TimeInForce::Gtc),
        )
        .await?;
        submit(&app, order(taker, Side::Buy, 10_019, 2, TimeInForce::Ioc)).await?;
        step += 1;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    done.store(true, Ordering::Relaxed);
    let server_cpu = cpu_us().zip(cpu0).map(|(b, a)| b - a);
    let published = std::mem::take(&mut *published.lock().expect("published lock"));
    let trades = published.len() as u64;
    let report = tokio::task::block_in_place(|| clients.finish(&published))?;
    let slow = app.state.realtime.stats.snapshot().slow_consumers_closed;
    app.shutdown().await;
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(WsResult {
        clients: n,
        connected: connected.min(report.connected),
        rate: args.pairs_per_sec,
        seconds: elapsed,
        trades,
        messages: report.messages,
        messages_per_sec: report.messages as f64 / elapsed,
        latency_p50_ms: ms(report.p50_us),
        latency_p99_ms: ms(report.p99_us),
        latency_max_ms: ms(report.max_us),
        latency_samples: report.samples,
        slow_consumers_closed: slow,
        server_cpu_us_per_msg: server_cpu.map(|c| c as f64 / report.messages.max(1) as f64),
        clients_cpu_us_per_msg: report
            .cpu_us
            .map(|c| c as f64 / report.messages.max(1) as f64),
        p99_vs_floor: ms(report.p99_us) / floor.p99_ms.max(0.001),
        floor,
    })
}

/// The child process running the clients, driven over its stdin/stdout (one line each).
struct ClientsProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl ClientsProcess {
    fn spawn(url: &str, n: usize) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["ws-clients", "--url", url, "--n", &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the client process: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) => Err("the client process exited early".into()),
            Ok(_) => Ok(line.trim_end().to_owned()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Waits until the clients are connected and subscribed; how many are.
    fn wait_ready(&mut self) -> Result<usize, String> {
        let line = self.line()?;
        line.strip_prefix("ready ")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("unexpected line from the client process: {line:?}"))
    }

    fn command(&mut self, c: &str) -> Result<(), String> {
        writeln!(self.stdin, "{c}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("client process: {e}"))
    }

    /// Stops counting, sends the publish times, reads the report.
    fn finish(mut self, published: &HashMap<u64, u64>) -> Result<ClientsReport, String> {
        let mut buf = String::from("stop\n");
        for (id, at) in published {
            buf.push_str(&format!("p {id} {at}\n"));
        }
        buf.push_str("end\n");
        self.stdin
            .write_all(buf.as_bytes())
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("client process: {e}"))?;
        let line = self.line()?;
        let report = serde_json::from_str(&line)
            .map_err(|e| format!("client process report {line:?}: {e}"))?;
        let _ = self.child.wait();
        Ok(report)
    }
}

/// One client's count and trade receive times, read once at the end.
#[derive(Default)]
struct ClientLog {
    messages: u64,
    /// (trade id, receive time in ns)
    seen: Vec<(u64, u64)>,
}

/// `bourse-bench ws-clients`: the client side of `bourse-bench ws` (a child process).
///
/// Protocol on stdin/stdout: prints `ready N` once N clients are connected and have each
/// received their first frame; on `start` the message counts restart; on `stop` they
/// freeze; then `p ID NS` lines give each trade's publish time, and `end` makes it print
/// one JSON report and exit.
pub fn clients_main(url: &str, n: usize) -> Result<(), String> {
    let limit = raise_fd_limit(n as u64 + 256);
    if limit < n as u64 + 64 {
        return Err(format!(
            "open-files limit {limit} is too low for {n} clients"
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let logs: Vec<Arc<Mutex<ClientLog>>> = (0..n).map(|_| Arc::default()).collect();
    let ready = Arc::new(AtomicUsize::new(0));
    let connected = rt.block_on(connect_all(url, &logs, &ready));
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready.load(Ordering::Relaxed) < connected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = std::io::stdout().lock();
    let say = |out: &mut std::io::StdoutLock<'_>, s: &str| {
        writeln!(out, "{s}")
            .and_then(|()| out.flush())
            .map_err(|e| e.to_string())
    };
    say(
        &mut out,
        &format!("ready {}", ready.load(Ordering::Relaxed)),
    )?;
    let total = |logs: &[Arc<Mutex<ClientLog>>]| -> u64 {
        logs.iter()
            .map(|l| l.lock().expect("client log").messages)
            .sum()
    };
    let mut m0 = 0;
    let mut messages = 0;
    let (mut cpu0, mut cpu) = (None, None);
    let mut published: HashMap<u64, u64> = HashMap::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        let mut parts = line.split(' ');
        match parts.next() {
            Some("start") => {
                cpu0 = cpu_us();
                m0 = total(&logs);
                for l in &logs {
                    l.lock().expect("client log").seen.clear();
                }
            }
            Some("stop") => {
                messages = total(&logs) - m0;
                cpu = cpu_us().zip(cpu0).map(|(b, a)| b - a);
            }
            Some("p") => {
                let mut num = || parts.next().and_then(|x| x.parse::<u64>().ok());
                if let (Some(id), Some(at)) = (num(), num()) {
                    published.insert(id, at);
                }
            }
            Some("end") => break,
            _ => return Err(format!("unexpected command {line:?}")),
        }
    }
    let mut hist =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
    for l in &logs {
        for (id, at) in &l.lock().expect("client log").seen {
            if let Some(p) = published.get(id) {
                let _ = hist.record((at.saturating_sub(*p) / 1000).max(1));
            }
        }
    }
    if std::env::var_os("BOURSE_WS_DEBUG").is_some() {
        let mut per: HashMap<u64, Vec<u64>> = HashMap::new();
        for l in &logs {
            for (id, at) in &l.lock().expect("client log").seen {
                if let Some(p) = published.get(id) {
                    per.entry(*id)
                        .or_default()
                        .push(at.saturating_sub(*p) / 1000);
                }
            }
        }
        let mut ids: Vec<_> = per.keys().copied().collect();
        ids.sort();
        for id in ids {
            let v = per.get_mut(&id).expect("id");
            v.sort();
            eprintln!(
                "trade {id}: n {} min {} p50 {} p99 {} max {} µs",
                v.len(),
                v[0],
                v[v.len() / 2],
                v[v.len() * 99 / 100],
                v[v.len() - 1]
            );
        }
    }
    let report = ClientsReport {
        connected,
        messages,
        p50_us: hist.value_at_quantile(0.5),
        p99_us: hist.value_at_quantile(0.99),
        max_us: hist.max(),
        samples: hist.len(),
        cpu_us: cpu,
    };
    say(
        &mut out,
        &serde_json::to_string(&report).map_err(|e| e.to_string())?,
    )?;
    // The client tasks never end by themselves; the process exit closes their sockets.
    std::process::exit(0);
}

/// Connects and subscribes one client per log, each read by its own task; how many
/// connected (stops at the first failure).
async fn connect_all(url: &str, logs: &[Arc<Mutex<ClientLog>>], ready: &Arc<AtomicUsize>) -> usize {
    // tungstenite zero-fills its read buffer's free part before every read: the default
    // 128 KiB would make the clients, not the server, the bottleneck on a shared machine.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let mut connected = 0;
    for log in logs {
        let (mut ws, _) =
            match tokio_tungstenite::connect_async_with_config(url, Some(config), true).await {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("bourse-bench ws: connect failed after {connected}: {e}");
                    break;
                }
            };
        let sub = r#"{"op":"subscribe","channels":["book.BTC-USD","trades.BTC-USD"]}"#;
        if let Err(e) = ws.send(Message::text(sub)).await {
            eprintln!("bourse-bench ws: subscribe failed after {connected}: {e}");
            break;
        }
        connected += 1;
        let (log, ready) = (log.clone(), ready.clone());
        tokio::spawn(async move {
            let mut first = true;
            while let Some(Ok(msg)) = ws.next().await {
                let now = now_ns();
                if first {
                    ready.fetch_add(1, Ordering::Relaxed);
                    first = false;
                }
                if let Message::Text(t) = msg {
                    let s = t.as_str();
                    let mut l = log.lock().expect("client log");
                    l.messages += 1;
                    if s.starts_with(r#"{"channel":"trades."#) {
                        trade_ids(s, |id| l.seen.push((id, now)));
                    }
                }
            }
        });
    }
    connected
}

/// Calls `f` with each `"id":N` in a trades frame.
fn trade_ids(s: &str, mut f: impl FnMut(u64)) {
    let mut rest = s;
    while let Some(i) = rest.find(r#""id":"#) {
        rest = &rest[i + 5..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if let Ok(id) = rest[..end].parse() {
            f(id);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_trade_ids() {
        let mut ids = Vec::new();
        super::trade_ids(
            r#"{"channel":"trades.X","data":[{"id":17,"price":"1"},{"id":18}]}"#,
            |i| ids.push(i),
        );
        assert_eq!(ids, vec![17, 18]);
    }
}
