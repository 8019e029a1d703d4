//! The caller's account: balances, withdrawals and deposits.
//!
//! - `GET /api/v1/balances`: every asset's `available` and `held` (live, from the core);
//! - `POST /api/v1/withdrawals {asset, amount, address}`: moves `amount` from available
//!   to held until an admin approves (the funds leave) or rejects (they come back); the
//!   core refuses unverified users when KYC is required (`KYC_REQUIRED`);
//! - `GET /api/v1/withdrawals`, `GET /api/v1/deposits`: history, newest first, with a
//!   cursor.

use crate::auth::{AuthCaller, AuthUser};
use crate::error::{ApiError, ApiJson, Error};
use crate::openapi::ErrorResponse;
use crate::state::{AppState, SharedState};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use bourse_core::WithdrawalView;
use bourse_gateway::market_info::{check_cursor, page_limit, parse_amount};
use bourse_gateway::rules;
use bourse_model::{format_units, AssetId, ClientWithdrawalId, Event, RejectCode, WithdrawalId};
use bourse_store::{DepositRow, EventPos, WithdrawalRow, WithdrawalStatus};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(balances))
        .routes(routes!(withdrawals, request_withdrawal))
        .routes(routes!(deposits))
}

/// One asset of the caller's account.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"asset": "USD", "available": "9949.649500", "held": "50.250000"}))]
pub struct BalanceJson {
    pub asset: String,
    /// Free to trade or withdraw.
    pub available: String,
    /// Reserved by open orders and pending withdrawals.
    pub held: String,
}

/// The caller's balance in every asset (zeros included).
#[utoipa::path(
    get,
    path = "/api/v1/balances",
    tag = "account",
    responses(
        (status = 200, description = "One entry per asset", body = Vec<BalanceJson>),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn balances(
    State(state): State<SharedState>,
    user: AuthUser,
) -> Result<Json<Vec<BalanceJson>>, ApiError> {
    let views = state.seq.views();
    let catalog = views.catalog();
    let rows = views
        .balances(user.id)
        .iter()
        .filter_map(|&(asset, available, held)| {
            let a = catalog.asset(asset)?;
            Some(BalanceJson {
                asset: a.symbol.to_string(),
                available: format_units(available.0, a.scale),
                held: format_units(held.0, a.scale),
            })
        })
        .collect();
    Ok(Json(rows))
}

/// `pending` (funds held), `completed` (approved: the funds left) or `rejected` (the funds
/// are available again).
#[derive(ToSchema)]
#[schema(as = WithdrawalStatus, rename_all = "snake_case")]
#[allow(dead_code)]
pub enum WithdrawalStatusSchema {
    Pending,
    Completed,
    Rejected,
}

pub fn withdrawal_status(s: WithdrawalStatus) -> &'static str {
    match s {
        WithdrawalStatus::Requested => "pending",
        WithdrawalStatus::Completed => "completed",
        WithdrawalStatus::Rejected => "rejected",
    }
}

/// A withdrawal request.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "username": "alice", "asset": "USD", "amount": "100.000000",
    "address": "bank:DE89370400440532013000", "status": "pending",
    "created_at": 1_700_000_000_000_u64, "updated_at": 1_700_000_000_000_u64}))]
pub struct WithdrawalJson {
    pub id: u64,
    pub username: String,
    pub asset: String,
    pub amount: String,
    pub address: String,
    #[schema(value_type = WithdrawalStatusSchema)]
    pub status: &'static str,
    pub created_at: u64,
    pub updated_at: u64,
}

/// `(symbol, scale)` of every asset and the usernames of `users`, from the core.
pub struct Names {
    assets: Vec<(String, u8)>,
    users: Vec<(u64, String)>,
}

impl Names {
    pub fn load(state: &AppState, users: Vec<u64>) -> Names {
        let views = state.seq.views();
        Names {
            assets: views
                .catalog()
                .assets
                .iter()
                .map(|a| (a.symbol.to_string(), a.scale))
                .collect(),
            users: users
                .into_iter()
                .map(|u| {
                    let name = views
                        .user(bourse_model::UserId(u))
                        .map(|v| v.username.clone())
                        .unwrap_or_default();
                    (u, name)
                })
                .collect(),
        }
    }

