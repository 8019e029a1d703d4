//! The trusted Host list: a request whose Host (or absolute-form authority) names
//! another host is answered 421 `MISDIRECTED_REQUEST` before routing.
//!
//! Why: a browser page on `evil.example` whose name is made to resolve to 127.0.0.1
//! (DNS rebinding) would otherwise talk to a loopback-only server as a same-origin peer.
//! Its requests carry `Host: evil.example`, so refusing unknown names defeats it.
//!
//! Rules:
//! - Served names: `localhost`, `127.0.0.1`, `[::1]`, the host of the `listen` setting
//!   and the address the server actually bound (unless unspecified, 0.0.0.0 / `[::]`),
//!   and every `trusted_hosts` entry; `"*"` among them serves any Host.
//! - Names compare without the port and case-insensitively (a trailing dot ignored): the
//!   port adds nothing against rebinding, and a server on port 0 or behind a port
//!   mapping is reached on ports it cannot know.
//! - A request with no Host at all is refused the same way.

use crate::error::misdirected;
use axum::extract::{Request, State};
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The names this server answers to.
#[derive(Debug, Clone)]
pub struct TrustedHosts {
    any: bool,
    names: HashSet<String>,
}

impl TrustedHosts {
    /// The defaults for a server configured with `listen` and bound to `bound`, plus
    /// `extra` (entries that are not host names are skipped; config validation reports
    /// them).
    pub fn new(listen: &str, bound: Option<SocketAddr>, extra: &[String]) -> Self {
        let mut names: HashSet<String> = ["localhost", "127.0.0.1", "[::1]"]
            .into_iter()
            .map(String::from)
            .collect();
        let listen_host = normalize(listen).filter(|h| !is_unspecified(h));
        names.extend(listen_host);
        if let Some(addr) = bound.filter(|a| !a.ip().is_unspecified()) {
            names.extend(normalize(&addr.to_string()));
        }
        names.extend(extra.iter().filter_map(|h| normalize(h)));
        Self {
            any: extra.iter().any(|h| h.trim() == "*"),
            names,
        }
    }

    pub fn allows(&self, authority: &str) -> bool {
        self.any || normalize(authority).is_some_and(|h| self.names.contains(&h))
    }
}

fn is_unspecified(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified())
}

/// `Example.COM:8080` → `example.com`; `[::1]:80` → `[::1]`; `::1` → `[::1]`. `None`
/// for what is not a host (empty, spaces, a bad port, user info).
pub fn normalize(authority: &str) -> Option<String> {
    let s = authority.trim();
    if s.is_empty() || s.contains(['@', '/', ' ', '\\']) {
        return None;
    }
    if let Ok(ip) = s.parse::<std::net::Ipv6Addr>() {
        return Some(format!("[{ip}]"));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let ip: std::net::Ipv6Addr = v6.parse().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{ip}]"), port)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (s.to_owned(), None),
        }
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return None;
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// Middleware: refuses requests for hosts that are not trusted.
pub async fn middleware(
    State(hosts): State<Arc<TrustedHosts>>,
    req: Request,
    next: Next,
) -> Response {
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            req.headers()
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        });
    match authority {
        Some(a) if hosts.allows(&a) => next.run(req).await,
        _ => misdirected(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_without_port_and_case() {
        assert_eq!(
            normalize("Example.COM:8080").as_deref(),
            Some("example.com")
        );
        assert_eq!(normalize("localhost.").as_deref(), Some("localhost"));
        assert_eq!(normalize("[::1]:8080").as_deref(), Some("[::1]"));
        assert_eq!(normalize("::1").as_deref(), Some("[::1]"));
        assert_eq!(normalize("[0:0::1]").as_deref(), Some("[::1]"));
        for bad in [
            "",
            "a b",
            "user@host",
            "host:99999",
            "host:x",
            "[::1",
            "[nope]",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }

    #[test]
    fn defaults_cover_loopback_and_the_listen_address() {
        let bound: SocketAddr = "127.0.0.1:45678".parse().unwrap();
        let h = TrustedHosts::new("127.0.0.1:0", Some(bound), &[]);
        for ok in [
            "localhost",
            "localhost:45678",
            "127.0.0.1",
            "127.0.0.1:45678",
            "[::1]:45678",
            "LOCALHOST",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for refused in ["evil.example", "evil.example:45678", "127.0.0.2", ""] {
            assert!(!h.allows(refused), "{refused}");
        }
        let h = TrustedHosts::new(
            "exchange.internal:8080",
            Some("0.0.0.0:8080".parse().unwrap()),
            &["trade.example.com".into()],
        );
        assert!(h.allows("exchange.internal:8080"));
        assert!(h.allows("trade.example.com"));
        assert!(!h.allows("0.0.0.0:8080"), "unspecified is not a name");
        assert!(TrustedHosts::new("127.0.0.1:0", None, &["*".into()]).allows("any.where"));
    }
}
