//! Prometheus metrics: the process-wide recorder, the HTTP request layer and
//! `GET /metrics` (text exposition rendered by `metrics-exporter-prometheus`).
//!
//! Rules:
//! - **One recorder per process.** The `metrics` facade has one global recorder, and what
//!   it counts is the process (RSS, fds, the engine's thread), so it is installed once,
//!   by the first app started with `[metrics] enabled`, and never replaced. Several apps
//!   in one process (the test harness, the bench) share it: families fed from the
//!   engine and gateway add up over those apps, so tests assert on deltas of labels
//!   unique to them (their own market), and on the figures below that are read from the
//!   scraped app's own state.
//! - **On/off without a restart of the process.** The recorder records only while at
//!   least one app with metrics enabled is running ([`Active`] counts them). With none,
//!   every `counter!`/`histogram!` gets a no-op handle: `[metrics] enabled = false` costs
//!   an atomic load per call site, and the bench can compare on and off in one run.
//! - **Scrape-time figures.** What the app already keeps as state (queue depth,
//!   read-model lag, WebSocket and notification counters, process figures) is read when
//!   `/metrics` is scraped, not recorded on the hot path.
//! - **Bounded labels.** Routes are axum's templates (`/api/v1/orders/{id}`), never raw
//!   paths; unrouted requests are `route="unmatched"`; methods outside the standard set
//!   are `other`.

use crate::monitoring::figures::MONITOR;
use crate::monitoring::windows::{Count, LatencyWindow};
use crate::state::SharedState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const HTTP_REQUESTS: &str = "bourse_http_requests_total";
pub const HTTP_SECONDS: &str = "bourse_http_request_duration_seconds";
pub const WS_SUBSCRIPTIONS: &str = "bourse_ws_subscriptions_total";
pub const NOTIFICATIONS_QUEUED: &str = "bourse_notifications_queued_total";
pub const NOTIFICATIONS_DEAD: &str = "bourse_notifications_dead_lettered_total";
pub const NOTIFICATIONS_SENT: &str = "bourse_notifications_sent_total";
pub const NOTIFICATIONS_BATCHED: &str = "bourse_notifications_batched_total";

/// Latency buckets (seconds): 50 µs to 10 s, for core, fsync, database and HTTP alike.
const SECONDS_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// Apps running with metrics enabled in this process.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();

/// Held by a running app with metrics enabled; recording stops when the last is dropped.
pub struct Active(());

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Installs the recorder on first use and starts recording. Call before the sequencer
/// is spawned: it registers its histograms per batch, so nothing is missed.
pub fn enable() -> Active {
    HANDLE.get_or_init(install);
    ACTIVE.fetch_add(1, Ordering::AcqRel);
    Active(())
}

fn recording() -> bool {
    ACTIVE.load(Ordering::Relaxed) > 0
}

fn install() -> PrometheusHandle {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(bourse_engine::metrics::BATCH_COMMANDS.into()),
                BATCH_BUCKETS,
            )
        })
        .expect("bucket lists are non-empty constants")
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(Switch(recorder)).is_err() {
        // Someone else installed a recorder first (an embedding program): ours renders
        // nothing then, and says so.
        tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
    }
    // Histograms keep raw samples until drained: drain them even when nobody scrapes.
    let upkeep = handle.clone();
    let _ = std::thread::Builder::new()
        .name("bourse-metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(5));
            upkeep.run_upkeep();
        });
    describe();
    handle
}

/// The global recorder: Prometheus while an app records, no-op handles otherwise.
struct Switch(PrometheusRecorder);

impl Recorder for Switch {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_counter(key, unit, description);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_gauge(key, unit, description);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_histogram(key, unit, description);
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        if !recording() {
            return Counter::noop();
        }
        let prom = self.0.register_counter(key, metadata);
        match MONITOR.counts_for(key.name()) {
            [None, _] => prom,
            [Some(a), b] => Counter::from_arc(std::sync::Arc::new(TeeCounter(prom, a, b))),
        }
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        if recording() {
            self.0.register_gauge(key, metadata)
        } else {
            Gauge::noop()
        }
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        if !recording() {
            return Histogram::noop();
        }
        let prom = self.0.register_histogram(key, metadata);
        match MONITOR.window_for(key.name()) {
            Some(w) => Histogram::from_arc(std::sync::Arc::new(TeeHistogram(prom, w))),
            None => prom,
        }
    }
}

