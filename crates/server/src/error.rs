//! The one place errors become HTTP responses.
//!
//! Every error body is `{"error": {"code": "SCREAMING_SNAKE", "message": "…"}}`.
//! Status codes:
//!
//! | status | codes |
//! |--------|-------|
//! | 400 | `MALFORMED_JSON`, `BAD_REQUEST` (bad path or query string) |
//! | 401 | `UNAUTHORIZED`, `INVALID_CREDENTIALS`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`, `INVALID_API_KEY`, `INVALID_SIGNATURE`, `TIMESTAMP_OUT_OF_WINDOW`, `SIGNATURE_REPLAYED` |
//! | 403 | `FORBIDDEN`, `KILL_SWITCH_ACTIVE`, `KYC_REQUIRED` |
//! | 404 | `NOT_FOUND`, `UNKNOWN_ORDER`, `UNKNOWN_MARKET`, `UNKNOWN_USER`, `UNKNOWN_ASSET`, `UNKNOWN_WITHDRAWAL`, `UNKNOWN_API_KEY` |
//! | 405 | `METHOD_NOT_ALLOWED`, `READ_ONLY` (a follower refuses writes) |
//! | 409 | `DUPLICATE_CLIENT_ORDER_ID`, `USERNAME_TAKEN`, `MARKET_EXISTS`, `ASSET_EXISTS`, `API_KEY_EXISTS`, `MARKET_HALTED`, `MARKET_ALREADY_IN_STATE`, `WITHDRAWAL_NOT_PENDING`, `ORDER_NOT_AMENDABLE` |
//! | 413 | `PAYLOAD_TOO_LARGE` |
//! | 415 | `UNSUPPORTED_MEDIA_TYPE` |
//! | 422 | `VALIDATION_ERROR`, `UNKNOWN_FIELD`, `INVALID_DECIMAL`, `OFF_GRID`, and every other reject code of the core (`INSUFFICIENT_BALANCE`, `INVALID_PRICE`, `POST_ONLY_WOULD_TAKE`, …): the request was well-formed but cannot be carried out |
//! | 429 | `RATE_LIMITED` (with `Retry-After`, see `crate::limits`) |
//! | 500 | `INTERNAL` (details are logged, never sent) |
//! | 503 | `JOURNAL_UNAVAILABLE`, `READ_MODEL_BEHIND`, `UNAVAILABLE` |
//!
//! `INSUFFICIENT_BALANCE` is 422, not 400: the body was valid, the account cannot pay.
//!
//! Rejections axum produces itself (bad JSON, bad path parameter, wrong method, body too
//! large) are turned into this shape by [`ApiJson`] and by the [`json_errors`] middleware,
//! which rewrites any error response that is not JSON yet.

use crate::sequencer::SequencerError;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bourse_model::RejectCode;
use serde::Serialize;
use std::borrow::Cow;