    fn asset(&self, id: AssetId) -> (&str, u8) {
        self.assets
            .get(id.0 as usize)
            .map_or(("", 0), |(s, scale)| (s.as_str(), *scale))
    }

    fn user(&self, id: u64) -> String {
        self.users
            .iter()
            .find(|(u, _)| *u == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    }

    pub fn withdrawal(&self, w: &WithdrawalRow) -> WithdrawalJson {
        let (asset, scale) = self.asset(w.asset);
        WithdrawalJson {
            id: w.id.0,
            username: self.user(w.user.0),
            asset: asset.to_owned(),
            amount: format_units(w.amount.0, scale),
            address: w.address.clone(),
            status: withdrawal_status(w.status),
            created_at: w.created_at.0,
            updated_at: w.updated_at.0,
        }
    }
}

/// A withdrawal's JSON from the core's view of it (the username and the asset from the
/// read views): what answers a request, an approval or a rejection without waiting for
/// the read models.
pub fn withdrawal_json(
    state: &AppState,
    w: &WithdrawalView,
    status: WithdrawalStatus,
    updated_at: u64,
) -> WithdrawalJson {
    let views = state.seq.views();
    let catalog = views.catalog();
    let (asset, amount) = match catalog.asset(w.asset) {
        Some(a) => (a.symbol.to_string(), format_units(w.amount.0, a.scale)),
        None => (String::new(), w.amount.0.to_string()),
    };
    WithdrawalJson {
        id: w.id.0,
        username: views
            .user(w.user)
            .map(|u| u.username.clone())
            .unwrap_or_default(),
        asset,
        amount,
        address: w.address.clone(),
        status: withdrawal_status(status),
        created_at: w.requested_at.0,
        updated_at,
    }
}

/// The read-model row of a withdrawal, after the caller's own writes.
pub async fn load_withdrawal(
    state: &AppState,
    id: WithdrawalId,
) -> Result<WithdrawalJson, ApiError> {
    state.fence().await?;
    let row = state
        .store
        .withdrawal(id)
        .await?
        .ok_or(Error::Rejected(RejectCode::UnknownWithdrawal))?;
    let names = Names::load(state, vec![row.user.0]);
    Ok(names.withdrawal(&row))
}

/// The body of `POST /api/v1/withdrawals`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"asset": "USD", "amount": "100", "address": "bank:DE89370400440532013000",
    "client_withdrawal_id": "payout-2024-001"}))]
pub struct WithdrawalBody {
    #[schema(example = "USD")]
    pub asset: String,
    /// Positive, at most the asset's decimals.
    #[schema(example = "100")]
    pub amount: String,
    /// Where to send the funds: 1–128 printable ASCII characters, no spaces.
    #[schema(example = "bank:DE89370400440532013000")]
    pub address: String,
    /// Idempotency key, unique per user for 24 h (1–36 characters of `[A-Za-z0-9_-]`): a
    /// retry with the same key and the same body answers the original withdrawal (200);
    /// the same key with another body is 409 `DUPLICATE_CLIENT_WITHDRAWAL_ID`.
    #[schema(example = "payout-2024-001")]
    pub client_withdrawal_id: Option<String>,
}

fn validate_address(a: &str) -> Result<(), ApiError> {
    Ok(rules::ADDRESS.check("address", a)?)
}

