//! JWT bearer tokens: HS256, claims `sub` (user id), `role` (informational: the live role
//! is read from the core on each request), `iat`, `exp` (seconds), a random `jti` (what
//! logout revokes) and `pwd`, a keyed fingerprint of the password hash the token was
//! issued under (what a password change revokes; see `crate::auth`).

use crate::keys::ServerKey;
use bourse_model::{Role, UserId};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: u64,
    pub role: Role,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    pub pwd: String,
}

impl Claims {
    /// The `jti` as the 16 bytes a logout journals; `None` if it is not 32 hex digits.
    pub fn jti_bytes(&self) -> Option<[u8; 16]> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(&self.jti, &mut out).ok()?;
        Some(out)
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    fingerprint_key: [u8; 32],
    ttl_secs: u64,
}

impl TokenKeys {
    pub fn new(key: &ServerKey, ttl_secs: u64) -> Self {
        let secret = key.derive("bourse jwt v1");
        Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            fingerprint_key: key.derive("bourse password fingerprint v1"),
            ttl_secs,
        }
    }

    /// Keyed fingerprint (16 hex digits) of a password hash. Every `SetPassword` hashes
    /// with a fresh salt, so a password change always changes it.
    pub fn password_fingerprint(&self, password_hash: &str) -> String {
        let h = blake3::keyed_hash(&self.fingerprint_key, password_hash.as_bytes());
        hex::encode(&h.as_bytes()[..8])
    }

    /// A token for `user`, valid while its password hash is `password_hash`; returns it
    /// and its expiry in ms since the epoch.
    pub fn issue(
        &self,
        user: UserId,
        role: Role,
        password_hash: &str,
        now_ms: u64,
    ) -> Result<(String, u64), String> {
        let iat = now_ms / 1000;
        let exp = iat + self.ttl_secs;
        let claims = Claims {
            sub: user.0,
            role,
            iat,
            exp,
            jti: hex::encode(rand::random::<[u8; 16]>()),
            pwd: self.password_fingerprint(password_hash),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| e.to_string())?;
        Ok((token, exp * 1000))
    }

    /// Checks signature, algorithm and expiry (revocation is checked by the caller).
    pub fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ttl: u64) -> TokenKeys {
        let key = ServerKey::load_or_create(Some(&"11".repeat(32)), "/nonexistent".as_ref());
        TokenKeys::new(&key.unwrap(), ttl)
    }

    #[test]
    fn round_trip_and_tampering() {
        let k = keys(60);
        let now = bourse_engine::now_ms();
        let (t, exp) = k.issue(UserId(3), Role::Trader, "hash-a", now).unwrap();
        assert_eq!(exp, (now / 1000 + 60) * 1000);
        let c = k.decode(&t).unwrap();
        assert_eq!(c.sub, 3);
        assert_eq!(c.pwd, k.password_fingerprint("hash-a"));
        assert_ne!(c.pwd, k.password_fingerprint("hash-b"));
        let mut bad = t.clone();
        bad.pop();
        assert_eq!(k.decode(&bad).unwrap_err(), TokenError::Invalid);
        // A token of another server key is invalid.
        let other = TokenKeys::new(
            &ServerKey::load_or_create(Some(&"22".repeat(32)), "/nonexistent".as_ref()).unwrap(),
            60,
        );
        assert_eq!(other.decode(&t).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn expired_is_told_apart() {
        let k = keys(1);
        let (t, _) = k.issue(UserId(1), Role::Admin, "h", 1_000_000).unwrap();
        assert_eq!(k.decode(&t).unwrap_err(), TokenError::Expired);
    }
}
