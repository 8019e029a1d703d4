//! `bourse-bench e2e`: the whole server over HTTP — orders/s and latency through the
//! public API, beside the cheapest endpoints measured by the same driver in the same run.
//!
//! Rules of the measurement:
//! - **Target.** Without `--url`, a fresh server is started in this process
//!   ([`server`]: temp data dir, file journal, SQLite read models, rate limits off) on
//!   its own tokio runtime; the load runs on another ([`procfs::LOAD_THREADS`]), so that
//!   neither's scheduler waits for the other's tasks. Both share the machine's cores: the
//!   per-phase CPU split (server runtime / load runtime / other threads, such as the
//!   sequencer and SQLite's) says which side was busy. With `--url` the load targets a
//!   running server and only the load's CPU is this process's.
//! - **Setup** goes through the public API ([`setup`]): admin login, market, N traders
//!   registered, logged in (bearer tokens) and funded. It is not timed.
//! - **Phases**, each `--duration` seconds of sending (or `--orders` requests), one after
//!   the other on the same server: orders closed loop (`--concurrency` tasks, each
//!   sending its next request when the previous answer is in), orders open loop at
//!   `--rate` (default: half the closed loop's throughput; requests due at fixed
//!   intervals, latency from the due time, so a stalled server is not hidden by the
//!   generator waiting for it — coordinated omission — and at most `--concurrency` in
//!   flight), then `GET /health`, the book (depth 10) and the balances (authenticated),
//!   closed loop with the same concurrency. Their ratios are same-run, same-machine.
//!   The read phases run after the order phases: the book is then as deep as the load
//!   left it.
//! - **Connections** are HTTP/1.1 keep-alive, one per task, opened (and warmed with one
//!   untimed request) before a phase's clock starts ([`http`]).
//! - **Counting** ([`report`]): every answer is recorded; non-2xx answers are errors by
//!   code, transport failures too; expected ones (a cancel that finds its order filled)
//!   are told apart, and any other error makes the exit code non-zero.
//! - **Memory and start-up** (default on, off with `--smoke`): RSS of a fresh in-process
//!   server holding `--rss-orders` resting orders (placed through its sequencer, not HTTP:
//!   see [`server::rss_with_resting`]); and start-up with a `--startup-commands`-command
//!   journal, measured by `bourse-bench journal`'s code ([`crate::journal::startup_only`]).
//!   Both run before the load, each on its own fresh server. Beside the server's RSS, the
//!   same orders applied to a bare core in a child process ([`core_rss`]) tell the core's
//!   share.

mod core_rss;
pub(crate) mod http;
pub(crate) mod load;
mod metrics_cost;
pub(crate) mod procfs;
pub(crate) mod report;
pub(crate) mod server;
pub(crate) mod setup;
mod subscribers;

pub use core_rss::child_main as core_rss_main;

use clap::Args;
use load::{Budget, Ctx, Kind, Mix, Op, Progress, Schedule};
use report::{Phase, Report};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct E2eArgs {
    /// A running server (`http://host:port`); default: start one in this process.
    #[arg(long)]
    pub url: Option<String>,
    /// The `admin` user's password on `--url` (to create the market and fund traders).
    #[arg(long)]
    pub admin_password: Option<String>,
    /// Exactly one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// A seconds-long check for CI: 2 users, 8 tasks, 2 s per phase, 2 WebSocket
    /// subscribers, no memory or start-up measurement.
    #[arg(long)]
    pub smoke: bool,
    /// Traders (default 8; smoke 2).
    #[arg(long)]
    pub users: Option<usize>,
    /// Tasks of the closed loops, and the open loop's bound on requests in flight
    /// (default 64; smoke 8).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Seconds of sending per phase (default 10; smoke 2).
    #[arg(long, conflicts_with = "orders")]
    pub duration: Option<f64>,
    /// Requests per phase instead of a duration.
    #[arg(long)]
    pub orders: Option<u64>,
    /// Order mix: percentages of place (resting), cancel, cross.
    #[arg(long, default_value = "70,20,10")]
    pub mix: Mix,
    /// Open-loop rate, requests/s (default: half the closed loop's; 0: no open loop).
    #[arg(long)]
    pub rate: Option<f64>,
    /// WebSocket subscribers to book and trades during the order phases (smoke: 2).
    #[arg(long)]
    pub ws_subscribers: Option<usize>,
    /// Cap on a trader's resting orders: at the cap a place becomes a cancel (default:
    /// none in-process, 900 with --url, under the server's default of 1000 per user).
    #[arg(long)]
    pub max_resting: Option<usize>,
    /// Resting orders for the memory measurement (default 1M; smoke 0; 0: skip; in-process
    /// only).
    #[arg(long)]
    pub rss_orders: Option<u64>,
    /// Journal length for the start-up measurement (default 1M; smoke 0; 0: skip).
    #[arg(long)]
    pub startup_commands: Option<usize>,
    /// Worker threads of the in-process server's runtime (default: one per core).
    #[arg(long)]
    pub server_threads: Option<usize>,
    /// Worker threads of the load generator's runtime (default: one per core).
    #[arg(long)]
    pub load_threads: Option<usize>,
    /// Off/on pairs of the metrics-cost measurement (default 2; smoke 1; 0: skip). More
    /// pairs average out a busy machine.
    #[arg(long)]
    pub metrics_pairs: Option<usize>,
    /// Only one order phase on a fresh server with metrics `on` or `off`, then its
    /// orders/s on stdout: for counting instructions with callgrind on each side
    /// (`metrics_cost::round`; use with `--orders`). Everything else is skipped.
    #[arg(long, value_parser = ["on", "off"])]
    pub metrics_round: Option<String>,
}

