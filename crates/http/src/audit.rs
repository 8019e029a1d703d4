//! The audit trail over HTTP: every request runs in an origin scope (channel, client ip,
//! `X-Request-Id`; the gateway adds the actor when a credential checks out), so the
//! commands it submits carry the envelope their audit entries are derived from
//! (`bourse_store::audit`).
//!
//! Rules:
//! - A request answered 401, 403 or 429 changed nothing and reached no journal: it is
//!   recorded here, as `METHOD /route` (the matched route template, else the path) with
//!   the error code as its outcome, unless the handler recorded it itself ([`Audited`]:
//!   logins, which name the username).
//! - `/ws` requests are channel `websocket`, everything else `rest`. The Binance routes
//!   are not under this layer (`bourse-binance` scopes its own).

use crate::auth::client_ip;
use crate::error::ErrorCode;
use crate::state::SharedState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use bourse_gateway::origin;
use bourse_model::{Channel, Origin};
use bourse_store::AuditOutcome;

/// In a response's extensions: the handler recorded the request's audit entry.
#[derive(Debug, Clone, Copy)]
pub struct Audited;

fn refused(status: StatusCode) -> bool {
    matches!(status.as_u16(), 401 | 403 | 429)
}

/// Middleware: the origin scope, and the entry of a refused request.
pub async fn middleware(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let channel = if req.uri().path() == "/ws" {
        Channel::WebSocket
    } else {
        Channel::Rest
    };
    let mut o = Origin::new(channel);
    o.ip = client_ip(req.extensions()).map(origin::ip_bytes);
    o.request_id = crate::monitoring::request_id::current();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let method = req.method().clone();
    let uri = req.uri().clone();
    origin::scope(o, async move {
        let res = next.run(req).await;
        if refused(res.status()) && res.extensions().get::<Audited>().is_none() {
            let code = res
                .extensions()
                .get::<ErrorCode>()
                .map_or_else(|| res.status().as_u16().to_string(), |c| c.0.clone());
            let route = route.unwrap_or_else(|| uri.path().to_owned());
            state.audit(
                format!("{method} {route}"),
                Some(uri.path().to_owned()),
                AuditOutcome::Rejected(code),
            );
        }
        res
    })
    .await
}
