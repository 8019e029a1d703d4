//! Operations: `GET /health` (liveness and what is wrong) and `GET /ready`.

use crate::monitoring::checks::{self, Check, Checks};
use crate::state::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(health))
        .routes(routes!(ready))
}

/// `healthy`: all good; `degraded`: serving, but the read side lags or failed, a
/// lossless feed is past half its capacity (`feeds` names it), the rate-limit store
/// cannot be reached (`rate_limit_store`), the read-model database does not answer
/// (`checks.database`), the data dir has less free space than `[health]
/// min_free_disk_mb` (`checks.disk`) or the NATS journal's connection is down
/// (`checks.nats`);
/// `unhealthy`: the journal cannot be written or the sequencer stopped (trading halted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Degraded,
    Unhealthy,
}

/// One lossless feed of applied batches (the projector, notifications, …).
#[derive(Serialize, utoipa::ToSchema)]
struct FeedHealth {
    name: &'static str,
    /// Commands sent to it and not taken yet.
    backlog: usize,
    /// At this backlog new commands are refused (`OVERLOADED`); past half of it the
    /// server is degraded.
    capacity: usize,
    /// Past half its capacity.
    behind: bool,
}

/// Where the rate-limit counters live, and whether it answers.
#[derive(Serialize, utoipa::ToSchema)]
struct LimitStoreHealth {
    /// `memory` (this process) or `redis` (shared by every process pointing at it).
    store: &'static str,
    /// `false`: unreachable; limits then fail open or closed (`[limits] redis_failure`).
    ok: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"status": "healthy", "journal": "ok", "follower": false,
    "committed_seq": 1042, "projected_seq": 1042, "projector_error": null,
    "feeds": [{"name": "projector", "backlog": 0, "capacity": 262144, "behind": false}],
    "rate_limit_store": {"store": "memory", "ok": true}, "uptime_ms": 81234,
    "checks": {"database": {"ok": true, "latency_us": 412},
        "disk": {"ok": true, "free_bytes": 52_000_000_000u64, "min_free_bytes": 104_857_600},
        "journal": {"ok": true}, "rate_limit_store": {"ok": true},
        "read_model": {"ok": true, "lag": 0}, "sequencer": {"ok": true}}}))]
pub(crate) struct Health {
    pub(crate) status: HealthStatus,
    /// `ok`, `journal unavailable` (writes failed; the reason is in the server log, as
    /// it names files and OS errors) or `sequencer stopped`.
    journal: String,
    /// Read-only follower of a NATS journal.
    follower: bool,
    committed_seq: u64,
    projected_seq: u64,
    projector_error: Option<String>,
    feeds: Vec<FeedHealth>,
    rate_limit_store: LimitStoreHealth,
    uptime_ms: u64,
    /// Each dependency by name: `journal` (writable), `sequencer` (running),
    /// `read_model` (lag, projector), `database` (a round trip and its latency),
    /// `disk` (free space in the data dir), `rate_limit_store` (Redis when configured),
    /// `nats` (the journal's connection, with `--journal nats`: while it is down the
    /// server is degraded, and unhealthy once a write fails), `lease` (the active's
    /// leader lease with `--journal nats`: unhealthy while it is not held).
    /// The database and disk probes are reused for `[health] cache_ms` (1 s).
    #[schema(value_type = std::collections::BTreeMap<String, Check>)]
    pub(crate) checks: Checks,
}

/// What `/health` says of a poisoned journal.
pub const JOURNAL_UNAVAILABLE: &str = "journal unavailable";

/// Lag (commands) past which the read side counts as degraded.
const PROJECTION_LAG_DEGRADED: u64 = 10_000;

#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    summary = "Liveness and what is wrong",
    description = "Always answers; `status` says how the server is. 503 with the same body when \
                   unhealthy (journal poisoned or sequencer stopped).",
    responses(
        (status = 200, description = "Healthy or degraded", body = Health),
        (status = 503, description = "Unhealthy: trading is halted (same body, `status: unhealthy`)", body = Health),
    )
)]
async fn health(State(state): State<SharedState>) -> impl IntoResponse {
    let body = report(&state).await;
    let code = match body.status {
        HealthStatus::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    (code, Json(body))
}

/// What `/health` answers (also the monitoring API's `health`).
pub(crate) async fn report(state: &SharedState) -> Health {
    let s = state.seq.status();
    let poisoned = s.poisoned();
    let committed = s.committed_seq();
    let projected = state.projector.projected_seq();
    let projector_error = state.projector.error();
    let feeds: Vec<FeedHealth> = s
        .feeds()
        .into_iter()
        .map(|f| FeedHealth {
            name: f.name,
            backlog: f.backlog(),
            capacity: f.capacity,
            behind: f.above_high_water(),
        })
        .collect();
    let limits = state.limiter.store_health();
    let lag = committed.saturating_sub(projected);
    let mut checks = state
        .health_cache
        .io_checks(&state.store, &state.http.health)
        .await;
    checks.insert("journal", checks::journal(poisoned.is_some()));
    checks.insert("sequencer", checks::sequencer(s.running()));
    // A `--standby` (a follower with a lease gate) is healthy as a standby: it is not
    // meant to hold the lease until it takes over (`follower: true` tells them apart).
    let gated = s.has_lease_gate() && !s.is_follower();
    let not_leader = gated && s.leader_check().is_err();
    if gated {
        checks.insert("lease", checks::lease(!not_leader));
    }
    checks.insert(
        "read_model",
        checks::read_model(lag, PROJECTION_LAG_DEGRADED, projector_error.is_some()),
    );
    checks.insert("rate_limit_store", checks::rate_limit_store(limits.ok));
    if let Some(link) = &state.http.health.nats {
        checks.insert("nats", checks::nats(link.connected()));
    }
    let io_failing = ["database", "disk", "nats"]
        .iter()
        .any(|name| checks.get(name).is_some_and(|c| !c.ok));
    let status = if poisoned.is_some() || !s.running() || not_leader {
        HealthStatus::Unhealthy
    } else if projector_error.is_some()
        || lag > PROJECTION_LAG_DEGRADED
        || feeds.iter().any(|f| f.behind)
        || !limits.ok
        || io_failing
    {
        HealthStatus::Degraded
    } else {
        HealthStatus::Healthy
    };
    Health {
        status,
        // Fixed words for anonymous callers; the sequencer logged the reason (with its
        // paths and OS error) when the journal failed.
        journal: match (&poisoned, s.running()) {
            (Some(_), _) => JOURNAL_UNAVAILABLE.into(),
            (None, false) => "sequencer stopped".into(),
            (None, true) => "ok".into(),
        },
        follower: s.is_follower(),
        committed_seq: committed,
        projected_seq: projected,
        projector_error,
        feeds,
        rate_limit_store: LimitStoreHealth {
            store: limits.kind,
            ok: limits.ok,
        },
        uptime_ms: state.started_at.elapsed().as_millis() as u64,
        checks,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"ready": true}))]
struct Ready {
    ready: bool,
}

#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    summary = "Readiness: can the server take commands",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Not ready (`ready: false`): the journal cannot be written or the sequencer stopped", body = Ready),
    )
)]
/// Ready once start-up recovery is done (it is, or we would not be listening) and the
/// sequencer can take commands.
async fn ready(State(state): State<SharedState>) -> impl IntoResponse {
    let s = state.seq.status();
    let ready = s.running() && s.poisoned().is_none();
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(Ready { ready }))
}

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(Health, HealthStatus, FeedHealth, LimitStoreHealth, Check, Ready)))]
pub struct Doc;
