//! Shared application state handed to every handler.

use crate::auth::TokenKeys;
use crate::config::Config;
use crate::error::AppError;
use crate::projector::ProjectorHandle;
use crate::sequencer::SequencerHandle;
use bourse_store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub type SharedState = Arc<AppState>;

pub struct AppState {
    pub config: Config,
    /// The way into the core: commands and consistent reads.
    pub seq: SequencerHandle,
    /// The read models (history, closed orders, fills).
    pub store: Store,
    pub projector: ProjectorHandle,
    pub tokens: TokenKeys,
    /// Logout list, API-secret encryption, seen signatures.
    pub auth: crate::auth::AuthState,
    pub limiter: crate::limits::RateLimiter,
    pub started_at: Instant,
    /// WebSocket fan-out and the notification service.
    pub realtime: Arc<crate::ws::Realtime>,
    /// Demo mode: the highest user id the demo has credited (see `crate::demo`). Set once
    /// the demo runs, before the server listens.
    pub demo_credited: std::sync::OnceLock<tokio::sync::watch::Receiver<u64>>,
}

impl AppState {
    /// Read fence: waits until every command committed before this call is in the read
    /// models, so an SQL read afterwards sees the caller's own writes.
    pub async fn fence(&self) -> Result<(), AppError> {
        let target = self.seq.status().committed_seq();
        let timeout = Duration::from_millis(self.config.fence_timeout_ms);
        if self.projector.wait_for(target, timeout).await {
            Ok(())
        } else {
            Err(AppError::ReadModelBehind)
        }
    }
}
