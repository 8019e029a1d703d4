//! `bourse-bench`: Bourse's benchmarks.
//!
//! `bourse-bench engine` replays fixed-seed command streams ([`workload`]) on Bourse's
//! book, Bourse's full core and peer matching engines ([`engines`]), all in one process
//! and run, and reports throughput and per-command latency ([`latency`], [`report`]).
//! `bourse-bench journal` measures the durable path: the sequencer with the file journal
//! at each group-commit batch limit, replay, and start-up ([`journal`]).
//! `bourse-bench fix` sends the same orders through FIX and over HTTP to one in-process
//! server and reports both, with their ratios ([`fix`]).

mod e2e;
mod engines;
mod fix;
mod journal;
mod latency;
mod report;
mod workload;
mod ws;
mod ws_floor;

use clap::{Args, Parser, Subcommand};
use engines::EngineKind;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "bourse-bench", version, about = "Bourse benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Matching-engine benchmark: Bourse's book and core against peer crates.
    Engine(EngineArgs),
    /// Durable path: sequencer + file journal throughput, replay speed, start-up time.
    Journal(JournalArgs),
    /// WebSocket fan-out: N clients on a busy book, messages/s and trade-to-client latency.
    Ws(WsCliArgs),
    /// The whole server over HTTP: orders/s and latency, health/book/balances, ratios.
    E2e(e2e::E2eArgs),
    /// Order round trips through FIX next to the same orders over HTTP, same run.
    Fix(fix::FixArgs),
    /// The core-alone memory measurement of `e2e` (started by it as a child process).
    #[command(hide = true)]
    E2eCoreRss {
        #[arg(long)]
        orders: u64,
    },
    /// The client side of `ws` (started by it as a child process).
    #[command(hide = true)]
    WsClients(WsClientsArgs),
}

#[derive(Args, Debug, Clone)]
struct WsClientsArgs {
    #[arg(long)]
    url: String,
    #[arg(long)]
    n: usize,
}

#[derive(Args, Debug, Clone)]
struct WsCliArgs {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// 50 clients for 2 s: a quick check that it works.
    #[arg(long)]
    smoke: bool,
    /// Client counts to run, one server each.
    #[arg(long, value_delimiter = ',', default_values_t = [1000usize, 5000])]
    clients: Vec<usize>,
    /// Measured seconds per client count.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Maker/taker pairs per second (each: two book updates and one trade).
    #[arg(long, default_value_t = 20)]
    rate: u64,
}

#[derive(Args, Debug, Clone)]
struct JournalArgs {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// Tiny sizes (30k-command journal, 0.25 s per batch limit): runs in seconds.
    #[arg(long)]
    smoke: bool,
    /// Group-commit batch limits to measure.
    #[arg(long, value_delimiter = ',')]
    batch_limits: Vec<usize>,
    /// Seconds per batch limit.
    #[arg(long)]
    seconds: Option<f64>,
    /// Concurrent submitting tasks.
    #[arg(long)]
    tasks: Option<usize>,
    /// Commands in the journal built for the replay and start-up rows.
    #[arg(long)]
    commands: Option<usize>,
    /// Where the temporary journals go (a real disk: fsync is what is measured).
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct EngineArgs {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// Tiny sizes (20k commands, small books): every workload and engine in seconds.
    #[arg(long)]
    smoke: bool,
    /// Workloads to run (default: all).
    #[arg(long = "workload", value_name = "W1..W4", num_args = 1.., value_parser = parse_workload)]
    workloads: Vec<String>,
    /// Engines to run (default: all; with --open-loop: bourse-book and bourse-core).
    #[arg(long = "engine", value_enum, num_args = 1..)]
    engines: Vec<EngineKind>,
    /// Override the number of timed commands per workload.
    #[arg(long)]
    ops: Option<usize>,
    /// Open-loop latency instead: commands released at fixed rates, latency measured
    /// from each command's scheduled time.
    #[arg(long)]
    open_loop: bool,
    /// Open-loop release rates, commands per second.
    #[arg(long, value_delimiter = ',', default_values_t = [250_000u64, 1_000_000])]
    rates: Vec<u64>,
    /// Open-loop run length per rate, in seconds of scheduled time.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Also write an SVG bar chart of ops/s per engine and workload to this file.
    #[arg(long, value_name = "FILE")]
    chart: Option<std::path::PathBuf>,
}

fn parse_workload(s: &str) -> Result<String, String> {
    workload::standard(s, true)
        .map(|w| w.name.to_string())
        .ok_or_else(|| {
            format!(
                "unknown workload {s:?} (expected one of {})",
                workload::NAMES.join(", ")
            )
        })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Engine(args) => engine(&args, &mut std::io::stdout().lock()),
        Command::Journal(args) => journal_bench(&args, &mut std::io::stdout().lock()),
        Command::Ws(args) => ws_bench(&args),
        Command::E2e(args) => {
            e2e::run(&args, &mut std::io::stdout().lock()).map_err(std::io::Error::other)
        }
        Command::Fix(args) => {
            fix::run(&args, &mut std::io::stdout().lock()).map_err(std::io::Error::other)
        }
        Command::E2eCoreRss { orders } => e2e::core_rss_main(orders)
            .map(|()| true)
            .map_err(std::io::Error::other),
        Command::WsClients(args) => ws::clients_main(&args.url, args.n)
            .map(|()| true)
            .map_err(std::io::Error::other),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("bourse-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn selected_workloads(args: &EngineArgs) -> Vec<workload::Spec> {
    let names: Vec<&str> = if args.workloads.is_empty() {
        workload::NAMES.to_vec()
    } else {
        args.workloads.iter().map(String::as_str).collect()
    };
    names
        .into_iter()
        .filter_map(|n| workload::standard(n, args.smoke))
        .map(|mut s| {
            if let Some(ops) = args.ops {
                s.ops = ops;
            }
            s
        })
        .collect()
}

fn selected_engines(args: &EngineArgs) -> Vec<EngineKind> {
    let default: &[EngineKind] = if args.open_loop {
        &[EngineKind::BourseBook, EngineKind::BourseCore]
    } else {
        &EngineKind::ALL
    };
    let chosen = if args.engines.is_empty() {
        default
    } else {
        &args.engines[..]
    };
    chosen.to_vec()
}

fn progress_bar(len: u64, quiet: bool) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(len),
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg:28} [{bar:40}] {percent:>3}% {elapsed_precise}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    pb
}

