//! Shared application state handed to every handler: the gateway (every channel's
//! services) plus what only HTTP has.

use bourse_gateway::Gateway;
use std::sync::Arc;
use std::time::Instant;

pub type SharedState = Arc<AppState>;

/// The HTTP crate's settings (assembled by the binary).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The transport's guard rails (`[http]`): timeouts, caps, body limits, proxies,
    /// hosts, CORS, headers, TLS.
    pub settings: crate::security::HttpSettings,
    /// The `listen` setting and the address actually bound: the default trusted hosts.
    pub listen: String,
    pub bound: Option<std::net::SocketAddr>,
    /// WebSocket limits and timings (`[ws]`).
    pub ws: crate::realtime::WsConfig,
    /// `/health` thresholds and caching (`[health]`).
    pub health: crate::monitoring::HealthSettings,
}

impl HttpConfig {
    /// The body limit of the route class `path` belongs to.
    pub fn body_limit_for(&self, path: &str) -> usize {
        self.settings.body_limit_for(path)
    }
}

pub struct AppState {
    /// The services every channel calls; `state.seq`, `state.store`, … reach it.
    pub gateway: Arc<Gateway>,
    pub http: HttpConfig,
    pub started_at: Instant,
    /// WebSocket fan-out and the notification service.
    pub realtime: Arc<crate::realtime::Realtime>,
    /// Demo mode: the highest user id the demo has credited. Set once the demo runs,
    /// before the server listens.
    pub demo_credited: std::sync::OnceLock<tokio::sync::watch::Receiver<u64>>,
    /// The I/O checks of `/health` (database, disk), reused briefly.
    pub health_cache: crate::monitoring::checks::HealthCache,
    /// The live counters at the last monitoring reset.
    pub monitor: crate::monitoring::figures::Baselines,
}

impl std::ops::Deref for AppState {
    type Target = Gateway;
    fn deref(&self) -> &Gateway {
        &self.gateway
    }
}
