//! The monitoring API (role `admin`; others get 403 `FORBIDDEN`, anonymous callers 401),
//! under `/api/v1/monitoring/`: `health`, `metrics/api`, `metrics/trading`,
//! `metrics/websocket`, `metrics/database`, `dashboard` (all of them in one answer, for
//! the admin console), `notifications/stats`, `system/status`, `POST metrics/reset` and
//! `POST cleanup`.
//!
//! Where each figure comes from, and what reset means, is [`super::figures`]. Latencies
//! are milliseconds (JSON numbers: not money); totals count since start or the last
//! reset; `…_per_s` is per second over the last minute. Neither POST journals anything
//! or touches trading state.

use super::figures::{Latencies, MONITOR};
use super::windows::Win;
use crate::api::health::{report, HealthStatus};
use crate::auth::AdminUser;
use crate::monitoring::checks::Checks;
use crate::notify::NotifyStatsSnapshot;
use crate::openapi::ErrorResponse;
use crate::push::WsStatsSnapshot;
use crate::state::SharedState;
use axum::extract::State;
use axum::Json;
use bourse_engine::sequencer::now_ms;
use serde::Serialize;
use std::time::Duration;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

/// How old the merged histograms may be: the dashboard polls every 2 s.
const DASHBOARD_MAX_AGE: Duration = Duration::from_secs(1);
const MAX_AGE: Duration = Duration::from_secs(10);

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(health))
        .routes(routes!(api_metrics))
        .routes(routes!(trading_metrics))
        .routes(routes!(websocket_metrics))
        .routes(routes!(database_metrics))
        .routes(routes!(dashboard))
        .routes(routes!(notification_stats))
        .routes(routes!(system_status))
        .routes(routes!(reset))
        .routes(routes!(cleanup))
}

/// `/health`'s verdict and checks.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "healthy", "checks": {"database": {"ok": true, "latency_us": 412}, "journal": {"ok": true}}}))]
struct HealthJson {
    status: HealthStatus,
    #[schema(value_type = std::collections::BTreeMap<String, crate::monitoring::checks::Check>)]
    checks: Checks,
}

/// HTTP requests answered (every route but `/metrics`), timed by the request layer.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"requests_total": 5120, "requests_per_s": 42.5, "errors_total": 0, "client_errors_total": 12, "latency_ms": {"1m": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}, "5m": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}, "1h": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}}}))]
struct ApiFigures {
    requests_total: u64,
    requests_per_s: f64,
    /// Answers with a 5xx status.
    errors_total: u64,
    /// Answers with a 4xx status (429s included).
    client_errors_total: u64,
    latency_ms: Win,
}

/// Orders, trades and cancels from the core's events (every channel), and the time the
/// core takes to apply one command.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"orders_total": 900, "orders_per_s": 15.0, "rejects_total": 3, "trades_total": 410, "trades_per_s": 6.8, "cancels_total": 120, "match_latency_ms": {"1m": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}, "5m": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}, "1h": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}}, "queue_depth": 0}))]
struct TradingFigures {
    /// Orders placed: accepted plus rejected.
    orders_total: u64,
    orders_per_s: f64,
    rejects_total: u64,
    trades_total: u64,
    trades_per_s: f64,
    cancels_total: u64,
    match_latency_ms: Win,
    /// Requests waiting for the sequencer now.
    queue_depth: u64,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"connections": 3, "subscriptions": 7, "messages_sent_total": 20000, "messages_per_s": 110.0, "dropped_total": 0, "slow_consumers_closed_total": 0, "idle_closed_total": 1}))]
struct WebsocketFigures {
    /// Open connections now.
    connections: u64,
    /// Subscriptions the open connections hold now.
    subscriptions: u64,
    messages_sent_total: u64,
    messages_per_s: f64,
    /// Notifications not put on a connection because it was slow or closing.
    dropped_total: u64,
    slow_consumers_closed_total: u64,
    idle_closed_total: u64,
}