/// Runs `engine`; returns Ok(false) if Bourse's own book or core ended with a book that
/// differs from the reference model (a bug), which makes the exit code non-zero.
fn engine(args: &EngineArgs, out: &mut dyn Write) -> std::io::Result<bool> {
    let specs = selected_workloads(args);
    let kinds = selected_engines(args);
    let quiet = args.json && !args.smoke;
    let mut ok = true;
    let mut rows = Vec::new();
    let mut open_rows = Vec::new();
    let mut summaries = Vec::new();
    for spec in &specs {
        let w = workload::generate(spec);
        summaries.push(report::describe(&w));
        for &kind in &kinds {
            if args.open_loop {
                for &rate in &args.rates {
                    let n = ((rate as f64 * args.seconds) as usize).min(w.steps.len());
                    let pb = progress_bar(n as u64, quiet);
                    pb.set_message(format!("{} {} @{}k/s", spec.name, kind.name(), rate / 1000));
                    let r = with_engine!(kind, E => latency::open_loop::<E>(&w, rate, n, &mut |k| pb.inc(k)));
                    pb.finish_and_clear();
                    let row = report::OpenRow::new(kind, &w, &r);
                    if args.json {
                        writeln!(out, "{}", report::json_line(&row))?;
                    }
                    open_rows.push(row);
                }
            } else {
                let pb = progress_bar(2 * w.steps.len() as u64, quiet);
                pb.set_message(format!("{} {}", spec.name, kind.name()));
                let r = with_engine!(kind, E => latency::closed_loop::<E>(&w, &mut |k| pb.inc(k)));
                pb.finish_and_clear();
                let row = report::Row::new(kind, &w, &r);
                if !row.book_matches
                    && matches!(kind, EngineKind::BourseBook | EngineKind::BourseCore)
                {
                    ok = false;
                }
                if args.json {
                    writeln!(out, "{}", report::json_line(&row))?;
                }
                rows.push(row);
            }
        }
    }
    if !args.json {
        for s in &summaries {
            writeln!(out, "{s}")?;
        }
        if args.open_loop {
            write!(out, "{}", report::open_table(&open_rows))?;
        } else {
            write!(out, "{}", report::table(&rows, latency::clock_floor_ns()))?;
        }
    }
    if let Some(path) = &args.chart {
        std::fs::write(path, chart::svg(&rows))?;
    }
    if !ok {
        eprintln!("bourse-bench: Bourse's final book differs from the reference model");
    }
    Ok(ok)
}