/// What the arguments come to once smoke and defaults are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub users: usize,
    pub concurrency: usize,
    pub budget: Budget,
    pub rate: Option<f64>,
    pub ws_subscribers: usize,
    pub max_resting: Option<usize>,
    pub rss_orders: u64,
    pub startup_commands: usize,
    pub server_threads: usize,
    pub load_threads: usize,
}

impl E2eArgs {
    pub fn plan(&self) -> Plan {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let s = self.smoke;
        let budget = match (self.orders, self.duration) {
            (Some(n), _) => Budget::Count(n),
            (None, Some(d)) => Budget::Seconds(d),
            (None, None) => Budget::Seconds(if s { 2.0 } else { 10.0 }),
        };
        let remote = self.url.is_some();
        Plan {
            users: self.users.unwrap_or(if s { 2 } else { 8 }).max(1),
            concurrency: self.concurrency.unwrap_or(if s { 8 } else { 64 }).max(1),
            budget,
            rate: self.rate,
            ws_subscribers: self.ws_subscribers.unwrap_or(if s { 2 } else { 0 }),
            max_resting: self.max_resting.or(remote.then_some(900)),
            // RSS is this process's: it says nothing about a server elsewhere.
            rss_orders: if remote {
                0
            } else {
                self.rss_orders.unwrap_or(if s { 0 } else { 1_000_000 })
            },
            startup_commands: self
                .startup_commands
                .unwrap_or(if s { 0 } else { 1_000_000 }),
            server_threads: self.server_threads.unwrap_or(cores),
            load_threads: self.load_threads.unwrap_or(cores),
        }
    }
}

