//! What the monitoring API reports, and where each figure comes from.
//!
//! Rules:
//! - **One timing, two sinks.** Nothing here times anything. Latencies reach
//!   [`Monitor`] from the instrumentation `/metrics` already has: the HTTP request layer
//!   (`crate::metrics::track`) hands its measured duration to both, and the engine's,
//!   journal's and store's `metrics::histogram!` samples (core apply, fsync, database
//!   statements) are teed by the process recorder (`crate::metrics`) into the windows
//!   here, as are the trading and rate-limit counters. The engine stays unaware of this
//!   crate (dependencies point down).
//! - **Same switch as `/metrics`.** Recording happens only while the recorder records
//!   (`[metrics] enabled`); with metrics off the windows and these totals stay empty and
//!   cost nothing. What the app keeps as state anyway (WebSocket and notification
//!   counters, read-model lag, health) is read live from it and reported either way.
//! - **Process-wide, like the recorder.** One server per process in a deployment; tests
//!   that start several in one process see their sum (as on `/metrics`).
//! - **Reset** (`POST /api/v1/monitoring/metrics/reset`) empties the windows and zeroes
//!   the totals here, and moves the per-app baseline ([`Baselines`]) of the live
//!   counters; Prometheus counters and trading state are untouched.
//! - Aggregates (merged histograms) are cached: [`Monitor::latencies`] takes the age the
//!   caller accepts (1 s for the dashboard, 10 s for the other endpoints). Counters are
//!   always live.

use super::windows::{clock, Count, LatencyWindow, Win};
use crate::notify::NotifyStatsSnapshot;
use crate::push::WsStatsSnapshot;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// The process's monitoring windows and totals.
#[derive(Default)]
pub struct Monitor {
    pub api_latency: LatencyWindow,
    pub match_latency: LatencyWindow,
    pub fsync_latency: LatencyWindow,
    pub db_latency: LatencyWindow,
    pub requests: Count,
    /// Answers with a 5xx status.
    pub server_errors: Count,
    /// Answers with a 4xx status.
    pub client_errors: Count,
    /// Orders placed (accepted or rejected by the core), on every channel.
    pub orders: Count,
    pub rejects: Count,
    pub trades: Count,
    pub cancels: Count,
    pub refusals: Count,
    pub journal_bytes: Count,
    /// Window only: the total is the app's own counter (`WsStats::messages_sent`).
    pub ws_messages: Count,
    /// `clock::precise_ms` of the last reset (0: never).
    reset_at: AtomicU64,
    cache: Mutex<Option<(Instant, Latencies)>>,
}

pub static MONITOR: LazyLock<Monitor> = LazyLock::new(|| {
    clock::start();
    Monitor::default()
});

/// The four latency figures, merged.
#[derive(Debug, Clone, Copy)]
pub struct Latencies {
    pub api: Win,
    pub matching: Win,
    pub fsync: Win,
    pub db: Win,
}

impl Monitor {
    /// One HTTP answer, timed by the request layer.
    pub fn http(&self, status: u16, elapsed: Duration) {
        self.requests.add(1);
        match status {
            500.. => self.server_errors.add(1),
            400.. => self.client_errors.add(1),
            _ => {}
        }
        self.api_latency.record_ns(elapsed.as_nanos() as u64);
    }

    /// The window a histogram family feeds, if any (the recorder's tee).
    pub fn window_for(&self, family: &str) -> Option<&LatencyWindow> {
        Some(match family {
            bourse_engine::metrics::APPLY_SECONDS => &self.match_latency,
            bourse_engine::metrics::FSYNC_SECONDS => &self.fsync_latency,
            bourse_engine::metrics::DB_QUERY_SECONDS => &self.db_latency,
            _ => return None,
        })
    }