#[derive(Serialize, ToSchema)]
struct DatabaseFigures {
    /// Committed minus projected sequence.
    read_model_lag: u64,
    projected_seq: u64,
    /// Read-model statements: projector transactions and read queries.
    query_latency_ms: Win,
    /// The last projection failure, while it lasts.
    projector_error: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct JournalFigures {
    committed_seq: u64,
    /// One fdatasync of the file journal (empty with NATS).
    fsync_latency_ms: Win,
    bytes_written_total: u64,
    /// `false` once a write failed (trading halted).
    available: bool,
}

#[derive(Serialize, ToSchema)]
struct NotificationFigures {
    /// Committed commands the notification service has not turned into notifications
    /// yet (its queue).
    queued: u64,
    /// Written to inboxes.
    created_total: u64,
    /// Put on connection queues.
    queued_total: u64,
    /// Written to sockets.
    sent_total: u64,
    /// Frames written carrying one or more.
    batched_frames_total: u64,
    dropped_total: u64,
    dead_lettered_total: u64,
    inbox_errors_total: u64,
}

#[derive(Serialize, ToSchema)]
struct RateLimitFigures {
    /// Requests and WebSocket frames refused by a rate limit.
    refusals_total: u64,
    refusals_per_s: f64,
}

/// Every figure at once, for the admin console's charts.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"time_ms": 1764700000000u64, "health": {"status": "healthy", "checks": {"journal": {"ok": true}}}, "api": {"requests_total": 5120, "requests_per_s": 42.5, "errors_total": 0, "client_errors_total": 12, "latency_ms": {"1m": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}, "5m": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}, "1h": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}}}, "trading": {"orders_total": 900, "orders_per_s": 15.0, "rejects_total": 3, "trades_total": 410, "trades_per_s": 6.8, "cancels_total": 120, "match_latency_ms": {"1m": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}, "5m": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}, "1h": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}}, "queue_depth": 0}, "websocket": {"connections": 3, "subscriptions": 7, "messages_sent_total": 20000, "messages_per_s": 110.0, "dropped_total": 0, "slow_consumers_closed_total": 0, "idle_closed_total": 1}, "database": {"read_model_lag": 0, "projected_seq": 1042, "query_latency_ms": {"1m": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}, "5m": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}, "1h": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}}, "projector_error": null}, "journal": {"committed_seq": 1042, "fsync_latency_ms": {"1m": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}, "5m": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}, "1h": {"count": 1200, "p50": 0.41, "p95": 1.2, "p99": 3.4, "max": 12.5}}, "bytes_written_total": 183000, "available": true}, "notifications": {"queued": 0, "created_total": 800, "queued_total": 500, "sent_total": 500, "batched_frames_total": 230, "dropped_total": 0, "dead_lettered_total": 0, "inbox_errors_total": 0}, "rate_limit": {"refusals_total": 4, "refusals_per_s": 0.05}}))]
struct Dashboard {
    /// Server wall clock, ms since the epoch.
    time_ms: u64,
    health: HealthJson,
    api: ApiFigures,
    trading: TradingFigures,
    websocket: WebsocketFigures,
    database: DatabaseFigures,
    journal: JournalFigures,
    notifications: NotificationFigures,
    rate_limit: RateLimitFigures,
}

/// The process and the writer.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"time_ms": 1764700000000u64, "uptime_ms": 81234, "version": "0.1.0", "metrics_enabled": true, "monitoring_reset_at_ms": null, "follower": false, "sequencer_running": true, "journal_available": true, "committed_seq": 1042, "queue_depth": 0, "queue_capacity": 65536}))]
struct SystemStatus {
    time_ms: u64,
    uptime_ms: u64,
    version: &'static str,
    /// `[metrics] enabled`: without it the windows and the recorded totals stay empty.
    metrics_enabled: bool,
    /// Wall clock of the last `POST metrics/reset`, if any.
    monitoring_reset_at_ms: Option<u64>,
    follower: bool,
    sequencer_running: bool,
    journal_available: bool,
    committed_seq: u64,
    queue_depth: u64,
    queue_capacity: u64,
    /// Resident memory of the server process; `null` where `/proc` is not there.
    rss_bytes: Option<u64>,
    /// Open file descriptors (sockets, journal and database files); `null` likewise.
    open_fds: Option<u64>,
}

#[derive(Serialize, ToSchema)]
struct ResetJson {
    reset_at_ms: u64,
}

/// What `POST cleanup` freed. It cleans in-memory housekeeping only.
#[derive(Serialize, ToSchema)]
struct CleanupJson {
    /// In-memory rate-limit buckets before and after dropping the ones that refilled
    /// (indistinguishable from new ones).
    rate_limit_keys_before: u64,
    rate_limit_keys_after: u64,
    /// Latency histograms of slots outside every window, given back.
    histogram_slots_freed: u64,
    /// The cached `/health` probes and merged histograms were dropped (the next read
    /// probes and merges again).
    caches_cleared: bool,
}

fn api_figures(l: &Latencies) -> ApiFigures {
    let m = &*MONITOR;
    ApiFigures {
        requests_total: m.requests.total(),
        requests_per_s: m.rate(&m.requests),
        errors_total: m.server_errors.total(),
        client_errors_total: m.client_errors.total(),
        latency_ms: l.api,
    }
}

fn queue(state: &SharedState) -> (u64, u64) {
    let tx = state.seq.raw_sender();
    (
        (tx.max_capacity() - tx.capacity()) as u64,
        tx.max_capacity() as u64,
    )
}

fn trading_figures(state: &SharedState, l: &Latencies) -> TradingFigures {
    let m = &*MONITOR;
    TradingFigures {
        orders_total: m.orders.total(),
        orders_per_s: m.rate(&m.orders),
        rejects_total: m.rejects.total(),
        trades_total: m.trades.total(),
        trades_per_s: m.rate(&m.trades),
        cancels_total: m.cancels.total(),
        match_latency_ms: l.matching,
        queue_depth: queue(state).0,
    }
}

/// The app's live WebSocket and notification counters since the last reset.
fn live(state: &SharedState) -> (WsStatsSnapshot, NotifyStatsSnapshot) {
    state.monitor.since(
        state.realtime.stats.snapshot(),
        state.realtime.notifier.stats(),
    )
}

fn websocket_figures(ws: &WsStatsSnapshot, n: &NotifyStatsSnapshot) -> WebsocketFigures {
    let m = &*MONITOR;
    WebsocketFigures {
        connections: ws.connections,
        subscriptions: ws.subscriptions,
        messages_sent_total: ws.messages_sent,
        messages_per_s: m.rate(&m.ws_messages),
        dropped_total: n.dropped,
        slow_consumers_closed_total: ws.slow_consumers_closed,
        idle_closed_total: ws.idle_closed,
    }
}

fn database_figures(state: &SharedState, l: &Latencies) -> DatabaseFigures {
    let committed = state.seq.status().committed_seq();
    let projected = state.projector.projected_seq();
    DatabaseFigures {
        read_model_lag: committed.saturating_sub(projected),
        projected_seq: projected,
        query_latency_ms: l.db,
        projector_error: state.projector.error(),
    }
}

fn journal_figures(state: &SharedState, l: &Latencies) -> JournalFigures {
    let s = state.seq.status();
    JournalFigures {
        committed_seq: s.committed_seq(),
        fsync_latency_ms: l.fsync,
        bytes_written_total: MONITOR.journal_bytes.total(),
        available: s.poisoned().is_none(),
    }
}

fn notification_figures(n: &NotifyStatsSnapshot) -> NotificationFigures {
    NotificationFigures {
        queued: n.backlog_commands,
        created_total: n.created,
        queued_total: n.queued,
        sent_total: n.sent,
        batched_frames_total: n.batched_frames,
        dropped_total: n.dropped,
        dead_lettered_total: n.dead_lettered,
        inbox_errors_total: n.inbox_errors,
    }
}

fn rate_limit_figures() -> RateLimitFigures {
    let m = &*MONITOR;
    RateLimitFigures {
        refusals_total: m.refusals.total(),
        refusals_per_s: m.rate(&m.refusals),
    }
}

/// Health as `/health` sees it (200 here whatever the state: the question was answered).
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/health",
    tag = "monitoring",
    responses(
        (status = 200, description = "`status` and every check, as `GET /health` has them", body = HealthJson),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn health(State(state): State<SharedState>, _admin: AdminUser) -> Json<HealthJson> {
    let h = report(&state).await;
    Json(HealthJson {
        status: h.status,
        checks: h.checks,
    })
}

/// HTTP request counts, rate and latency (p50/p95/p99 over 1 min, 5 min, 1 h).
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/metrics/api",
    tag = "monitoring",
    responses(
        (status = 200, description = "Since start or the last reset; latencies cached up to 10 s", body = ApiFigures),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn api_metrics(_admin: AdminUser) -> Json<ApiFigures> {
    Json(api_figures(&MONITOR.latencies(MAX_AGE)))
}

/// Orders, rejects, trades, cancels and the core's match latency.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/metrics/trading",
    tag = "monitoring",
    responses(
        (status = 200, description = "Since start or the last reset; latencies cached up to 10 s", body = TradingFigures),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn trading_metrics(
    State(state): State<SharedState>,
    _admin: AdminUser,
) -> Json<TradingFigures> {
    Json(trading_figures(&state, &MONITOR.latencies(MAX_AGE)))
}

/// WebSocket connections, subscriptions and frames.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/metrics/websocket",
    tag = "monitoring",
    responses(
        (status = 200, description = "Gauges now; totals since start or the last reset", body = WebsocketFigures),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn websocket_metrics(
    State(state): State<SharedState>,
    _admin: AdminUser,
) -> Json<WebsocketFigures> {
    let (ws, n) = live(&state);
    Json(websocket_figures(&ws, &n))
}

/// Read-model lag and database statement latency.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/metrics/database",
    tag = "monitoring",
    responses(
        (status = 200, description = "Lag now; latencies cached up to 10 s", body = DatabaseFigures),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn database_metrics(
    State(state): State<SharedState>,
    _admin: AdminUser,
) -> Json<DatabaseFigures> {
    Json(database_figures(&state, &MONITOR.latencies(MAX_AGE)))
}

/// Every figure at once: health, API, trading, WebSocket, database, journal,
/// notifications, rate limits. Percentiles cached up to 1 s; counters live.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/dashboard",
    tag = "monitoring",
    responses(
        (status = 200, description = "The admin console's charts", body = Dashboard),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn dashboard(State(state): State<SharedState>, _admin: AdminUser) -> Json<Dashboard> {
    let h = report(&state).await;
    let l = MONITOR.latencies(DASHBOARD_MAX_AGE);
    let (ws, n) = live(&state);
    Json(Dashboard {
        time_ms: now_ms(),
        health: HealthJson {
            status: h.status,
            checks: h.checks,
        },
        api: api_figures(&l),
        trading: trading_figures(&state, &l),
        websocket: websocket_figures(&ws, &n),
        database: database_figures(&state, &l),
        journal: journal_figures(&state, &l),
        notifications: notification_figures(&n),
        rate_limit: rate_limit_figures(),
    })
}

/// Notification delivery counters.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/notifications/stats",
    tag = "monitoring",
    responses(
        (status = 200, description = "Backlog now; totals since start or the last reset", body = NotificationFigures),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn notification_stats(
    State(state): State<SharedState>,
    _admin: AdminUser,
) -> Json<NotificationFigures> {
    Json(notification_figures(&live(&state).1))
}

/// The process and the writer: uptime, version, whether metrics record, the sequencer.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/system/status",
    tag = "monitoring",
    responses(
        (status = 200, description = "Now", body = SystemStatus),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn system_status(State(state): State<SharedState>, _admin: AdminUser) -> Json<SystemStatus> {
    let s = state.seq.status();
    let (depth, capacity) = queue(&state);
    Json(SystemStatus {
        time_ms: now_ms(),
        uptime_ms: state.started_at.elapsed().as_millis() as u64,
        version: env!("CARGO_PKG_VERSION"),
        metrics_enabled: crate::metrics::enabled(),
        monitoring_reset_at_ms: state.monitor.reset_at_ms(),
        follower: s.is_follower(),
        sequencer_running: s.running(),
        journal_available: s.poisoned().is_none(),
        committed_seq: s.committed_seq(),
        queue_depth: depth,
        queue_capacity: capacity,
        rss_bytes: super::process::resident_memory_bytes(),
        open_fds: super::process::open_fds(),
    })
}

/// Zeroes the monitoring API's windows and totals (not the Prometheus counters, not
/// trading state; nothing is journaled).
#[utoipa::path(
    post,
    path = "/api/v1/monitoring/metrics/reset",
    tag = "monitoring",
    responses(
        (status = 200, description = "Reset; totals count from now", body = ResetJson),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn reset(State(state): State<SharedState>, _admin: AdminUser) -> Json<ResetJson> {
    MONITOR.reset();
    let at = now_ms();
    state.monitor.reset(
        at,
        state.realtime.stats.snapshot(),
        state.realtime.notifier.stats(),
    );
    tracing::info!("monitoring figures reset by an admin");
    Json(ResetJson { reset_at_ms: at })
}

/// Frees in-memory housekeeping: refilled rate-limit buckets, latency histograms outside
/// every window, the cached health probes and merged histograms. Journals nothing and
/// touches no trading state, read model, inbox or session.
#[utoipa::path(
    post,
    path = "/api/v1/monitoring/cleanup",
    tag = "monitoring",
    responses(
        (status = 200, description = "What was freed", body = CleanupJson),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn cleanup(State(state): State<SharedState>, _admin: AdminUser) -> Json<CleanupJson> {
    let before = state.limiter.tracked_keys() as u64;
    state.limiter.prune();
    let after = state.limiter.tracked_keys() as u64;
    let freed = MONITOR.drop_stale() as u64;
    MONITOR.forget_cache();
    state.health_cache.forget().await;
    Json(CleanupJson {
        rate_limit_keys_before: before,
        rate_limit_keys_after: after,
        histogram_slots_freed: freed,
        caches_cleared: true,
    })
}

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    HealthJson,
    ApiFigures,
    TradingFigures,
    WebsocketFigures,
    DatabaseFigures,
    JournalFigures,
    NotificationFigures,
    RateLimitFigures,
    Dashboard,
    SystemStatus,
    ResetJson,
    CleanupJson,
    Win,
    super::windows::Lat
)))]
pub struct Doc;
