//! The HTTP channel: axum routes on the gateway services.
//!
//! - [`api`]: REST v1, one module per area, and [`api::router`], which assembles the
//!   whole application with its layers;
//! - [`ws`]: the WebSocket endpoint (`/ws`); [`realtime`]: the fan-out and the
//!   connection counts it shares with the endpoint; [`notify`]: the notification service
//!   (inbox, batching, delivery to sockets); [`push`]: the connection queues both push
//!   into; [`ws_protocol`]: the frames and channel names of `/ws`;
//! - [`auth`]: the layer that checks the credential a request carries, and the
//!   `AuthUser` / `AdminUser` extractors; [`limits`]: the rate-limit layer;
//! - [`error`]: the one place a gateway error becomes a status and a JSON body;
//! - [`openapi`]: the OpenAPI 3.1 document; [`web`]: the embedded terminal;
//! - [`security`]: the transport's guard rails (`[http]`): timeouts, caps, body limits,
//!   trusted proxies and hosts, CORS, security headers, TLS;
//! - [`server`]: serving a router on a listener (the accept loop those rails need), with
//!   graceful shutdown;
//! - [`metrics`]: the Prometheus recorder, the request layer and `GET /metrics`;
//! - [`state`]: what handlers share (the gateway and the HTTP settings);
//! - [`monitoring`]: the dependency checks behind `/health`.

pub mod api;
pub mod audit;
pub mod auth;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod monitoring;
pub mod notify;
pub mod openapi;
pub mod openapi_links;
pub mod openapi_rules;
pub mod push;
pub mod realtime;
pub mod security;
pub mod server;
pub mod state;
pub mod web;
pub mod ws;
pub mod ws_protocol;

pub use state::{AppState, HttpConfig, SharedState};
