//! What an API key may do: its [`Permissions`] and an optional IP allow-list of
//! [`IpRange`]s, chosen when the key is created and journaled with it
//! (`CommandKind::CreateScopedApiKey`), so every gateway, restart and follower enforces
//! the same scope.
//!
//! Rules:
//! - `read`: private reads (balances, orders, fills, history, private WebSocket
//!   channels) and account settings that move no money; `trade`: place, cancel, amend
//!   orders; `withdraw`: request withdrawals; `admin`: admin routes, and only for a key of
//!   an admin that also has a non-empty allow-list (the gateway checks both at creation
//!   and on every request).
//! - A key created before permissions existed (`CommandKind::CreateApiKey`) has
//!   [`ApiKeyScope::legacy`]: `read` + `trade`, no allow-list. Withdrawing with such a key
//!   stops working; create a new key with `withdraw` for it.
//! - Invalid values cannot be built, nor decoded: unknown permission bits and prefixes
//!   longer than the address are refused by `serde` too, so a journal cannot smuggle them in.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A set of permissions (a bit set; the encoding is one byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Permissions(u8);

/// One permission, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    Read,
    Trade,
    Withdraw,
    Admin,
}

impl Permission {
    pub const ALL: [Permission; 4] = [
        Permission::Read,
        Permission::Trade,
        Permission::Withdraw,
        Permission::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Trade => "trade",
            Permission::Withdraw => "withdraw",
            Permission::Admin => "admin",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Permission::Read => 1,
            Permission::Trade => 2,
            Permission::Withdraw => 4,
            Permission::Admin => 8,
        }
    }
}

impl Permissions {
    pub const NONE: Permissions = Permissions(0);
    /// What a key gets when none are named: `read` + `trade`.
    pub const DEFAULT: Permissions = Permissions(1 | 2);
    /// What a password session may do (admin routes still need role `admin`).
    pub const SESSION: Permissions = Permissions(1 | 2 | 4 | 8);

    pub fn of(list: &[Permission]) -> Permissions {
        Permissions(list.iter().fold(0, |b, p| b | p.bit()))
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn without(self, p: Permission) -> Permissions {
        Permissions(self.0 & !p.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The permissions in this set, in [`Permission::ALL`] order.
    pub fn list(self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.contains(*p))
            .collect()
    }
}

impl TryFrom<u8> for Permissions {
    type Error = String;
    fn try_from(b: u8) -> Result<Self, String> {
        if b & !0x0f == 0 {
            Ok(Permissions(b))
        } else {
            Err(format!("unknown permission bits {b:#x}"))
        }
    }
}

impl From<Permissions> for u8 {
    fn from(p: Permissions) -> u8 {
        p.0
    }
}

/// An address or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`, `203.0.113.7`), with no
/// host bits set. IPv4-mapped IPv6 addresses are read as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "(IpAddr, u8)", into = "(IpAddr, u8)")]
pub struct IpRange {
    addr: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, String> {
        let addr = addr.to_canonical();
        let max = max_prefix(addr);
        if prefix > max {
            return Err(format!("prefix /{prefix} is longer than {max} bits"));
        }
        if mask(addr, prefix) != bits(addr) {
            return Err(format!(
                "{addr}/{prefix} has host bits set (the block is {}/{prefix})",
                from_bits(addr, mask(addr, prefix))
            ));
        }
        Ok(IpRange { addr, prefix })
    }

    /// Parses `addr` (a single address) or `addr/prefix`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let addr = addr.to_canonical();
        let prefix = match prefix {
            None => max_prefix(addr),
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 3 => {
                p.parse().map_err(|_| format!("{s:?}: bad prefix"))?
            }
            Some(_) => return Err(format!("{s:?}: bad prefix")),
        };
        Self::new(addr, prefix)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == bits(self.addr)
    }
}

impl std::fmt::Display for IpRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix == max_prefix(self.addr) {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

impl TryFrom<(IpAddr, u8)> for IpRange {
    type Error = String;
    fn try_from((addr, prefix): (IpAddr, u8)) -> Result<Self, String> {
        Self::new(addr, prefix)
    }
}

impl From<IpRange> for (IpAddr, u8) {
    fn from(r: IpRange) -> Self {
        (r.addr, r.prefix)
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn mask(addr: IpAddr, prefix: u8) -> u128 {
    let width = u32::from(max_prefix(addr));
    let host = width - u32::from(prefix);
    let b = bits(addr);
    if host >= 128 {
        0
    } else {
        (b >> host) << host
    }
}

fn from_bits(like: IpAddr, b: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4((b as u32).into()),
        IpAddr::V6(_) => IpAddr::V6(b.into()),
    }
}

/// What a key may do and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyScope {
    pub permissions: Permissions,
    /// Empty: any address.
    pub allow_ips: Vec<IpRange>,
}

impl ApiKeyScope {
    /// The scope of a key created before permissions existed (see the module doc).
    pub fn legacy() -> Self {
        ApiKeyScope {
            permissions: Permissions::DEFAULT,
            allow_ips: Vec::new(),
        }
    }

    /// Whether a request from `ip` may use the key (`None`: the address is unknown, which
    /// only a key without an allow-list accepts).
    pub fn allows(&self, ip: Option<IpAddr>) -> bool {
        self.allow_ips.is_empty()
            || ip.is_some_and(|ip| self.allow_ips.iter().any(|r| r.contains(ip)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_match() {
        let r = IpRange::parse("10.0.0.0/8").unwrap();
        assert!(r.contains("10.200.1.2".parse().unwrap()));
        assert!(!r.contains("11.0.0.1".parse().unwrap()));
        assert!(r.contains("::ffff:10.1.1.1".parse().unwrap()), "mapped v4");
        assert_eq!(r.to_string(), "10.0.0.0/8");
        let one = IpRange::parse("203.0.113.7").unwrap();
        assert_eq!(one.to_string(), "203.0.113.7");
        assert!(one.contains("203.0.113.7".parse().unwrap()));
        assert!(!one.contains("203.0.113.8".parse().unwrap()));
        let v6 = IpRange::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        assert!(IpRange::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(IpRange::parse("::/0")
            .unwrap()
            .contains("::1".parse().unwrap()));
        for bad in [
            "",
            "10.0.0.1/8",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "x",
            "::/129",
            "10.0.0.0/08x",
        ] {
            assert!(IpRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn permissions() {
        let p = Permissions::of(&[Permission::Read, Permission::Withdraw]);
        assert!(p.contains(Permission::Read) && !p.contains(Permission::Trade));
        assert_eq!(p.list(), vec![Permission::Read, Permission::Withdraw]);
        assert!(Permissions::try_from(0x10).is_err());
        assert_eq!(
            Permissions::DEFAULT.list(),
            vec![Permission::Read, Permission::Trade]
        );
    }

    #[test]
    fn allow_lists() {
        let open = ApiKeyScope::legacy();
        assert!(open.allows(None));
        let closed = ApiKeyScope {
            permissions: Permissions::DEFAULT,
            allow_ips: vec![IpRange::parse("127.0.0.1").unwrap()],
        };
        assert!(closed.allows(Some("127.0.0.1".parse().unwrap())));
        assert!(!closed.allows(Some("127.0.0.2".parse().unwrap())));
        assert!(!closed.allows(None));
    }
}