/// A counter family the monitoring API also totals: each increment goes to both.
struct TeeCounter(Counter, &'static Count, Option<&'static Count>);

impl CounterFn for TeeCounter {
    fn increment(&self, n: u64) {
        self.0.increment(n);
        self.1.add(n);
        if let Some(c) = self.2 {
            c.add(n);
        }
    }
    fn absolute(&self, n: u64) {
        // The teed families are only ever incremented.
        self.0.absolute(n);
    }
}

/// A histogram family the monitoring windows also keep: the same sample goes to both.
struct TeeHistogram(Histogram, &'static LatencyWindow);

impl HistogramFn for TeeHistogram {
    fn record(&self, seconds: f64) {
        self.0.record(seconds);
        self.1.record_seconds(seconds);
    }
}

/// Adds `GET /metrics` to the app's router (only when enabled).
///
/// The HTTP families are recorded by the outermost layer every route already has
/// ([`crate::monitoring::request_id::middleware`], through [`request_started`] and
/// [`request_finished`]), not by a layer of their own: `Router::layer` nests each route
/// once more, and axum clones a route's whole boxed stack per request at every level, so
/// an extra layer cost ~27 allocations per request (callgrind) for two counter bumps.
pub fn mount(app: axum::Router, state: SharedState) -> axum::Router {
    let (scrape_route, _) = router().split_for_parts();
    app
        // The API's error shape for its 405s, like every other route.
        .merge(
            scrape_route
                .with_state(state)
                .layer(axum::middleware::from_fn(crate::error::json_errors))
                .layer(axum::middleware::from_fn(
                    crate::monitoring::request_id::middleware,
                )),
        )
}

/// `GET /metrics` with its part of the OpenAPI document. The document always has it
/// (it is part of the contract); the route is served only when metrics are on.
pub fn router() -> utoipa_axum::router::OpenApiRouter<SharedState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(scrape))
}

/// A request being timed for the HTTP families.
pub(crate) struct RequestTiming {
    route: Option<MatchedPath>,
    method: usize,
    started: Instant,
}

/// Starts timing a request; `None` while nothing records, and for scrapes of
/// `/metrics` (which do not count themselves). Routes are axum's templates: the layer
/// calling this wraps each route, so it sees [`MatchedPath`]; without one (the
/// fallback) the route is `unmatched`.
pub(crate) fn request_started(req: &Request) -> Option<RequestTiming> {
    if !recording() {
        return None;
    }
    // `MatchedPath` is an `Arc<str>` inside: cloning it allocates nothing.
    let route = req.extensions().get::<MatchedPath>().cloned();
    if route.as_ref().is_some_and(|r| r.as_str() == "/metrics") {
        return None;
    }
    Some(RequestTiming {
        route,
        method: method_index(req.method()),
        started: Instant::now(),
    })
}

/// Records a timed request's answer.
pub(crate) fn request_finished(t: RequestTiming, response: &Response) {
    let elapsed = t.started.elapsed();
    let code = response.status().as_u16();
    let route = t.route.as_ref().map_or("unmatched", MatchedPath::as_str);
    record_http(route, t.method, code, elapsed);
    // The monitoring API's figures, from the same timing.
    MONITOR.http(code, elapsed);
}

/// Method labels; a request's method is an index into this.
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other",
];

