//! Accounts: `POST /api/v1/auth/register`, `POST /api/v1/auth/login`.

use crate::auth::password;
use crate::error::{ApiJson, AppError};
use crate::sequencer::now_ms;
use crate::state::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use bourse_model::{CommandKind, Event, Role};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Serialize)]
pub struct UserJson {
    pub id: u64,
    pub username: String,
    pub role: Role,
}

#[derive(Serialize)]
pub struct TokenJson {
    pub token: String,
    pub expires_at: u64,
}

/// 3–32 characters of `[A-Za-z0-9_.-]`.
pub fn validate_username(u: &str) -> Result<(), AppError> {
    let ok = (3..=32).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(
            "username: 3 to 32 characters of A-Z, a-z, 0-9, _ . -",
        ))
    }
}

/// 8–128 characters.
pub fn validate_password(p: &str) -> Result<(), AppError> {
    if (8..=128).contains(&p.chars().count()) {
        Ok(())
    } else {
        Err(AppError::validation("password: 8 to 128 characters"))
    }
}

async fn register(
    State(state): State<SharedState>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<(StatusCode, Json<UserJson>), AppError> {
    validate_username(&body.username)?;
    validate_password(&body.password)?;
    let password_hash = password::hash_async(body.password).await?;
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
            Event::Rejected { code, .. } => return Err(AppError::Rejected(*code)),
            Event::UserRegistered {
                user,
                username,
                role,
                ..
            } => {
                return Ok((
                    StatusCode::CREATED,
                    Json(UserJson {
                        id: user.0,
                        username: username.clone(),
                        role: *role,
                    }),
                ))
            }
            _ => {}
        }
    }
    Err(AppError::internal(
        "RegisterUser produced no UserRegistered event",
    ))
}

async fn login(
    State(state): State<SharedState>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<TokenJson>, AppError> {
    let name = body.username.clone();
    let user = state
        .seq
        .query(move |core| core.user_by_name(&name).and_then(|id| core.user(id)))
        .await?;
    let Some(user) = user else {
        // Same work as a wrong password, so timing does not reveal usernames.
        let _ = password::verify_async(body.password, DUMMY_HASH.into()).await;
        return Err(AppError::InvalidCredentials);
    };
    if !password::verify_async(body.password, user.password_hash).await {
        return Err(AppError::InvalidCredentials);
    }
    let (token, expires_at) = state
        .tokens
        .issue(user.id, user.role, now_ms())
        .map_err(AppError::internal)?;
    Ok(Json(TokenJson { token, expires_at }))
}

/// argon2id hash of a random string, for the unknown-user path.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YqFh4ODt7n3Lq4YQ1mEJxNqgr3Ck0cK3kI8Q3pOa2Zk";

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Doc;
