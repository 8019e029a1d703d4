//! The one error type of every gateway service: what went wrong, as a stable
//! SCREAMING_SNAKE code, a [`Kind`] (what class of failure it is), and a public message.
//! Each channel maps it to its wire form in one place: the HTTP crate chooses the status
//! from the [`Kind`]; the Binance and FIX adapters map the codes.
//!
//! | kind | codes |
//! |------|-------|
//! | `BadRequest` | `MALFORMED_JSON`, `BAD_REQUEST` (bad path or query string) |
//! | `Unauthorized` | `UNAUTHORIZED`, `INVALID_CREDENTIALS`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`, `INVALID_API_KEY`, `INVALID_SIGNATURE`, `TIMESTAMP_OUT_OF_WINDOW`, `SIGNATURE_REPLAYED` |
//! | `Forbidden` | `FORBIDDEN`, `PERMISSION_DENIED` (the API key lacks a permission), `IP_NOT_ALLOWED` (not on the key's allow-list), `KILL_SWITCH_ACTIVE`, `KYC_REQUIRED` (not verified while KYC is required, or the user's KYC level may not trade / withdraw) |
//! | `NotFound` | `NOT_FOUND`, `UNKNOWN_ORDER`, `UNKNOWN_MARKET`, `UNKNOWN_USER`, `UNKNOWN_ASSET`, `UNKNOWN_WITHDRAWAL`, `UNKNOWN_API_KEY` |
//! | `ReadOnly` | `METHOD_NOT_ALLOWED`, `READ_ONLY` (a follower refuses writes) |
//! | `Conflict` | `DUPLICATE_CLIENT_ORDER_ID`, `DUPLICATE_CLIENT_WITHDRAWAL_ID`, `USERNAME_TAKEN`, `MARKET_EXISTS`, `ASSET_EXISTS`, `API_KEY_EXISTS`, `MARKET_HALTED`, `MARKET_ALREADY_IN_STATE`, `WITHDRAWAL_NOT_PENDING`, `ORDER_NOT_AMENDABLE` |
//! | `PayloadTooLarge` | `PAYLOAD_TOO_LARGE` |
//! | `UnsupportedMediaType` | `UNSUPPORTED_MEDIA_TYPE` |
//! | `Unprocessable` | `VALIDATION_ERROR`, `UNKNOWN_FIELD`, `INVALID_DECIMAL`, `OFF_GRID`, and every other reject code of the core (`INSUFFICIENT_BALANCE`, `INVALID_PRICE`, `POST_ONLY_WOULD_TAKE`, …): the request was well-formed but cannot be carried out |
//! | `TooManyRequests` | `RATE_LIMITED`, `ORDER_RATE_LIMITED`, `LOGIN_THROTTLED` (back-off after failed logins) (all with a retry delay: [`Error::retry_after`]) |
//! | `Internal` | `INTERNAL` (details are logged, never sent) |
//! | `Unavailable` | `JOURNAL_UNAVAILABLE`, `NOT_LEADER` (this node holds no leader lease: a standby, or an active that lost it; the message names the leader's URL when known), `READ_MODEL_BEHIND`, `OVERLOADED` (a read side is too far behind: nothing was done), `RATE_LIMIT_UNAVAILABLE` (the shared rate-limit store is down and `redis_failure = "closed"`), `BUSY` (every password-hashing slot is taken, with a retry delay), `UNAVAILABLE` |
//!
//! [`Error::Later`] (`LOGIN_THROTTLED`, `BUSY`) says when to retry, like
//! [`Error::RateLimited`] ([`Error::retry_after`]); channels pass it on (HTTP: `Retry-After`).
//!
//! `INSUFFICIENT_BALANCE` is `Unprocessable`, not `BadRequest`: the request was valid,
//! the account cannot pay. So is `WITHDRAWAL_LIMIT` ([`Error::WithdrawalLimit`]: over the
//! daily withdrawal limit of the user's KYC level), which carries the remaining
//! allowance ([`Error::remaining`]).

