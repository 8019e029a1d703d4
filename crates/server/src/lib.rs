//! The Bourse server: the `bourse` binary's library.
//!
//! Layout:
//! - [`config`]: settings (defaults ← TOML file ← flags/env) and the server key.
//! - [`recovery`]: start-up (snapshot + journal replay, read-model catch-up) and the
//!   offline `bourse verify`.
//! - [`sequencer`]: the one thread that owns the core and the journal.
//! - [`projector`]: applied batches → SQL read models, and the read fence.
//! - [`api`]: the HTTP routers, one module per area; [`error`]: errors → HTTP in one
//!   place; [`auth`]: passwords, tokens, extractors; [`state`]: what handlers share.
//! - [`market_setup`]: market creation shared by the admin API, the config file and demo
//!   mode.
//! - [`app`]: wiring, start and graceful shutdown; tests start it in-process on port 0.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod demo;
pub mod error;
pub mod limits;
pub mod market_setup;
pub mod notify;
pub mod openapi;
pub mod projector;
pub mod recovery;
pub mod sequencer;
pub mod state;
pub mod web;
pub mod ws;

pub use app::{start, RunningApp, StartError, StartOptions};
pub use config::Config;
