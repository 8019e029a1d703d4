//! `bourse-bench fix`: order round trips through FIX next to the same orders over HTTP,
//! in one run on one server.
//!
//! Rules of the measurement:
//! - **Target.** A fresh in-process server (`e2e`'s [`InProcess`], the same config: temp
//!   data dir, file journal, SQLite, rate limits off, no cap on open orders) with the FIX
//!   acceptor on `127.0.0.1:0` and its per-session message rate raised out of the way. The
//!   load runs on its own runtime, as in `e2e`.
//! - **Setup** over the public API, untimed: N traders registered, funded (`e2e`'s
//!   setup), each given an API key with `read` and `trade`.
//! - **Phases**, each `--duration` seconds (or `--orders` requests), one after the other:
//!   HTTP first (`e2e`'s order phase: N closed-loop tasks, task `i` trading as trader `i`
//!   on a keep-alive connection), then FIX (N sessions, session `i` logged on with trader
//!   `i`'s key and a signed Logon, one request outstanding each: [`load`]). Same mix,
//!   prices and sizes; the FIX phase finds the book the HTTP phase left. The ratios are
//!   FIX over HTTP of the same run.
//! - **Latency**: HTTP, to the answer's last byte; FIX, to the first ExecutionReport (or
//!   cancel reject) with the request's ClOrdID. Both are the moment a client knows the
//!   order's fate, and both come after the journal's fsync.
//! - **Checks** ([`check`]), every run: every FIX request answered, no unexpected refusal
//!   on either channel, and the latest report of every order a session heard of equal to
//!   `GET /api/v1/orders/{id}` (all of them with `--smoke`, up to 200 per session
//!   otherwise). Any failure makes the exit code non-zero and says what differed.

mod check;
mod client;
mod load;

use crate::e2e::http::Conn;
use crate::e2e::load::{Budget, Ctx, Kind, Mix, Schedule};
use crate::e2e::report::{Phase, Tally};
use crate::e2e::server::InProcess;
use crate::e2e::{procfs, setup};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use hyper::Method;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct FixArgs {
    /// Exactly one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// A seconds-long check for CI: 2 sessions, 2 s per phase, every order checked.
    #[arg(long)]
    pub smoke: bool,
    /// FIX sessions, one trader each; the HTTP phase runs as many tasks (default 16;
    /// smoke 2).
    #[arg(long)]
    pub sessions: Option<usize>,
    /// Seconds of sending per phase (default 10; smoke 2).
    #[arg(long, conflicts_with = "orders")]
    pub duration: Option<f64>,
    /// Requests per phase instead of a duration.
    #[arg(long)]
    pub orders: Option<u64>,
    /// Order mix: percentages of place (resting), cancel, cross (as `e2e`).
    #[arg(long, default_value = "70,20,10")]
    pub mix: Mix,
    /// Worker threads of the in-process server's runtime (default: one per core).
    #[arg(long)]
    pub server_threads: Option<usize>,
    /// Worker threads of the load generator's runtime (default: one per core).
    #[arg(long)]
    pub load_threads: Option<usize>,
}

/// The whole run: one JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub sessions: usize,
    pub mix: Mix,
    pub http: Phase,
    pub fix: Phase,
    pub ratios: Ratios,
    pub check: check::Check,
    /// 1-minute load average at the start and the end (the machine may be shared).
    pub loadavg: [Option<f64>; 2],
    pub unexpected_errors: u64,
    pub ok: bool,
}

/// FIX over HTTP, same run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratios {
    pub per_sec: Option<f64>,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
}

impl Ratios {
    fn of(fix: &Phase, http: &Phase) -> Self {
        let over = |a: f64, b: f64| (b > 0.0).then(|| a / b);
        Ratios {
            per_sec: over(fix.per_sec, http.per_sec),
            p50: over(fix.p50_ms, http.p50_ms),
            p99: over(fix.p99_ms, http.p99_ms),
            p999: over(fix.p999_ms, http.p999_ms),
        }
    }
}

struct Plan {
    sessions: usize,
    budget: Budget,
    check_limit: usize,
    server_threads: usize,
    load_threads: usize,
}

impl FixArgs {
    fn plan(&self) -> Plan {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let s = self.smoke;
        Plan {
            sessions: self.sessions.unwrap_or(if s { 2 } else { 16 }).max(1),
            budget: match (self.orders, self.duration) {
                (Some(n), _) => Budget::Count(n),
                (None, Some(d)) => Budget::Seconds(d),
                (None, None) => Budget::Seconds(if s { 2.0 } else { 10.0 }),
            },
            check_limit: if s { usize::MAX } else { 200 },
            server_threads: self.server_threads.unwrap_or(cores),
            load_threads: self.load_threads.unwrap_or(cores),
        }
    }
}

