//! What Prometheus metrics cost: the closed-loop order phase on fresh in-process
//! servers with `[metrics] enabled` off and on, alternated (off, on, then on, off, …) so
//! that drift over the run (page cache, CPU frequency, a busy neighbour) falls on both
//! sides alike. The cost is `(off − on) / off` of the mean orders/s; the bar is 3 %.
//!
//! The recorder is process-wide and records only while an app with metrics on runs
//! (`bourse_http::metrics`), so the "off" servers here really record nothing even after
//! an "on" one ran.

use super::load::{Ctx, Kind, Schedule};
use super::{server, setup, Plan};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsCost {
    /// Orders/s of each round, in the order run: `(metrics enabled, orders/s)`.
    pub rounds: Vec<(bool, f64)>,
    pub off_per_sec: f64,
    pub on_per_sec: f64,
    /// `(off − on) / off`, percent (negative: on was faster, i.e. noise).
    pub cost_percent: f64,
}

/// Runs `pairs` off/on pairs of the order phase.
pub fn measure(
    load_rt: &tokio::runtime::Runtime,
    plan: &Plan,
    mix: super::load::Mix,
    pairs: usize,
) -> Result<MetricsCost, String> {
    let mut rounds = Vec::new();
    for pair in 0..pairs {
        let order = if pair % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for enabled in order {
            rounds.push((enabled, round(load_rt, plan, mix, enabled)?));
        }
    }
    let mean = |on: bool| {
        let v: Vec<f64> = rounds.iter().filter(|r| r.0 == on).map(|r| r.1).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let (off, on) = (mean(false), mean(true));
    Ok(MetricsCost {
        cost_percent: if off > 0.0 {
            (off - on) / off * 100.0
        } else {
            0.0
        },
        rounds,
        off_per_sec: off,
        on_per_sec: on,
    })
}

/// One order phase on a fresh server with metrics `enabled`: its orders/s.
///
/// Only the phase lies between [`profile_start`] and [`profile_end`], so that a profiler
/// can count it alone (`valgrind --tool=callgrind --zero-before='*profile_start*'
/// --dump-before='*profile_end*'`): server start, setup (password hashing) and shutdown
/// cost the same on and off and would only dilute the ratio.
pub fn round(
    load_rt: &tokio::runtime::Runtime,
    plan: &Plan,
    mix: super::load::Mix,
    enabled: bool,
) -> Result<f64, String> {
    let s = server::InProcess::start_with(plan.server_threads, 0, enabled)?;
    let addr = s.addr();
    let pw = s.admin_password().ok_or("no admin password")?;
    let names = setup::usernames("trader-", plan.users);
    let users = load_rt.block_on(setup::run(addr, &pw, &names))?;
    let ctx = Arc::new(Ctx {
        addr,
        users,
        mix,
        max_resting: plan.max_resting,
    });
    profile_start();
    let phase = load_rt.block_on(super::phase(
        &ctx,
        "orders",
        Kind::Orders,
        plan.concurrency,
        Schedule::Closed,
        plan.budget,
    ));
    profile_end();
    s.shutdown();
    Ok(phase?.per_sec)
}

/// Marks where the profiled part of [`round`] starts (a symbol for callgrind).
#[inline(never)]
pub fn profile_start() {
    // Distinct bodies, so that no pass folds the two markers into one symbol.
    std::hint::black_box(1u8);
}

/// Marks where the profiled part of [`round`] ends.
#[inline(never)]
pub fn profile_end() {
    std::hint::black_box(2u8);
}

/// The table's line for it.
pub fn line(c: &MetricsCost) -> String {
    format!(
        "metrics cost: orders/s off {:.0}, on {:.0} ({} rounds): {:+.2} %\n",
        c.off_per_sec,
        c.on_per_sec,
        c.rounds.len(),
        c.cost_percent
    )
}
