//! Notifications REST: the inbox (`/api/v1/notifications`), price alerts
//! (`/api/v1/price-alerts`), and for admins announcements, the dead-letter queue and
//! delivery stats. Live delivery is the WebSocket `notifications` channel (`crate::ws`);
//! the rules are in `crate::notify`.

use crate::auth::{AdminUser, AuthUser};
use crate::error::{ApiError, ApiJson, Error};
use crate::notify::{Delivery, NotificationJson, NotifyStatsSnapshot, Priority};
use crate::openapi::ErrorResponse;
use crate::push::WsStatsSnapshot;
use crate::state::SharedState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use bourse_engine::sequencer::now_ms;
use bourse_gateway::market_info::GridParse;
use bourse_gateway::market_info::{check_cursor, find_market, page_limit, MarketInfo, MAX_UNITS};
use bourse_gateway::rules;
use bourse_model::Timestamp;
use bourse_store::{DeadLetterRow, PriceAlertRow};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::OpenApi;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(inbox))
        .routes(routes!(mark_read))
        .routes(routes!(mark_all_read))
        .routes(routes!(create_alert, list_alerts))
        .routes(routes!(delete_alert))
        .routes(routes!(announce))
        .routes(routes!(dead_letters))
        .routes(routes!(retry))
        .routes(routes!(stats))
}

