//! The `bourse` binary's library: what the binary and the integration tests share.
//!
//! - [`config`]: the one place settings are assembled (defaults ← TOML file ←
//!   flags/env) and handed to each crate;
//! - [`app`]: wiring (recovery → projector → sequencer → admin bootstrap → HTTP) and the
//!   orderly shutdown; tests start it in-process on port 0;
//! - [`demo`]: demo mode (markets, demo funds, market-making bots);
//! - [`kyc`]: the `[kyc.levels.N]` policy of each KYC level.
//!
//! The layers it wires, top to bottom: `bourse-http` (axum) → `bourse-gateway`
//! (transport-neutral services) → `bourse-engine` (sequencer, recovery, projector) →
//! `bourse-core`, `bourse-journal`, `bourse-store` → `bourse-model`. See
//! `docs/architecture.md`.

pub mod app;
pub mod config;
pub mod demo;
pub mod kyc;

pub use app::{start, RunningApp, StartError, StartOptions};
pub use config::Config;