/// Every error an endpoint can return.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The core refused the command.
    #[error("{0}")]
    Rejected(RejectCode),
    /// Input that does not pass validation at the edge. `code` is SCREAMING_SNAKE.
    #[error("{message}")]
    Invalid {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    #[error("{0}")]
    Unauthorized(Cow<'static, str>),
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    #[error(transparent)]
    Sequencer(#[from] SequencerError),
    #[error("the read models are behind; retry shortly")]
    ReadModelBehind,
    /// Anything broken inside: logged with detail, answered without it.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Invalid {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "VALIDATION_ERROR",
            message: message.into(),
        }
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code,
            message: message.into(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Rejected(code) => (reject_status(*code), code.as_str()),
            Self::Invalid { status, code, .. } => (*status, code),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            Self::InvalidCredentials => (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Self::Sequencer(SequencerError::JournalUnavailable(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "JOURNAL_UNAVAILABLE")
            }
            Self::Sequencer(SequencerError::ReadOnly) => {
                (StatusCode::METHOD_NOT_ALLOWED, "READ_ONLY")
            }
            Self::Sequencer(SequencerError::Stopped) => {
                (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE")
            }
            Self::ReadModelBehind => (StatusCode::SERVICE_UNAVAILABLE, "READ_MODEL_BEHIND"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        }
    }

    fn public_message(&self) -> String {
        match self {
            Self::Rejected(code) => reject_message(*code).to_owned(),
            // The reason names files and OS errors: keep it in the log.
            Self::Sequencer(SequencerError::JournalUnavailable(_)) => {
                "the journal cannot be written; trading is halted".into()
            }
            other => other.to_string(),
        }
    }
}

/// The HTTP status of each reject code (see the module doc).
pub fn reject_status(code: RejectCode) -> StatusCode {
    use RejectCode::*;
    match code {
        UnknownUser | UnknownAsset | UnknownMarket | UnknownOrder | UnknownWithdrawal
        | UnknownApiKey => StatusCode::NOT_FOUND,
        AssetExists
        | MarketExists
        | UsernameTaken
        | ApiKeyExists
        | DuplicateClientOrderId
        | MarketHalted
        | MarketAlreadyInState
        | WithdrawalNotPending
        | OrderNotAmendable => StatusCode::CONFLICT,
        KillSwitchActive | KycRequired => StatusCode::FORBIDDEN,
        InvalidMarketSpec
        | InvalidAssetSpec
        | InvalidAmount
        | InsufficientBalance
        | InvalidPrice
        | InvalidQuantity
        | InvalidOrder
        | QuantityTooSmall
        | QuantityTooLarge
        | NotionalTooSmall
        | NotionalTooLarge
        | PriceOutOfBand
        | TooManyOpenOrders
        | PostOnlyWouldTake
        | FokCannotFill
        | ExpireAtInPast
        | StopWouldTriggerImmediately => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn reject_message(code: RejectCode) -> &'static str {
    use RejectCode::*;
    match code {
        UnknownUser => "no such user",
        UnknownAsset => "no such asset",
        UnknownMarket => "no such market",
        UnknownOrder => "no such order",
        UnknownWithdrawal => "no such withdrawal",
        UnknownApiKey => "no such API key",
        AssetExists => "the asset already exists",
        MarketExists => "the market already exists",
        InvalidMarketSpec => "the market definition is not valid",
        InvalidAssetSpec => "the asset definition is not valid",
        UsernameTaken => "the username is taken",
        ApiKeyExists => "the API key already exists",
        InvalidAmount => "the amount is not valid",
        InsufficientBalance => "insufficient available balance",
        InvalidPrice => "price missing, zero, or not allowed for this order type",
        InvalidQuantity => "quantity missing, zero, or an impossible combination of size fields",
        InvalidOrder => "this combination of type, time in force and flags is not allowed",
        QuantityTooSmall => "quantity below the market minimum",
        QuantityTooLarge => "quantity above the market maximum",
        NotionalTooSmall => "order value below the market minimum",
        NotionalTooLarge => "order value too large",
        PriceOutOfBand => "price too far from the last trade price",
        TooManyOpenOrders => "too many open orders in this market",
        MarketHalted => "the market is halted",
        KillSwitchActive => "trading is disabled for this account (kill switch)",
        KycRequired => "identity verification (KYC) is required",
        PostOnlyWouldTake => "a post-only order would take liquidity",
        FokCannotFill => "a fill-or-kill order cannot be filled completely",
        DuplicateClientOrderId => "client_order_id already used with a different order",
        ExpireAtInPast => "expire_at is not in the future",
        StopWouldTriggerImmediately => "the stop price would trigger immediately",
        OrderNotAmendable => "this order cannot be amended",
        WithdrawalNotPending => "the withdrawal is not pending",
        MarketAlreadyInState => "the market is already in that state",
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

/// Builds an error response in the contract's shape.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::to_vec(&ErrorBody {
        error: ErrorDetail { code, message },
    })
    .unwrap_or_else(|_| {
        b"{\"error\":{\"code\":\"INTERNAL\",\"message\":\"internal error\"}}".to_vec()
    });
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            Self::Internal(detail) => tracing::error!(detail = %detail, "internal error"),
            Self::Sequencer(SequencerError::JournalUnavailable(reason)) => {
                tracing::warn!(reason = %reason, "refused: journal unavailable")
            }
            _ => {}
        }
        error_response(status, code, &self.public_message())
    }
}

impl From<bourse_store::StoreError> for AppError {
    fn from(e: bourse_store::StoreError) -> Self {
        Self::Internal(format!("store: {e:?}"))
    }
}

/// `Json` whose rejections are answered in the contract's shape. Request bodies also use
/// `#[serde(deny_unknown_fields)]`, so an unknown field is `UNKNOWN_FIELD` (422).
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> AppError {
    let text = r.body_text();
    let (status, code) = match &r {
        JsonRejection::JsonDataError(_) if text.contains("unknown field") => {
            (StatusCode::UNPROCESSABLE_ENTITY, "UNKNOWN_FIELD")
        }
        JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR"),
        JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "MALFORMED_JSON"),
        JsonRejection::MissingJsonContentType(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
        }
        _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
        }
        _ => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
    };
    AppError::Invalid {
        status,
        code,
        message: text,
    }
}

/// Middleware: any error response that is not JSON (axum's own rejections for paths,
/// query strings, methods, body limits) is rewritten into the contract's shape.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let status = res.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body stays unread, so the server drops the connection after
        // answering; say so, or a client that pools connections sends its next request
        // into a closed socket.
        res.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return res;
    }
    let code = match status {
        StatusCode::BAD_REQUEST => "BAD_REQUEST",
        StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
        StatusCode::FORBIDDEN => "FORBIDDEN",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        StatusCode::UNPROCESSABLE_ENTITY => "VALIDATION_ERROR",
        StatusCode::TOO_MANY_REQUESTS => "RATE_LIMITED",
        s if s.is_server_error() => "INTERNAL",
        _ => "BAD_REQUEST",
    };
    let (parts, body) = res.into_parts();
    let message = if status.is_server_error() {
        "internal error".to_owned()
    } else {
        match axum::body::to_bytes(body, 4096).await {
            Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).into_owned(),
            _ => status.canonical_reason().unwrap_or("error").to_owned(),
        }
    };
    let mut out = error_response(status, code, &message);
    // Keep headers such as `Allow` on a 405.
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// The router's fallback: unknown paths.
pub async fn not_found() -> AppError {
    AppError::NotFound("no such endpoint".into())
}
