//! The OpenAPI 3.1 document (`GET /openapi.json`) and the offline docs page (`/docs`).
//!
//! Each `api/<area>.rs` registers its handlers with utoipa-axum's `routes!`, so every
//! route it serves is a path of the document (each handler annotated with
//! `#[utoipa::path]`, every error response included), and declares
//! `#[derive(utoipa::OpenApi)] pub struct Doc` with the schemas they use;
//! `crate::api::document` is what they add up to, under the common info, error schema and
//! security schemes of [`base`].

use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error response: `{"error": {"code": "INSUFFICIENT_BALANCE", "message": "…"}}`.
/// The codes and their statuses are listed in the description of [`ErrorDetail::code`].
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "INSUFFICIENT_BALANCE", "message": "not enough available balance"}}))]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable SCREAMING_SNAKE code; see the API description for the full list by status.
    pub code: String,
    /// Human-readable explanation; may change between versions.
    pub message: String,
    /// The request's `X-Request-Id` (the client's if it sent a printable one of at most
    /// 128 characters, else one the server made); every response carries it as that
    /// header too. Quote it when reporting a problem: the server log names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `WITHDRAWAL_LIMIT` only: what the user may still withdraw of the asset today (UTC
    /// day), a decimal string on the asset's scale.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "0.25")]
    pub remaining: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bourse API",
        description = include_str!("openapi_description.md"),
        license(name = "Apache-2.0"),
    ),
    // Relative: "Try it out" on /docs and clients reading the document talk to the server
    // that served it, whatever host or port it listens on.
    servers((url = "/", description = "The server that served this document")),
    // The order of the sections on /docs.
    tags(
        (name = "auth", description = "Sign up, log in and out, change the password, who am I"),
        (name = "api-keys", description = "API keys for HMAC-signed requests (the secret is shown once)"),
        (name = "market data", description = "Public: markets, order book, trades, ticker, candles"),
        (name = "orders", description = "Place, amend, cancel and list orders; fills"),
        (name = "account", description = "Balances, deposits, withdrawal requests"),
        (name = "notifications", description = "Inbox and price alerts"),
        (name = "admin", description = "Role admin: deposits, withdrawals, markets, users"),
        (name = "operations", description = "Liveness and readiness"),
        (name = "monitoring", description = "Role admin: latency percentiles, counts and rates, health, the dashboard's figures"),
    ),
    components(schemas(ErrorResponse, ErrorDetail)),
    modifiers(&SecuritySchemes),
)]
struct BaseDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-KEY",
                "API key id; the request must also carry X-API-TIMESTAMP (ms) and \
                 X-API-SIGNATURE = hex HMAC-SHA256(secret, timestamp + METHOD + path_and_query + body). \
                 A key may do what it was created with: `read` (private reads), `trade` (order \
                 entry), `withdraw`, `admin` (admin routes: an admin's key with an IP allow-list \
                 only); a key with an allow-list is refused from other addresses (`IP_NOT_ALLOWED`)",
            ))),
        );
    }
}

/// The common part: info, tags, the error schema, the security schemes.
pub fn base() -> utoipa::openapi::OpenApi {
    BaseDoc::openapi()
}

/// What applies to every operation: the 429 of the rate limits, the 403 of API-key
/// permissions and allow-lists; the input rules of `bourse_gateway::rules` on the
/// parameters and schemas they govern; the links between operations.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    crate::limits::document_rate_limits(&mut doc);
    crate::auth::document_key_refusals(&mut doc);
    crate::openapi_rules::document_rules(&mut doc);
    crate::openapi_links::document_links(&mut doc);
    doc
}
