//! The one place errors become HTTP responses: [`status`] chooses the status of each
//! [`Kind`] of gateway error (the codes of each kind are listed in
//! `bourse_gateway::error`); every error body is
//! `{"error": {"code": "SCREAMING_SNAKE", "message": "…"}}`.
//!
//! `RATE_LIMITED` and `ORDER_RATE_LIMITED` (429) and `RATE_LIMIT_UNAVAILABLE` (503)
//! carry `Retry-After` (whole seconds, [`Error::retry_after`]; see `crate::limits`), and
//! so do `LOGIN_THROTTLED` (429) and `BUSY` (503).
//!
//! Two answers come from the transport, not from a gateway error, and have their status
//! here too: 408 `REQUEST_TIMEOUT` ([`request_timeout`]) and 421 `MISDIRECTED_REQUEST`
//! ([`misdirected`]); see `crate::security`.
//!
//! Rejections axum produces itself (bad JSON, bad path parameter, wrong method, body too
//! large) are turned into this shape by [`ApiJson`] and by the [`json_errors`] middleware,
//! which rewrites any error response that is not JSON yet.

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use bourse_gateway::error::{Error, Kind};
use serde::Serialize;

/// The HTTP status of each kind of error.
pub fn status(kind: Kind) -> StatusCode {
    match kind {
        Kind::BadRequest => StatusCode::BAD_REQUEST,
        Kind::Unauthorized => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::ReadOnly => StatusCode::METHOD_NOT_ALLOWED,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Kind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A gateway error on its way out as an HTTP response: what handlers return.
#[derive(Debug)]
pub struct ApiError(pub Error);

pub type ApiResult<T> = Result<T, ApiError>;

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        status(self.0.kind_and_code().0)
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
    /// The request's `X-Request-Id`, when built while serving one.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    /// `WITHDRAWAL_LIMIT`: what may still be withdrawn today (decimal string).
    #[serde(skip_serializing_if = "Option::is_none")]
    remaining: Option<&'a str>,
}

/// Builds an error response in the contract's shape.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    error_response_with(status, code, message, None)
}

/// [`error_response`] with the remaining allowance of a `WITHDRAWAL_LIMIT`.
fn error_response_with(
    status: StatusCode,
    code: &str,
    message: &str,
    remaining: Option<&str>,
) -> Response {
    let body = serde_json::to_vec(&ErrorBody {
        error: ErrorDetail {
            code,
            message,
            request_id: crate::monitoring::request_id::current(),
            remaining,
        },
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
    // For the audit trail's record of a refused request (`crate::audit`).
    res.extensions_mut().insert(ErrorCode(code.to_owned()));
    res
}

/// The error code of an error response, in its extensions.
#[derive(Debug, Clone)]
pub struct ErrorCode(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (kind, code) = self.0.kind_and_code();
        self.0.log_detail();
        let mut res = error_response_with(
            status(kind),
            code,
            &self.0.public_message(),
            self.0.remaining(),
        );
        if let Some(wait) = self.0.retry_after() {
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(bourse_gateway::error::retry_secs(wait)),
            );
        }
        res
    }
}

/// `Json` whose rejections are answered in the contract's shape. Request bodies also use
/// `#[serde(deny_unknown_fields)]`, so an unknown field is `UNKNOWN_FIELD` (422).
///
/// An integer field takes a number with a zero fraction too (`5.0`, `1e3`): JSON Schema
/// calls those integers, so the OpenAPI document does. serde does not; a body it refuses
/// for a float is read once more with such numbers written as integers.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let headers = parts.headers.clone();
        let bytes = axum::body::Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|r| json_rejection(r.into()))?;
        let rebuilt = |bytes: axum::body::Bytes| {
            let mut req = Request::new(Body::from(bytes));
            *req.headers_mut() = headers.clone();
            req
        };
        let fixed = match axum::Json::<T>::from_request(rebuilt(bytes.clone()), state).await {
            Ok(axum::Json(v)) => return Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) if e.body_text().contains("floating point") => {
                integral_floats_as_integers(&bytes)
                    .ok_or_else(|| json_rejection(JsonRejection::JsonDataError(e)))?
            }
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        axum::Json::<T>::from_request(rebuilt(fixed), state)
            .await
            .map(|axum::Json(v)| ApiJson(v))
            .map_err(json_rejection)
    }
}

