//! The gateway: the transport-neutral services that every channel (REST, WebSocket, the
//! Binance-compatible API, FIX) calls, so that a channel is only a translation of its
//! wire format into these calls and back. No HTTP here: the HTTP crate maps [`Error`]
//! to statuses in one place, other channels to their own codes.
//!
//! - [`auth`]: passwords, tokens, API keys and the credential checks ([`Caller`]);
//! - [`limits`]: the rate limiter and its quotas;
//! - [`markets`]: market creation (admin API, config file, demo) and `[markets]` defaults;
//! - [`market_info`]: a market as formatting and parsing need it, and the edge checks;
//! - [`dto`]: the JSON shapes shared by REST and WebSocket;
//! - [`live`]: the live channels (the WebSocket fan-out) as other channels subscribe to them;
//! - [`trading`]: order entry (place, cancel, amend, cancel-all) answered from events;
//! - [`orders`]: order look-ups;
//! - [`withdrawals`]: withdrawal requests (the `withdraw` permission);
//! - [`tls`]: TLS server settings from PEM files (HTTP and FIX listeners);
//! - [`keys`]: the server key; [`error`]: the one error type.

pub mod audit;
pub mod auth;
pub mod dto;
pub mod error;
pub mod keys;
pub mod limits;
pub mod live;
pub mod market_info;
pub mod markets;
pub mod orders;
pub mod rules;
pub mod tls;
pub mod trading;
pub mod withdrawals;

pub use auth::{Caller, Via};
/// The request origin in scope (re-exported for the channels).
pub use bourse_engine::origin;
pub use error::{Error, Kind};

use bourse_engine::projector::ProjectorHandle;
use bourse_engine::SequencerHandle;
use bourse_store::Store;
use market_info::MarketInfo;
use std::time::Duration;

/// The gateway's settings (assembled by the binary).
#[derive(Debug, Clone, Default)]
pub struct GatewayConfig {
    /// How long a read waits for the projector to catch up with the last write.
    pub fence_timeout_ms: u64,
    /// API-key signatures (`[auth]`).
    pub auth: auth::AuthConfig,
    /// Rate limits per tier and per IP (`[limits]`).
    pub limits: limits::LimitsConfig,
    /// Defaults of new markets (`[markets]`).
    pub markets: markets::MarketDefaults,
}

/// What every channel shares: the way into the engine and the read models, and the
/// credential and rate-limit state.
pub struct Gateway {
    pub config: GatewayConfig,
    /// The way into the core: commands and consistent reads.
    pub seq: SequencerHandle,
    /// The read models (history, closed orders, fills).
    pub store: Store,
    pub projector: ProjectorHandle,
    pub tokens: auth::TokenKeys,
    /// API-secret encryption, seen signatures.
    pub auth: auth::AuthState,
    pub limiter: limits::RateLimiter,
}

/// How long [`Gateway::fence_after_commit`] waits: under the HTTP request timeout (30 s).
pub const AFTER_COMMIT_FENCE: Duration = Duration::from_secs(20);

impl Gateway {
    /// Every market, from the read views.
    pub fn markets(&self) -> Vec<MarketInfo> {
        let catalog = self.seq.views().catalog();
        catalog.markets.iter().map(|m| m.info.clone()).collect()
    }

    /// Read fence: waits until every command committed before this call is in the read
    /// models, so an SQL read afterwards sees the caller's own writes.
    pub async fn fence(&self) -> Result<(), Error> {
        self.fence_within(Duration::from_millis(self.config.fence_timeout_ms))
            .await
    }

    /// The read fence of an answer to a request that has already committed a change: that
    /// answer must not say the request failed, so it waits up to [`AFTER_COMMIT_FENCE`]
    /// rather than `fence_timeout_ms` (a read side that far behind is unhealthy anyway).
    pub async fn fence_after_commit(&self) -> Result<(), Error> {
        self.fence_within(AFTER_COMMIT_FENCE).await
    }

    async fn fence_within(&self, timeout: Duration) -> Result<(), Error> {
        let target = self.seq.status().committed_seq();
        if self.projector.wait_for(target, timeout).await {
            Ok(())
        } else {
            Err(Error::ReadModelBehind)
        }
    }
}
