//! What an API key may do: its [`Permissions`] and an optional IP allow-list of
//! [`IpBlock`]s, chosen when the key is created and journaled with it
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

/// An address block of an allow-list: the first `prefix` bits of `addr`, the address's
/// 16 bytes with IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`, so `10.0.0.0/8` is
/// `::ffff:10.0.0.0/104`). No host bits are set. Parsing and formatting addresses is the
/// gateway's (the model does no networking, not even the `std::net` types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "([u8; 16], u8)", into = "([u8; 16], u8)")]
pub struct IpBlock {
    addr: [u8; 16],
    prefix: u8,
}

impl IpBlock {
    pub fn new(addr: [u8; 16], prefix: u8) -> Result<Self, String> {
        if prefix > 128 {
            return Err(format!("prefix /{prefix} is longer than 128 bits"));
        }
        if masked(u128::from_be_bytes(addr), prefix) != u128::from_be_bytes(addr) {
            return Err("host bits set".into());
        }
        Ok(IpBlock { addr, prefix })
    }

    pub fn addr(&self) -> [u8; 16] {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `addr` (16 bytes, IPv4 mapped) is in the block.
    pub fn contains(&self, addr: [u8; 16]) -> bool {
        masked(u128::from_be_bytes(addr), self.prefix) == u128::from_be_bytes(self.addr)
    }
}

/// The first `prefix` bits of `bits`.
pub fn masked(bits: u128, prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p if p >= 128 => bits,
        p => bits & (u128::MAX << (128 - u32::from(p))),
    }
}

impl TryFrom<([u8; 16], u8)> for IpBlock {
    type Error = String;
    fn try_from((addr, prefix): ([u8; 16], u8)) -> Result<Self, String> {
        Self::new(addr, prefix)
    }
}

impl From<IpBlock> for ([u8; 16], u8) {
    fn from(b: IpBlock) -> Self {
        (b.addr, b.prefix)
    }
}

/// What a key may do and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyScope {
    pub permissions: Permissions,
    /// Empty: any address.
    pub allow_ips: Vec<IpBlock>,
}

impl ApiKeyScope {
    /// The scope of a key created before permissions existed (see the module doc).
    pub fn legacy() -> Self {
        ApiKeyScope {
            permissions: Permissions::DEFAULT,
            allow_ips: Vec::new(),
        }
    }

    /// Whether a request from `addr` (16 bytes, IPv4 mapped) may use the key (`None`:
    /// the address is unknown, which only a key without an allow-list accepts).
    pub fn allows(&self, addr: Option<[u8; 16]>) -> bool {
        self.allow_ips.is_empty()
            || addr.is_some_and(|a| self.allow_ips.iter().any(|b| b.contains(a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut b = [0; 16];
        b[10] = 0xff;
        b[11] = 0xff;
        b[12..].copy_from_slice(&a);
        b
    }

    #[test]
    fn blocks() {
        let ten = IpBlock::new(v4([10, 0, 0, 0]), 104).unwrap();
        assert!(ten.contains(v4([10, 200, 1, 2])));
        assert!(!ten.contains(v4([11, 0, 0, 1])));
        let one = IpBlock::new(v4([203, 0, 113, 7]), 128).unwrap();
        assert!(one.contains(v4([203, 0, 113, 7])) && !one.contains(v4([203, 0, 113, 8])));
        assert!(IpBlock::new([0; 16], 0).unwrap().contains(v4([8, 8, 8, 8])));
        assert!(IpBlock::new(v4([10, 0, 0, 1]), 104).is_err(), "host bits");
        assert!(IpBlock::new([0; 16], 129).is_err());
        assert_eq!(masked(u128::MAX, 0), 0);
        assert_eq!(masked(u128::MAX, 128), u128::MAX);
        assert_eq!(masked(u128::MAX, 1), 1 << 127);
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
            allow_ips: vec![IpBlock::new(v4([127, 0, 0, 1]), 128).unwrap()],
        };
        assert!(closed.allows(Some(v4([127, 0, 0, 1]))));
        assert!(!closed.allows(Some(v4([127, 0, 0, 2]))));
        assert!(!closed.allows(None));
    }
}
