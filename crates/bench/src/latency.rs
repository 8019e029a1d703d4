//! Timing a workload on one engine.
//!
//! **Closed loop** ([`closed_loop`]) replays the stream twice on fresh engines, each time
//! after the same untimed setup (the initial book):
//! 1. *Throughput pass*: the commands back to back, one clock read before and one after
//!    the whole stream, so `ops_per_sec` and `ns_per_op` carry no timing overhead.
//! 2. *Latency pass*: every command between two `Instant::now()` reads (vDSO
//!    `clock_gettime`, ~20 ns here), recorded in an HDR histogram. Per-command latencies
//!    therefore include about one clock read; [`clock_floor_ns`] measures that floor
//!    (an empty body timed the same way) and the report prints it.
//!
//! **Open loop** ([`open_loop`]) releases command *i* at `start + i / rate` (busy-waiting
//! until then) and records `completion − scheduled time`, as exchange-core does. A slow
//! command delays the ones queued behind it and each of those is charged the wait, so
//! there is no coordinated omission: the percentiles are what a client sending at that
//! rate would see.

use crate::engines::Engine;
use crate::workload::{book_hash, Workload};
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// Commands between progress-bar updates (keeps the update off the per-command path).
const CHUNK: usize = 1 << 16;

/// Result of a closed-loop run.
#[derive(Debug, Clone)]
pub struct ClosedLoop {
    pub ops: u64,
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
    /// [`book_hash`] of the engine's final book.
    pub book_hash: u64,
}

impl ClosedLoop {
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-12)
    }
    pub fn ns_per_op(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / (self.ops.max(1) as f64)
    }
}

pub fn new_histogram() -> Histogram<u64> {
    // 1 ns .. 100 s at 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("static bounds are valid")
}

fn prepared<E: Engine>(w: &Workload) -> E {
    let mut e = E::new(&w.spec);
    for s in &w.setup {
        e.apply(s);
    }
    e
}

/// Throughput pass then latency pass; `progress` is called with the number of commands
/// done since its last call (both passes count, so a bar spans `2 × steps`).
pub fn closed_loop<E: Engine>(w: &Workload, progress: &mut dyn FnMut(u64)) -> ClosedLoop {
    let mut e = prepared::<E>(w);
    let mut elapsed = Duration::ZERO;
    for chunk in w.steps.chunks(CHUNK) {
        let t0 = Instant::now();
        for s in chunk {
            e.apply(s);
        }
        elapsed += t0.elapsed();
        progress(chunk.len() as u64);
    }
    let book_hash = book_hash(&mut e.levels());
    drop(e);

    let mut e = prepared::<E>(w);
    let mut latency = new_histogram();
    for chunk in w.steps.chunks(CHUNK) {
        for s in chunk {
            let t0 = Instant::now();
            e.apply(s);
            latency.saturating_record(t0.elapsed().as_nanos() as u64);
        }
        progress(chunk.len() as u64);
    }
    ClosedLoop {
        ops: w.steps.len() as u64,
        elapsed,
        latency,
        book_hash,
    }
}

/// Median of timing an empty body the way the latency pass times a command.
pub fn clock_floor_ns() -> u64 {
    let mut h = new_histogram();
    for _ in 0..200_000 {
        let t0 = Instant::now();
        std::hint::black_box(());
        h.saturating_record(t0.elapsed().as_nanos() as u64);
    }
    h.value_at_quantile(0.5)
}

/// Result of an open-loop run.
#[derive(Debug, Clone)]
pub struct OpenLoop {
    pub rate: u64,
    pub ops: u64,
    /// Latency from each command's scheduled release to its completion.
    pub latency: Histogram<u64>,
    /// Wall time from the first scheduled release to the last completion.
    pub elapsed: Duration,
}

/// Releases the first `ops` commands of `w` at `rate` per second.
pub fn open_loop<E: Engine>(
    w: &Workload,
    rate: u64,
    ops: usize,
    progress: &mut dyn FnMut(u64),
) -> OpenLoop {
    assert!(rate > 0, "rate must be positive");
    let mut e = prepared::<E>(w);
    let steps = &w.steps[..ops.min(w.steps.len())];
    let mut latency = new_histogram();
    let start = Instant::now();
    let mut i: u128 = 0;
    for chunk in steps.chunks(CHUNK) {
        for s in chunk {
            let due = (i * 1_000_000_000 / u128::from(rate)) as u64;
            i += 1;
            while (start.elapsed().as_nanos() as u64) < due {
                std::hint::spin_loop();
            }
            e.apply(s);
            let done = start.elapsed().as_nanos() as u64;
            latency.saturating_record(done.saturating_sub(due).max(1));
        }
        progress(chunk.len() as u64);
    }
    OpenLoop {
        rate,
        ops: steps.len() as u64,
        latency,
        elapsed: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::matchcore::Matchcore;
    use crate::workload::{generate, standard};

    #[test]
    fn closed_loop_counts_and_hashes() {
        let w = generate(&standard("W1", true).unwrap());
        let mut seen = 0;
        let r = closed_loop::<Matchcore>(&w, &mut |n| seen += n);
        assert_eq!(seen, 2 * w.steps.len() as u64);
        assert_eq!(r.ops, w.steps.len() as u64);
        assert_eq!(r.latency.len(), r.ops);
        assert_eq!(r.book_hash, w.expected_hash);
        assert!(r.ops_per_sec() > 0.0 && r.ns_per_op() > 0.0);
    }

    #[test]
    fn open_loop_paces_commands() {
        let w = generate(&standard("W1", true).unwrap());
        // 5,000 commands at 100k/s cannot take less than 50 ms.
        let r = open_loop::<Matchcore>(&w, 100_000, 5_000, &mut |_| {});
        assert_eq!(r.ops, 5_000);
        assert_eq!(r.latency.len(), 5_000);
        assert!(
            r.elapsed >= Duration::from_micros(49_990),
            "{:?}",
            r.elapsed
        );
    }
}