use bourse_engine::SequencerError;
use bourse_model::RejectCode;
use std::borrow::Cow;
use std::time::Duration;

/// A delay in whole seconds, rounded up, at least 1 (what `Retry-After` carries).
pub fn retry_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The class of a failure; each channel maps it to its own wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    /// The method is not allowed here, or this node does not take writes.
    ReadOnly,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable,
    TooManyRequests,
    Internal,
    Unavailable,
}

/// Every error a gateway service can return.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The core refused the command.
    #[error("{0}")]
    Rejected(RejectCode),
    /// The core refused a withdrawal over the daily limit of the user's KYC level
    /// (`WITHDRAWAL_LIMIT`); `remaining` is what may still be withdrawn today, a decimal
    /// string on the asset's scale. Channels pass it on (HTTP: `error.remaining`).
    #[error("over the daily withdrawal limit of your KYC level; {remaining} {asset} left today")]
    WithdrawalLimit { asset: String, remaining: String },
    /// Input that does not pass validation at the edge. `code` is SCREAMING_SNAKE.
    #[error("{message}")]
    Invalid {
        kind: Kind,
        code: &'static str,
        message: String,
    },
    /// Refused for now: retry after `retry_after`.
    #[error("{message}")]
    Later {
        kind: Kind,
        code: &'static str,
        message: String,
        retry_after: std::time::Duration,
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
    /// Over a rate limit (`RATE_LIMITED`, `ORDER_RATE_LIMITED`); retry after the delay.
    #[error("{message}")]
    RateLimited {
        code: &'static str,
        message: String,
        retry_after: Duration,
    },
    /// The shared rate-limit store cannot be reached and the limits fail closed.
    #[error("the rate-limit store is unavailable; retry shortly")]
    LimitStoreUnavailable,
    /// Anything broken inside: logged with detail, answered without it.
    #[error("internal error")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn validation(message: impl Into<String>) -> Self {
        Self::invalid("VALIDATION_ERROR", message)
    }

    /// `Unprocessable` with a specific code.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            kind: Kind::Unprocessable,
            code,
            message: message.into(),
        }
    }

    /// `Unauthorized` with a specific code.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            kind: Kind::Unauthorized,
            code,
            message: message.into(),
        }
    }

    /// `Forbidden` with a specific code.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            kind: Kind::Forbidden,
            code,
            message: message.into(),
        }
    }

    /// Over a rate limit: the message says when to retry (whole seconds, at least 1).
    pub fn rate_limited(code: &'static str, retry_after: Duration) -> Self {
        let what = if code == "ORDER_RATE_LIMITED" {
            "too many orders"
        } else {
            "too many requests"
        };
        Self::RateLimited {
            code,
            message: format!("{what}; retry in {} s", retry_secs(retry_after)),
            retry_after,
        }
    }

    /// How long to wait before retrying, for the errors that say (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Later { retry_after, .. } => {
                Some(*retry_after)
            }
            Self::LimitStoreUnavailable => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    pub fn kind_and_code(&self) -> (Kind, &'static str) {
        match self {
            Self::Rejected(code) => (reject_kind(*code), code.as_str()),
            Self::WithdrawalLimit { .. } => (
                reject_kind(RejectCode::WithdrawalLimit),
                RejectCode::WithdrawalLimit.as_str(),
            ),
            Self::Invalid { kind, code, .. } | Self::Later { kind, code, .. } => (*kind, code),
            Self::Unauthorized(_) => (Kind::Unauthorized, "UNAUTHORIZED"),
            Self::InvalidCredentials => (Kind::Unauthorized, "INVALID_CREDENTIALS"),
            Self::Forbidden(_) => (Kind::Forbidden, "FORBIDDEN"),
            Self::NotFound(_) => (Kind::NotFound, "NOT_FOUND"),
            Self::Sequencer(SequencerError::JournalUnavailable(_)) => {
                (Kind::Unavailable, "JOURNAL_UNAVAILABLE")
            }
            Self::Sequencer(SequencerError::ReadOnly) => (Kind::ReadOnly, "READ_ONLY"),
            Self::Sequencer(SequencerError::NotLeader(_)) => (Kind::Unavailable, "NOT_LEADER"),
            Self::Sequencer(SequencerError::Stopped) => (Kind::Unavailable, "UNAVAILABLE"),
            Self::Sequencer(SequencerError::Overloaded(_)) => (Kind::Unavailable, "OVERLOADED"),
            Self::ReadModelBehind => (Kind::Unavailable, "READ_MODEL_BEHIND"),
            Self::RateLimited { code, .. } => (Kind::TooManyRequests, code),
            Self::LimitStoreUnavailable => (Kind::Unavailable, "RATE_LIMIT_UNAVAILABLE"),
            Self::Internal(_) => (Kind::Internal, "INTERNAL"),
        }
    }

    /// What is left of a limit, for the errors that carry it (`WITHDRAWAL_LIMIT`).
    pub fn remaining(&self) -> Option<&str> {
        match self {
            Self::WithdrawalLimit { remaining, .. } => Some(remaining),
            _ => None,
        }
    }

    pub fn code(&self) -> &'static str {
        self.kind_and_code().1
    }

    /// What the caller is told: never file names, OS errors or internal detail.
    pub fn public_message(&self) -> String {
        match self {
            Self::Rejected(code) => reject_message(*code).to_owned(),
            // The reason names files and OS errors: keep it in the log.
            Self::Sequencer(SequencerError::JournalUnavailable(_)) => {
                "the journal cannot be written; trading is halted".into()
            }
            other => other.to_string(),
        }
    }

    /// Logs what the public message leaves out (once, where the error is answered).
    pub fn log_detail(&self) {
        match self {
            Self::Internal(detail) => tracing::error!(detail = %detail, "internal error"),
            Self::Sequencer(SequencerError::JournalUnavailable(reason)) => {
                tracing::warn!(reason = %reason, "refused: journal unavailable")
            }
            _ => {}
        }
    }
}

