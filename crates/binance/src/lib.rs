//! Bourse's Binance-compatible API: REST at the root exactly as Binance lays it out
//! (`/api/v3/…`, `/sapi/v1/…`), so a Binance client (CCXT's `binance`) only swaps the
//! host. A thin translation onto the gateway services: an order placed through
//! `/api/v3/order` is the same order as on `/api/v1/orders`, with the same API keys,
//! permissions and rate limits.
//!
//! - [`public`]: market data (`ping`, `time`, `exchangeInfo`, `depth`, trades, klines,
//!   tickers, `avgPrice`);
//! - [`account`]: signed account and order routes;
//! - [`format`]: Bourse rows as Binance's JSON (orders, fills, statuses);
//! - [`params`]: parameters (query + form body, unknown ones ignored), signatures,
//!   symbols (`BTC-USD` ⇄ `BTCUSD`);
//! - [`error`]: the one mapping of gateway errors to Binance's `{code, msg}`;
//! - [`stream`]: the WebSocket streams (`/binance/ws`, `/binance/stream`) and user data
//!   events, translated from the `/ws` fan-out; [`ws_api`]: `/binance/ws-api/v3`;
//!   [`listen_key`]: `/api/v3/userDataStream`.
//!
//! Rules: every answer carries `X-MBX-USED-WEIGHT-1M` (the weight used in the bucket the
//! request was charged to: the verified user's for a signed request, the IP's otherwise);
//! a refused request is -1003 with HTTP 429 and `Retry-After`, from the gateway's limiter.
//! Decimals are strings with the market's scale; times are ms.

pub mod account;
pub mod config;
pub mod error;
pub mod format;
pub mod listen_key;
pub mod openapi;
pub mod params;
pub mod public;
pub mod rules;
pub mod stream;
pub mod ws_api;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bourse_gateway::limits::{Class, Decision, Key, LimitsConfig};
use bourse_gateway::live::LiveFeed;
use bourse_gateway::{Caller, Gateway};
use error::{BinanceError, Result};
use params::Params;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

pub type Gw = Arc<Gateway>;

/// The largest form body a Binance request may have.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// The Binance routes, to merge beside the HTTP app's router; `feed` is the live
/// channels the streams translate.
pub fn router(gw: Gw, feed: Arc<dyn LiveFeed>, cfg: config::BinanceConfig) -> Router {
    let ws = Arc::new(stream::WsState {
        gw: gw.clone(),
        feed,
        keys: listen_key::ListenKeys::new(cfg.listen_key_ttl()),
        cfg,
    });
    let streams = Router::new()
        .route("/binance/ws", get(stream::raw))
        .route("/binance/ws/{*rest}", get(stream::raw))
        .route("/binance/stream", get(stream::combined))
        .route("/binance/ws-api/v3", get(stream::ws_api))
        .route(
            "/api/v3/userDataStream",
            post(listen_key::create)
                .put(listen_key::keep_alive)
                .delete(listen_key::delete),
        )
        .with_state(ws);
    Router::new()
        .route("/api/v3/ping", get(public::ping))
        .route("/api/v3/time", get(public::time))
        .route("/api/v3/exchangeInfo", get(public::exchange_info))
        .route("/api/v3/depth", get(public::depth))
        .route("/api/v3/trades", get(public::trades))
        .route("/api/v3/historicalTrades", get(public::trades))
        .route("/api/v3/aggTrades", get(public::agg_trades))
        .route("/api/v3/klines", get(public::klines))
        .route("/api/v3/uiKlines", get(public::klines))
        .route("/api/v3/ticker/24hr", get(public::ticker_24hr))
        .route("/api/v3/ticker/price", get(public::ticker_price))
        .route("/api/v3/ticker/bookTicker", get(public::book_ticker))
        .route("/api/v3/avgPrice", get(public::avg_price))
        .route("/api/v3/account", get(account::account))
        .route("/api/v3/account/commission", get(account::commission))
        .route("/sapi/v1/asset/tradeFee", get(account::trade_fee))
        .route(
            "/api/v3/order",
            post(account::new_order)
                .get(account::query_order)
                .delete(account::cancel_order),
        )
        .route("/api/v3/order/test", post(account::test_order))
        .route("/api/v3/order/cancelReplace", post(account::cancel_replace))
        .route(
            "/api/v3/openOrders",
            get(account::open_orders).delete(account::cancel_open_orders),
        )
        .route("/api/v3/allOrders", get(account::all_orders))
        .route("/api/v3/myTrades", get(account::my_trades))
        .route("/binance/openapi.json", get(openapi::serve))
        .with_state(gw.clone())
        .merge(streams)
        .layer(from_fn_with_state(gw.clone(), weight_layer))
        .layer(from_fn_with_state(gw, audit_layer))
}

