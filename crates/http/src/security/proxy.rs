//! Who the client is: the TCP peer, or, when that peer is a trusted proxy, the address
//! the proxies recorded in `Forwarded` (RFC 7239) or else `X-Forwarded-For`.
//!
//! Rules:
//! - Headers from a peer that is not in `trusted_proxies` are ignored: anyone can write
//!   them, so believing them would let a client pick its own rate-limit bucket.
//! - The list is read from the right (the hop nearest to us) and trusted proxies are
//!   skipped: the first address that is not a trusted proxy is the client. If every hop
//!   is trusted, the leftmost is. An entry that is not an address (`unknown`, an
//!   obfuscated name, garbage) stops the walk: what lies left of it cannot be believed,
//!   so the last trusted hop before it is the client.
//! - `Forwarded` wins over `X-Forwarded-For` when both are present.
//! - The result is the [`ClientIp`] request extension; [`client_ip`] reads it (falling
//!   back to the peer address, then to 0.0.0.0 for a router served without either).

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Extensions, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The client's address as far as this server can tell (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// One `trusted_proxies` entry: an address (`10.0.0.7`, `::1`) or a CIDR (`10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct IpRange(pub IpNet);

impl TryFrom<String> for IpRange {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl std::str::FromStr for IpRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(Self(net.trunc()));
        }
        s.parse::<IpAddr>()
            .map(|ip| Self(IpNet::from(ip)))
            .map_err(|_| format!("{s:?} is neither an IP address nor a CIDR range"))
    }
}

pub fn is_trusted(proxies: &[IpRange], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    proxies.iter().any(|r| r.0.contains(&ip))
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`, what a dual-stack socket reports) as IPv4, so
/// one entry covers both spellings.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client address of a request from `peer` with `headers`.
pub fn resolve(proxies: &[IpRange], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(proxies, peer) {
        return peer;
    }
    let hops = match forwarded_hops(headers) {
        Some(h) => h,
        None => match x_forwarded_for_hops(headers) {
            Some(h) => h,
            None => return peer,
        },
    };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            Some(ip) => {
                client = canonical(ip);
                if !is_trusted(proxies, client) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// Every `for=` of every `Forwarded` header, left to right; `None` entries are not
/// addresses. `None` overall: no `Forwarded` header with a `for=`.
fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    for value in headers.get_all("forwarded") {
        let Ok(value) = value.to_str() else {
            hops.push(None);
            continue;
        };
        for element in value.split(',') {
            let node = element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
            });
            if let Some(node) = node {
                hops.push(parse_node(node.trim_matches('"')));
            }
        }
    }
    (!hops.is_empty()).then_some(hops)
}

fn x_forwarded_for_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        match value.to_str() {
            Ok(v) => hops.extend(v.split(',').map(|s| parse_node(s.trim()))),
            Err(_) => hops.push(None),
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]`, `[::1]:80` → the address.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|v6| v6.parse().ok())
}

/// Middleware: puts the [`ClientIp`] into the request (from the peer the server
/// recorded as `ConnectInfo`).
pub async fn middleware(
    State(proxies): State<std::sync::Arc<[IpRange]>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(peer) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    {
        let ip = resolve(&proxies, peer, req.headers());
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}

/// The client address of a request: its [`ClientIp`], else its peer, else 0.0.0.0.
pub fn client_ip(extensions: &Extensions) -> IpAddr {
    client_ip_opt(extensions).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Like [`client_ip`], `None` when the router was served without a peer address.
pub fn client_ip_opt(extensions: &Extensions) -> Option<IpAddr> {
    extensions.get::<ClientIp>().map(|c| c.0).or_else(|| {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| canonical(c.0.ip()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(list: &[&str]) -> Vec<IpRange> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_parse_addresses_and_cidrs() {
        let r = ranges(&["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"]);
        assert!(is_trusted(&r, ip("127.0.0.1")));
        assert!(is_trusted(&r, ip("10.200.3.4")));
        assert!(is_trusted(&r, ip("::ffff:10.1.1.1")), "mapped IPv4");
        assert!(is_trusted(&r, ip("fd12::5")));
        assert!(!is_trusted(&r, ip("127.0.0.2")));
        assert!("10.0.0.0/33".parse::<IpRange>().is_err());
        assert!("proxy.local".parse::<IpRange>().is_err());
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            resolve(&ranges(&["10.0.0.1"]), ip("198.51.100.1"), &h),
            ip("198.51.100.1")
        );
        assert_eq!(resolve(&[], ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = ranges(&["10.0.0.0/8"]);
        // The client wrote a fake first entry; our proxies appended the real one.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(resolve(&proxies, ip("10.0.0.1"), &h), ip("203.0.113.9"));
        // Two header lines are one list.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(resolve(&proxies, ip("10.0.0.1"), &h), ip("203.0.113.9"));
        // All trusted: the leftmost.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(resolve(&proxies, ip("10.0.0.1"), &h), ip("10.9.9.9"));
        // Garbage stops the walk at the last trusted hop.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, nonsense, 10.0.0.2")]);
        assert_eq!(resolve(&proxies, ip("10.0.0.1"), &h), ip("10.0.0.2"));
        // No header: the peer.
        assert_eq!(
            resolve(&proxies, ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn forwarded_is_read_and_wins() {
        let proxies = ranges(&["127.0.0.1"]);
        let h = headers(&[
            (
                "forwarded",
                "for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\"",
            ),
            ("x-forwarded-for", "198.51.100.3"),
        ]);
        assert_eq!(
            resolve(&proxies, ip("127.0.0.1"), &h),
            ip("2001:db8:cafe::17")
        );
        let h = headers(&[("forwarded", "For=\"192.0.2.43:47011\"")]);
        assert_eq!(resolve(&proxies, ip("127.0.0.1"), &h), ip("192.0.2.43"));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(resolve(&proxies, ip("127.0.0.1"), &h), ip("127.0.0.1"));
        // A Forwarded header without for= leaves X-Forwarded-For in charge.
        let h = headers(&[
            ("forwarded", "proto=https"),
            ("x-forwarded-for", "198.51.100.3"),
        ]);
        assert_eq!(resolve(&proxies, ip("127.0.0.1"), &h), ip("198.51.100.3"));
    }
}