/// Runs `fix`; `Ok(false)` when an answer was missing, unexpected or disagreed with the
/// REST API, which makes the exit code non-zero.
pub fn run(args: &FixArgs, out: &mut dyn Write) -> Result<bool, String> {
    let plan = args.plan();
    let loadavg_start = procfs::loadavg();
    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.load_threads.max(1))
        .thread_name(procfs::LOAD_THREADS)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let server = InProcess::start_fix(plan.server_threads)?;
    let result = load_rt.block_on(measure(&server, args.mix, &plan));
    server.shutdown();
    let (http, fix, check) = result?;
    let unexpected_errors = http.unexpected_errors + fix.unexpected_errors;
    let ok = unexpected_errors == 0 && fix.answered == fix.requests && check.ok;
    let report = Report {
        sessions: plan.sessions,
        mix: args.mix,
        ratios: Ratios::of(&fix, &http),
        http,
        fix,
        check,
        loadavg: [loadavg_start, procfs::loadavg()],
        unexpected_errors,
        ok,
    };
    let written = if args.json {
        serde_json::to_string(&report)
            .map_err(|e| e.to_string())
            .and_then(|j| writeln!(out, "{j}").map_err(|e| e.to_string()))
    } else {
        write!(out, "{}", table(&report)).map_err(|e| e.to_string())
    };
    written?;
    if !report.ok {
        eprintln!(
            "bourse-bench fix: FAILED: {} unexpected errors, {} of {} FIX requests answered, \
             {} report(s) differing from the REST API",
            report.unexpected_errors,
            report.fix.answered,
            report.fix.requests,
            report.check.mismatches.len()
        );
    }
    Ok(report.ok)
}

/// Setup, the HTTP phase, the FIX phase, the check.
async fn measure(
    server: &InProcess,
    mix: Mix,
    plan: &Plan,
) -> Result<(Phase, Phase, check::Check), String> {
    let addr = server.addr();
    let fix_addr = server.fix_addr().ok_or("the server has no FIX listener")?;
    let admin = server
        .admin_password()
        .ok_or("no admin password (BOURSE_ADMIN_PASSWORD set without a fresh server?)")?;
    let names = setup::usernames("fixbench-", plan.sessions);
    let users = setup::run(addr, &admin, &names).await?;
    let mut keys = Vec::with_capacity(users.len());
    let mut conn = Conn::new(addr);
    for (name, user) in names.iter().zip(&users) {
        keys.push(api_key(&mut conn, name, &user.token).await?);
    }
    let ctx = Arc::new(Ctx {
        addr,
        users,
        mix,
        max_resting: None,
    });
    let n = plan.sessions;
    let http = crate::e2e::phase(
        &ctx,
        "orders over HTTP",
        Kind::Orders,
        n,
        Schedule::Closed,
        plan.budget,
    )
    .await?;

    let mut clients = Vec::with_capacity(n);
    for (i, (key, secret)) in keys.iter().enumerate() {
        clients.push(client::Client::logon(fix_addr, key, secret, &format!("BENCH{i}")).await?);
    }
    let (fix, mut clients) = fix_phase(&ctx, clients, plan.budget).await?;

    let check = check::run(addr, &ctx.users, &mut clients, plan.check_limit).await?;
    for c in clients {
        c.logout().await?;
    }
    Ok((http, fix, check))
}

