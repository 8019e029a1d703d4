//! API keys and signed requests (DESIGN §4).
//!
//! - Key id: `bk_<user id>_<32 hex>`; naming the user lets the gateway look the key up in
//!   the core directly (the core is authoritative, so a deleted key is refused at once).
//! - Secret: 64 hex digits, shown once at creation. Stored (journal, core, read model) only
//!   encrypted: XChaCha20-Poly1305 under a key derived from the server key (context
//!   `"bourse api-key secrets v1"`), random 24-byte nonce, the key id as associated data
//!   (a ciphertext cannot be moved to another key). Format `v1.<base64url(nonce‖ct)>`.
//! - Signature: `X-API-SIGNATURE` = hex HMAC-SHA256(secret, timestamp + METHOD +
//!   path_and_query + body), `timestamp` being the `X-API-TIMESTAMP` header text (ms).
//!   Checked in this order: signature (constant time), then `|now − timestamp| ≤ window`,
//!   then replay. Only authentic requests reach the replay set, so nobody can fill it
//!   for someone else.
//! - Replay: an accepted signature is remembered until its timestamp leaves the window;
//!   the same signature again is refused. The set is in memory: right after a restart a
//!   request signed less than one window earlier could be replayed once (the window is
//!   short by design; see the trade-off in `crate::auth`).
//! - Allow-lists: [`parse_block`] reads an address (`203.0.113.7`, `2001:db8::1`) or a
//!   CIDR block (`10.0.0.0/8`; host bits must be zero) into the model's `IpBlock`, IPv4
//!   as IPv4-mapped IPv6; [`ip_bytes`] maps a client address the same way, so an IPv4
//!   client seen through a dual-stack socket (`::ffff:10.1.2.3`) matches `10.0.0.0/8`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bourse_model::{IpBlock, UserId};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

pub const KEY_PREFIX: &str = "bk_";

/// A new key id for `user`.
pub fn new_key_id(user: UserId) -> String {
    format!(
        "{KEY_PREFIX}{}_{}",
        user.0,
        hex::encode(rand::random::<[u8; 16]>())
    )
}

/// A new secret (what the client signs with).
pub fn new_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The user a key id names, if it is well-formed.
pub fn key_owner(key_id: &str) -> Option<UserId> {
    let rest = key_id.strip_prefix(KEY_PREFIX)?;
    let (user, random) = rest.split_once('_')?;
    let ok = random.len() == 32 && random.bytes().all(|b| b.is_ascii_hexdigit());
    let user: u64 = user.parse().ok()?;
    ok.then_some(UserId(user))
}

/// An address as the model's allow-lists hold it: 16 bytes, IPv4 mapped into IPv6.
pub fn ip_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// Parses `addr` or `addr/prefix` (see the module doc).
pub fn parse_block(s: &str) -> Result<IpBlock, String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
    let width: u8 = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => width,
        Some(p) if (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= width)
            .ok_or_else(|| format!("{s:?}: the prefix is longer than {width} bits"))?,
        Some(_) => return Err(format!("{s:?}: the prefix must be a number of bits")),
    };
    let offset = 128 - width;
    IpBlock::new(ip_bytes(ip), prefix + offset).map_err(|_| {
        let net = bourse_model::masked(u128::from_be_bytes(ip_bytes(ip)), prefix + offset);
        let net = IpBlock::new(net.to_be_bytes(), prefix + offset).expect("masked");
        format!(
            "{s:?} has host bits set; the block is {}",
            format_block(&net)
        )
    })
}

/// An allow-list entry as [`parse_block`] reads it: IPv4 where the block is IPv4-mapped,
/// the prefix left out for a single address.
pub fn format_block(b: &IpBlock) -> String {
    let v6 = Ipv6Addr::from(b.addr());
    match v6.to_ipv4_mapped() {
        Some(v4) if b.prefix() >= 96 => match b.prefix() - 96 {
            32 => v4.to_string(),
            p => format!("{v4}/{p}"),
        },
        _ if b.prefix() == 128 => v6.to_string(),
        _ => format!("{v6}/{}", b.prefix()),
    }
}

/// Encrypts and decrypts secrets at rest.
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    pub fn seal(&self, key_id: &str, secret: &str) -> Result<String, String> {
        let nonce: [u8; 24] = rand::random();
        let ct = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: key_id.as_bytes(),
                },
            )
            .map_err(|e| e.to_string())?;
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&ct);
        Ok(format!("v1.{}", URL_SAFE_NO_PAD.encode(raw)))
    }

    /// `None` for anything not sealed by [`seal`](Self::seal) under this key for `key_id`.
    pub fn open(&self, key_id: &str, sealed: &str) -> Option<String> {
        let raw = URL_SAFE_NO_PAD.decode(sealed.strip_prefix("v1.")?).ok()?;
        if raw.len() < 24 {
            return None;
        }
        let (nonce, ct) = raw.split_at(24);
        let pt = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: key_id.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(pt).ok()
    }
}

