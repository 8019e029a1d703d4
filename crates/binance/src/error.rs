//! The one place a gateway error becomes Binance's wire error: an HTTP status and
//! `{"code": <negative int>, "msg": "..."}` with Binance's code and, where Binance has one,
//! its exact message (clients such as CCXT pick their exception from `code` and `msg`).
//!
//! | gateway code | Binance |
//! |---|---|
//! | `TIMESTAMP_OUT_OF_WINDOW` | -1021 |
//! | `INVALID_SIGNATURE`, `SIGNATURE_REPLAYED` | -1022 |
//! | `INVALID_API_KEY`, `PERMISSION_DENIED`, `IP_NOT_ALLOWED`, `UNAUTHORIZED` | -2015 (401) |
//! | `UNKNOWN_MARKET` | -1121 |
//! | `UNKNOWN_ORDER` | -2013, or -2011 when canceling ([`Op::Cancel`]) |
//! | any other reject of a new order | -2010 (insufficient balance and post-only have Binance's messages) |
//! | `OFF_GRID` | -1013 |
//! | `INVALID_DECIMAL` (scale or size of a decimal the pattern admits) | -1111 |
//! | `VALIDATION_ERROR` | -1100 |
//! | `RATE_LIMITED` | -1003 (429, `Retry-After`); `ORDER_RATE_LIMITED` -1015 (429) |
//! | internal / unavailable | -1000 (500) / -1001 (503) |

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bourse_gateway::error::{retry_secs, Error, Kind};
use bourse_model::RejectCode;
use serde_json::json;

/// What the failing request was doing: Binance answers an unknown order differently for
/// a cancel, and any refusal of a new order is -2010.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Other,
    NewOrder,
    Cancel,
}

/// A Binance error answer.
#[derive(Debug)]
pub struct BinanceError {
    pub status: StatusCode,
    pub code: i32,
    pub msg: String,
    pub retry_after: Option<u64>,
}

pub type Result<T, E = BinanceError> = std::result::Result<T, E>;

impl BinanceError {
    pub fn new(code: i32, msg: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            msg: msg.into(),
            retry_after: None,
        }
    }

    /// -1102: a mandatory parameter is missing or empty.
    pub fn missing(name: &str) -> Self {
        Self::new(
            -1102,
            format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
        )
    }

    /// -1100: a parameter has illegal characters or is out of range.
    pub fn illegal(name: &str) -> Self {
        Self::new(
            -1100,
            format!(
                "Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
            ),
        )
    }

    /// -2014: no (or an unreadable) `X-MBX-APIKEY` where the route needs one; HTTP 401
    /// as Binance.
    pub fn key_format() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            ..Self::new(-2014, "API-key format invalid.")
        }
    }

    /// -1121 `Invalid symbol.`
    pub fn invalid_symbol() -> Self {
        Self::new(-1121, "Invalid symbol.")
    }

    /// -2015: bad key, IP or permissions (HTTP 401 as Binance).
    pub fn bad_key() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            ..Self::new(-2015, "Invalid API-key, IP, or permissions for action.")
        }
    }

    /// The gateway's error as Binance would answer it in the context `op`.
    pub fn from_gateway(e: Error, op: Op) -> Self {
        let (kind, code) = e.kind_and_code();
        let msg = e.public_message();
        let retry_after = e.retry_after().map(retry_secs);
        let mut out = match (code, &e) {
            ("TIMESTAMP_OUT_OF_WINDOW", _) => Self::new(
                -1021,
                "Timestamp for this request is outside of the recvWindow.",
            ),
            ("INVALID_SIGNATURE" | "SIGNATURE_REPLAYED", _) => {
                Self::new(-1022, "Signature for this request is not valid.")
            }
            ("INVALID_API_KEY" | "PERMISSION_DENIED" | "IP_NOT_ALLOWED" | "UNAUTHORIZED", _) => {
                Self::bad_key()
            }
            (_, Error::Rejected(RejectCode::UnknownMarket)) => Self::invalid_symbol(),
            (_, Error::Rejected(RejectCode::UnknownOrder)) if op == Op::Cancel => {
                Self::new(-2011, "Unknown order sent.")
            }
            (_, Error::Rejected(RejectCode::UnknownOrder)) => {
                Self::new(-2013, "Order does not exist.")
            }
            (_, Error::Rejected(RejectCode::InsufficientBalance)) => Self::new(
                -2010,
                "Account has insufficient balance for requested action.",
            ),
            (_, Error::Rejected(RejectCode::PostOnlyWouldTake)) => {
                Self::new(-2010, "Order would immediately match and take.")
            }
            (_, Error::Rejected(RejectCode::DuplicateClientOrderId)) => {
                Self::new(-2010, "Duplicate order sent.")
            }
            (_, Error::Rejected(RejectCode::OrderNotAmendable)) if op == Op::Cancel => {
                Self::new(-2011, "Unknown order sent.")
            }
            (_, Error::Rejected(_)) if op == Op::NewOrder => Self::new(-2010, msg),
            ("OFF_GRID", _) => Self::new(-1013, format!("Filter failure: {msg}")),
            ("INVALID_DECIMAL", _) => Self::new(
                -1111,
                format!("Precision is over the maximum defined for this asset: {msg}"),
            ),
            (_, Error::Rejected(_)) => Self::new(-1013, msg),
            ("RATE_LIMITED", _) => Self {
                status: StatusCode::TOO_MANY_REQUESTS,
                ..Self::new(
                    -1003,
                    "Too many requests; current limit is exceeded. Please use the websocket for live updates to avoid polling the API.",
                )
            },
            ("ORDER_RATE_LIMITED", _) => Self {
                status: StatusCode::TOO_MANY_REQUESTS,
                ..Self::new(-1015, "Too many new orders.")
            },
            _ => match kind {
                Kind::Internal => Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    ..Self::new(
                        -1000,
                        "An unknown error occurred while processing the request.",
                    )
                },
                Kind::Unavailable | Kind::TooManyRequests => Self {
                    status: if kind == Kind::Unavailable {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::TOO_MANY_REQUESTS
                    },
                    ..Self::new(
                        -1001,
                        "Internal error; unable to process your request. Please try again.",
                    )
                },
                Kind::Forbidden | Kind::Unauthorized => Self::bad_key(),
                Kind::NotFound => Self::new(-1121, msg),
                _ => Self::new(-1100, msg),
            },
        };
        if matches!(kind, Kind::Internal) {
            e.log_detail();
        }
        out.retry_after = retry_after;
        out
    }
}

impl From<Error> for BinanceError {
    fn from(e: Error) -> Self {
        Self::from_gateway(e, Op::Other)
    }
}

impl IntoResponse for BinanceError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            axum::Json(json!({"code": self.code, "msg": self.msg})),
        )
            .into_response();
        if let Some(s) = self.retry_after {
            res.headers_mut()
                .insert("retry-after", HeaderValue::from(s.max(1)));
        }
        res
    }
}

impl From<bourse_store::StoreError> for BinanceError {
    fn from(e: bourse_store::StoreError) -> Self {
        Self::from(Error::from(e))
    }
}