    /// The totals a counter family feeds (the recorder's tee).
    pub fn counts_for(&self, family: &str) -> [Option<&Count>; 2] {
        use bourse_engine::metrics as m;
        match family {
            m::ORDERS_ACCEPTED => [Some(&self.orders), None],
            m::ORDERS_REJECTED => [Some(&self.orders), Some(&self.rejects)],
            m::TRADES => [Some(&self.trades), None],
            m::CANCELS => [Some(&self.cancels), None],
            m::WRITTEN_BYTES => [Some(&self.journal_bytes), None],
            bourse_gateway::limits::RATE_LIMIT_REFUSALS => [Some(&self.refusals), None],
            _ => [None, None],
        }
    }

    /// Merged latencies no older than `max_age`.
    pub fn latencies(&self, max_age: Duration) -> Latencies {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, l)) = cache.as_ref() {
            if at.elapsed() <= max_age {
                return *l;
            }
        }
        let l = Latencies {
            api: self.api_latency.read(),
            matching: self.match_latency.read(),
            fsync: self.fsync_latency.read(),
            db: self.db_latency.read(),
        };
        *cache = Some((Instant::now(), l));
        l
    }

    /// Per second over the last minute (since the reset when that is later).
    pub fn rate(&self, c: &Count) -> f64 {
        c.per_second(self.reset_at.load(Ordering::Relaxed))
    }

    fn windows(&self) -> [&LatencyWindow; 4] {
        [
            &self.api_latency,
            &self.match_latency,
            &self.fsync_latency,
            &self.db_latency,
        ]
    }

    fn counts(&self) -> [&Count; 10] {
        [
            &self.requests,
            &self.server_errors,
            &self.client_errors,
            &self.orders,
            &self.rejects,
            &self.trades,
            &self.cancels,
            &self.refusals,
            &self.journal_bytes,
            &self.ws_messages,
        ]
    }

    /// Empties every window and total.
    pub fn reset(&self) {
        self.reset_at
            .store(clock::precise_ms().max(1), Ordering::Relaxed);
        for w in self.windows() {
            w.reset();
        }
        for c in self.counts() {
            c.reset();
        }
        self.forget_cache();
    }

    pub fn forget_cache(&self) {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Frees the histograms of slots outside every window; returns how many.
    pub fn drop_stale(&self) -> usize {
        self.windows().iter().map(|w| w.drop_stale()).sum()
    }
}

/// The app's live counters at the last reset (and its wall-clock time): what its
/// monitoring totals subtract.
#[derive(Debug, Default)]
pub struct Baselines(Mutex<Option<(u64, WsStatsSnapshot, NotifyStatsSnapshot)>>);

impl Baselines {
    /// The counters since the last reset.
    pub fn since(
        &self,
        ws: WsStatsSnapshot,
        n: NotifyStatsSnapshot,
    ) -> (WsStatsSnapshot, NotifyStatsSnapshot) {
        let base = *self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some((_, bw, bn)) = base else {
            return (ws, n);
        };
        let d = |a: u64, b: u64| a.saturating_sub(b);
        (
            WsStatsSnapshot {
                connections: ws.connections,
                subscriptions: ws.subscriptions,
                messages_sent: d(ws.messages_sent, bw.messages_sent),
                slow_consumers_closed: d(ws.slow_consumers_closed, bw.slow_consumers_closed),
                idle_closed: d(ws.idle_closed, bw.idle_closed),
                resyncs: d(ws.resyncs, bw.resyncs),
            },
            NotifyStatsSnapshot {
                created: d(n.created, bn.created),
                queued: d(n.queued, bn.queued),
                sent: d(n.sent, bn.sent),
                batched_frames: d(n.batched_frames, bn.batched_frames),
                dropped: d(n.dropped, bn.dropped),
                dead_lettered: d(n.dead_lettered, bn.dead_lettered),
                inbox_errors: d(n.inbox_errors, bn.inbox_errors),
                backlog_commands: n.backlog_commands,
            },
        )
    }

    pub fn reset(&self, at_ms: u64, ws: WsStatsSnapshot, n: NotifyStatsSnapshot) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((at_ms, ws, n));
    }

    /// Wall clock of the last reset.
    pub fn reset_at_ms(&self) -> Option<u64> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|(at, _, _)| at)
    }
}
