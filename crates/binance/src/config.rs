//! `[binance]` in the config file: the Binance-compatible API's own settings.

use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BinanceConfig {
    /// How long a listen key lives after its last `POST`/`PUT /api/v3/userDataStream`
    /// (Binance: 60 minutes). At least 1.
    pub listen_key_ttl_secs: u64,
    /// Inbound frames (text, binary, ping, pong) one stream connection (`/binance/ws`,
    /// `/binance/stream`) may send per second; one more and it is closed, as Binance
    /// does (Binance: 5). 0 = unlimited.
    pub ws_messages_per_second: u32,
    /// The same for a `/binance/ws-api/v3` connection, where a request over the rate is
    /// answered status 429, code -1003, unprocessed. 0 = unlimited.
    pub ws_api_requests_per_second: u32,
}

impl Default for BinanceConfig {
    fn default() -> Self {
        Self {
            listen_key_ttl_secs: 60 * 60,
            ws_messages_per_second: 5,
            ws_api_requests_per_second: 20,
        }
    }
}

impl BinanceConfig {
    pub fn listen_key_ttl(&self) -> Duration {
        Duration::from_secs(self.listen_key_ttl_secs.max(1))
    }
}