/// Runs `e2e`; `Ok(false)` when the server answered an unexpected error (or WebSocket
/// subscribers could not connect), which makes the exit code non-zero.
pub fn run(args: &E2eArgs, out: &mut dyn Write) -> Result<bool, String> {
    let plan = args.plan();
    if let Some(side) = &args.metrics_round {
        let load_rt = load_runtime(&plan)?;
        let per_sec = metrics_cost::round(&load_rt, &plan, args.mix, side == "on")?;
        writeln!(out, "metrics {side}: {per_sec:.0} orders/s").map_err(|e| e.to_string())?;
        return Ok(true);
    }
    let loadavg_start = procfs::loadavg();
    if args.url.is_some() && args.rss_orders.is_some_and(|n| n > 0) {
        eprintln!("bourse-bench e2e: --rss-orders is skipped with --url (RSS is this process's)");
    }
    let rss = if plan.rss_orders > 0 {
        let pb = crate::progress_bar(plan.rss_orders, false);
        pb.set_message(format!("memory: {} resting orders", plan.rss_orders));
        let mut r = server::rss_with_resting(plan.rss_orders, plan.server_threads, &|n| {
            pb.set_position(n)
        })?;
        pb.set_message(format!(
            "memory: the core alone, {} orders",
            plan.rss_orders
        ));
        // In a test the current executable is the test harness, which has no such command.
        if !cfg!(test) {
            let c = core_rss::measure(plan.rss_orders)?;
            let delta = c.after_kib.saturating_sub(c.before_kib) as f64 * 1024.0;
            r.core_alone_mib = Some(delta / (1024.0 * 1024.0));
            r.core_alone_bytes_per_order = Some(delta / plan.rss_orders as f64);
        }
        pb.finish_and_clear();
        Some(r)
    } else {
        None
    };
    let startup = if plan.startup_commands > 0 {
        let mut p = crate::journal::Params::new(false);
        p.commands = plan.startup_commands;
        // 50,000 back from the end for 1M (as `journal` does), proportionally less below.
        p.snapshot_back = (plan.startup_commands as u64 / 20).min(50_000);
        let pb = crate::progress_bar(1, false);
        let rows = crate::journal::startup_only(&p, &pb).map_err(|e| e.to_string())?;
        pb.finish_and_clear();
        Some(rows)
    } else {
        None
    };

    let load_rt = load_runtime(&plan)?;
    let (in_process, addr, admin_password, prefix) = match &args.url {
        None => {
            let s = server::InProcess::start(plan.server_threads, plan.ws_subscribers)?;
            let (addr, pw) = (s.addr(), s.admin_password());
            (Some(s), addr, pw, "trader-".to_owned())
        }
        Some(url) => {
            let addr = load_rt.block_on(http::resolve(url))?;
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            (
                None,
                addr,
                args.admin_password.clone(),
                format!("e2e-{secs:x}-"),
            )
        }
    };
    let admin_password =
        admin_password.ok_or("no admin password: pass --admin-password (with --url)")?;
    let names = setup::usernames(&prefix, plan.users);
    let users = load_rt.block_on(setup::run(addr, &admin_password, &names))?;
    let ctx = Arc::new(Ctx {
        addr,
        users,
        mix: args.mix,
        max_resting: plan.max_resting,
    });

    let result = load_rt.block_on(phases(ctx, &plan));
    if let Some(s) = in_process {
        s.shutdown();
    }
    let (orders, open, health, book, balances, ws) = result?;
    // In-process only: a `--url` server's metrics switch is not ours to flip.
    let pairs = args.metrics_pairs.unwrap_or(if args.smoke { 1 } else { 2 });
    let metrics_cost = if args.url.is_none() && pairs > 0 {
        Some(metrics_cost::measure(&load_rt, &plan, args.mix, pairs)?)
    } else {
        None
    };
    let report = Report {
        target: args.url.clone().unwrap_or_else(|| "in-process".into()),
        users: plan.users,
        concurrency: plan.concurrency,
        mix: args.mix,
        orders: Some(orders),
        orders_open_loop: open,
        health: Some(health),
        book: Some(book),
        balances: Some(balances),
        ratios: report::ratios(None, None, None, None),
        ws,
        rss,
        startup,
        loadavg: [loadavg_start, procfs::loadavg()],
        unexpected_errors: 0,
        ok: true,
        metrics_cost,
    }
    .finish();
    let written = if args.json {
        serde_json::to_string(&report)
            .map_err(|e| e.to_string())
            .and_then(|j| writeln!(out, "{j}").map_err(|e| e.to_string()))
    } else {
        let cost = report.metrics_cost.as_ref().map(metrics_cost::line);
        write!(
            out,
            "{}{}",
            report::table(&report),
            cost.unwrap_or_default()
        )
        .map_err(|e| e.to_string())
    };
    written?;
    if !report.ok {
        eprintln!(
            "bourse-bench e2e: the server answered {} unexpected errors",
            report.unexpected_errors
        );
    }
    Ok(report.ok)
}

fn load_runtime(plan: &Plan) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.load_threads.max(1))
        .thread_name(procfs::LOAD_THREADS)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

type Phases = (
    Phase,
    Option<Phase>,
    Phase,
    Phase,
    Phase,
    Option<report::Ws>,
);

/// The load phases, in order, on the load runtime.
async fn phases(ctx: Arc<Ctx>, plan: &Plan) -> Result<Phases, String> {
    let subs = if plan.ws_subscribers > 0 {
        Some(subscribers::Subscribers::connect(ctx.addr, plan.ws_subscribers).await)
    } else {
        None
    };
    let ws_count = || subs.as_ref().map(subscribers::Subscribers::messages);
    let c = plan.concurrency;
    let m0 = ws_count();
    let mut orders = phase(
        &ctx,
        "orders",
        Kind::Orders,
        c,
        Schedule::Closed,
        plan.budget,
    )
    .await?;
    let m1 = ws_count();
    orders.ws_messages = m1.zip(m0).map(|(b, a)| b - a);
    // Half the closed loop's throughput by default: a load the server should carry, whose
    // latency is then not a queue's.
    let rate = plan.rate.unwrap_or((orders.per_sec / 2.0).floor().max(1.0));
    let open = if rate > 0.0 {
        let schedule = Schedule::Open { rate };
        let mut p = phase(&ctx, "orders", Kind::Orders, c, schedule, plan.budget).await?;
        p.name = "orders (open loop)".into();
        p.ws_messages = ws_count().zip(m1).map(|(b, a)| b - a);
        Some(p)
    } else {
        None
    };
    let ws = subs.map(|s| {
        let w = report::Ws {
            subscribers: plan.ws_subscribers,
            connected: s.connected,
        };
        s.stop();
        w
    });
    let read = |op: Op| {
        phase(
            &ctx,
            op.name(),
            Kind::Read(op),
            c,
            Schedule::Closed,
            plan.budget,
        )
    };
    let health = read(Op::Health).await?;
    let book = read(Op::Book).await?;
    let balances = read(Op::Balances).await?;
    Ok((orders, open, health, book, balances, ws))
}