fn method_index(m: &Method) -> usize {
    match *m {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::PATCH => 3,
        Method::DELETE => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

/// This thread's handles of the two HTTP families for one route template.
///
/// Why: `counter!`/`histogram!` with labels build a key (three label strings, the
/// status formatted) and look it up in the recorder's registry on every call; per
/// request that cost more than recording itself. A handle is registered once per
/// (thread, route, method, status) and kept: it stays valid because the recorder is
/// never replaced, and it is never a no-op one because only [`request_finished`] fills this,
/// after [`request_started`] checked that the recorder records. Per thread, so the hot path takes no lock and
/// touches no shared cache line but the metric's own. Bounded like the labels: routes
/// are templates, methods a fixed set, statuses a few per route.
#[derive(Default)]
struct RouteHandles {
    /// The latency histogram per method index.
    seconds: [Option<Histogram>; METHODS.len()],
    /// Request counters by (method index, status); a few per route, so a list.
    requests: Vec<(usize, u16, Counter)>,
}

thread_local! {
    static HTTP_HANDLES: std::cell::RefCell<rustc_hash::FxHashMap<Box<str>, RouteHandles>> =
        std::cell::RefCell::new(rustc_hash::FxHashMap::default());
}

fn record_http(route: &str, method: usize, status: u16, elapsed: Duration) {
    HTTP_HANDLES.with(|cell| {
        let mut map = cell.borrow_mut();
        if !map.contains_key(route) {
            map.insert(route.into(), RouteHandles::default());
        }
        let handles = map.get_mut(route).expect("inserted above");
        let m = METHODS[method];
        handles.seconds[method]
            .get_or_insert_with(|| {
                metrics::histogram!(HTTP_SECONDS, "route" => route.to_owned(), "method" => m)
            })
            .record(elapsed);
        let at = handles
            .requests
            .iter()
            .position(|(mi, s, _)| *mi == method && *s == status);
        let at = at.unwrap_or_else(|| {
            let c = metrics::counter!(
                HTTP_REQUESTS, "route" => route.to_owned(), "method" => m, "status" => status.to_string()
            );
            handles.requests.push((method, status, c));
            handles.requests.len() - 1
        });
        handles.requests[at].2.increment(1);
    });
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    description = "The `bourse_*` families in the Prometheus text exposition format 0.0.4 \
                   (see docs/operations.md). Not served (404) when `[metrics] enabled = false`.",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 404, description = "`NOT_FOUND`: metrics are off", body = crate::openapi::ErrorResponse),
    )
)]
async fn scrape(State(state): State<SharedState>) -> Response {
    let Some(handle) = HANDLE.get() else {
        return crate::error::not_found().await.into_response();
    };
    scrape_time_figures(&state);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// Reads what the scraped app keeps as state into gauges and counters.
fn scrape_time_figures(state: &SharedState) {
    use metrics::{counter, gauge};
    let status = state.seq.status();
    let committed = status.committed_seq();
    let projected = state.projector.projected_seq();
    gauge!("bourse_journal_committed_sequence").set(committed as f64);
    gauge!("bourse_readmodel_projected_sequence").set(projected as f64);
    gauge!("bourse_readmodel_lag_commands").set(committed.saturating_sub(projected) as f64);
    gauge!("bourse_readmodel_healthy").set(f64::from(u8::from(state.projector.error().is_none())));
    gauge!("bourse_sequencer_running").set(f64::from(u8::from(status.running())));
    gauge!("bourse_journal_available").set(f64::from(u8::from(status.poisoned().is_none())));
    let tx = state.seq.raw_sender();
    gauge!("bourse_sequencer_queue_depth").set((tx.max_capacity() - tx.capacity()) as f64);

    let ws = state.realtime.stats.snapshot();
    gauge!("bourse_ws_connections").set(ws.connections as f64);
    counter!("bourse_ws_messages_sent_total").absolute(ws.messages_sent);
    counter!("bourse_ws_slow_consumers_closed_total").absolute(ws.slow_consumers_closed);
    counter!("bourse_ws_idle_closed_total").absolute(ws.idle_closed);

    let n = state.realtime.notifier.stats();
    counter!("bourse_notifications_created_total").absolute(n.created);
    counter!("bourse_notifications_batched_frames_total").absolute(n.batched_frames);
    counter!("bourse_ws_messages_dropped_total").absolute(n.dropped);
    gauge!("bourse_notifications_backlog_commands").set(n.backlog_commands as f64);

    PROCESS
        .get_or_init(|| {
            let c = metrics_process::Collector::new("bourse_");
            c.describe();
            c
        })
        .collect();
}

/// One WebSocket subscription made (re-subscribing to a channel held is not one).
pub fn ws_subscribed(channel: &str) {
    // The kind only (`book`, not `book.BTC-USD`), from a fixed set: bounded labels.
    let kind = match channel.split('.').next().unwrap_or_default() {
        "book" => "book",
        "trades" => "trades",
        "ticker" => "ticker",
        "candles" => "candles",
        "orders" => "orders",
        "fills" => "fills",
        "balances" => "balances",
        "notifications" => "notifications",
        _ => "other",
    };
    metrics::counter!(WS_SUBSCRIPTIONS, "channel" => kind).increment(1);
}

/// WebSocket frames written (the total is `WsStats::messages_sent`; this feeds the
/// monitoring API's per-second rate, while metrics record).
pub fn ws_frames_sent(n: u64) {
    if n > 0 && recording() {
        MONITOR.ws_messages.add_to_window(n);
    }
}

/// Whether an app with metrics enabled runs in this process (the monitoring windows
/// record only then).
pub fn enabled() -> bool {
    recording()
}

/// A notification put on a connection's queue.
pub fn notification_queued(priority: &str) {
    metrics::counter!(NOTIFICATIONS_QUEUED, "priority" => priority.to_owned()).increment(1);
}

/// One frame of notifications written: how many of each priority, and whether it
/// carried more than one (batched).
pub fn notifications_sent(by_priority: &[(&'static str, u64)], batched: bool) {
    for &(priority, n) in by_priority {
        metrics::counter!(NOTIFICATIONS_SENT, "priority" => priority).increment(n);
        if batched {
            metrics::counter!(NOTIFICATIONS_BATCHED, "priority" => priority).increment(n);
        }
    }
}

/// A notification moved to the dead-letter queue.
pub fn notification_dead_lettered(priority: &str) {
    metrics::counter!(NOTIFICATIONS_DEAD, "priority" => priority.to_owned()).increment(1);
}

/// Help text and units of every family (`# HELP` / `# TYPE` lines on `/metrics`).
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    bourse_engine::metrics::describe();
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route template, method and status."
    );
    describe_histogram!(
        HTTP_SECONDS,
        Unit::Seconds,
        "HTTP request latency, by route template and method."
    );
    describe_counter!(
        bourse_gateway::limits::RATE_LIMIT_REFUSALS,
        "Requests and frames refused by a rate limit, by limit class."
    );
    describe_counter!(
        bourse_gateway::auth::login::LOGIN_FAILURES,
        "Refused logins, by reason (invalid_credentials, throttled)."
    );
    describe_gauge!(
        "bourse_sequencer_queue_depth",
        "Requests waiting for the sequencer thread."
    );
    describe_gauge!(
        "bourse_journal_committed_sequence",
        "Sequence of the last command in the journal and applied."
    );
    describe_gauge!(
        "bourse_readmodel_projected_sequence",
        "Sequence of the last command written to the read-model database."
    );
    describe_gauge!(
        "bourse_readmodel_lag_commands",
        "Committed minus projected sequence: commands the read models lag behind."
    );
    describe_gauge!(
        "bourse_readmodel_healthy",
        "0 while the last projection into the read-model database failed."
    );
    describe_gauge!(
        "bourse_sequencer_running",
        "1 while the sequencer thread runs."
    );
    describe_gauge!(
        "bourse_journal_available",
        "0 once the journal refused a write (trading halted)."
    );
    describe_gauge!("bourse_ws_connections", "Open WebSocket connections.");
    describe_counter!(
        WS_SUBSCRIPTIONS,
        "WebSocket subscriptions made, by channel kind."
    );
    describe_counter!(
        "bourse_ws_messages_sent_total",
        "WebSocket frames written to clients."
    );
    describe_counter!(
        "bourse_ws_messages_dropped_total",
        "Notifications not put on a connection because it was slow or closing."
    );
    describe_counter!(
        "bourse_ws_slow_consumers_closed_total",
        "WebSocket connections closed because their queue was full."
    );
    describe_counter!(
        "bourse_ws_idle_closed_total",
        "WebSocket connections closed for idleness."
    );
    describe_counter!(
        "bourse_notifications_created_total",
        "Notifications written to an inbox."
    );
    describe_counter!(
        NOTIFICATIONS_QUEUED,
        "Notifications put on a connection's queue, by priority."
    );
    describe_counter!(
        NOTIFICATIONS_SENT,
        "Notifications written to a socket, by priority."
    );
    describe_counter!(
        NOTIFICATIONS_BATCHED,
        "Notifications written in a frame with others (batched), by priority."
    );
    describe_counter!(
        "bourse_notifications_batched_frames_total",
        "Frames written carrying one or more notifications."
    );
    describe_counter!(
        NOTIFICATIONS_DEAD,
        "Notifications moved to the dead-letter queue, by priority."
    );
    describe_gauge!(
        "bourse_notifications_backlog_commands",
        "Committed commands not yet turned into notifications."
    );
}