/// `bytes` with every number that is a whole non-negative value below 2^53 (exact in a
/// float) written as an integer; `None` if there is none (or the body is not JSON). `-0`
/// stays a float, so it is still refused (every integer field is unsigned, and the hostile
/// input suite holds `-0` to that).
fn integral_floats_as_integers(bytes: &[u8]) -> Option<axum::body::Bytes> {
    fn walk(v: &mut serde_json::Value, changed: &mut bool) {
        match v {
            // Not by sign of the float: serde_json reads `-0` as `0.0` here.
            serde_json::Value::Number(n)
                if !n.is_i64() && !n.is_u64() && !n.to_string().starts_with('-') =>
            {
                if let Some(f) = n
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 2f64.powi(53))
                {
                    *v = serde_json::Value::from(f as i64);
                    *changed = true;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| walk(i, changed)),
            serde_json::Value::Object(m) => m.values_mut().for_each(|i| walk(i, changed)),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let mut changed = false;
    walk(&mut v, &mut changed);
    changed.then(|| serde_json::to_vec(&v).ok().map(Into::into))?
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let text = r.body_text();
    let (kind, code) = match &r {
        JsonRejection::JsonDataError(_) if text.contains("unknown field") => {
            (Kind::Unprocessable, "UNKNOWN_FIELD")
        }
        JsonRejection::JsonDataError(_) => (Kind::Unprocessable, "VALIDATION_ERROR"),
        JsonRejection::JsonSyntaxError(_) => (Kind::BadRequest, "MALFORMED_JSON"),
        JsonRejection::MissingJsonContentType(_) => {
            (Kind::UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE")
        }
        _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            (Kind::PayloadTooLarge, "PAYLOAD_TOO_LARGE")
        }
        _ => (Kind::BadRequest, "BAD_REQUEST"),
    };
    Error::Invalid {
        kind,
        code,
        message: text,
    }
    .into()
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
        StatusCode::REQUEST_TIMEOUT => "REQUEST_TIMEOUT",
        StatusCode::MISDIRECTED_REQUEST => "MISDIRECTED_REQUEST",
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

/// 408: the request did not complete within the request timeout.
pub fn request_timeout(limit: std::time::Duration) -> Response {
    let mut res = error_response(
        StatusCode::REQUEST_TIMEOUT,
        "REQUEST_TIMEOUT",
        &format!(
            "the request did not complete within {} ms; a command it carried may still \
             have been applied (look it up, or retry with the same client id)",
            limit.as_millis()
        ),
    );
    // The request may be half read: the connection cannot be reused.
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// 421: the request names a host this server does not serve (`crate::security::host`).
pub fn misdirected() -> Response {
    error_response(
        StatusCode::MISDIRECTED_REQUEST,
        "MISDIRECTED_REQUEST",
        "this server does not serve the requested host",
    )
}

/// The router's fallback: unknown paths.
pub async fn not_found() -> ApiError {
    Error::NotFound("no such endpoint".into()).into()
}

#[cfg(test)]
mod tests {
    use super::integral_floats_as_integers as fix;

    #[test]
    fn whole_floats_become_integers_and_nothing_else_changes() {
        assert_eq!(
            &fix(br#"{"a":5.0,"b":[1e3]}"#).unwrap()[..],
            br#"{"a":5,"b":[1000]}"#
        );
        assert!(fix(br#"{"a":-0}"#).is_none());
        assert!(fix(br#"{"a":-5.0}"#).is_none());
        assert!(fix(br#"{"a":5.5}"#).is_none());
        assert!(fix(br#"{"a":1e26}"#).is_none());
    }
}