/// `id` if a row could have it, else `unknown()`: the read models hold signed 64-bit ids
/// and refuse to even look up a larger one (`StoreError::OutOfRange`, a 500), but no
/// such row can exist, so the honest answer is the route's "no such id" (404).
fn check_id(id: u64, unknown: impl FnOnce() -> Error) -> Result<u64, ApiError> {
    if id > MAX_UNITS {
        return Err(unknown().into());
    }
    Ok(id)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct InboxQuery {
    /// Only unread notifications.
    unread: Option<bool>,
    /// The `next_cursor` of the previous page.
    cursor: Option<u64>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

/// One page of the inbox, newest first.
#[derive(Serialize, ToSchema)]
struct InboxPage {
    notifications: Vec<NotificationJson>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<u64>,
    /// Unread notifications in the whole inbox.
    unread_count: u64,
}

/// The caller's notifications, newest first (paged with `cursor`).
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    tag = "notifications",
    params(InboxQuery),
    responses(
        (status = 200, description = "A page of the inbox", body = InboxPage),
        (status = 400, description = "`BAD_REQUEST`: bad query string", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`: limit out of range, cursor above 2^63 - 1", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn inbox(
    State(state): State<SharedState>,
    user: AuthUser,
    Query(q): Query<InboxQuery>,
) -> Result<Json<InboxPage>, ApiError> {
    let limit = page_limit(q.limit, 50, rules::NOTIFICATION_PAGE_LIMIT)?;
    let cursor = check_cursor("cursor", q.cursor)?;
    // Read-your-writes: the notifications of commands already answered are in.
    state
        .realtime
        .notifier
        .fence(Duration::from_millis(state.config.fence_timeout_ms))
        .await;
    let rows = state
        .store
        .notifications(user.id, q.unread.unwrap_or(false), cursor, limit)
        .await?;
    let unread_count = state.store.unread_notifications(user.id).await?;
    let next_cursor = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(Json(InboxPage {
        notifications: rows.iter().map(NotificationJson::from).collect(),
        next_cursor,
        unread_count,
    }))
}

/// Marks one of the caller's notifications read.
#[utoipa::path(
    post,
    path = "/api/v1/notifications/{id}/read",
    tag = "notifications",
    params(("id" = u64, Path, description = "Notification id")),
    responses(
        (status = 200, description = "The notification, now read", body = NotificationJson),
        (status = 400, description = "`BAD_REQUEST`: bad id", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 404, description = "`NOT_FOUND`: no such notification of the caller", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn mark_read(
    State(state): State<SharedState>,
    user: AuthUser,
    Path(id): Path<u64>,
) -> Result<Json<NotificationJson>, ApiError> {
    let not_found = || Error::NotFound("no such notification".into());
    let id = check_id(id, not_found)?;
    if !state
        .store
        .mark_notification_read(user.id, id, Timestamp(now_ms()))
        .await?
    {
        return Err(not_found().into());
    }
    let row = state.store.notification(id).await?.ok_or_else(not_found)?;
    Ok(Json(NotificationJson::from(&row)))
}

#[derive(Serialize, ToSchema)]
struct ReadAll {
    /// Notifications that were unread and are now read.
    #[schema(example = 12)]
    updated: u64,
}

/// Marks every notification of the caller read.
#[utoipa::path(
    post,
    path = "/api/v1/notifications/read-all",
    tag = "notifications",
    responses(
        (status = 200, description = "Done", body = ReadAll),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn mark_all_read(
    State(state): State<SharedState>,
    user: AuthUser,
) -> Result<Json<ReadAll>, ApiError> {
    state
        .realtime
        .notifier
        .fence(Duration::from_millis(state.config.fence_timeout_ms))
        .await;
    let updated = state
        .store
        .mark_all_notifications_read(user.id, Timestamp(now_ms()))
        .await?;
    Ok(Json(ReadAll { updated }))
}

/// Which way the price must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Condition {
    /// Fires on a trade at or above `price`.
    Above,
    /// Fires on a trade at or below `price`.
    Below,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Condition::Above => "above",
            Condition::Below => "below",
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AlertBody {
    #[schema(example = "BTC-USD")]
    market: String,
    condition: Condition,
    #[schema(example = "105.00")]
    price: String,
}

/// A price alert. It fires once (a `price_alert` notification) and is then deleted.
#[derive(Serialize, ToSchema)]
struct AlertJson {
    #[schema(example = 3)]
    id: u64,
    #[schema(example = "BTC-USD")]
    market: String,
    condition: Condition,
    #[schema(example = "105.00")]
    price: String,
    /// ms since the epoch.
    #[schema(example = 1_700_000_000_000_u64)]
    created_at: u64,
}

async fn markets(state: &SharedState) -> Result<Vec<MarketInfo>, ApiError> {
    Ok(state.markets())
}

fn alert_json(markets: &[MarketInfo], a: &PriceAlertRow) -> AlertJson {
    let m = markets.iter().find(|m| m.id == a.market);
    AlertJson {
        id: a.id,
        market: m.map_or_else(|| a.market.to_string(), |m| m.symbol().to_owned()),
        condition: if a.condition == "below" {
            Condition::Below
        } else {
            Condition::Above
        },
        price: m.map_or_else(|| a.price.0.to_string(), |m| m.price(a.price)),
        created_at: a.created_at.0,
    }
}

/// Most alerts one user may have at a time.
const MAX_ALERTS: usize = rules::MAX_PRICE_ALERTS;

/// Creates a price alert on a market.
#[utoipa::path(
    post,
    path = "/api/v1/price-alerts",
    tag = "notifications",
    request_body = AlertBody,
    responses(
        (status = 201, description = "Created", body = AlertJson),
        (status = 400, description = "`MALFORMED_JSON`", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_MARKET`", body = ErrorResponse),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR` (also: more than 100 alerts), `UNKNOWN_FIELD`, `INVALID_DECIMAL`, `OFF_GRID`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn create_alert(
    State(state): State<SharedState>,
    user: AuthUser,
    ApiJson(body): ApiJson<AlertBody>,
) -> Result<(StatusCode, Json<AlertJson>), ApiError> {
    let markets = markets(&state).await?;
    let m = find_market(&markets, &body.market)?;
    let price = m.parse_price("price", &body.price)?;
    if state.store.price_alerts(Some(user.id)).await?.len() >= MAX_ALERTS {
        return Err(rules::ALERTS_PER_USER.error().into());
    }
    let row = state
        .store
        .insert_price_alert(
            user.id,
            m.id,
            body.condition.as_str(),
            price,
            Timestamp(now_ms()),
        )
        .await?;
    state.realtime.notifier.watch_alert(row.clone()).await;
    Ok((StatusCode::CREATED, Json(alert_json(&markets, &row))))
}

/// The caller's price alerts that have not fired yet.
#[utoipa::path(
    get,
    path = "/api/v1/price-alerts",
    tag = "notifications",
    responses(
        (status = 200, description = "The alerts, oldest first", body = [AlertJson]),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn list_alerts(
    State(state): State<SharedState>,
    user: AuthUser,
) -> Result<Json<Vec<AlertJson>>, ApiError> {
    let markets = markets(&state).await?;
    let rows = state.store.price_alerts(Some(user.id)).await?;
    Ok(Json(rows.iter().map(|a| alert_json(&markets, a)).collect()))
}

/// Deletes one of the caller's price alerts.
#[utoipa::path(
    delete,
    path = "/api/v1/price-alerts/{id}",
    tag = "notifications",
    params(("id" = u64, Path, description = "Alert id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`BAD_REQUEST`: bad id", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 404, description = "`NOT_FOUND`: no such alert of the caller", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn delete_alert(
    State(state): State<SharedState>,
    user: AuthUser,
    Path(id): Path<u64>,
) -> Result<StatusCode, ApiError> {
    let not_found = || Error::NotFound("no such price alert".into());
    let id = check_id(id, not_found)?;
    if !state.store.delete_price_alert(user.id, id).await? {
        return Err(not_found().into());
    }
    state.realtime.notifier.forget_alert(id).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AnnouncementBody {
    #[schema(example = "Maintenance")]
    title: String,
    #[schema(example = "Trading pauses at 02:00 UTC for 10 minutes.")]
    message: String,
    /// Default `high`.
    priority: Option<Priority>,
}

#[derive(Serialize, ToSchema)]
struct AnnouncementJson {
    /// Users it was sent to (every user's inbox).
    #[schema(example = 120)]
    recipients: usize,
}

/// Sends a `system_announcement` to every user (inbox, and live to those connected).
#[utoipa::path(
    post,
    path = "/api/v1/admin/announcements",
    tag = "admin",
    request_body = AnnouncementBody,
    responses(
        (status = 202, description = "Sent", body = AnnouncementJson),
        (status = 400, description = "`MALFORMED_JSON`", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR` (empty or too long title or message), `UNKNOWN_FIELD`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn announce(
    State(state): State<SharedState>,
    _admin: AdminUser,
    ApiJson(body): ApiJson<AnnouncementBody>,
) -> Result<(StatusCode, Json<AnnouncementJson>), ApiError> {
    rules::ANNOUNCEMENT_TITLE.check("title", &body.title)?;
    rules::ANNOUNCEMENT_MESSAGE.check("message", &body.message)?;
    let recipients = state
        .realtime
        .notifier
        .announce(
            body.title,
            body.message,
            body.priority.unwrap_or(Priority::High),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(AnnouncementJson { recipients })))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// The `next_cursor` of the previous page.
    cursor: Option<u64>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
}

/// A notification whose live delivery failed.
#[derive(Serialize, ToSchema)]
struct DeadLetterJson {
    #[schema(example = 5)]
    id: u64,
    #[schema(example = 77)]
    notification_id: u64,
    #[schema(example = 12)]
    user_id: u64,
    /// Why the last attempt failed.
    #[schema(example = "slow consumer")]
    reason: String,
    #[schema(example = 1)]
    attempts: u32,
    #[schema(example = 1_700_000_000_000_u64)]
    created_at: u64,
    #[schema(example = 1_700_000_000_000_u64)]
    last_attempt_at: u64,
}

impl From<&DeadLetterRow> for DeadLetterJson {
    fn from(d: &DeadLetterRow) -> Self {
        DeadLetterJson {
            id: d.id,
            notification_id: d.notification_id,
            user_id: d.user.0,
            reason: d.reason.clone(),
            attempts: d.attempts,
            created_at: d.created_at.0,
            last_attempt_at: d.last_attempt_at.0,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct DeadLetterPage {
    dead_letters: Vec<DeadLetterJson>,
    next_cursor: Option<u64>,
}

/// The dead-letter queue, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/notifications/dead-letters",
    tag = "admin",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of dead letters", body = DeadLetterPage),
        (status = 400, description = "`BAD_REQUEST`: bad query string", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`: limit out of range, cursor above 2^63 - 1", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn dead_letters(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Query(q): Query<PageQuery>,
) -> Result<Json<DeadLetterPage>, ApiError> {
    let limit = page_limit(q.limit, 50, rules::NOTIFICATION_PAGE_LIMIT)?;
    let cursor = check_cursor("cursor", q.cursor)?;
    let rows = state.store.dead_letters(cursor, limit).await?;
    let next_cursor = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(Json(DeadLetterPage {
        dead_letters: rows.iter().map(DeadLetterJson::from).collect(),
        next_cursor,
    }))
}

#[derive(Serialize, ToSchema)]
struct RetryJson {
    /// `true`: queued on a connection and removed from the dead-letter queue. `false`:
    /// still undeliverable (user offline or slow); the attempt is counted.
    delivered: bool,
    #[schema(example = "user offline")]
    reason: Option<String>,
}

/// Retries the live delivery of a dead letter.
#[utoipa::path(
    post,
    path = "/api/v1/admin/notifications/dead-letters/{id}/retry",
    tag = "admin",
    params(("id" = u64, Path, description = "Dead-letter id")),
    responses(
        (status = 200, description = "Attempted", body = RetryJson),
        (status = 400, description = "`BAD_REQUEST`: bad id", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
        (status = 404, description = "`NOT_FOUND`: no such dead letter", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn retry(
    State(state): State<SharedState>,
    _admin: AdminUser,
    Path(id): Path<u64>,
) -> Result<Json<RetryJson>, ApiError> {
    let not_found = || Error::NotFound("no such dead letter".into());
    let id = check_id(id, not_found)?;
    let outcome = state
        .realtime
        .notifier
        .retry(id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(match outcome {
        Delivery::Delivered => RetryJson {
            delivered: true,
            reason: None,
        },
        Delivery::Offline => RetryJson {
            delivered: false,
            reason: Some("user offline".into()),
        },
        Delivery::Failed(r) => RetryJson {
            delivered: false,
            reason: Some(r.into()),
        },
    }))
}

#[derive(Serialize, ToSchema)]
struct StatsJson {
    notifications: NotifyStatsSnapshot,
    websocket: WsStatsSnapshot,
}

/// Notification and WebSocket delivery counters.
#[utoipa::path(
    get,
    path = "/api/v1/admin/notifications/stats",
    tag = "admin",
    responses(
        (status = 200, description = "Counters since start", body = StatsJson),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: not an admin", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn stats(State(state): State<SharedState>, _admin: AdminUser) -> Json<StatsJson> {
    Json(StatsJson {
        notifications: state.realtime.notifier.stats(),
        websocket: state.realtime.stats.snapshot(),
    })
}

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    InboxPage,
    NotificationJson,
    ReadAll,
    Condition,
    AlertBody,
    AlertJson,
    AnnouncementBody,
    AnnouncementJson,
    DeadLetterJson,
    DeadLetterPage,
    RetryJson,
    StatsJson,
    NotifyStatsSnapshot,
    WsStatsSnapshot,
    crate::notify::Kind,
    Priority
)))]
pub struct Doc;
