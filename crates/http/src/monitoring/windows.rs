//! Sliding windows for the monitoring API: latency percentiles from HDR histograms, and
//! counts for per-second rates.
//!
//! Rules:
//! - **Rings of slots, merged on read.** A latency window keeps one HDR histogram per
//!   10 s (the last 5 min and the current slot) and one per minute (the last hour and the
//!   current minute); a sample goes into the current slot of both. `1m` merges the
//!   current 10 s slot and the 6 before it, `5m` the current one and the 30 before it,
//!   `1h` the current minute and the 60 before it: each window covers at least its
//!   length and at most one slot more. A slot is emptied lazily, by the first sample of
//!   its next turn, so there is no rotation thread; reads skip slots from an older turn.
//! - **Cheap to record.** The time is [`clock`]'s coarse milliseconds (an atomic load,
//!   advanced by one thread every 100 ms), not a clock read per sample; each sample takes
//!   one lock (the window's) and two histogram increments, and a count one
//!   compare-and-swap.
//! - **Bounded memory.** Histograms keep 2 significant digits (±1 %) of nanoseconds and
//!   grow only to the largest value recorded (auto-resize).

use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const FINE_MS: u64 = 10_000;
const COARSE_MS: u64 = 60_000;
/// Slots before the current one that each window merges.
const ONE_MIN: u64 = 6;
const FIVE_MIN: u64 = 30;
const ONE_HOUR: u64 = 60;
/// Marks a slot empty: no turn has this number.
const EMPTY: u64 = u64::MAX;

/// The process's coarse clock: milliseconds since its first use.
pub mod clock {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    static NOW_MS: AtomicU64 = AtomicU64::new(0);
    static START: OnceLock<Instant> = OnceLock::new();

    /// Starts the thread advancing the clock (once per process).
    pub fn start() {
        START.get_or_init(|| {
            let start = Instant::now();
            let _ = std::thread::Builder::new()
                .name("bourse-monitor-clock".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_millis(100));
                    NOW_MS.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
                });
            start
        });
    }

    /// Coarse now (≤ 100 ms behind).
    pub fn now_ms() -> u64 {
        NOW_MS.load(Ordering::Relaxed)
    }

    /// Exact now on the same scale, for reads (rates divide by it).
    pub fn precise_ms() -> u64 {
        START.get().map_or(0, |s| s.elapsed().as_millis() as u64)
    }
}

struct Slot {
    turn: u64,
    hist: Histogram<u64>,
}

impl Slot {
    fn new() -> Self {
        Slot {
            turn: EMPTY,
            hist: Histogram::new(2).expect("2 significant digits are valid"),
        }
    }
}

fn ring(n: u64) -> Box<[Slot]> {
    (0..n).map(|_| Slot::new()).collect()
}

/// Both rings of one window.
struct Rings {
    fine: Box<[Slot]>,
    coarse: Box<[Slot]>,
}

/// One latency figure over the 1 min, 5 min and 1 h windows.
///
/// Both rings sit behind one lock: a sample goes into a slot of each, so one lock per
/// sample instead of one per slot (reads, at most every second, hold it while merging).
pub struct LatencyWindow {
    rings: Mutex<Rings>,
}

impl Default for LatencyWindow {
    fn default() -> Self {
        Self {
            rings: Mutex::new(Rings {
                fine: ring(FIVE_MIN + 1),
                coarse: ring(ONE_HOUR + 1),
            }),
        }
    }
}

impl LatencyWindow {
    fn lock(&self) -> std::sync::MutexGuard<'_, Rings> {
        // A panic while holding the rings leaves histograms, not a broken invariant.
        self.rings.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record_seconds(&self, seconds: f64) {
        self.record_ns((seconds * 1e9) as u64);
    }

    pub fn record_ns(&self, ns: u64) {
        let now = clock::now_ms();
        let mut rings = self.lock();
        let Rings { fine, coarse } = &mut *rings;
        for (slots, width) in [(fine, FINE_MS), (coarse, COARSE_MS)] {
            let turn = now / width;
            let len = slots.len() as u64;
            let slot = &mut slots[(turn % len) as usize];
            if slot.turn != turn {
                slot.hist.reset();
                slot.turn = turn;
            }
            // `record` grows an auto-resizing histogram; `saturating_record` would clamp
            // to its current top instead. It fails only past u64 range limits.
            if slot.hist.record(ns).is_err() {
                slot.hist.saturating_record(ns);
            }
        }
    }

    /// The three windows now.
    pub fn read(&self) -> Win {
        let now = clock::now_ms();
        let rings = self.lock();
        Win {
            one_min: merge(&rings.fine, now / FINE_MS, ONE_MIN),
            five_min: merge(&rings.fine, now / FINE_MS, FIVE_MIN),
            one_hour: merge(&rings.coarse, now / COARSE_MS, ONE_HOUR),
        }
    }

    /// Empties every slot.
    pub fn reset(&self) {
        let mut rings = self.lock();
        let Rings { fine, coarse } = &mut *rings;
        for slot in fine.iter_mut().chain(coarse.iter_mut()) {
            slot.turn = EMPTY;
            slot.hist.reset();
        }
    }

