//! Listen keys for older clients' user data streams: `POST /api/v3/userDataStream`
//! (only `X-MBX-APIKEY`, as Binance: no signature) → `{"listenKey"}`, `PUT` (keep-alive)
//! and `DELETE` with `listenKey`; the stream is `/binance/ws/<listenKey>` with the same
//! events as the WebSocket API's subscription.
//!
//! Rules: a key lives 60 minutes (`[binance] listen_key_ttl_secs`) after its last
//! `POST`/`PUT`; a `POST` for an API key that has a live listen key answers that one (and
//! extends it). When a key expires or is `DELETE`d, each of its streams gets
//! `{"e": "listenKeyExpired", "E", "listenKey"}` and is closed (code 1000), within a
//! second (see `crate::stream`). The API key must exist,
//! allow the client's address and have the `read` permission (-2015 otherwise). An
//! unknown or expired listen key is -1125. Listen keys are memory only: a restart
//! forgets them (clients create a new one, as after an expiry). Deleting the API key
//! ends its listen keys and their streams.

use crate::error::{BinanceError, Result};
use crate::params::Params;
use crate::stream::WsState;
use axum::extract::{Request, State};
use axum::Json;
use bourse_model::{Permission, UserId};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Entry {
    user: UserId,
    key_id: String,
    expires: Instant,
}

/// The live listen keys and how long a key lives.
pub struct ListenKeys {
    map: Mutex<HashMap<String, Entry>>,
    ttl: Duration,
}

impl ListenKeys {
    pub fn new(ttl: Duration) -> Self {
        Self {
            map: Mutex::default(),
            ttl,
        }
    }

    /// The live keys (expired ones are dropped on every access).
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        m.retain(|_, e| e.expires > now);
        m
    }

    /// The user and API key of a live listen key.
    pub fn get(&self, listen_key: &str) -> Option<(UserId, String)> {
        self.map()
            .get(listen_key)
            .map(|e| (e.user, e.key_id.clone()))
    }

    /// Forgets the listen keys of a deleted API key.
    pub fn forget_key(&self, key_id: &str) {
        self.map().retain(|_, e| e.key_id != key_id);
    }
}

/// The API key of the request, checked as Binance's `USER_STREAM` routes do.
fn key_only(st: &WsState, req: &Request) -> Result<(UserId, String)> {
    let key = req
        .headers()
        .get("x-mbx-apikey")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(BinanceError::key_format)?;
    let views = st.gw.seq.views();
    let auth = views.api_key(key).ok_or_else(BinanceError::bad_key)?;
    views.user(auth.user).ok_or_else(BinanceError::bad_key)?;
    let ip = crate::ip_of(req).map(bourse_gateway::auth::api_key::ip_bytes);
    if !auth.scope.allows(ip) || !auth.scope.permissions.contains(Permission::Read) {
        return Err(BinanceError::bad_key());
    }
    Ok((auth.user, key.to_owned()))
}

pub async fn create(State(st): State<Arc<WsState>>, req: Request) -> Result<Json<Value>> {
    let (user, key_id) = key_only(&st, &req)?;
    let mut m = st.keys.map();
    let expires = Instant::now() + st.keys.ttl;
    if let Some((lk, e)) = m.iter_mut().find(|(_, e)| e.key_id == key_id) {
        e.expires = expires;
        return Ok(Json(json!({ "listenKey": lk })));
    }
    let lk = bourse_gateway::auth::api_key::new_secret();
    m.insert(
        lk.clone(),
        Entry {
            user,
            key_id,
            expires,
        },
    );
    Ok(Json(json!({ "listenKey": lk })))
}

/// The listen key a `PUT`/`DELETE` names, if it belongs to the request's API key.
async fn named(st: &WsState, req: Request) -> Result<String> {
    let (_, key_id) = key_only(st, &req)?;
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, crate::MAX_BODY)
        .await
        .map_err(|_| BinanceError::new(-1100, "Request body too large."))?;
    let p = Params::parse(parts.uri.query(), &body);
    let lk = p.require("listenKey")?.to_owned();
    match st.keys.get(&lk) {
        Some((_, k)) if k == key_id => Ok(lk),
        _ => Err(BinanceError::new(-1125, "This listenKey does not exist.")),
    }
}

pub async fn keep_alive(State(st): State<Arc<WsState>>, req: Request) -> Result<Json<Value>> {
    let lk = named(&st, req).await?;
    if let Some(e) = st.keys.map().get_mut(&lk) {
        e.expires = Instant::now() + st.keys.ttl;
    }
    Ok(Json(json!({})))
}

pub async fn delete(State(st): State<Arc<WsState>>, req: Request) -> Result<Json<Value>> {
    let lk = named(&st, req).await?;
    st.keys.map().remove(&lk);
    Ok(Json(json!({})))
}
