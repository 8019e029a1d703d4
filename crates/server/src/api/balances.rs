//! `GET /api/v1/balances`: the caller's balances per asset, from the live core.

use crate::auth::AuthUser;
use crate::error::AppError;
use crate::state::SharedState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use bourse_model::format_units;
use serde::Serialize;

pub fn router() -> Router<SharedState> {
    Router::new().route("/api/v1/balances", get(balances))
}

#[derive(Serialize)]
pub struct BalanceJson {
    pub asset: String,
    pub available: String,
    pub held: String,
}

async fn balances(
    State(state): State<SharedState>,
    user: AuthUser,
) -> Result<Json<Vec<BalanceJson>>, AppError> {
    let rows = state
        .seq
        .query(move |core| {
            core.balances(user.id)
                .into_iter()
                .filter_map(|(asset, available, held)| {
                    let a = core.asset(asset)?;
                    Some(BalanceJson {
                        asset: a.symbol.to_string(),
                        available: format_units(available.0, a.scale),
                        held: format_units(held.0, a.scale),
                    })
                })
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(rows))
}

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Doc;
