//! Accounts: `POST /api/v1/auth/register`, `POST /api/v1/auth/login`,
//! `POST /api/v1/auth/logout`, `POST /api/v1/auth/password`, `GET /api/v1/auth/me`.
//!
//! Usernames are 3–32 characters of `[A-Za-z0-9_.-]`, passwords 8–128 characters (both
//! in the OpenAPI schemas). Login is throttled per account and per IP and every password
//! hash runs in the gateway's bounded pool (`bourse_gateway::auth::login`, `password`).
//! Logout revokes the presented token; a password change revokes every token issued
//! before it and answers with a fresh one (see `crate::auth` for how).

use crate::api::users::{ApiRole, ApiTier};
use crate::audit::Audited;
use crate::auth::bearer;
use crate::auth::{AuthUser, ClientAddr};
use crate::error::{ApiError, ApiJson, Error};
use crate::openapi::ErrorResponse;
use crate::state::SharedState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use bourse_engine::sequencer::now_ms;
use bourse_model::{CommandKind, Event, Role, Timestamp, UserId};
use bourse_store::AuditOutcome;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(change_password))
        .routes(routes!(me))
}

/// A new account. The rules are in the schema (`minLength`, `maxLength`, `pattern`) and
/// are exactly what [`validate_username`] and [`validate_password`] enforce (lengths in
/// characters, as JSON Schema counts them).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "alice", "password": "correct horse battery"}))]
pub struct Credentials {
    /// 3–32 characters of `A-Z a-z 0-9 _ . -`.
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]{3,32}$")]
    pub username: String,
    /// 8–128 characters (any characters).
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
}

/// A login: any strings (an account's rules are checked when it is created; a login
/// that does not match is `INVALID_CREDENTIALS`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "alice", "password": "correct horse battery"}))]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 2, "username": "alice", "role": "trader"}))]
pub struct UserJson {
    pub id: u64,
    pub username: String,
    pub role: ApiRole,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjJ9.c2lnbmF0dXJl", "expires_at": 1700086400000_u64}))]
pub struct TokenJson {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Expiry, ms since the epoch.
    pub expires_at: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"current_password": "correct horse battery", "new_password": "a new long passphrase"}))]
pub struct PasswordChange {
    pub current_password: String,
    /// 8–128 characters (any characters), as at registration.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": 2, "username": "alice", "role": "trader", "tier": "standard",
    "kyc_verified": false, "kill_switch": false, "api_keys": 1}))]
pub struct MeJson {
    pub id: u64,
    pub username: String,
    pub role: ApiRole,
    pub tier: ApiTier,
    pub kyc_verified: bool,
    pub kill_switch: bool,
    /// Number of API keys.
    pub api_keys: usize,
}

/// 3–32 characters of `[A-Za-z0-9_.-]`.
pub fn validate_username(u: &str) -> Result<(), ApiError> {
    Ok(bourse_gateway::rules::USERNAME.check("username", u)?)
}