/// One phase with its progress bar and CPU split.
pub(crate) async fn phase(
    ctx: &Arc<Ctx>,
    name: &str,
    kind: Kind,
    concurrency: usize,
    schedule: Schedule,
    budget: Budget,
) -> Result<Phase, String> {
    let (len, label) = match budget {
        Budget::Seconds(s) => ((s * 1000.0) as u64, "ms"),
        Budget::Count(n) => (n, "requests"),
    };
    let mode = match schedule {
        Schedule::Closed => format!("closed ×{concurrency}"),
        Schedule::Open { rate } => format!("open {rate:.0}/s"),
    };
    let pb = crate::progress_bar(len.max(1), false);
    pb.set_message(format!("{name}, {mode} ({label})"));
    let progress = Arc::new(Progress {
        sent: Default::default(),
    });
    let t0 = Instant::now();
    let ticker = {
        let (pb, progress) = (pb.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                pb.set_position(match budget {
                    Budget::Seconds(_) => t0.elapsed().as_millis() as u64,
                    Budget::Count(_) => progress.sent.load(Ordering::Relaxed),
                });
            }
        })
    };
    let (cpu0, machine0) = (procfs::thread_ticks(), procfs::machine_and_self_ticks());
    let result = load::run_phase(ctx.clone(), kind, concurrency, schedule, budget, progress).await;
    let (cpu1, machine1) = (procfs::thread_ticks(), procfs::machine_and_self_ticks());
    ticker.abort();
    pb.finish_and_clear();
    let (tally, elapsed) = result?;
    let secs = elapsed.as_secs_f64();
    let rate = match schedule {
        Schedule::Closed => None,
        Schedule::Open { rate } => Some(rate),
    };
    let mut p = Phase::new(name, concurrency, rate, &tally, secs);
    p.cores = procfs::cores_used(&cpu0, &cpu1, secs);
    p.other_processes_cores = procfs::other_processes_cores(machine0, machine1, secs);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        e2e: E2eArgs,
    }

    fn plan(argv: &[&str]) -> Plan {
        let mut v = vec!["e2e"];
        v.extend_from_slice(argv);
        Cli::parse_from(v).e2e.plan()
    }

    #[test]
    fn smoke_and_full_defaults() {
        let s = plan(&["--smoke"]);
        assert_eq!((s.users, s.concurrency, s.ws_subscribers), (2, 8, 2));
        assert_eq!(s.budget, Budget::Seconds(2.0));
        assert_eq!((s.rss_orders, s.startup_commands), (0, 0));
        let f = plan(&[]);
        assert_eq!((f.users, f.concurrency), (8, 64));
        assert_eq!((f.rss_orders, f.startup_commands), (1_000_000, 1_000_000));
        assert_eq!(f.max_resting, None);
        let r = plan(&["--url", "http://127.0.0.1:8080", "--rss-orders", "5"]);
        assert_eq!((r.rss_orders, r.max_resting), (0, Some(900)));
        let o = plan(&["--smoke", "--orders", "500", "--users", "3"]);
        assert_eq!((o.budget, o.users), (Budget::Count(500), 3));
        assert!(Cli::try_parse_from(["e2e", "--orders", "5", "--duration", "1"]).is_err());
        assert!(Cli::try_parse_from(["e2e", "--mix", "50,50,50"]).is_err());
    }

    /// The whole path against an in-process server, small: setup, every phase, the
    /// memory and start-up measurements, one JSON object, no unexpected error.
    #[test]
    fn a_short_run_is_clean_and_prints_one_json_object() {
        let args = Cli::parse_from([
            "e2e",
            "--smoke",
            "--json",
            "--duration",
            "0.3",
            "--rss-orders",
            "3000",
            "--startup-commands",
            "10000",
        ])
        .e2e;
        let mut buf = Vec::new();
        assert!(run(&args, &mut buf).unwrap());
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let r: Report = serde_json::from_str(&text).unwrap();
        assert!(r.ok && r.unexpected_errors == 0);
        let orders = r.orders.as_ref().unwrap();
        assert!(orders.ok > 0 && orders.per_sec > 0.0);
        assert!(r.orders_open_loop.as_ref().unwrap().rate.unwrap() >= 1.0);
        assert!(r.health.as_ref().unwrap().ok > 0);
        assert!(r.ratios.orders_per_health.is_some() && r.ratios.balances_per_health.is_some());
        assert_eq!(r.ws.as_ref().map(|w| w.connected), Some(2));
        assert!(orders.ws_messages.unwrap() > 0);
        assert_eq!(r.rss.as_ref().unwrap().orders, 3000);
        assert_eq!(r.startup.as_ref().unwrap().len(), 2);
    }
}