/// Runs `journal`; Ok(false) never happens (targets missed are reported, not failed),
/// an `Err` is a broken run (I/O, or a replay that disagrees with the build).
fn journal_bench(args: &JournalArgs, out: &mut dyn Write) -> std::io::Result<bool> {
    let mut p = journal::Params::new(args.smoke);
    if !args.batch_limits.is_empty() {
        p.batch_limits = args.batch_limits.clone();
    }
    if let Some(v) = args.seconds {
        p.seconds = v;
    }
    if let Some(v) = args.tasks {
        p.tasks = v.max(1);
    }
    if let Some(v) = args.commands {
        p.commands = v;
    }
    if let Some(v) = &args.dir {
        p.dir = v.clone();
    }
    let pb = progress_bar(1, args.json && !args.smoke);
    let json = args.json;
    let rows = journal::run(&p, &pb, &mut |row| {
        if json {
            pb.suspend(|| writeln!(out, "{}", report::json_line(row)))?;
        }
        Ok(())
    })
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    pb.finish_and_clear();
    if !json {
        write!(out, "{}", journal::table(&rows))?;
    }
    Ok(true)
}

mod chart;

fn ws_bench(args: &WsCliArgs) -> std::io::Result<bool> {
    let run = ws::WsArgs {
        clients: if args.smoke {
            vec![50]
        } else {
            args.clients.clone()
        },
        seconds: if args.smoke { 2.0 } else { args.seconds },
        pairs_per_sec: args.rate,
        floor_bursts: if args.smoke { 10 } else { 50 },
    };
    let results = ws::run(&run).map_err(std::io::Error::other)?;
    let us = |x: Option<f64>| x.map_or_else(|| "?".to_owned(), |v| format!("{v:.2} µs"));
    let mut out = std::io::stdout().lock();
    for r in &results {
        if args.json {
            writeln!(
                out,
                "{}",
                serde_json::to_string(r).map_err(std::io::Error::other)?
            )?;
        } else {
            writeln!(
                out,
                "ws: {} clients ({} connected), {} pairs/s, {:.1} s, {} trades: {:.0} msgs/s \
                 delivered; trade-to-client p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples); \
                 slow consumers closed {}; CPU per delivered message: server {}, clients {}\n    \
                 raw-TCP floor (same fan-out, no server; this run): p50 {:.2} ms, p99 {:.2} ms, \
                 {:.2} µs per socket write → WebSocket p99 = {:.1}× the floor",
                r.clients,
                r.connected,
                r.rate,
                r.seconds,
                r.trades,
                r.messages_per_sec,
                r.latency_p50_ms,
                r.latency_p99_ms,
                r.latency_max_ms,
                r.latency_samples,
                r.slow_consumers_closed,
                us(r.server_cpu_us_per_msg),
                us(r.clients_cpu_us_per_msg),
                r.floor.p50_ms,
                r.floor.p99_ms,
                r.floor.write_us,
                r.p99_vs_floor,
            )?;
        }
    }
    Ok(results.iter().all(|r| r.connected == r.clients))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> EngineArgs {
        let mut argv = vec!["bourse-bench", "engine"];
        argv.extend_from_slice(extra);
        match Cli::parse_from(argv).command {
            Command::Engine(a) => a,
            _ => unreachable!("engine arguments"),
        }
    }

    #[test]
    fn json_output_is_one_parsable_row_per_engine_and_workload() {
        let a = args(&[
            "--json",
            "--smoke",
            "--ops",
            "2000",
            "--workload",
            "W1",
            "W4",
            "--engine",
            "bourse-book",
            "matchcore",
        ]);
        let mut buf = Vec::new();
        assert!(engine(&a, &mut buf).unwrap());
        let text = String::from_utf8(buf).unwrap();
        let rows: Vec<report::Row> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 4, "{text}");
        for r in &rows {
            assert_eq!(r.ops, 2000);
            assert!(r.book_matches, "{r:?}");
            assert!(r.p50_ns <= r.p99_ns && r.p99_ns <= r.p999_ns);
        }
    }

    #[test]
    fn open_loop_json_rows_parse() {
        let a = args(&[
            "--json",
            "--smoke",
            "--open-loop",
            "--rates",
            "200000",
            "--seconds",
            "0.01",
            "--workload",
            "W1",
        ]);
        let mut buf = Vec::new();
        assert!(engine(&a, &mut buf).unwrap());
        let text = String::from_utf8(buf).unwrap();
        let rows: Vec<report::OpenRow> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| r.ops == 2000 && r.mode == "open_loop"));
    }

    #[test]
    fn unknown_workload_is_refused() {
        assert!(Cli::try_parse_from(["bourse-bench", "engine", "--workload", "W9"]).is_err());
    }
}