/// Request a withdrawal: the amount is held until an admin approves or rejects it.
#[utoipa::path(
    post,
    path = "/api/v1/withdrawals",
    tag = "account",
    request_body = WithdrawalBody,
    responses(
        (status = 201, description = "Requested: the amount is now held", body = WithdrawalJson),
        (status = 200, description = "A retry: `client_withdrawal_id` was already used for this same withdrawal, which is returned as it stands now", body = WithdrawalJson),
        (status = 409, description = "`DUPLICATE_CLIENT_WITHDRAWAL_ID` (same key, different withdrawal)", body = ErrorResponse),
        (status = 400, description = "`MALFORMED_JSON`", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 403, description = "`KYC_REQUIRED` (not verified while KYC is required, or the user's KYC level may not withdraw)", body = ErrorResponse),
        (status = 404, description = "`UNKNOWN_ASSET`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`, `UNKNOWN_FIELD`, `INVALID_DECIMAL`, `INVALID_AMOUNT` (zero), `INSUFFICIENT_BALANCE`, `WITHDRAWAL_LIMIT` (over the daily limit of the user's KYC level; `error.remaining` is what is left today)", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn request_withdrawal(
    State(state): State<SharedState>,
    user: AuthCaller,
    ApiJson(body): ApiJson<WithdrawalBody>,
) -> Result<(StatusCode, Json<WithdrawalJson>), ApiError> {
    validate_address(&body.address)?;
    let asset = state
        .seq
        .views()
        .catalog()
        .assets
        .iter()
        .find(|a| a.symbol.as_str() == body.asset)
        .cloned()
        .ok_or(Error::Rejected(RejectCode::UnknownAsset))?;
    let amount = parse_amount("amount", &body.amount, asset.scale)?;
    if amount.0 == 0 {
        return Err(Error::Rejected(RejectCode::InvalidAmount).into());
    }
    let client_withdrawal_id = body
        .client_withdrawal_id
        .as_deref()
        .map(ClientWithdrawalId::new)
        .transpose()
        .map_err(|e| Error::validation(format!("client_withdrawal_id: {e}")))?;
    let applied = state
        .request_withdrawal(
            &user,
            asset.id,
            amount,
            body.address.clone(),
            client_withdrawal_id,
        )
        .await?;
    if let Some(Event::Rejected {
        code: RejectCode::DuplicateClientWithdrawalId,
        withdrawal: Some(original),
        ..
    }) = applied.events.first()
    {
        // A retry (nothing was done): the original if it is the same request.
        let w = load_withdrawal(&state, *original).await?;
        let same = w.asset == asset.symbol.as_str()
            && w.amount == format_units(amount.0, asset.scale)
            && w.address == body.address;
        return if same {
            Ok((StatusCode::OK, Json(w)))
        } else {
            Err(Error::Rejected(RejectCode::DuplicateClientWithdrawalId).into())
        };
    }
    if let Some((code, _)) = applied.rejected() {
        return Err(Error::Rejected(code).into());
    }
    // The answer is the command's own event: no wait on the read models.
    let w = applied
        .events
        .iter()
        .find_map(|e| match e {
            Event::WithdrawalRequested {
                id,
                user,
                asset,
                amount,
                address,
            } => Some(WithdrawalView {
                id: *id,
                user: *user,
                asset: *asset,
                amount: *amount,
                address: address.clone(),
                client_withdrawal_id: None,
                requested_at: applied.ts,
            }),
            _ => None,
        })
        .ok_or_else(|| Error::internal("RequestWithdrawal produced no WithdrawalRequested"))?;
    let w = withdrawal_json(&state, &w, WithdrawalStatus::Requested, applied.ts.0);
    Ok((StatusCode::CREATED, Json(w)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[param(example = 100)]
    pub limit: Option<u32>,
}

/// A page of withdrawals, newest first.
#[derive(Serialize, ToSchema)]
pub struct WithdrawalPage {
    pub withdrawals: Vec<WithdrawalJson>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

const DEFAULT_PAGE: u32 = 100;

fn withdrawal_cursor(c: Option<&str>) -> Result<Option<WithdrawalId>, ApiError> {
    let id = c
        .map(|s| {
            rules::WITHDRAWAL_CURSOR.check("cursor", s)?;
            s.parse::<u64>()
                .map_err(|_| Error::validation("cursor: not a cursor this API returned"))
        })
        .transpose()?;
    Ok(check_cursor("cursor", id)?.map(WithdrawalId))
}

/// The caller's withdrawals, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/withdrawals",
    tag = "account",
    params(HistoryQuery),
    responses(
        (status = 200, description = "A page of withdrawals", body = WithdrawalPage),
        (status = 400, description = "`BAD_REQUEST`: a query parameter is not of its type", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`: bad `cursor` or `limit`", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn withdrawals(
    State(state): State<SharedState>,
    user: AuthUser,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<WithdrawalPage>, ApiError> {
    let limit = page_limit(q.limit, DEFAULT_PAGE, rules::PAGE_LIMIT)?;
    let before = withdrawal_cursor(q.cursor.as_deref())?;
    state.fence().await?;
    let rows = state.store.withdrawals(user.id, before, limit).await?;
    let names = Names::load(&state, vec![user.id.0]);
    let next_cursor = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|w| w.id.0.to_string()))
        .flatten();
    Ok(Json(WithdrawalPage {
        withdrawals: rows.iter().map(|w| names.withdrawal(w)).collect(),
        next_cursor,
    }))
}

/// A credit to the caller's account.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "12_0", "asset": "USD", "amount": "10000.000000",
    "created_at": 1_700_000_000_000_u64}))]
pub struct DepositJson {
    /// Unique and ordered like the deposits (journal position `seq_index`).
    pub id: String,
    pub asset: String,
    pub amount: String,
    pub created_at: u64,
}

/// A page of deposits, newest first.
#[derive(Serialize, ToSchema)]
pub struct DepositPage {
    pub deposits: Vec<DepositJson>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn deposit_id(p: EventPos) -> String {
    format!("{}_{}", p.seq, p.idx)
}

fn deposit_cursor(c: Option<&str>) -> Result<Option<EventPos>, ApiError> {
    let Some(s) = c else { return Ok(None) };
    rules::DEPOSIT_CURSOR.check("cursor", s)?;
    let bad = || Error::validation("cursor: not a cursor this API returned");
    let (seq, idx) = s.split_once('_').ok_or_else(bad)?;
    let seq = check_cursor("cursor", Some(seq.parse().map_err(|_| bad())?))?;
    Ok(Some(EventPos {
        seq: seq.unwrap_or_default(),
        idx: idx.parse().map_err(|_| bad())?,
    }))
}

fn deposit_json(names: &Names, d: &DepositRow) -> DepositJson {
    let (asset, scale) = names.asset(d.asset);
    DepositJson {
        id: deposit_id(d.pos),
        asset: asset.to_owned(),
        amount: format_units(d.amount.0, scale),
        created_at: d.created_at.0,
    }
}

/// The caller's deposits, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/deposits",
    tag = "account",
    params(HistoryQuery),
    responses(
        (status = 200, description = "A page of deposits", body = DepositPage),
        (status = 400, description = "`BAD_REQUEST`: a query parameter is not of its type", body = ErrorResponse),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`: bad `cursor` or `limit`", body = ErrorResponse),
        (status = 503, description = "`READ_MODEL_BEHIND`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
async fn deposits(
    State(state): State<SharedState>,
    user: AuthUser,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<DepositPage>, ApiError> {
    let limit = page_limit(q.limit, DEFAULT_PAGE, rules::PAGE_LIMIT)?;
    let before = deposit_cursor(q.cursor.as_deref())?;
    state.fence().await?;
    let rows = state.store.deposits(user.id, before, limit).await?;
    let names = Names::load(&state, Vec::new());
    let next_cursor = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|d| deposit_id(d.pos)))
        .flatten();
    Ok(Json(DepositPage {
        deposits: rows.iter().map(|d| deposit_json(&names, d)).collect(),
        next_cursor,
    }))
}

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    BalanceJson,
    WithdrawalBody,
    WithdrawalJson,
    WithdrawalPage,
    WithdrawalStatusSchema,
    DepositJson,
    DepositPage,
)))]
pub struct Doc;