/// An API key with `read` and `trade` for the user of `token`: (key, secret).
async fn api_key(
    conn: &mut Conn,
    name: &str,
    token: &hyper::header::HeaderValue,
) -> Result<(String, String), String> {
    let body = serde_json::json!({"label": "bench", "permissions": ["read", "trade"]});
    let a = conn
        .json(Method::POST, "/api/v1/api-keys", Some(token), &body)
        .await?;
    if a.status != 201 {
        return Err(format!(
            "setup: API key of {name}: HTTP {} {}: {}",
            a.status,
            a.error_code(),
            a.error_message()
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&a.body).map_err(|e| e.to_string())?;
    match (v["key"].as_str(), v["secret"].as_str()) {
        (Some(k), Some(s)) => Ok((k.to_owned(), s.to_owned())),
        _ => Err(format!("setup: API key of {name}: no key/secret in {v}")),
    }
}

/// The FIX phase with its progress bar and CPU split (as `e2e`'s phases).
async fn fix_phase(
    ctx: &Arc<Ctx>,
    clients: Vec<client::Client>,
    budget: Budget,
) -> Result<(Phase, Vec<client::Client>), String> {
    let n = clients.len();
    let (len, label) = match budget {
        Budget::Seconds(s) => ((s * 1000.0) as u64, "ms"),
        Budget::Count(n) => (n, "requests"),
    };
    let pb = crate::progress_bar(len.max(1), false);
    pb.set_message(format!("orders over FIX, closed ×{n} ({label})"));
    let sent = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let ticker = {
        let (pb, sent) = (pb.clone(), sent.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                pb.set_position(match budget {
                    Budget::Seconds(_) => t0.elapsed().as_millis() as u64,
                    Budget::Count(_) => sent.load(Ordering::Relaxed),
                });
            }
        })
    };
    let (cpu0, machine0) = (procfs::thread_ticks(), procfs::machine_and_self_ticks());
    let result = load::run_phase(ctx.clone(), clients, budget, sent).await;
    let (cpu1, machine1) = (procfs::thread_ticks(), procfs::machine_and_self_ticks());
    ticker.abort();
    pb.finish_and_clear();
    let (tally, elapsed, clients): (Tally, _, _) = result?;
    let secs = elapsed.as_secs_f64();
    let mut p = Phase::new("orders over FIX", n, None, &tally, secs);
    p.cores = procfs::cores_used(&cpu0, &cpu1, secs);
    p.other_processes_cores = procfs::other_processes_cores(machine0, machine1, secs);
    Ok((p, clients))
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

/// The human output: both channels, the ratios, errors, the check, the machine's load.
pub fn table(r: &Report) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "channel",
        "orders/s",
        "ok/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors",
        "cores: server/load/other",
    ]);
    for (name, p) in [("HTTP", &r.http), ("FIX", &r.fix)] {
        let get = |k: &str| p.cores.get(k).copied().unwrap_or(0.0);
        let server = get(procfs::SERVER_THREADS);
        let load = get(procfs::LOAD_THREADS);
        let other: f64 = p.cores.values().sum::<f64>() - server - load;
        let right = |s: String| Cell::new(s).set_alignment(CellAlignment::Right);
        t.add_row(vec![
            Cell::new(format!("{name} closed ×{}", p.concurrency)),
            right(format!("{:.0}", p.per_sec)),
            right(format!("{:.0}", p.ok_per_sec)),
            right(format!("{:.2}", p.p50_ms)),
            right(format!("{:.2}", p.p99_ms)),
            right(format!("{:.2}", p.p999_ms)),
            right(format!("{:.1}", p.max_ms)),
            right(format!(
                "{} exp / {} unexp",
                p.expected_errors, p.unexpected_errors
            )),
            right(format!("{server:.2} / {load:.2} / {other:.2}")),
        ]);
    }
    let mut out = format!("{t}\n");
    out.push_str(&format!(
        "FIX/HTTP (same run, same workload): orders/s {}, p50 {}, p99 {}, p99.9 {}\n",
        fmt_ratio(r.ratios.per_sec),
        fmt_ratio(r.ratios.p50),
        fmt_ratio(r.ratios.p99),
        fmt_ratio(r.ratios.p999)
    ));
    for (name, p) in [("HTTP", &r.http), ("FIX", &r.fix)] {
        let sent: Vec<String> = p.sent.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!("{name}: sent {}\n", sent.join(", ")));
        for e in &p.errors {
            out.push_str(&format!(
                "{name}: {} {} ×{} ({}): {}\n",
                e.op,
                e.code,
                e.count,
                if e.expected { "expected" } else { "UNEXPECTED" },
                e.message
            ));
        }
    }
    out.push_str(&format!(
        "check: {} orders' latest FIX reports against GET /api/v1/orders/{{id}} ({} reports read): {}\n",
        r.check.orders,
        r.check.reports,
        if r.check.ok { "all equal" } else { "DIFFERENT" }
    ));
    for m in &r.check.mismatches {
        out.push_str(&format!("check: {m}\n"));
    }
    let la = |v: Option<f64>| v.map_or_else(|| "?".into(), |v| format!("{v:.2}"));
    out.push_str(&format!(
        "machine: {} cores, 1-min load average {} at the start, {} at the end\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        la(r.loadavg[0]),
        la(r.loadavg[1])
    ));
    out.push_str(if r.ok { "OK.\n" } else { "FAILED.\n" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        fix: FixArgs,
    }

    /// The whole mode, small, in-process: both phases, every report checked, one JSON
    /// object, and the figures where the report says they are.
    #[test]
    fn a_short_run_answers_every_order_and_agrees_with_rest() {
        let args = Cli::parse_from(["fix", "--smoke", "--json", "--duration", "0.5"]).fix;
        let mut buf = Vec::new();
        assert!(run(&args, &mut buf).unwrap());
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let r: Report = serde_json::from_str(&text).unwrap();
        assert!(r.ok && r.check.ok, "{text}");
        assert!(r.fix.ok > 0 && r.http.ok > 0, "{text}");
        assert_eq!(r.fix.answered, r.fix.requests);
        assert!(r.check.orders > 0 && r.check.reports >= r.check.orders);
        assert!(r.ratios.per_sec.is_some_and(|x| x > 0.0));
        assert!(table(&r).contains("FIX/HTTP"));
    }

    #[test]
    fn ratios_are_fix_over_http() {
        let mut http = Phase::new("h", 1, None, &Tally::new(), 1.0);
        let mut fix = http.clone();
        http.per_sec = 1000.0;
        fix.per_sec = 1500.0;
        http.p50_ms = 2.0;
        fix.p50_ms = 1.0;
        let r = Ratios::of(&fix, &http);
        assert_eq!((r.per_sec, r.p50), (Some(1.5), Some(0.5)));
        // No HTTP latency recorded: no ratio rather than infinity.
        assert_eq!(r.p99, None);
    }
}
