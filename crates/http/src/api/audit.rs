//! `GET /api/v1/admin/audit`: the audit trail (`bourse_store::audit`), newest first, with
//! each entry's place in the hash chain (`hash`, `prev_hash`) so a client can check a
//! page's links and anchor the head elsewhere.

use crate::auth::AdminUser;
use crate::error::{ApiError, Error};
use crate::openapi::ErrorResponse;
use crate::state::SharedState;
use axum::extract::{Query, State};
use axum::Json;
use bourse_gateway::market_info::{check_cursor, check_time, page_limit};
use bourse_gateway::rules;
use bourse_model::{RejectCode, Timestamp};
use bourse_store::{AuditEntry, AuditQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(audit_log))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// Only entries whose actor is this user (an unknown username is `UNKNOWN_USER`).
    #[param(pattern = "^[A-Za-z0-9_.-]{3,32}$", example = "alice")]
    user: Option<String>,
    /// Only this action: a command's (`place_order`, `cancel_order`, `deposit`, …),
    /// `login`, `fix_logon`, or a refused request's `METHOD /route`.
    #[param(
        pattern = "^([a-z_]{1,64}|(GET|POST|PUT|PATCH|DELETE) /[A-Za-z0-9/_{}.-]{1,120})$",
        example = "place_order"
    )]
    action: Option<String>,
    /// Earliest entry time to include (ms since the epoch).
    start: Option<u64>,
    /// Latest entry time to include (ms since the epoch).
    end: Option<u64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<u64>,
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
}

/// One audit entry.
#[derive(Serialize, ToSchema)]
struct AuditEntryJson {
    /// Position in the chain: 1, 2, … without gaps.
    id: u64,
    /// When it happened (ms since the epoch): the command's journal time, or when a
    /// refused request was answered.
    created_at: u64,
    /// The journal sequence of the command; null for what never reached the journal
    /// (logins, requests refused with 401, 403 or 429).
    seq: Option<u64>,
    /// `rest`, `websocket`, `fix` or `binance`.
    channel: String,
    /// The acting user's id (an admin for admin actions); null before authentication.
    user_id: Option<u64>,
    /// The acting user's name, when the user exists.
    username: Option<String>,
    /// The API key that signed the request.
    key_id: Option<String>,
    ip: Option<String>,
    /// The request's `X-Request-Id` (FIX: `SenderCompID:MsgSeqNum`).
    request_id: Option<String>,
    action: String,
    /// What it acted on: `order:12`, `user:alice`, `withdrawal:3`, …
    target: Option<String>,
    /// `accepted` or `rejected`.
    outcome: String,
    /// The reject code when `rejected`.
    code: Option<String>,
    /// The previous entry's `hash` (64 zeros for the first entry).
    prev_hash: String,
    /// Hex SHA-256 over the entry's canonical fields and `prev_hash`.
    hash: String,
}

/// A page of the audit trail, newest first.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"entries": [{
    "id": 42, "created_at": 1_700_000_000_000u64, "seq": 118, "channel": "rest",
    "user_id": 2, "username": "alice", "key_id": null, "ip": "192.0.2.10",
    "request_id": "3f2a9c", "action": "place_order", "target": "order:57",
    "outcome": "rejected", "code": "INSUFFICIENT_BALANCE",
    "prev_hash": "5d1c0e3b9a7f4c2e8d6b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d",
    "hash": "0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"
}], "next_cursor": 42}))]
struct AuditPage {
    entries: Vec<AuditEntryJson>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<u64>,
}

/// The documented pattern of `action`, without a regex engine.
fn valid_action(a: &str) -> bool {
    let snake = |s: &str| {
        (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    };
    let route = |s: &str| {
        (1..=120).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_{}.-".contains(&b))
    };
    match a.split_once(" /") {
        None => snake(a),
        Some((method, rest)) => {
            ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) && route(rest)
        }
    }
}

fn json(e: &AuditEntry, username: Option<String>) -> AuditEntryJson {
    let r = &e.record;
    AuditEntryJson {
        id: e.id,
        created_at: r.ts.0,
        seq: r.seq,
        channel: r.channel.as_str().to_owned(),
        user_id: r.actor.map(|u| u.0),
        username,
        key_id: r.key_id.clone(),
        ip: r.ip.clone(),
        request_id: r.request_id.clone(),
        action: r.action.clone(),
        target: r.target.clone(),
        outcome: r.outcome.as_str().to_owned(),
        code: r.outcome.code().map(str::to_owned),
        prev_hash: e.prev_hash.clone(),
        hash: e.hash.clone(),
    }
}

/// The audit trail: every state-changing request and admin action, and the requests
/// refused before the journal, hash-chained.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    tag = "admin",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of audit entries, newest first", body = AuditPage),
        (status = 400, description = "`BAD_REQUEST`: a query parameter is not of its type, or unknown", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_USER`: no user has the name `user`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`: `user` or `action` outside its pattern, `start` after `end`, a time past year 9999, bad `limit` or `cursor`", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn audit_log(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Query(q): Query<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = page_limit(q.limit, 100, rules::PAGE_LIMIT)?;
    let before = check_cursor("cursor", q.cursor)?;
    for (field, t) in [("start", q.start), ("end", q.end)] {
        if let Some(t) = t {
            check_time(field, t)?;
        }
    }
    if let (Some(s), Some(e)) = (q.start, q.end) {
        if s > e {
            return Err(rules::START_NOT_AFTER_END.error().into());
        }
    }
    let views = state.seq.views();
    let actor = match &q.user {
        None => None,
        Some(name) => {
            rules::USERNAME.check("user", name)?;
            let user = views.user_by_name(name);
            Some(user.ok_or(Error::Rejected(RejectCode::UnknownUser))?.id)
        }
    };
    if let Some(a) = &q.action {
        if !valid_action(a) {
            return Err(Error::validation(
                "action: a command's name (`place_order`), `login`, or `METHOD /route`",
            )
            .into());
        }
    }
    state.fence().await?;
    // And the entries of requests refused before the journal, answered before this one.
    let wait = std::time::Duration::from_millis(state.config.fence_timeout_ms);
    if !state.projector.audit().fence(wait).await {
        return Err(bourse_gateway::Error::ReadModelBehind.into());
    }
    let rows = state
        .store
        .audit_entries(&AuditQuery {
            actor,
            action: q.action,
            start: q.start.map(Timestamp),
            end: q.end.map(Timestamp),
            before,
            limit,
        })
        .await?;
    let next_cursor = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|e| e.id))
        .flatten();
    let entries = rows
        .iter()
        .map(|e| {
            let name = e
                .record
                .actor
                .and_then(|u| views.user(u))
                .map(|u| u.username.clone());
            json(e, name)
        })
        .collect();
    Ok(Json(AuditPage {
        entries,
        next_cursor,
    }))
}