/// The bytes a signature covers.
pub fn signing_payload(
    timestamp: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut msg =
        Vec::with_capacity(timestamp.len() + method.len() + path_and_query.len() + body.len());
    msg.extend_from_slice(timestamp.as_bytes());
    msg.extend_from_slice(method.as_bytes());
    msg.extend_from_slice(path_and_query.as_bytes());
    msg.extend_from_slice(body);
    msg
}

/// Hex HMAC-SHA256 of `payload` under `secret` (what a client sends).
pub fn sign(secret: &str, payload: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time check of a hex signature; returns the decoded bytes when it matches.
pub fn verify(secret: &str, payload: &[u8], signature_hex: &str) -> Option<[u8; 32]> {
    let sig: [u8; 32] = hex::decode(signature_hex).ok()?.try_into().ok()?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(payload);
    mac.verify_slice(&sig).ok()?;
    Some(sig)
}

/// Signatures seen recently, each until `forget_at` (ms).
#[derive(Default)]
pub struct ReplayCache {
    inner: Mutex<HashMap<[u8; 32], u64>>,
}

impl ReplayCache {
    /// Records `sig`; `false` if it was already seen (a replay).
    pub fn first_use(&self, sig: [u8; 32], forget_at: u64, now: u64) -> bool {
        let mut seen = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= 1024 && seen.len().is_power_of_two() {
            seen.retain(|_, t| *t >= now);
        }
        match seen.get(&sig) {
            Some(t) if *t >= now => false,
            _ => {
                seen.insert(sig, forget_at);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_name_their_owner() {
        let k = new_key_id(UserId(42));
        assert_eq!(key_owner(&k), Some(UserId(42)));
        for bad in [
            "",
            "bk_",
            "bk_42",
            "bk_x_00",
            "bk_42_zz",
            "xx_42_0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(key_owner(bad), None, "{bad}");
        }
    }

    #[test]
    fn sealed_secrets_open_only_for_their_key() {
        let b = SecretBox::new(&[7; 32]);
        let s = new_secret();
        let sealed = b.seal("bk_1_a", &s).unwrap();
        assert!(!sealed.contains(&s));
        assert_eq!(b.open("bk_1_a", &sealed).as_deref(), Some(s.as_str()));
        assert_eq!(b.open("bk_1_b", &sealed), None, "bound to the key id");
        assert_eq!(SecretBox::new(&[8; 32]).open("bk_1_a", &sealed), None);
        assert_eq!(b.open("bk_1_a", "v1.AAAA"), None);
        // Two seals of the same secret differ (fresh nonce).
        assert_ne!(b.seal("bk_1_a", &s).unwrap(), sealed);
    }

    #[test]
    fn signatures() {
        let p = signing_payload("1700000000000", "POST", "/api/v1/orders?x=1", b"{}");
        assert_eq!(p, b"1700000000000POST/api/v1/orders?x=1{}");
        let sig = sign("secret", &p);
        assert!(verify("secret", &p, &sig).is_some());
        assert!(verify("secret", &p, &sig.to_uppercase()).is_some());
        assert!(verify("other", &p, &sig).is_none());
        assert!(verify("secret", b"x", &sig).is_none());
        assert!(verify("secret", &p, "zz").is_none());
    }

    #[test]
    fn allow_list_entries() {
        let ip = |s: &str| ip_bytes(s.parse().unwrap());
        let ten = parse_block("10.0.0.0/8").unwrap();
        assert_eq!(format_block(&ten), "10.0.0.0/8");
        assert!(ten.contains(ip("10.200.1.2")));
        assert!(ten.contains(ip("::ffff:10.1.1.1")), "IPv4-mapped client");
        assert!(!ten.contains(ip("11.0.0.1")));
        assert!(!ten.contains(ip("::1")));
        let one = parse_block("203.0.113.7").unwrap();
        assert_eq!(format_block(&one), "203.0.113.7");
        assert!(one.contains(ip("203.0.113.7")) && !one.contains(ip("203.0.113.8")));
        let v6 = parse_block("2001:db8::/32").unwrap();
        assert_eq!(format_block(&v6), "2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("10.0.0.1")));
        assert_eq!(format_block(&parse_block("::1").unwrap()), "::1");
        assert!(parse_block("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(parse_block("::/0").unwrap().contains(ip("::1")));
        let e = parse_block("10.0.0.1/8").unwrap_err();
        assert!(e.contains("10.0.0.0/8"), "{e}");
        for bad in [
            "",
            "x",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "::/129",
            "1.2.3.4/8x",
        ] {
            assert!(parse_block(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replays_are_seen_until_forgotten() {
        let c = ReplayCache::default();
        assert!(c.first_use([1; 32], 100, 0));
        assert!(!c.first_use([1; 32], 100, 50));
        assert!(c.first_use([2; 32], 100, 50));
        assert!(c.first_use([1; 32], 300, 101), "forgotten after its window");
    }
}