    /// Gives back the memory of slots outside every window (their histograms grew to
    /// the largest value they held); returns how many.
    pub fn drop_stale(&self) -> usize {
        let now = clock::now_ms();
        let mut dropped = 0;
        let mut rings = self.lock();
        let Rings { fine, coarse } = &mut *rings;
        for (slots, width, keep) in [(fine, FINE_MS, FIVE_MIN), (coarse, COARSE_MS, ONE_HOUR)] {
            let current = now / width;
            for slot in slots.iter_mut() {
                if slot.turn != EMPTY && current.saturating_sub(slot.turn) > keep {
                    *slot = Slot::new();
                    dropped += 1;
                }
            }
        }
        dropped
    }
}

fn merge(slots: &[Slot], current: u64, before: u64) -> Lat {
    let mut total: Histogram<u64> = Histogram::new(2).expect("valid");
    for slot in slots {
        if slot.turn != EMPTY && slot.turn <= current && current - slot.turn <= before {
            // Both auto-resize: adding cannot go out of range.
            let _ = total.add(&slot.hist);
        }
    }
    Lat::of(&total)
}

/// Latency over one window, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}))]
pub struct Lat {
    pub count: u64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Lat {
    fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |ns: u64| ns as f64 / 1e6;
        Self {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.50)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            // The histogram's max is rounded to its precision like the quantiles, so
            // p99 <= max holds.
            max: ms(h.max()),
        }
    }
}

/// One latency figure over the three sliding windows.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct Win {
    #[serde(rename = "1m")]
    pub one_min: Lat,
    #[serde(rename = "5m")]
    pub five_min: Lat,
    #[serde(rename = "1h")]
    pub one_hour: Lat,
}

/// Bits of a count slot that hold its count; its turn is in the bits above (2^28 turns
/// of 10 s are 85 years, 2^36 a count no 10 s reach).
const COUNT_BITS: u32 = 36;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

/// A monotonic count with its last minute, for `…_total` and `…_per_s`.
///
/// Lock-free, because requests on every worker thread add to the same few counts: each
/// slot (the current 10 s and the ones before it) is one atomic word holding its turn
/// and its count, so adding is one compare-and-swap that also empties a slot left from
/// an older turn.
pub struct Count {
    total: AtomicU64,
    slots: [AtomicU64; ONE_MIN as usize + 1],
}

impl Default for Count {
    fn default() -> Self {
        Self {
            total: AtomicU64::new(0),
            slots: std::array::from_fn(|_| AtomicU64::new(EMPTY)),
        }
    }
}

impl Count {
    pub fn add(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
        self.add_to_window(n);
    }

    /// Counts `n` in the window only (the total is kept elsewhere).
    pub fn add_to_window(&self, n: u64) {
        let turn = clock::now_ms() / FINE_MS;
        let slot = &self.slots[(turn % (ONE_MIN + 1)) as usize];
        let _ = slot.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
            let count = if w != EMPTY && w >> COUNT_BITS == turn {
                (w & COUNT_MASK).saturating_add(n)
            } else {
                n
            };
            Some((turn << COUNT_BITS) | count.min(COUNT_MASK))
        });
    }

    /// (turn, count) of a slot, `None` when empty.
    fn slot(&self, i: usize) -> Option<(u64, u64)> {
        let w = self.slots[i].load(Ordering::Relaxed);
        (w != EMPTY).then_some((w >> COUNT_BITS, w & COUNT_MASK))
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Per second over the last minute (the slots it keeps), or since `since_ms` when
    /// that is later.
    pub fn per_second(&self, since_ms: u64) -> f64 {
        let now = clock::precise_ms();
        let current = clock::now_ms() / FINE_MS;
        let count: u64 = (0..self.slots.len())
            .filter_map(|i| self.slot(i))
            .filter(|(t, _)| *t <= current && current - *t <= ONE_MIN)
            .map(|(_, n)| n)
            .sum();
        let window_start = current.saturating_sub(ONE_MIN) * FINE_MS;
        let span_ms = now.saturating_sub(window_start.max(since_ms));
        if span_ms == 0 {
            return 0.0;
        }
        count as f64 * 1000.0 / span_ms as f64
    }

    pub fn reset(&self) {
        self.total.store(0, Ordering::Relaxed);
        for slot in &self.slots {
            slot.store(EMPTY, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_ordered_and_count_every_sample() {
        clock::start();
        let w = LatencyWindow::default();
        for i in 1..=1000u64 {
            w.record_ns(i * 1000);
        }
        let r = w.read();
        for lat in [r.one_min, r.five_min, r.one_hour] {
            assert_eq!(lat.count, 1000);
            assert!(lat.p50 <= lat.p95 && lat.p95 <= lat.p99 && lat.p99 <= lat.max);
            assert!((lat.p50 - 0.5).abs() < 0.01, "{lat:?}");
            assert!((lat.max - 1.0).abs() < 0.01, "{lat:?}");
        }
        w.reset();
        assert_eq!(w.read().one_hour.count, 0);
    }

    #[test]
    fn counts_reset() {
        clock::start();
        let c = Count::default();
        c.add(5);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(c.total(), 5);
        assert!(c.per_second(0) > 0.0);
        c.reset();
        assert_eq!(c.total(), 0);
        assert_eq!(c.per_second(0), 0.0);
    }
}
