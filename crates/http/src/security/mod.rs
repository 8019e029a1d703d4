//! The HTTP transport's guard rails, everything `[http]` in the config file sets: what a
//! connection and a request may cost, who the client is behind a proxy, which Host
//! names are served, which browser origins may call, and the security headers.
//!
//! Rules (each enforced in one place):
//! - Connections ([`crate::server`]): a new connection or one that starts a request has
//!   `header_read_timeout_ms` to send the whole head; an idle keep-alive connection is
//!   closed after `idle_timeout_ms` without a byte either way; at most `max_connections`
//!   at once and `max_connections_per_ip` per peer address (trusted proxies are exempt
//!   from the per-IP cap: every client behind them shares their address); over a cap
//!   the connection is closed at once, before TLS or HTTP. An upgraded WebSocket leaves
//!   these timers: `[ws]` pings and its idle timeout govern it.
//! - Requests ([`limits`]): a request has `request_timeout_ms` from the end of its head
//!   to its response (408 `REQUEST_TIMEOUT`, a command it carried may still have been
//!   applied); its body is limited by its route class (`admin_body_limit` under
//!   `/api/v1/admin/`, `body_limit` elsewhere: 413 `PAYLOAD_TOO_LARGE`).
//! - Client address ([`proxy`]): `Forwarded` / `X-Forwarded-For` are read only when the
//!   TCP peer is one of `trusted_proxies`; the address found is the [`ClientIp`]
//!   extension, which rate limits and WebSocket caps use. Otherwise the peer is the client.
//! - Host ([`host`]): a Host not in the trusted list is answered 421
//!   `MISDIRECTED_REQUEST` before routing (DNS rebinding onto a loopback listener).
//! - Browser origins ([`cors`]): only `cors_origins` get CORS headers.
//! - Headers ([`headers`]): every response, whatever produced it, carries the preset's
//!   security headers; HSTS when TLS is on or `hsts = true`.
//! - TLS ([`tls`]): rustls from PEM files when `[http.tls]` is set.

pub mod cors;
pub mod headers;
pub mod host;
pub mod limits;
pub mod proxy;
pub mod tls;

pub use proxy::{ClientIp, IpRange};

use serde::Deserialize;
use std::time::Duration;

/// `[http]` in the config file: the transport settings. Every default is safe to expose.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Time for a whole request head, from the connection's start or a request's first
    /// byte (also bounds the TLS handshake).
    pub header_read_timeout_ms: u64,
    /// Time from a request's head to its response.
    pub request_timeout_ms: u64,
    /// A keep-alive connection with no byte moving for this long is closed.
    pub idle_timeout_ms: u64,
    /// Open connections, all peers together.
    pub max_connections: usize,
    /// Open connections per peer address (trusted proxies exempt).
    pub max_connections_per_ip: usize,
    /// Largest request body, bytes, on every route but the admin ones.
    pub body_limit: usize,
    /// Largest request body under `/api/v1/admin/` (market setup, bulk operations).
    pub admin_body_limit: usize,
    /// Peers (IPs or CIDRs) whose `Forwarded` / `X-Forwarded-For` are believed.
    pub trusted_proxies: Vec<IpRange>,
    /// Host names served besides the listen address, `localhost`, `127.0.0.1`, `[::1]`
    /// (compared without the port); `"*"` serves any.
    pub trusted_hosts: Vec<String>,
    /// Allowed browser origins (`*` = any). Empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// Security header preset.
    pub headers: headers::Preset,
    /// Send Strict-Transport-Security without `[http.tls]` too (behind a TLS-terminating
    /// proxy). With TLS it is always sent (preset `production`).
    pub hsts: bool,
    /// Serve HTTPS with these PEM files.
    pub tls: Option<tls::TlsFiles>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            body_limit: 64 * 1024,
            admin_body_limit: 1024 * 1024,
            trusted_proxies: Vec::new(),
            trusted_hosts: Vec::new(),
            cors_origins: Vec::new(),
            headers: headers::Preset::Production,
            hsts: false,
            tls: None,
        }
    }
}

impl HttpSettings {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    /// The body limit of the route class `path` belongs to.
    pub fn body_limit_for(&self, path: &str) -> usize {
        if path.starts_with("/api/v1/admin/") {
            self.admin_body_limit
        } else {
            self.body_limit
        }
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn is_trusted_proxy(&self, ip: std::net::IpAddr) -> bool {
        proxy::is_trusted(&self.trusted_proxies, ip)
    }

    /// Settings that would make the server unusable or unsafe, as a message.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("request_timeout_ms", self.request_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("max_connections", self.max_connections as u64),
            ("max_connections_per_ip", self.max_connections_per_ip as u64),
            ("body_limit", self.body_limit as u64),
            ("admin_body_limit", self.admin_body_limit as u64),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("[http] {name} must be positive"));
        }
        for origin in &self.cors_origins {
            cors::check_origin(origin).map_err(|e| format!("[http] cors_origins: {e}"))?;
        }
        for h in &self.trusted_hosts {
            if h != "*" && host::normalize(h).is_none() {
                return Err(format!("[http] trusted_hosts: {h:?} is not a host name"));
            }
        }
        Ok(())
    }
}
