//! Operations: `GET /health` (liveness and what is wrong) and `GET /ready`.

use crate::state::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Degraded,
    Unhealthy,
}

#[derive(Serialize)]
struct Health {
    status: HealthStatus,
    /// `ok`, or why the journal cannot be written.
    journal: String,
    /// Read-only follower of a NATS journal.
    follower: bool,
    committed_seq: u64,
    projected_seq: u64,
    projector_error: Option<String>,
    uptime_ms: u64,
}

/// Lag (commands) past which the read side counts as degraded.
const PROJECTION_LAG_DEGRADED: u64 = 10_000;

async fn health(State(state): State<SharedState>) -> impl IntoResponse {
    let s = state.seq.status();
    let poisoned = s.poisoned();
    let committed = s.committed_seq();
    let projected = state.projector.projected_seq();
    let projector_error = state.projector.error();
    let status = if poisoned.is_some() || !s.running() {
        HealthStatus::Unhealthy
    } else if projector_error.is_some()
        || committed.saturating_sub(projected) > PROJECTION_LAG_DEGRADED
    {
        HealthStatus::Degraded
    } else {
        HealthStatus::Healthy
    };
    let code = match status {
        HealthStatus::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    let body = Health {
        status,
        journal: match (&poisoned, s.running()) {
            (Some(r), _) => r.clone(),
            (None, false) => "sequencer stopped".into(),
            (None, true) => "ok".into(),
        },
        follower: s.is_follower(),
        committed_seq: committed,
        projected_seq: projected,
        projector_error,
        uptime_ms: state.started_at.elapsed().as_millis() as u64,
    };
    (code, Json(body))
}

#[derive(Serialize)]
struct Ready {
    ready: bool,
}

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
#[openapi()]
pub struct Doc;
