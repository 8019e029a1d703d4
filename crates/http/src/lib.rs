//! The HTTP channel: axum routes on the gateway services.
//!
//! - [`api`]: REST v1, one module per area, and [`api::router`], which assembles the
//!   whole application with its layers;
//! - [`ws`]: the WebSocket (`/ws`) and its fan-out; [`notify`]: the notification service
//!   (inbox, batching, delivery to sockets); [`push`]: the connection queues both push
//!   into; [`ws_protocol`]: the frames and channel names of `/ws`;
//! - [`auth`]: the layer that checks the credential a request carries, and the
//!   `AuthUser` / `AdminUser` extractors; [`limits`]: the rate-limit layer;
//! - [`error`]: the one place a gateway error becomes a status and a JSON body;
//! - [`openapi`]: the OpenAPI 3.1 document; [`web`]: the embedded terminal;
//! - [`server`]: serving a router on a listener, with graceful shutdown;
//! - [`state`]: what handlers share (the gateway and the HTTP settings).

pub mod api;
pub mod auth;
pub mod error;
pub mod limits;
pub mod notify;
pub mod openapi;
pub mod push;
pub mod server;
pub mod state;
pub mod web;
pub mod ws;
pub mod ws_protocol;

pub use state::{AppState, HttpConfig, SharedState};