/// Outermost: runs the request in an origin scope (channel `binance`, the peer's
/// address, the client's `X-Request-Id` if it sent one; the signature check names the
/// actor), so its commands carry the audit envelope, and records a 401, 403 or 429
/// (refused before the journal) itself.
async fn audit_layer(State(gw): State<Gw>, req: Request, next: Next) -> Response {
    let mut origin = bourse_model::Origin::new(bourse_model::Channel::Binance);
    origin.ip = ip_of(&req).map(bourse_gateway::origin::ip_bytes);
    origin.request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned);
    let action = format!("{} {}", req.method(), req.uri().path());
    bourse_gateway::origin::scope(origin, async move {
        let res = next.run(req).await;
        if matches!(res.status().as_u16(), 401 | 403 | 429) {
            let code = format!("HTTP_{}", res.status().as_u16());
            gw.audit(action, None, bourse_store::AuditOutcome::Rejected(code));
        }
        res
    })
    .await
}

/// The weight used so far in the bucket this request was charged to.
#[derive(Clone, Default)]
pub struct UsedWeight(Arc<AtomicU32>);

impl UsedWeight {
    fn record(&self, d: &Decision) {
        self.0
            .store(d.limit.saturating_sub(d.remaining), Ordering::Relaxed);
    }
}

pub(crate) fn ip_of(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

fn too_many(d: &Decision) -> Response {
    BinanceError::from(bourse_gateway::Error::rate_limited(
        "RATE_LIMITED",
        d.retry_after,
    ))
    .into_response()
}

/// Charges the request: an unsigned one its IP's `anonymous` bucket by the route's
/// weight; one with `X-MBX-APIKEY` 1 unit of the IP's `unverified` bucket now (the key is
/// not checked yet) and the route's weight to the user once the signature is
/// ([`Ctx::caller`]). Puts `X-MBX-USED-WEIGHT-1M` on every answer.
async fn weight_layer(State(gw): State<Gw>, mut req: Request, next: Next) -> Response {
    let used = UsedWeight::default();
    req.extensions_mut().insert(used.clone());
    let ip = ip_of(&req).unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let keyed = req.headers().contains_key("x-mbx-apikey");
    let weight = gw.limiter.weight(req.method().as_str(), req.uri().path());
    let (class, w) = if keyed {
        (Class::Unverified, 1)
    } else {
        (Class::Anonymous, weight)
    };
    match gw.limiter.check(class, Key::ip(ip), w).await {
        Err(e) => return BinanceError::from(e).into_response(),
        Ok(Some(d)) if !d.allowed => {
            used.record(&d);
            let mut res = too_many(&d);
            set_weight(res.headers_mut(), &used);
            return res;
        }
        Ok(Some(d)) if !keyed => used.record(&d),
        Ok(_) => {}
    }
    let mut res = next.run(req).await;
    set_weight(res.headers_mut(), &used);
    res
}

fn set_weight(h: &mut HeaderMap, used: &UsedWeight) {
    h.insert(
        "x-mbx-used-weight-1m",
        HeaderValue::from(used.0.load(Ordering::Relaxed)),
    );
}

/// What a handler gets: the gateway, the merged parameters, the headers.
pub struct Ctx {
    pub gw: Gw,
    pub p: Params,
    headers: HeaderMap,
    ip: Option<IpAddr>,
    used: UsedWeight,
    weight: u32,
}

impl Ctx {
    pub async fn new(gw: Gw, req: Request) -> Result<Self> {
        let ip = ip_of(&req);
        let used = req
            .extensions()
            .get::<UsedWeight>()
            .cloned()
            .unwrap_or_default();
        let weight = gw.limiter.weight(req.method().as_str(), req.uri().path());
        let (parts, body) = req.into_parts();
        let body: Bytes = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| BinanceError::new(-1100, "Request body too large."))?;
        let p = Params::parse(parts.uri.query(), &body);
        Ok(Self {
            gw,
            p,
            headers: parts.headers,
            ip,
            used,
            weight,
        })
    }

    /// The verified caller of a signed request, charged the route's weight.
    pub async fn caller(&self) -> Result<Caller> {
        let caller = self
            .p
            .authenticate(&self.gw, &self.headers, self.ip)
            .await?;
        match self
            .gw
            .limiter
            .check(
                LimitsConfig::class_of(&caller),
                Key::user(caller.id),
                self.weight,
            )
            .await?
        {
            Some(d) if !d.allowed => {
                self.used.record(&d);
                Err(BinanceError::from(bourse_gateway::Error::rate_limited(
                    "RATE_LIMITED",
                    d.retry_after,
                )))
            }
            Some(d) => {
                self.used.record(&d);
                Ok(caller)
            }
            None => Ok(caller),
        }
    }
}