impl From<bourse_store::StoreError> for Error {
    fn from(e: bourse_store::StoreError) -> Self {
        Self::Internal(format!("store: {e:?}"))
    }
}

/// The class of each reject code (see the module doc).
pub fn reject_kind(code: RejectCode) -> Kind {
    use RejectCode::*;
    match code {
        UnknownUser | UnknownAsset | UnknownMarket | UnknownOrder | UnknownWithdrawal
        | UnknownApiKey => Kind::NotFound,
        AssetExists
        | MarketExists
        | UsernameTaken
        | ApiKeyExists
        | DuplicateClientOrderId
        | DuplicateClientWithdrawalId
        | MarketHalted
        | MarketAlreadyInState
        | WithdrawalNotPending
        | OrderNotAmendable => Kind::Conflict,
        KillSwitchActive | KycRequired => Kind::Forbidden,
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
        | StopWouldTriggerImmediately
        | WithdrawalLimit
        | InvalidKycLevel
        | InvalidKycPolicy
        | InvalidBeneficialOwner => Kind::Unprocessable,
    }
}

/// The public message of each reject code.
pub fn reject_message(code: RejectCode) -> &'static str {
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
        DuplicateClientWithdrawalId => {
            "client_withdrawal_id already used with a different withdrawal"
        }
        ExpireAtInPast => "expire_at is not in the future",
        StopWouldTriggerImmediately => "the stop price would trigger immediately",
        OrderNotAmendable => "this order cannot be amended",
        WithdrawalNotPending => "the withdrawal is not pending",
        MarketAlreadyInState => "the market is already in that state",
        WithdrawalLimit => "over the daily withdrawal limit of your KYC level",
        InvalidKycLevel => "the KYC level is not valid (0 to 2)",
        InvalidKycPolicy => "the KYC level policy is not valid",
        InvalidBeneficialOwner => "the beneficial owner is longer than 64 characters",
    }
}
