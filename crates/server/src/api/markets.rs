//! Public market data: `GET /api/v1/markets`, `GET /api/v1/markets/{symbol}/book`.

use crate::api::views::{MarketInfo, MarketJson};
use crate::error::AppError;
use crate::state::SharedState;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use bourse_model::{RejectCode, Side};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/markets", get(list))
        .route("/api/v1/markets/{symbol}/book", get(book))
}

async fn list(State(state): State<SharedState>) -> Result<Json<Vec<MarketJson>>, AppError> {
    let markets = state.seq.query(MarketInfo::all).await?;
    Ok(Json(markets.iter().map(MarketJson::from).collect()))
}

#[derive(Deserialize)]
struct BookQuery {
    depth: Option<usize>,
}

#[derive(Serialize)]
struct BookJson {
    symbol: String,
    sequence: u64,
    bids: Vec<[String; 2]>,
    asks: Vec<[String; 2]>,
}

const MAX_DEPTH: usize = 1000;

async fn book(
    State(state): State<SharedState>,
    Path(symbol): Path<String>,
    Query(q): Query<BookQuery>,
) -> Result<Json<BookJson>, AppError> {
    let depth = q.depth.unwrap_or(50).clamp(1, MAX_DEPTH);
    let out = state
        .seq
        .query(move |core| {
            let id = core.market_by_symbol(&symbol)?;
            let m = core.market(id)?;
            let level = |(p, q): (bourse_model::Price, bourse_model::Qty)| {
                [m.spec.format_price(p), m.spec.format_qty(q)]
            };
            Some(BookJson {
                symbol: m.spec.symbol.to_string(),
                sequence: m.sequence,
                bids: core
                    .depth(id, Side::Buy, depth)
                    .into_iter()
                    .map(level)
                    .collect(),
                asks: core
                    .depth(id, Side::Sell, depth)
                    .into_iter()
                    .map(level)
                    .collect(),
            })
        })
        .await?;
    out.map(Json)
        .ok_or(AppError::Rejected(RejectCode::UnknownMarket))
}

/// This module's part of the OpenAPI document (see `crate::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Doc;