/// 8–128 characters.
pub fn validate_password(p: &str) -> Result<(), ApiError> {
    Ok(bourse_gateway::rules::PASSWORD.check("password", p)?)
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    summary = "Create a trader account",
    request_body = Credentials,
    responses(
        (status = 201, description = "Registered (log in next)", body = UserJson),
        (status = 400, description = "`MALFORMED_JSON`", body = ErrorResponse),
        (status = 409, description = "`USERNAME_TAKEN`", body = ErrorResponse),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR` (username or password rules), `UNKNOWN_FIELD`", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`, `UNAVAILABLE`, `BUSY` (every password-hashing slot taken; see `Retry-After`)", body = ErrorResponse),
    )
)]
async fn register(
    State(state): State<SharedState>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<(StatusCode, Json<UserJson>), ApiError> {
    validate_username(&body.username)?;
    validate_password(&body.password)?;
    let password_hash = state.hasher().hash(body.password).await?;
    let applied = state
        .seq
        .submit(CommandKind::RegisterUser {
            username: body.username,
            password_hash,
            role: Role::Trader,
        })
        .await?;
    for e in &applied.events {
        match e {
            Event::Rejected { code, .. } => return Err(Error::Rejected(*code).into()),
            Event::UserRegistered {
                user,
                username,
                role,
                ..
            } => {
                if let Some(credited) = state.demo_credited.get() {
                    // Demo mode: answer once the demo funds are in, so the newcomer's
                    // first balance read shows them. Bounded: a stuck credit does not
                    // fail the registration.
                    let mut credited = credited.clone();
                    let wait = credited.wait_for(|c| *c >= user.0);
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), wait).await;
                }
                return Ok((
                    StatusCode::CREATED,
                    Json(UserJson {
                        id: user.0,
                        username: username.clone(),
                        role: (*role).into(),
                    }),
                ));
            }
            _ => {}
        }
    }
    Err(Error::internal("RegisterUser produced no UserRegistered event").into())
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    summary = "Exchange username and password for a bearer token",
    description = "Throttled per account and per client address, whatever credential the request \
                   carries: after a few consecutive failures each further failure locks the \
                   account for twice as long (1 s, 2 s, 4 s … up to 15 min by default); a locked \
                   account or address is answered 429 `LOGIN_THROTTLED` with `Retry-After`, \
                   the same for an unknown username. A success resets the account.",
    request_body = LoginBody,
    responses(
        (status = 200, description = "A bearer token", body = TokenJson),
        (status = 400, description = "`MALFORMED_JSON`", body = ErrorResponse),
        (status = 401, description = "`INVALID_CREDENTIALS` (unknown user or wrong password: not told apart)", body = ErrorResponse),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR`, `UNKNOWN_FIELD`", body = ErrorResponse),
        (status = 429, description = "`LOGIN_THROTTLED` (back-off after failed logins), `RATE_LIMITED`; wait `Retry-After` seconds", body = ErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 503, description = "`BUSY` (every password-hashing slot taken; see `Retry-After`), `UNAVAILABLE`", body = ErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
async fn login(
    State(state): State<SharedState>,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<(Extension<Audited>, Json<TokenJson>), (Extension<Audited>, ApiError)> {
    // Logins are not journaled: recorded here (success or not), naming the username.
    let target = Some(format!("user:{}", body.username));
    let answer = match state.login(&body.username, body.password, ip).await {
        Ok(user) => {
            bourse_gateway::origin::identify(user.id, None);
            issue(&state, user.id, user.role, &user.password_hash)
        }
        Err(e) => Err(ApiError::from(e)),
    };
    let outcome = match &answer {
        Ok(_) => AuditOutcome::Accepted,
        Err(e) => AuditOutcome::Rejected(e.0.kind_and_code().1.to_owned()),
    };
    state.audit("login".into(), target, outcome);
    answer
        .map(|json| (Extension(Audited), json))
        .map_err(|e| (Extension(Audited), e))
}

fn issue(
    state: &SharedState,
    user: UserId,
    role: Role,
    password_hash: &str,
) -> Result<Json<TokenJson>, ApiError> {
    let (token, expires_at) = state
        .tokens
        .issue(user, role, password_hash, now_ms())
        .map_err(Error::internal)?;
    Ok(Json(TokenJson { token, expires_at }))
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    summary = "Revoke the bearer token of this request",
    description = "The token is refused from now on (`TOKEN_REVOKED`), also after a restart. \
                   Other tokens of the user stay valid; to end every session, change the password.",
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "`UNAUTHORIZED`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: called with an API key (delete the key instead)", body = ErrorResponse),
        (status = 503, description = "`UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
async fn logout(
    State(state): State<SharedState>,
    user: AuthUser,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    user.require_session()?;
    let token = bearer(&headers)
        .ok_or_else(|| Error::internal("bearer session without a bearer header"))??;
    let claims = state
        .tokens
        .decode(token)
        .map_err(|_| Error::internal("an accepted token no longer decodes"))?;
    let jti = claims
        .jti_bytes()
        .ok_or_else(|| Error::internal("an accepted token has a malformed jti"))?;
    let applied = state
        .seq
        .submit(CommandKind::RevokeToken {
            user: user.id,
            jti,
            expires_at: Timestamp(claims.exp.saturating_mul(1000)),
        })
        .await?;
    if let Some((code, _)) = applied.rejected() {
        return Err(Error::Rejected(code).into());
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    tag = "auth",
    summary = "Change the password",
    description = "Every token issued before the change is revoked (`TOKEN_REVOKED`); the answer \
                   carries a fresh token. API keys are not affected.",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed; a new token", body = TokenJson),
        (status = 400, description = "`MALFORMED_JSON`", body = ErrorResponse),
        (status = 401, description = "`INVALID_CREDENTIALS` (wrong current password), `UNAUTHORIZED`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`", body = ErrorResponse),
        (status = 429, description = "`LOGIN_THROTTLED` (wrong current passwords count like failed logins), `RATE_LIMITED`", body = ErrorResponse),
        (status = 403, description = "`FORBIDDEN`: called with an API key", body = ErrorResponse),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorResponse),
        (status = 422, description = "`VALIDATION_ERROR` (password rules), `UNKNOWN_FIELD`", body = ErrorResponse),
        (status = 503, description = "`JOURNAL_UNAVAILABLE`, `OVERLOADED`, `UNAVAILABLE`, `BUSY` (every password-hashing slot taken; see `Retry-After`)", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
async fn change_password(
    State(state): State<SharedState>,
    ClientAddr(ip): ClientAddr,
    user: AuthUser,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Json<TokenJson>, ApiError> {
    user.require_session()?;
    validate_password(&body.new_password)?;
    let id = user.id;
    // Throttled like a login: a stolen token must not make guessing the password free.
    state
        .check_current_password(id, body.current_password, ip)
        .await?;
    let password_hash = state.hasher().hash(body.new_password).await?;
    let applied = state
        .seq
        .submit(CommandKind::SetPassword {
            user: id,
            password_hash: password_hash.clone(),
        })
        .await?;
    if let Some((code, _)) = applied.rejected() {
        return Err(Error::Rejected(code).into());
    }
    issue(&state, id, user.role, &password_hash)
}

#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    summary = "The calling user: role, tier, KYC and kill-switch state",
    responses(
        (status = 200, description = "The caller", body = MeJson),
        (status = 401, description = "`UNAUTHORIZED`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`, `INVALID_API_KEY`, `INVALID_SIGNATURE`, `TIMESTAMP_OUT_OF_WINDOW`, `SIGNATURE_REPLAYED`", body = ErrorResponse),
        (status = 503, description = "`UNAVAILABLE`", body = ErrorResponse),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
async fn me(State(state): State<SharedState>, user: AuthUser) -> Result<Json<MeJson>, ApiError> {
    let u = state
        .seq
        .views()
        .user(user.id)
        .ok_or_else(|| Error::Unauthorized("invalid token".into()))?;
    Ok(Json(MeJson {
        id: u.id.0,
        username: u.username.clone(),
        role: u.role.into(),
        tier: u.tier.into(),
        kyc_verified: u.kyc_verified,
        kill_switch: u.kill_switch,
        api_keys: u.api_keys,
    }))
}

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    Credentials,
    LoginBody,
    UserJson,
    TokenJson,
    PasswordChange,
    MeJson
)))]
pub struct Doc;
